/*  test_pipeline - the whole job pipeline on loopback: an install job to 100 agents made with
    POST /api/v1/jobs goes server -> two real cf-brokers -> simulated agents (no HTTPS: the
    broker path alone delivers); every receipt and report is stored and acknowledged, the
    job's counts equal its entries, and the brokers' counters equal what the fleet sent and
    received  */
#include "cf_test.h"

#include <stdio.h>
#include <string.h>

#include "cf_db_cert.h"
#include "cf_itest_pipeline.h"

#define S_AGENTS 100

static cf_itest_pipe_t *const s = &cf_itest_pipe;

static int s_setup(void **state)
{
    (void) state;
    return cf_itest_pipe_setup("test_pipeline", 2, S_AGENTS);
}

/* The broker counters this test compares, summed over both brokers. */
typedef struct {
    long in_a[CF_MSG_TYPE_COUNT_];  /* messages in from agents, by type */
    long out_a[CF_MSG_TYPE_COUNT_]; /* messages out to agents */
    long in_s[CF_MSG_TYPE_COUNT_];  /* messages in from servers */
    long out_s[CF_MSG_TYPE_COUNT_]; /* messages out to servers */
    long drops;                     /* received messages dropped, every reason */
    long send_drops;                /* sends that failed, both sides, both reasons */
} s_counters_t;

static long s_get(const char *line)
{
    long v = cf_itest_pipe_metric_sum(line);
    if (v < 0)
        fail_msg("no metric %s", line);
    return v;
}

/* cf_broker_messages_<dir>_total{side="<side>",type="<type>"} */
static long s_msgs(const char *dir, const char *side, int type)
{
    char line[160];
    snprintf(line, sizeof(line), "cf_broker_messages_%s_total{side=\"%s\",type=\"%s\"}", dir, side,
             cf_msg_type_name((cf_msg_type_t) type));
    return s_get(line);
}

static void s_read(s_counters_t *c)
{
    static const char *const drops[] = {"malformed", "toobig",  "version",     "identity",
                                        "kind",      "revoked", "agent_field", "type",
                                        "no_server", "offline", NULL};
    char line[160];
    memset(c, 0, sizeof(*c));
    for (int t = CF_MSG_HELLO; t < CF_MSG_TYPE_COUNT_; t++) {
        c->in_a[t] = s_msgs("in", "agents", t);
        c->out_a[t] = s_msgs("out", "agents", t);
        c->in_s[t] = s_msgs("in", "servers", t);
        c->out_s[t] = s_msgs("out", "servers", t);
    }
    for (size_t i = 0; drops[i]; i++) {
        snprintf(line, sizeof(line), "cf_broker_drops_total{reason=\"%s\"}", drops[i]);
        c->drops += s_get(line);
    }
    for (int side = 0; side < 2; side++)
        for (int r = 0; r < 2; r++) {
            snprintf(line, sizeof(line), "cf_broker_send_drops_total{side=\"%s\",reason=\"%s\"}",
                     side ? "servers" : "agents", r ? "full" : "unreachable");
            c->send_drops += s_get(line);
        }
}

typedef struct {
    cf_fleet_stats_t f0; /* the fleet before the job */
    s_counters_t b0;     /* the brokers before the job */
    cf_fleet_stats_t f;  /* now */
    s_counters_t b;      /* now */
} s_both_t;

/* 1 when the brokers have passed on everything the fleet sent and the servers answered:
   no message is in flight any more. */
static int s_settled(void *arg)
{
    s_both_t *x = arg;
    if (cf_fleet_stats(s->fleet, &x->f) != CF_OK)
        return 0;
    s_read(&x->b);
    long receipts =
        (long) (x->f.receipts + x->f.receipt_resends - x->f0.receipts - x->f0.receipt_resends);
    long reports =
        (long) (x->f.reports + x->f.report_resends - x->f0.reports - x->f0.report_resends);
    long acks = (long) (x->f.acks_receipt + x->f.acks_report + x->f.acks_stale -
                        x->f0.acks_receipt - x->f0.acks_report - x->f0.acks_stale);
    /* a RECEIPT whose REPORT reached the server in the same batch is acknowledged by the
       REPORT's ACK alone (docs/PROTOCOL.md): one or two ACKs per agent */
    long acks_in = x->b.in_s[CF_MSG_ACK] - x->b0.in_s[CF_MSG_ACK];
    return x->b.in_a[CF_MSG_RECEIPT] - x->b0.in_a[CF_MSG_RECEIPT] == receipts &&
           x->b.in_a[CF_MSG_REPORT] - x->b0.in_a[CF_MSG_REPORT] == reports && acks_in >= reports &&
           acks_in <= receipts + reports && acks_in == acks &&
           x->b.out_a[CF_MSG_ACK] - x->b0.out_a[CF_MSG_ACK] == acks;
}

#define S_D(field, t) (x.b.field[t] - x.b0.field[t])

/* A job to all (body: the POST's JSON) with the counters before it in x; it returns once
   every agent holds the ACK of its REPORT (stored in Redis, acknowledged back) and the job
   is done. */
static void s_job_all(s_both_t *x, const char *body, char id[33])
{
    assert_int_equal(cf_fleet_stats(s->fleet, &x->f0), CF_OK);
    s_read(&x->b0);
    assert_int_equal(cf_itest_pipe_job(&s->fx->a, body, id), S_AGENTS);
    cf_err_t rc = cf_fleet_wait_acked(s->fleet, id, 0, CF_ITEST_PIPE_WAIT);
    if (rc != CF_OK) {
        size_t acked = 0;
        assert_int_equal(cf_fleet_acked(s->fleet, id, &acked), CF_OK);
        fail_msg("%zu of %d agents acked; see %s", acked, S_AGENTS, s->fx->a.log);
    }
    assert_true(cf_itest_pipe_wait_done(id, CF_ITEST_PIPE_WAIT));
}

static void test_job_to_100_agents(void **state)
{
    (void) state;
    s_both_t x;
    char id[33];
    s_job_all(&x, "{\"type\":\"install_cert\",\"all\":true,\"ttl\":3600}", id);
    /* the counts (API of the other server, Redis) equal the entries read page by page */
    assert_int_not_equal(cf_itest_pipe_check_counts(&s->fx->b, id, S_AGENTS), 0);
    cf_job_state_t states[S_AGENTS];
    long n[CF_JOB_STATE_COUNT];
    assert_int_equal(cf_itest_pipe_states(&s->fx->a, id, 100, states, n), S_AGENTS);
    assert_int_equal(n[CF_JOB_INSTALLED], S_AGENTS);
    /* each agent uses the shared agent certificate the job carried */
    cf_db_cert_t shared;
    assert_int_equal(
        cf_db_cert_get(s->fx->store, NULL, CF_COMPONENT_AGENT, "shared", &shared, NULL), CF_OK);
    for (size_t i = 0; i < S_AGENTS; i++) {
        cf_fleet_agent_info_t info;
        assert_int_equal(cf_fleet_agent_info(s->fleet, i, &info), CF_OK);
        assert_string_equal(info.fpr, shared.fingerprint);
        assert_int_equal(info.installed, 1);
        assert_int_equal(info.waiting, 0);
    }
    cf_db_cert_clear(&shared);
    /* the brokers' counters: exactly what the fleet sent and received, nothing dropped */
    if (!cf_test_wait_until(s_settled, &x, CF_ITEST_PIPE_WAIT))
        fail_msg("the brokers' counters do not match the fleet's");
    long jobs = (long) (x.f.jobs - x.f0.jobs);
    assert_int_equal(jobs, S_AGENTS);
    assert_int_equal(x.f.installed - x.f0.installed, S_AGENTS);
    assert_int_equal(x.f.failed - x.f0.failed, 0);
    assert_int_equal(x.f.bad_msgs, 0);
    assert_int_equal(S_D(in_s, CF_MSG_JOB), S_AGENTS);
    assert_int_equal(S_D(out_a, CF_MSG_JOB), S_AGENTS);
    for (int t = CF_MSG_RECEIPT; t <= CF_MSG_REPORT; t++) /* passed on, one for one */
        assert_int_equal(S_D(out_s, t), S_D(in_a, t));
    assert_int_equal(S_D(in_a, CF_MSG_REPORT), (long) (x.f.reports + x.f.report_resends -
                                                       x.f0.reports - x.f0.report_resends));
    assert_true(S_D(in_a, CF_MSG_REPORT) >= S_AGENTS);
    assert_int_equal(S_D(out_a, CF_MSG_ACK), S_D(in_s, CF_MSG_ACK));
    /* nobody reconnected, nothing else went anywhere */
    assert_int_equal(x.f.connects - x.f0.connects, 0);
    assert_int_equal(S_D(in_a, CF_MSG_HELLO), 0);
    assert_int_equal(S_D(out_a, CF_MSG_ERROR) + S_D(out_s, CF_MSG_ERROR), 0);
    assert_int_equal(x.b.drops, 0);
    assert_int_equal(x.b.send_drops, 0);
    assert_int_equal(cf_itest_pipe_metric_sum("cf_broker_connected_agents"), S_AGENTS);
    print_message("job %s: %ld receipts, %ld reports, %ld acks through the brokers\n", id,
                  S_D(in_a, CF_MSG_RECEIPT), S_D(in_a, CF_MSG_REPORT), S_D(out_a, CF_MSG_ACK));
}

/* A recheck to all: its one signed copy crosses each server-broker link once per page, in
   a BROADCAST that lists the page's agents; each agent still gets its own JOB. */
static void test_shared_copy_crosses_once(void **state)
{
    (void) state;
    s_both_t x;
    char id[33];
    s_job_all(&x, "{\"type\":\"recheck\",\"all\":true,\"ttl\":3600}", id);
    if (!cf_test_wait_until(s_settled, &x, CF_ITEST_PIPE_WAIT))
        fail_msg("the brokers' counters do not match the fleet's");
    assert_int_equal(x.f.jobs - x.f0.jobs, S_AGENTS);
    assert_int_equal(S_D(out_a, CF_MSG_JOB), S_AGENTS);
    assert_int_equal(S_D(in_s, CF_MSG_JOB), 0);
    /* one page (100 agents): at most one BROADCAST per broker */
    assert_true(S_D(in_s, CF_MSG_BROADCAST) >= 1 && S_D(in_s, CF_MSG_BROADCAST) <= 2);
    assert_int_equal(x.b.drops, 0);
    assert_int_equal(x.b.send_drops, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_job_to_100_agents),
        cmocka_unit_test(test_shared_copy_crosses_once),
    };
    return cmocka_run_group_tests(tests, s_setup, cf_itest_pipe_teardown);
}
