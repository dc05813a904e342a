/*  cf_api_agents - the fleet side of the API: the refused-handshake hook and the pieces the
    ssl, servers and agents route files share  */
#ifndef CF_API_AGENTS_H_INCLUDED
#define CF_API_AGENTS_H_INCLUDED

#include <stddef.h>

#include <jansson.h>

#include "cf_app.h"
#include "cf_db_agent.h"
#include "cf_https.h"
#include "cf_router.h"

#define CF_API_CHECKIN_INTERVAL_S 300  /* poll interval handed to agents at check-in, seconds */
#define CF_API_SERVERS_CACHE_MS   3000 /* a worker reloads the check-in's server list after this */
#define CF_API_PAGE_DEFAULT       100  /* agents in a page when ?limit= is absent */

/* The agents' part of the app's on_refused hook (docs/https.md "Refusals"); runs on the
   worker thread during the handshake. For an agent certificate refused as expired that
   names its agent, records the agent's lock state "expired" with one Redis call
   (cf_db_agent_expired); every other refusal is left alone. A failure to record is logged,
   never raised. Counts nothing: the caller counts CF_APP_HS_*. The refusal does not carry
   the certificate's notAfter, so the agent's cert_not_after is recorded as 0 (unknown).
   r is borrowed for the call. */
void cf_api_agents_refused(cf_app_t *app, const cf_https_refusal_t *r);

/* The paging arguments of a list request, ?limit= (1..CF_DB_PAGE_MAX, default
   CF_API_PAGE_DEFAULT) and ?cursor= (a previous answer's cursor; NULL to start, borrowed
   from req). Returns 1 with both filled, or 0 after answering 400 invalid_request. */
int cf_api_page_args(cf_req_t *req, size_t *limit, const char **cursor);

/* An agent in the API's shape (docs/API.md "Agents"), a new object; NULL on out of memory. */
json_t *cf_api_agent_json(const cf_db_agent_t *a);

/* GET /api/v1/agents with its filters (viewer). In cf_api_agents_list.c. */
void cf_api_agents_list(cf_req_t *req, void *arg);

/* The server list of a check-in answer (a new reference: json_decref), from this worker's
   cache when it is fresh (CF_API_SERVERS_CACHE_MS), else from Redis (2 RT). The enrollment
   answer hands out the same list. store may be NULL: then CF_ERR_NOTFOUND when the cache
   is stale. Errors: the store's, CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_api_agents_servers(const cf_app_t *app, cf_store_t *store, json_t **out);
/* The same list as compact JSON text, borrowed: valid on this thread until the next call
   of either function. store may be NULL: CF_ERR_NOTFOUND when the cache is stale then.
   CF_ERR_NOMEM also when this thread has no cache (use cf_api_agents_servers). */
CF_MUST_USE cf_err_t cf_api_agents_servers_text(const cf_app_t *app, cf_store_t *store,
                                                const char **out);

/* The canonical ranges text of a server record ("a, b"; NULL or "" = none) as a JSON
   array of range strings, the caller's; NULL on out of memory. Defined in
   cf_api_servers.c. */
json_t *cf_api_ranges_json(const char *ranges);

/* Who is calling an agent route (check-in, report): from the agent certificate when it
   names its agent (the body's "id", if given, must match: 403 otherwise), else from the
   body's "id" (no certificate while allow-plain is on, or the shared agent certificate).
   *version gets the body's "version" (NULL when absent; borrowed from the body); a body
   "protocol" must be an integer >= 1. Returns 1, or 0 after answering (400 or 403). */
int cf_api_agent_identity(cf_req_t *req, const cf_https_peer_t *peer, const char **id,
                          const char **version);

/* The check-in answer's "jobs" (a new array, the caller's; NULL only when out of memory):
   the agent's open jobs (pending, delivered), each built and signed for it as the broker
   link sends it (cf_link_agent_jobs), and, for lock attention, the current certificate
   (the agent's own record, else "shared") as an install job sealed to its CURVE key
   (none: not offered). upgrade (1..255; 0 = none) first records that protocol level for
   the agent and moves its too_old entries the level now satisfies (cf_db_job_upgrade). Store
   failures are logged and give a shorter list: a check-in never fails for its jobs. In
   cf_api_agent_jobs.c. */
json_t *cf_api_agent_jobs(cf_app_t *app, cf_store_t *store, const char *id, int attention,
                          unsigned upgrade);
/* POST /api/v1/agent/report (agent route). In cf_api_agent_jobs.c. */
void cf_api_agent_report(cf_req_t *req, void *arg);

#endif
