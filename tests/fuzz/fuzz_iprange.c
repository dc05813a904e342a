/*  fuzz_iprange - range and range-list parsing: no crash, and canonical text round-trips  */
#include <stdint.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>

#include "cf_iprange.h"
#include "cf_mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort (a finding) unless the invariant holds. */
static void s_check(int cond)
{
    if (!cond)
        abort();
}

/* ::ffff:a.b.c.d is IPv4 to cf_iprange, so an IPv6 range that ends inside
   ::ffff:0:0/96 does not hold that end. */
static int s_mapped(const cf_iprange_addr_t *addr)
{
    static const unsigned char prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return addr->family == AF_INET6 && memcmp(addr->a, prefix, sizeof(prefix)) == 0;
}

/* Every accepted range formats, reads back equal, and holds both its ends. */
static void s_check_range(const cf_iprange_t *r)
{
    char text[CF_IPRANGE_TEXT_MAX];
    cf_iprange_t again;
    s_check(cf_iprange_format(r, text, sizeof(text)) == CF_OK);
    s_check(cf_iprange_parse(text, &again, NULL) == CF_OK);
    s_check(cf_iprange_equal(r, &again));
    s_check(cf_iprange_width_cmp(r, &again) == 0);
    cf_iprange_addr_t end = {.family = r->family};
    memcpy(end.a, r->lo, sizeof(end.a));
    s_check(cf_iprange_contains_addr(r, &end) || s_mapped(&end));
    memcpy(end.a, r->hi, sizeof(end.a));
    s_check(cf_iprange_contains_addr(r, &end) || s_mapped(&end));
}

static void s_one_range(const char *text)
{
    cf_iprange_t r;
    cf_why_t why;
    if (cf_iprange_parse(text, &r, &why) == CF_OK) {
        s_check_range(&r);
    } else {
        s_check(r.family == 0);
        s_check(why.text[0] != '\0'); /* every refusal says why */
    }
    cf_iprange_addr_t addr;
    if (cf_iprange_addr_parse(text, &addr, NULL) == CF_OK) {
        char buf[CF_IPRANGE_ADDR_TEXT_MAX];
        s_check(cf_iprange_addr_format(&addr, buf, sizeof(buf)) == CF_OK);
    }
}

static void s_list(const char *text)
{
    cf_iprange_list_t *list = NULL;
    cf_why_t why;
    if (cf_iprange_list_parse(text, &list, &why) != CF_OK) {
        s_check(list == NULL);
        return;
    }
    size_t n = cf_iprange_list_size(list);
    s_check(n <= CF_IPRANGE_LIST_MAX);
    for (size_t i = 0; i < n; i++) {
        const cf_iprange_t *r = cf_iprange_list_at(list, i);
        s_check_range(r);
        cf_iprange_addr_t lo = {.family = r->family};
        memcpy(lo.a, r->lo, sizeof(lo.a));
        const cf_iprange_t *best = cf_iprange_list_match(list, &lo);
        s_check(s_mapped(&lo) || (best && !cf_iprange_narrower(r, best)));
    }
    char *canon = cf_mem_malloc(CF_IPRANGE_LIST_TEXT_MAX);
    cf_iprange_list_t *again = NULL;
    if (canon) {
        s_check(cf_iprange_list_format(list, canon, CF_IPRANGE_LIST_TEXT_MAX) == CF_OK);
        s_check(cf_iprange_list_parse(canon, &again, NULL) == CF_OK);
        s_check(cf_iprange_list_size(again) == n);
        for (size_t i = 0; i < n; i++)
            s_check(cf_iprange_equal(cf_iprange_list_at(list, i), cf_iprange_list_at(again, i)));
    }
    cf_iprange_list_destroy(&again);
    cf_mem_free(canon);
    cf_iprange_list_destroy(&list);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = cf_mem_malloc(size + 1); /* the parsers read C strings */
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    s_one_range(text);
    s_list(text);
    cf_mem_free(text);
    return 0;
}
