/*  cf_control - cf-server's control thread: applies configuration, certificate and
    revocation changes published on cf:events to the listeners without a restart, keeps the
    heartbeat, renews generated certificates and sweeps jobs, each under a Redis lease  */
#ifndef CF_CONTROL_H_INCLUDED
#define CF_CONTROL_H_INCLUDED

#include "cf_app.h"
#include "cf_https.h"
#include "cf_router.h"
#include "cf_start.h"
#include "cf_store.h"

typedef struct {
    const cf_store_cfg_t *store;  /* Redis (copied) */
    cf_app_t *app;                /* borrowed */
    cf_https_t *https;            /* borrowed: the listeners to switch */
    cf_router_t *router;          /* borrowed: its allow-plain flag */
    const cf_start_opts_t *start; /* borrowed: alias, host, names, key type, lifetime */
    int plain_port;               /* the plain port opened while agents may come without TLS */
    int heartbeat_s;              /* heartbeat period; the key lives 3 periods */
    int renew_every_s;            /* how often the renewer looks for due certificates */
    int sweep_every_s;            /* how often the job sweeper looks (0: never) */
} cf_control_cfg_t;

typedef struct cf_control cf_control_t; /* opaque */

/* Connect, subscribe to cf:events and start the thread. The first full reload happens on
   the thread once the subscription is in place. Errors: Redis (why), CF_ERR_NOMEM,
   CF_ERR_IO (thread or pipe). */
CF_MUST_USE cf_err_t cf_control_new(const cf_control_cfg_t *cfg, cf_control_t **out, cf_why_t *why);
/* Stop the thread, drop the heartbeat and the lease; NULLs *self_p; safe to repeat. */
void cf_control_destroy(cf_control_t **self_p);

#endif
