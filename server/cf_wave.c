/*  cf_wave - the rollout wave controller under its Redis lease  */
#include "cf_wave.h"

#include <stdio.h>

#include "cf_db_audit.h"
#include "cf_db_job.h"
#include "cf_link.h"
#include "cf_lease.h"
#include "cf_log.h"
#include "cf_mem.h"

struct cf_wave {
    cf_app_t *app;    /* borrowed */
    cf_lease_t lease; /* CF_WAVE_LEASE */
    size_t start;     /* where in cf:jobs:waves the next tick begins (round-robin) */
};

cf_err_t cf_wave_new(cf_app_t *app, cf_wave_t **out)
{
    if (!app || !out)
        return CF_ERR_INVALID;
    *out = cf_mem_calloc(1, sizeof(**out));
    if (!*out)
        return CF_ERR_NOMEM;
    (*out)->app = app;
    cf_lease_init(&(*out)->lease, CF_WAVE_LEASE, "wave", "releases rollout waves",
                  CF_WAVE_LEASE_MS);
    return CF_OK;
}

void cf_wave_destroy(cf_wave_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_mem_free(*self_p);
    *self_p = NULL;
}

void cf_wave_release(cf_wave_t *self, cf_store_t *store)
{
    if (self)
        cf_lease_drop(&self->lease, store, cf_app_instance(self->app));
}

/* Abort job id (its unsent entries cancelled); first: log, audit and count it. */
static cf_err_t s_abort(cf_wave_t *self, cf_store_t *store, const char *id,
                        const cf_db_job_wave_t *w, int64_t now_ms)
{
    size_t changed = 0;
    cf_err_t rc = cf_db_job_abort(store, id, now_ms / 1000, &changed);
    if (!w->abort)
        return rc; /* a walk cut short before: already logged and counted */
    char target[CF_DB_AUDIT_TEXT_MAX];
    snprintf(target, sizeof(target), "%s: %.180s; %zu agents", id, w->reason, changed);
    cf_db_audit_in_t ev = {
        "system", "system", "job.abort", target, rc == CF_OK ? "ok" : cf_err_name(rc), ""};
    if (cf_db_audit_add(store, &ev, NULL) != CF_OK)
        cf_log(CF_LOG_WARN, "msg=\"job abort not audited\" job=%s", id);
    cf_app_count(self->app, CF_APP_JOBS_ABORTED, 1);
    cf_log(CF_LOG_WARN,
           "msg=\"job aborted: failure threshold passed\" job=%s reason=\"%s\" "
           "cancelled=%zu",
           id, w->reason, changed);
    return rc;
}

/* One job's step; the released entries go to the link. */
static cf_err_t s_job(cf_wave_t *self, cf_store_t *store, const char *id, int64_t now_ms)
{
    cf_db_job_wave_t w;
    CF_TRY(cf_db_job_wave_step(store, id, now_ms, &w));
    if (w.abort || w.aborting)
        return s_abort(self, store, id, &w, now_ms);
    if (w.released == 0)
        return CF_OK;
    cf_app_count(self->app, CF_APP_WAVE_RELEASED, (uint64_t) w.released);
    cf_log(CF_LOG_DEBUG, "msg=\"wave released\" job=%s released=%lld queued=%lld", id,
           (long long) w.released, (long long) w.queued);
    cf_err_t rc = cf_link_send_job(cf_app_link(self->app), id);
    if (rc != CF_OK)
        cf_log(CF_LOG_WARN,
               "msg=\"released entries not handed to the broker link; they go at check-in\" "
               "job=%s err=%s",
               id, cf_err_name(rc));
    return CF_OK;
}

void cf_wave_tick(cf_wave_t *self, cf_store_t *store, int64_t now_ms)
{
    if (!self || !store || !cf_lease_hold(&self->lease, store, cf_app_instance(self->app)))
        return;
    char(*ids)[CF_DB_JOB_ID_LEN + 1] = NULL;
    size_t n = 0;
    cf_err_t rc = cf_db_job_waves(store, self->start, CF_DB_JOB_WAVES_MAX, &ids, &n);
    /* a full page: go on from there next tick; else start again from the oldest */
    self->start = rc == CF_OK && n == CF_DB_JOB_WAVES_MAX ? self->start + n : 0;
    for (size_t i = 0; rc == CF_OK && i < n; i++) {
        cf_err_t one = s_job(self, store, ids[i], now_ms);
        if (one != CF_OK) {
            cf_app_count(self->app, CF_APP_WAVE_FAILURES, 1);
            cf_log(CF_LOG_ERROR,
                   "msg=\"wave step failed; retried next tick\" job=%s err=%s "
                   "why=\"%s\"",
                   ids[i], cf_err_name(one), cf_why_text(cf_store_why(store), one));
        }
        if (one == CF_ERR_IO)
            break; /* Redis is away: the next tick tries again */
    }
    cf_mem_free(ids);
    if (rc != CF_OK) {
        cf_app_count(self->app, CF_APP_WAVE_FAILURES, 1);
        cf_log(CF_LOG_ERROR, "msg=\"wave controller cannot list its jobs\" err=%s why=\"%s\"",
               cf_err_name(rc), cf_why_text(cf_store_why(store), rc));
    }
}
