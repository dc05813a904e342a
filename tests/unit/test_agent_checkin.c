/*  test_agent_checkin - the check-in answer parser (fields, caps, refusals) and the HTTPS
    client's errors without a server (itest_agent: against real servers)  */
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
    assert_int_equal(cf_agent_checkin(&h, "agent-1", &a, &status, &why), CF_ERR_IO);
    assert_int_equal(cf_agent_report(&h, "agent-1", "00", 0, "x", NULL, &why), CF_ERR_IO);
    assert_int_equal(cf_agent_http_post(NULL, "/", "{}", &status, NULL, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_agent_checkin(&h, NULL, &a, NULL, NULL), CF_ERR_INVALID);
    s.plain_port = 8;
    cf_agent_http_for(&h, &s, 1);
    assert_int_equal(h.plain, 1);
    assert_int_equal(h.port, 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_defaults_and_caps),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_no_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
