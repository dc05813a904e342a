/*  cf_agent_link - the real agent's broker link: cf_fleet with one agent (its own id and
    CURVE keypair), jobs carried out by cf_agent_jobs, a check-in after every (re)connect  */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cf_agent_int.h"
#include "cf_log.h"

/* A JOB from the broker: the same handling as a job from a check-in answer. */
static cf_err_t s_on_job(void *ctx, size_t agent, const char *job_id, const void *job, size_t len,
                         int64_t *expires_out, char fpr_out[CF_MSG_FPR_HEX + 1], cf_why_t *why)
{
    (void) agent;
    cf_agent_t *a = ctx;
    cf_agent_report_t r;
    char fpr[CF_AGENT_FPR_HEX + 1];
    pthread_mutex_lock(&a->mu);
    cf_agent_fpr(a, fpr);
    cf_err_t rc = cf_agent_jobs_take(a->jobs, job, len, time(NULL), fpr, why);
    int known = rc == CF_OK && cf_agent_jobs_outcome(a->jobs, job_id, &r, expires_out);
    cf_agent_write_metrics(a);
    pthread_mutex_unlock(&a->mu);
    if (rc != CF_OK)
        return rc;
    if (!known)
        return cf_why(why, CF_ERR_CORRUPT, "job %s: the job inside does not carry that id", job_id);
    snprintf(fpr_out, CF_MSG_FPR_HEX + 1, "%s", r.fpr);
    if (r.installed)
        return CF_OK;
    return cf_why(why, CF_ERR_STATE, "%s", r.reason);
}

static void s_on_acked(void *ctx, size_t agent, const char *job_id)
{
    (void) agent;
    cf_agent_t *a = ctx;
    cf_why_t why = {""};
    pthread_mutex_lock(&a->mu);
    cf_err_t rc = cf_agent_jobs_acked(a->jobs, job_id, time(NULL), &why);
    pthread_mutex_unlock(&a->mu);
    if (rc == CF_ERR_IO)
        cf_log(CF_LOG_WARN, "job=%s ack=unsaved why=\"%s\"", job_id, why.text);
}

static void s_on_link(void *ctx, size_t agent)
{
    (void) agent;
    cf_agent_t *a = ctx;
    cf_log(CF_LOG_INFO, "agent=%s broker=up checkin=now", a->id);
    atomic_store(&a->link_up, 1);
    atomic_store(&a->checkin_now, 1);
}

static void s_on_checkin(void *ctx, size_t agent, const char *job_id)
{
    (void) agent;
    (void) job_id;
    cf_agent_t *a = ctx;
    atomic_store(&a->checkin_now, 1);
}

cf_err_t cf_agent_link_start(cf_agent_t *a, cf_why_t *why)
{
    if (!a->n_brokers)
        return CF_OK; /* polling mode: check-ins only */
    cf_fleet_cfg_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.count = 1;
    cfg.brokers = a->brokers;
    cfg.n_brokers = a->n_brokers;
    cfg.ca = a->ca;
    cfg.sw_version = "cf-agent " CF_AGENT_VERSION;
    cfg.agent_id = a->id;
    cfg.keypair = &a->kp;
    cfg.on_job = s_on_job;
    cfg.on_acked = s_on_acked;
    cfg.on_link = s_on_link;
    cfg.on_checkin = s_on_checkin;
    cfg.hook_ctx = a;
    cf_err_t rc = cf_fleet_new(&cfg, &a->link, why);
    if (rc == CF_OK)
        cf_log(CF_LOG_INFO, "agent=%s brokers=%zu link=started", a->id, a->n_brokers);
    return rc;
}
