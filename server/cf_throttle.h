/*  cf_throttle - the failed-login throttle: token buckets per user name, per client address
    and per client class, in fixed tables behind one mutex  */
#ifndef CF_THROTTLE_H_INCLUDED
#define CF_THROTTLE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "cf_db_key.h"
#include "cf_err.h"

/* A login costs ~50 ms of scrypt, so guessing must be slowed before the KDF runs. Every
   attempt takes one token from three buckets and an attempt that passes without the
   client's fault (a success) gives them back, so only failures count:
   - CF_THROTTLE_USER: per user name as typed (unknown names too, so the throttle says
     nothing about who exists) and client class: a client with a console certificate has
     its own bucket, so a guesser without one cannot lock out an operator who has one;
     5 failures, then one a minute;
   - CF_THROTTLE_ADDR: per client address (IPv6 per /64, which one host usually holds
     whole; an IPv4-mapped address as IPv4); 20, then one each 10 s;
   - CF_THROTTLE_ALL: per client class over everything, which caps the scrypt work failed
     logins can cost however many addresses and names a guesser spreads over; 40, then 4 a
     second.
   The tables live in the process, not in Redis: what they protect is this process's CPU,
   and a refused attempt then costs no round trip; each server throttles on its own. A
   fixed size (CF_THROTTLE_SLOTS names and as many addresses); a full table forgets an
   entry whose bucket has refilled, else the one untouched longest. Thread-safe. */
#define CF_THROTTLE_SLOTS    512            /* names and addresses remembered, each */
#define CF_THROTTLE_USER_MAX CF_DB_USER_MAX /* longest user name an attempt takes, bytes */
#define CF_THROTTLE_KEY      (CF_THROTTLE_USER_MAX + 3) /* "c:" + name or address, NUL */

typedef enum {
    CF_THROTTLE_USER = 0, /* per user name and class */
    CF_THROTTLE_ADDR,     /* per client address */
    CF_THROTTLE_ALL,      /* per client class */
    CF_THROTTLE_KINDS     /* number of kinds, not a kind */
} cf_throttle_kind_t;

typedef struct cf_throttle cf_throttle_t; /* opaque */

/* The buckets one login attempt takes from (cf_throttle_attempt fills it). */
typedef struct {
    char keys[CF_THROTTLE_KINDS][CF_THROTTLE_KEY]; /* the bucket of each kind */
} cf_throttle_attempt_t;

/* Why an attempt was refused. */
typedef struct {
    int64_t wait_ms;   /* until it may pass (>= 1) */
    int first;         /* 1 when a refusing bucket had not refused since it last passed one */
    const char *limit; /* the first refusing kind: "user", "addr" or "all" (static) */
} cf_throttle_refusal_t;

/* Empty tables; NULL when out of memory. */
cf_throttle_t *cf_throttle_new(void);
void cf_throttle_destroy(cf_throttle_t **self_p); /* NULLs *self_p; safe to repeat */

/* The attempt of user (as typed, 1..CF_THROTTLE_USER_MAX bytes) from addr (text of an IPv4
   or IPv6 address; NULL or anything else is counted as that text, "-" for NULL), with a
   console certificate or not. CF_ERR_INVALID (user NULL or empty), CF_ERR_TOOBIG (user too
   long, or addr longer than CF_THROTTLE_KEY - 3 bytes). */
CF_MUST_USE cf_err_t cf_throttle_attempt(cf_throttle_attempt_t *out, int console, const char *addr,
                                         const char *user);

/* Take a token from each of the attempt's buckets at now_ms (a monotonic clock in ms; one
   that goes back counts as no time passing). 1: go on. 0: refused, nothing kept taken, and
   *r (may be NULL) says why. */
int cf_throttle_take(cf_throttle_t *self, const cf_throttle_attempt_t *a, int64_t now_ms,
                     cf_throttle_refusal_t *r);

/* Give back what a passed attempt took (it succeeded, or failed for no fault of the
   client's). A bucket forgotten meanwhile is left alone; a full bucket stays full. */
void cf_throttle_refund(cf_throttle_t *self, const cf_throttle_attempt_t *a);

#endif
