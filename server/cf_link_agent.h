/*  cf_link_agent - jobs read from the store and built for agents: a job prepared once
    (hash, params, install material), one agent's copy (its CURVE key from Redis), and an
    agent's open jobs; shared by the link thread and the check-in answer  */
#ifndef CF_LINK_AGENT_H_INCLUDED
#define CF_LINK_AGENT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "cf_db_job.h"
#include "cf_link_build.h"

/* A job read for sending. */
typedef struct {
    cf_db_job_t job;           /* the job hash */
    cf_link_params_t params;   /* its params, parsed */
    cf_link_install_t install; /* install_cert: the material (owned) */
    cf_link_reissue_t reissue; /* reissue: the CA that issues (owned) */
} cf_link_prepared_t;

/* Read job id and what its copies need (2..4 RT). On failure *out is empty. Errors: those
   of cf_db_job_get, cf_link_params_parse and cf_link_install_load (why). */
CF_MUST_USE cf_err_t cf_link_prepare(cf_store_t *store, const cf_seal_t *seal, const char *id,
                                     cf_link_prepared_t *out, cf_why_t *why);
void cf_link_prepared_clear(cf_link_prepared_t *p); /* wipe, zero; safe to repeat */

/* The copy of p for agent, signed by signer (install_cert: 1 RT for the agent's CURVE
   key). *wire_out is the caller's (cf_mem_free). Errors: CF_ERR_NOKEY (install_cert for an
   agent without a CURVE key: nothing can be sealed to it), those of cf_link_build. */
CF_MUST_USE cf_err_t cf_link_copy(cf_store_t *store, const cf_link_prepared_t *p,
                                  const cf_link_signer_t *signer, const char *agent,
                                  char **wire_out, size_t *len_out, cf_why_t *why);

/* Called with each copy built for an agent (wire borrowed for the call). */
typedef void (*cf_link_copy_fn)(void *arg, const char *job_id, const char *wire, size_t len);

/* Build every open job of agent that can be sent (pending and delivered entries of jobs
   not expired at now; at most CF_DB_JOB_OPEN_MAX; also none that expires at or before
   min_expires, 0: no such limit) and hand each to fn. *signer is used
   when it holds a certificate, else loaded for alias (1 RT) only when there is something
   to sign; it stays loaded for the caller, who clears it. A job that cannot be built is
   logged and skipped. *n_out (may be NULL) = copies handed out. Errors: those of
   cf_db_job_agent_open and cf_link_signer_load (why). */
CF_MUST_USE cf_err_t cf_link_agent_jobs(cf_store_t *store, const cf_seal_t *seal,
                                        cf_link_signer_t *signer, const char *alias,
                                        const char *agent, int64_t now, int64_t min_expires,
                                        cf_link_copy_fn fn, void *arg, size_t *n_out,
                                        cf_why_t *why);

/* The store's event for an agent fact: CF_MSG_RECEIPT -> receipt, CF_MSG_REPORT ->
   report_installed or report_failed by outcome. */
cf_job_event_t cf_link_fact_event(int msg_type, int outcome);

#endif
