/*  test_err - error table, guards and failure details  */
#include "cf_test.h"

#include <string.h>

#include "cf_err.h"
#include "cf_log.h"
#include "cf_mem.h"

static cf_err_t s_refuse(cf_why_t *why, int n)
{
    if (n > 3)
        return cf_why(why, CF_ERR_POLICY, "n=%d is over the cap of %d", n, 3);
    return CF_OK;
}

static void test_usage(void **state)
{
    (void) state;
    cf_why_t why = {""};
    assert_int_equal(s_refuse(&why, 1), CF_OK);
    assert_int_equal(s_refuse(&why, 7), CF_ERR_POLICY);
    assert_string_equal(why.text, "n=7 is over the cap of 3");
    assert_string_equal(cf_why_text(&why, CF_ERR_POLICY), "n=7 is over the cap of 3");
    assert_int_equal(s_refuse(NULL, 9), CF_ERR_POLICY); /* NULL why is fine */
}

static void test_every_code_has_text(void **state)
{
    (void) state;
    for (int i = 0; i < (int) CF_ERR_COUNT_; i++) {
        assert_non_null(cf_err_str((cf_err_t) i));
        assert_true(strlen(cf_err_str((cf_err_t) i)) > 3);
        assert_string_not_equal(cf_err_name((cf_err_t) i), "UNKNOWN");
    }
    assert_string_equal(cf_err_str(CF_ERR_BADPASS), "wrong password");
    assert_string_equal(cf_err_name(CF_ERR_BADPASS), "BADPASS");
}

static void test_out_of_range(void **state)
{
    (void) state;
    assert_string_equal(cf_err_str((cf_err_t) 9999), "unknown error");
    assert_string_equal(cf_err_name((cf_err_t) -1), "UNKNOWN");
    assert_string_equal(cf_why_text(NULL, CF_ERR_IO), "input/output error");
}

static void test_log_levels(void **state)
{
    (void) state;
    cf_log_level_t lvl;
    assert_int_equal(cf_log_level_from_name("DEBUG", &lvl), CF_OK);
    assert_int_equal(lvl, CF_LOG_DEBUG);
    assert_int_equal(cf_log_level_from_name("warning", &lvl), CF_OK);
    assert_int_equal(lvl, CF_LOG_WARN);
    assert_int_not_equal(cf_log_level_from_name("loud", &lvl), CF_OK);
    assert_int_not_equal(cf_log_level_from_name(NULL, &lvl), CF_OK);
}

static void test_mem(void **state)
{
    (void) state;
    char *s = cf_mem_strndup("abcdef", 3);
    assert_string_equal(s, "abc");
    cf_mem_free(s);
    assert_null(cf_mem_strdup(NULL));
    cf_test_alloc_fail_at(0);
    assert_null(cf_mem_strdup("x"));
    assert_int_equal(cf_test_alloc_failed(), 1);
    cf_test_alloc_fail_at(-1);
    char *secret = cf_mem_strdup("hunter2");
    cf_mem_free_secret_str(secret);
    cf_mem_free_secret(NULL, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),        cmocka_unit_test(test_every_code_has_text),
        cmocka_unit_test(test_out_of_range), cmocka_unit_test(test_log_levels),
        cmocka_unit_test(test_mem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
