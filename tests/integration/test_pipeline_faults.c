/*  test_pipeline_faults - the job pipeline survives crashes: the cf-broker killed and started
    again (same keys and port) in the middle of a job, and one of two cf-servers killed while
    receipts and reports flow through it; every entry ends final and every agent holds its
    ACK  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cf_itest_pipeline.h"

#define S_AGENTS 40

static cf_itest_pipe_t *const s = &cf_itest_pipe;

static int s_setup(void **state)
{
    (void) state;
    /* no gathering: each loop turn's REPORTs go to the next server, so the frozen one of
       test_server_killed surely takes a share (with the default 5 ms, a job's REPORTs
       can all cross in one batch, to either server) */
    return cf_itest_pipe_setup_gather("test_pipeline_faults", 1, S_AGENTS, "0");
}

/* Wait until every agent holds the ACK of its REPORT for id; fails with the count. */
static void s_all_acked(const char *id, const char *what)
{
    if (cf_fleet_wait_acked(s->fleet, id, 0, CF_ITEST_PIPE_WAIT) == CF_OK)
        return;
    size_t acked = 0;
    assert_int_equal(cf_fleet_acked(s->fleet, id, &acked), CF_OK);
    fail_msg("%s: %zu of %d agents acked; see %s, %s and %s", what, acked, S_AGENTS, s->fx->a.log,
             s->fx->b.log, s->brokers[0].log);
}

/* The job is closed, every entry installed, the counts equal the entries. */
static void s_all_installed(const char *id)
{
    assert_true(cf_itest_pipe_wait_done(id, CF_ITEST_PIPE_WAIT));
    assert_int_not_equal(cf_itest_pipe_check_counts(&s->fx->a, id, S_AGENTS), 0);
    cf_job_state_t states[S_AGENTS];
    long n[CF_JOB_STATE_COUNT];
    assert_int_equal(cf_itest_pipe_states(&s->fx->a, id, 50, states, n), S_AGENTS);
    for (size_t i = 0; i < S_AGENTS; i++)
        if (states[i] != CF_JOB_INSTALLED)
            fail_msg("%s is %s", cf_itest_pipe_agent(i), cf_job_fsm_state_name(states[i]));
}

/* HELLOs the fleet has said so far. */
static long s_hellos(void)
{
    long n = 0;
    for (size_t i = 0; i < S_AGENTS; i++) {
        cf_fleet_agent_info_t info;
        assert_int_equal(cf_fleet_agent_info(s->fleet, i, &info), CF_OK);
        n += info.hellos;
    }
    return n;
}

/* Half of the fleet has done the job when the broker dies; the other half comes on line
   while it is down. After the restart every agent reconnects by itself, says HELLO, and
   gets what it lacks; those that were done get nothing twice. */
static void test_broker_restart(void **state)
{
    (void) state;
    for (size_t i = 1; i < S_AGENTS; i += 2)
        assert_int_equal(cf_fleet_set_online(s->fleet, i, 0), CF_OK);
    assert_true(cf_itest_pipe_metric_reach("cf_broker_connected_agents", S_AGENTS / 2));
    cf_fleet_stats_t st0, st;
    assert_int_equal(cf_fleet_stats(s->fleet, &st0), CF_OK);
    char id[33];
    assert_int_equal(cf_itest_pipe_job(&s->fx->a,
                                       "{\"type\":\"set_favorite\",\"favorite\":\"srv-b\","
                                       "\"all\":true,\"ttl\":3600}",
                                       id),
                     S_AGENTS);
    if (cf_fleet_wait_acked(s->fleet, id, S_AGENTS / 2, CF_ITEST_PIPE_WAIT) != CF_OK)
        fail_msg("the on-line half did not finish; see %s", s->fx->a.log);
    cf_itest_pipe_broker_kill(0);
    for (size_t i = 1; i < S_AGENTS; i += 2)
        assert_int_equal(cf_fleet_set_online(s->fleet, i, 1), CF_OK);
    cf_itest_pipe_broker_start(0);
    s_all_acked(id, "after the broker restart");
    s_all_installed(id);
    assert_int_equal(cf_fleet_stats(s->fleet, &st), CF_OK);
    assert_int_equal(st.jobs - st0.jobs, S_AGENTS); /* each agent got the job once */
    assert_int_equal(st.installed - st0.installed, S_AGENTS);
    assert_true(st.disconnects - st0.disconnects >= S_AGENTS / 2); /* the on-line half */
    for (size_t i = 0; i < S_AGENTS; i++) {
        cf_fleet_agent_info_t info;
        assert_int_equal(cf_fleet_agent_info(s->fleet, i, &info), CF_OK);
        assert_string_equal(info.favorite, "srv-b");
        assert_int_equal(info.waiting, 0);
    }
    assert_true(cf_itest_pipe_metric_reach("cf_broker_connected_agents", S_AGENTS));
}

/* srv-b is frozen (SIGSTOP) while a job runs: the broker goes on handing it part of the
   receipts and reports, which it never stores; then it is killed. The agents' resends
   reach srv-a: nothing is lost. */
static void test_server_killed(void **state)
{
    (void) state;
    cf_fleet_stats_t st0, st;
    assert_int_equal(cf_fleet_stats(s->fleet, &st0), CF_OK);
    long hellos0 = s_hellos();
    long reports0 =
        cf_itest_pipe_metric_sum("cf_broker_messages_in_total{side=\"agents\",type=\"REPORT\"}");
    assert_true(reports0 >= 0);
    assert_int_equal(kill(s->fx->b.pid, SIGSTOP), 0);
    char id[33];
    assert_int_equal(
        cf_itest_pipe_job(&s->fx->a, "{\"type\":\"recheck\",\"all\":true,\"ttl\":3600}", id),
        S_AGENTS);
    /* every first REPORT reached the broker, which passed part of them to the frozen srv-b */
    assert_true(cf_itest_pipe_metric_min(
        "cf_broker_messages_in_total{side=\"agents\",type=\"REPORT\"}", reports0 + S_AGENTS));
    cf_itest_server_stop(&s->fx->b, SIGKILL);
    s_all_acked(id, "after srv-b was killed");
    s_all_installed(id);
    assert_int_equal(cf_fleet_stats(s->fleet, &st), CF_OK);
    /* each agent got the job once, but for a HELLO said meanwhile: the server answers it
       with the agent's open jobs (test_broker_restart's agents that met a broker without
       servers say HELLO again after a back-off of up to 4 s, which may fall in this test) */
    long hellos = s_hellos() - hellos0;
    assert_true(st.jobs - st0.jobs >= S_AGENTS);
    if ((long) (st.jobs - st0.jobs) > S_AGENTS + hellos)
        fail_msg("%ld JOBs for %d agents and %ld HELLOs", (long) (st.jobs - st0.jobs), S_AGENTS,
                 hellos);
    /* what srv-b took was sent again */
    assert_true(st.receipt_resends + st.report_resends > st0.receipt_resends + st0.report_resends);
    /* and srv-b, started again, takes its share again */
    cf_itest_pipe_server_restart(&s->fx->b);
    assert_int_equal(
        cf_itest_pipe_job(&s->fx->b, "{\"type\":\"recheck\",\"all\":true,\"ttl\":3600}", id),
        S_AGENTS);
    s_all_acked(id, "after srv-b came back");
    s_all_installed(id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broker_restart),
        cmocka_unit_test(test_server_killed),
    };
    return cmocka_run_group_tests(tests, s_setup, cf_itest_pipe_teardown);
}
