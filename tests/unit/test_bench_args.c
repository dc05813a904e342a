/*  test_bench_args - bench_tls's option parsing, loopback check, request template, framing  */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cf_test.h"

#include "../bench/bench_tls_http.h"
#include "../bench/bench_tls_opts.h"

#define S_MAX_ARGS 32

/* Parse a NULL-terminated list of words as bench_tls's command line (after the program). */
static cf_err_t s_parse(s_opts_t *o, cf_why_t *why, ...)
{
    char *argv[S_MAX_ARGS + 2] = {(char *) "bench_tls"};
    int argc = 1;
    va_list ap;
    va_start(ap, why);
    for (const char *w = va_arg(ap, const char *); w && argc <= S_MAX_ARGS;
         w = va_arg(ap, const char *))
        argv[argc++] = (char *) w; /* getopt_long permutes the pointers, never the strings */
    va_end(ap);
    why->text[0] = '\0';
    return s_opts_parse(argc, argv, o, why);
}

/* Usage example: the handshake run bench_https.sh makes. */
static void test_handshake_command_line(void **state)
{
    (void) state;
    s_opts_t o;
    cf_why_t why;
    assert_int_equal(s_parse(&o, &why, "handshake", "--ca", "ca.pem", "--cert-dir", "agents",
                             "--connections", "32", "--duration", "5", "--port", "7005",
                             "--request", "GET /api/v1/health", NULL),
                     CF_OK);
    assert_int_equal(o.mode, BT_HANDSHAKE);
    assert_string_equal(o.ca, "ca.pem");
    assert_string_equal(o.cert_dir, "agents");
    assert_int_equal(o.conns, 32);
    assert_int_equal(o.duration, 5);
    assert_int_equal(o.count, 0);
    assert_int_equal(o.port, 7005);
    assert_int_equal(o.send_request, 1);
    assert_string_equal(o.method, "GET");
    assert_string_equal(o.path, "/api/v1/health");
    assert_int_equal(o.addr.ss_family, AF_INET);
    assert_int_equal(o.threads, 1);
    assert_int_equal(o.tls, 0);
    assert_int_equal(o.any_status, 0);

    /* defaults: 5 s when neither duration nor count, no request in handshake mode */
    assert_int_equal(
        s_parse(&o, &why, "--port", "1", "--no-verify", "handshake", "--any-status", NULL), CF_OK);
    assert_int_equal(o.any_status, 1);
    assert_int_equal(o.duration, 5);
    assert_int_equal(o.send_request, 0);
    assert_string_equal(o.host, "127.0.0.1");
}

static void test_requests_and_template(void **state)
{
    (void) state;
    s_opts_t o;
    cf_why_t why;
    char req[BT_MAX_REQUEST];
    size_t len = 0;
    assert_int_equal(s_parse(&o, &why, "requests", "--port", "8443", "--host", "::1", "--ca", "c",
                             "--method", "POST", "--path", "/api/v1/agent/checkin", "--body",
                             "{\"id\":\"%s\",\"n\":%d,\"pct\":\"100%%\"}", "--count", "1000",
                             "--tls", "1.3", "--threads", "2", NULL),
                     CF_OK);
    assert_int_equal(o.mode, BT_REQUESTS);
    assert_int_equal(o.count, 1000);
    assert_int_equal(o.duration, 0);
    assert_int_equal(o.tls, 13);
    assert_int_equal(o.addr.ss_family, AF_INET6);
    assert_int_equal(s_build_request(&o, 7, "agent-7", req, sizeof(req), &len), CF_OK);
    assert_int_equal(len, strlen(req));
    static const char body[] = "{\"id\":\"agent-7\",\"n\":7,\"pct\":\"100%\"}";
    char want[512];
    snprintf(want, sizeof(want),
             "POST /api/v1/agent/checkin HTTP/1.1\r\nHost: [::1]:8443\r\nUser-Agent: bench_tls\r\n"
             "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(body), body);
    assert_string_equal(req, want);

    /* handshake mode asks the server to close; %d in a path */
    assert_int_equal(
        s_parse(&o, &why, "handshake", "--port", "9", "--no-verify", "--path", "/x/%d", NULL),
        CF_OK);
    assert_int_equal(o.send_request, 1);
    assert_int_equal(s_build_request(&o, 12, "", req, sizeof(req), &len), CF_OK);
    assert_non_null(strstr(req, "GET /x/12 HTTP/1.1\r\n"));
    assert_non_null(strstr(req, "Connection: close\r\n"));
    assert_null(strstr(req, "Content-Type"));
}

static void test_expand_limits(void **state)
{
    (void) state;
    char out[8];
    size_t len = 0;
    assert_int_equal(s_expand("a%db", 42, "n", out, sizeof(out), &len), CF_OK);
    assert_string_equal(out, "a42b");
    assert_int_equal(len, 4);
    assert_int_equal(s_expand("%s%%", 0, "ab", out, sizeof(out), &len), CF_OK);
    assert_string_equal(out, "ab%");
    assert_int_equal(s_expand("1234567", 0, "", out, sizeof(out), &len), CF_OK);
    assert_int_equal(s_expand("12345678", 0, "", out, sizeof(out), &len), CF_ERR_TOOBIG);
    assert_int_equal(s_expand("%s", 0, "a-long-name", out, sizeof(out), &len), CF_ERR_TOOBIG);
    assert_int_equal(s_expand("%x", 0, "", out, sizeof(out), &len), CF_ERR_INVALID);
    assert_int_equal(s_expand("50%", 0, "", out, sizeof(out), &len), CF_ERR_INVALID);
}

static void test_rejects_bad_command_lines(void **state)
{
    (void) state;
    static const char *const bad[][8] = {
        {"handshake", "--ca", "c", NULL},                                 /* no port */
        {"handshake", "--port", "1", NULL},                               /* no --ca */
        {"handshake", "--port", "0", "--no-verify", NULL},                /* port 0 */
        {"handshake", "--port", "65536", "--no-verify", NULL},            /* port too big */
        {"handshake", "--port", "12x", "--no-verify", NULL},              /* not a number */
        {"handshake", "--port", "", "--no-verify", NULL},                 /* empty */
        {"--port", "1", "--no-verify", NULL},                             /* no mode */
        {"flood", "--port", "1", "--no-verify", NULL},                    /* unknown mode */
        {"handshake", "requests", "--port", "1", "--no-verify", NULL},    /* two modes */
        {"handshake", "--port", "1", "--no-verify", "--bogus", NULL},     /* unknown option */
        {"handshake", "--port", "1", "--no-verify", "--cert", "c", NULL}, /* cert, no key */
        {"handshake", "--port", "1", "--no-verify", "--connections", "4097", NULL},
        {"handshake", "--port", "1", "--no-verify", "--duration", "121", NULL},
        {"handshake", "--port", "1", "--no-verify", "--count", "10000001", NULL},
        {"handshake", "--port", "1", "--no-verify", "--threads", "17", NULL},
        {"handshake", "--port", "1", "--no-verify", "--tls", "1.1", NULL},
        {"handshake", "--port", "1", "--no-verify", "--request", "GET", NULL},
        {"handshake", "--port", "1", "--no-verify", "--request", "GET x", NULL},
        {"handshake", "--port", "1", "--no-verify", "--method", "get", NULL},
        {"handshake", "--port", "1", "--no-verify", "--path", "x", NULL},
        {"requests", "--port", "1", "--no-verify", "--body", "%q", NULL},
        {"requests", "--port", "1", "--no-verify", "--connections", "2", "--threads", "3"},
        {"requests", "--port", "1", "--no-verify", "--host", "example.com", NULL},
        {"requests", "--port", "1", "--no-verify", "--host", "10.0.0.1", NULL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *argv[10] = {(char *) "bench_tls"};
        int argc = 1;
        for (size_t k = 0; k < 8 && bad[i][k]; k++)
            argv[argc++] = (char *) bad[i][k];
        s_opts_t o;
        cf_why_t why = {""};
        assert_int_not_equal(s_opts_parse(argc, argv, &o, &why), CF_OK);
        assert_true(why.text[0] != '\0'); /* every refusal says what is wrong */
    }
}

static void test_rejects_oversize_input(void **state)
{
    (void) state;
    static char big[BT_MAX_FIELD + 2];
    memset(big, 'a', sizeof(big) - 1);
    big[0] = '/';
    s_opts_t o;
    cf_why_t why;
    assert_int_equal(
        s_parse(&o, &why, "requests", "--port", "1", "--no-verify", "--path", big, NULL),
        CF_ERR_TOOBIG);
    big[BT_MAX_FIELD] = '\0'; /* a path of the largest size fits, a body twice over does not */
    assert_int_equal(s_parse(&o, &why, "requests", "--port", "1", "--no-verify", "--path", big,
                             "--body", big, NULL),
                     CF_ERR_TOOBIG);
}

static void test_help(void **state)
{
    (void) state;
    s_opts_t o;
    cf_why_t why;
    assert_int_equal(s_parse(&o, &why, "--help", "--port", "nonsense", NULL), CF_OK);
    assert_int_equal(o.help, 1);
    FILE *f = tmpfile();
    assert_non_null(f);
    s_usage(f);
    char text[4096] = "";
    rewind(f);
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    assert_non_null(strstr(text, "--cert-dir"));
    assert_non_null(strstr(text, "127.0.0.0/8, ::1 or localhost only"));
}

static void test_loopback_only(void **state)
{
    (void) state;
    static const char *const good[] = {"127.0.0.1", "127.255.255.254", "127.0.0.7",
                                       "::1",       "[::1]",           "localhost"};
    static const char *const refused[] = {
        "10.0.0.1",         "128.0.0.1",   "0.0.0.0",         "::",
        "::ffff:127.0.0.1", "192.168.1.1", "126.255.255.255", "2001:db8::1"};
    static const char *const invalid[] = {"",          "example.com", "127.1",
                                          "1.2.3.4.5", "[::1",        "127.0.0.1:80"};
    struct sockaddr_storage ss;
    socklen_t len = 0;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(s_loopback_addr(good[i], 443, &ss, &len), CF_OK);
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        assert_int_equal(s_loopback_addr(refused[i], 443, &ss, &len), CF_ERR_POLICY);
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
        assert_int_equal(s_loopback_addr(invalid[i], 443, &ss, &len), CF_ERR_INVALID);
    assert_int_equal(s_loopback_addr("127.0.0.9", 8443, &ss, &len), CF_OK);
    const struct sockaddr_in *in4 = (const struct sockaddr_in *) &ss;
    assert_int_equal(len, sizeof(*in4));
    assert_int_equal(ntohs(in4->sin_port), 8443);
    assert_int_equal(ntohl(in4->sin_addr.s_addr), 0x7f000009);
}

/* Feed text to r in pieces of step bytes; returns the first refusal, sets *complete. */
static const char *s_feed_all(s_resp_t *r, const char *text, size_t step, int *complete)
{
    size_t n = strlen(text);
    *complete = 0;
    for (size_t off = 0; off < n; off += step) {
        size_t k = n - off < step ? n - off : step;
        const char *bad = s_resp_feed(r, text + off, k, complete);
        if (bad || (*complete && off + k < n))
            return bad ? bad : "complete before the end";
    }
    return NULL;
}

static void test_response_framing(void **state)
{
    (void) state;
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             "Content-Length: 15\r\n\r\n{\"status\":\"ok\"}";
    s_resp_t r;
    int complete = 0;
    for (size_t step = 1; step <= sizeof(ok); step++) { /* every split of the answer */
        s_resp_reset(&r, 0);
        assert_null(s_feed_all(&r, ok, step, &complete));
        assert_true(complete);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.close_after, 0);
    }
    s_resp_reset(&r, 0);
    assert_null(s_feed_all(
        &r, "HTTP/1.1 503 Busy\r\nconnection:  Close\r\ncontent-length: 0\r\n\r\n", 7, &complete));
    assert_true(complete);
    assert_int_equal(r.status, 503);
    assert_int_equal(r.close_after, 1);
    s_resp_reset(&r, 0); /* HTTP/1.0 closes; no length: the body runs to the end */
    assert_null(s_feed_all(&r, "HTTP/1.0 200 OK\r\n\r\nsome body", 100, &complete));
    assert_false(complete);
    assert_int_equal(r.body_left, -1);
    assert_int_equal(r.close_after, 1);
    s_resp_reset(&r, 1); /* HEAD: no body whatever the length says */
    assert_null(s_feed_all(&r, "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", 100, &complete));
    assert_true(complete);
    s_resp_reset(&r, 0);
    assert_null(s_feed_all(&r, "HTTP/1.1 204 No Content\r\n\r\n", 100, &complete));
    assert_true(complete);
}

static void test_response_refusals(void **state)
{
    (void) state;
    static const char *const bad[] = {
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabc", /* more than announced */
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        "SSH-2.0-OpenSSH_9.2\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/2 200\r\n\r\n",
    };
    s_resp_t r;
    int complete = 0;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        s_resp_reset(&r, 0);
        assert_non_null(s_feed_all(&r, bad[i], 3, &complete));
    }
    /* headers over the cap: refused, and never written past the buffer */
    static char huge[S_MAX_HEAD + 64];
    memcpy(huge, "HTTP/1.1 200 OK\r\nX: ", 20);
    memset(huge + 20, 'a', sizeof(huge) - 21);
    s_resp_reset(&r, 0);
    assert_string_equal(s_feed_all(&r, huge, 1000, &complete), "response: headers over 4 KiB");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_command_line),
        cmocka_unit_test(test_requests_and_template),
        cmocka_unit_test(test_expand_limits),
        cmocka_unit_test(test_rejects_bad_command_lines),
        cmocka_unit_test(test_rejects_oversize_input),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_loopback_only),
        cmocka_unit_test(test_response_framing),
        cmocka_unit_test(test_response_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
