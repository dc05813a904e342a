/*  test_store_sub - cf_store_sub against real redis-servers: subscriptions, resync after a
    restart, the message cap, and a Sentinel failover followed by cf_store and cf_store_sub  */
#include "cf_test.h"

#include <stdio.h>
#include <string.h>

#include "cf_itest.h"
#include "cf_itest_storefix.h"
#include "cf_store.h"
#include "cf_store_sub.h"

static void test_pubsub_resync(void **state)
{
    (void) state;
    cf_itest_redis_t r;
    assert_int_equal(cf_itest_redis_start(&r, NULL), CF_OK);
    cf_store_cfg_t cfg;
    cf_store_cfg_init(&cfg);
    cf_store_t *store = cf_itest_store_at(r.port, &cfg);
    cf_itest_sub_t c;
    cf_itest_sub_open(&c, &cfg);
    assert_int_equal(cf_store_sub_start(c.sub), CF_ERR_STATE); /* nothing to subscribe to */
    assert_int_equal(cf_store_sub_subscribe(c.sub, "cf:test:ch"), CF_OK);
    assert_int_equal(cf_store_sub_psubscribe(c.sub, "cf:test:pat:*"), CF_OK);
    assert_int_equal(cf_store_sub_subscribe(c.sub, "cf:test:ch"), CF_ERR_EXISTS);
    assert_int_equal(cf_store_sub_subscribe(c.sub, ""), CF_ERR_INVALID);
    assert_int_equal(cf_store_sub_start(c.sub), CF_OK);
    assert_int_equal(cf_store_sub_start(c.sub), CF_ERR_STATE);
    assert_int_equal(cf_store_sub_subscribe(c.sub, "cf:test:late"), CF_ERR_STATE);
    c.want = 1;
    assert_true(cf_test_wait_until(cf_itest_sub_resynced, &c, 5000));
    assert_int_equal(cf_store_sub_resyncs(c.sub), 1);

    assert_int_equal(cf_store_cmd(store, NULL, "PUBLISH cf:test:ch hello"), CF_OK);
    c.want = 1;
    assert_true(cf_test_wait_until(cf_itest_sub_messaged, &c, 5000));
    assert_string_equal(c.channel, "cf:test:ch");
    assert_memory_equal(c.payload, "hello", 5);
    assert_int_equal(cf_store_cmd(store, NULL, "PUBLISH cf:test:pat:x %b", "a\0b", (size_t) 3),
                     CF_OK);
    c.want = 2;
    assert_true(cf_test_wait_until(cf_itest_sub_messaged, &c, 5000));
    assert_string_equal(c.channel, "cf:test:pat:x");
    assert_int_equal(c.payload_len, 3);
    assert_memory_equal(c.payload, "a\0b", 3);

    /* the server goes away and comes back: the owner is told to reload everything */
    cf_itest_redis_stop(&r);
    assert_true(cf_test_wait_until(cf_itest_sub_down, &c, 5000));
    assert_int_equal(cf_itest_redis_restart(&r), CF_OK);
    c.want = 2;
    assert_true(cf_test_wait_until(cf_itest_sub_resynced, &c, 10000));
    assert_int_equal(cf_store_cmd(store, NULL, "PUBLISH cf:test:ch again"), CF_OK);
    c.want = 3;
    assert_true(cf_test_wait_until(cf_itest_sub_messaged, &c, 5000));
    assert_memory_equal(c.payload, "again", 5);

    cf_itest_sub_close(&c);
    cf_store_destroy(&store);
    cf_itest_redis_stop(&r);
}

typedef struct {
    cf_store_t *store; /* under test */
    int port;          /* the port it must reach */
} s_moved_t;

static int s_store_moved(void *arg)
{
    s_moved_t *m = arg;
    char port[16];
    snprintf(port, sizeof(port), ":%d", m->port);
    return cf_store_cmd_idem(m->store, NULL, "SET cf:test:after x") == CF_OK &&
           strstr(cf_store_server(m->store), port) != NULL;
}

static void test_pubsub_caps(void **state)
{
    const cf_itest_redis_t *redis = *state; /* the group's server */
    cf_store_cfg_t cfg;
    cf_store_cfg_init(&cfg);
    cf_store_t *store = cf_itest_store_at(redis->port, &cfg);
    cfg.max_reply_bytes = 1024; /* messages too */
    cf_itest_sub_t c;
    cf_itest_sub_open(&c, &cfg);
    assert_int_equal(cf_store_sub_subscribe(c.sub, "cf:test:capped"), CF_OK);
    assert_int_equal(cf_store_sub_start(c.sub), CF_OK);
    c.want = 1;
    assert_true(cf_test_wait_until(cf_itest_sub_resynced, &c, 5000));
    /* a message over the cap is refused: the subscriber reconnects and resyncs */
    char big[4096];
    memset(big, 'b', sizeof(big));
    assert_int_equal(cf_store_cmd(store, NULL, "PUBLISH cf:test:capped %b", big, sizeof(big)),
                     CF_OK);
    c.want = 2;
    assert_true(cf_test_wait_until(cf_itest_sub_resynced, &c, 10000));
    assert_int_equal(c.messages, 0);
    assert_int_equal(cf_store_cmd(store, NULL, "PUBLISH cf:test:capped small"), CF_OK);
    c.want = 1;
    assert_true(cf_test_wait_until(cf_itest_sub_messaged, &c, 5000));
    assert_memory_equal(c.payload, "small", 5);
    cf_itest_sub_close(&c);
    cf_store_destroy(&store);
}

static int s_replica_has_before(void *arg)
{
    return cf_itest_redis_reply_has(*(int *) arg, "kept", "GET cf:test:before");
}

static void test_sentinel_failover(void **state)
{
    (void) state;
    cf_itest_sentinel_t s;
    assert_int_equal(cf_itest_sentinel_start(&s, "mymaster"), CF_OK);
    char list[256], text[300];
    cf_itest_sentinel_list(&s, list, sizeof(list));
    /* a dead Sentinel first: the others are asked in turn */
    snprintf(text, sizeof(text), "127.0.0.1:%d,%s", cf_itest_free_port(), list);
    cf_store_cfg_t cfg;
    cf_store_cfg_init(&cfg);
    cf_why_t why = {""};
    assert_int_equal(cf_store_cfg_parse_sentinels(&cfg, text, &why), CF_OK);
    assert_int_equal(cf_store_cfg_set_master(&cfg, "nosuchmaster", &why), CF_OK);
    cfg.reconnect_attempts = 2;
    cfg.backoff_min_ms = 10;
    cfg.master_check_ms = 100;
    cf_store_t *store = NULL;
    assert_int_equal(cf_store_new(&cfg, &store, &why), CF_OK);
    assert_int_equal(cf_store_connect(store), CF_ERR_IO);
    assert_non_null(strstr(cf_store_why(store)->text, "does not know this master"));
    cf_store_destroy(&store);

    assert_int_equal(cf_store_cfg_set_master(&cfg, "mymaster", &why), CF_OK);
    assert_int_equal(cf_store_new(&cfg, &store, &why), CF_OK);
    assert_int_equal(cf_store_cmd(store, NULL, "SET cf:test:before kept"), CF_OK);
    char want[32];
    snprintf(want, sizeof(want), "127.0.0.1:%d", s.master.port);
    assert_string_equal(cf_store_server(store), want);
    cf_itest_sub_t c;
    cf_itest_sub_open(&c, &cfg);
    assert_int_equal(cf_store_sub_subscribe(c.sub, "cf:test:fo"), CF_OK);
    assert_int_equal(cf_store_sub_start(c.sub), CF_OK);
    c.want = 1;
    c.want_port = s.master.port;
    assert_true(cf_test_wait_until(cf_itest_sub_resynced, &c, 10000));
    /* wait until the write reached the replica, then fail over to it */
    assert_true(cf_test_wait_until(s_replica_has_before, &s.replica.port, 5000));
    assert_true(cf_itest_redis_reply_has(s.sentinels[0].port, "OK", "SENTINEL FAILOVER mymaster"));
    s_moved_t m = {store, s.replica.port};
    assert_true(cf_test_wait_until(s_store_moved, &m, 20000));
    redisReply *reply = NULL;
    assert_int_equal(cf_store_cmd(store, &reply, "GET cf:test:before"), CF_OK);
    assert_string_equal(reply->str, "kept");
    cf_store_reply_free(&reply);
    /* the subscriber moved too, resynced, and hears the new master */
    c.want = 2;
    c.want_port = s.replica.port;
    assert_true(cf_test_wait_until(cf_itest_sub_resynced, &c, 20000));
    assert_int_equal(cf_store_cmd(store, NULL, "PUBLISH cf:test:fo moved"), CF_OK);
    c.want = 1;
    assert_true(cf_test_wait_until(cf_itest_sub_messaged, &c, 5000));
    assert_memory_equal(c.payload, "moved", 5);
    cf_itest_sub_close(&c);
    cf_store_destroy(&store);
    cf_itest_sentinel_stop(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pubsub_resync),
        cmocka_unit_test(test_pubsub_caps),
        cmocka_unit_test(test_sentinel_failover),
    };
    return cmocka_run_group_tests(tests, cf_itest_storefix_setup, cf_itest_storefix_teardown);
}
