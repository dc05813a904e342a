/*  test_https_hold - the read hold (cf_https_worker.c): keep-alive requests need no epoll
    change, and a socket that is readable while evhttp does not read (a pipelined request or
    the peer's close during a deferred answer) does not make the worker spin  */
#define _GNU_SOURCE
#include "cf_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>

#include "cf_itest.h"
#include "cf_itest_https.h"

#define S_SPIN_MS   30   /* worker CPU that would mean it spins (an idle wait uses ~0) */
#define S_WINDOW_MS 1000 /* how long the deferred answer is watched */

static cf_itest_https_t s;   /* certificates (and a transport this test does not use) */
static cf_https_t *s_https;  /* the transport under test: one worker, s_on_request */
static int s_port;           /* its port */
static int s_pipe[2];        /* the test writes a byte here to release the deferred answer */
static atomic_int s_waiting; /* a /defer request is held */
static clockid_t s_clock;    /* the worker thread's CPU clock */
static struct evhttp_request *s_held; /* the held request (worker thread only) */
static atomic_int s_worker_err;       /* a step on the worker thread failed (no cmocka there) */

static void s_answer(struct evhttp_request *req, const char *text)
{
    struct evbuffer *b = evhttp_request_get_output_buffer(req);
    evbuffer_add(b, text, strlen(text));
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    evhttp_send_reply(req, 200, "OK", NULL);
    cf_https_flush(evcon);
}

static void s_release(evutil_socket_t fd, short what, void *arg)
{
    (void) what, (void) arg;
    char byte;
    if (read(fd, &byte, 1) != 1)
        atomic_store(&s_worker_err, 1);
    atomic_store(&s_waiting, 0);
    s_answer(s_held, "deferred");
    s_held = NULL;
}

/* /defer is answered when the test writes to s_pipe; anything else at once. */
static void s_on_request(struct evhttp_request *req, const cf_https_peer_t *peer, void *arg)
{
    (void) peer, (void) arg;
    if (strcmp(evhttp_request_get_uri(req), "/defer") != 0) {
        s_answer(req, "now");
        return;
    }
    struct event_base *base = evhttp_connection_get_base(evhttp_request_get_connection(req));
    if (pthread_getcpuclockid(pthread_self(), &s_clock) != 0 ||
        event_base_once(base, s_pipe[0], EV_READ, s_release, NULL, NULL) != 0) {
        atomic_store(&s_worker_err, 1);
        s_answer(req, "failed");
        return;
    }
    s_held = req;
    atomic_store(&s_waiting, 1);
}

static int s_setup(void **state)
{
    (void) state;
    signal(SIGPIPE, SIG_IGN);
    cf_itest_https_start(&s);
    assert_int_equal(pipe(s_pipe), 0);
    s_port = cf_itest_free_port();
    cf_https_cfg_t cfg = {
        .address = "127.0.0.1", .port = s_port, .threads = 1, .on_request = s_on_request};
    cf_https_tls_t tls = cf_itest_https_tls(&s, &s.srv, 0, NULL, 0);
    cf_why_t why = {{0}};
    if (cf_https_new(&cfg, &tls, &s_https, &why) != CF_OK)
        fail_msg("cf_https_new: %s", why.text);
    assert_int_equal(cf_https_start(s_https), CF_OK);
    assert_int_equal(cf_itest_wait_port("127.0.0.1", s_port, 5000), CF_OK);
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    cf_https_destroy(&s_https);
    close(s_pipe[0]);
    close(s_pipe[1]);
    cf_itest_https_stop(&s);
    return 0;
}

typedef struct {
    int fd;       /* blocking socket, 10 s receive timeout */
    SSL_CTX *ctx; /* verifies the server against the fixture's CA */
    SSL *ssl;     /* the connection */
} s_client_t;

static void s_connect(s_client_t *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    struct timeval tv = {10, 0};
    assert_int_equal(setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t) s_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(c->fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
    char ca[600];
    snprintf(ca, sizeof(ca), "%s/ca.pem", s.dir);
    c->ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(c->ctx);
    assert_int_equal(SSL_CTX_load_verify_locations(c->ctx, ca, NULL), 1);
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    c->ssl = SSL_new(c->ctx);
    assert_non_null(c->ssl);
    SSL_set_fd(c->ssl, c->fd);
    assert_int_equal(SSL_connect(c->ssl), 1);
}

static void s_close(s_client_t *c)
{
    SSL_free(c->ssl);
    SSL_CTX_free(c->ctx);
    close(c->fd);
}

static void s_get(s_client_t *c, const char *path)
{
    char req[128];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    assert_int_equal(SSL_write(c->ssl, req, n), n);
}

/* Read until the answers hold `want` (each answer's body is unique text). */
static void s_read_until(s_client_t *c, const char *want, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    while (!strstr(buf, want)) {
        assert_true(used + 1 < cap);
        int r = SSL_read(c->ssl, buf + used, (int) (cap - used - 1));
        if (r <= 0)
            fail_msg("no '%s' in what came: %s", want, buf);
        used += (size_t) r;
        buf[used] = '\0';
    }
}

static int s_is_waiting(void *ctx)
{
    (void) ctx;
    assert_int_equal(atomic_load(&s_worker_err), 0);
    return atomic_load(&s_waiting);
}

static long s_cpu_ms(void)
{
    struct timespec ts;
    assert_int_equal(clock_gettime(s_clock, &ts), 0);
    return (long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct {
    long start; /* the worker's CPU ms when watching began */
} s_watch_t;

static int s_spins(void *ctx)
{
    const s_watch_t *w = ctx;
    return s_cpu_ms() - w->start > S_SPIN_MS;
}

/* While the answer is held and the socket readable, the worker stays (nearly) idle. */
static void s_expect_idle(void)
{
    s_watch_t w = {s_cpu_ms()};
    if (cf_test_wait_until(s_spins, &w, S_WINDOW_MS))
        fail_msg("the worker spins: %ld ms of CPU while it waits", s_cpu_ms() - w.start);
}

static void s_release_held(void)
{
    assert_int_equal(write(s_pipe[1], "x", 1), 1);
    assert_int_equal(atomic_load(&s_worker_err), 0);
}

/* Usage: keep-alive requests one after the other on one connection, then a new one. */
static void test_keep_alive(void **state)
{
    (void) state;
    s_client_t c;
    char buf[4096];
    for (int round = 0; round < 2; round++) {
        s_connect(&c);
        for (int i = 0; i < 50; i++) {
            s_get(&c, "/now");
            s_read_until(&c, "now", buf, sizeof(buf));
        }
        s_close(&c);
    }
}

/* A request pipelined behind a deferred one: readable, unread, for the whole wait. */
static void test_pipelined_during_deferred_answer(void **state)
{
    (void) state;
    s_client_t c;
    char buf[4096];
    s_connect(&c);
    s_get(&c, "/defer");
    assert_true(cf_test_wait_until(s_is_waiting, NULL, 5000));
    s_get(&c, "/now");
    s_expect_idle();
    s_release_held();
    s_read_until(&c, "now", buf, sizeof(buf)); /* both, in order */
    const char *d = strstr(buf, "deferred"), *n = strstr(buf, "now");
    assert_non_null(d);
    assert_true(d < n);
    /* the hold is back: the connection serves on, and waits idle again */
    s_get(&c, "/defer");
    assert_true(cf_test_wait_until(s_is_waiting, NULL, 5000));
    s_get(&c, "/now");
    s_expect_idle();
    s_release_held();
    s_read_until(&c, "now", buf, sizeof(buf));
    s_close(&c);
}

/* The peer closes its side while its answer is deferred: it still gets the answer, and the
   worker neither spins meanwhile nor stops serving. */
static void test_close_during_deferred_answer(void **state)
{
    (void) state;
    s_client_t c;
    char buf[4096];
    s_connect(&c);
    s_get(&c, "/defer");
    assert_true(cf_test_wait_until(s_is_waiting, NULL, 5000));
    assert_int_equal(shutdown(c.fd, SHUT_WR), 0);
    s_expect_idle();
    s_release_held();
    s_read_until(&c, "deferred", buf, sizeof(buf));
    s_close(&c);
    s_client_t d;
    s_connect(&d);
    s_get(&d, "/now");
    s_read_until(&d, "now", buf, sizeof(buf));
    s_close(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_pipelined_during_deferred_answer),
        cmocka_unit_test(test_close_during_deferred_answer),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
