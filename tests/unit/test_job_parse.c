/*  test_job_parse - refusals when building and parsing jobs; allocation failures  */
#include "cf_test.h"

#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "cf_ca.h"
#include "cf_job.h"
#include "cf_mem.h"

#include "cf_test_job.h"

static cf_test_job_t s_fx; /* the shared job fixture (cf_test_job.c) */

static int s_setup(void **state)
{
    (void) state;
    return cf_test_job_setup(&s_fx);
}

static int s_teardown(void **state)
{
    (void) state;
    cf_test_job_teardown(&s_fx);
    return 0;
}

/* A server reading a job back from its store checks the form, not the signature. */
static void test_usage(void **state)
{
    (void) state;
    cf_job_t *job = cf_test_job_new(&s_fx, CF_JOB_TYPE_RENEW_CSR), *back = NULL;
    size_t len = 0;
    char *wire = cf_test_job_signed_wire(&s_fx, job, &len);
    cf_why_t why = {""};
    assert_int_equal(cf_job_parse(wire, len, &back, &why), CF_OK);
    assert_string_equal(cf_job_id(back), cf_job_id(job)); /* the CSR's nonce */
    assert_int_equal(cf_job_type(back), CF_JOB_TYPE_RENEW_CSR);
    cf_job_destroy(&back);
    cf_mem_free(wire);
    cf_job_destroy(&job);
}

static void test_spec_refusals(void **state)
{
    (void) state;
    static const struct {
        cf_job_spec_t spec;
        const char *reason;
    } bad[] = {
        {{.type = 0, .agent = CF_TEST_JOB_AGENT, .issuer = "s", .created = 1, .expires = 2},
         "type"},
        {{.type = 9, .agent = CF_TEST_JOB_AGENT, .issuer = "s", .created = 1, .expires = 2},
         "type"},
        {{.type = 4, .agent = "Upper", .issuer = "s", .created = 1, .expires = 2}, "agent id"},
        {{.type = 4, .agent = "", .issuer = "s", .created = 1, .expires = 2}, "agent id"},
        {{.type = 4, .agent = CF_TEST_JOB_AGENT, .issuer = "", .created = 1, .expires = 2},
         "issuer"},
        {{.type = 4, .agent = CF_TEST_JOB_AGENT, .issuer = "a b", .created = 1, .expires = 2},
         "issuer"},
        {{.type = 4, .agent = CF_TEST_JOB_AGENT, .issuer = "s\"", .created = 1, .expires = 2},
         "issuer"},
        {{.type = 4, .agent = CF_TEST_JOB_AGENT, .issuer = "s", .created = 0, .expires = 2},
         "times"},
        {{.type = 4, .agent = CF_TEST_JOB_AGENT, .issuer = "s", .created = 5, .expires = 5},
         "times"},
        {{.type = 4,
          .agent = CF_TEST_JOB_AGENT,
          .issuer = "s",
          .created = 1,
          .expires = 2 + CF_JOB_MAX_LIFETIME},
         "times"},
        {{.type = 4,
          .agent = CF_TEST_JOB_AGENT,
          .issuer = "s",
          .created = 1,
          .expires = 2,
          .min_proto = 256},
         "min_proto"},
        {{.type = 4,
          .id = "0123456789ABCDEF0123456789abcdef",
          .agent = CF_TEST_JOB_AGENT,
          .issuer = "s",
          .created = 1,
          .expires = 2},
         "job id"},
        {{.type = 4,
          .id = "00000000000000000000000000000000",
          .agent = CF_TEST_JOB_AGENT,
          .issuer = "s",
          .created = 1,
          .expires = 2},
         "job id"},
        {{.type = 4,
          .id = "0123",
          .agent = CF_TEST_JOB_AGENT,
          .issuer = "s",
          .created = 1,
          .expires = 2},
         "too long"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cf_job_t *job = (cf_job_t *) 0x1;
        cf_why_t why = {""};
        cf_err_t rc = cf_job_new(&bad[i].spec, &job, &why);
        if (rc != CF_ERR_INVALID || !strstr(why.text, bad[i].reason))
            fail_msg("case %zu: %s (%s)", i, cf_err_name(rc), why.text);
        assert_null(job);
    }
}

static void test_signing_rules(void **state)
{
    (void) state;
    /* a given id is kept: every agent's copy of one job shares it */
    cf_job_spec_t spec = {.type = CF_JOB_TYPE_RECHECK,
                          .id = "00000000000000000000000000000001",
                          .agent = CF_TEST_JOB_AGENT,
                          .issuer = "fe80::1",
                          .created = 1,
                          .expires = 2};
    cf_job_t *job = NULL;
    cf_why_t why = {""};
    assert_int_equal(cf_job_new(&spec, &job, &why), CF_OK);
    assert_string_equal(cf_job_id(job), spec.id);
    assert_int_equal(cf_job_set_favorite(job, "srv2"), CF_ERR_INVALID); /* wrong type */
    assert_int_equal(
        cf_job_set_install_pem(job, CF_TEST_JOB_CHAIN, 1, CF_TEST_JOB_KEY, 1, s_fx.pub),
        CF_ERR_INVALID);
    char *wire = NULL;
    size_t len = 0;
    assert_int_equal(cf_job_to_wire(job, &wire, &len), CF_ERR_STATE); /* unsigned */
    /* agent and console certificates cannot sign; nor a key that is not the cert's */
    assert_int_equal(cf_job_sign(job, s_fx.agent, s_fx.agent_key, &why), CF_ERR_POLICY);
    assert_non_null(strstr(why.text, "serverAuth"));
    assert_int_equal(cf_job_sign(job, s_fx.server, s_fx.agent_key, &why), CF_ERR_KEYMISMATCH);
    assert_false(cf_job_is_signed(job));
    assert_int_equal(cf_job_sign(job, s_fx.server, s_fx.server_key, &why), CF_OK);
    cf_job_destroy(&job);
}

/* A job without its payload is not signed; a payload too big for the wire either. */
static void test_payload_required(void **state)
{
    (void) state;
    cf_job_spec_t spec = {.type = CF_JOB_TYPE_SET_FAVORITE,
                          .agent = CF_TEST_JOB_AGENT,
                          .issuer = "srv1",
                          .created = 1,
                          .expires = 2};
    cf_job_t *job = NULL;
    cf_why_t why = {""};
    assert_int_equal(cf_job_new(&spec, &job, &why), CF_OK);
    assert_int_equal(cf_job_sign(job, s_fx.server, s_fx.server_key, &why), CF_ERR_STATE);
    assert_non_null(strstr(why.text, "favorite"));
    assert_int_equal(cf_job_set_favorite(job, "bad alias!"), CF_ERR_INVALID);
    assert_int_equal(cf_job_set_favorite(job, "srv2"), CF_OK);
    assert_int_equal(cf_job_sign(job, s_fx.server, s_fx.server_key, &why), CF_OK);
    assert_true(cf_job_is_signed(job));
    assert_int_equal(cf_job_set_favorite(job, "srv3"), CF_OK); /* a change drops the signature */
    assert_false(cf_job_is_signed(job));
    cf_job_destroy(&job);
    spec.type = CF_JOB_TYPE_INSTALL_CERT;
    assert_int_equal(cf_job_new(&spec, &job, &why), CF_OK);
    assert_int_equal(cf_job_sign(job, s_fx.server, s_fx.server_key, &why), CF_ERR_STATE);
    assert_int_equal(
        cf_job_set_install_pem(job, CF_TEST_JOB_CHAIN, 0, CF_TEST_JOB_KEY, 1, s_fx.pub),
        CF_ERR_INVALID);
    assert_int_equal(cf_job_set_install_pem(job, CF_TEST_JOB_CHAIN, CF_JOB_MAX_CHAIN + 1,
                                            CF_TEST_JOB_KEY, 1, s_fx.pub),
                     CF_ERR_TOOBIG);
    /* a payload that makes the signed job too big */
    static char big[CF_JOB_MAX_SECRET];
    memset(big, 'k', sizeof(big));
    static char chain[CF_JOB_MAX_CHAIN];
    memset(chain, 'c', sizeof(chain));
    assert_int_equal(cf_job_set_install_pem(job, chain, sizeof(chain), big, sizeof(big), s_fx.pub),
                     CF_OK);
    assert_int_equal(cf_job_sign(job, s_fx.server, s_fx.server_key, &why), CF_ERR_TOOBIG);
    assert_false(cf_job_is_signed(job));
    cf_job_destroy(&job);
    assert_int_equal(cf_job_new(NULL, &job, &why), CF_ERR_INVALID);
    cf_job_type_t t;
    assert_int_equal(cf_job_type_from_name("Install_cert", &t), CF_ERR_INVALID);
    assert_int_equal(cf_job_type_from_name("renew_csr", &t), CF_OK);
    assert_int_equal(t, CF_JOB_TYPE_RENEW_CSR);
    assert_string_equal(cf_job_type_name(0), "unknown");
}

/* Parse text and expect rc with reason in why. */
static void s_expect_parse(const char *text, size_t len, cf_err_t rc, const char *reason)
{
    cf_job_t *job = (cf_job_t *) 0x1;
    cf_why_t why = {""};
    cf_err_t got = cf_job_parse(text, len, &job, &why);
    if (got != rc || (reason && !strstr(why.text, reason)))
        fail_msg("%.80s...: %s (%s), expected %s with '%s'", text, cf_err_name(got), why.text,
                 cf_err_name(rc), reason ? reason : "");
    assert_null(job);
}

/* The wire of a signed job with one change made through jansson. */
static char *s_mutate(const char *wire, const char *path, json_t *value)
{
    json_t *root = json_loads(wire, 0, NULL);
    json_t *obj = root;
    const char *key = path;
    if (strncmp(path, "payload.", 8) == 0) {
        obj = json_object_get(root, "payload");
        key = path + 8;
    }
    if (value)
        json_object_set_new(obj, key, value);
    else
        json_object_del(obj, key);
    char *out = json_dumps(root, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(root);
    return out;
}

static void test_parse_missing_fields(void **state)
{
    (void) state;
    static const char *not_jobs[] = {"", "{", "[]", "null", "{\"v\":1}", "\"job\"", "{}"};
    for (size_t i = 0; i < sizeof(not_jobs) / sizeof(not_jobs[0]); i++)
        s_expect_parse(not_jobs[i], strlen(not_jobs[i]), CF_ERR_CORRUPT, NULL);
    cf_job_t *job = cf_test_job_new(&s_fx, CF_JOB_TYPE_INSTALL_CERT);
    size_t len = 0;
    char *wire = cf_test_job_signed_wire(&s_fx, job, &len);
    static const char *keys[] = {
        "agent", "created", "expires", "id", "issuer",       "min_proto",     "payload",
        "sig",   "signer",  "type",    "v",  "payload.form", "payload.chain", "payload.key"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char *m = s_mutate(wire, keys[i], NULL);
        s_expect_parse(m, strlen(m), CF_ERR_CORRUPT, "has no");
        cf_mem_free(m);
    }
    cf_mem_free(wire);
    cf_job_destroy(&job);
}

static void test_parse_bad_values(void **state)
{
    (void) state;
    cf_job_t *job = cf_test_job_new(&s_fx, CF_JOB_TYPE_INSTALL_CERT);
    size_t len = 0;
    char *wire = cf_test_job_signed_wire(&s_fx, job, &len);
    static const struct {
        const char *path, *value, *reason;
        cf_err_t rc;
    } cases[] = {
        {"extra", "1", "does not know", CF_ERR_CORRUPT},
        {"payload.favorite", "\"srv\"", "does not know", CF_ERR_CORRUPT},
        {"v", "2", "format 2", CF_ERR_UNSUPPORTED},
        {"v", "\"1\"", "\"v\"", CF_ERR_CORRUPT},
        {"created", "\"1\"", "created", CF_ERR_CORRUPT},
        {"created", "1.5", "created", CF_ERR_CORRUPT},
        {"created", "-1", "created", CF_ERR_CORRUPT},
        {"expires", "1", "times", CF_ERR_CORRUPT},
        {"min_proto", "0", "min_proto", CF_ERR_CORRUPT},
        {"min_proto", "256", "min_proto", CF_ERR_CORRUPT},
        {"type", "\"format_disk\"", "unknown job type", CF_ERR_CORRUPT},
        {"type", "\"recheck\"", "payload", CF_ERR_CORRUPT},
        {"id", "\"xyz\"", "job id", CF_ERR_CORRUPT},
        {"agent", "\"Agent\"", "agent id", CF_ERR_CORRUPT},
        {"agent", "7", "agent", CF_ERR_CORRUPT},
        {"issuer", "\"\"", "issuer", CF_ERR_CORRUPT},
        {"signer", "\"abc\"", "signer", CF_ERR_CORRUPT},
        {"signer", "\"\"", "signer", CF_ERR_CORRUPT},
        {"sig", "\"QUJD\\nREVG\"", "sig", CF_ERR_CORRUPT},
        {"sig", "\"QUI=\"", NULL, CF_OK},           /* parses; verification refuses it */
        {"sig", "\"QUJ=\"", "sig", CF_ERR_CORRUPT}, /* non-zero tail bits */
        {"payload.form", "\"der\"", "form", CF_ERR_CORRUPT},
        {"payload.form", "\"p12\"", "has no", CF_ERR_CORRUPT},
        {"payload.key", "\"@@@@\"", "key", CF_ERR_CORRUPT},
        {"payload", "[]", "payload", CF_ERR_CORRUPT},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *m = s_mutate(wire, cases[i].path, json_loads(cases[i].value, JSON_DECODE_ANY, NULL));
        if (cases[i].rc == CF_OK) {
            cf_job_t *ok = NULL;
            assert_int_equal(cf_job_parse(m, strlen(m), &ok, NULL), CF_OK);
            cf_job_destroy(&ok);
        } else
            s_expect_parse(m, strlen(m), cases[i].rc, cases[i].reason);
        cf_mem_free(m);
    }
    cf_mem_free(wire);
    cf_job_destroy(&job);
}

/* Duplicate keys, trailing bytes, a NUL inside, too big. */
static void test_parse_text(void **state)
{
    (void) state;
    cf_job_t *job = cf_test_job_new(&s_fx, CF_JOB_TYPE_INSTALL_CERT);
    size_t len = 0;
    char *wire = cf_test_job_signed_wire(&s_fx, job, &len);
    char *dup = cf_mem_malloc(len + 8);
    snprintf(dup, len + 8, "{\"v\":1,%s", wire + 1);
    s_expect_parse(dup, strlen(dup), CF_ERR_CORRUPT, "not JSON");
    snprintf(dup, len + 8, "%s{}", wire);
    s_expect_parse(dup, strlen(dup), CF_ERR_CORRUPT, "not JSON");
    s_expect_parse(wire, len + 1, CF_ERR_CORRUPT, "not JSON");
    cf_mem_free(dup);
    static char big[CF_JOB_MAX_WIRE + 1];
    memset(big, ' ', sizeof(big));
    s_expect_parse(big, sizeof(big), CF_ERR_TOOBIG, "cap");
    cf_job_t *out = NULL;
    assert_int_equal(cf_job_parse(NULL, 1, &out, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_job_parse(wire, len, NULL, NULL), CF_ERR_INVALID);
    cf_mem_free(wire);
    cf_job_destroy(&job);
}

/* Fail allocation 0, 1, 2, ... in each call until it passes; each failure unwinds. */
static void test_allocation_failures(void **state)
{
    (void) state;
    cf_job_t *job = cf_test_job_new(&s_fx, CF_JOB_TYPE_INSTALL_CERT);
    size_t len = 0;
    char *wire = cf_test_job_signed_wire(&s_fx, job, &len);
    for (int which = 0; which < 5; which++) {
        for (long n = 0;; n++) {
            cf_job_t *out = NULL;
            char *text = NULL;
            size_t text_len = 0;
            cf_err_t rc;
            cf_why_t dbg = {""};
            cf_test_alloc_fail_at(n);
            switch (which) {
            case 0: rc = cf_job_parse(wire, len, &out, NULL); break;
            case 1:
                rc = cf_job_verify(wire, len, cf_ca_cert(s_fx.ca), CF_TEST_JOB_AGENT, s_fx.now,
                                   cf_test_job_never_seen, NULL, &out, &dbg);
                break;
            case 2: rc = cf_job_to_wire(job, &text, &text_len); break;
            case 3: rc = cf_job_sign(job, s_fx.server, s_fx.server_key, NULL); break;
            default: rc = cf_job_open_key(job, s_fx.pub, s_fx.sec, &text, &text_len); break;
            }
            long failed = cf_test_alloc_failed();
            cf_test_alloc_fail_at(-1);
            cf_job_destroy(&out);
            if (which == 4)
                cf_mem_free_secret(text, text_len);
            else
                cf_mem_free(text);
            if (failed == 0) {
                assert_int_equal(rc, CF_OK);
                break;
            }
            /* jansson reports some of its allocation failures as syntax errors */
            if (rc != CF_ERR_NOMEM && !(rc == CF_ERR_CORRUPT && which < 2))
                fail_msg("call %d, allocation %ld: %s %s", which, n, cf_err_name(rc), dbg.text);
        }
    }
    cf_mem_free(wire);
    cf_job_destroy(&job);
}

int main(void)
{
    /* jansson allocates through cf_mem, so the tests can fail its allocations too */
    json_set_alloc_funcs(cf_mem_malloc, cf_mem_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_spec_refusals),
        cmocka_unit_test(test_signing_rules),
        cmocka_unit_test(test_payload_required),
        cmocka_unit_test(test_parse_missing_fields),
        cmocka_unit_test(test_parse_bad_values),
        cmocka_unit_test(test_parse_text),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
