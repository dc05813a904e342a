/*  test_spki - public keys in certificate form: fast P-256 path, OpenSSL path, refusals  */
#include "cf_test.h"

#include <string.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cf_mem.h"
#include "cf_spki.h"

/* What OpenSSL's encoder makes of the key, and SHA-1 over its subjectPublicKey bits. */
static void s_reference(EVP_PKEY *pkey, unsigned char **der, int *len, unsigned char kid[20])
{
    *der = NULL;
    *len = i2d_PUBKEY(pkey, der);
    assert_true(*len > 0);
    const unsigned char *p = *der;
    X509_PUBKEY *xpk = d2i_X509_PUBKEY(NULL, &p, *len);
    assert_non_null(xpk);
    const unsigned char *bits = NULL;
    int bits_len = 0;
    assert_true(X509_PUBKEY_get0_param(NULL, &bits, &bits_len, NULL, xpk));
    assert_int_equal(EVP_Digest(bits, (size_t) bits_len, kid, NULL, EVP_sha1(), NULL), 1);
    X509_PUBKEY_free(xpk);
}

static void test_usage(void **state)
{
    (void) state;
    cf_key_t *key = NULL;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &key), CF_OK);
    cf_spki_t spki;
    cf_spki_init(&spki);
    assert_int_equal(cf_spki_from_key(&spki, key, NULL), CF_OK);
    assert_int_equal(spki.type, CF_KEY_P256);
    assert_ptr_equal(spki.der, spki.p256); /* the fast path: no encoder */
    assert_int_equal(spki.len, CF_SPKI_P256_LEN);
    unsigned char *der = NULL;
    int len = 0;
    unsigned char kid[20];
    s_reference(cf_key_pkey(key), &der, &len, kid);
    assert_int_equal(spki.len, (size_t) len);
    assert_memory_equal(spki.der, der, spki.len);
    assert_memory_equal(spki.kid, kid, 20);
    cf_spki_clear(&spki);
    cf_spki_clear(&spki); /* safe to repeat */
    OPENSSL_free(der);
    cf_key_destroy(&key);
}

static void test_every_key_type(void **state)
{
    (void) state;
    static const cf_key_type_t types[] = {CF_KEY_P256, CF_KEY_P384, CF_KEY_RSA2048, CF_KEY_ED25519};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        cf_key_t *key = NULL;
        assert_int_equal(cf_key_generate(types[i], &key), CF_OK);
        unsigned char *der = NULL;
        int len = 0;
        unsigned char kid[20];
        s_reference(cf_key_pkey(key), &der, &len, kid);
        cf_spki_t a, b;
        cf_spki_init(&a);
        cf_spki_init(&b);
        assert_int_equal(cf_spki_from_key(&a, key, NULL), CF_OK);
        assert_int_equal(cf_spki_from_der(&b, der, (size_t) len, NULL, NULL), CF_OK);
        assert_int_equal(a.type, types[i]);
        assert_int_equal(b.type, types[i]);
        assert_int_equal(a.len, (size_t) len);
        assert_int_equal(b.len, (size_t) len);
        assert_memory_equal(a.der, der, a.len);
        assert_memory_equal(b.der, der, b.len);
        assert_memory_equal(a.kid, kid, 20);
        assert_memory_equal(b.kid, kid, 20);
        cf_spki_clear(&a);
        cf_spki_clear(&b);
        OPENSSL_free(der);
        cf_key_destroy(&key);
    }
}

/* A P-256 SPKI with a compressed point (RFC 5480 allows it) is taken as it is. */
static void test_compressed_point(void **state)
{
    (void) state;
    cf_key_t *key = NULL;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &key), CF_OK);
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(cf_key_public_der(key, &der, &len), CF_OK);
    assert_int_equal(len, 91);
    unsigned char comp[59]; /* SEQUENCE, the same AlgorithmIdentifier, BIT STRING of 34 */
    memcpy(comp, "\x30\x39", 2);
    memcpy(comp + 2, der + 2, 21);
    memcpy(comp + 23, "\x03\x22\x00", 3);
    comp[26] = (unsigned char) (0x02 | (der[90] & 1)); /* parity of Y */
    memcpy(comp + 27, der + 27, 32);                   /* X */
    unsigned char kid[20];
    assert_int_equal(EVP_Digest(comp + 26, 33, kid, NULL, EVP_sha1(), NULL), 1);
    cf_spki_t s;
    cf_spki_init(&s);
    assert_int_equal(cf_spki_from_der(&s, comp, sizeof(comp), NULL, NULL), CF_OK);
    assert_int_equal(s.type, CF_KEY_P256);
    assert_int_equal(s.len, sizeof(comp));
    assert_memory_equal(s.der, comp, sizeof(comp));
    assert_memory_equal(s.kid, kid, 20);
    cf_spki_clear(&s);
    const unsigned char *p = comp; /* the same key through cf_key: any valid encoding */
    EVP_PKEY *pkey = d2i_PUBKEY(NULL, &p, sizeof(comp));
    assert_non_null(pkey);
    assert_int_equal(EVP_PKEY_eq(pkey, cf_key_pkey(key)), 1);
    cf_key_t *pub = NULL;
    assert_int_equal(cf_key_from_pkey(&pkey, &pub), CF_OK);
    assert_int_equal(cf_spki_from_key(&s, pub, NULL), CF_OK);
    p = s.der;
    pkey = d2i_PUBKEY(NULL, &p, (long) s.len);
    assert_non_null(pkey);
    assert_int_equal(EVP_PKEY_eq(pkey, cf_key_pkey(key)), 1);
    EVP_PKEY_free(pkey);
    cf_spki_clear(&s);
    cf_key_destroy(&pub);
    cf_mem_free(der);
    cf_key_destroy(&key);
}

static void test_refusals(void **state)
{
    (void) state;
    static const char *const others[][2] = {{"RSA", NULL}, {"EC", "P-521"}, {"X25519", NULL}};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        EVP_PKEY *pkey = others[i][1] ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", others[i][1])
                         : i == 0     ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 1024)
                                      : EVP_PKEY_Q_keygen(NULL, NULL, others[i][0]);
        assert_non_null(pkey);
        unsigned char *der = NULL;
        int len = i2d_PUBKEY(pkey, &der);
        assert_true(len > 0);
        cf_spki_t s;
        cf_spki_init(&s);
        assert_int_equal(cf_spki_from_der(&s, der, (size_t) len, NULL, NULL), CF_ERR_UNSUPPORTED);
        assert_null(s.owned);
        OPENSSL_free(der);
        EVP_PKEY_free(pkey);
    }
    cf_key_t *key = NULL;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &key), CF_OK);
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(cf_key_public_der(key, &der, &len), CF_OK);
    unsigned char buf[128];
    memcpy(buf, der, len);
    buf[len] = 0x00;
    unsigned char unknown[128]; /* id-ecPublicKey changed into an unknown OID */
    memcpy(unknown, der, len);
    unknown[10] ^= 0x40;
    unsigned char off[128]; /* the standard header, a point that is not on the curve */
    memcpy(off, der, len);
    off[len - 1] ^= 0x01;
    const struct {
        const unsigned char *der;
        size_t len;
        cf_err_t rc;
    } cases[] = {
        {NULL, 0, CF_ERR_CORRUPT},
        {der, 0, CF_ERR_CORRUPT},
        {der, len - 1, CF_ERR_CORRUPT},
        {buf, len + 1, CF_ERR_CORRUPT},
        {(const unsigned char *) "\x30\x00", 2, CF_ERR_CORRUPT},
        {der, CF_SPKI_MAX_INPUT + 1, CF_ERR_TOOBIG},
        {unknown, len, CF_ERR_UNSUPPORTED},
        {off, len, CF_ERR_CORRUPT},
    };
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    assert_non_null(g);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int with_group = 0; with_group < 2; with_group++) {
            cf_spki_t s;
            cf_spki_init(&s);
            assert_int_equal(
                cf_spki_from_der(&s, cases[i].der, cases[i].len, NULL, with_group ? g : NULL),
                cases[i].rc);
            assert_null(s.owned);
            cf_spki_clear(&s);
        }
    }
    /* the same point made canonical by OpenSSL is also refused (the slow path agrees) */
    const unsigned char *p = off;
    EVP_PKEY *bad = d2i_PUBKEY(NULL, &p, (long) len);
    assert_null(bad);
    ERR_clear_error();
    /* and the valid key through the fast path with a group: the same bytes as without */
    cf_spki_t a, b;
    cf_spki_init(&a);
    cf_spki_init(&b);
    assert_int_equal(cf_spki_from_der(&a, der, len, NULL, g), CF_OK);
    assert_null(a.owned); /* taken as it is: OpenSSL's decoder (which re-encodes) not used */
    assert_int_equal(cf_spki_from_key(&b, key, NULL), CF_OK);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.der, b.der, a.len);
    assert_memory_equal(a.kid, b.kid, sizeof(a.kid));
    cf_spki_clear(&a);
    cf_spki_clear(&b);
    EC_GROUP_free(g);
    cf_mem_free(der);
    cf_key_destroy(&key);
}

/* The hot path allocates nothing of ours: it works with every allocation failing. */
static void test_fast_path_allocates_nothing(void **state)
{
    (void) state;
    cf_key_t *key = NULL;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &key), CF_OK);
    cf_spki_t s;
    cf_spki_init(&s);
    cf_test_alloc_fail_at(0);
    cf_err_t rc = cf_spki_from_key(&s, key, NULL);
    long failed = cf_test_alloc_failed();
    cf_test_alloc_fail_at(-1);
    assert_int_equal(rc, CF_OK);
    assert_int_equal(failed, 0);
    assert_null(s.owned);
    cf_spki_clear(&s);
    cf_key_destroy(&key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_every_key_type),
        cmocka_unit_test(test_compressed_point),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_fast_path_allocates_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
