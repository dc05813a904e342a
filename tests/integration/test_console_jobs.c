/*  test_console_jobs - `cf-console job ...` end to end against a real cf-server on a real
    redis-server: create for each kind of target, show with its counts and pages, list,
    cancel, retry, the sweeper closing a short job, and the exit codes of refusals  */
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
    cf_itest_console_setup("test_console_jobs");
    const char *dir = cf_itest_console_dir();
    cf_why_t why = {""};
    assert_int_equal(cf_itest_redis_start(&s.redis, NULL), CF_OK);
    s.store = cf_itest_store_at(s.redis.port, NULL);
    cf_itest_console_path(secret, sizeof(secret), "secret");
    assert_int_equal(cf_seal_generate_file(secret, "jobs-1", &why), CF_OK);
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

static void test_create_each_target(void **state)
{
    (void) state;
    char id[33];
    EXPECT(0, "2 agents", "job create recheck --agents c-1,c-2,ghost " REAL);
    assert_true(cf_itest_console_has("unknown agents left out (1): ghost"));
    assert_int_equal(s_create(id, "renew_csr --all"), 3);
    assert_int_equal(s_create(id, "recheck --ip-range 127.0.0.0/24"), 2);
    assert_int_equal(s_create(id, "recheck --state insecure --ttl 1h"), 2);
    assert_int_equal(s_create(id, "install_cert --agents c-1 --form p12"), 1);
    assert_int_equal(s_create(id, "set_favorite --favorite srv-a --agents c-3"), 1);
    /* show: the counts and the agents table */
    EXPECT(0, "set_favorite", "job show %s " REAL, id);
    assert_true(cf_itest_console_has("c-3"));
    assert_true(cf_itest_console_has("pending"));
    EXPECT(0, NULL, "job show %s --json " REAL, id);
    assert_int_equal(AT_INT("job.counts.pending"), 1);
    assert_string_equal(AT_STR("agents.0.id"), "c-3");
    /* list: the six jobs, --limit cuts it */
    EXPECT(0, NULL, "job list --limit 3 --json " REAL);
    assert_int_equal(json_array_size(cf_itest_console_at("jobs")), 3);
    EXPECT(0, NULL, "job list --json " REAL);
    assert_int_equal(json_array_size(cf_itest_console_at("jobs")), 6);
    EXPECT(0, id, "job list " REAL);
    assert_true(cf_itest_console_has("set_favorite"));
}

static void test_refusals_exit_codes(void **state)
{
    (void) state;
    /* the command line: 2 */
    EXPECT(2, "unknown job type", "job create reboot --all " REAL);
    EXPECT(2, "exactly one target", "job create recheck " REAL);
    EXPECT(2, "exactly one target", "job create recheck --all --state secure " REAL);
    EXPECT(2, "needs --favorite", "job create set_favorite --all " REAL);
    EXPECT(2, "does not go with", "job create recheck --all --form pem " REAL);
    EXPECT(2, "not a job id", "job show 12345 " REAL);
    EXPECT(2, "not an agent id", "job create recheck --agents BAD " REAL);
    /* the server refuses: 1 */
    EXPECT(1, "agent/nope", "job create install_cert --all --cert-name nope " REAL);
    EXPECT(1, "srv-z", "job create set_favorite --favorite srv-z --all " REAL);
    EXPECT(1, "holds no agent", "job create recheck --ip-range 192.168.0.0/16 " REAL);
    EXPECT(1, "404", "job show 0123456789abcdef0123456789abcdef " REAL);
    EXPECT(1, "404", "job cancel 0123456789abcdef0123456789abcdef " REAL);
}

static void test_paging_cancel_retry(void **state)
{
    (void) state;
    char id[33];
    assert_int_equal(s_create(id, "recheck --agents c-1,c-2,c-3"), 3);
    EXPECT(0, NULL, "job show %s --limit 2 --json " REAL, id);
    assert_int_equal(json_array_size(cf_itest_console_at("agents")), 2);
    char cursor[256];
    snprintf(cursor, sizeof(cursor), "%s", AT_STR("cursor") ? AT_STR("cursor") : "");
    assert_true(cursor[0]);
    EXPECT(0, "more: add --cursor", "job show %s --limit 2 " REAL, id);
    EXPECT(0, NULL, "job show %s --limit 2 --cursor %s --json " REAL, id, cursor);
    assert_int_equal(json_array_size(cf_itest_console_at("agents")), 1);
    assert_null(AT_STR("cursor"));
    EXPECT(0, "3 cancelled", "job cancel %s " REAL, id);
    EXPECT(0, "no agent in that state", "job show %s --state pending " REAL, id);
    EXPECT(0, "3 pending", "job retry %s " REAL, id);
    EXPECT(0, NULL, "job show %s --state pending --json " REAL, id);
    assert_int_equal(json_array_size(cf_itest_console_at("agents")), 3);
}

static int s_closed(void *arg)
{
    int rc = cf_itest_console_run("job show %s --json " REAL, (const char *) arg);
    return rc == 0 && json_is_integer(cf_itest_console_at("job.done")) &&
           AT_INT("job.counts.expired") == 1;
}

static void test_sweeper_closes_short_job(void **state)
{
    (void) state;
    char id[33];
    assert_int_equal(s_create(id, "recheck --agents c-1 --ttl 1s"), 1);
    assert_true(cf_test_wait_until(s_closed, id, 20000));
    EXPECT(0, "expired", "job show %s " REAL, id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_each_target),
        cmocka_unit_test(test_refusals_exit_codes),
        cmocka_unit_test(test_paging_cancel_retry),
        cmocka_unit_test(test_sweeper_closes_short_job),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
