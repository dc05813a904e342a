/*  test_agent_check - the real cf-agent's install check moves on when a server cannot
    answer: redis-server, a real cf-broker and two cf-servers linked to it, an agent daemon
    whose jobs come through the broker. Its server (srv-a) is stopped when an install job
    arrives: the new pair is checked and installed through srv-b, which becomes the server
    in use. Then no server the agent knows answers (srv-a stopped; srv-b's entry in the
    agent's cache pointing at a listener that never answers, since a server must be up to
    send the job): the pair is rolled back and the job reported failed, the reason naming
    the servers tried  */
#include "cf_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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
    cf_itest_broker_start(&s_b, "agent-check", NULL, NULL, NULL, 0);
    assert_int_equal(cf_curve_broker_format(&s_b.agents, s_agents_ep, sizeof(s_agents_ep)), CF_OK);
    cf_itest_linked_start(s, &s_b, NULL);
    char srv_ep[CF_CURVE_TEXT_MAX + 1];
    assert_int_equal(cf_curve_broker_format(&s_b.servers, srv_ep, sizeof(srv_ep)), CF_OK);
    const char *more[] = {"--broker", srv_ep, NULL};
    cf_itest_fleet_start(&s->b, "srv-b", "20", "127.0.0.128/25", 0, more);
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
    return cf_test_sh("test $(grep -cE '%s' '%s/agent-ag-c1.log') -ge %d", l->pattern, s->dir,
                      l->n) == 0;
}

/* A condition: srv-b counts the job's outcome (counts/<key> is 1). */
typedef struct {
    const char *job; /* job id */
    const char *key; /* "counts/installed" or "counts/failed" */
} s_job_t;

static int s_counted(void *arg)
{
    const s_job_t *w = arg;
    char out[CF_ITEST_FLEET_BODY], path[200];
    snprintf(path, sizeof(path), "/api/v1/jobs/%s", w->job);
    return cf_itest_fleet_get(&s->b, path, out) == 200 && cf_itest_fleet_ji(out, w->key) == 1;
}

/* An install job for the agent, created at srv-b (srv-a may be stopped); its id into id. */
static void s_job(char id[33])
{
    char out[CF_ITEST_FLEET_BODY];
    assert_int_equal(cf_itest_fleet_admin(&s->b, "POST", "/api/v1/jobs",
                                          "{\"type\":\"install_cert\",\"agents\":[\"ag-c1\"]}",
                                          out),
                     201);
    json_t *j = cf_itest_fleet_json(out);
    snprintf(id, 33, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
}

/* The agent daemon from 127.0.0.5 (srv-a's range), its link up, checked in at srv-a. */
static void s_start_agent(void)
{
    cf_itest_real_enroll("ag-c1", s_token, s_agents_ep);
    char exe[700], log[800];
    const char *bin = getenv("CF_BIN_DIR");
    snprintf(exe, sizeof(exe), "%s/agent/cf-agent", bin && *bin ? bin : ".");
    snprintf(log, sizeof(log), "%s/agent-ag-c1.log", s->dir);
    char *argv[] = {exe,        "run",       "--state-dir", (char *) cf_itest_real_dir("ag-c1"),
                    "--source", "127.0.0.5", "--interval",  "300",
                    NULL};
    assert_int_equal(cf_itest_spawn(argv, log, &s_agent), CF_OK);
    s_log_t up = {"broker=up", 1}, twice = {"checkin=ok server=srv-a", 2};
    assert_true(cf_test_wait_until(s_log_has, &up, 15000));
    assert_true(cf_test_wait_until(s_log_has, &twice, 15000));
    assert_true(cf_itest_broker_metric_wait(&s_b, "cf_broker_connected_agents", 1));
}

/* srv-b's count of jobs handed out in check-in answers (cf_server_jobs_checkin_total). */
static long s_jobs_in_checkins(void)
{
    static char out[CF_ITEST_FLEET_BODY];
    assert_int_equal(cf_itest_fleet_get(&s->b, "/metrics", out), 200);
    const char *p = strstr(out, "\ncf_server_jobs_checkin_total{");
    assert_non_null(p);
    p = strchr(p, '}');
    assert_non_null(p);
    return strtol(p + 1, NULL, 10);
}

/* srv-a, the agent's server, is stopped; a job through the broker from srv-b: the check
   finds no answer at srv-a and the pair is checked and installed through srv-b. The check
   asks for no jobs ("jobs": false): srv-b hands out none, though the install job is still
   open while it checks. */
static void test_current_down_other_takes(void **state)
{
    (void) state;
    s_start_agent();
    char old[65], id[33], pat[120];
    snprintf(old, sizeof(old), "%s", cf_itest_real_fpr("ag-c1"));
    cf_itest_server_stop(&s->a, SIGTERM);
    long handed = s_jobs_in_checkins();
    s_job(id);
    s_job_t w = {id, "counts/installed"};
    assert_true(cf_test_wait_until(s_counted, &w, 30000));
    assert_string_not_equal(cf_itest_real_fpr("ag-c1"), old);
    snprintf(pat, sizeof(pat), "job=%s outcome=installed", id);
    s_log_t done = {pat, 1}, a_down = {"check=no-answer server=srv-a", 1},
            b_took = {"check=secure server=srv-b", 1}, rounds = {"checkin=ok", 3};
    assert_true(s_log_has(&done));
    assert_true(s_log_has(&a_down));
    assert_true(s_log_has(&b_took));
    assert_false(s_log_has(&rounds)); /* no round chose srv-b: the check did */
    assert_int_equal(s_jobs_in_checkins(), handed);
    assert_int_equal(cf_test_sh("cd '%s' && ! ls | grep -q -e '[.]prev$' -e '[.]new$'",
                                cf_itest_real_dir("ag-c1")),
                     0);
}

/* A loopback listener that accepts connections (the kernel's backlog) and never answers:
   a server that hangs. Its descriptor into *fd, its port returned. */
static int s_silent(int *fd)
{
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(*fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    assert_int_equal(bind(*fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
    assert_int_equal(listen(*fd, 16), 0);
    assert_int_equal(getsockname(*fd, (struct sockaddr *) &sa, &len), 0);
    return ntohs(sa.sin_port);
}

/* The agent's cache sends srv-a to its closed port (srv-a is stopped) and srv-b to a
   listener that never answers; then SIGHUP: the agent reads the cache again. */
static void s_cache_dead(int silent_port)
{
    char path[800];
    snprintf(path, sizeof(path), "%s/servers.cache.json", cf_itest_real_dir("ag-c1"));
    json_t *j = json_load_file(path, 0, NULL);
    assert_non_null(j);
    json_t *list = json_object_get(j, "servers");
    assert_true(json_array_size(list) == 2);
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        int b = strcmp(json_string_value(json_object_get(e, "alias")), "srv-b") == 0;
        assert_int_equal(json_object_set_new(e, "port", json_integer(b ? silent_port : s->a.port)),
                         0);
    }
    assert_int_equal(json_dump_file(j, path, JSON_COMPACT), 0);
    json_decref(j);
    assert_int_equal(kill(s_agent, SIGHUP), 0);
    s_log_t reloaded = {"reload=done", 1}, failed = {"round=failed", 1};
    assert_true(cf_test_wait_until(s_log_has, &reloaded, 10000));
    assert_true(cf_test_wait_until(s_log_has, &failed, 20000));
}

/* No server answers (srv-a refuses the connection, srv-b's call times out): rolled back,
   reported failed through the broker with the servers tried, srv-b (the server in use
   since the previous test) first. */
static void test_all_down_rolls_back(void **state)
{
    (void) state;
    assert_true(s_agent > 0);
    char old[65], id[33], out[CF_ITEST_FLEET_BODY], path[200];
    snprintf(old, sizeof(old), "%s", cf_itest_real_fpr("ag-c1"));
    int port = s->a.port, fd = -1;
    assert_true(cf_itest_fleet_port_closed(&port));
    s_cache_dead(s_silent(&fd));
    s_job(id);
    s_job_t w = {id, "counts/failed"};
    assert_true(cf_test_wait_until(s_counted, &w, 40000));
    close(fd);
    assert_string_equal(cf_itest_real_fpr("ag-c1"), old);
    s_log_t hung = {"check=no-answer server=srv-b .*timed out", 1},
            refused = {"check=no-answer server=srv-a", 2};
    assert_true(s_log_has(&hung));
    assert_true(s_log_has(&refused)); /* the first test's, and this one's */
    assert_int_equal(cf_test_sh("cd '%s' && ! ls | grep -q -e '[.]prev$' -e '[.]new$'",
                                cf_itest_real_dir("ag-c1")),
                     0);
    snprintf(path, sizeof(path), "/api/v1/jobs/%s/agents?state=failed", id);
    assert_int_equal(cf_itest_fleet_get(&s->b, path, out), 200);
    json_t *j = cf_itest_fleet_json(out);
    const char *reason = json_string_value(
        json_object_get(json_array_get(json_object_get(j, "agents"), 0), "reason"));
    assert_non_null(reason);
    if (!strstr(reason, "failed the handshake check") || !strstr(reason, "no server answered") ||
        !strstr(reason, "tried srv-b, srv-a") || !strstr(reason, "previous one is kept"))
        fail_msg("reason: %s", reason);
    json_decref(j);
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
        cmocka_unit_test(test_current_down_other_takes),
        cmocka_unit_test(test_all_down_rolls_back),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
