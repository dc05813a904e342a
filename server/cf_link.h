/*  cf_link - cf-server's broker links: one thread, one CURVE DEALER per broker; sends signed
    jobs to agents and stores their HELLO, RECEIPT and REPORT (docs/jobs.md section 4)  */
#ifndef CF_LINK_H_INCLUDED
#define CF_LINK_H_INCLUDED

#include <stddef.h>

#include "cf_app.h"
#include "cf_curve.h"
#include "cf_err.h"
#include "cf_store.h"

#define CF_LINK_MAX_BROKERS CF_CURVE_BROKERS_MAX /* --broker entries */
#define CF_LINK_QUEUE_MAX   4096                 /* job ids waiting for the link thread */

typedef struct cf_link cf_link_t; /* opaque; one per cf-server process */

typedef struct {
    const cf_store_cfg_t *store;      /* Redis (copied): the thread's own connection */
    cf_app_t *app;                    /* borrowed: seal, alias, counters; outlives the link */
    const cf_curve_broker_t *brokers; /* the brokers to connect to (copied) */
    size_t n_brokers;                 /* 1..CF_LINK_MAX_BROKERS */
    const unsigned char *tls;         /* per broker, 1: reach it through its TLS-wrapped port
                                         (a local TLS relay presenting this server's
                                         certificate); NULL = none */
    int receipt_hold_ms;              /* a lone RECEIPT waits this long for its REPORT before
                                         it is stored and ACKed alone (docs/jobs.md 4); 0 =
                                         CF_LINK_RECEIPT_HOLD_MS, negative = no wait */
    int fact_gather_ms;               /* RECEIPTs and REPORTs wait up to this long for more
                                         before one transition call stores them all
                                         (docs/jobs.md 4); 0 = CF_LINK_GATHER_MS (10),
                                         negative = no wait */
} cf_link_cfg_t;

/* Make a fresh CURVE keypair, register its public key in cf:curve:servers under this
   server's alias (replacing the previous run's), then open one CURVE DEALER per broker
   (routing id "server:<alias>"; for a tls broker through a local cf_relay client that
   presents this server's certificate, docs/broker.md "TLS-wrapped links") and start the
   link thread. Connecting is asynchronous: a
   broker that is down is retried in the background. *out is the caller's
   (cf_link_destroy). Errors: CF_ERR_INVALID (cfg), Redis errors (why), CF_ERR_IO (socket,
   thread), CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_link_new(const cf_link_cfg_t *cfg, cf_link_t **out, cf_why_t *why);
/* Stop the thread, close the sockets, wipe the keypair; NULLs *self_p; safe to repeat. */
void cf_link_destroy(cf_link_t **self_p);

/* Hand the link thread a job just created (or retried): it sends the job's pending entries
   to their agents. Thread-safe, callable from any thread, never blocks on the network:
   the id is queued and the call returns. link NULL (no --broker): CF_OK, nothing done
   (agents get their jobs at check-in). Errors: CF_ERR_INVALID (job_id not 32 lowercase
   hex), CF_ERR_TOOBIG (CF_LINK_QUEUE_MAX ids already waiting: the entries stay pending
   and go out at check-in or HELLO). */
CF_MUST_USE cf_err_t cf_link_send_job(cf_link_t *link, const char *job_id);

/* This run's CURVE public key as Z85 (40 characters), borrowed; for logs and tests. */
const char *cf_link_public_z85(const cf_link_t *link);

#endif
