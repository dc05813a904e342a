/*  cf_sweep - the job sweeper: under the cf:lease:sweep lease (one server at a time; another
    takes over when the holder dies), expires the entries of jobs past their expiry, closes
    jobs whose entries are all final and sets the TTL of closed jobs (cf_db_job_sweep), a
    bounded amount of work per tick  */
#ifndef CF_SWEEP_H_INCLUDED
#define CF_SWEEP_H_INCLUDED

#include <stdint.h>

#include "cf_app.h"
#include "cf_store.h"

#define CF_SWEEP_LEASE      "cf:lease:sweep" /* the lease (docs/REDIS.md) */
#define CF_SWEEP_STEP_MAX   1000             /* entries one cf_db_job_sweep call may move */
#define CF_SWEEP_STEPS_TICK 20               /* calls per tick at most: 20,000 entries a tick */

typedef struct cf_sweep cf_sweep_t; /* opaque; used by the control thread only */

/* A sweeper whose lease lives lease_s seconds unless renewed by the next tick. *out is the
   caller's (cf_sweep_destroy). CF_ERR_INVALID, CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_sweep_new(cf_app_t *app, int lease_s, cf_sweep_t **out);
/* One round at unix time now: take or keep the lease (the first round that holds it drops
   an older version's set of all agents: cf_db_agent_drop_old_set), then call cf_db_job_sweep until
   it has nothing left or CF_SWEEP_STEPS_TICK calls were made (the rest waits for the next tick).
   Counts entries expired and jobs closed (cf_server_jobs_expired_entries_total,
   cf_server_jobs_closed_total) and logs what it did; a failure is logged and counted
   (cf_server_sweep_failures_total), never silent, and retried next tick. */
void cf_sweep_tick(cf_sweep_t *self, cf_store_t *store, int64_t now);
/* Give the lease up (a clean stop lets another server take over at once). */
void cf_sweep_release(cf_sweep_t *self, cf_store_t *store);
void cf_sweep_destroy(cf_sweep_t **self_p); /* NULLs *self_p; safe to repeat */

#endif
