/*  cf_job_int - what the cf_job*.c files share: the job structure and field checks  */
#ifndef CF_JOB_INT_H_INCLUDED
#define CF_JOB_INT_H_INCLUDED

#include "cf_job.h"

#define CF_JOB_AGENT_MAX 63             /* agent id length (DESIGN.md) */
#define CF_JOB_MAX_SIG   1024           /* signature bytes (RSA-4096 needs 512) */
#define CF_JOB_MAX_TIME  253402300799LL /* latest time we read: 9999-12-31 */

/* Binary fields are kept as they travel, in base64, so the canonical form is built from
   exactly what was received; they are decoded when used. */
struct cf_job {
    char id[CF_JOB_ID_HEX + 1];          /* 32 lowercase hex */
    cf_job_type_t type;                  /* what to do */
    char agent[CF_JOB_AGENT_MAX + 1];    /* target agent id */
    char issuer[CF_JOB_ALIAS_MAX + 1];   /* issuing server alias */
    time_t created;                      /* Unix seconds */
    time_t expires;                      /* Unix seconds */
    unsigned min_proto;                  /* agent protocol level needed, 1..255 */
    char favorite[CF_JOB_ALIAS_MAX + 1]; /* set_favorite: alias, else "" */
    cf_job_form_t form;                  /* install_cert: PEM or P12, else NONE */
    char *chain;                         /* PEM form: base64 of the chain PEM (owned) */
    char *key;                           /* PEM form: base64 of the sealed key (owned) */
    char *p12;                           /* P12 form: base64 of the sealed PKCS#12 */
    char *pass;                          /* P12 form: base64 of the sealed password */
    char *cert;                          /* reissue: base64 of the new certificate's DER */
    char *signer;                        /* base64 of the signer's DER, NULL unsigned */
    char *sig;                           /* base64 of the signature, NULL unsigned */
};

/* CF_OK if the common fields and the payload are what the type needs; CF_ERR_INVALID with
   why otherwise. Base64 fields are checked by cf_job_parse as it reads them. */
CF_MUST_USE cf_err_t cf_job_check(const cf_job_t *job, cf_why_t *why);
/* 1..CF_JOB_ALIAS_MAX bytes of [A-Za-z0-9._:-]: CF_OK, else CF_ERR_INVALID. */
CF_MUST_USE cf_err_t cf_job_check_alias(const char *alias);

/* Strict base64 (padding required, nothing else): a new string, NULL on out-of-memory. */
char *cf_job_b64(const unsigned char *bin, size_t len);
/* Decode strict base64 of at most max decoded bytes into a new buffer with a NUL after the
   last byte (the caller frees it). CF_ERR_CORRUPT (not base64), CF_ERR_TOOBIG, NOMEM. */
CF_MUST_USE cf_err_t cf_job_unb64(const char *b64, size_t max, unsigned char **out,
                                  size_t *len_out);

/* The job as JSON text, keys sorted, no whitespace; with_sig 0 gives the canonical form
   that is signed (every field but "sig"). *out is the caller's (cf_mem_free). */
CF_MUST_USE cf_err_t cf_job_json(const cf_job_t *job, int with_sig, char **out, size_t *len_out);

/* Drop the signature and signer (any change to a signed job does this). */
void cf_job_unsign(cf_job_t *job);

#endif
