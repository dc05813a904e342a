/*  test_store_async_format - the Redis protocol text cf_store_async writes for a command:
    byte for byte what hiredis' own formatter makes, binary-safe, sizes and refusals  */
#include "cf_test.h"

#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "cf_store_async.h"

static void test_usage(void **state)
{
    (void) state;
    const char *argv[] = {"EVALSHA", "ab12", "1", "cf:agent:{a1}", "secure"};
    size_t lens[] = {7, 4, 1, 13, 6};
    char buf[128];
    size_t need = cf_store_async_format(NULL, 0, 5, argv, lens); /* how much room */
    assert_int_equal(cf_store_async_format(buf, sizeof(buf), 5, argv, lens), need);
    const char *want = "*5\r\n$7\r\nEVALSHA\r\n$4\r\nab12\r\n$1\r\n1\r\n$13\r\ncf:agent:{a1}\r\n"
                       "$6\r\nsecure\r\n";
    assert_int_equal(need, strlen(want));
    assert_memory_equal(buf, want, need);
}

/* The same bytes as redisFormatCommandArgv for argc args of random lengths and bytes. */
static void s_compare(int argc, unsigned seed)
{
    const char *argv[64];
    size_t lens[64];
    char *data[64];
    srand(seed);
    for (int i = 0; i < argc; i++) {
        size_t n = (size_t) (rand() % 5 == 0 ? rand() % 3000 : rand() % 40);
        data[i] = malloc(n + 1);
        assert_non_null(data[i]);
        for (size_t j = 0; j < n; j++)
            data[i][j] = (char) (rand() & 0xff); /* NUL, CR and LF included */
        argv[i] = data[i];
        lens[i] = n;
    }
    char *ref = NULL;
    int rlen = redisFormatCommandArgv(&ref, argc, argv, lens);
    assert_true(rlen > 0);
    size_t need = cf_store_async_format(NULL, 0, argc, argv, lens);
    assert_int_equal(need, (size_t) rlen);
    char *mine = malloc(need);
    assert_non_null(mine);
    assert_int_equal(cf_store_async_format(mine, need, argc, argv, lens), need);
    assert_memory_equal(mine, ref, need);
    free(mine);
    redisFreeCommand(ref);
    for (int i = 0; i < argc; i++)
        free(data[i]);
}

static void test_same_as_hiredis(void **state)
{
    (void) state;
    for (unsigned seed = 1; seed <= 300; seed++)
        s_compare(1 + (int) (seed % 64), seed);
}

static void test_lengths_at_digit_edges(void **state)
{
    (void) state;
    static char big[10001];
    memset(big, 'x', sizeof(big));
    const size_t edges[] = {0, 9, 10, 99, 100, 999, 1000, 9999, 10000};
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
        const char *argv[] = {"SET", big};
        size_t lens[] = {3, edges[i]};
        char *ref = NULL;
        int rlen = redisFormatCommandArgv(&ref, 2, argv, lens);
        char *mine = malloc((size_t) rlen);
        assert_non_null(mine);
        assert_int_equal(cf_store_async_format(mine, (size_t) rlen, 2, argv, lens), (size_t) rlen);
        assert_memory_equal(mine, ref, (size_t) rlen);
        free(mine);
        redisFreeCommand(ref);
    }
}

static void test_refusals(void **state)
{
    (void) state;
    const char *argv[] = {"GET", NULL};
    size_t lens[] = {3, 1};
    char buf[64];
    assert_int_equal(cf_store_async_format(buf, sizeof(buf), 0, argv, lens), 0);
    assert_int_equal(cf_store_async_format(buf, sizeof(buf), 2, argv, lens), 0); /* NULL arg */
    assert_int_equal(cf_store_async_format(buf, sizeof(buf), 1, NULL, lens), 0);
    assert_int_equal(cf_store_async_format(buf, sizeof(buf), 1, argv, NULL), 0);
    size_t huge[] = {SIZE_MAX - 4};
    assert_int_equal(cf_store_async_format(buf, sizeof(buf), 1, argv, huge), 0);
    /* too small a buffer: nothing written, the size needed returned */
    memset(buf, '#', sizeof(buf));
    assert_int_equal(cf_store_async_format(buf, 5, 1, argv, lens), strlen("*1\r\n$3\r\nGET\r\n"));
    assert_int_equal(buf[0], '#');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_same_as_hiredis),
        cmocka_unit_test(test_lengths_at_digit_edges),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
