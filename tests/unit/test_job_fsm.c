/*  test_job_fsm - the per-agent job state machine: every (state, event) pair  */
#include "cf_test.h"

#include <stdio.h>
#include <string.h>

#include "cf_job_fsm.h"

/* How a server applies an agent's report: counters move only when the state changes. */
static void test_usage(void **state)
{
    (void) state;
    long counts[CF_JOB_STATE_COUNT] = {0};
    cf_job_state_t entry = cf_job_fsm_initial(1, 1);
    assert_int_equal(entry, CF_JOB_PENDING);
    counts[entry]++;
    static const cf_job_event_t arrivals[] = {
        CF_JOB_EV_RECEIPT,          CF_JOB_EV_RECEIPT, /* the agent resent its receipt */
        CF_JOB_EV_REPORT_INSTALLED, CF_JOB_EV_REPORT_INSTALLED, CF_JOB_EV_EXPIRE,
    };
    int changes = 0;
    for (size_t i = 0; i < sizeof(arrivals) / sizeof(arrivals[0]); i++) {
        cf_job_state_t next;
        assert_int_equal(cf_job_fsm_next(entry, arrivals[i], &next), CF_OK);
        if (next == entry)
            continue; /* no change: store nothing, but acknowledge the agent */
        counts[entry]--;
        counts[next]++;
        entry = next;
        changes++;
    }
    assert_int_equal(changes, 2);
    assert_int_equal(entry, CF_JOB_INSTALLED);
    assert_int_equal(counts[CF_JOB_INSTALLED], 1);
    assert_int_equal(counts[CF_JOB_PENDING] + counts[CF_JOB_DELIVERED], 0);
    assert_string_equal(cf_job_fsm_state_name(entry), "installed");
}

/* The expected table, written out by hand from docs/PROTOCOL.md and docs/jobs.md section 6
   independently of the table in cf_job_fsm.c: one row per state, columns in event order
   (receipt, report_installed, report_failed, expire, cancel, retry, upgrade, release,
   abort, requeue, upgrade_queued); "-" = refused. */
static const char *const s_expected[][12] = {
    {"pending", "delivered", "installed", "failed", "expired", "cancelled", "pending", "pending",
     "pending", "cancelled", "pending", "pending"},
    {"delivered", "delivered", "installed", "failed", "expired", "cancelled", "delivered",
     "delivered", "delivered", "delivered", "delivered", "delivered"},
    {"installed", "installed", "installed", "installed", "installed", "installed", "-", "installed",
     "installed", "installed", "-", "installed"},
    {"failed", "failed", "installed", "failed", "failed", "failed", "pending", "failed", "failed",
     "failed", "queued", "failed"},
    {"expired", "expired", "installed", "failed", "expired", "expired", "pending", "expired",
     "expired", "expired", "queued", "expired"},
    {"cancelled", "cancelled", "installed", "failed", "cancelled", "cancelled", "pending",
     "cancelled", "cancelled", "cancelled", "queued", "cancelled"},
    {"too_old", "delivered", "installed", "failed", "expired", "cancelled", "-", "pending",
     "too_old", "cancelled", "-", "queued"},
    {"queued", "delivered", "installed", "failed", "expired", "cancelled", "queued", "queued",
     "pending", "cancelled", "queued", "queued"},
};
static const char *const s_events[] = {
    "receipt", "report_installed", "report_failed", "expire",  "cancel",        "retry",
    "upgrade", "release",          "abort",         "requeue", "upgrade_queued"};

static void test_every_pair(void **state)
{
    (void) state;
    size_t rows = sizeof(s_expected) / sizeof(s_expected[0]);
    size_t cols = sizeof(s_events) / sizeof(s_events[0]);
    assert_int_equal(rows, CF_JOB_STATE_COUNT);
    assert_int_equal(cols, CF_JOB_EVENT_COUNT);
    int refused = 0;
    for (size_t r = 0; r < rows; r++) {
        cf_job_state_t from;
        assert_int_equal(cf_job_fsm_state_from_name(s_expected[r][0], &from), CF_OK);
        for (size_t c = 0; c < cols; c++) {
            cf_job_event_t ev;
            assert_int_equal(cf_job_fsm_event_from_name(s_events[c], &ev), CF_OK);
            cf_job_state_t next = CF_JOB_STATE_COUNT; /* must stay when refused */
            cf_err_t rc = cf_job_fsm_next(from, ev, &next);
            const char *want = s_expected[r][c + 1];
            if (strcmp(want, "-") == 0) {
                if (rc != CF_ERR_STATE || next != CF_JOB_STATE_COUNT)
                    fail_msg("%s + %s: expected refusal", s_expected[r][0], s_events[c]);
                refused++;
                continue;
            }
            if (rc != CF_OK || strcmp(cf_job_fsm_state_name(next), want) != 0)
                fail_msg("%s + %s: got %s (%s), expected %s", s_expected[r][0], s_events[c],
                         cf_job_fsm_state_name(next), cf_err_name(rc), want);
        }
    }
    assert_int_equal(refused, 4);
}

/* Agent facts are never refused, so a server always stores or ignores them and acks. */
static void test_agent_facts_never_refused(void **state)
{
    (void) state;
    static const cf_job_event_t facts[] = {CF_JOB_EV_RECEIPT, CF_JOB_EV_REPORT_INSTALLED,
                                           CF_JOB_EV_REPORT_FAILED};
    for (int s = 0; s < CF_JOB_STATE_COUNT; s++)
        for (size_t f = 0; f < 3; f++) {
            cf_job_state_t next;
            assert_int_equal(cf_job_fsm_next((cf_job_state_t) s, facts[f], &next), CF_OK);
        }
}

/* Repeating any event right after it was applied never changes the state again. */
static void test_repeats_are_no_change(void **state)
{
    (void) state;
    for (int s = 0; s < CF_JOB_STATE_COUNT; s++)
        for (int e = 0; e < CF_JOB_EVENT_COUNT; e++) {
            cf_job_state_t once, twice;
            if (cf_job_fsm_next((cf_job_state_t) s, (cf_job_event_t) e, &once) != CF_OK)
                continue;
            cf_err_t rc = cf_job_fsm_next(once, (cf_job_event_t) e, &twice);
            /* retry moves to pending, and pending + retry is no change */
            assert_int_equal(rc, CF_OK);
            if (twice != once)
                fail_msg("%s + %s twice moved %s -> %s", cf_job_fsm_state_name(s),
                         cf_job_fsm_event_name(e), cf_job_fsm_state_name(once),
                         cf_job_fsm_state_name(twice));
        }
}

/* A wave: queued entries are released, the threshold aborts what was not sent, and the
   retry of a job with waves queues the cancelled and failed entries again. */
static void test_waves(void **state)
{
    (void) state;
    cf_job_state_t e[4], next;
    for (int i = 0; i < 4; i++)
        e[i] = cf_job_fsm_initial_waves(1, 1);
    assert_int_equal(cf_job_fsm_next(e[0], CF_JOB_EV_RELEASE, &e[0]), CF_OK);
    assert_int_equal(cf_job_fsm_next(e[1], CF_JOB_EV_RELEASE, &e[1]), CF_OK);
    assert_int_equal(cf_job_fsm_next(e[1], CF_JOB_EV_RECEIPT, &e[1]), CF_OK);
    assert_int_equal(cf_job_fsm_next(e[2], CF_JOB_EV_RELEASE, &e[2]), CF_OK);
    assert_int_equal(cf_job_fsm_next(e[2], CF_JOB_EV_REPORT_FAILED, &e[2]), CF_OK);
    assert_int_equal(e[0], CF_JOB_PENDING);
    for (int i = 0; i < 4; i++)
        assert_int_equal(cf_job_fsm_next(e[i], CF_JOB_EV_ABORT, &e[i]), CF_OK);
    assert_int_equal(e[0], CF_JOB_CANCELLED); /* released, not received: never reached it */
    assert_int_equal(e[1], CF_JOB_DELIVERED); /* left to finish */
    assert_int_equal(e[2], CF_JOB_FAILED);
    assert_int_equal(e[3], CF_JOB_CANCELLED); /* still queued */
    assert_int_equal(cf_job_fsm_next(e[2], CF_JOB_EV_REQUEUE, &next), CF_OK);
    assert_int_equal(next, CF_JOB_QUEUED);
    assert_int_equal(cf_job_fsm_next(CF_JOB_INSTALLED, CF_JOB_EV_REQUEUE, &next), CF_ERR_STATE);
    /* an agent upgraded out of too_old waits for a wave of its job */
    assert_int_equal(cf_job_fsm_next(CF_JOB_TOO_OLD, CF_JOB_EV_UPGRADE_QUEUED, &next), CF_OK);
    assert_int_equal(next, CF_JOB_QUEUED);
    assert_int_equal(cf_job_fsm_is_final(CF_JOB_QUEUED), 0);
    assert_string_equal(cf_job_fsm_state_name(CF_JOB_QUEUED), "queued");
}

static void test_initial_and_final(void **state)
{
    (void) state;
    assert_int_equal(cf_job_fsm_initial(0, 1), CF_JOB_PENDING); /* unknown = level 1 */
    assert_int_equal(cf_job_fsm_initial(0, 2), CF_JOB_TOO_OLD);
    assert_int_equal(cf_job_fsm_initial(1, 2), CF_JOB_TOO_OLD);
    assert_int_equal(cf_job_fsm_initial(2, 2), CF_JOB_PENDING);
    assert_int_equal(cf_job_fsm_initial(3, 1), CF_JOB_PENDING);
    /* a job with waves: queued where the entry would be pending, too_old stays */
    assert_int_equal(cf_job_fsm_initial_waves(0, 1), CF_JOB_QUEUED);
    assert_int_equal(cf_job_fsm_initial_waves(2, 2), CF_JOB_QUEUED);
    assert_int_equal(cf_job_fsm_initial_waves(1, 2), CF_JOB_TOO_OLD);
    static const int final[CF_JOB_STATE_COUNT] = {0, 0, 1, 1, 1, 1, 0, 0};
    for (int s = 0; s < CF_JOB_STATE_COUNT; s++)
        assert_int_equal(cf_job_fsm_is_final((cf_job_state_t) s), final[s]);
    assert_int_equal(cf_job_fsm_is_final(CF_JOB_STATE_COUNT), 0);
    assert_int_equal(cf_job_fsm_is_final((cf_job_state_t) -1), 0);
}

static void test_bad_arguments(void **state)
{
    (void) state;
    cf_job_state_t next = CF_JOB_PENDING, s;
    cf_job_event_t e;
    assert_int_equal(cf_job_fsm_next(CF_JOB_STATE_COUNT, CF_JOB_EV_RECEIPT, &next), CF_ERR_INVALID);
    assert_int_equal(cf_job_fsm_next((cf_job_state_t) -1, CF_JOB_EV_RECEIPT, &next),
                     CF_ERR_INVALID);
    assert_int_equal(cf_job_fsm_next(CF_JOB_PENDING, CF_JOB_EVENT_COUNT, &next), CF_ERR_INVALID);
    assert_int_equal(cf_job_fsm_next(CF_JOB_PENDING, CF_JOB_EV_RECEIPT, NULL), CF_ERR_INVALID);
    assert_int_equal(next, CF_JOB_PENDING);
    assert_string_equal(cf_job_fsm_state_name(CF_JOB_STATE_COUNT), "unknown");
    assert_string_equal(cf_job_fsm_event_name(CF_JOB_EVENT_COUNT), "unknown");
    static const char *bad[] = {"", "Pending", "pending ", "too-old", "report", "unknown"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(cf_job_fsm_state_from_name(bad[i], &s), CF_ERR_INVALID);
        assert_int_equal(cf_job_fsm_event_from_name(bad[i], &e), CF_ERR_INVALID);
    }
    assert_int_equal(cf_job_fsm_state_from_name(NULL, &s), CF_ERR_INVALID);
    assert_int_equal(cf_job_fsm_event_from_name("retry", NULL), CF_ERR_INVALID);
    for (int i = 0; i < CF_JOB_EVENT_COUNT; i++) { /* names round-trip */
        assert_int_equal(cf_job_fsm_event_from_name(cf_job_fsm_event_name(i), &e), CF_OK);
        assert_int_equal(e, i);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_every_pair),
        cmocka_unit_test(test_agent_facts_never_refused),
        cmocka_unit_test(test_repeats_are_no_change),
        cmocka_unit_test(test_waves),
        cmocka_unit_test(test_initial_and_final),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
