/*  test_link_tls - cf-server --broker tls://...: the server reaches a real cf-broker through
    its TLS-wrapped server port (a local relay presenting the server's own certificate), the
    broker admits it as server:<alias>, and an agent's HELLO over the plain CURVE port comes
    back to that server, which records the broker on the agent  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cf_ca.h"
#include "cf_db_agent.h"
#include "cf_db_curve.h"
#include "cf_db_job.h"
#include "cf_db_meta.h"
#include "cf_itest.h"
#include "cf_itest_broker.h"
#include "cf_itest_server.h"
#include "cf_itest_zap.h"
#include "cf_mem.h"
#include "cf_seal.h"

#define S_PASS  "Admin pass-T1"
#define S_AGENT "pc-tls"

static struct {
    cf_itest_broker_t b;   /* broker fields filled here; Redis and store too */
    cf_itest_server_t srv; /* srv1: --init, no broker; srv2: joins with a tls:// broker */
    cf_itest_server_t srv2;
    int tls_port[2];       /* the broker's TLS listeners: agents, servers */
    cf_curve_keypair_t kp; /* the agent's CURVE keys */
} s;

static void s_write(const char *name, const char *text, size_t len, mode_t mode)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", s.b.dir, name);
    cf_test_write_file(path, text, len);
    assert_int_equal(chmod(path, mode), 0);
}

/* A TLS certificate for the broker (SAN IP 127.0.0.1) from the deployment's CA, written to
   tls.pem / tls.key; the CA to ca.pem. */
static void s_broker_tls_material(void)
{
    char path[700], *pem = NULL;
    size_t len = 0;
    cf_seal_t *seal = NULL;
    cf_cert_t *ca_cert = NULL, *cert = NULL;
    cf_key_t *ca_key = NULL, *key = NULL;
    cf_ca_t *ca = NULL;
    snprintf(path, sizeof(path), "%s/secret", s.b.dir);
    assert_int_equal(cf_seal_load_file(path, 0, &seal, NULL), CF_OK);
    assert_int_equal(cf_db_ca_get(s.b.store, seal, &ca_cert, &ca_key), CF_OK);
    assert_int_equal(cf_ca_load(ca_cert, ca_key, &ca), CF_OK);
    const char *ips[] = {"127.0.0.1"};
    cf_issue_t req = {0};
    req.component = CF_COMPONENT_SERVER;
    req.name = "broker1";
    req.ips = ips;
    req.n_ips = 1;
    assert_int_equal(cf_ca_issue(ca, &req, &cert, &key), CF_OK);
    assert_int_equal(cf_cert_to_pem(ca_cert, &pem, &len), CF_OK);
    s_write("ca.pem", pem, len, 0644);
    cf_mem_free(pem);
    assert_int_equal(cf_cert_to_pem(cert, &pem, &len), CF_OK);
    s_write("tls.pem", pem, len, 0644);
    cf_mem_free(pem);
    assert_int_equal(cf_key_to_pem(key, NULL, &pem, &len), CF_OK);
    s_write("tls.key", pem, len, 0600);
    cf_mem_free_secret(pem, len);
    cf_cert_destroy(&cert), cf_key_destroy(&key), cf_ca_destroy(&ca);
    cf_cert_destroy(&ca_cert), cf_key_destroy(&ca_key), cf_seal_destroy(&seal);
}

static int s_setup(void **state)
{
    (void) state;
    signal(SIGPIPE, SIG_IGN);
    cf_itest_broker_t *b = &s.b;
    cf_test_tmpdir("link_tls", b->dir, sizeof(b->dir));
    snprintf(b->log, sizeof(b->log), "%s/broker.log", b->dir);
    assert_int_equal(cf_itest_redis_start(&b->redis, NULL), CF_OK);
    b->store = cf_itest_store_at(b->redis.port, NULL);
    assert_int_equal(cf_test_sh("cd '%s' && umask 077 && printf '" S_PASS "' >admin.pass", b->dir),
                     0);
    char path[700];
    snprintf(path, sizeof(path), "%s/admin.pass", b->dir);
    const char *init[] = {"--init", "--admin-password-file", path, NULL};
    if (cf_itest_server_start(&s.srv, b->dir, b->redis.port, "srv1", init) != CF_OK)
        fail_msg("srv1 did not start; see %s", s.srv.log);
    s_broker_tls_material();
    snprintf(b->agents.endpoint, sizeof(b->agents.endpoint), "tcp://127.0.0.1:%d",
             cf_itest_free_port());
    snprintf(b->servers.endpoint, sizeof(b->servers.endpoint), "tcp://127.0.0.1:%d",
             cf_itest_free_port());
    b->metrics_port = cf_itest_free_port();
    s.tls_port[0] = cf_itest_free_port();
    s.tls_port[1] = cf_itest_free_port();
    cf_curve_keypair_t bk;
    snprintf(path, sizeof(path), "%s/broker.key", b->dir);
    assert_int_equal(cf_curve_keypair_new(&bk), CF_OK);
    assert_int_equal(cf_curve_keypair_save(&bk, path, NULL), CF_OK);
    memcpy(b->agents.pub, bk.pub, CF_CURVE_KEY_LEN);
    memcpy(b->servers.pub, bk.pub, CF_CURVE_KEY_LEN);
    cf_curve_keypair_wipe(&bk);
    s.kp = cf_itest_zap_kp();
    assert_int_equal(cf_db_curve_put(b->store, CF_ALLOW_AGENT, S_AGENT, s.kp.pub, 1, NULL), CF_OK);
    cf_db_checkin_t in = {S_AGENT,
                          CF_DB_LOCK_INSECURE,
                          (int64_t) time(NULL),
                          "127.0.0.1",
                          "e2e",
                          NULL,
                          NULL,
                          0,
                          "srv1",
                          0};
    assert_int_equal(cf_db_agent_checkin(b->store, &in, NULL), CF_OK);
    cf_itest_broker_spawn_tls(b, s.tls_port);
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    cf_itest_server_stop(&s.srv2, SIGTERM);
    cf_itest_server_stop(&s.srv, SIGTERM);
    int clean = !cf_itest_server_log_has(&s.srv2, "Sanitizer");
    cf_itest_broker_stop(&s.b);
    cf_curve_keypair_wipe(&s.kp);
    return clean ? 0 : -1;
}

static int s_broker_recorded(void *arg)
{
    (void) arg;
    unsigned proto = 0;
    unsigned char broker[CF_CURVE_KEY_LEN];
    int has = 0;
    return cf_db_job_agent_link(s.b.store, S_AGENT, &proto, broker, &has) == CF_OK && has &&
           memcmp(broker, s.b.agents.pub, CF_CURVE_KEY_LEN) == 0;
}

static void test_server_link_over_tls(void **state)
{
    (void) state;
    char z85[CF_CURVE_Z85_LEN + 1], broker[160];
    cf_curve_z85_encode(s.b.servers.pub, z85);
    snprintf(broker, sizeof(broker), "tls://127.0.0.1:%d#%s", s.tls_port[1], z85);
    const char *join[] = {"--broker", broker, "--log-level", "debug", NULL};
    if (cf_itest_server_start(&s.srv2, s.b.dir, s.b.redis.port, "srv2", join) != CF_OK)
        fail_msg("srv2 did not start; see %s", s.srv2.log);
    assert_true(cf_itest_server_log_wait(&s.srv2, "broker reached through TLS", 10000));
    assert_true(cf_itest_server_log_wait(&s.srv2, "broker link up", 20000));
    assert_true(
        cf_itest_broker_metric_wait(&s.b, "cf_broker_tls_relayed_total{side=\"servers\"}", 1));
    /* an agent on the plain CURVE port: its HELLO goes to server:srv2, the only server */
    zsock_t *agent = cf_itest_broker_agent(&s.b, &s.kp, S_AGENT);
    cf_msg_t m;
    cf_itest_broker_msg(&m, CF_MSG_HELLO, S_AGENT, 0);
    m.proto = 1;
    for (int i = 0; i < 50 && !s_broker_recorded(NULL); i++) {
        (void) cf_itest_broker_try_send(agent, &m);
        cf_test_wait_until(s_broker_recorded, NULL, 200);
    }
    assert_true(s_broker_recorded(NULL));
    assert_int_equal(cf_itest_broker_metric(&s.b, "cf_broker_drops_total{reason=\"identity\"}"), 0);
    zsock_destroy(&agent);
}

/* --broker refuses a tls:// text that does not parse, naming the entry (exit 1: the list
   is read when the links start). */
static void test_bad_broker_text(void **state)
{
    (void) state;
    cf_itest_server_t bad = {0};
    const char *extra[] = {"--broker", "tls://127.0.0.1:1#short", NULL};
    assert_int_equal(cf_itest_server_run(&bad, s.b.dir, s.b.redis.port, "srv3", extra), 1);
    assert_true(cf_itest_server_log_has(&bad, "--broker 1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_link_over_tls),
        cmocka_unit_test(test_bad_broker_text),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
