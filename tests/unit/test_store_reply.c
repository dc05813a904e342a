/*  test_store_reply - Redis replies as outside input: capped builders, error, Sentinel and ROLE
    decoding, reconnect backoff  */
#include "cf_test.h"

#include <stdio.h>
#include <string.h>

#include "cf_store.h"

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

/* resp parsed under the caps of the default configuration; fails the test unless a reply
   comes out. The reply is the caller's (freeReplyObject). */
static redisReply *s_reply(const char *resp, size_t len)
{
    cf_store_cfg_t cfg;
    cf_store_cfg_init(&cfg);
    cf_store_caps_t caps;
    cf_store_caps_init(&caps, &cfg);
    redisReply *r = NULL;
    assert_int_equal(s_parse(&caps, resp, len, &r), REDIS_OK);
    return r;
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
    static const char exec[] = "*2\r\n:1\r\n-READONLY no writes here\r\n";
    redisReply *r = s_reply(exec, sizeof(exec) - 1);
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
    redisReply *r = s_reply(resp, strlen(resp));
    cf_err_t rc = cf_store_reply_master_addr(r, ep, why);
    freeReplyObject(r);
    return rc;
}

static cf_err_t s_role(const char *resp)
{
    redisReply *r = s_reply(resp, strlen(resp));
    cf_err_t rc = cf_store_reply_role_master(r, NULL);
    freeReplyObject(r);
    return rc;
}

static cf_err_t s_failover(const char *resp, int *busy)
{
    redisReply *r = s_reply(resp, strlen(resp));
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
        size_t len = i == 5 ? 21 : strlen(corrupt[i]); /* [5] holds a NUL */
        redisReply *r = s_reply(corrupt[i], len);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_caps),
        cmocka_unit_test(test_batch_and_unread_caps),
        cmocka_unit_test(test_reply_alloc_failures),
        cmocka_unit_test(test_error_mapping),
        cmocka_unit_test(test_sentinel_and_role_answers),
        cmocka_unit_test(test_sentinel_failover_flag),
        cmocka_unit_test(test_backoff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
