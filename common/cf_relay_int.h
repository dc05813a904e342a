/*  cf_relay_int - the relay's state, shared by cf_relay*.c (not a public header)  */
#ifndef CF_RELAY_INT_H_INCLUDED
#define CF_RELAY_INT_H_INCLUDED

#include <pthread.h>
#include <sys/socket.h>

#include <czmq.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "cf_relay.h"

#define CF_RELAY_NAME_MAX 256 /* host name or address text */

typedef struct cf_relay_conn cf_relay_conn_t;

/* One relayed connection: the accepted side and the side it opened towards the target. */
struct cf_relay_conn {
    cf_relay_t *relay;                  /* owner */
    struct bufferevent *in;             /* accepted side (TLS in SERVER mode, TCP in CLIENT) */
    struct bufferevent *out;            /* target side (TCP in SERVER mode, TLS in CLIENT) */
    int up;                             /* both sides connected: bytes flow */
    int closing;                        /* one side ended: the other is being flushed */
    int mapped;                         /* key is in the relay's identity map */
    char key[CF_RELAY_ADDR_MAX];        /* SERVER: local address of out (the map key) */
    char identity[CF_RELAY_ID_MAX + 1]; /* SERVER: the TLS identity */
    char peer[CF_RELAY_ADDR_MAX];       /* the accepted peer's address (logs) */
    cf_relay_conn_t *prev, *next;       /* the relay's list of open connections */
};

struct cf_relay {
    cf_relay_mode_t mode;            /* SERVER or CLIENT */
    SSL_CTX *ctx;                    /* TLS context (server or client method) */
    struct event_base *base;         /* the relay thread's loop */
    struct evconnlistener *listener; /* accepting socket */
    struct event *ev_stop;           /* read end of stop_pipe */
    struct event *ev_resume;         /* re-enables the listener after accept failed */
    int stop_pipe[2];                /* cf_relay_destroy writes a byte: loop ends */
    pthread_t thread;                /* the loop's thread */
    int started;                     /* thread is running (join it) */
    struct sockaddr_storage target;  /* where each connection is relayed to */
    socklen_t target_len;            /* its length */
    char expect[CF_RELAY_NAME_MAX];  /* CLIENT: name the server's certificate carries */
    int expect_ip;                   /* 1: expect is an IP address */
    cf_relay_check_fn *check;        /* SERVER: the certificate check */
    void *check_arg;                 /* its argument */
    size_t max_conns;                /* cap on open connections */
    size_t watermark;                /* bytes queued per direction */
    int handshake_ms;                /* handshake and connect limit */
    char address[CF_RELAY_ADDR_MAX]; /* listener's "ip:port" */
    int port;                        /* listener's port */
    pthread_mutex_t lock;            /* guards map and stats */
    zhashx_t *map;                   /* local address -> identity (SERVER) */
    cf_relay_stats_t stats;          /* counters */
    cf_relay_conn_t *conns;          /* open connections (loop thread only) */
};

/* cf_relay_tls.c: the SSL_CTX of cfg->mode from cfg's PEM material into self->ctx. */
CF_MUST_USE cf_err_t cf_relay_tls_ctx(cf_relay_t *self, const cf_relay_cfg_t *cfg, cf_why_t *why);
/* A new SSL for one connection (CLIENT: with the expected name set), or NULL. */
SSL *cf_relay_tls_ssl(cf_relay_t *self);

/* cf_relay_addr.c: "host:port" (names resolved, IPv6 in brackets) into ss. */
CF_MUST_USE cf_err_t cf_relay_addr_parse(const char *text, struct sockaddr_storage *ss,
                                         socklen_t *len, cf_why_t *why);
/* "ip:port" / "[v6]:port" of sa into buf (cf_zsock's form); "" when unknown. */
void cf_relay_addr_text(const struct sockaddr *sa, char *buf, size_t len);
/* The host part of "host:port" without brackets into buf; CF_ERR_INVALID if none fits. */
CF_MUST_USE cf_err_t cf_relay_addr_host(const char *text, char *buf, size_t len);

/* cf_relay_map.c: the identity map under self->lock. */
CF_MUST_USE cf_err_t cf_relay_map_put(cf_relay_t *self, const char *key, const char *identity);
void cf_relay_map_remove(cf_relay_t *self, const char *key);

/* cf_relay_conn.c: the listener's accept callback (arg: the relay) and freeing every
   connection once the loop stopped. */
void cf_relay_conn_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                          int salen, void *arg);
void cf_relay_conn_free_all(cf_relay_t *self);

#endif
