/*  test_console_expiring - `cf-console cert expiring` and `agent list` (filters, summary,
    colour) against two real cf-server processes on a real redis-server, with agents that
    checked in with certificates of several lifetimes and one refused as expired  */
#include "cf_itest_console.h"
#include "cf_itest_fleet.h"
#include "cf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cf_mem.h"
#include "cf_p12.h"

#define EXPECT(code, has, ...) cf_itest_console_expect(__LINE__, NULL, code, has, __VA_ARGS__)
#define EXPECT_ENV(env, code, has, ...) \
    cf_itest_console_expect(__LINE__, env, code, has, __VA_ARGS__)
#define CONF "-c fleet.conf"

static cf_itest_fleet_t *const s = &cf_itest_fleet;
static cf_itest_cert_t s_x1, s_x2; /* agents expiring in 3 and 20 days */

/* The console's certificate of the fixture as fleet.p12 (the console test's password). */
static void s_write_p12(void)
{
    cf_cert_t *cert = NULL;
    unsigned char *der = NULL;
    size_t len = 0;
    char path[800];
    assert_int_equal(cf_cert_parse(s->console.pem_text, s->console.pem_len, &cert), CF_OK);
    assert_int_equal(cf_p12_create(s->console.key_obj, cert, NULL, 0, CF_ITEST_CONSOLE_P12_PASS,
                                   "console", 0, &der, &len),
                     CF_OK);
    cf_itest_console_path(path, sizeof(path), "fleet.p12");
    cf_test_write_file(path, der, len);
    cf_mem_free(der);
    cf_cert_destroy(&cert);
}

static int s_setup(void **state)
{
    (void) state;
    cf_itest_console_setup("test_console_expiring");
    if (cf_itest_fleet_setup("test_console_expiring_srv") != 0)
        return -1;
    s_write_p12();
    const char *dir = cf_itest_console_dir();
    assert_int_equal(cf_test_sh("cd '%s' && printf 'server = https://127.0.0.1:%d\\nca = "
                                "%s/ca.pem\\ncert = fleet.p12\\ncert-password-file = p12.pass\\n' "
                                ">fleet.conf && printf '%%s' '%s' >fleet-admin.pass && chmod 600 "
                                "fleet-admin.pass",
                                dir, s->a.port, s->dir, CF_ITEST_FLEET_ADMIN_PASS),
                     0);
    EXPECT(0, NULL, "login " CONF " --user admin --password-file fleet-admin.pass");
    char body[CF_ITEST_FLEET_BODY];
    cf_itest_fleet_issue("agent-x1", 0, 3, "x1", &s_x1);
    cf_itest_fleet_issue("agent-x2", 0, 20, "x2", &s_x2);
    assert_int_equal(cf_itest_fleet_checkin(&s->a, &s_x1, "{}", NULL, body), 200);
    assert_int_equal(cf_itest_fleet_checkin(&s->b, &s_x2, "{}", NULL, body), 200);
    assert_int_equal(cf_itest_fleet_checkin(&s->b, NULL, "{\"id\":\"agent-3\"}", NULL, body), 200);
    /* refused at the handshake: recorded as expired, with the date its certificate ended */
    assert_int_equal(cf_itest_fleet_checkin(&s->a, &s->expired, "{}", NULL, body), 0);
    return 0;
}

static int s_teardown(void **state)
{
    cf_itest_cert_free(&s_x1);
    cf_itest_cert_free(&s_x2);
    cf_itest_console_teardown();
    return cf_itest_fleet_teardown(state);
}

static int s_old_recorded(void *arg)
{
    (void) arg;
    return cf_itest_console_run("agent show agent-old " CONF) == 0 &&
           cf_itest_console_has("expired");
}

/* Position of text in the last run's standard output; fails when it is not there. */
static long s_pos(const char *text)
{
    char *out = cf_itest_console_out(0);
    const char *p = strstr(out, text);
    long at = p ? (long) (p - out) : -1;
    free(out);
    if (at < 0)
        fail_msg("'%s' is not in the output (see transcript.txt)", text);
    return at;
}

static void test_usage(void **state)
{
    (void) state;
    assert_true(cf_test_wait_until(s_old_recorded, NULL, 10000));
    EXPECT(0, "EXPIRES", "cert expiring --days 30 " CONF);
    /* soonest first: the expired agent, then 3 and 20 days; no agent without a certificate */
    assert_true(s_pos("agent-old") < s_pos("agent-x1"));
    assert_true(s_pos("agent-x1") < s_pos("agent-x2"));
    assert_false(cf_itest_console_has("agent-3"));
    /* ended two days ago to the second it was issued: 1 whole day ago within that second */
    assert_true(cf_itest_console_has("expired 2 days ago") ||
                cf_itest_console_has("expired 1 day ago"));
    assert_true(cf_itest_console_has("check-in"));
    assert_true(cf_itest_console_has(s_x1.serial));
    assert_true(cf_itest_console_has("3 certificates: 1 expired, 2 expire within 30 days"));
    assert_false(cf_itest_console_has("\033")); /* not a terminal: no colour */
    /* --json: the server's answer */
    EXPECT(0, NULL, "cert expiring --days 30 --json " CONF);
    assert_int_equal(json_array_size(cf_itest_console_at("certs")), 3);
    assert_true(json_is_true(cf_itest_console_at("certs.0.expired")));
    assert_string_equal(json_string_value(cf_itest_console_at("certs.1.fingerprint")), s_x1.fp);
    assert_int_equal(json_integer_value(cf_itest_console_at("days")), 30);
}

static void test_window_and_paging(void **state)
{
    (void) state;
    EXPECT(0, "agent-old", "cert expiring --days 0 " CONF);
    assert_false(cf_itest_console_has("agent-x1"));
    assert_true(cf_itest_console_has("1 certificate: 1 expired, 0 expire within 0 days"));
    /* one at a time: the cursor of the first page leads to the second */
    EXPECT(0, NULL, "cert expiring --limit 1 --json " CONF);
    char cursor[400];
    snprintf(cursor, sizeof(cursor), "%s",
             json_string_value(cf_itest_console_at("cursor")) ?: "(none)");
    EXPECT(0, "more: add --cursor", "cert expiring --limit 1 --cursor %s " CONF, cursor);
    assert_true(cf_itest_console_has("agent-x1"));
    assert_false(cf_itest_console_has("agent-old"));
    /* arguments checked before anything is sent */
    EXPECT(2, "--days", "cert expiring --days 36501 " CONF);
    EXPECT(2, "--days", "cert expiring --days -1 " CONF);
    EXPECT(2, "--cursor", "cert expiring --cursor %0400d " CONF, 7);
    /* on a terminal (script(1) gives it one) the time left is coloured, unless NO_COLOR */
    static const char tty[] =
        "cd '%s' && %s script -qec \"'%s' cert expiring " CONF
        "\" tty.txt >/dev/null && grep -q \"$(printf '\\033')\\\\[1;31mexpired"
        "\" tty.txt";
    const char *dir = cf_itest_console_dir(), *bin = cf_itest_console_bin();
    assert_int_equal(cf_test_sh(tty, dir, "", bin), 0);
    assert_int_equal(cf_test_sh(tty, dir, "NO_COLOR=1", bin), 1);
}

static void test_agent_list(void **state)
{
    (void) state;
    EXPECT(0, "agent-x1", "agent list " CONF);
    assert_true(cf_itest_console_has("fleet: 4 agents: 2 secure, 0 attention, 1 insecure, 1 "
                                     "expired"));
    assert_true(cf_itest_console_has("migration: 1 agent of 4 still connects without a "
                                     "certificate"));
    assert_true(cf_itest_console_has("agent-old  expired"));
    EXPECT(0, "agent-x2", "agent list --last-server SRV-B " CONF);
    assert_true(cf_itest_console_has("agent-3"));
    assert_false(cf_itest_console_has("agent-x1"));
    EXPECT(0, "agent-x1", "agent list --ip-range 127.0.0.0/8 --state secure --json " CONF);
    assert_int_equal(json_array_size(cf_itest_console_at("agents")), 2);
    assert_int_equal(json_integer_value(cf_itest_console_at("total")), 4);
    EXPECT(0, "no agent", "agent list --seen-before 1d " CONF);
    assert_true(cf_itest_console_has("fleet: 4 agents"));
    /* the lock marker: green on a terminal, the word alone with NO_COLOR */
    static const char tty[] = "cd '%s' && %s script -qec \"'%s' agent list " CONF
                              "\" tty.txt >/dev/null && grep -q \"$(printf '\\033')\\\\[32m\" "
                              "tty.txt";
    const char *dir = cf_itest_console_dir(), *bin = cf_itest_console_bin();
    assert_int_equal(cf_test_sh(tty, dir, "", bin), 0);
    assert_int_equal(cf_test_sh(tty, dir, "NO_COLOR=1", bin), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_window_and_paging),
        cmocka_unit_test(test_agent_list),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
