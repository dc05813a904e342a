/*  test_api_enroll - enrollment end to end: two cf-server processes on one redis-server,
    agents played by the protocol-level client (cf_itest_enroll, curl): tokens, shared and
    own certificates, CSR and push mode, taken ids, the plain listener, revoke, decommission  */
#include "cf_test.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cf_db_crl.h"
#include "cf_db_curve.h"
#include "cf_db_enroll.h"
#include "cf_db_job.h"
#include "cf_itest_job.h"
#include "cf_issue.h"
#include "cf_itest_enroll.h"
#include "cf_itest_fleet.h"

static cf_itest_fleet_t *const s = &cf_itest_fleet;
static cf_itest_cert_t s_shared; /* the install package's shared agent certificate */

static int s_setup(void **state)
{
    (void) state;
    if (cf_itest_fleet_setup("test_api_enroll") != 0)
        return -1;
    cf_issue_t req = {.component = CF_COMPONENT_AGENT, .shared_agent = 1, .name = "agents"};
    cf_itest_cert_write(s->ca, &req, s->dir, "shared", &s_shared);
    return 0;
}

static int s_teardown(void **state)
{
    cf_itest_cert_free(&s_shared);
    return cf_itest_fleet_teardown(state);
}

/* A token for uses enrollments during ttl seconds, made through srv-a's API. */
static void s_token(int uses, int ttl, char *token)
{
    char body[CF_ITEST_FLEET_BODY], req[64];
    snprintf(req, sizeof(req), "{\"uses\":%d,\"ttl\":%d}", uses, ttl);
    assert_int_equal(cf_itest_fleet_admin(&s->a, "POST", "/api/v1/enroll-tokens", req, body), 201);
    json_t *j = cf_itest_fleet_json(body);
    const char *t = json_string_value(json_object_get(j, "token"));
    assert_non_null(t);
    assert_int_equal(strlen(t), CF_DB_ENROLL_TOKEN);
    assert_int_equal(json_integer_value(json_object_get(j, "uses")), uses);
    assert_true(json_integer_value(json_object_get(j, "expires")) >= (json_int_t) time(NULL));
    snprintf(token, CF_DB_ENROLL_TOKEN + 1, "%s", t);
    json_decref(j);
}

/* 1 when agent id holds a CURVE key (cf_db_curve). */
static int s_has_key(const char *id)
{
    unsigned char pub[CF_CURVE_KEY_LEN];
    return cf_db_curve_get(s->store, CF_ALLOW_AGENT, id, pub) == CF_OK;
}

/* A cf_test_wait_until condition: Redis has dropped the token (char *) arg. */
static int s_token_gone(void *arg)
{
    cf_db_token_t t;
    return cf_db_enroll_token_get(s->store, arg, &t) == CF_ERR_NOTFOUND;
}

/* The message of an error answer contains text. */
static void s_says(const char *body, const char *code, const char *text)
{
    cf_itest_fleet_is(body, "error/code", code);
    json_t *j = cf_itest_fleet_json(body);
    const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    if (!m || !strstr(m, text))
        fail_msg("message \"%s\" does not say \"%s\"", m ? m : "(none)", text);
    json_decref(j);
}

/* The first case is the usage example: a token, a CSR, a certificate that works. */
static void test_token_csr_enroll(void **state)
{
    (void) state;
    char token[CF_DB_ENROLL_TOKEN + 1], body[CF_ITEST_FLEET_BODY];
    s_token(2, 3600, token);
    cf_itest_agent_t a;
    cf_itest_agent_new(&a, "laptop-7");
    cf_itest_enroll_t how = {.srv = &s->a, .token = token, .csr = 1};
    assert_int_equal(cf_itest_enroll(&a, &how, body), 200);
    cf_itest_fleet_is(body, "id", "laptop-7");
    assert_true(cf_itest_fleet_has(body, "servers/@srv-a"));
    assert_true(cf_itest_fleet_has(body, "servers/@srv-b"));
    /* the agent-facing brokers srv-a was given (--agent-broker) */
    cf_itest_fleet_is(body, "brokers/0", CF_ITEST_FLEET_AGENT_BROKER);
    assert_false(cf_itest_fleet_has(body, "brokers/1"));
    /* the certificate verifies against the CA the answer carries, with openssl */
    json_t *j = cf_itest_fleet_json(body);
    const char *ca = json_string_value(json_object_get(j, "ca"));
    char path[700];
    snprintf(path, sizeof(path), "%s/answer-ca.pem", s->dir);
    cf_test_write_file(path, ca, strlen(ca));
    json_decref(j);
    assert_int_equal(cf_test_sh("openssl verify -CAfile '%s' -purpose sslclient '%s' >/dev/null",
                                path, a.cert.pem),
                     0);
    /* registered for the broker; the record exists, insecure until it checks in with it */
    assert_true(s_has_key("laptop-7"));
    assert_int_equal(cf_itest_fleet_get(&s->b, "/api/v1/agents/laptop-7", body), 200);
    cf_itest_fleet_is(body, "lock", "insecure");
    cf_itest_fleet_is(body, "revoked", "null");
    /* a real TLS check-in with the new certificate: secure */
    assert_int_equal(cf_itest_fleet_checkin(&s->b, &a.cert, "{}", NULL, body), 200);
    cf_itest_fleet_is(body, "lock", "secure");
    cf_db_enrolled_t e;
    assert_int_equal(cf_db_enroll_get(s->store, "laptop-7", &e), CF_OK);
    assert_string_equal(e.serial, a.cert.serial);
    cf_db_enrolled_clear(&e);
    cf_itest_agent_free(&a);
}

static void test_token_uses_and_expiry(void **state)
{
    (void) state;
    char token[CF_DB_ENROLL_TOKEN + 1], body[CF_ITEST_FLEET_BODY];
    s_token(1, 3600, token);
    cf_itest_agent_t a, b;
    cf_itest_agent_new(&a, "tok-a");
    cf_itest_agent_new(&b, "tok-b");
    cf_itest_enroll_t how = {.srv = &s->a, .token = token};
    assert_int_equal(cf_itest_enroll(&a, &how, body), 200); /* push mode: no certificate */
    cf_itest_fleet_is(body, "cert", "null");
    how.srv = &s->b;
    assert_int_equal(cf_itest_enroll(&b, &how, body), 401); /* used up, on any server */
    s_says(body, "unauthenticated", "used up");
    assert_false(s_has_key("tok-b"));
    /* no credentials at all; a token nobody made */
    how.token = NULL;
    assert_int_equal(cf_itest_enroll(&b, &how, body), 401);
    how.token = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    assert_int_equal(cf_itest_enroll(&b, &how, body), 401);
    /* past its expiry while Redis still holds it */
    char digest[CF_AUTH_DIGEST_LEN + 1];
    s_token(5, 3600, token);
    assert_int_equal(cf_auth_token_digest(token, digest), CF_OK);
    assert_int_equal(cf_store_cmd(s->store, NULL, "HSET cf:enroll:%s expires %lld", digest,
                                  (long long) time(NULL) - 1),
                     CF_OK);
    how.token = token;
    assert_int_equal(cf_itest_enroll(&b, &how, body), 401);
    s_says(body, "unauthenticated", "expired");
    /* and a short-lived one, once Redis dropped it */
    s_token(5, 1, token);
    assert_true(cf_test_wait_until(s_token_gone, token, 5000));
    assert_int_equal(cf_itest_enroll(&b, &how, body), 401);
    assert_false(s_has_key("tok-b"));
    cf_itest_agent_free(&a);
    cf_itest_agent_free(&b);
}

static void test_certificate_enroll(void **state)
{
    (void) state;
    char body[CF_ITEST_FLEET_BODY];
    /* the install package's shared certificate enrolls any id, CSR or push */
    cf_itest_agent_t a, b;
    cf_itest_agent_new(&a, "pkg-1");
    cf_itest_agent_new(&b, "pkg-2");
    cf_itest_enroll_t how = {.srv = &s->b, .cert = &s_shared, .csr = 1};
    assert_int_equal(cf_itest_enroll(&a, &how, body), 200);
    assert_true(a.has_cert);
    how.csr = 0;
    assert_int_equal(cf_itest_enroll(&b, &how, body), 200);
    assert_false(b.has_cert);
    assert_true(s_has_key("pkg-2"));
    /* an agent's own certificate enrolls that agent only */
    cf_itest_agent_t one;
    cf_itest_agent_new(&one, "agent-1");
    how = (cf_itest_enroll_t){.srv = &s->a, .cert = &s->agent1, .csr = 1};
    assert_int_equal(cf_itest_enroll(&one, &how, body), 200);
    snprintf(one.id, sizeof(one.id), "agent-9");
    assert_int_equal(cf_itest_enroll(&one, &how, body), 403);
    s_says(body, "forbidden", "agent-1");
    /* a console certificate is no agent's */
    how.cert = &s->console;
    assert_int_equal(cf_itest_enroll(&one, &how, body), 403);
    cf_itest_agent_free(&a);
    cf_itest_agent_free(&b);
    cf_itest_agent_free(&one);
}

static void test_csr_refused(void **state)
{
    (void) state;
    char token[CF_DB_ENROLL_TOKEN + 1], body[CF_ITEST_FLEET_BODY];
    s_token(1, 3600, token);
    cf_itest_agent_t a;
    cf_itest_agent_new(&a, "csr-1");
    cf_itest_enroll_t how = {.srv = &s->a, .token = token, .csr = 1, .csr_cn = "csr-2"};
    assert_int_equal(cf_itest_enroll(&a, &how, body), 422);
    s_says(body, "refused", "csr-2");
    /* refused before anything was spent or written: the token still works */
    assert_false(s_has_key("csr-1"));
    how.csr_cn = NULL;
    assert_int_equal(cf_itest_enroll(&a, &how, body), 200);
    /* malformed fields are 400 */
    how = (cf_itest_enroll_t){.srv = &s->a, .cert = &s_shared, .curve = "not-a-key"};
    assert_int_equal(cf_itest_enroll(&a, &how, body), 400);
    s_says(body, "invalid_request", "curve");
    snprintf(a.id, sizeof(a.id), "Bad_ID");
    how.curve = NULL;
    assert_int_equal(cf_itest_enroll(&a, &how, body), 400);
    cf_itest_agent_free(&a);
}

static void test_taken_id_and_reenroll(void **state)
{
    (void) state;
    char token[CF_DB_ENROLL_TOKEN + 1], body[CF_ITEST_FLEET_BODY];
    s_token(10, 3600, token);
    cf_itest_agent_t a, thief;
    cf_itest_agent_new(&a, "desk-1");
    cf_itest_agent_new(&thief, "desk-1");
    cf_itest_enroll_t how = {.srv = &s->a, .token = token, .csr = 1};
    assert_int_equal(cf_itest_enroll(&a, &how, body), 200);
    /* another key for a taken id; without a good token nothing is said about the id */
    how.csr = 0;
    assert_int_equal(cf_itest_enroll(&thief, &how, body), 409);
    s_says(body, "conflict", "taken");
    how.token = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    assert_int_equal(cf_itest_enroll(&thief, &how, body), 401);
    how.token = token;
    /* the same key again (push mode) is a re-enrollment */
    assert_int_equal(cf_itest_enroll(&a, &how, body), 200);
    /* a CSR with its public key but without its certificate: refused (the key is public) */
    how.csr = 1;
    how.curve = a.z85;
    assert_int_equal(cf_itest_enroll(&thief, &how, body), 409);
    s_says(body, "conflict", "holds a valid certificate");
    /* with its own certificate it renews: a new certificate, the old one archived */
    char old_fp[65];
    snprintf(old_fp, sizeof(old_fp), "%s", a.cert.fp);
    cf_itest_cert_t own = a.cert;
    own.pem_text = NULL;
    how = (cf_itest_enroll_t){.srv = &s->b, .cert = &own, .csr = 1};
    assert_int_equal(cf_itest_enroll(&a, &how, body), 200);
    assert_string_not_equal(a.cert.fp, old_fp);
    assert_true(cf_itest_redis_reply_has(s->redis.port, "1", "HEXISTS cf:archive %s", old_fp));
    cf_itest_agent_free(&a);
    cf_itest_agent_free(&thief);
}

static void test_revoke(void **state)
{
    (void) state;
    char token[CF_DB_ENROLL_TOKEN + 1], body[CF_ITEST_FLEET_BODY];
    s_token(2, 3600, token);
    cf_itest_agent_t a;
    cf_itest_agent_new(&a, "rogue-1");
    cf_itest_enroll_t how = {.srv = &s->a, .token = token, .csr = 1};
    assert_int_equal(cf_itest_enroll(&a, &how, body), 200);
    assert_int_equal(cf_itest_fleet_checkin(&s->a, &a.cert, "{}", NULL, body), 200);
    /* a job waits for it and for another agent */
    const char *const targets[] = {"rogue-1", "laptop-7"};
    const char *job = "0123456789abcdef0123456789abcdef";
    cf_db_job_spec_t spec = cf_itest_job_spec(job, targets, 2);
    spec.created = (int64_t) time(NULL);
    spec.expires = spec.created + 3600;
    cf_db_job_made_t made;
    assert_int_equal(cf_db_job_create(s->store, &spec, &made), CF_OK);
    assert_int_equal(made.total, 2);
    cf_db_job_made_clear(&made);
    assert_int_equal(
        cf_itest_fleet_admin(&s->b, "POST", "/api/v1/agents/rogue-1/revoke", NULL, body), 200);
    cf_itest_fleet_is(body, "revoked", a.cert.serial);
    cf_itest_fleet_is(body, "key_removed", "true");
    assert_int_equal(cf_itest_fleet_ji(body, "jobs_cancelled"), 1);
    /* its entry is cancelled, the other agent's still pending, the counts still true */
    cf_db_job_t jb;
    assert_int_equal(cf_db_job_get(s->store, job, &jb), CF_OK);
    assert_int_equal(jb.n[CF_JOB_CANCELLED], 1);
    assert_int_equal(jb.n[CF_JOB_PENDING], 1);
    cf_itest_job_check(s->store, job);
    /* the CURVE key is gone, the serial is in the CRL */
    assert_false(s_has_key("rogue-1"));
    assert_int_equal(cf_itest_fleet_call(&s->a, 0, NULL, 0, "GET", "/api/v1/crl", NULL, NULL, body),
                     200);
    char path[700];
    snprintf(path, sizeof(path), "%s/crl.pem", s->dir);
    cf_test_write_file(path, body, strlen(body));
    assert_int_equal(cf_test_sh("openssl crl -in '%s' -noout -text | grep -qi 'Serial Number: %s'",
                                path, a.cert.serial),
                     0);
    /* its certificate is refused at the handshake; the record stays, marked */
    cf_itest_fleet_try_t t = {&s->a, &a.cert, 0};
    assert_true(cf_test_wait_until(cf_itest_fleet_try, &t, 10000));
    assert_int_equal(cf_itest_fleet_get(&s->a, "/api/v1/agents/rogue-1", body), 200);
    assert_true(cf_itest_fleet_ji(body, "revoked") > 0);
    cf_db_enrolled_t e;
    assert_int_equal(cf_db_enroll_get(s->store, "rogue-1", &e), CF_OK);
    assert_true(e.revoked > 0);
    cf_db_enrolled_clear(&e);
    /* nor check in another way (plain, or with the shared certificate) */
    assert_int_equal(cf_itest_fleet_checkin(&s->b, &s_shared, "{\"id\":\"rogue-1\"}", NULL, body),
                     403);
    s_says(body, "forbidden", "revoked");
    assert_int_equal(cf_itest_fleet_checkin(&s->b, NULL, "{\"id\":\"rogue-1\"}", NULL, body), 403);
    /* it cannot enroll again, even with a token */
    how.csr = 0;
    assert_int_equal(cf_itest_enroll(&a, &how, body), 409);
    s_says(body, "conflict", "revoked");
    /* an agent that never was */
    assert_int_equal(
        cf_itest_fleet_admin(&s->a, "POST", "/api/v1/agents/nobody/revoke", NULL, body), 404);
    /* admins only */
    assert_int_equal(cf_itest_fleet_call(&s->a, 0, &s->console, 0, "POST",
                                         "/api/v1/agents/rogue-1/revoke", NULL, NULL, body),
                     401);
    cf_itest_agent_free(&a);
}

static void test_decommission(void **state)
{
    (void) state;
    char body[CF_ITEST_FLEET_BODY];
    cf_itest_agent_t a;
    cf_itest_agent_new(&a, "old-pc");
    cf_itest_enroll_t how = {.srv = &s->b, .cert = &s_shared, .csr = 1};
    assert_int_equal(cf_itest_enroll(&a, &how, body), 200);
    assert_int_equal(cf_itest_fleet_admin(&s->a, "DELETE", "/api/v1/agents/old-pc", NULL, body),
                     200);
    cf_itest_fleet_is(body, "revoked", a.cert.serial);
    assert_false(s_has_key("old-pc"));
    int yes = 0;
    assert_int_equal(cf_db_revoked(s->store, a.cert.serial, &yes), CF_OK);
    assert_true(yes);
    assert_int_equal(cf_itest_fleet_get(&s->b, "/api/v1/agents/old-pc", body), 404);
    assert_int_equal(cf_itest_fleet_admin(&s->a, "DELETE", "/api/v1/agents/old-pc", NULL, body),
                     404);
    /* the id is free again: a new machine may take it */
    cf_itest_agent_t fresh;
    cf_itest_agent_new(&fresh, "old-pc");
    how.csr = 0;
    assert_int_equal(cf_itest_enroll(&fresh, &how, body), 200);
    cf_itest_agent_free(&fresh);
    cf_itest_agent_free(&a);
}

/* Over the plain listener only while allow-plain is on, and then with a token. */
static void test_plain_listener(void **state)
{
    (void) state;
    char token[CF_DB_ENROLL_TOKEN + 1], body[CF_ITEST_FLEET_BODY];
    s_token(3, 3600, token);
    cf_itest_agent_t a, b;
    cf_itest_agent_new(&a, "plain-1");
    cf_itest_agent_new(&b, "plain-2");
    cf_itest_enroll_t how = {.srv = &s->a, .plain = 1, .csr = 1};
    assert_int_equal(cf_itest_enroll(&a, &how, body), 401); /* no token */
    how.token = token;
    assert_int_equal(cf_itest_enroll(&a, &how, body), 200);
    assert_true(a.has_cert);
    assert_int_equal(
        cf_itest_fleet_admin(&s->b, "PUT", "/api/v1/ssl", "{\"allow_plain\":false}", body), 200);
    assert_true(cf_test_wait_until(cf_itest_fleet_port_closed, &s->a.plain_port, 10000));
    cf_itest_fleet_try_t t = {&s->a, NULL, 0};
    assert_true(cf_test_wait_until(cf_itest_fleet_try, &t, 10000));
    assert_int_equal(cf_itest_enroll(&b, &how, body), 0); /* nothing listens */
    how.plain = 0;
    assert_int_equal(cf_itest_enroll(&b, &how, body), 0); /* TLS without a certificate */
    /* with the package's certificate it still enrolls */
    how.cert = &s_shared;
    assert_int_equal(cf_itest_enroll(&b, &how, body), 200);
    assert_int_equal(
        cf_itest_fleet_admin(&s->a, "PUT", "/api/v1/ssl", "{\"allow_plain\":true}", body), 200);
    assert_int_equal(cf_itest_wait_port("127.0.0.1", s->a.plain_port, 10000), CF_OK);
    cf_itest_agent_free(&a);
    cf_itest_agent_free(&b);
}

static void test_token_api_refusals(void **state)
{
    (void) state;
    char body[CF_ITEST_FLEET_BODY];
    const char *bad[] = {"{}",
                         "{\"uses\":0,\"ttl\":60}",
                         "{\"uses\":1,\"ttl\":31708801}",
                         "{\"uses\":1000001,\"ttl\":60}",
                         "{\"uses\":1,\"ttl\":60,\"x\":1}",
                         "{\"uses\":\"1\",\"ttl\":60}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(cf_itest_fleet_admin(&s->a, "POST", "/api/v1/enroll-tokens", bad[i], body),
                         400);
    }
    assert_int_equal(cf_itest_fleet_call(&s->a, 0, &s->console, 0, "POST", "/api/v1/enroll-tokens",
                                         "{\"uses\":1,\"ttl\":60}", NULL, body),
                     401);
    /* audited, without the token */
    assert_true(cf_itest_redis_reply_has(s->redis.port, NULL, "XLEN cf:audit"));
    assert_int_equal(cf_itest_fleet_get(&s->a, "/api/v1/audit?limit=1000", body), 200);
    assert_non_null(strstr(body, "enroll.token"));
    assert_non_null(strstr(body, "agent.enroll"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_csr_enroll),      cmocka_unit_test(test_token_uses_and_expiry),
        cmocka_unit_test(test_certificate_enroll),    cmocka_unit_test(test_csr_refused),
        cmocka_unit_test(test_taken_id_and_reenroll), cmocka_unit_test(test_revoke),
        cmocka_unit_test(test_decommission),          cmocka_unit_test(test_plain_listener),
        cmocka_unit_test(test_token_api_refusals),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
