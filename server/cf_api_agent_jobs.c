/*  cf_api_agent_jobs - the jobs in a check-in answer and POST /agent/report (an agent's
    report over HTTPS when no broker answers)  */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cf_api_agents.h"
#include "cf_db_curve.h"
#include "cf_db_job.h"
#include "cf_link_agent.h"
#include "cf_log.h"
#include "cf_mem.h"
#include "cf_msg.h"

#define S_ATTENTION_TTL (24 * 3600) /* lifetime of the install job offered to "attention" */

typedef struct {
    cf_app_t *app; /* for the counter */
    json_t *jobs;  /* the array */
} s_jobs_t;

/* A signed job as a JSON object in the array. */
static void s_add(void *arg, const char *job_id, const char *wire, size_t len)
{
    s_jobs_t *j = arg;
    json_t *o = json_loadb(wire, len, 0, NULL);
    if (!o || json_array_append_new(j->jobs, o) != 0)
        cf_log(CF_LOG_WARN, "msg=\"job left out of the check-in answer\" job=%s", job_id);
    else
        cf_app_count(j->app, CF_APP_JOBS_CHECKIN, 1);
}

/* The material of the agent's current certificate: its own record, else the shared one. */
static cf_err_t s_current(cf_app_t *app, cf_store_t *store, const char *id, cf_link_params_t *p,
                          cf_link_install_t *in, cf_why_t *why)
{
    memset(p, 0, sizeof(*p));
    p->type = CF_JOB_TYPE_INSTALL_CERT;
    p->form = CF_JOB_FORM_PEM;
    snprintf(p->cert, sizeof(p->cert), "%s", id);
    cf_err_t rc = cf_link_install_load(store, cf_app_seal(app), id, CF_JOB_FORM_PEM, in, why);
    if (rc != CF_ERR_NOTFOUND)
        return rc;
    snprintf(p->cert, sizeof(p->cert), "%s", CF_LINK_CERT_SHARED);
    return cf_link_install_load(store, cf_app_seal(app), CF_LINK_CERT_SHARED, CF_JOB_FORM_PEM, in,
                                why);
}

/* The current certificate as an install job for an agent in attention (not stored: the
   agent's receipt and report for it are acknowledged and change nothing). */
static cf_err_t s_attention(cf_app_t *app, cf_store_t *store, cf_link_signer_t *signer,
                            const char *id, s_jobs_t *out, cf_why_t *why)
{
    unsigned char pub[CF_CURVE_KEY_LEN];
    cf_err_t rc = cf_db_curve_get(store, CF_ALLOW_AGENT, id, pub);
    if (rc == CF_ERR_NOTFOUND)
        return CF_OK; /* nothing can be sealed to it: it enrolls first */
    if (rc != CF_OK)
        return cf_why(why, rc, "CURVE key: %s", cf_why_text(cf_store_why(store), rc));
    cf_link_params_t p;
    cf_link_install_t in;
    char job_id[CF_JOB_ID_HEX + 1], *wire = NULL;
    size_t len = 0;
    CF_TRY(s_current(app, store, id, &p, &in, why));
    int64_t now = (int64_t) time(NULL);
    cf_link_attention_id(id, in.fingerprint, job_id);
    cf_link_job_t job = {job_id, "install_cert", NULL, now, now + S_ATTENTION_TTL, 1};
    if (!signer->cert)
        rc = cf_link_signer_load(store, cf_app_seal(app), cf_app_alias(app), signer, why);
    if (rc == CF_OK)
        rc = cf_link_build(&job, &p, id, &in, pub, signer, &wire, &len, why);
    if (rc == CF_OK)
        s_add(out, job_id, wire, len);
    cf_mem_free(wire);
    cf_link_install_clear(&in);
    return rc;
}

json_t *cf_api_agent_jobs(cf_app_t *app, cf_store_t *store, const char *id, int attention,
                          unsigned upgrade)
{
    s_jobs_t j = {app, json_array()};
    if (!j.jobs)
        return NULL;
    int64_t now = (int64_t) time(NULL);
    cf_link_signer_t signer = {0};
    cf_why_t why = {""};
    cf_err_t rc = CF_OK;
    if (upgrade)
        rc = cf_db_job_upgrade(store, id, upgrade, now, NULL);
    if (rc != CF_OK)
        cf_log(CF_LOG_WARN, "msg=\"protocol level not recorded\" agent=%s err=%s", id,
               cf_err_name(rc));
    rc = cf_link_agent_jobs(store, cf_app_seal(app), &signer, cf_app_alias(app), id, now, 0, s_add,
                            &j, NULL, &why);
    if (rc != CF_OK)
        cf_log(CF_LOG_WARN, "msg=\"open jobs left out of the check-in\" agent=%s err=%s why=\"%s\"",
               id, cf_err_name(rc), cf_why_text(&why, rc));
    rc = attention ? s_attention(app, store, &signer, id, &j, &why) : CF_OK;
    if (rc != CF_OK)
        cf_log(CF_LOG_WARN,
               "msg=\"certificate not offered to agent in attention\" agent=%s "
               "err=%s why=\"%s\"",
               id, cf_err_name(rc), cf_why_text(&why, rc));
    cf_link_signer_clear(&signer);
    return j.jobs;
}

/* ---- POST /api/v1/agent/report ----------------------------------------------------------- */

typedef struct {
    const char *job;      /* job id */
    cf_job_event_t event; /* report_installed or report_failed */
    const char *reason;   /* failed: 1..CF_MSG_TEXT_MAX printable bytes; else NULL */
    const char *fpr;      /* fingerprint in use (64 hex) or NULL */
} s_report_t;

static int s_is_hex(const char *s, size_t len)
{
    return s && strlen(s) == len && strspn(s, "0123456789abcdef") == len;
}

/* The report's fields; CF_ERR_INVALID with why. */
static cf_err_t s_report_parse(const json_t *body, s_report_t *r, cf_why_t *why)
{
    memset(r, 0, sizeof(*r));
    r->job = json_string_value(json_object_get(body, "job"));
    const char *outcome = json_string_value(json_object_get(body, "outcome"));
    const json_t *jr = json_object_get(body, "reason"), *jf = json_object_get(body, "fingerprint");
    if (!s_is_hex(r->job, CF_JOB_ID_HEX) || strspn(r->job, "0") == CF_JOB_ID_HEX)
        return cf_why(why, CF_ERR_INVALID, "job must be a job id (32 lowercase hex)");
    if (!outcome || (strcmp(outcome, "installed") != 0 && strcmp(outcome, "failed") != 0))
        return cf_why(why, CF_ERR_INVALID, "outcome must be installed or failed");
    r->event = outcome[0] == 'i' ? CF_JOB_EV_REPORT_INSTALLED : CF_JOB_EV_REPORT_FAILED;
    if (jf && !json_is_null(jf) && !s_is_hex(json_string_value(jf), CF_DB_FP_LEN))
        return cf_why(why, CF_ERR_INVALID, "fingerprint must be 64 lowercase hex or null");
    r->fpr = json_string_value(jf);
    if (r->event == CF_JOB_EV_REPORT_INSTALLED)
        return CF_OK;
    r->reason = json_string_value(jr);
    if (!r->reason || cf_db_check_text(r->reason, 1, CF_MSG_TEXT_MAX) != CF_OK)
        return cf_why(why, CF_ERR_INVALID,
                      "a failed report needs a reason of 1..%d printable "
                      "characters",
                      CF_MSG_TEXT_MAX);
    return CF_OK;
}

void cf_api_agent_report(cf_req_t *req, void *arg)
{
    cf_app_t *app = arg;
    const char *id = NULL, *version = NULL;
    if (!cf_api_agent_identity(req, cf_req_peer(req), &id, &version))
        return;
    s_report_t r;
    cf_why_t why = {""};
    cf_err_t rc = s_report_parse(cf_req_json(req), &r, &why);
    if (rc != CF_OK) {
        cf_app_reply_err(req, rc, &why, "report");
        return;
    }
    cf_db_job_tr_t tr = {r.job, id, r.event, r.reason};
    cf_db_job_res_t res;
    memset(&res, 0, sizeof(res));
    cf_store_t *store = cf_app_store_take(app);
    unsigned long conns = cf_store_reconnects(store);
    rc = cf_db_job_transition(store, (int64_t) time(NULL), &tr, 1, &res);
    if (rc == CF_OK)
        rc = cf_store_durable(store, conns); /* not on a replica yet: the agent sends again */
    if (rc != CF_OK) {
        cf_app_reply_err(req, rc, cf_store_why(store), "report");
        cf_app_store_give(app, store);
        return;
    }
    cf_app_store_give(app, store);
    cf_app_count(app, CF_APP_LINK_REPORTS, 1);
    cf_log(CF_LOG_INFO, "msg=\"report over HTTPS\" agent=%s job=%s event=%s result=%s to=%s fp=%s",
           id, r.job, cf_job_fsm_event_name(r.event), cf_err_name(res.rc),
           res.rc == CF_OK ? cf_job_fsm_state_name(res.to) : "-", r.fpr ? r.fpr : "-");
    /* agent facts are always acknowledged: an unknown job or a refused move is "no change" */
    json_t *body = json_pack("{s:s,s:s?,s:b}", "job", r.job, "state",
                             res.rc == CF_OK ? cf_job_fsm_state_name(res.to) : NULL, "acked", 1);
    if (!body)
        cf_app_reply_err(req, CF_ERR_NOMEM, NULL, "answer");
    else
        cf_req_reply_json(req, 200, body);
}
