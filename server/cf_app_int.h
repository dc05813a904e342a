/*  cf_app_int - building and tearing down the app (start-up code only; handlers use cf_app.h)  */
#ifndef CF_APP_INT_H_INCLUDED
#define CF_APP_INT_H_INCLUDED

#include "cf_app.h"

#define CF_APP_MAX_POOL        65               /* Redis connections: CF_HTTPS_MAX_THREADS + 1 */
#define CF_APP_SESSION_TTL_MIN 60               /* shortest session lifetime, seconds */
#define CF_APP_SESSION_TTL_MAX (30 * 24 * 3600) /* longest: 30 days */

typedef struct {
    const cf_store_cfg_t *store; /* how to reach Redis (copied by the stores) */
    cf_seal_t **seal_p;          /* the secret: taken, *seal_p NULLed */
    const char *alias;           /* this server's alias (copied) */
    int pool;                    /* Redis connections to open (worker threads + 1) */
    double admit_rate;           /* check-ins and enrollments per second */
    int admit_burst;             /* bucket size */
    int64_t session_ttl;         /* login sessions last this long, seconds (CF_APP_SESSION_TTL_*) */
} cf_app_cfg_t;

/* A new app with its pool of connected stores and its failed-login throttle. Errors: those
   of cf_store_new and cf_store_connect (why says which), CF_ERR_INVALID (a field out of its
   range), CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_app_new(const cf_app_cfg_t *cfg, cf_app_t **out, cf_why_t *why);
void cf_app_destroy(cf_app_t **self_p); /* NULLs *self_p; safe to repeat */
/* Give the app the broker links (borrowed: destroy the link before the app). Call once,
   before the HTTPS workers start: handlers read it without a lock. */
void cf_app_set_link(cf_app_t *app, cf_link_t *link);
/* The broker endpoints agents are given (--agent-broker, "tcp://H:P#Z85" or "tls://…";
   copied), in install packages and enrollment answers. Call once, before the workers
   start. Errors: CF_ERR_NOMEM (nothing set). */
CF_MUST_USE cf_err_t cf_app_set_agent_brokers(cf_app_t *app, const char *const *texts, size_t n);

#endif
