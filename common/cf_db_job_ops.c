/*  cf_db_job_ops - job-level steps in chunks: cancel, retry, and the sweeper's step  */
#include <stdio.h>
#include <string.h>

#include "cf_db_job_int.h"
#include "cf_db_util.h"

/* What one chunk of a job-level walk did. */
typedef struct {
    char cursor[CF_DB_I64_BUF]; /* HSCAN cursor to go on from, "0" when the walk ended */
    int64_t changed;            /* entries moved */
    int64_t seen;               /* entries looked at */
    int done;                   /* the job is closed now */
} s_chunk_t;

/* One chunk of the state script's job mode: event on up to count entries of job id from
   cursor ("" = the cursor stored in the job, for the sweeper), with a new expiry (NULL =
   keep) and, with past, only if the job's expiry has passed. */
static cf_err_t s_chunk(cf_store_t *store, const char *id, cf_job_event_t event, const char *cursor,
                        size_t count, const char *expires, int past, int64_t now, s_chunk_t *out)
{
    memset(out, 0, sizeof(*out));
    char ev[CF_DB_I64_BUF], cnt[CF_DB_I64_BUF];
    const char *extra[] = {id,
                           cf_db_i64(ev, event),
                           cursor,
                           cf_db_i64(cnt, (int64_t) count),
                           expires ? expires : "",
                           past ? "1" : "0"};
    redisReply *r = NULL;
    CF_TRY(cf_db_job_script(store, CF_DB_JOB_MODE_JOB, now, 6, extra, NULL, &r));
    cf_why_t *why = cf_db_why(store);
    cf_err_t rc = CF_OK;
    int64_t bad = 0, done = 0, c = 0;
    if (r->type == REDIS_REPLY_INTEGER && r->integer == -1)
        rc = cf_db_fail(store, CF_ERR_NOTFOUND, "no job %s", id);
    else if (r->type == REDIS_REPLY_INTEGER && r->integer == -2)
        rc = cf_db_fail(store, CF_ERR_STATE, "job %s: no entry to retry", id);
    else
        rc = cf_db_r_array(r, 5, 5, "job step reply", why);
    if (rc == CF_OK)
        rc = cf_db_r_text(r->element[0], 0, out->cursor, 20, "cursor", why);
    if (rc == CF_OK)
        rc = cf_db_r_int(r->element[0], 0, 0, INT64_MAX, &c, "cursor", why);
    if (rc == CF_OK)
        rc = cf_db_r_int(r->element[1], 0, 0, INT64_MAX, &out->changed, "changed", why);
    if (rc == CF_OK)
        rc = cf_db_r_int(r->element[2], 0, 0, INT64_MAX, &out->seen, "seen", why);
    if (rc == CF_OK)
        rc = cf_db_r_int(r->element[3], 0, 0, INT64_MAX, &bad, "bad", why);
    if (rc == CF_OK)
        rc = cf_db_r_int(r->element[4], 0, 0, 1, &done, "done", why);
    freeReplyObject(r);
    out->done = (int) done;
    return rc;
}

/* Walk all of job id with event, chunk after chunk, from the start. */
static cf_err_t s_walk(cf_store_t *store, const char *id, cf_job_event_t event, const char *expires,
                       int64_t now, size_t *changed)
{
    size_t moved = 0;
    char cursor[CF_DB_I64_BUF] = "0";
    if (changed)
        *changed = 0;
    for (long calls = 0; calls < CF_STORE_SCAN_MAX_CALLS; calls++) {
        s_chunk_t c;
        CF_TRY(s_chunk(store, id, event, cursor, CF_DB_JOB_CHUNK, expires, 0, now, &c));
        moved += (size_t) c.changed;
        if (changed)
            *changed = moved;
        if (strcmp(c.cursor, "0") == 0)
            return CF_OK;
        memcpy(cursor, c.cursor, sizeof(cursor));
    }
    return cf_db_fail(store, CF_ERR_TOOBIG, "job %s: the walk never ended", id);
}

cf_err_t cf_db_job_cancel(cf_store_t *store, const char *id, int64_t now, size_t *changed)
{
    CF_ASSERT(store);
    if (changed)
        *changed = 0;
    if (cf_db_check_job_id(id) != CF_OK || now < 0)
        return cf_db_fail(store, CF_ERR_INVALID, "cancel: bad job id");
    return s_walk(store, id, CF_JOB_EV_CANCEL, NULL, now, changed);
}

cf_err_t cf_db_job_retry(cf_store_t *store, const char *id, int64_t now, int64_t expires,
                         size_t *changed)
{
    CF_ASSERT(store);
    if (changed)
        *changed = 0;
    if (cf_db_check_job_id(id) != CF_OK || now < 0 || expires <= now ||
        expires - now > CF_JOB_MAX_LIFETIME)
        return cf_db_fail(store, CF_ERR_INVALID, "retry: bad job id or expiry");
    char key[CF_DB_KEY_MAX], e[CF_DB_I64_BUF];
    CF_TRY(cf_db_key_job(key, id, CF_DB_KS_TAG));
    redisReply *r = NULL;
    CF_TRY(cf_store_cmd_idem(store, &r, "HMGET %s batch rate", key));
    cf_err_t rc = cf_db_r_array(r, 2, 2, "job waves", cf_db_why(store));
    /* a job rolled out in waves goes out in waves again (docs/jobs.md section 6) */
    int waves = rc == CF_OK && (!cf_db_r_nil(r->element[0]) || !cf_db_r_nil(r->element[1]));
    freeReplyObject(r);
    CF_TRY(rc);
    return s_walk(store, id, waves ? CF_JOB_EV_REQUEUE : CF_JOB_EV_RETRY, cf_db_i64(e, expires),
                  now, changed);
}

cf_err_t cf_db_job_abort(cf_store_t *store, const char *id, int64_t now, size_t *changed)
{
    CF_ASSERT(store);
    if (changed)
        *changed = 0;
    if (cf_db_check_job_id(id) != CF_OK || now < 0)
        return cf_db_fail(store, CF_ERR_INVALID, "abort: bad job id");
    return s_walk(store, id, CF_JOB_EV_ABORT, NULL, now, changed);
}

/* KEYS: 1 cf:jobs, 2 cf:jobs:prune. ARGV: 1 max, 2 job prefix, 3 tag. Looks at max ids of
   cf:jobs from the offset kept in cf:jobs:prune (oldest first), takes out those whose job
   hash is gone, and moves the offset on (back to 0 at the end), so every id is looked at
   in turn however long some jobs live. Answers {pruned, more}. */
static const char s_lua_prune[] =
    "local off = tonumber(redis.call('GET', KEYS[2])) or 0\n"
    "local ids = redis.call('ZRANGE', KEYS[1], off, off + tonumber(ARGV[1]) - 1)\n"
    "local n = 0\n"
    "for _, id in ipairs(ids) do\n"
    "  if redis.call('EXISTS', ARGV[2] .. id .. ARGV[3]) == 0 then\n"
    "    redis.call('ZREM', KEYS[1], id)\n"
    "    n = n + 1\n"
    "  end\n"
    "end\n"
    "local more = #ids == tonumber(ARGV[1]) and 1 or 0\n"
    "if more == 1 then off = off + #ids - n else off = 0 end\n"
    "redis.call('SET', KEYS[2], off)\n"
    "return {n, more}\n";

static cf_err_t s_prune(cf_store_t *store, size_t max, cf_db_job_sweep_t *st)
{
    char m[CF_DB_I64_BUF];
    const char *argv[] = {CF_DB_K_JOBS, CF_DB_K_JOBS_PRUNE, cf_db_i64(m, (int64_t) max),
                          CF_DB_KP_JOB, CF_DB_KS_TAG};
    redisReply *r = NULL;
    CF_TRY(cf_db_eval(store, s_lua_prune, 0, &r, 2, 3, argv, NULL));
    cf_why_t *why = cf_db_why(store);
    int64_t n = 0, more = 0;
    cf_err_t rc = cf_db_r_array(r, 2, 2, "prune reply", why);
    if (rc == CF_OK)
        rc = cf_db_r_int(r->element[0], 0, 0, (int64_t) max, &n, "pruned", why);
    if (rc == CF_OK)
        rc = cf_db_r_int(r->element[1], 0, 0, 1, &more, "more", why);
    freeReplyObject(r);
    st->pruned += (size_t) n;
    st->more |= (int) more;
    return rc;
}

/* Expire job id's entries from its stored cursor while budget lasts; *closed when the job
   closed. */
static cf_err_t s_sweep_job(cf_store_t *store, const char *id, int64_t now, size_t *budget,
                            cf_db_job_sweep_t *st, int *closed)
{
    *closed = 0;
    while (*budget > 0) {
        s_chunk_t c;
        size_t count = *budget < CF_DB_JOB_CHUNK ? *budget : CF_DB_JOB_CHUNK;
        cf_err_t rc = s_chunk(store, id, CF_JOB_EV_EXPIRE, "", count, NULL, 1, now, &c);
        if (rc == CF_ERR_NOTFOUND)
            return CF_OK; /* gone meanwhile */
        CF_TRY(rc);
        st->expired += (size_t) c.changed;
        st->scanned += (size_t) c.seen;
        size_t used = c.seen > 0 ? (size_t) c.seen : 1;
        *budget = used >= *budget ? 0 : *budget - used;
        *closed = c.done;
        if (strcmp(c.cursor, "0") == 0 || c.done)
            return CF_OK;
    }
    st->more = 1;
    return CF_OK;
}

/* The ids of up to 100 open jobs past their expiry, oldest expiry first. */
static cf_err_t s_due(cf_store_t *store, int64_t now, redisReply **r_out)
{
    CF_TRY(cf_store_cmd_idem(store, r_out, "ZRANGEBYSCORE %s -inf %lld LIMIT 0 100",
                             CF_DB_K_JOBS_OPEN, (long long) now));
    cf_err_t rc = cf_db_r_array(*r_out, 0, 100, "cf:jobs:open", cf_db_why(store));
    for (size_t i = 0; rc == CF_OK && i < (*r_out)->elements; i++) {
        const redisReply *e = (*r_out)->element[i];
        if (e->type != REDIS_REPLY_STRING || cf_db_check_job_id(e->str) != CF_OK)
            rc = cf_db_fail(store, CF_ERR_CORRUPT, "cf:jobs:open holds a malformed id");
    }
    if (rc != CF_OK)
        cf_store_reply_free(r_out);
    return rc;
}

cf_err_t cf_db_job_sweep(cf_store_t *store, int64_t now, size_t max_entries,
                         cf_db_job_sweep_t *stats)
{
    CF_ASSERT(store);
    cf_db_job_sweep_t st = {0};
    if (stats)
        *stats = st;
    if (now < 0 || max_entries == 0 || max_entries > 10000000)
        return cf_db_fail(store, CF_ERR_INVALID, "sweep: bad time or budget");
    size_t budget = max_entries;
    cf_err_t rc = CF_OK;
    int again = 1;
    while (rc == CF_OK && again && budget > 0) {
        redisReply *due = NULL;
        rc = s_due(store, now, &due);
        size_t n = rc == CF_OK ? due->elements : 0;
        again = n > 0; /* fetch more only when every job of this batch closed */
        for (size_t i = 0; rc == CF_OK && i < n && budget > 0; i++) {
            int closed = 0;
            rc = s_sweep_job(store, due->element[i]->str, now, &budget, &st, &closed);
            st.closed += (size_t) closed;
            again &= closed;
        }
        if (due && budget == 0 && n > 0)
            st.more = 1;
        cf_store_reply_free(&due);
    }
    if (rc == CF_OK)
        rc = s_prune(store, budget < 1000 ? (budget ? budget : 1) : 1000, &st);
    if (stats)
        *stats = st;
    return rc;
}
