/*  test_agent - the real cf-agent against two real cf-server processes on one redis-server:
    server choice by IP range, favorite and failover when servers stop; check-in records the
    agent secure; an install job from the check-in answer is installed and reported; a
    renew_csr job and a renewal that falls due give a new certificate by CSR; a reissue job
    a new certificate for the key the agent holds  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "cf_agent_checkin.h"
#include "cf_csr.h"
#include "cf_curve.h"
#include "cf_file.h"
#include "cf_db_enroll.h"
#include "cf_itest_fleet.h"
#include "cf_itest_real.h"
#include "cf_key.h"
#include "cf_mem.h"

/* 1 when the certificate recorded for agent id (cf_db_enroll: its :cert key) has
   fingerprint fp. */
static int s_enroll_fp_is(int port, const char *id, const char *fp)
{
    cf_store_t *store = cf_itest_store_at(port, NULL);
    cf_db_enrolled_t e;
    int ok = store && cf_db_enroll_get(store, id, &e) == CF_OK;
    ok = ok && strcmp(e.fp, fp) == 0;
    if (store)
        cf_db_enrolled_clear(&e);
    cf_store_destroy(&store);
    return ok;
}

static cf_itest_fleet_t *const s = &cf_itest_fleet;
static char s_token[128];

#define s_dir        cf_itest_real_dir
#define s_run        cf_itest_real_run
#define s_state      cf_itest_real_state
#define s_fpr        cf_itest_real_fpr
#define s_enroll(id) cf_itest_real_enroll(id, s_token, NULL)

static int s_setup(void **state)
{
    (void) state;
    cf_itest_fleet_setup("agent");
    char out[CF_ITEST_FLEET_BODY];
    assert_int_equal(cf_itest_fleet_admin(&s->a, "POST", "/api/v1/enroll-tokens",
                                          "{\"uses\":50,\"ttl\":3600}", out),
                     201);
    json_t *j = cf_itest_fleet_json(out);
    snprintf(s_token, sizeof(s_token), "%s", json_string_value(json_object_get(j, "token")));
    json_decref(j);
    return 0;
}

/* POST /jobs with body; the job id. */
static void s_job(const char *body, char id[33])
{
    char out[CF_ITEST_FLEET_BODY];
    assert_int_equal(cf_itest_fleet_admin(&s->a, "POST", "/api/v1/jobs", body, out), 201);
    json_t *j = cf_itest_fleet_json(out);
    snprintf(id, 33, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
}

/* The count of state in job id. */
static json_int_t s_count(const char *id, const char *state)
{
    char out[CF_ITEST_FLEET_BODY], path[200], key[64];
    snprintf(path, sizeof(path), "/api/v1/jobs/%s", id);
    assert_int_equal(cf_itest_fleet_get(&s->a, path, out), 200);
    snprintf(key, sizeof(key), "counts/%s", state);
    return cf_itest_fleet_ji(out, key);
}

static void test_choice_by_range_and_secure(void **state)
{
    (void) state;
    s_enroll("ag-7");
    s_enroll("ag-200");
    assert_int_equal(s_run("ag-7", "127.0.0.7"), 0);
    assert_string_equal(s_state("ag-7", "status.json", "server"), "srv-a");
    assert_string_equal(s_state("ag-7", "status.json", "reason"), "ip-range 127.0.0.0/25");
    assert_string_equal(s_state("ag-7", "status.json", "lock"), "secure");
    assert_int_equal(s_run("ag-200", "127.0.0.200"), 0);
    assert_string_equal(s_state("ag-200", "status.json", "server"), "srv-b");
    /* the server recorded both secure, from the addresses they used */
    char out[CF_ITEST_FLEET_BODY];
    assert_int_equal(cf_itest_fleet_get(&s->a, "/api/v1/agents/ag-7", out), 200);
    cf_itest_fleet_is(out, "lock", "secure");
    cf_itest_fleet_is(out, "last_addr", "127.0.0.7");
    /* the list from the answer is cached for failover */
    assert_string_equal(s_state("ag-7", CF_AGENT_CACHE_FILE, "seen_addr"), "127.0.0.7");
}

/* Outside every range: the highest priority (srv-b, 20). */
static void test_choice_by_priority(void **state)
{
    (void) state;
    s_enroll("ag-far");
    assert_int_equal(s_run("ag-far", "127.0.3.9"), 0);
    assert_string_equal(s_state("ag-far", "status.json", "server"), "srv-b");
    assert_string_equal(s_state("ag-far", "status.json", "reason"), "priority 20");
}

static void test_favorite(void **state)
{
    (void) state;
    char out[CF_ITEST_FLEET_BODY];
    assert_int_equal(cf_itest_fleet_admin(&s->a, "PUT", "/api/v1/agents/favorite",
                                          "{\"agents\":[\"ag-7\"],\"server\":\"srv-b\"}", out),
                     200);
    assert_int_equal(s_run("ag-7", "127.0.0.7"), 0); /* learns it at this check-in */
    assert_string_equal(s_state("ag-7", CF_AGENT_CACHE_FILE, "favorite"), "srv-b");
    assert_int_equal(s_run("ag-7", "127.0.0.7"), 0);
    assert_string_equal(s_state("ag-7", "status.json", "server"), "srv-b");
    assert_string_equal(s_state("ag-7", "status.json", "reason"), "favorite");
}

static void test_install_job(void **state)
{
    (void) state;
    char job[33], old[65], path[800];
    snprintf(old, sizeof(old), "%s", s_fpr("ag-200"));
    s_job("{\"type\":\"install_cert\",\"agents\":[\"ag-200\"],\"ttl\":600}", job);
    assert_int_equal(s_run("ag-200", "127.0.0.200"), 0);
    assert_string_not_equal(s_fpr("ag-200"), old);
    assert_int_equal(s_count(job, "installed"), 1);
    /* installed atomically: the previous pair is gone, no temporary file left */
    assert_int_equal(
        cf_test_sh("cd '%s' && ! ls | grep -q -e '[.]prev$' -e '[.]new$' -e '[.]tmp[.]'",
                   s_dir("ag-200")),
        0);
    snprintf(path, sizeof(path), "%s/key.pem", s_dir("ag-200"));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* the same job is not applied again: the next round reports nothing new */
    assert_int_equal(s_run("ag-200", "127.0.0.200"), 0);
    assert_int_equal(s_count(job, "installed"), 1);
    assert_int_equal(s_count(job, "failed"), 0);
}

static void test_renew_job(void **state)
{
    (void) state;
    char job[33], old[65];
    snprintf(old, sizeof(old), "%s", s_fpr("ag-far"));
    s_job("{\"type\":\"renew_csr\",\"agents\":[\"ag-far\"],\"ttl\":600}", job);
    assert_int_equal(s_run("ag-far", "127.0.3.9"), 0);
    assert_string_not_equal(s_fpr("ag-far"), old);
    assert_int_equal(s_count(job, "installed"), 1);
    assert_string_equal(s_state("ag-far", "renew.json", "renewed"), "1");
}

/* reissue: the server issues a new certificate for the key ag-far holds (no key travels);
   the agent checks it, installs it (its handshake check with the new pair passes), and its
   next check-in, a mutual-TLS handshake, presents it. ag-200 holds the shared pair of an
   install job, not the key its own certificate was issued for: it refuses, nothing
   changes. */
static void test_reissue_job(void **state)
{
    (void) state;
    char job[33], bad[33], old[65], now_fp[65], path[800], out[CF_ITEST_FLEET_BODY];
    snprintf(old, sizeof(old), "%s", s_fpr("ag-far"));
    snprintf(path, sizeof(path), "%s/key.pem", s_dir("ag-far"));
    size_t klen = 0, klen2 = 0;
    char *key = cf_test_read_file(path, &klen);
    s_job("{\"type\":\"reissue\",\"agents\":[\"ag-far\"],\"ttl\":600}", job);
    assert_int_equal(s_run("ag-far", "127.0.3.9"), 0);
    snprintf(now_fp, sizeof(now_fp), "%s", s_fpr("ag-far"));
    assert_string_not_equal(now_fp, old);
    assert_int_equal(s_count(job, "installed"), 1);
    char *key2 = cf_test_read_file(path, &klen2);
    assert_int_equal(klen, klen2);
    assert_memory_equal(key, key2, klen); /* the same key */
    free(key);
    free(key2);
    assert_true(s_enroll_fp_is(s->redis.port, "ag-far", now_fp));
    assert_true(cf_itest_redis_reply_has(s->redis.port, "1", "HEXISTS cf:archive %s", old));
    assert_int_equal(s_run("ag-far", "127.0.3.9"), 0);
    assert_int_equal(cf_itest_fleet_get(&s->a, "/api/v1/agents/ag-far", out), 200);
    cf_itest_fleet_is(out, "cert_fingerprint", now_fp);
    cf_itest_fleet_is(out, "lock", "secure");
    /* not the key the agent holds: refused with the reason, the pair in use stays */
    snprintf(old, sizeof(old), "%s", s_fpr("ag-200"));
    s_job("{\"type\":\"reissue\",\"agents\":[\"ag-200\"],\"ttl\":600}", bad);
    assert_int_equal(s_run("ag-200", "127.0.0.200"), 0);
    assert_int_equal(s_count(bad, "failed"), 1);
    assert_string_equal(s_fpr("ag-200"), old);
    snprintf(path, sizeof(path), "/api/v1/jobs/%s/agents?state=failed", bad);
    assert_int_equal(cf_itest_fleet_get(&s->a, path, out), 200);
    assert_non_null(strstr(out, "not for the key this agent holds"));
}

/* A certificate two thirds through its life renews by itself at the next round. */
static void test_renew_due(void **state)
{
    (void) state;
    s_enroll("ag-9");
    cf_itest_cert_t c;
    cf_itest_fleet_issue("ag-9", time(NULL) - 21 * 86400, 30, "ag9-old", &c);
    assert_int_equal(cf_test_sh("cp '%s' '%s/cert.pem' && cp '%s' '%s/key.pem'", c.pem,
                                s_dir("ag-9"), c.key, s_dir("ag-9")),
                     0);
    assert_int_equal(s_run("ag-9", "127.0.0.9"), 0);
    assert_string_not_equal(s_fpr("ag-9"), c.fp);
    assert_string_equal(s_state("ag-9", "renew.json", "state"), "ok");
    assert_string_equal(s_state("ag-9", "renew.json", "renewed"), "1");
    cf_itest_cert_free(&c);
}

/* Stopped by the fault switch after writing, then after renaming: each restart recovers to
   the previous certificate, the job (never reported) comes again and is installed. */
static void test_crash_then_install(void **state)
{
    (void) state;
    const char *bin = getenv("CF_BIN_DIR");
    char job[33], old[65];
    s_enroll("ag-c");
    assert_int_equal(s_run("ag-c", "127.0.0.11"), 0);
    snprintf(old, sizeof(old), "%s", s_fpr("ag-c"));
    s_job("{\"type\":\"install_cert\",\"agents\":[\"ag-c\"],\"ttl\":600}", job);
    static const char *points[] = {"after-write", "after-rename"};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(cf_test_sh("CF_FAULT=%s '%s/agent/cf-agent' run --once --state-dir '%s' "
                                    "--source 127.0.0.11 >> '%s/agent-ag-c.log' 2>&1",
                                    points[i], bin && *bin ? bin : ".", s_dir("ag-c"), s->dir),
                         86);
        assert_int_equal(cf_test_sh("ls '%s' | grep -q -e '[.]prev$' -e '[.]new$'", s_dir("ag-c")),
                         0); /* stopped half-way */
        assert_int_equal(s_count(job, "installed"), 0);
    }
    assert_int_equal(s_run("ag-c", "127.0.0.11"), 0);
    assert_string_not_equal(s_fpr("ag-c"), old);
    assert_int_equal(s_count(job, "installed"), 1);
    assert_int_equal(
        cf_test_sh("cd '%s' && ! ls | grep -q -e '[.]prev$' -e '[.]new$' -e '[.]tmp[.]'",
                   s_dir("ag-c")),
        0);
}

/* An agent enrolled without a certificate (push mode) checks in over the plain port, is
   insecure, and gets its certificate by an install job. */
static void test_push_install(void **state)
{
    (void) state;
    char job[33], out[CF_ITEST_FLEET_BODY], path[800];
    cf_itest_real_enroll_ex("ag-p", s_token, NULL, 1);
    assert_int_equal(s_run("ag-p", "127.0.0.12"), 0);
    assert_string_equal(s_state("ag-p", "status.json", "lock"), "insecure");
    s_job("{\"type\":\"install_cert\",\"agents\":[\"ag-p\"],\"ttl\":600}", job);
    assert_int_equal(s_run("ag-p", "127.0.0.12"), 0);
    assert_int_equal(s_count(job, "installed"), 1);
    snprintf(path, sizeof(path), "%s/cert.pem", s_dir("ag-p"));
    assert_int_equal(access(path, R_OK), 0);
    assert_int_equal(s_run("ag-p", "127.0.0.12"), 0);
    assert_string_equal(s_state("ag-p", "status.json", "lock"), "secure");
    assert_int_equal(cf_itest_fleet_get(&s->a, "/api/v1/agents/ag-p", out), 200);
    cf_itest_fleet_is(out, "lock", "secure");
}

/* The whole path: a package from the API, cf-agent install, cf-agent enroll (token, CSR),
   cf-agent run: checked in secure. */
static void test_package_install_enroll_run(void **state)
{
    (void) state;
    const char *bin = getenv("CF_BIN_DIR");
    char out[CF_ITEST_FLEET_BODY], pkg[800], dir[800];
    assert_int_equal(
        cf_itest_fleet_admin(&s->a, "POST", "/api/v1/packages", "{\"token_uses\":1}", out), 200);
    snprintf(pkg, sizeof(pkg), "%s/pkg-e2e.json", s->dir);
    cf_test_write_file(pkg, out, strlen(out));
    snprintf(dir, sizeof(dir), "%s", s_dir("ag-e2e"));
    assert_int_equal(cf_test_sh("'%s/agent/cf-agent' install --bundle '%s' --state-dir '%s' "
                                "--id ag-e2e >> '%s/agent-ag-e2e.log' 2>&1",
                                bin && *bin ? bin : ".", pkg, dir, s->dir),
                     0);
    assert_int_equal(cf_test_sh("'%s/agent/cf-agent' enroll --state-dir '%s' "
                                ">> '%s/agent-ag-e2e.log' 2>&1",
                                bin && *bin ? bin : ".", dir, s->dir),
                     0);
    assert_int_equal(s_run("ag-e2e", "127.0.0.13"), 0);
    assert_string_equal(s_state("ag-e2e", "status.json", "lock"), "secure");
    assert_string_equal(s_state("ag-e2e", "status.json", "server"), "srv-a");
}

/* cf-agent status shows id, server and reason, certificate, expiry, renewal, last job. */
static void test_status(void **state)
{
    (void) state;
    const char *bin = getenv("CF_BIN_DIR");
    char out[800];
    snprintf(out, sizeof(out), "%s/status-ag-200.txt", s->dir);
    assert_int_equal(cf_test_sh("'%s/agent/cf-agent' status --state-dir '%s' > '%s'",
                                bin && *bin ? bin : ".", s_dir("ag-200"), out),
                     0);
    size_t len = 0;
    char *text = cf_test_read_file(out, &len);
    char want[200];
    snprintf(want, sizeof(want), "certificate: %s\n", s_fpr("ag-200"));
    assert_non_null(strstr(text, "id: ag-200\n"));
    assert_non_null(strstr(text, "server: srv-b (ip-range 127.0.0.128/25)\n"));
    assert_non_null(strstr(text, want));
    assert_non_null(strstr(text, "expires: "));
    assert_non_null(strstr(text, "renewal: ok"));
    assert_non_null(strstr(text, " installed\n")); /* the last job */
    free(text);
    /* exit codes: a state directory that is not one, a bad command line */
    assert_int_equal(cf_test_sh("'%s/agent/cf-agent' status --state-dir '%s/none' 2>/dev/null",
                                bin && *bin ? bin : ".", s->dir),
                     3);
    assert_int_equal(
        cf_test_sh("'%s/agent/cf-agent' run --bogus 2>/dev/null", bin && *bin ? bin : "."), 2);
}

/* The daemon checks in at its interval, writes its metrics file, and stops cleanly on
   SIGTERM. */
static int s_checked_in_twice(void *arg)
{
    (void) arg;
    char path[800];
    snprintf(path, sizeof(path), "%s/agent-ag-9.log", s->dir);
    return cf_test_sh("test $(grep -c 'checkin=ok' '%s') -ge 3", path) == 0;
}

/* The metrics file counts at least two check-ins taken. */
static int s_metrics_two(void *arg)
{
    return cf_test_sh("grep -qE '^cf_agent_checkins_total[{]result=\"ok\"[}] ([2-9]|[1-9][0-9]+)$' "
                      "'%s'",
                      (const char *) arg) == 0;
}

static void test_daemon_sigterm(void **state)
{
    (void) state;
    const char *bin = getenv("CF_BIN_DIR");
    char exe[700], log[800], prom[800];
    snprintf(exe, sizeof(exe), "%s/agent/cf-agent", bin && *bin ? bin : ".");
    snprintf(log, sizeof(log), "%s/agent-ag-9.log", s->dir);
    pid_t pid = 0;
    snprintf(prom, sizeof(prom), "%s/ag-9.prom", s->dir);
    char *argv[] = {exe,         "run",        "--state-dir", (char *) s_dir("ag-9"), "--source",
                    "127.0.0.9", "--interval", "1",           "--metrics-file",       prom,
                    NULL};
    assert_int_equal(cf_itest_spawn(argv, log, &pid), CF_OK);
    /* one check-in ran before (test_renew_due): two more at a 1 s interval */
    assert_true(cf_test_wait_until(s_checked_in_twice, NULL, 15000));
    /* the metrics file: check-ins counted, the certificate's expiry, renewal state ok */
    assert_true(cf_test_wait_until(s_metrics_two, prom, 5000));
    cf_cert_t *c = NULL;
    size_t len = 0;
    char pem_path[800], want[200];
    snprintf(pem_path, sizeof(pem_path), "%s/cert.pem", s_dir("ag-9"));
    char *pem = cf_test_read_file(pem_path, &len);
    assert_int_equal(cf_cert_parse(pem, len, &c), CF_OK);
    snprintf(want, sizeof(want), "cf_agent_cert_expiry_timestamp_seconds %lld",
             (long long) cf_cert_not_after(c));
    assert_int_equal(cf_test_sh("grep -qx '%s' '%s'", want, prom), 0);
    assert_int_equal(cf_test_sh("grep -qx 'cf_agent_renewal_state{state=\"ok\"} 1' '%s' && "
                                "grep -qx 'cf_agent_checkins_total{result=\"failed\"} 0' '%s' && "
                                "grep -q '^cf_agent_last_checkin_timestamp_seconds [1-9]' '%s'",
                                prom, prom, prom),
                     0);
    cf_cert_destroy(&c);
    free(pem);
    kill(pid, SIGTERM);
    int code = cf_itest_exit_code(pid, 10000);
    if (code < 0)
        assert_int_equal(cf_itest_kill(pid, SIGKILL), CF_OK);
    assert_int_equal(code, 0);
    assert_int_equal(cf_test_sh("grep -q 'agent=ag-9 stopped' '%s'", log), 0);
}

/* Favorite srv-b stopped: the IP-range server; both stopped: the agent says it failed. */
static void test_failover(void **state)
{
    (void) state;
    cf_itest_server_stop(&s->b, SIGTERM);
    assert_int_equal(s_run("ag-7", "127.0.0.7"), 0);
    assert_string_equal(s_state("ag-7", "status.json", "server"), "srv-a");
    assert_string_equal(s_state("ag-7", "status.json", "reason"), "ip-range 127.0.0.0/25");
    cf_itest_server_stop(&s->a, SIGTERM);
    assert_int_equal(s_run("ag-7", "127.0.0.7"), 1);
    /* srv-b back: the favorite again */
    cf_itest_fleet_start(&s->b, "srv-b", "20", "127.0.0.128-127.0.0.255", 0, NULL);
    char path[800];
    snprintf(path, sizeof(path), "%s/%s", s_dir("ag-7"), CF_AGENT_CACHE_FILE);
    /* the restarted server listens on a new port: the cached list must learn it, as an
       operator's edited server record would teach it; here the test edits the cache */
    assert_int_equal(cf_test_sh("sed -i 's/\"alias\":\"srv-b\",\"host\":\"127.0.0.1\","
                                "\"port\":[0-9]*/\"alias\":\"srv-b\",\"host\":\"127.0.0.1\","
                                "\"port\":%d/' '%s'",
                                s->b.port, path),
                     0);
    /* srv-a's answer may list srv-b off line (its list is at most 3 s old, and srv-b took its
       heartbeat away when it stopped): the flaky end of this test in CI. With every server
       marked on line gone, the agent tries the ones marked off line */
    assert_int_equal(
        cf_test_sh("sed -i 's/\\(\"alias\":\"srv-b\"[^}]*\"online\":\\)true/\\1false/' "
                   "'%s' && grep -q '\"online\":false' '%s'",
                   path, path),
        0);
    assert_int_equal(s_run("ag-7", "127.0.0.7"), 0);
    assert_string_equal(s_state("ag-7", "status.json", "server"), "srv-b");
    assert_int_equal(cf_test_sh("grep -q 'marked-off-line=1' '%s/agent-ag-7.log'", s->dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_choice_by_range_and_secure),
        cmocka_unit_test(test_choice_by_priority),
        cmocka_unit_test(test_favorite),
        cmocka_unit_test(test_install_job),
        cmocka_unit_test(test_renew_job),
        cmocka_unit_test(test_renew_due),
        cmocka_unit_test(test_crash_then_install),
        cmocka_unit_test(test_push_install),
        cmocka_unit_test(test_package_install_enroll_run),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_reissue_job), /* after test_status: ag-200's last job fails */
        cmocka_unit_test(test_daemon_sigterm),
        cmocka_unit_test(test_failover),
    };
    return cmocka_run_group_tests(tests, s_setup, cf_itest_fleet_teardown);
}
