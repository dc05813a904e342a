/*  test_broker_opts - cf-broker's options: defaults, flags into socket and Redis settings  */
#include "cf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_broker_opts.h"
#include "cf_mem.h"

static cf_cfg_t *s_parse(int argc, char *const argv[], cf_err_t want)
{
    size_t n = 0;
    const cf_cfg_opt_t *opts = cf_broker_opts(&n);
    cf_cfg_t *cfg = cf_cfg_new(opts, n);
    assert_non_null(cfg);
    cf_why_t why = {""};
    assert_int_equal(cf_cfg_parse_args(cfg, argc, argv, &why), want);
    return cfg;
}

/* Usage: flags become the broker's settings. */
static void test_usage(void **state)
{
    (void) state;
    char *const argv[] = {"cf-broker",
                          "--agents-bind",
                          "tcp://127.0.0.1:9010",
                          "--hwm",
                          "50",
                          "--heartbeat-ivl",
                          "200",
                          "--heartbeat-timeout",
                          "900",
                          "--max-msg",
                          "64k",
                          "-m",
                          "9100",
                          "--redis",
                          "127.0.0.5:6400",
                          NULL};
    cf_cfg_t *cfg = s_parse(15, argv, CF_OK);
    cf_curve_keypair_t kp;
    memset(&kp, 1, sizeof(kp));
    cf_store_cfg_t scfg;
    char *pw = NULL;
    assert_int_equal(cf_broker_opts_store(cfg, &scfg, &pw, NULL), CF_OK);
    assert_null(pw);
    assert_string_equal(scfg.server.host, "127.0.0.5");
    assert_int_equal(scfg.server.port, 6400);
    cf_broker_cfg_t b;
    cf_broker_opts_broker(cfg, &kp, &scfg, &b);
    assert_string_equal(b.agents_bind, "tcp://127.0.0.1:9010");
    assert_string_equal(b.servers_bind, "tcp://127.0.0.1:7011");
    assert_string_equal(b.metrics_bind, "127.0.0.1");
    assert_int_equal(b.metrics_port, 9100);
    assert_int_equal(b.zsock.sndhwm, 50);
    assert_int_equal(b.zsock.rcvhwm, 50);
    assert_int_equal(b.zsock.heartbeat_ivl_ms, 200);
    assert_int_equal(b.zsock.heartbeat_timeout_ms, 900);
    assert_int_equal(b.zsock.heartbeat_ttl_ms, 0); /* the default TTL in the broker's PINGs */
    assert_int_equal(b.zsock.max_msg, 65536);
    assert_int_equal(b.io_threads, 64); /* the default: short timer lists (docs/zap.md) */
    assert_int_equal(b.gather_ms, 5);   /* agents' messages wait 5 ms for more */
    assert_int_equal(b.max_keys, 1048576);
    assert_null(b.zap_domain);
    assert_int_equal(b.handle_signals, 1);
    assert_ptr_equal(b.keys, &kp);
    cf_cfg_destroy(&cfg);
}

/* By default the broker sends no PINGs of its own: libzmq 4.3.4 aborts the process when a
   PING interval timer fires on a connection whose peer hung up while its input was stopped
   (test_zap_peer's test_broker_survives_flooder_hangup shows it); peers' TTL drops them. */
static void test_no_pings_by_default(void **state)
{
    (void) state;
    char *const argv[] = {"cf-broker", NULL};
    cf_cfg_t *cfg = s_parse(1, argv, CF_OK);
    cf_zsock_cfg_t z;
    cf_broker_opts_zsock(cfg, &z);
    assert_int_equal(z.heartbeat_ivl_ms, CF_ZSOCK_NO_PINGS);
    cf_cfg_destroy(&cfg);
    char *const zero[] = {"cf-broker", "--heartbeat-ivl", "0", NULL};
    cfg = s_parse(3, zero, CF_OK);
    cf_broker_opts_zsock(cfg, &z);
    assert_int_equal(z.heartbeat_ivl_ms, CF_ZSOCK_NO_PINGS);
    cf_cfg_destroy(&cfg);
}

/* --gather-ms 0 turns gathering off (a negative gather_ms: the library's 0 is its default). */
static void test_gather_off(void **state)
{
    (void) state;
    char *const argv[] = {"cf-broker", "--gather-ms", "0", NULL};
    cf_cfg_t *cfg = s_parse(3, argv, CF_OK);
    cf_broker_cfg_t b;
    cf_broker_opts_broker(cfg, NULL, NULL, &b);
    assert_true(b.gather_ms < 0);
    cf_cfg_destroy(&cfg);
    char *const over[] = {"cf-broker", "--gather-ms", "1001", NULL};
    cfg = s_parse(3, over, CF_ERR_INVALID);
    cf_cfg_destroy(&cfg);
}

/* Values out of range are refused with the flag named. */
static void test_refusals(void **state)
{
    (void) state;
    char *const hwm[] = {"cf-broker", "--hwm", "0", NULL};
    cf_cfg_t *cfg = s_parse(3, hwm, CF_ERR_INVALID);
    cf_cfg_destroy(&cfg);
    char *const port[] = {"cf-broker", "--metrics-port", "70000", NULL};
    cfg = s_parse(3, port, CF_ERR_INVALID);
    cf_cfg_destroy(&cfg);
    char *const ivl[] = {"cf-broker", "--heartbeat-ivl", "-1", NULL};
    cfg = s_parse(3, ivl, CF_ERR_INVALID);
    cf_cfg_destroy(&cfg);
    char *const redis[] = {"cf-broker", "--redis", "no port here", NULL};
    cfg = s_parse(3, redis, CF_OK);
    cf_store_cfg_t scfg;
    char *pw = NULL;
    cf_why_t why = {""};
    assert_int_equal(cf_broker_opts_store(cfg, &scfg, &pw, &why), CF_ERR_INVALID);
    assert_true(why.text[0] != '\0');
    cf_cfg_destroy(&cfg);
}

/* --keygen writes the pair once, prints the endpoint lines, and never overwrites. */
static void test_keygen(void **state)
{
    (void) state;
    char dir[512];
    cf_test_tmpdir("broker_opts_keygen", dir, sizeof(dir));
    char *const argv[] = {"cf-broker",      "--keygen",     "--out", dir,
                          "--servers-bind", "tcp://*:7011", NULL};
    cf_cfg_t *cfg = s_parse(6, argv, CF_OK);
    char out_path[700];
    snprintf(out_path, sizeof(out_path), "%s/keygen.out", dir);
    FILE *out = fopen(out_path, "w");
    assert_non_null(out);
    cf_why_t why = {""};
    assert_int_equal(cf_broker_opts_keygen(cfg, out, &why), CF_OK);
    assert_int_equal(cf_broker_opts_keygen(cfg, out, &why), CF_ERR_EXISTS);
    fclose(out);
    size_t len = 0;
    char *text = cf_test_read_file(out_path, &len);
    const char *line = strstr(text, "agents:  tcp://127.0.0.1:7010#");
    assert_non_null(line);
    cf_curve_broker_t parsed;
    line += strlen("agents:  ");
    assert_int_equal(cf_curve_broker_parse(line, strcspn(line, "\n"), &parsed, NULL), CF_OK);
    assert_non_null(strstr(text, "servers: tcp://HOST:PORT#")); /* a wildcard bind */
    free(text);
    char key[700];
    snprintf(key, sizeof(key), "%s/broker.key_secret", dir);
    cf_curve_keypair_t kp;
    assert_int_equal(cf_curve_keypair_load(key, &kp, NULL), CF_OK);
    assert_memory_equal(kp.pub, parsed.pub, CF_CURVE_KEY_LEN);
    cf_curve_keypair_wipe(&kp);
    cf_cfg_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),      cmocka_unit_test(test_no_pings_by_default),
        cmocka_unit_test(test_gather_off), cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_keygen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
