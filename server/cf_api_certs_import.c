/*  cf_api_certs_import - POST /certs/:component/:name/import: PKCS#12, PEM, public, local store  */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "cf_api_certs_int.h"
#include "cf_db_cert.h"
#include "cf_db_crl.h"
#include "cf_db_meta.h"
#include "cf_import.h"
#include "cf_localstore.h"
#include "cf_log.h"
#include "cf_mem.h"
#include "cf_p12.h"

/* The four forms of docs/API.md. */
typedef enum { S_P12 = 0, S_PEM, S_PUBLIC, S_STORE } s_form_t;

static const char *const s_form_names[] = {"p12", "pem", "public", "store"};

/* The body, checked; strings borrowed from it. */
typedef struct {
    s_form_t form;        /* which form */
    const char *data;     /* p12: base64 of the DER file */
    const char *cert;     /* pem, public: certificate PEM (with its chain) */
    const char *key;      /* pem: private key PEM */
    const char *password; /* p12, pem (encrypted key), store (.p12 files); NULL: none */
    const char *store;    /* store: a directory on this server (absolute path) */
    const char *match;    /* store: subject text or SHA-256 fingerprint */
} s_body_t;

/* The fields of a store form. */
static cf_err_t s_body_store(const json_t *body, s_body_t *b, cf_why_t *why)
{
    static const char *const allowed[] = {"store", "match", "password", NULL};
    b->form = S_STORE;
    CF_TRY(cf_api_certs_only(body, allowed, why));
    CF_TRY(cf_api_certs_field(body, "store", CF_API_CERTS_PATH_MAX, CF_API_F_REQUIRED, &b->store,
                              why));
    CF_TRY(cf_api_certs_field(body, "match", CF_LOCALSTORE_MAX_MATCH, CF_API_F_REQUIRED, &b->match,
                              why));
    if (b->store[0] != '/')
        return cf_why(why, CF_ERR_INVALID, "store must be an absolute directory path");
    return CF_OK;
}

/* Which form the body is, and its fields. */
static cf_err_t s_body(const json_t *body, s_body_t *b, cf_why_t *why)
{
    static const char *const f_p12[] = {"format", "data", "password", NULL};
    static const char *const f_pem[] = {"format", "cert", "key", "password", NULL};
    static const char *const f_public[] = {"format", "cert", NULL};
    const char *format = NULL;
    memset(b, 0, sizeof(*b));
    if (!body)
        return cf_why(why, CF_ERR_INVALID, "a JSON body is required");
    CF_TRY(cf_api_certs_field(body, "password", CF_API_CERTS_PASS_MAX, 0, &b->password, why));
    if (json_object_get(body, "store"))
        return s_body_store(body, b, why);
    CF_TRY(cf_api_certs_field(body, "format", 16, CF_API_F_REQUIRED, &format, why));
    const unsigned text = CF_API_F_REQUIRED | CF_API_F_MULTILINE;
    if (strcmp(format, "p12") == 0) {
        b->form = S_P12;
        CF_TRY(cf_api_certs_only(body, f_p12, why));
        return cf_api_certs_field(body, "data", CF_API_CERTS_UPLOAD_MAX, text, &b->data, why);
    }
    if (strcmp(format, "pem") == 0) {
        b->form = S_PEM;
        CF_TRY(cf_api_certs_only(body, f_pem, why));
        CF_TRY(cf_api_certs_field(body, "cert", CF_CERT_MAX_INPUT, text, &b->cert, why));
        return cf_api_certs_field(body, "key", CF_KEY_MAX_INPUT, text, &b->key, why);
    }
    if (strcmp(format, "public") == 0) {
        b->form = S_PUBLIC;
        CF_TRY(cf_api_certs_only(body, f_public, why));
        return cf_api_certs_field(body, "cert", CF_CERT_MAX_INPUT, text, &b->cert, why);
    }
    return cf_why(why, CF_ERR_INVALID, "format must be p12, pem or public (or give store)");
}

/* Decode base64 (line breaks allowed) into a new buffer (*out: cf_mem_free_secret). */
static cf_err_t s_unbase64(const char *text, unsigned char **out, size_t *len, cf_why_t *why)
{
    size_t in_len = strlen(text);
    unsigned char *buf = cf_mem_malloc(in_len / 4 * 3 + 80);
    EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
    int n = 0, m = 0;
    cf_err_t rc = buf && ctx ? CF_OK : CF_ERR_NOMEM;
    if (rc == CF_OK) {
        EVP_DecodeInit(ctx);
        if (EVP_DecodeUpdate(ctx, buf, &n, (const unsigned char *) text, (int) in_len) < 0 ||
            EVP_DecodeFinal(ctx, buf + n, &m) != 1 || n + m == 0)
            rc = cf_why(why, CF_ERR_CORRUPT, "data is not base64");
    }
    EVP_ENCODE_CTX_free(ctx);
    if (rc != CF_OK) {
        cf_mem_free_secret(buf, buf ? in_len / 4 * 3 + 80 : 0);
        return rc;
    }
    *out = buf;
    *len = (size_t) (n + m);
    return CF_OK;
}

/* The bundle the body describes, checked for its validity window only. */
static cf_err_t s_load(const s_body_t *b, const cf_import_check_t *check, cf_bundle_t **out,
                       cf_why_t *why)
{
    switch (b->form) {
    case S_P12: {
        unsigned char *der = NULL;
        size_t len = 0;
        CF_TRY(s_unbase64(b->data, &der, &len, why));
        cf_err_t rc = cf_import_p12(der, len, b->password, check, out, why);
        cf_mem_free_secret(der, len);
        return rc;
    }
    case S_PEM:
        return cf_import_pem(b->cert, strlen(b->cert), b->key, strlen(b->key), b->password, check,
                             out, why);
    case S_PUBLIC: return cf_import_public(b->cert, strlen(b->cert), check, out, why);
    case S_STORE: return cf_localstore_select(b->store, b->match, b->password, check, out, why);
    default: return CF_ERR_INVALID;
    }
}

/* 1 when the certificate may serve for purpose (an absent extendedKeyUsage allows all). */
static int s_eku_ok(X509 *x, uint32_t purpose)
{
    if (!(X509_get_extension_flags(x) & EXFLAG_XKUSAGE))
        return 1;
    return (X509_get_extended_key_usage(x) & purpose) != 0;
}

/* Does the certificate fit the record? Not a CA; the purpose of the component; a server
   certificate's SANs cover the alias (DESIGN.md: a server never advertises an alias its
   certificate does not cover). */
static cf_err_t s_fit(cf_component_t comp, const char *name, const cf_cert_t *cert, cf_why_t *why)
{
    X509 *x = cf_cert_x509(cert);
    unsigned char ip[16];
    if (cf_cert_is_ca(cert))
        return cf_why(why, CF_ERR_POLICY, "a CA certificate is not a %s certificate",
                      cf_component_name(comp));
    if (comp != CF_COMPONENT_SERVER) {
        if (!s_eku_ok(x, XKU_SSL_CLIENT))
            return cf_why(why, CF_ERR_POLICY, "extendedKeyUsage lacks clientAuth");
        return CF_OK;
    }
    if (!s_eku_ok(x, XKU_SSL_SERVER))
        return cf_why(why, CF_ERR_POLICY, "extendedKeyUsage lacks serverAuth");
    int is_ip = inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
    int covered = is_ip ? X509_check_ip_asc(x, name, 0) == 1
                        : X509_check_host(x, name, 0,
                                          X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
                                              X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
                                          NULL) == 1;
    if (!covered)
        return cf_why(why, CF_ERR_POLICY, "its subjectAltNames do not cover the alias %s", name);
    return CF_OK;
}

/* The bundle's issuers as one PEM text (*out NULL when there are none; cf_mem_free). */
static cf_err_t s_chain_pem(const cf_bundle_t *bundle, char **out)
{
    char *all = NULL;
    size_t used = 0;
    *out = NULL;
    for (size_t i = 0; i < cf_bundle_chain_len(bundle); i++) {
        char *pem = NULL;
        size_t len = 0;
        cf_err_t rc = cf_cert_to_pem(cf_bundle_chain(bundle, i), &pem, &len);
        char *grown = rc == CF_OK ? cf_mem_realloc(all, used + len + 1) : NULL;
        if (grown) {
            memcpy(grown + used, pem, len + 1);
            used += len;
            all = grown;
        }
        cf_mem_free(pem);
        if (!grown) {
            cf_mem_free(all);
            return rc == CF_OK ? CF_ERR_NOMEM : rc;
        }
    }
    *out = all;
    return CF_OK;
}

/* Refusals of the certificate itself, after the file read: chain, revocation, fit. */
static cf_err_t s_vet(cf_store_t *store, const cf_bundle_t *bundle, const cf_cert_t *ca,
                      cf_component_t comp, const char *name, time_t now, int *revoked,
                      cf_why_t *why)
{
    const cf_cert_t *cert = cf_bundle_cert(bundle);
    if (cf_api_certs_ours(cert, ca)) {
        /* it names our CA as its issuer, so it must really be ours; a certificate from
           another CA is taken with its own chain, unchecked against ours */
        cf_import_check_t check = {ca, now};
        CF_TRY(cf_bundle_check(bundle, &check, why));
    }
    CF_TRY(s_fit(comp, name, cert, why));
    if (comp == CF_COMPONENT_SERVER && !cf_bundle_key(bundle))
        return cf_why(why, CF_ERR_NOKEY,
                      "a server serves TLS with its certificate's key: "
                      "import a server certificate with its key");
    cf_err_t rc = cf_db_revoked(store, cf_cert_serial(cert), revoked);
    if (rc != CF_OK)
        return cf_why(why, rc, "%s", cf_why_text(cf_store_why(store), rc));
    if (*revoked)
        return cf_why(why, CF_ERR_REVOKED, "serial %s is in the revoked set", cf_cert_serial(cert));
    return CF_OK;
}

/* Store the bundle as record comp/name; *out gets its cert object. */
static cf_err_t s_store(cf_app_t *app, cf_store_t *store, const cf_bundle_t *bundle,
                        cf_component_t comp, const char *name, time_t now, json_t **out,
                        cf_why_t *why)
{
    char *chain = NULL;
    int renew_days = 0;
    cf_db_cert_kind_t kind = cf_bundle_key(bundle) ? CF_DB_CERT_IMPORTED : CF_DB_CERT_PUBLIC;
    cf_err_t rc = s_chain_pem(bundle, &chain);
    if (rc == CF_OK)
        rc = cf_api_certs_renew_days(store, &renew_days);
    if (rc == CF_OK) {
        cf_db_cert_in_t in = {
            comp, name, kind, cf_bundle_cert(bundle), chain, cf_bundle_key(bundle), (int64_t) now};
        rc = cf_db_cert_put(store, cf_app_seal(app), &in, NULL);
    }
    if (rc != CF_OK && rc != CF_ERR_NOMEM)
        cf_why(why, rc, "%s", cf_why_text(cf_store_why(store), rc));
    cf_mem_free(chain);
    if (rc != CF_OK)
        return rc;
    cf_api_cert_meta_t m = {comp,
                            name,
                            cf_db_cert_kind_name(kind),
                            kind != CF_DB_CERT_PUBLIC,
                            0,
                            0,
                            renew_days,
                            (long long) now,
                            0,
                            now};
    *out = cf_api_cert_json(cf_bundle_cert(bundle), &m);
    return *out ? CF_OK : CF_ERR_NOMEM;
}

/* Read, vet and store: *refusal = 1 when a failure is the certificate's (422). */
static cf_err_t s_import(cf_app_t *app, cf_store_t *store, const s_body_t *b, cf_component_t comp,
                         const char *name, json_t **out, int *refusal, cf_why_t *why)
{
    cf_cert_t *ca = NULL;
    cf_bundle_t *bundle = NULL;
    time_t now = time(NULL);
    int revoked = 0;
    cf_err_t rc = cf_db_ca_get(store, NULL, &ca, NULL);
    if (rc != CF_OK) {
        cf_why(why, rc, "CA: %s", cf_why_text(cf_store_why(store), rc));
        goto out;
    }
    cf_import_check_t check = {NULL, now};
    rc = s_load(b, &check, &bundle, why);
    /* everything s_load says is about the upload or the store directory (IO: cannot open it) */
    *refusal = rc != CF_OK && rc != CF_ERR_NOMEM && rc != CF_ERR_CRYPTO;
    if (rc == CF_OK) {
        rc = s_vet(store, bundle, ca, comp, name, now, &revoked, why);
        *refusal = rc != CF_OK && rc != CF_ERR_NOMEM && rc != CF_ERR_IO;
    }
    if (rc == CF_OK)
        rc = s_store(app, store, bundle, comp, name, now, out, why);
    if (rc == CF_OK)
        cf_log(CF_LOG_INFO, "cert imported component=%s name=%s kind=%s serial=%s fp=%s",
               cf_component_name(comp), name, cf_bundle_key(bundle) ? "imported" : "public",
               cf_cert_serial(cf_bundle_cert(bundle)), cf_cert_fingerprint(cf_bundle_cert(bundle)));
out:
    cf_bundle_destroy(&bundle);
    cf_cert_destroy(&ca);
    return rc;
}

void cf_api_certs_import(cf_req_t *req, void *arg)
{
    cf_app_t *app = arg;
    cf_why_t why = {{0}};
    cf_component_t comp = CF_COMPONENT_UNKNOWN;
    const char *name = NULL;
    s_body_t b;
    json_t *body = cf_req_json(req), *answer = NULL;
    int refusal = 0;
    char target[CF_DB_NAME_MAX + 32] = "-";
    cf_err_t rc = cf_api_certs_target(req, &comp, &name, &why);
    if (rc == CF_OK)
        rc = s_body(body, &b, &why);
    if (rc == CF_OK)
        snprintf(target, sizeof(target), "%s/%s %s", cf_component_name(comp), name,
                 s_form_names[b.form]);
    cf_store_t *store = cf_app_store_take(app);
    if (rc == CF_OK)
        rc = s_import(app, store, &b, comp, name, &answer, &refusal, &why);
    cf_app_audit(app, store, req, "cert.import", target, rc);
    cf_app_store_give(app, store);
    cf_api_certs_wipe_field(body, "password");
    cf_api_certs_wipe_field(body, "key");
    if (rc == CF_OK)
        cf_req_reply_json(req, 200, answer);
    else if (refusal)
        cf_api_certs_refuse(req, rc, &why, "import");
    else
        cf_app_reply_err(req, rc, &why, "import");
}
