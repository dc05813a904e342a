/*  test_fleet - the fleet core against a bare CURVE ROUTER playing broker and server: HELLO,
    receipt, report, ack, resends with back-off (test_fleet_link: the connections;
    test_fleet_refuse: the jobs an agent must refuse)  */
#include "cf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cf_fleet.h"
#include "cf_itest.h"
#include "cf_itest_agents.h"
#include "cf_mem.h"

static void test_usage(void **state)
{
    (void) state;
    cf_itest_agents_t *fx = cf_itest_agents_start(3, NULL, NULL);
    /* every agent connects and says HELLO with its protocol level */
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_HELLO, NULL, NULL, 3), 3);
    const cf_itest_agents_ev_t *hello = cf_itest_agents_nth(fx, CF_MSG_HELLO, "sim-1", NULL, 0);
    assert_non_null(hello);
    assert_int_equal(hello->proto, CF_JOB_PROTO);
    assert_non_null(strstr(hello->text, "certfleet-agent"));

    /* the server sends agent 1 a certificate; it answers RECEIPT, then REPORT installed */
    char job_id[CF_MSG_JOB_ID_HEX + 1] = "", fpr[CF_MSG_FPR_HEX + 1];
    size_t len = 0;
    char *job = cf_itest_agents_job(fx, 1, CF_JOB_TYPE_INSTALL_CERT, NULL, time(NULL), 3600, job_id,
                                    fpr, &len);
    assert_int_equal(cf_itest_agents_send_job(fx, 1, job_id, job, len), CF_OK);
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_REPORT, "sim-1", job_id, 1), 1);
    const cf_itest_agents_ev_t *receipt =
        cf_itest_agents_nth(fx, CF_MSG_RECEIPT, "sim-1", job_id, 0);
    const cf_itest_agents_ev_t *report = cf_itest_agents_nth(fx, CF_MSG_REPORT, "sim-1", job_id, 0);
    assert_non_null(receipt);
    assert_true(receipt < report); /* the receipt came first */
    assert_int_equal(report->outcome, CF_MSG_INSTALLED);
    assert_string_equal(report->fpr, fpr); /* the certificate now in use */
    assert_string_equal(report->text, "");

    /* the fixture acked both; the fleet sees the ACK without anyone pumping */
    assert_int_equal(cf_fleet_wait_acked(fx->fleet, job_id, 1, CF_ITEST_AGENTS_WAIT_MS), CF_OK);
    cf_fleet_agent_info_t info;
    assert_int_equal(cf_fleet_agent_info(fx->fleet, 1, &info), CF_OK);
    assert_string_equal(info.id, "sim-1");
    assert_string_equal(info.fpr, fpr);
    assert_true(info.online && info.link_up);
    assert_int_equal(info.installed, 1);
    assert_int_equal(info.waiting, 0); /* nothing left to resend */
    assert_int_equal(info.hellos, 1);
    cf_fleet_stats_t st;
    assert_int_equal(cf_fleet_stats(fx->fleet, &st), CF_OK);
    assert_int_equal(st.connects, 3);
    assert_int_equal(st.jobs, 1);
    assert_int_equal(st.receipts, 1);
    assert_int_equal(st.reports, 1);
    assert_int_equal(st.installed, 1);
    assert_int_equal(st.failed, 0);
    assert_int_equal(st.acks_report, 1);
    assert_int_equal(st.bad_msgs, 0);
    size_t acked = 9;
    assert_int_equal(cf_fleet_acked(fx->fleet, job_id, &acked), CF_OK);
    assert_int_equal(acked, 1);
    cf_mem_free(job);
    cf_itest_agents_stop(&fx);
}

/* Jobs of every other type: set_favorite remembers the alias, recheck reports the
   certificate in use, renew_csr without the HTTPS client fails with its reason. */
static void test_job_types(void **state)
{
    (void) state;
    cf_itest_agents_t *fx = cf_itest_agents_start(1, NULL, NULL);
    cf_job_type_t types[] = {CF_JOB_TYPE_SET_FAVORITE, CF_JOB_TYPE_RECHECK, CF_JOB_TYPE_RENEW_CSR};
    char ids[3][CF_MSG_JOB_ID_HEX + 1] = {"", "", ""};
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_HELLO, NULL, NULL, 1), 1);
    for (size_t t = 0; t < 3; t++) {
        size_t len = 0;
        char *job = cf_itest_agents_job(fx, 0, types[t], NULL, time(NULL), 600, ids[t], NULL, &len);
        assert_int_equal(cf_itest_agents_send_job(fx, 0, ids[t], job, len), CF_OK);
        assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_REPORT, NULL, ids[t], 1), 1);
        cf_mem_free(job);
    }
    assert_int_equal(cf_itest_agents_nth(fx, CF_MSG_REPORT, NULL, ids[0], 0)->outcome,
                     CF_MSG_INSTALLED);
    const cf_itest_agents_ev_t *re = cf_itest_agents_nth(fx, CF_MSG_REPORT, NULL, ids[1], 0);
    assert_int_equal(re->outcome, CF_MSG_INSTALLED);
    assert_string_equal(re->fpr, ""); /* no certificate installed yet */
    re = cf_itest_agents_nth(fx, CF_MSG_REPORT, NULL, ids[2], 0);
    assert_int_equal(re->outcome, CF_MSG_FAILED);
    assert_non_null(strstr(re->text, "renewal by CSR needs the agent's HTTPS client"));
    cf_itest_agents_all_acked(fx, ids[2], 1);
    /* set_favorite and recheck finish at once: the REPORT alone (it stands for the
       RECEIPT); renew_csr may take long, so its RECEIPT goes first */
    assert_int_equal(cf_itest_agents_count(fx, CF_MSG_RECEIPT, NULL, ids[0]), 0);
    assert_int_equal(cf_itest_agents_count(fx, CF_MSG_RECEIPT, NULL, ids[1]), 0);
    assert_true(cf_itest_agents_nth(fx, CF_MSG_RECEIPT, NULL, ids[2], 0) <
                cf_itest_agents_nth(fx, CF_MSG_REPORT, NULL, ids[2], 0));
    cf_fleet_agent_info_t info;
    assert_int_equal(cf_fleet_agent_info(fx->fleet, 0, &info), CF_OK);
    assert_int_equal(info.receipts, 1);
    assert_int_equal(info.reports, 3);
    assert_string_equal(info.favorite, "srv2.example.org");
    assert_int_equal(info.renewals, 1);
    assert_int_equal(info.failed, 1);
    assert_int_equal(info.installed, 2);

    /* a CHECKIN is counted; a message that does not decode is dropped and counted */
    cf_msg_t m;
    cf_msg_init(&m, CF_MSG_CHECKIN);
    strcpy(m.agent, "sim-0");
    assert_int_equal(cf_itest_agents_send(fx, 0, &m), CF_OK);
    zmsg_t *junk = zmsg_new();
    zmsg_addstr(junk, "not a certfleet message");
    assert_int_equal(cf_zsock_send_to(fx->zap->router, "sim-0", 5, &junk), CF_OK);
    cf_fleet_stats_t st = {0};
    long deadline = cf_itest_zap_now_ms() + CF_ITEST_AGENTS_WAIT_MS;
    while ((st.checkins < 1 || st.bad_msgs < 1) && cf_itest_zap_now_ms() < deadline)
        assert_int_equal(cf_fleet_stats(fx->fleet, &st), CF_OK);
    assert_int_equal(st.checkins, 1);
    assert_int_equal(st.bad_msgs, 1);
    assert_int_equal(st.renewals, 1);
    cf_itest_agents_stop(&fx);
}

typedef struct {
    size_t checkins;                    /* CHECKINs seen by the hook */
    char job_id[CF_MSG_JOB_ID_HEX + 1]; /* the last one's job */
} s_hooks_t;

static void s_on_checkin(void *ctx, size_t agent, const char *job_id)
{
    s_hooks_t *h = ctx;
    assert_int_equal(agent, 1);
    h->checkins++;
    snprintf(h->job_id, sizeof(h->job_id), "%s", job_id);
}

static cf_err_t s_on_renew(void *ctx, size_t agent, const char *job_id,
                           char fpr_out[CF_MSG_FPR_HEX + 1], cf_why_t *why)
{
    (void) ctx;
    (void) job_id;
    if (agent == 0)
        return cf_why(why, CF_ERR_IO, "the server did not answer the CSR");
    memset(fpr_out, 'c', CF_MSG_FPR_HEX);
    fpr_out[CF_MSG_FPR_HEX] = '\0';
    return CF_OK;
}

/* The hooks the HTTPS part (issue 5) plugs into; agents that boot over 300 ms (racing the
   fixture that lists their keys: one refused meanwhile comes back at its failover). */
static void test_hooks(void **state)
{
    (void) state;
    s_hooks_t hooks = {0, ""};
    cf_fleet_cfg_t cfg = {.on_checkin = s_on_checkin,
                          .on_renew = s_on_renew,
                          .hook_ctx = &hooks,
                          .start_spread_ms = 300,
                          .failover_ms = 200};
    cf_itest_agents_t *fx = cf_itest_agents_start(2, &cfg, NULL);
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_HELLO, NULL, NULL, 2), 2);
    char ids[2][CF_MSG_JOB_ID_HEX + 1] = {"", ""};
    for (size_t i = 0; i < 2; i++) {
        size_t len = 0;
        char *job = cf_itest_agents_job(fx, i, CF_JOB_TYPE_RENEW_CSR, NULL, time(NULL), 600, ids[i],
                                        NULL, &len);
        assert_int_equal(cf_itest_agents_send_job(fx, i, ids[i], job, len), CF_OK);
        cf_itest_agents_all_acked(fx, ids[i], 1);
        cf_mem_free(job);
    }
    const cf_itest_agents_ev_t *re = cf_itest_agents_nth(fx, CF_MSG_REPORT, NULL, ids[0], 0);
    assert_int_equal(re->outcome, CF_MSG_FAILED);
    assert_string_equal(re->text, "the server did not answer the CSR");
    re = cf_itest_agents_nth(fx, CF_MSG_REPORT, NULL, ids[1], 0);
    assert_int_equal(re->outcome, CF_MSG_INSTALLED);
    assert_int_equal(strspn(re->fpr, "c"), CF_MSG_FPR_HEX); /* the renewed certificate */

    cf_msg_t m;
    cf_msg_init(&m, CF_MSG_CHECKIN);
    strcpy(m.agent, "sim-1");
    strcpy(m.job_id, ids[1]);
    assert_int_equal(cf_itest_agents_send(fx, 1, &m), CF_OK);
    cf_fleet_stats_t st = {0};
    long deadline = cf_itest_zap_now_ms() + CF_ITEST_AGENTS_WAIT_MS;
    while (st.checkins < 1 && cf_itest_zap_now_ms() < deadline)
        assert_int_equal(cf_fleet_stats(fx->fleet, &st), CF_OK);
    assert_int_equal(hooks.checkins, 1); /* the request above ordered it before this read */
    assert_string_equal(hooks.job_id, ids[1]);
    assert_int_equal(st.renewals, 2);
    cf_itest_agents_stop(&fx);
}

/* An on_job that leaves every outcome for later (the simulator's renewal by CSR). */
static cf_err_t s_on_job_later(void *ctx, size_t agent, const char *job_id, const void *job,
                               size_t len, int64_t *expires_out, char fpr_out[CF_MSG_FPR_HEX + 1],
                               cf_why_t *why)
{
    (void) agent;
    (void) job;
    (void) len;
    (void) fpr_out;
    (void) why;
    size_t *calls = ctx;
    __atomic_add_fetch(calls, 1, __ATOMIC_SEQ_CST); /* the fleet's thread; the test reads it */
    assert_int_equal(strlen(job_id), CF_MSG_JOB_ID_HEX);
    *expires_out = (int64_t) time(NULL) + 600;
    return CF_ERR_PENDING;
}

/* An on_job that answers at once (installed, nothing changed; a real agent's recheck). */
static cf_err_t s_on_job_now(void *ctx, size_t agent, const char *job_id, const void *job,
                             size_t len, int64_t *expires_out, char fpr_out[CF_MSG_FPR_HEX + 1],
                             cf_why_t *why)
{
    (void) agent;
    (void) job_id;
    (void) job;
    (void) len;
    (void) why;
    size_t *calls = ctx;
    __atomic_add_fetch(calls, 1, __ATOMIC_SEQ_CST);
    *expires_out = (int64_t) time(NULL) + 600;
    fpr_out[0] = '\0';
    return CF_OK;
}

/* With an on_job hook: a recheck the hook carries out at once goes out as the REPORT
   alone; a recheck the hook defers all the same gets its RECEIPT (after the hook ran),
   and its REPORT comes with cf_fleet_complete. */
static void test_report_alone(void **state)
{
    (void) state;
    size_t calls = 0;
    cf_fleet_cfg_t cfg = {.on_job = s_on_job_later, .hook_ctx = &calls};
    cf_itest_agents_t *fx = cf_itest_agents_start(1, &cfg, NULL);
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_HELLO, NULL, NULL, 1), 1);
    char id[CF_MSG_JOB_ID_HEX + 1] = "";
    size_t len = 0;
    char *job =
        cf_itest_agents_job(fx, 0, CF_JOB_TYPE_RECHECK, NULL, time(NULL), 600, id, NULL, &len);
    assert_int_equal(cf_itest_agents_send_job(fx, 0, id, job, len), CF_OK);
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_RECEIPT, NULL, id, 1), 1);
    assert_int_equal(cf_itest_agents_count(fx, CF_MSG_REPORT, NULL, id), 0);
    assert_int_equal(cf_fleet_complete(fx->fleet, 0, id, CF_OK, NULL, NULL), CF_OK);
    cf_itest_agents_all_acked(fx, id, 1);
    assert_int_equal(cf_itest_agents_nth(fx, CF_MSG_REPORT, NULL, id, 0)->outcome,
                     CF_MSG_INSTALLED);
    cf_mem_free(job);
    cf_itest_agents_stop(&fx);

    /* the hook answers at once (a real agent's recheck): no RECEIPT, the REPORT alone */
    cfg.on_job = s_on_job_now;
    fx = cf_itest_agents_start(1, &cfg, NULL);
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_HELLO, NULL, NULL, 1), 1);
    job = cf_itest_agents_job(fx, 0, CF_JOB_TYPE_RECHECK, NULL, time(NULL), 600, id, NULL, &len);
    assert_int_equal(cf_itest_agents_send_job(fx, 0, id, job, len), CF_OK);
    cf_itest_agents_all_acked(fx, id, 1);
    assert_int_equal(cf_itest_agents_count(fx, CF_MSG_REPORT, NULL, id), 1);
    assert_int_equal(cf_itest_agents_count(fx, CF_MSG_RECEIPT, NULL, id), 0);
    cf_fleet_stats_t st;
    assert_int_equal(cf_fleet_stats(fx->fleet, &st), CF_OK);
    assert_int_equal(st.receipts, 0);
    assert_int_equal(st.reports, 1);
    assert_int_equal(st.acks_receipt, 0);
    assert_int_equal(st.acks_report, 1);
    /* a job that does not even parse is refused at once: the REPORT failed alone */
    char bad[CF_MSG_JOB_ID_HEX + 1];
    memset(bad, 'b', CF_MSG_JOB_ID_HEX);
    bad[CF_MSG_JOB_ID_HEX] = '\0';
    assert_int_equal(cf_itest_agents_send_job(fx, 0, bad, "{\"v\":", 5), CF_OK);
    cf_itest_agents_all_acked(fx, bad, 1);
    assert_int_equal(cf_itest_agents_count(fx, CF_MSG_RECEIPT, NULL, bad), 0);
    assert_int_equal(__atomic_load_n(&calls, __ATOMIC_SEQ_CST), 3);
    cf_mem_free(job);
    cf_itest_agents_stop(&fx);
}

/* One install_cert job for a fresh agent with cfg's hook: the RECEIPTs and REPORTs it got
   once the hook answered at once (installed) and its REPORT was acknowledged. */
static void s_install_answered(cf_fleet_cfg_t *cfg, size_t *receipts, size_t *reports)
{
    cf_itest_agents_t *fx = cf_itest_agents_start(1, cfg, NULL);
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_HELLO, NULL, NULL, 1), 1);
    char id[CF_MSG_JOB_ID_HEX + 1] = "";
    size_t len = 0;
    char *job =
        cf_itest_agents_job(fx, 0, CF_JOB_TYPE_INSTALL_CERT, NULL, time(NULL), 600, id, NULL, &len);
    assert_int_equal(cf_itest_agents_send_job(fx, 0, id, job, len), CF_OK);
    cf_itest_agents_all_acked(fx, id, 1);
    *receipts = cf_itest_agents_count(fx, CF_MSG_RECEIPT, NULL, id);
    *reports = cf_itest_agents_count(fx, CF_MSG_REPORT, NULL, id);
    cf_mem_free(job);
    cf_itest_agents_stop(&fx);
}

/* A hook that may block (a real agent's install check) gets an install job's RECEIPT sent
   before it runs; a quick hook (on_job_quick, the simulator's) runs the job first, with no
   parse of the job to learn its type, and a job it finishes goes out as the REPORT alone. */
static void test_quick_hook(void **state)
{
    (void) state;
    size_t calls = 0, receipts = 0, reports = 0;
    cf_fleet_cfg_t cfg = {.on_job = s_on_job_now, .hook_ctx = &calls};
    s_install_answered(&cfg, &receipts, &reports);
    assert_int_equal(receipts, 1);
    assert_int_equal(reports, 1);
    cfg.on_job_quick = 1;
    s_install_answered(&cfg, &receipts, &reports);
    assert_int_equal(receipts, 0);
    assert_int_equal(reports, 1);
    assert_int_equal(__atomic_load_n(&calls, __ATOMIC_SEQ_CST), 2);
}

/* CF_ERR_PENDING from on_job: the RECEIPT goes out at once, a copy of the job is not run
   again, and the REPORT comes with cf_fleet_complete (installed with the new fingerprint,
   or failed with its reason). */
static void test_deferred(void **state)
{
    (void) state;
    size_t calls = 0;
    cf_fleet_cfg_t cfg = {.on_job = s_on_job_later, .hook_ctx = &calls};
    cf_itest_agents_t *fx = cf_itest_agents_start(1, &cfg, NULL);
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_HELLO, NULL, NULL, 1), 1);
    char ids[2][CF_MSG_JOB_ID_HEX + 1] = {"", ""};
    size_t len = 0;
    char *job = cf_itest_agents_job(fx, 0, CF_JOB_TYPE_RENEW_CSR, NULL, time(NULL), 600, ids[0],
                                    NULL, &len);
    assert_int_equal(cf_itest_agents_send_job(fx, 0, ids[0], job, len), CF_OK);
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_RECEIPT, NULL, ids[0], 1), 1);
    assert_int_equal(cf_itest_agents_send_job(fx, 0, ids[0], job, len), CF_OK); /* a copy */
    cf_fleet_stats_t st = {0};
    long deadline = cf_itest_zap_now_ms() + CF_ITEST_AGENTS_WAIT_MS;
    while (st.duplicates < 1 && cf_itest_zap_now_ms() < deadline) {
        cf_itest_agents_pump(fx);
        assert_int_equal(cf_fleet_stats(fx->fleet, &st), CF_OK);
    }
    assert_int_equal(st.duplicates, 1);
    assert_int_equal(__atomic_load_n(&calls, __ATOMIC_SEQ_CST), 1); /* not run again */
    assert_int_equal(st.reports, 0);
    assert_int_equal(cf_itest_agents_count(fx, CF_MSG_REPORT, NULL, ids[0]), 0);
    char fpr[CF_MSG_FPR_HEX + 1];
    memset(fpr, 'd', CF_MSG_FPR_HEX);
    fpr[CF_MSG_FPR_HEX] = '\0';
    assert_int_equal(cf_fleet_complete(fx->fleet, 0, ids[0], CF_OK, fpr, NULL), CF_OK);
    cf_itest_agents_all_acked(fx, ids[0], 1);
    const cf_itest_agents_ev_t *re = cf_itest_agents_nth(fx, CF_MSG_REPORT, NULL, ids[0], 0);
    assert_int_equal(re->outcome, CF_MSG_INSTALLED);
    assert_string_equal(re->fpr, fpr);
    /* once only; bad arguments */
    assert_int_equal(cf_fleet_complete(fx->fleet, 0, ids[0], CF_OK, fpr, NULL), CF_ERR_NOTFOUND);
    assert_int_equal(cf_fleet_complete(fx->fleet, 1, ids[0], CF_OK, NULL, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_fleet_complete(fx->fleet, 0, "12", CF_OK, NULL, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_fleet_complete(fx->fleet, 0, ids[0], CF_OK, "xyz", NULL), CF_ERR_INVALID);
    cf_mem_free(job);
    /* a failure, reported with its reason; the certificate in use stays */
    job = cf_itest_agents_job(fx, 0, CF_JOB_TYPE_RENEW_CSR, NULL, time(NULL), 600, ids[1], NULL,
                              &len);
    assert_int_equal(cf_itest_agents_send_job(fx, 0, ids[1], job, len), CF_OK);
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_RECEIPT, NULL, ids[1], 1), 1);
    assert_int_equal(cf_fleet_complete(fx->fleet, 0, ids[1], CF_ERR_IO, NULL, "no answer"), CF_OK);
    cf_itest_agents_all_acked(fx, ids[1], 1);
    re = cf_itest_agents_nth(fx, CF_MSG_REPORT, NULL, ids[1], 0);
    assert_int_equal(re->outcome, CF_MSG_FAILED);
    assert_string_equal(re->text, "no answer");
    assert_string_equal(re->fpr, fpr);
    cf_mem_free(job);
    cf_itest_agents_stop(&fx);
}

/* Pump until the fleet's stats satisfy acks_stale >= stale and acks_report >= reports. */
static cf_fleet_stats_t s_wait_acks(cf_itest_agents_t *fx, uint64_t stale, uint64_t reports)
{
    cf_fleet_stats_t st = {0};
    long deadline = cf_itest_zap_now_ms() + CF_ITEST_AGENTS_WAIT_MS;
    do {
        cf_itest_agents_pump(fx);
        assert_int_equal(cf_fleet_stats(fx->fleet, &st), CF_OK);
    } while ((st.acks_stale < stale || st.acks_report < reports) &&
             cf_itest_zap_now_ms() < deadline);
    return st;
}

/* A job run again (an operator's retry) while the ACK of its earlier REPORT is still on
   the way: that ACK is stale and must not stand for the REPORT of this run, which is not
   out yet (taken, it let the fleet forget the outcome to come, and a later copy of the job
   ended "already applied here (replay)": the scale run's 93 failures). */
static void test_stale_report_ack(void **state)
{
    (void) state;
    size_t calls = 0;
    cf_fleet_cfg_t cfg = {.on_job = s_on_job_later, .hook_ctx = &calls};
    cf_itest_agents_t *fx = cf_itest_agents_start(1, &cfg, NULL);
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_HELLO, NULL, NULL, 1), 1);
    char id[CF_MSG_JOB_ID_HEX + 1] = "", fpr[CF_MSG_FPR_HEX + 1];
    size_t len = 0;
    char *job =
        cf_itest_agents_job(fx, 0, CF_JOB_TYPE_RENEW_CSR, NULL, time(NULL), 600, id, NULL, &len);
    /* run 1 fails; its REPORT is stored and acknowledged */
    assert_int_equal(cf_itest_agents_send_job(fx, 0, id, job, len), CF_OK);
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_RECEIPT, NULL, id, 1), 1);
    assert_int_equal(cf_fleet_complete(fx->fleet, 0, id, CF_ERR_IO, NULL, "no answer"), CF_OK);
    cf_itest_agents_all_acked(fx, id, 1);
    cf_fleet_stats_t st = s_wait_acks(fx, 0, 1);
    uint64_t stale0 = st.acks_stale, reports0 = st.acks_report;
    /* run 2 (the retry) is deferred; a late ACK of run 1's REPORT arrives */
    assert_int_equal(cf_itest_agents_send_job(fx, 0, id, job, len), CF_OK);
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_RECEIPT, NULL, id, 2), 2);
    /* the RECEIPT leaves before the job runs: wait for the run itself */
    long deadline = cf_itest_zap_now_ms() + CF_ITEST_AGENTS_WAIT_MS;
    while (__atomic_load_n(&calls, __ATOMIC_SEQ_CST) < 2 && cf_itest_zap_now_ms() < deadline)
        cf_itest_agents_pump(fx);
    assert_int_equal(__atomic_load_n(&calls, __ATOMIC_SEQ_CST), 2);
    cf_msg_t ack;
    cf_msg_init(&ack, CF_MSG_ACK);
    snprintf(ack.agent, sizeof(ack.agent), "%s", cf_itest_agents_id(fx, 0));
    snprintf(ack.job_id, sizeof(ack.job_id), "%s", id);
    ack.ack_of = CF_MSG_REPORT;
    assert_int_equal(cf_itest_agents_send(fx, 0, &ack), CF_OK);
    st = s_wait_acks(fx, stale0 + 1, 0);
    assert_int_equal(st.acks_stale, stale0 + 1); /* seen as stale */
    assert_int_equal(st.acks_report, reports0);
    /* run 2's outcome is reported and its own ACK taken */
    memset(fpr, 'e', CF_MSG_FPR_HEX);
    fpr[CF_MSG_FPR_HEX] = '\0';
    assert_int_equal(cf_fleet_complete(fx->fleet, 0, id, CF_OK, fpr, NULL), CF_OK);
    st = s_wait_acks(fx, 0, reports0 + 1);
    assert_int_equal(st.acks_report, reports0 + 1);
    const cf_itest_agents_ev_t *re = cf_itest_agents_nth(fx, CF_MSG_REPORT, NULL, id, 1);
    assert_non_null(re);
    assert_int_equal(re->outcome, CF_MSG_INSTALLED);
    cf_mem_free(job);
    cf_itest_agents_stop(&fx);
}

/* No ACK: the REPORT comes again, further and further apart; the ACK ends it. A recheck
   sends no RECEIPT at all (the REPORT stands for it), so the fault that drops first
   RECEIPTs has nothing to drop, and none is resent. */
static void test_resend_backoff(void **state)
{
    (void) state;
    enum { MIN = 40, MAX = 320 };
    cf_fleet_cfg_t cfg = {.resend_min_ms = MIN, .resend_max_ms = MAX};
    cf_itest_agents_t *fx = cf_itest_agents_start(1, &cfg, NULL);
    fx->auto_ack = 0;
    cf_fleet_fault_t fault = {.drop_first_receipt = 1};
    assert_int_equal(cf_fleet_set_fault(fx->fleet, &fault), CF_OK);
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_HELLO, NULL, NULL, 1), 1);
    char job_id[CF_MSG_JOB_ID_HEX + 1] = "";
    size_t len = 0;
    char *job =
        cf_itest_agents_job(fx, 0, CF_JOB_TYPE_RECHECK, NULL, time(NULL), 600, job_id, NULL, &len);
    long sent_ms = cf_itest_zap_now_ms(); /* the first REPORT goes out after this */
    assert_int_equal(cf_itest_agents_send_job(fx, 0, job_id, job, len), CF_OK);
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_REPORT, NULL, job_id, 6), 6);
    /* no RECEIPT: not at first, not resent */
    assert_null(cf_itest_agents_nth(fx, CF_MSG_RECEIPT, NULL, job_id, 0));
    /* resend k goes out at least b_k/2 after the one before (b doubles up to MAX): a timer
       never fires early. The fixture reads late by however busy the machine is, so a gap
       between two reads proves nothing (the first read late, the second not: a short gap);
       the sum does: resend k is read no sooner than sent_ms + b_1/2 + ... + b_k/2 (460 ms
       for k = 5, where a back-off stuck at MIN sends by 200 ms). */
    long b = MIN;
    long least = 0;
    for (size_t k = 1; k < 6; k++) {
        least += b / 2;
        long at = cf_itest_agents_nth(fx, CF_MSG_REPORT, NULL, job_id, k)->at_ms - sent_ms;
        if (at < least)
            print_message("resend %zu read %ld ms after the job, sooner than %ld\n", k, at, least);
        assert_true(at >= least);
        b = b * 2 > MAX ? MAX : b * 2;
    }
    cf_fleet_agent_info_t info;
    assert_int_equal(cf_fleet_agent_info(fx->fleet, 0, &info), CF_OK);
    assert_int_equal(info.waiting, 1);
    assert_true(info.resends >= 5);

    /* the ACK of the REPORT ends every resend of the job */
    fx->auto_ack = 1;
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_REPORT, NULL, job_id, 7), 7);
    cf_itest_agents_all_acked(fx, job_id, 1);
    assert_int_equal(cf_fleet_agent_info(fx->fleet, 0, &info), CF_OK);
    assert_int_equal(info.waiting, 0);
    cf_fleet_stats_t st;
    assert_int_equal(cf_fleet_stats(fx->fleet, &st), CF_OK);
    assert_int_equal(st.receipts_dropped, 0);
    assert_int_equal(st.receipts, 0);
    assert_int_equal(st.receipt_resends, 0);
    assert_true(st.report_resends >= 6);
    assert_null(cf_itest_agents_nth(fx, CF_MSG_RECEIPT, NULL, job_id, 0));
    cf_mem_free(job);
    cf_itest_agents_stop(&fx);
}

/* Injected failures are reported with their reason; a retry of a failed job runs. */
static void test_fault_fail(void **state)
{
    (void) state;
    cf_itest_agents_t *fx = cf_itest_agents_start(2, NULL, NULL);
    cf_fleet_fault_t fault = {.fail_pct = 100, .fail_reason = "disk full"};
    assert_int_equal(cf_fleet_set_fault(fx->fleet, &fault), CF_OK);
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_HELLO, NULL, NULL, 2), 2);
    char job_id[CF_MSG_JOB_ID_HEX + 1] = "";
    size_t len = 0;
    char *job = cf_itest_agents_job(fx, 1, CF_JOB_TYPE_SET_FAVORITE, NULL, time(NULL), 600, job_id,
                                    NULL, &len);
    assert_int_equal(cf_itest_agents_send_job(fx, 1, job_id, job, len), CF_OK);
    cf_itest_agents_all_acked(fx, job_id, 1);
    const cf_itest_agents_ev_t *re = cf_itest_agents_nth(fx, CF_MSG_REPORT, NULL, job_id, 0);
    assert_int_equal(re->outcome, CF_MSG_FAILED);
    assert_string_equal(re->text, "disk full");

    memset(&fault, 0, sizeof(fault)); /* the operator's retry: the same job again */
    assert_int_equal(cf_fleet_set_fault(fx->fleet, &fault), CF_OK);
    assert_int_equal(cf_itest_agents_send_job(fx, 1, job_id, job, len), CF_OK);
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_REPORT, NULL, job_id, 2), 2);
    assert_int_equal(cf_itest_agents_nth(fx, CF_MSG_REPORT, NULL, job_id, 1)->outcome,
                     CF_MSG_INSTALLED);
    cf_mem_free(job);
    cf_itest_agents_stop(&fx);
}

/* A deferred job (no outcome yet) whose first RECEIPT was lost: the RECEIPT comes again
   until the outcome exists; then only the REPORT does (it stands for the RECEIPT). */
static void test_receipt_resent_while_deferred(void **state)
{
    (void) state;
    size_t calls = 0;
    cf_fleet_cfg_t cfg = {
        .on_job = s_on_job_later, .hook_ctx = &calls, .resend_min_ms = 40, .resend_max_ms = 80};
    cf_itest_agents_t *fx = cf_itest_agents_start(1, &cfg, NULL);
    fx->auto_ack = 0;
    cf_fleet_fault_t fault = {.drop_first_receipt = 1};
    assert_int_equal(cf_fleet_set_fault(fx->fleet, &fault), CF_OK);
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_HELLO, NULL, NULL, 1), 1);
    char id[CF_MSG_JOB_ID_HEX + 1] = "";
    size_t len = 0;
    char *job =
        cf_itest_agents_job(fx, 0, CF_JOB_TYPE_RENEW_CSR, NULL, time(NULL), 600, id, NULL, &len);
    assert_int_equal(cf_itest_agents_send_job(fx, 0, id, job, len), CF_OK);
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_RECEIPT, NULL, id, 2), 2); /* resends */
    char fpr[CF_MSG_FPR_HEX + 1];
    memset(fpr, 'e', CF_MSG_FPR_HEX);
    fpr[CF_MSG_FPR_HEX] = '\0';
    assert_int_equal(cf_fleet_complete(fx->fleet, 0, id, CF_OK, fpr, NULL), CF_OK);
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_REPORT, NULL, id, 4), 4); /* resends */
    /* every RECEIPT came before the first REPORT (one resend may have been due as the
       outcome came); none after it */
    size_t receipts = cf_itest_agents_count(fx, CF_MSG_RECEIPT, NULL, id);
    assert_true(cf_itest_agents_nth(fx, CF_MSG_RECEIPT, NULL, id, receipts - 1) <
                cf_itest_agents_nth(fx, CF_MSG_REPORT, NULL, id, 0));
    fx->auto_ack = 1;
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_REPORT, NULL, id, 5), 5);
    cf_itest_agents_all_acked(fx, id, 1);
    assert_int_equal(cf_itest_agents_count(fx, CF_MSG_RECEIPT, NULL, id), receipts);
    assert_int_equal(__atomic_load_n(&calls, __ATOMIC_SEQ_CST), 1);
    cf_mem_free(job);
    cf_itest_agents_stop(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_usage, cf_itest_agents_teardown),
        cmocka_unit_test_teardown(test_job_types, cf_itest_agents_teardown),
        cmocka_unit_test_teardown(test_hooks, cf_itest_agents_teardown),
        cmocka_unit_test_teardown(test_deferred, cf_itest_agents_teardown),
        cmocka_unit_test_teardown(test_report_alone, cf_itest_agents_teardown),
        cmocka_unit_test_teardown(test_quick_hook, cf_itest_agents_teardown),
        cmocka_unit_test_teardown(test_stale_report_ack, cf_itest_agents_teardown),
        cmocka_unit_test_teardown(test_resend_backoff, cf_itest_agents_teardown),
        cmocka_unit_test_teardown(test_receipt_resent_while_deferred, cf_itest_agents_teardown),
        cmocka_unit_test_teardown(test_fault_fail, cf_itest_agents_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
