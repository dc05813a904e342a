/*  test_csr - CSR parsing, the signing policy and its refusals, CSR creation  */
#include "cf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cf_ca.h"
#include "cf_csr.h"
#include "cf_mem.h"

static char s_dir[512];
static cf_ca_t *s_ca; /* one P-256 CA for the whole file */

/* CSRs made by the openssl tool, each name.pem and name.der: "name|key|subject|addext". */
static const char *const s_csrs[] = {
    "p256|ec -pkeyopt ec_paramgen_curve:P-256|/CN=agent-1|",
    "p256uri|ec -pkeyopt ec_paramgen_curve:P-256|/CN=agent-1|"
    "-addext subjectAltName=URI:urn:certfleet:agent:agent-1",
    "rsa2048|rsa:2048|/CN=agent-1|",
    "ed25519|ed25519|/CN=agent-1|",
    "rsa1024|rsa:1024|/CN=agent-1|",
    "p521|ec -pkeyopt ec_paramgen_curve:P-521|/CN=agent-1|",
    "catrue|ec -pkeyopt ec_paramgen_curve:P-256|/CN=agent-1|"
    "-addext basicConstraints=critical,CA:TRUE",
    "cafalse|ec -pkeyopt ec_paramgen_curve:P-256|/CN=agent-1|"
    "-addext basicConstraints=critical,CA:FALSE",
    "otheruri|ec -pkeyopt ec_paramgen_curve:P-256|/CN=agent-1|"
    "-addext subjectAltName=URI:urn:certfleet:agent:agent-2",
    "twocn|ec -pkeyopt ec_paramgen_curve:P-256|/CN=agent-1/CN=agent-2|",
    "nocn|ec -pkeyopt ec_paramgen_curve:P-256|/O=Example|",
    "extras|ec -pkeyopt ec_paramgen_curve:P-256|/O=Example/CN=agent-1|"
    "-addext subjectAltName=DNS:evil.example,URI:urn:certfleet:agent:agent-1 "
    "-addext keyUsage=keyCertSign -addext extendedKeyUsage=serverAuth",
    "console|ec -pkeyopt ec_paramgen_curve:P-256|/CN=Operator|",
};

static int s_group_setup(void **state)
{
    (void) state;
    cf_test_tmpdir("test_csr", s_dir, sizeof(s_dir));
    for (size_t i = 0; i < sizeof(s_csrs) / sizeof(s_csrs[0]); i++) {
        char spec[512];
        snprintf(spec, sizeof(spec), "%s", s_csrs[i]);
        char *name = strtok(spec, "|");
        char *key = strtok(NULL, "|");
        char *subj = strtok(NULL, "|");
        char *ext = strtok(NULL, "|");
        if (cf_test_sh("cd '%s' && openssl req -new -newkey %s -nodes -keyout %s.key -subj '%s' "
                       "%s -out %s.pem && openssl req -in %s.pem -outform DER -out %s.der",
                       s_dir, key, name, subj, ext ? ext : "", name, name, name) != 0)
            return -1;
    }
    return cf_ca_create(NULL, &s_ca) == CF_OK ? 0 : -1;
}

static int s_group_teardown(void **state)
{
    (void) state;
    cf_ca_destroy(&s_ca);
    return 0;
}

static char *s_read(const char *file, size_t *len)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", s_dir, file);
    return cf_test_read_file(path, len);
}

/* Sign file for agent-1 under policy; returns the code, why gets the reason. */
static cf_err_t s_sign(const char *file, const cf_ca_policy_t *policy, const char *expected,
                       cf_why_t *why, cf_cert_t **cert_out)
{
    size_t len = 0;
    char *buf = s_read(file, &len);
    cf_cert_t *cert = (cf_cert_t *) 0x1;
    why->text[0] = '\0';
    cf_err_t rc = cf_ca_sign_csr(s_ca, buf, len, policy, expected, 0, &cert, why);
    free(buf);
    if (rc != CF_OK)
        assert_null(cert);
    if (cert_out)
        *cert_out = cert;
    else
        cf_cert_destroy(&cert);
    return rc;
}

static void test_usage(void **state)
{
    (void) state;
    cf_key_t *key = NULL; /* the agent: its key never leaves it */
    assert_int_equal(cf_key_generate(CF_KEY_P256, &key), CF_OK);
    char *csr = NULL;
    assert_int_equal(cf_csr_create(key, "agent-42", &csr), CF_OK);
    cf_cert_t *cert = NULL; /* the server */
    cf_why_t why = {""};
    assert_int_equal(cf_ca_sign_csr(s_ca, csr, strlen(csr), NULL, "agent-42", 0, &cert, &why),
                     CF_OK);
    assert_string_equal(cf_cert_agent_id(cert), "agent-42");
    assert_int_equal(cf_cert_matches_key(cert, key), CF_OK);
    assert_int_equal(cf_cert_verify(cert, cf_ca_cert(s_ca), NULL, 0, time(NULL), NULL), CF_OK);
    assert_true(cf_cert_has_client_auth(cert));
    assert_false(cf_cert_has_server_auth(cert));
    char path[700];
    snprintf(path, sizeof(path), "%s/own.csr", s_dir);
    cf_test_write_file(path, csr, strlen(csr));
    assert_int_equal(cf_test_sh("openssl req -in '%s' -verify -noout && openssl req -in '%s' "
                                "-noout -text | grep -q 'URI:urn:certfleet:agent:agent-42'",
                                path, path),
                     0);
    cf_cert_destroy(&cert);
    cf_mem_free(csr);
    cf_key_destroy(&key);
}

static void test_openssl_csrs_sign(void **state)
{
    (void) state;
    static const char *ok[] = {"p256", "p256uri", "rsa2048", "ed25519", "cafalse", "extras"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        for (int der = 0; der < 2; der++) {
            char file[64];
            snprintf(file, sizeof(file), "%s.%s", ok[i], der ? "der" : "pem");
            cf_why_t why;
            cf_cert_t *cert = NULL;
            assert_int_equal(s_sign(file, NULL, "agent-1", &why, &cert), CF_OK);
            X509 *x = cf_cert_x509(cert);
            assert_string_equal(cf_cert_subject(cert), "CN=agent-1"); /* ours, not theirs */
            assert_int_equal(cf_cert_san_count(cert), 1);
            assert_string_equal(cf_cert_san(cert, 0), "URI:urn:certfleet:agent:agent-1");
            assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE); /* not copied */
            assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_CLIENT);
            assert_false(X509_get_extension_flags(x) & EXFLAG_CA);
            char pem_file[64];
            snprintf(pem_file, sizeof(pem_file), "%s.key", ok[i]);
            size_t klen = 0;
            char *kpem = s_read(pem_file, &klen);
            cf_key_t *key = NULL;
            assert_int_equal(cf_key_from_pem(kpem, klen, NULL, &key), CF_OK);
            assert_int_equal(cf_cert_matches_key(cert, key), CF_OK);
            cf_key_destroy(&key);
            free(kpem);
            cf_cert_destroy(&cert);
        }
    }
}

/* PEM after text, as "openssl req -text" writes it, is found and signed. */
static void test_pem_after_text(void **state)
{
    (void) state;
    size_t len = 0;
    char *pem = s_read("p256uri.pem", &len);
    static const char text[] = "Certificate Request:\n    Data:\n        Version: 1 (0x0)\n";
    char *buf = malloc(sizeof(text) + len);
    assert_non_null(buf);
    memcpy(buf, text, sizeof(text) - 1);
    memcpy(buf + sizeof(text) - 1, pem, len);
    cf_cert_t *cert = NULL;
    cf_why_t why = {""};
    assert_int_equal(
        cf_ca_sign_csr(s_ca, buf, sizeof(text) - 1 + len, NULL, "agent-1", 0, &cert, &why), CF_OK);
    assert_string_equal(cf_cert_agent_id(cert), "agent-1");
    cf_cert_destroy(&cert);
    free(buf);
    free(pem);
}

static void test_policy_refusals(void **state)
{
    (void) state;
    cf_ca_policy_t p256_only = {.key_types = CF_CA_KEYBIT(CF_KEY_P256),
                                .component = CF_COMPONENT_AGENT};
    const struct {
        const char *file;
        const cf_ca_policy_t *policy;
        const char *expected;
        const char *why; /* a part of the reason */
    } cases[] = {
        {"catrue.pem", NULL, "agent-1", "CA:TRUE"},
        {"catrue.der", NULL, "agent-1", "CA:TRUE"},
        {"p256.pem", NULL, "agent-2", "expected 'agent-2'"}, /* another agent's name */
        {"p256uri.pem", NULL, "agent-2", "expected 'agent-2'"},
        {"otheruri.pem", NULL, "agent-1", "urn:certfleet:agent:agent-2"},
        {"rsa1024.pem", NULL, "agent-1", "RSA-1024"},
        {"p521.pem", NULL, "agent-1", "secp521r1"},
        {"rsa2048.pem", &p256_only, "agent-1", "RSA-2048 is not allowed"},
        {"ed25519.der", &p256_only, "agent-1", "Ed25519 is not allowed"},
        {"twocn.pem", NULL, "agent-1", "more than one CN"},
        {"nocn.pem", NULL, "agent-1", "no CN"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cf_why_t why;
        assert_int_equal(s_sign(cases[i].file, cases[i].policy, cases[i].expected, &why, NULL),
                         CF_ERR_POLICY);
        if (!strstr(why.text, cases[i].why))
            fail_msg("%s: reason '%s' lacks '%s'", cases[i].file, why.text, cases[i].why);
    }
}

/* A CSR whose signed content was changed after signing. */
static void test_tampered(void **state)
{
    (void) state;
    size_t len = 0;
    char *der = s_read("p256.der", &len);
    char *at = NULL;
    for (size_t i = 0; i + 7 <= len && !at; i++) {
        if (memcmp(der + i, "agent-1", 7) == 0)
            at = der + i;
    }
    assert_non_null(at);
    at[6] = '9'; /* CN agent-9, same length: still decodes */
    cf_cert_t *cert = (cf_cert_t *) 0x1;
    cf_why_t why = {""};
    assert_int_equal(cf_ca_sign_csr(s_ca, der, len, NULL, "agent-9", 0, &cert, &why),
                     CF_ERR_POLICY);
    assert_null(cert);
    assert_non_null(strstr(why.text, "self-signature"));
    free(der);
}

static void test_undecodable(void **state)
{
    (void) state;
    size_t len = 0, plen = 0;
    char *der = s_read("p256.der", &len);
    char *pem = s_read("p256.pem", &plen);
    char *big = calloc(1, CF_CSR_MAX_INPUT + 1);
    assert_non_null(big);
    char trailing[4096];
    memcpy(trailing, der, len);
    trailing[len] = 0;
    char *cut = strstr(pem, "-----END");
    assert_non_null(cut);
    static const char bad_b64[] = "-----BEGIN CERTIFICATE REQUEST-----\n!!\n"
                                  "-----END CERTIFICATE REQUEST-----\n";
    size_t clen = 0;
    char *cert_pem = NULL;
    assert_int_equal(cf_cert_to_pem(cf_ca_cert(s_ca), &cert_pem, &clen), CF_OK);
    const struct {
        const void *buf;
        size_t len;
        cf_err_t rc;
    } cases[] = {
        {der, len - 1, CF_ERR_CORRUPT},
        {der, 10, CF_ERR_CORRUPT},
        {trailing, len + 1, CF_ERR_CORRUPT},
        {pem, (size_t) (cut - pem), CF_ERR_CORRUPT},
        {"", 0, CF_ERR_CORRUPT},
        {"garbage", 7, CF_ERR_CORRUPT},
        {cert_pem, clen, CF_ERR_CORRUPT},
        {big, CF_CSR_MAX_INPUT + 1, CF_ERR_TOOBIG},
        {bad_b64, sizeof(bad_b64) - 1, CF_ERR_CORRUPT},
        {NULL, 5, CF_ERR_INVALID},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cf_csr_t *csr = (cf_csr_t *) 0x1;
        cf_why_t why = {""};
        assert_int_equal(cf_csr_parse(cases[i].buf, cases[i].len, &csr, &why), cases[i].rc);
        assert_null(csr);
        assert_true(why.text[0] != '\0');
        cf_cert_t *cert = (cf_cert_t *) 0x1;
        assert_int_equal(
            cf_ca_sign_csr(s_ca, cases[i].buf, cases[i].len, NULL, "agent-1", 0, &cert, NULL),
            cases[i].rc);
        assert_null(cert);
    }
    cf_mem_free(cert_pem);
    free(big);
    free(der);
    free(pem);
}

/* A CSR built with OpenSSL's API: any CN bytes, any version. */
static char *s_make_csr(const char *cn, long version, size_t *len_out)
{
    cf_key_t *key = NULL;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &key), CF_OK);
    X509_REQ *req = X509_REQ_new();
    assert_non_null(req);
    X509_NAME_add_entry_by_NID(X509_REQ_get_subject_name(req), NID_commonName, MBSTRING_UTF8,
                               (const unsigned char *) cn, -1, -1, 0);
    assert_int_equal(X509_REQ_set_pubkey(req, cf_key_pkey(key)), 1);
    assert_true(X509_REQ_sign(req, cf_key_pkey(key), EVP_sha256()) > 0);
    unsigned char *der = NULL;
    int n = i2d_X509_REQ(req, &der);
    assert_true(n > 0);
    if (version) { /* SEQUENCE { SEQUENCE { INTEGER version ...: the first INTEGER */
        for (int i = 0; i + 2 < n; i++) {
            if (der[i] == 0x02 && der[i + 1] == 0x01 && der[i + 2] == 0x00) {
                der[i + 2] = (unsigned char) version; /* breaks the signature too */
                break;
            }
        }
    }
    char *copy = malloc((size_t) n);
    memcpy(copy, der, (size_t) n);
    *len_out = (size_t) n;
    OPENSSL_free(der);
    X509_REQ_free(req);
    cf_key_destroy(&key);
    return copy;
}

static void test_version_and_hostile_text(void **state)
{
    (void) state;
    size_t len = 0;
    char *v2 = s_make_csr("agent-1", 1, &len);
    cf_cert_t *cert = NULL;
    cf_why_t why = {""};
    assert_int_equal(cf_ca_sign_csr(s_ca, v2, len, NULL, "agent-1", 0, &cert, &why), CF_ERR_POLICY);
    assert_non_null(strstr(why.text, "version"));
    free(v2);
    char *hostile = s_make_csr("agent\x1b[31m\n\x01-1", 0, &len);
    assert_int_equal(cf_ca_sign_csr(s_ca, hostile, len, NULL, "agent-1", 0, &cert, &why),
                     CF_ERR_POLICY);
    for (const char *p = why.text; *p; p++)
        assert_true(*p >= 0x20 && *p < 0x7f); /* printable only */
    free(hostile);
}

static void test_lifetime_and_console(void **state)
{
    (void) state;
    const struct {
        unsigned days, max_days;
        long want;
    } cases[] = {
        {0, 0, CF_ISSUE_DEFAULT_DAYS},
        {10, 30, 10},
        {400, 30, 30}, /* capped, not refused */
        {0, 20, 20},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cf_ca_policy_t policy = {
            .days = cases[i].days, .max_days = cases[i].max_days, .component = CF_COMPONENT_AGENT};
        cf_why_t why;
        cf_cert_t *cert = NULL;
        assert_int_equal(s_sign("p256.pem", &policy, "agent-1", &why, &cert), CF_OK);
        long life = (long) (cf_cert_not_after(cert) - cf_cert_not_before(cert));
        assert_int_equal(life, cases[i].want * 86400 + CF_ISSUE_SKEW);
        cf_cert_destroy(&cert);
    }
    cf_ca_policy_t console = {.component = CF_COMPONENT_CONSOLE};
    cf_why_t why;
    cf_cert_t *cert = NULL;
    assert_int_equal(s_sign("console.der", &console, "Operator", &why, &cert), CF_OK);
    assert_int_equal(cf_cert_component(cert), CF_COMPONENT_CONSOLE);
    assert_int_equal(cf_cert_san_count(cert), 0);
    cf_cert_destroy(&cert);
    assert_int_equal(s_sign("p256uri.pem", &console, "agent-1", &why, NULL), CF_ERR_POLICY);
    cf_ca_policy_t server = {.component = CF_COMPONENT_SERVER};
    assert_int_equal(s_sign("p256.pem", &server, "agent-1", &why, NULL), CF_ERR_INVALID);
    assert_int_equal(s_sign("p256.pem", NULL, "Agent-1", &why, NULL), CF_ERR_INVALID);
    assert_int_equal(s_sign("p256.pem", NULL, NULL, &why, NULL), CF_ERR_INVALID);
}

static void test_create_every_key_type(void **state)
{
    (void) state;
    static const cf_key_type_t types[] = {CF_KEY_P256, CF_KEY_P384, CF_KEY_ED25519, CF_KEY_RSA2048};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        cf_key_t *key = NULL;
        assert_int_equal(cf_key_generate(types[i], &key), CF_OK);
        char *csr = NULL;
        assert_int_equal(cf_csr_create(key, "multi.key-0", &csr), CF_OK);
        cf_cert_t *cert = NULL;
        cf_why_t why = {""};
        assert_int_equal(
            cf_ca_sign_csr(s_ca, csr, strlen(csr), NULL, "multi.key-0", 0, &cert, &why), CF_OK);
        assert_int_equal(cf_cert_matches_key(cert, key), CF_OK);
        cf_cert_destroy(&cert);
        cf_mem_free(csr);
        cf_key_destroy(&key);
    }
    cf_key_t *key = NULL;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &key), CF_OK);
    char *csr = (char *) 0x1;
    assert_int_equal(cf_csr_create(key, "Bad Id", &csr), CF_ERR_INVALID);
    assert_null(csr);
    assert_int_equal(cf_csr_create(NULL, "agent-1", &csr), CF_ERR_INVALID);
    assert_int_equal(cf_csr_create(key, NULL, &csr), CF_ERR_INVALID);
    cf_key_destroy(&key);
}

static void test_alloc_failures(void **state)
{
    (void) state;
    static const char *files[] = {"p256uri.pem", "p256uri.der"};
    for (size_t f = 0; f < 2; f++) {
        size_t len = 0;
        char *buf = s_read(files[f], &len);
        for (int sign = 0; sign < 2; sign++) {
            for (long n = 0;; n++) {
                cf_csr_t *csr = NULL;
                cf_cert_t *cert = NULL;
                cf_test_alloc_fail_at(n);
                cf_err_t rc = sign ? cf_ca_sign_csr(s_ca, buf, len, NULL, "agent-1", 0, &cert, NULL)
                                   : cf_csr_parse(buf, len, &csr, NULL);
                long failed = cf_test_alloc_failed();
                cf_test_alloc_fail_at(-1);
                if (!failed) {
                    assert_int_equal(rc, CF_OK);
                    cf_csr_destroy(&csr);
                    cf_cert_destroy(&cert);
                    break;
                }
                assert_int_equal(rc, CF_ERR_NOMEM);
                assert_null(csr);
                assert_null(cert);
            }
        }
        free(buf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_openssl_csrs_sign),
        cmocka_unit_test(test_pem_after_text),
        cmocka_unit_test(test_policy_refusals),
        cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_undecodable),
        cmocka_unit_test(test_version_and_hostile_text),
        cmocka_unit_test(test_lifetime_and_console),
        cmocka_unit_test(test_create_every_key_type),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, s_group_setup, s_group_teardown);
}
