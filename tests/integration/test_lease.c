/*  test_lease - cf_lease against a real redis-server: one holder at a time, hand-over at a
    clean stop, loss on expiry and on a Redis outage  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cf_itest.h"
#include "cf_lease.h"
#include "cf_store.h"

#define S_KEY "cf:lease:test"

CF_ITEST_REDIS_PER_FILE()

static void test_usage(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    /* two servers tick on the same lease: the first takes it and keeps it... */
    cf_lease_t a, b;
    cf_lease_init(&a, S_KEY, "test", "runs the test", 60000);
    cf_lease_init(&b, S_KEY, "test", "runs the test", 60000);
    assert_int_equal(a.held, 0);
    assert_int_equal(cf_lease_hold(&a, store, "srv-a"), 1);
    assert_int_equal(cf_lease_hold(&b, store, "srv-b"), 0);
    assert_int_equal(cf_lease_hold(&a, store, "srv-a"), 1);
    assert_true(cf_itest_redis_reply_has(s_redis.port, "srv-a", "GET %s", S_KEY));
    /* ...until a clean stop hands it over at once */
    cf_lease_drop(&a, store, "srv-a");
    assert_int_equal(a.held, 0);
    assert_int_equal(cf_lease_hold(&b, store, "srv-b"), 1);
    assert_int_equal(cf_lease_hold(&a, store, "srv-a"), 0);
    /* dropping a lease we do not hold leaves the holder's alone */
    cf_lease_drop(&a, store, "srv-a");
    assert_true(cf_itest_redis_reply_has(s_redis.port, "srv-b", "GET %s", S_KEY));
    cf_store_destroy(&store);
}

static void test_lost_on_expiry(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_lease_t a, b;
    cf_lease_init(&a, S_KEY, "test", "runs the test", 60000);
    cf_lease_init(&b, S_KEY, "test", "runs the test", 60000);
    assert_int_equal(cf_lease_hold(&a, store, "srv-a"), 1);
    /* a's process stalls past the lease: it lapses (made to here) and b takes over */
    assert_int_equal(cf_store_cmd(store, NULL, "DEL %s", S_KEY), CF_OK);
    assert_int_equal(cf_lease_hold(&b, store, "srv-b"), 1);
    /* a's next tick learns it lost the lease */
    assert_int_equal(cf_lease_hold(&a, store, "srv-a"), 0);
    assert_int_equal(a.held, 0);
    cf_store_destroy(&store);
}

static void test_redis_down(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_lease_t a;
    cf_lease_init(&a, S_KEY, "test", "runs the test", 60000);
    assert_int_equal(cf_lease_hold(&a, store, "srv-a"), 1);
    /* without Redis nobody can prove it holds the lease: not held, no crash */
    cf_itest_redis_stop(&s_redis);
    assert_int_equal(cf_lease_hold(&a, store, "srv-a"), 0);
    assert_int_equal(a.held, 0);
    cf_lease_drop(&a, store, "srv-a"); /* nothing held: nothing sent */
    assert_int_equal(cf_itest_redis_restart(&s_redis), CF_OK);
    cf_store_destroy(&store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_lost_on_expiry),
        cmocka_unit_test(test_redis_down),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
