/*  cf_app - what every API handler of cf-server shares: Redis connections, the secret,
    identity, admission, audit, error replies and counters  */
#ifndef CF_APP_H_INCLUDED
#define CF_APP_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cf_ca.h"
#include "cf_err.h"
#include "cf_router.h"
#include "cf_seal.h"
#include "cf_store.h"
#include "cf_throttle.h"

typedef struct cf_app cf_app_t;   /* opaque; one per cf-server process, shared by workers */
typedef struct cf_link cf_link_t; /* the broker links (server/cf_link.h) */

/* Counters for /metrics (cf_app_count); names in cf_app_counter_name. */
typedef enum {
    CF_APP_REQUESTS = 0,      /* requests answered */
    CF_APP_REQ_ERRORS,        /* answered with a status >= 400 */
    CF_APP_HS_REFUSED,        /* handshakes refused for a certificate reason */
    CF_APP_HS_EXPIRED,        /* ... of which the certificate had expired */
    CF_APP_HS_REVOKED,        /* ... of which it was revoked */
    CF_APP_CHECKINS,          /* agent check-ins stored */
    CF_APP_CHECKINS_INSECURE, /* ... of which without a certificate */
    CF_APP_ADMISSION_DENIED,  /* 503 busy from the token bucket */
    CF_APP_LOGINS,            /* successful logins */
    CF_APP_LOGIN_FAILURES,    /* failed logins */
    CF_APP_RENEWALS,          /* certificates renewed by this server */
    CF_APP_RENEWAL_FAILURES,  /* renewals that failed */
    CF_APP_CRL_REBUILDS,      /* CRLs built and stored by this server (cf_crl_rebuild) */
    CF_APP_CRL_FAILURES,      /* CRL builds that failed */
    CF_APP_JOBS_EXPIRED,      /* job entries the sweeper of this server expired */
    CF_APP_JOBS_CLOSED,       /* jobs it closed (every entry final) */
    CF_APP_SWEEP_FAILURES,    /* sweeper rounds that failed */
    CF_APP_JOBS_SENT,         /* JOB messages handed to a broker link */
    CF_APP_JOBS_SEND_FAILED,  /* job copies that could not be built or queued */
    CF_APP_JOBS_OFFLINE,      /* ERROR offline answers: the job waits for the check-in */
    CF_APP_LINK_RETRIES,      /* ... after which an agent's open jobs were sent again */
    CF_APP_JOBS_CHECKIN,      /* job copies handed out in check-in answers */
    CF_APP_LINK_HELLOS,       /* HELLOs taken from brokers */
    CF_APP_LINK_RECEIPTS,     /* RECEIPTs stored */
    CF_APP_LINK_REPORTS,      /* REPORTs stored (broker or HTTPS) */
    CF_APP_LINK_ACKS,         /* ACKs sent */
    CF_APP_LINK_DROPPED,      /* broker messages dropped (malformed, unexpected, store down) */
    CF_APP_LINK_BATCHES,      /* BATCH messages sent to brokers */
    CF_APP_WAVE_RELEASED,     /* job entries the wave controller of this server released */
    CF_APP_JOBS_ABORTED,      /* jobs it aborted at their failure threshold */
    CF_APP_WAVE_FAILURES,     /* wave steps that failed */
    CF_APP_COUNTERS           /* number of counters, not a counter */
} cf_app_counter_t;

/* ---- Redis connections ----------------------------------------------------------------
   hiredis contexts belong to one thread at a time: a handler borrows one from the app's
   pool for the length of the request and gives it back. Never NULL: the pool has one per
   worker thread plus one, so a handler never waits. */
cf_store_t *cf_app_store_take(cf_app_t *app);
void cf_app_store_give(cf_app_t *app, cf_store_t *store);

/* ---- identity and material (borrowed; live as long as the app) ------------------------ */
const cf_seal_t *cf_app_seal(const cf_app_t *app); /* the deployment's secret */
const char *cf_app_alias(const cf_app_t *app);     /* this server's alias */
const char *cf_app_instance(const cf_app_t *app);  /* "<alias>/<pid>/<random>" of this run */
const char *cf_app_version(const cf_app_t *app);   /* certfleet version */
int64_t cf_app_session_ttl(const cf_app_t *app);   /* login session lifetime, seconds */
/* The broker links (borrowed; cf_link_send_job is thread-safe), NULL when the server runs
   without --broker: cf_link_send_job(NULL, ...) is then a no-op and agents get their jobs
   at check-in. */
cf_link_t *cf_app_link(cf_app_t *app);
/* The broker endpoints agents are given (--agent-broker) as a new JSON array of strings,
   the caller's; NULL on out of memory. */
json_t *cf_app_agent_brokers_json(const cf_app_t *app);
/* The failed-login throttle of this process (borrowed; thread-safe). */
cf_throttle_t *cf_app_throttle(cf_app_t *app);

/* The CA from Redis, ready to issue (cf_ca_t is one-thread: each call gives a new one the
   caller destroys). Errors: those of cf_db_ca_get / cf_ca_load. */
CF_MUST_USE cf_err_t cf_app_ca(cf_app_t *app, cf_store_t *store, cf_ca_t **ca_out, cf_why_t *why);

/* ---- admission control (token bucket over check-ins and enrollments) ------------------
   1: go on. 0: over the rate; a 503 "busy" with Retry-After was sent, return at once. */
int cf_app_admit(cf_app_t *app, cf_req_t *req);

/* ---- replies ----------------------------------------------------------------------------
   Reply with the status and docs/API.md error code that fit rc (NOTFOUND 404 not_found,
   EXISTS 409 conflict, INVALID/TOOBIG 400 invalid_request, BADPASS/KEYMISMATCH/EXPIRED/
   NOTYETVALID/UNTRUSTED/UNSUPPORTED/POLICY/CORRUPT/NOKEY/REVOKED 422 refused, IO 503
   unavailable, anything else 500), message = what + ": " + the reason (why or rc). */
void cf_app_reply_err(cf_req_t *req, cf_err_t rc, const cf_why_t *why, const char *what);

/* ---- audit --------------------------------------------------------------------------------
   Append one event for the request's user (who, role, from = peer address) to cf:audit:
   what ("ssl.update"), target (free text, may be NULL), result "ok" or cf_err_name(rc).
   Failures to append are logged, never hidden, but do not fail the request. */
void cf_app_audit(cf_app_t *app, cf_store_t *store, cf_req_t *req, const char *what,
                  const char *target, cf_err_t rc);

/* ---- counters (atomic) -------------------------------------------------------------------- */
void cf_app_count(cf_app_t *app, cf_app_counter_t c, uint64_t n);
uint64_t cf_app_counter(const cf_app_t *app, cf_app_counter_t c);
const char *cf_app_counter_name(cf_app_counter_t c); /* "cf_server_requests_total", ... */

/* ---- route tables: each API file gives its routes ---------------------------------------
 *routes_out points at a static table (borrowed); returns its length. */
size_t cf_api_session_routes(const cf_route_t **routes_out);  /* health, login, logout, session */
size_t cf_api_users_routes(const cf_route_t **routes_out);    /* users, audit, console policy */
size_t cf_api_ssl_routes(const cf_route_t **routes_out);      /* SSL configuration */
size_t cf_api_certs_routes(const cf_route_t **routes_out);    /* certificates, CRL */
size_t cf_api_servers_routes(const cf_route_t **routes_out);  /* server records */
size_t cf_api_agents_routes(const cf_route_t **routes_out);   /* agents, favorites, check-in */
size_t cf_api_metrics_routes(const cf_route_t **routes_out);  /* /metrics */
size_t cf_api_jobs_routes(const cf_route_t **routes_out);     /* certificate jobs */
size_t cf_api_expiring_routes(const cf_route_t **routes_out); /* certificates expiring soon */
size_t cf_api_packages_routes(const cf_route_t **routes_out); /* agent install packages */

/* The router's session callback (cf_router_auth_fn): bearer token → session via
   cf_db_session_get on the digest of the token (cf_auth_token_digest). Lives in
   cf_api_session.c. */
cf_err_t cf_api_authenticate(void *app, const char *bearer_token, cf_session_t *out);

#endif
