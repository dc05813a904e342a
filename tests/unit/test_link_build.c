/*  test_link_build - the job builder of the broker link and the check-in: params, every
    type signed and verifying as the agent checks it, the sealed key and PKCS#12 opening
    with the agent's CURVE secret only, refusals, the attention job id  */
#include "cf_test.h"

#include <string.h>

#include <sodium.h>

#include "cf_link_build.h"
#include "cf_mem.h"
#include "cf_p12.h"
#include "cf_test_job.h"

#define S_ID "00112233445566778899aabbccddeeff"

static int s_setup(void **state)
{
    static cf_test_job_t f;
    memset(&f, 0, sizeof(f));
    *state = &f;
    return cf_test_job_setup(&f);
}

static int s_teardown(void **state)
{
    cf_test_job_teardown(*state);
    return 0;
}

/* The fixture's server as signer, alias "srv1". */
static cf_link_signer_t s_signer(const cf_test_job_t *f)
{
    cf_link_signer_t s;
    memset(&s, 0, sizeof(s));
    s.cert = (cf_cert_t *) f->server; /* borrowed: never cleared in these tests */
    s.key = (cf_key_t *) f->server_key;
    snprintf(s.alias, sizeof(s.alias), "srv1");
    return s;
}

static cf_link_job_t s_job(const cf_test_job_t *f, const char *type, const char *params)
{
    cf_link_job_t j = {S_ID, type, params, (int64_t) f->now - 10, (int64_t) f->now + 3600, 1};
    return j;
}

/* PEM material: the fixture's agent certificate, chained to the CA, and its key. */
static void s_pem_material(const cf_test_job_t *f, cf_link_install_t *in)
{
    memset(in, 0, sizeof(*in));
    in->form = CF_JOB_FORM_PEM;
    assert_int_equal(cf_cert_to_pem(f->agent, &in->chain_pem, &in->chain_len), CF_OK);
    assert_int_equal(cf_key_to_pem(f->agent_key, NULL, &in->key_pem, &in->key_len), CF_OK);
}

/* Verify wire as the agent does and return the job. */
static cf_job_t *s_verify(const cf_test_job_t *f, const char *wire, size_t len)
{
    cf_job_t *job = NULL;
    cf_why_t why = {""};
    cf_err_t rc = cf_job_verify(wire, len, cf_ca_cert(f->ca), CF_TEST_JOB_AGENT, f->now,
                                cf_test_job_never_seen, NULL, &job, &why);
    if (rc != CF_OK)
        fail_msg("verify: %s", cf_why_text(&why, rc));
    return job;
}

static void test_usage(void **state)
{
    cf_test_job_t *f = *state;
    cf_link_signer_t signer = s_signer(f);
    cf_link_job_t job = s_job(f, "install_cert", "{\"cert\":\"shared\",\"form\":\"pem\"}");
    cf_link_params_t params;
    assert_int_equal(cf_link_params_parse(&job, &params, NULL), CF_OK);
    assert_int_equal(params.type, CF_JOB_TYPE_INSTALL_CERT);
    assert_string_equal(params.cert, "shared");
    cf_link_install_t in;
    s_pem_material(f, &in);
    char *wire = NULL;
    size_t len = 0;
    cf_why_t why = {""};
    cf_err_t rc =
        cf_link_build(&job, &params, CF_TEST_JOB_AGENT, &in, f->pub, &signer, &wire, &len, &why);
    assert_int_equal(rc, CF_OK);
    assert_int_equal(strlen(wire), len);
    /* the agent accepts it: signed by srv1, addressed to it, the key opens with its secret */
    cf_job_t *j = s_verify(f, wire, len);
    assert_string_equal(cf_job_id(j), S_ID);
    assert_string_equal(cf_job_issuer(j), "srv1");
    assert_int_equal(cf_job_created(j), f->now - 10);
    assert_int_equal(cf_job_expires(j), f->now + 3600);
    char *key = NULL, *chain = NULL;
    size_t klen = 0, clen = 0;
    assert_int_equal(cf_job_open_key(j, f->pub, f->sec, &key, &klen), CF_OK);
    assert_int_equal(klen, in.key_len);
    assert_memory_equal(key, in.key_pem, klen);
    assert_int_equal(cf_job_chain_pem(j, &chain, &clen), CF_OK);
    assert_string_equal(chain, in.chain_pem);
    /* the private key never travels in clear */
    assert_null(strstr(wire, "PRIVATE KEY"));
    cf_mem_free_secret(key, klen);
    cf_mem_free(chain);
    cf_job_destroy(&j);
    cf_mem_free(wire);
    cf_link_install_clear(&in);
    cf_link_install_clear(&in); /* safe to repeat */
}

static void test_other_key_cannot_open(void **state)
{
    cf_test_job_t *f = *state;
    cf_link_signer_t signer = s_signer(f);
    cf_link_job_t job = s_job(f, "install_cert", NULL);
    cf_link_params_t params;
    assert_int_equal(cf_link_params_parse(&job, &params, NULL), CF_OK);
    assert_string_equal(params.cert, CF_LINK_CERT_SHARED); /* the default */
    assert_int_equal(params.form, CF_JOB_FORM_PEM);
    cf_link_install_t in;
    s_pem_material(f, &in);
    unsigned char pub2[32], sec2[32];
    crypto_box_keypair(pub2, sec2);
    char *wire = NULL, *key = NULL;
    size_t len = 0, klen = 0;
    assert_int_equal(
        cf_link_build(&job, &params, CF_TEST_JOB_AGENT, &in, pub2, &signer, &wire, &len, NULL),
        CF_OK);
    cf_job_t *j = s_verify(f, wire, len);
    /* sealed to pub2: the fixture agent's key pair cannot open it */
    assert_int_equal(cf_job_open_key(j, f->pub, f->sec, &key, &klen), CF_ERR_SECRET);
    assert_int_equal(cf_job_open_key(j, pub2, sec2, &key, &klen), CF_OK);
    cf_mem_free_secret(key, klen);
    cf_job_destroy(&j);
    cf_mem_free(wire);
    cf_link_install_clear(&in);
}

static void test_p12(void **state)
{
    cf_test_job_t *f = *state;
    cf_link_signer_t signer = s_signer(f);
    cf_link_job_t job = s_job(f, "install_cert", "{\"cert\":\"ws-7\",\"form\":\"p12\"}");
    cf_link_params_t params;
    assert_int_equal(cf_link_params_parse(&job, &params, NULL), CF_OK);
    assert_string_equal(params.cert, "ws-7");
    assert_int_equal(params.form, CF_JOB_FORM_P12);
    cf_link_install_t in;
    memset(&in, 0, sizeof(in));
    in.form = CF_JOB_FORM_P12;
    in.pass = cf_mem_strdup("p12-secret");
    assert_int_equal(
        cf_p12_create(f->agent_key, f->agent, NULL, 0, in.pass, NULL, 0, &in.p12, &in.p12_len),
        CF_OK);
    char *wire = NULL, *pass = NULL;
    unsigned char *p12 = NULL;
    size_t len = 0, plen = 0;
    assert_int_equal(
        cf_link_build(&job, &params, CF_TEST_JOB_AGENT, &in, f->pub, &signer, &wire, &len, NULL),
        CF_OK);
    assert_null(strstr(wire, "p12-secret"));
    cf_job_t *j = s_verify(f, wire, len);
    assert_int_equal(cf_job_form(j), CF_JOB_FORM_P12);
    assert_int_equal(cf_job_open_p12(j, f->pub, f->sec, &p12, &plen, &pass), CF_OK);
    assert_string_equal(pass, "p12-secret");
    cf_p12_content_t content = {0};
    assert_int_equal(cf_p12_parse(p12, plen, pass, 0, &content, NULL), CF_OK);
    assert_non_null(content.key);
    cf_p12_content_clear(&content);
    cf_mem_free_secret(p12, plen);
    cf_mem_free_secret_str(pass);
    cf_job_destroy(&j);
    cf_mem_free(wire);
    cf_link_install_clear(&in);
}

static void test_other_types(void **state)
{
    cf_test_job_t *f = *state;
    cf_link_signer_t signer = s_signer(f);
    const char *types[] = {"set_favorite", "renew_csr", "recheck"};
    const char *params_json[] = {"{\"favorite\":\"srv2\"}", "{}", NULL};
    for (size_t i = 0; i < 3; i++) {
        cf_link_job_t job = s_job(f, types[i], params_json[i]);
        job.min_proto = 0; /* absent: level 1 */
        cf_link_params_t params;
        assert_int_equal(cf_link_params_parse(&job, &params, NULL), CF_OK);
        char *wire = NULL;
        size_t len = 0;
        /* no material and no CURVE key needed */
        assert_int_equal(
            cf_link_build(&job, &params, CF_TEST_JOB_AGENT, NULL, NULL, &signer, &wire, &len, NULL),
            CF_OK);
        cf_job_t *j = s_verify(f, wire, len);
        assert_string_equal(cf_job_type_name(cf_job_type(j)), types[i]);
        assert_int_equal(cf_job_min_proto(j), 1);
        if (i == 0)
            assert_string_equal(cf_job_favorite(j), "srv2");
        cf_job_destroy(&j);
        cf_mem_free(wire);
    }
}

static void test_params_refused(void **state)
{
    cf_test_job_t *f = *state;
    struct {
        const char *type, *params;
        cf_err_t rc;
    } bad[] = {
        {"install_cert", "{\"cert\":\"shared\",\"cert\":\"x\"}", CF_ERR_INVALID}, /* duplicate */
        {"install_cert", "{\"form\":\"der\"}", CF_ERR_INVALID},
        {"install_cert", "{\"cert\":7}", CF_ERR_INVALID},
        {"install_cert", "{\"cert\":\"../etc\"}", CF_ERR_INVALID},
        {"install_cert", "[]", CF_ERR_INVALID},
        {"install_cert", "{", CF_ERR_INVALID},
        {"set_favorite", "{}", CF_ERR_INVALID},
        {"set_favorite", "{\"favorite\":null}", CF_ERR_INVALID},
        {"reboot", "{}", CF_ERR_INVALID},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cf_link_job_t job = s_job(f, bad[i].type, bad[i].params);
        cf_link_params_t params;
        cf_why_t why = {""};
        assert_int_equal(cf_link_params_parse(&job, &params, &why), bad[i].rc);
        assert_true(why.text[0] != '\0');
    }
    char *big = cf_mem_malloc(CF_LINK_PARAMS_MAX + 16);
    memset(big, ' ', CF_LINK_PARAMS_MAX + 15);
    big[0] = '{';
    big[CF_LINK_PARAMS_MAX + 14] = '}';
    big[CF_LINK_PARAMS_MAX + 15] = '\0';
    cf_link_job_t job = s_job(f, "recheck", big);
    cf_link_params_t params;
    assert_int_equal(cf_link_params_parse(&job, &params, NULL), CF_ERR_TOOBIG);
    cf_mem_free(big);
    assert_int_equal(cf_link_params_parse(NULL, &params, NULL), CF_ERR_INVALID);
}

static void test_build_refused(void **state)
{
    cf_test_job_t *f = *state;
    cf_link_signer_t signer = s_signer(f);
    cf_link_job_t job = s_job(f, "install_cert", NULL);
    cf_link_params_t params;
    assert_int_equal(cf_link_params_parse(&job, &params, NULL), CF_OK);
    cf_link_install_t in;
    s_pem_material(f, &in);
    char *wire = NULL;
    size_t len = 0;
    /* install_cert without the agent's CURVE key or without material */
    assert_int_equal(
        cf_link_build(&job, &params, CF_TEST_JOB_AGENT, &in, NULL, &signer, &wire, &len, NULL),
        CF_ERR_INVALID);
    assert_int_equal(
        cf_link_build(&job, &params, CF_TEST_JOB_AGENT, NULL, f->pub, &signer, &wire, &len, NULL),
        CF_ERR_INVALID);
    assert_null(wire);
    /* an agent certificate cannot sign jobs */
    cf_link_signer_t agent_signer = signer;
    agent_signer.cert = f->agent;
    agent_signer.key = f->agent_key;
    assert_int_equal(cf_link_build(&job, &params, CF_TEST_JOB_AGENT, &in, f->pub, &agent_signer,
                                   &wire, &len, NULL),
                     CF_ERR_POLICY);
    /* a bad agent id, expiry before creation */
    assert_int_equal(
        cf_link_build(&job, &params, "Not An Id", &in, f->pub, &signer, &wire, &len, NULL),
        CF_ERR_INVALID);
    job.expires = job.created;
    assert_int_equal(
        cf_link_build(&job, &params, CF_TEST_JOB_AGENT, &in, f->pub, &signer, &wire, &len, NULL),
        CF_ERR_INVALID);
    assert_null(wire);
    cf_link_install_clear(&in);
}

static void test_alloc_failures(void **state)
{
    cf_test_job_t *f = *state;
    cf_link_signer_t signer = s_signer(f);
    cf_link_job_t job = s_job(f, "install_cert", "{\"form\":\"pem\"}");
    cf_link_params_t params;
    assert_int_equal(cf_link_params_parse(&job, &params, NULL), CF_OK);
    cf_link_install_t in;
    s_pem_material(f, &in);
    cf_err_t rc = CF_ERR_NOMEM;
    for (long n = 0; rc != CF_OK; n++) {
        char *wire = NULL;
        size_t len = 0;
        cf_test_alloc_fail_at(n);
        rc = cf_link_build(&job, &params, CF_TEST_JOB_AGENT, &in, f->pub, &signer, &wire, &len,
                           NULL);
        cf_test_alloc_fail_at(-1);
        assert_true(rc == CF_OK || rc == CF_ERR_NOMEM || rc == CF_ERR_CRYPTO);
        if (rc == CF_OK)
            cf_mem_free(wire);
        else
            assert_null(wire);
    }
    cf_link_install_clear(&in);
}

static void test_attention_id(void **state)
{
    (void) state;
    char a[CF_JOB_ID_HEX + 1], b[CF_JOB_ID_HEX + 1], c[CF_JOB_ID_HEX + 1];
    const char *fp1 = "aa00000000000000000000000000000000000000000000000000000000000001";
    const char *fp2 = "aa00000000000000000000000000000000000000000000000000000000000002";
    cf_link_attention_id("ws-1", fp1, a);
    cf_link_attention_id("ws-1", fp1, b);
    assert_string_equal(a, b); /* the same offer keeps its id */
    assert_int_equal(strlen(a), CF_JOB_ID_HEX);
    assert_int_equal(strspn(a, "0123456789abcdef"), CF_JOB_ID_HEX);
    cf_link_attention_id("ws-1", fp2, c);
    assert_string_not_equal(a, c); /* a new certificate is a new job */
    cf_link_attention_id("ws-2", fp1, c);
    assert_string_not_equal(a, c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_other_key_cannot_open),
        cmocka_unit_test(test_p12),
        cmocka_unit_test(test_other_types),
        cmocka_unit_test(test_params_refused),
        cmocka_unit_test(test_build_refused),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_attention_id),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
