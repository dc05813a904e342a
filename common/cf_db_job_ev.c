/*  cf_db_job_ev - reading a job's stream of changes (cf:job:{<id>}:ev) after a stream id  */
#include "cf_db_job_ev.h"

#include <stdio.h>
#include <string.h>

#include "cf_db_util.h"
#include "cf_mem.h"

/* n decimal digits, 1..max of them. */
static int s_digits(const char *p, size_t n, size_t max)
{
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return 1;
}

int cf_db_job_ev_id_ok(const char *text)
{
    if (!text)
        return 0;
    size_t len = strnlen(text, CF_DB_JOB_EV_ID_MAX + 1);
    const char *dash = memchr(text, '-', len);
    if (len > CF_DB_JOB_EV_ID_MAX || !dash)
        return 0;
    size_t ms = (size_t) (dash - text);
    return s_digits(text, ms, 20) && s_digits(dash + 1, len - ms - 1, 19);
}

/* A state name as stored: [a-z_], 1..CF_DB_JOB_EV_STATE bytes. */
static int s_state_ok(const redisReply *v)
{
    if (v->type != REDIS_REPLY_STRING || v->len == 0 || v->len > CF_DB_JOB_EV_STATE)
        return 0;
    for (size_t i = 0; i < v->len; i++)
        if ((v->str[i] < 'a' || v->str[i] > 'z') && v->str[i] != '_')
            return 0;
    return 1;
}

/* The reason as stored, cut at the cap, control characters as '?'. */
static void s_reason(const redisReply *v, char *out)
{
    size_t n = v->len < CF_DB_JOB_REASON_MAX ? v->len : CF_DB_JOB_REASON_MAX;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) v->str[i];
        out[i] = c < 0x20 || c == 0x7f ? '?' : (char) c;
    }
    out[n] = '\0';
}

/* One field of an entry into e. */
static cf_err_t s_field(const redisReply *f, const redisReply *v, cf_db_job_ev_t *e)
{
    if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
        return CF_ERR_CORRUPT;
    if (f->len == 5 && memcmp(f->str, "agent", 5) == 0) {
        if (v->len == 0 || v->len > CF_DB_ID_MAX)
            return CF_ERR_CORRUPT;
        memcpy(e->agent, v->str, v->len);
        e->agent[v->len] = '\0';
        return cf_db_check_agent_id(e->agent) == CF_OK ? CF_OK : CF_ERR_CORRUPT;
    }
    int from = f->len == 4 && memcmp(f->str, "from", 4) == 0;
    if (from || (f->len == 2 && memcmp(f->str, "to", 2) == 0)) {
        if (!s_state_ok(v))
            return CF_ERR_CORRUPT;
        memcpy(from ? e->from : e->to, v->str, v->len);
        (from ? e->from : e->to)[v->len] = '\0';
    } else if (f->len == 6 && memcmp(f->str, "reason", 6) == 0) {
        s_reason(v, e->reason);
    }
    return CF_OK; /* other fields (event, total) are not a change's */
}

/* Decode one XRANGE entry [id, [field, value, ...]]. */
static cf_err_t s_entry(cf_store_t *store, const redisReply *r, cf_db_job_ev_t *e)
{
    cf_why_t *why = cf_db_why(store);
    CF_TRY(cf_db_r_array(r, 2, 2, "job event", why));
    CF_TRY(cf_db_r_text(r->element[0], 0, e->id, CF_DB_JOB_EV_ID_MAX, "job event id", why));
    const redisReply *fv = r->element[1];
    if (!cf_db_job_ev_id_ok(e->id) || cf_db_r_array(fv, 0, 32, "job event fields", why) != CF_OK ||
        fv->elements % 2)
        return cf_db_fail(store, CF_ERR_CORRUPT, "job event %s: malformed", e->id);
    for (size_t i = 0; i < fv->elements; i += 2)
        if (s_field(fv->element[i], fv->element[i + 1], e) != CF_OK)
            return cf_db_fail(store, CF_ERR_CORRUPT, "job event %s: malformed field", e->id);
    if (e->agent[0] && (!e->from[0] || !e->to[0]))
        return cf_db_fail(store, CF_ERR_CORRUPT, "job event %s: a change without states", e->id);
    if (!e->agent[0]) /* not a change: nothing but its id */
        e->from[0] = e->to[0] = e->reason[0] = '\0';
    return CF_OK;
}

static cf_err_t s_entry_fn(cf_store_t *store, const redisReply *r, void *e)
{
    return s_entry(store, r, e);
}

cf_err_t cf_db_job_events(cf_store_t *store, const char *id, const char *after, size_t max,
                          cf_db_job_ev_t **list_out, size_t *n_out)
{
    CF_ASSERT(store && list_out && n_out);
    *list_out = NULL;
    *n_out = 0;
    char key[CF_DB_KEY_MAX], start[CF_DB_JOB_EV_ID_MAX + 2];
    if (cf_db_key_job(key, id, CF_DB_KS_JOB_EV) != CF_OK || max == 0 || max > CF_DB_JOB_EV_MAX ||
        (after && *after && !cf_db_job_ev_id_ok(after)))
        return cf_db_fail(store, CF_ERR_INVALID, "job events: bad id, stream id or count");
    if (after && *after)
        snprintf(start, sizeof(start), "(%s", after);
    else
        snprintf(start, sizeof(start), "-");
    void *list = NULL;
    CF_TRY(cf_db_xrange(store, key, start, max, sizeof(cf_db_job_ev_t), s_entry_fn, &list, n_out));
    *list_out = list;
    return CF_OK;
}
