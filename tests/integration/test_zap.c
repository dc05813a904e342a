/*  test_zap - the ZAP handler and its allow-list, in front of a CURVE ROUTER over loopback
    TCP: refusals, replacement, domains, other mechanisms, malformed requests
    (test_zap_peer: sockets, caps and peer shutdown)  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cf_allow.h"
#include "cf_curve.h"
#include "cf_itest_zap.h"
#include "cf_zap.h"
#include "cf_zsock.h"

/* ---- tests --------------------------------------------------------------------------- */

static void test_usage(void **state)
{
    (void) state;
    cf_itest_zap_fix_t *f =
        cf_itest_zap_start(NULL); /* handler bound first, then the CURVE ROUTER */
    cf_curve_keypair_t agent = cf_itest_zap_kp();
    cf_why_t why = {""};
    assert_int_equal(cf_zap_put(f->zap, agent.pub, CF_ALLOW_AGENT, "agent-1", &why), CF_OK);

    zsock_t *client = cf_itest_zap_client(f, &agent, "agent-1");
    assert_int_equal(zstr_send(client, "hello"), 0);
    zmsg_t *msg = NULL;
    cf_zsock_peer_t peer;
    assert_int_equal(cf_itest_zap_recv(f->router, CF_ITEST_ZAP_WAIT_MS, &msg, &peer), CF_OK);
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

    cf_zap_stats_t st = cf_itest_zap_stats(f);
    assert_int_equal(st.allowed, 1);
    assert_int_equal(st.keys, 1);
    zsock_destroy(&client);
    cf_itest_zap_stop();
}

/* The race the order rule is about: start, bind, connect at once, many times over. */
static void test_unlisted_refused_right_after_start(void **state)
{
    (void) state;
    cf_curve_keypair_t listed = cf_itest_zap_kp();
    cf_curve_keypair_t stranger = cf_itest_zap_kp();
    for (int round = 0; round < 10; round++) {
        cf_itest_zap_fix_t *f = cf_itest_zap_start(NULL);
        zsock_t *bad = cf_itest_zap_client(f, &stranger, "stranger");
        assert_int_equal(zstr_send(bad, "let me in"), 0);
        uint32_t status = 0;
        assert_true(cf_itest_zap_mon_wait(f->mon, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, &status));
        assert_int_equal(status, 400);
        /* the router works: a listed key put in now gets through, the stranger never did */
        assert_int_equal(cf_zap_put(f->zap, listed.pub, CF_ALLOW_AGENT, "listed", NULL), CF_OK);
        zsock_t *good = cf_itest_zap_client(f, &listed, "listed");
        cf_itest_zap_expect_delivered(f, good, "hi", "listed", NULL);
        zmsg_t *msg = NULL;
        assert_int_equal(cf_itest_zap_recv(f->router, 0, &msg, NULL), CF_ERR_NOTFOUND);
        assert_true(cf_itest_zap_stats(f).denied_unknown >= 1);
        zsock_destroy(&good);
        zsock_destroy(&bad);
        cf_itest_zap_stop();
    }
}

/* What the order rule prevents: with no handler bound, libzmq 4.3 lets any key in. This is
   the failure the test above would catch. */
static void test_without_handler_anyone_gets_in(void **state)
{
    (void) state;
    cf_curve_keypair_t server = cf_itest_zap_kp();
    cf_curve_keypair_t stranger = cf_itest_zap_kp();
    cf_itest_zap_fix_t f;
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
    zsock_t *bad = cf_itest_zap_client(&f, &stranger, "stranger");
    cf_itest_zap_expect_delivered(&f, bad, "in", "", NULL); /* delivered, with no User-Id at all */
    zsock_destroy(&bad);
    zsock_destroy(&f.router);
}

/* Removal refuses the next handshake; the open connection is shut through its descriptor;
   the revoked peer's later messages never arrive. */
static void test_full_replace(void **state)
{
    (void) state;
    cf_itest_zap_fix_t *f = cf_itest_zap_start(NULL);
    cf_curve_keypair_t a = cf_itest_zap_kp(), b = cf_itest_zap_kp(), c = cf_itest_zap_kp();
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
    assert_int_equal(cf_itest_zap_stats(f).keys, 2);

    zsock_t *cb = cf_itest_zap_client(f, &b, "server:srv1");
    zsock_t *cc = cf_itest_zap_client(f, &c, "agent-c");
    cf_zsock_peer_t peer;
    cf_itest_zap_expect_delivered(f, cb, "b", "server:srv1", &peer);
    assert_string_equal(peer.kind, "server");
    cf_itest_zap_expect_delivered(f, cc, "c", "agent-c", NULL);
    zsock_t *ca = cf_itest_zap_client(f, &a, "agent-a");
    assert_true(cf_itest_zap_mon_wait(f->mon, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, NULL));
    zsock_destroy(&ca);
    zsock_destroy(&cb);
    zsock_destroy(&cc);
    cf_itest_zap_stop();
}

/* 100,000 keys: build, swap in, one handshake; the time is printed, not asserted. */
static void test_100k_keys(void **state)
{
    (void) state;
    enum { N = 100000 };
    cf_itest_zap_fix_t *f = cf_itest_zap_start(NULL);
    cf_curve_keypair_t real = cf_itest_zap_kp();
    unsigned char(*keys)[CF_CURVE_KEY_LEN] = calloc(N, CF_CURVE_KEY_LEN);
    assert_non_null(keys);
    randombytes_buf(keys, (size_t) N * CF_CURVE_KEY_LEN);
    memcpy(keys[N / 2], real.pub, CF_CURVE_KEY_LEN);

    long t0 = cf_itest_zap_now_ms();
    cf_allow_t *list = NULL;
    assert_int_equal(cf_allow_new(0, N, &list), CF_OK);
    char name[32];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "agent-%06d", i);
        assert_int_equal(cf_allow_put(list, keys[i], CF_ALLOW_AGENT, name, NULL), CF_OK);
    }
    long t1 = cf_itest_zap_now_ms();
    assert_int_equal(cf_zap_replace(f->zap, &list), CF_OK);
    long t2 = cf_itest_zap_now_ms();
    printf("zap: %d keys built in %ld ms, swapped in %ld ms\n", N, t1 - t0, t2 - t1);
    assert_int_equal(cf_itest_zap_stats(f).keys, N);

    snprintf(name, sizeof(name), "agent-%06d", N / 2);
    zsock_t *client = cf_itest_zap_client(f, &real, name);
    cf_itest_zap_expect_delivered(f, client, "one of many", name, NULL);
    zsock_destroy(&client);
    free(keys);
    cf_itest_zap_stop();
}

/* A socket whose mechanism is not CURVE: refused by libzmq against our CURVE ROUTER, and by
   our handler whenever libzmq asks it about NULL or PLAIN. */
static void test_other_mechanisms_refused(void **state)
{
    (void) state;
    cf_itest_zap_fix_t *f = cf_itest_zap_start(NULL);
    /* a NULL client against the CURVE ROUTER: the handshake fails, nothing is delivered */
    zsock_t *plain = zsock_new(ZMQ_DEALER);
    assert_int_equal(zsock_connect(plain, "%s", f->broker.endpoint), 0);
    zstr_send(plain, "no security");
    assert_true(cf_itest_zap_mon_wait(f->mon, ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL, NULL));
    zmsg_t *msg = NULL;
    assert_int_equal(cf_itest_zap_recv(f->router, 0, &msg, NULL), CF_ERR_NOTFOUND);
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
        zsock_t *mon = cf_itest_zap_mon_start(srv);
        assert_int_equal(zsock_connect(cli, "tcp://127.0.0.1:%d", port), 0);
        zstr_send(cli, "hi");
        uint32_t status = 0;
        assert_true(cf_itest_zap_mon_wait(mon, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, &status));
        assert_int_equal(status, 400);
        assert_int_equal(cf_itest_zap_recv(srv, 0, &msg, NULL), CF_ERR_NOTFOUND);
        cf_itest_zap_mon_stop(srv, &mon);
        zsock_destroy(&cli);
        zsock_destroy(&srv);
    }
    assert_true(cf_itest_zap_stats(f).denied_mechanism >= 2);
    cf_itest_zap_stop();
}

static void test_domain(void **state)
{
    (void) state;
    cf_itest_zap_fix_t *f = cf_itest_zap_start("certfleet");
    assert_string_equal(cf_zap_domain(f->zap), "certfleet");
    cf_curve_keypair_t a = cf_itest_zap_kp();
    assert_int_equal(cf_zap_put(f->zap, a.pub, CF_ALLOW_AGENT, "agent-a", NULL), CF_OK);
    zsock_t *ca = cf_itest_zap_client(f, &a, "agent-a");
    cf_itest_zap_expect_delivered(f, ca, "ok", "agent-a", NULL); /* the helper set the domain */
    zsock_destroy(&ca);

    /* a CURVE socket of the same process in another domain: refused even for a listed key */
    zsock_t *other = zsock_new(ZMQ_ROUTER);
    zsock_set_curve_server(other, 1);
    zsock_set_curve_secretkey_bin(other, f->server.sec);
    zsock_set_zap_domain(other, "other");
    int port = zsock_bind(other, "tcp://127.0.0.1:*");
    assert_true(port > 0);
    zsock_t *mon = cf_itest_zap_mon_start(other);
    snprintf(f->broker.endpoint, sizeof(f->broker.endpoint), "tcp://127.0.0.1:%d", port);
    ca = cf_itest_zap_client(f, &a, "agent-a");
    assert_true(cf_itest_zap_mon_wait(mon, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, NULL));
    assert_true(cf_itest_zap_stats(f).denied_domain >= 1);
    zsock_destroy(&ca);
    cf_itest_zap_mon_stop(other, &mon);
    zsock_destroy(&other);
    cf_itest_zap_stop();

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

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_usage, cf_itest_zap_teardown),
        cmocka_unit_test_teardown(test_unlisted_refused_right_after_start, cf_itest_zap_teardown),
        cmocka_unit_test_teardown(test_without_handler_anyone_gets_in, cf_itest_zap_teardown),
        cmocka_unit_test_teardown(test_full_replace, cf_itest_zap_teardown),
        cmocka_unit_test_teardown(test_100k_keys, cf_itest_zap_teardown),
        cmocka_unit_test_teardown(test_other_mechanisms_refused, cf_itest_zap_teardown),
        cmocka_unit_test_teardown(test_domain, cf_itest_zap_teardown),
        cmocka_unit_test_teardown(test_malformed_requests, cf_itest_zap_teardown),
        cmocka_unit_test_teardown(test_one_handler_per_process, cf_itest_zap_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
