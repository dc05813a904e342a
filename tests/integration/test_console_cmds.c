/*  test_console_cmds - cf-console's operator commands (ssl, cert, server, agent, user, audit)
    against the Python stub of the API and against a real cf-server on a real redis-server  */
#include "cf_itest.h"
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cf_ca.h"
#include "cf_mem.h"
#include "cf_p12.h"
#include "cf_seal.h"

#define S_P12_PASS "p12-secret"
#define S_ADMIN_PW "right-password-1"
#define S_REAL_PW  "real-admin-pass-1"

static char s_dir[512];    /* the test's directory: certificates, password files, outputs */
static char s_cf[600];     /* the cf-console binary */
static char s_srv[600];    /* the cf-server binary */
static char s_home[700];   /* $HOME for cf-console */
static pid_t s_stub;       /* the Python stub */
static int s_stub_port;    /* its port */
static unsigned s_runs;    /* cf-console runs so far */
static json_t *s_doc;      /* the JSON a run printed, parsed by s_at */
static unsigned s_doc_run; /* the run s_doc came from */

/* ---- fixtures --------------------------------------------------------------------- */

static void s_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", s_dir, name);
}

static void s_write(const char *name, const void *data, size_t len)
{
    char path[800];
    s_path(path, sizeof(path), name);
    cf_test_write_file(path, data, len);
}

/* Issue from ca: NAME.pem, NAME.key and NAME.p12 (password S_P12_PASS). */
static void s_issue(cf_ca_t *ca, cf_component_t comp, const char *cn, const char *name)
{
    cf_issue_t req = {.component = comp, .name = cn, .days = 30, .now = time(NULL)};
    cf_cert_t *cert = NULL;
    cf_key_t *key = NULL;
    char file[200], *pem = NULL;
    size_t len = 0;
    assert_int_equal(cf_ca_issue(ca, &req, &cert, &key), CF_OK);
    assert_int_equal(cf_cert_to_pem(cert, &pem, &len), CF_OK);
    snprintf(file, sizeof(file), "%s.pem", name);
    s_write(file, pem, len);
    cf_mem_free(pem);
    assert_int_equal(cf_key_to_pem(key, NULL, &pem, &len), CF_OK);
    snprintf(file, sizeof(file), "%s.key", name);
    s_write(file, pem, len);
    cf_mem_free_secret(pem, len);
    unsigned char *der = NULL;
    const cf_cert_t *chain[] = {cf_ca_cert(ca)};
    assert_int_equal(cf_p12_create(key, cert, chain, 1, S_P12_PASS, cn, 0, &der, &len), CF_OK);
    snprintf(file, sizeof(file), "%s.p12", name);
    s_write(file, der, len);
    cf_mem_free(der);
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
}

static void s_make_pki(void)
{
    cf_ca_t *ca = NULL;
    cf_ca_opts_t opts = {.name = "test CA"};
    char *pem = NULL;
    size_t len = 0;
    assert_int_equal(cf_ca_create(&opts, &ca), CF_OK);
    assert_int_equal(cf_cert_to_pem(cf_ca_cert(ca), &pem, &len), CF_OK);
    s_write("ca.pem", pem, len);
    cf_mem_free(pem);
    s_issue(ca, CF_COMPONENT_SERVER, "127.0.0.1", "srv");
    s_issue(ca, CF_COMPONENT_CONSOLE, "console", "con");
    cf_ca_destroy(&ca);
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
    char script[800], port_file[800], log[800], cmd[2048];
    cf_test_src_path("integration/stubs/api_stub.py", script, sizeof(script));
    s_path(port_file, sizeof(port_file), "stub.port");
    s_path(log, sizeof(log), "stub.log");
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
    cf_test_tmpdir("test_console_cmds", s_dir, sizeof(s_dir));
    const char *bin = getenv("CF_BIN_DIR");
    snprintf(s_cf, sizeof(s_cf), "%s/console/cf-console", bin && *bin ? bin : ".");
    snprintf(s_srv, sizeof(s_srv), "%s/server/cf-server", bin && *bin ? bin : ".");
    snprintf(s_home, sizeof(s_home), "%s/home", s_dir);
    setenv("HOME", s_home, 1);
    static const char *drop[] = {"CF_CONSOLE_SERVER", "CF_CONSOLE_CA",   "CF_CONSOLE_CERT",
                                 "CF_CONSOLE_CONFIG", "CF_CONSOLE_USER", "PKCS12_PASS",
                                 "https_proxy",       "HTTPS_PROXY",     "all_proxy",
                                 "ALL_PROXY",         "NO_COLOR",        "CF_ADMIN_PASSWORD"};
    for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
        unsetenv(drop[i]);
    s_make_pki();
    assert_int_equal(
        cf_test_sh("cd '%s' && umask 077 && echo %s >p12.pass && echo %s >admin.pass && "
                   "echo wrong-password >wrong.pass && echo ops-password-1 >ops.pass && "
                   "echo newbie-pass-1 >new.pass && echo short >short.pass && "
                   "printf '%%s' %s >real.pass && cat srv.pem srv.key >both.pem && "
                   "openssl x509 -in srv.pem -outform der -out srv.der && "
                   "openssl pkcs8 -topk8 -v2 aes-256-cbc -in srv.key -passout file:p12.pass "
                   "-out enc.key && head -c 3000 /dev/urandom >junk.bin && "
                   "mkdir -p home/.config/certfleet && printf 'ca = %s/ca.pem\\ncert = "
                   "%s/con.p12\\ncert-password-file = %s/p12.pass\\n' "
                   ">home/.config/certfleet/console.conf",
                   s_dir, S_P12_PASS, S_ADMIN_PW, S_REAL_PW, s_dir, s_dir, s_dir),
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

/* Run `env cf-console args` in the test directory, detached from any terminal (no prompt
   can wait): stdout to out.txt, stderr to err.txt; returns the exit code. args hold no
   single quote. transcript.txt keeps every run and its output. */
static int s_vrun(const char *env, const char *fmt, va_list ap)
{
    char args[2048];
    vsnprintf(args, sizeof(args), fmt, ap);
    s_runs++;
    return cf_test_sh(
        "cd '%s' && echo '$ %s cf-console %s' >>transcript.txt && env %s setsid -w "
        "'%s' %s >out.txt 2>err.txt; rc=$?; cat out.txt err.txt >all.txt; cat all.txt "
        ">>transcript.txt; exit $rc",
        s_dir, env ? env : "", args, env ? env : "", s_cf, args);
}

static int s_run(const char *fmt, ...) CF_PRINTF(1, 2);
static int s_run(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = s_vrun(NULL, fmt, ap);
    va_end(ap);
    return rc;
}

/* stdout ("out.txt"), or stdout and stderr ("all.txt"), of the last run (free). */
static char *s_out(int with_err)
{
    char path[800];
    s_path(path, sizeof(path), with_err ? "all.txt" : "out.txt");
    return cf_test_read_file(path, NULL);
}

static int s_has(const char *text)
{
    char *out = s_out(1);
    int found = strstr(out, text) != NULL;
    if (!found)
        print_message("output did not contain '%s':\n%s\n", text, out);
    free(out);
    return found;
}

/* The value at path ("migration.total_agents", "servers.1.host"; "" is the whole answer)
   in the JSON the last run printed on stdout (borrowed until the next run; fails the
   test when stdout is not JSON). NULL when the path leads nowhere. */
static json_t *s_at(const char *path)
{
    json_error_t err;
    if (!s_doc || s_doc_run != s_runs) {
        char *out = s_out(0);
        json_decref(s_doc);
        s_doc = json_loads(out, 0, &err);
        s_doc_run = s_runs;
        if (!s_doc)
            fail_msg("stdout is not JSON (%s):\n%s", err.text, out);
        free(out);
    }
    json_t *v = s_doc;
    for (const char *p = path; *p && v; p += strcspn(p, "."), p += *p == '.') {
        char key[64];
        snprintf(key, sizeof(key), "%.*s", (int) strcspn(p, "."), p);
        v = json_is_array(v) ? json_array_get(v, strtoul(key, NULL, 10)) : json_object_get(v, key);
    }
    return v;
}

#define AT_INT(path)  json_integer_value(s_at(path))
#define AT_STR(path)  json_string_value(s_at(path))
#define AT_SIZE(path) json_array_size(s_at(path))

#define EXPECT(code, has, ...)          s_expect(__LINE__, NULL, code, has, __VA_ARGS__)
#define EXPECT_ENV(env, code, has, ...) s_expect(__LINE__, env, code, has, __VA_ARGS__)
static void s_expect(int line, const char *env, int code, const char *has, const char *fmt, ...)
    CF_PRINTF(5, 6);
static void s_expect(int line, const char *env, int code, const char *has, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = s_vrun(env, fmt, ap);
    va_end(ap);
    char *err = s_out(1);
    int sanitizer = strstr(err, "Sanitizer") || strstr(err, "runtime error:");
    free(err);
    if (sanitizer) /* an ASan build: its exit code 1 could pass for ours */
        fail_msg("line %d: a sanitizer spoke (see transcript.txt)", line);
    if (rc != code || (has && !s_has(has)))
        fail_msg("line %d: exit %d (wanted %d) from cf-console %s (see transcript.txt)", line, rc,
                 code, fmt);
}

/* Permission bits of a file in the test directory, in octal ("600"). */
#define MODE_IS(file, mode) \
    assert_int_equal(cf_test_sh("test $(stat -c %%a '%s/%s') = %s", s_dir, file, mode), 0)

#define STUB  "--server https://127.0.0.1:%d"
#define IMP   "cert import --component " /* then console, agent, or STUBS */
#define STUBS "server --name stub "
#define LOGIN "login --server https://127.0.0.1:%d --user %s --password-file %s.pass"

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
    assert_true(s_has("fleet: 1 secure, 1 attention, 2 insecure, 1 expired"));
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

/* ---- against a real cf-server on a real redis-server ------------------------------- */

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
    cf_why_t why = {""};
    assert_int_equal(cf_itest_redis_start(&s_real.redis, NULL), CF_OK);
    s_path(secret, sizeof(secret), "secret");
    assert_int_equal(cf_seal_generate_file(secret, "cmds-1", &why), CF_OK);
    assert_int_equal(cf_test_sh("mkdir -p '%s/out'", s_dir), 0);
    s_real.port = cf_itest_free_port();
    s_real.plain = cf_itest_free_port();
    s_path(log, sizeof(log), "cf-server.log");
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
    json_decref(s_doc);
    s_doc = NULL;
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
    const struct CMUnitTest stub[] = {
        cmocka_unit_test(test_usage),  cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_ssl),    cmocka_unit_test(test_servers),
        cmocka_unit_test(test_agents), cmocka_unit_test(test_users_and_audit),
        cmocka_unit_test(test_certs),  cmocka_unit_test(test_import),
        cmocka_unit_test(test_export), cmocka_unit_test(test_roles_and_exit_codes),
    };
    const struct CMUnitTest real[] = {
        cmocka_unit_test(test_real_ssl),    cmocka_unit_test(test_real_servers),
        cmocka_unit_test(test_real_agents), cmocka_unit_test(test_real_certs),
        cmocka_unit_test(test_real_users),  cmocka_unit_test(test_real_exit_codes),
    };
    int failed = cmocka_run_group_tests_name("stub", stub, s_setup, s_teardown);
    failed += cmocka_run_group_tests_name("cf-server", real, s_real_setup, s_real_teardown);
    return failed;
}
