/*  cf_job_install - the agent's side of an install_cert job: its sealed payload opened
    with the agent's CURVE key pair, in either form (PEM, or a PKCS#12 and its password)  */
#include "cf_job.h"

#include <string.h>

#include "cf_mem.h"
#include "cf_p12.h"

cf_err_t cf_job_open_p12_pair(const cf_job_t *job, const unsigned char pub[CF_JOB_CURVE_KEY_LEN],
                              const unsigned char secret[CF_JOB_CURVE_KEY_LEN],
                              cf_cert_t **leaf_out, cf_key_t **key_out, cf_why_t *why)
{
    if (!leaf_out || !key_out)
        return CF_ERR_INVALID;
    *leaf_out = NULL;
    *key_out = NULL;
    unsigned char *p12 = NULL;
    size_t len = 0;
    char *pass = NULL;
    cf_p12_content_t c;
    memset(&c, 0, sizeof(c));
    cf_err_t rc = cf_job_open_p12(job, pub, secret, &p12, &len, &pass);
    if (rc != CF_OK)
        return cf_why(why, rc, "the sealed PKCS#12 does not open here: %s", cf_err_str(rc));
    rc = cf_p12_parse(p12, len, pass, 0, &c, why); /* on success: a certificate at least */
    if (rc == CF_OK && !c.key)
        rc = cf_why(why, CF_ERR_NOKEY, "the PKCS#12 holds no private key");
    size_t leaf = 0;
    for (size_t i = c.n_certs; rc == CF_OK && i-- > 0;)
        if (cf_cert_matches_key(c.certs[i], c.key) == CF_OK)
            leaf = i; /* the first that belongs to the key */
    if (rc == CF_OK) {
        *leaf_out = c.certs[leaf];
        c.certs[leaf] = NULL; /* taken: the clear below skips it */
        *key_out = c.key;
        c.key = NULL;
    }
    cf_p12_content_clear(&c);
    cf_mem_free_secret(p12, len);
    cf_mem_free_secret_str(pass);
    return rc;
}

/* The PKCS#12 form as PEM: the leaf and the key. */
static cf_err_t s_p12_pems(const cf_job_t *job, const unsigned char *pub,
                           const unsigned char *secret, char **chain, size_t *clen, char **kpem,
                           size_t *klen, cf_why_t *why)
{
    cf_cert_t *leaf = NULL;
    cf_key_t *key = NULL;
    CF_TRY(cf_job_open_p12_pair(job, pub, secret, &leaf, &key, why));
    cf_err_t rc = cf_cert_to_pem(leaf, chain, clen);
    if (rc == CF_OK)
        rc = cf_key_to_pem(key, NULL, kpem, klen);
    if (rc != CF_OK) {
        cf_mem_free(*chain);
        *chain = NULL;
        rc = cf_why(why, rc, "the PKCS#12's certificate or key does not convert: %s",
                    cf_err_str(rc));
    }
    cf_cert_destroy(&leaf);
    cf_key_destroy(&key);
    return rc;
}

cf_err_t cf_job_install_pems(const cf_job_t *job, const unsigned char pub[CF_JOB_CURVE_KEY_LEN],
                             const unsigned char secret[CF_JOB_CURVE_KEY_LEN], char **chain_out,
                             size_t *chain_len, char **key_out, size_t *key_len, cf_why_t *why)
{
    if (!chain_out || !chain_len || !key_out || !key_len)
        return CF_ERR_INVALID;
    *chain_out = NULL;
    *key_out = NULL;
    if (cf_job_form(job) == CF_JOB_FORM_P12)
        return s_p12_pems(job, pub, secret, chain_out, chain_len, key_out, key_len, why);
    cf_err_t rc = cf_job_chain_pem(job, chain_out, chain_len);
    if (rc == CF_OK)
        rc = cf_job_open_key(job, pub, secret, key_out, key_len);
    if (rc != CF_OK) {
        cf_mem_free(*chain_out);
        *chain_out = NULL;
        rc = cf_why(why, rc, "the sealed private key does not open here: %s", cf_err_str(rc));
    }
    return rc;
}
