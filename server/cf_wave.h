/*  cf_wave - the rollout wave controller: under the cf:lease:wave lease (one server at a
    time; another takes over when the holder dies), releases the queued entries of jobs
    rolled out in waves, aborts jobs past their failure threshold and hands released jobs
    to this server's broker link (docs/jobs.md section 6)  */
#ifndef CF_WAVE_H_INCLUDED
#define CF_WAVE_H_INCLUDED

#include <stdint.h>

#include "cf_app.h"
#include "cf_store.h"

#define CF_WAVE_LEASE    "cf:lease:wave" /* the lease (docs/REDIS.md) */
#define CF_WAVE_TICK_MS  250             /* how often the controller looks */
#define CF_WAVE_LEASE_MS 3000            /* the lease lives this long unless renewed */

typedef struct cf_wave cf_wave_t; /* opaque; used by the control thread only */

/* A controller for app. *out is the caller's (cf_wave_destroy). CF_ERR_INVALID,
   CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_wave_new(cf_app_t *app, cf_wave_t **out);
/* One round at unix milliseconds now_ms: take or keep the lease, then one wave step
   (cf_db_job_wave_step) for each of up to CF_DB_JOB_WAVES_MAX jobs of cf:jobs:waves (going
   round a longer set a hundred per tick): a job
   that released entries goes to cf_link_send_job; a job past its threshold is aborted
   (cf_db_job_abort), logged, audited (job.abort, who "system") and counted. Counts
   cf_server_wave_released_total, cf_server_jobs_aborted_total; a failure is logged and
   counted (cf_server_wave_failures_total) and retried next tick. */
void cf_wave_tick(cf_wave_t *self, cf_store_t *store, int64_t now_ms);
/* Give the lease up (a clean stop lets another server take over at once). */
void cf_wave_release(cf_wave_t *self, cf_store_t *store);
void cf_wave_destroy(cf_wave_t **self_p); /* NULLs *self_p; safe to repeat */

#endif
