/*  test_key_p256 - the P-256 private key fast path: the same key as OpenSSL's decoder gives,
    declined for other forms (which still load the usual way), refused when it does not
    hold together  */
#include "cf_test.h"

#include <string.h>

#include <openssl/pem.h>

#include "cf_key.h"
#include "cf_key_int.h"
#include "cf_mem.h"

static char s_dir[512];

static int s_setup(void **state)
{
    (void) state;
    cf_test_tmpdir("test_key_p256", s_dir, sizeof(s_dir));
    return 0;
}

/* 1 when a and b sign and verify for each other (same key pair). */
static int s_same_pair(EVP_PKEY *a, EVP_PKEY *b)
{
    static const unsigned char msg[] = "certfleet";
    unsigned char sig[128];
    size_t len = sizeof(sig);
    EVP_MD_CTX *s = EVP_MD_CTX_new(), *v = EVP_MD_CTX_new();
    int ok = s && v && EVP_DigestSignInit(s, NULL, EVP_sha256(), NULL, a) == 1 &&
             EVP_DigestSign(s, sig, &len, msg, sizeof(msg)) == 1 &&
             EVP_DigestVerifyInit(v, NULL, EVP_sha256(), NULL, b) == 1 &&
             EVP_DigestVerify(v, sig, len, msg, sizeof(msg)) == 1 && EVP_PKEY_eq(a, b) == 1;
    EVP_MD_CTX_free(s);
    EVP_MD_CTX_free(v);
    return ok;
}

/* The key's SEC 1 ECPrivateKey DER (OpenSSL's type-specific encoding). */
static unsigned char *s_sec1(const cf_key_t *key, size_t *len)
{
    unsigned char *der = NULL;
    int n = i2d_PrivateKey(cf_key_pkey(key), &der);
    assert_true(n > 0);
    *len = (size_t) n;
    return der;
}

/* Usage: PKCS#8 as cf_key_to_der writes it, read by the fast path. */
static void test_usage(void **state)
{
    (void) state;
    cf_key_t *key = NULL;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &key), CF_OK);
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(cf_key_to_der(key, &der, &len), CF_OK);
    const unsigned char *p = der;
    PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long) len);
    assert_non_null(p8);
    EVP_PKEY *fast = NULL;
    assert_int_equal(cf_key_p256_from_p8(p8, &fast), CF_OK);
    assert_true(s_same_pair(fast, cf_key_pkey(key)));
    assert_true(s_same_pair(cf_key_pkey(key), fast));
    EVP_PKEY_free(fast);
    PKCS8_PRIV_KEY_INFO_free(p8);
    /* and through the public entry points */
    cf_key_t *back = NULL;
    assert_int_equal(cf_key_from_der(der, len, &back), CF_OK);
    assert_true(s_same_pair(cf_key_pkey(back), cf_key_pkey(key)));
    cf_key_destroy(&back);
    char *pem = NULL;
    assert_int_equal(cf_key_to_pem(key, NULL, &pem, &len), CF_OK);
    assert_int_equal(cf_key_from_pem(pem, len, NULL, &back), CF_OK);
    assert_true(s_same_pair(cf_key_pkey(back), cf_key_pkey(key)));
    cf_key_destroy(&back);
    cf_mem_free_secret_str(pem);
    cf_mem_free(der);
    cf_key_destroy(&key);
}

static void test_sec1(void **state)
{
    (void) state;
    cf_key_t *key = NULL;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &key), CF_OK);
    size_t len = 0;
    unsigned char *der = s_sec1(key, &len);
    EVP_PKEY *fast = NULL;
    assert_int_equal(cf_key_p256_from_sec1(der, len, &fast), CF_OK);
    assert_true(s_same_pair(fast, cf_key_pkey(key)));
    EVP_PKEY_free(fast);
    /* "EC PRIVATE KEY" PEM through cf_key_from_pem */
    BIO *bio = BIO_new(BIO_s_mem());
    assert_non_null(bio);
    assert_int_equal(
        PEM_write_bio_PrivateKey_traditional(bio, cf_key_pkey(key), NULL, NULL, 0, NULL, NULL), 1);
    char *data = NULL;
    long plen = BIO_get_mem_data(bio, &data);
    assert_true(plen > 0);
    char *pem = cf_mem_strndup(data, (size_t) plen); /* the BIO's bytes have no NUL */
    assert_non_null(pem);
    assert_non_null(strstr(pem, "BEGIN EC PRIVATE KEY"));
    cf_key_t *back = NULL;
    assert_int_equal(cf_key_from_pem(pem, (size_t) plen, NULL, &back), CF_OK);
    cf_mem_free_secret_str(pem);
    assert_true(s_same_pair(cf_key_pkey(back), cf_key_pkey(key)));
    cf_key_destroy(&back);
    BIO_free(bio);
    OPENSSL_clear_free(der, len);
    cf_key_destroy(&key);
}

/* Other forms are declined by the fast path and still load the usual way. */
static void test_declined_still_loads(void **state)
{
    (void) state;
    cf_key_t *key = NULL;
    assert_int_equal(cf_key_generate(CF_KEY_P384, &key), CF_OK);
    size_t len = 0;
    unsigned char *der = s_sec1(key, &len);
    EVP_PKEY *fast = NULL;
    assert_int_equal(cf_key_p256_from_sec1(der, len, &fast), CF_ERR_UNSUPPORTED);
    assert_null(fast);
    OPENSSL_clear_free(der, len);
    cf_key_destroy(&key);
    /* P-256 with explicit curve parameters, and with a compressed point */
    static const char *const forms[] = {"-param_enc explicit", "-conv_form compressed"};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(cf_test_sh("cd '%s' && openssl genpkey -algorithm EC -pkeyopt "
                                    "ec_paramgen_curve:P-256 -out k%zu.pem 2>/dev/null && "
                                    "openssl ec -in k%zu.pem %s -out f%zu.pem 2>/dev/null && "
                                    "openssl pkcs8 -topk8 -nocrypt -in f%zu.pem -outform DER "
                                    "-out k%zu.der 2>/dev/null",
                                    s_dir, i, i, forms[i], i, i, i),
                         0);
        char path[600];
        snprintf(path, sizeof(path), "%s/k%zu.der", s_dir, i);
        size_t dlen = 0;
        char *d = cf_test_read_file(path, &dlen);
        const unsigned char *p = (const unsigned char *) d;
        PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long) dlen);
        assert_non_null(p8);
        assert_int_equal(cf_key_p256_from_p8(p8, &fast), CF_ERR_UNSUPPORTED);
        PKCS8_PRIV_KEY_INFO_free(p8);
        cf_key_t *back = NULL;
        assert_int_equal(cf_key_from_der((const unsigned char *) d, dlen, &back), CF_OK);
        assert_string_equal(cf_key_type_name(cf_key_type(back)), "P-256");
        cf_key_destroy(&back);
        cf_mem_free(d);
    }
}

/* A key in the fast path's form that does not hold together is refused, not handed to the
   usual decoder. */
static void test_refused(void **state)
{
    (void) state;
    cf_key_t *a = NULL, *b = NULL;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &a), CF_OK);
    assert_int_equal(cf_key_generate(CF_KEY_P256, &b), CF_OK);
    size_t alen = 0, blen = 0;
    unsigned char *da = s_sec1(a, &alen), *db = s_sec1(b, &blen);
    assert_int_equal(alen, blen);
    EVP_PKEY *fast = NULL;
    unsigned char *x = cf_mem_malloc(alen);
    assert_non_null(x);
    /* b's public point behind a's scalar (the point is the DER's last 65 bytes) */
    memcpy(x, da, alen);
    memcpy(x + alen - 65, db + blen - 65, 65);
    assert_int_equal(cf_key_p256_from_sec1(x, alen, &fast), CF_ERR_CORRUPT);
    /* a point off the curve */
    memcpy(x, da, alen);
    x[alen - 1] ^= 0x01;
    assert_int_equal(cf_key_p256_from_sec1(x, alen, &fast), CF_ERR_CORRUPT);
    /* a zero scalar (30 77 02 01 01 04 20 <scalar>) */
    memcpy(x, da, alen);
    assert_int_equal(x[5], 0x04);
    memset(x + 7, 0, 32);
    assert_int_equal(cf_key_p256_from_sec1(x, alen, &fast), CF_ERR_CORRUPT);
    assert_null(fast);
    /* not ECPrivateKey at all: declined */
    assert_int_equal(cf_key_p256_from_sec1(x, 5, &fast), CF_ERR_UNSUPPORTED);
    assert_int_equal(cf_key_p256_from_sec1(NULL, alen, &fast), CF_ERR_INVALID);
    assert_int_equal(cf_key_p256_from_p8(NULL, &fast), CF_ERR_INVALID);
    OPENSSL_clear_free(x, alen);
    OPENSSL_clear_free(da, alen);
    OPENSSL_clear_free(db, blen);
    cf_key_destroy(&a);
    cf_key_destroy(&b);
}

/* A form the fast path leaves to OpenSSL's decoder (here: a public key BIT STRING that
   claims an unused bit) with another key's point behind the scalar: refused as the fast
   path refuses it, not loaded (the fuzzer found one that loaded from PEM, then failed its
   own PKCS#8 round trip). */
static void test_declined_mismatch_refused(void **state)
{
    (void) state;
    cf_key_t *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    unsigned char *da = NULL, *db = NULL;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &a), CF_OK);
    da = s_sec1(a, &alen);
    do { /* a point whose last bit is 0 survives the unused bit unchanged */
        if (db)
            OPENSSL_clear_free(db, blen);
        cf_key_destroy(&b);
        assert_int_equal(cf_key_generate(CF_KEY_P256, &b), CF_OK);
        db = s_sec1(b, &blen);
    } while (db[blen - 1] & 0x01);
    assert_int_equal(alen, blen);
    memcpy(da + alen - 65, db + blen - 65, 65);
    assert_int_equal(da[alen - 66], 0x00); /* the BIT STRING's unused-bits count */
    da[alen - 66] = 0x01;
    EVP_PKEY *fast = NULL;
    assert_int_equal(cf_key_p256_from_sec1(da, alen, &fast), CF_ERR_UNSUPPORTED);
    BIO *bio = BIO_new(BIO_s_mem());
    assert_non_null(bio);
    assert_true(PEM_write_bio(bio, "EC PRIVATE KEY", "", da, (long) alen) > 0);
    char *pem = NULL;
    long plen = BIO_get_mem_data(bio, &pem);
    cf_key_t *back = NULL;
    assert_int_equal(cf_key_from_pem(pem, (size_t) plen, NULL, &back), CF_ERR_CORRUPT);
    assert_null(back);
    BIO_free(bio);
    OPENSSL_clear_free(da, alen);
    OPENSSL_clear_free(db, blen);
    cf_key_destroy(&a);
    cf_key_destroy(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_sec1),
        cmocka_unit_test(test_declined_still_loads),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_declined_mismatch_refused),
    };
    return cmocka_run_group_tests(tests, s_setup, NULL);
}
