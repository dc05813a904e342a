/*  cf_api_jobs_ctl - rollout controls of the /jobs routes: the batch, rate and
    max_failures of a new job, the job's "rollout" member, pause and resume
    (docs/jobs.md section 6, docs/API.md "Jobs")  */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cf_api_jobs_int.h"
#include "cf_log.h"

/* One optional integer member of body in min..max into *out (absent: *out untouched,
 *given 0). */
static cf_err_t s_int_member(const json_t *body, const char *key, int64_t min, int64_t max,
                             int64_t *out, int *given, cf_why_t *why)
{
    const json_t *v = json_object_get(body, key);
    *given = v != NULL;
    if (!v)
        return CF_OK;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return cf_why(why, CF_ERR_INVALID, "%s must be an integer %lld..%lld", key, (long long) min,
                      (long long) max);
    *out = (int64_t) json_integer_value(v);
    return CF_OK;
}

cf_err_t cf_api_jobs_waves_parse(const json_t *body, cf_db_job_rollout_t *waves, cf_why_t *why)
{
    memset(waves, 0, sizeof(*waves));
    int given = 0;
    int64_t maxf = 0;
    CF_TRY(s_int_member(body, "batch", 1, CF_DB_JOB_WAVE_MAX, &waves->batch, &given, why));
    CF_TRY(s_int_member(body, "rate", 1, CF_DB_JOB_WAVE_MAX, &waves->rate, &given, why));
    CF_TRY(s_int_member(body, "max_failures", 0, 100, &maxf, &given, why));
    waves->watch = given;
    waves->max_fail = (int) maxf;
    return CF_OK;
}

json_t *cf_api_jobs_rollout_json(const cf_db_job_t *job)
{
    const cf_db_job_rollout_t *w = &job->waves;
    return json_pack("{s:o,s:o,s:o,s:b,s:o}", "batch",
                     w->batch ? json_integer((json_int_t) w->batch) : json_null(), "rate",
                     w->rate ? json_integer((json_int_t) w->rate) : json_null(), "max_failures",
                     w->watch ? json_integer(w->max_fail) : json_null(), "paused", job->paused,
                     "aborted", job->aborted[0] ? json_string(job->aborted) : json_null());
}

/* POST /api/v1/jobs/:id/pause|resume: one store step, audited, then the job (2 RT + audit). */
static void s_pause(cf_req_t *req, cf_app_t *app, int paused)
{
    const char *id = cf_req_param(req, "id");
    if (!id || cf_db_check_job_id(id) != CF_OK) {
        cf_req_reply_error(req, 400, "invalid_request", "a job id is 32 lowercase hex digits");
        return;
    }
    const cf_session_t *who = cf_req_session(req);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now_ms = (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    cf_db_job_t job;
    cf_store_t *store = cf_app_store_take(app);
    cf_err_t rc = cf_db_job_pause(store, id, paused, who ? who->user : "", now_ms);
    if (rc == CF_OK)
        rc = cf_db_job_get(store, id, &job);
    cf_app_audit(app, store, req, paused ? "job.pause" : "job.resume", id, rc);
    if (rc == CF_OK) {
        cf_log(CF_LOG_INFO, "msg=\"job %s\" job=%s by=%s", paused ? "paused" : "resumed", id,
               who ? who->user : "-");
        json_t *body = cf_api_jobs_json(&job);
        if (body)
            cf_req_reply_json(req, 200, body);
        else
            cf_app_reply_err(req, CF_ERR_NOMEM, NULL, "answer");
    } else if (rc == CF_ERR_STATE) {
        cf_req_reply_error(req, 409, "conflict",
                           "job %s has no waves (batch or rate) or is closed: nothing to %s", id,
                           paused ? "pause" : "resume");
    } else {
        cf_app_reply_err(req, rc, cf_store_why(store), "job");
    }
    cf_app_store_give(app, store);
}

void cf_api_jobs_pause(cf_req_t *req, void *app)
{
    s_pause(req, app, 1);
}

void cf_api_jobs_resume(cf_req_t *req, void *app)
{
    s_pause(req, app, 0);
}
