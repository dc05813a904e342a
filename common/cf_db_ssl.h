/*  cf_db_ssl - the SSL configuration in cf:ssl: read, update with a version bump and an event  */
#ifndef CF_DB_SSL_H_INCLUDED
#define CF_DB_SSL_H_INCLUDED

#include <stdint.h>

#include "cf_err.h"
#include "cf_store.h"

/* Key: cf:ssl (docs/REDIS.md). Details of failures in cf_store_why(store); transport errors
   as cf_store_cmd. RT = round trips. */
#define CF_DB_RENEW_DAYS_MAX 3650 /* renew_days: 1..3650 */

typedef struct {
    int enabled;     /* 0/1: HTTPS on (the seed's "Enable SSL") */
    int allow_plain; /* 0/1: agents without a certificate still served (migration window) */
    char min_tls[4]; /* lowest TLS version: "1.0", "1.1", "1.2" or "1.3" */
    int auto_renew;  /* 0/1: the renewer re-issues generated certificates when due */
    int renew_days;  /* renew this many days before expiry, 1..CF_DB_RENEW_DAYS_MAX */
    int64_t version; /* bumped on every change; read-only for callers */
} cf_db_ssl_t;

/* Fields for cf_db_ssl_update's mask. */
#define CF_DB_SSL_ENABLED     0x01u
#define CF_DB_SSL_ALLOW_PLAIN 0x02u
#define CF_DB_SSL_MIN_TLS     0x04u
#define CF_DB_SSL_AUTO_RENEW  0x08u
#define CF_DB_SSL_RENEW_DAYS  0x10u
#define CF_DB_SSL_ALL         0x1fu

/* The configuration --init writes (DESIGN.md Decisions): enabled, allow_plain on, TLS 1.2
   minimum, auto_renew off, renew 30 days before expiry, version 1. */
void cf_db_ssl_defaults(cf_db_ssl_t *out);
/* CF_OK when every field is in range (version not checked), else CF_ERR_INVALID. Pure. */
CF_MUST_USE cf_err_t cf_db_ssl_check(const cf_db_ssl_t *cfg);

/* Write cfg (checked) as the configuration only if there is none (1 RT, Lua), version 1.
   CF_ERR_EXISTS when one exists (it is left as it is). */
CF_MUST_USE cf_err_t cf_db_ssl_create(cf_store_t *store, const cf_db_ssl_t *cfg);
/* Read it (1 RT). CF_ERR_NOTFOUND before --init; CF_ERR_CORRUPT for a bad field. */
CF_MUST_USE cf_err_t cf_db_ssl_get(cf_store_t *store, cf_db_ssl_t *out);
/* Change the fields named in mask (CF_DB_SSL_*; others in vals are ignored, but the
   named ones are checked) and, in the same atomic step (1 RT, Lua: like a MULTI, but it
   also refuses a store without a configuration), bump version and PUBLISH "ssl" on
   cf:events; *out (may be NULL) is the configuration after the change. CF_ERR_INVALID,
   CF_ERR_NOTFOUND before --init. */
CF_MUST_USE cf_err_t cf_db_ssl_update(cf_store_t *store, const cf_db_ssl_t *vals, unsigned mask,
                                      cf_db_ssl_t *out);

#endif
