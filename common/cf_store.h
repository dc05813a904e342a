/*  cf_store - synchronous Redis client (hiredis 0.14): reconnect, Sentinel, caps, pipeline  */
#ifndef CF_STORE_H_INCLUDED
#define CF_STORE_H_INCLUDED

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "cf_err.h"
#include "cf_store_addr.h"
#include "cf_store_reply.h"

/* One cf_store_t is one connection and belongs to one thread (hiredis contexts are not
   thread-safe). Replies are hiredis redisReply trees, built under the caps of the
   configuration; free them with cf_store_reply_free (or freeReplyObject). Calls block for at
   most cfg.command_timeout_ms per read/write, and while reconnecting for at most
   cfg.reconnect_attempts connects with back-off (blocking commands such as BLPOP need a
   command timeout longer than their own). hiredis writes with write(2): the process must
   ignore SIGPIPE (every certfleet main does), or a server that went away kills it. */
typedef struct cf_store cf_store_t;
typedef struct cf_store_pipe cf_store_pipe_t;
typedef struct cf_store_script cf_store_script_t;

#define CF_STORE_IDEMPOTENT     0x1         /* flag: safe to run twice, retried after reconnect */
#define CF_STORE_ARGC_MAX       1048576     /* arguments in one command */
#define CF_STORE_CMD_MAX_BYTES  (512 << 20) /* encoded bytes of one command or pipeline */
#define CF_STORE_PIPE_MAX       1000000     /* commands in one pipeline */
#define CF_STORE_KEY_MAX        512         /* lease names, scan keys and patterns, bytes */
#define CF_STORE_OWNER_MAX      256         /* lease owner id, bytes */
#define CF_STORE_LEASE_MAX_MS   86400000L   /* longest lease: one day */
#define CF_STORE_SCAN_MAX_CALLS 1000000     /* SCAN round trips in one iteration */

/* New store from cfg (checked with cf_store_cfg_check, copied with its passwords). No I/O:
   the first command connects, or call cf_store_connect. CF_ERR_INVALID (why says which
   field), CF_ERR_NOMEM. On failure *store_out stays NULL. */
CF_MUST_USE cf_err_t cf_store_new(const cf_store_cfg_t *cfg, cf_store_t **store_out, cf_why_t *why);
/* Close the connection, wipe the passwords, free; NULLs *self_p; safe to repeat. */
void cf_store_destroy(cf_store_t **self_p);

/* Connect now if not connected: direct, or by asking each Sentinel for the master and
   checking ROLE; then AUTH and SELECT. Tries cfg.reconnect_attempts times with jittered
   back-off. CF_ERR_IO (unreachable), CF_ERR_BADPASS (AUTH refused), CF_ERR_INVALID (SELECT
   refused); details in cf_store_why. */
CF_MUST_USE cf_err_t cf_store_connect(cf_store_t *self);

/* Make sure what this connection wrote so far survives a failover before anyone is told it
   is stored: with cfg.durable_replicas > 0, WAIT until that many replicas have it (at most
   CF_STORE_DURABLE_MS). A Sentinel failover promotes a replica; writes the old master took
   after it (it keeps serving until Sentinel demotes it) are lost, and so would be the
   receipts and reports acknowledged on them; with Sentinels the master is also asked for
   again (a replica that still follows the old master counts for WAIT but is resynced from
   the new one, dropping those writes). reconnects: cf_store_reconnects before the
   writes; a connection made since cannot vouch for them (WAIT counts only its own writes).
   CF_OK (also with durable_replicas 0), CF_ERR_IO when fewer replicas answered in time,
   the connection changed or Redis failed (why in cf_store_why): do not acknowledge, the
   sender tries again. */
#define CF_STORE_DURABLE_MS 1000
CF_MUST_USE cf_err_t cf_store_durable(cf_store_t *self, unsigned long reconnects);

/* Detail of the last failure ("redis: WRONGTYPE ...", "connect 127.0.0.1:6379: Connection
   refused"); borrowed, valid until the next call on this store. Never holds a password. */
const cf_why_t *cf_store_why(const cf_store_t *self);
/* "host:port" (or "unix:path") of the connected server, "" when disconnected; borrowed. */
const char *cf_store_server(const cf_store_t *self);
/* Successful connections made after the first one (a WATCH does not survive one). */
unsigned long cf_store_reconnects(const cf_store_t *self);

/* Run one command given as a hiredis format ("SET %s %b", key, val, len). On CF_OK
   *reply_out (when reply_out is not NULL) is a reply the caller frees. An error reply from
   Redis returns its mapped code (cf_store_err_from_redis) with the message in
   cf_store_why and *reply_out NULL. CF_ERR_IO: connection lost and, as the command may
   have run, not retried; the next call reconnects. CF_ERR_TOOBIG: reply over a cap (the
   connection is dropped). READONLY replies (the master moved) reconnect and resend once. */
CF_MUST_USE cf_err_t cf_store_cmd(cf_store_t *self, redisReply **reply_out, const char *fmt, ...);
/* As cf_store_cmd, for commands safe to run twice (GET, SET without NX, SADD, ...): after a
   lost connection it reconnects and sends the command once more. */
CF_MUST_USE cf_err_t cf_store_cmd_idem(cf_store_t *self, redisReply **reply_out, const char *fmt,
                                       ...);
/* Binary-safe form: argc (1..CF_STORE_ARGC_MAX) arguments of argvlen[i] bytes each (argvlen
   NULL: NUL-terminated strings). flags: 0 or CF_STORE_IDEMPOTENT. Errors as cf_store_cmd. */
CF_MUST_USE cf_err_t cf_store_cmd_argv(cf_store_t *self, int flags, redisReply **reply_out,
                                       int argc, const char **argv, const size_t *argvlen);
/* Free a reply and NULL *reply_p; NULL and repeated calls are fine. */
void cf_store_reply_free(redisReply **reply_p);

/* Pipeline: queue commands, then one exec sends them all and collects every reply (one
   round trip instead of N: worth 10-20x). MULTI ... EXEC works inside a pipeline; counters
   must move in the same MULTI (or Lua script) as the state they count. The pipe borrows
   store, which must outlive it. max_cmds: 1..CF_STORE_PIPE_MAX. */
CF_MUST_USE cf_err_t cf_store_pipe_new(cf_store_t *store, size_t max_cmds,
                                       cf_store_pipe_t **pipe_out);
/* Queue one command (hiredis format). CF_ERR_TOOBIG past max_cmds or CF_STORE_CMD_MAX_BYTES,
   CF_ERR_INVALID for a bad format, CF_ERR_STATE after exec until cf_store_pipe_reset. */
CF_MUST_USE cf_err_t cf_store_pipe_append(cf_store_pipe_t *self, const char *fmt, ...);
/* Queue one binary-safe command (as cf_store_cmd_argv). */
CF_MUST_USE cf_err_t cf_store_pipe_append_argv(cf_store_pipe_t *self, int argc, const char **argv,
                                               const size_t *argvlen);
/* Send every queued command and read every reply. CF_OK when all replies arrived and none
   is (or holds) an error; otherwise the first error's code, with "command N: redis: ..." in
   cf_store_why — the replies are still readable. Transport errors as cf_store_cmd (flags
   CF_STORE_IDEMPOTENT resends the whole pipeline once); then no replies are kept. */
CF_MUST_USE cf_err_t cf_store_pipe_exec(cf_store_pipe_t *self, int flags);
/* Commands queued. */
size_t cf_store_pipe_size(const cf_store_pipe_t *self);
/* Reply i after exec (borrowed, lives until reset/destroy), NULL if there is none. */
const redisReply *cf_store_pipe_reply(const cf_store_pipe_t *self, size_t i);
/* Forget commands and replies; the pipe can be filled again. */
void cf_store_pipe_reset(cf_store_pipe_t *self);
void cf_store_pipe_destroy(cf_store_pipe_t **self_p);

/* A Lua script, identified by its SHA-1 (computed here). lua is copied; at most
   CF_STORE_CMD_MAX_BYTES / 2. CF_ERR_NOMEM, CF_ERR_INVALID, CF_ERR_TOOBIG. */
CF_MUST_USE cf_err_t cf_store_script_new(const char *lua, cf_store_script_t **script_out);
void cf_store_script_destroy(cf_store_script_t **self_p);
/* The 40 hex digit SHA-1 (for EVALSHA inside a pipeline); borrowed. */
const char *cf_store_script_sha(const cf_store_script_t *self);
/* SCRIPT LOAD, checking the server's SHA-1 matches ours (CF_ERR_CORRUPT if not). */
CF_MUST_USE cf_err_t cf_store_script_load(cf_store_t *store, const cf_store_script_t *script);
/* EVALSHA with nkeys keys then nargs arguments (argv/argvlen hold nkeys + nargs entries,
   argvlen NULL for strings); on NOSCRIPT (a fresh server, a failover to a replica that never
   saw the script, SCRIPT FLUSH) it sends EVAL, which runs and caches it. Errors as
   cf_store_cmd_argv. */
CF_MUST_USE cf_err_t cf_store_script_call(cf_store_t *store, const cf_store_script_t *script,
                                          int flags, redisReply **reply_out, int nkeys, int nargs,
                                          const char **argv, const size_t *argvlen);

/* Called for each item; return 0 to go on, anything else to stop (cf_store_scan returns
   CF_OK). item is borrowed for the call only and is not NUL-free in general. */
typedef int(cf_store_scan_fn)(void *arg, const char *item, size_t len);
/* SCAN the keyspace (never KEYS) with MATCH pattern (NULL: all) and COUNT count (0: 100,
   at most 100000). SCAN may report a key twice; callers must cope. CF_ERR_TOOBIG once more
   than max_items items came (fn has seen max_items), or after CF_STORE_SCAN_MAX_CALLS
   calls; CF_ERR_CORRUPT for a malformed reply; transport errors as cf_store_cmd. */
CF_MUST_USE cf_err_t cf_store_scan(cf_store_t *self, const char *match, size_t count,
                                   size_t max_items, cf_store_scan_fn *fn, void *arg);
/* As cf_store_scan over the members of the set at key (SSCAN). */
CF_MUST_USE cf_err_t cf_store_sscan(cf_store_t *self, const char *key, const char *match,
                                    size_t count, size_t max_items, cf_store_scan_fn *fn,
                                    void *arg);

/* Leases: one holder at a time (renewer, sweeper). name is the key (the caller's schema),
   owner_id identifies this process uniquely; ttl_ms 1..CF_STORE_LEASE_MAX_MS. The lease
   lapses by itself after ttl_ms unless renewed.
   acquire: SET NX PX; *got = 1 when we hold it now (also when we already held it: then
   its TTL is renewed, which makes a retried acquire safe). */
CF_MUST_USE cf_err_t cf_store_lease_acquire(cf_store_t *self, const char *name,
                                            const char *owner_id, long ttl_ms, int *got);
/* Extend our lease to ttl_ms from now (Lua compare-and-PEXPIRE); *held = 0 when it is
   not ours (lapsed or taken): stop the guarded work. */
CF_MUST_USE cf_err_t cf_store_lease_renew(cf_store_t *self, const char *name, const char *owner_id,
                                          long ttl_ms, int *held);
/* Give the lease up if ours (Lua compare-and-DEL); *released = 1 when this call deleted
   it. Never deletes another owner's lease. */
CF_MUST_USE cf_err_t cf_store_lease_release(cf_store_t *self, const char *name,
                                            const char *owner_id, int *released);

#endif
