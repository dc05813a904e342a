/*  cf_db_job_list - reading jobs: newest first, a job's entries by page, an agent's open jobs  */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "cf_db_job_int.h"
#include "cf_db_util.h"
#include "cf_mem.h"

/* KEYS: 1 job hash, 2 :st, 3 :why. ARGV: 1 HSCAN cursor, 2 entries of that batch to skip,
   3 limit, 4 state to keep ('' = all), 5 budget (entries to look at), 6 HSCAN COUNT,
   7 the failed state's name. Answers {cursor, skip, agent, state, reason, ...}: cursor '0'
   with skip 0 ends the walk; -1 when there is no job. A page takes whole HSCAN batches: a
   batch that does not fit ends the page and starts the next one (skip 0). Only a batch
   that alone holds more than a page is cut and resumed at its index, which assumes HSCAN
   gives the same batch at the same cursor again: it does not while Redis is rehashing
   the :st hash (right after a big create), when the walk of a fleet-wide job missed an
   agent and gave another twice. COUNT (a quarter of the page) makes that case rare. */
static const char s_lua_page[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end\n"
    "local cur, skip, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]) * 3\n"
    "local want, budget, looked, out = ARGV[4], tonumber(ARGV[5]), 0, {'0', 0}\n"
    "while true do\n"
    "  local r = redis.call('HSCAN', KEYS[2], cur, 'COUNT', ARGV[6])\n"
    "  local items = r[2]\n"
    "  if skip == 0 and #out > 2 then\n"
    "    local m = 0\n"
    "    for i = 2, #items, 2 do if want == '' or items[i] == want then m = m + 1 end end\n"
    "    if #out - 2 + 3 * m > limit then\n"
    "      out[1], out[2] = cur, 0\n"
    "      return out\n"
    "    end\n"
    "  end\n"
    "  for i = skip * 2 + 1, #items, 2 do\n"
    "    if #out - 2 >= limit then\n"
    "      out[1], out[2] = cur, (i - 1) / 2\n"
    "      return out\n"
    "    end\n"
    "    local a, s = items[i], items[i + 1]\n"
    "    looked = looked + 1\n"
    "    if want == '' or s == want then\n"
    "      local why = ''\n"
    "      if s == ARGV[7] then why = redis.call('HGET', KEYS[3], a) or '' end\n"
    "      out[#out + 1], out[#out + 2], out[#out + 3] = a, s, why\n"
    "    end\n"
    "  end\n"
    "  skip, cur = 0, r[1]\n"
    "  if cur == '0' or looked >= budget or #out - 2 >= limit then break end\n"
    "end\n"
    "out[1] = cur\n"
    "return out\n";

/* KEYS[1] cf:agent:{<id>}:jobs. ARGV: 1 now, 2 max, 3 job prefix, 4 :st suffix, 5 agent.
   Answers {id, state, expires, ...} of jobs expiring after now, soonest first. */
static const char s_lua_open[] =
    "local z = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'WITHSCORES',\n"
    "  'LIMIT', 0, ARGV[2])\n"
    "local out = {}\n"
    "for i = 1, #z, 2 do\n"
    "  local s = redis.call('HGET', ARGV[3] .. z[i] .. ARGV[4], ARGV[5])\n"
    "  if s then out[#out + 1], out[#out + 2], out[#out + 3] = z[i], s, z[i + 1] end\n"
    "end\n"
    "return out\n";

/* "<digits>:<digits>" into the HSCAN cursor and the skip; "" or NULL is the start. */
static cf_err_t s_cursor(const char *cursor, char *scan, char *skip)
{
    strcpy(scan, "0");
    strcpy(skip, "0");
    if (!cursor || !*cursor)
        return CF_OK;
    size_t len = strnlen(cursor, CF_DB_JOB_CURSOR_MAX);
    const char *colon = memchr(cursor, ':', len);
    if (len == CF_DB_JOB_CURSOR_MAX || !colon || colon == cursor || colon - cursor > 20 ||
        !colon[1] || strlen(colon + 1) > 9)
        return CF_ERR_INVALID;
    for (const char *p = cursor; *p; p++)
        if (p != colon && (*p < '0' || *p > '9'))
            return CF_ERR_INVALID;
    memcpy(scan, cursor, (size_t) (colon - cursor));
    scan[colon - cursor] = '\0';
    strcpy(skip, colon + 1);
    return CF_OK;
}

/* One entry triple (agent, state, reason) of a page into e. */
static cf_err_t s_entry(cf_store_t *store, const redisReply *const *t, cf_db_job_entry_t *e)
{
    cf_why_t *why = cf_db_why(store);
    char state[16];
    CF_TRY(cf_db_r_text(t[0], 0, e->agent, CF_DB_ID_MAX, "page agent", why));
    CF_TRY(cf_db_r_text(t[1], 0, state, sizeof(state) - 1, "page state", why));
    CF_TRY(cf_db_r_text(t[2], 0, e->reason, CF_DB_JOB_REASON_MAX, "page reason", why));
    if (cf_db_check_agent_id(e->agent) != CF_OK ||
        cf_job_fsm_state_from_name(state, &e->state) != CF_OK)
        return cf_db_fail(store, CF_ERR_CORRUPT, "page: malformed entry");
    return CF_OK;
}

/* Decode a page answer into a new list and the next cursor. */
static cf_err_t s_page_decode(cf_store_t *store, const redisReply *r, size_t limit,
                              cf_db_job_entry_t **list_out, size_t *n_out, char *cursor_out)
{
    cf_why_t *why = cf_db_why(store);
    if (r->type == REDIS_REPLY_INTEGER && r->integer == -1)
        return cf_db_fail(store, CF_ERR_NOTFOUND, "no such job");
    CF_TRY(cf_db_r_array(r, 2, 2 + 3 * limit, "page reply", why));
    char scan[CF_DB_I64_BUF];
    int64_t skip = 0, c = 0;
    CF_TRY(cf_db_r_text(r->element[0], 0, scan, 20, "page cursor", why));
    CF_TRY(cf_db_r_int(r->element[0], 0, 0, INT64_MAX, &c, "page cursor", why));
    CF_TRY(cf_db_r_int(r->element[1], 0, 0, 999999999, &skip, "page skip", why));
    if ((r->elements - 2) % 3)
        return cf_db_fail(store, CF_ERR_CORRUPT, "page reply is not triples");
    size_t n = (r->elements - 2) / 3;
    cf_db_job_entry_t *list = cf_mem_calloc(n ? n : 1, sizeof(*list));
    if (!list)
        return cf_db_fail(store, CF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        cf_err_t rc = s_entry(store, (const redisReply *const *) r->element + 2 + 3 * i, &list[i]);
        if (rc != CF_OK) {
            cf_mem_free(list);
            return rc;
        }
    }
    if (c != 0 || skip != 0)
        snprintf(cursor_out, CF_DB_JOB_CURSOR_MAX, "%s:%lld", scan, (long long) skip);
    *list_out = list;
    *n_out = n;
    return CF_OK;
}

cf_err_t cf_db_job_agents(cf_store_t *store, const char *id, cf_job_state_t state,
                          const char *cursor, size_t limit, cf_db_job_entry_t **list_out,
                          size_t *n_out, char *cursor_out)
{
    CF_ASSERT(store && list_out && n_out && cursor_out);
    *list_out = NULL;
    *n_out = 0;
    cursor_out[0] = '\0';
    char keys[3][CF_DB_KEY_MAX], scan[CF_DB_JOB_CURSOR_MAX], skip[CF_DB_JOB_CURSOR_MAX];
    if (cf_db_key_job(keys[0], id, CF_DB_KS_TAG) != CF_OK ||
        (unsigned) state > CF_JOB_STATE_COUNT || limit == 0 || limit > CF_DB_JOB_PAGE_MAX ||
        s_cursor(cursor, scan, skip) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "job page: bad id, state, cursor or limit");
    CF_TRY(cf_db_key_job(keys[1], id, CF_DB_KS_JOB_ST));
    CF_TRY(cf_db_key_job(keys[2], id, CF_DB_KS_JOB_WHY));
    char lim[CF_DB_I64_BUF], budget[CF_DB_I64_BUF], count[CF_DB_I64_BUF];
    const char *argv[] = {keys[0],
                          keys[1],
                          keys[2],
                          scan,
                          skip,
                          cf_db_i64(lim, (int64_t) limit),
                          state == CF_JOB_STATE_COUNT ? "" : cf_job_fsm_state_name(state),
                          cf_db_i64(budget, 10 * (int64_t) limit),
                          cf_db_i64(count, limit < 40     ? 10
                                           : limit > 4000 ? 1000
                                                          : (int64_t) limit / 4),
                          cf_job_fsm_state_name(CF_JOB_FAILED)};
    redisReply *r = NULL;
    CF_TRY(cf_db_eval(store, s_lua_page, CF_STORE_IDEMPOTENT, &r, 3, 7, argv, NULL));
    cf_err_t rc = s_page_decode(store, r, limit, list_out, n_out, cursor_out);
    freeReplyObject(r);
    return rc;
}

/* s_lua_open's command: KEYS cf:agent:{id}:jobs; ARGV now, max, job prefix, :st suffix, agent
   (pointing into the struct and at the agent). */
typedef struct {
    char key[CF_DB_KEY_MAX]; /* cf:agent:{id}:jobs */
    char now[24];            /* now as text */
    char max[24];            /* CF_DB_JOB_OPEN_MAX as text */
    const char *argv[6];     /* key, then the script's arguments */
} s_open_cmd_t;

static cf_store_script_t *_Atomic s_open_script; /* s_lua_open, kept (cf_db_script_kept) */

static cf_err_t s_open_cmd(const char *agent, int64_t now, s_open_cmd_t *cmd)
{
    if (cf_db_key_agent_jobs(cmd->key, agent) != CF_OK || now < 0)
        return CF_ERR_INVALID;
    cmd->argv[0] = cmd->key;
    cmd->argv[1] = cf_db_i64(cmd->now, now);
    cmd->argv[2] = cf_db_i64(cmd->max, CF_DB_JOB_OPEN_MAX);
    cmd->argv[3] = CF_DB_KP_JOB;
    cmd->argv[4] = CF_DB_KS_JOB_ST;
    cmd->argv[5] = agent;
    return CF_OK;
}

cf_err_t cf_db_job_agent_open(cf_store_t *store, const char *agent, int64_t now,
                              cf_db_job_open_t **list_out, size_t *n_out)
{
    CF_ASSERT(store && list_out && n_out);
    *list_out = NULL;
    *n_out = 0;
    s_open_cmd_t cmd;
    const cf_store_script_t *script = cf_db_script_kept(&s_open_script, s_lua_open);
    if (s_open_cmd(agent, now, &cmd) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "open jobs: bad agent id");
    if (!script)
        return cf_db_fail(store, CF_ERR_NOMEM, "cannot prepare a script");
    redisReply *r = NULL;
    CF_TRY(cf_store_script_call(store, script, CF_STORE_IDEMPOTENT, &r, 1, 5, cmd.argv, NULL));
    cf_why_t *why = cf_db_why(store);
    cf_err_t rc = cf_db_r_array(r, 0, 3 * CF_DB_JOB_OPEN_MAX, "open jobs", why);
    size_t n = rc == CF_OK ? r->elements / 3 : 0;
    cf_db_job_open_t *list = NULL;
    if (rc == CF_OK && r->elements % 3)
        rc = cf_db_fail(store, CF_ERR_CORRUPT, "open jobs: not triples");
    if (rc == CF_OK) {
        list = cf_mem_calloc(n ? n : 1, sizeof(*list));
        rc = list ? CF_OK : cf_db_fail(store, CF_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; rc == CF_OK && i < n; i++) {
        char state[16];
        const redisReply *const *e = (const redisReply *const *) r->element + 3 * i;
        rc = cf_db_r_text(e[0], 0, list[i].id, CF_DB_JOB_ID_LEN, "open job id", why);
        if (rc == CF_OK)
            rc = cf_db_r_text(e[1], 0, state, sizeof(state) - 1, "open job state", why);
        if (rc == CF_OK)
            rc = cf_db_r_int(e[2], 0, 0, INT64_MAX, &list[i].expires, "open job expires", why);
        if (rc == CF_OK && (cf_db_check_job_id(list[i].id) != CF_OK ||
                            cf_job_fsm_state_from_name(state, &list[i].state) != CF_OK))
            rc = cf_db_fail(store, CF_ERR_CORRUPT, "open jobs: malformed entry");
    }
    freeReplyObject(r);
    if (rc != CF_OK) {
        cf_mem_free(list);
        return rc;
    }
    *list_out = list;
    *n_out = n;
    return CF_OK;
}

/* Read the jobs named in ids (a ZREVRANGE answer) in one pipeline; skip those gone. */
static cf_err_t s_fetch(cf_store_t *store, const redisReply *ids, cf_db_job_t *list, size_t *n_out)
{
    cf_store_pipe_t *pipe = NULL;
    CF_TRY(cf_store_pipe_new(store, ids->elements, &pipe));
    cf_err_t rc = CF_OK;
    char key[CF_DB_KEY_MAX];
    for (size_t i = 0; rc == CF_OK && i < ids->elements; i++) {
        rc = cf_db_key_job(key, ids->element[i]->str, CF_DB_KS_TAG);
        if (rc != CF_OK)
            rc = cf_db_fail(store, CF_ERR_CORRUPT, "cf:jobs holds a malformed id");
        else
            rc = cf_store_pipe_append(pipe, CF_DB_JOB_HMGET, key);
    }
    if (rc == CF_OK)
        rc = cf_store_pipe_exec(pipe, CF_STORE_IDEMPOTENT);
    size_t n = 0;
    for (size_t i = 0; rc == CF_OK && i < ids->elements; i++) {
        rc = cf_db_job_decode(store, ids->element[i]->str, cf_store_pipe_reply(pipe, i), &list[n]);
        if (rc == CF_ERR_NOTFOUND)
            rc = CF_OK; /* expired: the sweeper prunes the id */
        else if (rc == CF_OK)
            n++;
    }
    cf_store_pipe_destroy(&pipe);
    *n_out = n;
    return rc;
}

cf_err_t cf_db_job_list(cf_store_t *store, size_t limit, cf_db_job_t **list_out, size_t *n_out)
{
    CF_ASSERT(store && list_out && n_out);
    *list_out = NULL;
    *n_out = 0;
    if (limit == 0 || limit > CF_DB_JOB_LIST_MAX)
        return cf_db_fail(store, CF_ERR_INVALID, "job list: limit 1..%d", CF_DB_JOB_LIST_MAX);
    redisReply *ids = NULL;
    CF_TRY(
        cf_store_cmd_idem(store, &ids, "ZREVRANGE %s 0 %lld", CF_DB_K_JOBS, (long long) limit - 1));
    cf_err_t rc = cf_db_r_array(ids, 0, limit, "cf:jobs", cf_db_why(store));
    for (size_t i = 0; rc == CF_OK && i < ids->elements; i++)
        if (ids->element[i]->type != REDIS_REPLY_STRING)
            rc = cf_db_fail(store, CF_ERR_CORRUPT, "cf:jobs: member is not a string");
    cf_db_job_t *list = NULL;
    size_t n = 0;
    if (rc == CF_OK && ids->elements) {
        list = cf_mem_calloc(ids->elements, sizeof(*list));
        rc = list ? s_fetch(store, ids, list, &n) : cf_db_fail(store, CF_ERR_NOMEM, "no memory");
    }
    freeReplyObject(ids);
    if (rc != CF_OK) {
        cf_mem_free(list);
        return rc;
    }
    *list_out = list;
    *n_out = n;
    return CF_OK;
}
