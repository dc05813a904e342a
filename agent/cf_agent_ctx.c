/*  cf_agent_ctx - the running agent's context: the state directory read at start, the
    renewal step, the status file and `cf-agent status`  */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "cf_agent_int.h"
#include "cf_agent_metrics.h"
#include "cf_agent_state.h"
#include "cf_file.h"
#include "cf_log.h"
#include "cf_mem.h"

#define S_CONF_MAX (256 * 1024) /* largest agent.json, bytes */

static int s_path(char *buf, size_t cap, const char *dir, const char *name)
{
    return snprintf(buf, cap, "%s/%s", dir, name) < (int) cap;
}

/* agent.json's brokers: ["tcp://host:port#Z85" or "tls://...", ...]; absent or empty:
   polling only. */
static cf_err_t s_read_brokers(cf_agent_t *a, const json_t *arr, cf_why_t *why)
{
    if (!arr || json_is_null(arr))
        return CF_OK;
    if (!json_is_array(arr) || json_array_size(arr) > CF_CURVE_BROKERS_MAX)
        return cf_why(why, CF_ERR_CORRUPT, "brokers is not a list of at most %d endpoints",
                      CF_CURVE_BROKERS_MAX);
    size_t i;
    const json_t *e;
    json_array_foreach(arr, i, e)
    {
        const char *t = json_string_value(e);
        int tls = 0;
        if (!t || cf_agent_broker_parse(t, strlen(t), &a->brokers[i], &tls, why) != CF_OK)
            return cf_why(why, CF_ERR_CORRUPT, "broker %zu is not tcp:// or tls://host:port#<key>",
                          i);
        a->broker_tls[i] = (unsigned char) tls;
        a->n_brokers = i + 1;
    }
    return CF_OK;
}

/* agent.json: id, servers, favorite, interval (brokers are the broker link's). */
static cf_err_t s_read_conf(cf_agent_t *a, cf_why_t *why)
{
    char path[PATH_MAX], *buf = NULL;
    size_t len = 0;
    if (!s_path(path, sizeof(path), a->dir, CF_AGENT_CONF_FILE))
        return cf_why(why, CF_ERR_INVALID, "state directory path too long");
    CF_TRY(cf_file_read(path, S_CONF_MAX, &buf, &len, why));
    crypto_generichash(a->conf_hash, sizeof(a->conf_hash), (const unsigned char *) buf, len, NULL,
                       0);
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
    cf_mem_free(buf);
    const char *id = json_string_value(json_object_get(j, "id"));
    const json_t *fav = json_object_get(j, "favorite");
    const json_t *iv = json_object_get(j, "interval");
    cf_err_t rc = CF_OK;
    if (!id || !id[0] || strlen(id) >= sizeof(a->id) ||
        (fav && !json_is_null(fav) &&
         (!json_is_string(fav) || json_string_length(fav) >= sizeof(a->list.favorite))) ||
        (iv && !json_is_integer(iv)))
        rc = cf_why(why, CF_ERR_CORRUPT, "%s: id, favorite or interval is not usable", path);
    if (rc == CF_OK)
        rc = cf_agent_servers_from_json(&a->list, json_object_get(j, "servers"), why);
    if (rc == CF_OK)
        rc = s_read_brokers(a, json_object_get(j, "brokers"), why);
    if (rc == CF_OK) {
        snprintf(a->id, sizeof(a->id), "%s", id);
        if (json_is_string(fav))
            snprintf(a->list.favorite, sizeof(a->list.favorite), "%s", json_string_value(fav));
        json_int_t v = iv ? json_integer_value(iv) : 300;
        a->interval = (unsigned) (v < CF_AGENT_INTERVAL_MIN   ? CF_AGENT_INTERVAL_MIN
                                  : v > CF_AGENT_INTERVAL_MAX ? CF_AGENT_INTERVAL_MAX
                                                              : v);
    }
    json_decref(j);
    return rc;
}

static cf_err_t s_read_keys(cf_agent_t *a, cf_why_t *why)
{
    char path[PATH_MAX], *buf = NULL;
    size_t len = 0;
    if (!s_path(path, sizeof(path), a->dir, "curve.key_secret"))
        return CF_ERR_INVALID;
    CF_TRY(cf_curve_keypair_load(path, &a->kp, why));
    CF_TRY(cf_file_read(a->ca_path, CF_AGENT_CERTS_MAX, &buf, &len, why));
    cf_err_t rc = cf_cert_parse(buf, len, &a->ca);
    cf_mem_free(buf);
    return rc == CF_OK ? CF_OK : cf_why(why, rc, "%s holds no CA certificate", a->ca_path);
}

int cf_agent_open(const cf_agent_run_opts_t *opts, cf_agent_t **out)
{
    cf_agent_t *a = cf_mem_calloc(1, sizeof(*a));
    if (!a)
        return CF_AGENT_EXIT_FAIL;
    a->opts = *opts;
    pthread_mutex_init(&a->mu, NULL);
    atomic_init(&a->link_up, -1);
    const char *dir = opts->dir ? opts->dir : CF_AGENT_DEFAULT_DIR;
    a->opts.renew_days = opts->renew_days ? opts->renew_days : CF_AGENT_RENEW_DAYS;
    a->opts.retry_min_ms = opts->retry_min_ms ? opts->retry_min_ms : 1000;
    a->opts.retry_max_ms = opts->retry_max_ms ? opts->retry_max_ms : 300000;
    cf_why_t why = {""};
    cf_err_t rc = CF_ERR_INVALID;
    if (snprintf(a->dir, sizeof(a->dir), "%s", dir) >= (int) sizeof(a->dir))
        goto out;
    s_path(a->ca_path, sizeof(a->ca_path), a->dir, "ca.pem");
    s_path(a->cert_path, sizeof(a->cert_path), a->dir, CF_AGENT_CERT_FILE);
    s_path(a->key_path, sizeof(a->key_path), a->dir, CF_AGENT_KEY_FILE);
    s_path(a->cache_path, sizeof(a->cache_path), a->dir, CF_AGENT_CACHE_FILE);
    rc = s_read_conf(a, &why);
    if (rc == CF_OK)
        rc = s_read_keys(a, &why);
    if (rc == CF_OK)
        rc = cf_agent_certs_recover(a->dir, NULL, &why);
    if (rc == CF_OK)
        rc = cf_agent_renew_load(a->dir, &a->renew, &why);
    if (rc != CF_OK)
        goto out;
    cf_agent_servers_t cached = {.n = 0};
    if (cf_agent_servers_load(&cached, a->cache_path, NULL) == CF_OK && cached.n) {
        cf_agent_servers_clear(&a->list); /* the cache is newer than the package's list */
        a->list = cached;
    } else {
        cf_agent_servers_clear(&cached);
    }
    if (opts->interval)
        a->interval = opts->interval;
    cf_log(CF_LOG_INFO, "agent=%s dir=%s servers=%zu favorite=%s", a->id, a->dir, a->list.n,
           a->list.favorite[0] ? a->list.favorite : "-");
    *out = a;
    return CF_AGENT_EXIT_OK;
out:
    cf_log(CF_LOG_ERROR, "dir=%s state=unusable why=\"%s\"", a->dir, cf_why_text(&why, rc));
    cf_agent_close(&a);
    return CF_AGENT_EXIT_STATE;
}

/* agent.json changed: take its lists and interval from fresh (read into a scratch agent). */
static void s_take_conf(cf_agent_t *a, cf_agent_t *fresh, int *relink)
{
    *relink = a->n_brokers != fresh->n_brokers ||
              memcmp(a->brokers, fresh->brokers, fresh->n_brokers * sizeof(a->brokers[0])) != 0 ||
              memcmp(a->broker_tls, fresh->broker_tls, fresh->n_brokers) != 0;
    memcpy(a->brokers, fresh->brokers, sizeof(a->brokers));
    memcpy(a->broker_tls, fresh->broker_tls, sizeof(a->broker_tls));
    a->n_brokers = fresh->n_brokers;
    if (!fresh->list.favorite[0])
        snprintf(fresh->list.favorite, sizeof(fresh->list.favorite), "%s", a->list.favorite);
    snprintf(fresh->list.seen_addr, sizeof(fresh->list.seen_addr), "%s", a->list.seen_addr);
    cf_agent_servers_clear(&a->list);
    a->list = fresh->list;
    memset(&fresh->list, 0, sizeof(fresh->list));
    if (!a->opts.interval)
        a->interval = fresh->interval;
    memcpy(a->conf_hash, fresh->conf_hash, sizeof(a->conf_hash));
    cf_why_t why = {""};
    if (cf_agent_servers_save(&a->list, a->cache_path, &why) != CF_OK)
        cf_log(CF_LOG_WARN, "cache=%s save=\"%s\"", a->cache_path, why.text);
}

cf_err_t cf_agent_reload(cf_agent_t *a, int *relink, cf_why_t *why)
{
    *relink = 0;
    cf_agent_t *fresh = cf_mem_calloc(1, sizeof(*fresh));
    if (!fresh)
        return CF_ERR_NOMEM;
    memcpy(fresh->dir, a->dir, sizeof(fresh->dir));
    cf_err_t rc = s_read_conf(fresh, why);
    if (rc == CF_OK && strcmp(fresh->id, a->id) != 0)
        rc = cf_why(why, CF_ERR_INVALID,
                    "agent.json names id '%s', this agent runs as '%s' "
                    "(a new id needs a restart)",
                    fresh->id, a->id);
    int conf = rc == CF_OK && memcmp(fresh->conf_hash, a->conf_hash, sizeof(a->conf_hash)) != 0;
    char alias[CF_JOB_ALIAS_MAX + 1] = "";
    if (a->have_cur)
        snprintf(alias, sizeof(alias), "%s", a->list.servers[a->cur].alias);
    if (conf) {
        s_take_conf(a, fresh, relink);
    } else if (rc == CF_OK) {
        cf_agent_servers_t cached = {.n = 0};
        if (cf_agent_servers_load(&cached, a->cache_path, NULL) == CF_OK && cached.n) {
            cf_agent_servers_clear(&a->list);
            a->list = cached;
        } else {
            cf_agent_servers_clear(&cached);
        }
    }
    if (rc == CF_OK) {
        /* the server in use stays known (a job's handshake check needs it) when the new list
           still has it; the next round chooses afresh anyway */
        a->have_cur = 0;
        for (size_t i = 0; alias[0] && i < a->list.n; i++)
            if (strcmp(a->list.servers[i].alias, alias) == 0) {
                a->cur = i;
                a->have_cur = 1;
            }
        cf_log(CF_LOG_INFO,
               "agent=%s reload=done agent.json=%s servers=%zu favorite=%s brokers=%zu%s "
               "interval=%u",
               a->id, conf ? "changed" : "unchanged", a->list.n,
               a->list.favorite[0] ? a->list.favorite : "-", a->n_brokers,
               *relink ? "(changed)" : "", a->interval);
    }
    cf_agent_servers_clear(&fresh->list);
    cf_mem_free(fresh);
    return rc;
}

void cf_agent_close(cf_agent_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_agent_t *a = *self_p;
    cf_agent_link_stop(a); /* first: its thread calls into the rest */
    cf_agent_jobs_destroy(&a->jobs);
    pthread_mutex_destroy(&a->mu);
    cf_agent_servers_clear(&a->list);
    cf_cert_destroy(&a->ca);
    cf_curve_keypair_wipe(&a->kp);
    cf_mem_free(a);
    *self_p = NULL;
}

void cf_agent_fpr(const cf_agent_t *a, char fpr[CF_AGENT_FPR_HEX + 1])
{
    cf_cert_t *c = NULL;
    fpr[0] = '\0';
    if (cf_agent_certs_current(a->dir, &c, NULL) == CF_OK)
        snprintf(fpr, CF_AGENT_FPR_HEX + 1, "%s", cf_cert_fingerprint(c));
    cf_cert_destroy(&c);
}

cf_err_t cf_agent_renew_with(cf_agent_t *a, char fpr_out[CF_AGENT_FPR_HEX + 1], cf_why_t *why)
{
    if (!a->have_cur)
        return cf_why(why, CF_ERR_STATE, "no server to renew with");
    cf_agent_http_t h;
    cf_agent_http_of(a, &a->list.servers[a->cur], &h);
    if (h.plain)
        return cf_why(why, CF_ERR_STATE, "no certificate to renew (enroll first)");
    cf_agent_renew_req_t req = {.dir = a->dir,
                                .id = a->id,
                                .curve_pub = a->kp.pub,
                                .http = &h,
                                .check = cf_agent_check_pair,
                                .check_ctx = a};
    cf_err_t rc = cf_agent_renew_now(&req, fpr_out, why);
    cf_agent_renew_record(&a->renew, rc, why, time(NULL));
    if (rc == CF_OK)
        a->renewals_ok++;
    else
        a->renewals_failed++;
    cf_why_t swhy = {""};
    if (cf_agent_renew_save(a->dir, &a->renew, &swhy) != CF_OK)
        cf_log(CF_LOG_WARN, "renew=%s save=\"%s\"", CF_AGENT_RENEW_FILE, swhy.text);
    cf_log(rc == CF_OK ? CF_LOG_INFO : CF_LOG_WARN, "renew=%s fpr=%s failures=%u why=\"%s\"",
           rc == CF_OK ? "ok" : "failed", rc == CF_OK && fpr_out ? fpr_out : "-", a->renew.failures,
           rc == CF_OK ? "" : cf_why_text(why, rc));
    return rc;
}

void cf_agent_renew_round(cf_agent_t *a)
{
    cf_cert_t *c = NULL;
    if (cf_agent_certs_current(a->dir, &c, NULL) != CF_OK)
        c = NULL; /* none installed: nothing to renew */
    int go = cf_agent_renew_check(&a->renew, c, a->opts.renew_days, time(NULL));
    cf_cert_destroy(&c);
    cf_why_t why = {""};
    if (go) {
        char fpr[CF_AGENT_FPR_HEX + 1];
        if (cf_agent_renew_with(a, fpr, &why) != CF_OK)
            return; /* recorded, saved and logged there */
    } else if (cf_agent_renew_save(a->dir, &a->renew, &why) != CF_OK) {
        cf_log(CF_LOG_WARN, "renew=%s save=\"%s\"", CF_AGENT_RENEW_FILE, why.text);
    }
}

void cf_agent_write_status(const cf_agent_t *a)
{
    char path[PATH_MAX];
    if (!s_path(path, sizeof(path), a->dir, CF_AGENT_STATUS_FILE) || !a->have_cur)
        return;
    json_t *j = json_pack("{s:s, s:s, s:s, s:I}", "server", a->list.servers[a->cur].alias, "reason",
                          a->reason.text, "lock", a->lock, "last_checkin", (json_int_t) time(NULL));
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    cf_why_t why = {""};
    if (!text || cf_file_write_atomic(path, text, strlen(text), 0600, &why) != CF_OK)
        cf_log(CF_LOG_WARN, "status=%s save=\"%s\"", path, why.text);
    free(text); /* jansson's allocator */
}

void cf_agent_write_metrics(const cf_agent_t *a)
{
    if (!a->opts.metrics_file)
        return;
    cf_agent_metrics_t m = {.checkins_ok = a->checkins_ok,
                            .checkins_failed = a->checkins_failed,
                            .renewals_ok = a->renewals_ok,
                            .renewals_failed = a->renewals_failed,
                            .last_checkin = a->last_checkin,
                            .renew_state = a->renew.state,
                            .renew_failures = a->renew.failures,
                            .renew_next_try = a->renew.next_try,
                            .link_up = atomic_load(&a->link_up),
                            .trims = a->trims,
                            .trimmed_kib = a->trimmed_kib};
    cf_agent_jobs_counts(a->jobs, &m.jobs_installed, &m.jobs_failed);
    cf_cert_t *c = NULL;
    if (cf_agent_certs_current(a->dir, &c, NULL) == CF_OK)
        m.cert_expiry = (int64_t) cf_cert_not_after(c);
    cf_cert_destroy(&c);
    cf_why_t why = {""};
    cf_err_t rc = cf_agent_metrics_write(a->opts.metrics_file, &m, &why);
    if (rc != CF_OK)
        cf_log(CF_LOG_WARN, "metrics=%s save=\"%s\"", a->opts.metrics_file, cf_why_text(&why, rc));
}

int cf_agent_status(const char *dir, FILE *out)
{
    cf_agent_run_opts_t opts = {.dir = dir};
    cf_agent_t *a = NULL;
    if (cf_agent_open(&opts, &a) != CF_AGENT_EXIT_OK)
        return CF_AGENT_EXIT_STATE;
    char path[PATH_MAX], *buf = NULL;
    size_t len = 0;
    json_t *st = NULL;
    if (s_path(path, sizeof(path), a->dir, CF_AGENT_STATUS_FILE) &&
        cf_file_read(path, 64 * 1024, &buf, &len, NULL) == CF_OK)
        st = json_loadb(buf, len, 0, NULL);
    cf_mem_free(buf);
    const char *srv = json_string_value(json_object_get(st, "server"));
    const char *why = json_string_value(json_object_get(st, "reason"));
    const char *lock = json_string_value(json_object_get(st, "lock"));
    fprintf(out, "id: %s\nserver: %s (%s)\nlock: %s\n", a->id, srv ? srv : "none yet",
            why ? why : "-", lock ? lock : "unknown");
    cf_cert_t *c = NULL;
    if (cf_agent_certs_current(a->dir, &c, NULL) == CF_OK) {
        char exp[32];
        time_t na = cf_cert_not_after(c);
        struct tm tm;
        strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&na, &tm));
        fprintf(out, "certificate: %s\nexpires: %s\n", cf_cert_fingerprint(c), exp);
    } else {
        fprintf(out, "certificate: none\n");
    }
    fprintf(out, "renewal: %s (failures %u, renewed %llu)%s%s\n", a->renew.state, a->renew.failures,
            (unsigned long long) a->renew.renewed, a->renew.last_error[0] ? " last error: " : "",
            a->renew.last_error);
    if (a->renew.next_try > 0 && strcmp(a->renew.state, "failing") == 0) {
        char at[32];
        time_t nt = (time_t) a->renew.next_try;
        struct tm tm;
        strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&nt, &tm));
        fprintf(out, "renewal next try: %s\n", at);
    }
    cf_agent_jobs_cfg_t jcfg = {.dir = a->dir, .id = a->id, .ca = a->ca, .kp = &a->kp};
    cf_agent_jobs_t *jobs = NULL;
    if (cf_agent_jobs_new(&jcfg, &jobs, NULL) == CF_OK)
        fprintf(out, "last job: %s\n",
                cf_agent_jobs_last(jobs)[0] ? cf_agent_jobs_last(jobs) : "none");
    cf_agent_jobs_destroy(&jobs);
    cf_cert_destroy(&c);
    json_decref(st);
    cf_agent_close(&a);
    return CF_AGENT_EXIT_OK;
}
