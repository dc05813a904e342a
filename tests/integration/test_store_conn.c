/*  test_store_conn - cf_store connections to redis-servers of their own: password and db,
    unix socket, the server killed between and under commands  */
#include "cf_test.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cf_itest.h"
#include "cf_itest_storefix.h"
#include "cf_store.h"

static void test_auth_and_db(void **state)
{
    (void) state;
    cf_itest_redis_t r;
    assert_int_equal(cf_itest_redis_start(&r, "--requirepass s3cret-pw"), CF_OK);
    cf_store_cfg_t cfg;
    cf_store_cfg_init(&cfg);
    cfg.password = "s3cret-pw";
    cfg.db = 3;
    cf_store_t *store = cf_itest_store_at(r.port, &cfg);
    redisReply *reply = NULL;
    assert_int_equal(cf_store_cmd(store, NULL, "SET cf:test:db three"), CF_OK);
    cf_store_destroy(&store);
    /* db 0 does not see db 3's key */
    cf_store_cfg_init(&cfg);
    cfg.password = "s3cret-pw";
    store = cf_itest_store_at(r.port, &cfg);
    assert_int_equal(cf_store_cmd(store, &reply, "EXISTS cf:test:db"), CF_OK);
    assert_int_equal(reply->integer, 0);
    cf_store_reply_free(&reply);
    cf_store_destroy(&store);
    /* wrong or missing password: BADPASS at once, no retry storm, password never echoed */
    cf_store_cfg_init(&cfg);
    cfg.password = "wrong-pw";
    store = cf_itest_store_at(r.port, &cfg);
    assert_int_equal(cf_store_connect(store), CF_ERR_BADPASS);
    assert_null(strstr(cf_store_why(store)->text, "wrong-pw"));
    cf_store_destroy(&store);
    store = cf_itest_store_at(r.port, NULL);
    assert_int_equal(cf_store_cmd(store, &reply, "GET x"), CF_ERR_BADPASS);
    cf_store_destroy(&store);
    /* SELECT of a db the server does not have */
    cf_store_cfg_init(&cfg);
    cfg.password = "s3cret-pw";
    cfg.db = 999;
    store = cf_itest_store_at(r.port, &cfg);
    assert_int_equal(cf_store_connect(store), CF_ERR_INVALID);
    cf_store_destroy(&store);
    cf_itest_redis_stop(&r);
}

static void test_unix_socket(void **state)
{
    const cf_itest_redis_t *redis = *state; /* the group's server */
    cf_itest_redis_t r;
    char extra[700], sock[600], text[700];
    snprintf(sock, sizeof(sock), "%s/r.sock", redis->dir);
    snprintf(extra, sizeof(extra), "--unixsocket %s --unixsocketperm 700", sock);
    assert_int_equal(cf_itest_redis_start(&r, extra), CF_OK);
    cf_store_cfg_t cfg;
    cf_store_cfg_init(&cfg);
    snprintf(text, sizeof(text), "unix:%s", sock);
    assert_int_equal(cf_store_cfg_parse_redis(&cfg, text, NULL), CF_OK);
    cf_store_t *store = NULL;
    assert_int_equal(cf_store_new(&cfg, &store, NULL), CF_OK);
    redisReply *reply = NULL;
    assert_int_equal(cf_store_cmd(store, &reply, "PING"), CF_OK);
    assert_string_equal(reply->str, "PONG");
    assert_string_equal(cf_store_server(store), text);
    cf_store_reply_free(&reply);
    cf_store_destroy(&store);
    cf_itest_redis_stop(&r);
}

static void test_restart_between_commands(void **state)
{
    (void) state;
    cf_itest_redis_t r;
    assert_int_equal(cf_itest_redis_start(&r, NULL), CF_OK);
    cf_store_t *store = cf_itest_store_at(r.port, NULL);
    redisReply *reply = NULL;
    assert_int_equal(cf_store_cmd(store, NULL, "INCR cf:test:n"), CF_OK);
    cf_itest_redis_stop(&r); /* SIGKILL: the data is gone, the socket is closed */
    assert_int_equal(cf_itest_redis_restart(&r), CF_OK);
    /* the closed connection is noticed before sending, so even INCR goes through */
    assert_int_equal(cf_store_cmd(store, &reply, "INCR cf:test:n"), CF_OK);
    assert_int_equal(reply->integer, 1);
    cf_store_reply_free(&reply);
    assert_int_equal(cf_store_reconnects(store), 1);
    /* server down: a bounded number of tries, then CF_ERR_IO with the reason */
    cf_itest_redis_stop(&r);
    assert_int_equal(cf_store_cmd_idem(store, &reply, "GET cf:test:n"), CF_ERR_IO);
    assert_non_null(strstr(cf_store_why(store)->text, "Connection refused"));
    assert_string_equal(cf_store_server(store), "");
    assert_int_equal(cf_itest_redis_restart(&r), CF_OK);
    assert_int_equal(cf_store_cmd(store, NULL, "PING"), CF_OK);
    cf_store_destroy(&store);
    cf_itest_redis_stop(&r);
}

typedef struct {
    cf_itest_redis_t *redis; /* the server to kill and restart */
    int push;                /* push an item once the command waits again */
    int ok;                  /* 1 when every step worked */
} s_killer_t;

static int s_blpop_waiting(void *arg)
{
    return cf_itest_redis_reply_has(*(int *) arg, "cmd=blpop", "CLIENT LIST");
}

/* While the main thread is blocked in BLPOP: kill the server, restart it on the same
   port, and (push) once BLPOP waits again on the new server, give it an item. */

static void *s_killer(void *arg)
{
    s_killer_t *k = arg;
    k->ok = cf_test_wait_until(s_blpop_waiting, &k->redis->port, 5000);
    cf_itest_redis_stop(k->redis);
    k->ok = k->ok && cf_itest_redis_restart(k->redis) == CF_OK;
    if (k->push) {
        k->ok = k->ok && cf_test_wait_until(s_blpop_waiting, &k->redis->port, 5000);
        k->ok = k->ok && cf_itest_redis_reply_has(k->redis->port, "1", "RPUSH cf:test:q item");
    }
    return NULL;
}

static void test_retry_idempotent_after_kill(void **state)
{
    (void) state;
    cf_itest_redis_t r;
    assert_int_equal(cf_itest_redis_start(&r, NULL), CF_OK);
    cf_store_cfg_t cfg;
    cf_store_cfg_init(&cfg);
    cfg.reconnect_attempts = 30;
    cf_store_t *store = cf_itest_store_at(r.port, &cfg);
    assert_int_equal(cf_store_connect(store), CF_OK);
    /* idempotent: the connection dies under the command, which is sent again */
    s_killer_t k = {&r, 1, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, s_killer, &k), 0);
    redisReply *reply = NULL;
    cf_err_t rc = cf_store_cmd_idem(store, &reply, "BLPOP cf:test:q 10");
    pthread_join(th, NULL);
    assert_true(k.ok);
    assert_int_equal(rc, CF_OK);
    assert_int_equal(reply->type, REDIS_REPLY_ARRAY);
    assert_string_equal(reply->element[1]->str, "item");
    cf_store_reply_free(&reply);
    assert_int_equal(cf_store_reconnects(store), 1);
    /* not idempotent: the caller hears CF_ERR_IO and decides; the next call reconnects */
    k.push = 0;
    assert_int_equal(pthread_create(&th, NULL, s_killer, &k), 0);
    rc = cf_store_cmd(store, &reply, "BLPOP cf:test:q 10");
    pthread_join(th, NULL);
    assert_true(k.ok);
    assert_int_equal(rc, CF_ERR_IO);
    assert_null(reply);
    assert_int_equal(cf_store_cmd(store, NULL, "PING"), CF_OK);
    assert_int_equal(cf_store_reconnects(store), 2);
    cf_store_destroy(&store);
    cf_itest_redis_stop(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_and_db),
        cmocka_unit_test(test_unix_socket),
        cmocka_unit_test(test_restart_between_commands),
        cmocka_unit_test(test_retry_idempotent_after_kill),
    };
    return cmocka_run_group_tests(tests, cf_itest_storefix_setup, cf_itest_storefix_teardown);
}
