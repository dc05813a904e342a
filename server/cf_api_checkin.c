/*  cf_api_checkin - the agent check-in's Redis work off the worker's loop: the check-ins of
    a loop turn gathered into few commands on the worker's asynchronous connection, each
    answered when its command returns  */
#include "cf_api_checkin.h"

#include <stdio.h>
#include <string.h>

#include "cf_api_agents.h"
#include "cf_db_agent_checkins.h"
#include "cf_db_job.h"
#include "cf_https.h"
#include "cf_log.h"
#include "cf_mem.h"
#include "cf_store_async.h"

#define S_PROTOCOL    1   /* check-in protocol this server speaks */
#define S_RETRY_AFTER "5" /* seconds an agent waits after a 503 unavailable */

/* One check-in waiting for its reply. */
typedef struct {
    cf_req_t *later;                    /* the deferred request (cf_req_finish) */
    char id[CF_DB_ID_MAX + 1];          /* the agent */
    char addr[CF_DB_ADDR_MAX + 1];      /* the address seen */
    cf_api_checkin_ask_t ask;           /* what the body asks */
    cf_err_t rc;                        /* the check-in script's outcome */
    cf_db_lock_t lock;                  /* the lock recorded */
    char favorite[CF_DB_ALIAS_MAX + 1]; /* the agent's favorite server */
    int64_t sendable;                   /* open jobs to hand out (counted by the script) */
    cf_why_t why;                       /* what went wrong */
} s_pending_t;

/* The check-ins of one command. */
typedef struct {
    cf_app_t *app;                     /* the app */
    size_t n;                          /* entries used in p */
    s_pending_t p[CF_DB_CHECKINS_MAX]; /* in the command's order */
} s_batch_t;

/* What one worker holds (cf_https_worker_data). */
typedef struct {
    cf_store_async_t *redis; /* this worker's asynchronous connection */
    struct event *send;      /* sends what the turn gathered, behind the turn's callbacks */
    s_batch_t *batch;        /* the check-ins gathered, NULL when none */
    cf_db_checkins_t cmd;    /* their command */
} s_worker_t;

static void s_on_send(evutil_socket_t fd, short what, void *arg);

cf_err_t cf_api_checkin_worker_new(struct event_base *base, void *arg, void **out)
{
    const cf_api_checkin_cfg_t *cfg = arg;
    const cf_store_script_t *checkins = cf_db_agent_checkins_script();
    *out = NULL;
    if (!checkins)
        return CF_ERR_NOMEM;
    s_worker_t *w = cf_mem_calloc(1, sizeof(*w));
    if (!w)
        return CF_ERR_NOMEM;
    cf_why_t why = {""};
    cf_err_t rc = cf_store_async_new(cfg->store, base, &w->redis, &why);
    if (rc == CF_OK)
        rc = cf_store_async_add_script(w->redis, checkins);
    if (rc == CF_OK) {
        w->send = event_new(base, -1, 0, s_on_send, w);
        rc = w->send ? CF_OK : CF_ERR_NOMEM;
    }
    if (rc != CF_OK) {
        cf_log(CF_LOG_ERROR, "msg=\"check-in client not created\" err=%s why=\"%s\"",
               cf_err_name(rc), cf_why_text(&why, rc));
        cf_api_checkin_worker_free(w, arg);
        return rc;
    }
    *out = w;
    return CF_OK;
}

/* 503 unavailable: the check-in was not stored, and why. */
static void s_unavailable(cf_req_t *req, const char *reason)
{
    if (cf_req_set_header(req, "Retry-After", S_RETRY_AFTER) != CF_OK)
        cf_log(CF_LOG_DEBUG, "msg=\"Retry-After left out\"");
    cf_req_reply_error(req, 503, "unavailable", "the check-in was not stored: %s", reason);
}

/* Every check-in of b answered 503 for reason; b freed. */
static void s_fail_all(s_batch_t *b, const char *reason)
{
    for (size_t i = 0; i < b->n; i++) {
        s_unavailable(b->p[i].later, reason);
        cf_req_finish(b->p[i].later);
    }
    cf_mem_free(b);
}

void cf_api_checkin_worker_free(void *data, void *arg)
{
    (void) arg;
    s_worker_t *w = data;
    if (!w)
        return;
    s_batch_t *b = w->batch;
    w->batch = NULL;
    if (b)
        s_fail_all(b, "the server is stopping");
    if (w->send)
        event_free(w->send);
    cf_store_async_destroy(&w->redis); /* the commands still out: 503 (s_on_done) */
    cf_mem_free(w);
}

/* The constant end of an answer without jobs. */
#define S_STR_(x) #x
#define S_STR(x)  S_STR_(x)
#define S_TAIL                                                                \
    ",\"interval\":" S_STR(CF_API_CHECKIN_INTERVAL_S) ",\"protocol\":" S_STR( \
        S_PROTOCOL) ",\"jobs\":[]}"
#define S_ANSWER_STACK 4096 /* an answer this long or shorter is built on the stack */

static char *s_put(char *p, const char *text, size_t len)
{
    memcpy(p, text, len);
    return p + len;
}

/* The answer without jobs (the common case) as text, put together from its pieces in one
   buffer: no JSON tree, no printf; every piece is JSON-safe (an address in canonical
   form, a lock name, a checked alias, the server list as jansson wrote it). 1 when sent. */
static int s_answer_text(cf_req_t *req, cf_app_t *app, cf_store_t **store, cf_store_t **taken,
                         const char *addr, cf_db_lock_t lock, const char *favorite)
{
    const char *servers = NULL;
    cf_err_t rc = cf_api_agents_servers_text(app, *store, &servers);
    if (rc == CF_ERR_NOTFOUND && !*store) { /* the cache is stale: reload through the pool */
        *store = *taken = cf_app_store_take(app);
        rc = cf_api_agents_servers_text(app, *store, &servers);
    }
    if (rc != CF_OK)
        return 0;
    int fav = favorite && *favorite && cf_db_check_alias(favorite) == CF_OK;
    const char *lname = cf_db_lock_name(lock);
    size_t alen = strlen(addr), llen = strlen(lname), flen = fav ? strlen(favorite) + 2 : 4;
    size_t slen = strlen(servers);
    static const char h1[] = "{\"seen_addr\":\"", h2[] = "\",\"lock\":\"",
                      h3[] = "\",\"favorite\":", h4[] = ",\"servers\":", tail[] = S_TAIL;
    size_t len = sizeof(h1) + alen + sizeof(h2) + llen + sizeof(h3) + flen + sizeof(h4) + slen +
                 sizeof(tail) - 5;
    char stack[S_ANSWER_STACK];
    char *text = len <= sizeof(stack) ? stack : cf_mem_malloc(len);
    if (!text)
        return 0;
    char *p = s_put(text, h1, sizeof(h1) - 1);
    p = s_put(s_put(p, addr, alen), h2, sizeof(h2) - 1);
    p = s_put(s_put(p, lname, llen), h3, sizeof(h3) - 1);
    if (fav) {
        *p++ = '"';
        p = s_put(p, favorite, flen - 2);
        *p++ = '"';
    } else {
        p = s_put(p, "null", 4);
    }
    p = s_put(s_put(p, h4, sizeof(h4) - 1), servers, slen);
    p = s_put(p, tail, sizeof(tail) - 1);
    CF_ASSERT((size_t) (p - text) == len);
    cf_req_reply_text(req, 200, "application/json", text, len);
    if (text != stack)
        cf_mem_free(text);
    return 1;
}

void cf_api_checkin_answer(cf_req_t *req, cf_app_t *app, cf_store_t *store, const char *id,
                           const char *addr, cf_db_lock_t lock, const char *favorite,
                           const cf_api_checkin_ask_t *ask, int jobs_maybe)
{
    cf_app_count(app, CF_APP_CHECKINS, 1);
    if (lock == CF_DB_LOCK_INSECURE)
        cf_app_count(app, CF_APP_CHECKINS_INSECURE, 1);
    int attention = lock == CF_DB_LOCK_ATTENTION;
    int jobs_wanted = !ask->no_jobs && (jobs_maybe || attention || ask->upgrade);
    cf_store_t *taken = NULL;
    json_t *servers = NULL, *jobs = NULL;
    if (!jobs_wanted && s_answer_text(req, app, &store, &taken, addr, lock, favorite)) {
        if (taken)
            cf_app_store_give(app, taken);
        return;
    }
    if (jobs_wanted && !store)
        store = taken = cf_app_store_take(app);
    jobs = jobs_wanted ? cf_api_agent_jobs(app, store, id, attention, ask->upgrade ? ask->proto : 0)
                       : json_array();
    cf_err_t rc = cf_api_agents_servers(app, store, &servers);
    if (rc == CF_ERR_NOTFOUND && !store) { /* the cache is stale: reload through the pool */
        store = taken = cf_app_store_take(app);
        rc = cf_api_agents_servers(app, store, &servers);
    }
    if (rc == CF_OK)
        cf_req_reply_json(req, 200,
                          json_pack("{s:s,s:s,s:s?,s:o,s:i,s:i,s:o}", "seen_addr", addr, "lock",
                                    cf_db_lock_name(lock), "favorite",
                                    favorite && *favorite ? favorite : NULL, "servers", servers,
                                    "interval", CF_API_CHECKIN_INTERVAL_S, "protocol", S_PROTOCOL,
                                    "jobs", jobs));
    else {
        json_decref(jobs);
        cf_app_reply_err(req, rc, cf_store_why(store), "check-in");
    }
    if (taken)
        cf_app_store_give(app, taken);
}

static void s_on_reply(void *arg, size_t i, const redisReply *r)
{
    (void) i;
    s_batch_t *b = arg;
    for (size_t k = 0; k < b->n; k++) {
        s_pending_t *p = &b->p[k];
        p->rc = cf_db_agent_checkins_reply(r, b->n, k, p->id, p->favorite, &p->lock, &p->sendable,
                                           &p->ask.upgrade, &p->why);
    }
}

/* Answer one check-in of a command that came back (rc: the command's outcome). The
   decoding gives CF_OK, CF_ERR_REVOKED or CF_ERR_CORRUPT; any other code is an error
   Redis raised in this check-in: 503, as when the whole command fails. */
static void s_answer(cf_app_t *app, s_pending_t *p, cf_err_t rc, const cf_why_t *why)
{
    cf_req_t *req = p->later;
    if (rc != CF_OK || (p->rc != CF_OK && p->rc != CF_ERR_REVOKED && p->rc != CF_ERR_CORRUPT)) {
        const cf_why_t *w = rc != CF_OK ? why : &p->why;
        cf_err_t code = rc != CF_OK ? rc : p->rc;
        cf_log(CF_LOG_WARN, "msg=\"check-in not stored\" agent=%s err=%s why=\"%s\"", p->id,
               cf_err_name(code), cf_why_text(w, code));
        s_unavailable(req, cf_why_text(w, code));
    } else if (p->rc == CF_ERR_REVOKED) {
        cf_req_reply_error(req, 403, "forbidden", "agent %s is revoked", p->id);
    } else if (p->rc != CF_OK) {
        cf_app_reply_err(req, p->rc, &p->why, "check-in");
    } else {
        cf_api_checkin_answer(req, app, NULL, p->id, p->addr, p->lock, p->favorite, &p->ask,
                              p->sendable > 0);
    }
    cf_req_finish(req);
}

static void s_on_done(void *arg, cf_err_t rc, const cf_why_t *why)
{
    s_batch_t *b = arg;
    for (size_t k = 0; k < b->n; k++)
        s_answer(b->app, &b->p[k], rc, why);
    cf_mem_free(b);
}

/* Send the gathered check-ins as one command; a full one is written at once. */
static void s_send(s_worker_t *w)
{
    s_batch_t *b = w->batch;
    w->batch = NULL;
    if (!b)
        return;
    if (b->n == 0) {
        cf_mem_free(b);
        return;
    }
    cf_store_async_cmd_t cmd = {cf_db_agent_checkins_script(), 0, 0, NULL, NULL};
    cmd.argv = cf_db_agent_checkins_argv(&w->cmd, &cmd.nkeys, &cmd.argc);
    cf_why_t why = {""};
    cf_err_t rc = cf_store_async_send(w->redis, &cmd, 1, s_on_reply, s_on_done, b, &why);
    cf_db_agent_checkins_clear(&w->cmd);
    if (rc != CF_OK)
        s_fail_all(b, cf_why_text(&why, rc));
    else if (b->n == CF_DB_CHECKINS_MAX)
        cf_store_async_write(w->redis);
}

static void s_on_send(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    s_send(arg);
}

int cf_api_checkin_async(cf_app_t *app, cf_req_t *req, const cf_db_checkin_t *in,
                         const cf_api_checkin_ask_t *ask)
{
    s_worker_t *w = cf_https_worker_data();
    if (!w || !w->redis)
        return 0;
    if (w->batch && !cf_db_agent_checkins_fits(&w->cmd, in))
        s_send(w);
    if (!w->batch) {
        w->batch = cf_mem_malloc(sizeof(*w->batch));
        if (!w->batch)
            return 0; /* out of memory: the synchronous path answers, or fails the same way */
        w->batch->app = app;
        w->batch->n = 0;
        cf_db_agent_checkins_clear(&w->cmd);
    }
    cf_req_t *later = cf_req_defer(req);
    if (!later)
        return 0;
    if (cf_db_agent_checkins_add(&w->cmd, in) != CF_OK) {
        cf_req_reply_error(later, 400, "invalid_request", "the check-in's fields are malformed");
        cf_req_finish(later);
        return 1;
    }
    s_pending_t *p = &w->batch->p[w->batch->n++];
    p->later = later;
    p->ask = *ask;
    p->rc = CF_ERR_IO;
    p->lock = in->lock;
    p->favorite[0] = '\0';
    p->sendable = 0;
    p->why.text[0] = '\0';
    /* both checked by cf_db_agent_checkins_add: they fit */
    memcpy(p->id, in->id, strlen(in->id) + 1);
    memcpy(p->addr, in->addr, strlen(in->addr) + 1);
    if (w->batch->n == CF_DB_CHECKINS_MAX)
        s_send(w);
    else if (w->batch->n == 1)
        event_active(w->send, EV_TIMEOUT, 0);
    return 1;
}
