/*  cf_db_crl - revoked serials (cf:revoked) and the current CRL (cf:crl)  */
#ifndef CF_DB_CRL_H_INCLUDED
#define CF_DB_CRL_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "cf_db_key.h"
#include "cf_err.h"
#include "cf_store.h"

/* Keys: cf:revoked (set of lowercase hex serials), cf:crl (hash), events "revoked" and
   "crl" on cf:events (docs/REDIS.md). Details of failures in cf_store_why(store);
   transport errors as cf_store_cmd. RT = round trips. */
#define CF_DB_REVOKE_MAX 100000     /* serials in one cf_db_revoke call */
#define CF_DB_CRL_MAX    (16 << 20) /* CRL PEM, bytes */

/* Add serials (each cf_db_check_serial, n 1..CF_DB_REVOKE_MAX) to the revoked set and
   PUBLISH "revoked" on cf:events in one MULTI (1 RT), so every server reloads the set.
   *added (may be NULL) counts the serials that were not revoked yet. CF_ERR_INVALID. */
CF_MUST_USE cf_err_t cf_db_revoke(cf_store_t *store, const char *const *serials, size_t n,
                                  size_t *added);
/* Is serial revoked? (SISMEMBER, 1 RT) */
CF_MUST_USE cf_err_t cf_db_revoked(cf_store_t *store, const char *serial, int *yes);
/* Load the revoked set with SSCAN (1 RT per 1000 serials): fn gets each well-formed serial
   (NUL-terminated, borrowed for the call) and returns non-zero to stop. A serial may come
   twice (SSCAN). Malformed members are skipped and counted in *bad (may be NULL).
   CF_ERR_TOOBIG past max members. */
typedef int(cf_db_serial_fn)(void *arg, const char *serial);
CF_MUST_USE cf_err_t cf_db_revoked_load(cf_store_t *store, size_t max, cf_db_serial_fn *fn,
                                        void *arg, size_t *bad);

typedef struct {
    char *pem;           /* owned: the CRL PEM, signed by the CA */
    int64_t this_update; /* unix seconds */
    int64_t next_update; /* unix seconds: rebuild before this */
    int64_t count;       /* revoked serials it lists */
} cf_db_crl_t;

/* Store the CRL (PEM of 1..CF_DB_CRL_MAX bytes) with its dates and count, and PUBLISH
   "crl" on cf:events, in one MULTI (1 RT). CF_ERR_INVALID, CF_ERR_TOOBIG. */
CF_MUST_USE cf_err_t cf_db_crl_put(cf_store_t *store, const char *pem, int64_t this_update,
                                   int64_t next_update, int64_t count);
/* Read it (1 RT) into *out (cf_db_crl_clear it). CF_ERR_NOTFOUND, CF_ERR_CORRUPT. */
CF_MUST_USE cf_err_t cf_db_crl_get(cf_store_t *store, cf_db_crl_t *out);
/* Its dates and count only, without the PEM (1 RT; for a freshness check that must not read
   megabytes): out->pem stays NULL. CF_ERR_NOTFOUND, CF_ERR_CORRUPT. */
CF_MUST_USE cf_err_t cf_db_crl_dates(cf_store_t *store, cf_db_crl_t *out);
void cf_db_crl_clear(cf_db_crl_t *crl); /* free pem; zero it */

#endif
