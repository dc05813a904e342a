/*  cf_db_user - console users, login sessions and the console policy  */
#ifndef CF_DB_USER_H_INCLUDED
#define CF_DB_USER_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "cf_db_key.h"
#include "cf_err.h"
#include "cf_store.h"

/* Keys: cf:user:<name>, cf:users, cf:session:<sha256 of token>, cf:policy:console
   (docs/REDIS.md). Details of failures in cf_store_why(store); transport errors as
   cf_store_cmd. RT = round trips. */
#define CF_DB_PWHASH_MAX      512    /* stored password hash string, bytes (opaque here) */
#define CF_DB_USERS_MAX       10000  /* users one list returns at most */
#define CF_DB_SESSION_TTL_MAX 604800 /* longest session, seconds (7 days) */

typedef enum {
    CF_DB_ROLE_VIEWER = 1, /* reads everything an operator sees */
    CF_DB_ROLE_ADMIN,      /* and changes it */
} cf_db_role_t;

/* "viewer", "admin"; "unknown" otherwise. */
const char *cf_db_role_name(cf_db_role_t role);
/* Parse those names; CF_ERR_INVALID for anything else. */
CF_MUST_USE cf_err_t cf_db_role_from_name(const char *name, cf_db_role_t *out);

typedef struct {
    char name[CF_DB_USER_MAX + 1];     /* cf_db_check_user */
    cf_db_role_t role;                 /* admin or viewer */
    char pwhash[CF_DB_PWHASH_MAX + 1]; /* the password hash string ("" from list) */
    int64_t created;                   /* unix seconds */
} cf_db_user_t;

/* Create a user (1 RT, Lua): cf:user:<name> and cf:users. pwhash is stored as given: the
   hash is computed elsewhere (1..CF_DB_PWHASH_MAX printable bytes). CF_ERR_EXISTS,
   CF_ERR_INVALID. */
CF_MUST_USE cf_err_t cf_db_user_create(cf_store_t *store, const char *name, cf_db_role_t role,
                                       const char *pwhash, int64_t now);
/* Change a user's role (role 0 keeps it) and/or password hash (NULL keeps it), 1 RT (Lua).
   Sessions pick up a new role at once (cf_db_session_get reads it from the user).
   CF_ERR_NOTFOUND, CF_ERR_INVALID. */
CF_MUST_USE cf_err_t cf_db_user_update(cf_store_t *store, const char *name, int role,
                                       const char *pwhash);
/* Delete a user (1 RT, Lua). Their sessions stop working at once (see cf_db_session_get).
   The last admin is never removed: checked and done in one step, so two admins removing
   each other at once cannot both succeed (CF_ERR_STATE). CF_ERR_NOTFOUND. */
CF_MUST_USE cf_err_t cf_db_user_remove(cf_store_t *store, const char *name);
/* Read one user with the hash (1 RT). CF_ERR_NOTFOUND, CF_ERR_CORRUPT. */
CF_MUST_USE cf_err_t cf_db_user_get(cf_store_t *store, const char *name, cf_db_user_t *out);
/* Every user, without hashes, sorted by name (2 RT). *list_out is the caller's
   (cf_mem_free). CF_ERR_TOOBIG past max (<= CF_DB_USERS_MAX). */
CF_MUST_USE cf_err_t cf_db_user_list(cf_store_t *store, size_t max, cf_db_user_t **list_out,
                                     size_t *n_out);

typedef struct {
    char user[CF_DB_USER_MAX + 1]; /* who logged in */
    cf_db_role_t role;             /* the user's role now */
    int64_t created;               /* unix seconds of the login */
    int64_t expires;               /* unix seconds; the key's TTL ends it */
} cf_db_session_t;

/* Store a session for token (CF_DB_TOKEN_MIN..MAX bytes; only its SHA-256 is stored) with
   a TTL of ttl_s (1..CF_DB_SESSION_TTL_MAX) seconds: HSET and EXPIRE in one MULTI (1 RT).
   CF_ERR_INVALID. */
CF_MUST_USE cf_err_t cf_db_session_create(cf_store_t *store, const void *token, size_t len,
                                          const char *user, cf_db_role_t role, int64_t now,
                                          int ttl_s);
/* Look up a session (1 RT, Lua): it answers the user's current role; a session whose user
   was removed is deleted and not found. CF_ERR_NOTFOUND (unknown, expired or removed),
   CF_ERR_INVALID (token size), CF_ERR_CORRUPT. */
CF_MUST_USE cf_err_t cf_db_session_get(cf_store_t *store, const void *token, size_t len,
                                       cf_db_session_t *out);
/* Delete a session (logout), 1 RT. CF_ERR_NOTFOUND when there was none. */
CF_MUST_USE cf_err_t cf_db_session_delete(cf_store_t *store, const void *token, size_t len);

typedef struct {
    int save_logins; /* 0/1: the console remembers entered user logins (seed's policy) */
} cf_db_policy_t;

/* Read the console policy (1 RT); absent fields read as 0 (off). */
CF_MUST_USE cf_err_t cf_db_policy_get(cf_store_t *store, cf_db_policy_t *out);
/* Write it (1 RT). CF_ERR_INVALID for a value other than 0/1. */
CF_MUST_USE cf_err_t cf_db_policy_set(cf_store_t *store, const cf_db_policy_t *policy);

#endif
