/*  cf_db_agent - agent records: check-in, lock states and their counters, one agent, counts  */
#include "cf_db_agent.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "cf_db_agent_int.h"
#include "cf_db_util.h"

#include "cf_db_job.h"

#define S_NKEYS 8 /* keys of the remove script before its ninth, cf:curve:owner */

_Static_assert(sizeof(((cf_db_checkin_cmd_t *) 0)->facts) == CF_DB_FACTS_BUF, "digest buffer");

/* KEYS: 1 cf:agent:{<id>}, and optionally 2 cf:agent:{<id>}:jobs. ARGV: 1 id, 2 lock, 3 now,
   4 last_addr, 5 cert_fp, 6 cert_serial, 7 cert_not_after (5..7 all '' = no certificate: the
   three fields are deleted), then optionally 8 version ('' = delete), 9 server (absent:
   both kept), 10 the protocol level the agent speaks ('' = not compared) and 11 the digest of
   4..10 (cf_db_agent_facts; absent with them). The fixed keys
   (cf:agents:lock, cf:agents:<lock>, cf:agents:expiry, cf:archive, the jobs' :st hashes) are named
   in the script: passed as arguments they cost Redis about 1,200 instructions each per call, and
   they never share a slot with the agent's keys anyway. One HMGET reads what the step decides on
   (revoked, the old lock, favorite and the digest of the values last written, field facts); only
   when the lock or the digest differs does a second HMGET read the stored values of the fields it
   writes, so only what changed is written: the steady check-in (same lock, address, certificate,
   version and server) is that one HMGET of 4 fields, the ZADD of its lock set (the score is
   last_seen) and an HSET of last_seen. "secure" becomes "attention" when the certificate presented
   is archived (replaced): the archive question in the same round trip. The counters move only when
   the lock changes, in the same script as the lock itself; the expiry index follows the record's
   cert_not_after (absent or 0: not indexed) and is written when that changes (only this script and
   the remove script write either). With KEYS[2] the agent's open jobs are counted too (expiring
   after now, at most CF_DB_JOB_OPEN_MAX, pending or delivered for this agent: the sendable ones of
   cf_db_job_agent_open), in the same round trip; EXISTS first, so an agent without jobs
   costs one call. A revoked agent (cf_db_enroll) is left as it is: the answer is then 0;
   else {favorite or '', lock} and, with KEYS[2], the count as a third element. The step
   itself is the Lua function CF_DB_LUA_CHECKIN_ONE (cf_db_agent_int.h), shared with the
   script of several check-ins (cf_db_agent_checkins.c). */
static const char s_lua_checkin[] = CF_DB_LUA_CHECKIN_ONE
    "local f, l, c = one(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5],\n"
    "  ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11])\n"
    "if l == nil then return f end\n"
    "return {f, l, c}\n";

/* KEYS: 1 agent, 2 cf:agents (an older version's set of all agents: see docs/REDIS.md), 3
   cf:agents:lock, 4..7 cf:agents:<lock>, 8 cf:agents:expiry, 9 cf:curve:owner; ARGV[1] id. The
   agent's CURVE key (field curve, cf_db_curve) leaves the owner hash with the record, its event
   published. */
static const char s_lua_remove[] =
    "local sets = {secure = KEYS[4], attention = KEYS[5], insecure = KEYS[6], expired = KEYS[7]}\n"
    "local old = redis.call('HGET', KEYS[1], 'lock')\n"
    "local ck = redis.call('HGET', KEYS[1], 'curve')\n"
    "if ck and redis.call('HGET', KEYS[9], ck) == 'agent:' .. ARGV[1] then\n"
    "  redis.call('HDEL', KEYS[9], ck)\n"
    "  redis.call('PUBLISH', 'cf:events', 'agent-key ' .. ARGV[1])\n"
    "end\n"
    "if redis.call('DEL', KEYS[1]) == 0 then return 0 end\n"
    "if old and sets[old] then redis.call('HINCRBY', KEYS[3], old, -1) end\n"
    "for i = 4, 8 do redis.call('ZREM', KEYS[i], ARGV[1]) end\n"
    "redis.call('ZREM', KEYS[2], ARGV[1])\n"
    "return 1\n";

static const char *const s_locks[CF_DB_LOCK_COUNT] = {"secure", "attention", "insecure", "expired"};

const char *cf_db_lock_name(cf_db_lock_t lock)
{
    if ((int) lock < 0 || lock >= CF_DB_LOCK_COUNT)
        return "unknown";
    return s_locks[lock];
}

cf_err_t cf_db_lock_from_name(const char *name, cf_db_lock_t *out)
{
    for (int i = 0; name && i < CF_DB_LOCK_COUNT; i++) {
        if (strcmp(name, s_locks[i]) == 0) {
            *out = (cf_db_lock_t) i;
            return CF_OK;
        }
    }
    return CF_ERR_INVALID;
}

void cf_db_agent_lock_key(char *key, cf_db_lock_t lock)
{
    snprintf(key, CF_DB_KEY_MAX, "%s:%s", CF_DB_K_AGENTS, cf_db_lock_name(lock));
}

/* The remove script's KEYS[2..8]. */
#define S_LOCKS CF_DB_K_AGENTS ":"
static const char *const s_fixed[S_NKEYS - 1] = {
    CF_DB_K_AGENTS,     CF_DB_K_AGENTS_LOCK, S_LOCKS "secure",     S_LOCKS "attention",
    S_LOCKS "insecure", S_LOCKS "expired",   CF_DB_K_AGENTS_EXPIRY};

static int s_empty(const char *s)
{
    return !s || !*s;
}

/* Check the certificate fields: none, or a fingerprint with its serial. */
static cf_err_t s_check_cert(const char *fp, const char *serial)
{
    if (s_empty(fp))
        return s_empty(serial) ? CF_OK : CF_ERR_INVALID;
    if (cf_db_check_fingerprint(fp) != CF_OK || cf_db_check_serial(serial) != CF_OK)
        return CF_ERR_INVALID;
    return CF_OK;
}

static cf_err_t s_check_checkin(const cf_db_checkin_t *in)
{
    if (cf_db_check_agent_id(in->id) != CF_OK || (int) in->lock < 0 ||
        in->lock >= CF_DB_LOCK_COUNT || in->now < 0 || !in->addr ||
        cf_db_check_text(in->addr, 1, CF_DB_ADDR_MAX) != CF_OK ||
        (in->version && cf_db_check_text(in->version, 0, CF_DB_VERSION_MAX) != CF_OK) ||
        cf_db_check_alias(in->server) != CF_OK || in->proto > CF_DB_JOB_PROTO_MAX)
        return CF_ERR_INVALID;
    if (s_check_cert(in->cert_fp, in->cert_serial) != CF_OK)
        return CF_ERR_INVALID;
    /* insecure means "no certificate": the two always go together */
    if ((in->lock == CF_DB_LOCK_INSECURE) != s_empty(in->cert_fp))
        return CF_ERR_INVALID;
    return CF_OK;
}

static cf_store_script_t *_Atomic s_script; /* the check-in script, kept (cf_db_script_kept) */

const cf_store_script_t *cf_db_agent_checkin_script(void)
{
    return cf_db_script_kept(&s_script, s_lua_checkin);
}

/* The script's command: the agent's key (and its jobs' when jobs: they are counted), then
   the nargs arguments of s_lua_checkin. */
static cf_err_t s_cmd(const char *id, int jobs, const char **args, int nargs,
                      cf_db_checkin_cmd_t *cmd)
{
    CF_ASSERT(nargs <= CF_DB_CHECKIN_ARGS);
    CF_TRY(cf_db_key_agent(cmd->agent, id));
    if (jobs)
        CF_TRY(cf_db_key_agent_jobs(cmd->jobs, id));
    int k = 0;
    cmd->argv[k++] = cmd->agent;
    if (jobs)
        cmd->argv[k++] = cmd->jobs;
    cmd->nkeys = k;
    for (int i = 0; i < nargs; i++)
        cmd->argv[k++] = args[i];
    cmd->argc = k;
    return CF_OK;
}

cf_err_t cf_db_agent_checkin_reply(const redisReply *r, const char *id, char *favorite,
                                   cf_db_lock_t *lock, int64_t *jobs, cf_why_t *why)
{
    if (r && r->type == REDIS_REPLY_INTEGER)
        return cf_why(why, CF_ERR_REVOKED, "agent %.64s is revoked", id);
    char fav[CF_DB_ALIAS_MAX + 1], name[16];
    size_t n = jobs ? 3 : 2;
    cf_err_t rc = cf_db_r_array(r, n, n, "check-in reply", why);
    if (rc == CF_OK)
        rc = cf_db_r_text(r->element[0], 0, fav, CF_DB_ALIAS_MAX, "favorite", why);
    if (rc == CF_OK)
        rc = cf_db_r_text(r->element[1], 0, name, sizeof(name) - 1, "lock", why);
    if (rc == CF_OK && jobs)
        rc = cf_db_r_int(r->element[2], 0, 0, CF_DB_JOB_OPEN_MAX, jobs, "open jobs", why);
    if (rc == CF_OK &&
        ((fav[0] && cf_db_check_alias(fav) != CF_OK) || cf_db_lock_from_name(name, lock) != CF_OK))
        rc = cf_why(why, CF_ERR_CORRUPT, "agent %.64s: bad favorite or lock", id);
    if (rc == CF_OK && favorite)
        memcpy(favorite, fav, strlen(fav) + 1);
    return rc;
}

cf_err_t cf_db_agent_checkin_args(const cf_db_checkin_t *in, cf_db_checkin_cmd_t *cmd)
{
    CF_ASSERT(in && cmd);
    if (s_check_checkin(in) != CF_OK)
        return CF_ERR_INVALID;
    int cert = !s_empty(in->cert_fp);
    const char **a = cmd->argv;
    a[0] = in->id;
    a[1] = cf_db_lock_name(in->lock);
    a[2] = cf_db_i64(cmd->now, in->now);
    a[3] = in->addr;
    a[4] = cert ? in->cert_fp : "";
    a[5] = cert ? in->cert_serial : "";
    a[6] = cert ? cf_db_i64(cmd->na, in->cert_not_after) : "";
    a[7] = in->version ? in->version : "";
    a[8] = in->server;
    cmd->proto[0] = '\0';
    if (in->proto)
        snprintf(cmd->proto, sizeof(cmd->proto), "%u", in->proto & 0xffu); /* checked: <= 255 */
    a[9] = cmd->proto;
    a[10] = cmd->facts;
    cmd->nkeys = 0;
    cmd->argc = CF_DB_CHECKIN_ARGS;
    return cf_db_agent_facts(a + 3, cmd->facts);
}

cf_err_t cf_db_agent_checkin_cmd(const cf_db_checkin_t *in, int jobs, cf_db_checkin_cmd_t *cmd)
{
    CF_TRY(cf_db_agent_checkin_args(in, cmd));
    const char *args[CF_DB_CHECKIN_ARGS];
    memcpy(args, cmd->argv, sizeof(args));
    return s_cmd(in->id, jobs, args, CF_DB_CHECKIN_ARGS, cmd);
}

cf_err_t cf_db_agent_checkin_lock(cf_store_t *store, const cf_db_checkin_t *in, char *favorite,
                                  cf_db_lock_t *lock)
{
    CF_ASSERT(store && in);
    if (favorite)
        favorite[0] = '\0';
    cf_db_checkin_cmd_t cmd;
    const cf_store_script_t *script = cf_db_agent_checkin_script();
    if (cf_db_agent_checkin_cmd(in, 0, &cmd) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "bad check-in of agent %.64s",
                          in->id ? in->id : "");
    if (!script)
        return cf_db_fail(store, CF_ERR_NOMEM, "cannot prepare the check-in script");
    redisReply *r = NULL;
    /* not idempotent in general: a resend is harmless for the state but the caller decides */
    CF_TRY(cf_store_script_call(store, script, 0, &r, cmd.nkeys, cmd.argc - cmd.nkeys, cmd.argv,
                                NULL));
    cf_db_lock_t got = CF_DB_LOCK_INSECURE;
    cf_err_t rc = cf_db_agent_checkin_reply(r, in->id, favorite, &got, NULL, cf_db_why(store));
    freeReplyObject(r);
    if (rc == CF_OK && lock)
        *lock = got;
    return rc;
}

cf_err_t cf_db_agent_checkin(cf_store_t *store, const cf_db_checkin_t *in, char *favorite)
{
    return cf_db_agent_checkin_lock(store, in, favorite, NULL);
}

cf_err_t cf_db_agent_expired(cf_store_t *store, const char *id, int64_t now, const char *addr,
                             const char *cert_fp, const char *cert_serial, int64_t cert_not_after)
{
    CF_ASSERT(store);
    if (cf_db_check_agent_id(id) != CF_OK || now < 0 || !addr ||
        cf_db_check_text(addr, 1, CF_DB_ADDR_MAX) != CF_OK || s_empty(cert_fp) ||
        s_check_cert(cert_fp, cert_serial) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "bad expired record of agent %.64s", id ? id : "");
    char t[CF_DB_I64_BUF], na[CF_DB_I64_BUF];
    /* version and server left out: kept */
    const char *args[] = {
        id,          cf_db_lock_name(CF_DB_LOCK_EXPIRED), cf_db_i64(t, now), addr, cert_fp,
        cert_serial, cf_db_i64(na, cert_not_after)};
    cf_db_checkin_cmd_t cmd;
    const cf_store_script_t *script = cf_db_agent_checkin_script();
    if (!script)
        return cf_db_fail(store, CF_ERR_NOMEM, "cannot prepare the check-in script");
    CF_TRY(s_cmd(id, 0, args, 7, &cmd));
    redisReply *r = NULL;
    CF_TRY(cf_store_script_call(store, script, 0, &r, cmd.nkeys, cmd.argc - cmd.nkeys, cmd.argv,
                                NULL));
    cf_db_lock_t got = CF_DB_LOCK_EXPIRED;
    cf_err_t rc = cf_db_agent_checkin_reply(r, id, NULL, &got, NULL, cf_db_why(store));
    freeReplyObject(r);
    return rc;
}

cf_err_t cf_db_agent_remove(cf_store_t *store, const char *id)
{
    CF_ASSERT(store);
    char key[CF_DB_KEY_MAX];
    if (cf_db_key_agent(key, id) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "bad agent id");
    const char *argv[S_NKEYS + 2] = {key};
    for (int i = 1; i < S_NKEYS; i++)
        argv[i] = s_fixed[i - 1];
    argv[S_NKEYS] = CF_DB_K_CURVE_OWNER;
    argv[S_NKEYS + 1] = id;
    redisReply *r = NULL;
    CF_TRY(cf_db_eval(store, s_lua_remove, CF_STORE_IDEMPOTENT, &r, S_NKEYS + 1, 1, argv, NULL));
    int64_t v = 0;
    cf_err_t rc = cf_db_r_int(r, 0, 0, 1, &v, "remove reply", cf_db_why(store));
    freeReplyObject(r);
    if (rc == CF_OK && !v)
        rc = cf_db_fail(store, CF_ERR_NOTFOUND, "no agent %s", id);
    /* the enrollment certificate's own key (cf_db_enroll), in the record's slot */
    char ckey[CF_DB_KEY_MAX];
    if (rc == CF_OK && cf_db_key_agent_cert(ckey, id) == CF_OK) {
        r = NULL;
        rc = cf_store_cmd_idem(store, &r, "DEL %s", ckey);
        freeReplyObject(r);
    }
    return rc;
}

cf_err_t cf_db_agent_drop_old_set(cf_store_t *store)
{
    CF_ASSERT(store);
    redisReply *r = NULL;
    CF_TRY(cf_store_cmd_idem(store, &r, "UNLINK %s", CF_DB_K_AGENTS));
    freeReplyObject(r);
    return CF_OK;
}

/* Optional text fields after the fixed ones, in HMGET order from F_ADDR. */
static cf_err_t s_decode_texts(cf_store_t *store, const redisReply *const *e, cf_db_agent_t *out)
{
    cf_why_t *why = cf_db_why(store);
    CF_TRY(cf_db_r_text(e[A_ADDR], 1, out->last_addr, CF_DB_ADDR_MAX, "last_addr", why));
    CF_TRY(cf_db_r_text(e[A_VERSION], 1, out->version, CF_DB_VERSION_MAX, "version", why));
    CF_TRY(cf_db_r_text(e[A_FP], 1, out->cert_fp, CF_DB_FP_LEN, "cert_fp", why));
    CF_TRY(cf_db_r_text(e[A_SERIAL], 1, out->cert_serial, CF_DB_SERIAL_MAX, "cert_serial", why));
    CF_TRY(cf_db_r_int(e[A_NOT_AFTER], 1, INT64_MIN, INT64_MAX, &out->cert_not_after,
                       "cert_not_after", why));
    CF_TRY(cf_db_r_text(e[A_FAVORITE], 1, out->favorite, CF_DB_ALIAS_MAX, "favorite", why));
    CF_TRY(cf_db_r_text(e[A_SERVER], 1, out->server, CF_DB_ALIAS_MAX, "server", why));
    CF_TRY(cf_db_r_int(e[A_REVOKED], 1, 0, INT64_MAX, &out->revoked, "revoked", why));
    if (s_check_cert(out->cert_fp, out->cert_serial) != CF_OK ||
        (out->favorite[0] && cf_db_check_alias(out->favorite) != CF_OK) ||
        (out->server[0] && cf_db_check_alias(out->server) != CF_OK))
        return cf_db_fail(store, CF_ERR_CORRUPT, "agent %s: malformed field", out->id);
    return CF_OK;
}

cf_err_t cf_db_agent_decode(cf_store_t *store, const char *id, const redisReply *r,
                            cf_db_agent_t *out)
{
    memset(out, 0, sizeof(*out));
    cf_why_t *why = cf_db_why(store);
    CF_TRY(cf_db_r_array(r, A_COUNT, A_COUNT, "agent record", why));
    const redisReply *const *e = (const redisReply *const *) r->element;
    if (cf_db_r_nil(e[A_ID]) && cf_db_r_nil(e[A_LOCK]))
        return cf_db_fail(store, CF_ERR_NOTFOUND, "no agent %s", id);
    char lock[16];
    cf_err_t rc = cf_db_r_text(e[A_ID], 0, out->id, CF_DB_ID_MAX, "id", why);
    if (rc == CF_OK)
        rc = cf_db_r_text(e[A_LOCK], 0, lock, sizeof(lock) - 1, "lock", why);
    if (rc == CF_OK)
        rc = cf_db_r_int(e[A_LAST_SEEN], 0, 0, INT64_MAX, &out->last_seen, "last_seen", why);
    if (rc == CF_OK &&
        (strcmp(out->id, id) != 0 || cf_db_lock_from_name(lock, &out->lock) != CF_OK))
        rc = cf_db_fail(store, CF_ERR_CORRUPT, "agent %s: bad id or lock", id);
    if (rc == CF_OK)
        rc = s_decode_texts(store, e, out);
    if (rc != CF_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

cf_err_t cf_db_agent_get(cf_store_t *store, const char *id, cf_db_agent_t *out)
{
    CF_ASSERT(store && out);
    memset(out, 0, sizeof(*out));
    char key[CF_DB_KEY_MAX];
    if (cf_db_key_agent(key, id) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "bad agent id");
    redisReply *r = NULL;
    CF_TRY(cf_store_cmd_idem(store, &r, CF_DB_AGENT_HMGET, key));
    cf_err_t rc = cf_db_agent_decode(store, id, r, out);
    freeReplyObject(r);
    return rc;
}

cf_err_t cf_db_agent_counts(cf_store_t *store, cf_db_agent_counts_t *out)
{
    CF_ASSERT(store && out);
    memset(out, 0, sizeof(*out));
    cf_store_pipe_t *pipe = NULL;
    CF_TRY(cf_store_pipe_new(store, 1 + CF_DB_LOCK_COUNT, &pipe));
    cf_err_t rc = cf_store_pipe_append(pipe, "HMGET %s secure attention insecure expired",
                                       CF_DB_K_AGENTS_LOCK);
    /* every agent is in exactly one per-lock set: their sizes add up to the fleet */
    char set[CF_DB_KEY_MAX];
    for (int i = 0; rc == CF_OK && i < CF_DB_LOCK_COUNT; i++) {
        cf_db_agent_lock_key(set, (cf_db_lock_t) i);
        rc = cf_store_pipe_append(pipe, "ZCARD %s", set);
    }
    if (rc == CF_OK)
        rc = cf_store_pipe_exec(pipe, CF_STORE_IDEMPOTENT);
    cf_why_t *why = cf_db_why(store);
    const redisReply *r = rc == CF_OK ? cf_store_pipe_reply(pipe, 0) : NULL;
    if (rc == CF_OK)
        rc = cf_db_r_array(r, CF_DB_LOCK_COUNT, CF_DB_LOCK_COUNT, "cf:agents:lock", why);
    for (int i = 0; rc == CF_OK && i < CF_DB_LOCK_COUNT; i++)
        rc = cf_db_r_int(r->element[i], 1, 0, INT64_MAX, &out->n[i], s_locks[i], why);
    for (int i = 0; rc == CF_OK && i < CF_DB_LOCK_COUNT; i++) {
        int64_t n = 0;
        rc = cf_db_r_int(cf_store_pipe_reply(pipe, 1 + (size_t) i), 0, 0, INT64_MAX, &n, "ZCARD",
                         why);
        out->total += n;
    }
    cf_store_pipe_destroy(&pipe);
    if (rc != CF_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}
