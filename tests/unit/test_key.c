/*  test_key - private keys: generate, PEM/DER round trips, passwords, refusals  */
#include "cf_test.h"

#include <stdio.h>
#include <string.h>

#include <openssl/pem.h>

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

/* Load <s_dir>/file with password; fail unless the result is want (and nothing on failure). */
static void s_expect(const char *file, const char *password, cf_err_t want)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%s", s_dir, file);
    size_t len = 0;
    char *pem = cf_test_read_file(path, &len);
    cf_key_t *key = NULL;
    cf_err_t rc = cf_key_from_pem(pem, len, password, &key);
    if (rc != want)
        fail_msg("%s (password %s): got %s, want %s", file, password ? password : "none",
                 cf_err_name(rc), cf_err_name(want));
    if (rc != CF_OK)
        assert_null(key);
    cf_key_destroy(&key);
    free(pem);
}

/* A copy of text with the first find replaced by repl (the test frees it). */
static char *s_edit(const char *text, const char *find, const char *repl)
{
    const char *at = strstr(text, find);
    assert_non_null(at);
    size_t head = (size_t) (at - text), flen = strlen(find), rlen = strlen(repl);
    char *out = calloc(1, strlen(text) - flen + rlen + 1);
    memcpy(out, text, head);
    memcpy(out + head, repl, rlen);
    strcpy(out + head + rlen, at + flen);
    return out;
}

static void test_not_pem_rejected(void **state)
{
    (void) state;
    cf_key_t *key = NULL, *back = NULL;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &key), CF_OK);
    /* no "-----BEGIN " anywhere: refused before any decoding (the DER form is not PEM) */
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(cf_key_to_der(key, &der, &len), CF_OK);
    assert_int_equal(cf_key_from_pem((const char *) der, len, NULL, &back), CF_ERR_CORRUPT);
    cf_mem_free_secret(der, len);
    static const char *bad[] = {
        "x",
        "-----BEGIN",
        "-----BEGINPRIVATE KEY-----\nAAAA\n-----ENDPRIVATE KEY-----\n",
        "----BEGIN PRIVATE KEY-----\nAAAA\n----END PRIVATE KEY-----\n",
        "-----BEGIN PRIVATE KEY-----\nMAA=\n", /* no END line */
        "-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n",
        "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n", /* not a key */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (cf_key_from_pem(bad[i], strlen(bad[i]), "pw", &back) != CF_ERR_CORRUPT)
            fail_msg("case %zu not refused as CORRUPT", i);
        assert_null(back);
    }
    /* text before the PEM and a certificate before the key are skipped, as OpenSSL does */
    assert_int_equal(cf_test_sh("cd '%s' && openssl req -x509 -newkey ec -pkeyopt "
                                "ec_paramgen_curve:P-256 -nodes -keyout k.pem -out c.pem "
                                "-subj /CN=x -days 1 && (echo 'Bag Attributes'; cat c.pem k.pem)"
                                " > both.pem",
                                s_dir),
                     0);
    s_expect("both.pem", NULL, CF_OK);
    s_expect("c.pem", NULL, CF_ERR_CORRUPT);
    cf_key_destroy(&key);
}

static void test_encrypted_pkcs8_checks(void **state)
{
    (void) state;
    /* the peer writes each scheme; the KDF and its iteration count are checked first */
    assert_int_equal(
        cf_test_sh("set -e; cd '%s'; openssl genpkey -algorithm EC -pkeyopt "
                   "ec_paramgen_curve:P-256 -out p256.pem; "
                   "p8() { out=$1; shift; openssl pkcs8 -topk8 -in p256.pem -passout pass:pw "
                   "-out $out \"$@\"; }; "
                   "p8 over.pem -v2 aes-256-cbc -iter %lu; p8 scrypt.pem -scrypt; "
                   "p8 sha512.pem -v2 aes-128-cbc -v2prf hmacWithSHA512 -iter 1000; "
                   "p8 3des.pem -v1 PBE-SHA1-3DES; "
                   "p8 rc2.pem -v1 PBE-SHA1-RC2-40 -provider legacy -provider default",
                   s_dir, CF_KEY_MAX_ITER + 1),
        0);
    static const struct {
        const char *file;
        const char *password;
        cf_err_t expect;
    } cases[] = {
        {"over.pem", "pw", CF_ERR_TOOBIG},
        {"over.pem", NULL, CF_ERR_TOOBIG},
        {"scrypt.pem", "pw", CF_ERR_UNSUPPORTED},
        {"scrypt.pem", NULL, CF_ERR_UNSUPPORTED},
        {"sha512.pem", "pw", CF_OK},
        {"sha512.pem", "no", CF_ERR_BADPASS},
        {"3des.pem", "pw", CF_OK},
        {"3des.pem", "no", CF_ERR_BADPASS},
        {"rc2.pem", "pw", CF_OK}, /* legacy provider, private library context */
        {"rc2.pem", NULL, CF_ERR_BADPASS},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        s_expect(cases[i].file, cases[i].password, cases[i].expect);
}

/* Cut the DER of pem's first block to each length in cuts (negative: counted from its end)
   and armour it again, headers kept: a well-formed PEM of a broken structure. Each must load
   as want, with the right password ("pw") and with none. */
static void s_expect_cut_der(const char *pem, size_t len, const long *cuts, size_t n, cf_err_t want)
{
    BIO *in = BIO_new_mem_buf(pem, (int) len);
    char *name = NULL, *header = NULL;
    unsigned char *der = NULL;
    long dlen = 0;
    assert_int_equal(PEM_read_bio(in, &name, &header, &der, &dlen), 1);
    for (size_t i = 0; i < n; i++) {
        long cut = cuts[i] < 0 ? dlen + cuts[i] : cuts[i];
        BIO *out = BIO_new(BIO_s_mem());
        assert_true(PEM_write_bio(out, name, header, der, cut) > 0);
        char *text = NULL;
        size_t tlen = (size_t) BIO_get_mem_data(out, &text);
        cf_key_t *key = NULL;
        for (int pw = 0; pw < 2; pw++) {
            cf_err_t rc = cf_key_from_pem(text, tlen, pw ? "pw" : NULL, &key);
            if (rc != want)
                fail_msg("%s cut to %ld of %ld bytes: got %s, want %s", name, cut, dlen,
                         cf_err_name(rc), cf_err_name(want));
            assert_null(key);
        }
        BIO_free(out);
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(der);
    BIO_free(in);
}

static void test_truncated_encrypted(void **state)
{
    (void) state;
    cf_key_t *key = NULL, *back = NULL;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &key), CF_OK);
    char *pem = NULL;
    size_t len = 0;
    assert_int_equal(cf_key_to_pem(key, "pw", &pem, &len), CF_OK);
    /* the PEM text cut short (len - 1 only drops the final newline): damage, whatever the
       password */
    const size_t cuts[] = {40, len / 3, len / 2, len - 40, len - 27, len - 2};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        assert_int_equal(cf_key_from_pem(pem, cuts[i], "pw", &back), CF_ERR_CORRUPT);
        assert_int_equal(cf_key_from_pem(pem, cuts[i], NULL, &back), CF_ERR_CORRUPT);
    }
    const long dcuts[] = {1, 2, 16, 60, -16, -1};
    s_expect_cut_der(pem, len, dcuts, sizeof(dcuts) / sizeof(dcuts[0]), CF_ERR_CORRUPT);
    /* whole, the wrong password is still the password */
    assert_int_equal(cf_key_from_pem(pem, len, "wrong", &back), CF_ERR_BADPASS);
    assert_null(back);
    cf_mem_free_secret(pem, len);
    cf_key_destroy(&key);
}

static void test_dek_info_damage(void **state)
{
    (void) state;
    assert_int_equal(cf_test_sh("set -e; cd '%s'; openssl genpkey -algorithm EC -pkeyopt "
                                "ec_paramgen_curve:P-256 -out p256.pem; openssl ec -in p256.pem "
                                "-aes256 -passout pass:pw -out dek.pem",
                                s_dir),
                     0);
    s_expect("dek.pem", "pw", CF_OK);
    s_expect("dek.pem", "wrong", CF_ERR_BADPASS);
    s_expect("dek.pem", NULL, CF_ERR_BADPASS);
    char path[600];
    snprintf(path, sizeof(path), "%s/dek.pem", s_dir);
    size_t len = 0;
    char *pem = cf_test_read_file(path, &len);
    /* truncated ciphertext, armoured again: not a whole number of AES blocks, so damage (a cut
       on a block boundary cannot be told from a wrong password, and is not tested) */
    const long dcuts[] = {1, 7, 33, -1, -5, -17};
    s_expect_cut_der(pem, len, dcuts, sizeof(dcuts) / sizeof(dcuts[0]), CF_ERR_CORRUPT);
    const char *body = strstr(pem, "\n\n"); /* the base64 starts after the blank line */
    assert_non_null(body);
    size_t at = (size_t) (body - pem) + 2;
    char *bad64 = strdup(pem);
    bad64[at + 8] = '*'; /* not base64 */
    char *short4 = strdup(pem);
    memmove(short4 + at, short4 + at + 4, strlen(short4 + at + 4) + 1); /* 3 bytes fewer */
    char *short_iv = strdup(pem); /* 4 hex digits of the IV's 32 */
    char *iv = strstr(short_iv, "DEK-Info: AES-256-CBC,") + 26;
    memmove(iv, strchr(iv, '\n'), strlen(strchr(iv, '\n')) + 1);
    char *edited[] = {
        bad64,
        s_edit(pem, "Proc-Type: 4,ENCRYPTED", "Proc-Type: 4,ENCRYPTD"),
        s_edit(pem, "DEK-Info: AES-256-CBC,", "DEK-Info: AES-256-CBC,XYZ"), /* bad IV */
        short_iv,
        short4, /* not a whole number of cipher blocks */
        s_edit(pem, "AES-256-CBC", "AES-999-CBC"),
    };
    const cf_err_t want[] = {CF_ERR_CORRUPT, CF_ERR_CORRUPT, CF_ERR_CORRUPT,
                             CF_ERR_CORRUPT, CF_ERR_CORRUPT, CF_ERR_UNSUPPORTED};
    for (size_t i = 0; i < sizeof(edited) / sizeof(edited[0]); i++) {
        cf_key_t *key = NULL;
        cf_err_t rc = cf_key_from_pem(edited[i], strlen(edited[i]), "pw", &key);
        if (rc != want[i])
            fail_msg("edit %zu: got %s, want %s", i, cf_err_name(rc), cf_err_name(want[i]));
        assert_null(key);
        free(edited[i]);
    }
    free(pem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_every_type),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_passwords),
        cmocka_unit_test(test_openssl_peer),
        cmocka_unit_test(test_corrupt_and_oversize),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_not_pem_rejected),
        cmocka_unit_test(test_encrypted_pkcs8_checks),
        cmocka_unit_test(test_truncated_encrypted),
        cmocka_unit_test(test_dek_info_damage),
    };
    return cmocka_run_group_tests(tests, s_setup, NULL);
}
