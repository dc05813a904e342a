/*  test_db_agent_facts - the check-in's digest: SipHash-2-4 against the reference vectors,
    and what the digest of a check-in's values tells apart  */
#include "cf_test.h"

#include <string.h>

#include "cf_db_agent_int.h"

/* A check-in's values: last_addr, cert_fp, cert_serial, cert_not_after, version, server,
   protocol level. */
static const char *const s_facts[CF_DB_FACTS_N] = {
    "127.0.0.7", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
    "0a1b",      "5000",
    "0.1.0",     "srv1",
    "3"};

static void test_usage(void **state)
{
    (void) state;
    char a[CF_DB_FACTS_BUF], b[CF_DB_FACTS_BUF];
    assert_int_equal(cf_db_agent_facts(s_facts, a), CF_OK);
    assert_int_equal(strlen(a), 16);
    assert_int_equal(strspn(a, "0123456789abcdef"), 16);
    /* the same values: the same digest in this process */
    assert_int_equal(cf_db_agent_facts(s_facts, b), CF_OK);
    assert_string_equal(a, b);
}

/* The reference key 00..0f and messages 00..(n-1) (Aumasson and Bernstein's vectors),
   around the 8-byte block: no tail, a one-byte tail, a full block, the longest tail. */
static void test_siphash_vectors(void **state)
{
    (void) state;
    uint8_t key[16], msg[16];
    for (int i = 0; i < 16; i++)
        key[i] = msg[i] = (uint8_t) i;
    static const struct {
        size_t len;
        uint64_t want;
    } v[] = {{0, 0x726fdb47dd0e0e31ULL},
             {1, 0x74f839c593dc67fdULL},
             {7, 0xab0200f58b01d137ULL},
             {8, 0x93f5f5799a932462ULL},
             {15, 0xa129ca6149be45e5ULL}};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        assert_true(cf_db_siphash(key, msg, v[i].len) == v[i].want);
    key[0] ^= 1; /* another key, another digest */
    assert_false(cf_db_siphash(key, msg, 15) == 0xa129ca6149be45e5ULL);
}

/* Any value changed, or a value moved across the separator, changes the digest. */
static void test_values_told_apart(void **state)
{
    (void) state;
    char base[CF_DB_FACTS_BUF], other[CF_DB_FACTS_BUF];
    assert_int_equal(cf_db_agent_facts(s_facts, base), CF_OK);
    for (size_t i = 0; i < CF_DB_FACTS_N; i++) {
        const char *f[CF_DB_FACTS_N];
        memcpy(f, s_facts, sizeof(f));
        f[i] = i == 4 ? "0.1.1" : "";
        assert_int_equal(cf_db_agent_facts(f, other), CF_OK);
        assert_string_not_equal(base, other);
    }
    const char *shifted[CF_DB_FACTS_N] = {"127.0.0.7", "", "", "", "", "0.1.0", ""};
    const char *kept[CF_DB_FACTS_N] = {"127.0.0.7", "", "", "", "0.1.0", "", ""};
    assert_int_equal(cf_db_agent_facts(shifted, base), CF_OK);
    assert_int_equal(cf_db_agent_facts(kept, other), CF_OK);
    assert_string_not_equal(base, other);
}

static void test_refused(void **state)
{
    (void) state;
    char out[CF_DB_FACTS_BUF];
    const char *f[CF_DB_FACTS_N];
    memcpy(f, s_facts, sizeof(f));
    f[2] = NULL;
    assert_int_equal(cf_db_agent_facts(f, out), CF_ERR_INVALID);
    char long_text[CF_DB_FACTS_MAX + 2];
    memset(long_text, 'a', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    f[2] = long_text;
    assert_int_equal(cf_db_agent_facts(f, out), CF_ERR_INVALID);
    long_text[CF_DB_FACTS_MAX] = '\0'; /* at the limit: taken */
    assert_int_equal(cf_db_agent_facts(f, out), CF_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_siphash_vectors),
        cmocka_unit_test(test_values_told_apart),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
