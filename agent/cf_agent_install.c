/*  cf_agent_install - cf-agent install: the bundle becomes the state directory, all at once
    or not at all; the commands' options and the PKCS#12 password  */
#include "cf_agent_install.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "cf_agent_enroll.h"
#include "cf_cert.h"
#include "cf_curve.h"
#include "cf_file.h"
#include "cf_import.h"
#include "cf_mem.h"

/* The files an install writes (and a failed one removes). */
static const char *const s_files[] = {
    CF_AGENT_STATE_JSON,  CF_AGENT_STATE_CA,
    CF_AGENT_STATE_CURVE, CF_AGENT_STATE_CURVE CF_CURVE_SECRET_SUFFIX,
    CF_AGENT_STATE_CERT,  CF_AGENT_STATE_KEY,
    CF_AGENT_STATE_TOKEN, NULL};

cf_cfg_t *cf_agent_cmd_options(const char *prog, const char *synopsis, const char *about,
                               const cf_cfg_opt_t *opts, size_t n, int argc, char **argv,
                               int *exit_out)
{
    cf_why_t why = {""};
    cf_cfg_t *cfg = cf_cfg_new(opts, n);
    if (!cfg) {
        fprintf(stderr, "%s: out of memory\n", prog);
        *exit_out = CF_AGENT_EXIT_FAIL;
        return NULL;
    }
    cf_cfg_set_permute(cfg, 1);
    cf_err_t rc = cf_cfg_parse_args(cfg, argc, argv, &why);
    int rest = 0;
    if (rc == CF_OK && cf_cfg_bool(cfg, "help")) {
        cf_cfg_usage(cfg, stdout, prog, synopsis);
        printf("\n%s\nExit codes: 0 done, 1 failed (the message says why), 2 bad command line.\n",
               about);
        *exit_out = CF_AGENT_EXIT_OK;
    } else if (rc == CF_OK && (cf_cfg_args(cfg, &rest), rest == 0)) {
        return cfg;
    } else {
        fprintf(stderr, "%s: %s\nTry '%s --help'.\n", prog,
                rc != CF_OK ? cf_why_text(&why, rc) : "unexpected argument", prog);
        *exit_out = CF_AGENT_EXIT_USAGE;
    }
    cf_cfg_destroy(&cfg);
    return NULL;
}

/* A line from the terminal with echo off (*out: cf_mem_free_secret_str). */
static cf_err_t s_prompt(char **out, cf_why_t *why)
{
    FILE *tty = fopen("/dev/tty", "r+");
    if (!tty)
        return cf_why(why, CF_ERR_NOTFOUND,
                      "the package holds a certificate: give its password in PKCS12_PASS, with "
                      "--password-file, or on a terminal");
    char buf[CF_P12_MAX_PASSWORD + 2] = "";
    struct termios old, quiet;
    int fd = fileno(tty), restore = tcgetattr(fd, &old) == 0;
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t) ECHO;
    if (restore)
        tcsetattr(fd, TCSAFLUSH, &quiet);
    fputs("Password of the agent certificate (PKCS#12): ", tty);
    fflush(tty);
    int got = fgets(buf, (int) sizeof(buf), tty) != NULL;
    if (restore)
        tcsetattr(fd, TCSAFLUSH, &old);
    fputs("\n", tty);
    fclose(tty);
    buf[strcspn(buf, "\r\n")] = '\0';
    *out = got ? cf_mem_strdup(buf) : NULL;
    cf_mem_wipe(buf, sizeof(buf));
    if (!got)
        return cf_why(why, CF_ERR_NOTFOUND, "no password was typed");
    return *out ? CF_OK : CF_ERR_NOMEM;
}

cf_err_t cf_agent_password(const char *file, char **out, cf_why_t *why)
{
    *out = NULL;
    const char *env = getenv(CF_AGENT_PASS_ENV);
    cf_err_t rc = CF_OK;
    if (file)
        rc = cf_cfg_read_secret_file(file, CF_P12_MAX_PASSWORD, 0, out, why);
    else if (env) {
        *out = cf_mem_strdup(env);
        rc = *out ? CF_OK : CF_ERR_NOMEM;
    } else {
        rc = s_prompt(out, why);
    }
    if (rc != CF_OK)
        return rc;
    size_t len = strlen(*out);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) (*out)[i] < 0x20 || (unsigned char) (*out)[i] > 0x7e)
            len = 0; /* the seed: printable ASCII only */
    if (len == 0 || len > CF_P12_MAX_PASSWORD) {
        cf_mem_free_secret_str(*out);
        *out = NULL;
        return cf_why(why, CF_ERR_INVALID,
                      "the password must be 1..%d printable ASCII characters (%s)",
                      CF_P12_MAX_PASSWORD,
                      file  ? file
                      : env ? CF_AGENT_PASS_ENV
                            : "prompt");
    }
    return CF_OK;
}

/* ---- the install ------------------------------------------------------------------------ */

/* Remove what an install may have written in dir, then dir. */
static void s_remove(const char *dir)
{
    char path[CF_AGENT_STATE_PATH_MAX + 64];
    for (size_t i = 0; s_files[i]; i++)
        if (cf_agent_state_path(dir, s_files[i], path, sizeof(path)) == CF_OK)
            unlink(path);
    rmdir(dir);
}

/* The shared certificate: opened with password, checked (key, validity, chains to ca). */
static cf_err_t s_open_p12(const cf_agent_bundle_t *b, const char *password, cf_bundle_t **out,
                           cf_why_t *why)
{
    cf_cert_t *ca = NULL;
    if (!password)
        return cf_why(why, CF_ERR_BADPASS, "the package's certificate needs its password");
    CF_TRY(cf_cert_parse(b->ca_pem, strlen(b->ca_pem), &ca));
    cf_import_check_t check = {ca, 0};
    cf_why_t inner = {""};
    cf_err_t rc = cf_import_p12(b->p12, b->p12_len, password, &check, out, &inner);
    cf_cert_destroy(&ca);
    if (rc == CF_ERR_BADPASS)
        return cf_why(why, rc, "wrong password for the package's certificate: nothing installed");
    if (rc != CF_OK)
        return cf_why(why, rc, "the package's certificate: %s", cf_why_text(&inner, rc));
    return CF_OK;
}

/* One file of the install into dir. */
static cf_err_t s_put(const char *dir, const char *name, const void *data, size_t len, mode_t mode,
                      cf_why_t *why)
{
    char path[CF_AGENT_STATE_PATH_MAX + 64];
    if (cf_agent_state_path(dir, name, path, sizeof(path)) != CF_OK)
        return cf_why(why, CF_ERR_TOOBIG, "state directory path too long");
    return cf_file_write_new(path, data, len, mode, why);
}

/* Every file into the temporary directory tmp. */
static cf_err_t s_fill(const cf_agent_bundle_t *b, const cf_bundle_t *cert, const char *tmp,
                       const char *id, cf_why_t *why)
{
    char path[CF_AGENT_STATE_PATH_MAX + 64], *chain = NULL, *key = NULL;
    size_t chain_len = 0, key_len = 0;
    cf_agent_state_t st = {.config = b->config, .interval = CF_AGENT_INTERVAL_DEFAULT};
    snprintf(st.id, sizeof(st.id), "%s", id);
    cf_err_t rc = cf_agent_state_save(tmp, &st, why); /* borrows b's lists: no clear */
    if (rc == CF_OK)
        rc = s_put(tmp, CF_AGENT_STATE_CA, b->ca_pem, strlen(b->ca_pem), 0644, why);
    cf_curve_keypair_t kp;
    if (rc == CF_OK && (rc = cf_curve_keypair_new(&kp)) == CF_OK) {
        rc = cf_agent_state_path(tmp, CF_AGENT_STATE_CURVE, path, sizeof(path));
        if (rc == CF_OK)
            rc = cf_curve_keypair_save(&kp, path, why);
        cf_curve_keypair_wipe(&kp);
    }
    if (rc == CF_OK && b->token[0])
        rc = s_put(tmp, CF_AGENT_STATE_TOKEN, b->token, strlen(b->token), 0600, why);
    if (rc == CF_OK && cert)
        rc = cf_bundle_chain_pem(cert, NULL, &chain, &chain_len);
    if (rc == CF_OK && cert)
        rc = cf_bundle_key_pem(cert, NULL, &key, &key_len);
    if (rc == CF_OK && cert)
        rc = s_put(tmp, CF_AGENT_STATE_KEY, key, key_len, 0600, why);
    if (rc == CF_OK && cert)
        rc = s_put(tmp, CF_AGENT_STATE_CERT, chain, chain_len, 0600, why);
    cf_mem_free(chain);
    cf_mem_free_secret(key, key_len);
    return rc;
}

/* The temporary directory next to state_dir (parent made when missing). */
static cf_err_t s_tmpdir(const char *state_dir, char *tmp, size_t len, cf_why_t *why)
{
    char parent[CF_AGENT_STATE_PATH_MAX + 1];
    struct stat sb;
    if (strlen(state_dir) > CF_AGENT_STATE_PATH_MAX || !state_dir[0])
        return cf_why(why, CF_ERR_INVALID, "state directory path empty or too long");
    snprintf(parent, sizeof(parent), "%s", state_dir);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = '\0';
        CF_TRY(cf_file_mkdirs(parent, 0755, why));
    }
    if (stat(state_dir, &sb) == 0 && !S_ISDIR(sb.st_mode))
        return cf_why(why, CF_ERR_EXISTS, "%s exists and is no directory", state_dir);
    snprintf(tmp, len, "%s.install.%ld", state_dir, (long) getpid());
    s_remove(tmp); /* a leftover of a crashed install with our pid */
    if (mkdir(tmp, 0700) != 0)
        return cf_why(why, CF_ERR_IO, "cannot make %s: %s", tmp, strerror(errno));
    return CF_OK;
}

cf_err_t cf_agent_install(const cf_agent_bundle_t *b, const char *state_dir, const char *id,
                          const char *password, cf_why_t *why)
{
    char my_id[CF_DB_ID_MAX + 1], tmp[CF_AGENT_STATE_PATH_MAX + 64];
    cf_bundle_t *cert = NULL;
    if (!b || !state_dir)
        return CF_ERR_INVALID;
    if (id && cf_agent_check_id(id) != CF_OK)
        return cf_why(why, CF_ERR_INVALID, "'%.80s' is no agent id ([a-z0-9][a-z0-9._-]{0,62})",
                      id);
    if (!id)
        CF_TRY(cf_agent_default_id(my_id, why));
    if (b->p12)
        CF_TRY(s_open_p12(b, password, &cert, why));
    cf_err_t rc = s_tmpdir(state_dir, tmp, sizeof(tmp), why);
    if (rc == CF_OK) {
        rc = s_fill(b, cert, tmp, id ? id : my_id, why);
        if (rc == CF_OK && rename(tmp, state_dir) != 0)
            rc = cf_why(why, errno == ENOTEMPTY || errno == EEXIST ? CF_ERR_EXISTS : CF_ERR_IO,
                        "cannot make %s: %s%s", state_dir, strerror(errno),
                        errno == ENOTEMPTY || errno == EEXIST ? " (already installed? remove it "
                                                                "to reinstall)"
                                                              : "");
        if (rc != CF_OK)
            s_remove(tmp);
    }
    cf_bundle_destroy(&cert);
    return rc;
}

int cf_agent_install_cmd(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {
        {"bundle", 'b', CF_CFG_PATH, "FILE", "the install package (cf-console package create)",
         NULL, 0, 0, NULL},
        CF_AGENT_STATE_DIR_OPTION,
        {"password-file", 0, CF_CFG_PATH, "FILE",
         "password of the package's certificate (else $PKCS12_PASS, else a prompt)", NULL, 0, 0,
         NULL},
        {"id", 0, CF_CFG_STRING, "ID", "the agent id (default: the host name, lowercased)", NULL, 0,
         0, NULL},
    };
    static const char prog[] = "cf-agent install";
    int code = CF_AGENT_EXIT_OK;
    cf_cfg_t *cfg = cf_agent_cmd_options(
        prog, "--bundle FILE [--state-dir D] [--password-file F] [--id ID]",
        "Install the agent from a package: configuration, CA, a new CURVE keypair and, when the\n"
        "package holds one, the shared agent certificate (its password from --password-file,\n"
        "PKCS12_PASS or a prompt). A wrong password installs nothing. Then: cf-agent enroll.",
        opts, sizeof(opts) / sizeof(opts[0]), argc, argv, &code);
    if (!cfg)
        return code;
    cf_agent_bundle_t b = {0};
    cf_why_t why = {""};
    char *password = NULL;
    const char *dir = cf_cfg_str(cfg, "state-dir"), *id = cf_cfg_str(cfg, "id");
    cf_err_t rc = CF_ERR_INVALID;
    if (!cf_cfg_str(cfg, "bundle")) {
        fprintf(stderr, "%s: --bundle FILE is required\nTry '%s --help'.\n", prog, prog);
        code = CF_AGENT_EXIT_USAGE;
        goto out;
    }
    rc = cf_agent_bundle_load(cf_cfg_str(cfg, "bundle"), &b, &why);
    if (rc == CF_OK && b.p12) {
        rc = cf_agent_password(cf_cfg_str(cfg, "password-file"), &password, &why);
        if (rc == CF_ERR_NOTFOUND && !cf_cfg_str(cfg, "password-file"))
            code = CF_AGENT_EXIT_USAGE;
    }
    if (rc == CF_OK)
        rc = cf_agent_install(&b, dir, id, password, &why);
    if (rc == CF_ERR_INVALID && id && cf_agent_check_id(id) != CF_OK)
        code = CF_AGENT_EXIT_USAGE;
    if (rc == CF_OK)
        printf("installed in %s: %zu servers, %zu brokers, certificate %s, token %s\n", dir,
               b.config.servers.n, b.config.n_brokers, b.p12 ? "shared" : "none",
               b.token[0] ? "yes" : "none");
    else
        fprintf(stderr, "%s: %s\n", prog, cf_why_text(&why, rc));
out:
    if (rc != CF_OK && code == CF_AGENT_EXIT_OK)
        code = CF_AGENT_EXIT_FAIL;
    cf_mem_free_secret_str(password);
    cf_agent_bundle_clear(&b);
    cf_cfg_destroy(&cfg);
    return code;
}
