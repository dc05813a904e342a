/*  test_route - server choice: favorite, primary IP range, priority, hashed ties, order  */
#include "cf_test.h"

#include <stdio.h>
#include <string.h>

#include "cf_route.h"

#define S_MAX 8 /* servers in one fixture */

/* Candidate servers built from short descriptions; owns their range lists. */
typedef struct {
    cf_route_server_t servers[S_MAX]; /* what cf_route reads */
    cf_iprange_list_t *ranges[S_MAX]; /* owned: servers[i].ranges */
    size_t count;                     /* servers in use */
    cf_iprange_addr_t addr;           /* the agent's address */
    cf_route_agent_t agent;           /* the agent being routed */
} s_fleet_t;

static void s_add(s_fleet_t *f, const char *alias, int priority, const char *ranges)
{
    assert_true(f->count < S_MAX);
    cf_why_t why;
    cf_iprange_list_t *list = NULL;
    if (cf_iprange_list_parse(ranges, &list, &why) != CF_OK)
        fail_msg("ranges '%s': %s", ranges, why.text);
    f->ranges[f->count] = list;
    f->servers[f->count] = (cf_route_server_t){alias, "127.0.0.1", 7005, priority, list, true};
    f->count++;
}

static void s_agent(s_fleet_t *f, const char *id, const char *favorite, const char *addr)
{
    f->agent.id = id;
    f->agent.favorite = favorite;
    f->agent.addr = NULL;
    if (addr) {
        assert_int_equal(cf_iprange_addr_parse(addr, &f->addr, NULL), CF_OK);
        f->agent.addr = &f->addr;
    }
}

static void s_free(s_fleet_t *f)
{
    for (size_t i = 0; i < f->count; i++)
        cf_iprange_list_destroy(&f->ranges[i]);
}

/* Choose and check the chosen alias and reason text. */
static void s_expect(const s_fleet_t *f, const char *alias, const char *reason)
{
    cf_route_choice_t choice;
    cf_why_t why;
    if (cf_route_choose(&f->agent, f->servers, f->count, &choice, &why) != CF_OK)
        fail_msg("no choice: %s", why.text);
    assert_string_equal(f->servers[choice.index].alias, alias);
    assert_string_equal(choice.text, reason);
}

static void test_usage(void **state)
{
    (void) state;
    s_fleet_t f = {0};
    s_add(&f, "srv-a", 10, "");
    s_add(&f, "srv-b", 5, "127.0.0.0/24");
    s_add(&f, "srv-c", 1, "");
    s_agent(&f, "agent-7", "srv-c", "127.0.0.7");

    cf_route_choice_t choice;
    cf_why_t why;
    assert_int_equal(cf_route_choose(&f.agent, f.servers, f.count, &choice, &why), CF_OK);
    assert_int_equal(choice.index, 2);
    assert_int_equal(choice.rule, CF_ROUTE_FAVORITE);
    assert_string_equal(choice.text, "favorite");

    /* Favorite down: the server whose primary IP range holds the agent. */
    f.servers[2].available = false;
    s_expect(&f, "srv-b", "ip-range 127.0.0.0/24");
    /* Range server down too: the highest priority. */
    f.servers[1].available = false;
    s_expect(&f, "srv-a", "priority 10");
    /* All down: no choice, and why says so. */
    f.servers[0].available = false;
    assert_int_equal(cf_route_choose(&f.agent, f.servers, f.count, &choice, &why), CF_ERR_NOTFOUND);
    assert_string_equal(why.text, "none of the 3 known servers is available");

    /* The order to try after a failure. */
    for (size_t i = 0; i < f.count; i++)
        f.servers[i].available = true;
    size_t order[S_MAX], n = 0;
    assert_int_equal(cf_route_order(&f.agent, f.servers, f.count, order, NULL, S_MAX, &n, &why),
                     CF_OK);
    assert_int_equal(n, 3);
    assert_int_equal(order[0], 2); /* favorite */
    assert_int_equal(order[1], 1); /* range */
    assert_int_equal(order[2], 0); /* priority */
    s_free(&f);
}

static void test_favorite(void **state)
{
    (void) state;
    s_fleet_t f = {0};
    s_add(&f, "srv-a", 100, "127.0.0.0/8");
    s_add(&f, "Srv-Fav", -5, "");
    s_agent(&f, "agent-1", "srv-fav", "127.0.0.7"); /* aliases compare case-insensitively */
    s_expect(&f, "Srv-Fav", "favorite");
    s_agent(&f, "agent-1", "srv-gone", "127.0.0.7"); /* an unknown favorite is passed over */
    s_expect(&f, "srv-a", "ip-range 127.0.0.0/8");
    s_agent(&f, "agent-1", "", NULL); /* none */
    s_expect(&f, "srv-a", "priority 100");
    s_free(&f);
}

static void test_range_narrowest_wins(void **state)
{
    (void) state;
    s_fleet_t f = {0};
    s_add(&f, "wide", 100, "127.0.0.0/8");
    s_add(&f, "narrow", 1, "10.0.0.0/8, 127.0.0.0/24");
    s_add(&f, "other", 50, "127.0.1.0/24");
    s_add(&f, "top", 1000, "");
    s_agent(&f, "agent-1", NULL, "127.0.0.7");
    s_expect(&f, "narrow", "ip-range 127.0.0.0/24"); /* over a higher priority, wider range */
    f.servers[1].available = false;
    s_expect(&f, "wide", "ip-range 127.0.0.0/8");
    f.servers[0].available = false;
    s_expect(&f, "top", "priority 1000"); /* 127.0.1.0/24 does not hold the agent */
    s_agent(&f, "agent-2", NULL, "127.0.1.9");
    s_expect(&f, "other", "ip-range 127.0.1.0/24");

    /* A from-to range of 9 addresses is narrower than a /28 of 16. */
    s_fleet_t g = {0};
    s_add(&g, "cidr", 9, "127.0.0.0/28");
    s_add(&g, "span", 1, "127.0.0.1 - 127.0.0.9");
    s_agent(&g, "agent-1", NULL, "127.0.0.7");
    s_expect(&g, "span", "ip-range 127.0.0.1-127.0.0.9");
    s_free(&f);
    s_free(&g);
}

static void test_range_then_priority(void **state)
{
    (void) state;
    s_fleet_t f = {0};
    s_add(&f, "low", 5, "127.0.0.0/24");
    s_add(&f, "high", 7, "127.0.0.0-127.0.0.255");
    s_add(&f, "twin", 7, "127.0.0.0/24");
    s_add(&f, "top", 99, "");
    s_agent(&f, "agent-1", NULL, "127.0.0.7");
    cf_route_choice_t choice;
    assert_int_equal(cf_route_choose(&f.agent, f.servers, f.count, &choice, NULL), CF_OK);
    assert_true(choice.index == 1 || choice.index == 2); /* equal width: priority 7 wins */
    assert_string_equal(choice.text, "ip-range 127.0.0.0/24 (shared by 2, hashed)");
    assert_int_equal(choice.shared_by, 2);
    assert_int_equal(choice.priority, 7);
    cf_iprange_t want;
    assert_int_equal(cf_iprange_parse("127.0.0.0/24", &want, NULL), CF_OK);
    assert_true(cf_iprange_equal(&choice.range, &want));
    f.servers[2].available = false;
    s_expect(&f, "high", "ip-range 127.0.0.0/24");

    /* An IPv6 agent, an unknown address or a mapped one against IPv4 ranges. */
    s_agent(&f, "agent-1", NULL, "::1");
    s_expect(&f, "top", "priority 99");
    s_agent(&f, "agent-1", NULL, NULL);
    s_expect(&f, "top", "priority 99");
    s_agent(&f, "agent-1", NULL, "::ffff:127.0.0.9");
    s_expect(&f, "high", "ip-range 127.0.0.0/24");
    s_free(&f);
}

static void test_priority(void **state)
{
    (void) state;
    s_fleet_t f = {0};
    s_add(&f, "minus", -3, "");
    s_add(&f, "p10-a", 10, "");
    s_add(&f, "zero", 0, "");
    s_add(&f, "p10-b", 10, "");
    s_add(&f, "p10-c", 10, "");
    s_agent(&f, "agent-1", NULL, "127.0.0.7");
    cf_route_choice_t choice;
    assert_int_equal(cf_route_choose(&f.agent, f.servers, f.count, &choice, NULL), CF_OK);
    assert_int_equal(choice.rule, CF_ROUTE_PRIORITY);
    assert_int_equal(choice.priority, 10);
    assert_string_equal(choice.text, "priority 10 (shared by 3, hashed)");
    f.servers[1].available = f.servers[3].available = f.servers[4].available = false;
    s_expect(&f, "zero", "priority 0");
    f.servers[2].available = false;
    s_expect(&f, "minus", "priority -3");
    s_free(&f);
}

static void test_none_available(void **state)
{
    (void) state;
    s_fleet_t f = {0};
    s_add(&f, "srv-a", 1, "127.0.0.0/8");
    s_agent(&f, "agent-1", "srv-a", "127.0.0.7");
    f.servers[0].available = false;
    cf_route_choice_t choice;
    cf_why_t why;
    size_t order[S_MAX], n = 99;
    assert_int_equal(cf_route_choose(&f.agent, f.servers, f.count, &choice, &why), CF_ERR_NOTFOUND);
    assert_int_equal(cf_route_order(&f.agent, f.servers, f.count, order, NULL, S_MAX, &n, &why),
                     CF_ERR_NOTFOUND);
    assert_int_equal(n, 0);
    assert_int_equal(cf_route_choose(&f.agent, NULL, 0, &choice, &why), CF_ERR_NOTFOUND);
    assert_string_equal(why.text, "no server is known");
    s_free(&f);
}

static void test_order(void **state)
{
    (void) state;
    s_fleet_t f = {0};
    s_add(&f, "p5", 5, "");
    s_add(&f, "r8", 1, "127.0.0.0/8");
    s_add(&f, "fav", 0, "");
    s_add(&f, "p9", 9, "");
    s_add(&f, "down", 100, "127.0.0.0/30");
    s_add(&f, "r24", 0, "127.0.0.0/24");
    s_agent(&f, "agent-1", "fav", "127.0.0.7");
    f.servers[4].available = false;
    size_t order[S_MAX], n = 0;
    cf_route_choice_t reasons[S_MAX];
    cf_why_t why;
    assert_int_equal(cf_route_order(&f.agent, f.servers, f.count, order, reasons, S_MAX, &n, &why),
                     CF_OK);
    static const char *want[][2] = {
        {"fav", "favorite"},
        {"r24", "ip-range 127.0.0.0/24"},
        {"r8", "ip-range 127.0.0.0/8"},
        {"p9", "priority 9"},
        {"p5", "priority 5"},
    };
    assert_int_equal(n, 5); /* "down" is left out */
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(f.servers[order[i]].alias, want[i][0]);
        assert_int_equal(reasons[i].index, order[i]);
        assert_string_equal(reasons[i].text, want[i][1]);
    }
    cf_route_choice_t choice;
    assert_int_equal(cf_route_choose(&f.agent, f.servers, f.count, &choice, NULL), CF_OK);
    assert_int_equal(choice.index, order[0]);

    assert_int_equal(cf_route_order(&f.agent, f.servers, f.count, order, NULL, 4, &n, &why),
                     CF_ERR_TOOBIG);
    assert_string_equal(why.text, "5 servers are available, room for 4");
    assert_int_equal(cf_route_order(&f.agent, f.servers, f.count, NULL, NULL, 4, &n, NULL),
                     CF_ERR_INVALID);
    assert_int_equal(cf_route_order(&f.agent, f.servers, f.count, order, NULL, 4, NULL, NULL),
                     CF_ERR_INVALID);
    s_free(&f);
}

static size_t s_pick(const cf_route_server_t *servers, size_t count, const char *id)
{
    cf_route_agent_t agent = {id, NULL, NULL};
    cf_route_choice_t choice;
    assert_int_equal(cf_route_choose(&agent, servers, count, &choice, NULL), CF_OK);
    return choice.index;
}

static void test_ties_spread_and_stay(void **state)
{
    (void) state;
    const cf_route_server_t servers[3] = {
        {"srv-a", "127.0.0.1", 7005, 10, NULL, true},
        {"srv-b", "127.0.0.2", 7005, 10, NULL, true},
        {"srv-c", "127.0.0.3", 7005, 10, NULL, true},
    };
    enum { AGENTS = 10000 };
    size_t on_two[2] = {0}, on_three[3] = {0};
    for (int i = 0; i < AGENTS; i++) {
        char id[32];
        snprintf(id, sizeof(id), "agent-%05d", i);
        size_t two = s_pick(servers, 2, id);
        size_t three = s_pick(servers, 3, id);
        assert_int_equal(s_pick(servers, 2, id), two); /* stable for one agent */
        on_two[two]++;
        on_three[three]++;
        /* Rendezvous: a third equal server takes agents only for itself; nobody moves
           between the first two. */
        assert_true(three == two || three == 2);
    }
    for (size_t s = 0; s < 2; s++) {
        if (on_two[s] < AGENTS * 45 / 100 || on_two[s] > AGENTS * 55 / 100)
            fail_msg("server %zu got %zu of %d agents", s, on_two[s], AGENTS);
    }
    for (size_t s = 0; s < 3; s++) {
        if (on_three[s] < AGENTS * 30 / 100 || on_three[s] > AGENTS * 37 / 100)
            fail_msg("server %zu of 3 got %zu of %d agents", s, on_three[s], AGENTS);
    }
    /* The order of the candidate array does not matter. */
    const cf_route_server_t swapped[2] = {servers[1], servers[0]};
    assert_int_equal(s_pick(swapped, 2, "agent-00042"), 1 - s_pick(servers, 2, "agent-00042"));
}

static void test_invalid(void **state)
{
    (void) state;
    s_fleet_t f = {0};
    s_add(&f, "srv-a", 1, "");
    s_add(&f, "SRV-A", 2, "");
    s_agent(&f, "agent-1", NULL, NULL);
    cf_route_choice_t choice;
    cf_why_t why;
    assert_int_equal(cf_route_choose(&f.agent, f.servers, f.count, &choice, &why), CF_ERR_INVALID);
    assert_string_equal(why.text, "server alias 'SRV-A' is listed twice");
    f.servers[1].alias = NULL;
    assert_int_equal(cf_route_choose(&f.agent, f.servers, f.count, &choice, &why), CF_ERR_INVALID);
    assert_string_equal(why.text, "server 1 has no alias");
    assert_int_equal(cf_route_choose(&f.agent, f.servers, 1, NULL, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_route_choose(NULL, f.servers, 1, &choice, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_route_choose(&f.agent, NULL, 1, &choice, NULL), CF_ERR_INVALID);
    f.agent.id = NULL;
    assert_int_equal(cf_route_choose(&f.agent, f.servers, 1, &choice, NULL), CF_ERR_INVALID);

    char name[CF_ROUTE_MAX_NAME + 2];
    memset(name, 'a', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    f.agent.id = name;
    assert_int_equal(cf_route_choose(&f.agent, f.servers, 1, &choice, NULL), CF_ERR_TOOBIG);
    f.agent.id = "agent-1";
    f.agent.favorite = name;
    assert_int_equal(cf_route_choose(&f.agent, f.servers, 1, &choice, NULL), CF_ERR_TOOBIG);
    f.agent.favorite = NULL;
    f.servers[0].alias = name;
    assert_int_equal(cf_route_choose(&f.agent, f.servers, 1, &choice, &why), CF_ERR_TOOBIG);
    name[CF_ROUTE_MAX_NAME] = '\0'; /* exactly the cap is fine */
    assert_int_equal(cf_route_choose(&f.agent, f.servers, 1, &choice, &why), CF_OK);

    static cf_route_server_t many[CF_ROUTE_MAX_SERVERS + 1];
    static char aliases[CF_ROUTE_MAX_SERVERS + 1][16];
    for (size_t i = 0; i <= CF_ROUTE_MAX_SERVERS; i++) {
        snprintf(aliases[i], sizeof(aliases[i]), "srv-%zu", i);
        many[i] = (cf_route_server_t){aliases[i], "127.0.0.1", 7005, (int) i % 7, NULL, true};
    }
    assert_int_equal(cf_route_choose(&f.agent, many, CF_ROUTE_MAX_SERVERS + 1, &choice, &why),
                     CF_ERR_TOOBIG);
    assert_int_equal(cf_route_choose(&f.agent, many, CF_ROUTE_MAX_SERVERS, &choice, &why), CF_OK);
    assert_int_equal(choice.priority, 6);
    assert_string_equal(choice.text, "priority 6 (shared by 36, hashed)");
    s_free(&f);
}

static void test_never_allocates(void **state)
{
    (void) state;
    s_fleet_t f = {0};
    s_add(&f, "srv-a", 1, "127.0.0.0/8");
    s_add(&f, "srv-b", 1, "127.0.0.0/8");
    s_agent(&f, "agent-1", "srv-c", "127.0.0.7");
    /* An agent routes on every reconnect, also when memory is short: no allocation at all. */
    cf_test_alloc_fail_at(0);
    cf_route_choice_t choice;
    size_t order[S_MAX], n = 0;
    cf_err_t chose = cf_route_choose(&f.agent, f.servers, f.count, &choice, NULL);
    cf_err_t ordered = cf_route_order(&f.agent, f.servers, f.count, order, NULL, S_MAX, &n, NULL);
    long failed = cf_test_alloc_failed();
    cf_test_alloc_fail_at(-1);
    assert_int_equal(failed, 0);
    assert_int_equal(chose, CF_OK);
    assert_int_equal(ordered, CF_OK);
    assert_string_equal(choice.text, "ip-range 127.0.0.0/8 (shared by 2, hashed)");
    s_free(&f);
}

static void test_rule_names(void **state)
{
    (void) state;
    assert_string_equal(cf_route_rule_name(CF_ROUTE_FAVORITE), "favorite");
    assert_string_equal(cf_route_rule_name(CF_ROUTE_RANGE), "ip-range");
    assert_string_equal(cf_route_rule_name(CF_ROUTE_PRIORITY), "priority");
    assert_string_equal(cf_route_rule_name((cf_route_rule_t) 0), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_favorite),
        cmocka_unit_test(test_range_narrowest_wins),
        cmocka_unit_test(test_range_then_priority),
        cmocka_unit_test(test_priority),
        cmocka_unit_test(test_none_available),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_ties_spread_and_stay),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_never_allocates),
        cmocka_unit_test(test_rule_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
