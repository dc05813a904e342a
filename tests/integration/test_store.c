/*  test_store - cf_store commands on one redis-server the tests share: plain and binary
    commands, error replies, reply caps, pipelines, MULTI/EXEC, scripts, SCAN and leases  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_itest.h"
#include "cf_itest_storefix.h"
#include "cf_store.h"

static void test_usage(void **state)
{
    const cf_itest_redis_t *redis = *state; /* the group's server */
    cf_store_cfg_t cfg;
    cf_store_cfg_init(&cfg);
    char text[64];
    snprintf(text, sizeof(text), "127.0.0.1:%d", redis->port);
    cf_why_t why = {""};
    assert_int_equal(cf_store_cfg_parse_redis(&cfg, text, &why), CF_OK);
    cf_store_t *store = NULL;
    assert_int_equal(cf_store_new(&cfg, &store, &why), CF_OK);
    assert_int_equal(cf_store_connect(store), CF_OK);
    assert_string_equal(cf_store_server(store), text);

    redisReply *reply = NULL;
    assert_int_equal(cf_store_cmd_idem(store, NULL, "SET %s %s", "cf:test:usage", "hello"), CF_OK);
    assert_int_equal(cf_store_cmd(store, &reply, "GET %s", "cf:test:usage"), CF_OK);
    assert_int_equal(reply->type, REDIS_REPLY_STRING);
    assert_string_equal(reply->str, "hello");
    cf_store_reply_free(&reply);
    cf_store_reply_free(&reply); /* idempotent */
    assert_int_equal(cf_store_reconnects(store), 0);
    cf_store_destroy(&store);
    cf_store_destroy(&store);
    assert_null(store);
}

static void test_binary_argv(void **state)
{
    const cf_itest_redis_t *redis = *state;
    cf_store_t *store = cf_itest_store_at(redis->port, NULL);
    static const char key[] = "cf:test:bin\0\r\nkey";
    static const char val[] = "\0\x01\xff\r\n$3\r\nSET\0end";
    const char *set[] = {"SET", key, val};
    size_t set_len[] = {3, sizeof(key) - 1, sizeof(val) - 1};
    assert_int_equal(cf_store_cmd_argv(store, CF_STORE_IDEMPOTENT, NULL, 3, set, set_len), CF_OK);
    const char *get[] = {"GET", key};
    size_t get_len[] = {3, sizeof(key) - 1};
    redisReply *reply = NULL;
    assert_int_equal(cf_store_cmd_argv(store, 0, &reply, 2, get, get_len), CF_OK);
    assert_int_equal(reply->len, sizeof(val) - 1);
    assert_memory_equal(reply->str, val, sizeof(val) - 1);
    cf_store_reply_free(&reply);
    /* %b in the format form is binary safe too */
    assert_int_equal(cf_store_cmd(store, &reply, "GET %b", key, sizeof(key) - 1), CF_OK);
    assert_memory_equal(reply->str, val, sizeof(val) - 1);
    cf_store_reply_free(&reply);
    /* bad argument vectors are refused before any I/O */
    assert_int_equal(cf_store_cmd_argv(store, 0, &reply, 0, get, NULL), CF_ERR_INVALID);
    const char *holes[] = {"GET", NULL};
    assert_int_equal(cf_store_cmd_argv(store, 0, &reply, 2, holes, NULL), CF_ERR_INVALID);
    assert_null(reply);
    cf_store_destroy(&store);
}

static void test_error_replies(void **state)
{
    const cf_itest_redis_t *redis = *state;
    cf_store_t *store = cf_itest_store_at(redis->port, NULL);
    redisReply *reply = (redisReply *) 0x1;
    assert_int_equal(cf_store_cmd(store, NULL, "SET cf:test:str abc"), CF_OK);
    assert_int_equal(cf_store_cmd(store, &reply, "INCR cf:test:str"), CF_ERR_INVALID);
    assert_null(reply);
    assert_non_null(strstr(cf_store_why(store)->text, "redis: ERR value is not an integer"));
    assert_int_equal(cf_store_cmd(store, &reply, "LPUSH cf:test:str x"), CF_ERR_INVALID);
    assert_non_null(strstr(cf_store_why(store)->text, "WRONGTYPE"));
    assert_int_equal(cf_store_cmd(store, &reply, "NOSUCHCOMMAND x"), CF_ERR_INVALID);
    assert_int_equal(
        cf_store_cmd(store, &reply, "EVALSHA %s 0", "0000000000000000000000000000000000000000"),
        CF_ERR_NOTFOUND);
    /* error replies leave the connection usable */
    assert_int_equal(cf_store_cmd(store, &reply, "PING"), CF_OK);
    assert_string_equal(reply->str, "PONG");
    cf_store_reply_free(&reply);
    assert_int_equal(cf_store_reconnects(store), 0);
    cf_store_destroy(&store);
}

static void test_reply_caps(void **state)
{
    const cf_itest_redis_t *redis = *state;
    cf_store_cfg_t cfg;
    cf_store_cfg_init(&cfg);
    cfg.max_reply_bytes = 64 * 1024;
    cfg.max_reply_elements = 100;
    cfg.max_batch_bytes = 256 * 1024;
    cf_store_t *store = cf_itest_store_at(redis->port, &cfg);
    size_t big = 200 * 1024;
    char *blob = calloc(1, big);
    assert_non_null(blob);
    memset(blob, 'x', big);
    assert_int_equal(cf_store_cmd(store, NULL, "SET cf:test:big %b", blob, big), CF_OK);
    redisReply *reply = NULL;
    assert_int_equal(cf_store_cmd(store, &reply, "GET cf:test:big"), CF_ERR_TOOBIG);
    assert_null(reply);
    assert_non_null(strstr(cf_store_why(store)->text, "cap"));
    /* the dropped connection comes back for the next command */
    assert_int_equal(cf_store_cmd(store, &reply, "STRLEN cf:test:big"), CF_OK);
    assert_int_equal(reply->integer, (long long) big);
    cf_store_reply_free(&reply);
    assert_int_equal(cf_store_reconnects(store), 1);
    /* too many elements */
    assert_int_equal(cf_store_cmd(store, NULL, "DEL cf:test:list"), CF_OK);
    cf_store_pipe_t *pipe = NULL;
    assert_int_equal(cf_store_pipe_new(store, 1000, &pipe), CF_OK);
    for (int i = 0; i < 150; i++)
        assert_int_equal(cf_store_pipe_append(pipe, "RPUSH cf:test:list %d", i), CF_OK);
    assert_int_equal(cf_store_pipe_exec(pipe, 0), CF_OK);
    assert_int_equal(cf_store_cmd(store, &reply, "LRANGE cf:test:list 0 -1"), CF_ERR_TOOBIG);
    assert_int_equal(cf_store_cmd(store, &reply, "LRANGE cf:test:list 0 49"), CF_OK);
    assert_int_equal(reply->elements, 50);
    cf_store_reply_free(&reply);
    /* many replies in one round trip count against the batch cap */
    cf_store_pipe_reset(pipe);
    for (int i = 0; i < 8; i++)
        assert_int_equal(cf_store_pipe_append(pipe, "GETRANGE cf:test:big 0 %d", 60 * 1024 - 1),
                         CF_OK);
    assert_int_equal(cf_store_pipe_exec(pipe, 0), CF_ERR_TOOBIG);
    assert_null(cf_store_pipe_reply(pipe, 0));
    cf_store_pipe_destroy(&pipe);
    free(blob);
    cf_store_destroy(&store);
}

static void test_pipeline(void **state)
{
    const cf_itest_redis_t *redis = *state;
    enum { N = 10000 };
    cf_store_t *store = cf_itest_store_at(redis->port, NULL);
    cf_store_pipe_t *pipe = NULL;
    assert_int_equal(cf_store_pipe_new(store, N, &pipe), CF_OK);
    for (int i = 0; i < N; i++)
        assert_int_equal(cf_store_pipe_append(pipe, "SET cf:test:p:%d v%d", i, i), CF_OK);
    assert_int_equal(cf_store_pipe_size(pipe), N);
    assert_int_equal(cf_store_pipe_append(pipe, "PING"), CF_ERR_TOOBIG); /* max_cmds */
    assert_int_equal(cf_store_pipe_exec(pipe, CF_STORE_IDEMPOTENT), CF_OK);
    assert_int_equal(cf_store_pipe_exec(pipe, 0), CF_ERR_STATE); /* reset first */
    assert_int_equal(cf_store_pipe_append(pipe, "PING"), CF_ERR_STATE);
    cf_store_pipe_reset(pipe);
    for (int i = 0; i < N; i++) {
        const char *argv[] = {"GET", NULL};
        char key[32];
        snprintf(key, sizeof(key), "cf:test:p:%d", i);
        argv[1] = key;
        assert_int_equal(cf_store_pipe_append_argv(pipe, 2, argv, NULL), CF_OK);
    }
    assert_int_equal(cf_store_pipe_exec(pipe, 0), CF_OK);
    for (int i = 0; i < N; i++) {
        char want[32];
        snprintf(want, sizeof(want), "v%d", i);
        const redisReply *r = cf_store_pipe_reply(pipe, (size_t) i);
        assert_non_null(r);
        assert_string_equal(r->str, want);
    }
    assert_null(cf_store_pipe_reply(pipe, N));
    /* an error in the middle: reported with its position, every reply still readable */
    cf_store_pipe_reset(pipe);
    assert_int_equal(cf_store_pipe_append(pipe, "SET cf:test:s x"), CF_OK);
    assert_int_equal(cf_store_pipe_append(pipe, "INCR cf:test:s"), CF_OK);
    assert_int_equal(cf_store_pipe_append(pipe, "GET cf:test:s"), CF_OK);
    assert_int_equal(cf_store_pipe_exec(pipe, 0), CF_ERR_INVALID);
    assert_non_null(strstr(cf_store_why(store)->text, "command 2: redis: ERR"));
    assert_string_equal(cf_store_pipe_reply(pipe, 2)->str, "x");
    cf_store_pipe_destroy(&pipe);
    cf_store_pipe_destroy(&pipe);
    assert_int_equal(cf_store_pipe_new(store, 0, &pipe), CF_ERR_INVALID);
    cf_store_destroy(&store);
}

static void test_multi_exec(void **state)
{
    const cf_itest_redis_t *redis = *state;
    cf_store_t *store = cf_itest_store_at(redis->port, NULL);
    assert_int_equal(cf_store_cmd(store, NULL, "DEL cf:test:state cf:test:counts"), CF_OK);
    cf_store_pipe_t *pipe = NULL;
    assert_int_equal(cf_store_pipe_new(store, 16, &pipe), CF_OK);
    /* a state change and its counter in one transaction */
    assert_int_equal(cf_store_pipe_append(pipe, "MULTI"), CF_OK);
    assert_int_equal(cf_store_pipe_append(pipe, "HSET cf:test:state agent-1 installed"), CF_OK);
    assert_int_equal(cf_store_pipe_append(pipe, "HINCRBY cf:test:counts installed 1"), CF_OK);
    assert_int_equal(cf_store_pipe_append(pipe, "EXEC"), CF_OK);
    assert_int_equal(cf_store_pipe_exec(pipe, 0), CF_OK);
    assert_string_equal(cf_store_pipe_reply(pipe, 1)->str, "QUEUED");
    const redisReply *exec = cf_store_pipe_reply(pipe, 3);
    assert_int_equal(exec->type, REDIS_REPLY_ARRAY);
    assert_int_equal(exec->elements, 2);
    assert_int_equal(exec->element[1]->integer, 1);
    /* a runtime error inside EXEC is found although the EXEC reply itself is an array */
    cf_store_pipe_reset(pipe);
    assert_int_equal(cf_store_pipe_append(pipe, "MULTI"), CF_OK);
    assert_int_equal(cf_store_pipe_append(pipe, "HINCRBY cf:test:counts installed 1"), CF_OK);
    assert_int_equal(cf_store_pipe_append(pipe, "INCR cf:test:state"), CF_OK);
    assert_int_equal(cf_store_pipe_append(pipe, "EXEC"), CF_OK);
    assert_int_equal(cf_store_pipe_exec(pipe, 0), CF_ERR_INVALID);
    assert_non_null(strstr(cf_store_why(store)->text, "command 4: redis: WRONGTYPE"));
    /* a command refused at queue time aborts the whole transaction */
    cf_store_pipe_reset(pipe);
    assert_int_equal(cf_store_pipe_append(pipe, "MULTI"), CF_OK);
    assert_int_equal(cf_store_pipe_append(pipe, "HINCRBY cf:test:counts installed 1"), CF_OK);
    assert_int_equal(cf_store_pipe_append(pipe, "NOSUCHCOMMAND"), CF_OK);
    assert_int_equal(cf_store_pipe_append(pipe, "EXEC"), CF_OK);
    assert_int_equal(cf_store_pipe_exec(pipe, 0), CF_ERR_INVALID);
    redisReply *r = NULL;
    assert_int_equal(cf_store_cmd(store, &r, "HGET cf:test:counts installed"), CF_OK);
    assert_string_equal(r->str, "2");
    cf_store_reply_free(&r);
    cf_store_pipe_destroy(&pipe);
    cf_store_destroy(&store);
}

static void test_scripts(void **state)
{
    const cf_itest_redis_t *redis = *state;
    cf_store_t *store = cf_itest_store_at(redis->port, NULL);
    cf_store_script_t *script = NULL;
    assert_int_equal(
        cf_store_script_new("return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}", &script),
        CF_OK);
    assert_int_equal(strlen(cf_store_script_sha(script)), 40);
    assert_int_equal(cf_store_cmd(store, NULL, "SET cf:test:lua 10"), CF_OK);
    const char *argv[] = {"cf:test:lua", "arg\0x"};
    size_t lens[] = {11, 5};
    redisReply *r = NULL;
    /* never loaded: EVALSHA says NOSCRIPT, EVAL runs it */
    assert_int_equal(cf_store_cmd(store, NULL, "SCRIPT FLUSH"), CF_OK);
    assert_int_equal(cf_store_script_call(store, script, 0, &r, 1, 1, argv, lens), CF_OK);
    assert_int_equal(r->elements, 3);
    assert_memory_equal(r->element[1]->str, "arg\0x", 5);
    assert_int_equal(r->element[2]->integer, 11);
    cf_store_reply_free(&r);
    /* EVAL cached it: this time EVALSHA itself answers */
    assert_int_equal(cf_store_cmd(store, &r, "SCRIPT EXISTS %s", cf_store_script_sha(script)),
                     CF_OK);
    assert_int_equal(r->element[0]->integer, 1);
    cf_store_reply_free(&r);
    assert_int_equal(cf_store_script_call(store, script, 0, &r, 1, 1, argv, lens), CF_OK);
    assert_int_equal(r->element[2]->integer, 12);
    cf_store_reply_free(&r);
    /* as after a failover to a replica that never saw it */
    assert_int_equal(cf_store_cmd(store, NULL, "SCRIPT FLUSH"), CF_OK);
    assert_int_equal(cf_store_script_call(store, script, 0, &r, 1, 1, argv, lens), CF_OK);
    assert_int_equal(r->element[2]->integer, 13);
    cf_store_reply_free(&r);
    assert_int_equal(cf_store_script_load(store, script), CF_OK);
    cf_store_script_destroy(&script);
    cf_store_script_destroy(&script);
    /* a failing script: the Lua error comes back with its message */
    assert_int_equal(cf_store_script_new("return redis.call('INCR', 'cf:test:str', 'x')", &script),
                     CF_OK);
    assert_int_equal(cf_store_script_call(store, script, 0, &r, 0, 0, NULL, NULL), CF_ERR_INVALID);
    assert_non_null(strstr(cf_store_why(store)->text, "redis: ERR"));
    assert_int_equal(cf_store_script_call(store, script, 0, &r, -1, 0, NULL, NULL), CF_ERR_INVALID);
    cf_store_script_destroy(&script);
    assert_int_equal(cf_store_script_new("", &script), CF_ERR_INVALID);
    assert_null(script);
    cf_store_destroy(&store);
}

typedef struct {
    unsigned char seen[5000]; /* keys seen by index */
    size_t calls;             /* callback calls (SCAN may repeat a key) */
    size_t stop_after;        /* stop when calls reaches this, 0 = never */
} s_scan_ctx_t;

static int s_on_key(void *arg, const char *item, size_t len)
{
    s_scan_ctx_t *ctx = arg;
    char buf[64];
    assert_true(len < sizeof(buf));
    memcpy(buf, item, len);
    buf[len] = '\0';
    int i = -1;
    if (sscanf(buf, "cf:scan:%d", &i) == 1 && i >= 0 && i < 5000)
        ctx->seen[i] = 1;
    else if (sscanf(buf, "m%d", &i) == 1 && i >= 0 && i < 5000)
        ctx->seen[i] = 1;
    else
        fail_msg("unexpected item %s", buf);
    ctx->calls++;
    return ctx->stop_after && ctx->calls >= ctx->stop_after;
}

static size_t s_count_seen(const s_scan_ctx_t *ctx, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += ctx->seen[i];
    return count;
}

static void test_scan(void **state)
{
    const cf_itest_redis_t *redis = *state;
    cf_store_t *store = cf_itest_store_at(redis->port, NULL);
    cf_store_pipe_t *pipe = NULL;
    assert_int_equal(cf_store_pipe_new(store, 6000, &pipe), CF_OK);
    for (int i = 0; i < 5000; i++)
        assert_int_equal(cf_store_pipe_append(pipe, "SET cf:scan:%d 1", i), CF_OK);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(cf_store_pipe_append(pipe, "SADD cf:test:set m%d", i), CF_OK);
    assert_int_equal(cf_store_pipe_exec(pipe, CF_STORE_IDEMPOTENT), CF_OK);
    cf_store_pipe_destroy(&pipe);

    s_scan_ctx_t *ctx = calloc(1, sizeof(*ctx));
    assert_int_equal(cf_store_scan(store, "cf:scan:*", 500, 100000, s_on_key, ctx), CF_OK);
    assert_int_equal(s_count_seen(ctx, 5000), 5000);
    assert_true(ctx->calls >= 5000);
    /* the cap on items */
    memset(ctx, 0, sizeof(*ctx));
    assert_int_equal(cf_store_scan(store, "cf:scan:*", 0, 1000, s_on_key, ctx), CF_ERR_TOOBIG);
    assert_int_equal(ctx->calls, 1000);
    /* the callback stops early */
    memset(ctx, 0, sizeof(*ctx));
    ctx->stop_after = 7;
    assert_int_equal(cf_store_scan(store, "cf:scan:*", 100, 100000, s_on_key, ctx), CF_OK);
    assert_int_equal(ctx->calls, 7);
    /* set members */
    memset(ctx, 0, sizeof(*ctx));
    assert_int_equal(cf_store_sscan(store, "cf:test:set", NULL, 200, 5000, s_on_key, ctx), CF_OK);
    assert_int_equal(s_count_seen(ctx, 1000), 1000);
    assert_int_equal(cf_store_scan(store, NULL, 200000, 10, s_on_key, ctx), CF_ERR_INVALID);
    assert_int_equal(cf_store_sscan(store, "", NULL, 10, 10, s_on_key, ctx), CF_ERR_INVALID);
    assert_int_equal(cf_store_sscan(store, "cf:scan:1", NULL, 10, 10, s_on_key, ctx),
                     CF_ERR_INVALID); /* WRONGTYPE */
    free(ctx);
    cf_store_destroy(&store);
}

static int s_lease_free(void *arg)
{
    int got = 0;
    cf_err_t rc = cf_store_lease_acquire(arg, "cf:test:lease", "owner-a", 60000, &got);
    return rc == CF_OK && got;
}

static void test_lease(void **state)
{
    const cf_itest_redis_t *redis = *state;
    cf_store_t *a = cf_itest_store_at(redis->port, NULL);
    cf_store_t *b = cf_itest_store_at(redis->port, NULL);
    const char *lease = "cf:test:lease";
    int got = -1;
    assert_int_equal(cf_store_cmd(a, NULL, "DEL %s", lease), CF_OK);
    assert_int_equal(cf_store_lease_acquire(a, lease, "owner-a", 60000, &got), CF_OK);
    assert_int_equal(got, 1);
    assert_int_equal(cf_store_lease_acquire(b, lease, "owner-b", 60000, &got), CF_OK);
    assert_int_equal(got, 0);
    assert_int_equal(cf_store_lease_renew(b, lease, "owner-b", 60000, &got), CF_OK);
    assert_int_equal(got, 0);
    assert_int_equal(cf_store_lease_release(b, lease, "owner-b", &got), CF_OK);
    assert_int_equal(got, 0); /* never another owner's lease */
    assert_int_equal(cf_store_lease_renew(a, lease, "owner-a", 30000, &got), CF_OK);
    assert_int_equal(got, 1);
    assert_int_equal(cf_store_lease_acquire(a, lease, "owner-a", 60000, &got), CF_OK);
    assert_int_equal(got, 1); /* re-acquiring our own lease renews it */
    assert_int_equal(cf_store_lease_release(a, lease, "owner-a", &got), CF_OK);
    assert_int_equal(got, 1);
    assert_int_equal(cf_store_lease_release(a, lease, "owner-a", &got), CF_OK);
    assert_int_equal(got, 0);
    /* a holder that stops renewing loses the lease when it expires */
    assert_int_equal(cf_store_lease_acquire(b, lease, "owner-b", 200, &got), CF_OK);
    assert_int_equal(got, 1);
    assert_false(s_lease_free(a));
    assert_true(cf_test_wait_until(s_lease_free, a, 3000));
    assert_int_equal(cf_store_lease_renew(b, lease, "owner-b", 200, &got), CF_OK);
    assert_int_equal(got, 0);
    /* refusals */
    assert_int_equal(cf_store_lease_acquire(a, "", "x", 100, &got), CF_ERR_INVALID);
    assert_int_equal(cf_store_lease_acquire(a, lease, "", 100, &got), CF_ERR_INVALID);
    assert_int_equal(cf_store_lease_acquire(a, lease, "x", 0, &got), CF_ERR_INVALID);
    assert_int_equal(cf_store_lease_renew(a, lease, "x", CF_STORE_LEASE_MAX_MS + 1, &got),
                     CF_ERR_INVALID);
    cf_store_destroy(&a);
    cf_store_destroy(&b);
}

static void test_harness(void **state)
{
    const cf_itest_redis_t *redis = *state;
    /* a port nobody listens on is refused within the time limit; the shared server is up */
    int port = cf_itest_free_port();
    assert_in_range(port, 1, 65535);
    assert_int_equal(cf_itest_wait_port("127.0.0.1", port, 50), CF_ERR_IO);
    assert_int_equal(cf_itest_wait_port("127.0.0.1", redis->port, 1000), CF_OK);
    assert_int_equal(cf_itest_redis_wait_ping(redis->port, redis->pid, 1000), CF_OK);
    /* spawn, kill by PID, reap */
    char *argv[] = {"/bin/sleep", "30", NULL};
    pid_t pid = 0;
    assert_int_equal(cf_itest_spawn(argv, NULL, &pid), CF_OK);
    assert_false(cf_itest_exited(pid));
    assert_int_equal(cf_itest_kill(pid, SIGTERM), CF_OK);
    assert_true(cf_itest_exited(pid));
    assert_int_equal(cf_itest_kill(pid, SIGTERM), CF_ERR_NOTFOUND); /* reaped: not ours now */
    char *relative[] = {"sleep", "1", NULL};
    assert_int_equal(cf_itest_spawn(relative, NULL, &pid), CF_ERR_INVALID);
    assert_int_equal(cf_itest_kill(1, SIGTERM), CF_ERR_NOTFOUND); /* never a stranger */
    assert_true(cf_itest_redis_reply_has(redis->port, "PONG", "PING"));
    assert_false(cf_itest_redis_reply_has(redis->port, NULL, "NOSUCHCOMMAND"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),       cmocka_unit_test(test_harness),
        cmocka_unit_test(test_binary_argv), cmocka_unit_test(test_error_replies),
        cmocka_unit_test(test_reply_caps),  cmocka_unit_test(test_pipeline),
        cmocka_unit_test(test_multi_exec),  cmocka_unit_test(test_scripts),
        cmocka_unit_test(test_scan),        cmocka_unit_test(test_lease),
    };
    return cmocka_run_group_tests(tests, cf_itest_storefix_setup, cf_itest_storefix_teardown);
}
