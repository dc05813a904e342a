/*  test_pipeline_offline - agents that are not there: one off line when a job is made gets
    it when it comes back (its HELLO brings its open jobs), one that never comes back ends
    expired once the sweeper has run; a revoked agent (POST /agents/:id/revoke) is cut off
    at the broker and gets no further jobs while the rest of the fleet completes one  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_db_job.h"
#include "cf_itest_pipeline.h"

#define S_AGENTS  12
#define S_BACK    3 /* off line at the job, comes back */
#define S_GONE    4 /* off line at the job, never comes back while it lives */
#define S_REVOKED 7 /* revoked */
#define S_MOVED   9 /* its record names the broker it is not on */

static cf_itest_pipe_t *const s = &cf_itest_pipe;

static int s_setup(void **state)
{
    (void) state;
    return cf_itest_pipe_setup("test_pipeline_offline", 2, S_AGENTS);
}

static cf_job_state_t s_state(const char *id, size_t agent)
{
    cf_job_state_t states[S_AGENTS];
    long n[CF_JOB_STATE_COUNT];
    (void) cf_itest_pipe_states(&s->fx->b, id, 100, states, n);
    return states[agent];
}

static void s_info(size_t i, cf_fleet_agent_info_t *info)
{
    assert_int_equal(cf_fleet_agent_info(s->fleet, i, info), CF_OK);
}

/* HELLOs of agent i the servers have logged ("msg=HELLO agent=<id> ... sent=N"): all of
   them into *all, those that sent no job into *none. */
static void s_hellos(size_t i, size_t *all, size_t *none)
{
    char key[96];
    snprintf(key, sizeof(key), "msg=\"HELLO\" agent=%s ", cf_itest_pipe_agent(i));
    *all = *none = 0;
    const cf_itest_server_t *srv[] = {&s->fx->a, &s->fx->b};
    for (size_t k = 0; k < 2; k++) {
        char *log = cf_test_read_file(srv[k]->log, NULL);
        for (char *p = strstr(log, key); p; p = strstr(p + 1, key)) {
            char *end = strchr(p, '\n');
            size_t len = end ? (size_t) (end - p) : strlen(p);
            (*all)++;
            *none += len >= 7 && strncmp(p + len - 7, " sent=0", 7) == 0;
        }
        free(log);
    }
}

typedef struct {
    size_t agent; /* whose */
    size_t want;  /* HELLO lines */
} s_hello_wait_t;

static int s_hello_logged(void *arg)
{
    const s_hello_wait_t *w = arg;
    size_t all = 0, none = 0;
    s_hellos(w->agent, &all, &none);
    return all >= w->want;
}

static void test_offline_agents(void **state)
{
    (void) state;
    assert_int_equal(cf_fleet_set_online(s->fleet, S_BACK, 0), CF_OK);
    assert_int_equal(cf_fleet_set_online(s->fleet, S_GONE, 0), CF_OK);
    assert_true(cf_itest_pipe_metric_reach("cf_broker_connected_agents", S_AGENTS - 2));
    /* a long job for pc-0..pc-3 and a short one for pc-0, pc-1 and pc-4 */
    char id[33], brief[33];
    assert_int_equal(
        cf_itest_pipe_job(&s->fx->a,
                          "{\"type\":\"set_favorite\",\"favorite\":\"srv-a\",\"agents\":"
                          "[\"pc-0\",\"pc-1\",\"pc-2\",\"pc-3\"],\"ttl\":3600}",
                          id),
        4);
    assert_int_equal(cf_itest_pipe_job(&s->fx->b,
                                       "{\"type\":\"recheck\",\"agents\":[\"pc-0\",\"pc-1\","
                                       "\"pc-4\"],\"ttl\":6}",
                                       brief),
                     3);
    assert_int_equal(cf_fleet_wait_acked(s->fleet, id, 3, CF_ITEST_PIPE_WAIT), CF_OK);
    assert_int_equal(cf_fleet_wait_acked(s->fleet, brief, 2, CF_ITEST_PIPE_WAIT), CF_OK);
    assert_int_equal(s_state(id, S_BACK), CF_JOB_PENDING);
    assert_int_equal(cf_itest_pipe_check_counts(&s->fx->a, id, 4), 0); /* still open */
    /* pc-3 comes back: its HELLO brings the job */
    assert_int_equal(cf_fleet_set_online(s->fleet, S_BACK, 1), CF_OK);
    assert_int_equal(cf_fleet_wait_acked(s->fleet, id, 4, CF_ITEST_PIPE_WAIT), CF_OK);
    assert_true(cf_itest_pipe_wait_done(id, CF_ITEST_PIPE_WAIT));
    assert_int_equal(s_state(id, S_BACK), CF_JOB_INSTALLED);
    assert_int_not_equal(cf_itest_pipe_check_counts(&s->fx->a, id, 4), 0);
    cf_fleet_agent_info_t info;
    s_info(S_BACK, &info);
    assert_string_equal(info.favorite, "srv-a");
    assert_int_equal(info.jobs, 1);
    /* pc-4 never came: the sweeper (every second on both servers) expires it after 6 s */
    assert_true(cf_itest_pipe_wait_done(brief, CF_ITEST_PIPE_WAIT));
    assert_int_equal(s_state(brief, S_GONE), CF_JOB_EXPIRED);
    assert_int_equal(s_state(brief, 0), CF_JOB_INSTALLED);
    assert_int_not_equal(cf_itest_pipe_check_counts(&s->fx->b, brief, 3), 0);
    cf_db_job_t j;
    assert_int_equal(cf_db_job_get(s->fx->store, brief, &j), CF_OK);
    assert_int_equal(j.n[CF_JOB_EXPIRED], 1);
    assert_int_equal(j.n[CF_JOB_INSTALLED], 2);
    /* when it does come back, its HELLO hands it nothing: the job is over */
    size_t before = 0, none = 0;
    s_hellos(S_GONE, &before, &none);
    assert_int_equal(cf_fleet_set_online(s->fleet, S_GONE, 1), CF_OK);
    s_hello_wait_t w = {S_GONE, before + 1};
    assert_true(cf_test_wait_until(s_hello_logged, &w, CF_ITEST_PIPE_WAIT));
    size_t all = 0;
    s_hellos(S_GONE, &all, &none);
    assert_int_equal(none, all);
    s_info(S_GONE, &info);
    assert_int_equal(info.jobs, 0);
    assert_true(cf_itest_pipe_metric_reach("cf_broker_connected_agents", S_AGENTS));
}

/* An agent whose record names the other broker (its HELLO at the broker it is on was never
   recorded): the job goes where the record says, that broker answers "offline", and the
   link's retry, a few seconds later, goes through every broker and reaches it. Sent only
   where the record said, the retries (5 s, 30 s, 2 min) would all be answered "offline". */
static void test_stale_broker_retried(void **state)
{
    (void) state;
    /* every agent but the one test_revoked_agent revoked */
    assert_true(cf_itest_pipe_metric_reach("cf_broker_connected_agents", S_AGENTS - 1));
    cf_fleet_agent_info_t info;
    s_info(S_MOVED, &info);
    assert_true(info.link_up && info.broker < 2);
    char z85[CF_CURVE_Z85_LEN + 1];
    cf_curve_z85_encode(s->brokers[1 - info.broker].view.servers.pub, z85);
    assert_int_equal(cf_store_cmd(s->fx->store, NULL, "HSET cf:agent:{%s} broker %s",
                                  cf_itest_pipe_agent(S_MOVED), z85),
                     CF_OK);
    long offline = cf_itest_pipe_metric_sum("cf_broker_drops_total{reason=\"offline\"}");
    char id[33], body[200];
    snprintf(body, sizeof(body), "{\"type\":\"recheck\",\"agents\":[\"%s\"],\"ttl\":3600}",
             cf_itest_pipe_agent(S_MOVED));
    assert_int_equal(cf_itest_pipe_job(&s->fx->a, body, id), 1);
    assert_int_equal(cf_fleet_wait_acked(s->fleet, id, 1, 60000), CF_OK);
    assert_true(cf_itest_pipe_wait_done(id, CF_ITEST_PIPE_WAIT));
    assert_int_equal(s_state(id, S_MOVED), CF_JOB_INSTALLED);
    /* the first copy went to the broker the record named, which did not have it */
    assert_true(cf_itest_pipe_metric_sum("cf_broker_drops_total{reason=\"offline\"}") > offline);
}

/* Enroll agent i through the API with a one-use token, in push mode, with its fleet key. */
static void s_enroll(size_t i)
{
    char body[CF_ITEST_FLEET_BODY], req[512], z85[CF_CURVE_Z85_LEN + 1], id[CF_MSG_AGENT_MAX + 1];
    unsigned char pub[CF_CURVE_KEY_LEN];
    assert_int_equal(cf_itest_fleet_admin(&s->fx->a, "POST", "/api/v1/enroll-tokens",
                                          "{\"uses\":1,\"ttl\":600}", body),
                     201);
    json_t *j = cf_itest_fleet_json(body);
    assert_int_equal(cf_fleet_identity(s->fleet, i, id, pub), CF_OK);
    cf_curve_z85_encode(pub, z85);
    snprintf(req, sizeof(req),
             "{\"id\":\"%s\",\"curve\":\"%s\",\"csr\":null,\"token\":\"%s\",\"version\":\"e2e\","
             "\"protocol\":1}",
             id, z85, json_string_value(json_object_get(j, "token")));
    json_decref(j);
    int status =
        cf_itest_fleet_call(&s->fx->b, 0, NULL, 0, "POST", "/api/v1/agent/enroll", req, NULL, body);
    if (status != 200)
        fail_msg("enroll %s: %d %s", id, status, body);
    cf_itest_fleet_is(body, "id", id);
}

typedef struct {
    size_t agent; /* whose link */
    int up;       /* the state waited for */
} s_link_wait_t;

static int s_link_is(void *arg)
{
    const s_link_wait_t *w = arg;
    cf_fleet_agent_info_t info;
    return cf_fleet_agent_info(s->fleet, w->agent, &info) == CF_OK && info.link_up == w->up;
}

#define S_SHUT   "cf_broker_shut_total"
#define S_DENIED "cf_broker_zap_total{result=\"denied\",reason=\"unknown_key\"}"

/* Revoked through the API: the broker shuts its link and refuses its key from then on; a
   job to every agent leaves it out, and the others complete it. */
static void test_revoked_agent(void **state)
{
    (void) state;
    assert_true(cf_itest_pipe_metric_reach("cf_broker_connected_agents", S_AGENTS));
    s_enroll(S_REVOKED);
    long shut0 = cf_itest_pipe_metric_sum(S_SHUT), denied0 = cf_itest_pipe_metric_sum(S_DENIED);
    assert_true(shut0 >= 0 && denied0 >= 0);
    cf_fleet_agent_info_t info0, info;
    s_info(S_REVOKED, &info0);
    assert_true(info0.link_up);
    char body[CF_ITEST_FLEET_BODY], path[128];
    snprintf(path, sizeof(path), "/api/v1/agents/%s/revoke", cf_itest_pipe_agent(S_REVOKED));
    assert_int_equal(cf_itest_fleet_admin(&s->fx->a, "POST", path, NULL, body), 200);
    cf_itest_fleet_is(body, "key_removed", "true");
    /* its connection is shut, its next handshakes refused: it stays off the brokers */
    assert_true(cf_itest_pipe_metric_reach(S_SHUT, shut0 + 1));
    s_link_wait_t down = {S_REVOKED, 0};
    assert_true(cf_test_wait_until(s_link_is, &down, CF_ITEST_PIPE_WAIT));
    assert_true(cf_itest_pipe_metric_min(S_DENIED, denied0 + 1));
    assert_true(cf_itest_pipe_metric_reach("cf_broker_connected_agents", S_AGENTS - 1));
    /* a job to every agent: the revoked one is left out; the others complete it */
    char id[33], out[CF_ITEST_FLEET_BODY];
    assert_int_equal(cf_itest_fleet_admin(&s->fx->a, "POST", "/api/v1/jobs",
                                          "{\"type\":\"set_favorite\",\"favorite\":\"srv-b\","
                                          "\"all\":true,\"ttl\":3600}",
                                          out),
                     201);
    assert_int_equal(cf_itest_fleet_ji(out, "total"), S_AGENTS - 1);
    cf_itest_fleet_is(out, "unknown/0", cf_itest_pipe_agent(S_REVOKED));
    json_t *j = cf_itest_fleet_json(out);
    snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    assert_int_equal(cf_fleet_wait_acked(s->fleet, id, S_AGENTS - 1, CF_ITEST_PIPE_WAIT), CF_OK);
    assert_true(cf_itest_pipe_wait_done(id, CF_ITEST_PIPE_WAIT));
    assert_int_not_equal(cf_itest_pipe_check_counts(&s->fx->b, id, S_AGENTS - 1), 0);
    assert_int_equal(s_state(id, S_REVOKED), CF_JOB_STATE_COUNT); /* no entry */
    s_info(S_REVOKED, &info);
    assert_int_equal(info.jobs, info0.jobs);
    assert_false(info.link_up);
    assert_string_not_equal(info.favorite, "srv-b");
    s_info(0, &info);
    assert_string_equal(info.favorite, "srv-b");
    /* an explicit list naming only the revoked agent makes no job */
    snprintf(body, sizeof(body), "{\"type\":\"recheck\",\"agents\":[\"%s\"]}",
             cf_itest_pipe_agent(S_REVOKED));
    assert_int_not_equal(cf_itest_fleet_admin(&s->fx->a, "POST", "/api/v1/jobs", body, out), 201);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offline_agents),
        cmocka_unit_test(test_revoked_agent),
        cmocka_unit_test(test_stale_broker_retried),
    };
    return cmocka_run_group_tests(tests, s_setup, cf_itest_pipe_teardown);
}
