/*  test_https_flush - answers leave in the loop turn that made them, as one TLS record, with
    the framing headers cf_req writes; pipelined requests, a client that reads late and a
    body read in small pieces still get every answer  */
#define _GNU_SOURCE /* strptime, timegm */
#include "cf_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "cf_itest.h"
#include "cf_itest_https.h"

#define S_GET      "GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n"
#define S_HEAD     "HEAD /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n"
#define S_PAD      20000 /* body bytes of the large check-in: many reads of at most 960 */
#define S_ANSWERS  300   /* pipelined requests in the late reader's test */
#define S_READ_BUF 65536 /* what one test client reads at most */

static cf_itest_https_t s;

/* One TLS client on a blocking socket, counting the records it receives. */
typedef struct {
    int fd;       /* the socket */
    SSL_CTX *ctx; /* its context (verifies the server against the fixture's CA) */
    SSL *ssl;     /* the connection */
    int records;  /* TLS records received since the last reset */
} s_client_t;

static int s_setup(void **state)
{
    (void) state;
    signal(SIGPIPE, SIG_IGN);
    cf_itest_https_start(&s);
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    cf_itest_https_stop(&s);
    return 0;
}

/* Every record header read from the wire (TLS 1.3 hides the inner type: all count). */
static void s_on_msg(int write_p, int version, int content_type, const void *buf, size_t len,
                     SSL *ssl, void *arg)
{
    (void) version, (void) buf, (void) len, (void) ssl;
    s_client_t *c = arg;
    if (!write_p && content_type == SSL3_RT_HEADER)
        c->records++;
}

/* Connect with TLS version max (TLS1_2_VERSION or TLS1_3_VERSION); rcvbuf > 0 shrinks the
   client's receive buffer (before connect, so the window stays small). */
static void s_connect(s_client_t *c, int max, int rcvbuf)
{
    memset(c, 0, sizeof(*c));
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    struct timeval tv = {10, 0}; /* a stalled answer fails the test instead of hanging it */
    assert_int_equal(setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    if (rcvbuf > 0)
        assert_int_equal(setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t) s.port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(c->fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
    char ca[600];
    snprintf(ca, sizeof(ca), "%s/ca.pem", s.dir);
    c->ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(c->ctx);
    assert_int_equal(SSL_CTX_load_verify_locations(c->ctx, ca, NULL), 1);
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    assert_int_equal(SSL_CTX_set_max_proto_version(c->ctx, max), 1);
    c->ssl = SSL_new(c->ctx);
    assert_non_null(c->ssl);
    SSL_set_msg_callback(c->ssl, s_on_msg);
    SSL_set_msg_callback_arg(c->ssl, c);
    SSL_set_fd(c->ssl, c->fd);
    assert_int_equal(SSL_connect(c->ssl), 1);
}

static void s_close(s_client_t *c)
{
    SSL_free(c->ssl);
    SSL_CTX_free(c->ctx);
    close(c->fd);
}

static void s_send(s_client_t *c, const char *text, size_t len)
{
    assert_int_equal(SSL_write(c->ssl, text, (int) len), (int) len);
}

static int s_count(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = strstr(text, what); p; p = strstr(p + 1, what))
        n++;
    return n;
}

/* Read until n complete answers (status line, headers, Content-Length body) are in buf;
   with head, the first is a HEAD answer: its Content-Length announces no body. */
static void s_read_framed(s_client_t *c, int n, int head, char *buf, size_t cap)
{
    size_t used = 0;
    int done = 0;
    while (done < n) {
        assert_true(used + 1 < cap);
        int r = SSL_read(c->ssl, buf + used, (int) (cap - used - 1));
        if (r <= 0)
            fail_msg("read after %d of %d answers: %d", done, n, SSL_get_error(c->ssl, r));
        used += (size_t) r;
        buf[used] = '\0';
        done = 0; /* count complete answers from the start */
        const char *p = buf;
        for (;;) {
            const char *head_end = strstr(p, "\r\n\r\n");
            const char *cl = strstr(p, "Content-Length: ");
            if (!head_end || !cl || cl > head_end)
                break;
            size_t body = head && done == 0 ? 0 : strtoul(cl + 16, NULL, 10);
            if ((size_t) (buf + used - (head_end + 4)) < body)
                break;
            p = head_end + 4 + body;
            done++;
        }
    }
    assert_int_equal(done, n);
}

static void s_read_answers(s_client_t *c, int n, char *buf, size_t cap)
{
    s_read_framed(c, n, 0, buf, cap);
}

static void s_one_record(int max)
{
    s_client_t c;
    char buf[S_READ_BUF];
    s_connect(&c, max, 0);
    s_send(&c, S_GET, strlen(S_GET)); /* the first one also meets the session ticket */
    s_read_answers(&c, 1, buf, sizeof(buf));
    c.records = 0;
    s_send(&c, S_GET, strlen(S_GET));
    s_read_answers(&c, 1, buf, sizeof(buf));
    assert_int_equal(s_count(buf, "HTTP/1.1 200 OK"), 1);
    assert_non_null(strstr(buf, "\"tls\":\"TLSv1."));
    /* status line, headers and body in one record (two before: one per buffer chunk) */
    assert_int_equal(c.records, 1);
    s_close(&c);
}

static void test_one_record_per_answer(void **state)
{
    (void) state;
    s_one_record(TLS1_3_VERSION);
    s_one_record(TLS1_2_VERSION);
}

/* Two requests in one record: evhttp answers the second once the first is written. */
static void test_pipelined_requests(void **state)
{
    (void) state;
    s_client_t c;
    char buf[S_READ_BUF];
    s_connect(&c, TLS1_3_VERSION, 0);
    s_send(&c, S_GET S_GET, 2 * strlen(S_GET));
    s_read_answers(&c, 2, buf, sizeof(buf));
    assert_int_equal(s_count(buf, "HTTP/1.1 200 OK"), 2);
    s_close(&c);
}

/* A client that sends many requests and reads only afterwards, through a small receive
   window: the server's writes block part-way, wait for the socket, and every answer still
   arrives, in order and whole. */
static void test_late_reader_gets_every_answer(void **state)
{
    (void) state;
    s_client_t c;
    size_t one = strlen(S_GET);
    char *reqs = malloc(one * S_ANSWERS + 1);
    char *buf = malloc(S_ANSWERS * 512);
    assert_non_null(reqs);
    assert_non_null(buf);
    for (int i = 0; i < S_ANSWERS; i++)
        memcpy(reqs + (size_t) i * one, S_GET, one);
    s_connect(&c, TLS1_3_VERSION, 4096);
    s_send(&c, reqs, one * S_ANSWERS);
    s_read_answers(&c, S_ANSWERS, buf, S_ANSWERS * 512);
    assert_int_equal(s_count(buf, "HTTP/1.1 200 OK"), S_ANSWERS);
    /* and the connection still serves */
    s_send(&c, S_GET, one);
    s_read_answers(&c, 1, buf, S_ANSWERS * 512);
    s_close(&c);
    free(reqs);
    free(buf);
}

/* Write each part as its own TLS record and send them all in one send(2), so the server
   reads them together: with read-ahead, records it holds undecrypted must still be served. */
static void s_send_records(s_client_t *c, const char *const *parts, int n)
{
    BIO *mem = BIO_new(BIO_s_mem());
    BIO *sock = SSL_get_rbio(c->ssl);
    assert_non_null(mem);
    assert_int_equal(BIO_up_ref(sock), 1);
    SSL_set0_wbio(c->ssl, mem);
    for (int i = 0; i < n; i++)
        s_send(c, parts[i], strlen(parts[i]));
    char *data = NULL;
    long len = BIO_get_mem_data(mem, &data);
    assert_true(len > 0);
    assert_int_equal(send(c->fd, data, (size_t) len, 0), len);
    SSL_set0_wbio(c->ssl, sock); /* frees mem */
}

/* Requests and a body that arrive as several records in one segment are all answered. */
static void test_records_read_together(void **state)
{
    (void) state;
    s_client_t c;
    char buf[S_READ_BUF];
    s_connect(&c, TLS1_3_VERSION, 0);
    s_send(&c, S_GET, strlen(S_GET)); /* past the first request (read-ahead on) */
    s_read_answers(&c, 1, buf, sizeof(buf));
    const char *const two[] = {S_GET, S_GET};
    s_send_records(&c, two, 2);
    s_read_answers(&c, 2, buf, sizeof(buf));
    assert_int_equal(s_count(buf, "HTTP/1.1 200 OK"), 2);
    const char *const split[] = {"POST /api/v1/agent/checkin HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                 "application/json\r\nContent-Length: 16\r\n\r\n",
                                 "{\"id\":\"agent-2\"}", S_GET};
    s_send_records(&c, split, 3);
    s_read_answers(&c, 2, buf, sizeof(buf));
    assert_non_null(strstr(buf, "\"id\":\"agent-2\""));
    assert_int_equal(s_count(buf, "HTTP/1.1 200 OK"), 2);
    s_close(&c);
}

/* The value of header name in the answer at text (NULL when absent), copied to out. */
static const char *s_header(const char *text, const char *name, char *out, size_t cap)
{
    const char *end = strstr(text, "\r\n\r\n");
    char want[64];
    snprintf(want, sizeof(want), "\r\n%s: ", name);
    const char *at = strstr(text, want);
    if (!at || !end || at > end)
        return NULL;
    at += strlen(want);
    size_t n = strcspn(at, "\r");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, at, n);
    out[n] = '\0';
    return out;
}

/* Date (RFC 1123, now), Content-Length (the body's), and a HEAD answer that has the GET's
   length and no body: the GET pipelined behind it is read as its own answer. */
static void test_framing_headers(void **state)
{
    (void) state;
    s_client_t c;
    char buf[S_READ_BUF], value[64];
    s_connect(&c, TLS1_3_VERSION, 0);
    s_send(&c, S_GET, strlen(S_GET));
    s_read_answers(&c, 1, buf, sizeof(buf));
    assert_non_null(s_header(buf, "Date", value, sizeof(value)));
    struct tm tm = {0};
    const char *rest = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    assert_non_null(rest);
    assert_int_equal(*rest, '\0');
    long skew = (long) (timegm(&tm) - time(NULL));
    assert_true(skew >= -5 && skew <= 5);
    assert_non_null(s_header(buf, "Content-Length", value, sizeof(value)));
    const char *body = strstr(buf, "\r\n\r\n") + 4;
    assert_int_equal(strtoul(value, NULL, 10), strlen(body));
    size_t get_len = strlen(body);
    char body_copy[1024];
    assert_true(get_len < sizeof(body_copy));
    memcpy(body_copy, body, get_len + 1);
    s_send(&c, S_HEAD S_GET, strlen(S_HEAD) + strlen(S_GET));
    s_read_framed(&c, 2, 1, buf, sizeof(buf));
    assert_non_null(s_header(buf, "Content-Length", value, sizeof(value)));
    assert_int_equal(strtoul(value, NULL, 10), get_len);
    const char *second = strstr(buf, "\r\n\r\n") + 4;
    assert_int_equal(strncmp(second, "HTTP/1.1 200 OK\r\n", 17), 0); /* no body in between */
    assert_non_null(s_header(second, "Content-Length", value, sizeof(value)));
    assert_string_equal(strstr(second, "\r\n\r\n") + 4, body_copy);
    s_close(&c);
}

/* A body of many records arrives whole although each read takes at most 960 bytes. */
static void test_large_body_in_pieces(void **state)
{
    (void) state;
    s_client_t c;
    char head[256], *body = malloc(S_PAD + 64), buf[S_READ_BUF];
    assert_non_null(body);
    int n = snprintf(body, 64, "{\"id\":\"agent-big\",\"pad\":\"");
    memset(body + n, 'x', S_PAD);
    memcpy(body + n + S_PAD, "\"}", 3);
    size_t len = strlen(body);
    int h = snprintf(head, sizeof(head),
                     "POST /api/v1/agent/checkin HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     "application/json\r\nContent-Length: %zu\r\n\r\n",
                     len);
    s_connect(&c, TLS1_3_VERSION, 0);
    s_send(&c, head, (size_t) h);
    s_send(&c, body, len); /* two TLS records of the client's */
    s_read_answers(&c, 1, buf, sizeof(buf));
    assert_int_equal(s_count(buf, "HTTP/1.1 200 OK"), 1);
    assert_non_null(strstr(buf, "\"id\":\"agent-big\""));
    s_close(&c);
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_record_per_answer),
        cmocka_unit_test(test_pipelined_requests),
        cmocka_unit_test(test_records_read_together),
        cmocka_unit_test(test_late_reader_gets_every_answer),
        cmocka_unit_test(test_framing_headers),
        cmocka_unit_test(test_large_body_in_pieces),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
