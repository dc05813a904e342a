/*  cf_api_jobs_watch - GET /api/v1/jobs/:id/events: a job's progress as server-sent events
    (docs/API.md "Jobs", docs/jobs.md section 5)  */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cf_api_jobs_int.h"
#include "cf_db_job_ev.h"
#include "cf_log.h"
#include "cf_mem.h"

#define S_TICK_MS      250               /* poll of the job's stream */
#define S_BURST_MS     10                /* next poll when a read came back full */
#define S_JOB_MS       1000              /* a job event at least this often while changes flow */
#define S_IDLE_MS      5000              /* ... and this often when nothing moves (keep-alive) */
#define S_BACKLOG      (1024 * 1024)     /* unsent bytes above which we stop reading */
#define S_MAX_FAILS    120               /* ticks in a row Redis may fail (30 s) before we end */
#define S_OUT_MAX      (4 * 1024 * 1024) /* one tick's text, bytes */
#define S_RETRY_EVENTS "retry: 1000\n\n" /* reconnect after 1 s (EventSource clients) */

/* One watcher. */
typedef struct {
    cf_app_t *app;                      /* the app (borrowed) */
    char id[CF_DB_JOB_ID_LEN + 1];      /* the job */
    char last[CF_DB_JOB_EV_ID_MAX + 1]; /* last stream id sent, "" for none */
    int64_t last_job_ms;                /* when the last job event went out */
    int dirty;                          /* changes went out since that job event */
    int done;                           /* the last job read had done set */
    int fails;                          /* ticks in a row that Redis failed */
    struct {
        char *p;    /* text of the events of this tick (owned) */
        size_t len; /* bytes in p */
        size_t cap; /* room in p */
    } out;
} s_watch_t;

static int64_t s_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t) t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void s_watch_free(void *arg)
{
    s_watch_t *w = arg;
    cf_mem_free(w->out.p);
    cf_mem_free(w);
}

/* Append len bytes to the tick's text. */
static cf_err_t s_add(s_watch_t *w, const char *p, size_t len)
{
    if (w->out.len + len > S_OUT_MAX)
        return CF_ERR_TOOBIG;
    if (w->out.len + len > w->out.cap) {
        size_t cap = w->out.cap ? w->out.cap : 4096;
        while (cap < w->out.len + len)
            cap *= 2;
        char *grown = cf_mem_realloc(w->out.p, cap);
        if (!grown)
            return CF_ERR_NOMEM;
        w->out.p = grown;
        w->out.cap = cap;
    }
    memcpy(w->out.p + w->out.len, p, len);
    w->out.len += len;
    return CF_OK;
}

/* One event: "id: ID\n" (when id), "event: TYPE\n", "data: JSON\n\n"; data is stolen. */
static cf_err_t s_event(s_watch_t *w, const char *id, const char *type, json_t *data)
{
    char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    if (!text)
        return CF_ERR_NOMEM;
    char head[CF_DB_JOB_EV_ID_MAX + 48];
    int n = snprintf(head, sizeof(head), "%s%s%sevent: %s\ndata: ", id ? "id: " : "", id ? id : "",
                     id ? "\n" : "", type);
    cf_err_t rc = s_add(w, head, (size_t) n);
    if (rc == CF_OK)
        rc = s_add(w, text, strlen(text));
    if (rc == CF_OK)
        rc = s_add(w, "\n\n", 2);
    json_malloc_t jmalloc = NULL;
    json_free_t jfree = NULL;
    json_get_alloc_funcs(&jmalloc, &jfree); /* json_dumps allocates with jansson's allocator */
    jfree(text);
    return rc;
}

/* A reason as a JSON string: as stored when it is UTF-8, else with '?' for bytes >= 0x80. */
static json_t *s_reason(const char *reason)
{
    if (!reason[0])
        return json_null();
    json_t *s = json_string(reason);
    if (s)
        return s;
    char ascii[CF_DB_JOB_REASON_MAX + 1];
    size_t i = 0;
    for (; reason[i] && i < CF_DB_JOB_REASON_MAX; i++)
        ascii[i] = (unsigned char) reason[i] >= 0x80 ? '?' : reason[i];
    ascii[i] = '\0';
    return json_string(ascii);
}

/* The changes of the stream after w->last into the tick's text; *n_out entries read. */
static cf_err_t s_changes(s_watch_t *w, cf_store_t *store, size_t *n_out)
{
    cf_db_job_ev_t *ev = NULL;
    size_t n = 0;
    *n_out = 0;
    CF_TRY(cf_db_job_events(store, w->id, w->last, CF_DB_JOB_EV_MAX, &ev, &n));
    cf_err_t rc = CF_OK;
    for (size_t i = 0; rc == CF_OK && i < n; i++) {
        if (ev[i].agent[0]) /* the "created" entry is no change: only its id counts */
            rc = s_event(w, ev[i].id, "change",
                         json_pack("{s:s,s:s,s:s,s:o}", "agent", ev[i].agent, "from", ev[i].from,
                                   "to", ev[i].to, "reason", s_reason(ev[i].reason)));
        if (rc == CF_OK)
            snprintf(w->last, sizeof(w->last), "%s", ev[i].id);
    }
    cf_mem_free(ev);
    *n_out = n;
    return rc;
}

/* Read what is due (the job first, then the stream: a job seen done has all its changes
   in the stream by then) and add the events; *end when the watch is over. */
static cf_err_t s_poll(s_watch_t *w, cf_store_t *store, int64_t now, int *end, size_t *n_out)
{
    cf_db_job_t job;
    int due = w->done || now - w->last_job_ms >= S_IDLE_MS ||
              (w->dirty && now - w->last_job_ms >= S_JOB_MS);
    if (due)
        CF_TRY(cf_db_job_get(store, w->id, &job));
    CF_TRY(s_changes(w, store, n_out));
    if (*n_out > 0)
        w->dirty = 1;
    if (!due)
        return CF_OK;
    w->done = job.done > 0;
    *end = w->done && *n_out < CF_DB_JOB_EV_MAX; /* done, and every change sent */
    w->last_job_ms = now;
    w->dirty = 0;
    return s_event(w, w->last[0] ? w->last : NULL, *end ? "done" : "job", cf_api_jobs_json(&job));
}

static void s_tick(cf_req_stream_t *stream, void *arg)
{
    s_watch_t *w = arg;
    if (cf_req_stream_pending(stream) > S_BACKLOG)
        return; /* a slow client: read again once it took what it has */
    int end = 0;
    size_t n = 0;
    w->out.len = 0;
    cf_store_t *store = cf_app_store_take(w->app);
    cf_err_t rc = s_poll(w, store, s_now_ms(), &end, &n);
    if (rc != CF_OK && ++w->fails % 20 == 1)
        cf_log(CF_LOG_WARN, "msg=\"job watch cannot read\" job=%s err=%s why=\"%s\"", w->id,
               cf_err_name(rc), cf_store_why(store) ? cf_store_why(store)->text : "");
    cf_app_store_give(w->app, store);
    if (rc == CF_OK)
        w->fails = 0;
    if (rc == CF_ERR_NOTFOUND || w->fails > S_MAX_FAILS)
        end = 1; /* the job is gone (expired keys), or Redis is away for long */
    if (w->out.len && cf_req_stream_write(stream, w->out.p, w->out.len) != CF_OK)
        end = 1;
    if (end)
        cf_req_stream_end(stream);
    else if (n == CF_DB_JOB_EV_MAX)
        cf_req_stream_next(stream, S_BURST_MS); /* catching up: read on soon */
}

/* The stream id to resume after: Last-Event-ID, else ?after=, else "". 0 after a 400. */
static int s_after(cf_req_t *req, char *after)
{
    const char *v = cf_req_header(req, "Last-Event-ID");
    if (!v || !*v)
        v = cf_req_query(req, "after");
    if (!v || !*v) {
        after[0] = '\0';
        return 1;
    }
    if (!cf_db_job_ev_id_ok(v)) {
        cf_req_reply_error(req, 400, "invalid_request",
                           "Last-Event-ID / after must be a stream id (<ms>-<seq>)");
        return 0;
    }
    snprintf(after, CF_DB_JOB_EV_ID_MAX + 1, "%s", v);
    return 1;
}

/* The first events: retry, and the job as it is now. */
static cf_err_t s_first(s_watch_t *w, const cf_db_job_t *job)
{
    CF_TRY(s_add(w, S_RETRY_EVENTS, strlen(S_RETRY_EVENTS)));
    w->last_job_ms = s_now_ms();
    w->done = job->done > 0; /* the first tick then sends what is left and done */
    return s_event(w, w->last[0] ? w->last : NULL, "job", cf_api_jobs_json(job));
}

/* Answer a start that failed (nothing was answered yet). */
static void s_refuse(cf_req_t *req, cf_err_t rc)
{
    if (rc != CF_ERR_TOOBIG) {
        cf_app_reply_err(req, rc, NULL, "watch");
        return;
    }
    if (cf_req_set_header(req, "Retry-After", "5") != CF_OK)
        cf_log(CF_LOG_WARN, "msg=\"no Retry-After on a busy answer\"");
    cf_req_reply_error(req, 503, "busy", "too many watchers on this server; try another");
}

void cf_api_jobs_watch(cf_req_t *req, void *arg)
{
    cf_app_t *app = arg;
    const char *id = cf_req_param(req, "id");
    if (!id || cf_db_check_job_id(id) != CF_OK) {
        cf_req_reply_error(req, 400, "invalid_request", "a job id is 32 lowercase hex digits");
        return;
    }
    s_watch_t *w = cf_mem_calloc(1, sizeof(*w));
    if (!w) {
        cf_app_reply_err(req, CF_ERR_NOMEM, NULL, "watch");
        return;
    }
    w->app = app;
    snprintf(w->id, sizeof(w->id), "%s", id);
    cf_db_job_t job;
    cf_err_t rc = CF_ERR_INVALID; /* s_after answered */
    if (s_after(req, w->last)) {
        cf_store_t *store = cf_app_store_take(app);
        rc = cf_db_job_get(store, id, &job);
        if (rc != CF_OK)
            cf_app_reply_err(req, rc, cf_store_why(store), "job");
        cf_app_store_give(app, store);
    }
    if (rc != CF_OK) {
        s_watch_free(w);
        return;
    }
    cf_req_stream_t *stream = NULL;
    cf_req_stream_cfg_t cfg = {"text/event-stream", S_TICK_MS, s_tick, s_watch_free, w};
    rc = s_first(w, &job);
    if (rc == CF_OK)
        rc = cf_req_stream_start(req, &cfg, &stream);
    if (rc != CF_OK) {
        s_refuse(req, rc);
        s_watch_free(w);
        return;
    }
    /* the stream owns w now (freed already for HEAD, where stream is NULL) */
    if (stream && cf_req_stream_write(stream, w->out.p, w->out.len) != CF_OK)
        cf_req_stream_end(stream);
}
