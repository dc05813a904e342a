/*  test_seal - sealed blobs and their text form: round trips, caps, tampering, key ids, rotation */
#include "cf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_key.h"
#include "cf_mem.h"
#include "cf_seal.h"
#include "cf_test_seal.h"

static void test_usage(void **state)
{
    (void) state;
    char dir[512], path[600];
    cf_test_tmpdir("seal_usage", dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/secret", dir);
    cf_why_t why = {""};
    /* Once per deployment: create the secret file, copy it to every server. */
    assert_int_equal(cf_seal_generate_file(path, "2026-01", &why), CF_OK);
    cf_seal_t *seal = NULL;
    assert_int_equal(cf_seal_load_file(path, 0, &seal, &why), CF_OK);
    assert_string_equal(cf_seal_current_id(seal), "2026-01");
    /* Seal a private key for one Redis record; the context binds it to that record. */
    const char *pem = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMG...\n";
    char *text = NULL;
    assert_int_equal(cf_seal_seal_text(seal, (const unsigned char *) pem, strlen(pem),
                                       (const unsigned char *) CF_TEST_SEAL_CTX,
                                       CF_TEST_SEAL_CTX_LEN, &text),
                     CF_OK);
    assert_memory_equal(text, CF_SEAL_TEXT_PREFIX, strlen(CF_SEAL_TEXT_PREFIX));
    assert_null(strstr(text, "PRIVATE"));
    unsigned char *plain = NULL;
    size_t len = 0;
    assert_int_equal(cf_seal_open_text(seal, text, strlen(text),
                                       (const unsigned char *) CF_TEST_SEAL_CTX,
                                       CF_TEST_SEAL_CTX_LEN, &plain, &len, &why),
                     CF_OK);
    assert_string_equal((const char *) plain, pem);
    cf_mem_free_secret(plain, len);
    /* At start, a server proves its secret file opens the store's canary. */
    char *canary = NULL;
    assert_int_equal(cf_seal_make_canary(seal, &canary), CF_OK);
    assert_int_equal(cf_seal_verify_canary(seal, canary, strlen(canary), &why), CF_OK);
    assert_int_equal(cf_seal_check(seal, (const unsigned char *) text, strlen(text), &why), CF_OK);
    cf_mem_free(canary);
    cf_mem_free(text);
    cf_seal_destroy(&seal);
    assert_null(seal);
    cf_seal_destroy(&seal); /* idempotent */
    cf_seal_destroy(NULL);
}

static void test_round_trip(void **state)
{
    (void) state;
    cf_seal_t *seal = cf_test_seal_ring1("k1", 0x11);
    static const size_t sizes[] = {0, 1, 15, 16, 17, 1000, CF_SEAL_MAX_PLAIN};
    unsigned char *plain = malloc(CF_SEAL_MAX_PLAIN);
    assert_non_null(plain);
    for (size_t i = 0; i < CF_SEAL_MAX_PLAIN; i++)
        plain[i] = (unsigned char) (i * 7 + 3);
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        unsigned char *blob = NULL, *back = NULL;
        size_t blob_len = 0, back_len = 0;
        assert_int_equal(cf_seal_seal(seal, plain, sizes[s], NULL, 0, &blob, &blob_len), CF_OK);
        assert_int_equal(blob_len, sizes[s] + 5 + 2 + CF_SEAL_NONCE_LEN + CF_SEAL_TAG_LEN);
        assert_int_equal(cf_seal_open(seal, blob, blob_len, NULL, 0, &back, &back_len, NULL),
                         CF_OK);
        assert_int_equal(back_len, sizes[s]);
        assert_int_equal(back[back_len], '\0');
        if (sizes[s])
            assert_memory_equal(back, plain, sizes[s]);
        cf_mem_free_secret(back, back_len);
        cf_mem_free(blob);
    }
    /* A fresh nonce per seal: the same value never seals to the same bytes. */
    unsigned char *a = NULL, *b = NULL;
    size_t a_len = 0, b_len = 0;
    cf_test_seal_seal(seal, "same", CF_TEST_SEAL_CTX, &a, &a_len);
    cf_test_seal_seal(seal, "same", CF_TEST_SEAL_CTX, &b, &b_len);
    assert_int_equal(a_len, b_len);
    assert_memory_not_equal(a, b, a_len);
    cf_test_seal_expect_open(seal, b, b_len, CF_TEST_SEAL_CTX, CF_OK, "same");
    cf_mem_free(a);
    cf_mem_free(b);
    free(plain);
    cf_seal_destroy(&seal);
}

/* What the store does with a private key: PKCS#8 DER, sealed to its record, and back. */
static void test_private_key_round_trip(void **state)
{
    (void) state;
    cf_seal_t *seal = cf_test_seal_ring1("k1", 0x11);
    cf_key_t *key = NULL, *back = NULL;
    unsigned char *der = NULL, *blob = NULL, *plain = NULL, *pub1 = NULL, *pub2 = NULL;
    size_t der_len = 0, blob_len = 0, plain_len = 0, pub1_len = 0, pub2_len = 0;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &key), CF_OK);
    assert_int_equal(cf_key_to_der(key, &der, &der_len), CF_OK);
    assert_int_equal(cf_seal_seal(seal, der, der_len, (const unsigned char *) CF_TEST_SEAL_CTX,
                                  CF_TEST_SEAL_CTX_LEN, &blob, &blob_len),
                     CF_OK);
    cf_mem_free_secret(der, der_len);
    assert_int_equal(cf_seal_open(seal, blob, blob_len, (const unsigned char *) CF_TEST_SEAL_CTX,
                                  CF_TEST_SEAL_CTX_LEN, &plain, &plain_len, NULL),
                     CF_OK);
    assert_int_equal(cf_key_from_der(plain, plain_len, &back), CF_OK);
    cf_mem_free_secret(plain, plain_len);
    assert_int_equal(cf_key_public_der(key, &pub1, &pub1_len), CF_OK);
    assert_int_equal(cf_key_public_der(back, &pub2, &pub2_len), CF_OK);
    assert_int_equal(pub1_len, pub2_len);
    assert_memory_equal(pub1, pub2, pub1_len);
    cf_mem_free(pub1);
    cf_mem_free(pub2);
    cf_mem_free(blob);
    cf_key_destroy(&key);
    cf_key_destroy(&back);
    cf_seal_destroy(&seal);
}

static void test_size_caps(void **state)
{
    (void) state;
    cf_seal_t *seal = cf_test_seal_ring1("k1", 0x11);
    size_t big = CF_SEAL_MAX_TEXT + 1;
    unsigned char *buf = calloc(1, big);
    assert_non_null(buf);
    unsigned char *blob = (unsigned char *) 0x1, *plain = (unsigned char *) 0x1;
    size_t len = 7, plain_len = 7;
    char *text = (char *) 0x1;
    assert_int_equal(cf_seal_seal(seal, buf, CF_SEAL_MAX_PLAIN + 1, NULL, 0, &blob, &len),
                     CF_ERR_TOOBIG);
    assert_null(blob);
    assert_int_equal(len, 0);
    assert_int_equal(cf_seal_seal(seal, buf, 1, buf, CF_SEAL_MAX_AAD + 1, &blob, &len),
                     CF_ERR_TOOBIG);
    assert_int_equal(cf_seal_seal_text(seal, buf, CF_SEAL_MAX_PLAIN + 1, NULL, 0, &text),
                     CF_ERR_TOOBIG);
    assert_null(text);
    cf_test_seal_seal(seal, "v", NULL, &blob, &len);
    assert_int_equal(
        cf_seal_open(seal, blob, len, buf, CF_SEAL_MAX_AAD + 1, &plain, &plain_len, NULL),
        CF_ERR_TOOBIG);
    assert_null(plain);
    cf_mem_free(blob);
    memcpy(buf, "cfs\x01\x02k1", 7); /* a valid header on an oversize blob */
    assert_int_equal(
        cf_seal_open(seal, buf, CF_SEAL_MAX_BLOB + 1, NULL, 0, &plain, &plain_len, NULL),
        CF_ERR_TOOBIG);
    assert_int_equal(cf_seal_check(seal, buf, CF_SEAL_MAX_BLOB + 1, NULL), CF_ERR_TOOBIG);
    memcpy(buf, CF_SEAL_TEXT_PREFIX, strlen(CF_SEAL_TEXT_PREFIX));
    assert_int_equal(
        cf_seal_open_text(seal, (const char *) buf, big, NULL, 0, &plain, &plain_len, NULL),
        CF_ERR_TOOBIG);
    assert_int_equal(cf_seal_verify_canary(seal, (const char *) buf, big, NULL), CF_ERR_TOOBIG);
    free(buf);
    cf_seal_destroy(&seal);
}

static void test_aad_mismatch(void **state)
{
    (void) state;
    cf_seal_t *seal = cf_test_seal_ring1("k1", 0x11);
    unsigned char *blob = NULL;
    size_t len = 0;
    cf_test_seal_seal(seal, "key bytes", "cf:key:server:srv1", &blob, &len);
    cf_test_seal_expect_open(seal, blob, len, "cf:key:server:srv1", CF_OK, "key bytes");
    cf_test_seal_expect_open(seal, blob, len, "cf:key:server:srv2", CF_ERR_CORRUPT, NULL);
    cf_test_seal_expect_open(seal, blob, len, "cf:key:server:srv", CF_ERR_CORRUPT, NULL);
    cf_test_seal_expect_open(seal, blob, len, NULL, CF_ERR_CORRUPT, NULL);
    cf_mem_free(blob);
    cf_test_seal_seal(seal, "key bytes", NULL, &blob, &len);
    cf_test_seal_expect_open(seal, blob, len, "x", CF_ERR_CORRUPT, NULL);
    cf_test_seal_expect_open(seal, blob, len, NULL, CF_OK, "key bytes");
    cf_why_t why = {""};
    unsigned char *plain = NULL;
    size_t plain_len = 0;
    assert_int_equal(
        cf_seal_open(seal, blob, len, (const unsigned char *) "x", 1, &plain, &plain_len, &why),
        CF_ERR_CORRUPT);
    assert_non_null(strstr(why.text, "does not authenticate under key id 'k1'"));
    cf_mem_free(blob);
    cf_seal_destroy(&seal);
}

static void test_every_byte_flip_refused(void **state)
{
    (void) state;
    cf_seal_t *seal = cf_test_seal_ring1("ka", 0x11);
    unsigned char *blob = NULL;
    size_t len = 0;
    cf_test_seal_seal(seal, "private key", CF_TEST_SEAL_CTX, &blob, &len);
    size_t hdr_len = 5 + 2;
    static const unsigned char flips[] = {0x01, 0x80, 0xff};
    for (size_t i = 0; i < len; i++) {
        for (size_t f = 0; f < sizeof(flips); f++) {
            blob[i] ^= flips[f];
            unsigned char *plain = NULL;
            size_t plain_len = 0;
            cf_err_t rc = cf_seal_open(seal, blob, len, (const unsigned char *) CF_TEST_SEAL_CTX,
                                       CF_TEST_SEAL_CTX_LEN, &plain, &plain_len, NULL);
            if (i >= hdr_len)
                assert_int_equal(rc, CF_ERR_CORRUPT);
            else
                assert_true(rc == CF_ERR_CORRUPT || rc == CF_ERR_SECRET ||
                            rc == CF_ERR_UNSUPPORTED);
            assert_null(plain);
            blob[i] ^= flips[f];
        }
    }
    cf_test_seal_expect_open(seal, blob, len, CF_TEST_SEAL_CTX, CF_OK,
                             "private key"); /* restored */
    cf_mem_free(blob);
    /* The text form: every character replaced is refused too. */
    char *text = NULL;
    assert_int_equal(cf_seal_seal_text(seal, (const unsigned char *) "pk", 2, NULL, 0, &text),
                     CF_OK);
    size_t text_len = strlen(text);
    for (size_t i = 0; i < text_len; i++) {
        char keep = text[i];
        text[i] = keep == 'A' ? 'B' : 'A';
        unsigned char *plain = NULL;
        size_t plain_len = 0;
        assert_int_not_equal(
            cf_seal_open_text(seal, text, text_len, NULL, 0, &plain, &plain_len, NULL), CF_OK);
        assert_null(plain);
        text[i] = keep;
    }
    cf_mem_free(text);
    cf_seal_destroy(&seal);
}

static void test_truncation_refused(void **state)
{
    (void) state;
    cf_seal_t *seal = cf_test_seal_ring1("k1", 0x11);
    unsigned char *blob = NULL;
    size_t len = 0;
    cf_test_seal_seal(seal, "0123456789", CF_TEST_SEAL_CTX, &blob, &len);
    for (size_t cut = 0; cut < len; cut++)
        cf_test_seal_expect_open(seal, blob, cut, CF_TEST_SEAL_CTX, CF_ERR_CORRUPT, NULL);
    unsigned char *longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, blob, len);
    longer[len] = 0;
    cf_test_seal_expect_open(seal, longer, len + 1, CF_TEST_SEAL_CTX, CF_ERR_CORRUPT, NULL);
    free(longer);
    char *text = NULL;
    assert_int_equal(cf_seal_seal_text(seal, (const unsigned char *) "v", 1, NULL, 0, &text),
                     CF_OK);
    for (size_t cut = 0; cut < strlen(text); cut++) {
        unsigned char *plain = NULL;
        size_t plain_len = 0;
        assert_int_equal(cf_seal_open_text(seal, text, cut, NULL, 0, &plain, &plain_len, NULL),
                         CF_ERR_CORRUPT);
    }
    cf_mem_free(text);
    cf_mem_free(blob);
    cf_seal_destroy(&seal);
}

static void test_unknown_key_id(void **state)
{
    (void) state;
    cf_seal_t *a = cf_test_seal_ring1("alpha", 0x11);
    cf_seal_t *b = cf_test_seal_ring1("beta", 0x11); /* same bytes, other id: still refused by id */
    unsigned char *blob = NULL;
    size_t len = 0;
    cf_test_seal_seal(a, "v", NULL, &blob, &len);
    cf_why_t why = {""};
    unsigned char *plain = NULL;
    size_t plain_len = 0;
    assert_int_equal(cf_seal_open(b, blob, len, NULL, 0, &plain, &plain_len, &why), CF_ERR_SECRET);
    assert_null(plain);
    assert_non_null(strstr(why.text, "'alpha'"));
    assert_non_null(strstr(why.text, "holds: beta"));
    assert_int_equal(cf_seal_check(b, blob, len, &why), CF_ERR_SECRET);
    assert_int_equal(cf_seal_check(a, blob, len, &why), CF_OK);
    char id[CF_SEAL_ID_MAX + 1];
    assert_int_equal(cf_seal_blob_id(blob, len, id, NULL), CF_OK);
    assert_string_equal(id, "alpha");
    assert_int_equal(cf_seal_has_id(a, "alpha"), 1);
    assert_int_equal(cf_seal_has_id(b, "alpha"), 0);
    cf_mem_free(blob);
    cf_seal_destroy(&a);
    cf_seal_destroy(&b);
}

static void test_rotation(void **state)
{
    (void) state;
    char l1[200], l2[200], both[500];
    cf_test_seal_line(l1, sizeof(l1), "k1", 0x11, CF_SEAL_KEY_LEN);
    cf_test_seal_line(l2, sizeof(l2), "k2", 0x22, CF_SEAL_KEY_LEN);
    cf_seal_t *old = cf_test_seal_ring(l1);
    snprintf(both, sizeof(both), "# rotated\n%s%s", l2, l1);
    cf_seal_t *rotated = cf_test_seal_ring(both);
    assert_int_equal(cf_seal_key_count(rotated), 2);
    assert_string_equal(cf_seal_current_id(rotated), "k2");
    unsigned char *old_blob = NULL, *new_blob = NULL;
    size_t old_len = 0, new_len = 0;
    cf_test_seal_seal(old, "sealed before", CF_TEST_SEAL_CTX, &old_blob, &old_len);
    cf_test_seal_expect_open(rotated, old_blob, old_len, CF_TEST_SEAL_CTX, CF_OK, "sealed before");
    cf_test_seal_seal(rotated, "sealed after", CF_TEST_SEAL_CTX, &new_blob, &new_len);
    char id[CF_SEAL_ID_MAX + 1];
    assert_int_equal(cf_seal_blob_id(new_blob, new_len, id, NULL), CF_OK);
    assert_string_equal(id, "k2");
    cf_test_seal_expect_open(old, new_blob, new_len, CF_TEST_SEAL_CTX, CF_ERR_SECRET, NULL);
    /* A canary made before the rotation still verifies while k1 stays in the file. */
    char *canary = NULL;
    assert_int_equal(cf_seal_make_canary(old, &canary), CF_OK);
    assert_int_equal(cf_seal_verify_canary(rotated, canary, strlen(canary), NULL), CF_OK);
    cf_mem_free(canary);
    cf_mem_free(old_blob);
    cf_mem_free(new_blob);
    cf_seal_destroy(&old);
    cf_seal_destroy(&rotated);
}

static void test_check_and_blob_id(void **state)
{
    (void) state;
    cf_seal_t *seal = cf_test_seal_ring1("k1", 0x11);
    cf_why_t why = {""};
    char id[CF_SEAL_ID_MAX + 1];
    static const unsigned char v2[] = "cfs\x02\x02k1";
    assert_int_equal(cf_seal_blob_id(v2, sizeof(v2) - 1, id, &why), CF_ERR_UNSUPPORTED);
    assert_non_null(strstr(why.text, "version 2"));
    assert_int_equal(cf_seal_check(seal, v2, sizeof(v2) - 1, &why), CF_ERR_UNSUPPORTED);
    static const unsigned char hdr_only[] = "cfs\x01\x02k1";
    assert_int_equal(cf_seal_blob_id(hdr_only, sizeof(hdr_only) - 1, id, &why), CF_OK);
    assert_int_equal(cf_seal_check(seal, hdr_only, sizeof(hdr_only) - 1, &why), CF_ERR_CORRUPT);
    static const unsigned char badlen[] = "cfs\x01\x21k1";
    assert_int_equal(cf_seal_blob_id(badlen, sizeof(badlen) - 1, id, &why), CF_ERR_CORRUPT);
    assert_string_equal(id, "");
    assert_int_equal(cf_seal_check(seal, (const unsigned char *) "nope", 4, &why), CF_ERR_CORRUPT);
    assert_int_equal(cf_seal_check(seal, (const unsigned char *) "cfseal1:@@@@", 12, &why),
                     CF_ERR_CORRUPT);
    cf_seal_destroy(&seal);
}

static void test_bad_arguments(void **state)
{
    (void) state;
    cf_seal_t *seal = cf_test_seal_ring1("k1", 0x11);
    unsigned char *out = NULL;
    size_t len = 0;
    char *text = NULL;
    char id[CF_SEAL_ID_MAX + 1];
    assert_int_equal(cf_seal_from_buffer("x", 1, NULL, NULL), CF_ERR_INVALID);
    cf_seal_t *none = NULL;
    assert_int_equal(cf_seal_from_buffer(NULL, 3, &none, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_seal_load_file(NULL, 0, &none, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_seal_generate_file(NULL, "k", NULL), CF_ERR_INVALID);
    assert_int_equal(cf_seal_seal(NULL, NULL, 0, NULL, 0, &out, &len), CF_ERR_INVALID);
    assert_int_equal(cf_seal_seal(seal, NULL, 3, NULL, 0, &out, &len), CF_ERR_INVALID);
    assert_int_equal(cf_seal_seal(seal, NULL, 0, NULL, 3, &out, &len), CF_ERR_INVALID);
    assert_int_equal(cf_seal_seal(seal, NULL, 0, NULL, 0, NULL, &len), CF_ERR_INVALID);
    assert_int_equal(cf_seal_open(seal, NULL, 3, NULL, 0, &out, &len, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_seal_open(seal, NULL, 0, NULL, 0, NULL, &len, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_seal_open(seal, NULL, 0, NULL, 0, &out, &len, NULL), CF_ERR_CORRUPT);
    assert_int_equal(cf_seal_seal_text(seal, NULL, 0, NULL, 0, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_seal_open_text(seal, NULL, 4, NULL, 0, &out, &len, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_seal_open_text(NULL, "x", 1, NULL, 0, &out, &len, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_seal_blob_id(NULL, 0, NULL, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_seal_blob_id(NULL, 2, id, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_seal_check(NULL, NULL, 0, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_seal_make_canary(seal, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_seal_verify_canary(NULL, "x", 1, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_seal_has_id(NULL, "k1"), 0);
    assert_int_equal(cf_seal_has_id(seal, NULL), 0);
    assert_int_equal(cf_seal_key_count(NULL), 0);
    assert_null(out);
    assert_null(text);
    cf_seal_destroy(&seal);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_private_key_round_trip),
        cmocka_unit_test(test_size_caps),
        cmocka_unit_test(test_aad_mismatch),
        cmocka_unit_test(test_every_byte_flip_refused),
        cmocka_unit_test(test_truncation_refused),
        cmocka_unit_test(test_unknown_key_id),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_check_and_blob_id),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
