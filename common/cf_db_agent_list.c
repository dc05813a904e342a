/*  cf_db_agent_list - agent paging by (last_seen, id) with a lock filter; favorites in bulk  */
#include "cf_db_agent.h"

#include <stdio.h>
#include <string.h>

#include "cf_db_agent_int.h"
#include "cf_db_util.h"
#include "cf_mem.h"

/* KEYS: one sorted set, or the four per-lock sets (every agent: an agent is in exactly one
   of them; there is no set of all agents, docs/REDIS.md); ARGV: 1 cursor score, 2 cursor id
   ('' = from the start), 3 count, optional 4 and 5: the lowest and highest score kept.
   Answers {id, score, ...} for the next count members after (score, id) in (score, member
   bytes) order, starting no lower than ARGV[4] and cut at the first score above ARGV[5]; over
   several sets, each set's page is taken and the pages merged. When the cursor member still
   has its score, ZRANK finds the place in O(log N); otherwise (it checked in or went) the
   place is found from ZCOUNT and a walk over the members sharing the cursor's score. Members
   are compared byte by byte: Lua's < uses strcoll, which Redis sets from the locale. */
static const char s_lua_page[] =
    "local function le(a, b)\n"
    "  for i = 1, math.min(#a, #b) do\n"
    "    local x, y = string.byte(a, i), string.byte(b, i)\n"
    "    if x ~= y then return x < y end\n"
    "  end\n"
    "  return #a <= #b\n"
    "end\n"
    "local s, id, n = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])\n"
    "local function page(z)\n"
    "  local start = 0\n"
    "  if id ~= '' then\n"
    "    local cur = redis.call('ZSCORE', z, id)\n"
    "    if cur and tonumber(cur) == s then\n"
    "      start = redis.call('ZRANK', z, id) + 1\n"
    "    else\n"
    "      start = redis.call('ZCOUNT', z, '-inf', '(' .. ARGV[1])\n"
    "      local done = false\n"
    "      while not done do\n"
    "        local e = redis.call('ZRANGE', z, start, start + 99, 'WITHSCORES')\n"
    "        if #e == 0 then break end\n"
    "        for i = 1, #e, 2 do\n"
    "          if tonumber(e[i + 1]) == s and le(e[i], id) then\n"
    "            start = start + 1\n"
    "          else\n"
    "            done = true\n"
    "            break\n"
    "          end\n"
    "        end\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "  if ARGV[4] then\n"
    "    local low = redis.call('ZCOUNT', z, '-inf', '(' .. ARGV[4])\n"
    "    if low > start then start = low end\n"
    "  end\n"
    "  local e = redis.call('ZRANGE', z, start, start + n - 1, 'WITHSCORES')\n"
    "  if not ARGV[5] then return e end\n"
    "  local out, hi = {}, tonumber(ARGV[5])\n"
    "  for i = 1, #e, 2 do\n"
    "    if tonumber(e[i + 1]) > hi then break end\n"
    "    out[#out + 1] = e[i]\n"
    "    out[#out + 1] = e[i + 1]\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "if #KEYS == 1 then return page(KEYS[1]) end\n"
    /* each set's page is in (score, member bytes) order already (ZRANGE): merge them, the
       smallest head first (a sort of the pages together cost ~120 ms at 9,000 agents: most
       comparisons of a booting fleet are ties of last_seen, compared byte by byte in Lua) */
    "local lists, pos, head = {}, {}, {}\n"
    "for k, z in ipairs(KEYS) do\n"
    "  lists[k] = page(z)\n"
    "  pos[k] = 1\n"
    "  head[k] = tonumber(lists[k][2])\n"
    "end\n"
    "local out = {}\n"
    "while #out < 2 * n do\n"
    "  local best\n"
    "  for k = 1, #lists do\n"
    "    if head[k] then\n"
    "      if not best or head[k] < head[best] or (head[k] == head[best] and\n"
    "         lists[k][pos[k]] ~= lists[best][pos[best]] and\n"
    "         le(lists[k][pos[k]], lists[best][pos[best]])) then best = k end\n"
    "    end\n"
    "  end\n"
    "  if not best then break end\n"
    "  local e, p = lists[best], pos[best]\n"
    "  out[#out + 1] = e[p]\n"
    "  out[#out + 1] = e[p + 1]\n"
    "  pos[best] = p + 2\n"
    "  head[best] = tonumber(e[p + 3])\n"
    "end\n"
    "return out\n";

/* KEYS[1] agent, KEYS[2] cf:servers; ARGV[1] alias ('' = clear). -1: no such server. */
static const char s_lua_favorite[] =
    "if ARGV[1] ~= '' and redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then return -1 end\n"
    "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
    "if ARGV[1] == '' then\n"
    "  redis.call('HDEL', KEYS[1], 'favorite')\n"
    "else\n"
    "  redis.call('HSET', KEYS[1], 'favorite', ARGV[1])\n"
    "end\n"
    "return 1\n";

/* Parse "<score>:<id>" into score text and id. "" or NULL is the start. */
static cf_err_t s_cursor(const char *cursor, char *score, char *id)
{
    score[0] = '\0';
    id[0] = '\0';
    if (!cursor || !*cursor)
        return CF_OK;
    const char *colon = memchr(cursor, ':', strnlen(cursor, CF_DB_CURSOR_MAX));
    if (!colon || colon == cursor || colon - cursor > 19)
        return CF_ERR_INVALID;
    for (const char *p = cursor; p < colon; p++)
        if (*p < '0' || *p > '9')
            return CF_ERR_INVALID;
    if (cf_db_check_agent_id(colon + 1) != CF_OK)
        return CF_ERR_INVALID;
    memcpy(score, cursor, (size_t) (colon - cursor));
    score[colon - cursor] = '\0';
    memcpy(id, colon + 1, strlen(colon + 1) + 1);
    return CF_OK;
}

/* Check the page script's answer: pairs of a valid id and a non-negative integer score. */
static cf_err_t s_page_shape(cf_store_t *store, const redisReply *r, size_t limit)
{
    cf_why_t *why = cf_db_why(store);
    CF_TRY(cf_db_r_array(r, 0, 2 * limit, "page reply", why));
    if (r->elements % 2)
        return cf_db_fail(store, CF_ERR_CORRUPT, "page reply is not pairs");
    for (size_t i = 0; i < r->elements; i += 2) {
        char id[CF_DB_ID_MAX + 1];
        int64_t score = 0;
        CF_TRY(cf_db_r_text(r->element[i], 0, id, CF_DB_ID_MAX, "page id", why));
        CF_TRY(cf_db_r_int(r->element[i + 1], 0, 0, INT64_MAX, &score, "page score", why));
        if (cf_db_check_agent_id(id) != CF_OK)
            return cf_db_fail(store, CF_ERR_CORRUPT, "page: malformed agent id");
    }
    return CF_OK;
}

/* HMGET every agent of the page in one pipeline and keep those that exist (and still
   match lock when filtering). */
static cf_err_t s_fetch(cf_store_t *store, const redisReply *page, cf_db_lock_t lock,
                        cf_db_agent_t *list, size_t *n_out)
{
    *n_out = 0;
    size_t count = page->elements / 2;
    cf_store_pipe_t *pipe = NULL;
    CF_TRY(cf_store_pipe_new(store, count, &pipe));
    cf_err_t rc = CF_OK;
    char key[CF_DB_KEY_MAX];
    for (size_t i = 0; rc == CF_OK && i < count; i++) {
        rc = cf_db_key_agent(key, page->element[2 * i]->str);
        if (rc == CF_OK)
            rc = cf_store_pipe_append(pipe, CF_DB_AGENT_HMGET, key);
    }
    if (rc == CF_OK)
        rc = cf_store_pipe_exec(pipe, CF_STORE_IDEMPOTENT);
    size_t n = 0;
    for (size_t i = 0; rc == CF_OK && i < count; i++) {
        rc = cf_db_agent_decode(store, page->element[2 * i]->str, cf_store_pipe_reply(pipe, i),
                                &list[n]);
        if (rc == CF_ERR_NOTFOUND)
            rc = CF_OK; /* removed between the two round trips */
        else if (rc == CF_OK && (lock == CF_DB_LOCK_COUNT || list[n].lock == lock))
            n++;
    }
    cf_store_pipe_destroy(&pipe);
    *n_out = n;
    return rc;
}

/* The page script over nkeys sets (1, or the CF_DB_LOCK_COUNT per-lock sets). */
static cf_err_t s_zpage(cf_store_t *store, const char *const *sets, int nkeys, const char *score,
                        const char *id, int64_t min, int64_t max, size_t limit, redisReply **r_out)
{
    char count[CF_DB_I64_BUF], lo[CF_DB_I64_BUF], hi[CF_DB_I64_BUF];
    *r_out = NULL;
    const char *argv[CF_DB_LOCK_COUNT + 5];
    CF_ASSERT(nkeys >= 1 && nkeys <= CF_DB_LOCK_COUNT);
    for (int i = 0; i < nkeys; i++)
        argv[i] = sets[i];
    const char *args[] = {score, id, cf_db_i64(count, (int64_t) limit), cf_db_i64(lo, min),
                          cf_db_i64(hi, max)};
    memcpy(argv + nkeys, args, sizeof(args));
    int ranged = min > 0 || max < INT64_MAX; /* scores are never negative */
    CF_TRY(cf_db_eval(store, s_lua_page, CF_STORE_IDEMPOTENT, r_out, nkeys, ranged ? 5 : 3, argv,
                      NULL));
    cf_err_t rc = s_page_shape(store, *r_out, limit);
    if (rc != CF_OK)
        cf_store_reply_free(r_out);
    return rc;
}

cf_err_t cf_db_agent_page(cf_store_t *store, cf_db_lock_t lock, const char *cursor, int64_t min,
                          int64_t max, size_t limit, redisReply **r_out)
{
    char sets[CF_DB_LOCK_COUNT][CF_DB_KEY_MAX];
    const char *names[CF_DB_LOCK_COUNT];
    char score[CF_DB_CURSOR_MAX], id[CF_DB_CURSOR_MAX];
    *r_out = NULL;
    if ((int) lock < 0 || lock > CF_DB_LOCK_COUNT || limit == 0 || limit > CF_DB_PAGE_MAX ||
        s_cursor(cursor, score, id) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "agent list: bad lock, limit or cursor");
    int n = 0;
    for (int l = 0; l < CF_DB_LOCK_COUNT; l++) {
        if (lock == CF_DB_LOCK_COUNT || lock == (cf_db_lock_t) l) {
            cf_db_agent_lock_key(sets[n], (cf_db_lock_t) l);
            names[n] = sets[n];
            n++;
        }
    }
    return s_zpage(store, names, n, score[0] ? score : "0", id, min, max, limit, r_out);
}

cf_err_t cf_db_agent_zpage(cf_store_t *store, const char *set, const char *score, const char *id,
                           int64_t min, int64_t max, size_t limit, redisReply **r_out)
{
    return s_zpage(store, &set, 1, score, id, min, max, limit, r_out);
}

cf_err_t cf_db_agent_list(cf_store_t *store, cf_db_lock_t lock, const char *cursor, size_t limit,
                          cf_db_agent_t **list_out, size_t *n_out, char *cursor_out)
{
    CF_ASSERT(store && list_out && n_out && cursor_out);
    *list_out = NULL;
    *n_out = 0;
    cursor_out[0] = '\0';
    redisReply *page = NULL;
    CF_TRY(cf_db_agent_page(store, lock, cursor, 0, INT64_MAX, limit, &page));
    size_t count = page->elements / 2, n = 0;
    cf_db_agent_t *list = cf_mem_calloc(count ? count : 1, sizeof(*list));
    cf_err_t rc = list ? CF_OK : cf_db_fail(store, CF_ERR_NOMEM, "out of memory");
    if (rc == CF_OK && count)
        rc = s_fetch(store, page, lock, list, &n);
    if (rc == CF_OK && count == limit) /* a full page: there may be more */
        snprintf(cursor_out, CF_DB_CURSOR_MAX, "%s:%s", page->element[2 * count - 1]->str,
                 page->element[2 * count - 2]->str);
    freeReplyObject(page);
    if (rc != CF_OK) {
        cf_mem_free(list);
        return rc;
    }
    *list_out = list;
    *n_out = n;
    return CF_OK;
}

cf_err_t cf_db_agent_list_ids(cf_store_t *store, cf_db_lock_t lock, const char *cursor,
                              size_t limit, cf_err_t (*each)(void *arg, const char *id), void *arg,
                              char *cursor_out)
{
    CF_ASSERT(store && each && cursor_out);
    cursor_out[0] = '\0';
    redisReply *page = NULL;
    CF_TRY(cf_db_agent_page(store, lock, cursor, 0, INT64_MAX, limit, &page));
    size_t count = page->elements / 2;
    cf_err_t rc = CF_OK;
    for (size_t i = 0; rc == CF_OK && i < count; i++)
        rc = each(arg, page->element[2 * i]->str);
    if (rc == CF_OK && count == limit) /* a full page: there may be more */
        snprintf(cursor_out, CF_DB_CURSOR_MAX, "%s:%s", page->element[2 * count - 1]->str,
                 page->element[2 * count - 2]->str);
    freeReplyObject(page);
    return rc;
}

/* Queue SCRIPT LOAD, then one EVALSHA per agent: one round trip for the lot. */
static cf_err_t s_fav_queue(cf_store_pipe_t *pipe, const cf_store_script_t *script, const char *lua,
                            const char *const *ids, size_t n, const char *alias)
{
    const char *load[] = {"SCRIPT", "LOAD", lua};
    CF_TRY(cf_store_pipe_append_argv(pipe, 3, load, NULL));
    char key[CF_DB_KEY_MAX];
    for (size_t i = 0; i < n; i++) {
        CF_TRY(cf_db_key_agent(key, ids[i]));
        const char *argv[] = {"EVALSHA", cf_store_script_sha(script), "2", key, CF_DB_K_SERVERS,
                              alias};
        CF_TRY(cf_store_pipe_append_argv(pipe, 6, argv, NULL));
    }
    return CF_OK;
}

/* Sum the per-agent answers (1 changed, 0 unknown agent, -1 unknown server). */
static cf_err_t s_fav_count(cf_store_t *store, cf_store_pipe_t *pipe, size_t n, const char *alias,
                            size_t *updated)
{
    for (size_t i = 0; i < n; i++) {
        int64_t v = 0;
        CF_TRY(cf_db_r_int(cf_store_pipe_reply(pipe, i + 1), 0, -1, 1, &v, "favorite reply",
                           cf_db_why(store)));
        if (v < 0)
            return cf_db_fail(store, CF_ERR_NOTFOUND, "no server %s", alias);
        *updated += (size_t) v;
    }
    return CF_OK;
}

cf_err_t cf_db_agent_set_favorite(cf_store_t *store, const char *const *ids, size_t n,
                                  const char *alias, size_t *updated)
{
    CF_ASSERT(store);
    size_t done = 0;
    if (updated)
        *updated = 0;
    if (!alias)
        alias = "";
    if (!ids || n == 0 || n > CF_DB_BATCH_MAX || (*alias && cf_db_check_alias(alias) != CF_OK))
        return cf_db_fail(store, CF_ERR_INVALID, "favorite: 1..%d agents and a valid alias",
                          CF_DB_BATCH_MAX);
    for (size_t i = 0; i < n; i++)
        if (cf_db_check_agent_id(ids[i]) != CF_OK)
            return cf_db_fail(store, CF_ERR_INVALID, "favorite: agent %zu has a bad id", i + 1);
    cf_store_script_t *script = NULL;
    cf_store_pipe_t *pipe = NULL;
    cf_err_t rc = cf_store_script_new(s_lua_favorite, &script);
    if (rc == CF_OK)
        rc = cf_store_pipe_new(store, n + 1, &pipe);
    if (rc == CF_OK)
        rc = s_fav_queue(pipe, script, s_lua_favorite, ids, n, alias);
    if (rc == CF_OK)
        rc = cf_store_pipe_exec(pipe, CF_STORE_IDEMPOTENT);
    if (rc == CF_OK)
        rc = s_fav_count(store, pipe, n, alias, &done);
    cf_store_pipe_destroy(&pipe);
    cf_store_script_destroy(&script);
    if (rc == CF_OK && updated)
        *updated = done;
    return rc;
}
