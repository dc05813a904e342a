/*  cf_db_agent_checkins - several agents' check-ins as one Redis command (one EVALSHA)  */
#include "cf_db_agent_checkins.h"

#include <string.h>

#include "cf_db_agent_int.h"
#include "cf_store_reply.h"

/* No KEYS. ARGV: 1 now, 2 server, then per check-in id, cert_fp, the digest and the
   packed rest: last_addr, cert_serial, cert_not_after, version and the protocol level, each
   ended by a newline but the last (no checked text holds one). A steady check-in needs only the
   first three (the digest says nothing changed): the rest is unpacked only when it is written, and
   every argument of an EVALSHA costs Redis about 1,200 instructions. The arguments of the
   one-check-in script otherwise: now and server are shared by the check-ins of one
   command; the lock is "secure" with a certificate and "insecure" without. The agent's
   key and its jobs' key are made from the id in the script (cf:agent:{<id>} and
   cf:agent:{<id>}:jobs, as cf_db_key_agent and cf_db_key_agent_jobs make them; the script
   names other keys itself already, cf_db_agent.c). Each check-in runs in a pcall: an error
   in one (a key of the wrong type) is its answer alone, the others are recorded and
   answered. The reply: one element per check-in: 0 for a revoked agent, its error, or one
   string "<lock> <open jobs> <favorite>", the count preceded by '+' when the protocol level
   is not the recorded one (the step's up) (one reply object to make, read and free instead
   of an array of three; a count of 0, the usual one, written without Lua's number-to-text
   conversion, a printf of a double). */
static const char s_lua_checkins[] = CF_DB_LUA_CHECKIN_ONE
    "local now, srv, r = ARGV[1], ARGV[2], {}\n"
    "for i = 1, (#ARGV - 2) / " CF_DB_LUA_STR(
        CF_DB_CHECKINS_ARGS) " do\n"
                             "  local b = (i - 1) * " CF_DB_LUA_STR(
                                 CF_DB_CHECKINS_ARGS) " + 3\n"
                                                      "  local id, fp = ARGV[b], ARGV[b + 1]\n"
                                                      "  local ok, f, l, c, u = pcall(one, "
                                                      "'" CF_DB_KP_AGENT "' .. id .. '" CF_DB_KS_TAG
                                                      "',\n"
                                                      "    '" CF_DB_KP_AGENT
                                                      "' .. id .. '" CF_DB_KS_AGENT_JOBS "', id,\n"
                                                      "    fp == '' and 'insecure' or 'secure', "
                                                      "now, nil, fp, nil, nil, nil, srv, nil, "
                                                      "ARGV[b + 2],\n"
                                                      "    ARGV[b + 3])\n"
                                                      "  if not ok then\n"
                                                      "    r[i] = type(f) == 'table' and f or {err "
                                                      "= tostring(f)}\n"
                                                      "  elseif l == nil then\n"
                                                      "    r[i] = f\n"
                                                      "  else\n"
                                                      "    r[i] = l .. (u and ' +' or ' ') .. (c "
                                                      "== 0 "
                                                      "and '0 ' or c .. ' ') .. f\n"
                                                      "  end\n"
                                                      "end\n"
                                                      "return r\n";

_Static_assert(CF_DB_CHECKINS_ARGS == 4, "s_lua_checkins reads 4 arguments per check-in");

static cf_store_script_t *_Atomic s_script; /* the script, kept (cf_db_script_kept) */

const cf_store_script_t *cf_db_agent_checkins_script(void)
{
    return cf_db_script_kept(&s_script, s_lua_checkins);
}

void cf_db_agent_checkins_clear(cf_db_checkins_t *b)
{
    b->n = 0;
    b->now = 0;
    b->server[0] = '\0';
}

int cf_db_agent_checkins_fits(const cf_db_checkins_t *b, const cf_db_checkin_t *in)
{
    if (b->n == 0)
        return 1;
    return b->n < CF_DB_CHECKINS_MAX && in->now == b->now && in->server &&
           strcmp(in->server, b->server) == 0;
}

static void s_copy(char *dst, const char *src)
{
    size_t len = strlen(src); /* every source was checked to fit by cf_db_agent_checkin_args */
    memcpy(dst, src, len + 1);
}

cf_err_t cf_db_agent_checkins_add(cf_db_checkins_t *b, const cf_db_checkin_t *in)
{
    CF_ASSERT(b && in);
    cf_db_checkin_cmd_t cmd; /* checks in, builds the numbers and the digest */
    if ((in->lock != CF_DB_LOCK_SECURE && in->lock != CF_DB_LOCK_INSECURE) ||
        cf_db_agent_checkin_args(in, &cmd) != CF_OK)
        return CF_ERR_INVALID;
    if (!cf_db_agent_checkins_fits(b, in))
        return CF_ERR_TOOBIG;
    if (b->n == 0) {
        b->now = in->now;
        s_copy(b->now_text, cmd.now);
        s_copy(b->server, in->server);
    }
    /* cmd.argv: id, lock, now, addr, fp, serial, not_after, version, server, protocol level,
       digest (cf_db_agent_checkin_args's order) */
    const char *const *a = cmd.argv + cmd.nkeys;
    cf_db_checkins_one_t *o = &b->one[b->n];
    s_copy(o->id, a[0]);
    s_copy(o->fp, a[4]);
    s_copy(o->facts, a[10]);
    char *p = o->rest;
    for (int i = 0; i < 5; i++) { /* addr, serial, not_after, version, protocol level */
        static const int from[5] = {3, 5, 6, 7, 9};
        size_t len = strlen(a[from[i]]); /* checked: each fits its part of rest */
        memcpy(p, a[from[i]], len);
        p += len;
        *p++ = i < 4 ? '\n' : '\0';
    }
    b->n++;
    return CF_OK;
}

const char **cf_db_agent_checkins_argv(cf_db_checkins_t *b, int *nkeys, int *argc)
{
    CF_ASSERT(b && b->n > 0 && b->n <= CF_DB_CHECKINS_MAX);
    const char **v = b->argv;
    size_t k = 0;
    *nkeys = 0; /* the script makes the agents' keys from their ids */
    v[k++] = b->now_text;
    v[k++] = b->server;
    for (size_t i = 0; i < b->n; i++) {
        const cf_db_checkins_one_t *o = &b->one[i];
        const char *args[CF_DB_CHECKINS_ARGS] = {o->id, o->fp, o->facts, o->rest};
        for (size_t j = 0; j < CF_DB_CHECKINS_ARGS; j++)
            v[k++] = args[j];
    }
    *argc = (int) k;
    return v;
}

/* "<lock> [+]<open jobs> <favorite>" (favorite may be empty). */
static cf_err_t s_compact(const redisReply *e, const char *id, char *favorite, cf_db_lock_t *lock,
                          int64_t *jobs, int *upgrade, cf_why_t *why)
{
    char lname[16];
    const char *s = e->str, *end = e->str + e->len;
    const char *sp = memchr(s, ' ', e->len);
    size_t n = sp ? (size_t) (sp - s) : 0;
    if (!sp || n == 0 || n >= sizeof(lname))
        return cf_why(why, CF_ERR_CORRUPT, "agent %.64s: malformed check-in answer", id);
    memcpy(lname, s, n);
    lname[n] = '\0';
    int64_t count = 0;
    const char *digits = sp + 1 < end && sp[1] == '+' ? sp + 2 : sp + 1, *p = digits;
    for (; p < end && *p >= '0' && *p <= '9' && count <= CF_DB_JOB_OPEN_MAX; p++)
        count = count * 10 + (*p - '0');
    size_t flen = (size_t) (end - p) - 1;
    if (p == digits || p >= end || *p != ' ' || count > CF_DB_JOB_OPEN_MAX ||
        flen > CF_DB_ALIAS_MAX || cf_db_lock_from_name(lname, lock) != CF_OK)
        return cf_why(why, CF_ERR_CORRUPT, "agent %.64s: malformed check-in answer", id);
    char fav[CF_DB_ALIAS_MAX + 1];
    memcpy(fav, p + 1, flen);
    fav[flen] = '\0';
    if (flen && cf_db_check_alias(fav) != CF_OK)
        return cf_why(why, CF_ERR_CORRUPT, "agent %.64s: bad favorite", id);
    if (favorite)
        memcpy(favorite, fav, flen + 1);
    *jobs = count;
    *upgrade = digits != sp + 1;
    return CF_OK;
}

cf_err_t cf_db_agent_checkins_reply(const redisReply *r, size_t n, size_t i, const char *id,
                                    char *favorite, cf_db_lock_t *lock, int64_t *jobs, int *upgrade,
                                    cf_why_t *why)
{
    CF_ASSERT(i < n && lock && jobs && upgrade);
    *upgrade = 0;
    CF_TRY(cf_db_r_array(r, n, n, "check-ins reply", why));
    const redisReply *e = r->element[i];
    if (e && e->type == REDIS_REPLY_ERROR)
        return cf_store_reply_check(e, why);
    if (e && e->type == REDIS_REPLY_STRING)
        return s_compact(e, id, favorite, lock, jobs, upgrade, why);
    if (e && e->type == REDIS_REPLY_INTEGER && e->integer == 0)
        return cf_why(why, CF_ERR_REVOKED, "agent %.64s is revoked", id);
    return cf_why(why, CF_ERR_CORRUPT, "agent %.64s: malformed check-in answer", id);
}
