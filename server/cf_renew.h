/*  cf_renew - the renewer: under the cf:lease:renew lease (one server at a time; another
    takes over when the holder dies), re-issues generated component certificates when they
    fall due (N days before expiry or 2/3 of their lifetime, jittered), archives the old ones
    (cf_db_cert_put), rebuilds the CRL before its nextUpdate passes (cf_crl), and warns as
    the CA nears expiry (it is never renewed silently)  */
#ifndef CF_RENEW_H_INCLUDED
#define CF_RENEW_H_INCLUDED

#include <stdint.h>

#include "cf_app.h"
#include "cf_store.h"

#define CF_RENEW_CA_WARN_DAYS 90               /* warn this many days before the CA expires */
#define CF_RENEW_LEASE        "cf:lease:renew" /* the lease (docs/REDIS.md) */

typedef struct cf_renew cf_renew_t; /* opaque; used by the control thread only */

/* A renewer whose lease lives lease_s seconds unless renewed by the next tick. */
CF_MUST_USE cf_err_t cf_renew_new(cf_app_t *app, int lease_s, cf_renew_t **out);
/* One round: take or keep the lease, then rebuild the CRL when cf_crl_due says so, and
   (with auto-renew on) renew what is due. Failures are logged and counted
   (cf_server_crl_failures_total, cf_server_renewal_failures_total), never silent. */
void cf_renew_tick(cf_renew_t *self, cf_store_t *store, int64_t now);
/* Give the lease up (a clean stop lets another server take over at once). */
void cf_renew_release(cf_renew_t *self, cf_store_t *store);
void cf_renew_destroy(cf_renew_t **self_p); /* NULLs *self_p; safe to repeat */

#endif
