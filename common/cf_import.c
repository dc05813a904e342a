/*  cf_import - certificate bundles (cert, optional key, chain): import, check, export, store  */
#include "cf_import.h"

#include <stdio.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "cf_mem.h"
#include "cf_p12.h"

#define S_ACCEPTED "accepted are P-256, P-384, RSA 2048-4096 and Ed25519"

struct cf_bundle {
    cf_bundle_kind_t kind;               /* how it came to us */
    cf_cert_t *cert;                     /* owned; the certificate itself (the leaf) */
    cf_key_t *key;                       /* owned; its private key, NULL when PUBLIC */
    cf_cert_t *chain[CF_CERT_MAX_CHAIN]; /* owned; issuers, the leaf's issuer first */
    size_t n_chain;                      /* entries used in chain */
};

const char *cf_bundle_kind_name(cf_bundle_kind_t kind)
{
    switch (kind) {
    case CF_BUNDLE_GENERATED: return "generated";
    case CF_BUNDLE_IMPORTED: return "imported";
    case CF_BUNDLE_PUBLIC: return "public";
    default: return "unknown";
    }
}

/* A short name for messages: the CN, else the whole subject. */
static const char *s_name(const cf_cert_t *cert)
{
    const char *cn = cf_cert_common_name(cert);
    return cn && *cn ? cn : cf_cert_subject(cert);
}

static cf_err_t s_check_parts(const cf_cert_t *cert, const cf_key_t *key, cf_bundle_kind_t kind,
                              cf_why_t *why)
{
    cf_key_type_t type;
    if (!cert)
        return cf_why(why, CF_ERR_INVALID, "no certificate");
    switch (kind) {
    case CF_BUNDLE_GENERATED:
    case CF_BUNDLE_IMPORTED:
        if (!key)
            return cf_why(why, CF_ERR_NOKEY, "a %s certificate needs its private key",
                          cf_bundle_kind_name(kind));
        break;
    case CF_BUNDLE_PUBLIC:
        if (key)
            return cf_why(why, CF_ERR_INVALID, "a public-only certificate carries no key");
        break;
    default: return cf_why(why, CF_ERR_INVALID, "unknown bundle kind %d", (int) kind);
    }
    EVP_PKEY *pub = X509_get0_pubkey(cf_cert_x509(cert));
    if (!pub || cf_key_type_of_pkey(pub, &type) != CF_OK)
        return cf_why(why, CF_ERR_UNSUPPORTED, "certificate \"%s\" has key type %s; " S_ACCEPTED,
                      s_name(cert), cf_cert_key_name(cert));
    if (key && cf_cert_matches_key(cert, key) != CF_OK)
        return cf_why(why, CF_ERR_KEYMISMATCH,
                      "the private key does not belong to certificate \"%s\"", s_name(cert));
    return CF_OK;
}

cf_err_t cf_bundle_new(cf_cert_t **cert_p, cf_key_t **key_p, cf_bundle_kind_t kind,
                       cf_bundle_t **out, cf_why_t *why)
{
    CF_ASSERT(cert_p != NULL && out != NULL);
    cf_cert_t *cert = *cert_p;
    cf_key_t *key = key_p ? *key_p : NULL;
    *cert_p = NULL;
    if (key_p)
        *key_p = NULL;
    *out = NULL;
    cf_bundle_t *self = NULL;
    cf_err_t rc = s_check_parts(cert, key, kind, why);
    if (rc != CF_OK)
        goto out;
    rc = CF_ERR_NOMEM;
    self = cf_mem_calloc(1, sizeof(*self));
    if (!self)
        goto out;
    self->kind = kind;
    self->cert = cert;
    self->key = key;
    cert = NULL;
    key = NULL;
    *out = self;
    rc = CF_OK;
out:
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
    return rc;
}

cf_err_t cf_bundle_add_chain(cf_bundle_t *self, cf_cert_t **cert_p)
{
    CF_ASSERT(self != NULL && cert_p != NULL);
    if (!*cert_p)
        return CF_ERR_INVALID;
    if (self->n_chain >= CF_CERT_MAX_CHAIN) {
        cf_cert_destroy(cert_p);
        return CF_ERR_TOOBIG;
    }
    self->chain[self->n_chain++] = *cert_p;
    *cert_p = NULL;
    return CF_OK;
}

void cf_bundle_destroy(cf_bundle_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_bundle_t *self = *self_p;
    cf_cert_destroy(&self->cert);
    cf_key_destroy(&self->key);
    for (size_t i = 0; i < self->n_chain; i++)
        cf_cert_destroy(&self->chain[i]);
    cf_mem_free(self);
    *self_p = NULL;
}

cf_bundle_kind_t cf_bundle_kind(const cf_bundle_t *self)
{
    return self->kind;
}

const cf_cert_t *cf_bundle_cert(const cf_bundle_t *self)
{
    return self->cert;
}

const cf_key_t *cf_bundle_key(const cf_bundle_t *self)
{
    return self->key;
}

size_t cf_bundle_chain_len(const cf_bundle_t *self)
{
    return self->n_chain;
}

const cf_cert_t *cf_bundle_chain(const cf_bundle_t *self, size_t i)
{
    return i < self->n_chain ? self->chain[i] : NULL;
}

static void s_date(time_t t, char *buf, size_t buflen)
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(buf, buflen, "%Y-%m-%d %H:%M:%S UTC", &tm))
        snprintf(buf, buflen, "@%lld", (long long) t);
}

cf_err_t cf_bundle_check(const cf_bundle_t *self, const cf_import_check_t *check, cf_why_t *why)
{
    CF_ASSERT(self != NULL);
    time_t now = check && check->now ? check->now : time(NULL);
    char date[40];
    cf_err_t rc = cf_cert_check_time(self->cert, now);
    if (rc == CF_ERR_EXPIRED) {
        s_date(cf_cert_not_after(self->cert), date, sizeof(date));
        return cf_why(why, rc, "certificate \"%s\" expired on %s", s_name(self->cert), date);
    }
    if (rc == CF_ERR_NOTYETVALID) {
        s_date(cf_cert_not_before(self->cert), date, sizeof(date));
        return cf_why(why, rc, "certificate \"%s\" is not valid before %s", s_name(self->cert),
                      date);
    }
    CF_TRY(rc);
    if (!check || !check->ca)
        return CF_OK;
    cf_why_t inner = {""};
    rc = cf_cert_verify(self->cert, check->ca, self->chain, self->n_chain, now, &inner);
    if (rc == CF_ERR_UNTRUSTED)
        return cf_why(why, rc, "certificate \"%s\" does not chain to CA \"%s\": %s",
                      s_name(self->cert), s_name(check->ca), cf_why_text(&inner, rc));
    if (rc != CF_OK)
        return cf_why(why, rc, "chain of \"%s\" to CA \"%s\": %s", s_name(self->cert),
                      s_name(check->ca), cf_why_text(&inner, rc));
    return CF_OK;
}

static int s_issued(const cf_cert_t *issuer, const cf_cert_t *subject)
{
    return X509_check_issued(cf_cert_x509(issuer), cf_cert_x509(subject)) == X509_V_OK;
}

/* The leaf among certs: the key's certificate; without a key, the first that issued none of
   the others (files list chains leaf-first or CA-first, PKCS#12 in any order). */
static cf_err_t s_pick_leaf(cf_cert_t *const *certs, size_t n, const cf_key_t *key,
                            size_t *leaf_out, cf_why_t *why)
{
    *leaf_out = 0;
    for (size_t i = 0; i < n; i++) {
        if (key) {
            cf_err_t rc = cf_cert_matches_key(certs[i], key);
            if (rc == CF_OK)
                *leaf_out = i;
            if (rc != CF_ERR_KEYMISMATCH)
                return rc;
            continue;
        }
        size_t j = 0;
        while (j < n && (j == i || !s_issued(certs[i], certs[j])))
            j++;
        if (j == n) {
            *leaf_out = i;
            return CF_OK;
        }
    }
    if (key)
        return cf_why(why, CF_ERR_KEYMISMATCH,
                      "the private key belongs to none of the %zu certificates given", n);
    return CF_OK;
}

cf_err_t cf_bundle_take_issuers(cf_bundle_t *self, cf_cert_t **certs, size_t n)
{
    CF_ASSERT(self != NULL && (certs != NULL || n == 0));
    const cf_cert_t *cur = self->cert;
    for (size_t j = 0; j < n;) {
        if (!certs[j] || !s_issued(certs[j], cur)) {
            j++;
            continue;
        }
        cur = certs[j];
        CF_TRY(cf_bundle_add_chain(self, &certs[j]));
        j = 0; /* look for cur's issuer from the start */
    }
    return CF_OK;
}

cf_err_t cf_bundle_from_parts(cf_key_t **key_p, cf_cert_t **certs, size_t n, cf_bundle_kind_t kind,
                              cf_bundle_t **out, cf_why_t *why)
{
    CF_ASSERT(out != NULL && certs != NULL);
    *out = NULL;
    size_t leaf = 0;
    cf_bundle_t *self = NULL;
    cf_err_t rc = n ? CF_OK : cf_why(why, CF_ERR_INVALID, "no certificate");
    if (rc == CF_OK)
        rc = s_pick_leaf(certs, n, key_p ? *key_p : NULL, &leaf, why);
    if (rc == CF_OK)
        rc = cf_bundle_new(&certs[leaf], key_p, kind, &self, why);
    if (rc == CF_OK)
        rc = cf_bundle_take_issuers(self, certs, n);
    if (rc == CF_OK) {
        *out = self;
        self = NULL;
    }
    cf_bundle_destroy(&self);
    return rc;
}

/* cf_bundle_from_parts, then cf_bundle_check (check NULL = the validity window now). */
static cf_err_t s_assemble(cf_key_t **key_p, cf_cert_t **certs, size_t n, cf_bundle_kind_t kind,
                           const cf_import_check_t *check, cf_bundle_t **out, cf_why_t *why)
{
    cf_import_check_t now = {NULL, 0};
    cf_err_t rc = cf_bundle_from_parts(key_p, certs, n, kind, out, why);
    if (rc == CF_OK)
        rc = cf_bundle_check(*out, check ? check : &now, why);
    if (rc != CF_OK)
        cf_bundle_destroy(out);
    return rc;
}

cf_err_t cf_import_p12(const void *buf, size_t len, const char *password,
                       const cf_import_check_t *check, cf_bundle_t **out, cf_why_t *why)
{
    CF_ASSERT(out != NULL);
    *out = NULL;
    cf_p12_content_t content;
    CF_TRY(cf_p12_parse(buf, len, password, 0, &content, why));
    cf_err_t rc = CF_OK;
    if (!content.key)
        rc = cf_why(why, CF_ERR_NOKEY,
                    "the PKCS#12 file holds no private key; import the "
                    "certificate as public-only instead");
    if (rc == CF_OK)
        rc = s_assemble(&content.key, content.certs, content.n_certs, CF_BUNDLE_IMPORTED, check,
                        out, why);
    cf_p12_content_clear(&content);
    return rc;
}

static cf_err_t s_parse_certs(const void *buf, size_t len, cf_cert_t **certs, size_t *n,
                              cf_why_t *why)
{
    cf_err_t rc = cf_cert_parse_all(buf, len, certs, CF_CERT_MAX_CHAIN, n);
    switch (rc) {
    case CF_OK: return rc;
    case CF_ERR_INVALID: return cf_why(why, rc, "the certificate input is empty");
    case CF_ERR_TOOBIG:
        return cf_why(why, rc,
                      "the certificate file is over %d bytes or holds over %d "
                      "certificates",
                      CF_CERT_MAX_INPUT, CF_CERT_MAX_CHAIN);
    case CF_ERR_CORRUPT:
        return cf_why(why, rc,
                      "the certificate file is not a PEM or DER certificate, or it is "
                      "truncated");
    default: return cf_why(why, rc, "certificate file: %s", cf_err_str(rc));
    }
}

static cf_err_t s_parse_key(const void *buf, size_t len, const char *password, cf_key_t **key,
                            cf_why_t *why)
{
    if (!buf || len == 0)
        return cf_why(why, CF_ERR_INVALID, "no private key given");
    cf_err_t rc = cf_key_from_pem(buf, len, password, key);
    switch (rc) {
    case CF_OK: return rc;
    case CF_ERR_BADPASS:
        if (!password || !*password)
            return cf_why(why, rc, "the private key is encrypted and no password was given");
        return cf_why(why, rc, "wrong password for the private key");
    case CF_ERR_TOOBIG:
        return cf_why(why, rc,
                      "the key file is over %d bytes, or its encryption asks for more than %lu "
                      "PBKDF2 iterations",
                      CF_KEY_MAX_INPUT, (unsigned long) CF_KEY_MAX_ITER);
    case CF_ERR_CORRUPT:
        return cf_why(why, rc, "the key file is not a PEM private key, or it is truncated");
    case CF_ERR_UNSUPPORTED:
        return cf_why(why, rc,
                      "unsupported private key type or key encryption (scrypt, or a cipher "
                      "OpenSSL cannot run); " S_ACCEPTED);
    default: return cf_why(why, rc, "private key: %s", cf_err_str(rc));
    }
}

static void s_certs_free(cf_cert_t **certs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cf_cert_destroy(&certs[i]);
}

cf_err_t cf_import_pem(const void *cert_buf, size_t cert_len, const void *key_buf, size_t key_len,
                       const char *password, const cf_import_check_t *check, cf_bundle_t **out,
                       cf_why_t *why)
{
    CF_ASSERT(out != NULL);
    *out = NULL;
    cf_cert_t *certs[CF_CERT_MAX_CHAIN] = {NULL};
    size_t n = 0;
    cf_key_t *key = NULL;
    cf_err_t rc = s_parse_certs(cert_buf, cert_len, certs, &n, why);
    if (rc == CF_OK)
        rc = s_parse_key(key_buf, key_len, password, &key, why);
    if (rc == CF_OK)
        rc = s_assemble(&key, certs, n, CF_BUNDLE_IMPORTED, check, out, why);
    cf_key_destroy(&key);
    s_certs_free(certs, n);
    return rc;
}

cf_err_t cf_import_public(const void *buf, size_t len, const cf_import_check_t *check,
                          cf_bundle_t **out, cf_why_t *why)
{
    CF_ASSERT(out != NULL);
    *out = NULL;
    cf_cert_t *certs[CF_CERT_MAX_CHAIN] = {NULL};
    size_t n = 0;
    cf_err_t rc = s_parse_certs(buf, len, certs, &n, why);
    if (rc == CF_OK)
        rc = s_assemble(NULL, certs, n, CF_BUNDLE_PUBLIC, check, out, why);
    s_certs_free(certs, n);
    return rc;
}

/* Leaf's chain plus ca (unless already there) into list; returns the count or -1 if full. */
static int s_export_list(const cf_bundle_t *self, const cf_cert_t *ca, const cf_cert_t **list)
{
    size_t n = 0;
    int has_ca = 0;
    for (size_t i = 0; i < self->n_chain; i++) {
        list[n++] = self->chain[i];
        if (ca && strcmp(cf_cert_fingerprint(ca), cf_cert_fingerprint(self->chain[i])) == 0)
            has_ca = 1;
    }
    if (ca && !has_ca) {
        if (n >= CF_CERT_MAX_CHAIN)
            return -1;
        list[n++] = ca;
    }
    return (int) n;
}

cf_err_t cf_bundle_to_p12(const cf_bundle_t *self, const char *password, const cf_cert_t *ca,
                          unsigned char **der_out, size_t *len_out)
{
    CF_ASSERT(self != NULL);
    const cf_cert_t *list[CF_CERT_MAX_CHAIN];
    int n = s_export_list(self, ca, list);
    if (n < 0)
        return CF_ERR_TOOBIG;
    const char *cn = cf_cert_common_name(self->cert);
    return cf_p12_create(self->key, self->cert, list, (size_t) n, password, *cn ? cn : NULL, 0,
                         der_out, len_out);
}

cf_err_t cf_bundle_chain_pem(const cf_bundle_t *self, const cf_cert_t *ca, char **pem_out,
                             size_t *len_out)
{
    CF_ASSERT(self != NULL && pem_out != NULL && len_out != NULL);
    const cf_cert_t *list[CF_CERT_MAX_CHAIN + 1] = {self->cert};
    int n = s_export_list(self, ca, list + 1);
    char *buf = NULL;
    size_t used = 0;
    cf_err_t rc = n < 0 ? CF_ERR_TOOBIG : CF_OK;
    for (int i = 0; rc == CF_OK && i <= n; i++) {
        char *pem = NULL;
        size_t len = 0;
        rc = cf_cert_to_pem(list[i], &pem, &len);
        char *grown = rc == CF_OK ? cf_mem_realloc(buf, used + len + 1) : NULL;
        if (grown) {
            memcpy(grown + used, pem, len);
            used += len;
            grown[used] = '\0';
            buf = grown;
        } else if (rc == CF_OK) {
            rc = CF_ERR_NOMEM;
        }
        cf_mem_free(pem);
    }
    if (rc != CF_OK) {
        cf_mem_free(buf);
        return rc;
    }
    *pem_out = buf;
    *len_out = used;
    return CF_OK;
}

cf_err_t cf_bundle_key_pem(const cf_bundle_t *self, const char *password, char **pem_out,
                           size_t *len_out)
{
    CF_ASSERT(self != NULL);
    if (!self->key)
        return CF_ERR_NOKEY;
    return cf_key_to_pem(self->key, password, pem_out, len_out);
}
