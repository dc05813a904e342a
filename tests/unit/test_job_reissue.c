/*  test_job_reissue - the reissue job: a new certificate for the key the agent holds, signed
    into the job, checked at the agent (its key, its CA, its name); refusals  */
#include "cf_test.h"

#include <string.h>

#include "cf_ca.h"
#include "cf_job.h"
#include "cf_mem.h"
#include "cf_test_job.h"

static cf_test_job_t s_fx;

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

static unsigned char *s_issue(cf_ca_t *ca, const char *name, const cf_key_t *key, size_t *len)
{
    return cf_test_job_issue(ca, name, key, len);
}

static cf_job_t *s_received(const unsigned char *der, size_t len)
{
    return cf_test_job_received_reissue(&s_fx, der, len);
}

/* The server issues a new certificate for the agent's key; the agent accepts it for the key
   it holds: same key, new serial. */
static void test_usage(void **state)
{
    (void) state;
    size_t len = 0;
    unsigned char *der = s_issue(s_fx.ca, CF_TEST_JOB_AGENT, s_fx.agent_key, &len);
    cf_job_t *job = s_received(der, len);
    assert_int_equal(cf_job_type(job), CF_JOB_TYPE_REISSUE);
    assert_string_equal(cf_job_type_name(CF_JOB_TYPE_REISSUE), "reissue");
    assert_int_equal(cf_job_min_proto(job), 2);
    assert_true(cf_job_min_proto(job) <= CF_JOB_PROTO);
    cf_cert_t *cert = NULL;
    cf_why_t why = {""};
    assert_int_equal(
        cf_job_reissue_cert(job, cf_ca_cert(s_fx.ca), s_fx.agent_key, s_fx.now + 1, &cert, &why),
        CF_OK);
    assert_int_equal(cf_cert_matches_key(cert, s_fx.agent_key), CF_OK);
    assert_string_not_equal(cf_cert_serial(cert), cf_cert_serial(s_fx.agent));
    assert_string_equal(cf_cert_agent_id(cert), CF_TEST_JOB_AGENT);
    /* the simulator's form: the key held known by the key id of the certificate in use */
    unsigned char held[CF_CERT_KEY_ID_LEN], got[CF_CERT_KEY_ID_LEN];
    assert_int_equal(cf_cert_key_id(s_fx.agent, held), CF_OK);
    assert_int_equal(cf_cert_key_id(cert, got), CF_OK);
    assert_memory_equal(held, got, sizeof(held)); /* same key, another certificate */
    cf_cert_destroy(&cert);
    assert_int_equal(
        cf_job_reissue_cert_id(job, cf_ca_cert(s_fx.ca), held, s_fx.now + 1, &cert, &why), CF_OK);
    assert_string_not_equal(cf_cert_serial(cert), cf_cert_serial(s_fx.agent));
    cf_cert_destroy(&cert);
    cf_job_destroy(&job);
    cf_mem_free(der);
}

/* Expect cf_job_reissue_cert to refuse der for the fixture agent's key with rc and reason. */
static void s_refused(const unsigned char *der, size_t len, const cf_key_t *key, cf_err_t rc,
                      const char *reason)
{
    cf_job_t *job = s_received(der, len);
    cf_cert_t *cert = (cf_cert_t *) 0x1;
    cf_why_t why = {""};
    cf_err_t got = cf_job_reissue_cert(job, cf_ca_cert(s_fx.ca), key, s_fx.now + 1, &cert, &why);
    if (got != rc || !strstr(why.text, reason))
        fail_msg("got %s (%s), expected %s with '%s'", cf_err_name(got), why.text, cf_err_name(rc),
                 reason);
    assert_null(cert);
    if (key == s_fx.agent_key) { /* the key id form refuses alike */
        unsigned char held[CF_CERT_KEY_ID_LEN];
        assert_int_equal(cf_cert_key_id(s_fx.agent, held), CF_OK);
        why.text[0] = '\0';
        cert = (cf_cert_t *) 0x1;
        got = cf_job_reissue_cert_id(job, cf_ca_cert(s_fx.ca), held, s_fx.now + 1, &cert, &why);
        if (got != rc || !strstr(why.text, reason))
            fail_msg("id form: got %s (%s), expected %s with '%s'", cf_err_name(got), why.text,
                     cf_err_name(rc), reason);
        assert_null(cert);
    }
    cf_job_destroy(&job);
}

static void test_refusals(void **state)
{
    (void) state;
    size_t len = 0;
    cf_key_t *other = NULL;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &other), CF_OK);
    /* a certificate for a key this agent does not hold */
    unsigned char *der = s_issue(s_fx.ca, CF_TEST_JOB_AGENT, other, &len);
    s_refused(der, len, s_fx.agent_key, CF_ERR_KEYMISMATCH, "not for the key this agent holds");
    cf_mem_free(der);
    /* for another agent's name */
    der = s_issue(s_fx.ca, "ws-0043.corp", s_fx.agent_key, &len);
    s_refused(der, len, s_fx.agent_key, CF_ERR_POLICY, "not for agent " CF_TEST_JOB_AGENT);
    cf_mem_free(der);
    /* from another CA (the job itself is genuine: signed by our server) */
    cf_ca_t *rogue = NULL;
    assert_int_equal(cf_ca_create(NULL, &rogue), CF_OK);
    der = s_issue(rogue, CF_TEST_JOB_AGENT, s_fx.agent_key, &len);
    s_refused(der, len, s_fx.agent_key, CF_ERR_UNTRUSTED, "chain does not verify");
    cf_mem_free(der);
    cf_ca_destroy(&rogue);
    /* bytes that are not a certificate */
    unsigned char junk[64];
    memset(junk, 0x30, sizeof(junk));
    s_refused(junk, sizeof(junk), s_fx.agent_key, CF_ERR_CORRUPT, "does not parse");
    cf_key_destroy(&other);
}

static void test_bad_arguments(void **state)
{
    (void) state;
    unsigned char der[8] = {0x30};
    cf_job_t *fav = cf_test_job_new(&s_fx, CF_JOB_TYPE_SET_FAVORITE);
    assert_int_equal(cf_job_set_reissue(fav, der, sizeof(der)), CF_ERR_INVALID); /* wrong type */
    cf_cert_t *cert = NULL;
    assert_int_equal(
        cf_job_reissue_cert(fav, cf_ca_cert(s_fx.ca), s_fx.agent_key, s_fx.now, &cert, NULL),
        CF_ERR_STATE);
    assert_int_equal(
        cf_job_reissue_cert(NULL, cf_ca_cert(s_fx.ca), s_fx.agent_key, s_fx.now, &cert, NULL),
        CF_ERR_INVALID);
    unsigned char held[CF_CERT_KEY_ID_LEN] = {0};
    assert_int_equal(cf_job_reissue_cert_id(fav, cf_ca_cert(s_fx.ca), held, s_fx.now, &cert, NULL),
                     CF_ERR_STATE);
    assert_int_equal(cf_job_reissue_cert_id(fav, cf_ca_cert(s_fx.ca), NULL, s_fx.now, &cert, NULL),
                     CF_ERR_INVALID);
    assert_int_equal(cf_cert_key_id(NULL, held), CF_ERR_INVALID);
    cf_job_destroy(&fav);
    cf_job_spec_t spec = {.type = CF_JOB_TYPE_REISSUE,
                          .agent = CF_TEST_JOB_AGENT,
                          .issuer = "srv1",
                          .created = s_fx.now,
                          .expires = s_fx.now + 60};
    cf_job_t *job = NULL;
    assert_int_equal(cf_job_new(&spec, &job, NULL), CF_OK);
    assert_int_equal(cf_job_set_reissue(job, der, 0), CF_ERR_INVALID);
    assert_int_equal(cf_job_set_reissue(job, NULL, 8), CF_ERR_INVALID);
    static unsigned char big[CF_JOB_MAX_CERT + 1];
    assert_int_equal(cf_job_set_reissue(job, big, sizeof(big)), CF_ERR_TOOBIG);
    /* without its certificate a reissue job cannot be signed */
    cf_why_t why = {""};
    assert_int_not_equal(cf_job_sign(job, s_fx.server, s_fx.server_key, &why), CF_OK);
    assert_non_null(strstr(why.text, "reissue"));
    cf_job_destroy(&job);
}

/* The wire form: a reissue payload is exactly {"cert":B64}; anything else is refused. */
static void test_wire_form(void **state)
{
    (void) state;
    size_t len = 0;
    unsigned char *der = s_issue(s_fx.ca, CF_TEST_JOB_AGENT, s_fx.agent_key, &len);
    cf_job_t *job = s_received(der, len);
    char *wire = NULL;
    size_t wlen = 0;
    assert_int_equal(cf_job_to_wire(job, &wire, &wlen), CF_OK);
    assert_non_null(strstr(wire, "\"payload\":{\"cert\":\""));
    assert_non_null(strstr(wire, "\"type\":\"reissue\""));
    /* the payload replaced: an extra field, none, an empty or a non-base64 certificate */
    char *p = strstr(wire, "\"payload\":") + strlen("\"payload\":");
    char *end = strchr(p, '}') + 1;
    const char *b64 = p + strlen("{\"cert\":\"");
    char extra[4096];
    snprintf(extra, sizeof(extra), "{\"cert\":\"%.*s\",\"form\":\"pem\"}", (int) (end - 2 - b64),
             b64);
    const char *bad[] = {extra, "{}", "{\"cert\":\"\"}", "{\"cert\":\"!!\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[8192];
        snprintf(text, sizeof(text), "%.*s%s%s", (int) (p - wire), wire, bad[i], end);
        cf_job_t *got = NULL;
        cf_why_t why = {""};
        assert_int_equal(cf_job_parse(text, strlen(text), &got, &why), CF_ERR_CORRUPT);
        assert_null(got);
    }
    cf_mem_free(wire);
    cf_job_destroy(&job);
    cf_mem_free(der);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_wire_form),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
