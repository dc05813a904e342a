/*  test_seal - sealing keys at rest: secret files, blobs, rotation, canary  */
#include "cf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cf_key.h"
#include "cf_mem.h"
#include "cf_seal.h"

#define CTX     "cf:key:server:srv1"
#define CTX_LEN (sizeof(CTX) - 1)

/* A key line for id whose key is key_len bytes of fill (key_len 32 for a good key). */
static const char *s_line(char *buf, size_t buflen, const char *id, unsigned char fill,
                          size_t key_len)
{
    unsigned char key[64];
    char b64[128];
    assert_true(key_len <= sizeof(key));
    memset(key, fill, key_len);
    sodium_bin2base64(b64, sizeof(b64), key, key_len, sodium_base64_VARIANT_ORIGINAL);
    snprintf(buf, buflen, "certfleet-secret-v1 %s %s\n", id, b64);
    return buf;
}

static cf_seal_t *s_ring(const char *text)
{
    cf_seal_t *seal = NULL;
    cf_why_t why = {""};
    cf_err_t rc = cf_seal_from_buffer(text, strlen(text), &seal, &why);
    if (rc != CF_OK)
        fail_msg("secret refused: %s", cf_why_text(&why, rc));
    return seal;
}

static cf_seal_t *s_ring1(const char *id, unsigned char fill)
{
    char line[200];
    return s_ring(s_line(line, sizeof(line), id, fill, CF_SEAL_KEY_LEN));
}

static void s_seal(const cf_seal_t *seal, const char *plain, const char *ctx, unsigned char **blob,
                   size_t *len)
{
    size_t ctx_len = ctx ? strlen(ctx) : 0;
    assert_int_equal(cf_seal_seal(seal, (const unsigned char *) plain, strlen(plain),
                                  (const unsigned char *) ctx, ctx_len, blob, len),
                     CF_OK);
}

/* Open and expect rc; on CF_OK the plaintext must equal want. */
static void s_expect_open(const cf_seal_t *seal, const unsigned char *blob, size_t len,
                          const char *ctx, cf_err_t rc, const char *want)
{
    unsigned char *plain = (unsigned char *) 0x1;
    size_t plain_len = 99;
    cf_why_t why = {""};
    size_t ctx_len = ctx ? strlen(ctx) : 0;
    cf_err_t got = cf_seal_open(seal, blob, len, (const unsigned char *) ctx, ctx_len, &plain,
                                &plain_len, &why);
    if (got != rc)
        fail_msg("open gave %s (%s), expected %s", cf_err_name(got), cf_why_text(&why, got),
                 cf_err_name(rc));
    if (rc != CF_OK) {
        assert_null(plain);
        assert_int_equal(plain_len, 0);
        assert_true(why.text[0] != '\0');
        return;
    }
    assert_int_equal(plain_len, strlen(want));
    assert_memory_equal(plain, want, plain_len);
    cf_mem_free_secret(plain, plain_len);
}

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
                                       (const unsigned char *) CTX, CTX_LEN, &text),
                     CF_OK);
    assert_memory_equal(text, CF_SEAL_TEXT_PREFIX, strlen(CF_SEAL_TEXT_PREFIX));
    assert_null(strstr(text, "PRIVATE"));
    unsigned char *plain = NULL;
    size_t len = 0;
    assert_int_equal(cf_seal_open_text(seal, text, strlen(text), (const unsigned char *) CTX,
                                       CTX_LEN, &plain, &len, &why),
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
    cf_seal_t *seal = s_ring1("k1", 0x11);
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
    s_seal(seal, "same", CTX, &a, &a_len);
    s_seal(seal, "same", CTX, &b, &b_len);
    assert_int_equal(a_len, b_len);
    assert_memory_not_equal(a, b, a_len);
    s_expect_open(seal, b, b_len, CTX, CF_OK, "same");
    cf_mem_free(a);
    cf_mem_free(b);
    free(plain);
    cf_seal_destroy(&seal);
}

/* What the store does with a private key: PKCS#8 DER, sealed to its record, and back. */
static void test_private_key_round_trip(void **state)
{
    (void) state;
    cf_seal_t *seal = s_ring1("k1", 0x11);
    cf_key_t *key = NULL, *back = NULL;
    unsigned char *der = NULL, *blob = NULL, *plain = NULL, *pub1 = NULL, *pub2 = NULL;
    size_t der_len = 0, blob_len = 0, plain_len = 0, pub1_len = 0, pub2_len = 0;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &key), CF_OK);
    assert_int_equal(cf_key_to_der(key, &der, &der_len), CF_OK);
    assert_int_equal(
        cf_seal_seal(seal, der, der_len, (const unsigned char *) CTX, CTX_LEN, &blob, &blob_len),
        CF_OK);
    cf_mem_free_secret(der, der_len);
    assert_int_equal(cf_seal_open(seal, blob, blob_len, (const unsigned char *) CTX, CTX_LEN,
                                  &plain, &plain_len, NULL),
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
    cf_seal_t *seal = s_ring1("k1", 0x11);
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
    s_seal(seal, "v", NULL, &blob, &len);
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
    cf_seal_t *seal = s_ring1("k1", 0x11);
    unsigned char *blob = NULL;
    size_t len = 0;
    s_seal(seal, "key bytes", "cf:key:server:srv1", &blob, &len);
    s_expect_open(seal, blob, len, "cf:key:server:srv1", CF_OK, "key bytes");
    s_expect_open(seal, blob, len, "cf:key:server:srv2", CF_ERR_CORRUPT, NULL);
    s_expect_open(seal, blob, len, "cf:key:server:srv", CF_ERR_CORRUPT, NULL);
    s_expect_open(seal, blob, len, NULL, CF_ERR_CORRUPT, NULL);
    cf_mem_free(blob);
    s_seal(seal, "key bytes", NULL, &blob, &len);
    s_expect_open(seal, blob, len, "x", CF_ERR_CORRUPT, NULL);
    s_expect_open(seal, blob, len, NULL, CF_OK, "key bytes");
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
    cf_seal_t *seal = s_ring1("ka", 0x11);
    unsigned char *blob = NULL;
    size_t len = 0;
    s_seal(seal, "private key", CTX, &blob, &len);
    size_t hdr_len = 5 + 2;
    static const unsigned char flips[] = {0x01, 0x80, 0xff};
    for (size_t i = 0; i < len; i++) {
        for (size_t f = 0; f < sizeof(flips); f++) {
            blob[i] ^= flips[f];
            unsigned char *plain = NULL;
            size_t plain_len = 0;
            cf_err_t rc = cf_seal_open(seal, blob, len, (const unsigned char *) CTX, CTX_LEN,
                                       &plain, &plain_len, NULL);
            if (i >= hdr_len)
                assert_int_equal(rc, CF_ERR_CORRUPT);
            else
                assert_true(rc == CF_ERR_CORRUPT || rc == CF_ERR_SECRET ||
                            rc == CF_ERR_UNSUPPORTED);
            assert_null(plain);
            blob[i] ^= flips[f];
        }
    }
    s_expect_open(seal, blob, len, CTX, CF_OK, "private key"); /* restored */
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
    cf_seal_t *seal = s_ring1("k1", 0x11);
    unsigned char *blob = NULL;
    size_t len = 0;
    s_seal(seal, "0123456789", CTX, &blob, &len);
    for (size_t cut = 0; cut < len; cut++)
        s_expect_open(seal, blob, cut, CTX, CF_ERR_CORRUPT, NULL);
    unsigned char *longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, blob, len);
    longer[len] = 0;
    s_expect_open(seal, longer, len + 1, CTX, CF_ERR_CORRUPT, NULL);
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
    cf_seal_t *a = s_ring1("alpha", 0x11);
    cf_seal_t *b = s_ring1("beta", 0x11); /* same bytes, other id: still refused by id */
    unsigned char *blob = NULL;
    size_t len = 0;
    s_seal(a, "v", NULL, &blob, &len);
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
    s_line(l1, sizeof(l1), "k1", 0x11, CF_SEAL_KEY_LEN);
    s_line(l2, sizeof(l2), "k2", 0x22, CF_SEAL_KEY_LEN);
    cf_seal_t *old = s_ring(l1);
    snprintf(both, sizeof(both), "# rotated\n%s%s", l2, l1);
    cf_seal_t *rotated = s_ring(both);
    assert_int_equal(cf_seal_key_count(rotated), 2);
    assert_string_equal(cf_seal_current_id(rotated), "k2");
    unsigned char *old_blob = NULL, *new_blob = NULL;
    size_t old_len = 0, new_len = 0;
    s_seal(old, "sealed before", CTX, &old_blob, &old_len);
    s_expect_open(rotated, old_blob, old_len, CTX, CF_OK, "sealed before");
    s_seal(rotated, "sealed after", CTX, &new_blob, &new_len);
    char id[CF_SEAL_ID_MAX + 1];
    assert_int_equal(cf_seal_blob_id(new_blob, new_len, id, NULL), CF_OK);
    assert_string_equal(id, "k2");
    s_expect_open(old, new_blob, new_len, CTX, CF_ERR_SECRET, NULL);
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

static void test_file_syntax(void **state)
{
    (void) state;
    char l1[200], l2[200], text[700];
    s_line(l1, sizeof(l1), "k-1", 0x11, CF_SEAL_KEY_LEN);
    s_line(l2, sizeof(l2), "0123456789abcdefghijklmnopqrstuv", 0x22, CF_SEAL_KEY_LEN);
    l1[strlen(l1) - 1] = '\0';
    l2[strlen(l2) - 1] = '\0';
    /* Comments, blank lines, CRLF, tabs, indentation, no final newline. */
    snprintf(text, sizeof(text), "# secret\r\n\r\n  \t\n   %s\r\n\t# old key:\n%s", l1, l2);
    cf_seal_t *seal = s_ring(text);
    assert_int_equal(cf_seal_key_count(seal), 2);
    assert_string_equal(cf_seal_current_id(seal), "k-1");
    assert_int_equal(cf_seal_has_id(seal, "0123456789abcdefghijklmnopqrstuv"), 1);
    assert_int_equal(cf_seal_has_id(seal, "k"), 0);
    cf_seal_destroy(&seal);
}

struct s_bad {
    const char *text; /* secret file contents */
    size_t len;       /* 0: strlen(text) */
    cf_err_t rc;      /* expected refusal */
    const char *why;  /* expected in the why */
};

static void test_malformed_secret_refused(void **state)
{
    (void) state;
    char good[200], good2[200], k16[200], k33[200], zero[200], dup[500], extra[300], badid[300],
        longid[300], v2[300], nul[300];
    s_line(good, sizeof(good), "k1", 0x11, CF_SEAL_KEY_LEN);
    s_line(good2, sizeof(good2), "k1", 0x22, CF_SEAL_KEY_LEN);
    s_line(k16, sizeof(k16), "k1", 0x11, 16);
    s_line(k33, sizeof(k33), "k1", 0x11, 33);
    s_line(zero, sizeof(zero), "k1", 0x00, CF_SEAL_KEY_LEN);
    snprintf(dup, sizeof(dup), "%s%s", good, good2);
    snprintf(extra, sizeof(extra), "%.*s # note\n", (int) strlen(good) - 1, good);
    snprintf(badid, sizeof(badid), "certfleet-secret-v1 K1 %s", strrchr(good, ' ') + 1);
    snprintf(longid, sizeof(longid), "certfleet-secret-v1 %s %s",
             "0123456789abcdefghijklmnopqrstuvw", strrchr(good, ' ') + 1);
    snprintf(v2, sizeof(v2), "certfleet-secret-v2 k1 %s", strrchr(good, ' ') + 1);
    snprintf(nul, sizeof(nul), "# x\n%s", good);
    nul[2] = '\0';
    char a200[201], a42[45], b64junk[300], noncanon[300];
    memset(a200, 'A', 200);
    a200[200] = '\0';
    memcpy(a42, a200, 42);
    memcpy(a42 + 42, "B=", 3); /* 32 bytes whose unused final bits are not zero */
    snprintf(b64junk, sizeof(b64junk), "certfleet-secret-v1 k1 %s\n", a200);
    snprintf(noncanon, sizeof(noncanon), "certfleet-secret-v1 k1 %s\n", a42);
    const struct s_bad bad[] = {
        {"", 0, CF_ERR_SECRET, "holds no key"},
        {"# only a comment\n\n", 0, CF_ERR_SECRET, "holds no key"},
        {"certfleet-secret-v1 k1 !!!!notbase64!!!!notbase64!!!!notbase64!!!!=\n", 0, CF_ERR_SECRET,
         "line 1: key 'k1' is not valid base64"},
        {noncanon, 0, CF_ERR_SECRET, "not valid base64"},
        {k16, 0, CF_ERR_SECRET, "line 1: key 'k1' is 16 bytes, expected 32"},
        {k33, 0, CF_ERR_SECRET, "is 33 bytes, expected 32"},
        {zero, 0, CF_ERR_SECRET, "all zeros"},
        {b64junk, 0, CF_ERR_SECRET, "too long"},
        {badid, 0, CF_ERR_SECRET, "line 1: a key id is 1 to 32 characters"},
        {longid, 0, CF_ERR_SECRET, "a key id"},
        {v2, 0, CF_ERR_SECRET, "expected \"certfleet-secret-v1 <key-id> <base64 key>\""},
        {"certfleet-secret-v1 k1\n", 0, CF_ERR_SECRET, "line 1: expected"},
        {extra, 0, CF_ERR_SECRET, "line 1: expected"},
        {dup, 0, CF_ERR_SECRET, "line 2: key id 'k1' appears twice"},
        {nul, strlen(good) + 4, CF_ERR_SECRET, "NUL byte"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cf_seal_t *seal = (cf_seal_t *) 0x1;
        cf_why_t why = {""};
        size_t len = bad[i].len ? bad[i].len : strlen(bad[i].text);
        cf_err_t rc = cf_seal_from_buffer(bad[i].text, len, &seal, &why);
        if (rc != bad[i].rc || !strstr(why.text, bad[i].why))
            fail_msg("case %zu: got %s \"%s\", expected %s \"%s\"", i, cf_err_name(rc), why.text,
                     cf_err_name(bad[i].rc), bad[i].why);
        assert_null(seal);
        assert_null(strstr(why.text, strrchr(good, ' ') + 1)); /* never the key itself */
    }
}

static void test_secret_caps(void **state)
{
    (void) state;
    char line[200];
    char *text = calloc(1, CF_SEAL_MAX_FILE + 2); /* 65 key lines take about 4 KiB */
    assert_non_null(text);
    size_t at_cap = 0;
    for (int i = 0; i <= CF_SEAL_MAX_KEYS; i++) { /* one key more than the cap */
        char id[16];
        at_cap = strlen(text);
        snprintf(id, sizeof(id), "k%d", i);
        strcat(text, s_line(line, sizeof(line), id, (unsigned char) (i + 1), CF_SEAL_KEY_LEN));
    }
    cf_seal_t *seal = NULL;
    cf_why_t why = {""};
    assert_int_equal(cf_seal_from_buffer(text, strlen(text), &seal, &why), CF_ERR_TOOBIG);
    assert_non_null(strstr(why.text, "more than 64 keys"));
    text[at_cap] = '\0'; /* exactly the cap */
    assert_int_equal(cf_seal_from_buffer(text, strlen(text), &seal, &why), CF_OK);
    assert_int_equal(cf_seal_key_count(seal), CF_SEAL_MAX_KEYS);
    cf_seal_destroy(&seal);
    memset(text, '#', CF_SEAL_MAX_FILE + 1);
    text[CF_SEAL_MAX_FILE + 1] = '\0';
    assert_int_equal(cf_seal_from_buffer(text, CF_SEAL_MAX_FILE + 1, &seal, &why), CF_ERR_TOOBIG);
    char dir[512], path[600];
    cf_test_tmpdir("seal_caps", dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/big", dir);
    cf_test_write_file(path, text, CF_SEAL_MAX_FILE + 1);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(cf_seal_load_file(path, 0, &seal, &why), CF_ERR_TOOBIG);
    assert_non_null(strstr(why.text, "larger than"));
    assert_null(seal);
    free(text);
}

static void test_file_permissions(void **state)
{
    (void) state;
    char dir[512], path[600], line[200];
    cf_test_tmpdir("seal_perms", dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/secret", dir);
    s_line(line, sizeof(line), "k1", 0x11, CF_SEAL_KEY_LEN);
    cf_test_write_file(path, line, strlen(line));
    cf_seal_t *seal = NULL;
    cf_why_t why = {""};
    static const mode_t loose[] = {0644, 0640, 0604, 0620, 0602, 0660};
    for (size_t i = 0; i < sizeof(loose) / sizeof(loose[0]); i++) {
        assert_int_equal(chmod(path, loose[i]), 0);
        assert_int_equal(cf_seal_load_file(path, 0, &seal, &why), CF_ERR_SECRET);
        assert_null(seal);
        assert_non_null(strstr(why.text, "chmod 600"));
    }
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(cf_seal_load_file(path, 0, &seal, &why), CF_ERR_SECRET);
    assert_non_null(strstr(why.text, "mode 0644"));
    assert_int_equal(cf_seal_load_file(path, CF_SEAL_ALLOW_LOOSE_PERMS, &seal, &why), CF_OK);
    cf_seal_destroy(&seal);
    static const mode_t tight[] = {0600, 0400};
    for (size_t i = 0; i < sizeof(tight) / sizeof(tight[0]); i++) {
        assert_int_equal(chmod(path, tight[i]), 0);
        assert_int_equal(cf_seal_load_file(path, 0, &seal, &why), CF_OK);
        assert_string_equal(cf_seal_current_id(seal), "k1");
        cf_seal_destroy(&seal);
    }
    assert_int_equal(cf_seal_load_file(dir, CF_SEAL_ALLOW_LOOSE_PERMS, &seal, &why), CF_ERR_SECRET);
    assert_non_null(strstr(why.text, "not a regular file"));
    snprintf(path, sizeof(path), "%s/missing", dir);
    assert_int_equal(cf_seal_load_file(path, 0, &seal, &why), CF_ERR_NOTFOUND);
    assert_non_null(strstr(why.text, path));
    assert_null(seal);
}

static void test_generate_file(void **state)
{
    (void) state;
    char dir[512], a[600], b[600], link[600];
    cf_test_tmpdir("seal_gen", dir, sizeof(dir));
    snprintf(a, sizeof(a), "%s/a", dir);
    snprintf(b, sizeof(b), "%s/b", dir);
    snprintf(link, sizeof(link), "%s/link", dir);
    cf_why_t why = {""};
    assert_int_equal(cf_seal_generate_file(a, "main", &why), CF_OK);
    struct stat st;
    assert_int_equal(stat(a, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    size_t before_len = 0, after_len = 0;
    char *before = cf_test_read_file(a, &before_len);
    assert_int_equal(cf_seal_generate_file(a, "main", &why), CF_ERR_EXISTS);
    assert_non_null(strstr(why.text, a));
    char *after = cf_test_read_file(a, &after_len);
    assert_int_equal(before_len, after_len);
    assert_memory_equal(before, after, before_len); /* untouched */
    assert_int_equal(symlink(b, link), 0);          /* dangling: still never followed */
    assert_int_equal(cf_seal_generate_file(link, "main", &why), CF_ERR_EXISTS);
    assert_int_equal(access(b, F_OK), -1);
    assert_int_equal(cf_seal_generate_file(b, "Main", &why), CF_ERR_INVALID);
    assert_int_equal(cf_seal_generate_file(b, "", &why), CF_ERR_INVALID);
    assert_int_equal(access(b, F_OK), -1);
    snprintf(link, sizeof(link), "%s/no/such/dir/secret", dir);
    assert_int_equal(cf_seal_generate_file(link, "main", &why), CF_ERR_IO);
    /* Two generated files: same id, different key bytes. */
    assert_int_equal(cf_seal_generate_file(b, "main", &why), CF_OK);
    cf_seal_t *sa = NULL, *sb = NULL;
    assert_int_equal(cf_seal_load_file(a, 0, &sa, &why), CF_OK);
    assert_int_equal(cf_seal_load_file(b, 0, &sb, &why), CF_OK);
    unsigned char *blob = NULL;
    size_t len = 0;
    s_seal(sa, "v", NULL, &blob, &len);
    s_expect_open(sb, blob, len, NULL, CF_ERR_CORRUPT, NULL);
    s_expect_open(sa, blob, len, NULL, CF_OK, "v");
    cf_mem_free(blob);
    free(before);
    free(after);
    cf_seal_destroy(&sa);
    cf_seal_destroy(&sb);
}

static void test_canary(void **state)
{
    (void) state;
    cf_seal_t *mine = s_ring1("main", 0x11);
    cf_seal_t *other = s_ring1("main", 0x22); /* same id, other bytes */
    cf_seal_t *stranger = s_ring1("prod", 0x11);
    char *canary = NULL;
    assert_int_equal(cf_seal_make_canary(mine, &canary), CF_OK);
    size_t len = strlen(canary);
    cf_why_t why = {""};
    assert_int_equal(cf_seal_verify_canary(mine, canary, len, &why), CF_OK);
    /* The id check alone passes; the canary is what catches the other secret. */
    assert_int_equal(cf_seal_check(other, (const unsigned char *) canary, len, &why), CF_OK);
    assert_int_equal(cf_seal_verify_canary(other, canary, len, &why), CF_ERR_SECRET);
    assert_non_null(strstr(why.text, "key 'main' does not open the store's canary"));
    assert_int_equal(cf_seal_verify_canary(stranger, canary, len, &why), CF_ERR_SECRET);
    assert_non_null(strstr(why.text, "'main'"));
    assert_int_equal(cf_seal_verify_canary(mine, "hello", 5, &why), CF_ERR_CORRUPT);
    assert_int_equal(cf_seal_verify_canary(mine, canary, len - 4, &why), CF_ERR_CORRUPT);
    /* A sealed value that is not the canary does not pass as one. */
    char *text = NULL;
    assert_int_equal(cf_seal_seal_text(mine, (const unsigned char *) "certfleet seal canary v1", 24,
                                       NULL, 0, &text),
                     CF_OK);
    assert_int_not_equal(cf_seal_verify_canary(mine, text, strlen(text), &why), CF_OK);
    cf_mem_free(text);
    cf_mem_free(canary);
    cf_seal_destroy(&mine);
    cf_seal_destroy(&other);
    cf_seal_destroy(&stranger);
}

static void test_check_and_blob_id(void **state)
{
    (void) state;
    cf_seal_t *seal = s_ring1("k1", 0x11);
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
    cf_seal_t *seal = s_ring1("k1", 0x11);
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

/* Fail allocation 0, 1, 2, ... of one call until it succeeds; each failure must be a clean
   CF_ERR_NOMEM with the outputs NULL (ASan checks nothing leaks). */
static void test_allocation_failures(void **state)
{
    (void) state;
    char line[200], dir[512], path[600];
    s_line(line, sizeof(line), "k1", 0x11, CF_SEAL_KEY_LEN);
    cf_test_tmpdir("seal_alloc", dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/secret", dir);
    cf_test_write_file(path, line, strlen(line));
    assert_int_equal(chmod(path, 0600), 0);
    cf_seal_t *seal = s_ring(line);
    unsigned char *blob = NULL;
    size_t blob_len = 0;
    char *text = NULL;
    s_seal(seal, "secret value", CTX, &blob, &blob_len);
    assert_int_equal(cf_seal_seal_text(seal, (const unsigned char *) "v", 1, NULL, 0, &text),
                     CF_OK);
    for (int which = 0; which < 5; which++) {
        long n = 0;
        for (;; n++) {
            cf_seal_t *ring = NULL;
            unsigned char *out = NULL;
            size_t out_len = 0;
            char *out_text = NULL;
            cf_err_t rc;
            cf_test_alloc_fail_at(n);
            switch (which) {
            case 0: rc = cf_seal_from_buffer(line, strlen(line), &ring, NULL); break;
            case 1: rc = cf_seal_load_file(path, 0, &ring, NULL); break;
            case 2:
                rc = cf_seal_open(seal, blob, blob_len, (const unsigned char *) CTX, CTX_LEN, &out,
                                  &out_len, NULL);
                break;
            case 3:
                rc = cf_seal_open_text(seal, text, strlen(text), NULL, 0, &out, &out_len, NULL);
                break;
            default:
                rc = cf_seal_seal_text(seal, (const unsigned char *) "v", 1, NULL, 0, &out_text);
                break;
            }
            long failed = cf_test_alloc_failed();
            cf_test_alloc_fail_at(-1);
            cf_seal_destroy(&ring);
            cf_mem_free_secret(out, out_len);
            cf_mem_free(out_text);
            if (!failed) {
                assert_int_equal(rc, CF_OK);
                break;
            }
            assert_int_equal(rc, CF_ERR_NOMEM);
            assert_null(ring);
            assert_null(out);
            assert_null(out_text);
        }
        assert_true(n >= 1); /* every path allocates at least once */
    }
    cf_mem_free(text);
    cf_mem_free(blob);
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
        cmocka_unit_test(test_file_syntax),
        cmocka_unit_test(test_malformed_secret_refused),
        cmocka_unit_test(test_secret_caps),
        cmocka_unit_test(test_file_permissions),
        cmocka_unit_test(test_generate_file),
        cmocka_unit_test(test_canary),
        cmocka_unit_test(test_check_and_blob_id),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
