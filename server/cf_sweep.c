/*  cf_sweep - the job sweeper under its Redis lease  */
#include "cf_sweep.h"

#include "cf_db_job.h"
#include "cf_log.h"
#include "cf_mem.h"

struct cf_sweep {
    cf_app_t *app; /* borrowed */
    int lease_s;   /* lease lifetime */
    int held;      /* we held the lease at the last tick */
};

cf_err_t cf_sweep_new(cf_app_t *app, int lease_s, cf_sweep_t **out)
{
    if (!app || !out || lease_s < 1)
        return CF_ERR_INVALID;
    *out = cf_mem_calloc(1, sizeof(**out));
    if (!*out)
        return CF_ERR_NOMEM;
    (*out)->app = app;
    (*out)->lease_s = lease_s;
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
    if (!self || !self->held)
        return;
    int released = 0;
    cf_err_t rc =
        cf_store_lease_release(store, CF_SWEEP_LEASE, cf_app_instance(self->app), &released);
    if (rc != CF_OK)
        cf_log(CF_LOG_WARN, "msg=\"cannot release the sweep lease; it lapses by itself\"");
    self->held = 0;
}

/* Take or keep the lease; 1 when we hold it. */
static int s_lease(cf_sweep_t *self, cf_store_t *store)
{
    int got = 0;
    cf_err_t rc = cf_store_lease_acquire(store, CF_SWEEP_LEASE, cf_app_instance(self->app),
                                         (long) self->lease_s * 1000, &got);
    if (rc != CF_OK || !got) {
        if (self->held)
            cf_log(CF_LOG_INFO, "msg=\"sweep lease lost\"");
        self->held = 0;
        return 0;
    }
    if (!self->held)
        cf_log(CF_LOG_INFO, "msg=\"sweep lease taken: this server sweeps the jobs\"");
    self->held = 1;
    return 1;
}

void cf_sweep_tick(cf_sweep_t *self, cf_store_t *store, int64_t now)
{
    if (!self || !store || !s_lease(self, store))
        return;
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
