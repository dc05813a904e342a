/*  test_fleet_one - cf_fleet as a real agent's broker link: a fleet of one with a given id
    and keypair; those fields refused for a bigger fleet  */
#include "cf_test.h"

#include <string.h>

#include "cf_ca.h"
#include "cf_fleet.h"

static cf_err_t s_job(void *ctx, size_t agent, const char *job_id, const void *job, size_t len,
                      int64_t *expires_out, char fpr_out[CF_MSG_FPR_HEX + 1], cf_why_t *why)
{
    (void) ctx, (void) agent, (void) job_id, (void) job, (void) len, (void) expires_out;
    (void) fpr_out;
    return cf_why(why, CF_ERR_STATE, "not in this test");
}

static void test_usage(void **state)
{
    (void) state;
    cf_ca_t *ca = NULL;
    assert_int_equal(cf_ca_create(NULL, &ca), CF_OK);
    cf_curve_broker_t broker; /* nothing listens there: the link stays down */
    memset(&broker, 7, sizeof(broker));
    snprintf(broker.endpoint, sizeof(broker.endpoint), "tcp://127.0.0.1:9");
    cf_curve_keypair_t kp;
    assert_int_equal(cf_curve_keypair_new(&kp), CF_OK);
    cf_fleet_cfg_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.count = 1;
    cfg.ca = cf_ca_cert(ca);
    cfg.brokers = &broker;
    cfg.n_brokers = 1;
    cfg.agent_id = "host-7.example";
    cfg.keypair = &kp;
    cfg.on_job = s_job;
    cf_fleet_t *f = NULL;
    assert_int_equal(cf_fleet_new(&cfg, &f, NULL), CF_OK);
    char id[CF_MSG_AGENT_MAX + 1];
    unsigned char pub[CF_CURVE_KEY_LEN];
    assert_int_equal(cf_fleet_identity(f, 0, id, pub), CF_OK);
    assert_string_equal(id, "host-7.example");
    assert_memory_equal(pub, kp.pub, sizeof(pub));
    cf_fleet_destroy(&f);
    /* refused: a given id or keypair for more than one agent; an id the wire refuses */
    cf_why_t why = {""};
    cfg.count = 2;
    assert_int_equal(cf_fleet_new(&cfg, &f, &why), CF_ERR_INVALID);
    assert_non_null(strstr(why.text, "fleet of one"));
    cfg.agent_id = NULL;
    assert_int_equal(cf_fleet_new(&cfg, &f, &why), CF_ERR_INVALID);
    cfg.count = 1;
    cfg.agent_id = "bad id with spaces";
    assert_int_equal(cf_fleet_new(&cfg, &f, &why), CF_ERR_INVALID);
    assert_null(f);
    cf_curve_keypair_wipe(&kp);
    cf_ca_destroy(&ca);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
