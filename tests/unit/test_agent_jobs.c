/*  test_agent_jobs - the real agent's job handling: an install job written to disk and
    reported, refusals reported with their reason, never twice, the memory across restarts,
    acknowledgements, a damaged memory file  */
#include "cf_test.h"

#include <string.h>

#include "cf_agent_jobs.h"
#include "cf_ca.h"
#include "cf_key.h"
#include "cf_mem.h"

static cf_ca_t *s_ca;
static cf_cert_t *s_srv; /* job signer (serverAuth) */
static cf_key_t *s_srv_key;
static cf_curve_keypair_t s_kp;

static int s_setup(void **state)
{
    (void) state;
    cf_issue_t srv = {.component = CF_COMPONENT_SERVER, .name = "srv1"};
    if (cf_ca_create(NULL, &s_ca) != CF_OK ||
        cf_ca_issue(s_ca, &srv, &s_srv, &s_srv_key) != CF_OK ||
        cf_curve_keypair_new(&s_kp) != CF_OK)
        return -1;
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    cf_cert_destroy(&s_srv);
    cf_key_destroy(&s_srv_key);
    cf_ca_destroy(&s_ca);
    return 0;
}

/* A signed job as wire text (cf_mem_free). type install (with a fresh pair for agent-j, or
   a mismatched key when bad_key), favorite or recheck; to agent; ttl seconds from now. */
static char *s_job(cf_job_type_t type, const char *agent, long ttl, int bad_key,
                   const cf_cert_t *signer, const cf_key_t *signer_key, char *fpr_out)
{
    time_t now = time(NULL);
    cf_job_spec_t spec = {
        .type = type, .agent = agent, .issuer = "srv1", .created = now - 10, .expires = now + ttl};
    cf_job_t *job = NULL;
    assert_int_equal(cf_job_new(&spec, &job, NULL), CF_OK);
    if (type == CF_JOB_TYPE_INSTALL_CERT) {
        cf_issue_t req = {.component = CF_COMPONENT_AGENT, .name = "agent-j"};
        cf_cert_t *c = NULL;
        cf_key_t *k = NULL, *other = NULL;
        char *chain = NULL, *kpem = NULL;
        size_t clen = 0, klen = 0;
        assert_int_equal(cf_ca_issue(s_ca, &req, &c, &k), CF_OK);
        assert_int_equal(cf_key_generate(CF_KEY_P256, &other), CF_OK);
        assert_int_equal(cf_cert_to_pem(c, &chain, &clen), CF_OK);
        assert_int_equal(cf_key_to_pem(bad_key ? other : k, NULL, &kpem, &klen), CF_OK);
        assert_int_equal(cf_job_set_install_pem(job, chain, clen, kpem, klen, s_kp.pub), CF_OK);
        if (fpr_out)
            snprintf(fpr_out, 65, "%s", cf_cert_fingerprint(c));
        cf_mem_free(chain);
        cf_mem_free_secret(kpem, klen);
        cf_cert_destroy(&c);
        cf_key_destroy(&k);
        cf_key_destroy(&other);
    } else if (type == CF_JOB_TYPE_SET_FAVORITE) {
        assert_int_equal(cf_job_set_favorite(job, "srv2"), CF_OK);
    }
    char *wire = NULL;
    size_t len = 0;
    assert_int_equal(
        cf_job_sign(job, signer ? signer : s_srv, signer_key ? signer_key : s_srv_key, NULL),
        CF_OK);
    assert_int_equal(cf_job_to_wire(job, &wire, &len), CF_OK);
    cf_job_destroy(&job);
    return wire;
}

static char s_fav[80];
static void s_on_favorite(void *ctx, const char *alias)
{
    (void) ctx;
    snprintf(s_fav, sizeof(s_fav), "%s", alias);
}

static cf_agent_jobs_t *s_new(const char *dir)
{
    cf_agent_jobs_cfg_t cfg = {.dir = dir,
                               .id = "agent-j",
                               .ca = cf_ca_cert(s_ca),
                               .kp = &s_kp,
                               .favorite = s_on_favorite};
    cf_agent_jobs_t *j = NULL;
    assert_int_equal(cf_agent_jobs_new(&cfg, &j, NULL), CF_OK);
    return j;
}

static cf_err_t s_take(cf_agent_jobs_t *j, const char *wire)
{
    return cf_agent_jobs_take(j, wire, strlen(wire), time(NULL), "", NULL);
}

static void test_usage(void **state)
{
    (void) state;
    char dir[512], fpr[65];
    cf_test_tmpdir("agent_jobs", dir, sizeof(dir));
    cf_agent_jobs_t *j = s_new(dir);
    char *wire = s_job(CF_JOB_TYPE_INSTALL_CERT, "agent-j", 600, 0, NULL, NULL, fpr);
    assert_int_equal(s_take(j, wire), CF_OK);
    cf_agent_report_t r[4];
    assert_int_equal(cf_agent_jobs_pending(j, r, 4), 1);
    assert_int_equal(r[0].installed, 1);
    assert_string_equal(r[0].fpr, fpr);
    cf_cert_t *c = NULL;
    assert_int_equal(cf_agent_certs_current(dir, &c, NULL), CF_OK);
    assert_string_equal(cf_cert_fingerprint(c), fpr);
    cf_cert_destroy(&c);
    /* again before the ACK: not run twice, the one report stays */
    assert_int_equal(s_take(j, wire), CF_OK);
    assert_int_equal(cf_agent_jobs_pending(j, r, 4), 1);
    assert_int_equal(cf_agent_jobs_acked(j, r[0].job, time(NULL), NULL), CF_OK);
    assert_int_equal(cf_agent_jobs_pending(j, r, 4), 0);
    assert_int_equal(cf_agent_jobs_acked(j, r[0].job, time(NULL), NULL), CF_ERR_NOTFOUND);
    assert_non_null(strstr(cf_agent_jobs_last(j), "installed"));
    cf_agent_jobs_destroy(&j);
    cf_agent_jobs_destroy(&j); /* safe to repeat */
    /* after a restart the same job, sent again (a second server, a HELLO before the entry
       was final), is not run again: its original outcome is reported again */
    j = s_new(dir);
    assert_non_null(strstr(cf_agent_jobs_last(j), "installed"));
    assert_int_equal(s_take(j, wire), CF_OK);
    assert_int_equal(cf_agent_jobs_pending(j, r, 4), 1);
    assert_int_equal(r[0].installed, 1);
    assert_string_equal(r[0].reason, "");
    assert_string_equal(r[0].fpr, fpr);
    cf_mem_free(wire);
    cf_agent_jobs_destroy(&j);
}

/* A signed reissue job for agent carrying a certificate for key named name (the CA: ca). */
static char *s_reissue_job(cf_ca_t *ca, const char *name, const cf_key_t *key)
{
    time_t now = time(NULL);
    cf_job_spec_t spec = {.type = CF_JOB_TYPE_REISSUE,
                          .agent = "agent-j",
                          .issuer = "srv1",
                          .created = now - 10,
                          .expires = now + 600,
                          .min_proto = 2};
    cf_issue_t req = {.component = CF_COMPONENT_AGENT, .name = name, .public_key = key};
    unsigned char *der = NULL;
    size_t len = 0, wlen = 0;
    char *wire = NULL;
    cf_job_t *job = NULL;
    assert_int_equal(cf_ca_issue_der(ca, &req, &der, &len, NULL), CF_OK);
    assert_int_equal(cf_job_new(&spec, &job, NULL), CF_OK);
    assert_int_equal(cf_job_set_reissue(job, der, len), CF_OK);
    assert_int_equal(cf_job_sign(job, s_srv, s_srv_key, NULL), CF_OK);
    assert_int_equal(cf_job_to_wire(job, &wire, &wlen), CF_OK);
    cf_job_destroy(&job);
    cf_mem_free(der);
    return wire;
}

/* reissue: a new certificate for the key on disk replaces cert.pem, key.pem stays; one for
   another key, another agent or from another CA is refused and changes nothing; without
   a key on disk there is nothing to reissue for. */
static void test_reissue(void **state)
{
    (void) state;
    char dir[512], before[65];
    cf_test_tmpdir("agent_jobs_reissue", dir, sizeof(dir));
    cf_agent_jobs_t *j = s_new(dir);
    cf_agent_report_t r[4];
    cf_key_t *key = NULL, *other = NULL;
    assert_int_equal(cf_key_generate(CF_KEY_P256, &key), CF_OK);
    assert_int_equal(cf_key_generate(CF_KEY_P256, &other), CF_OK);
    char *wire = s_reissue_job(s_ca, "agent-j", key);
    assert_int_equal(s_take(j, wire), CF_OK); /* no key installed yet */
    assert_int_equal(cf_agent_jobs_pending(j, r, 4), 1);
    assert_int_equal(r[0].installed, 0);
    assert_non_null(strstr(r[0].reason, "no key installed"));
    assert_int_equal(cf_agent_jobs_acked(j, r[0].job, time(NULL), NULL), CF_OK);
    cf_mem_free(wire);
    /* the agent's pair in use */
    cf_issue_t req = {.component = CF_COMPONENT_AGENT, .name = "agent-j", .public_key = key};
    cf_cert_t *c = NULL;
    char *pem = NULL, *kpem = NULL;
    size_t plen = 0, klen = 0;
    assert_int_equal(cf_ca_issue(s_ca, &req, &c, NULL), CF_OK);
    assert_int_equal(cf_cert_to_pem(c, &pem, &plen), CF_OK);
    assert_int_equal(cf_key_to_pem(key, NULL, &kpem, &klen), CF_OK);
    assert_int_equal(cf_agent_certs_install(dir, pem, plen, kpem, klen, NULL, NULL, before, NULL),
                     CF_OK);
    cf_cert_destroy(&c);
    cf_mem_free(pem);
    /* refusals: nothing changes */
    cf_ca_t *rogue = NULL;
    assert_int_equal(cf_ca_create(NULL, &rogue), CF_OK);
    char *bad[] = {s_reissue_job(s_ca, "agent-j", other), s_reissue_job(s_ca, "agent-k", key),
                   s_reissue_job(rogue, "agent-j", key)};
    const char *reasons[] = {"not for the key", "not for agent agent-j", "chain does not verify"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(s_take(j, bad[i]), CF_OK);
        assert_int_equal(cf_agent_jobs_pending(j, r, 4), 1);
        assert_int_equal(r[0].installed, 0);
        if (!strstr(r[0].reason, reasons[i]))
            fail_msg("refusal %zu: %s", i, r[0].reason);
        assert_int_equal(cf_agent_jobs_acked(j, r[0].job, time(NULL), NULL), CF_OK);
        assert_int_equal(cf_agent_certs_current(dir, &c, NULL), CF_OK);
        assert_string_equal(cf_cert_fingerprint(c), before);
        cf_cert_destroy(&c);
        cf_mem_free(bad[i]);
    }
    cf_ca_destroy(&rogue);
    /* the good one: new certificate, same key */
    wire = s_reissue_job(s_ca, "agent-j", key);
    assert_int_equal(s_take(j, wire), CF_OK);
    assert_int_equal(cf_agent_jobs_pending(j, r, 4), 1);
    assert_int_equal(r[0].installed, 1);
    assert_string_not_equal(r[0].fpr, before);
    assert_int_equal(cf_agent_certs_current(dir, &c, NULL), CF_OK);
    assert_string_equal(cf_cert_fingerprint(c), r[0].fpr);
    assert_int_equal(cf_cert_matches_key(c, key), CF_OK);
    cf_cert_destroy(&c);
    char path[600];
    snprintf(path, sizeof(path), "%s/" CF_AGENT_KEY_FILE, dir);
    size_t n = 0;
    char *on_disk = cf_test_read_file(path, &n);
    assert_int_equal(n, klen);
    assert_memory_equal(on_disk, kpem, klen); /* the key never changed */
    free(on_disk);
    cf_mem_free_secret(kpem, klen);
    cf_mem_free(wire);
    cf_key_destroy(&key);
    cf_key_destroy(&other);
    cf_agent_jobs_destroy(&j);
}

/* Refusals and failures: each reported failed with its reason, nothing installed. */
static void test_refusals(void **state)
{
    (void) state;
    char dir[512];
    cf_test_tmpdir("agent_jobs_refuse", dir, sizeof(dir));
    cf_agent_jobs_t *j = s_new(dir);
    struct {
        char *wire;
        const char *reason;
    } cases[] = {
        {s_job(CF_JOB_TYPE_INSTALL_CERT, "agent-j", 600, 1, NULL, NULL, NULL), "does not belong"},
        {s_job(CF_JOB_TYPE_INSTALL_CERT, "agent-other", 600, 0, NULL, NULL, NULL), "addressed"},
        {s_job(CF_JOB_TYPE_INSTALL_CERT, "agent-j", -5, 0, NULL, NULL, NULL), "expired"},
        {s_job(CF_JOB_TYPE_RENEW_CSR, "agent-j", 600, 0, NULL, NULL, NULL), "renewal"},
    };
    size_t n = sizeof(cases) / sizeof(cases[0]);
    for (size_t c = 0; c < n; c++) {
        assert_int_equal(s_take(j, cases[c].wire), CF_OK);
        cf_agent_report_t r[8];
        assert_int_equal(cf_agent_jobs_pending(j, r, 8), c + 1);
        assert_int_equal(r[c].installed, 0);
        assert_non_null(strstr(r[c].reason, cases[c].reason));
        cf_mem_free(cases[c].wire);
    }
    cf_cert_t *cert = NULL;
    assert_int_equal(cf_agent_certs_current(dir, &cert, NULL), CF_ERR_NOTFOUND);
    /* a tampered job: one byte of the signed text changed */
    char *wire = s_job(CF_JOB_TYPE_SET_FAVORITE, "agent-j", 600, 0, NULL, NULL, NULL);
    char *p = strstr(wire, "srv2");
    assert_non_null(p);
    p[3] = '3';
    assert_int_equal(s_take(j, wire), CF_OK);
    assert_string_equal(s_fav, "");
    p[3] = '2';
    assert_int_equal(s_take(j, wire), CF_OK); /* its failed report still waits: not run */
    assert_string_equal(s_fav, "");
    cf_agent_report_t w[8];
    size_t k = cf_agent_jobs_pending(j, w, 8);
    assert_int_equal(cf_agent_jobs_acked(j, w[k - 1].job, time(NULL), NULL), CF_OK);
    assert_int_equal(s_take(j, wire), CF_OK); /* a failed job runs again (a retry) */
    assert_string_equal(s_fav, "srv2");
    /* text that is no job at all: logged, nothing to report */
    assert_int_equal(cf_agent_jobs_take(j, "{}", 2, time(NULL), "", NULL), CF_OK);
    cf_agent_report_t r[8];
    assert_int_equal(cf_agent_jobs_pending(j, r, 8), n + 1); /* 4 refusals, the favorite */
    cf_mem_free(wire);
    cf_agent_jobs_destroy(&j);
}

static void test_bad_memory_and_config(void **state)
{
    (void) state;
    char dir[512], path[600];
    cf_test_tmpdir("agent_jobs_bad", dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/%s", dir, CF_AGENT_JOBS_FILE);
    static const char *bad[] = {"{}", "[{}]",
                                "[{\"job\":\"ab\",\"installed\":true,\"reason\":\"\","
                                "\"fpr\":\"\",\"expires\":0,\"acked\":true}]"};
    cf_agent_jobs_cfg_t cfg = {.dir = dir, .id = "agent-j", .ca = cf_ca_cert(s_ca), .kp = &s_kp};
    for (size_t c = 0; c < sizeof(bad) / sizeof(bad[0]); c++) {
        cf_test_write_file(path, bad[c], strlen(bad[c]));
        cf_agent_jobs_t *j = (cf_agent_jobs_t *) 0x1;
        cf_why_t why = {""};
        assert_int_equal(cf_agent_jobs_new(&cfg, &j, &why), CF_ERR_CORRUPT);
        assert_null(j);
        assert_non_null(strstr(why.text, "damaged"));
    }
    cf_agent_jobs_t *j = NULL;
    cfg.ca = NULL;
    assert_int_equal(cf_agent_jobs_new(&cfg, &j, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_agent_jobs_take(NULL, "{}", 2, 0, "", NULL), CF_ERR_INVALID);
    assert_int_equal(cf_agent_jobs_pending(NULL, NULL, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_reissue),
        cmocka_unit_test(test_bad_memory_and_config),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
