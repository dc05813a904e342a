/*  cf_test_ca - what the CA unit tests share: their directory, saving certificates, leaf checks  */
#include "cf_test_ca.h"

#include <stdio.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "cf_mem.h"
#include "cf_test.h"

static char s_dir[512]; /* the test directory */

int cf_test_ca_setup(void **state)
{
    (void) state;
    cf_test_tmpdir("test_ca", s_dir, sizeof(s_dir));
    return 0;
}

const char *cf_test_ca_dir(void)
{
    return s_dir;
}

void cf_test_ca_save_cert(const cf_cert_t *cert, const char *file)
{
    char *pem = NULL;
    size_t len = 0;
    char path[700];
    assert_int_equal(cf_cert_to_pem(cert, &pem, &len), CF_OK);
    snprintf(path, sizeof(path), "%s/%s", s_dir, file);
    cf_test_write_file(path, pem, len);
    cf_mem_free(pem);
}

int cf_test_ca_critical(X509 *x, int nid)
{
    int i = X509_get_ext_by_NID(x, nid, -1);
    assert_true(i >= 0);
    return X509_EXTENSION_get_critical(X509_get_ext(x, i));
}

/* The SAN entries as "DNS:x", "IP:4/16 bytes", "URI:x", joined by commas. */
static void s_sans(X509 *x, char *out, size_t cap)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    out[0] = '\0';
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        const ASN1_STRING *s = g->d.ia5;
        char item[300];
        if (g->type == GEN_IPADD)
            snprintf(item, sizeof(item), "IP:%d", ASN1_STRING_length(s));
        else
            snprintf(item, sizeof(item), "%s:%.*s", g->type == GEN_DNS ? "DNS" : "URI",
                     ASN1_STRING_length(s), (const char *) ASN1_STRING_get0_data(s));
        if (i)
            strncat(out, ",", cap - strlen(out) - 1);
        strncat(out, item, cap - strlen(out) - 1);
    }
    GENERAL_NAMES_free(names);
}

void cf_test_ca_check_leaf(const cf_ca_t *ca, const cf_cert_t *cert, cf_component_t comp,
                           int rsa_key, const char *sans)
{
    X509 *x = cf_cert_x509(cert);
    X509 *cx = cf_cert_x509(cf_ca_cert(ca));
    assert_int_equal(X509_get_version(x), 2);
    assert_int_equal(X509_verify(x, X509_get0_pubkey(cx)), 1);
    assert_int_equal(X509_check_issued(cx, x), X509_V_OK);
    assert_false(X509_get_extension_flags(x) & EXFLAG_CA);
    assert_true(X509_get_extension_flags(x) & EXFLAG_BCONS); /* present, CA:FALSE */
    assert_true(cf_test_ca_critical(x, NID_basic_constraints));
    assert_true(cf_test_ca_critical(x, NID_key_usage));
    uint32_t ku =
        KU_DIGITAL_SIGNATURE | (comp == CF_COMPONENT_SERVER && rsa_key ? KU_KEY_ENCIPHERMENT : 0);
    assert_int_equal(X509_get_key_usage(x), ku);
    assert_false(cf_test_ca_critical(x, NID_ext_key_usage));
    assert_int_equal(X509_get_extended_key_usage(x),
                     comp == CF_COMPONENT_SERVER ? XKU_SSL_SERVER : XKU_SSL_CLIENT);
    assert_int_equal(
        ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(x), X509_get0_subject_key_id(cx)), 0);
    assert_non_null(X509_get0_subject_key_id(x));
    char got[4096];
    s_sans(x, got, sizeof(got));
    assert_string_equal(got, sans);
    assert_int_equal(cf_cert_component(cert), comp);
}
