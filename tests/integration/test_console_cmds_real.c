/*  test_console_cmds_real - cf-console's operator commands against a real cf-server on a
    real redis-server (test_console_cmds: against the Python stub of the API)  */
#include "cf_itest.h"
#include "cf_itest_console.h"
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cf_seal.h"

#define S_REAL_PW CF_ITEST_CONSOLE_REAL_PW

static const char *s_dir; /* the test's directory: password files, out/, outputs */
static const char *s_srv; /* the cf-server binary */

/* Short forms for the cases (cf_itest_console.h runs the binary and reads its output). */
#define EXPECT(code, has, ...) cf_itest_console_expect(__LINE__, NULL, code, has, __VA_ARGS__)
#define EXPECT_ENV(env, code, has, ...) \
    cf_itest_console_expect(__LINE__, env, code, has, __VA_ARGS__)
#define AT_INT(path)  json_integer_value(s_at(path))
#define AT_STR(path)  json_string_value(s_at(path))
#define AT_SIZE(path) json_array_size(s_at(path))

/* Permission bits of a file in the test directory, in octal ("600"). */
#define MODE_IS(file, mode) \
    assert_int_equal(cf_test_sh("test $(stat -c %%a '%s/%s') = %s", s_dir, file, mode), 0)

#define IMP "cert import --component " /* then console, agent, or a server */

static int s_has(const char *text)
{
    return cf_itest_console_has(text);
}

static json_t *s_at(const char *path)
{
    return cf_itest_console_at(path);
}

static int s_run(const char *fmt, ...) CF_PRINTF(1, 2);
static int s_run(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = cf_itest_console_vrun(NULL, fmt, ap);
    va_end(ap);
    return rc;
}

static struct {
    cf_itest_redis_t redis; /* the store */
    pid_t pid;              /* cf-server */
    int port, plain;        /* its TLS and plain ports */
    int api;                /* 1 when the server answers the API routes */
} s_real;

#define REAL "-c real.conf"

static int s_real_setup(void **state)
{
    (void) state;
    char log[800], secret[800], cmd[2048];
    cf_itest_console_setup("test_console_cmds_real");
    s_dir = cf_itest_console_dir();
    s_srv = cf_itest_console_server_bin();
    cf_why_t why = {""};
    assert_int_equal(cf_itest_redis_start(&s_real.redis, NULL), CF_OK);
    cf_itest_console_path(secret, sizeof(secret), "secret");
    assert_int_equal(cf_seal_generate_file(secret, "cmds-1", &why), CF_OK);
    assert_int_equal(cf_test_sh("mkdir -p '%s/out'", s_dir), 0);
    s_real.port = cf_itest_free_port();
    s_real.plain = cf_itest_free_port();
    cf_itest_console_path(log, sizeof(log), "cf-server.log");
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && exec '%s' --redis 127.0.0.1:%d --alias srv-a --san 127.0.0.1 --port %d "
             "--plain-port %d --secret-file secret --admin-password-file real.pass --init --out "
             "out --log-level info",
             s_dir, s_srv, s_real.redis.port, s_real.port, s_real.plain);
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    assert_int_equal(cf_itest_spawn(argv, log, &s_real.pid), CF_OK);
    if (cf_itest_wait_port("127.0.0.1", s_real.port, 30000) != CF_OK)
        fail_msg("cf-server did not start; see %s", log);
    assert_int_equal(cf_test_sh("cd '%s' && printf 'server = https://127.0.0.1:%d\\nca = "
                                "out/ca.pem\\ncert = out/console.p12\\ncert-password-file = "
                                "out/p12.pass\\n' >real.conf",
                                s_dir, s_real.port),
                     0);
    /* the route groups are linked into cf-server as they land on main: without the
       session group there is no login, and nothing here can run */
    s_real.api = s_run("login " REAL " --user admin --password-file real.pass") == 0;
    if (!s_real.api)
        print_message("cf-server answers no login yet (its API groups are not linked in): the "
                      "real-server cases are skipped\n");
    return 0;
}

static int s_real_teardown(void **state)
{
    (void) state;
    if (s_real.pid > 0 && cf_itest_kill(s_real.pid, SIGTERM) != CF_OK)
        print_message("cf-server was already gone\n");
    cf_itest_redis_stop(&s_real.redis);
    cf_itest_console_teardown();
    return 0;
}

/* 1 when cf-server serves the route group probe uses (it exits 0); 0 when the group is
   not linked in yet ("no such route"). Any other failure fails the test. */
static int s_real_has(const char *probe)
{
    if (!s_real.api)
        return 0;
    int rc = s_run("%s " REAL, probe);
    if (rc != 0 && !s_has("no such route"))
        fail_msg("cf-console %s: exit %d (see transcript.txt)", probe, rc);
    if (rc != 0)
        print_message("cf-server does not serve '%s' yet: skipped\n", probe);
    return rc == 0;
}

#define NEED_API(probe)         \
    do {                        \
        if (!s_real_has(probe)) \
            skip();             \
    } while (0)

/* The serial of the archived certificate of component (cert list --archive). */
static void s_archived(const char *component, char *serial, size_t len)
{
    EXPECT(0, NULL, "cert list --archive --json " REAL);
    json_t *c;
    size_t i;
    serial[0] = '\0';
    json_array_foreach(s_at("certs"), i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "component")), component) == 0)
            snprintf(serial, len, "%s", json_string_value(json_object_get(c, "serial")));
    }
    if (!serial[0])
        fail_msg("no archived %s certificate", component);
}

static void test_real_ssl(void **state)
{
    (void) state;
    NEED_API("ssl show");
    EXPECT(0, "enabled", "ssl show " REAL);
    assert_true(s_has("allowed: agents without a certificate are served"));
    EXPECT(0, NULL, "ssl show --json " REAL);
    assert_int_equal(AT_INT("renew_days"), 30);
    EXPECT(0, "refused: agents must present a certificate", "ssl allow-plain off " REAL);
    EXPECT(0, "allowed", "ssl allow-plain on " REAL);
    EXPECT(0, NULL, "ssl auto-renew on --days 20 --json " REAL);
    assert_true(json_is_true(s_at("auto_renew")));
    assert_int_equal(AT_INT("renew_days"), 20);
    EXPECT(0, "1.3", "ssl min-tls 1.3 " REAL);
    EXPECT(0, "1.2", "ssl min-tls 1.2 " REAL);
}

static void test_real_servers(void **state)
{
    (void) state;
    NEED_API("server list");
    EXPECT(0, "srv-a", "server list " REAL);
    assert_true(s_has("yes")); /* online: its heartbeat is live */
    EXPECT(0, "srv-x", "server add srv-x --port 7100 --priority 5 --ip-range 127.0.0.0/24 " REAL);
    EXPECT(1, "409", "server add srv-x " REAL);
    EXPECT(0, NULL, "server update srv-x --priority 7 --json " REAL);
    assert_int_equal(AT_INT("priority"), 7);
    assert_int_equal(AT_INT("port"), 7100);
    EXPECT(0, "removed server srv-x", "server remove srv-x " REAL);
    EXPECT(1, "404", "server remove srv-x " REAL);
}

static void test_real_agents(void **state)
{
    (void) state;
    NEED_API("agent list");
    /* an agent checks in without a certificate on the plain port (allow-plain is on) */
    assert_int_equal(cf_test_sh("curl -sf -X POST -H 'Content-Type: application/json' -d "
                                "'{\"id\":\"agent-1\",\"version\":\"0.1.0\"}' "
                                "http://127.0.0.1:%d/api/v1/agent/checkin >/dev/null",
                                s_real.plain),
                     0);
    EXPECT(0, "agent-1  insecure", "agent list " REAL);
    assert_true(s_has("0.1.0"));
    EXPECT(0, NULL, "agent list --state insecure --json " REAL);
    assert_int_equal(AT_SIZE("agents"), 1);
    assert_int_equal(AT_INT("counts.insecure"), 1);
    EXPECT(0, "no agent", "agent list --state secure " REAL);
    EXPECT(0, "127.0.0.1", "agent show agent-1 " REAL);
    EXPECT(0, "favorite server srv-a for 1 of 1", "agent favorite agent-1 --to srv-a " REAL);
    EXPECT(0, "srv-a", "agent show agent-1 " REAL);
    EXPECT(1, "404", "agent favorite agent-1 --to nosuch " REAL);
    EXPECT(0, "agent-1", "ssl insecure " REAL);
}

static void test_real_certs(void **state)
{
    (void) state;
    NEED_API("cert list");
    EXPECT(0, "shared", "cert list " REAL);
    assert_true(s_has("srv-a"));
    EXPECT(0, "CN=", "cert show --component console " REAL);
    /* export, then import the file back (a wrong password first) */
    EXPECT(0, "mode 0600",
           "cert export --component console --out real-con.p12 --password-file p12.pass " REAL);
    MODE_IS("real-con.p12", "600");
    assert_int_equal(cf_test_sh("cd '%s' && openssl pkcs12 -in real-con.p12 -passin "
                                "file:p12.pass -nokeys | grep -q 'BEGIN CERTIFICATE'",
                                s_dir),
                     0);
    EXPECT(1, "wrong password", IMP "console real-con.p12 --password-file wrong.pass " REAL);
    EXPECT(0, "imported", IMP "console real-con.p12 --password-file p12.pass " REAL);
    EXPECT(0, "certificate and chain", "cert export --component console --out real-con.pem " REAL);
    EXPECT(0, "public", IMP "console real-con.pem --public-only " REAL);
    /* from a directory on the server */
    assert_int_equal(
        cf_test_sh("mkdir -p '%s/store' && cp '%s/real-con.p12' '%s/store/'", s_dir, s_dir, s_dir),
        0);
    EXPECT(0, "imported",
           IMP "console --from-store %s/store --match console "
               "--password-file p12.pass " REAL,
           s_dir);
    /* generate all: the replaced ones go to the archive; revoke the shared agent one */
    EXPECT(0, "generated", "cert generate-all " REAL);
    char serial[80];
    s_archived("agent", serial, sizeof(serial));
    EXPECT(0, "revoked", "cert revoke %s " REAL, serial);
    assert_true(s_has(serial));
}

static void test_real_users(void **state)
{
    (void) state;
    NEED_API("user list");
    EXPECT(0, "ops", "user add ops --role viewer --password-file ops.pass " REAL);
    EXPECT(0, "viewer", "user list " REAL);
    EXPECT(0, NULL, "login " REAL " --user ops --password-file ops.pass");
    EXPECT(0, "ops (viewer)", "whoami " REAL);
    EXPECT(1, "403", "user list " REAL);
    EXPECT(1, "403", "user save-logins on " REAL);
    EXPECT(0, NULL, "login " REAL " --user admin --password-file real.pass");
    EXPECT(0, "removed user ops", "user remove ops " REAL);
    EXPECT(1, "404", "user remove ops " REAL);
    EXPECT(0, "save entered user logins off", "user save-logins off " REAL);
    EXPECT(0, "user.create", "audit --since 1h " REAL);
    assert_true(s_has("policy.console"));
    EXPECT(0, NULL, "audit --json --limit 5 " REAL);
    assert_int_equal(AT_SIZE("events"), 5);
    assert_int_equal(
        cf_test_sh("! grep -rq %s '%s/transcript.txt' '%s/cf-server.log'", S_REAL_PW, s_dir, s_dir),
        0);
}

static void test_real_exit_codes(void **state)
{
    (void) state;
    NEED_API("user list");
    EXPECT(0, NULL, "logout " REAL);
    EXPECT(3, "cf-console login", "user list " REAL);
    EXPECT(0, NULL, "login " REAL " --user admin --password-file real.pass");
    if (s_real_has("cert list")) {
        /* this console's own certificate (from --init, archived by generate-all) revoked:
           the server refuses it in the handshake, which is exit 4 */
        char serial[80];
        s_archived("console", serial, sizeof(serial));
        EXPECT(0, "revoked", "cert revoke %s " REAL, serial);
        EXPECT(4, NULL, "user list " REAL); /* the alert may be lost in the close (TLS 1.3) */
        assert_int_equal(cf_test_sh("grep -q 'refused reason=revoked' '%s/cf-server.log'", s_dir),
                         0);
    }
    assert_int_equal(cf_itest_kill(s_real.pid, SIGTERM), CF_OK);
    s_real.pid = 0;
    EXPECT(4, "cannot reach the server", "user list " REAL);
    EXPECT(4, NULL, "audit " REAL);
}

int main(void)
{
    const struct CMUnitTest real[] = {
        cmocka_unit_test(test_real_ssl),    cmocka_unit_test(test_real_servers),
        cmocka_unit_test(test_real_agents), cmocka_unit_test(test_real_certs),
        cmocka_unit_test(test_real_users),  cmocka_unit_test(test_real_exit_codes),
    };
    return cmocka_run_group_tests_name("cf-server", real, s_real_setup, s_real_teardown);
}
