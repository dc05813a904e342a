/*  test_fleet_resend - an agent's first resend waits its learned round-trip timeout: a slow
    ACK is waited for, a lost REPORT is still resent, a reconnect resends at once; REPORTs
    held back and released (hold_reports)  */
#include "cf_test.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cf_fleet.h"
#include "cf_itest.h"
#include "cf_itest_agents.h"
#include "cf_mem.h"

enum {
    MIN_MS = 100,   /* resend_min_ms: with nothing learned the first resend is in [50, 100] ms */
    SLOW1_MS = 600, /* the first job's ACK comes this late (the agent learns it) */
    SLOW2_MS = 300  /* a later job's ACK: later than MIN_MS, sooner than what was learned */
};

/* The server is slow: pump (read, count, never ACK) for ms. Not a fixed sleep: the delay
   is the scenario (a busy pipeline), and the fixture keeps reading meanwhile. */
static void s_pump_for(cf_itest_agents_t *fx, long ms)
{
    long until = cf_itest_zap_now_ms() + ms;
    while (cf_itest_zap_now_ms() < until)
        cf_itest_agents_pump(fx);
}

/* ACK agent 0's REPORT of job_id by hand and wait until the fleet has it. */
static void s_ack_report(cf_itest_agents_t *fx, const char *job_id)
{
    cf_msg_t ack;
    cf_msg_init(&ack, CF_MSG_ACK);
    snprintf(ack.agent, sizeof(ack.agent), "%s", cf_itest_agents_id(fx, 0));
    snprintf(ack.job_id, sizeof(ack.job_id), "%s", job_id);
    ack.ack_of = CF_MSG_REPORT;
    assert_int_equal(cf_itest_agents_send(fx, 0, &ack), CF_OK);
    cf_itest_agents_all_acked(fx, job_id, 1);
}

/* A recheck job to agent 0; its first REPORT read. */
static void s_job(cf_itest_agents_t *fx, char id[CF_MSG_JOB_ID_HEX + 1])
{
    size_t len = 0;
    id[0] = '\0';
    char *job =
        cf_itest_agents_job(fx, 0, CF_JOB_TYPE_RECHECK, NULL, time(NULL), 600, id, NULL, &len);
    assert_int_equal(cf_itest_agents_send_job(fx, 0, id, job, len), CF_OK);
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_REPORT, NULL, id, 1), 1);
    cf_mem_free(job);
}

/* Usage: the first job's ACK is slow and, with nothing learned, the REPORT is resent; the
   agent learns the round trip. The next job's ACK is slow too, but sooner than the learned
   timeout: no resend. The third job's REPORT is lost (never ACKed): it is resent, and the
   ACK of the resend ends it. */
static void test_usage(void **state)
{
    (void) state;
    cf_fleet_cfg_t cfg = {.resend_min_ms = MIN_MS, .resend_max_ms = 60000};
    cf_itest_agents_t *fx = cf_itest_agents_start(1, &cfg, NULL);
    fx->auto_ack = 0;
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_HELLO, NULL, NULL, 1), 1);
    cf_fleet_agent_info_t info;
    assert_int_equal(cf_fleet_agent_info(fx->fleet, 0, &info), CF_OK);
    assert_int_equal(info.srtt_ms, 0);
    assert_int_equal(info.first_resend_ms, MIN_MS);

    char id1[CF_MSG_JOB_ID_HEX + 1], id2[CF_MSG_JOB_ID_HEX + 1], id3[CF_MSG_JOB_ID_HEX + 1];
    s_job(fx, id1);
    s_pump_for(fx, SLOW1_MS);
    /* nothing learned yet: the same slowness brought resends (first one by 100 ms) */
    assert_true(cf_itest_agents_count(fx, CF_MSG_REPORT, NULL, id1) >= 2);
    s_ack_report(fx, id1);
    /* the round trip, from the first REPORT to its ACK, is at least SLOW1_MS: the first
       resend now comes no sooner than b/2 = srtt + 4 x srtt/2 >= 3 x SLOW1_MS */
    assert_int_equal(cf_fleet_agent_info(fx->fleet, 0, &info), CF_OK);
    assert_true(info.srtt_ms >= SLOW1_MS);
    assert_true(info.first_resend_ms / 2 >= 3 * SLOW1_MS);

    /* a slow ACK, slower than the minimum back-off: waited for, not answered by a resend */
    cf_fleet_stats_t before, after;
    assert_int_equal(cf_fleet_stats(fx->fleet, &before), CF_OK);
    s_job(fx, id2);
    s_pump_for(fx, SLOW2_MS);
    assert_int_equal(cf_itest_agents_count(fx, CF_MSG_REPORT, NULL, id2), 1);
    s_ack_report(fx, id2);
    assert_int_equal(cf_fleet_stats(fx->fleet, &after), CF_OK);
    assert_int_equal(after.report_resends, before.report_resends);
    assert_int_equal(after.acks_report, before.acks_report + 1);

    /* a lost REPORT (this server never answers it): resent after the learned timeout */
    s_job(fx, id3);
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_REPORT, NULL, id3, 2), 2);
    s_ack_report(fx, id3);
    assert_int_equal(cf_fleet_agent_info(fx->fleet, 0, &info), CF_OK);
    assert_int_equal(info.waiting, 0);
    assert_int_equal(cf_fleet_stats(fx->fleet, &after), CF_OK);
    assert_true(after.report_resends >= before.report_resends + 1);
    cf_itest_agents_stop(&fx);
}

/* A reconnect resends what waits for its ACK soon, whatever was learned (what was in
   flight may be gone with the old connection), and the outage is no round-trip sample. */
static void test_reconnect(void **state)
{
    (void) state;
    cf_fleet_cfg_t cfg = {.resend_min_ms = MIN_MS, .resend_max_ms = 60000};
    cf_itest_agents_t *fx = cf_itest_agents_start(1, &cfg, NULL);
    fx->auto_ack = 0;
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_HELLO, NULL, NULL, 1), 1);
    char id1[CF_MSG_JOB_ID_HEX + 1], id2[CF_MSG_JOB_ID_HEX + 1];
    s_job(fx, id1);
    s_pump_for(fx, SLOW1_MS);
    s_ack_report(fx, id1);
    cf_fleet_agent_info_t info;
    assert_int_equal(cf_fleet_agent_info(fx->fleet, 0, &info), CF_OK);
    uint32_t learned = info.srtt_ms;
    assert_true(learned >= SLOW1_MS);

    /* the REPORT of job 2 is lost with its connection; the agent comes back: it says HELLO
       and resends the REPORT after the minimum back-off, not the learned timeout */
    s_job(fx, id2);
    assert_int_equal(cf_fleet_set_online(fx->fleet, 0, 0), CF_OK);
    assert_int_equal(cf_fleet_set_online(fx->fleet, 0, 1), CF_OK);
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_HELLO, NULL, NULL, 2), 2);
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_REPORT, NULL, id2, 2), 2);
    const cf_itest_agents_ev_t *hello2 = cf_itest_agents_nth(fx, CF_MSG_HELLO, NULL, NULL, 1);
    assert_true(hello2 < cf_itest_agents_nth(fx, CF_MSG_REPORT, NULL, id2, 1));
    s_ack_report(fx, id2);
    /* no sample from an exchange that spanned a reconnect */
    assert_int_equal(cf_fleet_agent_info(fx->fleet, 0, &info), CF_OK);
    assert_int_equal(info.srtt_ms, learned);
    cf_itest_agents_stop(&fx);
}

/* Bad input: a negative resend bound is refused. */
static void test_bad_config(void **state)
{
    (void) state;
    cf_itest_agents_t *fx = cf_itest_agents_start(1, NULL, NULL);
    cf_fleet_cfg_t cfg = {.count = 1, .ca = cf_ca_cert(fx->ca), .resend_min_ms = -1};
    cf_curve_broker_t broker;
    memset(&broker, 7, sizeof(broker));
    snprintf(broker.endpoint, sizeof(broker.endpoint), "tcp://127.0.0.1:9");
    cfg.brokers = &broker;
    cfg.n_brokers = 1;
    cf_fleet_t *f = NULL;
    assert_int_equal(cf_fleet_new(&cfg, &f, NULL), CF_ERR_INVALID);
    assert_null(f);
    cf_itest_agents_stop(&fx);
}

/* The fleet's thread is busy (agent 1's check-in hook, 1.5 s) past agent 0's resend time
   (0.5..1 s after its REPORT) while the ACK of agent 0's REPORT arrives: the timer reads
   the ACK waiting in the socket before it resends, so no REPORT goes twice. */
typedef struct {
    int entered; /* the hook runs (atomic) */
} s_busy_t;

static void s_on_checkin_busy(void *ctx, size_t agent, const char *job_id)
{
    (void) job_id;
    if (agent != 1)
        return;
    s_busy_t *b = ctx;
    __atomic_store_n(&b->entered, 1, __ATOMIC_SEQ_CST);
    struct timespec ts = {1, 500 * 1000000L}; /* the scenario: a thread busy 1.5 s */
    nanosleep(&ts, NULL);
}

static void test_ack_read_before_resend(void **state)
{
    (void) state;
    s_busy_t busy = {0};
    cf_fleet_cfg_t cfg = {.resend_min_ms = 1000, /* the hook starts well before the resend */
                          .resend_max_ms = 60000,
                          .on_checkin = s_on_checkin_busy,
                          .hook_ctx = &busy};
    cf_itest_agents_t *fx = cf_itest_agents_start(2, &cfg, NULL);
    fx->auto_ack = 0;
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_HELLO, NULL, NULL, 2), 2);
    char id[CF_MSG_JOB_ID_HEX + 1];
    s_job(fx, id); /* agent 0's REPORT: resent in [500, 1000] ms unless acknowledged */
    cf_msg_t m;
    cf_msg_init(&m, CF_MSG_CHECKIN);
    snprintf(m.agent, sizeof(m.agent), "%s", cf_itest_agents_id(fx, 1));
    snprintf(m.job_id, sizeof(m.job_id), "%s", id);
    assert_int_equal(cf_itest_agents_send(fx, 1, &m), CF_OK);
    long deadline = cf_itest_zap_now_ms() + CF_ITEST_AGENTS_WAIT_MS;
    while (!__atomic_load_n(&busy.entered, __ATOMIC_SEQ_CST) && cf_itest_zap_now_ms() < deadline)
        cf_itest_agents_pump(fx);
    assert_true(__atomic_load_n(&busy.entered, __ATOMIC_SEQ_CST));
    /* the scenario holds: no resend yet (the hook began before the first could be due) */
    assert_int_equal(cf_itest_agents_count(fx, CF_MSG_REPORT, NULL, id), 1);
    s_ack_report(fx, id); /* arrives while the thread sleeps; read after the hook */
    s_pump_for(fx, 300);
    assert_int_equal(cf_itest_agents_count(fx, CF_MSG_REPORT, NULL, id), 1);
    cf_fleet_stats_t st;
    assert_int_equal(cf_fleet_stats(fx->fleet, &st), CF_OK);
    assert_int_equal(st.report_resends, 0);
    cf_itest_agents_stop(&fx);
}

/* hold_reports (a benchmark's REPORTs-alone phase): a job finished at once sends its
   RECEIPT and keeps its REPORT, its outcome included, until cf_fleet_release; a copy of
   the job meanwhile brings no REPORT either. */
static void test_hold_release(void **state)
{
    (void) state;
    cf_itest_agents_t *fx = cf_itest_agents_start(2, NULL, NULL);
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_HELLO, NULL, NULL, 2), 2);
    char id[2][CF_MSG_JOB_ID_HEX + 1] = {""};
    char *job[2] = {NULL};
    size_t len[2] = {0};
    cf_fleet_fault_t fault = {.hold_reports = 1};
    for (size_t a = 0; a < 2; a++) {
        if (a == 1) { /* the second fails: its reason waits with it */
            fault.fail_pct = 100;
            snprintf(fault.fail_reason, sizeof(fault.fail_reason), "disk full");
        }
        assert_int_equal(cf_fleet_set_fault(fx->fleet, &fault), CF_OK);
        job[a] = cf_itest_agents_job(fx, a, CF_JOB_TYPE_RECHECK, NULL, time(NULL), 600, id[a], NULL,
                                     &len[a]);
        assert_int_equal(cf_itest_agents_send_job(fx, a, id[a], job[a], len[a]), CF_OK);
        assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_RECEIPT, NULL, id[a], 1), 1);
    }
    assert_int_equal(cf_itest_agents_send_job(fx, 0, id[0], job[0], len[0]), CF_OK); /* a copy */
    s_pump_for(fx, 300);
    for (size_t a = 0; a < 2; a++)
        assert_int_equal(cf_itest_agents_count(fx, CF_MSG_REPORT, NULL, id[a]), 0);
    cf_fleet_stats_t st;
    assert_int_equal(cf_fleet_stats(fx->fleet, &st), CF_OK);
    assert_int_equal(st.reports, 0);
    memset(&fault, 0, sizeof(fault));
    assert_int_equal(cf_fleet_set_fault(fx->fleet, &fault), CF_OK);
    size_t n = 0;
    assert_int_equal(cf_fleet_release(fx->fleet, &n), CF_OK);
    assert_int_equal(n, 2);
    for (size_t a = 0; a < 2; a++)
        cf_itest_agents_all_acked(fx, id[a], 1);
    const cf_itest_agents_ev_t *r0 = cf_itest_agents_nth(fx, CF_MSG_REPORT, NULL, id[0], 0);
    const cf_itest_agents_ev_t *r1 = cf_itest_agents_nth(fx, CF_MSG_REPORT, NULL, id[1], 0);
    assert_int_equal(r0->outcome, CF_MSG_INSTALLED);
    assert_int_equal(r1->outcome, CF_MSG_FAILED);
    assert_string_equal(r1->text, "disk full");
    assert_int_equal(cf_fleet_release(fx->fleet, &n), CF_OK); /* nothing held any more */
    assert_int_equal(n, 0);
    assert_int_equal(cf_fleet_release(NULL, &n), CF_ERR_INVALID);
    for (size_t a = 0; a < 2; a++)
        cf_mem_free(job[a]);
    cf_itest_agents_stop(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_usage, cf_itest_agents_teardown),
        cmocka_unit_test_teardown(test_reconnect, cf_itest_agents_teardown),
        cmocka_unit_test_teardown(test_bad_config, cf_itest_agents_teardown),
        cmocka_unit_test_teardown(test_hold_release, cf_itest_agents_teardown),
        cmocka_unit_test_teardown(test_ack_read_before_resend, cf_itest_agents_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
