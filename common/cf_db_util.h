/*  cf_db_util - for the cf_db_* modules: failure details, one-shot scripts, reply decoding  */
#ifndef CF_DB_UTIL_H_INCLUDED
#define CF_DB_UTIL_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "cf_err.h"
#include "cf_store.h"

#define CF_DB_I64_BUF 24 /* buffer for the decimal text of any int64_t */

/* The store's failure detail, which cf_store_why shows: the cf_db_* modules put their own
   refusals there ("agent agent-7: field last_seen is not a number") next to Redis's. */
cf_why_t *cf_db_why(cf_store_t *store);
/* Set that detail from a format and return rc. */
cf_err_t cf_db_fail(cf_store_t *store, cf_err_t rc, const char *fmt, ...) CF_PRINTF(3, 4);

/* Run Lua source with cf_store_script_call (EVALSHA, EVAL on NOSCRIPT: 1 RT, 2 the first
   time a server meets the script, after which it caches it): nkeys keys, then
   nargs arguments in argv (argvlen NULL: NUL-terminated). The SHA-1 is computed per call
   (about a microsecond), which keeps the modules free of state. Errors as
   cf_store_script_call; *reply_out is the caller's. */
CF_MUST_USE cf_err_t cf_db_eval(cf_store_t *store, const char *lua, int flags,
                                redisReply **reply_out, int nkeys, int nargs, const char **argv,
                                const size_t *argvlen);

/* A script made once and kept for the process (slot: a static of the caller, NULL at
   first): the hot paths (the check-in) do not hash their Lua source per call. Made again
   on the next call when making it failed (out of memory). NULL when it cannot be made. */
const cf_store_script_t *cf_db_script_kept(cf_store_script_t *_Atomic *slot, const char *lua);

/* Create hash key from npairs field/value pairs (fv[2i], fv[2i+1]; lens NULL: strings)
   only if key does not exist, and in the same step (1 RT, Lua) SADD member to index (when
   index is not NULL) and PUBLISH event on cf:events (when event is not NULL). CF_ERR_EXISTS
   when key exists (nothing changed). */
CF_MUST_USE cf_err_t cf_db_hash_create(cf_store_t *store, const char *key, const char *index,
                                       const char *member, const char *event, int npairs,
                                       const char **fv, const size_t *lens);

/* Delete hash key and, in the same step (1 RT, Lua), SREM member from index (when index is
   not NULL) and PUBLISH event on cf:events (when event is not NULL). CF_ERR_NOTFOUND when
   key does not exist (nothing changed). */
CF_MUST_USE cf_err_t cf_db_hash_remove(cf_store_t *store, const char *key, const char *index,
                                       const char *member, const char *event);

/* SMEMBERS index (1 RT): *r_out is an array reply (the caller's) of at most max members,
   each a string that passes check (which sees it NUL-terminated). CF_ERR_TOOBIG past max,
   CF_ERR_CORRUPT for a malformed member or reply. */
typedef cf_err_t(cf_db_check_fn)(const char *name);
CF_MUST_USE cf_err_t cf_db_members(cf_store_t *store, const char *index, size_t max,
                                   cf_db_check_fn *check, redisReply **r_out);
/* qsort comparator for an array of char * (strcmp). */
int cf_db_strp_cmp(const void *a, const void *b);

/* Decode one stream entry (an [id, [field, value...]] array reply) into out, one element of
   the array cf_db_xrange fills. */
typedef cf_err_t(cf_db_xentry_fn)(cf_store_t *store, const redisReply *entry, void *out);
/* XRANGE key start + COUNT max (1 RT, idempotent): *list_out (the caller's, cf_mem_free) is
   an array of *n_out entries of size bytes each, decoded by fn (at least one zeroed
   element is allocated, so an empty range gives a valid array and 0). Errors: those of
   cf_store_cmd_argv, CF_ERR_CORRUPT for a malformed reply, fn's, CF_ERR_NOMEM; nothing is
   returned on error. */
CF_MUST_USE cf_err_t cf_db_xrange(cf_store_t *store, const char *key, const char *start, size_t max,
                                  size_t size, cf_db_xentry_fn *fn, void **list_out, size_t *n_out);

/* Decimal text of v in buf (CF_DB_I64_BUF bytes); returns buf. */
const char *cf_db_i64(char *buf, int64_t v);

/* Reply decoders: a reply is outside input. Each checks the type and size and returns
   CF_ERR_CORRUPT with why (may be NULL) naming `what` when the reply does not fit. With
   optional set, a nil reply is accepted and gives "" / NULL / 0. */
/* 1 when r is NULL or a nil reply. */
int cf_db_r_nil(const redisReply *r);
/* An array of min..max elements. */
CF_MUST_USE cf_err_t cf_db_r_array(const redisReply *r, size_t min, size_t max, const char *what,
                                   cf_why_t *why);
/* A string of at most max bytes without NUL or control characters, copied into buf
   (max + 1 bytes). */
CF_MUST_USE cf_err_t cf_db_r_text(const redisReply *r, int optional, char *buf, size_t max,
                                  const char *what, cf_why_t *why);
/* A string of at most max bytes without NUL (PEM, sealed text: line breaks allowed), copied
   to *out (the caller's, cf_mem_free; NULL for an optional nil). */
CF_MUST_USE cf_err_t cf_db_r_dup(const redisReply *r, int optional, size_t max, char **out,
                                 const char *what, cf_why_t *why);
/* An integer reply, or a string of decimal digits (an optional '-' first, no blanks), in
   min..max. */
CF_MUST_USE cf_err_t cf_db_r_int(const redisReply *r, int optional, int64_t min, int64_t max,
                                 int64_t *out, const char *what, cf_why_t *why);

#endif
