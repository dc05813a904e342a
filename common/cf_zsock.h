/*  cf_zsock - every certfleet ZeroMQ socket's tuning, CURVE ROUTER/DEALER, peer descriptors  */
#ifndef CF_ZSOCK_H_INCLUDED
#define CF_ZSOCK_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include <czmq.h>

#include "cf_allow.h"
#include "cf_curve.h"
#include "cf_err.h"
#include "cf_zap.h"

/* Defaults (docs/zap.md explains each). */
#define CF_ZSOCK_HWM               1000  /* messages queued per peer, each direction */
#define CF_ZSOCK_HEARTBEAT_IVL     10000 /* ms between our ZMTP PINGs (busy or not) */
#define CF_ZSOCK_HEARTBEAT_TIMEOUT 30000 /* ms without any traffic after a PING: drop */
#define CF_ZSOCK_HEARTBEAT_TTL                                                              \
    30000                                /* sent in our PINGs: the peer drops us after this \
                                            much silence following one (the broker's way) */
#define CF_ZSOCK_NO_PINGS        (-1)    /* heartbeat_ivl_ms: send no PINGs (docs/zap.md) */
#define CF_ZSOCK_KEEPALIVE_IDLE  60      /* s idle before the kernel's first keepalive probe */
#define CF_ZSOCK_KEEPALIVE_INTVL 10      /* s between unanswered probes */
#define CF_ZSOCK_KEEPALIVE_CNT   3       /* unanswered probes before the kernel drops it */
#define CF_ZSOCK_HANDSHAKE_IVL   10000   /* ms a new connection has to finish CURVE */
#define CF_ZSOCK_MAX_MSG         1048576 /* largest frame we accept, bytes */
#define CF_ZSOCK_RECONNECT_IVL   1000    /* ms before the first reconnect (plus jitter) */
#define CF_ZSOCK_RECONNECT_MAX   60000   /* ms cap of the doubling reconnect interval */
#define CF_ZSOCK_ADDR_MAX        64      /* "[v6 address]:port" text */

/* Options cf_zsock_apply sets. Zero fields mean the default above. heartbeat_ivl_ms =
   CF_ZSOCK_NO_PINGS: this socket sends no PINGs of its own (it still answers the peer's
   and drops a peer whose PING's TTL runs out): cf-broker's ROUTERs, because libzmq 4.3.4
   aborts when an interval timer fires on a connection whose peer hung up while its input
   was stopped (zeromq/libzmq#4364; docs/zap.md "Who sends PINGs"). heartbeat_ttl_ms < 0:
   PINGs without a TTL. TCP keepalive is on for every socket. */
typedef struct {
    int sndhwm;               /* ZMQ_SNDHWM: per peer (ROUTER) or in total (DEALER) */
    int rcvhwm;               /* ZMQ_RCVHWM */
    int heartbeat_ivl_ms;     /* ZMQ_HEARTBEAT_IVL; CF_ZSOCK_NO_PINGS = none */
    int heartbeat_timeout_ms; /* ZMQ_HEARTBEAT_TIMEOUT (>= 0) */
    int heartbeat_ttl_ms;     /* ZMQ_HEARTBEAT_TTL sent to the peer, at most 65500; < 0 =
                                 none (then only our own PINGs' TIMEOUT drops a silent peer) */
    int handshake_ivl_ms;     /* ZMQ_HANDSHAKE_IVL */
    int64_t max_msg;          /* ZMQ_MAXMSGSIZE: a bigger frame drops its connection */
    int backlog;              /* ZMQ_BACKLOG (bind only); 0 = cf_zsock_somaxconn() */
    int linger_ms;            /* ZMQ_LINGER at close; 0 = drop unsent messages (default) */
    int reconnect_ivl_ms;     /* ZMQ_RECONNECT_IVL (connect only) */
    int reconnect_max_ms;     /* ZMQ_RECONNECT_IVL_MAX (connect only) */
    int no_handover;          /* ROUTER: 1 = refuse a second connection with a routing id in
                                 use, instead of handing the id over to it (the default,
                                 so an agent back from a half-open link is not locked out) */
} cf_zsock_cfg_t;

/* What a received message says about the connection it came on. */
typedef struct {
    int fd;                            /* the connection's descriptor (ZMQ_SRCFD), -1 if unknown */
    char user_id[CF_ALLOW_ID_MAX + 1]; /* ZAP User-Id ("" when none) */
    char kind[16];                     /* CF_ZAP_KIND_PROP ("agent", "server", or "") */
    char remote[CF_ZSOCK_ADDR_MAX];    /* getpeername of fd at receipt, "ip:port" */
    char local[CF_ZSOCK_ADDR_MAX];     /* getsockname of fd at receipt */
} cf_zsock_peer_t;

/* All defaults. */
void cf_zsock_cfg_init(cf_zsock_cfg_t *cfg);

/* The kernel's listen backlog cap (/proc/sys/net/core/somaxconn), or SOMAXCONN when that
   cannot be read. A larger ZMQ_BACKLOG is silently cut to this by the kernel. */
int cf_zsock_somaxconn(void);
/* Raise this process's open-file soft limit to its hard limit (a broker needs about one
   descriptor per agent). *limit_out (may be NULL) gets the soft limit now in force.
   Errors: CF_ERR_IO (why says why). */
CF_MUST_USE cf_err_t cf_zsock_raise_nofile(unsigned long *limit_out, cf_why_t *why);

/* Set the cfg options (NULL = defaults) on sock; a ROUTER also gets ZMQ_ROUTER_MANDATORY
   (a send to a missing or full peer fails instead of vanishing, so cf_zsock_send_to can
   count drops per peer) and ZMQ_ROUTER_HANDOVER. Call before bind/connect.
   Errors: CF_ERR_INVALID (NULL, a value libzmq refuses; why names the option). */
CF_MUST_USE cf_err_t cf_zsock_apply(zsock_t *sock, const cf_zsock_cfg_t *cfg, cf_why_t *why);

/* A CURVE server ROUTER bound to endpoint ("tcp://127.0.0.1:7010"; port "*" picks one:
   read it with zsock_endpoint). zap must be a running handler: its existence is the proof
   that the ZAP handler was bound first (libzmq 4.3 lets every key in without one); the
   socket gets the handler's ZAP domain. Options: cf_zsock_apply with the backlog.
   *out is the caller's (zsock_destroy, before cf_zap_destroy). Errors: CF_ERR_INVALID (NULL
   argument, bad endpoint), CF_ERR_IO (bind failed: why has libzmq's reason), CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_zsock_curve_router(const cf_zap_t *zap, const cf_curve_keypair_t *server,
                                           const char *endpoint, const cf_zsock_cfg_t *cfg,
                                           zsock_t **out, cf_why_t *why);
/* A CURVE client DEALER connected to broker->endpoint, trusting broker->pub, presenting
   own, with routing id routing_id (the agent id or "server:<alias>", 1..255 bytes; NULL
   = let the broker pick). Connecting is asynchronous: the handshake happens (or fails) in
   the background, and libzmq retries with back-off and jitter. *out is the caller's.
   Errors: CF_ERR_INVALID, CF_ERR_IO (why), CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_zsock_curve_dealer(const cf_curve_broker_t *broker,
                                           const cf_curve_keypair_t *own, const char *routing_id,
                                           const cf_zsock_cfg_t *cfg, zsock_t **out, cf_why_t *why);
/* The same, with a monitor (zmq_socket_monitor to mon_ep for events) and its reader, a
   PAIR connected to mon_ep (*mon_out, the caller's), both set up before the DEALER
   connects: no handshake event is missed (libzmq never reconnects a DEALER whose handshake
   was refused, so a refusal unseen leaves it dead for good). mon_ep NULL: no monitor.
   Stop the monitor before destroying the PAIR. Errors: as cf_zsock_curve_dealer. */
CF_MUST_USE cf_err_t cf_zsock_curve_dealer_mon(const cf_curve_broker_t *broker,
                                               const cf_curve_keypair_t *own,
                                               const char *routing_id, const cf_zsock_cfg_t *cfg,
                                               const char *mon_ep, int events, zsock_t **mon_out,
                                               zsock_t **out, cf_why_t *why);

/* Fill *out from a message just received (raw libzmq: CZMQ frames hide the zmq_msg_t):
   descriptor (zmq_msg_get ZMQ_SRCFD, deprecated but present in 4.3), User-Id and kind
   (ZAP metadata), and the descriptor's addresses at this moment. Use the first frame after
   a ROUTER's routing id. Errors: CF_ERR_INVALID (NULL), CF_ERR_NOTFOUND (no descriptor:
   not a TCP connection, or already closed). */
CF_MUST_USE cf_err_t cf_zsock_msg_peer(zmq_msg_t *msg, cf_zsock_peer_t *out);

/* Receive one whole message from sock (ROUTER: routing id first) into *msg_out, and the
   facts about its connection into *peer (may be NULL). flags: 0 (wait) or ZMQ_DONTWAIT.
   A message of more than max_frames frames or max_bytes bytes is read to its end and
   dropped. *msg_out is the caller's (zmsg_destroy). Errors: CF_ERR_INVALID,
   CF_ERR_NOTFOUND (nothing to read: EAGAIN, or interrupted), CF_ERR_TOOBIG (dropped),
   CF_ERR_IO. */
CF_MUST_USE cf_err_t cf_zsock_recv(zsock_t *sock, size_t max_frames, size_t max_bytes, int flags,
                                   zmsg_t **msg_out, cf_zsock_peer_t *peer);

/* Send *msg_p (destroyed and NULLed in every case) to the peer with routing id rid
   (rid_len bytes) over a ROUTER with ZMQ_ROUTER_MANDATORY, never blocking. Errors:
   CF_ERR_NOTFOUND (no such peer connected), CF_ERR_TOOBIG (the peer's queue is at its
   high-water mark: dropped; count it per peer), CF_ERR_INVALID, CF_ERR_IO. */
CF_MUST_USE cf_err_t cf_zsock_send_to(zsock_t *router, const void *rid, size_t rid_len,
                                      zmsg_t **msg_p);

/* Shut the connection a message came on (a revoked peer): shutdown(fd, SHUT_RDWR), after
   checking that fd still names the same connection (same local and remote address as at
   receipt), so a descriptor number reused by a newer connection is never touched. libzmq
   then sees the connection end, closes it and the peer sees a disconnect; its reconnect
   meets ZAP again. Errors: CF_ERR_INVALID (NULL, fd < 0), CF_ERR_NOTFOUND (fd is closed or
   now another connection: nothing done), CF_ERR_IO. */
CF_MUST_USE cf_err_t cf_zsock_peer_shut(const cf_zsock_peer_t *peer, cf_why_t *why);

#endif
