/*  test_console_client - cf-console's HTTPS client against stand-ins: openssl s_server, a stub  */
#include "cf_itest.h"
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cf_ca.h"
#include "cf_mem.h"
#include "cf_p12.h"

#define S_P12_PASS "p12-secret"
#define S_ADMIN_PW "right-password-1"

static char s_dir[512];  /* the test's directory: certificates, password files, out.txt */
static char s_cf[600];   /* the cf-console binary */
static char s_home[700]; /* $HOME for cf-console */
static pid_t s_stub;     /* the Python stub */
static int s_stub_port;  /* its port */

/* ---- fixtures: certificates made with cf_ca, written as the stand-ins need them ---- */

static void s_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", s_dir, name);
}

static void s_write_cert(const char *name, const cf_cert_t *cert)
{
    char path[800], *pem = NULL;
    size_t len = 0;
    assert_int_equal(cf_cert_to_pem(cert, &pem, &len), CF_OK);
    s_path(path, sizeof(path), name);
    cf_test_write_file(path, pem, len);
    cf_mem_free(pem);
}

/* Issue one certificate from ca; writes NAME.pem and NAME.key, or NAME.p12 with p12. */
static void s_issue(cf_ca_t *ca, cf_component_t comp, const char *cn, time_t now, unsigned days,
                    const char *name, int p12)
{
    cf_issue_t req = {.component = comp, .name = cn, .days = days, .now = now};
    cf_cert_t *cert = NULL;
    cf_key_t *key = NULL;
    char path[800], file[200];
    assert_int_equal(cf_ca_issue(ca, &req, &cert, &key), CF_OK);
    if (p12) {
        unsigned char *der = NULL;
        size_t len = 0;
        const cf_cert_t *chain[] = {cf_ca_cert(ca)};
        assert_int_equal(cf_p12_create(key, cert, chain, 1, S_P12_PASS, cn, 0, &der, &len), CF_OK);
        snprintf(file, sizeof(file), "%s.p12", name);
        s_path(path, sizeof(path), file);
        cf_test_write_file(path, der, len);
        cf_mem_free(der);
    } else {
        char *pem = NULL;
        size_t len = 0;
        snprintf(file, sizeof(file), "%s.pem", name);
        s_write_cert(file, cert);
        assert_int_equal(cf_key_to_pem(key, NULL, &pem, &len), CF_OK);
        snprintf(file, sizeof(file), "%s.key", name);
        s_path(path, sizeof(path), file);
        cf_test_write_file(path, pem, len);
        cf_mem_free_secret(pem, len);
    }
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
}

static void s_make_pki(void)
{
    cf_ca_t *ca = NULL, *other = NULL;
    cf_ca_opts_t opts = {.name = "test CA"}, other_opts = {.name = "another CA"};
    assert_int_equal(cf_ca_create(&opts, &ca), CF_OK);
    assert_int_equal(cf_ca_create(&other_opts, &other), CF_OK);
    s_write_cert("ca.pem", cf_ca_cert(ca));
    s_write_cert("ca2.pem", cf_ca_cert(other));
    time_t now = time(NULL);
    s_issue(ca, CF_COMPONENT_SERVER, "127.0.0.1", now, 30, "srv", 0);
    s_issue(other, CF_COMPONENT_SERVER, "127.0.0.1", now, 30, "srv2", 0);
    s_issue(ca, CF_COMPONENT_CONSOLE, "console", now, 30, "con", 1);
    s_issue(other, CF_COMPONENT_CONSOLE, "console", now, 30, "con2", 1);
    s_issue(ca, CF_COMPONENT_CONSOLE, "console", now - 30 * 86400, 1, "old", 1);
    s_issue(ca, CF_COMPONENT_AGENT, "agent-1", now, 30, "agent", 1);
    cf_ca_destroy(&ca);
    cf_ca_destroy(&other);
}

static int s_port_written(void *ctx)
{
    (void) ctx;
    char path[800];
    s_path(path, sizeof(path), "stub.port");
    return access(path, R_OK) == 0;
}

static void s_stub_start(void)
{
    char script[800], port_file[800], log[800];
    cf_test_src_path("integration/stubs/api_stub.py", script, sizeof(script));
    s_path(port_file, sizeof(port_file), "stub.port");
    s_path(log, sizeof(log), "stub.log");
    unlink(port_file);
    /* relative paths: the stub's files are in the test directory, where it starts */
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && exec /usr/bin/python3 '%s' --cert srv.pem --key srv.key --ca ca.pem "
             "--port-file "
             "stub.port",
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
    cf_test_tmpdir("test_console_client", s_dir, sizeof(s_dir));
    const char *bin = getenv("CF_BIN_DIR");
    snprintf(s_cf, sizeof(s_cf), "%s/console/cf-console", bin && *bin ? bin : ".");
    snprintf(s_home, sizeof(s_home), "%s/home", s_dir);
    setenv("HOME", s_home, 1);
    static const char *drop[] = {"CF_CONSOLE_SERVER", "CF_CONSOLE_CA",   "CF_CONSOLE_CERT",
                                 "CF_CONSOLE_CONFIG", "CF_CONSOLE_USER", "PKCS12_PASS",
                                 "https_proxy",       "HTTPS_PROXY",     "all_proxy",
                                 "ALL_PROXY",         "NO_COLOR"};
    for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
        unsetenv(drop[i]);
    s_make_pki();
    assert_int_equal(
        cf_test_sh("cd '%s' && umask 077 && echo %s >p12.pass && echo %s >admin.pass && echo "
                   "wrong-password >wrong.pass && echo ops-password-1 >ops.pass && printf '%%s\\n' "
                   "'pa\"ss\\word 1' >quote.pass && echo big-password-1 >big.pass && echo "
                   "stream-password-1 >stream.pass && echo garbage-password-1 >garbage.pass && "
                   "mkdir -p home/.config/certfleet www/api/v1 && printf 'ca = %s/ca.pem\\ncert = "
                   "%s/con.p12\\ncert-password-file = %s/p12.pass\\n' "
                   ">home/.config/certfleet/console.conf && echo "
                   "'{\"status\":\"ok\",\"alias\":\"s_server\",\"client_cert\":\"console\"}' "
                   ">www/api/v1/health && : >empty.conf",
                   s_dir, S_P12_PASS, S_ADMIN_PW, s_dir, s_dir, s_dir),
        0);
    s_stub_start();
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    if (s_stub > 0)
        assert_int_equal(cf_itest_kill(s_stub, SIGTERM), CF_OK);
    return 0;
}

/* ---- running cf-console ----------------------------------------------------------- */

static char *s_out(void)
{
    char path[800];
    s_path(path, sizeof(path), "out.txt");
    return cf_test_read_file(path, NULL);
}

static int s_out_has(const char *text)
{
    char *out = s_out();
    int found = strstr(out, text) != NULL;
    if (!found)
        print_message("output did not contain '%s':\n%s\n", text, out);
    free(out);
    return found;
}

/* Run `env cf-console args` in the test directory, detached from any terminal (no
   prompt can wait), output to out.txt; returns the exit code. args hold no single quote.
   transcript.txt keeps every run and its output, for reading after a failure. */
static int s_vrun(const char *env, const char *fmt, va_list ap)
{
    char args[2048];
    vsnprintf(args, sizeof(args), fmt, ap);
    return cf_test_sh("cd '%s' && echo '$ %s cf-console %s' >>transcript.txt && env %s setsid -w "
                      "'%s' %s >out.txt 2>&1; rc=$?; cat out.txt >>transcript.txt; exit $rc",
                      s_dir, env ? env : "", args, env ? env : "", s_cf, args);
}

/* Run cf-console with env (may be NULL); its exit code must be code and, unless has is
   NULL, its output must hold has. */
#define EXPECT(code, has, ...)     s_expect(__LINE__, NULL, code, has, __VA_ARGS__)
#define EXPECT_ENV(env, code, ...) s_expect(__LINE__, env, code, NULL, __VA_ARGS__)
static void s_expect(int line, const char *env, int code, const char *has, const char *fmt, ...)
    CF_PRINTF(5, 6);
static void s_expect(int line, const char *env, int code, const char *has, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = s_vrun(env, fmt, ap);
    va_end(ap);
    if (rc != code || (has && !s_out_has(has)))
        fail_msg("line %d: exit %d (wanted %d) from cf-console %s (see transcript.txt)", line, rc,
                 code, fmt);
}

/* How many files $HOME/.config/certfleet/<sub> holds (-1: no such directory); with mode,
   the directory's and the files' permission bits must be 0700 and 0600. */
static int s_count(const char *sub, int check_modes)
{
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "%s/.config/certfleet/%s", s_home, sub);
    struct stat st;
    if (stat(cmd, &st) != 0)
        return -1;
    if (check_modes)
        assert_int_equal(st.st_mode & 0777, 0700);
    if (check_modes && cf_test_sh("test -z \"$(find '%s' -type f ! -perm 600)\"", cmd) != 0)
        fail_msg("a file in %s is not mode 0600", cmd);
    return cf_test_sh("exit $(ls -1 '%s' | wc -l)", cmd);
}

#define STUB "--server https://127.0.0.1:%d"

/* ---- the cases -------------------------------------------------------------------- */

static void test_usage(void **state)
{
    (void) state;
    /* console.conf gives --ca, --cert and its password; --server names the stub */
    EXPECT(0, "GREEN", "connect " STUB, s_stub_port);
    EXPECT(0, "logged in to https://127.0.0.1:",
           "login " STUB " --user admin --password-file admin.pass", s_stub_port);
    EXPECT(0, "admin (admin)", "whoami " STUB, s_stub_port);
    EXPECT(0, NULL, "logout " STUB, s_stub_port);
    EXPECT(3, "not logged in", "whoami " STUB, s_stub_port);
}

static void test_help_and_usage_errors(void **state)
{
    (void) state;
    EXPECT(0, "connect", "--help");
    assert_true(s_out_has("4 server unreachable"));
    EXPECT(0, "--cert-password-file", "connect --help");
    assert_true(s_out_has("GRAY"));
    EXPECT(2, "https://HOST[:PORT]", "connect --server http://127.0.0.1:%d", s_stub_port);
    EXPECT(2, NULL, "whoami --server https://127.0.0.1:1/api");
    EXPECT(2, NULL, "whoami --server https://user@127.0.0.1:1");
    EXPECT(2, NULL, "login --bogus");
    /* no --user, nothing remembered, no terminal */
    EXPECT(2, NULL, "login --server https://127.0.0.2:1 --password-file admin.pass");
    EXPECT(2, "at most 64", "login --user %065d --password-file admin.pass", 0);
    /* no password file and no terminal to ask on */
    EXPECT(2, "no terminal", "login " STUB " --user admin", s_stub_port);
}

/* openssl s_server -WWW serving www/api/v1/health; returns its pid, *port its port. */
static pid_t s_server_start(const char *cert, const char *flags, int *port)
{
    char cmd[2048], log[800];
    pid_t pid = 0;
    *port = cf_itest_free_port();
    assert_true(*port > 0);
    snprintf(cmd, sizeof(cmd),
             "cd '%s/www' && exec openssl s_server -accept 127.0.0.1:%d -cert ../%s.pem -key "
             "../%s.key -CAfile ../ca.pem -WWW %s",
             s_dir, *port, cert, cert, flags);
    s_path(log, sizeof(log), "s_server.log");
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    assert_int_equal(cf_itest_spawn(argv, log, &pid), CF_OK);
    assert_int_equal(cf_itest_wait_port("127.0.0.1", *port, 10000), CF_OK);
    return pid;
}

#define VERIFY "-Verify 1 -verify_return_error"

static void test_lock_states(void **state)
{
    (void) state;
    int port = 0;
    pid_t srv = s_server_start("srv", VERIFY, &port);
    /* GREEN: server verified, our console certificate accepted */
    EXPECT(0, "GREEN  https://127.0.0.1:", "connect --server https://127.0.0.1:%d", port);
    assert_true(s_out_has("CN=console"));
    assert_false(s_out_has("\033[")); /* no colour off a terminal */
    /* on a terminal (script(1) gives it one) the marker is coloured, unless NO_COLOR */
    static const char tty[] = "cd '%s' && %s script -qec \"'%s' connect --server "
                              "https://127.0.0.1:%d\" tty.txt >/dev/null && grep -q "
                              "\"$(printf '\\033')\\\\[1;32m\" tty.txt";
    assert_int_equal(cf_test_sh(tty, s_dir, "", s_cf, port), 0);
    assert_int_not_equal(cf_test_sh(tty, s_dir, "NO_COLOR=1", s_cf, port), 0);
    /* RED: the name we asked for is not the one in the server's certificate */
    EXPECT(4, "localhost", "connect --server https://localhost:%d", port);
    /* GRAY: no certificate selected (a config file without one); this server needs one */
    EXPECT(4, "GRAY", "connect -c empty.conf --ca ca.pem --server https://127.0.0.1:%d", port);
    assert_true(s_out_has("certificate_required"));
    /* RED: ours expired (the server's alert says so) */
    EXPECT(4, "RED", "connect --cert old.p12 --server https://127.0.0.1:%d", port);
    assert_true(s_out_has("certificate_expired"));
    /* RED: ours from another CA */
    EXPECT(4, "RED", "connect --cert con2.p12 --server https://127.0.0.1:%d", port);
    assert_true(s_out_has("unknown_ca"));
    /* --json for scripts */
    EXPECT(0, NULL, "connect --json --server https://127.0.0.1:%d", port);
    char *out = s_out();
    json_t *o = json_loads(out, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "lock")), "green");
    assert_string_equal(json_string_value(json_object_get(o, "tls")), "TLSv1.3");
    assert_non_null(json_object_get(json_object_get(o, "server_cert"), "fingerprint"));
    json_decref(o);
    free(out);
    assert_int_equal(cf_itest_kill(srv, SIGTERM), CF_OK);
}

static void test_lock_server_side(void **state)
{
    (void) state;
    int port = 0;
    /* RED: the server's certificate comes from another CA */
    pid_t srv = s_server_start("srv2", "", &port);
    EXPECT(4, "RED", "connect --server https://127.0.0.1:%d", port);
    assert_true(s_out_has("did not verify"));
    EXPECT(4, NULL,
           "login --server https://127.0.0.1:%d --user admin "
           "--password-file admin.pass",
           port);
    assert_int_equal(cf_itest_kill(srv, SIGTERM), CF_OK);
    /* a server that asks for no certificate: GRAY without one; ours judged locally */
    srv = s_server_start("srv", "", &port);
    EXPECT(0, "GRAY", "connect -c empty.conf --ca ca.pem --server https://127.0.0.1:%d", port);
    EXPECT(1, "RED", "connect --cert old.p12 --server https://127.0.0.1:%d", port);
    assert_true(s_out_has("expired on"));
    EXPECT(1, "not a console certificate", "connect --cert agent.p12 --server https://127.0.0.1:%d",
           port);
    assert_int_equal(cf_itest_kill(srv, SIGTERM), CF_OK);
    /* TLS 1.2 only, our expired certificate: refused in the handshake proper */
    srv = s_server_start("srv", VERIFY " -tls1_2", &port);
    EXPECT(4, "certificate_expired", "connect --cert old.p12 --server https://127.0.0.1:%d", port);
    assert_int_equal(cf_itest_kill(srv, SIGTERM), CF_OK);
    /* a TLS 1.1 server: below our minimum */
    srv = s_server_start("srv", "-tls1_1 -cipher DEFAULT@SECLEVEL=0", &port);
    EXPECT(4, "UNKNOWN", "connect --server https://127.0.0.1:%d", port);
    assert_int_equal(cf_itest_kill(srv, SIGTERM), CF_OK);
    /* nothing listening */
    EXPECT(4, "UNKNOWN", "connect --server https://127.0.0.1:%d", port);
    EXPECT(4, "cannot reach the server",
           "login --server https://127.0.0.1:%d --user admin "
           "--password-file admin.pass",
           port);
}

static void test_login_session_files(void **state)
{
    (void) state;
    /* a wrong password: exit 3, nothing stored */
    EXPECT(3, "wrong user or password", "login " STUB " --user admin --password-file wrong.pass",
           s_stub_port);
    assert_true(s_count("sessions", 0) <= 0);
    /* the right one: a 0600 file in a 0700 directory; the password is nowhere */
    EXPECT(0, NULL, "login " STUB "/ --user admin --password-file admin.pass", s_stub_port);
    assert_int_equal(s_count("sessions", 1), 1);
    assert_int_equal(cf_test_sh("! grep -rq '%s' '%s' '%s/out.txt' '%s/stub.log'", S_ADMIN_PW,
                                s_home, s_dir, s_dir),
                     0);
    assert_int_equal(cf_test_sh("grep -rq '^token ' '%s/.config/certfleet/sessions'", s_home), 0);
    /* the session belongs to that server only (the trailing '/' is the same server) */
    EXPECT(0, "\"user\": \"admin\"", "whoami --json " STUB, s_stub_port);
    EXPECT(3, NULL, "whoami --server https://localhost:%d", s_stub_port);
    /* the server ends every session: whoami says so and drops the stale file */
    assert_int_equal(cf_test_sh("curl -sf --cacert '%s/ca.pem' -X POST "
                                "https://127.0.0.1:%d/api/v1/test/expire",
                                s_dir, s_stub_port),
                     0);
    EXPECT(3, "cf-console login", "whoami " STUB, s_stub_port);
    assert_int_equal(s_count("sessions", 1), 0);
    EXPECT(3, NULL, "logout " STUB, s_stub_port);
}

static void test_saved_logins(void **state)
{
    (void) state;
    /* admin's server policy saves logins: the name is offered next time */
    EXPECT(0, NULL, "login " STUB " --user admin --password-file admin.pass", s_stub_port);
    assert_int_equal(s_count("logins", 1), 1);
    EXPECT(0, "as admin (admin)", "login " STUB " --password-file admin.pass", s_stub_port);
    /* a password with a quote and a backslash goes through JSON intact */
    EXPECT(0, NULL, "login " STUB " --user quote --password-file quote.pass", s_stub_port);
    assert_int_equal(cf_test_sh("grep -rqx quote '%s/.config/certfleet/logins'", s_home), 0);
    /* ops's answer says the policy is off: the names are forgotten */
    EXPECT(0, "\"role\": \"viewer\"", "login " STUB " --user ops --password-file ops.pass --json",
           s_stub_port);
    assert_int_equal(s_count("logins", 0), 0);
    EXPECT(2, NULL, "login " STUB " --password-file ops.pass", s_stub_port);
    EXPECT(0, NULL, "logout " STUB, s_stub_port);
}

static void test_server_errors_and_caps(void **state)
{
    (void) state;
    /* 503 with Retry-After */
    EXPECT(1, "retry after 7 s", "login " STUB " --user busy --password-file admin.pass",
           s_stub_port);
    /* a token that is not one of ours is not stored */
    EXPECT(1, NULL, "login " STUB " --user badtoken --password-file admin.pass", s_stub_port);
    assert_true(s_count("sessions", 0) <= 0);
    /* answers over the cap (with and without a length), and one that is not JSON */
    static const char *users[] = {"big", "stream", "garbage"};
    static const char *says[] = {"over 4 MiB", "over 4 MiB", "not JSON"};
    for (size_t i = 0; i < 3; i++) {
        EXPECT(0, NULL, "login " STUB " --user %s --password-file %s.pass", s_stub_port, users[i],
               users[i]);
        EXPECT(1, NULL, "whoami " STUB, s_stub_port);
        assert_true(s_out_has(says[i]));
    }
    EXPECT(0, NULL, "logout " STUB, s_stub_port);
}

/* The session file of the stub's URL. */
static void s_session_file(char *buf, size_t len)
{
    assert_int_equal(
        cf_test_sh("ls '%s/.config/certfleet/sessions/' | head -1 >'%s/sess.txt'", s_home, s_dir),
        0);
    char path[800];
    s_path(path, sizeof(path), "sess.txt");
    char *name = cf_test_read_file(path, NULL);
    name[strcspn(name, "\n")] = '\0';
    snprintf(buf, len, "%s/.config/certfleet/sessions/%s", s_home, name);
    free(name);
}

static void test_damaged_session_files(void **state)
{
    (void) state;
    char file[1200];
    EXPECT(0, NULL, "login " STUB " --user admin --password-file admin.pass", s_stub_port);
    s_session_file(file, sizeof(file));
    /* readable by others: refused, never sent */
    assert_int_equal(chmod(file, 0644), 0);
    EXPECT(1, "mode 0644", "whoami " STUB, s_stub_port);
    assert_int_equal(chmod(file, 0600), 0);
    EXPECT(0, NULL, "whoami " STUB, s_stub_port);
    /* a damaged token, a file for another server, junk, a file over the cap */
    static const char *bad[][2] = {
        {"sed -i 's/^token .*/token short/' \"$F\"", "damaged"},
        {"sed -i 's|^server .*|server https://127.0.0.1:1|' \"$F\"", "belongs to"},
        {"echo junk >\"$F\"", "damaged"},
        {"head -c 20000 /dev/zero | tr '\\0' x >\"$F\"", "longer than 4096"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        EXPECT(0, NULL, "login " STUB " --user admin --password-file admin.pass", s_stub_port);
        assert_int_equal(cf_test_sh("F='%s'; %s", file, bad[i][0]), 0);
        EXPECT(1, bad[i][1], "whoami " STUB, s_stub_port);
    }
    assert_int_equal(unlink(file), 0);
}

static void test_settings_precedence(void **state)
{
    (void) state;
    char env[1200];
    /* the file names an unreachable server; the environment overrides it; a flag beats both */
    assert_int_equal(cf_test_sh("cd '%s' && printf 'server = https://127.0.0.1:1\\nca = ca.pem\\n"
                                "cert = con.p12\\n' >alt.conf",
                                s_dir),
                     0);
    snprintf(env, sizeof(env), "CF_CONSOLE_CONFIG=alt.conf PKCS12_PASS=%s", S_P12_PASS);
    EXPECT_ENV(env, 4, "connect");
    snprintf(env, sizeof(env),
             "CF_CONSOLE_CONFIG=alt.conf PKCS12_PASS=%s CF_CONSOLE_SERVER=https://127.0.0.1:%d",
             S_P12_PASS, s_stub_port);
    EXPECT_ENV(env, 0, "connect");
    assert_true(s_out_has("GREEN"));
    EXPECT_ENV(env, 4, "connect --server https://127.0.0.1:1");
    /* the PKCS#12 password: a wrong file, then none at all (no terminal) */
    EXPECT(1, "wrong password", "connect " STUB " --cert-password-file wrong.pass", s_stub_port);
    EXPECT_ENV("CF_CONSOLE_CONFIG=alt.conf", 1, "connect " STUB, s_stub_port);
    assert_true(s_out_has("RED"));
    /* a config file the console cannot parse is a usage error that names the line */
    assert_int_equal(cf_test_sh("cd '%s' && echo 'days = 3' >bad.conf", s_dir), 0);
    EXPECT(2, "bad.conf:1", "connect -c bad.conf");
}

static void test_logout_unreachable(void **state)
{
    (void) state;
    EXPECT(0, NULL, "login " STUB " --user admin --password-file admin.pass", s_stub_port);
    /* the server goes away: the session is kept unless asked to forget it */
    assert_int_equal(cf_itest_kill(s_stub, SIGTERM), CF_OK);
    s_stub = 0;
    EXPECT(4, "--forget", "logout " STUB, s_stub_port);
    assert_int_equal(s_count("sessions", 1), 1);
    EXPECT(0, NULL, "logout --forget " STUB, s_stub_port);
    assert_int_equal(s_count("sessions", 1), 0);
    s_stub_start();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_help_and_usage_errors),
        cmocka_unit_test(test_lock_states),
        cmocka_unit_test(test_lock_server_side),
        cmocka_unit_test(test_login_session_files),
        cmocka_unit_test(test_saved_logins),
        cmocka_unit_test(test_server_errors_and_caps),
        cmocka_unit_test(test_damaged_session_files),
        cmocka_unit_test(test_settings_precedence),
        cmocka_unit_test(test_logout_unreachable),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
