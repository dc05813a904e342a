/*  cf_https_worker - one worker thread: event base, TLS and plain evhttp, mailbox, conn cap  */
#define _GNU_SOURCE /* pipe2 */
#include "cf_https_int.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/bufferevent_struct.h>
#include <event2/listener.h>

#include "cf_mem.h"

#define S_READ_MAX 960 /* bytes one SSL_read may add to a connection's input (see s_bevcb) */

static _Thread_local void *s_data; /* the running worker's data (cf_https_worker_data) */

void *cf_https_worker_data(void)
{
    return s_data;
}

void cf_https_flush(struct evhttp_connection *evcon)
{
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    if (!bev || !event_pending(&bev->ev_write, EV_WRITE, NULL))
        return; /* not writing: nothing queued, or the connection is going */
    struct evbuffer *out = bufferevent_get_output(bev);
    size_t len = evbuffer_get_length(out);
    if (len > 0 && len <= CF_HTTPS_FLUSH_MAX && bufferevent_openssl_get_ssl(bev))
        (void) evbuffer_pullup(out, (ev_ssize_t) len); /* one chunk: one SSL_write */
    /* The bufferevent's own write event (struct bufferevent, event2/bufferevent_struct.h),
       run in this loop turn as if epoll had said writable: a socket that is not writable
       makes the write wait for EPOLLOUT as before; once the output is empty the event is
       deleted, and with the changelist its add and delete cancel (no epoll_ctl). */
    event_active(&bev->ev_write, EV_WRITE, 1);
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

void cf_https_ack(cf_https_t *self, int ok)
{
    pthread_mutex_lock(&self->ack_lock);
    self->pending--;
    if (!ok)
        self->failures++;
    pthread_cond_broadcast(&self->ack_cond);
    pthread_mutex_unlock(&self->ack_lock);
}

/* Apply one command on the worker's own thread (or before the threads start). 1 = done. */
int cf_https_worker_apply(cf_https_worker_t *w, const cf_https_cmd_t *cmd)
{
    switch (cmd->op) {
    case CF_HTTPS_CMD_TLS:
        SSL_CTX_up_ref(cmd->ctx);
        SSL_CTX_free(w->ctx); /* open connections hold their own reference */
        w->ctx = cmd->ctx;
        return 1;
    case CF_HTTPS_CMD_REQUIRE: w->require = cmd->on; return 1;
    case CF_HTTPS_CMD_PLAIN_CLOSE:
        if (w->plain_sock)
            evhttp_del_accept_socket(w->plain_http, w->plain_sock);
        w->plain_sock = NULL;
        return 1;
    case CF_HTTPS_CMD_PLAIN_OPEN: {
        struct evhttp_bound_socket *sock = s_attach(w->plain_http, cmd->fd);
        if (!sock)
            return 0;
        if (w->plain_sock)
            evhttp_del_accept_socket(w->plain_http, w->plain_sock);
        w->plain_sock = sock;
        return 1;
    }
    case CF_HTTPS_CMD_STOP: event_base_loopbreak(w->base); return 1;
    default: return 0;
    }
}

static void s_on_mbox(evutil_socket_t fd, short what, void *arg)
{
    (void) what;
    cf_https_worker_t *w = arg;
    cf_https_cmd_t *cmd = NULL;
    while (read(fd, &cmd, sizeof(cmd)) == (ssize_t) sizeof(cmd))
        cf_https_ack(w->owner, cf_https_worker_apply(w, cmd));
}

/* One TLS connection, from its bufferevent to the freeing of its SSL. */
typedef struct {
    cf_https_worker_t *w;    /* its worker */
    struct bufferevent *bev; /* its bufferevent (evhttp's) */
    struct event *hold;      /* the read hold (s_hold_start), NULL before the first request */
    int fires;               /* hold wake-ups since the connection last read or answered */
    int off;                 /* the hold was taken out of the loop (s_on_hold) */
} s_conn_t;

/* The read hold. evhttp stops reading when a request is in and reads again once it is
   answered; bufferevent_openssl turns that into deleting and adding the read event, and
   even in one loop turn epoll's changelist makes it an EPOLL_CTL_MOD: one system call per
   request (~0.4 us of CPU on this machine's kernel). libevent asks epoll for a descriptor
   only when the first event on it is added and the last one deleted, so a second, idle
   read event on the connection keeps the descriptor registered and the pair costs no
   system call. Level-triggered, the hold wakes up whenever the socket is readable: in the
   normal flow in the same turn as the bufferevent's read, which then consumes the bytes.
   Readable while evhttp does not read (a pipelined request or the peer's close during a
   deferred answer, a client that sends but does not read), it would wake up every turn:
   after S_HOLD_SPINS such wake-ups without a read or an answer in between it leaves the
   loop, and the next answer puts it back. */
#define S_HOLD_SPINS 3

static void s_on_hold(evutil_socket_t fd, short what, void *arg)
{
    (void) fd, (void) what;
    s_conn_t *c = arg;
    if (++c->fires < S_HOLD_SPINS)
        return;
    event_del(c->hold);
    c->off = 1;
}

/* Put the hold on the connection's descriptor (at its first request: evhttp gives the
   bufferevent its descriptor after s_bevcb). Without memory the connection goes without. */
static void s_hold_start(s_conn_t *c, struct event_base *base)
{
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    if (fd < 0)
        return;
    c->hold = event_new(base, fd, EV_READ | EV_PERSIST, s_on_hold, c);
    if (c->hold && event_add(c->hold, NULL) != 0) {
        event_free(c->hold);
        c->hold = NULL;
    }
}

/* A TLS connection went away (its SSL is being freed, on this worker's thread; the
   bufferevent has already closed the descriptor: deleting the hold then is a no-op for
   epoll, which libevent tolerates). */
static void s_conn_closed(void *arg)
{
    s_conn_t *c = arg;
    cf_https_worker_t *w = c->w;
    if (c->hold)
        event_free(c->hold);
    cf_mem_free(c);
    w->conns--;
    if (w->paused && w->tls_sock && w->conns < w->owner->cfg.max_conns) {
        evconnlistener_enable(evhttp_bound_socket_get_listener(w->tls_sock));
        w->paused = 0;
    }
}

/* The connection sent a fatal alert (a refused handshake, mostly): the worker takes its
   socket for a lingering close (cf_https_linger.c). The hold goes first: once the
   linger closes the descriptor, no event of this connection may remain on it. */
static int s_conn_alert(void *arg, int fd)
{
    s_conn_t *c = arg;
    if (c->w->lingering >= cf_https_linger_cap(c->w))
        return 0;
    if (c->hold) {
        event_free(c->hold);
        c->hold = NULL;
        c->off = 0;
    }
    return cf_https_linger_take(c->w, fd);
}

/* Read-ahead (on from a connection's first request) lets OpenSSL take a whole request in
   one read(2) instead of two (record header, then record). Its catch: records it has read
   but not yet decrypted are invisible to libevent, which reads again only while SSL_pending
   (decrypted bytes) says so or when epoll says readable; a record already in OpenSSL's
   buffer would wait for the client's next bytes. So the read event is run again by hand
   whenever such records remain: after each chunk read (a body in a second record) and when
   a request is complete (a pipelined request, once evhttp reads again). */
static void s_read_on(struct bufferevent *bev)
{
    SSL *ssl = bufferevent_openssl_get_ssl(bev);
    if (ssl && SSL_has_pending(ssl) && SSL_pending(ssl) == 0)
        event_active(&bev->ev_read, EV_READ, 1);
}

static void s_on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    (void) buf;
    s_conn_t *c = arg;
    if (info->n_added) {
        c->fires = 0; /* the connection reads: the hold's wake-ups were not idle */
        s_read_on(c->bev);
    }
}

static void s_on_complete(struct evhttp_request *req, void *arg)
{
    (void) req;
    s_conn_t *c = arg;
    c->fires = 0;
    if (c->off && event_add(c->hold, NULL) == 0) /* evhttp reads again: so does the hold */
        c->off = 0;
    s_read_on(c->bev); /* runs before evhttp reads again: the event runs after, in this turn */
}

/* evhttp asks for the bufferevent of each accepted TLS connection. Returning NULL would
   make evhttp fall back to a plain bufferevent: s_on_tls_request refuses such a one. */
static struct bufferevent *s_bevcb(struct event_base *base, void *arg)
{
    cf_https_worker_t *w = arg;
    s_conn_t *c = cf_mem_calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->w = w;
    cf_https_conn_hooks_t hooks = {s_conn_closed, s_conn_alert, c};
    SSL *ssl = cf_https_ssl_new(w->ctx, w->require, &hooks);
    if (!ssl) {
        cf_mem_free(c);
        return NULL;
    }
    w->conns++; /* s_conn_closed undoes it (and frees c) when the SSL goes */
    struct bufferevent *bev = bufferevent_openssl_socket_new(
        base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        SSL_free(ssl);
        return NULL;
    }
    c->bev = bev;
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    /* reads in chunks that keep the input buffer's chunk a 1 KiB allocation (with
       libevent's chunk header), which glibc serves from its per-thread cache; libevent's
       4096 is a "large" request, and each one makes malloc consolidate its fast bins */
    (void) bufferevent_set_max_single_read(bev, S_READ_MAX);
    if (!evbuffer_add_cb(bufferevent_get_input(bev), s_on_input, c)) {
        bufferevent_free(bev); /* frees the SSL (s_conn_closed) */
        return NULL;
    }
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
    cf_https_worker_t *w = arg;
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    SSL *ssl = evcon ? bufferevent_openssl_get_ssl(evhttp_connection_get_bufferevent(evcon)) : NULL;
    char *host = NULL;
    ev_uint16_t port = 0;
    const cf_https_peer_t *peer = NULL;
    if (ssl) {
        evhttp_connection_get_peer(evcon, &host, &port);
        peer = cf_https_ssl_peer(ssl, host, port);
    }
    s_conn_t *c = ssl ? cf_https_ssl_arg(ssl) : NULL; /* s_bevcb's */
    if (!peer || !c) { /* no SSL on the TLS port (out of memory in s_bevcb), or no memory now */
        s_refuse_request(req);
        return;
    }
    if (!c->hold) {
        /* the handshake read exactly what it needed, so nothing waits in OpenSSL yet */
        SSL_set_read_ahead(ssl, 1);
        s_hold_start(c, w->base);
    }
    evhttp_request_set_on_complete_cb(req, s_on_complete, c);
    w->owner->cfg.on_request(req, peer, w->owner->cfg.request_arg);
}

static void s_on_plain_request(struct evhttp_request *req, void *arg)
{
    cf_https_worker_t *w = arg;
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    char *host = NULL;
    ev_uint16_t port = 0;
    if (evcon)
        evhttp_connection_get_peer(evcon, &host, &port);
    cf_https_peer_t peer = {0,    NULL, NULL, CF_COMPONENT_UNKNOWN, NULL,
                            NULL, NULL, 0,    host ? host : "",     port};
    w->owner->cfg.on_request(req, &peer, w->owner->cfg.request_arg);
}

static struct evhttp *s_http_new(cf_https_worker_t *w, void (*cb)(struct evhttp_request *, void *))
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

/* The worker's loop. With epoll's changelist, event changes made during one loop turn are
   applied at the next wait, once: evhttp and bufferevent_openssl disable and re-enable
   reading and writing around every request, which otherwise costs about two epoll_ctl
   calls per request; in one turn they cancel out. (libevent's caveat for it, a descriptor
   dup()ed and closed while its twin stays in the same loop, does not happen here: the
   listening socket's dups live in different workers' loops.) */
static struct event_base *s_base_new(void)
{
    struct event_config *ec = event_config_new();
    if (!ec)
        return NULL;
    event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    struct event_base *base = event_base_new_with_config(ec);
    event_config_free(ec);
    return base;
}

cf_err_t cf_https_worker_init(cf_https_t *self, cf_https_worker_t *w, int tls_fd)
{
    w->owner = self;
    w->mbox[0] = w->mbox[1] = -1;
    w->require = self->require;
    SSL_CTX_up_ref(self->ctx);
    w->ctx = self->ctx;
    w->base = s_base_new();
    if (!w->base || pipe2(w->mbox, O_CLOEXEC) != 0 || fcntl(w->mbox[0], F_SETFL, O_NONBLOCK) != 0)
        return CF_ERR_IO;
    w->mbox_ev = event_new(w->base, w->mbox[0], EV_READ | EV_PERSIST, s_on_mbox, w);
    w->tls_http = s_http_new(w, s_on_tls_request);
    w->plain_http = s_http_new(w, s_on_plain_request);
    if (!w->mbox_ev || !w->tls_http || !w->plain_http || event_add(w->mbox_ev, NULL) != 0)
        return CF_ERR_NOMEM;
    evhttp_set_bevcb(w->tls_http, s_bevcb, w);
    w->tls_sock = s_attach(w->tls_http, tls_fd);
    if (!w->tls_sock)
        return CF_ERR_IO;
    if (self->cfg.worker_new)
        return self->cfg.worker_new(w->base, self->cfg.worker_arg, &w->data);
    return CF_OK;
}

void cf_https_worker_free(cf_https_worker_t *w)
{
    if (!w->owner)
        return; /* never initialised */
    if (w->data && w->owner->cfg.worker_free)
        w->owner->cfg.worker_free(w->data, w->owner->cfg.worker_arg); /* before the requests go */
    w->data = NULL;
    w->tls_sock = NULL; /* evhttp_free closes it; s_conn_closed must not re-enable it */
    w->plain_sock = NULL;
    if (w->tls_http)
        evhttp_free(w->tls_http);
    if (w->plain_http)
        evhttp_free(w->plain_http);
    cf_https_linger_free_all(w); /* their events go before the base */
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

void *cf_https_worker_run(void *arg)
{
    cf_https_worker_t *w = arg;
    /* signals go to the main thread; a write to a closed peer must return EPIPE here, not
       kill the process (a SIGPIPE raised by this thread's write stays pending, blocked) */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    s_data = w->data;
    event_base_loop(w->base, 0);
    s_data = NULL;
    return NULL;
}
