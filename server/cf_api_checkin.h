/*  cf_api_checkin - the agent check-in's Redis work off the worker's loop: one command per
    check-in on the worker's asynchronous connection, the answer when it returns  */
#ifndef CF_API_CHECKIN_H_INCLUDED
#define CF_API_CHECKIN_H_INCLUDED

#include <event2/event.h>

#include "cf_app.h"
#include "cf_db_agent.h"
#include "cf_router.h"
#include "cf_store.h"

/* What the worker hooks need (borrowed: it must outlive the cf_https_t). */
typedef struct {
    cf_app_t *app;               /* the app (counters, the pool for the rare sync steps) */
    const cf_store_cfg_t *store; /* how to reach Redis (copied by each worker's client) */
} cf_api_checkin_cfg_t;

/* cf_https worker hooks (arg = a cf_api_checkin_cfg_t): each worker gets its own
   asynchronous Redis client (cf_store_async) on its event base, with the check-in
   script registered. No I/O until the first check-in. Errors: those of
   cf_store_async_new, CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_api_checkin_worker_new(struct event_base *base, void *arg, void **out);
/* Free a worker's client: check-ins still waiting are answered 503 first. */
void cf_api_checkin_worker_free(void *data, void *arg);

/* What a check-in's body asks beyond the check-in itself. */
typedef struct {
    unsigned proto; /* protocol level the agent speaks, 1..255 (1 when the body names none) */
    int no_jobs;    /* 1: the body says "jobs": false (an install check: the agent only asks
                       what the server records for the certificate it presents), so the
                       answer carries no jobs and nothing is built for it */
    int upgrade;    /* 1: proto is to be recorded (cf_db_job_upgrade: the agent's too_old
                       entries move too): the check-in script found another level recorded;
                       the synchronous path, which does not ask, sets it for proto >= 2 */
} cf_api_checkin_ask_t;

/* Send the check-in in (checked by the caller: identity, address; in->lock INSECURE
   without a certificate, SECURE with one: the script answers ATTENTION for an archived
   one), with the count of the agent's open jobs, as one command on this worker's client,
   and answer when the reply comes: 200 as docs/API.md, 403 for a revoked agent, 503 unavailable
   (with the reason and Retry-After) when Redis failed, did not answer in time or is not reachable.
   Returns 1 when the request was taken (answered or deferred), 0 when there is no client on this
   thread (not a worker, or no hooks): then the caller does the check-in synchronously. */
int cf_api_checkin_async(cf_app_t *app, cf_req_t *req, const cf_db_checkin_t *in,
                         const cf_api_checkin_ask_t *ask);

/* Answer a check-in Redis has stored (lock and favorite from the script): counts it, then
   the jobs (never when ask->no_jobs; else only when there can be some: open jobs to build,
   lock attention, or ask->upgrade, which records the level first; those few steps take a
   store from the pool when store is NULL) and the server list (this worker's cache, reloaded
   through the pool when stale). */
void cf_api_checkin_answer(cf_req_t *req, cf_app_t *app, cf_store_t *store, const char *id,
                           const char *addr, cf_db_lock_t lock, const char *favorite,
                           const cf_api_checkin_ask_t *ask, int jobs_maybe);

#endif
