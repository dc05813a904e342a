/*  cf_db_agent_int - shared by cf_db_agent.c and cf_db_agent_list.c  */
#ifndef CF_DB_AGENT_INT_H_INCLUDED
#define CF_DB_AGENT_INT_H_INCLUDED

#include <hiredis/hiredis.h>

#include "cf_db_agent.h"
#include "cf_db_job.h"
#include "cf_db_key.h"

#define CF_DB_LUA_STR_(x) #x
#define CF_DB_LUA_STR(x)  CF_DB_LUA_STR_(x)
#define CF_DB_LUA_LOCKS   CF_DB_K_AGENTS ":"
/* The check-in step as a Lua function (cf_db_agent.c says what it does): k the agent's
   key, jk its jobs' key (nil: not counted), then id, lock, now, last_addr, cert_fp,
   cert_serial, cert_not_after, version (nil: kept, '': deleted), server (nil: kept), pv
   the protocol level the agent speaks, as text (nil or '': not compared).
   dg is the digest of addr, fp, serial, na, v, srv and pv (cf_db_agent_facts; nil: none);
   packed, when given, holds addr, serial, na, v and pv instead (each ended by a newline
   but the last), unpacked only when the step needs them (the digest differs).
   Returns 0 for a revoked agent, else favorite or '', lock, open jobs (nil when not
   counted), up (values, not a table: the script of several check-ins answers each as one
   string). up is true when pv is not the level the record's field proto holds (absent:
   1): the level is recorded, and the agent's too_old entries moved, by cf_db_job_upgrade,
   which the server then calls; until then no digest is stored, so every check-in of that
   agent compares again.
   The field `facts` holds the digest of the values the step last wrote: a check-in whose
   lock and digest are those stored (the steady one) reads 4 fields and writes last_seen
   alone; any other reads the seven fields too and writes what changed and its digest (one
   without a digest deletes the field). Protocol level in the digest: a steady check-in's
   level is the recorded one. */
#define CF_DB_LUA_CHECKIN_ONE                                                                      \
    "local function changes(k, id, old, new, set, addr, fp, serial, na, v, srv, dg, had, pv)\n"    \
    "local a = redis.call('HMGET', k, 'last_addr', 'cert_fp', 'cert_serial', 'cert_not_after',\n"  \
    "  'version', 'server', 'proto')\n"                                                            \
    "local up = pv ~= nil and pv ~= '' and pv ~= (a[7] or '1')\n"                                  \
    "local n = 2\n"                                                                                \
    "if old ~= new then\n"                                                                         \
    "  if old == 'secure' or old == 'attention' or old == 'insecure' or old == 'expired' then\n"   \
    "    redis.call('HINCRBY', '" CF_DB_K_AGENTS_LOCK "', old, -1)\n"                              \
    "    redis.call('ZREM', '" CF_DB_LUA_LOCKS "' .. old, id)\n"                                   \
    "  end\n"                                                                                      \
    "  redis.call('HINCRBY', '" CF_DB_K_AGENTS_LOCK "', new, 1)\n"                                 \
    "  set[3], set[4], set[5], set[6], n = 'lock', new, 'id', id, 6\n"                             \
    "end\n"                                                                                        \
    "if addr ~= a[1] then set[n + 1], set[n + 2], n = 'last_addr', addr, n + 2 end\n"              \
    "if fp == '' then\n"                                                                           \
    "  if a[2] or a[3] or a[4] then\n"                                                             \
    "    redis.call('HDEL', k, 'cert_fp', 'cert_serial', 'cert_not_after')\n"                      \
    "  end\n"                                                                                      \
    "else\n"                                                                                       \
    "  if fp ~= a[2] then set[n + 1], set[n + 2], n = 'cert_fp', fp, n + 2 end\n"                  \
    "  if serial ~= a[3] then set[n + 1], set[n + 2], n = 'cert_serial', serial, n + 2 end\n"      \
    "  if na ~= a[4] then set[n + 1], set[n + 2], n = 'cert_not_after', na, n + 2 end\n"           \
    "end\n"                                                                                        \
    "local was, is = tonumber(a[4]) or 0, tonumber(na) or 0\n"                                     \
    "if is ~= was then\n"                                                                          \
    "  if is > 0 then\n"                                                                           \
    "    redis.call('ZADD', '" CF_DB_K_AGENTS_EXPIRY "', is, id)\n"                                \
    "  else\n"                                                                                     \
    "    redis.call('ZREM', '" CF_DB_K_AGENTS_EXPIRY "', id)\n"                                    \
    "  end\n"                                                                                      \
    "end\n"                                                                                        \
    "if v == '' then\n"                                                                            \
    "  if a[5] then redis.call('HDEL', k, 'version') end\n"                                        \
    "elseif v and v ~= a[5] then\n"                                                                \
    "  set[n + 1], set[n + 2], n = 'version', v, n + 2\n"                                          \
    "end\n"                                                                                        \
    "if srv and srv ~= a[6] then set[n + 1], set[n + 2], n = 'server', srv, n + 2 end\n"           \
    "if dg and not up then\n"                                                                      \
    "  set[n + 1], set[n + 2] = 'facts', dg\n"                                                     \
    "elseif had then\n"                                                                            \
    "  redis.call('HDEL', k, 'facts')\n"                                                           \
    "end\n"                                                                                        \
    "return up\n"                                                                                  \
    "end\n"                                                                                        \
    "local function one(k, jk, id, new, now, addr, fp, serial, na, v, srv, pv, dg, packed)\n"      \
    "local a = redis.call('HMGET', k, 'revoked', 'lock', 'favorite', 'facts')\n"                   \
    "if a[1] then return 0 end\n"                                                                  \
    "if new == 'secure' and redis.call('HEXISTS', '" CF_DB_K_ARCHIVE "', fp) == 1 then\n"          \
    "  new = 'attention'\n"                                                                        \
    "end\n"                                                                                        \
    "local set, up = {'last_seen', now}, false\n"                                                  \
    "if a[2] ~= new or not dg or dg ~= a[4] then\n"                                                \
    "  if packed then\n"                                                                           \
    "    addr, serial, na, v, pv = string.match(packed, "                                          \
    "'^([^\\n]*)\\n([^\\n]*)\\n([^\\n]*)\\n([^\\n]*)\\n(.*)$')\n"                                  \
    "    if not pv then error('malformed check-in arguments') end\n"                               \
    "  end\n"                                                                                      \
    "  up = changes(k, id, a[2], new, set, addr, fp, serial, na, v, srv, dg, a[4], pv)\n"          \
    "end\n"                                                                                        \
    "redis.call('ZADD', '" CF_DB_LUA_LOCKS "' .. new, now, id)\n"                                  \
    "redis.call('HSET', k, unpack(set))\n"                                                         \
    "if not jk then return a[3] or '', new, nil, up end\n"                                         \
    "local c = 0\n"                                                                                \
    "if redis.call('EXISTS', jk) == 1 then\n"                                                      \
    "  local z = redis.call('ZRANGEBYSCORE', jk, '(' .. now, '+inf', 'LIMIT', 0, '" CF_DB_LUA_STR( \
        CF_DB_JOB_OPEN_MAX) "')\n"                                                                 \
                            "  for i = 1, #z do\n"                                                 \
                            "    local s = redis.call('HGET', '" CF_DB_KP_JOB                      \
                            "' .. z[i] .. '" CF_DB_KS_JOB_ST "', id)\n"                            \
                            "    if s == 'pending' or s == 'delivered' then c = c + 1 end\n"       \
                            "  end\n"                                                              \
                            "end\n"                                                                \
                            "return a[3] or '', new, c, up\n"                                      \
                            "end\n"

/* The digest a check-in stores in the agent's field `facts` (see CF_DB_LUA_CHECKIN_ONE):
   SipHash-2-4, keyed with 16 random bytes drawn once per process, of last_addr, cert_fp,
   cert_serial, cert_not_after (text), version, server and the protocol level (text, "" when
   not said), each ended by a newline (no checked text holds one), as 16 lowercase hex digits.
   Keyed, so an agent cannot make two sets of values give one digest; per process, so a digest
   another process (or this server before a restart) wrote never matches: that check-in reads and
   compares the fields, as without a digest. */
#define CF_DB_FACTS_N   7   /* values in the digest */
#define CF_DB_FACTS_MAX 256 /* bytes of one value at most */
#define CF_DB_FACTS_BUF 17  /* the digest's text and its NUL */
/* Write the digest of facts (CF_DB_FACTS_N texts in the order above, none NULL or longer
   than CF_DB_FACTS_MAX) into out. CF_ERR_INVALID, CF_ERR_CRYPTO (no random key). */
CF_MUST_USE cf_err_t cf_db_agent_facts(const char *const facts[CF_DB_FACTS_N],
                                       char out[CF_DB_FACTS_BUF]);
/* The check-in's arguments alone into cmd->argv (nkeys 0, argc CF_DB_CHECKIN_ARGS: id,
   lock, now, last_addr, cert_fp, cert_serial, cert_not_after, version, server, protocol
   level, digest),
   in checked as cf_db_agent_checkin_cmd checks it, no key made (the script of several
   check-ins makes them). CF_ERR_INVALID, CF_ERR_CRYPTO. */
CF_MUST_USE cf_err_t cf_db_agent_checkin_args(const cf_db_checkin_t *in, cf_db_checkin_cmd_t *cmd);
/* SipHash-2-4 of len bytes at data under key, as a little-endian integer (libsodium's
   crypto_shorthash_siphash24; for cf_db_agent_facts and its test). Pure. */
uint64_t cf_db_siphash(const uint8_t key[16], const void *data, size_t len);

/* An agent hash's fields, in the order of CF_DB_AGENT_HMGET. */
#define CF_DB_AGENT_HMGET                                                                       \
    "HMGET %s id lock last_seen last_addr version cert_fp cert_serial cert_not_after favorite " \
    "server revoked"
enum {
    A_ID,
    A_LOCK,
    A_LAST_SEEN,
    A_ADDR,
    A_VERSION,
    A_FP,
    A_SERIAL,
    A_NOT_AFTER,
    A_FAVORITE,
    A_SERVER,
    A_REVOKED,
    A_COUNT
};

/* Decode the CF_DB_AGENT_HMGET answer for agent id into *out. CF_ERR_NOTFOUND when the
   agent does not exist, CF_ERR_CORRUPT with why in the store. */
CF_MUST_USE cf_err_t cf_db_agent_decode(cf_store_t *store, const char *id, const redisReply *r,
                                        cf_db_agent_t *out);
/* Run the paging script (cf_db_agent_list.c) on cf:agents, or cf:agents:<lock> when lock is
   a state: the next limit (1..CF_DB_PAGE_MAX) members after cursor ("<score>:<id>", NULL
   or "" to start) with scores min..max, as a checked reply of {id, score} pairs (*r_out,
   freeReplyObject). CF_ERR_INVALID (lock, limit, cursor). */
CF_MUST_USE cf_err_t cf_db_agent_page(cf_store_t *store, cf_db_lock_t lock, const char *cursor,
                                      int64_t min, int64_t max, size_t limit, redisReply **r_out);
/* The paging script on any sorted set of agent ids (cf:agents*, cf:agents:expiry): the next
   limit (1..CF_DB_PAGE_MAX) members after (score, id) (id "" = from the lowest score kept)
   with scores min..max, as a checked reply of {id, score} pairs (*r_out, freeReplyObject).
   score is decimal text. Errors of cf_db_eval; CF_ERR_CORRUPT for a malformed answer. */
CF_MUST_USE cf_err_t cf_db_agent_zpage(cf_store_t *store, const char *set, const char *score,
                                       const char *id, int64_t min, int64_t max, size_t limit,
                                       redisReply **r_out);
/* cf:agents:<lock> into key (CF_DB_KEY_MAX bytes); lock must be valid. */
void cf_db_agent_lock_key(char *key, cf_db_lock_t lock);

#endif
