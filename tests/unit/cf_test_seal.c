/*  cf_test_seal - what the seal unit tests share: secret-file lines, key rings, seal and open  */
#include "cf_test_seal.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cf_mem.h"
#include "cf_test.h"

const char *cf_test_seal_line(char *buf, size_t buflen, const char *id, unsigned char fill,
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

cf_seal_t *cf_test_seal_ring(const char *text)
{
    cf_seal_t *seal = NULL;
    cf_why_t why = {""};
    cf_err_t rc = cf_seal_from_buffer(text, strlen(text), &seal, &why);
    if (rc != CF_OK)
        fail_msg("secret refused: %s", cf_why_text(&why, rc));
    return seal;
}

cf_seal_t *cf_test_seal_ring1(const char *id, unsigned char fill)
{
    char line[200];
    return cf_test_seal_ring(cf_test_seal_line(line, sizeof(line), id, fill, CF_SEAL_KEY_LEN));
}

void cf_test_seal_seal(const cf_seal_t *seal, const char *plain, const char *ctx,
                       unsigned char **blob, size_t *len)
{
    size_t ctx_len = ctx ? strlen(ctx) : 0;
    assert_int_equal(cf_seal_seal(seal, (const unsigned char *) plain, strlen(plain),
                                  (const unsigned char *) ctx, ctx_len, blob, len),
                     CF_OK);
}

void cf_test_seal_expect_open(const cf_seal_t *seal, const unsigned char *blob, size_t len,
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
