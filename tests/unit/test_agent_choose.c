/*  test_agent_choose - the agent's server list, its cache, the seed's server choice with
    probes and failover, and the back-off  */
#include "cf_test.h"

#include <string.h>

#include "cf_agent_choose.h"
#include "cf_mem.h"

/* Four servers: a favorite candidate, two with ranges of different widths, two by priority. */
static const char *s_list =
    "[{\"alias\":\"fav\",\"host\":\"127.0.0.1\",\"port\":7001,\"priority\":1},"
    " {\"alias\":\"wide\",\"port\":7002,\"priority\":5,\"ip_ranges\":[\"127.0.0.0/8\"]},"
    " {\"alias\":\"narrow\",\"port\":7003,\"priority\":0,\"ip_ranges\":[\"127.0.0.0/29\"]},"
    " {\"alias\":\"high\",\"port\":7004,\"priority\":50,\"online\":true},"
    " {\"alias\":\"high2\",\"port\":7005,\"priority\":50,\"online\":true,\"plain_port\":8005}]";

static void s_load(cf_agent_servers_t *l, const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    cf_why_t why = {""};
    assert_int_equal(cf_agent_servers_from_json(l, j, &why), CF_OK);
    json_decref(j);
}

static size_t s_find(const cf_agent_servers_t *l, const char *alias)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->servers[i].alias, alias) == 0)
            return i;
    fail_msg("no server %s", alias);
    return 0;
}

/* The probe of these tests: servers named in ctx (comma-separated) do not answer. */
static int s_probe(void *ctx, const cf_agent_server_t *s)
{
    char pat[80];
    snprintf(pat, sizeof(pat), ",%s,", s->alias);
    return !strstr((const char *) ctx, pat);
}

static void test_usage(void **state)
{
    (void) state;
    cf_agent_servers_t l = {.n = 0};
    s_load(&l, s_list);
    assert_int_equal(l.n, 5);
    assert_int_equal(l.servers[4].plain_port, 8005);
    snprintf(l.favorite, sizeof(l.favorite), "fav");
    size_t i = 99;
    cf_route_choice_t why;
    assert_int_equal(
        cf_agent_choose(&l, "agent-1", "127.0.0.7", NULL, s_probe, ",", &i, &why, NULL), CF_OK);
    assert_string_equal(l.servers[i].alias, "fav");
    assert_string_equal(why.text, "favorite");
    cf_agent_servers_clear(&l);
    cf_agent_servers_clear(&l); /* safe to repeat */
}

/* Table: favorite, the address (seen wins over own), servers down -> the chosen one. */
static void test_choice_table(void **state)
{
    (void) state;
    static const struct {
        const char *favorite, *seen, *own, *down, *want, *rule;
    } cases[] = {
        {"fav", "", "127.0.0.7", ",", "fav", "favorite"},
        {"FAV", "", "127.0.0.7", ",", "fav", "favorite"}, /* aliases are case-insensitive */
        {"fav", "", "127.0.0.7", ",fav,", "narrow", "ip-range"},
        {"", "", "127.0.0.7", ",", "narrow", "ip-range"},        /* narrowest range first */
        {"", "", "127.0.0.9", ",", "wide", "ip-range"},          /* outside the /29 */
        {"", "127.0.0.9", "127.0.0.7", ",", "wide", "ip-range"}, /* the seen address wins */
        {"", "", "127.0.0.7", ",narrow,", "wide", "ip-range"},
        {"", "", "127.0.0.7", ",narrow,wide,", "high*", "priority"},
        {"", "", "10.1.1.1", ",", "high*", "priority"}, /* no range holds it */
        {"", "", "", ",", "high*", "priority"},         /* no address known */
        {"gone", "", "", ",", "high*", "priority"},     /* a favorite not listed */
        {"fav", "", "10.1.1.1", ",fav,high,high2,", "wide", "priority"},
    };
    cf_agent_servers_t l = {.n = 0};
    s_load(&l, s_list);
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        snprintf(l.favorite, sizeof(l.favorite), "%s", cases[c].favorite);
        snprintf(l.seen_addr, sizeof(l.seen_addr), "%s", cases[c].seen);
        size_t i = 99;
        cf_route_choice_t why;
        cf_err_t rc = cf_agent_choose(&l, "agent-1", cases[c].own, NULL, s_probe,
                                      (void *) cases[c].down, &i, &why, NULL);
        assert_int_equal(rc, CF_OK);
        const char *want = cases[c].want;
        if (strcmp(want, "high*") == 0)
            assert_true(strncmp(l.servers[i].alias, "high", 4) == 0);
        else
            assert_string_equal(l.servers[i].alias, want);
        assert_string_equal(cf_route_rule_name(why.rule), cases[c].rule);
    }
    cf_agent_servers_clear(&l);
}

/* Equal priorities share the load: over many agent ids both are chosen. */
static void test_ties_spread(void **state)
{
    (void) state;
    cf_agent_servers_t l = {.n = 0};
    s_load(&l, s_list);
    size_t hits[5] = {0};
    for (int a = 0; a < 200; a++) {
        char id[32];
        snprintf(id, sizeof(id), "agent-%d", a);
        size_t i = 0;
        assert_int_equal(cf_agent_choose(&l, id, "10.0.0.1", NULL, NULL, NULL, &i, NULL, NULL),
                         CF_OK);
        hits[i]++;
    }
    assert_true(hits[s_find(&l, "high")] > 50);
    assert_true(hits[s_find(&l, "high2")] > 50);
    cf_agent_servers_clear(&l);
}

/* Off line servers, the skip flags, and none left. */
static void test_unavailable(void **state)
{
    (void) state;
    cf_agent_servers_t l = {.n = 0};
    s_load(&l, "[{\"alias\":\"a\",\"online\":false,\"priority\":9},{\"alias\":\"b\"}]");
    size_t i = 9;
    assert_int_equal(cf_agent_choose(&l, "x", NULL, NULL, NULL, NULL, &i, NULL, NULL), CF_OK);
    assert_string_equal(l.servers[i].alias, "b");
    unsigned char skip[2] = {0, 1};
    cf_why_t why = {""};
    assert_int_equal(cf_agent_choose(&l, "x", NULL, skip, NULL, NULL, &i, NULL, &why),
                     CF_ERR_NOTFOUND);
    assert_int_equal(cf_agent_choose(&l, "x", NULL, NULL, s_probe, ",b,", &i, NULL, &why),
                     CF_ERR_NOTFOUND);
    assert_non_null(strstr(why.text, "handshake"));
    cf_agent_servers_clear(&l);
    assert_int_equal(cf_agent_choose(&l, "x", NULL, NULL, NULL, NULL, &i, NULL, &why),
                     CF_ERR_NOTFOUND);
    assert_int_equal(cf_agent_choose(NULL, "x", NULL, NULL, NULL, NULL, &i, NULL, NULL),
                     CF_ERR_INVALID);
    assert_int_equal(cf_agent_choose(&l, NULL, NULL, NULL, NULL, NULL, &i, NULL, NULL),
                     CF_ERR_INVALID);
}

/* Bad lists are refused and leave the old list. */
static void test_bad_lists(void **state)
{
    (void) state;
    static const char *bad[] = {
        "{}",
        "[1]",
        "[{}]",
        "[{\"alias\":\"\"}]",
        "[{\"alias\":7}]",
        "[{\"alias\":\"a\",\"port\":0}]",
        "[{\"alias\":\"a\",\"port\":70000}]",
        "[{\"alias\":\"a\",\"plain_port\":\"x\"}]",
        "[{\"alias\":\"a\",\"priority\":1e3}]",
        "[{\"alias\":\"a\",\"online\":1}]",
        "[{\"alias\":\"a\",\"ip_ranges\":\"10.0.0.0/8\"}]",
        "[{\"alias\":\"a\",\"ip_ranges\":[\"10.0.0.300/8\"]}]",
        "[{\"alias\":\"a\",\"ip_ranges\":[5]}]",
        "[{\"alias\":\"a\"},{\"alias\":\"A\"}]",
        "[{\"alias\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}]",
    };
    cf_agent_servers_t l = {.n = 0};
    s_load(&l, "[{\"alias\":\"keep\"}]");
    for (size_t c = 0; c < sizeof(bad) / sizeof(bad[0]); c++) {
        json_t *j = json_loads(bad[c], 0, NULL);
        assert_non_null(j);
        cf_why_t why = {""};
        assert_int_not_equal(cf_agent_servers_from_json(&l, j, &why), CF_OK);
        assert_true(why.text[0] != '\0');
        json_decref(j);
        assert_int_equal(l.n, 1);
        assert_string_equal(l.servers[0].alias, "keep");
    }
    /* more than the cap */
    json_t *many = json_array();
    for (int k = 0; k <= CF_AGENT_SERVERS_MAX; k++)
        json_array_append_new(many, json_pack("{s:s+}", "alias", "s", k % 2 ? "x" : "y"));
    assert_int_equal(cf_agent_servers_from_json(&l, many, NULL), CF_ERR_TOOBIG);
    json_decref(many);
    cf_agent_servers_clear(&l);
}

/* The cache: save, load back equal; a damaged or missing cache is an error. */
static void test_cache(void **state)
{
    (void) state;
    char dir[512], path[600];
    cf_test_tmpdir("agent_choose", dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/%s", dir, CF_AGENT_CACHE_FILE);
    cf_agent_servers_t l = {.n = 0}, back = {.n = 0};
    s_load(&l, s_list);
    snprintf(l.favorite, sizeof(l.favorite), "fav");
    snprintf(l.seen_addr, sizeof(l.seen_addr), "127.0.0.9");
    assert_int_equal(cf_agent_servers_save(&l, path, NULL), CF_OK);
    assert_int_equal(cf_agent_servers_load(&back, path, NULL), CF_OK);
    assert_int_equal(back.n, l.n);
    assert_string_equal(back.favorite, "fav");
    assert_string_equal(back.seen_addr, "127.0.0.9");
    for (size_t i = 0; i < l.n; i++) {
        assert_string_equal(back.servers[i].alias, l.servers[i].alias);
        assert_int_equal(back.servers[i].port, l.servers[i].port);
        assert_int_equal(back.servers[i].priority, l.servers[i].priority);
        assert_int_equal(cf_iprange_list_size(back.servers[i].ranges),
                         cf_iprange_list_size(l.servers[i].ranges));
    }
    cf_test_write_file(path, "{\"servers\":[]}", 14);
    assert_int_equal(cf_agent_servers_load(&back, path, NULL), CF_ERR_CORRUPT);
    cf_test_write_file(path, "not json", 8);
    assert_int_equal(cf_agent_servers_load(&back, path, NULL), CF_ERR_CORRUPT);
    snprintf(path, sizeof(path), "%s/none.json", dir);
    assert_int_equal(cf_agent_servers_load(&back, path, NULL), CF_ERR_NOTFOUND);
    cf_agent_servers_clear(&l);
    cf_agent_servers_clear(&back);
}

/* Back-off: each delay in [b/2, b], b doubling to the cap, reset; jitter bounds. */
static void test_backoff(void **state)
{
    (void) state;
    cf_agent_backoff_t b = {.min_ms = 100, .max_ms = 1000};
    uint32_t bound = 100;
    for (int k = 0; k < 12; k++) {
        uint32_t d = cf_agent_backoff_next(&b);
        assert_true(d >= bound / 2 && d <= bound);
        bound = bound * 2 > 1000 ? 1000 : bound * 2;
    }
    assert_int_equal(b.cur_ms, 1000);
    cf_agent_backoff_reset(&b);
    uint32_t d = cf_agent_backoff_next(&b);
    assert_true(d >= 50 && d <= 100);
    cf_agent_backoff_t z = {0};
    assert_true(cf_agent_backoff_next(&z) >= 1);
    for (int k = 0; k < 100; k++) {
        uint32_t j = cf_agent_jitter(1000, 10);
        assert_true(j >= 900 && j <= 1100);
    }
    assert_int_equal(cf_agent_jitter(500, 0), 500);
    assert_int_equal(cf_agent_jitter(0, 10), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),       cmocka_unit_test(test_choice_table),
        cmocka_unit_test(test_ties_spread), cmocka_unit_test(test_unavailable),
        cmocka_unit_test(test_bad_lists),   cmocka_unit_test(test_cache),
        cmocka_unit_test(test_backoff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
