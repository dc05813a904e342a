/*  cf_https - TLS and plain HTTP listeners on libevent worker threads, mutual TLS, run-time swaps
 */
#ifndef CF_HTTPS_H_INCLUDED
#define CF_HTTPS_H_INCLUDED

#include <stddef.h>
#include <time.h>

#include <event2/event.h>
#include <event2/http.h>

#include "cf_cert.h"
#include "cf_err.h"
#include "cf_key.h"

#define CF_HTTPS_DEFAULT_PORT    7005               /* the seed's HTTPS port */
#define CF_HTTPS_MAX_THREADS     64                 /* most worker threads */
#define CF_HTTPS_DEFAULT_BODY    (256 * 1024)       /* transport ceiling on a request body, bytes */
#define CF_HTTPS_MAX_BODY        (16 * 1024 * 1024) /* largest ceiling one may configure */
#define CF_HTTPS_DEFAULT_HEADERS (16 * 1024)        /* request line + headers, bytes */
#define CF_HTTPS_DEFAULT_TIMEOUT 30                 /* read/write/idle timeout, seconds */
#define CF_HTTPS_DEFAULT_CONNS   4096               /* open TLS connections per worker */
#define CF_HTTPS_MAX_REVOKED     100000             /* serials in the revoked set (CRL cap) */
#define CF_HTTPS_MAX_PEM         (256 * 1024)       /* largest certificate/CA PEM, bytes */
#define CF_HTTPS_ADDR_MAX        64                 /* longest peer address text, with NUL */

/* TLS protocol versions (wire values, as OpenSSL's TLS1_x_VERSION). */
typedef enum {
    CF_TLS_1_0 = 0x0301,
    CF_TLS_1_1 = 0x0302,
    CF_TLS_1_2 = 0x0303,
    CF_TLS_1_3 = 0x0304,
} cf_tls_version_t;

/* "1.0" | "1.1" | "1.2" | "1.3" (also with a "TLSv" prefix). CF_ERR_INVALID otherwise. */
CF_MUST_USE cf_err_t cf_tls_version_from_name(const char *name, cf_tls_version_t *out);
const char *cf_tls_version_name(cf_tls_version_t v); /* "1.2"; "?" when unknown */

/* The TLS material of a listener. Everything is borrowed for the call and copied (the key
   gets a reference): the caller may free its copies right after. */
typedef struct {
    const char *cert_pem;       /* server certificate, then intermediates (PEM) */
    size_t cert_len;            /* bytes in cert_pem; at most CF_HTTPS_MAX_PEM */
    const cf_key_t *key;        /* the server certificate's private key */
    const char *ca_pem;         /* the CA client certificates must chain to (PEM) */
    size_t ca_len;              /* bytes in ca_pem; at most CF_HTTPS_MAX_PEM */
    const char *const *revoked; /* revoked serials, hex as cf_cert_serial gives them */
    size_t n_revoked;           /* entries in revoked; at most CF_HTTPS_MAX_REVOKED */
    cf_tls_version_t min_tls;   /* lowest version offered; 0 = CF_TLS_1_2. 1.0/1.1 also
                                   lower OpenSSL's security level to 0 (SHA-1 signatures) */
} cf_https_tls_t;

/* Why a client certificate was refused at the handshake. */
typedef enum {
    CF_HTTPS_REFUSED_NOCERT = 0,  /* none presented while one is required */
    CF_HTTPS_REFUSED_EXPIRED,     /* past notAfter */
    CF_HTTPS_REFUSED_NOTYETVALID, /* before notBefore */
    CF_HTTPS_REFUSED_REVOKED,     /* serial in the revoked set */
    CF_HTTPS_REFUSED_UNTRUSTED,   /* does not chain to the CA (or any other check failed) */
} cf_https_reason_t;

const char *cf_https_reason_name(cf_https_reason_t r); /* "no-certificate", "expired", ... */

/* One refused handshake, for on_refused. Strings are borrowed for the call. */
typedef struct {
    cf_https_reason_t reason; /* why */
    const char *detail;       /* OpenSSL's verify error text ("" when none) */
    const char *addr;         /* the peer's address ("" when unknown) */
    const char *fingerprint;  /* presented certificate's SHA-256 (hex); NULL when none */
    const char *serial;       /* its serial (hex); NULL when none */
    const char *agent_id;     /* its agent id (cf_cert_agent_id); NULL when none */
    cf_component_t component; /* its component; CF_COMPONENT_UNKNOWN when none */
    time_t not_after;         /* its notAfter; 0 when none */
} cf_https_refusal_t;

/* Who sent a request. Computed once per connection (TLS) and borrowed for the request. */
typedef struct {
    int tls;                  /* 1: over the TLS listener; 0: over the plain listener */
    const char *tls_version;  /* "TLSv1.3", "TLSv1.2", ...; NULL over plain */
    const cf_cert_t *cert;    /* the client certificate (verified); NULL when none */
    cf_component_t component; /* cf_cert_component of cert; CF_COMPONENT_UNKNOWN if none */
    const char *agent_id;     /* cf_cert_agent_id of cert; NULL when none */
    const char *fingerprint;  /* cert's SHA-256 hex; NULL when no cert */
    const char *serial;       /* cert's serial hex; NULL when no cert */
    time_t not_after;         /* cert's notAfter; 0 when no cert */
    const char *addr;         /* remote address as text */
    unsigned port;            /* remote port */
} cf_https_peer_t;

/* Called on a worker thread for every complete request (body read, within the caps). The
   callee answers req (evhttp_send_reply and friends). peer is borrowed for the call: over
   TLS it lives as long as the connection, over plain only during the call, so a callee
   that answers later copies what it needs. */
typedef void(cf_https_request_fn)(struct evhttp_request *req, const cf_https_peer_t *peer,
                                  void *arg);
/* Called on a worker thread for every handshake refused for a certificate reason. */
typedef void(cf_https_refused_fn)(void *arg, const cf_https_refusal_t *refusal);
/* Per-worker state: worker_new runs once per worker in cf_https_new (before any thread
   runs) with the worker's event base; *out becomes what cf_https_worker_data answers on
   that worker's thread. worker_free runs in cf_https_destroy after the thread ended and
   before the worker's connections are freed (so it may still answer requests it holds). */
typedef cf_err_t(cf_https_worker_new_fn)(struct event_base *base, void *arg, void **out);
typedef void(cf_https_worker_free_fn)(void *data, void *arg);

typedef struct {
    const char *address;                /* literal address to bind; NULL = "0.0.0.0" */
    int port;                           /* TLS port, 1..65535 */
    int plain_port;                     /* plain HTTP port, 1..65535; 0 = no plain listener */
    int threads;                        /* worker threads, 1..CF_HTTPS_MAX_THREADS; 0 = 1 */
    int require_client_cert;            /* 1: a handshake without a client certificate fails */
    size_t max_body;                    /* request body ceiling; 0 = CF_HTTPS_DEFAULT_BODY */
    size_t max_headers;                 /* header bytes; 0 = CF_HTTPS_DEFAULT_HEADERS */
    int timeout_s;                      /* read/write/idle timeout; 0 = CF_HTTPS_DEFAULT_TIMEOUT */
    int max_conns;                      /* TLS connections per worker; 0 = CF_HTTPS_DEFAULT_CONNS */
    cf_https_request_fn *on_request;    /* required */
    void *request_arg;                  /* its argument (e.g. a cf_router_t) */
    cf_https_refused_fn *on_refused;    /* optional */
    void *refused_arg;                  /* its argument (the app) */
    cf_https_worker_new_fn *worker_new; /* optional: per-worker state */
    cf_https_worker_free_fn *worker_free; /* frees it (required with worker_new) */
    void *worker_arg;                     /* their argument */
} cf_https_cfg_t;

typedef struct cf_https cf_https_t; /* opaque */

/* Bind the listeners (TLS, and plain when cfg->plain_port) and prepare cfg->threads
   workers with tls as the first material. Nothing is served until cf_https_start. cfg is
   copied (address too). Errors: CF_ERR_INVALID (ports, threads, callbacks, caps, a
   material that does not load: why says which), CF_ERR_TOOBIG (a PEM or the revoked set
   over its cap), CF_ERR_KEYMISMATCH (key is not the certificate's), CF_ERR_IO (bind or
   listen failed, e.g. the port is in use), CF_ERR_NOMEM, CF_ERR_CRYPTO. */
CF_MUST_USE cf_err_t cf_https_new(const cf_https_cfg_t *cfg, const cf_https_tls_t *tls,
                                  cf_https_t **out, cf_why_t *why);
/* Stop (if running) and free everything; NULLs *self_p; safe to repeat. */
void cf_https_destroy(cf_https_t **self_p);

/* Start the worker threads. CF_ERR_STATE when already started, CF_ERR_NOMEM / CF_ERR_IO
   when a thread cannot start (those already started are stopped). */
CF_MUST_USE cf_err_t cf_https_start(cf_https_t *self);
/* Break every worker's loop and join the threads. Open connections are closed by
   cf_https_destroy. Safe to repeat; not from a worker thread. */
void cf_https_stop(cf_https_t *self);

/* Run-time changes. Each returns once every worker has applied it, so the next accepted
   connection sees it. They serialise among themselves and must be called from a thread
   that is not a worker (e.g. the control thread; CF_ERR_STATE from a worker). */

/* New TLS material: a fresh SSL_CTX; new handshakes use it, open connections finish on
   the one they started with. Errors as cf_https_new; on error nothing changes. */
CF_MUST_USE cf_err_t cf_https_set_tls(cf_https_t *self, const cf_https_tls_t *tls, cf_why_t *why);
/* Require (1) or merely request (0) a client certificate on new handshakes. */
CF_MUST_USE cf_err_t cf_https_set_require_client_cert(cf_https_t *self, int on);
/* Open the plain listener on port (1..65535; a different port moves it) or close it (0).
   Open connections on a closed listener finish. CF_ERR_IO when the bind fails. */
CF_MUST_USE cf_err_t cf_https_set_plain_port(cf_https_t *self, int port, cf_why_t *why);

/* The calling worker thread's state from worker_new; NULL on any other thread. */
void *cf_https_worker_data(void);

/* Send the answer evhttp has just queued on a connection in this loop turn, and over TLS
   as one record (when it is at most CF_HTTPS_FLUSH_MAX bytes): left alone, libevent writes
   it on the next turn, after epoll reports the socket writable (an epoll_ctl to arm
   EPOLLOUT and one to disarm it), and bufferevent_openssl makes one TLS record and one
   write(2) per buffer chunk (status line and headers, then the body). Call on the worker's
   thread right after evhttp_send_reply, with the connection taken from the request before
   that call; evcon NULL or not writing is left alone. Nothing is written inside this call:
   the write runs from the loop, as before, so evhttp's callbacks run where they always did. */
#define CF_HTTPS_FLUSH_MAX 16384 /* bytes merged into one record (a TLS record's plaintext) */
void cf_https_flush(struct evhttp_connection *evcon);

int cf_https_port(const cf_https_t *self);       /* the TLS port */
int cf_https_plain_port(const cf_https_t *self); /* the plain port, 0 when closed */
int cf_https_threads(const cf_https_t *self);    /* worker threads */

#endif
