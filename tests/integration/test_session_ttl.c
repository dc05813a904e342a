/*  test_session_ttl - cf-server --session-ttl: the login answer, GET /session and the
    session's Redis TTL follow it; a server without it keeps 12 h; out-of-range values are
    refused at start  */
#include "cf_itest.h"
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cf_itest_https.h"
#include "cf_itest_server.h"

#define S_ADMIN_PW "Admin pass-T7" /* --init's admin password */

static struct {
    char dir[512];          /* secret, out/ (ca.pem), admin.pass, curl files, server logs */
    char admin[600];        /* admin.pass */
    cf_itest_redis_t redis; /* the deployment's Redis */
} s;

static int s_setup(void **state)
{
    (void) state;
    signal(SIGPIPE, SIG_IGN);
    cf_test_tmpdir("session_ttl", s.dir, sizeof(s.dir));
    snprintf(s.admin, sizeof(s.admin), "%s/admin.pass", s.dir);
    if (cf_test_sh("cd '%s' && umask 077 && printf %%s '" S_ADMIN_PW "' >admin.pass", s.dir) != 0)
        return -1;
    return cf_itest_redis_start(&s.redis, NULL) == CF_OK ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void) state;
    cf_itest_redis_stop(&s.redis);
    return 0;
}

/* GET (token) /session or POST /login as admin (token NULL) to srv; the answer's
   "expires", after asserting status 200 and, for a login, copying the token out. */
static json_int_t s_call(const cf_itest_server_t *srv, char *token, size_t len, int login)
{
    char args[1024], body[4096];
    if (login)
        snprintf(args, sizeof(args),
                 "--cacert out/ca.pem -H 'Content-Type: application/json' --data-binary "
                 "'{\"user\":\"admin\",\"password\":\"" S_ADMIN_PW
                 "\"}' https://127.0.0.1:%d/api/v1/login",
                 srv->port);
    else
        snprintf(args, sizeof(args),
                 "--cacert out/ca.pem -H 'Authorization: Bearer %s' "
                 "https://127.0.0.1:%d/api/v1/session",
                 token, srv->port);
    assert_int_equal(cf_itest_curl(s.dir, args, body, sizeof(body)), 200);
    json_t *j = json_loads(body, 0, NULL);
    assert_non_null(j);
    if (login)
        snprintf(token, len, "%s", json_string_value(json_object_get(j, "token")));
    json_int_t expires = json_integer_value(json_object_get(j, "expires"));
    json_decref(j);
    return expires;
}

/* Log in to srv: the session ends ttl seconds after the login, in the answer, in GET
   /session and in Redis (the key's TTL is the real end). */
static void s_login_lasts(const cf_itest_server_t *srv, long ttl)
{
    char token[128];
    time_t before = time(NULL);
    json_int_t expires = s_call(srv, token, sizeof(token), 1);
    time_t after = time(NULL);
    assert_true(expires >= before + ttl && expires <= after + ttl);
    assert_int_equal(s_call(srv, token, sizeof(token), 0), expires);
    /* the only session in this Redis: its TTL is ttl less the seconds since the login */
    assert_int_equal(cf_test_sh("k=$(redis-cli -p %d --scan --pattern 'cf:session:*') && "
                                "[ $(echo \"$k\" | wc -l) -eq 1 ] && t=$(redis-cli -p %d TTL "
                                "\"$k\") && [ \"$t\" -gt %ld ] && [ \"$t\" -le %ld ] && "
                                "redis-cli -p %d DEL \"$k\" >/dev/null",
                                s.redis.port, s.redis.port, ttl - 30, ttl, s.redis.port),
                     0);
}

static void test_session_ttl(void **state)
{
    (void) state;
    const char *const init[] = {"--init", "--admin-password-file", s.admin, "--session-ttl", "10m",
                                NULL};
    cf_itest_server_t srv = {0}, other = {0};
    assert_int_equal(cf_itest_server_start(&srv, s.dir, s.redis.port, "srv1", init), CF_OK);
    s_login_lasts(&srv, 600);
    /* each server has its own setting: one started without it keeps the default */
    assert_int_equal(cf_itest_server_start(&other, s.dir, s.redis.port, "srv2", NULL), CF_OK);
    s_login_lasts(&other, 12 * 3600);
    cf_itest_server_stop(&other, SIGTERM);
    cf_itest_server_stop(&srv, SIGTERM);
    assert_false(cf_itest_server_log_has(&srv, "Sanitizer"));
    assert_false(cf_itest_server_log_has(&other, "Sanitizer"));
}

static void test_out_of_range(void **state)
{
    (void) state;
    static const char *const bad[] = {"59s", "31d", "0", "12x", "-1h"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *const extra[] = {"--session-ttl", bad[i], NULL};
        cf_itest_server_t srv = {0};
        char alias[16]; /* a log of its own */
        snprintf(alias, sizeof(alias), "bad%zu", i);
        /* refused while reading the options (exit 2), before it touches Redis */
        assert_int_equal(cf_itest_server_run(&srv, s.dir, s.redis.port, alias, extra), 2);
        assert_true(cf_itest_server_log_has(&srv, "session-ttl"));
    }
    const char *const edge[] = {"--session-ttl", "1m", NULL};
    cf_itest_server_t srv = {0};
    assert_int_equal(cf_itest_server_start(&srv, s.dir, s.redis.port, "srv3", edge), CF_OK);
    s_login_lasts(&srv, 60);
    cf_itest_server_stop(&srv, SIGTERM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_ttl),
        cmocka_unit_test(test_out_of_range),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
