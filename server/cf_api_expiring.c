/*  cf_api_expiring - GET /api/v1/certs/expiring: what expires fleet-wide within N days, the
    certificate records and the agents' certificates as seen at check-in, soonest first  */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cf_app.h"
#include "cf_db_agent.h"
#include "cf_db_cert.h"
#include "cf_mem.h"
#include "cf_router.h"

#define S_DAYS_DEFAULT 30                   /* ?days= when absent */
#define S_DAYS_MAX     36500                /* ?days= at most (100 years) */
#define S_LIMIT        100                  /* entries in a page when ?limit= is absent */
#define S_RECORDS_MAX  4096                 /* certificate records read per component */
#define S_KEY_MAX      (8 + CF_DB_NAME_MAX) /* "<component>/<name>" or an agent id */
#define S_CURSOR_MAX   (24 + S_KEY_MAX)     /* "<not_after>:<r|a>:<key>", with the NUL */

/* A place in the answer's order: (not_after, records before agents, key bytes). */
typedef struct {
    int64_t not_after;       /* expiry, unix seconds */
    int agent;               /* 0: a certificate record, 1: an agent's check-in certificate */
    char key[S_KEY_MAX + 1]; /* "<component>/<name>" of a record, the id of an agent */
} s_pos_t;

/* A record that falls in the window. */
typedef struct {
    s_pos_t pos;             /* its place */
    const cf_db_cert_t *rec; /* borrowed from the lists */
} s_rec_t;

/* The request. */
typedef struct {
    int64_t now, until; /* unix seconds; until = now + days */
    long days;          /* ?days= */
    size_t limit;       /* ?limit= */
    int has_cursor;     /* 1: start after cursor */
    s_pos_t cursor;     /* ?cursor= parsed */
} s_args_t;

static int s_cmp(const s_pos_t *a, const s_pos_t *b)
{
    if (a->not_after != b->not_after)
        return a->not_after < b->not_after ? -1 : 1;
    if (a->agent != b->agent)
        return a->agent - b->agent;
    return strcmp(a->key, b->key);
}

static int s_rec_cmp(const void *a, const void *b)
{
    return s_cmp(&((const s_rec_t *) a)->pos, &((const s_rec_t *) b)->pos);
}

/* A decimal number min..max from text; 0 when it is not one. */
static int s_num(const char *text, long long min, long long max, long long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = isdigit((unsigned char) text[0]) ? strtoll(text, &end, 10) : -1;
    if (!end || *end || errno || v < min || v > max)
        return 0;
    *out = v;
    return 1;
}

/* "<not_after>:<r|a>:<key>" into *pos. */
static int s_cursor_parse(const char *text, s_pos_t *pos)
{
    char num[24];
    long long na = 0;
    const char *c1 = strchr(text, ':');
    if (strlen(text) >= S_CURSOR_MAX || !c1 || c1 == text || (size_t) (c1 - text) >= sizeof(num))
        return 0;
    memcpy(num, text, (size_t) (c1 - text));
    num[c1 - text] = '\0';
    if (!s_num(num, 1, INT64_MAX, &na) || (c1[1] != 'r' && c1[1] != 'a') || c1[2] != ':')
        return 0;
    pos->not_after = na;
    pos->agent = c1[1] == 'a';
    snprintf(pos->key, sizeof(pos->key), "%s", c1 + 3);
    if (pos->agent)
        return cf_db_check_agent_id(pos->key) == CF_OK;
    const char *slash = strchr(pos->key, '/');
    return slash && slash != pos->key && cf_db_check_cert_name(slash + 1) == CF_OK;
}

/* ?days=, ?limit= and ?cursor=; 0 after answering 400. */
static int s_args(cf_req_t *req, s_args_t *a)
{
    const char *days = cf_req_query(req, "days"), *limit = cf_req_query(req, "limit");
    const char *cursor = cf_req_query(req, "cursor");
    long long v = 0;
    memset(a, 0, sizeof(*a));
    a->days = S_DAYS_DEFAULT;
    a->limit = S_LIMIT;
    if (days && !s_num(days, 0, S_DAYS_MAX, &v)) {
        cf_req_reply_error(req, 400, "invalid_request", "days must be 0..%d", S_DAYS_MAX);
        return 0;
    }
    if (days)
        a->days = (long) v;
    if (limit && !s_num(limit, 1, CF_DB_PAGE_MAX, &v)) {
        cf_req_reply_error(req, 400, "invalid_request", "limit must be 1..%d", CF_DB_PAGE_MAX);
        return 0;
    }
    if (limit)
        a->limit = (size_t) v;
    if (cursor && *cursor && !s_cursor_parse(cursor, &a->cursor)) {
        cf_req_reply_error(req, 400, "invalid_request", "cursor is not one of ours");
        return 0;
    }
    a->has_cursor = cursor && *cursor;
    a->now = (int64_t) time(NULL);
    a->until = a->now + (int64_t) a->days * 86400;
    return 1;
}

/* Whole days from now to not_after, rounded toward minus infinity (cf_cert_days_left). */
static long long s_days_left(int64_t not_after, int64_t now)
{
    long long secs = (long long) not_after - (long long) now;
    long long days = secs / 86400;
    if (secs < 0 && secs % 86400 != 0)
        days--;
    return days;
}

/* One entry of the answer. rec or agent (the other NULL). */
static json_t *s_entry(const s_args_t *a, const cf_db_cert_t *rec, const cf_db_agent_t *agent,
                       int64_t not_after)
{
    const char *comp = rec ? cf_component_name(rec->component) : "agent";
    const char *name = rec ? rec->name : agent->id;
    return json_pack("{s:s,s:s,s:s?,s:s,s:s,s:s,s:I,s:I,s:b,s:s?}", "component", comp, "name", name,
                     "agent", rec ? NULL : agent->id, "source", rec ? "record" : "checkin",
                     "serial", rec ? rec->serial : agent->cert_serial, "fingerprint",
                     rec ? rec->fingerprint : agent->cert_fp, "not_after", (json_int_t) not_after,
                     "days_left", (json_int_t) s_days_left(not_after, a->now), "expired",
                     not_after <= a->now, "lock", rec ? NULL : cf_db_lock_name(agent->lock));
}

/* The records of every component in the window after the cursor, sorted, into *out
   (cf_mem_free); the lists into recs/n (cf_db_cert_list_free). */
static cf_err_t s_records(cf_store_t *store, const s_args_t *a, cf_db_cert_t *recs[3], size_t n[3],
                          s_rec_t **out, size_t *n_out)
{
    static const cf_component_t comps[3] = {CF_COMPONENT_SERVER, CF_COMPONENT_CONSOLE,
                                            CF_COMPONENT_AGENT};
    size_t total = 0, k = 0;
    for (int c = 0; c < 3; c++) {
        CF_TRY(cf_db_cert_list(store, comps[c], S_RECORDS_MAX, &recs[c], &n[c]));
        total += n[c];
    }
    s_rec_t *list = cf_mem_calloc(total ? total : 1, sizeof(*list));
    if (!list)
        return CF_ERR_NOMEM;
    for (int c = 0; c < 3; c++) {
        for (size_t i = 0; i < n[c]; i++) {
            s_rec_t *r = &list[k];
            r->rec = &recs[c][i];
            r->pos.not_after = recs[c][i].not_after;
            snprintf(r->pos.key, sizeof(r->pos.key), "%s/%s", cf_component_name(comps[c]),
                     recs[c][i].name);
            if (r->pos.not_after <= a->until && (!a->has_cursor || s_cmp(&r->pos, &a->cursor) > 0))
                k++;
        }
    }
    qsort(list, k, sizeof(*list), s_rec_cmp);
    *out = list;
    *n_out = k;
    return CF_OK;
}

/* The merge of both sorted lists, at most limit entries consumed, into arr; *last is the
   last one consumed, *more 1 when there may be more after it. An agent whose record went
   or moved on to another certificate is consumed but not shown (it shows at its new place). */
static cf_err_t s_merge(const s_args_t *a, const s_rec_t *recs, size_t nr,
                        const cf_db_expiry_t *ags, size_t nag, json_t *arr, s_pos_t *last,
                        int *more)
{
    size_t i = 0, j = 0, used = 0;
    while (used < a->limit && (i < nr || j < nag)) {
        json_t *e = NULL;
        if (i < nr && (j == nag || recs[i].pos.not_after <= ags[j].not_after)) {
            *last = recs[i].pos;
            e = s_entry(a, recs[i++].rec, NULL, last->not_after);
        } else {
            const cf_db_expiry_t *x = &ags[j++];
            *last = (s_pos_t){x->not_after, 1, ""};
            snprintf(last->key, sizeof(last->key), "%s", x->agent.id);
            if (x->found && x->agent.cert_not_after == x->not_after && x->agent.cert_fp[0])
                e = s_entry(a, NULL, &x->agent, x->not_after);
            else
                e = json_null(); /* skipped */
        }
        used++;
        if (!e || (!json_is_null(e) && json_array_append(arr, e) != 0)) {
            json_decref(e);
            return CF_ERR_NOMEM;
        }
        json_decref(e);
    }
    *more = used == a->limit && (i < nr || j < nag || nag == a->limit);
    return CF_OK;
}

/* The answer: {"certs","cursor","days","now","until"}. */
static json_t *s_answer(const s_args_t *a, json_t *arr, const s_pos_t *last, int more)
{
    char cursor[S_CURSOR_MAX + 32];
    if (more)
        snprintf(cursor, sizeof(cursor), "%lld:%c:%s", (long long) last->not_after,
                 last->agent ? 'a' : 'r', last->key);
    return json_pack("{s:o,s:s?,s:i,s:I,s:I}", "certs", arr, "cursor", more ? cursor : NULL, "days",
                     (int) a->days, "now", (json_int_t) a->now, "until", (json_int_t) a->until);
}

/* GET /api/v1/certs/expiring?days=&limit=&cursor= (7 RT: the three record lists, the
   index page and its records). */
static void s_expiring(cf_req_t *req, void *arg)
{
    cf_app_t *app = arg;
    s_args_t a;
    if (!s_args(req, &a))
        return;
    cf_db_cert_t *recs[3] = {NULL, NULL, NULL};
    size_t n[3] = {0, 0, 0}, nr = 0, nag = 0;
    s_rec_t *list = NULL;
    cf_db_expiry_t *ags = NULL;
    s_pos_t last = {0, 0, ""};
    int more = 0;
    json_t *arr = json_array(), *answer = NULL;
    cf_store_t *store = cf_app_store_take(app);
    cf_err_t rc = arr ? s_records(store, &a, recs, n, &list, &nr) : CF_ERR_NOMEM;
    if (rc == CF_OK)
        rc = cf_db_agent_expiring(store, a.has_cursor ? a.cursor.not_after : 0,
                                  a.has_cursor && a.cursor.agent ? a.cursor.key : NULL, a.until,
                                  a.limit, &ags, &nag);
    if (rc == CF_OK)
        rc = s_merge(&a, list, nr, ags, nag, arr, &last, &more);
    if (rc == CF_OK) {
        answer = s_answer(&a, arr, &last, more);
        arr = NULL; /* the answer took it (or freed it) */
    }
    if (answer)
        cf_req_reply_json(req, 200, answer);
    else
        cf_app_reply_err(req, rc == CF_OK ? CF_ERR_NOMEM : rc, cf_store_why(store),
                         "expiring certificates");
    cf_app_store_give(app, store);
    json_decref(arr);
    cf_mem_free(list);
    cf_mem_free(ags);
    for (int c = 0; c < 3; c++)
        cf_db_cert_list_free(&recs[c], n[c]);
}

static const cf_route_t s_routes[] = {
    {"GET", "/api/v1/certs/expiring", CF_ACCESS_VIEWER, s_expiring, 0, 0},
};

size_t cf_api_expiring_routes(const cf_route_t **routes_out)
{
    *routes_out = s_routes;
    return sizeof(s_routes) / sizeof(s_routes[0]);
}
