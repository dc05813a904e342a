/*  cf_store_async - pipelined Redis commands on a libevent loop (hiredis async): batches,
    time limits, reconnect; the master found the way cf_store finds it (Sentinel-aware)  */
#ifndef CF_STORE_ASYNC_H_INCLUDED
#define CF_STORE_ASYNC_H_INCLUDED

#include <stddef.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "cf_err.h"
#include "cf_store.h"

/* One cf_store_async_t is one connection on one event base, used from that base's thread
   only. Commands given in one loop turn leave in few writes: every 8 at once (so Redis
   works on them while the turn goes on), the rest at the turn's end: a pipeline without a
   round trip per command. Replies arrive in
   order; nothing blocks the loop except (re)connecting: the master is located with a
   short-lived synchronous cf_store (one attempt: Sentinels asked, ROLE checked, AUTH,
   SELECT) which also loads the registered scripts, then the asynchronous connection is
   opened to that server. While Redis is unreachable a new attempt is made at most once
   per back-off (cf_store_backoff_ms); batches in between are refused at once. A batch
   with no complete answer within cfg.command_timeout_ms drops the connection (every batch
   on it fails with CF_ERR_IO). A READONLY or NOSCRIPT reply also drops it: the next batch
   locates the master again (and reloads the scripts). In Sentinel mode the master is also
   re-asked every cfg.master_check_ms (blocking, like cf_store). */
typedef struct cf_store_async cf_store_async_t;

#define CF_STORE_ASYNC_BATCH_MAX   16  /* commands in one batch */
#define CF_STORE_ASYNC_SCRIPTS_MAX 8   /* scripts one client loads */
#define CF_STORE_ASYNC_TICK_MS     100 /* how often time limits are checked */
#define CF_STORE_ASYNC_ARGC_MAX    93  /* arguments of one command (a script's: keys and args) */

/* One command of a batch. Everything is borrowed for cf_store_async_send only. */
typedef struct {
    const cf_store_script_t *script; /* EVALSHA of this registered script; NULL: argv is
                                        the whole command */
    int nkeys;                       /* script: how many of argv are keys */
    int argc;                        /* entries in argv: 1..CF_STORE_ASYNC_ARGC_MAX */
    const char **argv;               /* the arguments (script: keys then args) */
    const size_t *argvlen;           /* their lengths; NULL: NUL-terminated strings */
} cf_store_async_cmd_t;

/* Each reply as it arrives (index i of the batch), borrowed for the call (hiredis frees
   it after). Not called for replies after the batch failed. */
typedef void(cf_store_async_reply_fn)(void *arg, size_t i, const redisReply *reply);
/* Once per batch after its last reply, or at its failure: CF_OK, or the first error: an
   error reply from Redis (its code by cf_store_err_from_redis, why "command N: redis: ..."),
   CF_ERR_IO (connection lost, refused or out of time; why says which), CF_ERR_TOOBIG (a
   reply over the caps), CF_ERR_STATE (the client is being destroyed). Called from the
   loop, never from inside cf_store_async_send; why is borrowed for the call. */
typedef void(cf_store_async_done_fn)(void *arg, cf_err_t rc, const cf_why_t *why);

/* New client on base (borrowed; it must outlive the client) for cfg (checked, copied with
   its passwords). No I/O until the first batch. CF_ERR_INVALID (why), CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_store_async_new(const cf_store_cfg_t *cfg, struct event_base *base,
                                        cf_store_async_t **out, cf_why_t *why);
/* Close the connection; batches still out get done(CF_ERR_STATE) now. NULLs *self_p; safe
   to repeat; not from inside a callback of this client. */
void cf_store_async_destroy(cf_store_async_t **self_p);

/* Register script (borrowed: it must outlive the client) to be loaded on every connection
   before any batch; before the first batch only. CF_ERR_TOOBIG past
   CF_STORE_ASYNC_SCRIPTS_MAX, CF_ERR_STATE after a batch was sent. */
CF_MUST_USE cf_err_t cf_store_async_add_script(cf_store_async_t *self,
                                               const cf_store_script_t *script);

/* Queue n commands (1..CF_STORE_ASYNC_BATCH_MAX) as one batch: on CF_OK, on_reply (may be
   NULL) sees each reply and done is called exactly once, later. On an error done is never
   called: CF_ERR_IO (not connected and no attempt due yet, or the attempt failed: why says
   why), CF_ERR_INVALID (cmds, a script not registered), CF_ERR_NOMEM. Commands queued
   before a mid-batch failure may still run. */
CF_MUST_USE cf_err_t cf_store_async_send(cf_store_async_t *self, const cf_store_async_cmd_t *cmds,
                                         size_t n, cf_store_async_reply_fn *on_reply,
                                         cf_store_async_done_fn *done, void *arg, cf_why_t *why);

/* Write what is queued now rather than at the turn's end (a caller that gathers its own
   batches sends a full one at once, so Redis works on it while the turn goes on). Does
   nothing when not connected yet or inside a reply's callback (hiredis must not write
   there: the turn's end does). */
void cf_store_async_write(cf_store_async_t *self);

/* The Redis protocol's text of one command (an array of argc bulk strings argv[i] of
   lens[i] bytes, binary-safe) into buf when cap is enough; returns the length it needs
   (without a NUL: none is written), 0 for argc < 1, a NULL argument or a length that
   would overflow. What cf_store_async_send writes for each command. */
size_t cf_store_async_format(char *buf, size_t cap, int argc, const char *const *argv,
                             const size_t *lens);

/* Batches sent and not yet done. */
size_t cf_store_async_pending(const cf_store_async_t *self);
/* "host:port" of the server of the current connection, "" when none; borrowed. */
const char *cf_store_async_server(const cf_store_async_t *self);
/* Connections opened so far (the first included). */
unsigned long cf_store_async_connects(const cf_store_async_t *self);

#endif
