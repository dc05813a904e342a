/*  test_server_sentinel - cf-server on Redis Sentinel: it finds the master through the
    Sentinels, and keeps serving check-ins (writes) after a failover  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cf_itest.h"
#include "cf_itest_server.h"

static char s_dir[512];

static int s_setup(void **state)
{
    (void) state;
    cf_test_tmpdir("test_server_sentinel", s_dir, sizeof(s_dir));
    return cf_test_sh("cd '%s' && umask 077 && echo 'correct horse battery' >admin.pass", s_dir);
}

typedef struct {
    int plain_port; /* cf-server's plain listener */
    const char *id; /* agent id to check in */
} s_checkin_t;

/* One check-in without a certificate (allow-plain is on after --init) answered 200. */
static int s_checkin_ok(void *arg)
{
    s_checkin_t *c = arg;
    return cf_test_sh("curl -sf -o /dev/null -H 'Content-Type: application/json' -d "
                      "'{\"id\":\"%s\",\"version\":\"0.1.0\",\"protocol\":1}' "
                      "http://127.0.0.1:%d/api/v1/agent/checkin",
                      c->id, c->plain_port) == 0;
}

static int s_replica_is_master(void *arg)
{
    return cf_itest_redis_reply_has(*(int *) arg, "role:master", "INFO replication");
}

typedef struct {
    s_checkin_t c;  /* the check-in to repeat */
    int new_master; /* port of the promoted replica */
} s_after_t;

static int s_after_on_new_master(void *arg)
{
    s_after_t *a = arg;
    return s_checkin_ok(&a->c) &&
           cf_itest_redis_reply_has(a->new_master, "1", "EXISTS cf:agent:{agent-after}");
}

static void test_failover_during_checkins(void **state)
{
    (void) state;
    cf_itest_sentinel_t s;
    assert_int_equal(cf_itest_sentinel_start(&s, "certfleet"), CF_OK);
    char list[256], admin[600];
    cf_itest_sentinel_list(&s, list, sizeof(list));
    snprintf(admin, sizeof(admin), "%s/admin.pass", s_dir);
    const char *extra[] = {"--init", "--admin-password-file", admin,       "--redis-sentinel",
                           list,     "--redis-master",        "certfleet", NULL};
    cf_itest_server_t srv = {0};
    /* --redis (added by the helper) is ignored once Sentinels are named */
    assert_int_equal(cf_itest_server_start(&srv, s_dir, s.master.port, "srv1", extra), CF_OK);
    s_checkin_t before = {srv.plain_port, "agent-before"};
    assert_true(cf_test_wait_until(s_checkin_ok, &before, 10000));
    assert_true(cf_itest_redis_reply_has(s.master.port, "1", "EXISTS cf:agent:{agent-before}"));
    assert_true(cf_itest_redis_reply_has(s.sentinels[0].port, "OK", "SENTINEL FAILOVER certfleet"));
    assert_true(cf_test_wait_until(s_replica_is_master, &s.replica.port, 20000));
    /* writes reach the new master once the server has asked the Sentinels again (it
       re-checks every second; a write in that second may land on the old master, which
       Redis Sentinel then discards: the agent's next check-in writes it again) */
    s_after_t after = {{srv.plain_port, "agent-after"}, s.replica.port};
    assert_true(cf_test_wait_until(s_after_on_new_master, &after, 30000));
    assert_true(cf_itest_redis_reply_has(s.replica.port, "1", "EXISTS cf:agent:{agent-before}"));
    cf_itest_server_stop(&srv, SIGTERM);
    cf_itest_sentinel_stop(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failover_during_checkins),
    };
    return cmocka_run_group_tests(tests, s_setup, NULL);
}
