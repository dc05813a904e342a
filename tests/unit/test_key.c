/*  test_key - private keys: generate, PEM/DER round trips, passwords, refusals  */
#include "cf_test.h"

#include <stdio.h>
#include <string.h>

#include "cf_key.h"
#include "cf_mem.h"

static char s_dir[512];

static int s_setup(void **state)
{
    (void) state;
    cf_test_tmpdir("test_key", s_dir, sizeof(s_dir));
    return 0;
}

static void test_usage(void **state)
{
    (void) state;
    cf_key_t *key = NULL;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &key), CF_OK);
    assert_int_equal(cf_key_type(key), CF_KEY_P256);
    char *pem = NULL;
    size_t len = 0;
    assert_int_equal(cf_key_to_pem(key, "s3cret", &pem, &len), CF_OK);
    assert_non_null(strstr(pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    cf_key_t *back = NULL;
    assert_int_equal(cf_key_from_pem(pem, len, "s3cret", &back), CF_OK);
    assert_int_equal(EVP_PKEY_eq(cf_key_pkey(key), cf_key_pkey(back)), 1);
    cf_mem_free_secret(pem, len);
    cf_key_destroy(&back);
    cf_key_destroy(&key);
    cf_key_destroy(&key); /* idempotent */
    assert_null(key);
}

static void test_every_type(void **state)
{
    (void) state;
    const cf_key_type_t types[] = {CF_KEY_P256,    CF_KEY_P384,    CF_KEY_RSA2048,
                                   CF_KEY_RSA3072, CF_KEY_RSA4096, CF_KEY_ED25519};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        cf_key_t *key = NULL;
        assert_int_equal(cf_key_generate(types[i], &key), CF_OK);
        assert_int_equal(cf_key_type(key), types[i]);
        unsigned char *der = NULL;
        size_t len = 0;
        assert_int_equal(cf_key_to_der(key, &der, &len), CF_OK);
        cf_key_t *back = NULL;
        assert_int_equal(cf_key_from_der(der, len, &back), CF_OK);
        assert_int_equal(cf_key_type(back), types[i]);
        assert_int_equal(EVP_PKEY_eq(cf_key_pkey(key), cf_key_pkey(back)), 1);
        char buf[32];
        assert_string_equal(cf_key_describe_pkey(cf_key_pkey(key), buf, sizeof(buf)),
                            cf_key_type_name(types[i]));
        cf_mem_free_secret(der, len);
        cf_key_destroy(&back);
        cf_key_destroy(&key);
    }
}

static void test_names(void **state)
{
    (void) state;
    cf_key_type_t t;
    assert_int_equal(cf_key_type_from_name("P-256", &t), CF_OK);
    assert_int_equal(t, CF_KEY_P256);
    assert_int_equal(cf_key_type_from_name("rsa-3072", &t), CF_OK);
    assert_int_equal(t, CF_KEY_RSA3072);
    assert_int_equal(cf_key_type_from_name("Ed25519", &t), CF_OK);
    assert_int_equal(t, CF_KEY_ED25519);
    assert_int_equal(cf_key_type_from_name("rsa1024", &t), CF_ERR_UNSUPPORTED);
    assert_int_equal(cf_key_type_from_name("", &t), CF_ERR_UNSUPPORTED);
    assert_int_equal(cf_key_type_from_name(NULL, &t), CF_ERR_INVALID);
    assert_string_equal(cf_key_type_name((cf_key_type_t) 99), "unknown");
}

static void test_passwords(void **state)
{
    (void) state;
    cf_key_t *key = NULL, *back = NULL;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &key), CF_OK);
    char *pem = NULL;
    size_t len = 0;
    assert_int_equal(cf_key_to_pem(key, "right", &pem, &len), CF_OK);
    assert_int_equal(cf_key_from_pem(pem, len, "wrong", &back), CF_ERR_BADPASS);
    assert_null(back);
    assert_int_equal(cf_key_from_pem(pem, len, NULL, &back), CF_ERR_BADPASS);
    assert_int_equal(cf_key_from_pem(pem, len, "", &back), CF_ERR_BADPASS);
    assert_int_equal(cf_key_from_pem(pem, len, "right", &back), CF_OK);
    cf_key_destroy(&back);
    cf_mem_free_secret(pem, len);
    /* without a password the PEM is clear PKCS#8 and needs none */
    assert_int_equal(cf_key_to_pem(key, NULL, &pem, &len), CF_OK);
    assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
    assert_int_equal(cf_key_from_pem(pem, len, "ignored", &back), CF_OK);
    cf_key_destroy(&back);
    cf_mem_free_secret(pem, len);
    cf_key_destroy(&key);
}

static void test_openssl_peer(void **state)
{
    (void) state;
    /* the independent peer writes keys in its own formats; we must read them all */
    assert_int_equal(cf_test_sh("cd '%s' && openssl ecparam -name prime256v1 -genkey -noout "
                                "-out ec_trad.pem && openssl genrsa -aes256 -passout pass:pw "
                                "-traditional -out rsa_trad_enc.pem 2048 && openssl genpkey "
                                "-algorithm ed25519 -aes-256-cbc -pass pass:pw -out ed_enc.pem && "
                                "openssl genrsa -out rsa1024.pem 1024 && openssl ecparam -name "
                                "secp521r1 -genkey -noout -out p521.pem",
                                s_dir),
                     0);
    static const struct {
        const char *file;
        const char *password;
        cf_err_t expect;
    } cases[] = {
        {"ec_trad.pem", NULL, CF_OK},
        {"rsa_trad_enc.pem", "pw", CF_OK},
        {"rsa_trad_enc.pem", "no", CF_ERR_BADPASS},
        {"ed_enc.pem", "pw", CF_OK},
        {"ed_enc.pem", NULL, CF_ERR_BADPASS},
        {"rsa1024.pem", NULL, CF_ERR_UNSUPPORTED},
        {"p521.pem", NULL, CF_ERR_UNSUPPORTED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[600];
        snprintf(path, sizeof(path), "%s/%s", s_dir, cases[i].file);
        size_t len = 0;
        char *pem = cf_test_read_file(path, &len);
        cf_key_t *key = NULL;
        cf_err_t rc = cf_key_from_pem(pem, len, cases[i].password, &key);
        if (rc != cases[i].expect)
            fail_msg("%s: got %s, want %s", cases[i].file, cf_err_name(rc),
                     cf_err_name(cases[i].expect));
        cf_key_destroy(&key);
        free(pem);
    }
    /* and our encrypted PKCS#8 opens with the peer, AES-256-CBC under PBKDF2 */
    cf_key_t *key = NULL;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &key), CF_OK);
    char *pem = NULL;
    size_t len = 0;
    assert_int_equal(cf_key_to_pem(key, "pw", &pem, &len), CF_OK);
    char path[600];
    snprintf(path, sizeof(path), "%s/ours.pem", s_dir);
    cf_test_write_file(path, pem, len);
    assert_int_equal(cf_test_sh("openssl pkey -in '%s' -passin pass:pw -noout", path), 0);
    assert_int_equal(cf_test_sh("openssl asn1parse -in '%s' | grep -q aes-256-cbc && "
                                "openssl asn1parse -in '%s' | grep -q PBKDF2",
                                path, path),
                     0);
    cf_mem_free_secret(pem, len);
    cf_key_destroy(&key);
}

static void test_corrupt_and_oversize(void **state)
{
    (void) state;
    cf_key_t *key = NULL, *back = NULL;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &key), CF_OK);
    char *pem = NULL;
    size_t len = 0;
    assert_int_equal(cf_key_to_pem(key, NULL, &pem, &len), CF_OK);
    for (size_t cut = 0; cut < len - 30; cut += 7) {
        cf_err_t rc = cf_key_from_pem(pem, cut, NULL, &back);
        assert_int_equal(rc, CF_ERR_CORRUPT);
        assert_null(back);
    }
    assert_int_equal(cf_key_from_pem("hello", 5, NULL, &back), CF_ERR_CORRUPT);
    char *big = calloc(1, CF_KEY_MAX_INPUT + 2);
    memset(big, 'A', CF_KEY_MAX_INPUT + 1);
    assert_int_equal(cf_key_from_pem(big, CF_KEY_MAX_INPUT + 1, NULL, &back), CF_ERR_TOOBIG);
    assert_int_equal(cf_key_from_der((unsigned char *) big, CF_KEY_MAX_INPUT + 1, &back),
                     CF_ERR_TOOBIG);
    free(big);
    unsigned char *der = NULL;
    assert_int_equal(cf_key_to_der(key, &der, &len), CF_OK);
    unsigned char *longer = calloc(1, len + 1);
    memcpy(longer, der, len);
    assert_int_equal(cf_key_from_der(longer, len + 1, &back), CF_ERR_CORRUPT); /* trailing */
    assert_int_equal(cf_key_from_der(der, len - 1, &back), CF_ERR_CORRUPT);    /* truncated */
    assert_null(back);
    free(longer);
    cf_mem_free_secret(der, len);
    cf_mem_free_secret_str(pem);
    cf_key_destroy(&key);
}

static void test_alloc_failures(void **state)
{
    (void) state;
    cf_key_t *key = NULL;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &key), CF_OK);
    char *pem = NULL;
    size_t len = 0;
    assert_int_equal(cf_key_to_pem(key, NULL, &pem, &len), CF_OK);
    for (long n = 0;; n++) {
        cf_key_t *back = NULL;
        cf_test_alloc_fail_at(n);
        cf_err_t rc = cf_key_from_pem(pem, len, NULL, &back);
        long failed = cf_test_alloc_failed();
        cf_test_alloc_fail_at(-1);
        if (!failed) {
            assert_int_equal(rc, CF_OK);
            cf_key_destroy(&back);
            break;
        }
        assert_int_equal(rc, CF_ERR_NOMEM);
        assert_null(back);
    }
    cf_mem_free_secret(pem, len);
    cf_key_destroy(&key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),          cmocka_unit_test(test_every_type),
        cmocka_unit_test(test_names),          cmocka_unit_test(test_passwords),
        cmocka_unit_test(test_openssl_peer),   cmocka_unit_test(test_corrupt_and_oversize),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, s_setup, NULL);
}
