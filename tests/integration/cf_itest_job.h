/*  cf_itest_job - job store fixtures: agents in bulk, jobs, and the counter invariant check  */
#ifndef CF_ITEST_JOB_H_INCLUDED
#define CF_ITEST_JOB_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "cf_db_job.h"
#include "cf_store.h"

/* Register agents "<prefix><i>" for i in [first, first + n) as known agents (a minimal
   cf:agent:{id} record, lock insecure, in cf:agents:insecure), with protocol level proto (0: no
   proto field), in one script call per 10,000. Fails the test on error. */
void cf_itest_job_agents(cf_store_t *store, const char *prefix, size_t first, size_t n,
                         unsigned proto);

/* A new array of the ids "<prefix><i>" for i in [first, first + n); free with
   cf_itest_job_ids_free. */
char **cf_itest_job_ids(const char *prefix, size_t first, size_t n);
void cf_itest_job_ids_free(char **ids, size_t n);

/* A job spec for id over agents with defaults (install_cert, created 1000, expires
   created + 3600, issuer srv1, by admin, min_proto 1, params {}, target "test"). */
cf_db_job_spec_t cf_itest_job_spec(const char *id, const char *const *agents, size_t n);

/* Recount job id from its entries and check every invariant of the store: the counters
   equal the entries per state and add up to total; an agent's sorted set holds the job
   exactly when its entry is not final, with the job's expiry as score; reasons only for
   failed entries; done exactly when no entry is open, then out of cf:jobs:open with a TTL
   on the job's keys, else in cf:jobs:open (score = expires) without one. Fails the test
   with the first broken invariant. */
void cf_itest_job_check(cf_store_t *store, const char *id);
/* The same check, answering "ok" or the first broken invariant in buf (returned). */
const char *cf_itest_job_verify(cf_store_t *store, const char *id, char *buf, size_t buflen);

#endif
