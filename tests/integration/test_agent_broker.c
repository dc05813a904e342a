/*  test_agent_broker - the real cf-agent daemon with its broker link: redis-server, a real
    cf-broker and a cf-server linked to it; the agent checks in when its link comes up, gets
    an install job pushed through the broker (not by polling), installs it and reports
    through the broker; SIGTERM stops it cleanly  */
#include "cf_test.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "cf_ca.h"
#include "cf_db_meta.h"
#include "cf_itest_broker.h"
#include "cf_itest_fleet.h"
#include "cf_itest_linked.h"
#include "cf_itest_real.h"
#include "cf_seal.h"

static cf_itest_fleet_t *const s = &cf_itest_fleet;
static cf_itest_broker_t s_b;
static char s_token[128], s_agents_ep[CF_CURVE_TEXT_MAX + 1];
static pid_t s_agent;

static int s_setup(void **state)
{
    (void) state;
    signal(SIGPIPE, SIG_IGN);
    cf_itest_broker_start(&s_b, "agent-broker", NULL, NULL, NULL, 0);
    assert_int_equal(cf_curve_broker_format(&s_b.agents, s_agents_ep, sizeof(s_agents_ep)), CF_OK);
    cf_itest_linked_start(s, &s_b, NULL);
    cf_itest_linked_token(s, 5, s_token, sizeof(s_token));
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    if (s_agent > 0 && cf_itest_kill(s_agent, SIGKILL) != CF_OK)
        fprintf(stderr, "cf-agent %d did not stop\n", (int) s_agent);
    cf_itest_linked_stop(s, &s_b);
    return 0;
}

/* A condition: the agent's log holds at least n lines matching a pattern. */
typedef struct {
    const char *pattern; /* grep -E pattern */
    int n;               /* lines wanted */
} s_log_t;

static int s_log_has(void *arg)
{
    const s_log_t *l = arg;
    return cf_test_sh("test $(grep -cE '%s' '%s/agent-ag-b1.log') -ge %d", l->pattern, s->dir,
                      l->n) == 0;
}

typedef struct {
    const char *job; /* job id */
} s_job_t;

static int s_installed(void *arg)
{
    char out[CF_ITEST_FLEET_BODY], path[200];
    snprintf(path, sizeof(path), "/api/v1/jobs/%s", ((const s_job_t *) arg)->job);
    return cf_itest_fleet_get(&s->a, path, out) == 200 &&
           cf_itest_fleet_ji(out, "counts/installed") == 1;
}

static void test_job_through_broker(void **state)
{
    (void) state;
    cf_itest_real_enroll("ag-b1", s_token, s_agents_ep);
    char old[65], exe[700], log[800];
    snprintf(old, sizeof(old), "%s", cf_itest_real_fpr("ag-b1"));
    const char *bin = getenv("CF_BIN_DIR");
    snprintf(exe, sizeof(exe), "%s/agent/cf-agent", bin && *bin ? bin : ".");
    snprintf(log, sizeof(log), "%s/agent-ag-b1.log", s->dir);
    char *argv[] = {exe,        "run",       "--state-dir", (char *) cf_itest_real_dir("ag-b1"),
                    "--source", "127.0.0.5", "--interval",  "300",
                    NULL};
    assert_int_equal(cf_itest_spawn(argv, log, &s_agent), CF_OK);
    /* first check-in, then the link comes up and the agent checks in again */
    s_log_t up = {"broker=up", 1}, twice = {"checkin=ok", 2};
    assert_true(cf_test_wait_until(s_log_has, &up, 15000));
    assert_true(cf_test_wait_until(s_log_has, &twice, 15000));
    assert_true(cf_itest_broker_metric_wait(&s_b, "cf_broker_connected_agents", 1));
    /* a job now can only come through the broker: the next check-in is 300 s away */
    char out[CF_ITEST_FLEET_BODY], id[33];
    assert_int_equal(cf_itest_fleet_admin(&s->a, "POST", "/api/v1/jobs",
                                          "{\"type\":\"install_cert\",\"agents\":[\"ag-b1\"]}",
                                          out),
                     201);
    json_t *j = cf_itest_fleet_json(out);
    snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    s_job_t w = {id};
    assert_true(cf_test_wait_until(s_installed, &w, 20000));
    assert_string_not_equal(cf_itest_real_fpr("ag-b1"), old);
    char pat[100];
    snprintf(pat, sizeof(pat), "job=%s outcome=installed", id);
    s_log_t done = {pat, 1};
    assert_true(s_log_has(&done));
    /* the report went through the broker: none over HTTPS, and no third check-in */
    snprintf(pat, sizeof(pat), "report=acked job=%s", id);
    s_log_t https = {pat, 1}, thrice = {"checkin=ok", 3};
    assert_false(s_log_has(&https));
    assert_false(s_log_has(&thrice));
    /* SIGTERM: a clean stop */
    assert_int_equal(kill(s_agent, SIGTERM), 0);
    int code = cf_itest_exit_code(s_agent, 10000); /* -1: still running (killed at teardown) */
    if (code >= 0)
        s_agent = 0;
    assert_int_equal(code, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_job_through_broker),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
