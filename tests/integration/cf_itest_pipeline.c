/*  cf_itest_pipeline - end-to-end fixture: Redis, cf-brokers, two cf-servers and a fleet  */
#include "cf_itest_pipeline.h"

#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cf_db_agent.h"
#include "cf_db_curve.h"
#include "cf_db_job.h"
#include "cf_mem.h"

cf_itest_pipe_t cf_itest_pipe;

static cf_itest_pipe_t *const s = &cf_itest_pipe;

#define S_LINK_UP "broker link up"

/* ---- brokers ---------------------------------------------------------------------------- */

static const char *s_broker_bin(char *buf, size_t len)
{
    const char *bin = getenv("CF_BIN_DIR");
    snprintf(buf, len, "%s/broker/cf-broker", bin && *bin ? bin : ".");
    return buf;
}

/* Keys with --keygen, endpoints and metrics port on free loopback ports. */
static void s_broker_make(size_t i)
{
    cf_itest_pipe_broker_t *b = &s->brokers[i];
    char bin[600], path[700];
    snprintf(b->dir, sizeof(b->dir), "%s/broker-%zu", s->fx->dir, i);
    snprintf(b->log, sizeof(b->log), "%s/broker-%zu/broker.log", s->fx->dir, i);
    assert_int_equal(cf_test_sh("mkdir -p '%s' && %s --keygen --out '%s' >'%s/keygen.out'", b->dir,
                                s_broker_bin(bin, sizeof(bin)), b->dir, b->dir),
                     0);
    cf_curve_keypair_t kp;
    snprintf(path, sizeof(path), "%s/broker.key_secret", b->dir);
    assert_int_equal(cf_curve_keypair_load(path, &kp, NULL), CF_OK);
    cf_itest_broker_t *v = &b->view;
    memcpy(v->agents.pub, kp.pub, CF_CURVE_KEY_LEN);
    memcpy(v->servers.pub, kp.pub, CF_CURVE_KEY_LEN);
    cf_curve_keypair_wipe(&kp);
    snprintf(v->agents.endpoint, sizeof(v->agents.endpoint), "tcp://127.0.0.1:%d",
             cf_itest_free_port());
    snprintf(v->servers.endpoint, sizeof(v->servers.endpoint), "tcp://127.0.0.1:%d",
             cf_itest_free_port());
    v->metrics_port = cf_itest_free_port();
}

void cf_itest_pipe_broker_start(size_t i)
{
    cf_itest_pipe_broker_t *b = &s->brokers[i];
    CF_ASSERT(i < s->n_brokers && b->pid == 0);
    char bin[600], key[700], redis[64], metrics[16];
    snprintf(key, sizeof(key), "%s/broker.key_secret", b->dir);
    snprintf(redis, sizeof(redis), "127.0.0.1:%d", s->fx->redis.port);
    snprintf(metrics, sizeof(metrics), "%d", b->view.metrics_port);
    char *argv[] = {(char *) s_broker_bin(bin, sizeof(bin)),
                    "--key-file",
                    key,
                    "--redis",
                    redis,
                    "--agents-bind",
                    b->view.agents.endpoint,
                    "--servers-bind",
                    b->view.servers.endpoint,
                    "--metrics-port",
                    metrics,
                    "--log-level",
                    "debug",
                    s->gather_ms ? "--gather-ms" : NULL,
                    (char *) s->gather_ms,
                    NULL};
    /* a restart right after a kill may find the port in TIME_WAIT: libzmq binds with
       SO_REUSEADDR, so a refusal means the old process has not let go yet: try again */
    for (int tries = 0; tries < 50; tries++) {
        assert_int_equal(cf_itest_spawn(argv, b->log, &b->pid), CF_OK);
        for (int waited = 0; waited < CF_ITEST_PIPE_WAIT; waited += 100) {
            if (cf_itest_wait_port("127.0.0.1", b->view.metrics_port, 100) == CF_OK)
                return;
            if (cf_itest_exit_code(b->pid, 0) >= 0)
                break;
        }
        b->pid = 0;
    }
    fail_msg("cf-broker %zu did not start; see %s", i, b->log);
}

void cf_itest_pipe_broker_kill(size_t i)
{
    cf_itest_pipe_broker_t *b = &s->brokers[i];
    if (!b->pid)
        return;
    assert_int_equal(cf_itest_kill(b->pid, SIGKILL), CF_OK);
    b->pid = 0;
}

long cf_itest_pipe_metric(size_t i, const char *line)
{
    return cf_itest_broker_metric(&s->brokers[i].view, line);
}

long cf_itest_pipe_metric_sum(const char *line)
{
    long sum = 0;
    for (size_t i = 0; i < s->n_brokers; i++) {
        long v = s->brokers[i].pid ? cf_itest_pipe_metric(i, line) : 0;
        if (v < 0)
            return -1;
        sum += v;
    }
    return sum;
}

typedef struct {
    const char *line; /* metric */
    long want;        /* value */
    int at_least;     /* 1: want or more */
} s_metric_t;

static int s_metric_is(void *arg)
{
    const s_metric_t *m = arg;
    long v = cf_itest_pipe_metric_sum(m->line);
    return m->at_least ? v >= m->want : v == m->want;
}

int cf_itest_pipe_metric_reach(const char *line, long want)
{
    s_metric_t m = {line, want, 0};
    return cf_test_wait_until(s_metric_is, &m, CF_ITEST_PIPE_WAIT);
}

int cf_itest_pipe_metric_min(const char *line, long want)
{
    s_metric_t m = {line, want, 1};
    return cf_test_wait_until(s_metric_is, &m, CF_ITEST_PIPE_WAIT);
}

/* ---- servers ---------------------------------------------------------------------------- */

/* Occurrences of text in the file at path. */
static size_t s_log_count(const char *path, const char *text)
{
    size_t n = 0, len = 0;
    char *log = cf_test_read_file(path, &len);
    for (const char *p = strstr(log, text); p; p = strstr(p + 1, text))
        n++;
    free(log);
    return n;
}

typedef struct {
    const cf_itest_server_t *srv; /* whose log */
    size_t want;                  /* lines "broker link up" */
} s_links_t;

static int s_links_up(void *arg)
{
    const s_links_t *l = arg;
    return s_log_count(l->srv->log, S_LINK_UP) >= l->want;
}

void cf_itest_pipe_server_restart(cf_itest_server_t *srv)
{
    int is_a = strcmp(srv->alias, "srv-a") == 0;
    char alias[64], brokers[CF_ITEST_PIPE_BROKERS][CF_CURVE_TEXT_MAX + 1];
    snprintf(alias, sizeof(alias), "%s", srv->alias);
    const char *more[16];
    size_t n = 0;
    for (size_t i = 0; i < s->n_brokers; i++) {
        assert_int_equal(
            cf_curve_broker_format(&s->brokers[i].view.servers, brokers[i], sizeof(brokers[i])),
            CF_OK);
        more[n++] = "--broker";
        more[n++] = brokers[i];
    }
    const char *tail[] = {"--sweep-check", "1s", "--log-level", "debug", NULL};
    for (size_t i = 0; tail[i]; i++)
        more[n++] = tail[i];
    more[n] = NULL;
    cf_itest_server_stop(srv, SIGTERM);
    char path[700];
    snprintf(path, sizeof(path), "%s/%s.log", s->fx->dir, alias);
    s_links_t l = {srv, s_log_count(path, S_LINK_UP) + s->n_brokers};
    cf_itest_fleet_start(srv, alias, is_a ? "10" : "20",
                         is_a ? "127.0.0.0/25" : "127.0.0.128-127.0.0.255", 0, more);
    if (!cf_test_wait_until(s_links_up, &l, CF_ITEST_PIPE_WAIT))
        fail_msg("%s: its broker links did not come up; see %s", alias, srv->log);
}

/* ---- the fleet -------------------------------------------------------------------------- */

const char *cf_itest_pipe_agent(size_t i)
{
    static char id[CF_MSG_AGENT_MAX + 1];
    snprintf(id, sizeof(id), CF_ITEST_PIPE_PREFIX "%zu", i);
    return id;
}

/* The fleet, off line; its keys and agent records in Redis. */
static void s_fleet(void)
{
    cf_curve_broker_t eps[CF_ITEST_PIPE_BROKERS];
    for (size_t i = 0; i < s->n_brokers; i++)
        eps[i] = s->brokers[i].view.agents;
    cf_zsock_cfg_t z;
    cf_zsock_cfg_init(&z);
    z.reconnect_ivl_ms = 100;
    z.reconnect_max_ms = 1000;
    cf_fleet_cfg_t cfg = {.count = s->n_agents,
                          .id_prefix = CF_ITEST_PIPE_PREFIX,
                          .brokers = eps,
                          .n_brokers = s->n_brokers,
                          .ca = cf_ca_cert(s->fx->ca),
                          .failover_ms = 3000,
                          .resend_min_ms = 500,
                          .resend_max_ms = 4000,
                          .start_offline = 1,
                          .zcfg = &z};
    cf_why_t why = {""};
    cf_err_t rc = cf_fleet_new(&cfg, &s->fleet, &why);
    if (rc != CF_OK)
        fail_msg("fleet: %s", cf_why_text(&why, rc));
    for (size_t i = 0; i < s->n_agents; i++) {
        char id[CF_MSG_AGENT_MAX + 1];
        unsigned char pub[CF_CURVE_KEY_LEN];
        assert_int_equal(cf_fleet_identity(s->fleet, i, id, pub), CF_OK);
        assert_string_equal(id, cf_itest_pipe_agent(i));
        assert_int_equal(cf_db_curve_put(s->fx->store, CF_ALLOW_AGENT, id, pub, 0, NULL), CF_OK);
        cf_db_checkin_t in = {id,
                              CF_DB_LOCK_INSECURE,
                              (int64_t) time(NULL),
                              "127.0.0.1",
                              "e2e",
                              NULL,
                              NULL,
                              0,
                              "srv-a",
                              0};
        assert_int_equal(cf_db_agent_checkin(s->fx->store, &in, NULL), CF_OK);
    }
}

/* 1 once every agent's HELLO reached a server (its record names a broker). */
static int s_all_hello(void *arg)
{
    (void) arg;
    for (size_t i = 0; i < s->n_agents; i++) {
        unsigned proto = 0;
        unsigned char key[CF_CURVE_KEY_LEN];
        int has = 0;
        if (cf_db_job_agent_link(s->fx->store, cf_itest_pipe_agent(i), &proto, key, &has) !=
                CF_OK ||
            !has)
            return 0;
    }
    return 1;
}

int cf_itest_pipe_setup(const char *name, size_t n_brokers, size_t n_agents)
{
    return cf_itest_pipe_setup_gather(name, n_brokers, n_agents, NULL);
}

int cf_itest_pipe_setup_gather(const char *name, size_t n_brokers, size_t n_agents,
                               const char *gather_ms)
{
    CF_ASSERT(n_brokers >= 1 && n_brokers <= CF_ITEST_PIPE_BROKERS);
    CF_ASSERT(n_agents >= 1 && n_agents <= CF_ITEST_PIPE_AGENTS);
    memset(s, 0, sizeof(*s));
    s->gather_ms = gather_ms;
    s->fx = &cf_itest_fleet;
    s->n_brokers = n_brokers;
    s->n_agents = n_agents;
    cf_itest_fleet_setup(name);
    for (size_t i = 0; i < n_brokers; i++)
        s_broker_make(i);
    s_fleet();
    /* the brokers load every key at start: agents and (after their restart) servers */
    for (size_t i = 0; i < n_brokers; i++)
        cf_itest_pipe_broker_start(i);
    cf_itest_pipe_server_restart(&s->fx->a);
    cf_itest_pipe_server_restart(&s->fx->b);
    assert_int_equal(cf_fleet_set_online(s->fleet, CF_FLEET_ALL, 1), CF_OK);
    if (!cf_itest_pipe_metric_reach("cf_broker_connected_agents", (long) n_agents))
        fail_msg("the brokers hold %ld agents, not %zu",
                 cf_itest_pipe_metric_sum("cf_broker_connected_agents"), n_agents);
    assert_true(cf_test_wait_until(s_all_hello, NULL, CF_ITEST_PIPE_WAIT));
    return 0;
}

int cf_itest_pipe_teardown(void **state)
{
    cf_fleet_destroy(&s->fleet);
    cf_itest_server_stop(&s->fx->a, SIGTERM);
    cf_itest_server_stop(&s->fx->b, SIGTERM);
    for (size_t i = 0; i < s->n_brokers; i++) {
        cf_itest_pipe_broker_t *b = &s->brokers[i];
        if (b->pid) {
            assert_int_equal(kill(b->pid, SIGTERM), 0);
            int code = cf_itest_exit_code(b->pid, CF_ITEST_PIPE_WAIT);
            if (code < 0)
                assert_int_equal(cf_itest_kill(b->pid, SIGKILL), CF_OK);
            b->pid = 0;
            assert_int_equal(code, 0);
        }
    }
    return cf_itest_fleet_teardown(state);
}

/* ---- jobs ------------------------------------------------------------------------------- */

long cf_itest_pipe_job(const cf_itest_server_t *srv, const char *body, char *id)
{
    char out[CF_ITEST_FLEET_BODY];
    int status = cf_itest_fleet_admin(srv, "POST", "/api/v1/jobs", body, out);
    if (status != 201)
        fail_msg("POST /jobs %s: %d %s", body, status, out);
    json_t *j = cf_itest_fleet_json(out);
    snprintf(id, 33, "%s", json_string_value(json_object_get(j, "id")) ?: "");
    json_decref(j);
    assert_int_equal(strlen(id), 32);
    return (long) cf_itest_fleet_ji(out, "total");
}

/* Agent index of an id pc-<i>, or n_agents when it is not one of the fleet. */
static size_t s_index(const char *id)
{
    size_t plen = strlen(CF_ITEST_PIPE_PREFIX);
    if (!id || strncmp(id, CF_ITEST_PIPE_PREFIX, plen) != 0)
        return s->n_agents;
    char *end = NULL;
    unsigned long i = strtoul(id + plen, &end, 10);
    return end && !*end && i < s->n_agents ? (size_t) i : s->n_agents;
}

/* One page: entries into states and n; the next cursor into cursor ("" at the end). */
static size_t s_page(const char *text, cf_job_state_t *states, long *n, char *cursor, size_t cap)
{
    json_t *j = cf_itest_fleet_json(text), *e = NULL;
    size_t k, read = 0;
    json_array_foreach(json_object_get(j, "agents"), k, e)
    {
        const char *id = json_string_value(json_object_get(e, "id"));
        const char *st = json_string_value(json_object_get(e, "state"));
        size_t i = s_index(id);
        cf_job_state_t state;
        if (i == s->n_agents || !st || cf_job_fsm_state_from_name(st, &state) != CF_OK)
            fail_msg("an entry that is not a fleet agent's: %s", text);
        if (states[i] != CF_JOB_STATE_COUNT)
            fail_msg("%s seen twice", id);
        states[i] = state;
        n[state]++;
        read++;
    }
    const char *next = json_string_value(json_object_get(j, "cursor"));
    snprintf(cursor, cap, "%s", next ? next : "");
    json_decref(j);
    return read;
}

size_t cf_itest_pipe_states(const cf_itest_server_t *srv, const char *id, size_t limit,
                            cf_job_state_t *states, long *n)
{
    for (size_t i = 0; i < s->n_agents; i++)
        states[i] = CF_JOB_STATE_COUNT;
    memset(n, 0, CF_JOB_STATE_COUNT * sizeof(*n));
    char cursor[CF_DB_JOB_CURSOR_MAX] = "", path[256], out[CF_ITEST_FLEET_BODY];
    size_t read = 0;
    int pages = 0;
    do {
        snprintf(path, sizeof(path), "/api/v1/jobs/%s/agents?limit=%zu%s%s", id, limit,
                 cursor[0] ? "&cursor=" : "", cursor);
        assert_int_equal(cf_itest_fleet_get(srv, path, out), 200);
        read += s_page(out, states, n, cursor, sizeof(cursor));
        assert_true(++pages < 10000);
    } while (cursor[0]);
    return read;
}

long cf_itest_pipe_check_counts(const cf_itest_server_t *srv, const char *id, long want_total)
{
    cf_job_state_t *states = cf_mem_calloc(s->n_agents, sizeof(*states));
    assert_non_null(states);
    long n[CF_JOB_STATE_COUNT];
    size_t read = cf_itest_pipe_states(srv, id, 7, states, n);
    cf_mem_free(states);
    char path[128], out[CF_ITEST_FLEET_BODY];
    snprintf(path, sizeof(path), "/api/v1/jobs/%s", id);
    assert_int_equal(cf_itest_fleet_get(srv, path, out), 200);
    cf_db_job_t j;
    assert_int_equal(cf_db_job_get(s->fx->store, id, &j), CF_OK);
    assert_int_equal(cf_itest_fleet_ji(out, "total"), want_total);
    assert_int_equal(j.total, want_total);
    assert_int_equal((long) read, want_total);
    for (int st = 0; st < CF_JOB_STATE_COUNT; st++) {
        char key[64];
        snprintf(key, sizeof(key), "counts/%s", cf_job_fsm_state_name((cf_job_state_t) st));
        if (cf_itest_fleet_ji(out, key) != n[st] || j.n[st] != n[st])
            fail_msg("job %s: %s counted %lld (API) and %lld (Redis), entries say %ld", id, key,
                     (long long) cf_itest_fleet_ji(out, key), (long long) j.n[st], n[st]);
    }
    return (long) j.done;
}

static int s_done(void *arg)
{
    cf_db_job_t j;
    return cf_db_job_get(s->fx->store, arg, &j) == CF_OK && j.done > 0;
}

int cf_itest_pipe_wait_done(const char *id, int timeout_ms)
{
    return cf_test_wait_until(s_done, (void *) id, timeout_ms);
}
