/*  cf_broker_tls - TLS-wrapped links: a SERVER relay (cf_relay) in front of each ROUTER, and
    the check that a relayed connection's CURVE key names the same identity as its TLS
    certificate (docs/broker.md, "TLS-wrapped links")  */
#ifndef CF_BROKER_TLS_H_INCLUDED
#define CF_BROKER_TLS_H_INCLUDED

#include <stddef.h>

#include "cf_broker_route.h"
#include "cf_err.h"
#include "cf_store_addr.h"
#include "cf_zsock.h"

typedef struct cf_broker_tls cf_broker_tls_t; /* opaque: the relays and their endpoints */

typedef struct {
    const char *agents_bind;  /* "HOST:PORT" accepting TLS for the agent ROUTER (NULL: off) */
    const char *servers_bind; /* ... for the server ROUTER (NULL: off) */
    const char *ca_file;      /* PEM: the CA client certificates must chain to */
    const char *cert_file;    /* PEM: the broker's TLS certificate (and chain) */
    const char *key_file;     /* PEM: its private key (mode 0600 enforced) */
    size_t max_conns;         /* TLS connections per listener; 0 = CF_RELAY_MAX_CONNS */
} cf_broker_tls_cfg_t;

/* The relays' counters, for the metrics page. */
typedef struct {
    int on[CF_BROKER_SIDES_];                           /* 1: a relay serves this side */
    unsigned long long refused_tls[CF_BROKER_SIDES_];   /* handshakes that failed */
    unsigned long long refused_check[CF_BROKER_SIDES_]; /* revoked, unknown, no identity */
    unsigned long long relayed[CF_BROKER_SIDES_];       /* connections relayed */
    size_t open[CF_BROKER_SIDES_];                      /* TLS connections open */
} cf_broker_tls_stats_t;

/* Start what cfg asks for (nothing when both binds are NULL: *out stays NULL, CF_OK). For
   each side: the side's ROUTER also binds a loopback endpoint only the relay uses
   ("tcp://127.0.0.1:*"), and a SERVER relay accepts TLS on the bind address and relays to
   it. A client certificate must chain to the CA, name an identity (cf_relay_identity) and
   not be revoked: the relay's thread asks Redis (SISMEMBER cf:revoked, its own
   connection, store settings of the broker); a Redis that does not answer refuses the
   handshake. Call after the ROUTERs are bound. *out is the caller's. Errors: CF_ERR_INVALID
   (cfg: a bind without the files), the files' (cf_file_read_ex), cf_relay_new's, CF_ERR_IO
   (the loopback bind). */
CF_MUST_USE cf_err_t cf_broker_tls_start(zsock_t *const sock[CF_BROKER_SIDES_],
                                         const cf_broker_tls_cfg_t *cfg,
                                         const cf_store_cfg_t *store, cf_broker_tls_t **out,
                                         cf_why_t *why);
/* Stop the relays (their connections close, so libzmq sees them end); NULLs *self_p. */
void cf_broker_tls_destroy(cf_broker_tls_t **self_p);

/* The hook on the receive path: 1 when a message that came in on side must be dropped
   because it came through the relay and the connection's TLS identity is not its ZAP
   User-Id (or the relay knows no identity for it); *v is then the verdict (drop, reason
   identity, connection shut). 0 when the message did not come through the relay or
   matches. self may be NULL (TLS off): 0. */
int cf_broker_tls_judge(cf_broker_tls_t *self, cf_broker_side_t side, const cf_zsock_peer_t *peer,
                        cf_broker_verdict_t *v);

/* "HOST:PORT" of side's TLS listener (the port a 0 picked), "" when off. Borrowed. */
const char *cf_broker_tls_address(const cf_broker_tls_t *self, cf_broker_side_t side);
/* Append the relays' metrics (docs/broker.md) to the page in buf (cap bytes, *len used so
   far, NUL-terminated), updating *len. Nothing when self is NULL. CF_ERR_TOOBIG: cap too
   small (buf keeps what it had). */
CF_MUST_USE cf_err_t cf_broker_tls_metrics(cf_broker_tls_t *self, char *buf, size_t cap,
                                           size_t *len);
/* Counters now (zeros when self is NULL). */
void cf_broker_tls_stats(cf_broker_tls_t *self, cf_broker_tls_stats_t *out);

#endif
