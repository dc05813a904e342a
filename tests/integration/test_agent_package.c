/*  test_agent_package - the install package end to end: `cf-console package create` against
    a real cf-server on a real redis-server, then `cf-agent install` and `cf-agent enroll`
    (their command functions, called here) into state directories  */
#include "cf_itest.h"
#include "cf_itest_console.h"
#include "cf_itest_server.h"
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "cf_agent_bundle.h"
#include "cf_agent_checkin.h"
#include "cf_agent_enroll.h"
#include "cf_agent_install.h"
#include "cf_import.h"
#include "cf_mem.h"
#include "cf_seal.h"

#define EXPECT(code, has, ...) cf_itest_console_expect(__LINE__, NULL, code, has, __VA_ARGS__)
#define REAL                   "-c real.conf"

static const char *s_dir;        /* the test's directory */
static cf_itest_redis_t s_redis; /* the store */
/* what srv-a hands agents as their broker (a well-formed endpoint; nothing listens) */
#define S_BROKER "tcp://127.0.0.1:7010#rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"

static cf_itest_server_t s_srv; /* srv-a, --init */

static int s_setup(void **state)
{
    (void) state;
    char secret[800], pass[800];
    cf_itest_console_setup("test_agent_package");
    s_dir = cf_itest_console_dir();
    cf_why_t why = {""};
    assert_int_equal(cf_itest_redis_start(&s_redis, NULL), CF_OK);
    cf_itest_console_path(secret, sizeof(secret), "secret");
    assert_int_equal(cf_seal_generate_file(secret, "package-1", &why), CF_OK);
    cf_itest_console_path(pass, sizeof(pass), "real.pass");
    const char *extra[] = {"--init",    "--admin-password-file", pass,     "--san",
                           "127.0.0.1", "--agent-broker",        S_BROKER, NULL};
    if (cf_itest_server_start(&s_srv, s_dir, s_redis.port, "srv-a", extra) != CF_OK)
        fail_msg("cf-server did not start; see %s", s_srv.log);
    assert_int_equal(cf_test_sh("cd '%s' && printf 'server = https://127.0.0.1:%d\\nca = "
                                "out/ca.pem\\ncert = out/console.p12\\ncert-password-file = "
                                "out/p12.pass\\n' >real.conf && umask 077 && printf 'own-pass-1' "
                                ">own.pass && printf 'wrong-pass' >wrong.pass",
                                s_dir, s_srv.port),
                     0);
    EXPECT(0, NULL, "login " REAL " --user admin --password-file real.pass");
    /* the packages the tests install */
    EXPECT(0, "enrollment token: none", "package create " REAL " --out pkg-config.json");
    EXPECT(0, "shared agent certificate",
           "package create " REAL " --out pkg-cert.json --with-cert");
    EXPECT(0, "2 uses", "package create " REAL " --out pkg-tok.json --token-uses 2 --token-ttl 1h");
    EXPECT(0, NULL, "package create " REAL " --out pkg-tok1.json --token-uses 1");
    EXPECT(0, NULL,
           "package create " REAL " --out pkg-own.json --with-cert --password-file own.pass "
           "--token-ttl 2h --json");
    unsetenv(CF_AGENT_PASS_ENV);
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    cf_itest_server_stop(&s_srv, SIGTERM);
    cf_itest_redis_stop(&s_redis);
    cf_itest_console_teardown();
    return 0;
}

/* dir/name into a static buffer (one at a time). */
static const char *s_path(const char *name)
{
    static char buf[1200];
    snprintf(buf, sizeof(buf), "%s/%s", s_dir, name);
    return buf;
}

/* The permission bits of dir/name, -1 when it does not exist. */
static int s_mode(const char *name)
{
    struct stat st;
    return stat(s_path(name), &st) == 0 ? (int) (st.st_mode & 0777) : -1;
}

/* cf-agent install with the arguments (NULL-terminated). */
static int s_install(const char *bundle, const char *state, const char *id, const char *pwfile)
{
    char b[1200], d[1200], p[1200];
    snprintf(b, sizeof(b), "%s/%s", s_dir, bundle);
    snprintf(d, sizeof(d), "%s/%s", s_dir, state);
    snprintf(p, sizeof(p), "%s/%s", s_dir, pwfile ? pwfile : "");
    char *argv[12] = {"install", "--bundle", b, "--state-dir", d};
    int n = 5;
    if (id) {
        argv[n++] = "--id";
        argv[n++] = (char *) id;
    }
    if (pwfile) {
        argv[n++] = "--password-file";
        argv[n++] = p;
    }
    return cf_agent_install_cmd(n, argv);
}

static int s_enroll_cmd(const char *state, int push)
{
    char d[1200];
    snprintf(d, sizeof(d), "%s/%s", s_dir, state);
    char *argv[] = {"enroll", "--state-dir", d, "--timeout", "20s", push ? "--push" : NULL, NULL};
    return cf_agent_enroll_cmd(push ? 6 : 5, argv);
}

/* A check-in with the agent's certificate from state: the lock the server recorded. */
static void s_checkin_lock(const char *state, const char *want)
{
    char dir[1200], ca[1300], cert[1300], key[1300];
    snprintf(dir, sizeof(dir), "%s/%s", s_dir, state);
    cf_agent_state_t st = {0};
    cf_why_t why = {""};
    assert_int_equal(cf_agent_state_load(dir, &st, &why), CF_OK);
    snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    cf_agent_http_t h = {0};
    cf_agent_http_for(&h, &st.config.servers.servers[0], 0);
    h.ca_file = ca;
    h.cert_file = cert;
    h.key_file = key;
    cf_agent_answer_t ans;
    long status = 0;
    assert_int_equal(cf_agent_checkin(&h, st.id, 0, &ans, &status, &why), CF_OK);
    assert_int_equal(status, 200);
    assert_string_equal(ans.lock, want);
    cf_agent_answer_clear(&ans);
    cf_agent_state_clear(&st);
}

static void test_package_create(void **state)
{
    (void) state;
    cf_agent_bundle_t b = {0};
    cf_bundle_t *p12 = NULL;
    cf_why_t why = {""};
    assert_int_equal(s_mode("pkg-config.json"), 0600);
    assert_int_equal(cf_agent_bundle_load(s_path("pkg-config.json"), &b, &why), CF_OK);
    assert_null(b.p12);
    assert_string_equal(b.token, "");
    assert_int_equal(b.config.servers.n, 1);
    assert_string_equal(b.config.servers.servers[0].alias, "srv-a");
    assert_int_equal(b.config.servers.servers[0].port, s_srv.port);
    /* the agent-facing broker srv-a was given (--agent-broker) */
    assert_int_equal(b.config.n_brokers, 1);
    assert_string_equal(b.config.brokers[0].endpoint, "tcp://127.0.0.1:7010");
    cf_agent_bundle_clear(&b);
    /* with the certificate under the deployment's password, and a token */
    assert_int_equal(cf_agent_bundle_load(s_path("pkg-tok.json"), &b, &why), CF_OK);
    assert_null(b.p12);
    assert_int_equal(strlen(b.token), CF_DB_ENROLL_TOKEN);
    cf_agent_bundle_clear(&b);
    assert_int_equal(cf_agent_bundle_load(s_path("pkg-cert.json"), &b, &why), CF_OK);
    assert_non_null(b.p12);
    assert_string_equal(b.token, "");
    char *pass = cf_test_read_file(s_path("out/p12.pass"), NULL);
    assert_int_equal(cf_import_p12(b.p12, b.p12_len, pass, NULL, &p12, &why), CF_OK);
    cf_bundle_destroy(&p12);
    assert_int_equal(cf_import_p12(b.p12, b.p12_len, "own-pass-1", NULL, &p12, &why),
                     CF_ERR_BADPASS);
    cf_agent_bundle_clear(&b);
    /* ... under the password of --password-file */
    assert_true(json_is_true(cf_itest_console_at("with_cert")));
    assert_int_equal(cf_agent_bundle_load(s_path("pkg-own.json"), &b, &why), CF_OK);
    assert_int_equal(cf_import_p12(b.p12, b.p12_len, "own-pass-1", NULL, &p12, &why), CF_OK);
    assert_int_equal(strlen(b.token), CF_DB_ENROLL_TOKEN); /* --token-ttl alone: 1 use */
    cf_bundle_destroy(&p12);
    assert_int_equal(cf_import_p12(b.p12, b.p12_len, pass, NULL, &p12, &why), CF_ERR_BADPASS);
    cf_agent_bundle_clear(&b);
    free(pass);
    /* refusals: the command line, then the server's */
    EXPECT(2, "--with-cert", "package create " REAL " --out x.json --password-file own.pass");
    EXPECT(2, "--out", "package create " REAL);
    EXPECT(2, "--token-uses", "package create " REAL " --out x.json --token-uses 0");
    assert_int_equal(s_mode("x.json"), -1);
    EXPECT(0, "Usage: cf-console package create", "package create --help");
    /* audited, never with the token */
    EXPECT(0, "package.create", "audit " REAL " --limit 1000");
}

/* POST /api/v1/packages with curl (an independent client) and the admin session token:
   the HTTP status. cert: an agent's state directory whose certificate to present, or NULL. */
static int s_api(const char *token, const char *body, const char *cert)
{
    char extra[1400] = "";
    if (cert)
        snprintf(extra, sizeof(extra), "--cert '%s/%s/cert.pem' --key '%s/%s/key.pem'", s_dir, cert,
                 s_dir, cert);
    cf_test_write_file(s_path("api-body.json"), body, strlen(body));
    if (cf_test_sh("curl -s -o '%s/api-out.json' -w '%%{http_code}' --cacert '%s/out/ca.pem' %s "
                   "-H 'Authorization: Bearer %s' -H 'Content-Type: application/json' "
                   "--data-binary @'%s/api-body.json' https://127.0.0.1:%d/api/v1/packages "
                   ">'%s/api-status'",
                   s_dir, s_dir, extra, token, s_dir, s_srv.port, s_dir) != 0)
        return 0;
    char *st = cf_test_read_file(s_path("api-status"), NULL);
    int status = atoi(st);
    free(st);
    return status;
}

static void test_package_api(void **state)
{
    (void) state;
    char token[128];
    assert_int_equal(
        cf_test_sh(
            "curl -s --cacert '%s/out/ca.pem' -H 'Content-Type: "
            "application/json' -d '{\"user\":\"admin\",\"password\":\"%s\"}' "
            "https://127.0.0.1:%d/api/v1/login | sed 's/.*\"token\":\"\\([^\"]*\\)\".*/\\1/' "
            ">'%s/api-token'",
            s_dir, CF_ITEST_CONSOLE_REAL_PW, s_srv.port, s_dir),
        0);
    char *t = cf_test_read_file(s_path("api-token"), NULL);
    t[strcspn(t, "\n")] = '\0';
    assert_int_equal(strlen(t), 43);
    snprintf(token, sizeof(token), "%s", t);
    free(t);
    assert_int_equal(s_api(token, "{}", NULL), 200);
    assert_int_equal(s_api(token, "{\"with_cert\":true,\"password\":\"p-1\"}", NULL), 200);
    assert_int_equal(s_api(token, "{\"password\":\"p-1\"}", NULL), 400); /* no with_cert */
    assert_int_equal(s_api(token, "{\"extra\":1}", NULL), 400);
    assert_int_equal(s_api(token, "{\"with_cert\":1}", NULL), 400);
    assert_int_equal(s_api(token, "{\"token_uses\":0}", NULL), 400);
    assert_int_equal(s_api(token, "{\"token_ttl\":31622401}", NULL), 400);
    assert_int_equal(s_api(token, "{\"with_cert\":true,\"password\":\"a\\nb\"}", NULL), 400);
    assert_int_equal(s_api("nobody-0000000000000000000000000000000000000", "{}", NULL), 401);
    /* an agent certificate never reaches admin routes (st-file: after test_install) */
    assert_int_equal(s_api(token, "{}", "st-file"), 403);
    /* the audit trail names the package, never its token */
    cf_agent_bundle_t b = {0};
    cf_why_t why = {""};
    assert_int_equal(cf_agent_bundle_load(s_path("pkg-tok.json"), &b, &why), CF_OK);
    EXPECT(0, "package.create", "audit " REAL " --json --limit 1000");
    char *out = cf_itest_console_out(1);
    assert_null(strstr(out, b.token));
    free(out);
    cf_agent_bundle_clear(&b);
}

static void test_install(void **state)
{
    (void) state;
    /* a wrong password installs nothing */
    setenv(CF_AGENT_PASS_ENV, "wrong-pass", 1);
    assert_int_equal(s_install("pkg-cert.json", "st-wrong", "agent-w", NULL), CF_AGENT_EXIT_FAIL);
    assert_int_equal(s_mode("st-wrong"), -1);
    assert_int_equal(cf_test_sh("ls -d '%s'/st-wrong* 2>/dev/null | grep -q .", s_dir), 1);
    unsetenv(CF_AGENT_PASS_ENV);
    assert_int_equal(s_install("pkg-cert.json", "st-wrong", "agent-w", "wrong.pass"),
                     CF_AGENT_EXIT_FAIL);
    assert_int_equal(s_mode("st-wrong"), -1);
    /* the right one from a file */
    assert_int_equal(s_install("pkg-cert.json", "st-file", "agent-file", "out/p12.pass"),
                     CF_AGENT_EXIT_OK);
    assert_int_equal(s_mode("st-file"), 0700);
    assert_int_equal(s_mode("st-file/agent.json"), 0600);
    assert_int_equal(s_mode("st-file/key.pem"), 0600);
    assert_int_equal(s_mode("st-file/cert.pem"), 0600);
    assert_int_equal(s_mode("st-file/curve.key_secret"), 0600);
    assert_int_equal(s_mode("st-file/token"), -1); /* the package has none */
    assert_int_equal(cf_test_sh("openssl verify -CAfile '%s/st-file/ca.pem' '%s/st-file/cert.pem' "
                                ">/dev/null",
                                s_dir, s_dir),
                     0);
    /* ... and from PKCS12_PASS, the seed's way */
    char *pass = cf_test_read_file(s_path("out/p12.pass"), NULL);
    setenv(CF_AGENT_PASS_ENV, pass, 1);
    free(pass);
    assert_int_equal(s_install("pkg-cert.json", "st-env", "agent-env", NULL), CF_AGENT_EXIT_OK);
    unsetenv(CF_AGENT_PASS_ENV);
    cf_agent_state_t st = {0};
    cf_why_t why = {""};
    assert_int_equal(cf_agent_state_load(s_path("st-env"), &st, &why), CF_OK);
    assert_string_equal(st.id, "agent-env");
    cf_agent_state_clear(&st);
    /* a token package needs no password; its token file is private */
    assert_int_equal(s_install("pkg-tok.json", "st-tok", "agent-tok", NULL), CF_AGENT_EXIT_OK);
    assert_int_equal(s_mode("st-tok/token"), 0600);
    assert_int_equal(s_mode("st-tok/cert.pem"), -1);
    /* not over an installed agent; not with a bad id or without a bundle */
    assert_int_equal(s_install("pkg-tok.json", "st-tok", "agent-tok", NULL), CF_AGENT_EXIT_FAIL);
    assert_int_equal(s_install("pkg-tok.json", "st-bad", "Bad!", NULL), CF_AGENT_EXIT_USAGE);
    assert_int_equal(s_mode("st-bad"), -1);
    char *argv[] = {"install", "--state-dir", "x", NULL};
    assert_int_equal(cf_agent_install_cmd(3, argv), CF_AGENT_EXIT_USAGE);
}

static void test_enroll_token_csr(void **state)
{
    (void) state;
    assert_int_equal(s_install("pkg-tok1.json", "st-csr", "agent-csr", NULL), CF_AGENT_EXIT_OK);
    assert_int_equal(s_enroll_cmd("st-csr", 0), CF_AGENT_EXIT_OK);
    assert_int_equal(s_mode("st-csr/token"), -1); /* used: removed */
    assert_int_equal(s_mode("st-csr/key.pem"), 0600);
    assert_int_equal(cf_test_sh("openssl verify -CAfile '%s/st-csr/ca.pem' '%s/st-csr/cert.pem' "
                                ">/dev/null && openssl x509 -in '%s/st-csr/cert.pem' -noout "
                                "-subject | grep -q 'CN *= *agent-csr'",
                                s_dir, s_dir, s_dir),
                     0);
    s_checkin_lock("st-csr", "secure");
    EXPECT(0, "agent-csr", "agent show agent-csr " REAL);
    /* renewal by CSR with its own certificate, no token */
    assert_int_equal(s_enroll_cmd("st-csr", 0), CF_AGENT_EXIT_OK);
    s_checkin_lock("st-csr", "secure");
    /* the token was for one agent: the next is refused, clearly, and keeps its token */
    assert_int_equal(s_install("pkg-tok1.json", "st-csr2", "agent-csr2", NULL), CF_AGENT_EXIT_OK);
    cf_agent_enroll_result_t res;
    cf_why_t why = {""};
    assert_int_equal(cf_agent_enroll(s_path("st-csr2"), 0, 20, &res, &why), CF_ERR_POLICY);
    assert_non_null(strstr(why.text, "used up"));
    assert_int_equal(s_mode("st-csr2/token"), 0600);
    assert_int_equal(s_mode("st-csr2/cert.pem"), -1);
    assert_int_equal(s_enroll_cmd("st-csr2", 0), CF_AGENT_EXIT_FAIL);
}

static void test_enroll_shared_cert(void **state)
{
    (void) state;
    /* st-file holds the shared certificate (test_install): it enrolls by CSR */
    assert_int_equal(cf_test_sh("openssl x509 -in '%s/st-file/cert.pem' -noout -fingerprint "
                                "-sha256 >'%s/shared.fp'",
                                s_dir, s_dir),
                     0);
    cf_agent_enroll_result_t res;
    cf_why_t why = {""};
    assert_int_equal(cf_agent_enroll(s_path("st-file"), 0, 20, &res, &why), CF_OK);
    assert_true(res.got_cert);
    assert_string_equal(res.server, "srv-a");
    assert_int_equal(cf_test_sh("openssl verify -CAfile '%s/st-file/ca.pem' '%s/st-file/cert.pem' "
                                ">/dev/null && openssl x509 -in '%s/st-file/cert.pem' -noout "
                                "-fingerprint -sha256 | cmp -s - '%s/shared.fp'",
                                s_dir, s_dir, s_dir, s_dir),
                     1); /* verifies, and is no longer the shared one */
    s_checkin_lock("st-file", "secure");
    EXPECT(0, "agent-file", "agent show agent-file " REAL);
}

static void test_enroll_push(void **state)
{
    (void) state;
    /* st-tok (test_install) has a token for 2 agents and no certificate */
    cf_agent_enroll_result_t res;
    cf_why_t why = {""};
    assert_int_equal(cf_agent_enroll(s_path("st-tok"), 1, 20, &res, &why), CF_OK);
    assert_false(res.got_cert);
    assert_true(res.used_token);
    assert_int_equal(s_mode("st-tok/token"), -1);
    assert_int_equal(s_mode("st-tok/cert.pem"), -1);
    EXPECT(0, "agent-tok", "agent show agent-tok " REAL);
    assert_true(cf_itest_redis_reply_has(s_redis.port, "1", "HEXISTS cf:agent:{agent-tok} curve"));
    /* without any credential left: a clear error */
    assert_int_equal(cf_agent_enroll(s_path("st-tok"), 1, 20, &res, &why), CF_ERR_NOTFOUND);
    assert_non_null(strstr(why.text, "no credential"));
    /* not installed */
    assert_int_equal(cf_agent_enroll(s_path("st-none"), 0, 20, &res, &why), CF_ERR_NOTFOUND);
    char *argv[] = {"enroll", "--bogus", NULL};
    assert_int_equal(cf_agent_enroll_cmd(2, argv), CF_AGENT_EXIT_USAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_package_create),   cmocka_unit_test(test_install),
        cmocka_unit_test(test_enroll_token_csr), cmocka_unit_test(test_enroll_shared_cert),
        cmocka_unit_test(test_enroll_push),      cmocka_unit_test(test_package_api),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
