/*  cf_cli_cert_int - what cf_cli_cert.c (the commands) and cf_cli_cert_file.c (their
    files) share: the import being built, the export being written. Not for other groups.  */
#ifndef CF_CLI_CERT_INT_H_INCLUDED
#define CF_CLI_CERT_INT_H_INCLUDED

#include <stddef.h>

#include <jansson.h>

#include "cf_cli_api.h"
#include "cf_err.h"

/* One `cert import` being built. */
typedef struct {
    cf_cli_run_t *run; /* the command (borrowed) */
    const char *file;  /* FILE argument (borrowed), or NULL for --from-store */
    char *buf;         /* its contents (owned, wiped) */
    size_t len;        /* bytes in buf */
    char *password;    /* the file's or key's password (owned, wiped), or NULL */
    json_t *body;      /* the request being built (owned) */
} cf_cli_cert_import_t;

/* Build im->body, the import request. With im->file: read it (at most CF_P12_MAX_INPUT
   bytes), tell certificates (PEM or DER) from a PKCS#12 and open it here, asking for a
   password (cf_cli_file_password) only when the file or its key (--key FILE) needs one,
   so a wrong password stops before anything is sent; the key goes out as unencrypted
   PKCS#8 and a PKCS#12 as base64 of the file (--public-only: the certificates alone).
   Without: the body asks the server to pick from --from-store DIR by --match. Returns 1
   to go on; 0 with the error printed and im->run->exit_code set. In both cases the
   caller frees what im holds with cf_cli_cert_import_clear. */
int cf_cli_cert_import_body(cf_cli_cert_import_t *im);

/* Free what im holds (buf and password wiped) and NULL it; safe to repeat. */
void cf_cli_cert_import_clear(cf_cli_cert_import_t *im);

/* The request of `cert export` to out: PKCS#12 (*p12_out = 1) with --format p12, or with no
   --format unless out ends in .pem or .crt; else PEM (*p12_out = 0). For a PKCS#12 the
   file's password is asked first (cf_cli_file_password, twice) into *password (the
   caller's, cf_mem_free_secret_str) and goes into the request. *body is the caller's
   (json_decref). Returns 1 to go on; 0 with the error printed and run->exit_code set. */
int cf_cli_cert_export_body(cf_cli_run_t *run, const char *out, int *p12_out, json_t **body,
                            char **password);

/* Write the answer of `cert export` to out: with p12, its "data" (base64) decoded, mode
   0600 (the buffer is wiped); else its "cert" and "chain" as PEM, mode 0644. An existing
   file is replaced only when force. Errors: CF_ERR_CORRUPT (no data or certificate, or
   not base64), CF_ERR_EXISTS (out exists, no force), CF_ERR_IO, CF_ERR_NOMEM; why says
   why. */
CF_MUST_USE cf_err_t cf_cli_cert_write_export(const json_t *answer, const char *out, int p12,
                                              int force, cf_why_t *why);

/* `cf-console cert expiring` (cf_cli_cert_expiring.c): GET /certs/expiring as a table. */
int cf_cli_cert_expiring(int argc, char **argv);

#endif
