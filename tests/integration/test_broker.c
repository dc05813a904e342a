/*  test_broker - a real cf-broker against a real redis-server: refusal right after start
    (our client and pyzmq), routing between agents and servers, spread, offline, metrics  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_itest.h"
#include "cf_itest_broker.h"
#include "cf_itest_zap.h"

static const char *s_python(void)
{
    const char *py = getenv("CF_PYTHON");
    py = py && *py ? py : "/usr/bin/python3"; /* Debian's, where python3-zmq installs */
    if (cf_test_sh("%s -c 'import zmq, zmq.auth'", py) != 0)
        fail_msg("%s cannot import zmq: install python3-zmq (deploy/install-deps.sh)", py);
    return py;
}

/* An unlisted key is refused by the broker at once (the ZAP handler is bound before the
   ROUTERs), seen by our own client's monitor and by an independent pyzmq client; a
   listed one gets in. */
static void test_unlisted_refused_at_start(void **state)
{
    (void) state;
    cf_curve_keypair_t keys[2] = {cf_itest_zap_kp(), cf_itest_zap_kp()};
    static const cf_allow_kind_t kinds[] = {CF_ALLOW_AGENT};
    static const char *const names[] = {"pc-a"};
    cf_itest_broker_t b;
    cf_itest_broker_start(&b, "broker_refuse", kinds, names, keys, 1);

    zsock_t *stranger = cf_itest_broker_agent(&b, &keys[1], "stranger");
    zsock_t *mon = cf_itest_zap_mon_start(stranger);
    uint32_t status = 0;
    assert_true(cf_itest_zap_mon_wait(mon, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, &status));
    assert_int_equal(status, 400);
    cf_itest_zap_mon_stop(stranger, &mon);
    zsock_destroy(&stranger);

    const char *py = s_python();
    char script[1024], path[700];
    cf_test_src_path("integration/peers/zap_peer.py", script, sizeof(script));
    snprintf(path, sizeof(path), "%s/stranger.key", b.dir);
    assert_int_equal(cf_curve_keypair_save(&keys[1], path, NULL), CF_OK);
    assert_int_equal(cf_test_sh("%s %s --endpoint %s --server-cert %s/broker.key --cert "
                                "%s/stranger.key_secret --id stranger --expect none",
                                py, script, b.agents.endpoint, b.dir, b.dir),
                     10);

    /* the listed agent is in: with no server connected, its HELLO is answered "internal" */
    zsock_t *a = cf_itest_broker_agent(&b, &keys[0], "pc-a");
    cf_itest_broker_agent_ready(&b, a, "pc-a", 1, NULL, 0);
    assert_true(cf_itest_broker_metric(&b, "cf_broker_zap_total{result=\"denied\",reason="
                                           "\"unknown_key\"}") >= 2);
    assert_true(cf_itest_broker_metric(&b, "cf_broker_zap_total{result=\"allowed\",reason="
                                           "\"listed\"}") >= 1);
    assert_int_equal(cf_itest_broker_metric(&b, "cf_broker_drops_total{reason=\"no_server\"}"), 1);
    zsock_destroy(&a);
    cf_itest_broker_stop(&b);
}

/* Receive n messages of type from the servers; per-server counts into got[]. */
static void s_collect(zsock_t **servers, size_t n_servers, cf_msg_type_t type, size_t n, int got[],
                      unsigned seen_seeds[])
{
    for (size_t k = 0; k < n; k++) {
        zmq_pollitem_t items[2];
        int queued = 0; /* messages of a batch already read count as readable */
        for (size_t i = 0; i < n_servers; i++) {
            items[i] = (zmq_pollitem_t){zsock_resolve(servers[i]), 0, ZMQ_POLLIN, 0};
            queued += cf_itest_broker_pending(servers[i]) > 0;
        }
        assert_true(zmq_poll(items, (int) n_servers, queued ? 0 : CF_ITEST_BROKER_WAIT_MS) > 0 ||
                    queued);
        for (size_t i = 0; i < n_servers; i++) {
            if (!(items[i].revents & ZMQ_POLLIN) && !cf_itest_broker_pending(servers[i]))
                continue;
            cf_msg_t m;
            cf_itest_broker_expect(servers[i], type, &m);
            got[i]++;
            if (seen_seeds)
                seen_seeds[strtoul(m.job_id + 24, NULL, 16)]++;
            cf_msg_clear(&m);
            break;
        }
    }
}

/* A broker gathering for gather_ms ("0": off) with agent pc-a and server s1 held; its
   count of BATCH messages to servers so far. */
typedef struct {
    cf_itest_broker_t b; /* the broker */
    zsock_t *srv;        /* server s1 */
    zsock_t *a;          /* agent pc-a */
    long before;         /* cf_broker_batches_total{dir="out"} once both were held */
} s_gather_t;

#define S_BATCHES_OUT "cf_broker_batches_total{dir=\"out\"}"

static void s_gather_open(s_gather_t *g, const char *name, const char *gather_ms)
{
    cf_curve_keypair_t keys[2] = {cf_itest_zap_kp(), cf_itest_zap_kp()};
    static const cf_allow_kind_t kinds[] = {CF_ALLOW_AGENT, CF_ALLOW_SERVER};
    static const char *const names[] = {"pc-a", "s1"};
    const char *const extra[] = {"--gather-ms", gather_ms, NULL};
    cf_itest_broker_start_with(&g->b, name, kinds, names, keys, 2, extra);
    g->srv = cf_itest_broker_server(&g->b, &keys[1], "server:s1");
    cf_itest_broker_server_ready(&g->b, g->srv, 1);
    g->a = cf_itest_broker_agent(&g->b, &keys[0], "pc-a");
    cf_itest_broker_agent_ready(&g->b, g->a, "pc-a", 1, &g->srv, 1);
    g->before = cf_itest_broker_metric(&g->b, S_BATCHES_OUT);
}

/* The BATCH messages sent since s_gather_open; then everything is stopped. */
static long s_gather_close(s_gather_t *g)
{
    long batches = cf_itest_broker_metric(&g->b, S_BATCHES_OUT) - g->before;
    zsock_destroy(&g->a);
    zsock_destroy(&g->srv);
    cf_itest_broker_stop(&g->b);
    return batches;
}

/* One broker (gathering for gather_ms, "0": off): an agent's ten RECEIPTs, each read by
   the broker in a loop turn of its own (the test waits for its count before sending the
   next), all reach the server; the number of BATCH messages that carried them. */
static long s_gather_run(const char *name, const char *gather_ms)
{
    s_gather_t g;
    s_gather_open(&g, name, gather_ms);
    cf_msg_t m;
    for (unsigned i = 1; i <= 10; i++) {
        cf_itest_broker_msg(&m, CF_MSG_RECEIPT, "pc-a", i);
        cf_itest_broker_send(g.a, &m);
        assert_true(cf_itest_broker_metric_wait(
            &g.b, "cf_broker_messages_in_total{side=\"agents\",type=\"RECEIPT\"}", i));
    }
    unsigned seeds[11] = {0};
    for (unsigned i = 1; i <= 10; i++) { /* the last ones come when the window closes */
        cf_itest_broker_expect(g.srv, CF_MSG_RECEIPT, &m);
        seeds[strtoul(m.job_id + 24, NULL, 16)]++;
        cf_msg_clear(&m);
    }
    for (unsigned i = 1; i <= 10; i++)
        assert_int_equal(seeds[i], 1);
    long batches = s_gather_close(&g);
    printf("broker: --gather-ms %s: 10 receipts in 10 loop turns reached the server in %ld "
           "batches\n",
           gather_ms, batches);
    return batches;
}

/* 300 RECEIPTs waiting at once (the broker stopped while the agent sends) with a window of
   1 s: the first 256 go as soon as they are read, the rest when the window closes. */
static void s_gather_full(void)
{
    s_gather_t g;
    s_gather_open(&g, "broker_gather_full", "1000");
    cf_msg_t m;
    assert_int_equal(kill(g.b.pid, SIGSTOP), 0);
    for (unsigned i = 1; i <= 300; i++) {
        cf_itest_broker_msg(&m, CF_MSG_RECEIPT, "pc-a", i);
        cf_itest_broker_send(g.a, &m);
    }
    assert_int_equal(kill(g.b.pid, SIGCONT), 0);
    for (unsigned i = 1; i <= 300; i++) {
        cf_itest_broker_expect(g.srv, CF_MSG_RECEIPT, &m);
        cf_msg_clear(&m);
    }
    long batches = s_gather_close(&g);
    printf("broker: 300 receipts waiting at once, --gather-ms 1000: %ld batches\n", batches);
    assert_int_equal(batches, 2); /* 256, then 44; one batch of 300 without the cap */
}

/* Gathering: agents' messages read in separate loop turns cross to a server together
   while the first waits (a window of 1 s holds the ten; the timer sends them, no later
   message does); with gathering off, each turn's messages go at once; 256 waiting go at
   once whatever the window. */
static void test_gather(void **state)
{
    (void) state;
    assert_int_equal(s_gather_run("broker_nogather", "0"), 10);
    long gathered = s_gather_run("broker_gather", "1000");
    assert_true(gathered >= 1 && gathered <= 2); /* 2: a very slow machine's window closed */
    s_gather_full();
}

/* Batches: what agents say in one turn reaches a server in one BATCH; a server's BATCH is
   split into the agents' messages, and the answers it causes return in one. */
static void test_batches(void **state)
{
    (void) state;
    cf_curve_keypair_t keys[3] = {cf_itest_zap_kp(), cf_itest_zap_kp(), cf_itest_zap_kp()};
    static const cf_allow_kind_t kinds[] = {CF_ALLOW_AGENT, CF_ALLOW_AGENT, CF_ALLOW_SERVER};
    static const char *const names[] = {"pc-a", "pc-b", "s1"};
    cf_itest_broker_t b;
    cf_itest_broker_start(&b, "broker_batch", kinds, names, keys, 3);
    zsock_t *srv = cf_itest_broker_server(&b, &keys[2], "server:s1");
    cf_itest_broker_server_ready(&b, srv, 1);
    zsock_t *a = cf_itest_broker_agent(&b, &keys[0], "pc-a");
    zsock_t *bb = cf_itest_broker_agent(&b, &keys[1], "pc-b");
    cf_itest_broker_agent_ready(&b, a, "pc-a", 1, &srv, 1);
    cf_itest_broker_agent_ready(&b, bb, "pc-b", 2, &srv, 1);

    /* the broker is stopped while the agents send, so it finds them all waiting at once */
    cf_msg_t m;
    assert_int_equal(kill(b.pid, SIGSTOP), 0);
    for (unsigned i = 1; i <= 50; i++) {
        cf_itest_broker_msg(&m, CF_MSG_RECEIPT, i % 2 ? "pc-a" : "pc-b", i);
        cf_itest_broker_send(i % 2 ? a : bb, &m);
    }
    assert_int_equal(kill(b.pid, SIGCONT), 0);
    unsigned seeds[51] = {0};
    for (unsigned i = 1; i <= 50; i++) {
        cf_itest_broker_expect(srv, CF_MSG_RECEIPT, &m);
        seeds[strtoul(m.job_id + 24, NULL, 16)]++;
        cf_msg_clear(&m);
    }
    for (unsigned i = 1; i <= 50; i++)
        assert_int_equal(seeds[i], 1);
    long out = cf_itest_broker_metric(&b, "cf_broker_batches_total{dir=\"out\"}");
    printf("broker: 50 receipts reached the server in %ld batches\n", out);
    assert_true(out >= 1 && out < 50); /* one message per batch would be 50 */

    /* a server's batch: a JOB each for pc-a and pc-b, one for an agent not here, an ACK */
    static const char job[] = "{\"v\":1}";
    cf_msg_t batch[4];
    cf_itest_broker_msg(&batch[0], CF_MSG_JOB, "pc-a", 101);
    cf_itest_broker_msg(&batch[1], CF_MSG_JOB, "pc-ghost", 102);
    cf_itest_broker_msg(&batch[2], CF_MSG_JOB, "pc-b", 103);
    cf_itest_broker_msg(&batch[3], CF_MSG_ACK, "pc-a", 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(cf_msg_set_job(&batch[i], job, sizeof(job) - 1), CF_OK);
    cf_itest_broker_send_batch(srv, batch, 4);
    cf_itest_broker_expect(a, CF_MSG_JOB, &m);
    assert_string_equal(m.job_id, "00000000000000000000000000000065");
    cf_msg_clear(&m);
    cf_itest_broker_expect(a, CF_MSG_ACK, &m);
    cf_itest_broker_expect(bb, CF_MSG_JOB, &m);
    assert_string_equal(m.job_id, "00000000000000000000000000000067");
    cf_msg_clear(&m);
    cf_itest_broker_expect(srv, CF_MSG_ERROR, &m);
    assert_int_equal(m.error, CF_MSG_ERR_OFFLINE);
    assert_string_equal(m.agent, "pc-ghost");
    for (int i = 0; i < 4; i++)
        cf_msg_clear(&batch[i]);
    assert_int_equal(cf_itest_broker_metric(&b, "cf_broker_batches_total{dir=\"in\"}"), 1);
    assert_int_equal(
        cf_itest_broker_metric(&b, "cf_broker_messages_in_total{side=\"servers\",type=\"JOB\"}"),
        3);

    /* a batch that does not split is dropped whole and answered "malformed" */
    zmsg_t *bad = zmsg_new();
    assert_int_equal(zmsg_addmem(bad, "CF\x01\x09", 4), 0);
    assert_int_equal(zmsg_addmem(bad, "\x00\x02junk", 6), 0);
    assert_int_equal(zmsg_send(&bad, srv), 0);
    cf_itest_broker_expect(srv, CF_MSG_ERROR, &m);
    assert_int_equal(m.error, CF_MSG_ERR_MALFORMED);
    assert_int_equal(cf_itest_broker_pending(srv), 0);
    zsock_destroy(&a);
    zsock_destroy(&bb);
    zsock_destroy(&srv);
    cf_itest_broker_stop(&b);
}

static void s_check_counts(const cf_itest_broker_t *b)
{
    static const struct {
        const char *line; /* metric */
        long want;        /* its value */
    } want[] = {
        {"cf_broker_messages_in_total{side=\"agents\",type=\"RECEIPT\"}", 10},
        {"cf_broker_messages_out_total{side=\"servers\",type=\"RECEIPT\"}", 10},
        {"cf_broker_messages_in_total{side=\"agents\",type=\"HELLO\"}", 2},
        {"cf_broker_messages_out_total{side=\"servers\",type=\"HELLO\"}", 2},
        {"cf_broker_messages_in_total{side=\"agents\",type=\"REPORT\"}", 1},
        {"cf_broker_messages_in_total{side=\"servers\",type=\"JOB\"}", 2},
        {"cf_broker_messages_out_total{side=\"agents\",type=\"JOB\"}", 3},
        {"cf_broker_messages_out_total{side=\"agents\",type=\"ACK\"}", 1},
        {"cf_broker_messages_in_total{side=\"servers\",type=\"BROADCAST\"}", 5},
        {"cf_broker_messages_out_total{side=\"agents\",type=\"CHECKIN\"}", 4},
        {"cf_broker_messages_out_total{side=\"servers\",type=\"ERROR\"}", 2},
        {"cf_broker_drops_total{reason=\"offline\"}", 2},
        {"cf_broker_drops_total{reason=\"malformed\"}", 0},
        {"cf_broker_connected_agents", 2},
        {"cf_broker_connected_servers", 2},
        {"cf_broker_listed_identities", 5},
        {"cf_broker_drops_total{reason=\"no_server\"}", 0},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        long got = cf_itest_broker_metric(b, want[i].line);
        if (got != want[i].want)
            fail_msg("%s is %ld, want %ld", want[i].line, got, want[i].want);
    }
}

/* Agents' messages spread over two servers (a third, listed but absent, is skipped); jobs, acks and
   check-ins reach the agent; a job for an agent not connected here is answered "offline"; the page
   counts it all. */
/* A job for each listed agent (a job to all's shared copy, carried once): each held one
   (a as pc-a, b as pc-b) gets it as its JOB, one not held is answered offline. */
static void s_broadcast_job(zsock_t *srv, zsock_t *a, zsock_t *b, const char *job, size_t job_len)
{
    cf_msg_t m;
    cf_itest_broker_msg(&m, CF_MSG_BROADCAST, "pc-a", 12);
    m.agent[0] = '\0';
    assert_int_equal(cf_msg_add_target(&m, "pc-a"), CF_OK);
    assert_int_equal(cf_msg_add_target(&m, "pc-ghost"), CF_OK);
    assert_int_equal(cf_msg_add_target(&m, "pc-b"), CF_OK);
    assert_int_equal(cf_msg_set_job(&m, job, job_len), CF_OK);
    cf_itest_broker_send(srv, &m);
    cf_msg_clear(&m);
    zsock_t *to[] = {a, b};
    const char *ids[] = {"pc-a", "pc-b"};
    for (size_t i = 0; i < 2; i++) {
        cf_itest_broker_expect(to[i], CF_MSG_JOB, &m);
        assert_string_equal(m.agent, ids[i]);
        assert_string_equal(m.job_id, "0000000000000000000000000000000c");
        assert_int_equal(m.job_len, job_len);
        assert_memory_equal(m.job, job, m.job_len);
        cf_msg_clear(&m);
    }
    cf_itest_broker_expect(srv, CF_MSG_ERROR, &m);
    assert_int_equal(m.error, CF_MSG_ERR_OFFLINE);
    assert_string_equal(m.agent, "pc-ghost");
    assert_string_equal(m.job_id, "0000000000000000000000000000000c");
}

static void test_routing(void **state)
{
    (void) state;
    cf_curve_keypair_t keys[5] = {cf_itest_zap_kp(), cf_itest_zap_kp(), cf_itest_zap_kp(),
                                  cf_itest_zap_kp(), cf_itest_zap_kp()};
    /* s0 is listed but never connects: the round-robin skips it */
    static const cf_allow_kind_t kinds[] = {CF_ALLOW_AGENT, CF_ALLOW_AGENT, CF_ALLOW_SERVER,
                                            CF_ALLOW_SERVER, CF_ALLOW_SERVER};
    static const char *const names[] = {"pc-a", "pc-b", "s1", "s2", "s0"};
    cf_itest_broker_t b;
    cf_itest_broker_start(&b, "broker_route", kinds, names, keys, 5);
    zsock_t *srv[2] = {cf_itest_broker_server(&b, &keys[2], "server:s1"),
                       cf_itest_broker_server(&b, &keys[3], "server:s2")};
    cf_itest_broker_server_ready(&b, srv[0], 1);
    cf_itest_broker_server_ready(&b, srv[1], 2);
    zsock_t *a = cf_itest_broker_agent(&b, &keys[0], "pc-a");
    zsock_t *bb = cf_itest_broker_agent(&b, &keys[1], "pc-b");
    cf_itest_broker_agent_ready(&b, a, "pc-a", 1, srv, 2);
    cf_itest_broker_agent_ready(&b, bb, "pc-b", 2, srv, 2);

    /* one at a time: each turn's batch goes to the next server */
    cf_msg_t m;
    int got[2] = {0, 0};
    unsigned seeds[11] = {0};
    for (unsigned i = 1; i <= 10; i++) {
        cf_itest_broker_msg(&m, CF_MSG_RECEIPT, "pc-a", i);
        cf_itest_broker_send(a, &m);
        s_collect(srv, 2, CF_MSG_RECEIPT, 1, got, seeds);
    }
    printf("broker: receipts per server %d + %d\n", got[0], got[1]);
    assert_true(got[0] > 0 && got[1] > 0);
    for (unsigned i = 1; i <= 10; i++)
        assert_int_equal(seeds[i], 1);

    cf_itest_broker_msg(&m, CF_MSG_JOB, "pc-ghost", 77);
    assert_int_equal(cf_msg_set_job(&m, "{}", 2), CF_OK);
    cf_itest_broker_send(srv[0], &m);
    cf_msg_clear(&m);
    cf_itest_broker_expect(srv[0], CF_MSG_ERROR, &m);
    assert_int_equal(m.error, CF_MSG_ERR_OFFLINE);
    assert_string_equal(m.agent, "pc-ghost");
    assert_string_equal(m.job_id, "0000000000000000000000000000004d");

    static const char job[] = "{\"v\":1,\"signed\":\"job bytes the broker never reads\"}";
    cf_itest_broker_msg(&m, CF_MSG_JOB, "pc-a", 5);
    assert_int_equal(cf_msg_set_job(&m, job, sizeof(job) - 1), CF_OK);
    cf_itest_broker_send(srv[0], &m);
    cf_msg_clear(&m);
    cf_itest_broker_expect(a, CF_MSG_JOB, &m);
    assert_int_equal(m.job_len, sizeof(job) - 1);
    assert_memory_equal(m.job, job, m.job_len);
    cf_msg_clear(&m);
    cf_itest_broker_msg(&m, CF_MSG_REPORT, "pc-a", 5);
    cf_itest_broker_send(a, &m);
    int reports[2] = {0, 0};
    s_collect(srv, 2, CF_MSG_REPORT, 1, reports, NULL);
    cf_itest_broker_msg(&m, CF_MSG_ACK, "pc-a", 5);
    cf_itest_broker_send(srv[1], &m);
    cf_itest_broker_expect(a, CF_MSG_ACK, &m);
    assert_int_equal(m.ack_of, CF_MSG_REPORT);

    cf_msg_init(&m, CF_MSG_BROADCAST);
    m.all = 1;
    cf_itest_broker_send(srv[1], &m);
    cf_itest_broker_expect(a, CF_MSG_CHECKIN, &m);
    assert_string_equal(m.agent, "pc-a");
    cf_itest_broker_expect(bb, CF_MSG_CHECKIN, &m);
    assert_string_equal(m.agent, "pc-b");
    /* a list: only pc-b (pc-ghost is not held); pc-a's next message is the direct one */
    cf_msg_init(&m, CF_MSG_BROADCAST);
    assert_int_equal(cf_msg_add_target(&m, "pc-b"), CF_OK);
    assert_int_equal(cf_msg_add_target(&m, "pc-ghost"), CF_OK);
    cf_itest_broker_send(srv[1], &m);
    cf_msg_clear(&m);
    cf_itest_broker_expect(bb, CF_MSG_CHECKIN, &m);
    cf_itest_broker_msg(&m, CF_MSG_CHECKIN, "pc-a", 9);
    cf_itest_broker_send(srv[0], &m);
    cf_itest_broker_expect(a, CF_MSG_CHECKIN, &m);
    assert_string_equal(m.job_id, "00000000000000000000000000000009");
    s_broadcast_job(srv[0], a, bb, job, sizeof(job) - 1);

    s_check_counts(&b);
    zsock_destroy(&a);
    zsock_destroy(&bb);
    zsock_destroy(&srv[0]);
    zsock_destroy(&srv[1]);
    cf_itest_broker_stop(&b);
}

/* A metric line and the value it should read, for cf_test_wait_until. */
typedef struct {
    const cf_itest_broker_t *b; /* the broker */
    const char *line;           /* the metric */
    long want;                  /* its value */
} s_metric_t;

static int s_metric_reads(void *ctx)
{
    const s_metric_t *m = ctx;
    return cf_itest_broker_metric(m->b, m->line) == m->want;
}

/* Wait until the metric line reads exactly want; 1 if it did within the harness's wait. */
static int s_metric_is(const cf_itest_broker_t *b, const char *line, long want)
{
    s_metric_t m = {b, line, want};
    return cf_test_wait_until(s_metric_reads, &m, CF_ITEST_BROKER_WAIT_MS);
}

/* An agent connected again while its first connection still stood: libzmq hands its
   routing id to the new connection, and when the old one closes its DISCONNECTED event
   makes the broker's table forget the agent (the event names only a descriptor; after a
   quick reconnect the same thing happens when the descriptor number is reused). The agent
   is connected all the same: a JOB for it is delivered, not answered "offline". */
/* Wait (at most 5 s) until sock's CURVE handshake is done: its monitor's
   HANDSHAKE_SUCCEEDED. Until then the broker has no route for its id, and a JOB sent to it
   is answered "offline" (seen once under ASan, where the handshake lagged). A monitor
   started after the connect may miss an event that came first: then the wait runs out,
   and the handshake is long done. */
static void s_handshake_wait(zsock_t *sock)
{
    char ep[64];
    snprintf(ep, sizeof(ep), "inproc://handshake-%p", (void *) sock);
    assert_int_equal(zmq_socket_monitor(zsock_resolve(sock), ep, ZMQ_EVENT_HANDSHAKE_SUCCEEDED), 0);
    zsock_t *mon = zsock_new_pair(ep); /* ">" implied: PAIR connects by default */
    assert_non_null(mon);
    zsock_set_rcvtimeo(mon, 5000);
    zmsg_t *ev = zmsg_recv(mon);
    zmsg_destroy(&ev);
    assert_int_equal(zmq_socket_monitor(zsock_resolve(sock), NULL, 0), 0);
    zsock_destroy(&mon);
}

static void test_forgotten_but_connected(void **state)
{
    (void) state;
    cf_curve_keypair_t keys[2] = {cf_itest_zap_kp(), cf_itest_zap_kp()};
    static const cf_allow_kind_t kinds[] = {CF_ALLOW_AGENT, CF_ALLOW_SERVER};
    static const char *const names[] = {"pc-a", "s1"};
    cf_itest_broker_t b;
    cf_itest_broker_start(&b, "broker_handover", kinds, names, keys, 2);
    zsock_t *srv = cf_itest_broker_server(&b, &keys[1], "server:s1");
    cf_itest_broker_server_ready(&b, srv, 1);
    zsock_t *old = cf_itest_broker_agent(&b, &keys[0], "pc-a");
    cf_itest_broker_agent_ready(&b, old, "pc-a", 1, &srv, 1);
    zsock_t *fresh = cf_itest_broker_agent(&b, &keys[0], "pc-a");
    s_handshake_wait(fresh);
    assert_true(s_metric_is(&b, "cf_broker_connections{side=\"agents\"}", 2));
    zsock_destroy(&old);
    assert_true(s_metric_is(&b, "cf_broker_connections{side=\"agents\"}", 1));
    assert_true(s_metric_is(&b, "cf_broker_connected_agents", 0)); /* the table forgot it */

    static const char job[] = "{\"v\":1,\"signed\":\"for the agent's new connection\"}";
    cf_msg_t m;
    cf_itest_broker_msg(&m, CF_MSG_JOB, "pc-a", 6);
    assert_int_equal(cf_msg_set_job(&m, job, sizeof(job) - 1), CF_OK);
    cf_itest_broker_send(srv, &m);
    cf_msg_clear(&m);
    cf_itest_broker_expect(fresh, CF_MSG_JOB, &m);
    assert_memory_equal(m.job, job, sizeof(job) - 1);
    cf_msg_clear(&m);
    assert_int_equal(cf_itest_broker_metric(&b, "cf_broker_drops_total{reason=\"offline\"}"), 0);
    /* its next message makes the table hold it again */
    cf_itest_broker_msg(&m, CF_MSG_RECEIPT, "pc-a", 6);
    cf_itest_broker_send(fresh, &m);
    cf_itest_broker_expect(srv, CF_MSG_RECEIPT, &m);
    cf_msg_clear(&m);
    assert_true(s_metric_is(&b, "cf_broker_connected_agents", 1));
    zsock_destroy(&fresh);
    zsock_destroy(&srv);
    cf_itest_broker_stop(&b);
}

/* The other way round: a second connection with the agent's id takes the id over and closes
   without a word (what a fleet's fresh DEALER does when it replaces one whose handshake was
   slow, and the slow one finishes last), so libzmq routes the id nowhere while the agent's
   connection that the broker holds stays up (heartbeats answered, the agent idle). A JOB
   for it is answered "offline"; the broker then shuts that held connection, and the agent
   reconnects and says HELLO (its open jobs come then). Without the shut the agent waited
   for its next check-in: 52 of 9,000 in a fan-out run (docs/broker.md). */
static void test_orphaned_connection_shut(void **state)
{
    (void) state;
    cf_curve_keypair_t keys[2] = {cf_itest_zap_kp(), cf_itest_zap_kp()};
    static const cf_allow_kind_t kinds[] = {CF_ALLOW_AGENT, CF_ALLOW_SERVER};
    static const char *const names[] = {"pc-a", "s1"};
    cf_itest_broker_t b;
    cf_itest_broker_start(&b, "broker_orphan", kinds, names, keys, 2);
    zsock_t *srv = cf_itest_broker_server(&b, &keys[1], "server:s1");
    cf_itest_broker_server_ready(&b, srv, 1);
    zsock_t *held = cf_itest_broker_agent(&b, &keys[0], "pc-a");
    cf_itest_broker_agent_ready(&b, held, "pc-a", 1, &srv, 1);
    /* a second DEALER with the id: once its handshake is done the broker's ROUTER has
       handed the id over to it (the pipe is made before the broker's READY goes out) */
    zsock_t *late = NULL, *mon = NULL;
    cf_zsock_cfg_t cfg;
    cf_zsock_cfg_init(&cfg);
    cf_why_t why = {""};
    assert_int_equal(cf_zsock_curve_dealer_mon(&b.agents, &keys[0], "pc-a", &cfg,
                                               "inproc://test-orphan-mon",
                                               ZMQ_EVENT_HANDSHAKE_SUCCEEDED, &mon, &late, &why),
                     CF_OK);
    assert_true(cf_itest_zap_mon_wait(mon, ZMQ_EVENT_HANDSHAKE_SUCCEEDED, NULL));
    zmq_socket_monitor(zsock_resolve(late), NULL, 0);
    zsock_destroy(&mon);
    /* the ROUTER takes the new pipe in when its own thread next looks (the broker's loop):
       a JOB that reaches the late DEALER shows the id handed over */
    cf_msg_t m;
    static const char job[] = "{\"v\":1,\"signed\":\"after the reconnect\"}";
    cf_itest_broker_msg(&m, CF_MSG_JOB, "pc-a", 7);
    assert_int_equal(cf_msg_set_job(&m, job, sizeof(job) - 1), CF_OK);
    cf_itest_broker_send(srv, &m);
    cf_msg_clear(&m);
    cf_itest_broker_expect(late, CF_MSG_JOB, &m);
    cf_msg_clear(&m);
    zsock_destroy(&late); /* without a word */
    assert_true(s_metric_is(&b, "cf_broker_connections{side=\"agents\"}", 1));
    assert_true(s_metric_is(&b, "cf_broker_connected_agents", 1)); /* still held */

    /* the id leads nowhere once the ROUTER has dropped the late pipe (its own thread again:
       a JOB sent before that goes into the closing pipe): answered offline */
    int offline = 0;
    for (int tries = 0; tries < 10 && !offline; tries++) {
        cf_itest_broker_msg(&m, CF_MSG_JOB, "pc-a", 7);
        assert_int_equal(cf_msg_set_job(&m, job, sizeof(job) - 1), CF_OK);
        cf_itest_broker_send(srv, &m);
        cf_msg_clear(&m);
        if (cf_itest_broker_recv(srv, 500, &m) == CF_OK)
            offline = m.type == CF_MSG_ERROR && m.error == CF_MSG_ERR_OFFLINE;
        cf_msg_clear(&m);
    }
    assert_true(offline);
    assert_true(cf_itest_broker_metric_wait(&b, "cf_broker_shut_total", 1));
    /* the agent's DEALER reconnects; its HELLO makes it held and routable again */
    assert_true(cf_itest_broker_metric_wait(&b, "cf_broker_accepted_total{side=\"agents\"}", 3));
    cf_itest_broker_agent_ready(&b, held, "pc-a", 1, &srv, 1);
    cf_itest_broker_msg(&m, CF_MSG_JOB, "pc-a", 7);
    assert_int_equal(cf_msg_set_job(&m, job, sizeof(job) - 1), CF_OK);
    cf_itest_broker_send(srv, &m);
    cf_msg_clear(&m);
    cf_itest_broker_expect(held, CF_MSG_JOB, &m);
    assert_memory_equal(m.job, job, sizeof(job) - 1);
    cf_msg_clear(&m);
    zsock_destroy(&held);
    zsock_destroy(&srv);
    cf_itest_broker_stop(&b);
}

/* The command line: exit codes as --help documents them. */
static void test_command_line(void **state)
{
    (void) state;
    char dir[512], bin[600];
    cf_test_tmpdir("broker_cli", dir, sizeof(dir));
    const char *env = getenv("CF_BIN_DIR");
    snprintf(bin, sizeof(bin), "%s/broker/cf-broker", env && *env ? env : ".");
    assert_int_equal(cf_test_sh("%s --help | grep -q 'Exit status'", bin), 0);
    assert_int_equal(cf_test_sh("%s --keygen --out %s", bin, dir), 0);
    assert_int_equal(cf_test_sh("%s --keygen --out %s", bin, dir), 1); /* never overwrites */
    /* a missing --out is made, for its owner only */
    assert_int_equal(cf_test_sh("%s --keygen --out %s/new/keys && test \"$(stat -c %%a "
                                "%s/new/keys)\" = 700 && test -s %s/new/keys/broker.key",
                                bin, dir, dir, dir),
                     0);
    assert_int_equal(cf_test_sh("%s --no-such-flag", bin), 2);
    assert_int_equal(cf_test_sh("%s --hwm 0", bin), 2);
    assert_int_equal(cf_test_sh("%s stray-argument", bin), 2);
    /* a key file others may read is refused, as is a missing one */
    assert_int_equal(cf_test_sh("chmod 0644 %s/broker.key_secret && %s -k %s/broker.key_secret "
                                "--redis 127.0.0.1:1",
                                dir, bin, dir),
                     1);
    assert_int_equal(cf_test_sh("%s -k %s/missing --redis 127.0.0.1:1", bin, dir), 1);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unlisted_refused_at_start),
        cmocka_unit_test(test_routing),
        cmocka_unit_test(test_batches),
        cmocka_unit_test(test_gather),
        cmocka_unit_test(test_forgotten_but_connected),
        cmocka_unit_test(test_orphaned_connection_shut),
        cmocka_unit_test(test_command_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
