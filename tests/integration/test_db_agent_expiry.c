/*  test_db_agent_expiry - the agents' certificate expiry index (cf:agents:expiry) against a
    real redis-server: kept by check-ins and removals, paged by (not_after, id)  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_db_agent.h"
#include "cf_itest.h"
#include "cf_mem.h"

CF_ITEST_REDIS_PER_FILE()

static const char s_fp[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/* A check-in of id: with a certificate ending at not_after, or none when not_after is 0. */
static void s_checkin(cf_store_t *store, const char *id, int64_t not_after)
{
    cf_db_checkin_t in = {id,
                          not_after ? CF_DB_LOCK_SECURE : CF_DB_LOCK_INSECURE,
                          1000,
                          "127.0.0.7",
                          "0.1.0",
                          not_after ? s_fp : NULL,
                          not_after ? "0a1b" : NULL,
                          not_after,
                          "srv1",
                          0};
    assert_int_equal(cf_db_agent_checkin(store, &in, NULL), CF_OK);
}

/* The ids of one page, comma-separated, into out. */
static void s_page(cf_store_t *store, int64_t from, const char *after, int64_t until, size_t limit,
                   char *out, size_t len)
{
    cf_db_expiry_t *list = NULL;
    size_t n = 99;
    assert_int_equal(cf_db_agent_expiring(store, from, after, until, limit, &list, &n), CF_OK);
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        assert_true(list[i].found);
        assert_int_equal(list[i].not_after, list[i].agent.cert_not_after);
        used += (size_t) snprintf(out + used, len - used, "%s%s", i ? "," : "", list[i].agent.id);
    }
    cf_mem_free(list);
}

static void test_usage(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    s_checkin(store, "agent-b", 5000);
    s_checkin(store, "agent-a", 3000);
    s_checkin(store, "agent-c", 0); /* no certificate: not in the index */
    cf_db_expiry_t *list = NULL;
    size_t n = 0;
    /* everything that ends by 10000, soonest first */
    assert_int_equal(cf_db_agent_expiring(store, 0, NULL, 10000, 100, &list, &n), CF_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].agent.id, "agent-a");
    assert_int_equal(list[0].not_after, 3000);
    assert_string_equal(list[0].agent.cert_fp, s_fp);
    assert_string_equal(list[1].agent.id, "agent-b");
    cf_mem_free(list);
    /* only what ends by 4000 */
    char ids[256];
    s_page(store, 0, NULL, 4000, 100, ids, sizeof(ids));
    assert_string_equal(ids, "agent-a");
    cf_store_destroy(&store);
}

/* Check-ins move an agent in the index; losing the certificate or the record takes it out. */
static void test_index_follows_the_record(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    char ids[256];
    s_checkin(store, "agent-a", 3000);
    s_checkin(store, "agent-b", 4000);
    s_checkin(store, "agent-a", 6000); /* renewed */
    s_page(store, 0, NULL, 10000, 100, ids, sizeof(ids));
    assert_string_equal(ids, "agent-b,agent-a");
    s_checkin(store, "agent-b", 0); /* now without a certificate */
    s_page(store, 0, NULL, 10000, 100, ids, sizeof(ids));
    assert_string_equal(ids, "agent-a");
    /* refused as expired: indexed with the expiry the handshake saw; 0 (unknown) is not */
    assert_int_equal(cf_db_agent_expired(store, "agent-x", 1000, "127.0.0.1", s_fp, "0c", 900),
                     CF_OK);
    assert_int_equal(cf_db_agent_expired(store, "agent-y", 1000, "127.0.0.1", s_fp, "0d", 0),
                     CF_OK);
    s_page(store, 0, NULL, 10000, 100, ids, sizeof(ids));
    assert_string_equal(ids, "agent-x,agent-a");
    assert_int_equal(cf_db_agent_remove(store, "agent-x"), CF_OK);
    s_page(store, 0, NULL, 10000, 100, ids, sizeof(ids));
    assert_string_equal(ids, "agent-a");
    cf_store_destroy(&store);
}

/* Pages of 3 over agents sharing expiry times give each exactly once, in order, also when
   the cursor's agent moved meanwhile. */
static void test_paging_ties(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    char id[16], ids[512];
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof(id), "agent-%02d", i);
        s_checkin(store, id, i < 7 ? 5000 : 7000); /* seven share one second */
    }
    s_page(store, 0, NULL, 100000, 3, ids, sizeof(ids));
    assert_string_equal(ids, "agent-00,agent-01,agent-02");
    s_page(store, 5000, "agent-02", 100000, 3, ids, sizeof(ids));
    assert_string_equal(ids, "agent-03,agent-04,agent-05");
    /* agent-05 renews: the next page still starts after its old place */
    s_checkin(store, "agent-05", 9000);
    s_page(store, 5000, "agent-05", 100000, 3, ids, sizeof(ids));
    assert_string_equal(ids, "agent-06,agent-07,agent-08");
    s_page(store, 7000, "agent-08", 100000, 3, ids, sizeof(ids));
    assert_string_equal(ids, "agent-09,agent-05");
    /* from a score with no id: every entry of that score and after */
    s_page(store, 7000, NULL, 100000, 3, ids, sizeof(ids));
    assert_string_equal(ids, "agent-07,agent-08,agent-09");
    /* until cuts the page */
    s_page(store, 5000, "agent-06", 7000, 10, ids, sizeof(ids));
    assert_string_equal(ids, "agent-07,agent-08,agent-09");
    cf_store_destroy(&store);
}

static void test_refused_arguments(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_db_expiry_t *list = NULL;
    size_t n = 7;
    assert_int_equal(cf_db_agent_expiring(store, 0, NULL, 10, 0, &list, &n), CF_ERR_INVALID);
    assert_int_equal(cf_db_agent_expiring(store, 0, NULL, 10, CF_DB_PAGE_MAX + 1, &list, &n),
                     CF_ERR_INVALID);
    assert_int_equal(cf_db_agent_expiring(store, 0, "Bad Id", 10, 10, &list, &n), CF_ERR_INVALID);
    assert_null(list);
    assert_int_equal(n, 0);
    /* a damaged index is reported, not trusted */
    assert_int_equal(cf_store_cmd(store, NULL, "ZADD %s 100 %s", CF_DB_K_AGENTS_EXPIRY, "Bad Id"),
                     CF_OK);
    assert_int_equal(cf_db_agent_expiring(store, 0, NULL, 1000, 10, &list, &n), CF_ERR_CORRUPT);
    assert_null(list);
    /* an empty index: an empty page */
    assert_int_equal(cf_store_cmd(store, NULL, "DEL %s", CF_DB_K_AGENTS_EXPIRY), CF_OK);
    assert_int_equal(cf_db_agent_expiring(store, 0, NULL, 1000, 10, &list, &n), CF_OK);
    assert_int_equal(n, 0);
    assert_null(list);
    cf_store_destroy(&store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_index_follows_the_record),
        cmocka_unit_test(test_paging_ties),
        cmocka_unit_test(test_refused_arguments),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
