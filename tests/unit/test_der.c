/*  test_der - the bounded DER writer, checked byte for byte against OpenSSL's encoder  */
#include "cf_test.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/rand.h>

#include "cf_der.h"

/* OpenSSL's DER of an INTEGER with the given unsigned big-endian magnitude. */
static size_t s_ossl_uint(const unsigned char *be, size_t len, unsigned char *out)
{
    BIGNUM *bn = BN_bin2bn(be, (int) len, NULL);
    assert_non_null(bn);
    ASN1_INTEGER *ai = BN_to_ASN1_INTEGER(bn, NULL);
    assert_non_null(ai);
    unsigned char *p = out;
    int n = i2d_ASN1_INTEGER(ai, &p);
    assert_true(n > 0);
    ASN1_INTEGER_free(ai);
    BN_free(bn);
    return (size_t) n;
}

static void test_usage(void **state)
{
    (void) state;
    unsigned char buf[64];
    cf_der_t w;
    cf_der_init(&w, buf, sizeof(buf));
    size_t seq = cf_der_begin(&w, CF_DER_SEQUENCE); /* SEQUENCE { INTEGER 5, OCTETS "abc" } */
    cf_der_u64(&w, 5);
    cf_der_tlv(&w, CF_DER_OCTETS, "abc", 3);
    cf_der_end(&w, seq);
    assert_int_equal(cf_der_status(&w), CF_OK);
    static const unsigned char want[] = {0x30, 0x08, 0x02, 0x01, 0x05, 0x04, 0x03, 'a', 'b', 'c'};
    assert_int_equal(w.len, sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));
}

/* Lengths at every boundary of the length encoding, read back by OpenSSL's parser. */
static void test_lengths(void **state)
{
    (void) state;
    static const size_t sizes[] = {0, 1, 127, 128, 255, 256, 65535, 65536, 70000};
    size_t cap = 70000 + 16;
    unsigned char *content = calloc(1, 70000);
    unsigned char *buf = malloc(cap);
    assert_non_null(content);
    assert_non_null(buf);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        for (int nested = 0; nested < 2; nested++) {
            cf_der_t w;
            cf_der_init(&w, buf, cap);
            if (nested) { /* length fixed up after the fact, content moved */
                size_t m = cf_der_begin(&w, CF_DER_SEQUENCE);
                cf_der_raw(&w, content, sizes[i]);
                cf_der_end(&w, m);
            } else {
                cf_der_tlv(&w, CF_DER_SEQUENCE, content, sizes[i]);
            }
            assert_int_equal(cf_der_status(&w), CF_OK);
            const unsigned char *p = buf;
            long len = 0;
            int tag = 0, cls = 0;
            int ret = ASN1_get_object(&p, &len, &tag, &cls, (long) w.len);
            assert_false(ret & 0x80);
            assert_int_equal(tag, V_ASN1_SEQUENCE);
            assert_int_equal((size_t) len, sizes[i]);
            assert_int_equal((size_t) (p - buf) + sizes[i], w.len); /* minimal header */
            size_t hdr = sizes[i] < 128 ? 2 : sizes[i] < 256 ? 3 : sizes[i] < 65536 ? 4 : 5;
            assert_int_equal(w.len, hdr + sizes[i]);
        }
    }
    free(content);
    free(buf);
}

static void test_integers(void **state)
{
    (void) state;
    unsigned char got[64], want[64];
    cf_der_t w;
    static const unsigned char cases[][4] = {
        {0, 0, 0, 0}, {0, 0, 0, 0x7f}, {0, 0, 0, 0x80}, {0x80, 0, 0, 0}, {0, 0x01, 0, 0xff},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cf_der_init(&w, got, sizeof(got));
        cf_der_uint(&w, cases[i], 4);
        assert_int_equal(cf_der_status(&w), CF_OK);
        size_t n = s_ossl_uint(cases[i], 4, want);
        assert_int_equal(w.len, n);
        assert_memory_equal(got, want, n);
    }
    for (int i = 0; i < 1000; i++) { /* random 128-bit magnitudes, as serials are */
        unsigned char be[16];
        assert_int_equal(RAND_bytes(be, sizeof(be)), 1);
        cf_der_init(&w, got, sizeof(got));
        cf_der_uint(&w, be, sizeof(be));
        size_t n = s_ossl_uint(be, sizeof(be), want);
        assert_int_equal(w.len, n);
        assert_memory_equal(got, want, n);
    }
    static const uint64_t u[] = {0, 1, 127, 128, 255, 256, 65535, 1u << 31, UINT64_MAX};
    for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
        ASN1_INTEGER *ai = ASN1_INTEGER_new();
        assert_int_equal(ASN1_INTEGER_set_uint64(ai, u[i]), 1);
        unsigned char *p = want;
        int n = i2d_ASN1_INTEGER(ai, &p);
        ASN1_INTEGER_free(ai);
        cf_der_init(&w, got, sizeof(got));
        cf_der_u64(&w, u[i]);
        assert_int_equal(w.len, (size_t) n);
        assert_memory_equal(got, want, (size_t) n);
    }
    cf_der_init(&w, got, sizeof(got));
    cf_der_uint(&w, NULL, 0); /* the empty magnitude is zero */
    assert_int_equal(w.len, 3);
    assert_memory_equal(got, "\x02\x01\x00", 3);
}

static void s_check_time(int64_t t)
{
    unsigned char got[32], want[32];
    cf_der_t w;
    cf_der_init(&w, got, sizeof(got));
    cf_der_time(&w, t);
    assert_int_equal(cf_der_status(&w), CF_OK);
    ASN1_TIME *at = ASN1_TIME_set(NULL, (time_t) t); /* UTCTime 1950-2049, else Generalized */
    assert_non_null(at);
    unsigned char *p = want;
    int n = i2d_ASN1_TIME(at, &p);
    ASN1_TIME_free(at);
    assert_int_equal(w.len, (size_t) n);
    assert_memory_equal(got, want, (size_t) n);
}

static void test_times(void **state)
{
    (void) state;
    static const int64_t fixed[] = {
        0,
        -1,
        951782400 /* 2000-02-29 */,
        2524607999 /* 2049 end */,
        2524608000 /* 2050 */,
        -631152000 /* 1950 */,
        -631152001 /* 1949 end */,
        253402300799 /* 9999 */,
        -30610224000 /* 1000 */,
        4107542400 /* 2100-03-01 */,
    };
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        s_check_time(fixed[i]);
    srand(7);
    for (int i = 0; i < 2000; i++) { /* years ~1000..9999 */
        int64_t t = -30610224000LL + (int64_t) ((double) rand() / RAND_MAX * 284012524799.0);
        s_check_time(t);
        cf_der_tm_t tm;
        cf_der_gmtime(t, &tm);
        time_t tt = (time_t) t;
        struct tm ref;
        assert_non_null(gmtime_r(&tt, &ref));
        assert_int_equal(tm.year, (int64_t) ref.tm_year + 1900);
        assert_int_equal(tm.mon, ref.tm_mon + 1);
        assert_int_equal(tm.day, ref.tm_mday);
        assert_int_equal(tm.hour * 3600 + tm.min * 60 + tm.sec,
                         ref.tm_hour * 3600 + ref.tm_min * 60 + ref.tm_sec);
    }
}

static void test_time_out_of_range(void **state)
{
    (void) state;
    unsigned char buf[32];
    cf_der_t w;
    static const int64_t bad[] = {253402300800LL, -62167219201LL, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cf_der_init(&w, buf, sizeof(buf));
        cf_der_time(&w, bad[i]);
        assert_int_equal(cf_der_status(&w), CF_ERR_INVALID);
        assert_int_equal(w.len, 0);
        cf_der_u64(&w, 1); /* sticky: later writes do nothing */
        assert_int_equal(w.len, 0);
    }
    cf_der_init(&w, buf, sizeof(buf));
    cf_der_time(&w, -62167219200LL); /* year 0 is the first DER can carry */
    assert_int_equal(cf_der_status(&w), CF_OK);
    assert_memory_equal(buf,
                        "\x18\x0f"
                        "00000101000000Z",
                        17);
}

/* One structure written with every primitive: used for the capped-buffer sweep. */
static void s_write_all(cf_der_t *w, const unsigned char *big, size_t big_len)
{
    size_t outer = cf_der_begin(w, CF_DER_SEQUENCE);
    cf_der_u64(w, 1234567);
    unsigned char be[17] = {0x80, 1, 2, 3};
    cf_der_uint(w, be, sizeof(be));
    cf_der_raw(w, "\x05\x00", 2);
    cf_der_bits(w, big, 40);
    cf_der_time(w, 2524608000);
    size_t inner = cf_der_begin(w, CF_DER_CTXC(3));
    cf_der_tlv(w, CF_DER_OCTETS, big, big_len);
    cf_der_end(w, inner);
    cf_der_end(w, outer);
}

/* curl-style torture: every buffer size short of the full encoding fails with TOOBIG,
   never writes past its cap, and the full size gives exactly the reference bytes. */
static void test_capped_buffer(void **state)
{
    (void) state;
    unsigned char big[300];
    memset(big, 0xa5, sizeof(big));
    unsigned char ref[1024];
    cf_der_t w;
    cf_der_init(&w, ref, sizeof(ref));
    s_write_all(&w, big, sizeof(big));
    assert_int_equal(cf_der_status(&w), CF_OK);
    size_t full = w.len;
    const unsigned char *p = ref;
    long len = 0;
    int tag = 0, cls = 0;
    assert_false(ASN1_get_object(&p, &len, &tag, &cls, (long) full) & 0x80);
    assert_int_equal((size_t) (p - ref) + (size_t) len, full);
    for (size_t cap = 0; cap <= full; cap++) {
        unsigned char *buf = malloc(cap + 8);
        assert_non_null(buf);
        memset(buf, 0xee, cap + 8);
        cf_der_init(&w, cap ? buf : NULL, cap);
        s_write_all(&w, big, sizeof(big));
        for (size_t i = cap; i < cap + 8; i++)
            assert_int_equal(buf[i], 0xee); /* nothing past the cap */
        assert_true(w.len <= cap);
        if (cap < full) {
            assert_int_equal(cf_der_status(&w), CF_ERR_TOOBIG);
        } else {
            assert_int_equal(cf_der_status(&w), CF_OK);
            assert_memory_equal(buf, ref, full);
        }
        free(buf);
    }
}

static void test_bits_and_tags(void **state)
{
    (void) state;
    unsigned char buf[16];
    cf_der_t w;
    cf_der_init(&w, buf, sizeof(buf));
    cf_der_bits(&w, "\xff\x01", 2);
    cf_der_tlv(&w, CF_DER_CTX(7), "\x7f\x00\x00\x01", 4); /* iPAddress 127.0.0.1 */
    cf_der_bits(&w, NULL, 0);
    assert_int_equal(cf_der_status(&w), CF_OK);
    assert_int_equal(w.len, 14);
    assert_memory_equal(buf, "\x03\x03\x00\xff\x01\x87\x04\x7f\x00\x00\x01\x03\x01\x00", 14);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_time_out_of_range),
        cmocka_unit_test(test_capped_buffer),
        cmocka_unit_test(test_bits_and_tags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
