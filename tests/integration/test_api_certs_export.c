/*  test_api_certs_export - exporting certificates from a real cf-server, the archive, and no
    clear private key in its Redis  */
#include "cf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "cf_itest.h"
#include "cf_itest_certfix.h"
#include "cf_itest_certs.h"
#include "cf_mem.h"
#include "cf_p12.h"

#define S_EXPPASS "exp-pass" /* exports */
#define S_MAXKEYS 16         /* exported keys whose scalars are searched for */

static cf_itest_certs_t s_t;                  /* the server under test */
static unsigned char s_scalar[S_MAXKEYS][64]; /* private scalars of exported keys */
static size_t s_scalar_len[S_MAXKEYS], s_n_scalars;
static char s_gen1[3][65]; /* fingerprints of the first generate-all: server, console, agent */

/* ---- the search for clear keys --------------------------------------------------------- */

/* Where needle first occurs in hay (memmem is a GNU extension). */
static const void *s_find_bytes(const void *hay, size_t n, const void *needle, size_t m)
{
    const unsigned char *h = hay;
    for (size_t i = 0; m && i + m <= n; i++) {
        if (h[i] == *(const unsigned char *) needle && memcmp(h + i, needle, m) == 0)
            return h + i;
    }
    return NULL;
}

/* Keep the private scalar of the key in a PKCS#12 (DER) exported by the API. */
static void s_keep_scalar(const unsigned char *der, size_t len, const char *password)
{
    cf_p12_content_t c = {0};
    assert_int_equal(cf_p12_parse(der, len, password, 0, &c, NULL), CF_OK);
    assert_non_null(c.key);
    assert_true(s_n_scalars < S_MAXKEYS);
    EVP_PKEY *pkey = cf_key_pkey(c.key);
    size_t n = sizeof(s_scalar[0]);
    unsigned char *out = s_scalar[s_n_scalars];
    if (EVP_PKEY_get_raw_private_key(pkey, out, &n) != 1) { /* Ed25519 has raw bytes; */
        BIGNUM *d = NULL;                                   /* EC keys a scalar d */
        assert_int_equal(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d), 1);
        n = (size_t) (EVP_PKEY_get_bits(pkey) + 7) / 8;
        assert_true(BN_bn2binpad(d, out, (int) n) == (int) n);
        BN_clear_free(d);
    }
    s_scalar_len[s_n_scalars++] = n;
    cf_p12_content_clear(&c);
}

/* base64 of bytes[0..n) at the three alignments a value may put them at: for each, the
   characters that depend on those bytes only. Calls fn for each form. */
static void s_b64_forms(const unsigned char *b, size_t n, void (*fn)(const char *, void *),
                        void *arg)
{
    for (size_t skip = 0; skip < 3 && skip < n; skip++) {
        size_t m = (n - skip) / 3 * 3;
        char text[256];
        if (m < 6)
            continue; /* too short to mean anything */
        EVP_EncodeBlock((unsigned char *) text, b + skip, (int) m);
        fn(text, arg);
    }
}

typedef struct {
    const cf_itest_certfix_dump_t *dump; /* where to look */
    const char *what;                    /* what is looked for, for the failure message */
} s_search_t;

static void s_absent(const s_search_t *s, const void *needle, size_t n)
{
    if (s_find_bytes(s->dump->buf, s->dump->len, needle, n))
        fail_msg("Redis holds %s (%zu bytes)", s->what, n);
}

static void s_absent_text(const char *text, void *arg)
{
    s_absent(arg, text, strlen(text));
}

/* Bytes as lowercase and uppercase hex, raw, and in base64. */
static void s_absent_bytes(s_search_t *s, const unsigned char *b, size_t n)
{
    char hex[2 * 64 + 1], up[2 * 64 + 1];
    for (size_t i = 0; i < n && i < 64; i++) {
        snprintf(hex + 2 * i, 3, "%02x", b[i]);
        snprintf(up + 2 * i, 3, "%02X", b[i]);
    }
    s_absent(s, b, n);
    s_absent(s, hex, 2 * n);
    s_absent(s, up, 2 * n);
    s_b64_forms(b, n, s_absent_text, s);
}

/* ---- fixtures -------------------------------------------------------------------------- */

/* The records the tests export: a first generate-all (its fingerprints in s_gen1, for the
   archive) and an import of each kind that carries a key (as test_api_certs makes them). */
static void s_records(void)
{
    if (!cf_itest_certs_ready())
        return; /* the tests skip */
    json_t *o = cf_itest_certs_call(200, NULL, "POST", "/certs/generate-all", "%s",
                                    "{\"key_type\":\"p256\",\"days\":90}");
    const json_t *gen = json_object_get(o, "generated");
    assert_int_equal(json_array_size(gen), 3);
    for (size_t i = 0; i < 3; i++)
        snprintf(s_gen1[i], sizeof(s_gen1[i]), "%s",
                 cf_itest_certs_str(json_array_get(gen, i), "fingerprint"));
    json_decref(o);
    char *p12 = cf_itest_certs_file_b64("srv.p12"), *cert = cf_itest_certs_file_json("srv.pem");
    char *enc = cf_itest_certs_file_json("srv-enc.key"), *ops = cf_itest_certs_file_json("ops.pem");
    char *ops_key = cf_itest_certs_file_json("ops.key");
    json_decref(cf_itest_certs_import(200, NULL, "server/srv2.test", CF_ITEST_CERTFIX_P12, p12,
                                      CF_ITEST_CERTFIX_IMPPASS));
    json_decref(cf_itest_certs_import(200, NULL, "server/srv3.test", CF_ITEST_CERTFIX_PEMPW, cert,
                                      enc, CF_ITEST_CERTFIX_KEYPASS));
    json_decref(
        cf_itest_certs_import(200, NULL, "console/ops", CF_ITEST_CERTFIX_PEM, ops, ops_key));
    json_decref(cf_itest_certs_import(
        200, NULL, "console/ops-store",
        "{\"store\":\"%s/store\",\"match\":\"ops.example\",\"password\":\"" CF_ITEST_CERTFIX_IMPPASS
        "\"}",
        s_t.dir));
    free(p12), free(cert), free(enc), free(ops), free(ops_key);
}

static int s_setup(void **state)
{
    (void) state;
    cf_itest_certs_start(&s_t, "test_api_certs_export");
    cf_itest_certfix_make(s_t.dir);
    s_records();
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    cf_itest_certs_stop(&s_t);
    return 0;
}

/* ---- tests ----------------------------------------------------------------------------- */

/* Export component/name ("comp/name") as a PKCS#12 under S_EXPPASS into file; keep the
   scalar of its key. */
static void s_export_p12(const char *target, const char *file)
{
    cf_itest_certfix_export_p12(s_t.dir, target, S_EXPPASS, file);
    char path[600];
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/%s", s_t.dir, file);
    char *der = cf_test_read_file(path, &len);
    s_keep_scalar((const unsigned char *) der, len, S_EXPPASS);
    free(der);
}

/* The usage example: take certificates out, as PKCS#12 with their keys or as PEM without. */
static void test_export(void **state)
{
    (void) state;
    CF_ITEST_CERTS_NEED();
    /* PKCS#12: opens with openssl and the password, not without; ours carry our CA */
    s_export_p12("server/srv2.test", "srv2.p12");
    assert_int_equal(cf_test_sh("cd '%s' && openssl pkcs12 -in srv2.p12 -passin pass:" S_EXPPASS
                                " -nodes -out srv2.out && grep -q 'PRIVATE KEY' srv2.out && grep "
                                "-q 'subject=CN = srv.example' srv2.out && ! grep -q "
                                "'certfleet CA' srv2.out",
                                s_t.dir),
                     0);
    assert_int_not_equal(
        cf_test_sh("cd '%s' && openssl pkcs12 -in srv2.p12 -passin pass:wrong -nodes", s_t.dir), 0);
    s_export_p12("server/localhost", "localhost.p12");
    assert_int_equal(
        cf_test_sh("cd '%s' && openssl pkcs12 -in localhost.p12 -passin pass:" S_EXPPASS
                   " -nokeys | grep -q 'subject=CN = certfleet CA'",
                   s_t.dir),
        0);
    s_export_p12("server/srv3.test", "srv3.p12");
    s_export_p12("console/console", "console-exp.p12");
    s_export_p12("console/ops", "ops-exp.p12");
    s_export_p12("console/ops-store", "ops-store-exp.p12");
    s_export_p12("agent/shared", "shared.p12");
    /* PEM: certificate and chain, never the key */
    json_t *o = cf_itest_certs_call(200, NULL, "POST", "/certs/console/console/export", "%s",
                                    "{\"format\":\"pem\"}");
    assert_non_null(strstr(cf_itest_certs_str(o, "cert"), "BEGIN CERTIFICATE"));
    assert_non_null(strstr(cf_itest_certs_str(o, "chain"), "BEGIN CERTIFICATE"));
    char *all = json_dumps(o, 0);
    assert_null(strstr(all, "PRIVATE"));
    free(all);
    json_decref(o);
    /* no built-in password; an unknown record */
    json_decref(cf_itest_certs_call(400, "password", "POST", "/certs/console/console/export", "%s",
                                    "{\"format\":\"p12\"}"));
    json_decref(cf_itest_certs_call(404, NULL, "POST", "/certs/console/nobody/export", "%s",
                                    "{\"format\":\"pem\"}"));
}

static void test_archive(void **state)
{
    (void) state;
    CF_ITEST_CERTS_NEED();
    /* a second generation replaces the first, which goes to the archive */
    json_decref(cf_itest_certs_call(200, NULL, "POST", "/certs/generate-all", "%s",
                                    "{\"key_type\":\"p384\"}"));
    json_t *o = cf_itest_certs_call(200, NULL, "GET", "/certs/archive", NULL);
    const json_t *arr = json_object_get(o, "certs");
    for (size_t k = 0; k < 3; k++) {
        const json_t *c = NULL;
        for (size_t i = 0; !c && i < json_array_size(arr); i++) {
            if (strcmp(cf_itest_certs_str(json_array_get(arr, i), "fingerprint"), s_gen1[k]) == 0)
                c = json_array_get(arr, i);
        }
        if (!c)
            fail_msg("%s not in the archive", s_gen1[k]);
        assert_string_equal(cf_itest_certs_str(c, "state"), "archived");
        assert_true(json_integer_value(json_object_get(c, "archived_at")) > 0);
    }
    json_decref(o);
    o = cf_itest_certs_call(200, NULL, "GET", "/certs/archive?component=agent", NULL);
    arr = json_object_get(o, "certs");
    assert_true(json_array_size(arr) >= 1);
    for (size_t i = 0; i < json_array_size(arr); i++)
        assert_string_equal(cf_itest_certs_str(json_array_get(arr, i), "component"), "agent");
    json_decref(o);
    json_decref(cf_itest_certs_call(400, "limit", "GET", "/certs/archive?limit=0", NULL));
    /* the new keys are exported too, for the clear-key search */
    s_export_p12("server/localhost", "localhost2.p12");
    s_export_p12("console/console", "console2.p12");
}

/* No clear key in Redis (issue 3): after --init, two generate-alls, imports and exports, no
   value holds a PEM private key, a PKCS#8 or SEC1 DER prefix (raw, hex or
   base64), or the private scalar of any key the API exported (raw, hex or base64). */
static void test_no_clear_key(void **state)
{
    (void) state;
    CF_ITEST_CERTS_NEED();
    static const unsigned char prefixes[][28] = {
        {0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01},
        {0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01},
        {0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70},
        {0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20},
        {0x30, 0x81, 0xa4, 0x02, 0x01, 0x01, 0x04, 0x30},
    };
    static const size_t lens[] = {14, 14, 10, 7, 8};
    static const char *const names[] = {"a PKCS#8 EC prefix", "a PKCS#8 RSA prefix",
                                        "a PKCS#8 Ed25519 prefix", "a SEC1 P-256 prefix",
                                        "a SEC1 P-384 prefix"};
    cf_itest_certfix_dump_t d = cf_itest_certfix_dump(s_t.redis.port, 1);
    /* the dump sees what matters: sealed keys and the records */
    assert_non_null(s_find_bytes(d.buf, d.len, "cf:cert:server:localhost", 24));
    assert_non_null(s_find_bytes(d.buf, d.len, "cfseal1:", 8));
    s_search_t s = {&d, "a PEM private key header"};
    s_absent(&s, "PRIVATE KEY", 11);
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        s.what = names[i];
        s_absent_bytes(&s, prefixes[i], lens[i]);
    }
    assert_int_equal(s_n_scalars, 9);
    for (size_t i = 0; i < s_n_scalars; i++) {
        s.what = "the private scalar of an exported key";
        s_absent_bytes(&s, s_scalar[i], s_scalar_len[i]);
    }
    free(d.buf);
    cf_mem_wipe(s_scalar, sizeof(s_scalar));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_export),
        cmocka_unit_test(test_archive),
        cmocka_unit_test(test_no_clear_key),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
