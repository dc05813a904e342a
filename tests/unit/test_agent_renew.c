/*  test_agent_renew - when the agent's certificate falls due, the renewal state with its
    failures and back-off, its file, and a renewal without a server (itest_agent: with one)  */
#include "cf_test.h"

#include <string.h>

#include "cf_agent_renew.h"
#include "cf_ca.h"
#include "cf_mem.h"

static cf_ca_t *s_ca;

static int s_setup(void **state)
{
    (void) state;
    return cf_ca_create(NULL, &s_ca) == CF_OK ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void) state;
    cf_ca_destroy(&s_ca);
    return 0;
}

static cf_cert_t *s_issue(time_t now, unsigned days)
{
    cf_issue_t req = {.component = CF_COMPONENT_AGENT, .name = "agent-r", .days = days, .now = now};
    cf_cert_t *cert = NULL;
    cf_key_t *key = NULL;
    assert_int_equal(cf_ca_issue(s_ca, &req, &cert, &key), CF_OK);
    cf_key_destroy(&key);
    return cert;
}

static void test_usage(void **state)
{
    (void) state;
    time_t now = time(NULL);
    cf_cert_t *cert = s_issue(now, 90);
    cf_agent_renew_state_t st;
    char dir[512];
    cf_test_tmpdir("agent_renew", dir, sizeof(dir));
    assert_int_equal(cf_agent_renew_load(dir, &st, NULL), CF_OK); /* none yet */
    assert_string_equal(st.state, "none");
    assert_int_equal(cf_agent_renew_check(&st, cert, 30, now), 0);
    assert_string_equal(st.state, "ok");
    /* 90 days, N = 30: due at most 30 days before the end, jittered earlier by < 48 h */
    assert_true(st.due_at <= (int64_t) (cf_cert_not_after(cert) - 30 * 86400));
    assert_true(st.due_at > (int64_t) (cf_cert_not_after(cert) - 32 * 86400));
    assert_int_equal(cf_agent_renew_check(&st, cert, 30, (time_t) st.due_at), 1);
    assert_string_equal(st.state, "due");
    assert_int_equal(cf_agent_renew_save(dir, &st, NULL), CF_OK);
    cf_agent_renew_state_t back;
    assert_int_equal(cf_agent_renew_load(dir, &back, NULL), CF_OK);
    assert_memory_equal(&back, &st, sizeof(st));
    cf_cert_destroy(&cert);
}

/* Table: lifetime, N, moment (share of the lifetime) -> due or not. */
static void test_due_table(void **state)
{
    (void) state;
    static const struct {
        unsigned days, n;
        double at; /* share of the lifetime gone */
        int due;
    } cases[] = {
        {90, 30, 0.10, 0},  {90, 30, 0.70, 1},   {90, 30, 0.60, 0}, /* 2/3 and N = 30 days agree */
        {365, 30, 0.70, 1},                                         /* 2/3 of a year comes first */
        {365, 30, 0.60, 0}, {3, 30, 0.50, 0},                       /* N over the life: 2/3 rule */
        {3, 30, 0.70, 1},   {365, 200, 0.50, 1},                    /* N = 200 days before */
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        time_t start = time(NULL) - 10;
        cf_cert_t *cert = s_issue(start, cases[c].days);
        time_t life = cf_cert_not_after(cert) - cf_cert_not_before(cert);
        time_t at = cf_cert_not_before(cert) + (time_t) ((double) life * cases[c].at);
        cf_agent_renew_state_t st;
        memset(&st, 0, sizeof(st));
        assert_int_equal(cf_agent_renew_check(&st, cert, cases[c].n, at), cases[c].due);
        assert_string_equal(st.state, cases[c].due ? "due" : "ok");
        cf_cert_destroy(&cert);
    }
    cf_agent_renew_state_t st;
    memset(&st, 0, sizeof(st));
    assert_int_equal(cf_agent_renew_check(&st, NULL, 30, time(NULL)), 0);
    assert_string_equal(st.state, "none");
}

/* Failures count, keep their reason, back off with growing gaps; a success resets. */
static void test_failures_back_off(void **state)
{
    (void) state;
    time_t now = time(NULL);
    cf_cert_t *cert = s_issue(now - 80 * 86400, 90);
    cf_agent_renew_state_t st;
    memset(&st, 0, sizeof(st));
    assert_int_equal(cf_agent_renew_check(&st, cert, 30, now), 1);
    cf_why_t why = {"enroll at srv: HTTP 503: busy"};
    int64_t gap_max = 0;
    for (int k = 0; k < 20; k++) {
        cf_agent_renew_record(&st, CF_ERR_POLICY, &why, now);
        assert_int_equal(st.failures, (unsigned) k + 1);
        assert_string_equal(st.state, "failing");
        assert_string_equal(st.last_error, why.text);
        int64_t gap = st.next_try - (int64_t) now;
        assert_true(gap >= CF_AGENT_RENEW_RETRY_MS / 2000);
        assert_true(gap <= CF_AGENT_RENEW_MAX_MS / 1000 + 1);
        gap_max = gap > gap_max ? gap : gap_max;
        /* not retried before next_try, retried after; still failing */
        assert_int_equal(cf_agent_renew_check(&st, cert, 30, now), 0);
        assert_int_equal(cf_agent_renew_check(&st, cert, 30, (time_t) st.next_try), 1);
        assert_string_equal(st.state, "failing");
    }
    assert_true(gap_max >= CF_AGENT_RENEW_MAX_MS / 2000); /* it grew to the cap */
    assert_int_equal(st.attempts, 20);
    cf_agent_renew_record(&st, CF_OK, NULL, now);
    assert_string_equal(st.state, "ok");
    assert_int_equal(st.failures, 0);
    assert_int_equal(st.renewed, 1);
    assert_int_equal(st.next_try, 0);
    assert_string_equal(st.last_error, "");
    cf_cert_destroy(&cert);
}

static void test_bad_state_file(void **state)
{
    (void) state;
    static const char *bad[] = {"", "{}", "[1]", "{\"state\":\"ok\"}",
                                "{\"state\":\"ok\",\"failures\":-1,\"attempts\":0,\"renewed\":0,"
                                "\"due_at\":0,\"next_try\":0,\"last_success\":0,"
                                "\"last_error\":\"\",\"backoff_ms\":0}"};
    char dir[512], path[600];
    cf_test_tmpdir("agent_renew_bad", dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/%s", dir, CF_AGENT_RENEW_FILE);
    for (size_t c = 0; c < sizeof(bad) / sizeof(bad[0]); c++) {
        cf_test_write_file(path, bad[c], strlen(bad[c]));
        cf_agent_renew_state_t st;
        cf_why_t why = {""};
        assert_int_equal(cf_agent_renew_load(dir, &st, &why), CF_ERR_CORRUPT);
        assert_string_equal(st.state, "none");
    }
    assert_int_equal(cf_agent_renew_load(dir, NULL, NULL), CF_ERR_INVALID);
}

/* No server: the renewal fails with a reason and installs nothing. */
static void test_renew_without_server(void **state)
{
    (void) state;
    char dir[512];
    cf_test_tmpdir("agent_renew_none", dir, sizeof(dir));
    unsigned char pub[CF_CURVE_KEY_LEN];
    memset(pub, 9, sizeof(pub));
    cf_agent_http_t h = {.alias = "localhost", .host = "127.0.0.1", .port = 9, .timeout_ms = 2000};
    cf_agent_renew_req_t req = {.dir = dir, .id = "agent-r", .curve_pub = pub, .http = &h};
    cf_why_t why = {""};
    assert_int_equal(cf_agent_renew_now(&req, NULL, &why), CF_ERR_IO);
    assert_true(why.text[0] != '\0');
    assert_int_equal(cf_test_sh("test -z \"$(ls -A '%s')\"", dir), 0);
    req.id = "Not An Id";
    assert_int_equal(cf_agent_renew_now(&req, NULL, &why), CF_ERR_INVALID);
    assert_int_equal(cf_agent_renew_now(NULL, NULL, &why), CF_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_due_table),
        cmocka_unit_test(test_failures_back_off),
        cmocka_unit_test(test_bad_state_file),
        cmocka_unit_test(test_renew_without_server),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
