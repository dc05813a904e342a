/*  test_agent_checkin - the check-in answer parser (fields, caps, refusals) and the HTTPS
    client's errors without a server, which failures are transient for the install check
    (itest_agent, itest_agent_check: against real servers)  */
#include "cf_test.h"

#include <string.h>

#include "cf_agent_checkin.h"
#include "cf_mem.h"

static void test_usage(void **state)
{
    (void) state;
    const char *text =
        "{\"seen_addr\":\"127.0.0.7\",\"lock\":\"secure\",\"favorite\":\"srv2\","
        "\"servers\":[{\"alias\":\"srv1\",\"host\":\"127.0.0.1\",\"port\":7005,\"plain_port\":0,"
        "\"priority\":10,\"ip_ranges\":[\"127.0.0.0/24\"],\"online\":true}],"
        "\"interval\":300,\"protocol\":1,\"jobs\":[{\"id\":\"ab\",\"v\":1}]}";
    cf_agent_answer_t a;
    memset(&a, 0, sizeof(a));
    assert_int_equal(cf_agent_answer_parse(text, strlen(text), &a, NULL), CF_OK);
    assert_string_equal(a.seen_addr, "127.0.0.7");
    assert_string_equal(a.lock, "secure");
    assert_string_equal(a.favorite, "srv2");
    assert_int_equal(a.has_servers, 1);
    assert_int_equal(a.servers.n, 1);
    assert_string_equal(a.servers.servers[0].alias, "srv1");
    assert_int_equal(a.interval, 300);
    assert_int_equal(a.protocol, 1);
    assert_int_equal(a.n_jobs, 1);
    assert_string_equal(a.jobs[0], "{\"id\":\"ab\",\"v\":1}");
    cf_agent_answer_clear(&a);
    cf_agent_answer_clear(&a); /* safe to repeat */
}

/* Missing fields take defaults; intervals are clamped. */
static void test_defaults_and_caps(void **state)
{
    (void) state;
    static const struct {
        const char *text;
        unsigned interval;
        int has_servers;
    } cases[] = {
        {"{}", 300, 0},
        {"{\"interval\":1,\"favorite\":null,\"servers\":null,\"jobs\":null}", CF_AGENT_INTERVAL_MIN,
         0},
        {"{\"interval\":99999999,\"servers\":[]}", CF_AGENT_INTERVAL_MAX, 1},
        {"{\"interval\":-5,\"protocol\":0}", CF_AGENT_INTERVAL_MIN, 0},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        cf_agent_answer_t a;
        memset(&a, 0, sizeof(a));
        assert_int_equal(cf_agent_answer_parse(cases[c].text, strlen(cases[c].text), &a, NULL),
                         CF_OK);
        assert_int_equal(a.interval, cases[c].interval);
        assert_int_equal(a.has_servers, cases[c].has_servers);
        assert_int_equal(a.protocol, 1);
        assert_string_equal(a.favorite, "");
        cf_agent_answer_clear(&a);
    }
    /* more jobs than the cap: the first CF_AGENT_JOBS_MAX are taken */
    json_t *jobs = json_array();
    for (int k = 0; k < CF_AGENT_JOBS_MAX + 5; k++)
        json_array_append_new(jobs, json_pack("{s:i}", "n", k));
    json_t *root = json_pack("{s:o}", "jobs", jobs);
    char *text = json_dumps(root, JSON_COMPACT);
    cf_agent_answer_t a;
    memset(&a, 0, sizeof(a));
    assert_int_equal(cf_agent_answer_parse(text, strlen(text), &a, NULL), CF_OK);
    assert_int_equal(a.n_jobs, CF_AGENT_JOBS_MAX);
    cf_agent_answer_clear(&a);
    free(text);
    json_decref(root);
}

static void test_refused(void **state)
{
    (void) state;
    static const char *bad[] = {
        "",
        "[]",
        "nope",
        "{\"lock\":5}",
        "{\"seen_addr\":\"01234567890123456789012345678901234567890123456789\"}",
        "{\"interval\":\"300\"}",
        "{\"protocol\":true}",
        "{\"servers\":{}}",
        "{\"servers\":[{\"alias\":\"\"}]}",
        "{\"jobs\":{}}",
        "{\"jobs\":[\"text\"]}",
        "{\"lock\":\"a\",\"lock\":\"b\"}",
    };
    for (size_t c = 0; c < sizeof(bad) / sizeof(bad[0]); c++) {
        cf_agent_answer_t a;
        memset(&a, 0, sizeof(a));
        cf_why_t why = {""};
        assert_int_equal(cf_agent_answer_parse(bad[c], strlen(bad[c]), &a, &why), CF_ERR_CORRUPT);
        assert_true(why.text[0] != '\0');
        assert_int_equal(a.n_jobs, 0);
        assert_int_equal(a.servers.n, 0);
    }
    cf_agent_answer_t a;
    memset(&a, 0, sizeof(a));
    assert_int_equal(cf_agent_answer_parse("{}", CF_AGENT_ANSWER_MAX + 1, &a, NULL), CF_ERR_TOOBIG);
    assert_int_equal(cf_agent_answer_parse(NULL, 0, &a, NULL), CF_ERR_INVALID);
}

/* Nobody listens: every call says so; bad arguments. */
static void test_no_server(void **state)
{
    (void) state;
    cf_agent_server_t s;
    memset(&s, 0, sizeof(s));
    snprintf(s.alias, sizeof(s.alias), "localhost");
    snprintf(s.host, sizeof(s.host), "127.0.0.1");
    s.port = 9; /* discard: closed on loopback */
    cf_agent_http_t h;
    memset(&h, 0, sizeof(h));
    cf_agent_http_for(&h, &s, 1);
    assert_int_equal(h.plain, 0); /* no plain port: TLS */
    assert_int_equal(h.port, 9);
    h.timeout_ms = 2000;
    cf_why_t why = {""};
    assert_int_equal(cf_agent_http_probe(&h, &why), CF_ERR_IO);
    assert_non_null(strstr(why.text, "localhost:9"));
    cf_agent_answer_t a;
    memset(&a, 0, sizeof(a));
    long status = -1;
    int refused = 0;
    h.tls_refused = &refused;
    assert_int_equal(cf_agent_checkin(&h, "agent-1", 0, &a, &status, &why), CF_ERR_IO);
    assert_int_equal(refused, 0); /* no connection: says nothing of the certificate */
    assert_int_equal(cf_agent_checkin_transient(CF_ERR_IO, status, refused), 1);
    h.ca_file = "/nonexistent/ca.pem"; /* a local failure: no other server changes it */
    assert_int_equal(cf_agent_checkin(&h, "agent-1", 0, &a, &status, &why), CF_ERR_IO);
    assert_int_equal(refused, 1);
    assert_non_null(strstr(why.text, "CA file"));
    h.ca_file = NULL;
    h.tls_refused = NULL;
    assert_int_equal(cf_agent_report(&h, "agent-1", "00", 0, "x", NULL, &why), CF_ERR_IO);
    assert_int_equal(cf_agent_http_post(NULL, "/", "{}", &status, NULL, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_agent_checkin(&h, NULL, 0, &a, NULL, NULL), CF_ERR_INVALID);
    s.plain_port = 8;
    cf_agent_http_for(&h, &s, 1);
    assert_int_equal(h.plain, 1);
    assert_int_equal(h.port, 8);
}

/* Which failed check-ins say nothing of the certificate (an install check moves on). */
static void test_transient(void **state)
{
    (void) state;
    static const struct {
        cf_err_t rc;     /* cf_agent_checkin's error */
        long status;     /* its HTTP status */
        int tls_refused; /* what tls_refused received */
        int transient;   /* expected */
    } t[] = {
        {CF_ERR_IO, 0, 0, 1},        /* no connection, a timeout, a close before the answer */
        {CF_ERR_IO, 0, 1, 0},        /* a TLS alert, the server's certificate not trusted */
        {CF_ERR_POLICY, 500, 0, 1},  /* the server failed */
        {CF_ERR_POLICY, 503, 0, 1},  /* busy, or its Redis is failing over */
        {CF_ERR_POLICY, 599, 0, 1},  /* any 5xx */
        {CF_ERR_POLICY, 403, 0, 0},  /* refused: revoked, unknown */
        {CF_ERR_POLICY, 409, 0, 0},  /* refused */
        {CF_ERR_POLICY, 499, 0, 0},  /* any 4xx */
        {CF_ERR_POLICY, 600, 0, 0},  /* not an HTTP status class the check knows */
        {CF_ERR_CORRUPT, 200, 0, 0}, /* an answer that does not parse */
        {CF_ERR_TOOBIG, 200, 0, 0},  /* an answer over the cap */
        {CF_ERR_NOMEM, 0, 0, 0},     /* a local failure */
        {CF_ERR_INVALID, 0, 0, 0},   /* a call that could not start */
        {CF_OK, 200, 0, 0},          /* not a failure */
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        int got = cf_agent_checkin_transient(t[i].rc, t[i].status, t[i].tls_refused);
        if (got != t[i].transient)
            fail_msg("case %zu: %s %ld refused=%d: %d", i, cf_err_str(t[i].rc), t[i].status,
                     t[i].tls_refused, got);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),     cmocka_unit_test(test_defaults_and_caps),
        cmocka_unit_test(test_refused),   cmocka_unit_test(test_no_server),
        cmocka_unit_test(test_transient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
