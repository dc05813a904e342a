/*  cf_crl - the deployment's CRL (cf:crl): built from the whole revoked set, signed by the CA,
    on every revocation and by the renewer before its nextUpdate passes  */
#ifndef CF_CRL_H_INCLUDED
#define CF_CRL_H_INCLUDED

#include <time.h>

#include "cf_app.h"
#include "cf_err.h"
#include "cf_store.h"

#define CF_CRL_DAYS         7 /* nextUpdate of a CRL built here, days ahead */
#define CF_CRL_REFRESH_DAYS 2 /* the renewer rebuilds a CRL whose nextUpdate is closer */

/* Rebuild the CRL from all of cf:revoked (at most CF_CA_MAX_CRL_SERIALS), thisUpdate now,
   nextUpdate now + CF_CRL_DAYS, signed by the CA from Redis, and store it (cf_db_crl_put,
   which publishes "crl"). Servers may rebuild at the same moment and the last write wins,
   so after each write the set is read again and, while it grew, the CRL is built again (a
   few rounds): the last writer's CRL lists everything revoked before it. *next_out gets
   nextUpdate. Counts cf_server_crl_rebuilds_total or cf_server_crl_failures_total. Errors:
   those of cf_app_ca, the set (CF_ERR_TOOBIG past the cap), cf_ca_crl and cf_db_crl_put;
   why says which. */
CF_MUST_USE cf_err_t cf_crl_rebuild(cf_app_t *app, cf_store_t *store, time_t now, time_t *next_out,
                                    cf_why_t *why);

/* Whether the stored CRL needs a rebuild at now: *due = 1 when its nextUpdate is less than
   CF_CRL_REFRESH_DAYS away (or past), when it cannot be read (corrupt), or when there is
   none while serials are revoked; *reason (static text, for a log line) says which, or why
   not. 1 or 2 RT. Errors: the store's (details in cf_store_why). */
CF_MUST_USE cf_err_t cf_crl_due(cf_store_t *store, time_t now, int *due, const char **reason);

#endif
