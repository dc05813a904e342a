/*  bench_tls_ctx - bench_tls's client TLS contexts: one per client certificate (static)  */
#ifndef BENCH_TLS_CTX_H_INCLUDED
#define BENCH_TLS_CTX_H_INCLUDED
/* Included by tests/bench/bench_tls.c only (each bench_*.c is built alone). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "bench_tls_opts.h"
#include "cf_mem.h"

#define S_MAX_IDS  1024 /* client certificates taken from a --cert-dir */
#define S_NAME_MAX 64   /* bytes of a certificate NAME, with its NUL */

typedef struct {
    char name[S_NAME_MAX]; /* certificate NAME for %s ("" when no client certificate) */
    SSL_CTX *ctx;          /* client context presenting it; shared by threads, read-only */
} s_ident_t;

/* Keys must be unencrypted: never prompt in the middle of a benchmark. */
static int s_no_password(char *buf, int size, int rwflag, void *u)
{
    (void) buf, (void) size, (void) rwflag, (void) u;
    return 0;
}

/* A client context: protocol range, no tickets, no session cache, the server verified against
   o->ca (unless no_verify), and cert/key presented when given. */
static CF_MUST_USE cf_err_t s_ctx_new(const s_opts_t *o, const char *cert, const char *key,
                                      SSL_CTX **out, cf_why_t *why)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    cf_err_t rc = CF_ERR_CRYPTO;
    if (!ctx)
        goto out;
    SSL_CTX_set_min_proto_version(ctx, o->tls == 13 ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, o->tls == 12 ? TLS1_2_VERSION : TLS1_3_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_default_passwd_cb(ctx, s_no_password);
    rc = CF_ERR_INVALID;
    if (!o->no_verify && SSL_CTX_load_verify_locations(ctx, o->ca, NULL) != 1) {
        cf_why(why, rc, "--ca %s: no usable CA certificate", o->ca);
        goto out;
    }
    SSL_CTX_set_verify(ctx, o->no_verify ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    if (cert && (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
                 SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
                 SSL_CTX_check_private_key(ctx) != 1)) {
        cf_why(why, rc, "%s / %s: not a certificate and its unencrypted key", cert, key);
        goto out;
    }
    *out = ctx;
    ctx = NULL;
    rc = CF_OK;
out:
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}

static int s_name_cmp(const void *a, const void *b)
{
    return strcmp(((const s_ident_t *) a)->name, ((const s_ident_t *) b)->name);
}

/* NAME for every NAME.key in dir that has a NAME.pem beside it, into ids[0..cap). */
static CF_MUST_USE cf_err_t s_dir_names(const char *dir, s_ident_t *ids, size_t cap, size_t *n,
                                        cf_why_t *why)
{
    DIR *d = opendir(dir);
    char path[4096];
    *n = 0;
    if (!d)
        return cf_why(why, CF_ERR_IO, "--cert-dir %s: %s", dir, strerror(errno));
    for (struct dirent *e = readdir(d); e; e = readdir(d)) {
        size_t len = strlen(e->d_name);
        if (len <= 4 || len - 4 >= S_NAME_MAX || strcmp(e->d_name + len - 4, ".key") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%.*s.pem", dir, (int) (len - 4), e->d_name);
        if (access(path, R_OK) != 0)
            continue;
        if (*n == cap) {
            closedir(d);
            return cf_why(why, CF_ERR_TOOBIG, "--cert-dir %s: over %zu certificates", dir, cap);
        }
        memcpy(ids[*n].name, e->d_name, len - 4);
        ids[(*n)++].name[len - 4] = '\0';
    }
    closedir(d);
    if (*n == 0)
        return cf_why(why, CF_ERR_NOTFOUND, "--cert-dir %s: no NAME.pem with NAME.key", dir);
    qsort(ids, *n, sizeof(*ids), s_name_cmp);
    return CF_OK;
}

static void s_idents_free(s_ident_t **ids_p, size_t n)
{
    for (size_t i = 0; *ids_p && i < n; i++)
        SSL_CTX_free((*ids_p)[i].ctx);
    cf_mem_free(*ids_p);
    *ids_p = NULL;
}

/* The identities connections present in turn: each pair of --cert-dir, the one --cert, or
   none. On success *ids_out (free with s_idents_free) holds *n_out >= 1 entries. */
static CF_MUST_USE cf_err_t s_idents_load(const s_opts_t *o, s_ident_t **ids_out, size_t *n_out,
                                          cf_why_t *why)
{
    s_ident_t *ids = cf_mem_calloc(o->cert_dir ? S_MAX_IDS : 1, sizeof(*ids));
    size_t n = 1;
    char cert[4200], key[4200];
    cf_err_t rc = ids ? CF_OK : CF_ERR_NOMEM;
    if (rc == CF_OK && o->cert_dir)
        rc = s_dir_names(o->cert_dir, ids, S_MAX_IDS, &n, why);
    if (rc == CF_OK && o->cert) {
        const char *base = strrchr(o->cert, '/') ? strrchr(o->cert, '/') + 1 : o->cert;
        snprintf(ids[0].name, sizeof(ids[0].name), "%.*s", (int) strcspn(base, "."), base);
    }
    for (size_t i = 0; rc == CF_OK && i < n; i++) {
        snprintf(cert, sizeof(cert), "%s/%s.pem", o->cert_dir ? o->cert_dir : "", ids[i].name);
        snprintf(key, sizeof(key), "%s/%s.key", o->cert_dir ? o->cert_dir : "", ids[i].name);
        if (o->cert_dir)
            rc = s_ctx_new(o, cert, key, &ids[i].ctx, why);
        else
            rc = s_ctx_new(o, o->cert, o->key, &ids[i].ctx, why);
    }
    if (rc != CF_OK) {
        s_idents_free(&ids, n);
        return rc;
    }
    *ids_out = ids;
    *n_out = n;
    return CF_OK;
}

/* Why an SSL call failed (err from SSL_get_error, not a WANT_*), as "what: reason". */
static void s_ssl_reason(const SSL *ssl, int err, const char *what, char *why, size_t len)
{
    unsigned long e = ERR_peek_error();
    long v = SSL_get_verify_result(ssl);
    switch (err) {
    case SSL_ERROR_ZERO_RETURN: snprintf(why, len, "%s: closed by the server", what); break;
    case SSL_ERROR_SYSCALL:
        snprintf(why, len, "%s: %s", what, errno ? strerror(errno) : "connection lost");
        break;
    case SSL_ERROR_SSL:
        if (v != X509_V_OK)
            snprintf(why, len, "%s: server certificate: %s", what,
                     X509_verify_cert_error_string(v));
        else
            snprintf(why, len, "%s: %s", what,
                     ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "TLS error");
        break;
    default: snprintf(why, len, "%s: SSL error %d", what, err); break;
    }
}

#endif
