/*  test_sim_rollback - cf-agent --simulate's install check end to end: a pair that fails
    its check-in is rolled back (the previous pair back in use, none for an agent that had
    none), the job reported failed with the reason, and --state-dir holds only pairs that
    passed, so a simulator started again on it presents no failed certificate  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cf_ca.h"
#include "cf_cert.h"
#include "cf_db_meta.h"
#include "cf_itest_broker.h"
#include "cf_itest_fleet.h"
#include "cf_itest_linked.h"
#include "cf_seal.h"

#define S_WAIT 90000 /* ms: the longest wait of one step */

static cf_itest_fleet_t *const s = &cf_itest_fleet;
static cf_itest_broker_t s_b;
static pid_t s_sim;
static char s_state[700]; /* the simulator's --state-dir */

/* redis-server, a cf-broker, srv-a linked to it (as test_sim), the CA, the console. */
static int s_setup(void **state)
{
    (void) state;
    signal(SIGPIPE, SIG_IGN);
    cf_itest_broker_start(&s_b, "sim_rollback", NULL, NULL, NULL, 0);
    char agents_ep[CF_CURVE_TEXT_MAX + 1];
    assert_int_equal(cf_curve_broker_format(&s_b.agents, agents_ep, sizeof(agents_ep)), CF_OK);
    const char *more[] = {"--agent-broker", agents_ep, NULL};
    cf_itest_linked_start(s, &s_b, more);
    cf_itest_fleet_issue("probe-1", 0, 30, "probe", &s->agent5);
    snprintf(s_state, sizeof(s_state), "%s/state", s->dir);
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    if (s_sim > 0 && cf_itest_kill(s_sim, SIGKILL) != CF_OK)
        fprintf(stderr, "the simulator %d did not stop\n", (int) s_sim);
    cf_itest_linked_stop(s, &s_b);
    return 0;
}

/* Start the simulator's two push-mode agents r-0 and r-1 on the state directory, checking
   in every second; its output into <dir>/<log>. */
static void s_start(const char *log, const char *pkg)
{
    const char *bin = getenv("CF_BIN_DIR");
    char exe[700], logpath[800];
    snprintf(exe, sizeof(exe), "%s/agent/cf-agent", bin && *bin ? bin : ".");
    snprintf(logpath, sizeof(logpath), "%s/%s", s->dir, log);
    char *argv[] = {exe,          "--simulate",  "2",           "--bundle",     (char *) pkg,
                    "--push",     "--id-prefix", "r-",          "--source-net", "127.0.9.0/24",
                    "--interval", "1",           "--state-dir", s_state,        NULL};
    assert_int_equal(cf_itest_spawn(argv, logpath, &s_sim), CF_OK);
}

/* SIGTERM the simulator: a clean stop is exit 0. */
static void s_stop_sim(void)
{
    assert_int_equal(kill(s_sim, SIGTERM), 0);
    int code = cf_itest_exit_code(s_sim, 20000);
    if (code >= 0)
        s_sim = 0;
    assert_int_equal(code, 0);
}

/* A condition: the log file (name in arg) has a line matching a grep -E pattern. */
typedef struct {
    const char *log;     /* file under the test directory */
    const char *pattern; /* grep -E */
} s_log_t;

static int s_log_has(void *arg)
{
    const s_log_t *l = arg;
    return cf_test_sh("grep -qE '%s' '%s/%s'", l->pattern, s->dir, l->log) == 0;
}

/* A condition: the job has at least n entries in state. */
typedef struct {
    char id[33];       /* job id */
    const char *state; /* "installed", "failed" */
    long n;            /* how many */
} s_job_t;

static int s_job_has(void *arg)
{
    const s_job_t *j = arg;
    char out[CF_ITEST_FLEET_BODY], path[100], key[40];
    snprintf(path, sizeof(path), "/api/v1/jobs/%s", j->id);
    snprintf(key, sizeof(key), "counts/%s", j->state);
    return cf_itest_fleet_get(&s->a, path, out) == 200 && cf_itest_fleet_ji(out, key) >= j->n;
}

/* POST /jobs with body into j->id, then wait for j->n entries in j->state. */
static void s_job(const char *body, s_job_t *j)
{
    char out[CF_ITEST_FLEET_BODY];
    assert_int_equal(cf_itest_fleet_admin(&s->a, "POST", "/api/v1/jobs", body, out), 201);
    json_t *r = cf_itest_fleet_json(out);
    snprintf(j->id, sizeof(j->id), "%s", json_string_value(json_object_get(r, "id")));
    json_decref(r);
    if (!cf_test_wait_until(s_job_has, j, S_WAIT)) {
        char path[100];
        snprintf(path, sizeof(path), "/api/v1/jobs/%s", j->id);
        cf_itest_fleet_get(&s->a, path, out);
        fail_msg("job %s: not %ld %s in time: %s", j->id, j->n, j->state, out);
    }
}

/* The string at key of agent id's record into buf ("" none). */
static void s_agent_str(const char *id, const char *key, char *buf, size_t len)
{
    char out[CF_ITEST_FLEET_BODY], path[100];
    snprintf(path, sizeof(path), "/api/v1/agents/%s", id);
    assert_int_equal(cf_itest_fleet_get(&s->a, path, out), 200);
    json_t *j = cf_itest_fleet_json(out);
    const char *v = json_string_value(json_object_get(j, key));
    snprintf(buf, len, "%s", v ? v : "");
    json_decref(j);
}

/* A condition: agent id checked in after second since (its last_seen is later). */
typedef struct {
    const char *id; /* agent */
    time_t since;   /* unix seconds */
} s_seen_t;

static int s_seen_after(void *arg)
{
    const s_seen_t *w = arg;
    char out[CF_ITEST_FLEET_BODY], path[100];
    snprintf(path, sizeof(path), "/api/v1/agents/%s", w->id);
    return cf_itest_fleet_get(&s->a, path, out) == 200 &&
           cf_itest_fleet_ji(out, "last_seen") > (json_int_t) w->since;
}

/* The fingerprint of <state>/<id>/cert.pem into fp ("" when there is no such file). */
static void s_disk_fpr(const char *id, char fp[65])
{
    char path[800];
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/%s/cert.pem", s_state, id);
    fp[0] = '\0';
    if (access(path, F_OK) != 0)
        return;
    char *pem = cf_test_read_file(path, &len);
    assert_non_null(pem);
    cf_cert_t *c = NULL;
    assert_int_equal(cf_cert_parse(pem, len, &c), CF_OK);
    snprintf(fp, 65, "%s", cf_cert_fingerprint(c));
    cf_cert_destroy(&c);
    free(pem);
}

/* 1 when <state>/<id>/<name> exists. */
static int s_disk_has(const char *id, const char *name)
{
    char path[800];
    snprintf(path, sizeof(path), "%s/%s/%s", s_state, id, name);
    return access(path, F_OK) == 0;
}

/* The shared agent certificate revoked, and srv-a's TLS applying it: the probe
   certificate, revoked after it, is refused at the handshake. */
static void s_revoke_shared(void)
{
    char out[CF_ITEST_FLEET_BODY], body[200];
    assert_int_equal(cf_itest_fleet_get(&s->a, "/api/v1/certs/agent/shared", out), 200);
    json_t *j = cf_itest_fleet_json(out);
    const char *serial = json_string_value(json_object_get(j, "serial"));
    assert_non_null(serial);
    snprintf(body, sizeof(body), "{\"serial\":\"%s\"}", serial);
    json_decref(j);
    assert_int_equal(cf_itest_fleet_admin(&s->a, "POST", "/api/v1/certs/revoke", body, out), 200);
    snprintf(body, sizeof(body), "{\"serial\":\"%s\"}", s->agent5.serial);
    assert_int_equal(cf_itest_fleet_admin(&s->a, "POST", "/api/v1/certs/revoke", body, out), 200);
    cf_itest_fleet_try_t refused = {&s->a, &s->agent5, 0};
    assert_true(cf_test_wait_until(cf_itest_fleet_try, &refused, 10000));
}

/* Both agents of job id failed with the install check's reason. */
static void s_failed_reasons(const char *id)
{
    char out[CF_ITEST_FLEET_BODY], path[200];
    snprintf(path, sizeof(path), "/api/v1/jobs/%s/agents?state=failed", id);
    assert_int_equal(cf_itest_fleet_get(&s->a, path, out), 200);
    json_t *j = cf_itest_fleet_json(out);
    json_t *agents = json_object_get(j, "agents");
    assert_int_equal(json_array_size(agents), 2);
    for (size_t i = 0; i < 2; i++) {
        const char *reason =
            json_string_value(json_object_get(json_array_get(agents, i), "reason"));
        assert_non_null(reason);
        if (!strstr(reason, "failed its check-in") || !strstr(reason, "previous one is kept"))
            fail_msg("reason: %s", reason);
    }
    json_decref(j);
}

/* A pair that passed its check but cannot be written to the state directory (a directory
   stands where r-1's cert.pem goes: the rename fails, root or not) is not kept: r-1 rolls
   back to no pair, the job fails with the reason, r-1 checks in without a certificate. */
static void s_unkept(void)
{
    char path[800], out[CF_ITEST_FLEET_BODY];
    snprintf(path, sizeof(path), "%s/r-1/cert.pem", s_state);
    assert_int_equal(mkdir(path, 0700), 0);
    s_job_t j = {"", "failed", 1};
    s_job("{\"type\":\"install_cert\",\"agents\":[\"r-1\"]}", &j);
    snprintf(path, sizeof(path), "/api/v1/jobs/%s/agents?state=failed", j.id);
    assert_int_equal(cf_itest_fleet_get(&s->a, path, out), 200);
    if (!strstr(out, "passed its check-in but could not be kept") ||
        !strstr(out, "previous one is kept"))
        fail_msg("failed entry: %s", out);
    s_seen_t r1 = {"r-1", time(NULL)};
    assert_true(cf_test_wait_until(s_seen_after, &r1, S_WAIT));
    s_agent_str("r-1", "lock", out, sizeof(out));
    assert_string_equal(out, "insecure");
    snprintf(path, sizeof(path), "%s/r-1/cert.pem", s_state);
    assert_int_equal(rmdir(path), 0);
    /* nothing left of the attempt: only the CURVE keypair */
    assert_int_equal(cf_test_sh("test -z \"$(ls -A '%s/r-1' | grep -v '^curve[.]key')\"", s_state),
                     0);
}

/* Package pkg (two enrollments), the simulator started: r-0 gets a pair of its own
   (install_cert, then renew_csr), whose fingerprint goes into own; r-1 has none (push
   mode). A job's pair reaches the state directory once its check passed. Stopped. */
static void s_first_run(char *pkg, size_t len, char own[65])
{
    char out[CF_ITEST_FLEET_BODY], fp[65];
    assert_int_equal(cf_itest_fleet_admin(&s->a, "POST", "/api/v1/packages",
                                          "{\"token_uses\":2,\"token_ttl\":3600}", out),
                     200);
    snprintf(pkg, len, "%s/pkg-roll.json", s->dir);
    cf_test_write_file(pkg, out, strlen(out));
    assert_int_equal(chmod(pkg, 0600), 0);
    s_start("sim-roll.log", pkg);
    s_log_t up = {"sim-roll.log", "agents=2 enrolled=2 secure=0 insecure=2 .* up=2 "};
    assert_true(cf_test_wait_until(s_log_has, &up, S_WAIT));
    s_job_t inst = {"", "installed", 1};
    s_job("{\"type\":\"install_cert\",\"agents\":[\"r-0\"]}", &inst);
    s_job_t renew = {"", "installed", 1};
    s_job("{\"type\":\"renew_csr\",\"agents\":[\"r-0\"]}", &renew);
    s_agent_str("r-0", "cert_fingerprint", own, 65); /* its check-in passed: the server has it */
    s_disk_fpr("r-0", fp);
    assert_string_equal(fp, own);
    assert_false(s_disk_has("r-1", "cert.pem"));
    s_unkept();
    s_stop_sim();
}

/* Both agents off line get the shared certificate, revoked meanwhile; the simulator
   started again installs it on trial, its check-in is refused at the handshake: both roll
   back and report failed (job id into job). */
static void s_failing_run(const char *pkg, const char *own, char job[33])
{
    char out[CF_ITEST_FLEET_BODY], fp[65], lock[16];
    assert_int_equal(
        cf_itest_fleet_admin(&s->a, "POST", "/api/v1/jobs",
                             "{\"type\":\"install_cert\",\"agents\":[\"r-0\",\"r-1\"]}", out),
        201);
    json_t *j = cf_itest_fleet_json(out);
    s_job_t fail = {"", "failed", 2};
    snprintf(fail.id, sizeof(fail.id), "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    snprintf(job, 33, "%s", fail.id);
    s_revoke_shared();
    s_start("sim-roll2.log", pkg);
    assert_true(cf_test_wait_until(s_job_has, &fail, S_WAIT));
    s_failed_reasons(fail.id);
    /* the previous pair in use again: the next check-ins pass, r-0's with its own
       certificate, r-1's without one (the revoked one would be refused) */
    time_t t = time(NULL);
    s_seen_t r0 = {"r-0", t}, r1 = {"r-1", t};
    assert_true(cf_test_wait_until(s_seen_after, &r0, S_WAIT));
    assert_true(cf_test_wait_until(s_seen_after, &r1, S_WAIT));
    s_agent_str("r-0", "cert_fingerprint", fp, sizeof(fp));
    assert_string_equal(fp, own);
    s_agent_str("r-0", "lock", lock, sizeof(lock));
    assert_string_equal(lock, "secure");
    s_agent_str("r-1", "lock", lock, sizeof(lock));
    assert_string_equal(lock, "insecure");
    /* the state directory: r-0's own pair; for r-1 its CURVE key, no pair */
    s_disk_fpr("r-0", fp);
    assert_string_equal(fp, own);
    assert_false(s_disk_has("r-1", "cert.pem"));
    assert_false(s_disk_has("r-1", "key.pem"));
    assert_true(s_disk_has("r-1", "curve.key_secret"));
    s_stop_sim();
}

/* A pair that failed its install check is rolled back (the previous one, or none) and
   reported failed; --state-dir never holds it: a simulator started again on the directory
   presents r-0's own certificate, none for r-1, and no check-in fails. */
static void test_failed_check_rolls_back(void **state)
{
    (void) state;
    char pkg[800], own[65], job[33], fp[65], path[100], out[CF_ITEST_FLEET_BODY];
    s_first_run(pkg, sizeof(pkg), own);
    s_failing_run(pkg, own, job);
    s_start("sim-roll3.log", pkg);
    s_log_t back = {"sim-roll3.log", "agents=2 enrolled=2 secure=1 insecure=1 .*certs=1 .* "
                                     "checkin_fails=0 enroll_fails=0 "};
    assert_true(cf_test_wait_until(s_log_has, &back, S_WAIT));
    s_agent_str("r-0", "cert_fingerprint", fp, sizeof(fp));
    assert_string_equal(fp, own);
    /* the failed job stays failed: not run again */
    snprintf(path, sizeof(path), "/api/v1/jobs/%s", job);
    assert_int_equal(cf_itest_fleet_get(&s->a, path, out), 200);
    assert_int_equal(cf_itest_fleet_ji(out, "counts/failed"), 2);
    assert_int_equal(cf_itest_fleet_ji(out, "counts/installed"), 0);
    s_stop_sim();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failed_check_rolls_back),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
