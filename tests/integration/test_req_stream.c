/*  test_req_stream - streaming replies of the router in-process: chunks from ticks, end, the
    client going away, the cap on open streams, HEAD, and a server stopping mid-stream  */
#include "cf_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cf_itest.h"
#include "cf_itest_https.h"

#define S_MAX_STREAMS 2
#define S_BUF         8192

static atomic_int s_frees; /* on_free calls seen */

/* What one test stream carries. */
typedef struct {
    int n;    /* ticks so far */
    int stop; /* end after this many ticks, 0 never */
} s_ctx_t;

static void s_free_ctx(void *arg)
{
    free(arg);
    atomic_fetch_add(&s_frees, 1);
}

static void s_tick(cf_req_stream_t *stream, void *arg)
{
    s_ctx_t *c = arg;
    char line[32];
    int len = snprintf(line, sizeof(line), "tick %d\n", ++c->n);
    /* a worker thread: no cmocka assertion here */
    if (cf_req_stream_write(stream, line, (size_t) len) != CF_OK ||
        cf_req_stream_write(stream, line, 0) != CF_ERR_INVALID)
        abort();
    if (c->stop && c->n >= c->stop)
        cf_req_stream_end(stream);
    else if (c->n == 1)
        cf_req_stream_next(stream, 5); /* the second tick sooner */
}

static void s_start(cf_req_t *req, int stop, int interval)
{
    s_ctx_t *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->stop = stop;
    cf_req_stream_cfg_t cfg = {"text/plain", interval, s_tick, s_free_ctx, c};
    cf_req_stream_t *s = NULL;
    cf_err_t rc = cf_req_stream_start(req, &cfg, &s);
    if (rc == CF_ERR_TOOBIG)
        cf_req_reply_error(req, 503, "busy", "too many streams");
    else if (rc != CF_OK)
        cf_req_reply_error(req, 400, "invalid_request", "%s", cf_err_name(rc));
    if (rc != CF_OK)
        free(c);
}

static void s_count(cf_req_t *req, void *app)
{
    (void) app;
    s_start(req, 3, 20);
}

static void s_forever(cf_req_t *req, void *app)
{
    (void) app;
    s_start(req, 0, 20);
}

static void s_slow(cf_req_t *req, void *app)
{
    (void) app;
    s_start(req, 2, 1300); /* silent for longer than the connection's 1 s timeout */
}

static void s_bad(cf_req_t *req, void *app)
{
    (void) app;
    s_start(req, 1, 0); /* interval 0: refused, the handler answers */
}

static const cf_route_t s_routes[] = {
    {"GET", "/api/v1/agent/count", CF_ACCESS_AGENT, s_count, 0, 0},
    {"GET", "/api/v1/agent/forever", CF_ACCESS_AGENT, s_forever, 0, 0},
    {"GET", "/api/v1/agent/bad", CF_ACCESS_AGENT, s_bad, 0, 0},
    {"GET", "/api/v1/agent/slow", CF_ACCESS_AGENT, s_slow, 0, 0},
};

typedef struct {
    cf_itest_https_t pki; /* certificates (and a transport we do not use) */
    cf_router_t *router;  /* the stream routes, allow-plain on */
    cf_https_t *https;    /* their transport */
    int plain;            /* its plain port */
} s_fix_t;

static void s_up_timeout(s_fix_t *f, int timeout_s)
{
    signal(SIGPIPE, SIG_IGN);
    cf_itest_https_start(&f->pki);
    atomic_store(&s_frees, 0);
    cf_router_cfg_t rcfg = {NULL, NULL, 1, NULL};
    cf_why_t why = {{0}};
    assert_int_equal(cf_router_new(s_routes, 4, &rcfg, &f->router, &why), CF_OK);
    assert_int_equal(cf_router_set_max_streams(f->router, 0), CF_ERR_INVALID);
    assert_int_equal(cf_router_set_max_streams(f->router, S_MAX_STREAMS), CF_OK);
    f->plain = cf_itest_free_port();
    cf_https_cfg_t cfg = {.address = "127.0.0.1",
                          .port = cf_itest_free_port(),
                          .plain_port = f->plain,
                          .threads = 2,
                          .timeout_s = timeout_s,
                          .on_request = cf_router_serve,
                          .request_arg = f->router};
    cf_https_tls_t tls = cf_itest_https_tls(&f->pki, &f->pki.srv, 0, NULL, 0);
    assert_int_equal(cf_https_new(&cfg, &tls, &f->https, &why), CF_OK);
    assert_int_equal(cf_https_start(f->https), CF_OK);
    assert_int_equal(cf_itest_wait_port("127.0.0.1", f->plain, 5000), CF_OK);
}

static void s_up(s_fix_t *f)
{
    s_up_timeout(f, 0);
}

static void s_down(s_fix_t *f)
{
    cf_https_destroy(&f->https);
    cf_router_destroy(&f->router);
    cf_itest_https_stop(&f->pki);
}

/* A connection to the plain port with one request sent. */
static int s_get(int port, const char *method, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *) &a, sizeof(a)), 0);
    char req[256];
    int len = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: x\r\n\r\n", method, path);
    assert_int_equal(write(fd, req, (size_t) len), len);
    return fd;
}

/* Read into buf (S_BUF) until needle shows or the peer closes or 5 s pass; 1 when seen. */
static int s_read_until(int fd, char *buf, size_t *len, const char *needle)
{
    for (int waited = 0; waited < 5000 && !strstr(buf, needle);) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 50) == 0) {
            waited += 50;
            continue;
        }
        ssize_t n = read(fd, buf + *len, S_BUF - 1 - *len);
        if (n <= 0)
            break;
        *len += (size_t) n;
        buf[*len] = '\0';
    }
    return strstr(buf, needle) != NULL;
}

static int s_frees_are(void *want)
{
    return atomic_load(&s_frees) == *(int *) want;
}

static void s_wait_frees(int want)
{
    assert_true(cf_test_wait_until(s_frees_are, &want, 5000));
}

static void test_usage(void **state)
{
    (void) state;
    s_fix_t f;
    s_up(&f);
    char buf[S_BUF] = "";
    size_t len = 0;
    int fd = s_get(f.plain, "GET", "/api/v1/agent/count");
    assert_true(s_read_until(fd, buf, &len, "\r\n0\r\n\r\n")); /* the last chunk */
    assert_non_null(strstr(buf, "HTTP/1.1 200"));
    assert_non_null(strstr(buf, "Transfer-Encoding: chunked"));
    assert_non_null(strstr(buf, "Content-Type: text/plain"));
    assert_non_null(strstr(buf, "Connection: close"));
    char *t1 = strstr(buf, "tick 1\n"), *t3 = strstr(buf, "tick 3\n");
    assert_true(t1 && t3 && t1 < t3);
    assert_null(strstr(buf, "tick 4"));
    close(fd);
    s_wait_frees(1);
    assert_int_equal(cf_router_streams(f.router), 0);
    s_down(&f);
}

static int s_no_streams(void *router)
{
    return cf_router_streams(router) == 0;
}

static void test_client_goes_away(void **state)
{
    (void) state;
    s_fix_t f;
    s_up(&f);
    char buf[S_BUF] = "";
    size_t len = 0;
    int fd = s_get(f.plain, "GET", "/api/v1/agent/forever");
    assert_true(s_read_until(fd, buf, &len, "tick 2\n"));
    assert_int_equal(cf_router_streams(f.router), 1);
    close(fd); /* the server sees it and frees the stream */
    s_wait_frees(1);
    assert_true(cf_test_wait_until(s_no_streams, f.router, 5000));
    s_down(&f);
}

static void test_cap_and_refusals(void **state)
{
    (void) state;
    s_fix_t f;
    s_up(&f);
    int fds[S_MAX_STREAMS];
    for (int i = 0; i < S_MAX_STREAMS; i++) {
        char buf[S_BUF] = "";
        size_t len = 0;
        fds[i] = s_get(f.plain, "GET", "/api/v1/agent/forever");
        assert_true(s_read_until(fds[i], buf, &len, "tick 1\n"));
    }
    char buf[S_BUF] = "";
    size_t len = 0;
    int fd = s_get(f.plain, "GET", "/api/v1/agent/forever");
    assert_true(s_read_until(fd, buf, &len, "\"busy\""));
    assert_non_null(strstr(buf, "HTTP/1.1 503"));
    close(fd);
    /* a bad configuration is refused before anything is answered */
    buf[0] = '\0';
    len = 0;
    fd = s_get(f.plain, "GET", "/api/v1/agent/bad");
    assert_true(s_read_until(fd, buf, &len, "invalid_request"));
    assert_non_null(strstr(buf, "HTTP/1.1 400"));
    close(fd);
    /* HEAD: the headers only, and the stream's state is freed at once */
    buf[0] = '\0';
    len = 0;
    fd = s_get(f.plain, "HEAD", "/api/v1/agent/count");
    assert_true(s_read_until(fd, buf, &len, "\r\n\r\n"));
    assert_non_null(strstr(buf, "HTTP/1.1 200"));
    assert_null(strstr(buf, "tick"));
    close(fd);
    for (int i = 0; i < S_MAX_STREAMS; i++)
        close(fds[i]);
    s_wait_frees(S_MAX_STREAMS + 1);
    assert_true(cf_test_wait_until(s_no_streams, f.router, 5000));
    s_down(&f);
}

static void test_server_stops_mid_stream(void **state)
{
    (void) state;
    s_fix_t f;
    s_up(&f);
    char buf[S_BUF] = "";
    size_t len = 0;
    int fd = s_get(f.plain, "GET", "/api/v1/agent/forever");
    assert_true(s_read_until(fd, buf, &len, "tick 1\n"));
    cf_https_destroy(&f.https); /* its connections go, and the stream with them */
    assert_int_equal(atomic_load(&s_frees), 1);
    assert_int_equal(cf_router_streams(f.router), 0);
    close(fd);
    s_down(&f);
}

static void test_outlives_the_read_timeout(void **state)
{
    (void) state;
    s_fix_t f;
    s_up_timeout(&f, 1); /* evhttp drops a connection silent for 1 s: not a stream's */
    char buf[S_BUF] = "";
    size_t len = 0;
    int fd = s_get(f.plain, "GET", "/api/v1/agent/slow");
    assert_true(s_read_until(fd, buf, &len, "\r\n0\r\n\r\n")); /* both ticks, then the end */
    assert_non_null(strstr(buf, "tick 2\n"));
    close(fd);
    s_wait_frees(1);
    s_down(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_client_goes_away),
        cmocka_unit_test(test_cap_and_refusals),
        cmocka_unit_test(test_server_stops_mid_stream),
        cmocka_unit_test(test_outlives_the_read_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
