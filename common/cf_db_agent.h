/*  cf_db_agent - agent records: check-in, lock states and their counters, paging, favorites  */
#ifndef CF_DB_AGENT_H_INCLUDED
#define CF_DB_AGENT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "cf_db_key.h"
#include "cf_err.h"
#include "cf_store.h"

/* Keys: cf:agent:{<id>}, cf:agents:lock, cf:agents:<lock>, cf:agents:expiry
   (docs/REDIS.md).
   Every change of an agent's lock moves the counters in cf:agents:lock and the per-lock
   sorted sets in the same Lua script, so counts always equal the per-agent states.
   Details of failures in cf_store_why(store); transport errors as cf_store_cmd.
   RT = round trips. */
#define CF_DB_ADDR_MAX    45     /* last_addr: an IP address text (INET6_ADDRSTRLEN - 1) */
#define CF_DB_VERSION_MAX 32     /* agent version text */
#define CF_DB_PAGE_MAX    10000  /* agents in one page */
#define CF_DB_BATCH_MAX   100000 /* agents in one favorite call */
#define CF_DB_CURSOR_MAX  96     /* buffer for a paging cursor, with the NUL */

#define CF_DB_K_AGENTS_EXPIRY "cf:agents:expiry" /* agent id -> cert_not_after (sorted set) */

/* The seed's lock icons, per agent. */
typedef enum {
    CF_DB_LOCK_SECURE = 0, /* current certificate */
    CF_DB_LOCK_ATTENTION,  /* valid but archived certificate: gets the new one at check-in */
    CF_DB_LOCK_INSECURE,   /* no certificate (allow-plain) */
    CF_DB_LOCK_EXPIRED,    /* refused at the handshake: expired certificate */
    CF_DB_LOCK_COUNT       /* number of states, not a state */
} cf_db_lock_t;

/* "secure", "attention", "insecure", "expired"; "unknown" otherwise. */
const char *cf_db_lock_name(cf_db_lock_t lock);
/* Parse those names; CF_ERR_INVALID for anything else. */
CF_MUST_USE cf_err_t cf_db_lock_from_name(const char *name, cf_db_lock_t *out);

/* One agent as stored. Strings are "" when absent. */
typedef struct {
    char id[CF_DB_ID_MAX + 1];              /* agent id */
    cf_db_lock_t lock;                      /* lock state at the last connection */
    int64_t last_seen;                      /* unix seconds of the last connection */
    char last_addr[CF_DB_ADDR_MAX + 1];     /* address the server saw */
    char version[CF_DB_VERSION_MAX + 1];    /* agent version */
    char cert_fp[CF_DB_FP_LEN + 1];         /* fingerprint of the certificate presented */
    char cert_serial[CF_DB_SERIAL_MAX + 1]; /* its serial */
    int64_t cert_not_after;                 /* its expiry, 0 when none */
    char favorite[CF_DB_ALIAS_MAX + 1];     /* favorite server's alias */
    char server[CF_DB_ALIAS_MAX + 1];       /* alias of the server it last checked in with */
    int64_t revoked;                        /* when it was revoked (cf_db_enroll), 0 = not */
} cf_db_agent_t;

/* A check-in as the server saw it. Everything is borrowed. */
typedef struct {
    const char *id;          /* agent id (cf_db_check_agent_id) */
    cf_db_lock_t lock;       /* secure/attention with a certificate, insecure without */
    int64_t now;             /* unix seconds: last_seen, the sorted sets' score (>= 0) */
    const char *addr;        /* address the server saw, 1..CF_DB_ADDR_MAX bytes */
    const char *version;     /* agent version, NULL/"" = unknown */
    const char *cert_fp;     /* certificate fingerprint; NULL/"" exactly when insecure */
    const char *cert_serial; /* its serial (needed with a fingerprint) */
    int64_t cert_not_after;  /* its expiry */
    const char *server;      /* alias of this server */
    unsigned proto;          /* protocol level the agent speaks (1..255); 0 = not said: not
                                compared with the one recorded */
} cf_db_checkin_t;

/* Record a check-in in ONE Lua script (1 RT): the agent hash (lock, last_seen, last_addr,
   version, cert fields, server; absent cert fields are deleted), the per-lock sets (each
   agent in exactly one; cf:agents:insecure is migration readiness; together they are the
   fleet, there is no set of all agents), the expiry index and, only when the lock changes,
   the counters. favorite (CF_DB_ALIAS_MAX + 1 bytes, may be NULL) gets the agent's favorite
   ("" when none), for the answer. CF_ERR_INVALID; CF_ERR_REVOKED when the agent is marked
   revoked (cf_db_enroll_mark_revoked): nothing is written. Not retried after a lost
   connection. */
CF_MUST_USE cf_err_t cf_db_agent_checkin(cf_store_t *store, const cf_db_checkin_t *in,
                                         char *favorite);
/* As cf_db_agent_checkin, and *lock (may be NULL) gets the lock recorded: in->lock, except
   that a SECURE check-in whose certificate is in cf:archive (replaced) is recorded and
   answered ATTENTION (the archive check runs inside the script: no round trip of its own). */
CF_MUST_USE cf_err_t cf_db_agent_checkin_lock(cf_store_t *store, const cf_db_checkin_t *in,
                                              char *favorite, cf_db_lock_t *lock);

/* The check-in as one command for another connection (cf_store_async): the script of
   cf_db_agent_checkin_script with nkeys keys then argc - nkeys arguments, all in argv
   (pointing into the struct, into in and to literals; in must outlive the command's
   sending). */
#define CF_DB_CHECKIN_KEYS 2  /* keys of the check-in script at most (the agent's, its jobs') */
#define CF_DB_CHECKIN_ARGS 11 /* arguments of the check-in script at most */
typedef struct {
    char agent[CF_DB_KEY_MAX]; /* cf:agent:{<id>} */
    char jobs[CF_DB_KEY_MAX];  /* cf:agent:{<id>}:jobs (with the jobs) */
    char now[24];              /* in->now as text */
    char na[24];               /* in->cert_not_after as text */
    char proto[4];             /* in->proto as text, "" for 0 */
    char facts[17];            /* the digest of the values written (cf_db_agent_facts) */
    const char *argv[CF_DB_CHECKIN_KEYS + CF_DB_CHECKIN_ARGS]; /* keys, then the arguments */
    int nkeys;                                                 /* keys in argv */
    int argc;                                                  /* entries used in argv */
} cf_db_checkin_cmd_t;

/* Fill *cmd from in (checked as cf_db_agent_checkin does); jobs 1: the same step also counts
   the agent's open jobs it can be handed (pending or delivered for it, expiring after
   in->now: what cf_db_job_agent_open lists, at most CF_DB_JOB_OPEN_MAX), so a check-in and
   its jobs question are one command. CF_ERR_INVALID. Pure. */
CF_MUST_USE cf_err_t cf_db_agent_checkin_cmd(const cf_db_checkin_t *in, int jobs,
                                             cf_db_checkin_cmd_t *cmd);
/* The check-in script, made once per process (again after a failure) and kept; NULL when out
   of memory. */
const cf_store_script_t *cf_db_agent_checkin_script(void);
/* Decode the script's reply for agent id: favorite (CF_DB_ALIAS_MAX + 1 bytes, may be
   NULL; "" when none), the lock recorded and, with jobs (non-NULL exactly when the command
   was made with jobs), the open jobs counted. CF_ERR_REVOKED (revoked: nothing written),
   CF_ERR_CORRUPT (why). Pure. */
CF_MUST_USE cf_err_t cf_db_agent_checkin_reply(const redisReply *r, const char *id, char *favorite,
                                               cf_db_lock_t *lock, int64_t *jobs, cf_why_t *why);
/* Record that the handshake of agent id failed because its certificate expired (same
   script, same counter discipline, 1 RT): lock expired, last_seen = now, last_addr and the
   certificate presented (fp and serial required); version and server are kept. The agent
   is created if it was unknown; a revoked agent is left alone (CF_ERR_REVOKED). */
CF_MUST_USE cf_err_t cf_db_agent_expired(cf_store_t *store, const char *id, int64_t now,
                                         const char *addr, const char *cert_fp,
                                         const char *cert_serial, int64_t cert_not_after);
/* Decommission: delete the agent (its CURVE key with it: out of cf:curve:owner, the event
   published) and take it out of the sets and counters (1 RT, Lua).
   CF_ERR_NOTFOUND. */
CF_MUST_USE cf_err_t cf_db_agent_remove(cf_store_t *store, const char *id);
/* Drop cf:agents, the set of all agents an older version kept (nothing reads it; the
   check-in no longer takes agents out of it one by one): UNLINK (1 RT; freed in Redis'
   background). Errors of cf_store_cmd. */
CF_MUST_USE cf_err_t cf_db_agent_drop_old_set(cf_store_t *store);
/* Read one agent (1 RT). CF_ERR_NOTFOUND, CF_ERR_CORRUPT. */
CF_MUST_USE cf_err_t cf_db_agent_get(cf_store_t *store, const char *id, cf_db_agent_t *out);

typedef struct {
    int64_t n[CF_DB_LOCK_COUNT]; /* agents per lock state (cf:agents:lock) */
    int64_t total;               /* agents known (the per-lock sets' sizes added) */
} cf_db_agent_counts_t;

/* Counts per lock state and the total (1 RT). */
CF_MUST_USE cf_err_t cf_db_agent_counts(cf_store_t *store, cf_db_agent_counts_t *out);

/* One page of agents ordered by (last_seen, id), oldest first (2 RT: a paging script, then
   one pipeline of HMGETs). lock: a state to keep only those agents (its own sorted set), or
   CF_DB_LOCK_COUNT for all. cursor: "" (or NULL) to start, else the cursor_out of the
   previous page. limit 1..CF_DB_PAGE_MAX. *list_out (the caller's, cf_mem_free) holds
   *n_out agents; cursor_out (CF_DB_CURSOR_MAX bytes) is "" when the walk is done.
   A walk gives every agent that exists throughout it at least once, in order, and exactly
   once when none checks in meanwhile (one that does moves behind the cursor and may come
   twice). Agents removed between the two round trips are left out (a page may be short).
   CF_ERR_INVALID (cursor, limit, lock). */
CF_MUST_USE cf_err_t cf_db_agent_list(cf_store_t *store, cf_db_lock_t lock, const char *cursor,
                                      size_t limit, cf_db_agent_t **list_out, size_t *n_out,
                                      char *cursor_out);

/* One page of agent ids as cf_db_agent_list gives them (same order, cursor and walk
   guarantees) without reading their records (1 RT): for a caller that needs no field, such
   as a job to every agent, whose creation checks each record itself. each(arg, id) is
   called per id in order; a result other than CF_OK ends the page with that result.
   lock, cursor, limit and cursor_out as cf_db_agent_list. CF_ERR_INVALID. */
CF_MUST_USE cf_err_t cf_db_agent_list_ids(cf_store_t *store, cf_db_lock_t lock, const char *cursor,
                                          size_t limit, cf_err_t (*each)(void *arg, const char *id),
                                          void *arg, char *cursor_out);

#define CF_DB_SCAN_MAX 100000 /* agents one cf_db_agent_find call reads at most */

/* What cf_db_agent_find keeps. */
typedef struct {
    cf_db_lock_t lock; /* a state (walks its own sorted set), or CF_DB_LOCK_COUNT for all */
    int64_t seen_min;  /* last_seen at least this (0: no bound) */
    int64_t seen_max;  /* ... and at most this (INT64_MAX: no bound) */
    int (*keep)(const cf_db_agent_t *a, void *arg); /* NULL: all; else 1 keeps a (no I/O) */
    void *arg;                                      /* for keep */
} cf_db_agent_filter_t;

/* One page of agents as cf_db_agent_list (same order, cursor and walk guarantees), of those
   that pass f: the last_seen window is applied by the paging script (O(log N)), keep to
   each record read. Reads at most scan (1..CF_DB_SCAN_MAX) agents in rounds of one
   paging script and one HMGET pipeline each (a round reads what the page still needs,
   at least 1000 with keep), so a sparse filter gives a short page (even an empty one)
   with a cursor: the walk goes on from there. cursor_out (CF_DB_CURSOR_MAX) is "" when
   the walk is done, else the place after the last agent kept or read (cursor may be
   cursor_out). CF_ERR_INVALID. */
CF_MUST_USE cf_err_t cf_db_agent_find(cf_store_t *store, const cf_db_agent_filter_t *f,
                                      const char *cursor, size_t limit, size_t scan,
                                      cf_db_agent_t **list_out, size_t *n_out, char *cursor_out);

/* One entry of the certificate expiry index (cf:agents:expiry). */
typedef struct {
    int64_t not_after;   /* the index's score: the expiry of the certificate last presented */
    int found;           /* 1: agent holds its record; 0: it went between the two round trips */
    cf_db_agent_t agent; /* the record when found (its cert_not_after may have moved on) */
} cf_db_expiry_t;

/* One page of the agents' certificates by expiry, soonest (or longest expired) first, in
   (not_after, id) order, up to until (inclusive) (2 RT: a paging script, then one pipeline
   of HMGETs). The page starts after the position (from, after_id): after_id NULL or "" =
   every entry with not_after >= from; else the entries after (from, after_id) (found by
   ZRANK in O(log N) when that agent still has that score). limit 1..CF_DB_PAGE_MAX.
   *list_out (the caller's, cf_mem_free; NULL when empty) holds *n_out entries, every one
   read from the index (the page is full, *n_out == limit, unless the index ends or passes
   until). An agent that checks in with another certificate during a walk moves in the
   index: it may come twice or be skipped, as its new place is behind or ahead of the walk.
   CF_ERR_INVALID (after_id, limit). */
CF_MUST_USE cf_err_t cf_db_agent_expiring(cf_store_t *store, int64_t from, const char *after_id,
                                          int64_t until, size_t limit, cf_db_expiry_t **list_out,
                                          size_t *n_out);

/* Set (alias) or clear (alias NULL or "") the favorite server of n agents (1..
   CF_DB_BATCH_MAX ids) in one pipeline (1 RT: a script per agent). Unknown agents are
   skipped; *updated (may be NULL) counts the agents changed. CF_ERR_NOTFOUND when alias
   is not a registered server (nothing changed), CF_ERR_INVALID. */
CF_MUST_USE cf_err_t cf_db_agent_set_favorite(cf_store_t *store, const char *const *ids, size_t n,
                                              const char *alias, size_t *updated);

#endif
