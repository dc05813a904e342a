/*  cf_itest_link - broker-link tests' fixture: redis-server, a cf-server with --broker linked
    to a stand-in broker (a CURVE ROUTER whose ZAP handler allows the server's registered
    key), agents with records and CURVE keys, and message helpers on the stand-in's side  */
#ifndef CF_ITEST_LINK_H_INCLUDED
#define CF_ITEST_LINK_H_INCLUDED

#include <stddef.h>

#include "cf_ca.h"
#include "cf_curve.h"
#include "cf_itest.h"
#include "cf_itest_server.h"
#include "cf_itest_zap.h"
#include "cf_link.h"
#include "cf_job.h"
#include "cf_msg.h"
#include "cf_seal.h"
#include "cf_store.h"

#define CF_ITEST_LINK_ALIAS  "srv-l"        /* the cf-server's alias */
#define CF_ITEST_LINK_RID    "server:srv-l" /* its routing id at the stand-in */
#define CF_ITEST_LINK_AGENTS 4              /* agent-1 .. agent-4 */
#define CF_ITEST_LINK_WAIT   8000           /* ms any expected message may take */

typedef struct {
    char dir[512];                                     /* logs, secret, ca.pem, certificates */
    cf_itest_redis_t redis;                            /* the Redis */
    cf_itest_zap_fix_t *broker;                        /* the stand-in broker */
    cf_itest_server_t srv;                             /* cf-server --broker */
    cf_store_t *store;                                 /* the test's connection */
    cf_seal_t *seal;                                   /* the deployment secret */
    cf_ca_t *ca;                                       /* the deployment's CA */
    cf_curve_keypair_t agent_kp[CF_ITEST_LINK_AGENTS]; /* CURVE keys of agent-1.. */
    char agent_id[CF_ITEST_LINK_AGENTS][16];           /* "agent-1" .. */
} cf_itest_link_t;

extern cf_itest_link_t cf_itest_link; /* the fixture of a test program */

/* cmocka group set-up: all of the above. agent-1, agent-2 and agent-4 register a CURVE key,
   agent-3 has none; every agent has a record (a check-in in Redis). Waits until the
   server's link has finished its CURVE handshake with the stand-in. */
int cf_itest_link_setup(const char *name);
int cf_itest_link_teardown(void **state);

/* An in-process cf_link of a server alias (a serverAuth certificate from the fixture's CA
   put in Redis: the signer) to the stand-in broker, its app in *app and its store settings
   in *scfg (both outlive the link), lone RECEIPTs held hold_ms (0: the default, < 0: none).
   Its key is not on the stand-in's allow list yet. Fails the test on error. */
cf_link_t *cf_itest_link_inproc(const char *alias, int hold_ms, cf_app_t **app,
                                cf_store_cfg_t *scfg);
/* The same, its RECEIPTs and REPORTs gathered up to gather_ms (cf_link_cfg_t's
   fact_gather_ms: 0 the default, < 0 none). */
cf_link_t *cf_itest_link_inproc_gather(const char *alias, int hold_ms, int gather_ms,
                                       cf_app_t **app, cf_store_cfg_t *scfg);

/* The stand-in sends m to the peer with routing id rid; fails the test on error. */
void cf_itest_link_send(const char *rid, const cf_msg_t *m);
/* The next message the stand-in receives within wait_ms, decoded into *m (cf_msg_clear
   it), its sender's routing id into rid (64 bytes; may be NULL): 1, or 0 when none came. */
int cf_itest_link_recv(int wait_ms, cf_msg_t *m, char *rid);
/* Receive until a message of type for agent and job_id ("" = any) comes (others are
   skipped) and return 1 with it in *m, or 0 after wait_ms. */
int cf_itest_link_expect(int wait_ms, cf_msg_type_t type, const char *agent, const char *job_id,
                         cf_msg_t *m);
/* Send HELLO for agent at protocol level proto through rid. */
void cf_itest_link_hello(const char *rid, const char *agent, unsigned proto);

/* Create a job in Redis (cf_db_job_create): a fresh id into id_out (33 bytes), type, params
   (JSON), min_proto, for the n agents; valid for an hour. */
void cf_itest_link_job(cf_job_type_t type, const char *params, unsigned min_proto,
                       const char *const *agents, size_t n, char *id_out);
/* The same with the job's target description ("all": the link sends a shared copy). */
void cf_itest_link_job_to(const char *target, cf_job_type_t type, const char *params,
                          unsigned min_proto, const char *const *agents, size_t n, char *id_out);
/* The state name of (job, agent) in Redis, "" when there is no entry (static buffer). */
const char *cf_itest_link_state(const char *job_id, const char *agent);
/* Verify a JOB's bytes as agent i (0-based) does and return the job (fails otherwise). */
cf_job_t *cf_itest_link_verify(const cf_msg_t *m, size_t i);

#endif
