/*  test_db_agent_find - filtered agent pages (cf_db_agent_find) against a real redis-server:
    the last_seen window, a predicate, the scan cap and cursors that resume exactly  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_db_agent.h"
#include "cf_itest.h"
#include "cf_mem.h"

static cf_itest_redis_t s_redis; /* one server for the file; each test flushes it */

static int s_setup(void **state)
{
    (void) state;
    signal(SIGPIPE, SIG_IGN);
    return cf_itest_redis_start(&s_redis, NULL) == CF_OK ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void) state;
    cf_itest_redis_stop(&s_redis);
    return 0;
}

/* 20 agents: agent-00..19 seen at 1000 + i, through srv1 (even) or srv2 (odd), none with a
   certificate. */
static cf_store_t *s_fleet(void)
{
    cf_store_t *store = cf_itest_store_at(s_redis.port, NULL);
    assert_int_equal(cf_store_cmd(store, NULL, "FLUSHALL"), CF_OK);
    for (int i = 0; i < 20; i++) {
        char id[16];
        snprintf(id, sizeof(id), "agent-%02d", i);
        cf_db_checkin_t in = {
            id, CF_DB_LOCK_INSECURE,     1000 + i, "127.0.0.7", "0.1.0", NULL, NULL,
            0,  i % 2 ? "srv2" : "srv1", 0};
        assert_int_equal(cf_db_agent_checkin(store, &in, NULL), CF_OK);
    }
    return store;
}

static int s_on_srv2(const cf_db_agent_t *a, void *arg)
{
    (void) arg;
    return strcmp(a->server, "srv2") == 0;
}

/* Walk every page of f (limit, scan) into ids ("agent-01,agent-03"); the pages into *pages. */
static void s_walk(cf_store_t *store, const cf_db_agent_filter_t *f, size_t limit, size_t scan,
                   char *ids, size_t len, int *pages)
{
    char cursor[CF_DB_CURSOR_MAX] = "", next[CF_DB_CURSOR_MAX];
    size_t used = 0;
    ids[0] = '\0';
    *pages = 0;
    do {
        cf_db_agent_t *list = NULL;
        size_t n = 0;
        assert_int_equal(cf_db_agent_find(store, f, cursor, limit, scan, &list, &n, next), CF_OK);
        assert_true(n <= limit);
        for (size_t i = 0; i < n; i++)
            used += (size_t) snprintf(ids + used, len - used, "%s%s", used ? "," : "", list[i].id);
        cf_mem_free(list);
        memcpy(cursor, next, sizeof(cursor));
        assert_true(++*pages < 100);
    } while (cursor[0]);
}

static void test_usage(void **state)
{
    (void) state;
    cf_store_t *store = s_fleet();
    /* the agents of srv2 seen from 1005 to 1012, three at a time */
    cf_db_agent_filter_t f = {CF_DB_LOCK_COUNT, 1005, 1012, s_on_srv2, NULL};
    cf_db_agent_t *list = NULL;
    size_t n = 0;
    char next[CF_DB_CURSOR_MAX];
    assert_int_equal(cf_db_agent_find(store, &f, NULL, 3, 1000, &list, &n, next), CF_OK);
    assert_int_equal(n, 3);
    assert_string_equal(list[0].id, "agent-05");
    assert_string_equal(list[2].id, "agent-09");
    assert_string_equal(next, "1009:agent-09");
    cf_mem_free(list);
    assert_int_equal(cf_db_agent_find(store, &f, next, 3, 1000, &list, &n, next), CF_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].id, "agent-11");
    assert_string_equal(next, ""); /* the window ends at 1012 */
    cf_mem_free(list);
    cf_store_destroy(&store);
}

/* Every way of walking gives the same agents once each, in order. */
static void test_walks_agree(void **state)
{
    (void) state;
    cf_store_t *store = s_fleet();
    char ids[1024];
    int pages = 0;
    cf_db_agent_filter_t all = {CF_DB_LOCK_COUNT, 0, INT64_MAX, NULL, NULL};
    s_walk(store, &all, 7, 7, ids, sizeof(ids), &pages);
    assert_int_equal(pages, 3);
    assert_non_null(strstr(ids, "agent-00,agent-01,agent-02"));
    assert_non_null(strstr(ids, "agent-18,agent-19"));
    cf_db_agent_filter_t odd = {CF_DB_LOCK_INSECURE, 0, INT64_MAX, s_on_srv2, NULL};
    const char *want = "agent-01,agent-03,agent-05,agent-07,agent-09,agent-11,agent-13,"
                       "agent-15,agent-17,agent-19";
    s_walk(store, &odd, 100, 1000, ids, sizeof(ids), &pages);
    assert_string_equal(ids, want);
    assert_int_equal(pages, 1);
    s_walk(store, &odd, 4, 1000, ids, sizeof(ids), &pages);
    assert_string_equal(ids, want);
    /* a scan of 3 agents a call: short pages with a cursor, nothing lost or repeated */
    s_walk(store, &odd, 100, 3, ids, sizeof(ids), &pages);
    assert_string_equal(ids, want);
    assert_int_equal(pages, 7);
    /* a window that holds nothing, and a lock nobody has */
    cf_db_agent_filter_t none = {CF_DB_LOCK_COUNT, 5000, INT64_MAX, NULL, NULL};
    s_walk(store, &none, 10, 100, ids, sizeof(ids), &pages);
    assert_string_equal(ids, "");
    cf_db_agent_filter_t secure = {CF_DB_LOCK_SECURE, 0, INT64_MAX, NULL, NULL};
    s_walk(store, &secure, 10, 100, ids, sizeof(ids), &pages);
    assert_string_equal(ids, "");
    cf_store_destroy(&store);
}

static void test_refused_arguments(void **state)
{
    (void) state;
    cf_store_t *store = s_fleet();
    cf_db_agent_t *list = NULL;
    size_t n = 9;
    char next[CF_DB_CURSOR_MAX] = "x";
    cf_db_agent_filter_t f = {CF_DB_LOCK_COUNT, 0, INT64_MAX, NULL, NULL};
    assert_int_equal(cf_db_agent_find(store, &f, NULL, 0, 10, &list, &n, next), CF_ERR_INVALID);
    assert_int_equal(cf_db_agent_find(store, &f, NULL, 10, 0, &list, &n, next), CF_ERR_INVALID);
    assert_int_equal(cf_db_agent_find(store, &f, NULL, 10, CF_DB_SCAN_MAX + 1, &list, &n, next),
                     CF_ERR_INVALID);
    assert_int_equal(cf_db_agent_find(store, &f, "nonsense", 10, 10, &list, &n, next),
                     CF_ERR_INVALID);
    cf_db_agent_filter_t bad = {CF_DB_LOCK_COUNT, 10, 5, NULL, NULL};
    assert_int_equal(cf_db_agent_find(store, &bad, NULL, 10, 10, &list, &n, next), CF_ERR_INVALID);
    assert_null(list);
    assert_int_equal(n, 0);
    assert_string_equal(next, "");
    cf_store_destroy(&store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_walks_agree),
        cmocka_unit_test(test_refused_arguments),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
