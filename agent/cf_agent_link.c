/*  cf_agent_link - the real agent's broker link: cf_fleet with one agent (its own id and
    CURVE keypair), tls:// brokers through local relay clients with the agent's certificate,
    jobs carried out by cf_agent_jobs, a check-in after every (re)connect  */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cf_agent_int.h"
#include "cf_agent_state.h"
#include "cf_file.h"
#include "cf_key.h"
#include "cf_log.h"
#include "cf_mem.h"

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
    cf_agent_trim_soon(a);
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
    /* a job changed the certificate a TLS relay presents: once its report is stored, a
       round restarts the link with the new one */
    if (cf_agent_link_stale(a))
        atomic_store(&a->checkin_now, 1);
    pthread_mutex_unlock(&a->mu);
    cf_agent_trim_soon(a); /* the job's report is done */
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
    cf_agent_trim_soon(a); /* after the connect and the check-in it brings */
}

static void s_on_checkin(void *ctx, size_t agent, const char *job_id)
{
    (void) agent;
    (void) job_id;
    cf_agent_t *a = ctx;
    atomic_store(&a->checkin_now, 1);
}

/* The PEMs a relay presents: the CA, the agent's certificate chain and key. */
typedef struct {
    char *ca, *cert, *key_pem;        /* owned; key_pem is a secret */
    size_t ca_len, cert_len, key_len; /* bytes */
    cf_key_t *key;                    /* the agent's private key */
} s_tls_t;

static void s_tls_clear(s_tls_t *t)
{
    cf_mem_free(t->ca);
    cf_mem_free(t->cert);
    cf_mem_free_secret(t->key_pem, t->key_len);
    cf_key_destroy(&t->key);
    memset(t, 0, sizeof(*t));
}

static cf_err_t s_tls_load(const cf_agent_t *a, s_tls_t *t, cf_why_t *why)
{
    if (access(a->cert_path, R_OK) != 0 || access(a->key_path, R_OK) != 0)
        return cf_why(why, CF_ERR_NOTFOUND,
                      "the agent has no certificate yet (a TLS broker wants one: enroll, or an "
                      "install job brings it)");
    CF_TRY(cf_file_read(a->ca_path, CF_RELAY_MAX_PEM, &t->ca, &t->ca_len, why));
    CF_TRY(cf_file_read(a->cert_path, CF_RELAY_MAX_PEM, &t->cert, &t->cert_len, why));
    CF_TRY(cf_file_read(a->key_path, CF_AGENT_CERTS_MAX, &t->key_pem, &t->key_len, why));
    cf_err_t rc = cf_key_from_pem(t->key_pem, t->key_len, NULL, &t->key);
    return rc == CF_OK ? CF_OK : cf_why(why, rc, "%s holds no usable key", a->key_path);
}

/* Broker i through a local relay (its loopback endpoint into *out). */
static cf_err_t s_relay(cf_agent_t *a, size_t i, const s_tls_t *t, cf_curve_broker_t *out,
                        cf_why_t *why)
{
    char text[CF_CURVE_TEXT_MAX + 1];
    CF_TRY(cf_agent_broker_format(&a->brokers[i], 1, text, sizeof(text)));
    return cf_relay_client_for(text, strlen(text), t->ca, t->ca_len, t->cert, t->cert_len, t->key,
                               &a->relays[i], out, why);
}

/* The endpoints the link uses: tcp:// entries as they are, tls:// ones through a relay
   (left out, logged, without a certificate or when the relay cannot start). */
static size_t s_endpoints(cf_agent_t *a, cf_curve_broker_t *use)
{
    s_tls_t t = {0};
    cf_why_t twhy = {""};
    cf_err_t trc = CF_OK;
    int loaded = 0;
    size_t n = 0;
    for (size_t i = 0; i < a->n_brokers; i++) {
        if (!a->broker_tls[i]) {
            use[n++] = a->brokers[i];
            continue;
        }
        if (!loaded) {
            trc = s_tls_load(a, &t, &twhy);
            loaded = 1;
        }
        cf_why_t rwhy = {""};
        cf_err_t rc = trc == CF_OK ? s_relay(a, i, &t, &use[n], &rwhy) : trc;
        const char *why = cf_why_text(trc == CF_OK ? &rwhy : &twhy, rc);
        if (rc != CF_OK) {
            cf_log(CF_LOG_WARN, "agent=%s broker=tls://%s tls=skipped why=\"%s\"", a->id,
                   a->brokers[i].endpoint + 6, why);
            continue;
        }
        cf_log(CF_LOG_INFO, "agent=%s broker=tls://%s relay=%s", a->id, a->brokers[i].endpoint + 6,
               use[n].endpoint);
        n++;
    }
    s_tls_clear(&t);
    return n;
}

cf_err_t cf_agent_link_start(cf_agent_t *a, cf_why_t *why)
{
    a->link_started = 1;
    cf_agent_fpr(a, a->link_fpr);
    if (!a->n_brokers)
        return CF_OK; /* polling mode: check-ins only */
    cf_curve_broker_t use[CF_CURVE_BROKERS_MAX];
    size_t n = s_endpoints(a, use);
    if (!n) {
        cf_log(CF_LOG_WARN, "agent=%s brokers=%zu usable=0 link=none mode=polling", a->id,
               a->n_brokers);
        return CF_OK;
    }
    cf_fleet_cfg_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.count = 1;
    cfg.brokers = use;
    cfg.n_brokers = n;
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
    if (rc == CF_OK) {
        atomic_store(&a->link_up, 0);
        cf_log(CF_LOG_INFO, "agent=%s brokers=%zu link=started", a->id, n);
    } else {
        cf_agent_link_stop(a);
    }
    return rc;
}

void cf_agent_link_stop(cf_agent_t *a)
{
    cf_fleet_destroy(&a->link);
    for (size_t i = 0; i < CF_CURVE_BROKERS_MAX; i++)
        cf_relay_destroy(&a->relays[i]); /* after the DEALER that used it */
    a->link_started = 0;
    atomic_store(&a->link_up, -1);
}

int cf_agent_link_stale(const cf_agent_t *a)
{
    int tls = 0;
    for (size_t i = 0; i < a->n_brokers; i++)
        tls |= a->broker_tls[i];
    if (!a->link_started || !tls)
        return 0;
    char fpr[CF_AGENT_FPR_HEX + 1];
    cf_agent_fpr(a, fpr);
    return strcmp(fpr, a->link_fpr) != 0;
}
