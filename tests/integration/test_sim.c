/*  test_sim - cf-agent --simulate end to end: redis-server, a real cf-broker and a cf-server
    linked to it, an install package with a token; simulated agents enroll over HTTPS,
    check in (insecure in push mode), get a certificate by an install_cert job through the
    broker (secure), each its own by a renew_csr job; --processes splits the ids; a used-up
    token makes the simulator exit 1  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cf_ca.h"
#include "cf_db_meta.h"
#include "cf_itest_broker.h"
#include "cf_db_enroll.h"
#include "cf_itest_fleet.h"
#include "cf_itest_linked.h"
#include "cf_seal.h"

#define S_PUSH_N 50 /* agents of the push-mode fleet */
#if defined(__SANITIZE_ADDRESS__)
#define S_SANITIZED 1 /* gcc -fsanitize=address */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define S_SANITIZED 1 /* clang */
#endif
#endif
#ifndef S_SANITIZED
#define S_SANITIZED 0
#endif
#define S_WAIT 90000

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
static cf_itest_broker_t s_b;
static pid_t s_sim;

static int s_setup(void **state)
{
    (void) state;
    signal(SIGPIPE, SIG_IGN);
    cf_itest_broker_start(&s_b, "sim", NULL, NULL, NULL, 0);
    char agents_ep[CF_CURVE_TEXT_MAX + 1];
    assert_int_equal(cf_curve_broker_format(&s_b.agents, agents_ep, sizeof(agents_ep)), CF_OK);
    const char *more[] = {"--agent-broker", agents_ep, NULL};
    cf_itest_linked_start(s, &s_b, more);
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

/* An install package with a token of uses uses into <dir>/<name>.json (POST /packages). */
static void s_package(const char *name, int uses, char *path, size_t len)
{
    char body[100], out[CF_ITEST_FLEET_BODY];
    snprintf(body, sizeof(body), "{\"token_uses\":%d,\"token_ttl\":3600}", uses);
    assert_int_equal(cf_itest_fleet_admin(&s->a, "POST", "/api/v1/packages", body, out), 200);
    snprintf(path, len, "%s/%s.json", s->dir, name);
    cf_test_write_file(path, out, strlen(out));
    assert_int_equal(chmod(path, 0600), 0);
}

/* Start cf-agent --simulate with args (NULL-terminated), its output into <dir>/<log>. */
static void s_start(const char *log, const char *const *args)
{
    const char *bin = getenv("CF_BIN_DIR");
    char exe[700], logpath[800];
    snprintf(exe, sizeof(exe), "%s/agent/cf-agent", bin && *bin ? bin : ".");
    snprintf(logpath, sizeof(logpath), "%s/%s", s->dir, log);
    char *argv[32] = {exe};
    size_t n = 1;
    for (size_t i = 0; args[i] && n < 31; i++)
        argv[n++] = (char *) args[i];
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

/* A condition: GET /api/v1/agents?lock=<lock> counts at least n agents of that lock. */
typedef struct {
    const char *lock; /* lock state */
    long n;           /* how many */
} s_count_t;

static int s_counted(void *arg)
{
    const s_count_t *c = arg;
    char out[CF_ITEST_FLEET_BODY], path[100], key[40];
    snprintf(path, sizeof(path), "/api/v1/agents?limit=1&lock=%s", c->lock);
    snprintf(key, sizeof(key), "counts/%s", c->lock);
    return cf_itest_fleet_get(&s->a, path, out) == 200 && cf_itest_fleet_ji(out, key) >= c->n;
}

/* A condition: the job (id in arg) has n installed (n in the first bytes of the struct). */
typedef struct {
    char id[33]; /* job id */
    long n;      /* installed wanted */
} s_job_t;

static int s_installed(void *arg)
{
    const s_job_t *j = arg;
    char out[CF_ITEST_FLEET_BODY], path[100];
    snprintf(path, sizeof(path), "/api/v1/jobs/%s", j->id);
    return cf_itest_fleet_get(&s->a, path, out) == 200 &&
           cf_itest_fleet_ji(out, "counts/installed") >= j->n;
}

/* Wait until the job has its installs; on a timeout, show what its entries wait for. */
static void s_wait_job(s_job_t *j)
{
    if (cf_test_wait_until(s_installed, j, S_WAIT))
        return;
    char out[CF_ITEST_FLEET_BODY], path[200];
    snprintf(path, sizeof(path), "/api/v1/jobs/%s", j->id);
    cf_itest_fleet_get(&s->a, path, out);
    fprintf(stderr, "job: %s\n", out);
    snprintf(path, sizeof(path), "/api/v1/jobs/%s/agents?limit=20&state=delivered", j->id);
    cf_itest_fleet_get(&s->a, path, out);
    fprintf(stderr, "delivered: %s\n", out);
    snprintf(path, sizeof(path), "/api/v1/jobs/%s/agents?limit=20&state=pending", j->id);
    cf_itest_fleet_get(&s->a, path, out);
    fprintf(stderr, "pending: %s\n", out);
    fail_msg("job %s: not installed on %ld agents in time", j->id, j->n);
}

static void s_job(const char *body, s_job_t *j)
{
    char out[CF_ITEST_FLEET_BODY];
    assert_int_equal(cf_itest_fleet_admin(&s->a, "POST", "/api/v1/jobs", body, out), 201);
    json_t *r = cf_itest_fleet_json(out);
    snprintf(j->id, sizeof(j->id), "%s", json_string_value(json_object_get(r, "id")));
    json_decref(r);
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

/* Distinct certificate fingerprints of agents <prefix>0 .. <prefix><n-1> (each must exist;
   one without a certificate counts as ""). */
static size_t s_distinct_fprs(const char *prefix, size_t n)
{
    char out[CF_ITEST_FLEET_BODY], path[200];
    json_t *seen = json_object();
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "/api/v1/agents/%s%zu", prefix, i);
        assert_int_equal(cf_itest_fleet_get(&s->a, path, out), 200);
        json_t *j = cf_itest_fleet_json(out);
        const char *fp = json_string_value(json_object_get(j, "cert_fingerprint"));
        json_object_set_new(seen, fp ? fp : "", json_true());
        json_decref(j);
    }
    size_t d = json_object_size(seen);
    json_decref(seen);
    return d;
}

/* A condition: the agents <prefix>0.. (n of them) hold n distinct certificates. */
typedef struct {
    const char *prefix; /* id prefix */
    size_t n;           /* agents */
} s_fprs_t;

static int s_all_own(void *arg)
{
    const s_fprs_t *f = arg;
    return s_distinct_fprs(f->prefix, f->n) == f->n;
}

/* A condition: every agent <prefix>i (n) checked in (a mutual-TLS handshake: the server
   records the certificate the client presented) with the certificate the server issued it
   last (the one its :cert key holds), which is not before[i]. */
typedef struct {
    const char *prefix; /* id prefix */
    size_t n;           /* agents */
    char (*before)[65]; /* fingerprints before */
} s_reissued_t;

static int s_all_reissued(void *arg)
{
    const s_reissued_t *r = arg;
    char out[CF_ITEST_FLEET_BODY], path[200];
    int ok = 1;
    for (size_t i = 0; ok && i < r->n; i++) {
        snprintf(path, sizeof(path), "/api/v1/agents/%s%zu", r->prefix, i);
        ok = cf_itest_fleet_get(&s->a, path, out) == 200;
        json_t *j = ok ? cf_itest_fleet_json(out) : NULL;
        const char *fp = json_string_value(json_object_get(j, "cert_fingerprint"));
        char id[64]; /* hiredis formats no %zu */
        snprintf(id, sizeof(id), "%s%zu", r->prefix, i);
        ok = fp && strcmp(fp, r->before[i]) != 0 && s_enroll_fp_is(s->redis.port, id, fp);
        json_decref(j);
    }
    return ok;
}

/* The fingerprints the server recorded for <prefix>0..n-1 into fps. */
static void s_fprs(const char *prefix, size_t n, char (*fps)[65])
{
    char out[CF_ITEST_FLEET_BODY], path[200];
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "/api/v1/agents/%s%zu", prefix, i);
        assert_int_equal(cf_itest_fleet_get(&s->a, path, out), 200);
        json_t *j = cf_itest_fleet_json(out);
        const char *fp = json_string_value(json_object_get(j, "cert_fingerprint"));
        snprintf(fps[i], 65, "%s", fp ? fp : "");
        json_decref(j);
    }
}

/* Push mode: all enroll and check in insecure; an install job through the broker makes
   them secure; a renew_csr job gives each its own certificate; a reissue job a new one for
   the key each made, with which each then checks in. */
static void test_push_install_renew(void **state)
{
    (void) state;
    char pkg[800], n[8];
    s_package("pkg-push", S_PUSH_N, pkg, sizeof(pkg));
    snprintf(n, sizeof(n), "%d", S_PUSH_N);
    const char *args[] = {"--simulate",  n,    "--bundle",   pkg,   "--push",
                          "--id-prefix", "p-", "--interval", "300", NULL};
    s_start("sim-push.log", args);
    s_count_t insecure = {"insecure", S_PUSH_N};
    assert_true(cf_test_wait_until(s_counted, &insecure, S_WAIT));
    s_log_t enrolled = {"sim-push.log", "enrolled=50 .* up=50 "};
    assert_true(cf_test_wait_until(s_log_has, &enrolled, S_WAIT));
    /* the install job can only come through the broker: the next check-in is 300 s away */
    s_job_t inst = {"", S_PUSH_N};
    s_job("{\"type\":\"install_cert\",\"state\":\"insecure\",\"ttl\":600}", &inst);
    s_wait_job(&inst);
    /* a job is reported once a check-in with its certificate passed (the real agent's
       order): every agent is secure by the time the last REPORT is stored */
    s_count_t secure = {"secure", S_PUSH_N};
    assert_true(s_counted(&secure));
    assert_int_equal(s_distinct_fprs("p-", S_PUSH_N), 1); /* the shared certificate */
    /* renewal by CSR: each its own certificate */
    s_job_t renew = {"", S_PUSH_N};
    s_job("{\"type\":\"renew_csr\",\"state\":\"secure\",\"ttl\":600}", &renew);
    s_wait_job(&renew);
    s_log_t renewed = {"sim-push.log", "renewals=50 renew_fails=0"};
    assert_true(cf_test_wait_until(s_log_has, &renewed, S_WAIT));
    /* each checked in with its new certificate before its REPORT went out */
    s_fprs_t own = {"p-", S_PUSH_N};
    assert_true(s_all_own(&own));
    assert_true(s_counted(&secure));
    /* reissue: a new certificate per agent for the key it holds, issued by the server */
    char before[S_PUSH_N][65];
    s_fprs("p-", S_PUSH_N, before);
    s_job_t re = {"", S_PUSH_N};
    s_job("{\"type\":\"reissue\",\"state\":\"secure\",\"ttl\":600}", &re);
    s_wait_job(&re);
    s_reissued_t r = {"p-", S_PUSH_N, before};
    assert_true(s_all_reissued(&r));
    assert_true(s_counted(&secure));
    /* the replaced certificates are archived, one per agent */
    assert_true(cf_itest_redis_reply_has(s->redis.port, "1", "HEXISTS cf:archive %s", before[0]));
    s_stop_sim();
}

/* CSR mode over two processes: each its own id range and certificate, all secure. */
static void test_processes(void **state)
{
    (void) state;
    char pkg[800], state_dir[700], path[800];
    s_package("pkg-csr", 20, pkg, sizeof(pkg));
    snprintf(state_dir, sizeof(state_dir), "%s/state-csr", s->dir);
    const char *args[] = {"--simulate",
                          "20",
                          "--bundle",
                          pkg,
                          "--processes",
                          "2",
                          "--id-prefix",
                          "c-",
                          "--source-net",
                          "127.0.8.0/24",
                          "--state-dir",
                          state_dir,
                          NULL};
    s_start("sim-csr.log", args);
    s_log_t p0 = {"sim-csr.log", "proc=0 agents=10 enrolled=10 secure=10 "};
    s_log_t p1 = {"sim-csr.log", "proc=1 agents=10 enrolled=10 secure=10 "};
    assert_true(cf_test_wait_until(s_log_has, &p0, S_WAIT));
    assert_true(cf_test_wait_until(s_log_has, &p1, S_WAIT));
    assert_int_equal(s_distinct_fprs("c-", 20), 20);
    char out[CF_ITEST_FLEET_BODY];
    assert_int_equal(cf_itest_fleet_get(&s->a, "/api/v1/agents/c-19", out), 200);
    cf_itest_fleet_is(out, "lock", "secure");
    assert_int_equal(cf_itest_fleet_get(&s->a, "/api/v1/agents/c-0", out), 200);
    cf_itest_fleet_is(out, "last_addr", "127.0.8.1");
    assert_int_equal(cf_itest_fleet_get(&s->a, "/api/v1/agents/c-20", out), 404);
    /* --state-dir: each agent's pair also on disk, private */
    struct stat st;
    snprintf(path, sizeof(path), "%s/c-19/key.pem", state_dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(cf_test_sh("openssl verify -CAfile '%s/ca.pem' '%s/c-19/cert.pem' >/dev/null",
                                s->dir, state_dir),
                     0);
    s_stop_sim();
    /* started again on the same state: the same agents, keys and certificates, without
       enrolling (the token's 20 uses are spent) */
    assert_int_equal(cf_itest_fleet_get(&s->a, "/api/v1/agents/c-7", out), 200);
    json_t *j = cf_itest_fleet_json(out);
    char fp[65];
    snprintf(fp, sizeof(fp), "%s", json_string_value(json_object_get(j, "cert_fingerprint")));
    json_decref(j);
    s_start("sim-csr2.log", args);
    s_log_t q0 = {"sim-csr2.log",
                  "proc=0 agents=10 enrolled=10 secure=10 .* up=10 .*enroll_fails=0"};
    s_log_t q1 = {"sim-csr2.log",
                  "proc=1 agents=10 enrolled=10 secure=10 .* up=10 .*enroll_fails=0"};
    assert_true(cf_test_wait_until(s_log_has, &q0, S_WAIT));
    assert_true(cf_test_wait_until(s_log_has, &q1, S_WAIT));
    assert_int_equal(cf_itest_fleet_get(&s->a, "/api/v1/agents/c-7", out), 200);
    cf_itest_fleet_is(out, "cert_fingerprint", fp);
    s_stop_sim();
}

/* A token used up: enrollment is refused for every agent, exit 1 with the reason. */
static void test_token_used_up(void **state)
{
    (void) state;
    char pkg[800];
    s_package("pkg-one", 1, pkg, sizeof(pkg));
    const char *first[] = {"--simulate", "1", "--bundle", pkg, "--id-prefix", "u-", NULL};
    s_start("sim-one.log", first);
    s_log_t one = {"sim-one.log", "enrolled=1 secure=1 "};
    assert_true(cf_test_wait_until(s_log_has, &one, S_WAIT));
    s_stop_sim();
    const char *again[] = {"--simulate", "2", "--bundle", pkg, "--id-prefix", "v-", NULL};
    s_start("sim-again.log", again);
    int code = cf_itest_exit_code(s_sim, S_WAIT);
    if (code >= 0)
        s_sim = 0;
    assert_int_equal(code, 1);
    s_log_t why = {"sim-again.log", "enrollment failed for every agent .*used up"};
    assert_true(s_log_has(&why));
}

/* The VmRSS of a stats line (0: none). */
static unsigned long s_rss(const char *line)
{
    const char *p = line ? strstr(line, "rss_kib=") : NULL;
    return p ? strtoul(p + strlen("rss_kib="), NULL, 10) : 0;
}

/* Memory: RSS per simulated agent once all are enrolled, linked and secure. The default
   fleet is small; CF_TEST_SIM_AGENTS=N runs it bigger (docs/BENCHMARKS.md). */
static void test_rss(void **state)
{
    (void) state;
    const char *env = getenv("CF_TEST_SIM_AGENTS");
    long n = env && atol(env) > 0 && atol(env) <= 9000 ? atol(env) : 200;
    char pkg[800], num[16], want[120], path[800];
    s_package("pkg-rss", (int) n, pkg, sizeof(pkg));
    snprintf(num, sizeof(num), "%ld", n);
    const char *args[] = {
        "--simulate",   num,          "--bundle", pkg, "--id-prefix", "m-", "--source-net",
        "127.1.0.0/16", "--interval", "3600",     NULL};
    s_start("sim-rss.log", args);
    snprintf(want, sizeof(want), "agents=%ld enrolled=%ld secure=%ld .* up=%ld ", n, n, n, n);
    s_log_t all = {"sim-rss.log", want};
    assert_true(cf_test_wait_until(s_log_has, &all, S_WAIT + (int) n * 40));
    snprintf(path, sizeof(path), "%s/sim-rss.log", s->dir);
    char *text = cf_test_read_file(path, NULL);
    assert_non_null(text);
    /* the first line: the fleet made, nobody enrolled; the last: all linked and secure */
    const char *first = strstr(text, "sim stats "), *last = first;
    for (const char *p = first; p; p = strstr(p + 1, "sim stats "))
        last = p;
    unsigned long start = s_rss(first), end = s_rss(last);
    double per = (double) end / (double) n, marginal = (double) (end - start) / (double) n;
    printf("sim rss: agents=%ld rss_start_kib=%lu rss_kib=%lu per_agent_kib=%.1f "
           "marginal_kib=%.1f (goal <= 64 KiB per agent: %s)\n",
           n, start, end, per, marginal, per <= 64.0 ? "MET" : "MISSED");
    free(text);
    assert_true(start > 0 && end > start);
#if !S_SANITIZED                   /* ASan's quarantine and shadow memory make RSS meaningless */
    assert_true(marginal < 256.0); /* a leak per agent or per check-in shows here */
#endif
    s_stop_sim();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_push_install_renew),
        cmocka_unit_test(test_processes),
        cmocka_unit_test(test_token_used_up),
        cmocka_unit_test(test_rss),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
