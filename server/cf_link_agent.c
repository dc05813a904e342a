/*  cf_link_agent - jobs read from the store and built for agents  */
#include "cf_link_agent.h"

#include <string.h>
#include <time.h>

#include "cf_db_curve.h"
#include "cf_log.h"
#include "cf_msg.h"
#include "cf_mem.h"

cf_err_t cf_link_prepare(cf_store_t *store, const cf_seal_t *seal, const char *id,
                         cf_link_prepared_t *out, cf_why_t *why)
{
    if (!out)
        return CF_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    cf_err_t rc = cf_db_job_get(store, id, &out->job);
    if (rc != CF_OK)
        return cf_why(why, rc, "job %.32s: %s", id, cf_why_text(cf_store_why(store), rc));
    cf_link_job_t lj = {out->job.id,      cf_job_type_name(out->job.type),
                        out->job.params,  out->job.created,
                        out->job.expires, out->job.min_proto};
    rc = cf_link_params_parse(&lj, &out->params, why);
    if (rc == CF_OK && out->params.type == CF_JOB_TYPE_INSTALL_CERT)
        rc = cf_link_install_load(store, seal, out->params.cert, out->params.form, &out->install,
                                  why);
    if (rc == CF_OK && out->params.type == CF_JOB_TYPE_REISSUE)
        rc = cf_link_reissue_load(store, seal, &out->reissue, why);
    if (rc != CF_OK)
        cf_link_prepared_clear(out);
    return rc;
}

void cf_link_prepared_clear(cf_link_prepared_t *p)
{
    if (!p)
        return;
    cf_link_install_clear(&p->install);
    cf_link_reissue_clear(&p->reissue);
    memset(p, 0, sizeof(*p));
}

/* reissue: the agent's certificate (issued here, or the one issued for this job before),
   signed into its copy; an agent that can never get one has its entry failed. */
static cf_err_t s_reissue_copy(cf_store_t *store, const cf_link_prepared_t *p,
                               const cf_link_job_t *lj, const cf_link_signer_t *signer,
                               const char *agent, char **wire_out, size_t *len_out, cf_why_t *why)
{
    unsigned char *der = NULL;
    size_t len = 0;
    cf_link_reissue_t r = p->reissue; /* the CA is used, not owned, by this copy */
    cf_err_t rc =
        cf_link_reissue_cert(store, &r, agent, lj->created, (int64_t) time(NULL), &der, &len, why);
    if (rc == CF_OK)
        rc = cf_link_build_reissue(lj, agent, der, len, signer, wire_out, len_out, why);
    cf_mem_free(der);
    if ((rc == CF_ERR_NOTFOUND || rc == CF_ERR_POLICY) &&
        cf_link_reissue_refuse(store, lj->id, agent, cf_why_text(why, rc)) != CF_OK)
        cf_log(CF_LOG_WARN, "msg=\"reissue entry not failed\" job=%s agent=%s", lj->id, agent);
    return rc;
}

cf_err_t cf_link_copy(cf_store_t *store, const cf_link_prepared_t *p,
                      const cf_link_signer_t *signer, const char *agent, char **wire_out,
                      size_t *len_out, cf_why_t *why)
{
    unsigned char pub[CF_CURVE_KEY_LEN] = {0};
    int install = p->params.type == CF_JOB_TYPE_INSTALL_CERT;
    if (install) {
        cf_err_t rc = cf_db_curve_get(store, CF_ALLOW_AGENT, agent, pub);
        if (rc == CF_ERR_NOTFOUND)
            return cf_why(why, CF_ERR_NOKEY,
                          "agent %s has no CURVE key: a certificate cannot be sealed to it", agent);
        if (rc != CF_OK)
            return cf_why(why, rc, "the CURVE key of %s: %s", agent,
                          cf_why_text(cf_store_why(store), rc));
    }
    cf_link_job_t lj = {p->job.id,      cf_job_type_name(p->job.type),
                        p->job.params,  p->job.created,
                        p->job.expires, p->job.min_proto};
    if (p->params.type == CF_JOB_TYPE_REISSUE)
        return s_reissue_copy(store, p, &lj, signer, agent, wire_out, len_out, why);
    return cf_link_build(&lj, &p->params, agent, install ? &p->install : NULL, install ? pub : NULL,
                         signer, wire_out, len_out, why);
}

/* One open job: prepare, build, hand to fn. 1 when a copy was handed out. */
static int s_one(cf_store_t *store, const cf_seal_t *seal, const cf_link_signer_t *signer,
                 const char *agent, const char *id, cf_link_copy_fn fn, void *arg)
{
    cf_link_prepared_t p;
    char *wire = NULL;
    size_t len = 0;
    cf_why_t why = {""};
    cf_err_t rc = cf_link_prepare(store, seal, id, &p, &why);
    if (rc == CF_OK)
        rc = cf_link_copy(store, &p, signer, agent, &wire, &len, &why);
    if (rc == CF_OK)
        fn(arg, id, wire, len);
    else
        cf_log(CF_LOG_WARN, "msg=\"job not built for agent\" job=%s agent=%s err=%s why=\"%s\"", id,
               agent, cf_err_name(rc), cf_why_text(&why, rc));
    cf_mem_free(wire);
    cf_link_prepared_clear(&p);
    return rc == CF_OK;
}

cf_err_t cf_link_agent_jobs(cf_store_t *store, const cf_seal_t *seal, cf_link_signer_t *signer,
                            const char *alias, const char *agent, int64_t now, int64_t min_expires,
                            cf_link_copy_fn fn, void *arg, size_t *n_out, cf_why_t *why)
{
    if (n_out)
        *n_out = 0;
    cf_db_job_open_t *open = NULL;
    size_t n = 0, done = 0;
    cf_err_t rc = cf_db_job_agent_open(store, agent, now, &open, &n);
    if (rc != CF_OK)
        return cf_why(why, rc, "open jobs of %s: %s", agent, cf_why_text(cf_store_why(store), rc));
    for (size_t i = 0; rc == CF_OK && i < n; i++) {
        if (open[i].state != CF_JOB_PENDING && open[i].state != CF_JOB_DELIVERED)
            continue; /* too_old: not sent until the agent speaks the level */
        if (open[i].expires <= min_expires)
            continue; /* would expire on the way */
        if (!signer->cert)
            rc = cf_link_signer_load(store, seal, alias, signer, why);
        if (rc == CF_OK)
            done += (size_t) s_one(store, seal, signer, agent, open[i].id, fn, arg);
    }
    cf_mem_free(open);
    if (n_out)
        *n_out = done;
    return rc;
}

cf_job_event_t cf_link_fact_event(int msg_type, int outcome)
{
    if (msg_type == CF_MSG_RECEIPT)
        return CF_JOB_EV_RECEIPT;
    return outcome == CF_MSG_INSTALLED ? CF_JOB_EV_REPORT_INSTALLED : CF_JOB_EV_REPORT_FAILED;
}
