/*  cf_link_int - the link's state, shared by the cf_link*.c files (not for handlers)  */
#ifndef CF_LINK_INT_H_INCLUDED
#define CF_LINK_INT_H_INCLUDED

#include <czmq.h>
#include <stdint.h>

#include "cf_link.h"
#include "cf_link_agent.h"
#include "cf_link_build.h"
#include "cf_link_facts.h"
#include "cf_link_queue.h"
#include "cf_link_retry.h"
#include "cf_msg.h"
#include "cf_msg_batch.h"
#include "cf_relay.h"

#define CF_LINK_TURN_MAX        1000 /* messages read from one broker per loop turn */
#define CF_LINK_POLL_MS         1000 /* the loop wakes at least this often */
#define CF_LINK_SIGNER_TTL      300  /* seconds the signer (this server's certificate) is cached */
#define CF_LINK_RID_MAX         (7 + CF_DB_ALIAS_MAX) /* "server:<alias>" */
#define CF_LINK_RETRY_MS        1000   /* first wait before a refused link is opened again */
#define CF_LINK_RETRY_MAX       30000  /* the wait doubles up to this */
#define CF_LINK_HWM             100000 /* messages queued on a broker link, each direction */
#define CF_LINK_RECEIPT_HOLD_MS 50     /* a lone RECEIPT waits this long for its REPORT */
#define CF_LINK_GATHER_MS       10     /* facts wait at most this long for more (one call) */

/* A job being sent, one page of entries per loop turn. */
typedef struct {
    int active;                        /* a walk is going on */
    cf_link_prepared_t p;              /* the job and its material (owned) */
    char cursor[CF_DB_JOB_CURSOR_MAX]; /* where the next page starts */
} cf_link_walk_t;

struct cf_link {
    cf_app_t *app;                                              /* borrowed */
    cf_store_t *store;                                          /* the thread's Redis, owned */
    cf_curve_keypair_t kp;                                      /* this run's keys (wiped) */
    char z85[CF_CURVE_Z85_LEN + 1];                             /* public key as Z85 */
    char rid[CF_LINK_RID_MAX + 1];                              /* routing id "server:<alias>" */
    cf_curve_broker_t brokers[CF_LINK_MAX_BROKERS];             /* the brokers */
    char broker_z85[CF_LINK_MAX_BROKERS][CF_CURVE_Z85_LEN + 1]; /* their keys as Z85 */
    size_t n_brokers;                                           /* entries in brokers */
    zsock_t *dealers[CF_LINK_MAX_BROKERS];                      /* one DEALER each, owned */
    cf_relay_t *relays[CF_LINK_MAX_BROKERS];                    /* TLS relays, owned, or NULL */
    zsock_t *mons[CF_LINK_MAX_BROKERS];                         /* their monitors, owned */
    cf_msg_batch_t *out[CF_LINK_MAX_BROKERS];                   /* messages for each, owned */
    int64_t retry_at[CF_LINK_MAX_BROKERS];                      /* ms: reopen then (0: no) */
    int retry_ms[CF_LINK_MAX_BROKERS];                          /* the next wait */
    int up[CF_LINK_MAX_BROKERS];                                /* handshake done */
    unsigned generation;                                        /* distinct monitor names */
    cf_link_queue_t queue;                                      /* job ids from the workers */
    zactor_t *actor;                                            /* the link thread, owned */
    cf_link_signer_t signer;                                    /* cached signer (thread) */
    int64_t signer_at;                                          /* when it was loaded, 0: never */
    cf_link_fact_t batch[CF_LINK_BATCH_MAX];                    /* facts to store (thread) */
    size_t n_batch;                                             /* entries in batch */
    size_t n_kept; /* of them, held RECEIPTs kept from the last call (at the front) */
    unsigned char moot[CF_LINK_BATCH_MAX]; /* cf_link_facts_moot's */
    unsigned char held[CF_LINK_BATCH_MAX]; /* cf_link_facts_hold's */
    int64_t held_due;       /* ms: the held RECEIPTs must be stored then, INT64_MAX: none held */
    int64_t hold_ms;        /* cf_link_cfg_t's receipt_hold_ms, resolved */
    int64_t gather_ms;      /* cf_link_cfg_t's fact_gather_ms, resolved */
    cf_link_walk_t walk;    /* job being sent (thread) */
    cf_link_retry_t *retry; /* agents answered "offline", owned (thread) */
};

/* ---- cf_link_conn.c: the DEALERs and their monitors ------------------------------------
   libzmq 4.3 never reconnects a connection whose handshake the peer refused (ZAP said no:
   the broker has not read this run's key yet). The link watches each DEALER's handshake
   events and opens a refused one again after CF_LINK_RETRY_MS, doubling to
   CF_LINK_RETRY_MAX. */
/* Open broker i's DEALER and its monitor. Errors: those of cf_zsock_curve_dealer, CF_ERR_IO. */
CF_MUST_USE cf_err_t cf_link_conn_open(cf_link_t *self, size_t i, cf_why_t *why);
/* Close broker i's monitor and DEALER (queued messages are dropped); safe to repeat. */
void cf_link_conn_close(cf_link_t *self, size_t i);
/* Read one event of broker i's monitor and act on it (a refusal schedules a reopen). */
void cf_link_conn_event(cf_link_t *self, size_t i);
/* CLOCK_MONOTONIC in ms (the link's timers). */
int64_t cf_link_now_ms(void);
/* Reopen the DEALERs whose time has come; returns ms until the next is due (or max_ms). */
int cf_link_conn_tick(cf_link_t *self, int max_ms);

/* ---- cf_link_io.c: frames on the DEALERs (link thread only) ---------------------------- */
/* Encode m and pack it for broker: it leaves with the others of this loop turn as one BATCH
   (cf_link_msg_flush; a full batch leaves at once). Errors: those of cf_msg_encode,
   CF_ERR_IO (the link is closed until it is opened again), CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_link_msg_send(cf_link_t *self, size_t broker, const cf_msg_t *m);
/* Send every broker's packed messages, never blocking: a full queue (broker away too long)
   drops the batch (counted, logged); the agents get their jobs at check-in or resend. */
void cf_link_msg_flush(cf_link_t *self);
/* Read and handle what broker's DEALER has now (at most CF_LINK_TURN_MAX messages):
   HELLO at once, RECEIPT and REPORT into the batch (flushed when full), ERROR logged. */
void cf_link_msg_drain(cf_link_t *self, size_t broker);
/* The index of the broker whose key is z85, or n_brokers when it is none of ours. */
size_t cf_link_broker_index(const cf_link_t *self, const char *z85);

/* ---- cf_link_jobs.c: the job store side (link thread only) ------------------------------ */
/* Start sending the pending entries of job_id to their agents (no walk may be active):
   reads the job and its material; cf_link_jobs_step then sends one page per loop turn,
   so receipts, reports and HELLOs are served in between. */
void cf_link_jobs_send(cf_link_t *self, const char *job_id);
/* Send the next page of the active walk; 1 while the walk goes on. */
int cf_link_jobs_step(cf_link_t *self);
/* An agent said HELLO through broker: record proto and broker, upgrade its too_old
   entries, send its open jobs. */
void cf_link_jobs_hello(cf_link_t *self, size_t broker, const cf_msg_t *hello);
/* Send agent's open jobs (pending and delivered, not expired, none expiring at or before
   min_expires) through broker (n_brokers: through every broker): a HELLO's second half
   (min_expires 0), and a retry after an "offline" answer (through every broker). Returns
   the copies sent. */
size_t cf_link_jobs_open(cf_link_t *self, size_t broker, const char *agent, int64_t now,
                         int64_t min_expires);
/* Store the batch in one transition call, then ACK every fact (also "no change" and unknown
   jobs), except the RECEIPTs cf_link_facts_moot marks (their REPORT, in the same batch, is
   stored and acknowledged for both) and those cf_link_facts_hold keeps (read less than
   hold_ms ago without their REPORT: they stay in the batch for the next call, and
   self->held_due says when they must be stored); on a store failure nothing is acked (the
   agents resend). Facts read since the last call wait for more while
   cf_link_facts_gathered says so (up to gather_ms; self->held_due says until when).
   hold_ms 0 and gather_ms 0 empty the batch. */
void cf_link_jobs_flush(cf_link_t *self, int64_t hold_ms, int64_t gather_ms);
/* The signer, reloaded when older than CF_LINK_SIGNER_TTL; NULL when it cannot be loaded. */
const cf_link_signer_t *cf_link_jobs_signer(cf_link_t *self);

/* cf_link_tls.c: replace each tls broker's endpoint by a local TLS relay to it (its CURVE
   key stays), presenting this server's certificate from Redis. Errors: the store's,
   cf_relay's (why). */
CF_MUST_USE cf_err_t cf_link_tls_start(cf_link_t *self, const unsigned char *tls, cf_why_t *why);

#endif
