/*  cf_relay_conn - one relayed connection on the relay's loop: handshake, identity, target
    connect, bytes both ways with backpressure, closing both sides together  */
#include "cf_relay_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "cf_log.h"
#include "cf_mem.h"

static void s_on_read(struct bufferevent *bev, void *arg);
static void s_on_write(struct bufferevent *bev, void *arg);
static void s_on_event(struct bufferevent *bev, short what, void *arg);

static void s_count(cf_relay_t *relay, uint64_t *counter, uint64_t n)
{
    pthread_mutex_lock(&relay->lock);
    *counter += n;
    pthread_mutex_unlock(&relay->lock);
}

/* Small ZMTP frames (heartbeats, acks) must not wait for Nagle: libzmq sets TCP_NODELAY on
   its own sockets, the relay does the same on both of its. */
static void s_nodelay(evutil_socket_t fd)
{
    int one = 1;
    if (fd >= 0)
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int s_is_tls(const cf_relay_conn_t *c, const struct bufferevent *bev)
{
    return (c->relay->mode == CF_RELAY_SERVER) == (bev == c->in);
}

static void s_free_bev(cf_relay_conn_t *c, struct bufferevent **bev_p)
{
    struct bufferevent *bev = *bev_p;
    if (!bev)
        return;
    if (s_is_tls(c, bev)) {
        SSL *ssl = bufferevent_openssl_get_ssl(bev);
        if (ssl && c->up)
            SSL_shutdown(ssl); /* close_notify, best effort (non-blocking socket) */
    }
    bufferevent_free(bev);
    *bev_p = NULL;
}

static void s_conn_free(cf_relay_conn_t *c)
{
    cf_relay_t *relay = c->relay;
    if (c->mapped)
        cf_relay_map_remove(relay, c->key);
    s_free_bev(c, &c->in);
    s_free_bev(c, &c->out);
    if (c->prev)
        c->prev->next = c->next;
    else
        relay->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_lock(&relay->lock);
    relay->stats.open--;
    pthread_mutex_unlock(&relay->lock);
    cf_mem_free(c);
}

void cf_relay_conn_free_all(cf_relay_t *self)
{
    while (self->conns)
        s_conn_free(self->conns);
}

/* Move what bev read to its partner; pause reading while the partner holds a watermark's
   worth (s_on_write resumes it). */
static void s_pump(cf_relay_conn_t *c, struct bufferevent *bev)
{
    struct bufferevent *to = bev == c->in ? c->out : c->in;
    if (!c->up || !to)
        return;
    struct evbuffer *src = bufferevent_get_input(bev);
    size_t n = evbuffer_get_length(src);
    if (n == 0)
        return;
    struct evbuffer *dst = bufferevent_get_output(to);
    evbuffer_add_buffer(dst, src);
    cf_relay_stats_t *st = &c->relay->stats;
    s_count(c->relay, bev == c->in ? &st->bytes_up : &st->bytes_down, n);
    if (evbuffer_get_length(dst) >= c->relay->watermark)
        bufferevent_disable(bev, EV_READ);
}

/* One side ended (EOF, error, timeout): what it read goes on, the other side is flushed
   (at most handshake_ms) and closed; then the connection is freed. */
static void s_end_side(cf_relay_conn_t *c, struct bufferevent *bev)
{
    s_pump(c, bev);
    struct bufferevent **gone = bev == c->in ? &c->in : &c->out;
    struct bufferevent *other = bev == c->in ? c->out : c->in;
    s_free_bev(c, gone);
    if (!other || c->closing || evbuffer_get_length(bufferevent_get_output(other)) == 0) {
        s_conn_free(c);
        return;
    }
    c->closing = 1;
    bufferevent_disable(other, EV_READ);
    bufferevent_setwatermark(other, EV_WRITE, 0, 0);
    struct timeval tv = {c->relay->handshake_ms / 1000, (c->relay->handshake_ms % 1000) * 1000};
    bufferevent_set_timeouts(other, NULL, &tv);
}

static void s_set_up(cf_relay_conn_t *c)
{
    c->up = 1;
    s_nodelay(bufferevent_getfd(c->out));
    s_count(c->relay, &c->relay->stats.relayed, 1);
    struct bufferevent *sides[2] = {c->in, c->out};
    for (int i = 0; i < 2; i++) {
        bufferevent_set_timeouts(sides[i], NULL, NULL);
        bufferevent_setwatermark(sides[i], EV_WRITE, c->relay->watermark / 2, 0);
        bufferevent_enable(sides[i], EV_READ | EV_WRITE);
    }
    s_pump(c, c->in); /* bytes that arrived while the other side was not up yet */
    s_pump(c, c->out);
}

/* SERVER: the client's certificate passed OpenSSL's chain check; the caller's check gives
   the identity, then the plain connection to the target is opened. */
static int s_server_handshaken(cf_relay_conn_t *c)
{
    cf_relay_t *relay = c->relay;
    SSL *ssl = bufferevent_openssl_get_ssl(c->in);
    X509 *x = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
    cf_cert_t *cert = NULL;
    cf_why_t why = {""};
    cf_err_t rc = CF_ERR_UNTRUSTED;
    if (x && SSL_get_verify_result(ssl) == X509_V_OK)
        rc = cf_cert_from_x509(x, &cert);
    if (rc == CF_OK)
        rc = relay->check(relay->check_arg, cert, c->identity, &why);
    if (rc != CF_OK) {
        cf_log(CF_LOG_INFO, "msg=\"relay refused\" addr=%s serial=%s err=%s why=\"%s\"", c->peer,
               cert ? cf_cert_serial(cert) : "-", cf_err_name(rc), cf_why_text(&why, rc));
        cf_cert_destroy(&cert);
        s_count(relay, &relay->stats.refused_check, 1);
        return -1;
    }
    cf_cert_destroy(&cert);
    c->out = bufferevent_socket_new(relay->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!c->out)
        return -1;
    struct timeval tv = {relay->handshake_ms / 1000, (relay->handshake_ms % 1000) * 1000};
    bufferevent_setcb(c->out, s_on_read, s_on_write, s_on_event, c);
    bufferevent_setwatermark(c->out, EV_READ, 0, relay->watermark);
    bufferevent_set_timeouts(c->out, &tv, &tv);
    if (bufferevent_socket_connect(c->out, (struct sockaddr *) &relay->target,
                                   (int) relay->target_len) != 0) {
        s_count(relay, &relay->stats.target_failed, 1);
        return -1;
    }
    return 0;
}

/* SERVER: the target accepted; the identity is mapped under the address the target sees
   before the first byte is relayed. */
static int s_server_target_up(cf_relay_conn_t *c)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(bufferevent_getfd(c->out), (struct sockaddr *) &ss, &len) != 0)
        return -1;
    cf_relay_addr_text((struct sockaddr *) &ss, c->key, sizeof(c->key));
    if (!c->key[0] || cf_relay_map_put(c->relay, c->key, c->identity) != CF_OK)
        return -1;
    c->mapped = 1;
    cf_log(CF_LOG_DEBUG, "msg=\"relay up\" addr=%s identity=%s via=%s", c->peer, c->identity,
           c->key);
    s_set_up(c);
    return 0;
}

static int s_on_connected(cf_relay_conn_t *c, struct bufferevent *bev)
{
    if (c->relay->mode == CF_RELAY_CLIENT) {
        s_set_up(c); /* the TLS handshake to the server (its certificate verified) is done */
        return 0;
    }
    return bev == c->in ? s_server_handshaken(c) : s_server_target_up(c);
}

static void s_refused_count(cf_relay_conn_t *c, struct bufferevent *bev)
{
    cf_relay_stats_t *st = &c->relay->stats;
    if (s_is_tls(c, bev)) {
        unsigned long e = bufferevent_get_openssl_error(bev);
        cf_log(CF_LOG_INFO, "msg=\"relay handshake failed\" addr=%s why=\"%s\"", c->peer,
               e && ERR_reason_error_string(e) ? ERR_reason_error_string(e)
                                               : "closed or timed out");
        s_count(c->relay, &st->refused_tls, 1);
    } else if (bev == c->out) {
        s_count(c->relay, &st->target_failed, 1);
    }
}

static void s_on_event(struct bufferevent *bev, short what, void *arg)
{
    cf_relay_conn_t *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        if (s_on_connected(c, bev) != 0)
            s_conn_free(c);
        return;
    }
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)))
        return;
    if (!c->up) {
        s_refused_count(c, bev);
        s_conn_free(c);
        return;
    }
    s_end_side(c, bev);
}

static void s_on_read(struct bufferevent *bev, void *arg)
{
    s_pump(arg, bev);
}

/* The output of bev fell to half a watermark (or, closing, emptied): resume the partner's
   reading, or finish the close. */
static void s_on_write(struct bufferevent *bev, void *arg)
{
    cf_relay_conn_t *c = arg;
    if (c->closing) {
        if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
            s_conn_free(c);
        return;
    }
    struct bufferevent *from = bev == c->in ? c->out : c->in;
    if (c->up && from && !(bufferevent_get_enabled(from) & EV_READ)) {
        bufferevent_enable(from, EV_READ);
        s_pump(c, from);
    }
}

/* The two sides of a new connection: the accepted fd and, in CLIENT mode, the TLS
   connection to the server (connecting). */
static int s_open(cf_relay_conn_t *c, evutil_socket_t fd)
{
    cf_relay_t *relay = c->relay;
    int server = relay->mode == CF_RELAY_SERVER;
    int opts = BEV_OPT_CLOSE_ON_FREE;
    SSL *ssl = cf_relay_tls_ssl(relay);
    if (!ssl)
        return -1;
    if (server) {
        c->in =
            bufferevent_openssl_socket_new(relay->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING, opts);
    } else {
        c->in = bufferevent_socket_new(relay->base, fd, opts);
        c->out = c->in ? bufferevent_openssl_socket_new(relay->base, -1, ssl,
                                                        BUFFEREVENT_SSL_CONNECTING, opts)
                       : NULL;
    }
    struct bufferevent *tls = server ? c->in : c->out;
    if (!tls) {
        SSL_free(ssl);
        return -1;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(tls, 1); /* EOF without close_notify */
    struct timeval tv = {relay->handshake_ms / 1000, (relay->handshake_ms % 1000) * 1000};
    struct bufferevent *sides[2] = {c->in, c->out};
    for (int i = 0; i < 2 && sides[i]; i++) {
        bufferevent_setcb(sides[i], s_on_read, s_on_write, s_on_event, c);
        bufferevent_setwatermark(sides[i], EV_READ, 0, relay->watermark);
        bufferevent_set_timeouts(sides[i], &tv, &tv);
        bufferevent_enable(sides[i], EV_READ | EV_WRITE);
    }
    if (!server && bufferevent_socket_connect(c->out, (struct sockaddr *) &relay->target,
                                              (int) relay->target_len) != 0)
        return -1;
    return 0;
}

void cf_relay_conn_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                          int salen, void *arg)
{
    (void) l, (void) salen;
    cf_relay_t *relay = arg;
    pthread_mutex_lock(&relay->lock);
    relay->stats.accepted++;
    int full = relay->stats.open >= relay->max_conns;
    if (full)
        relay->stats.refused_full++;
    else
        relay->stats.open++;
    pthread_mutex_unlock(&relay->lock);
    cf_relay_conn_t *c = full ? NULL : cf_mem_calloc(1, sizeof(*c));
    if (!c) {
        if (!full) {
            pthread_mutex_lock(&relay->lock);
            relay->stats.open--;
            pthread_mutex_unlock(&relay->lock);
        }
        cf_log(CF_LOG_WARN, "msg=\"relay connection refused\" why=\"%s\"",
               full ? "too many connections" : "out of memory");
        close(fd);
        return;
    }
    c->relay = relay;
    s_nodelay(fd);
    cf_relay_addr_text(sa, c->peer, sizeof(c->peer));
    c->next = relay->conns;
    if (c->next)
        c->next->prev = c;
    relay->conns = c;
    if (s_open(c, fd) != 0) {
        if (!c->in)
            close(fd);
        s_conn_free(c);
    }
}
