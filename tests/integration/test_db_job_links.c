/*  test_db_job_links - cf_db_job_agent_links against a real redis-server: a page of agents'
    protocol levels and brokers in one round trip, each agent with its own answer  */
#include "cf_test.h"

#include <signal.h>
#include <string.h>

#include "cf_db_job.h"
#include "cf_itest.h"
#include "cf_itest_job.h"

CF_ITEST_REDIS_PER_FILE()

/* Usage: what cf_db_job_agent_link answers one by one, for a page at once. */
static void test_usage(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_itest_job_agents(store, "a", 0, 3, 0);
    unsigned char broker[CF_CURVE_KEY_LEN];
    for (size_t i = 0; i < sizeof(broker); i++)
        broker[i] = (unsigned char) (0x40 + i);
    assert_int_equal(cf_db_job_set_broker(store, "a1", broker), CF_OK);
    size_t changed = 0;
    assert_int_equal(cf_db_job_upgrade(store, "a2", 3, 2000, &changed), CF_OK);
    const char *agents[] = {"a0", "a1", "a2", "ghost"};
    cf_db_job_link_t out[4];
    assert_int_equal(cf_db_job_agent_links(store, agents, 4, out), CF_OK);
    for (size_t i = 0; i < 4; i++) {
        unsigned proto = 0;
        unsigned char one[CF_CURVE_KEY_LEN];
        int has = -1;
        cf_err_t rc = cf_db_job_agent_link(store, agents[i], &proto, one, &has);
        assert_int_equal(out[i].rc, rc);
        if (rc != CF_OK)
            continue;
        assert_int_equal(out[i].proto, proto);
        assert_int_equal(out[i].has_broker, has);
        assert_memory_equal(out[i].broker, one, sizeof(one));
    }
    assert_int_equal(out[1].has_broker, 1);
    assert_memory_equal(out[1].broker, broker, sizeof(broker));
    assert_int_equal(out[2].proto, 3);
    assert_int_equal(out[3].rc, CF_ERR_NOTFOUND);
    cf_store_destroy(&store);
}

/* One damaged record spoils only its own answer. */
static void test_damage_is_per_agent(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_itest_job_agents(store, "a", 0, 3, 0);
    assert_int_equal(cf_store_cmd(store, NULL, "HSET cf:agent:{a1} broker xyz"), CF_OK);
    assert_int_equal(cf_store_cmd(store, NULL, "HSET cf:agent:{a2} proto 999"), CF_OK);
    const char *agents[] = {"a0", "a1", "a2"};
    cf_db_job_link_t out[3];
    assert_int_equal(cf_db_job_agent_links(store, agents, 3, out), CF_OK);
    assert_int_equal(out[0].rc, CF_OK);
    assert_int_equal(out[1].rc, CF_ERR_CORRUPT);
    assert_int_equal(out[1].has_broker, 0);
    assert_int_equal(out[2].rc, CF_ERR_CORRUPT);
    cf_store_destroy(&store);
}

/* Refusals: bad arguments and ids, and a Redis that is gone. */
static void test_refusals(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    const char *agents[] = {"a0", "NOT AN ID"};
    cf_db_job_link_t out[2];
    assert_int_equal(cf_db_job_agent_links(NULL, agents, 1, out), CF_ERR_INVALID);
    assert_int_equal(cf_db_job_agent_links(store, NULL, 1, out), CF_ERR_INVALID);
    assert_int_equal(cf_db_job_agent_links(store, agents, 1, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_db_job_agent_links(store, agents, 0, out), CF_ERR_INVALID);
    assert_int_equal(cf_db_job_agent_links(store, agents, CF_DB_JOB_LINKS_MAX + 1, out),
                     CF_ERR_INVALID);
    assert_int_equal(cf_db_job_agent_links(store, agents, 2, out), CF_ERR_INVALID);
    cf_store_destroy(&store);
    store = cf_itest_store_at(cf_itest_free_port(), NULL); /* nobody listens there */
    assert_int_not_equal(cf_db_job_agent_links(store, agents, 1, out), CF_OK);
    cf_store_destroy(&store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_damage_is_per_agent),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
