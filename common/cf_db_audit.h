/*  cf_db_audit - the operator audit stream cf:audit: append, read since a time  */
#ifndef CF_DB_AUDIT_H_INCLUDED
#define CF_DB_AUDIT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "cf_err.h"
#include "cf_store.h"

/* Key: cf:audit, a stream capped near CF_DB_AUDIT_MAXLEN entries (docs/REDIS.md).
   Details of failures in cf_store_why(store); transport errors as cf_store_cmd. */
#define CF_DB_AUDIT_MAXLEN   100000 /* XADD MAXLEN ~ */
#define CF_DB_AUDIT_READ_MAX 10000  /* events one read returns at most */
#define CF_DB_AUDIT_ID_MAX   41     /* stream id "<ms>-<seq>", bytes */
#define CF_DB_AUDIT_WHO_MAX  80     /* who, bytes (a user name, "agent:<id>", "system") */
#define CF_DB_AUDIT_ROLE_MAX 16     /* role, bytes */
#define CF_DB_AUDIT_WHAT_MAX 64     /* what, bytes ("ssl.update", "cert.revoke", ...) */
#define CF_DB_AUDIT_TEXT_MAX 256    /* target and result, bytes */
#define CF_DB_AUDIT_FROM_MAX 64     /* from: the client address, bytes */

/* One event to append. Every field is text without control characters within its cap;
   NULL is stored as "". Borrowed. */
typedef struct {
    const char *who;    /* the user (or agent) acting */
    const char *role;   /* its role */
    const char *what;   /* the action */
    const char *target; /* what it acted on */
    const char *result; /* "ok" or the error */
    const char *from;   /* client address */
} cf_db_audit_in_t;

/* One event read back. */
typedef struct {
    char id[CF_DB_AUDIT_ID_MAX + 1];       /* stream id: order and cursor */
    int64_t time_ms;                       /* unix milliseconds (from the id) */
    char who[CF_DB_AUDIT_WHO_MAX + 1];     /* as appended */
    char role[CF_DB_AUDIT_ROLE_MAX + 1];   /* as appended */
    char what[CF_DB_AUDIT_WHAT_MAX + 1];   /* as appended */
    char target[CF_DB_AUDIT_TEXT_MAX + 1]; /* as appended */
    char result[CF_DB_AUDIT_TEXT_MAX + 1]; /* as appended */
    char from[CF_DB_AUDIT_FROM_MAX + 1];   /* as appended */
} cf_db_audit_t;

/* Append an event (XADD cf:audit MAXLEN ~ CF_DB_AUDIT_MAXLEN *, 1 RT); Redis stamps the
   time. id (CF_DB_AUDIT_ID_MAX + 1 bytes, may be NULL) gets the new id. CF_ERR_INVALID or
   CF_ERR_TOOBIG for a bad field. Not retried after a lost connection (no duplicates). */
CF_MUST_USE cf_err_t cf_db_audit_add(cf_store_t *store, const cf_db_audit_in_t *ev, char *id);
/* Read up to limit (1..CF_DB_AUDIT_READ_MAX) events in order (XRANGE, 1 RT): from unix
   second since_s, or, when after_id is not NULL/"", strictly after that id (the last id of
   the previous read, to page). *list_out is the caller's (cf_mem_free). CF_ERR_INVALID,
   CF_ERR_CORRUPT for a malformed entry. */
CF_MUST_USE cf_err_t cf_db_audit_read(cf_store_t *store, int64_t since_s, const char *after_id,
                                      size_t limit, cf_db_audit_t **list_out, size_t *n_out);

#endif
