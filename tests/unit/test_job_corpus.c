/*  test_job_corpus - the fuzz_job seeds: valid under fuzz_job's fixture, and how to remake them  */
#include "cf_test.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_ca.h"
#include "cf_job.h"
#include "cf_mem.h"

/* fuzz_job's fixture (tests/fuzz/fuzz_job.c holds the same CA certificate and agent keys).
   Test material only, never a real CA. Run with CF_WRITE_JOB_SEEDS=1 to rewrite the seeds
   in tests/fuzz/corpus/job after a change to the job format. */
#define FUZZ_AGENT "fuzz-agent"
#define FUZZ_NOW   1767312000 /* what fuzz_job checks at */
#define CA_NOW     1767225600 /* when the CA was made; server certificates are issued then */
static const char s_ca_key[] = "-----BEGIN PRIVATE KEY-----\n"
                               "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgMMxxx7um6ViQTHeR\n"
                               "qPf/WJJQwTBpX8fiFlyfLQLiCP+hRANCAATZkHcdOs9XswOes5GvqLG7ECaMoV56\n"
                               "P744iK0jAHxZj0yis5tcTQhvD0i/7uewhCkzOCsS3EkXqqJKUTMVzY3r\n"
                               "-----END PRIVATE KEY-----\n";
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

static cf_cert_t *s_ca_cert;

static int s_setup(void **state)
{
    (void) state;
    return cf_cert_parse(s_ca_pem, sizeof(s_ca_pem) - 1, &s_ca_cert) == CF_OK ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void) state;
    cf_cert_destroy(&s_ca_cert);
    return 0;
}

static cf_err_t s_seen(void *ctx, const char *job_id)
{
    (void) ctx;
    return strncmp(job_id, "ff", 2) == 0 ? CF_ERR_EXISTS : CF_OK; /* as fuzz_job answers */
}

/* How fuzz_job sees one input: the agent's verdict at FUZZ_NOW. */
static cf_err_t s_verdict(const void *buf, size_t len, cf_why_t *why)
{
    cf_job_t *job = NULL;
    cf_err_t rc = cf_job_verify(buf, len, s_ca_cert, FUZZ_AGENT, FUZZ_NOW, s_seen, NULL, &job, why);
    if (rc == CF_OK && cf_job_form(job) == CF_JOB_FORM_PEM) { /* sealed to the fixture key */
        char *key = NULL;
        size_t key_len = 0;
        assert_int_equal(cf_job_open_key(job, s_agent_pub, s_agent_sec, &key, &key_len), CF_OK);
        cf_mem_free_secret(key, key_len);
    }
    cf_job_destroy(&job);
    return rc;
}

/* An agent checks a seed exactly as fuzz_job does. */
static void test_usage(void **state)
{
    (void) state;
    char path[1024];
    size_t len = 0;
    cf_test_src_path("fuzz/corpus/job/valid-recheck", path, sizeof(path));
    char *seed = cf_test_read_file(path, &len);
    cf_why_t why = {""};
    cf_err_t rc = s_verdict(seed, len, &why);
    if (rc != CF_OK)
        fail_msg("valid-recheck refused: %s", cf_why_text(&why, rc));
    free(seed);
}

/* One seed: a job as fuzz_job should see it ("valid-*" accepted, "refuse-*" refused). */
typedef struct {
    const char *name;   /* file name in corpus/job */
    cf_job_type_t type; /* job type */
    const char *agent;  /* target */
    const char *id;     /* NULL = random */
    long created;       /* seconds after FUZZ_NOW (negative: before) */
    long life;          /* expires - created */
    unsigned min_proto; /* 0 = 1 */
    cf_job_form_t form; /* install_cert payload form */
    int tamper;         /* change one payload byte after signing */
} s_seed_t;

#define DAY 86400L
static const s_seed_t s_seeds[] = {
    {"valid-install-pem", CF_JOB_TYPE_INSTALL_CERT, FUZZ_AGENT, NULL, -60, 30 * DAY, 0,
     CF_JOB_FORM_PEM, 0},
    {"valid-install-p12", CF_JOB_TYPE_INSTALL_CERT, FUZZ_AGENT, NULL, -60, 30 * DAY, 0,
     CF_JOB_FORM_P12, 0},
    {"valid-renew-csr", CF_JOB_TYPE_RENEW_CSR, FUZZ_AGENT, NULL, -60, DAY, 0, 0, 0},
    {"valid-set-favorite", CF_JOB_TYPE_SET_FAVORITE, FUZZ_AGENT, NULL, 0, DAY, 0, 0, 0},
    {"valid-recheck", CF_JOB_TYPE_RECHECK, FUZZ_AGENT, NULL, 120, DAY, 0, 0, 0},
    {"valid-shared-recheck", CF_JOB_TYPE_RECHECK, CF_JOB_AGENT_ALL, NULL, 0, DAY, 0, 0, 0},
    {"refuse-replay", CF_JOB_TYPE_RECHECK, FUZZ_AGENT, "ff0000000000000000000000000000f1", 0, DAY,
     0, 0, 0},
    {"refuse-other-agent", CF_JOB_TYPE_RECHECK, "other-agent", NULL, 0, DAY, 0, 0, 0},
    {"refuse-expired", CF_JOB_TYPE_RECHECK, FUZZ_AGENT, NULL, -7200, 3600, 0, 0, 0},
    {"refuse-newer-proto", CF_JOB_TYPE_RECHECK, FUZZ_AGENT, NULL, 0, DAY, CF_JOB_PROTO + 1, 0, 0},
    {"refuse-tampered", CF_JOB_TYPE_INSTALL_CERT, FUZZ_AGENT, NULL, 0, DAY, 0, CF_JOB_FORM_PEM, 1},
};
#define N_SEEDS (sizeof(s_seeds) / sizeof(s_seeds[0]))

/* The payload of an install seed: the signer's own chain and key stand in for the pushed
   certificate (any PEM will do for the job layer). */
static void s_payload(cf_job_t *job, const s_seed_t *seed, const cf_cert_t *cert,
                      const cf_key_t *key)
{
    char *chain = NULL, *key_pem = NULL;
    size_t chain_len = 0, key_len = 0;
    static const unsigned char p12[] = {0x30, 0x82, 0x01, 0x10, 0x02, 0x01, 0x03, 0x30};
    if (seed->type == CF_JOB_TYPE_SET_FAVORITE)
        assert_int_equal(cf_job_set_favorite(job, "srv2.fuzz"), CF_OK);
    if (seed->form == CF_JOB_FORM_P12)
        assert_int_equal(cf_job_set_install_p12(job, p12, sizeof(p12), "fuzz pw", s_agent_pub),
                         CF_OK);
    if (seed->form != CF_JOB_FORM_PEM)
        return;
    assert_int_equal(cf_cert_to_pem(cert, &chain, &chain_len), CF_OK);
    assert_int_equal(cf_key_to_pem(key, NULL, &key_pem, &key_len), CF_OK);
    assert_int_equal(cf_job_set_install_pem(job, chain, chain_len, key_pem, key_len, s_agent_pub),
                     CF_OK);
    cf_mem_free(chain);
    cf_mem_free_secret(key_pem, key_len);
}

static void s_write_seed(const char *dir, const s_seed_t *seed, const cf_cert_t *cert,
                         const cf_key_t *key)
{
    cf_job_spec_t spec = {.type = seed->type,
                          .id = seed->id,
                          .agent = seed->agent,
                          .issuer = "fuzz-server",
                          .created = FUZZ_NOW + seed->created,
                          .expires = FUZZ_NOW + seed->created + seed->life,
                          .min_proto = seed->min_proto};
    cf_job_t *job = NULL;
    char *wire = NULL, path[1300];
    size_t len = 0;
    assert_int_equal(cf_job_new(&spec, &job, NULL), CF_OK);
    s_payload(job, seed, cert, key);
    assert_int_equal(cf_job_sign(job, cert, key, NULL), CF_OK);
    assert_int_equal(cf_job_to_wire(job, &wire, &len), CF_OK);
    if (seed->tamper) {
        char *b = strstr(wire, "\"key\":\"") + 7 + 20;
        *b = *b == 'A' ? 'B' : 'A';
    }
    snprintf(path, sizeof(path), "%s/%s", dir, seed->name);
    cf_test_write_file(path, wire, len);
    cf_mem_free(wire);
    cf_job_destroy(&job);
}

/* Remake every seed under the fixture CA (only with CF_WRITE_JOB_SEEDS=1). */
static void s_write_seeds(const char *dir)
{
    cf_key_t *ca_key = NULL, *key = NULL;
    cf_ca_t *ca = NULL;
    cf_cert_t *cert = NULL;
    assert_int_equal(cf_key_from_pem(s_ca_key, sizeof(s_ca_key) - 1, NULL, &ca_key), CF_OK);
    assert_int_equal(cf_ca_load(s_ca_cert, ca_key, &ca), CF_OK);
    cf_issue_t req = {
        .component = CF_COMPONENT_SERVER, .name = "fuzz-server", .days = 3650, .now = CA_NOW};
    assert_int_equal(cf_ca_issue(ca, &req, &cert, &key), CF_OK);
    for (size_t i = 0; i < N_SEEDS; i++)
        s_write_seed(dir, &s_seeds[i], cert, key);
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
    cf_ca_destroy(&ca);
    cf_key_destroy(&ca_key);
}

/* Every committed seed gets the verdict its name promises, and no seed is missing. */
static void test_seeds(void **state)
{
    (void) state;
    char dir[1024], path[1300];
    cf_test_src_path("fuzz/corpus/job", dir, sizeof(dir));
    if (getenv("CF_WRITE_JOB_SEEDS"))
        s_write_seeds(dir);
    for (size_t i = 0; i < N_SEEDS; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, s_seeds[i].name);
        size_t len = 0;
        char *seed = cf_test_read_file(path, &len);
        cf_why_t why = {""};
        cf_err_t rc = s_verdict(seed, len, &why);
        int valid = strncmp(s_seeds[i].name, "valid-", 6) == 0;
        if ((rc == CF_OK) != valid)
            fail_msg("%s: %s (%s)", s_seeds[i].name, cf_err_name(rc), why.text);
        free(seed);
    }
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t files = 0;
    for (struct dirent *e = readdir(d); e; e = readdir(d))
        files += e->d_name[0] != '.';
    closedir(d);
    assert_int_equal(files, N_SEEDS);
}

/* fuzz_job.c checks against the same CA, agent and moment as this file. */
static void test_fixture_matches_fuzz_target(void **state)
{
    (void) state;
    char path[1024];
    size_t len = 0;
    cf_test_src_path("fuzz/fuzz_job.c", path, sizeof(path));
    char *src = cf_test_read_file(path, &len);
    char line[128];
    for (const char *p = s_ca_pem; *p; p = strchr(p, '\n') + 1) {
        snprintf(line, sizeof(line), "\"%.*s\\n\"", (int) (strchr(p, '\n') - p), p);
        if (!strstr(src, line))
            fail_msg("fuzz_job.c lacks CA line %s", line);
    }
    assert_non_null(strstr(src, "#define FUZZ_AGENT \"" FUZZ_AGENT "\""));
    snprintf(line, sizeof(line), "#define FUZZ_NOW   %d", FUZZ_NOW);
    assert_non_null(strstr(src, line));
    snprintf(line, sizeof(line), "0x%02x, 0x%02x, 0x%02x, 0x%02x", s_agent_sec[0], s_agent_sec[1],
             s_agent_sec[2], s_agent_sec[3]);
    assert_non_null(strstr(src, line));
    free(src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_seeds),
        cmocka_unit_test(test_fixture_matches_fuzz_target),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
