/*  cf_link_build - one agent's signed copy of a job  */
#include "cf_link_build.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cf_db_cert.h"
#include "cf_db_meta.h"
#include "cf_import.h"
#include "cf_mem.h"

/* The params object (NULL = {}); *out the caller's (json_decref). */
static cf_err_t s_params_json(const char *params, json_t **out, cf_why_t *why)
{
    if (!params || !*params)
        params = "{}";
    size_t len = strlen(params);
    if (len > CF_LINK_PARAMS_MAX)
        return cf_why(why, CF_ERR_TOOBIG, "job params over %d bytes", CF_LINK_PARAMS_MAX);
    *out = json_loadb(params, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return cf_why(why, CF_ERR_INVALID, "job params are not a JSON object");
    }
    return CF_OK;
}

/* A string member (absent: dflt) copied into buf of size cap. */
static cf_err_t s_member(const json_t *o, const char *name, const char *dflt, char *buf, size_t cap,
                         cf_why_t *why)
{
    const json_t *v = json_object_get(o, name);
    const char *text = v ? json_string_value(v) : dflt;
    if (!text || strlen(text) >= cap)
        return cf_why(why, CF_ERR_INVALID, "job params: %s must be a string of at most %zu bytes",
                      name, cap - 1);
    snprintf(buf, cap, "%s", text);
    return CF_OK;
}

cf_err_t cf_link_params_parse(const cf_link_job_t *job, cf_link_params_t *out, cf_why_t *why)
{
    if (!job || !out || !job->type)
        return CF_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    if (cf_job_type_from_name(job->type, &out->type) != CF_OK)
        return cf_why(why, CF_ERR_INVALID, "unknown job type");
    json_t *p = NULL;
    CF_TRY(s_params_json(job->params, &p, why));
    cf_err_t rc = CF_OK;
    char form[8] = "";
    if (out->type == CF_JOB_TYPE_INSTALL_CERT) {
        rc = s_member(p, "cert", CF_LINK_CERT_SHARED, out->cert, sizeof(out->cert), why);
        if (rc == CF_OK)
            rc = s_member(p, "form", "pem", form, sizeof(form), why);
        if (rc == CF_OK && cf_db_check_cert_name(out->cert) != CF_OK)
            rc = cf_why(why, CF_ERR_INVALID, "job params: cert is not a certificate name");
        out->form = strcmp(form, "p12") == 0 ? CF_JOB_FORM_P12 : CF_JOB_FORM_PEM;
        if (rc == CF_OK && strcmp(form, "pem") != 0 && strcmp(form, "p12") != 0)
            rc = cf_why(why, CF_ERR_INVALID, "job params: form must be pem or p12");
    } else if (out->type == CF_JOB_TYPE_SET_FAVORITE) {
        rc = s_member(p, "favorite", NULL, out->favorite, sizeof(out->favorite), why);
    }
    json_decref(p);
    return rc;
}

cf_err_t cf_link_signer_load(cf_store_t *store, const cf_seal_t *seal, const char *alias,
                             cf_link_signer_t *out, cf_why_t *why)
{
    if (!out)
        return CF_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    if (!store || !seal || !alias || !*alias || strlen(alias) > CF_JOB_ALIAS_MAX)
        return cf_why(why, CF_ERR_INVALID, "a server alias of 1..%d bytes signs jobs",
                      CF_JOB_ALIAS_MAX);
    snprintf(out->alias, sizeof(out->alias), "%s", alias);
    cf_db_cert_t rec = {0};
    cf_err_t rc = cf_db_cert_get(store, seal, CF_COMPONENT_SERVER, alias, &rec, &out->key);
    if (rc != CF_OK)
        cf_why(why, rc, "this server's certificate: %s", cf_why_text(cf_store_why(store), rc));
    else if (!out->key)
        rc = cf_why(why, CF_ERR_NOKEY, "this server's certificate has no key: it cannot sign");
    else
        rc = cf_cert_parse(rec.cert_pem, strlen(rec.cert_pem), &out->cert);
    cf_db_cert_clear(&rec);
    if (rc != CF_OK)
        cf_link_signer_clear(out);
    return rc;
}

void cf_link_signer_clear(cf_link_signer_t *s)
{
    if (!s)
        return;
    cf_cert_destroy(&s->cert);
    cf_key_destroy(&s->key);
    memset(s, 0, sizeof(*s));
}

/* The record name as a bundle with its key. */
static cf_err_t s_bundle(cf_store_t *store, const cf_seal_t *seal, const char *name,
                         cf_bundle_t **out, char fp[CF_DB_FP_LEN + 1], cf_why_t *why)
{
    cf_db_cert_t rec = {0};
    cf_key_t *key = NULL;
    cf_cert_t *cert = NULL, *chain[CF_CERT_MAX_CHAIN] = {NULL};
    size_t n = 0;
    cf_err_t rc = cf_db_cert_get(store, seal, CF_COMPONENT_AGENT, name, &rec, &key);
    if (rc != CF_OK)
        cf_why(why, rc, "agent certificate %s: %s", name, cf_why_text(cf_store_why(store), rc));
    else if (!key)
        rc = cf_why(why, CF_ERR_NOKEY, "agent certificate %s has no key to install", name);
    if (rc == CF_OK)
        rc = cf_cert_parse(rec.cert_pem, strlen(rec.cert_pem), &cert);
    if (rc == CF_OK && rec.chain_pem && rec.chain_pem[0])
        rc = cf_cert_parse_all(rec.chain_pem, strlen(rec.chain_pem), chain, CF_CERT_MAX_CHAIN, &n);
    if (rc == CF_OK)
        snprintf(fp, CF_DB_FP_LEN + 1, "%s", rec.fingerprint);
    if (rc == CF_OK)
        rc = cf_bundle_new(
            &cert, &key,
            rec.kind == CF_DB_CERT_GENERATED ? CF_BUNDLE_GENERATED : CF_BUNDLE_IMPORTED, out, why);
    for (size_t i = 0; i < n; i++) {
        if (rc == CF_OK)
            rc = cf_bundle_add_chain(*out, &chain[i]);
        cf_cert_destroy(&chain[i]);
    }
    if (rc != CF_OK)
        cf_bundle_destroy(out);
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
    cf_db_cert_clear(&rec);
    return rc;
}

/* The material of form from bundle and ca. */
static cf_err_t s_material(cf_store_t *store, const cf_seal_t *seal, const cf_bundle_t *b,
                           const cf_cert_t *ca, cf_link_install_t *out, cf_why_t *why)
{
    if (out->form == CF_JOB_FORM_PEM) {
        CF_TRY(cf_bundle_chain_pem(b, ca, &out->chain_pem, &out->chain_len));
        return cf_bundle_key_pem(b, NULL, &out->key_pem, &out->key_len);
    }
    size_t plen = 0;
    cf_err_t rc = cf_db_p12pass_get(store, seal, &out->pass, &plen);
    if (rc != CF_OK)
        return cf_why(why, rc, "the deployment's PKCS#12 password: %s",
                      cf_why_text(cf_store_why(store), rc));
    return cf_bundle_to_p12(b, out->pass, ca, &out->p12, &out->p12_len);
}

cf_err_t cf_link_install_load(cf_store_t *store, const cf_seal_t *seal, const char *name,
                              cf_job_form_t form, cf_link_install_t *out, cf_why_t *why)
{
    if (!out)
        return CF_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    if (!store || !seal || !name || (form != CF_JOB_FORM_PEM && form != CF_JOB_FORM_P12))
        return CF_ERR_INVALID;
    out->form = form;
    cf_bundle_t *b = NULL;
    cf_cert_t *ca = NULL;
    cf_err_t rc = s_bundle(store, seal, name, &b, out->fingerprint, why);
    if (rc == CF_OK && (rc = cf_db_ca_get(store, NULL, &ca, NULL)) != CF_OK)
        cf_why(why, rc, "the CA: %s", cf_why_text(cf_store_why(store), rc));
    /* the CA completes the chain only of certificates it issued */
    const cf_cert_t *ours = NULL;
    if (rc == CF_OK && X509_NAME_cmp(X509_get_issuer_name(cf_cert_x509(cf_bundle_cert(b))),
                                     X509_get_subject_name(cf_cert_x509(ca))) == 0)
        ours = ca;
    if (rc == CF_OK)
        rc = s_material(store, seal, b, ours, out, why);
    cf_bundle_destroy(&b);
    cf_cert_destroy(&ca);
    if (rc != CF_OK)
        cf_link_install_clear(out);
    return rc;
}

void cf_link_install_clear(cf_link_install_t *in)
{
    if (!in)
        return;
    cf_mem_free(in->chain_pem);
    cf_mem_free_secret(in->key_pem, in->key_len);
    cf_mem_free_secret(in->p12, in->p12_len);
    cf_mem_free_secret_str(in->pass);
    memset(in, 0, sizeof(*in));
}

/* What a copy carries besides the common fields, by type. */
typedef struct {
    const cf_link_params_t *params;   /* install_cert, set_favorite; NULL for reissue */
    const cf_link_install_t *install; /* install_cert: the material */
    const unsigned char *pub;         /* install_cert: the agent's CURVE public key */
    const unsigned char *der;         /* reissue: the agent's new certificate */
    size_t der_len;                   /* its length */
} s_fill_t;

/* The payload of the type. */
static cf_err_t s_payload(cf_job_t *j, cf_job_type_t type, const s_fill_t *f, cf_why_t *why)
{
    switch (type) {
    case CF_JOB_TYPE_SET_FAVORITE: return cf_job_set_favorite(j, f->params->favorite);
    case CF_JOB_TYPE_INSTALL_CERT:
        if (!f->install || !f->pub || f->install->form != f->params->form)
            return cf_why(why, CF_ERR_INVALID,
                          "install_cert needs the certificate material "
                          "and the agent's CURVE key");
        if (f->install->form == CF_JOB_FORM_PEM)
            return cf_job_set_install_pem(j, f->install->chain_pem, f->install->chain_len,
                                          f->install->key_pem, f->install->key_len, f->pub);
        return cf_job_set_install_p12(j, f->install->p12, f->install->p12_len, f->install->pass,
                                      f->pub);
    case CF_JOB_TYPE_REISSUE: return cf_job_set_reissue(j, f->der, f->der_len);
    default: return CF_OK; /* renew_csr, recheck: {} */
    }
}

/* Agent's copy of job of type with its payload, signed by signer, in wire form. */
static cf_err_t s_build(const cf_link_job_t *job, cf_job_type_t type, const char *agent,
                        const s_fill_t *fill, const cf_link_signer_t *signer, char **wire_out,
                        size_t *len_out, cf_why_t *why)
{
    *wire_out = NULL;
    *len_out = 0;
    cf_job_spec_t spec = {type,
                          job->id,
                          agent,
                          signer->alias,
                          (time_t) job->created,
                          (time_t) job->expires,
                          job->min_proto ? job->min_proto : 1};
    cf_job_t *j = NULL;
    CF_TRY(cf_job_new(&spec, &j, why));
    cf_err_t rc = s_payload(j, type, fill, why);
    if (rc == CF_OK)
        rc = cf_job_sign(j, signer->cert, signer->key, why);
    if (rc == CF_OK)
        rc = cf_job_to_wire(j, wire_out, len_out);
    cf_job_destroy(&j);
    return rc;
}

cf_err_t cf_link_build(const cf_link_job_t *job, const cf_link_params_t *params, const char *agent,
                       const cf_link_install_t *install, const unsigned char *agent_pub,
                       const cf_link_signer_t *signer, char **wire_out, size_t *len_out,
                       cf_why_t *why)
{
    if (!job || !params || !agent || !signer || !signer->cert || !wire_out || !len_out)
        return CF_ERR_INVALID;
    s_fill_t fill = {params, install, agent_pub, NULL, 0};
    return s_build(job, params->type, agent, &fill, signer, wire_out, len_out, why);
}

cf_err_t cf_link_build_reissue(const cf_link_job_t *job, const char *agent,
                               const unsigned char *der, size_t len, const cf_link_signer_t *signer,
                               char **wire_out, size_t *len_out, cf_why_t *why)
{
    if (!job || !agent || !der || !signer || !signer->cert || !wire_out || !len_out)
        return CF_ERR_INVALID;
    s_fill_t fill = {NULL, NULL, NULL, der, len};
    return s_build(job, CF_JOB_TYPE_REISSUE, agent, &fill, signer, wire_out, len_out, why);
}

void cf_link_attention_id(const char *agent, const char *fingerprint, char out[CF_JOB_ID_HEX + 1])
{
    static const char ctx[] = "certfleet-attention";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(c, ctx, sizeof(ctx)) == 1 &&
             EVP_DigestUpdate(c, agent, strlen(agent) + 1) == 1 &&
             EVP_DigestUpdate(c, fingerprint, strlen(fingerprint)) == 1 &&
             EVP_DigestFinal_ex(c, md, &n) == 1 && n >= CF_JOB_ID_HEX / 2;
    EVP_MD_CTX_free(c);
    if (!ok)
        memset(md, 0x5a, sizeof(md)); /* never expected; still a valid, stable id */
    md[0] |= 1;                       /* never all zero */
    for (size_t i = 0; i < CF_JOB_ID_HEX / 2; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}
