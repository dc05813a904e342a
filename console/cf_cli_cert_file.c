/*  cf_cli_cert_file - the requests of `cf-console cert import` and `export` and their local
    files: FILE read and opened here (PKCS#12, PEM or DER; keys decrypted; base64), or a
    store the server picks from; the export's format and password, its file written  */
#include "cf_cli_cert_int.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cf_cli.h"
#include "cf_db_key.h"
#include "cf_file.h"
#include "cf_localstore.h"
#include "cf_mem.h"
#include "cf_p12.h"

#define S_B64 sodium_base64_VARIANT_ORIGINAL

/* ---- import ---------------------------------------------------------------------- */

/* certs[0..n-1] as one PEM text into *out (cf_mem_free). */
static cf_err_t s_certs_pem(cf_cert_t *const *certs, size_t n, char **out)
{
    char *all = NULL;
    size_t len = 0;
    cf_err_t rc = CF_OK;
    for (size_t i = 0; rc == CF_OK && i < n; i++) {
        char *pem = NULL;
        size_t plen = 0;
        rc = cf_cert_to_pem(certs[i], &pem, &plen);
        char *grown = rc == CF_OK ? cf_mem_realloc(all, len + plen + 1) : NULL;
        if (rc == CF_OK && !grown)
            rc = CF_ERR_NOMEM;
        if (grown) {
            memcpy(grown + len, pem, plen + 1);
            all = grown;
            len += plen;
        }
        cf_mem_free(pem);
    }
    if (rc != CF_OK || !all) {
        cf_mem_free(all);
        return rc != CF_OK ? rc : CF_ERR_INVALID;
    }
    *out = all;
    return CF_OK;
}

/* Fail the import with the reason; returns 0. */
static int s_refuse(cf_cli_cert_import_t *im, cf_err_t rc, const cf_why_t *why, const char *what)
{
    im->run->exit_code = cf_cli_fail(im->run->prog, rc, why, "%s: %s", im->file, what);
    return 0;
}

/* The private key from --key or the file itself, decrypted here (with a password when it
   is encrypted): a wrong password stops the import before anything is sent. */
static int s_load_key(cf_cli_cert_import_t *im, cf_key_t **key)
{
    cf_cli_run_t *run = im->run;
    const char *key_file = cf_cli_flag(run->cfg, "key");
    char *kbuf = NULL;
    size_t klen = 0;
    cf_why_t why = {""};
    cf_err_t rc = CF_OK;
    if (key_file)
        rc = cf_file_read_ex(key_file, CF_KEY_MAX_INPUT, CF_FILE_SECRET, &kbuf, &klen, &why);
    if (rc != CF_OK) {
        run->exit_code = cf_cli_fail(run->prog, rc, &why, "--key %s", key_file);
        return 0;
    }
    const char *text = kbuf ? kbuf : im->buf;
    size_t len = kbuf ? klen : im->len;
    int ok = 1;
    if (!strstr(text, "PRIVATE KEY-----")) {
        run->exit_code = cf_cli_usage_error(
            run->prog,
            "%s holds no private key: give --key FILE, or --public-only to import the "
            "certificate alone (to identify the component)",
            kbuf ? key_file : im->file);
        ok = 0;
    }
    rc = ok ? cf_key_from_pem(text, len, NULL, key) : CF_OK;
    if (rc == CF_ERR_BADPASS) {
        ok = cf_cli_file_password(run, "Password of the private key: ", 0, &im->password);
        rc = ok ? cf_key_from_pem(text, len, im->password, key) : CF_OK;
        if (rc == CF_ERR_BADPASS)
            cf_why(&why, rc, "wrong password for the private key");
    }
    if (ok && rc != CF_OK)
        ok = s_refuse(im, rc, &why, "cannot open the private key");
    cf_mem_free_secret(kbuf, klen);
    return ok;
}

/* The file holds certificates (PEM or DER): public form, or pem form with the key (sent
   as unencrypted PKCS#8 inside TLS, from a buffer that is wiped). */
static int s_import_certs(cf_cli_cert_import_t *im, cf_cert_t *const *certs, size_t n)
{
    char *chain = NULL, *kpem = NULL;
    size_t kpem_len = 0;
    cf_key_t *key = NULL;
    cf_err_t rc = s_certs_pem(certs, n, &chain);
    int ok = rc == CF_OK || s_refuse(im, rc, NULL, "cannot encode the certificates");
    if (ok && cf_cfg_bool(im->run->cfg, "public-only")) {
        im->body = json_pack("{s:s, s:s}", "format", "public", "cert", chain);
    } else if (ok && s_load_key(im, &key)) {
        rc = cf_key_to_pem(key, NULL, &kpem, &kpem_len);
        if (rc == CF_OK)
            im->body = json_pack("{s:s, s:s, s:s}", "format", "pem", "cert", chain, "key", kpem);
        else
            ok = s_refuse(im, rc, NULL, "cannot encode the private key");
    } else {
        ok = 0;
    }
    cf_key_destroy(&key);
    cf_mem_free(chain);
    cf_mem_free_secret(kpem, kpem_len);
    if (ok && !im->body)
        return s_refuse(im, CF_ERR_NOMEM, NULL, "cannot build the request");
    return ok;
}

/* The file is a PKCS#12: opened here first (a wrong password stops before anything is
   sent), then sent whole (p12 form) or its certificates only (--public-only). */
static int s_import_p12(cf_cli_cert_import_t *im)
{
    cf_p12_content_t p12 = {0};
    cf_why_t why = {""};
    char *b64 = NULL, *chain = NULL;
    size_t b64_len = sodium_base64_ENCODED_LEN(im->len, S_B64);
    if (cf_cli_flag(im->run->cfg, "key")) {
        im->run->exit_code = cf_cli_usage_error(
            im->run->prog, "%s is a PKCS#12: it holds its key, drop --key", im->file);
        return 0;
    }
    cf_err_t rc = cf_p12_parse(im->buf, im->len, NULL, 0, &p12, &why);
    if (rc == CF_ERR_BADPASS) {
        if (!cf_cli_file_password(im->run, "Password of the PKCS#12 file: ", 0, &im->password))
            return 0;
        rc = cf_p12_parse(im->buf, im->len, im->password, 0, &p12, &why);
    }
    if (rc == CF_ERR_CORRUPT)
        return s_refuse(im, rc, &why, "neither a certificate (PEM or DER) nor a PKCS#12 file");
    if (rc != CF_OK)
        return s_refuse(im, rc, &why, "cannot open the PKCS#12 file");
    if (cf_cfg_bool(im->run->cfg, "public-only")) {
        rc = s_certs_pem(p12.certs, p12.n_certs, &chain);
        if (rc == CF_OK)
            im->body = json_pack("{s:s, s:s}", "format", "public", "cert", chain);
    } else {
        b64 = cf_mem_malloc(b64_len);
        if (b64) {
            sodium_bin2base64(b64, b64_len, (const unsigned char *) im->buf, im->len, S_B64);
            im->body = json_pack("{s:s, s:s, s:s*}", "format", "p12", "data", b64, "password",
                                 im->password);
        }
    }
    cf_p12_content_clear(&p12);
    cf_mem_free(chain);
    cf_mem_free_secret(b64, b64_len);
    if (!im->body)
        return s_refuse(im, rc != CF_OK ? rc : CF_ERR_NOMEM, NULL, "cannot build the request");
    return 1;
}

/* FILE: read, and certificates or PKCS#12 told apart. */
static int s_import_file(cf_cli_cert_import_t *im)
{
    cf_why_t why = {""};
    cf_cert_t *certs[CF_CERT_MAX_CHAIN] = {NULL};
    size_t n = 0;
    cf_err_t rc =
        cf_file_read_ex(im->file, CF_P12_MAX_INPUT, CF_FILE_SECRET, &im->buf, &im->len, &why);
    if (rc != CF_OK) {
        im->run->exit_code = cf_cli_fail(im->run->prog, rc, &why, "cannot read %s", im->file);
        return 0;
    }
    int pem = strstr(im->buf, "-----BEGIN ") != NULL;
    rc = cf_cert_parse_all(im->buf, im->len, certs, CF_CERT_MAX_CHAIN, &n);
    if (rc != CF_OK && pem)
        return s_refuse(im, rc, NULL, "no certificate could be read from this PEM file");
    int ok = rc == CF_OK ? s_import_certs(im, certs, n) : s_import_p12(im);
    for (size_t i = 0; i < n; i++)
        cf_cert_destroy(&certs[i]);
    return ok;
}

/* --from-store DIR --match M: a certificate the server picks from a directory of its own. */
static int s_import_store(cf_cli_cert_import_t *im)
{
    cf_cli_run_t *run = im->run;
    const char *dir = cf_cli_flag(run->cfg, "from-store");
    const char *match = cf_cli_flag(run->cfg, "match");
    cf_why_t why = {""};
    if (!match || cf_db_check_text(match, 1, CF_LOCALSTORE_MAX_MATCH) != CF_OK) {
        run->exit_code = cf_cli_usage_error(
            run->prog, "--from-store needs --match SUBJECT|FINGERPRINT (1..%d characters)",
            CF_LOCALSTORE_MAX_MATCH);
        return 0;
    }
    /* a password only when one is given: the store's file may need none */
    const char *pw_file = cf_cli_flag(run->cfg, "password-file");
    const char *env = getenv(CF_CLI_PKCS12_ENV);
    cf_err_t rc = pw_file || (env && env[0])
                      ? cf_cli_password(pw_file, CF_CLI_PKCS12_ENV, "", 0, &im->password, &why)
                      : CF_OK;
    if (rc == CF_OK) {
        im->body =
            json_pack("{s:s, s:s, s:s*}", "store", dir, "match", match, "password", im->password);
        rc = im->body ? CF_OK : CF_ERR_NOMEM;
    }
    if (rc != CF_OK)
        run->exit_code = cf_cli_fail(run->prog, rc, &why, "cannot build the request");
    return rc == CF_OK;
}

int cf_cli_cert_import_body(cf_cli_cert_import_t *im)
{
    return im->file ? s_import_file(im) : s_import_store(im);
}

void cf_cli_cert_import_clear(cf_cli_cert_import_t *im)
{
    cf_mem_free_secret(im->buf, im->len);
    cf_mem_free_secret_str(im->password);
    json_decref(im->body);
    im->buf = im->password = NULL;
    im->len = 0;
    im->body = NULL;
}

/* ---- export ---------------------------------------------------------------------- */

int cf_cli_cert_export_body(cf_cli_run_t *run, const char *out, int *p12_out, json_t **body,
                            char **password)
{
    size_t n = strlen(out);
    const char *format = cf_cli_flag(run->cfg, "format");
    int p12 =
        format ? strcmp(format, "p12") == 0
               : !(n > 4 && (strcmp(out + n - 4, ".pem") == 0 || strcmp(out + n - 4, ".crt") == 0));
    *p12_out = p12;
    if (p12 && !cf_cli_file_password(run, "Password for the PKCS#12 file: ", 1, password))
        return 0;
    *body = p12 ? json_pack("{s:s, s:s}", "format", "p12", "password", *password)
                : json_pack("{s:s}", "format", "pem");
    if (!*body)
        run->exit_code = cf_cli_fail(run->prog, CF_ERR_NOMEM, NULL, "cannot build the request");
    return *body != NULL;
}

/* The PKCS#12 of a p12 export answer, decoded and written 0600. */
static cf_err_t s_write_p12(const json_t *answer, const char *out, int force, cf_why_t *why)
{
    const char *b64 = json_string_value(json_object_get(answer, "data"));
    size_t b64_len = b64 ? strlen(b64) : 0, len = 0;
    const char *end = NULL;
    if (!b64 || b64_len == 0)
        return cf_why(why, CF_ERR_CORRUPT, "the answer holds no data");
    size_t cap = b64_len / 4 * 3 + 3;
    unsigned char *der = cf_mem_malloc(cap);
    if (!der)
        return CF_ERR_NOMEM;
    cf_err_t rc = CF_OK;
    if (sodium_base642bin(der, cap, b64, b64_len, NULL, &len, &end, S_B64) != 0 ||
        end != b64 + b64_len || len == 0)
        rc = cf_why(why, CF_ERR_CORRUPT, "the answer's data is not base64");
    if (rc == CF_OK)
        rc = force ? cf_file_write_atomic(out, der, len, 0600, why)
                   : cf_file_write_new(out, der, len, 0600, why);
    cf_mem_free_secret(der, cap);
    return rc;
}

/* The certificate and chain of a pem export answer, written 0644 (no key in them). */
static cf_err_t s_write_pem(const json_t *answer, const char *out, int force, cf_why_t *why)
{
    const char *cert = json_string_value(json_object_get(answer, "cert"));
    const char *chain = json_string_value(json_object_get(answer, "chain"));
    if (!cert || !cert[0])
        return cf_why(why, CF_ERR_CORRUPT, "the answer holds no certificate");
    size_t a = strlen(cert), b = chain ? strlen(chain) : 0;
    char *text = cf_mem_malloc(a + b + 2);
    if (!text)
        return CF_ERR_NOMEM;
    memcpy(text, cert, a);
    if (a > 0 && cert[a - 1] != '\n')
        text[a++] = '\n';
    memcpy(text + a, chain ? chain : "", b);
    cf_err_t rc = force ? cf_file_write_atomic(out, text, a + b, 0644, why)
                        : cf_file_write_new(out, text, a + b, 0644, why);
    cf_mem_free(text);
    return rc;
}

cf_err_t cf_cli_cert_write_export(const json_t *answer, const char *out, int p12, int force,
                                  cf_why_t *why)
{
    return p12 ? s_write_p12(answer, out, force, why) : s_write_pem(answer, out, force, why);
}
