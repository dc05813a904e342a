/*  test_agent_tls - the real cf-agent daemon with tls:// broker entries against a real
    cf-broker --tls-bind (redis-server, a cf-server linked to the broker): the link goes
    through a local relay presenting the agent's own certificate, a renew_csr job comes
    through it and the link restarts with the new certificate; an agent without a
    certificate leaves tls:// entries out (logged) and uses the next one; SIGHUP re-reads
    agent.json and reconnects when it changed; SIGTERM stops cleanly  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cf_ca.h"
#include "cf_db_meta.h"
#include "cf_itest_broker.h"
#include "cf_itest_fleet.h"
#include "cf_itest_linked.h"
#include "cf_itest_https.h"
#include "cf_itest_real.h"
#include "cf_mem.h"
#include "cf_seal.h"

static cf_itest_fleet_t *const s = &cf_itest_fleet;
static cf_itest_broker_t s_b;
static int s_tls_port[2];
static char s_token[128], s_tls_ep[CF_CURVE_TEXT_MAX + 8], s_tcp_ep[CF_CURVE_TEXT_MAX + 1];
static pid_t s_agent;

static void s_write(const char *name, const char *text, size_t len, mode_t mode)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", s_b.dir, name);
    cf_test_write_file(path, text, len);
    assert_int_equal(chmod(path, mode), 0);
}

/* The broker's TLS certificate (SAN IP 127.0.0.1) from the deployment's CA. */
static void s_broker_tls_material(void)
{
    const char *ips[] = {"127.0.0.1"};
    cf_issue_t req = {0};
    req.component = CF_COMPONENT_SERVER;
    req.name = "broker1";
    req.ips = ips;
    req.n_ips = 1;
    cf_cert_t *cert = NULL;
    cf_key_t *key = NULL;
    char *pem = NULL;
    size_t len = 0;
    assert_int_equal(cf_ca_issue(s->ca, &req, &cert, &key), CF_OK);
    assert_int_equal(cf_cert_to_pem(cert, &pem, &len), CF_OK);
    s_write("tls.pem", pem, len, 0644);
    cf_mem_free(pem);
    assert_int_equal(cf_key_to_pem(key, NULL, &pem, &len), CF_OK);
    s_write("tls.key", pem, len, 0600);
    cf_mem_free_secret(pem, len);
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
}

/* The broker's keys and endpoints, Redis; the broker itself starts once the CA exists. */
static void s_broker_prepare(void)
{
    cf_itest_broker_t *b = &s_b;
    memset(b, 0, sizeof(*b));
    cf_test_tmpdir("agent_tls", b->dir, sizeof(b->dir));
    snprintf(b->log, sizeof(b->log), "%.500s/broker.log", b->dir);
    assert_int_equal(cf_itest_redis_start(&b->redis, NULL), CF_OK);
    b->store = cf_itest_store_at(b->redis.port, NULL);
    snprintf(b->agents.endpoint, sizeof(b->agents.endpoint), "tcp://127.0.0.1:%d",
             cf_itest_free_port());
    snprintf(b->servers.endpoint, sizeof(b->servers.endpoint), "tcp://127.0.0.1:%d",
             cf_itest_free_port());
    b->metrics_port = cf_itest_free_port();
    s_tls_port[0] = cf_itest_free_port();
    s_tls_port[1] = cf_itest_free_port();
    cf_curve_keypair_t bk;
    char path[700];
    snprintf(path, sizeof(path), "%.500s/broker.key", b->dir);
    assert_int_equal(cf_curve_keypair_new(&bk), CF_OK);
    assert_int_equal(cf_curve_keypair_save(&bk, path, NULL), CF_OK);
    memcpy(b->agents.pub, bk.pub, CF_CURVE_KEY_LEN);
    memcpy(b->servers.pub, bk.pub, CF_CURVE_KEY_LEN);
    cf_curve_keypair_wipe(&bk);
}

static int s_setup(void **state)
{
    (void) state;
    signal(SIGPIPE, SIG_IGN);
    s_broker_prepare();
    char z85[CF_CURVE_Z85_LEN + 1];
    assert_int_equal(cf_curve_broker_format(&s_b.agents, s_tcp_ep, sizeof(s_tcp_ep)), CF_OK);
    cf_curve_z85_encode(s_b.agents.pub, z85);
    snprintf(s_tls_ep, sizeof(s_tls_ep), "tls://127.0.0.1:%d#%s", s_tls_port[0], z85);
    cf_itest_linked_start(s, &s_b, NULL);
    s_broker_tls_material();
    cf_itest_broker_spawn_tls(&s_b, s_tls_port);
    cf_itest_linked_token(s, 5, s_token, sizeof(s_token));
    return 0;
}

static void s_stop_agent(void)
{
    if (s_agent > 0 && cf_itest_kill(s_agent, SIGKILL) != CF_OK)
        fprintf(stderr, "cf-agent %d did not stop\n", (int) s_agent);
    s_agent = 0;
}

static int s_teardown(void **state)
{
    (void) state;
    s_stop_agent();
    cf_itest_linked_stop(s, &s_b);
    return 0;
}

/* A condition: the agent's log holds at least n lines matching a pattern. */
typedef struct {
    const char *id;      /* agent */
    const char *pattern; /* grep -E pattern */
    int n;               /* lines wanted */
} s_log_t;

static int s_log_has(void *arg)
{
    const s_log_t *l = arg;
    return cf_test_sh("test $(grep -cE -e '%s' '%s/agent-%s.log') -ge %d", l->pattern, s->dir,
                      l->id, l->n) == 0;
}

static void s_wait_log(const char *id, const char *pattern, int n)
{
    s_log_t l = {id, pattern, n};
    if (!cf_test_wait_until(s_log_has, &l, 20000))
        fail_msg("agent %s: no %d lines '%s' in %s/agent-%s.log", id, n, pattern, s->dir, id);
}

static void s_spawn(const char *id, const char *from)
{
    char exe[700], log[800];
    const char *bin = getenv("CF_BIN_DIR");
    snprintf(exe, sizeof(exe), "%s/agent/cf-agent", bin && *bin ? bin : ".");
    snprintf(log, sizeof(log), "%s/agent-%s.log", s->dir, id);
    char *argv[] = {exe,        "run",         "--state-dir", (char *) cf_itest_real_dir(id),
                    "--source", (char *) from, "--interval",  "300",
                    NULL};
    assert_int_equal(cf_itest_spawn(argv, log, &s_agent), CF_OK);
}

static void s_sigterm(void)
{
    assert_int_equal(kill(s_agent, SIGTERM), 0);
    int code = cf_itest_exit_code(s_agent, 10000); /* -1: still running (killed at teardown) */
    if (code >= 0)
        s_agent = 0;
    assert_int_equal(code, 0);
}

typedef struct {
    const char *job; /* job id */
} s_job_t;

static int s_installed(void *arg)
{
    char out[CF_ITEST_FLEET_BODY], path[200];
    snprintf(path, sizeof(path), "/api/v1/jobs/%s", ((const s_job_t *) arg)->job);
    return cf_itest_fleet_get(&s->a, path, out) == 200 &&
           cf_itest_fleet_ji(out, "counts/installed") == 1;
}

/* The agent's own certificate opens the TLS link; a renew_csr job comes through it, and
   once its report is acknowledged the link starts again presenting the new certificate. */
static void test_tls_link_renew(void **state)
{
    (void) state;
    cf_itest_real_enroll("ag-t1", s_token, s_tls_ep);
    char old[65], out[CF_ITEST_FLEET_BODY], id[33], pat[120];
    snprintf(old, sizeof(old), "%s", cf_itest_real_fpr("ag-t1"));
    s_spawn("ag-t1", "127.0.0.21");
    s_wait_log("ag-t1", "broker=tls://127.0.0.1:[0-9]+ relay=tcp://127.0.0.1:", 1);
    s_wait_log("ag-t1", "broker=up", 1);
    s_wait_log("ag-t1", "checkin=ok", 2);
    assert_true(
        cf_itest_broker_metric_wait(&s_b, "cf_broker_tls_relayed_total{side=\"agents\"}", 1));
    assert_true(cf_itest_broker_metric_wait(&s_b, "cf_broker_connected_agents", 1));
    /* the next check-in is 300 s away: the job can only come through the TLS link */
    assert_int_equal(cf_itest_fleet_admin(&s->a, "POST", "/api/v1/jobs",
                                          "{\"type\":\"renew_csr\",\"agents\":[\"ag-t1\"]}", out),
                     201);
    json_t *j = cf_itest_fleet_json(out);
    snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    s_job_t w = {id};
    assert_true(cf_test_wait_until(s_installed, &w, 20000));
    assert_string_not_equal(cf_itest_real_fpr("ag-t1"), old);
    snprintf(pat, sizeof(pat), "report=acked job=%s", id);
    s_log_t https = {"ag-t1", pat, 1};
    assert_false(s_log_has(&https)); /* reported through the broker */
    /* the link restarts with the renewed certificate and comes up again through TLS */
    s_wait_log("ag-t1", "certificate=changed link=restart", 1);
    s_wait_log("ag-t1", "broker=up", 2);
    assert_true(
        cf_itest_broker_metric_wait(&s_b, "cf_broker_tls_relayed_total{side=\"agents\"}", 2));
    assert_int_equal(cf_itest_broker_metric(&s_b, "cf_broker_drops_total{reason=\"identity\"}"), 0);
    s_sigterm();
}

/* Replace agent.json's broker list (NULL-terminated). */
static void s_set_brokers(const char *id, const char *const *brokers)
{
    char path[800];
    snprintf(path, sizeof(path), "%s/agent.json", cf_itest_real_dir(id));
    json_t *conf = json_load_file(path, 0, NULL);
    assert_non_null(conf);
    json_t *arr = json_array();
    for (size_t i = 0; brokers[i]; i++)
        json_array_append_new(arr, json_string(brokers[i]));
    json_object_set_new(conf, "brokers", arr);
    char *text = json_dumps(conf, JSON_COMPACT);
    cf_test_write_file(path, text, strlen(text));
    free(text);
    json_decref(conf);
}

/* An agent without a certificate (push mode) cannot use a tls:// broker: with only that
   entry it polls; SIGHUP after agent.json gained a tcp:// entry: the link starts on it;
   SIGHUP without a change, and with a damaged agent.json, keeps it running. */
static void test_no_cert_skips_tls_and_sighup(void **state)
{
    (void) state;
    cf_itest_real_enroll_ex("ag-t2", s_token, s_tls_ep, 1);
    s_spawn("ag-t2", "127.0.0.22");
    s_wait_log("ag-t2", "tls=skipped why=\"the agent has no certificate yet", 1);
    s_wait_log("ag-t2", "usable=0 link=none mode=polling", 1);
    s_wait_log("ag-t2", "checkin=ok", 1);
    const char *both[] = {s_tls_ep, s_tcp_ep, NULL};
    s_set_brokers("ag-t2", both);
    assert_int_equal(kill(s_agent, SIGHUP), 0);
    s_wait_log("ag-t2",
               "reload=done agent.json=changed servers=[0-9]+ favorite=[^ ]+ "
               "brokers=2\\(changed\\)",
               1);
    s_wait_log("ag-t2", "tls=skipped", 2);
    s_wait_log("ag-t2", "brokers=1 link=started", 1);
    s_wait_log("ag-t2", "broker=up", 1);
    s_wait_log("ag-t2", "checkin=ok", 3); /* after the reload, and when the link came up */
    /* nothing changed: re-read, no restart of the link */
    assert_int_equal(kill(s_agent, SIGHUP), 0);
    s_wait_log("ag-t2", "reload=done agent.json=unchanged", 1);
    s_log_t restart = {"ag-t2", "brokers=changed link=restart", 2};
    assert_false(s_log_has(&restart));
    /* a damaged agent.json: refused, the running configuration kept */
    char path[800];
    snprintf(path, sizeof(path), "%s/agent.json", cf_itest_real_dir("ag-t2"));
    cf_test_write_file(path, "{\"id\":", 6);
    assert_int_equal(kill(s_agent, SIGHUP), 0);
    s_wait_log("ag-t2", "reload=failed why=.* kept=running-configuration", 1);
    assert_int_equal(cf_itest_exit_code(s_agent, 0), -1); /* still running */
    s_sigterm();
    s_wait_log("ag-t2", "agent=ag-t2 stopped", 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls_link_renew),
        cmocka_unit_test(test_no_cert_skips_tls_and_sighup),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
