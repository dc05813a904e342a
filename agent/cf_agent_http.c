/*  cf_agent_http - the agent's HTTPS client: one blocking call (a POST, or a TLS probe) over
    libevent's evhttp and bufferevent_openssl on a private event_base (no libcurl: README)  */
#include "cf_agent_checkin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "cf_mem.h"

#define S_TIMEOUT_MS  10000 /* a call's limit when the caller gives none */
#define S_HEADERS_MAX 16384 /* answer headers, bytes */
#define S_DETAIL_MAX  160   /* the TLS detail added to a failure */

/* One call: its loop, its connection and its outcome. */
typedef struct {
    const cf_agent_http_t *h;        /* the endpoint (borrowed) */
    struct event_base *base;         /* this call's loop */
    struct event *timer;             /* the whole call's limit */
    SSL_CTX *ctx;                    /* TLS settings; NULL when plain */
    SSL *ssl;                        /* the session until a bufferevent owns it */
    struct bufferevent *bev;         /* the connection until evhttp owns it (probe: always) */
    struct evhttp_connection *evcon; /* POST: the HTTP connection */
    int done;                        /* 1 once the outcome is known */
    cf_err_t rc;                     /* the outcome */
    long status;                     /* the answer's HTTP status */
    char *answer;                    /* its body, NUL-terminated (owned until taken) */
    cf_why_t *why;                   /* where a failure is explained (may be NULL) */
} s_call_t;

void cf_agent_http_for(cf_agent_http_t *h, const cf_agent_server_t *s, int plain)
{
    h->alias = s->alias;
    h->host = s->host[0] ? s->host : s->alias;
    h->plain = plain && s->plain_port;
    h->port = h->plain ? s->plain_port : s->port;
}

static const char *s_host(const cf_agent_http_t *h)
{
    return h->host && h->host[0] ? h->host : h->alias;
}

/* The call failed in TLS for a reason a try elsewhere would not change (tls_refused). */
static void s_refused(const s_call_t *c)
{
    if (c->h->tls_refused)
        *c->h->tls_refused = 1;
}

/* What TLS said about the failure: the peer check, else OpenSSL's first error; "" if none.
   The peer's certificate not trusted, or a fatal alert it sent, is a refusal. */
static void s_detail(const s_call_t *c, char *buf, size_t cap)
{
    buf[0] = '\0';
    SSL *ssl = c->bev ? bufferevent_openssl_get_ssl(c->bev) : c->ssl;
    long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    unsigned long e = c->bev ? bufferevent_get_openssl_error(c->bev) : 0;
    if (v != X509_V_OK || (ERR_GET_LIB(e) == ERR_LIB_SSL &&
                           ERR_GET_REASON(e) >= SSL_AD_REASON_OFFSET)) /* an alert received */
        s_refused(c);
    if (v != X509_V_OK)
        snprintf(buf, cap, ": certificate verify failed: %s", X509_verify_cert_error_string(v));
    else if (e) {
        char text[S_DETAIL_MAX];
        ERR_error_string_n(e, text, sizeof(text));
        snprintf(buf, cap, ": %s", text);
    }
}

/* The call ends with rc; what is explained as "alias:port: what[: TLS detail]". */
static void s_end(s_call_t *c, cf_err_t rc, const char *what)
{
    if (c->done)
        return;
    c->done = 1;
    c->rc = rc;
    if (rc != CF_OK) {
        char detail[S_DETAIL_MAX + 40];
        s_detail(c, detail, sizeof(detail));
        cf_why(c->why, rc, "%s:%u: %s%s", c->h->alias, (unsigned) c->h->port, what, detail);
    }
    event_base_loopbreak(c->base);
}

static void s_on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    s_end(arg, CF_ERR_IO, "timed out");
}

/* The TLS settings: TLS 1.2 or later, the server checked against the CA file and the alias;
   the client certificate when there is one. */
static cf_err_t s_tls(s_call_t *c)
{
    const cf_agent_http_t *h = c->h;
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ctx)
        return CF_ERR_NOMEM;
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    if (h->ca_file && SSL_CTX_load_verify_locations(c->ctx, h->ca_file, NULL) != 1) {
        s_refused(c);
        return cf_why(c->why, CF_ERR_IO, "%s:%u: cannot read the CA file %s", h->alias,
                      (unsigned) h->port, h->ca_file);
    }
    if (h->cert_file && h->key_file &&
        (SSL_CTX_use_certificate_chain_file(c->ctx, h->cert_file) != 1 ||
         SSL_CTX_use_PrivateKey_file(c->ctx, h->key_file, SSL_FILETYPE_PEM) != 1 ||
         SSL_CTX_check_private_key(c->ctx) != 1)) {
        s_refused(c);
        return cf_why(c->why, CF_ERR_IO, "%s:%u: cannot use the client certificate %s", h->alias,
                      (unsigned) h->port, h->cert_file);
    }
    c->ssl = SSL_new(c->ctx);
    if (!c->ssl)
        return CF_ERR_NOMEM;
    unsigned char ip[16];
    int is_ip = inet_pton(AF_INET, h->alias, ip) == 1 || inet_pton(AF_INET6, h->alias, ip) == 1;
    int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), h->alias)
                   : SSL_set_tlsext_host_name(c->ssl, h->alias) == 1 &&
                         SSL_set1_host(c->ssl, h->alias) == 1;
    return ok ? CF_OK : CF_ERR_NOMEM;
}

/* A call's loop, timer and (unless plain) TLS session. */
static cf_err_t s_begin(s_call_t *c, const cf_agent_http_t *h, cf_why_t *why)
{
    memset(c, 0, sizeof(*c));
    c->h = h;
    c->why = why;
    c->rc = CF_ERR_IO;
    c->base = event_base_new();
    if (!c->base)
        return CF_ERR_NOMEM;
    c->timer = evtimer_new(c->base, s_on_timer, c);
    long ms = h->timeout_ms > 0 ? h->timeout_ms : S_TIMEOUT_MS;
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    if (!c->timer || evtimer_add(c->timer, &tv) != 0)
        return CF_ERR_NOMEM;
    return h->plain ? CF_OK : s_tls(c);
}

/* Run the loop until the outcome is known. */
static void s_run(s_call_t *c)
{
    event_base_dispatch(c->base);
    s_end(c, CF_ERR_IO, "no answer");
}

static void s_finish(s_call_t *c)
{
    if (c->evcon)
        evhttp_connection_free(c->evcon); /* frees its bufferevent and TLS session */
    else if (c->bev)
        bufferevent_free(c->bev);
    SSL_free(c->ssl);
    SSL_CTX_free(c->ctx);
    if (c->timer)
        event_free(c->timer);
    if (c->base)
        event_base_free(c->base);
    cf_mem_free(c->answer);
    ERR_clear_error();
}

static void s_on_error(enum evhttp_request_error e, void *arg)
{
    s_call_t *c = arg;
    switch (e) {
    case EVREQ_HTTP_TIMEOUT: s_end(c, CF_ERR_IO, "timed out"); break;
    case EVREQ_HTTP_EOF: s_end(c, CF_ERR_IO, "connection closed before the answer"); break;
    case EVREQ_HTTP_DATA_TOO_LONG:
        c->done = 1;
        c->rc = cf_why(c->why, CF_ERR_TOOBIG, "%s: answer over %d bytes", c->h->alias,
                       CF_AGENT_ANSWER_MAX);
        event_base_loopbreak(c->base);
        break;
    case EVREQ_HTTP_BUFFER_ERROR: s_end(c, CF_ERR_IO, "read or write failed"); break;
    default: s_end(c, CF_ERR_IO, "connection or TLS handshake failed"); break;
    }
}

static void s_on_answer(struct evhttp_request *req, void *arg)
{
    s_call_t *c = arg;
    if (c->done)
        return;
    if (!req || evhttp_request_get_response_code(req) == 0) {
        s_end(c, CF_ERR_IO, "connection or TLS handshake failed");
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    c->answer = cf_mem_malloc(len + 1);
    if (!c->answer) {
        c->done = 1;
        c->rc = CF_ERR_NOMEM;
        event_base_loopbreak(c->base);
        return;
    }
    if (evbuffer_remove(in, c->answer, len) != (int) len) {
        s_end(c, CF_ERR_IO, "read failed");
        return;
    }
    c->answer[len] = '\0';
    c->status = evhttp_request_get_response_code(req);
    s_end(c, CF_OK, "");
}

/* The POST request with its headers and body, sent on c->evcon. */
static cf_err_t s_request(s_call_t *c, const char *path, const char *body)
{
    struct evhttp_request *req = evhttp_request_new(s_on_answer, c);
    if (!req)
        return CF_ERR_NOMEM;
    evhttp_request_set_error_cb(req, s_on_error);
    char host[300];
    snprintf(host, sizeof(host), "%s:%u", c->h->alias, (unsigned) c->h->port);
    struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);
    int bad = evhttp_add_header(hdr, "Host", host) != 0;
    bad |= evhttp_add_header(hdr, "Content-Type", "application/json") != 0;
    bad |= evhttp_add_header(hdr, "User-Agent", "cf-agent/" CF_AGENT_VERSION) != 0;
    bad |= evhttp_add_header(hdr, "Connection", "close") != 0;
    bad |= evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body)) != 0;
    if (bad) {
        evhttp_request_free(req);
        return CF_ERR_NOMEM;
    }
    if (evhttp_make_request(c->evcon, req, EVHTTP_REQ_POST, path) != 0) {
        evhttp_request_free(req); /* not queued: still ours */
        return cf_why(c->why, CF_ERR_IO, "%s:%u: cannot connect (from %s)", c->h->alias,
                      (unsigned) c->h->port, c->h->source_addr ? c->h->source_addr : "any");
    }
    return CF_OK;
}

/* The connection: TLS (or plain) bufferevent under an evhttp connection to host:port. */
static cf_err_t s_connection(s_call_t *c)
{
    const cf_agent_http_t *h = c->h;
    if (h->plain)
        c->bev = bufferevent_socket_new(c->base, -1, BEV_OPT_CLOSE_ON_FREE);
    else {
        c->bev = bufferevent_openssl_socket_new(c->base, -1, c->ssl, BUFFEREVENT_SSL_CONNECTING,
                                                BEV_OPT_CLOSE_ON_FREE);
        if (c->bev) {
            c->ssl = NULL; /* the bufferevent frees it */
            bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
        }
    }
    if (!c->bev)
        return CF_ERR_NOMEM;
    c->evcon = evhttp_connection_base_bufferevent_new(c->base, NULL, c->bev, s_host(h), h->port);
    if (!c->evcon)
        return CF_ERR_NOMEM;
    long ms = h->timeout_ms > 0 ? h->timeout_ms : S_TIMEOUT_MS;
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    evhttp_connection_set_timeout_tv(c->evcon, &tv);
    evhttp_connection_set_max_body_size(c->evcon, CF_AGENT_ANSWER_MAX);
    evhttp_connection_set_max_headers_size(c->evcon, S_HEADERS_MAX);
    if (h->source_addr && h->source_addr[0])
        evhttp_connection_set_local_address(c->evcon, h->source_addr);
    return CF_OK;
}

cf_err_t cf_agent_http_post(const cf_agent_http_t *h, const char *path, const char *body,
                            long *status_out, char **answer_out, cf_why_t *why)
{
    if (!h || !h->alias || !path || !body || !status_out)
        return cf_why(why, CF_ERR_INVALID, "missing argument");
    s_call_t c;
    cf_err_t rc = s_begin(&c, h, why);
    if (rc == CF_OK)
        rc = s_connection(&c);
    if (rc == CF_OK)
        rc = s_request(&c, path, body);
    if (rc != CF_OK)
        goto out;
    s_run(&c);
    rc = c.rc;
    if (rc != CF_OK)
        goto out;
    *status_out = c.status;
    if (answer_out) {
        *answer_out = c.answer;
        c.answer = NULL;
    }
out:
    s_finish(&c);
    return rc;
}

static void s_on_probe(struct bufferevent *bev, short what, void *arg)
{
    (void) bev;
    s_call_t *c = arg;
    if (what & BEV_EVENT_CONNECTED)
        s_end(c, CF_OK, "");
    else if (what & BEV_EVENT_TIMEOUT)
        s_end(c, CF_ERR_IO, "timed out");
    else
        s_end(c, CF_ERR_IO, "connection or TLS handshake failed");
}

/* A non-blocking socket to host:port, bound to the source address when one is set, its
   connect started. */
static cf_err_t s_socket(s_call_t *c, evutil_socket_t *fd_out)
{
    const cf_agent_http_t *h = c->h;
    char port[8];
    snprintf(port, sizeof(port), "%u", (unsigned) h->port);
    struct evutil_addrinfo hints = {.ai_socktype = SOCK_STREAM}, *to = NULL, *from = NULL;
    cf_err_t rc = CF_ERR_IO;
    int fd = -1;
    if (evutil_getaddrinfo(s_host(h), port, &hints, &to) != 0 || !to) {
        rc = cf_why(c->why, CF_ERR_IO, "%s:%u: cannot resolve %s", h->alias, (unsigned) h->port,
                    s_host(h));
        goto out;
    }
    fd = socket(to->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    if (h->source_addr && h->source_addr[0]) {
        hints.ai_flags = EVUTIL_AI_PASSIVE | EVUTIL_AI_NUMERICHOST;
        if (evutil_getaddrinfo(h->source_addr, NULL, &hints, &from) != 0 || !from ||
            bind(fd, from->ai_addr, (socklen_t) from->ai_addrlen) != 0)
            goto fail;
    }
    if (connect(fd, to->ai_addr, (socklen_t) to->ai_addrlen) == 0 || errno == EINPROGRESS) {
        *fd_out = fd;
        fd = -1;
        rc = CF_OK;
        goto out;
    }
fail:
    rc = cf_why(c->why, CF_ERR_IO, "%s:%u: cannot connect: %s", h->alias, (unsigned) h->port,
                strerror(errno));
out:
    if (fd >= 0)
        close(fd);
    if (to)
        evutil_freeaddrinfo(to);
    if (from)
        evutil_freeaddrinfo(from);
    return rc;
}

cf_err_t cf_agent_http_probe(const cf_agent_http_t *h, cf_why_t *why)
{
    if (!h || !h->alias)
        return cf_why(why, CF_ERR_INVALID, "missing argument");
    s_call_t c;
    evutil_socket_t fd = -1;
    cf_err_t rc = s_begin(&c, h, why);
    if (rc == CF_OK && h->plain)
        rc = cf_why(why, CF_ERR_INVALID, "a TLS probe needs a TLS endpoint");
    if (rc == CF_OK)
        rc = s_socket(&c, &fd);
    if (rc != CF_OK)
        goto out;
    c.bev = bufferevent_openssl_socket_new(c.base, fd, c.ssl, BUFFEREVENT_SSL_CONNECTING,
                                           BEV_OPT_CLOSE_ON_FREE);
    if (!c.bev) {
        close(fd);
        rc = CF_ERR_NOMEM;
        goto out;
    }
    c.ssl = NULL; /* the bufferevent frees it, and closes fd */
    bufferevent_setcb(c.bev, NULL, NULL, s_on_probe, &c);
    bufferevent_enable(c.bev, EV_READ | EV_WRITE);
    s_run(&c);
    rc = c.rc;
out:
    s_finish(&c);
    return rc;
}
