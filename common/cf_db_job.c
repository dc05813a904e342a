/*  cf_db_job - the job store: create a job with its entries and counters, read jobs back  */
#include "cf_db_job.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cf_db_agent_int.h"
#include "cf_db_job_int.h"
#include "cf_db_util.h"
#include "cf_mem.h"

/* KEYS: 1 job hash, 2 :st, 3 :ev, 4 cf:jobs, 5 cf:jobs:open, 6 cf:agents (not read: a
   known agent is one whose record has a lock, docs/REDIS.md), 7 :q, 8 cf:jobs:waves.
   ARGV: 1 id, 2 type, 3 created, 4 expires, 5 issuer, 6 by, 7 min_proto, 8 params,
   9 target, 10 agent key prefix, 11 tag suffix, 12 :jobs suffix, 13 state names
   (cf_job_state_t order), 14 one '1'/'0' per state (final), 15 the first state of an entry
   by the agent's level: character p is '0' + cf_job_fsm_initial(p, min_proto) (or
   cf_job_fsm_initial_waves for a job with waves) for p = 1..255 (handed over from C: one
   rule), 16 batch, 17 rate, 18 max_fail ('' = none), 19.. agent ids (an absent proto is
   level 1). Queued entries are listed on :q in this order; with a rollout setting the job
   joins cf:jobs:waves.
   A job to all: KEYS 9.. the per-lock sets, ARGV 19 the most targets allowed, no ids: the
   targets are the sets' members, read here (no listing round trip, no id list to send);
   -2 when they are more than allowed.
   A revoked agent (field revoked on its record) counts as unknown: it can take no job.
   Answers {total, count per state..., unknown positions (1-based) or, to all, ids...}, or
   -1 when the id is taken. Nothing is written when no target is known. */
static const char s_lua_create[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end\n"
    "local id, expires = ARGV[1], ARGV[4]\n"
    "local AP, TAG, AJ = ARGV[10], ARGV[11], ARGV[12]\n"
    "local names, final, count = {}, {}, {}\n"
    "for w in string.gmatch(ARGV[13], '%S+') do\n"
    "  names[#names + 1] = w\n"
    "  final[w] = string.sub(ARGV[14], #names, #names) == '1'\n"
    "  count[w] = 0\n"
    "end\n"
    "local lists, first = {ARGV}, 19\n"
    "if #KEYS > 8 then\n"
    "  local n = 0\n"
    "  for k = 9, #KEYS do n = n + redis.call('ZCARD', KEYS[k]) end\n"
    "  if n > tonumber(ARGV[19]) then return -2 end\n"
    "  lists, first = {}, 1\n"
    "  for k = 9, #KEYS do lists[#lists + 1] = redis.call('ZRANGE', KEYS[k], 0, -1) end\n"
    "end\n"
    "local seen, known, unknown = {}, {}, {}\n"
    "for _, ids in ipairs(lists) do\n"
    "  for i = first, #ids do\n"
    "    local a = ids[i]\n"
    "    if not seen[a] then\n"
    "      seen[a] = true\n"
    "      local f = redis.call('HMGET', AP .. a .. TAG, 'lock', 'revoked', 'proto')\n"
    "      if f[1] and not f[2] then\n"
    "        local p = tonumber(f[3]) or 1\n"
    "        p = math.max(1, math.min(#ARGV[15], math.floor(p)))\n"
    "        local s = names[string.byte(ARGV[15], p) - 47]\n"
    "        count[s] = count[s] + 1\n"
    "        known[#known + 1] = a\n"
    "        known[#known + 1] = s\n"
    "      else\n"
    "        unknown[#unknown + 1] = first == 1 and a or i - 18\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local total = #known / 2\n"
    "local out, fields = {total}, {}\n"
    "for _, s in ipairs(names) do\n"
    "  out[#out + 1] = count[s]\n"
    "  fields[#fields + 1] = 'n:' .. s\n"
    "  fields[#fields + 1] = count[s]\n"
    "end\n"
    "for _, u in ipairs(unknown) do out[#out + 1] = u end\n"
    "if total == 0 then return out end\n"
    "for i = 1, #known, 1000 do\n"
    "  redis.call('HSET', KEYS[2], unpack(known, i, math.min(i + 999, #known)))\n"
    "end\n"
    "for i = 1, #known, 2 do\n"
    "  if not final[known[i + 1]] then redis.call('ZADD', AP .. known[i] .. AJ, expires, id) end\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'id', id, 'type', ARGV[2], 'created', ARGV[3],\n"
    "  'expires', expires, 'issuer', ARGV[5], 'by', ARGV[6], 'min_proto', ARGV[7],\n"
    "  'params', ARGV[8], 'target', ARGV[9], 'total', total, unpack(fields))\n"
    "local q = {}\n"
    "for i = 1, #known, 2 do if known[i + 1] == 'queued' then q[#q + 1] = known[i] end end\n"
    "for i = 1, #q, 1000 do redis.call('RPUSH', KEYS[7], unpack(q, i, math.min(i + 999, #q))) end\n"
    "local rollout = false\n"
    "for k, a in pairs({batch = 16, rate = 17, max_fail = 18}) do\n"
    "  if ARGV[a] ~= '' then redis.call('HSET', KEYS[1], k, ARGV[a]); rollout = true end\n"
    "end\n"
    "if rollout then redis.call('ZADD', KEYS[8], ARGV[3], id) end\n"
    "redis.call('ZADD', KEYS[4], ARGV[3], id)\n"
    "redis.call('ZADD', KEYS[5], expires, id)\n"
    "redis.call('XADD', KEYS[3], 'MAXLEN', '~', math.max(total, 1000), '*', 'event', 'created',\n"
    "  'total', total)\n"
    "return out\n";

/* A JSON object of at most CF_DB_JOB_PARAMS_MAX bytes, printable, no duplicate keys. */
static cf_err_t s_check_params(const char *params)
{
    cf_err_t rc = cf_db_check_text(params, 2, CF_DB_JOB_PARAMS_MAX);
    if (rc != CF_OK)
        return rc;
    json_t *root = json_loadb(params, strlen(params), JSON_REJECT_DUPLICATES, NULL);
    int ok = json_is_object(root);
    json_decref(root);
    return ok ? CF_OK : CF_ERR_INVALID;
}

/* The rollout settings: in range or absent. */
static int s_waves_ok(const cf_db_job_rollout_t *w)
{
    return w->batch >= 0 && w->batch <= CF_DB_JOB_WAVE_MAX && w->rate >= 0 &&
           w->rate <= CF_DB_JOB_WAVE_MAX && (!w->watch || (w->max_fail >= 0 && w->max_fail <= 100));
}

/* The targets: a list of 1..CF_DB_JOB_TARGETS_MAX valid ids, or all and no list. */
static const char *s_bad_targets(const cf_db_job_spec_t *s, cf_err_t *rc)
{
    *rc = s->n_agents > CF_DB_JOB_TARGETS_MAX ? CF_ERR_TOOBIG : CF_ERR_INVALID;
    if (s->all)
        return s->agents || s->n_agents ? "targets: all and a list" : NULL;
    if (!s->agents || s->n_agents == 0 || s->n_agents > CF_DB_JOB_TARGETS_MAX)
        return "number of agents";
    for (size_t i = 0; i < s->n_agents; i++)
        if (cf_db_check_agent_id(s->agents[i]) != CF_OK)
            return "agent id";
    *rc = CF_OK;
    return NULL;
}

/* The name of the first bad field of s, or NULL; *rc gets the code to answer. */
static const char *s_bad_field(const cf_db_job_spec_t *s, cf_err_t *rc)
{
    *rc = CF_ERR_INVALID;
    if (cf_db_check_job_id(s->id) != CF_OK)
        return "id";
    if (s->type < CF_JOB_TYPE_INSTALL_CERT || s->type >= CF_JOB_TYPE_COUNT_)
        return "type";
    if (s->created <= 0 || s->expires <= s->created ||
        s->expires - s->created > CF_JOB_MAX_LIFETIME)
        return "created or expires";
    if (cf_db_check_alias(s->issuer) != CF_OK || strlen(s->issuer) > CF_JOB_ALIAS_MAX)
        return "issuer";
    if (cf_db_check_user(s->by) != CF_OK)
        return "by";
    if (s->min_proto < 1 || s->min_proto > CF_DB_JOB_PROTO_MAX)
        return "min_proto";
    *rc = s_check_params(s->params);
    if (*rc != CF_OK)
        return "params";
    *rc = cf_db_check_text(s->target, 0, CF_DB_JOB_TARGET_MAX);
    if (*rc != CF_OK)
        return "target";
    return s_bad_targets(s, rc);
}

static cf_err_t s_check_spec(cf_store_t *store, const cf_db_job_spec_t *s)
{
    cf_err_t rc = CF_OK;
    const char *what = s_bad_field(s, &rc);
    if (!what && !s_waves_ok(&s->waves)) {
        what = "batch, rate or max_fail";
        rc = CF_ERR_INVALID;
    }
    if (!what)
        return CF_OK;
    return cf_db_fail(store, rc, "job %.32s: bad %s", s->id ? s->id : "", what);
}

/* The ids a job to all left out (e: n answers) into out->unknown_ids (allocated here: their
   number is known only now). */
static cf_err_t s_unknown_ids(cf_store_t *store, const redisReply *const *e, size_t n,
                              cf_db_job_made_t *out)
{
    if (n == 0)
        return CF_OK;
    out->unknown_ids = cf_mem_calloc(n, sizeof(*out->unknown_ids));
    if (!out->unknown_ids)
        return cf_db_fail(store, CF_ERR_NOMEM, "out of memory for the ids left out");
    for (size_t i = 0; i < n; i++) {
        CF_TRY(
            cf_db_r_text(e[i], 0, out->unknown_ids[i], CF_DB_ID_MAX, "unknown", cf_db_why(store)));
        if (cf_db_check_agent_id(out->unknown_ids[i]) != CF_OK)
            return cf_db_fail(store, CF_ERR_CORRUPT, "create reply: malformed agent id");
        out->n_unknown++;
    }
    return CF_OK;
}

/* The answer {total, count per state..., unknown...} into out. */
static cf_err_t s_made(cf_store_t *store, const redisReply *r, const cf_db_job_spec_t *spec,
                       cf_db_job_made_t *out)
{
    cf_why_t *why = cf_db_why(store);
    enum { HEAD = 1 + CF_JOB_STATE_COUNT };
    size_t most = spec->all ? CF_DB_JOB_TARGETS_MAX : spec->n_agents;
    if (r->type == REDIS_REPLY_INTEGER && r->integer == -1)
        return cf_db_fail(store, CF_ERR_EXISTS, "job id already taken");
    if (r->type == REDIS_REPLY_INTEGER && r->integer == -2)
        return cf_db_fail(store, CF_ERR_TOOBIG, "the target holds more than %d agents: narrow it",
                          CF_DB_JOB_TARGETS_MAX);
    CF_TRY(cf_db_r_array(r, HEAD, HEAD + most, "create reply", why));
    CF_TRY(cf_db_r_int(r->element[0], 0, 0, (int64_t) most, &out->total, "total", why));
    CF_TRY(cf_db_r_int(r->element[1 + CF_JOB_TOO_OLD], 0, 0, out->total, &out->too_old, "too_old",
                       why));
    size_t n = r->elements - HEAD; /* <= most: out->unknown has room */
    if (spec->all)
        CF_TRY(s_unknown_ids(store, (const redisReply *const *) r->element + HEAD, n, out));
    for (size_t i = 0; !spec->all && i < n; i++) {
        int64_t pos = 0;
        CF_TRY(cf_db_r_int(r->element[HEAD + i], 0, 1, (int64_t) most, &pos, "unknown", why));
        out->unknown[i] = (size_t) pos - 1;
        out->n_unknown++;
    }
    if (out->total == 0)
        return cf_db_fail(store, CF_ERR_NOTFOUND, "none of the %zu agents is known",
                          spec->all ? n : spec->n_agents);
    return CF_OK;
}

/* The first state of an entry by the agent's level 1..CF_DB_JOB_PROTO_MAX, as the create
   script takes it: '0' + cf_job_fsm_initial(level, min_proto). */
static void s_initial(unsigned min_proto, int waves, char initial[CF_DB_JOB_PROTO_MAX + 1])
{
    for (unsigned p = 1; p <= CF_DB_JOB_PROTO_MAX; p++)
        initial[p - 1] = (char) ('0' + (waves ? cf_job_fsm_initial_waves(p, min_proto)
                                              : cf_job_fsm_initial(p, min_proto)));
    initial[CF_DB_JOB_PROTO_MAX] = '\0';
}

enum { NK = 8, NA = 18, NL = CF_DB_LOCK_COUNT };

/* The texts the create script's keys and fixed arguments point into. */
typedef struct {
    char keys[4][CF_DB_KEY_MAX];                         /* job, :st, :ev, :q */
    char locks[NL][CF_DB_KEY_MAX];                       /* cf:agents:<lock>, for a job to all */
    char created[CF_DB_I64_BUF], expires[CF_DB_I64_BUF]; /* unix seconds */
    char minp[8], cap[CF_DB_I64_BUF];                    /* min_proto; most targets (all) */
    char w[3][CF_DB_I64_BUF];                            /* batch, rate, max_fail ('' none) */
    cf_db_job_fsm_text_t rules;                          /* cf_job_fsm as text */
    char initial[CF_DB_JOB_PROTO_MAX + 1];               /* first state by level */
} s_texts_t;

/* The keys (NK, then NL lock sets with all) and NA arguments (then the cap with all) into
   argv from t; answers how many. */
static cf_err_t s_fixed(const cf_db_job_spec_t *spec, s_texts_t *t, const char **argv,
                        size_t *n_out)
{
    static const char *const ks[4] = {CF_DB_KS_TAG, CF_DB_KS_JOB_ST, CF_DB_KS_JOB_EV,
                                      CF_DB_KS_JOB_Q};
    for (int k = 0; k < 4; k++)
        CF_TRY(cf_db_key_job(t->keys[k], spec->id, ks[k]));
    cf_db_job_fsm_text(&t->rules);
    s_initial(spec->min_proto, spec->waves.batch > 0 || spec->waves.rate > 0, t->initial);
    snprintf(t->minp, sizeof(t->minp), "%u", spec->min_proto);
    memset(t->w, 0, sizeof(t->w));
    if (spec->waves.batch > 0)
        cf_db_i64(t->w[0], spec->waves.batch);
    if (spec->waves.rate > 0)
        cf_db_i64(t->w[1], spec->waves.rate);
    if (spec->waves.watch)
        cf_db_i64(t->w[2], spec->waves.max_fail);
    const char *keys[NK] = {t->keys[0],        t->keys[1],     t->keys[2], CF_DB_K_JOBS,
                            CF_DB_K_JOBS_OPEN, CF_DB_K_AGENTS, t->keys[3], CF_DB_K_JOBS_WAVES};
    const char *args[NA] = {spec->id,
                            cf_job_type_name(spec->type),
                            cf_db_i64(t->created, spec->created),
                            cf_db_i64(t->expires, spec->expires),
                            spec->issuer,
                            spec->by,
                            t->minp,
                            spec->params,
                            spec->target,
                            CF_DB_KP_AGENT,
                            CF_DB_KS_TAG,
                            CF_DB_KS_AGENT_JOBS,
                            t->rules.names,
                            t->rules.final,
                            t->initial,
                            t->w[0],
                            t->w[1],
                            t->w[2]};
    size_t n = 0;
    for (size_t i = 0; i < NK; i++)
        argv[n++] = keys[i];
    for (int l = 0; spec->all && l < NL; l++) {
        cf_db_agent_lock_key(t->locks[l], (cf_db_lock_t) l);
        argv[n++] = t->locks[l];
    }
    for (size_t i = 0; i < NA; i++)
        argv[n++] = args[i];
    if (spec->all)
        argv[n++] = cf_db_i64(t->cap, CF_DB_JOB_TARGETS_MAX);
    *n_out = n;
    return CF_OK;
}

cf_err_t cf_db_job_create(cf_store_t *store, const cf_db_job_spec_t *spec, cf_db_job_made_t *out)
{
    CF_ASSERT(store && spec && out);
    memset(out, 0, sizeof(*out));
    CF_TRY(s_check_spec(store, spec));
    s_texts_t t;
    /* everything is allocated before the script runs: after it, only decoding can fail (and,
       for a job to all, keeping the ids it left out, whose number comes with the answer) */
    const char **argv = cf_mem_calloc(NK + NL + NA + 1 + spec->n_agents, sizeof(*argv));
    if (!spec->all)
        out->unknown = cf_mem_calloc(spec->n_agents, sizeof(*out->unknown));
    size_t n = 0;
    cf_err_t rc = argv && (spec->all || out->unknown) ? CF_OK : CF_ERR_NOMEM;
    if (rc == CF_OK)
        rc = s_fixed(spec, &t, argv, &n);
    if (rc != CF_OK) {
        cf_mem_free(argv);
        cf_db_job_made_clear(out);
        return rc == CF_ERR_NOMEM ? cf_db_fail(store, rc, "out of memory") : rc;
    }
    if (!spec->all)
        memcpy(argv + n, spec->agents, spec->n_agents * sizeof(*argv));
    int nkeys = spec->all ? NK + NL : NK;
    redisReply *r = NULL;
    rc = cf_db_eval(store, s_lua_create, 0, &r, nkeys, (int) (n + spec->n_agents) - nkeys, argv,
                    NULL);
    cf_mem_free(argv);
    if (rc == CF_OK)
        rc = s_made(store, r, spec, out);
    if (r)
        freeReplyObject(r);
    if (rc != CF_OK && rc != CF_ERR_NOTFOUND)
        cf_db_job_made_clear(out);
    return rc;
}

void cf_db_job_made_clear(cf_db_job_made_t *out)
{
    if (!out)
        return;
    cf_mem_free(out->unknown);
    cf_mem_free(out->unknown_ids);
    memset(out, 0, sizeof(*out));
}

/* The text fields of a job record. */
static cf_err_t s_decode_texts(cf_store_t *store, const redisReply *const *e, cf_db_job_t *out)
{
    cf_why_t *why = cf_db_why(store);
    char type[32];
    CF_TRY(cf_db_r_text(e[J_TYPE], 0, type, sizeof(type) - 1, "type", why));
    CF_TRY(cf_db_r_text(e[J_ISSUER], 0, out->issuer, CF_JOB_ALIAS_MAX, "issuer", why));
    CF_TRY(cf_db_r_text(e[J_BY], 0, out->by, CF_DB_USER_MAX, "by", why));
    CF_TRY(cf_db_r_text(e[J_PARAMS], 0, out->params, CF_DB_JOB_PARAMS_MAX, "params", why));
    CF_TRY(cf_db_r_text(e[J_TARGET], 0, out->target, CF_DB_JOB_TARGET_MAX, "target", why));
    if (cf_job_type_from_name(type, &out->type) != CF_OK ||
        cf_db_check_alias(out->issuer) != CF_OK || cf_db_check_user(out->by) != CF_OK)
        return cf_db_fail(store, CF_ERR_CORRUPT, "job %s: malformed type, issuer or by", out->id);
    return CF_OK;
}

/* The rollout fields of a job record (all absent: a job without waves). */
static cf_err_t s_decode_waves(cf_store_t *store, const redisReply *const *e, cf_db_job_t *out)
{
    cf_why_t *why = cf_db_why(store);
    int64_t maxf = -1, paused = 0;
    CF_TRY(cf_db_r_int(e[J_BATCH], 1, 0, CF_DB_JOB_WAVE_MAX, &out->waves.batch, "batch", why));
    CF_TRY(cf_db_r_int(e[J_RATE], 1, 0, CF_DB_JOB_WAVE_MAX, &out->waves.rate, "rate", why));
    CF_TRY(cf_db_r_int(e[J_PAUSED], 1, 0, 1, &paused, "paused", why));
    CF_TRY(cf_db_r_text(e[J_ABORTED], 1, out->aborted, CF_DB_JOB_REASON_MAX, "aborted", why));
    if (!cf_db_r_nil(e[J_MAXF]))
        CF_TRY(cf_db_r_int(e[J_MAXF], 0, 0, 100, &maxf, "max_fail", why));
    out->waves.watch = maxf >= 0;
    out->waves.max_fail = maxf >= 0 ? (int) maxf : 0;
    out->paused = (int) paused;
    return CF_OK;
}

/* The numbers of a job record. */
static cf_err_t s_decode_numbers(cf_store_t *store, const redisReply *const *e, cf_db_job_t *out)
{
    cf_why_t *why = cf_db_why(store);
    int64_t minp = 0, sum = 0;
    CF_TRY(cf_db_r_int(e[J_CREATED], 0, 1, INT64_MAX, &out->created, "created", why));
    CF_TRY(cf_db_r_int(e[J_EXPIRES], 0, 1, INT64_MAX, &out->expires, "expires", why));
    CF_TRY(cf_db_r_int(e[J_DONE], 1, 0, INT64_MAX, &out->done, "done", why));
    CF_TRY(cf_db_r_int(e[J_MINP], 0, 1, CF_DB_JOB_PROTO_MAX, &minp, "min_proto", why));
    CF_TRY(cf_db_r_int(e[J_TOTAL], 0, 0, CF_DB_JOB_TARGETS_MAX, &out->total, "total", why));
    for (int s = 0; s < CF_JOB_STATE_COUNT; s++) {
        /* n:queued came with the rollout controls: absent on older jobs */
        CF_TRY(cf_db_r_int(e[J_N0 + s], s == CF_JOB_QUEUED, 0, out->total, &out->n[s], "counter",
                           why));
        sum += out->n[s];
    }
    out->min_proto = (unsigned) minp;
    CF_TRY(s_decode_waves(store, e, out));
    if (sum != out->total)
        return cf_db_fail(store, CF_ERR_CORRUPT, "job %s: counters do not add up", out->id);
    return CF_OK;
}

cf_err_t cf_db_job_decode(cf_store_t *store, const char *id, const redisReply *r, cf_db_job_t *out)
{
    memset(out, 0, sizeof(*out));
    CF_TRY(cf_db_r_array(r, J_COUNT, J_COUNT, "job record", cf_db_why(store)));
    const redisReply *const *e = (const redisReply *const *) r->element;
    if (cf_db_r_nil(e[J_ID]))
        return cf_db_fail(store, CF_ERR_NOTFOUND, "no job %s", id);
    cf_err_t rc = cf_db_r_text(e[J_ID], 0, out->id, CF_DB_JOB_ID_LEN, "id", cf_db_why(store));
    if (rc == CF_OK && strcmp(out->id, id) != 0)
        rc = cf_db_fail(store, CF_ERR_CORRUPT, "job %s: record names another id", id);
    if (rc == CF_OK)
        rc = s_decode_texts(store, e, out);
    if (rc == CF_OK)
        rc = s_decode_numbers(store, e, out);
    if (rc != CF_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

cf_err_t cf_db_job_get(cf_store_t *store, const char *id, cf_db_job_t *out)
{
    CF_ASSERT(store && out);
    memset(out, 0, sizeof(*out));
    char key[CF_DB_KEY_MAX];
    if (cf_db_key_job(key, id, CF_DB_KS_TAG) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "bad job id");
    redisReply *r = NULL;
    CF_TRY(cf_store_cmd_idem(store, &r, CF_DB_JOB_HMGET, key));
    cf_err_t rc = cf_db_job_decode(store, id, r, out);
    freeReplyObject(r);
    return rc;
}
