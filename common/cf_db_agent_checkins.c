/*  cf_db_agent_checkins - several agents' check-ins as one Redis command (one EVALSHA)  */
#include "cf_db_agent_checkins.h"

#include <string.h>

#include "cf_db_agent_int.h"
#include "cf_store_reply.h"

/* KEYS: the agent's key and its jobs' key per check-in. ARGV: 1 now, 2 server, then per
   check-in id, lock, last_addr, cert_fp, cert_serial, cert_not_after, version (the
   arguments of the one-check-in script without now and server, which the check-ins of one
   command share). Each check-in runs in a pcall: an error in one (a key of the wrong type)
   is its answer alone, the others are recorded and answered. The reply: one element per
   check-in, as the one-check-in script answers it (0 for a revoked agent), or its error. */
static const char s_lua_checkins[] =
    CF_DB_LUA_CHECKIN_ONE "local now, srv, r = ARGV[1], ARGV[2], {}\n"
                          "for i = 1, #KEYS / 2 do\n"
                          "  local b = i * " CF_DB_LUA_STR(
                              CF_DB_CHECKINS_ARGS) " - 4\n"
                                                   "  local ok, res = pcall(one, KEYS[2 * i - 1], "
                                                   "KEYS[2 * i], ARGV[b], ARGV[b + 1], now,\n"
                                                   "    ARGV[b + 2], ARGV[b + 3], ARGV[b + 4], "
                                                   "ARGV[b + 5], ARGV[b + 6], srv)\n"
                                                   "  if ok or type(res) == 'table' then r[i] = "
                                                   "res else r[i] = {err = tostring(res)} end\n"
                                                   "end\n"
                                                   "return r\n";

_Static_assert(CF_DB_CHECKINS_ARGS == 7, "s_lua_checkins reads 7 arguments per check-in");

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
    size_t len = strlen(src); /* every source was checked to fit by cf_db_agent_checkin_cmd */
    memcpy(dst, src, len + 1);
}

cf_err_t cf_db_agent_checkins_add(cf_db_checkins_t *b, const cf_db_checkin_t *in)
{
    CF_ASSERT(b && in);
    cf_db_checkin_cmd_t cmd; /* checks in, builds the keys and numbers */
    if (cf_db_agent_checkin_cmd(in, 1, &cmd) != CF_OK)
        return CF_ERR_INVALID;
    if (!cf_db_agent_checkins_fits(b, in))
        return CF_ERR_TOOBIG;
    if (b->n == 0) {
        b->now = in->now;
        s_copy(b->now_text, cmd.now);
        s_copy(b->server, in->server);
    }
    /* cmd.argv after the two keys: id, lock, now, addr, fp, serial, not_after, version,
       server (cf_db_agent_checkin_cmd's order) */
    const char *const *a = cmd.argv + cmd.nkeys;
    cf_db_checkins_one_t *o = &b->one[b->n];
    s_copy(o->agent, cmd.agent);
    s_copy(o->jobs, cmd.jobs);
    s_copy(o->id, a[0]);
    o->lock = a[1];
    s_copy(o->addr, a[3]);
    s_copy(o->fp, a[4]);
    s_copy(o->serial, a[5]);
    s_copy(o->na, a[6]);
    s_copy(o->version, a[7]);
    b->n++;
    return CF_OK;
}

const char **cf_db_agent_checkins_argv(cf_db_checkins_t *b, int *nkeys, int *argc)
{
    CF_ASSERT(b && b->n > 0 && b->n <= CF_DB_CHECKINS_MAX);
    const char **v = b->argv;
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++) {
        v[k++] = b->one[i].agent;
        v[k++] = b->one[i].jobs;
    }
    *nkeys = (int) k;
    v[k++] = b->now_text;
    v[k++] = b->server;
    for (size_t i = 0; i < b->n; i++) {
        const cf_db_checkins_one_t *o = &b->one[i];
        const char *args[CF_DB_CHECKINS_ARGS] = {o->id,     o->lock, o->addr,   o->fp,
                                                 o->serial, o->na,   o->version};
        for (size_t j = 0; j < CF_DB_CHECKINS_ARGS; j++)
            v[k++] = args[j];
    }
    *argc = (int) k;
    return v;
}

cf_err_t cf_db_agent_checkins_reply(const redisReply *r, size_t n, size_t i, const char *id,
                                    char *favorite, cf_db_lock_t *lock, int64_t *jobs,
                                    cf_why_t *why)
{
    CF_ASSERT(i < n);
    CF_TRY(cf_db_r_array(r, n, n, "check-ins reply", why));
    const redisReply *e = r->element[i];
    if (e && e->type == REDIS_REPLY_ERROR)
        return cf_store_reply_check(e, why);
    return cf_db_agent_checkin_reply(e, id, favorite, lock, jobs, why);
}
