/*  test_link_facts - which RECEIPTs of a batch are moot: covered by their REPORT in the same
    batch, or repeated; REPORTs never; other jobs and agents untouched; a full batch; which
    lone RECEIPTs are held for their REPORT (young ones only) and when they fall due; when
    the facts read since the last call have gathered long enough  */
#include "cf_test.h"

#include <stdio.h>
#include <string.h>

#include "cf_link_facts.h"

#define S_JOB_A "0123456789abcdef0123456789abcdef"
#define S_JOB_B "fedcba9876543210fedcba9876543210"

static cf_link_fact_t s_fact(cf_msg_type_t type, const char *job, const char *agent)
{
    cf_link_fact_t f;
    memset(&f, 0, sizeof(f));
    f.type = type;
    f.outcome = CF_MSG_INSTALLED;
    snprintf(f.job_id, sizeof(f.job_id), "%s", job);
    snprintf(f.agent, sizeof(f.agent), "%s", agent);
    return f;
}

/* Usage: an agent's RECEIPT and REPORT of one job in one batch: only the REPORT is stored. */
static void test_usage(void **state)
{
    (void) state;
    cf_link_fact_t b[2] = {s_fact(CF_MSG_RECEIPT, S_JOB_A, "pc-1"),
                           s_fact(CF_MSG_REPORT, S_JOB_A, "pc-1")};
    unsigned char moot[2];
    assert_int_equal(cf_link_facts_moot(b, 2, moot), 1);
    assert_int_equal(moot[0], 1);
    assert_int_equal(moot[1], 0);
}

/* A RECEIPT alone, or beside facts of another job or another agent, is stored. */
static void test_not_moot(void **state)
{
    (void) state;
    cf_link_fact_t b[5] = {
        s_fact(CF_MSG_RECEIPT, S_JOB_A, "pc-1"), s_fact(CF_MSG_REPORT, S_JOB_B, "pc-1"),
        s_fact(CF_MSG_REPORT, S_JOB_A, "pc-2"),  s_fact(CF_MSG_RECEIPT, S_JOB_B, "pc-3"),
        s_fact(CF_MSG_REPORT, S_JOB_A, "pc-10"),
    };
    unsigned char moot[5];
    memset(moot, 7, sizeof(moot));
    assert_int_equal(cf_link_facts_moot(b, 5, moot), 0);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(moot[i], 0);
}

/* The REPORT before its RECEIPT (a RECEIPT sent again), repeated RECEIPTs and REPORTs: the
   RECEIPTs are moot, every REPORT is kept (stored once more as "no change"). */
static void test_order_and_repeats(void **state)
{
    (void) state;
    cf_link_fact_t b[6] = {
        s_fact(CF_MSG_REPORT, S_JOB_A, "pc-1"),  s_fact(CF_MSG_RECEIPT, S_JOB_A, "pc-1"),
        s_fact(CF_MSG_REPORT, S_JOB_A, "pc-1"),  s_fact(CF_MSG_RECEIPT, S_JOB_B, "pc-2"),
        s_fact(CF_MSG_RECEIPT, S_JOB_B, "pc-2"), s_fact(CF_MSG_RECEIPT, S_JOB_B, "pc-2"),
    };
    unsigned char moot[6];
    assert_int_equal(cf_link_facts_moot(b, 6, moot), 3);
    const unsigned char want[6] = {0, 1, 0, 0, 1, 1};
    assert_memory_equal(moot, want, sizeof(want));
}

/* A full batch of 500 agents, each with a RECEIPT and a REPORT (RECEIPTs first, as a busy
   broker turn packs them), then one over the cap: nothing marked. */
static void test_full_batch(void **state)
{
    (void) state;
    static cf_link_fact_t b[CF_LINK_BATCH_MAX + 1];
    static unsigned char moot[CF_LINK_BATCH_MAX + 1];
    size_t half = CF_LINK_BATCH_MAX / 2;
    for (size_t i = 0; i < half; i++) {
        char agent[32];
        snprintf(agent, sizeof(agent), "agent-%zu", i);
        b[i] = s_fact(CF_MSG_RECEIPT, S_JOB_A, agent);
        b[half + i] = s_fact(CF_MSG_REPORT, S_JOB_A, agent);
    }
    assert_int_equal(cf_link_facts_moot(b, CF_LINK_BATCH_MAX, moot), half);
    for (size_t i = 0; i < CF_LINK_BATCH_MAX; i++)
        assert_int_equal(moot[i], i < half);
    b[CF_LINK_BATCH_MAX] = s_fact(CF_MSG_RECEIPT, S_JOB_B, "agent-0");
    assert_int_equal(cf_link_facts_moot(b, CF_LINK_BATCH_MAX + 1, moot), 0);
    for (size_t i = 0; i <= CF_LINK_BATCH_MAX; i++)
        assert_int_equal(moot[i], 0);
}

static void test_bad_input(void **state)
{
    (void) state;
    cf_link_fact_t b[1] = {s_fact(CF_MSG_RECEIPT, S_JOB_A, "pc-1")};
    unsigned char moot[1] = {9};
    assert_int_equal(cf_link_facts_moot(NULL, 1, moot), 0);
    assert_int_equal(cf_link_facts_moot(b, 1, NULL), 0);
    assert_int_equal(cf_link_facts_moot(b, 0, moot), 0);
    assert_int_equal(moot[0], 9); /* n == 0: nothing written */
}

/* Lone RECEIPTs read less than hold_ms ago are held; old ones, moot ones and REPORTs are
   not; the earliest due time is the oldest held one's read time + hold_ms. */
static void test_hold(void **state)
{
    (void) state;
    cf_link_fact_t b[5] = {
        s_fact(CF_MSG_RECEIPT, S_JOB_A, "pc-1"), /* young, alone: held */
        s_fact(CF_MSG_RECEIPT, S_JOB_A, "pc-2"), /* its REPORT is here: moot, not held */
        s_fact(CF_MSG_REPORT, S_JOB_A, "pc-2"),  /* never held */
        s_fact(CF_MSG_RECEIPT, S_JOB_B, "pc-3"), /* read 50 ms ago: stored now */
        s_fact(CF_MSG_RECEIPT, S_JOB_B, "pc-4"), /* read 30 ms ago: held, the earliest due */
    };
    b[0].at_ms = 1000;
    b[1].at_ms = b[2].at_ms = 990;
    b[3].at_ms = 950;
    b[4].at_ms = 970;
    unsigned char moot[5], held[5];
    assert_int_equal(cf_link_facts_moot(b, 5, moot), 1);
    int64_t due = 0;
    assert_int_equal(cf_link_facts_hold(b, 5, moot, 1000, 50, held, &due), 2);
    const unsigned char want[5] = {1, 0, 0, 0, 1};
    assert_memory_equal(held, want, sizeof(want));
    assert_int_equal(due, 1020);
    /* nothing held when the hold is off, or once every RECEIPT is old enough */
    assert_int_equal(cf_link_facts_hold(b, 5, moot, 1000, 0, held, &due), 0);
    assert_int_equal(due, INT64_MAX);
    assert_int_equal(cf_link_facts_hold(b, 5, moot, 1050, 50, held, NULL), 0);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(held[i], 0);
    /* bad input marks nothing */
    assert_int_equal(cf_link_facts_hold(NULL, 5, moot, 1000, 50, held, &due), 0);
    assert_int_equal(cf_link_facts_hold(b, 5, NULL, 1000, 50, held, &due), 0);
    assert_int_equal(due, INT64_MAX);
}

/* Facts read since the last call wait for more until the oldest is gather_ms old or
   CF_LINK_GATHER_MIN are there; no facts, or no gathering, go at once. */
static void test_gathered(void **state)
{
    (void) state;
    static cf_link_fact_t b[CF_LINK_GATHER_MIN];
    for (size_t i = 0; i < CF_LINK_GATHER_MIN; i++) {
        char agent[32];
        snprintf(agent, sizeof(agent), "agent-%zu", i);
        b[i] = s_fact(CF_MSG_REPORT, S_JOB_A, agent);
        b[i].at_ms = 1000 + (int64_t) i / 64; /* read over 4 ms, oldest first */
    }
    int64_t due = 0;
    /* three facts, the oldest 5 ms old: they wait until it is 10 ms old */
    assert_int_equal(cf_link_facts_gathered(b, 3, 1005, 10, &due), 0);
    assert_int_equal(due, 1010);
    assert_int_equal(cf_link_facts_gathered(b, 3, 1009, 10, NULL), 0);
    /* then they go */
    assert_int_equal(cf_link_facts_gathered(b, 3, 1010, 10, &due), 1);
    assert_int_equal(due, INT64_MAX);
    /* enough of them go at once, however young */
    assert_int_equal(cf_link_facts_gathered(b, CF_LINK_GATHER_MIN - 1, 1004, 10, &due), 0);
    assert_int_equal(cf_link_facts_gathered(b, CF_LINK_GATHER_MIN, 1004, 10, &due), 1);
    /* no gathering, nothing new, bad input: go (what is held decides) */
    assert_int_equal(cf_link_facts_gathered(b, 3, 1000, 0, &due), 1);
    assert_int_equal(cf_link_facts_gathered(b, 3, 1000, -5, &due), 1);
    assert_int_equal(cf_link_facts_gathered(b, 0, 1000, 10, &due), 1);
    assert_int_equal(cf_link_facts_gathered(NULL, 3, 1000, 10, &due), 1);
    assert_int_equal(due, INT64_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_not_moot),
        cmocka_unit_test(test_order_and_repeats),
        cmocka_unit_test(test_full_batch),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_hold),
        cmocka_unit_test(test_gathered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
