/*  test_store - the pure parts of cf_store: address forms, config checks, reply caps, decoding  */
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

/* Parse raw RESP bytes through the capped builders. */
static int s_parse(cf_store_caps_t *caps, const char *resp, size_t len, redisReply **out)
{
    redisReader *reader = redisReaderCreate();
    assert_non_null(reader);
    cf_store_caps_attach(reader, caps);
    cf_store_caps_begin_batch(caps);
    assert_int_equal(redisReaderFeed(reader, resp, len), REDIS_OK);
    void *reply = NULL;
    int rc = redisReaderGetReply(reader, &reply);
    *out = reply;
    redisReaderFree(reader);
    return rc;
}

static void test_reply_caps(void **state)
{
    (void) state;
    cf_store_cfg_t cfg;
    cf_store_cfg_init(&cfg);
    cfg.max_reply_bytes = 2048;
    cfg.max_reply_elements = 20;
    cf_store_caps_t caps;
    cf_store_caps_init(&caps, &cfg);
    redisReply *r = NULL;
    /* a nested reply within the caps is built like hiredis builds it */
    static const char ok[] = "*3\r\n$3\r\na\0b\r\n:42\r\n*2\r\n$-1\r\n+OK\r\n";
    assert_int_equal(s_parse(&caps, ok, sizeof(ok) - 1, &r), REDIS_OK);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 3);
    assert_int_equal(r->element[0]->len, 3);
    assert_memory_equal(r->element[0]->str, "a\0b", 4); /* NUL-terminated too */
    assert_int_equal(r->element[1]->integer, 42);
    assert_int_equal(r->element[2]->element[0]->type, REDIS_REPLY_NIL);
    assert_string_equal(r->element[2]->element[1]->str, "OK");
    assert_int_equal(caps.refused, 0);
    freeReplyObject(r);
    /* too many elements: refused when the array header arrives, before any allocation */
    static const char wide[] = "*21\r\n";
    assert_int_equal(s_parse(&caps, wide, sizeof(wide) - 1, &r), REDIS_ERR);
    assert_null(r);
    assert_int_equal(caps.refused, 1);
    static const char huge[] = "*2147483647\r\n";
    assert_int_equal(s_parse(&caps, huge, sizeof(huge) - 1, &r), REDIS_ERR);
    assert_int_equal(caps.refused, 1);
    /* elements counted across nesting: 1 + 10 + 10 children > 20 */
    char nest[512] = "*2\r\n*10\r\n";
    for (int i = 0; i < 10; i++)
        strcat(nest, ":1\r\n");
    strcat(nest, "*10\r\n");
    for (int i = 0; i < 10; i++)
        strcat(nest, ":1\r\n");
    assert_int_equal(s_parse(&caps, nest, strlen(nest), &r), REDIS_ERR);
    assert_int_equal(caps.refused, 1);
    /* too many bytes in one string */
    char big[4096];
    int n = snprintf(big, sizeof(big), "$3000\r\n");
    memset(big + n, 'x', 3000);
    memcpy(big + n + 3000, "\r\n", 2);
    assert_int_equal(s_parse(&caps, big, (size_t) n + 3002, &r), REDIS_ERR);
    assert_int_equal(caps.refused, 1);
    /* the counters restart with each reply: two replies of 1500 bytes pass one by one */
    n = snprintf(big, sizeof(big), "$1500\r\n");
    memset(big + n, 'y', 1500);
    memcpy(big + n + 1500, "\r\n", 2);
    assert_int_equal(s_parse(&caps, big, (size_t) n + 1502, &r), REDIS_OK);
    freeReplyObject(r);
    assert_int_equal(s_parse(&caps, big, (size_t) n + 1502, &r), REDIS_OK);
    freeReplyObject(r);
}

static void test_batch_and_unread_caps(void **state)
{
    (void) state;
    cf_store_cfg_t cfg;
    cf_store_cfg_init(&cfg);
    cfg.max_reply_bytes = 1024;
    cfg.max_batch_bytes = 1024;
    cf_store_caps_t caps;
    cf_store_caps_init(&caps, &cfg);
    redisReader *reader = redisReaderCreate();
    cf_store_caps_attach(reader, &caps);
    cf_store_caps_begin_batch(&caps);
    /* replies of one round trip add up: the third 400-byte string crosses 1024 */
    char one[512];
    int n = snprintf(one, sizeof(one), "$300\r\n");
    memset(one + n, 'z', 300);
    memcpy(one + n + 300, "\r\n", 2);
    void *reply = NULL;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(redisReaderFeed(reader, one, (size_t) n + 302), REDIS_OK);
        assert_int_equal(redisReaderGetReply(reader, &reply), REDIS_OK);
        freeReplyObject(reply);
    }
    assert_int_equal(redisReaderFeed(reader, one, (size_t) n + 302), REDIS_OK);
    assert_int_equal(redisReaderGetReply(reader, &reply), REDIS_ERR);
    assert_int_equal(caps.refused, 1);
    redisReaderFree(reader);
    /* a bulk string announced over the cap is refused while it is still arriving */
    reader = redisReaderCreate();
    cf_store_caps_attach(reader, &caps);
    static const char head[] = "$1000000000\r\n";
    assert_int_equal(redisReaderFeed(reader, head, sizeof(head) - 1), REDIS_OK);
    assert_int_equal(redisReaderGetReply(reader, &reply), REDIS_OK);
    assert_null(reply); /* waiting for more */
    assert_false(cf_store_caps_over_unread(&caps, reader));
    char chunk[4096];
    memset(chunk, 'q', sizeof(chunk));
    for (int i = 0; i < 5; i++)
        assert_int_equal(redisReaderFeed(reader, chunk, sizeof(chunk)), REDIS_OK);
    assert_true(cf_store_caps_over_unread(&caps, reader));
    redisReaderFree(reader);
}

/* Every allocation of the builders may fail: the reader reports it, nothing leaks. */
static void test_reply_alloc_failures(void **state)
{
    (void) state;
    cf_store_cfg_t cfg;
    cf_store_cfg_init(&cfg);
    cf_store_caps_t caps;
    cf_store_caps_init(&caps, &cfg);
    static const char resp[] = "*3\r\n$5\r\nhello\r\n*2\r\n:1\r\n-ERR x\r\n$-1\r\n";
    int failures = 0;
    for (long i = 0; i < 64; i++) {
        redisReader *reader = redisReaderCreate(); /* hiredis' own allocations: not counted */
        cf_store_caps_attach(reader, &caps);
        assert_int_equal(redisReaderFeed(reader, resp, sizeof(resp) - 1), REDIS_OK);
        void *reply = NULL;
        cf_test_alloc_fail_at(i);
        int rc = redisReaderGetReply(reader, &reply);
        long failed = cf_test_alloc_failed();
        cf_test_alloc_fail_at(-1);
        if (failed == 0) {
            assert_int_equal(rc, REDIS_OK);
            assert_non_null(reply);
            freeReplyObject(reply);
            redisReaderFree(reader);
            break;
        }
        failures++;
        assert_int_equal(rc, REDIS_ERR);
        assert_int_equal(caps.refused, 0); /* out of memory, not a cap */
        redisReaderFree(reader);
    }
    assert_true(failures >= 8); /* one per object and string, at least */
}

static void test_error_mapping(void **state)
{
    (void) state;
    static const struct {
        const char *msg; /* Redis error text */
        cf_err_t rc;     /* expected code */
    } map[] = {
        {"NOSCRIPT No matching script.", CF_ERR_NOTFOUND},
        {"NOAUTH Authentication required.", CF_ERR_BADPASS},
        {"WRONGPASS invalid username-password pair", CF_ERR_BADPASS},
        {"READONLY You can't write against a read only replica.", CF_ERR_STATE},
        {"LOADING Redis is loading the dataset in memory", CF_ERR_STATE},
        {"OOM command not allowed when used memory > 'maxmemory'.", CF_ERR_STATE},
        {"BUSY Redis is busy running a script.", CF_ERR_STATE},
        {"WRONGTYPE Operation against a key holding the wrong kind of value", CF_ERR_INVALID},
        {"ERR unknown command", CF_ERR_INVALID},
        {"READONLYX not the word", CF_ERR_INVALID},
        {"", CF_ERR_INVALID},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        assert_int_equal(cf_store_err_from_redis(map[i].msg, strlen(map[i].msg)), map[i].rc);
    assert_int_equal(cf_store_err_from_redis(NULL, 0), CF_ERR_INVALID);
    /* errors nested in EXEC replies are found; why carries the message */
    cf_store_cfg_t cfg;
    cf_store_cfg_init(&cfg);
    cf_store_caps_t caps;
    cf_store_caps_init(&caps, &cfg);
    redisReply *r = NULL;
    static const char exec[] = "*2\r\n:1\r\n-READONLY no writes here\r\n";
    assert_int_equal(s_parse(&caps, exec, sizeof(exec) - 1, &r), REDIS_OK);
    cf_why_t why = {""};
    assert_int_equal(cf_store_reply_check(r, &why), CF_ERR_STATE);
    assert_string_equal(why.text, "redis: READONLY no writes here");
    assert_true(cf_store_reply_readonly(r));
    assert_int_equal(cf_store_reply_check(r->element[0], &why), CF_OK);
    assert_false(cf_store_reply_readonly(r->element[0]));
    assert_int_equal(cf_store_reply_check(NULL, &why), CF_ERR_IO);
    freeReplyObject(r);
}

static cf_err_t s_master(const char *resp, cf_store_endpoint_t *ep, cf_why_t *why)
{
    cf_store_cfg_t cfg;
    cf_store_cfg_init(&cfg);
    cf_store_caps_t caps;
    cf_store_caps_init(&caps, &cfg);
    redisReply *r = NULL;
    assert_int_equal(s_parse(&caps, resp, strlen(resp), &r), REDIS_OK);
    cf_err_t rc = cf_store_reply_master_addr(r, ep, why);
    freeReplyObject(r);
    return rc;
}

static cf_err_t s_role(const char *resp)
{
    cf_store_cfg_t cfg;
    cf_store_cfg_init(&cfg);
    cf_store_caps_t caps;
    cf_store_caps_init(&caps, &cfg);
    redisReply *r = NULL;
    assert_int_equal(s_parse(&caps, resp, strlen(resp), &r), REDIS_OK);
    cf_err_t rc = cf_store_reply_role_master(r, NULL);
    freeReplyObject(r);
    return rc;
}

static cf_err_t s_failover(const char *resp, int *busy)
{
    cf_store_cfg_t cfg;
    cf_store_cfg_init(&cfg);
    cf_store_caps_t caps;
    cf_store_caps_init(&caps, &cfg);
    redisReply *r = NULL;
    assert_int_equal(s_parse(&caps, resp, strlen(resp), &r), REDIS_OK);
    cf_err_t rc = cf_store_reply_failover(r, busy, NULL);
    freeReplyObject(r);
    return rc;
}

/* SENTINEL MASTER: the leading Sentinel's flags say failover_in_progress from the start of a
   failover until the new master is named; that alone tells a write may still be lost. */
static void test_sentinel_failover_flag(void **state)
{
    (void) state;
    int busy = -1;
    assert_int_equal(s_failover("*4\r\n$4\r\nname\r\n$2\r\ncf\r\n$5\r\nflags\r\n"
                                "$6\r\nmaster\r\n",
                                &busy),
                     CF_OK);
    assert_int_equal(busy, 0);
    assert_int_equal(
        s_failover("*2\r\n$5\r\nflags\r\n$27\r\nmaster,failover_in_progress\r\n", &busy), CF_OK);
    assert_int_equal(busy, 1);
    assert_int_equal(s_failover("*2\r\n$5\r\nflags\r\n$42\r\nmaster,failover_in_progress,"
                                "force_failover\r\n",
                                &busy),
                     CF_OK);
    assert_int_equal(busy, 1);
    /* a longer word that starts like the tag is not the tag */
    assert_int_equal(s_failover("*2\r\n$5\r\nflags\r\n$22\r\nfailover_in_progressx,\r\n", &busy),
                     CF_OK);
    assert_int_equal(busy, 0);
    assert_int_equal(s_failover("-ERR No such master with that name\r\n", &busy), CF_ERR_INVALID);
    assert_int_equal(s_failover("*2\r\n$4\r\nname\r\n$2\r\ncf\r\n", &busy), CF_ERR_CORRUPT);
    assert_int_equal(s_failover("*1\r\n$5\r\nflags\r\n", &busy), CF_ERR_CORRUPT);
    assert_int_equal(s_failover("*2\r\n$5\r\nflags\r\n:1\r\n", &busy), CF_ERR_CORRUPT);
    assert_int_equal(s_failover("+OK\r\n", &busy), CF_ERR_CORRUPT);
    assert_int_equal(cf_store_reply_failover(NULL, &busy, NULL), CF_ERR_IO);
}

static void test_sentinel_and_role_answers(void **state)
{
    (void) state;
    cf_store_endpoint_t ep;
    cf_why_t why = {""};
    assert_int_equal(s_master("*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n", &ep, &why), CF_OK);
    assert_string_equal(ep.host, "127.0.0.1");
    assert_int_equal(ep.port, 6380);
    assert_int_equal(s_master("*2\r\n$3\r\n::1\r\n$4\r\n6380\r\n", &ep, &why), CF_OK);
    assert_string_equal(ep.host, "::1");
    assert_int_equal(s_master("*-1\r\n", &ep, &why), CF_ERR_NOTFOUND);
    assert_int_equal(s_master("$-1\r\n", &ep, &why), CF_ERR_NOTFOUND);
    assert_int_equal(s_master("-ERR no such\r\n", &ep, &why), CF_ERR_INVALID);
    static const char *corrupt[] = {
        "*1\r\n$9\r\n127.0.0.1\r\n",                 /* one element */
        "*2\r\n:1\r\n$4\r\n6380\r\n",                /* ip not a string */
        "*2\r\n$9\r\n127.0.0.1\r\n$5\r\n99999\r\n",  /* port out of range */
        "*2\r\n$9\r\n127.0.0.1\r\n$6\r\n123456\r\n", /* port too long */
        "*2\r\n$3\r\na b\r\n$2\r\n80\r\n",           /* bad host */
        "*2\r\n$3\r\na\0b\r\n$2\r\n80\r\n",          /* NUL in host */
        "*2\r\n$0\r\n\r\n$2\r\n80\r\n",              /* empty host */
        "+OK\r\n",
    };
    for (size_t i = 0; i < sizeof(corrupt) / sizeof(corrupt[0]); i++) {
        cf_store_cfg_t cfg;
        cf_store_cfg_init(&cfg);
        cf_store_caps_t caps;
        cf_store_caps_init(&caps, &cfg);
        redisReply *r = NULL;
        size_t len = i == 5 ? 21 : strlen(corrupt[i]); /* [5] holds a NUL */
        assert_int_equal(s_parse(&caps, corrupt[i], len, &r), REDIS_OK);
        assert_int_equal(cf_store_reply_master_addr(r, &ep, &why), CF_ERR_CORRUPT);
        freeReplyObject(r);
    }
    assert_int_equal(cf_store_reply_master_addr(NULL, &ep, &why), CF_ERR_IO);
    assert_int_equal(s_role("*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n"), CF_OK);
    assert_int_equal(s_role("*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:1\r\n$9\r\nconnected\r\n"
                            ":0\r\n"),
                     CF_ERR_STATE);
    assert_int_equal(s_role("*2\r\n$8\r\nsentinel\r\n*0\r\n"), CF_ERR_STATE);
    assert_int_equal(s_role("*1\r\n$7\r\nunknown\r\n"), CF_ERR_CORRUPT);
    assert_int_equal(s_role("*0\r\n"), CF_ERR_CORRUPT);
    assert_int_equal(s_role(":1\r\n"), CF_ERR_CORRUPT);
    assert_int_equal(s_role("-NOAUTH Authentication required.\r\n"), CF_ERR_BADPASS);
}

static void test_backoff(void **state)
{
    (void) state;
    cf_store_cfg_t cfg;
    cf_store_cfg_init(&cfg);
    cfg.backoff_min_ms = 100;
    cfg.backoff_max_ms = 1000;
    int spread = 0, first = cf_store_backoff_ms(&cfg, 3);
    for (int i = 0; i < 200; i++) {
        int a1 = cf_store_backoff_ms(&cfg, 1);
        assert_in_range(a1, 50, 100); /* equal jitter: half fixed, half random */
        int a3 = cf_store_backoff_ms(&cfg, 3);
        assert_in_range(a3, 200, 400);
        spread |= a3 != first;
        assert_in_range(cf_store_backoff_ms(&cfg, 30), 500, 1000); /* capped */
    }
    assert_true(spread); /* jittered, not fixed */
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
        cmocka_unit_test(test_reply_caps),
        cmocka_unit_test(test_batch_and_unread_caps),
        cmocka_unit_test(test_reply_alloc_failures),
        cmocka_unit_test(test_error_mapping),
        cmocka_unit_test(test_sentinel_and_role_answers),
        cmocka_unit_test(test_sentinel_failover_flag),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_sub_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
