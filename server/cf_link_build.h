/*  cf_link_build - one agent's signed copy of a job: the signer (this server's certificate),
    the install material read once per job, the sealing per agent; shared by the link thread
    and the check-in answer  */
#ifndef CF_LINK_BUILD_H_INCLUDED
#define CF_LINK_BUILD_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "cf_cert.h"
#include "cf_db_key.h"
#include "cf_err.h"
#include "cf_job.h"
#include "cf_key.h"
#include "cf_seal.h"
#include "cf_store.h"

#define CF_LINK_PARAMS_MAX  4096     /* a job's params JSON, bytes */
#define CF_LINK_CERT_SHARED "shared" /* the agent certificate install_cert sends by default */

/* A job as its hash in Redis describes it (docs/jobs.md section 3). Strings borrowed. */
typedef struct {
    const char *id;     /* 32 lowercase hex */
    const char *type;   /* "install_cert", "renew_csr", "set_favorite", "recheck" */
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

/* The id of the install job a check-in answer gives an agent in "attention": 32 hex of
   SHA-256("certfleet-attention" NUL agent NUL fingerprint), so the same certificate offered
   again has the same id (the agent's replay check skips it). out: CF_JOB_ID_HEX + 1. */
void cf_link_attention_id(const char *agent, const char *fingerprint, char out[CF_JOB_ID_HEX + 1]);

#endif
