/*  cf_itest_agents - fleet tests' fixture: a bare CURVE ROUTER playing broker and server,
    a CA with a job signer, jobs built for fleet agents, and what the ROUTER received  */
#ifndef CF_ITEST_AGENTS_H_INCLUDED
#define CF_ITEST_AGENTS_H_INCLUDED

#include <stddef.h>

#include "cf_ca.h"
#include "cf_fleet.h"
#include "cf_itest_zap.h"
#include "cf_msg.h"

#define CF_ITEST_AGENTS_WAIT_MS 20000 /* every wait, plus 10 ms per agent of the fleet */
#define CF_ITEST_AGENTS_LOG     32768 /* messages the fixture remembers */

/* One message the ROUTER received. */
typedef struct {
    cf_msg_type_t type;                 /* HELLO, RECEIPT, REPORT, ... */
    char agent[CF_MSG_AGENT_MAX + 1];   /* routing id it came from */
    char job_id[CF_MSG_JOB_ID_HEX + 1]; /* job, "" none */
    cf_msg_outcome_t outcome;           /* REPORT */
    unsigned proto;                     /* HELLO */
    char fpr[CF_MSG_FPR_HEX + 1];       /* REPORT */
    char text[CF_MSG_TEXT_MAX + 1];     /* reason or software version */
    long at_ms;                         /* when the fixture read it (monotonic) */
} cf_itest_agents_ev_t;

typedef struct {
    cf_itest_zap_fix_t *zap;   /* ZAP handler + the CURVE ROUTER */
    cf_ca_t *ca;               /* the CA */
    cf_cert_t *server;         /* serverAuth job signer */
    cf_key_t *server_key;      /* its key */
    cf_fleet_t *fleet;         /* the fleet under test */
    int auto_ack;              /* 1: ACK every RECEIPT and REPORT at once (default) */
    long wait_ms;              /* bound of the fixture's waits */
    cf_itest_agents_ev_t *log; /* what the ROUTER read, in order */
    size_t n_log;              /* entries */
    size_t bad;                /* messages that did not decode */
} cf_itest_agents_t;

/* Start the ROUTER, the CA and a fleet of count agents with cfg's tunables (NULL: defaults;
   count, ca and brokers are filled in here; extra_broker, if not NULL, goes first in the
   broker list). Every agent key goes on the allow list. Fails the test on error. */
cf_itest_agents_t *cf_itest_agents_start(size_t count, const cf_fleet_cfg_t *cfg,
                                         const char *extra_broker);
/* Stop the fleet, then the ROUTER; free everything. */
void cf_itest_agents_stop(cf_itest_agents_t **fx_p);
/* cmocka teardown: after a failed test, stop the fixture it left running. */
int cf_itest_agents_teardown(void **state);

/* Read what the ROUTER holds now (ACKing it when auto_ack); returns messages read. */
size_t cf_itest_agents_pump(cf_itest_agents_t *fx);
/* Pump until n log entries match (type, agent, job_id; NULL/"" = any) or the wait ends;
   returns the number matching. */
size_t cf_itest_agents_wait(cf_itest_agents_t *fx, cf_msg_type_t type, const char *agent,
                            const char *job_id, size_t n);
/* Entries matching, and the k-th of them (NULL when fewer). */
size_t cf_itest_agents_count(const cf_itest_agents_t *fx, cf_msg_type_t type, const char *agent,
                             const char *job_id);
const cf_itest_agents_ev_t *cf_itest_agents_nth(const cf_itest_agents_t *fx, cf_msg_type_t type,
                                                const char *agent, const char *job_id, size_t k);
/* Pump until every agent's REPORT of job_id is acked (cf_fleet_acked); fails the test after
   the wait. */
void cf_itest_agents_all_acked(cf_itest_agents_t *fx, const char *job_id, size_t n);

/* Agent i's id (a static buffer per call site: copy it to keep two). */
const char *cf_itest_agents_id(const cf_itest_agents_t *fx, size_t i);
/* A signed job of type for agent i (to: another addressee when not NULL), created at
   created and living ttl seconds; install_cert gets a fresh certificate for the agent
   (its fingerprint in fpr_out, may be NULL), sealed to the agent's key. Wire bytes, the
   caller's (cf_mem_free). id_out: "" = a fresh job id, else the id to use (one job's copies
   for many agents); it holds the job's id afterwards. */
char *cf_itest_agents_job(cf_itest_agents_t *fx, size_t i, cf_job_type_t type, const char *to,
                          time_t created, long ttl, char id_out[CF_MSG_JOB_ID_HEX + 1],
                          char fpr_out[CF_MSG_FPR_HEX + 1], size_t *len);
/* wire re-signed by signer/key whatever they are (a forgery the verifier must refuse). */
char *cf_itest_agents_forge(const char *wire, const cf_cert_t *signer, const cf_key_t *key,
                            size_t *len);
/* Send a JOB (job_id, bytes) to agent i through the ROUTER; CF_ERR_NOTFOUND when the agent
   is not connected. */
cf_err_t cf_itest_agents_send_job(cf_itest_agents_t *fx, size_t i, const char *job_id,
                                  const void *job, size_t len);
/* Send any message to agent i through the ROUTER. */
cf_err_t cf_itest_agents_send(cf_itest_agents_t *fx, size_t i, const cf_msg_t *m);

#endif
