/*  test_ca - CA creation and issuance: every key type and component, serials, DER, validity  */
#include "cf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "cf_ca.h"
#include "cf_mem.h"
#include "cf_test_ca.h"

static int s_contains(const unsigned char *hay, size_t n, const unsigned char *needle, size_t m)
{
    for (size_t i = 0; i + m <= n; i++) {
        if (memcmp(hay + i, needle, m) == 0)
            return 1;
    }
    return 0;
}

static void test_usage(void **state)
{
    (void) state;
    cf_ca_t *ca = NULL;
    assert_int_equal(cf_ca_create(NULL, &ca), CF_OK); /* P-256, 10 years */
    cf_issue_t req = {.component = CF_COMPONENT_AGENT, .name = "agent-7"};
    cf_cert_t *cert = NULL;
    cf_key_t *key = NULL;
    assert_int_equal(cf_ca_issue(ca, &req, &cert, &key), CF_OK);
    assert_string_equal(cf_cert_agent_id(cert), "agent-7");
    assert_string_equal(cf_cert_common_name(cert), "agent-7");
    assert_int_equal(cf_cert_component(cert), CF_COMPONENT_AGENT);
    assert_int_equal(cf_cert_matches_key(cert, key), CF_OK);
    assert_int_equal(cf_cert_verify(cert, cf_ca_cert(ca), NULL, 0, time(NULL), NULL), CF_OK);
    assert_true(cf_cert_is_ca(cf_ca_cert(ca)));
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
    cf_ca_destroy(&ca);
    cf_ca_destroy(&ca); /* idempotent */
}

static void s_check_ca_cert(const cf_ca_t *ca, int sig_nid)
{
    X509 *x = cf_cert_x509(cf_ca_cert(ca));
    assert_int_equal(X509_get_version(x), 2);
    assert_int_equal(X509_get_signature_nid(x), sig_nid);
    assert_true(X509_get_extension_flags(x) & EXFLAG_CA);
    assert_int_equal(X509_get_pathlen(x), 0);
    assert_true(cf_test_ca_critical(x, NID_basic_constraints));
    assert_true(cf_test_ca_critical(x, NID_key_usage));
    assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE | KU_KEY_CERT_SIGN | KU_CRL_SIGN);
    const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(x);
    const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(x);
    assert_non_null(ski);
    assert_non_null(aki);
    assert_int_equal(ASN1_OCTET_STRING_cmp(ski, aki), 0); /* self-signed */
    unsigned char md[20]; /* SKI = SHA-1 of the subjectPublicKey bits (RFC 5280 method 1) */
    const ASN1_BIT_STRING *bits = X509_get0_pubkey_bitstr(x);
    assert_int_equal(EVP_Digest(bits->data, (size_t) bits->length, md, NULL, EVP_sha1(), NULL), 1);
    assert_int_equal(ASN1_STRING_length(ski), 20);
    assert_memory_equal(ASN1_STRING_get0_data(ski), md, 20);
    assert_int_equal(X509_verify(x, X509_get0_pubkey(x)), 1);
    assert_int_equal(X509_check_issued(x, x), X509_V_OK);
}

static void s_issue_all(cf_ca_t *ca, const cf_key_t *rsa, const char *tag)
{
    const char *dns[] = {"srv1.example.test", "SRV1.example.test", "*.fleet.example.test"};
    const char *ips[] = {"127.0.0.1", "::1", "fd00::7"};
    cf_issue_t server = {.component = CF_COMPONENT_SERVER,
                         .name = "main-server",
                         .dns = dns,
                         .n_dns = 3,
                         .ips = ips,
                         .n_ips = 3,
                         .days = 30};
    cf_issue_t console = {.component = CF_COMPONENT_CONSOLE, .name = "Operator Console"};
    cf_issue_t agent = {.component = CF_COMPONENT_AGENT, .name = "ws-0042.corp"};
    cf_issue_t shared = {.component = CF_COMPONENT_AGENT, .shared_agent = 1};
    cf_issue_t rsa_server = {
        .component = CF_COMPONENT_SERVER, .name = "10.1.2.3", .public_key = rsa};
    const struct {
        const cf_issue_t *req;
        const char *file;
        const char *sans;
        const char *purpose;
    } cases[] = {
        {&server, "server",
         "DNS:main-server,DNS:srv1.example.test,DNS:*.fleet.example.test,"
         "IP:4,IP:16,IP:16",
         "sslserver"},
        {&console, "console", "", "sslclient"},
        {&agent, "agent", "URI:urn:certfleet:agent:ws-0042.corp", "sslclient"},
        {&shared, "shared", "URI:" CF_AGENT_SHARED_URI, "sslclient"},
        {&rsa_server, "rsaserver", "IP:4", "sslserver"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cf_cert_t *cert = NULL;
        cf_key_t *key = NULL;
        assert_int_equal(cf_ca_issue(ca, cases[i].req, &cert, &key), CF_OK);
        int rsa_key = cases[i].req == &rsa_server;
        assert_true(rsa_key ? key == NULL : key != NULL);
        assert_int_equal(cf_cert_matches_key(cert, rsa_key ? rsa : key), CF_OK);
        cf_test_ca_check_leaf(ca, cert, cases[i].req->component, rsa_key, cases[i].sans);
        char file[64];
        snprintf(file, sizeof(file), "%s-%s.pem", tag, cases[i].file);
        cf_test_ca_save_cert(cert, file);
        assert_int_equal(cf_test_sh("cd '%s' && openssl verify -purpose %s -CAfile %s-ca.pem "
                                    "%s && openssl x509 -in %s -noout -text >/dev/null",
                                    cf_test_ca_dir(), cases[i].purpose, tag, file, file),
                         0);
        cf_cert_destroy(&cert);
        cf_key_destroy(&key);
    }
    assert_int_equal(cf_test_sh("cd '%s' && openssl x509 -in %s-shared.pem -noout -subject | "
                                "grep -q 'CN = certfleet agent'",
                                cf_test_ca_dir(), tag),
                     0);
}

/* Every CA key type, each component, checked by OpenSSL's API and the openssl tool. */
static void test_every_key_type(void **state)
{
    (void) state;
    static const struct {
        cf_key_type_t type;
        int sig_nid;
    } types[] = {
        {CF_KEY_P256, NID_ecdsa_with_SHA256},
        {CF_KEY_P384, NID_ecdsa_with_SHA384},
        {CF_KEY_RSA2048, NID_sha256WithRSAEncryption},
        {CF_KEY_RSA3072, NID_sha256WithRSAEncryption},
        {CF_KEY_RSA4096, NID_sha256WithRSAEncryption},
        {CF_KEY_ED25519, NID_ED25519},
    };
    cf_key_t *rsa = NULL;
    assert_int_equal(cf_key_generate(CF_KEY_RSA2048, &rsa), CF_OK);
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        cf_ca_opts_t opts = {.key_type = types[i].type, .name = "Test CA", .days = 30};
        cf_ca_t *ca = NULL;
        assert_int_equal(cf_ca_create(&opts, &ca), CF_OK);
        assert_int_equal(cf_key_type(cf_ca_key(ca)), types[i].type);
        s_check_ca_cert(ca, types[i].sig_nid);
        assert_string_equal(cf_cert_common_name(cf_ca_cert(ca)), "Test CA");
        char tag[16];
        snprintf(tag, sizeof(tag), "t%zu", i);
        char file[32];
        snprintf(file, sizeof(file), "%s-ca.pem", tag);
        cf_test_ca_save_cert(cf_ca_cert(ca), file);
        s_issue_all(ca, rsa, tag);
        cf_ca_destroy(&ca);
    }
    cf_key_destroy(&rsa);
}

/* Serials: 128 random bits, positive, 16 or 17 DER content bytes, never repeated. */
static void test_serials(void **state)
{
    (void) state;
    cf_ca_t *ca = NULL;
    assert_int_equal(cf_ca_create(NULL, &ca), CF_OK);
    enum { N = 1000 };
    char **seen = calloc(N, sizeof(*seen));
    assert_non_null(seen);
    int top_set = 0;
    for (int i = 0; i < N; i++) {
        cf_issue_t req = {.component = CF_COMPONENT_AGENT, .name = "serial-test"};
        unsigned char *der = NULL;
        size_t len = 0;
        cf_key_t *key = NULL;
        assert_int_equal(cf_ca_issue_der(ca, &req, &der, &len, &key), CF_OK);
        const unsigned char *p = der;
        X509 *x = d2i_X509(NULL, &p, (long) len);
        assert_non_null(x);
        assert_ptr_equal(p, der + len);
        const ASN1_INTEGER *serial = X509_get0_serialNumber(x);
        assert_int_equal(ASN1_STRING_type(serial), V_ASN1_INTEGER); /* not V_ASN1_NEG_INTEGER */
        BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
        assert_true(BN_num_bits(bn) > 120 && BN_num_bits(bn) <= 128);
        top_set += BN_num_bits(bn) == 128;
        unsigned char *enc = NULL;
        int n = i2d_ASN1_INTEGER((ASN1_INTEGER *) serial, &enc);
        assert_true(n == 18 || n == 19); /* tag + length + 16 or 17 content bytes */
        OPENSSL_free(enc);
        seen[i] = BN_bn2hex(bn);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(seen[i], seen[j]);
        BN_free(bn);
        X509_free(x);
        cf_mem_free(der);
        cf_key_destroy(&key);
    }
    assert_true(top_set > N / 4 && top_set < 3 * N / 4); /* the top bit is random too */
    for (int i = 0; i < N; i++)
        OPENSSL_free(seen[i]);
    free(seen);
    cf_ca_destroy(&ca);
}

/* Our DER is OpenSSL's DER: re-encoding the parsed TBSCertificate gives the same bytes. */
static void test_canonical_der(void **state)
{
    (void) state;
    cf_ca_t *ca = NULL;
    assert_int_equal(cf_ca_create(NULL, &ca), CF_OK);
    const char *dns[] = {"a.example.test"};
    const char *ips[] = {"192.0.2.1", "2001:db8::1"};
    cf_issue_t req = {.component = CF_COMPONENT_SERVER,
                      .name = "srv.example.test",
                      .dns = dns,
                      .n_dns = 1,
                      .ips = ips,
                      .n_ips = 2};
    unsigned char *der = NULL;
    size_t len = 0;
    cf_key_t *key = NULL;
    assert_int_equal(cf_ca_issue_der(ca, &req, &der, &len, &key), CF_OK);
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long) len);
    assert_non_null(x);
    unsigned char *tbs = NULL;
    int tbs_len = i2d_re_X509_tbs(x, &tbs); /* ignores the cached encoding */
    assert_true(tbs_len > 0);
    assert_true(s_contains(der, len, tbs, (size_t) tbs_len));
    unsigned char *again = NULL;
    assert_int_equal(i2d_X509(x, &again), (int) len);
    assert_memory_equal(again, der, len);
    OPENSSL_free(tbs);
    OPENSSL_free(again);
    X509_free(x);
    cf_mem_free(der);
    cf_key_destroy(&key);
    cf_ca_destroy(&ca);
}

static void test_validity(void **state)
{
    (void) state;
    const time_t t0 = 1800000000; /* 2027-01-15 */
    cf_ca_opts_t opts = {.days = 100, .now = t0};
    cf_ca_t *ca = NULL;
    assert_int_equal(cf_ca_create(&opts, &ca), CF_OK);
    assert_int_equal(cf_cert_not_before(cf_ca_cert(ca)), t0 - CF_ISSUE_SKEW);
    assert_int_equal(cf_cert_not_after(cf_ca_cert(ca)), t0 + 100 * 86400);
    const struct {
        unsigned days;
        long seconds;
        time_t now;
        time_t not_after; /* expected; 0 = refused */
        cf_err_t rc;
    } cases[] = {
        {30, 0, t0 + 10, t0 + 10 + 30 * 86400, CF_OK},
        {0, 120, t0 + 10, t0 + 10 + 120, CF_OK},      /* seconds win over days */
        {0, 0, t0, t0 + 100 * 86400, CF_OK},          /* default 365 d, capped by the CA */
        {365, 0, t0 + 5, t0 + 100 * 86400, CF_OK},    /* never past the CA's notAfter */
        {30, 0, t0 + 101 * 86400, 0, CF_ERR_EXPIRED}, /* the CA has expired */
        {CF_ISSUE_MAX_DAYS + 1, 0, t0, 0, CF_ERR_INVALID},
        {0, (long) CF_ISSUE_MAX_DAYS * 86400 + 1, t0, 0, CF_ERR_INVALID},
        {0, -5, t0, 0, CF_ERR_INVALID},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cf_issue_t req = {.component = CF_COMPONENT_CONSOLE,
                          .name = "console",
                          .days = cases[i].days,
                          .seconds = cases[i].seconds,
                          .now = cases[i].now};
        cf_cert_t *cert = NULL;
        cf_key_t *key = NULL;
        assert_int_equal(cf_ca_issue(ca, &req, &cert, &key), cases[i].rc);
        if (cases[i].rc != CF_OK) {
            assert_null(cert);
            assert_null(key);
            continue;
        }
        /* back-dated by CF_ISSUE_SKEW, or a tenth of a short lifetime (120 s: 12 s) */
        time_t skew =
            cases[i].seconds > 0 && cases[i].seconds < 3000 ? cases[i].seconds / 10 : CF_ISSUE_SKEW;
        assert_int_equal(cf_cert_not_before(cert), cases[i].now - skew);
        assert_int_equal(cf_cert_not_after(cert), cases[i].not_after);
        cf_cert_destroy(&cert);
        cf_key_destroy(&key);
    }
    cf_ca_destroy(&ca);
}

/* Certificates that are expired or not yet valid, made by injecting "now". */
static void test_expired_and_future(void **state)
{
    (void) state;
    time_t now = time(NULL);
    cf_ca_opts_t opts = {.days = 30, .now = now - 10 * 86400};
    cf_ca_t *ca = NULL;
    assert_int_equal(cf_ca_create(&opts, &ca), CF_OK);
    cf_test_ca_save_cert(cf_ca_cert(ca), "old-ca.pem");
    cf_issue_t old = {
        .component = CF_COMPONENT_AGENT, .name = "old", .seconds = 3600, .now = now - 2 * 86400};
    cf_issue_t soon = {.component = CF_COMPONENT_AGENT, .name = "soon", .now = now + 86400};
    cf_cert_t *expired = NULL, *future = NULL;
    cf_key_t *k1 = NULL, *k2 = NULL;
    assert_int_equal(cf_ca_issue(ca, &old, &expired, &k1), CF_OK);
    assert_int_equal(cf_ca_issue(ca, &soon, &future, &k2), CF_OK);
    assert_int_equal(cf_cert_check_time(expired, now), CF_ERR_EXPIRED);
    assert_int_equal(cf_cert_check_time(future, now), CF_ERR_NOTYETVALID);
    assert_int_equal(cf_cert_verify(expired, cf_ca_cert(ca), NULL, 0, now, NULL), CF_ERR_EXPIRED);
    cf_test_ca_save_cert(expired, "expired.pem");
    assert_int_not_equal(cf_test_sh("openssl verify -CAfile '%s/old-ca.pem' '%s/expired.pem'",
                                    cf_test_ca_dir(), cf_test_ca_dir()),
                         0);
    cf_cert_destroy(&expired);
    cf_cert_destroy(&future);
    cf_key_destroy(&k1);
    cf_key_destroy(&k2);
    cf_ca_destroy(&ca);
}

static void test_ca_options(void **state)
{
    (void) state;
    static const char long_name[] =
        "0123456789012345678901234567890123456789012345678901234567890123x";
    const cf_ca_opts_t bad[] = {
        {.days = CF_CA_MAX_CA_DAYS + 1},
        {.name = ""},
        {.name = long_name},
        {.name = "tab\there"},
        {.key_type = (cf_key_type_t) 99},
        {.now = -100},
        {.now = (time_t) 253402300800LL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cf_ca_t *ca = (cf_ca_t *) 0x1;
        assert_int_not_equal(cf_ca_create(&bad[i], &ca), CF_OK);
        assert_null(ca);
    }
    cf_ca_opts_t longest = {.days = CF_CA_MAX_CA_DAYS, .now = 1800000000}; /* GeneralizedTime */
    cf_ca_t *ca = NULL;
    assert_int_equal(cf_ca_create(&longest, &ca), CF_OK);
    assert_int_equal(cf_cert_not_after(cf_ca_cert(ca)), 1800000000 + 36500L * 86400);
    assert_string_equal(cf_cert_common_name(cf_ca_cert(ca)), CF_CA_DEFAULT_NAME);
    cf_ca_destroy(&ca);
}

/* Fail allocation 0, 1, 2, ... in each call: every failure is CF_ERR_NOMEM with nothing
   returned and nothing leaked (ASan), and the run without a failure succeeds. */
static void test_alloc_failures_issue(void **state)
{
    (void) state;
    cf_ca_t *ca = NULL;
    assert_int_equal(cf_ca_create(NULL, &ca), CF_OK);
    cf_key_t *pub = NULL;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &pub), CF_OK);
    unsigned char *spki = NULL;
    size_t spki_len = 0;
    assert_int_equal(cf_key_public_der(pub, &spki, &spki_len), CF_OK);
    cf_issue_t gen = {.component = CF_COMPONENT_AGENT, .name = "alloc"};
    cf_issue_t by_spki = {
        .component = CF_COMPONENT_AGENT, .name = "alloc", .spki = spki, .spki_len = spki_len};
    const cf_issue_t *reqs[] = {&gen, &by_spki};
    for (size_t r = 0; r < 2; r++) {
        for (long n = 0;; n++) {
            unsigned char *der = NULL;
            size_t len = 0;
            cf_key_t *key = NULL;
            cf_test_alloc_fail_at(n);
            cf_err_t rc = cf_ca_issue_der(ca, reqs[r], &der, &len, &key);
            long failed = cf_test_alloc_failed();
            cf_test_alloc_fail_at(-1);
            if (!failed) {
                assert_int_equal(rc, CF_OK);
                cf_mem_free(der);
                cf_key_destroy(&key);
                break;
            }
            assert_int_equal(rc, CF_ERR_NOMEM);
            assert_null(der);
            assert_null(key);
        }
    }
    cf_mem_free(spki);
    cf_key_destroy(&pub);
    cf_ca_destroy(&ca);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_usage, cf_test_ca_setup),
        cmocka_unit_test_setup(test_every_key_type, cf_test_ca_setup),
        cmocka_unit_test_setup(test_serials, cf_test_ca_setup),
        cmocka_unit_test_setup(test_canonical_der, cf_test_ca_setup),
        cmocka_unit_test_setup(test_validity, cf_test_ca_setup),
        cmocka_unit_test_setup(test_expired_and_future, cf_test_ca_setup),
        cmocka_unit_test_setup(test_ca_options, cf_test_ca_setup),
        cmocka_unit_test_setup(test_alloc_failures_issue, cf_test_ca_setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
