/*  cf_test_job - the job fixture the job unit tests share: a CA, a server and an agent
    certificate, the agent's CURVE key pair, and helpers to build and sign jobs  */
#include "cf_test_job.h"

#include <string.h>

#include <sodium.h>

#include "cf_mem.h"
#include "cf_test.h"

int cf_test_job_setup(cf_test_job_t *f)
{
    f->now = time(NULL);
    cf_issue_t server = {.component = CF_COMPONENT_SERVER, .name = "srv1.example.org"};
    cf_issue_t agent = {.component = CF_COMPONENT_AGENT, .name = CF_TEST_JOB_AGENT};
    if (cf_ca_create(NULL, &f->ca) != CF_OK ||
        cf_ca_issue(f->ca, &server, &f->server, &f->server_key) != CF_OK ||
        cf_ca_issue(f->ca, &agent, &f->agent, &f->agent_key) != CF_OK)
        return -1;
    crypto_box_keypair(f->pub, f->sec);
    return 0;
}

void cf_test_job_teardown(cf_test_job_t *f)
{
    cf_cert_destroy(&f->server);
    cf_key_destroy(&f->server_key);
    cf_cert_destroy(&f->agent);
    cf_key_destroy(&f->agent_key);
    cf_ca_destroy(&f->ca);
}

cf_err_t cf_test_job_never_seen(void *ctx, const char *job_id)
{
    (void) ctx;
    (void) job_id;
    return CF_OK;
}

/* A new job of the given type for CF_TEST_JOB_AGENT, valid for a day; payload filled in. */
cf_job_t *cf_test_job_new(const cf_test_job_t *f, cf_job_type_t type)
{
    cf_job_spec_t spec = {.type = type,
                          .agent = CF_TEST_JOB_AGENT,
                          .issuer = "srv1",
                          .created = f->now,
                          .expires = f->now + 86400};
    cf_job_t *job = NULL;
    cf_why_t why = {""};
    cf_err_t rc = cf_job_new(&spec, &job, &why);
    if (rc != CF_OK)
        fail_msg("cf_job_new: %s", cf_why_text(&why, rc));
    if (type == CF_JOB_TYPE_INSTALL_CERT)
        assert_int_equal(cf_job_set_install_pem(job, CF_TEST_JOB_CHAIN, strlen(CF_TEST_JOB_CHAIN),
                                                CF_TEST_JOB_KEY, strlen(CF_TEST_JOB_KEY), f->pub),
                         CF_OK);
    if (type == CF_JOB_TYPE_SET_FAVORITE)
        assert_int_equal(cf_job_set_favorite(job, "srv2.example.org"), CF_OK);
    if (type == CF_JOB_TYPE_REISSUE) {
        unsigned char *der = NULL; /* any certificate will do for the job layer */
        size_t len = 0;
        assert_int_equal(cf_cert_to_der(f->server, &der, &len), CF_OK);
        assert_int_equal(cf_job_set_reissue(job, der, len), CF_OK);
        cf_mem_free(der);
    }
    return job;
}

char *cf_test_job_signed_wire(const cf_test_job_t *f, cf_job_t *job, size_t *len)
{
    char *wire = NULL;
    cf_why_t why = {""};
    cf_err_t rc = cf_job_sign(job, f->server, f->server_key, &why);
    if (rc != CF_OK)
        fail_msg("cf_job_sign: %s", cf_why_text(&why, rc));
    assert_int_equal(cf_job_to_wire(job, &wire, len), CF_OK);
    return wire;
}

unsigned char *cf_test_job_issue(cf_ca_t *ca, const char *name, const cf_key_t *key, size_t *len)
{
    cf_issue_t req = {.component = CF_COMPONENT_AGENT, .name = name, .public_key = key};
    unsigned char *der = NULL;
    assert_int_equal(cf_ca_issue_der(ca, &req, &der, len, NULL), CF_OK);
    return der;
}

cf_job_t *cf_test_job_received_reissue(const cf_test_job_t *f, const unsigned char *der, size_t len)
{
    cf_job_t *job = NULL, *got = NULL;
    cf_job_spec_t spec = {.type = CF_JOB_TYPE_REISSUE,
                          .agent = CF_TEST_JOB_AGENT,
                          .issuer = "srv1",
                          .created = f->now,
                          .expires = f->now + 3600,
                          .min_proto = 2};
    assert_int_equal(cf_job_new(&spec, &job, NULL), CF_OK);
    assert_int_equal(cf_job_set_reissue(job, der, len), CF_OK);
    size_t wlen = 0;
    char *wire = cf_test_job_signed_wire(f, job, &wlen);
    cf_why_t why = {""};
    cf_err_t rc = cf_job_verify(wire, wlen, cf_ca_cert(f->ca), CF_TEST_JOB_AGENT, f->now + 1,
                                cf_test_job_never_seen, NULL, &got, &why);
    if (rc != CF_OK)
        fail_msg("reissue job refused: %s", cf_why_text(&why, rc));
    cf_mem_free(wire);
    cf_job_destroy(&job);
    return got;
}
