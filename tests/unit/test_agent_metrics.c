/*  test_agent_metrics - the agent's Prometheus text file: every metric with HELP and TYPE,
    the renewal state as one-hot gauge, the atomic write, refusals  */
#include "cf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cf_agent_metrics.h"

static void test_usage(void **state)
{
    (void) state;
    char dir[512], path[600];
    cf_test_tmpdir("agent_metrics", dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/cf-agent.prom", dir);
    cf_agent_metrics_t m = {.checkins_ok = 7,
                            .checkins_failed = 2,
                            .renewals_ok = 1,
                            .renewals_failed = 3,
                            .jobs_installed = 4,
                            .jobs_failed = 5,
                            .last_checkin = 1764170000,
                            .cert_expiry = 1795706000,
                            .renew_state = "failing",
                            .renew_failures = 3,
                            .renew_next_try = 1764173600,
                            .link_up = 1,
                            .trims = 2,
                            .trimmed_kib = 1500};
    cf_why_t why = {""};
    assert_int_equal(cf_agent_metrics_write(path, &m, &why), CF_OK);
    size_t len = 0;
    char *text = cf_test_read_file(path, &len);
    static const char *const want[] = {
        "# TYPE cf_agent_checkins_total counter\n",
        "cf_agent_checkins_total{result=\"ok\"} 7\n",
        "cf_agent_checkins_total{result=\"failed\"} 2\n",
        "cf_agent_renewals_total{result=\"ok\"} 1\n",
        "cf_agent_renewals_total{result=\"failed\"} 3\n",
        "cf_agent_jobs_total{outcome=\"installed\"} 4\n",
        "cf_agent_jobs_total{outcome=\"failed\"} 5\n",
        "cf_agent_renewal_state{state=\"ok\"} 0\n",
        "cf_agent_renewal_state{state=\"failing\"} 1\n",
        "cf_agent_renewal_failures 3\n",
        "cf_agent_renewal_next_try_timestamp_seconds 1764173600\n",
        "cf_agent_cert_present 1\n",
        "# TYPE cf_agent_cert_expiry_timestamp_seconds gauge\n",
        "cf_agent_cert_expiry_timestamp_seconds 1795706000\n",
        "cf_agent_last_checkin_timestamp_seconds 1764170000\n",
        "cf_agent_broker_link_up 1\n",
        "cf_agent_memory_trims_total 2\n",
        "cf_agent_memory_given_back_bytes_total 1536000\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!strstr(text, want[i]))
            fail_msg("missing: %s in\n%s", want[i], text);
    /* every sample has its HELP and TYPE lines; the file ends with a newline */
    assert_int_equal(text[len - 1], '\n');
    assert_int_equal(
        cf_test_sh("awk '/^# HELP/{h[$3]=1} /^# TYPE/{t[$3]=1} !/^#/{split($1,a,\"{\");"
                   " if(!h[a[1]]||!t[a[1]]) bad=1} END{exit bad}' '%s'",
                   path),
        0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    /* no temporary file stays next to it (the collector reads *.prom only, but still) */
    assert_int_equal(cf_test_sh("test $(ls '%s' | wc -l) -eq 1", dir), 0);
    free(text);
}

/* Without a certificate or a link those metrics are left out; NULL state is "none". */
static void test_no_cert_no_link(void **state)
{
    (void) state;
    cf_agent_metrics_t m = {.link_up = -1};
    char buf[CF_AGENT_METRICS_MAX];
    size_t len = 0;
    assert_int_equal(cf_agent_metrics_format(&m, buf, sizeof(buf), &len), CF_OK);
    assert_int_equal(strlen(buf), len);
    assert_null(strstr(buf, "cf_agent_cert_expiry_timestamp_seconds"));
    assert_null(strstr(buf, "cf_agent_broker_link_up"));
    assert_non_null(strstr(buf, "cf_agent_cert_present 0\n"));
    assert_non_null(strstr(buf, "cf_agent_renewal_state{state=\"none\"} 1\n"));
    assert_non_null(strstr(buf, "cf_agent_renewal_state{state=\"ok\"} 0\n"));
    m.link_up = 0;
    assert_int_equal(cf_agent_metrics_format(&m, buf, sizeof(buf), &len), CF_OK);
    assert_non_null(strstr(buf, "cf_agent_broker_link_up 0\n"));
}

static void test_refusals(void **state)
{
    (void) state;
    cf_agent_metrics_t m = {.link_up = 1, .cert_expiry = 1};
    char buf[CF_AGENT_METRICS_MAX];
    size_t len = 7;
    assert_int_equal(cf_agent_metrics_format(NULL, buf, sizeof(buf), &len), CF_ERR_INVALID);
    assert_int_equal(cf_agent_metrics_format(&m, NULL, sizeof(buf), &len), CF_ERR_INVALID);
    assert_int_equal(cf_agent_metrics_format(&m, buf, 0, &len), CF_ERR_INVALID);
    assert_int_equal(cf_agent_metrics_format(&m, buf, sizeof(buf), NULL), CF_ERR_INVALID);
    assert_int_equal(cf_agent_metrics_format(&m, buf, 200, &len), CF_ERR_TOOBIG);
    assert_string_equal(buf, "");
    assert_int_equal(len, 0);
    assert_int_equal(cf_agent_metrics_write(NULL, &m, NULL), CF_ERR_INVALID);
    cf_why_t why = {""};
    assert_int_equal(cf_agent_metrics_write("/nonexistent-dir/x.prom", &m, &why), CF_ERR_IO);
    assert_true(why.text[0] != '\0');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_no_cert_no_link),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
