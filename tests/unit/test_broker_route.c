/*  test_broker_route - the broker's routing decisions, counters page and held-peer set  */
#include "cf_test.h"

#include <stdio.h>
#include <string.h>

#include "cf_broker_peers.h"
#include "cf_broker_route.h"

static cf_broker_in_t s_in(cf_broker_side_t side, const char *rid, const char *user_id,
                           const char *kind, const cf_msg_t *m)
{
    cf_broker_in_t in = {side, rid, strlen(rid), user_id, kind, 1, CF_OK, m};
    return in;
}

/* Usage: an agent's REPORT about itself goes to a server; a server's JOB to the agent. */
static void test_usage(void **state)
{
    (void) state;
    cf_msg_t m;
    cf_msg_init(&m, CF_MSG_REPORT);
    snprintf(m.agent, sizeof(m.agent), "pc-7");
    cf_broker_in_t in = s_in(CF_BROKER_AGENTS, "pc-7", "pc-7", "agent", &m);
    cf_broker_verdict_t v;
    cf_broker_route(&in, &v);
    assert_int_equal(v.act, CF_BROKER_ACT_TO_SERVER);

    cf_msg_init(&m, CF_MSG_JOB);
    snprintf(m.agent, sizeof(m.agent), "pc-7");
    in = s_in(CF_BROKER_SERVERS, "server:s1", "server:s1", "server", &m);
    cf_broker_route(&in, &v);
    assert_int_equal(v.act, CF_BROKER_ACT_TO_AGENT);
    m.type = CF_MSG_BROADCAST;
    cf_broker_route(&in, &v);
    assert_int_equal(v.act, CF_BROKER_ACT_BROADCAST);
}

static void s_expect_drop(const cf_broker_in_t *in, cf_broker_drop_t reason, cf_msg_error_t answer,
                          int shut)
{
    cf_broker_verdict_t v;
    cf_broker_route(in, &v);
    assert_int_equal(v.act, CF_BROKER_ACT_DROP);
    assert_int_equal(v.reason, reason);
    assert_int_equal(v.answer, answer);
    assert_int_equal(v.shut, shut);
    assert_non_null(v.why);
}

/* Who sent it: routing id, kind and listing, before anything else. */
static void test_sender_checks(void **state)
{
    (void) state;
    cf_msg_t m;
    cf_msg_init(&m, CF_MSG_HELLO);
    snprintf(m.agent, sizeof(m.agent), "pc-7");
    cf_broker_in_t in = s_in(CF_BROKER_AGENTS, "pc-8", "pc-7", "agent", &m);
    s_expect_drop(&in, CF_BROKER_DROP_IDENTITY, 0, 1);
    in = s_in(CF_BROKER_AGENTS, "pc-7x", "pc-7", "agent", &m); /* prefix is not equal */
    s_expect_drop(&in, CF_BROKER_DROP_IDENTITY, 0, 1);
    in = s_in(CF_BROKER_AGENTS, "pc", "pc-7", "agent", &m);
    s_expect_drop(&in, CF_BROKER_DROP_IDENTITY, 0, 1);
    in = s_in(CF_BROKER_AGENTS, "", "", "agent", &m); /* no User-Id at all */
    s_expect_drop(&in, CF_BROKER_DROP_IDENTITY, 0, 1);
    in = s_in(CF_BROKER_AGENTS, "server:a", "server:a", "server", &m);
    s_expect_drop(&in, CF_BROKER_DROP_KIND, 0, 1);
    in = s_in(CF_BROKER_SERVERS, "pc-7", "pc-7", "agent", &m);
    s_expect_drop(&in, CF_BROKER_DROP_KIND, 0, 1);
    in = s_in(CF_BROKER_AGENTS, "pc-7", "pc-7", "agent", &m);
    in.listed = 0;
    s_expect_drop(&in, CF_BROKER_DROP_REVOKED, 0, 1);
    in.decoded = CF_ERR_CORRUPT; /* a revoked sender is refused before its frames count */
    s_expect_drop(&in, CF_BROKER_DROP_REVOKED, 0, 1);
}

/* The frames: version, size, anything else malformed; each answered, none shut. */
static void test_decode_failures(void **state)
{
    (void) state;
    cf_broker_in_t in = s_in(CF_BROKER_AGENTS, "pc-7", "pc-7", "agent", NULL);
    in.decoded = CF_ERR_UNSUPPORTED;
    s_expect_drop(&in, CF_BROKER_DROP_VERSION, CF_MSG_ERR_VERSION, 0);
    in.decoded = CF_ERR_TOOBIG;
    s_expect_drop(&in, CF_BROKER_DROP_TOOBIG, CF_MSG_ERR_TOOBIG, 0);
    in.decoded = CF_ERR_CORRUPT;
    s_expect_drop(&in, CF_BROKER_DROP_MALFORMED, CF_MSG_ERR_MALFORMED, 0);
    in.decoded = CF_ERR_NOMEM;
    s_expect_drop(&in, CF_BROKER_DROP_MALFORMED, CF_MSG_ERR_MALFORMED, 0);
    in = s_in(CF_BROKER_SERVERS, "server:s", "server:s", "server", NULL);
    in.decoded = CF_ERR_UNSUPPORTED;
    s_expect_drop(&in, CF_BROKER_DROP_VERSION, CF_MSG_ERR_VERSION, 0);
}

/* Every type from every side against the table in docs/broker.md. */
static void test_types_by_side(void **state)
{
    (void) state;
    static const cf_broker_act_t from_agent[CF_MSG_TYPE_COUNT_] = {
        [CF_MSG_HELLO] = CF_BROKER_ACT_TO_SERVER,
        [CF_MSG_RECEIPT] = CF_BROKER_ACT_TO_SERVER,
        [CF_MSG_REPORT] = CF_BROKER_ACT_TO_SERVER};
    static const cf_broker_act_t from_server[CF_MSG_TYPE_COUNT_] = {
        [CF_MSG_JOB] = CF_BROKER_ACT_TO_AGENT,
        [CF_MSG_ACK] = CF_BROKER_ACT_TO_AGENT,
        [CF_MSG_CHECKIN] = CF_BROKER_ACT_TO_AGENT,
        [CF_MSG_BROADCAST] = CF_BROKER_ACT_BROADCAST};
    for (int t = CF_MSG_HELLO; t < CF_MSG_TYPE_COUNT_; t++) {
        cf_msg_t m;
        cf_msg_init(&m, (cf_msg_type_t) t);
        snprintf(m.agent, sizeof(m.agent), "pc-7");
        cf_broker_verdict_t v;
        cf_broker_in_t in = s_in(CF_BROKER_AGENTS, "pc-7", "pc-7", "agent", &m);
        cf_broker_route(&in, &v);
        assert_int_equal(v.act, from_agent[t]);
        if (v.act == CF_BROKER_ACT_DROP) {
            assert_int_equal(v.reason, CF_BROKER_DROP_TYPE);
            assert_int_equal(v.answer, t == CF_MSG_ERROR ? 0 : CF_MSG_ERR_DENIED);
            assert_int_equal(v.shut, 0);
        }
        in = s_in(CF_BROKER_SERVERS, "server:s", "server:s", "server", &m);
        cf_broker_route(&in, &v);
        assert_int_equal(v.act, from_server[t]);
        if (v.act == CF_BROKER_ACT_DROP) {
            assert_int_equal(v.reason, CF_BROKER_DROP_TYPE);
            assert_int_equal(v.answer, t == CF_MSG_ERROR ? 0 : CF_MSG_ERR_DENIED);
        }
    }
}

/* An agent may speak only for itself: the body's agent must be its routing id. */
static void test_agent_field(void **state)
{
    (void) state;
    static const cf_msg_type_t types[] = {CF_MSG_HELLO, CF_MSG_RECEIPT, CF_MSG_REPORT};
    for (size_t i = 0; i < 3; i++) {
        cf_msg_t m;
        cf_msg_init(&m, types[i]);
        snprintf(m.agent, sizeof(m.agent), "pc-8");
        cf_broker_in_t in = s_in(CF_BROKER_AGENTS, "pc-7", "pc-7", "agent", &m);
        s_expect_drop(&in, CF_BROKER_DROP_AGENT_FIELD, CF_MSG_ERR_DENIED, 0);
        snprintf(m.agent, sizeof(m.agent), "pc-77"); /* longer, same prefix */
        s_expect_drop(&in, CF_BROKER_DROP_AGENT_FIELD, CF_MSG_ERR_DENIED, 0);
    }
}

static const char *s_find_line(const char *text, const char *prefix)
{
    const char *p = strstr(text, prefix);
    assert_non_null(p);
    return p + strlen(prefix);
}

/* The page names every counter with its labels and value, and refuses a small buffer. */
static void test_metrics_render(void **state)
{
    (void) state;
    cf_broker_stats_t s;
    memset(&s, 0, sizeof(s));
    s.in[CF_BROKER_AGENTS][CF_MSG_REPORT] = 17;
    s.out[CF_BROKER_SERVERS][CF_MSG_REPORT] = 16;
    s.drops[CF_BROKER_DROP_IDENTITY] = 3;
    s.send_full[CF_BROKER_AGENTS] = 2;
    s.accepted[CF_BROKER_AGENTS] = 10;
    s.disconnected[CF_BROKER_AGENTS] = 4;
    cf_broker_gauges_t g = {5, 2, 40, 1};
    cf_zap_stats_t z = {.allowed = 9, .denied_unknown = 4, .keys = 40};
    static char buf[CF_BROKER_METRICS_MAX];
    size_t len = 0;
    assert_int_equal(cf_broker_metrics_render(&s, &g, &z, buf, sizeof(buf), &len), CF_OK);
    assert_int_equal(len, strlen(buf));
    assert_int_equal(
        strncmp(s_find_line(buf, "cf_broker_messages_in_total{side=\"agents\",type=\"REPORT\"} "),
                "17\n", 3),
        0);
    assert_true(strstr(buf, "cf_broker_messages_out_total{side=\"servers\",type=\"REPORT\"} 16\n"));
    assert_true(strstr(buf, "cf_broker_drops_total{reason=\"identity\"} 3\n"));
    assert_true(strstr(buf, "cf_broker_drops_total{reason=\"malformed\"} 0\n"));
    assert_true(strstr(buf, "cf_broker_send_drops_total{side=\"agents\",reason=\"full\"} 2\n"));
    assert_true(strstr(buf, "cf_broker_connections{side=\"agents\"} 6\n"));
    assert_true(strstr(buf, "cf_broker_connected_agents 5\n"));
    assert_true(strstr(buf, "cf_broker_connected_servers 2\n"));
    assert_true(strstr(buf, "cf_broker_zap_total{result=\"denied\",reason=\"unknown_key\"} 4\n"));
    assert_true(strstr(buf, "cf_broker_zap_keys 40\n"));
    assert_true(strstr(buf, "cf_broker_redis_up 1\n"));
    assert_true(strstr(buf, "# TYPE cf_broker_drops_total counter\n"));
    /* every line is a comment or "name{labels} value" */
    for (const char *line = buf; *line; line = strchr(line, '\n') + 1)
        assert_true(line[0] == '#' || strncmp(line, "cf_broker_", 10) == 0);
    char small[100];
    assert_int_equal(cf_broker_metrics_render(&s, &g, &z, small, sizeof(small), &len),
                     CF_ERR_TOOBIG);
    assert_string_equal(small, "");
    assert_int_equal(len, 0);
    assert_int_equal(cf_broker_metrics_render(NULL, &g, &z, buf, sizeof(buf), &len),
                     CF_ERR_INVALID);
    assert_string_equal(cf_broker_drop_name(CF_BROKER_DROP_COUNT_), "unknown");
    assert_string_equal(cf_broker_side_name(CF_BROKER_SIDES_), "unknown");
}

static cf_zsock_peer_t s_peer(int fd)
{
    cf_zsock_peer_t p;
    memset(&p, 0, sizeof(p));
    p.fd = fd;
    snprintf(p.remote, sizeof(p.remote), "127.0.0.1:%d", 40000 + fd);
    return p;
}

/* Held peers: learn, find, forget by id and by descriptor, reuse of a descriptor, caps. */
static void test_peers(void **state)
{
    (void) state;
    cf_broker_peers_t *set = NULL;
    assert_int_equal(cf_broker_peers_new(3, &set), CF_OK);
    cf_zsock_peer_t p = s_peer(10);
    int is_new = 0;
    assert_int_equal(cf_broker_peers_learn(set, "a", &p, &is_new), CF_OK);
    assert_int_equal(is_new, 1);
    assert_int_equal(cf_broker_peers_learn(set, "a", &p, &is_new), CF_OK);
    assert_int_equal(is_new, 0);
    p = s_peer(11);
    assert_int_equal(cf_broker_peers_learn(set, "b", &p, NULL), CF_OK);
    assert_int_equal(cf_broker_peers_find(set, "b")->fd, 11);
    /* a moved to descriptor 12 (handover): 10 no longer names it */
    p = s_peer(12);
    assert_int_equal(cf_broker_peers_learn(set, "a", &p, &is_new), CF_OK);
    assert_int_equal(cf_broker_peers_forget_fd(set, 10), 0);
    assert_int_equal(cf_broker_peers_find(set, "a")->fd, 12);
    /* descriptor 11 reused by c: b's connection had ended */
    p = s_peer(11);
    assert_int_equal(cf_broker_peers_learn(set, "c", &p, NULL), CF_OK);
    assert_null(cf_broker_peers_find(set, "b"));
    assert_int_equal(cf_broker_peers_count(set), 2);
    char **ids = NULL;
    size_t n = 0;
    assert_int_equal(cf_broker_peers_ids(set, &ids, &n), CF_OK);
    assert_int_equal(n, 2);
    assert_null(ids[2]);
    assert_true(strcmp(ids[0], "a") == 0 || strcmp(ids[1], "a") == 0);
    cf_broker_peers_ids_free(&ids);
    assert_null(ids);
    assert_int_equal(cf_broker_peers_forget_fd(set, 12), 1);
    assert_null(cf_broker_peers_find(set, "a"));
    assert_int_equal(cf_broker_peers_forget(set, "c"), 1);
    assert_int_equal(cf_broker_peers_forget(set, "c"), 0);
    assert_int_equal(cf_broker_peers_count(set), 0);
    /* the cap */
    for (int i = 0; i < 3; i++) {
        char id[8];
        snprintf(id, sizeof(id), "x%d", i);
        p = s_peer(20 + i);
        assert_int_equal(cf_broker_peers_learn(set, id, &p, NULL), CF_OK);
    }
    p = s_peer(30);
    assert_int_equal(cf_broker_peers_learn(set, "x9", &p, NULL), CF_ERR_TOOBIG);
    assert_int_equal(cf_broker_peers_learn(set, "", &p, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_broker_peers_learn(set, NULL, &p, NULL), CF_ERR_INVALID);
    char longid[CF_ALLOW_ID_MAX + 2];
    memset(longid, 'a', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    assert_int_equal(cf_broker_peers_learn(set, longid, &p, NULL), CF_ERR_INVALID);
    cf_broker_peers_destroy(&set);
    cf_broker_peers_destroy(&set);
    assert_int_equal(cf_broker_peers_new(0, &set), CF_ERR_INVALID);
}

/* Allocation failure while learning or listing leaves the set as it was. */
static void test_peers_alloc_failure(void **state)
{
    (void) state;
    cf_broker_peers_t *set = NULL;
    assert_int_equal(cf_broker_peers_new(10, &set), CF_OK);
    cf_zsock_peer_t p = s_peer(5);
    for (long i = 0; i < 4; i++) {
        cf_test_alloc_fail_at(i);
        cf_err_t rc = cf_broker_peers_learn(set, "a", &p, NULL);
        cf_test_alloc_fail_at(-1);
        if (rc == CF_OK)
            break;
        assert_int_equal(rc, CF_ERR_NOMEM);
        assert_int_equal(cf_broker_peers_count(set), 0);
        assert_int_equal(cf_broker_peers_forget_fd(set, 5), 0);
    }
    assert_non_null(cf_broker_peers_find(set, "a"));
    char **ids = NULL;
    size_t n = 0;
    cf_test_alloc_fail_at(1);
    assert_int_equal(cf_broker_peers_ids(set, &ids, &n), CF_ERR_NOMEM);
    cf_test_alloc_fail_at(-1);
    assert_null(ids);
    cf_broker_peers_destroy(&set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),           cmocka_unit_test(test_sender_checks),
        cmocka_unit_test(test_decode_failures), cmocka_unit_test(test_types_by_side),
        cmocka_unit_test(test_agent_field),     cmocka_unit_test(test_metrics_render),
        cmocka_unit_test(test_peers),           cmocka_unit_test(test_peers_alloc_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
