/*  cf_app - what every API handler of cf-server shares  */
#include "cf_app_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include <openssl/rand.h>

#include "cf_auth.h"
#include "cf_db_audit.h"
#include "cf_db_key.h"
#include "cf_db_meta.h"
#include "cf_log.h"
#include "cf_mem.h"

#define S_VERSION "0.1.0"

struct cf_app {
    cf_seal_t *seal;                            /* the deployment's secret, owned */
    char alias[CF_DB_ALIAS_MAX + 1];            /* this server's alias */
    char instance[CF_DB_OWNER_MAX + 1];         /* alias/pid/random of this run */
    cf_store_t *stores[CF_APP_MAX_POOL];        /* the pool, owned */
    int n_stores;                               /* entries in stores */
    int free[CF_APP_MAX_POOL];                  /* indexes of idle stores (a stack) */
    int n_free;                                 /* entries in free */
    pthread_mutex_t pool_lock;                  /* guards free and n_free */
    cf_bucket_t bucket;                         /* admission control */
    pthread_mutex_t bucket_lock;                /* guards bucket */
    _Atomic uint64_t counters[CF_APP_COUNTERS]; /* /metrics */
    int64_t session_ttl;                        /* login session lifetime, seconds */
    cf_throttle_t *throttle;                    /* failed-login throttle, owned */
    cf_link_t *link;                            /* broker links, borrowed (NULL: none) */
    char **agent_brokers;                       /* --agent-broker texts, owned */
    size_t n_agent_brokers;                     /* entries */
};

static const char *const s_counter_names[CF_APP_COUNTERS] = {
    "cf_server_requests_total",
    "cf_server_request_errors_total",
    "cf_server_handshakes_refused_total",
    "cf_server_handshakes_expired_total",
    "cf_server_handshakes_revoked_total",
    "cf_server_checkins_total",
    "cf_server_checkins_insecure_total",
    "cf_server_admission_denied_total",
    "cf_server_logins_total",
    "cf_server_login_failures_total",
    "cf_server_renewals_total",
    "cf_server_renewal_failures_total",
    "cf_server_crl_rebuilds_total",
    "cf_server_crl_failures_total",
    "cf_server_jobs_expired_entries_total",
    "cf_server_jobs_closed_total",
    "cf_server_sweep_failures_total",
    "cf_server_jobs_sent_total",
    "cf_server_jobs_send_failed_total",
    "cf_server_jobs_offline_total",
    "cf_server_link_offline_retries_total",
    "cf_server_jobs_checkin_total",
    "cf_server_link_hellos_total",
    "cf_server_link_receipts_total",
    "cf_server_link_reports_total",
    "cf_server_link_acks_total",
    "cf_server_link_dropped_total",
    "cf_server_link_batches_total",
    "cf_server_wave_released_total",
    "cf_server_jobs_aborted_total",
    "cf_server_wave_failures_total",
};

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_instance(cf_app_t *self)
{
    unsigned char rnd[6] = {0};
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        memset(rnd, 0, sizeof(rnd));
    snprintf(self->instance, sizeof(self->instance), "%.96s/%ld/%02x%02x%02x%02x%02x%02x",
             self->alias, (long) getpid(), rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
}

static cf_err_t s_open_pool(cf_app_t *self, const cf_app_cfg_t *cfg, cf_why_t *why)
{
    for (int i = 0; i < cfg->pool; i++) {
        cf_store_t *store = NULL;
        CF_TRY(cf_store_new(cfg->store, &store, why));
        self->stores[self->n_stores++] = store;
        cf_err_t rc = cf_store_connect(store);
        if (rc != CF_OK)
            return cf_why(why, rc, "Redis: %s", cf_why_text(cf_store_why(store), rc));
        self->free[self->n_free++] = i;
    }
    return CF_OK;
}

cf_err_t cf_app_new(const cf_app_cfg_t *cfg, cf_app_t **out, cf_why_t *why)
{
    if (!cfg || !out || !cfg->store || !cfg->seal_p || !*cfg->seal_p || !cfg->alias ||
        cfg->pool < 1 || cfg->pool > CF_APP_MAX_POOL || cf_db_check_alias(cfg->alias) != CF_OK ||
        cfg->session_ttl < CF_APP_SESSION_TTL_MIN || cfg->session_ttl > CF_APP_SESSION_TTL_MAX)
        return CF_ERR_INVALID;
    *out = NULL;
    cf_app_t *self = cf_mem_calloc(1, sizeof(*self));
    if (!self)
        return CF_ERR_NOMEM;
    self->seal = *cfg->seal_p;
    *cfg->seal_p = NULL;
    snprintf(self->alias, sizeof(self->alias), "%s", cfg->alias);
    s_instance(self);
    self->session_ttl = cfg->session_ttl;
    pthread_mutex_init(&self->pool_lock, NULL);
    pthread_mutex_init(&self->bucket_lock, NULL);
    self->throttle = cf_throttle_new();
    cf_err_t rc =
        cf_bucket_init(&self->bucket, cfg->admit_rate, (unsigned) cfg->admit_burst, s_now_ms());
    if (!self->throttle)
        rc = CF_ERR_NOMEM;
    else if (rc != CF_OK)
        cf_why(why, rc, "admission: a rate above 0 and a burst of at least 1 are needed");
    else
        rc = s_open_pool(self, cfg, why);
    if (rc != CF_OK) {
        cf_app_destroy(&self);
        return rc;
    }
    *out = self;
    return CF_OK;
}

void cf_app_destroy(cf_app_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_app_t *self = *self_p;
    for (int i = 0; i < self->n_stores; i++)
        cf_store_destroy(&self->stores[i]);
    cf_seal_destroy(&self->seal);
    cf_throttle_destroy(&self->throttle);
    for (size_t i = 0; i < self->n_agent_brokers; i++)
        cf_mem_free(self->agent_brokers[i]);
    cf_mem_free(self->agent_brokers);
    pthread_mutex_destroy(&self->pool_lock);
    pthread_mutex_destroy(&self->bucket_lock);
    cf_mem_free(self);
    *self_p = NULL;
}

cf_store_t *cf_app_store_take(cf_app_t *app)
{
    pthread_mutex_lock(&app->pool_lock);
    /* one connection per worker plus one: a handler never finds the stack empty */
    CF_ASSERT(app->n_free > 0);
    int i = app->free[--app->n_free];
    pthread_mutex_unlock(&app->pool_lock);
    return app->stores[i];
}

void cf_app_store_give(cf_app_t *app, cf_store_t *store)
{
    if (!store)
        return;
    pthread_mutex_lock(&app->pool_lock);
    for (int i = 0; i < app->n_stores; i++) {
        if (app->stores[i] == store) {
            CF_ASSERT(app->n_free < app->n_stores);
            app->free[app->n_free++] = i;
            break;
        }
    }
    pthread_mutex_unlock(&app->pool_lock);
}

const cf_seal_t *cf_app_seal(const cf_app_t *app)
{
    return app->seal;
}

const char *cf_app_alias(const cf_app_t *app)
{
    return app->alias;
}

const char *cf_app_instance(const cf_app_t *app)
{
    return app->instance;
}

const char *cf_app_version(const cf_app_t *app)
{
    (void) app;
    return S_VERSION;
}

int64_t cf_app_session_ttl(const cf_app_t *app)
{
    return app->session_ttl;
}

void cf_app_set_link(cf_app_t *app, cf_link_t *link)
{
    app->link = link;
}

cf_link_t *cf_app_link(cf_app_t *app)
{
    return app->link;
}

cf_err_t cf_app_set_agent_brokers(cf_app_t *app, const char *const *texts, size_t n)
{
    char **list = n ? cf_mem_calloc(n, sizeof(*list)) : NULL;
    if (n && !list)
        return CF_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        list[i] = cf_mem_strdup(texts[i]);
        if (!list[i]) {
            for (size_t j = 0; j < i; j++)
                cf_mem_free(list[j]);
            cf_mem_free(list);
            return CF_ERR_NOMEM;
        }
    }
    app->agent_brokers = list;
    app->n_agent_brokers = n;
    return CF_OK;
}

json_t *cf_app_agent_brokers_json(const cf_app_t *app)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < app->n_agent_brokers; i++) {
        if (json_array_append_new(arr, json_string(app->agent_brokers[i])) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

cf_throttle_t *cf_app_throttle(cf_app_t *app)
{
    return app->throttle;
}

cf_err_t cf_app_ca(cf_app_t *app, cf_store_t *store, cf_ca_t **ca_out, cf_why_t *why)
{
    cf_cert_t *cert = NULL;
    cf_key_t *key = NULL;
    cf_err_t rc = cf_db_ca_get(store, app->seal, &cert, &key);
    if (rc != CF_OK)
        cf_why(why, rc, "the CA: %s", cf_why_text(cf_store_why(store), rc));
    else if ((rc = cf_ca_load(cert, key, ca_out)) != CF_OK)
        cf_why(why, rc, "the CA does not load: %s", cf_err_str(rc));
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
    return rc;
}

int cf_app_admit(cf_app_t *app, cf_req_t *req)
{
    int64_t wait_ms = 0;
    pthread_mutex_lock(&app->bucket_lock);
    int ok = cf_bucket_take(&app->bucket, s_now_ms(), &wait_ms);
    pthread_mutex_unlock(&app->bucket_lock);
    if (ok)
        return 1;
    char after[32];
    snprintf(after, sizeof(after), "%lld", (long long) (wait_ms + 999) / 1000);
    cf_app_count(app, CF_APP_ADMISSION_DENIED, 1);
    if (cf_req_set_header(req, "Retry-After", after) != CF_OK)
        cf_log(CF_LOG_WARN, "msg=\"cannot set Retry-After\"");
    cf_req_reply_error(req, 503, "busy", "too many requests; retry in %s s", after);
    return 0;
}

/* The status and code of docs/API.md for an error. */
static int s_status(cf_err_t rc, const char **code)
{
    switch (rc) {
    case CF_ERR_NOTFOUND: *code = "not_found"; return 404;
    case CF_ERR_EXISTS:
    case CF_ERR_STATE: *code = "conflict"; return 409;
    case CF_ERR_INVALID: *code = "invalid_request"; return 400;
    case CF_ERR_TOOBIG: *code = "too_large"; return 413;
    case CF_ERR_BADPASS:
    case CF_ERR_KEYMISMATCH:
    case CF_ERR_EXPIRED:
    case CF_ERR_NOTYETVALID:
    case CF_ERR_UNTRUSTED:
    case CF_ERR_UNSUPPORTED:
    case CF_ERR_POLICY:
    case CF_ERR_CORRUPT:
    case CF_ERR_NOKEY:
    case CF_ERR_REVOKED: *code = "refused"; return 422;
    case CF_ERR_IO: *code = "unavailable"; return 503;
    default: *code = "internal"; return 500;
    }
}

void cf_app_reply_err(cf_req_t *req, cf_err_t rc, const cf_why_t *why, const char *what)
{
    const char *code = "internal";
    int status = s_status(rc, &code);
    if (status >= 500)
        cf_log(CF_LOG_ERROR, "what=\"%s\" err=%s why=\"%s\"", what ? what : "", cf_err_name(rc),
               cf_why_text(why, rc));
    if (what && *what)
        cf_req_reply_error(req, status, code, "%s: %s", what, cf_why_text(why, rc));
    else
        cf_req_reply_error(req, status, code, "%s", cf_why_text(why, rc));
}

void cf_app_audit(cf_app_t *app, cf_store_t *store, cf_req_t *req, const char *what,
                  const char *target, cf_err_t rc)
{
    (void) app;
    const cf_session_t *session = req ? cf_req_session(req) : NULL;
    const cf_https_peer_t *peer = req ? cf_req_peer(req) : NULL;
    cf_db_audit_in_t ev = {
        .who = session ? session->user : (peer && peer->agent_id ? peer->agent_id : "system"),
        .role = session ? cf_role_name(session->role) : (peer ? "agent" : "system"),
        .what = what,
        .target = target ? target : "",
        .result = rc == CF_OK ? "ok" : cf_err_name(rc),
        .from = peer && peer->addr ? peer->addr : "",
    };
    char id[CF_DB_AUDIT_ID_MAX + 1];
    cf_err_t arc = cf_db_audit_add(store, &ev, id);
    if (arc != CF_OK)
        cf_log(CF_LOG_ERROR, "msg=\"audit append failed\" what=%s err=%s why=\"%s\"", what,
               cf_err_name(arc), cf_why_text(cf_store_why(store), arc));
}

void cf_app_count(cf_app_t *app, cf_app_counter_t c, uint64_t n)
{
    if ((unsigned) c < CF_APP_COUNTERS)
        atomic_fetch_add_explicit(&app->counters[c], n, memory_order_relaxed);
}

uint64_t cf_app_counter(const cf_app_t *app, cf_app_counter_t c)
{
    if ((unsigned) c >= CF_APP_COUNTERS)
        return 0;
    return atomic_load_explicit(&((cf_app_t *) app)->counters[c], memory_order_relaxed);
}

const char *cf_app_counter_name(cf_app_counter_t c)
{
    return (unsigned) c < CF_APP_COUNTERS ? s_counter_names[c] : "cf_server_unknown";
}
