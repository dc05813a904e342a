/*  test_store_async - cf_store_async against real redis-server processes on loopback:
    batches in order, pipelining, errors, time limits, Redis stopped and back, scripts  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cf_itest.h"
#include "cf_mem.h"
#include "cf_store_async.h"

#define S_MANY 500 /* batches queued in one loop turn */

static cf_itest_redis_t s_redis; /* shared server for the tests that do not stop it */

static int s_setup(void **state)
{
    (void) state;
    signal(SIGPIPE, SIG_IGN);
    return cf_itest_redis_start(&s_redis, NULL) == CF_OK ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void) state;
    cf_itest_redis_stop(&s_redis);
    return 0;
}

/* One batch's outcome. */
typedef struct {
    int done;          /* done calls */
    cf_err_t rc;       /* its code */
    char why[256];     /* its reason */
    int replies;       /* on_reply calls */
    char last[64];     /* text of the last string/status reply */
    long long integer; /* the last integer reply */
} s_out_t;

static void s_reply(void *arg, size_t i, const redisReply *r)
{
    s_out_t *o = arg;
    (void) i;
    o->replies++;
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
        snprintf(o->last, sizeof(o->last), "%s", r->str);
    if (r->type == REDIS_REPLY_INTEGER)
        o->integer = r->integer;
}

static void s_done(void *arg, cf_err_t rc, const cf_why_t *why)
{
    s_out_t *o = arg;
    o->done++;
    o->rc = rc;
    snprintf(o->why, sizeof(o->why), "%s", why ? why->text : "");
}

/* A loop and a client for port with a short time limit and back-off. */
typedef struct {
    struct event_base *base;  /* the loop */
    cf_store_async_t *client; /* the client */
    s_out_t *wait;            /* what s_turned waits for */
} s_env_t;

static void s_open(s_env_t *e, int port, int timeout_ms)
{
    cf_store_cfg_t cfg;
    cf_store_cfg_init(&cfg);
    char text[64];
    snprintf(text, sizeof(text), "127.0.0.1:%d", port);
    cf_why_t why = {""};
    assert_int_equal(cf_store_cfg_parse_redis(&cfg, text, &why), CF_OK);
    cfg.command_timeout_ms = timeout_ms;
    cfg.connect_timeout_ms = 500;
    cfg.backoff_min_ms = 10;
    cfg.backoff_max_ms = 50;
    e->base = event_base_new();
    assert_non_null(e->base);
    assert_int_equal(cf_store_async_new(&cfg, e->base, &e->client, &why), CF_OK);
}

static void s_close(s_env_t *e)
{
    cf_store_async_destroy(&e->client);
    cf_store_async_destroy(&e->client); /* idempotent */
    assert_null(e->client);
    event_base_free(e->base);
}

/* Condition: run the loop once without blocking; 1 when the awaited batch is done. */
static int s_turned(void *arg)
{
    s_env_t *e = arg;
    event_base_loop(e->base, EVLOOP_NONBLOCK);
    return e->wait->done > 0;
}

static void s_wait(s_env_t *e, s_out_t *o)
{
    e->wait = o;
    assert_true(cf_test_wait_until(s_turned, e, 10000));
}

static cf_err_t s_send_argv(s_env_t *e, int argc, const char **argv, s_out_t *o, cf_why_t *why)
{
    cf_store_async_cmd_t cmd = {NULL, 0, argc, argv, NULL};
    return cf_store_async_send(e->client, &cmd, 1, s_reply, s_done, o, why);
}

static void test_usage(void **state)
{
    (void) state;
    s_env_t e = {0};
    s_open(&e, s_redis.port, 2000);
    const char *set[] = {"SET", "cf:test:async", "hello"};
    const char *get[] = {"GET", "cf:test:async"};
    cf_store_async_cmd_t cmds[] = {{NULL, 0, 3, set, NULL}, {NULL, 0, 2, get, NULL}};
    s_out_t o = {0};
    cf_why_t why = {""};
    assert_int_equal(cf_store_async_send(e.client, cmds, 2, s_reply, s_done, &o, &why), CF_OK);
    assert_int_equal(o.done, 0); /* never from inside send */
    assert_int_equal(cf_store_async_pending(e.client), 1);
    s_wait(&e, &o);
    assert_int_equal(o.rc, CF_OK);
    assert_int_equal(o.replies, 2);
    assert_string_equal(o.last, "hello");
    assert_int_equal(cf_store_async_pending(e.client), 0);
    assert_int_equal(cf_store_async_connects(e.client), 1);
    char want[64];
    snprintf(want, sizeof(want), "127.0.0.1:%d", s_redis.port);
    assert_string_equal(cf_store_async_server(e.client), want);
    s_close(&e);
}

/* Many batches queued in one turn: all answered, in order, on one connection. */
static void test_pipelined(void **state)
{
    (void) state;
    s_env_t e = {0};
    s_open(&e, s_redis.port, 5000);
    static s_out_t outs[S_MANY];
    memset(outs, 0, sizeof(outs));
    const char *del[] = {"DEL", "cf:test:async:n"};
    s_out_t first = {0};
    cf_why_t why = {""};
    assert_int_equal(s_send_argv(&e, 2, del, &first, &why), CF_OK);
    const char *incr[] = {"INCR", "cf:test:async:n"};
    for (int i = 0; i < S_MANY; i++)
        assert_int_equal(s_send_argv(&e, 2, incr, &outs[i], &why), CF_OK);
    assert_int_equal(cf_store_async_pending(e.client), S_MANY + 1);
    s_wait(&e, &outs[S_MANY - 1]);
    for (int i = 0; i < S_MANY; i++) {
        assert_int_equal(outs[i].done, 1);
        assert_int_equal(outs[i].rc, CF_OK);
        assert_int_equal(outs[i].integer, i + 1);
    }
    assert_int_equal(cf_store_async_connects(e.client), 1);
    s_close(&e);
}

static int s_counted_8(void *arg)
{
    (void) arg;
    return cf_itest_redis_reply_has(s_redis.port, "8", "GET cf:test:async:early");
}

/* Every 8 commands of a turn are written at once, not at its end: Redis runs them while the
   loop has not turned yet (cf-server reads the rest of its check-ins meanwhile). */
static void test_written_before_turn_end(void **state)
{
    (void) state;
    s_env_t e = {0};
    s_open(&e, s_redis.port, 5000);
    const char *del[] = {"DEL", "cf:test:async:early"};
    s_out_t first = {0};
    cf_why_t why = {""};
    assert_int_equal(s_send_argv(&e, 2, del, &first, &why), CF_OK);
    s_wait(&e, &first); /* connected */
    static s_out_t outs[8];
    memset(outs, 0, sizeof(outs));
    const char *incr[] = {"INCR", "cf:test:async:early"};
    for (int i = 0; i < 8; i++)
        assert_int_equal(s_send_argv(&e, 2, incr, &outs[i], &why), CF_OK);
    assert_true(cf_test_wait_until(s_counted_8, NULL, 5000)); /* the loop has not run */
    s_wait(&e, &outs[7]);
    assert_int_equal(outs[7].integer, 8);
    s_close(&e);
}

static int s_counted_1(void *arg)
{
    (void) arg;
    return cf_itest_redis_reply_has(s_redis.port, "1", "GET cf:test:async:now");
}

/* cf_store_async_write sends what is queued at once: Redis runs a single command before
   the loop turns. Before a connection is up it does nothing (the turn's end writes). The
   longest command (CF_STORE_ASYNC_ARGC_MAX arguments) is taken, one more refused. */
static void test_write_now(void **state)
{
    (void) state;
    s_env_t e = {0};
    s_open(&e, s_redis.port, 5000);
    cf_store_async_write(e.client); /* nothing queued, not connected: nothing happens */
    cf_store_async_write(NULL);
    const char *del[] = {"DEL", "cf:test:async:now", "cf:test:async:wide"};
    s_out_t first = {0};
    cf_why_t why = {""};
    assert_int_equal(s_send_argv(&e, 3, del, &first, &why), CF_OK);
    cf_store_async_write(e.client); /* connecting: left to the turn's end */
    s_wait(&e, &first);
    assert_int_equal(first.rc, CF_OK);
    const char *incr[] = {"INCR", "cf:test:async:now"};
    s_out_t one = {0};
    assert_int_equal(s_send_argv(&e, 2, incr, &one, &why), CF_OK);
    cf_store_async_write(e.client);
    assert_true(cf_test_wait_until(s_counted_1, NULL, 5000)); /* the loop has not run */
    s_wait(&e, &one);
    assert_int_equal(one.integer, 1);
    const char *wide[CF_STORE_ASYNC_ARGC_MAX + 1];
    wide[0] = "SADD";
    wide[1] = "cf:test:async:wide";
    char names[CF_STORE_ASYNC_ARGC_MAX][8];
    for (int i = 2; i <= CF_STORE_ASYNC_ARGC_MAX; i++) {
        snprintf(names[i - 2], sizeof(names[i - 2]), "m%d", i);
        wide[i] = names[i - 2];
    }
    s_out_t o = {0};
    assert_int_equal(s_send_argv(&e, CF_STORE_ASYNC_ARGC_MAX + 1, wide, &o, &why), CF_ERR_INVALID);
    assert_int_equal(s_send_argv(&e, CF_STORE_ASYNC_ARGC_MAX, wide, &o, &why), CF_OK);
    s_wait(&e, &o);
    assert_int_equal(o.rc, CF_OK);
    assert_int_equal(o.integer, CF_STORE_ASYNC_ARGC_MAX - 2);
    s_close(&e);
}

/* An error reply fails its batch with the mapped code and says which command. */
/* One loop turn queues more than the socket takes at once (8 MiB of binary values, each
   command over the formatter's stack buffer): the end-of-turn write sends what it can,
   the write event the rest; every value reads back byte for byte. */
static void test_big_turn_partial_write(void **state)
{
    (void) state;
    enum { N = 8, LEN = 1024 * 1024 };
    s_env_t e = {0};
    s_open(&e, s_redis.port, 5000);
    char *val = cf_mem_malloc(LEN);
    assert_non_null(val);
    for (size_t i = 0; i < LEN; i++)
        val[i] = (char) (i * 7 + 13); /* NUL, CR and LF among them */
    static s_out_t sets[N];
    char key[N][32];
    cf_why_t why = {""};
    memset(sets, 0, sizeof(sets));
    for (int i = 0; i < N; i++) {
        snprintf(key[i], sizeof(key[i]), "cf:test:big:%d", i);
        const char *argv[] = {"SET", key[i], val};
        size_t lens[] = {3, strlen(key[i]), LEN};
        cf_store_async_cmd_t cmd = {NULL, 0, 3, argv, lens};
        assert_int_equal(cf_store_async_send(e.client, &cmd, 1, s_reply, s_done, &sets[i], &why),
                         CF_OK);
    }
    s_wait(&e, &sets[N - 1]);
    for (int i = 0; i < N; i++) {
        assert_int_equal(sets[i].rc, CF_OK);
        assert_string_equal(sets[i].last, "OK");
    }
    redisContext *c = redisConnect("127.0.0.1", s_redis.port);
    assert_non_null(c);
    for (int i = 0; i < N; i++) {
        redisReply *r = redisCommand(c, "GET %s", key[i]);
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        assert_int_equal(r->len, LEN);
        assert_memory_equal(r->str, val, LEN);
        freeReplyObject(r);
        freeReplyObject(redisCommand(c, "DEL %s", key[i]));
    }
    redisFree(c);
    cf_mem_free(val);
    s_close(&e);
}

static void test_error_reply(void **state)
{
    (void) state;
    s_env_t e = {0};
    s_open(&e, s_redis.port, 2000);
    const char *set[] = {"SET", "cf:test:async:str", "x"};
    const char *bad[] = {"HGET", "cf:test:async:str", "f"}; /* WRONGTYPE */
    cf_store_async_cmd_t cmds[] = {{NULL, 0, 3, set, NULL}, {NULL, 0, 3, bad, NULL}};
    s_out_t o = {0};
    cf_why_t why = {""};
    assert_int_equal(cf_store_async_send(e.client, cmds, 2, s_reply, s_done, &o, &why), CF_OK);
    s_wait(&e, &o);
    assert_int_equal(o.rc, CF_ERR_INVALID);
    assert_non_null(strstr(o.why, "command 2: redis: WRONGTYPE"));
    assert_int_equal(o.replies, 1);
    /* bad batches are refused at once */
    assert_int_equal(cf_store_async_send(e.client, cmds, 0, s_reply, s_done, &o, &why),
                     CF_ERR_INVALID);
    assert_int_equal(cf_store_async_send(e.client, cmds, 1, s_reply, NULL, &o, &why),
                     CF_ERR_INVALID);
    s_close(&e);
}

/* No answer in time: the batch fails with the reason and the next one reconnects. */
static void test_time_limit(void **state)
{
    (void) state;
    s_env_t e = {0};
    s_open(&e, s_redis.port, 300);
    const char *blpop[] = {"BLPOP", "cf:test:async:never", "5"};
    s_out_t o = {0};
    cf_why_t why = {""};
    assert_int_equal(s_send_argv(&e, 3, blpop, &o, &why), CF_OK);
    s_wait(&e, &o);
    assert_int_equal(o.rc, CF_ERR_IO);
    assert_non_null(strstr(o.why, "no answer within 300 ms"));
    const char *ping[] = {"PING"};
    s_out_t p = {0};
    assert_int_equal(s_send_argv(&e, 1, ping, &p, &why), CF_OK);
    s_wait(&e, &p);
    assert_int_equal(p.rc, CF_OK);
    assert_string_equal(p.last, "PONG");
    assert_int_equal(cf_store_async_connects(e.client), 2);
    s_close(&e);
}

static int s_ping_ok(void *arg)
{
    s_env_t *e = arg;
    static s_out_t o;
    memset(&o, 0, sizeof(o));
    const char *ping[] = {"PING"};
    cf_why_t why = {""};
    if (s_send_argv(e, 1, ping, &o, &why) != CF_OK)
        return 0;
    e->wait = &o;
    while (!o.done)
        event_base_loop(e->base, EVLOOP_ONCE);
    return o.rc == CF_OK;
}

/* Redis stopped: batches fail (at once or through done) with a reason; back: they work. */
static void test_redis_down_and_back(void **state)
{
    (void) state;
    cf_itest_redis_t r = {0};
    assert_int_equal(cf_itest_redis_start(&r, NULL), CF_OK);
    s_env_t e = {0};
    s_open(&e, r.port, 1000);
    assert_true(s_ping_ok(&e));
    const char *ping[] = {"PING"};
    s_out_t out = {0};
    cf_why_t why = {""};
    assert_int_equal(s_send_argv(&e, 1, ping, &out, &why), CF_OK);
    cf_itest_redis_stop(&r); /* while the batch may still be out */
    s_wait(&e, &out);
    for (int i = 0; i < 3; i++) { /* down: refused at once, the reason given */
        s_out_t o = {0};
        cf_err_t rc = s_send_argv(&e, 1, ping, &o, &why);
        if (rc == CF_OK) {
            s_wait(&e, &o);
            rc = o.rc;
            snprintf(why.text, sizeof(why.text), "%s", o.why);
        }
        assert_int_equal(rc, CF_ERR_IO);
        assert_true(strlen(why.text) > 0);
    }
    assert_int_equal(cf_itest_redis_restart(&r), CF_OK);
    assert_true(cf_test_wait_until(s_ping_ok, &e, 10000));
    s_close(&e);
    cf_itest_redis_stop(&r);
}

/* Scripts: loaded on connect; after SCRIPT FLUSH one batch fails, the next reloads. */
static void test_scripts(void **state)
{
    (void) state;
    cf_store_script_t *script = NULL;
    assert_int_equal(cf_store_script_new("return ARGV[1] .. KEYS[1]", &script), CF_OK);
    s_env_t e = {0};
    s_open(&e, s_redis.port, 2000);
    assert_int_equal(cf_store_async_add_script(e.client, script), CF_OK);
    const char *argv[] = {"k", "a"};
    cf_store_async_cmd_t cmd = {script, 1, 2, argv, NULL};
    s_out_t o = {0};
    cf_why_t why = {""};
    assert_int_equal(cf_store_async_send(e.client, &cmd, 1, s_reply, s_done, &o, &why), CF_OK);
    assert_int_equal(cf_store_async_add_script(e.client, script), CF_ERR_STATE); /* too late */
    s_wait(&e, &o);
    assert_int_equal(o.rc, CF_OK);
    assert_string_equal(o.last, "ak");
    assert_true(cf_itest_redis_reply_has(s_redis.port, "OK", "SCRIPT FLUSH"));
    s_out_t f = {0};
    assert_int_equal(cf_store_async_send(e.client, &cmd, 1, s_reply, s_done, &f, &why), CF_OK);
    s_wait(&e, &f);
    assert_int_equal(f.rc, CF_ERR_NOTFOUND); /* NOSCRIPT */
    s_out_t g = {0};
    assert_int_equal(cf_store_async_send(e.client, &cmd, 1, s_reply, s_done, &g, &why), CF_OK);
    s_wait(&e, &g);
    assert_int_equal(g.rc, CF_OK);
    /* a script that was never registered is refused */
    cf_store_script_t *other = NULL;
    assert_int_equal(cf_store_script_new("return 1", &other), CF_OK);
    cmd.script = other;
    assert_int_equal(cf_store_async_send(e.client, &cmd, 1, s_reply, s_done, &g, &why),
                     CF_ERR_INVALID);
    s_close(&e);
    cf_store_script_destroy(&other);
    cf_store_script_destroy(&script);
}

/* Destroyed with batches out: each is told CF_ERR_STATE, once. */
static void test_destroy_pending(void **state)
{
    (void) state;
    s_env_t e = {0};
    s_open(&e, s_redis.port, 2000);
    const char *ping[] = {"PING"};
    s_out_t a = {0}, b = {0};
    cf_why_t why = {""};
    assert_int_equal(s_send_argv(&e, 1, ping, &a, &why), CF_OK);
    assert_int_equal(s_send_argv(&e, 1, ping, &b, &why), CF_OK);
    cf_store_async_destroy(&e.client);
    assert_int_equal(a.done, 1);
    assert_int_equal(a.rc, CF_ERR_STATE);
    assert_int_equal(b.done, 1);
    assert_int_equal(b.rc, CF_ERR_STATE);
    event_base_free(e.base);
}

static void test_bad_args(void **state)
{
    (void) state;
    cf_store_async_t *c = NULL;
    cf_why_t why = {""};
    cf_store_cfg_t cfg;
    cf_store_cfg_init(&cfg);
    assert_int_equal(cf_store_async_new(&cfg, NULL, &c, &why), CF_ERR_INVALID);
    struct event_base *base = event_base_new();
    cfg.command_timeout_ms = 0;
    assert_int_equal(cf_store_async_new(&cfg, base, &c, &why), CF_ERR_INVALID);
    assert_null(c);
    event_base_free(base);
    assert_int_equal(cf_store_async_pending(NULL), 0);
    assert_string_equal(cf_store_async_server(NULL), "");
}

/* Redis's count of connections accepted so far. */
static long long s_connections(int port)
{
    cf_store_t *st = cf_itest_store_at(port, NULL);
    redisReply *r = NULL;
    assert_int_equal(cf_store_cmd(st, &r, "INFO stats"), CF_OK);
    const char *p = strstr(r->str, "total_connections_received:");
    assert_non_null(p);
    long long n = atoll(p + strlen("total_connections_received:"));
    cf_store_reply_free(&r);
    cf_store_destroy(&st);
    return n;
}

/* Sentinel mode: the master is re-checked by asking the Sentinels (every master_check_ms)
   over a kept connection, not by opening a new one to the master each time; after a
   failover, batches reach the new master. */
static void test_sentinel_master_check(void **state)
{
    (void) state;
    cf_itest_sentinel_t sen;
    assert_int_equal(cf_itest_sentinel_start(&sen, "certfleet"), CF_OK);
    char list[256];
    cf_itest_sentinel_list(&sen, list, sizeof(list));
    cf_store_cfg_t cfg;
    cf_store_cfg_init(&cfg);
    cf_why_t why = {""};
    assert_int_equal(cf_store_cfg_parse_sentinels(&cfg, list, &why), CF_OK);
    assert_int_equal(cf_store_cfg_set_master(&cfg, "certfleet", &why), CF_OK);
    cfg.master_check_ms = 100;
    cfg.connect_timeout_ms = 500;
    cfg.backoff_min_ms = 10;
    cfg.backoff_max_ms = 50;
    s_env_t e = {0};
    e.base = event_base_new();
    assert_non_null(e.base);
    assert_int_equal(cf_store_async_new(&cfg, e.base, &e.client, &why), CF_OK);
    assert_true(s_ping_ok(&e));
    long long before = s_connections(sen.master.port);
    for (int i = 0; i < 8; i++) { /* eight master checks' worth of batches */
        struct timeval tv = {0, 120000};
        event_base_loopexit(e.base, &tv);
        event_base_dispatch(e.base);
        assert_true(s_ping_ok(&e));
    }
    /* one for s_connections itself; a new connection per check would add eight */
    assert_true(s_connections(sen.master.port) - before <= 2);
    assert_int_equal(cf_store_async_connects(e.client), 1);
    assert_true(
        cf_itest_redis_reply_has(sen.sentinels[0].port, "OK", "SENTINEL FAILOVER certfleet"));
    char want[64];
    snprintf(want, sizeof(want), "127.0.0.1:%d", sen.replica.port);
    int moved = 0;
    for (int i = 0; i < 300 && !moved; i++) { /* up to 30 s */
        struct timeval tv = {0, 100000};
        event_base_loopexit(e.base, &tv);
        event_base_dispatch(e.base);
        moved = s_ping_ok(&e) && strcmp(cf_store_async_server(e.client), want) == 0;
    }
    assert_true(moved);
    s_close(&e);
    cf_itest_sentinel_stop(&sen);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_written_before_turn_end),
        cmocka_unit_test(test_write_now),
        cmocka_unit_test(test_big_turn_partial_write),
        cmocka_unit_test(test_error_reply),
        cmocka_unit_test(test_time_limit),
        cmocka_unit_test(test_redis_down_and_back),
        cmocka_unit_test(test_scripts),
        cmocka_unit_test(test_destroy_pending),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_sentinel_master_check),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
