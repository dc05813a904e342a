/*  test_sim_tls - the simulated agents' TLS hook and what a failed install check means:
    a fatal alert from the server (it refused) is told from a connection reset under the
    call (a server killed during it), which says nothing of the certificate  */
#include "cf_test.h"

#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "cf_mem.h"
#include "cf_sim_int.h"
#include "cf_test_job.h"

typedef enum { S_REFUSE = 0, S_RESET } s_mode_t;

typedef struct {
    int lfd;       /* listening socket on 127.0.0.1 */
    SSL_CTX *ctx;  /* the server's context (requires a client certificate) */
    s_mode_t mode; /* what it does with the one connection it takes */
} s_server_t;

static cf_test_job_t s_fx;

static int s_setup(void **state)
{
    (void) state;
    return cf_test_job_setup(&s_fx);
}

static int s_teardown(void **state)
{
    (void) state;
    cf_test_job_teardown(&s_fx);
    return 0;
}

/* One connection: a TLS handshake that refuses a client without a certificate (the alert
   flushed, then a lingering close so the client reads it), or a reset at once. */
static void *s_serve(void *arg)
{
    s_server_t *s = arg;
    int fd = accept(s->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    if (s->mode == S_RESET) {
        struct linger l = {1, 0};
        (void) setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
        close(fd);
        return NULL;
    }
    SSL *ssl = SSL_new(s->ctx);
    if (ssl && SSL_set_fd(ssl, fd) == 1)
        (void) SSL_accept(ssl); /* fails: no client certificate; the alert goes out */
    shutdown(fd, SHUT_WR);
    char buf[4096];
    struct timeval tv = {2, 0};
    (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
    SSL_free(ssl);
    close(fd);
    return NULL;
}

/* A call of the simulator's kind to a one-connection server in mode; its curl code. */
static CURLcode s_call(s_mode_t mode, cf_sim_call_t *c)
{
    s_server_t srv = {-1, SSL_CTX_new(TLS_server_method()), mode};
    assert_non_null(srv.ctx);
    assert_int_equal(SSL_CTX_use_certificate(srv.ctx, cf_cert_x509(s_fx.server)), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(srv.ctx, cf_key_pkey(s_fx.server_key)), 1);
    SSL_CTX_set_verify(srv.ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    srv.lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    assert_int_equal(bind(srv.lfd, (struct sockaddr *) &a, sizeof(a)), 0);
    assert_int_equal(listen(srv.lfd, 4), 0);
    assert_int_equal(getsockname(srv.lfd, (struct sockaddr *) &a, &alen), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, s_serve, &srv), 0);

    cf_sim_t sim;
    memset(&sim, 0, sizeof(sim));
    char *ca_pem = NULL;
    size_t ca_len = 0;
    assert_int_equal(cf_cert_to_pem(cf_ca_cert(s_fx.ca), &ca_pem, &ca_len), CF_OK);
    assert_int_equal(cf_cert_parse(ca_pem, ca_len, &sim.ca), CF_OK);
    cf_mem_free(ca_pem);
    memset(c, 0, sizeof(*c));
    c->sim = &sim;
    c->easy = curl_easy_init();
    assert_non_null(c->easy);
    int have = 0;
    assert_int_equal(cf_sim_tls_setup(&sim, c, 0, &have), 0);
    char url[64];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/api/v1/agent/checkin", ntohs(a.sin_port));
    curl_easy_setopt(c->easy, CURLOPT_URL, url);
    curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, "{}");
    curl_easy_setopt(c->easy, CURLOPT_SSL_VERIFYHOST, 0L); /* the fixture names no address */
    curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, c->errbuf);
    CURLcode cc = curl_easy_perform(c->easy);
    curl_easy_cleanup(c->easy);
    c->easy = NULL;
    pthread_join(t, NULL);
    close(srv.lfd);
    SSL_CTX_free(srv.ctx);
    cf_sim_tls_fini(&sim);
    cf_cert_destroy(&sim.ca);
    return cc;
}

/* The usage: a server refusing the handshake is a refusal (the alert seen), not a missing
   server: the pair on trial is failed at once. */
static void test_usage(void **state)
{
    (void) state;
    cf_sim_call_t c;
    CURLcode cc = s_call(S_REFUSE, &c);
    assert_int_not_equal(cc, CURLE_OK);
    assert_int_equal(c.alert, 1);
    assert_false(cf_sim_check_transient(cc, 0, c.alert));
}

/* A connection reset under the call (a server killed during it): no alert, transient. */
static void test_reset_is_transient(void **state)
{
    (void) state;
    cf_sim_call_t c;
    CURLcode cc = s_call(S_RESET, &c);
    assert_int_not_equal(cc, CURLE_OK);
    assert_int_equal(c.alert, 0);
    assert_true(cf_sim_check_transient(cc, 0, c.alert));
}

/* The rule itself, code by code. */
static void test_rule(void **state)
{
    (void) state;
    static const CURLcode transient[] = {CURLE_COULDNT_CONNECT, CURLE_OPERATION_TIMEDOUT,
                                         CURLE_GOT_NOTHING,     CURLE_RECV_ERROR,
                                         CURLE_SEND_ERROR,      CURLE_SSL_CONNECT_ERROR};
    for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++) {
        assert_true(cf_sim_check_transient(transient[i], 0, 0));
        assert_false(cf_sim_check_transient(transient[i], 0, 1)); /* refused: the alert */
    }
    static const CURLcode final[] = {CURLE_PEER_FAILED_VERIFICATION,
                                     CURLE_SSL_CERTPROBLEM,
                                     CURLE_SSL_CACERT_BADFILE,
                                     CURLE_OUT_OF_MEMORY,
                                     CURLE_WRITE_ERROR,
                                     CURLE_URL_MALFORMAT};
    for (size_t i = 0; i < sizeof(final) / sizeof(final[0]); i++)
        assert_false(cf_sim_check_transient(final[i], 0, 0));
    assert_true(cf_sim_check_transient(CURLE_OK, 503, 0));
    assert_true(cf_sim_check_transient(CURLE_OK, 500, 0));
    assert_false(cf_sim_check_transient(CURLE_OK, 403, 0));
    assert_false(cf_sim_check_transient(CURLE_OK, 200, 0)); /* answered, did not parse */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_reset_is_transient),
        cmocka_unit_test(test_rule),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
