/*  test_tls_refusal - a client the server refuses at the handshake reads the alert, not a reset  */
#include "cf_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "cf_https_int.h"
#include "cf_itest.h"
#include "cf_itest_https.h"

#define S_TRIES   50 /* refusals per case: without the lingering close some end in a reset */
#define S_REQUEST "GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n"

static cf_itest_https_t s; /* certificates and a transport (2 workers) with agent8 revoked */

/* One client connection: the socket, the TLS session over it. */
typedef struct {
    int fd;       /* the socket (blocking, 10 s timeouts) */
    SSL_CTX *ctx; /* client context: TLS 1.3 only, the server checked against ca.pem */
    SSL *ssl;     /* the session */
} s_client_t;

static int s_setup(void **state)
{
    (void) state;
    signal(SIGPIPE, SIG_IGN); /* sends to a closed peer must fail with EPIPE */
    cf_itest_https_start(&s);
    const char *revoked[] = {s.agent8.serial};
    cf_https_tls_t tls = cf_itest_https_tls(&s, &s.srv, 0, revoked, 1);
    cf_why_t why = {{0}};
    assert_int_equal(cf_https_set_tls(s.https, &tls, &why), CF_OK);
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    cf_itest_https_stop(&s);
    return 0;
}

/* Connect to port with cert and finish the client's side of a TLS 1.3 handshake: the
   client is done once its Finished is written, before the server's verdict. */
static void s_connect(s_client_t *c, int port, const cf_itest_cert_t *cert)
{
    char ca[600];
    snprintf(ca, sizeof(ca), "%s/ca.pem", s.dir);
    c->ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(c->ctx);
    assert_int_equal(SSL_CTX_set_min_proto_version(c->ctx, TLS1_3_VERSION), 1);
    assert_int_equal(SSL_CTX_load_verify_locations(c->ctx, ca, NULL), 1);
    assert_int_equal(SSL_CTX_use_certificate_file(c->ctx, cert->pem, SSL_FILETYPE_PEM), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey_file(c->ctx, cert->key, SSL_FILETYPE_PEM), 1);
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(c->fd >= 0);
    struct timeval tv = {.tv_sec = 10};
    assert_int_equal(setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    assert_int_equal(setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(c->fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
    c->ssl = SSL_new(c->ctx);
    assert_non_null(c->ssl);
    assert_int_equal(SSL_set_fd(c->ssl, c->fd), 1);
    assert_int_equal(SSL_set1_host(c->ssl, "localhost"), 1);
    assert_int_equal(SSL_connect(c->ssl), 1);
}

static void s_close(s_client_t *c)
{
    SSL_free(c->ssl);
    SSL_CTX_free(c->ctx);
    if (c->fd >= 0)
        close(c->fd);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    ERR_clear_error();
}

/* What the agent does: the request at once, then read the answer. Returns the reason of
   the TLS error that ended the read (an alert received: SSL_R_..._ALERT_...), or -errno
   when the write or the read failed in the socket (a reset), into what as text. */
static int s_request(s_client_t *c, char *what, size_t len)
{
    ERR_clear_error();
    int n = SSL_write(c->ssl, S_REQUEST, (int) strlen(S_REQUEST));
    if (n <= 0) {
        int e = errno;
        snprintf(what, len, "write failed (%d): %s", SSL_get_error(c->ssl, n), strerror(e));
        return -(e ? e : EIO);
    }
    ERR_clear_error();
    char buf[512];
    n = SSL_read(c->ssl, buf, sizeof(buf));
    int err = SSL_get_error(c->ssl, n);
    unsigned long e = ERR_peek_error();
    if (n > 0) {
        snprintf(what, len, "an answer: %.*s", n, buf);
        return 0;
    }
    if (err == SSL_ERROR_SSL && e) {
        snprintf(what, len, "%s", ERR_reason_error_string(e));
        return ERR_GET_REASON(e);
    }
    int se = errno;
    snprintf(what, len, "read failed (%d): %s", err, strerror(se));
    return -(se ? se : EIO);
}

/* S_TRIES refused connections with cert: every one must end in the alert want. */
static void s_refused_times(int port, const cf_itest_cert_t *cert, int want)
{
    int alerts = 0, resets = 0;
    char what[256], first[300] = "";
    for (int i = 0; i < S_TRIES; i++) {
        s_client_t c = {.fd = -1};
        s_connect(&c, port, cert);
        int r = s_request(&c, what, sizeof(what));
        s_close(&c);
        if (r == want)
            alerts++;
        else if (!first[0])
            snprintf(first, sizeof(first), "try %d: %s", i, what);
        resets += r == -ECONNRESET || r == -EPIPE;
    }
    print_message("%d/%d refusals read the alert, %d resets%s%s\n", alerts, S_TRIES, resets,
                  first[0] ? "; first other: " : "", first);
    assert_int_equal(alerts, S_TRIES);
}

static int s_gone(void *arg)
{
    int fd = *(int *) arg;
    /* the server drains while it lingers; once closed it answers with a reset, and the
       next send fails */
    return send(fd, "x", 1, MSG_NOSIGNAL) < 0;
}

static long s_ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long) (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void test_usage(void **state)
{
    (void) state;
    /* a revoked agent sends its request right after its Finished and reads the verdict */
    s_client_t c = {.fd = -1};
    s_connect(&c, s.port, &s.agent8);
    char what[256];
    assert_int_equal(s_request(&c, what, sizeof(what)), SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED);
    assert_string_equal(what, "sslv3 alert certificate revoked");
    /* then the server's FIN, not a reset */
    char byte;
    assert_int_equal(recv(c.fd, &byte, 1, 0), 0);
    s_close(&c);
}

static void test_revoked_repeated(void **state)
{
    (void) state;
    s_refused_times(s.port, &s.agent8, SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED);
}

static void test_unknown_ca_repeated(void **state)
{
    (void) state;
    s_refused_times(s.port, &s.foreign, SSL_R_TLSV1_ALERT_UNKNOWN_CA);
}

static void test_expired_repeated(void **state)
{
    (void) state;
    s_refused_times(s.port, &s.expired, SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED);
}

static void test_accepted_agent_unchanged(void **state)
{
    (void) state;
    s_client_t c = {.fd = -1};
    s_connect(&c, s.port, &s.agent);
    char what[256];
    assert_int_equal(s_request(&c, what, sizeof(what)), 0);
    assert_non_null(strstr(what, "HTTP/1.1 200"));
    s_close(&c);
}

/* A client that keeps sending after the refusal: dropped bytes are capped, then the
   server closes (a reset), long before the time bound. */
static void test_sender_cut_at_byte_cap(void **state)
{
    (void) state;
    s_client_t c = {.fd = -1};
    s_connect(&c, s.port, &s.agent8);
    char what[256];
    assert_int_equal(s_request(&c, what, sizeof(what)), SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED);
    static char chunk[16384];
    size_t sent = 0;
    ssize_t n = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (sent < 64u * 1024 * 1024) {
        n = send(c.fd, chunk, sizeof(chunk), MSG_NOSIGNAL);
        if (n <= 0)
            break;
        sent += (size_t) n;
    }
    assert_true(n < 0);
    assert_true(errno == ECONNRESET || errno == EPIPE);
    assert_true(s_ms_since(&t0) < CF_HTTPS_LINGER_MS);
    s_close(&c);
}

static void s_on_request(struct evhttp_request *req, const cf_https_peer_t *peer, void *arg)
{
    (void) peer, (void) arg;
    evhttp_send_reply(req, 200, "OK", NULL);
}

/* One worker with max_conns 8: one socket may linger. A client that holds its refused
   connection open keeps it lingering until the time bound; a second refusal meanwhile is
   closed at once. */
static void test_linger_bounded(void **state)
{
    (void) state;
    int port = cf_itest_free_port();
    cf_https_cfg_t cfg = {.address = "127.0.0.1",
                          .port = port,
                          .threads = 1,
                          .max_conns = 8,
                          .on_request = s_on_request};
    const char *revoked[] = {s.agent8.serial};
    cf_https_tls_t tls = cf_itest_https_tls(&s, &s.srv, 0, revoked, 1);
    cf_https_t *h = NULL;
    cf_why_t why = {{0}};
    assert_int_equal(cf_https_new(&cfg, &tls, &h, &why), CF_OK);
    assert_int_equal(cf_https_start(h), CF_OK); /* listening since cf_https_new */
    char what[256];
    s_client_t a = {.fd = -1}, b = {.fd = -1};
    s_connect(&a, port, &s.agent8);
    assert_int_equal(s_request(&a, what, sizeof(what)), SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    s_connect(&b, port, &s.agent8); /* over the cap: no linger, whatever b reads */
    (void) s_request(&b, what, sizeof(what));
    assert_true(cf_test_wait_until(s_gone, &b.fd, 1000));
    assert_true(s_ms_since(&t0) < CF_HTTPS_LINGER_MS / 2);
    /* a is drained meanwhile, and closed at the time bound */
    assert_true(cf_test_wait_until(s_gone, &a.fd, 3 * CF_HTTPS_LINGER_MS));
    long ms = s_ms_since(&t0);
    assert_true(ms >= CF_HTTPS_LINGER_MS / 2 && ms < 2 * CF_HTTPS_LINGER_MS);
    s_close(&a);
    s_close(&b);
    /* the slot is free again: the next refusal lingers */
    s_connect(&a, port, &s.agent8);
    assert_int_equal(s_request(&a, what, sizeof(what)), SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_true(cf_test_wait_until(s_gone, &a.fd, 3 * CF_HTTPS_LINGER_MS));
    assert_true(s_ms_since(&t0) >= CF_HTTPS_LINGER_MS / 2);
    s_close(&a);
    /* one that lingers while the transport goes: closed by the destroy */
    s_connect(&a, port, &s.agent8);
    assert_int_equal(s_request(&a, what, sizeof(what)), SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED);
    cf_https_destroy(&h);
    cf_https_destroy(&h);
    assert_true(cf_test_wait_until(s_gone, &a.fd, 1000));
    s_close(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_revoked_repeated),
        cmocka_unit_test(test_unknown_ca_repeated),
        cmocka_unit_test(test_expired_repeated),
        cmocka_unit_test(test_accepted_agent_unchanged),
        cmocka_unit_test(test_sender_cut_at_byte_cap),
        cmocka_unit_test(test_linger_bounded),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
