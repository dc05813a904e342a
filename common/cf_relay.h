/*  cf_relay - a TLS <-> TCP byte relay on its own thread and libevent loop, for ZeroMQ links
    that must run inside TLS (docs/broker.md, "TLS-wrapped links")  */
#ifndef CF_RELAY_H_INCLUDED
#define CF_RELAY_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "cf_cert.h"
#include "cf_curve.h"
#include "cf_err.h"
#include "cf_key.h"

#define CF_RELAY_ID_MAX        255          /* identity text (agent id, "server:<alias>") */
#define CF_RELAY_ADDR_MAX      64           /* "ip:port" / "[v6]:port" text, with NUL */
#define CF_RELAY_MAX_CONNS     20000        /* default cap on relayed connections */
#define CF_RELAY_WATERMARK     (256 * 1024) /* default bytes queued per direction */
#define CF_RELAY_HANDSHAKE_MS  10000        /* default TLS handshake + connect time */
#define CF_RELAY_MAX_PEM       (256 * 1024) /* largest CA or certificate PEM taken */
#define CF_RELAY_CLIENT_SCHEME "tls://"     /* cf_relay_client_for's endpoint prefix */

typedef struct cf_relay cf_relay_t; /* opaque: one thread, one loop, one listener */

typedef enum {
    CF_RELAY_SERVER = 1, /* accept TLS (client certificate required), relay to plain TCP */
    CF_RELAY_CLIENT = 2, /* accept plain TCP on loopback, relay to a TLS server */
} cf_relay_mode_t;

/* SERVER mode: after OpenSSL verified the client's chain to the CA (signatures, validity,
   CA constraints), this decides. It returns CF_OK and the identity the connection stands
   for in identity (NUL-terminated, at most CF_RELAY_ID_MAX bytes), or an error (why says
   why: logged) and the connection is closed. Runs on the relay's thread, one call at a
   time; leaf is borrowed for the call. cf_relay_identity is the usual core of it. */
typedef cf_err_t(cf_relay_check_fn)(void *arg, const cf_cert_t *leaf,
                                    char identity[CF_RELAY_ID_MAX + 1], cf_why_t *why);

typedef struct {
    cf_relay_mode_t mode;     /* SERVER or CLIENT */
    const char *listen;       /* SERVER: "host:port" to accept TLS on (port 0 picks one);
                                 CLIENT: NULL = "127.0.0.1:0" (plain: keep it on loopback) */
    const char *target;       /* SERVER: plain "ip:port" to relay to (the ZMTP endpoint);
                                 CLIENT: "host:port" of the TLS server */
    const char *ca_pem;       /* the CA(s) the peer's certificate must chain to */
    size_t ca_len;            /* bytes, at most CF_RELAY_MAX_PEM */
    const char *cert_pem;     /* own certificate (and chain), presented to the peer */
    size_t cert_len;          /* bytes, at most CF_RELAY_MAX_PEM */
    const cf_key_t *key;      /* own private key (borrowed for cf_relay_new only) */
    const char *expect_name;  /* CLIENT: DNS name or IP the server's certificate must carry
                                 (NULL: the host of target) */
    cf_relay_check_fn *check; /* SERVER: required */
    void *check_arg;          /* its argument (must outlive the relay) */
    size_t max_conns;         /* relayed connections at once; 0 = CF_RELAY_MAX_CONNS */
    size_t watermark;         /* bytes queued per direction before reading pauses;
                                 0 = CF_RELAY_WATERMARK */
    int handshake_ms;         /* TLS handshake and connect limit; 0 = CF_RELAY_HANDSHAKE_MS */
} cf_relay_cfg_t;

/* Counters since start (a consistent copy). */
typedef struct {
    uint64_t accepted;      /* connections accepted on the listener */
    uint64_t relayed;       /* connections that came up on both sides */
    uint64_t refused_tls;   /* handshakes that failed (no certificate, untrusted, ...) */
    uint64_t refused_check; /* SERVER: certificates the check refused (revoked, no id) */
    uint64_t refused_full;  /* connections over max_conns, closed at once */
    uint64_t accept_failed; /* accept() failures (out of descriptors): listener rests 1 s */
    uint64_t target_failed; /* connects to the target that failed */
    uint64_t bytes_up;      /* bytes from the accepting side to the target side */
    uint64_t bytes_down;    /* bytes the other way */
    size_t open;            /* connections open now (handshaking included) */
} cf_relay_stats_t;

/* Start a relay: parse and load the TLS material into an SSL_CTX (TLS 1.2 minimum, the
   peer's certificate required and verified against ca_pem), bind the listener, start the
   thread. Every connection pair is closed together: when one side ends, the other is
   flushed (bounded by handshake_ms) and closed. *out is the caller's (cf_relay_destroy).
   Errors: CF_ERR_INVALID (cfg, addresses; why), CF_ERR_TOOBIG (PEM over the cap),
   CF_ERR_CORRUPT / CF_ERR_KEYMISMATCH / CF_ERR_CRYPTO (material), CF_ERR_IO (bind, thread),
   CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_relay_new(const cf_relay_cfg_t *cfg, cf_relay_t **out, cf_why_t *why);
/* Stop the thread, close every connection and the listener; NULLs *self_p; safe to repeat. */
void cf_relay_destroy(cf_relay_t **self_p);

/* The listener's address "ip:port" (the port a 0 picked). Borrowed: lives as long as the
   relay. */
const char *cf_relay_address(const cf_relay_t *self);
int cf_relay_port(const cf_relay_t *self);

/* SERVER mode: the TLS identity behind the relayed connection whose local address on the
   target side is local_addr ("ip:port", as the target sees the peer: cf_zsock_peer_t's
   remote). Thread-safe. Copies it into identity (cap bytes). Errors: CF_ERR_INVALID,
   CF_ERR_NOTFOUND (no such connection now: closed, or not a relayed one), CF_ERR_TOOBIG
   (cap too small). An entry is there from before the first byte reaches the target until
   the connection is closed. */
CF_MUST_USE cf_err_t cf_relay_lookup(cf_relay_t *self, const char *local_addr, char *identity,
                                     size_t cap);

/* Counters (thread-safe). */
void cf_relay_stats(cf_relay_t *self, cf_relay_stats_t *out);

/* The identity a certfleet certificate stands for: an agent certificate (clientAuth) with
   SAN URI urn:certfleet:agent:<id> whose CN, when present, is the same id -> "<id>"; a
   server certificate (serverAuth, not an agent one) -> "server:<CN>". Errors:
   CF_ERR_POLICY (a shared agent certificate, a console or CA certificate, an id that is not
   an agent id, CN and URI disagree, no usable CN; why says which). */
CF_MUST_USE cf_err_t cf_relay_identity(const cf_cert_t *leaf, char identity[CF_RELAY_ID_MAX + 1],
                                       cf_why_t *why);

/* Client side for agents and servers: text is "tls://HOST:PORT#Z85" (len bytes). Starts
   a CLIENT relay to HOST:PORT presenting cert_pem/key, trusting ca_pem, expecting HOST in
   the broker's certificate, and fills *broker with "tcp://127.0.0.1:P" and the key, for
   cf_zsock_curve_dealer. A "tcp://" text is parsed as cf_curve_broker_parse does and no
   relay is started (*relay_out stays NULL). *relay_out is the caller's: keep it as long as
   the DEALER. Errors: as cf_curve_broker_parse and cf_relay_new. */
CF_MUST_USE cf_err_t cf_relay_client_for(const char *text, size_t len, const char *ca_pem,
                                         size_t ca_len, const char *cert_pem, size_t cert_len,
                                         const cf_key_t *key, cf_relay_t **relay_out,
                                         cf_curve_broker_t *broker, cf_why_t *why);

#endif
