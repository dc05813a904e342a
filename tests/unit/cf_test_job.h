/*  cf_test_job - the job fixture the job unit tests share  */
#ifndef CF_TEST_JOB_H_INCLUDED
#define CF_TEST_JOB_H_INCLUDED

#include <stddef.h>
#include <time.h>

#include "cf_ca.h"
#include "cf_job.h"

#define CF_TEST_JOB_AGENT "ws-0042.corp"
#define CF_TEST_JOB_CHAIN "-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----\n"
#define CF_TEST_JOB_KEY   "-----BEGIN PRIVATE KEY-----\nMIGH...\n-----END PRIVATE KEY-----\n"

typedef struct {
    cf_ca_t *ca;                    /* the CA */
    cf_cert_t *server;              /* serverAuth, from ca */
    cf_key_t *server_key;           /* its key */
    cf_cert_t *agent;               /* clientAuth agent certificate, from ca */
    cf_key_t *agent_key;            /* its key */
    unsigned char pub[32], sec[32]; /* the agent's CURVE key pair */
    time_t now;                     /* when the fixture was made */
} cf_test_job_t;

/* Make the fixture (0) or fail (-1); cf_test_job_teardown frees it. */
int cf_test_job_setup(cf_test_job_t *f);
void cf_test_job_teardown(cf_test_job_t *f);
/* A replay check that has seen nothing. */
cf_err_t cf_test_job_never_seen(void *ctx, const char *job_id);
/* A new job of the given type for CF_TEST_JOB_AGENT, valid for a day, payload filled in. */
cf_job_t *cf_test_job_new(const cf_test_job_t *f, cf_job_type_t type);
/* job signed by the fixture's server, as wire bytes (caller frees with cf_mem_free). */
char *cf_test_job_signed_wire(const cf_test_job_t *f, cf_job_t *job, size_t *len);
/* A certificate from ca for agent name certifying key's public half, as DER (cf_mem_free). */
unsigned char *cf_test_job_issue(cf_ca_t *ca, const char *name, const cf_key_t *key, size_t *len);
/* A reissue job for CF_TEST_JOB_AGENT carrying der, signed by the fixture's server and
   verified back as the agent receives it (cf_job_destroy). */
cf_job_t *cf_test_job_received_reissue(const cf_test_job_t *f, const unsigned char *der,
                                       size_t len);

#endif
