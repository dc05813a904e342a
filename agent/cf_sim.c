/*  cf_sim - cf-agent --simulate: N full agents in one process (the package, the broker
    fleet, the HTTPS loop that enrolls them and checks them in, the stats line)  */
#include "cf_sim.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cf_file.h"
#include "cf_log.h"
#include "cf_mem.h"
#include "cf_sim_int.h"
#include "cf_zsock.h"

#define S_SCAN_MS  20    /* the agents are looked at this often at most */
#define S_POLL_MS  50    /* longest wait in curl_multi_poll (a wakeup cuts it short) */
#define S_QUIET_MS 10000 /* a stats line at least this often, changed or not */

int64_t cf_sim_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cf_sim_agent_id(const cf_sim_t *sim, size_t a, char id[CF_MSG_AGENT_MAX + 1])
{
    snprintf(id, CF_MSG_AGENT_MAX + 1, "%s%zu", sim->prefix, sim->o.first + a); /* cf_fleet's */
}

void cf_sim_agent_addr(const cf_sim_t *sim, size_t a, char addr[16])
{
    cf_sim_net_addr(&sim->o.net, (uint64_t) (sim->o.first + a), addr);
}

size_t cf_sim_agent_server(cf_sim_t *sim, size_t a, unsigned skip)
{
    cf_agent_servers_t l = sim->bundle.config.servers; /* shares its servers: not cleared */
    unsigned char flags[CF_AGENT_SERVERS_MAX] = {0};
    char id[CF_MSG_AGENT_MAX + 1], addr[16];
    size_t idx = 0;
    pthread_mutex_lock(&sim->mu);
    memcpy(l.favorite, sim->agents[a].favorite, sizeof(l.favorite));
    pthread_mutex_unlock(&sim->mu);
    l.seen_addr[0] = '\0';
    if (skip && skip <= l.n && l.n > 1)
        flags[skip - 1] = 1;
    cf_sim_agent_id(sim, a, id);
    cf_sim_agent_addr(sim, a, addr);
    if (cf_agent_choose(&l, id, addr, flags, NULL, NULL, &idx, NULL, NULL) != CF_OK)
        idx = skip ? skip % l.n : 0; /* none on line in the list: try them in turn */
    return idx;
}

void cf_sim_check_free(cf_sim_check_t **check_p)
{
    if (!check_p || !*check_p)
        return;
    cf_mem_free((*check_p)->cert);
    cf_mem_free_secret_str((*check_p)->key);
    cf_mem_free(*check_p);
    *check_p = NULL;
}

/* The new pair in, under mu; the old one into keep (which then goes on trial) or freed. */
static cf_err_t s_put(cf_sim_t *sim, size_t a, const char *cert, const char *key,
                      const cf_cert_t *leaf, int write, cf_sim_check_t *keep, cf_why_t *why)
{
    unsigned char id[CF_CERT_KEY_ID_LEN];
    if (cf_cert_key_id(leaf, id) != CF_OK)
        return cf_why(why, CF_ERR_CRYPTO, "the certificate's public key does not encode");
    if (sim->state_dir && write)
        CF_TRY(cf_sim_state_write_pair(sim, a, cert, key, why));
    char *c = cf_mem_strdup(cert), *k = cf_mem_strdup(key);
    if (!c || !k) {
        cf_mem_free(c);
        cf_mem_free_secret_str(k);
        return cf_why(why, CF_ERR_NOMEM, "out of memory");
    }
    cf_sim_agent_t *ag = &sim->agents[a];
    pthread_mutex_lock(&sim->mu);
    char *old_c = ag->cert, *old_k = ag->key;
    if (keep) { /* reserved by cf_sim_agent_try: the check-in may carry it from now on */
        keep->cert = old_c;
        keep->key = old_k;
        memcpy(keep->fpr, ag->fpr, sizeof(keep->fpr));
        memcpy(keep->key_id, ag->key_id, sizeof(keep->key_id));
        keep->call = 0;
        old_c = old_k = NULL;
    }
    ag->cert = c;
    ag->key = k;
    snprintf(ag->fpr, sizeof(ag->fpr), "%s", cf_cert_fingerprint(leaf));
    memcpy(ag->key_id, id, sizeof(id));
    pthread_mutex_unlock(&sim->mu);
    cf_mem_free(old_c);
    cf_mem_free_secret_str(old_k);
    return CF_OK;
}

cf_err_t cf_sim_agent_install(cf_sim_t *sim, size_t a, const char *cert, const char *key,
                              const cf_cert_t *leaf, int write, cf_why_t *why)
{
    return s_put(sim, a, cert, key, leaf, write, NULL, why);
}

cf_err_t cf_sim_agent_try(cf_sim_t *sim, size_t a, const char *job_id, const char *cert,
                          const char *key, const cf_cert_t *leaf, cf_why_t *why)
{
    cf_sim_check_t *keep = cf_mem_calloc(1, sizeof(*keep));
    if (!keep)
        return cf_why(why, CF_ERR_NOMEM, "out of memory");
    snprintf(keep->job_id, sizeof(keep->job_id), "%s", job_id);
    keep->call = -1; /* not ready: the new pair is not in yet */
    cf_sim_agent_t *ag = &sim->agents[a];
    pthread_mutex_lock(&sim->mu); /* the fleet's thread (jobs) and the main one (renewals) */
    int busy = ag->check != NULL;
    if (!busy)
        ag->check = keep;
    pthread_mutex_unlock(&sim->mu);
    if (busy) {
        cf_mem_free(keep);
        return cf_why(why, CF_ERR_STATE, "another job's certificate is still being checked");
    }
    /* not written: the state directory gets the pair once it passed (cf_sim_jobs_checked) */
    cf_err_t rc = s_put(sim, a, cert, key, leaf, 0, keep, why);
    if (rc != CF_OK) {
        pthread_mutex_lock(&sim->mu);
        ag->check = NULL;
        pthread_mutex_unlock(&sim->mu);
        cf_mem_free(keep);
        return rc;
    }
    cf_sim_agent_due(sim, a);
    return CF_OK;
}

int cf_sim_agent_check_again(cf_sim_t *sim, size_t a, const char *job_id)
{
    pthread_mutex_lock(&sim->mu);
    cf_sim_check_t *c = sim->agents[a].check;
    int again =
        c && c->call == 1 && strcmp(c->job_id, job_id) == 0 && c->tries + 1 < CF_SIM_CHECK_TRIES;
    if (again) {
        c->tries++;
        c->call = 0; /* the next check-in carries it again */
    }
    pthread_mutex_unlock(&sim->mu);
    return again;
}

void cf_sim_agent_check_job(cf_sim_t *sim, size_t a, char job[CF_JOB_ID_HEX + 1])
{
    job[0] = '\0';
    pthread_mutex_lock(&sim->mu);
    cf_sim_check_t *c = sim->agents[a].check;
    if (c && !c->call) {
        c->call = 1;
        snprintf(job, CF_JOB_ID_HEX + 1, "%s", c->job_id);
    }
    pthread_mutex_unlock(&sim->mu);
}

void cf_sim_agent_due(cf_sim_t *sim, size_t a)
{
    atomic_store(&sim->agents[a].due, 1);
    curl_multi_wakeup(sim->multi);
}

/* Fleet hooks: a (re)connect or a CHECKIN message asks for a check-in now. */
static void s_on_link(void *ctx, size_t a)
{
    cf_sim_agent_due(ctx, a);
}

static void s_on_checkin(void *ctx, size_t a, const char *job_id)
{
    (void) job_id;
    cf_sim_agent_due(ctx, a);
}

/* The package: servers, a broker, a token; its CA. */
static cf_err_t s_load(cf_sim_t *sim, cf_why_t *why)
{
    cf_agent_bundle_t *b = &sim->bundle;
    CF_TRY(cf_agent_bundle_load(sim->o.bundle, b, why));
    if (!b->token[0])
        return cf_why(why, CF_ERR_INVALID,
                      "the package %s has no enrollment token: make it with "
                      "`cf-console package create --token-uses N` (N >= the agents)",
                      sim->o.bundle);
    size_t n = 0; /* tls:// entries need a relay per agent: simulated agents use tcp:// */
    for (size_t i = 0; i < b->config.n_brokers; i++)
        if (!b->config.tls[i])
            b->config.brokers[n++] = b->config.brokers[i];
    if (n < b->config.n_brokers)
        cf_log(CF_LOG_WARN, "package=%s tls_brokers=%zu skipped=simulated-agents-use-tcp",
               sim->o.bundle, b->config.n_brokers - n);
    b->config.n_brokers = n;
    memset(b->config.tls, 0, sizeof(b->config.tls));
    if (b->config.n_brokers == 0 || b->config.servers.n == 0)
        return cf_why(why, CF_ERR_INVALID,
                      "the package %s lists no tcp:// broker or no server (cf-server "
                      "--agent-broker)",
                      sim->o.bundle);
    cf_err_t rc = cf_cert_parse(b->ca_pem, strlen(b->ca_pem), &sim->ca);
    return rc == CF_OK ? CF_OK : cf_why(why, rc, "the package's CA does not parse");
}

static cf_err_t s_fleet(cf_sim_t *sim, cf_why_t *why)
{
    cf_fleet_cfg_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.count = sim->o.count;
    cfg.first = sim->o.first;
    cfg.id_prefix = sim->prefix;
    cfg.brokers = sim->bundle.config.brokers;
    cfg.n_brokers = sim->bundle.config.n_brokers;
    cfg.ca = sim->ca;
    cfg.sw_version = "cf-agent " CF_AGENT_VERSION " (simulated)";
    cfg.start_offline = 1; /* each agent connects once enrolled (its key is then known) */
    cfg.on_job = cf_sim_on_job;
    cfg.on_job_quick = 1; /* an install's check is left pending, never waited for */
    cfg.on_link = s_on_link;
    cfg.on_checkin = s_on_checkin;
    cfg.hook_ctx = sim;
    CF_TRY(cf_zsock_raise_nofile(NULL, why));
    if (!sim->state_dir)
        return cf_fleet_new(&cfg, &sim->fleet, why);
    /* --state-dir: the agents enrolled by an earlier run come back with their keys */
    cf_curve_keypair_t *kps = cf_mem_calloc(sim->o.count, sizeof(*kps));
    size_t restored = 0;
    if (!kps)
        return CF_ERR_NOMEM;
    cf_err_t rc = cf_sim_state_restore(sim, kps, &restored, why);
    cfg.keypairs = kps;
    if (rc == CF_OK)
        rc = cf_fleet_new(&cfg, &sim->fleet, why);
    if (rc == CF_OK)
        cf_log(CF_LOG_INFO, "sim=restored agents=%zu of=%zu dir=%s", restored, sim->o.count,
               sim->state_dir);
    cf_mem_free_secret(kps, sim->o.count * sizeof(*kps));
    return rc;
}

static cf_err_t s_check_opts(const cf_sim_opts_t *o, cf_why_t *why)
{
    if (!o || !o->bundle)
        return cf_why(why, CF_ERR_INVALID, "the simulator needs a package (--bundle)");
    if (o->count == 0 || o->count > CF_FLEET_MAX_AGENTS)
        return cf_why(why, CF_ERR_TOOBIG, "a simulator process holds 1..%d agents",
                      CF_FLEET_MAX_AGENTS);
    if (o->id_prefix && strlen(o->id_prefix) > CF_FLEET_PREFIX_MAX)
        return cf_why(why, CF_ERR_INVALID, "id prefix over %d bytes", CF_FLEET_PREFIX_MAX);
    if (o->max_inflight > CF_SIM_INFLIGHT_MAX || o->net.bits < CF_SIM_NET_MIN_BITS ||
        o->net.bits > CF_SIM_NET_MAX_BITS || o->timeout_ms < 0)
        return cf_why(why, CF_ERR_INVALID, "max-inflight, source net or timeout out of range");
    return CF_OK;
}

cf_err_t cf_sim_new(const cf_sim_opts_t *opts, cf_sim_t **out, cf_why_t *why)
{
    if (!out)
        return CF_ERR_INVALID;
    *out = NULL;
    CF_TRY(s_check_opts(opts, why));
    cf_sim_t *sim = cf_mem_calloc(1, sizeof(*sim));
    if (!sim)
        return CF_ERR_NOMEM;
    sim->o = *opts;
    sim->o.bundle = NULL; /* borrowed: read here only */
    sim->o.id_prefix = NULL;
    sim->o.state_dir = NULL;
    sim->o.max_inflight = opts->max_inflight ? opts->max_inflight : CF_SIM_INFLIGHT;
    sim->o.enroll_rate = opts->enroll_rate ? opts->enroll_rate : CF_SIM_ENROLL_RATE;
    sim->o.timeout_ms = opts->timeout_ms ? opts->timeout_ms : CF_SIM_TIMEOUT_MS;
    snprintf(sim->prefix, sizeof(sim->prefix), "%s", opts->id_prefix ? opts->id_prefix : "sim-");
    pthread_mutex_init(&sim->mu, NULL);
    cf_err_t rc = CF_ERR_NOMEM;
    sim->agents = cf_mem_calloc(opts->count, sizeof(sim->agents[0]));
    sim->multi = curl_multi_init();
    sim->state_dir = opts->state_dir ? cf_mem_strdup(opts->state_dir) : NULL;
    if (!sim->agents || !sim->multi || (opts->state_dir && !sim->state_dir))
        goto out;
    sim->o.bundle = opts->bundle;
    rc = s_load(sim, why);
    sim->o.bundle = NULL;
    if (rc == CF_OK)
        rc = s_fleet(sim, why);
out:
    if (rc != CF_OK)
        cf_sim_destroy(&sim);
    *out = sim;
    return rc;
}

void cf_sim_destroy(cf_sim_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_sim_t *sim = *self_p;
    cf_fleet_destroy(&sim->fleet); /* first: its thread calls into the agents */
    if (sim->multi) {
        cf_sim_http_abort(sim);
        curl_multi_cleanup(sim->multi);
    }
    for (size_t a = 0; sim->agents && a < sim->o.count; a++) {
        cf_mem_free(sim->agents[a].cert);
        cf_mem_free_secret_str(sim->agents[a].key);
        cf_mem_free(sim->agents[a].applied);
        cf_mem_free(sim->agents[a].renew_job);
        cf_sim_check_free(&sim->agents[a].check);
    }
    cf_sim_tls_fini(sim);
    cf_mem_free(sim->agents);
    cf_agent_bundle_clear(&sim->bundle);
    cf_cert_destroy(&sim->ca);
    cf_job_verifier_destroy(&sim->verifier);
    cf_sim_reissue_destroy(&sim->reissue);
    cf_mem_free(sim->state_dir);
    pthread_mutex_destroy(&sim->mu);
    cf_mem_free(sim);
    *self_p = NULL;
}

/* Open the broker links of the agents enrolled a moment ago. */
static void s_online(cf_sim_t *sim, int64_t now)
{
    for (size_t a = 0; a < sim->o.count && sim->n_online_due; a++) {
        cf_sim_agent_t *ag = &sim->agents[a];
        if (!ag->online_ms || now < ag->online_ms)
            continue;
        ag->online_ms = 0;
        sim->n_online_due--;
        if (cf_fleet_set_online(sim->fleet, a, 1) != CF_OK)
            cf_log(CF_LOG_WARN, "agent=%zu link=not-opened", sim->o.first + a);
    }
}

/* Agent a's renew_csr job, taken from the fleet's thread, goes out as a call. */
static void s_start_renew(cf_sim_t *sim, size_t a)
{
    cf_sim_agent_t *ag = &sim->agents[a];
    char job[CF_JOB_ID_HEX + 1] = "";
    atomic_store(&ag->renew_due, 0);
    pthread_mutex_lock(&sim->mu);
    if (ag->renew_job)
        snprintf(job, sizeof(job), "%s", ag->renew_job);
    cf_mem_free(ag->renew_job);
    ag->renew_job = NULL;
    pthread_mutex_unlock(&sim->mu);
    if (!job[0])
        return;
    cf_err_t rc = cf_sim_http_start(sim, a, CF_SIM_CALL_RENEW, job);
    if (rc != CF_OK) {
        cf_why_t why = {""};
        cf_why(&why, rc, "the renewal call could not start: %s", cf_err_str(rc));
        cf_sim_jobs_renewed(sim, a, job, rc, NULL, &why);
    }
}

/* Is a call of agent ag due now? */
static int s_ready(cf_sim_agent_t *ag, int64_t now)
{
    if (ag->busy || ag->phase == CF_SIM_REFUSED)
        return 0;
    if (now >= ag->next_ms)
        return 1;
    return ag->phase == CF_SIM_ENROLLED && atomic_load(&ag->due);
}

/* Start what is due, within the in-flight bound and the enrollment rate. */
static void s_schedule(cf_sim_t *sim, int64_t now)
{
    double burst = sim->o.enroll_rate / 10.0 + 1; /* at most 100 ms of enrollments at once */
    sim->budget += (double) (now - sim->budget_ms) * sim->o.enroll_rate / 1000.0;
    sim->budget = sim->budget > burst ? burst : sim->budget;
    sim->budget_ms = now;
    size_t n = sim->o.count, k = 0;
    for (; k < n && sim->inflight < sim->o.max_inflight; k++) {
        size_t a = (sim->cursor + k) % n;
        cf_sim_agent_t *ag = &sim->agents[a];
        if (!ag->busy && atomic_load(&ag->renew_due)) {
            s_start_renew(sim, a);
            continue;
        }
        if (!s_ready(ag, now) || (ag->phase == CF_SIM_NEW && sim->budget < 1))
            continue;
        cf_sim_call_kind_t kind = CF_SIM_CALL_CHECKIN;
        if (ag->phase == CF_SIM_NEW) {
            sim->budget -= 1;
            kind = CF_SIM_CALL_ENROLL;
        } else {
            atomic_store(&ag->due, 0);
        }
        char check[CF_JOB_ID_HEX + 1] = "";
        if (kind == CF_SIM_CALL_CHECKIN)
            cf_sim_agent_check_job(sim, a, check);
        cf_err_t rc = cf_sim_http_start(sim, a, kind, check[0] ? check : NULL);
        if (rc != CF_OK) {
            if (check[0]) {
                cf_why_t why = {""};
                cf_why(&why, rc, "the check-in with the new certificate could not start: %s",
                       cf_err_str(rc));
                cf_sim_jobs_checked(sim, a, check, rc, &why);
            }
            cf_log(CF_LOG_WARN, "agent=%zu call=not-started error=%s", sim->o.first + a,
                   cf_err_name(rc));
            ag->next_ms = now + CF_SIM_RETRY_MIN;
        }
    }
    sim->cursor = (sim->cursor + k) % n;
}

cf_err_t cf_sim_stats(cf_sim_t *self, cf_sim_stats_t *out)
{
    if (!self || !out)
        return CF_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    CF_TRY(cf_fleet_stats(self->fleet, &out->fleet));
    out->t_ms = cf_sim_now_ms();
    out->rss_kib = cf_sim_rss_kib();
    out->agents = self->o.count;
    size_t by_lock[5] = {0};
    pthread_mutex_lock(&self->mu);
    for (size_t a = 0; a < self->o.count; a++) {
        const cf_sim_agent_t *ag = &self->agents[a];
        out->enrolled += ag->phase == CF_SIM_ENROLLED;
        out->refused += ag->phase == CF_SIM_REFUSED;
        out->with_cert += ag->cert != NULL;
        by_lock[ag->lock < 5 ? ag->lock : 0]++;
    }
    out->renewals = self->renewals;
    out->renew_fails = self->renew_fails;
    out->replays = self->replays;
    pthread_mutex_unlock(&self->mu);
    out->insecure = by_lock[CF_SIM_LOCK_INSECURE];
    out->secure = by_lock[CF_SIM_LOCK_SECURE];
    out->attention = by_lock[CF_SIM_LOCK_ATTENTION];
    out->expired = by_lock[CF_SIM_LOCK_EXPIRED];
    out->inflight = self->inflight;
    out->enroll_fails = self->enroll_fails;
    out->checkins = self->checkins;
    out->checkin_fails = self->checkin_fails;
    out->polled = self->polled;
    out->rehellos = self->rehellos;
    return CF_OK;
}

void cf_sim_stats_key(const cf_sim_stats_t *s, char *buf, size_t len)
{
    const cf_fleet_stats_t *f = &s->fleet;
    snprintf(buf, len,
             "agents=%zu enrolled=%zu secure=%zu insecure=%zu jobs=%llu installed=%llu "
             "failed=%llu attention=%zu expired=%zu refused=%zu certs=%zu up=%llu "
             "checkins=%llu checkin_fails=%llu enroll_fails=%llu renewals=%llu renew_fails=%llu "
             "polled=%llu rehellos=%llu replays=%llu",
             s->agents, s->enrolled, s->secure, s->insecure, (unsigned long long) f->jobs,
             (unsigned long long) f->installed, (unsigned long long) f->failed, s->attention,
             s->expired, s->refused, s->with_cert,
             (unsigned long long) (f->connects - f->disconnects), (unsigned long long) s->checkins,
             (unsigned long long) s->checkin_fails, (unsigned long long) s->enroll_fails,
             (unsigned long long) s->renewals, (unsigned long long) s->renew_fails,
             (unsigned long long) s->polled, (unsigned long long) s->rehellos,
             (unsigned long long) s->replays);
}

void cf_sim_stats_line(const cf_sim_stats_t *s, unsigned proc, char *buf, size_t len)
{
    char key[700];
    cf_sim_stats_key(s, key, sizeof(key));
    snprintf(buf, len, "sim stats t_ms=%lld proc=%u %s inflight=%zu rss_kib=%lu",
             (long long) s->t_ms, proc, key, s->inflight, s->rss_kib);
}

/* A stats line when the counters changed (or force, or after S_QUIET_MS). */
static void s_print(cf_sim_t *sim, FILE *to, char *prev, size_t cap, int force, int64_t *last)
{
    cf_sim_stats_t st;
    char key[700], line[900];
    if (!to || cf_sim_stats(sim, &st) != CF_OK)
        return;
    cf_sim_stats_key(&st, key, sizeof(key));
    if (!force && strcmp(key, prev) == 0 && st.t_ms - *last < S_QUIET_MS)
        return;
    snprintf(prev, cap, "%s", key);
    *last = st.t_ms;
    cf_sim_stats_line(&st, sim->o.proc, line, sizeof(line));
    fprintf(to, "%s\n", line);
    fflush(to);
}

cf_err_t cf_sim_run(cf_sim_t *self, volatile sig_atomic_t *stop, FILE *stats_to, cf_why_t *why)
{
    if (!self || !stop)
        return CF_ERR_INVALID;
    char prev[700] = "";
    int64_t last_scan = 0, last_look = 0, last_line = 0;
    cf_err_t rc = CF_OK;
    self->budget_ms = cf_sim_now_ms();
    while (!*stop) {
        int64_t now = cf_sim_now_ms();
        if (now - last_scan >= S_SCAN_MS) {
            s_online(self, now);
            s_schedule(self, now);
            last_scan = now;
        }
        int running = 0;
        curl_multi_perform(self->multi, &running);
        cf_sim_http_collect(self);
        if (now - last_look >= 1000) {
            s_print(self, stats_to, prev, sizeof(prev), 0, &last_line);
            last_look = now;
        }
        if (self->n_refused == self->o.count) {
            rc = cf_why(why, CF_ERR_POLICY, "enrollment failed for every agent (last: %s)",
                        self->last_refusal);
            break;
        }
        curl_multi_poll(self->multi, NULL, 0, S_POLL_MS, NULL);
    }
    s_print(self, stats_to, prev, sizeof(prev), 1, &last_line);
    return rc;
}
