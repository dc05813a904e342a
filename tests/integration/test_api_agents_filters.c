/*  test_api_agents_filters - GET /api/v1/agents with its filters end to end (two cf-server
    processes on one redis-server): server, IP range, last check-in window, lock, paging
    through sparse matches, and the fleet's total  */
#include "cf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cf_db_agent.h"
#include "cf_itest_fleet.h"

#define S_AGENTS 60 /* agents recorded by the set-up */

static cf_itest_fleet_t *const s = &cf_itest_fleet;

static const char s_fp[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/* flt-00..59: seen at 1000 + i from 127.0.0.(10 + i) (so 10..69), through srv-b when i is a
   multiple of 3, else srv-a; every fourth with a certificate (secure), the others insecure. */
static int s_setup(void **state)
{
    (void) state;
    if (cf_itest_fleet_setup("test_api_agents_filters") != 0)
        return -1;
    for (int i = 0; i < S_AGENTS; i++) {
        char id[16], addr[32];
        snprintf(id, sizeof(id), "flt-%02d", i);
        snprintf(addr, sizeof(addr), "127.0.0.%d", 10 + i);
        int cert = i % 4 == 0;
        cf_db_checkin_t in = {id,
                              cert ? CF_DB_LOCK_SECURE : CF_DB_LOCK_INSECURE,
                              1000 + i,
                              addr,
                              "0.1.0",
                              cert ? s_fp : NULL,
                              cert ? "0a" : NULL,
                              cert ? 999999 : 0,
                              i % 3 ? "srv-a" : "srv-b",
                              0};
        assert_int_equal(cf_db_agent_checkin(s->store, &in, NULL), CF_OK);
    }
    return 0;
}

/* Walk every page of /agents?<query>&limit=<limit> through srv: the ids joined by ',' into
   out, the pages into *pages. */
static void s_walk(const cf_itest_server_t *srv, const char *query, int limit, char *out,
                   size_t len, int *pages)
{
    char cursor[128] = "", path[600], body[CF_ITEST_FLEET_BODY];
    size_t used = 0;
    out[0] = '\0';
    *pages = 0;
    do {
        snprintf(path, sizeof(path), "/api/v1/agents?%s&limit=%d%s%s", query, limit,
                 cursor[0] ? "&cursor=" : "", cursor);
        assert_int_equal(cf_itest_fleet_get(srv, path, body), 200);
        json_t *j = cf_itest_fleet_json(body);
        size_t i;
        json_t *a;
        assert_true(json_array_size(json_object_get(j, "agents")) <= (size_t) limit);
        json_array_foreach(json_object_get(j, "agents"), i, a)
        {
            used += (size_t) snprintf(out + used, len - used, "%s%s", used ? "," : "",
                                      json_string_value(json_object_get(a, "id")));
            assert_true(used < len);
        }
        snprintf(cursor, sizeof(cursor), "%s",
                 json_string_value(json_object_get(j, "cursor")) ?: "");
        json_decref(j);
        assert_true(++*pages < 200);
    } while (cursor[0]);
}

/* The ids flt-<i> for i in first..last (inclusive) with step, joined by ','. */
static void s_ids(int first, int last, int step, int skip_mod, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = first; i <= last; i += step) {
        if (skip_mod && i % skip_mod == 0)
            continue;
        used += (size_t) snprintf(out + used, len - used, "%sflt-%02d", used ? "," : "", i);
    }
}

static void test_usage(void **state)
{
    (void) state;
    char body[CF_ITEST_FLEET_BODY], want[2048], got[2048];
    int pages = 0;
    /* the agents of srv-b seen from 1030 on */
    assert_int_equal(cf_itest_fleet_get(&s->a, "/api/v1/agents?server=srv-b&seen_after=1030", body),
                     200);
    cf_itest_fleet_is(body, "agents/0/id", "flt-30");
    cf_itest_fleet_is(body, "agents/0/server", "srv-b");
    cf_itest_fleet_is(body, "agents/1/id", "flt-33");
    assert_int_equal(cf_itest_fleet_ji(body, "total"), S_AGENTS);
    assert_int_equal(cf_itest_fleet_ji(body, "counts/secure"), S_AGENTS / 4);
    assert_int_equal(cf_itest_fleet_ji(body, "counts/insecure"), S_AGENTS - S_AGENTS / 4);
    s_ids(30, 59, 3, 0, want, sizeof(want));
    s_walk(&s->b, "server=SRV-B&seen_after=1030", 100, got, sizeof(got), &pages);
    assert_string_equal(got, want);
}

/* Sparse filters walked a page of 1 or 7 at a time give what one page gives. */
static void test_filters_and_paging(void **state)
{
    (void) state;
    char want[2048], got[2048];
    int pages = 0;
    s_ids(0, 59, 1, 3, want, sizeof(want)); /* srv-a: not multiples of 3 */
    for (int limit = 1; limit <= 100; limit += 6 * limit) {
        s_walk(limit % 2 ? &s->a : &s->b, "server=srv-a", limit, got, sizeof(got), &pages);
        assert_string_equal(got, want);
    }
    /* 127.0.0.40/29 = .40 .. .47: flt-30 .. flt-37 */
    s_ids(30, 37, 1, 0, want, sizeof(want));
    s_walk(&s->a, "ip_range=127.0.0.44/29", 3, got, sizeof(got), &pages);
    assert_string_equal(got, want);
    assert_int_equal(pages, 3);
    s_walk(&s->a, "ip_range=127.0.0.40-127.0.0.47", 100, got, sizeof(got), &pages);
    assert_string_equal(got, want);
    /* a window: seen before 1005 (strictly), and between two times */
    s_ids(0, 4, 1, 0, want, sizeof(want));
    s_walk(&s->b, "seen_before=1005", 2, got, sizeof(got), &pages);
    assert_string_equal(got, want);
    s_ids(10, 19, 1, 0, want, sizeof(want));
    s_walk(&s->b, "seen_after=1010&seen_before=1020", 4, got, sizeof(got), &pages);
    assert_string_equal(got, want);
    /* with the lock: the secure agents of srv-b (multiples of 12) */
    s_walk(&s->a, "lock=secure&server=srv-b", 2, got, sizeof(got), &pages);
    assert_string_equal(got, "flt-00,flt-12,flt-24,flt-36,flt-48");
    /* nothing matches: an empty walk */
    s_walk(&s->a, "server=srv-nope", 5, got, sizeof(got), &pages);
    assert_string_equal(got, "");
    s_walk(&s->a, "seen_after=5000", 5, got, sizeof(got), &pages);
    assert_string_equal(got, "");
}

static void test_refused_filters(void **state)
{
    (void) state;
    char body[CF_ITEST_FLEET_BODY];
    static const char *const bad[] = {
        "lock=green",      "server=Bad!",
        "server=",         "ip_range=300.1.1.1",
        "ip_range=",       "seen_before=x",
        "seen_after=-1",   "seen_after=5&seen_before=5",
        "seen_before=1e3", "cursor=1:Not%20an%20id",
        "limit=0",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char path[128];
        snprintf(path, sizeof(path), "/api/v1/agents?%s", bad[i]);
        assert_int_equal(cf_itest_fleet_get(&s->a, path, body), 400);
        cf_itest_fleet_is(body, "error/code", "invalid_request");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_filters_and_paging),
        cmocka_unit_test(test_refused_filters),
    };
    return cmocka_run_group_tests(tests, s_setup, cf_itest_fleet_teardown);
}
