/*  test_api_certs_revoke - revocation through a real cf-server: revoke by serial and by agent,
    TLS refuses the certificate at once, the CRL lists it  */
#include "cf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "cf_ca.h"
#include "cf_db_agent.h"
#include "cf_db_archive.h"
#include "cf_db_cert.h"
#include "cf_db_meta.h"
#include "cf_itest.h"
#include "cf_itest_certfix.h"
#include "cf_itest_certs.h"
#include "cf_mem.h"
#include "cf_seal.h"

#define S_EXPPASS "exp-pass" /* exports */

static cf_itest_certs_t s_t; /* the server under test */

static int s_setup(void **state)
{
    (void) state;
    cf_itest_certs_start(&s_t, "test_api_certs_revoke");
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    cf_itest_certs_stop(&s_t);
    return 0;
}

/* Export component/name ("comp/name") as a PKCS#12 under S_EXPPASS into file. */
static void s_export_p12(const char *target, const char *file)
{
    cf_itest_certfix_export_p12(s_t.dir, target, S_EXPPASS, file);
}

/* Condition: a TLS request with the client certificate in arg (curl options) is refused. */
static int s_refused(void *arg)
{
    return cf_itest_certs_curl("GET", "/crl", NULL, arg, NULL) == 0;
}

/* The CRL the server publishes lists the serial (lowercase hex) and comes as pkix-crl. */
static void s_crl_lists(const char *serial)
{
    char up[80];
    size_t i = 0;
    for (; serial[i] && i < sizeof(up) - 1; i++)
        up[i] = (char) (serial[i] >= 'a' && serial[i] <= 'f' ? serial[i] - 32 : serial[i]);
    up[i] = '\0';
    assert_int_equal(cf_test_sh("cd '%s' && curl -sS --max-time 10 --cacert ca.pem -D crl.head "
                                "-o crl.pem https://127.0.0.1:%d/api/v1/crl && grep -qi "
                                "'^content-type: application/pkix-crl' crl.head && openssl crl "
                                "-in crl.pem -CAfile ca.pem -noout -text | grep -q 'Serial "
                                "Number: %s$'",
                                s_t.dir, s_t.port, up),
                     0);
}

static void test_revoke_serial(void **state)
{
    (void) state;
    CF_ITEST_CERTS_NEED();
    char serial[80], typed[200];
    s_export_p12("agent/shared", "agent.p12");
    const char *agent = "--cert-type P12 --cert agent.p12:" S_EXPPASS;
    assert_int_not_equal(cf_itest_certs_curl("GET", "/crl", NULL, agent, NULL),
                         0); /* handshake succeeds */
    json_t *o = cf_itest_certs_call(200, NULL, "GET", "/certs/agent/shared", NULL);
    snprintf(serial, sizeof(serial), "%s", cf_itest_certs_str(o, "serial"));
    json_decref(o);
    /* typed as openssl shows it: upper case with colons */
    size_t n = 0;
    for (size_t i = 0; serial[i]; i++) {
        if (i && i % 2 == 0)
            typed[n++] = ':';
        typed[n++] = (char) (serial[i] >= 'a' ? serial[i] - 32 : serial[i]);
    }
    typed[n] = '\0';
    o = cf_itest_certs_call(200, NULL, "POST", "/certs/revoke", "{\"serial\":\"%s\"}", typed);
    assert_string_equal(json_string_value(json_array_get(json_object_get(o, "revoked"), 0)),
                        serial);
    assert_true(json_integer_value(json_object_get(o, "crl_next_update")) >
                (json_int_t) time(NULL));
    json_decref(o);
    /* TLS refuses it at once (every control thread swaps its revoked set); the CRL lists it */
    assert_true(cf_test_wait_until(s_refused, (void *) agent, 10000));
    s_crl_lists(serial);
    o = cf_itest_certs_call(200, NULL, "GET", "/certs/agent/shared", NULL);
    assert_string_equal(cf_itest_certs_str(o, "state"), "revoked");
    json_decref(o);
    /* a revoked certificate is not imported again */
    o = cf_itest_certs_call(200, NULL, "POST", "/certs/agent/shared/export", "%s",
                            "{\"format\":\"pem\"}");
    json_t *cert = json_pack("{s:s,s:O}", "format", "public", "cert", json_object_get(o, "cert"));
    char *text = json_dumps(cert, 0);
    json_decref(cf_itest_certs_import(422, "revoked", "console/again", "%s", text));
    free(text), json_decref(cert), json_decref(o);
    static const char *const bad[] = {"{}", "{\"serial\":\"zz\"}",
                                      "{\"serial\":\"1\",\"agent\":\"a\"}",
                                      "{\"agent\":\"Bad Id\"}", "{\"serial\":1}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        json_decref(cf_itest_certs_call(400, NULL, "POST", "/certs/revoke", "%s", bad[i]));
}

/* Issue a certificate for agent-7 under the deployment's CA. */
static cf_cert_t *s_agent7(cf_ca_t *ca, cf_key_t **key)
{
    cf_issue_t req = {0};
    req.component = CF_COMPONENT_AGENT;
    req.name = "agent-7";
    cf_cert_t *cert = NULL;
    assert_int_equal(cf_ca_issue(ca, &req, &cert, key), CF_OK);
    return cert;
}

/* agent-7 checked in with cur after its older certificate old was archived (the CA is read
   from Redis with the secret file); cur and its key go to agent7.pem and agent7.key. */
static void s_agent7_setup(cf_cert_t **old, cf_cert_t **cur)
{
    char path[600], *pem = NULL, *kpem = NULL;
    size_t len = 0, klen = 0;
    cf_seal_t *seal = NULL;
    cf_cert_t *ca_cert = NULL;
    cf_key_t *ca_key = NULL, *old_key = NULL, *cur_key = NULL;
    cf_ca_t *ca = NULL;
    snprintf(path, sizeof(path), "%s/secret", s_t.dir);
    assert_int_equal(cf_seal_load_file(path, 0, &seal, NULL), CF_OK);
    cf_store_t *store = cf_itest_store_at(s_t.redis.port, NULL);
    assert_int_equal(cf_db_ca_get(store, seal, &ca_cert, &ca_key), CF_OK);
    assert_int_equal(cf_ca_load(ca_cert, ca_key, &ca), CF_OK);
    *old = s_agent7(ca, &old_key);
    *cur = s_agent7(ca, &cur_key);
    int64_t now = (int64_t) time(NULL);
    assert_int_equal(cf_db_archive_add(store, CF_COMPONENT_AGENT, "agent-7", *old, now), CF_OK);
    cf_db_checkin_t in = {"agent-7",
                          CF_DB_LOCK_SECURE,
                          now,
                          "127.0.0.1",
                          "0.1.0",
                          cf_cert_fingerprint(*cur),
                          cf_cert_serial(*cur),
                          cf_cert_not_after(*cur),
                          "localhost",
                          0};
    assert_int_equal(cf_db_agent_checkin(store, &in, NULL), CF_OK);
    assert_int_equal(cf_cert_to_pem(*cur, &pem, &len), CF_OK);
    assert_int_equal(cf_key_to_pem(cur_key, NULL, &kpem, &klen), CF_OK);
    snprintf(path, sizeof(path), "%s/agent7.pem", s_t.dir);
    cf_test_write_file(path, pem, len);
    snprintf(path, sizeof(path), "%s/agent7.key", s_t.dir);
    cf_test_write_file(path, kpem, klen);
    cf_mem_free(pem);
    cf_mem_free_secret(kpem, klen);
    cf_key_destroy(&old_key), cf_key_destroy(&cur_key), cf_key_destroy(&ca_key);
    cf_cert_destroy(&ca_cert), cf_ca_destroy(&ca), cf_store_destroy(&store);
    cf_seal_destroy(&seal);
}

static void test_revoke_agent(void **state)
{
    (void) state;
    CF_ITEST_CERTS_NEED();
    cf_cert_t *old = NULL, *cur = NULL;
    s_agent7_setup(&old, &cur);
    const char *agent = "--cert agent7.pem --key agent7.key";
    assert_int_not_equal(cf_itest_certs_curl("GET", "/crl", NULL, agent, NULL), 0);
    /* every certificate of agent-7: the current one and the archived one */
    json_t *o =
        cf_itest_certs_call(200, NULL, "POST", "/certs/revoke", "%s", "{\"agent\":\"agent-7\"}");
    json_t *list = json_object_get(o, "revoked");
    assert_int_equal(json_array_size(list), 2);
    for (size_t i = 0; i < 2; i++) {
        const char *s = json_string_value(json_array_get(list, i));
        assert_true(strcmp(s, cf_cert_serial(old)) == 0 || strcmp(s, cf_cert_serial(cur)) == 0);
    }
    json_decref(o);
    assert_true(cf_test_wait_until(s_refused, (void *) agent, 10000));
    s_crl_lists(cf_cert_serial(old));
    s_crl_lists(cf_cert_serial(cur));
    json_decref(cf_itest_certs_call(404, "agent-404", "POST", "/certs/revoke", "%s",
                                    "{\"agent\":\"agent-404\"}"));
    cf_cert_destroy(&old);
    cf_cert_destroy(&cur);
}

/* An agent that checked in with the shared agent certificate (the seed's mode): revoking
   "the agent" must not revoke the certificate the whole fleet holds. */
static void test_revoke_agent_shared(void **state)
{
    (void) state;
    CF_ITEST_CERTS_NEED();
    cf_store_t *store = cf_itest_store_at(s_t.redis.port, NULL);
    cf_db_cert_t shared;
    assert_int_equal(cf_db_cert_get(store, NULL, CF_COMPONENT_AGENT, "shared", &shared, NULL),
                     CF_OK);
    cf_db_checkin_t in = {
        "agent-8",          CF_DB_LOCK_SECURE, (int64_t) time(NULL), "127.0.0.1", "0.1.0",
        shared.fingerprint, shared.serial,     shared.not_after,     "localhost", 0};
    assert_int_equal(cf_db_agent_checkin(store, &in, NULL), CF_OK);
    redisContext *c = redisConnect("127.0.0.1", s_t.redis.port);
    assert_true(c && !c->err);
    redisReply *r = redisCommand(c, "SCARD cf:revoked");
    long long before = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    json_decref(cf_itest_certs_call(404, "shared agent certificate", "POST", "/certs/revoke", "%s",
                                    "{\"agent\":\"agent-8\"}"));
    r = redisCommand(c, "SCARD cf:revoked");
    assert_true(r && r->type == REDIS_REPLY_INTEGER && r->integer == before); /* nothing added */
    freeReplyObject(r);
    redisFree(c);
    cf_db_cert_clear(&shared);
    cf_store_destroy(&store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_revoke_serial),
        cmocka_unit_test(test_revoke_agent),
        cmocka_unit_test(test_revoke_agent_shared),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
