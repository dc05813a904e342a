/*  cf_localstore - pick a certificate from a local directory by subject or fingerprint  */
#include "cf_localstore.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cf_log.h"
#include "cf_mem.h"
#include "cf_p12.h"

/* A short name for messages: the CN, else the whole subject. */
static const char *s_name(const cf_cert_t *cert)
{
    const char *cn = cf_cert_common_name(cert);
    return cn && *cn ? cn : cf_cert_subject(cert);
}

static void s_certs_free(cf_cert_t **certs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cf_cert_destroy(&certs[i]);
}

/* One search of a store directory. */
typedef struct {
    const char *dir;           /* borrowed; the directory */
    char fp[65];               /* fingerprint sought (lowercase hex), "" when matching by text */
    const char *text;          /* borrowed; text sought in subjects when fp is "" */
    const char *password;      /* borrowed; for .p12/.pfx files; NULL = skip them */
    cf_localstore_hit_t *hits; /* borrowed; the caller's array */
    size_t max;                /* its capacity */
    size_t n;                  /* hits found */
    int overflow;              /* more matches than max */
} s_store_t;

static cf_err_t s_parse_match(s_store_t *st, const char *match, cf_why_t *why)
{
    size_t len = match ? strnlen(match, CF_LOCALSTORE_MAX_MATCH + 1) : 0;
    if (len == 0 || len > CF_LOCALSTORE_MAX_MATCH)
        return cf_why(why, CF_ERR_INVALID, "the match must be 1 to %d characters",
                      CF_LOCALSTORE_MAX_MATCH);
    size_t n = 0;
    for (size_t i = 0; i < len && n <= 64; i++) {
        if (match[i] == ':' || match[i] == ' ')
            continue;
        if (!isxdigit((unsigned char) match[i]))
            break;
        st->fp[n++] = (char) tolower((unsigned char) match[i]);
        st->fp[n] = '\0';
        if (i + 1 == len && n == 64)
            return CF_OK; /* a whole fingerprint */
    }
    st->fp[0] = '\0';
    st->text = match;
    return CF_OK;
}

static int s_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; hay && *hay; hay++) {
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    }
    return 0;
}

static int s_matches(const s_store_t *st, const cf_cert_t *cert)
{
    if (st->fp[0])
        return strcmp(cf_cert_fingerprint(cert), st->fp) == 0;
    return s_contains(cf_cert_subject(cert), st->text) ||
           s_contains(cf_cert_common_name(cert), st->text);
}

/* Should (a, afile) replace (b, bfile), the same certificate? A copy with a key wins, then
   the smaller file name, so the outcome does not depend on directory order. */
static int s_better(const cf_bundle_t *a, const char *afile, const cf_bundle_t *b,
                    const char *bfile)
{
    int ka = cf_bundle_key(a) != NULL;
    int kb = cf_bundle_key(b) != NULL;
    return ka != kb ? ka > kb : strcmp(afile, bfile) < 0;
}

/* Add *b_p (taken) as a hit, or let it replace a copy of the same certificate. */
static cf_err_t s_add_hit(s_store_t *st, const char *file, cf_bundle_t **b_p)
{
    const char *fp = cf_cert_fingerprint(cf_bundle_cert(*b_p));
    cf_localstore_hit_t *slot = NULL;
    for (size_t i = 0; !slot && i < st->n; i++) {
        if (strcmp(cf_cert_fingerprint(cf_bundle_cert(st->hits[i].bundle)), fp) == 0)
            slot = &st->hits[i];
    }
    if ((slot && !s_better(*b_p, file, slot->bundle, slot->file)) || (!slot && st->n >= st->max)) {
        st->overflow |= !slot;
        cf_bundle_destroy(b_p);
        return CF_OK;
    }
    char *copy = cf_mem_strdup(file);
    if (!copy) {
        cf_bundle_destroy(b_p);
        return CF_ERR_NOMEM;
    }
    if (!slot) {
        slot = &st->hits[st->n++];
        *slot = (cf_localstore_hit_t){NULL, NULL};
    }
    cf_mem_free(slot->file);
    cf_bundle_destroy(&slot->bundle);
    slot->file = copy;
    slot->bundle = *b_p;
    *b_p = NULL;
    return CF_OK;
}

/* Each matching certificate of a PEM/DER file becomes a PUBLIC hit with its issuer path. */
static cf_err_t s_store_certs(s_store_t *st, const char *file, const void *buf, size_t len)
{
    cf_cert_t *certs[CF_CERT_MAX_CHAIN] = {NULL};
    cf_cert_t *copy[CF_CERT_MAX_CHAIN] = {NULL};
    size_t n = 0;
    cf_err_t rc = cf_cert_parse_all(buf, len, certs, CF_CERT_MAX_CHAIN, &n);
    if (rc != CF_OK) {
        cf_log(CF_LOG_DEBUG, "store=%s file=%s skipped=\"%s\"", st->dir, file, cf_err_str(rc));
        return rc == CF_ERR_NOMEM ? rc : CF_OK;
    }
    for (size_t i = 0; rc == CF_OK && i < n; i++) {
        cf_bundle_t *b = NULL;
        if (!s_matches(st, certs[i]))
            continue;
        for (size_t j = 0; rc == CF_OK && j < n; j++) {
            copy[j] = cf_cert_dup(certs[j]);
            rc = copy[j] ? CF_OK : CF_ERR_NOMEM;
        }
        if (rc == CF_OK)
            rc = cf_bundle_new(&copy[i], NULL, CF_BUNDLE_PUBLIC, &b, NULL);
        if (rc == CF_OK)
            rc = cf_bundle_take_issuers(b, copy, n);
        if (rc == CF_OK)
            rc = s_add_hit(st, file, &b);
        rc = rc == CF_ERR_NOMEM ? rc : CF_OK; /* e.g. an unsupported key: not a candidate */
        cf_bundle_destroy(&b);
        s_certs_free(copy, n);
    }
    s_certs_free(certs, n);
    return rc;
}

static cf_err_t s_store_p12(s_store_t *st, const char *file, const void *buf, size_t len)
{
    cf_p12_content_t content;
    cf_bundle_t *b = NULL;
    cf_why_t why = {""};
    cf_err_t rc = cf_p12_parse(buf, len, st->password, 0, &content, &why);
    if (rc == CF_OK)
        rc = cf_bundle_from_parts(&content.key, content.certs, content.n_certs,
                                  content.key ? CF_BUNDLE_IMPORTED : CF_BUNDLE_PUBLIC, &b, &why);
    if (rc == CF_OK && s_matches(st, cf_bundle_cert(b)))
        rc = s_add_hit(st, file, &b);
    if (rc != CF_OK)
        cf_log(CF_LOG_DEBUG, "store=%s file=%s skipped=\"%s\"", st->dir, file,
               cf_why_text(&why, rc));
    cf_bundle_destroy(&b);
    cf_p12_content_clear(&content);
    return rc == CF_ERR_NOMEM ? rc : CF_OK;
}

/* 1 = certificate file, 2 = PKCS#12, 0 = not ours. */
static int s_file_kind(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (name[0] == '.' || !dot)
        return 0;
    static const char *const certs[] = {".pem", ".crt", ".cer", ".der"};
    for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++) {
        if (strcasecmp(dot, certs[i]) == 0)
            return 1;
    }
    return strcasecmp(dot, ".p12") == 0 || strcasecmp(dot, ".pfx") == 0 ? 2 : 0;
}

/* Read dir/name if it is a regular file of at most CF_CERT_MAX_INPUT bytes; else *buf_out
   stays NULL (the file is skipped). */
static cf_err_t s_read(const char *dir, const char *name, unsigned char **buf_out, size_t *len)
{
    char path[4096];
    struct stat sb;
    *buf_out = NULL;
    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int) sizeof(path))
        return CF_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block us */
    if (fd < 0)
        return CF_OK;
    cf_err_t rc = CF_OK;
    unsigned char *buf = NULL;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0 ||
        sb.st_size > CF_CERT_MAX_INPUT)
        goto out;
    rc = CF_ERR_NOMEM;
    buf = cf_mem_malloc((size_t) sb.st_size);
    if (!buf)
        goto out;
    rc = CF_OK;
    *len = 0;
    while (*len < (size_t) sb.st_size) {
        ssize_t got = read(fd, buf + *len, (size_t) sb.st_size - *len);
        if (got <= 0 && !(got < 0 && errno == EINTR))
            break;
        *len += got > 0 ? (size_t) got : 0;
    }
    *buf_out = buf;
    buf = NULL;
out:
    cf_mem_free(buf);
    close(fd);
    return rc;
}

static cf_err_t s_scan(s_store_t *st, DIR *d, cf_why_t *why)
{
    size_t n_files = 0;
    cf_err_t rc = CF_OK;
    for (;;) {
        const struct dirent *e = readdir(d);
        if (!e || rc != CF_OK)
            break;
        int kind = s_file_kind(e->d_name);
        if (kind == 0 || (kind == 2 && !st->password))
            continue;
        if (++n_files > CF_LOCALSTORE_MAX_FILES)
            return cf_why(why, CF_ERR_TOOBIG, "%s holds more than %d certificate files", st->dir,
                          CF_LOCALSTORE_MAX_FILES);
        unsigned char *buf = NULL;
        size_t len = 0;
        rc = s_read(st->dir, e->d_name, &buf, &len);
        if (buf && kind == 1)
            rc = s_store_certs(st, e->d_name, buf, len);
        else if (buf)
            rc = s_store_p12(st, e->d_name, buf, len);
        cf_mem_free(buf);
    }
    return rc;
}

static int s_hit_cmp(const void *a, const void *b)
{
    const cf_localstore_hit_t *x = a;
    const cf_localstore_hit_t *y = b;
    int c = strcmp(x->file, y->file);
    return c ? c
             : strcmp(cf_cert_fingerprint(cf_bundle_cert(x->bundle)),
                      cf_cert_fingerprint(cf_bundle_cert(y->bundle)));
}

cf_err_t cf_localstore_find(const char *dir, const char *match, const char *password,
                            cf_localstore_hit_t *hits, size_t max, size_t *n_out, cf_why_t *why)
{
    CF_ASSERT(n_out != NULL && (hits != NULL || max == 0));
    *n_out = 0;
    s_store_t st = {.dir = dir, .password = password, .hits = hits, .max = max};
    if (!dir || !*dir)
        return cf_why(why, CF_ERR_INVALID, "no store directory given");
    CF_TRY(s_parse_match(&st, match, why));
    DIR *d = opendir(dir);
    if (!d)
        return cf_why(why, CF_ERR_IO, "cannot open store %s: %s", dir, strerror(errno));
    cf_err_t rc = s_scan(&st, d, why);
    closedir(d);
    if (rc == CF_OK && st.overflow)
        rc = cf_why(why, CF_ERR_TOOBIG, "more than %zu certificates in %s match \"%s\"", max, dir,
                    match);
    if (rc != CF_OK) {
        cf_localstore_hits_clear(hits, st.n);
        return rc;
    }
    qsort(hits, st.n, sizeof(*hits), s_hit_cmp);
    *n_out = st.n;
    return CF_OK;
}

void cf_localstore_hits_clear(cf_localstore_hit_t *hits, size_t n)
{
    for (size_t i = 0; hits && i < n; i++) {
        cf_mem_free(hits[i].file);
        hits[i].file = NULL;
        cf_bundle_destroy(&hits[i].bundle);
    }
}

static cf_err_t s_ambiguous(const cf_localstore_hit_t *hits, size_t n, const char *match,
                            cf_why_t *why)
{
    char list[CF_WHY_MAX] = "";
    size_t used = 0;
    for (size_t i = 0; i < n && used < sizeof(list); i++) {
        const cf_cert_t *c = cf_bundle_cert(hits[i].bundle);
        int w = snprintf(list + used, sizeof(list) - used, "%s%s (\"%s\", sha256 %.16s)",
                         i ? "; " : "", hits[i].file, s_name(c), cf_cert_fingerprint(c));
        used += w > 0 ? (size_t) w : 0;
    }
    return cf_why(why, CF_ERR_INVALID, "%zu certificates match \"%s\": %s", n, match, list);
}

cf_err_t cf_localstore_select(const char *dir, const char *match, const char *password,
                              const cf_import_check_t *check, cf_bundle_t **out, cf_why_t *why)
{
    CF_ASSERT(out != NULL);
    *out = NULL;
    cf_localstore_hit_t hits[CF_LOCALSTORE_MAX_HITS] = {{NULL, NULL}};
    size_t n = 0;
    cf_import_check_t now = {NULL, 0};
    CF_TRY(cf_localstore_find(dir, match, password, hits, CF_LOCALSTORE_MAX_HITS, &n, why));
    cf_err_t rc = CF_OK;
    if (n == 0)
        rc = cf_why(why, CF_ERR_NOTFOUND, "no certificate in %s matches \"%s\"%s", dir, match,
                    password ? "" : " (.p12/.pfx files are only read with a password)");
    else if (n > 1)
        rc = s_ambiguous(hits, n, match, why);
    else
        rc = cf_bundle_check(hits[0].bundle, check ? check : &now, why);
    if (rc == CF_OK) {
        *out = hits[0].bundle;
        hits[0].bundle = NULL;
    }
    cf_localstore_hits_clear(hits, n);
    return rc;
}
