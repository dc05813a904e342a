/*  test_auth - scrypt password strings, session tokens and the admission token bucket  */
#include "cf_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_auth.h"
#include "cf_mem.h"

/* Cheap parameters for tests that hash many times; the defaults cost ~50-100 ms. */
static const cf_auth_params_t s_cheap = {10, 1, 1};

/* RFC 7914 section 12, vectors 2 and 3, written as stored strings by Python's base64 (an
   encoder independent of the code under test) from the RFC's hex. */
#define S_RFC_V2                                                                            \
    "$scrypt$ln=10,r=8,p=16$TmFDbA$/bq+HJ00cgB4VucZDQHp/nxq18vII3gw53N2Y0s3MWIurzDZLiKjiG/" \
    "xCSedmDDaxyevuUqD7m2DYMvfoswGQA"
#define S_RFC_V3                                                                               \
    "$scrypt$ln=14,r=8,p=1$U29kaXVtQ2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofLVQy" \
    "lVYT8Pz2LUlwUkKpr55h6F3A1lHkDfzwF7RVdYhw"

static void s_hex(const char *hex, unsigned char *out, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned v = 0;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (unsigned char) v;
    }
}

static void test_usage(void **state)
{
    (void) state;
    /* a login: store the hash, check what the user types */
    char *stored = NULL;
    cf_why_t why = {""};
    assert_int_equal(cf_auth_password_hash("correct horse battery", NULL, &stored, &why), CF_OK);
    assert_non_null(strstr(stored, "$scrypt$ln=14,r=8,p=1$"));
    assert_int_equal(cf_auth_password_verify(stored, "correct horse battery"), CF_OK);
    assert_int_equal(cf_auth_password_verify(stored, "wrong horse battery"), CF_ERR_BADPASS);
    assert_int_equal(cf_auth_needs_rehash(stored), 0);
    cf_mem_free(stored);

    /* a session: the client gets the token, the server keeps its digest */
    char token[CF_AUTH_TOKEN_LEN + 1], digest[CF_AUTH_DIGEST_LEN + 1];
    assert_int_equal(cf_auth_token_new(token), CF_OK);
    assert_int_equal(strlen(token), CF_AUTH_TOKEN_LEN);
    assert_int_equal(cf_auth_token_digest(token, digest), CF_OK);
    assert_int_equal(strlen(digest), CF_AUTH_DIGEST_LEN);

    /* admission: 10 check-ins a second, bursts of 20 */
    cf_bucket_t bucket;
    int64_t wait = 0;
    assert_int_equal(cf_bucket_init(&bucket, 10.0, 20, 0), CF_OK);
    for (int i = 0; i < 20; i++)
        assert_int_equal(cf_bucket_take(&bucket, 0, &wait), 1);
    assert_int_equal(cf_bucket_take(&bucket, 0, &wait), 0);
    assert_int_equal(wait, 100); /* Retry-After: 1 s */
}

static void test_scrypt_known_answers(void **state)
{
    (void) state;
    /* vector 1 through the raw KDF: empty password and salt, N = 16 */
    unsigned char want[64], got[64];
    s_hex("77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a75"
          "3a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906",
          want, sizeof(want));
    cf_auth_params_t p1 = {4, 1, 1};
    assert_int_equal(cf_auth_scrypt("", 0, "", 0, &p1, got, sizeof(got)), CF_OK);
    assert_memory_equal(got, want, sizeof(want));
    /* vectors 2 and 3 through the stored-string path: parse, caps, KDF, compare */
    assert_int_equal(cf_auth_password_verify(S_RFC_V2, "password"), CF_OK);
    assert_int_equal(cf_auth_password_verify(S_RFC_V3, "pleaseletmein"), CF_OK);
    assert_int_equal(cf_auth_password_verify(S_RFC_V3, "pleaseletmeout"), CF_ERR_BADPASS);
    cf_auth_params_t p = {0, 0, 0};
    assert_int_equal(cf_auth_stored_params(S_RFC_V2, &p), CF_OK);
    assert_int_equal(p.ln, 10);
    assert_int_equal(p.r, 8);
    assert_int_equal(p.p, 16);
    assert_int_equal(cf_auth_needs_rehash(S_RFC_V3), 1); /* 64-byte hash, 14-byte salt */
    /* vector 4 (N = 2^20, r = 8: 1 GiB) is over our caps: refused, not computed */
    cf_auth_params_t p4 = {20, 8, 1};
    assert_int_equal(cf_auth_scrypt("pleaseletmein", 13, "SodiumChloride", 14, &p4, got, 64),
                     CF_ERR_TOOBIG);
    char v4[CF_AUTH_MAX_STORED + 1];
    snprintf(v4, sizeof(v4), "$scrypt$ln=20,r=8,p=1%s", strstr(S_RFC_V3, "$U29k"));
    assert_int_equal(cf_auth_password_verify(v4, "pleaseletmein"), CF_ERR_TOOBIG);
}

static void test_wrong_passwords(void **state)
{
    (void) state;
    char *stored = NULL;
    assert_int_equal(cf_auth_password_hash("Tr0ub4dor&3 x", &s_cheap, &stored, NULL), CF_OK);
    static const char *wrong[] = {"tr0ub4dor&3 x",
                                  "Tr0ub4dor&3 x ",
                                  "Tr0ub4dor&3 ",
                                  "Tr0ub4dor&3 X",
                                  " Tr0ub4dor&3 x",
                                  "Tr0ub4dor&3\tx",
                                  "",
                                  NULL};
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++)
        assert_int_equal(cf_auth_password_verify(stored, wrong[i]), CF_ERR_BADPASS);
    assert_int_equal(cf_auth_password_verify(stored, "Tr0ub4dor&3 x"), CF_OK);
    /* two hashes of one password differ (fresh salt) and both verify */
    char *again = NULL;
    assert_int_equal(cf_auth_password_hash("Tr0ub4dor&3 x", &s_cheap, &again, NULL), CF_OK);
    assert_string_not_equal(stored, again);
    assert_int_equal(cf_auth_password_verify(again, "Tr0ub4dor&3 x"), CF_OK);
    /* an unknown user costs a KDF run and is a plain wrong password */
    assert_int_equal(cf_auth_password_verify(NULL, "Tr0ub4dor&3 x"), CF_ERR_BADPASS);
    assert_int_equal(cf_auth_password_verify(NULL, NULL), CF_ERR_BADPASS);
    cf_mem_free(stored);
    cf_mem_free(again);
}

/* Changing any single character of a stored string never makes it verify. */
static void test_tampered_strings(void **state)
{
    (void) state;
    char *stored = NULL;
    assert_int_equal(cf_auth_password_hash("open sesame", &s_cheap, &stored, NULL), CF_OK);
    size_t len = strlen(stored);
    static const char subst[] = {'A', 'z', '0', '9', '+', '/', '$', ',', '=', ' ', '-', '_'};
    for (size_t i = 0; i < len; i++) {
        for (size_t k = 0; k < sizeof(subst); k++) {
            if (stored[i] == subst[k])
                continue;
            char copy[CF_AUTH_MAX_STORED + 1];
            memcpy(copy, stored, len + 1);
            copy[i] = subst[k];
            cf_err_t rc = cf_auth_password_verify(copy, "open sesame");
            if (rc == CF_OK)
                fail_msg("tampered string verified: %s", copy);
        }
        char cut[CF_AUTH_MAX_STORED + 1];
        memcpy(cut, stored, i);
        cut[i] = '\0';
        assert_int_not_equal(cf_auth_password_verify(cut, "open sesame"), CF_OK);
    }
    cf_mem_free(stored);
}

/* 32 zero bytes and 8 bytes "saltsalt" in unpadded base64. */
#define S_H32  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define S_SALT "c2FsdHNhbHQ"

static void test_malformed_strings(void **state)
{
    (void) state;
    static const char *bad[] = {
        "",
        "$scrypt$",
        "$scrypt$ln=10,r=1,p=1",
        "$scrypt$ln=10,r=1,p=1$" S_SALT,
        "$scrypt$ln=10,r=1,p=1$" S_SALT "$",
        "$scrypt$ln=10,r=1,p=1$$" S_H32,
        "$scrypt$ln=10,r=1,p=1$" S_SALT "$" S_H32 "$",
        "$scrypt$ln=10,r=1,p=1$" S_SALT "=$" S_H32,         /* padding */
        "$scrypt$ln=10,r=1,p=1$" S_SALT "$" S_H32 "=",      /* padding */
        "$scrypt$ln=010,r=1,p=1$" S_SALT "$" S_H32,         /* leading zero */
        "$scrypt$ln=+10,r=1,p=1$" S_SALT "$" S_H32,         /* sign */
        "$scrypt$ln=-1,r=1,p=1$" S_SALT "$" S_H32,          /* negative */
        "$scrypt$ln=0,r=1,p=1$" S_SALT "$" S_H32,           /* zero */
        "$scrypt$ln=10,r=0,p=1$" S_SALT "$" S_H32,          /* zero */
        "$scrypt$ln=10,r=1,p=0$" S_SALT "$" S_H32,          /* zero */
        "$scrypt$r=1,ln=10,p=1$" S_SALT "$" S_H32,          /* order */
        "$scrypt$ln=10,r=1,p=1,x=1$" S_SALT "$" S_H32,      /* extra parameter */
        "$scrypt$ln=10,r=1$" S_SALT "$" S_H32,              /* missing parameter */
        "$SCRYPT$ln=10,r=1,p=1$" S_SALT "$" S_H32,          /* case */
        "$argon2id$v=19$m=65536,t=3,p=4$" S_SALT "$" S_H32, /* another scheme */
        "$scrypt$ln=10,r=1,p=1$c2Fs$" S_H32,                /* 3-byte salt */
        "$scrypt$ln=10,r=1,p=1$" S_SALT "$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  /* 31 */
        "$scrypt$ln=10,r=1,p=1$" S_SALT "$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB", /* bits */
        "$scrypt$ln=10,r=1,p=1$" S_SALT "$AAAAAAAAAAAAAAAAAAAAA-AAAAAAAAAAAAAAAAAAAAA", /* url */
        "$scrypt$ln=10,r=1,p=1$c2FsdHNh bHQ$" S_H32,                                    /* space */
        "$scrypt$ln=10,r=1,p=1$" S_SALT "$" S_H32 "\n", /* newline */
        " $scrypt$ln=10,r=1,p=1$" S_SALT "$" S_H32,     /* leading space */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cf_auth_params_t p;
        if (cf_auth_password_verify(bad[i], "password1") != CF_ERR_CORRUPT)
            fail_msg("not refused as corrupt: '%s'", bad[i]);
        assert_int_equal(cf_auth_stored_params(bad[i], &p), CF_ERR_CORRUPT);
        assert_int_equal(cf_auth_needs_rehash(bad[i]), 1);
    }
    /* the same shape with nothing wrong parses (and is simply the wrong password) */
    assert_int_equal(
        cf_auth_password_verify("$scrypt$ln=10,r=1,p=1$" S_SALT "$" S_H32, "password1"),
        CF_ERR_BADPASS);
}

static void test_field_caps(void **state)
{
    (void) state;
    /* a long string is refused before it is read */
    char big[600];
    memset(big, 'A', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memcpy(big, "$scrypt$ln=10,r=1,p=1$", 22);
    assert_int_equal(cf_auth_password_verify(big, "password1"), CF_ERR_TOOBIG);
    /* a 65-byte salt and a 65-byte hash are over their caps */
    char a87[88], text[CF_AUTH_MAX_STORED + 1];
    memset(a87, 'A', 87);
    a87[87] = '\0';
    snprintf(text, sizeof(text), "$scrypt$ln=10,r=1,p=1$%s$%s", a87, S_H32);
    assert_int_equal(cf_auth_password_verify(text, "password1"), CF_ERR_CORRUPT);
    snprintf(text, sizeof(text), "$scrypt$ln=10,r=1,p=1$%s$%s", S_SALT, a87);
    assert_int_equal(cf_auth_password_verify(text, "password1"), CF_ERR_CORRUPT);
    a87[86] = '\0'; /* 64 bytes: fine */
    snprintf(text, sizeof(text), "$scrypt$ln=10,r=1,p=1$%s$%s", a87, a87);
    assert_int_equal(cf_auth_password_verify(text, "password1"), CF_ERR_BADPASS);
}

static void test_parameter_caps(void **state)
{
    (void) state;
    static const struct {
        const char *params;
        cf_err_t want;
    } cases[] = {
        {"ln=21,r=1,p=1", CF_ERR_TOOBIG},          /* N over the cap */
        {"ln=30,r=8,p=1", CF_ERR_TOOBIG},          /* 2^30: what a hostile record would ask */
        {"ln=10,r=33,p=1", CF_ERR_TOOBIG},         /* r over the cap */
        {"ln=10,r=1,p=17", CF_ERR_TOOBIG},         /* p over the cap */
        {"ln=18,r=16,p=1", CF_ERR_TOOBIG},         /* work 2^22 */
        {"ln=15,r=8,p=16", CF_ERR_TOOBIG},         /* work 2^22 */
        {"ln=19,r=4,p=1", CF_ERR_TOOBIG},          /* work 2^21 is allowed, 256 MiB is not */
        {"ln=999999999,r=1,p=1", CF_ERR_TOOBIG},   /* nine digits */
        {"ln=1000000000,r=1,p=1", CF_ERR_TOOBIG},  /* ten digits: not even read */
        {"ln=10,r=4294967297,p=1", CF_ERR_TOOBIG}, /* would wrap */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char stored[200];
        cf_auth_params_t p;
        snprintf(stored, sizeof(stored), "$scrypt$%s$" S_SALT "$" S_H32, cases[i].params);
        if (cf_auth_password_verify(stored, "password1") != cases[i].want)
            fail_msg("case %zu (%s) not refused as over the cap", i, cases[i].params);
        assert_int_equal(cf_auth_stored_params(stored, &p), cases[i].want);
    }
    /* p up to its cap runs (at a small N) */
    unsigned char out[32];
    cf_auth_params_t wide = {11, 1, 16};
    assert_int_equal(cf_auth_scrypt("pw", 2, "salt", 4, &wide, out, sizeof(out)), CF_OK);
    /* and callers get the same caps */
    cf_auth_params_t big = {21, 1, 1}, zero = {0, 8, 1};
    char *stored = (char *) 0x1;
    assert_int_equal(cf_auth_password_hash("password1", &big, &stored, NULL), CF_ERR_TOOBIG);
    assert_null(stored);
    assert_int_equal(cf_auth_password_hash("password1", &zero, &stored, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_auth_scrypt("pw", 2, "s", 1, &s_cheap, out, 0), CF_ERR_INVALID);
    assert_int_equal(cf_auth_scrypt("pw", 2, "s", 1, &s_cheap, out, 65), CF_ERR_INVALID);
    assert_int_equal(cf_auth_scrypt(NULL, 2, "s", 1, &s_cheap, out, 32), CF_ERR_INVALID);
    assert_int_equal(cf_auth_scrypt("pw", 2, "s", 1, NULL, out, 32), CF_ERR_INVALID);
}

static void test_password_rules(void **state)
{
    (void) state;
    static const char *refused[] = {
        "short",           "1234567", "tab\there!", "new\nline!", "del\x7f\x7f\x7f\x7f\x7f",
        "p\xc3\xa4sswort", /* UTF-8: not ASCII */
        "\x1b[31mred!",
    };
    char *stored = (char *) 0x1;
    cf_why_t why = {""};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        assert_int_equal(cf_auth_password_check(refused[i], &why), CF_ERR_INVALID);
        assert_null(strstr(why.text, refused[i])); /* the reason never quotes the password */
        assert_int_equal(cf_auth_password_hash(refused[i], &s_cheap, &stored, NULL),
                         CF_ERR_INVALID);
        assert_null(stored);
    }
    assert_int_equal(cf_auth_password_check("tab\there!", &why), CF_ERR_INVALID);
    assert_non_null(strstr(why.text, "character 4"));
    assert_int_equal(cf_auth_password_check(NULL, NULL), CF_ERR_INVALID);
    /* every printable character, the space included, is fine; 8 and 1024 bytes are the ends */
    char all[96];
    for (int c = 0x20; c <= 0x7e; c++)
        all[c - 0x20] = (char) c;
    all[95] = '\0';
    assert_int_equal(cf_auth_password_check(all, NULL), CF_OK);
    assert_int_equal(cf_auth_password_check("12345678", NULL), CF_OK);
    char longest[CF_AUTH_PW_MAX + 2];
    memset(longest, 'x', sizeof(longest) - 1);
    longest[CF_AUTH_PW_MAX] = '\0';
    assert_int_equal(cf_auth_password_hash(longest, &s_cheap, &stored, NULL), CF_OK);
    assert_int_equal(cf_auth_password_verify(stored, longest), CF_OK);
    longest[CF_AUTH_PW_MAX] = 'x';
    longest[CF_AUTH_PW_MAX + 1] = '\0';
    assert_int_equal(cf_auth_password_check(longest, NULL), CF_ERR_TOOBIG);
    assert_int_equal(cf_auth_password_verify(stored, longest), CF_ERR_BADPASS);
    cf_mem_free(stored);
}

static int s_cmp(const void *a, const void *b)
{
    return memcmp(a, b, CF_AUTH_TOKEN_LEN + 1);
}

static void test_token_uniqueness(void **state)
{
    (void) state;
    enum { N = 10000 };
    char(*tokens)[CF_AUTH_TOKEN_LEN + 1] = calloc(N, CF_AUTH_TOKEN_LEN + 1);
    assert_non_null(tokens);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(cf_auth_token_new(tokens[i]), CF_OK);
        assert_int_equal(strspn(tokens[i], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                           "0123456789-_"),
                         CF_AUTH_TOKEN_LEN);
        assert_int_equal(cf_auth_token_check(tokens[i]), CF_OK);
    }
    qsort(tokens, N, CF_AUTH_TOKEN_LEN + 1, s_cmp);
    for (size_t i = 1; i < N; i++)
        if (strcmp(tokens[i - 1], tokens[i]) == 0)
            fail_msg("token repeated: %s", tokens[i]);
    free(tokens);
}

static void test_token_forms(void **state)
{
    (void) state;
    /* bytes 0..31 as base64url; digest checked against `printf %s TOKEN | sha256sum` */
    static const char token[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    char digest[CF_AUTH_DIGEST_LEN + 1];
    assert_int_equal(cf_auth_token_digest(token, digest), CF_OK);
    assert_string_equal(digest, "ea866a757e4c38babfa8127cbe9a409d3e1f93a00ff1488ff735fcf917afffd0");
    static const char *bad[] = {
        NULL,
        "",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh",   /* 42 characters */
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", /* padding */
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8A", /* 44 */
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9",  /* leftover bits set */
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd+h8",  /* standard alphabet */
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd/h8",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd h8",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd\nh8",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(cf_auth_token_check(bad[i]), CF_ERR_INVALID);
        assert_int_equal(cf_auth_token_digest(bad[i], digest), CF_ERR_INVALID);
    }
    assert_int_equal(cf_auth_token_new(NULL), CF_ERR_INVALID);
    assert_int_equal(cf_auth_token_digest(token, NULL), CF_ERR_INVALID);
}

static void test_bucket(void **state)
{
    (void) state;
    cf_bucket_t b;
    int64_t wait = -1;
    const int64_t t0 = 1700000000000LL;
    assert_int_equal(cf_bucket_init(&b, 2.0, 3, t0), CF_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(cf_bucket_take(&b, t0, NULL), 1);
    assert_int_equal(cf_bucket_take(&b, t0, &wait), 0);
    assert_int_equal(wait, 500);
    assert_int_equal(cf_bucket_take(&b, t0 + 499, &wait), 0);
    assert_int_equal(wait, 1);
    assert_int_equal(cf_bucket_take(&b, t0 + 500, &wait), 1);
    /* a steady rate: over 10 s at most 2 per second get in after the burst is spent */
    int admitted = 0;
    for (int64_t t = t0 + 500; t <= t0 + 10500; t += 10)
        admitted += cf_bucket_take(&b, t, NULL);
    assert_int_equal(admitted, 20);
    /* a long idle spell fills the bucket to its burst, no further */
    int64_t later = t0 + 86400000LL * 365;
    admitted = 0;
    for (int i = 0; i < 10; i++)
        admitted += cf_bucket_take(&b, later, NULL);
    assert_int_equal(admitted, 3);
    /* a clock going back adds nothing and does not move the bucket's time back */
    assert_int_equal(cf_bucket_take(&b, later - 60000, &wait), 0);
    assert_int_equal(wait, 500);
    assert_int_equal(cf_bucket_take(&b, later + 500, NULL), 1);
}

static void test_bucket_edges(void **state)
{
    (void) state;
    cf_bucket_t b;
    int64_t wait = 0;
    /* slow rates: one token every two seconds */
    assert_int_equal(cf_bucket_init(&b, 0.5, 1, 0), CF_OK);
    assert_int_equal(cf_bucket_take(&b, 0, NULL), 1);
    assert_int_equal(cf_bucket_take(&b, 1, &wait), 0);
    assert_int_equal(wait, 1999);
    /* the largest rate and burst over the widest clock range do not overflow */
    assert_int_equal(cf_bucket_init(&b, CF_BUCKET_MAX_RATE, CF_BUCKET_MAX_BURST, INT64_MIN), CF_OK);
    assert_int_equal(cf_bucket_take(&b, INT64_MAX, NULL), 1);
    assert_int_equal(b.level, b.cap - 1000000ULL);
    /* bad arguments */
    assert_int_equal(cf_bucket_init(&b, 0.0, 1, 0), CF_ERR_INVALID);
    assert_int_equal(cf_bucket_init(&b, -1.0, 1, 0), CF_ERR_INVALID);
    assert_int_equal(cf_bucket_init(&b, NAN, 1, 0), CF_ERR_INVALID);
    assert_int_equal(cf_bucket_init(&b, INFINITY, 1, 0), CF_ERR_INVALID);
    assert_int_equal(cf_bucket_init(&b, 1.0, 0, 0), CF_ERR_INVALID);
    assert_int_equal(cf_bucket_init(&b, 1.0, CF_BUCKET_MAX_BURST + 1, 0), CF_ERR_INVALID);
    assert_int_equal(cf_bucket_init(NULL, 1.0, 1, 0), CF_ERR_INVALID);
}

static void test_allocation_failure(void **state)
{
    (void) state;
    char *stored = (char *) 0x1;
    cf_test_alloc_fail_at(0);
    cf_err_t rc = cf_auth_password_hash("password1", &s_cheap, &stored, NULL);
    cf_test_alloc_fail_at(-1);
    assert_int_equal(rc, CF_ERR_NOMEM);
    assert_null(stored);
    assert_int_equal(cf_auth_password_hash("password1", &s_cheap, NULL, NULL), CF_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_scrypt_known_answers),
        cmocka_unit_test(test_wrong_passwords),
        cmocka_unit_test(test_tampered_strings),
        cmocka_unit_test(test_malformed_strings),
        cmocka_unit_test(test_field_caps),
        cmocka_unit_test(test_parameter_caps),
        cmocka_unit_test(test_password_rules),
        cmocka_unit_test(test_token_uniqueness),
        cmocka_unit_test(test_token_forms),
        cmocka_unit_test(test_bucket),
        cmocka_unit_test(test_bucket_edges),
        cmocka_unit_test(test_allocation_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
