/*  cf_api_agents_list - GET /api/v1/agents: the agents page with its filters (lock, server,
    IP range, last check-in window) and the fleet's counts  */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_api_agents.h"
#include "cf_db_agent.h"
#include "cf_iprange.h"
#include "cf_mem.h"

#define S_SCAN 10000 /* agents a page with a server or range filter reads at most */

/* The filters of one request. */
typedef struct {
    cf_db_agent_filter_t f;          /* what the store applies */
    const char *server;              /* ?server= (borrowed), NULL: any */
    int has_range;                   /* 1: ?ip_range= given */
    cf_iprange_t range;              /* ... parsed */
    char alias[CF_DB_ALIAS_MAX + 1]; /* server lowercased */
} s_filter_t;

/* The predicate of cf_db_agent_find: the server and range filters. */
static int s_keep(const cf_db_agent_t *a, void *arg)
{
    const s_filter_t *q = arg;
    if (q->server && strcmp(a->server, q->alias) != 0)
        return 0;
    return !q->has_range || (a->last_addr[0] && cf_iprange_contains_text(&q->range, a->last_addr));
}

/* A unix time from ?name=: digits, 0..INT64_MAX. 1 with *out (unchanged when absent). */
static int s_time(cf_req_t *req, const char *name, int64_t *out)
{
    const char *v = cf_req_query(req, name);
    if (!v)
        return 1;
    char *end = NULL;
    errno = 0;
    long long t = isdigit((unsigned char) v[0]) ? strtoll(v, &end, 10) : -1;
    if (!end || *end || errno || t < 0) {
        cf_req_reply_error(req, 400, "invalid_request", "%s must be unix seconds", name);
        return 0;
    }
    *out = (int64_t) t;
    return 1;
}

/* Parse the filters; 0 after answering 400. */
static int s_filters(cf_req_t *req, s_filter_t *q)
{
    const char *lock = cf_req_query(req, "lock"), *range = cf_req_query(req, "ip_range");
    memset(q, 0, sizeof(*q));
    q->f.lock = CF_DB_LOCK_COUNT; /* all */
    q->f.seen_max = INT64_MAX;
    if (lock && cf_db_lock_from_name(lock, &q->f.lock) != CF_OK) {
        cf_req_reply_error(req, 400, "invalid_request",
                           "lock must be secure, attention, insecure or expired");
        return 0;
    }
    q->server = cf_req_query(req, "server");
    for (size_t i = 0; q->server && q->server[i] && i < CF_DB_ALIAS_MAX + 1; i++)
        q->alias[i] = (char) tolower((unsigned char) q->server[i]);
    if (q->server &&
        (strlen(q->server) > CF_DB_ALIAS_MAX || cf_db_check_alias(q->alias) != CF_OK)) {
        cf_req_reply_error(req, 400, "invalid_request", "server is not a server alias");
        return 0;
    }
    cf_why_t why = {{0}};
    if (range && cf_iprange_parse(range, &q->range, &why) != CF_OK) {
        cf_req_reply_error(req, 400, "invalid_request", "ip_range: %s", why.text);
        return 0;
    }
    q->has_range = range != NULL;
    int64_t before = 0;
    if (!s_time(req, "seen_after", &q->f.seen_min) || !s_time(req, "seen_before", &before))
        return 0;
    if (cf_req_query(req, "seen_before"))
        q->f.seen_max = before - 1; /* strictly before */
    if (q->f.seen_max < q->f.seen_min) {
        cf_req_reply_error(req, 400, "invalid_request", "seen_before must be after seen_after");
        return 0;
    }
    if (q->server || q->has_range) {
        q->f.keep = s_keep;
        q->f.arg = q;
    }
    return 1;
}

/* The list answer: agents, cursor ("" = done), the counts per lock state and the total. */
static json_t *s_list_json(const cf_db_agent_t *list, size_t n, const char *next,
                           const cf_db_agent_counts_t *counts)
{
    json_t *agents = json_array();
    for (size_t i = 0; agents && i < n; i++) {
        if (json_array_append_new(agents, cf_api_agent_json(&list[i])) != 0) {
            json_decref(agents);
            agents = NULL;
        }
    }
    json_t *c = json_object();
    for (int i = 0; c && i < CF_DB_LOCK_COUNT; i++) {
        if (json_object_set_new(c, cf_db_lock_name((cf_db_lock_t) i),
                                json_integer((json_int_t) counts->n[i])) != 0) {
            json_decref(c);
            c = NULL;
        }
    }
    return json_pack("{s:o,s:s?,s:o,s:I}", "agents", agents, "cursor", next[0] ? next : NULL,
                     "counts", c, "total", (json_int_t) counts->total);
}

void cf_api_agents_list(cf_req_t *req, void *arg)
{
    cf_app_t *app = arg;
    s_filter_t q;
    size_t limit = 0, n = 0;
    const char *cursor = NULL;
    if (!s_filters(req, &q) || !cf_api_page_args(req, &limit, &cursor))
        return;
    cf_db_agent_t *list = NULL;
    cf_db_agent_counts_t counts;
    char next[CF_DB_CURSOR_MAX];
    size_t scan = q.f.keep && limit < S_SCAN ? S_SCAN : limit;
    cf_store_t *store = cf_app_store_take(app);
    cf_err_t rc = cf_db_agent_find(store, &q.f, cursor, limit, scan, &list, &n, next);
    if (rc == CF_OK)
        rc = cf_db_agent_counts(store, &counts);
    json_t *answer = rc == CF_OK ? s_list_json(list, n, next, &counts) : NULL;
    if (answer)
        cf_req_reply_json(req, 200, answer);
    else
        cf_app_reply_err(req, rc == CF_OK ? CF_ERR_NOMEM : rc, cf_store_why(store), "agents");
    cf_mem_free(list);
    cf_app_store_give(app, store);
}
