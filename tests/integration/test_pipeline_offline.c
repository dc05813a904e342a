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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offline_agents),
    };
    return cmocka_run_group_tests(tests, s_setup, cf_itest_pipe_teardown);
}
