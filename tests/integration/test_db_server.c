/*  test_db_server - cf_db_server against a real redis-server: records, heartbeats  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_db_server.h"
#include "cf_itest.h"
#include "cf_mem.h"

CF_ITEST_REDIS_PER_FILE()

static void test_usage(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    /* a server seeds its record from its flags at start... */
    cf_db_server_t rec = {.alias = "srv1", .port = 7005, .plain_port = 7080, .priority = 10};
    rec.ip_ranges = "127.0.0.0/24,  10.1.2.3/8";
    assert_int_equal(cf_db_server_create(store, &rec, 1700000000), CF_OK);
    assert_int_equal(cf_db_server_heartbeat(store, "srv1", "srv1/99/x", 1700000000, 30, NULL),
                     CF_OK);
    /* ...and the next start with other flags finds the record, which wins */
    rec.port = 9999;
    assert_int_equal(cf_db_server_create(store, &rec, 1700000100), CF_ERR_EXISTS);
    cf_db_server_t got;
    assert_int_equal(cf_db_server_get(store, "srv1", &got), CF_OK);
    assert_string_equal(got.alias, "srv1");
    assert_string_equal(got.host, "srv1"); /* empty host: the alias */
    assert_int_equal(got.port, 7005);
    assert_int_equal(got.plain_port, 7080);
    assert_int_equal(got.priority, 10);
    assert_string_equal(got.ip_ranges, "127.0.0.0/24, 10.0.0.0/8"); /* canonical */
    assert_int_equal(got.created, 1700000000);
    assert_true(got.online);
    cf_db_server_clear(&got);
    assert_null(got.ip_ranges);
    cf_store_destroy(&store);
}

static void test_update_remove_list(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    redisContext *sub = redisConnect("127.0.0.1", s_redis.port);
    assert_true(sub && !sub->err);
    freeReplyObject(redisCommand(sub, "SUBSCRIBE cf:events"));
    static const char *const aliases[] = {"srv3", "srv1.corp.example", "srv2"};
    for (int i = 0; i < 3; i++) {
        cf_db_server_t rec = {.port = 7005, .priority = i};
        snprintf(rec.alias, sizeof(rec.alias), "%s", aliases[i]);
        assert_int_equal(cf_db_server_create(store, &rec, i), CF_OK);
        void *msg = NULL;
        assert_int_equal(redisGetReply(sub, &msg), REDIS_OK);
        char want[64];
        snprintf(want, sizeof(want), "server %s", aliases[i]);
        assert_string_equal(((redisReply *) msg)->element[2]->str, want);
        freeReplyObject(msg);
    }
    /* an operator edits one field: the others stay */
    cf_db_server_t edit = {.alias = "srv2", .priority = -5, .host = "10.0.0.2"};
    edit.ip_ranges = "fd00::/8";
    cf_db_server_t now;
    assert_int_equal(cf_db_server_update(store, &edit, CF_DB_SERVER_PRIORITY, &now), CF_OK);
    assert_int_equal(now.priority, -5);
    assert_int_equal(now.port, 7005);
    assert_string_equal(now.host, "srv2");
    assert_string_equal(now.ip_ranges, "");
    cf_db_server_clear(&now);
    assert_int_equal(
        cf_db_server_update(store, &edit, CF_DB_SERVER_HOST | CF_DB_SERVER_RANGES, NULL), CF_OK);
    assert_int_equal(cf_db_server_get(store, "srv2", &now), CF_OK);
    assert_string_equal(now.host, "10.0.0.2");
    assert_string_equal(now.ip_ranges, "fd00::/8");
    assert_false(now.online);
    cf_db_server_clear(&now);
    /* list, sorted */
    cf_db_server_t *list = NULL;
    size_t n = 0;
    assert_int_equal(cf_db_server_list(store, 100, &list, &n), CF_OK);
    assert_int_equal(n, 3);
    assert_string_equal(list[0].alias, "srv1.corp.example");
    assert_string_equal(list[1].alias, "srv2");
    assert_string_equal(list[2].alias, "srv3");
    cf_db_server_list_free(&list, n);
    redisFree(sub);
    cf_store_destroy(&store);
}

static void test_refusals_and_removal(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    for (int i = 1; i <= 3; i++) {
        cf_db_server_t rec = {.port = 7005, .priority = i};
        snprintf(rec.alias, sizeof(rec.alias), "srv%d", i);
        assert_int_equal(cf_db_server_create(store, &rec, i), CF_OK);
    }
    cf_db_server_t edit = {.alias = "srv2", .priority = -5, .host = "10.0.0.2"}, now;
    edit.port = 0;
    assert_int_equal(cf_db_server_update(store, &edit, CF_DB_SERVER_PORT, NULL), CF_ERR_INVALID);
    edit.ip_ranges = "10.0.0.0/33";
    assert_int_equal(cf_db_server_update(store, &edit, CF_DB_SERVER_RANGES, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_db_server_update(store, &edit, 0, NULL), CF_ERR_INVALID);
    edit.priority = CF_DB_PRIORITY_MAX + 1;
    assert_int_equal(cf_db_server_update(store, &edit, CF_DB_SERVER_PRIORITY, NULL),
                     CF_ERR_INVALID);
    snprintf(edit.alias, sizeof(edit.alias), "srv9");
    edit.priority = 1;
    assert_int_equal(cf_db_server_update(store, &edit, CF_DB_SERVER_PRIORITY, NULL),
                     CF_ERR_NOTFOUND);
    assert_true(cf_itest_redis_reply_has(s_redis.port, "0", "EXISTS cf:server:srv9"));
    cf_db_server_t *list = NULL;
    size_t n = 0;
    assert_int_equal(cf_db_server_list(store, 2, &list, &n), CF_ERR_TOOBIG);
    assert_int_equal(cf_db_server_remove(store, "srv3"), CF_OK);
    assert_int_equal(cf_db_server_remove(store, "srv3"), CF_ERR_NOTFOUND);
    assert_int_equal(cf_db_server_get(store, "srv3", &now), CF_ERR_NOTFOUND);
    assert_int_equal(cf_db_server_list(store, 100, &list, &n), CF_OK);
    assert_int_equal(n, 2);
    cf_db_server_list_free(&list, n);
    /* bad aliases never become keys */
    static const char *const bad[] = {"", "SRV1", "a:b", "a{b", "a b", ".a", NULL};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(cf_db_server_get(store, bad[i], &now), CF_ERR_INVALID);
        assert_int_equal(cf_db_server_remove(store, bad[i]), CF_ERR_INVALID);
    }
    cf_db_server_t bad_host = {.alias = "srv5", .host = "a/b", .port = 1};
    assert_int_equal(cf_db_server_create(store, &bad_host, 1), CF_ERR_INVALID);
    /* a damaged record is reported */
    assert_int_equal(cf_store_cmd(store, NULL, "HSET cf:server:srv2 port 70000"), CF_OK);
    assert_int_equal(cf_db_server_get(store, "srv2", &now), CF_ERR_CORRUPT);
    assert_int_equal(cf_db_server_list(store, 100, &list, &n), CF_ERR_CORRUPT);
    assert_null(list);
    cf_store_destroy(&store);
}

static int s_offline(void *arg)
{
    cf_store_t *store = arg;
    char **aliases = NULL;
    size_t n = 9;
    if (cf_db_server_online(store, 100, &aliases, &n) != CF_OK)
        return 0;
    cf_db_server_aliases_free(&aliases, n);
    return n == 0;
}

static void test_heartbeats(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    for (int i = 1; i <= 3; i++) {
        cf_db_server_t rec = {.port = 7005};
        snprintf(rec.alias, sizeof(rec.alias), "srv%d", i);
        assert_int_equal(cf_db_server_create(store, &rec, 1), CF_OK);
    }
    int clash = -1;
    assert_int_equal(cf_db_server_heartbeat(store, "srv2", "inst-a", 100, 30, &clash), CF_OK);
    assert_int_equal(clash, 0);
    assert_int_equal(cf_db_server_heartbeat(store, "srv2", "inst-a", 110, 30, &clash), CF_OK);
    assert_int_equal(clash, 0);
    /* a second process claims the same alias: both learn it */
    assert_int_equal(cf_db_server_heartbeat(store, "srv2", "inst-b", 111, 30, &clash), CF_OK);
    assert_int_equal(clash, 1);
    assert_int_equal(cf_db_server_heartbeat(store, "srv2", "inst-a", 112, 30, &clash), CF_OK);
    assert_int_equal(clash, 1);
    /* a prefix of another instance's id is another instance */
    assert_int_equal(cf_db_server_heartbeat(store, "srv2", "inst", 113, 30, &clash), CF_OK);
    assert_int_equal(clash, 1);
    assert_int_equal(cf_db_server_heartbeat(store, "srv3", "inst-c", 100, 1, &clash), CF_OK);
    char **aliases = NULL;
    size_t n = 0;
    assert_int_equal(cf_db_server_online(store, 100, &aliases, &n), CF_OK);
    assert_int_equal(n, 2);
    assert_string_equal(aliases[0], "srv2");
    assert_string_equal(aliases[1], "srv3");
    cf_db_server_aliases_free(&aliases, n);
    assert_null(aliases);
    /* stop removes only our own heartbeat; a short TTL lapses by itself */
    assert_int_equal(cf_db_server_heartbeat_stop(store, "srv2", "inst-a"), CF_OK);
    assert_true(cf_itest_redis_reply_has(s_redis.port, "1", "EXISTS cf:hb:srv2"));
    assert_int_equal(cf_db_server_heartbeat_stop(store, "srv2", "inst"), CF_OK);
    assert_true(cf_itest_redis_reply_has(s_redis.port, "0", "EXISTS cf:hb:srv2"));
    assert_true(cf_test_wait_until(s_offline, store, 5000));
    cf_db_server_t rec;
    assert_int_equal(cf_db_server_get(store, "srv3", &rec), CF_OK);
    assert_false(rec.online);
    cf_db_server_clear(&rec);
    /* refusals */
    assert_int_equal(cf_db_server_heartbeat(store, "srv2", "a b", 1, 30, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_db_server_heartbeat(store, "srv2", "a", 1, 0, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_db_server_heartbeat(store, "Srv2", "a", 1, 5, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_db_server_online(store, 0, &aliases, &n), CF_ERR_INVALID);
    assert_int_equal(cf_db_server_online(store, 2, &aliases, &n), CF_ERR_TOOBIG);
    cf_store_destroy(&store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_update_remove_list),
        cmocka_unit_test(test_refusals_and_removal),
        cmocka_unit_test(test_heartbeats),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
