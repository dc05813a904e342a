/*  cf_agent_certs - the agent's certificate and key on disk: crash-safe installation that
    keeps the previous pair until a handshake with the new one works, and recovery at start  */
#include "cf_agent_certs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cf_file.h"
#include "cf_key.h"
#include "cf_log.h"
#include "cf_mem.h"

#define S_FAULT_EXIT 86 /* exit code of a fault stop */

/* The paths of one installation. */
typedef struct {
    char cert[PATH_MAX], key[PATH_MAX];                   /* in use */
    char cert_new[PATH_MAX + 8], key_new[PATH_MAX + 8];   /* written, not yet in use */
    char cert_prev[PATH_MAX + 8], key_prev[PATH_MAX + 8]; /* the pair in use before */
} s_paths_t;

static cf_err_t s_paths(const char *dir, s_paths_t *p, cf_why_t *why)
{
    if (strlen(dir) > PATH_MAX - 32)
        return cf_why(why, CF_ERR_INVALID, "the state directory path is too long");
    snprintf(p->cert, sizeof(p->cert), "%s/" CF_AGENT_CERT_FILE, dir);
    snprintf(p->key, sizeof(p->key), "%s/" CF_AGENT_KEY_FILE, dir);
    snprintf(p->cert_new, sizeof(p->cert_new), "%s.new", p->cert);
    snprintf(p->key_new, sizeof(p->key_new), "%s.new", p->key);
    snprintf(p->cert_prev, sizeof(p->cert_prev), "%s.prev", p->cert);
    snprintf(p->key_prev, sizeof(p->key_prev), "%s.prev", p->key);
    return CF_OK;
}

/* CF_FAULT=<point>: stop the process here, as a crash would (tests of crash safety). */
static void s_fault(const char *point)
{
    const char *f = getenv(CF_AGENT_FAULT_ENV);
    if (f && strcmp(f, point) == 0) {
        cf_log(CF_LOG_WARN, "fault=%s action=exit", point);
        _exit(S_FAULT_EXIT);
    }
}

static cf_err_t s_sync_dir(const char *dir, cf_why_t *why)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return cf_why(why, CF_ERR_IO, "%s: %s", dir, strerror(errno));
    int rc = fsync(fd);
    close(fd);
    return rc == 0 ? CF_OK : cf_why(why, CF_ERR_IO, "fsync %s: %s", dir, strerror(errno));
}

static int s_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static cf_err_t s_rename(const char *from, const char *to, cf_why_t *why)
{
    if (rename(from, to) != 0)
        return cf_why(why, CF_ERR_IO, "rename %s: %s", from, strerror(errno));
    return CF_OK;
}

static void s_unlink(const char *path)
{
    if (unlink(path) != 0 && errno != ENOENT)
        cf_log(CF_LOG_WARN, "file=%s unlink=\"%s\"", path, strerror(errno));
}

/* Parse a chain and a key and check that they belong together; the leaf into *leaf_out. */
static cf_err_t s_parse_pair(const char *chain, size_t chain_len, const char *key_pem,
                             size_t key_len, cf_cert_t **leaf_out, cf_why_t *why)
{
    cf_cert_t *certs[CF_CERT_MAX_CHAIN] = {NULL};
    cf_key_t *key = NULL;
    size_t n = 0;
    cf_err_t rc = cf_cert_parse_all(chain, chain_len, certs, CF_CERT_MAX_CHAIN, &n);
    if (rc != CF_OK || n == 0) {
        rc = cf_why(why, rc == CF_OK ? CF_ERR_CORRUPT : rc,
                    "the certificate chain does not parse: %s", cf_err_str(rc));
        goto out;
    }
    rc = cf_key_from_pem(key_pem, key_len, NULL, &key);
    if (rc != CF_OK) {
        rc = cf_why(why, rc, "the private key does not parse: %s", cf_err_str(rc));
        goto out;
    }
    if (cf_cert_matches_key(certs[0], key) != CF_OK) {
        rc = cf_why(why, CF_ERR_KEYMISMATCH,
                    "the private key does not belong to the certificate %.16s...",
                    cf_cert_fingerprint(certs[0]));
        goto out;
    }
    *leaf_out = certs[0];
    certs[0] = NULL;
out:
    for (size_t i = 0; i < CF_CERT_MAX_CHAIN; i++)
        cf_cert_destroy(&certs[i]);
    cf_key_destroy(&key);
    return rc;
}

/* 1 when the files cert_path and key_path hold a matching pair. */
static int s_files_match(const char *cert_path, const char *key_path)
{
    char *c = NULL, *k = NULL;
    size_t clen = 0, klen = 0;
    cf_cert_t *leaf = NULL;
    int ok =
        cf_file_read(cert_path, CF_AGENT_CERTS_MAX, &c, &clen, NULL) == CF_OK &&
        cf_file_read_ex(key_path, CF_AGENT_CERTS_MAX, CF_FILE_SECRET, &k, &klen, NULL) == CF_OK &&
        s_parse_pair(c, clen, k, klen, &leaf, NULL) == CF_OK;
    cf_cert_destroy(&leaf);
    cf_mem_free(c);
    if (k)
        cf_mem_free_secret(k, klen);
    return ok;
}

/* The previous pair back in place (or, when there was none, the new pair removed). */
static cf_err_t s_roll_back(const char *dir, const s_paths_t *p, cf_why_t *why)
{
    cf_err_t rc = CF_OK;
    int had_prev = s_exists(p->cert_prev) || s_exists(p->key_prev);
    if (s_exists(p->cert_prev))
        rc = s_rename(p->cert_prev, p->cert, why);
    if (rc == CF_OK && s_exists(p->key_prev))
        rc = s_rename(p->key_prev, p->key, why);
    if (rc == CF_OK && !had_prev) {
        s_unlink(p->cert);
        s_unlink(p->key);
    }
    if (rc == CF_OK)
        rc = s_sync_dir(dir, why);
    return rc;
}

/* Steps 2 and 3: the new files written, then swapped in with the old pair kept aside. */
static cf_err_t s_swap_in(const char *dir, const s_paths_t *p, const char *chain, size_t chain_len,
                          const char *key_pem, size_t key_len, cf_why_t *why)
{
    s_unlink(p->cert_prev); /* leftovers recover() did not see (no pair in use then) */
    s_unlink(p->key_prev);
    CF_TRY(cf_file_write_atomic(p->cert_new, chain, chain_len, 0600, why));
    CF_TRY(cf_file_write_atomic(p->key_new, key_pem, key_len, 0600, why));
    s_fault("after-write");
    if (s_exists(p->cert))
        CF_TRY(s_rename(p->cert, p->cert_prev, why));
    if (s_exists(p->key))
        CF_TRY(s_rename(p->key, p->key_prev, why));
    CF_TRY(s_rename(p->cert_new, p->cert, why));
    CF_TRY(s_rename(p->key_new, p->key, why));
    CF_TRY(s_sync_dir(dir, why));
    s_fault("after-rename");
    return CF_OK;
}

cf_err_t cf_agent_certs_install(const char *dir, const char *chain_pem, size_t chain_len,
                                const char *key_pem, size_t key_len, cf_agent_certs_check_fn check,
                                void *check_ctx, char fpr_out[CF_AGENT_FPR_HEX + 1], cf_why_t *why)
{
    if (!dir || !chain_pem || !key_pem || !chain_len || !key_len)
        return cf_why(why, CF_ERR_INVALID, "no certificate or key to install");
    if (chain_len > CF_AGENT_CERTS_MAX || key_len > CF_AGENT_CERTS_MAX)
        return cf_why(why, CF_ERR_TOOBIG, "certificate or key over %d bytes", CF_AGENT_CERTS_MAX);
    s_paths_t p;
    cf_cert_t *leaf = NULL;
    CF_TRY(s_paths(dir, &p, why));
    CF_TRY(s_parse_pair(chain_pem, chain_len, key_pem, key_len, &leaf, why));
    char fpr[CF_AGENT_FPR_HEX + 1];
    snprintf(fpr, sizeof(fpr), "%s", cf_cert_fingerprint(leaf));
    cf_cert_destroy(&leaf);
    cf_err_t rc = s_swap_in(dir, &p, chain_pem, chain_len, key_pem, key_len, why);
    if (rc != CF_OK) {
        cf_why_t ignored;
        s_unlink(p.cert_new);
        s_unlink(p.key_new);
        if (s_roll_back(dir, &p, &ignored) != CF_OK)
            cf_log(CF_LOG_ERROR, "dir=%s rollback=\"%s\"", dir, ignored.text);
        return rc;
    }
    if (check) {
        cf_why_t cwhy = {""};
        rc = check(check_ctx, p.cert, p.key, &cwhy);
        if (rc != CF_OK) {
            int had_prev = s_exists(p.cert_prev);
            cf_err_t rb = s_roll_back(dir, &p, why);
            if (rb != CF_OK)
                return rb;
            return cf_why(
                why, rc, "the new certificate %.16s... failed the handshake check (%s); %s", fpr,
                cf_why_text(&cwhy, rc), had_prev ? "the previous one is kept" : "none installed");
        }
    }
    s_unlink(p.key_prev);
    s_unlink(p.cert_prev);
    (void) s_sync_dir(dir, NULL); /* the removal is tidying only: recover() redoes it */
    if (fpr_out)
        memcpy(fpr_out, fpr, sizeof(fpr));
    cf_log(CF_LOG_INFO, "dir=%s installed=%s", dir, fpr);
    return CF_OK;
}

/* Remove <file>.tmp.* leftovers of cf_file_write_atomic for the four files. */
static void s_remove_temps(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if ((strncmp(n, CF_AGENT_CERT_FILE, strlen(CF_AGENT_CERT_FILE)) != 0 &&
             strncmp(n, CF_AGENT_KEY_FILE, strlen(CF_AGENT_KEY_FILE)) != 0) ||
            !strstr(n, ".tmp."))
            continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s/%s", dir, n) < (int) sizeof(path))
            s_unlink(path);
    }
    closedir(d);
}

cf_err_t cf_agent_certs_recover(const char *dir, int *restored, cf_why_t *why)
{
    if (restored)
        *restored = 0;
    if (!dir)
        return cf_why(why, CF_ERR_INVALID, "no state directory");
    s_paths_t p;
    CF_TRY(s_paths(dir, &p, why));
    s_remove_temps(dir);
    s_unlink(p.cert_new);
    s_unlink(p.key_new);
    if (!s_exists(p.cert_prev) && !s_exists(p.key_prev))
        return s_sync_dir(dir, why);
    const char *old_cert = s_exists(p.cert_prev) ? p.cert_prev : p.cert;
    const char *old_key = s_exists(p.key_prev) ? p.key_prev : p.key;
    if (s_files_match(old_cert, old_key) || !s_files_match(p.cert, p.key)) {
        CF_TRY(s_roll_back(dir, &p, why));
        if (restored)
            *restored = 1;
        cf_log(CF_LOG_WARN, "dir=%s recovered=previous", dir);
        return CF_OK;
    }
    s_unlink(p.key_prev); /* the crash came while the previous pair was being removed */
    s_unlink(p.cert_prev);
    cf_log(CF_LOG_INFO, "dir=%s recovered=new", dir);
    return s_sync_dir(dir, why);
}

cf_err_t cf_agent_certs_current(const char *dir, cf_cert_t **cert_out, cf_why_t *why)
{
    if (!dir || !cert_out)
        return CF_ERR_INVALID;
    s_paths_t p;
    char *buf = NULL;
    size_t len = 0;
    CF_TRY(s_paths(dir, &p, why));
    CF_TRY(cf_file_read(p.cert, CF_AGENT_CERTS_MAX, &buf, &len, why));
    cf_err_t rc = cf_cert_parse(buf, len, cert_out);
    cf_mem_free(buf);
    if (rc != CF_OK)
        return cf_why(why, rc, "%s does not hold a certificate", p.cert);
    return CF_OK;
}
