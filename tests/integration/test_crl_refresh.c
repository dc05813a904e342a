/*  test_crl_refresh - the renewer keeps the CRL fresh with nothing revoked meanwhile: it builds
    a missing one while serials are revoked, rebuilds one whose nextUpdate is near or that
    cannot be read, leaves a fresh one alone, and counts and logs a failed build  */
#include "cf_itest.h"
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "cf_crl.h"
#include "cf_db_crl.h"
#include "cf_itest_server.h"
#include "cf_mem.h"

#define S_DAY    86400
#define S_SERIAL "0a1b2c" /* revoked behind the API's back */

static struct {
    char dir[512];          /* secret, out/ca.pem, admin.pass, srv1.log, curl files */
    cf_itest_redis_t redis; /* the deployment's Redis */
    cf_itest_server_t srv;  /* cf-server --renew-check 1s */
    cf_store_t *store;      /* the test's connection */
} s;

static int s_lease_mine(void *arg)
{
    (void) arg;
    return cf_itest_redis_reply_has(s.redis.port, "srv1/", "GET cf:lease:renew");
}

static int s_setup(void **state)
{
    (void) state;
    signal(SIGPIPE, SIG_IGN);
    cf_test_tmpdir("crl_refresh", s.dir, sizeof(s.dir));
    if (cf_test_sh("cd '%s' && umask 077 && printf %%s 'Admin pass-C9' >admin.pass", s.dir) != 0 ||
        cf_itest_redis_start(&s.redis, NULL) != CF_OK)
        return -1;
    char admin[600];
    snprintf(admin, sizeof(admin), "%s/admin.pass", s.dir);
    const char *const init[] = {"--init", "--admin-password-file", admin, "--renew-check", "1s",
                                NULL};
    if (cf_itest_server_start(&s.srv, s.dir, s.redis.port, "srv1", init) != CF_OK)
        return -1;
    s.store = cf_itest_store_at(s.redis.port, NULL);
    return cf_test_wait_until(s_lease_mine, NULL, 10000) ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void) state;
    cf_store_destroy(&s.store);
    cf_itest_server_stop(&s.srv, SIGTERM);
    int clean = !cf_itest_server_log_has(&s.srv, "Sanitizer");
    cf_itest_redis_stop(&s.redis);
    return clean ? 0 : -1;
}

/* One Redis command on a fresh connection: its integer answer (-100 on any other). */
static long long s_int(const char *cmd)
{
    redisContext *c = redisConnect("127.0.0.1", s.redis.port);
    assert_true(c && !c->err);
    redisReply *r = redisCommand(c, cmd);
    long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -100;
    freeReplyObject(r);
    redisFree(c);
    return v;
}

/* The renewer renews its lease (3 s) every round: once the lease is back under 3 s after
   we stretched it, a round has started since. */
static int s_round_started(void *arg)
{
    (void) arg;
    long long ms = s_int("PTTL cf:lease:renew");
    return ms > 0 && ms <= 3000;
}

/* Wait until a whole renewer round ran after this call: the round that started after the
   first stretch has ended once another one starts. */
static void s_full_round(void)
{
    for (int i = 0; i < 2; i++) {
        assert_int_equal(s_int("PEXPIRE cf:lease:renew 600000"), 1);
        assert_true(cf_test_wait_until(s_round_started, NULL, 10000));
    }
}

static int64_t s_next_update(void)
{
    cf_db_crl_t crl;
    cf_err_t rc = cf_db_crl_dates(s.store, &crl);
    return rc == CF_OK ? crl.next_update : -1;
}

/* Condition: the stored CRL's nextUpdate was moved about CF_CRL_DAYS ahead. */
static int s_fresh(void *arg)
{
    (void) arg;
    return s_next_update() > (int64_t) time(NULL) + (CF_CRL_DAYS - 1) * S_DAY;
}

/* Store the current CRL again with nextUpdate at next. */
static void s_set_next(int64_t next)
{
    cf_db_crl_t crl;
    assert_int_equal(cf_db_crl_get(s.store, &crl), CF_OK);
    assert_int_equal(cf_db_crl_put(s.store, crl.pem, crl.this_update, next, crl.count), CF_OK);
    cf_db_crl_clear(&crl);
}

/* The metric's value on srv1's /metrics page, as text, is want (a grep -E pattern). */
static int s_metric(const char *name, const char *want)
{
    return cf_test_sh("curl -sf --max-time 10 --cacert '%s/out/ca.pem' "
                      "https://127.0.0.1:%d/metrics | grep -Eq '^%s\\{alias=\"srv1\"\\} %s$'",
                      s.dir, s.srv.port, name, want) == 0;
}

static void test_nothing_revoked(void **state)
{
    (void) state;
    s_full_round();
    cf_db_crl_t crl;
    assert_int_equal(cf_db_crl_dates(s.store, &crl), CF_ERR_NOTFOUND); /* none is needed */
    assert_true(s_metric("cf_server_crl_rebuilds_total", "0"));
}

static void test_missing(void **state)
{
    (void) state;
    const char *serials[] = {S_SERIAL};
    assert_int_equal(cf_db_revoke(s.store, serials, 1, NULL), CF_OK);
    time_t before = time(NULL);
    assert_true(cf_test_wait_until(s_fresh, NULL, 10000));
    cf_db_crl_t crl;
    assert_int_equal(cf_db_crl_dates(s.store, &crl), CF_OK);
    assert_int_equal(crl.count, 1);
    assert_true(crl.this_update >= before && crl.this_update <= time(NULL));
    assert_int_equal(crl.next_update, crl.this_update + CF_CRL_DAYS * S_DAY);
    assert_true(cf_itest_server_log_wait(&s.srv, "missing while serials are revoked", 10000));
    /* what GET /crl serves: signed by the CA, listing the serial */
    assert_int_equal(cf_test_sh("cd '%s' && curl -sf --max-time 10 --cacert out/ca.pem -o "
                                "crl.pem https://127.0.0.1:%d/api/v1/crl && openssl crl -in "
                                "crl.pem -CAfile out/ca.pem -noout -text | grep -q 'Serial "
                                "Number: 0A1B2C$'",
                                s.dir, s.srv.port),
                     0);
    assert_true(s_metric("cf_server_crl_rebuilds_total", "1"));
}

static void test_fresh_left_alone(void **state)
{
    (void) state;
    int64_t next = (int64_t) time(NULL) + (CF_CRL_REFRESH_DAYS + 1) * S_DAY;
    s_set_next(next);
    s_full_round();
    assert_int_equal(s_next_update(), next);
    assert_true(s_metric("cf_server_crl_rebuilds_total", "1"));
}

static void test_stale(void **state)
{
    (void) state;
    s_set_next((int64_t) time(NULL) + 3600); /* an hour left */
    assert_true(cf_test_wait_until(s_fresh, NULL, 10000));
    assert_true(cf_itest_server_log_wait(&s.srv, "nextUpdate near", 10000));
    /* one whose dates cannot be read is replaced too */
    assert_int_equal(s_int("HSET cf:crl next_update soon"), 0);
    assert_true(cf_test_wait_until(s_fresh, NULL, 10000));
    assert_true(cf_itest_server_log_wait(&s.srv, "stored CRL unreadable", 10000));
    assert_int_equal(cf_test_sh("cd '%s' && curl -sf --max-time 10 --cacert out/ca.pem -o "
                                "crl.pem https://127.0.0.1:%d/api/v1/crl && openssl crl -in "
                                "crl.pem -CAfile out/ca.pem -noout",
                                s.dir, s.srv.port),
                     0);
    assert_true(s_metric("cf_server_crl_rebuilds_total", "3"));
    assert_true(s_metric("cf_server_crl_failures_total", "0"));
}

static int s_failed(void *arg)
{
    (void) arg;
    return cf_itest_server_log_has(&s.srv, "CRL rebuild failed");
}

static void test_failure_counted(void **state)
{
    (void) state;
    /* without the CA the CRL cannot be signed: logged, counted, retried each round */
    assert_true(cf_itest_redis_reply_has(s.redis.port, "OK", "RENAME cf:ca cf:test:ca-away"));
    assert_int_equal(s_int("EXISTS cf:ca"), 0);
    s_set_next((int64_t) time(NULL) + 3600);
    assert_true(cf_test_wait_until(s_failed, NULL, 10000));
    assert_true(s_metric("cf_server_crl_failures_total", "[1-9][0-9]*"));
    assert_false(s_fresh(NULL));
    assert_int_equal(s_int("RENAMENX cf:test:ca-away cf:ca"), 1);
    assert_true(cf_test_wait_until(s_fresh, NULL, 10000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_revoked),  cmocka_unit_test(test_missing),
        cmocka_unit_test(test_fresh_left_alone), cmocka_unit_test(test_stale),
        cmocka_unit_test(test_failure_counted),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
