/*  test_agent_http - the agent's HTTP client (cf_agent_http.c, evhttp) against a local
    plain evhttp server thread: answer and status, source address, the answer cap, timeouts
    (TLS: itest_agent, itest_agent_tls against real servers)  */
#include "cf_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "cf_agent_checkin.h"
#include "cf_mem.h"

/* The server thread: its loop and the port it listens on. */
typedef struct {
    struct event_base *base; /* the server's loop (its thread only) */
    struct evhttp *http;     /* the HTTP server */
    unsigned short port;     /* where it listens (127.0.0.1) */
    pthread_t thread;        /* runs the loop until /stop */
} s_srv_t;

/* /echo: 201 and the body back, with the Content-Type seen; /peer: the client's address;
   /big: an answer one byte over the agent's cap; /stop: ends the loop. */
static void s_handle(struct evhttp_request *req, void *arg)
{
    s_srv_t *srv = arg;
    const char *uri = evhttp_request_get_uri(req);
    struct evbuffer *out = evbuffer_new();
    int code = 200;
    if (strcmp(uri, "/echo") == 0) {
        const char *type =
            evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
        evbuffer_add_printf(out, "%s ", type ? type : "-");
        evbuffer_add_buffer(out, evhttp_request_get_input_buffer(req));
        code = 201;
    } else if (strcmp(uri, "/peer") == 0) {
        const char *addr = NULL;
        ev_uint16_t port = 0;
        evhttp_connection_get_peer(evhttp_request_get_connection(req), (char **) &addr, &port);
        evbuffer_add_printf(out, "%s", addr ? addr : "-");
    } else if (strcmp(uri, "/big") == 0) {
        char chunk[4096];
        memset(chunk, 'x', sizeof(chunk));
        for (size_t n = 0; n <= CF_AGENT_ANSWER_MAX; n += sizeof(chunk))
            evbuffer_add(out, chunk, sizeof(chunk));
    } else if (strcmp(uri, "/stop") == 0) {
        struct timeval flush = {.tv_sec = 0, .tv_usec = 100000}; /* the answer goes out first */
        event_base_loopexit(srv->base, &flush);
    } else
        code = 404;
    evhttp_send_reply(req, code, "x", out);
    evbuffer_free(out);
}

static void *s_run(void *arg)
{
    s_srv_t *srv = arg;
    event_base_dispatch(srv->base);
    return NULL;
}

static void s_start(s_srv_t *srv)
{
    memset(srv, 0, sizeof(*srv));
    srv->base = event_base_new();
    srv->http = evhttp_new(srv->base);
    assert_non_null(srv->http);
    evhttp_set_gencb(srv->http, s_handle, srv);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(srv->http, "127.0.0.1", 0);
    assert_non_null(bs);
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    assert_int_equal(getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *) &sa, &len), 0);
    srv->port = ntohs(sa.sin_port);
    assert_int_equal(pthread_create(&srv->thread, NULL, s_run, srv), 0);
}

static void s_stop(s_srv_t *srv, cf_agent_http_t *h)
{
    long status = 0;
    assert_int_equal(cf_agent_http_post(h, "/stop", "{}", &status, NULL, NULL), CF_OK);
    pthread_join(srv->thread, NULL);
    evhttp_free(srv->http);
    event_base_free(srv->base);
}

static void s_endpoint(cf_agent_http_t *h, unsigned short port)
{
    memset(h, 0, sizeof(*h));
    h->alias = "localhost";
    h->host = "127.0.0.1";
    h->port = port;
    h->plain = 1;
    h->timeout_ms = 5000;
}

/* A POST gets its status and body; the request carried the JSON content type. */
static void test_usage(void **state)
{
    (void) state;
    s_srv_t srv;
    s_start(&srv);
    cf_agent_http_t h;
    s_endpoint(&h, srv.port);
    long status = 0;
    char *answer = NULL;
    cf_why_t why = {""};
    assert_int_equal(cf_agent_http_post(&h, "/echo", "{\"a\":1}", &status, &answer, &why), CF_OK);
    assert_int_equal(status, 201);
    assert_string_equal(answer, "application/json {\"a\":1}");
    cf_mem_free(answer);
    /* an HTTP error status is an answer, not an error; the body may be left unread */
    assert_int_equal(cf_agent_http_post(&h, "/nothing", "{}", &status, NULL, &why), CF_OK);
    assert_int_equal(status, 404);
    /* the source address is the one asked for */
    h.source_addr = "127.0.0.3";
    assert_int_equal(cf_agent_http_post(&h, "/peer", "{}", &status, &answer, &why), CF_OK);
    assert_string_equal(answer, "127.0.0.3");
    cf_mem_free(answer);
    h.source_addr = NULL;
    s_stop(&srv, &h);
}

/* An answer over CF_AGENT_ANSWER_MAX is refused; a plain endpoint cannot be probed. */
static void test_too_big(void **state)
{
    (void) state;
    s_srv_t srv;
    s_start(&srv);
    cf_agent_http_t h;
    s_endpoint(&h, srv.port);
    long status = 0;
    char *answer = NULL;
    cf_why_t why = {""};
    assert_int_equal(cf_agent_http_post(&h, "/big", "{}", &status, &answer, &why), CF_ERR_TOOBIG);
    assert_null(answer);
    assert_non_null(strstr(why.text, "answer over"));
    assert_int_equal(cf_agent_http_probe(&h, &why), CF_ERR_INVALID);
    s_stop(&srv, &h);
}

/* A server that accepts the connection and never answers: the call ends at its limit. */
static void test_silent_server(void **state)
{
    (void) state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
    cf_agent_http_t h;
    s_endpoint(&h, ntohs(sa.sin_port));
    h.timeout_ms = 300;
    long status = 0;
    cf_why_t why = {""};
    assert_int_equal(cf_agent_http_post(&h, "/echo", "{}", &status, NULL, &why), CF_ERR_IO);
    assert_non_null(strstr(why.text, "timed out"));
    h.plain = 0; /* TLS: the handshake gets no answer */
    why.text[0] = '\0';
    assert_int_equal(cf_agent_http_probe(&h, &why), CF_ERR_IO);
    assert_non_null(strstr(why.text, "timed out"));
    why.text[0] = '\0';
    h.ca_file = "/nonexistent/ca.pem"; /* a CA file that cannot be read */
    assert_int_equal(cf_agent_http_probe(&h, &why), CF_ERR_IO);
    assert_non_null(strstr(why.text, "CA file"));
    close(fd);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as cf-agent: a peer that hangs up is an error, not a signal */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_too_big),
        cmocka_unit_test(test_silent_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
