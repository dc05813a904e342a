/*  test_broker_guard - a real cf-broker refusing what it must: a routing id that is not the
    key's identity, malformed, oversize and unknown-version frames, revoked keys (without a
    restart), and a full resync after Redis comes back empty  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cf_db_curve.h"
#include "cf_itest.h"
#include "cf_itest_broker.h"
#include "cf_itest_zap.h"

typedef struct {
    cf_itest_broker_t b;        /* broker and Redis */
    cf_curve_keypair_t keys[4]; /* pc-a, pc-b, server s1, spare */
    zsock_t *srv;               /* server:s1, announced */
    zsock_t *a;                 /* pc-a, held */
} s_fix_t;

static void s_start(s_fix_t *f, const char *name)
{
    for (int i = 0; i < 4; i++)
        f->keys[i] = cf_itest_zap_kp();
    static const cf_allow_kind_t kinds[] = {CF_ALLOW_AGENT, CF_ALLOW_AGENT, CF_ALLOW_SERVER};
    static const char *const names[] = {"pc-a", "pc-b", "s1"};
    cf_itest_broker_start(&f->b, name, kinds, names, f->keys, 3);
    f->srv = cf_itest_broker_server(&f->b, &f->keys[2], "server:s1");
    cf_itest_broker_server_ready(&f->b, f->srv, 1);
    f->a = cf_itest_broker_agent(&f->b, &f->keys[0], "pc-a");
    cf_itest_broker_agent_ready(&f->b, f->a, "pc-a", 1, &f->srv, 1);
}

static void s_stop(s_fix_t *f)
{
    zsock_destroy(&f->a);
    zsock_destroy(&f->srv);
    cf_itest_broker_stop(&f->b);
}

/* The server's next message is agent's RECEIPT with seed: nothing dropped leaked before. */
static void s_barrier(s_fix_t *f, zsock_t *agent, const char *id, unsigned seed)
{
    cf_msg_t m;
    cf_itest_broker_msg(&m, CF_MSG_RECEIPT, id, seed);
    cf_itest_broker_send(agent, &m);
    cf_itest_broker_expect(f->srv, CF_MSG_RECEIPT, &m);
    assert_string_equal(m.agent, id);
    char want[CF_MSG_JOB_ID_HEX + 1];
    snprintf(want, sizeof(want), "%032x", seed);
    assert_string_equal(m.job_id, want);
}

static void s_expect_error(zsock_t *sock, cf_msg_error_t code)
{
    cf_msg_t m;
    cf_itest_broker_expect(sock, CF_MSG_ERROR, &m);
    if (m.error != code)
        fail_msg("ERROR %s, want %s (%s)", cf_msg_error_name(m.error), cf_msg_error_name(code),
                 m.text);
}

static void s_send_raw(zsock_t *sock, const void *head, size_t head_len, size_t body_len,
                       int extra_frame)
{
    static unsigned char body[256 * 1024];
    memset(body, 'x', sizeof(body));
    CF_ASSERT(body_len <= sizeof(body));
    zmsg_t *msg = zmsg_new();
    assert_int_equal(zmsg_addmem(msg, head, head_len), 0);
    if (body_len)
        assert_int_equal(zmsg_addmem(msg, body, body_len), 0);
    if (extra_frame)
        assert_int_equal(zmsg_addstr(msg, "extra"), 0);
    assert_int_equal(zmsg_send(&msg, sock), 0);
}

static void s_want(const cf_itest_broker_t *b, const char *line, long want)
{
    long got = cf_itest_broker_metric(b, line);
    if (got != want)
        fail_msg("%s is %ld, want %ld", line, got, want);
}

/* A routing id that is not the key's identity: dropped and the connection shut. An agent
   speaking for another: dropped, answered "denied". Malformed, oversize and unknown-version
   frames: dropped, answered; and the broker keeps serving. */
static void test_impostors_and_bad_frames(void **state)
{
    (void) state;
    s_fix_t f;
    s_start(&f, "broker_bad");
    zsock_t *imp = cf_itest_broker_agent(&f.b, &f.keys[1], "pc-c"); /* pc-b's key */
    zsock_t *mon = cf_itest_zap_mon_start(imp);
    cf_msg_t m;
    cf_itest_broker_msg(&m, CF_MSG_HELLO, "pc-c", 0);
    cf_itest_broker_send(imp, &m);
    assert_true(cf_itest_zap_mon_wait(mon, ZMQ_EVENT_DISCONNECTED, NULL));
    cf_itest_zap_mon_stop(imp, &mon);
    zsock_destroy(&imp);
    assert_true(cf_itest_broker_metric_wait(&f.b, "cf_broker_shut_total", 1));

    cf_itest_broker_msg(&m, CF_MSG_REPORT, "pc-b", 3);
    cf_itest_broker_send(f.a, &m);
    s_expect_error(f.a, CF_MSG_ERR_DENIED);
    cf_itest_broker_msg(&m, CF_MSG_ACK, "pc-a", 3); /* a type agents may not send */
    cf_itest_broker_send(f.a, &m);
    s_expect_error(f.a, CF_MSG_ERR_DENIED);

    zstr_send(f.a, "garbage"); /* one frame */
    s_expect_error(f.a, CF_MSG_ERR_MALFORMED);
    static const unsigned char v2[] = {'C', 'F', 2, CF_MSG_HELLO};
    s_send_raw(f.a, v2, sizeof(v2), 10, 0);
    s_expect_error(f.a, CF_MSG_ERR_VERSION);
    static const unsigned char v1[] = {'C', 'F', 1, CF_MSG_HELLO};
    s_send_raw(f.a, v1, sizeof(v1), 10, 1); /* three frames */
    s_expect_error(f.a, CF_MSG_ERR_MALFORMED);
    s_send_raw(f.a, v1, sizeof(v1), 70 * 1024, 0); /* over CF_MSG_MAX_WIRE */
    s_expect_error(f.a, CF_MSG_ERR_TOOBIG);
    s_send_raw(f.a, v1, sizeof(v1), 200 * 1024, 0); /* over the receive cap: no answer */
    cf_itest_broker_msg(&m, CF_MSG_JOB, "pc-a", 4);
    assert_int_equal(cf_msg_set_job(&m, "{}", 2), CF_OK);
    cf_itest_broker_send(f.a, &m); /* answered; the big one before it was not */
    cf_msg_clear(&m);
    s_expect_error(f.a, CF_MSG_ERR_DENIED);
    s_barrier(&f, f.a, "pc-a", 5);

    s_want(&f.b, "cf_broker_drops_total{reason=\"identity\"}", 1);
    s_want(&f.b, "cf_broker_drops_total{reason=\"agent_field\"}", 1);
    s_want(&f.b, "cf_broker_drops_total{reason=\"type\"}", 2);
    s_want(&f.b, "cf_broker_drops_total{reason=\"malformed\"}", 2);
    s_want(&f.b, "cf_broker_drops_total{reason=\"version\"}", 1);
    s_want(&f.b, "cf_broker_drops_total{reason=\"toobig\"}", 2);
    s_want(&f.b, "cf_broker_messages_out_total{side=\"agents\",type=\"ERROR\"}", 7);
    s_want(&f.b, "cf_broker_messages_out_total{side=\"servers\",type=\"RECEIPT\"}", 1);
    s_stop(&f);
}

/* Keys change in Redis while the broker runs: a removed key is refused at once, the open
   connection is shut; a new key is let in; a replaced key's old connection is shut. */
static void test_revocation_without_restart(void **state)
{
    (void) state;
    s_fix_t f;
    s_start(&f, "broker_revoke");
    zsock_t *r = cf_itest_broker_agent(&f.b, &f.keys[1], "pc-b");
    cf_itest_broker_agent_ready(&f.b, r, "pc-b", 2, &f.srv, 1);
    zsock_t *mon = cf_itest_zap_mon_start(r);

    assert_int_equal(cf_db_curve_remove(f.b.store, CF_ALLOW_AGENT, "pc-b"), CF_OK);
    assert_true(cf_itest_zap_mon_wait(mon, ZMQ_EVENT_DISCONNECTED, NULL));
    uint32_t status = 0;
    assert_true(cf_itest_zap_mon_wait(mon, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, &status));
    assert_int_equal(status, 400);
    cf_msg_t m;
    cf_itest_broker_msg(&m, CF_MSG_RECEIPT, "pc-b", 1);
    zsock_set_sndtimeo(r, 0);
    (void) cf_itest_broker_try_send(r, &m); /* goes nowhere: the link is gone, refused */
    s_barrier(&f, f.a, "pc-a", 2);
    s_want(&f.b, "cf_broker_connected_agents", 1);
    s_want(&f.b, "cf_broker_shut_total", 1);
    s_want(&f.b, "cf_broker_listed_identities", 2);
    cf_itest_zap_mon_stop(r, &mon);
    zsock_destroy(&r);

    /* a key registered now is let in without a restart */
    assert_int_equal(cf_db_curve_put(f.b.store, CF_ALLOW_AGENT, "pc-n", f.keys[3].pub, 0, NULL),
                     CF_OK);
    assert_true(cf_itest_broker_metric_wait(&f.b, "cf_broker_key_events_total", 2));
    zsock_t *n = cf_itest_broker_agent(&f.b, &f.keys[3], "pc-n");
    cf_itest_broker_agent_ready(&f.b, n, "pc-n", 2, &f.srv, 1);

    /* pc-a re-enrolls with a new key: its old connection is shut, the new one works */
    zsock_t *amon = cf_itest_zap_mon_start(f.a);
    cf_curve_keypair_t fresh = cf_itest_zap_kp();
    assert_int_equal(cf_db_curve_put(f.b.store, CF_ALLOW_AGENT, "pc-a", fresh.pub, 1, NULL), CF_OK);
    assert_true(cf_itest_zap_mon_wait(amon, ZMQ_EVENT_DISCONNECTED, NULL));
    assert_true(cf_itest_zap_mon_wait(amon, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, &status));
    cf_itest_zap_mon_stop(f.a, &amon);
    zsock_destroy(&f.a);
    f.a = cf_itest_broker_agent(&f.b, &fresh, "pc-a");
    cf_itest_broker_agent_ready(&f.b, f.a, "pc-a", 2, &f.srv, 1);
    s_barrier(&f, n, "pc-n", 3);
    zsock_destroy(&n);
    s_stop(&f);
}

static int s_redis_down(void *arg)
{
    return cf_itest_broker_metric(arg, "cf_broker_redis_up") == 0;
}

/* Redis restarts empty: after the reconnect the broker reloads everything, so keys that
   vanished meanwhile are refused and their connections shut. */
static void test_resync_after_redis_restart(void **state)
{
    (void) state;
    s_fix_t f;
    s_start(&f, "broker_resync");
    zsock_t *mon = cf_itest_zap_mon_start(f.a);
    long before = cf_itest_broker_metric(&f.b, "cf_broker_resyncs_total{result=\"ok\"}");
    assert_true(before >= 1);
    cf_itest_redis_stop(&f.b.redis);
    s_barrier(&f, f.a, "pc-a", 1); /* Redis away: routing goes on */
    assert_true(cf_test_wait_until(s_redis_down, &f.b, CF_ITEST_BROKER_WAIT_MS));
    assert_int_equal(cf_itest_redis_restart(&f.b.redis), CF_OK); /* no persistence: empty */
    assert_true(
        cf_itest_broker_metric_wait(&f.b, "cf_broker_resyncs_total{result=\"ok\"}", before + 1));
    assert_true(cf_itest_zap_mon_wait(mon, ZMQ_EVENT_DISCONNECTED, NULL));
    uint32_t status = 0;
    assert_true(cf_itest_zap_mon_wait(mon, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, &status));
    assert_int_equal(status, 400);
    s_want(&f.b, "cf_broker_listed_identities", 0);
    s_want(&f.b, "cf_broker_connected_agents", 0);
    s_want(&f.b, "cf_broker_redis_up", 1);
    cf_itest_zap_mon_stop(f.a, &mon);
    s_stop(&f);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_impostors_and_bad_frames),
        cmocka_unit_test(test_revocation_without_restart),
        cmocka_unit_test(test_resync_after_redis_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
