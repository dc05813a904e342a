/*  test_zap - the ZAP handler, CURVE ROUTER/DEALER and peer shutdown, over loopback TCP  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cf_allow.h"
#include "cf_curve.h"
#include "cf_itest.h"
#include "cf_zap.h"
#include "cf_zsock.h"

#define S_WAIT_MS 5000 /* every wait in here is bounded by this */

typedef struct {
    cf_zap_t *zap;             /* the handler */
    cf_curve_keypair_t server; /* the broker's keys */
    zsock_t *router;           /* CURVE ROUTER on 127.0.0.1:port */
    cf_curve_broker_t broker;  /* its endpoint and public key, as clients get it */
    zsock_t *mon;              /* PAIR reading the router's monitor events */
} s_fix_t;

static int s_mon_seq; /* distinct inproc names for monitors */

static long s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Monitor events of sock on a new PAIR socket (before any peer connects). */
static zsock_t *s_mon_start(zsock_t *sock)
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
static void s_mon_stop(zsock_t *sock, zsock_t **mon_p)
{
    if (sock && *mon_p)
        assert_int_equal(zmq_socket_monitor(zsock_resolve(sock), NULL, 0), 0);
    zsock_destroy(mon_p);
}

/* Wait for event on a monitor; 1 and its value, or 0 after S_WAIT_MS. */
static int s_mon_wait(zsock_t *mon, int event, uint32_t *value_out)
{
    long deadline = s_now_ms() + S_WAIT_MS;
    for (long left = S_WAIT_MS; left > 0; left = deadline - s_now_ms()) {
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

static s_fix_t s_fix; /* the one fixture a test may hold; static so a teardown can stop it */
static int s_fix_live;

static s_fix_t *s_fix_start_cfg(const char *domain, const cf_zsock_cfg_t *scfg)
{
    s_fix_t *f = &s_fix;
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
    f->mon = s_mon_start(f->router);
    s_fix_live = 1;
    return f;
}

static s_fix_t *s_fix_start(const char *domain)
{
    return s_fix_start_cfg(domain, NULL);
}

static void s_fix_stop(void)
{
    s_fix_t *f = &s_fix;
    s_fix_live = 0;
    s_mon_stop(f->router, &f->mon);
    zsock_destroy(&f->router); /* CURVE sockets first, then the handler (docs/zap.md) */
    cf_zap_destroy(&f->zap);
    cf_curve_keypair_wipe(&f->server);
}

/* After a failed test: stop what it left running, so the next test starts clean. */
static int s_teardown(void **state)
{
    (void) state;
    if (s_fix_live)
        s_fix_stop();
    return 0;
}

static zsock_t *s_client_hwm(const s_fix_t *f, const cf_curve_keypair_t *kp, const char *rid,
                             int hwm)
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

static zsock_t *s_client(const s_fix_t *f, const cf_curve_keypair_t *kp, const char *rid)
{
    return s_client_hwm(f, kp, rid, 0);
}

/* Receive one message on sock within S_WAIT_MS (or right now with wait_ms 0). */
static cf_err_t s_recv(zsock_t *sock, int wait_ms, zmsg_t **msg, cf_zsock_peer_t *peer)
{
    zmq_pollitem_t it = {zsock_resolve(sock), 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, wait_ms) <= 0)
        return CF_ERR_NOTFOUND;
    return cf_zsock_recv(sock, 16, 65536, ZMQ_DONTWAIT, msg, peer);
}

/* The client sends text; the router must get it from user_id within S_WAIT_MS. */
static void s_expect_delivered(s_fix_t *f, zsock_t *client, const char *text, const char *user_id,
                               cf_zsock_peer_t *peer_out)
{
    if (client) /* NULL: the peer sends text by itself */
        assert_int_equal(zstr_send(client, text), 0);
    zmsg_t *msg = NULL;
    cf_zsock_peer_t peer;
    assert_int_equal(s_recv(f->router, S_WAIT_MS, &msg, &peer), CF_OK);
    assert_int_equal(zmsg_size(msg), 2);
    assert_true(zframe_streq(zmsg_last(msg), text));
    assert_string_equal(peer.user_id, user_id);
    assert_true(peer.fd >= 0);
    zmsg_destroy(&msg);
    if (peer_out)
        *peer_out = peer;
}

/* A fresh keypair (test keys: thrown away, not wiped). */
static cf_curve_keypair_t s_kp(void)
{
    cf_curve_keypair_t kp;
    assert_int_equal(cf_curve_keypair_new(&kp), CF_OK);
    return kp;
}

static cf_zap_stats_t s_stats(s_fix_t *f)
{
    cf_zap_stats_t st;
    assert_int_equal(cf_zap_stats(f->zap, &st), CF_OK);
    return st;
}

/* ---- tests --------------------------------------------------------------------------- */

static void test_usage(void **state)
{
    (void) state;
    s_fix_t *f = s_fix_start(NULL); /* handler bound first, then the CURVE ROUTER */
    cf_curve_keypair_t agent = s_kp();
    cf_why_t why = {""};
    assert_int_equal(cf_zap_put(f->zap, agent.pub, CF_ALLOW_AGENT, "agent-1", &why), CF_OK);

    zsock_t *client = s_client(f, &agent, "agent-1");
    assert_int_equal(zstr_send(client, "hello"), 0);
    zmsg_t *msg = NULL;
    cf_zsock_peer_t peer;
    assert_int_equal(s_recv(f->router, S_WAIT_MS, &msg, &peer), CF_OK);
    char *rid = zmsg_popstr(msg);
    assert_string_equal(rid, "agent-1");     /* routing id ... */
    assert_string_equal(peer.user_id, rid);  /* ... matches the key's ZAP User-Id */
    assert_string_equal(peer.kind, "agent"); /* and its kind (ZAP metadata) */
    assert_true(peer.fd >= 0 && strncmp(peer.remote, "127.0.0.1:", 10) == 0);
    zmsg_destroy(&msg);

    zmsg_t *reply = zmsg_new();
    zmsg_addstr(reply, "welcome");
    assert_int_equal(cf_zsock_send_to(f->router, rid, strlen(rid), &reply), CF_OK);
    assert_null(reply);
    char *got = zstr_recv(client);
    assert_string_equal(got, "welcome");
    zstr_free(&got);
    zstr_free(&rid);

    cf_zap_stats_t st = s_stats(f);
    assert_int_equal(st.allowed, 1);
    assert_int_equal(st.keys, 1);
    zsock_destroy(&client);
    s_fix_stop();
}

/* The race the order rule is about: start, bind, connect at once, many times over. */
static void test_unlisted_refused_right_after_start(void **state)
{
    (void) state;
    cf_curve_keypair_t listed = s_kp();
    cf_curve_keypair_t stranger = s_kp();
    for (int round = 0; round < 10; round++) {
        s_fix_t *f = s_fix_start(NULL);
        zsock_t *bad = s_client(f, &stranger, "stranger");
        assert_int_equal(zstr_send(bad, "let me in"), 0);
        uint32_t status = 0;
        assert_true(s_mon_wait(f->mon, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, &status));
        assert_int_equal(status, 400);
        /* the router works: a listed key put in now gets through, the stranger never did */
        assert_int_equal(cf_zap_put(f->zap, listed.pub, CF_ALLOW_AGENT, "listed", NULL), CF_OK);
        zsock_t *good = s_client(f, &listed, "listed");
        s_expect_delivered(f, good, "hi", "listed", NULL);
        zmsg_t *msg = NULL;
        assert_int_equal(s_recv(f->router, 0, &msg, NULL), CF_ERR_NOTFOUND);
        assert_true(s_stats(f).denied_unknown >= 1);
        zsock_destroy(&good);
        zsock_destroy(&bad);
        s_fix_stop();
    }
}

/* What the order rule prevents: with no handler bound, libzmq 4.3 lets any key in. This is
   the failure the test above would catch. */
static void test_without_handler_anyone_gets_in(void **state)
{
    (void) state;
    cf_curve_keypair_t server = s_kp();
    cf_curve_keypair_t stranger = s_kp();
    s_fix_t f;
    memset(&f, 0, sizeof(f));
    f.router = zsock_new(ZMQ_ROUTER);
    int one = 1;
    assert_int_equal(zmq_setsockopt(zsock_resolve(f.router), ZMQ_CURVE_SERVER, &one, sizeof(one)),
                     0);
    assert_int_equal(zmq_setsockopt(zsock_resolve(f.router), ZMQ_CURVE_SECRETKEY, server.sec, 32),
                     0);
    int port = zsock_bind(f.router, "tcp://127.0.0.1:*");
    assert_true(port > 0);
    snprintf(f.broker.endpoint, sizeof(f.broker.endpoint), "tcp://127.0.0.1:%d", port);
    memcpy(f.broker.pub, server.pub, CF_CURVE_KEY_LEN);
    zsock_t *bad = s_client(&f, &stranger, "stranger");
    s_expect_delivered(&f, bad, "in", "", NULL); /* delivered, with no User-Id at all */
    zsock_destroy(&bad);
    zsock_destroy(&f.router);
}

/* Removal refuses the next handshake; the open connection is shut through its descriptor;
   the revoked peer's later messages never arrive. */
static void test_revoke_and_shut(void **state)
{
    (void) state;
    s_fix_t *f = s_fix_start(NULL);
    cf_curve_keypair_t a = s_kp();
    cf_curve_keypair_t b = s_kp();
    assert_int_equal(cf_zap_put(f->zap, a.pub, CF_ALLOW_AGENT, "agent-a", NULL), CF_OK);
    assert_int_equal(cf_zap_put(f->zap, b.pub, CF_ALLOW_AGENT, "agent-b", NULL), CF_OK);
    zsock_t *ca = s_client(f, &a, "agent-a");
    zsock_t *cb = s_client(f, &b, "agent-b");
    cf_zsock_peer_t pa;
    s_expect_delivered(f, ca, "a1", "agent-a", &pa);
    s_expect_delivered(f, cb, "b1", "agent-b", NULL);
    zsock_t *amon = s_mon_start(ca); /* the revoked peer's own view */

    assert_int_equal(cf_zap_remove(f->zap, a.pub), CF_OK);
    assert_int_equal(cf_zap_remove(f->zap, a.pub), CF_ERR_NOTFOUND);
    /* a new connection with the removed key is refused at once */
    zsock_t *a2 = s_client(f, &a, "agent-a2");
    uint32_t status = 0;
    assert_true(s_mon_wait(f->mon, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, &status));
    assert_int_equal(status, 400);
    zsock_destroy(&a2);

    /* the open one is shut through its descriptor; the peer sees the disconnect, and its
       reconnect meets ZAP and fails */
    cf_why_t why = {""};
    assert_int_equal(cf_zsock_peer_shut(&pa, &why), CF_OK);
    assert_true(s_mon_wait(amon, ZMQ_EVENT_DISCONNECTED, NULL));
    assert_true(s_mon_wait(amon, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, &status));
    assert_int_equal(status, 400);
    /* shutting it again finds the descriptor gone or reused: nothing is touched */
    assert_int_equal(cf_zsock_peer_shut(&pa, &why), CF_ERR_NOTFOUND);
    assert_true(strstr(why.text, "gone") != NULL);

    /* a's messages no longer arrive; b's still do (b's message is the barrier) */
    zstr_send(ca, "a2");
    s_expect_delivered(f, cb, "b2", "agent-b", NULL);
    zmsg_t *msg = NULL;
    assert_int_equal(s_recv(f->router, 0, &msg, NULL), CF_ERR_NOTFOUND);
    assert_true(s_stats(f).denied_unknown >= 2);

    s_mon_stop(ca, &amon);
    zsock_destroy(&ca);
    zsock_destroy(&cb);
    s_fix_stop();
}

static void test_full_replace(void **state)
{
    (void) state;
    s_fix_t *f = s_fix_start(NULL);
    cf_curve_keypair_t a = s_kp(), b = s_kp(), c = s_kp();
    assert_int_equal(cf_zap_put(f->zap, a.pub, CF_ALLOW_AGENT, "agent-a", NULL), CF_OK);
    assert_int_equal(cf_zap_put(f->zap, b.pub, CF_ALLOW_AGENT, "agent-b", NULL), CF_OK);

    /* the resync: a is gone, b is now a server, c is new */
    cf_allow_t *fresh = NULL;
    assert_int_equal(cf_allow_new(0, 2, &fresh), CF_OK);
    assert_int_equal(cf_allow_put(fresh, b.pub, CF_ALLOW_SERVER, "srv1", NULL), CF_OK);
    assert_int_equal(cf_allow_put(fresh, c.pub, CF_ALLOW_AGENT, "agent-c", NULL), CF_OK);
    assert_int_equal(cf_zap_replace(f->zap, &fresh), CF_OK);
    assert_null(fresh);
    assert_int_equal(cf_zap_replace(f->zap, &fresh), CF_ERR_INVALID);
    assert_int_equal(s_stats(f).keys, 2);

    zsock_t *cb = s_client(f, &b, "server:srv1");
    zsock_t *cc = s_client(f, &c, "agent-c");
    cf_zsock_peer_t peer;
    s_expect_delivered(f, cb, "b", "server:srv1", &peer);
    assert_string_equal(peer.kind, "server");
    s_expect_delivered(f, cc, "c", "agent-c", NULL);
    zsock_t *ca = s_client(f, &a, "agent-a");
    assert_true(s_mon_wait(f->mon, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, NULL));
    zsock_destroy(&ca);
    zsock_destroy(&cb);
    zsock_destroy(&cc);
    s_fix_stop();
}

/* 100,000 keys: build, swap in, one handshake; the time is printed, not asserted. */
static void test_100k_keys(void **state)
{
    (void) state;
    enum { N = 100000 };
    s_fix_t *f = s_fix_start(NULL);
    cf_curve_keypair_t real = s_kp();
    unsigned char(*keys)[CF_CURVE_KEY_LEN] = calloc(N, CF_CURVE_KEY_LEN);
    assert_non_null(keys);
    randombytes_buf(keys, (size_t) N * CF_CURVE_KEY_LEN);
    memcpy(keys[N / 2], real.pub, CF_CURVE_KEY_LEN);

    long t0 = s_now_ms();
    cf_allow_t *list = NULL;
    assert_int_equal(cf_allow_new(0, N, &list), CF_OK);
    char name[32];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "agent-%06d", i);
        assert_int_equal(cf_allow_put(list, keys[i], CF_ALLOW_AGENT, name, NULL), CF_OK);
    }
    long t1 = s_now_ms();
    assert_int_equal(cf_zap_replace(f->zap, &list), CF_OK);
    long t2 = s_now_ms();
    printf("zap: %d keys built in %ld ms, swapped in %ld ms\n", N, t1 - t0, t2 - t1);
    assert_int_equal(s_stats(f).keys, N);

    snprintf(name, sizeof(name), "agent-%06d", N / 2);
    zsock_t *client = s_client(f, &real, name);
    s_expect_delivered(f, client, "one of many", name, NULL);
    zsock_destroy(&client);
    free(keys);
    s_fix_stop();
}

/* A socket whose mechanism is not CURVE: refused by libzmq against our CURVE ROUTER, and by
   our handler whenever libzmq asks it about NULL or PLAIN. */
static void test_other_mechanisms_refused(void **state)
{
    (void) state;
    s_fix_t *f = s_fix_start(NULL);
    /* a NULL client against the CURVE ROUTER: the handshake fails, nothing is delivered */
    zsock_t *plain = zsock_new(ZMQ_DEALER);
    assert_int_equal(zsock_connect(plain, "%s", f->broker.endpoint), 0);
    zstr_send(plain, "no security");
    assert_true(s_mon_wait(f->mon, ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL, NULL));
    zmsg_t *msg = NULL;
    assert_int_equal(s_recv(f->router, 0, &msg, NULL), CF_ERR_NOTFOUND);
    zsock_destroy(&plain);

    /* NULL with a ZAP domain, then PLAIN: libzmq asks our handler, which says 400 */
    static const int mechs[] = {0, 1}; /* 0 = NULL, 1 = PLAIN */
    for (size_t i = 0; i < 2; i++) {
        zsock_t *srv = zsock_new(ZMQ_ROUTER);
        zsock_t *cli = zsock_new(ZMQ_DEALER);
        zsock_set_zap_domain(srv, "global");
        if (mechs[i]) {
            zsock_set_plain_server(srv, 1);
            zsock_set_plain_username(cli, "admin");
            zsock_set_plain_password(cli, "secret");
        }
        int port = zsock_bind(srv, "tcp://127.0.0.1:*");
        assert_true(port > 0);
        zsock_t *mon = s_mon_start(srv);
        assert_int_equal(zsock_connect(cli, "tcp://127.0.0.1:%d", port), 0);
        zstr_send(cli, "hi");
        uint32_t status = 0;
        assert_true(s_mon_wait(mon, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, &status));
        assert_int_equal(status, 400);
        assert_int_equal(s_recv(srv, 0, &msg, NULL), CF_ERR_NOTFOUND);
        s_mon_stop(srv, &mon);
        zsock_destroy(&cli);
        zsock_destroy(&srv);
    }
    assert_true(s_stats(f).denied_mechanism >= 2);
    s_fix_stop();
}

static void test_domain(void **state)
{
    (void) state;
    s_fix_t *f = s_fix_start("certfleet");
    assert_string_equal(cf_zap_domain(f->zap), "certfleet");
    cf_curve_keypair_t a = s_kp();
    assert_int_equal(cf_zap_put(f->zap, a.pub, CF_ALLOW_AGENT, "agent-a", NULL), CF_OK);
    zsock_t *ca = s_client(f, &a, "agent-a");
    s_expect_delivered(f, ca, "ok", "agent-a", NULL); /* the helper set the domain */
    zsock_destroy(&ca);

    /* a CURVE socket of the same process in another domain: refused even for a listed key */
    zsock_t *other = zsock_new(ZMQ_ROUTER);
    zsock_set_curve_server(other, 1);
    zsock_set_curve_secretkey_bin(other, f->server.sec);
    zsock_set_zap_domain(other, "other");
    int port = zsock_bind(other, "tcp://127.0.0.1:*");
    assert_true(port > 0);
    zsock_t *mon = s_mon_start(other);
    snprintf(f->broker.endpoint, sizeof(f->broker.endpoint), "tcp://127.0.0.1:%d", port);
    ca = s_client(f, &a, "agent-a");
    assert_true(s_mon_wait(mon, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, NULL));
    assert_true(s_stats(f).denied_domain >= 1);
    zsock_destroy(&ca);
    s_mon_stop(other, &mon);
    zsock_destroy(&other);
    s_fix_stop();

    cf_zap_t *zap = (cf_zap_t *) 0x1;
    char long_domain[CF_ZAP_DOMAIN_MAX + 2];
    memset(long_domain, 'd', sizeof(long_domain) - 1);
    long_domain[sizeof(long_domain) - 1] = '\0';
    cf_zap_cfg_t cfg = {long_domain, 0};
    assert_int_equal(cf_zap_new(&cfg, &zap, NULL), CF_ERR_INVALID);
    assert_null(zap);
}

/* Hand-made ZAP requests (libzmq never sends malformed ones; our handler must not care). */
static void test_malformed_requests(void **state)
{
    (void) state;
    cf_zap_t *zap = NULL;
    assert_int_equal(cf_zap_new(NULL, &zap, NULL), CF_OK);
    zsock_t *req = zsock_new_req(CF_ZAP_ENDPOINT);
    assert_non_null(req);
    unsigned char key[31] = {1};
    static const char *const good6[] = {"1.0", "7", "", "127.0.0.1", "id", "CURVE"};
    for (int c = 0; c < 4; c++) {
        zmsg_t *msg = zmsg_new();
        if (c == 0) /* too few frames */
            zmsg_addstr(msg, "1.0");
        for (int i = 0; c > 0 && i < 6; i++)
            zmsg_addstr(msg, (c == 1 && i == 0) ? "2.0" : good6[i]); /* c 1: wrong version */
        if (c == 2)
            zmsg_addmem(msg, key, sizeof(key)); /* a key of 31 bytes */
        if (c == 3) {
            zmsg_addmem(msg, key, sizeof(key)); /* two credentials */
            zmsg_addmem(msg, key, sizeof(key));
        }
        assert_int_equal(zmsg_send(&msg, req), 0);
        zmsg_t *reply = zmsg_recv(req);
        assert_int_equal(zmsg_size(reply), 6);
        assert_true(zframe_streq(zmsg_first(reply), "1.0"));
        assert_true(zframe_streq(zmsg_next(reply), c == 0 ? "" : "7")); /* request id */
        assert_true(zframe_streq(zmsg_next(reply), "500"));
        zmsg_destroy(&reply);
    }
    zsock_destroy(&req);
    cf_zap_stats_t st;
    assert_int_equal(cf_zap_stats(zap, &st), CF_OK);
    assert_int_equal(st.bad_request, 4);
    assert_int_equal(st.allowed + st.denied_unknown, 0);
    cf_zap_destroy(&zap);
}

static void test_one_handler_per_process(void **state)
{
    (void) state;
    cf_zap_t *first = NULL;
    cf_zap_t *second = (cf_zap_t *) 0x1;
    cf_why_t why = {""};
    assert_int_equal(cf_zap_new(NULL, &first, NULL), CF_OK);
    assert_int_equal(cf_zap_new(NULL, &second, &why), CF_ERR_EXISTS);
    assert_null(second);
    assert_true(strstr(why.text, CF_ZAP_ENDPOINT) != NULL);
    cf_zap_destroy(&first);
    cf_zap_destroy(&first);                                   /* idempotent */
    assert_int_equal(cf_zap_new(NULL, &second, NULL), CF_OK); /* the endpoint is free again */
    cf_curve_keypair_t kp = {{0}, {0}};
    assert_int_equal(cf_zap_put(second, kp.pub, CF_ALLOW_AGENT, "Bad Id", &why), CF_ERR_INVALID);
    assert_int_equal(cf_zap_put(second, kp.pub, 7, "x", NULL), CF_ERR_INVALID);
    assert_int_equal(cf_zap_remove(second, kp.pub), CF_ERR_NOTFOUND);
    cf_zap_destroy(&second);
    /* no handler: the CURVE ROUTER helper refuses to exist */
    zsock_t *router = (zsock_t *) 0x1;
    assert_int_equal(cf_zsock_curve_router(NULL, &kp, "tcp://127.0.0.1:*", NULL, &router, NULL),
                     CF_ERR_INVALID);
    assert_null(router);
}

static int s_get_int(zsock_t *sock, int option)
{
    int v = -1;
    size_t len = sizeof(v);
    assert_int_equal(zmq_getsockopt(zsock_resolve(sock), option, &v, &len), 0);
    return v;
}

static void test_socket_tuning(void **state)
{
    (void) state;
    int somax = cf_zsock_somaxconn();
    assert_true(somax > 0);
    unsigned long limit = 0;
    assert_int_equal(cf_zsock_raise_nofile(&limit, NULL), CF_OK);
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    assert_true(rl.rlim_cur == rl.rlim_max && limit == rl.rlim_cur);
    printf("zap: somaxconn %d, open files %lu\n", somax, limit);

    s_fix_t *f = s_fix_start(NULL);
    assert_int_equal(s_get_int(f->router, ZMQ_BACKLOG), somax);
    assert_int_equal(s_get_int(f->router, ZMQ_HEARTBEAT_IVL), CF_ZSOCK_HEARTBEAT_IVL);
    assert_int_equal(s_get_int(f->router, ZMQ_HEARTBEAT_TIMEOUT), CF_ZSOCK_HEARTBEAT_TIMEOUT);
    assert_int_equal(s_get_int(f->router, ZMQ_SNDHWM), CF_ZSOCK_HWM);
    assert_int_equal(s_get_int(f->router, ZMQ_RCVHWM), CF_ZSOCK_HWM);
    assert_int_equal(s_get_int(f->router, ZMQ_HANDSHAKE_IVL), CF_ZSOCK_HANDSHAKE_IVL);
    assert_int_equal(s_get_int(f->router, ZMQ_CURVE_SERVER), 1);
    int64_t max = 0;
    size_t len = sizeof(max);
    assert_int_equal(zmq_getsockopt(zsock_resolve(f->router), ZMQ_MAXMSGSIZE, &max, &len), 0);
    assert_int_equal(max, CF_ZSOCK_MAX_MSG);

    cf_zsock_cfg_t cfg;
    cf_zsock_cfg_init(&cfg);
    cfg.heartbeat_ttl_ms = 7000000; /* over what ZMTP can carry */
    cf_why_t why = {""};
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    assert_int_equal(cf_zsock_apply(sock, &cfg, &why), CF_ERR_INVALID);
    assert_true(strstr(why.text, "HEARTBEAT_TTL") != NULL);
    cfg.heartbeat_ttl_ms = 0;
    cfg.sndhwm = -5; /* libzmq refuses a negative HWM */
    assert_int_equal(cf_zsock_apply(sock, &cfg, &why), CF_ERR_INVALID);
    assert_true(strstr(why.text, "ZMQ_SNDHWM") != NULL);
    zsock_destroy(&sock);
    zsock_t *out = (zsock_t *) 0x1;
    assert_int_equal(cf_zsock_curve_router(f->zap, &f->server, "bogus://x", NULL, &out, &why),
                     CF_ERR_INVALID);
    assert_null(out);
    s_fix_stop();
}

/* Drops per peer (ROUTER_MANDATORY) and the receive caps. */
static void test_drops_and_caps(void **state)
{
    (void) state;
    cf_zsock_cfg_t scfg;
    cf_zsock_cfg_init(&scfg);
    scfg.sndhwm = scfg.rcvhwm = 10;
    s_fix_t *f = s_fix_start_cfg(NULL, &scfg);
    cf_curve_keypair_t a = s_kp();
    assert_int_equal(cf_zap_put(f->zap, a.pub, CF_ALLOW_AGENT, "agent-a", NULL), CF_OK);
    zsock_t *ca = s_client_hwm(f, &a, "agent-a", 10);
    s_expect_delivered(f, ca, "hi", "agent-a", NULL);

    zmsg_t *out = zmsg_new();
    zmsg_addstr(out, "x");
    assert_int_equal(cf_zsock_send_to(f->router, "nobody", 6, &out), CF_ERR_NOTFOUND);
    assert_null(out);
    /* a peer that never reads: its queue fills and further sends are dropped, counted */
    static char big[65536];
    cf_err_t rc = CF_OK;
    int sent = 0;
    for (; sent < 100000 && rc == CF_OK; sent++) {
        out = zmsg_new();
        zmsg_addmem(out, big, sizeof(big));
        rc = cf_zsock_send_to(f->router, "agent-a", 7, &out);
    }
    assert_int_equal(rc, CF_ERR_TOOBIG);
    printf("zap: queue full after %d messages of 64 KiB\n", sent - 1);

    /* over the frame cap: dropped whole, and the next message reads fine */
    for (int i = 0; i < 5; i++)
        zstr_sendm(ca, "part");
    zstr_send(ca, "end");
    zmq_pollitem_t it = {zsock_resolve(f->router), 0, ZMQ_POLLIN, 0};
    assert_int_equal(zmq_poll(&it, 1, S_WAIT_MS), 1);
    zmsg_t *msg = (zmsg_t *) 0x1;
    cf_zsock_peer_t peer;
    assert_int_equal(cf_zsock_recv(f->router, 3, 65536, 0, &msg, &peer), CF_ERR_TOOBIG);
    assert_null(msg);
    zstr_send(ca, "0123456789");
    assert_int_equal(zmq_poll(&it, 1, S_WAIT_MS), 1);
    assert_int_equal(cf_zsock_recv(f->router, 3, 8, 0, &msg, &peer), CF_ERR_TOOBIG); /* bytes */
    s_expect_delivered(f, ca, "after", "agent-a", NULL);
    assert_int_equal(cf_zsock_recv(f->router, 3, 64, ZMQ_DONTWAIT, &msg, NULL), CF_ERR_NOTFOUND);
    zsock_destroy(&ca);
    s_fix_stop();
}

/* ---- an independent peer: pyzmq (python3-zmq) ------------------------------------------ */

static void s_echo_actor(zsock_t *pipe, void *args)
{
    zsock_t *router = args; /* borrowed for the actor's life */
    zsock_signal(pipe, 0);
    zpoller_t *poller = zpoller_new(pipe, router, NULL);
    while (zpoller_wait(poller, -1) == router) {
        zmsg_t *msg = NULL;
        cf_zsock_peer_t peer;
        if (cf_zsock_recv(router, 16, 65536, ZMQ_DONTWAIT, &msg, &peer) != CF_OK)
            continue;
        char *rid = zmsg_popstr(msg);
        zmsg_t *reply = zmsg_new();
        zmsg_addstr(reply, "echo");
        zmsg_addstr(reply, peer.user_id);
        zmsg_addstr(reply, peer.kind);
        if (cf_zsock_send_to(router, rid, strlen(rid), &reply) != CF_OK)
            break; /* the test then sees no echo and fails */
        zstr_free(&rid);
        zmsg_destroy(&msg);
    }
    zpoller_destroy(&poller);
}

static const char *s_python(void)
{
    const char *py = getenv("CF_PYTHON");
    py = py && *py ? py : "/usr/bin/python3"; /* Debian's, where python3-zmq installs */
    if (cf_test_sh("%s -c 'import zmq, zmq.auth'", py) != 0)
        fail_msg("%s cannot import zmq: install python3-zmq (deploy/install-deps.sh)", py);
    return py;
}

typedef struct {
    char dir[512];     /* key files */
    char script[1024]; /* zap_peer.py */
    char args[4096];   /* common arguments */
    const char *py;    /* interpreter */
} s_py_t;

static void s_py_setup(s_py_t *p, const s_fix_t *f, const cf_curve_keypair_t *keys,
                       const char *const *names, size_t n)
{
    cf_test_tmpdir("zap_py", p->dir, sizeof(p->dir)); /* also where cf_test_sh logs */
    p->py = s_python();
    cf_test_src_path("integration/peers/zap_peer.py", p->script, sizeof(p->script));
    char path[700];
    snprintf(path, sizeof(path), "%s/broker.key", p->dir);
    cf_why_t why = {""};
    assert_int_equal(cf_curve_keypair_save(&f->server, path, &why), CF_OK);
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s.key", p->dir, names[i]);
        assert_int_equal(cf_curve_keypair_save(&keys[i], path, &why), CF_OK);
    }
    snprintf(p->args, sizeof(p->args), "--endpoint %s --server-cert %s/broker.key",
             f->broker.endpoint, p->dir);
}

static void test_python_peer(void **state)
{
    (void) state;
    s_fix_t *f = s_fix_start(NULL);
    cf_curve_keypair_t keys[2];
    static const char *const names[] = {"listed", "stranger"};
    assert_int_equal(cf_curve_keypair_new(&keys[0]), CF_OK);
    assert_int_equal(cf_curve_keypair_new(&keys[1]), CF_OK);
    assert_int_equal(cf_zap_put(f->zap, keys[0].pub, CF_ALLOW_AGENT, "py-agent", NULL), CF_OK);
    s_py_t p;
    s_py_setup(&p, f, keys, names, 2);
    zactor_t *echo = zactor_new(s_echo_actor, f->router);
    /* exit 10: refused by ZAP; exit 0: accepted, and the echo named its User-Id */
    assert_int_equal(cf_test_sh("%s %s %s --cert %s/stranger.key_secret --id stranger --expect "
                                "none",
                                p.py, p.script, p.args, p.dir),
                     10);
    assert_int_equal(cf_test_sh("%s %s %s --cert %s/listed.key_secret --id py-agent --expect "
                                "py-agent",
                                p.py, p.script, p.args, p.dir),
                     0);
    zactor_destroy(&echo);
    cf_zap_stats_t st = s_stats(f);
    assert_true(st.allowed >= 1 && st.denied_unknown >= 1);
    s_fix_stop();
}

/* A frozen peer (SIGSTOP: its TCP connection stays open, it just goes silent) is dropped by
   the ROUTER's ZMTP heartbeats: how half-open connections die. */
static void test_heartbeat_drops_silent_peer(void **state)
{
    (void) state;
    cf_zsock_cfg_t scfg;
    cf_zsock_cfg_init(&scfg);
    scfg.heartbeat_ivl_ms = 100;
    scfg.heartbeat_timeout_ms = 500;
    s_fix_t *f = s_fix_start_cfg(NULL, &scfg);
    cf_curve_keypair_t kp = s_kp();
    assert_int_equal(cf_zap_put(f->zap, kp.pub, CF_ALLOW_AGENT, "sleepy", NULL), CF_OK);
    static const char *const names[] = {"sleepy"};
    s_py_t p;
    s_py_setup(&p, f, &kp, names, 1);
    char cert[700];
    char log[700];
    snprintf(cert, sizeof(cert), "%s/sleepy.key_secret", p.dir);
    snprintf(log, sizeof(log), "%s/peer.log", p.dir);
    char *argv[] = {(char *) p.py,   p.script, "--endpoint", f->broker.endpoint,
                    "--server-cert", NULL,     "--cert",     cert,
                    "--id",          "sleepy", "--expect",   "sleepy",
                    "--hold",        NULL};
    char server_cert[700];
    snprintf(server_cert, sizeof(server_cert), "%s/broker.key", p.dir);
    argv[5] = server_cert;
    pid_t pid = 0;
    assert_int_equal(cf_itest_spawn(argv, log, &pid), CF_OK);
    s_expect_delivered(f, NULL, "hello", "sleepy", NULL);
    assert_int_equal(kill(pid, SIGSTOP), 0);
    assert_true(s_mon_wait(f->mon, ZMQ_EVENT_DISCONNECTED, NULL));
    assert_int_equal(cf_itest_kill(pid, SIGKILL), CF_OK);
    s_fix_stop();
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_usage, s_teardown),
        cmocka_unit_test_teardown(test_unlisted_refused_right_after_start, s_teardown),
        cmocka_unit_test_teardown(test_without_handler_anyone_gets_in, s_teardown),
        cmocka_unit_test_teardown(test_revoke_and_shut, s_teardown),
        cmocka_unit_test_teardown(test_full_replace, s_teardown),
        cmocka_unit_test_teardown(test_100k_keys, s_teardown),
        cmocka_unit_test_teardown(test_other_mechanisms_refused, s_teardown),
        cmocka_unit_test_teardown(test_domain, s_teardown),
        cmocka_unit_test_teardown(test_malformed_requests, s_teardown),
        cmocka_unit_test_teardown(test_one_handler_per_process, s_teardown),
        cmocka_unit_test_teardown(test_socket_tuning, s_teardown),
        cmocka_unit_test_teardown(test_drops_and_caps, s_teardown),
        cmocka_unit_test_teardown(test_python_peer, s_teardown),
        cmocka_unit_test_teardown(test_heartbeat_drops_silent_peer, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
