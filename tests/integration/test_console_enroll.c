/*  test_console_enroll - `cf-console token create` and `agent revoke|decommission` end to
    end: a real cf-server on a real redis-server, agents enrolling with curl  */
#include "cf_itest.h"
#include "cf_itest_console.h"
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cf_curve.h"
#include "cf_seal.h"

#define EXPECT(code, has, ...) cf_itest_console_expect(__LINE__, NULL, code, has, __VA_ARGS__)
#define REAL                   "-c real.conf"

static const char *s_dir; /* the test's directory */

static struct {
    cf_itest_redis_t redis; /* the store */
    pid_t pid;              /* cf-server */
    int port, plain;        /* its TLS and plain ports */
} s_real;

static int s_setup(void **state)
{
    (void) state;
    char log[800], secret[800], cmd[2048];
    cf_itest_console_setup("test_console_enroll");
    s_dir = cf_itest_console_dir();
    cf_why_t why = {""};
    assert_int_equal(cf_itest_redis_start(&s_real.redis, NULL), CF_OK);
    cf_itest_console_path(secret, sizeof(secret), "secret");
    assert_int_equal(cf_seal_generate_file(secret, "enroll-1", &why), CF_OK);
    assert_int_equal(cf_test_sh("mkdir -p '%s/out'", s_dir), 0);
    s_real.port = cf_itest_free_port();
    s_real.plain = cf_itest_free_port();
    cf_itest_console_path(log, sizeof(log), "cf-server.log");
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && exec '%s' --redis 127.0.0.1:%d --alias srv-a --san 127.0.0.1 --port %d "
             "--plain-port %d --secret-file secret --admin-password-file real.pass --init --out "
             "out --log-level info",
             s_dir, cf_itest_console_server_bin(), s_real.redis.port, s_real.port, s_real.plain);
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    assert_int_equal(cf_itest_spawn(argv, log, &s_real.pid), CF_OK);
    if (cf_itest_wait_port("127.0.0.1", s_real.port, 30000) != CF_OK)
        fail_msg("cf-server did not start; see %s", log);
    assert_int_equal(cf_test_sh("cd '%s' && printf 'server = https://127.0.0.1:%d\\nca = "
                                "out/ca.pem\\ncert = out/console.p12\\ncert-password-file = "
                                "out/p12.pass\\n' >real.conf",
                                s_dir, s_real.port),
                     0);
    EXPECT(0, NULL, "login " REAL " --user admin --password-file real.pass");
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    if (s_real.pid > 0 && cf_itest_kill(s_real.pid, SIGTERM) != CF_OK)
        print_message("cf-server was already gone\n");
    cf_itest_redis_stop(&s_real.redis);
    cf_itest_console_teardown();
    return 0;
}

/* An agent enrolls id with token over the plain listener (push mode): the HTTP status. */
static int s_enroll(const char *id, const char *token)
{
    cf_curve_keypair_t kp;
    char z85[CF_CURVE_Z85_LEN + 1];
    assert_int_equal(cf_curve_keypair_new(&kp), CF_OK);
    cf_curve_z85_encode(kp.pub, z85);
    cf_curve_keypair_wipe(&kp);
    /* Z85 may hold characters the shell treats specially: the body goes through a file */
    char path[800], body[400];
    cf_itest_console_path(path, sizeof(path), "enroll.json");
    int n = snprintf(body, sizeof(body), "{\"id\":\"%s\",\"curve\":\"%s\",\"token\":\"%s\"}", id,
                     z85, token);
    cf_test_write_file(path, body, (size_t) n);
    return cf_test_sh("test $(curl -s -o /dev/null -w '%%{http_code}' -X POST -H 'Content-Type: "
                      "application/json' --data-binary @'%s' "
                      "http://127.0.0.1:%d/api/v1/agent/enroll) = 200",
                      path, s_real.plain) == 0
               ? 200
               : 0;
}

/* The token the last `token create` printed (plain output: the token alone on stdout). */
static void s_last_token(char *token, size_t len)
{
    char *out = cf_itest_console_out(0);
    out[strcspn(out, "\n")] = '\0';
    assert_int_equal(strlen(out), 43);
    snprintf(token, len, "%s", out);
    free(out);
}

static void test_token_create(void **state)
{
    (void) state;
    char token[64];
    EXPECT(0, "valid until", "token create --uses 2 --ttl 1h " REAL);
    s_last_token(token, sizeof(token));
    assert_int_equal(s_enroll("con-1", token), 200);
    assert_int_equal(s_enroll("con-2", token), 200);
    assert_int_equal(s_enroll("con-3", token), 0); /* used up */
    EXPECT(0, "con-1", "agent list " REAL);
    EXPECT(0, NULL, "token create --json " REAL);
    json_t *uses = cf_itest_console_at("uses");
    assert_int_equal(json_integer_value(uses), 1);
    assert_int_equal(strlen(json_string_value(cf_itest_console_at("token"))), 43);
    /* bad lines never reach the server */
    EXPECT(2, "--uses", "token create --uses 0 " REAL);
    EXPECT(2, "--ttl", "token create --ttl 400d " REAL);
    EXPECT(2, NULL, "token create extra " REAL);
    EXPECT(0, "Usage: cf-console token create", "token create --help");
}

static void test_revoke_and_decommission(void **state)
{
    (void) state;
    EXPECT(0, "agent con-1 revoked", "agent revoke con-1 " REAL);
    assert_true(cf_itest_console_has("broker key: removed"));
    assert_true(cf_itest_console_has("open job entries cancelled: 0"));
    assert_false(
        cf_itest_redis_reply_has(s_real.redis.port, "1", "HEXISTS cf:agent:{con-1} curve"));
    EXPECT(0, "Revoked", "agent show con-1 " REAL); /* still listed, marked */
    EXPECT(0, NULL, "agent revoke con-1 --json " REAL);
    assert_false(json_is_true(cf_itest_console_at("key_removed"))); /* nothing left to cut */
    /* decommission asks first: without a terminal it needs --yes */
    EXPECT(2, "--yes", "agent decommission con-2 " REAL);
    assert_true(cf_itest_redis_reply_has(s_real.redis.port, "1", "HEXISTS cf:agent:{con-2} curve"));
    EXPECT(0, "agent con-2 decommissioned", "agent decommission con-2 --yes " REAL);
    assert_false(
        cf_itest_redis_reply_has(s_real.redis.port, "1", "HEXISTS cf:agent:{con-2} curve"));
    EXPECT(1, "404", "agent show con-2 " REAL);
    EXPECT(1, "not_found", "agent decommission con-2 --yes " REAL);
    EXPECT(1, NULL, "agent revoke nobody " REAL);
    EXPECT(2, "not an agent id", "agent revoke Bad! " REAL);
    EXPECT(0, "Asks for confirmation", "agent decommission --help");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_create),
        cmocka_unit_test(test_revoke_and_decommission),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
