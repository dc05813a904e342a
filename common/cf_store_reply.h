/*  cf_store_reply - Redis replies as outside input: caps while parsing, error and role decoding  */
#ifndef CF_STORE_REPLY_H_INCLUDED
#define CF_STORE_REPLY_H_INCLUDED

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "cf_err.h"
#include "cf_store_addr.h"

#define CF_STORE_READ_SLACK 16384 /* bytes one socket read may add beyond a reply (hiredis) */

/* Limits and counters for the reply builders installed on a hiredis reader. Replies are
   built by our functions (heap via cf_mem, freed by freeReplyObject), so a reply over a cap
   is refused while it is parsed, before hiredis allocates its element vector. */
typedef struct {
    redisReplyObjectFunctions fns; /* the builders; the reader points here */
    size_t max_reply_bytes;        /* heap bytes one reply may take */
    size_t max_reply_elements;     /* reply objects in one reply */
    size_t max_batch_bytes;        /* heap bytes of all replies since begin_batch */
    size_t reply_bytes;            /* taken by the reply being parsed */
    size_t reply_elements;         /* objects in the reply being parsed */
    size_t batch_bytes;            /* taken since cf_store_caps_begin_batch */
    int refused;                   /* 1 once a cap refused an object (reader now failed) */
} cf_store_caps_t;

/* Set the limits from cfg and zero the counters. */
void cf_store_caps_init(cf_store_caps_t *caps, const cf_store_cfg_t *cfg);
/* Zero the batch counter and the refused flag (before each round trip). */
void cf_store_caps_begin_batch(cf_store_caps_t *caps);
/* Make reader build replies through caps (borrowed: it must outlive the reader). */
void cf_store_caps_attach(redisReader *reader, cf_store_caps_t *caps);
/* 1 when the reader holds more unparsed bytes than one reply may take plus one read:
   a bulk string announced over the cap is refused before it is fully buffered. */
int cf_store_caps_over_unread(const cf_store_caps_t *caps, const redisReader *reader);

/* Map a Redis error message ("WRONGTYPE ...") to a code: NOSCRIPT -> NOTFOUND,
   NOAUTH/WRONGPASS -> BADPASS, READONLY/LOADING/MASTERDOWN/BUSY/OOM/TRYAGAIN -> STATE,
   anything else -> INVALID. */
cf_err_t cf_store_err_from_redis(const char *msg, size_t len);

/* CF_OK when reply holds no error reply at any depth (EXEC and script results nest them);
   else the code of the first one found, with why = "redis: <message>". NULL reply: CF_ERR_IO. */
CF_MUST_USE cf_err_t cf_store_reply_check(const redisReply *reply, cf_why_t *why);

/* 1 when reply (at any depth) is a READONLY error: we talk to a replica, a failover moved
   the master. Such a command was refused, not run, so it is safe to send again. */
int cf_store_reply_readonly(const redisReply *reply);

/* Decode SENTINEL get-master-addr-by-name: a 2-element array of ip and port. A nil reply
   (unknown master) is CF_ERR_NOTFOUND; any other shape CF_ERR_CORRUPT. */
CF_MUST_USE cf_err_t cf_store_reply_master_addr(const redisReply *reply, cf_store_endpoint_t *out,
                                                cf_why_t *why);

/* Decode SENTINEL MASTER <name> (a flat field/value array; RESP3 maps are not asked for):
   *busy = 1 when its "flags" list holds failover_in_progress (this Sentinel is promoting a
   replica: the master it names may be demoted any moment), else 0. An error reply is its
   code; an array without a "flags" string CF_ERR_CORRUPT. */
CF_MUST_USE cf_err_t cf_store_reply_failover(const redisReply *reply, int *busy, cf_why_t *why);

/* Decode ROLE: CF_OK for "master", CF_ERR_STATE for "slave"/"sentinel", CF_ERR_CORRUPT for
   anything else. */
CF_MUST_USE cf_err_t cf_store_reply_role_master(const redisReply *reply, cf_why_t *why);

/* Back-off before reconnect attempt n (1, 2, ...): min * 2^(n-1) capped at max, then
   "equal jitter" (half fixed, half random) so a fleet of clients spreads out. */
int cf_store_backoff_ms(const cf_store_cfg_t *cfg, int attempt);

#endif
