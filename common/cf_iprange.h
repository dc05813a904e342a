/*  cf_iprange - IPv4/IPv6 address ranges as operators write them: CIDR, address, from-to  */
#ifndef CF_IPRANGE_H_INCLUDED
#define CF_IPRANGE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#include <sys/socket.h>

#include "cf_err.h"

#define CF_IPRANGE_MAX_TEXT      100  /* longest range text accepted, bytes without the NUL */
#define CF_IPRANGE_TEXT_MAX      96   /* buffer size that holds any formatted range, with NUL */
#define CF_IPRANGE_ADDR_TEXT_MAX 46   /* buffer size for any formatted address (INET6_ADDRSTRLEN) */
#define CF_IPRANGE_LIST_MAX      64   /* most ranges in one list */
#define CF_IPRANGE_LIST_MAX_TEXT 8192 /* longest list text accepted, bytes without the NUL */
#define CF_IPRANGE_LIST_TEXT_MAX 8192 /* buffer size that holds any formatted list, with NUL */

/* One address. A value type: 20 bytes, no heap, copied freely. IPv4-mapped IPv6 addresses
   (::ffff:a.b.c.d) are always stored as the IPv4 address they carry, so an agent that
   reaches a dual-stack socket matches the IPv4 ranges an operator wrote. */
typedef struct {
    int family;          /* AF_INET or AF_INET6; 0 (AF_UNSPEC) in a zeroed value */
    unsigned char a[16]; /* network byte order; IPv4 uses a[0..3], the rest is zero */
} cf_iprange_addr_t;

/* One inclusive range lo..hi of a single family. A value type rather than an opaque one:
   it is 36 bytes, owns nothing, cannot fail to allocate, and callers keep arrays of them
   and copy them into records; _new/_destroy would buy nothing but error paths. A zeroed
   value (family 0) is "no range" and contains nothing. A range written in IPv6 that lies
   wholly inside ::ffff:0:0/96 is stored as the IPv4 range it maps (see cf_iprange_addr_t). */
typedef struct {
    int family;           /* AF_INET or AF_INET6; 0 (AF_UNSPEC) in a zeroed value */
    unsigned char lo[16]; /* first address, network byte order; IPv4 uses lo[0..3] */
    unsigned char hi[16]; /* last address (inclusive), same layout; lo <= hi */
} cf_iprange_t;

/* Parse one range. Accepted (blanks around the whole text and around '-' are ignored):
     CIDR         10.0.0.0/8   fd00::/8   ::1/128   0.0.0.0/0
     address      127.0.0.7    (= /32; an IPv6 address = /128)
     from-to      192.168.1.10-192.168.1.50   10.0.0.1 - 10.0.0.9   fd00::1-fd00::ff
   Addresses are parsed by inet_pton: IPv4 is strict dotted quad (no "10.1", no leading
   zeros, no hex); IPv6 zone ids (%eth0) and brackets are refused.
   Host bits set in a CIDR ("10.1.2.3/8") are accepted and cleared (10.0.0.0/8): operators
   often paste an interface address with its prefix, and the meaning is not in doubt. The
   canonical text is available from cf_iprange_format, and on success why->text (when why is
   non-NULL) is "" or a note saying what was normalised, so a console can show it.
   Errors (why says which and quotes the offending part): CF_ERR_INVALID for NULL arguments,
   empty text, a non-printable character, a bad address, a bad or too long prefix, both '/'
   and '-', start after end, mixed families, text after an address; CF_ERR_TOOBIG when text
   is longer than CF_IPRANGE_MAX_TEXT. On failure *out is zeroed. */
CF_MUST_USE cf_err_t cf_iprange_parse(const char *text, cf_iprange_t *out, cf_why_t *why);

/* Canonical text: "a.b.c.d/n" or "x::/n" when the range is exactly one CIDR block (a single
   address is "/32" or "/128"), else "from-to". Errors: CF_ERR_INVALID (NULL, or r is not a
   valid range), CF_ERR_TOOBIG (len too small; CF_IPRANGE_TEXT_MAX always suffices). */
CF_MUST_USE cf_err_t cf_iprange_format(const cf_iprange_t *r, char *buf, size_t len);

/* True if the address lies in the range (same family, lo <= addr <= hi). NULLs give false. */
bool cf_iprange_contains_addr(const cf_iprange_t *r, const cf_iprange_addr_t *addr);
/* As above for a socket address (AF_INET or AF_INET6, mapped IPv4 matches IPv4 ranges);
   any other family or NULL gives false. */
bool cf_iprange_contains(const cf_iprange_t *r, const struct sockaddr *sa);
/* As above for an address text; text that is not one address (cf_iprange_addr_parse)
   gives false. Callers that must tell "not in range" from "not an address" parse first. */
bool cf_iprange_contains_text(const cf_iprange_t *r, const char *text);

/* Compare sizes (number of addresses): < 0 when a is narrower than b, 0 when both hold as
   many addresses, > 0 when a is wider. Families are not compared, only counts (a /32 and a
   /128 are equal). An invalid range (family 0) counts as wider than every valid one. */
int cf_iprange_width_cmp(const cf_iprange_t *a, const cf_iprange_t *b);
/* True if a holds strictly fewer addresses than b (cf_iprange_width_cmp(a, b) < 0). */
bool cf_iprange_narrower(const cf_iprange_t *a, const cf_iprange_t *b);
/* True if both are valid and equal (family and bounds). */
bool cf_iprange_equal(const cf_iprange_t *a, const cf_iprange_t *b);
/* True if both are valid, of one family, and share at least one address. */
bool cf_iprange_overlaps(const cf_iprange_t *a, const cf_iprange_t *b);

/* Parse one address ("127.0.0.7", "fd00::1", "::ffff:127.0.0.7" which becomes IPv4).
   Blanks around it are ignored. Errors: CF_ERR_INVALID (with why), CF_ERR_TOOBIG (longer than
   CF_IPRANGE_MAX_TEXT). On failure *out is zeroed. */
CF_MUST_USE cf_err_t cf_iprange_addr_parse(const char *text, cf_iprange_addr_t *out, cf_why_t *why);
/* Take the address of an AF_INET or AF_INET6 socket address (the port is ignored).
   Errors: CF_ERR_INVALID (NULL), CF_ERR_UNSUPPORTED (another family); *out zeroed then. */
CF_MUST_USE cf_err_t cf_iprange_addr_from_sockaddr(const struct sockaddr *sa,
                                                   cf_iprange_addr_t *out);
/* inet_ntop text of the address. Errors: CF_ERR_INVALID, CF_ERR_TOOBIG (len too small;
   CF_IPRANGE_ADDR_TEXT_MAX always suffices). */
CF_MUST_USE cf_err_t cf_iprange_addr_format(const cf_iprange_addr_t *addr, char *buf, size_t len);

/* A list of up to CF_IPRANGE_LIST_MAX ranges: a server's "primary IP range" value. */
typedef struct cf_iprange_list cf_iprange_list_t; /* opaque */

/* New empty list, the caller's (cf_iprange_list_destroy); NULL on out of memory. */
cf_iprange_list_t *cf_iprange_list_new(void);
/* Frees the list and NULLs *self_p; safe on NULL and to repeat. */
void cf_iprange_list_destroy(cf_iprange_list_t **self_p);

/* Parse comma-separated ranges ("10.0.0.0/8, 192.168.1.10-192.168.1.50, fd00::/8").
   Blank or empty text is an empty list (a server without a range). On success *list_out is
   a new list the caller owns; on failure it is NULL. why (if non-NULL) names the item
   ("item 2: ...") and, on success, notes normalised items as cf_iprange_parse does.
   Errors: CF_ERR_INVALID (any bad item, an empty item as in "a,,b" or "a,", the same range
   twice), CF_ERR_TOOBIG (text over CF_IPRANGE_LIST_MAX_TEXT, an item over
   CF_IPRANGE_MAX_TEXT, more than CF_IPRANGE_LIST_MAX items), CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_iprange_list_parse(const char *text, cf_iprange_list_t **list_out,
                                           cf_why_t *why);
/* Append a copy of a valid range. Errors: CF_ERR_INVALID (NULL or invalid range),
   CF_ERR_EXISTS (already listed), CF_ERR_TOOBIG (list holds CF_IPRANGE_LIST_MAX). */
CF_MUST_USE cf_err_t cf_iprange_list_append(cf_iprange_list_t *self, const cf_iprange_t *r);
/* Number of ranges (0 for NULL). */
size_t cf_iprange_list_size(const cf_iprange_list_t *self);
/* Range i, borrowed (valid until the list is destroyed or appended to); NULL if out of range. */
const cf_iprange_t *cf_iprange_list_at(const cf_iprange_list_t *self, size_t i);
/* The narrowest range of the list holding addr (the first one among equally narrow), or
   NULL when none does or an argument is NULL. Borrowed, as for cf_iprange_list_at. */
const cf_iprange_t *cf_iprange_list_match(const cf_iprange_list_t *self,
                                          const cf_iprange_addr_t *addr);
/* Canonical text: the ranges in list order, each as cf_iprange_format, joined by ", "
   ("" for an empty list); cf_iprange_list_parse reads it back to an equal list.
   Errors: CF_ERR_INVALID (NULL), CF_ERR_TOOBIG (len too small; CF_IPRANGE_LIST_TEXT_MAX
   always suffices). */
CF_MUST_USE cf_err_t cf_iprange_list_format(const cf_iprange_list_t *self, char *buf, size_t len);

#endif
