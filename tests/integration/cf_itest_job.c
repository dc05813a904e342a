/*  cf_itest_job - job store fixtures: agents in bulk, jobs, and the counter invariant check  */
#include "cf_itest_job.h"

#include <stdio.h>
#include <string.h>

#include "cf_job_fsm.h"
#include "cf_mem.h"
#include "cf_test.h"

/* ARGV: 1 agent key prefix, 2 tag, 3 proto ('' none), 4 prefix, 5 first, 6 n. */
static const char s_lua_agents[] =
    "for i = tonumber(ARGV[5]), tonumber(ARGV[5]) + tonumber(ARGV[6]) - 1 do\n"
    "  local id = ARGV[4] .. i\n"
    "  redis.call('HSET', ARGV[1] .. id .. ARGV[2], 'id', id, 'lock', 'insecure', 'last_seen',\n"
    "    1, 'last_addr', '127.0.0.1')\n"
    "  if ARGV[3] ~= '' then redis.call('HSET', ARGV[1] .. id .. ARGV[2], 'proto', ARGV[3]) end\n"
    "  redis.call('ZADD', 'cf:agents:insecure', 1, id)\n"
    "end\n"
    "return 1\n";

void cf_itest_job_agents(cf_store_t *store, const char *prefix, size_t first, size_t n,
                         unsigned proto)
{
    for (size_t at = 0; at < n; at += 10000) {
        char p[16], f[32], c[32];
        snprintf(p, sizeof(p), proto ? "%u" : "", proto);
        snprintf(f, sizeof(f), "%zu", first + at);
        snprintf(c, sizeof(c), "%zu", n - at < 10000 ? n - at : 10000);
        assert_int_equal(cf_store_cmd(store, NULL, "EVAL %s 0 %s %s %s %s %s %s", s_lua_agents,
                                      CF_DB_KP_AGENT, CF_DB_KS_TAG, p, prefix, f, c),
                         CF_OK);
    }
}

char **cf_itest_job_ids(const char *prefix, size_t first, size_t n)
{
    char **ids = cf_mem_calloc(n ? n : 1, sizeof(*ids));
    assert_non_null(ids);
    for (size_t i = 0; i < n; i++) {
        char id[CF_DB_ID_MAX + 1];
        snprintf(id, sizeof(id), "%s%zu", prefix, first + i);
        ids[i] = cf_mem_strdup(id);
        assert_non_null(ids[i]);
    }
    return ids;
}

void cf_itest_job_ids_free(char **ids, size_t n)
{
    for (size_t i = 0; ids && i < n; i++)
        cf_mem_free(ids[i]);
    cf_mem_free(ids);
}

cf_db_job_spec_t cf_itest_job_spec(const char *id, const char *const *agents, size_t n)
{
    cf_db_job_spec_t s = {id,     CF_JOB_TYPE_INSTALL_CERT,
                          1000,   1000 + 3600,
                          "srv1", "admin",
                          1,      "{}",
                          "test", agents,
                          n,      {0, 0, 0, 0},
                          0};
    return s;
}

/* KEYS: 1 job, 2 :st, 3 :why, 4 cf:jobs:open. ARGV: 1 id, 2 agent prefix, 3 :jobs suffix,
   4 state names, 5 final flags. Answers "ok" or the first broken invariant. */
static const char s_lua_check[] =
    "local names, final, count, open = {}, {}, {}, 0\n"
    "local i = 0\n"
    "for w in string.gmatch(ARGV[4], '%S+') do\n"
    "  i = i + 1; names[i] = w; final[w] = string.sub(ARGV[5], i, i) == '1'; count[w] = 0\n"
    "end\n"
    "local id = ARGV[1]\n"
    "local expires = redis.call('HGET', KEYS[1], 'expires')\n"
    "if not expires then return 'no job hash' end\n"
    "local st = redis.call('HGETALL', KEYS[2])\n"
    "for k = 1, #st, 2 do\n"
    "  local a, s = st[k], st[k + 1]\n"
    "  if count[s] == nil then return 'bad state ' .. s .. ' of ' .. a end\n"
    "  count[s] = count[s] + 1\n"
    "  local z = redis.call('ZSCORE', ARGV[2] .. a .. ARGV[3], id)\n"
    "  if final[s] then\n"
    "    if z then return 'final entry of ' .. a .. ' still in its sorted set' end\n"
    "  else\n"
    "    open = open + 1\n"
    "    if not z then return 'open entry of ' .. a .. ' not in its sorted set' end\n"
    "    if tonumber(z) ~= tonumber(expires) then return 'stale score for ' .. a end\n"
    "  end\n"
    "end\n"
    "if tonumber(redis.call('HGET', KEYS[1], 'total')) ~= #st / 2 then return 'total' end\n"
    "for _, s in ipairs(names) do\n"
    "  local n = tonumber(redis.call('HGET', KEYS[1], 'n:' .. s))\n"
    "  if n ~= count[s] then\n"
    "    return 'counter n:' .. s .. ' = ' .. tostring(n) .. ', entries ' .. count[s]\n"
    "  end\n"
    "end\n"
    "local why = redis.call('HKEYS', KEYS[3])\n"
    "for _, a in ipairs(why) do\n"
    "  if redis.call('HGET', KEYS[2], a) ~= 'failed' then return 'reason of ' .. a .. ' not "
    "failed' end\n"
    "end\n"
    "local done = redis.call('HGET', KEYS[1], 'done')\n"
    "local inopen = redis.call('ZSCORE', KEYS[4], id)\n"
    "local ttl = redis.call('TTL', KEYS[1])\n"
    "if open == 0 then\n"
    "  if not done then return 'all final but not done' end\n"
    "  if inopen then return 'done but in cf:jobs:open' end\n"
    "  if ttl <= 0 then return 'done without a TTL' end\n"
    "  if redis.call('TTL', KEYS[2]) <= 0 then return 'done, :st without a TTL' end\n"
    "  if #why > 0 and redis.call('TTL', KEYS[3]) <= 0 then return 'done, :why without a TTL' end\n"
    "else\n"
    "  if done then return 'done with open entries' end\n"
    "  if not inopen or tonumber(inopen) ~= tonumber(expires) then return 'open job not in "
    "cf:jobs:open' end\n"
    "  if ttl ~= -1 then return 'open job with a TTL' end\n"
    "end\n"
    "return 'ok'\n";

const char *cf_itest_job_verify(cf_store_t *store, const char *id, char *buf, size_t buflen)
{
    char keys[3][CF_DB_KEY_MAX], names[128] = "", final[CF_JOB_STATE_COUNT + 1];
    assert_int_equal(cf_db_key_job(keys[0], id, CF_DB_KS_TAG), CF_OK);
    assert_int_equal(cf_db_key_job(keys[1], id, CF_DB_KS_JOB_ST), CF_OK);
    assert_int_equal(cf_db_key_job(keys[2], id, CF_DB_KS_JOB_WHY), CF_OK);
    for (int s = 0; s < CF_JOB_STATE_COUNT; s++) {
        strcat(names, cf_job_fsm_state_name((cf_job_state_t) s));
        strcat(names, " ");
        final[s] = cf_job_fsm_is_final((cf_job_state_t) s) ? '1' : '0';
    }
    final[CF_JOB_STATE_COUNT] = '\0';
    const char *argv[] = {"EVAL",
                          s_lua_check,
                          "4",
                          keys[0],
                          keys[1],
                          keys[2],
                          CF_DB_K_JOBS_OPEN,
                          id,
                          CF_DB_KP_AGENT,
                          CF_DB_KS_AGENT_JOBS,
                          names,
                          final};
    redisReply *r = NULL;
    assert_int_equal(cf_store_cmd_argv(store, 0, &r, 12, argv, NULL), CF_OK);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    snprintf(buf, buflen, "%s", r->str);
    cf_store_reply_free(&r);
    return buf;
}

void cf_itest_job_check(cf_store_t *store, const char *id)
{
    char buf[256];
    if (strcmp(cf_itest_job_verify(store, id, buf, sizeof(buf)), "ok") != 0)
        fail_msg("job %s: %s", id, buf);
}
