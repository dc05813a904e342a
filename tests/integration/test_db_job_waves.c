/*  test_db_job_waves - rollout controls in the job store against a real redis-server: waves
    by batch and by rate, pause and resume, abort at the failure threshold, retry in waves  */
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

#define S_T0 1000000000LL /* unix ms of the first wave step of a test */

/* Create job id over agents "a0".."a<n-1>" (registered here) rolled out as w says. */
static void s_job(cf_store_t *store, const char *id, size_t n, cf_db_job_rollout_t w)
{
    cf_itest_job_agents(store, "a", 0, n, 0);
    char **ids = cf_itest_job_ids("a", 0, n);
    cf_db_job_spec_t spec = cf_itest_job_spec(id, (const char *const *) ids, n);
    spec.waves = w;
    cf_db_job_made_t made;
    assert_int_equal(cf_db_job_create(store, &spec, &made), CF_OK);
    assert_int_equal(made.total, (int64_t) n);
    cf_db_job_made_clear(&made);
    cf_itest_job_ids_free(ids, n);
}

static cf_db_job_t s_get(cf_store_t *store, const char *id)
{
    cf_db_job_t job;
    assert_int_equal(cf_db_job_get(store, id, &job), CF_OK);
    return job;
}

/* One wave step at t ms; the invariants of the store hold after it. */
static cf_db_job_wave_t s_step(cf_store_t *store, const char *id, int64_t t)
{
    cf_db_job_wave_t w;
    assert_int_equal(cf_db_job_wave_step(store, id, t, &w), CF_OK);
    cf_itest_job_check(store, id);
    return w;
}

/* Apply event to agent "a<i>" of job id. */
static void s_event(cf_store_t *store, const char *id, size_t i, cf_job_event_t ev)
{
    char agent[16];
    snprintf(agent, sizeof(agent), "a%zu", i);
    cf_db_job_tr_t tr = {id, agent, ev, ev == CF_JOB_EV_REPORT_FAILED ? "disk full" : NULL};
    cf_db_job_res_t res;
    assert_int_equal(cf_db_job_transition(store, 2000, &tr, 1, &res), CF_OK);
    assert_int_equal(res.rc, CF_OK);
    cf_itest_job_check(store, id);
}

/* 1 when job id is in cf:jobs:waves. */
static int s_in_waves(cf_store_t *store, const char *id)
{
    char(*ids)[CF_DB_JOB_ID_LEN + 1] = NULL;
    size_t n = 0;
    assert_int_equal(cf_db_job_waves(store, 0, CF_DB_JOB_WAVES_MAX, &ids, &n), CF_OK);
    int found = 0;
    for (size_t i = 0; i < n; i++)
        found |= strcmp(ids[i], id) == 0;
    cf_mem_free(ids);
    return found;
}

/* A batch of 3 over 10 agents: never more than 3 in flight, the next go out as entries
   finish, in the order given, and the job leaves the controller's set when it closes. */
static void test_usage_batch(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    s_job(store, s_id, 10, (cf_db_job_rollout_t){.batch = 3});
    cf_db_job_t job = s_get(store, s_id);
    assert_int_equal(job.n[CF_JOB_QUEUED], 10);
    assert_int_equal(job.waves.batch, 3);
    assert_true(s_in_waves(store, s_id));
    cf_db_job_wave_t w = s_step(store, s_id, S_T0);
    assert_int_equal(w.released, 3);
    assert_int_equal(w.queued, 7);
    assert_int_equal(s_step(store, s_id, S_T0 + 250).released, 0); /* 3 in flight */
    s_event(store, s_id, 0, CF_JOB_EV_RECEIPT);                    /* delivered: in flight */
    assert_int_equal(s_step(store, s_id, S_T0 + 500).released, 0);
    size_t next = 0; /* agents finish in the order they went out */
    int64_t t = S_T0 + 750;
    for (int guard = 0; guard < 40 && s_get(store, s_id).done == 0; guard++, t += 250) {
        s_event(store, s_id, next++,
                guard % 4 == 3 ? CF_JOB_EV_REPORT_FAILED : CF_JOB_EV_REPORT_INSTALLED);
        (void) s_step(store, s_id, t);
        job = s_get(store, s_id);
        assert_true(job.n[CF_JOB_PENDING] + job.n[CF_JOB_DELIVERED] <= 3);
        assert_int_equal(
            job.n[CF_JOB_PENDING] + job.n[CF_JOB_DELIVERED],
            job.total - job.n[CF_JOB_QUEUED] - job.n[CF_JOB_INSTALLED] - job.n[CF_JOB_FAILED] > 3
                ? 3
                : job.total - job.n[CF_JOB_QUEUED] - job.n[CF_JOB_INSTALLED] -
                      job.n[CF_JOB_FAILED]);
    }
    job = s_get(store, s_id);
    assert_int_equal(next, 10);
    assert_true(job.done > 0);
    assert_int_equal(job.n[CF_JOB_INSTALLED] + job.n[CF_JOB_FAILED], 10);
    w = s_step(store, s_id, t);
    assert_true(w.gone);
    assert_false(s_in_waves(store, s_id));
    cf_store_destroy(&store);
}

/* A rate of 10 per second: about 10 a second, never a burst after a pause. */
static void test_rate_and_pause(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    s_job(store, s_id, 200, (cf_db_job_rollout_t){.rate = 10});
    int64_t sum = s_step(store, s_id, S_T0).released; /* the first goes at once */
    assert_int_equal(sum, 1);
    int64_t r = s_step(store, s_id, S_T0 + 500).released;
    assert_int_equal(r, 5);
    sum += r;
    r = s_step(store, s_id, S_T0 + 5000).released; /* capped: a second's worth */
    assert_int_equal(r, 10);
    sum += r;
    int64_t released = 0, t = S_T0 + 5000;
    for (int i = 0; i < 16; i++) /* 4 s in steps of 250 ms */
        released += s_step(store, s_id, t += 250).released;
    assert_true(released >= 38 && released <= 40);
    sum += released;
    assert_int_equal(cf_db_job_pause(store, s_id, 1, "admin", t), CF_OK);
    assert_int_equal(cf_db_job_pause(store, s_id, 1, "admin", t), CF_OK); /* no change */
    assert_int_equal(s_get(store, s_id).paused, 1);
    cf_db_job_wave_t w = s_step(store, s_id, t += 60000);
    assert_int_equal(w.released, 0);
    assert_false(w.gone);
    assert_int_equal(cf_db_job_pause(store, s_id, 0, "admin", t += 60000), CF_OK);
    assert_int_equal(s_get(store, s_id).paused, 0);
    assert_int_equal(s_step(store, s_id, t).released, 0); /* no credit kept from the pause */
    assert_int_equal(s_step(store, s_id, t += 300).released, 3);
    sum += 3;
    released = 0;
    for (int i = 0; i < 8; i++) /* 2 s */
        released += s_step(store, s_id, t += 250).released;
    assert_true(released >= 19 && released <= 20);
    sum += released;
    cf_db_job_t job = s_get(store, s_id);
    assert_int_equal(job.n[CF_JOB_PENDING], sum);
    assert_int_equal(job.n[CF_JOB_QUEUED], 200 - sum);
    cf_store_destroy(&store);
}

/* max_failures 10 %: no abort before the sample or below the threshold; past it the
   queued, pending and too_old entries are cancelled, delivered ones left to finish; a
   retry sends the job in waves again. */
static void test_abort_at_threshold(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    s_job(store, s_id, 200, (cf_db_job_rollout_t){.batch = 60, .watch = 1, .max_fail = 10});
    assert_int_equal(s_step(store, s_id, S_T0).released, 60);
    for (size_t i = 0; i < 5; i++) /* 5 failed of 5 finished: under the sample of 10 */
        s_event(store, s_id, i, CF_JOB_EV_REPORT_FAILED);
    cf_db_job_wave_t w = s_step(store, s_id, S_T0 + 250);
    assert_false(w.abort);
    assert_int_equal(w.released, 5);
    for (size_t i = 5; i < 50; i++) /* 5 of 50 finished failed: 10 %, not more */
        s_event(store, s_id, i, CF_JOB_EV_REPORT_INSTALLED);
    w = s_step(store, s_id, S_T0 + 500);
    assert_false(w.abort);
    assert_int_equal(w.released, 45);
    s_event(store, s_id, 50, CF_JOB_EV_RECEIPT); /* delivered: left to finish */
    s_event(store, s_id, 51, CF_JOB_EV_REPORT_FAILED);
    w = s_step(store, s_id, S_T0 + 750); /* 6 of 51 = 11.8 % */
    assert_true(w.abort);
    assert_int_equal(w.released, 0);
    assert_non_null(strstr(w.reason, "failures 6 of 51"));
    w = s_step(store, s_id, S_T0 + 1000); /* a controller that died before the walk */
    assert_true(w.aborting);
    size_t changed = 0;
    assert_int_equal(cf_db_job_abort(store, s_id, 2000, &changed), CF_OK);
    cf_itest_job_check(store, s_id);
    cf_db_job_t job = s_get(store, s_id);
    assert_int_equal(job.n[CF_JOB_QUEUED] + job.n[CF_JOB_PENDING], 0);
    assert_int_equal(job.n[CF_JOB_DELIVERED], 1);
    assert_int_equal(job.n[CF_JOB_CANCELLED], (int64_t) changed);
    assert_int_equal(job.n[CF_JOB_CANCELLED], 200 - 52);
    assert_string_equal(job.aborted, w.reason);
    w = s_step(store, s_id, S_T0 + 2250);
    assert_true(w.gone);
    assert_false(w.abort);
    /* the retry queues the failed and cancelled entries again and clears the abort */
    assert_int_equal(cf_db_job_retry(store, s_id, 2000, 9000, &changed), CF_OK);
    cf_itest_job_check(store, s_id);
    job = s_get(store, s_id);
    assert_int_equal(job.n[CF_JOB_QUEUED], 148 + 6);
    assert_int_equal(job.aborted[0], '\0');
    assert_true(s_in_waves(store, s_id));
    assert_int_equal(s_step(store, s_id, S_T0 + 2500).released, 59); /* 1 still delivered */
    cf_store_destroy(&store);
}

/* A job without waves is as before; with max_failures only it starts pending and is
   watched; cancel ends queued entries; refusals. */
static void test_plain_watch_cancel_refusals(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    static const char plain[] = "00000000000000000000000000000001";
    static const char watch[] = "00000000000000000000000000000002";
    s_job(store, plain, 5, (cf_db_job_rollout_t){0});
    s_job(store, watch, 5, (cf_db_job_rollout_t){.watch = 1, .max_fail = 0});
    s_job(store, s_id, 5, (cf_db_job_rollout_t){.rate = 1});
    char(*ids)[CF_DB_JOB_ID_LEN + 1] = NULL;
    size_t n = 0;
    /* going round: from position 1 on, nothing past the end */
    assert_int_equal(cf_db_job_waves(store, 0, 10, &ids, &n), CF_OK);
    size_t all = n;
    char second[CF_DB_JOB_ID_LEN + 1];
    assert_int_equal(all, 2); /* watch, then s_id */
    snprintf(second, sizeof(second), "%s", ids[1]);
    cf_mem_free(ids);
    assert_int_equal(cf_db_job_waves(store, 1, 1, &ids, &n), CF_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], second);
    cf_mem_free(ids);
    assert_int_equal(cf_db_job_waves(store, all, 10, &ids, &n), CF_OK);
    assert_int_equal(n, 0);
    cf_mem_free(ids);
    cf_db_job_t job = s_get(store, plain);
    assert_int_equal(job.n[CF_JOB_PENDING], 5);
    assert_false(job.waves.watch);
    assert_false(s_in_waves(store, plain));
    assert_int_equal(cf_db_job_pause(store, plain, 1, "admin", S_T0), CF_ERR_STATE);
    assert_int_equal(cf_db_job_pause(store, watch, 1, "admin", S_T0), CF_ERR_STATE);
    job = s_get(store, watch);
    assert_int_equal(job.n[CF_JOB_PENDING], 5);
    assert_true(job.waves.watch);
    assert_int_equal(job.waves.max_fail, 0);
    assert_false(s_step(store, watch, S_T0).gone); /* watched, nothing to release */
    for (size_t i = 0; i < 4; i++)
        s_event(store, watch, i, CF_JOB_EV_REPORT_INSTALLED);
    s_event(store, watch, 4, CF_JOB_EV_REPORT_FAILED); /* the job closes */
    assert_true(s_step(store, watch, S_T0).gone);      /* closed: nothing to abort */
    /* cancel ends queued entries; the job leaves the controller */
    size_t changed = 0;
    assert_int_equal(cf_db_job_cancel(store, s_id, 2000, &changed), CF_OK);
    assert_int_equal(changed, 5);
    cf_itest_job_check(store, s_id);
    assert_true(s_step(store, s_id, S_T0).gone);
    assert_int_equal(cf_db_job_pause(store, s_id, 1, "admin", S_T0), CF_ERR_STATE); /* closed */
    /* refusals */
    cf_db_job_wave_t w;
    assert_int_equal(cf_db_job_wave_step(store, "nothex", S_T0, &w), CF_ERR_INVALID);
    assert_int_equal(cf_db_job_wave_step(store, s_id, -1, &w), CF_ERR_INVALID);
    assert_int_equal(cf_db_job_wave_step(store, "ffffffffffffffffffffffffffffffff", S_T0, &w),
                     CF_OK);
    assert_true(w.gone);
    assert_int_equal(cf_db_job_pause(store, "ffffffffffffffffffffffffffffffff", 1, "admin", 0),
                     CF_ERR_NOTFOUND);
    assert_int_equal(cf_db_job_pause(store, s_id, 1, "bad user!", 0), CF_ERR_INVALID);
    assert_int_equal(cf_db_job_abort(store, "nothex", 0, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_db_job_waves(store, 0, 0, &ids, &n), CF_ERR_INVALID);
    assert_int_equal(cf_db_job_waves(store, 0, CF_DB_JOB_WAVES_MAX + 1, &ids, &n), CF_ERR_INVALID);
    static const cf_db_job_rollout_t bad[] = {{.batch = -1},
                                              {.batch = CF_DB_JOB_WAVE_MAX + 1},
                                              {.rate = CF_DB_JOB_WAVE_MAX + 1},
                                              {.watch = 1, .max_fail = 101},
                                              {.watch = 1, .max_fail = -1}};
    const char *agents[] = {"a0"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cf_db_job_spec_t spec = cf_itest_job_spec("00000000000000000000000000000009", agents, 1);
        spec.waves = bad[i];
        cf_db_job_made_t made;
        assert_int_equal(cf_db_job_create(store, &spec, &made), CF_ERR_INVALID);
    }
    cf_store_destroy(&store);
}

/* An agent upgraded out of too_old waits for a wave of its job (no batch overrun). */
static void test_upgrade_in_waves(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_itest_job_agents(store, "a", 0, 4, 2);
    cf_itest_job_agents(store, "a", 0, 2, 1); /* a0 and a1 speak level 1 */
    char **ids = cf_itest_job_ids("a", 0, 4);
    cf_db_job_spec_t spec = cf_itest_job_spec(s_id, (const char *const *) ids, 4);
    spec.min_proto = 2;
    spec.waves.batch = 2;
    cf_db_job_made_t made;
    assert_int_equal(cf_db_job_create(store, &spec, &made), CF_OK);
    assert_int_equal(made.too_old, 2);
    cf_db_job_made_clear(&made);
    cf_itest_job_ids_free(ids, 4);
    assert_int_equal(s_step(store, s_id, S_T0).released, 2); /* a2, a3 */
    size_t changed = 0;
    assert_int_equal(cf_db_job_upgrade(store, "a0", 2, 2000, &changed), CF_OK);
    assert_int_equal(changed, 1);
    cf_itest_job_check(store, s_id);
    cf_db_job_t job = s_get(store, s_id);
    assert_int_equal(job.n[CF_JOB_QUEUED], 1);
    assert_int_equal(job.n[CF_JOB_PENDING], 2);
    assert_int_equal(job.n[CF_JOB_TOO_OLD], 1);
    assert_int_equal(s_step(store, s_id, S_T0 + 250).released, 0); /* the batch is full */
    s_event(store, s_id, 2, CF_JOB_EV_REPORT_INSTALLED);
    assert_int_equal(s_step(store, s_id, S_T0 + 500).released, 1); /* a0 */
    job = s_get(store, s_id);
    assert_int_equal(job.n[CF_JOB_QUEUED], 0);
    assert_int_equal(job.n[CF_JOB_PENDING], 2);
    cf_store_destroy(&store);
}

static uint32_t s_rand(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* Wave steps, pauses, aborts, retries and random agent events over jobs with waves: after
   every step the counters equal a recount of the entries and the batch holds. */
static void test_counters_equal_recount(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    enum { AGENTS = 60, JOBS = 3, ROUNDS = 120, BATCH = 20 };
    char ids[JOBS][CF_DB_JOB_ID_LEN + 1];
    for (int j = 0; j < JOBS; j++) {
        snprintf(ids[j], sizeof(ids[j]), "%032x", j + 1);
        s_job(store, ids[j], AGENTS,
              (cf_db_job_rollout_t){
                  .batch = j == 1 ? 0 : 7, .rate = j ? 25 : 0, .watch = j == 2, .max_fail = 30});
    }
    char **agents = cf_itest_job_ids("a", 0, AGENTS);
    uint32_t seed = 0x3a7e;
    int64_t t = S_T0;
    for (int round = 0; round < ROUNDS; round++, t += 250) {
        const char *job = ids[s_rand(&seed) % JOBS];
        uint32_t op = s_rand(&seed) % 12;
        size_t changed = 0;
        cf_err_t rc = CF_OK;
        if (op == 0) {
            rc = cf_db_job_retry(store, job, 2000, 9000, &changed);
            assert_true(rc == CF_OK || rc == CF_ERR_STATE);
        } else if (op == 1) {
            rc = cf_db_job_pause(store, job, (int) (s_rand(&seed) % 2), "admin", t);
            assert_true(rc == CF_OK || rc == CF_ERR_STATE);
        } else if (op < 5) {
            cf_db_job_tr_t tr[BATCH];
            cf_db_job_res_t res[BATCH];
            for (int i = 0; i < BATCH; i++)
                tr[i] = (cf_db_job_tr_t){job, agents[s_rand(&seed) % AGENTS],
                                         (cf_job_event_t) (s_rand(&seed) % 3), "reason"};
            assert_int_equal(cf_db_job_transition(store, 2000, tr, BATCH, res), CF_OK);
        }
        for (int j = 0; j < JOBS; j++) {
            cf_db_job_t before = s_get(store, ids[j]);
            cf_db_job_wave_t w = s_step(store, ids[j], t);
            if (w.abort || w.aborting)
                assert_int_equal(cf_db_job_abort(store, ids[j], 2000, NULL), CF_OK);
            cf_itest_job_check(store, ids[j]);
            cf_db_job_t after = s_get(store, ids[j]);
            if (before.waves.batch && w.released)
                assert_true(after.n[CF_JOB_PENDING] + after.n[CF_JOB_DELIVERED] <=
                            before.waves.batch);
            if (before.paused)
                assert_int_equal(w.released, 0);
        }
    }
    cf_itest_job_ids_free(agents, AGENTS);
    cf_store_destroy(&store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage_batch),
        cmocka_unit_test(test_rate_and_pause),
        cmocka_unit_test(test_abort_at_threshold),
        cmocka_unit_test(test_plain_watch_cancel_refusals),
        cmocka_unit_test(test_upgrade_in_waves),
        cmocka_unit_test(test_counters_equal_recount),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
