/*  test_console_job_waves - `cf-console job create --batch/--rate/--max-failures`, `job
    pause`, `job resume` and the queued count end to end against a real cf-server on a real
    redis-server  */
#include "cf_itest.h"
#include "cf_itest_console.h"
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cf_db_agent.h"
#include "cf_db_job.h"
#include "cf_seal.h"

#define EXPECT(code, has, ...) cf_itest_console_expect(__LINE__, NULL, code, has, __VA_ARGS__)
#define AT_INT(path)           json_integer_value(cf_itest_console_at(path))
#define AT_STR(path)           json_string_value(cf_itest_console_at(path))
#define REAL                   "-c real.conf"

static struct {
    cf_itest_redis_t redis; /* the store */
    cf_store_t *store;      /* the test's own connection */
    pid_t pid;              /* cf-server */
    int port;               /* its TLS port */
} s;

/* An agent as a check-in records it, without a certificate. */
static void s_agent(const char *id, cf_db_lock_t lock, const char *addr)
{
    cf_db_checkin_t in = {id, lock, (int64_t) time(NULL), addr, "1.0", NULL, NULL, 0, "srv-a", 0};
    if (lock != CF_DB_LOCK_INSECURE) {
        in.cert_fp = "ab00000000000000000000000000000000000000000000000000000000000000";
        in.cert_serial = "0b";
        in.cert_not_after = (int64_t) time(NULL) + 86400;
    }
    assert_int_equal(cf_db_agent_checkin(s.store, &in, NULL), CF_OK);
}

static int s_setup(void **state)
{
    (void) state;
    char log[800], secret[800], cmd[2048];
    cf_itest_console_setup("test_console_job_waves");
    const char *dir = cf_itest_console_dir();
    cf_why_t why = {""};
    assert_int_equal(cf_itest_redis_start(&s.redis, NULL), CF_OK);
    s.store = cf_itest_store_at(s.redis.port, NULL);
    cf_itest_console_path(secret, sizeof(secret), "secret");
    assert_int_equal(cf_seal_generate_file(secret, "waves-1", &why), CF_OK);
    assert_int_equal(cf_test_sh("mkdir -p '%s/out'", dir), 0);
    s.port = cf_itest_free_port();
    cf_itest_console_path(log, sizeof(log), "cf-server.log");
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && exec '%s' --redis 127.0.0.1:%d --alias srv-a --san 127.0.0.1 --port %d "
             "--secret-file secret --admin-password-file real.pass --init --out out "
             "--sweep-check 1s --log-level info",
             dir, cf_itest_console_server_bin(), s.redis.port, s.port);
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    assert_int_equal(cf_itest_spawn(argv, log, &s.pid), CF_OK);
    if (cf_itest_wait_port("127.0.0.1", s.port, 30000) != CF_OK)
        fail_msg("cf-server did not start; see %s", log);
    assert_int_equal(cf_test_sh("cd '%s' && printf 'server = https://127.0.0.1:%d\\nca = "
                                "out/ca.pem\\ncert = out/console.p12\\ncert-password-file = "
                                "out/p12.pass\\n' >real.conf",
                                dir, s.port),
                     0);
    EXPECT(0, NULL, "login " REAL " --user admin --password-file real.pass");
    s_agent("c-1", CF_DB_LOCK_SECURE, "127.0.0.7");
    s_agent("c-2", CF_DB_LOCK_INSECURE, "127.0.0.7");
    s_agent("c-3", CF_DB_LOCK_INSECURE, "10.9.8.7");
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    if (s.pid > 0 && cf_itest_kill(s.pid, SIGTERM) != CF_OK)
        print_message("cf-server was already gone\n");
    cf_store_destroy(&s.store);
    cf_itest_redis_stop(&s.redis);
    cf_itest_console_teardown();
    return 0;
}

/* `job create ... --json` that must succeed: the id into id (33 bytes), the total back. */
static long long s_create(char *id, const char *args)
{
    EXPECT(0, NULL, "job create %s --json " REAL, args);
    snprintf(id, 33, "%s", AT_STR("id") ? AT_STR("id") : "");
    assert_int_equal(strlen(id), 32);
    return (long long) AT_INT("total");
}

static int s_released(void *arg)
{
    const char *id = arg;
    cf_db_job_t j;
    return cf_db_job_get(s.store, id, &j) == CF_OK && j.n[CF_JOB_PENDING] == 1;
}

/* A job in waves from the console: its rollout and queued count shown, paused, resumed. */
static void test_usage_waves_pause_resume(void **state)
{
    (void) state;
    char id[33];
    assert_int_equal(s_create(id, "recheck --all --batch 1 --max-failures 50"), 3);
    EXPECT(0, NULL, "job show %s --json " REAL, id);
    assert_int_equal(AT_INT("job.rollout.batch"), 1);
    assert_int_equal(AT_INT("job.rollout.max_failures"), 50);
    assert_int_equal(AT_INT("job.counts.queued") + AT_INT("job.counts.pending"), 3);
    /* the controller releases one (no agent answers here: it stays pending) */
    assert_true(cf_test_wait_until(s_released, id, 30000));
    EXPECT(0, "job", "job pause %s " REAL, id);
    assert_true(cf_itest_console_has("paused: 2 queued, 1 pending"));
    EXPECT(0, "PAUSED", "job show %s " REAL, id);
    assert_true(cf_itest_console_has("batch 1, abort above 50 % failed"));
    assert_true(cf_itest_console_has("queued"));
    EXPECT(0, NULL, "job show %s --json " REAL, id);
    assert_true(json_is_true(cf_itest_console_at("job.rollout.paused")));
    EXPECT(0, "running", "job resume %s " REAL, id);
    EXPECT(0, "queued", "job cancel %s " REAL, id);
    /* a job without waves: at once, nothing to pause */
    assert_int_equal(s_create(id, "recheck --all"), 3);
    EXPECT(0, "at once", "job show %s " REAL, id);
    EXPECT(1, "409", "job pause %s " REAL, id);
}

static void test_refusals(void **state)
{
    (void) state;
    EXPECT(2, "batch", "job create recheck --all --batch 0 " REAL);
    EXPECT(2, "rate", "job create recheck --all --rate 100001 " REAL);
    EXPECT(2, "max-failures", "job create recheck --all --max-failures 101 " REAL);
    EXPECT(2, "not a job id", "job pause 12345 " REAL);
    EXPECT(2, "not a job id", "job resume 0123456789ABCDEF0123456789ABCDEF " REAL);
    EXPECT(1, "404", "job resume 0123456789abcdef0123456789abcdef " REAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage_waves_pause_resume),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
