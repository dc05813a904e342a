/*  cf_itest_link - broker-link tests' fixture: cf-server --broker and a stand-in broker  */
#include "cf_itest_link.h"

#include "cf_msg_batch.h"

#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "cf_app_int.h"
#include "cf_db_agent.h"
#include "cf_db_cert.h"
#include "cf_db_curve.h"
#include "cf_db_job.h"
#include "cf_db_meta.h"
#include "cf_itest_https.h"
#include "cf_job_fsm.h"
#include "cf_mem.h"
#include "cf_zsock.h"

cf_itest_link_t cf_itest_link;

static cf_itest_link_t *const s = &cf_itest_link;

/* 1 once the server's link key is in Redis (set-up polls it). */
static int s_key_there(void *arg)
{
    return cf_db_curve_get(s->store, CF_ALLOW_SERVER, CF_ITEST_LINK_ALIAS, arg) == CF_OK;
}

static void s_agents(void)
{
    for (int i = 0; i < CF_ITEST_LINK_AGENTS; i++) {
        snprintf(s->agent_id[i], sizeof(s->agent_id[i]), "agent-%d", i + 1);
        cf_db_checkin_t in = {s->agent_id[i],
                              CF_DB_LOCK_INSECURE,
                              (int64_t) time(NULL),
                              "127.0.0.1",
                              "test",
                              NULL,
                              NULL,
                              0,
                              CF_ITEST_LINK_ALIAS,
                              0};
        assert_int_equal(cf_db_agent_checkin(s->store, &in, NULL), CF_OK);
        assert_int_equal(cf_curve_keypair_new(&s->agent_kp[i]), CF_OK);
        if (i != 2) /* agent-3 never enrolled a key */
            assert_int_equal(cf_db_curve_put(s->store, CF_ALLOW_AGENT, s->agent_id[i],
                                             s->agent_kp[i].pub, 0, NULL),
                             CF_OK);
    }
}

/* cf-server with --init and --broker <stand-in>, the test's store, seal and CA. */
static void s_server(void)
{
    char broker[CF_CURVE_TEXT_MAX + 1], pass[600], path[600];
    assert_int_equal(cf_curve_broker_format(&s->broker->broker, broker, sizeof(broker)), CF_OK);
    snprintf(pass, sizeof(pass), "%s/admin.pass", s->dir);
    assert_int_equal(
        cf_test_sh("cd '%s' && umask 077 && printf 'link-admin-pass' >admin.pass", s->dir), 0);
    const char *extra[] = {"--init", "--admin-password-file", pass,    "--broker",
                           broker,   "--log-level",           "debug", NULL};
    if (cf_itest_server_start(&s->srv, s->dir, s->redis.port, CF_ITEST_LINK_ALIAS, extra) != CF_OK)
        fail_msg("cf-server did not start; see %s", s->srv.log);
    s->store = cf_itest_store_at(s->redis.port, NULL);
    cf_why_t why = {""};
    snprintf(path, sizeof(path), "%s/secret", s->dir);
    assert_int_equal(cf_seal_load_file(path, 0, &s->seal, &why), CF_OK);
    cf_cert_t *cert = NULL;
    cf_key_t *key = NULL;
    assert_int_equal(cf_db_ca_get(s->store, s->seal, &cert, &key), CF_OK);
    assert_int_equal(cf_ca_load(cert, key, &s->ca), CF_OK);
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
    snprintf(path, sizeof(path), "%s/ca.pem", s->dir);
    cf_itest_ca_write(s->ca, path);
}

int cf_itest_link_setup(const char *name)
{
    signal(SIGPIPE, SIG_IGN);
    json_set_alloc_funcs(cf_mem_malloc, cf_mem_free);
    memset(s, 0, sizeof(*s));
    cf_test_tmpdir(name, s->dir, sizeof(s->dir));
    assert_int_equal(cf_itest_redis_start(&s->redis, NULL), CF_OK);
    char path[600];
    cf_why_t why = {""};
    snprintf(path, sizeof(path), "%s/secret", s->dir);
    assert_int_equal(cf_seal_generate_file(path, "link-1", &why), CF_OK);
    s->broker = cf_itest_zap_start(NULL);
    s_server();
    /* the key is in Redis before the link connects: the stand-in's ZAP lets it in */
    unsigned char pub[CF_CURVE_KEY_LEN];
    assert_true(cf_test_wait_until(s_key_there, pub, CF_ITEST_LINK_WAIT));
    assert_int_equal(cf_zap_put(s->broker->zap, pub, CF_ALLOW_SERVER, CF_ITEST_LINK_ALIAS, &why),
                     CF_OK);
    assert_true(cf_itest_zap_mon_wait(s->broker->mon, ZMQ_EVENT_HANDSHAKE_SUCCEEDED, NULL) ||
                cf_itest_zap_mon_wait(s->broker->mon, ZMQ_EVENT_HANDSHAKE_SUCCEEDED, NULL));
    s_agents();
    return 0;
}

/* Messages of a BATCH from the server not yet handed out, oldest first (one thread). */
#define S_PENDING_MAX 4096
static struct {
    char rid[64]; /* the server's routing id */
    cf_msg_t m;   /* the message (owned) */
} s_pending[S_PENDING_MAX];
static size_t s_n_pending, s_first_pending;

static int s_pop(cf_msg_t *m, char *rid)
{
    if (s_first_pending == s_n_pending)
        return 0;
    *m = s_pending[s_first_pending].m;
    if (rid)
        snprintf(rid, 64, "%s", s_pending[s_first_pending].rid);
    if (++s_first_pending == s_n_pending)
        s_first_pending = s_n_pending = 0;
    return 1;
}

int cf_itest_link_teardown(void **state)
{
    (void) state;
    cf_msg_t left;
    while (s_pop(&left, NULL)) /* a batch's messages no test asked for */
        cf_msg_clear(&left);
    cf_itest_server_stop(&s->srv, SIGTERM);
    cf_itest_zap_stop();
    cf_ca_destroy(&s->ca);
    cf_seal_destroy(&s->seal);
    cf_store_destroy(&s->store);
    cf_itest_redis_stop(&s->redis);
    return 0;
}

void cf_itest_link_send(const char *rid, const cf_msg_t *m)
{
    cf_msg_frames_t f;
    cf_why_t why = {""};
    cf_err_t rc = cf_msg_encode(m, &f, &why);
    if (rc != CF_OK)
        fail_msg("encode: %s", cf_why_text(&why, rc));
    zmsg_t *zm = zmsg_new();
    assert_int_equal(zmsg_addmem(zm, f.data[0], f.len[0]), 0);
    assert_int_equal(zmsg_addmem(zm, f.data[1], f.len[1]), 0);
    cf_msg_frames_clear(&f);
    assert_int_equal(cf_zsock_send_to(s->broker->router, rid, strlen(rid), &zm), CF_OK);
}

int cf_itest_link_recv(int wait_ms, cf_msg_t *m, char *rid)
{
    if (s_pop(m, rid))
        return 1;
    zmq_pollitem_t it = {zsock_resolve(s->broker->router), 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, wait_ms) <= 0)
        return 0;
    zmsg_t *zm = NULL;
    assert_int_equal(
        cf_zsock_recv(s->broker->router, 3, CF_MSG_BATCH_MAX_WIRE + 256, ZMQ_DONTWAIT, &zm, NULL),
        CF_OK);
    assert_int_equal(zmsg_size(zm), 3);
    zframe_t *r = zmsg_first(zm);
    char from[64];
    snprintf(from, sizeof(from), "%.*s", (int) zframe_size(r), (const char *) zframe_data(r));
    cf_msg_frame_t fr[2];
    for (int i = 0; i < 2; i++) {
        zframe_t *f = zmsg_next(zm);
        fr[i].data = zframe_data(f);
        fr[i].len = zframe_size(f);
    }
    cf_why_t why = {""};
    cf_msg_batch_iter_t bit;
    cf_err_t rc = CF_OK;
    if (!cf_msg_batch_is(fr, 2)) {
        rc = cf_msg_decode(fr, 2, &s_pending[s_n_pending].m, &why);
        if (rc == CF_OK)
            snprintf(s_pending[s_n_pending++].rid, 64, "%s", from);
    } else if ((rc = cf_msg_batch_iter_init(&bit, fr, 2, &why)) == CF_OK) {
        cf_msg_frame_t item[2];
        while (rc == CF_OK && cf_msg_batch_next(&bit, item)) {
            assert_true(s_n_pending < S_PENDING_MAX);
            rc = cf_msg_decode(item, 2, &s_pending[s_n_pending].m, &why);
            if (rc == CF_OK)
                snprintf(s_pending[s_n_pending++].rid, 64, "%s", from);
        }
    }
    zmsg_destroy(&zm);
    if (rc != CF_OK)
        fail_msg("the server sent a message that does not decode: %s", cf_why_text(&why, rc));
    return s_pop(m, rid);
}

int cf_itest_link_expect(int wait_ms, cf_msg_type_t type, const char *agent, const char *job_id,
                         cf_msg_t *m)
{
    long deadline = cf_itest_zap_now_ms() + wait_ms;
    for (long left = wait_ms; left > 0; left = deadline - cf_itest_zap_now_ms()) {
        if (!cf_itest_link_recv((int) left, m, NULL))
            return 0;
        if (m->type == type && strcmp(m->agent, agent) == 0 &&
            (!job_id[0] || strcmp(m->job_id, job_id) == 0))
            return 1;
        cf_msg_clear(m);
    }
    return 0;
}

void cf_itest_link_hello(const char *rid, const char *agent, unsigned proto)
{
    cf_msg_t m;
    cf_msg_init(&m, CF_MSG_HELLO);
    snprintf(m.agent, sizeof(m.agent), "%s", agent);
    m.proto = proto;
    snprintf(m.text, sizeof(m.text), "certfleet-agent test");
    cf_itest_link_send(rid, &m);
    cf_msg_clear(&m);
}

void cf_itest_link_job(cf_job_type_t type, const char *params, unsigned min_proto,
                       const char *const *agents, size_t n, char *id_out)
{
    cf_itest_link_job_to("test", type, params, min_proto, agents, n, id_out);
}

void cf_itest_link_job_to(const char *target, cf_job_type_t type, const char *params,
                          unsigned min_proto, const char *const *agents, size_t n, char *id_out)
{
    unsigned char rnd[16];
    assert_int_equal(RAND_bytes(rnd, sizeof(rnd)), 1);
    rnd[0] |= 1;
    for (int i = 0; i < 16; i++)
        snprintf(id_out + 2 * i, 3, "%02x", rnd[i]);
    int64_t now = (int64_t) time(NULL);
    cf_db_job_spec_t spec = {id_out,  type,         now,    now + 3600, CF_ITEST_LINK_ALIAS,
                             "admin", min_proto,    params, target,     agents,
                             n,       {0, 0, 0, 0}, 0};
    cf_db_job_made_t made = {0};
    assert_int_equal(cf_db_job_create(s->store, &spec, &made), CF_OK);
    assert_int_equal(made.n_unknown, 0);
    cf_db_job_made_clear(&made);
}

const char *cf_itest_link_state(const char *job_id, const char *agent)
{
    static char state[32];
    state[0] = '\0';
    cf_db_job_entry_t *list = NULL;
    size_t n = 0;
    char cursor[CF_DB_JOB_CURSOR_MAX] = "", next[CF_DB_JOB_CURSOR_MAX] = "";
    do {
        assert_int_equal(
            cf_db_job_agents(s->store, job_id, CF_JOB_STATE_COUNT, cursor, 100, &list, &n, next),
            CF_OK);
        memcpy(cursor, next, sizeof(cursor));
        for (size_t i = 0; i < n; i++) {
            if (strcmp(list[i].agent, agent) == 0)
                snprintf(state, sizeof(state), "%s", cf_job_fsm_state_name(list[i].state));
        }
        cf_mem_free(list);
        list = NULL;
    } while (cursor[0]);
    return state;
}

static cf_err_t s_never_seen(void *ctx, const char *job_id)
{
    (void) ctx;
    (void) job_id;
    return CF_OK;
}

cf_job_t *cf_itest_link_verify(const cf_msg_t *m, size_t i)
{
    cf_job_t *job = NULL;
    cf_why_t why = {""};
    assert_int_equal(m->type, CF_MSG_JOB);
    cf_err_t rc = cf_job_verify(m->job, m->job_len, cf_ca_cert(s->ca), s->agent_id[i], time(NULL),
                                s_never_seen, NULL, &job, &why);
    if (rc != CF_OK)
        fail_msg("the agent refuses the job: %s", cf_why_text(&why, rc));
    assert_string_equal(cf_job_id(job), m->job_id);
    return job;
}

cf_link_t *cf_itest_link_inproc(const char *alias, int hold_ms, cf_app_t **app,
                                cf_store_cfg_t *scfg)
{
    return cf_itest_link_inproc_gather(alias, hold_ms, 0, app, scfg);
}

cf_link_t *cf_itest_link_inproc_gather(const char *alias, int hold_ms, int gather_ms,
                                       cf_app_t **app, cf_store_cfg_t *scfg)
{
    cf_itest_link_t *f = &cf_itest_link;
    cf_issue_t req = {.component = CF_COMPONENT_SERVER, .name = alias};
    cf_cert_t *cert = NULL;
    cf_key_t *key = NULL;
    assert_int_equal(cf_ca_issue(f->ca, &req, &cert, &key), CF_OK);
    cf_db_cert_in_t in = {CF_COMPONENT_SERVER, alias, CF_DB_CERT_GENERATED, cert, NULL, key,
                          (int64_t) time(NULL)};
    assert_int_equal(cf_db_cert_put(f->store, f->seal, &in, NULL), CF_OK);
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
    char addr[64], path[600];
    cf_why_t why = {""};
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", f->redis.port);
    cf_store_cfg_init(scfg);
    assert_int_equal(cf_store_cfg_parse_redis(scfg, addr, NULL), CF_OK);
    int n = snprintf(path, sizeof(path), "%s/secret", f->dir);
    assert_true(n > 0 && (size_t) n < sizeof(path));
    cf_seal_t *seal = NULL;
    assert_int_equal(cf_seal_load_file(path, 0, &seal, &why), CF_OK);
    cf_app_cfg_t acfg = {scfg, &seal, alias, 1, 100.0, 100, 3600}; /* the app takes it */
    assert_int_equal(cf_app_new(&acfg, app, &why), CF_OK);
    cf_link_cfg_t lcfg = {scfg, *app, &f->broker->broker, 1, NULL, hold_ms, gather_ms};
    cf_link_t *link = NULL;
    cf_err_t rc = cf_link_new(&lcfg, &link, &why);
    if (rc != CF_OK)
        fail_msg("cf_link_new: %s", cf_why_text(&why, rc));
    return link;
}
