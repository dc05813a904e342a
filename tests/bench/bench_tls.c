/*  bench_tls - HTTPS load on loopback with client certificates: full handshakes or keep-alive  */
/* Non-blocking sockets, OpenSSL on the file descriptor and one epoll loop per thread, rather
   than libevent: the load tool must cost less than the server it drives, so it keeps no
   buffering layer between the socket and SSL and does nothing per operation beyond what the
   protocol needs. Output: human lines, "Requests/sec:" like wrk in requests mode, and one
   "result key=value ..." line for scripts. */
#include <errno.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "bench_tls_ctx.h"
#include "bench_tls_http.h"
#include "bench_tls_opts.h"
#include "bench_tls_stats.h"
#include "cf_mem.h"

#define S_EVENTS 256  /* epoll events per wait */
#define S_RETRY  0.01 /* seconds before a failed connection starts again */

typedef struct {
    const s_opts_t *o;   /* options */
    s_ident_t *ids;      /* client identities, n_ids of them */
    size_t n_ids;        /* at least 1 */
    char ip[64];         /* the target address as text, for the server's SAN check */
    atomic_long tickets; /* --count: attempts left to hand out */
    double t0, t_end;    /* start, and end of the run (duration mode; else far away) */
} s_shared_t;

typedef enum { S_IDLE, S_CONNECT, S_HANDSHAKE, S_WRITE, S_READ, S_SHUTDOWN } s_state_t;

typedef struct {
    int fd;                  /* socket, -1 when idle */
    SSL *ssl;                /* owned, NULL when idle */
    s_state_t state;         /* where the connection is */
    uint32_t gen;            /* bumped at each close: stale epoll events are ignored */
    uint32_t events;         /* current epoll interest */
    const s_ident_t *id;     /* identity presented (borrowed) */
    char *req;               /* the request this connection sends (owned) */
    size_t req_len, req_off; /* its length and how much is written */
    s_resp_t resp;           /* the answer being read */
    double t_op;             /* start of the timed operation */
    double deadline;         /* its timeout; when idle after a failure, the earliest restart */
} s_conn_t;

typedef struct {
    s_shared_t *sh;  /* shared run state (borrowed) */
    int ep;          /* epoll descriptor */
    s_conn_t *conns; /* n connections (owned) */
    size_t n;        /* connections of this worker */
    size_t idle;     /* connections in S_IDLE */
    s_stats_t st;    /* what this worker measured */
    pthread_t tid;   /* thread, when more than one */
} s_worker_t;

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* May an attempt start now? With take, a --count ticket is used up; without, only looked at
   (a keep-alive connection takes its tickets per request). */
static int s_may_start(s_worker_t *w, double now, int take)
{
    if (now >= w->sh->t_end)
        return 0;
    if (!w->sh->o->count)
        return 1;
    if (!take)
        return atomic_load(&w->sh->tickets) > 0;
    return atomic_fetch_sub(&w->sh->tickets, 1) > 0;
}

static void s_want(s_worker_t *w, s_conn_t *c, uint32_t events)
{
    if (c->events == events)
        return;
    struct epoll_event ev = {.events = events};
    ev.data.u64 = ((uint64_t) c->gen << 32) | (uint64_t) (c - w->conns);
    if (epoll_ctl(w->ep, c->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ev) == 0)
        c->events = events;
}

static void s_close(s_worker_t *w, s_conn_t *c)
{
    SSL_free(c->ssl);
    c->ssl = NULL;
    if (c->fd >= 0)
        close(c->fd); /* also leaves the epoll set */
    c->fd = -1;
    c->events = 0;
    c->gen++;
    c->state = S_IDLE;
    w->idle++;
}

/* Count the failure and close; the connection starts again after S_RETRY, so a server that
   refuses every connection is not hammered. */
static void s_fail(s_worker_t *w, s_conn_t *c, const char *reason)
{
    s_stats_fail(&w->st, reason);
    ERR_clear_error();
    s_close(w, c);
    c->deadline = s_now() + S_RETRY;
}

/* An SSL call did not complete: wait for the socket, or fail with the reason. */
static void s_ssl_wait(s_worker_t *w, s_conn_t *c, int ret, const char *what)
{
    char why[200];
    int err = SSL_get_error(c->ssl, ret);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        s_want(w, c, err == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT);
        return;
    }
    s_ssl_reason(c->ssl, err, what, why, sizeof(why));
    s_fail(w, c, why);
}

/* Open a socket and connect; the connection then waits to be writable. A failure here
   leaves it idle until the loop's next round, so a refusing server is not hammered. */
static void s_start(s_worker_t *w, s_conn_t *c, double now)
{
    const s_opts_t *o = w->sh->o;
    char why[128];
    w->idle--;
    c->t_op = now;
    c->deadline = now + o->timeout_ms / 1e3;
    c->state = S_CONNECT;
    c->fd = socket(o->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        snprintf(why, sizeof(why), "socket: %s", strerror(errno));
        s_fail(w, c, why);
        return;
    }
    int one = 1;
    (void) setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (const struct sockaddr *) &o->addr, o->addr_len) != 0 &&
        errno != EINPROGRESS) {
        snprintf(why, sizeof(why), "connect: %s", strerror(errno));
        s_fail(w, c, why);
        return;
    }
    s_want(w, c, EPOLLOUT);
}

static int s_connected(s_worker_t *w, s_conn_t *c)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        char why[128];
        snprintf(why, sizeof(why), "connect: %s", strerror(err ? err : errno));
        s_fail(w, c, why);
        return 0;
    }
    c->ssl = SSL_new(c->id->ctx); /* fresh each time and no session set: a full handshake */
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
        s_fail(w, c, "SSL_new failed");
        return 0;
    }
    if (!w->sh->o->no_verify)
        (void) X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), w->sh->ip);
    SSL_set_connect_state(c->ssl);
    c->state = S_HANDSHAKE;
    return 1;
}

static void s_reset_response(s_conn_t *c)
{
    c->req_off = 0;
    s_resp_reset(&c->resp, strncmp(c->req, "HEAD ", 5) == 0);
    c->state = S_WRITE;
}

/* The next keep-alive request, timed from now: takes a ticket or closes the connection. */
static int s_next_request(s_worker_t *w, s_conn_t *c, double now)
{
    if (!s_may_start(w, now, 1)) {
        s_close(w, c);
        return 0;
    }
    s_reset_response(c);
    c->t_op = now;
    c->deadline = now + w->sh->o->timeout_ms / 1e3;
    return 1;
}

static int s_handshake(s_worker_t *w, s_conn_t *c)
{
    int ret = SSL_do_handshake(c->ssl);
    if (ret != 1) {
        s_ssl_wait(w, c, ret, "handshake");
        return 0;
    }
    if (SSL_session_reused(c->ssl)) {
        s_fail(w, c, "handshake: session resumed (must be a full handshake)");
        return 0;
    }
    s_stats_proto(&w->st, c->ssl);
    if (w->sh->o->mode == BT_REQUESTS)
        return s_next_request(w, c, s_now());
    if (!w->sh->o->send_request) {
        c->state = S_SHUTDOWN;
        return 1;
    }
    s_reset_response(c); /* the handshake's timing goes on until the answer */
    return 1;
}

static int s_write(s_worker_t *w, s_conn_t *c)
{
    while (c->req_off < c->req_len) {
        int ret = SSL_write(c->ssl, c->req + c->req_off, (int) (c->req_len - c->req_off));
        if (ret <= 0) {
            s_ssl_wait(w, c, ret, "write");
            return 0;
        }
        c->req_off += (size_t) ret;
    }
    c->state = S_READ;
    return 1;
}

/* One operation done: record it and go on with the next request or a new connection. */
static int s_done(s_worker_t *w, s_conn_t *c)
{
    double now = s_now();
    s_stats_ok(&w->st, now - c->t_op);
    if (w->sh->o->mode == BT_REQUESTS && !c->resp.close_after)
        return s_next_request(w, c, now);
    s_close(w, c);
    if (s_may_start(w, now, w->sh->o->mode == BT_HANDSHAKE))
        s_start(w, c, now);
    return 0;
}

static int s_answered(s_worker_t *w, s_conn_t *c)
{
    char why[64];
    if (c->resp.status >= 200 && c->resp.status <= 299)
        return s_done(w, c);
    if (w->sh->o->any_status) {
        w->st.non2xx++;
        w->st.status = c->resp.status;
        return s_done(w, c);
    }
    snprintf(why, sizeof(why), "HTTP status %d", c->resp.status);
    s_fail(w, c, why);
    return 0;
}

static int s_read(s_worker_t *w, s_conn_t *c)
{
    char buf[16384];
    for (;;) {
        int ret = SSL_read(c->ssl, buf, sizeof(buf)), complete = 0;
        if (ret <= 0 && c->resp.head_done && c->resp.body_left < 0 &&
            SSL_get_error(c->ssl, ret) == SSL_ERROR_ZERO_RETURN) {
            c->resp.close_after = 1; /* a body that ends with the connection */
            return s_answered(w, c);
        }
        if (ret <= 0) {
            s_ssl_wait(w, c, ret, "read");
            return 0;
        }
        const char *bad = s_resp_feed(&c->resp, buf, (size_t) ret, &complete);
        if (bad) {
            s_fail(w, c, bad);
            return 0;
        }
        if (complete)
            return s_answered(w, c);
    }
}

/* No request: send close_notify and wait for the server to close. This round trip is what
   shows the server accepted the client certificate: in TLS 1.3 its refusal arrives after the
   client has finished its side of the handshake. */
static int s_shutdown(s_worker_t *w, s_conn_t *c)
{
    char buf[4096];
    if (!(SSL_get_shutdown(c->ssl) & SSL_SENT_SHUTDOWN)) {
        int ret = SSL_shutdown(c->ssl);
        if (ret < 0) {
            s_ssl_wait(w, c, ret, "shutdown");
            return 0;
        }
    }
    for (;;) {
        int ret = SSL_read(c->ssl, buf, sizeof(buf));
        if (ret > 0)
            continue;
        if (SSL_get_error(c->ssl, ret) == SSL_ERROR_ZERO_RETURN)
            return s_done(w, c);
        s_ssl_wait(w, c, ret, "after the handshake");
        return 0;
    }
}

static void s_step(s_worker_t *w, s_conn_t *c)
{
    int go = 1;
    while (go) {
        switch (c->state) {
        case S_CONNECT: go = s_connected(w, c); break;
        case S_HANDSHAKE: go = s_handshake(w, c); break;
        case S_WRITE: go = s_write(w, c); break;
        case S_READ: go = s_read(w, c); break;
        case S_SHUTDOWN: go = s_shutdown(w, c); break;
        case S_IDLE:
        default: go = 0; break;
        }
    }
}

static void s_sweep(s_worker_t *w, double now)
{
    static const char *const what[] = {"",
                                       "timeout: connect",
                                       "timeout: handshake",
                                       "timeout: writing the request",
                                       "timeout: waiting for the answer",
                                       "timeout: waiting for the server to close"};
    for (size_t i = 0; i < w->n; i++) {
        s_conn_t *c = &w->conns[i];
        if (c->state != S_IDLE && now > c->deadline)
            s_fail(w, c, what[c->state]);
    }
}

/* Start idle connections (those past their retry time) while attempts may start. */
static void s_start_idle(s_worker_t *w, double now)
{
    int take = w->sh->o->mode == BT_HANDSHAKE;
    for (size_t i = 0; i < w->n && w->idle > 0; i++) {
        s_conn_t *c = &w->conns[i];
        if (c->state != S_IDLE || now < c->deadline)
            continue;
        if (!s_may_start(w, now, take))
            break;
        s_start(w, c, now);
    }
}

static void *s_loop(void *arg)
{
    s_worker_t *w = arg;
    struct epoll_event evs[S_EVENTS];
    double next_sweep = 0;
    for (;;) {
        double now = s_now();
        if (now >= w->sh->t_end)
            break;
        if (w->idle)
            s_start_idle(w, now);
        if (w->idle == w->n && !s_may_start(w, now, 0))
            break; /* nothing in flight and nothing may start */
        int n = epoll_wait(w->ep, evs, S_EVENTS, 20);
        for (int i = 0; i < n; i++) {
            s_conn_t *c = &w->conns[(uint32_t) evs[i].data.u64];
            if (c->gen == (uint32_t) (evs[i].data.u64 >> 32))
                s_step(w, c);
        }
        now = s_now();
        if (now >= next_sweep) {
            s_sweep(w, now);
            next_sweep = now + 0.05;
        }
    }
    w->st.t_stop = s_now();
    return NULL;
}

/* Worker connections [first, first + n): each with its identity and its request. */
static CF_MUST_USE cf_err_t s_worker_init(s_worker_t *w, s_shared_t *sh, size_t first, size_t n,
                                          cf_why_t *why)
{
    char req[BT_MAX_REQUEST];
    w->sh = sh;
    w->n = n;
    w->idle = n;
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    w->conns = cf_mem_calloc(n, sizeof(*w->conns));
    if (w->ep < 0 || !w->conns)
        return cf_why(why, CF_ERR_NOMEM, "no memory or epoll for %zu connections", n);
    for (size_t i = 0; i < n; i++) {
        s_conn_t *c = &w->conns[i];
        c->fd = -1;
        c->state = S_IDLE;
        c->id = &sh->ids[(first + i) % sh->n_ids];
        if (!sh->o->send_request)
            continue;
        CF_TRY(
            s_build_request(sh->o, (long) (first + i), c->id->name, req, sizeof(req), &c->req_len));
        c->req = cf_mem_memdup(req, c->req_len + 1);
        if (!c->req)
            return cf_why(why, CF_ERR_NOMEM, "no memory for the requests");
    }
    return CF_OK;
}

static void s_worker_fini(s_worker_t *w)
{
    for (size_t i = 0; w->conns && i < w->n; i++) {
        SSL_free(w->conns[i].ssl);
        if (w->conns[i].fd >= 0)
            close(w->conns[i].fd);
        cf_mem_free(w->conns[i].req);
    }
    cf_mem_free(w->conns);
    w->conns = NULL;
    if (w->ep >= 0)
        close(w->ep);
    w->ep = -1;
}

/* Run the workers (threads when more than one) and merge what they measured into *st. */
static void s_drive(s_shared_t *sh, s_worker_t *ws, int threads, s_stats_t *st)
{
    sh->t0 = s_now();
    sh->t_end = sh->t0 + (sh->o->duration ? sh->o->duration : BT_MAX_DURATION);
    atomic_init(&sh->tickets, sh->o->count);
    int spawned = 0;
    for (; threads > 1 && spawned < threads; spawned++) {
        if (pthread_create(&ws[spawned].tid, NULL, s_loop, &ws[spawned]) != 0)
            break;
    }
    for (int t = spawned; t < threads; t++)
        s_loop(&ws[t]); /* one thread, or those that could not be started, run here */
    for (int t = 0; t < spawned; t++)
        pthread_join(ws[t].tid, NULL);
    for (int t = 0; t < threads; t++)
        s_stats_merge(st, &ws[t].st);
}

static int s_run(const s_opts_t *o)
{
    s_shared_t sh = {.o = o};
    s_stats_t *st = cf_mem_calloc(1, sizeof(*st));
    s_worker_t *ws = cf_mem_calloc((size_t) o->threads, sizeof(*ws));
    cf_why_t why = {""};
    int code = 1, started = 0;
    const void *a = o->addr.ss_family == AF_INET
                        ? (const void *) &((const struct sockaddr_in *) &o->addr)->sin_addr
                        : (const void *) &((const struct sockaddr_in6 *) &o->addr)->sin6_addr;
    inet_ntop(o->addr.ss_family, a, sh.ip, sizeof(sh.ip));
    cf_err_t rc = st && ws ? s_idents_load(o, &sh.ids, &sh.n_ids, &why) : CF_ERR_NOMEM;
    for (int t = 0; rc == CF_OK && t < o->threads; t++, started++) {
        size_t first = (size_t) o->conns * (size_t) t / (size_t) o->threads;
        size_t next = (size_t) o->conns * (size_t) (t + 1) / (size_t) o->threads;
        rc = s_worker_init(&ws[t], &sh, first, next - first, &why);
    }
    if (rc != CF_OK) {
        fprintf(stderr, "bench_tls: %s\n", cf_why_text(&why, rc));
        goto out;
    }
    double cpu0 = s_cpu();
    s_drive(&sh, ws, o->threads, st);
    s_stats_report(o, sh.ip, sh.ids, sh.n_ids, st, sh.t0, s_cpu() - cpu0);
    code = st->ok > 0 ? 0 : 1;
out:
    for (int t = 0; ws && t < started; t++)
        s_worker_fini(&ws[t]);
    s_idents_free(&sh.ids, sh.n_ids);
    cf_mem_free(ws);
    cf_mem_free(st);
    return code;
}

int main(int argc, char **argv)
{
    s_opts_t o;
    cf_why_t why = {""};
    if (s_opts_parse(argc, argv, &o, &why) != CF_OK) {
        fprintf(stderr, "bench_tls: %s (try --help)\n", cf_why_text(&why, CF_ERR_INVALID));
        return 2;
    }
    if (o.help) {
        s_usage(stdout);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN); /* a write to a closed connection is a failure, not a death */
    return s_run(&o);
}
