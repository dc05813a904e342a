/*  test_import - bundles: import PKCS#12 / PEM pair / public-only, check, export  */
#include "cf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cf_import.h"
#include "cf_mem.h"
#include "cf_p12.h"

static char s_dir[512];

/* Fixtures from the openssl tool (an implementation independent of ours): a root CA, an
   intermediate, leaves of each key type, a leaf of another CA, an expired leaf, encrypted
   keys in PKCS#8 and traditional form. */
static int s_setup(void **state)
{
    (void) state;
    cf_test_tmpdir("test_import", s_dir, sizeof(s_dir));
    int rc = cf_test_sh(
        "set -e; cd '%s'; printf 'basicConstraints=critical,CA:TRUE\\n"
        "keyUsage=critical,keyCertSign,cRLSign\\n' > ca.ext; "
        "printf 'basicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth,clientAuth\\n' "
        "> leaf.ext; EC='-newkey ec -pkeyopt ec_paramgen_curve:P-256'; "
        "root() { openssl req -x509 $EC -nodes -keyout $1.key -out $1.pem -days 30 "
        "-subj \"/O=Example/CN=$2\" -addext basicConstraints=critical,CA:TRUE; }; "
        "sign() { openssl req -new $3 -nodes -keyout $1.key -out $1.csr -subj "
        "\"/O=Example/CN=$1\"; "
        "openssl x509 -req -in $1.csr -CA $2.pem -CAkey $2.key -days ${5:-10} -extfile $4 "
        "-out $1.pem; }; "
        "root ca 'Test CA'; root other 'Other CA'; "
        "sign inter ca \"$EC\" ca.ext 20; sign p256 ca \"$EC\" leaf.ext; "
        "sign rsa ca '-newkey rsa:2048' leaf.ext; sign ed ca '-newkey ed25519' leaf.ext; "
        "sign deep inter \"$EC\" leaf.ext; sign stranger other \"$EC\" leaf.ext; "
        "sign old ca \"$EC\" leaf.ext -1; sign weak ca '-newkey rsa:1024' leaf.ext; "
        "cat deep.pem inter.pem > deep-chain.pem; cat inter.pem deep.pem > deep-rev.pem; "
        "openssl x509 -in p256.pem -outform DER -out p256.der; "
        "openssl pkey -in p256.key -aes256 -passout pass:kpw -out p256.p8enc.key; "
        "openssl ec -in p256.key -aes256 -passout pass:kpw -out p256.trad.key; "
        "openssl rsa -in rsa.key -aes256 -traditional -passout pass:kpw -out rsa.trad.key; "
        "cat p256.pem p256.key > p256.combined.pem; "
        "for t in p256 rsa ed; do openssl pkcs12 -export -in $t.pem -inkey $t.key "
        "-certfile ca.pem -passout pass:secret -iter 64 -out $t.p12; done; "
        "openssl pkcs12 -export -in deep.pem -inkey deep.key -certfile deep-rev.pem "
        "-passout pass:secret -iter 64 -out deep.p12; "
        "openssl pkcs12 -export -in p256.pem -nokeys -passout pass:secret -out certonly.p12",
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

/* Import from files: a PKCS#12 (key NULL, pw set), a PEM pair, or public-only (both NULL). */
static cf_err_t s_imp(const char *file, const char *key, const char *pw,
                      const cf_import_check_t *check, cf_bundle_t **out, cf_why_t *why)
{
    size_t len = 0, klen = 0;
    char *buf = s_read(file, &len);
    char *k = key ? s_read(key, &klen) : NULL;
    cf_err_t rc = key  ? cf_import_pem(buf, len, k, klen, pw, check, out, why)
                  : pw ? cf_import_p12(buf, len, pw, check, out, why)
                       : cf_import_public(buf, len, check, out, why);
    free(buf);
    free(k);
    return rc;
}

static void test_usage(void **state)
{
    (void) state;
    /* an operator imports the server's PKCS#12 and checks it chains to our CA */
    cf_cert_t *ca = s_cert("ca.pem");
    cf_import_check_t check = {ca, 0};
    cf_bundle_t *b = NULL;
    cf_why_t why = {""};
    assert_int_equal(s_imp("p256.p12", NULL, "secret", &check, &b, &why), CF_OK);
    assert_int_equal(cf_bundle_kind(b), CF_BUNDLE_IMPORTED);
    assert_string_equal(cf_bundle_kind_name(cf_bundle_kind(b)), "imported");
    assert_string_equal(cf_cert_common_name(cf_bundle_cert(b)), "p256");
    assert_non_null(cf_bundle_key(b));
    assert_int_equal(cf_bundle_chain_len(b), 1); /* the CA came along in the file */
    assert_string_equal(cf_cert_fingerprint(cf_bundle_chain(b, 0)), cf_cert_fingerprint(ca));
    assert_null(cf_bundle_chain(b, 1));

    /* ... and exports it again for an agent package */
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(cf_bundle_to_p12(b, "pkg-pw", ca, &der, &len), CF_OK);
    cf_bundle_t *back = NULL;
    assert_int_equal(cf_import_p12(der, len, "pkg-pw", &check, &back, NULL), CF_OK);
    assert_string_equal(cf_cert_fingerprint(cf_bundle_cert(back)),
                        cf_cert_fingerprint(cf_bundle_cert(b)));
    assert_int_equal(cf_cert_matches_key(cf_bundle_cert(b), cf_bundle_key(back)), CF_OK);
    assert_int_equal(cf_bundle_chain_len(back), 1); /* the CA once, not twice */
    cf_mem_free(der);
    cf_bundle_destroy(&back);
    cf_bundle_destroy(&b);
    cf_bundle_destroy(&b); /* safe to repeat */
    cf_cert_destroy(&ca);
}

static void test_p12_key_types(void **state)
{
    (void) state;
    static const char *files[] = {"p256.p12", "rsa.p12", "ed.p12"};
    cf_cert_t *ca = s_cert("ca.pem");
    cf_import_check_t check = {ca, 0};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        cf_bundle_t *b = NULL;
        cf_why_t why = {""};
        cf_err_t rc = s_imp(files[i], NULL, "secret", &check, &b, &why);
        if (rc != CF_OK)
            fail_msg("%s: %s %s", files[i], cf_err_name(rc), why.text);
        cf_bundle_destroy(&b);
    }
    /* the PKCS#12 lists the chain in reverse; the leaf is still the key's certificate */
    cf_bundle_t *b = NULL;
    assert_int_equal(s_imp("deep.p12", NULL, "secret", &check, &b, NULL), CF_OK);
    assert_string_equal(cf_cert_common_name(cf_bundle_cert(b)), "deep");
    assert_int_equal(cf_bundle_chain_len(b), 1);
    assert_string_equal(cf_cert_common_name(cf_bundle_chain(b, 0)), "inter");
    cf_bundle_destroy(&b);
    cf_why_t why = {""};
    assert_int_equal(s_imp("p256.p12", NULL, "nope", &check, &b, &why), CF_ERR_BADPASS);
    assert_non_null(strstr(why.text, "wrong password"));
    assert_null(b);
    assert_int_equal(s_imp("certonly.p12", NULL, "secret", &check, &b, &why), CF_ERR_NOKEY);
    assert_non_null(strstr(why.text, "public-only"));
    cf_cert_destroy(&ca);
}

static void test_pem_pairs(void **state)
{
    (void) state;
    static const struct {
        const char *cert, *key, *pw;
    } ok[] = {
        {"p256.pem", "p256.key", NULL},       {"p256.pem", "p256.p8enc.key", "kpw"},
        {"p256.pem", "p256.trad.key", "kpw"}, {"rsa.pem", "rsa.trad.key", "kpw"},
        {"ed.pem", "ed.key", NULL},           {"p256.der", "p256.key", NULL},
    };
    cf_cert_t *ca = s_cert("ca.pem");
    cf_import_check_t check = {ca, 0};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        cf_bundle_t *b = NULL;
        cf_why_t why = {""};
        cf_err_t rc = s_imp(ok[i].cert, ok[i].key, ok[i].pw, &check, &b, &why);
        if (rc != CF_OK)
            fail_msg("%s + %s: %s %s", ok[i].cert, ok[i].key, cf_err_name(rc), why.text);
        assert_int_equal(cf_bundle_kind(b), CF_BUNDLE_IMPORTED);
        cf_bundle_destroy(&b);
    }
    /* one file holding certificate and key */
    size_t len = 0;
    char *both = s_read("p256.combined.pem", &len);
    cf_bundle_t *b = NULL;
    assert_int_equal(cf_import_pem(both, len, both, len, NULL, &check, &b, NULL), CF_OK);
    cf_bundle_destroy(&b);
    free(both);
    cf_cert_destroy(&ca);
}

static void test_pem_key_errors(void **state)
{
    (void) state;
    cf_bundle_t *b = NULL;
    cf_why_t why = {""};
    assert_int_equal(s_imp("p256.pem", "p256.p8enc.key", "wrong", NULL, &b, &why), CF_ERR_BADPASS);
    assert_string_equal(why.text, "wrong password for the private key");
    assert_int_equal(s_imp("p256.pem", "p256.trad.key", "wrong", NULL, &b, &why), CF_ERR_BADPASS);
    assert_int_equal(s_imp("p256.pem", "p256.p8enc.key", NULL, NULL, &b, &why), CF_ERR_BADPASS);
    assert_non_null(strstr(why.text, "no password was given"));
    assert_int_equal(s_imp("p256.pem", "p256.trad.key", "", NULL, &b, &why), CF_ERR_BADPASS);
    assert_non_null(strstr(why.text, "no password was given"));
    assert_int_equal(s_imp("p256.pem", "rsa.key", NULL, NULL, &b, &why), CF_ERR_KEYMISMATCH);
    assert_non_null(strstr(why.text, "none of the 1 certificates"));
    assert_int_equal(s_imp("p256.pem", "ca.pem", NULL, NULL, &b, &why), CF_ERR_CORRUPT);
    assert_non_null(strstr(why.text, "not a PEM private key"));
    assert_int_equal(s_imp("p256.key", "p256.key", NULL, NULL, &b, &why), CF_ERR_CORRUPT);
    assert_non_null(strstr(why.text, "not a PEM or DER certificate"));
    size_t n = 0;
    char *only = s_read("p256.pem", &n);
    assert_int_equal(cf_import_pem(only, n, NULL, 0, NULL, NULL, &b, &why), CF_ERR_INVALID);
    free(only);
    assert_int_equal(s_imp("weak.pem", "weak.key", NULL, NULL, &b, &why), CF_ERR_UNSUPPORTED);
    assert_null(b);
    /* a truncated certificate and an oversized one */
    size_t len = 0;
    char *pem = s_read("p256.pem", &len);
    char *key = s_read("p256.key", &len);
    size_t clen = strlen(pem);
    assert_int_equal(cf_import_pem(pem, clen / 2, key, strlen(key), NULL, NULL, &b, &why),
                     CF_ERR_CORRUPT);
    char *big = calloc(1, CF_CERT_MAX_INPUT + 1);
    memcpy(big, pem, clen);
    assert_int_equal(
        cf_import_pem(big, CF_CERT_MAX_INPUT + 1, key, strlen(key), NULL, NULL, &b, &why),
        CF_ERR_TOOBIG);
    assert_int_equal(cf_import_public(big, CF_CERT_MAX_INPUT + 1, NULL, &b, &why), CF_ERR_TOOBIG);
    assert_null(b);
    free(big);
    free(pem);
    free(key);
}

/* Re-sign leaf with the CA key so that it is valid only from now + days. */
static void s_make_future(const char *leaf, const char *out, int days)
{
    cf_cert_t *cert = s_cert(leaf);
    cf_key_t *cakey = s_key("ca.key");
    X509 *x = X509_dup(cf_cert_x509(cert));
    assert_non_null(x);
    X509_gmtime_adj(X509_getm_notBefore(x), (long) days * 86400);
    X509_gmtime_adj(X509_getm_notAfter(x), (long) (days + 30) * 86400);
    assert_true(X509_sign(x, cf_key_pkey(cakey), EVP_sha256()) > 0);
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", s_dir, out);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, x), 1);
    fclose(f);
    X509_free(x);
    cf_key_destroy(&cakey);
    cf_cert_destroy(&cert);
}

static void test_validity(void **state)
{
    (void) state;
    cf_bundle_t *b = NULL;
    cf_why_t why = {""};
    assert_int_equal(s_imp("old.pem", "old.key", NULL, NULL, &b, &why), CF_ERR_EXPIRED);
    assert_non_null(strstr(why.text, "\"old\" expired on 20"));
    assert_non_null(strstr(why.text, "UTC"));
    s_make_future("p256.pem", "future.pem", 5);
    assert_int_equal(s_imp("future.pem", "p256.key", NULL, NULL, &b, &why), CF_ERR_NOTYETVALID);
    assert_non_null(strstr(why.text, "not valid before"));
    assert_int_equal(s_imp("future.pem", NULL, NULL, NULL, &b, &why), CF_ERR_NOTYETVALID);
    /* the same certificate at chosen moments */
    cf_import_check_t later = {NULL, time(NULL) + 40 * 86400};
    cf_import_check_t earlier = {NULL, time(NULL) - 86400};
    cf_import_check_t inside = {NULL, time(NULL) + 10 * 86400};
    assert_int_equal(s_imp("future.pem", NULL, NULL, &inside, &b, &why), CF_OK);
    cf_bundle_destroy(&b);
    assert_int_equal(s_imp("p256.p12", NULL, "secret", &later, &b, &why), CF_ERR_EXPIRED);
    assert_int_equal(s_imp("p256.p12", NULL, "secret", &earlier, &b, &why), CF_ERR_NOTYETVALID);
    assert_null(b);
}

static void test_trust(void **state)
{
    (void) state;
    cf_cert_t *ca = s_cert("ca.pem");
    cf_cert_t *other = s_cert("other.pem");
    cf_import_check_t check = {ca, 0};
    cf_bundle_t *b = NULL;
    cf_why_t why = {""};
    assert_int_equal(s_imp("stranger.pem", "stranger.key", NULL, &check, &b, &why),
                     CF_ERR_UNTRUSTED);
    assert_non_null(strstr(why.text, "\"stranger\" does not chain to CA \"Test CA\""));
    assert_null(b);
    cf_import_check_t check_other = {other, 0};
    assert_int_equal(s_imp("stranger.pem", "stranger.key", NULL, &check_other, &b, &why), CF_OK);
    cf_bundle_destroy(&b);
    /* an intermediate in the file, in either order */
    assert_int_equal(s_imp("deep-chain.pem", "deep.key", NULL, &check, &b, &why), CF_OK);
    assert_int_equal(cf_bundle_chain_len(b), 1);
    cf_bundle_destroy(&b);
    assert_int_equal(s_imp("deep-rev.pem", NULL, NULL, &check, &b, &why), CF_OK);
    assert_string_equal(cf_cert_common_name(cf_bundle_cert(b)), "deep");
    cf_bundle_destroy(&b);
    /* without it the leaf does not chain */
    assert_int_equal(s_imp("deep.pem", "deep.key", NULL, &check, &b, &why), CF_ERR_UNTRUSTED);
    /* a certificate that expired is refused before the chain is looked at */
    assert_int_equal(s_imp("old.pem", "old.key", NULL, &check, &b, &why), CF_ERR_EXPIRED);
    cf_cert_destroy(&ca);
    cf_cert_destroy(&other);
}

static void test_public_only(void **state)
{
    (void) state;
    cf_cert_t *ca = s_cert("ca.pem");
    cf_import_check_t check = {ca, 0};
    static const char *files[] = {"p256.pem", "p256.der", "rsa.pem", "ed.pem"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        cf_bundle_t *b = NULL;
        assert_int_equal(s_imp(files[i], NULL, NULL, &check, &b, NULL), CF_OK);
        assert_int_equal(cf_bundle_kind(b), CF_BUNDLE_PUBLIC);
        assert_null(cf_bundle_key(b));
        char *pem = NULL;
        size_t len = 0;
        assert_int_equal(cf_bundle_key_pem(b, NULL, &pem, &len), CF_ERR_NOKEY);
        cf_bundle_destroy(&b);
    }
    cf_bundle_t *b = NULL;
    cf_why_t why = {""};
    assert_int_equal(s_imp("weak.pem", NULL, NULL, NULL, &b, &why), CF_ERR_UNSUPPORTED);
    assert_non_null(strstr(why.text, "RSA-1024"));
    assert_int_equal(s_imp("p256.key", NULL, NULL, NULL, &b, &why), CF_ERR_CORRUPT);
    assert_int_equal(cf_import_public(NULL, 0, NULL, &b, &why), CF_ERR_INVALID);
    assert_null(b);
    cf_cert_destroy(&ca);
}

static void test_bundle_new(void **state)
{
    (void) state;
    cf_key_t *key = s_key("p256.key");
    cf_key_t *rsa = s_key("rsa.key");
    cf_cert_t *cert = s_cert("p256.pem");
    cf_bundle_t *b = NULL;
    cf_why_t why = {""};
    /* ownership moves in, also on failure */
    assert_int_equal(cf_bundle_new(&cert, &rsa, CF_BUNDLE_GENERATED, &b, &why), CF_ERR_KEYMISMATCH);
    assert_null(cert);
    assert_null(rsa);
    cert = s_cert("p256.pem");
    assert_int_equal(cf_bundle_new(&cert, NULL, CF_BUNDLE_IMPORTED, &b, &why), CF_ERR_NOKEY);
    cert = s_cert("p256.pem");
    cf_key_t *copy = s_key("p256.key");
    assert_int_equal(cf_bundle_new(&cert, &copy, CF_BUNDLE_PUBLIC, &b, &why), CF_ERR_INVALID);
    cert = s_cert("p256.pem");
    assert_int_equal(cf_bundle_new(&cert, &key, (cf_bundle_kind_t) 42, &b, &why), CF_ERR_INVALID);
    assert_null(b);
    assert_string_equal(cf_bundle_kind_name((cf_bundle_kind_t) 42), "unknown");
    key = s_key("p256.key");
    cert = s_cert("p256.pem");
    assert_int_equal(cf_bundle_new(&cert, &key, CF_BUNDLE_GENERATED, &b, &why), CF_OK);
    assert_string_equal(cf_bundle_kind_name(cf_bundle_kind(b)), "generated");
    for (size_t i = 0; i < CF_CERT_MAX_CHAIN; i++) {
        cf_cert_t *ca = s_cert("ca.pem");
        assert_int_equal(cf_bundle_add_chain(b, &ca), CF_OK);
    }
    cf_cert_t *extra = s_cert("ca.pem");
    assert_int_equal(cf_bundle_add_chain(b, &extra), CF_ERR_TOOBIG);
    assert_null(extra);
    cf_bundle_destroy(&b);
}

static void test_export(void **state)
{
    (void) state;
    cf_cert_t *ca = s_cert("ca.pem");
    cf_import_check_t check = {ca, 0};
    cf_bundle_t *b = NULL;
    assert_int_equal(s_imp("deep-chain.pem", "deep.key", NULL, &check, &b, NULL), CF_OK);
    /* PEM chain: leaf, intermediate, CA; openssl verifies it */
    char *pem = NULL;
    size_t len = 0;
    assert_int_equal(cf_bundle_chain_pem(b, ca, &pem, &len), CF_OK);
    assert_int_equal(strlen(pem), len);
    cf_cert_t *certs[4] = {NULL};
    size_t n = 0;
    assert_int_equal(cf_cert_parse_all(pem, len, certs, 4, &n), CF_OK);
    assert_int_equal(n, 3);
    assert_string_equal(cf_cert_common_name(certs[0]), "deep");
    assert_string_equal(cf_cert_common_name(certs[1]), "inter");
    assert_string_equal(cf_cert_common_name(certs[2]), "Test CA");
    for (size_t i = 0; i < n; i++)
        cf_cert_destroy(&certs[i]);
    char path[700];
    snprintf(path, sizeof(path), "%s/out-chain.pem", s_dir);
    cf_test_write_file(path, pem, len);
    assert_int_equal(cf_test_sh("cd '%s' && openssl verify -CAfile ca.pem -untrusted "
                                "out-chain.pem out-chain.pem",
                                s_dir),
                     0);
    cf_mem_free(pem);
    /* without a CA: leaf and intermediate only */
    assert_int_equal(cf_bundle_chain_pem(b, NULL, &pem, &len), CF_OK);
    assert_int_equal(cf_cert_parse_all(pem, len, certs, 4, &n), CF_OK);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++)
        cf_cert_destroy(&certs[i]);
    cf_mem_free(pem);
    /* the key, encrypted, reads back with its password */
    assert_int_equal(cf_bundle_key_pem(b, "kpw2", &pem, &len), CF_OK);
    cf_key_t *key = NULL;
    assert_int_equal(cf_key_from_pem(pem, len, "kpw2", &key), CF_OK);
    assert_int_equal(cf_cert_matches_key(cf_bundle_cert(b), key), CF_OK);
    cf_key_destroy(&key);
    cf_mem_free_secret(pem, len);
    cf_bundle_destroy(&b);
    cf_cert_destroy(&ca);
}

static void test_export_p12(void **state)
{
    (void) state;
    cf_cert_t *ca = s_cert("ca.pem");
    cf_import_check_t check = {ca, 0};
    cf_bundle_t *b = NULL;
    assert_int_equal(s_imp("deep-chain.pem", "deep.key", NULL, &check, &b, NULL), CF_OK);
    /* a PKCS#12 with the whole chain: openssl reads it and it imports again */
    char path[700];
    size_t len = 0;
    unsigned char *der = NULL;
    assert_int_equal(cf_bundle_to_p12(b, "", ca, &der, &len), CF_ERR_INVALID);
    assert_int_equal(cf_bundle_to_p12(b, "exp-pw", ca, &der, &len), CF_OK);
    snprintf(path, sizeof(path), "%s/out.p12", s_dir);
    cf_test_write_file(path, der, len);
    assert_int_equal(cf_test_sh("cd '%s' && openssl pkcs12 -in out.p12 -passin pass:exp-pw "
                                "-noout && test $(openssl pkcs12 -in out.p12 -passin "
                                "pass:exp-pw -nokeys | grep -c 'BEGIN CERTIFICATE') = 3",
                                s_dir),
                     0);
    cf_bundle_t *back = NULL;
    assert_int_equal(cf_import_p12(der, len, "exp-pw", &check, &back, NULL), CF_OK);
    assert_int_equal(cf_bundle_chain_len(back), 2);
    assert_string_equal(cf_cert_common_name(cf_bundle_chain(back, 0)), "inter");
    cf_bundle_destroy(&back);
    cf_mem_free(der);
    cf_bundle_destroy(&b);
    cf_cert_destroy(&ca);
}

/* Fail allocation n = 0, 1, 2, ... until the import succeeds: every failure must unwind
   cleanly (ASan checks leaks) and say NOMEM. A PKCS#12 when key is NULL, else a PEM pair. */
static void s_alloc_loop(const char *file, const char *key, const char *pw)
{
    size_t len = 0, klen = 0;
    char *buf = s_read(file, &len);
    char *k = key ? s_read(key, &klen) : NULL;
    for (long n = 0;; n++) {
        cf_bundle_t *b = NULL;
        cf_test_alloc_fail_at(n);
        cf_err_t rc = k ? cf_import_pem(buf, len, k, klen, pw, NULL, &b, NULL)
                        : cf_import_p12(buf, len, pw, NULL, &b, NULL);
        long failed = cf_test_alloc_failed();
        cf_test_alloc_fail_at(-1);
        if (failed == 0) {
            assert_int_equal(rc, CF_OK);
            assert_true(n > 0);
            cf_bundle_destroy(&b);
            break;
        }
        if (rc != CF_ERR_NOMEM)
            fail_msg("%s: allocation %ld failed but got %s", file, n, cf_err_name(rc));
        assert_null(b);
    }
    free(buf);
    free(k);
}

static void test_alloc_failure(void **state)
{
    (void) state;
    s_alloc_loop("deep.p12", NULL, "secret");
    s_alloc_loop("deep-chain.pem", "deep.key", NULL);
    s_alloc_loop("p256.pem", "p256.p8enc.key", "kpw");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),         cmocka_unit_test(test_p12_key_types),
        cmocka_unit_test(test_pem_pairs),     cmocka_unit_test(test_pem_key_errors),
        cmocka_unit_test(test_validity),      cmocka_unit_test(test_trust),
        cmocka_unit_test(test_public_only),   cmocka_unit_test(test_bundle_new),
        cmocka_unit_test(test_export),        cmocka_unit_test(test_export_p12),
        cmocka_unit_test(test_alloc_failure),
    };
    return cmocka_run_group_tests(tests, s_setup, NULL);
}
