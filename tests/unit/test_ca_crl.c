/*  test_ca_crl - CRLs signed by the CA: checked by OpenSSL, refusals, allocation failures  */
#include "cf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cf_ca.h"
#include "cf_mem.h"
#include "cf_test_ca.h"

static X509_CRL *s_parse_crl(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509_CRL *crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
    BIO_free(bio);
    assert_non_null(crl);
    return crl;
}

/* The CRL through OpenSSL's API: signature, version, entries, number, AKI, dates. */
static void s_check_crl(cf_ca_t *ca, const char *pem, cf_cert_t *const *certs, time_t now)
{
    X509_CRL *crl = s_parse_crl(pem);
    assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(cf_cert_x509(cf_ca_cert(ca)))), 1);
    assert_int_equal(X509_CRL_get_version(crl), 1); /* v2 */
    assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 2);
    X509_REVOKED *rev = NULL;
    assert_int_equal(
        X509_CRL_get0_by_serial(crl, &rev,
                                (ASN1_INTEGER *) X509_get0_serialNumber(cf_cert_x509(certs[2]))),
        1);
    assert_int_equal(
        X509_CRL_get0_by_serial(crl, &rev,
                                (ASN1_INTEGER *) X509_get0_serialNumber(cf_cert_x509(certs[1]))),
        0);
    ASN1_INTEGER *number = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
    assert_int_equal(ASN1_INTEGER_get(number), (long) now);
    ASN1_INTEGER_free(number);
    AUTHORITY_KEYID *akid = X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, NULL, NULL);
    assert_int_equal(
        ASN1_OCTET_STRING_cmp(akid->keyid, X509_get0_subject_key_id(cf_cert_x509(cf_ca_cert(ca)))),
        0);
    AUTHORITY_KEYID_free(akid);
    assert_int_equal(ASN1_TIME_cmp_time_t(X509_CRL_get0_nextUpdate(crl), now + 86400), 0);
    X509_CRL_free(crl);
}

static void s_crl_for(cf_key_type_t type)
{
    cf_ca_opts_t opts = {.key_type = type};
    cf_ca_t *ca = NULL;
    assert_int_equal(cf_ca_create(&opts, &ca), CF_OK);
    cf_test_ca_save_cert(cf_ca_cert(ca), "crl-ca.pem");
    cf_cert_t *certs[3] = {NULL, NULL, NULL};
    cf_key_t *keys[3] = {NULL, NULL, NULL};
    const char *serials[2];
    for (int i = 0; i < 3; i++) {
        cf_issue_t req = {.component = CF_COMPONENT_AGENT, .name = i ? "kept" : "revoked"};
        assert_int_equal(cf_ca_issue(ca, &req, &certs[i], &keys[i]), CF_OK);
    }
    serials[0] = cf_cert_serial(certs[0]);
    serials[1] = cf_cert_serial(certs[2]);
    cf_test_ca_save_cert(certs[0], "revoked.pem");
    cf_test_ca_save_cert(certs[1], "kept.pem");
    time_t now = time(NULL);
    char *pem = NULL;
    assert_int_equal(cf_ca_crl(ca, serials, 2, now, now + 86400, &pem), CF_OK);
    char path[700];
    snprintf(path, sizeof(path), "%s/crl.pem", cf_test_ca_dir());
    cf_test_write_file(path, pem, strlen(pem));
    assert_int_equal(cf_test_sh("cd '%s' && openssl crl -in crl.pem -CAfile crl-ca.pem -noout "
                                "2>&1 | grep -q 'verify OK' && openssl crl -in crl.pem -noout "
                                "-text | grep -qi 'Serial Number: %s' && ! openssl verify "
                                "-crl_check -CAfile crl-ca.pem -CRLfile crl.pem revoked.pem && "
                                "openssl verify -crl_check -CAfile crl-ca.pem -CRLfile crl.pem "
                                "kept.pem",
                                cf_test_ca_dir(), serials[0]),
                     0);
    s_check_crl(ca, pem, certs, now);
    cf_mem_free(pem);
    for (int i = 0; i < 3; i++) {
        cf_cert_destroy(&certs[i]);
        cf_key_destroy(&keys[i]);
    }
    cf_ca_destroy(&ca);
}

static void test_crl(void **state)
{
    (void) state;
    s_crl_for(CF_KEY_P256);
    s_crl_for(CF_KEY_P384);
    s_crl_for(CF_KEY_ED25519);
    cf_ca_t *ca = NULL; /* empty, and large */
    assert_int_equal(cf_ca_create(NULL, &ca), CF_OK);
    char *pem = NULL;
    assert_int_equal(cf_ca_crl(ca, NULL, 0, 0, time(NULL) + 3600, &pem), CF_OK);
    X509_CRL *crl = s_parse_crl(pem);
    assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), -1); /* absent list */
    X509_CRL_free(crl);
    cf_mem_free(pem);
    enum { N = 20000 };
    char(*hex)[40] = malloc(N * sizeof(*hex));
    const char **list = malloc(N * sizeof(*list));
    assert_non_null(hex);
    assert_non_null(list);
    for (int i = 0; i < N; i++) {
        snprintf(hex[i], sizeof(hex[i]), "%08x%08x%08x%08x", (unsigned) i, (unsigned) rand(),
                 (unsigned) rand(), 0xdeadbeefu);
        list[i] = hex[i];
    }
    assert_int_equal(cf_ca_crl(ca, list, N, 0, time(NULL) + 3600, &pem), CF_OK);
    crl = s_parse_crl(pem);
    assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), N);
    assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(cf_cert_x509(cf_ca_cert(ca)))), 1);
    X509_CRL_free(crl);
    cf_mem_free(pem);
    free(hex);
    free(list);
    cf_ca_destroy(&ca);
}

static void test_crl_refusals(void **state)
{
    (void) state;
    cf_ca_t *ca = NULL;
    assert_int_equal(cf_ca_create(NULL, &ca), CF_OK);
    time_t now = time(NULL);
    const char *bad[] = {"xyz", "", "12 34", "-1",
                         "0123456789abcdef0123456789abcdef0123456789" /* 21 octets */};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *pem = (char *) 0x1;
        assert_int_equal(cf_ca_crl(ca, &bad[i], 1, now, now + 60, &pem), CF_ERR_INVALID);
        assert_null(pem);
    }
    const char *ok[] = {"000001", "ABCDEF", "0"};
    char *pem = NULL;
    assert_int_equal(cf_ca_crl(ca, ok, 3, now, now + 60, &pem), CF_OK);
    cf_mem_free(pem);
    assert_int_equal(cf_ca_crl(ca, ok, 1, now, now, &pem), CF_ERR_INVALID); /* next <= this */
    assert_int_equal(cf_ca_crl(ca, NULL, 1, now, now + 60, &pem), CF_ERR_INVALID);
    assert_int_equal(cf_ca_crl(ca, ok, CF_CA_MAX_CRL_SERIALS + 1, now, now + 60, &pem),
                     CF_ERR_TOOBIG);
    assert_null(pem);
    cf_ca_destroy(&ca);
}

/* Fail allocation 0, 1, 2, ... in cf_ca_crl, then in cf_ca_create: every failure is
   CF_ERR_NOMEM with nothing returned and nothing leaked (ASan). */
static void test_alloc_failures_crl_and_create(void **state)
{
    (void) state;
    cf_ca_t *ca = NULL;
    assert_int_equal(cf_ca_create(NULL, &ca), CF_OK);
    for (long n = 0;; n++) {
        const char *serials[] = {"01", "02"};
        char *pem = NULL;
        cf_test_alloc_fail_at(n);
        cf_err_t rc = cf_ca_crl(ca, serials, 2, 0, time(NULL) + 60, &pem);
        long failed = cf_test_alloc_failed();
        cf_test_alloc_fail_at(-1);
        cf_mem_free(pem);
        if (!failed) {
            assert_int_equal(rc, CF_OK);
            break;
        }
        assert_int_equal(rc, CF_ERR_NOMEM);
        assert_null(pem);
    }
    for (long n = 0;; n++) {
        cf_ca_t *other = NULL;
        cf_test_alloc_fail_at(n);
        cf_err_t rc = cf_ca_create(NULL, &other);
        long failed = cf_test_alloc_failed();
        cf_test_alloc_fail_at(-1);
        if (!failed) {
            assert_int_equal(rc, CF_OK);
            cf_ca_destroy(&other);
            break;
        }
        assert_int_equal(rc, CF_ERR_NOMEM);
        assert_null(other);
    }
    cf_ca_destroy(&ca);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_crl, cf_test_ca_setup),
        cmocka_unit_test_setup(test_crl_refusals, cf_test_ca_setup),
        cmocka_unit_test_setup(test_alloc_failures_crl_and_create, cf_test_ca_setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
