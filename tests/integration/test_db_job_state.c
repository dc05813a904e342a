/*  test_db_job_state - cf_db_job transitions against a real redis-server: batches, counters  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cf_db_job.h"
#include "cf_itest.h"
#include "cf_itest_job.h"
#include "cf_mem.h"

CF_ITEST_REDIS_PER_FILE()

static const char s_id[] = "0123456789abcdef0123456789abcdef";

/* Create job id over agents "a0".."a<n-1>" (already registered). */
static void s_job(cf_store_t *store, const char *id, size_t n, unsigned min_proto)
{
    char **ids = cf_itest_job_ids("a", 0, n);
    cf_db_job_spec_t spec = cf_itest_job_spec(id, (const char *const *) ids, n);
    spec.min_proto = min_proto;
    cf_db_job_made_t made;
    assert_int_equal(cf_db_job_create(store, &spec, &made), CF_OK);
    cf_db_job_made_clear(&made);
    cf_itest_job_ids_free(ids, n);
}

/* Apply one transition and return its result. */
static cf_db_job_res_t s_one(cf_store_t *store, const char *id, const char *agent,
                             cf_job_event_t ev, const char *reason)
{
    cf_db_job_tr_t tr = {id, agent, ev, reason};
    cf_db_job_res_t res;
    assert_int_equal(cf_db_job_transition(store, 2000, &tr, 1, &res), CF_OK);
    return res;
}

static long long s_int(cf_store_t *store, const char *fmt, const char *arg)
{
    redisReply *r = NULL;
    assert_int_equal(cf_store_cmd(store, &r, fmt, arg), CF_OK);
    long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : -999;
    cf_store_reply_free(&r);
    return v;
}

static void test_idempotent_and_refused(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_itest_job_agents(store, "a", 0, 3, 0);
    cf_itest_job_agents(store, "other", 0, 1, 0);
    s_job(store, s_id, 3, 1);
    char ev[CF_DB_KEY_MAX], why[CF_DB_KEY_MAX];
    assert_int_equal(cf_db_key_job(ev, s_id, CF_DB_KS_JOB_EV), CF_OK);
    assert_int_equal(cf_db_key_job(why, s_id, CF_DB_KS_JOB_WHY), CF_OK);
    /* the same receipt twice in one batch, then again: one change */
    cf_db_job_tr_t tr[] = {{s_id, "a0", CF_JOB_EV_RECEIPT, NULL},
                           {s_id, "a0", CF_JOB_EV_RECEIPT, NULL},
                           {s_id, "other0", CF_JOB_EV_RECEIPT, NULL},
                           {"abcdef0123456789abcdef0123456789", "a0", CF_JOB_EV_RECEIPT, NULL},
                           {s_id, "a1", CF_JOB_EV_REPORT_FAILED, "disk full"}};
    cf_db_job_res_t res[5];
    assert_int_equal(cf_db_job_transition(store, 2000, tr, 5, res), CF_OK);
    assert_int_equal(res[0].rc, CF_OK);
    assert_int_equal(res[0].to, CF_JOB_DELIVERED);
    assert_int_equal(res[1].rc, CF_OK);
    assert_int_equal(res[1].from, CF_JOB_DELIVERED);
    assert_int_equal(res[1].to, CF_JOB_DELIVERED); /* no change */
    assert_int_equal(res[2].rc, CF_ERR_NOTFOUND);  /* not a target */
    assert_int_equal(res[3].rc, CF_ERR_NOTFOUND);  /* no such job */
    assert_int_equal(res[4].to, CF_JOB_FAILED);
    long long events = s_int(store, "XLEN %s", ev);
    assert_int_equal(events, 1 + 2); /* created + two changes */
    assert_int_equal(cf_db_job_transition(store, 2000, tr, 5, res), CF_OK);
    assert_int_equal(res[0].from, CF_JOB_DELIVERED);
    assert_int_equal(res[0].to, CF_JOB_DELIVERED);
    assert_int_equal(res[4].from, CF_JOB_FAILED);
    assert_int_equal(res[4].to, CF_JOB_FAILED);
    assert_int_equal(s_int(store, "XLEN %s", ev), events); /* nothing written */
    cf_itest_job_check(store, s_id);
    /* the reason is kept while failed, and goes when a success follows */
    cf_db_job_entry_t *list = NULL;
    size_t n = 0;
    char cursor[CF_DB_JOB_CURSOR_MAX];
    assert_int_equal(cf_db_job_agents(store, s_id, CF_JOB_FAILED, "", 10, &list, &n, cursor),
                     CF_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].agent, "a1");
    assert_string_equal(list[0].reason, "disk full");
    cf_mem_free(list);
    cf_db_job_res_t r = s_one(store, s_id, "a1", CF_JOB_EV_REPORT_INSTALLED, NULL);
    assert_int_equal(r.from, CF_JOB_FAILED);
    assert_int_equal(r.to, CF_JOB_INSTALLED);
    assert_int_equal(s_int(store, "HLEN %s", why), 0);
    /* installed is sticky; retry of it is refused by the table */
    r = s_one(store, s_id, "a1", CF_JOB_EV_REPORT_FAILED, "late");
    assert_int_equal(r.to, CF_JOB_INSTALLED);
    r = s_one(store, s_id, "a1", CF_JOB_EV_RETRY, NULL);
    assert_int_equal(r.rc, CF_ERR_STATE);
    assert_int_equal(r.from, CF_JOB_INSTALLED);
    cf_itest_job_check(store, s_id);
    cf_store_destroy(&store);
}

/* A damaged entry is reported for itself; the rest of the batch still runs. */
static void test_damaged_entry(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_itest_job_agents(store, "a", 0, 3, 0);
    s_job(store, s_id, 3, 1);
    cf_db_job_res_t res[2];
    char st[CF_DB_KEY_MAX];
    assert_int_equal(cf_db_key_job(st, s_id, CF_DB_KS_JOB_ST), CF_OK);
    assert_int_equal(cf_store_cmd(store, NULL, "HSET %s a2 weird", st), CF_OK);
    cf_db_job_tr_t tr2[] = {{s_id, "a2", CF_JOB_EV_RECEIPT, NULL},
                            {s_id, "a0", CF_JOB_EV_REPORT_INSTALLED, NULL}};
    assert_int_equal(cf_db_job_transition(store, 2000, tr2, 2, res), CF_OK);
    assert_int_equal(res[0].rc, CF_ERR_CORRUPT);
    assert_int_equal(res[1].to, CF_JOB_INSTALLED);
    cf_store_destroy(&store);
}

static void test_transition_refusals(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_itest_job_agents(store, "a", 0, 1, 0);
    s_job(store, s_id, 1, 1);
    char longreason[CF_DB_JOB_REASON_MAX + 2];
    memset(longreason, 'r', sizeof(longreason) - 1);
    longreason[sizeof(longreason) - 1] = '\0';
    cf_db_job_tr_t bad[] = {
        {"xyz", "a0", CF_JOB_EV_RECEIPT, NULL},
        {s_id, "A0", CF_JOB_EV_RECEIPT, NULL},
        {s_id, NULL, CF_JOB_EV_RECEIPT, NULL},
        {s_id, "a0", CF_JOB_EVENT_COUNT, NULL},
        {s_id, "a0", CF_JOB_EV_REPORT_FAILED, longreason},
        {s_id, "a0", CF_JOB_EV_REPORT_FAILED, "line\nbreak"},
    };
    cf_db_job_res_t res[2];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        /* one bad transition refuses the whole batch: the good one is not applied */
        cf_db_job_tr_t two[] = {{s_id, "a0", CF_JOB_EV_RECEIPT, NULL}, bad[i]};
        assert_int_equal(cf_db_job_transition(store, 2000, two, 2, res), CF_ERR_INVALID);
    }
    assert_int_equal(cf_db_job_transition(store, 2000, bad, 0, res), CF_ERR_INVALID);
    assert_int_equal(cf_db_job_transition(store, 2000, bad, CF_DB_JOB_BATCH_MAX + 1, res),
                     CF_ERR_INVALID);
    assert_int_equal(cf_db_job_transition(store, 2000, NULL, 1, res), CF_ERR_INVALID);
    cf_db_job_t job;
    assert_int_equal(cf_db_job_get(store, s_id, &job), CF_OK);
    assert_int_equal(job.n[CF_JOB_PENDING], 1);
    /* a reason is ignored for other events */
    cf_db_job_res_t r = s_one(store, s_id, "a0", CF_JOB_EV_RECEIPT, "ignored");
    assert_int_equal(r.to, CF_JOB_DELIVERED);
    char why[CF_DB_KEY_MAX];
    assert_int_equal(cf_db_key_job(why, s_id, CF_DB_KS_JOB_WHY), CF_OK);
    assert_int_equal(s_int(store, "EXISTS %s", why), 0);
    cf_store_destroy(&store);
}

static void test_close_and_reopen(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_itest_job_agents(store, "a", 0, 2, 0);
    s_job(store, s_id, 2, 1);
    cf_db_job_res_t r = s_one(store, s_id, "a0", CF_JOB_EV_REPORT_INSTALLED, NULL);
    cf_itest_job_check(store, s_id);
    r = s_one(store, s_id, "a1", CF_JOB_EV_REPORT_FAILED, "no space");
    assert_int_equal(r.to, CF_JOB_FAILED);
    /* the last open entry ended: the job closed in that step */
    cf_db_job_t job;
    assert_int_equal(cf_db_job_get(store, s_id, &job), CF_OK);
    assert_int_equal(job.done, 2000);
    cf_itest_job_check(store, s_id);
    char key[CF_DB_KEY_MAX];
    assert_int_equal(cf_db_key_job(key, s_id, CF_DB_KS_TAG), CF_OK);
    long long ttl = s_int(store, "TTL %s", key);
    assert_true(ttl > CF_DB_JOB_KEEP - 60 && ttl <= CF_DB_JOB_KEEP);
    /* a retry sends a1 again with a new expiry: the job opens again */
    size_t changed = 0;
    assert_int_equal(cf_db_job_retry(store, s_id, 3000, 9000, &changed), CF_OK);
    assert_int_equal(changed, 1);
    assert_int_equal(cf_db_job_get(store, s_id, &job), CF_OK);
    assert_int_equal(job.done, 0);
    assert_int_equal(job.expires, 9000);
    assert_int_equal(job.n[CF_JOB_PENDING], 1);
    assert_int_equal(s_int(store, "TTL %s", key), -1);
    cf_itest_job_check(store, s_id);
    cf_db_job_open_t *open = NULL;
    size_t n = 0;
    assert_int_equal(cf_db_job_agent_open(store, "a1", 5000, &open, &n), CF_OK);
    assert_int_equal(n, 1);
    assert_int_equal(open[0].expires, 9000);
    cf_mem_free(open);
    /* cancel closes it again; a late failure report on the closed job keeps the TTLs */
    assert_int_equal(cf_db_job_cancel(store, s_id, 3100, &changed), CF_OK);
    assert_int_equal(changed, 1);
    cf_itest_job_check(store, s_id);
    r = s_one(store, s_id, "a1", CF_JOB_EV_REPORT_FAILED, "too late");
    assert_int_equal(r.from, CF_JOB_CANCELLED);
    assert_int_equal(r.to, CF_JOB_FAILED);
    cf_itest_job_check(store, s_id);
    assert_int_equal(cf_db_job_cancel(store, s_id, 3200, &changed), CF_OK);
    assert_int_equal(changed, 0);
    cf_store_destroy(&store);
}

static void test_upgrade_and_broker(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_itest_job_agents(store, "a", 0, 3, 0);
    const char *id2 = "00000000000000000000000000000002";
    s_job(store, s_id, 3, 2);
    s_job(store, id2, 3, 3);
    cf_db_job_t job;
    assert_int_equal(cf_db_job_get(store, s_id, &job), CF_OK);
    assert_int_equal(job.n[CF_JOB_TOO_OLD], 3);
    /* a0 says HELLO at level 2: the first job is released, the second still waits */
    size_t changed = 0;
    assert_int_equal(cf_db_job_upgrade(store, "a0", 2, 2000, &changed), CF_OK);
    assert_int_equal(changed, 1);
    assert_int_equal(cf_db_job_upgrade(store, "a0", 2, 2000, &changed), CF_OK);
    assert_int_equal(changed, 0);
    assert_int_equal(cf_db_job_upgrade(store, "a1", 3, 2000, &changed), CF_OK);
    assert_int_equal(changed, 2);
    cf_itest_job_check(store, s_id);
    cf_itest_job_check(store, id2);
    assert_int_equal(cf_db_job_get(store, id2, &job), CF_OK);
    assert_int_equal(job.n[CF_JOB_PENDING], 1);
    assert_int_equal(job.n[CF_JOB_TOO_OLD], 2);
    /* the level is recorded, and new jobs start from it */
    unsigned proto = 0;
    unsigned char broker[CF_CURVE_KEY_LEN], got[CF_CURVE_KEY_LEN];
    int has = 1;
    assert_int_equal(cf_db_job_agent_link(store, "a1", &proto, got, &has), CF_OK);
    assert_int_equal(proto, 3);
    assert_int_equal(has, 0);
    assert_int_equal(cf_db_job_agent_link(store, "a2", &proto, got, &has), CF_OK);
    assert_int_equal(proto, 1);
    /* the broker of the last HELLO */
    for (size_t i = 0; i < sizeof(broker); i++)
        broker[i] = (unsigned char) (i + 1);
    assert_int_equal(cf_db_job_set_broker(store, "a1", broker), CF_OK);
    assert_int_equal(cf_db_job_agent_link(store, "a1", &proto, got, &has), CF_OK);
    assert_int_equal(has, 1);
    assert_memory_equal(got, broker, sizeof(broker));
    /* refusals */
    assert_int_equal(cf_db_job_upgrade(store, "ghost", 2, 2000, &changed), CF_ERR_NOTFOUND);
    assert_int_equal(cf_db_job_upgrade(store, "a0", 0, 2000, &changed), CF_ERR_INVALID);
    assert_int_equal(cf_db_job_upgrade(store, "a0", 256, 2000, &changed), CF_ERR_INVALID);
    assert_int_equal(cf_db_job_upgrade(store, "A", 2, 2000, &changed), CF_ERR_INVALID);
    assert_int_equal(cf_db_job_set_broker(store, "ghost", broker), CF_ERR_NOTFOUND);
    assert_int_equal(cf_db_job_set_broker(store, "a0", NULL), CF_ERR_INVALID);
    assert_int_equal(cf_db_job_agent_link(store, "ghost", &proto, got, &has), CF_ERR_NOTFOUND);
    assert_int_equal(cf_store_cmd(store, NULL, "HSET cf:agent:{a2} broker xyz"), CF_OK);
    assert_int_equal(cf_db_job_agent_link(store, "a2", &proto, got, &has), CF_ERR_CORRUPT);
    cf_store_destroy(&store);
}

/* The checker itself: each kind of damage is caught. */
static void test_checker_catches_damage(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_itest_job_agents(store, "a", 0, 2, 0);
    char job[CF_DB_KEY_MAX], st[CF_DB_KEY_MAX], why[CF_DB_KEY_MAX], buf[256];
    assert_int_equal(cf_db_key_job(job, s_id, CF_DB_KS_TAG), CF_OK);
    assert_int_equal(cf_db_key_job(st, s_id, CF_DB_KS_JOB_ST), CF_OK);
    assert_int_equal(cf_db_key_job(why, s_id, CF_DB_KS_JOB_WHY), CF_OK);
    const char *damage[][2] = {
        {"HINCRBY %s n:pending 1", job},
        {"HSET %s a0 installed", st},
        {"ZREM cf:agent:{a0}:jobs %s", s_id},
        {"HSET %s a1 oops", why},
        {"ZREM cf:jobs:open %s", s_id},
        {"HSET %s done 5", job},
        {"EXPIRE %s 100", job},
        {"HSET %s total 3", job},
    };
    for (size_t i = 0; i < sizeof(damage) / sizeof(damage[0]); i++) {
        assert_int_equal(cf_store_cmd(store, NULL, "FLUSHALL"), CF_OK);
        cf_itest_job_agents(store, "a", 0, 2, 0);
        s_job(store, s_id, 2, 1);
        assert_string_equal(cf_itest_job_verify(store, s_id, buf, sizeof(buf)), "ok");
        assert_int_equal(cf_store_cmd(store, NULL, damage[i][0], damage[i][1]), CF_OK);
        assert_string_not_equal(cf_itest_job_verify(store, s_id, buf, sizeof(buf)), "ok");
    }
    cf_store_destroy(&store);
}

static uint32_t s_rand(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* Random batches of every event over three jobs; after each step the counters must equal
   a recount of the entries. */
static void test_counters_equal_recount(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    enum { AGENTS = 40, JOBS = 3, ROUNDS = 60, BATCH = 50 };
    cf_itest_job_agents(store, "a", 0, AGENTS, 0);
    cf_itest_job_agents(store, "a", 0, AGENTS / 2, 2); /* half of them speak level 2 */
    char ids[JOBS][CF_DB_JOB_ID_LEN + 1];
    for (int j = 0; j < JOBS; j++) {
        snprintf(ids[j], sizeof(ids[j]), "%032x", j + 1);
        s_job(store, ids[j], AGENTS - (size_t) j, (unsigned) (1 + j % 2));
    }
    char **agents = cf_itest_job_ids("a", 0, AGENTS + 2); /* two are no target */
    uint32_t seed = 0x5eed;
    for (int round = 0; round < ROUNDS; round++) {
        int64_t now = 2000 + round;
        uint32_t op = s_rand(&seed) % 10;
        const char *job = ids[s_rand(&seed) % JOBS];
        size_t changed = 0;
        cf_err_t rc = CF_OK;
        if (op == 0) {
            assert_int_equal(cf_db_job_cancel(store, job, now, &changed), CF_OK);
        } else if (op == 1) {
            rc = cf_db_job_retry(store, job, now, now + 600, &changed);
            assert_true(rc == CF_OK || rc == CF_ERR_STATE);
        } else if (op == 2) {
            assert_int_equal(
                cf_db_job_upgrade(store, agents[s_rand(&seed) % AGENTS], 2, now, &changed), CF_OK);
        } else {
            cf_db_job_tr_t tr[BATCH];
            cf_db_job_res_t res[BATCH];
            for (int i = 0; i < BATCH; i++)
                tr[i] = (cf_db_job_tr_t){
                    ids[s_rand(&seed) % JOBS], agents[s_rand(&seed) % (AGENTS + 2)],
                    (cf_job_event_t) (s_rand(&seed) % CF_JOB_EVENT_COUNT), "reason"};
            assert_int_equal(cf_db_job_transition(store, now, tr, BATCH, res), CF_OK);
            for (int i = 0; i < BATCH; i++) {
                cf_job_state_t want = res[i].from;
                if (res[i].rc == CF_OK)
                    assert_int_equal(cf_job_fsm_next(res[i].from, tr[i].event, &want), CF_OK);
                assert_int_equal(res[i].to, want);
            }
        }
        for (int j = 0; j < JOBS; j++)
            cf_itest_job_check(store, ids[j]);
    }
    cf_itest_job_ids_free(agents, AGENTS + 2);
    cf_store_destroy(&store);
}

/* A batch moves each counter once per job: 40 receipts of one job are two HINCRBYs
   (pending -40, delivered +40), counted by Redis itself (INFO commandstats). */
static void test_batch_counts_once(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    enum { AGENTS = 40 };
    cf_itest_job_agents(store, "a", 0, AGENTS, 0);
    s_job(store, s_id, AGENTS, 1);
    char **agents = cf_itest_job_ids("a", 0, AGENTS);
    cf_db_job_tr_t tr[AGENTS];
    cf_db_job_res_t res[AGENTS];
    for (int i = 0; i < AGENTS; i++)
        tr[i] = (cf_db_job_tr_t){s_id, agents[i], CF_JOB_EV_RECEIPT, NULL};
    assert_int_equal(cf_store_cmd(store, NULL, "CONFIG RESETSTAT"), CF_OK);
    assert_int_equal(cf_db_job_transition(store, 2000, tr, AGENTS, res), CF_OK);
    redisReply *r = NULL;
    assert_int_equal(cf_store_cmd(store, &r, "INFO commandstats"), CF_OK);
    const char *at = r->str ? strstr(r->str, "cmdstat_hincrby:calls=") : NULL;
    assert_non_null(at);
    assert_int_equal(strtol(at + strlen("cmdstat_hincrby:calls="), NULL, 10), 2);
    cf_store_reply_free(&r);
    for (int i = 0; i < AGENTS; i++)
        assert_int_equal(res[i].to, CF_JOB_DELIVERED);
    assert_int_equal(cf_store_cmd(store, &r, "HMGET cf:job:{%s} n:pending n:delivered", s_id),
                     CF_OK);
    assert_string_equal(r->element[0]->str, "0");
    assert_string_equal(r->element[1]->str, "40");
    cf_store_reply_free(&r);
    cf_itest_job_check(store, s_id); /* the counts equal the entries */
    cf_itest_job_ids_free(agents, AGENTS);
    cf_store_destroy(&store);
}

/* Calls of one command during the last script (INFO commandstats since a reset). */
static long s_calls(cf_store_t *store, const char *cmd)
{
    redisReply *r = NULL;
    assert_int_equal(cf_store_cmd(store, &r, "INFO commandstats"), CF_OK);
    char key[64];
    snprintf(key, sizeof(key), "cmdstat_%s:calls=", cmd);
    const char *at = r->str ? strstr(r->str, key) : NULL;
    long n = at ? strtol(at + strlen(key), NULL, 10) : 0;
    cf_store_reply_free(&r);
    return n;
}

/* A batch reads its entries' states with one HMGET per job and writes them with one HSET,
   and a later fact of the same entry in the same batch sees the earlier one's state. */
static void test_batch_one_read_one_write(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_itest_job_agents(store, "a", 0, 4, 0);
    s_job(store, s_id, 3, 1); /* a0..a2 targeted, a3 not */
    char **a = cf_itest_job_ids("a", 0, 4);
    cf_db_job_tr_t tr[] = {
        {s_id, a[0], CF_JOB_EV_RECEIPT, NULL},
        {s_id, a[0], CF_JOB_EV_REPORT_INSTALLED, NULL},
        {s_id, a[1], CF_JOB_EV_REPORT_FAILED, "disk full"},
        {s_id, a[2], CF_JOB_EV_RECEIPT, NULL},
        {s_id, a[2], CF_JOB_EV_RECEIPT, NULL}, /* a resend: no change */
        {s_id, a[3], CF_JOB_EV_RECEIPT, NULL}, /* not a target */
    };
    enum { N = sizeof(tr) / sizeof(tr[0]) };
    cf_db_job_res_t res[N];
    assert_int_equal(cf_store_cmd(store, NULL, "CONFIG RESETSTAT"), CF_OK);
    assert_int_equal(cf_db_job_transition(store, 2000, tr, N, res), CF_OK);
    assert_int_equal(s_calls(store, "hget"), 0);
    assert_int_equal(s_calls(store, "hmget"), 3); /* the job record (two), the states (one) */
    assert_int_equal(res[0].from, CF_JOB_PENDING);
    assert_int_equal(res[0].to, CF_JOB_DELIVERED);
    assert_int_equal(res[1].from, CF_JOB_DELIVERED);
    assert_int_equal(res[1].to, CF_JOB_INSTALLED);
    assert_int_equal(res[2].to, CF_JOB_FAILED);
    assert_int_equal(res[3].to, CF_JOB_DELIVERED);
    assert_int_equal(res[4].from, CF_JOB_DELIVERED);
    assert_int_equal(res[4].to, CF_JOB_DELIVERED);
    assert_int_equal(res[5].rc, CF_ERR_NOTFOUND);
    const char *want[] = {"installed", "failed", "delivered"};
    for (size_t i = 0; i < 3; i++) {
        redisReply *r = NULL;
        assert_int_equal(cf_store_cmd(store, &r, "HGET cf:job:{%s}:st %s", s_id, a[i]), CF_OK);
        assert_string_equal(r->str, want[i]);
        cf_store_reply_free(&r);
    }
    cf_itest_job_check(store, s_id); /* the counts equal the entries */
    cf_itest_job_ids_free(a, 4);
    cf_store_destroy(&store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idempotent_and_refused),
        cmocka_unit_test(test_damaged_entry),
        cmocka_unit_test(test_transition_refusals),
        cmocka_unit_test(test_close_and_reopen),
        cmocka_unit_test(test_upgrade_and_broker),
        cmocka_unit_test(test_checker_catches_damage),
        cmocka_unit_test(test_counters_equal_recount),
        cmocka_unit_test(test_batch_counts_once),
        cmocka_unit_test(test_batch_one_read_one_write),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
