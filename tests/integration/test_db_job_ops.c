/*  test_db_job_ops - cf_db_job job-level steps on a real redis-server: chunks, sweeper, 100k  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cf_db_job.h"
#include "cf_itest.h"
#include "cf_itest_job.h"
#include "cf_mem.h"

CF_ITEST_REDIS_PER_FILE()

static const char s_id[] = "0123456789abcdef0123456789abcdef";
static const char s_id2[] = "00000000000000000000000000000002";

/* Create job id over agents "a0".."a<n-1>" (registered), created 1000, expires at
   expires. */
static void s_job(cf_store_t *store, const char *id, size_t n, int64_t expires)
{
    char **ids = cf_itest_job_ids("a", 0, n);
    cf_db_job_spec_t spec = cf_itest_job_spec(id, (const char *const *) ids, n);
    spec.expires = expires;
    cf_db_job_made_t made;
    assert_int_equal(cf_db_job_create(store, &spec, &made), CF_OK);
    assert_int_equal(made.total, (int64_t) n);
    cf_db_job_made_clear(&made);
    cf_itest_job_ids_free(ids, n);
}

/* Report installed for agents a<first>..a<first+n-1> of job id. */
static void s_install(cf_store_t *store, const char *id, size_t first, size_t n)
{
    char **ids = cf_itest_job_ids("a", first, n);
    cf_db_job_tr_t *tr = cf_mem_calloc(n, sizeof(*tr));
    cf_db_job_res_t *res = cf_mem_calloc(n, sizeof(*res));
    for (size_t i = 0; i < n; i++)
        tr[i] = (cf_db_job_tr_t){id, ids[i], CF_JOB_EV_REPORT_INSTALLED, NULL};
    assert_int_equal(cf_db_job_transition(store, 1500, tr, n, res), CF_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(res[i].to, CF_JOB_INSTALLED);
    cf_mem_free(tr);
    cf_mem_free(res);
    cf_itest_job_ids_free(ids, n);
}

static void test_cancel_and_retry_in_chunks(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    enum { N = 2500 }; /* more than two chunks */
    cf_itest_job_agents(store, "a", 0, N, 0);
    s_job(store, s_id, N, 5000);
    s_install(store, s_id, 0, 100);
    size_t changed = 0;
    assert_int_equal(cf_db_job_cancel(store, s_id, 1600, &changed), CF_OK);
    assert_int_equal(changed, N - 100);
    cf_itest_job_check(store, s_id);
    cf_db_job_t job;
    assert_int_equal(cf_db_job_get(store, s_id, &job), CF_OK);
    assert_int_equal(job.n[CF_JOB_CANCELLED], N - 100);
    assert_int_equal(job.done, 1600);
    /* retry: the cancelled ones go out again with the new expiry */
    assert_int_equal(cf_db_job_retry(store, s_id, 1700, 1700 + 86400, &changed), CF_OK);
    assert_int_equal(changed, N - 100);
    cf_itest_job_check(store, s_id);
    assert_int_equal(cf_db_job_get(store, s_id, &job), CF_OK);
    assert_int_equal(job.n[CF_JOB_PENDING], N - 100);
    assert_int_equal(job.expires, 1700 + 86400);
    assert_int_equal(job.done, 0);
    /* nothing left to retry: refused, the expiry stays */
    assert_int_equal(cf_db_job_retry(store, s_id, 1800, 1800 + 60, &changed), CF_ERR_STATE);
    assert_int_equal(changed, 0);
    assert_int_equal(cf_db_job_get(store, s_id, &job), CF_OK);
    assert_int_equal(job.expires, 1700 + 86400);
    /* refusals */
    assert_int_equal(cf_db_job_retry(store, s_id, 1800, 1800, &changed), CF_ERR_INVALID);
    assert_int_equal(cf_db_job_retry(store, s_id, 1800, 1801 + CF_JOB_MAX_LIFETIME, &changed),
                     CF_ERR_INVALID);
    assert_int_equal(cf_db_job_retry(store, "x", 1800, 1900, &changed), CF_ERR_INVALID);
    assert_int_equal(cf_db_job_retry(store, s_id2, 1800, 1900, &changed), CF_ERR_NOTFOUND);
    assert_int_equal(cf_db_job_cancel(store, s_id2, 1800, &changed), CF_ERR_NOTFOUND);
    assert_int_equal(cf_db_job_cancel(store, "", 1800, &changed), CF_ERR_INVALID);
    cf_store_destroy(&store);
}

/* Sweep at now with budget until no work is left; count the steps. */
static size_t s_sweep_all(cf_store_t *store, int64_t now, size_t budget, cf_db_job_sweep_t *sum)
{
    memset(sum, 0, sizeof(*sum));
    size_t steps = 0;
    cf_db_job_sweep_t st;
    do {
        assert_int_equal(cf_db_job_sweep(store, now, budget, &st), CF_OK);
        sum->expired += st.expired;
        sum->scanned += st.scanned;
        sum->closed += st.closed;
        sum->pruned += st.pruned;
        assert_true(++steps < 10000);
    } while (st.more);
    return steps;
}

static void test_sweeper(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    enum { N = 3000 };
    cf_itest_job_agents(store, "a", 0, N, 0);
    s_job(store, s_id, N, 2000);   /* past at 2500 */
    s_job(store, s_id2, 10, 9000); /* not past */
    s_install(store, s_id, 0, 500);
    /* before the expiry: nothing to do */
    cf_db_job_sweep_t sum;
    assert_int_equal(s_sweep_all(store, 1999, 100, &sum), 1);
    assert_int_equal(sum.expired, 0);
    /* after it, in steps of about 700 entries: the walk resumes where it stopped */
    size_t steps = s_sweep_all(store, 2500, 700, &sum);
    assert_true(steps >= N / 700);
    assert_int_equal(sum.expired, N - 500);
    assert_int_equal(sum.closed, 1);
    assert_true(sum.scanned >= N && sum.scanned < N + N / 2); /* no walk from the start again */
    cf_itest_job_check(store, s_id);
    cf_itest_job_check(store, s_id2);
    cf_db_job_t job;
    assert_int_equal(cf_db_job_get(store, s_id, &job), CF_OK);
    assert_int_equal(job.done, 2500);
    assert_int_equal(job.n[CF_JOB_EXPIRED], N - 500);
    assert_int_equal(cf_db_job_get(store, s_id2, &job), CF_OK);
    assert_int_equal(job.n[CF_JOB_PENDING], 10);
    /* a racing report after the expiry still counts (what the agent did wins) */
    s_install(store, s_id, 600, 1);
    cf_itest_job_check(store, s_id);
    /* once the closed job's keys expire, the sweeper prunes its id from cf:jobs */
    char key[CF_DB_KEY_MAX];
    assert_int_equal(cf_db_key_job(key, s_id, CF_DB_KS_TAG), CF_OK);
    assert_int_equal(cf_store_cmd(store, NULL, "DEL %s", key), CF_OK);
    s_sweep_all(store, 2600, 100, &sum);
    assert_int_equal(sum.pruned, 1);
    redisReply *r = NULL;
    assert_int_equal(cf_store_cmd(store, &r, "ZCARD cf:jobs"), CF_OK);
    assert_int_equal(r->integer, 1);
    cf_store_reply_free(&r);
    /* a retry between two sweeper steps restarts the walk from the beginning later */
    assert_int_equal(cf_db_job_sweep(store, 9500, 5, NULL), CF_OK); /* s_id2: 5 of 10 */
    size_t changed = 0;
    assert_int_equal(cf_db_job_retry(store, s_id2, 9501, 20000, &changed), CF_OK);
    cf_itest_job_check(store, s_id2);
    assert_int_equal(s_sweep_all(store, 20001, 3, &sum) > 1, 1);
    assert_int_equal(cf_db_job_get(store, s_id2, &job), CF_OK);
    assert_int_equal(job.n[CF_JOB_EXPIRED], 10);
    cf_itest_job_check(store, s_id2);
    assert_int_equal(cf_db_job_sweep(store, -1, 10, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_db_job_sweep(store, 1, 0, NULL), CF_ERR_INVALID);
    cf_store_destroy(&store);
}

/* Run call with the allocation at i failing, for i = 0, 1, ... until it runs without a
   failed allocation (which answers CF_OK or also_ok); every failing run must answer
   CF_ERR_NOMEM (or also_ok), then on_fail checks what it left. At least one run must fail. */
#define S_ALLOC_LOOP(call, on_fail) S_ALLOC_LOOP2(call, on_fail, CF_OK)
#define S_ALLOC_LOOP2(call, on_fail, also_ok)                                       \
    do {                                                                            \
        int failures_ = 0;                                                          \
        for (long i_ = 0; i_ < 100; i_++) {                                         \
            cf_test_alloc_fail_at(i_);                                              \
            cf_err_t rc_ = (call);                                                  \
            long failed_ = cf_test_alloc_failed();                                  \
            cf_test_alloc_fail_at(-1);                                              \
            if (failed_ == 0) {                                                     \
                assert_true(rc_ == CF_OK || rc_ == (also_ok));                      \
                break;                                                              \
            }                                                                       \
            failures_++;                                                            \
            assert_true(rc_ == CF_ERR_NOMEM || (rc_ != CF_OK && rc_ == (also_ok))); \
            on_fail;                                                                \
        }                                                                           \
        assert_true(failures_ >= 1);                                                \
    } while (0)

/* Every allocation the job store (and cf_store under it) makes may fail: CF_ERR_NOMEM,
   nothing half done (the checker), nothing leaked (ASan), and the same call works once
   memory is back. */
static void test_alloc_failures(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    enum { N = 50 };
    cf_itest_job_agents(store, "a", 0, N, 0);
    char **ids = cf_itest_job_ids("a", 0, N);
    cf_db_job_spec_t spec = cf_itest_job_spec(s_id, (const char *const *) ids, N);
    cf_db_job_made_t made;
    cf_db_job_t job;
    /* a failure while the reply is read (cf_store builds replies with cf_mem) comes after
       the script ran: then the job is there, whole */
    S_ALLOC_LOOP(cf_db_job_create(store, &spec, &made), {
        assert_null(made.unknown);
        if (cf_db_job_get(store, s_id, &job) == CF_OK) {
            cf_itest_job_check(store, s_id);
            assert_int_equal(cf_store_cmd(store, NULL, "FLUSHALL"), CF_OK);
            cf_itest_job_agents(store, "a", 0, N, 0);
        }
    });
    cf_db_job_made_clear(&made);
    cf_db_job_tr_t tr[N];
    cf_db_job_res_t res[N];
    for (size_t i = 0; i < N; i++)
        tr[i] = (cf_db_job_tr_t){s_id, ids[i], CF_JOB_EV_RECEIPT, NULL};
    S_ALLOC_LOOP(cf_db_job_transition(store, 1100, tr, N / 2, res),
                 cf_itest_job_check(store, s_id));
    cf_itest_job_check(store, s_id);
    cf_db_job_entry_t *entries = NULL;
    char next[CF_DB_JOB_CURSOR_MAX];
    size_t n = 0;
    S_ALLOC_LOOP(cf_db_job_agents(store, s_id, CF_JOB_STATE_COUNT, "", 10, &entries, &n, next),
                 assert_null(entries));
    cf_mem_free(entries);
    cf_db_job_t *list = NULL;
    S_ALLOC_LOOP(cf_db_job_list(store, 10, &list, &n), assert_null(list));
    cf_mem_free(list);
    cf_db_job_open_t *open = NULL;
    S_ALLOC_LOOP(cf_db_job_agent_open(store, "a0", 1100, &open, &n), assert_null(open));
    cf_mem_free(open);
    size_t changed = 0;
    S_ALLOC_LOOP(cf_db_job_cancel(store, s_id, 1200, &changed), cf_itest_job_check(store, s_id));
    cf_itest_job_check(store, s_id);
    /* a failure after the script ran leaves nothing to retry for the next run */
    S_ALLOC_LOOP2(cf_db_job_retry(store, s_id, 1300, 9000, &changed),
                  cf_itest_job_check(store, s_id), CF_ERR_STATE);
    cf_itest_job_check(store, s_id);
    S_ALLOC_LOOP(cf_db_job_sweep(store, 9500, 100, NULL), cf_itest_job_check(store, s_id));
    cf_itest_job_check(store, s_id);
    assert_int_equal(cf_db_job_get(store, s_id, &job), CF_OK);
    assert_int_equal(job.n[CF_JOB_EXPIRED], N);
    cf_itest_job_ids_free(ids, N);
    cf_store_destroy(&store);
}

static double s_ms(const struct timespec *a, const struct timespec *b)
{
    return (double) (b->tv_sec - a->tv_sec) * 1e3 + (double) (b->tv_nsec - a->tv_nsec) / 1e6;
}

/* Walk job id page by page (limit entries each); every agent "a<k>" (k < total) must come
   exactly once. Answers the entries seen. */
static size_t s_walk_all(cf_store_t *store, const char *id, size_t limit, size_t total)
{
    char *seen = cf_mem_calloc(total, 1);
    char cursor[CF_DB_JOB_CURSOR_MAX] = "";
    size_t count = 0;
    do {
        cf_db_job_entry_t *list = NULL;
        size_t n = 0;
        char next[CF_DB_JOB_CURSOR_MAX];
        assert_int_equal(
            cf_db_job_agents(store, id, CF_JOB_STATE_COUNT, cursor, limit, &list, &n, next), CF_OK);
        for (size_t i = 0; i < n; i++) {
            size_t k = 0;
            assert_int_equal(sscanf(list[i].agent, "a%zu", &k), 1);
            assert_true(k < total);
            assert_int_equal(seen[k], 0);
            seen[k] = 1;
        }
        count += n;
        cf_mem_free(list);
        memcpy(cursor, next, sizeof(cursor));
    } while (cursor[0]);
    cf_mem_free(seen);
    return count;
}

/* The fleet-wide job: 100,000 targets in one create, then pages, a batch, cancel. */
static void test_100k_targets(void **state)
{
    (void) state;
    /* one script over 100,000 targets takes about a second on a quiet machine; on a loaded
       one, or under ASan, it may pass the default 5 s command timeout */
    cf_store_cfg_t cfg;
    cf_store_cfg_init(&cfg);
    cfg.command_timeout_ms = 120000;
    cf_store_t *store = cf_itest_store_at(s_redis.port, &cfg);
    assert_int_equal(cf_store_cmd(store, NULL, "FLUSHALL"), CF_OK);
    enum { N = CF_DB_JOB_TARGETS_MAX };
    cf_itest_job_agents(store, "a", 0, N, 0);
    char **ids = cf_itest_job_ids("a", 0, N);
    cf_db_job_spec_t spec = cf_itest_job_spec(s_id, (const char *const *) ids, N);
    cf_db_job_made_t made;
    struct timespec t0, t1, t2, t3;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(cf_db_job_create(store, &spec, &made), CF_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(made.total, N);
    cf_db_job_made_clear(&made);
    cf_itest_job_check(store, s_id);
    /* one batch of 10,000 receipts */
    cf_db_job_tr_t *tr = cf_mem_calloc(CF_DB_JOB_BATCH_MAX, sizeof(*tr));
    cf_db_job_res_t *res = cf_mem_calloc(CF_DB_JOB_BATCH_MAX, sizeof(*res));
    for (size_t i = 0; i < CF_DB_JOB_BATCH_MAX; i++)
        tr[i] = (cf_db_job_tr_t){s_id, ids[i], CF_JOB_EV_RECEIPT, NULL};
    clock_gettime(CLOCK_MONOTONIC, &t2);
    assert_int_equal(cf_db_job_transition(store, 1100, tr, CF_DB_JOB_BATCH_MAX, res), CF_OK);
    clock_gettime(CLOCK_MONOTONIC, &t3);
    for (size_t i = 0; i < CF_DB_JOB_BATCH_MAX; i++)
        assert_int_equal(res[i].to, CF_JOB_DELIVERED);
    print_message("create of %d targets: %.0f ms; batch of %d transitions: %.0f ms\n", N,
                  s_ms(&t0, &t1), CF_DB_JOB_BATCH_MAX, s_ms(&t2, &t3));
    assert_int_equal(s_walk_all(store, s_id, 5000, N), N);
    /* the operator cancels it */
    size_t changed = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(cf_db_job_cancel(store, s_id, 1200, &changed), CF_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    print_message("cancel of %d entries: %.0f ms\n", N, s_ms(&t0, &t1));
    assert_int_equal(changed, N);
    cf_itest_job_check(store, s_id);
    cf_mem_free(tr);
    cf_mem_free(res);
    cf_itest_job_ids_free(ids, N);
    cf_store_destroy(&store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cancel_and_retry_in_chunks),
        cmocka_unit_test(test_sweeper),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_100k_targets),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
