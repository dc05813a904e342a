/*  test_cert - parse, inspect, verify, classify and renewal timing of certificates  */
#include "cf_test.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/x509v3.h>

#include "cf_cert.h"
#include "cf_mem.h"

static char s_dir[512];

static int s_setup(void **state)
{
    (void) state;
    cf_test_tmpdir("test_cert", s_dir, sizeof(s_dir));
    return 0;
}

static void s_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    assert_non_null(ext);
    assert_int_equal(X509_add_ext(x, ext, -1), 1);
    X509_EXTENSION_free(ext);
}

/* A certificate made with OpenSSL's own API (independent of the code under test), valid
   from now+nb to now+na seconds; issuer NULL means self-signed by key. */
static cf_cert_t *s_make(cf_key_t *key, X509 *issuer, cf_key_t *issuer_key, const char *cn, long nb,
                         long na, const char *bc, const char *eku, const char *san)
{
    X509 *x = X509_new();
    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), (long) (rand() & 0x7fffffff) + 1);
    X509_gmtime_adj(X509_getm_notBefore(x), nb);
    X509_gmtime_adj(X509_getm_notAfter(x), na);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *) cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509_set_pubkey(x, cf_key_pkey(key));
    X509 *signer = issuer ? issuer : x;
    if (bc)
        s_ext(x, signer, NID_basic_constraints, bc);
    s_ext(x, signer, NID_subject_key_identifier, "hash");
    if (eku)
        s_ext(x, signer, NID_ext_key_usage, eku);
    if (san)
        s_ext(x, signer, NID_subject_alt_name, san);
    assert_true(X509_sign(x, cf_key_pkey(issuer_key ? issuer_key : key), EVP_sha256()) > 0);
    cf_cert_t *cert = NULL;
    assert_int_equal(cf_cert_from_x509(x, &cert), CF_OK);
    X509_free(x);
    return cert;
}

static void test_usage(void **state)
{
    (void) state;
    assert_int_equal(
        cf_test_sh(
            "cd '%s' && openssl req -x509 -newkey ec -pkeyopt "
            "ec_paramgen_curve:P-256 -nodes -keyout k.pem -out c.pem -days 30 "
            "-subj /CN=srv1.example.test -addext "
            "subjectAltName=DNS:srv1.example.test,IP:127.0.0.1,IP:::1 "
            "-addext basicConstraints=critical,CA:FALSE -addext extendedKeyUsage=serverAuth && "
            "openssl x509 -in c.pem "
            "-noout -fingerprint -sha256 | tr -d : | cut -d= -f2 | tr A-F a-f "
            "> fp.txt && openssl x509 -in c.pem -noout -serial | cut -d= -f2 | "
            "tr A-F a-f > serial.txt && openssl x509 -in c.pem -outform DER "
            "-out c.der",
            s_dir),
        0);
    char path[600];
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/c.pem", s_dir);
    char *pem = cf_test_read_file(path, &len);
    cf_cert_t *cert = NULL;
    assert_int_equal(cf_cert_parse(pem, len, &cert), CF_OK);
    assert_string_equal(cf_cert_common_name(cert), "srv1.example.test");
    assert_string_equal(cf_cert_subject(cert), "CN=srv1.example.test");
    assert_string_equal(cf_cert_key_name(cert), "P-256");
    assert_int_equal(cf_cert_component(cert), CF_COMPONENT_SERVER);
    assert_int_equal(cf_cert_san_count(cert), 3);
    assert_string_equal(cf_cert_san(cert, 0), "DNS:srv1.example.test");
    assert_string_equal(cf_cert_san(cert, 1), "IP:127.0.0.1");
    assert_string_equal(cf_cert_san(cert, 2), "IP:::1");
    assert_null(cf_cert_san(cert, 3));
    assert_null(cf_cert_agent_id(cert));
    /* fingerprint and serial agree with the openssl tool */
    snprintf(path, sizeof(path), "%s/fp.txt", s_dir);
    char *fp = cf_test_read_file(path, NULL);
    fp[strcspn(fp, "\n")] = '\0';
    assert_string_equal(cf_cert_fingerprint(cert), fp);
    snprintf(path, sizeof(path), "%s/serial.txt", s_dir);
    char *serial = cf_test_read_file(path, NULL);
    serial[strcspn(serial, "\n")] = '\0';
    assert_string_equal(cf_cert_serial(cert), serial);
    time_t now = time(NULL);
    assert_int_equal(cf_cert_check_time(cert, now), CF_OK);
    assert_in_range(cf_cert_days_left(cert, now), 29, 30);
    assert_int_equal(cf_cert_classify(cert, now, 0, 0), CF_CERT_CURRENT);
    /* DER form of the same certificate gives the same fingerprint */
    snprintf(path, sizeof(path), "%s/c.der", s_dir);
    size_t dlen = 0;
    char *der = cf_test_read_file(path, &dlen);
    cf_cert_t *cert2 = NULL;
    assert_int_equal(cf_cert_parse(der, dlen, &cert2), CF_OK);
    assert_string_equal(cf_cert_fingerprint(cert2), fp);
    /* and the key that came with it matches */
    snprintf(path, sizeof(path), "%s/k.pem", s_dir);
    size_t klen = 0;
    char *kpem = cf_test_read_file(path, &klen);
    cf_key_t *key = NULL, *other = NULL;
    assert_int_equal(cf_key_from_pem(kpem, klen, NULL, &key), CF_OK);
    assert_int_equal(cf_cert_matches_key(cert, key), CF_OK);
    assert_int_equal(cf_key_generate(CF_KEY_P256, &other), CF_OK);
    assert_int_equal(cf_cert_matches_key(cert, other), CF_ERR_KEYMISMATCH);
    cf_key_destroy(&key);
    cf_key_destroy(&other);
    free(kpem);
    free(der);
    free(fp);
    free(serial);
    free(pem);
    cf_cert_destroy(&cert2);
    cf_cert_destroy(&cert);
    cf_cert_destroy(&cert);
}

static void test_round_trip_and_chain(void **state)
{
    (void) state;
    cf_key_t *cakey = NULL, *key = NULL;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &cakey), CF_OK);
    assert_int_equal(cf_key_generate(CF_KEY_P256, &key), CF_OK);
    cf_cert_t *ca =
        s_make(cakey, NULL, NULL, "Test CA", -60, 86400, "critical,CA:TRUE", NULL, NULL);
    cf_cert_t *leaf = s_make(key, cf_cert_x509(ca), cakey, "agent-7", -60, 3600, NULL, "clientAuth",
                             "URI:urn:certfleet:agent:agent-7");
    assert_int_equal(cf_cert_component(ca), CF_COMPONENT_CA);
    assert_int_equal(cf_cert_component(leaf), CF_COMPONENT_AGENT);
    assert_string_equal(cf_cert_agent_id(leaf), "agent-7");
    assert_true(cf_cert_has_client_auth(leaf));
    assert_false(cf_cert_has_server_auth(leaf));
    assert_string_equal(cf_cert_issuer(leaf), "CN=Test CA");
    char *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    assert_int_equal(cf_cert_to_pem(leaf, &a, &alen), CF_OK);
    assert_int_equal(cf_cert_to_pem(ca, &b, &blen), CF_OK);
    char chain[8192];
    snprintf(chain, sizeof(chain), "%s%s", a, b);
    cf_cert_t *certs[CF_CERT_MAX_CHAIN] = {0};
    size_t n = 0;
    assert_int_equal(cf_cert_parse_all(chain, strlen(chain), certs, CF_CERT_MAX_CHAIN, &n), CF_OK);
    assert_int_equal(n, 2);
    assert_string_equal(cf_cert_fingerprint(certs[0]), cf_cert_fingerprint(leaf));
    assert_string_equal(cf_cert_fingerprint(certs[1]), cf_cert_fingerprint(ca));
    /* max counts: two certificates into room for one is TOOBIG, nothing returned */
    cf_cert_t *one[1] = {0};
    size_t none = 9;
    assert_int_equal(cf_cert_parse_all(chain, strlen(chain), one, 1, &none), CF_ERR_TOOBIG);
    assert_null(one[0]);
    assert_int_equal(none, 0);
    time_t now = time(NULL);
    cf_why_t why = {""};
    assert_int_equal(cf_cert_verify(leaf, ca, NULL, 0, now, &why), CF_OK);
    assert_int_equal(cf_cert_verify(leaf, ca, NULL, 0, now + 7200, &why), CF_ERR_EXPIRED);
    assert_int_equal(cf_cert_verify(leaf, ca, NULL, 0, now - 3600, &why), CF_ERR_NOTYETVALID);
    /* another CA with the same name does not verify it */
    cf_key_t *evil = NULL;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &evil), CF_OK);
    cf_cert_t *ca2 =
        s_make(evil, NULL, NULL, "Test CA", -60, 86400, "critical,CA:TRUE", NULL, NULL);
    assert_int_equal(cf_cert_verify(leaf, ca2, NULL, 0, now, &why), CF_ERR_UNTRUSTED);
    assert_non_null(strstr(why.text, "signature"));
    for (size_t i = 0; i < n; i++)
        cf_cert_destroy(&certs[i]);
    cf_mem_free(a);
    cf_mem_free(b);
    cf_cert_destroy(&ca2);
    cf_cert_destroy(&leaf);
    cf_cert_destroy(&ca);
    cf_key_destroy(&evil);
    cf_key_destroy(&key);
    cf_key_destroy(&cakey);
}

static void test_tampered(void **state)
{
    (void) state;
    cf_key_t *cakey = NULL;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &cakey), CF_OK);
    cf_cert_t *ca =
        s_make(cakey, NULL, NULL, "Test CA", -60, 86400, "critical,CA:TRUE", NULL, NULL);
    cf_cert_t *leaf =
        s_make(cakey, cf_cert_x509(ca), cakey, "console", -60, 3600, NULL, "clientAuth", NULL);
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(cf_cert_to_der(leaf, &der, &len), CF_OK);
    /* the fingerprint of the DER without parsing it is the parsed certificate's */
    char fpr[65];
    assert_int_equal(cf_cert_der_fingerprint(der, len, fpr), CF_OK);
    assert_string_equal(fpr, cf_cert_fingerprint(leaf));
    assert_int_equal(cf_cert_der_fingerprint(der, 0, fpr), CF_ERR_INVALID);
    assert_int_equal(cf_cert_der_fingerprint(NULL, len, fpr), CF_ERR_INVALID);
    /* flip one byte inside the subject's CN: still parses, no longer verifies */
    unsigned char *hit = NULL;
    for (size_t i = 0; i + 7 <= len && !hit; i++)
        hit = memcmp(der + i, "console", 7) == 0 ? der + i : NULL;
    assert_non_null(hit);
    hit[0] ^= 0x20;
    cf_cert_t *bad = NULL;
    assert_int_equal(cf_cert_parse(der, len, &bad), CF_OK);
    cf_why_t why = {""};
    assert_int_equal(cf_cert_verify(bad, ca, NULL, 0, time(NULL), &why), CF_ERR_UNTRUSTED);
    cf_cert_destroy(&bad);
    /* truncated DER at every length, and trailing bytes, are corrupt */
    hit[0] ^= 0x20;
    for (size_t cut = 0; cut < len; cut++) {
        cf_err_t rc = cf_cert_parse(der, cut, &bad);
        assert_int_equal(rc, CF_ERR_CORRUPT);
        assert_null(bad);
    }
    unsigned char *longer = calloc(1, len + 1);
    memcpy(longer, der, len);
    assert_int_equal(cf_cert_parse(longer, len + 1, &bad), CF_ERR_CORRUPT);
    free(longer);
    /* oversize and garbage PEM */
    char *big = calloc(1, CF_CERT_MAX_INPUT + 2);
    memset(big, 'A', CF_CERT_MAX_INPUT + 1);
    assert_int_equal(cf_cert_parse(big, CF_CERT_MAX_INPUT + 1, &bad), CF_ERR_TOOBIG);
    free(big);
    static const char junk[] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    assert_int_equal(cf_cert_parse(junk, sizeof(junk) - 1, &bad), CF_ERR_CORRUPT);
    size_t n = 7;
    cf_cert_t *certs[2];
    assert_int_equal(cf_cert_parse_all(junk, sizeof(junk) - 1, certs, 2, &n), CF_ERR_CORRUPT);
    assert_int_equal(n, 0);
    assert_int_equal(cf_cert_parse("", 0, &bad), CF_ERR_CORRUPT);
    cf_mem_free(der);
    cf_cert_destroy(&leaf);
    cf_cert_destroy(&ca);
    cf_key_destroy(&cakey);
}

/* A DER certificate is read as DER even when its bytes hold the PEM marker (here in its
   subject): the buffer's own length says DER. */
static void test_der_holding_pem_marker(void **state)
{
    (void) state;
    cf_key_t *key = NULL;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &key), CF_OK);
    cf_cert_t *c = s_make(key, NULL, NULL, "-----BEGIN CERTIFICATE-----", -60, 3600,
                          "critical,CA:TRUE", NULL, NULL);
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(cf_cert_to_der(c, &der, &len), CF_OK);
    cf_cert_t *back = NULL;
    assert_int_equal(cf_cert_parse(der, len, &back), CF_OK);
    assert_string_equal(cf_cert_fingerprint(back), cf_cert_fingerprint(c));
    cf_cert_destroy(&back);
    /* one byte short: not the exact DER length, read as PEM, corrupt */
    assert_int_equal(cf_cert_parse(der, len - 1, &back), CF_ERR_CORRUPT);
    assert_null(back);
    cf_mem_free(der);
    cf_cert_destroy(&c);
    cf_key_destroy(&key);
}

static void test_classify(void **state)
{
    (void) state;
    cf_key_t *key = NULL;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &key), CF_OK);
    cf_cert_t *c = s_make(key, NULL, NULL, "x", -100, 100, NULL, NULL, NULL);
    time_t now = time(NULL);
    assert_int_equal(cf_cert_classify(c, now, 0, 0), CF_CERT_CURRENT);
    assert_int_equal(cf_cert_classify(c, now, 1, 0), CF_CERT_ARCHIVED);
    assert_int_equal(cf_cert_classify(c, now, 1, 1), CF_CERT_REVOKED);
    assert_int_equal(cf_cert_classify(c, now + 1000, 1, 0), CF_CERT_EXPIRED);
    assert_int_equal(cf_cert_classify(c, now - 1000, 0, 0), CF_CERT_NOTYETVALID);
    assert_int_equal(cf_cert_check_time(c, now + 1000), CF_ERR_EXPIRED);
    assert_int_equal(cf_cert_check_time(c, now - 1000), CF_ERR_NOTYETVALID);
    assert_int_equal(cf_cert_days_left(c, now + 101), -1); /* rounds toward minus infinity */
    assert_int_equal(cf_cert_days_left(c, now), 0);
    assert_string_equal(cf_cert_state_name(CF_CERT_ARCHIVED), "archived");
    assert_string_equal(cf_cert_state_name((cf_cert_state_t) 42), "unknown");
    cf_component_t comp;
    assert_int_equal(cf_component_from_name("Agent", &comp), CF_OK);
    assert_int_equal(comp, CF_COMPONENT_AGENT);
    assert_int_equal(cf_component_from_name("printer", &comp), CF_ERR_INVALID);
    cf_cert_destroy(&c);
    cf_key_destroy(&key);
}

static void test_renewal_timing(void **state)
{
    (void) state;
    const time_t day = 86400, nb = 1700000000;
    /* 1 year, 30 days before: 2/3 of the lifetime (day 243.3) comes first, minus <= 48 h */
    for (uint64_t seed = 0; seed < 500; seed++) {
        time_t at = cf_cert_renew_at_times(nb, nb + 365 * day, 30, seed * 7919);
        assert_true(at <= nb + 365 * day * 2 / 3);
        assert_true(at > nb + 365 * day * 2 / 3 - 2 * day);
    }
    /* 90 days, 10 days before: day 60 (2/3) before day 80; window 4.5 days capped at 2 */
    time_t at = cf_cert_renew_at_times(nb, nb + 90 * day, 10, 0);
    assert_int_equal(at, nb + 60 * day);
    /* 30 days, 20 days before: day 10 comes first; the jitter window is 1.5 days */
    at = cf_cert_renew_at_times(nb, nb + 30 * day, 20, 0);
    assert_int_equal(at, nb + 10 * day);
    /* the fleet spreads: 1,000 seeds give many distinct moments */
    int distinct = 0;
    time_t prev = 0;
    for (uint64_t seed = 0; seed < 1000; seed++) {
        time_t t = cf_cert_renew_at_times(nb, nb + 90 * day, 10, seed * 2654435761u);
        if (t != prev)
            distinct++;
        prev = t;
    }
    assert_true(distinct > 900);
    /* degenerate lifetimes never go before notBefore */
    assert_int_equal(cf_cert_renew_at_times(nb, nb, 10, 5), nb);
    /* days_before beyond the lifetime: the 2/3 rule, not "due at once" (a renewal loop) */
    assert_int_equal(cf_cert_renew_at_times(nb, nb + 60, 10, 99999), nb + 40 - 99999 % 3);
    assert_int_equal(cf_cert_renew_at_times(nb, nb + 7 * day, 30, 0), nb + 7 * day * 2 / 3);
    /* ... and when it falls before a third of the life (day 10 of 40) */
    assert_int_equal(cf_cert_renew_at_times(nb, nb + 40 * day, 30, 0), nb + 40 * day * 2 / 3);
    /* 45 days, 20 before: day 25 is past a third, and comes before day 30 */
    assert_int_equal(cf_cert_renew_at_times(nb, nb + 45 * day, 20, 0), nb + 25 * day);
    assert_int_equal(cf_cert_renew_at_times(nb, nb + 60, 0, 99999), nb + 40 - 99999 % 3);
    /* through a certificate: stable for the same certificate */
    cf_key_t *key = NULL;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &key), CF_OK);
    cf_cert_t *c = s_make(key, NULL, NULL, "x", 0, 90 * day, NULL, NULL, NULL);
    time_t r1 = cf_cert_renew_at(c, 30);
    assert_int_equal(r1, cf_cert_renew_at(c, 30));
    assert_true(r1 <= cf_cert_not_before(c) + 60 * day);
    assert_false(cf_cert_renewal_due(c, r1 - 1, 30));
    assert_true(cf_cert_renewal_due(c, r1, 30));
    cf_cert_destroy(&c);
    cf_key_destroy(&key);
}

static void test_alloc_failures(void **state)
{
    (void) state;
    cf_key_t *key = NULL;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &key), CF_OK);
    cf_cert_t *c = s_make(key, NULL, NULL, "alloc", -1, 100, NULL, "clientAuth",
                          "DNS:a.test,URI:urn:certfleet:agent:alloc");
    char *pem = NULL;
    size_t len = 0;
    assert_int_equal(cf_cert_to_pem(c, &pem, &len), CF_OK);
    for (long n = 0;; n++) {
        cf_cert_t *back = NULL;
        cf_test_alloc_fail_at(n);
        cf_err_t rc = cf_cert_parse(pem, len, &back);
        long failed = cf_test_alloc_failed();
        cf_test_alloc_fail_at(-1);
        if (!failed) {
            assert_int_equal(rc, CF_OK);
            assert_string_equal(cf_cert_agent_id(back), "alloc");
            cf_cert_destroy(&back);
            break;
        }
        assert_int_equal(rc, CF_ERR_NOMEM);
        assert_null(back);
    }
    cf_mem_free(pem);
    cf_cert_destroy(&c);
    cf_key_destroy(&key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),          cmocka_unit_test(test_round_trip_and_chain),
        cmocka_unit_test(test_tampered),       cmocka_unit_test(test_der_holding_pem_marker),
        cmocka_unit_test(test_classify),       cmocka_unit_test(test_renewal_timing),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, s_setup, NULL);
}
