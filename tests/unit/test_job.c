/*  test_job - building, signing, sealing and parsing jobs; the canonical form  */
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

/* A server pushes a certificate and key to one agent; the agent checks and opens it. */
static void test_usage(void **state)
{
    (void) state;
    /* server side: one job per agent, the key sealed to that agent's CURVE public key */
    cf_job_spec_t spec = {.type = CF_JOB_TYPE_INSTALL_CERT,
                          .agent = CF_TEST_JOB_AGENT,
                          .issuer = "srv1",
                          .created = s_fx.now,
                          .expires = s_fx.now + 3600};
    cf_job_t *job = NULL;
    cf_why_t why = {""};
    assert_int_equal(cf_job_new(&spec, &job, &why), CF_OK);
    assert_int_equal(cf_job_set_install_pem(job, CF_TEST_JOB_CHAIN, strlen(CF_TEST_JOB_CHAIN),
                                            CF_TEST_JOB_KEY, strlen(CF_TEST_JOB_KEY), s_fx.pub),
                     CF_OK);
    assert_int_equal(cf_job_sign(job, s_fx.server, s_fx.server_key, &why), CF_OK);
    char *wire = NULL;
    size_t len = 0;
    assert_int_equal(cf_job_to_wire(job, &wire, &len), CF_OK); /* into a JOB message */
    assert_null(strstr(wire, "PRIVATE KEY"));                  /* the key travels sealed */

    /* agent side: one verifier for the life of the process */
    cf_job_verifier_t *v = NULL;
    assert_int_equal(cf_job_verifier_new(cf_ca_cert(s_fx.ca), CF_TEST_JOB_AGENT, &v), CF_OK);
    cf_job_t *got = NULL;
    cf_err_t rc =
        cf_job_verifier_check(v, wire, len, s_fx.now, cf_test_job_never_seen, NULL, &got, &why);
    if (rc != CF_OK)
        fail_msg("refused: %s", cf_why_text(&why, rc));
    assert_string_equal(cf_job_id(got), cf_job_id(job));
    assert_int_equal(cf_job_form(got), CF_JOB_FORM_PEM);
    char *chain = NULL, *key = NULL;
    size_t chain_len = 0, key_len = 0;
    assert_int_equal(cf_job_chain_pem(got, &chain, &chain_len), CF_OK);
    assert_string_equal(chain, CF_TEST_JOB_CHAIN);
    assert_int_equal(cf_job_open_key(got, s_fx.pub, s_fx.sec, &key, &key_len), CF_OK);
    assert_string_equal(key, CF_TEST_JOB_KEY);
    cf_mem_free_secret(key, key_len);
    cf_mem_free(chain);
    cf_job_destroy(&got);
    cf_job_verifier_destroy(&v);
    cf_mem_free(wire);
    cf_job_destroy(&job);
    cf_job_destroy(&job); /* safe to repeat */
}

static void test_every_type_round_trip(void **state)
{
    (void) state;
    for (int t = CF_JOB_TYPE_INSTALL_CERT; t < CF_JOB_TYPE_COUNT_; t++) {
        cf_job_t *job = cf_test_job_new(&s_fx, (cf_job_type_t) t), *got = NULL;
        size_t len = 0;
        char *wire = cf_test_job_signed_wire(&s_fx, job, &len);
        cf_why_t why = {""};
        cf_err_t rc = cf_job_verify(wire, len, cf_ca_cert(s_fx.ca), CF_TEST_JOB_AGENT,
                                    s_fx.now + 60, cf_test_job_never_seen, NULL, &got, &why);
        if (rc != CF_OK)
            fail_msg("%s refused: %s", cf_job_type_name(t), cf_why_text(&why, rc));
        assert_int_equal(cf_job_type(got), t);
        assert_string_equal(cf_job_type_name(cf_job_type(got)), cf_job_type_name(t));
        assert_string_equal(cf_job_id(got), cf_job_id(job));
        assert_string_equal(cf_job_agent(got), CF_TEST_JOB_AGENT);
        assert_string_equal(cf_job_issuer(got), "srv1");
        assert_int_equal(cf_job_created(got), s_fx.now);
        assert_int_equal(cf_job_expires(got), s_fx.now + 86400);
        assert_int_equal(cf_job_min_proto(got), 1);
        assert_true(cf_job_is_signed(got));
        if (t == CF_JOB_TYPE_SET_FAVORITE)
            assert_string_equal(cf_job_favorite(got), "srv2.example.org");
        else
            assert_null(cf_job_favorite(got));
        assert_int_equal(cf_job_form(got),
                         t == CF_JOB_TYPE_INSTALL_CERT ? CF_JOB_FORM_PEM : CF_JOB_FORM_NONE);
        char *again = NULL; /* what was received goes out again byte for byte */
        size_t again_len = 0;
        assert_int_equal(cf_job_to_wire(got, &again, &again_len), CF_OK);
        assert_int_equal(again_len, len);
        assert_memory_equal(again, wire, len);
        cf_mem_free(again);
        cf_mem_free(wire);
        cf_job_destroy(&got);
        cf_job_destroy(&job);
    }
}

/* The wire form and the signed bytes, rebuilt here from docs/PROTOCOL.md alone. */
static void test_canonical_form(void **state)
{
    (void) state;
    cf_job_t *job = cf_test_job_new(&s_fx, CF_JOB_TYPE_SET_FAVORITE);
    size_t len = 0;
    char *wire = cf_test_job_signed_wire(&s_fx, job, &len);
    json_t *root = json_loadb(wire, len, 0, NULL);
    assert_non_null(root);
    const char *sig = json_string_value(json_object_get(root, "sig"));
    const char *signer = json_string_value(json_object_get(root, "signer"));
    assert_non_null(sig);
    assert_non_null(signer);
    char *expect = cf_mem_malloc(len + 1);
    snprintf(expect, len + 1,
             "{\"agent\":\"" CF_TEST_JOB_AGENT "\",\"created\":%lld,\"expires\":%lld,\"id\":\"%s\","
             "\"issuer\":\"srv1\",\"min_proto\":1,\"payload\":{\"favorite\":\"srv2.example.org\"},"
             "\"sig\":\"%s\",\"signer\":\"%s\",\"type\":\"set_favorite\",\"v\":1}",
             (long long) s_fx.now, (long long) s_fx.now + 86400, cf_job_id(job), sig, signer);
    assert_string_equal(wire, expect);
    cf_mem_free(expect);

    /* signed bytes: "certfleet-job-v1", a NUL, the same text without "sig" */
    unsigned char raw_sig[256];
    size_t raw_len = 0;
    assert_int_equal(sodium_base642bin(raw_sig, sizeof(raw_sig), sig, strlen(sig), NULL, &raw_len,
                                       NULL, sodium_base64_VARIANT_ORIGINAL),
                     0);
    json_t *body = json_deep_copy(root);
    json_object_del(body, "sig");
    char *canon = json_dumps(body, JSON_SORT_KEYS | JSON_COMPACT);
    size_t msg_len = sizeof(CF_JOB_SIG_CONTEXT) + strlen(canon);
    unsigned char *msg = cf_mem_malloc(msg_len);
    memcpy(msg, CF_JOB_SIG_CONTEXT, sizeof(CF_JOB_SIG_CONTEXT));
    memcpy(msg + sizeof(CF_JOB_SIG_CONTEXT), canon, strlen(canon));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL,
                                          X509_get0_pubkey(cf_cert_x509(s_fx.server))),
                     1);
    assert_int_equal(EVP_DigestVerify(ctx, raw_sig, raw_len, msg, msg_len), 1);
    EVP_MD_CTX_free(ctx);
    cf_mem_free(msg);
    cf_mem_free(canon);
    json_decref(body);
    json_decref(root);
    cf_mem_free(wire);
    cf_job_destroy(&job);
}

/* The layout is not signed, the values are: indented, reordered, escaped still passes. */
static void test_layout_not_signed(void **state)
{
    (void) state;
    cf_job_t *job = cf_test_job_new(&s_fx, CF_JOB_TYPE_SET_FAVORITE);
    size_t len = 0;
    char *wire = cf_test_job_signed_wire(&s_fx, job, &len);
    json_t *root = json_loadb(wire, len, 0, NULL);
    char *pretty = json_dumps(root, JSON_INDENT(3));
    char *esc = strstr(pretty, "\"srv1\"");
    assert_non_null(esc);
    char *escaped = cf_mem_malloc(strlen(pretty) + 8);
    snprintf(escaped, strlen(pretty) + 8, "%.*s\"srv\\u0031\"%s", (int) (esc - pretty), pretty,
             esc + 6);
    cf_job_t *got = NULL;
    cf_why_t why = {""};
    cf_err_t rc = cf_job_verify(escaped, strlen(escaped), cf_ca_cert(s_fx.ca), CF_TEST_JOB_AGENT,
                                s_fx.now, cf_test_job_never_seen, NULL, &got, &why);
    if (rc != CF_OK)
        fail_msg("reformatted job refused: %s", cf_why_text(&why, rc));
    assert_string_equal(cf_job_issuer(got), "srv1");
    cf_job_destroy(&got);
    cf_mem_free(escaped);
    cf_mem_free(pretty);
    json_decref(root);
    cf_mem_free(wire);
    cf_job_destroy(&job);
}

static void test_sealing(void **state)
{
    (void) state;
    unsigned char other_pub[32], other_sec[32];
    crypto_box_keypair(other_pub, other_sec);
    const char *secret = "the private key";
    unsigned char *sealed = NULL, *plain = NULL;
    size_t sealed_len = 0, plain_len = 0;
    assert_int_equal(cf_job_seal_payload(s_fx.pub, secret, strlen(secret), &sealed, &sealed_len),
                     CF_OK);
    assert_int_equal(sealed_len, strlen(secret) + CF_JOB_SEAL_OVERHEAD);
    for (size_t i = 0; i + strlen(secret) <= sealed_len; i++)
        assert_true(memcmp(sealed + i, secret, strlen(secret)) != 0);
    assert_int_equal(
        cf_job_open_payload(s_fx.pub, s_fx.sec, sealed, sealed_len, &plain, &plain_len), CF_OK);
    assert_int_equal(plain_len, strlen(secret));
    assert_string_equal((char *) plain, secret);
    cf_mem_free_secret(plain, plain_len);
    /* only the agent's own key pair opens it */
    assert_int_equal(
        cf_job_open_payload(other_pub, other_sec, sealed, sealed_len, &plain, &plain_len),
        CF_ERR_SECRET);
    assert_null(plain);
    assert_int_equal(
        cf_job_open_payload(s_fx.pub, other_sec, sealed, sealed_len, &plain, &plain_len),
        CF_ERR_SECRET);
    for (size_t i = 0; i < sealed_len; i++) { /* any damage */
        sealed[i] ^= 0x04;
        assert_int_equal(
            cf_job_open_payload(s_fx.pub, s_fx.sec, sealed, sealed_len, &plain, &plain_len),
            CF_ERR_SECRET);
        sealed[i] ^= 0x04;
    }
    assert_int_equal(cf_job_open_payload(s_fx.pub, s_fx.sec, sealed, CF_JOB_SEAL_OVERHEAD - 1,
                                         &plain, &plain_len),
                     CF_ERR_SECRET);
    assert_int_equal(cf_job_open_payload(s_fx.pub, s_fx.sec, sealed,
                                         CF_JOB_MAX_SECRET + CF_JOB_SEAL_OVERHEAD + 1, &plain,
                                         &plain_len),
                     CF_ERR_TOOBIG);
    cf_mem_free(sealed);
    /* empty plaintext is fine; a low-order public key is not a key to seal to */
    assert_int_equal(cf_job_seal_payload(s_fx.pub, NULL, 0, &sealed, &sealed_len), CF_OK);
    assert_int_equal(
        cf_job_open_payload(s_fx.pub, s_fx.sec, sealed, sealed_len, &plain, &plain_len), CF_OK);
    assert_int_equal(plain_len, 0);
    cf_mem_free_secret(plain, plain_len);
    cf_mem_free(sealed);
    static const unsigned char zero[32];
    assert_int_equal(cf_job_seal_payload(zero, "x", 1, &sealed, &sealed_len), CF_ERR_INVALID);
    assert_null(sealed);
    static unsigned char big[CF_JOB_MAX_SECRET + 1];
    assert_int_equal(cf_job_seal_payload(s_fx.pub, big, sizeof(big), &sealed, &sealed_len),
                     CF_ERR_TOOBIG);
    assert_int_equal(cf_job_seal_payload(NULL, "x", 1, &sealed, &sealed_len), CF_ERR_INVALID);
    assert_int_equal(cf_job_open_payload(s_fx.pub, NULL, "x", 1, &plain, &plain_len),
                     CF_ERR_INVALID);
}

/* The PKCS#12 form: the file and its password, each sealed; only the agent opens them. */
static void test_p12_form(void **state)
{
    (void) state;
    cf_job_t *job = cf_test_job_new(&s_fx, CF_JOB_TYPE_RECHECK), *got = NULL;
    static const unsigned char p12[] = {0x30, 0x82, 0x01, 0x00, 0xde, 0xad, 0xbe, 0xef};
    assert_int_equal(cf_job_set_install_p12(job, p12, sizeof(p12), "pw", s_fx.pub), CF_ERR_INVALID);
    cf_job_destroy(&job);
    job = cf_test_job_new(&s_fx, CF_JOB_TYPE_INSTALL_CERT);
    assert_int_equal(cf_job_set_install_p12(job, p12, sizeof(p12), "Pa55 w0rd", s_fx.pub), CF_OK);
    size_t len = 0;
    char *wire = cf_test_job_signed_wire(&s_fx, job, &len);
    assert_null(strstr(wire, "Pa55"));
    assert_int_equal(cf_job_parse(wire, len, &got, NULL), CF_OK);
    assert_int_equal(cf_job_form(got), CF_JOB_FORM_P12);
    unsigned char *out = NULL;
    size_t out_len = 0;
    char *pass = NULL, *pem = NULL;
    assert_int_equal(cf_job_open_p12(got, s_fx.pub, s_fx.sec, &out, &out_len, &pass), CF_OK);
    assert_int_equal(out_len, sizeof(p12));
    assert_memory_equal(out, p12, sizeof(p12));
    assert_string_equal(pass, "Pa55 w0rd");
    cf_mem_free_secret(out, out_len);
    cf_mem_free_secret_str(pass);
    unsigned char wrong_pub[32], wrong_sec[32];
    crypto_box_keypair(wrong_pub, wrong_sec);
    assert_int_equal(cf_job_open_p12(got, wrong_pub, wrong_sec, &out, &out_len, &pass),
                     CF_ERR_SECRET);
    assert_null(out);
    assert_null(pass);
    assert_int_equal(cf_job_open_key(got, s_fx.pub, s_fx.sec, &pem, &len), CF_ERR_STATE);
    assert_int_equal(cf_job_chain_pem(got, &pem, &len), CF_ERR_STATE);
    cf_job_destroy(&got);
    /* switching form replaces the payload */
    assert_int_equal(cf_job_set_install_pem(job, CF_TEST_JOB_CHAIN, strlen(CF_TEST_JOB_CHAIN),
                                            CF_TEST_JOB_KEY, strlen(CF_TEST_JOB_KEY), s_fx.pub),
                     CF_OK);
    assert_int_equal(cf_job_form(job), CF_JOB_FORM_PEM);
    assert_int_equal(cf_job_open_p12(job, s_fx.pub, s_fx.sec, &out, &out_len, &pass), CF_ERR_STATE);
    assert_int_equal(cf_job_set_install_p12(job, p12, CF_JOB_MAX_SECRET + 1, "x", s_fx.pub),
                     CF_ERR_TOOBIG);
    cf_mem_free(wire);
    cf_job_destroy(&job);
}

int main(void)
{
    /* jansson allocates through cf_mem, so the tests can fail its allocations too */
    json_set_alloc_funcs(cf_mem_malloc, cf_mem_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),          cmocka_unit_test(test_every_type_round_trip),
        cmocka_unit_test(test_canonical_form), cmocka_unit_test(test_layout_not_signed),
        cmocka_unit_test(test_sealing),        cmocka_unit_test(test_p12_form),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
