/*  test_broker_tls - a real cf-broker with TLS-wrapped links: CURVE DEALER -> CLIENT relay ->
    TLS -> the broker's SERVER relay -> its ROUTER; a message routed both ways; a TLS
    certificate naming another identity than the CURVE key dropped and shut; a revoked one
    refused at the handshake  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cf_db_crl.h"
#include "cf_db_curve.h"
#include "cf_itest.h"
#include "cf_itest_broker.h"
#include "cf_itest_relay.h"
#include "cf_itest_zap.h"

typedef struct {
    cf_itest_broker_t b;        /* broker, Redis (filled here, stopped by the harness) */
    cf_itest_relay_pki_t pki;   /* CA, broker TLS certificate, agent and server certificates */
    cf_curve_keypair_t keys[4]; /* CURVE: pc-a, pc-b, s1, s2 */
    int tls_port[2];            /* the broker's TLS listeners: agents, servers */
} s_fix_t;

static s_fix_t s_fix;

static void s_write(const char *name, const char *text, mode_t mode)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", s_fix.b.dir, name);
    cf_test_write_file(path, text, strlen(text));
    assert_int_equal(chmod(path, mode), 0);
}

static void s_spawn(void)
{
    cf_itest_broker_spawn_tls(&s_fix.b, s_fix.tls_port);
}

static int s_setup(void **state)
{
    (void) state;
    cf_itest_broker_t *b = &s_fix.b;
    cf_test_tmpdir("broker_tls", b->dir, sizeof(b->dir));
    snprintf(b->log, sizeof(b->log), "%s/broker.log", b->dir);
    assert_int_equal(cf_itest_redis_start(&b->redis, NULL), CF_OK);
    b->store = cf_itest_store_at(b->redis.port, NULL);
    snprintf(b->agents.endpoint, sizeof(b->agents.endpoint), "tcp://127.0.0.1:%d",
             cf_itest_free_port());
    snprintf(b->servers.endpoint, sizeof(b->servers.endpoint), "tcp://127.0.0.1:%d",
             cf_itest_free_port());
    b->metrics_port = cf_itest_free_port();
    s_fix.tls_port[0] = cf_itest_free_port();
    s_fix.tls_port[1] = cf_itest_free_port();
    cf_curve_keypair_t bk;
    char path[700];
    snprintf(path, sizeof(path), "%s/broker.key", b->dir);
    assert_int_equal(cf_curve_keypair_new(&bk), CF_OK);
    assert_int_equal(cf_curve_keypair_save(&bk, path, NULL), CF_OK);
    memcpy(b->agents.pub, bk.pub, CF_CURVE_KEY_LEN);
    memcpy(b->servers.pub, bk.pub, CF_CURVE_KEY_LEN);
    cf_curve_keypair_wipe(&bk);
    cf_itest_relay_pki(&s_fix.pki);
    s_write("ca.pem", s_fix.pki.ca_pem, 0644);
    s_write("tls.pem", s_fix.pki.server.cert, 0644);
    s_write("tls.key", s_fix.pki.server.key, 0600);
    static const cf_allow_kind_t kinds[] = {CF_ALLOW_AGENT, CF_ALLOW_AGENT, CF_ALLOW_SERVER,
                                            CF_ALLOW_SERVER};
    static const char *const names[] = {"pc-a", "pc-b", "s1", "s2"};
    for (int i = 0; i < 4; i++) {
        s_fix.keys[i] = cf_itest_zap_kp();
        assert_int_equal(cf_db_curve_put(b->store, kinds[i], names[i], s_fix.keys[i].pub, 1, NULL),
                         CF_OK);
    }
    const char *serial = s_fix.pki.revoked.serial;
    assert_int_equal(cf_db_revoke(b->store, &serial, 1, NULL), CF_OK);
    s_spawn();
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    cf_itest_broker_stop(&s_fix.b);
    cf_itest_relay_pki_free(&s_fix.pki);
    return 0;
}

/* A CLIENT relay for "tls://127.0.0.1:PORT#KEY" presenting id, and a CURVE DEALER through it
   presenting kp with routing id rid. */
static zsock_t *s_dealer(int side, const cf_itest_relay_id_t *id, const cf_curve_keypair_t *kp,
                         const char *rid, cf_relay_t **relay)
{
    char z85[CF_CURVE_Z85_LEN + 1], text[200];
    cf_curve_z85_encode(s_fix.b.agents.pub, z85);
    int n = snprintf(text, sizeof(text), "tls://127.0.0.1:%d#%s", s_fix.tls_port[side], z85);
    cf_curve_broker_t to;
    cf_why_t why = {""};
    cf_err_t rc = cf_relay_client_for(text, (size_t) n, s_fix.pki.ca_pem, strlen(s_fix.pki.ca_pem),
                                      id->cert, strlen(id->cert), id->k, relay, &to, &why);
    if (rc != CF_OK)
        fail_msg("client relay: %s", cf_why_text(&why, rc));
    cf_zsock_cfg_t cfg;
    cf_zsock_cfg_init(&cfg);
    cfg.reconnect_ivl_ms = 50;
    cfg.reconnect_max_ms = 200; /* refused links come back soon once they may */
    zsock_t *sock = NULL;
    rc = cf_zsock_curve_dealer(&to, kp, rid, &cfg, &sock, &why);
    if (rc != CF_OK)
        fail_msg("dealer: %s", cf_why_text(&why, rc));
    zsock_set_sndtimeo(sock, CF_ITEST_BROKER_WAIT_MS);
    return sock;
}

/* Usage: an agent and a server both over TLS, a server direct; HELLO reaches a server, a
   JOB reaches the agent, and the relayed connections show on the metrics page. */
static void test_routed_over_tls(void **state)
{
    (void) state;
    cf_relay_t *ra = NULL, *rs = NULL;
    zsock_t *s1 = cf_itest_broker_server(&s_fix.b, &s_fix.keys[2], "server:s1");
    cf_itest_broker_server_ready(&s_fix.b, s1, 1);
    zsock_t *s2 = s_dealer(1, &s_fix.pki.srv2, &s_fix.keys[3], "server:s2", &rs);
    cf_itest_broker_server_ready(&s_fix.b, s2, 2);
    zsock_t *a = s_dealer(0, &s_fix.pki.agent, &s_fix.keys[0], "pc-a", &ra);
    zsock_t *servers[2] = {s1, s2};
    cf_itest_broker_agent_ready(&s_fix.b, a, "pc-a", 1, servers, 2);
    cf_msg_t m;
    cf_itest_broker_msg(&m, CF_MSG_ACK, "pc-a", 7);
    cf_itest_broker_send(s2, &m);
    cf_itest_broker_expect(a, CF_MSG_ACK, &m);
    assert_string_equal(m.agent, "pc-a");
    cf_msg_clear(&m);
    assert_true(cf_itest_broker_metric(&s_fix.b, "cf_broker_tls_relayed_total{side=\"agents\"}") >=
                1);
    assert_true(cf_itest_broker_metric(&s_fix.b, "cf_broker_tls_relayed_total{side=\"servers\"}") >=
                1);
    assert_int_equal(cf_itest_broker_metric(&s_fix.b, "cf_broker_drops_total{reason=\"identity\"}"),
                     0);
    zsock_destroy(&a);
    zsock_destroy(&s2);
    zsock_destroy(&s1);
    cf_relay_destroy(&ra);
    cf_relay_destroy(&rs);
}

/* pc-a's TLS certificate carrying pc-b's CURVE key: the message is dropped as identity, the
   connection shut; a well-matched agent is served meanwhile and nothing from the impostor
   reaches the server. */
static void test_identity_mismatch_dropped(void **state)
{
    (void) state;
    long drops = cf_itest_broker_metric(&s_fix.b, "cf_broker_drops_total{reason=\"identity\"}");
    long shut = cf_itest_broker_metric(&s_fix.b, "cf_broker_shut_total");
    cf_relay_t *rg = NULL, *rb = NULL;
    zsock_t *s1 = cf_itest_broker_server(&s_fix.b, &s_fix.keys[2], "server:s1");
    cf_itest_broker_server_ready(&s_fix.b, s1, 1);
    zsock_t *good = s_dealer(0, &s_fix.pki.agent, &s_fix.keys[0], "pc-a", &rg);
    cf_itest_broker_agent_ready(&s_fix.b, good, "pc-a", 1, &s1, 1);
    zsock_t *bad = s_dealer(0, &s_fix.pki.agent, &s_fix.keys[1], "pc-b", &rb);
    cf_msg_t m;
    cf_itest_broker_msg(&m, CF_MSG_HELLO, "pc-b", 0);
    cf_itest_broker_send(bad, &m);
    assert_true(cf_itest_broker_metric_wait(&s_fix.b, "cf_broker_drops_total{reason=\"identity\"}",
                                            drops + 1));
    assert_true(cf_itest_broker_metric_wait(&s_fix.b, "cf_broker_shut_total", shut + 1));
    cf_itest_broker_msg(&m, CF_MSG_RECEIPT, "pc-a", 9);
    cf_itest_broker_send(good, &m);
    cf_itest_broker_expect(s1, CF_MSG_RECEIPT, &m); /* the next: nothing from pc-b came */
    assert_string_equal(m.agent, "pc-a");
    cf_msg_clear(&m);
    zsock_destroy(&bad);
    zsock_destroy(&good);
    zsock_destroy(&s1);
    cf_relay_destroy(&rb);
    cf_relay_destroy(&rg);
}

/* A revoked agent certificate (in cf:revoked) is refused at the TLS handshake. */
static void test_revoked_refused(void **state)
{
    (void) state;
    const char *line = "cf_broker_tls_refused_total{side=\"agents\",reason=\"check\"}";
    long before = cf_itest_broker_metric(&s_fix.b, line);
    cf_relay_t *r = NULL;
    zsock_t *d = s_dealer(0, &s_fix.pki.revoked, &s_fix.keys[1], "pc-b", &r);
    assert_true(cf_itest_broker_metric_wait(&s_fix.b, line, before + 1));
    zsock_destroy(&d);
    cf_relay_destroy(&r);
}

/* The port of the agent ROUTER's relay-only endpoint, from the broker's log line. */
static int s_via_port(void)
{
    size_t len = 0;
    char *log = cf_test_read_file(s_fix.b.log, &len);
    const char *at = strstr(log, "side=agents tls=");
    const char *via = at ? strstr(at, "via=127.0.0.1:") : NULL;
    int port = via ? atoi(via + strlen("via=127.0.0.1:")) : 0;
    free(log);
    assert_true(port > 0);
    return port;
}

/* A CURVE connection straight to the relay-only endpoint, without TLS: the relay knows no
   identity for it, so its message is dropped and the connection shut. */
static void test_bypassing_tls_dropped(void **state)
{
    (void) state;
    long drops = cf_itest_broker_metric(&s_fix.b, "cf_broker_drops_total{reason=\"identity\"}");
    long shut = cf_itest_broker_metric(&s_fix.b, "cf_broker_shut_total");
    cf_curve_broker_t via = s_fix.b.agents;
    snprintf(via.endpoint, sizeof(via.endpoint), "tcp://127.0.0.1:%d", s_via_port());
    cf_zsock_cfg_t cfg;
    cf_zsock_cfg_init(&cfg);
    zsock_t *d = NULL;
    assert_int_equal(cf_zsock_curve_dealer(&via, &s_fix.keys[1], "pc-b", &cfg, &d, NULL), CF_OK);
    zsock_set_sndtimeo(d, CF_ITEST_BROKER_WAIT_MS);
    cf_msg_t m;
    cf_itest_broker_msg(&m, CF_MSG_HELLO, "pc-b", 0);
    cf_itest_broker_send(d, &m);
    assert_true(cf_itest_broker_metric_wait(&s_fix.b, "cf_broker_drops_total{reason=\"identity\"}",
                                            drops + 1));
    assert_true(cf_itest_broker_metric_wait(&s_fix.b, "cf_broker_shut_total", shut + 1));
    zsock_destroy(&d);
}

/* Redis away: the revocation check cannot be made, so TLS handshakes are refused (fail
   closed); once Redis is back they are relayed again, without a restart. */
static void test_redis_away_fails_closed(void **state)
{
    (void) state;
    const char *check = "cf_broker_tls_refused_total{side=\"agents\",reason=\"check\"}";
    const char *relayed = "cf_broker_tls_relayed_total{side=\"agents\"}";
    long refused = cf_itest_broker_metric(&s_fix.b, check);
    cf_itest_redis_stop(&s_fix.b.redis);
    cf_relay_t *r = NULL;
    zsock_t *d = s_dealer(0, &s_fix.pki.agent, &s_fix.keys[0], "pc-a", &r);
    assert_true(cf_itest_broker_metric_wait(&s_fix.b, check, refused + 1));
    long before = cf_itest_broker_metric(&s_fix.b, relayed);
    assert_int_equal(cf_itest_redis_restart(&s_fix.b.redis), CF_OK);
    assert_true(cf_itest_broker_metric_wait(&s_fix.b, relayed, before + 1));
    zsock_destroy(&d);
    cf_relay_destroy(&r);
}

/* cf-broker refuses to start (exit 1, a reason) with TLS links half configured or a key file
   others may read. */
static void test_bad_tls_config_refused(void **state)
{
    (void) state;
    const char *d = s_fix.b.dir;
    const char *bin = getenv("CF_BIN_DIR");
    char base[1600];
    snprintf(base, sizeof(base),
             "%s/broker/cf-broker --key-file %s/broker.key_secret --redis 127.0.0.1:%d "
             "--agents-bind tcp://127.0.0.1:0 --servers-bind tcp://127.0.0.1:0 "
             "--tls-bind 127.0.0.1:0",
             bin && *bin ? bin : ".", d, s_fix.b.redis.port);
    assert_int_equal(cf_test_sh("%s > %s/bad1.out 2>&1", base, d), 1);
    s_write("open.key", s_fix.pki.server.key, 0644);
    assert_int_equal(cf_test_sh("%s --tls-ca %s/ca.pem --tls-cert %s/tls.pem --tls-key "
                                "%s/open.key > %s/bad2.out 2>&1",
                                base, d, d, d, d),
                     1);
    char path[700];
    snprintf(path, sizeof(path), "%s/bad1.out", d);
    char *out = cf_test_read_file(path, NULL);
    assert_non_null(strstr(out, "--tls-ca"));
    free(out);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routed_over_tls),
        cmocka_unit_test(test_identity_mismatch_dropped),
        cmocka_unit_test(test_revoked_refused),
        cmocka_unit_test(test_bypassing_tls_dropped),
        cmocka_unit_test(test_redis_away_fails_closed),
        cmocka_unit_test(test_bad_tls_config_refused),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
