/*  test_store - the pure parts of cf_store: address forms, config checks, objects before I/O  */
#include "cf_test.h"

#include <stdio.h>
#include <string.h>

#include "cf_store.h"
#include "cf_store_sub.h"

static void test_usage(void **state)
{
    (void) state;
    cf_store_cfg_t cfg;
    cf_store_cfg_init(&cfg);
    cf_why_t why = {""};
    assert_int_equal(cf_store_cfg_parse_sentinels(&cfg, "10.0.0.1:26379,[::1]:26380", &why), CF_OK);
    assert_int_equal(cf_store_cfg_set_master(&cfg, "mymaster", &why), CF_OK);
    assert_int_equal(cfg.mode, CF_STORE_SENTINEL);
    assert_int_equal(cfg.n_sentinels, 2);
    assert_string_equal(cfg.sentinels[1].host, "::1");
    assert_int_equal(cfg.sentinels[1].port, 26380);
    assert_int_equal(cf_store_cfg_check(&cfg, &why), CF_OK);
    char buf[CF_STORE_ENDPOINT_STR];
    assert_string_equal(cf_store_endpoint_str(&cfg.sentinels[1], 0, buf, sizeof(buf)),
                        "[::1]:26380");
    /* a store is created without any I/O */
    cf_store_t *store = NULL;
    assert_int_equal(cf_store_new(&cfg, &store, &why), CF_OK);
    assert_string_equal(cf_store_server(store), "");
    cf_store_destroy(&store);
    cf_store_destroy(&store);
    assert_null(store);
}

static void test_parse_redis(void **state)
{
    (void) state;
    static const struct {
        const char *text; /* --redis value */
        int mode;         /* expected mode */
        const char *host; /* expected host or path */
        int port;         /* expected port */
    } good[] = {
        {"127.0.0.1:6379", CF_STORE_TCP, "127.0.0.1", 6379},
        {"redis.example.org:1", CF_STORE_TCP, "redis.example.org", 1},
        {"[::1]:65535", CF_STORE_TCP, "::1", 65535},
        {"[fe80::1:2]:7000", CF_STORE_TCP, "fe80::1:2", 7000},
        {"unix:/run/redis/redis.sock", CF_STORE_UNIX, "/run/redis/redis.sock", 0},
        {"unix:rel.sock", CF_STORE_UNIX, "rel.sock", 0},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        cf_store_cfg_t cfg;
        cf_store_cfg_init(&cfg);
        cf_why_t why = {""};
        assert_int_equal(cf_store_cfg_parse_redis(&cfg, good[i].text, &why), CF_OK);
        assert_int_equal(cfg.mode, good[i].mode);
        assert_string_equal(cfg.server.host, good[i].host);
        assert_int_equal(cfg.server.port, good[i].port);
        assert_int_equal(cf_store_cfg_check(&cfg, &why), CF_OK);
    }
}

static void test_parse_redis_refusals(void **state)
{
    (void) state;
    static const struct {
        const char *text; /* --redis value */
        cf_err_t rc;      /* expected error */
        const char *says; /* part of the explanation */
    } bad[] = {
        {"", CF_ERR_INVALID, "HOST:PORT"},
        {"localhost", CF_ERR_INVALID, "HOST:PORT"},
        {"localhost:", CF_ERR_INVALID, "port"},
        {"localhost:0", CF_ERR_INVALID, "1..65535"},
        {"localhost:65536", CF_ERR_INVALID, "1..65535"},
        {"localhost:123456", CF_ERR_INVALID, "1..65535"},
        {"localhost:+80", CF_ERR_INVALID, "digits"},
        {"localhost:80 ", CF_ERR_INVALID, "digits"},
        {":6379", CF_ERR_INVALID, "empty host"},
        {"::1:6379", CF_ERR_INVALID, "brackets"},
        {"[::1]6379", CF_ERR_INVALID, "':PORT'"},
        {"[::1:6379", CF_ERR_INVALID, "']'"},
        {"[]:6379", CF_ERR_INVALID, "IPv6"},
        {"[1.2.3.4]:6379", CF_ERR_INVALID, "not an IPv6"},
        {"[fe80::1%eth0]:6379", CF_ERR_INVALID, "not an IPv6"},
        {"bad host:6379", CF_ERR_INVALID, "character"},
        {"-host:6379", CF_ERR_INVALID, "start"},
        {"unix:", CF_ERR_INVALID, "path"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cf_store_cfg_t cfg;
        cf_store_cfg_init(&cfg);
        cf_store_cfg_t before = cfg;
        cf_why_t why = {""};
        assert_int_equal(cf_store_cfg_parse_redis(&cfg, bad[i].text, &why), bad[i].rc);
        if (!strstr(why.text, bad[i].says))
            fail_msg("'%s': '%s' lacks '%s'", bad[i].text, why.text, bad[i].says);
        assert_memory_equal(&cfg, &before, sizeof(cfg)); /* unchanged */
    }
    /* caps */
    char long_text[CF_STORE_TEXT_MAX + 2];
    memset(long_text, 'a', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    cf_store_cfg_t cfg;
    cf_store_cfg_init(&cfg);
    assert_int_equal(cf_store_cfg_parse_redis(&cfg, long_text, NULL), CF_ERR_TOOBIG);
    char host[CF_STORE_HOST_MAX + 8];
    memset(host, 'h', CF_STORE_HOST_MAX + 1);
    snprintf(host + CF_STORE_HOST_MAX + 1, 6, ":1");
    assert_int_equal(cf_store_cfg_parse_redis(&cfg, host, NULL), CF_ERR_TOOBIG);
    char path[CF_STORE_PATH_MAX + 8] = "unix:";
    memset(path + 5, 'p', CF_STORE_PATH_MAX + 1);
    path[5 + CF_STORE_PATH_MAX + 1] = '\0';
    assert_int_equal(cf_store_cfg_parse_redis(&cfg, path, NULL), CF_ERR_TOOBIG);
    path[5 + CF_STORE_PATH_MAX] = '\0'; /* exactly at the cap */
    assert_int_equal(cf_store_cfg_parse_redis(&cfg, path, NULL), CF_OK);
    assert_int_equal(cf_store_cfg_parse_redis(&cfg, NULL, NULL), CF_ERR_INVALID);
}

static void test_parse_sentinels(void **state)
{
    (void) state;
    cf_store_cfg_t cfg;
    cf_store_cfg_init(&cfg);
    cf_why_t why = {""};
    static const char *bad[] = {
        "",        "a:1,",    ",a:1",    "a:1,,b:2",      "a:1, b:2",
        "a:1,a:1", "a:1,b:0", "a:1;b:2", "[::1]:1,::2:1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why.text[0] = '\0';
        assert_int_not_equal(cf_store_cfg_parse_sentinels(&cfg, bad[i], &why), CF_OK);
        assert_true(why.text[0] != '\0');
        assert_int_equal(cfg.mode, CF_STORE_TCP); /* unchanged */
    }
    assert_int_equal(cf_store_cfg_parse_sentinels(&cfg, "a:1,a:1", &why), CF_ERR_INVALID);
    assert_string_equal(why.text, "Sentinel 2 is listed twice");
    assert_int_equal(cf_store_cfg_parse_sentinels(&cfg, "a:1,b:0", &why), CF_ERR_INVALID);
    assert_non_null(strstr(why.text, "Sentinel 2: port"));
    /* at most CF_STORE_MAX_SENTINELS */
    char list[1024] = "";
    for (int i = 0; i < CF_STORE_MAX_SENTINELS; i++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%sh:%d", i ? "," : "", i + 1);
    assert_int_equal(cf_store_cfg_parse_sentinels(&cfg, list, &why), CF_OK);
    assert_int_equal(cfg.n_sentinels, CF_STORE_MAX_SENTINELS);
    strcat(list, ",h:999");
    assert_int_equal(cf_store_cfg_parse_sentinels(&cfg, list, &why), CF_ERR_TOOBIG);
    /* Sentinel mode needs a master name, which has its own rules */
    assert_int_equal(cf_store_cfg_check(&cfg, &why), CF_ERR_INVALID);
    assert_non_null(strstr(why.text, "master name"));
    assert_int_equal(cf_store_cfg_set_master(&cfg, "my master", &why), CF_ERR_INVALID);
    assert_int_equal(cf_store_cfg_set_master(&cfg, "", &why), CF_ERR_INVALID);
    char name[CF_STORE_NAME_MAX + 2];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    assert_int_equal(cf_store_cfg_set_master(&cfg, name, &why), CF_ERR_TOOBIG);
    assert_int_equal(cf_store_cfg_set_master(&cfg, "cf.master-1_a", &why), CF_OK);
    assert_int_equal(cf_store_cfg_check(&cfg, &why), CF_OK);
}

static void test_cfg_check(void **state)
{
    (void) state;
    cf_store_cfg_t cfg;
    cf_why_t why = {""};
    cf_store_cfg_init(&cfg);
    cfg.db = CF_STORE_DB_MAX + 1;
    assert_int_equal(cf_store_cfg_check(&cfg, &why), CF_ERR_INVALID);
    assert_non_null(strstr(why.text, "db"));
    cf_store_cfg_init(&cfg);
    cfg.connect_timeout_ms = 0;
    assert_int_equal(cf_store_cfg_check(&cfg, &why), CF_ERR_INVALID);
    cf_store_cfg_init(&cfg);
    cfg.backoff_max_ms = cfg.backoff_min_ms - 1;
    assert_int_equal(cf_store_cfg_check(&cfg, &why), CF_ERR_INVALID);
    cf_store_cfg_init(&cfg);
    cfg.max_reply_bytes = 10;
    assert_int_equal(cf_store_cfg_check(&cfg, &why), CF_ERR_INVALID);
    cf_store_cfg_init(&cfg);
    cfg.max_batch_bytes = cfg.max_reply_bytes - 1;
    assert_int_equal(cf_store_cfg_check(&cfg, &why), CF_ERR_INVALID);
    cf_store_cfg_init(&cfg);
    cfg.password = "";
    assert_int_equal(cf_store_cfg_check(&cfg, &why), CF_ERR_INVALID);
    cf_store_cfg_init(&cfg);
    cfg.mode = (cf_store_mode_t) 7;
    assert_int_equal(cf_store_cfg_check(&cfg, &why), CF_ERR_INVALID);
    cf_store_t *store = (cf_store_t *) 0x1;
    assert_int_equal(cf_store_new(&cfg, &store, &why), CF_ERR_INVALID);
    assert_null(store);
    assert_int_equal(cf_store_cfg_check(NULL, &why), CF_ERR_INVALID);
}

/* The objects a caller makes before any I/O unwind cleanly when memory runs out. */
static void test_alloc_failures(void **state)
{
    (void) state;
    cf_store_cfg_t cfg;
    cf_store_cfg_init(&cfg);
    cfg.password = "pw";
    int ok = 0;
    for (long i = 0; i < 32 && !ok; i++) {
        cf_store_t *store = NULL;
        cf_store_script_t *script = NULL;
        cf_test_alloc_fail_at(i);
        cf_err_t rc = cf_store_new(&cfg, &store, NULL);
        if (rc == CF_OK)
            rc = cf_store_script_new("return 1", &script);
        cf_test_alloc_fail_at(-1);
        assert_true(rc == CF_OK || rc == CF_ERR_NOMEM);
        ok = rc == CF_OK;
        assert_true(ok || !script);
        cf_store_script_destroy(&script);
        cf_store_destroy(&store);
    }
    assert_true(ok);
}

static void s_msg(void *arg, const char *ch, size_t ch_len, const char *p, size_t len)
{
    (void) arg, (void) ch, (void) ch_len, (void) p, (void) len;
    fail_msg("no message expected");
}

static void s_resync(void *arg)
{
    (void) arg;
    fail_msg("no resync expected");
}

static void test_sub_refusals(void **state)
{
    (void) state;
    cf_store_cfg_t cfg;
    cf_store_cfg_init(&cfg);
    cf_store_sub_t *sub = (cf_store_sub_t *) 0x1;
    cf_why_t why = {""};
    assert_int_equal(cf_store_sub_new(&cfg, NULL, NULL, NULL, NULL, &sub, &why), CF_ERR_INVALID);
    struct event_base *base = event_base_new();
    cfg.db = -1;
    assert_int_equal(cf_store_sub_new(&cfg, base, s_msg, s_resync, NULL, &sub, &why),
                     CF_ERR_INVALID);
    assert_non_null(strstr(why.text, "db"));
    assert_null(sub);
    cfg.db = 0;
    cfg.password = "pw";
    int ok = 0;
    for (long i = 0; i < 32 && !ok; i++) {
        cf_test_alloc_fail_at(i);
        cf_err_t rc = cf_store_sub_new(&cfg, base, s_msg, s_resync, NULL, &sub, &why);
        if (rc == CF_OK)
            rc = cf_store_sub_subscribe(sub, "cf:ch");
        cf_test_alloc_fail_at(-1);
        assert_true(rc == CF_OK || rc == CF_ERR_NOMEM);
        ok = rc == CF_OK;
        cf_store_sub_destroy(&sub);
    }
    assert_true(ok);
    /* limits on names */
    assert_int_equal(cf_store_sub_new(&cfg, base, s_msg, s_resync, NULL, &sub, &why), CF_OK);
    char name[CF_STORE_SUB_CHANNEL_MAX + 2];
    memset(name, 'c', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    assert_int_equal(cf_store_sub_subscribe(sub, name), CF_ERR_INVALID);
    for (int i = 0; i < CF_STORE_SUB_MAX_CHANNELS; i++) {
        snprintf(name, sizeof(name), "cf:ch:%d", i);
        assert_int_equal(cf_store_sub_subscribe(sub, name), CF_OK);
    }
    assert_int_equal(cf_store_sub_psubscribe(sub, "cf:*"), CF_ERR_TOOBIG);
    assert_int_equal(cf_store_sub_subscribe(sub, "cf:ch:0"), CF_ERR_EXISTS);
    assert_int_equal(cf_store_sub_ready(sub), 0);
    assert_string_equal(cf_store_sub_server(sub), "");
    cf_store_sub_destroy(&sub);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_parse_redis),
        cmocka_unit_test(test_parse_redis_refusals),
        cmocka_unit_test(test_parse_sentinels),
        cmocka_unit_test(test_cfg_check),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_sub_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
