/*  test_db_curve - cf_db_curve against a real redis-server: keys, owners, events, loading  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cf_db_agent.h"
#include "cf_db_curve.h"
#include "cf_itest.h"

CF_ITEST_REDIS_PER_FILE()

/* A distinct non-zero key per seed. */
static void s_key(unsigned char key[CF_CURVE_KEY_LEN], unsigned seed)
{
    for (size_t i = 0; i < CF_CURVE_KEY_LEN; i++)
        key[i] = (unsigned char) (i * 7u + 1u);
    memcpy(key, &seed, sizeof(seed));
}

static long long s_int(cf_store_t *store, const char *fmt, const char *arg)
{
    redisReply *r = NULL;
    assert_int_equal(cf_store_cmd(store, &r, fmt, arg), CF_OK);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long v = r->integer;
    cf_store_reply_free(&r);
    return v;
}

/* 1 when the reply of fmt (one argument) is the string want. */
static int s_is(cf_store_t *store, const char *want, const char *fmt, const char *arg)
{
    redisReply *r = NULL;
    assert_int_equal(cf_store_cmd(store, &r, fmt, arg), CF_OK);
    int yes = r->type == REDIS_REPLY_STRING && strcmp(r->str, want) == 0;
    cf_store_reply_free(&r);
    return yes;
}

/* Every owner entry names a holder of that key (an agent's record, field curve, or
   cf:curve:agents for an older one; cf:curve:servers), and every server key has its owner
   entry. */
static void s_assert_owners(cf_store_t *store)
{
    redisReply *r = NULL;
    assert_int_equal(cf_store_cmd(store, &r, "HGETALL cf:curve:owner"), CF_OK);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *z85 = r->element[i]->str, *ident = r->element[i + 1]->str;
        char key[300];
        if (strncmp(ident, "agent:", 6) == 0) {
            snprintf(key, sizeof(key), "cf:agent:{%s}", ident + 6);
            assert_true(s_is(store, z85, "HGET %s curve", key) ||
                        s_is(store, z85, "HGET cf:curve:agents %s", ident + 6));
        } else {
            assert_int_equal(strncmp(ident, "server:", 7), 0);
            assert_true(s_is(store, z85, "HGET cf:curve:servers %s", ident + 7));
        }
    }
    cf_store_reply_free(&r);
    assert_int_equal(cf_store_cmd(store, &r, "HGETALL cf:curve:servers"), CF_OK);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        char want[300];
        snprintf(want, sizeof(want), "server:%s", r->element[i]->str);
        assert_true(s_is(store, want, "HGET cf:curve:owner %s", r->element[i + 1]->str));
    }
    cf_store_reply_free(&r);
}

static void test_usage(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    unsigned char pub[CF_CURVE_KEY_LEN], got[CF_CURVE_KEY_LEN];
    s_key(pub, 1);
    /* enrollment registers the agent's key; the broker reads it back */
    assert_int_equal(cf_db_curve_put(store, CF_ALLOW_AGENT, "agent-7", pub, 0, NULL), CF_OK);
    assert_int_equal(cf_db_curve_get(store, CF_ALLOW_AGENT, "agent-7", got), CF_OK);
    assert_memory_equal(got, pub, CF_CURVE_KEY_LEN);
    /* a server registers its fresh key at every start */
    unsigned char srv[CF_CURVE_KEY_LEN];
    s_key(srv, 2);
    assert_int_equal(cf_db_curve_put(store, CF_ALLOW_SERVER, "srv1", srv, 1, NULL), CF_OK);
    /* the broker loads everything into its allow list */
    cf_allow_t *list = NULL;
    assert_int_equal(cf_allow_new(0, 0, &list), CF_OK);
    size_t bad = 99;
    assert_int_equal(cf_db_curve_load(store, list, &bad), CF_OK);
    assert_int_equal(bad, 0);
    assert_int_equal(cf_allow_count(list), 2);
    cf_allow_kind_t kind = 0;
    assert_string_equal(cf_allow_find(list, pub, &kind), "agent-7");
    assert_int_equal(kind, CF_ALLOW_AGENT);
    assert_string_equal(cf_allow_find(list, srv, &kind), "server:srv1");
    assert_int_equal(kind, CF_ALLOW_SERVER);
    /* revocation removes the key */
    assert_int_equal(cf_db_curve_remove(store, CF_ALLOW_AGENT, "agent-7"), CF_OK);
    assert_int_equal(cf_db_curve_get(store, CF_ALLOW_AGENT, "agent-7", got), CF_ERR_NOTFOUND);
    s_assert_owners(store);
    cf_allow_destroy(&list);
    cf_store_destroy(&store);
}

static void test_refusals_and_owners(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    unsigned char k1[CF_CURVE_KEY_LEN], k2[CF_CURVE_KEY_LEN], got[CF_CURVE_KEY_LEN];
    s_key(k1, 10);
    s_key(k2, 11);
    cf_why_t why = {""};
    assert_int_equal(cf_db_curve_put(store, CF_ALLOW_AGENT, "a1", k1, 0, &why), CF_OK);
    /* the same key again: no change */
    assert_int_equal(cf_db_curve_put(store, CF_ALLOW_AGENT, "a1", k1, 0, &why), CF_OK);
    /* another key for a1 without replace: refused, the old one stays */
    assert_int_equal(cf_db_curve_put(store, CF_ALLOW_AGENT, "a1", k2, 0, &why), CF_ERR_EXISTS);
    assert_non_null(strstr(why.text, "another key"));
    assert_int_equal(cf_db_curve_get(store, CF_ALLOW_AGENT, "a1", got), CF_OK);
    assert_memory_equal(got, k1, CF_CURVE_KEY_LEN);
    /* a1's key for a2, or for a server: refused whatever replace says */
    assert_int_equal(cf_db_curve_put(store, CF_ALLOW_AGENT, "a2", k1, 1, &why), CF_ERR_EXISTS);
    assert_non_null(strstr(why.text, "another identity"));
    assert_int_equal(cf_db_curve_put(store, CF_ALLOW_SERVER, "a1", k1, 1, NULL), CF_ERR_EXISTS);
    assert_int_equal(cf_db_curve_get(store, CF_ALLOW_AGENT, "a2", got), CF_ERR_NOTFOUND);
    s_assert_owners(store);
    /* replace: a1 takes k2, k1 is free again and a2 may have it */
    assert_int_equal(cf_db_curve_put(store, CF_ALLOW_AGENT, "a1", k2, 1, NULL), CF_OK);
    assert_int_equal(cf_db_curve_get(store, CF_ALLOW_AGENT, "a1", got), CF_OK);
    assert_memory_equal(got, k2, CF_CURVE_KEY_LEN);
    s_assert_owners(store);
    assert_int_equal(cf_db_curve_put(store, CF_ALLOW_AGENT, "a2", k1, 0, NULL), CF_OK);
    s_assert_owners(store);
    /* a server and an agent may share a name: different kinds */
    unsigned char k3[CF_CURVE_KEY_LEN];
    s_key(k3, 12);
    assert_int_equal(cf_db_curve_put(store, CF_ALLOW_SERVER, "a1", k3, 1, NULL), CF_OK);
    assert_int_equal(cf_db_curve_remove(store, CF_ALLOW_SERVER, "a1"), CF_OK);
    assert_int_equal(cf_db_curve_get(store, CF_ALLOW_AGENT, "a1", got), CF_OK);
    assert_int_equal(cf_db_curve_remove(store, CF_ALLOW_SERVER, "a1"), CF_ERR_NOTFOUND);
    assert_int_equal(cf_db_curve_remove(store, CF_ALLOW_AGENT, "a1"), CF_OK);
    assert_int_equal(cf_db_curve_remove(store, CF_ALLOW_AGENT, "a2"), CF_OK);
    s_assert_owners(store);
    assert_int_equal(s_int(store, "DBSIZE%s", ""), 0);
    cf_store_destroy(&store);
}

static void test_bad_input(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    unsigned char k1[CF_CURVE_KEY_LEN], got[CF_CURVE_KEY_LEN];
    s_key(k1, 10);
    cf_why_t why = {""};
    /* bad input changes nothing */
    unsigned char zero[CF_CURVE_KEY_LEN] = {0};
    char longname[CF_DB_CURVE_NAME_MAX + 2];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    const char *bad_names[] = {NULL, "", "A1", "a 1", "-a", longname};
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        assert_int_equal(cf_db_curve_put(store, CF_ALLOW_SERVER, bad_names[i], k1, 1, &why),
                         CF_ERR_INVALID);
        assert_int_equal(cf_db_curve_get(store, CF_ALLOW_AGENT, bad_names[i], got), CF_ERR_INVALID);
        assert_int_equal(cf_db_curve_remove(store, CF_ALLOW_SERVER, bad_names[i]), CF_ERR_INVALID);
    }
    assert_int_equal(cf_db_curve_put(store, CF_ALLOW_AGENT, "a1", zero, 0, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_db_curve_put(store, CF_ALLOW_AGENT, "a1", NULL, 0, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_db_curve_put(store, (cf_allow_kind_t) 3, "a1", k1, 0, NULL),
                     CF_ERR_INVALID);
    assert_int_equal(s_int(store, "DBSIZE%s", ""), 0);
    /* a damaged value is reported, not believed */
    assert_int_equal(cf_store_cmd(store, NULL, "HSET cf:curve:agents a9 short"), CF_OK);
    assert_int_equal(cf_db_curve_get(store, CF_ALLOW_AGENT, "a9", got), CF_ERR_CORRUPT);
    cf_store_destroy(&store);
}

/* The next message on a raw subscriber connection: its payload must be want. */
static void s_expect_event(redisContext *sub, const char *want)
{
    redisReply *r = NULL;
    assert_int_equal(redisGetReply(sub, (void **) &r), REDIS_OK);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 3);
    assert_string_equal(r->element[0]->str, "message");
    assert_string_equal(r->element[1]->str, "cf:events");
    assert_string_equal(r->element[2]->str, want);
    freeReplyObject(r);
}

static void test_events(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    struct timeval tv = {5, 0}; /* a missing event fails the test instead of hanging it */
    redisContext *sub = redisConnectWithTimeout("127.0.0.1", s_redis.port, tv);
    assert_non_null(sub);
    assert_int_equal(sub->err, 0);
    assert_int_equal(redisSetTimeout(sub, tv), REDIS_OK);
    redisReply *r = redisCommand(sub, "SUBSCRIBE cf:events");
    assert_non_null(r);
    freeReplyObject(r);
    unsigned char k1[CF_CURVE_KEY_LEN], k2[CF_CURVE_KEY_LEN];
    s_key(k1, 20);
    s_key(k2, 21);
    assert_int_equal(cf_db_curve_put(store, CF_ALLOW_AGENT, "agent-1", k1, 0, NULL), CF_OK);
    /* no change and refusals publish nothing: the next event is the server's */
    assert_int_equal(cf_db_curve_put(store, CF_ALLOW_AGENT, "agent-1", k1, 0, NULL), CF_OK);
    assert_int_equal(cf_db_curve_put(store, CF_ALLOW_AGENT, "agent-2", k1, 0, NULL), CF_ERR_EXISTS);
    assert_int_equal(cf_db_curve_put(store, CF_ALLOW_SERVER, "srv.example.com", k2, 1, NULL),
                     CF_OK);
    assert_int_equal(cf_db_curve_remove(store, CF_ALLOW_AGENT, "agent-2"), CF_ERR_NOTFOUND);
    assert_int_equal(cf_db_curve_remove(store, CF_ALLOW_AGENT, "agent-1"), CF_OK);
    s_expect_event(sub, "agent-key agent-1");
    s_expect_event(sub, "server-key srv.example.com");
    s_expect_event(sub, "agent-key agent-1");
    /* each event names the entry to re-read */
    cf_allow_kind_t kind = 0;
    char name[CF_DB_CURVE_NAME_MAX + 1];
    const char ev[] = "server-key srv.example.com";
    assert_int_equal(cf_db_curve_event_parse(ev, strlen(ev), &kind, name), CF_OK);
    assert_int_equal(kind, CF_ALLOW_SERVER);
    assert_string_equal(name, "srv.example.com");
    unsigned char got[CF_CURVE_KEY_LEN];
    assert_int_equal(cf_db_curve_get(store, kind, name, got), CF_OK);
    assert_memory_equal(got, k2, CF_CURVE_KEY_LEN);
    redisFree(sub);
    cf_store_destroy(&store);
}

static void test_event_parse(void **state)
{
    (void) state;
    cf_allow_kind_t kind = 0;
    char name[CF_DB_CURVE_NAME_MAX + 1];
    assert_int_equal(cf_db_curve_event_parse("agent-key a-7", 13, &kind, name), CF_OK);
    assert_int_equal(kind, CF_ALLOW_AGENT);
    assert_string_equal(name, "a-7");
    /* only the first len bytes count */
    assert_int_equal(cf_db_curve_event_parse("agent-key a-7xyz", 13, &kind, name), CF_OK);
    assert_string_equal(name, "a-7");
    /* other events are not ours */
    const char *others[] = {"ssl", "cert server srv1", "agent-key", "agent-keys a", "server a"};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        assert_int_equal(cf_db_curve_event_parse(others[i], strlen(others[i]), &kind, name),
                         CF_ERR_NOTFOUND);
    assert_int_equal(cf_db_curve_event_parse(NULL, 0, &kind, name), CF_ERR_NOTFOUND);
    /* key events with a bad name */
    const char *bad[] = {"agent-key ", "agent-key A", "agent-key a b", "server-key  x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(cf_db_curve_event_parse(bad[i], strlen(bad[i]), &kind, name),
                         CF_ERR_INVALID);
        assert_string_equal(name, "");
    }
    assert_int_equal(cf_db_curve_event_parse("agent-key a\0b", 13, &kind, name), CF_ERR_INVALID);
    char big[11 + CF_DB_CURVE_NAME_MAX + 2];
    memcpy(big, "server-key ", 11);
    memset(big + 11, 'a', sizeof(big) - 11);
    assert_int_equal(cf_db_curve_event_parse(big, sizeof(big), &kind, name), CF_ERR_INVALID);
}

static void test_load_skips_malformed(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    enum { N = 1200 }; /* more than one HSCAN batch */
    for (unsigned i = 0; i < N; i++) {
        unsigned char k[CF_CURVE_KEY_LEN];
        s_key(k, 1000 + i);
        char id[32];
        snprintf(id, sizeof(id), "agent-%u", i);
        assert_int_equal(cf_db_curve_put(store, CF_ALLOW_AGENT, id, k, 0, NULL), CF_OK);
    }
    unsigned char k0[CF_CURVE_KEY_LEN];
    s_key(k0, 1000);
    char z0[CF_CURVE_Z85_LEN + 1];
    cf_curve_z85_encode(k0, z0);
    /* damage written behind the module's back: a bad id, a bad key, a key of another id */
    assert_int_equal(cf_store_cmd(store, NULL, "HSET cf:curve:agents %s %s", "Bad Id", z0), CF_OK);
    assert_int_equal(cf_store_cmd(store, NULL, "HSET cf:curve:agents zz not-a-key"), CF_OK);
    assert_int_equal(cf_store_cmd(store, NULL, "HSET cf:curve:servers srv1 %s", z0), CF_OK);
    assert_int_equal(
        cf_store_cmd(store, NULL, "HSET cf:curve:servers %b %s", "s\0x", (size_t) 3, z0), CF_OK);
    cf_allow_t *list = NULL;
    assert_int_equal(cf_allow_new(0, N, &list), CF_OK);
    size_t bad = 0;
    assert_int_equal(cf_db_curve_load(store, list, &bad), CF_OK);
    assert_int_equal(bad, 4);
    assert_int_equal(cf_allow_count(list), N);
    assert_string_equal(cf_allow_find(list, k0, NULL), "agent-0"); /* agents load first */
    cf_allow_destroy(&list);
    /* a list too small for the lot fails the load */
    assert_int_equal(cf_allow_new(10, 0, &list), CF_OK);
    assert_int_equal(cf_db_curve_load(store, list, NULL), CF_ERR_TOOBIG);
    cf_allow_destroy(&list);
    /* a key of the wrong type is a Redis error, not a crash */
    assert_int_equal(cf_store_cmd(store, NULL, "DEL cf:curve:servers"), CF_OK);
    assert_int_equal(cf_store_cmd(store, NULL, "SET cf:curve:servers x"), CF_OK);
    assert_int_equal(cf_allow_new(0, 0, &list), CF_OK);
    assert_int_not_equal(cf_db_curve_load(store, list, NULL), CF_OK);
    cf_allow_destroy(&list);
    cf_store_destroy(&store);
}

/* Allocation failures (cf_allow's, cf_store's) end a load or a put with an error and no
   leak; once memory is back the same calls work. */
static void test_alloc_failures(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    unsigned char k[CF_CURVE_KEY_LEN];
    for (unsigned i = 0; i < 20; i++) {
        char id[16];
        snprintf(id, sizeof(id), "a%u", i);
        s_key(k, 500 + i);
        assert_int_equal(cf_db_curve_put(store, CF_ALLOW_AGENT, id, k, 0, NULL), CF_OK);
    }
    int failures = 0;
    for (long i = 0; i < 200; i++) {
        cf_allow_t *list = NULL;
        assert_int_equal(cf_allow_new(0, 0, &list), CF_OK);
        cf_test_alloc_fail_at(i);
        cf_err_t rc = cf_db_curve_load(store, list, NULL);
        long failed = cf_test_alloc_failed();
        cf_test_alloc_fail_at(-1);
        size_t count = cf_allow_count(list);
        cf_allow_destroy(&list);
        if (failed == 0) {
            assert_int_equal(rc, CF_OK);
            assert_int_equal(count, 20);
            break;
        }
        failures++;
        assert_int_equal(rc, CF_ERR_NOMEM);
    }
    assert_true(failures >= 20);
    s_key(k, 600);
    cf_test_alloc_fail_at(0);
    assert_int_equal(cf_db_curve_put(store, CF_ALLOW_AGENT, "b1", k, 0, NULL), CF_ERR_NOMEM);
    cf_test_alloc_fail_at(-1);
    assert_int_equal(cf_db_curve_put(store, CF_ALLOW_AGENT, "b1", k, 0, NULL), CF_OK);
    s_assert_owners(store);
    cf_store_destroy(&store);
}

/* An agent's key lives in its record (field curve), not in a hash of every agent; a key
   an older version put in cf:curve:agents still reads and loads, and moves to the record
   when replaced; decommissioning the record takes the key with it. */
static void test_agent_key_in_record(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    unsigned char a[CF_CURVE_KEY_LEN], b[CF_CURVE_KEY_LEN], got[CF_CURVE_KEY_LEN];
    char za[CF_CURVE_Z85_LEN + 1], zb[CF_CURVE_Z85_LEN + 1];
    s_key(a, 11);
    s_key(b, 12);
    cf_curve_z85_encode(a, za);
    cf_curve_z85_encode(b, zb);
    assert_int_equal(cf_db_curve_put(store, CF_ALLOW_AGENT, "agent-1", a, 0, NULL), CF_OK);
    assert_true(s_is(store, za, "HGET %s curve", "cf:agent:{agent-1}"));
    assert_int_equal(s_int(store, "EXISTS %s", "cf:curve:agents"), 0);
    /* an older key: in cf:curve:agents with its owner entry */
    assert_int_equal(cf_store_cmd(store, NULL, "HSET cf:curve:agents agent-2 %s", zb), CF_OK);
    assert_int_equal(cf_store_cmd(store, NULL, "HSET cf:curve:owner %s agent:agent-2", zb), CF_OK);
    assert_int_equal(cf_db_curve_get(store, CF_ALLOW_AGENT, "agent-2", got), CF_OK);
    assert_memory_equal(got, b, CF_CURVE_KEY_LEN);
    cf_allow_t *list = NULL;
    assert_int_equal(cf_allow_new(0, 0, &list), CF_OK);
    size_t bad = 99;
    assert_int_equal(cf_db_curve_load(store, list, &bad), CF_OK);
    assert_int_equal(bad, 0); /* agent-2 comes from both hashes: the same pair, no clash */
    assert_int_equal(cf_allow_count(list), 2);
    cf_allow_kind_t kind = 0;
    assert_string_equal(cf_allow_find(list, a, &kind), "agent-1");
    assert_string_equal(cf_allow_find(list, b, &kind), "agent-2");
    cf_allow_destroy(&list);
    /* the older key is held: no second key without replace; replaced, it moves */
    unsigned char c[CF_CURVE_KEY_LEN];
    s_key(c, 13);
    assert_int_equal(cf_db_curve_put(store, CF_ALLOW_AGENT, "agent-2", c, 0, NULL), CF_ERR_EXISTS);
    assert_int_equal(cf_db_curve_put(store, CF_ALLOW_AGENT, "agent-2", c, 1, NULL), CF_OK);
    assert_int_equal(s_int(store, "HEXISTS cf:curve:agents %s", "agent-2"), 0);
    assert_int_equal(s_int(store, "HEXISTS cf:curve:owner %s", zb), 0);
    assert_int_equal(cf_db_curve_get(store, CF_ALLOW_AGENT, "agent-2", got), CF_OK);
    assert_memory_equal(got, c, CF_CURVE_KEY_LEN);
    s_assert_owners(store);
    /* the key of agent-1 is refused to agent-2: one key, one identity */
    assert_int_equal(cf_db_curve_put(store, CF_ALLOW_AGENT, "agent-2", a, 1, NULL), CF_ERR_EXISTS);
    /* decommissioning the record takes agent-1's key out of the owner hash */
    cf_db_checkin_t in = {
        "agent-1", CF_DB_LOCK_INSECURE, 5, "127.0.0.1", NULL, NULL, NULL, 0, "srv1", 0};
    assert_int_equal(cf_db_agent_checkin(store, &in, NULL), CF_OK);
    assert_int_equal(cf_db_agent_remove(store, "agent-1"), CF_OK);
    assert_int_equal(s_int(store, "HEXISTS cf:curve:owner %s", za), 0);
    assert_int_equal(cf_db_curve_get(store, CF_ALLOW_AGENT, "agent-1", got), CF_ERR_NOTFOUND);
    assert_int_equal(cf_db_curve_remove(store, CF_ALLOW_AGENT, "agent-2"), CF_OK);
    assert_int_equal(s_int(store, "HLEN %s", "cf:curve:owner"), 0);
    s_assert_owners(store);
    cf_store_destroy(&store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),          cmocka_unit_test(test_refusals_and_owners),
        cmocka_unit_test(test_bad_input),      cmocka_unit_test(test_events),
        cmocka_unit_test(test_event_parse),    cmocka_unit_test(test_load_skips_malformed),
        cmocka_unit_test(test_alloc_failures), cmocka_unit_test(test_agent_key_in_record),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
