/*  test_api_fleet - the fleet API end to end: two cf-server processes on one redis-server,
    driven with curl: SSL configuration, servers, access during migration and the migration
    switch, admission control (test_api_fleet_agents: check-ins, agents and their counts)  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_db_audit.h"
#include "cf_db_ssl.h"
#include "cf_itest.h"
#include "cf_itest_fleet.h"
#include "cf_itest_server.h"
#include "cf_mem.h"

static cf_itest_fleet_t *const s = &cf_itest_fleet;

static int s_setup(void **state)
{
    (void) state;
    return cf_itest_fleet_setup("test_api_fleet");
}

/* ---- cases ------------------------------------------------------------------------------ */

static void test_usage(void **state)
{
    (void) state;
    char body[CF_ITEST_FLEET_BODY];
    /* the configuration --init wrote, seen through the server that did not write it */
    assert_int_equal(cf_itest_fleet_get(&s->b, "/api/v1/ssl", body), 200);
    cf_itest_fleet_is(body, "enabled", "true");
    cf_itest_fleet_is(body, "allow_plain", "true");
    cf_itest_fleet_is(body, "min_tls", "1.2");
    assert_int_equal(cf_itest_fleet_ji(body, "renew_days"), 30);
    assert_true(cf_itest_fleet_ji(body, "migration/total_agents") >= 0);
    /* both servers registered themselves and heartbeat */
    assert_int_equal(cf_itest_fleet_get(&s->a, "/api/v1/servers", body), 200);
    assert_int_equal(cf_itest_fleet_ji(body, "servers/@srv-b/priority"), 20);
    assert_int_equal(cf_itest_fleet_ji(body, "servers/@srv-b/port"), s->b.port);
    cf_itest_fleet_is(body, "servers/@srv-b/online", "true");
    cf_itest_fleet_is(body, "servers/@srv-b/ip_ranges/0", "127.0.0.128/25");
    cf_itest_fleet_is(body, "servers/@srv-a/online", "true");
    /* an agent checks in with its certificate */
    assert_int_equal(cf_itest_fleet_checkin(&s->a, &s->agent1,
                                            "{\"id\":\"agent-1\",\"version\":\"0.1.0\"}",
                                            "127.0.0.7", body),
                     200);
    cf_itest_fleet_is(body, "lock", "secure");
    cf_itest_fleet_is(body, "seen_addr", "127.0.0.7");
    cf_itest_fleet_is(body, "favorite", "null");
    assert_true(cf_itest_fleet_ji(body, "interval") > 0);
    cf_itest_fleet_is(body, "servers/@srv-b/online", "true");
    assert_int_equal(cf_itest_fleet_ji(body, "servers/@srv-a/priority"), 10);
    cf_itest_fleet_is(body, "servers/@srv-a/ip_ranges/0", "127.0.0.0/25");
}

/* The state the console sees is Redis's, so either server shows a change made through the
   other at once. */
static void test_change_through_one_seen_through_other(void **state)
{
    (void) state;
    char body[CF_ITEST_FLEET_BODY];
    assert_int_equal(cf_itest_fleet_admin(&s->a, "PUT", "/api/v1/ssl",
                                          "{\"auto_renew\":true,\"renew_days\":12}", body),
                     200);
    cf_itest_fleet_is(body, "auto_renew", "true"); /* the answer is the new configuration */
    assert_int_equal(cf_itest_fleet_get(&s->b, "/api/v1/ssl", body), 200);
    assert_int_equal(cf_itest_fleet_ji(body, "renew_days"), 12);
    /* a server record added through B, canonical ranges, seen and changed through A */
    assert_int_equal(
        cf_itest_fleet_admin(&s->b, "POST", "/api/v1/servers",
                             "{\"alias\":\"srv-c\",\"port\":7443,\"priority\":5,"
                             "\"ip_ranges\":[\"127.0.0.64-127.0.0.95\",\"127.1.2.3/16\"]}",
                             body),
        201);
    assert_int_equal(cf_itest_fleet_get(&s->a, "/api/v1/servers", body), 200);
    cf_itest_fleet_is(body, "servers/@srv-c/online", "false");
    cf_itest_fleet_is(body, "servers/@srv-c/ip_ranges/0", "127.0.0.64/27");
    cf_itest_fleet_is(body, "servers/@srv-c/ip_ranges/1", "127.1.0.0/16");
    assert_int_equal(
        cf_itest_fleet_admin(&s->a, "PUT", "/api/v1/servers/srv-c", "{\"priority\":-7}", body),
        200);
    assert_int_equal(cf_itest_fleet_get(&s->b, "/api/v1/servers", body), 200);
    assert_int_equal(cf_itest_fleet_ji(body, "servers/@srv-c/priority"), -7);
    assert_int_equal(cf_itest_fleet_admin(&s->b, "DELETE", "/api/v1/servers/srv-c", NULL, body),
                     200);
    assert_int_equal(cf_itest_fleet_get(&s->a, "/api/v1/servers", body), 200);
    assert_false(cf_itest_fleet_has(body, "servers/@srv-c"));
    /* every change is in the audit stream, with who did it */
    cf_db_audit_t *ev = NULL;
    size_t n = 0, seen = 0;
    assert_int_equal(cf_db_audit_read(s->store, 0, NULL, CF_DB_AUDIT_READ_MAX, &ev, &n), CF_OK);
    const char *want[] = {"ssl.update", "server.add", "server.update", "server.remove"};
    for (size_t w = 0; w < 4; w++) {
        for (size_t i = 0; i < n && seen == w; i++)
            seen += strcmp(ev[i].what, want[w]) == 0 && strcmp(ev[i].who, "admin") == 0 &&
                    strcmp(ev[i].result, "ok") == 0;
    }
    cf_mem_free(ev);
    assert_int_equal(seen, 4);
}

/* Bad input gets a clear error and changes nothing. */
static void test_bad_input_changes_nothing(void **state)
{
    (void) state;
    char body[CF_ITEST_FLEET_BODY];
    cf_db_ssl_t before, after;
    assert_int_equal(cf_db_ssl_get(s->store, &before), CF_OK);
    const char *bad[] = {"{\"min_tls\":\"1.4\"}",
                         "{\"renew_days\":0}",
                         "{\"renew_days\":3651}",
                         "{\"allow_plain\":\"no\"}",
                         "{\"alow_plain\":false}",
                         "{}",
                         "{\"enabled\":false,\"renew_days\":\"7\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(cf_itest_fleet_admin(&s->a, "PUT", "/api/v1/ssl", bad[i], body), 400);
        cf_itest_fleet_is(body, "error/code", "invalid_request");
    }
    assert_int_equal(cf_db_ssl_get(s->store, &after), CF_OK);
    assert_int_equal(after.version, before.version);
    const char *srv[] = {"{\"port\":7005}",
                         "{\"alias\":\"Bad Alias\"}",
                         "{\"alias\":\"srv-d\",\"ip_ranges\":[\"127.0.0.300\"]}",
                         "{\"alias\":\"srv-d\",\"ip_ranges\":[\"10.0.0.0/8\",\"10.1.0.0/8\"]}",
                         "{\"alias\":\"srv-d\",\"priority\":1000001}",
                         "{\"alias\":\"srv-d\",\"port\":0}",
                         "{\"alias\":\"srv-d\",\"colour\":1}"};
    for (size_t i = 0; i < sizeof(srv) / sizeof(srv[0]); i++)
        assert_int_equal(cf_itest_fleet_admin(&s->b, "POST", "/api/v1/servers", srv[i], body), 400);
    assert_int_equal(
        cf_itest_fleet_admin(&s->b, "POST", "/api/v1/servers", "{\"alias\":\"srv-a\"}", body), 409);
    cf_itest_fleet_is(body, "error/code", "conflict");
    assert_int_equal(
        cf_itest_fleet_admin(&s->b, "PUT", "/api/v1/servers/srv-zz", "{\"priority\":1}", body),
        404);
    assert_int_equal(
        cf_itest_fleet_admin(&s->b, "PUT", "/api/v1/servers/srv-a", "{\"alias\":\"srv-q\"}", body),
        400);
    assert_int_equal(cf_itest_fleet_get(&s->a, "/api/v1/servers", body), 200);
    assert_false(cf_itest_fleet_has(body, "servers/@srv-d"));
    assert_int_equal(cf_itest_fleet_ji(body, "servers/@srv-a/priority"), 10);
    assert_int_equal(cf_itest_fleet_get(&s->a, "/api/v1/agents?limit=0", body), 400);
    assert_int_equal(cf_itest_fleet_get(&s->a, "/api/v1/agents?lock=green", body), 400);
    assert_int_equal(cf_itest_fleet_get(&s->a, "/api/v1/agents/nobody", body), 404);
    assert_int_equal(cf_itest_fleet_checkin(&s->a, NULL, "{\"version\":\"1\"}", NULL, body), 400);
    assert_int_equal(cf_itest_fleet_checkin(&s->a, NULL, "{\"id\":\"Not An Id\"}", NULL, body),
                     400);
    assert_int_equal(cf_itest_fleet_checkin(&s->a, NULL, "{\"id\":7}", NULL, body), 400);
}

/* While allow-plain is on, a client without a certificate reaches the agent routes only. */
static void test_access_during_migration(void **state)
{
    (void) state;
    char body[CF_ITEST_FLEET_BODY];
    assert_int_equal(
        cf_itest_fleet_call(&s->a, 0, NULL, 0, "GET", "/api/v1/users", NULL, NULL, body), 401);
    assert_int_equal(cf_itest_fleet_call(&s->a, 0, NULL, 0, "GET", "/api/v1/ssl", NULL, NULL, body),
                     401);
    assert_int_equal(cf_itest_fleet_call(&s->b, 1, NULL, 1, "GET", "/api/v1/ssl", NULL, NULL, body),
                     403);
    assert_int_equal(
        cf_itest_fleet_call(&s->b, 1, NULL, 0, "POST", "/api/v1/login",
                            "{\"user\":\"admin\",\"password\":\"" CF_ITEST_FLEET_ADMIN_PASS "\"}",
                            NULL, body),
        403);
    /* an agent certificate never reaches an admin route, token or not */
    assert_int_equal(cf_itest_fleet_call(&s->a, 0, &s->agent1, 1, "PUT", "/api/v1/ssl",
                                         "{\"renew_days\":9}", NULL, body),
                     403);
    assert_int_equal(
        cf_itest_fleet_call(&s->a, 0, &s->agent1, 1, "GET", "/api/v1/agents", NULL, NULL, body),
        403);
    /* a console certificate is not an agent's */
    assert_int_equal(cf_itest_fleet_checkin(&s->a, &s->console, "{\"id\":\"agent-1\"}", NULL, body),
                     403);
    assert_int_equal(cf_itest_fleet_checkin(&s->a, NULL, "{\"id\":\"agent-3\"}", NULL, body), 200);
}

/* The seed's migration switch: allow-plain off through one server closes both servers'
   plain listeners and refuses handshakes without a certificate, with no restart, while
   valid certificates keep working; and on again reopens them. */
static void test_migration_switch(void **state)
{
    (void) state;
    char body[CF_ITEST_FLEET_BODY];
    pid_t pa = s->a.pid, pb = s->b.pid;
    assert_int_equal(cf_itest_fleet_checkin(&s->a, NULL, "{\"id\":\"agent-3\"}", NULL, body), 200);
    assert_int_equal(
        cf_itest_fleet_admin(&s->b, "PUT", "/api/v1/ssl", "{\"allow_plain\":false}", body), 200);
    assert_non_null(strstr(body, "\"allow_plain\":false"));
    assert_true(cf_test_wait_until(cf_itest_fleet_port_closed, &s->a.plain_port, 10000));
    assert_true(cf_test_wait_until(cf_itest_fleet_port_closed, &s->b.plain_port, 10000));
    cf_itest_fleet_try_t ta = {&s->a, NULL, 0}, tb = {&s->b, NULL, 0};
    assert_true(cf_test_wait_until(cf_itest_fleet_try, &ta, 10000));
    assert_true(cf_test_wait_until(cf_itest_fleet_try, &tb, 10000));
    /* valid certificates still work, on both */
    assert_int_equal(cf_itest_fleet_checkin(&s->a, &s->agent1, "{}", NULL, body), 200);
    cf_itest_fleet_is(body, "lock", "secure");
    assert_int_equal(cf_itest_fleet_checkin(&s->b, &s->new2, "{}", NULL, body), 200);
    assert_int_equal(cf_itest_fleet_get(&s->a, "/api/v1/ssl", body), 200);
    assert_non_null(strstr(body, "\"allow_plain\":false"));
    /* an expired certificate is still refused */
    assert_int_equal(cf_itest_fleet_checkin(&s->b, &s->expired, "{}", NULL, body), 0);
    /* the same processes: no restart */
    assert_false(cf_itest_exited(pa));
    assert_false(cf_itest_exited(pb));
    assert_int_equal(s->a.pid, pa);
    /* and back: the window reopens */
    assert_int_equal(
        cf_itest_fleet_admin(&s->a, "PUT", "/api/v1/ssl", "{\"allow_plain\":true}", body), 200);
    assert_int_equal(cf_itest_wait_port("127.0.0.1", s->b.plain_port, 10000), CF_OK);
    ta.want = tb.want = 200;
    assert_true(cf_test_wait_until(cf_itest_fleet_try, &ta, 10000));
    assert_true(cf_test_wait_until(cf_itest_fleet_try, &tb, 10000));
}

/* Admission control: a third server with a bucket of 3 and one check-in a second answers a
   burst with 503 busy and Retry-After, and serves again once the bucket refills. */
static void test_admission_busy(void **state)
{
    (void) state;
    cf_itest_server_t c = {0};
    const char *extra[] = {"--admit-rate", "1", "--admit-burst", "3", NULL};
    cf_itest_fleet_start(&c, "srv-c", "1", "127.0.1.0/24", 0, extra);
    char path[700], id[32], body[CF_ITEST_FLEET_BODY];
    FILE *f = cf_itest_fleet_cfg("burst");
    for (int i = 0; i < 12; i++) {
        snprintf(id, sizeof(id), "adm-%d", i);
        cf_itest_fleet_bulk_line(f, &c, 0, NULL, id, 40 + i);
    }
    fclose(f);
    int ok = 0, busy = 0, after = 0;
    cf_itest_fleet_bulk_run("burst", 12, 12, &ok, &busy, &after);
    assert_true(busy >= 1); /* the bucket holds 3 and refills one a second */
    assert_true(ok >= 3);
    assert_int_equal(ok + busy, 12);
    assert_true(after >= 1);
    /* which ones were refused is up to the scheduler: find one answer that was */
    int seen = 0;
    for (int i = 0; i < 12 && !seen; i++) {
        snprintf(path, sizeof(path), "%s/adm-%d.out", s->dir, i);
        char *text = cf_test_read_file(path, NULL);
        seen = strstr(text, "\"code\":\"busy\"") != NULL;
        free(text);
    }
    assert_true(seen);
    cf_itest_fleet_try_t again = {&c, NULL, 200};
    assert_true(cf_test_wait_until(cf_itest_fleet_try, &again, 10000));
    assert_int_equal(cf_itest_fleet_get(&c, "/api/v1/ssl", body),
                     200); /* only check-ins are metered */
    cf_itest_server_stop(&c, SIGTERM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_change_through_one_seen_through_other),
        cmocka_unit_test(test_bad_input_changes_nothing),
        cmocka_unit_test(test_access_during_migration),
        cmocka_unit_test(test_migration_switch),
        cmocka_unit_test(test_admission_busy),
    };
    return cmocka_run_group_tests(tests, s_setup, cf_itest_fleet_teardown);
}
