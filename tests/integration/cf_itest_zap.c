/*  cf_itest_zap - ZAP tests' fixture: a ZAP handler with a CURVE ROUTER on loopback TCP and
    its monitor, CURVE DEALER clients, bounded receives and waits for monitor events  */
#include "cf_itest_zap.h"

#include "cf_test.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cf_itest.h"

static int s_mon_seq; /* distinct inproc names for monitors */

long cf_itest_zap_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Monitor events of sock on a new PAIR socket (before any peer connects). */
zsock_t *cf_itest_zap_mon_start(zsock_t *sock)
{
    char ep[64];
    snprintf(ep, sizeof(ep), "inproc://test-zap-mon-%d", ++s_mon_seq);
    assert_int_equal(zmq_socket_monitor(zsock_resolve(sock), ep, ZMQ_EVENT_ALL), 0);
    zsock_t *pair = zsock_new(ZMQ_PAIR);
    assert_non_null(pair);
    assert_int_equal(zsock_connect(pair, "%s", ep), 0);
    return pair;
}

/* Stop monitoring sock, then close the reader. In that order: libzmq's I/O thread blocks
   for good on an event it cannot deliver to a monitor whose reader is gone. */
void cf_itest_zap_mon_stop(zsock_t *sock, zsock_t **mon_p)
{
    if (sock && *mon_p)
        assert_int_equal(zmq_socket_monitor(zsock_resolve(sock), NULL, 0), 0);
    zsock_destroy(mon_p);
}

/* Wait for event on a monitor; 1 and its value, or 0 after CF_ITEST_ZAP_WAIT_MS. */
int cf_itest_zap_mon_wait(zsock_t *mon, int event, uint32_t *value_out)
{
    long deadline = cf_itest_zap_now_ms() + CF_ITEST_ZAP_WAIT_MS;
    for (long left = CF_ITEST_ZAP_WAIT_MS; left > 0; left = deadline - cf_itest_zap_now_ms()) {
        zmq_pollitem_t it = {zsock_resolve(mon), 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, left) <= 0)
            continue;
        zmsg_t *msg = zmsg_recv(mon);
        zframe_t *head = msg ? zmsg_first(msg) : NULL;
        uint16_t got = 0;
        uint32_t value = 0;
        if (head && zframe_size(head) == 6) {
            memcpy(&got, zframe_data(head), 2);
            memcpy(&value, zframe_data(head) + 2, 4);
        }
        zmsg_destroy(&msg);
        if (got == event) {
            if (value_out)
                *value_out = value;
            return 1;
        }
    }
    return 0;
}

static cf_itest_zap_fix_t
    s_fix; /* the one fixture a test may hold; static so a teardown can stop it */
static int s_fix_live;

cf_itest_zap_fix_t *cf_itest_zap_start_cfg(const char *domain, const cf_zsock_cfg_t *scfg)
{
    cf_itest_zap_fix_t *f = &s_fix;
    CF_ASSERT(!s_fix_live);
    memset(f, 0, sizeof(*f));
    cf_zap_cfg_t cfg = {domain, 0};
    cf_why_t why = {""};
    cf_err_t rc = cf_zap_new(&cfg, &f->zap, &why);
    if (rc != CF_OK)
        fail_msg("cf_zap_new: %s", cf_why_text(&why, rc));
    assert_int_equal(cf_curve_keypair_new(&f->server), CF_OK);
    for (int tries = 0; tries < 20 && !f->router; tries++) { /* a free port may be taken */
        snprintf(f->broker.endpoint, sizeof(f->broker.endpoint), "tcp://127.0.0.1:%d",
                 cf_itest_free_port());
        rc = cf_zsock_curve_router(f->zap, &f->server, f->broker.endpoint, scfg, &f->router, &why);
    }
    if (!f->router)
        fail_msg("router: %s", cf_why_text(&why, rc));
    memcpy(f->broker.pub, f->server.pub, CF_CURVE_KEY_LEN);
    f->mon = cf_itest_zap_mon_start(f->router);
    s_fix_live = 1;
    return f;
}

cf_itest_zap_fix_t *cf_itest_zap_start(const char *domain)
{
    return cf_itest_zap_start_cfg(domain, NULL);
}

void cf_itest_zap_stop(void)
{
    cf_itest_zap_fix_t *f = &s_fix;
    s_fix_live = 0;
    cf_itest_zap_mon_stop(f->router, &f->mon);
    zsock_destroy(&f->router); /* CURVE sockets first, then the handler (docs/zap.md) */
    cf_zap_destroy(&f->zap);
    cf_curve_keypair_wipe(&f->server);
}

/* After a failed test: stop what it left running, so the next test starts clean. */
int cf_itest_zap_teardown(void **state)
{
    (void) state;
    if (s_fix_live)
        cf_itest_zap_stop();
    return 0;
}

zsock_t *cf_itest_zap_client_hwm(const cf_itest_zap_fix_t *f, const cf_curve_keypair_t *kp,
                                 const char *rid, int hwm)
{
    cf_zsock_cfg_t cfg;
    cf_zsock_cfg_init(&cfg);
    cfg.rcvhwm = cfg.sndhwm = hwm;
    cfg.reconnect_ivl_ms = 50; /* refused clients retry quickly here */
    zsock_t *sock = NULL;
    cf_why_t why = {""};
    cf_err_t rc = cf_zsock_curve_dealer(&f->broker, kp, rid, &cfg, &sock, &why);
    if (rc != CF_OK)
        fail_msg("dealer: %s", cf_why_text(&why, rc));
    return sock;
}

zsock_t *cf_itest_zap_client(const cf_itest_zap_fix_t *f, const cf_curve_keypair_t *kp,
                             const char *rid)
{
    return cf_itest_zap_client_hwm(f, kp, rid, 0);
}

/* Receive one message on sock within CF_ITEST_ZAP_WAIT_MS (or right now with wait_ms 0). */
cf_err_t cf_itest_zap_recv(zsock_t *sock, int wait_ms, zmsg_t **msg, cf_zsock_peer_t *peer)
{
    zmq_pollitem_t it = {zsock_resolve(sock), 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, wait_ms) <= 0)
        return CF_ERR_NOTFOUND;
    return cf_zsock_recv(sock, 16, 65536, ZMQ_DONTWAIT, msg, peer);
}

/* The client sends text; the router must get it from user_id within CF_ITEST_ZAP_WAIT_MS. */
void cf_itest_zap_expect_delivered(cf_itest_zap_fix_t *f, zsock_t *client, const char *text,
                                   const char *user_id, cf_zsock_peer_t *peer_out)
{
    if (client) /* NULL: the peer sends text by itself */
        assert_int_equal(zstr_send(client, text), 0);
    zmsg_t *msg = NULL;
    cf_zsock_peer_t peer;
    assert_int_equal(cf_itest_zap_recv(f->router, CF_ITEST_ZAP_WAIT_MS, &msg, &peer), CF_OK);
    assert_int_equal(zmsg_size(msg), 2);
    assert_true(zframe_streq(zmsg_last(msg), text));
    assert_string_equal(peer.user_id, user_id);
    assert_true(peer.fd >= 0);
    zmsg_destroy(&msg);
    if (peer_out)
        *peer_out = peer;
}

/* A fresh keypair (test keys: thrown away, not wiped). */
cf_curve_keypair_t cf_itest_zap_kp(void)
{
    cf_curve_keypair_t kp;
    assert_int_equal(cf_curve_keypair_new(&kp), CF_OK);
    return kp;
}

cf_zap_stats_t cf_itest_zap_stats(cf_itest_zap_fix_t *f)
{
    cf_zap_stats_t st;
    assert_int_equal(cf_zap_stats(f->zap, &st), CF_OK);
    return st;
}