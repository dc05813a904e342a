/*  cf_broker - the ZeroMQ broker: CURVE ROUTERs for agents and servers, ZAP fed from Redis  */
#ifndef CF_BROKER_H_INCLUDED
#define CF_BROKER_H_INCLUDED

#include <stddef.h>

#include "cf_broker_route.h"
#include "cf_broker_tls.h"
#include "cf_curve.h"
#include "cf_err.h"
#include "cf_store_addr.h"
#include "cf_zsock.h"

/* One broker runs in one thread on one libevent loop: the two ROUTERs and their monitors
   (ZMQ_FD events), the Redis subscriber (cf:events), the metrics HTTP server and the
   signals all live there, so nothing is shared and nothing locks. The ZAP handler is the
   only other thread (a CZMQ actor, docs/zap.md). docs/broker.md describes the operation. */
typedef struct cf_broker cf_broker_t;

#define CF_BROKER_GATHER_MS  5   /* agents' messages wait at most this long for more */
#define CF_BROKER_GATHER_MAX 256 /* ... unless this many wait: they go at once */

typedef struct {
    const char *agents_bind;        /* agent-facing ROUTER endpoint ("tcp://127.0.0.1:7010") */
    const char *servers_bind;       /* server-facing ROUTER endpoint */
    const cf_curve_keypair_t *keys; /* the broker's CURVE keypair (copied) */
    const cf_store_cfg_t *store;    /* Redis: keys and events (copied) */
    const char *metrics_bind;       /* address of the metrics page (NULL: 127.0.0.1) */
    int metrics_port;               /* its port; 0 = no metrics page */
    const char *zap_domain;         /* ZAP domain (NULL: any) */
    size_t max_keys;                /* allow-list cap (0: CF_ALLOW_MAX_KEYS) */
    size_t max_agents;              /* agents held at once (0: 1048576) */
    cf_zsock_cfg_t zsock;           /* socket options of both ROUTERs */
    int io_threads;                 /* libzmq I/O threads (0: CZMQ's default, 1); set before the
                                       process's first CZMQ socket, else ignored */
    int server_hwm;                 /* server-facing ROUTER: HWM per server and direction
                                       (0: zsock's); one server carries every agent's traffic */
    int gather_ms;                  /* agents' messages wait at most this long for more before
                                       they cross to a server as one BATCH (0:
                                       CF_BROKER_GATHER_MS; < 0: each loop turn's go at once) */
    int handle_signals;             /* 1: SIGINT and SIGTERM stop cf_broker_run */
    cf_broker_tls_cfg_t tls;        /* TLS-wrapped links (cf_broker_tls.h); binds NULL: off */
} cf_broker_cfg_t;

/* Start a broker: the ZAP handler first, then the allow list from Redis (a Redis that
   does not answer is logged and retried by the subscriber: the list stays empty, every
   key is refused, until it answers), then both CURVE ROUTERs (open-file limit raised,
   backlog = somaxconn), their monitors, the subscriber and the metrics page. Nothing is
   served until cf_broker_run. *out is the caller's (cf_broker_destroy). One broker per
   process (one ZAP handler per process). Errors: CF_ERR_INVALID (cfg), CF_ERR_EXISTS
   (another ZAP handler), CF_ERR_IO (a bind failed; why names it), CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_broker_new(const cf_broker_cfg_t *cfg, cf_broker_t **out, cf_why_t *why);
/* Serve until cf_broker_stop (or a signal, with handle_signals). CF_ERR_IO if the loop
   failed. */
CF_MUST_USE cf_err_t cf_broker_run(cf_broker_t *self);
/* Make cf_broker_run return after the current callback; from the broker's thread. */
void cf_broker_stop(cf_broker_t *self);
/* Close the sockets, then the ZAP handler; wipe the keys; NULLs *self_p; safe to repeat. */
void cf_broker_destroy(cf_broker_t **self_p);

/* The bound endpoints ("tcp://127.0.0.1:7010", with the port a "*" picked) and the metrics
   port (0: none). Borrowed: live as long as the broker. */
const char *cf_broker_endpoint(const cf_broker_t *self, cf_broker_side_t side);
int cf_broker_metrics_port(const cf_broker_t *self);
/* The counters so far (a copy). */
void cf_broker_stats(const cf_broker_t *self, cf_broker_stats_t *out);

#endif
