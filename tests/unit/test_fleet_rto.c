/*  test_fleet_rto - an agent's first resend delay learned from its round trips  */
#include "cf_test.h"

#include "cf_fleet_rto.h"

/* Usage: nothing learned gives the configured minimum; one slow round trip of 600 ms puts
   the first resend no sooner than 3 x 600 ms (b = 2 x RTO, the resend in [b/2, b]). */
static void test_usage(void **state)
{
    (void) state;
    cf_fleet_rto_t e = {0, 0};
    assert_int_equal(cf_fleet_rto_first(&e, 1000, 60000), 1000);
    cf_fleet_rto_sample(&e, 600);
    assert_int_equal(e.srtt_ms, 600);
    assert_int_equal(e.rttvar_ms, 300);
    assert_int_equal(cf_fleet_rto_first(&e, 1000, 60000), 2 * (600 + 4 * 300));
    /* a fast link keeps the minimum: 20 ms round trips, b = max(1000, 2 x 60) */
    cf_fleet_rto_t fast = {0, 0};
    cf_fleet_rto_sample(&fast, 20);
    assert_int_equal(cf_fleet_rto_first(&fast, 1000, 60000), 1000);
}

/* RFC 6298's smoothing: srtt moves 1/8 and rttvar 1/4 of the way towards each sample. */
static void test_smoothing(void **state)
{
    (void) state;
    cf_fleet_rto_t e = {0, 0};
    cf_fleet_rto_sample(&e, 800);
    cf_fleet_rto_sample(&e, 0);
    assert_int_equal(e.rttvar_ms, (3 * 400 + 800 + 2) / 4);
    assert_int_equal(e.srtt_ms, (7 * 800 + 0 + 4) / 8);
    /* a steady link: rttvar shrinks, the floor srtt/2 keeps the first resend past 1.5 RTT */
    cf_fleet_rto_t s = {0, 0};
    for (int i = 0; i < 200; i++)
        cf_fleet_rto_sample(&s, 2000);
    assert_int_equal(s.srtt_ms, 2000);
    assert_true(s.rttvar_ms < 10);
    assert_int_equal(cf_fleet_rto_first(&s, 100, 60000), 2 * (2000 + 1000));
    /* after a long sample (a REPORT resent, then acked) the estimate forgets it */
    cf_fleet_rto_sample(&s, 30000);
    uint32_t high = cf_fleet_rto_first(&s, 100, 60000);
    assert_true(high > 6000);
    for (int i = 0; i < 60; i++)
        cf_fleet_rto_sample(&s, 2000);
    assert_true(cf_fleet_rto_first(&s, 100, 60000) < high);
    assert_true(cf_fleet_rto_first(&s, 100, 60000) < 6500);
}

/* Bounds: a negative or zero sample, a huge one, the cap, a cap below the minimum. */
static void test_bounds(void **state)
{
    (void) state;
    cf_fleet_rto_t e = {0, 0};
    cf_fleet_rto_sample(&e, -5); /* a clock step: counts as 0, and 0 still counts as learned */
    assert_int_equal(e.srtt_ms, 1);
    assert_int_equal(e.rttvar_ms, 0);
    assert_int_equal(cf_fleet_rto_first(&e, 40, 60000), 40);
    cf_fleet_rto_sample(&e, 0);
    assert_true(e.srtt_ms >= 1); /* never back to "nothing learned" */
    cf_fleet_rto_t big = {0, 0};
    cf_fleet_rto_sample(&big, INT64_MAX);
    assert_int_equal(big.srtt_ms, CF_FLEET_RTT_MAX_MS);
    assert_int_equal(cf_fleet_rto_first(&big, 1000, 60000), 60000);
    for (int i = 0; i < 100; i++)
        cf_fleet_rto_sample(&big, INT64_MAX);
    assert_int_equal(cf_fleet_rto_first(&big, 1000, UINT32_MAX), 2 * (600000 + 300000));
    cf_fleet_rto_t none = {0, 0};
    assert_int_equal(cf_fleet_rto_first(&none, 1000, 500), 500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_smoothing),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
