/*  test_db_enroll - cf_db_enroll (tokens, enrollment fields of agents) against redis-server  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cf_ca.h"
#include "cf_db_agent.h"
#include "cf_db_enroll.h"
#include "cf_issue.h"
#include "cf_itest.h"
#include "cf_mem.h"

#define S_NOW 1800000000LL /* a fixed "now" for stored times */

static cf_itest_redis_t s_redis; /* one server for the file; each test flushes it */

static int s_setup(void **state)
{
    (void) state;
    signal(SIGPIPE, SIG_IGN);
    return cf_itest_redis_start(&s_redis, NULL) == CF_OK ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void) state;
    cf_itest_redis_stop(&s_redis);
    return 0;
}

static cf_store_t *s_fresh(void)
{
    cf_store_t *store = cf_itest_store_at(s_redis.port, NULL);
    assert_int_equal(cf_store_cmd(store, NULL, "FLUSHALL"), CF_OK);
    return store;
}

/* Create agent id as a check-in without a certificate would. */
static void s_agent(cf_store_t *store, const char *id)
{
    cf_db_checkin_t in = {
        id, CF_DB_LOCK_INSECURE, S_NOW, "127.0.0.9", "0.1.0", NULL, NULL, 0, "srv1", 0};
    assert_int_equal(cf_db_agent_checkin(store, &in, NULL), CF_OK);
}

static void test_usage(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    char token[CF_DB_ENROLL_TOKEN + 1];
    int64_t expires = 0, left = -1;
    /* an admin makes a token for two agents, valid a day; it is shown once */
    assert_int_equal(cf_db_enroll_token_create(store, 2, 86400, S_NOW, "admin", token, &expires),
                     CF_OK);
    assert_int_equal(strlen(token), CF_DB_ENROLL_TOKEN);
    assert_int_equal(expires, S_NOW + 86400);
    /* two agents enroll with it; the third is refused */
    assert_int_equal(cf_db_enroll_token_use(store, token, S_NOW + 1, &left), CF_OK);
    assert_int_equal(left, 1);
    assert_int_equal(cf_db_enroll_token_use(store, token, S_NOW + 2, &left), CF_OK);
    assert_int_equal(left, 0);
    assert_int_equal(cf_db_enroll_token_use(store, token, S_NOW + 3, &left), CF_ERR_STATE);
    cf_db_token_t t;
    assert_int_equal(cf_db_enroll_token_get(store, token, &t), CF_OK);
    assert_int_equal(t.uses, 0);
    assert_int_equal(t.created, S_NOW);
    assert_string_equal(t.by, "admin");
    cf_store_destroy(&store);
}

static void test_token_stored_as_digest(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    char token[CF_DB_ENROLL_TOKEN + 1], digest[CF_AUTH_DIGEST_LEN + 1], key[128];
    assert_int_equal(cf_db_enroll_token_create(store, 5, 3600, S_NOW, "ops", token, NULL), CF_OK);
    assert_int_equal(cf_auth_token_digest(token, digest), CF_OK);
    snprintf(key, sizeof(key), "cf:enroll:%s", digest);
    /* the key is the digest, EXPIREAT is set, and the token text is nowhere in Redis */
    assert_true(cf_itest_redis_reply_has(s_redis.port, "5", "HGET %s uses", key));
    assert_true(cf_itest_redis_reply_has(s_redis.port, "1800003600", "EXPIRETIME %s", key));
    assert_false(cf_itest_redis_reply_has(s_redis.port, token, "HGET %s by", key));
    assert_true(cf_itest_redis_reply_has(s_redis.port, "1", "DBSIZE"));
    cf_store_destroy(&store);
}

static void test_token_refusals(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    char token[CF_DB_ENROLL_TOKEN + 1], other[CF_DB_ENROLL_TOKEN + 1];
    assert_int_equal(cf_db_enroll_token_create(store, 3, 100, S_NOW, "admin", token, NULL), CF_OK);
    /* past its expiry (the key is still there: Redis deletes it at real time) */
    assert_int_equal(cf_db_enroll_token_use(store, token, S_NOW + 100, NULL), CF_ERR_EXPIRED);
    assert_int_equal(cf_db_enroll_token_use(store, token, S_NOW + 99, NULL), CF_OK);
    /* a well-formed token nobody made, malformed text, NULL */
    assert_int_equal(cf_auth_token_new(other), CF_OK);
    assert_int_equal(cf_db_enroll_token_use(store, other, S_NOW, NULL), CF_ERR_NOTFOUND);
    assert_int_equal(cf_db_enroll_token_use(store, "short", S_NOW, NULL), CF_ERR_NOTFOUND);
    assert_int_equal(cf_db_enroll_token_use(store, NULL, S_NOW, NULL), CF_ERR_NOTFOUND);
    /* withdrawn */
    assert_int_equal(cf_db_enroll_token_revoke(store, token), CF_OK);
    assert_int_equal(cf_db_enroll_token_use(store, token, S_NOW, NULL), CF_ERR_NOTFOUND);
    assert_int_equal(cf_db_enroll_token_revoke(store, token), CF_ERR_NOTFOUND);
    /* bad arguments change nothing */
    assert_int_equal(cf_db_enroll_token_create(store, 0, 100, S_NOW, "admin", token, NULL),
                     CF_ERR_INVALID);
    assert_int_equal(
        cf_db_enroll_token_create(store, CF_DB_ENROLL_USES_MAX + 1, 100, S_NOW, "a", token, NULL),
        CF_ERR_INVALID);
    assert_int_equal(cf_db_enroll_token_create(store, 1, 0, S_NOW, "admin", token, NULL),
                     CF_ERR_INVALID);
    assert_int_equal(
        cf_db_enroll_token_create(store, 1, CF_DB_ENROLL_TTL_MAX + 1, S_NOW, "a", token, NULL),
        CF_ERR_INVALID);
    assert_int_equal(cf_db_enroll_token_create(store, 1, 100, S_NOW, "Bad User", token, NULL),
                     CF_ERR_INVALID);
    assert_string_equal(token, "");
    assert_true(cf_itest_redis_reply_has(s_redis.port, "0", "DBSIZE"));
    /* a damaged record is reported, not believed */
    assert_int_equal(cf_db_enroll_token_create(store, 1, 100, S_NOW, "admin", token, NULL), CF_OK);
    char digest[CF_AUTH_DIGEST_LEN + 1];
    assert_int_equal(cf_auth_token_digest(token, digest), CF_OK);
    assert_int_equal(cf_store_cmd(store, NULL, "HSET cf:enroll:%s uses many", digest), CF_OK);
    assert_int_equal(cf_db_enroll_token_use(store, token, S_NOW, NULL), CF_ERR_CORRUPT);
    assert_int_equal(cf_db_enroll_token_get(store, token, &(cf_db_token_t){0}), CF_ERR_CORRUPT);
    cf_store_destroy(&store);
}

/* The last use is spent once even when many clients race for it. */
static void test_token_last_use_once(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_store_t *other = cf_itest_store_at(s_redis.port, NULL);
    char token[CF_DB_ENROLL_TOKEN + 1];
    assert_int_equal(cf_db_enroll_token_create(store, 3, 100, S_NOW, "admin", token, NULL), CF_OK);
    int ok = 0;
    for (int i = 0; i < 10; i++)
        ok += cf_db_enroll_token_use(i % 2 ? store : other, token, S_NOW, NULL) == CF_OK;
    assert_int_equal(ok, 3);
    cf_store_destroy(&other);
    cf_store_destroy(&store);
}

static void test_agent_fields(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_db_enrolled_t e;
    assert_int_equal(cf_db_enroll_get(store, "agent-1", &e), CF_ERR_NOTFOUND);
    assert_int_equal(cf_db_enroll_record(store, "agent-1", S_NOW, NULL), CF_ERR_NOTFOUND);
    assert_int_equal(cf_db_enroll_mark_revoked(store, "agent-1", S_NOW), CF_ERR_NOTFOUND);
    assert_true(cf_itest_redis_reply_has(s_redis.port, "0", "DBSIZE")); /* nothing created */
    s_agent(store, "agent-1");
    assert_int_equal(cf_db_enroll_get(store, "agent-1", &e), CF_OK);
    assert_int_equal(e.enrolled, 0);
    assert_null(e.cert_pem);
    /* push mode: only the time */
    assert_int_equal(cf_db_enroll_record(store, "agent-1", S_NOW + 1, NULL), CF_OK);
    assert_int_equal(cf_db_enroll_get(store, "agent-1", &e), CF_OK);
    assert_int_equal(e.enrolled, S_NOW + 1);
    assert_string_equal(e.serial, "");
    /* CSR mode: the certificate issued */
    cf_ca_t *ca = NULL;
    cf_cert_t *cert = NULL;
    cf_key_t *key = NULL;
    assert_int_equal(cf_ca_create(NULL, &ca), CF_OK);
    cf_issue_t req = {.component = CF_COMPONENT_AGENT, .name = "agent-1"};
    assert_int_equal(cf_ca_issue(ca, &req, &cert, &key), CF_OK);
    assert_int_equal(cf_db_enroll_record(store, "agent-1", S_NOW + 2, cert), CF_OK);
    assert_int_equal(cf_db_enroll_get(store, "agent-1", &e), CF_OK);
    assert_string_equal(e.serial, cf_cert_serial(cert));
    assert_string_equal(e.fp, cf_cert_fingerprint(cert));
    assert_int_equal(e.not_after, (int64_t) cf_cert_not_after(cert));
    assert_non_null(strstr(e.cert_pem, "BEGIN CERTIFICATE"));
    assert_int_equal(e.revoked, 0);
    cf_db_enrolled_clear(&e);
    /* the PEM has its own key: the record stays a compact listpack (the fleet's memory) */
    redisReply *enc = NULL;
    assert_int_equal(cf_store_cmd(store, &enc, "OBJECT ENCODING cf:agent:{agent-1}"), CF_OK);
    assert_string_equal(enc->str, "listpack");
    freeReplyObject(enc);
    assert_int_equal(cf_store_cmd(store, &enc, "GET cf:agent:{agent-1}:cert"), CF_OK);
    assert_true(enc->len > 100 && enc->len < 600 && enc->str[0] == 0x30); /* DER, not PEM */
    freeReplyObject(enc);
    /* a check-in leaves the enrollment fields alone; the agent reads as before */
    s_agent(store, "agent-1");
    cf_db_agent_t a;
    assert_int_equal(cf_db_agent_get(store, "agent-1", &a), CF_OK);
    assert_int_equal(cf_db_enroll_mark_revoked(store, "agent-1", S_NOW + 3), CF_OK);
    assert_int_equal(cf_db_enroll_get(store, "agent-1", &e), CF_OK);
    assert_int_equal(e.revoked, S_NOW + 3);
    assert_string_equal(e.serial, cf_cert_serial(cert));
    cf_db_enrolled_clear(&e);
    /* a revoked agent's check-ins change nothing; the agent object shows the marker */
    cf_db_checkin_t late = {
        "agent-1", CF_DB_LOCK_INSECURE, S_NOW + 9, "127.0.0.8", NULL, NULL, NULL, 0, "srv2", 0};
    assert_int_equal(cf_db_agent_checkin(store, &late, NULL), CF_ERR_REVOKED);
    assert_int_equal(cf_db_agent_expired(store, "agent-1", S_NOW + 9, "127.0.0.8",
                                         cf_cert_fingerprint(cert), cf_cert_serial(cert), 1),
                     CF_ERR_REVOKED);
    assert_int_equal(cf_db_agent_get(store, "agent-1", &a), CF_OK);
    assert_int_equal(a.last_seen, S_NOW);
    assert_string_equal(a.last_addr, "127.0.0.9");
    assert_int_equal(a.revoked, S_NOW + 3);
    /* decommission takes the fields with the record */
    assert_int_equal(cf_db_agent_remove(store, "agent-1"), CF_OK);
    assert_int_equal(cf_db_enroll_get(store, "agent-1", &e), CF_ERR_NOTFOUND);
    assert_int_equal(cf_db_enroll_get(store, "Agent!", &e), CF_ERR_INVALID);
    assert_int_equal(cf_db_enroll_record(store, "Agent!", S_NOW, NULL), CF_ERR_INVALID);
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
    cf_ca_destroy(&ca);
    cf_store_destroy(&store);
}

static void test_agent_fields_damaged(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    s_agent(store, "agent-2");
    cf_db_enrolled_t e;
    assert_int_equal(cf_store_cmd(store, NULL, "HSET cf:agent:{agent-2} enroll_serial zz"), CF_OK);
    assert_int_equal(cf_db_enroll_get(store, "agent-2", &e), CF_ERR_CORRUPT);
    assert_null(e.cert_pem);
    assert_int_equal(
        cf_store_cmd(store, NULL, "HSET cf:agent:{agent-2} enroll_serial 0a enroll_fp %064d", 0),
        CF_OK);
    assert_int_equal(cf_db_enroll_get(store, "agent-2", &e), CF_OK);
    assert_int_equal(cf_store_cmd(store, NULL, "HSET cf:agent:{agent-2} revoked -5"), CF_OK);
    assert_int_equal(cf_db_enroll_get(store, "agent-2", &e), CF_ERR_CORRUPT);
    cf_store_destroy(&store);
}

/* Agent id's record as written before the :cert key: the fields and the PEM in the hash. */
static void s_legacy_record(cf_store_t *store, const char *id, const cf_cert_t *cert)
{
    char *pem = NULL;
    size_t len = 0;
    assert_int_equal(cf_cert_to_pem(cert, &pem, &len), CF_OK);
    assert_int_equal(cf_store_cmd(store, NULL,
                                  "HSET cf:agent:{%s} enroll_fp %s enroll_serial %s "
                                  "enroll_not_after %lld enroll_cert %s",
                                  id, cf_cert_fingerprint(cert), cf_cert_serial(cert),
                                  (long long) cf_cert_not_after(cert), pem),
                     CF_OK);
    cf_mem_free(pem);
}

/* The layout: the certificate's fingerprint, serial and expiry are read from its :cert key,
   never kept twice in the record; a record written before (the three fields and the PEM in
   the hash) still reads, and loses them at the next write; a replacement archives the old
   certificate without its body. */
static void test_agent_layout(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    s_agent(store, "agent-4");
    cf_ca_t *ca = NULL;
    cf_cert_t *c1 = NULL, *c2 = NULL;
    cf_key_t *key = NULL;
    assert_int_equal(cf_ca_create(NULL, &ca), CF_OK);
    cf_issue_t req = {.component = CF_COMPONENT_AGENT, .name = "agent-4"};
    assert_int_equal(cf_ca_issue(ca, &req, &c1, &key), CF_OK);
    cf_key_destroy(&key);
    assert_int_equal(cf_ca_issue(ca, &req, &c2, &key), CF_OK);
    s_legacy_record(store, "agent-4", c1);
    cf_db_enrolled_t e;
    assert_int_equal(cf_db_enroll_get(store, "agent-4", &e), CF_OK);
    assert_string_equal(e.fp, cf_cert_fingerprint(c1));
    assert_string_equal(e.serial, cf_cert_serial(c1));
    assert_non_null(e.cert_pem);
    cf_db_enrolled_clear(&e);
    /* a replacement drops them, keeps the DER in :cert, archives c1 in the agent form */
    assert_int_equal(cf_db_enroll_replace(store, "agent-4", S_NOW, c2, c1), CF_OK);
    static const char *const gone[] = {"enroll_fp", "enroll_serial", "enroll_not_after",
                                       "enroll_cert"};
    for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
        assert_true(
            cf_itest_redis_reply_has(s_redis.port, "0", "HEXISTS cf:agent:{agent-4} %s", gone[i]));
    assert_true(cf_itest_redis_reply_has(s_redis.port, "a1 agent-4 1800000000 ",
                                         "HGET cf:archive %s", cf_cert_fingerprint(c1)));
    assert_int_equal(cf_db_enroll_get(store, "agent-4", &e), CF_OK);
    assert_string_equal(e.fp, cf_cert_fingerprint(c2));
    assert_string_equal(e.serial, cf_cert_serial(c2));
    assert_int_equal(e.not_after, (int64_t) cf_cert_not_after(c2));
    cf_db_enrolled_clear(&e);
    /* enrollment again: only `enrolled` in the hash, the rest from :cert */
    assert_int_equal(cf_db_enroll_record(store, "agent-4", S_NOW + 5, c1), CF_OK);
    assert_true(
        cf_itest_redis_reply_has(s_redis.port, "0", "HEXISTS cf:agent:{agent-4} enroll_fp"));
    assert_int_equal(cf_db_enroll_get(store, "agent-4", &e), CF_OK);
    assert_int_equal(e.enrolled, S_NOW + 5);
    assert_string_equal(e.fp, cf_cert_fingerprint(c1));
    cf_db_enrolled_clear(&e);
    /* a :cert key that is no certificate is damage, not an empty answer */
    assert_int_equal(cf_store_cmd(store, NULL, "SET cf:agent:{agent-4}:cert garbage"), CF_OK);
    assert_int_equal(cf_db_enroll_get(store, "agent-4", &e), CF_ERR_CORRUPT);
    assert_null(e.cert_pem);
    cf_cert_destroy(&c1);
    cf_cert_destroy(&c2);
    cf_key_destroy(&key);
    cf_ca_destroy(&ca);
    cf_store_destroy(&store);
}

/* Each allocation of a record and a read failing in turn: an error, nothing half done. */
static void test_alloc_failures(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    s_agent(store, "agent-3");
    cf_ca_t *ca = NULL;
    cf_cert_t *cert = NULL;
    cf_key_t *key = NULL;
    assert_int_equal(cf_ca_create(NULL, &ca), CF_OK);
    cf_issue_t req = {.component = CF_COMPONENT_AGENT, .name = "agent-3"};
    assert_int_equal(cf_ca_issue(ca, &req, &cert, &key), CF_OK);
    cf_err_t rc = CF_ERR_NOMEM;
    for (long n = 0; n < 200 && rc != CF_OK; n++) {
        cf_test_alloc_fail_at(n);
        rc = cf_db_enroll_record(store, "agent-3", S_NOW, cert);
        cf_test_alloc_fail_at(-1);
        assert_true(rc == CF_OK || rc == CF_ERR_NOMEM || rc == CF_ERR_IO);
    }
    assert_int_equal(rc, CF_OK);
    cf_db_enrolled_t e;
    rc = CF_ERR_NOMEM;
    for (long n = 0; n < 200 && rc != CF_OK; n++) {
        cf_test_alloc_fail_at(n);
        rc = cf_db_enroll_get(store, "agent-3", &e);
        cf_test_alloc_fail_at(-1);
        if (rc != CF_OK)
            assert_null(e.cert_pem);
    }
    assert_int_equal(rc, CF_OK);
    assert_string_equal(e.serial, cf_cert_serial(cert));
    cf_db_enrolled_clear(&e);
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
    cf_ca_destroy(&ca);
    cf_store_destroy(&store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),          cmocka_unit_test(test_token_stored_as_digest),
        cmocka_unit_test(test_token_refusals), cmocka_unit_test(test_token_last_use_once),
        cmocka_unit_test(test_agent_fields),   cmocka_unit_test(test_agent_fields_damaged),
        cmocka_unit_test(test_agent_layout),   cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
