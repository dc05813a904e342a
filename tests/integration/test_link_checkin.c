/*  test_link_checkin - jobs over HTTPS: the check-in answer carries the agent's open jobs
    (signed for it, secrets sealed to its CURVE key), a protocol level in the check-in
    upgrades too_old entries, an agent in attention is offered the current certificate, an
    install check ("jobs": false) gets no jobs, and POST /agent/report stores a report and
    acknowledges it  */
#include "cf_test.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cf_db_archive.h"
#include "cf_db_cert.h"
#include "cf_itest_https.h"
#include "cf_itest_link.h"
#include "cf_link_build.h"
#include "cf_mem.h"

#define S_BODY 65536

static cf_itest_link_t *const s = &cf_itest_link;
static cf_itest_cert_t s_agent1, s_agent3, s_old4;

static int s_setup(void **state)
{
    (void) state;
    cf_itest_link_setup("link-checkin");
    cf_issue_t r1 = {.component = CF_COMPONENT_AGENT, .name = "agent-1"};
    cf_issue_t r3 = {.component = CF_COMPONENT_AGENT, .name = "agent-3"};
    cf_issue_t r4 = {.component = CF_COMPONENT_AGENT, .name = "agent-4"};
    cf_itest_cert_write(s->ca, &r1, s->dir, "agent1", &s_agent1);
    cf_itest_cert_write(s->ca, &r3, s->dir, "agent3", &s_agent3);
    cf_itest_cert_write(s->ca, &r4, s->dir, "old4", &s_old4);
    return 0;
}

static int s_teardown(void **state)
{
    cf_itest_cert_free(&s_agent1);
    cf_itest_cert_free(&s_agent3);
    cf_itest_cert_free(&s_old4);
    return cf_itest_link_teardown(state);
}

/* POST path with body as cert; the answer into out (S_BODY); the HTTP status. */
static int s_post(const cf_itest_cert_t *cert, const char *path, const char *body, char *out)
{
    char args[4096];
    snprintf(args, sizeof(args),
             "--cacert ca.pem --resolve %s:%d:127.0.0.1 --cert '%s' --key '%s' -X POST "
             "-H 'Content-Type: application/json' -d '%s' 'https://%s:%d%s'",
             s->srv.alias, s->srv.port, cert->pem, cert->key, body, s->srv.alias, s->srv.port,
             path);
    return cf_itest_curl(s->dir, args, out, S_BODY);
}

/* The job with id in the answer's "jobs", verified as agent i; NULL when it is not there. */
static cf_job_t *s_answer_job(const char *answer, const char *id, size_t i)
{
    json_t *j = json_loads(answer, 0, NULL);
    assert_non_null(j);
    json_t *jobs = json_object_get(j, "jobs"), *e = NULL;
    assert_true(json_is_array(jobs));
    cf_job_t *found = NULL;
    size_t k;
    json_array_foreach(jobs, k, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "id")), id) != 0)
            continue;
        char *text = json_dumps(e, JSON_COMPACT);
        cf_msg_t m;
        cf_msg_init(&m, CF_MSG_JOB);
        snprintf(m.job_id, sizeof(m.job_id), "%s", id);
        assert_int_equal(cf_msg_set_job(&m, text, strlen(text)), CF_OK);
        found = cf_itest_link_verify(&m, i);
        cf_msg_clear(&m);
        cf_mem_free(text);
    }
    json_decref(j);
    return found;
}

static void test_usage(void **state)
{
    (void) state;
    const char *agents[] = {"agent-1", "agent-3"};
    char inst[CF_JOB_ID_HEX + 1], fav[CF_JOB_ID_HEX + 1];
    cf_itest_link_job(CF_JOB_TYPE_INSTALL_CERT, "{}", 1, agents, 2, inst);
    cf_itest_link_job(CF_JOB_TYPE_SET_FAVORITE, "{\"favorite\":\"srv-l\"}", 1, agents, 2, fav);
    char *out = cf_mem_malloc(S_BODY);
    assert_int_equal(s_post(&s_agent1, "/api/v1/agent/checkin", "{\"protocol\":1}", out), 200);
    cf_job_t *job = s_answer_job(out, inst, 0);
    assert_non_null(job);
    char *key = NULL;
    size_t klen = 0;
    assert_int_equal(cf_job_open_key(job, s->agent_kp[0].pub, s->agent_kp[0].sec, &key, &klen),
                     CF_OK);
    cf_mem_free_secret(key, klen);
    cf_job_destroy(&job);
    job = s_answer_job(out, fav, 0);
    assert_non_null(job);
    assert_string_equal(cf_job_favorite(job), "srv-l");
    cf_job_destroy(&job);
    /* agent-3 has no CURVE key: the favorite comes, the install job cannot */
    assert_int_equal(s_post(&s_agent3, "/api/v1/agent/checkin", "{}", out), 200);
    assert_null(s_answer_job(out, inst, 2));
    job = s_answer_job(out, fav, 2);
    assert_non_null(job);
    cf_job_destroy(&job);
    cf_mem_free(out);
}

static void test_checkin_upgrades(void **state)
{
    (void) state;
    const char *agents[] = {"agent-1"};
    char id[CF_JOB_ID_HEX + 1];
    cf_itest_link_job(CF_JOB_TYPE_RECHECK, "{}", 2, agents, 1, id);
    assert_string_equal(cf_itest_link_state(id, "agent-1"), "too_old");
    char *out = cf_mem_malloc(S_BODY);
    assert_int_equal(s_post(&s_agent1, "/api/v1/agent/checkin", "{\"protocol\":1}", out), 200);
    assert_string_equal(cf_itest_link_state(id, "agent-1"), "too_old");
    assert_int_equal(s_post(&s_agent1, "/api/v1/agent/checkin", "{\"protocol\":2}", out), 200);
    assert_string_equal(cf_itest_link_state(id, "agent-1"), "pending");
    json_t *j = json_loads(out, 0, NULL);
    int there = 0;
    size_t k;
    json_t *e;
    json_array_foreach(json_object_get(j, "jobs"), k, e) there |=
        strcmp(json_string_value(json_object_get(e, "id")), id) == 0;
    json_decref(j);
    assert_true(there);
    cf_mem_free(out);
}

static void test_attention_gets_current_cert(void **state)
{
    (void) state;
    /* agent-4's certificate was replaced (archived): it checks in with it, lock attention */
    cf_cert_t *old = NULL;
    assert_int_equal(cf_cert_parse(s_old4.pem_text, s_old4.pem_len, &old), CF_OK);
    assert_int_equal(cf_db_archive_add(s->store, CF_COMPONENT_AGENT, "agent-4", old, time(NULL)),
                     CF_OK);
    cf_cert_destroy(&old);
    char *out = cf_mem_malloc(S_BODY);
    assert_int_equal(s_post(&s_old4, "/api/v1/agent/checkin", "{}", out), 200);
    assert_non_null(strstr(out, "\"lock\":\"attention\""));
    /* the offer: the current certificate (agent-4 has no record of its own: "shared") */
    cf_db_cert_t rec = {0};
    assert_int_equal(
        cf_db_cert_get(s->store, NULL, CF_COMPONENT_AGENT, CF_LINK_CERT_SHARED, &rec, NULL), CF_OK);
    char id[CF_JOB_ID_HEX + 1];
    cf_link_attention_id("agent-4", rec.fingerprint, id);
    cf_job_t *job = s_answer_job(out, id, 3);
    assert_non_null(job);
    char *chain = NULL, *key = NULL;
    size_t clen = 0, klen = 0;
    assert_int_equal(cf_job_chain_pem(job, &chain, &clen), CF_OK);
    assert_non_null(strstr(chain, rec.cert_pem));
    assert_int_equal(cf_job_open_key(job, s->agent_kp[3].pub, s->agent_kp[3].sec, &key, &klen),
                     CF_OK);
    cf_mem_free_secret(key, klen);
    cf_mem_free(chain);
    cf_job_destroy(&job);
    /* the same offer again keeps its id (the agent's replay check skips it) */
    assert_int_equal(s_post(&s_old4, "/api/v1/agent/checkin", "{}", out), 200);
    job = s_answer_job(out, id, 3);
    assert_non_null(job);
    cf_job_destroy(&job);
    cf_db_cert_clear(&rec);
    cf_mem_free(out);
}

/* An install check asks for no jobs: none are built or sent (not the open ones, not the
   upgrade of a too_old one, not an attention offer), and nothing moves; the next ordinary
   check-in gets them. "jobs" must be a boolean. */
static void test_install_check_asks_no_jobs(void **state)
{
    (void) state;
    const char *agents[] = {"agent-1"};
    char inst[CF_JOB_ID_HEX + 1], old[CF_JOB_ID_HEX + 1];
    cf_itest_link_job(CF_JOB_TYPE_INSTALL_CERT, "{}", 1, agents, 1, inst);
    cf_itest_link_job(CF_JOB_TYPE_RECHECK, "{}", 3, agents, 1, old);
    assert_string_equal(cf_itest_link_state(old, "agent-1"), "too_old");
    char *out = cf_mem_malloc(S_BODY);
    assert_int_equal(
        s_post(&s_agent1, "/api/v1/agent/checkin", "{\"protocol\":3,\"jobs\":false}", out), 200);
    assert_non_null(strstr(out, "\"lock\":\"secure\""));
    assert_non_null(strstr(out, "\"jobs\":[]"));
    assert_string_equal(cf_itest_link_state(inst, "agent-1"), "pending");
    assert_string_equal(cf_itest_link_state(old, "agent-1"), "too_old");
    /* an agent in attention is not offered its current certificate in an install check */
    assert_int_equal(s_post(&s_old4, "/api/v1/agent/checkin", "{\"jobs\":false}", out), 200);
    assert_non_null(strstr(out, "\"lock\":\"attention\""));
    assert_non_null(strstr(out, "\"jobs\":[]"));
    /* the ordinary check-in after it: both jobs */
    assert_int_equal(
        s_post(&s_agent1, "/api/v1/agent/checkin", "{\"protocol\":3,\"jobs\":true}", out), 200);
    cf_job_t *job = s_answer_job(out, inst, 0);
    assert_non_null(job);
    cf_job_destroy(&job);
    assert_string_equal(cf_itest_link_state(old, "agent-1"), "pending");
    job = s_answer_job(out, old, 0);
    assert_non_null(job);
    cf_job_destroy(&job);
    assert_int_equal(s_post(&s_agent1, "/api/v1/agent/checkin", "{\"jobs\":\"no\"}", out), 400);
    assert_non_null(strstr(out, "jobs a boolean"));
    cf_mem_free(out);
}

static void test_report_over_https(void **state)
{
    (void) state;
    const char *agents[] = {"agent-1"};
    char id[CF_JOB_ID_HEX + 1], body[512];
    cf_itest_link_job(CF_JOB_TYPE_RECHECK, "{}", 1, agents, 1, id);
    char *out = cf_mem_malloc(S_BODY);
    snprintf(body, sizeof(body), "{\"job\":\"%s\",\"outcome\":\"failed\",\"reason\":\"no disk\"}",
             id);
    assert_int_equal(s_post(&s_agent1, "/api/v1/agent/report", body, out), 200);
    assert_non_null(strstr(out, "\"state\":\"failed\""));
    assert_non_null(strstr(out, "\"acked\":true"));
    assert_string_equal(cf_itest_link_state(id, "agent-1"), "failed");
    /* a later success replaces the failure */
    snprintf(body, sizeof(body),
             "{\"job\":\"%s\",\"outcome\":\"installed\",\"fingerprint\":\"%s\"}", id, s_agent1.fp);
    assert_int_equal(s_post(&s_agent1, "/api/v1/agent/report", body, out), 200);
    assert_string_equal(cf_itest_link_state(id, "agent-1"), "installed");
    /* a job this agent does not have: acknowledged, nothing stored */
    assert_int_equal(s_post(&s_agent3, "/api/v1/agent/report", body, out), 200);
    assert_non_null(strstr(out, "\"state\":null"));
    /* refusals: no reason for a failure, a bad outcome, a bad id, another agent's id */
    snprintf(body, sizeof(body), "{\"job\":\"%s\",\"outcome\":\"failed\"}", id);
    assert_int_equal(s_post(&s_agent1, "/api/v1/agent/report", body, out), 400);
    snprintf(body, sizeof(body), "{\"job\":\"%s\",\"outcome\":\"maybe\"}", id);
    assert_int_equal(s_post(&s_agent1, "/api/v1/agent/report", body, out), 400);
    assert_int_equal(s_post(&s_agent1, "/api/v1/agent/report",
                            "{\"job\":\"12\",\"outcome\":\"installed\"}", out),
                     400);
    snprintf(body, sizeof(body), "{\"id\":\"agent-2\",\"job\":\"%s\",\"outcome\":\"installed\"}",
             id);
    assert_int_equal(s_post(&s_agent1, "/api/v1/agent/report", body, out), 403);
    cf_mem_free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_checkin_upgrades),
        cmocka_unit_test(test_attention_gets_current_cert),
        cmocka_unit_test(test_install_check_asks_no_jobs),
        cmocka_unit_test(test_report_over_https),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
