/*  cf_fleet_agent - one simulated agent's side of the protocol: jobs, receipts, reports, acks  */
#include "cf_fleet_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "cf_log.h"
#include "cf_mem.h"

/* A delay in [b/2, b]: randomized, so agents that start together drift apart. */
static int64_t s_jitter(uint32_t b)
{
    return (int64_t) (b / 2) + (int64_t) randombytes_uniform(b / 2 + 1);
}

static cf_fleet_rec_t *s_find(cf_fleet_agent_t *ag, const char *job_id)
{
    for (size_t i = 0; i < ag->n_recs; i++)
        if (strcmp(ag->recs[i].id, job_id) == 0)
            return &ag->recs[i];
    return NULL;
}

/* A record may go once its REPORT is stored and it guards against no replay: the job
   failed (a retry of it must run) or has expired (the verifier refuses it anyway). */
static int s_forgettable(const cf_fleet_rec_t *r, time_t now)
{
    return r->report_acked && (!r->applied || r->expires < (int64_t) now);
}

static void s_prune(cf_fleet_agent_t *ag, time_t now)
{
    size_t keep = 0;
    for (size_t i = 0; i < ag->n_recs; i++) {
        if (s_forgettable(&ag->recs[i], now)) {
            cf_mem_free(ag->recs[i].reason);
            continue;
        }
        ag->recs[keep++] = ag->recs[i];
    }
    ag->n_recs = (uint16_t) keep;
}

/* A new record for job_id, or NULL when the memory is full of jobs still waiting for their
   ACK (or out of memory): the JOB is then dropped, and the server sends it again later. */
static cf_fleet_rec_t *s_add(cf_fleet_agent_t *ag, const char *job_id, time_t now)
{
    s_prune(ag, now);
    if (ag->n_recs == ag->cap_recs && ag->cap_recs < CF_FLEET_JOBS_PER_AGENT) {
        size_t cap = ag->cap_recs ? (size_t) ag->cap_recs * 2 : 2;
        if (cap > CF_FLEET_JOBS_PER_AGENT)
            cap = CF_FLEET_JOBS_PER_AGENT;
        cf_fleet_rec_t *grown = cf_mem_realloc(ag->recs, cap * sizeof(*grown));
        if (!grown)
            return NULL;
        ag->recs = grown;
        ag->cap_recs = (uint16_t) cap;
    }
    if (ag->n_recs == ag->cap_recs) {
        /* full: forget the oldest applied job whose REPORT is stored (weakest loss) */
        size_t i = 0;
        while (i < ag->n_recs && !ag->recs[i].report_acked)
            i++;
        if (i == ag->n_recs)
            return NULL;
        cf_mem_free(ag->recs[i].reason);
        memmove(&ag->recs[i], &ag->recs[i + 1], (ag->n_recs - i - 1) * sizeof(ag->recs[0]));
        ag->n_recs--;
    }
    cf_fleet_rec_t *r = &ag->recs[ag->n_recs++];
    memset(r, 0, sizeof(*r));
    snprintf(r->id, sizeof(r->id), "%s", job_id);
    r->expires = (int64_t) now;
    return r;
}

/* The reason as a REPORT carries it: 1..255 printable bytes. */
static void s_set_reason(cf_fleet_rec_t *r, const char *text)
{
    cf_mem_free(r->reason);
    r->reason = NULL;
    size_t n = strnlen(text, CF_MSG_TEXT_MAX);
    char *copy = cf_mem_malloc(n ? n + 1 : sizeof("failed"));
    if (!copy)
        return; /* s_send_report falls back to a fixed reason */
    if (!n) {
        memcpy(copy, "failed", sizeof("failed"));
    } else {
        for (size_t i = 0; i < n; i++)
            copy[i] = text[i] >= 0x20 && text[i] <= 0x7e ? text[i] : '?';
        copy[n] = '\0';
    }
    r->reason = copy;
}

static void s_send_receipt(cf_fleet_t *f, size_t a, const cf_fleet_rec_t *r)
{
    cf_msg_t m;
    cf_msg_init(&m, CF_MSG_RECEIPT);
    snprintf(m.agent, sizeof(m.agent), "%s", f->agents[a].id);
    snprintf(m.job_id, sizeof(m.job_id), "%s", r->id);
    if (cf_fleet_link_send(f, a, &m) != CF_OK)
        return; /* counted; resent on the back-off schedule */
}

static void s_send_report(cf_fleet_t *f, size_t a, const cf_fleet_rec_t *r)
{
    cf_msg_t m;
    cf_msg_init(&m, CF_MSG_REPORT);
    snprintf(m.agent, sizeof(m.agent), "%s", f->agents[a].id);
    snprintf(m.job_id, sizeof(m.job_id), "%s", r->id);
    m.outcome = (cf_msg_outcome_t) r->outcome;
    snprintf(m.fpr, sizeof(m.fpr), "%s", r->fpr);
    if (m.outcome == CF_MSG_FAILED)
        snprintf(m.text, sizeof(m.text), "%s", r->reason ? r->reason : "failed (out of memory)");
    if (cf_fleet_link_send(f, a, &m) != CF_OK)
        return; /* counted; resent on the back-off schedule */
}

/* The verifier's replay question, answered from the agent's memory. */
static cf_err_t s_seen(void *ctx, const char *job_id)
{
    cf_fleet_rec_t *r = s_find(ctx, job_id);
    return r && r->applied ? CF_ERR_EXISTS : CF_OK;
}

static cf_err_t s_renew(cf_fleet_t *f, size_t a, const cf_job_t *job, cf_why_t *why)
{
    cf_fleet_agent_t *ag = &f->agents[a];
    ag->counts.renewals++;
    f->stats.renewals++;
    if (!f->cfg.on_renew)
        return cf_why(why, CF_ERR_UNSUPPORTED,
                      "renewal by CSR needs the agent's HTTPS client, which this fleet lacks");
    char fpr[CF_MSG_FPR_HEX + 1] = "";
    CF_TRY(f->cfg.on_renew(f->cfg.hook_ctx, a, cf_job_id(job), fpr, why));
    if (strlen(fpr) == CF_MSG_FPR_HEX)
        memcpy(ag->fpr, fpr, sizeof(fpr));
    return CF_OK;
}

/* Carry out a verified job in memory. */
static cf_err_t s_apply(cf_fleet_t *f, size_t a, const cf_job_t *job, cf_why_t *why)
{
    cf_fleet_agent_t *ag = &f->agents[a];
    switch (cf_job_type(job)) {
    case CF_JOB_TYPE_INSTALL_CERT: return cf_fleet_install(ag, job, why);
    case CF_JOB_TYPE_RENEW_CSR: return s_renew(f, a, job, why);
    case CF_JOB_TYPE_RECHECK: return CF_OK; /* the REPORT carries the fingerprint in use */
    case CF_JOB_TYPE_SET_FAVORITE: {
        char *alias = cf_mem_strdup(cf_job_favorite(job));
        if (!alias)
            return cf_why(why, CF_ERR_NOMEM, "out of memory");
        cf_mem_free(ag->favorite);
        ag->favorite = alias;
        return CF_OK;
    }
    default:
        return cf_why(why, CF_ERR_UNSUPPORTED, "job type %d is not known here",
                      (int) cf_job_type(job));
    }
}

/* The fleet's own verification and carrying out of the job of m. */
static cf_err_t s_check_apply(cf_fleet_t *f, size_t a, const cf_msg_t *m, cf_fleet_rec_t *r,
                              time_t now, cf_why_t *why)
{
    cf_fleet_agent_t *ag = &f->agents[a];
    cf_job_t *job = NULL;
    cf_err_t rc = CF_OK;
    if (!ag->verifier)
        rc = cf_job_verifier_new(f->ca, ag->id, &ag->verifier);
    if (rc == CF_OK)
        rc = cf_job_verifier_check(ag->verifier, m->job, m->job_len, now, s_seen, ag, &job, why);
    if (rc == CF_OK && strcmp(cf_job_id(job), m->job_id) != 0)
        rc = cf_why(why, CF_ERR_CORRUPT, "the JOB frame names job %s, the job inside is %s",
                    m->job_id, cf_job_id(job));
    if (rc != CF_OK) {
        f->stats.refused[rc < CF_ERR_COUNT_ ? rc : CF_ERR_INVALID]++;
        ag->counts.refused++;
        cf_log(CF_LOG_INFO, "agent=%s job=%s refused=%s why=\"%s\"", ag->id, m->job_id,
               cf_err_name(rc), cf_why_text(why, rc));
    } else {
        r->expires = (int64_t) cf_job_expires(job);
        if (f->fault.fail_pct && randombytes_uniform(100) < f->fault.fail_pct)
            rc = cf_why(why, CF_ERR_STATE, "%s",
                        f->fault.fail_reason[0] ? f->fault.fail_reason : "injected failure");
        else
            rc = s_apply(f, a, job, why);
    }
    cf_job_destroy(&job);
    return rc;
}

/* Verify the job of m and carry it out; the outcome goes into r. */
static void s_run(cf_fleet_t *f, size_t a, const cf_msg_t *m, cf_fleet_rec_t *r, time_t now)
{
    cf_fleet_agent_t *ag = &f->agents[a];
    cf_why_t why = {""};
    cf_err_t rc = CF_OK;
    if (f->cfg.on_job) /* a real agent: its own verifier, memory and installer */
        rc = f->cfg.on_job(f->cfg.hook_ctx, a, m->job_id, m->job, m->job_len, &r->expires, ag->fpr,
                           &why);
    else
        rc = s_check_apply(f, a, m, r, now, &why);
    r->deferred = rc == CF_ERR_PENDING; /* the outcome comes by cf_fleet_complete */
    if (r->deferred)
        return;
    if (rc == CF_OK) {
        r->applied = 1;
        r->outcome = CF_MSG_INSTALLED;
        ag->counts.installed++;
        f->stats.installed++;
    } else {
        r->outcome = CF_MSG_FAILED;
        s_set_reason(r, cf_why_text(&why, rc));
        ag->counts.failed++;
        f->stats.failed++;
    }
    snprintf(r->fpr, sizeof(r->fpr), "%s", ag->fpr);
}

/* r's message went out at sent (monotonic ms, read just before the send: a round trip is
   never under-counted) and waits for its ACK: the first resend waits b_1 (cf_fleet_rto),
   then the back-off doubles up to resend_max_ms. */
static void s_await_ack(cf_fleet_t *f, cf_fleet_agent_t *ag, cf_fleet_rec_t *r, int64_t sent)
{
    int64_t now = zclock_mono();
    r->sent_ms = sent;
    r->backoff_ms = cf_fleet_rto_first(&ag->rto, (uint32_t) f->cfg.resend_min_ms,
                                       (uint32_t) f->cfg.resend_max_ms);
    r->next_ms = now + s_jitter(r->backoff_ms);
    cf_fleet_link_wake(f, r->next_ms);
}

/* 1 when the job of m finishes as soon as it is checked, so its REPORT follows at once and
   no RECEIPT goes before it: recheck and set_favorite, which install and make nothing (an
   on_job hook may take long over the others: a real agent's install check), and a job
   that does not even parse (refused at once). The type is read from the unverified job: a
   forged type changes only whether a RECEIPT goes first. */
static int s_at_once(const cf_msg_t *m)
{
    cf_job_t *job = NULL;
    cf_why_t why = {""};
    if (cf_job_parse(m->job, m->job_len, &job, &why) != CF_OK)
        return 1;
    cf_job_type_t type = cf_job_type(job);
    cf_job_destroy(&job);
    return type == CF_JOB_TYPE_RECHECK || type == CF_JOB_TYPE_SET_FAVORITE;
}

/* The first RECEIPT of r's job (unless a test drops it). */
static void s_first_receipt(cf_fleet_t *f, size_t a, cf_fleet_rec_t *r)
{
    if (f->fault.drop_first_receipt) {
        f->stats.receipts_dropped++;
        return;
    }
    s_send_receipt(f, a, r);
    f->stats.receipts++;
    f->agents[a].counts.receipts++;
}

static void s_on_job(cf_fleet_t *f, size_t a, const cf_msg_t *m)
{
    cf_fleet_agent_t *ag = &f->agents[a];
    time_t now = time(NULL);
    f->stats.jobs++;
    ag->counts.jobs++;
    cf_fleet_rec_t *r = s_find(ag, m->job_id);
    if (r && (r->outcome || r->deferred) && !r->report_acked) {
        /* sent again before our REPORT was stored: tell the same outcome again (a deferred
           one: only the RECEIPT, its REPORT comes with the outcome; once there is an
           outcome the REPORT stands for the RECEIPT too) */
        f->stats.duplicates++;
        if (!r->receipt_acked && !r->outcome)
            s_send_receipt(f, a, r);
        if (r->outcome)
            s_send_report(f, a, r);
        return;
    }
    if (!r)
        r = s_add(ag, m->job_id, now);
    if (!r) {
        f->stats.jobs_dropped++;
        cf_log(CF_LOG_WARN, "agent=%s job=%s dropped=\"job memory full\"", ag->id, m->job_id);
        return;
    }
    r->receipt_acked = r->report_acked = 0;
    r->outcome = 0; /* this run's outcome is not known yet (a retry runs a job again) */
    int64_t sent = zclock_mono();
    /* a quick hook (the simulator's) runs the job before anything is sent: no parse here */
    int at_once = (f->cfg.on_job && f->cfg.on_job_quick) || s_at_once(m);
    if (!at_once)
        s_first_receipt(f, a, r); /* the job may take long: the server learns it arrived */
    r->held = 0;
    s_run(f, a, m, r, now);
    if (!r->deferred && f->fault.hold_reports) {
        /* held back for cf_fleet_release: from here on it is a deferred job (RECEIPT now) */
        r->held = r->outcome;
        r->outcome = 0;
        r->deferred = 1;
    }
    if (r->deferred) {
        if (at_once) /* the hook deferred it all the same: the RECEIPT now */
            s_first_receipt(f, a, r);
    } else {
        /* the REPORT stands for the RECEIPT: a job finished at once sends only the REPORT
           (one message less each way through broker and server; docs/PROTOCOL.md 3) */
        sent = zclock_mono();
        s_send_report(f, a, r);
        f->stats.reports++;
        ag->counts.reports++;
    }
    s_await_ack(f, ag, r, sent);
}

cf_err_t cf_fleet_agent_complete(cf_fleet_t *f, const cf_fleet_complete_t *c)
{
    if (c->agent >= f->cfg.count)
        return CF_ERR_INVALID;
    cf_fleet_agent_t *ag = &f->agents[c->agent];
    cf_fleet_rec_t *r = s_find(ag, c->job_id);
    if (!r || !r->deferred)
        return CF_ERR_NOTFOUND;
    r->deferred = 0;
    r->held = 0;
    if (c->rc == CF_OK) {
        r->applied = 1;
        r->outcome = CF_MSG_INSTALLED;
        ag->counts.installed++;
        f->stats.installed++;
    } else {
        r->outcome = CF_MSG_FAILED;
        s_set_reason(r, c->reason);
        ag->counts.failed++;
        f->stats.failed++;
    }
    if (c->fpr[0])
        snprintf(ag->fpr, sizeof(ag->fpr), "%s", c->fpr);
    snprintf(r->fpr, sizeof(r->fpr), "%s", ag->fpr);
    int64_t sent = zclock_mono();
    s_send_report(f, c->agent, r);
    f->stats.reports++;
    ag->counts.reports++;
    s_await_ack(f, ag, r, sent);
    return CF_OK;
}

size_t cf_fleet_agent_release(cf_fleet_t *f)
{
    size_t n = 0;
    for (size_t a = 0; a < f->cfg.count; a++) {
        cf_fleet_agent_t *ag = &f->agents[a];
        size_t before = n;
        for (size_t i = 0; i < ag->n_recs; i++) {
            cf_fleet_rec_t *r = &ag->recs[i];
            if (!r->held)
                continue;
            r->outcome = r->held;
            r->held = r->deferred = 0;
            int64_t sent = zclock_mono();
            s_send_report(f, a, r);
            f->stats.reports++;
            ag->counts.reports++;
            s_await_ack(f, ag, r, sent);
            n++;
        }
        /* a send outside the socket's own service may take its ZMQ_FD's signal of what
           came in meanwhile (an ACK): read now, or it waits for the next resend */
        if (n > before)
            cf_fleet_link_service(f, a);
    }
    return n;
}

/* Count one more stored REPORT for job_id (a ring of the latest job ids). */
static void s_tally(cf_fleet_t *f, const char *job_id)
{
    for (size_t i = 0; i < f->n_tally; i++)
        if (strcmp(f->tally[i].id, job_id) == 0) {
            f->tally[i].acked++;
            return;
        }
    cf_fleet_tally_t *t = &f->tally[f->tally_next];
    f->tally_next = (f->tally_next + 1) % CF_FLEET_TALLY_MAX;
    if (f->n_tally < CF_FLEET_TALLY_MAX)
        f->n_tally++;
    snprintf(t->id, sizeof(t->id), "%s", job_id);
    t->acked = 1;
}

size_t cf_fleet_agent_acked(const cf_fleet_t *f, const char *job_id)
{
    for (size_t i = 0; i < f->n_tally; i++)
        if (strcmp(f->tally[i].id, job_id) == 0)
            return f->tally[i].acked;
    return 0;
}

static void s_on_ack(cf_fleet_t *f, size_t a, const cf_msg_t *m)
{
    cf_fleet_agent_t *ag = &f->agents[a];
    cf_fleet_rec_t *r = s_find(ag, m->job_id);
    /* a REPORT ACK while no REPORT of this run is out is stale: it answers a REPORT of an
       earlier run of the same job (a retry), and taking it would drop the coming outcome */
    if (!r || r->report_acked || (m->ack_of == CF_MSG_RECEIPT && r->receipt_acked) ||
        (m->ack_of == CF_MSG_REPORT && !r->outcome)) {
        f->stats.acks_stale++;
        return;
    }
    ag->counts.acks++;
    /* a round trip: the REPORT's ACK, or the RECEIPT's while no REPORT is out (a deferred
       job); measured from the first send, resends or not (a ZeroMQ link loses a message
       only when a peer dies: then one sample is too long, and the estimate forgets it) */
    if (r->sent_ms && (m->ack_of == CF_MSG_REPORT || !r->outcome)) {
        cf_fleet_rto_sample(&ag->rto, zclock_mono() - r->sent_ms);
        r->sent_ms = 0;
    }
    if (m->ack_of == CF_MSG_RECEIPT) {
        r->receipt_acked = 1;
        f->stats.acks_receipt++;
        return;
    }
    r->report_acked = r->receipt_acked = 1; /* a stored report makes the receipt moot */
    if (f->cfg.on_acked)
        f->cfg.on_acked(f->cfg.hook_ctx, a, r->id);
    r->next_ms = 0;
    cf_mem_free(r->reason);
    r->reason = NULL;
    f->stats.acks_report++;
    s_tally(f, r->id);
}

void cf_fleet_agent_on_msg(cf_fleet_t *f, size_t a, const cf_msg_t *m)
{
    cf_fleet_agent_t *ag = &f->agents[a];
    if (m->type != CF_MSG_ERROR && strcmp(m->agent, ag->id) != 0) {
        f->stats.bad_msgs++; /* the broker routes by our id: this one is not for us */
        return;
    }
    switch (m->type) {
    case CF_MSG_JOB: s_on_job(f, a, m); break;
    case CF_MSG_ACK: s_on_ack(f, a, m); break;
    case CF_MSG_CHECKIN:
        f->stats.checkins++;
        ag->counts.checkins++;
        if (f->cfg.on_checkin)
            f->cfg.on_checkin(f->cfg.hook_ctx, a, m->job_id);
        break;
    case CF_MSG_ERROR:
        cf_log(CF_LOG_INFO, "agent=%s broker_error=%s job=%s text=\"%s\"", ag->id,
               cf_msg_error_name(m->error), m->job_id, m->text);
        /* our HELLO reached no server (a broker that has just started, before the
           servers' links are back): say it again, or the open jobs it asks for never come */
        if (m->error == CF_MSG_ERR_INTERNAL && !m->job_id[0])
            cf_fleet_link_hello_later(f, a, zclock_mono());
        break;
    default: f->stats.bad_msgs++; break;
    }
}

void cf_fleet_agent_on_connect(cf_fleet_t *f, size_t a, int64_t now_ms)
{
    cf_fleet_agent_t *ag = &f->agents[a];
    for (size_t i = 0; i < ag->n_recs; i++) {
        cf_fleet_rec_t *r = &ag->recs[i];
        if (!r->next_ms)
            continue;
        /* what was in flight may be lost with the old connection: resend soon, and take
           no round trip from this exchange (it would count the time the link was down) */
        r->sent_ms = 0;
        r->backoff_ms = (uint32_t) f->cfg.resend_min_ms;
        r->next_ms = now_ms + s_jitter(r->backoff_ms);
        cf_fleet_link_wake(f, r->next_ms);
    }
}

int cf_fleet_agent_resend_due(const cf_fleet_t *f, size_t a, int64_t now_ms)
{
    const cf_fleet_agent_t *ag = &f->agents[a];
    for (size_t i = 0; i < ag->n_recs; i++)
        if (ag->recs[i].next_ms && ag->recs[i].next_ms <= now_ms)
            return 1;
    return 0;
}

int64_t cf_fleet_agent_resend(cf_fleet_t *f, size_t a, int64_t now_ms, int *sent)
{
    cf_fleet_agent_t *ag = &f->agents[a];
    int64_t next = 0;
    for (size_t i = 0; i < ag->n_recs; i++) {
        cf_fleet_rec_t *r = &ag->recs[i];
        if (!r->next_ms)
            continue;
        if (r->next_ms <= now_ms) {
            /* a RECEIPT only while no REPORT is out: the REPORT moves the entry past
               delivered and its ACK acknowledges both (docs/PROTOCOL.md, ACK) */
            if (ag->link_up && !r->receipt_acked && !r->outcome) {
                s_send_receipt(f, a, r);
                f->stats.receipt_resends++;
            }
            if (ag->link_up && r->outcome && !r->report_acked) {
                s_send_report(f, a, r);
                f->stats.report_resends++;
            }
            ag->counts.resends += ag->link_up ? 1 : 0;
            *sent += ag->link_up ? 1 : 0;
            uint32_t b = r->backoff_ms * 2;
            r->backoff_ms =
                b > (uint32_t) f->cfg.resend_max_ms ? (uint32_t) f->cfg.resend_max_ms : b;
            r->next_ms = now_ms + s_jitter(r->backoff_ms);
        }
        if (!next || r->next_ms < next)
            next = r->next_ms;
    }
    return next;
}

void cf_fleet_agent_clear(cf_fleet_agent_t *ag)
{
    for (size_t i = 0; i < ag->n_recs; i++)
        cf_mem_free(ag->recs[i].reason);
    cf_mem_free(ag->recs);
    ag->recs = NULL;
    ag->n_recs = ag->cap_recs = 0;
    cf_mem_free(ag->favorite);
    ag->favorite = NULL;
    cf_job_verifier_destroy(&ag->verifier);
}

void cf_fleet_agent_info_fill(const cf_fleet_t *f, size_t a, cf_fleet_agent_info_t *out)
{
    const cf_fleet_agent_t *ag = &f->agents[a];
    const cf_fleet_counts_t *c = &ag->counts;
    memset(out, 0, sizeof(*out));
    snprintf(out->id, sizeof(out->id), "%s", ag->id);
    out->online = ag->online;
    out->link_up = ag->link_up;
    out->broker = ag->broker;
    snprintf(out->fpr, sizeof(out->fpr), "%s", ag->fpr);
    snprintf(out->favorite, sizeof(out->favorite), "%s", ag->favorite ? ag->favorite : "");
    out->jobs = c->jobs;
    out->receipts = c->receipts;
    out->reports = c->reports;
    out->resends = c->resends;
    out->acks = c->acks;
    out->installed = c->installed;
    out->failed = c->failed;
    out->refused = c->refused;
    out->checkins = c->checkins;
    out->renewals = c->renewals;
    out->hellos = c->hellos;
    for (size_t i = 0; i < ag->n_recs; i++)
        out->waiting += ag->recs[i].outcome && !ag->recs[i].report_acked;
    out->srtt_ms = ag->rto.srtt_ms;
    out->first_resend_ms = cf_fleet_rto_first(&ag->rto, (uint32_t) f->cfg.resend_min_ms,
                                              (uint32_t) f->cfg.resend_max_ms);
}
