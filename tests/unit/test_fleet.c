/*  test_fleet - the fleet core's calls without a broker: creation, identities, requests,
    refused configurations and arguments, allocation failures (itest_fleet: with a broker)  */
#include "cf_test.h"

#include <string.h>
#include <sys/resource.h>

#include "cf_ca.h"
#include "cf_fleet.h"
#include "cf_mem.h"

static cf_ca_t *s_ca;
static cf_curve_broker_t s_broker; /* nothing listens there: links stay down */

static int s_setup(void **state)
{
    (void) state;
    snprintf(s_broker.endpoint, sizeof(s_broker.endpoint), "tcp://127.0.0.1:9");
    memset(s_broker.pub, 7, sizeof(s_broker.pub));
    return cf_ca_create(NULL, &s_ca) == CF_OK ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void) state;
    cf_ca_destroy(&s_ca);
    return 0;
}

static cf_fleet_cfg_t s_cfg(size_t count)
{
    cf_fleet_cfg_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.count = count;
    cfg.ca = cf_ca_cert(s_ca);
    cfg.brokers = &s_broker;
    cfg.n_brokers = 1;
    return cfg;
}

static void test_usage(void **state)
{
    (void) state;
    cf_fleet_cfg_t cfg = s_cfg(3);
    cfg.id_prefix = "lab-";
    cfg.first = 40;
    cf_fleet_t *fleet = NULL;
    assert_int_equal(cf_fleet_new(&cfg, &fleet, NULL), CF_OK);
    assert_int_equal(cf_fleet_size(fleet), 3);
    /* ids and keys for the broker's allow list */
    char id[CF_MSG_AGENT_MAX + 1];
    unsigned char pub[CF_CURVE_KEY_LEN], pub0[CF_CURVE_KEY_LEN];
    assert_int_equal(cf_fleet_identity(fleet, 0, id, pub0), CF_OK);
    assert_string_equal(id, "lab-40");
    assert_int_equal(cf_fleet_identity(fleet, 2, id, pub), CF_OK);
    assert_string_equal(id, "lab-42");
    assert_memory_not_equal(pub, pub0, sizeof(pub)); /* a keypair each */

    cf_fleet_agent_info_t info;
    assert_int_equal(cf_fleet_agent_info(fleet, 1, &info), CF_OK);
    assert_string_equal(info.id, "lab-41");
    assert_true(info.online);
    assert_false(info.link_up); /* nobody listens */
    assert_string_equal(info.fpr, "");
    assert_int_equal(cf_fleet_set_online(fleet, CF_FLEET_ALL, 0), CF_OK);
    assert_int_equal(cf_fleet_agent_info(fleet, 1, &info), CF_OK);
    assert_false(info.online);
    assert_int_equal(cf_fleet_set_online(fleet, 1, 1), CF_OK);

    cf_fleet_stats_t st;
    assert_int_equal(cf_fleet_stats(fleet, &st), CF_OK);
    assert_int_equal(st.connects, 0);
    assert_int_equal(st.jobs, 0);
    const char *job = "0123456789abcdef0123456789abcdef";
    size_t n = 7;
    assert_int_equal(cf_fleet_acked(fleet, job, &n), CF_OK);
    assert_int_equal(n, 0);
    /* a wait that cannot be met ends at its deadline */
    assert_int_equal(cf_fleet_wait_acked(fleet, job, 1, 50), CF_ERR_NOTFOUND);
    cf_fleet_fault_t fault = {.fail_pct = 10, .fail_reason = "disk full"};
    assert_int_equal(cf_fleet_set_fault(fleet, &fault), CF_OK);
    cf_fleet_destroy(&fleet);
    assert_null(fleet);
    cf_fleet_destroy(&fleet); /* safe to repeat */
}

static void test_bad_config(void **state)
{
    (void) state;
    cf_fleet_t *fleet = (cf_fleet_t *) 0x1;
    cf_why_t why = {""};
    assert_int_equal(cf_fleet_new(NULL, &fleet, &why), CF_ERR_INVALID);
    assert_null(fleet);
    cf_fleet_cfg_t cfg = s_cfg(0);
    assert_int_equal(cf_fleet_new(&cfg, &fleet, &why), CF_ERR_TOOBIG);
    cfg = s_cfg(CF_FLEET_MAX_AGENTS + 1);
    assert_int_equal(cf_fleet_new(&cfg, &fleet, &why), CF_ERR_TOOBIG);
    struct rlimit rl, low = {100, 0};
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    low.rlim_max = rl.rlim_max;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    cfg = s_cfg(50); /* 100 descriptors hold no 50 agents */
    cf_err_t rc = cf_fleet_new(&cfg, &fleet, &why);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    assert_int_equal(rc, CF_ERR_TOOBIG);
    assert_non_null(strstr(why.text, "50 agents need about 164 open files, the limit is 100"));
    cfg = s_cfg(1);
    cfg.ca = NULL;
    assert_int_equal(cf_fleet_new(&cfg, &fleet, &why), CF_ERR_INVALID);
    cfg = s_cfg(1);
    cfg.n_brokers = 0;
    assert_int_equal(cf_fleet_new(&cfg, &fleet, &why), CF_ERR_INVALID);
    cfg = s_cfg(1);
    cfg.id_prefix = "Upper-"; /* ids are [a-z0-9][a-z0-9._-]* */
    assert_int_equal(cf_fleet_new(&cfg, &fleet, &why), CF_ERR_INVALID);
    assert_non_null(strstr(why.text, "'Upper-0' is not a valid agent id"));
    cfg = s_cfg(1);
    cfg.id_prefix = "a-very-long-prefix-that-makes-the-ids-too-long-"; /* 47 bytes */
    cfg.first = 100000000000000000ULL;                                 /* + 18 digits > 63 */
    assert_int_equal(cf_fleet_new(&cfg, &fleet, &why), CF_ERR_INVALID);
    cfg = s_cfg(1);
    cfg.sw_version = "bad\tversion";
    assert_int_equal(cf_fleet_new(&cfg, &fleet, &why), CF_ERR_INVALID);
    cfg = s_cfg(1);
    cfg.proto = 256;
    assert_int_equal(cf_fleet_new(&cfg, &fleet, &why), CF_ERR_INVALID);
    cfg = s_cfg(1);
    cfg.resend_min_ms = -1;
    assert_int_equal(cf_fleet_new(&cfg, &fleet, &why), CF_ERR_INVALID);
    assert_null(fleet);
}

static void test_bad_arguments(void **state)
{
    (void) state;
    cf_fleet_cfg_t cfg = s_cfg(2);
    cf_fleet_t *fleet = NULL;
    assert_int_equal(cf_fleet_new(&cfg, &fleet, NULL), CF_OK);
    char id[CF_MSG_AGENT_MAX + 1];
    unsigned char pub[CF_CURVE_KEY_LEN];
    assert_int_equal(cf_fleet_identity(fleet, 2, id, pub), CF_ERR_INVALID);
    assert_int_equal(cf_fleet_identity(NULL, 0, id, pub), CF_ERR_INVALID);
    cf_fleet_agent_info_t info;
    assert_int_equal(cf_fleet_agent_info(fleet, 2, &info), CF_ERR_INVALID);
    assert_int_equal(cf_fleet_stats(fleet, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_fleet_set_online(fleet, 2, 0), CF_ERR_INVALID);
    cf_fleet_fault_t fault = {.fail_pct = 101};
    assert_int_equal(cf_fleet_set_fault(fleet, &fault), CF_ERR_INVALID);
    fault.fail_pct = 5;
    strcpy(fault.fail_reason, "tab\there");
    assert_int_equal(cf_fleet_set_fault(fleet, &fault), CF_ERR_INVALID);
    size_t n = 0;
    assert_int_equal(cf_fleet_acked(fleet, "0123", &n), CF_ERR_INVALID);
    assert_int_equal(cf_fleet_acked(fleet, "0123456789ABCDEF0123456789ABCDEF", &n), CF_ERR_INVALID);
    const char *job = "0123456789abcdef0123456789abcdef";
    assert_int_equal(cf_fleet_wait_acked(fleet, job, 3, 10), CF_ERR_TOOBIG);
    assert_int_equal(cf_fleet_wait_acked(fleet, job, 1, -1), CF_ERR_INVALID);
    assert_int_equal(cf_fleet_size(NULL), 0);
    cf_fleet_destroy(&fleet);
}

/* Every allocation cf_fleet_new makes may fail: it answers NOMEM and leaks nothing. */
static void test_alloc_failures(void **state)
{
    (void) state;
    cf_fleet_cfg_t cfg = s_cfg(2);
    cf_err_t rc = CF_ERR_NOMEM;
    long i = 0;
    for (; rc != CF_OK && i < 200; i++) {
        cf_fleet_t *fleet = NULL;
        cf_test_alloc_fail_at(i);
        rc = cf_fleet_new(&cfg, &fleet, NULL);
        cf_test_alloc_fail_at(-1);
        if (rc != CF_OK) {
            assert_int_equal(rc, CF_ERR_NOMEM);
            assert_null(fleet);
        }
        cf_fleet_destroy(&fleet);
    }
    assert_int_equal(rc, CF_OK);
    assert_true(i > 1);
}

/* Given keypairs (a restored simulator) are the agents' own, and cf_fleet_keypair hands
   each back; one keypair and a list of them together are refused. */
static void test_keypairs(void **state)
{
    (void) state;
    cf_curve_keypair_t kps[2], got;
    assert_int_equal(cf_curve_keypair_new(&kps[0]), CF_OK);
    assert_int_equal(cf_curve_keypair_new(&kps[1]), CF_OK);
    cf_fleet_cfg_t cfg = s_cfg(2);
    cfg.keypairs = kps;
    cfg.start_offline = 1;
    cf_fleet_t *fleet = NULL;
    assert_int_equal(cf_fleet_new(&cfg, &fleet, NULL), CF_OK);
    char id[CF_MSG_AGENT_MAX + 1];
    unsigned char pub[CF_CURVE_KEY_LEN];
    assert_int_equal(cf_fleet_identity(fleet, 1, id, pub), CF_OK);
    assert_memory_equal(pub, kps[1].pub, sizeof(pub));
    assert_int_equal(cf_fleet_keypair(fleet, 0, &got), CF_OK);
    assert_memory_equal(got.sec, kps[0].sec, sizeof(got.sec));
    assert_int_equal(cf_fleet_keypair(fleet, 2, &got), CF_ERR_INVALID);
    assert_int_equal(cf_fleet_keypair(NULL, 0, &got), CF_ERR_INVALID);
    assert_int_equal(cf_fleet_keypair(fleet, 0, NULL), CF_ERR_INVALID);
    cf_fleet_destroy(&fleet);
    cfg = s_cfg(1);
    cfg.keypairs = kps;
    cfg.keypair = &kps[0];
    cf_why_t why = {""};
    assert_int_equal(cf_fleet_new(&cfg, &fleet, &why), CF_ERR_INVALID);
    assert_non_null(strstr(why.text, "not both"));
    assert_null(fleet);
    cf_curve_keypair_wipe(&got);
    cf_curve_keypair_wipe(&kps[0]);
    cf_curve_keypair_wipe(&kps[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),          cmocka_unit_test(test_keypairs),
        cmocka_unit_test(test_bad_config),     cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
