/*  test_serials - the revoked set as a sorted array: add, sort (dedup), search, caps  */
#include "cf_test.h"

#include <stdio.h>
#include <string.h>

#include "cf_ca.h"
#include "cf_serials.h"

static void test_usage(void **state)
{
    (void) state;
    cf_serials_t set = {0};
    assert_int_equal(cf_serials_add(&set, "0b"), CF_OK);
    assert_int_equal(cf_serials_add(&set, "0a"), CF_OK);
    assert_int_equal(cf_serials_add(&set, "0b"), CF_OK); /* SSCAN may give one twice */
    cf_serials_sort(&set);
    assert_int_equal(set.n, 2);
    assert_string_equal(set.serial[0], "0a");
    assert_true(cf_serials_has(&set, "0b"));
    assert_false(cf_serials_has(&set, "0c"));
    assert_false(cf_serials_has(&set, ""));
    cf_serials_clear(&set);
    cf_serials_clear(&set); /* safe to repeat */
    assert_false(cf_serials_has(&set, "0a"));
}

static void test_refusals(void **state)
{
    (void) state;
    cf_serials_t set = {0};
    char long_serial[CF_DB_SERIAL_MAX + 2];
    memset(long_serial, 'a', sizeof(long_serial) - 1);
    long_serial[sizeof(long_serial) - 1] = '\0';
    assert_int_equal(cf_serials_add(&set, long_serial), CF_ERR_INVALID);
    assert_false(cf_serials_has(&set, long_serial));
    /* the cap: no more than a CRL may list */
    char hex[32];
    for (int i = 0; i < CF_CA_MAX_CRL_SERIALS; i++) {
        snprintf(hex, sizeof(hex), "%x", i + 1);
        assert_int_equal(cf_serials_add(&set, hex), CF_OK);
    }
    assert_int_equal(cf_serials_add(&set, "ffffffff"), CF_ERR_TOOBIG);
    cf_serials_sort(&set);
    assert_int_equal(set.n, CF_CA_MAX_CRL_SERIALS);
    assert_true(cf_serials_has(&set, "1"));
    assert_true(cf_serials_has(&set, "186a0")); /* 100000 */
    cf_serials_clear(&set);
    /* out of memory on the first growth: nothing kept */
    cf_test_alloc_fail_at(0);
    assert_int_equal(cf_serials_add(&set, "01"), CF_ERR_NOMEM);
    cf_test_alloc_fail_at(-1);
    assert_int_equal(set.n, 0);
    cf_serials_clear(&set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
