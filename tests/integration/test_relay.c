/*  test_relay - the TLS <-> TCP relay on loopback: both modes chained to an echo target,
    big transfers through small watermarks, refused certificates, closes in both directions  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "cf_itest_relay.h"
#include "cf_mem.h"

typedef struct {
    cf_itest_relay_pki_t pki; /* certificates */
    cf_itest_echo_t echo;     /* the plain target */
    cf_relay_t *server;       /* SERVER relay in front of echo */
} s_fix_t;

static s_fix_t s_fix;

static cf_relay_t *s_server(const cf_itest_relay_id_t *id, size_t watermark, size_t max_conns)
{
    char target[64];
    snprintf(target, sizeof(target), "127.0.0.1:%d", s_fix.echo.port);
    cf_relay_cfg_t cfg = {
        .mode = CF_RELAY_SERVER,
        .listen = "127.0.0.1:0",
        .target = target,
        .ca_pem = s_fix.pki.ca_pem,
        .ca_len = strlen(s_fix.pki.ca_pem),
        .cert_pem = id->cert,
        .cert_len = strlen(id->cert),
        .key = id->k,
        .check = cf_itest_relay_check,
        .check_arg = s_fix.pki.revoked.serial,
        .watermark = watermark,
        .max_conns = max_conns,
    };
    cf_relay_t *r = NULL;
    cf_why_t why = {""};
    cf_err_t rc = cf_relay_new(&cfg, &r, &why);
    if (rc != CF_OK)
        fail_msg("server relay: %s", cf_why_text(&why, rc));
    return r;
}

/* A CLIENT relay to the fixture's server presenting id, trusting ca. */
static cf_relay_t *s_client(const cf_itest_relay_id_t *id, const char *ca, size_t watermark)
{
    cf_relay_cfg_t cfg = {
        .mode = CF_RELAY_CLIENT,
        .target = cf_relay_address(s_fix.server),
        .ca_pem = ca,
        .ca_len = strlen(ca),
        .cert_pem = id->cert,
        .cert_len = strlen(id->cert),
        .key = id->k,
        .watermark = watermark,
    };
    cf_relay_t *r = NULL;
    cf_why_t why = {""};
    cf_err_t rc = cf_relay_new(&cfg, &r, &why);
    if (rc != CF_OK)
        fail_msg("client relay: %s", cf_why_text(&why, rc));
    return r;
}

static int s_setup(void **state)
{
    (void) state;
    cf_itest_relay_pki(&s_fix.pki);
    cf_itest_echo_start(&s_fix.echo);
    s_fix.server = s_server(&s_fix.pki.server, 0, 0);
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    cf_relay_destroy(&s_fix.server);
    cf_itest_echo_stop(&s_fix.echo);
    cf_itest_relay_pki_free(&s_fix.pki);
    return 0;
}

static int s_lookup_gone(void *arg)
{
    char id[CF_RELAY_ID_MAX + 1];
    return cf_relay_lookup(s_fix.server, arg, id, sizeof(id)) == CF_ERR_NOTFOUND;
}

static int s_echo_peer_is(void *arg)
{
    pthread_mutex_lock(&s_fix.echo.lock);
    int same = strcmp(s_fix.echo.last_peer, arg) == 0;
    pthread_mutex_unlock(&s_fix.echo.lock);
    return !same; /* arg holds the previous peer: wait for a new one */
}

/* Usage: agent -> CLIENT relay -> TLS -> SERVER relay -> echo; the SERVER relay names the
   TLS identity under the address the target sees; it is gone once the connection closed. */
static void test_echo_and_identity(void **state)
{
    (void) state;
    char before[64];
    snprintf(before, sizeof(before), "%s", s_fix.echo.last_peer);
    cf_relay_t *client = s_client(&s_fix.pki.agent, s_fix.pki.ca_pem, 0);
    int fd = cf_itest_relay_connect(cf_relay_address(client));
    char out[6] = "";
    assert_int_equal(cf_itest_relay_roundtrip(fd, "hello", 5, out), 0);
    assert_memory_equal(out, "hello", 5);
    assert_true(cf_test_wait_until(s_echo_peer_is, before, 5000));
    char peer[64], id[CF_RELAY_ID_MAX + 1];
    pthread_mutex_lock(&s_fix.echo.lock);
    snprintf(peer, sizeof(peer), "%s", s_fix.echo.last_peer);
    pthread_mutex_unlock(&s_fix.echo.lock);
    assert_int_equal(cf_relay_lookup(s_fix.server, peer, id, sizeof(id)), CF_OK);
    assert_string_equal(id, "pc-a");
    assert_int_equal(cf_relay_lookup(s_fix.server, peer, id, 3), CF_ERR_TOOBIG);
    assert_int_equal(cf_relay_lookup(s_fix.server, "127.0.0.1:1", id, sizeof(id)), CF_ERR_NOTFOUND);
    assert_int_equal(cf_relay_lookup(NULL, peer, id, sizeof(id)), CF_ERR_INVALID);
    close(fd);
    assert_true(cf_test_wait_until(s_lookup_gone, peer, 5000));
    cf_relay_stats_t st;
    cf_relay_stats(client, &st);
    assert_true(st.relayed >= 1);
    assert_true(st.bytes_up >= 5 && st.bytes_down >= 5);
    cf_relay_destroy(&client);
    cf_relay_destroy(&client); /* idempotent */
}

/* 16 MiB each way through relays whose watermark is 16 KiB: reading pauses and resumes
   thousands of times, and every byte arrives in order. */
static void test_big_transfer_backpressure(void **state)
{
    (void) state;
    cf_relay_t *server = s_fix.server;
    s_fix.server = s_server(&s_fix.pki.server, 16384, 0);
    cf_relay_t *client = s_client(&s_fix.pki.agent, s_fix.pki.ca_pem, 16384);
    size_t len = 16u << 20;
    unsigned char *buf = malloc(len), *back = malloc(len);
    assert_non_null(buf);
    assert_non_null(back);
    for (size_t i = 0; i < len; i++)
        buf[i] = (unsigned char) ((i * 2654435761u) >> 13);
    int fd = cf_itest_relay_connect(cf_relay_address(client));
    assert_int_equal(cf_itest_relay_roundtrip(fd, buf, len, back), 0);
    assert_memory_equal(buf, back, len);
    close(fd);
    free(buf);
    free(back);
    cf_relay_destroy(&client);
    cf_relay_destroy(&s_fix.server);
    s_fix.server = server;
}

/* Wait until the fixture's SERVER relay counted one more refusal than *arg's. */
static int s_refused_more(void *arg)
{
    const cf_relay_stats_t *before = arg;
    cf_relay_stats_t now;
    cf_relay_stats(s_fix.server, &now);
    return now.refused_tls + now.refused_check > before->refused_tls + before->refused_check;
}

/* The local connection of a refused TLS link is closed without a byte relayed; the SERVER
   relay counts it as a failed handshake (tls) or a refused check (!tls). */
static void s_refused(const cf_itest_relay_id_t *id, const char *ca, int tls)
{
    cf_relay_stats_t before, after;
    cf_relay_stats(s_fix.server, &before);
    int accepted = cf_itest_echo_accepted(&s_fix.echo);
    cf_relay_t *client = s_client(id, ca, 0);
    int fd = cf_itest_relay_connect(cf_relay_address(client));
    assert_int_equal(write(fd, "x", 1), 1);
    assert_true(cf_itest_relay_sees_close(fd));
    close(fd);
    cf_relay_destroy(&client);
    assert_true(cf_test_wait_until(s_refused_more, &before, 5000));
    cf_relay_stats(s_fix.server, &after);
    if (tls)
        assert_int_equal(after.refused_tls, before.refused_tls + 1);
    else
        assert_int_equal(after.refused_check, before.refused_check + 1);
    assert_int_equal(after.relayed, before.relayed);
    assert_int_equal(cf_itest_echo_accepted(&s_fix.echo), accepted);
}

static void test_foreign_ca_refused(void **state)
{
    (void) state;
    s_refused(&s_fix.pki.foreign, s_fix.pki.ca_pem, 1);
}

static void test_revoked_refused(void **state)
{
    (void) state;
    s_refused(&s_fix.pki.revoked, s_fix.pki.ca_pem, 0);
}

/* A TLS client without a certificate (plain OpenSSL): the handshake fails, nothing relayed. */
static void test_no_client_cert_refused(void **state)
{
    (void) state;
    cf_relay_stats_t before, after;
    cf_relay_stats(s_fix.server, &before);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(ctx);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    int fd = cf_itest_relay_connect(cf_relay_address(s_fix.server));
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    int hs = SSL_connect(ssl); /* TLS 1.3: the client may finish before the server refuses */
    char buf[16];
    int got = 0;
    if (hs == 1 && SSL_write(ssl, "x", 1) == 1) /* may already meet the server's alert */
        got = SSL_read(ssl, buf, sizeof(buf));
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    assert_true(got <= 0);
    assert_true(cf_test_wait_until(s_refused_more, &before, 5000));
    cf_relay_stats(s_fix.server, &after);
    assert_int_equal(after.refused_tls, before.refused_tls + 1);
    assert_int_equal(after.relayed, before.relayed);
}

/* The client side refuses a server certificate from another CA, or not naming the host. */
static void test_client_checks_server(void **state)
{
    (void) state;
    cf_relay_t *client = s_client(&s_fix.pki.agent, s_fix.pki.other_pem, 0);
    int fd = cf_itest_relay_connect(cf_relay_address(client));
    assert_true(cf_itest_relay_sees_close(fd));
    close(fd);
    cf_relay_stats_t st;
    cf_relay_stats(client, &st);
    assert_int_equal(st.refused_tls, 1);
    assert_int_equal(st.relayed, 0);
    cf_relay_destroy(&client);
    cf_relay_cfg_t cfg = {
        .mode = CF_RELAY_CLIENT,
        .target = cf_relay_address(s_fix.server),
        .ca_pem = s_fix.pki.ca_pem,
        .ca_len = strlen(s_fix.pki.ca_pem),
        .cert_pem = s_fix.pki.agent.cert,
        .cert_len = strlen(s_fix.pki.agent.cert),
        .key = s_fix.pki.agent.k,
        .expect_name = "broker.example.test",
    };
    assert_int_equal(cf_relay_new(&cfg, &client, NULL), CF_OK);
    fd = cf_itest_relay_connect(cf_relay_address(client));
    assert_true(cf_itest_relay_sees_close(fd));
    close(fd);
    cf_relay_stats(client, &st);
    assert_int_equal(st.refused_tls, 1);
    cf_relay_destroy(&client);
}

static int s_echo_closed_more(void *arg)
{
    return cf_itest_echo_closed(&s_fix.echo) > *(int *) arg;
}

/* Closing either end closes the other: the target closing reaches the agent, the agent
   closing reaches the target. */
static void test_close_propagation(void **state)
{
    (void) state;
    cf_relay_t *client = s_client(&s_fix.pki.agent, s_fix.pki.ca_pem, 0);
    int closed = cf_itest_echo_closed(&s_fix.echo);
    int fd = cf_itest_relay_connect(cf_relay_address(client));
    char out[4];
    assert_int_equal(cf_itest_relay_roundtrip(fd, "abc", 3, out), 0);
    assert_int_equal(write(fd, "CLOSE", 5), 5); /* the echo target closes */
    assert_true(cf_itest_relay_sees_close(fd));
    close(fd);
    assert_true(cf_test_wait_until(s_echo_closed_more, &closed, 5000));
    closed = cf_itest_echo_closed(&s_fix.echo);
    fd = cf_itest_relay_connect(cf_relay_address(client));
    assert_int_equal(cf_itest_relay_roundtrip(fd, "abc", 3, out), 0);
    close(fd); /* the agent closes */
    assert_true(cf_test_wait_until(s_echo_closed_more, &closed, 5000));
    cf_relay_destroy(&client);
}

/* Over max_conns a connection is closed at once and counted. */
static void test_max_conns(void **state)
{
    (void) state;
    cf_relay_t *server = s_fix.server;
    s_fix.server = s_server(&s_fix.pki.server, 0, 1);
    cf_relay_t *client = s_client(&s_fix.pki.agent, s_fix.pki.ca_pem, 0);
    int a = cf_itest_relay_connect(cf_relay_address(client));
    char out[4];
    assert_int_equal(cf_itest_relay_roundtrip(a, "abc", 3, out), 0);
    int b = cf_itest_relay_connect(cf_relay_address(client));
    assert_int_equal(write(b, "x", 1), 1);
    assert_true(cf_itest_relay_sees_close(b));
    cf_relay_stats_t st;
    cf_relay_stats(s_fix.server, &st);
    assert_int_equal(st.refused_full, 1);
    assert_int_equal(st.open, 1);
    close(a);
    close(b);
    cf_relay_destroy(&client);
    cf_relay_destroy(&s_fix.server);
    s_fix.server = server;
}

static int s_accept_failed(void *arg)
{
    (void) arg;
    cf_relay_stats_t st;
    cf_relay_stats(s_fix.server, &st);
    return st.accept_failed > 0;
}

static int s_accepted_at_least(void *arg)
{
    cf_relay_stats_t st;
    cf_relay_stats(s_fix.server, &st);
    return st.accepted >= *(uint64_t *) arg;
}

/* Out of descriptors: accept() fails, the listener rests instead of spinning, and once
   descriptors are free again the waiting connections are accepted. */
static void test_accept_out_of_descriptors(void **state)
{
    (void) state;
    cf_relay_stats_t st;
    cf_relay_stats(s_fix.server, &st);
    uint64_t want = st.accepted + 3;
    int fds[3];
    for (int i = 0; i < 3; i++)
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    int probe = dup(0); /* the lowest free descriptor: none may be opened from here on */
    assert_true(probe >= 0);
    close(probe);
    low = old;
    low.rlim_cur = (rlim_t) probe;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t) cf_relay_port(s_fix.server))};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(connect(fds[i], (struct sockaddr *) &sin, sizeof(sin)), 0);
    int failed = cf_test_wait_until(s_accept_failed, NULL, 5000);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    assert_true(failed);
    assert_true(cf_test_wait_until(s_accepted_at_least, &want, 5000));
    for (int i = 0; i < 3; i++)
        close(fds[i]);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_and_identity),
        cmocka_unit_test(test_big_transfer_backpressure),
        cmocka_unit_test(test_foreign_ca_refused),
        cmocka_unit_test(test_revoked_refused),
        cmocka_unit_test(test_no_client_cert_refused),
        cmocka_unit_test(test_client_checks_server),
        cmocka_unit_test(test_close_propagation),
        cmocka_unit_test(test_max_conns),
        cmocka_unit_test(test_accept_out_of_descriptors),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
