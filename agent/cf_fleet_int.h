/*  cf_fleet_int - the fleet's private state, shared by its three source files  */
#ifndef CF_FLEET_INT_H_INCLUDED
#define CF_FLEET_INT_H_INCLUDED

#include <stdint.h>

#include <czmq.h>

#include "cf_fleet.h"
#include "cf_fleet_rto.h"

#define CF_FLEET_TICK_MS 10 /* timer scans over all agents are at least this far apart */

/* What one agent remembers of one job: enough to resend its RECEIPT and REPORT until
   acknowledged, and to refuse the job if it comes again after it was applied. */
typedef struct {
    char id[CF_MSG_JOB_ID_HEX + 1]; /* job id */
    int64_t expires;                /* Unix s: forgotten after this (the verifier refuses
                                       an expired job anyway, so no replay slips through) */
    int64_t next_ms;                /* monotonic ms of the next resend; 0 = none */
    uint32_t backoff_ms;            /* current back-off */
    int64_t sent_ms;                /* monotonic ms the message awaiting its ACK first went
                                       out: its ACK is a round-trip sample; 0 = none (the link
                                       went down meanwhile, or sampled already) */
    uint8_t applied;                /* 1: carried out (a replay is refused) */
    uint8_t receipt_acked;          /* 1: the RECEIPT is stored */
    uint8_t report_acked;           /* 1: the REPORT is stored: nothing more to send */
    uint8_t outcome;                /* CF_MSG_INSTALLED or CF_MSG_FAILED */
    uint8_t deferred;               /* 1: on_job said CF_ERR_PENDING: cf_fleet_complete */
    uint8_t held;                   /* deferred by hold_reports: the outcome to report at
                                       cf_fleet_release; 0 none */
    char fpr[CF_MSG_FPR_HEX + 1];   /* fingerprint reported, "" none */
    char *reason;                   /* failed: reason (owned) until the REPORT is acked */
} cf_fleet_rec_t;

/* Per-agent counters (cf_fleet_agent_info_t shows them). */
typedef struct {
    uint32_t jobs, receipts, reports, resends, acks; /* see cf_fleet_agent_info_t */
    uint32_t installed, failed, refused, checkins;   /* outcomes, CHECKINs */
    uint32_t renewals, hellos;                       /* renew jobs, HELLOs */
} cf_fleet_counts_t;

typedef struct {
    char id[CF_MSG_AGENT_MAX + 1]; /* fixed at creation (read by other threads) */
    cf_curve_keypair_t kp;         /* fixed at creation; secret wiped at destroy */
    void *sock;                    /* DEALER (the fleet's context), NULL while off line */
    int fd;                        /* its ZMQ_FD, -1 none */
    uint8_t broker;                /* index in the broker list */
    uint8_t link_up;               /* the DEALER has a connection (POLLOUT, IMMEDIATE) */
    uint8_t online;                /* 0: taken off line by a test */
    uint8_t in_service;            /* s_service is running for it (no re-entry) */
    int64_t link_deadline;         /* monotonic ms: reopen or fail over if still down; 0 none */
    int64_t failover_at;           /* monotonic ms: from then a reopen goes to the next broker */
    uint8_t opens;                 /* fresh DEALERs to this broker that did not come up */
    int64_t hello_ms;              /* monotonic ms: say HELLO again (no server took it); 0 none */
    uint32_t hello_backoff_ms;     /* current back-off of those HELLOs; 0 after a connect */
    cf_job_verifier_t *verifier;   /* made at the first job, keeps its signer cache */
    cf_fleet_rto_t rto;            /* round trips seen: when a first resend is due */
    cf_fleet_rec_t *recs;          /* remembered jobs (owned) */
    uint16_t n_recs, cap_recs;     /* used, allocated */
    char fpr[CF_MSG_FPR_HEX + 1];  /* certificate in use, "" none */
    char *favorite;                /* favorite alias (owned), NULL none */
    cf_fleet_counts_t counts;      /* counters */
} cf_fleet_agent_t;

/* A deferred outcome (cf_fleet_complete), handed to the fleet's thread. */
typedef struct {
    size_t agent;                       /* index */
    char job_id[CF_MSG_JOB_ID_HEX + 1]; /* the job */
    cf_err_t rc;                        /* CF_OK installed, else failed */
    char fpr[CF_MSG_FPR_HEX + 1];       /* certificate in use afterwards, "" unchanged */
    char reason[CF_MSG_TEXT_MAX + 1];   /* failed: why */
} cf_fleet_complete_t;

/* Acks per job id, for cf_fleet_acked / cf_fleet_wait_acked. */
typedef struct {
    char id[CF_MSG_JOB_ID_HEX + 1]; /* job id */
    size_t acked;                   /* agents whose REPORT is acked */
} cf_fleet_tally_t;

struct cf_fleet {
    cf_fleet_cfg_t cfg; /* copy; brokers, zcfg, strings point into the fields below */
    cf_curve_broker_t brokers[CF_CURVE_BROKERS_MAX]; /* broker list */
    cf_zsock_cfg_t zcfg;                             /* DEALER tuning */
    char prefix[CF_FLEET_PREFIX_MAX + 1];            /* id prefix */
    char sw_version[CF_MSG_VERSION_MAX + 1];         /* HELLO text */
    cf_cert_t *ca;                                   /* own reference */
    cf_fleet_agent_t *agents;                        /* cfg.count agents */
    void *zctx;      /* libzmq context of the DEALERs (sized to the fleet) */
    zactor_t *actor; /* the fleet's thread */
    /* Below: touched by the fleet's thread only. */
    int epfd;                   /* epoll over the pipe and every DEALER's ZMQ_FD */
    int64_t next_due;           /* earliest timer (resend, failover), monotonic ms */
    int64_t last_scan;          /* when the timers last ran, monotonic ms */
    cf_fleet_fault_t fault;     /* fault injection */
    cf_fleet_stats_t stats;     /* fleet counters */
    cf_fleet_tally_t *tally;    /* ring of CF_FLEET_TALLY_MAX job ids */
    size_t n_tally, tally_next; /* used, next slot to overwrite */
};

/* cf_fleet_link.c: sockets and timers, run in the fleet's thread. */
/* Open agent a's DEALER to its broker (nothing if it is off line or has one). */
CF_MUST_USE cf_err_t cf_fleet_link_open(cf_fleet_t *f, size_t a);
/* Close agent a's DEALER (if any); its link is down. */
void cf_fleet_link_close(cf_fleet_t *f, size_t a);
/* Read what agent a's DEALER holds and follow its link state (HELLO on connect). */
void cf_fleet_link_service(cf_fleet_t *f, size_t a);
/* Send m as agent a; CF_ERR_IO when the link takes nothing now (counted). */
CF_MUST_USE cf_err_t cf_fleet_link_send(cf_fleet_t *f, size_t a, const cf_msg_t *m);
/* Make sure the loop wakes by at_ms. */
void cf_fleet_link_wake(cf_fleet_t *f, int64_t at_ms);
/* Say HELLO again after back-off (the broker answered ERROR internal: no server took it). */
void cf_fleet_link_hello_later(cf_fleet_t *f, size_t a, int64_t now_ms);
/* Fail agents over, fire due resends and HELLOs; recompute next_due. */
void cf_fleet_link_timers(cf_fleet_t *f, int64_t now_ms);

/* cf_fleet_agent.c: the protocol of one agent. */
/* Agent a received m (decoded). */
void cf_fleet_agent_on_msg(cf_fleet_t *f, size_t a, const cf_msg_t *m);
/* Agent a's link just came up: resend what waits for an ACK soon (jittered). */
void cf_fleet_agent_on_connect(cf_fleet_t *f, size_t a, int64_t now_ms);
/* Resend what is due for agent a (*sent grows by the jobs resent); returns its next due
   time (0 = none). */
int64_t cf_fleet_agent_resend(cf_fleet_t *f, size_t a, int64_t now_ms, int *sent);
/* 1 when a resend of agent a is due at now_ms. */
int cf_fleet_agent_resend_due(const cf_fleet_t *f, size_t a, int64_t now_ms);
/* Free what agent a owns (records, verifier, favorite). */
void cf_fleet_agent_clear(cf_fleet_agent_t *ag);
/* Acks counted for job_id (0 when unknown). */
size_t cf_fleet_agent_acked(const cf_fleet_t *f, const char *job_id);
/* The deferred outcome of c: recorded and REPORTed. CF_ERR_NOTFOUND when the agent has no
   such job waiting for its outcome; CF_ERR_INVALID for a bad agent index. */
cf_err_t cf_fleet_agent_complete(cf_fleet_t *f, const cf_fleet_complete_t *c);
/* install_cert for agent ag: its certificate in use becomes the job's leaf. */
cf_err_t cf_fleet_install(cf_fleet_agent_t *ag, const cf_job_t *job, cf_why_t *why);
/* Send every REPORT held back by hold_reports; how many. */
size_t cf_fleet_agent_release(cf_fleet_t *f);
/* Fill out for agent a. */
void cf_fleet_agent_info_fill(const cf_fleet_t *f, size_t a, cf_fleet_agent_info_t *out);

#endif
