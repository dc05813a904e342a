/*  cf_cli_export - `cf-console pki export-p12`: a certificate and its key as PKCS#12  */
#include <stdio.h>
#include <string.h>

#include "cf_cli.h"
#include "cf_cli_pki.h"
#include "cf_file.h"
#include "cf_import.h"
#include "cf_mem.h"

#define PROG "cf-console pki export-p12"

typedef struct {
    char *cert; /* certificate file contents, owned */
    size_t cert_len;
    char *key; /* key file contents, owned (wiped) */
    size_t key_len;
    char *ca_buf; /* CA file contents, owned */
    size_t ca_len;
    cf_cert_t *ca;  /* parsed CA, owned, or NULL */
    char *key_pass; /* password of an encrypted key, owned (wiped), or NULL */
    char *p12_pass; /* password for the PKCS#12, owned (wiped) */
} s_export_t;

static void s_clear(s_export_t *e)
{
    cf_mem_free(e->cert);
    cf_mem_free_secret(e->key, e->key_len);
    cf_mem_free(e->ca_buf);
    cf_cert_destroy(&e->ca);
    cf_mem_free_secret_str(e->key_pass);
    cf_mem_free_secret_str(e->p12_pass);
}

static cf_err_t s_read_inputs(cf_cfg_t *cfg, s_export_t *e, cf_why_t *why)
{
    const char *ca = cf_cfg_str(cfg, "ca");
    CF_TRY(cf_file_read(cf_cfg_str(cfg, "cert"), CF_CERT_MAX_INPUT, &e->cert, &e->cert_len, why));
    CF_TRY(cf_file_read(cf_cfg_str(cfg, "key"), CF_KEY_MAX_INPUT, &e->key, &e->key_len, why));
    if (ca) {
        CF_TRY(cf_file_read(ca, CF_CERT_MAX_INPUT, &e->ca_buf, &e->ca_len, why));
        cf_err_t rc = cf_cert_parse(e->ca_buf, e->ca_len, &e->ca);
        if (rc != CF_OK)
            return cf_why(why, rc, "%s: %s", ca, cf_err_str(rc));
    }
    const char *key_pass_file = cf_cfg_str(cfg, "key-password-file");
    if (key_pass_file)
        CF_TRY(cf_cfg_read_secret_file(key_pass_file, CF_CLI_MAX_PASSWORD, 0, &e->key_pass, why));
    return cf_cli_password(cf_cfg_str(cfg, "password-file"), "PKCS12_PASS", "PKCS#12 password: ", 1,
                           &e->p12_pass, why);
}

int cf_cli_pki_export_p12(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {
        {"cert", 0, CF_CFG_PATH, "FILE", "the certificate (PEM or DER, may hold its chain)", NULL,
         0, 0, NULL},
        {"key", 0, CF_CFG_PATH, "FILE", "its private key (PEM)", NULL, 0, 0, NULL},
        {"key-password-file", 0, CF_CFG_PATH, "FILE", "password of an encrypted key", NULL, 0, 0,
         NULL},
        {"ca", 0, CF_CFG_PATH, "FILE", "CA certificate: checked against, and added to the file",
         NULL, 0, 0, NULL},
        {"password-file", 0, CF_CFG_PATH, "FILE",
         "the PKCS#12 password (else $PKCS12_PASS, else a prompt)", NULL, 0, 0, NULL},
        {"name", 0, CF_CFG_STRING, "TEXT", "friendly name inside the file", NULL, 0, 0, NULL},
        {"out", 'o', CF_CFG_PATH, "FILE", "the PKCS#12 to write (mode 0600)", NULL, 0, 0, NULL},
    };
    int exit_code = CF_EXIT_OK;
    cf_cfg_t *cfg =
        cf_cli_options(PROG, "--cert FILE --key FILE --out FILE.p12 [OPTIONS]",
                       "Bundle a certificate and its key into a PKCS#12 protected by a password\n"
                       "(AES-256-CBC, PBKDF2-HMAC-SHA256, SHA-256 MAC; never RC2 or 3DES).",
                       opts, sizeof(opts) / sizeof(opts[0]), argc, argv, &exit_code);
    if (!cfg)
        return exit_code;
    s_export_t e = {0};
    cf_bundle_t *bundle = NULL;
    unsigned char *der = NULL;
    size_t len = 0;
    cf_why_t why = {""};
    const char *out = cf_cfg_str(cfg, "out");
    if (!cf_cfg_str(cfg, "cert") || !cf_cfg_str(cfg, "key") || !out) {
        exit_code = cf_cli_usage_error(PROG, "--cert, --key and --out are required");
        goto out;
    }
    cf_err_t rc = s_read_inputs(cfg, &e, &why);
    cf_import_check_t check = {e.ca, 0};
    if (rc == CF_OK)
        rc = cf_import_pem(e.cert, e.cert_len, e.key, e.key_len, e.key_pass, &check, &bundle, &why);
    if (rc == CF_OK && (rc = cf_bundle_to_p12(bundle, e.p12_pass, e.ca, &der, &len)) != CF_OK)
        cf_why(&why, rc, "%s", cf_err_str(rc));
    if (rc == CF_OK)
        rc = cf_cli_write(out, der, len, 0600, &why);
    if (rc != CF_OK)
        exit_code = cf_cli_fail(PROG, rc, &why, "cannot export");
    else
        printf("PKCS#12 for \"%s\" (%s), fingerprint %s\n",
               cf_cert_common_name(cf_bundle_cert(bundle)),
               cf_cert_key_name(cf_bundle_cert(bundle)),
               cf_cert_fingerprint(cf_bundle_cert(bundle)));
out:
    cf_mem_free_secret(der, len);
    cf_bundle_destroy(&bundle);
    s_clear(&e);
    cf_cfg_destroy(&cfg);
    return exit_code;
}
