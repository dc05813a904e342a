/*  cf_api_jobs_int - what the /jobs route files share: the parsed create request, target
    resolution, the job's JSON shape  */
#ifndef CF_API_JOBS_INT_H_INCLUDED
#define CF_API_JOBS_INT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cf_app.h"
#include "cf_db_agent.h"
#include "cf_db_audit.h"
#include "cf_db_job.h"
#include "cf_iprange.h"
#include "cf_job.h"

#define CF_API_JOBS_TARGETS_MAX CF_DB_JOB_TARGETS_MAX /* agents one job may reach */
#define CF_API_JOBS_TTL_DEFAULT (7 * 86400)          /* a job's lifetime when the body gives none */
#define CF_API_JOBS_TTL_MAX     CF_JOB_MAX_LIFETIME  /* 366 days */
#define CF_API_JOBS_BODY        (256 * 1024)         /* body cap of POST /jobs (agent lists) */
#define CF_API_JOBS_TARGET_TEXT CF_DB_JOB_TARGET_MAX /* the job's target text, with the NUL */
#define CF_API_JOBS_PARAMS_TEXT 512                  /* the job's params JSON, with the NUL */

/* How the targets of a new job are named. */
typedef enum {
    CF_API_JOBS_LIST = 0, /* "agents": explicit ids */
    CF_API_JOBS_ALL,      /* "all": every agent (the four per-lock sets) */
    CF_API_JOBS_RANGE,    /* "ip_range": agents whose last address is inside */
    CF_API_JOBS_STATE,    /* "state": agents in one lock state */
} cf_api_jobs_kind_t;

/* A checked POST /jobs body. Strings are copies; agents is borrowed from the body. */
typedef struct {
    cf_job_type_t type;                   /* what to do */
    int64_t ttl;                          /* seconds, 1..CF_API_JOBS_TTL_MAX */
    cf_api_jobs_kind_t kind;              /* how the targets are named */
    const json_t *agents;                 /* LIST: array of checked agent ids */
    cf_iprange_t range;                   /* RANGE: the range */
    cf_db_lock_t lock;                    /* STATE: the lock state */
    char cert[CF_DB_NAME_MAX + 1];        /* install_cert: agent certificate record */
    cf_job_form_t form;                   /* install_cert: pem or p12 */
    char favorite[CF_DB_ALIAS_MAX + 1];   /* set_favorite: the alias */
    char target[CF_API_JOBS_TARGET_TEXT]; /* "agents", "all", "ip_range R", "state S" */
    char params[CF_API_JOBS_PARAMS_TEXT]; /* the job's params as JSON */
    cf_db_job_rollout_t waves;            /* batch, rate, max_failures (all zero: none) */
} cf_api_jobs_spec_t;

/* Agent ids, sorted, each once. */
typedef struct {
    char (*id)[CF_DB_ID_MAX + 1]; /* owned array */
    size_t n;                     /* ids held */
    size_t cap;                   /* room */
} cf_api_jobs_ids_t;

/* The agents spec names, sorted and without duplicates, into *ids (cleared first; free
   with cf_api_jobs_ids_free). ip_range/state page through cf_db_agent_list
   (CF_DB_PAGE_MAX agents per 2 RT). Not for all: the create script reads every agent
   itself (cf_db_job_spec_t.all), CF_ERR_INVALID here. Errors (why says): CF_ERR_INVALID (no agent
   matches), CF_ERR_TOOBIG (more than CF_API_JOBS_TARGETS_MAX), Redis errors, CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_api_jobs_resolve(cf_store_t *store, const cf_api_jobs_spec_t *spec,
                                         cf_api_jobs_ids_t *ids, cf_why_t *why);
void cf_api_jobs_ids_free(cf_api_jobs_ids_t *ids); /* frees and zeroes; safe on zeroed */

/* Check a POST /jobs body into *spec (the store answers whether the certificate record and
   the favorite's server exist). Errors with why: CF_ERR_INVALID (400: a field),
   CF_ERR_NOTFOUND (404: no such certificate record or server), CF_ERR_NOKEY (422: the
   record has no private key to push), Redis errors. */
CF_MUST_USE cf_err_t cf_api_jobs_parse(cf_store_t *store, const json_t *body,
                                       cf_api_jobs_spec_t *spec, cf_why_t *why);

/* POST /api/v1/jobs (cf_api_jobs_create.c). */
void cf_api_jobs_create(cf_req_t *req, void *app);

/* GET /api/v1/jobs/:id/events: server-sent events of the job's progress
   (cf_api_jobs_watch.c). */
void cf_api_jobs_watch(cf_req_t *req, void *app);

/* A job in the API's shape, the caller's; NULL on out of memory. */
json_t *cf_api_jobs_json(const cf_db_job_t *job);

/* Check batch (1..CF_DB_JOB_WAVE_MAX), rate (1..CF_DB_JOB_WAVE_MAX per second) and
   max_failures (0..100) of a POST /jobs body into *waves (absent: zero). CF_ERR_INVALID
   with why (cf_api_jobs_ctl.c). */
CF_MUST_USE cf_err_t cf_api_jobs_waves_parse(const json_t *body, cf_db_job_rollout_t *waves,
                                             cf_why_t *why);
/* The job's "rollout" member: {"batch","rate","max_failures","paused","aborted"}, the
   caller's; NULL on out of memory (cf_api_jobs_ctl.c). */
json_t *cf_api_jobs_rollout_json(const cf_db_job_t *job);
/* POST /api/v1/jobs/:id/pause and /resume (admin, audited) (cf_api_jobs_ctl.c). */
void cf_api_jobs_pause(cf_req_t *req, void *app);
void cf_api_jobs_resume(cf_req_t *req, void *app);

/* Hand a job to this server's broker link; a failure is logged (its entries stay pending
   and go out at check-in or HELLO). */
void cf_api_jobs_send(cf_app_t *app, const char *id);

#endif
