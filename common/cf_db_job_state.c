/*  cf_db_job_state - the one script that moves job entries: transitions, upgrade, broker  */
#include <stdio.h>
#include <string.h>

#include "cf_db_job_int.h"
#include "cf_db_util.h"
#include "cf_mem.h"

/* ARGV: 1 mode, 2 state names (space-separated, cf_job_state_t order), 3 one '1'/'0' per
   state (final), 4 the cf_job_fsm table: states x events characters, '0' + next state or
   '-' (refused), 5 now, 6 keep (TTL of a closed job), 7..13 key parts (job prefix, tag,
   :st, :why, :ev suffixes; agent prefix, :jobs suffix), 14 cf:jobs:open, 15 :q suffix,
   16 cf:jobs:waves; the mode's arguments from 17. Key names are built here from those parts
   (cf_db_key's templates): a job's keys and every agent's sorted set are reached by one script, as
   on one Redis or Sentinel (a Redis Cluster would need another layout). A change writes the entry,
   both counters, the reason, the stream and the agent's sorted set; it closes the job when its last
   open entry ends and reopens it when one leaves a final state. */
/* wave: id, now_ms, max, release event, abort... Answers {released, queued, status,
   reason}; status ok, paused, idle (nothing queued, the threshold still watched), abort
   (the threshold passed now: aborted set), aborting (aborted, entries left to abort),
   gone (out of cf:jobs:waves). docs/jobs.md section 6. */
#define S_LUA_WAVE                                                                                 \
    "  local id, now, max, rel = ARGV[17], tonumber(ARGV[18]), tonumber(ARGV[19]), "               \
    "tonumber(ARGV[20]) + 1\n"                                                                     \
    "  local j = job(id)\n"                                                                        \
    "  local function gone()\n"                                                                    \
    "    redis.call('ZREM', WAVES, id)\n"                                                          \
    "    if j then redis.call('DEL', j.q) end\n"                                                   \
    "    return {0, 0, 'gone', ''}\n"                                                              \
    "  end\n"                                                                                      \
    "  if not j then return gone() end\n"                                                          \
    "  local f = redis.call('HMGET', j.k, 'batch', 'rate', 'max_fail', 'paused', 'aborted', "      \
    "'credit', 'wave_at', 'total')\n"                                                              \
    "  local batch, rate, maxf = tonumber(f[1]), tonumber(f[2]), tonumber(f[3])\n"                 \
    "  local function n(s) return tonumber(redis.call('HGET', j.k, 'n:' .. s)) or 0 end\n"         \
    "  local queued = n('queued')\n"                                                               \
    "  if j.done then return gone() end\n"                                                         \
    "  if maxf and not f[5] then\n"                                                                \
    "    local fail, total = n('failed'), tonumber(f[8]) or 0\n"                                   \
    "    local fin = n('installed') + fail\n"                                                      \
    "    if fin > 0 and fin >= math.max(math.min(10, total), math.ceil(total / 100)) and\n"        \
    "       fail * 100 > maxf * fin then\n"                                                        \
    "      local why = 'failures ' .. fail .. ' of ' .. fin .. ' finished exceed ' .. maxf .. "    \
    "'%'\n"                                                                                        \
    "      redis.call('HSET', j.k, 'aborted', why)\n"                                              \
    "      redis.call('XADD', j.ev, 'MAXLEN', '~', j.maxlen, '*', 'event', 'aborted', 'reason', "  \
    "why)\n"                                                                                       \
    "      return {0, queued, 'abort', why}\n"                                                     \
    "    end\n"                                                                                    \
    "  end\n"                                                                                      \
    "  if f[5] then\n"                                                                             \
    "    if queued + n('pending') + n('too_old') > 0 then return {0, queued, 'aborting', f[5]} "   \
    "end\n"                                                                                        \
    "    return gone()\n"                                                                          \
    "  end\n"                                                                                      \
    "  if queued == 0 then\n"                                                                      \
    "    if not maxf then return gone() end\n"                                                     \
    "    redis.call('DEL', j.q)\n"                                                                 \
    "    return {0, 0, 'idle', ''}\n"                                                              \
    "  end\n"                                                                                      \
    "  if f[4] == '1' then\n"                                                                      \
    "    redis.call('HSET', j.k, 'wave_at', now)\n"                                                \
    "    return {0, queued, 'paused', ''}\n"                                                       \
    "  end\n"                                                                                      \
    "  local allow = math.min(queued, max)\n"                                                      \
    "  if batch then allow = math.min(allow, batch - n('pending') - n('delivered')) end\n"         \
    "  local credit = tonumber(f[6]) or 0\n"                                                       \
    "  if rate then\n"                                                                             \
    "    local at = tonumber(f[7])\n"                                                              \
    "    if not at then credit = 1\n"                                                              \
    "    else credit = math.min(credit + rate * math.max(0, now - at) / 1000, math.max(rate, 1)) " \
    "end\n"                                                                                        \
    "    allow = math.min(allow, math.floor(credit))\n"                                            \
    "  end\n"                                                                                      \
    "  local released, popped = 0, 0\n"                                                            \
    "  while released < allow and popped < allow + max do\n"                                       \
    "    local a = redis.call('LPOP', j.q)\n"                                                      \
    "    if not a then break end\n"                                                                \
    "    popped = popped + 1\n"                                                                    \
    "    local o, x = step(j, a, rel, '')\n"                                                       \
    "    if o == 'queued' and x == 'pending' then released = released + 1 end\n"                   \
    "  end\n"                                                                                      \
    "  if rate then\n"                                                                             \
    "    redis.call('HSET', j.k, 'credit', tostring(credit - released), 'wave_at', now)\n"         \
    "  end\n"                                                                                      \
    "  return {released, queued - released, 'ok', ''}\n"

static const char s_lua[] =
    "local names, idx, nst = {}, {}, 0\n"
    "for w in string.gmatch(ARGV[2], '%S+') do nst = nst + 1; names[nst] = w; idx[w] = nst end\n"
    "local final, fsm, nev = {}, {}, #ARGV[4] / nst\n"
    "for s = 1, nst do\n"
    "  final[s] = string.sub(ARGV[3], s, s) == '1'\n"
    "  fsm[s] = {}\n"
    "  for e = 1, nev do\n"
    "    local c = string.byte(ARGV[4], (s - 1) * nev + e)\n"
    "    fsm[s][e] = c ~= 45 and c - 47 or false\n"
    "  end\n"
    "end\n"
    "local now, keep = ARGV[5], ARGV[6]\n"
    "local JP, TAG, ST, WHY, EV, AP, AJ, OPEN, Q, WAVES = unpack(ARGV, 7, 16)\n"
    "local jobs = {}\n"
    "local function job(id)\n"
    "  if jobs[id] ~= nil then return jobs[id] end\n"
    "  local k = JP .. id .. TAG\n"
    "  local f = redis.call('HMGET', k, 'total', 'expires', 'min_proto', 'done', 'batch', "
    "'rate')\n"
    "  if not f[1] then jobs[id] = false; return false end\n"
    "  local j = {id = id, k = k, st = JP .. id .. ST, why = JP .. id .. WHY, ev = JP .. id .. "
    "EV,\n"
    "             q = JP .. id .. Q,\n"
    "             expires = f[2], minp = tonumber(f[3]) or 1, done = f[4],\n"
    "             waves = (f[5] or f[6]) and true or false}\n"
    "  j.maxlen = math.max(tonumber(f[1]) or 0, 1000)\n"
    "  local c = {}\n"
    "  for s = 1, nst do if not final[s] then c[#c + 1] = 'n:' .. names[s] end end\n"
    "  j.open = 0\n"
    "  for _, v in ipairs(redis.call('HMGET', k, unpack(c))) do j.open = j.open + (tonumber(v) or "
    "0) end\n"
    "  jobs[id] = j\n"
    "  return j\n"
    "end\n"
    "local function close(j)\n"
    "  redis.call('HSET', j.k, 'done', now)\n"
    "  redis.call('HDEL', j.k, 'sweep')\n"
    "  j.done = now\n"
    "  redis.call('ZREM', OPEN, j.id)\n"
    "  for _, k in ipairs({j.k, j.st, j.why, j.ev}) do redis.call('EXPIRE', k, keep) end\n"
    "end\n"
    "local function reopen(j)\n"
    "  redis.call('HDEL', j.k, 'done')\n"
    "  j.done = false\n"
    "  redis.call('ZADD', OPEN, j.expires, j.id)\n"
    "  for _, k in ipairs({j.k, j.st, j.why, j.ev}) do redis.call('PERSIST', k) end\n"
    "end\n"
    /* counters: at once, or (batch mode) summed per job and counter and written once at the
       end of the script, which no one sees in between (one HINCRBY per counter, not two per
       entry) */
    "local sums, order = nil, {}\n"
    "local function count(k, f, d)\n"
    "  if not sums then redis.call('HINCRBY', k, f, d); return end\n"
    "  local key = k .. '\\0' .. f\n"
    "  if not sums[key] then sums[key] = 0; order[#order + 1] = {k, f, key} end\n"
    "  sums[key] = sums[key] + d\n"
    "end\n"
    "local function flush()\n"
    "  for _, o in ipairs(order) do\n"
    "    if sums[o[3]] ~= 0 then redis.call('HINCRBY', o[1], o[2], sums[o[3]]) end\n"
    "  end\n"
    "end\n"
    /* an entry's state: in batch mode read once per job for the whole batch (one HMGET)
       and written once at the end (one HSET), else one HGET / HSET each */
    "local function get_state(j, a)\n"
    "  if j.cur then\n"
    "    local c = j.cur[a]\n"
    "    if c ~= nil then return c end\n"
    "  end\n"
    "  return redis.call('HGET', j.st, a)\n"
    "end\n"
    "local function set_state(j, a, s)\n"
    "  if not j.cur then redis.call('HSET', j.st, a, s); return end\n"
    "  if not j.dirty[a] then j.dirty[a] = true; j.dlist[#j.dlist + 1] = a end\n"
    "  j.cur[a] = s\n"
    "end\n"
    "local function apply(j, a, o, n, reason)\n"
    "  set_state(j, a, names[n])\n"
    "  count(j.k, 'n:' .. names[o], -1)\n"
    "  count(j.k, 'n:' .. names[n], 1)\n"
    "  local ev = {'agent', a, 'from', names[o], 'to', names[n]}\n"
    "  if names[n] == 'failed' and reason ~= '' then\n"
    "    redis.call('HSET', j.why, a, reason)\n"
    "    local t = redis.call('TTL', j.k)\n"
    "    if t > 0 then redis.call('EXPIRE', j.why, t) end\n"
    "    ev[7], ev[8] = 'reason', reason\n"
    "  elseif names[o] == 'failed' then\n"
    "    redis.call('HDEL', j.why, a)\n"
    "  end\n"
    "  redis.call('XADD', j.ev, 'MAXLEN', '~', j.maxlen, '*', unpack(ev))\n"
    "  if names[n] == 'queued' then redis.call('RPUSH', j.q, a) end\n"
    "  if final[n] and not final[o] then\n"
    "    redis.call('ZREM', AP .. a .. AJ, j.id)\n"
    "    j.open = j.open - 1\n"
    "    if j.open <= 0 and not j.done then close(j) end\n"
    "  elseif final[o] and not final[n] then\n"
    "    redis.call('ZADD', AP .. a .. AJ, j.expires, j.id)\n"
    "    j.open = j.open + 1\n"
    "    if j.done then reopen(j) end\n"
    "  end\n"
    "end\n"
    /* one entry: '' '' not a target; old '?' corrupt; old '-' refused; else old new */
    "local function step(j, a, e, reason)\n"
    "  local cur = get_state(j, a)\n"
    "  if not cur then return '', '' end\n"
    "  local o = idx[cur]\n"
    "  if not o then return cur, '?' end\n"
    "  local n = fsm[o][e]\n"
    "  if not n then return cur, '-' end\n"
    "  if n ~= o then apply(j, a, o, n, reason) end\n"
    "  return cur, names[n]\n"
    "end\n"
    "if ARGV[1] == 'batch' then\n"
    "  sums = {}\n"
    "  local out, touched = {}, {}\n"
    "  for i = 17, #ARGV, 4 do\n"
    "    local j = job(ARGV[i])\n"
    "    if j then\n"
    "      if not j.cur then\n"
    "        j.cur, j.dirty, j.dlist, j.ask = {}, {}, {}, {}\n"
    "        touched[#touched + 1] = j\n"
    "      end\n"
    "      j.ask[#j.ask + 1] = ARGV[i + 1]\n"
    "    end\n"
    "  end\n"
    "  for _, j in ipairs(touched) do\n"
    "    for k = 1, #j.ask, 1000 do\n"
    "      local r = redis.call('HMGET', j.st, unpack(j.ask, k, math.min(k + 999, #j.ask)))\n"
    "      for m = 1, #r do j.cur[j.ask[k + m - 1]] = r[m] end\n"
    "    end\n"
    "  end\n"
    "  for i = 17, #ARGV, 4 do\n"
    "    local j = job(ARGV[i])\n"
    "    local o, n = '', ''\n"
    "    if j then o, n = step(j, ARGV[i + 1], tonumber(ARGV[i + 2]) + 1, ARGV[i + 3]) end\n"
    "    out[#out + 1] = o\n"
    "    out[#out + 1] = n\n"
    "  end\n"
    "  for _, j in ipairs(touched) do\n"
    "    local kv = {}\n"
    "    for _, a in ipairs(j.dlist) do kv[#kv + 1] = a; kv[#kv + 1] = j.cur[a] end\n"
    "    for k = 1, #kv, 1000 do\n"
    "      redis.call('HSET', j.st, unpack(kv, k, math.min(k + 999, #kv)))\n"
    "    end\n"
    "  end\n"
    "  flush()\n"
    "  return out\n"
    "elseif ARGV[1] == 'upgrade' then\n"
    "  local a, p, e = ARGV[17], tonumber(ARGV[18]), tonumber(ARGV[19]) + 1\n"
    "  local eq = tonumber(ARGV[20]) + 1\n"
    "  if redis.call('EXISTS', AP .. a .. TAG) == 0 then return -1 end\n"
    "  redis.call('HSET', AP .. a .. TAG, 'proto', ARGV[18])\n"
    "  local changed = 0\n"
    "  for _, id in ipairs(redis.call('ZRANGE', AP .. a .. AJ, 0, -1)) do\n"
    "    local j = job(id)\n"
    "    if not j then\n"
    "      redis.call('ZREM', AP .. a .. AJ, id)\n"
    "    elseif j.minp <= p then\n"
    "      local o, n = step(j, a, j.waves and eq or e, '')\n"
    "      if idx[n] and o ~= n then changed = changed + 1 end\n"
    "    end\n"
    "  end\n"
    "  return changed\n"
    "elseif ARGV[1] == 'wave' then\n" S_LUA_WAVE "end\n"
    /* job: id, event, cursor ('' = the job's stored sweep cursor), count, new expires ('' =
       keep), past ('1' = only if the job's expiry has passed). Answers {cursor, changed,
       seen, bad, done}, {'0', 0, 0, 0, done} for a job not past, -1 no job, -2 nothing to
       retry. */
    "local j = job(ARGV[17])\n"
    "if not j then return -1 end\n"
    "local e, past = tonumber(ARGV[18]) + 1, ARGV[22] == '1'\n"
    "if past and (j.done or tonumber(j.expires) > tonumber(now)) then\n"
    "  return {'0', 0, 0, 0, j.done and 1 or 0}\n"
    "end\n"
    "local stored = ARGV[19] == ''\n"
    "local cursor = ARGV[19]\n"
    "if stored then cursor = redis.call('HGET', j.k, 'sweep') or '0' end\n"
    "local renew = ARGV[21] ~= ''\n"
    "if renew and cursor == '0' then\n"
    "  local movable = 0\n"
    "  for s = 1, nst do\n"
    "    if fsm[s][e] and fsm[s][e] ~= s then\n"
    "      movable = movable + (tonumber(redis.call('HGET', j.k, 'n:' .. names[s])) or 0)\n"
    "    end\n"
    "  end\n"
    "  if movable == 0 then return -2 end\n"
    "  j.expires = ARGV[21]\n"
    "  redis.call('HSET', j.k, 'expires', j.expires)\n"
    "  redis.call('HDEL', j.k, 'sweep')\n"
    "  if not j.done then redis.call('ZADD', OPEN, j.expires, j.id) end\n"
    "  if fsm[idx.failed][e] == idx.queued then\n" /* requeue: the job goes in waves again */
    "    redis.call('HDEL', j.k, 'aborted')\n"
    "    redis.call('ZADD', WAVES, redis.call('HGET', j.k, 'created'), j.id)\n"
    "  end\n"
    "end\n"
    "local r = redis.call('HSCAN', j.st, cursor, 'COUNT', ARGV[20])\n"
    "local items, changed, bad = r[2], 0, 0\n"
    "for i = 1, #items, 2 do\n"
    "  local a, o = items[i], idx[items[i + 1]]\n"
    "  if not o then\n"
    "    bad = bad + 1\n"
    "  else\n"
    "    local n = fsm[o][e] or o\n"
    "    if n ~= o then apply(j, a, o, n, ''); changed = changed + 1 end\n"
    "    if renew and not final[n] then redis.call('ZADD', AP .. a .. AJ, j.expires, j.id) end\n"
    "  end\n"
    "end\n"
    "if stored and not j.done then\n"
    "  if r[1] == '0' then redis.call('HDEL', j.k, 'sweep')\n"
    "  else redis.call('HSET', j.k, 'sweep', r[1]) end\n"
    "end\n"
    "return {r[1], changed, #items / 2, bad, j.done and 1 or 0}\n";

void cf_db_job_fsm_text(cf_db_job_fsm_text_t *f)
{
    size_t at = 0;
    for (int s = 0; s < CF_JOB_STATE_COUNT; s++) {
        int n = snprintf(f->names + at, sizeof(f->names) - at, "%s%s", s ? " " : "",
                         cf_job_fsm_state_name((cf_job_state_t) s));
        CF_ASSERT(n > 0 && (size_t) n < sizeof(f->names) - at);
        at += (size_t) n;
        f->final[s] = cf_job_fsm_is_final((cf_job_state_t) s) ? '1' : '0';
        for (int e = 0; e < CF_JOB_EVENT_COUNT; e++) {
            cf_job_state_t next = CF_JOB_PENDING;
            cf_err_t rc = cf_job_fsm_next((cf_job_state_t) s, (cf_job_event_t) e, &next);
            f->table[s * CF_JOB_EVENT_COUNT + e] = rc == CF_OK ? (char) ('0' + next) : '-';
        }
    }
    f->final[CF_JOB_STATE_COUNT] = '\0';
    f->table[CF_JOB_STATE_COUNT * CF_JOB_EVENT_COUNT] = '\0';
}

#define S_FIXED 16 /* ARGV before the mode's own */

cf_err_t cf_db_job_script(cf_store_t *store, const char *mode, int64_t now, size_t nextra,
                          const char **extra, const size_t *lens, redisReply **r_out)
{
    cf_db_job_fsm_text_t f;
    cf_db_job_fsm_text(&f);
    char t[CF_DB_I64_BUF], keep[CF_DB_I64_BUF];
    const char *fixed[S_FIXED] = {mode,
                                  f.names,
                                  f.final,
                                  f.table,
                                  cf_db_i64(t, now),
                                  cf_db_i64(keep, CF_DB_JOB_KEEP),
                                  CF_DB_KP_JOB,
                                  CF_DB_KS_TAG,
                                  CF_DB_KS_JOB_ST,
                                  CF_DB_KS_JOB_WHY,
                                  CF_DB_KS_JOB_EV,
                                  CF_DB_KP_AGENT,
                                  CF_DB_KS_AGENT_JOBS,
                                  CF_DB_K_JOBS_OPEN,
                                  CF_DB_KS_JOB_Q,
                                  CF_DB_K_JOBS_WAVES};
    const char **argv = cf_mem_calloc(S_FIXED + nextra, sizeof(*argv));
    size_t *argl = cf_mem_calloc(S_FIXED + nextra, sizeof(*argl));
    cf_err_t rc = cf_db_fail(store, CF_ERR_NOMEM, "out of memory");
    if (argv && argl) {
        for (size_t i = 0; i < S_FIXED + nextra; i++) {
            argv[i] = i < S_FIXED ? fixed[i] : extra[i - S_FIXED];
            argl[i] = i >= S_FIXED && lens ? lens[i - S_FIXED] : strlen(argv[i]);
        }
        rc = cf_db_eval(store, s_lua, 0, r_out, 0, (int) (S_FIXED + nextra), argv, argl);
    }
    cf_mem_free(argv);
    cf_mem_free(argl);
    return rc;
}

static cf_err_t s_check_tr(const cf_db_job_tr_t *tr)
{
    if (cf_db_check_job_id(tr->job) != CF_OK || cf_db_check_agent_id(tr->agent) != CF_OK ||
        (unsigned) tr->event >= CF_JOB_EVENT_COUNT)
        return CF_ERR_INVALID;
    if (tr->event == CF_JOB_EV_REPORT_FAILED && tr->reason)
        return cf_db_check_text(tr->reason, 0, CF_DB_JOB_REASON_MAX);
    return CF_OK;
}

/* One answer pair (old, new) of the batch into res. */
static void s_result(const redisReply *o, const redisReply *n, cf_db_job_res_t *res)
{
    res->from = res->to = CF_JOB_PENDING;
    if (o->len == 0) {
        res->rc = CF_ERR_NOTFOUND;
        return;
    }
    res->rc = cf_job_fsm_state_from_name(o->str, &res->from) == CF_OK ? CF_OK : CF_ERR_CORRUPT;
    if (res->rc != CF_OK)
        return;
    if (strcmp(n->str, "-") == 0) {
        res->rc = CF_ERR_STATE;
        res->to = res->from;
    } else if (cf_job_fsm_state_from_name(n->str, &res->to) != CF_OK) {
        res->rc = CF_ERR_CORRUPT;
    }
}

cf_err_t cf_db_job_transition(cf_store_t *store, int64_t now, const cf_db_job_tr_t *tr, size_t n,
                              cf_db_job_res_t *res)
{
    CF_ASSERT(store);
    if (!tr || !res || n == 0 || n > CF_DB_JOB_BATCH_MAX || now < 0)
        return cf_db_fail(store, CF_ERR_INVALID, "transition: 1..%d entries", CF_DB_JOB_BATCH_MAX);
    for (size_t i = 0; i < n; i++)
        if (s_check_tr(&tr[i]) != CF_OK)
            return cf_db_fail(store, CF_ERR_INVALID, "transition %zu: bad id, event or reason",
                              i + 1);
    cf_err_t rc = CF_ERR_NOMEM;
    const char **extra = cf_mem_calloc(4 * n, sizeof(*extra));
    char(*ev)[4] = cf_mem_calloc(n, sizeof(*ev));
    redisReply *r = NULL;
    if (!extra || !ev)
        goto out;
    for (size_t i = 0; i < n; i++) {
        snprintf(ev[i], sizeof(ev[i]), "%d", (int) tr[i].event);
        extra[4 * i] = tr[i].job;
        extra[4 * i + 1] = tr[i].agent;
        extra[4 * i + 2] = ev[i];
        extra[4 * i + 3] =
            tr[i].event == CF_JOB_EV_REPORT_FAILED && tr[i].reason ? tr[i].reason : "";
    }
    rc = cf_db_job_script(store, CF_DB_JOB_MODE_BATCH, now, 4 * n, extra, NULL, &r);
    if (rc == CF_OK)
        rc = cf_db_r_array(r, 2 * n, 2 * n, "transition reply", cf_db_why(store));
    for (size_t i = 0; rc == CF_OK && i < n; i++) {
        const redisReply *o = r->element[2 * i], *x = r->element[2 * i + 1];
        if (o->type != REDIS_REPLY_STRING || x->type != REDIS_REPLY_STRING)
            rc = cf_db_fail(store, CF_ERR_CORRUPT, "transition reply: not strings");
        else
            s_result(o, x, &res[i]);
    }
out:
    if (rc == CF_ERR_NOMEM)
        cf_db_fail(store, rc, "out of memory");
    if (r)
        freeReplyObject(r);
    cf_mem_free(extra);
    cf_mem_free(ev);
    return rc;
}

cf_err_t cf_db_job_upgrade(cf_store_t *store, const char *agent, unsigned proto, int64_t now,
                           size_t *changed)
{
    CF_ASSERT(store);
    if (changed)
        *changed = 0;
    if (cf_db_check_agent_id(agent) != CF_OK || proto < 1 || proto > CF_DB_JOB_PROTO_MAX || now < 0)
        return cf_db_fail(store, CF_ERR_INVALID, "upgrade: bad agent id or level");
    char p[CF_DB_I64_BUF], e[CF_DB_I64_BUF], eq[CF_DB_I64_BUF];
    /* a job with waves takes its upgraded entries in a wave (upgrade_queued) */
    const char *extra[] = {agent, cf_db_i64(p, proto), cf_db_i64(e, CF_JOB_EV_UPGRADE),
                           cf_db_i64(eq, CF_JOB_EV_UPGRADE_QUEUED)};
    redisReply *r = NULL;
    CF_TRY(cf_db_job_script(store, CF_DB_JOB_MODE_UPGRADE, now, 4, extra, NULL, &r));
    int64_t v = 0;
    cf_err_t rc = cf_db_r_int(r, 0, -1, INT64_MAX, &v, "upgrade reply", cf_db_why(store));
    freeReplyObject(r);
    if (rc == CF_OK && v < 0)
        return cf_db_fail(store, CF_ERR_NOTFOUND, "no agent %s", agent);
    if (rc == CF_OK && changed)
        *changed = (size_t) v;
    return rc;
}

/* KEYS[1] agent hash; ARGV[1] broker Z85. 0: no such agent. */
static const char s_lua_broker[] = "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
                                   "redis.call('HSET', KEYS[1], 'broker', ARGV[1])\n"
                                   "return 1\n";

cf_err_t cf_db_job_set_broker(cf_store_t *store, const char *agent,
                              const unsigned char broker[CF_CURVE_KEY_LEN])
{
    CF_ASSERT(store);
    char key[CF_DB_KEY_MAX], z85[CF_CURVE_Z85_LEN + 1];
    if (!broker || cf_db_key_agent(key, agent) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "broker: bad agent id or key");
    cf_curve_z85_encode(broker, z85);
    const char *argv[] = {key, z85};
    redisReply *r = NULL;
    CF_TRY(cf_db_eval(store, s_lua_broker, CF_STORE_IDEMPOTENT, &r, 1, 1, argv, NULL));
    int64_t v = 0;
    cf_err_t rc = cf_db_r_int(r, 0, 0, 1, &v, "broker reply", cf_db_why(store));
    freeReplyObject(r);
    if (rc == CF_OK && !v)
        rc = cf_db_fail(store, CF_ERR_NOTFOUND, "no agent %s", agent);
    return rc;
}

cf_err_t cf_db_job_agent_link(cf_store_t *store, const char *agent, unsigned *proto,
                              unsigned char broker[CF_CURVE_KEY_LEN], int *has_broker)
{
    CF_ASSERT(store && proto && broker && has_broker);
    *proto = 1;
    *has_broker = 0;
    memset(broker, 0, CF_CURVE_KEY_LEN);
    char key[CF_DB_KEY_MAX];
    if (cf_db_key_agent(key, agent) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "bad agent id");
    redisReply *r = NULL;
    CF_TRY(cf_store_cmd_idem(store, &r, "HMGET %s id proto broker", key));
    cf_why_t *why = cf_db_why(store);
    char z85[CF_CURVE_Z85_LEN + 1];
    int64_t p = 0;
    cf_err_t rc = cf_db_r_array(r, 3, 3, "agent link", why);
    if (rc == CF_OK && cf_db_r_nil(r->element[0]))
        rc = cf_db_fail(store, CF_ERR_NOTFOUND, "no agent %s", agent);
    if (rc == CF_OK)
        rc = cf_db_r_int(r->element[1], 1, 0, CF_DB_JOB_PROTO_MAX, &p, "proto", why);
    if (rc == CF_OK)
        rc = cf_db_r_text(r->element[2], 1, z85, CF_CURVE_Z85_LEN, "broker", why);
    if (rc == CF_OK && z85[0] && cf_curve_z85_decode(z85, strlen(z85), broker, NULL) != CF_OK)
        rc = cf_db_fail(store, CF_ERR_CORRUPT, "agent %s: broker is not a Z85 key", agent);
    freeReplyObject(r);
    if (rc == CF_OK) {
        *proto = p > 0 ? (unsigned) p : 1;
        *has_broker = z85[0] != '\0';
    }
    return rc;
}
