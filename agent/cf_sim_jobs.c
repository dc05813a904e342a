/*  cf_sim_jobs - a simulated agent's jobs, run in the fleet's thread: verify (signer,
    signature, addressee, expiry, replay), install the certificate in memory on trial (the
    outcome is reported once a check-in with it passed, as the real agent does), hand a
    renewal by CSR to the HTTPS loop, remember the favorite  */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cf_cert.h"
#include "cf_log.h"
#include "cf_mem.h"
#include "cf_sim_int.h"

/* The replay callback's context. */
typedef struct {
    cf_sim_t *sim; /* the simulator */
    size_t a;      /* the agent */
} s_ctx_t;

int cf_sim_agent_applied(cf_sim_t *sim, size_t a, const char *job_id)
{
    const cf_sim_agent_t *ag = &sim->agents[a];
    int seen = 0;
    pthread_mutex_lock(&sim->mu);
    for (size_t i = 0; i < ag->n_applied && !seen; i++)
        seen = strcmp(ag->applied[i], job_id) == 0;
    pthread_mutex_unlock(&sim->mu);
    return seen;
}

/* The verifier's replay question: a job applied here is a replay. */
static cf_err_t s_seen(void *ctx, const char *job_id)
{
    const s_ctx_t *c = ctx;
    return cf_sim_agent_applied(c->sim, c->a, job_id) ? CF_ERR_EXISTS : CF_OK;
}

/* Remember an applied job (a ring: the oldest goes first). Under mu. */
static void s_remember(cf_sim_agent_t *ag, const char *job_id)
{
    if (!ag->applied) {
        ag->applied = cf_mem_calloc(CF_SIM_APPLIED_MAX, sizeof(ag->applied[0]));
        if (!ag->applied)
            return; /* the fleet's own records still refuse a copy while they last */
    }
    snprintf(ag->applied[ag->next_applied], sizeof(ag->applied[0]), "%s", job_id);
    ag->next_applied = (uint8_t) ((ag->next_applied + 1) % CF_SIM_APPLIED_MAX);
    if (ag->n_applied < CF_SIM_APPLIED_MAX)
        ag->n_applied++;
}

/* The key must be the leaf's; then the pair is the agent's certificate in use, on trial
   for job_id (CF_ERR_PENDING: its check-in decides). */
static cf_err_t s_check_install(cf_sim_t *sim, size_t a, const char *job_id, const char *chain,
                                size_t clen, const char *kpem, size_t klen, cf_why_t *why)
{
    cf_cert_t *leaf = NULL;
    cf_key_t *key = NULL;
    cf_err_t rc = cf_cert_parse(chain, clen, &leaf);
    if (rc != CF_OK)
        return cf_why(why, rc, "the certificate chain does not parse: %s", cf_err_str(rc));
    rc = cf_key_from_pem(kpem, klen, NULL, &key);
    if (rc != CF_OK)
        rc = cf_why(why, rc, "the private key does not parse: %s", cf_err_str(rc));
    if (rc == CF_OK && cf_cert_matches_key(leaf, key) != CF_OK)
        rc = cf_why(why, CF_ERR_KEYMISMATCH,
                    "the private key does not belong to the certificate %.16s...",
                    cf_cert_fingerprint(leaf));
    if (rc == CF_OK)
        rc = cf_sim_agent_try(sim, a, job_id, chain, kpem, leaf, why);
    cf_key_destroy(&key);
    cf_cert_destroy(&leaf);
    return rc == CF_OK ? CF_ERR_PENDING : rc;
}

static cf_err_t s_install(cf_sim_t *sim, size_t a, const cf_job_t *job, cf_why_t *why)
{
    cf_curve_keypair_t kp;
    char *chain = NULL, *kpem = NULL;
    size_t clen = 0, klen = 0;
    CF_TRY(cf_fleet_keypair(sim->fleet, a, &kp));
    cf_err_t rc = cf_job_install_pems(job, kp.pub, kp.sec, &chain, &clen, &kpem, &klen, why);
    cf_curve_keypair_wipe(&kp);
    if (rc == CF_OK)
        rc = s_check_install(sim, a, cf_job_id(job), chain, clen, kpem, klen, why);
    cf_mem_free(chain);
    if (kpem)
        cf_mem_free_secret(kpem, klen);
    return rc;
}

/* reissue: the new certificate must chain to the CA, name the agent and certify the key it
   holds (known by the key id of its certificate in use: no key decoded per job, neither the
   private key nor the certificate's: cf_sim_reissue); then it is the agent's certificate
   on trial (written to its state directory once it passed, when there is one). */
static cf_err_t s_reissue(cf_sim_t *sim, size_t a, const cf_job_t *job, cf_why_t *why)
{
    cf_sim_agent_t *ag = &sim->agents[a];
    unsigned char held[CF_CERT_KEY_ID_LEN];
    pthread_mutex_lock(&sim->mu);
    char *kpem = ag->key ? cf_mem_strdup(ag->key) : NULL;
    int have = ag->key != NULL;
    memcpy(held, ag->key_id, sizeof(held));
    pthread_mutex_unlock(&sim->mu);
    if (!have)
        return cf_why(why, CF_ERR_STATE, "no key here: nothing to reissue a certificate for");
    if (!kpem)
        return cf_why(why, CF_ERR_NOMEM, "out of memory");
    cf_cert_t *cert = NULL;
    char *pem = NULL;
    size_t plen = 0;
    cf_err_t rc = sim->reissue ? CF_OK : cf_sim_reissue_new(sim->ca, &sim->reissue);
    if (rc == CF_OK) /* the checker's certificate answers all the agent needs of it */
        rc = cf_sim_reissue_check(sim->reissue, job, held, time(NULL), &cert, why);
    if (rc == CF_OK)
        rc = cf_cert_to_pem(cert, &pem, &plen);
    if (rc == CF_OK)
        rc = cf_sim_agent_try(sim, a, cf_job_id(job), pem, kpem, cert, why);
    if (rc == CF_OK)
        rc = CF_ERR_PENDING; /* its check-in decides */
    cf_mem_free(pem);
    cf_cert_destroy(&cert);
    cf_mem_free_secret_str(kpem);
    return rc;
}

/* renew_csr: handed to the main thread's HTTPS loop (the call must not hold the fleet's
   thread); the outcome comes back through cf_sim_jobs_renewed. */
static cf_err_t s_renew(cf_sim_t *sim, size_t a, const char *job_id, cf_why_t *why)
{
    cf_sim_agent_t *ag = &sim->agents[a];
    char *copy = cf_mem_strdup(job_id);
    pthread_mutex_lock(&sim->mu);
    int have = ag->cert != NULL, queued = have && copy && !ag->renew_job;
    if (queued) {
        ag->renew_job = copy;
        copy = NULL;
    } else {
        sim->renew_fails++;
    }
    pthread_mutex_unlock(&sim->mu);
    cf_mem_free(copy);
    if (!have)
        return cf_why(why, CF_ERR_STATE,
                      "no certificate to renew with (push mode: install one first)");
    if (!queued)
        return cf_why(why, CF_ERR_STATE, "another renewal of this agent is running");
    atomic_store(&ag->renew_due, 1);
    curl_multi_wakeup(sim->multi);
    return CF_ERR_PENDING;
}

/* Agent a's pair in use, which passed its check (still on trial: no other job can replace
   it meanwhile), into the state directory. Errors: as cf_sim_state_write_pair, NOMEM. */
static cf_err_t s_keep_passed(cf_sim_t *sim, size_t a, cf_why_t *why)
{
    cf_sim_agent_t *ag = &sim->agents[a];
    pthread_mutex_lock(&sim->mu);
    char *cert = ag->cert ? cf_mem_strdup(ag->cert) : NULL;
    char *key = ag->key ? cf_mem_strdup(ag->key) : NULL;
    pthread_mutex_unlock(&sim->mu);
    cf_err_t rc = cert && key ? cf_sim_state_write_pair(sim, a, cert, key, why)
                              : cf_why(why, CF_ERR_NOMEM, "out of memory");
    cf_mem_free(cert);
    cf_mem_free_secret_str(key);
    return rc;
}

/* The trial c of agent a ends: rc CF_OK keeps the new pair, otherwise the previous one
   (NULL when there was none) comes back and c takes the new one away. fpr: the pair in
   use now. */
static void s_end_trial(cf_sim_t *sim, size_t a, cf_sim_check_t *c, cf_err_t rc,
                        char fpr[CF_MSG_FPR_HEX + 1])
{
    cf_sim_agent_t *ag = &sim->agents[a];
    pthread_mutex_lock(&sim->mu);
    ag->check = NULL;
    if (rc == CF_OK) {
        s_remember(ag, c->job_id);
    } else {
        char *nc = ag->cert, *nk = ag->key;
        ag->cert = c->cert;
        ag->key = c->key;
        c->cert = nc;
        c->key = nk;
        memcpy(ag->fpr, c->fpr, sizeof(ag->fpr));
        memcpy(ag->key_id, c->key_id, sizeof(ag->key_id));
    }
    snprintf(fpr, CF_MSG_FPR_HEX + 1, "%s", ag->fpr);
    pthread_mutex_unlock(&sim->mu);
}

void cf_sim_jobs_checked(cf_sim_t *sim, size_t a, const char *job_id, cf_err_t rc,
                         const cf_why_t *why)
{
    char id[CF_MSG_AGENT_MAX + 1], fpr[CF_MSG_FPR_HEX + 1];
    char reason[CF_WHY_MAX + 96] = "";
    cf_sim_agent_id(sim, a, id);
    pthread_mutex_lock(&sim->mu);
    cf_sim_check_t *c = sim->agents[a].check;
    int ours = c && c->call == 1 && strcmp(c->job_id, job_id) == 0;
    pthread_mutex_unlock(&sim->mu); /* c stays: only this (main) thread ends a trial */
    if (!ours)
        return;
    if (rc != CF_OK) {
        snprintf(reason, sizeof(reason),
                 "the new certificate failed its check-in (%s); the previous one is kept",
                 cf_why_text(why, rc));
    } else if (sim->state_dir) { /* on disk only now: a restart never presents a pair that
                                    did not pass (nor one on trial) */
        cf_why_t swhy = {""};
        rc = s_keep_passed(sim, a, &swhy);
        if (rc != CF_OK)
            snprintf(reason, sizeof(reason),
                     "the new certificate passed its check-in but could not be kept (%s); "
                     "the previous one is kept",
                     cf_why_text(&swhy, rc));
    }
    s_end_trial(sim, a, c, rc, fpr);
    cf_sim_check_free(&c);
    cf_err_t crc = cf_fleet_complete(sim->fleet, a, job_id, rc, rc == CF_OK ? fpr : NULL,
                                     rc == CF_OK ? NULL : reason);
    if (crc != CF_OK)
        cf_log(CF_LOG_WARN, "agent=%s job=%s report=lost error=%s", id, job_id, cf_err_name(crc));
    cf_log(rc == CF_OK ? CF_LOG_DEBUG : CF_LOG_INFO, "agent=%s job=%s outcome=%s why=\"%s\"", id,
           job_id, rc == CF_OK ? "installed" : "failed", reason);
}

void cf_sim_jobs_renewed(cf_sim_t *sim, size_t a, const char *job_id, cf_err_t rc, const char *fpr,
                         const cf_why_t *why)
{
    (void) fpr; /* on trial: the check-in reports it */
    char id[CF_MSG_AGENT_MAX + 1];
    cf_sim_agent_id(sim, a, id);
    pthread_mutex_lock(&sim->mu);
    if (rc == CF_OK)
        sim->renewals++;
    else
        sim->renew_fails++;
    pthread_mutex_unlock(&sim->mu);
    if (rc == CF_OK)
        return;
    cf_err_t crc = cf_fleet_complete(sim->fleet, a, job_id, rc, NULL, cf_why_text(why, rc));
    if (crc != CF_OK)
        cf_log(CF_LOG_WARN, "agent=%s job=%s report=lost error=%s", id, job_id, cf_err_name(crc));
    cf_log(CF_LOG_INFO, "agent=%s job=%s renewal=failed why=\"%s\"", id, job_id,
           cf_why_text(why, rc));
}

/* Carry out a verified job. */
static cf_err_t s_apply(cf_sim_t *sim, size_t a, const cf_job_t *job, cf_why_t *why)
{
    switch (cf_job_type(job)) {
    case CF_JOB_TYPE_INSTALL_CERT: return s_install(sim, a, job, why);
    case CF_JOB_TYPE_REISSUE: return s_reissue(sim, a, job, why);
    case CF_JOB_TYPE_RENEW_CSR: return s_renew(sim, a, cf_job_id(job), why);
    case CF_JOB_TYPE_SET_FAVORITE:
        pthread_mutex_lock(&sim->mu);
        snprintf(sim->agents[a].favorite, sizeof(sim->agents[a].favorite), "%s",
                 cf_job_favorite(job));
        pthread_mutex_unlock(&sim->mu);
        return CF_OK;
    case CF_JOB_TYPE_RECHECK: return CF_OK; /* the report carries the certificate in use */
    default:
        return cf_why(why, CF_ERR_UNSUPPORTED, "job type %d is not known here",
                      (int) cf_job_type(job));
    }
}

cf_err_t cf_sim_on_job(void *ctx, size_t a, const char *job_id, const void *job, size_t len,
                       int64_t *expires_out, char fpr_out[CF_MSG_FPR_HEX + 1], cf_why_t *why)
{
    cf_sim_t *sim = ctx;
    cf_sim_agent_t *ag = &sim->agents[a];
    char id[CF_MSG_AGENT_MAX + 1];
    cf_sim_agent_id(sim, a, id);
    cf_job_t *j = NULL;
    s_ctx_t seen = {sim, a};
    /* one verifier for the fleet (this thread): the signer's chain is checked once, not at
       every agent's copy of a job */
    cf_err_t rc = sim->verifier ? cf_job_verifier_set_agent(sim->verifier, id)
                                : cf_job_verifier_new(sim->ca, id, &sim->verifier);
    if (rc == CF_OK)
        rc = cf_job_verifier_check(sim->verifier, job, len, time(NULL), s_seen, &seen, &j, why);
    if (rc == CF_ERR_EXISTS) {
        /* a genuine job this agent carried out already (the verifier asks last), sent again
           after the fleet forgot its report (a second server, a HELLO, a stale ACK): the
           original outcome, installed, is reported again, never a replay failure */
        pthread_mutex_lock(&sim->mu);
        snprintf(fpr_out, CF_MSG_FPR_HEX + 1, "%s", ag->fpr);
        sim->replays++;
        pthread_mutex_unlock(&sim->mu);
        cf_log(CF_LOG_INFO,
               "agent=%s job=%s outcome=installed why=\"applied before: reported again\"", id,
               job_id);
        return CF_OK;
    }
    if (rc == CF_OK && strcmp(cf_job_id(j), job_id) != 0)
        rc = cf_why(why, CF_ERR_CORRUPT, "the JOB frame names job %s, the job inside is %s", job_id,
                    cf_job_id(j));
    if (rc == CF_OK) {
        *expires_out = (int64_t) cf_job_expires(j);
        rc = s_apply(sim, a, j, why);
    }
    if (rc == CF_OK) {
        pthread_mutex_lock(&sim->mu);
        s_remember(ag, job_id);
        pthread_mutex_unlock(&sim->mu);
        cf_sim_agent_due(sim, a); /* the server sees the new state (secure) at once */
    }
    if (rc != CF_ERR_PENDING)
        cf_log(rc == CF_OK ? CF_LOG_DEBUG : CF_LOG_INFO, "agent=%s job=%s outcome=%s why=\"%s\"",
               id, job_id, rc == CF_OK ? "installed" : "failed",
               rc == CF_OK ? "" : cf_why_text(why, rc));
    pthread_mutex_lock(&sim->mu);
    snprintf(fpr_out, CF_MSG_FPR_HEX + 1, "%s", ag->fpr);
    pthread_mutex_unlock(&sim->mu);
    cf_job_destroy(&j);
    return rc;
}
