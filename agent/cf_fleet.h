/*  cf_fleet - N simulated agents in one thread: CURVE DEALER links, jobs, receipts, reports  */
#ifndef CF_FLEET_H_INCLUDED
#define CF_FLEET_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "cf_cert.h"
#include "cf_curve.h"
#include "cf_err.h"
#include "cf_job.h"
#include "cf_msg.h"
#include "cf_zsock.h"

/* The agent side of docs/PROTOCOL.md for a whole fleet at once (docs/agent.md). Each agent
   has its own id, CURVE keypair and DEALER (routing id = agent id) to one broker of a list;
   on every (re)connect it says HELLO, on a JOB it sends a RECEIPT at once, verifies the job
   (cf_job_verifier), carries it out in memory and sends a REPORT, and resends both with
   randomized exponential back-off until the matching ACK arrives; the first resend waits
   at least the agent's own round-trip timeout (cf_fleet_rto, learned from its ACKs), so a
   merely slow ACK in a busy pipeline is not answered by a resend. A job is never applied
   twice. All agents live in one thread (a CZMQ actor) with one epoll over every socket;
   the calls below are synchronous requests to that thread, made from one thread. */
#define CF_FLEET_MAX_AGENTS  18000 /* per process: ~2 descriptors each, 20,000 allowed */
#define CF_FLEET_PREFIX_MAX  48    /* agent id prefix, bytes */
#define CF_FLEET_FAILOVER_MS 30000 /* default: link down this long -> next broker */
#define CF_FLEET_OPEN_WAIT_MS                                     \
    1000 /* a fresh link not up after 0.5..1 x this (doubling) is \
            opened again (a refused handshake is never retried) */
#define CF_FLEET_RESEND_MIN_MS                                                                 \
    1000                                 /* default: first resend after 0.5..1 x this at least \
                                            (later: the round-trip timeout, cf_fleet_rto) */
#define CF_FLEET_RESEND_MAX_MS  60000    /* default: cap of the doubling back-off */
#define CF_FLEET_JOBS_PER_AGENT 256      /* jobs one agent remembers (replay memory) */
#define CF_FLEET_TALLY_MAX      1024     /* job ids whose acks the fleet counts */
#define CF_FLEET_ALL            SIZE_MAX /* cf_fleet_set_online: every agent */

/* Hooks, called in the fleet's thread (keep them short; never call cf_fleet_* from them).
   agent is the agent's index (0..count-1). */
/* A CHECKIN arrived (job_id "" = no particular job): the HTTPS check-in comes with issue 5. */
typedef void (*cf_fleet_checkin_fn)(void *ctx, size_t agent, const char *job_id);
/* A verified renew_csr job: make a key and a CSR, get it signed (issue 5). CF_OK with the
   new certificate's fingerprint (64 lowercase hex) in fpr_out, or an error with a reason
   in why, which the agent reports as failed(reason). */
typedef cf_err_t (*cf_fleet_renew_fn)(void *ctx, size_t agent, const char *job_id,
                                      char fpr_out[CF_MSG_FPR_HEX + 1], cf_why_t *why);

/* A real agent (count 1) carries out each JOB itself: verify, install, remember (its own
   replay memory). CF_OK = installed, else failed with a reason in why; *expires_out the
   job's expiry (0 when unknown); fpr_out (holds the certificate in use on entry) the
   certificate in use afterwards. The fleet's own verifier is then not used.
   CF_ERR_PENDING: the outcome comes later through cf_fleet_complete (the RECEIPT goes out
   now, the REPORT then; a copy of the job meanwhile only gets its RECEIPT again). */
typedef cf_err_t (*cf_fleet_job_fn)(void *ctx, size_t agent, const char *job_id, const void *job,
                                    size_t len, int64_t *expires_out,
                                    char fpr_out[CF_MSG_FPR_HEX + 1], cf_why_t *why);
/* The REPORT of job_id was acknowledged (stored by a server). */
typedef void (*cf_fleet_acked_fn)(void *ctx, size_t agent, const char *job_id);
/* The agent's link came up (it said HELLO): a real agent checks in over HTTPS then. */
typedef void (*cf_fleet_link_fn)(void *ctx, size_t agent);

typedef struct {
    size_t count;                       /* agents, 1..CF_FLEET_MAX_AGENTS */
    size_t first;                       /* number of the first agent (ids first..first+count-1) */
    const char *id_prefix;              /* ids are <prefix><number>; NULL = "sim-" */
    const cf_curve_broker_t *brokers;   /* broker list (copied); agent i starts at i % n */
    size_t n_brokers;                   /* 1..CF_CURVE_BROKERS_MAX */
    const cf_cert_t *ca;                /* trust anchor for job signers (a reference is kept) */
    unsigned proto;                     /* protocol level in HELLO; 0 = CF_JOB_PROTO */
    const char *sw_version;             /* HELLO text (printable, <= 64); NULL = built in */
    int failover_ms;                    /* 0 = CF_FLEET_FAILOVER_MS */
    int resend_min_ms;                  /* 0 = CF_FLEET_RESEND_MIN_MS */
    int resend_max_ms;                  /* 0 = CF_FLEET_RESEND_MAX_MS */
    int start_spread_ms;                /* 0: all connect at once; else each agent connects at a
                                           random moment within this time (a fleet booting) */
    int start_offline;                  /* 1: no agent connects until cf_fleet_set_online (put
                                           the keys on the broker's allow list first) */
    const cf_zsock_cfg_t *zcfg;         /* DEALER tuning (copied); NULL = defaults */
    cf_fleet_checkin_fn on_checkin;     /* optional */
    cf_fleet_renew_fn on_renew;         /* optional: without it renew_csr fails with a reason */
    void *hook_ctx;                     /* passed to the hooks */
    const char *agent_id;               /* count 1 only: this id instead of <prefix><first>
                                           (read by cf_fleet_new only) */
    const cf_curve_keypair_t *keypair;  /* count 1 only: this keypair (copied) instead of a
                                           fresh one (read by cf_fleet_new only) */
    const cf_curve_keypair_t *keypairs; /* optional: count keypairs (copied) instead of fresh
                                           ones (a simulator restoring its agents; read by
                                           cf_fleet_new only; not with keypair) */
    cf_fleet_job_fn on_job;             /* optional: a real agent's own job handling */
    int on_job_quick;                   /* 1: on_job returns at once (anything slow it leaves
                                           CF_ERR_PENDING): the job runs before any RECEIPT,
                                           which goes only when it is left pending; 0: a
                                           RECEIPT goes first unless the job's type finishes
                                           at once (read from the job: one more parse) */
    cf_fleet_acked_fn on_acked;         /* optional */
    cf_fleet_link_fn on_link;           /* optional */
} cf_fleet_cfg_t;

/* Fault injection (tests). */
typedef struct {
    unsigned fail_pct;                     /* 0..100: share of verified jobs that fail */
    char fail_reason[CF_MSG_TEXT_MAX + 1]; /* their reason; "" = "injected failure" */
    int drop_first_receipt;                /* 1: each job's first RECEIPT is not sent */
    int hold_reports; /* 1: a job finished at once sends its RECEIPT and keeps its REPORT
                         until cf_fleet_release (a benchmark's phase of REPORTs alone) */
} cf_fleet_fault_t;

/* Fleet-wide counters since the start. */
typedef struct {
    uint64_t connects;               /* links that came up (each sends HELLO) */
    uint64_t disconnects;            /* links that went down */
    uint64_t failovers;              /* moves to the next broker of the list */
    uint64_t reopens;                /* fresh DEALERs to the same broker (one did not come up) */
    uint64_t jobs;                   /* JOB messages received */
    uint64_t duplicates;             /* JOBs for a job whose REPORT awaits its ACK */
    uint64_t jobs_dropped;           /* JOBs dropped: the agent's job memory is full */
    uint64_t receipts;               /* RECEIPTs sent, first ones */
    uint64_t receipts_dropped;       /* first RECEIPTs not sent (fault injection) */
    uint64_t receipt_resends;        /* RECEIPTs sent again */
    uint64_t reports;                /* REPORTs sent, first ones */
    uint64_t report_resends;         /* REPORTs sent again */
    uint64_t acks_receipt;           /* ACKs of a RECEIPT, first per job and agent */
    uint64_t acks_report;            /* ACKs of a REPORT, first per job and agent */
    uint64_t acks_stale;             /* ACKs for nothing waiting (repeats, unknown jobs) */
    uint64_t installed;              /* jobs carried out */
    uint64_t failed;                 /* jobs reported failed (refusals included) */
    uint64_t refused[CF_ERR_COUNT_]; /* jobs refused, by the verifier's error code */
    uint64_t checkins;               /* CHECKINs received */
    uint64_t renewals;               /* renew_csr jobs taken */
    uint64_t bad_msgs;               /* messages that do not decode or do not belong */
    uint64_t send_fails;             /* sends refused by the link (down or full) */
} cf_fleet_stats_t;

/* One agent's view. */
typedef struct {
    char id[CF_MSG_AGENT_MAX + 1];       /* agent id */
    int online;                          /* 0 after cf_fleet_set_online(..., 0) */
    int link_up;                         /* its DEALER has a live connection */
    size_t broker;                       /* index of the broker it uses now */
    char fpr[CF_MSG_FPR_HEX + 1];        /* certificate in use, "" none */
    char favorite[CF_JOB_ALIAS_MAX + 1]; /* favorite server alias, "" none */
    uint32_t jobs, receipts, reports;    /* received; sent (first ones) */
    uint32_t resends, acks;              /* RECEIPT+REPORT resends; ACKs taken */
    uint32_t installed, failed, refused; /* outcomes */
    uint32_t checkins, renewals, hellos; /* CHECKINs, renew jobs, HELLOs sent */
    uint32_t waiting;                    /* jobs whose REPORT awaits its ACK */
    uint32_t srtt_ms;                    /* smoothed RECEIPT/REPORT-to-ACK time, 0 none yet */
    uint32_t first_resend_ms;            /* b: a new job's first resend comes in [b/2, b] */
} cf_fleet_agent_info_t;

typedef struct cf_fleet cf_fleet_t;

/* Make count keypairs and agents and start the fleet's thread, which connects every agent
   to its broker. *out is the caller's (cf_fleet_destroy). The process needs about two open
   files per agent (raise the limit first: cf_zsock_raise_nofile). Errors: CF_ERR_INVALID
   (a field, with why), CF_ERR_TOOBIG (count over the cap or over what the open-file limit
   holds), CF_ERR_NOMEM, CF_ERR_IO (sockets). */
CF_MUST_USE cf_err_t cf_fleet_new(const cf_fleet_cfg_t *cfg, cf_fleet_t **out, cf_why_t *why);
/* Stop the thread, close every link, wipe the secret keys; NULLs *self_p; safe to repeat. */
void cf_fleet_destroy(cf_fleet_t **self_p);

/* Number of agents. */
size_t cf_fleet_size(const cf_fleet_t *self);
/* Agent i's id and CURVE public key (what the broker's allow list needs). No request to
   the thread: both are fixed at cf_fleet_new. Errors: CF_ERR_INVALID (i out of range). */
CF_MUST_USE cf_err_t cf_fleet_identity(const cf_fleet_t *self, size_t i,
                                       char id_out[CF_MSG_AGENT_MAX + 1],
                                       unsigned char pub_out[CF_CURVE_KEY_LEN]);

/* Agent i's CURVE keypair, fixed at cf_fleet_new (no request to the thread; callable from
   the hooks): the simulator opens sealed keys with it. The secret is the caller's to wipe
   (cf_curve_keypair_wipe). Errors: CF_ERR_INVALID (i out of range). */
CF_MUST_USE cf_err_t cf_fleet_keypair(const cf_fleet_t *self, size_t i, cf_curve_keypair_t *out);

/* The outcome of a job agent i's on_job left pending (CF_ERR_PENDING): rc CF_OK installed,
   else failed with reason (printable, cut to CF_MSG_TEXT_MAX; NULL = "failed"); fpr (64
   hex, or NULL/"" = unchanged) the certificate in use afterwards. The REPORT goes out at
   once and is resent until acknowledged. Errors: CF_ERR_NOTFOUND (no such job waiting),
   CF_ERR_INVALID, CF_ERR_IO. */
CF_MUST_USE cf_err_t cf_fleet_complete(cf_fleet_t *self, size_t i, const char *job_id, cf_err_t rc,
                                       const char *fpr, const char *reason);

/* Counters of the whole fleet. Errors: CF_ERR_INVALID, CF_ERR_IO (thread gone). */
CF_MUST_USE cf_err_t cf_fleet_stats(cf_fleet_t *self, cf_fleet_stats_t *out);
/* Agent i's state and counters. Errors: CF_ERR_INVALID (i), CF_ERR_IO. */
CF_MUST_USE cf_err_t cf_fleet_agent_info(cf_fleet_t *self, size_t i, cf_fleet_agent_info_t *out);
/* Set the fault injection for what comes next (copied). Errors: CF_ERR_INVALID (pct > 100,
   a reason that is not printable ASCII), CF_ERR_IO. */
CF_MUST_USE cf_err_t cf_fleet_set_fault(cf_fleet_t *self, const cf_fleet_fault_t *fault);
/* Send every REPORT held back (cf_fleet_fault_t.hold_reports), each then resent until
   acknowledged as any other; *n_out (optional) how many. Holding goes on while the fault
   says so. Errors: CF_ERR_INVALID, CF_ERR_IO. */
CF_MUST_USE cf_err_t cf_fleet_release(cf_fleet_t *self, size_t *n_out);
/* Take agent i (or CF_FLEET_ALL) off line (its link is closed; it remembers its jobs and
   keeps nothing in flight) or back on line (it connects again and says HELLO).
   Errors: CF_ERR_INVALID (i), CF_ERR_IO. */
CF_MUST_USE cf_err_t cf_fleet_set_online(cf_fleet_t *self, size_t i, int online);
/* How many agents hold an ACK of their REPORT for job_id (32 lowercase hex); 0 for a job
   the fleet has not seen. Errors: CF_ERR_INVALID, CF_ERR_IO. */
CF_MUST_USE cf_err_t cf_fleet_acked(cf_fleet_t *self, const char *job_id, size_t *n_out);
/* Wait until n agents (0 = all) hold an ACK of their REPORT for job_id, at most timeout_ms.
   The fleet keeps running meanwhile; the caller's thread blocks. Errors: CF_ERR_NOTFOUND
   (fewer by the deadline), CF_ERR_INVALID, CF_ERR_TOOBIG (more than the fleet), CF_ERR_IO. */
CF_MUST_USE cf_err_t cf_fleet_wait_acked(cf_fleet_t *self, const char *job_id, size_t n,
                                         int timeout_ms);

#endif
