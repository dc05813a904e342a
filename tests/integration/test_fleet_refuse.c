/*  test_fleet_refuse - jobs a fleet agent must refuse, each reported as failed(reason):
    replay, one payload byte changed, signed by an agent or console certificate, expired,
    addressed to another agent, a key that is not the certificate's; and installs that work
    (PEM and PKCS#12)  */
#include "cf_test.h"

#include <string.h>
#include <time.h>

#include "cf_fleet.h"
#include "cf_itest_agents.h"
#include "cf_mem.h"
#include "cf_p12.h"

/* Send wire to agent 0 as job_id and return its (first) REPORT for it, acked. */
static const cf_itest_agents_ev_t *s_report(cf_itest_agents_t *fx, const char *job_id,
                                            const char *wire, size_t len, size_t nth)
{
    assert_int_equal(cf_itest_agents_send_job(fx, 0, job_id, wire, len), CF_OK);
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_REPORT, NULL, job_id, nth + 1), nth + 1);
    cf_itest_agents_all_acked(fx, job_id, 1);
    return cf_itest_agents_nth(fx, CF_MSG_REPORT, NULL, job_id, nth);
}

static void s_expect_failed(cf_itest_agents_t *fx, const char *job_id, const char *wire, size_t len,
                            const char *reason)
{
    const cf_itest_agents_ev_t *re = s_report(fx, job_id, wire, len, 0);
    assert_int_equal(re->outcome, CF_MSG_FAILED);
    if (!strstr(re->text, reason))
        fail_msg("reason \"%s\" lacks \"%s\"", re->text, reason);
}

static cf_itest_agents_t *s_start(void)
{
    cf_itest_agents_t *fx = cf_itest_agents_start(1, NULL, NULL);
    assert_int_equal(cf_itest_agents_wait(fx, CF_MSG_HELLO, NULL, NULL, 1), 1);
    return fx;
}

/* The same job twice: applied once, the second time refused as a replay. */
static void test_replay(void **state)
{
    (void) state;
    cf_itest_agents_t *fx = s_start();
    char job_id[CF_MSG_JOB_ID_HEX + 1] = "", fpr[CF_MSG_FPR_HEX + 1];
    size_t len = 0;
    char *job = cf_itest_agents_job(fx, 0, CF_JOB_TYPE_INSTALL_CERT, NULL, time(NULL), 600, job_id,
                                    fpr, &len);
    assert_int_equal(s_report(fx, job_id, job, len, 0)->outcome, CF_MSG_INSTALLED);
    const cf_itest_agents_ev_t *re = s_report(fx, job_id, job, len, 1);
    assert_int_equal(re->outcome, CF_MSG_FAILED);
    assert_non_null(strstr(re->text, "was already applied here (replay)"));
    assert_string_equal(re->fpr, fpr); /* still the certificate the first run installed */
    /* and a third time too: the memory of the applied job outlives the refusal */
    assert_int_equal(s_report(fx, job_id, job, len, 2)->outcome, CF_MSG_FAILED);
    cf_fleet_stats_t st;
    assert_int_equal(cf_fleet_stats(fx->fleet, &st), CF_OK);
    assert_int_equal(st.installed, 1);
    assert_int_equal(st.refused[CF_ERR_EXISTS], 2);
    cf_mem_free(job);
    cf_itest_agents_stop(&fx);
}

/* What the signature covers: one payload byte, the signer's kind. */
static void test_tampered_signature(void **state)
{
    (void) state;
    cf_itest_agents_t *fx = s_start();
    char job_id[CF_MSG_JOB_ID_HEX + 1] = "";
    size_t len = 0;
    char *job = cf_itest_agents_job(fx, 0, CF_JOB_TYPE_SET_FAVORITE, NULL, time(NULL), 600, job_id,
                                    NULL, &len);
    char *alias = strstr(job, "srv2.example.org");
    assert_non_null(alias);
    alias[3] = '3'; /* one payload byte */
    s_expect_failed(fx, job_id, job, len, "signature does not verify");

    const char *who[] = {"agent", "console"};
    cf_component_t kinds[] = {CF_COMPONENT_AGENT, CF_COMPONENT_CONSOLE};
    for (size_t k = 0; k < 2; k++) {
        cf_issue_t req = {.component = kinds[k], .name = k ? "Operator" : "sim-0"};
        cf_cert_t *cert = NULL;
        cf_key_t *key = NULL;
        assert_int_equal(cf_ca_issue(fx->ca, &req, &cert, &key), CF_OK);
        char id[CF_MSG_JOB_ID_HEX + 1] = "", want[96];
        char *wire =
            cf_itest_agents_job(fx, 0, CF_JOB_TYPE_RECHECK, NULL, time(NULL), 600, id, NULL, &len);
        size_t flen = 0;
        char *forged = cf_itest_agents_forge(wire, cert, key, &flen);
        snprintf(want, sizeof(want), "has no serverAuth (%s certificates cannot", who[k]);
        s_expect_failed(fx, id, forged, flen, want);
        cf_mem_free(forged);
        cf_mem_free(wire);
        cf_cert_destroy(&cert);
        cf_key_destroy(&key);
    }
    cf_fleet_stats_t st;
    assert_int_equal(cf_fleet_stats(fx->fleet, &st), CF_OK);
    assert_int_equal(st.refused[CF_ERR_UNTRUSTED], 1);
    assert_int_equal(st.refused[CF_ERR_POLICY], 2);
    assert_int_equal(st.installed, 0);
    cf_mem_free(job);
    cf_itest_agents_stop(&fx);
}

/* Authentic jobs refused for what they say: expired, for another agent; and a JOB frame
   whose job id is not the job's. */
static void test_tampered_claims(void **state)
{
    (void) state;
    cf_itest_agents_t *fx = s_start();
    char id[CF_MSG_JOB_ID_HEX + 1] = "";
    size_t len = 0;
    char *wire = cf_itest_agents_job(fx, 0, CF_JOB_TYPE_RECHECK, NULL, time(NULL) - 7200, 3600, id,
                                     NULL, &len);
    s_expect_failed(fx, id, wire, len, "expired at");
    cf_mem_free(wire);

    id[0] = '\0';
    wire =
        cf_itest_agents_job(fx, 0, CF_JOB_TYPE_RECHECK, "sim-99", time(NULL), 600, id, NULL, &len);
    s_expect_failed(fx, id, wire, len, "is addressed to agent 'sim-99', this is 'sim-0'");
    cf_mem_free(wire);

    id[0] = '\0';
    wire = cf_itest_agents_job(fx, 0, CF_JOB_TYPE_RECHECK, NULL, time(NULL), 600, id, NULL, &len);
    char other[CF_MSG_JOB_ID_HEX + 1];
    memcpy(other, id, sizeof(other));
    other[0] = other[0] == 'a' ? 'b' : 'a';
    s_expect_failed(fx, other, wire, len, "the JOB frame names job");
    cf_mem_free(wire);

    cf_fleet_stats_t st;
    assert_int_equal(cf_fleet_stats(fx->fleet, &st), CF_OK);
    assert_int_equal(st.refused[CF_ERR_EXPIRED], 1);
    assert_int_equal(st.refused[CF_ERR_POLICY], 1);
    assert_int_equal(st.refused[CF_ERR_CORRUPT], 1);
    assert_int_equal(st.failed, 3);
    cf_itest_agents_stop(&fx);
}

/* An install whose key is not the certificate's is refused; a PKCS#12 install works. */
static void test_install_forms(void **state)
{
    (void) state;
    cf_itest_agents_t *fx = s_start();
    char id[CF_MSG_AGENT_MAX + 1];
    unsigned char pub[CF_CURVE_KEY_LEN];
    assert_int_equal(cf_fleet_identity(fx->fleet, 0, id, pub), CF_OK);
    assert_string_equal(id, "sim-0");
    cf_issue_t req = {.component = CF_COMPONENT_AGENT, .name = "sim-0"};
    cf_cert_t *cert = NULL, *cert2 = NULL;
    cf_key_t *key = NULL, *key2 = NULL;
    assert_int_equal(cf_ca_issue(fx->ca, &req, &cert, &key), CF_OK);
    assert_int_equal(cf_ca_issue(fx->ca, &req, &cert2, &key2), CF_OK);
    cf_job_spec_t spec = {.type = CF_JOB_TYPE_INSTALL_CERT,
                          .agent = "sim-0",
                          .issuer = "srv1",
                          .created = time(NULL),
                          .expires = time(NULL) + 600};
    char *pem = NULL, *kpem = NULL, *wire = NULL;
    size_t pem_len = 0, klen = 0, len = 0;
    assert_int_equal(cf_cert_to_pem(cert, &pem, &pem_len), CF_OK);
    assert_int_equal(cf_key_to_pem(key2, NULL, &kpem, &klen), CF_OK); /* the other key */
    cf_job_t *job = NULL;
    assert_int_equal(cf_job_new(&spec, &job, NULL), CF_OK);
    assert_int_equal(cf_job_set_install_pem(job, pem, pem_len, kpem, klen, pub), CF_OK);
    assert_int_equal(cf_job_sign(job, fx->server, fx->server_key, NULL), CF_OK);
    assert_int_equal(cf_job_to_wire(job, &wire, &len), CF_OK);
    s_expect_failed(fx, cf_job_id(job), wire, len, "does not belong to the certificate");
    cf_job_destroy(&job);
    cf_mem_free(wire);

    /* the PKCS#12 form, with its password, both sealed */
    unsigned char *p12 = NULL;
    size_t p12_len = 0;
    assert_int_equal(cf_p12_create(key, cert, NULL, 0, "pw-0", "sim-0", 0, &p12, &p12_len), CF_OK);
    assert_int_equal(cf_job_new(&spec, &job, NULL), CF_OK);
    assert_int_equal(cf_job_set_install_p12(job, p12, p12_len, "pw-0", pub), CF_OK);
    assert_int_equal(cf_job_sign(job, fx->server, fx->server_key, NULL), CF_OK);
    assert_int_equal(cf_job_to_wire(job, &wire, &len), CF_OK);
    const cf_itest_agents_ev_t *re = s_report(fx, cf_job_id(job), wire, len, 0);
    assert_int_equal(re->outcome, CF_MSG_INSTALLED);
    assert_string_equal(re->fpr, cf_cert_fingerprint(cert));

    cf_job_destroy(&job);
    cf_mem_free(wire);
    cf_mem_free(p12);
    cf_mem_free(pem);
    cf_mem_free_secret(kpem, klen);
    cf_cert_destroy(&cert);
    cf_cert_destroy(&cert2);
    cf_key_destroy(&key);
    cf_key_destroy(&key2);
    cf_itest_agents_stop(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_replay, cf_itest_agents_teardown),
        cmocka_unit_test_teardown(test_tampered_signature, cf_itest_agents_teardown),
        cmocka_unit_test_teardown(test_tampered_claims, cf_itest_agents_teardown),
        cmocka_unit_test_teardown(test_install_forms, cf_itest_agents_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
