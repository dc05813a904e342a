/*  test_link_hold - a lone RECEIPT waits for its REPORT at the server's link: a RECEIPT whose
    REPORT follows within the hold is never stored nor ACKed alone (one transition, one ACK:
    the REPORT's), one whose REPORT does not come is stored and ACKed once the hold is over,
    a link without a hold ACKs each at once; facts read a few at a time are gathered into
    one transition call (their ACKs leave in one BATCH)  */
#include "cf_test.h"

#include <string.h>
#include <time.h>

#include "cf_app_int.h"
#include "cf_db_cert.h"
#include "cf_db_curve.h"
#include "cf_db_job.h"
#include "cf_itest_link.h"
#include "cf_link.h"
#include "cf_link_facts.h"
#include "cf_msg_batch.h"
#include "cf_zsock.h"

#define S_RID "server:srv-h"

static cf_itest_link_t *const s = &cf_itest_link;

static int s_setup(void **state)
{
    (void) state;
    return cf_itest_link_setup("link_hold");
}

/* An in-process link of server srv-h (its certificate in Redis: the signer) holding lone
   RECEIPTs hold_ms, its handshake with the stand-in broker done. */
static cf_link_t *s_link_gather(int hold_ms, int gather_ms, cf_app_t **app, cf_store_cfg_t *scfg)
{
    cf_link_t *link = cf_itest_link_inproc_gather("srv-h", hold_ms, gather_ms, app, scfg);
    unsigned char pub[CF_CURVE_KEY_LEN];
    assert_int_equal(cf_db_curve_get(s->store, CF_ALLOW_SERVER, "srv-h", pub), CF_OK);
    assert_int_equal(cf_zap_put(s->broker->zap, pub, CF_ALLOW_SERVER, "srv-h", NULL), CF_OK);
    int up = 0; /* the first try may be refused (the key came late); the link reopens it */
    for (int i = 0; i < 5 && !up; i++)
        up = cf_itest_zap_mon_wait(s->broker->mon, ZMQ_EVENT_HANDSHAKE_SUCCEEDED, NULL);
    assert_true(up);
    return link;
}

static void s_send(cf_msg_type_t type, const char *agent, const char *job_id)
{
    cf_msg_t m;
    cf_msg_init(&m, type);
    snprintf(m.agent, sizeof(m.agent), "%s", agent);
    snprintf(m.job_id, sizeof(m.job_id), "%s", job_id);
    m.outcome = CF_MSG_INSTALLED;
    cf_itest_link_send(S_RID, &m);
    cf_msg_clear(&m);
}

static cf_link_t *s_link(int hold_ms, cf_app_t **app, cf_store_cfg_t *scfg)
{
    return s_link_gather(hold_ms, 0, app, scfg);
}

/* A REPORT for a job nobody has, and its ACK awaited: everything sent before it has been
   read by the link. Returns the RECEIPT ACKs for job_id that came before it. */
static int s_marker(const char *agent, const char *job_id)
{
    static const char marker[] = "0000000000000000000000000000beef";
    s_send(CF_MSG_REPORT, agent, marker);
    int receipt_acks = 0;
    for (;;) {
        cf_msg_t m;
        assert_true(cf_itest_link_recv(CF_ITEST_LINK_WAIT, &m, NULL));
        int done = m.type == CF_MSG_ACK && strcmp(m.job_id, marker) == 0;
        receipt_acks +=
            m.type == CF_MSG_ACK && m.ack_of == CF_MSG_RECEIPT && strcmp(m.job_id, job_id) == 0;
        cf_msg_clear(&m);
        if (done)
            return receipt_acks;
    }
}

/* Entries in the job's event stream (the first is "created"). */
static long long s_events(const char *job_id)
{
    redisReply *r = NULL;
    assert_int_equal(cf_store_cmd(s->store, &r, "XLEN cf:job:{%s}:ev", job_id), CF_OK);
    long long n = r->integer;
    cf_store_reply_free(&r);
    return n;
}

static void s_done(cf_link_t **link, cf_app_t **app)
{
    cf_link_destroy(link);
    cf_app_destroy(app);
}

/* Usage: the RECEIPT is read in one turn, its REPORT in a later one (after a marker went
   through): the RECEIPT was held, so the entry goes pending -> installed in one step and
   the only ACK is the REPORT's. */
static void test_usage(void **state)
{
    (void) state;
    cf_app_t *app = NULL;
    cf_store_cfg_t scfg;
    cf_link_t *link = s_link(60000, &app, &scfg);
    const char *agents[] = {"agent-1"};
    char id[CF_JOB_ID_HEX + 1];
    cf_itest_link_job(CF_JOB_TYPE_RECHECK, "{}", 1, agents, 1, id);
    s_send(CF_MSG_RECEIPT, "agent-1", id);
    assert_int_equal(s_marker("agent-1", id), 0); /* read, held: no ACK */
    assert_string_equal(cf_itest_link_state(id, "agent-1"), "pending");
    s_send(CF_MSG_REPORT, "agent-1", id);
    cf_msg_t m;
    assert_true(cf_itest_link_expect(CF_ITEST_LINK_WAIT, CF_MSG_ACK, "agent-1", id, &m));
    assert_int_equal(m.ack_of, CF_MSG_REPORT);
    cf_msg_clear(&m);
    assert_string_equal(cf_itest_link_state(id, "agent-1"), "installed");
    assert_int_equal(s_events(id), 2);            /* created, pending -> installed */
    assert_int_equal(s_marker("agent-1", id), 0); /* and no RECEIPT ACK came after it */
    s_done(&link, &app);
}

/* A RECEIPT whose REPORT never comes (a job that takes long) is stored and ACKed once its
   hold is over; a link without a hold stores and ACKs it at once. */
static void test_lone_receipt(void **state)
{
    (void) state;
    int holds[] = {300, -1};
    for (size_t k = 0; k < 2; k++) {
        cf_app_t *app = NULL;
        cf_store_cfg_t scfg;
        cf_link_t *link = s_link(holds[k], &app, &scfg);
        const char *agents[] = {"agent-2"};
        char id[CF_JOB_ID_HEX + 1];
        cf_itest_link_job(CF_JOB_TYPE_RENEW_CSR, "{}", 1, agents, 1, id);
        s_send(CF_MSG_RECEIPT, "agent-2", id);
        if (holds[k] < 0) /* no hold: ACKed in the turn that read it, before the marker's */
            assert_int_equal(s_marker("agent-2", id), 1);
        cf_msg_t m;
        if (holds[k] > 0) {
            assert_true(cf_itest_link_expect(CF_ITEST_LINK_WAIT, CF_MSG_ACK, "agent-2", id, &m));
            assert_int_equal(m.ack_of, CF_MSG_RECEIPT);
            cf_msg_clear(&m);
        }
        assert_string_equal(cf_itest_link_state(id, "agent-2"), "delivered");
        assert_int_equal(s_events(id), 2); /* created, pending -> delivered */
        s_done(&link, &app);
    }
}

/* REPORTs sent one message each are gathered (here up to an hour, so only their number
   ends the wait): the link stores CF_LINK_GATHER_MIN of them in one transition call and
   their ACKs come back in one BATCH, none before it. The job is nobody's: every fact is
   acknowledged all the same. */
static void test_gather(void **state)
{
    (void) state;
    static const char job[] = "0000000000000000000000000000abcd";
    cf_app_t *app = NULL;
    cf_store_cfg_t scfg;
    cf_link_t *link = s_link_gather(-1, 3600 * 1000, &app, &scfg);
    for (int i = 0; i < CF_LINK_GATHER_MIN; i++) {
        char agent[32];
        snprintf(agent, sizeof(agent), "agent-g%d", i);
        s_send(CF_MSG_REPORT, agent, job);
    }
    zmsg_t *zm = NULL;
    zmq_pollitem_t it = {zsock_resolve(s->broker->router), 0, ZMQ_POLLIN, 0};
    assert_int_equal(zmq_poll(&it, 1, CF_ITEST_LINK_WAIT), 1);
    assert_int_equal(
        cf_zsock_recv(s->broker->router, 3, CF_MSG_BATCH_MAX_WIRE + 256, ZMQ_DONTWAIT, &zm, NULL),
        CF_OK);
    assert_int_equal(zmsg_size(zm), 3);
    cf_msg_frame_t fr[2];
    zmsg_first(zm);
    for (int i = 0; i < 2; i++) {
        zframe_t *f = zmsg_next(zm);
        fr[i].data = zframe_data(f);
        fr[i].len = zframe_size(f);
    }
    assert_true(cf_msg_batch_is(fr, 2));
    cf_msg_batch_iter_t bit;
    assert_int_equal(cf_msg_batch_iter_init(&bit, fr, 2, NULL), CF_OK);
    cf_msg_frame_t item[2];
    int acks = 0;
    while (cf_msg_batch_next(&bit, item)) {
        cf_msg_t m;
        assert_int_equal(cf_msg_decode(item, 2, &m, NULL), CF_OK);
        acks += m.type == CF_MSG_ACK && m.ack_of == CF_MSG_REPORT && strcmp(m.job_id, job) == 0;
        cf_msg_clear(&m);
    }
    assert_int_equal(acks, CF_LINK_GATHER_MIN); /* all of them, in the first message */
    zmsg_destroy(&zm);
    s_done(&link, &app);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_lone_receipt),
        cmocka_unit_test(test_gather),
    };
    return cmocka_run_group_tests(tests, s_setup, cf_itest_link_teardown);
}
