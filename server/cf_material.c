/*  cf_material - the TLS listeners' material, read from Redis  */
#include "cf_material.h"

#include <string.h>

#include "cf_db_cert.h"
#include "cf_db_crl.h"
#include "cf_db_meta.h"
#include "cf_mem.h"

static cf_err_t s_fail(cf_store_t *store, cf_err_t rc, cf_why_t *why, const char *what)
{
    return cf_why(why, rc, "%s: %s", what, cf_why_text(cf_store_why(store), rc));
}

static cf_err_t s_load_certs(cf_store_t *store, const cf_seal_t *seal, const char *alias,
                             cf_material_t *m, cf_why_t *why)
{
    cf_db_cert_t rec = {0};
    cf_cert_t *ca = NULL;
    cf_err_t rc = cf_db_cert_get(store, seal, CF_COMPONENT_SERVER, alias, &rec, &m->key);
    if (rc != CF_OK)
        return s_fail(store, rc, why, "this server's certificate");
    if (!m->key) {
        cf_db_cert_clear(&rec);
        return cf_why(why, CF_ERR_NOKEY,
                      "this server's certificate was imported without its "
                      "key: a server needs its private key");
    }
    size_t len = strlen(rec.cert_pem), chain = rec.chain_pem ? strlen(rec.chain_pem) : 0;
    m->cert_pem = cf_mem_malloc(len + chain + 1);
    if (m->cert_pem) {
        memcpy(m->cert_pem, rec.cert_pem, len);
        if (chain)
            memcpy(m->cert_pem + len, rec.chain_pem, chain);
        m->cert_pem[len + chain] = '\0';
    }
    cf_db_cert_clear(&rec);
    if (!m->cert_pem)
        return CF_ERR_NOMEM;
    rc = cf_db_ca_get(store, NULL, &ca, NULL);
    if (rc != CF_OK)
        return s_fail(store, rc, why, "the CA");
    rc = cf_cert_to_pem(ca, &m->ca_pem, NULL);
    cf_cert_destroy(&ca);
    return rc;
}

cf_err_t cf_material_load(cf_store_t *store, const cf_seal_t *seal, const char *alias,
                          cf_material_t *m, cf_why_t *why)
{
    memset(m, 0, sizeof(*m));
    cf_err_t rc = s_load_certs(store, seal, alias, m, why);
    if (rc == CF_OK && (rc = cf_serials_load(store, &m->serials)) != CF_OK)
        s_fail(store, rc, why, "the revoked serials");
    if (rc == CF_OK && m->serials.n > CF_HTTPS_MAX_REVOKED)
        rc = cf_why(why, CF_ERR_TOOBIG, "more than %d revoked serials", CF_HTTPS_MAX_REVOKED);
    if (rc == CF_OK) {
        m->revoked = cf_mem_calloc(m->serials.n ? m->serials.n : 1, sizeof(char *));
        rc = m->revoked ? CF_OK : CF_ERR_NOMEM;
        for (size_t i = 0; rc == CF_OK && i < m->serials.n; i++)
            m->revoked[i] = m->serials.serial[i];
        m->n_revoked = rc == CF_OK ? m->serials.n : 0;
    }
    if (rc == CF_OK && (rc = cf_db_ssl_get(store, &m->ssl)) != CF_OK)
        s_fail(store, rc, why, "the SSL configuration");
    if (rc != CF_OK)
        cf_material_clear(m);
    return rc;
}

void cf_material_tls(const cf_material_t *m, cf_https_tls_t *tls)
{
    memset(tls, 0, sizeof(*tls));
    tls->cert_pem = m->cert_pem;
    tls->cert_len = strlen(m->cert_pem);
    tls->key = m->key;
    tls->ca_pem = m->ca_pem;
    tls->ca_len = strlen(m->ca_pem);
    tls->revoked = m->revoked;
    tls->n_revoked = m->n_revoked;
    cf_tls_version_t v = CF_TLS_1_2;
    if (cf_tls_version_from_name(m->ssl.min_tls, &v) != CF_OK)
        v = CF_TLS_1_2; /* cf_db_ssl_get checked it; keep the safe default regardless */
    tls->min_tls = v;
}

int cf_material_require_cert(const cf_material_t *m)
{
    return m->ssl.enabled && !m->ssl.allow_plain;
}

int cf_material_allow_plain(const cf_material_t *m)
{
    return m->ssl.allow_plain || !m->ssl.enabled;
}

void cf_material_clear(cf_material_t *m)
{
    if (!m)
        return;
    cf_mem_free(m->cert_pem);
    cf_mem_free(m->ca_pem);
    cf_key_destroy(&m->key);
    cf_mem_free(m->revoked);
    cf_serials_clear(&m->serials);
    memset(m, 0, sizeof(*m));
}
