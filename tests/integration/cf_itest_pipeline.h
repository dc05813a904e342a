/*  cf_itest_pipeline - end-to-end fixture: redis-server, real cf-broker processes, two real
    cf-server processes linked to them, and an in-process cf_fleet of agents whose keys and
    records are in Redis; jobs made through the API, states read back through it  */
#ifndef CF_ITEST_PIPELINE_H_INCLUDED
#define CF_ITEST_PIPELINE_H_INCLUDED

#include <stddef.h>
#include <sys/types.h>

#include "cf_curve.h"
#include "cf_fleet.h"
#include "cf_itest_broker.h"
#include "cf_itest_fleet.h"
#include "cf_job_fsm.h"

#define CF_ITEST_PIPE_BROKERS 2      /* brokers at most */
#define CF_ITEST_PIPE_AGENTS  200    /* agents at most */
#define CF_ITEST_PIPE_WAIT    120000 /* ms any wait may take (ASan on a loaded 2-core host) */
#define CF_ITEST_PIPE_PREFIX  "pc-"  /* agent i is pc-<i> */

typedef struct {
    pid_t pid;              /* the cf-broker process, 0 when stopped */
    char dir[600];          /* its keys */
    char log[700];          /* its log (appended to across restarts) */
    cf_itest_broker_t view; /* metrics_port and endpoints, for cf_itest_broker_metric */
} cf_itest_pipe_broker_t;

typedef struct {
    cf_itest_fleet_t *fx;                                  /* Redis, srv-a, srv-b, CA, admin */
    cf_itest_pipe_broker_t brokers[CF_ITEST_PIPE_BROKERS]; /* the brokers */
    size_t n_brokers;                                      /* how many */
    cf_fleet_t *fleet;                                     /* the agents */
    size_t n_agents;                                       /* how many */
    const char *gather_ms; /* the brokers' --gather-ms, NULL: their default */
} cf_itest_pipe_t;

extern cf_itest_pipe_t cf_itest_pipe; /* the fixture of a test program */

/* cmocka group set-up: the cf_itest_fleet fixture (Redis, srv-a with --init, srv-b, CA,
   admin session), n_brokers cf-broker processes (keys made with --keygen), both servers
   restarted with --broker for each and --sweep-check 1s, and a fleet of n_agents agents
   (pc-0 ..) with CURVE keys and agent records in Redis, all on line, each held by its
   broker and its HELLO taken by a server. Fails the test on any error. */
int cf_itest_pipe_setup(const char *name, size_t n_brokers, size_t n_agents);
/* The same with the brokers' --gather-ms (a string constant). */
int cf_itest_pipe_setup_gather(const char *name, size_t n_brokers, size_t n_agents,
                               const char *gather_ms);
/* cmocka group teardown: the fleet, the servers, the brokers (by PID), Redis. */
int cf_itest_pipe_teardown(void **state);

/* SIGKILL broker i by its PID (a crash). */
void cf_itest_pipe_broker_kill(size_t i);
/* Start broker i (again): same keys, endpoints and metrics port; waits for its metrics. */
void cf_itest_pipe_broker_start(size_t i);
/* Metric line of broker i (cf_itest_broker_metric), or -1. */
long cf_itest_pipe_metric(size_t i, const char *line);
/* The same summed over the running brokers. */
long cf_itest_pipe_metric_sum(const char *line);
/* Wait until the metric summed over the running brokers equals want; 1 if it did. */
int cf_itest_pipe_metric_reach(const char *line, long want);
/* Wait until it is want or more; 1 if it got there. */
int cf_itest_pipe_metric_min(const char *line, long want);

/* Restart srv (SIGKILLed or stopped) with its alias and the fixture's flags; waits until
   its link is up on every broker. */
void cf_itest_pipe_server_restart(cf_itest_server_t *srv);

/* POST /api/v1/jobs with body through srv: must answer 201; the job's id into id (33
   bytes), its total returned. */
long cf_itest_pipe_job(const cf_itest_server_t *srv, const char *body, char *id);
/* Agent i's id (a static buffer per call). */
const char *cf_itest_pipe_agent(size_t i);

/* The entries of job id read through srv's GET /jobs/:id/agents pages of limit: each
   agent's state into states[i] (CF_JOB_STATE_COUNT when it has no entry), counts per
   state into n (CF_JOB_STATE_COUNT slots); fails on an entry of an agent not in the fleet
   or seen twice. Returns the entries read. */
size_t cf_itest_pipe_states(const cf_itest_server_t *srv, const char *id, size_t limit,
                            cf_job_state_t *states, long *n);
/* The job's counts through srv's GET /jobs/:id must equal the recount of its entries and
   the job hash in Redis; total must be want_total. Returns the job's done (0 = open). */
long cf_itest_pipe_check_counts(const cf_itest_server_t *srv, const char *id, long want_total);
/* Wait until job id is closed (done set in Redis); 1 if it was. */
int cf_itest_pipe_wait_done(const char *id, int timeout_ms);

#endif
