/*  cf_link_build_reissue - the reissue job at the sending server: a new certificate for the
    public key of the agent's current one, recorded (the old one archived), signed into the
    agent's copy  */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include "cf_db_enroll.h"
#include "cf_db_job.h"
#include "cf_db_meta.h"
#include "cf_link_build.h"
#include "cf_mem.h"

cf_err_t cf_link_reissue_load(cf_store_t *store, const cf_seal_t *seal, cf_link_reissue_t *out,
                              cf_why_t *why)
{
    if (!out)
        return CF_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    if (!store || !seal)
        return CF_ERR_INVALID;
    cf_cert_t *cert = NULL;
    cf_key_t *key = NULL;
    cf_err_t rc = cf_db_ca_get(store, seal, &cert, &key);
    if (rc != CF_OK)
        cf_why(why, rc, "the CA: %s", cf_why_text(cf_store_why(store), rc));
    else if (!key)
        rc = cf_why(why, CF_ERR_NOKEY, "the CA has no key here: it cannot reissue");
    else if ((rc = cf_ca_load(cert, key, &out->ca)) != CF_OK)
        cf_why(why, rc, "the CA does not load: %s", cf_err_str(rc));
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
    if (rc == CF_OK) {
        rc = cf_cert_reader_new(&out->reader);
        if (rc != CF_OK)
            cf_why(why, rc, "no certificate reader: %s", cf_err_str(rc));
    }
    if (rc != CF_OK)
        cf_link_reissue_clear(out);
    return rc;
}

void cf_link_reissue_clear(cf_link_reissue_t *r)
{
    if (!r)
        return;
    cf_ca_destroy(&r->ca);
    cf_cert_reader_destroy(&r->reader);
    memset(r, 0, sizeof(*r));
}

/* The recorded certificate is the agent's own from this CA: issuer, CN and agent URI. */
static cf_err_t s_own(const cf_link_reissue_t *r, const cf_cert_t *old, const char *agent,
                      cf_why_t *why)
{
    const char *uri_id = cf_cert_agent_id(old);
    if (X509_NAME_cmp(X509_get_issuer_name(cf_cert_x509(old)),
                      X509_get_subject_name(cf_cert_x509(cf_ca_cert(r->ca)))) != 0 ||
        strcmp(cf_cert_common_name(old), agent) != 0 || !uri_id || strcmp(uri_id, agent) != 0)
        return cf_why(why, CF_ERR_POLICY,
                      "the certificate recorded for %s is not its own from this CA: "
                      "nothing to reissue",
                      agent);
    return CF_OK;
}

/* A new certificate for old's public key, same names, fresh serial and validity, as DER
   (not parsed back: it is recorded and sent as it is). */
static cf_err_t s_issue(cf_link_reissue_t *r, const cf_cert_t *old, const char *agent, int64_t now,
                        unsigned char **der, size_t *len, cf_why_t *why)
{
    unsigned char *spki = NULL;
    int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cf_cert_x509(old)), &spki);
    if (n <= 0)
        return cf_why(why, CF_ERR_CRYPTO, "the public key of %s's certificate", agent);
    cf_issue_t req = {.component = CF_COMPONENT_AGENT,
                      .name = agent,
                      .spki = spki,
                      .spki_len = (size_t) n,
                      .now = (time_t) now};
    cf_err_t rc = cf_ca_issue_der(r->ca, &req, der, len, NULL);
    OPENSSL_free(spki);
    if (rc != CF_OK)
        return cf_why(why, rc, "issuing %s's certificate: %s", agent, cf_err_str(rc));
    return CF_OK;
}

cf_err_t cf_link_reissue_cert(cf_store_t *store, cf_link_reissue_t *r, const char *agent,
                              int64_t job_created, int64_t now, unsigned char **der_out,
                              size_t *len_out, cf_why_t *why)
{
    if (!store || !r || !agent || !der_out || !len_out)
        return CF_ERR_INVALID;
    *der_out = NULL;
    *len_out = 0;
    if (!r->ca)
        return CF_ERR_STATE;
    cf_cert_t *old = NULL;
    cf_err_t rc = cf_db_enroll_cert(store, agent, r->reader, &old);
    if (rc != CF_OK)
        return cf_why(why, rc, "%s", cf_why_text(cf_store_why(store), rc));
    rc = s_own(r, old, agent, why);
    int again = (int64_t) cf_cert_not_before(old) + CF_ISSUE_SKEW >= job_created;
    unsigned char *der = NULL;
    size_t len = 0;
    char fpr[65];
    if (rc == CF_OK && !again)
        rc = s_issue(r, old, agent, now, &der, &len, why);
    if (rc == CF_OK && der) {
        rc = cf_cert_der_fingerprint(der, len, fpr);
        if (rc == CF_OK)
            rc = cf_db_enroll_replace_der(store, agent, now, der, len, fpr, old);
        if (rc != CF_OK)
            cf_why(why, rc, "recording %s's certificate: %s", agent,
                   cf_why_text(cf_store_why(store), rc));
    } else if (rc == CF_OK) {
        rc = cf_cert_to_der(old, &der, &len); /* recorded for this job already: sent again */
    }
    if (rc == CF_OK) {
        *der_out = der;
        *len_out = len;
        der = NULL;
    }
    cf_mem_free(der);
    cf_cert_destroy(&old);
    return rc;
}

cf_err_t cf_link_reissue_refuse(cf_store_t *store, const char *job_id, const char *agent,
                                const char *reason)
{
    char text[CF_DB_JOB_REASON_MAX + 1];
    snprintf(text, sizeof(text), "%s", reason ? reason : "cannot be reissued");
    cf_db_job_tr_t tr = {job_id, agent, CF_JOB_EV_REPORT_FAILED, text};
    cf_db_job_res_t res;
    memset(&res, 0, sizeof(res));
    return cf_db_job_transition(store, (int64_t) time(NULL), &tr, 1, &res);
}
