/*  test_link_retry - agents answered "offline": retried after 5 s, 30 s and 2 min (plus up
    to a quarter), the other jobs of one send change nothing, a fact or HELLO ends the wait,
    tries run out, the set is bounded, an unanswered retry is forgotten  */
#include "cf_test.h"

#include <stdio.h>
#include <string.h>

#include "cf_link_retry.h"

/* What cf_link_retry_run called. */
typedef struct {
    char agents[8][CF_MSG_AGENT_MAX + 1]; /* in call order */
    size_t brokers[8];                    /* the broker of each */
    size_t n;                             /* calls */
} s_calls_t;

static void s_record(void *ctx, const char *agent, size_t broker)
{
    s_calls_t *c = ctx;
    if (c->n < 8) {
        snprintf(c->agents[c->n], sizeof(c->agents[0]), "%s", agent);
        c->brokers[c->n] = broker;
    }
    c->n++;
}

/* Run at now and return how many were due (calls recorded in *c, which is reset). */
static size_t s_run(cf_link_retry_t *r, int64_t now, s_calls_t *c)
{
    memset(c, 0, sizeof(*c));
    return cf_link_retry_run(r, now, s_record, c);
}

/* Usage: one "offline" answer, the retry 5..6.25 s later on the same broker; the agent's
   RECEIPT after it ends the wait. */
static void test_usage(void **state)
{
    (void) state;
    cf_link_retry_t *r = NULL;
    assert_int_equal(cf_link_retry_new(0, &r), CF_OK);
    assert_int_equal(cf_link_retry_next(r, 0), -1);
    assert_int_equal(cf_link_retry_offline(r, "pc-1", 1, 1000), 1);
    assert_int_equal(cf_link_retry_size(r), 1);
    int64_t wait = cf_link_retry_next(r, 1000);
    assert_true(wait >= 5000 && wait <= 6250);
    s_calls_t c;
    assert_int_equal(s_run(r, 1000 + wait - 1, &c), 0);
    assert_int_equal(s_run(r, 1000 + wait, &c), 1);
    assert_string_equal(c.agents[0], "pc-1");
    assert_int_equal(c.brokers[0], 1);
    assert_int_equal(s_run(r, 1000 + wait + 1, &c), 0);            /* once */
    assert_true(cf_link_retry_next(r, 1000 + wait) >= 600000 - 1); /* its forget */
    cf_link_retry_forget(r, "pc-1");                               /* its RECEIPT */
    assert_int_equal(cf_link_retry_size(r), 0);
    cf_link_retry_destroy(&r);
    cf_link_retry_destroy(&r); /* idempotent */
    assert_null(r);
}

/* The other jobs of one send answered "offline" too: still one retry. Answers after a
   retry count: 30 s, 2 min, then the agent is left to its check-in. */
static void test_tries(void **state)
{
    (void) state;
    cf_link_retry_t *r = NULL;
    assert_int_equal(cf_link_retry_new(0, &r), CF_OK);
    int64_t now = 0;
    assert_int_equal(cf_link_retry_offline(r, "pc-1", 0, now), 1);
    assert_int_equal(cf_link_retry_offline(r, "pc-1", 0, now + 10), 1); /* second job */
    assert_int_equal(cf_link_retry_size(r), 1);
    static const int64_t base[] = {5000, 30000, 120000};
    s_calls_t c;
    for (int i = 0; i < 3; i++) {
        int64_t wait = cf_link_retry_next(r, now);
        if (wait < base[i] - 10 || wait > base[i] + base[i] / 4)
            fail_msg("retry %d after %lld ms, expected %lld..%lld", i, (long long) wait,
                     (long long) base[i], (long long) (base[i] + base[i] / 4));
        now += wait;
        assert_int_equal(s_run(r, now, &c), 1);
        now += 50; /* its answer */
        assert_int_equal(cf_link_retry_offline(r, "pc-1", 0, now), i < 2 ? 1 : 0);
    }
    assert_int_equal(cf_link_retry_size(r), 0); /* tries used up */
    assert_int_equal(cf_link_retry_next(r, now), -1);
    cf_link_retry_destroy(&r);
}

/* Bounded: a full set takes no more; a retry that nobody answers is forgotten after ten
   minutes; bad arguments are harmless. */
static void test_bounds(void **state)
{
    (void) state;
    cf_link_retry_t *r = NULL;
    assert_int_equal(cf_link_retry_new(2, &r), CF_OK);
    assert_int_equal(cf_link_retry_offline(r, "pc-1", 0, 0), 1);
    assert_int_equal(cf_link_retry_offline(r, "pc-2", 0, 0), 1);
    assert_int_equal(cf_link_retry_offline(r, "pc-3", 0, 0), 0);
    assert_int_equal(cf_link_retry_size(r), 2);
    s_calls_t c;
    assert_int_equal(s_run(r, 7000, &c), 2);
    assert_int_equal(cf_link_retry_size(r), 2); /* sent, not answered yet */
    assert_int_equal(s_run(r, 7000 + 600000, &c), 0);
    assert_int_equal(cf_link_retry_size(r), 0);
    assert_int_equal(cf_link_retry_offline(r, "", 0, 0), 0);
    assert_int_equal(cf_link_retry_offline(r, NULL, 0, 0), 0);
    assert_int_equal(cf_link_retry_offline(NULL, "pc-1", 0, 0), 0);
    cf_link_retry_forget(r, "nobody");
    cf_link_retry_forget(NULL, "pc-1");
    assert_int_equal(cf_link_retry_run(NULL, 0, s_record, &c), 0);
    assert_int_equal(cf_link_retry_next(NULL, 0), -1);
    assert_int_equal(cf_link_retry_size(NULL), 0);
    cf_link_retry_destroy(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_tries),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
