/*  cf_agent_run - the cf-agent daemon: state directory, server choice with failover,
    check-in, jobs, reports, renewal, status  */
#include "cf_agent_run.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cf_agent_checkin.h"
#include "cf_agent_int.h"
#include "cf_agent_trim.h"
#include "cf_file.h"
#include "cf_log.h"
#include "cf_mem.h"

/* The TLS client of server s: the agent's certificate when it has one, else (no
   certificate) the plain port while the server offers one. */
void cf_agent_http_of(const cf_agent_t *a, const cf_agent_server_t *s, cf_agent_http_t *h)
{
    memset(h, 0, sizeof(*h));
    int has_cert = access(a->cert_path, R_OK) == 0 && access(a->key_path, R_OK) == 0;
    cf_agent_http_for(h, s, !has_cert);
    h->ca_file = a->ca_path;
    h->cert_file = has_cert ? a->cert_path : NULL;
    h->key_file = has_cert ? a->key_path : NULL;
    h->source_addr = a->opts.source_addr;
}

static int s_probe(void *ctx, const cf_agent_server_t *s)
{
    cf_agent_http_t h;
    cf_why_t why = {""};
    cf_agent_http_of(ctx, s, &h);
    h.timeout_ms = 3000;
    cf_err_t rc = h.plain ? CF_OK : cf_agent_http_probe(&h, &why);
    if (rc != CF_OK)
        cf_log(CF_LOG_INFO, "server=%s probe=failed why=\"%s\"", s->alias, why.text);
    return rc == CF_OK;
}

static cf_err_t s_renew_job(void *ctx, char fpr_out[CF_AGENT_FPR_HEX + 1], cf_why_t *why)
{
    return cf_agent_renew_with(ctx, fpr_out, why);
}

static void s_favorite(void *ctx, const char *alias)
{
    cf_agent_t *a = ctx;
    snprintf(a->list.favorite, sizeof(a->list.favorite), "%s", alias ? alias : "");
    cf_why_t why = {""};
    if (cf_agent_servers_save(&a->list, a->cache_path, &why) != CF_OK)
        cf_log(CF_LOG_WARN, "cache=%s save=\"%s\"", a->cache_path, why.text);
}

/* Choose a server (skipping those that failed this round) and check in there. */
static cf_err_t s_checkin_pass(cf_agent_t *a, unsigned char *skip, cf_agent_answer_t *ans,
                               cf_why_t *why)
{
    cf_err_t rc = CF_ERR_NOTFOUND;
    for (size_t tries = 0; tries <= a->list.n; tries++) {
        size_t i = 0;
        cf_route_choice_t reason;
        rc = cf_agent_choose(&a->list, a->id, a->opts.source_addr, skip, s_probe, a, &i, &reason,
                             why);
        if (rc != CF_OK)
            return rc;
        cf_agent_http_t h;
        cf_agent_http_of(a, &a->list.servers[i], &h);
        long status = 0;
        rc = cf_agent_checkin(&h, a->id, 0, ans, &status, why);
        if (rc == CF_OK) {
            a->cur = i;
            a->have_cur = 1;
            a->reason = reason;
            cf_log(CF_LOG_INFO, "checkin=ok server=%s reason=\"%s\" lock=%s jobs=%zu", h.alias,
                   reason.text, ans->lock, ans->n_jobs);
            return CF_OK;
        }
        cf_log(CF_LOG_WARN, "checkin=failed server=%s status=%ld why=\"%s\"", h.alias, status,
               cf_why_text(why, rc));
        skip[i] = 1;
    }
    return rc;
}

/* A pass over the servers the list marks on line, then, when none took the check-in, a
   pass over those it marks off line: the flags are the last answer's view, and a server
   that was stopped then may be back while every other one is gone (the cache is only
   renewed by a check-in, so without this pass such an agent would never recover). */
static cf_err_t s_checkin_round(cf_agent_t *a, cf_agent_answer_t *ans, cf_why_t *why)
{
    unsigned char skip[CF_AGENT_SERVERS_MAX] = {0}, was_on[CF_AGENT_SERVERS_MAX];
    cf_err_t rc = s_checkin_pass(a, skip, ans, why);
    size_t off = 0;
    for (size_t i = 0; rc != CF_OK && i < a->list.n; i++) {
        was_on[i] = (unsigned char) a->list.servers[i].online;
        skip[i] = was_on[i];
        off += !was_on[i];
        a->list.servers[i].online = 1;
    }
    if (!off)
        return rc;
    cf_log(CF_LOG_INFO, "servers=%zu marked-off-line=%zu trying=them", a->list.n, off);
    cf_why_t why2 = {""};
    cf_err_t rc2 = s_checkin_pass(a, skip, ans, &why2);
    for (size_t i = 0; i < a->list.n; i++)
        a->list.servers[i].online = was_on[i];
    if (rc2 == CF_OK)
        a->list.servers[a->cur].online = 1; /* it answered (the answer's list comes next) */
    return rc2 == CF_OK ? CF_OK : rc;       /* a failure keeps the first pass's reason */
}

/* What the answer says about routing goes to the cache (the failover list). */
static void s_take_answer(cf_agent_t *a, cf_agent_answer_t *ans)
{
    if (ans->has_servers && ans->servers.n) {
        char alias[CF_JOB_ALIAS_MAX + 1];
        snprintf(alias, sizeof(alias), "%s", a->list.servers[a->cur].alias);
        cf_agent_servers_clear(&a->list);
        a->list.servers = ans->servers.servers;
        a->list.n = ans->servers.n;
        ans->servers.servers = NULL;
        ans->servers.n = 0;
        a->have_cur = 0;
        for (size_t i = 0; i < a->list.n; i++)
            if (strcmp(a->list.servers[i].alias, alias) == 0) {
                a->cur = i;
                a->have_cur = 1;
            }
    }
    snprintf(a->list.favorite, sizeof(a->list.favorite), "%s", ans->favorite);
    snprintf(a->list.seen_addr, sizeof(a->list.seen_addr), "%s", ans->seen_addr);
    snprintf(a->lock, sizeof(a->lock), "%s", ans->lock);
    if (!a->opts.interval)
        a->interval = ans->interval;
    cf_why_t why = {""};
    if (cf_agent_servers_save(&a->list, a->cache_path, &why) != CF_OK)
        cf_log(CF_LOG_WARN, "cache=%s save=\"%s\"", a->cache_path, why.text);
}

/* Queued reports over HTTPS to the server in use; each ACK ends its resends. */
static void s_send_reports(cf_agent_t *a)
{
    cf_agent_report_t r[16];
    size_t n = cf_agent_jobs_pending(a->jobs, r, 16);
    for (size_t i = 0; i < n && a->have_cur; i++) {
        cf_agent_http_t h;
        cf_why_t why = {""};
        cf_agent_http_of(a, &a->list.servers[a->cur], &h);
        cf_err_t rc =
            cf_agent_report(&h, a->id, r[i].job, r[i].installed, r[i].reason, r[i].fpr, &why);
        if (rc == CF_OK)
            rc = cf_agent_jobs_acked(a->jobs, r[i].job, time(NULL), &why);
        cf_log(rc == CF_OK ? CF_LOG_INFO : CF_LOG_WARN, "report=%s job=%s outcome=%s why=\"%s\"",
               rc == CF_OK ? "acked" : "failed", r[i].job, r[i].installed ? "installed" : "failed",
               why.text);
        if (rc != CF_OK)
            return; /* the next round tries again */
    }
}

static int64_t s_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cf_agent_trim_soon(cf_agent_t *a)
{
    atomic_store(&a->trim_at, s_mono_ms() + CF_AGENT_TRIM_DELAY_MS);
}

/* A call of an install check does not start with less than this left, ms. */
#define S_CHECK_MIN_MS 200

/* An install check in progress (cf_agent_check_pair). */
typedef struct {
    cf_agent_t *a;                             /* the agent (its lock held) */
    const char *cert;                          /* the new pair's chain file */
    const char *key;                           /* and key file */
    int64_t deadline;                          /* monotonic ms: no call starts after */
    size_t order[CF_AGENT_SERVERS_MAX];        /* servers tried, in the order of the first try */
    size_t n_tried;                            /* entries of order */
    unsigned char tried[CF_AGENT_SERVERS_MAX]; /* 1: server i is in order */
    cf_why_t last;                             /* the last failure that said nothing of it */
} s_check_t;

/* One check-in with the new pair at server i: CF_OK (recorded secure), CF_ERR_PENDING (no
   working server there: another may take it), else the error to fail with (why). */
static cf_err_t s_check_at(s_check_t *c, size_t i, cf_why_t *why)
{
    cf_agent_t *a = c->a;
    const cf_agent_server_t *s = &a->list.servers[i];
    int refused = 0;
    int64_t left = c->deadline - s_mono_ms();
    cf_agent_http_t h;
    cf_agent_http_of(a, s, &h);
    cf_agent_http_for(&h, s, 0); /* TLS: the pair is what is checked */
    h.cert_file = c->cert;
    h.key_file = c->key;
    h.tls_refused = &refused;
    h.timeout_ms = left < CF_AGENT_CHECK_CALL_MS ? (long) left : CF_AGENT_CHECK_CALL_MS;
    if (!c->tried[i]) {
        c->tried[i] = 1;
        c->order[c->n_tried++] = i;
    }
    long status = 0;
    cf_why_t w = {""};
    cf_agent_answer_t ans;
    memset(&ans, 0, sizeof(ans));
    cf_err_t rc = cf_agent_checkin(&h, a->id, 1, &ans, &status, &w);
    if (rc == CF_OK && strcmp(ans.lock, "secure") != 0)
        rc = cf_why(&w, CF_ERR_UNTRUSTED, "%s records the new certificate as '%s'", s->alias,
                    ans.lock);
    cf_agent_answer_clear(&ans);
    if (rc != CF_OK && cf_agent_checkin_transient(rc, status, refused)) {
        cf_log(CF_LOG_WARN, "check=no-answer server=%s status=%ld why=\"%s\"", s->alias, status,
               cf_why_text(&w, rc));
        cf_why(&c->last, rc, "%s", cf_why_text(&w, rc));
        return CF_ERR_PENDING;
    }
    cf_log(rc == CF_OK ? CF_LOG_INFO : CF_LOG_WARN, "check=%s server=%s why=\"%s\"",
           rc == CF_OK ? "secure" : "refused", s->alias, rc == CF_OK ? "" : cf_why_text(&w, rc));
    return rc == CF_OK ? CF_OK : cf_why(why, rc, "%s", cf_why_text(&w, rc));
}

/* One pass over the servers: the one in use first, then the others in the choice order,
   those the list marks off line last (its flags are the last answer's view). CF_OK when
   one took the pair (it becomes the server in use), CF_ERR_PENDING when none answered. */
static cf_err_t s_check_pass(s_check_t *c, cf_why_t *why)
{
    cf_agent_t *a = c->a;
    unsigned char skip[CF_AGENT_SERVERS_MAX] = {0}, was_on[CF_AGENT_SERVERS_MAX];
    for (size_t k = 0; k < a->list.n; k++)
        was_on[k] = (unsigned char) a->list.servers[k].online;
    cf_route_choice_t reason = a->reason;
    size_t i = a->cur;
    int chosen = a->have_cur && a->cur < a->list.n, widened = 0;
    cf_err_t rc = CF_ERR_PENDING;
    while (rc == CF_ERR_PENDING && s_mono_ms() + S_CHECK_MIN_MS < c->deadline) {
        cf_err_t crc = chosen ? CF_OK
                              : cf_agent_choose(&a->list, a->id, a->opts.source_addr, skip, NULL,
                                                NULL, &i, &reason, NULL);
        if (crc == CF_ERR_NOTFOUND && !widened) {
            widened = 1;
            for (size_t k = 0; k < a->list.n; k++)
                a->list.servers[k].online = 1;
            continue;
        }
        if (crc != CF_OK) {
            rc = crc == CF_ERR_NOTFOUND ? CF_ERR_PENDING : crc;
            break;
        }
        chosen = 0;
        skip[i] = 1;
        rc = s_check_at(c, i, why);
    }
    for (size_t k = 0; k < a->list.n; k++)
        a->list.servers[k].online = was_on[k];
    if (rc == CF_OK) {
        a->cur = i;
        a->have_cur = 1;
        a->reason = reason;
        a->list.servers[i].online = 1; /* it answered */
    }
    return rc;
}

/* The aliases c tried, ", "-separated, into buf (cut with "..." when it is full). */
static void s_check_names(const s_check_t *c, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < c->n_tried && n < cap; k++) {
        int w = snprintf(buf + n, cap - n, "%s%s", k ? ", " : "",
                         c->a->list.servers[c->order[k]].alias);
        n += w > 0 ? (size_t) w : 0;
    }
    if (n >= cap && cap > 4)
        memcpy(buf + cap - 4, "...", 4);
}

cf_err_t cf_agent_check_pair(void *ctx, const char *cert_path, const char *key_path, cf_why_t *why)
{
    s_check_t c;
    memset(&c, 0, sizeof(c));
    c.a = ctx;
    c.cert = cert_path;
    c.key = key_path;
    c.deadline = s_mono_ms() + CF_AGENT_CHECK_BUDGET_MS;
    cf_agent_backoff_t pause = {.min_ms = CF_AGENT_CHECK_PAUSE_MS,
                                .max_ms = 4 * CF_AGENT_CHECK_PAUSE_MS};
    cf_err_t rc = s_check_pass(&c, why);
    while (rc == CF_ERR_PENDING && c.n_tried) {
        uint32_t ms = cf_agent_backoff_next(&pause);
        if (s_mono_ms() + ms + S_CHECK_MIN_MS >= c.deadline)
            break;
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        rc = s_check_pass(&c, why);
    }
    if (rc != CF_ERR_PENDING)
        return rc;
    if (!c.n_tried)
        return cf_why(why, CF_ERR_NOTFOUND, "no server to check the new certificate with");
    char names[120];
    s_check_names(&c, names, sizeof(names));
    cf_log(CF_LOG_WARN, "check=failed tried=\"%s\" why=\"%s\"", names, c.last.text);
    return cf_why(why, CF_ERR_IO, "no server answered in %d s (tried %s; last: %s)",
                  CF_AGENT_CHECK_BUDGET_MS / 1000, names, c.last.text);
}

/* Give memory back when it is due (docs/BENCHMARKS.md, memory of a real agent). */
static void s_trim_if_due(cf_agent_t *a)
{
    long long at = atomic_load(&a->trim_at);
    if (!at || s_mono_ms() < at || !atomic_compare_exchange_strong(&a->trim_at, &at, 0))
        return;
    cf_agent_trim_stats_t st;
    cf_why_t why = {""};
    cf_err_t rc = cf_agent_trim(&st, &why);
    size_t given = st.rss_before_kib > st.rss_after_kib ? st.rss_before_kib - st.rss_after_kib : 0;
    cf_log(
        rc == CF_OK ? CF_LOG_INFO : CF_LOG_WARN,
        "memory=given-back kib=%zu rss_kib=%zu heap_kib=%zu binary_kib=%zu pageout=%s why=\"%s\"",
        given, st.rss_after_kib, st.heap_kib, st.text_kib, st.pageout ? "yes" : "no",
        cf_why_text(&why, rc));
    pthread_mutex_lock(&a->mu);
    a->trims++;
    a->trimmed_kib += given;
    pthread_mutex_unlock(&a->mu);
}

/* One round. CF_OK when a server took the check-in. */
static cf_err_t s_round(cf_agent_t *a)
{
    cf_agent_answer_t ans;
    cf_why_t why = {""};
    memset(&ans, 0, sizeof(ans));
    cf_err_t rc = s_checkin_round(a, &ans, &why);
    if (rc != CF_OK) {
        cf_log(CF_LOG_WARN, "round=failed why=\"%s\"", cf_why_text(&why, rc));
        cf_agent_answer_clear(&ans);
        a->checkins_failed++;
        return rc;
    }
    a->checkins_ok++;
    a->last_checkin = (int64_t) time(NULL);
    s_take_answer(a, &ans);
    uint64_t renewals = a->renewals_ok + a->renewals_failed;
    if (ans.n_jobs)
        cf_agent_trim_soon(a);
    for (size_t i = 0; i < ans.n_jobs; i++) {
        char fpr[CF_AGENT_FPR_HEX + 1];
        cf_agent_fpr(a, fpr);
        if (cf_agent_jobs_take(a->jobs, ans.jobs[i], strlen(ans.jobs[i]), time(NULL), fpr, &why) !=
            CF_OK)
            cf_log(CF_LOG_ERROR, "jobs=%s save=\"%s\"", CF_AGENT_JOBS_FILE, why.text);
    }
    cf_agent_answer_clear(&ans);
    s_send_reports(a);
    cf_agent_renew_round(a);
    if (a->renewals_ok + a->renewals_failed != renewals)
        cf_agent_trim_soon(a);
    cf_agent_write_status(a);
    return CF_OK;
}

/* The link's state (asked outside the lock: the link's hooks take it), then the metrics. */
static void s_metrics(cf_agent_t *a)
{
    cf_fleet_agent_info_t info;
    if (!a->link)
        atomic_store(&a->link_up, -1);
    else if (cf_fleet_agent_info(a->link, 0, &info) == CF_OK)
        atomic_store(&a->link_up, info.link_up ? 1 : 0);
    pthread_mutex_lock(&a->mu);
    cf_agent_write_metrics(a);
    pthread_mutex_unlock(&a->mu);
}

/* SIGHUP: re-read agent.json and the server cache; a changed broker list restarts the
   link. The round that follows chooses a server afresh. */
static void s_reload(cf_agent_t *a)
{
    *a->opts.reload = 0;
    int relink = 0;
    cf_why_t why = {""};
    pthread_mutex_lock(&a->mu);
    cf_err_t rc = cf_agent_reload(a, &relink, &why);
    pthread_mutex_unlock(&a->mu);
    if (rc != CF_OK) {
        cf_log(CF_LOG_ERROR, "agent=%s reload=failed why=\"%s\" kept=running-configuration", a->id,
               cf_why_text(&why, rc));
        return;
    }
    if (relink && a->link_started) {
        cf_log(CF_LOG_INFO, "agent=%s brokers=changed link=restart", a->id);
        cf_agent_link_stop(a);
    }
}

/* Sleep ms in slices, returning early when asked to stop, to reload or to check in; memory
   is given back in the slice where it is due. */
static void s_sleep(cf_agent_t *a, uint32_t ms)
{
    while (ms > 0 && !(a->opts.stop && *a->opts.stop) && !atomic_load(&a->checkin_now) &&
           !(a->opts.reload && *a->opts.reload)) {
        uint32_t d = ms > 200 ? 200 : ms;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long) d * 1000000L};
        nanosleep(&ts, NULL);
        ms -= d;
        s_trim_if_due(a);
    }
}

int cf_agent_run(const cf_agent_run_opts_t *opts)
{
    cf_agent_t *a = NULL;
    int code = cf_agent_open(opts, &a);
    if (code != CF_AGENT_EXIT_OK)
        return code;
    cf_agent_jobs_cfg_t jcfg = {.dir = a->dir,
                                .id = a->id,
                                .ca = a->ca,
                                .kp = &a->kp,
                                .check = cf_agent_check_pair,
                                .check_ctx = a,
                                .renew = s_renew_job,
                                .renew_ctx = a,
                                .favorite = s_favorite,
                                .favorite_ctx = a};
    cf_why_t why = {""};
    if (cf_agent_jobs_new(&jcfg, &a->jobs, &why) != CF_OK) {
        cf_log(CF_LOG_ERROR, "dir=%s jobs=\"%s\"", a->dir, why.text);
        cf_agent_close(&a);
        return CF_AGENT_EXIT_STATE;
    }
    cf_agent_backoff_t back = {.min_ms = a->opts.retry_min_ms, .max_ms = a->opts.retry_max_ms};
    code = CF_AGENT_EXIT_FAIL;
    if (!a->opts.once)
        cf_agent_trim_soon(a); /* start-up: after the first rounds */
    while (!(a->opts.stop && *a->opts.stop)) {
        if (a->opts.reload && *a->opts.reload)
            s_reload(a);
        atomic_store(&a->checkin_now, 0);
        pthread_mutex_lock(&a->mu);
        cf_err_t rc = s_round(a);
        int stale = !a->opts.once && cf_agent_link_stale(a);
        pthread_mutex_unlock(&a->mu);
        if (stale) {
            cf_log(CF_LOG_INFO, "agent=%s certificate=changed link=restart", a->id);
            cf_agent_link_stop(a); /* the relays present the certificate they started with */
        }
        if (!a->link_started && !a->opts.once && cf_agent_link_start(a, &why) != CF_OK) {
            cf_log(CF_LOG_ERROR, "agent=%s link=failed why=\"%s\"", a->id, why.text);
            code = CF_AGENT_EXIT_FAIL;
            break;
        }
        s_metrics(a);
        if (a->opts.once) {
            code = rc == CF_OK ? CF_AGENT_EXIT_OK : CF_AGENT_EXIT_FAIL;
            break;
        }
        if (rc == CF_OK) {
            cf_agent_backoff_reset(&back);
            s_sleep(a, cf_agent_jitter(a->interval * 1000u, 10));
        } else {
            s_sleep(a, cf_agent_backoff_next(&back));
        }
        code = CF_AGENT_EXIT_OK;
    }
    cf_log(CF_LOG_INFO, "agent=%s stopped", a->id);
    cf_agent_close(&a);
    return code;
}
