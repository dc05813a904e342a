/*  cf_sim_reissue - a reissue job's certificate checked at a simulated agent without
    decoding its public key (the key is the agent's own, known by its key id)  */
#ifndef CF_SIM_REISSUE_H_INCLUDED
#define CF_SIM_REISSUE_H_INCLUDED

#include <time.h>

#include "cf_cert.h"
#include "cf_err.h"
#include "cf_job.h"

/* The same checks as cf_job_reissue_cert_id, at a fraction of its cost: OpenSSL 3.0 sets
   its decoders up anew for every key it decodes, and a parsed certificate's key is one,
   though the agent only needs to know the key is the one it holds (same SubjectPublicKeyInfo
   as its certificate in use). The certificate is read by a cf_cert_reader (no key decoded)
   and chained to the CA by X509_verify_cert (chain, extensions, names, trust) with its
   signature step done here: the CA's signature over the tbsCertificate bytes as received,
   checked with the CA's key, and both certificates' validity at the time asked. One per
   thread (the reader's rule). */
typedef struct cf_sim_reissue cf_sim_reissue_t;

/* A checker for certificates from ca (borrowed: it must outlive the checker).
   CF_ERR_INVALID, CF_ERR_NOMEM, CF_ERR_CRYPTO. *out is the caller's. */
CF_MUST_USE cf_err_t cf_sim_reissue_new(const cf_cert_t *ca, cf_sim_reissue_t **out);
void cf_sim_reissue_destroy(cf_sim_reissue_t **self_p); /* NULLs *self_p; safe to repeat */

/* The certificate job (a reissue job, verified) carries, checked for the agent that holds the
   key of key id held_id: it parses (CF_ERR_CORRUPT), chains to the CA at now
   (CF_ERR_UNTRUSTED, CF_ERR_EXPIRED, CF_ERR_NOTYETVALID), names the job's agent as CN and
   agent URI SAN (CF_ERR_POLICY) and carries the SubjectPublicKeyInfo of held_id
   (CF_ERR_KEYMISMATCH): the codes of cf_job_reissue_cert_id, each refusal saying why.
   *cert_out (the caller's) answers names, dates, serial, fingerprint, key id and PEM, but
   not key questions (cf_cert_reader_parse), and must not outlive the checker.
   CF_ERR_STATE for another job type, CF_ERR_INVALID, CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_sim_reissue_check(cf_sim_reissue_t *self, const cf_job_t *job,
                                          const unsigned char held_id[CF_CERT_KEY_ID_LEN],
                                          time_t now, cf_cert_t **cert_out, cf_why_t *why);

#endif
