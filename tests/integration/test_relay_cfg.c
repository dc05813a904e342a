/*  test_relay_cfg - the relay's identities of certificates, refused configurations and the
    tls:// endpoints of cf_relay_client_for (loopback)  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cf_itest_relay.h"
#include "cf_mem.h"

typedef struct {
    cf_itest_relay_pki_t pki; /* certificates */
    cf_itest_echo_t echo;     /* the plain target */
    cf_relay_t *server;       /* SERVER relay in front of echo */
} s_fix_t;

static s_fix_t s_fix;

static int s_setup(void **state)
{
    (void) state;
    cf_itest_relay_pki(&s_fix.pki);
    cf_itest_echo_start(&s_fix.echo);
    char target[64];
    snprintf(target, sizeof(target), "127.0.0.1:%d", s_fix.echo.port);
    cf_relay_cfg_t cfg = {
        .mode = CF_RELAY_SERVER,
        .listen = "127.0.0.1:0",
        .target = target,
        .ca_pem = s_fix.pki.ca_pem,
        .ca_len = strlen(s_fix.pki.ca_pem),
        .cert_pem = s_fix.pki.server.cert,
        .cert_len = strlen(s_fix.pki.server.cert),
        .key = s_fix.pki.server.k,
        .check = cf_itest_relay_check,
    };
    assert_int_equal(cf_relay_new(&cfg, &s_fix.server, NULL), CF_OK);
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    cf_relay_destroy(&s_fix.server);
    cf_itest_echo_stop(&s_fix.echo);
    cf_itest_relay_pki_free(&s_fix.pki);
    return 0;
}

static void s_identity_is(const cf_itest_relay_id_t *id, cf_err_t want, const char *name)
{
    cf_cert_t *cert = NULL;
    assert_int_equal(cf_cert_parse(id->cert, strlen(id->cert), &cert), CF_OK);
    char got[CF_RELAY_ID_MAX + 1];
    assert_int_equal(cf_relay_identity(cert, got, NULL), want);
    if (name)
        assert_string_equal(got, name);
    cf_cert_destroy(&cert);
}

/* Identities: agent id, server:<CN>; shared agent, console and CA certificates refused. */
static void test_identity(void **state)
{
    (void) state;
    s_identity_is(&s_fix.pki.agent, CF_OK, "pc-a");
    s_identity_is(&s_fix.pki.srv2, CF_OK, "server:s2");
    cf_itest_relay_id_t shared = {0}, console = {0};
    cf_issue_t req = {.component = CF_COMPONENT_AGENT, .shared_agent = 1};
    cf_cert_t *cert = NULL;
    size_t len = 0;
    assert_int_equal(cf_ca_issue(s_fix.pki.ca, &req, &cert, &shared.k), CF_OK);
    assert_int_equal(cf_cert_to_pem(cert, &shared.cert, &len), CF_OK);
    cf_cert_destroy(&cert);
    cf_issue_t creq = {.component = CF_COMPONENT_CONSOLE, .name = "ops"};
    assert_int_equal(cf_ca_issue(s_fix.pki.ca, &creq, &cert, &console.k), CF_OK);
    assert_int_equal(cf_cert_to_pem(cert, &console.cert, &len), CF_OK);
    cf_cert_destroy(&cert);
    s_identity_is(&shared, CF_ERR_POLICY, NULL);
    s_identity_is(&console, CF_ERR_POLICY, NULL);
    char got[CF_RELAY_ID_MAX + 1];
    assert_int_equal(cf_relay_identity(cf_ca_cert(s_fix.pki.ca), got, NULL), CF_ERR_POLICY);
    assert_int_equal(cf_relay_identity(NULL, got, NULL), CF_ERR_INVALID);
    cf_mem_free(shared.cert);
    cf_mem_free(console.cert);
    cf_key_destroy(&shared.k);
    cf_key_destroy(&console.k);
}

/* Bad configurations are refused with a reason, nothing started. */
static void test_bad_config(void **state)
{
    (void) state;
    cf_relay_t *r = (cf_relay_t *) 0x1;
    cf_why_t why = {""};
    assert_int_equal(cf_relay_new(NULL, &r, &why), CF_ERR_INVALID);
    assert_null(r);
    cf_relay_cfg_t cfg = {
        .mode = CF_RELAY_SERVER,
        .listen = "127.0.0.1:0",
        .target = "127.0.0.1:1",
        .ca_pem = s_fix.pki.ca_pem,
        .ca_len = strlen(s_fix.pki.ca_pem),
        .cert_pem = s_fix.pki.server.cert,
        .cert_len = strlen(s_fix.pki.server.cert),
        .key = s_fix.pki.agent.k, /* not the certificate's key */
        .check = cf_itest_relay_check,
    };
    assert_int_equal(cf_relay_new(&cfg, &r, &why), CF_ERR_KEYMISMATCH);
    cfg.key = s_fix.pki.server.k;
    cfg.check = NULL;
    assert_int_equal(cf_relay_new(&cfg, &r, &why), CF_ERR_INVALID);
    cfg.check = cf_itest_relay_check;
    static const char *const bad[] = {"127.0.0.1", "::1:80", "[::1]", "h:99999", "h:8x", ":80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cfg.listen = bad[i];
        assert_int_equal(cf_relay_new(&cfg, &r, &why), CF_ERR_INVALID);
    }
    cfg.listen = "127.0.0.1:0";
    cfg.ca_pem = s_fix.pki.agent.cert; /* not a CA */
    cfg.ca_len = strlen(cfg.ca_pem);
    assert_int_equal(cf_relay_new(&cfg, &r, &why), CF_ERR_INVALID);
    cfg.ca_len = CF_RELAY_MAX_PEM + 1;
    assert_int_equal(cf_relay_new(&cfg, &r, &why), CF_ERR_TOOBIG);
    assert_null(r);
}

/* tls://HOST:PORT#KEY starts a client relay; tcp:// passes through; bad text refused. */
static void test_client_for(void **state)
{
    (void) state;
    char z85[CF_CURVE_Z85_LEN + 1];
    unsigned char pub[CF_CURVE_KEY_LEN];
    memset(pub, 7, sizeof(pub));
    cf_curve_z85_encode(pub, z85);
    char text[400];
    int n = snprintf(text, sizeof(text), "tls://%s#%s", cf_relay_address(s_fix.server), z85);
    const cf_itest_relay_id_t *a = &s_fix.pki.agent;
    cf_relay_t *r = NULL;
    cf_curve_broker_t b;
    assert_int_equal(cf_relay_client_for(text, (size_t) n, s_fix.pki.ca_pem,
                                         strlen(s_fix.pki.ca_pem), a->cert, strlen(a->cert), a->k,
                                         &r, &b, NULL),
                     CF_OK);
    assert_non_null(r);
    assert_memory_equal(b.pub, pub, sizeof(pub));
    char want[80];
    snprintf(want, sizeof(want), "tcp://%s", cf_relay_address(r));
    assert_string_equal(b.endpoint, want);
    int fd = cf_itest_relay_connect(cf_relay_address(r));
    char out[3];
    assert_int_equal(cf_itest_relay_roundtrip(fd, "hey", 3, out), 0);
    close(fd);
    cf_relay_destroy(&r);
    n = snprintf(text, sizeof(text), "tcp://127.0.0.1:7010#%s", z85);
    assert_int_equal(cf_relay_client_for(text, (size_t) n, NULL, 0, NULL, 0, NULL, &r, &b, NULL),
                     CF_OK);
    assert_null(r);
    assert_string_equal(b.endpoint, "tcp://127.0.0.1:7010");
    static const char *const bad[] = {"tls://127.0.0.1:7010", "tls://#x", "tls:/h:1#k", "udp://h"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_not_equal(cf_relay_client_for(bad[i], strlen(bad[i]), s_fix.pki.ca_pem,
                                                 strlen(s_fix.pki.ca_pem), a->cert, strlen(a->cert),
                                                 a->k, &r, &b, NULL),
                             CF_OK);
    assert_null(r);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_client_for),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
