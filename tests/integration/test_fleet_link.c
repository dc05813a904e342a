/*  test_fleet_link - the fleet core's connections against a bare CURVE ROUTER playing broker
    and server: off line and back, a key the broker learns late, failover to the next
    broker, a thousand DEALERs in one thread, HELLO again when it reached no server  */
#include "cf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cf_fleet.h"
#include "cf_itest.h"
#include "cf_itest_agents.h"
#include "cf_mem.h"

/* Off line: the link closes; back on line: HELLO again, and the job sent then is done. */
static void test_offline_online(void **state)
{
    (void) state;
    cf_itest_agents_t *fx = cf_itest_agents_start(2, NULL, NULL);
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_HELLO, NULL, NULL, 2), 2);
    assert_int_equal(cf_fleet_set_online(fx->fleet, 0, 0), CF_OK);
    cf_fleet_agent_info_t info;
    assert_int_equal(cf_fleet_agent_info(fx->fleet, 0, &info), CF_OK);
    assert_false(info.online || info.link_up);
    char job_id[CF_MSG_JOB_ID_HEX + 1] = "";
    size_t len = 0;
    char *job =
        cf_itest_agents_job(fx, 0, CF_JOB_TYPE_RECHECK, NULL, time(NULL), 600, job_id, NULL, &len);
    /* the ROUTER drops its peer once the connection is gone: the broker's "offline" */
    /* (until it does, the sends queue up and may meet the high-water mark: TOOBIG) */
    long deadline = cf_itest_zap_now_ms() + CF_ITEST_AGENTS_WAIT_MS;
    cf_err_t sent = CF_OK;
    while ((sent = cf_itest_agents_send_job(fx, 0, job_id, job, len)) != CF_ERR_NOTFOUND &&
           cf_itest_zap_now_ms() < deadline)
        cf_itest_agents_pump(fx);
    assert_int_equal(sent, CF_ERR_NOTFOUND);

    assert_int_equal(cf_fleet_set_online(fx->fleet, CF_FLEET_ALL, 1), CF_OK);
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_HELLO, "sim-0", NULL, 2), 2);
    assert_int_equal(cf_itest_agents_send_job(fx, 0, job_id, job, len), CF_OK);
    cf_itest_agents_all_acked(fx, job_id, 1);
    assert_int_equal(cf_fleet_agent_info(fx->fleet, 0, &info), CF_OK);
    assert_int_equal(info.hellos, 2);
    assert_int_equal(info.installed, 1);
    cf_fleet_stats_t st;
    assert_int_equal(cf_fleet_stats(fx->fleet, &st), CF_OK);
    assert_int_equal(st.connects, 3);
    assert_int_equal(st.disconnects, 1);
    assert_int_equal(cf_itest_agents_count(fx, CF_MSG_HELLO, "sim-1", NULL), 1);
    cf_mem_free(job);
    cf_itest_agents_stop(&fx);
}

/* A key that reaches the broker's allow list a moment after the agent connects: the refused
   handshake (which libzmq never retries) is followed by a fresh link to the same broker
   within seconds, not after the failover period of 30 s, and the agent stays with it. */
static void test_late_key(void **state)
{
    (void) state;
    cf_itest_agents_t *fx = cf_itest_agents_start(1, NULL, NULL);
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_HELLO, NULL, NULL, 1), 1);
    assert_int_equal(cf_fleet_set_online(fx->fleet, 0, 0), CF_OK);
    char id[CF_MSG_AGENT_MAX + 1];
    unsigned char pub[CF_CURVE_KEY_LEN];
    assert_int_equal(cf_fleet_identity(fx->fleet, 0, id, pub), CF_OK);
    assert_int_equal(cf_zap_remove(fx->zap->zap, pub), CF_OK);
    long t0 = cf_itest_zap_now_ms();
    assert_int_equal(cf_fleet_set_online(fx->fleet, 0, 1), CF_OK);
    /* refused for a while: no HELLO comes */
    while (cf_itest_zap_now_ms() < t0 + 300)
        cf_itest_agents_pump(fx);
    assert_int_equal(cf_itest_agents_count(fx, CF_MSG_HELLO, id, NULL), 1);
    assert_int_equal(cf_zap_put(fx->zap->zap, pub, CF_ALLOW_AGENT, id, NULL), CF_OK);
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_HELLO, id, NULL, 2), 2);
    long took = cf_itest_zap_now_ms() - t0;
    print_message("refused link up again after %ld ms\n", took);
    assert_true(took < CF_FLEET_FAILOVER_MS / 2); /* the soonest a failover could be */
    cf_fleet_stats_t st;
    assert_int_equal(cf_fleet_stats(fx->fleet, &st), CF_OK);
    assert_true(st.reopens >= 1);
    assert_int_equal(st.failovers, 0);
    cf_itest_agents_stop(&fx);
}

/* The first broker of the list never answers: after the failover time the agents move to
   the next one and say HELLO there. */
static void test_failover(void **state)
{
    (void) state;
    char dead[64];
    snprintf(dead, sizeof(dead), "tcp://127.0.0.1:%d", cf_itest_free_port());
    enum { FAILOVER = 2000 }; /* a link not up within 1..2 s moves on */
    cf_fleet_cfg_t cfg = {.failover_ms = FAILOVER};
    long t0 = cf_itest_zap_now_ms(); /* every link opens after this */
    cf_itest_agents_t *fx = cf_itest_agents_start(4, &cfg, dead);
    /* agents 0 and 2 start on the dead broker, 1 and 3 on the live one */
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_HELLO, NULL, NULL, 4), 4);
    cf_fleet_agent_info_t info;
    long last = 0; /* when the fixture read the HELLO of the slowest agent */
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(cf_fleet_agent_info(fx->fleet, i, &info), CF_OK);
        assert_int_equal(info.broker, 1);
        assert_true(info.link_up);
        const cf_itest_agents_ev_t *h = cf_itest_agents_nth(fx, CF_MSG_HELLO, info.id, NULL, 0);
        assert_non_null(h);
        if (i % 2 == 0) /* no failover sooner than half the period */
            assert_true(h->at_ms - t0 >= FAILOVER / 2);
        last = h->at_ms - t0 > last ? h->at_ms - t0 : last;
    }
    cf_fleet_stats_t st;
    assert_int_equal(cf_fleet_stats(fx->fleet, &st), CF_OK);
    assert_true(st.failovers >= 2 && st.connects >= 4);
    /* a link gets half the period at least to come up, so a move too many costs an agent
       two moves (it ends on the live broker), a full period: every HELLO read within one
       period proves the exact counts. Only a machine too busy to bring four loopback links
       up in that long is spared them. */
    if (last < FAILOVER) {
        assert_int_equal(st.failovers, 2);
        assert_int_equal(st.connects, 4);
    } else {
        print_message("HELLOs read %ld ms after the start: failovers not counted\n", last);
    }
    cf_itest_agents_stop(&fx);
}

/* A thousand DEALERs in one thread (CF_TEST_FLEET_AGENTS=N for up to 6000: this process
   also holds the broker's end, three descriptors per agent): one job each, every report
   acked. The times are printed, not asserted. */
static void test_thousand_agents(void **state)
{
    (void) state;
    const char *env = getenv("CF_TEST_FLEET_AGENTS");
    size_t n = env ? (size_t) strtoul(env, NULL, 10) : 1000;
    assert_true(n >= 1 && n <= 6000);
    long t0 = cf_itest_zap_now_ms();
    cf_itest_agents_t *fx = cf_itest_agents_start(n, NULL, NULL);
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_HELLO, NULL, NULL, n), n);
    long t1 = cf_itest_zap_now_ms();
    char job_id[CF_MSG_JOB_ID_HEX + 1] = "";
    char **jobs = cf_mem_calloc(n, sizeof(*jobs));
    size_t *lens = cf_mem_calloc(n, sizeof(*lens));
    assert_true(jobs && lens);
    for (size_t i = 0; i < n; i++) /* one job, one copy per agent, as a server fans out */
        jobs[i] = cf_itest_agents_job(fx, i, CF_JOB_TYPE_RECHECK, NULL, time(NULL), 600, job_id,
                                      NULL, &lens[i]);
    long t2 = cf_itest_zap_now_ms();
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(cf_itest_agents_send_job(fx, i, job_id, jobs[i], lens[i]), CF_OK);
        cf_mem_free(jobs[i]);
        cf_itest_agents_pump(fx);
    }
    cf_itest_agents_all_acked(fx, job_id, n);
    long t3 = cf_itest_zap_now_ms();
    printf("fleet: %zu agents connected (HELLO) in %ld ms; one job to all, every report "
           "acked, in %ld ms (signing %ld ms before)\n",
           n, t1 - t0, t3 - t2, t2 - t1);
    cf_fleet_stats_t st;
    assert_int_equal(cf_fleet_stats(fx->fleet, &st), CF_OK);
    assert_int_equal(st.installed, n);
    assert_int_equal(st.acks_report, n);
    assert_int_equal(st.reports, n); /* and the resends of those slower than their back-off */
    assert_true(cf_itest_agents_count(fx, CF_MSG_REPORT, NULL, job_id) >= n);
    cf_mem_free(jobs);
    cf_mem_free(lens);
    cf_itest_agents_stop(&fx);
}

/* A HELLO that reached no server (the broker answers ERROR internal without a job: it has
   just started and the servers' links are not back yet) is said again after a back-off;
   an agent that got no such answer says nothing more. */
static void test_hello_again(void **state)
{
    (void) state;
    cf_fleet_cfg_t cfg = {.resend_min_ms = 200, .resend_max_ms = 400};
    cf_itest_agents_t *fx = cf_itest_agents_start(2, &cfg, NULL);
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_HELLO, NULL, NULL, 2), 2);
    cf_msg_t e;
    cf_msg_init(&e, CF_MSG_ERROR);
    e.error = CF_MSG_ERR_INTERNAL;
    snprintf(e.agent, sizeof(e.agent), "sim-0");
    snprintf(e.text, sizeof(e.text), "no server reachable; send again later");
    for (size_t n = 2; n <= 3; n++) {
        assert_int_equal(cf_itest_agents_send(fx, 0, &e), CF_OK);
        assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_HELLO, "sim-0", NULL, n), n);
    }
    assert_int_equal(cf_itest_agents_count(fx, CF_MSG_HELLO, "sim-1", NULL), 1);
    cf_fleet_agent_info_t info;
    assert_int_equal(cf_fleet_agent_info(fx->fleet, 0, &info), CF_OK);
    assert_int_equal(info.hellos, 3);
    cf_msg_clear(&e);
    cf_itest_agents_stop(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_offline_online, cf_itest_agents_teardown),
        cmocka_unit_test_teardown(test_late_key, cf_itest_agents_teardown),
        cmocka_unit_test_teardown(test_failover, cf_itest_agents_teardown),
        cmocka_unit_test_teardown(test_thousand_agents, cf_itest_agents_teardown),
        cmocka_unit_test_teardown(test_hello_again, cf_itest_agents_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
