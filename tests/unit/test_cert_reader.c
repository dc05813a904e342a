/*  test_cert_reader - certificates read without decoding their key: the same fields as a
    full parse, the key left undecoded, damage refused  */
#include "cf_test.h"

#include <string.h>

#include <openssl/x509v3.h>

#include "cf_ca.h"
#include "cf_issue.h"
#include "cf_cert.h"
#include "cf_mem.h"

/* A CA and an agent certificate it issued, as DER. */
typedef struct {
    cf_ca_t *ca;        /* owned */
    cf_key_t *key;      /* the agent's, owned */
    cf_cert_t *leaf;    /* owned, parsed in full */
    unsigned char *der; /* owned: leaf's DER */
    size_t len;         /* its length */
} s_fix_t;

static void s_fix(s_fix_t *f)
{
    memset(f, 0, sizeof(*f));
    cf_ca_opts_t opts = {.name = "Reader Test CA"};
    assert_int_equal(cf_ca_create(&opts, &f->ca), CF_OK);
    assert_int_equal(cf_key_generate(CF_KEY_P256, &f->key), CF_OK);
    cf_issue_t req = {.component = CF_COMPONENT_AGENT, .name = "agent-42", .public_key = f->key};
    assert_int_equal(cf_ca_issue_der(f->ca, &req, &f->der, &f->len, NULL), CF_OK);
    assert_int_equal(cf_cert_parse(f->der, f->len, &f->leaf), CF_OK);
}

static void s_unfix(s_fix_t *f)
{
    cf_mem_free(f->der);
    cf_cert_destroy(&f->leaf);
    cf_key_destroy(&f->key);
    cf_ca_destroy(&f->ca);
}

/* Usage: one reader, any number of certificates read with it. */
static void test_usage(void **state)
{
    (void) state;
    s_fix_t f;
    s_fix(&f);
    cf_cert_reader_t *reader = NULL;
    assert_int_equal(cf_cert_reader_new(&reader), CF_OK);
    cf_cert_t *c = NULL;
    assert_int_equal(cf_cert_reader_parse(reader, f.der, f.len, &c), CF_OK);
    assert_string_equal(cf_cert_agent_id(c), "agent-42");
    assert_string_equal(cf_cert_common_name(c), "agent-42");
    cf_cert_destroy(&c);
    cf_cert_reader_destroy(&reader);
    cf_cert_reader_destroy(&reader); /* safe to repeat */
    s_unfix(&f);
}

/* Every field a full parse gives, the same; the key itself not decoded. */
static void test_same_fields_key_not_decoded(void **state)
{
    (void) state;
    s_fix_t f;
    s_fix(&f);
    cf_cert_reader_t *reader = NULL;
    assert_int_equal(cf_cert_reader_new(&reader), CF_OK);
    cf_cert_t *c = NULL;
    assert_int_equal(cf_cert_reader_parse(reader, f.der, f.len, &c), CF_OK);
    assert_string_equal(cf_cert_fingerprint(c), cf_cert_fingerprint(f.leaf));
    assert_string_equal(cf_cert_serial(c), cf_cert_serial(f.leaf));
    assert_string_equal(cf_cert_subject(c), cf_cert_subject(f.leaf));
    assert_string_equal(cf_cert_issuer(c), cf_cert_issuer(f.leaf));
    assert_int_equal(cf_cert_not_before(c), cf_cert_not_before(f.leaf));
    assert_int_equal(cf_cert_not_after(c), cf_cert_not_after(f.leaf));
    assert_int_equal(cf_cert_san_count(c), cf_cert_san_count(f.leaf));
    assert_int_equal(cf_cert_component(c), CF_COMPONENT_AGENT);
    assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(cf_cert_x509(c)),
                                   X509_get_subject_name(cf_cert_x509(cf_ca_cert(f.ca)))),
                     0);
    unsigned char id_full[CF_CERT_KEY_ID_LEN], id_read[CF_CERT_KEY_ID_LEN];
    assert_int_equal(cf_cert_key_id(f.leaf, id_full), CF_OK);
    assert_int_equal(cf_cert_key_id(c, id_read), CF_OK);
    assert_memory_equal(id_full, id_read, sizeof(id_full));
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(cf_cert_to_der(c, &der, &len), CF_OK);
    assert_int_equal(len, f.len);
    assert_memory_equal(der, f.der, len);
    cf_mem_free(der);
    /* the point of the reader: no key was decoded, and what needs one says so */
    assert_null(X509_get0_pubkey(cf_cert_x509(c)));
    assert_string_equal(cf_cert_key_name(c), "");
    assert_string_equal(cf_cert_key_name(f.leaf), "P-256");
    assert_int_equal(cf_cert_matches_key(c, f.key), CF_ERR_KEYMISMATCH);
    assert_int_equal(cf_cert_matches_key(f.leaf, f.key), CF_OK);
    assert_int_not_equal(
        cf_cert_verify(c, cf_ca_cert(f.ca), NULL, 0, cf_cert_not_before(c) + 60, NULL), CF_OK);
    cf_cert_destroy(&c);
    cf_cert_reader_destroy(&reader);
    s_unfix(&f);
}

static void test_refused(void **state)
{
    (void) state;
    s_fix_t f;
    s_fix(&f);
    cf_cert_reader_t *reader = NULL;
    assert_int_equal(cf_cert_reader_new(&reader), CF_OK);
    cf_cert_t *c = NULL;
    assert_int_equal(cf_cert_reader_parse(reader, f.der, f.len - 1, &c), CF_ERR_CORRUPT);
    assert_null(c);
    unsigned char *more = cf_mem_malloc(f.len + 1);
    assert_non_null(more);
    memcpy(more, f.der, f.len);
    more[f.len] = 0;
    assert_int_equal(cf_cert_reader_parse(reader, more, f.len + 1, &c), CF_ERR_CORRUPT);
    more[0] = 0x31; /* a SET, not a SEQUENCE */
    assert_int_equal(cf_cert_reader_parse(reader, more, f.len, &c), CF_ERR_CORRUPT);
    cf_mem_free(more);
    char *pem = NULL;
    size_t plen = 0;
    assert_int_equal(cf_cert_to_pem(f.leaf, &pem, &plen), CF_OK);
    assert_int_equal(cf_cert_reader_parse(reader, pem, plen, &c), CF_ERR_CORRUPT); /* DER only */
    cf_mem_free(pem);
    assert_int_equal(cf_cert_reader_parse(reader, f.der, CF_CERT_MAX_INPUT + 1, &c), CF_ERR_TOOBIG);
    assert_int_equal(cf_cert_reader_parse(reader, f.der, 0, &c), CF_ERR_INVALID);
    assert_int_equal(cf_cert_reader_parse(NULL, f.der, f.len, &c), CF_ERR_INVALID);
    assert_int_equal(cf_cert_reader_parse(reader, NULL, f.len, &c), CF_ERR_INVALID);
    assert_int_equal(cf_cert_reader_parse(reader, f.der, f.len, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_cert_reader_new(NULL), CF_ERR_INVALID);
    cf_cert_reader_destroy(NULL);
    /* the reader is still good after refusals */
    assert_int_equal(cf_cert_reader_parse(reader, f.der, f.len, &c), CF_OK);
    cf_cert_destroy(&c);
    cf_cert_reader_destroy(&reader);
    s_unfix(&f);
}

static void test_alloc_failures(void **state)
{
    (void) state;
    s_fix_t f;
    s_fix(&f);
    cf_cert_reader_t *reader = NULL;
    assert_int_equal(cf_cert_reader_new(&reader), CF_OK);
    for (long n = 0;; n++) {
        cf_cert_t *c = NULL;
        cf_test_alloc_fail_at(n);
        cf_err_t rc = cf_cert_reader_parse(reader, f.der, f.len, &c);
        long failed = cf_test_alloc_failed();
        cf_test_alloc_fail_at(-1);
        if (!failed) {
            assert_int_equal(rc, CF_OK);
            assert_string_equal(cf_cert_agent_id(c), "agent-42");
            cf_cert_destroy(&c);
            break;
        }
        assert_int_not_equal(rc, CF_OK);
        assert_null(c);
    }
    cf_cert_reader_destroy(&reader);
    s_unfix(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_same_fields_key_not_decoded),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
