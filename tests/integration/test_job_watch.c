/*  test_job_watch - a job's live progress end to end: GET /jobs/:id/events (job, change and
    done events, resuming with Last-Event-ID / ?after=, refusals) and `cf-console job watch`
    (exit codes, the failed agents with their reasons, --json, the verbs with --watch, and a
    reconnect to the second server when the first is killed mid-watch), against two real
    cf-server processes on a real redis-server  */
#include "cf_itest.h"
#include "cf_itest_console.h"
#include "cf_itest_https.h"
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cf_db_agent.h"
#include "cf_db_job.h"
#include "cf_db_job_ev.h"
#include "cf_mem.h"
#include "cf_seal.h"

#define EXPECT(code, has, ...) cf_itest_console_expect(__LINE__, NULL, code, has, __VA_ARGS__)
#define AT_STR(path)           json_string_value(cf_itest_console_at(path))
#define REAL                   "-c real.conf"
#define S_BODY                 65536

static struct {
    cf_itest_redis_t redis; /* the store */
    cf_store_t *store;      /* the test's own connection */
    pid_t pid[2];           /* srv-a, srv-b */
    int port[2];            /* their TLS ports */
    char token[128];        /* an admin session for curl */
} s;

static void s_agent(const char *id)
{
    cf_db_checkin_t in = {
        id, CF_DB_LOCK_INSECURE, (int64_t) time(NULL), "127.0.0.9", "1.0", NULL, NULL, 0, "srv-a",
        0};
    assert_int_equal(cf_db_agent_checkin(s.store, &in, NULL), CF_OK);
}

static void s_server(int i, int init)
{
    char log[800], cmd[2048];
    const char *alias = i == 0 ? "srv-a" : "srv-b";
    s.port[i] = cf_itest_free_port();
    snprintf(log, sizeof(log), "%s/%s.log", cf_itest_console_dir(), alias);
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && exec '%s' --redis 127.0.0.1:%d --alias %s --host 127.0.0.1 --bind "
             "127.0.0.1 --san 127.0.0.1 --port %d --secret-file secret %s --out out "
             "--log-level info",
             cf_itest_console_dir(), cf_itest_console_server_bin(), s.redis.port, alias, s.port[i],
             init ? "--admin-password-file real.pass --init" : "");
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    assert_int_equal(cf_itest_spawn(argv, log, &s.pid[i]), CF_OK);
    if (cf_itest_wait_port("127.0.0.1", s.port[i], 30000) != CF_OK)
        fail_msg("%s did not start; see %s", alias, log);
}

/* curl to srv-a (or srv-b) with the CA and, when auth, the session; the status. */
static int s_curl(int i, int auth, const char *extra, const char *path, char *body)
{
    char args[2048];
    snprintf(args, sizeof(args), "-N --cacert out/ca.pem %s%s%s %s 'https://127.0.0.1:%d%s'",
             auth ? "-H 'Authorization: Bearer " : "", auth ? s.token : "", auth ? "'" : "",
             extra ? extra : "", s.port[i], path);
    return cf_itest_curl(cf_itest_console_dir(), args, body, S_BODY);
}

static void s_login_curl(void)
{
    char *body = calloc(1, S_BODY);
    assert_non_null(body);
    char args[512];
    snprintf(args, sizeof(args),
             "--cacert out/ca.pem -H 'Content-Type: application/json' -d "
             "'{\"user\":\"admin\",\"password\":\"%s\"}' https://127.0.0.1:%d/api/v1/login",
             CF_ITEST_CONSOLE_REAL_PW, s.port[0]);
    assert_int_equal(cf_itest_curl(cf_itest_console_dir(), args, body, S_BODY), 200);
    json_t *a = json_loads(body, 0, NULL);
    const char *t = json_string_value(json_object_get(a, "token"));
    assert_non_null(t);
    snprintf(s.token, sizeof(s.token), "%s", t);
    json_decref(a);
    free(body);
}

static int s_setup(void **state)
{
    (void) state;
    char secret[800];
    cf_itest_console_setup("test_job_watch");
    const char *dir = cf_itest_console_dir();
    cf_why_t why = {""};
    assert_int_equal(cf_itest_redis_start(&s.redis, NULL), CF_OK);
    s.store = cf_itest_store_at(s.redis.port, NULL);
    cf_itest_console_path(secret, sizeof(secret), "secret");
    assert_int_equal(cf_seal_generate_file(secret, "watch-1", &why), CF_OK);
    assert_int_equal(cf_test_sh("mkdir -p '%s/out'", dir), 0);
    s_server(0, 1);
    s_server(1, 0);
    assert_int_equal(cf_test_sh("cd '%s' && printf 'server = https://127.0.0.1:%d\\nca = "
                                "out/ca.pem\\ncert = out/console.p12\\ncert-password-file = "
                                "out/p12.pass\\n' >real.conf",
                                dir, s.port[0]),
                     0);
    EXPECT(0, NULL, "login " REAL " --user admin --password-file real.pass");
    s_login_curl();
    const char *ids[] = {"w-1", "w-2", "w-3", "w-4", "w-5"};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
        s_agent(ids[i]);
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    for (int i = 0; i < 2; i++)
        if (s.pid[i] > 0 && cf_itest_kill(s.pid[i], SIGTERM) != CF_OK)
            print_message("a cf-server was already gone\n");
    cf_store_destroy(&s.store);
    cf_itest_redis_stop(&s.redis);
    cf_itest_console_teardown();
    return 0;
}

/* `job create TYPE --agents LIST --json`: the job id into id (33 bytes). */
static void s_create(char *id, const char *agents)
{
    EXPECT(0, NULL, "job create recheck --agents %s --json " REAL, agents);
    snprintf(id, 33, "%s", AT_STR("id") ? AT_STR("id") : "");
    assert_int_equal(strlen(id), 32);
}

/* One transition of agent in job id. */
static void s_tr(const char *id, const char *agent, cf_job_event_t ev, const char *reason)
{
    cf_db_job_tr_t tr = {id, agent, ev, reason};
    cf_db_job_res_t res;
    assert_int_equal(cf_db_job_transition(s.store, (int64_t) time(NULL), &tr, 1, &res), CF_OK);
    assert_int_equal(res.rc, CF_OK);
}

/* How many times needle occurs in hay. */
static int s_times(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* The id: of the nth (0-based) change event into out (64 bytes). */
static void s_change_id(const char *body, int nth, char *out)
{
    const char *p = body;
    for (int i = 0; i <= nth; i++) {
        p = strstr(p, "event: change");
        assert_non_null(p);
        p++;
    }
    const char *id = p - 1;
    while (id > body && strncmp(id, "id: ", 4) != 0)
        id--;
    assert_int_equal(strncmp(id, "id: ", 4), 0);
    size_t len = strcspn(id + 4, "\n");
    assert_true(len < 64);
    memcpy(out, id + 4, len);
    out[len] = '\0';
}

/* XADD to job id's stream: n field/value strings. */
static void s_xadd(const char *id, const char *const *fv, int n)
{
    char key[128];
    const char *argv[16] = {"XADD", key, "*"};
    snprintf(key, sizeof(key), "cf:job:{%s}:ev", id);
    for (int i = 0; i < n && i < 12; i++)
        argv[3 + i] = fv[i];
    redisReply *r = NULL;
    assert_int_equal(cf_store_cmd_argv(s.store, 0, &r, 3 + n, argv, NULL), CF_OK);
    freeReplyObject(r);
}

static void test_db_events(void **state)
{
    (void) state;
    char id[33];
    cf_db_job_ev_t *ev = NULL;
    size_t n = 0;
    s_create(id, "w-1,w-2");
    s_tr(id, "w-1", CF_JOB_EV_RECEIPT, NULL);
    s_tr(id, "w-2", CF_JOB_EV_REPORT_FAILED, "disk full");
    const char *odd[] = {"agent", "w-2", "from", "failed", "to", "failed", "reason", "bad\x01 x"};
    s_xadd(id, odd, 8); /* the store refuses such a reason: written here by hand */
    /* the creation entry (no change), then the changes */
    assert_int_equal(cf_db_job_events(s.store, id, NULL, CF_DB_JOB_EV_MAX, &ev, &n), CF_OK);
    assert_int_equal(n, 4);
    assert_string_equal(ev[0].agent, "");
    assert_string_equal(ev[1].agent, "w-1");
    assert_string_equal(ev[1].from, "pending");
    assert_string_equal(ev[1].to, "delivered");
    assert_string_equal(ev[2].to, "failed");
    assert_string_equal(ev[2].reason, "disk full");
    assert_string_equal(ev[3].reason, "bad? x"); /* control characters shown as '?' */
    char after[CF_DB_JOB_EV_ID_MAX + 1];
    snprintf(after, sizeof(after), "%s", ev[0].id);
    cf_mem_free(ev);
    /* a page of one after the first entry; then nothing after the last */
    assert_int_equal(cf_db_job_events(s.store, id, after, 1, &ev, &n), CF_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ev[0].agent, "w-1");
    cf_mem_free(ev);
    assert_int_equal(cf_db_job_events(s.store, id, "99999999999999-0", 10, &ev, &n), CF_OK);
    assert_int_equal(n, 0);
    cf_mem_free(ev);
    /* refusals: a bad job id, stream id or count; entries that do not fit */
    assert_int_equal(cf_db_job_events(s.store, "nope", NULL, 10, &ev, &n), CF_ERR_INVALID);
    assert_int_equal(cf_db_job_events(s.store, id, "12x", 10, &ev, &n), CF_ERR_INVALID);
    assert_int_equal(cf_db_job_events(s.store, id, "1-", 10, &ev, &n), CF_ERR_INVALID);
    assert_int_equal(cf_db_job_events(s.store, id, NULL, 0, &ev, &n), CF_ERR_INVALID);
    assert_int_equal(cf_db_job_events(s.store, id, NULL, CF_DB_JOB_EV_MAX + 1, &ev, &n),
                     CF_ERR_INVALID);
    assert_true(cf_db_job_ev_id_ok("1700000000000-12"));
    assert_false(cf_db_job_ev_id_ok("-1"));
    assert_false(cf_db_job_ev_id_ok("123456789012345678901-0"));
    const char *bad[][6] = {{"agent", "BAD ID", "from", "pending", "to", "failed"},
                            {"agent", "w-1", "from", "Pending", "to", "failed"},
                            {"agent", "w-1", "from", "pending", "x", "y"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char other[33];
        s_create(other, "w-1");
        s_xadd(other, bad[i], 6);
        ev = (cf_db_job_ev_t *) 0x1;
        assert_int_equal(cf_db_job_events(s.store, other, NULL, 10, &ev, &n), CF_ERR_CORRUPT);
        assert_null(ev);
    }
}

static void test_event_stream(void **state)
{
    (void) state;
    char id[33], path[128], extra[256], seen[64];
    char *body = calloc(1, S_BODY);
    assert_non_null(body);
    s_create(id, "w-1,w-2,w-3");
    s_tr(id, "w-1", CF_JOB_EV_RECEIPT, NULL);
    s_tr(id, "w-2", CF_JOB_EV_REPORT_FAILED, "disk full");
    s_tr(id, "w-3", CF_JOB_EV_REPORT_INSTALLED, NULL);
    s_tr(id, "w-1", CF_JOB_EV_REPORT_INSTALLED, NULL);
    snprintf(path, sizeof(path), "/api/v1/jobs/%s/events", id);
    /* a done job: the job, its four changes, done, and the server closes */
    assert_int_equal(s_curl(0, 1, NULL, path, body), 200);
    assert_int_equal(strncmp(body, "retry: 1000\n\nevent: job\ndata: {", 31), 0);
    assert_int_equal(s_times(body, "event: change\n"), 4);
    assert_int_equal(s_times(body, "event: done\n"), 1);
    assert_non_null(strstr(body, "\"agent\":\"w-2\",\"from\":\"pending\",\"to\":\"failed\","
                                 "\"reason\":\"disk full\""));
    assert_non_null(strstr(body, "\"to\":\"delivered\",\"reason\":null"));
    assert_true(strstr(body, "event: done") > strstr(body, "\"from\":\"delivered\""));
    /* resume after the second change: the last two come again, not the first two */
    s_change_id(body, 1, seen);
    snprintf(extra, sizeof(extra), "-H 'Last-Event-ID: %s'", seen);
    assert_int_equal(s_curl(1, 1, extra, path, body), 200); /* through srv-b */
    assert_int_equal(s_times(body, "event: change\n"), 2);
    assert_null(strstr(body, "disk full"));
    assert_int_equal(s_times(body, "event: done\n"), 1);
    snprintf(path, sizeof(path), "/api/v1/jobs/%s/events?after=%s", id, seen);
    assert_int_equal(s_curl(0, 1, NULL, path, body), 200);
    assert_int_equal(s_times(body, "event: change\n"), 2);
    /* refusals: a bad id to resume from, an unknown job, no session, a bad job id */
    snprintf(path, sizeof(path), "/api/v1/jobs/%s/events", id);
    assert_int_equal(s_curl(0, 1, "-H 'Last-Event-ID: 12x'", path, body), 400);
    assert_int_equal(
        s_curl(0, 1, NULL, "/api/v1/jobs/0123456789abcdef0123456789abcdef/events", body), 404);
    assert_int_equal(s_curl(0, 0, NULL, path, body), 401);
    assert_int_equal(s_curl(0, 1, NULL, "/api/v1/jobs/nope/events", body), 400);
    free(body);
}

/* Start `cf-console ARGS` in the background, output to name.out / name.err. */
static pid_t s_spawn_console(const char *name, const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "cd '%s' && exec '%s' %s " REAL " >%s.out 2>%s.err",
             cf_itest_console_dir(), cf_itest_console_bin(), args, name, name);
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    pid_t pid = 0;
    assert_int_equal(cf_itest_spawn(argv, NULL, &pid), CF_OK);
    return pid;
}

/* The text of dir/name (free), "" when missing. */
static char *s_file(const char *name)
{
    char path[800];
    cf_itest_console_path(path, sizeof(path), name);
    if (cf_test_sh("test -f '%s'", path) != 0)
        return strdup("");
    return cf_test_read_file(path, NULL);
}

static int s_file_has(void *arg)
{
    const char *const *what = arg; /* {file, text} */
    char *text = s_file(what[0]);
    int has = strstr(text, what[1]) != NULL;
    free(text);
    return has;
}

static void s_wait_file(const char *file, const char *text)
{
    const char *what[] = {file, text};
    if (!cf_test_wait_until(s_file_has, what, 20000)) {
        char *out = s_file(file);
        fail_msg("%s never held '%s': %s", file, text, out);
    }
}

static void test_watch_live_exit_codes(void **state)
{
    (void) state;
    char id[33], args[128];
    s_create(id, "w-1,w-2,w-3,w-4");
    snprintf(args, sizeof(args), "job watch %s --no-bar", id);
    pid_t pid = s_spawn_console("live", args);
    s_wait_file("live.out", "0% 0/4"); /* the first job event is on screen */
    s_tr(id, "w-1", CF_JOB_EV_REPORT_INSTALLED, NULL);
    s_tr(id, "w-2", CF_JOB_EV_REPORT_FAILED, "no space left");
    s_tr(id, "w-3", CF_JOB_EV_CANCEL, NULL);
    s_tr(id, "w-4", CF_JOB_EV_REPORT_INSTALLED, NULL);
    assert_int_equal(cf_itest_exit_code(pid, 30000), 1);
    char *out = s_file("live.out");
    assert_non_null(strstr(out, "done: 2 of 4 installed"));
    assert_non_null(strstr(out, "cancelled 1"));
    assert_non_null(strstr(out, "w-2"));
    assert_non_null(strstr(out, "no space left"));
    free(out);
    /* a job every agent installed: 0; --json gives the events as lines */
    s_create(id, "w-5");
    s_tr(id, "w-5", CF_JOB_EV_REPORT_INSTALLED, NULL);
    EXPECT(0, "done: 1 of 1 installed", "job watch %s " REAL, id);
    EXPECT(0, "\"event\":\"done\"", "job watch %s --json " REAL, id);
    assert_true(cf_itest_console_has("{\"event\":\"change\",\"id\":\""));
    assert_true(cf_itest_console_has("{\"event\":\"job\",\"id\":null,\"data\":{"));
    /* on a terminal (script(1) gives one): the bar, redrawn in place */
    assert_int_equal(cf_test_sh("cd '%s' && script -qec \"'%s' job watch %s " REAL
                                "\" bar.out >/dev/null </dev/null",
                                cf_itest_console_dir(), cf_itest_console_bin(), id),
                     0);
    out = s_file("bar.out");
    assert_non_null(
        strstr(out, "\r\033[K[##############################] 100% 1/1  installed 1  "));
    assert_non_null(strstr(out, "done: 1 of 1 installed"));
    free(out);
    /* refusals */
    EXPECT(2, "not a job id", "job watch nope " REAL);
    EXPECT(1, "404", "job watch 0123456789abcdef0123456789abcdef " REAL);
}

static int s_job_created(void *arg)
{
    (void) arg;
    char *out = s_file("verb.out");
    int ok = strlen(out) > 40 && out[0] == '{';
    free(out);
    return ok;
}

static void test_verbs(void **state)
{
    (void) state;
    EXPECT(0, "1 agents", "job renew --agents w-5 " REAL);
    EXPECT(0, "1 agents", "job set-favorite --favorite srv-b --agents w-5 " REAL);
    EXPECT(2, "needs --favorite", "job set-favorite --agents w-5 " REAL);
    EXPECT(2, "exactly one target", "job renew " REAL);
    EXPECT(2, "unexpected argument", "job renew w-5 --all " REAL);
    /* --watch goes on to watch the new job: the id first, then the events */
    pid_t pid = s_spawn_console("verb", "job renew --agents w-5 --watch --json");
    assert_true(cf_test_wait_until(s_job_created, NULL, 20000));
    char *out = s_file("verb.out");
    json_error_t err;
    json_t *a = json_loadb(out, strcspn(out, "\n"), 0, &err);
    const char *id = json_string_value(json_object_get(a, "id"));
    assert_non_null(id);
    s_tr(id, "w-5", CF_JOB_EV_REPORT_INSTALLED, NULL);
    json_decref(a);
    free(out);
    assert_int_equal(cf_itest_exit_code(pid, 30000), 0);
    s_wait_file("verb.out", "\"event\":\"done\"");
}

static void test_watch_shows_every_count(void **state)
{
    (void) state;
    /* a job in waves has queued entries: the watch shows that count too */
    EXPECT(0, NULL, "job renew --agents w-3,w-4 --batch 1 --json " REAL);
    char id[33], args[128];
    snprintf(id, sizeof(id), "%s", AT_STR("id") ? AT_STR("id") : "");
    assert_int_equal(strlen(id), 32);
    snprintf(args, sizeof(args), "job watch %s --no-bar", id);
    pid_t pid = s_spawn_console("waves", args);
    s_wait_file("waves.out", "queued 1");
    EXPECT(0, NULL, "job pause %s " REAL, id);
    s_wait_file("waves.out", "too_old 0  paused"); /* the rollout's state too */
    EXPECT(0, "cancelled", "job cancel %s " REAL, id);
    assert_int_equal(cf_itest_exit_code(pid, 30000), 1);
    s_wait_file("waves.out", "done: 0 of 2 installed");
    s_wait_file("waves.out", "cancelled 2");
}

static void test_reconnect_to_second_server(void **state)
{
    (void) state;
    char id[33], args[128];
    s_create(id, "w-1,w-2,w-3");
    s_tr(id, "w-1", CF_JOB_EV_REPORT_INSTALLED, NULL);
    snprintf(args, sizeof(args), "job watch %s --no-bar", id);
    pid_t pid = s_spawn_console("failover", args);
    s_wait_file("failover.out", "33% 1/3");
    assert_int_equal(cf_itest_kill(s.pid[0], SIGKILL), CF_OK); /* srv-a dies mid-watch */
    s.pid[0] = 0;
    s_wait_file("failover.err", "trying again");
    s_tr(id, "w-2", CF_JOB_EV_REPORT_INSTALLED, NULL);
    s_tr(id, "w-3", CF_JOB_EV_REPORT_INSTALLED, NULL);
    assert_int_equal(cf_itest_exit_code(pid, 60000), 0);
    char *out = s_file("failover.out");
    assert_non_null(strstr(out, "done: 3 of 3 installed"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_db_events),
        cmocka_unit_test(test_event_stream),
        cmocka_unit_test(test_watch_live_exit_codes),
        cmocka_unit_test(test_verbs),
        cmocka_unit_test(test_watch_shows_every_count),
        cmocka_unit_test(test_reconnect_to_second_server),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
