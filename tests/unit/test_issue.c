/*  test_issue - issuance requests: names, SANs, profiles, lifetimes, refusals and caps  */
#include "cf_test.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cf_ca.h"
#include "cf_issue.h"
#include "cf_mem.h"

static void test_usage(void **state)
{
    (void) state;
    const char *dns[] = {"srv1.example.test"};
    const char *ips[] = {"127.0.0.1", "::1"};
    cf_issue_t req = {.component = CF_COMPONENT_SERVER,
                      .name = "srv1.example.test",
                      .dns = dns,
                      .n_dns = 1,
                      .ips = ips,
                      .n_ips = 2};
    cf_issue_sans_t sans;
    assert_int_equal(cf_issue_sans(&req, &sans), CF_OK);
    assert_int_equal(sans.n, 3); /* the name and dns[0] are one entry */
    assert_int_equal(sans.san[0].tag, CF_TBS_SAN_DNS);
    assert_int_equal(sans.san[1].tag, CF_TBS_SAN_IP);
    assert_int_equal(sans.san[1].len, 4);
    assert_memory_equal(sans.san[1].data, "\x7f\x00\x00\x01", 4);
    assert_int_equal(sans.san[2].len, 16);
    unsigned ku = 0, eku = 0;
    cf_issue_profile(&req, CF_KEY_RSA2048, &ku, &eku);
    assert_int_equal(ku, CF_TBS_KU_DIGITAL_SIGNATURE | CF_TBS_KU_KEY_ENCIPHERMENT);
    assert_int_equal(eku, CF_TBS_EKU_SERVER);
    assert_string_equal(cf_issue_cn(&req), "srv1.example.test");
}

static void test_agent_ids(void **state)
{
    (void) state;
    static const char *good[] = {"a",
                                 "0",
                                 "agent-7",
                                 "ws-0042.corp",
                                 "a_b",
                                 "x.y-z_0",
                                 "a12345678901234567890123456789012345678901234567890123456789012"};
    static const char *bad[] = {
        "",         "A",   "Agent",
        "-a",       ".a",  "_a",
        "a b",      "a/b", "a:b",
        "\xc3\xa4", "a\n", "a123456789012345678901234567890123456789012345678901234567890123"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(cf_issue_check_agent_id(good[i]), CF_OK);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(cf_issue_check_agent_id(bad[i]), CF_ERR_INVALID);
    assert_int_equal(cf_issue_check_agent_id(NULL), CF_ERR_INVALID);
}

static void test_dns_names(void **state)
{
    (void) state;
    char longest[300], too_long[300], label63[80], label64[80];
    memset(label63, 'a', 63);
    label63[63] = '\0';
    memset(label64, 'a', 64);
    label64[64] = '\0';
    strcpy(longest, "");
    for (int i = 0; i < 4; i++) /* 4 x 63 + 3 dots = 255 > 253: cut to 253 */
        snprintf(longest + strlen(longest), sizeof(longest) - strlen(longest), "%s%s", i ? "." : "",
                 label63);
    longest[253] = '\0';
    strcpy(too_long, longest);
    strcat(too_long, "a");
    const char *good[] = {
        "a", "srv1.example.test", "*.fleet.example.test", "x-1.y", "123", label63, longest};
    const char *bad[] = {"",  ".",  "a.",    ".a",  "a..b",   "-a.b",  "a-.b",   "a_b",
                         "*", "*.", "a.*.b", "a b", "ä.test", label64, too_long, NULL};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(cf_issue_check_dns(good[i]), CF_OK);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(cf_issue_check_dns(bad[i]), CF_ERR_INVALID);
    assert_int_equal(cf_issue_check_name("Operator Console 2"), CF_OK);
    assert_int_equal(cf_issue_check_name("tab\there"), CF_ERR_INVALID);
    assert_int_equal(cf_issue_check_name(""), CF_ERR_INVALID);
    assert_int_equal(cf_issue_check_name(label64), CF_OK);
    assert_int_equal(cf_issue_check_name(too_long), CF_ERR_INVALID);
}

static void test_sans_per_component(void **state)
{
    (void) state;
    cf_issue_sans_t sans;
    cf_issue_t agent = {.component = CF_COMPONENT_AGENT, .name = "agent-9"};
    assert_int_equal(cf_issue_sans(&agent, &sans), CF_OK);
    assert_int_equal(sans.n, 1);
    assert_int_equal(sans.san[0].tag, CF_TBS_SAN_URI);
    assert_int_equal(sans.san[0].len, strlen("urn:certfleet:agent:agent-9"));
    assert_memory_equal(sans.san[0].data, "urn:certfleet:agent:agent-9", sans.san[0].len);
    cf_issue_t shared = {.component = CF_COMPONENT_AGENT, .shared_agent = 1};
    assert_int_equal(cf_issue_sans(&shared, &sans), CF_OK);
    assert_int_equal(sans.n, 1);
    assert_memory_equal(sans.san[0].data, CF_AGENT_SHARED_URI, strlen(CF_AGENT_SHARED_URI));
    assert_string_equal(cf_issue_cn(&shared), CF_ISSUE_SHARED_AGENT);
    shared.name = "All Agents";
    assert_int_equal(cf_issue_sans(&shared, &sans), CF_OK);
    assert_string_equal(cf_issue_cn(&shared), "All Agents");
    cf_issue_t console = {.component = CF_COMPONENT_CONSOLE, .name = "console"};
    assert_int_equal(cf_issue_sans(&console, &sans), CF_OK);
    assert_int_equal(sans.n, 0);
    const char *ips[] = {"10.0.0.1", "10.0.0.1", "::ffff:10.0.0.1", "0:0::1", "::1"};
    cf_issue_t server = {
        .component = CF_COMPONENT_SERVER, .name = "10.0.0.1", .ips = ips, .n_ips = 5};
    assert_int_equal(cf_issue_sans(&server, &sans), CF_OK);
    assert_int_equal(sans.n, 3); /* duplicates by value dropped, IPv4-mapped kept apart */
    unsigned ku = 0, eku = 0;
    cf_issue_profile(&server, CF_KEY_P256, &ku, &eku);
    assert_int_equal(ku, CF_TBS_KU_DIGITAL_SIGNATURE);
    cf_issue_profile(&agent, CF_KEY_RSA4096, &ku, &eku);
    assert_int_equal(ku, CF_TBS_KU_DIGITAL_SIGNATURE); /* clients never keyEncipherment */
    assert_int_equal(eku, CF_TBS_EKU_CLIENT);
    cf_issue_profile(&console, CF_KEY_ED25519, &ku, &eku);
    assert_int_equal(eku, CF_TBS_EKU_CLIENT);
}

static void test_validity_rules(void **state)
{
    (void) state;
    int64_t nb = 0, na = 0;
    cf_issue_t req = {.component = CF_COMPONENT_AGENT, .name = "a", .now = 1000000};
    assert_int_equal(cf_issue_validity(&req, INT64_MAX, &nb, &na), CF_OK);
    assert_int_equal(nb, 1000000 - CF_ISSUE_SKEW);
    assert_int_equal(na, 1000000 + (int64_t) CF_ISSUE_DEFAULT_DAYS * 86400);
    req.seconds = 60;
    assert_int_equal(cf_issue_validity(&req, INT64_MAX, &nb, &na), CF_OK);
    assert_int_equal(na, 1000060);
    assert_int_equal(cf_issue_validity(&req, 1000030, &nb, &na), CF_OK);
    assert_int_equal(na, 1000030);
    assert_int_equal(cf_issue_validity(&req, 1000000, &nb, &na), CF_ERR_EXPIRED);
    req.seconds = 0;
    req.days = CF_ISSUE_MAX_DAYS;
    assert_int_equal(cf_issue_validity(&req, INT64_MAX, &nb, &na), CF_OK);
    req.days = CF_ISSUE_MAX_DAYS + 1;
    assert_int_equal(cf_issue_validity(&req, INT64_MAX, &nb, &na), CF_ERR_INVALID);
    req.days = 0;
    static const time_t bad_now[] = {CF_ISSUE_SKEW - 1, -86400, CF_ISSUE_MAX_NOW + 1};
    for (size_t i = 0; i < sizeof(bad_now) / sizeof(bad_now[0]); i++) {
        req.now = bad_now[i];
        assert_int_equal(cf_issue_validity(&req, INT64_MAX, &nb, &na), CF_ERR_INVALID);
    }
    req.now = 0; /* the clock */
    time_t before = time(NULL);
    assert_int_equal(cf_issue_validity(&req, INT64_MAX, &nb, &na), CF_OK);
    assert_true(nb >= before - CF_ISSUE_SKEW && nb <= time(NULL) - CF_ISSUE_SKEW);
}

/* A refused request returns nothing, and is refused before anything is allocated. */
static void s_expect_refused(cf_ca_t *ca, const cf_issue_t *req, cf_err_t want)
{
    unsigned char *der = (unsigned char *) 0x1;
    size_t len = 7;
    cf_key_t *key = (cf_key_t *) 0x1;
    cf_test_alloc_fail_at(0);
    cf_err_t rc = cf_ca_issue_der(ca, req, &der, &len, &key);
    long allocated = cf_test_alloc_failed();
    cf_test_alloc_fail_at(-1);
    assert_int_equal(rc, want);
    assert_int_equal(allocated, 0);
    assert_null(der);
    assert_int_equal(len, 0);
    assert_null(key);
}

static void test_bad_names(void **state)
{
    (void) state;
    cf_ca_t *ca = NULL;
    assert_int_equal(cf_ca_create(NULL, &ca), CF_OK);
    static const char *bad_ids[] = {
        "Agent-7",  "-a",
        ".a",       "a b",
        "",         "a/b",
        "\xc3\xa4", "a123456789012345678901234567890123456789012345678901234567890123"};
    for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
        cf_issue_t req = {.component = CF_COMPONENT_AGENT, .name = bad_ids[i]};
        s_expect_refused(ca, &req, CF_ERR_INVALID);
    }
    const char *bad_dns[] = {"a..b"};
    const char *bad_ip[] = {"1.2.3.256"};
    const char *zone_ip[] = {"fe80::1%eth0"};
    const char *ok_dns[] = {"ok.example.test"};
    const cf_issue_t cases[] = {
        {.component = CF_COMPONENT_UNKNOWN, .name = "x"},
        {.component = CF_COMPONENT_CA, .name = "x"},
        {.component = CF_COMPONENT_SERVER, .name = "bad name"},
        {.component = CF_COMPONENT_SERVER, .name = "-bad.example"},
        {.component = CF_COMPONENT_SERVER, .name = "s", .dns = bad_dns, .n_dns = 1},
        {.component = CF_COMPONENT_SERVER, .name = "s", .ips = bad_ip, .n_ips = 1},
        {.component = CF_COMPONENT_SERVER, .name = "s", .ips = zone_ip, .n_ips = 1},
        {.component = CF_COMPONENT_SERVER, .name = "s", .dns = NULL, .n_dns = 1},
        {.component = CF_COMPONENT_AGENT, .name = "a", .dns = ok_dns, .n_dns = 1},
        {.component = CF_COMPONENT_CONSOLE, .name = "c", .ips = bad_ip, .n_ips = 1},
        {.component = CF_COMPONENT_CONSOLE, .name = "bell\a"},
        {.component = CF_COMPONENT_CONSOLE, .name = NULL},
        {.component = CF_COMPONENT_SERVER, .name = "s", .shared_agent = 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        s_expect_refused(ca, &cases[i], CF_ERR_INVALID);
    s_expect_refused(ca, NULL, CF_ERR_INVALID);
    cf_ca_destroy(&ca);
}

static void test_bad_keys(void **state)
{
    (void) state;
    cf_ca_t *ca = NULL;
    assert_int_equal(cf_ca_create(NULL, &ca), CF_OK);
    EVP_PKEY *weak = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 1024);
    assert_non_null(weak);
    unsigned char *weak_spki = NULL;
    int weak_len = i2d_PUBKEY(weak, &weak_spki);
    assert_true(weak_len > 0);
    cf_key_t *p256 = NULL;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &p256), CF_OK);
    unsigned char *spki = NULL;
    size_t n = 0;
    assert_int_equal(cf_key_public_der(p256, &spki, &n), CF_OK);
    unsigned char trailing[200];
    memcpy(trailing, spki, n);
    trailing[n] = 0;
    const cf_component_t a = CF_COMPONENT_AGENT;
    const struct {
        cf_issue_t req;
        cf_err_t rc;
    } cases[] = {
        {{a, "a", .public_key = p256, .spki = spki, .spki_len = n}, CF_ERR_INVALID},
        {{a, "a", .spki = spki, .spki_len = 0}, CF_ERR_INVALID},
        {{a, "a", .spki = spki, .spki_len = n - 1}, CF_ERR_CORRUPT},
        {{a, "a", .spki = trailing, .spki_len = n + 1}, CF_ERR_CORRUPT},
        {{a, "a", .spki = spki, .spki_len = CF_KEY_MAX_INPUT + 1}, CF_ERR_TOOBIG},
        {{a, "a", .spki = weak_spki, .spki_len = (size_t) weak_len}, CF_ERR_UNSUPPORTED},
        {{a, "a", .key_type = (cf_key_type_t) 42}, CF_ERR_UNSUPPORTED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        s_expect_refused(ca, &cases[i].req, cases[i].rc);
    cf_issue_t no_key_out = {.component = CF_COMPONENT_AGENT, .name = "a"};
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(cf_ca_issue_der(ca, &no_key_out, &der, &len, NULL), CF_ERR_INVALID);
    cf_issue_t by_spki = {.component = a, .name = "a", .spki = spki, .spki_len = n};
    assert_int_equal(cf_ca_issue_der(ca, &by_spki, &der, &len, NULL), CF_OK); /* no key made */
    cf_mem_free(der);
    OPENSSL_free(weak_spki);
    EVP_PKEY_free(weak);
    cf_mem_free(spki);
    cf_key_destroy(&p256);
    cf_ca_destroy(&ca);
}

/* Caps: at most CF_ISSUE_MAX_SANS names, and at most CF_CA_MAX_CERT_DER bytes. */
static void test_caps(void **state)
{
    (void) state;
    cf_ca_t *ca = NULL;
    assert_int_equal(cf_ca_create(NULL, &ca), CF_OK);
    static char names[CF_ISSUE_MAX_SANS + 1][256];
    const char *dns[CF_ISSUE_MAX_SANS + 1];
    for (int i = 0; i <= CF_ISSUE_MAX_SANS; i++) {
        snprintf(names[i], sizeof(names[i]), "h%d.example.test", i);
        dns[i] = names[i];
    }
    cf_issue_t req = {.component = CF_COMPONENT_SERVER,
                      .name = "h0.example.test",
                      .dns = dns,
                      .n_dns = CF_ISSUE_MAX_SANS};
    unsigned char *der = NULL;
    size_t len = 0;
    cf_key_t *key = NULL;
    assert_int_equal(cf_ca_issue_der(ca, &req, &der, &len, &key), CF_OK); /* name is dns[0] */
    cf_mem_free(der);
    cf_key_destroy(&key);
    req.name = "another.example.test"; /* 65 names */
    s_expect_refused(ca, &req, CF_ERR_TOOBIG);
    req.n_dns = CF_ISSUE_MAX_SANS + 1;
    s_expect_refused(ca, &req, CF_ERR_TOOBIG);
    for (int i = 0; i <= CF_ISSUE_MAX_SANS; i++) { /* 64 names of ~253 bytes: over 16 KiB */
        memset(names[i], 'a', 244);
        snprintf(names[i] + 244, 12, ".n%d.test", i);
    }
    req.name = "big.example.test";
    req.n_dns = CF_ISSUE_MAX_SANS - 1;
    s_expect_refused(ca, &req, CF_ERR_INVALID); /* a label of 244 bytes is no DNS name */
    for (int i = 0; i <= CF_ISSUE_MAX_SANS; i++) {
        for (int j = 60; j < 240; j += 61)
            names[i][j] = '.';
    }
    unsigned char *der_big = (unsigned char *) 0x1; /* over the cap only once it is built */
    cf_key_t *key_big = (cf_key_t *) 0x1;
    assert_int_equal(cf_ca_issue_der(ca, &req, &der_big, &len, &key_big), CF_ERR_TOOBIG);
    assert_null(der_big);
    assert_null(key_big);
    req.name = names[0]; /* a CN is at most 64 bytes */
    s_expect_refused(ca, &req, CF_ERR_INVALID);
    cf_ca_destroy(&ca);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),          cmocka_unit_test(test_agent_ids),
        cmocka_unit_test(test_dns_names),      cmocka_unit_test(test_sans_per_component),
        cmocka_unit_test(test_validity_rules), cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_bad_keys),       cmocka_unit_test(test_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
