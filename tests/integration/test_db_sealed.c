/*  test_db_sealed - after the deployment's records are written, no clear key is in Redis  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "cf_ca.h"
#include "cf_db_cert.h"
#include "cf_db_meta.h"
#include "cf_itest.h"
#include "cf_mem.h"

static cf_itest_redis_t s_redis; /* the server of this file */

/* A fixed test keyring (never a real secret). */
static const char s_secret[] =
    "certfleet-secret-v1 k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";

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

/* Every key name and value in Redis, concatenated (SCAN, TYPE, then the read command). */
typedef struct {
    char *buf;  /* malloc'd */
    size_t len; /* bytes used */
} s_dump_t;

static void s_append(s_dump_t *d, const void *p, size_t len)
{
    d->buf = realloc(d->buf, d->len + len + 1);
    assert_non_null(d->buf);
    memcpy(d->buf + d->len, p, len);
    d->len += len;
    d->buf[d->len++] = '\n';
}

static void s_append_reply(s_dump_t *d, const redisReply *r)
{
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
        s_append(d, r->str, r->len);
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
        s_append_reply(d, r->element[i]);
}

typedef struct {
    char **keys; /* key names */
    size_t n;    /* how many */
} s_keys_t;

static int s_collect(void *arg, const char *item, size_t len)
{
    s_keys_t *k = arg;
    k->keys = realloc(k->keys, (k->n + 1) * sizeof(*k->keys));
    k->keys[k->n] = strndup(item, len);
    k->n++;
    return 0;
}

static s_dump_t s_dump(cf_store_t *store)
{
    s_keys_t k = {NULL, 0};
    assert_int_equal(cf_store_scan(store, NULL, 100, 100000, s_collect, &k), CF_OK);
    s_dump_t d = {NULL, 0};
    static const char *const how[][2] = {{"string", "GET %s"},       {"hash", "HGETALL %s"},
                                         {"set", "SMEMBERS %s"},     {"list", "LRANGE %s 0 -1"},
                                         {"zset", "ZRANGE %s 0 -1"}, {"stream", "XRANGE %s - +"}};
    for (size_t i = 0; i < k.n; i++) {
        redisReply *type = NULL, *r = NULL;
        assert_int_equal(cf_store_cmd(store, &type, "TYPE %s", k.keys[i]), CF_OK);
        size_t j = 0;
        while (j < 6 && strcmp(type->str, how[j][0]) != 0)
            j++;
        assert_true(j < 6); /* a type we know how to read */
        assert_int_equal(cf_store_cmd(store, &r, how[j][1], k.keys[i]), CF_OK);
        s_append(&d, k.keys[i], strlen(k.keys[i]));
        s_append_reply(&d, r);
        cf_store_reply_free(&r);
        cf_store_reply_free(&type);
        free(k.keys[i]);
    }
    free(k.keys);
    return d;
}

static int s_contains(const s_dump_t *d, const void *needle, size_t len)
{
    for (size_t i = 0; len && i + len <= d->len; i++)
        if (memcmp(d->buf + i, needle, len) == 0)
            return 1;
    return 0;
}

/* The raw private scalar (EC "priv", RSA "d") of key as big-endian bytes into buf. */
static size_t s_private_scalar(const cf_key_t *key, unsigned char *buf, size_t cap)
{
    BIGNUM *bn = NULL;
    EVP_PKEY *pkey = cf_key_pkey(key);
    if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &bn))
        assert_true(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_D, &bn));
    assert_true((size_t) BN_num_bytes(bn) <= cap);
    size_t n = (size_t) BN_bn2bin(bn, buf);
    BN_clear_free(bn);
    return n;
}

/* Neither the key's PKCS#8 DER, nor the first line of its PEM, nor its private scalar
   (binary, hex in both cases, base64) may be in the dump. */
static void s_assert_absent(const s_dump_t *d, const cf_key_t *key)
{
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(cf_key_to_der(key, &der, &len), CF_OK);
    assert_false(s_contains(d, der, len));
    unsigned char b64[1024];
    int n = EVP_EncodeBlock(b64, der, 48); /* what a PEM's first line would hold */
    assert_false(s_contains(d, b64, (size_t) n));
    cf_mem_free_secret(der, len);
    unsigned char priv[512];
    size_t plen = s_private_scalar(key, priv, sizeof(priv));
    assert_true(plen >= 16);
    assert_false(s_contains(d, priv, plen));
    n = EVP_EncodeBlock(b64, priv, (int) plen);
    assert_false(s_contains(d, b64, (size_t) n));
    char hex[1025];
    for (int upper = 0; upper < 2; upper++) {
        for (size_t i = 0; i < plen; i++)
            snprintf(hex + 2 * i, 3, upper ? "%02X" : "%02x", priv[i]);
        assert_false(s_contains(d, hex, 2 * plen));
    }
    cf_mem_wipe(priv, sizeof(priv));
}

static void test_no_clear_key_in_redis(void **state)
{
    (void) state;
    cf_store_t *store = cf_itest_store_at(s_redis.port, NULL);
    cf_seal_t *seal = NULL;
    assert_int_equal(cf_seal_from_buffer(s_secret, strlen(s_secret), &seal, NULL), CF_OK);
    cf_ca_t *ca = NULL;
    assert_int_equal(cf_ca_create(NULL, &ca), CF_OK);
    assert_int_equal(cf_db_meta_create(store, seal, 1700000000), CF_OK);
    assert_int_equal(cf_db_ca_create(store, seal, cf_ca_cert(ca), cf_ca_key(ca)), CF_OK);
    assert_int_equal(cf_db_p12pass_set(store, seal, "Pkcs12-Pass-Word", 16), CF_OK);
    enum { N = 4 };
    cf_key_t *keys[N] = {NULL};
    static const cf_component_t comp[N] = {CF_COMPONENT_SERVER, CF_COMPONENT_CONSOLE,
                                           CF_COMPONENT_AGENT, CF_COMPONENT_SERVER};
    static const char *const name[N] = {"srv1", "console", "shared", "srv1"}; /* replaced */
    for (int i = 0; i < N; i++) {
        cf_issue_t req = {.component = comp[i], .name = name[i], .shared_agent = i == 2};
        if (i == 3)
            req.key_type = CF_KEY_RSA2048;
        cf_cert_t *cert = NULL;
        assert_int_equal(cf_ca_issue(ca, &req, &cert, &keys[i]), CF_OK);
        cf_db_cert_in_t in = {comp[i], name[i], CF_DB_CERT_GENERATED, cert,
                              NULL,    keys[i], 1700000000 + i};
        int archived = 0;
        assert_int_equal(cf_db_cert_put(store, seal, &in, &archived), CF_OK);
        assert_int_equal(archived, i == 3);
        cf_cert_destroy(&cert);
    }
    s_dump_t d = s_dump(store);
    assert_true(d.len > 1000);
    assert_true(s_contains(&d, "BEGIN CERTIFICATE", 17)); /* the dump sees the records */
    assert_true(s_contains(&d, "cfseal1:", 8));
    assert_false(s_contains(&d, "PRIVATE KEY", 11));
    assert_false(s_contains(&d, "Pkcs12-Pass-Word", 16));
    s_assert_absent(&d, cf_ca_key(ca));
    for (int i = 0; i < N; i++)
        s_assert_absent(&d, keys[i]);
    free(d.buf);
    /* control: the search does find a key that is stored in clear */
    unsigned char *der = NULL, priv[512];
    size_t len = 0, plen = s_private_scalar(keys[3], priv, sizeof(priv));
    assert_int_equal(cf_key_to_der(keys[3], &der, &len), CF_OK);
    assert_int_equal(cf_store_cmd(store, NULL, "SET cf:test:leak %b", der, len), CF_OK);
    d = s_dump(store);
    assert_true(s_contains(&d, der, len));
    assert_true(s_contains(&d, priv, plen));
    free(d.buf);
    cf_mem_free_secret(der, len);
    for (int i = 0; i < N; i++)
        cf_key_destroy(&keys[i]);
    cf_ca_destroy(&ca);
    cf_seal_destroy(&seal);
    cf_store_destroy(&store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_clear_key_in_redis),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
