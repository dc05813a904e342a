/*  test_link - cf-server's broker link against a stand-in broker (a CURVE ROUTER): the key
    registered before connecting, HELLO records proto and broker and sends open jobs that
    verify as the agent checks them (sealed key opens with the agent's CURVE secret only),
    RECEIPT and REPORT stored and ACKed (also unknown jobs), too_old upgraded by HELLO,
    ERROR offline leaves the entry pending, cf_link_send_job from an in-process link (a job
    to all: one shared copy for the level-3 agents)  */
#include "cf_test.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cf_app_int.h"
#include "cf_db_agent.h"
#include "cf_db_cert.h"
#include "cf_db_curve.h"
#include "cf_db_job.h"
#include "cf_itest_link.h"
#include "cf_link.h"
#include "cf_mem.h"

static cf_itest_link_t *const s = &cf_itest_link;

static int s_setup(void **state)
{
    (void) state;
    return cf_itest_link_setup("link");
}

/* Send a fact (RECEIPT, or REPORT with outcome and reason) for agent and job as the broker
   forwards it; expect the server's ACK of it. */
static void s_fact(cf_msg_type_t type, const char *agent, const char *job_id,
                   cf_msg_outcome_t outcome, const char *reason)
{
    cf_msg_t m;
    cf_msg_init(&m, type);
    snprintf(m.agent, sizeof(m.agent), "%s", agent);
    snprintf(m.job_id, sizeof(m.job_id), "%s", job_id);
    m.outcome = outcome;
    snprintf(m.text, sizeof(m.text), "%s", reason ? reason : "");
    cf_itest_link_send(CF_ITEST_LINK_RID, &m);
    cf_msg_clear(&m);
    assert_true(cf_itest_link_expect(CF_ITEST_LINK_WAIT, CF_MSG_ACK, agent, job_id, &m));
    assert_int_equal(m.ack_of, type);
    cf_msg_clear(&m);
}

/* A marker: a report for a job nobody has. Everything the server sent before its ACK
   (on the same link, in order) is handed to fn; returns the number of JOBs for job_id. */
static int s_jobs_until_marker(const char *agent, const char *job_id)
{
    static const char marker[] = "0000000000000000000000000000beef";
    cf_msg_t m;
    cf_msg_init(&m, CF_MSG_REPORT);
    snprintf(m.agent, sizeof(m.agent), "%s", agent);
    snprintf(m.job_id, sizeof(m.job_id), "%s", marker);
    m.outcome = CF_MSG_INSTALLED;
    cf_itest_link_send(CF_ITEST_LINK_RID, &m);
    cf_msg_clear(&m);
    int jobs = 0;
    for (;;) {
        assert_true(cf_itest_link_recv(CF_ITEST_LINK_WAIT, &m, NULL));
        int done = m.type == CF_MSG_ACK && strcmp(m.job_id, marker) == 0;
        jobs += m.type == CF_MSG_JOB && strcmp(m.job_id, job_id) == 0;
        cf_msg_clear(&m);
        if (done)
            return jobs;
    }
}

static void test_usage(void **state)
{
    (void) state;
    /* the link registered its key (the stand-in allowed it from Redis and shook hands) */
    unsigned char pub[CF_CURVE_KEY_LEN];
    assert_int_equal(cf_db_curve_get(s->store, CF_ALLOW_SERVER, CF_ITEST_LINK_ALIAS, pub), CF_OK);
    /* an install job for three agents, created in Redis */
    const char *agents[] = {"agent-1", "agent-2", "agent-3"};
    char id[CF_JOB_ID_HEX + 1];
    cf_itest_link_job(CF_JOB_TYPE_INSTALL_CERT, "{\"cert\":\"shared\",\"form\":\"pem\"}", 1, agents,
                      3, id);
    /* agent-1 says HELLO through the broker: its open job comes back, signed for it */
    cf_itest_link_hello(CF_ITEST_LINK_RID, "agent-1", 1);
    cf_msg_t m;
    assert_true(cf_itest_link_expect(CF_ITEST_LINK_WAIT, CF_MSG_JOB, "agent-1", id, &m));
    cf_job_t *job = cf_itest_link_verify(&m, 0);
    assert_string_equal(cf_job_issuer(job), CF_ITEST_LINK_ALIAS);
    assert_int_equal(cf_job_type(job), CF_JOB_TYPE_INSTALL_CERT);
    char *key = NULL;
    size_t klen = 0;
    assert_int_equal(cf_job_open_key(job, s->agent_kp[0].pub, s->agent_kp[0].sec, &key, &klen),
                     CF_OK);
    assert_non_null(strstr(key, "PRIVATE KEY"));
    cf_mem_free_secret(key, klen);
    /* another agent's CURVE key cannot open it */
    assert_int_equal(cf_job_open_key(job, s->agent_kp[1].pub, s->agent_kp[1].sec, &key, &klen),
                     CF_ERR_SECRET);
    cf_job_destroy(&job);
    cf_msg_clear(&m);
    /* the receipt and the report are stored, each acknowledged */
    s_fact(CF_MSG_RECEIPT, "agent-1", id, 0, NULL);
    assert_string_equal(cf_itest_link_state(id, "agent-1"), "delivered");
    s_fact(CF_MSG_REPORT, "agent-1", id, CF_MSG_INSTALLED, NULL);
    assert_string_equal(cf_itest_link_state(id, "agent-1"), "installed");
    assert_string_equal(cf_itest_link_state(id, "agent-2"), "pending");
}

static void test_hello_records_broker(void **state)
{
    (void) state;
    cf_itest_link_hello(CF_ITEST_LINK_RID, "agent-2", 1);
    assert_int_equal(s_jobs_until_marker("agent-2", ""), 0);
    unsigned proto = 0;
    unsigned char broker[CF_CURVE_KEY_LEN];
    int has = 0;
    assert_int_equal(cf_db_job_agent_link(s->store, "agent-2", &proto, broker, &has), CF_OK);
    assert_int_equal(has, 1);
    assert_memory_equal(broker, s->broker->broker.pub, CF_CURVE_KEY_LEN);
    assert_int_equal(proto, 1);
    /* an unknown agent's HELLO is dropped; the link goes on */
    cf_itest_link_hello(CF_ITEST_LINK_RID, "agent-99", 1);
    assert_int_equal(s_jobs_until_marker("agent-2", ""), 0);
}

static void test_facts_always_acked(void **state)
{
    (void) state;
    const char *agents[] = {"agent-2", "agent-4"};
    char id[CF_JOB_ID_HEX + 1];
    cf_itest_link_job(CF_JOB_TYPE_RECHECK, "{}", 1, agents, 2, id);
    /* a failure with its reason */
    s_fact(CF_MSG_REPORT, "agent-2", id, CF_MSG_FAILED, "disk full");
    assert_string_equal(cf_itest_link_state(id, "agent-2"), "failed");
    /* the same report again: no change, still acked */
    s_fact(CF_MSG_REPORT, "agent-2", id, CF_MSG_FAILED, "disk full");
    /* a receipt after the failure: no change, acked */
    s_fact(CF_MSG_RECEIPT, "agent-2", id, 0, NULL);
    assert_string_equal(cf_itest_link_state(id, "agent-2"), "failed");
    /* an agent that is not a target, a job that does not exist: acked */
    s_fact(CF_MSG_RECEIPT, "agent-1", id, 0, NULL);
    s_fact(CF_MSG_REPORT, "agent-1", "7777777777777777777777777777777f", CF_MSG_INSTALLED, NULL);
    assert_string_equal(cf_itest_link_state(id, "agent-4"), "pending");
}

/* Many facts in one burst: the link stores them in batches and acks each. */
static void test_burst(void **state)
{
    (void) state;
    const char *agents[] = {"agent-1", "agent-2", "agent-3", "agent-4"};
    char ids[20][CF_JOB_ID_HEX + 1];
    for (int i = 0; i < 20; i++)
        cf_itest_link_job(CF_JOB_TYPE_RENEW_CSR, "{}", 1, agents, 4, ids[i]);
    cf_msg_t m;
    for (int i = 0; i < 20; i++) {
        for (int a = 0; a < 4; a++) {
            cf_msg_init(&m, CF_MSG_RECEIPT);
            snprintf(m.agent, sizeof(m.agent), "%s", agents[a]);
            memcpy(m.job_id, ids[i], sizeof(m.job_id));
            cf_itest_link_send(CF_ITEST_LINK_RID, &m);
            cf_msg_clear(&m);
        }
    }
    int acks = 0;
    while (acks < 80 && cf_itest_link_recv(CF_ITEST_LINK_WAIT, &m, NULL)) {
        acks += m.type == CF_MSG_ACK && m.ack_of == CF_MSG_RECEIPT;
        cf_msg_clear(&m);
    }
    assert_int_equal(acks, 80);
    for (int i = 0; i < 20; i++)
        assert_string_equal(cf_itest_link_state(ids[i], agents[i % 4]), "delivered");
}

static void test_too_old_upgrade(void **state)
{
    (void) state;
    const char *agents[] = {"agent-4"};
    char id[CF_JOB_ID_HEX + 1];
    cf_itest_link_job(CF_JOB_TYPE_SET_FAVORITE, "{\"favorite\":\"srv-x\"}", 2, agents, 1, id);
    assert_string_equal(cf_itest_link_state(id, "agent-4"), "too_old");
    /* level 1: not sent, still too_old */
    cf_itest_link_hello(CF_ITEST_LINK_RID, "agent-4", 1);
    assert_int_equal(s_jobs_until_marker("agent-4", id), 0);
    assert_string_equal(cf_itest_link_state(id, "agent-4"), "too_old");
    /* level 2: upgraded to pending and sent */
    cf_itest_link_hello(CF_ITEST_LINK_RID, "agent-4", 2);
    cf_msg_t m;
    assert_true(cf_itest_link_expect(CF_ITEST_LINK_WAIT, CF_MSG_JOB, "agent-4", id, &m));
    assert_string_equal(cf_itest_link_state(id, "agent-4"), "pending");
    cf_job_t *job = NULL;
    cf_why_t why = {""};
    /* the agent at level 2 accepts it (the verifier's own level is CF_JOB_PROTO: parse only) */
    assert_int_equal(cf_job_parse(m.job, m.job_len, &job, &why), CF_OK);
    assert_int_equal(cf_job_min_proto(job), 2);
    assert_string_equal(cf_job_favorite(job), "srv-x");
    cf_job_destroy(&job);
    cf_msg_clear(&m);
}

static void test_offline_leaves_pending(void **state)
{
    (void) state;
    const char *agents[] = {"agent-2"};
    char id[CF_JOB_ID_HEX + 1];
    cf_itest_link_job(CF_JOB_TYPE_RECHECK, "{}", 1, agents, 1, id);
    cf_itest_link_hello(CF_ITEST_LINK_RID, "agent-2", 1);
    cf_msg_t m;
    assert_true(cf_itest_link_expect(CF_ITEST_LINK_WAIT, CF_MSG_JOB, "agent-2", id, &m));
    cf_msg_clear(&m);
    /* the broker does not hold agent-2 (it went away): ERROR offline */
    cf_msg_init(&m, CF_MSG_ERROR);
    m.error = CF_MSG_ERR_OFFLINE;
    snprintf(m.agent, sizeof(m.agent), "agent-2");
    snprintf(m.job_id, sizeof(m.job_id), "%s", id);
    snprintf(m.text, sizeof(m.text), "agent not connected");
    cf_itest_link_send(CF_ITEST_LINK_RID, &m);
    cf_msg_clear(&m);
    assert_int_equal(s_jobs_until_marker("agent-2", id), 0);
    assert_string_equal(cf_itest_link_state(id, "agent-2"), "pending");
    assert_true(cf_itest_server_log_wait(&s->srv, "agent offline at broker; job waits",
                                         CF_ITEST_LINK_WAIT));
}

/* ---- cf_link_send_job: an in-process link as server srv-t ------------------------------- */

/* srv-t's certificate in Redis (the signer), an app and a link to the stand-in. */
/* The stand-in broker saw the link's handshake succeed: the first try may be refused (the
   key reaches the ZAP list after the link starts; the link reopens it after 1 s, later
   ones after longer): wait well past that on a loaded machine. */
static int s_link_handshake(void)
{
    for (int i = 0; i < 5; i++)
        if (cf_itest_zap_mon_wait(s->broker->mon, ZMQ_EVENT_HANDSHAKE_SUCCEEDED, NULL))
            return 1;
    return 0;
}

static cf_link_t *s_inproc(cf_app_t **app, cf_store_cfg_t *scfg)
{
    return cf_itest_link_inproc("srv-t", 0, app, scfg);
}

/* The key srv-t has in Redis, as Z85. */
static void s_srv_t_key(unsigned char pub[CF_CURVE_KEY_LEN], char z85[CF_CURVE_Z85_LEN + 1])
{
    assert_int_equal(cf_db_curve_get(s->store, CF_ALLOW_SERVER, "srv-t", pub), CF_OK);
    cf_curve_z85_encode(pub, z85);
}

typedef struct {
    cf_app_t *app;          /* whose counter */
    cf_app_counter_t which; /* which */
    uint64_t want;          /* at least this */
} s_count_t;

static int s_counted(void *arg)
{
    s_count_t *c = arg;
    return cf_app_counter(c->app, c->which) >= c->want;
}

/* Receive srv-t's JOBs (verifying each; the PKCS#12 of job inst opens with the agent's
   CURVE key) until 5 came or none comes in time; returns how many. */
static int s_inproc_jobs(const char *inst)
{
    int got = 0;
    cf_msg_t m;
    char rid[64];
    while (got < 5 && cf_itest_link_recv(CF_ITEST_LINK_WAIT, &m, rid)) {
        if (m.type == CF_MSG_JOB) {
            assert_string_equal(rid, "server:srv-t");
            size_t i = (size_t) (m.agent[6] - '1');
            cf_job_t *job = cf_itest_link_verify(&m, i);
            assert_string_equal(cf_job_issuer(job), "srv-t");
            if (strcmp(m.job_id, inst) == 0) {
                unsigned char *p12 = NULL;
                size_t len = 0;
                char *pass = NULL;
                assert_true(i != 2);
                assert_int_equal(
                    cf_job_open_p12(job, s->agent_kp[i].pub, s->agent_kp[i].sec, &p12, &len, &pass),
                    CF_OK);
                cf_mem_free_secret(p12, len);
                cf_mem_free_secret_str(pass);
            }
            cf_job_destroy(&job);
            got++;
        }
        cf_msg_clear(&m);
    }
    return got;
}

static void test_send_job_inproc(void **state)
{
    (void) state;
    cf_app_t *app = NULL;
    cf_store_cfg_t scfg;
    cf_link_t *link = s_inproc(&app, &scfg);
    unsigned char pub[CF_CURVE_KEY_LEN];
    char z85[CF_CURVE_Z85_LEN + 1];
    s_srv_t_key(pub, z85);
    assert_string_equal(cf_link_public_z85(link), z85); /* registered before connecting */
    /* the stand-in has not read the new key yet: it refuses the link, which libzmq would
       never reconnect by itself; the link opens it again once the key is allowed */
    uint32_t status = 0;
    assert_true(cf_itest_zap_mon_wait(s->broker->mon, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, &status));
    assert_int_equal(status, 400);
    cf_why_t why = {""};
    assert_int_equal(cf_zap_put(s->broker->zap, pub, CF_ALLOW_SERVER, "srv-t", &why), CF_OK);
    assert_true(s_link_handshake());
    const char *agents[] = {"agent-1", "agent-2", "agent-3"};
    char fav[CF_JOB_ID_HEX + 1], inst[CF_JOB_ID_HEX + 1];
    cf_itest_link_job(CF_JOB_TYPE_SET_FAVORITE, "{\"favorite\":\"srv-t\"}", 1, agents, 3, fav);
    cf_itest_link_job(CF_JOB_TYPE_INSTALL_CERT, "{\"form\":\"p12\"}", 1, agents, 3, inst);
    assert_int_equal(cf_link_send_job(link, fav), CF_OK);
    assert_int_equal(cf_link_send_job(link, inst), CF_OK);
    assert_int_equal(cf_link_send_job(link, "not-a-job-id"), CF_ERR_INVALID);
    /* favorite: all three; install: agent-3 has no CURVE key, nothing can be sealed to it */
    assert_int_equal(s_inproc_jobs(inst), 5);
    s_count_t c = {app, CF_APP_JOBS_SEND_FAILED, 1};
    assert_true(cf_test_wait_until(s_counted, &c, CF_ITEST_LINK_WAIT));
    c.which = CF_APP_JOBS_SENT;
    c.want = 5;
    assert_true(cf_test_wait_until(s_counted, &c, CF_ITEST_LINK_WAIT));
    assert_int_equal(cf_app_counter(app, CF_APP_JOBS_SENT), 5);
    /* a new start makes a new key and replaces the old one */
    cf_link_destroy(&link);
    cf_link_destroy(&link); /* safe to repeat */
    cf_link_cfg_t lcfg = {&scfg, app, &s->broker->broker, 1, NULL, 0, 0};
    assert_int_equal(cf_link_new(&lcfg, &link, &why), CF_OK);
    char z85b[CF_CURVE_Z85_LEN + 1];
    s_srv_t_key(pub, z85b);
    assert_string_not_equal(z85, z85b);
    assert_string_equal(cf_link_public_z85(link), z85b);
    cf_link_destroy(&link);
    /* no brokers: refused */
    lcfg.n_brokers = 0;
    assert_int_equal(cf_link_new(&lcfg, &link, &why), CF_ERR_INVALID);
    assert_null(link);
    cf_app_destroy(&app);
}

/* Agents prefix0..prefix<n-1> checked in (records in Redis); their ids into ids/agents. */
static void s_checked_in(const char *prefix, char (*ids)[16], const char **agents, int n)
{
    for (int i = 0; i < n; i++) {
        snprintf(ids[i], sizeof(ids[i]), "%s%d", prefix, i);
        agents[i] = ids[i];
        cf_db_checkin_t in = {ids[i],
                              CF_DB_LOCK_INSECURE,
                              (int64_t) time(NULL),
                              "127.0.0.1",
                              "test",
                              NULL,
                              NULL,
                              0,
                              "srv-t",
                              0};
        assert_int_equal(cf_db_agent_checkin(s->store, &in, NULL), CF_OK);
    }
}

/* A link of srv-t whose key the stand-in broker allows, its handshake done. */
static cf_link_t *s_link_up(cf_app_t **app, cf_store_cfg_t *scfg)
{
    cf_link_t *link = s_inproc(app, scfg);
    unsigned char pub[CF_CURVE_KEY_LEN];
    char z85[CF_CURVE_Z85_LEN + 1];
    s_srv_t_key(pub, z85);
    assert_int_equal(cf_zap_put(s->broker->zap, pub, CF_ALLOW_SERVER, "srv-t", NULL), CF_OK);
    assert_true(s_link_handshake());
    return link;
}

/* A job for more agents than one page of the walk: every one gets its JOB. */
static void test_walk_pages(void **state)
{
    (void) state;
    enum { N = 600 };
    static char ids[N][16];
    const char *agents[N];
    s_checked_in("w-", ids, agents, N);
    cf_app_t *app = NULL;
    cf_store_cfg_t scfg;
    cf_link_t *link = s_link_up(&app, &scfg);
    char id[CF_JOB_ID_HEX + 1];
    cf_itest_link_job(CF_JOB_TYPE_RECHECK, "{}", 1, agents, N, id);
    assert_int_equal(cf_link_send_job(link, id), CF_OK);
    static char seen[N];
    memset(seen, 0, sizeof(seen));
    int got = 0;
    cf_msg_t m;
    while (got < N && cf_itest_link_recv(CF_ITEST_LINK_WAIT, &m, NULL)) {
        if (m.type == CF_MSG_JOB && strcmp(m.job_id, id) == 0) {
            int i = atoi(m.agent + 2);
            assert_true(i >= 0 && i < N && !seen[i]); /* each agent once */
            seen[i] = 1;
            got++;
        }
        cf_msg_clear(&m);
    }
    assert_int_equal(got, N);
    s_count_t c = {app, CF_APP_JOBS_SENT, N}; /* counted just after the send */
    assert_true(cf_test_wait_until(s_counted, &c, CF_ITEST_LINK_WAIT));
    cf_link_destroy(&link);
    cf_app_destroy(&app);
}

/* A recheck to all agents: the agents that said level 3 get one shared copy (agent "*",
   the same bytes for each: one signature), the others a copy of their own. */
static void test_walk_shared(void **state)
{
    (void) state;
    enum { N = 10, NEW = 6 };
    static char ids[N][16];
    const char *agents[N];
    s_checked_in("sh-", ids, agents, N);
    for (int i = 0; i < NEW; i++)
        assert_int_equal(
            cf_db_job_upgrade(s->store, ids[i], CF_JOB_PROTO_SHARED, (int64_t) time(NULL), NULL),
            CF_OK);
    cf_app_t *app = NULL;
    cf_store_cfg_t scfg;
    cf_link_t *link = s_link_up(&app, &scfg);
    char id[CF_JOB_ID_HEX + 1];
    cf_itest_link_job_to("all", CF_JOB_TYPE_RECHECK, "{}", 1, agents, N, id);
    assert_int_equal(cf_link_send_job(link, id), CF_OK);
    unsigned char *shared = NULL;
    size_t shared_len = 0;
    int got = 0, n_shared = 0;
    cf_msg_t m;
    while (got < N && cf_itest_link_recv(CF_ITEST_LINK_WAIT, &m, NULL)) {
        if (m.type == CF_MSG_JOB && strcmp(m.job_id, id) == 0) {
            int i = atoi(m.agent + 3);
            cf_job_t *job = NULL;
            assert_int_equal(cf_job_parse(m.job, m.job_len, &job, NULL), CF_OK);
            assert_string_equal(cf_job_agent(job), i < NEW ? CF_JOB_AGENT_ALL : m.agent);
            if (i < NEW && !shared) {
                shared = malloc(m.job_len);
                assert_non_null(shared);
                memcpy(shared, m.job, m.job_len);
                shared_len = m.job_len;
            }
            if (i < NEW) /* the very same signed bytes */
                assert_true(m.job_len == shared_len && memcmp(m.job, shared, shared_len) == 0);
            n_shared += i < NEW;
            cf_job_destroy(&job);
            got++;
        }
        cf_msg_clear(&m);
    }
    assert_int_equal(got, N);
    assert_int_equal(n_shared, NEW);
    free(shared);
    /* a job to a list is never shared, whatever the agents speak */
    cf_itest_link_job(CF_JOB_TYPE_RECHECK, "{}", 1, agents, 1, id);
    assert_int_equal(cf_link_send_job(link, id), CF_OK);
    assert_true(cf_itest_link_expect(CF_ITEST_LINK_WAIT, CF_MSG_JOB, agents[0], id, &m));
    cf_job_t *job = NULL;
    assert_int_equal(cf_job_parse(m.job, m.job_len, &job, NULL), CF_OK);
    assert_string_equal(cf_job_agent(job), agents[0]);
    cf_job_destroy(&job);
    cf_msg_clear(&m);
    cf_link_destroy(&link);
    cf_app_destroy(&app);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_hello_records_broker),
        cmocka_unit_test(test_facts_always_acked),
        cmocka_unit_test(test_burst),
        cmocka_unit_test(test_too_old_upgrade),
        cmocka_unit_test(test_offline_leaves_pending),
        cmocka_unit_test(test_send_job_inproc),
        cmocka_unit_test(test_walk_pages),
        cmocka_unit_test(test_walk_shared),
    };
    return cmocka_run_group_tests(tests, s_setup, cf_itest_link_teardown);
}
