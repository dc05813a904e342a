/*  cf_link_build - one agent's signed copy of a job: the signer (this server's certificate),
    the install material read once per job, the sealing per agent; shared by the link thread
    and the check-in answer  */
#ifndef CF_LINK_BUILD_H_INCLUDED
#define CF_LINK_BUILD_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "cf_ca.h"
#include "cf_cert.h"
#include "cf_db_key.h"
#include "cf_err.h"
#include "cf_job.h"
#include "cf_key.h"
#include "cf_seal.h"
#include "cf_store.h"

#define CF_LINK_PARAMS_MAX  4096     /* a job's params JSON, bytes */
#define CF_LINK_CERT_SHARED "shared" /* the agent certificate install_cert sends by default */
#define CF_LINK_REISSUE_SLICE                                                                \
    32 /* reissue: entries issued and sent per loop turn of a job walk (one issuance and two \
          Redis round trips each, about 0.4 ms: a slice keeps a turn near 10-15 ms) */

/* A job as its hash in Redis describes it (docs/jobs.md section 3). Strings borrowed. */
typedef struct {
    const char *id;     /* 32 lowercase hex */
    const char *type;   /* "install_cert", "renew_csr", "set_favorite", "recheck", "reissue" */
    const char *params; /* JSON object: {"cert","form"} or {"favorite"} or {}; NULL = {} */
    int64_t created;    /* Unix seconds */
    int64_t expires;    /* Unix seconds */
    unsigned min_proto; /* agent protocol level needed (0 = 1) */
} cf_link_job_t;

/* The params of a job, parsed. */
typedef struct {
    cf_job_type_t type;                  /* from cf_link_job_t.type */
    char cert[CF_DB_NAME_MAX + 1];       /* install_cert: agent certificate name */
    cf_job_form_t form;                  /* install_cert: PEM or PKCS#12 */
    char favorite[CF_JOB_ALIAS_MAX + 1]; /* set_favorite: the alias */
} cf_link_params_t;

/* Parse type and params (install_cert: cert defaults to "shared", form to "pem"; set_favorite
   needs favorite). Errors: CF_ERR_INVALID (with why), CF_ERR_TOOBIG (params). */
CF_MUST_USE cf_err_t cf_link_params_parse(const cf_link_job_t *job, cf_link_params_t *out,
                                          cf_why_t *why);

/* Who signs: this server's certificate and key (as the HTTPS listener uses them) and alias. */
typedef struct {
    cf_cert_t *cert;                  /* owned */
    cf_key_t *key;                    /* owned */
    char alias[CF_JOB_ALIAS_MAX + 1]; /* the issuer */
} cf_link_signer_t;

/* Read this server's certificate and key (cf:cert:server:<alias>). On failure *out is
   empty. Errors: those of cf_db_cert_get (why), CF_ERR_NOKEY (imported without key),
   CF_ERR_INVALID (alias longer than CF_JOB_ALIAS_MAX). */
CF_MUST_USE cf_err_t cf_link_signer_load(cf_store_t *store, const cf_seal_t *seal,
                                         const char *alias, cf_link_signer_t *out, cf_why_t *why);
void cf_link_signer_clear(cf_link_signer_t *s); /* free, zero; safe to repeat */

/* What an install_cert job sends, read once per job and sealed per agent. */
typedef struct {
    cf_job_form_t form; /* PEM or P12 */
    char *chain_pem;    /* PEM: leaf, intermediates, CA (owned) */
    size_t chain_len;   /* bytes */
    char *key_pem;      /* PEM: PKCS#8 private key (owned secret) */
    size_t key_len;     /* bytes */
    unsigned char *p12; /* P12: the PKCS#12 (owned secret) */
    size_t p12_len;     /* bytes */
    char *pass;         /* P12: its password, the deployment's cf:p12pass (owned secret) */
    char fingerprint[CF_DB_FP_LEN + 1]; /* of the certificate sent */
} cf_link_install_t;

/* Read the agent certificate name (with its key; the CA completes the chain) and, for
   PKCS#12, the deployment's p12 password, and prepare the material of form. On failure
   *out is empty. Errors: CF_ERR_NOTFOUND (no such certificate, or no p12 password),
   CF_ERR_NOKEY (a public-only record), cf_db errors (why), CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_link_install_load(cf_store_t *store, const cf_seal_t *seal,
                                          const char *name, cf_job_form_t form,
                                          cf_link_install_t *out, cf_why_t *why);
void cf_link_install_clear(cf_link_install_t *in); /* wipe the secrets, free, zero */

/* Build and sign the copy of job for agent: the fields of job, issuer = signer's alias, the
   payload by type (install_cert: install's material with the secrets sealed to agent_pub,
   the agent's CURVE public key; required for install_cert, else ignored and may be NULL).
   *wire_out (NUL-terminated JSON, the signed job as it travels) is the caller's
   (cf_mem_free). Errors: CF_ERR_INVALID (a field, no material or key for install_cert),
   CF_ERR_TOOBIG, those of cf_job_sign (why), CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_link_build(const cf_link_job_t *job, const cf_link_params_t *params,
                                   const char *agent, const cf_link_install_t *install,
                                   const unsigned char *agent_pub, const cf_link_signer_t *signer,
                                   char **wire_out, size_t *len_out, cf_why_t *why);

/* What a reissue job needs, loaded once per job (walk or check-in): the CA with its key. */
typedef struct {
    cf_ca_t *ca;              /* owned; NULL: not loaded */
    cf_cert_reader_t *reader; /* owned: reads recorded certificates without their key */
} cf_link_reissue_t;

/* Load the CA and its key (opened with seal). On failure *out is empty. Errors: those of
   cf_db_ca_get (why), CF_ERR_NOKEY (a CA without its key cannot issue), cf_ca_load's. */
CF_MUST_USE cf_err_t cf_link_reissue_load(cf_store_t *store, const cf_seal_t *seal,
                                          cf_link_reissue_t *out, cf_why_t *why);
void cf_link_reissue_clear(cf_link_reissue_t *r); /* free, zero; safe to repeat */

/* The certificate agent gets from a reissue job created at job_created (DER into *der_out,
   the caller's: cf_mem_free). Reads the agent's recorded certificate (1 RT). One issued by
   this CA after the job was created (notBefore + CF_ISSUE_SKEW >= job_created: a copy sent
   again, a retry, another server's copy) is sent again as it is. Otherwise a new one is
   issued for its public key with the same subject and subjectAltName (CN and agent URI =
   the agent id), a fresh serial and validity (CF_ISSUE_DEFAULT_DAYS), and recorded in the
   place of the old one, which is archived (cf_db_enroll_replace, 1 RT). No private key is
   read or made. Errors: CF_ERR_NOTFOUND (no certificate of its own recorded: enrolled in
   push mode or with the shared certificate), CF_ERR_POLICY (the recorded certificate is not
   this agent's own from this CA, or the agent is revoked), CF_ERR_STATE (r not loaded),
   issuance and store errors, each with why. */
CF_MUST_USE cf_err_t cf_link_reissue_cert(cf_store_t *store, cf_link_reissue_t *r,
                                          const char *agent, int64_t job_created, int64_t now,
                                          unsigned char **der_out, size_t *len_out, cf_why_t *why);

/* Build and sign the reissue copy of job for agent carrying der (len bytes). As
   cf_link_build. */
CF_MUST_USE cf_err_t cf_link_build_reissue(const cf_link_job_t *job, const char *agent,
                                           const unsigned char *der, size_t len,
                                           const cf_link_signer_t *signer, char **wire_out,
                                           size_t *len_out, cf_why_t *why);

/* A reissue entry that can never be built (CF_ERR_NOTFOUND, CF_ERR_POLICY of
   cf_link_reissue_cert) fails with why's text as its reason (1 RT): it would otherwise
   wait until the job expires. Returns the store's error (logged by the caller). */
CF_MUST_USE cf_err_t cf_link_reissue_refuse(cf_store_t *store, const char *job_id,
                                            const char *agent, const char *reason);

/* The id of the install job a check-in answer gives an agent in "attention": 32 hex of
   SHA-256("certfleet-attention" NUL agent NUL fingerprint), so the same certificate offered
   again has the same id (the agent's replay check skips it). out: CF_JOB_ID_HEX + 1. */
void cf_link_attention_id(const char *agent, const char *fingerprint, char out[CF_JOB_ID_HEX + 1]);

#endif
