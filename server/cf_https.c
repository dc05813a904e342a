/*  cf_https - worker threads (event base + evhttp each), shared listeners, control mailbox  */
#define _GNU_SOURCE /* pipe2 */
#include "cf_https_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "cf_log.h"
#include "cf_mem.h"

#define S_BACKLOG 4096 /* listen(2) backlog: reconnect storms queue here, not in SYN drops */

/* What the control side asks of every worker (see s_broadcast). */
typedef enum { S_CMD_TLS, S_CMD_REQUIRE, S_CMD_PLAIN_OPEN, S_CMD_PLAIN_CLOSE, S_CMD_STOP } s_op_t;

typedef struct {
    s_op_t op;    /* what to do */
    SSL_CTX *ctx; /* S_CMD_TLS: the new context (each worker takes its own reference) */
    int on;       /* S_CMD_REQUIRE: the new value */
    int fd;       /* S_CMD_PLAIN_OPEN: listening socket to dup */
} s_cmd_t;

typedef struct {
    cf_https_t *owner;                      /* back pointer (immutable) */
    pthread_t thread;                       /* the worker thread, once started */
    int started;                            /* thread is valid */
    struct event_base *base;                /* this worker's loop */
    struct evhttp *tls_http;                /* TLS connections (bevcb makes SSL bufferevents) */
    struct evhttp *plain_http;              /* plain connections */
    struct evhttp_bound_socket *tls_sock;   /* this worker's handle on the TLS listener */
    struct evhttp_bound_socket *plain_sock; /* ... on the plain listener, NULL when closed */
    struct event *mbox_ev;                  /* read side of mbox */
    int mbox[2];                            /* pipe of s_cmd_t pointers from the control side */
    SSL_CTX *ctx;                           /* material for new handshakes (own reference) */
    int require;                            /* require a client certificate on new handshakes */
    int conns;                              /* open TLS connections */
    int paused;                             /* TLS listener disabled at max_conns */
} s_worker_t;

struct cf_https {
    cf_https_cfg_t cfg;              /* copy; cfg.address points at address */
    char address[CF_HTTPS_ADDR_MAX]; /* bind address */
    cf_https_hooks_t hooks;          /* refusal hook shared by every SSL_CTX (immutable) */
    SSL_CTX *ctx;                    /* current material (control side, under ctl) */
    int require;                     /* current require flag (control side) */
    int plain_port;                  /* current plain port, 0 = closed (control side) */
    s_worker_t *workers;             /* cfg.threads workers */
    int running;                     /* threads started */
    pthread_mutex_t ctl;             /* serialises control calls */
    pthread_mutex_t ack_lock;        /* guards pending and failures */
    pthread_cond_t ack_cond;         /* signalled as workers acknowledge */
    int pending;                     /* workers yet to apply the current command */
    int failures;                    /* workers that could not apply it */
};

cf_err_t cf_tls_version_from_name(const char *name, cf_tls_version_t *out)
{
    static const struct {
        const char *name;
        cf_tls_version_t v;
    } names[] = {
        {"1.0", CF_TLS_1_0}, {"1.1", CF_TLS_1_1}, {"1.2", CF_TLS_1_2}, {"1.3", CF_TLS_1_3}};
    if (!name || !out)
        return CF_ERR_INVALID;
    if (strncasecmp(name, "TLSv", 4) == 0)
        name += 4;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].v;
            return CF_OK;
        }
    }
    return CF_ERR_INVALID;
}

const char *cf_tls_version_name(cf_tls_version_t v)
{
    switch (v) {
    case CF_TLS_1_0: return "1.0";
    case CF_TLS_1_1: return "1.1";
    case CF_TLS_1_2: return "1.2";
    case CF_TLS_1_3: return "1.3";
    default: return "?";
    }
}

const char *cf_https_reason_name(cf_https_reason_t r)
{
    switch (r) {
    case CF_HTTPS_REFUSED_NOCERT: return "no-certificate";
    case CF_HTTPS_REFUSED_EXPIRED: return "expired";
    case CF_HTTPS_REFUSED_NOTYETVALID: return "not-yet-valid";
    case CF_HTTPS_REFUSED_REVOKED: return "revoked";
    case CF_HTTPS_REFUSED_UNTRUSTED: return "untrusted";
    default: return "unknown";
    }
}

/* A listening socket on address:port (literal address), non-blocking, close-on-exec. */
static cf_err_t s_listen(const char *address, int port, int *fd_out, cf_why_t *why)
{
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    char service[8];
    snprintf(service, sizeof(service), "%d", port);
    if (getaddrinfo(address, service, &hints, &ai) != 0 || !ai)
        return cf_why(why, CF_ERR_INVALID, "bind address '%s' is not a literal address", address);
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    int ok = fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
             bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, S_BACKLOG) == 0;
    int err = errno;
    freeaddrinfo(ai);
    if (!ok) {
        if (fd >= 0)
            close(fd);
        return cf_why(why, CF_ERR_IO, "listen on %s port %d: %s", address, port, strerror(err));
    }
    *fd_out = fd;
    return CF_OK;
}

/* The worker's own handle on listening socket fd (a dup, closed with the handle). */
static struct evhttp_bound_socket *s_attach(struct evhttp *http, int fd)
{
    int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0)
        return NULL;
    struct evhttp_bound_socket *sock = evhttp_accept_socket_with_handle(http, dup_fd);
    if (!sock)
        close(dup_fd);
    return sock;
}

static void s_ack(cf_https_t *self, int ok)
{
    pthread_mutex_lock(&self->ack_lock);
    self->pending--;
    if (!ok)
        self->failures++;
    pthread_cond_broadcast(&self->ack_cond);
    pthread_mutex_unlock(&self->ack_lock);
}

/* Apply one command on the worker's own thread (or before the threads start). 1 = done. */
static int s_apply(s_worker_t *w, const s_cmd_t *cmd)
{
    switch (cmd->op) {
    case S_CMD_TLS:
        SSL_CTX_up_ref(cmd->ctx);
        SSL_CTX_free(w->ctx); /* open connections hold their own reference */
        w->ctx = cmd->ctx;
        return 1;
    case S_CMD_REQUIRE: w->require = cmd->on; return 1;
    case S_CMD_PLAIN_CLOSE:
        if (w->plain_sock)
            evhttp_del_accept_socket(w->plain_http, w->plain_sock);
        w->plain_sock = NULL;
        return 1;
    case S_CMD_PLAIN_OPEN: {
        struct evhttp_bound_socket *sock = s_attach(w->plain_http, cmd->fd);
        if (!sock)
            return 0;
        if (w->plain_sock)
            evhttp_del_accept_socket(w->plain_http, w->plain_sock);
        w->plain_sock = sock;
        return 1;
    }
    case S_CMD_STOP: event_base_loopbreak(w->base); return 1;
    default: return 0;
    }
}

static void s_on_mbox(evutil_socket_t fd, short what, void *arg)
{
    (void) what;
    s_worker_t *w = arg;
    s_cmd_t *cmd = NULL;
    while (read(fd, &cmd, sizeof(cmd)) == (ssize_t) sizeof(cmd))
        s_ack(w->owner, s_apply(w, cmd));
}

/* Give cmd to every worker and wait until all have applied it. Caller holds ctl. Before
   the threads start the workers are applied to here; no thread touches them yet. */
static cf_err_t s_broadcast(cf_https_t *self, const s_cmd_t *cmd)
{
    int n = self->cfg.threads;
    if (!self->running) {
        int failed = 0;
        for (int i = 0; i < n; i++)
            failed += !s_apply(&self->workers[i], cmd);
        return failed ? CF_ERR_IO : CF_OK;
    }
    pthread_mutex_lock(&self->ack_lock);
    self->pending = n;
    self->failures = 0;
    pthread_mutex_unlock(&self->ack_lock);
    for (int i = 0; i < n; i++) {
        const s_cmd_t *p = cmd;
        if (write(self->workers[i].mbox[1], &p, sizeof(p)) != (ssize_t) sizeof(p))
            s_ack(self, 0);
    }
    pthread_mutex_lock(&self->ack_lock);
    while (self->pending > 0)
        pthread_cond_wait(&self->ack_cond, &self->ack_lock);
    int failed = self->failures;
    pthread_mutex_unlock(&self->ack_lock);
    return failed ? CF_ERR_IO : CF_OK;
}

static int s_on_worker(const cf_https_t *self)
{
    pthread_t me = pthread_self();
    for (int i = 0; self->running && i < self->cfg.threads; i++) {
        if (self->workers[i].started && pthread_equal(self->workers[i].thread, me))
            return 1;
    }
    return 0;
}

/* A TLS connection went away (its SSL is being freed, on this worker's thread). */
static void s_conn_closed(void *arg)
{
    s_worker_t *w = arg;
    w->conns--;
    if (w->paused && w->tls_sock && w->conns < w->owner->cfg.max_conns) {
        evconnlistener_enable(evhttp_bound_socket_get_listener(w->tls_sock));
        w->paused = 0;
    }
}

/* evhttp asks for the bufferevent of each accepted TLS connection. Returning NULL would
   make evhttp fall back to a plain bufferevent: s_on_tls_request refuses such a one. */
static struct bufferevent *s_bevcb(struct event_base *base, void *arg)
{
    s_worker_t *w = arg;
    SSL *ssl = cf_https_ssl_new(w->ctx, w->require, s_conn_closed, w);
    if (!ssl)
        return NULL;
    w->conns++; /* s_conn_closed undoes it when the SSL goes */
    struct bufferevent *bev = bufferevent_openssl_socket_new(
        base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        SSL_free(ssl);
        return NULL;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    if (w->conns >= w->owner->cfg.max_conns && !w->paused && w->tls_sock) {
        evconnlistener_disable(evhttp_bound_socket_get_listener(w->tls_sock));
        w->paused = 1; /* other workers keep accepting on the shared socket */
    }
    return bev;
}

static void s_refuse_request(struct evhttp_request *req)
{
    evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
    evhttp_send_error(req, 503, "Service Unavailable");
}

static void s_on_tls_request(struct evhttp_request *req, void *arg)
{
    s_worker_t *w = arg;
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    SSL *ssl = evcon ? bufferevent_openssl_get_ssl(evhttp_connection_get_bufferevent(evcon)) : NULL;
    char *host = NULL;
    ev_uint16_t port = 0;
    const cf_https_peer_t *peer = NULL;
    if (ssl) {
        evhttp_connection_get_peer(evcon, &host, &port);
        peer = cf_https_ssl_peer(ssl, host, port);
    }
    if (!peer) { /* no SSL on the TLS port (out of memory in s_bevcb), or no memory now */
        s_refuse_request(req);
        return;
    }
    w->owner->cfg.on_request(req, peer, w->owner->cfg.request_arg);
}

static void s_on_plain_request(struct evhttp_request *req, void *arg)
{
    s_worker_t *w = arg;
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    char *host = NULL;
    ev_uint16_t port = 0;
    if (evcon)
        evhttp_connection_get_peer(evcon, &host, &port);
    cf_https_peer_t peer = {0,    NULL, NULL, CF_COMPONENT_UNKNOWN, NULL,
                            NULL, NULL, 0,    host ? host : "",     port};
    w->owner->cfg.on_request(req, &peer, w->owner->cfg.request_arg);
}

static struct evhttp *s_http_new(s_worker_t *w, void (*cb)(struct evhttp_request *, void *))
{
    const cf_https_cfg_t *cfg = &w->owner->cfg;
    struct evhttp *http = evhttp_new(w->base);
    if (!http)
        return NULL;
    evhttp_set_max_body_size(http, (ev_ssize_t) cfg->max_body);
    evhttp_set_max_headers_size(http, (ev_ssize_t) cfg->max_headers);
    evhttp_set_timeout(http, cfg->timeout_s);
    /* every method reaches the router, which answers 405 in the API's error shape */
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                         EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                                         EVHTTP_REQ_PATCH);
    /* an over-cap body is read and dropped before the 413, so the client sees the answer */
    evhttp_set_flags(http, EVHTTP_SERVER_LINGERING_CLOSE);
    evhttp_set_default_content_type(http, "application/json");
    evhttp_set_gencb(http, cb, w);
    return http;
}

static cf_err_t s_worker_init(cf_https_t *self, s_worker_t *w, int tls_fd)
{
    w->owner = self;
    w->mbox[0] = w->mbox[1] = -1;
    w->require = self->require;
    SSL_CTX_up_ref(self->ctx);
    w->ctx = self->ctx;
    w->base = event_base_new();
    if (!w->base || pipe2(w->mbox, O_CLOEXEC) != 0 || fcntl(w->mbox[0], F_SETFL, O_NONBLOCK) != 0)
        return CF_ERR_IO;
    w->mbox_ev = event_new(w->base, w->mbox[0], EV_READ | EV_PERSIST, s_on_mbox, w);
    w->tls_http = s_http_new(w, s_on_tls_request);
    w->plain_http = s_http_new(w, s_on_plain_request);
    if (!w->mbox_ev || !w->tls_http || !w->plain_http || event_add(w->mbox_ev, NULL) != 0)
        return CF_ERR_NOMEM;
    evhttp_set_bevcb(w->tls_http, s_bevcb, w);
    w->tls_sock = s_attach(w->tls_http, tls_fd);
    return w->tls_sock ? CF_OK : CF_ERR_IO;
}

static void s_worker_free(s_worker_t *w)
{
    if (!w->owner)
        return;         /* never initialised */
    w->tls_sock = NULL; /* evhttp_free closes it; s_conn_closed must not re-enable it */
    w->plain_sock = NULL;
    if (w->tls_http)
        evhttp_free(w->tls_http);
    if (w->plain_http)
        evhttp_free(w->plain_http);
    if (w->mbox_ev)
        event_free(w->mbox_ev);
    if (w->base)
        event_base_free(w->base); /* runs deferred bufferevent frees (and s_conn_closed) */
    for (int i = 0; i < 2; i++) {
        if (w->mbox[i] >= 0)
            close(w->mbox[i]);
    }
    SSL_CTX_free(w->ctx);
    memset(w, 0, sizeof(*w));
}

static cf_err_t s_check_cfg(const cf_https_cfg_t *cfg, cf_why_t *why)
{
    if (!cfg || !cfg->on_request)
        return cf_why(why, CF_ERR_INVALID, "an on_request callback is required");
    if (cfg->port < 1 || cfg->port > 65535)
        return cf_why(why, CF_ERR_INVALID, "TLS port %d (1..65535)", cfg->port);
    if (cfg->plain_port < 0 || cfg->plain_port > 65535 || cfg->plain_port == cfg->port)
        return cf_why(why, CF_ERR_INVALID, "plain port %d (1..65535, not the TLS port)",
                      cfg->plain_port);
    if (cfg->threads < 0 || cfg->threads > CF_HTTPS_MAX_THREADS)
        return cf_why(why, CF_ERR_INVALID, "threads %d (1..%d)", cfg->threads,
                      CF_HTTPS_MAX_THREADS);
    if (cfg->max_body > CF_HTTPS_MAX_BODY || cfg->max_headers > CF_HTTPS_MAX_BODY ||
        cfg->timeout_s < 0 || cfg->max_conns < 0)
        return cf_why(why, CF_ERR_INVALID, "limits out of range");
    if (cfg->address && strlen(cfg->address) >= CF_HTTPS_ADDR_MAX)
        return cf_why(why, CF_ERR_TOOBIG, "bind address too long");
    return CF_OK;
}

static void s_defaults(cf_https_t *self, const cf_https_cfg_t *cfg)
{
    self->cfg = *cfg;
    snprintf(self->address, sizeof(self->address), "%s", cfg->address ? cfg->address : "0.0.0.0");
    self->cfg.address = self->address;
    if (self->cfg.threads == 0)
        self->cfg.threads = 1;
    if (self->cfg.max_body == 0)
        self->cfg.max_body = CF_HTTPS_DEFAULT_BODY;
    if (self->cfg.max_headers == 0)
        self->cfg.max_headers = CF_HTTPS_DEFAULT_HEADERS;
    if (self->cfg.timeout_s == 0)
        self->cfg.timeout_s = CF_HTTPS_DEFAULT_TIMEOUT;
    if (self->cfg.max_conns == 0)
        self->cfg.max_conns = CF_HTTPS_DEFAULT_CONNS;
    self->hooks = (cf_https_hooks_t){cfg->on_refused, cfg->refused_arg};
    self->require = cfg->require_client_cert ? 1 : 0;
}

cf_err_t cf_https_new(const cf_https_cfg_t *cfg, const cf_https_tls_t *tls, cf_https_t **out,
                      cf_why_t *why)
{
    CF_TRY(s_check_cfg(cfg, why));
    if (!out)
        return CF_ERR_INVALID;
    cf_https_t *self = cf_mem_calloc(1, sizeof(*self));
    if (!self)
        return CF_ERR_NOMEM;
    s_defaults(self, cfg);
    pthread_mutex_init(&self->ctl, NULL);
    pthread_mutex_init(&self->ack_lock, NULL);
    pthread_cond_init(&self->ack_cond, NULL);
    int tls_fd = -1;
    cf_err_t rc = cf_https_ctx_new(tls, &self->hooks, &self->ctx, why);
    if (rc == CF_OK)
        rc = s_listen(self->address, cfg->port, &tls_fd, why);
    if (rc != CF_OK)
        goto out;
    rc = CF_ERR_NOMEM;
    self->workers = cf_mem_calloc((size_t) self->cfg.threads, sizeof(s_worker_t));
    if (!self->workers)
        goto out;
    for (int i = 0; i < self->cfg.threads; i++) {
        rc = s_worker_init(self, &self->workers[i], tls_fd);
        if (rc != CF_OK) {
            cf_why(why, rc, "worker %d: %s", i, cf_err_str(rc));
            goto out;
        }
    }
    if (cfg->plain_port)
        rc = cf_https_set_plain_port(self, cfg->plain_port, why);
    if (rc != CF_OK)
        goto out;
    *out = self;
    self = NULL;
out:
    if (tls_fd >= 0)
        close(tls_fd); /* the workers hold their own descriptors of the socket */
    cf_https_destroy(&self);
    return rc;
}

static void *s_run(void *arg)
{
    s_worker_t *w = arg;
    /* signals go to the main thread; a write to a closed peer must return EPIPE here, not
       kill the process (a SIGPIPE raised by this thread's write stays pending, blocked) */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    event_base_loop(w->base, 0);
    return NULL;
}

cf_err_t cf_https_start(cf_https_t *self)
{
    if (!self)
        return CF_ERR_INVALID;
    pthread_mutex_lock(&self->ctl);
    cf_err_t rc = self->running ? CF_ERR_STATE : CF_OK;
    for (int i = 0; rc == CF_OK && i < self->cfg.threads; i++) {
        s_worker_t *w = &self->workers[i];
        if (pthread_create(&w->thread, NULL, s_run, w) != 0)
            rc = CF_ERR_IO;
        else
            w->started = 1;
    }
    self->running = 1; /* the started ones answer the mailbox, so stop can reach them */
    pthread_mutex_unlock(&self->ctl);
    if (rc != CF_OK && rc != CF_ERR_STATE)
        cf_https_stop(self);
    return rc;
}

void cf_https_stop(cf_https_t *self)
{
    if (!self || s_on_worker(self))
        return;
    pthread_mutex_lock(&self->ctl);
    if (self->running) {
        s_cmd_t cmd = {.op = S_CMD_STOP};
        for (int i = 0; i < self->cfg.threads; i++) {
            s_worker_t *w = &self->workers[i];
            const s_cmd_t *p = &cmd;
            if (w->started && write(w->mbox[1], &p, sizeof(p)) == (ssize_t) sizeof(p))
                pthread_join(w->thread, NULL);
            w->started = 0;
        }
        self->running = 0;
    }
    pthread_mutex_unlock(&self->ctl);
}

void cf_https_destroy(cf_https_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_https_t *self = *self_p;
    cf_https_stop(self);
    for (int i = 0; self->workers && i < self->cfg.threads; i++)
        s_worker_free(&self->workers[i]);
    cf_mem_free(self->workers);
    SSL_CTX_free(self->ctx);
    pthread_cond_destroy(&self->ack_cond);
    pthread_mutex_destroy(&self->ack_lock);
    pthread_mutex_destroy(&self->ctl);
    cf_mem_free(self);
    *self_p = NULL;
}

cf_err_t cf_https_set_tls(cf_https_t *self, const cf_https_tls_t *tls, cf_why_t *why)
{
    if (!self)
        return CF_ERR_INVALID;
    if (s_on_worker(self))
        return CF_ERR_STATE;
    SSL_CTX *ctx = NULL;
    CF_TRY(cf_https_ctx_new(tls, &self->hooks, &ctx, why));
    pthread_mutex_lock(&self->ctl);
    s_cmd_t cmd = {.op = S_CMD_TLS, .ctx = ctx};
    cf_err_t rc = s_broadcast(self, &cmd); /* cannot fail: each worker takes a reference */
    SSL_CTX_free(self->ctx);
    self->ctx = ctx;
    pthread_mutex_unlock(&self->ctl);
    cf_log(CF_LOG_INFO, "tls material swapped min_tls=%s revoked=%zu",
           cf_tls_version_name(tls->min_tls ? tls->min_tls : CF_TLS_1_2), tls->n_revoked);
    return rc;
}

cf_err_t cf_https_set_require_client_cert(cf_https_t *self, int on)
{
    if (!self)
        return CF_ERR_INVALID;
    if (s_on_worker(self))
        return CF_ERR_STATE;
    pthread_mutex_lock(&self->ctl);
    s_cmd_t cmd = {.op = S_CMD_REQUIRE, .on = on ? 1 : 0};
    cf_err_t rc = s_broadcast(self, &cmd);
    self->require = cmd.on;
    pthread_mutex_unlock(&self->ctl);
    cf_log(CF_LOG_INFO, "tls require_client_cert=%d", cmd.on);
    return rc;
}

cf_err_t cf_https_set_plain_port(cf_https_t *self, int port, cf_why_t *why)
{
    if (!self)
        return CF_ERR_INVALID;
    if (port < 0 || port > 65535 || port == self->cfg.port)
        return cf_why(why, CF_ERR_INVALID, "plain port %d (1..65535, not the TLS port)", port);
    if (s_on_worker(self))
        return CF_ERR_STATE;
    pthread_mutex_lock(&self->ctl);
    cf_err_t rc = CF_OK;
    if (port != self->plain_port) {
        s_cmd_t cmd = {.op = port ? S_CMD_PLAIN_OPEN : S_CMD_PLAIN_CLOSE, .fd = -1};
        if (port)
            rc = s_listen(self->address, port, &cmd.fd, why);
        if (rc == CF_OK)
            rc = s_broadcast(self, &cmd);
        if (rc != CF_OK && port) { /* some workers may hold it: take it back from all */
            s_cmd_t undo = {.op = S_CMD_PLAIN_CLOSE, .fd = -1};
            (void) s_broadcast(self, &undo);
            cf_why(why, rc, "plain port %d: %s", port, cf_err_str(rc));
        }
        if (cmd.fd >= 0)
            close(cmd.fd); /* workers keep their own descriptors */
        self->plain_port = rc == CF_OK ? port : 0;
    }
    int now = self->plain_port;
    pthread_mutex_unlock(&self->ctl);
    if (rc == CF_OK)
        cf_log(CF_LOG_INFO, "plain listener %s port=%d", now ? "open" : "closed", port);
    return rc;
}

int cf_https_port(const cf_https_t *self)
{
    return self ? self->cfg.port : 0;
}

int cf_https_plain_port(const cf_https_t *self)
{
    return self ? self->plain_port : 0;
}

int cf_https_threads(const cf_https_t *self)
{
    return self ? self->cfg.threads : 0;
}
