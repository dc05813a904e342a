/*  cf_api_jobs - the /jobs routes: list, show, a job's agents page by page, cancel, retry
    (creation in cf_api_jobs_create.c; docs/jobs.md section 5, docs/API.md "Jobs")  */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cf_api_agents.h"
#include "cf_api_jobs_int.h"
#include "cf_link.h"
#include "cf_log.h"
#include "cf_mem.h"

#define S_LIST_DEFAULT 100 /* jobs in GET /jobs when ?limit= is absent */

/* Reply with body, or 500 when building it ran out of memory. */
static void s_reply(cf_req_t *req, int status, json_t *body)
{
    if (!body)
        cf_app_reply_err(req, CF_ERR_NOMEM, NULL, "answer");
    else
        cf_req_reply_json(req, status, body);
}

json_t *cf_api_jobs_json(const cf_db_job_t *job)
{
    json_t *counts = json_object();
    for (int s = 0; counts && s < CF_JOB_STATE_COUNT; s++) {
        if (json_object_set_new(counts, cf_job_fsm_state_name((cf_job_state_t) s),
                                json_integer((json_int_t) job->n[s])) != 0) {
            json_decref(counts);
            counts = NULL;
        }
    }
    json_t *params = json_loads(job->params, 0, NULL);
    json_t *done = job->done > 0 ? json_integer((json_int_t) job->done) : json_null();
    return json_pack("{s:s,s:s,s:I,s:I,s:s,s:s,s:i,s:o,s:s,s:I,s:o,s:o}", "id", job->id, "type",
                     cf_job_type_name(job->type), "created", (json_int_t) job->created, "expires",
                     (json_int_t) job->expires, "issuer", job->issuer, "by", job->by, "min_proto",
                     (int) job->min_proto, "params", params ? params : json_object(), "target",
                     job->target, "total", (json_int_t) job->total, "counts", counts, "done", done);
}

void cf_api_jobs_send(cf_app_t *app, const char *id)
{
    cf_err_t rc = cf_link_send_job(cf_app_link(app), id);
    if (rc != CF_OK)
        cf_log(CF_LOG_WARN,
               "msg=\"job not handed to the broker link; its agents get it at check-in\" "
               "job=%s err=%s",
               id, cf_err_name(rc));
}

/* The :id of the route as a job id; 0 after answering 400 when it is not one. */
static const char *s_id(cf_req_t *req)
{
    const char *id = cf_req_param(req, "id");
    if (id && cf_db_check_job_id(id) == CF_OK)
        return id;
    cf_req_reply_error(req, 400, "invalid_request", "a job id is 32 lowercase hex digits");
    return NULL;
}

/* GET /api/v1/jobs?limit= -> {"jobs":[job…]} newest first (2 RT). */
static void s_list(cf_req_t *req, void *arg)
{
    cf_app_t *app = arg;
    const char *l = cf_req_query(req, "limit");
    size_t limit = S_LIST_DEFAULT;
    if (l) {
        char *end = NULL;
        errno = 0;
        unsigned long long v = isdigit((unsigned char) l[0]) ? strtoull(l, &end, 10) : 0;
        if (!end || *end || errno || v < 1 || v > CF_DB_JOB_LIST_MAX) {
            cf_req_reply_error(req, 400, "invalid_request", "limit must be 1..%d",
                               CF_DB_JOB_LIST_MAX);
            return;
        }
        limit = (size_t) v;
    }
    cf_db_job_t *jobs = NULL;
    size_t n = 0;
    cf_store_t *store = cf_app_store_take(app);
    cf_err_t rc = cf_db_job_list(store, limit, &jobs, &n);
    if (rc != CF_OK)
        cf_app_reply_err(req, rc, cf_store_why(store), "jobs");
    cf_app_store_give(app, store);
    if (rc != CF_OK)
        return;
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        if (json_array_append_new(a, cf_api_jobs_json(&jobs[i])) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    cf_mem_free(jobs);
    s_reply(req, 200, a ? json_pack("{s:o}", "jobs", a) : NULL);
}

/* GET /api/v1/jobs/:id (1 RT). */
static void s_show(cf_req_t *req, void *arg)
{
    cf_app_t *app = arg;
    const char *id = s_id(req);
    if (!id)
        return;
    cf_db_job_t job;
    cf_store_t *store = cf_app_store_take(app);
    cf_err_t rc = cf_db_job_get(store, id, &job);
    if (rc == CF_OK)
        s_reply(req, 200, cf_api_jobs_json(&job));
    else
        cf_app_reply_err(req, rc, cf_store_why(store), "job");
    cf_app_store_give(app, store);
}

/* {"agents":[{"id","state","reason"}…],"cursor"} */
static json_t *s_page_json(const cf_db_job_entry_t *e, size_t n, const char *next)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        json_t *o = json_pack("{s:s,s:s,s:s?}", "id", e[i].agent, "state",
                              cf_job_fsm_state_name(e[i].state), "reason",
                              e[i].reason[0] ? e[i].reason : NULL);
        if (json_array_append_new(a, o) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    return json_pack("{s:o,s:s?}", "agents", a, "cursor", next[0] ? next : NULL);
}

/* GET /api/v1/jobs/:id/agents?state=&cursor=&limit= */
static void s_agents(cf_req_t *req, void *arg)
{
    cf_app_t *app = arg;
    const char *id = s_id(req), *cursor = NULL;
    const char *state_name = cf_req_query(req, "state");
    cf_job_state_t state = CF_JOB_STATE_COUNT; /* all */
    size_t limit = 0, n = 0;
    if (!id)
        return;
    if (state_name && cf_job_fsm_state_from_name(state_name, &state) != CF_OK) {
        cf_req_reply_error(req, 400, "invalid_request",
                           "state must be pending, delivered, installed, failed, expired, "
                           "cancelled or too_old");
        return;
    }
    if (!cf_api_page_args(req, &limit, &cursor))
        return;
    cf_db_job_entry_t *entries = NULL;
    char next[CF_DB_JOB_CURSOR_MAX] = "";
    cf_store_t *store = cf_app_store_take(app);
    cf_err_t rc = cf_db_job_agents(store, id, state, cursor, limit, &entries, &n, next);
    if (rc == CF_OK)
        s_reply(req, 200, s_page_json(entries, n, next));
    else
        cf_app_reply_err(req, rc, cf_store_why(store), "job agents");
    cf_app_store_give(app, store);
    cf_mem_free(entries);
}

/* POST /api/v1/jobs/:id/cancel and /retry: one store step, audited, then the job. */
static void s_change(cf_req_t *req, cf_app_t *app, int retry)
{
    const char *id = s_id(req);
    if (!id)
        return;
    cf_db_job_t job;
    size_t changed = 0;
    char audit[CF_DB_AUDIT_TEXT_MAX];
    int64_t now = (int64_t) time(NULL);
    cf_store_t *store = cf_app_store_take(app);
    /* a retry gives an expired job a new expiry as long as its first lifetime */
    cf_err_t rc = retry ? cf_db_job_get(store, id, &job) : CF_OK;
    if (rc == CF_OK && retry)
        rc = cf_db_job_retry(store, id, now, now + (job.expires - job.created), &changed);
    else if (rc == CF_OK)
        rc = cf_db_job_cancel(store, id, now, &changed);
    if (rc == CF_OK)
        rc = cf_db_job_get(store, id, &job);
    snprintf(audit, sizeof(audit), "%s: %zu agents", id, changed);
    cf_app_audit(app, store, req, retry ? "job.retry" : "job.cancel", audit, rc);
    if (rc == CF_OK)
        s_reply(req, 200, cf_api_jobs_json(&job));
    else
        cf_app_reply_err(req, rc, cf_store_why(store), "job");
    cf_app_store_give(app, store);
    if (rc == CF_OK && retry && changed > 0)
        cf_api_jobs_send(app, id);
}

static void s_cancel(cf_req_t *req, void *arg)
{
    s_change(req, arg, 0);
}

static void s_retry(cf_req_t *req, void *arg)
{
    s_change(req, arg, 1);
}

static const cf_route_t s_routes[] = {
    {"POST", "/api/v1/jobs", CF_ACCESS_ADMIN, cf_api_jobs_create, CF_ROUTE_JSON, CF_API_JOBS_BODY},
    {"GET", "/api/v1/jobs", CF_ACCESS_VIEWER, s_list, 0, 0},
    {"GET", "/api/v1/jobs/:id", CF_ACCESS_VIEWER, s_show, 0, 0},
    {"GET", "/api/v1/jobs/:id/agents", CF_ACCESS_VIEWER, s_agents, 0, 0},
    {"GET", "/api/v1/jobs/:id/events", CF_ACCESS_VIEWER, cf_api_jobs_watch, 0, 0},
    {"POST", "/api/v1/jobs/:id/cancel", CF_ACCESS_ADMIN, s_cancel, CF_ROUTE_JSON, 0},
    {"POST", "/api/v1/jobs/:id/retry", CF_ACCESS_ADMIN, s_retry, CF_ROUTE_JSON, 0},
};

size_t cf_api_jobs_routes(const cf_route_t **routes_out)
{
    *routes_out = s_routes;
    return sizeof(s_routes) / sizeof(s_routes[0]);
}
