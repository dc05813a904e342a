/*  cf_fleet_install - a simulated agent's install_cert job: the sealed key (or PKCS#12)
    opened with the agent's own CURVE secret key and checked against the leaf  */
#include "cf_fleet_int.h"

#include <stdio.h>

#include "cf_mem.h"

/* install_cert: open the sealed key (or PKCS#12) with the agent's own CURVE secret key and
   check that it belongs to the leaf; the leaf becomes the certificate in use. */
static cf_err_t s_open_pem(const cf_fleet_agent_t *ag, const cf_job_t *job, cf_cert_t **leaf,
                           cf_key_t **key, cf_why_t *why)
{
    char *pem = NULL, *kpem = NULL;
    size_t len = 0, klen = 0, n = 0;
    cf_cert_t *certs[CF_CERT_MAX_CHAIN] = {NULL};
    cf_err_t rc = cf_job_chain_pem(job, &pem, &len);
    if (rc == CF_OK)
        rc = cf_cert_parse_all(pem, len, certs, CF_CERT_MAX_CHAIN, &n);
    if (rc != CF_OK) {
        rc = cf_why(why, rc, "the certificate chain does not parse: %s", cf_err_str(rc));
        goto out;
    }
    rc = cf_job_open_key(job, ag->kp.pub, ag->kp.sec, &kpem, &klen);
    if (rc == CF_OK)
        rc = cf_key_from_pem(kpem, klen, NULL, key);
    if (rc != CF_OK)
        rc = cf_why(why, rc, "the sealed private key does not open here: %s", cf_err_str(rc));
    *leaf = certs[0];
    certs[0] = NULL;
out:
    for (size_t i = 0; i < CF_CERT_MAX_CHAIN; i++)
        cf_cert_destroy(&certs[i]);
    cf_mem_free(pem);
    cf_mem_free_secret(kpem, klen);
    return rc;
}

cf_err_t cf_fleet_install(cf_fleet_agent_t *ag, const cf_job_t *job, cf_why_t *why)
{
    cf_cert_t *leaf = NULL;
    cf_key_t *key = NULL;
    cf_err_t rc = cf_job_form(job) == CF_JOB_FORM_P12
                      ? cf_job_open_p12_pair(job, ag->kp.pub, ag->kp.sec, &leaf, &key, why)
                      : s_open_pem(ag, job, &leaf, &key, why);
    if (rc == CF_OK && cf_cert_matches_key(leaf, key) != CF_OK)
        rc = cf_why(why, CF_ERR_KEYMISMATCH,
                    "the private key does not belong to the certificate %.16s...",
                    cf_cert_fingerprint(leaf));
    if (rc == CF_OK)
        snprintf(ag->fpr, sizeof(ag->fpr), "%s", cf_cert_fingerprint(leaf));
    cf_cert_destroy(&leaf);
    cf_key_destroy(&key);
    return rc;
}
