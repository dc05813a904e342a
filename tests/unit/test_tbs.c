/*  test_tbs - certificate and CRL bodies, compared with what OpenSSL encodes and parses  */
#include "cf_test.h"

#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "cf_der.h"
#include "cf_key.h"
#include "cf_mem.h"
#include "cf_tbs.h"

static const unsigned char s_alg[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                      0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
static const unsigned char s_serial[] = {0x9a, 0x01, 0x02, 0x03};
static const unsigned char s_kid[20] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
static const unsigned char s_aki[20] = {20, 19, 18, 17};

/* Sign the body at buf[start..w->len) with key and close the outer SEQUENCE. */
static void s_sign(cf_der_t *w, size_t start, size_t mark, const cf_key_t *key)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char sig[128];
    size_t len = sizeof(sig);
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, cf_key_pkey(key)), 1);
    assert_int_equal(EVP_DigestSign(ctx, sig, &len, w->buf + start, w->len - start), 1);
    EVP_MD_CTX_free(ctx);
    cf_der_raw(w, s_alg, sizeof(s_alg));
    cf_der_bits(w, sig, len);
    cf_der_end(w, mark);
    assert_int_equal(cf_der_status(w), CF_OK);
}

static X509 *s_cert(cf_tbs_cert_t *c, const cf_key_t *key, unsigned char *buf, size_t cap)
{
    unsigned char spki[200];
    size_t spki_len = 0;
    unsigned char *der = NULL;
    assert_int_equal(cf_key_public_der(key, &der, &spki_len), CF_OK);
    memcpy(spki, der, spki_len);
    cf_mem_free(der);
    c->spki = spki, c->spki_len = spki_len;
    cf_der_t w;
    cf_der_init(&w, buf, cap);
    size_t mark = cf_der_begin(&w, CF_DER_SEQUENCE);
    size_t start = w.len;
    assert_int_equal(cf_tbs_cert(&w, c), CF_OK);
    s_sign(&w, start, mark, key);
    const unsigned char *p = buf;
    X509 *x = d2i_X509(NULL, &p, (long) w.len);
    assert_non_null(x);
    assert_ptr_equal(p, buf + w.len);
    return x;
}

static cf_tbs_cert_t s_base(unsigned char *name, size_t name_len)
{
    cf_tbs_cert_t c = {s_serial,
                       sizeof(s_serial),
                       s_alg,
                       sizeof(s_alg),
                       name,
                       name_len,
                       1800000000,
                       1900000000,
                       "tbs.example.test",
                       NULL,
                       0,
                       s_kid,
                       sizeof(s_kid),
                       s_aki,
                       sizeof(s_aki),
                       0,
                       CF_TBS_KU_DIGITAL_SIGNATURE,
                       CF_TBS_EKU_SERVER,
                       NULL,
                       0};
    return c;
}

static void test_usage(void **state)
{
    (void) state;
    cf_key_t *key = NULL;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &key), CF_OK);
    unsigned char name[80];
    cf_der_t nw;
    cf_der_init(&nw, name, sizeof(name));
    assert_int_equal(cf_tbs_name(&nw, "Issuer CA"), CF_OK);
    cf_tbs_san_t sans[] = {{CF_TBS_SAN_DNS, (const unsigned char *) "tbs.example.test", 16},
                           {CF_TBS_SAN_IP, (const unsigned char *) "\x7f\x00\x00\x01", 4}};
    cf_tbs_cert_t c = s_base(name, nw.len);
    c.sans = sans, c.n_sans = 2;
    unsigned char buf[2048];
    X509 *x = s_cert(&c, key, buf, sizeof(buf));
    assert_int_equal(X509_verify(x, cf_key_pkey(key)), 1);
    assert_int_equal(X509_get_version(x), 2);
    assert_int_equal(ASN1_TIME_cmp_time_t(X509_get0_notBefore(x), 1800000000), 0);
    assert_int_equal(ASN1_TIME_cmp_time_t(X509_get0_notAfter(x), 1900000000), 0);
    char cn[80];
    X509_NAME_get_text_by_NID(X509_get_issuer_name(x), NID_commonName, cn, sizeof(cn));
    assert_string_equal(cn, "Issuer CA");
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
    assert_string_equal(cn, "tbs.example.test");
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = BN_bn2hex(bn);
    assert_string_equal(hex, "9A010203"); /* top bit set, still positive */
    OPENSSL_free(hex);
    BN_free(bn);
    assert_int_equal(X509_check_host(x, "tbs.example.test", 0, 0, NULL), 1);
    assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
    unsigned char *tbs = NULL; /* OpenSSL re-encodes our body to the same bytes */
    int n = i2d_re_X509_tbs(x, &tbs);
    assert_true(n > 0);
    size_t hdr = buf[1] & 0x80 ? 2 + (size_t) (buf[1] & 0x7f) : 2; /* outer SEQUENCE */
    assert_memory_equal(tbs, buf + hdr, (size_t) n);
    OPENSSL_free(tbs);
    X509_free(x);
    cf_key_destroy(&key);
}

static void test_names(void **state)
{
    (void) state;
    static const char *cns[] = {"a", "certfleet CA",
                                "0123456789012345678901234567890123456789"
                                "012345678901234567890123"};
    for (size_t i = 0; i < sizeof(cns) / sizeof(cns[0]); i++) {
        X509_NAME *ref = X509_NAME_new();
        assert_int_equal(X509_NAME_add_entry_by_NID(ref, NID_commonName, V_ASN1_UTF8STRING,
                                                    (const unsigned char *) cns[i], -1, -1, 0),
                         1);
        unsigned char *want = NULL;
        int n = i2d_X509_NAME(ref, &want);
        unsigned char got[128];
        cf_der_t w;
        cf_der_init(&w, got, sizeof(got));
        assert_int_equal(cf_tbs_name(&w, cns[i]), CF_OK);
        assert_int_equal(w.len, (size_t) n);
        assert_memory_equal(got, want, (size_t) n);
        OPENSSL_free(want);
        X509_NAME_free(ref);
    }
    static const char *bad[] = {"", NULL,
                                "0123456789012345678901234567890123456789"
                                "0123456789012345678901234"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unsigned char got[128];
        cf_der_t w;
        cf_der_init(&w, got, sizeof(got));
        assert_int_equal(cf_tbs_name(&w, bad[i]), CF_ERR_INVALID);
    }
}

/* The value of extension nid in x, and OpenSSL's own value for the same text. */
static void s_same_ext(X509 *x, int nid, const char *text)
{
    X509_EXTENSION *ours = X509_get_ext(x, X509_get_ext_by_NID(x, nid, -1));
    assert_non_null(ours);
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, NULL, NULL, NULL, NULL, 0);
    X509_EXTENSION *ref = X509V3_EXT_conf_nid(NULL, &ctx, nid, text);
    assert_non_null(ref);
    assert_int_equal(
        ASN1_OCTET_STRING_cmp(X509_EXTENSION_get_data(ours), X509_EXTENSION_get_data(ref)), 0);
    assert_int_equal(X509_EXTENSION_get_critical(ours), X509_EXTENSION_get_critical(ref));
    X509_EXTENSION_free(ref);
}

static void test_extensions_match_openssl(void **state)
{
    (void) state;
    cf_key_t *key = NULL;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &key), CF_OK);
    unsigned char name[80];
    cf_der_t nw;
    cf_der_init(&nw, name, sizeof(name));
    assert_int_equal(cf_tbs_name(&nw, "CA"), CF_OK);
    cf_tbs_san_t sans[] = {{CF_TBS_SAN_DNS, (const unsigned char *) "a.test", 6},
                           {CF_TBS_SAN_URI, (const unsigned char *) "urn:x:y", 7},
                           {CF_TBS_SAN_IP,
                            (const unsigned char *) "\x20\x01\x0d\xb8\0\0\0\0"
                                                    "\0\0\0\0\0\0\0\x01",
                            16}};
    const struct {
        int is_ca;
        unsigned ku, eku;
        const char *bc, *ku_text, *eku_text;
    } cases[] = {
        {1, CF_TBS_KU_DIGITAL_SIGNATURE | CF_TBS_KU_KEY_CERT_SIGN | CF_TBS_KU_CRL_SIGN, 0,
         "critical,CA:TRUE,pathlen:0", "critical,digitalSignature,keyCertSign,cRLSign", NULL},
        {0, CF_TBS_KU_DIGITAL_SIGNATURE, CF_TBS_EKU_CLIENT, "critical,CA:FALSE",
         "critical,digitalSignature", "clientAuth"},
        {0, CF_TBS_KU_DIGITAL_SIGNATURE | CF_TBS_KU_KEY_ENCIPHERMENT, CF_TBS_EKU_SERVER,
         "critical,CA:FALSE", "critical,digitalSignature,keyEncipherment", "serverAuth"},
        {0, CF_TBS_KU_KEY_ENCIPHERMENT, CF_TBS_EKU_SERVER | CF_TBS_EKU_CLIENT, "critical,CA:FALSE",
         "critical,keyEncipherment", "serverAuth,clientAuth"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cf_tbs_cert_t c = s_base(name, nw.len);
        c.is_ca = cases[i].is_ca, c.key_usage = cases[i].ku, c.eku = cases[i].eku;
        c.sans = sans, c.n_sans = 3;
        unsigned char buf[2048];
        X509 *x = s_cert(&c, key, buf, sizeof(buf));
        s_same_ext(x, NID_basic_constraints, cases[i].bc);
        s_same_ext(x, NID_key_usage, cases[i].ku_text);
        if (cases[i].eku_text)
            s_same_ext(x, NID_ext_key_usage, cases[i].eku_text);
        else
            assert_int_equal(X509_get_ext_by_NID(x, NID_ext_key_usage, -1), -1);
        s_same_ext(x, NID_subject_alt_name, "DNS:a.test,URI:urn:x:y,IP:2001:db8::1");
        s_same_ext(x, NID_subject_key_identifier,
                   "0102030405060708090A0000000000000000000"
                   "0");
        const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(x);
        assert_non_null(aki);
        assert_memory_equal(ASN1_STRING_get0_data(aki), s_aki, sizeof(s_aki));
        X509_free(x);
    }
    cf_key_destroy(&key);
}

static void test_serial_hex(void **state)
{
    (void) state;
    const struct {
        const char *hex;
        const char *bytes;
        size_t len;
    } ok[] = {
        {"0", "\x00", 1},
        {"00", "\x00", 1},
        {"1", "\x01", 1},
        {"0001", "\x01", 1},
        {"abc", "\x0a\xbc", 2},
        {"ABCdef", "\xab\xcd\xef", 3},
        {"80", "\x80", 1},
        {"0123456789abcdef0123456789abcdef01234567",
         "\x01\x23\x45\x67\x89\xab\xcd\xef\x01\x23\x45\x67\x89\xab\xcd"
         "\xef\x01\x23\x45\x67",
         20},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        unsigned char out[CF_TBS_MAX_SERIAL];
        size_t len = 0;
        assert_int_equal(cf_tbs_serial_from_hex(ok[i].hex, out, &len), CF_OK);
        assert_int_equal(len, ok[i].len);
        assert_memory_equal(out, ok[i].bytes, len);
    }
    static const char *bad[] = {"",     "g", "12 3",  "-1",
                                "0x12", ":", "abc\n", "1123456789abcdef0123456789abcdef012345678",
                                NULL};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unsigned char out[CF_TBS_MAX_SERIAL];
        size_t len = 0;
        assert_int_equal(cf_tbs_serial_from_hex(bad[i], out, &len), CF_ERR_INVALID);
    }
}

static void test_crl_body(void **state)
{
    (void) state;
    cf_key_t *key = NULL;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &key), CF_OK);
    unsigned char name[80];
    cf_der_t nw;
    cf_der_init(&nw, name, sizeof(name));
    assert_int_equal(cf_tbs_name(&nw, "CRL CA"), CF_OK);
    const char *serials[] = {"01", "80", "00ff"};
    for (size_t n = 0; n <= 3; n += 3) {
        cf_tbs_crl_t c = {s_alg, sizeof(s_alg), name, nw.len,  1800000000, 2600000000,
                          s_aki, sizeof(s_aki), 4242, serials, n};
        unsigned char buf[1024];
        cf_der_t w;
        cf_der_init(&w, buf, sizeof(buf));
        size_t mark = cf_der_begin(&w, CF_DER_SEQUENCE);
        size_t start = w.len;
        assert_int_equal(cf_tbs_crl(&w, &c), CF_OK);
        s_sign(&w, start, mark, key);
        const unsigned char *p = buf;
        X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long) w.len);
        assert_non_null(crl);
        assert_int_equal(X509_CRL_verify(crl, cf_key_pkey(key)), 1);
        assert_int_equal(X509_CRL_get_version(crl), 1);
        STACK_OF(X509_REVOKED) *rev = X509_CRL_get_REVOKED(crl);
        assert_int_equal(sk_X509_REVOKED_num(rev), n ? 3 : -1);
        for (size_t i = 0; i < n; i++) {
            const X509_REVOKED *r = sk_X509_REVOKED_value(rev, (int) i);
            assert_int_equal(ASN1_TIME_cmp_time_t(X509_REVOKED_get0_revocationDate(r), 1800000000),
                             0);
        }
        assert_int_equal(ASN1_TIME_cmp_time_t(X509_CRL_get0_nextUpdate(crl), 2600000000), 0);
        ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
        assert_int_equal(ASN1_INTEGER_get(num), 4242);
        ASN1_INTEGER_free(num);
        X509_CRL_free(crl);
    }
    const char *bad[] = {"01", "zz"};
    cf_tbs_crl_t c = {s_alg, sizeof(s_alg), name, nw.len, 1, 2, s_aki, sizeof(s_aki), 1, bad, 2};
    unsigned char buf[512];
    cf_der_t w;
    cf_der_init(&w, buf, sizeof(buf));
    assert_int_equal(cf_tbs_crl(&w, &c), CF_ERR_INVALID);
    cf_key_destroy(&key);
}

static void test_refusals(void **state)
{
    (void) state;
    unsigned char name[80], buf[4096];
    cf_der_t w;
    cf_der_init(&w, name, sizeof(name));
    assert_int_equal(cf_tbs_name(&w, "CA"), CF_OK);
    unsigned char spki[91] = {0x30, 0x59};
    unsigned char long_serial[21] = {1};
    cf_tbs_cert_t c = s_base(name, w.len);
    c.spki = spki, c.spki_len = sizeof(spki);
    c.serial_len = 0;
    cf_der_init(&w, buf, sizeof(buf));
    assert_int_equal(cf_tbs_cert(&w, &c), CF_ERR_INVALID);
    c.serial = long_serial, c.serial_len = sizeof(long_serial);
    cf_der_init(&w, buf, sizeof(buf));
    assert_int_equal(cf_tbs_cert(&w, &c), CF_ERR_INVALID);
    c = s_base(name, 4);
    c.spki = spki, c.spki_len = sizeof(spki);
    c.subject_cn = "";
    cf_der_init(&w, buf, sizeof(buf));
    assert_int_equal(cf_tbs_cert(&w, &c), CF_ERR_INVALID);
    c.subject_cn = "ok";
    c.not_after = 253402300800LL; /* year 10000 */
    cf_der_init(&w, buf, sizeof(buf));
    assert_int_equal(cf_tbs_cert(&w, &c), CF_ERR_INVALID);
    c.not_after = 1900000000;
    cf_der_init(&w, buf, sizeof(buf));
    cf_test_alloc_fail_at(0); /* the builder allocates nothing */
    assert_int_equal(cf_tbs_cert(&w, &c), CF_OK);
    assert_int_equal(cf_test_alloc_failed(), 0);
    cf_test_alloc_fail_at(-1);
    size_t full = w.len;
    for (size_t cap = 0; cap < full; cap++) { /* too small a buffer: refused, never overrun */
        unsigned char small[4096];
        memset(small, 0xee, sizeof(small));
        cf_der_init(&w, cap ? small : NULL, cap);
        assert_int_equal(cf_tbs_cert(&w, &c), CF_ERR_TOOBIG);
        assert_true(w.len <= cap);
        assert_int_equal(small[cap], 0xee);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_extensions_match_openssl),
        cmocka_unit_test(test_serial_hex),
        cmocka_unit_test(test_crl_body),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
