/*  cf_https_int - what cf_https.c (workers, listeners) and cf_https_tls.c (SSL_CTX) share  */
#ifndef CF_HTTPS_INT_H_INCLUDED
#define CF_HTTPS_INT_H_INCLUDED

#include <pthread.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "cf_https.h"

/* What every SSL_CTX of one cf_https_t reports refusals to (owned by the cf_https_t,
   immutable after cf_https_new, so workers read it without a lock). */
typedef struct {
    cf_https_refused_fn *on_refused; /* may be NULL */
    void *arg;                       /* its argument */
} cf_https_hooks_t;

/* Build a server SSL_CTX from tls under the policy of docs/https.md. The context carries
   its own copy of the revoked set and a pointer to hooks (which must outlive it); both go
   with the context's last reference. Errors as cf_https_new. */
CF_MUST_USE cf_err_t cf_https_ctx_new(const cf_https_tls_t *tls, const cf_https_hooks_t *hooks,
                                      SSL_CTX **out, cf_why_t *why);

/* What a connection's SSL reports to its worker (all on the worker's thread). */
typedef struct {
    void (*on_free)(void *arg);         /* the SSL is being freed (its cached peer is gone) */
    int (*on_alert)(void *arg, int fd); /* a fatal alert was written to socket fd: 1 = the
                                           worker takes fd over (the SSL lets go of it) */
    void *arg;                          /* their argument */
} cf_https_conn_hooks_t;

/* A new server-side SSL on ctx for one connection: client certificate requested, and
   required when require is set. hooks is copied. NULL on out-of-memory. */
SSL *cf_https_ssl_new(SSL_CTX *ctx, int require, const cf_https_conn_hooks_t *hooks);

/* The arg given to cf_https_ssl_new for ssl (NULL when ssl has none). */
void *cf_https_ssl_arg(const SSL *ssl);

/* The peer of a TLS connection, computed at its first request and cached on ssl. addr and
   port come from evhttp (already text). NULL on out-of-memory. */
const cf_https_peer_t *cf_https_ssl_peer(SSL *ssl, const char *addr, unsigned port);

/* What the control side asks of every worker: cf_https.c writes a pointer to one command
   into each worker's mailbox pipe and waits for every acknowledgement (s_broadcast). */
typedef enum {
    CF_HTTPS_CMD_TLS,
    CF_HTTPS_CMD_REQUIRE,
    CF_HTTPS_CMD_PLAIN_OPEN,
    CF_HTTPS_CMD_PLAIN_CLOSE,
    CF_HTTPS_CMD_STOP
} cf_https_op_t;

typedef struct {
    cf_https_op_t op; /* what to do */
    SSL_CTX *ctx;     /* CF_HTTPS_CMD_TLS: the new context (each worker takes its own reference) */
    int on;           /* CF_HTTPS_CMD_REQUIRE: the new value */
    int fd;           /* CF_HTTPS_CMD_PLAIN_OPEN: listening socket to dup */
} cf_https_cmd_t;

/* Lingering close (cf_https_linger.c): after a fatal alert the socket is shut down for
   writing and what the client still sends is read and dropped, so the kernel closes with
   a FIN after the alert rather than a reset that may overtake it. */
#define CF_HTTPS_LINGER_MS    2000  /* a lingering socket is closed by then */
#define CF_HTTPS_LINGER_BYTES 65536 /* ... or once this much was dropped */
#define CF_HTTPS_LINGER_SHARE 8     /* at most max_conns / this (>= 1) linger per worker */

typedef struct cf_https_linger cf_https_linger_t; /* one lingering socket */

typedef struct {
    struct cf_https *owner;                 /* back pointer (immutable) */
    pthread_t thread;                       /* the worker thread, once started */
    int started;                            /* thread is valid */
    struct event_base *base;                /* this worker's loop */
    struct evhttp *tls_http;                /* TLS connections (bevcb makes SSL bufferevents) */
    struct evhttp *plain_http;              /* plain connections */
    struct evhttp_bound_socket *tls_sock;   /* this worker's handle on the TLS listener */
    struct evhttp_bound_socket *plain_sock; /* ... on the plain listener, NULL when closed */
    struct event *mbox_ev;                  /* read side of mbox */
    int mbox[2];                /* pipe of cf_https_cmd_t pointers from the control side */
    SSL_CTX *ctx;               /* material for new handshakes (own reference) */
    int require;                /* require a client certificate on new handshakes */
    int conns;                  /* open TLS connections */
    int paused;                 /* TLS listener disabled at max_conns */
    cf_https_linger_t *lingers; /* sockets being drained before their close */
    int lingering;              /* how many */
    void *data;                 /* from cfg.worker_new, NULL without */
} cf_https_worker_t;

struct cf_https {
    cf_https_cfg_t cfg;              /* copy; cfg.address points at address */
    char address[CF_HTTPS_ADDR_MAX]; /* bind address */
    cf_https_hooks_t hooks;          /* refusal hook shared by every SSL_CTX (immutable) */
    SSL_CTX *ctx;                    /* current material (control side, under ctl) */
    int require;                     /* current require flag (control side) */
    int plain_port;                  /* current plain port, 0 = closed (control side) */
    cf_https_worker_t *workers;      /* cfg.threads workers */
    int running;                     /* threads started */
    pthread_mutex_t ctl;             /* serialises control calls */
    pthread_mutex_t ack_lock;        /* guards pending and failures */
    pthread_cond_t ack_cond;         /* signalled as workers acknowledge */
    int pending;                     /* workers yet to apply the current command */
    int failures;                    /* workers that could not apply it */
};

/* Apply one command on the worker's own thread (or before the threads start). 1 = done. */
int cf_https_worker_apply(cf_https_worker_t *w, const cf_https_cmd_t *cmd);
/* A worker has applied (ok = 1) or failed (0) the current command. */
void cf_https_ack(struct cf_https *self, int ok);
/* Event base, both evhttps, mailbox and a handle on the TLS listening socket tls_fd. */
CF_MUST_USE cf_err_t cf_https_worker_init(struct cf_https *self, cf_https_worker_t *w, int tls_fd);
/* Free a worker (after its thread ended); safe on a never initialised (zeroed) one. */
void cf_https_worker_free(cf_https_worker_t *w);
/* Take fd over for a lingering close (shut down for writing, drained, closed within
   CF_HTTPS_LINGER_MS). 1 = taken; 0 = not (over cf_https_linger_cap, no memory): the
   caller closes it as before. */
int cf_https_linger_take(cf_https_worker_t *w, int fd);
/* Sockets that may linger at once on w: max_conns / CF_HTTPS_LINGER_SHARE, at least 1. */
int cf_https_linger_cap(const cf_https_worker_t *w);
/* Close every lingering socket of w (its loop no longer runs, or is about to end). */
void cf_https_linger_free_all(cf_https_worker_t *w);
/* The worker thread: its loop until a stop command. */
void *cf_https_worker_run(void *arg);

#endif
