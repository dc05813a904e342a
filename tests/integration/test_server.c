/*  test_server - cf-server's start-up on Redis: --init, joining, refusals, the renewer  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cf_db_cert.h"
#include "cf_db_ssl.h"
#include "cf_itest.h"
#include "cf_itest_server.h"
#include "cf_mem.h"
#include "cf_seal.h"

static char s_dir[512];

static const char *s_init[] = {"--init", "--admin-password-file", NULL, NULL};
static char s_admin[600];

static int s_setup(void **state)
{
    (void) state;
    cf_test_tmpdir("test_server", s_dir, sizeof(s_dir));
    snprintf(s_admin, sizeof(s_admin), "%s/admin.pass", s_dir);
    s_init[2] = s_admin;
    return cf_test_sh("cd '%s' && umask 077 && echo 'correct horse battery' >admin.pass", s_dir);
}

/* A fresh directory per case, each with its own secret and out/. */
static const char *s_case(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", s_dir, name);
    if (cf_test_sh("rm -rf '%s' && mkdir -p '%s'", buf, buf) != 0)
        fail_msg("cannot make %s", buf);
    return buf;
}

static void test_usage(void **state)
{
    (void) state;
    char dir[600];
    s_case("usage", dir, sizeof(dir));
    cf_itest_redis_t r = {0};
    assert_int_equal(cf_itest_redis_start(&r, NULL), CF_OK);
    cf_itest_server_t srv = {0};
    assert_int_equal(cf_itest_server_start(&srv, dir, r.port, "srv1", s_init), CF_OK);
    /* the first console's files, mode 0600 where they hold secrets */
    struct stat st;
    char path[700];
    snprintf(path, sizeof(path), "%s/out/console.p12", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 077, 0);
    snprintf(path, sizeof(path), "%s/secret", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 077, 0);
    /* the independent peer verifies the server against the CA it wrote */
    assert_int_equal(cf_test_sh("echo | openssl s_client -connect 127.0.0.1:%d -CAfile "
                                "'%s/out/ca.pem' -verify_return_error -verify_ip 127.0.0.1 "
                                "2>&1 | grep -q 'Verify return code: 0'",
                                srv.port, dir),
                     0);
    /* the console PKCS#12 opens with the generated password */
    assert_int_equal(cf_test_sh("cd '%s/out' && openssl pkcs12 -in console.p12 -passin "
                                "file:p12.pass -noout",
                                dir),
                     0);
    /* Prometheus text over TLS: this process's counters and the fleet's gauges */
    assert_int_equal(cf_test_sh("curl -sf --cacert '%s/out/ca.pem' https://127.0.0.1:%d/metrics "
                                ">'%s/metrics.txt' && grep -q 'cf_agents{lock=\"secure\"} 0' "
                                "'%s/metrics.txt' && grep -q "
                                "'cf_certificates{component=\"console\",state=\"current\"} 1' "
                                "'%s/metrics.txt' && grep -q 'cf_metrics_redis_up 1' "
                                "'%s/metrics.txt' && curl -sf --cacert '%s/out/ca.pem' "
                                "https://127.0.0.1:%d/metrics | grep -Eq "
                                "'^cf_server_requests_total.* [1-9]'",
                                dir, srv.port, dir, dir, dir, dir, dir, srv.port),
                     0);
    /* defaults after --init: SSL on, allow-plain on, so the plain listener is open */
    assert_int_equal(cf_itest_wait_port("127.0.0.1", srv.plain_port, 5000), CF_OK);
    assert_true(cf_itest_server_log_has(&srv, "allow_plain=1"));
    cf_itest_server_stop(&srv, SIGTERM);
    cf_itest_redis_stop(&r);
}

static void test_join_and_refusals(void **state)
{
    (void) state;
    char dir[600];
    s_case("join", dir, sizeof(dir));
    cf_itest_redis_t r = {0}, empty = {0};
    assert_int_equal(cf_itest_redis_start(&r, NULL), CF_OK);
    assert_int_equal(cf_itest_redis_start(&empty, NULL), CF_OK);
    cf_itest_server_t s1 = {0}, s2 = {0}, bad = {0};
    /* no deployment, no --init: a clear refusal, and nothing written */
    assert_int_equal(cf_test_sh("cd '%s' && umask 077 && printf 'certfleet-secret-v1 k1 %%s\\n' "
                                "$(head -c 32 /dev/urandom | base64) >secret",
                                dir),
                     0);
    assert_int_equal(cf_itest_server_run(&bad, dir, empty.port, "srvx", NULL), 1);
    assert_true(cf_itest_server_log_has(&bad, "holds no certfleet deployment"));
    assert_true(cf_itest_redis_reply_has(empty.port, "0", "DBSIZE"));
    /* --init with that secret, then a second server joins with its own certificate */
    assert_int_equal(cf_itest_server_start(&s1, dir, r.port, "srv1", s_init), CF_OK);
    assert_int_equal(cf_itest_server_start(&s2, dir, r.port, "srv2", NULL), CF_OK);
    assert_true(cf_itest_redis_reply_has(r.port, "2", "SCARD cf:certs:server"));
    assert_true(cf_itest_redis_reply_has(r.port, "1", "SCARD cf:certs:console"));
    assert_true(cf_itest_redis_reply_has(r.port, "2", "SCARD cf:servers"));
    assert_true(cf_itest_server_log_has(&s2, "server record created"));
    /* --init again on a deployment: refused */
    assert_int_equal(cf_itest_server_run(&bad, dir, r.port, "srv3", s_init), 1);
    assert_true(cf_itest_server_log_has(&bad, "already holds a certfleet deployment"));
    /* another secret under the same key id: refused, nothing changed */
    assert_int_equal(cf_test_sh("cd '%s' && mv secret secret.good && umask 077 && printf "
                                "'certfleet-secret-v1 k1 %%s\\n' $(head -c 32 /dev/urandom | "
                                "base64) >secret",
                                dir),
                     0);
    assert_int_equal(cf_itest_server_run(&bad, dir, r.port, "srv4", NULL), 1);
    assert_true(cf_itest_server_log_has(&bad, "does not open this deployment"));
    assert_true(cf_itest_redis_reply_has(r.port, "2", "SCARD cf:servers"));
    assert_int_equal(cf_test_sh("cd '%s' && mv secret.good secret", dir), 0);
    cf_itest_server_stop(&s2, SIGTERM);
    cf_itest_server_stop(&s1, SIGTERM);
    cf_itest_redis_stop(&empty);
    cf_itest_redis_stop(&r);
}

static void test_two_inits(void **state)
{
    (void) state;
    char dir[600];
    s_case("twoinit", dir, sizeof(dir));
    cf_itest_redis_t r = {0};
    assert_int_equal(cf_itest_redis_start(&r, NULL), CF_OK);
    assert_int_equal(cf_test_sh("cd '%s' && umask 077 && printf 'certfleet-secret-v1 k1 %%s\\n' "
                                "$(head -c 32 /dev/urandom | base64) >secret",
                                dir),
                     0);
    /* both start at once: exactly one creates the deployment, the other says so */
    cf_itest_server_t a = {0}, b = {0};
    cf_err_t ra = cf_itest_server_start(&a, dir, r.port, "srva", s_init);
    cf_err_t rb = cf_itest_server_start(&b, dir, r.port, "srvb", s_init);
    (void) ra;
    (void) rb;
    int a_up = a.pid != 0, b_up = b.pid != 0;
    /* they raced for the lock; the loser either saw the lock or the finished deployment */
    assert_int_equal(a_up + b_up, 1);
    cf_itest_server_t *loser = a_up ? &b : &a;
    assert_true(cf_itest_server_log_has(loser, "another cf-server --init is running") ||
                cf_itest_server_log_has(loser, "already holds a certfleet deployment"));
    assert_true(cf_itest_redis_reply_has(r.port, "1", "EXISTS cf:ca"));
    cf_itest_server_stop(&a, SIGTERM);
    cf_itest_server_stop(&b, SIGTERM);
    cf_itest_redis_stop(&r);
}

typedef struct {
    int port;         /* Redis */
    const char *want; /* lease holder prefix ("srv2/") */
} s_lease_t;

static int s_lease_is(void *arg)
{
    s_lease_t *l = arg;
    return cf_itest_redis_reply_has(l->port, l->want, "GET cf:lease:renew");
}

static int s_console_renewed(void *arg)
{
    return cf_itest_server_log_has(arg, "cert=console:console");
}

/* Kill the lease holder while renewals are due: the other server takes the lease and
   renews. Certificates live 30 s, so renewal falls due after about 18-20 s. */
static void test_renewal_lease_failover(void **state)
{
    (void) state;
    char dir[600];
    s_case("renew", dir, sizeof(dir));
    cf_itest_redis_t r = {0};
    assert_int_equal(cf_itest_redis_start(&r, NULL), CF_OK);
    const char *fast[] = {"--init", "--admin-password-file", NULL, "--cert-seconds",
                          "30",     "--renew-check",         "1s", NULL};
    fast[2] = s_admin;
    static const char *const joiner[] = {"--renew-check", "1s", NULL};
    cf_itest_server_t s1 = {0}, s2 = {0};
    assert_int_equal(cf_itest_server_start(&s1, dir, r.port, "srv1", fast), CF_OK);
    /* auto-renew on: the renewer only acts when the operator asked for it */
    assert_true(cf_itest_redis_reply_has(r.port, NULL, "HSET cf:ssl auto_renew 1"));
    s_lease_t lease = {r.port, "srv1/"};
    assert_true(cf_test_wait_until(s_lease_is, &lease, 10000));
    assert_int_equal(cf_itest_server_start(&s2, dir, r.port, "srv2", joiner), CF_OK);
    assert_true(cf_itest_redis_reply_has(r.port, "0", "HLEN cf:archive")); /* nothing due yet */
    cf_itest_server_stop(&s1, SIGKILL); /* a crash: no clean release of the lease */
    lease.want = "srv2/";
    assert_true(cf_test_wait_until(s_lease_is, &lease, 15000));
    assert_true(cf_test_wait_until(s_console_renewed, &s2, 40000));
    assert_false(cf_itest_redis_reply_has(r.port, "0", "HLEN cf:archive")); /* old ones kept */
    assert_true(cf_itest_server_log_wait(&s2, "certificate renewed", 10000));
    assert_int_equal(cf_test_sh("redis-cli -p %d XREVRANGE cf:audit + - COUNT 5 | grep -q "
                                "cert.renew",
                                r.port),
                     0);
    cf_itest_server_stop(&s2, SIGTERM);
    cf_itest_redis_stop(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_join_and_refusals),
        cmocka_unit_test(test_two_inits),
        cmocka_unit_test(test_renewal_lease_failover),
    };
    return cmocka_run_group_tests(tests, s_setup, NULL);
}
