/*  test_job_install - the agent's side of install_cert: the sealed payload opened in either
    form (cf_job_open_p12_pair, cf_job_install_pems)  */
#include "cf_test.h"

#include <string.h>

#include <sodium.h>

#include "cf_job.h"
#include "cf_mem.h"
#include "cf_p12.h"

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

/* An install_cert job carrying a PKCS#12 of key (NULL: certificate only), the agent's
   certificate and, after it, the CA's; sealed to the fixture's agent key pair. */
static cf_job_t *s_p12_job(const cf_key_t *key)
{
    const cf_cert_t *extra[] = {cf_ca_cert(s_fx.ca)};
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(cf_p12_create(key, s_fx.agent, extra, 1, "Pa55 w0rd", "agent", 0, &der, &len),
                     CF_OK);
    cf_job_t *job = cf_test_job_new(&s_fx, CF_JOB_TYPE_INSTALL_CERT);
    assert_int_equal(cf_job_set_install_p12(job, der, len, "Pa55 w0rd", s_fx.pub), CF_OK);
    cf_mem_free(der);
    return job;
}

/* The PKCS#12 form (the agent's certificate and the CA's): the certificate that belongs to
   the key, and the key; as PEM, the same pair. */
static void test_p12_pair(void **state)
{
    (void) state;
    cf_job_t *job = s_p12_job(s_fx.agent_key);
    cf_cert_t *leaf = NULL;
    cf_key_t *key = NULL;
    cf_why_t why = {""};
    assert_int_equal(cf_job_open_p12_pair(job, s_fx.pub, s_fx.sec, &leaf, &key, &why), CF_OK);
    assert_int_equal(cf_cert_matches_key(leaf, key), CF_OK);
    assert_string_equal(cf_cert_common_name(leaf), cf_cert_common_name(s_fx.agent));
    cf_cert_destroy(&leaf);
    cf_key_destroy(&key);

    char *chain = NULL, *kpem = NULL;
    size_t clen = 0, klen = 0;
    assert_int_equal(
        cf_job_install_pems(job, s_fx.pub, s_fx.sec, &chain, &clen, &kpem, &klen, &why), CF_OK);
    assert_int_equal(cf_cert_parse(chain, clen, &leaf), CF_OK);
    assert_int_equal(cf_key_from_pem(kpem, klen, NULL, &key), CF_OK);
    assert_int_equal(cf_cert_matches_key(leaf, key), CF_OK);
    assert_string_equal(cf_cert_common_name(leaf), cf_cert_common_name(s_fx.agent));
    cf_cert_destroy(&leaf);
    cf_key_destroy(&key);
    cf_mem_free(chain);
    cf_mem_free_secret(kpem, klen);
    cf_job_destroy(&job);
}

/* Refusals name their cause and return nothing: another agent's key pair, a PKCS#12
   without a key, arguments missing. */
static void test_p12_refused(void **state)
{
    (void) state;
    cf_job_t *job = s_p12_job(s_fx.agent_key);
    unsigned char pub[32], sec[32];
    crypto_box_keypair(pub, sec);
    cf_cert_t *leaf = (cf_cert_t *) 0x1;
    cf_key_t *key = (cf_key_t *) 0x1;
    cf_why_t why = {""};
    assert_int_equal(cf_job_open_p12_pair(job, pub, sec, &leaf, &key, &why), CF_ERR_SECRET);
    assert_non_null(strstr(why.text, "does not open here"));
    assert_null(leaf);
    assert_null(key);
    char *chain = (char *) 0x1, *kpem = (char *) 0x1;
    size_t clen = 0, klen = 0;
    assert_int_equal(cf_job_install_pems(job, pub, sec, &chain, &clen, &kpem, &klen, NULL),
                     CF_ERR_SECRET);
    assert_null(chain);
    assert_null(kpem);
    assert_int_equal(cf_job_open_p12_pair(job, s_fx.pub, s_fx.sec, NULL, &key, NULL),
                     CF_ERR_INVALID);
    cf_job_destroy(&job);

    job = s_p12_job(NULL); /* a certificate-only file */
    why.text[0] = '\0';
    assert_int_equal(cf_job_open_p12_pair(job, s_fx.pub, s_fx.sec, &leaf, &key, &why),
                     CF_ERR_NOKEY);
    assert_non_null(strstr(why.text, "no private key"));
    assert_null(leaf);
    assert_null(key);
    cf_job_destroy(&job);
}

/* The PEM form: the chain as sent and the opened key; a job of another form or type is
   refused (the PKCS#12 pair of a PEM job). */
static void test_pem_form(void **state)
{
    (void) state;
    cf_job_t *job = cf_test_job_new(&s_fx, CF_JOB_TYPE_INSTALL_CERT);
    assert_int_equal(cf_job_set_install_pem(job, CF_TEST_JOB_CHAIN, strlen(CF_TEST_JOB_CHAIN),
                                            CF_TEST_JOB_KEY, strlen(CF_TEST_JOB_KEY), s_fx.pub),
                     CF_OK);
    char *chain = NULL, *kpem = NULL;
    size_t clen = 0, klen = 0;
    assert_int_equal(
        cf_job_install_pems(job, s_fx.pub, s_fx.sec, &chain, &clen, &kpem, &klen, NULL), CF_OK);
    assert_string_equal(chain, CF_TEST_JOB_CHAIN);
    assert_string_equal(kpem, CF_TEST_JOB_KEY);
    cf_mem_free(chain);
    cf_mem_free_secret(kpem, klen);
    cf_cert_t *leaf = NULL;
    cf_key_t *key = NULL;
    assert_int_equal(cf_job_open_p12_pair(job, s_fx.pub, s_fx.sec, &leaf, &key, NULL),
                     CF_ERR_STATE);
    cf_job_destroy(&job);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_p12_pair),
        cmocka_unit_test(test_p12_refused),
        cmocka_unit_test(test_pem_form),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
