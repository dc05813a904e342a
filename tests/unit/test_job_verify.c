/*  test_job_verify - the agent's job check: every refusal with its reason, the signer cache  */
#include "cf_test.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "cf_ca.h"
#include "cf_job.h"
#include "cf_mem.h"

#define AGENT "ws-0042.corp"
#define CHAIN "-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----\n"
#define KEY   "-----BEGIN PRIVATE KEY-----\nMIGH...\n-----END PRIVATE KEY-----\n"

/* A certificate and its key. */
typedef struct {
    cf_cert_t *cert; /* owned */
    cf_key_t *key;   /* owned */
} s_pair_t;

static cf_ca_t *s_ca, *s_other_ca;
static s_pair_t s_server, s_server2, s_agent, s_console, s_foreign, s_short;
static unsigned char s_pub[32], s_sec[32];
static time_t s_now;

static int s_issue(cf_ca_t *ca, cf_component_t c, const char *name, long seconds, s_pair_t *out)
{
    cf_issue_t req = {.component = c, .name = name, .seconds = seconds};
    return cf_ca_issue(ca, &req, &out->cert, &out->key) == CF_OK ? 0 : -1;
}

static int s_setup(void **state)
{
    (void) state;
    crypto_box_keypair(s_pub, s_sec);
    cf_ca_opts_t other = {.name = "another CA"};
    if (cf_ca_create(NULL, &s_ca) != CF_OK || cf_ca_create(&other, &s_other_ca) != CF_OK)
        return -1;
    int rc = s_issue(s_ca, CF_COMPONENT_SERVER, "srv1", 0, &s_server) ||
             s_issue(s_ca, CF_COMPONENT_SERVER, "srv2", 0, &s_server2) ||
             s_issue(s_ca, CF_COMPONENT_AGENT, AGENT, 0, &s_agent) ||
             s_issue(s_ca, CF_COMPONENT_CONSOLE, "Operator", 0, &s_console) ||
             s_issue(s_other_ca, CF_COMPONENT_SERVER, "srv1", 0, &s_foreign) ||
             s_issue(s_ca, CF_COMPONENT_SERVER, "srv-short", 3600, &s_short);
    s_now = time(NULL); /* after issuing: every certificate's notBefore is <= now - 300 */
    return rc;
}

static void s_pair_free(s_pair_t *p)
{
    cf_cert_destroy(&p->cert);
    cf_key_destroy(&p->key);
}

static int s_teardown(void **state)
{
    (void) state;
    s_pair_t *all[] = {&s_server, &s_server2, &s_agent, &s_console, &s_foreign, &s_short};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        s_pair_free(all[i]);
    cf_ca_destroy(&s_ca);
    cf_ca_destroy(&s_other_ca);
    return 0;
}

/* The agent's record of applied jobs, as the replay callback sees it. */
typedef struct {
    char ids[8][CF_JOB_ID_HEX + 1]; /* applied job ids */
    size_t n;                       /* entries in ids */
    cf_err_t fail;                  /* CF_OK, or an error the store reports */
    int asked;                      /* calls so far */
} s_store_t;

static cf_err_t s_seen(void *ctx, const char *job_id)
{
    s_store_t *store = ctx;
    store->asked++;
    if (store->fail != CF_OK)
        return store->fail;
    for (size_t i = 0; i < store->n; i++)
        if (strcmp(store->ids[i], job_id) == 0)
            return CF_ERR_EXISTS;
    return CF_OK;
}

/* A signed install job from signer, for agent, created at created, valid for life s. */
static char *s_wire(const s_pair_t *signer, const char *agent, time_t created, long life,
                    unsigned min_proto, size_t *len)
{
    cf_job_spec_t spec = {.type = CF_JOB_TYPE_INSTALL_CERT,
                          .agent = agent,
                          .issuer = "srv1",
                          .created = created,
                          .expires = created + life,
                          .min_proto = min_proto};
    cf_job_t *job = NULL;
    char *wire = NULL;
    cf_why_t why = {""};
    assert_int_equal(cf_job_new(&spec, &job, &why), CF_OK);
    assert_int_equal(cf_job_set_install_pem(job, CHAIN, strlen(CHAIN), KEY, strlen(KEY), s_pub),
                     CF_OK);
    cf_err_t rc = cf_job_sign(job, signer->cert, signer->key, &why);
    if (rc != CF_OK)
        fail_msg("sign: %s", cf_why_text(&why, rc));
    assert_int_equal(cf_job_to_wire(job, &wire, len), CF_OK);
    cf_job_destroy(&job);
    return wire;
}

/* Check wire with a fresh verifier at now; expect rc and reason in why. */
static void s_expect(const char *wire, size_t len, time_t now, s_store_t *store, cf_err_t rc,
                     const char *reason)
{
    cf_job_t *job = (cf_job_t *) 0x1;
    cf_why_t why = {""};
    s_store_t none = {.n = 0};
    cf_err_t got = cf_job_verify(wire, len, cf_ca_cert(s_ca), AGENT, now, s_seen,
                                 store ? store : &none, &job, &why);
    if (got != rc || (reason && !strstr(why.text, reason)))
        fail_msg("got %s (%s), expected %s with '%s'", cf_err_name(got), why.text, cf_err_name(rc),
                 reason ? reason : "");
    if (rc == CF_OK)
        cf_job_destroy(&job);
    assert_null(job);
    if (rc != CF_OK)
        assert_true(why.text[0] != '\0');
}

/* An agent keeps one verifier and asks its store about each authentic job. */
static void test_usage(void **state)
{
    (void) state;
    cf_job_verifier_t *v = NULL;
    assert_int_equal(cf_job_verifier_new(cf_ca_cert(s_ca), AGENT, &v), CF_OK);
    s_store_t store = {.n = 0};
    for (int i = 0; i < 3; i++) {
        size_t len = 0;
        char *wire = s_wire(&s_server, AGENT, s_now, 3600, 0, &len);
        cf_job_t *job = NULL;
        cf_why_t why = {""};
        cf_err_t rc = cf_job_verifier_check(v, wire, len, s_now, s_seen, &store, &job, &why);
        if (rc != CF_OK)
            fail_msg("refused: %s", cf_why_text(&why, rc));
        /* ... install, then remember the job id before reporting */
        strcpy(store.ids[store.n++], cf_job_id(job));
        cf_job_destroy(&job);
        cf_mem_free(wire);
    }
    assert_int_equal(store.asked, 3);
    assert_int_equal(cf_job_verifier_chain_checks(v), 1); /* one chain check for three jobs */
    cf_job_verifier_destroy(&v);
    cf_job_verifier_destroy(&v);
}

/* What an attacker holding some other key, or another implementation, would send: the
   wire with one field changed (field NULL: none), signer's certificate put in, and a
   signature by signer's key over the canonical form as docs/PROTOCOL.md defines it
   (jansson's sorted compact dump without "sig", after the context string and a NUL). */
static char *s_forge(const char *wire, const char *field, json_t *value, const s_pair_t *signer,
                     size_t *len)
{
    json_t *root = json_loads(wire, 0, NULL);
    assert_non_null(root);
    if (field)
        json_object_set_new(root, field, value);
    unsigned char *der = NULL;
    size_t der_len = 0;
    assert_int_equal(cf_cert_to_der(signer->cert, &der, &der_len), CF_OK);
    char b64[8192];
    sodium_bin2base64(b64, sizeof(b64), der, der_len, sodium_base64_VARIANT_ORIGINAL);
    cf_mem_free(der);
    json_object_set_new(root, "signer", json_string(b64));
    json_object_del(root, "sig");
    char *canon = json_dumps(root, JSON_SORT_KEYS | JSON_COMPACT);
    size_t msg_len = sizeof(CF_JOB_SIG_CONTEXT) + strlen(canon);
    unsigned char *msg = cf_mem_malloc(msg_len), sig[256];
    memcpy(msg, CF_JOB_SIG_CONTEXT, sizeof(CF_JOB_SIG_CONTEXT));
    memcpy(msg + sizeof(CF_JOB_SIG_CONTEXT), canon, strlen(canon));
    size_t sig_len = sizeof(sig);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, cf_key_pkey(signer->key)),
                     1);
    assert_int_equal(EVP_DigestSign(ctx, sig, &sig_len, msg, msg_len), 1);
    EVP_MD_CTX_free(ctx);
    sodium_bin2base64(b64, sizeof(b64), sig, sig_len, sodium_base64_VARIANT_ORIGINAL);
    json_object_set_new(root, "sig", json_string(b64));
    char *out = json_dumps(root, JSON_SORT_KEYS | JSON_COMPACT);
    *len = strlen(out);
    cf_mem_free(msg);
    cf_mem_free(canon);
    json_decref(root);
    return out;
}

/* The refusals issue 4 lists, each with its reason: first what the signature covers. */
static void test_refusals_signer(void **state)
{
    (void) state;
    size_t len = 0, flen = 0;
    char *wire = s_wire(&s_server, AGENT, s_now, 3600, 0, &len), *f;
    s_expect(wire, len, s_now, NULL, CF_OK, NULL);
    f = s_forge(wire, NULL, NULL, &s_server, &flen); /* an independent signer is accepted */
    s_expect(f, flen, s_now, NULL, CF_OK, NULL);
    cf_mem_free(f);

    /* one payload byte changed */
    char *tampered = cf_mem_memdup(wire, len + 1);
    char *key = strstr(tampered, "\"key\":\"");
    assert_non_null(key);
    key[7 + 10] = key[7 + 10] == 'A' ? 'B' : 'A';
    s_expect(tampered, len, s_now, NULL, CF_ERR_UNTRUSTED, "signature does not verify");
    cf_mem_free(tampered);

    f = s_forge(wire, NULL, NULL, &s_agent, &flen);
    s_expect(f, flen, s_now, NULL, CF_ERR_POLICY, "no serverAuth (agent certificates cannot");
    cf_mem_free(f);
    f = s_forge(wire, NULL, NULL, &s_console, &flen);
    s_expect(f, flen, s_now, NULL, CF_ERR_POLICY, "no serverAuth (console certificates cannot");
    cf_mem_free(f);
    f = s_forge(wire, NULL, NULL, &s_foreign, &flen);
    s_expect(f, flen, s_now, NULL, CF_ERR_UNTRUSTED, "signer certificate 'srv1' is refused");
    cf_mem_free(f);

    cf_mem_free(wire);
}

/* Authentic jobs refused for what they say: time, address, replay, protocol level. */
static void test_refusals_claims(void **state)
{
    (void) state;
    size_t len = 0, flen = 0;
    char *wire = s_wire(&s_server, AGENT, s_now, 3600, 0, &len), *other;
    /* expired, and created too far in the future */
    s_expect(wire, len, s_now + 3600, NULL, CF_ERR_EXPIRED, "expired at");
    s_expect(wire, len, s_now + 3599, NULL, CF_OK, NULL);
    other = s_wire(&s_server, AGENT, s_now + 600, 3600, 0, &flen);
    s_expect(other, flen, s_now + 600 - CF_JOB_SKEW, NULL, CF_OK, NULL);
    s_expect(other, flen, s_now + 599 - CF_JOB_SKEW, NULL, CF_ERR_NOTYETVALID, "created at");
    cf_mem_free(other);

    /* addressed to another agent: signed as such, or changed on the way */
    other = s_wire(&s_server, "ws-0043.corp", s_now, 3600, 0, &flen);
    s_expect(other, flen, s_now, NULL, CF_ERR_POLICY, "addressed to agent 'ws-0043.corp'");
    cf_mem_free(other);
    other = cf_mem_memdup(wire, len + 1);
    memcpy(strstr(other, AGENT), "ws-0043.corp", strlen(AGENT));
    s_expect(other, len, s_now, NULL, CF_ERR_UNTRUSTED, "signature");
    cf_mem_free(other);

    /* replayed: the store knows the id; the store's own failure is passed on */
    cf_job_t *job = NULL;
    assert_int_equal(cf_job_parse(wire, len, &job, NULL), CF_OK);
    s_store_t store = {.n = 1};
    strcpy(store.ids[0], cf_job_id(job));
    s_expect(wire, len, s_now, &store, CF_ERR_EXISTS, "already applied here (replay)");
    assert_int_equal(store.asked, 1);
    store.fail = CF_ERR_IO;
    s_expect(wire, len, s_now, &store, CF_ERR_IO, "replay check");
    store.asked = 0; /* refused jobs never reach the store */
    s_expect(wire, len, s_now + 7200, &store, CF_ERR_EXPIRED, NULL);
    assert_int_equal(store.asked, 0);
    cf_job_destroy(&job);

    /* a job for a newer agent */
    other = s_wire(&s_server, AGENT, s_now, 3600, CF_JOB_PROTO + 1, &flen);
    char want[64];
    snprintf(want, sizeof(want), "needs agent protocol %d", CF_JOB_PROTO + 1);
    s_expect(other, flen, s_now, NULL, CF_ERR_UNSUPPORTED, want);
    cf_mem_free(other);
    cf_mem_free(wire);
}

/* A valid server certificate named as signer does not lend its name to another's signature. */
static void test_signer_swaps(void **state)
{
    (void) state;
    size_t len = 0, len2 = 0;
    char *wire = s_wire(&s_server, AGENT, s_now, 3600, 0, &len);
    char *wire2 = s_wire(&s_server2, AGENT, s_now, 3600, 0, &len2);
    json_t *a = json_loads(wire, 0, NULL), *b = json_loads(wire2, 0, NULL);
    json_object_set(a, "signer", json_object_get(b, "signer"));
    char *swapped = json_dumps(a, JSON_SORT_KEYS | JSON_COMPACT);
    s_expect(swapped, strlen(swapped), s_now, NULL, CF_ERR_UNTRUSTED, "signature");
    cf_mem_free(swapped);
    json_object_set_new(a, "signer", json_string("QUJD")); /* not a certificate */
    swapped = json_dumps(a, JSON_SORT_KEYS | JSON_COMPACT);
    s_expect(swapped, strlen(swapped), s_now, NULL, CF_ERR_CORRUPT, "not a certificate");
    cf_mem_free(swapped);
    json_decref(a);
    json_decref(b);
    cf_mem_free(wire);
    cf_mem_free(wire2);
}

/* Any single bit flipped anywhere in a signed job is refused. */
static void test_every_byte_flip_refused(void **state)
{
    (void) state;
    size_t len = 0;
    char *wire = s_wire(&s_server, AGENT, s_now, 3600, 0, &len);
    cf_job_verifier_t *v = NULL;
    assert_int_equal(cf_job_verifier_new(cf_ca_cert(s_ca), AGENT, &v), CF_OK);
    s_store_t store = {.n = 0};
    for (size_t i = 0; i < len; i++) {
        static const unsigned char masks[] = {0x01, 0x40};
        for (size_t k = 0; k < sizeof(masks); k++) {
            cf_job_t *job = NULL;
            cf_why_t why = {""};
            wire[i] ^= (char) masks[k];
            cf_err_t rc = cf_job_verifier_check(v, wire, len, s_now, s_seen, &store, &job, &why);
            if (rc == CF_OK)
                fail_msg("flip 0x%02x at %zu accepted", masks[k], i);
            assert_null(job);
            assert_true(why.text[0] != '\0');
            wire[i] ^= (char) masks[k];
        }
    }
    assert_int_equal(store.asked, 0);
    /* flipped signers were checked in full and refused; the good one is still cached */
    unsigned long checks = cf_job_verifier_chain_checks(v);
    assert_true(checks > 1);
    cf_job_t *job = NULL;
    assert_int_equal(cf_job_verifier_check(v, wire, len, s_now, s_seen, &store, &job, NULL), CF_OK);
    assert_int_equal(cf_job_verifier_chain_checks(v), checks);
    cf_job_destroy(&job);
    cf_job_verifier_destroy(&v);
    cf_mem_free(wire);
}

static void s_check_with(cf_job_verifier_t *v, const s_pair_t *signer, time_t created, time_t now,
                         cf_err_t rc, const char *reason)
{
    size_t len = 0;
    char *wire = s_wire(&s_server, AGENT, created, 3600, 0, &len);
    if (signer != &s_server) { /* s_forge also signs for certificates cf_job_sign refuses */
        char *forged = s_forge(wire, NULL, NULL, signer, &len);
        cf_mem_free(wire);
        wire = forged;
    }
    cf_job_t *job = NULL;
    cf_why_t why = {""};
    s_store_t store = {.n = 0};
    cf_err_t got = cf_job_verifier_check(v, wire, len, now, s_seen, &store, &job, &why);
    if (got != rc || (reason && !strstr(why.text, reason)))
        fail_msg("got %s (%s), expected %s", cf_err_name(got), why.text, cf_err_name(rc));
    cf_job_destroy(&job);
    cf_mem_free(wire);
}

/* The verifier keeps the last signer that passed; the cache never skips a check that
   depends on the job or on the time. */
static void test_signer_cache(void **state)
{
    (void) state;
    cf_job_verifier_t *v = NULL;
    assert_int_equal(cf_job_verifier_new(cf_ca_cert(s_ca), AGENT, &v), CF_OK);
    static const struct {
        const s_pair_t *signer;
        cf_err_t rc;
        unsigned long checks; /* chain checks after this job */
    } steps[] = {
        {&s_server, CF_OK, 1},
        {&s_server, CF_OK, 1},
        {&s_server2, CF_OK, 2},
        {&s_server2, CF_OK, 2},
        {&s_foreign, CF_ERR_UNTRUSTED, 3},
        {&s_server2, CF_OK, 3},
        {&s_agent, CF_ERR_POLICY, 4},
        {&s_server2, CF_OK, 4},
        {&s_server, CF_OK, 5},
    };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        s_check_with(v, steps[i].signer, s_now, s_now, steps[i].rc, NULL);
        assert_int_equal(cf_job_verifier_chain_checks(v), steps[i].checks);
    }
    cf_job_verifier_destroy(&v);

    /* one verifier for many agents (a simulator's thread): the addressee changes, the
       signer cache stays; a bad id changes nothing */
    assert_int_equal(cf_job_verifier_new(cf_ca_cert(s_ca), "other-agent", &v), CF_OK);
    size_t len = 0;
    char *wire = s_wire(&s_server, AGENT, s_now, 3600, 1, &len);
    s_store_t none = {.n = 0};
    cf_job_t *job = NULL;
    cf_why_t why = {""};
    assert_int_equal(cf_job_verifier_check(v, wire, len, s_now, s_seen, &none, &job, &why),
                     CF_ERR_POLICY);
    assert_int_equal(cf_job_verifier_set_agent(v, AGENT), CF_OK);
    assert_int_equal(cf_job_verifier_check(v, wire, len, s_now, s_seen, &none, &job, &why), CF_OK);
    cf_job_destroy(&job);
    assert_int_equal(cf_job_verifier_chain_checks(v), 1);
    assert_int_equal(cf_job_verifier_set_agent(v, "Bad Id"), CF_ERR_INVALID);
    assert_int_equal(cf_job_verifier_set_agent(NULL, AGENT), CF_ERR_INVALID);
    assert_int_equal(cf_job_verifier_check(v, wire, len, s_now, s_seen, &none, &job, &why), CF_OK);
    cf_job_destroy(&job);
    assert_int_equal(cf_job_verifier_chain_checks(v), 1);
    cf_mem_free(wire);
    cf_job_verifier_destroy(&v);

    /* a cached signer that has since expired, or is not valid yet at the agent's clock */
    assert_int_equal(cf_job_verifier_new(cf_ca_cert(s_ca), AGENT, &v), CF_OK);
    s_check_with(v, &s_short, s_now, s_now, CF_OK, NULL);
    s_check_with(v, &s_short, s_now + 3500, s_now + 3700, CF_ERR_EXPIRED, "signer certificate");
    s_check_with(v, &s_short, s_now - 800, s_now - 700, CF_ERR_NOTYETVALID, "signer certificate");
    assert_int_equal(cf_job_verifier_chain_checks(v), 1);
    cf_job_verifier_destroy(&v);
    /* the same without the cache: the chain check says it */
    assert_int_equal(cf_job_verifier_new(cf_ca_cert(s_ca), AGENT, &v), CF_OK);
    s_check_with(v, &s_short, s_now + 3500, s_now + 3700, CF_ERR_EXPIRED, "signer certificate");
    assert_int_equal(cf_job_verifier_chain_checks(v), 1);
    cf_job_verifier_destroy(&v);
}

/* Every key type a server certificate may have signs and verifies (its own digest). */
static void test_key_types(void **state)
{
    (void) state;
    static const cf_key_type_t types[] = {CF_KEY_P384, CF_KEY_RSA2048, CF_KEY_ED25519};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        s_pair_t p = {NULL, NULL};
        cf_issue_t req = {.component = CF_COMPONENT_SERVER, .name = "srv-k", .key_type = types[i]};
        assert_int_equal(cf_ca_issue(s_ca, &req, &p.cert, &p.key), CF_OK);
        size_t len = 0;
        char *wire = s_wire(&p, AGENT, s_now, 60, 0, &len);
        s_expect(wire, len, s_now, NULL, CF_OK, NULL);
        char *sig = strstr(wire, "\"sig\":\"");
        sig[7] = sig[7] == 'A' ? 'B' : 'A';
        s_expect(wire, len, s_now, NULL, CF_ERR_UNTRUSTED, "signature");
        cf_mem_free(wire);
        s_pair_free(&p);
    }
}

static void test_bad_arguments(void **state)
{
    (void) state;
    cf_job_verifier_t *v = (cf_job_verifier_t *) 0x1;
    assert_int_equal(cf_job_verifier_new(cf_ca_cert(s_ca), "Bad Id", &v), CF_ERR_INVALID);
    assert_int_equal(cf_job_verifier_new(NULL, AGENT, &v), CF_ERR_INVALID);
    assert_int_equal(cf_job_verifier_new(cf_ca_cert(s_ca), NULL, &v), CF_ERR_INVALID);
    assert_int_equal(cf_job_verifier_new(cf_ca_cert(s_ca), AGENT, &v), CF_OK);
    cf_job_t *job = NULL;
    assert_int_equal(cf_job_verifier_check(v, "{}", 2, s_now, NULL, NULL, &job, NULL),
                     CF_ERR_INVALID);
    assert_int_equal(cf_job_verifier_check(v, NULL, 2, s_now, s_seen, NULL, &job, NULL),
                     CF_ERR_INVALID);
    assert_int_equal(cf_job_verifier_check(NULL, "{}", 2, s_now, s_seen, NULL, &job, NULL),
                     CF_ERR_INVALID);
    assert_int_equal(
        cf_job_verify("{}", 2, cf_ca_cert(s_ca), AGENT, s_now, s_seen, NULL, NULL, NULL),
        CF_ERR_INVALID);
    assert_int_equal(cf_job_verifier_chain_checks(NULL), 0);
    for (long n = 0;; n++) { /* allocation failures in the constructor */
        cf_job_verifier_t *w = NULL;
        cf_test_alloc_fail_at(n);
        cf_err_t rc = cf_job_verifier_new(cf_ca_cert(s_ca), AGENT, &w);
        long failed = cf_test_alloc_failed();
        cf_test_alloc_fail_at(-1);
        cf_job_verifier_destroy(&w);
        if (!failed) {
            assert_int_equal(rc, CF_OK);
            break;
        }
        assert_int_equal(rc, CF_ERR_NOMEM);
    }
    cf_job_verifier_destroy(&v);
}

int main(void)
{
    json_set_alloc_funcs(cf_mem_malloc, cf_mem_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_refusals_signer),
        cmocka_unit_test(test_refusals_claims),
        cmocka_unit_test(test_signer_swaps),
        cmocka_unit_test(test_every_byte_flip_refused),
        cmocka_unit_test(test_signer_cache),
        cmocka_unit_test(test_key_types),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
