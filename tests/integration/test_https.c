/*  test_https - the transport in-process against curl, openssl s_client and sslscan  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "cf_itest.h"
#include "cf_itest_https.h"
#include "cf_mem.h"

#define S_JSON   "-H 'Content-Type: application/json' "
#define S_CHECK  "/api/v1/agent/checkin"
#define S_ADMIN  "-H 'Authorization: Bearer admin-token' "
#define S_VIEWER "-H 'Authorization: Bearer viewer-token' "
#define S_ID7    S_JSON "-d '{\"id\":\"agent-7\"}' "

static cf_itest_https_t s;

static int s_setup(void **state)
{
    (void) state;
    signal(SIGPIPE, SIG_IGN); /* curl and openssl children may close early */
    cf_itest_https_start(&s);
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    cf_itest_https_stop(&s);
    return 0;
}

/* body has "key":"value" (compact JSON as the server writes it). */
static void s_has(const char *body, const char *key, const char *value)
{
    char want[256];
    snprintf(want, sizeof(want), "\"%s\":\"%s\"", key, value);
    if (!strstr(body, want))
        fail_msg("%s not in %s", want, body);
}

static void s_error_is(const char *body, const char *code)
{
    char want[128];
    snprintf(want, sizeof(want), "{\"error\":{\"code\":\"%s\",\"message\":\"", code);
    if (strncmp(body, want, strlen(want)) != 0)
        fail_msg("expected error %s, got %s", code, body);
}

static void test_usage(void **state)
{
    (void) state;
    char body[CF_ITEST_BODY];
    /* a console certificate over TLS 1.3: the peer identity the handlers see */
    assert_int_equal(cf_itest_https_curl(&s, &s.console, NULL, "/api/v1/health", body), 200);
    s_has(body, "tls", "TLSv1.3");
    s_has(body, "client_cert", "console");
    s_has(body, "fp", s.console.fp);
    s_has(body, "serial", s.console.serial);
    /* an agent certificate: its id comes from the certificate */
    assert_int_equal(cf_itest_https_curl(&s, &s.agent, S_ID7, S_CHECK, body), 200);
    s_has(body, "id", "agent-7");
    s_has(body, "seen_addr", "127.0.0.1");
    assert_int_equal(cf_itest_https_curl(&s, &s.agent, NULL, "/api/v1/health", body), 200);
    s_has(body, "agent", "agent-7");
    /* two requests on one connection: the cached peer serves both */
    char args[1024];
    snprintf(args, sizeof(args),
             "--cacert ca.pem --cert agent.pem --key agent.key https://127.0.0.1:%d/api/v1/health "
             "https://127.0.0.1:%d/api/v1/health",
             s.port, s.port);
    assert_int_equal(cf_itest_curl(s.dir, args, body, sizeof(body)), 200);
    assert_int_equal(cf_https_port(s.https), s.port);
    assert_int_equal(cf_https_threads(s.https), 2);
}

static void test_tls_versions(void **state)
{
    (void) state;
    char out[8192];
    static const char legacy[] = "-cipher 'DEFAULT:@SECLEVEL=0' -CAfile ca.pem";
    char args[256];
    snprintf(args, sizeof(args), "-tls1 %s", legacy);
    assert_int_not_equal(cf_itest_sclient(s.dir, s.port, args, out, sizeof(out)), 0);
    snprintf(args, sizeof(args), "-tls1_1 %s", legacy);
    assert_int_not_equal(cf_itest_sclient(s.dir, s.port, args, out, sizeof(out)), 0);
    assert_int_equal(cf_itest_sclient(s.dir, s.port, "-tls1_2 -CAfile ca.pem", out, sizeof(out)),
                     0);
    assert_non_null(strstr(out, "Protocol  : TLSv1.2"));
    assert_non_null(strstr(out, "Verify return code: 0 (ok)"));
    assert_int_equal(cf_itest_sclient(s.dir, s.port, "-tls1_3 -CAfile ca.pem", out, sizeof(out)),
                     0);
    assert_non_null(strstr(out, "TLSv1.3"));
    /* TLS 1.2 with a weak suite the client insists on: refused */
    assert_int_not_equal(
        cf_itest_sclient(s.dir, s.port, "-tls1_2 -cipher AES128-SHA", out, sizeof(out)), 0);
    char body[CF_ITEST_BODY];
    assert_int_equal(
        cf_itest_https_curl(&s, &s.console, "--tlsv1.2 --tls-max 1.2", "/api/v1/health", body),
        200);
    s_has(body, "tls", "TLSv1.2");
}

/* An operator who lowers the minimum explicitly gets TLS 1.0 (security level 0). */
static void test_legacy_minimum_when_asked(void **state)
{
    (void) state;
    char out[8192];
    cf_why_t why = {{0}};
    cf_https_tls_t tls = cf_itest_https_tls(&s, &s.srv, CF_TLS_1_0, NULL, 0);
    assert_int_equal(cf_https_set_tls(s.https, &tls, &why), CF_OK);
    assert_int_equal(
        cf_itest_sclient(s.dir, s.port, "-tls1 -cipher 'DEFAULT:@SECLEVEL=0'", out, sizeof(out)),
        0);
    assert_non_null(strstr(out, "Protocol  : TLSv1"));
    tls.min_tls = 0; /* back to the default */
    assert_int_equal(cf_https_set_tls(s.https, &tls, &why), CF_OK);
    assert_int_not_equal(
        cf_itest_sclient(s.dir, s.port, "-tls1 -cipher 'DEFAULT:@SECLEVEL=0'", out, sizeof(out)),
        0);
    cf_tls_version_t v = 0;
    assert_int_equal(cf_tls_version_from_name("TLSv1.3", &v), CF_OK);
    assert_int_equal(v, CF_TLS_1_3);
    assert_int_equal(cf_tls_version_from_name("1.4", &v), CF_ERR_INVALID);
    assert_int_equal(cf_tls_version_from_name("SSLv3", &v), CF_ERR_INVALID);
    tls.min_tls = (cf_tls_version_t) 0x0300;
    assert_int_equal(cf_https_set_tls(s.https, &tls, &why), CF_ERR_INVALID);
}

static void test_require_client_cert(void **state)
{
    (void) state;
    char body[CF_ITEST_BODY];
    assert_int_equal(cf_https_set_require_client_cert(s.https, 1), CF_OK);
    int before = cf_itest_https_refusals(&s);
    assert_int_equal(cf_itest_https_curl(&s, NULL, NULL, "/api/v1/health", body), 0);
    cf_itest_https_expect_refusal(&s, before, CF_HTTPS_REFUSED_NOCERT, NULL);
    before = cf_itest_https_refusals(&s);
    assert_int_equal(cf_itest_https_curl(&s, NULL, "--tlsv1.2 --tls-max 1.2", S_CHECK, body), 0);
    cf_itest_https_expect_refusal(&s, before, CF_HTTPS_REFUSED_NOCERT, NULL);
    assert_int_equal(cf_itest_https_curl(&s, &s.console, NULL, "/api/v1/health", body), 200);
    assert_int_equal(cf_itest_https_curl(&s, &s.agent, S_ID7, S_CHECK, body), 200);
    assert_int_equal(cf_https_set_require_client_cert(s.https, 0), CF_OK);
    assert_int_equal(cf_itest_https_curl(&s, NULL, NULL, "/api/v1/health", body), 200);
    s_has(body, "client_cert", "none");
}

static void test_access_without_certificate(void **state)
{
    (void) state;
    char body[CF_ITEST_BODY];
    /* allow-plain on: an agent route, no certificate */
    assert_int_equal(cf_itest_https_curl(&s, NULL, S_ID7, S_CHECK, body), 200);
    /* admin route: no session 401, a viewer 403, an admin 200; the store down 503 */
    assert_int_equal(cf_itest_https_curl(&s, NULL, NULL, "/api/v1/admin", body), 401);
    s_error_is(body, "unauthenticated");
    assert_int_equal(
        cf_itest_https_curl(&s, NULL, "-H 'Authorization: Bearer nope'", "/api/v1/admin", body),
        401);
    assert_int_equal(cf_itest_https_curl(&s, NULL, S_VIEWER, "/api/v1/admin", body), 403);
    s_error_is(body, "forbidden");
    assert_int_equal(cf_itest_https_curl(&s, NULL, S_ADMIN, "/api/v1/admin", body), 200);
    s_has(body, "user", "admin");
    assert_int_equal(
        cf_itest_https_curl(&s, NULL, "-H 'Authorization: Bearer down'", "/api/v1/admin", body),
        503);
    s_error_is(body, "unavailable");
    /* allow-plain off: the agent route wants an agent certificate */
    cf_router_set_allow_plain(s.router, 0);
    assert_int_equal(cf_itest_https_curl(&s, NULL, S_ID7, S_CHECK, body), 403);
    assert_int_equal(cf_itest_https_curl(&s, &s.console, S_ID7, S_CHECK, body), 403);
    assert_int_equal(cf_itest_https_curl(&s, &s.agent, S_ID7, S_CHECK, body), 200);
    cf_router_set_allow_plain(s.router, 1);
}

static void test_agent_certificate_on_admin_route(void **state)
{
    (void) state;
    char body[CF_ITEST_BODY];
    assert_int_equal(cf_itest_https_curl(&s, &s.agent, S_ADMIN, "/api/v1/admin", body), 403);
    s_error_is(body, "forbidden");
    assert_non_null(strstr(body, "agent certificates reach agent routes only"));
    assert_int_equal(cf_itest_https_curl(&s, &s.agent, S_VIEWER, "/api/v1/agents/agent-7", body),
                     403);
    /* a console certificate with a session: the role decides */
    assert_int_equal(cf_itest_https_curl(&s, &s.console, S_ADMIN, "/api/v1/admin", body), 200);
    assert_int_equal(
        cf_itest_https_curl(&s, &s.console, S_VIEWER, "/api/v1/agents/agent%2D7?limit=5", body),
        200);
    s_has(body, "id", "agent-7");
    s_has(body, "limit", "5");
}

static void test_refused_certificates(void **state)
{
    (void) state;
    char body[CF_ITEST_BODY];
    int before = cf_itest_https_refusals(&s);
    assert_int_equal(cf_itest_https_curl(&s, &s.foreign, NULL, "/api/v1/health", body), 0);
    cf_itest_https_expect_refusal(&s, before, CF_HTTPS_REFUSED_UNTRUSTED, s.foreign.fp);
    before = cf_itest_https_refusals(&s);
    assert_int_equal(cf_itest_https_curl(&s, &s.expired, S_ID7, S_CHECK, body), 0);
    cf_itest_https_expect_refusal(&s, before, CF_HTTPS_REFUSED_EXPIRED, s.expired.fp);
    /* a server certificate is no client certificate (purpose sslclient) */
    before = cf_itest_https_refusals(&s);
    assert_int_equal(cf_itest_https_curl(&s, &s.srv, NULL, "/api/v1/health", body), 0);
    cf_itest_https_expect_refusal(&s, before, CF_HTTPS_REFUSED_UNTRUSTED, s.srv.fp);
}

static void test_revoke_at_run_time(void **state)
{
    (void) state;
    char body[CF_ITEST_BODY], out[8192];
    assert_int_equal(cf_itest_https_curl(&s, &s.agent8, NULL, "/api/v1/health", body), 200);
    /* a TLS 1.2 session to resume later */
    assert_int_equal(cf_itest_sclient(s.dir, s.port,
                                      "-tls1_2 -CAfile ca.pem -cert agent8.pem -key agent8.key "
                                      "-sess_out agent8.sess",
                                      out, sizeof(out)),
                     0);
    assert_int_equal(cf_itest_sclient(s.dir, s.port,
                                      "-tls1_2 -CAfile ca.pem -cert agent8.pem -key agent8.key "
                                      "-sess_in agent8.sess",
                                      out, sizeof(out)),
                     0);
    assert_non_null(strstr(out, "Reused, TLSv1.2"));
    const char *revoked[] = {"0abc", s.agent8.serial};
    cf_https_tls_t tls = cf_itest_https_tls(&s, &s.srv, 0, revoked, 2);
    cf_why_t why = {{0}};
    assert_int_equal(cf_https_set_tls(s.https, &tls, &why), CF_OK);
    for (int i = 0; i < 4; i++) { /* whichever worker accepts the connection */
        int before = cf_itest_https_refusals(&s);
        assert_int_equal(cf_itest_https_curl(&s, &s.agent8, NULL, "/api/v1/health", body), 0);
        cf_itest_https_expect_refusal(&s, before, CF_HTTPS_REFUSED_REVOKED, s.agent8.fp);
    }
    /* the old session does not bring it back */
    assert_int_equal(cf_itest_sclient(s.dir, s.port,
                                      "-tls1_2 -CAfile ca.pem -cert agent8.pem -key agent8.key "
                                      "-sess_in agent8.sess",
                                      out, sizeof(out)) != 0 ||
                         strstr(out, "Reused") == NULL,
                     1);
    /* other agents are untouched */
    assert_int_equal(cf_itest_https_curl(&s, &s.agent, NULL, "/api/v1/health", body), 200);
    /* bad revoked lists change nothing */
    const char *bad[] = {"xyz"};
    tls = cf_itest_https_tls(&s, &s.srv, 0, bad, 1);
    assert_int_equal(cf_https_set_tls(s.https, &tls, &why), CF_ERR_INVALID);
    tls = cf_itest_https_tls(&s, &s.srv, 0, revoked, CF_HTTPS_MAX_REVOKED + 1);
    assert_int_equal(cf_https_set_tls(s.https, &tls, &why), CF_ERR_TOOBIG);
    assert_int_equal(cf_itest_https_curl(&s, &s.agent8, NULL, "/api/v1/health", body), 0);
    tls = cf_itest_https_tls(&s, &s.srv, 0, NULL, 0); /* un-revoke for the other tests */
    assert_int_equal(cf_https_set_tls(s.https, &tls, &why), CF_OK);
    assert_int_equal(cf_itest_https_curl(&s, &s.agent8, NULL, "/api/v1/health", body), 200);
}

/* openssl s_client over TLS 1.3 with a client pair (NAME.pem, NAME.key), one health request;
   sess: "-sess_out F" or "-sess_in F". The output, NUL-terminated (free()). s_client's status
   is not checked: the server ends with "Connection: close" without a close_notify (allowed
   dirty shutdown), which s_client reports as an error. */
static char *s_sclient13(const char *name, const char *sess)
{
    const char *req = "printf 'GET /api/v1/health HTTP/1.1\\r\\nHost: x\\r\\nConnection: close"
                      "\\r\\n\\r\\n' | timeout 10 openssl s_client -ign_eof -tls1_3 -CAfile ca.pem";
    int rc = cf_test_sh("cd '%s' && %s -cert %s.pem -key %s.key -connect 127.0.0.1:%d %s "
                        ">t13.out 2>&1",
                        s.dir, req, name, name, s.port, sess);
    (void) rc;
    char path[700];
    snprintf(path, sizeof(path), "%s/t13.out", s.dir);
    char *text = cf_test_read_file(path, NULL);
    assert_non_null(text);
    return text;
}

/* TLS 1.3: one session ticket per handshake (not OpenSSL's two: each extra one re-decodes
   the client certificate), and it resumes, still knowing the client certificate. */
static void test_one_ticket_resumes(void **state)
{
    (void) state;
    char *text = s_sclient13("console", "-sess_out t13.sess");
    const char *first = strstr(text, "Post-Handshake New Session Ticket");
    assert_non_null(first);
    assert_null(strstr(first + 1, "Post-Handshake New Session Ticket"));
    assert_non_null(strstr(text, "\"client_cert\":\"console\""));
    free(text);
    text = s_sclient13("console", "-sess_in t13.sess");
    assert_non_null(strstr(text, "Reused, TLSv1.3"));
    assert_non_null(strstr(text, "\"client_cert\":\"console\""));
    free(text);
}

/* TLS 1.3: an agent's certificate gets no session ticket (agents never resume; each of their
   handshakes is a full one) and is served all the same. */
static void test_agent_no_ticket(void **state)
{
    (void) state;
    char *text = s_sclient13("agent", "-sess_out a13.sess");
    assert_null(strstr(text, "New Session Ticket"));
    assert_non_null(strstr(text, "\"client_cert\":\"agent\""));
    assert_non_null(strstr(text, "\"agent\":\"agent-7\""));
    free(text);
}

/* The server's chain goes out without its self-signed root (every peer holds the CA as its
   trust anchor; each certificate sent costs the client a key decode), and still verifies. */
static void test_chain_without_root(void **state)
{
    (void) state;
    char out[16384];
    size_t len = s.srv.pem_len + s.ca_len;
    char *chain = cf_mem_malloc(len + 1);
    assert_non_null(chain);
    memcpy(chain, s.srv.pem_text, s.srv.pem_len);
    memcpy(chain + s.srv.pem_len, s.ca_pem, s.ca_len);
    chain[len] = '\0';
    cf_https_tls_t tls = cf_itest_https_tls(&s, &s.srv, 0, NULL, 0);
    tls.cert_pem = chain;
    tls.cert_len = len;
    cf_why_t why = {{0}};
    assert_int_equal(cf_https_set_tls(s.https, &tls, &why), CF_OK);
    for (int i = 0; i < 4; i++) { /* whichever worker accepts the connection */
        assert_int_equal(cf_itest_sclient(s.dir, s.port,
                                          "-CAfile ca.pem -cert console.pem -key console.key "
                                          "-showcerts",
                                          out, sizeof(out)),
                         0);
        assert_non_null(strstr(out, " 0 s:"));
        assert_null(strstr(out, " 1 s:"));
        assert_non_null(strstr(out, "Verify return code: 0 (ok)"));
    }
    tls = cf_itest_https_tls(&s, &s.srv, 0, NULL, 0);
    assert_int_equal(cf_https_set_tls(s.https, &tls, &why), CF_OK);
    cf_mem_free(chain);
}

static void test_swap_server_certificate(void **state)
{
    (void) state;
    char fp[65];
    cf_itest_server_fp(s.dir, s.port, fp);
    assert_string_equal(fp, s.srv.fp);
    cf_https_tls_t tls = cf_itest_https_tls(&s, &s.srv2, 0, NULL, 0);
    cf_why_t why = {{0}};
    assert_int_equal(cf_https_set_tls(s.https, &tls, &why), CF_OK);
    for (int i = 0; i < 4; i++) { /* whichever worker accepts the connection */
        cf_itest_server_fp(s.dir, s.port, fp);
        assert_string_equal(fp, s.srv2.fp);
    }
    /* a key that is not the certificate's is refused and changes nothing */
    tls.key = s.srv.key_obj;
    assert_int_equal(cf_https_set_tls(s.https, &tls, &why), CF_ERR_KEYMISMATCH);
    assert_non_null(strstr(why.text, "key"));
    tls = cf_itest_https_tls(&s, &s.srv, 0, NULL, 0);
    tls.ca_pem = s.console.pem_text; /* not a CA */
    tls.ca_len = s.console.pem_len;
    assert_int_equal(cf_https_set_tls(s.https, &tls, &why), CF_ERR_INVALID);
    cf_itest_server_fp(s.dir, s.port, fp);
    assert_string_equal(fp, s.srv2.fp);
}

static void test_plain_listener_at_run_time(void **state)
{
    (void) state;
    char body[CF_ITEST_BODY];
    assert_int_equal(cf_itest_https_plain(&s, S_ID7, S_CHECK, body), 200);
    s_has(body, "seen_addr", "127.0.0.1");
    assert_int_equal(cf_itest_https_plain(&s, NULL, "/api/v1/health", body), 403);
    assert_non_null(strstr(body, "agent routes only"));
    assert_int_equal(cf_itest_https_plain(&s, S_ADMIN, "/api/v1/admin", body), 403);
    cf_why_t why = {{0}};
    assert_int_equal(cf_https_set_plain_port(s.https, 0, &why), CF_OK);
    assert_int_equal(cf_https_plain_port(s.https), 0);
    assert_int_equal(cf_itest_https_plain(&s, S_ID7, S_CHECK, body), 0); /* refused */
    assert_int_equal(cf_https_set_plain_port(s.https, s.plain, &why), CF_OK);
    assert_int_equal(cf_https_plain_port(s.https), s.plain);
    assert_int_equal(cf_itest_https_plain(&s, S_ID7, S_CHECK, body), 200);
    /* allow-plain off: the listener may linger, the route refuses */
    cf_router_set_allow_plain(s.router, 0);
    assert_int_equal(cf_itest_https_plain(&s, S_ID7, S_CHECK, body), 403);
    cf_router_set_allow_plain(s.router, 1);
    assert_int_equal(cf_https_set_plain_port(s.https, s.port, &why), CF_ERR_INVALID);
    assert_int_equal(cf_https_set_plain_port(s.https, 70000, &why), CF_ERR_INVALID);
    /* a port another socket holds: refused with the system's reason (no plain listener) */
    int busy = socket(AF_INET, SOCK_STREAM, 0), port = cf_itest_free_port();
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(busy >= 0);
    assert_int_equal(bind(busy, (struct sockaddr *) &sa, sizeof(sa)), 0);
    assert_int_equal(listen(busy, 1), 0);
    assert_int_equal(cf_https_set_plain_port(s.https, port, &why), CF_ERR_IO);
    assert_non_null(strstr(why.text, "in use"));
    assert_int_equal(cf_https_plain_port(s.https), 0);
    close(busy);
    assert_int_equal(cf_https_set_plain_port(s.https, s.plain, &why), CF_OK);
}

static void test_request_errors(void **state)
{
    (void) state;
    char body[CF_ITEST_BODY], args[512];
    assert_int_equal(cf_itest_https_curl(&s, NULL, NULL, "/api/v1/nowhere", body), 404);
    s_error_is(body, "not_found");
    assert_int_equal(cf_itest_https_curl(&s, NULL, "-X DELETE", "/api/v1/health", body), 405);
    s_error_is(body, "method_not_allowed");
    assert_int_equal(cf_itest_https_curl(&s, NULL, S_JSON "-d '{\"id\":'", S_CHECK, body), 400);
    s_error_is(body, "invalid_json");
    assert_int_equal(
        cf_itest_https_curl(&s, NULL, S_JSON "-d '{\"id\":\"a\",\"id\":\"b\"}'", S_CHECK, body),
        400);
    assert_int_equal(
        cf_itest_https_curl(&s, NULL, "-H 'Content-Type: text/plain' -d 'id=a'", S_CHECK, body),
        415);
    s_error_is(body, "unsupported_media_type");
    /* 70 KB of JSON on a 64 KiB route: 413 in the API's shape */
    cf_test_sh("cd '%s' && printf '{\"id\":\"%%070000d\"}' 0 >big.json", s.dir);
    snprintf(args, sizeof(args), S_JSON "--data-binary @big.json");
    assert_int_equal(cf_itest_https_curl(&s, NULL, args, S_CHECK, body), 413);
    s_error_is(body, "too_large");
    /* over the transport's ceiling: evhttp answers 413 before reading it all */
    cf_test_sh("cd '%s' && head -c 300000 /dev/zero | tr '\\0' 'a' >huge.txt", s.dir);
    snprintf(args, sizeof(args), S_JSON "--data-binary @huge.txt");
    assert_int_equal(cf_itest_https_curl(&s, NULL, args, S_CHECK, body), 413);
    /* Retry-After from a handler, and a header with CR LF refused */
    assert_int_equal(cf_itest_https_curl(&s, NULL, "-D headers.txt -X POST", "/api/v1/busy", body),
                     503);
    s_error_is(body, "busy");
    assert_int_equal(cf_test_sh("grep -qi '^Retry-After: 7' '%s/headers.txt'", s.dir), 0);
    assert_int_not_equal(cf_test_sh("grep -qi 'Injected' '%s/headers.txt'", s.dir), 0);
}

/* Check the default configuration with sslscan, when installed (deploy/install-deps.sh). */
static void test_sslscan_default_policy(void **state)
{
    (void) state;
    if (cf_test_sh("command -v sslscan >/dev/null") != 0) {
        print_message("sslscan not installed: skipped\n");
        skip();
    }
    assert_int_equal(cf_test_sh("cd '%s' && timeout 120 sslscan --no-colour --no-heartbleed "
                                "127.0.0.1:%d >sslscan.txt 2>&1",
                                s.dir, s.port),
                     0);
    assert_int_equal(cf_test_sh("cd '%s' && grep -Eq '^TLSv1.0 +disabled' sslscan.txt && grep "
                                "-Eq '^TLSv1.1 +disabled' sslscan.txt && grep -Eq '^TLSv1.2 "
                                "+enabled' sslscan.txt && grep -Eq '^TLSv1.3 +enabled' sslscan.txt",
                                s.dir),
                     0);
    /* every accepted suite: TLS 1.3, or ECDHE with AES-GCM or ChaCha20-Poly1305 */
    assert_int_equal(cf_test_sh("cd '%s' && grep -E '^(Preferred|Accepted)' sslscan.txt "
                                ">accepted.txt && test -s accepted.txt && ! grep -Ev "
                                "'TLSv1.3|ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|"
                                "CHACHA20-POLY1305)' accepted.txt",
                                s.dir),
                     0);
}

static int s_file_has(void *arg)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/held.out", s.dir);
    return cf_test_sh("grep -q '%s' '%s'", (const char *) arg, path) == 0;
}

/* A worker at its connection cap stops accepting and resumes when one closes. */
static void test_connection_cap(void **state)
{
    (void) state;
    cf_https_t *capped = NULL;
    int port = cf_itest_free_port();
    cf_https_cfg_t cfg = {.address = "127.0.0.1",
                          .port = port,
                          .threads = 1,
                          .max_conns = 1,
                          .on_request = cf_router_serve,
                          .request_arg = s.router};
    cf_https_tls_t tls = cf_itest_https_tls(&s, &s.srv, 0, NULL, 0);
    cf_why_t why = {{0}};
    assert_int_equal(cf_https_new(&cfg, &tls, &capped, &why), CF_OK);
    assert_int_equal(cf_https_start(capped), CF_OK);
    /* one connection held open by s_client (-ign_eof: stdin is /dev/null) */
    char connect[32], log[600], ca[600];
    snprintf(connect, sizeof(connect), "127.0.0.1:%d", port);
    snprintf(log, sizeof(log), "%s/held.out", s.dir);
    snprintf(ca, sizeof(ca), "%s/ca.pem", s.dir);
    char *argv[] = {"/usr/bin/openssl", "s_client", "-connect", connect,
                    "-CAfile",          ca,         "-ign_eof", NULL};
    pid_t held = 0;
    assert_int_equal(cf_itest_spawn(argv, log, &held), CF_OK);
    assert_true(cf_test_wait_until(s_file_has, "Verify return code: 0", 10000));
    char args[512], body[CF_ITEST_BODY];
    snprintf(args, sizeof(args), "--cacert ca.pem --max-time 2 https://127.0.0.1:%d/api/v1/health",
             port);
    assert_int_equal(cf_itest_curl(s.dir, args, body, sizeof(body)), 0); /* queued, not served */
    assert_int_equal(cf_itest_kill(held, SIGTERM), CF_OK);
    snprintf(args, sizeof(args), "--cacert ca.pem https://127.0.0.1:%d/api/v1/health", port);
    assert_int_equal(cf_itest_curl(s.dir, args, body, sizeof(body)), 200);
    cf_https_destroy(&capped);
    cf_https_destroy(&capped);
    assert_null(capped);
    /* a port in use is a clear error */
    cfg.port = s.port;
    assert_int_equal(cf_https_new(&cfg, &tls, &capped, &why), CF_ERR_IO);
    assert_non_null(strstr(why.text, "in use"));
    cfg.port = 0;
    assert_int_equal(cf_https_new(&cfg, &tls, &capped, &why), CF_ERR_INVALID);
    assert_null(capped);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_tls_versions),
        cmocka_unit_test(test_legacy_minimum_when_asked),
        cmocka_unit_test(test_require_client_cert),
        cmocka_unit_test(test_access_without_certificate),
        cmocka_unit_test(test_agent_certificate_on_admin_route),
        cmocka_unit_test(test_refused_certificates),
        cmocka_unit_test(test_one_ticket_resumes),
        cmocka_unit_test(test_agent_no_ticket),
        cmocka_unit_test(test_chain_without_root),
        cmocka_unit_test(test_revoke_at_run_time),
        cmocka_unit_test(test_swap_server_certificate),
        cmocka_unit_test(test_plain_listener_at_run_time),
        cmocka_unit_test(test_request_errors),
        cmocka_unit_test(test_connection_cap),
        cmocka_unit_test(test_sslscan_default_policy),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
