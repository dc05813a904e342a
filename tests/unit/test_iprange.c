/*  test_iprange - IP range parsing, containment, widths, formatting and lists  */
#include "cf_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "cf_iprange.h"

static cf_iprange_t s_range(const char *text)
{
    cf_iprange_t r;
    cf_why_t why;
    if (cf_iprange_parse(text, &r, &why) != CF_OK)
        fail_msg("cannot parse '%s': %s", text, why.text);
    return r;
}

static void s_assert_format(const cf_iprange_t *r, const char *want)
{
    char buf[CF_IPRANGE_TEXT_MAX];
    assert_int_equal(cf_iprange_format(r, buf, sizeof(buf)), CF_OK);
    assert_string_equal(buf, want);
}

static void test_usage(void **state)
{
    (void) state;
    cf_iprange_t r;
    cf_why_t why;
    assert_int_equal(cf_iprange_parse("127.0.0.0/24", &r, &why), CF_OK);
    assert_true(cf_iprange_contains_text(&r, "127.0.0.7"));
    assert_false(cf_iprange_contains_text(&r, "127.0.1.7"));
    s_assert_format(&r, "127.0.0.0/24");

    /* Refusals say why. */
    assert_int_equal(cf_iprange_parse("10.0.0.9-10.0.0.1", &r, &why), CF_ERR_INVALID);
    assert_string_equal(why.text, "range start 10.0.0.9 is after its end 10.0.0.1");

    /* A server's "primary IP range" value: the narrowest matching range wins. */
    cf_iprange_list_t *list = NULL;
    assert_int_equal(cf_iprange_list_parse("10.0.0.0/8, 10.1.2.0/24", &list, &why), CF_OK);
    cf_iprange_addr_t agent;
    assert_int_equal(cf_iprange_addr_parse("10.1.2.3", &agent, &why), CF_OK);
    s_assert_format(cf_iprange_list_match(list, &agent), "10.1.2.0/24");
    cf_iprange_list_destroy(&list);
    assert_null(list);
    cf_iprange_list_destroy(&list); /* safe to repeat */
}

static void test_valid_ranges(void **state)
{
    (void) state;
    static const struct {
        const char *text;  /* as an operator writes it */
        const char *canon; /* cf_iprange_format */
        int family;
    } ok[] = {
        {"10.0.0.0/8", "10.0.0.0/8", AF_INET},
        {"127.0.0.0/24", "127.0.0.0/24", AF_INET},
        {"fd00::/8", "fd00::/8", AF_INET6},
        {"::1/128", "::1/128", AF_INET6},
        {"127.0.0.7", "127.0.0.7/32", AF_INET},
        {"::1", "::1/128", AF_INET6},
        {"0.0.0.0/0", "0.0.0.0/0", AF_INET},
        {"::/0", "::/0", AF_INET6},
        {"255.255.255.255/32", "255.255.255.255/32", AF_INET},
        {"128.0.0.0/1", "128.0.0.0/1", AF_INET},
        {"192.168.1.10-192.168.1.50", "192.168.1.10-192.168.1.50", AF_INET},
        {"10.0.0.1 - 10.0.0.9", "10.0.0.1-10.0.0.9", AF_INET},
        {" \t10.0.0.0/8\t ", "10.0.0.0/8", AF_INET},
        {"10.0.0.0 / 8", "10.0.0.0/8", AF_INET},
        {"10.0.0.0/008", "10.0.0.0/8", AF_INET},
        {"10.0.0.0-10.255.255.255", "10.0.0.0/8", AF_INET},
        {"10.0.0.255-10.0.1.0", "10.0.0.255-10.0.1.0", AF_INET}, /* across an octet */
        {"10.0.0.0-10.0.1.255", "10.0.0.0/23", AF_INET},
        {"10.0.0.5-10.0.0.5", "10.0.0.5/32", AF_INET},
        {"0.0.0.0-255.255.255.255", "0.0.0.0/0", AF_INET},
        {"10.1.2.3/8", "10.0.0.0/8", AF_INET}, /* host bits cleared */
        {"fd00::1/8", "fd00::/8", AF_INET6},
        {"FD00::/8", "fd00::/8", AF_INET6},
        {"fe80::/10", "fe80::/10", AF_INET6},
        {"2001:db8::/32", "2001:db8::/32", AF_INET6},
        {"fd00::1-fd00::ff", "fd00::1-fd00::ff", AF_INET6},
        {"fd00::ffff-fd00::1:0", "fd00::ffff-fd00::1:0", AF_INET6},
        {"::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::/0", AF_INET6},
        {"::ffff:127.0.0.0/120", "127.0.0.0/24", AF_INET}, /* IPv4-mapped */
        {"::ffff:127.0.0.7", "127.0.0.7/32", AF_INET},
        {"::ffff:0:0/96", "0.0.0.0/0", AF_INET},
        {"::ffff:10.0.0.1-::ffff:10.0.0.9", "10.0.0.1-10.0.0.9", AF_INET},
        {"::ffff:0.0.0.0/95", "::fffe:0:0/95", AF_INET6}, /* only half mapped: stays IPv6 */
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        cf_iprange_t r, again;
        cf_why_t why;
        char canon[CF_IPRANGE_TEXT_MAX];
        if (cf_iprange_parse(ok[i].text, &r, &why) != CF_OK)
            fail_msg("'%s' refused: %s", ok[i].text, why.text);
        assert_int_equal(r.family, ok[i].family);
        assert_int_equal(cf_iprange_format(&r, canon, sizeof(canon)), CF_OK);
        if (strcmp(canon, ok[i].canon) != 0)
            fail_msg("'%s' formats as '%s', expected '%s'", ok[i].text, canon, ok[i].canon);
        /* The canonical text reads back to the same range, with nothing to normalise. */
        assert_int_equal(cf_iprange_parse(canon, &again, &why), CF_OK);
        assert_true(cf_iprange_equal(&r, &again));
        assert_string_equal(why.text, "");
    }
}

static void test_invalid_ranges(void **state)
{
    (void) state;
    static const struct {
        const char *text;
        cf_err_t err;
        const char *why; /* a part of the reason */
    } bad[] = {
        {"", CF_ERR_INVALID, "empty IP range"},
        {" \t ", CF_ERR_INVALID, "empty IP range"},
        {"10.0.0.0/33", CF_ERR_INVALID, "prefix /33 is too long for IPv4 (at most /32)"},
        {"::/129", CF_ERR_INVALID, "prefix /129 is too long for IPv6 (at most /128)"},
        {"10.0.0.0/0008", CF_ERR_INVALID, "too long for IPv4"},
        {"10.0.0.0/", CF_ERR_INVALID, "'10.0.0.0/' has no prefix length"},
        {"/8", CF_ERR_INVALID, "'/8' has no address"},
        {"10.0.0.0/8/8", CF_ERR_INVALID, "more than one '/'"},
        {"10.0.0.0/ab", CF_ERR_INVALID, "'/ab' is not a prefix length (0 to 32)"},
        {"10.0.0.0/8x", CF_ERR_INVALID, "is not a prefix length"},
        {"10.0.0.0/+8", CF_ERR_INVALID, "is not a prefix length"},
        {"10.0.0.0/8 x", CF_ERR_INVALID, "'/8 x' is not a prefix length"},
        {"10.0.0.0/-1", CF_ERR_INVALID, "mixes a CIDR prefix and a from-to range"},
        {"10.0.0.1-10.0.0.2/8", CF_ERR_INVALID, "mixes a CIDR prefix and a from-to range"},
        {"10.0.0.9-10.0.0.1", CF_ERR_INVALID, "range start 10.0.0.9 is after its end 10.0.0.1"},
        {"fd00::9-fd00::1", CF_ERR_INVALID, "is after its end"},
        {"10.0.0.1-::1", CF_ERR_INVALID, "range mixes IPv4 and IPv6: '10.0.0.1' and '::1'"},
        {"::ffff:10.0.0.1-10.0.0.9", CF_ERR_INVALID, "mixes IPv4 and IPv6"},
        {"10.0.0.1-", CF_ERR_INVALID, "range '10.0.0.1-' has no end address"},
        {"- 10.0.0.1", CF_ERR_INVALID, "range '-10.0.0.1' has no start address"},
        {"1.1.1.1-2.2.2.2-3.3.3.3", CF_ERR_INVALID, "more than one '-'"},
        {"10.0.0.1 foo", CF_ERR_INVALID, "unexpected text after '10.0.0.1'"},
        {"10.0.0.1 - 10.0.0.9 x", CF_ERR_INVALID, "unexpected text after '10.0.0.9'"},
        {"10.0.0.1x", CF_ERR_INVALID, "'10.0.0.1x' is not an IPv4 or IPv6 address"},
        {"256.0.0.1", CF_ERR_INVALID, "is not an IPv4 or IPv6 address"},
        {"10.1", CF_ERR_INVALID, "is not an IPv4 or IPv6 address"},
        {"010.0.0.1", CF_ERR_INVALID, "is not an IPv4 or IPv6 address"},
        {"0x0a.0.0.1", CF_ERR_INVALID, "is not an IPv4 or IPv6 address"},
        {"1::2::3", CF_ERR_INVALID, "is not an IPv4 or IPv6 address"},
        {"[::1]", CF_ERR_INVALID, "is not an IPv4 or IPv6 address"},
        {"localhost", CF_ERR_INVALID, "is not an IPv4 or IPv6 address"},
        {"10.0.0.0/8,10.1.0.0/16", CF_ERR_INVALID, "more than one '/'"},
        {"fe80::1%eth0", CF_ERR_INVALID, "zone ids"},
        {"10.0.0.1\n", CF_ERR_INVALID, "non-printable character at 8"},
        {"10.0.0.1\x80", CF_ERR_INVALID, "non-printable character"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cf_iprange_t r;
        cf_why_t why;
        memset(&r, 0xa5, sizeof(r));
        cf_err_t rc = cf_iprange_parse(bad[i].text, &r, &why);
        if (rc != bad[i].err || !strstr(why.text, bad[i].why))
            fail_msg("'%s': got %s '%s', expected %s '%s'", bad[i].text, cf_err_name(rc), why.text,
                     cf_err_name(bad[i].err), bad[i].why);
        assert_int_equal(r.family, 0); /* zeroed on failure */
        assert_false(cf_iprange_contains_text(&r, "0.0.0.0"));
    }
}

static void test_parse_limits(void **state)
{
    (void) state;
    char text[CF_IPRANGE_MAX_TEXT + 2];
    cf_iprange_t r;
    cf_why_t why;
    snprintf(text, sizeof(text), "%*s", CF_IPRANGE_MAX_TEXT, "10.0.0.0/8"); /* at the cap */
    assert_int_equal(strlen(text), CF_IPRANGE_MAX_TEXT);
    assert_int_equal(cf_iprange_parse(text, &r, &why), CF_OK);
    snprintf(text, sizeof(text), "%*s", CF_IPRANGE_MAX_TEXT + 1, "10.0.0.0/8"); /* one over */
    assert_int_equal(cf_iprange_parse(text, &r, &why), CF_ERR_TOOBIG);
    assert_string_equal(why.text, "IP range text is longer than 100 characters");
    assert_int_equal(r.family, 0);
    assert_int_equal(cf_iprange_addr_parse(text, NULL, &why), CF_ERR_INVALID);
    assert_int_equal(cf_iprange_parse(NULL, &r, &why), CF_ERR_INVALID);
    assert_string_equal(why.text, "no IP range given");
    assert_int_equal(cf_iprange_parse("10.0.0.0/8", NULL, NULL), CF_ERR_INVALID);
}

static void test_normalisation_note(void **state)
{
    (void) state;
    cf_iprange_t r;
    cf_why_t why;
    assert_int_equal(cf_iprange_parse(" 192.168.1.77/24 ", &r, &why), CF_OK);
    assert_string_equal(why.text, "'192.168.1.77/24' normalised to 192.168.1.0/24");
    assert_int_equal(cf_iprange_parse("::ffff:127.0.0.0/120", &r, &why), CF_OK);
    assert_string_equal(why.text, "'::ffff:127.0.0.0/120' normalised to 127.0.0.0/24");
    assert_int_equal(cf_iprange_parse("192.168.1.0/24", &r, &why), CF_OK);
    assert_string_equal(why.text, "");
    assert_int_equal(cf_iprange_parse("192.168.1.77/24", &r, NULL), CF_OK); /* NULL why */
}

static void test_contains_edges(void **state)
{
    (void) state;
    static const struct {
        const char *range;
        const char *addr;
        bool in;
    } cases[] = {
        {"192.168.1.10-192.168.1.50", "192.168.1.9", false},
        {"192.168.1.10-192.168.1.50", "192.168.1.10", true},
        {"192.168.1.10-192.168.1.50", "192.168.1.50", true},
        {"192.168.1.10-192.168.1.50", "192.168.1.51", false},
        {"10.0.0.0/8", "9.255.255.255", false},
        {"10.0.0.0/8", "10.0.0.0", true},
        {"10.0.0.0/8", "10.255.255.255", true},
        {"10.0.0.0/8", "11.0.0.0", false},
        {"10.0.0.255-10.0.1.0", "10.0.0.254", false},
        {"10.0.0.255-10.0.1.0", "10.0.1.0", true},
        {"10.0.0.255-10.0.1.0", "10.0.1.1", false},
        {"0.0.0.0/0", "0.0.0.0", true},
        {"0.0.0.0/0", "255.255.255.255", true},
        {"0.0.0.0/0", "::1", false},
        {"::/0", "::", true},
        {"::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
        {"::/0", "1.2.3.4", false},
        {"::/0", "::ffff:1.2.3.4", false}, /* a mapped address is IPv4 */
        {"fd00::/8", "fcff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false},
        {"fd00::/8", "fd00::", true},
        {"fd00::/8", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
        {"fd00::/8", "fe00::", false},
        {"::1/128", "::1", true},
        {"::1/128", "::2", false},
        {"127.0.0.7", "127.0.0.7", true},
        {"127.0.0.7", "127.0.0.6", false},
        {"127.0.0.7", "127.0.0.8", false},
        {"127.0.0.0/24", "::ffff:127.0.0.7", true},
        {"127.0.0.0/24", " 127.0.0.7 ", true},
        {"127.0.0.0/24", "127.0.0.0/24", false}, /* not an address */
        {"127.0.0.0/24", "", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cf_iprange_t r = s_range(cases[i].range);
        if (cf_iprange_contains_text(&r, cases[i].addr) != cases[i].in)
            fail_msg("%s contains '%s' should be %d", cases[i].range, cases[i].addr,
                     (int) cases[i].in);
    }
    cf_iprange_t r = s_range("127.0.0.0/24");
    assert_false(cf_iprange_contains_text(NULL, "127.0.0.7"));
    assert_false(cf_iprange_contains_text(&r, NULL));
    assert_false(cf_iprange_contains_addr(&r, NULL));
}

static void test_contains_sockaddr(void **state)
{
    (void) state;
    cf_iprange_t r = s_range("127.0.0.0/24");
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(7005)};
    assert_int_equal(inet_pton(AF_INET, "127.0.0.7", &sin.sin_addr), 1);
    assert_true(cf_iprange_contains(&r, (const struct sockaddr *) &sin));
    assert_int_equal(inet_pton(AF_INET, "127.0.1.7", &sin.sin_addr), 1);
    assert_false(cf_iprange_contains(&r, (const struct sockaddr *) &sin));

    /* A dual-stack socket shows an IPv4 agent as ::ffff:127.0.0.7. */
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
    assert_int_equal(inet_pton(AF_INET6, "::ffff:127.0.0.7", &sin6.sin6_addr), 1);
    assert_true(cf_iprange_contains(&r, (const struct sockaddr *) &sin6));
    cf_iprange_addr_t addr;
    assert_int_equal(cf_iprange_addr_from_sockaddr((const struct sockaddr *) &sin6, &addr), CF_OK);
    assert_int_equal(addr.family, AF_INET);

    cf_iprange_t v6 = s_range("::1/128");
    assert_int_equal(inet_pton(AF_INET6, "::1", &sin6.sin6_addr), 1);
    assert_true(cf_iprange_contains(&v6, (const struct sockaddr *) &sin6));
    assert_false(cf_iprange_contains(&r, (const struct sockaddr *) &sin6));

    struct sockaddr_un unx = {.sun_family = AF_UNIX};
    assert_false(cf_iprange_contains(&r, (const struct sockaddr *) &unx));
    assert_int_equal(cf_iprange_addr_from_sockaddr((const struct sockaddr *) &unx, &addr),
                     CF_ERR_UNSUPPORTED);
    assert_int_equal(addr.family, 0);
    assert_false(cf_iprange_contains(&r, NULL));
    assert_int_equal(cf_iprange_addr_from_sockaddr(NULL, &addr), CF_ERR_INVALID);
}

static void test_width_and_compare(void **state)
{
    (void) state;
    static const struct {
        const char *a, *b;
        int cmp; /* sign of cf_iprange_width_cmp(a, b) */
    } cases[] = {
        {"10.0.0.0/24", "10.0.0.0/8", -1},
        {"10.0.0.0/8", "10.0.0.0/24", 1},
        {"10.0.0.0/24", "10.0.1.0-10.0.1.255", 0},
        {"10.0.0.1-10.0.0.9", "10.0.0.0/28", -1},
        {"10.0.0.255-10.0.1.0", "10.0.0.0/31", 0}, /* the span borrows across an octet */
        {"10.0.1.0-10.0.2.1", "10.0.0.0/24", 1},
        {"fd00::ffff-fd00::1:0", "fd00::/127", 0},
        {"127.0.0.7", "::1", 0}, /* counts, not families */
        {"0.0.0.0/0", "::/96", 0},
        {"0.0.0.0/0", "::/0", -1},
        {"::/1", "::/0", -1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cf_iprange_t a = s_range(cases[i].a), b = s_range(cases[i].b);
        int got = cf_iprange_width_cmp(&a, &b);
        if (got != cases[i].cmp)
            fail_msg("width_cmp(%s, %s) = %d, expected %d", cases[i].a, cases[i].b, got,
                     cases[i].cmp);
        assert_int_equal(cf_iprange_width_cmp(&b, &a), -cases[i].cmp);
        assert_int_equal(cf_iprange_narrower(&a, &b), cases[i].cmp < 0);
    }
    cf_iprange_t none, all = s_range("::/0");
    memset(&none, 0, sizeof(none));
    assert_true(cf_iprange_width_cmp(&none, &all) > 0); /* invalid sorts last */
    assert_true(cf_iprange_width_cmp(&all, NULL) < 0);
    assert_int_equal(cf_iprange_width_cmp(NULL, &none), 0);

    cf_iprange_t a = s_range("10.0.0.0/24"), b = s_range("10.0.0.255-10.0.1.9");
    cf_iprange_t c = s_range("10.0.1.0/24"), d = s_range("::ffff:10.0.0.0/120");
    assert_true(cf_iprange_overlaps(&a, &b));
    assert_true(cf_iprange_overlaps(&b, &c));
    assert_false(cf_iprange_overlaps(&a, &c));
    assert_false(cf_iprange_overlaps(&a, &all));
    assert_true(cf_iprange_equal(&a, &d));
    assert_false(cf_iprange_equal(&a, &c));
    assert_false(cf_iprange_equal(&none, &none));
}

static void test_format_errors(void **state)
{
    (void) state;
    cf_iprange_t r = s_range("192.168.1.10-192.168.1.50");
    char buf[CF_IPRANGE_TEXT_MAX];
    assert_int_equal(cf_iprange_format(&r, buf, 10), CF_ERR_TOOBIG);
    assert_string_equal(buf, "");
    assert_int_equal(cf_iprange_format(&r, buf, strlen("192.168.1.10-192.168.1.50") + 1), CF_OK);
    assert_int_equal(cf_iprange_format(&r, buf, 0), CF_ERR_TOOBIG);
    assert_int_equal(cf_iprange_format(&r, NULL, 10), CF_ERR_INVALID);
    cf_iprange_t swapped = r;
    memcpy(swapped.lo, r.hi, sizeof(r.hi));
    memcpy(swapped.hi, r.lo, sizeof(r.lo));
    assert_int_equal(cf_iprange_format(&swapped, buf, sizeof(buf)), CF_ERR_INVALID);
    assert_false(cf_iprange_contains_text(&swapped, "192.168.1.20"));
    memset(&r, 0, sizeof(r));
    assert_int_equal(cf_iprange_format(&r, buf, sizeof(buf)), CF_ERR_INVALID);
}

static void test_addr(void **state)
{
    (void) state;
    cf_iprange_addr_t addr;
    cf_why_t why;
    char buf[CF_IPRANGE_ADDR_TEXT_MAX];
    assert_int_equal(cf_iprange_addr_parse("::ffff:127.0.0.7", &addr, &why), CF_OK);
    assert_int_equal(addr.family, AF_INET);
    assert_int_equal(cf_iprange_addr_format(&addr, buf, sizeof(buf)), CF_OK);
    assert_string_equal(buf, "127.0.0.7");
    assert_int_equal(cf_iprange_addr_parse("FD00::1", &addr, &why), CF_OK);
    assert_int_equal(cf_iprange_addr_format(&addr, buf, sizeof(buf)), CF_OK);
    assert_string_equal(buf, "fd00::1");
    assert_int_equal(cf_iprange_addr_format(&addr, buf, 7), CF_ERR_TOOBIG);
    assert_int_equal(cf_iprange_addr_format(&addr, buf, 8), CF_OK);

    static const char *bad[] = {"",  "10.0.0.0/8", "10.0.0.1-10.0.0.2",
                                "x", "10.0.0.1 2", "fe80::1%lo"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(cf_iprange_addr_parse(bad[i], &addr, &why), CF_ERR_INVALID);
        assert_int_equal(addr.family, 0);
        assert_true(why.text[0] != '\0');
    }
    assert_int_equal(cf_iprange_addr_parse(NULL, &addr, NULL), CF_ERR_INVALID);
    memset(&addr, 0, sizeof(addr));
    assert_int_equal(cf_iprange_addr_format(&addr, buf, sizeof(buf)), CF_ERR_INVALID);
}

static void test_list_valid(void **state)
{
    (void) state;
    cf_iprange_list_t *list = NULL;
    cf_why_t why;
    char buf[CF_IPRANGE_LIST_TEXT_MAX];
    assert_int_equal(
        cf_iprange_list_parse("10.0.0.0/8, 192.168.1.10 - 192.168.1.50,fd00::/8", &list, &why),
        CF_OK);
    assert_int_equal(cf_iprange_list_size(list), 3);
    s_assert_format(cf_iprange_list_at(list, 1), "192.168.1.10-192.168.1.50");
    assert_null(cf_iprange_list_at(list, 3));
    assert_int_equal(cf_iprange_list_format(list, buf, sizeof(buf)), CF_OK);
    assert_string_equal(buf, "10.0.0.0/8, 192.168.1.10-192.168.1.50, fd00::/8");
    assert_int_equal(cf_iprange_list_format(list, buf, 20), CF_ERR_TOOBIG);
    assert_string_equal(buf, "");
    cf_iprange_list_destroy(&list);

    /* Blank text is an empty list: a server without a range. */
    assert_int_equal(cf_iprange_list_parse(" \t", &list, &why), CF_OK);
    assert_int_equal(cf_iprange_list_size(list), 0);
    assert_int_equal(cf_iprange_list_format(list, buf, sizeof(buf)), CF_OK);
    assert_string_equal(buf, "");
    cf_iprange_list_destroy(&list);

    /* A normalised item is noted by number. */
    assert_int_equal(cf_iprange_list_parse("10.0.0.0/8, 10.1.2.3/16", &list, &why), CF_OK);
    assert_string_equal(why.text, "item 2: '10.1.2.3/16' normalised to 10.1.0.0/16");
    cf_iprange_list_destroy(&list);
}

static void test_list_match_narrowest(void **state)
{
    (void) state;
    cf_iprange_list_t *list = NULL;
    assert_int_equal(
        cf_iprange_list_parse("10.0.0.0/8, 10.1.2.0/24, 10.1.0.0/16, fd00::/8", &list, NULL),
        CF_OK);
    static const struct {
        const char *addr, *want; /* want NULL: no range holds it */
    } cases[] = {
        {"10.1.2.3", "10.1.2.0/24"}, {"10.1.9.9", "10.1.0.0/16"},
        {"10.9.9.9", "10.0.0.0/8"},  {"11.0.0.1", NULL},
        {"fd12::1", "fd00::/8"},     {"::ffff:10.1.2.9", "10.1.2.0/24"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cf_iprange_addr_t addr;
        assert_int_equal(cf_iprange_addr_parse(cases[i].addr, &addr, NULL), CF_OK);
        const cf_iprange_t *got = cf_iprange_list_match(list, &addr);
        if (!cases[i].want)
            assert_null(got);
        else
            s_assert_format(got, cases[i].want);
    }
    assert_null(cf_iprange_list_match(list, NULL));
    cf_iprange_list_destroy(&list);

    /* Equally narrow: the first listed wins. */
    assert_int_equal(cf_iprange_list_parse("10.0.0.0-10.0.0.255, 10.0.0.128/24", &list, NULL),
                     CF_ERR_INVALID); /* the second is the first, normalised: a duplicate */
    assert_int_equal(cf_iprange_list_parse("10.0.0.0/25, 10.0.0.64-10.0.0.191", &list, NULL),
                     CF_OK);
    cf_iprange_addr_t addr;
    assert_int_equal(cf_iprange_addr_parse("10.0.0.100", &addr, NULL), CF_OK);
    s_assert_format(cf_iprange_list_match(list, &addr), "10.0.0.0/25");
    cf_iprange_list_destroy(&list);
    assert_null(cf_iprange_list_match(NULL, &addr));
}

static void test_list_invalid(void **state)
{
    (void) state;
    static char many[CF_IPRANGE_LIST_MAX_TEXT + 1];
    size_t used = 0;
    for (int i = 0; i < CF_IPRANGE_LIST_MAX; i++)
        used +=
            (size_t) snprintf(many + used, sizeof(many) - used, "%s10.0.%d.0/24", i ? "," : "", i);
    cf_iprange_list_t *list = NULL;
    assert_int_equal(cf_iprange_list_parse(many, &list, NULL), CF_OK); /* exactly the cap */
    assert_int_equal(cf_iprange_list_size(list), CF_IPRANGE_LIST_MAX);
    cf_iprange_list_destroy(&list);
    snprintf(many + used, sizeof(many) - used, ",10.1.0.0/24");

    char huge[CF_IPRANGE_LIST_MAX_TEXT + 2];
    memset(huge, ' ', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    char long_item[200];
    memset(long_item, '1', sizeof(long_item) - 1);
    long_item[sizeof(long_item) - 1] = '\0';
    const struct {
        const char *text;
        cf_err_t err;
        const char *why;
    } bad[] = {
        {"10.0.0.0/8,,10.1.0.0/16", CF_ERR_INVALID, "item 2 is empty"},
        {"10.0.0.0/8,", CF_ERR_INVALID, "item 2 is empty"},
        {" , 10.0.0.0/8", CF_ERR_INVALID, "item 1 is empty"},
        {"10.0.0.0/8, bogus", CF_ERR_INVALID, "item 2: 'bogus' is not an IPv4 or IPv6 address"},
        {"10.0.0.0/8; 10.1.0.0/16", CF_ERR_INVALID, "item 1: '10.0.0.0/8; 10.1.0.0/16' has"},
        {"10.0.0.0/8, 10.0.0.0/8", CF_ERR_INVALID, "item 2: '10.0.0.0/8' is listed twice"},
        {"10.0.0.0/8, 10.1.2.3/8", CF_ERR_INVALID, "is listed twice"},
        {"10.0.0.0/8, 10.0.0.9-10.0.0.1", CF_ERR_INVALID, "item 2: range start 10.0.0.9"},
        {"10.0.0.0/8\n,::1", CF_ERR_INVALID, "item 1: IP range text has a non-printable"},
        {many, CF_ERR_TOOBIG, "more than 64 IP ranges"},
        {huge, CF_ERR_TOOBIG, "IP range list is longer than 8192 characters"},
        {long_item, CF_ERR_TOOBIG, "item 1 is longer than 100 characters"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cf_why_t why;
        list = (cf_iprange_list_t *) &why; /* must come back NULL */
        cf_err_t rc = cf_iprange_list_parse(bad[i].text, &list, &why);
        if (rc != bad[i].err || !strstr(why.text, bad[i].why))
            fail_msg("'%.60s': got %s '%s', expected %s '%s'", bad[i].text, cf_err_name(rc),
                     why.text, cf_err_name(bad[i].err), bad[i].why);
        assert_null(list);
    }
    assert_int_equal(cf_iprange_list_parse(NULL, &list, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_iprange_list_parse("10.0.0.0/8", NULL, NULL), CF_ERR_INVALID);
}

static void test_list_append(void **state)
{
    (void) state;
    cf_iprange_list_t *list = cf_iprange_list_new();
    assert_non_null(list);
    for (int i = 0; i < CF_IPRANGE_LIST_MAX; i++) {
        char text[32];
        snprintf(text, sizeof(text), "fd00:%x::/32", i);
        cf_iprange_t r = s_range(text);
        assert_int_equal(cf_iprange_list_append(list, &r), CF_OK);
        assert_int_equal(cf_iprange_list_append(list, &r), CF_ERR_EXISTS);
    }
    cf_iprange_t extra = s_range("10.0.0.0/8"), none;
    memset(&none, 0, sizeof(none));
    assert_int_equal(cf_iprange_list_append(list, &extra), CF_ERR_TOOBIG);
    assert_int_equal(cf_iprange_list_append(list, &none), CF_ERR_INVALID);
    assert_int_equal(cf_iprange_list_append(NULL, &extra), CF_ERR_INVALID);
    char buf[CF_IPRANGE_LIST_TEXT_MAX];
    assert_int_equal(cf_iprange_list_format(list, buf, sizeof(buf)), CF_OK);
    cf_iprange_list_t *again = NULL;
    assert_int_equal(cf_iprange_list_parse(buf, &again, NULL), CF_OK);
    assert_int_equal(cf_iprange_list_size(again), CF_IPRANGE_LIST_MAX);
    for (size_t i = 0; i < CF_IPRANGE_LIST_MAX; i++)
        assert_true(cf_iprange_equal(cf_iprange_list_at(list, i), cf_iprange_list_at(again, i)));
    cf_iprange_list_destroy(&again);
    cf_iprange_list_destroy(&list);
    assert_int_equal(cf_iprange_list_size(NULL), 0);
    cf_iprange_list_destroy(NULL);
}

static void test_list_alloc_failure(void **state)
{
    (void) state;
    for (long n = 0;; n++) {
        cf_iprange_list_t *list = NULL;
        cf_test_alloc_fail_at(n);
        cf_err_t rc = cf_iprange_list_parse("10.0.0.0/8, fd00::/8", &list, NULL);
        long failed = cf_test_alloc_failed();
        cf_test_alloc_fail_at(-1);
        if (failed == 0) {
            assert_int_equal(rc, CF_OK); /* every allocation was tried and none failed */
            assert_int_equal(cf_iprange_list_size(list), 2);
            cf_iprange_list_destroy(&list);
            break;
        }
        assert_int_equal(rc, CF_ERR_NOMEM);
        assert_null(list);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_valid_ranges),
        cmocka_unit_test(test_invalid_ranges),
        cmocka_unit_test(test_parse_limits),
        cmocka_unit_test(test_normalisation_note),
        cmocka_unit_test(test_contains_edges),
        cmocka_unit_test(test_contains_sockaddr),
        cmocka_unit_test(test_width_and_compare),
        cmocka_unit_test(test_format_errors),
        cmocka_unit_test(test_addr),
        cmocka_unit_test(test_list_valid),
        cmocka_unit_test(test_list_match_narrowest),
        cmocka_unit_test(test_list_invalid),
        cmocka_unit_test(test_list_append),
        cmocka_unit_test(test_list_alloc_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
