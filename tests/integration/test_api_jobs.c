/*  test_api_jobs - the /jobs routes end to end: two cf-server processes on one redis-server,
    driven with curl: jobs for each kind of target, refusals, counts, paging, cancel and
    retry, and the sweeper expiring a short job and closing it  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cf_db_agent.h"
#include "cf_db_enroll.h"
#include "cf_db_job.h"
#include "cf_itest_fleet.h"

#define S_PAGED 25 /* agents of the paging case */

static cf_itest_fleet_t *const s = &cf_itest_fleet;

/* An agent as a check-in records it: lock, address; no certificate unless secure. */
static void s_agent(const char *id, cf_db_lock_t lock, const char *addr)
{
    char fp[CF_DB_FP_LEN + 1];
    snprintf(fp, sizeof(fp), "%064x", (unsigned) strlen(id) * 7919u + (unsigned) id[0]);
    cf_db_checkin_t in = {id,
                          lock,
                          (int64_t) time(NULL),
                          addr,
                          "1.0",
                          lock == CF_DB_LOCK_INSECURE ? NULL : fp,
                          lock == CF_DB_LOCK_INSECURE ? NULL : "0a",
                          lock == CF_DB_LOCK_INSECURE ? 0 : (int64_t) time(NULL) + 86400,
                          "srv-a",
                          0};
    assert_int_equal(cf_db_agent_checkin(s->store, &in, NULL), CF_OK);
}

static int s_setup(void **state)
{
    (void) state;
    cf_itest_fleet_setup("test_api_jobs");
    /* both servers sweep every second (whichever holds the lease does it) */
    const char *more[] = {"--sweep-check", "1s", NULL};
    cf_itest_server_stop(&s->a, SIGTERM);
    cf_itest_server_stop(&s->b, SIGTERM);
    cf_itest_fleet_start(&s->a, "srv-a", "10", "127.0.0.0/25", 0, more);
    cf_itest_fleet_start(&s->b, "srv-b", "20", "127.0.0.128-127.0.0.255", 0, more);
    s_agent("j-1", CF_DB_LOCK_SECURE, "127.0.0.7");
    s_agent("j-2", CF_DB_LOCK_INSECURE, "127.0.0.8");
    s_agent("j-3", CF_DB_LOCK_INSECURE, "10.1.2.3");
    s_agent("j-4", CF_DB_LOCK_ATTENTION, "127.0.0.7");
    return 0;
}

static int s_old_set_gone(void *arg)
{
    (void) arg;
    return cf_itest_redis_reply_has(s->redis.port, "0", "EXISTS cf:agents");
}

/* POST /jobs with body through srv: the status; the answer in out. */
static int s_create(const cf_itest_server_t *srv, const char *body, char *out)
{
    return cf_itest_fleet_admin(srv, "POST", "/api/v1/jobs", body, out);
}

/* Create a job that must succeed: its id into id (33 bytes), its total returned. */
static json_int_t s_made(const char *body, char *id)
{
    char out[CF_ITEST_FLEET_BODY];
    int status = s_create(&s->a, body, out);
    if (status != 201)
        fail_msg("POST /jobs %s: %d %s", body, status, out);
    json_t *j = cf_itest_fleet_json(out);
    snprintf(id, 33, "%s", json_string_value(json_object_get(j, "id")) ?: "");
    json_decref(j);
    assert_int_equal(strlen(id), 32);
    return cf_itest_fleet_ji(out, "total");
}

/* GET /jobs/<id> through srv-b into out. */
static void s_job(const char *id, char *out)
{
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/jobs/%s", id);
    assert_int_equal(cf_itest_fleet_get(&s->b, path, out), 200);
}

/* ---- cases ------------------------------------------------------------------------------ */

static void test_targets(void **state)
{
    (void) state;
    char id[33], out[CF_ITEST_FLEET_BODY];
    /* an explicit list: the unknown agent is left out and answered back */
    assert_int_equal(
        s_create(&s->a, "{\"type\":\"recheck\",\"agents\":[\"j-1\",\"j-2\",\"ghost\"]}", out), 201);
    assert_int_equal(cf_itest_fleet_ji(out, "total"), 2);
    assert_int_equal(cf_itest_fleet_ji(out, "too_old"), 0);
    cf_itest_fleet_is(out, "unknown/0", "ghost");
    /* every agent; an IP range (the agents last seen inside); a lock state */
    assert_int_equal(s_made("{\"type\":\"renew_csr\",\"all\":true}", id), 4);
    s_job(id, out);
    cf_itest_fleet_is(out, "target", "all");
    assert_int_equal(s_made("{\"type\":\"recheck\",\"ip_range\":\"127.0.0.7\"}", id), 2);
    s_job(id, out);
    cf_itest_fleet_is(out, "target", "ip_range 127.0.0.7/32");
    assert_int_equal(s_made("{\"type\":\"recheck\",\"ip_range\":\"127.0.0.1-127.0.0.200\"}", id),
                     3);
    assert_int_equal(s_made("{\"type\":\"recheck\",\"state\":\"insecure\"}", id), 2);
    char page[CF_ITEST_FLEET_BODY], path[160];
    snprintf(path, sizeof(path), "/api/v1/jobs/%s/agents", id);
    assert_int_equal(cf_itest_fleet_get(&s->a, path, page), 200);
    cf_itest_fleet_is(page, "agents/@j-2/state", "pending");
    cf_itest_fleet_is(page, "agents/@j-3/state", "pending");
    assert_false(cf_itest_fleet_has(page, "agents/@j-1"));
    /* the job as the other server shows it */
    s_job(id, out);
    cf_itest_fleet_is(out, "type", "recheck");
    cf_itest_fleet_is(out, "target", "state insecure");
    cf_itest_fleet_is(out, "issuer", "srv-a");
    cf_itest_fleet_is(out, "by", "admin");
    cf_itest_fleet_is(out, "done", "null");
    assert_int_equal(cf_itest_fleet_ji(out, "total"), 2);
    assert_int_equal(cf_itest_fleet_ji(out, "counts/pending"), 2);
    assert_int_equal(cf_itest_fleet_ji(out, "counts/installed"), 0);
    json_int_t life = cf_itest_fleet_ji(out, "expires") - cf_itest_fleet_ji(out, "created");
    assert_int_equal(life, 7 * 86400); /* the default ttl */
    /* install_cert: the shared agent certificate by default, pem by default */
    assert_int_equal(s_made("{\"type\":\"install_cert\",\"agents\":[\"j-1\"],\"ttl\":3600}", id),
                     1);
    s_job(id, out);
    cf_itest_fleet_is(out, "params/cert", "shared");
    cf_itest_fleet_is(out, "params/form", "pem");
    assert_int_equal(cf_itest_fleet_ji(out, "expires") - cf_itest_fleet_ji(out, "created"), 3600);
    assert_int_equal(
        s_made("{\"type\":\"set_favorite\",\"favorite\":\"SRV-B\",\"agents\":[\"j-4\"]}", id), 1);
    s_job(id, out);
    cf_itest_fleet_is(out, "params/favorite", "srv-b");
    /* the list: newest first (cf:jobs scores seconds: jobs of one second come in id order) */
    assert_int_equal(cf_itest_fleet_get(&s->b, "/api/v1/jobs?limit=2", out), 200);
    assert_false(cf_itest_fleet_has(out, "jobs/2"));
    assert_int_equal(cf_itest_fleet_get(&s->b, "/api/v1/jobs?limit=100", out), 200);
    assert_true(cf_itest_fleet_has(out, "jobs/6"));
    assert_false(cf_itest_fleet_has(out, "jobs/7")); /* the 7 jobs made so far */
    snprintf(path, sizeof(path), "jobs/@%s", id);
    assert_true(cf_itest_fleet_has(out, path));
    assert_true(cf_itest_fleet_ji(out, "jobs/0/created") >=
                cf_itest_fleet_ji(out, "jobs/6/created"));
    /* creation is audited */
    assert_int_equal(cf_itest_fleet_get(&s->a, "/api/v1/audit?limit=1000", out), 200);
    assert_non_null(strstr(out, "job.create"));
    /* every agent, read by the create script itself: a revoked one is left out and answered
       back by id */
    s_agent("j-5", CF_DB_LOCK_EXPIRED, "10.9.9.9");
    assert_int_equal(cf_db_enroll_mark_revoked(s->store, "j-5", 1700000000), CF_OK);
    assert_int_equal(s_create(&s->a, "{\"type\":\"recheck\",\"all\":true}", out), 201);
    assert_int_equal(cf_itest_fleet_ji(out, "total"), 4);
    cf_itest_fleet_is(out, "unknown/0", "j-5");
    assert_false(cf_itest_fleet_has(out, "unknown/1"));
}

static void test_refusals(void **state)
{
    (void) state;
    char out[CF_ITEST_FLEET_BODY];
    static const struct {
        const char *body;
        int status;
        const char *text;
    } cases[] = {
        {"{\"type\":\"reboot\",\"all\":true}", 400, "type must be"},
        {"{\"type\":\"recheck\"}", 400, "exactly one target"},
        {"{\"type\":\"recheck\",\"all\":true,\"state\":\"secure\"}", 400, "exactly one target"},
        {"{\"type\":\"recheck\",\"all\":false}", 400, "all must be true"},
        {"{\"type\":\"recheck\",\"agents\":[]}", 400, "agents must be"},
        {"{\"type\":\"recheck\",\"agents\":[\"Bad Id\"]}", 400, "not an agent id"},
        {"{\"type\":\"recheck\",\"agents\":[\"ghost\"]}", 400, "holds no agent"},
        {"{\"type\":\"recheck\",\"ip_range\":\"10.0.0.0/33\"}", 400, "ip_range"},
        {"{\"type\":\"recheck\",\"ip_range\":\"192.168.0.0/16\"}", 400, "holds no agent"},
        {"{\"type\":\"recheck\",\"state\":\"expired\"}", 400, "holds no agent"},
        {"{\"type\":\"recheck\",\"state\":\"shaky\"}", 400, "state must be"},
        {"{\"type\":\"recheck\",\"all\":true,\"ttl\":0}", 400, "ttl"},
        {"{\"type\":\"recheck\",\"all\":true,\"ttl\":31622401}", 400, "ttl"},
        {"{\"type\":\"recheck\",\"all\":true,\"colour\":1}", 400, "unknown field"},
        {"{\"type\":\"recheck\",\"all\":true,\"cert\":\"shared\"}", 400, "install_cert"},
        {"{\"type\":\"install_cert\",\"all\":true,\"cert\":\"nope\"}", 404, "agent/nope"},
        {"{\"type\":\"install_cert\",\"all\":true,\"form\":\"der\"}", 400, "form must be"},
        {"{\"type\":\"set_favorite\",\"all\":true}", 400, "favorite"},
        {"{\"type\":\"set_favorite\",\"all\":true,\"favorite\":\"srv-z\"}", 404, "srv-z"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int status = s_create(&s->b, cases[i].body, out);
        if (status != cases[i].status || !strstr(out, cases[i].text))
            fail_msg("%s: %d %s (want %d, \"%s\")", cases[i].body, status, out, cases[i].status,
                     cases[i].text);
    }
    /* too many agents: over the body cap of the route (the count is checked as well) */
    char big[700];
    snprintf(big, sizeof(big), "%s/big.json", s->dir);
    assert_int_equal(cf_test_sh("python3 -c 'import json; print(json.dumps({\"type\":\"recheck\","
                                "\"agents\":[\"a%%d\" %% i for i in range(100001)]}))' >'%s'",
                                big),
                     0);
    char extra[800];
    snprintf(extra, sizeof(extra), "-H 'Content-Type: application/json' --data-binary @%s", big);
    assert_int_equal(
        cf_itest_fleet_call(&s->a, 0, &s->console, 1, "POST", "/api/v1/jobs", NULL, extra, out),
        413);
    /* no session: 401; unknown job: 404; not a job id: 400 */
    assert_int_equal(cf_itest_fleet_call(&s->a, 0, &s->console, 0, "POST", "/api/v1/jobs",
                                         "{\"type\":\"recheck\",\"all\":true}", NULL, out),
                     401);
    assert_int_equal(
        cf_itest_fleet_get(&s->a, "/api/v1/jobs/0123456789abcdef0123456789abcdef", out), 404);
    assert_int_equal(cf_itest_fleet_get(&s->a, "/api/v1/jobs/xyz", out), 400);
    assert_int_equal(cf_itest_fleet_admin(&s->a, "POST",
                                          "/api/v1/jobs/0123456789abcdef0123456789abcdef/cancel",
                                          NULL, out),
                     404);
    assert_int_equal(cf_itest_fleet_get(&s->a, "/api/v1/jobs?limit=0", out), 400);
    /* a viewer reads jobs but creates, cancels and retries none */
    assert_int_equal(cf_itest_fleet_admin(&s->a, "POST", "/api/v1/users",
                                          "{\"name\":\"watcher\",\"role\":\"viewer\","
                                          "\"password\":\"watcher-pass-1\"}",
                                          out),
                     201);
    assert_int_equal(cf_itest_fleet_call(&s->a, 0, &s->console, 0, "POST", "/api/v1/login",
                                         "{\"user\":\"watcher\",\"password\":\"watcher-pass-1\"}",
                                         NULL, out),
                     200);
    char admin[sizeof(s->token)];
    memcpy(admin, s->token, sizeof(admin));
    json_t *j = cf_itest_fleet_json(out);
    snprintf(s->token, sizeof(s->token), "%s", json_string_value(json_object_get(j, "token")));
    json_decref(j);
    assert_int_equal(cf_itest_fleet_get(&s->b, "/api/v1/jobs", out), 200);
    assert_int_equal(s_create(&s->b, "{\"type\":\"recheck\",\"all\":true}", out), 403);
    assert_int_equal(cf_itest_fleet_admin(&s->a, "POST",
                                          "/api/v1/jobs/0123456789abcdef0123456789abcdef/retry",
                                          NULL, out),
                     403);
    memcpy(s->token, admin, sizeof(admin));
}

/* Walk /jobs/<id>/agents?limit=7[&state=]: the ids seen, each must come once. */
static size_t s_walk(const char *id, const char *state, char seen[][16], size_t max)
{
    char cursor[128] = "", path[400], out[CF_ITEST_FLEET_BODY];
    size_t n = 0;
    do {
        snprintf(path, sizeof(path), "/api/v1/jobs/%s/agents?limit=7%s%s%s%s", id,
                 state ? "&state=" : "", state ? state : "", cursor[0] ? "&cursor=" : "", cursor);
        assert_int_equal(cf_itest_fleet_get(&s->b, path, out), 200);
        json_t *j = cf_itest_fleet_json(out);
        size_t i;
        json_t *a;
        assert_true(json_array_size(json_object_get(j, "agents")) <= 7);
        json_array_foreach(json_object_get(j, "agents"), i, a)
        {
            const char *aid = json_string_value(json_object_get(a, "id"));
            for (size_t k = 0; k < n; k++)
                assert_string_not_equal(seen[k], aid);
            assert_true(n < max);
            snprintf(seen[n++], 16, "%s", aid);
        }
        snprintf(cursor, sizeof(cursor), "%s",
                 json_string_value(json_object_get(j, "cursor")) ?: "");
        json_decref(j);
    } while (cursor[0]);
    return n;
}

static void test_paging_cancel_retry(void **state)
{
    (void) state;
    char id[33], out[CF_ITEST_FLEET_BODY], name[16], seen[S_PAGED + 1][16];
    for (int i = 0; i < S_PAGED; i++) {
        snprintf(name, sizeof(name), "p-%02d", i);
        s_agent(name, CF_DB_LOCK_SECURE, "127.0.0.60");
    }
    assert_int_equal(s_made("{\"type\":\"recheck\",\"ip_range\":\"127.0.0.60/32\"}", id), S_PAGED);
    assert_int_equal(s_walk(id, NULL, seen, S_PAGED), S_PAGED);
    assert_int_equal(s_walk(id, "pending", seen, S_PAGED), S_PAGED);
    assert_int_equal(s_walk(id, "installed", seen, S_PAGED), 0);
    char path[160];
    snprintf(path, sizeof(path), "/api/v1/jobs/%s/agents?state=shaky", id);
    assert_int_equal(cf_itest_fleet_get(&s->a, path, out), 400);
    /* nothing failed, expired or was cancelled yet: a retry has nothing to send */
    snprintf(path, sizeof(path), "/api/v1/jobs/%s/retry", id);
    assert_int_equal(cf_itest_fleet_admin(&s->a, "POST", path, NULL, out), 409);
    /* two agents report (as the broker link stores reports): one failed, one installed */
    cf_db_job_tr_t tr[2] = {{id, "p-00", CF_JOB_EV_REPORT_FAILED, "disk full"},
                            {id, "p-01", CF_JOB_EV_REPORT_INSTALLED, NULL}};
    cf_db_job_res_t res[2];
    assert_int_equal(cf_db_job_transition(s->store, (int64_t) time(NULL), tr, 2, res), CF_OK);
    assert_int_equal(res[0].rc, CF_OK);
    assert_int_equal(res[1].rc, CF_OK);
    assert_int_equal(s_walk(id, "failed", seen, S_PAGED), 1);
    snprintf(path, sizeof(path), "/api/v1/jobs/%s/agents?state=failed", id);
    assert_int_equal(cf_itest_fleet_get(&s->a, path, out), 200);
    cf_itest_fleet_is(out, "agents/0/id", "p-00");
    cf_itest_fleet_is(out, "agents/0/reason", "disk full");
    snprintf(path, sizeof(path), "/api/v1/jobs/%s/agents?state=installed", id);
    assert_int_equal(cf_itest_fleet_get(&s->a, path, out), 200);
    cf_itest_fleet_is(out, "agents/0/reason", "null");
    /* cancel: every waiting entry ends, finished ones stay; the counts follow */
    snprintf(path, sizeof(path), "/api/v1/jobs/%s/cancel", id);
    assert_int_equal(cf_itest_fleet_admin(&s->b, "POST", path, NULL, out), 200);
    assert_int_equal(cf_itest_fleet_ji(out, "counts/cancelled"), S_PAGED - 2);
    assert_int_equal(cf_itest_fleet_ji(out, "counts/failed"), 1);
    assert_int_equal(cf_itest_fleet_ji(out, "counts/installed"), 1);
    assert_int_equal(cf_itest_fleet_ji(out, "counts/pending"), 0);
    assert_true(cf_itest_fleet_ji(out, "done") > 0); /* every entry is final: closed */
    assert_int_equal(s_walk(id, "cancelled", seen, S_PAGED), S_PAGED - 2);
    /* retry: the failed and the cancelled wait again, with a new expiry of the same length */
    json_int_t life = cf_itest_fleet_ji(out, "expires") - cf_itest_fleet_ji(out, "created");
    snprintf(path, sizeof(path), "/api/v1/jobs/%s/retry", id);
    assert_int_equal(cf_itest_fleet_admin(&s->a, "POST", path, NULL, out), 200);
    assert_int_equal(cf_itest_fleet_ji(out, "counts/pending"), S_PAGED - 1);
    assert_int_equal(cf_itest_fleet_ji(out, "counts/cancelled"), 0);
    assert_int_equal(cf_itest_fleet_ji(out, "counts/failed"), 0);
    assert_int_equal(cf_itest_fleet_ji(out, "counts/installed"), 1);
    assert_true(cf_itest_fleet_ji(out, "expires") >= (json_int_t) time(NULL) + life - 5);
    cf_itest_fleet_is(out, "done", "null");
    /* both are audited */
    assert_int_equal(cf_itest_fleet_get(&s->a, "/api/v1/audit?limit=1000", out), 200);
    assert_non_null(strstr(out, "job.cancel"));
    assert_non_null(strstr(out, "job.retry"));
}

typedef struct {
    const char *id; /* the job */
} s_done_t;

/* 1 when the job is closed (done set) with every entry expired. */
static int s_closed(void *arg)
{
    const s_done_t *d = arg;
    char out[CF_ITEST_FLEET_BODY];
    s_job(d->id, out);
    json_t *j = cf_itest_fleet_json(out);
    int yes = json_is_integer(json_object_get(j, "done")) &&
              json_integer_value(json_object_get(json_object_get(j, "counts"), "expired")) == 2;
    json_decref(j);
    return yes;
}

/* A counter of /metrics summed over both servers. */
static long long s_metric(const char *name)
{
    long long sum = 0;
    const cf_itest_server_t *srv[] = {&s->a, &s->b};
    for (size_t i = 0; i < 2; i++) {
        char out[CF_ITEST_FLEET_BODY], want[128];
        assert_int_equal(
            cf_itest_fleet_call(srv[i], 0, NULL, 0, "GET", "/metrics", NULL, NULL, out), 200);
        snprintf(want, sizeof(want), "%s{alias=\"%s\"} ", name, srv[i]->alias);
        const char *at = strstr(out, want);
        assert_non_null(at);
        sum += atoll(at + strlen(want));
    }
    return sum;
}

static void test_sweeper_expires_and_closes(void **state)
{
    (void) state;
    char id[33];
    long long expired0 = s_metric("cf_server_jobs_expired_entries_total");
    long long closed0 = s_metric("cf_server_jobs_closed_total");
    assert_int_equal(s_made("{\"type\":\"recheck\",\"agents\":[\"j-1\",\"j-3\"],\"ttl\":2}", id),
                     2);
    s_done_t d = {id};
    assert_true(cf_test_wait_until(s_closed, &d, 20000));
    assert_true(s_metric("cf_server_jobs_expired_entries_total") >= expired0 + 2);
    assert_true(s_metric("cf_server_jobs_closed_total") >= closed0 + 1);
    assert_true(cf_itest_server_log_has(&s->a, "jobs swept") ||
                cf_itest_server_log_has(&s->b, "jobs swept"));
    /* a closed job's keys expire by themselves (30 days) */
    char key[64];
    snprintf(key, sizeof(key), "cf:job:{%s}", id);
    assert_true(cf_itest_redis_reply_has(s->redis.port, "259", "TTL %s", key));
}

/* An older version's set of all agents (cf:agents) is dropped by the sweeper's next round:
   check-ins no longer take agents out of it one by one. */
static void test_sweeper_drops_old_set(void **state)
{
    (void) state;
    assert_int_equal(cf_store_cmd(s->store, NULL, "ZADD cf:agents 1 old-1 2 old-2"), CF_OK);
    assert_true(cf_itest_redis_reply_has(s->redis.port, "2", "ZCARD cf:agents"));
    assert_true(cf_test_wait_until(s_old_set_gone, NULL, 10000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_targets),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_paging_cancel_retry),
        cmocka_unit_test(test_sweeper_expires_and_closes),
        cmocka_unit_test(test_sweeper_drops_old_set),
    };
    return cmocka_run_group_tests(tests, s_setup, cf_itest_fleet_teardown);
}
