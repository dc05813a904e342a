/*  test_pbe - password-based-encryption checks: schemes, iteration caps, legacy context  */
#include "cf_test.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "cf_pbe.h"

#define S_CAP 100000UL /* the cap these tests pass; no KDF runs, so it costs nothing */

/* What s_pbes2 changes in PBES2 / PBKDF2-HMAC-SHA256 / AES-256-CBC, as OpenSSL writes it. */
typedef struct {
    int64_t iter;           /* PBKDF2 iteration count (0 = leave 2048) */
    int huge_iter;          /* make the count 2^70, more than any int64 */
    const char *prf_oid;    /* replace the PRF (NULL = keep hmacWithSHA256) */
    const char *cipher_oid; /* replace the encryption scheme (NULL = keep aes-256-cbc) */
    int kdf_not_seq;        /* replace the PBKDF2 parameters by NULL */
} s_edit_t;

static X509_ALGOR *s_pbes2(const s_edit_t *e)
{
    X509_ALGOR *alg = PKCS5_pbe2_set_iv(EVP_aes_256_cbc(), 2048, NULL, 0, NULL, NID_hmacWithSHA256);
    assert_non_null(alg);
    PBE2PARAM *pbe2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), alg->parameter);
    PBKDF2PARAM *kdf =
        ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM), pbe2->keyfunc->parameter);
    assert_non_null(kdf);
    if (e->iter)
        assert_int_equal(ASN1_INTEGER_set_int64(kdf->iter, e->iter), 1);
    if (e->huge_iter) {
        BIGNUM *bn = BN_new();
        assert_int_equal(BN_set_bit(bn, 70), 1);
        assert_non_null(BN_to_ASN1_INTEGER(bn, kdf->iter));
        BN_free(bn);
    }
    if (e->prf_oid)
        assert_int_equal(X509_ALGOR_set0(kdf->prf, OBJ_txt2obj(e->prf_oid, 1), V_ASN1_NULL, NULL),
                         1);
    if (e->cipher_oid) {
        ASN1_OBJECT_free(pbe2->encryption->algorithm);
        pbe2->encryption->algorithm = OBJ_txt2obj(e->cipher_oid, 1);
    }
    assert_non_null(
        ASN1_TYPE_pack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM), kdf, &pbe2->keyfunc->parameter));
    if (e->kdf_not_seq)
        ASN1_TYPE_set(pbe2->keyfunc->parameter, V_ASN1_NULL, NULL);
    assert_non_null(ASN1_TYPE_pack_sequence(ASN1_ITEM_rptr(PBE2PARAM), pbe2, &alg->parameter));
    PBKDF2PARAM_free(kdf);
    PBE2PARAM_free(pbe2);
    return alg;
}

/* Check alg with cap; fail unless rc is want and why holds why_has (when given). */
static void s_expect(X509_ALGOR *alg, unsigned long cap, cf_err_t want, const char *why_has)
{
    cf_pbe_ctx_t ctx = {0};
    OSSL_LIB_CTX *libctx = NULL;
    cf_why_t why = {""};
    cf_err_t rc = cf_pbe_check(alg, cap, &ctx, "test part", &libctx, &why);
    if (rc != want)
        fail_msg("got %s (%s), want %s", cf_err_name(rc), why.text, cf_err_name(want));
    if (why_has && !strstr(why.text, why_has))
        fail_msg("why \"%s\" lacks \"%s\"", why.text, why_has);
    if (rc != CF_OK)
        assert_non_null(strstr(why.text, "test part"));
    cf_pbe_ctx_clear(&ctx);
    X509_ALGOR_free(alg);
}

static void test_usage(void **state)
{
    (void) state;
    /* An encrypted PKCS#8 key as OpenSSL 3 writes it, checked before the password is used */
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(pkey);
    X509_SIG *sig = PKCS8_encrypt_ex(-1, EVP_aes_256_cbc(), "pw", 2, NULL, 0, 2048, p8, NULL, NULL);
    assert_non_null(sig);
    const X509_ALGOR *alg = NULL;
    X509_SIG_get0(sig, &alg, NULL);
    cf_pbe_ctx_t ctx = {0};
    OSSL_LIB_CTX *libctx = NULL;
    cf_why_t why = {""};
    assert_int_equal(cf_pbe_check(alg, 10000, &ctx, "private key encryption", &libctx, &why),
                     CF_OK);
    assert_null(libctx); /* AES and PBKDF2 run in the default library context */
    PKCS8_PRIV_KEY_INFO *back = PKCS8_decrypt_ex(sig, "pw", 2, libctx, NULL);
    assert_non_null(back);
    /* the same key over a lower cap: refused, and why says what and by how much */
    assert_int_equal(cf_pbe_check(alg, 2047, &ctx, "private key encryption", &libctx, &why),
                     CF_ERR_TOOBIG);
    assert_string_equal(why.text,
                        "private key encryption: iteration count 2048 is over the cap of 2047");
    cf_pbe_ctx_clear(&ctx);
    cf_pbe_ctx_clear(&ctx); /* idempotent */
    cf_pbe_ctx_clear(NULL);
    PKCS8_PRIV_KEY_INFO_free(back);
    X509_SIG_free(sig);
    PKCS8_PRIV_KEY_INFO_free(p8);
    EVP_PKEY_free(pkey);
}

static void test_pbes1_and_pkcs12_schemes(void **state)
{
    (void) state;
    /* 3DES is in the default provider; RC2, single DES and RC4 only in the legacy one */
    static const struct {
        int nid;
        int legacy;
    } cases[] = {
        {NID_pbe_WithSHA1And3_Key_TripleDES_CBC, 0},
        {NID_pbe_WithSHA1And2_Key_TripleDES_CBC, 0},
        {NID_pbe_WithSHA1And40BitRC2_CBC, 1},
        {NID_pbe_WithSHA1And128BitRC4, 1},
        {NID_pbeWithMD5AndDES_CBC, 1},
        {NID_pbeWithSHA1AndDES_CBC, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        X509_ALGOR *alg = PKCS5_pbe_set(cases[i].nid, 2048, NULL, 0);
        cf_pbe_ctx_t ctx = {0};
        OSSL_LIB_CTX *libctx = NULL;
        cf_why_t why = {""};
        if (cf_pbe_check(alg, S_CAP, &ctx, NULL, &libctx, &why) != CF_OK)
            fail_msg("%s: %s", OBJ_nid2sn(cases[i].nid), why.text);
        assert_int_equal(libctx != NULL, cases[i].legacy);
        if (cases[i].legacy) {
            assert_ptr_equal(libctx, ctx.legacy); /* ctx owns it */
            OSSL_LIB_CTX *again = NULL;
            assert_int_equal(cf_pbe_check(alg, S_CAP, &ctx, NULL, &again, NULL), CF_OK);
            assert_ptr_equal(again, libctx); /* made once per ctx */
        }
        cf_pbe_ctx_clear(&ctx);
        assert_null(ctx.legacy);
        X509_ALGOR_free(alg);
    }
    /* the PKCS#12 KDF's count is capped like PBKDF2's */
    s_expect(PKCS5_pbe_set(NID_pbe_WithSHA1And3_Key_TripleDES_CBC, 5000, NULL, 0), 4999,
             CF_ERR_TOOBIG, "iteration count 5000 is over the cap of 4999");
    s_expect(PKCS5_pbe_set(NID_pbe_WithSHA1And3_Key_TripleDES_CBC, 5000, NULL, 0), 5000, CF_OK,
             NULL);
}

static void test_legacy_context_works(void **state)
{
    (void) state;
    /* what cf_pbe_check hands back really decrypts: encrypt with RC2 there, decrypt there */
    X509_ALGOR *alg = PKCS5_pbe_set(NID_pbe_WithSHA1And40BitRC2_CBC, 2048, NULL, 0);
    cf_pbe_ctx_t ctx = {0};
    OSSL_LIB_CTX *libctx = NULL;
    assert_int_equal(cf_pbe_check(alg, S_CAP, &ctx, NULL, &libctx, NULL), CF_OK);
    assert_non_null(libctx);
    EVP_CIPHER *rc2 = EVP_CIPHER_fetch(NULL, "RC2-40-CBC", NULL);
    assert_null(rc2); /* nothing global changed */
    ERR_clear_error();
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(pkey);
    X509_SIG *sig = PKCS8_encrypt_ex(NID_pbe_WithSHA1And40BitRC2_CBC, NULL, "pw", 2, NULL, 0, 2048,
                                     p8, libctx, NULL);
    assert_non_null(sig);
    PKCS8_PRIV_KEY_INFO *back = PKCS8_decrypt_ex(sig, "pw", 2, libctx, NULL);
    assert_non_null(back);
    PKCS8_PRIV_KEY_INFO_free(back);
    X509_SIG_free(sig);
    PKCS8_PRIV_KEY_INFO_free(p8);
    EVP_PKEY_free(pkey);
    cf_pbe_ctx_clear(&ctx);
    X509_ALGOR_free(alg);
}

static void test_iteration_counts(void **state)
{
    (void) state;
    s_expect(s_pbes2(&(s_edit_t){.iter = (int64_t) S_CAP}), S_CAP, CF_OK, NULL);
    s_expect(s_pbes2(&(s_edit_t){.iter = (int64_t) S_CAP + 1}), S_CAP, CF_ERR_TOOBIG,
             "over the cap of 100000");
    s_expect(s_pbes2(&(s_edit_t){.iter = 2000000000}), S_CAP, CF_ERR_TOOBIG, "2000000000");
    s_expect(s_pbes2(&(s_edit_t){.huge_iter = 1}), S_CAP, CF_ERR_TOOBIG, "out of range");
    s_expect(s_pbes2(&(s_edit_t){.iter = -5}), S_CAP, CF_ERR_CORRUPT, "invalid iteration count");
    s_expect(s_pbes2(&(s_edit_t){0}), 0, CF_ERR_TOOBIG, "cap of 0"); /* cap 0 refuses all */
    /* the count on its own, as cf_p12 checks its MAC */
    ASN1_INTEGER *n = ASN1_INTEGER_new();
    assert_int_equal(ASN1_INTEGER_set_int64(n, 7), 1);
    assert_int_equal(cf_pbe_check_iter(n, 7, "MAC", NULL), CF_OK);
    assert_int_equal(cf_pbe_check_iter(n, 6, "MAC", NULL), CF_ERR_TOOBIG);
    assert_int_equal(ASN1_INTEGER_set_int64(n, 0), 1);
    assert_int_equal(cf_pbe_check_iter(n, 7, "MAC", NULL), CF_ERR_CORRUPT);
    assert_int_equal(cf_pbe_check_iter(NULL, 1, "MAC", NULL), CF_OK); /* absent = 1 */
    cf_why_t why = {""};
    assert_int_equal(cf_pbe_check_iter(NULL, 0, NULL, &why), CF_ERR_TOOBIG);
    assert_string_equal(why.text, "encryption: iteration count 1 is over the cap of 0");
    ASN1_INTEGER_free(n);
}

static void test_refused_algorithms(void **state)
{
    (void) state;
    /* scrypt: its memory cost would be the file's to choose */
    X509_ALGOR *scrypt = PKCS5_pbe2_set_scrypt(EVP_aes_256_cbc(), NULL, 0, NULL, 16384, 8, 1);
    assert_non_null(scrypt);
    s_expect(scrypt, S_CAP, CF_ERR_UNSUPPORTED, "scrypt");
    /* a PRF that is no PRF (sha256 itself), a cipher nobody knows */
    s_expect(s_pbes2(&(s_edit_t){.prf_oid = "2.16.840.1.101.3.4.2.1"}), S_CAP, CF_ERR_UNSUPPORTED,
             "sha256");
    s_expect(s_pbes2(&(s_edit_t){.cipher_oid = "1.3.6.1.4.1.99999.1"}), S_CAP, CF_ERR_UNSUPPORTED,
             "unknown cipher");
    /* an outer algorithm that is no PBE scheme at all */
    X509_ALGOR *sha = X509_ALGOR_new();
    X509_ALGOR_set0(sha, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, NULL);
    s_expect(sha, S_CAP, CF_ERR_UNSUPPORTED, "algorithm sha256 is not supported");
    cf_why_t why = {""};
    assert_int_equal(cf_pbe_unsupported(NULL, "key", &why), CF_ERR_UNSUPPORTED);
    assert_string_equal(why.text, "key: algorithm unknown is not supported");
}

static void test_malformed_parameters(void **state)
{
    (void) state;
    X509_ALGOR *pbes2 = X509_ALGOR_new();
    X509_ALGOR_set0(pbes2, OBJ_nid2obj(NID_pbes2), V_ASN1_NULL, NULL);
    s_expect(pbes2, S_CAP, CF_ERR_CORRUPT, "malformed PBES2 parameters");
    s_expect(s_pbes2(&(s_edit_t){.kdf_not_seq = 1}), S_CAP, CF_ERR_CORRUPT,
             "malformed PBKDF2 parameters");
    X509_ALGOR *pbe1 = X509_ALGOR_new();
    X509_ALGOR_set0(pbe1, OBJ_nid2obj(NID_pbe_WithSHA1And3_Key_TripleDES_CBC), V_ASN1_NULL, NULL);
    s_expect(pbe1, S_CAP, CF_ERR_CORRUPT, "malformed PBE parameters");
    s_expect(NULL, S_CAP, CF_ERR_CORRUPT, "no algorithm");
}

static void test_legacy_provider_missing(void **state)
{
    (void) state;
    /* Where the legacy module cannot load, legacy ciphers are refused with a way out, AES is
       unaffected, and a ctx remembers the failure instead of retrying per call. */
    char *old = getenv("OPENSSL_MODULES") ? strdup(getenv("OPENSSL_MODULES")) : NULL;
    setenv("OPENSSL_MODULES", "/nonexistent/ossl-modules", 1);
    cf_pbe_ctx_t ctx = {0};
    OSSL_LIB_CTX *libctx = NULL;
    cf_why_t why = {""};
    X509_ALGOR *rc2 = PKCS5_pbe_set(NID_pbe_WithSHA1And40BitRC2_CBC, 2048, NULL, 0);
    assert_int_equal(cf_pbe_check(rc2, S_CAP, &ctx, "certificate encryption", &libctx, &why),
                     CF_ERR_UNSUPPORTED);
    assert_non_null(strstr(why.text, "legacy provider"));
    assert_non_null(strstr(why.text, "re-export"));
    assert_int_equal(ctx.legacy_failed, 1);
    X509_ALGOR *aes = s_pbes2(&(s_edit_t){0});
    assert_int_equal(cf_pbe_check(aes, S_CAP, &ctx, NULL, &libctx, NULL), CF_OK);
    cf_pbe_ctx_clear(&ctx);
    if (old)
        setenv("OPENSSL_MODULES", old, 1);
    else
        unsetenv("OPENSSL_MODULES");
    free(old);
    assert_int_equal(cf_pbe_check(rc2, S_CAP, &ctx, NULL, &libctx, NULL), CF_OK);
    assert_non_null(libctx);
    cf_pbe_ctx_clear(&ctx);
    X509_ALGOR_free(aes);
    X509_ALGOR_free(rc2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_pbes1_and_pkcs12_schemes),
        cmocka_unit_test(test_legacy_context_works),
        cmocka_unit_test(test_iteration_counts),
        cmocka_unit_test(test_refused_algorithms),
        cmocka_unit_test(test_malformed_parameters),
        cmocka_unit_test(test_legacy_provider_missing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
