/*  cf_api_certs_export - POST /certs/:component/:name/export: PKCS#12 (password) or PEM  */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "cf_api_certs_int.h"
#include "cf_db_cert.h"
#include "cf_db_meta.h"
#include "cf_import.h"
#include "cf_log.h"
#include "cf_mem.h"
#include "cf_p12.h"

/* The record as a bundle: certificate, chain, and its key when want_key (p12). */
static cf_err_t s_bundle(const cf_db_cert_t *rec, cf_key_t **key_p, cf_bundle_t **out,
                         cf_why_t *why)
{
    cf_cert_t *cert = NULL, *chain[CF_CERT_MAX_CHAIN] = {NULL};
    size_t n = 0;
    cf_bundle_kind_t kind = CF_BUNDLE_PUBLIC;
    if (*key_p)
        kind = rec->kind == CF_DB_CERT_GENERATED ? CF_BUNDLE_GENERATED : CF_BUNDLE_IMPORTED;
    cf_err_t rc = cf_cert_parse(rec->cert_pem, strlen(rec->cert_pem), &cert);
    if (rc == CF_OK && rec->chain_pem && rec->chain_pem[0])
        rc =
            cf_cert_parse_all(rec->chain_pem, strlen(rec->chain_pem), chain, CF_CERT_MAX_CHAIN, &n);
    if (rc != CF_OK) {
        cf_cert_destroy(&cert);
        cf_key_destroy(key_p);
        return cf_why(why, rc, "record %s/%s does not parse", cf_component_name(rec->component),
                      rec->name);
    }
    rc = cf_bundle_new(&cert, key_p, kind, out, why);
    for (size_t i = 0; i < n; i++) {
        if (rc == CF_OK)
            rc = cf_bundle_add_chain(*out, &chain[i]);
        cf_cert_destroy(&chain[i]);
    }
    if (rc != CF_OK)
        cf_bundle_destroy(out);
    return rc;
}

/* Base64 of buf without line breaks (*out: cf_mem_free). */
static cf_err_t s_base64(const unsigned char *buf, size_t len, char **out)
{
    if (len > (size_t) 0x3fffffff)
        return CF_ERR_TOOBIG;
    char *text = cf_mem_malloc((len + 2) / 3 * 4 + 1);
    if (!text)
        return CF_ERR_NOMEM;
    EVP_EncodeBlock((unsigned char *) text, buf, (int) len);
    *out = text;
    return CF_OK;
}

/* {"data": base64 of a PKCS#12 under password}. */
static cf_err_t s_p12(const cf_bundle_t *bundle, const char *password, const cf_cert_t *ca,
                      json_t **out)
{
    unsigned char *der = NULL;
    size_t len = 0;
    char *text = NULL;
    cf_err_t rc = cf_bundle_to_p12(bundle, password, ca, &der, &len);
    if (rc == CF_OK)
        rc = s_base64(der, len, &text);
    if (rc == CF_OK) {
        *out = json_pack("{s:s}", "data", text);
        rc = *out ? CF_OK : CF_ERR_NOMEM;
    }
    cf_mem_free(text);
    cf_mem_free(der);
    return rc;
}

/* {"cert": leaf PEM, "chain": issuers PEM (ca last)}; never the key. */
static cf_err_t s_pem(const cf_bundle_t *bundle, const cf_cert_t *ca, json_t **out)
{
    char *leaf = NULL, *all = NULL;
    size_t leaf_len = 0, all_len = 0;
    cf_err_t rc = cf_cert_to_pem(cf_bundle_cert(bundle), &leaf, &leaf_len);
    if (rc == CF_OK)
        rc = cf_bundle_chain_pem(bundle, ca, &all, &all_len);
    if (rc == CF_OK && (all_len < leaf_len || memcmp(all, leaf, leaf_len) != 0))
        rc = CF_ERR_CRYPTO; /* cf_bundle_chain_pem starts with the leaf as cf_cert_to_pem writes */
    if (rc == CF_OK) {
        *out = json_pack("{s:s,s:s}", "cert", leaf, "chain", all + leaf_len);
        rc = *out ? CF_OK : CF_ERR_NOMEM;
    }
    cf_mem_free(leaf);
    cf_mem_free(all);
    return rc;
}

/* Read the record (with its key for p12) and the CA, then encode. */
static cf_err_t s_export(cf_app_t *app, cf_store_t *store, cf_component_t comp, const char *name,
                         const char *password, json_t **out, cf_why_t *why)
{
    cf_db_cert_t rec = {0};
    cf_key_t *key = NULL;
    cf_cert_t *ca = NULL;
    cf_bundle_t *bundle = NULL;
    cf_err_t rc = cf_db_cert_get(store, cf_app_seal(app), comp, name, &rec, password ? &key : NULL);
    if (rc == CF_OK)
        rc = cf_db_ca_get(store, NULL, &ca, NULL);
    if (rc == CF_ERR_NOTFOUND && !rec.cert_pem)
        cf_why(why, rc, "no certificate %s/%s", cf_component_name(comp), name);
    else if (rc != CF_OK)
        cf_why(why, rc, "%s", cf_why_text(cf_store_why(store), rc));
    if (rc == CF_OK)
        rc = s_bundle(&rec, &key, &bundle, why);
    /* our CA completes the chain of certificates it issued, not of imported foreign ones */
    const cf_cert_t *ours =
        rc == CF_OK && cf_api_certs_ours(cf_bundle_cert(bundle), ca) ? ca : NULL;
    if (rc == CF_OK)
        rc = password ? s_p12(bundle, password, ours, out) : s_pem(bundle, ours, out);
    if (rc == CF_OK)
        cf_log(CF_LOG_INFO, "cert exported component=%s name=%s format=%s key=%s serial=%s",
               cf_component_name(comp), name, password ? "p12" : "pem",
               password && cf_bundle_key(bundle) ? "yes" : "no", rec.serial);
    cf_bundle_destroy(&bundle);
    cf_key_destroy(&key);
    cf_cert_destroy(&ca);
    cf_db_cert_clear(&rec);
    return rc;
}

/* format and password of the body: *password NULL for PEM. */
static cf_err_t s_body(const json_t *body, const char **password, cf_why_t *why)
{
    static const char *const allowed[] = {"format", "password", NULL};
    const char *format = NULL;
    *password = NULL;
    if (!body)
        return cf_why(why, CF_ERR_INVALID, "a JSON body is required");
    CF_TRY(cf_api_certs_only(body, allowed, why));
    CF_TRY(cf_api_certs_field(body, "format", 16, CF_API_F_REQUIRED, &format, why));
    if (strcmp(format, "pem") == 0) {
        if (json_object_get(body, "password"))
            return cf_why(why, CF_ERR_INVALID, "a PEM export carries no key: no password");
        return CF_OK;
    }
    if (strcmp(format, "p12") != 0)
        return cf_why(why, CF_ERR_INVALID, "format must be p12 or pem");
    /* never a built-in default: the caller names the password that protects the key */
    return cf_api_certs_field(body, "password", CF_API_CERTS_PASS_MAX, CF_API_F_REQUIRED, password,
                              why);
}

void cf_api_certs_export(cf_req_t *req, void *arg)
{
    cf_app_t *app = arg;
    cf_why_t why = {{0}};
    cf_component_t comp = CF_COMPONENT_UNKNOWN;
    const char *name = NULL, *password = NULL;
    json_t *body = cf_req_json(req), *answer = NULL;
    char target[CF_DB_NAME_MAX + 32] = "-";
    cf_err_t rc = cf_api_certs_target(req, &comp, &name, &why);
    if (rc == CF_OK)
        rc = s_body(body, &password, &why);
    if (rc == CF_OK)
        snprintf(target, sizeof(target), "%s/%s %s", cf_component_name(comp), name,
                 password ? "p12" : "pem");
    cf_store_t *store = cf_app_store_take(app);
    if (rc == CF_OK)
        rc = s_export(app, store, comp, name, password, &answer, &why);
    cf_app_audit(app, store, req, "cert.export", target, rc);
    cf_app_store_give(app, store);
    cf_api_certs_wipe_field(body, "password");
    if (rc == CF_OK)
        cf_req_reply_json(req, 200, answer);
    else
        cf_api_certs_fail(req, rc, &why, "export");
}
