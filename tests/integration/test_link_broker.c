/*  test_link_broker - end to end over a real cf-broker: cf-server --broker links to it (its
    key reaches the broker through Redis; a refused first handshake is retried), an agent's
    HELLO through the broker brings its open job back, signed for it and sealed to its
    CURVE key; its RECEIPT and REPORT are stored and ACKed back through the broker  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "cf_ca.h"
#include "cf_db_agent.h"
#include "cf_db_job.h"
#include "cf_db_meta.h"
#include "cf_itest_broker.h"
#include "cf_itest_https.h"
#include "cf_itest_server.h"
#include "cf_job_fsm.h"
#include "cf_mem.h"

#define S_ALIAS  "srv-e"
#define S_AGENT  "pc-1"
#define S_AGENT2 "pc-2" /* has a key, never connects */
#define S_PASS   "e2e-admin-pass"

static cf_itest_broker_t s_b;
static cf_itest_server_t s_srv;
static cf_curve_keypair_t s_kp, s_kp2;
static zsock_t *s_agent;  /* pc-1's link to the broker, from test_usage on */
static char s_token[512]; /* an admin session */
static cf_ca_t *s_ca;

static cf_err_t s_never_seen(void *ctx, const char *job_id)
{
    (void) ctx;
    (void) job_id;
    return CF_OK;
}

/* The deployment's CA, opened with the secret --init used. */
static void s_open_ca(void)
{
    char path[700];
    cf_seal_t *seal = NULL;
    cf_cert_t *cert = NULL;
    cf_key_t *key = NULL;
    snprintf(path, sizeof(path), "%s/secret", s_b.dir);
    assert_int_equal(cf_seal_load_file(path, 0, &seal, NULL), CF_OK);
    assert_int_equal(cf_db_ca_get(s_b.store, seal, &cert, &key), CF_OK);
    assert_int_equal(cf_ca_load(cert, key, &s_ca), CF_OK);
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
    cf_seal_destroy(&seal);
}

/* curl to the server (TLS, no client certificate: allow-plain is on after --init) with the
   admin session when there is one; the status, the answer in out (4096 bytes). */
static int s_call(const char *method, const char *path, const char *body, char *out)
{
    char args[3072], h[700] = "";
    if (s_token[0])
        snprintf(h, sizeof(h), "-H 'Authorization: Bearer %s' ", s_token);
    snprintf(args, sizeof(args),
             "--cacert ca.pem --resolve %s:%d:127.0.0.1 -X %s %s-H 'Content-Type: "
             "application/json' -d '%s' 'https://%s:%d%s'",
             S_ALIAS, s_srv.port, method, h, body, S_ALIAS, s_srv.port, path);
    return cf_itest_curl(s_b.dir, args, out, 4096);
}

static void s_login(void)
{
    char path[700], out[4096];
    snprintf(path, sizeof(path), "%s/ca.pem", s_b.dir);
    cf_itest_ca_write(s_ca, path);
    assert_int_equal(
        s_call("POST", "/api/v1/login", "{\"user\":\"admin\",\"password\":\"" S_PASS "\"}", out),
        200);
    json_t *j = json_loads(out, 0, NULL);
    snprintf(s_token, sizeof(s_token), "%s", json_string_value(json_object_get(j, "token")));
    json_decref(j);
}

static int s_setup(void **state)
{
    (void) state;
    signal(SIGPIPE, SIG_IGN);
    assert_int_equal(cf_curve_keypair_new(&s_kp), CF_OK);
    assert_int_equal(cf_curve_keypair_new(&s_kp2), CF_OK);
    static const cf_allow_kind_t kinds[] = {CF_ALLOW_AGENT, CF_ALLOW_AGENT};
    static const char *const names[] = {S_AGENT, S_AGENT2};
    cf_curve_keypair_t keys[2] = {s_kp, s_kp2};
    cf_itest_broker_start(&s_b, "link_broker", kinds, names, keys, 2);
    char path[700], broker[CF_CURVE_TEXT_MAX + 1];
    snprintf(path, sizeof(path), "%s/secret", s_b.dir);
    assert_int_equal(cf_seal_generate_file(path, "e2e-1", NULL), CF_OK);
    assert_int_equal(cf_test_sh("cd '%s' && umask 077 && printf '" S_PASS "' >admin.pass", s_b.dir),
                     0);
    snprintf(path, sizeof(path), "%s/admin.pass", s_b.dir);
    assert_int_equal(cf_curve_broker_format(&s_b.servers, broker, sizeof(broker)), CF_OK);
    const char *extra[] = {"--init", "--admin-password-file", path,    "--broker",
                           broker,   "--log-level",           "debug", NULL};
    if (cf_itest_server_start(&s_srv, s_b.dir, s_b.redis.port, S_ALIAS, extra) != CF_OK)
        fail_msg("cf-server did not start; see %s", s_srv.log);
    s_open_ca();
    cf_db_checkin_t in = {S_AGENT,
                          CF_DB_LOCK_INSECURE,
                          (int64_t) time(NULL),
                          "127.0.0.1",
                          "e2e",
                          NULL,
                          NULL,
                          0,
                          S_ALIAS,
                          0};
    assert_int_equal(cf_db_agent_checkin(s_b.store, &in, NULL), CF_OK);
    in.id = S_AGENT2;
    assert_int_equal(cf_db_agent_checkin(s_b.store, &in, NULL), CF_OK);
    s_login();
    /* the broker learnt the server's key from Redis and the link is up */
    if (!cf_itest_server_log_wait(&s_srv, "broker link up", 15000))
        fail_msg("the link did not come up; see %s", s_srv.log);
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    zsock_destroy(&s_agent);
    cf_itest_server_stop(&s_srv, SIGTERM);
    cf_ca_destroy(&s_ca);
    cf_itest_broker_stop(&s_b);
    return 0;
}

/* A job for the agent in Redis; its id into id (33 bytes). */
static void s_job(char *id)
{
    unsigned char rnd[16];
    assert_int_equal(RAND_bytes(rnd, sizeof(rnd)), 1);
    rnd[0] |= 1;
    for (int i = 0; i < 16; i++)
        snprintf(id + 2 * i, 3, "%02x", rnd[i]);
    const char *agents[] = {S_AGENT};
    int64_t now = (int64_t) time(NULL);
    cf_db_job_spec_t spec = {id, CF_JOB_TYPE_INSTALL_CERT, now,   now + 3600, S_ALIAS, "admin",
                             1,  "{\"form\":\"pem\"}",     "e2e", agents,     1,       {0, 0, 0, 0},
                             0};
    cf_db_job_made_t made = {0};
    assert_int_equal(cf_db_job_create(s_b.store, &spec, &made), CF_OK);
    cf_db_job_made_clear(&made);
}

/* The agent says HELLO (again while nothing comes) until its JOB for id arrives. */
static void s_hello_until_job(zsock_t *agent, const char *id, cf_msg_t *job)
{
    for (int tries = 0; tries < 5; tries++) {
        cf_msg_t m;
        cf_msg_init(&m, CF_MSG_HELLO);
        snprintf(m.agent, sizeof(m.agent), S_AGENT);
        m.proto = 1;
        cf_itest_broker_send(agent, &m);
        cf_msg_clear(&m);
        while (cf_itest_broker_recv(agent, 2000, job) == CF_OK) {
            if (job->type == CF_MSG_JOB && strcmp(job->job_id, id) == 0)
                return;
            cf_msg_clear(job);
        }
    }
    fail_msg("no JOB came through the broker; see %s and %s", s_srv.log, s_b.log);
}

static void s_fact(zsock_t *agent, cf_msg_type_t type, const char *id)
{
    cf_msg_t m;
    cf_msg_init(&m, type);
    snprintf(m.agent, sizeof(m.agent), S_AGENT);
    snprintf(m.job_id, sizeof(m.job_id), "%s", id);
    m.outcome = CF_MSG_INSTALLED;
    cf_itest_broker_send(agent, &m);
    cf_msg_clear(&m);
    cf_itest_broker_expect(agent, CF_MSG_ACK, &m);
    assert_string_equal(m.job_id, id);
    assert_int_equal(m.ack_of, type);
    cf_msg_clear(&m);
}

static void test_usage(void **state)
{
    (void) state;
    char id[CF_JOB_ID_HEX + 1];
    s_job(id);
    s_agent = cf_itest_broker_agent(&s_b, &s_kp, S_AGENT);
    zsock_t *agent = s_agent;
    cf_msg_t m;
    s_hello_until_job(agent, id, &m);
    cf_job_t *job = NULL;
    cf_why_t why = {""};
    cf_err_t rc = cf_job_verify(m.job, m.job_len, cf_ca_cert(s_ca), S_AGENT, time(NULL),
                                s_never_seen, NULL, &job, &why);
    if (rc != CF_OK)
        fail_msg("the agent refuses the job: %s", cf_why_text(&why, rc));
    char *key = NULL;
    size_t klen = 0;
    assert_int_equal(cf_job_open_key(job, s_kp.pub, s_kp.sec, &key, &klen), CF_OK);
    cf_mem_free_secret(key, klen);
    cf_job_destroy(&job);
    cf_msg_clear(&m);
    s_fact(agent, CF_MSG_RECEIPT, id);
    s_fact(agent, CF_MSG_REPORT, id);
    cf_db_job_t j;
    assert_int_equal(cf_db_job_get(s_b.store, id, &j), CF_OK);
    assert_int_equal(j.n[CF_JOB_INSTALLED], 1);
    assert_true(j.done > 0);
}

/* The id of a job created with POST /jobs (body), into id. */
static void s_post_job(const char *body, char *id)
{
    char out[4096];
    int status = s_call("POST", "/api/v1/jobs", body, out);
    if (status != 201)
        fail_msg("POST /jobs: %d %s", status, out);
    json_t *j = json_loads(out, 0, NULL);
    snprintf(id, CF_JOB_ID_HEX + 1, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
}

/* A job created over the API goes out at once (cf_link_send_job): a connected agent gets
   it without saying HELLO; for one that is not connected the broker answers offline and
   the entry stays pending for its check-in. */
static void test_api_job_pushed(void **state)
{
    (void) state;
    char id[CF_JOB_ID_HEX + 1], id2[CF_JOB_ID_HEX + 1];
    s_post_job("{\"type\":\"set_favorite\",\"agents\":[\"" S_AGENT "\"],\"favorite\":\"" S_ALIAS
               "\"}",
               id);
    cf_msg_t m;
    cf_itest_broker_expect(s_agent, CF_MSG_JOB, &m);
    assert_string_equal(m.job_id, id);
    cf_msg_clear(&m);
    s_post_job("{\"type\":\"recheck\",\"agents\":[\"" S_AGENT2 "\"]}", id2);
    assert_true(cf_itest_server_log_wait(&s_srv, "agent offline at broker; job waits", 8000));
    cf_db_job_t j;
    assert_int_equal(cf_db_job_get(s_b.store, id2, &j), CF_OK);
    assert_int_equal(j.n[CF_JOB_PENDING], 1);
}

/* The agent that was not connected comes on line without saying HELLO (what a quick
   reconnect looks like from the server): the link sends its open jobs again a few seconds
   after the "offline" answer (cf_link_retry.h), so the job does not wait for its check-in. */
static void test_offline_retried(void **state)
{
    (void) state;
    zsock_t *agent2 = cf_itest_broker_agent(&s_b, &s_kp2, S_AGENT2);
    cf_msg_t m;
    cf_err_t rc = CF_ERR_NOTFOUND;
    for (int i = 0; i < 4 && rc != CF_OK; i++) /* the first retry: 5..6.25 s after */
        rc = cf_itest_broker_recv(agent2, CF_ITEST_BROKER_WAIT_MS, &m);
    if (rc != CF_OK)
        fail_msg("the job of the agent that was offline was not sent again; see %s", s_srv.log);
    assert_int_equal(m.type, CF_MSG_JOB);
    assert_string_equal(m.agent, S_AGENT2);
    cf_msg_clear(&m);
    assert_true(cf_itest_server_log_wait(&s_srv, "open jobs sent again after offline", 5000));
    zsock_destroy(&agent2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_api_job_pushed),
        cmocka_unit_test(test_offline_retried),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
