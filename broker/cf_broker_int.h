/*  cf_broker_int - the broker's state, shared by its files (not a public header)  */
#ifndef CF_BROKER_INT_H_INCLUDED
#define CF_BROKER_INT_H_INCLUDED

#include <event2/event.h>
#include <event2/http.h>

#include "cf_broker.h"
#include "cf_broker_peers.h"
#include "cf_msg_batch.h"
#include "cf_store.h"
#include "cf_store_sub.h"
#include "cf_zap.h"

#define CF_BROKER_MAX_SERVERS 1024 /* server identities tried round-robin */

/* One message in an outbox: what counting and ERROR answers need. */
typedef struct {
    cf_msg_type_t type;                 /* its type */
    char agent[CF_MSG_AGENT_MAX + 1];   /* its agent ("" none) */
    char job_id[CF_MSG_JOB_ID_HEX + 1]; /* its job ("" none) */
} cf_broker_item_t;

/* Messages waiting to cross to a server as one BATCH. */
typedef struct {
    cf_msg_batch_t *batch;   /* the batch being filled (owned) */
    cf_broker_item_t *items; /* CF_MSG_BATCH_MAX_ITEMS facts, one per message (owned) */
    int64_t first_ms;        /* monotonic ms its first message came (while not empty) */
} cf_broker_outbox_t;

struct cf_broker {
    cf_curve_keypair_t keys;                                    /* own keypair (wiped) */
    cf_zap_t *zap;                                              /* ZAP handler */
    zsock_t *sock[CF_BROKER_SIDES_];                            /* the CURVE ROUTERs */
    zsock_t *mon[CF_BROKER_SIDES_];                             /* their monitor readers */
    char endpoint[CF_BROKER_SIDES_][CF_CURVE_ENDPOINT_MAX + 1]; /* bound endpoints */
    struct event_base *base;                                    /* the loop */
    struct event *ev_sock[CF_BROKER_SIDES_];                    /* ZMQ_FD of each ROUTER */
    struct event *ev_mon[CF_BROKER_SIDES_];                     /* ZMQ_FD of each monitor */
    struct event *ev_sig[2];                                    /* SIGINT, SIGTERM */
    struct event *ev_retry;                                     /* retry a failed reload */
    struct event *ev_gather;                                    /* the up batch is due */
    int gather_ms;                                              /* 0: no gathering */
    struct evhttp *http;                                        /* metrics page, or NULL */
    int metrics_port;                                           /* its port, 0: none */
    cf_store_t *store;                                          /* Redis reads */
    cf_store_sub_t *sub;                                        /* cf:events */
    zhashx_t *listed;                           /* identity -> CURVE key (owned copies) */
    char *servers[CF_BROKER_MAX_SERVERS];       /* listed server identities (owned), sorted */
    size_t n_servers;                           /* entries in servers */
    size_t rr;                                  /* next server to try */
    cf_broker_peers_t *peers[CF_BROKER_SIDES_]; /* peers held on each side */
    size_t max_keys;                            /* allow-list cap */
    cf_broker_stats_t stats;                    /* counters */
    cf_broker_tls_t *tls;                       /* TLS relays (NULL: off) */
    cf_broker_outbox_t up;                      /* agents' messages for the next server */
    cf_broker_outbox_t answers;                 /* answers to the server batch being read */
    const void *answer_rid;                     /* that server's routing id, or NULL */
    size_t answer_rid_len;                      /* its length */
};

/* cf_broker_io.c: the sockets. Event callbacks (arg: the broker). */
void cf_broker_io_on_agents(evutil_socket_t fd, short what, void *arg);
void cf_broker_io_on_servers(evutil_socket_t fd, short what, void *arg);
void cf_broker_io_on_monitor_agents(evutil_socket_t fd, short what, void *arg);
void cf_broker_io_on_monitor_servers(evutil_socket_t fd, short what, void *arg);
/* Look again at every socket: a send can eat the edge ZMQ_FD signals, so after sending,
   whatever is readable gets its callback run. */
void cf_broker_io_kick(cf_broker_t *self);

/* Send frames (n views, 1..) to the peer rid on side: one zmq_send per frame, so the bytes
   are copied once, by libzmq (no zmsg in between), and never blocking (ZMQ_ROUTER_MANDATORY).
   Counts nothing. Errors: CF_ERR_NOTFOUND (no such peer), CF_ERR_TOOBIG (its queue is at the
   high-water mark), CF_ERR_INVALID, CF_ERR_IO. */
CF_MUST_USE cf_err_t cf_broker_io_send(cf_broker_t *self, cf_broker_side_t side, const void *rid,
                                       size_t rid_len, const cf_msg_frame_t *frames, size_t n);

/* Answer the peer rid on side with an ERROR naming agent and job (each may be "" or NULL);
   inside a server's batch the answer joins the answers' batch. */
void cf_broker_io_answer(cf_broker_t *self, cf_broker_side_t side, const void *rid, size_t rid_len,
                         cf_msg_error_t code, const char *agent, const char *job_id,
                         const char *text);

/* cf_broker_batch.c: BATCH messages on the server side (docs/PROTOCOL.md, "Batches"). */
/* An empty outbox. Errors: CF_ERR_NOMEM (clear it anyway). */
CF_MUST_USE cf_err_t cf_broker_outbox_init(cf_broker_outbox_t *box);
/* Free what box holds; safe to repeat. */
void cf_broker_outbox_clear(cf_broker_outbox_t *box);
/* Pack an agent's message (its two frames, m decoded from them) for the next server;
   a full batch is sent first. */
void cf_broker_up_add(cf_broker_t *self, const cf_msg_frame_t *frames, const cf_msg_t *m);
/* Send the packed messages to one server, round-robin over the listed servers, skipping
   those not connected; none took it: every agent in it hears ERROR internal. */
void cf_broker_up_flush(cf_broker_t *self);
/* The end of a loop turn: send the packed messages when the first has waited gather_ms or
   CF_BROKER_GATHER_MAX wait (or gathering is off), else be called again when it is due
   (ev_gather). One BATCH per turn was 2.7 messages at 9,000 agents, each waking the
   server's link thread and a Redis call (docs/BENCHMARKS.md, round 12). */
void cf_broker_up_turn(cf_broker_t *self);
/* ev_gather's callback (arg: the broker). */
void cf_broker_up_on_due(evutil_socket_t fd, short what, void *arg);
/* Pack an answer to the server whose batch is being read (answer_rid); 0 when there is
   none (or it did not fit): send it alone. */
int cf_broker_answer_add(cf_broker_t *self, const cf_msg_t *m);
/* Send the packed answers to answer_rid. */
void cf_broker_answer_flush(cf_broker_t *self);

/* cf_broker_keys.c: the identity list from Redis. */
/* Reload every key (cf_db_curve_load), shut peers whose key vanished or changed, swap the
   list in (cf_zap_replace). On failure the old list stays and a retry is scheduled. */
CF_MUST_USE cf_err_t cf_broker_keys_reload(cf_broker_t *self);
/* cf_store_sub callbacks (arg: the broker). */
void cf_broker_keys_on_event(void *arg, const char *channel, size_t channel_len,
                             const char *payload, size_t len);
void cf_broker_keys_on_resync(void *arg);
void cf_broker_keys_on_retry(evutil_socket_t fd, short what, void *arg);
/* Free the identity list's server array. */
void cf_broker_keys_clear_servers(cf_broker_t *self);
/* Shut the connection of identity (held on either side) and stop holding it. */
void cf_broker_keys_shut(cf_broker_t *self, const char *identity, const char *why);

/* cf_broker_http.c: the metrics page on the loop. */
CF_MUST_USE cf_err_t cf_broker_http_start(cf_broker_t *self, const char *bind, int port,
                                          cf_why_t *why);
/* The gauges now. */
void cf_broker_gauges(const cf_broker_t *self, cf_broker_gauges_t *out);

#endif
