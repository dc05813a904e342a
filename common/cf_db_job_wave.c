/*  cf_db_job_wave - rollout controls in the job store: the wave step, pause and resume,
    the jobs the wave controller drives (docs/jobs.md section 6)  */
#include <stdio.h>
#include <string.h>

#include "cf_db_job_int.h"
#include "cf_db_util.h"
#include "cf_mem.h"

cf_err_t cf_db_job_waves(cf_store_t *store, size_t start, size_t max,
                         char (**ids_out)[CF_DB_JOB_ID_LEN + 1], size_t *n_out)
{
    CF_ASSERT(store && ids_out && n_out);
    *ids_out = NULL;
    *n_out = 0;
    if (max == 0 || max > CF_DB_JOB_WAVES_MAX || start > (size_t) INT32_MAX)
        return cf_db_fail(store, CF_ERR_INVALID, "waves: max 1..%d", CF_DB_JOB_WAVES_MAX);
    redisReply *r = NULL;
    CF_TRY(cf_store_cmd_idem(store, &r, "ZRANGE %s %lld %lld", CF_DB_K_JOBS_WAVES,
                             (long long) start, (long long) (start + max - 1)));
    cf_err_t rc = cf_db_r_array(r, 0, max, CF_DB_K_JOBS_WAVES, cf_db_why(store));
    size_t n = rc == CF_OK ? r->elements : 0;
    char(*ids)[CF_DB_JOB_ID_LEN + 1] = NULL;
    if (rc == CF_OK) {
        ids = cf_mem_calloc(n ? n : 1, sizeof(*ids));
        rc = ids ? CF_OK : cf_db_fail(store, CF_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; rc == CF_OK && i < n; i++) {
        rc = cf_db_r_text(r->element[i], 0, ids[i], CF_DB_JOB_ID_LEN, "wave job id",
                          cf_db_why(store));
        if (rc == CF_OK && cf_db_check_job_id(ids[i]) != CF_OK)
            rc = cf_db_fail(store, CF_ERR_CORRUPT, "%s holds a malformed id", CF_DB_K_JOBS_WAVES);
    }
    freeReplyObject(r);
    if (rc != CF_OK) {
        cf_mem_free(ids);
        return rc;
    }
    *ids_out = ids;
    *n_out = n;
    return CF_OK;
}

/* The answer {released, queued, status, reason} into out. */
static cf_err_t s_wave_decode(cf_store_t *store, const redisReply *r, cf_db_job_wave_t *out)
{
    cf_why_t *why = cf_db_why(store);
    char status[16];
    CF_TRY(cf_db_r_array(r, 4, 4, "wave reply", why));
    CF_TRY(cf_db_r_int(r->element[0], 0, 0, CF_DB_JOB_CHUNK, &out->released, "released", why));
    CF_TRY(cf_db_r_int(r->element[1], 0, 0, CF_DB_JOB_TARGETS_MAX, &out->queued, "queued", why));
    CF_TRY(cf_db_r_text(r->element[2], 0, status, sizeof(status) - 1, "status", why));
    CF_TRY(cf_db_r_text(r->element[3], 0, out->reason, CF_DB_JOB_REASON_MAX, "reason", why));
    out->abort = strcmp(status, "abort") == 0;
    out->aborting = strcmp(status, "aborting") == 0;
    out->gone = strcmp(status, "gone") == 0;
    if (!out->abort && !out->aborting && !out->gone && strcmp(status, "ok") != 0 &&
        strcmp(status, "paused") != 0 && strcmp(status, "idle") != 0)
        return cf_db_fail(store, CF_ERR_CORRUPT, "wave reply: unknown status");
    return CF_OK;
}

cf_err_t cf_db_job_wave_step(cf_store_t *store, const char *id, int64_t now_ms,
                             cf_db_job_wave_t *out)
{
    CF_ASSERT(store && out);
    memset(out, 0, sizeof(*out));
    if (cf_db_check_job_id(id) != CF_OK || now_ms < 0)
        return cf_db_fail(store, CF_ERR_INVALID, "wave: bad job id or time");
    char t[CF_DB_I64_BUF], max[CF_DB_I64_BUF], ev[CF_DB_I64_BUF];
    const char *extra[] = {id, cf_db_i64(t, now_ms), cf_db_i64(max, CF_DB_JOB_CHUNK),
                           cf_db_i64(ev, CF_JOB_EV_RELEASE)};
    redisReply *r = NULL;
    CF_TRY(cf_db_job_script(store, CF_DB_JOB_MODE_WAVE, now_ms / 1000, 4, extra, NULL, &r));
    cf_err_t rc = s_wave_decode(store, r, out);
    freeReplyObject(r);
    if (rc != CF_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

/* KEYS[1] job hash, KEYS[2] :ev. ARGV: 1 paused (0/1), 2 by, 3 now_ms. -1 no job, -2 no
   waves or closed, 0 no change, 1 changed. */
static const char s_lua_pause[] =
    "local f = redis.call('HMGET', KEYS[1], 'id', 'batch', 'rate', 'done', 'paused', 'total')\n"
    "if not f[1] then return -1 end\n"
    "if (not f[2] and not f[3]) or f[4] then return -2 end\n"
    "if (f[5] or '0') == ARGV[1] then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'paused', ARGV[1])\n"
    "if ARGV[1] == '0' then redis.call('HSET', KEYS[1], 'wave_at', ARGV[3], 'credit', '0') end\n"
    "redis.call('XADD', KEYS[2], 'MAXLEN', '~', math.max(tonumber(f[6]) or 0, 1000), '*',\n"
    "  'event', ARGV[1] == '1' and 'paused' or 'resumed', 'by', ARGV[2])\n"
    "return 1\n";

cf_err_t cf_db_job_pause(cf_store_t *store, const char *id, int paused, const char *by,
                         int64_t now_ms)
{
    CF_ASSERT(store);
    char keys[2][CF_DB_KEY_MAX], t[CF_DB_I64_BUF];
    if (cf_db_key_job(keys[0], id, CF_DB_KS_TAG) != CF_OK || cf_db_check_user(by) != CF_OK ||
        now_ms < 0)
        return cf_db_fail(store, CF_ERR_INVALID, "pause: bad job id or user");
    CF_TRY(cf_db_key_job(keys[1], id, CF_DB_KS_JOB_EV));
    const char *argv[] = {keys[0], keys[1], paused ? "1" : "0", by, cf_db_i64(t, now_ms)};
    redisReply *r = NULL;
    CF_TRY(cf_db_eval(store, s_lua_pause, 0, &r, 2, 3, argv, NULL));
    int64_t v = 0;
    cf_err_t rc = cf_db_r_int(r, 0, -2, 1, &v, "pause reply", cf_db_why(store));
    freeReplyObject(r);
    if (rc == CF_OK && v == -1)
        rc = cf_db_fail(store, CF_ERR_NOTFOUND, "no job %s", id);
    else if (rc == CF_OK && v == -2)
        rc =
            cf_db_fail(store, CF_ERR_STATE, "job %s has no waves (batch or rate) or is closed", id);
    return rc;
}
