/*  cf_job_reissue - the reissue job's payload: the new certificate in, and its checks at the
    agent (its own key, its CA, its name)  */
#include <string.h>

#include <openssl/crypto.h>

#include "cf_job.h"
#include "cf_job_int.h"
#include "cf_mem.h"

cf_err_t cf_job_set_reissue(cf_job_t *job, const unsigned char *der, size_t len)
{
    if (!job || job->type != CF_JOB_TYPE_REISSUE || !der || !len)
        return CF_ERR_INVALID;
    if (len > CF_JOB_MAX_CERT)
        return CF_ERR_TOOBIG;
    char *b64 = cf_job_b64(der, len);
    if (!b64)
        return CF_ERR_NOMEM;
    cf_job_unsign(job);
    cf_mem_free(job->cert);
    job->cert = b64;
    return CF_OK;
}

cf_err_t cf_job_reissue_der(const cf_job_t *job, unsigned char **der_out, size_t *len_out)
{
    if (!job || !der_out || !len_out)
        return CF_ERR_INVALID;
    *der_out = NULL;
    *len_out = 0;
    if (job->type != CF_JOB_TYPE_REISSUE || !job->cert)
        return CF_ERR_STATE;
    return cf_job_unb64(job->cert, CF_JOB_MAX_CERT, der_out, len_out);
}

cf_err_t cf_job_reissue_names(const cf_cert_t *cert, const char *agent, cf_why_t *why)
{
    const char *uri_id = cf_cert_agent_id(cert);
    if (strcmp(cf_cert_common_name(cert), agent) != 0 || !uri_id || strcmp(uri_id, agent) != 0)
        return cf_why(why, CF_ERR_POLICY, "the reissued certificate is not for agent %s (CN %.64s)",
                      agent, cf_cert_common_name(cert));
    return CF_OK;
}

/* The certificate a reissue job carries: parsed, chained to ca at now, naming the agent. */
static cf_err_t s_checked(const cf_job_t *job, const cf_cert_t *ca, time_t now,
                          cf_cert_t **cert_out, cf_why_t *why)
{
    *cert_out = NULL;
    if (job->type != CF_JOB_TYPE_REISSUE || !job->cert)
        return CF_ERR_STATE;
    unsigned char *der = NULL;
    size_t len = 0;
    cf_cert_t *cert = NULL;
    cf_err_t rc = cf_job_unb64(job->cert, CF_JOB_MAX_CERT, &der, &len);
    if (rc == CF_OK)
        rc = cf_cert_parse(der, len, &cert);
    cf_mem_free(der);
    if (rc == CF_ERR_NOMEM)
        return rc;
    if (rc != CF_OK)
        return cf_why(why, CF_ERR_CORRUPT, "the reissued certificate does not parse");
    rc = cf_cert_verify(cert, ca, NULL, 0, now, why);
    if (rc == CF_OK)
        rc = cf_job_reissue_names(cert, job->agent, why);
    if (rc != CF_OK)
        cf_cert_destroy(&cert);
    *cert_out = cert;
    return rc;
}

/* The refusal when the reissued certificate is not for the key held here. */
static cf_err_t s_mismatch(cf_cert_t **cert, cf_why_t *why)
{
    cf_err_t rc = cf_why(why, CF_ERR_KEYMISMATCH,
                         "the reissued certificate %.16s... is not for the key this agent holds",
                         cf_cert_fingerprint(*cert));
    cf_cert_destroy(cert);
    return rc;
}

cf_err_t cf_job_reissue_cert(const cf_job_t *job, const cf_cert_t *ca, const cf_key_t *key,
                             time_t now, cf_cert_t **cert_out, cf_why_t *why)
{
    if (!job || !ca || !key || !cert_out)
        return CF_ERR_INVALID;
    *cert_out = NULL;
    cf_cert_t *cert = NULL;
    CF_TRY(s_checked(job, ca, now, &cert, why));
    if (cf_cert_matches_key(cert, key) != CF_OK)
        return s_mismatch(&cert, why);
    *cert_out = cert;
    return CF_OK;
}

cf_err_t cf_job_reissue_cert_id(const cf_job_t *job, const cf_cert_t *ca,
                                const unsigned char held_id[CF_CERT_KEY_ID_LEN], time_t now,
                                cf_cert_t **cert_out, cf_why_t *why)
{
    if (!job || !ca || !held_id || !cert_out)
        return CF_ERR_INVALID;
    *cert_out = NULL;
    cf_cert_t *cert = NULL;
    CF_TRY(s_checked(job, ca, now, &cert, why));
    unsigned char id[CF_CERT_KEY_ID_LEN];
    cf_err_t rc = cf_cert_key_id(cert, id);
    if (rc != CF_OK) {
        cf_cert_destroy(&cert);
        return rc;
    }
    if (CRYPTO_memcmp(id, held_id, sizeof(id)) != 0)
        return s_mismatch(&cert, why);
    *cert_out = cert;
    return CF_OK;
}
