/*  fuzz_job - job parsing and the agent's verification against a fixed CA and agent id  */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cf_cert.h"
#include "cf_job.h"
#include "cf_mem.h"

/* The fixture every seed in corpus/job/ was made with; tests/unit/test_job_corpus.c holds
   the CA key, checks the seeds against this same fixture and rewrites them when run with
   CF_WRITE_JOB_SEEDS=1. Test material only: never a real CA or agent key. */
#define FUZZ_AGENT "fuzz-agent"
#define FUZZ_NOW   1767312000 /* 2026-01-02T00:00:00Z, inside every fixture's validity */
static const char s_ca_pem[] = "-----BEGIN CERTIFICATE-----\n"
                               "MIIBnzCCAUWgAwIBAgIRAMqM2ZO5SRkytiSBTFQ98UMwCgYIKoZIzj0EAwIwHDEa\n"
                               "MBgGA1UEAwwRY2VydGZsZWV0IGZ1enogQ0EwIBcNMjUxMjMxMjM1NTAwWhgPMjEy\n"
                               "NTEyMDgwMDAwMDBaMBwxGjAYBgNVBAMMEWNlcnRmbGVldCBmdXp6IENBMFkwEwYH\n"
                               "KoZIzj0CAQYIKoZIzj0DAQcDQgAE2ZB3HTrPV7MDnrORr6ixuxAmjKFeej++OIit\n"
                               "IwB8WY9MorObXE0Ibw9Iv+7nsIQpMzgrEtxJF6qiSlEzFc2N66NmMGQwEgYDVR0T\n"
                               "AQH/BAgwBgEB/wIBADAOBgNVHQ8BAf8EBAMCAYYwHQYDVR0OBBYEFNcRdIFGlmKh\n"
                               "oyUOVbIuVv4f8oyBMB8GA1UdIwQYMBaAFNcRdIFGlmKhoyUOVbIuVv4f8oyBMAoG\n"
                               "CCqGSM49BAMCA0gAMEUCIGi3TFWzSHWDNljfpdiB5xxiqMoLA21XPXlpt4cEct3c\n"
                               "AiEAlToFn22mIF2bHaRs3ZITxS5kIRsJAbEqq+VSqgg+BI8=\n"
                               "-----END CERTIFICATE-----\n";
static const unsigned char s_agent_pub[32] = {
    0x92, 0x3c, 0x82, 0x04, 0xae, 0xde, 0xea, 0xe5, 0x60, 0x99, 0x95, 0xc0, 0x73, 0x29, 0xe9, 0x70,
    0x50, 0x3c, 0x95, 0xb3, 0x54, 0x35, 0x90, 0x0c, 0xc1, 0xe3, 0xf5, 0xcb, 0x3f, 0xe4, 0xc5, 0x14};
static const unsigned char s_agent_sec[32] = {
    0x70, 0x40, 0x42, 0x90, 0x4b, 0xeb, 0x5d, 0x49, 0x4e, 0x54, 0xf4, 0x72, 0xb8, 0x5d, 0xdd, 0xc5,
    0x00, 0x3d, 0x10, 0x4e, 0x24, 0x7a, 0x37, 0x65, 0x84, 0x4b, 0x99, 0x78, 0xd6, 0x9b, 0x6f, 0x5e};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One verifier for the whole run, as in an agent: its signer cache is exercised too. */
static cf_job_verifier_t *s_verifier(void)
{
    static cf_job_verifier_t *v;
    if (v)
        return v;
    cf_cert_t *ca = NULL;
    if (cf_cert_parse(s_ca_pem, sizeof(s_ca_pem) - 1, &ca) != CF_OK ||
        cf_job_verifier_new(ca, FUZZ_AGENT, &v) != CF_OK)
        abort();
    cf_cert_destroy(&ca);
    return v;
}

/* Job ids starting with "ff" count as applied before: the replay path. */
static cf_err_t s_seen(void *ctx, const char *job_id)
{
    (void) ctx;
    return strncmp(job_id, "ff", 2) == 0 ? CF_ERR_EXISTS : CF_OK;
}

/* A job's wire form parses back to the same wire form. */
static void s_canonical(const cf_job_t *job)
{
    char *wire = NULL, *again = NULL;
    size_t len = 0, again_len = 0;
    cf_job_t *back = NULL;
    if (cf_job_to_wire(job, &wire, &len) != CF_OK ||
        cf_job_parse(wire, len, &back, NULL) != CF_OK ||
        cf_job_to_wire(back, &again, &again_len) != CF_OK || again_len != len ||
        memcmp(wire, again, len) != 0)
        abort();
    cf_mem_free(again);
    cf_mem_free(wire);
    cf_job_destroy(&back);
}

/* What an accepted install job carries opens with the agent's key (seeds are sealed to it;
   a mutated sealed field fails cleanly). */
static void s_open(const cf_job_t *job)
{
    char *pem = NULL, *pass = NULL;
    unsigned char *p12 = NULL;
    size_t len = 0;
    if (cf_job_form(job) == CF_JOB_FORM_PEM) {
        if (cf_job_chain_pem(job, &pem, &len) != CF_OK)
            abort();
        cf_mem_free(pem);
        if (cf_job_open_key(job, s_agent_pub, s_agent_sec, &pem, &len) == CF_OK)
            cf_mem_free_secret(pem, len);
    } else if (cf_job_form(job) == CF_JOB_FORM_P12 &&
               cf_job_open_p12(job, s_agent_pub, s_agent_sec, &p12, &len, &pass) == CF_OK) {
        cf_mem_free_secret(p12, len);
        cf_mem_free_secret_str(pass);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cf_job_t *job = NULL;
    cf_why_t why = {""};
    cf_err_t rc = cf_job_parse(data, size, &job, &why);
    if ((rc == CF_OK) != (job != NULL) || (rc != CF_OK && rc != CF_ERR_NOMEM && !why.text[0]))
        abort();
    if (job)
        s_canonical(job);
    cf_job_destroy(&job);

    why.text[0] = '\0';
    rc = cf_job_verifier_check(s_verifier(), data, size, FUZZ_NOW, s_seen, NULL, &job, &why);
    if ((rc == CF_OK) != (job != NULL) || (rc != CF_OK && !why.text[0]))
        abort();
    if (rc == CF_OK) {
        /* for this agent, or the shared copy of a type that may be shared (agent "*") */
        int mine = strcmp(cf_job_agent(job), FUZZ_AGENT) == 0 ||
                   (strcmp(cf_job_agent(job), CF_JOB_AGENT_ALL) == 0 &&
                    cf_job_type_shareable(cf_job_type(job)));
        if (!mine || cf_job_expires(job) <= FUZZ_NOW)
            abort();
        s_open(job);
    }
    cf_job_destroy(&job);
    return 0;
}
