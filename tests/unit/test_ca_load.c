/*  test_ca_load - a CA rebuilt from a stored certificate and key, or made by the openssl tool  */
#include "cf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include "cf_ca.h"
#include "cf_mem.h"
#include "cf_test_ca.h"

/* cf_ca_load of a certificate and a key read from PEM (fails the test unless both parse);
   asserts it returns want. The CA, if any, is the caller's. */
static cf_ca_t *s_load_pem(const char *pem, size_t len, const char *kpem, size_t klen,
                           cf_err_t want)
{
    cf_cert_t *cert = NULL;
    cf_key_t *key = NULL;
    assert_int_equal(cf_cert_parse(pem, len, &cert), CF_OK);
    assert_int_equal(cf_key_from_pem(kpem, klen, NULL, &key), CF_OK);
    cf_ca_t *ca = NULL;
    assert_int_equal(cf_ca_load(cert, key, &ca), want);
    cf_cert_destroy(&cert); /* the CA keeps its own references */
    cf_key_destroy(&key);
    return ca;
}

/* A CA rebuilt from stored PEM issues certificates that chain to the original. */
static void test_load(void **state)
{
    (void) state;
    cf_ca_t *orig = NULL;
    assert_int_equal(cf_ca_create(NULL, &orig), CF_OK);
    char *pem = NULL, *kpem = NULL;
    size_t len = 0, klen = 0;
    assert_int_equal(cf_cert_to_pem(cf_ca_cert(orig), &pem, &len), CF_OK);
    assert_int_equal(cf_key_to_pem(cf_ca_key(orig), NULL, &kpem, &klen), CF_OK);
    cf_ca_t *ca = s_load_pem(pem, len, kpem, klen, CF_OK);
    cf_issue_t req = {.component = CF_COMPONENT_AGENT, .name = "loaded"};
    cf_cert_t *leaf = NULL;
    cf_key_t *lkey = NULL;
    assert_int_equal(cf_ca_issue(ca, &req, &leaf, &lkey), CF_OK);
    assert_int_equal(cf_cert_verify(leaf, cf_ca_cert(orig), NULL, 0, time(NULL), NULL), CF_OK);
    cf_test_ca_check_leaf(orig, leaf, CF_COMPONENT_AGENT, 0, "URI:urn:certfleet:agent:loaded");
    assert_string_equal(cf_cert_fingerprint(cf_ca_cert(ca)), cf_cert_fingerprint(cf_ca_cert(orig)));
    /* refusals: a leaf is no CA; a key that is not the CA's */
    cf_ca_t *bad = (cf_ca_t *) 0x1;
    assert_int_equal(cf_ca_load(leaf, lkey, &bad), CF_ERR_INVALID);
    assert_null(bad);
    assert_int_equal(cf_ca_load(cf_ca_cert(orig), lkey, &bad), CF_ERR_KEYMISMATCH);
    assert_null(bad);
    assert_int_equal(cf_ca_load(NULL, lkey, &bad), CF_ERR_INVALID);
    assert_int_equal(cf_ca_load(leaf, NULL, &bad), CF_ERR_INVALID);
    cf_cert_destroy(&leaf);
    cf_key_destroy(&lkey);
    cf_mem_free(pem);
    cf_mem_free_secret(kpem, klen);
    cf_ca_destroy(&ca);
    cf_ca_destroy(&orig);
}

static cf_ca_t *s_load_files(const char *cert_file, const char *key_file, cf_err_t want)
{
    char path[700];
    size_t len = 0, klen = 0;
    snprintf(path, sizeof(path), "%s/%s", cf_test_ca_dir(), cert_file);
    char *pem = cf_test_read_file(path, &len);
    snprintf(path, sizeof(path), "%s/%s", cf_test_ca_dir(), key_file);
    char *kpem = cf_test_read_file(path, &klen);
    cf_ca_t *ca = s_load_pem(pem, len, kpem, klen, want);
    free(pem);
    free(kpem);
    return ca;
}

/* CAs made by the openssl tool: with and without a subjectKeyIdentifier, and one whose
   keyUsage lacks keyCertSign (refused). */
static void test_load_foreign_ca(void **state)
{
    (void) state;
    assert_int_equal(
        cf_test_sh("cd '%s' && for v in ski noski nosign; do ext=; ku=keyCertSign,cRLSign; "
                   "[ $v = noski ] && ext='-addext subjectKeyIdentifier=none -addext "
                   "authorityKeyIdentifier=none'; [ $v = nosign ] && ku=cRLSign; "
                   "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes "
                   "-keyout $v.key -out $v.pem -days 30 -subj \"/O=Example/CN=Foreign $v\" "
                   "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,$ku "
                   "$ext || exit 1; done",
                   cf_test_ca_dir()),
        0);
    assert_null(s_load_files("nosign.pem", "nosign.key", CF_ERR_INVALID));
    const char *files[][2] = {{"ski.pem", "ski.key"}, {"noski.pem", "noski.key"}};
    for (size_t i = 0; i < 2; i++) {
        cf_ca_t *ca = s_load_files(files[i][0], files[i][1], CF_OK);
        assert_non_null(ca);
        cf_issue_t req = {.component = CF_COMPONENT_AGENT, .name = "foreign-agent"};
        cf_cert_t *cert = NULL;
        cf_key_t *key = NULL;
        assert_int_equal(cf_ca_issue(ca, &req, &cert, &key), CF_OK);
        assert_int_equal(X509_get_signature_nid(cf_cert_x509(cert)), NID_ecdsa_with_SHA384);
        assert_string_equal(cf_cert_issuer(cert), cf_cert_subject(cf_ca_cert(ca)));
        cf_test_ca_save_cert(cert, "foreign-leaf.pem");
        assert_int_equal(cf_test_sh("cd '%s' && openssl verify -CAfile %s foreign-leaf.pem",
                                    cf_test_ca_dir(), files[i][0]),
                         0);
        cf_cert_destroy(&cert);
        cf_key_destroy(&key);
        cf_ca_destroy(&ca);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_load, cf_test_ca_setup),
        cmocka_unit_test_setup(test_load_foreign_ca, cf_test_ca_setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
