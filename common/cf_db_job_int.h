/*  cf_db_job_int - shared by the cf_db_job*.c files: the state script and the job record  */
#ifndef CF_DB_JOB_INT_H_INCLUDED
#define CF_DB_JOB_INT_H_INCLUDED

#include <hiredis/hiredis.h>

#include "cf_db_job.h"

/* The cf_job_fsm rules as script arguments, so the scripts hold no table of their own:
   state names (space-separated, cf_job_state_t order), one '1'/'0' per state (final), and
   the transition table, a row of CF_JOB_EVENT_COUNT characters per state, '0' + the next
   state or '-' where cf_job_fsm_next refuses. Built from cf_job_fsm at each call (49
   look-ups). */
typedef struct {
    char names[CF_JOB_STATE_COUNT * 16];                     /* "pending delivered ..." */
    char final[CF_JOB_STATE_COUNT + 1];                      /* "0011110" */
    char table[CF_JOB_STATE_COUNT * CF_JOB_EVENT_COUNT + 1]; /* row per state */
} cf_db_job_fsm_text_t;
void cf_db_job_fsm_text(cf_db_job_fsm_text_t *f);

/* Modes of the state script (cf_db_job_state.c). */
#define CF_DB_JOB_MODE_BATCH   "batch"   /* extra: (job, agent, event, reason) x n */
#define CF_DB_JOB_MODE_JOB     "job"     /* extra: id, event, cursor, count, expires, past */
#define CF_DB_JOB_MODE_UPGRADE "upgrade" /* extra: agent, proto, event, event for waves */
#define CF_DB_JOB_MODE_WAVE    "wave"    /* extra: id, now_ms, max, release, min sample */

/* Run the state script (1 RT) in mode with the cf_job_fsm table, now and the key parts,
   then nextra arguments (lens NULL: strings). Not retried after a lost connection.
   *r_out is the caller's. Errors as cf_store_script_call, CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_db_job_script(cf_store_t *store, const char *mode, int64_t now,
                                      size_t nextra, const char **extra, const size_t *lens,
                                      redisReply **r_out);

/* The job hash fields read by cf_db_job_get, in this order: the counters in
   cf_job_state_t order, then the rollout fields (docs/jobs.md section 6). */
#define CF_DB_JOB_HMGET                                                                        \
    "HMGET %s id type created expires issuer by min_proto params target total done n:pending " \
    "n:delivered n:installed n:failed n:expired n:cancelled n:too_old n:queued batch rate "    \
    "max_fail paused aborted"
enum {
    J_ID,
    J_TYPE,
    J_CREATED,
    J_EXPIRES,
    J_ISSUER,
    J_BY,
    J_MINP,
    J_PARAMS,
    J_TARGET,
    J_TOTAL,
    J_DONE,
    J_N0,
    J_BATCH = J_N0 + CF_JOB_STATE_COUNT,
    J_RATE,
    J_MAXF,
    J_PAUSED,
    J_ABORTED,
    J_COUNT
};

/* Decode the CF_DB_JOB_HMGET answer for job id. CF_ERR_NOTFOUND when the job does not
   exist, CF_ERR_CORRUPT with why in the store. */
CF_MUST_USE cf_err_t cf_db_job_decode(cf_store_t *store, const char *id, const redisReply *r,
                                      cf_db_job_t *out);

#endif
