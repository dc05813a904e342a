/*  test_agent_rollback - a failed handshake check rolls back, end to end: an install job
    brings the shared agent certificate, which the operator revokes before the agent (off
    line) picks the job up; the agent installs it, its check-in with it is refused by the
    server's TLS, the previous certificate comes back, the job is reported failed with the
    reason, and the agent keeps checking in (secure) with its previous certificate; a
    renewal the server refuses shows as state failing in renew.json, cf-agent status and
    the metrics file, backs off, and succeeds once the cause is gone  */
#include "cf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cf_curve.h"
#include "cf_itest_fleet.h"
#include "cf_itest_real.h"

static cf_itest_fleet_t *const s = &cf_itest_fleet;
static char s_token[128];

static int s_setup(void **state)
{
    (void) state;
    cf_itest_fleet_setup("agent_rollback");
    char out[CF_ITEST_FLEET_BODY];
    assert_int_equal(cf_itest_fleet_admin(&s->a, "POST", "/api/v1/enroll-tokens",
                                          "{\"uses\":5,\"ttl\":3600}", out),
                     201);
    json_t *j = cf_itest_fleet_json(out);
    snprintf(s_token, sizeof(s_token), "%s", json_string_value(json_object_get(j, "token")));
    json_decref(j);
    return 0;
}

/* One round of id with a metrics file; its exit code (log: agent-<id>.log). */
static int s_round_of(const char *id, const char *prom)
{
    const char *bin = getenv("CF_BIN_DIR");
    return cf_test_sh("'%s/agent/cf-agent' run --once --state-dir '%s' --source 127.0.0.31 "
                      "--metrics-file '%s' >> '%s/agent-%s.log' 2>&1",
                      bin && *bin ? bin : ".", cf_itest_real_dir(id), prom, s->dir, id);
}

static int s_round(const char *prom)
{
    return s_round_of("ag-r1", prom);
}

static void test_revoked_install_rolls_back(void **state)
{
    (void) state;
    char out[CF_ITEST_FLEET_BODY], body[200], job[33], old[65], prom[800], path[200];
    snprintf(prom, sizeof(prom), "%s/ag-r1.prom", s->dir);
    cf_itest_real_enroll("ag-r1", s_token, NULL);
    assert_int_equal(s_round(prom), 0);
    snprintf(old, sizeof(old), "%s", cf_itest_real_fpr("ag-r1"));
    assert_string_equal(cf_itest_real_state("ag-r1", "status.json", "lock"), "secure");
    /* while the agent is off line: a job with the shared certificate, then that
       certificate revoked (every server's TLS refuses it from now on) */
    assert_int_equal(cf_itest_fleet_admin(&s->a, "POST", "/api/v1/jobs",
                                          "{\"type\":\"install_cert\",\"agents\":[\"ag-r1\"]}",
                                          out),
                     201);
    json_t *j = cf_itest_fleet_json(out);
    snprintf(job, sizeof(job), "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    assert_int_equal(cf_itest_fleet_get(&s->a, "/api/v1/certs/agent/shared", out), 200);
    j = cf_itest_fleet_json(out);
    const char *serial = json_string_value(json_object_get(j, "serial"));
    assert_non_null(serial);
    snprintf(body, sizeof(body), "{\"serial\":\"%s\"}", serial);
    json_decref(j);
    assert_int_equal(cf_itest_fleet_admin(&s->a, "POST", "/api/v1/certs/revoke", body, out), 200);
    /* the servers load the revoked set when told (pub/sub): revoke a certificate the test
       holds too and wait until srv-a refuses it; the set it loaded then holds both */
    snprintf(body, sizeof(body), "{\"serial\":\"%s\"}", s->agent5.serial);
    assert_int_equal(cf_itest_fleet_admin(&s->a, "POST", "/api/v1/certs/revoke", body, out), 200);
    cf_itest_fleet_try_t refused = {&s->a, &s->agent5, 0};
    assert_true(cf_test_wait_until(cf_itest_fleet_try, &refused, 10000));
    /* the round: installed, refused at the handshake check, rolled back, reported failed;
       the check-in itself (with the previous certificate) succeeded */
    assert_int_equal(s_round(prom), 0);
    assert_string_equal(cf_itest_real_fpr("ag-r1"), old);
    /* a TLS refusal ends the check (a refusal whose alert was lost to the server's reset
       looks like no answer, and the next try sees it: docs/agent-run.md) */
    assert_int_equal(cf_test_sh("grep -q 'check=refused server=srv-.*alert certificate revoked' "
                                "'%s/agent-ag-r1.log'",
                                s->dir),
                     0);
    assert_int_equal(
        cf_test_sh("cd '%s' && ! ls | grep -q -e '[.]prev$' -e '[.]new$' -e '[.]tmp[.]'",
                   cf_itest_real_dir("ag-r1")),
        0);
    snprintf(path, sizeof(path), "/api/v1/jobs/%s", job);
    assert_int_equal(cf_itest_fleet_get(&s->a, path, out), 200);
    assert_int_equal(cf_itest_fleet_ji(out, "counts/failed"), 1);
    assert_int_equal(cf_itest_fleet_ji(out, "counts/installed"), 0);
    snprintf(path, sizeof(path), "/api/v1/jobs/%s/agents?state=failed", job);
    assert_int_equal(cf_itest_fleet_get(&s->a, path, out), 200);
    j = cf_itest_fleet_json(out);
    const char *reason = json_string_value(
        json_object_get(json_array_get(json_object_get(j, "agents"), 0), "reason"));
    assert_non_null(reason);
    if (!strstr(reason, "failed the handshake check") || !strstr(reason, "previous one is kept"))
        fail_msg("reason: %s", reason);
    json_decref(j);
    assert_int_equal(cf_test_sh("grep -qx 'cf_agent_jobs_total{outcome=\"failed\"} 1' '%s'", prom),
                     0);
    /* and it goes on with the previous certificate: checked in, secure, same fingerprint */
    assert_int_equal(s_round(prom), 0);
    assert_string_equal(cf_itest_real_state("ag-r1", "status.json", "lock"), "secure");
    assert_int_equal(cf_itest_fleet_get(&s->a, "/api/v1/agents/ag-r1", out), 200);
    cf_itest_fleet_is(out, "lock", "secure");
    cf_itest_fleet_is(out, "cert_fingerprint", old);
    /* the failed job is not run again by a later round */
    assert_int_equal(
        cf_test_sh("test $(grep -c 'comp=cf-agent job=%s outcome=' '%s/agent-ag-r1.log') -eq 1",
                   job, s->dir),
        0);
}

/* The text of cf-agent status for id. */
static char *s_status(const char *id)
{
    const char *bin = getenv("CF_BIN_DIR");
    char out[800];
    snprintf(out, sizeof(out), "%s/status-%s.txt", s->dir, id);
    assert_int_equal(cf_test_sh("'%s/agent/cf-agent' status --state-dir '%s' > '%s'",
                                bin && *bin ? bin : ".", cf_itest_real_dir(id), out),
                     0);
    size_t len = 0;
    return cf_test_read_file(out, &len);
}

/* A renewal the server refuses is never silent: state failing with the reason in
   renew.json, cf-agent status and the metrics file; no retry before the back-off ends;
   once the cause is gone and the back-off over, it renews. The refusal: the agent's CURVE
   key is not the one registered for its id (as after restoring an old state backup), so
   the enrollment answers 409 while check-ins with the certificate still work. */
static void test_renewal_failing_state_and_metric(void **state)
{
    (void) state;
    char prom[800], *text = NULL;
    const char *dir = cf_itest_real_dir("ag-r2");
    snprintf(prom, sizeof(prom), "%s/ag-r2.prom", s->dir);
    cf_itest_real_enroll("ag-r2", s_token, NULL);
    cf_itest_cert_t c; /* two thirds through its life: due */
    cf_itest_fleet_issue("ag-r2", time(NULL) - 21 * 86400, 30, "ag-r2-old", &c);
    assert_int_equal(cf_test_sh("cd '%s' && cp '%s' cert.pem && cp '%s' key.pem && "
                                "mv curve.key curve.key.keep && mv curve.key_secret "
                                "curve.key_secret.keep",
                                dir, c.pem, c.key),
                     0);
    cf_curve_keypair_t other;
    char path[800];
    snprintf(path, sizeof(path), "%s/curve.key", dir);
    assert_int_equal(cf_curve_keypair_new(&other), CF_OK);
    assert_int_equal(cf_curve_keypair_save(&other, path, NULL), CF_OK);
    cf_curve_keypair_wipe(&other);
    assert_int_equal(s_round_of("ag-r2", prom), 0); /* the check-in itself works */
    assert_string_equal(cf_itest_real_fpr("ag-r2"), c.fp);
    assert_string_equal(cf_itest_real_state("ag-r2", "renew.json", "state"), "failing");
    assert_string_equal(cf_itest_real_state("ag-r2", "renew.json", "failures"), "1");
    text = s_status("ag-r2");
    if (!strstr(text, "renewal: failing (failures 1, renewed 0) last error: ") ||
        !strstr(text, "HTTP 409") || !strstr(text, "renewal next try: "))
        fail_msg("status:\n%s", text);
    free(text);
    assert_int_equal(cf_test_sh("grep -qx 'cf_agent_renewal_state{state=\"failing\"} 1' '%s' && "
                                "grep -qx 'cf_agent_renewals_total{result=\"failed\"} 1' '%s' && "
                                "grep -qx 'cf_agent_renewal_failures 1' '%s' && "
                                "grep -q '^cf_agent_renewal_next_try_timestamp_seconds [1-9]' '%s'",
                                prom, prom, prom, prom),
                     0);
    /* at once again: backing off, no second attempt */
    assert_int_equal(s_round_of("ag-r2", prom), 0);
    assert_string_equal(cf_itest_real_state("ag-r2", "renew.json", "attempts"), "1");
    assert_int_equal(
        cf_test_sh("grep -qx 'cf_agent_renewal_state{state=\"failing\"} 1' '%s'", prom), 0);
    /* the right key back and the back-off over (the test moves next_try): renewed */
    assert_int_equal(cf_test_sh("cd '%s' && mv curve.key.keep curve.key && mv "
                                "curve.key_secret.keep curve.key_secret && sed -i "
                                "'s/\"next_try\":[0-9]*/\"next_try\":1/' renew.json",
                                dir),
                     0);
    assert_int_equal(s_round_of("ag-r2", prom), 0);
    assert_string_not_equal(cf_itest_real_fpr("ag-r2"), c.fp);
    assert_string_equal(cf_itest_real_state("ag-r2", "renew.json", "state"), "ok");
    assert_string_equal(cf_itest_real_state("ag-r2", "renew.json", "failures"), "0");
    assert_int_equal(cf_test_sh("grep -qx 'cf_agent_renewal_state{state=\"ok\"} 1' '%s' && "
                                "grep -qx 'cf_agent_renewals_total{result=\"ok\"} 1' '%s'",
                                prom, prom),
                     0);
    cf_itest_cert_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_revoked_install_rolls_back),
        cmocka_unit_test(test_renewal_failing_state_and_metric),
    };
    return cmocka_run_group_tests(tests, s_setup, cf_itest_fleet_teardown);
}
