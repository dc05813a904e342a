/*  test_agent_state - agent.json, the state directory's permissions, an install without a
    certificate (all or nothing) and the PKCS#12 password sources  */
#include "cf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cf_agent_enroll.h"
#include "cf_agent_install.h"
#include "cf_agent_state.h"
#include "cf_ca.h"
#include "cf_mem.h"

static char s_dir[512]; /* this test's directory */

static int s_setup(void **state)
{
    (void) state;
    cf_test_tmpdir("test_agent_state", s_dir, sizeof(s_dir));
    return 0;
}

static const char *s_path(const char *name)
{
    static char buf[800];
    snprintf(buf, sizeof(buf), "%s/%s", s_dir, name);
    return buf;
}

static int s_mode(const char *name)
{
    struct stat st;
    return stat(s_path(name), &st) == 0 ? (int) (st.st_mode & 0777) : -1;
}

static const char s_json[] =
    "{\"id\":\"agent-7\",\"servers\":[{\"alias\":\"srv-a\",\"host\":\"127.0.0.1\",\"port\":7005,"
    "\"plain_port\":0,\"priority\":5,\"ip_ranges\":[\"10.1.2.3/8\"]}],\"brokers\":[],"
    "\"favorite\":\"srv-a\",\"interval\":60}";

static void test_usage(void **state)
{
    (void) state;
    cf_agent_state_t st = {0}, back = {0};
    cf_why_t why = {""};
    assert_int_equal(cf_agent_state_parse(s_json, strlen(s_json), &st, &why), CF_OK);
    assert_string_equal(st.id, "agent-7");
    assert_string_equal(st.config.servers.favorite, "srv-a");
    assert_int_equal(st.interval, 60);
    assert_int_equal(cf_iprange_list_size(st.config.servers.servers[0].ranges), 1);
    assert_int_equal(cf_test_sh("mkdir -m 0700 '%s/st'", s_dir), 0);
    assert_int_equal(cf_agent_state_save(s_path("st"), &st, &why), CF_OK);
    assert_int_equal(s_mode("st/agent.json"), 0600);
    assert_int_equal(cf_agent_state_load(s_path("st"), &back, &why), CF_OK);
    assert_string_equal(back.config.servers.servers[0].host, "127.0.0.1");
    assert_int_equal(back.config.servers.servers[0].priority, 5);
    assert_int_equal(back.interval, 60);
    assert_int_equal(cf_test_sh("grep -q '10.0.0.0/8' '%s/st/agent.json'", s_dir),
                     0); /* canonical */
    cf_agent_state_clear(&st);
    cf_agent_state_clear(&back);
    cf_agent_state_clear(&back);
}

static void test_refusals(void **state)
{
    (void) state;
    cf_agent_state_t st = {0};
    cf_why_t why = {""};
    static const char *const bad[] = {
        "{",
        "[]",
        "{\"id\":\"Agent\",\"servers\":[]}",
        "{\"servers\":[]}",
        "{\"id\":\"a\"}",
        "{\"id\":\"a\",\"servers\":[],\"extra\":1}",
        "{\"id\":\"a\",\"servers\":[],\"favorite\":\"BAD\"}",
        "{\"id\":\"a\",\"servers\":[],\"interval\":0}",
        "{\"id\":\"a\",\"servers\":[],\"interval\":86401}",
        "{\"id\":\"a\",\"servers\":[],\"brokers\":[\"x\"]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_not_equal(cf_agent_state_parse(bad[i], strlen(bad[i]), &st, &why), CF_OK);
        assert_null(st.config.servers.servers);
    }
    assert_int_equal(cf_agent_state_parse("{}", CF_AGENT_STATE_JSON_MAX + 1, &st, &why),
                     CF_ERR_TOOBIG);
    /* files and permissions */
    assert_int_equal(cf_agent_state_load(s_path("none"), &st, &why), CF_ERR_NOTFOUND);
    assert_int_equal(cf_test_sh("mkdir -m 0700 '%s/empty'", s_dir), 0);
    assert_int_equal(cf_agent_state_load(s_path("empty"), &st, &why), CF_ERR_NOTFOUND);
    assert_non_null(strstr(why.text, "not installed"));
    assert_int_equal(cf_test_sh("mkdir -m 0755 '%s/open' && cp '%s/st/agent.json' '%s/open/'",
                                s_dir, s_dir, s_dir),
                     0);
    assert_int_equal(cf_agent_state_load(s_path("open"), &st, &why), CF_ERR_POLICY);
    assert_int_equal(
        cf_test_sh("chmod 0700 '%s/open' && chmod 0644 '%s/open/agent.json'", s_dir, s_dir), 0);
    assert_int_equal(cf_agent_state_load(s_path("open"), &st, &why), CF_ERR_POLICY);
    /* ids */
    assert_int_equal(cf_agent_check_id("agent-7.x_y"), CF_OK);
    assert_int_equal(cf_agent_check_id("-a"), CF_ERR_INVALID);
    assert_int_equal(cf_agent_check_id(NULL), CF_ERR_INVALID);
    char id[CF_DB_ID_MAX + 1];
    cf_err_t rc = cf_agent_default_id(id, &why);
    assert_true(rc == CF_OK || rc == CF_ERR_INVALID); /* depends on this host's name */
    if (rc == CF_OK)
        assert_int_equal(cf_agent_check_id(id), CF_OK);
}

/* A bundle with configuration and a token, no certificate. */
static void s_bundle(cf_agent_bundle_t *b)
{
    cf_ca_t *ca = NULL;
    size_t len = 0;
    cf_why_t why = {""};
    memset(b, 0, sizeof(*b));
    assert_int_equal(cf_ca_create(NULL, &ca), CF_OK);
    assert_int_equal(cf_cert_to_pem(cf_ca_cert(ca), &b->ca_pem, &len), CF_OK);
    cf_ca_destroy(&ca);
    json_t *servers = json_pack("[{s:s,s:i}]", "alias", "srv-a", "port", 7005);
    assert_int_equal(cf_agent_config_from_json(servers, NULL, &b->config, &why), CF_OK);
    json_decref(servers);
    snprintf(b->token, sizeof(b->token), "%s", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-_01234");
}

/* Broker entries: tcp:// and tls:// (a TLS-wrapped port) both parse, keep their kind and
   come back as they were; anything else is refused. */
static void test_tls_brokers(void **state)
{
    (void) state;
    cf_curve_keypair_t kp;
    assert_int_equal(cf_curve_keypair_new(&kp), CF_OK);
    char z85[CF_CURVE_Z85_LEN + 1], tcp[200], tls[200];
    cf_curve_z85_encode(kp.pub, z85);
    snprintf(tcp, sizeof(tcp), "tcp://10.0.0.9:7010#%s", z85);
    snprintf(tls, sizeof(tls), "tls://broker.example:7443#%s", z85);
    json_t *brokers = json_pack("[s,s]", tcp, tls);
    json_t *servers = json_array();
    cf_agent_config_t cfg;
    cf_why_t why = {""};
    assert_int_equal(cf_agent_config_from_json(servers, brokers, &cfg, &why), CF_OK);
    assert_int_equal(cfg.n_brokers, 2);
    assert_int_equal(cfg.tls[0], 0);
    assert_int_equal(cfg.tls[1], 1);
    assert_string_equal(cfg.brokers[1].endpoint, "tcp://broker.example:7443");
    assert_memory_equal(cfg.brokers[1].pub, kp.pub, CF_CURVE_KEY_LEN);
    json_t *s_out = NULL, *b_out = NULL;
    assert_int_equal(cf_agent_config_to_json(&cfg, &s_out, &b_out), CF_OK);
    assert_true(json_equal(b_out, brokers));
    json_decref(s_out);
    json_decref(b_out);
    cf_agent_config_clear(&cfg);
    /* refusals: another scheme, a bad key or port behind tls://, too long */
    char big[CF_CURVE_TEXT_MAX + 40];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memcpy(big, "tls://", 6);
    const char *bad[] = {"tlx://h:1#x", "tls://h:1#short", "tls://h#", "tls://", big};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *one = json_pack("[s]", bad[i]);
        assert_int_equal(cf_agent_config_from_json(servers, one, &cfg, &why), CF_ERR_INVALID);
        assert_non_null(strstr(why.text, "brokers[0]"));
        json_decref(one);
    }
    int is_tls = 0;
    cf_curve_broker_t b;
    assert_int_equal(cf_agent_broker_parse(NULL, 0, &b, &is_tls, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_agent_broker_parse(tls, strlen(tls), &b, &is_tls, NULL), CF_OK);
    assert_int_equal(is_tls, 1);
    assert_int_equal(cf_agent_broker_format(&b, 1, tcp, 10), CF_ERR_TOOBIG);
    json_decref(brokers);
    json_decref(servers);
    cf_curve_keypair_wipe(&kp);
}

static void test_install_files(void **state)
{
    (void) state;
    cf_agent_bundle_t b;
    cf_why_t why = {""};
    s_bundle(&b);
    assert_int_equal(cf_agent_install(&b, s_path("sub/agent"), "agent-1", NULL, &why), CF_OK);
    assert_int_equal(s_mode("sub/agent"), 0700);
    assert_int_equal(s_mode("sub/agent/agent.json"), 0600);
    assert_int_equal(s_mode("sub/agent/token"), 0600);
    assert_int_equal(s_mode("sub/agent/curve.key_secret"), 0600);
    assert_int_equal(s_mode("sub/agent/ca.pem"), 0644);
    assert_int_equal(s_mode("sub/agent/cert.pem"), -1);
    cf_agent_state_t st = {0};
    assert_int_equal(cf_agent_state_load(s_path("sub/agent"), &st, &why), CF_OK);
    assert_string_equal(st.id, "agent-1");
    assert_int_equal(st.interval, CF_AGENT_INTERVAL_DEFAULT);
    cf_agent_state_clear(&st);
    /* not over an installed one; an empty directory is fine */
    assert_int_equal(cf_agent_install(&b, s_path("sub/agent"), "agent-1", NULL, &why),
                     CF_ERR_EXISTS);
    assert_int_equal(cf_test_sh("ls -d '%s'/sub/agent.install* 2>/dev/null | grep -q .", s_dir),
                     1); /* nothing left behind */
    assert_int_equal(cf_test_sh("mkdir -m 0700 '%s/pre'", s_dir), 0);
    assert_int_equal(cf_agent_install(&b, s_path("pre"), "agent-2", NULL, &why), CF_OK);
    assert_int_equal(cf_agent_install(&b, s_path("x"), "Bad", NULL, &why), CF_ERR_INVALID);
    assert_int_equal(s_mode("x"), -1);
    cf_agent_bundle_clear(&b);
}

static void test_password_sources(void **state)
{
    (void) state;
    char *pw = NULL;
    cf_why_t why = {""};
    assert_int_equal(cf_test_sh("cd '%s' && umask 077 && printf 'p@ss word\\n' >pw && printf "
                                "'x\\001y' >ctl && printf 'open' >open.pw && chmod 0644 open.pw",
                                s_dir),
                     0);
    assert_int_equal(cf_agent_password(s_path("pw"), &pw, &why), CF_OK);
    assert_string_equal(pw, "p@ss word");
    cf_mem_free_secret_str(pw);
    assert_int_equal(cf_agent_password(s_path("ctl"), &pw, &why), CF_ERR_INVALID);
    assert_null(pw);
    assert_int_equal(cf_agent_password(s_path("open.pw"), &pw, &why), CF_ERR_POLICY);
    assert_int_equal(cf_agent_password(s_path("none"), &pw, &why), CF_ERR_NOTFOUND);
    setenv(CF_AGENT_PASS_ENV, "from-env", 1);
    assert_int_equal(cf_agent_password(NULL, &pw, &why), CF_OK);
    assert_string_equal(pw, "from-env");
    cf_mem_free_secret_str(pw);
    assert_int_equal(cf_agent_password(s_path("pw"), &pw, &why), CF_OK); /* the file wins */
    assert_string_equal(pw, "p@ss word");
    cf_mem_free_secret_str(pw);
    setenv(CF_AGENT_PASS_ENV, "", 1);
    assert_int_equal(cf_agent_password(NULL, &pw, &why), CF_ERR_INVALID);
    unsetenv(CF_AGENT_PASS_ENV);
}

static void test_command_lines(void **state)
{
    (void) state;
    char *help[] = {"install", "--help", NULL};
    assert_int_equal(cf_agent_install_cmd(2, help), CF_AGENT_EXIT_OK);
    help[0] = "enroll";
    assert_int_equal(cf_agent_enroll_cmd(2, help), CF_AGENT_EXIT_OK);
    char *extra[] = {"enroll", "positional", NULL};
    assert_int_equal(cf_agent_enroll_cmd(2, extra), CF_AGENT_EXIT_USAGE);
    char *timeout[] = {"enroll", "--timeout", "0s", NULL};
    assert_int_equal(cf_agent_enroll_cmd(3, timeout), CF_AGENT_EXIT_USAGE);
    char *none[] = {"enroll", "--state-dir", (char *) s_path("none"), NULL};
    assert_int_equal(cf_agent_enroll_cmd(3, none), CF_AGENT_EXIT_FAIL); /* not installed */
    char missing[800], nowhere[800];
    snprintf(missing, sizeof(missing), "%s/none.json", s_dir);
    snprintf(nowhere, sizeof(nowhere), "%s/nowhere", s_dir);
    char *bundle[] = {"install", "--bundle", missing, "--state-dir", nowhere, NULL};
    assert_int_equal(cf_agent_install_cmd(5, bundle), CF_AGENT_EXIT_FAIL);
    assert_int_equal(s_mode("nowhere"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_tls_brokers),
        cmocka_unit_test(test_install_files),
        cmocka_unit_test(test_password_sources),
        cmocka_unit_test(test_command_lines),
    };
    return cmocka_run_group_tests(tests, s_setup, NULL);
}
