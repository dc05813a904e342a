/*  cf_db_agent_expiry - the agents' certificates by expiry: paging cf:agents:expiry  */
#include "cf_db_agent.h"

#include <stdio.h>
#include <string.h>

#include "cf_db_agent_int.h"
#include "cf_db_util.h"
#include "cf_mem.h"

/* KEYS[1] cf:agents:expiry; ARGV: 1 from (score), 2 after id ('' = none), 3 count, 4 until.
   Answers {id, score, ...}: the next count members after the position, cut at the first
   score above until. The position: after (from, id) when id is given, else before every
   member of score from. When the member still has that score, ZRANK finds its place in
   O(log N); otherwise (it checked in with another certificate, or went) ZCOUNT finds the
   score's first member and a walk over those sharing it passes the ones <= id. Members
   are compared byte by byte (as the sorted set orders them): Lua's < uses strcoll. */
static const char s_lua_expiring[] =
    "local function le(a, b)\n"
    "  for i = 1, math.min(#a, #b) do\n"
    "    local x, y = string.byte(a, i), string.byte(b, i)\n"
    "    if x ~= y then return x < y end\n"
    "  end\n"
    "  return #a <= #b\n"
    "end\n"
    "local z, s, id, n, u = KEYS[1], tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), "
    "tonumber(ARGV[4])\n"
    "local start = nil\n"
    "if id ~= '' then\n"
    "  local cur = redis.call('ZSCORE', z, id)\n"
    "  if cur and tonumber(cur) == s then start = redis.call('ZRANK', z, id) + 1 end\n"
    "end\n"
    "if not start then\n"
    "  start = redis.call('ZCOUNT', z, '-inf', '(' .. ARGV[1])\n"
    "  local done = id == ''\n"
    "  while not done do\n"
    "    local e = redis.call('ZRANGE', z, start, start + 99, 'WITHSCORES')\n"
    "    if #e == 0 then break end\n"
    "    for i = 1, #e, 2 do\n"
    "      if tonumber(e[i + 1]) == s and le(e[i], id) then\n"
    "        start = start + 1\n"
    "      else\n"
    "        done = true\n"
    "        break\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local e = redis.call('ZRANGE', z, start, start + n - 1, 'WITHSCORES')\n"
    "local out = {}\n"
    "for i = 1, #e, 2 do\n"
    "  if tonumber(e[i + 1]) > u then break end\n"
    "  out[#out + 1] = e[i]\n"
    "  out[#out + 1] = e[i + 1]\n"
    "end\n"
    "return out\n";

/* Check the script's answer (pairs of a valid id and a positive score) into list. */
static cf_err_t s_shape(cf_store_t *store, const redisReply *r, size_t limit, cf_db_expiry_t *list)
{
    cf_why_t *why = cf_db_why(store);
    CF_TRY(cf_db_r_array(r, 0, 2 * limit, "expiry page", why));
    if (r->elements % 2)
        return cf_db_fail(store, CF_ERR_CORRUPT, "expiry page is not pairs");
    for (size_t i = 0; i < r->elements; i += 2) {
        cf_db_expiry_t *e = &list[i / 2];
        CF_TRY(cf_db_r_text(r->element[i], 0, e->agent.id, CF_DB_ID_MAX, "expiry id", why));
        CF_TRY(cf_db_r_int(r->element[i + 1], 0, 1, INT64_MAX, &e->not_after, "expiry score", why));
        if (cf_db_check_agent_id(e->agent.id) != CF_OK)
            return cf_db_fail(store, CF_ERR_CORRUPT, "expiry page: malformed agent id");
    }
    return CF_OK;
}

/* HMGET the n agents of list in one pipeline; those gone keep found = 0. */
static cf_err_t s_fetch(cf_store_t *store, cf_db_expiry_t *list, size_t n)
{
    cf_store_pipe_t *pipe = NULL;
    CF_TRY(cf_store_pipe_new(store, n, &pipe));
    cf_err_t rc = CF_OK;
    char key[CF_DB_KEY_MAX];
    for (size_t i = 0; rc == CF_OK && i < n; i++) {
        rc = cf_db_key_agent(key, list[i].agent.id);
        if (rc == CF_OK)
            rc = cf_store_pipe_append(pipe, CF_DB_AGENT_HMGET, key);
    }
    if (rc == CF_OK)
        rc = cf_store_pipe_exec(pipe, CF_STORE_IDEMPOTENT);
    for (size_t i = 0; rc == CF_OK && i < n; i++) {
        char id[CF_DB_ID_MAX + 1];
        memcpy(id, list[i].agent.id, sizeof(id));
        rc = cf_db_agent_decode(store, id, cf_store_pipe_reply(pipe, i), &list[i].agent);
        list[i].found = rc == CF_OK;
        if (rc == CF_ERR_NOTFOUND) {
            memcpy(list[i].agent.id, id, sizeof(id)); /* decode cleared it */
            rc = CF_OK;                               /* removed between the two round trips */
        }
    }
    cf_store_pipe_destroy(&pipe);
    return rc;
}

cf_err_t cf_db_agent_expiring(cf_store_t *store, int64_t from, const char *after_id, int64_t until,
                              size_t limit, cf_db_expiry_t **list_out, size_t *n_out)
{
    CF_ASSERT(store && list_out && n_out);
    *list_out = NULL;
    *n_out = 0;
    if (!after_id)
        after_id = "";
    if (limit == 0 || limit > CF_DB_PAGE_MAX ||
        (after_id[0] && cf_db_check_agent_id(after_id) != CF_OK))
        return cf_db_fail(store, CF_ERR_INVALID, "agent expiry: bad limit or cursor");
    char f[CF_DB_I64_BUF], u[CF_DB_I64_BUF], count[CF_DB_I64_BUF];
    const char *argv[] = {CF_DB_K_AGENTS_EXPIRY, cf_db_i64(f, from), after_id,
                          cf_db_i64(count, (int64_t) limit), cf_db_i64(u, until)};
    redisReply *page = NULL;
    CF_TRY(cf_db_eval(store, s_lua_expiring, CF_STORE_IDEMPOTENT, &page, 1, 4, argv, NULL));
    cf_err_t rc = cf_db_r_array(page, 0, 2 * limit, "expiry page", cf_db_why(store));
    size_t n = rc == CF_OK ? page->elements / 2 : 0;
    cf_db_expiry_t *list = n ? cf_mem_calloc(n, sizeof(*list)) : NULL;
    if (rc == CF_OK && n && !list)
        rc = cf_db_fail(store, CF_ERR_NOMEM, "out of memory");
    if (rc == CF_OK && n)
        rc = s_shape(store, page, limit, list);
    freeReplyObject(page);
    if (rc == CF_OK && n)
        rc = s_fetch(store, list, n);
    if (rc != CF_OK || n == 0) {
        cf_mem_free(list);
        return rc;
    }
    *list_out = list;
    *n_out = n;
    return CF_OK;
}
