/*  cf_sweep - the job sweeper under its Redis lease  */
#include "cf_sweep.h"

#include "cf_db_agent.h"
#include "cf_db_job.h"
#include "cf_lease.h"
#include "cf_log.h"
#include "cf_mem.h"

struct cf_sweep {
    cf_app_t *app;    /* borrowed */
    cf_lease_t lease; /* CF_SWEEP_LEASE */
};

cf_err_t cf_sweep_new(cf_app_t *app, int lease_s, cf_sweep_t **out)
{
    if (!app || !out || lease_s < 1)
        return CF_ERR_INVALID;
    *out = cf_mem_calloc(1, sizeof(**out));
    if (!*out)
        return CF_ERR_NOMEM;
    (*out)->app = app;
    cf_lease_init(&(*out)->lease, CF_SWEEP_LEASE, "sweep", "sweeps the jobs",
                  (long) lease_s * 1000);
    return CF_OK;
}

void cf_sweep_destroy(cf_sweep_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_mem_free(*self_p);
    *self_p = NULL;
}

void cf_sweep_release(cf_sweep_t *self, cf_store_t *store)
{
    if (self)
        cf_lease_drop(&self->lease, store, cf_app_instance(self->app));
}

void cf_sweep_tick(cf_sweep_t *self, cf_store_t *store, int64_t now)
{
    if (!self || !store || !cf_lease_hold(&self->lease, store, cf_app_instance(self->app)))
        return;
    /* an older version's set of all agents (one UNLINK a round: nothing when it is gone,
       and an older server still writing it loses it again) */
    if (cf_db_agent_drop_old_set(store) != CF_OK)
        cf_log(CF_LOG_WARN, "msg=\"cf:agents not dropped; tried again next round\" why=\"%s\"",
               cf_why_text(cf_store_why(store), CF_ERR_IO));
    cf_db_job_sweep_t total = {0};
    cf_err_t rc = CF_OK;
    int steps = 0, more = 1;
    while (more && steps < CF_SWEEP_STEPS_TICK) {
        cf_db_job_sweep_t step = {0};
        rc = cf_db_job_sweep(store, now, CF_SWEEP_STEP_MAX, &step);
        if (rc != CF_OK)
            break;
        steps++;
        total.expired += step.expired;
        total.closed += step.closed;
        more = step.more;
    }
    cf_app_count(self->app, CF_APP_JOBS_EXPIRED, (uint64_t) total.expired);
    cf_app_count(self->app, CF_APP_JOBS_CLOSED, (uint64_t) total.closed);
    if (total.expired || total.closed)
        cf_log(CF_LOG_INFO, "msg=\"jobs swept\" entries_expired=%zu jobs_closed=%zu more=%d",
               total.expired, total.closed, more);
    if (rc != CF_OK) {
        cf_app_count(self->app, CF_APP_SWEEP_FAILURES, 1);
        cf_log(CF_LOG_ERROR, "msg=\"job sweep failed; retried next tick\" err=%s why=\"%s\"",
               cf_err_name(rc), cf_why_text(cf_store_why(store), rc));
    }
}
