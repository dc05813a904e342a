/*  cf_iprange - IPv4/IPv6 address ranges: parse, test, compare, format  */
#include "cf_iprange.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "cf_mem.h"

struct cf_iprange_list {
    size_t count;                            /* ranges in use */
    cf_iprange_t items[CF_IPRANGE_LIST_MAX]; /* items[0 .. count) */
};

/* RFC 4291 2.5.5.2: ::ffff:a.b.c.d carries the IPv4 address a.b.c.d. */
static const unsigned char s_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static size_t s_bytes(int family)
{
    return family == AF_INET ? 4 : 16;
}

static bool s_is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Strip blanks from both ends in place; returns the first kept character. */
static char *s_trim(char *s)
{
    while (s_is_blank(*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && s_is_blank(s[n - 1]))
        s[--n] = '\0';
    return s;
}

static bool s_range_valid(const cf_iprange_t *r)
{
    if (!r || (r->family != AF_INET && r->family != AF_INET6))
        return false;
    return memcmp(r->lo, r->hi, s_bytes(r->family)) <= 0;
}

static bool s_addr_valid(const cf_iprange_addr_t *addr)
{
    return addr && (addr->family == AF_INET || addr->family == AF_INET6);
}

/* An IPv4-mapped IPv6 address becomes the IPv4 address it carries. */
static void s_unmap_addr(cf_iprange_addr_t *addr)
{
    if (addr->family != AF_INET6 || memcmp(addr->a, s_mapped_prefix, 12) != 0)
        return;
    memmove(addr->a, addr->a + 12, 4);
    memset(addr->a + 4, 0, 12);
    addr->family = AF_INET;
}

/* An IPv6 range wholly inside ::ffff:0:0/96 becomes the IPv4 range it maps. */
static bool s_unmap_range(cf_iprange_t *r)
{
    if (r->family != AF_INET6 || memcmp(r->lo, s_mapped_prefix, 12) != 0 ||
        memcmp(r->hi, s_mapped_prefix, 12) != 0)
        return false;
    memmove(r->lo, r->lo + 12, 4);
    memset(r->lo + 4, 0, 12);
    memmove(r->hi, r->hi + 12, 4);
    memset(r->hi + 4, 0, 12);
    r->family = AF_INET;
    return true;
}

/* The CIDR block of `prefix` bits around addr: lo = addr with host bits clear, hi = set. */
static void s_block(int family, const unsigned char *addr, unsigned prefix, unsigned char *lo,
                    unsigned char *hi)
{
    memset(lo, 0, 16);
    memset(hi, 0, 16);
    for (size_t i = 0; i < s_bytes(family); i++) {
        unsigned keep = prefix > 8 * i ? prefix - 8 * (unsigned) i : 0;
        unsigned char mask = (unsigned char) (keep >= 8 ? 0xffu : 0xff00u >> keep);
        lo[i] = (unsigned char) (addr[i] & mask);
        hi[i] = (unsigned char) (addr[i] | (unsigned char) ~mask);
    }
}

/* The prefix length when r is exactly one CIDR block, else -1. */
static int s_prefix_of(const cf_iprange_t *r)
{
    unsigned bits = (unsigned) s_bytes(r->family) * 8;
    unsigned char lo[16], hi[16];
    for (unsigned p = 0; p <= bits; p++) {
        s_block(r->family, r->lo, p, lo, hi);
        if (memcmp(lo, r->lo, 16) == 0 && memcmp(hi, r->hi, 16) == 0)
            return (int) p;
    }
    return -1;
}

/* Checks the length cap and the characters, then copies text without surrounding blanks. */
static cf_err_t s_take_text(const char *text, const char *what, char *buf, char **start,
                            cf_why_t *why)
{
    *start = buf;
    buf[0] = '\0';
    size_t len = strnlen(text, CF_IPRANGE_MAX_TEXT + 1);
    if (len > CF_IPRANGE_MAX_TEXT)
        return cf_why(why, CF_ERR_TOOBIG, "%s text is longer than %d characters", what,
                      CF_IPRANGE_MAX_TEXT);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) text[i];
        if ((c < 0x20 && c != '\t') || c > 0x7e)
            return cf_why(why, CF_ERR_INVALID, "%s text has a non-printable character at %zu", what,
                          i);
    }
    memcpy(buf, text, len + 1);
    *start = s_trim(buf);
    if (**start == '\0')
        return cf_why(why, CF_ERR_INVALID, "empty %s", what);
    return CF_OK;
}

/* One address token (no surrounding blanks), kept as written: no unmapping here. */
static cf_err_t s_parse_addr(const char *token, cf_iprange_addr_t *addr, cf_why_t *why)
{
    memset(addr, 0, sizeof(*addr));
    size_t word = strcspn(token, " \t");
    if (token[word] != '\0')
        return cf_why(why, CF_ERR_INVALID, "unexpected text after '%.*s'", (int) word, token);
    if (strchr(token, '%'))
        return cf_why(why, CF_ERR_INVALID, "'%s': zone ids (%%...) are not allowed", token);
    if (inet_pton(AF_INET, token, addr->a) == 1) {
        addr->family = AF_INET;
        return CF_OK;
    }
    memset(addr->a, 0, sizeof(addr->a));
    if (inet_pton(AF_INET6, token, addr->a) == 1) {
        addr->family = AF_INET6;
        return CF_OK;
    }
    memset(addr->a, 0, sizeof(addr->a));
    return cf_why(why, CF_ERR_INVALID, "'%s' is not an IPv4 or IPv6 address", token);
}

/* "lo-hi": buf is the whole trimmed text, dash points at its only '-'. */
static cf_err_t s_parse_fromto(char *buf, char *dash, cf_iprange_t *r, cf_why_t *why)
{
    if (strchr(dash + 1, '-'))
        return cf_why(why, CF_ERR_INVALID, "'%s' has more than one '-'", buf);
    *dash = '\0';
    char *from = s_trim(buf);
    char *to = s_trim(dash + 1);
    if (*from == '\0')
        return cf_why(why, CF_ERR_INVALID, "range '-%s' has no start address", to);
    if (*to == '\0')
        return cf_why(why, CF_ERR_INVALID, "range '%s-' has no end address", from);
    cf_iprange_addr_t lo, hi;
    CF_TRY(s_parse_addr(from, &lo, why));
    CF_TRY(s_parse_addr(to, &hi, why));
    if (lo.family != hi.family)
        return cf_why(why, CF_ERR_INVALID, "range mixes IPv4 and IPv6: '%s' and '%s'", from, to);
    if (memcmp(lo.a, hi.a, 16) > 0)
        return cf_why(why, CF_ERR_INVALID, "range start %s is after its end %s", from, to);
    r->family = lo.family;
    memcpy(r->lo, lo.a, 16);
    memcpy(r->hi, hi.a, 16);
    return CF_OK;
}

/* Decimal prefix length: 1 to 3 digits, at most `bits`. */
static cf_err_t s_parse_prefix(const char *text, int family, unsigned *prefix, cf_why_t *why)
{
    unsigned bits = (unsigned) s_bytes(family) * 8;
    const char *name = family == AF_INET ? "IPv4" : "IPv6";
    size_t digits = strspn(text, "0123456789");
    if (digits == 0 || text[digits] != '\0')
        return cf_why(why, CF_ERR_INVALID, "'/%s' is not a prefix length (0 to %u)", text, bits);
    if (digits > 3)
        return cf_why(why, CF_ERR_INVALID, "prefix /%s is too long for %s (at most /%u)", text,
                      name, bits);
    unsigned value = 0;
    for (size_t i = 0; i < digits; i++)
        value = value * 10 + (unsigned) (text[i] - '0');
    if (value > bits)
        return cf_why(why, CF_ERR_INVALID, "prefix /%u is too long for %s (at most /%u)", value,
                      name, bits);
    *prefix = value;
    return CF_OK;
}

/* "addr/prefix": host bits are cleared and reported through *normalised. */
static cf_err_t s_parse_cidr(char *buf, char *slash, cf_iprange_t *r, bool *normalised,
                             cf_why_t *why)
{
    if (strchr(slash + 1, '/'))
        return cf_why(why, CF_ERR_INVALID, "'%s' has more than one '/'", buf);
    *slash = '\0';
    char *addr_text = s_trim(buf);
    char *prefix_text = s_trim(slash + 1);
    if (*addr_text == '\0')
        return cf_why(why, CF_ERR_INVALID, "'/%s' has no address", prefix_text);
    if (*prefix_text == '\0')
        return cf_why(why, CF_ERR_INVALID, "'%s/' has no prefix length", addr_text);
    cf_iprange_addr_t addr;
    unsigned prefix = 0;
    CF_TRY(s_parse_addr(addr_text, &addr, why));
    CF_TRY(s_parse_prefix(prefix_text, addr.family, &prefix, why));
    r->family = addr.family;
    s_block(addr.family, addr.a, prefix, r->lo, r->hi);
    *normalised = memcmp(r->lo, addr.a, 16) != 0;
    return CF_OK;
}

static cf_err_t s_parse_trimmed(char *buf, cf_iprange_t *r, bool *normalised, cf_why_t *why)
{
    char *dash = strchr(buf, '-');
    char *slash = strchr(buf, '/');
    *normalised = false;
    if (dash && slash)
        return cf_why(why, CF_ERR_INVALID, "'%s' mixes a CIDR prefix and a from-to range", buf);
    if (dash)
        return s_parse_fromto(buf, dash, r, why);
    if (slash)
        return s_parse_cidr(buf, slash, r, normalised, why);
    cf_iprange_addr_t addr;
    CF_TRY(s_parse_addr(buf, &addr, why));
    r->family = addr.family;
    memcpy(r->lo, addr.a, 16);
    memcpy(r->hi, addr.a, 16);
    return CF_OK;
}

cf_err_t cf_iprange_parse(const char *text, cf_iprange_t *out, cf_why_t *why)
{
    if (why)
        why->text[0] = '\0';
    if (out)
        memset(out, 0, sizeof(*out));
    if (!text || !out)
        return cf_why(why, CF_ERR_INVALID, "no IP range given");
    char buf[CF_IPRANGE_MAX_TEXT + 1];
    char *start = NULL;
    CF_TRY(s_take_text(text, "IP range", buf, &start, why));
    char written[CF_IPRANGE_MAX_TEXT + 1];
    memcpy(written, start, strlen(start) + 1); /* the parsers cut buf apart; kept for the note */
    cf_iprange_t r;
    memset(&r, 0, sizeof(r));
    bool normalised = false;
    CF_TRY(s_parse_trimmed(start, &r, &normalised, why));
    if (s_unmap_range(&r))
        normalised = true;
    if (normalised) {
        char canon[CF_IPRANGE_TEXT_MAX];
        CF_TRY(cf_iprange_format(&r, canon, sizeof(canon)));
        cf_why(why, CF_OK, "'%s' normalised to %s", written, canon);
    }
    *out = r;
    return CF_OK;
}

cf_err_t cf_iprange_format(const cf_iprange_t *r, char *buf, size_t len)
{
    if (!buf || !s_range_valid(r))
        return CF_ERR_INVALID;
    char lo[CF_IPRANGE_ADDR_TEXT_MAX], hi[CF_IPRANGE_ADDR_TEXT_MAX];
    if (!inet_ntop(r->family, r->lo, lo, sizeof(lo)) ||
        !inet_ntop(r->family, r->hi, hi, sizeof(hi)))
        return CF_ERR_INVALID;
    int prefix = s_prefix_of(r);
    int n =
        prefix >= 0 ? snprintf(buf, len, "%s/%d", lo, prefix) : snprintf(buf, len, "%s-%s", lo, hi);
    if (n < 0 || (size_t) n >= len) {
        if (len > 0)
            buf[0] = '\0';
        return CF_ERR_TOOBIG;
    }
    return CF_OK;
}

bool cf_iprange_contains_addr(const cf_iprange_t *r, const cf_iprange_addr_t *addr)
{
    if (!s_range_valid(r) || !s_addr_valid(addr))
        return false;
    cf_iprange_addr_t a = *addr;
    s_unmap_addr(&a); /* a hand-built mapped address still matches IPv4 ranges */
    if (a.family != r->family)
        return false;
    size_t n = s_bytes(r->family);
    return memcmp(r->lo, a.a, n) <= 0 && memcmp(a.a, r->hi, n) <= 0;
}

bool cf_iprange_contains(const cf_iprange_t *r, const struct sockaddr *sa)
{
    cf_iprange_addr_t addr;
    if (cf_iprange_addr_from_sockaddr(sa, &addr) != CF_OK)
        return false;
    return cf_iprange_contains_addr(r, &addr);
}

bool cf_iprange_contains_text(const cf_iprange_t *r, const char *text)
{
    cf_iprange_addr_t addr;
    if (cf_iprange_addr_parse(text, &addr, NULL) != CF_OK)
        return false;
    return cf_iprange_contains_addr(r, &addr);
}

/* hi - lo as a 128-bit big-endian number (IPv4 right-aligned), so widths of either
   family compare with memcmp. */
static void s_span(const cf_iprange_t *r, unsigned char span[16])
{
    size_t n = s_bytes(r->family);
    size_t off = 16 - n;
    unsigned borrow = 0;
    memset(span, 0, 16);
    for (size_t i = n; i-- > 0;) {
        unsigned d = (unsigned) r->hi[i] - (unsigned) r->lo[i] - borrow;
        span[off + i] = (unsigned char) (d & 0xff);
        borrow = (unsigned) r->hi[i] < (unsigned) r->lo[i] + borrow;
    }
}

int cf_iprange_width_cmp(const cf_iprange_t *a, const cf_iprange_t *b)
{
    bool va = s_range_valid(a), vb = s_range_valid(b);
    if (!va || !vb)
        return (int) !va - (int) !vb;
    unsigned char sa[16], sb[16];
    s_span(a, sa);
    s_span(b, sb);
    int c = memcmp(sa, sb, 16);
    return (c > 0) - (c < 0);
}

bool cf_iprange_narrower(const cf_iprange_t *a, const cf_iprange_t *b)
{
    return cf_iprange_width_cmp(a, b) < 0;
}

bool cf_iprange_equal(const cf_iprange_t *a, const cf_iprange_t *b)
{
    if (!s_range_valid(a) || !s_range_valid(b) || a->family != b->family)
        return false;
    return memcmp(a->lo, b->lo, 16) == 0 && memcmp(a->hi, b->hi, 16) == 0;
}

bool cf_iprange_overlaps(const cf_iprange_t *a, const cf_iprange_t *b)
{
    if (!s_range_valid(a) || !s_range_valid(b) || a->family != b->family)
        return false;
    size_t n = s_bytes(a->family);
    return memcmp(a->lo, b->hi, n) <= 0 && memcmp(b->lo, a->hi, n) <= 0;
}

cf_err_t cf_iprange_addr_parse(const char *text, cf_iprange_addr_t *out, cf_why_t *why)
{
    if (why)
        why->text[0] = '\0';
    if (out)
        memset(out, 0, sizeof(*out));
    if (!text || !out)
        return cf_why(why, CF_ERR_INVALID, "no IP address given");
    char buf[CF_IPRANGE_MAX_TEXT + 1];
    char *start = NULL;
    CF_TRY(s_take_text(text, "IP address", buf, &start, why));
    CF_TRY(s_parse_addr(start, out, why));
    s_unmap_addr(out);
    return CF_OK;
}

cf_err_t cf_iprange_addr_from_sockaddr(const struct sockaddr *sa, cf_iprange_addr_t *out)
{
    if (out)
        memset(out, 0, sizeof(*out));
    if (!sa || !out)
        return CF_ERR_INVALID;
    /* memcpy, not a cast: the caller's storage need not be aligned for sockaddr_in(6). */
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in sin;
        memcpy(&sin, sa, sizeof(sin));
        memcpy(out->a, &sin.sin_addr, 4);
        out->family = AF_INET;
        return CF_OK;
    }
    if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 sin6;
        memcpy(&sin6, sa, sizeof(sin6));
        memcpy(out->a, &sin6.sin6_addr, 16);
        out->family = AF_INET6;
        s_unmap_addr(out);
        return CF_OK;
    }
    return CF_ERR_UNSUPPORTED;
}

cf_err_t cf_iprange_addr_format(const cf_iprange_addr_t *addr, char *buf, size_t len)
{
    if (!buf || !s_addr_valid(addr))
        return CF_ERR_INVALID;
    char text[CF_IPRANGE_ADDR_TEXT_MAX];
    if (!inet_ntop(addr->family, addr->a, text, sizeof(text)))
        return CF_ERR_INVALID;
    size_t n = strlen(text);
    if (n >= len) {
        if (len > 0)
            buf[0] = '\0';
        return CF_ERR_TOOBIG;
    }
    memcpy(buf, text, n + 1);
    return CF_OK;
}

cf_iprange_list_t *cf_iprange_list_new(void)
{
    return cf_mem_calloc(1, sizeof(cf_iprange_list_t));
}

void cf_iprange_list_destroy(cf_iprange_list_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_mem_free(*self_p);
    *self_p = NULL;
}

cf_err_t cf_iprange_list_append(cf_iprange_list_t *self, const cf_iprange_t *r)
{
    if (!self || !s_range_valid(r))
        return CF_ERR_INVALID;
    for (size_t i = 0; i < self->count; i++) {
        if (cf_iprange_equal(&self->items[i], r))
            return CF_ERR_EXISTS;
    }
    if (self->count >= CF_IPRANGE_LIST_MAX)
        return CF_ERR_TOOBIG;
    self->items[self->count++] = *r;
    return CF_OK;
}

/* Parse item number `nr` (1-based), text[0 .. len), and append it. */
static cf_err_t s_list_add_item(cf_iprange_list_t *self, const char *text, size_t len, size_t nr,
                                cf_why_t *note, cf_why_t *why)
{
    while (len > 0 && s_is_blank(*text)) {
        text++;
        len--;
    }
    while (len > 0 && s_is_blank(text[len - 1]))
        len--;
    if (len == 0)
        return cf_why(why, CF_ERR_INVALID, "item %zu is empty", nr);
    if (len > CF_IPRANGE_MAX_TEXT)
        return cf_why(why, CF_ERR_TOOBIG, "item %zu is longer than %d characters", nr,
                      CF_IPRANGE_MAX_TEXT);
    if (self->count >= CF_IPRANGE_LIST_MAX)
        return cf_why(why, CF_ERR_TOOBIG, "more than %d IP ranges", CF_IPRANGE_LIST_MAX);
    char item[CF_IPRANGE_MAX_TEXT + 1];
    memcpy(item, text, len);
    item[len] = '\0';
    cf_why_t item_why;
    cf_iprange_t r;
    cf_err_t rc = cf_iprange_parse(item, &r, &item_why);
    if (rc != CF_OK)
        return cf_why(why, rc, "item %zu: %s", nr, cf_why_text(&item_why, rc));
    if (item_why.text[0] && note->text[0] == '\0')
        cf_why(note, CF_OK, "item %zu: %s", nr, item_why.text);
    rc = cf_iprange_list_append(self, &r);
    if (rc == CF_ERR_EXISTS)
        return cf_why(why, CF_ERR_INVALID, "item %zu: '%s' is listed twice", nr, item);
    return rc;
}

static cf_err_t s_list_fill(cf_iprange_list_t *self, const char *text, size_t len, cf_why_t *why)
{
    cf_why_t note = {""};
    size_t blanks = 0;
    while (blanks < len && s_is_blank(text[blanks]))
        blanks++;
    if (blanks == len)
        return CF_OK; /* blank text: a server without a range */
    size_t nr = 1;
    for (const char *item = text;; nr++) {
        const char *comma = memchr(item, ',', len - (size_t) (item - text));
        size_t item_len = comma ? (size_t) (comma - item) : len - (size_t) (item - text);
        CF_TRY(s_list_add_item(self, item, item_len, nr, &note, why));
        if (!comma)
            break;
        item = comma + 1;
    }
    if (why)
        *why = note;
    return CF_OK;
}

cf_err_t cf_iprange_list_parse(const char *text, cf_iprange_list_t **list_out, cf_why_t *why)
{
    if (why)
        why->text[0] = '\0';
    if (list_out)
        *list_out = NULL;
    if (!text || !list_out)
        return cf_why(why, CF_ERR_INVALID, "no IP range list given");
    size_t len = strnlen(text, CF_IPRANGE_LIST_MAX_TEXT + 1);
    if (len > CF_IPRANGE_LIST_MAX_TEXT)
        return cf_why(why, CF_ERR_TOOBIG, "IP range list is longer than %d characters",
                      CF_IPRANGE_LIST_MAX_TEXT);
    cf_err_t rc = CF_ERR_NOMEM;
    cf_iprange_list_t *self = cf_iprange_list_new();
    if (!self)
        goto out;
    rc = s_list_fill(self, text, len, why);
    if (rc != CF_OK)
        goto out;
    *list_out = self; /* ownership moves to the caller */
    self = NULL;
out:
    cf_iprange_list_destroy(&self);
    return rc;
}

size_t cf_iprange_list_size(const cf_iprange_list_t *self)
{
    return self ? self->count : 0;
}

const cf_iprange_t *cf_iprange_list_at(const cf_iprange_list_t *self, size_t i)
{
    if (!self || i >= self->count)
        return NULL;
    return &self->items[i];
}

const cf_iprange_t *cf_iprange_list_match(const cf_iprange_list_t *self,
                                          const cf_iprange_addr_t *addr)
{
    const cf_iprange_t *best = NULL;
    for (size_t i = 0; self && i < self->count; i++) {
        const cf_iprange_t *r = &self->items[i];
        if (cf_iprange_contains_addr(r, addr) && (!best || cf_iprange_narrower(r, best)))
            best = r;
    }
    return best;
}

cf_err_t cf_iprange_list_format(const cf_iprange_list_t *self, char *buf, size_t len)
{
    if (!self || !buf)
        return CF_ERR_INVALID;
    if (len == 0)
        return CF_ERR_TOOBIG;
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < self->count; i++) {
        char one[CF_IPRANGE_TEXT_MAX];
        CF_TRY(cf_iprange_format(&self->items[i], one, sizeof(one)));
        int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", one);
        if (n < 0 || (size_t) n >= len - used) {
            buf[0] = '\0';
            return CF_ERR_TOOBIG;
        }
        used += (size_t) n;
    }
    return CF_OK;
}
