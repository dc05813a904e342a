/*  test_p12 - PKCS#12 parse and create against files made by the openssl tool  */
#include "cf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_mem.h"
#include "cf_p12.h"

static char s_dir[512];

/* Every fixture comes from the openssl command-line tool, an implementation independent of
   the code under test: a P-256 CA and leaves of each key type, exported several ways. */
static int s_setup(void **state)
{
    (void) state;
    cf_test_tmpdir("test_p12", s_dir, sizeof(s_dir));
    int rc = cf_test_sh(
        "set -e; cd '%s'; "
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key "
        "-out ca.pem -days 30 -subj '/CN=Test CA' -addext basicConstraints=critical,CA:TRUE; "
        "leaf() { openssl req -new $2 -nodes -keyout $1.key -out $1.csr -subj /CN=leaf-$1; "
        "openssl x509 -req -in $1.csr -CA ca.pem -CAkey ca.key -days 10 -out $1.pem; }; "
        "leaf p256 '-newkey ec -pkeyopt ec_paramgen_curve:P-256'; "
        "leaf rsa '-newkey rsa:2048'; leaf ed '-newkey ed25519'; leaf rsa1k '-newkey rsa:1024'; "
        "openssl genpkey -genparam -algorithm DSA -pkeyopt pbits:2048 -pkeyopt qbits:224 "
        "-out dsa.param; openssl genpkey -paramfile dsa.param -out dsa.key; "
        "openssl req -new -key dsa.key -out dsa.csr -subj /CN=leaf-dsa; "
        "openssl x509 -req -in dsa.csr -CA ca.pem -CAkey ca.key -days 10 -out dsa.pem; "
        "for t in p256 rsa ed rsa1k dsa; do openssl pkcs12 -export -in $t.pem -inkey $t.key "
        "-certfile ca.pem -passout pass:secret -out $t.p12; done; "
        "openssl pkcs12 -export -in p256.pem -inkey p256.key -certfile ca.pem -iter 1 "
        "-passout pass:secret -out fast.p12; "
        "openssl pkcs12 -export -in p256.pem -inkey p256.key -iter 5000 -passout pass:secret "
        "-out iter5000.p12; "
        "openssl pkcs12 -export -legacy -in p256.pem -inkey p256.key -certfile ca.pem "
        "-passout pass:secret -out legacy.p12; "
        "openssl pkcs12 -export -in p256.pem -inkey p256.key -iter 1 -nomac "
        "-passout pass:secret -out nomac.p12; "
        "openssl pkcs12 -export -in p256.pem -inkey p256.key -keypbe NONE -certpbe NONE "
        "-passout pass:secret -out plain.p12; "
        "openssl pkcs12 -export -in p256.pem -inkey p256.key -passout pass: -out empty.p12; "
        "openssl pkcs12 -export -nocerts -inkey p256.key -passout pass:secret -out nocert.p12; "
        "printf secret > pw.txt",
        s_dir);
    assert_int_equal(rc, 0);
    return 0;
}

static char *s_read(const char *name, size_t *len)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", s_dir, name);
    return cf_test_read_file(path, len);
}

static cf_cert_t *s_cert(const char *name)
{
    size_t len = 0;
    char *pem = s_read(name, &len);
    cf_cert_t *cert = NULL;
    assert_int_equal(cf_cert_parse(pem, len, &cert), CF_OK);
    free(pem);
    return cert;
}

static cf_key_t *s_key(const char *name)
{
    size_t len = 0;
    char *pem = s_read(name, &len);
    cf_key_t *key = NULL;
    assert_int_equal(cf_key_from_pem(pem, len, NULL, &key), CF_OK);
    free(pem);
    return key;
}

/* Parse file with password; expect rc; return the why text in why (may be NULL). */
static void s_expect(const char *name, const char *password, unsigned long max_iter, cf_err_t want,
                     const char *why_has)
{
    size_t len = 0;
    char *der = s_read(name, &len);
    cf_p12_content_t c;
    cf_why_t why = {""};
    cf_err_t rc = cf_p12_parse(der, len, password, max_iter, &c, &why);
    if (rc != want)
        fail_msg("%s: got %s (%s), want %s", name, cf_err_name(rc), why.text, cf_err_name(want));
    if (why_has && !strstr(why.text, why_has))
        fail_msg("%s: why \"%s\" lacks \"%s\"", name, why.text, why_has);
    if (rc != CF_OK) {
        assert_null(c.key);
        assert_int_equal(c.n_certs, 0);
    }
    cf_p12_content_clear(&c);
    free(der);
}

static void test_usage(void **state)
{
    (void) state;
    size_t len = 0;
    char *der = s_read("p256.p12", &len);
    cf_p12_content_t c;
    cf_why_t why = {""};
    assert_int_equal(cf_p12_parse(der, len, "secret", 0, &c, &why), CF_OK);
    assert_non_null(c.key);
    assert_int_equal(cf_key_type(c.key), CF_KEY_P256);
    assert_int_equal(c.n_certs, 2); /* leaf and CA, in whatever order the file has */
    cf_cert_t *leaf = s_cert("p256.pem");
    int found = 0;
    for (size_t i = 0; i < c.n_certs; i++)
        found += strcmp(cf_cert_fingerprint(c.certs[i]), cf_cert_fingerprint(leaf)) == 0;
    assert_int_equal(found, 1);
    assert_int_equal(cf_cert_matches_key(leaf, c.key), CF_OK);

    /* and back: our own PKCS#12 of the same key and certificate parses the same */
    unsigned char *out = NULL;
    size_t out_len = 0;
    assert_int_equal(cf_p12_create(c.key, leaf, NULL, 0, "pw2", "leaf", 0, &out, &out_len), CF_OK);
    cf_p12_content_t back;
    assert_int_equal(cf_p12_parse(out, out_len, "pw2", 0, &back, NULL), CF_OK);
    assert_int_equal(back.n_certs, 1);
    assert_string_equal(cf_cert_fingerprint(back.certs[0]), cf_cert_fingerprint(leaf));
    assert_int_equal(cf_cert_matches_key(leaf, back.key), CF_OK);
    cf_p12_content_clear(&back);
    cf_p12_content_clear(&c);
    cf_p12_content_clear(&c); /* safe to repeat */
    cf_cert_destroy(&leaf);
    cf_mem_free(out);
    free(der);
}

static void test_key_types(void **state)
{
    (void) state;
    static const struct {
        const char *file;
        cf_key_type_t type;
    } cases[] = {
        {"p256.p12", CF_KEY_P256}, {"rsa.p12", CF_KEY_RSA2048}, {"ed.p12", CF_KEY_ED25519}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = 0;
        char *der = s_read(cases[i].file, &len);
        cf_p12_content_t c;
        assert_int_equal(cf_p12_parse(der, len, "secret", 0, &c, NULL), CF_OK);
        assert_int_equal(cf_key_type(c.key), cases[i].type);
        assert_int_equal(c.n_certs, 2);
        cf_p12_content_clear(&c);
        free(der);
    }
}

static void test_wrong_password(void **state)
{
    (void) state;
    s_expect("p256.p12", "Secret", 0, CF_ERR_BADPASS, "wrong password");
    s_expect("p256.p12", NULL, 0, CF_ERR_BADPASS, "none was given");
    s_expect("p256.p12", "", 0, CF_ERR_BADPASS, "none was given");
    s_expect("nomac.p12", "wrong", 0, CF_ERR_BADPASS, "wrong password"); /* told by decryption */
    s_expect("legacy.p12", "wrong", 0, CF_ERR_BADPASS, NULL);
}

static void test_other_protections(void **state)
{
    (void) state;
    s_expect("empty.p12", NULL, 0, CF_OK, NULL); /* made with an empty password */
    s_expect("empty.p12", "", 0, CF_OK, NULL);
    s_expect("nomac.p12", "secret", 0, CF_OK, NULL);
    s_expect("plain.p12", "secret", 0, CF_OK, NULL); /* unencrypted bags, MAC only */
    /* RC2-40 certificate bag and 3DES key bag: decrypted in a private legacy context */
    s_expect("legacy.p12", "secret", 0, CF_OK, NULL);
    s_expect("nocert.p12", "secret", 0, CF_ERR_NOTFOUND, "no certificate");
}

static void test_legacy_provider_missing(void **state)
{
    (void) state;
    /* Where OpenSSL's legacy module cannot be loaded, RC2 files are refused with a way out;
       AES files are unaffected. */
    char *old = getenv("OPENSSL_MODULES") ? strdup(getenv("OPENSSL_MODULES")) : NULL;
    setenv("OPENSSL_MODULES", "/nonexistent/ossl-modules", 1);
    s_expect("legacy.p12", "secret", 0, CF_ERR_UNSUPPORTED, "legacy provider");
    s_expect("legacy.p12", "secret", 0, CF_ERR_UNSUPPORTED, "re-export");
    s_expect("p256.p12", "secret", 0, CF_OK, NULL);
    if (old)
        setenv("OPENSSL_MODULES", old, 1);
    else
        unsetenv("OPENSSL_MODULES");
    free(old);
    s_expect("legacy.p12", "secret", 0, CF_OK, NULL);
}

static void test_truncated(void **state)
{
    (void) state;
    size_t len = 0;
    char *der = s_read("fast.p12", &len);
    size_t cuts[] = {1, 2, 4, 16, len / 4, len / 2, len - 64, len - 8, len - 1};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        cf_p12_content_t c;
        cf_why_t why = {""};
        assert_int_equal(cf_p12_parse(der, cuts[i], "secret", 0, &c, &why), CF_ERR_CORRUPT);
        assert_non_null(strstr(why.text, "truncated"));
        assert_null(c.key);
    }
    /* trailing garbage is damage too */
    char *longer = malloc(len + 3);
    memcpy(longer, der, len);
    memcpy(longer + len, "xyz", 3);
    cf_p12_content_t c;
    assert_int_equal(cf_p12_parse(longer, len + 3, "secret", 0, &c, NULL), CF_ERR_CORRUPT);
    free(longer);
    free(der);
}

static void test_flipped_bytes(void **state)
{
    (void) state;
    size_t len = 0;
    unsigned char *der = (unsigned char *) s_read("fast.p12", &len);
    /* The MAC salt sits just before the final INTEGER (iteration count 1: 02 01 01): the
       contents still decrypt, so this is damage, not a wrong password. */
    der[len - 5] ^= 0x01;
    cf_p12_content_t c;
    cf_why_t why = {""};
    assert_int_equal(cf_p12_parse(der, len, "secret", 0, &c, &why), CF_ERR_CORRUPT);
    assert_non_null(strstr(why.text, "altered or damaged"));
    der[len - 5] ^= 0x01;
    /* Every third byte flipped in turn: never a crash or leak, any failure leaves nothing. */
    size_t failed = 0, tried = 0;
    for (size_t i = 0; i < len; i += 3, tried++) {
        der[i] ^= 0x5a;
        cf_err_t rc = cf_p12_parse(der, len, "secret", 0, &c, NULL);
        der[i] ^= 0x5a;
        assert_true(rc == CF_OK || rc == CF_ERR_CORRUPT || rc == CF_ERR_BADPASS ||
                    rc == CF_ERR_UNSUPPORTED || rc == CF_ERR_TOOBIG || rc == CF_ERR_NOTFOUND);
        failed += rc != CF_OK;
        if (rc != CF_OK)
            assert_int_equal(c.n_certs, 0);
        cf_p12_content_clear(&c);
    }
    assert_true(failed * 10 >= tried * 9); /* the MAC catches nearly everything */
    free(der);
}

static void test_caps(void **state)
{
    (void) state;
    size_t big = CF_P12_MAX_INPUT + 1;
    unsigned char *buf = calloc(1, big);
    cf_p12_content_t c;
    cf_why_t why = {""};
    assert_int_equal(cf_p12_parse(buf, big, "x", 0, &c, &why), CF_ERR_TOOBIG);
    assert_int_equal(cf_p12_parse(buf, 0, "x", 0, &c, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_p12_parse(NULL, 10, "x", 0, &c, NULL), CF_ERR_INVALID);
    free(buf);
    char longpw[CF_P12_MAX_PASSWORD + 2];
    memset(longpw, 'a', sizeof(longpw) - 1);
    longpw[sizeof(longpw) - 1] = '\0';
    s_expect("p256.p12", longpw, 0, CF_ERR_INVALID, "password");
    s_expect("iter5000.p12", "secret", 4096, CF_ERR_TOOBIG, "iteration count 5000");
    s_expect("iter5000.p12", "secret", 5000, CF_OK, NULL);
    s_expect("p256.pem", "secret", 0, CF_ERR_CORRUPT, "PEM");
}

static void test_unsupported(void **state)
{
    (void) state;
    s_expect("rsa1k.p12", "secret", 0, CF_ERR_UNSUPPORTED, "RSA-1024");
    s_expect("dsa.p12", "secret", 0, CF_ERR_UNSUPPORTED, "DSA");
    /* The key bag's cipher OID (aes-256-cbc, 2.16.840.1.101.3.4.1.42) changed to an unknown
       arc: no MAC in this file, so only our algorithm check can tell. */
    size_t len = 0;
    unsigned char *der = (unsigned char *) s_read("nomac.p12", &len);
    static const unsigned char oid[] = {0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                        0x65, 0x03, 0x04, 0x01, 0x2a};
    size_t hits = 0;
    for (size_t i = 0; i + sizeof(oid) <= len; i++) {
        if (memcmp(der + i, oid, sizeof(oid)) == 0) {
            der[i + sizeof(oid) - 1] = 0x63;
            hits++;
        }
    }
    assert_true(hits >= 1);
    cf_p12_content_t c;
    cf_why_t why = {""};
    assert_int_equal(cf_p12_parse(der, len, "secret", 0, &c, &why), CF_ERR_UNSUPPORTED);
    assert_non_null(strstr(why.text, "private key encryption"));
    free(der);
}

static void test_create_is_modern(void **state)
{
    (void) state;
    cf_key_t *key = s_key("rsa.key");
    cf_cert_t *leaf = s_cert("rsa.pem");
    cf_cert_t *ca = s_cert("ca.pem");
    const cf_cert_t *extra[] = {ca};
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(cf_p12_create(key, leaf, extra, 1, "secret", "leaf-rsa", 0, &der, &len),
                     CF_OK);
    char path[700];
    snprintf(path, sizeof(path), "%s/ours.p12", s_dir);
    cf_test_write_file(path, der, len);
    /* openssl reads it without the legacy provider, and sees only AES/PBKDF2/SHA-256 */
    assert_int_equal(cf_test_sh("cd '%s' && openssl pkcs12 -in ours.p12 -passin file:pw.txt "
                                "-noout && openssl pkcs12 -in ours.p12 -passin file:pw.txt -info "
                                "-noout > info.txt 2>&1",
                                s_dir),
                     0);
    assert_int_equal(cf_test_sh("cd '%s' && grep -q 'MAC: sha256, Iteration 2048' info.txt && "
                                "grep -q 'PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, "
                                "Iteration 2048, PRF hmacWithSHA256' info.txt && "
                                "grep -q 'Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, "
                                "Iteration 2048, PRF hmacWithSHA256' info.txt && "
                                "test $(grep -c 'Certificate bag' info.txt) = 2 && "
                                "! grep -Eqi 'rc2|des|sha1' info.txt",
                                s_dir),
                     0);
    /* the key and certificate openssl extracts are ours */
    assert_int_equal(
        cf_test_sh("cd '%s' && P='openssl pkcs12 -in ours.p12 -passin file:pw.txt -nodes' && "
                   "[ \"$($P -clcerts -nokeys | openssl x509 -noout -fingerprint -sha256)\" = "
                   "\"$(openssl x509 -in rsa.pem -noout -fingerprint -sha256)\" ] && "
                   "[ \"$($P -nocerts | openssl pkey -pubout)\" = "
                   "\"$(openssl pkey -in rsa.key -pubout)\" ]",
                   s_dir),
        0);
    cf_mem_free(der);
    cf_key_destroy(&key);
    cf_cert_destroy(&leaf);
    cf_cert_destroy(&ca);
}

static void test_create_refuses(void **state)
{
    (void) state;
    cf_key_t *key = s_key("p256.key");
    cf_key_t *other = s_key("ed.key");
    cf_cert_t *leaf = s_cert("p256.pem");
    unsigned char *der = (unsigned char *) "x";
    size_t len = 9;
    assert_int_equal(cf_p12_create(key, leaf, NULL, 0, "", NULL, 0, &der, &len), CF_ERR_INVALID);
    assert_null(der);
    assert_int_equal(len, 0);
    assert_int_equal(cf_p12_create(key, leaf, NULL, 0, NULL, NULL, 0, &der, &len), CF_ERR_INVALID);
    assert_int_equal(cf_p12_create(key, NULL, NULL, 0, "pw", NULL, 0, &der, &len), CF_ERR_INVALID);
    assert_int_equal(cf_p12_create(other, leaf, NULL, 0, "pw", NULL, 0, &der, &len),
                     CF_ERR_KEYMISMATCH);
    assert_int_equal(cf_p12_create(key, leaf, NULL, 0, "pw", NULL, CF_P12_MAX_ITER + 1, &der, &len),
                     CF_ERR_INVALID);
    const cf_cert_t *many[CF_CERT_MAX_CHAIN + 1];
    for (size_t i = 0; i < CF_CERT_MAX_CHAIN + 1; i++)
        many[i] = leaf;
    assert_int_equal(
        cf_p12_create(key, leaf, many, CF_CERT_MAX_CHAIN + 1, "pw", NULL, 0, &der, &len),
        CF_ERR_TOOBIG);
    /* a certificate-only file is fine (public-only export) */
    assert_int_equal(cf_p12_create(NULL, leaf, NULL, 0, "pw", NULL, 1, &der, &len), CF_OK);
    cf_p12_content_t c;
    assert_int_equal(cf_p12_parse(der, len, "pw", 0, &c, NULL), CF_OK);
    assert_null(c.key);
    assert_int_equal(c.n_certs, 1);
    cf_p12_content_clear(&c);
    cf_mem_free(der);
    cf_key_destroy(&key);
    cf_key_destroy(&other);
    cf_cert_destroy(&leaf);
}

/* Fail allocation n = 0, 1, 2, ... until the parse succeeds: every failure unwinds cleanly
   (ASan reports any leak) and says NOMEM. */
static void test_alloc_failure(void **state)
{
    (void) state;
    size_t len = 0;
    char *der = s_read("fast.p12", &len);
    long n = 0;
    for (;; n++) {
        cf_p12_content_t c;
        cf_test_alloc_fail_at(n);
        cf_err_t rc = cf_p12_parse(der, len, "secret", 0, &c, NULL);
        long failed = cf_test_alloc_failed();
        cf_test_alloc_fail_at(-1);
        if (failed == 0) {
            assert_int_equal(rc, CF_OK);
            cf_p12_content_clear(&c);
            break;
        }
        assert_int_equal(rc, CF_ERR_NOMEM);
        assert_null(c.key);
        assert_int_equal(c.n_certs, 0);
    }
    assert_true(n > 0);
    free(der);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_key_types),
        cmocka_unit_test(test_wrong_password),
        cmocka_unit_test(test_other_protections),
        cmocka_unit_test(test_legacy_provider_missing),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_flipped_bytes),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_unsupported),
        cmocka_unit_test(test_create_is_modern),
        cmocka_unit_test(test_create_refuses),
        cmocka_unit_test(test_alloc_failure),
    };
    return cmocka_run_group_tests(tests, s_setup, NULL);
}
