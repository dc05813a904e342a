/*  cf_link_jobs - the link thread's side of the job store: send a job's pending entries,
    take HELLO, store receipts and reports in batches and acknowledge them  */
#include "cf_link_int.h"

#include <string.h>
#include <time.h>

#include "cf_db_job.h"
#include "cf_link_agent.h"
#include "cf_log.h"
#include "cf_mem.h"

#define S_PAGE 256 /* pending entries sent per loop turn of a job walk */

const cf_link_signer_t *cf_link_jobs_signer(cf_link_t *self)
{
    int64_t now = (int64_t) time(NULL);
    if (self->signer.cert && now - self->signer_at < CF_LINK_SIGNER_TTL)
        return &self->signer;
    cf_link_signer_t fresh;
    cf_why_t why = {""};
    cf_err_t rc = cf_link_signer_load(self->store, cf_app_seal(self->app), cf_app_alias(self->app),
                                      &fresh, &why);
    if (rc != CF_OK) {
        cf_log(CF_LOG_ERROR, "msg=\"cannot load the job signer\" err=%s why=\"%s\"",
               cf_err_name(rc), cf_why_text(&why, rc));
        return self->signer.cert ? &self->signer : NULL; /* keep the one we had */
    }
    cf_link_signer_clear(&self->signer);
    self->signer = fresh;
    self->signer_at = now;
    return &self->signer;
}

/* Send one JOB to broker b. 1 when it was queued on the link. */
static int s_send_to(cf_link_t *self, size_t b, const char *agent, const char *job_id,
                     const char *wire, size_t len)
{
    cf_msg_t m;
    cf_msg_init(&m, CF_MSG_JOB);
    snprintf(m.agent, sizeof(m.agent), "%s", agent);
    snprintf(m.job_id, sizeof(m.job_id), "%s", job_id);
    cf_err_t rc = cf_msg_set_job(&m, wire, len);
    if (rc == CF_OK)
        rc = cf_link_msg_send(self, b, &m);
    cf_msg_clear(&m);
    if (rc != CF_OK)
        cf_log(CF_LOG_WARN, "msg=\"JOB not sent\" broker=%s agent=%s job=%s err=%s",
               self->brokers[b].endpoint, agent, job_id, cf_err_name(rc));
    return rc == CF_OK;
}

/* The broker of an agent's last HELLO when it is one of ours, else n_brokers (all). */
static size_t s_via(const cf_link_t *self, const cf_db_job_link_t *l)
{
    char z85[CF_CURVE_Z85_LEN + 1] = "";
    if (l->rc == CF_OK && l->has_broker)
        cf_curve_z85_encode(l->broker, z85);
    return cf_link_broker_index(self, z85[0] ? z85 : NULL);
}

/* Send a copy to broker via (n_brokers: to every broker). */
static void s_send_via(cf_link_t *self, size_t via, const char *agent, const char *job_id,
                       const char *wire, size_t len)
{
    int sent = 0;
    for (size_t b = 0; b < self->n_brokers; b++) {
        if (via == self->n_brokers || via == b)
            sent += s_send_to(self, b, agent, job_id, wire, len);
    }
    cf_app_count(self->app, sent ? CF_APP_JOBS_SENT : CF_APP_JOBS_SEND_FAILED, 1);
}

/* Send a copy to the broker of the agent's last HELLO (known: only there; else to all). */
static void s_send_copy(cf_link_t *self, size_t via, const char *agent, const char *job_id,
                        const char *wire, size_t len)
{
    if (via >= self->n_brokers) {
        cf_db_job_link_t l = {.rc = CF_ERR_NOTFOUND};
        l.rc = cf_db_job_agent_link(self->store, agent, &l.proto, l.broker, &l.has_broker);
        via = s_via(self, &l);
    }
    s_send_via(self, via, agent, job_id, wire, len);
}

/* Where each agent of a page goes and the protocol level it said, read in one round trip;
   when that read fails, every copy looks its agent up alone (s_send_copy) and is built for
   it alone (proto 0). via, proto: n entries. */
static void s_page_via(cf_link_t *self, const cf_db_job_entry_t *list, size_t n, size_t *via,
                       unsigned *proto)
{
    const char *agents[S_PAGE];
    cf_db_job_link_t links[S_PAGE];
    n = n < S_PAGE ? n : S_PAGE; /* a page is at most S_PAGE entries */
    for (size_t i = 0; i < n; i++) {
        agents[i] = list[i].agent;
        via[i] = SIZE_MAX;
        proto[i] = 0;
    }
    if (n == 0 || cf_db_job_agent_links(self->store, agents, n, links) != CF_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        via[i] = s_via(self, &links[i]);
        proto[i] = links[i].rc == CF_OK ? links[i].proto : 0;
    }
}

/* The page's shared copy (docs/PROTOCOL.md 4: agent "*"), built at most once a page. */
typedef struct {
    int tried;  /* built, or tried and failed (then every copy is built alone) */
    char *wire; /* the copy (owned), or NULL */
    size_t len; /* its length */
} s_shared_t;

/* 1 when one signed copy serves every agent of the job: a job to all agents of a type
   whose payload holds nothing for one agent alone. */
static int s_shareable(const cf_link_prepared_t *p)
{
    return cf_job_type_shareable(p->params.type) && strcmp(p->job.target, "all") == 0;
}

/* The bytes to send to agent (speaking level proto, 0: unknown): the page's shared copy
   when the job and the agent allow it, else a copy built for the agent alone (*own, the
   caller's). */
static cf_err_t s_copy_for(cf_link_t *self, const cf_link_prepared_t *p,
                           const cf_link_signer_t *signer, const char *agent, unsigned proto,
                           s_shared_t *sh, char **own, const char **wire, size_t *len,
                           cf_why_t *why)
{
    if (s_shareable(p) && proto >= CF_JOB_PROTO_SHARED && !sh->tried) {
        sh->tried = 1;
        cf_link_job_t lj = {p->job.id,      cf_job_type_name(p->job.type),
                            p->job.params,  p->job.created,
                            p->job.expires, p->job.min_proto};
        cf_why_t w = {""};
        cf_err_t rc = cf_link_build(&lj, &p->params, CF_JOB_AGENT_ALL, NULL, NULL, signer,
                                    &sh->wire, &sh->len, &w);
        if (rc != CF_OK)
            cf_log(CF_LOG_WARN, "msg=\"shared copy not built\" job=%s err=%s why=\"%s\"", p->job.id,
                   cf_err_name(rc), cf_why_text(&w, rc));
    }
    if (s_shareable(p) && proto >= CF_JOB_PROTO_SHARED && sh->wire) {
        *wire = sh->wire;
        *len = sh->len;
        return CF_OK;
    }
    CF_TRY(cf_link_copy(self->store, p, signer, agent, own, len, why));
    *wire = *own;
    return CF_OK;
}

/* The agents of a page that take its shared copy, gathered per broker: the copy crosses
   each server-broker link once, in a BROADCAST that lists them (docs/PROTOCOL.md), not once
   per agent (9,000 copies of ~900 bytes for a job to 9,000 agents, each encrypted, copied
   and decrypted). */
typedef struct {
    cf_msg_t m[CF_LINK_MAX_BROKERS]; /* BROADCAST with the job, or type 0 while unused */
} s_gather_t;

/* 1 when agent is listed for broker b (else the caller sends its copy alone). */
static int s_gather_add(s_gather_t *g, size_t b, const char *agent, const char *job_id,
                        const s_shared_t *sh)
{
    cf_msg_t *m = &g->m[b];
    if (!m->type) {
        cf_msg_init(m, CF_MSG_BROADCAST);
        snprintf(m->job_id, sizeof(m->job_id), "%s", job_id);
        /* room for a whole page at once (cf_msg_add_target grows one id at a time); the
           ids are checked when the message is encoded */
        m->targets = cf_mem_calloc(S_PAGE, sizeof(*m->targets));
        if (!m->targets || cf_msg_set_job(m, sh->wire, sh->len) != CF_OK) {
            cf_msg_clear(m);
            return 0;
        }
    }
    size_t len = strlen(agent);
    if (m->n_targets == S_PAGE || len > CF_MSG_AGENT_MAX)
        return 0;
    memcpy(m->targets[m->n_targets++], agent, len + 1);
    return 1;
}

/* Send what was gathered; a broker's list that cannot go as one message goes copy by copy. */
static void s_gather_send(cf_link_t *self, s_gather_t *g)
{
    for (size_t b = 0; b < self->n_brokers; b++) {
        cf_msg_t *m = &g->m[b];
        if (!m->type)
            continue;
        cf_err_t rc = cf_link_msg_send(self, b, m);
        if (rc == CF_OK) {
            cf_app_count(self->app, CF_APP_JOBS_SENT, m->n_targets);
        } else {
            cf_log(CF_LOG_WARN, "msg=\"shared copy not sent as one\" broker=%s agents=%zu err=%s",
                   self->brokers[b].endpoint, m->n_targets, cf_err_name(rc));
            for (size_t i = 0; i < m->n_targets; i++)
                s_send_via(self, b, m->targets[i], m->job_id, (const char *) m->job, m->job_len);
        }
        cf_msg_clear(m);
    }
}

/* One page of a job's pending entries; 1 while there are more pages. */
static int s_send_page(cf_link_t *self, const cf_link_prepared_t *p, const cf_link_signer_t *signer,
                       char *cursor)
{
    cf_db_job_entry_t *list = NULL;
    size_t n = 0;
    char next[CF_DB_JOB_CURSOR_MAX] = "";
    /* reissue issues a certificate per entry: smaller slices keep the loop responsive */
    size_t page = p->params.type == CF_JOB_TYPE_REISSUE ? CF_LINK_REISSUE_SLICE : S_PAGE;
    cf_err_t rc =
        cf_db_job_agents(self->store, p->job.id, CF_JOB_PENDING, cursor, page, &list, &n, next);
    if (rc != CF_OK) {
        cf_log(CF_LOG_ERROR, "msg=\"cannot read the job's entries\" job=%s err=%s why=\"%s\"",
               p->job.id, cf_err_name(rc), cf_why_text(cf_store_why(self->store), rc));
        return 0;
    }
    size_t via[S_PAGE];
    unsigned proto[S_PAGE];
    s_page_via(self, list, n, via, proto);
    s_shared_t shared = {0, NULL, 0};
    s_gather_t gather;
    memset(&gather, 0, sizeof(gather));
    for (size_t i = 0; i < n; i++) {
        char *own = NULL;
        const char *wire = NULL;
        size_t len = 0;
        cf_why_t why = {""};
        rc = s_copy_for(self, p, signer, list[i].agent, i < S_PAGE ? proto[i] : 0, &shared, &own,
                        &wire, &len, &why);
        size_t v = i < S_PAGE ? via[i] : SIZE_MAX;
        if (rc == CF_OK && !own && v < self->n_brokers &&
            s_gather_add(&gather, v, list[i].agent, p->job.id, &shared))
            continue; /* the shared copy: sent below, once per broker */
        if (rc == CF_OK && v == SIZE_MAX)
            s_send_copy(self, self->n_brokers, list[i].agent, p->job.id, wire, len);
        else if (rc == CF_OK)
            s_send_via(self, v, list[i].agent, p->job.id, wire, len);
        else {
            cf_app_count(self->app, CF_APP_JOBS_SEND_FAILED, 1);
            cf_log(CF_LOG_WARN, "msg=\"job not built\" job=%s agent=%s err=%s why=\"%s\"",
                   p->job.id, list[i].agent, cf_err_name(rc), cf_why_text(&why, rc));
        }
        cf_mem_free(own);
    }
    s_gather_send(self, &gather);
    cf_mem_free(shared.wire);
    cf_mem_free(list);
    snprintf(cursor, CF_DB_JOB_CURSOR_MAX, "%s", next);
    return next[0] != '\0';
}

void cf_link_jobs_send(cf_link_t *self, const char *job_id)
{
    CF_ASSERT(!self->walk.active);
    cf_why_t why = {""};
    cf_err_t rc = cf_link_prepare(self->store, cf_app_seal(self->app), job_id, &self->walk.p, &why);
    if (rc != CF_OK) {
        cf_log(CF_LOG_ERROR, "msg=\"job not sent\" job=%s err=%s why=\"%s\"", job_id,
               cf_err_name(rc), cf_why_text(&why, rc));
        return;
    }
    self->walk.cursor[0] = '\0';
    self->walk.active = 1;
}

int cf_link_jobs_step(cf_link_t *self)
{
    if (!self->walk.active)
        return 0;
    const cf_link_signer_t *signer = cf_link_jobs_signer(self);
    /* no signer (logged): the entries stay pending for the check-in */
    if (!signer || !s_send_page(self, &self->walk.p, signer, self->walk.cursor)) {
        cf_link_prepared_clear(&self->walk.p);
        self->walk.active = 0;
    }
    return self->walk.active;
}

typedef struct {
    cf_link_t *self;   /* the link */
    size_t broker;     /* where the HELLO came from; n_brokers: every broker (a retry) */
    const char *agent; /* whose jobs */
} s_hello_t;

/* Through the HELLO's broker, or through every broker (n_brokers: a retry). */
static void s_hello_copy(void *arg, const char *job_id, const char *wire, size_t len)
{
    s_hello_t *h = arg;
    s_send_via(h->self, h->broker, h->agent, job_id, wire, len);
}

void cf_link_jobs_hello(cf_link_t *self, size_t broker, const cf_msg_t *hello)
{
    int64_t now = (int64_t) time(NULL);
    size_t upgraded = 0, sent = 0;
    cf_err_t rc = cf_db_job_upgrade(self->store, hello->agent, hello->proto, now, &upgraded);
    if (rc == CF_OK)
        rc = cf_db_job_set_broker(self->store, hello->agent, self->brokers[broker].pub);
    if (rc != CF_OK) {
        if (rc != CF_ERR_NOTFOUND)
            cf_app_count(self->app, CF_APP_LINK_DROPPED, 1);
        cf_log(rc == CF_ERR_NOTFOUND ? CF_LOG_INFO : CF_LOG_WARN,
               "msg=\"HELLO not recorded\" agent=%s err=%s why=\"%s\"", hello->agent,
               cf_err_name(rc), cf_why_text(cf_store_why(self->store), rc));
        return;
    }
    cf_link_retry_forget(self->retry, hello->agent);
    sent = cf_link_jobs_open(self, broker, hello->agent, now, 0);
    cf_log(CF_LOG_DEBUG, "msg=\"HELLO\" agent=%s proto=%u broker=%s upgraded=%zu sent=%zu",
           hello->agent, hello->proto, self->brokers[broker].endpoint, upgraded, sent);
}

size_t cf_link_jobs_open(cf_link_t *self, size_t broker, const char *agent, int64_t now,
                         int64_t min_expires)
{
    const cf_link_signer_t *signer = cf_link_jobs_signer(self);
    s_hello_t h = {self, broker, agent};
    cf_why_t why = {""};
    size_t sent = 0;
    cf_err_t rc = CF_OK;
    if (signer)
        rc = cf_link_agent_jobs(self->store, cf_app_seal(self->app), &self->signer,
                                cf_app_alias(self->app), agent, now, min_expires, s_hello_copy, &h,
                                &sent, &why);
    if (rc != CF_OK)
        cf_log(CF_LOG_WARN, "msg=\"open jobs not sent\" agent=%s err=%s why=\"%s\"", agent,
               cf_err_name(rc), cf_why_text(&why, rc));
    return sent;
}

static void s_ack(cf_link_t *self, const cf_link_fact_t *f)
{
    cf_msg_t m;
    cf_msg_init(&m, CF_MSG_ACK);
    memcpy(m.agent, f->agent, sizeof(m.agent));
    memcpy(m.job_id, f->job_id, sizeof(m.job_id));
    m.ack_of = f->type;
    if (cf_link_msg_send(self, f->broker, &m) == CF_OK)
        cf_app_count(self->app, CF_APP_LINK_ACKS, 1);
    cf_msg_clear(&m);
}

static void s_log_result(const cf_link_fact_t *f, const cf_db_job_res_t *r)
{
    if (r->rc == CF_OK && r->from != r->to)
        cf_log(CF_LOG_DEBUG, "msg=\"job entry\" job=%s agent=%s from=%s to=%s", f->job_id, f->agent,
               cf_job_fsm_state_name(r->from), cf_job_fsm_state_name(r->to));
    else if (r->rc != CF_OK)
        cf_log(CF_LOG_INFO,
               "msg=\"agent fact not applied; acknowledged\" type=%s job=%s agent=%s "
               "err=%s",
               cf_msg_type_name(f->type), f->job_id, f->agent, cf_err_name(r->rc));
}

/* Keep the held facts (cf_link_facts_hold) at the front of the batch for the next call. */
static void s_keep_held(cf_link_t *self, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (self->held[i] && k++ != i)
            self->batch[k - 1] = self->batch[i];
    self->n_batch = self->n_kept = k;
}

/* The batch's n facts are stored (res: the results of those neither held nor moot, in
   order): count each but the held, log and ACK each but the held and the moot. */
static void s_ack_stored(cf_link_t *self, size_t n, const cf_db_job_res_t *res)
{
    for (size_t i = 0, k = 0; i < n; i++) {
        const cf_link_fact_t *f = &self->batch[i];
        if (self->held[i])
            continue;
        cf_app_count(self->app,
                     f->type == CF_MSG_RECEIPT ? CF_APP_LINK_RECEIPTS : CF_APP_LINK_REPORTS, 1);
        if (self->moot[i])
            continue;
        s_log_result(f, &res[k++]);
        s_ack(self, f);
    }
}

/* 1 when the facts read since the last call wait for more (cf_link_facts_gathered), unless
   held RECEIPTs are due (all go then); self->held_due says until when. */
static int s_gathering(cf_link_t *self, int64_t now, int64_t gather_ms)
{
    int64_t gather_due = INT64_MAX;
    if (self->n_batch == 0 || self->held_due <= now ||
        cf_link_facts_gathered(self->batch + self->n_kept, self->n_batch - self->n_kept, now,
                               gather_ms, &gather_due))
        return 0;
    if (gather_due < self->held_due) /* the held RECEIPTs' time stays if it is sooner */
        self->held_due = gather_due;
    return 1;
}

void cf_link_jobs_flush(cf_link_t *self, int64_t hold_ms, int64_t gather_ms)
{
    size_t n = self->n_batch;
    int64_t now = cf_link_now_ms();
    if (s_gathering(self, now, gather_ms))
        return;
    self->held_due = INT64_MAX;
    if (n == 0)
        return;
    /* a RECEIPT whose REPORT is in this batch: the REPORT's transition and ACK cover it;
       a lone one read a moment ago waits for its REPORT in the next batch */
    int64_t due = INT64_MAX;
    size_t moot = cf_link_facts_moot(self->batch, n, self->moot);
    size_t held = cf_link_facts_hold(self->batch, n, self->moot, now, hold_ms, self->held, &due);
    if (held == n) {
        self->held_due = due;
        self->n_kept = n; /* all kept, in their order */
        return;
    }
    cf_db_job_tr_t *tr = cf_mem_calloc(n, sizeof(*tr));
    cf_db_job_res_t *res = cf_mem_calloc(n, sizeof(*res));
    cf_err_t rc = tr && res ? CF_OK : CF_ERR_NOMEM;
    size_t n_tr = 0;
    for (size_t i = 0; rc == CF_OK && i < n; i++) {
        const cf_link_fact_t *f = &self->batch[i];
        if (self->moot[i] || self->held[i])
            continue;
        tr[n_tr].job = f->job_id;
        tr[n_tr].agent = f->agent;
        tr[n_tr].event = cf_link_fact_event(f->type, f->outcome);
        tr[n_tr++].reason = f->reason;
    }
    unsigned long conns = cf_store_reconnects(self->store);
    if (rc == CF_OK)
        rc = cf_db_job_transition(self->store, (int64_t) time(NULL), tr, n_tr, res);
    if (rc == CF_OK)
        rc = cf_store_durable(self->store, conns); /* a failover must not lose an ACKed fact */
    if (rc != CF_OK) {
        /* not stored: no ACK, so the agents send them again */
        cf_app_count(self->app, CF_APP_LINK_DROPPED, n - held);
        cf_log(CF_LOG_ERROR,
               "msg=\"receipts and reports not stored or not durable: not acknowledged\" n=%zu "
               "err=%s why=\"%s\"",
               n - held, cf_err_name(rc), cf_why_text(cf_store_why(self->store), rc));
    }
    if (rc == CF_OK)
        s_ack_stored(self, n, res);
    if (rc == CF_OK && moot > 0)
        cf_log(CF_LOG_DEBUG, "msg=\"receipts covered by their reports\" n=%zu", moot);
    cf_mem_free(tr);
    cf_mem_free(res);
    s_keep_held(self, n);
    self->held_due = held ? due : INT64_MAX;
}
