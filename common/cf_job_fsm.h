/*  cf_job_fsm - the state of one job for one agent: one static transition table  */
#ifndef CF_JOB_FSM_H_INCLUDED
#define CF_JOB_FSM_H_INCLUDED

#include "cf_err.h"

/* Where one (job, agent) entry stands. Stored by name (cf_job_fsm_state_name) in Redis. */
typedef enum {
    CF_JOB_PENDING = 0, /* created; sent or waiting for the agent's next check-in */
    CF_JOB_DELIVERED,   /* the agent's receipt reached the store */
    CF_JOB_INSTALLED,   /* the agent carried the job out (installed, applied, rechecked) */
    CF_JOB_FAILED,      /* the agent tried and reported a reason */
    CF_JOB_EXPIRED,     /* the job's expiry passed before the agent reported */
    CF_JOB_CANCELLED,   /* an operator withdrew the job before the agent reported */
    CF_JOB_TOO_OLD,     /* the agent speaks an older protocol than the job needs: not sent */
    CF_JOB_QUEUED,      /* a job with waves: waiting for its wave, not sent (docs/jobs.md 6) */
    CF_JOB_STATE_COUNT  /* number of states, not a state */
} cf_job_state_t;

/* What can happen to an entry. The first three are facts the agent reports; the others
   are decisions of a server (sweeper, operator, check-in). */
typedef enum {
    CF_JOB_EV_RECEIPT = 0,      /* the agent's receipt arrived */
    CF_JOB_EV_REPORT_INSTALLED, /* the agent reported success */
    CF_JOB_EV_REPORT_FAILED,    /* the agent reported failure (reason kept elsewhere) */
    CF_JOB_EV_EXPIRE,           /* the sweeper found the job past its expiry */
    CF_JOB_EV_CANCEL,           /* an operator cancelled the job */
    CF_JOB_EV_RETRY,            /* an operator asked to send the job again */
    CF_JOB_EV_UPGRADE,          /* the agent now speaks the protocol the job needs */
    CF_JOB_EV_RELEASE,          /* the wave controller lets a queued entry go out */
    CF_JOB_EV_ABORT,            /* the failure threshold passed: end what was not sent */
    CF_JOB_EV_REQUEUE,          /* retry of a job with waves: back to queued */
    CF_JOB_EV_UPGRADE_QUEUED,   /* upgrade of an entry of a job with waves: to queued */
    CF_JOB_EVENT_COUNT          /* number of events, not an event */
} cf_job_event_t;

/* The state that follows `state` on `event`, from the one transition table (docs/PROTOCOL.md
   prints it). On CF_OK *next is set; *next == state means "no change" (a duplicate receipt
   or report, an expire of a finished entry): the caller stores nothing and moves no counter,
   but still acknowledges the agent. Errors: CF_ERR_STATE for a transition the table does
   not allow (retry of an installed entry, retry of an agent still too old), *next then
   left alone; CF_ERR_INVALID for a state or event out of range. Agent facts (receipt,
   reports) never give CF_ERR_STATE: what the agent did is always stored or ignored. */
CF_MUST_USE cf_err_t cf_job_fsm_next(cf_job_state_t state, cf_job_event_t event,
                                     cf_job_state_t *next);

/* First state of a new entry: CF_JOB_TOO_OLD when the agent's protocol level is known
   (agent_proto > 0) and below min_proto, else CF_JOB_PENDING. An agent that has never
   said which level it speaks (agent_proto 0) is taken to speak level 1. */
cf_job_state_t cf_job_fsm_initial(unsigned agent_proto, unsigned min_proto);
/* First state of a new entry of a job rolled out in waves: CF_JOB_QUEUED where
   cf_job_fsm_initial gives CF_JOB_PENDING, else the same (too_old stays too_old). */
cf_job_state_t cf_job_fsm_initial_waves(unsigned agent_proto, unsigned min_proto);

/* 1 when the entry waits for nothing more: installed, failed, expired, cancelled (a late
   report may still move it, as the table says, but nothing is sent for it); 0 for pending,
   delivered, too_old, queued and out-of-range values. A job whose entries are all final gets its
   TTL. */
int cf_job_fsm_is_final(cf_job_state_t state);

/* "pending", "delivered", "installed", "failed", "expired", "cancelled", "too_old",
   "queued"; "unknown" out of range. */
const char *cf_job_fsm_state_name(cf_job_state_t state);
/* "receipt", "report_installed", "report_failed", "expire", "cancel", "retry",
   "upgrade", "release", "abort", "requeue", "upgrade_queued"; "unknown" out of range. */
const char *cf_job_fsm_event_name(cf_job_event_t event);
/* Inverse of the name functions (exact, case-sensitive). CF_ERR_INVALID for NULL or an
   unknown name; *out untouched then. */
CF_MUST_USE cf_err_t cf_job_fsm_state_from_name(const char *name, cf_job_state_t *out);
CF_MUST_USE cf_err_t cf_job_fsm_event_from_name(const char *name, cf_job_event_t *out);

#endif
