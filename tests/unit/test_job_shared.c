/*  test_job_shared - the shared copy of a job to all agents (agent "*"): one signature for
    every agent, still refused when replayed, expired, tampered or of a type never shared  */
#include "cf_test.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "cf_ca.h"
#include "cf_job.h"
#include "cf_mem.h"

#define AGENT_A "ws-0042.corp"
#define AGENT_B "ws-0043.corp"
#define CHAIN   "-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----\n"
#define KEY     "-----BEGIN PRIVATE KEY-----\nMIGH...\n-----END PRIVATE KEY-----\n"

static cf_ca_t *s_ca;
static cf_cert_t *s_cert; /* the issuing server's certificate */
static cf_key_t *s_key;   /* its key */
static time_t s_now;

static int s_setup(void **state)
{
    (void) state;
    cf_issue_t req = {.component = CF_COMPONENT_SERVER, .name = "srv1"};
    if (cf_ca_create(NULL, &s_ca) != CF_OK || cf_ca_issue(s_ca, &req, &s_cert, &s_key) != CF_OK)
        return -1;
    s_now = time(NULL);
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    cf_cert_destroy(&s_cert);
    cf_key_destroy(&s_key);
    cf_ca_destroy(&s_ca);
    return 0;
}

/* One agent's record of applied jobs (the replay callback). */
typedef struct {
    char ids[4][CF_JOB_ID_HEX + 1]; /* applied job ids */
    size_t n;                       /* entries in ids */
} s_store_t;

static cf_err_t s_seen(void *ctx, const char *job_id)
{
    const s_store_t *store = ctx;
    for (size_t i = 0; i < store->n; i++)
        if (strcmp(store->ids[i], job_id) == 0)
            return CF_ERR_EXISTS;
    return CF_OK;
}

/* A signed job of type for agent, valid for life seconds from now; *len its length. */
static char *s_wire(cf_job_type_t type, const char *agent, long life, size_t *len)
{
    cf_job_spec_t spec = {
        .type = type, .agent = agent, .issuer = "srv1", .created = s_now, .expires = s_now + life};
    cf_job_t *job = NULL;
    char *wire = NULL;
    cf_why_t why = {""};
    cf_err_t rc = cf_job_new(&spec, &job, &why);
    if (rc != CF_OK)
        fail_msg("new: %s", cf_why_text(&why, rc));
    if (type == CF_JOB_TYPE_SET_FAVORITE)
        assert_int_equal(cf_job_set_favorite(job, "srv2"), CF_OK);
    assert_int_equal(cf_job_sign(job, s_cert, s_key, &why), CF_OK);
    assert_int_equal(cf_job_to_wire(job, &wire, len), CF_OK);
    cf_job_destroy(&job);
    return wire;
}

/* Check wire as agent at now; expect rc and (if not NULL) reason in why. */
static void s_expect(const char *wire, size_t len, const char *agent, time_t now, s_store_t *store,
                     cf_err_t rc, const char *reason)
{
    cf_job_t *job = NULL;
    cf_why_t why = {""};
    s_store_t none = {.n = 0};
    cf_err_t got = cf_job_verify(wire, len, cf_ca_cert(s_ca), agent, now, s_seen,
                                 store ? store : &none, &job, &why);
    if (got != rc || (reason && !strstr(why.text, reason)))
        fail_msg("%s: got %s (%s), expected %s with '%s'", agent, cf_err_name(got), why.text,
                 cf_err_name(rc), reason ? reason : "");
    cf_job_destroy(&job);
}

/* Usage: one signed copy of a recheck to all agents, accepted by two different agents. */
static void test_usage(void **state)
{
    (void) state;
    size_t len = 0;
    char *wire = s_wire(CF_JOB_TYPE_RECHECK, CF_JOB_AGENT_ALL, 3600, &len);
    cf_job_t *job = NULL;
    assert_int_equal(cf_job_parse(wire, len, &job, NULL), CF_OK);
    assert_string_equal(cf_job_agent(job), CF_JOB_AGENT_ALL);
    assert_int_equal(cf_job_min_proto(job), CF_JOB_PROTO_SHARED); /* raised by cf_job_new */
    cf_job_destroy(&job);
    s_expect(wire, len, AGENT_A, s_now, NULL, CF_OK, NULL);
    s_expect(wire, len, AGENT_B, s_now, NULL, CF_OK, NULL);
    /* one verifier serving both agents of a simulator's thread */
    cf_job_verifier_t *v = NULL;
    assert_int_equal(cf_job_verifier_new(cf_ca_cert(s_ca), AGENT_A, &v), CF_OK);
    s_store_t none = {.n = 0};
    cf_why_t why = {""};
    assert_int_equal(cf_job_verifier_check(v, wire, len, s_now, s_seen, &none, &job, &why), CF_OK);
    cf_job_destroy(&job);
    assert_int_equal(cf_job_verifier_set_agent(v, AGENT_B), CF_OK);
    assert_int_equal(cf_job_verifier_check(v, wire, len, s_now, s_seen, &none, &job, &why), CF_OK);
    cf_job_destroy(&job);
    cf_job_verifier_destroy(&v);
    cf_mem_free(wire);
    assert_true(cf_job_type_shareable(CF_JOB_TYPE_SET_FAVORITE));
    wire = s_wire(CF_JOB_TYPE_SET_FAVORITE, CF_JOB_AGENT_ALL, 3600, &len);
    s_expect(wire, len, AGENT_B, s_now, NULL, CF_OK, NULL);
    cf_mem_free(wire);
}

/* What still holds for a shared copy: each agent applies it once, it expires, and the
   "*" is signed like every other field. */
static void test_shared_refusals(void **state)
{
    (void) state;
    size_t len = 0;
    char *wire = s_wire(CF_JOB_TYPE_RECHECK, CF_JOB_AGENT_ALL, 3600, &len);
    cf_job_t *job = NULL;
    assert_int_equal(cf_job_parse(wire, len, &job, NULL), CF_OK);
    s_store_t applied = {.n = 1};
    snprintf(applied.ids[0], sizeof(applied.ids[0]), "%s", cf_job_id(job));
    cf_job_destroy(&job);
    /* replayed to an agent that applied it: refused; another agent still takes it once */
    s_expect(wire, len, AGENT_A, s_now, &applied, CF_ERR_EXISTS, "replay");
    s_expect(wire, len, AGENT_B, s_now, NULL, CF_OK, NULL);
    /* expired */
    s_expect(wire, len, AGENT_A, s_now + 3600, NULL, CF_ERR_EXPIRED, "expired");
    /* "*" turned into one agent's id (or back): the signature no longer verifies */
    char *to_one = cf_mem_malloc(len + 64);
    assert_non_null(to_one);
    const char *at = strstr(wire, "\"agent\":\"*\"");
    assert_non_null(at);
    int n = snprintf(to_one, len + 64, "%.*s\"agent\":\"" AGENT_A "\"%s", (int) (at - wire), wire,
                     at + strlen("\"agent\":\"*\""));
    s_expect(to_one, (size_t) n, AGENT_A, s_now, NULL, CF_ERR_UNTRUSTED, "signature");
    cf_mem_free(to_one);
    cf_mem_free(wire);
    /* a copy built for one agent is still refused by every other */
    wire = s_wire(CF_JOB_TYPE_RECHECK, AGENT_A, 3600, &len);
    s_expect(wire, len, AGENT_B, s_now, NULL, CF_ERR_POLICY, "addressed to agent");
    cf_mem_free(wire);
}

/* Types that carry something for one agent alone are never shared: not built, not parsed. */
static void test_never_shared(void **state)
{
    (void) state;
    const cf_job_type_t types[] = {CF_JOB_TYPE_INSTALL_CERT, CF_JOB_TYPE_RENEW_CSR,
                                   CF_JOB_TYPE_REISSUE};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        assert_false(cf_job_type_shareable(types[i]));
        cf_job_spec_t spec = {.type = types[i],
                              .agent = CF_JOB_AGENT_ALL,
                              .issuer = "srv1",
                              .created = s_now,
                              .expires = s_now + 60};
        cf_job_t *job = NULL;
        cf_why_t why = {""};
        assert_int_equal(cf_job_new(&spec, &job, &why), CF_ERR_INVALID);
        assert_non_null(strstr(why.text, "never shared"));
        assert_null(job);
    }
    /* a signed install job whose agent is made "*": refused when parsed, before any
       signature check, with the reason */
    unsigned char pub[32], sec[32];
    crypto_box_keypair(pub, sec);
    cf_job_spec_t spec = {.type = CF_JOB_TYPE_INSTALL_CERT,
                          .agent = AGENT_A,
                          .issuer = "srv1",
                          .created = s_now,
                          .expires = s_now + 60,
                          .min_proto = CF_JOB_PROTO_SHARED};
    cf_job_t *job = NULL;
    char *wire = NULL;
    size_t len = 0;
    assert_int_equal(cf_job_new(&spec, &job, NULL), CF_OK);
    assert_int_equal(cf_job_set_install_pem(job, CHAIN, strlen(CHAIN), KEY, strlen(KEY), pub),
                     CF_OK);
    assert_int_equal(cf_job_sign(job, s_cert, s_key, NULL), CF_OK);
    assert_int_equal(cf_job_to_wire(job, &wire, &len), CF_OK);
    cf_job_destroy(&job);
    char *all = cf_mem_malloc(len + 1);
    assert_non_null(all);
    const char *at = strstr(wire, "\"agent\":\"" AGENT_A "\"");
    assert_non_null(at);
    int n = snprintf(all, len + 1, "%.*s\"agent\":\"*\"%s", (int) (at - wire), wire,
                     at + strlen("\"agent\":\"" AGENT_A "\""));
    cf_why_t why = {""};
    assert_int_equal(cf_job_parse(all, (size_t) n, &job, &why), CF_ERR_CORRUPT);
    assert_non_null(strstr(why.text, "never shared"));
    s_expect(all, (size_t) n, AGENT_A, s_now, NULL, CF_ERR_CORRUPT, "never shared");
    cf_mem_free(all);
    cf_mem_free(wire);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_shared_refusals),
        cmocka_unit_test(test_never_shared),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
