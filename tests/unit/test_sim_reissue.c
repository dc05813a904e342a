/*  test_sim_reissue - the simulator's check of a reissued certificate (no key decoded):
    it accepts what cf_job_reissue_cert_id accepts and refuses what it refuses, with the
    same codes: wrong key, name, CA, signature, dates, bytes  */
#define _GNU_SOURCE /* memmem */
#include "cf_test.h"

#include <string.h>

#include "cf_ca.h"
#include "cf_job.h"
#include "cf_mem.h"
#include "cf_sim_reissue.h"
#include "cf_test_job.h"

static cf_test_job_t s_fx;
static cf_sim_reissue_t *s_chk;
static unsigned char s_held[CF_CERT_KEY_ID_LEN]; /* the key id of the agent's key */

static int s_setup(void **state)
{
    (void) state;
    if (cf_test_job_setup(&s_fx) != 0 || cf_cert_key_id(s_fx.agent, s_held) != CF_OK)
        return -1;
    return cf_sim_reissue_new(cf_ca_cert(s_fx.ca), &s_chk) == CF_OK ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void) state;
    cf_sim_reissue_destroy(&s_chk);
    cf_sim_reissue_destroy(&s_chk); /* idempotent */
    cf_test_job_teardown(&s_fx);
    return 0;
}

static unsigned char *s_issue(cf_ca_t *ca, const char *name, const cf_key_t *key, size_t *len)
{
    return cf_test_job_issue(ca, name, key, len);
}

static cf_job_t *s_received(const unsigned char *der, size_t len)
{
    return cf_test_job_received_reissue(&s_fx, der, len);
}

/* Both checks at now: the same code (rc) and a reason holding `reason`; no certificate. */
static void s_refused_at(const unsigned char *der, size_t len, time_t now, cf_err_t rc,
                         const char *reason)
{
    cf_job_t *job = s_received(der, len);
    cf_cert_t *cert = (cf_cert_t *) 0x1;
    cf_why_t why = {""};
    cf_err_t got = cf_sim_reissue_check(s_chk, job, s_held, now, &cert, &why);
    if (got != rc || !strstr(why.text, reason))
        fail_msg("got %s (%s), expected %s with '%s'", cf_err_name(got), why.text, cf_err_name(rc),
                 reason);
    assert_null(cert);
    why.text[0] = '\0';
    cert = (cf_cert_t *) 0x1;
    got = cf_job_reissue_cert_id(job, cf_ca_cert(s_fx.ca), s_held, now, &cert, &why);
    if (got != rc) /* the library's own check agrees */
        fail_msg("cf_job_reissue_cert_id: got %s (%s), expected %s", cf_err_name(got), why.text,
                 cf_err_name(rc));
    assert_null(cert);
    cf_job_destroy(&job);
}

static void s_refused(const unsigned char *der, size_t len, cf_err_t rc, const char *reason)
{
    s_refused_at(der, len, s_fx.now + 1, rc, reason);
}

/* The server issues a new certificate for the agent's key; the simulated agent accepts it
   without decoding a key: same key id, new serial, its name. */
static void test_usage(void **state)
{
    (void) state;
    size_t len = 0;
    unsigned char *der = s_issue(s_fx.ca, CF_TEST_JOB_AGENT, s_fx.agent_key, &len);
    cf_job_t *job = s_received(der, len);
    cf_cert_t *cert = NULL, *full = NULL;
    cf_why_t why = {""};
    assert_int_equal(cf_sim_reissue_check(s_chk, job, s_held, s_fx.now + 1, &cert, &why), CF_OK);
    assert_int_equal(
        cf_job_reissue_cert_id(job, cf_ca_cert(s_fx.ca), s_held, s_fx.now + 1, &full, &why), CF_OK);
    /* no key decoded on the way (a reader's certificate), where the library decoded one */
    assert_string_equal(cf_cert_key_name(cert), "");
    assert_string_not_equal(cf_cert_key_name(full), "");
    assert_string_equal(cf_cert_fingerprint(cert), cf_cert_fingerprint(full));
    assert_string_equal(cf_cert_serial(cert), cf_cert_serial(full));
    assert_string_not_equal(cf_cert_serial(cert), cf_cert_serial(s_fx.agent));
    assert_string_equal(cf_cert_agent_id(cert), CF_TEST_JOB_AGENT);
    unsigned char id[CF_CERT_KEY_ID_LEN];
    assert_int_equal(cf_cert_key_id(cert, id), CF_OK);
    assert_memory_equal(id, s_held, sizeof(id));
    char *pem = NULL; /* what the simulator installs */
    size_t plen = 0;
    assert_int_equal(cf_cert_to_pem(cert, &pem, &plen), CF_OK);
    assert_non_null(strstr(pem, "BEGIN CERTIFICATE"));
    cf_mem_free(pem);
    cf_cert_destroy(&cert);
    cf_cert_destroy(&full);
    cf_job_destroy(&job);
    cf_mem_free(der);
}

static void test_refusals(void **state)
{
    (void) state;
    size_t len = 0;
    cf_key_t *other = NULL;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &other), CF_OK);
    unsigned char *der = s_issue(s_fx.ca, CF_TEST_JOB_AGENT, other, &len);
    s_refused(der, len, CF_ERR_KEYMISMATCH, "not for the key this agent holds");
    cf_mem_free(der);
    der = s_issue(s_fx.ca, "ws-0043.corp", s_fx.agent_key, &len);
    s_refused(der, len, CF_ERR_POLICY, "not for agent " CF_TEST_JOB_AGENT);
    cf_mem_free(der);
    cf_ca_t *rogue = NULL; /* another CA of the same name */
    assert_int_equal(cf_ca_create(NULL, &rogue), CF_OK);
    der = s_issue(rogue, CF_TEST_JOB_AGENT, s_fx.agent_key, &len);
    s_refused(der, len, CF_ERR_UNTRUSTED, "chain does not verify");
    cf_mem_free(der);
    cf_ca_destroy(&rogue);
    unsigned char junk[64];
    memset(junk, 0x30, sizeof(junk));
    s_refused(junk, sizeof(junk), CF_ERR_CORRUPT, "does not parse");
    cf_key_destroy(&other);
}

/* The signature step is this module's own: a changed signature or a changed byte of the
   signed part is refused as the library refuses it. */
static void test_tampered(void **state)
{
    (void) state;
    size_t len = 0;
    unsigned char *der = s_issue(s_fx.ca, CF_TEST_JOB_AGENT, s_fx.agent_key, &len);
    der[len - 3] ^= 0x01; /* inside the signature's s */
    s_refused(der, len, CF_ERR_UNTRUSTED, "signature failure");
    der[len - 3] ^= 0x01;
    /* a letter of the agent's name in the subject (signed part; still parses) */
    unsigned char *name = memmem(der, len, CF_TEST_JOB_AGENT, strlen(CF_TEST_JOB_AGENT));
    assert_non_null(name);
    name[0] ^= 0x01;
    s_refused(der, len, CF_ERR_UNTRUSTED, "signature failure");
    name[0] ^= 0x01;
    der[len - 1] = 0; /* with a byte cut off the end */
    s_refused(der, len - 1, CF_ERR_CORRUPT, "does not parse");
    cf_mem_free(der);
}

/* Validity: both ends of the new certificate's dates. */
static void test_dates(void **state)
{
    (void) state;
    size_t len = 0;
    unsigned char *der = s_issue(s_fx.ca, CF_TEST_JOB_AGENT, s_fx.agent_key, &len);
    cf_job_t *job = s_received(der, len);
    cf_cert_t *cert = NULL;
    assert_int_equal(cf_sim_reissue_check(s_chk, job, s_held, s_fx.now + 1, &cert, NULL), CF_OK);
    time_t nb = cf_cert_not_before(cert), na = cf_cert_not_after(cert);
    cf_cert_destroy(&cert);
    cf_job_destroy(&job);
    s_refused_at(der, len, na + 1, CF_ERR_EXPIRED, "expired");
    s_refused_at(der, len, nb - 1, CF_ERR_NOTYETVALID, "not yet valid");
    cf_mem_free(der);
}

static void test_bad_arguments(void **state)
{
    (void) state;
    cf_job_t *fav = cf_test_job_new(&s_fx, CF_JOB_TYPE_SET_FAVORITE);
    cf_cert_t *cert = NULL;
    assert_int_equal(cf_sim_reissue_check(s_chk, fav, s_held, s_fx.now, &cert, NULL), CF_ERR_STATE);
    assert_int_equal(cf_sim_reissue_check(s_chk, NULL, s_held, s_fx.now, &cert, NULL),
                     CF_ERR_INVALID);
    assert_int_equal(cf_sim_reissue_check(s_chk, fav, NULL, s_fx.now, &cert, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_sim_reissue_check(NULL, fav, s_held, s_fx.now, &cert, NULL),
                     CF_ERR_INVALID);
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(cf_job_reissue_der(fav, &der, &len), CF_ERR_STATE);
    assert_null(der);
    cf_job_destroy(&fav);
    cf_sim_reissue_t *chk = NULL;
    assert_int_equal(cf_sim_reissue_new(NULL, &chk), CF_ERR_INVALID);
    assert_null(chk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),         cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_tampered),      cmocka_unit_test(test_dates),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
