/*  test_console_cmds - cf-console's operator commands (ssl, cert, server, agent, user, audit)
    against the Python stub of the API (test_console_cmds_real: against a real cf-server)  */
#include "cf_itest.h"
#include "cf_itest_console.h"
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#define S_P12_PASS CF_ITEST_CONSOLE_P12_PASS

static const char *s_dir;  /* the test's directory: certificates, password files, outputs */
static const char *s_cf;   /* the cf-console binary */
static const char *s_home; /* $HOME for cf-console */
static pid_t s_stub;       /* the Python stub */
static int s_stub_port;    /* its port */

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

#define IMP   "cert import --component " /* then console, agent, or a server */
#define STUB  "--server https://127.0.0.1:%d"
#define STUBS "server --name stub "
#define LOGIN "login --server https://127.0.0.1:%d --user %s --password-file %s.pass"

static int s_has(const char *text)
{
    return cf_itest_console_has(text);
}

static json_t *s_at(const char *path)
{
    return cf_itest_console_at(path);
}

/* ---- the stub --------------------------------------------------------------------- */

static int s_port_written(void *ctx)
{
    (void) ctx;
    char path[800];
    cf_itest_console_path(path, sizeof(path), "stub.port");
    return access(path, R_OK) == 0;
}

static void s_stub_start(void)
{
    char script[800], port_file[800], log[800], cmd[2048];
    cf_test_src_path("integration/stubs/api_stub.py", script, sizeof(script));
    cf_itest_console_path(port_file, sizeof(port_file), "stub.port");
    cf_itest_console_path(log, sizeof(log), "stub.log");
    unlink(port_file);
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && exec /usr/bin/python3 '%s' --cert srv.pem --key srv.key --ca ca.pem "
             "--port-file stub.port",
             s_dir, script);
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    assert_int_equal(cf_itest_spawn(argv, log, &s_stub), CF_OK);
    assert_true(cf_test_wait_until(s_port_written, NULL, 10000));
    char *text = cf_test_read_file(port_file, NULL);
    s_stub_port = atoi(text);
    free(text);
    assert_true(s_stub_port > 0);
}

static int s_setup(void **state)
{
    (void) state;
    cf_itest_console_setup("test_console_cmds");
    s_dir = cf_itest_console_dir();
    s_cf = cf_itest_console_bin();
    s_home = cf_itest_console_home();
    s_stub_start();
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    if (s_stub > 0)
        assert_int_equal(cf_itest_kill(s_stub, SIGTERM), CF_OK);
    cf_itest_console_teardown();
    return 0;
}

/* ---- against the stub --------------------------------------------------------------- */

static void test_usage(void **state)
{
    (void) state;
    /* console.conf gives --ca, --cert and its password; --server names the stub */
    EXPECT(0, NULL, LOGIN, s_stub_port, "admin", "admin");
    EXPECT(0, "Communication without SSL", "ssl show " STUB, s_stub_port);
    assert_true(s_has("allowed: agents without a certificate are served"));
    assert_true(s_has("2 of 5 at their last check-in"));
    EXPECT(0, "LAST CONNECTED", "agent list " STUB, s_stub_port);
    assert_true(s_has("fleet: 5 agents: 1 secure, 1 attention, 2 insecure, 1 expired"));
    assert_true(s_has("migration: 2 agents of 5 still connect without a certificate"));
    /* --json: the server's JSON as it came */
    EXPECT(0, NULL, "ssl show --json " STUB, s_stub_port);
    assert_true(json_is_true(s_at("allow_plain")));
    assert_int_equal(AT_INT("migration.total_agents"), 5);
}

static void test_usage_errors(void **state)
{
    (void) state;
    EXPECT(0, "allow-plain", "ssl --help");
    EXPECT(0, "--days N", "ssl auto-renew --help");
    assert_true(s_has("3 not logged in"));
    EXPECT(2, "unknown command", "ssl bogus");
    EXPECT(2, NULL, "ssl");
    EXPECT(2, "https://HOST[:PORT]", "ssl show --server http://127.0.0.1:%d", s_stub_port);
    static const char *const bad[][2] = {
        /* exit 2, before anything is sent */
        {"ssl allow-plain maybe", "on or off"},
        {"ssl allow-plain", "missing argument"},
        {"ssl show extra", "unexpected argument"},
        {"ssl auto-renew on --days 0", "--days"},
        {"ssl min-tls 1.4", "1.0, 1.1, 1.2 or 1.3"},
        {"server add Bad_Alias!", "not an alias"},
        {"server add x1 --ip-range 10.0.0.9-10.0.0.1", "--ip-range"},
        {"server update stub", "nothing to change"},
        {"agent list --state green", "--state"},
        {"agent show Agent!1", "not an agent id"},
        {"agent favorite agent-1", "--to ALIAS"},
        {"agent favorite agent-1 --to stub --clear", "--to ALIAS, or --clear"},
        {"user add Bad/Name", "not a user name"},
        {"audit --since yesterday", "UTC date"},
        {"cert show", "--component"},
        {"cert show --component server", "--name ALIAS"},
        {"cert show --component console --name a/b", "not a certificate name"},
        {IMP "agent con.p12 --from-store /x", "not both"},
        {IMP "agent --from-store /x", "--match"},
        {IMP "agent con.p12 --match x", "goes with --from-store"},
        {IMP "agent srv.pem --key srv.key --public-only", "drop --key"},
        {"cert export --component console", "--out FILE"},
        {"cert revoke", "SERIAL or --agent"},
        {"cert revoke xyz", "not a serial"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        EXPECT(2, bad[i][1], "%s " STUB, bad[i][0], s_stub_port);
}

static void test_ssl(void **state)
{
    (void) state;
    EXPECT(0, "refused: agents must present a certificate", "ssl allow-plain off " STUB,
           s_stub_port);
    assert_true(s_has("2 agents had no certificate"));
    EXPECT(0, "disabled", "ssl disable " STUB, s_stub_port);
    EXPECT(0, "enabled", "ssl enable " STUB, s_stub_port);
    EXPECT(0, "on, 20 days before expiry", "ssl auto-renew on --days 20 " STUB, s_stub_port);
    EXPECT(0, "off, 20 days before expiry", "ssl auto-renew off " STUB, s_stub_port);
    EXPECT(0, "TLS below 1.2 is weak", "ssl min-tls 1.1 " STUB, s_stub_port);
    EXPECT(0, NULL, "ssl min-tls 1.2 --json " STUB, s_stub_port);
    assert_string_equal(AT_STR("min_tls"), "1.2");
    assert_true(json_is_false(s_at("allow_plain")));
    EXPECT(0, NULL, "ssl allow-plain on " STUB, s_stub_port);
    /* migration readiness, a page at a time */
    EXPECT(0, "agent-3", "ssl insecure --limit 1 " STUB, s_stub_port);
    assert_true(s_has("more: add --cursor 1"));
    EXPECT(0, "agent-5", "ssl insecure --limit 1 --cursor 1 " STUB, s_stub_port);
    assert_false(s_has("more:"));
}

static void test_servers(void **state)
{
    (void) state;
    EXPECT(0, "127.0.0.0/24", "server list " STUB, s_stub_port);
    assert_true(s_has("ALIAS  HOST"));
    /* host bits are cleared, and the console says so */
    EXPECT(0, "10.0.0.0/8", "server add X1 --port 7006 --priority 3 --ip-range 10.1.2.3/8 " STUB,
           s_stub_port);
    assert_true(s_has("x1"));
    EXPECT(1, "exists", "server add x1 " STUB, s_stub_port);
    assert_true(s_has("409"));
    /* update sends only what was given: the port stays */
    EXPECT(0, NULL, "server update x1 --priority -9 --json " STUB, s_stub_port);
    assert_int_equal(AT_INT("priority"), -9);
    assert_int_equal(AT_INT("port"), 7006);
    EXPECT(0, NULL, "server update x1 --ip-range '' --host h.example " STUB, s_stub_port);
    EXPECT(0, NULL, "server list --json " STUB, s_stub_port);
    assert_string_equal(AT_STR("servers.1.host"), "h.example");
    assert_int_equal(AT_SIZE("servers.1.ip_ranges"), 0);
    EXPECT(0, "removed server x1", "server remove x1 " STUB, s_stub_port);
    EXPECT(1, "no server x1", "server remove x1 " STUB, s_stub_port);
}

static void test_agents(void **state)
{
    (void) state;
    EXPECT(0, "agent-4  expired", "agent list " STUB, s_stub_port);
    assert_true(s_has("agent-2  attention "));
    assert_false(s_has("\033")); /* no colour off a terminal, nothing from the server either */
    assert_true(s_has("evil?[2J?"));
    EXPECT(0, "agent-2", "agent list --state attention " STUB, s_stub_port);
    assert_false(s_has("agent-1"));
    EXPECT(0, "more: add --cursor 2", "agent list --limit 2 " STUB, s_stub_port);
    /* filters: checked here (exit 2), sent as the API's query */
    EXPECT(0, "agent-3", "agent list --ip-range 127.0.0.9-127.0.0.10 --last-server STUB " STUB,
           s_stub_port);
    assert_true(s_has("agent-4"));
    assert_false(s_has("agent-1 "));
    assert_true(s_has("fleet: 5 agents")); /* the counts stay the fleet's */
    EXPECT(0, "agent-1", "agent list --seen-before 5m " STUB, s_stub_port); /* 400 s ago */
    assert_false(s_has("agent-3"));
    EXPECT(0, "agent-5", "agent list --seen-after 150s " STUB, s_stub_port); /* 50, 100 s */
    assert_false(s_has("agent-3"));
    EXPECT(2, "--ip-range", "agent list --ip-range 10.0.0.300 " STUB, s_stub_port);
    EXPECT(2, "not a server alias", "agent list --last-server _bad " STUB, s_stub_port);
    EXPECT(2, "--seen-before", "agent list --seen-before yesterday " STUB, s_stub_port);
    EXPECT(2, "after --seen-after", "agent list --seen-after 1h --seen-before 2h " STUB,
           s_stub_port);
    /* on a terminal (script(1) gives it one) the markers are coloured, unless NO_COLOR */
    static const char tty[] = "cd '%s' && %s script -qec \"'%s' agent list --server "
                              "https://127.0.0.1:%d\" tty.txt >/dev/null && grep -q "
                              "\"$(printf '\\033')\\\\[33m\" tty.txt";
    assert_int_equal(cf_test_sh(tty, s_dir, "", s_cf, s_stub_port), 0);
    assert_int_equal(cf_test_sh(tty, s_dir, "NO_COLOR=1", s_cf, s_stub_port), 1);
    EXPECT(0, "Certificate SHA-256", "agent show agent-1 " STUB, s_stub_port);
    assert_true(s_has("secure    "));
    EXPECT(1, "no agent agent-9", "agent show agent-9 " STUB, s_stub_port);
    EXPECT(0, "favorite server stub for 2 of 3 agents",
           "agent favorite agent-1 agent-2 agent-9 --to stub " STUB, s_stub_port);
    EXPECT(1, "no server nosuch", "agent favorite agent-1 --to nosuch " STUB, s_stub_port);
    EXPECT(0, "cleared for 1 of 1", "agent favorite agent-2 --clear " STUB, s_stub_port);
    EXPECT(0, NULL, "agent show agent-2 --json " STUB, s_stub_port);
    assert_true(json_is_null(s_at("favorite")));
}

static void test_users_and_audit(void **state)
{
    (void) state;
    EXPECT(0, "USER     ROLE", "user list " STUB, s_stub_port);
    EXPECT(2, "8..1024 printable", "user add newbie --password-file short.pass " STUB, s_stub_port);
    EXPECT(2, "no terminal", "user add newbie " STUB, s_stub_port);
    EXPECT(0, "newbie  viewer", "user add newbie --password-file new.pass " STUB, s_stub_port);
    EXPECT(1, "exists", "user add newbie --password-file new.pass " STUB, s_stub_port);
    /* the new login works; the password appears nowhere */
    EXPECT(0, NULL, LOGIN, s_stub_port, "newbie", "new");
    EXPECT(1, "admin role", "user list " STUB, s_stub_port);
    EXPECT(0, NULL, LOGIN, s_stub_port, "admin", "admin");
    assert_int_equal(cf_test_sh("! grep -rq newbie-pass-1 '%s/transcript.txt' '%s/stub.log' '%s'",
                                s_dir, s_dir, s_home),
                     0);
    EXPECT(0, "removed user newbie", "user remove newbie " STUB, s_stub_port);
    EXPECT(0, "ann@corp", "user add ann@corp --password-file new.pass " STUB, s_stub_port);
    EXPECT(0, "removed user ann@corp", "user remove ann@corp " STUB, s_stub_port); /* %40 */
    EXPECT(1, "no user newbie", "user remove newbie " STUB, s_stub_port);
    EXPECT(0, "save entered user logins off", "user save-logins off " STUB, s_stub_port);
    /* every change so far is in the trail; --since filters, pages have cursors */
    EXPECT(0, "PUT /api/v1/ssl", "audit " STUB, s_stub_port);
    assert_true(s_has("ACTION"));
    EXPECT(0, "POST /api/v1/users", "user audit --since 1h " STUB, s_stub_port);
    EXPECT(0, "no event", "audit --since 2099-01-01 " STUB, s_stub_port);
    EXPECT(0, "more: add --cursor 1", "audit --limit 1 " STUB, s_stub_port);
    EXPECT(0, NULL, "audit --json --limit 2 --cursor 1 " STUB, s_stub_port);
    assert_int_equal(AT_SIZE("events"), 2);
}

static void test_certs(void **state)
{
    (void) state;
    EXPECT(0, "no certificate", "cert list " STUB, s_stub_port);
    EXPECT(0, "generated", "cert generate-all --days 90 " STUB, s_stub_port);
    assert_true(s_has("COMPONENT  NAME"));
    EXPECT(0, "console", "cert list --component console " STUB, s_stub_port);
    assert_false(s_has("shared"));
    EXPECT(0, "the archive is empty", "cert list --archive " STUB, s_stub_port);
    EXPECT(0, "SHA-256", "cert show --component agent " STUB, s_stub_port);
    assert_true(s_has("shared"));
    EXPECT(1, "no server certificate nosuch", "cert show --component server --name nosuch " STUB,
           s_stub_port);
    EXPECT(0, NULL, "cert list --json " STUB, s_stub_port);
    assert_int_equal(AT_SIZE("certs"), 3);
    EXPECT(0, "revoked 1f2e", "cert revoke --agent agent-1 " STUB, s_stub_port);
    assert_true(s_has("the CRL is next updated"));
    EXPECT(0, "revoked 0a1b", "cert revoke 0A:1B " STUB, s_stub_port);
}

static void test_import(void **state)
{
    (void) state;
    /* PKCS#12: opened here first, so a wrong password stops before anything is sent */
    EXPECT(1, "wrong password", IMP "console con.p12 --password-file wrong.pass " STUB,
           s_stub_port);
    EXPECT(2, "no terminal", IMP "console con.p12 " STUB, s_stub_port);
    EXPECT(0, "imported", IMP "console con.p12 --password-file p12.pass " STUB, s_stub_port);
    EXPECT_ENV("PKCS12_PASS=" S_P12_PASS, 0, "CN=console",
               IMP "console --name console con.p12 " STUB, s_stub_port);
    /* PEM: the key in the same file, or beside it; an encrypted key is opened here too */
    EXPECT(0, "imported", IMP STUBS "both.pem " STUB, s_stub_port);
    EXPECT(0, "imported", IMP STUBS "srv.pem --key srv.key " STUB, s_stub_port);
    EXPECT(0, "imported",
           IMP STUBS "srv.pem --key enc.key --password-file "
                     "p12.pass " STUB,
           s_stub_port);
    EXPECT(1, "wrong password for the private key",
           IMP STUBS "srv.pem --key enc.key --password-file "
                     "wrong.pass " STUB,
           s_stub_port);
    EXPECT(2, "holds no private key", IMP STUBS "srv.pem " STUB, s_stub_port);
    /* public only: the stub refuses any body with a key in it */
    EXPECT(0, "public", IMP STUBS "both.pem --public-only " STUB, s_stub_port);
    EXPECT(0, "public", IMP "agent srv.der --public-only " STUB, s_stub_port);
    EXPECT(0, "public", IMP "console con.p12 --public-only --password-file p12.pass " STUB,
           s_stub_port);
    EXPECT(2, "drop --key", IMP "console con.p12 --key srv.key " STUB, s_stub_port);
    EXPECT(1, "neither a certificate", IMP "agent junk.bin " STUB, s_stub_port);
    EXPECT(1, "cannot read", IMP "agent missing.p12 " STUB, s_stub_port);
    /* from a certificate store on the server */
    EXPECT(0, "imported",
           IMP STUBS "--from-store /etc/certs --match "
                     "CN=127.0.0.1 " STUB,
           s_stub_port);
    EXPECT(1, "no certificate in /etc/certs matches",
           IMP STUBS "--from-store /etc/certs --match CN=x " STUB, s_stub_port);
    EXPECT(0, NULL, "cert show --component server --name stub --json " STUB, s_stub_port);
    assert_string_equal(AT_STR("kind"), "imported");
    /* no password in any output or log (the transcript's command lines name PKCS12_PASS) */
    assert_int_equal(cf_test_sh("cd '%s' && ! grep -v '^\\$ ' transcript.txt | grep -q %s && ! "
                                "grep -q %s stub.log",
                                s_dir, S_P12_PASS, S_P12_PASS),
                     0);
}

static void test_export(void **state)
{
    (void) state;
    EXPECT(2, "no terminal", "cert export --component console --out exp.p12 " STUB, s_stub_port);
    EXPECT(0, "mode 0600",
           "cert export --component console --out exp.p12 --password-file p12.pass " STUB,
           s_stub_port);
    MODE_IS("exp.p12", "600");
    assert_int_equal(cf_test_sh("cd '%s' && openssl pkcs12 -in exp.p12 -passin file:p12.pass "
                                "-nokeys | grep -q 'BEGIN CERTIFICATE'",
                                s_dir),
                     0);
    EXPECT(1, "exists",
           "cert export --component console --out exp.p12 --password-file p12.pass " STUB,
           s_stub_port);
    EXPECT_ENV("PKCS12_PASS=" S_P12_PASS, 0, NULL,
               "cert export --component console --out exp.p12 --force " STUB, s_stub_port);
    /* PEM: certificate and chain, never the key */
    EXPECT(0, "certificate and chain", "cert export --component console --out exp.pem " STUB,
           s_stub_port);
    MODE_IS("exp.pem", "644");
    assert_int_equal(cf_test_sh("cd '%s' && test $(grep -c 'BEGIN CERTIFICATE' exp.pem) = 2 && "
                                "! grep -q PRIVATE exp.pem",
                                s_dir),
                     0);
    EXPECT(1, "no server certificate nosuch",
           "cert export --component server --name nosuch --out x.pem " STUB, s_stub_port);
}

static void test_roles_and_exit_codes(void **state)
{
    (void) state;
    /* a viewer reads but changes nothing: 403 is exit 1 */
    EXPECT(0, NULL, LOGIN, s_stub_port, "ops", "ops");
    EXPECT(0, "Minimum TLS version", "ssl show " STUB, s_stub_port);
    EXPECT(1, "admin role", "ssl enable " STUB, s_stub_port);
    assert_true(s_has("403"));
    EXPECT(1, "admin role", IMP "console con.p12 --password-file p12.pass " STUB, s_stub_port);
    /* not logged in: exit 3 before anything is sent */
    EXPECT(0, NULL, "logout " STUB, s_stub_port);
    static const char *const cmds[] = {"ssl show",   "cert list", "server list",
                                       "agent list", "user list", "audit"};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        EXPECT(3, "cf-console login", "%s " STUB, cmds[i], s_stub_port);
    /* a session the server no longer knows: exit 3, and the stale file goes */
    EXPECT(0, NULL, LOGIN, s_stub_port, "admin", "admin");
    assert_int_equal(cf_test_sh("curl -sf --cacert '%s/ca.pem' -X POST "
                                "https://127.0.0.1:%d/api/v1/test/expire",
                                s_dir, s_stub_port),
                     0);
    EXPECT(3, "session expired", "agent list " STUB, s_stub_port);
    EXPECT(3, "not logged in", "agent list " STUB, s_stub_port);
    /* the server goes away: exit 4 */
    EXPECT(0, NULL, LOGIN, s_stub_port, "admin", "admin");
    assert_int_equal(cf_itest_kill(s_stub, SIGTERM), CF_OK);
    s_stub = 0;
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        EXPECT(4, "cannot reach the server", "%s " STUB, cmds[i], s_stub_port);
    EXPECT(4, NULL, IMP "console con.p12 --password-file p12.pass " STUB, s_stub_port);
    s_stub_start();
}

int main(void)
{
    const struct CMUnitTest stub[] = {
        cmocka_unit_test(test_usage),  cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_ssl),    cmocka_unit_test(test_servers),
        cmocka_unit_test(test_agents), cmocka_unit_test(test_users_and_audit),
        cmocka_unit_test(test_certs),  cmocka_unit_test(test_import),
        cmocka_unit_test(test_export), cmocka_unit_test(test_roles_and_exit_codes),
    };
    return cmocka_run_group_tests_name("stub", stub, s_setup, s_teardown);
}
