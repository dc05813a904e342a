/*  test_db - cf_db_meta and cf_db_ssl against a real redis-server  */
#include "cf_test.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_ca.h"
#include "cf_db_meta.h"
#include "cf_db_ssl.h"
#include "cf_itest.h"
#include "cf_mem.h"

CF_ITEST_REDIS_PER_FILE()

/* Fixed test keyrings (never real secrets): A and B share the key id "k1" with other key
   bytes; C has another id. */
static const char s_secret_a[] =
    "certfleet-secret-v1 k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";
static const char s_secret_b[] =
    "certfleet-secret-v1 k1 ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM=\n";
static const char s_secret_c[] =
    "certfleet-secret-v1 k2 ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM=\n";

static cf_seal_t *s_ring(const char *text)
{
    cf_seal_t *ring = NULL;
    assert_int_equal(cf_seal_from_buffer(text, strlen(text), &ring, NULL), CF_OK);
    return ring;
}

static long long s_dbsize(cf_store_t *store)
{
    redisReply *r = NULL;
    assert_int_equal(cf_store_cmd(store, &r, "DBSIZE"), CF_OK);
    long long n = r->integer;
    cf_store_reply_free(&r);
    return n;
}

static void test_usage(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_seal_t *seal = s_ring(s_secret_a);
    /* first start: take the --init lock, check nothing is there, create the deployment */
    int got = 0;
    char holder[CF_DB_OWNER_MAX + 1];
    assert_int_equal(cf_db_init_lock(store, "srv1/4242/ab12", 600, &got, holder), CF_OK);
    assert_true(got);
    cf_db_secret_t verdict = CF_DB_SECRET_OK;
    assert_int_equal(cf_db_meta_check_secret(store, seal, &verdict), CF_OK);
    assert_int_equal(verdict, CF_DB_SECRET_NO_DEPLOYMENT);
    assert_int_equal(cf_db_meta_create(store, seal, 1700000000), CF_OK);
    cf_ca_t *ca = NULL;
    assert_int_equal(cf_ca_create(NULL, &ca), CF_OK);
    assert_int_equal(cf_db_ca_create(store, seal, cf_ca_cert(ca), cf_ca_key(ca)), CF_OK);
    cf_db_ssl_t ssl;
    cf_db_ssl_defaults(&ssl);
    assert_int_equal(cf_db_ssl_create(store, &ssl), CF_OK);
    assert_int_equal(cf_db_p12pass_set(store, seal, "agent-pass", 10), CF_OK);
    assert_int_equal(cf_db_init_unlock(store, "srv1/4242/ab12"), CF_OK);
    /* a later start: the secret opens the store and the CA comes back with its key */
    assert_int_equal(cf_db_meta_check_secret(store, seal, &verdict), CF_OK);
    assert_int_equal(verdict, CF_DB_SECRET_OK);
    cf_cert_t *cert = NULL;
    cf_key_t *key = NULL;
    assert_int_equal(cf_db_ca_get(store, seal, &cert, &key), CF_OK);
    assert_string_equal(cf_cert_fingerprint(cert), cf_cert_fingerprint(cf_ca_cert(ca)));
    assert_int_equal(cf_cert_matches_key(cert, key), CF_OK);
    assert_int_equal(cf_db_ssl_get(store, &ssl), CF_OK);
    assert_true(ssl.enabled && ssl.allow_plain);
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
    cf_ca_destroy(&ca);
    cf_seal_destroy(&seal);
    cf_store_destroy(&store);
}

/* Two servers run --init at once over two connections: exactly one takes the lock. */
typedef struct {
    pthread_barrier_t *go; /* both start together */
    const char *owner;     /* this contender's instance id */
    int got;               /* took the lock */
    char holder[CF_DB_OWNER_MAX + 1];
    cf_err_t rc; /* result of the call */
} s_contender_t;

static void *s_contend(void *arg)
{
    s_contender_t *c = arg;
    cf_store_t *store = cf_itest_store_at(s_redis.port, NULL);
    if (cf_store_connect(store) != CF_OK)
        c->rc = CF_ERR_IO;
    pthread_barrier_wait(c->go);
    if (c->rc == CF_OK)
        c->rc = cf_db_init_lock(store, c->owner, 60, &c->got, c->holder);
    cf_store_destroy(&store);
    return NULL;
}

static void test_init_lock_race(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    for (int round = 0; round < 20; round++) {
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, 2);
        s_contender_t c[2] = {{&go, "server-a", 0, "", CF_OK}, {&go, "server-b", 0, "", CF_OK}};
        pthread_t t[2];
        for (int i = 0; i < 2; i++)
            assert_int_equal(pthread_create(&t[i], NULL, s_contend, &c[i]), 0);
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
        pthread_barrier_destroy(&go);
        assert_int_equal(c[0].rc, CF_OK);
        assert_int_equal(c[1].rc, CF_OK);
        assert_int_equal(c[0].got + c[1].got, 1);
        s_contender_t *win = c[0].got ? &c[0] : &c[1], *lose = c[0].got ? &c[1] : &c[0];
        assert_string_equal(lose->holder, win->owner); /* the loser learns who holds it */
        assert_string_equal(win->holder, win->owner);
        /* the loser cannot release it; the winner can */
        assert_int_equal(cf_db_init_unlock(store, lose->owner), CF_OK);
        assert_true(cf_itest_redis_reply_has(s_redis.port, win->owner, "GET cf:init"));
        assert_int_equal(cf_db_init_unlock(store, win->owner), CF_OK);
        assert_int_equal(s_dbsize(store), 0);
    }
    /* taking it again as the holder renews it (a retried call is safe) */
    int got = 0;
    assert_int_equal(cf_db_init_lock(store, "server-a", 5, &got, NULL), CF_OK);
    assert_int_equal(cf_db_init_lock(store, "server-a", 600, &got, NULL), CF_OK);
    assert_true(got);
    assert_true(cf_itest_redis_reply_has(s_redis.port, NULL, "TTL cf:init"));
    redisReply *r = NULL;
    assert_int_equal(cf_store_cmd(store, &r, "TTL cf:init"), CF_OK);
    assert_true(r->integer > 5);
    cf_store_reply_free(&r);
    /* bad owners and TTLs never touch Redis */
    assert_int_equal(cf_db_init_lock(store, "has space", 60, &got, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_db_init_lock(store, "", 60, &got, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_db_init_lock(store, "x", 0, &got, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_db_init_lock(store, "x", 86401, &got, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_db_init_unlock(store, NULL), CF_ERR_INVALID);
    cf_store_destroy(&store);
}

static void test_canary(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_seal_t *a = s_ring(s_secret_a), *b = s_ring(s_secret_b), *c = s_ring(s_secret_c);
    cf_db_secret_t v = CF_DB_SECRET_OK;
    cf_db_meta_t meta;
    /* empty store: no deployment for any secret */
    assert_int_equal(cf_db_meta_check_secret(store, b, &v), CF_OK);
    assert_int_equal(v, CF_DB_SECRET_NO_DEPLOYMENT);
    assert_int_equal(cf_db_meta_get(store, &meta), CF_ERR_NOTFOUND);
    assert_int_equal(cf_db_meta_create(store, a, 1700000000), CF_OK);
    assert_int_equal(cf_db_meta_create(store, b, 1700000001), CF_ERR_EXISTS);
    assert_int_equal(cf_db_meta_get(store, &meta), CF_OK);
    assert_int_equal(meta.schema, CF_DB_SCHEMA);
    assert_int_equal(meta.created, 1700000000);
    assert_string_equal(meta.seal_id, "k1");
    /* the right secret, the same key id with other bytes, another key id */
    assert_int_equal(cf_db_meta_check_secret(store, a, &v), CF_OK);
    assert_int_equal(v, CF_DB_SECRET_OK);
    assert_int_equal(cf_db_meta_check_secret(store, b, &v), CF_OK);
    assert_int_equal(v, CF_DB_SECRET_WRONG);
    assert_int_equal(cf_db_meta_check_secret(store, c, &v), CF_OK);
    assert_int_equal(v, CF_DB_SECRET_WRONG);
    assert_non_null(strstr(cf_store_why(store)->text, "k1"));
    /* a damaged canary is not a verdict but an error; so is a newer schema */
    assert_int_equal(cf_store_cmd(store, NULL, "HSET cf:meta canary %s", "cfseal1:AAAA"), CF_OK);
    assert_int_equal(cf_db_meta_check_secret(store, a, &v), CF_ERR_CORRUPT);
    assert_int_equal(cf_store_cmd(store, NULL, "HDEL cf:meta canary"), CF_OK);
    assert_int_equal(cf_db_meta_check_secret(store, a, &v), CF_ERR_CORRUPT);
    assert_int_equal(cf_store_cmd(store, NULL, "HSET cf:meta schema 2"), CF_OK);
    assert_int_equal(cf_db_meta_get(store, &meta), CF_ERR_UNSUPPORTED);
    assert_int_equal(cf_store_cmd(store, NULL, "HSET cf:meta schema x1"), CF_OK);
    assert_int_equal(cf_db_meta_get(store, &meta), CF_ERR_CORRUPT);
    assert_int_equal(cf_store_cmd(store, NULL, "DEL cf:meta"), CF_OK);
    assert_int_equal(cf_store_cmd(store, NULL, "SET cf:meta x"), CF_OK);
    assert_int_equal(cf_db_meta_get(store, &meta), CF_ERR_INVALID); /* WRONGTYPE */
    cf_seal_destroy(&a);
    cf_seal_destroy(&b);
    cf_seal_destroy(&c);
    cf_store_destroy(&store);
}

static void test_ca_record(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_seal_t *a = s_ring(s_secret_a), *b = s_ring(s_secret_b);
    cf_ca_t *ca = NULL, *other = NULL;
    assert_int_equal(cf_ca_create(NULL, &ca), CF_OK);
    assert_int_equal(cf_ca_create(NULL, &other), CF_OK);
    cf_cert_t *cert = NULL;
    cf_key_t *key = NULL;
    assert_int_equal(cf_db_ca_get(store, a, &cert, &key), CF_ERR_NOTFOUND);
    assert_int_equal(cf_db_ca_create(store, a, cf_ca_cert(ca), cf_ca_key(other)),
                     CF_ERR_KEYMISMATCH);
    assert_int_equal(cf_db_ca_create(store, a, cf_ca_cert(ca), cf_ca_key(ca)), CF_OK);
    /* a wrong database must never mint a second CA over the first */
    assert_int_equal(cf_db_ca_create(store, a, cf_ca_cert(other), cf_ca_key(other)), CF_ERR_EXISTS);
    assert_int_equal(cf_db_ca_get(store, NULL, &cert, NULL), CF_OK); /* certificate only */
    assert_string_equal(cf_cert_fingerprint(cert), cf_cert_fingerprint(cf_ca_cert(ca)));
    cf_cert_destroy(&cert);
    assert_int_equal(cf_db_ca_get(store, b, &cert, &key), CF_ERR_CORRUPT); /* other bytes */
    assert_null(cert);
    assert_null(key);
    assert_true(cf_itest_redis_reply_has(s_redis.port, cf_cert_fingerprint(cf_ca_cert(ca)),
                                         "HGET cf:ca fingerprint"));
    assert_int_equal(cf_db_ca_get(store, a, &cert, &key), CF_OK);
    assert_int_equal(cf_cert_matches_key(cert, key), CF_OK);
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
    /* the sealed key is bound to cf:ca: a key sealed for another record does not open */
    char *moved = NULL;
    assert_int_equal(cf_db_seal_key(store, a, cf_ca_key(ca), "cf:cert:server:srv1", &moved), CF_OK);
    assert_int_equal(cf_store_cmd(store, NULL, "HSET cf:ca key %s", moved), CF_OK);
    cf_mem_free(moved);
    assert_int_equal(cf_db_ca_get(store, a, &cert, &key), CF_ERR_CORRUPT);
    assert_null(key);
    assert_int_equal(cf_store_cmd(store, NULL, "HSET cf:ca cert garbage"), CF_OK);
    assert_int_equal(cf_db_ca_get(store, a, &cert, &key), CF_ERR_CORRUPT);
    cf_ca_destroy(&ca);
    cf_ca_destroy(&other);
    cf_seal_destroy(&a);
    cf_seal_destroy(&b);
    cf_store_destroy(&store);
}

static void test_p12pass(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_seal_t *a = s_ring(s_secret_a), *c = s_ring(s_secret_c);
    char *pass = NULL;
    size_t len = 0;
    assert_int_equal(cf_db_p12pass_get(store, a, &pass, &len), CF_ERR_NOTFOUND);
    assert_int_equal(cf_db_p12pass_set(store, a, "s3cret pass", 11), CF_OK);
    assert_int_equal(cf_db_p12pass_get(store, a, &pass, &len), CF_OK);
    assert_int_equal(len, 11);
    assert_string_equal(pass, "s3cret pass");
    cf_mem_free_secret(pass, len);
    assert_false(cf_itest_redis_reply_has(s_redis.port, "s3cret", "GET cf:p12pass"));
    assert_int_equal(cf_db_p12pass_get(store, c, &pass, &len), CF_ERR_SECRET);
    assert_null(pass);
    assert_int_equal(cf_db_p12pass_set(store, a, "", 0), CF_ERR_INVALID);
    assert_int_equal(cf_db_p12pass_set(store, a, "a\0b", 3), CF_ERR_INVALID);
    assert_int_equal(cf_db_p12pass_set(store, a, NULL, 3), CF_ERR_INVALID);
    char big[CF_DB_P12PASS_MAX + 1];
    memset(big, 'p', sizeof(big));
    assert_int_equal(cf_db_p12pass_set(store, a, big, sizeof(big)), CF_ERR_INVALID);
    assert_int_equal(cf_db_p12pass_set(store, a, big, sizeof(big) - 1), CF_OK);
    /* a value sealed for another record does not open here */
    char *moved = NULL;
    assert_int_equal(cf_seal_seal_text(a, (const unsigned char *) "x", 1,
                                       (const unsigned char *) "cf:other", 8, &moved),
                     CF_OK);
    assert_int_equal(cf_store_cmd(store, NULL, "SET cf:p12pass %s", moved), CF_OK);
    cf_mem_free(moved);
    assert_int_equal(cf_db_p12pass_get(store, a, &pass, &len), CF_ERR_CORRUPT);
    cf_seal_destroy(&a);
    cf_seal_destroy(&c);
    cf_store_destroy(&store);
}

/* A raw subscriber on cf:events, to see what the writers publish. */
static redisContext *s_subscribe(void)
{
    redisContext *c = redisConnect("127.0.0.1", s_redis.port);
    assert_true(c && !c->err);
    redisReply *r = redisCommand(c, "SUBSCRIBE cf:events");
    assert_non_null(r);
    freeReplyObject(r);
    struct timeval tv = {5, 0};
    redisSetTimeout(c, tv);
    return c;
}

/* Next message's payload on the subscriber (fails the test after 5 s). */
static void s_expect_event(redisContext *c, const char *want)
{
    void *reply = NULL;
    assert_int_equal(redisGetReply(c, &reply), REDIS_OK);
    redisReply *r = reply;
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 3);
    assert_string_equal(r->element[2]->str, want);
    freeReplyObject(r);
}

static void test_ssl_config(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_db_ssl_t cfg, now;
    assert_int_equal(cf_db_ssl_get(store, &cfg), CF_ERR_NOTFOUND);
    cf_db_ssl_defaults(&cfg);
    assert_int_equal(cf_db_ssl_update(store, &cfg, CF_DB_SSL_ENABLED, &now), CF_ERR_NOTFOUND);
    assert_int_equal(s_dbsize(store), 0); /* refused, nothing written */
    redisContext *sub = s_subscribe();
    assert_int_equal(cf_db_ssl_create(store, &cfg), CF_OK);
    s_expect_event(sub, "ssl");
    assert_int_equal(cf_db_ssl_create(store, &cfg), CF_ERR_EXISTS);
    assert_int_equal(cf_db_ssl_get(store, &now), CF_OK);
    assert_int_equal(now.enabled, 1);
    assert_int_equal(now.allow_plain, 1);
    assert_string_equal(now.min_tls, "1.2");
    assert_int_equal(now.version, 1);
    /* close the migration window: one field changes, the version moves, servers hear it */
    cfg.allow_plain = 0;
    cfg.enabled = 7; /* not in the mask: ignored, not checked */
    assert_int_equal(cf_db_ssl_update(store, &cfg, CF_DB_SSL_ALLOW_PLAIN, &now), CF_OK);
    s_expect_event(sub, "ssl");
    assert_int_equal(now.allow_plain, 0);
    assert_int_equal(now.enabled, 1);
    assert_int_equal(now.version, 2);
    cfg.auto_renew = 1;
    cfg.renew_days = 14;
    memcpy(cfg.min_tls, "1.3", 4);
    assert_int_equal(
        cf_db_ssl_update(store, &cfg,
                         CF_DB_SSL_AUTO_RENEW | CF_DB_SSL_RENEW_DAYS | CF_DB_SSL_MIN_TLS, NULL),
        CF_OK);
    s_expect_event(sub, "ssl");
    assert_int_equal(cf_db_ssl_get(store, &now), CF_OK);
    assert_true(now.auto_renew && now.renew_days == 14 && now.version == 3);
    assert_string_equal(now.min_tls, "1.3");
    /* bad values change nothing */
    cfg.renew_days = 0;
    assert_int_equal(cf_db_ssl_update(store, &cfg, CF_DB_SSL_RENEW_DAYS, NULL), CF_ERR_INVALID);
    memcpy(cfg.min_tls, "1.4", 4);
    assert_int_equal(cf_db_ssl_update(store, &cfg, CF_DB_SSL_MIN_TLS, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_db_ssl_update(store, &cfg, 0, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_db_ssl_update(store, &cfg, 0x100, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_db_ssl_get(store, &now), CF_OK);
    assert_int_equal(now.version, 3);
    /* a damaged field is reported, not believed */
    assert_int_equal(cf_store_cmd(store, NULL, "HSET cf:ssl allow_plain yes"), CF_OK);
    assert_int_equal(cf_db_ssl_get(store, &now), CF_ERR_CORRUPT);
    assert_int_equal(cf_store_cmd(store, NULL, "HSET cf:ssl allow_plain 2"), CF_OK);
    assert_int_equal(cf_db_ssl_get(store, &now), CF_ERR_CORRUPT);
    redisFree(sub);
    cf_store_destroy(&store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),   cmocka_unit_test(test_init_lock_race),
        cmocka_unit_test(test_canary),  cmocka_unit_test(test_ca_record),
        cmocka_unit_test(test_p12pass), cmocka_unit_test(test_ssl_config),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
