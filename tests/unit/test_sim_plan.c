/*  test_sim_plan - the simulator's arithmetic: source addresses inside a net, the split of a
    fleet over processes, VmRSS from /proc/self/status  */
#include "cf_test.h"

#include <stdio.h>
#include <string.h>

#include "cf_sim_plan.h"

static void test_usage(void **state)
{
    (void) state;
    cf_sim_net_t net;
    char a[16];
    assert_int_equal(cf_sim_net_parse(CF_SIM_NET_DEFAULT, &net, NULL), CF_OK);
    assert_int_equal(net.bits, 16);
    assert_int_equal(cf_sim_net_hosts(&net), 256 * 254);
    cf_sim_net_addr(&net, 0, a);
    assert_string_equal(a, "127.0.0.1");
    cf_sim_net_addr(&net, 253, a);
    assert_string_equal(a, "127.0.0.254");
    cf_sim_net_addr(&net, 254, a); /* .255 and .0 are skipped */
    assert_string_equal(a, "127.0.1.1");
    size_t first = 99, count = 99;
    assert_int_equal(cf_sim_split(1001, 2, 1, &first, &count), CF_OK);
    assert_int_equal(first, 501);
    assert_int_equal(count, 500);
}

/* Every address of a net is distinct, inside it, and never ends in .0 or .255. */
static void test_addresses(void **state)
{
    (void) state;
    static const char *nets[] = {"10.1.0.0/20", "127.0.3.0/24", "127.0.0.128/25", "192.168.1.4/30"};
    for (size_t n = 0; n < sizeof(nets) / sizeof(nets[0]); n++) {
        cf_sim_net_t net;
        assert_int_equal(cf_sim_net_parse(nets[n], &net, NULL), CF_OK);
        uint32_t hosts = cf_sim_net_hosts(&net), prev = 0;
        for (uint32_t k = 0; k < hosts; k++) {
            char a[16];
            unsigned o[4];
            cf_sim_net_addr(&net, k, a);
            assert_int_equal(sscanf(a, "%u.%u.%u.%u", &o[0], &o[1], &o[2], &o[3]), 4);
            uint32_t v = o[0] << 24 | o[1] << 16 | o[2] << 8 | o[3];
            assert_true(o[3] != 0 && o[3] != 255);
            assert_int_equal(v & (0xffffffffu << (32 - net.bits)), net.base);
            assert_true(v > prev); /* increasing: all distinct */
            prev = v;
        }
        char first[16], again[16];
        cf_sim_net_addr(&net, 0, first);
        cf_sim_net_addr(&net, hosts, again); /* past the end: they repeat */
        assert_string_equal(first, again);
    }
    cf_sim_net_t small;
    assert_int_equal(cf_sim_net_parse("192.168.1.4/30", &small, NULL), CF_OK);
    assert_int_equal(cf_sim_net_hosts(&small), 2);
}

static void test_bad_nets(void **state)
{
    (void) state;
    static const char *bad[] = {
        "",        "127.0.0.0",  "127.0.0.0/",   "127.0.0.0/7", "127.0.0.0/31", "127.0.0.1/16",
        "::1/120", "127.0.0/16", "127.0.0.0/1x", "a.b.c.d/16",  "127.0.0.0/-8", NULL};
    cf_sim_net_t net;
    for (size_t i = 0; bad[i]; i++) {
        cf_why_t why = {""};
        assert_int_equal(cf_sim_net_parse(bad[i], &net, &why), CF_ERR_INVALID);
        assert_true(why.text[0]);
    }
    assert_int_equal(cf_sim_net_parse(NULL, &net, NULL), CF_ERR_INVALID);
}

/* The ranges of all processes cover the fleet exactly once, in order, sizes within one. */
static void test_split(void **state)
{
    (void) state;
    static const size_t sizes[] = {1, 2, 7, 50, 1000, 9001, 18000};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
        for (unsigned procs = 1; procs <= 8 && procs <= sizes[s]; procs++) {
            size_t next = 0, lo = (size_t) -1, hi = 0;
            for (unsigned p = 0; p < procs; p++) {
                size_t first = 0, count = 0;
                assert_int_equal(cf_sim_split(sizes[s], procs, p, &first, &count), CF_OK);
                assert_int_equal(first, next);
                next += count;
                lo = count < lo ? count : lo;
                hi = count > hi ? count : hi;
            }
            assert_int_equal(next, sizes[s]);
            assert_true(hi - lo <= 1 && lo >= 1);
        }
    size_t f, c;
    assert_int_equal(cf_sim_split(10, 0, 0, &f, &c), CF_ERR_INVALID);
    assert_int_equal(cf_sim_split(10, 2, 2, &f, &c), CF_ERR_INVALID);
    assert_int_equal(cf_sim_split(1, 2, 0, &f, &c), CF_ERR_INVALID);
    assert_int_equal(cf_sim_split(1000, CF_SIM_PROCS_MAX + 1, 0, &f, &c), CF_ERR_INVALID);
    assert_int_equal(cf_sim_split(10, 2, 0, NULL, &c), CF_ERR_INVALID);
}

static void test_rss(void **state)
{
    (void) state;
    assert_int_equal(cf_sim_rss_parse("Name:\tx\nVmPeak:\t 100 kB\nVmRSS:\t   4242 kB\n"), 4242);
    assert_int_equal(cf_sim_rss_parse("Name:\tx\n"), 0);
    assert_int_equal(cf_sim_rss_parse(NULL), 0);
    assert_true(cf_sim_rss_kib() > 0); /* this process runs, so it has pages */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),    cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_bad_nets), cmocka_unit_test(test_split),
        cmocka_unit_test(test_rss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
