/*  cf_agent_jobs - the real agent's jobs: verify (cf_job_verifier), carry out on disk,
    remember them across restarts (replay memory, jobs.json) and keep their reports until
    a server acknowledges them  */
#ifndef CF_AGENT_JOBS_H_INCLUDED
#define CF_AGENT_JOBS_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cf_agent_certs.h"
#include "cf_cert.h"
#include "cf_curve.h"
#include "cf_err.h"
#include "cf_job.h"

#define CF_AGENT_JOBS_FILE   "jobs.json" /* the replay memory in the state directory */
#define CF_AGENT_JOBS_MEMORY 256         /* jobs remembered */
#define CF_AGENT_REASON_MAX  255         /* report reason, bytes */

/* Hooks for what a job asks. */
typedef struct {
    const char *dir;               /* state directory (borrowed) */
    const char *id;                /* agent id (copied) */
    const cf_cert_t *ca;           /* trust anchor of job signers (referenced) */
    const cf_curve_keypair_t *kp;  /* the agent's CURVE keypair (copied; wiped at destroy) */
    cf_agent_certs_check_fn check; /* the handshake check of an installed pair */
    void *check_ctx;               /* its context */
    /* renew_csr: renew now; fpr_out gets the new fingerprint. NULL: the job fails. */
    cf_err_t (*renew)(void *ctx, char fpr_out[CF_AGENT_FPR_HEX + 1], cf_why_t *why);
    void *renew_ctx; /* its context */
    /* set_favorite: remember alias. NULL: ignored. */
    void (*favorite)(void *ctx, const char *alias);
    void *favorite_ctx; /* its context */
} cf_agent_jobs_cfg_t;

/* One report waiting for its acknowledgement. */
typedef struct {
    char job[CF_JOB_ID_HEX + 1];          /* job id */
    int installed;                        /* 1 installed, 0 failed */
    char reason[CF_AGENT_REASON_MAX + 1]; /* failed: why */
    char fpr[CF_AGENT_FPR_HEX + 1];       /* certificate in use after the job, "" none */
} cf_agent_report_t;

typedef struct cf_agent_jobs cf_agent_jobs_t;

/* Load dir/jobs.json (missing = empty memory). *out is the caller's (cf_agent_jobs_destroy).
   Errors: CF_ERR_INVALID (a field of cfg), CF_ERR_CORRUPT (a damaged memory file: why; the
   agent refuses to run rather than forget what it applied), CF_ERR_IO, CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_agent_jobs_new(const cf_agent_jobs_cfg_t *cfg, cf_agent_jobs_t **out,
                                       cf_why_t *why);
/* Wipe the keypair, free; NULLs *self_p; safe to repeat. */
void cf_agent_jobs_destroy(cf_agent_jobs_t **self_p);

/* Take one signed job (untrusted JSON, len <= CF_JOB_MAX_WIRE). A job whose report still
   waits for its ACK is not run again (its report stays queued). Otherwise it is verified
   (signer, signature, addressee, expiry, replay against the memory) and carried out; the
   outcome, installed or failed(reason), is remembered and queued as a report (a job
   without a readable id cannot be reported and is only logged). fpr is the certificate in
   use ("" none), reported with the outcome. Returns CF_OK once handled (refusals
   included), CF_ERR_IO when the memory cannot be saved, CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_agent_jobs_take(cf_agent_jobs_t *self, const char *text, size_t len,
                                        time_t now, const char *fpr, cf_why_t *why);

/* Reports waiting for an ACK, oldest first: *n_out of them in out (cap entries). */
size_t cf_agent_jobs_pending(const cf_agent_jobs_t *self, cf_agent_report_t *out, size_t cap);
/* The report for job was acknowledged: never sent again. CF_ERR_NOTFOUND for a job not
   waiting; CF_ERR_IO when the memory cannot be saved. */
CF_MUST_USE cf_err_t cf_agent_jobs_acked(cf_agent_jobs_t *self, const char *job, time_t now,
                                         cf_why_t *why);
/* The remembered outcome of job: 1 and *out (and *expires_out, may be NULL: the job's
   expiry, 0 when unknown) when the memory holds it, else 0. */
int cf_agent_jobs_outcome(const cf_agent_jobs_t *self, const char *job, cf_agent_report_t *out,
                          int64_t *expires_out);
/* The last job handled: id and outcome text ("installed", "failed: reason"), "" none. */
const char *cf_agent_jobs_last(const cf_agent_jobs_t *self);
/* Jobs handled by this object (this process): carried out, and refused or failed (a job
   taken again while its report waits is not counted twice). */
void cf_agent_jobs_counts(const cf_agent_jobs_t *self, uint64_t *installed, uint64_t *failed);

#endif
