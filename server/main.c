/*  cf-server - the management server: start-up against Redis, HTTPS API, control thread  */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "cf_api_checkin.h"
#include "cf_app_int.h"
#include "cf_control.h"
#include "cf_file.h"
#include "cf_https_mem.h"
#include "cf_link.h"
#include "cf_log.h"
#include "cf_material.h"
#include "cf_mem.h"
#include "cf_server_opts.h"

#define S_PROG "cf-server"

/* Route groups. Each cf_api_*.c gives one; weak so the server links while a group is
   still being built (a missing group is logged at start and its routes answer 404). */
typedef size_t(s_group_fn)(const cf_route_t **);
extern s_group_fn cf_api_session_routes __attribute__((weak));
extern s_group_fn cf_api_users_routes __attribute__((weak));
extern s_group_fn cf_api_ssl_routes __attribute__((weak));
extern s_group_fn cf_api_certs_routes __attribute__((weak));
extern s_group_fn cf_api_servers_routes __attribute__((weak));
extern s_group_fn cf_api_agents_routes __attribute__((weak));
extern s_group_fn cf_api_metrics_routes __attribute__((weak));
extern s_group_fn cf_api_enroll_routes __attribute__((weak));
extern s_group_fn cf_api_jobs_routes __attribute__((weak));
extern s_group_fn cf_api_packages_routes __attribute__((weak));
extern s_group_fn cf_api_expiring_routes __attribute__((weak));
extern cf_router_auth_fn cf_api_authenticate __attribute__((weak));
extern void cf_api_agents_refused(cf_app_t *app, const cf_https_refusal_t *r) __attribute__((weak));
extern cf_https_worker_new_fn cf_api_checkin_worker_new __attribute__((weak));
extern cf_https_worker_free_fn cf_api_checkin_worker_free __attribute__((weak));

typedef struct {
    cf_cfg_t *cfg;                           /* options */
    cf_store_cfg_t scfg;                     /* Redis settings */
    char *redis_password;                    /* owned secret */
    char *admin_password;                    /* owned secret (--init) */
    char *p12_password;                      /* owned secret (--init) */
    char ranges[4096];                       /* --ip-range items joined */
    cf_start_opts_t start;                   /* start-up settings */
    cf_seal_t *seal;                         /* until the app takes it */
    cf_app_t *app;                           /* owned */
    cf_router_t *router;                     /* owned */
    cf_https_t *https;                       /* owned */
    cf_control_t *control;                   /* owned */
    cf_link_t *link;                         /* owned; NULL without --broker */
    cf_api_checkin_cfg_t checkin;            /* the workers' check-in clients' settings */
    cf_route_t routes[CF_ROUTER_MAX_ROUTES]; /* all groups */
    size_t n_routes;                         /* entries in routes */
} s_server_t;

static void s_add_group(s_server_t *s, s_group_fn *fn, const char *name)
{
    if (!fn) {
        cf_log(CF_LOG_WARN, "msg=\"API group not built into this binary\" group=%s", name);
        return;
    }
    const cf_route_t *routes = NULL;
    size_t n = fn(&routes);
    for (size_t i = 0; i < n && s->n_routes < CF_ROUTER_MAX_ROUTES; i++)
        s->routes[s->n_routes++] = routes[i];
}

static void s_on_done(void *arg, int status)
{
    cf_app_count(arg, CF_APP_REQUESTS, 1);
    if (status >= 400 || status == 0)
        cf_app_count(arg, CF_APP_REQ_ERRORS, 1);
}

static void s_on_refused(void *arg, const cf_https_refusal_t *r)
{
    cf_app_t *app = arg;
    cf_app_count(app, CF_APP_HS_REFUSED, 1);
    if (r->reason == CF_HTTPS_REFUSED_EXPIRED)
        cf_app_count(app, CF_APP_HS_EXPIRED, 1);
    if (r->reason == CF_HTTPS_REFUSED_REVOKED)
        cf_app_count(app, CF_APP_HS_REVOKED, 1);
    cf_log(CF_LOG_INFO, "msg=\"handshake refused\" reason=%s addr=%s agent=%s fp=%s",
           cf_https_reason_name(r->reason), r->addr, r->agent_id ? r->agent_id : "-",
           r->fingerprint ? r->fingerprint : "-");
    if (cf_api_agents_refused)
        cf_api_agents_refused(app, r);
}

/* The secret: --init creates the file when it is missing; every other start needs it. */
static cf_err_t s_secret(s_server_t *s, cf_why_t *why)
{
    const char *path = cf_cfg_str(s->cfg, "secret-file");
    cf_err_t rc = cf_seal_load_file(path, 0, &s->seal, why);
    if (rc == CF_ERR_NOTFOUND && cf_cfg_bool(s->cfg, "init")) {
        CF_TRY(cf_seal_generate_file(path, "k1", why));
        cf_log(CF_LOG_INFO,
               "msg=\"secret file created: copy it to every server of this "
               "deployment and back it up; losing it loses every key\" path=%s",
               path);
        rc = cf_seal_load_file(path, 0, &s->seal, why);
    }
    if (rc != CF_OK && why) {
        char text[CF_WHY_MAX];
        snprintf(text, sizeof(text), "%s", cf_why_text(why, rc));
        cf_why(why, rc, "the secret file: %s%s", text,
               rc == CF_ERR_NOTFOUND ? " (give --secret-file; --init creates it)" : "");
    }
    return rc;
}

/* Options, secret, --init or the checks, joining. */
static cf_err_t s_prepare(s_server_t *s, cf_why_t *why)
{
    size_t n = 0;
    const char *const *ranges = cf_cfg_list(s->cfg, "ip-range", &n);
    for (size_t i = 0; i < n; i++) {
        size_t used = strlen(s->ranges);
        int w =
            snprintf(s->ranges + used, sizeof(s->ranges) - used, "%s%s", i ? "," : "", ranges[i]);
        if (w < 0 || (size_t) w >= sizeof(s->ranges) - used)
            return cf_why(why, CF_ERR_TOOBIG, "--ip-range: the ranges exceed %zu bytes",
                          sizeof(s->ranges) - 1);
    }
    CF_TRY(cf_server_opts_store(s->cfg, &s->scfg, &s->redis_password, why));
    CF_TRY(cf_server_opts_start(s->cfg, &s->start, &s->admin_password, &s->p12_password, why));
    s->start.ip_ranges = n ? s->ranges : NULL;
    CF_TRY(s_secret(s, why));
    cf_store_t *store = NULL;
    CF_TRY(cf_store_new(&s->scfg, &store, why));
    cf_err_t rc = cf_store_connect(store);
    if (rc != CF_OK)
        cf_why(why, rc, "Redis: %s", cf_why_text(cf_store_why(store), rc));
    else if (cf_cfg_bool(s->cfg, "init"))
        rc = cf_start_init(store, s->seal, &s->start, s->start.alias, why);
    else
        rc = cf_start_check(store, s->seal, why);
    if (rc == CF_OK)
        rc = cf_start_join(store, s->seal, &s->start, why);
    cf_store_destroy(&store);
    return rc;
}

static cf_err_t s_listen(s_server_t *s, cf_why_t *why)
{
    int threads = (int) cf_cfg_int(s->cfg, "threads");
    cf_app_cfg_t acfg = {&s->scfg,
                         &s->seal,
                         s->start.alias,
                         threads + 1,
                         (double) cf_cfg_int(s->cfg, "admit-rate"),
                         (int) cf_cfg_int(s->cfg, "admit-burst"),
                         (int64_t) cf_cfg_int(s->cfg, "session-ttl")};
    CF_TRY(cf_app_new(&acfg, &s->app, why));
    s_add_group(s, cf_api_session_routes, "session");
    s_add_group(s, cf_api_users_routes, "users");
    s_add_group(s, cf_api_ssl_routes, "ssl");
    s_add_group(s, cf_api_certs_routes, "certs");
    s_add_group(s, cf_api_servers_routes, "servers");
    s_add_group(s, cf_api_agents_routes, "agents");
    s_add_group(s, cf_api_metrics_routes, "metrics");
    s_add_group(s, cf_api_enroll_routes, "enroll");
    s_add_group(s, cf_api_jobs_routes, "jobs");
    s_add_group(s, cf_api_packages_routes, "packages");
    s_add_group(s, cf_api_expiring_routes, "expiring");
    cf_material_t m;
    cf_store_t *store = cf_app_store_take(s->app);
    cf_err_t mrc = cf_material_load(store, cf_app_seal(s->app), s->start.alias, &m, why);
    cf_app_store_give(s->app, store);
    if (mrc != CF_OK)
        return mrc;
    cf_router_cfg_t rcfg = {cf_api_authenticate, s->app, cf_material_allow_plain(&m), s_on_done};
    cf_err_t rc = cf_router_new(s->routes, s->n_routes, &rcfg, &s->router, why);
    cf_https_tls_t tls;
    cf_material_tls(&m, &tls);
    cf_https_cfg_t hcfg = {
        .address = cf_cfg_str(s->cfg, "bind"),
        .port = s->start.port,
        .plain_port = cf_material_allow_plain(&m) ? s->start.plain_port : 0,
        .threads = threads,
        .require_client_cert = cf_material_require_cert(&m),
        .on_request = cf_router_serve,
        .request_arg = s->router,
        .on_refused = s_on_refused,
        .refused_arg = s->app,
    };
    s->checkin = (cf_api_checkin_cfg_t){s->app, &s->scfg};
    if (cf_api_checkin_worker_new && cf_api_checkin_worker_free) {
        hcfg.worker_new = cf_api_checkin_worker_new;
        hcfg.worker_free = cf_api_checkin_worker_free;
        hcfg.worker_arg = &s->checkin;
    }
    if (rc == CF_OK)
        rc = cf_https_new(&hcfg, &tls, &s->https, why);
    cf_material_clear(&m);
    return rc;
}

/* The broker links (--broker), before the workers start: handlers read cf_app_link. */
static cf_err_t s_link(s_server_t *s, cf_why_t *why)
{
    cf_curve_broker_t brokers[CF_LINK_MAX_BROKERS];
    unsigned char tls[CF_LINK_MAX_BROKERS] = {0};
    size_t n = 0;
    const char *const *agent_brokers = NULL;
    CF_TRY(cf_server_opts_agent_brokers(s->cfg, &agent_brokers, &n, why));
    CF_TRY(cf_app_set_agent_brokers(s->app, agent_brokers, n));
    CF_TRY(cf_server_opts_brokers(s->cfg, brokers, tls, &n, why));
    if (n == 0)
        return CF_OK; /* agents get their jobs at check-in */
    cf_link_cfg_t lcfg = {&s->scfg, s->app, brokers, n, tls, 0, 0};
    CF_TRY(cf_link_new(&lcfg, &s->link, why));
    cf_app_set_link(s->app, s->link);
    return CF_OK;
}

/* Serve until SIGINT or SIGTERM. */
static cf_err_t s_run(s_server_t *s, cf_why_t *why)
{
    cf_control_cfg_t ccfg = {&s->scfg,
                             s->app,
                             s->https,
                             s->router,
                             &s->start,
                             s->start.plain_port,
                             (int) cf_cfg_int(s->cfg, "heartbeat"),
                             (int) cf_cfg_int(s->cfg, "renew-check"),
                             (int) cf_cfg_int(s->cfg, "sweep-check")};
    CF_TRY(cf_control_new(&ccfg, &s->control, why));
    CF_TRY(s_link(s, why));
    CF_TRY(cf_https_start(s->https));
    cf_log(CF_LOG_INFO, "msg=\"serving\" alias=%s port=%d plain_port=%d threads=%d routes=%zu",
           s->start.alias, cf_https_port(s->https), cf_https_plain_port(s->https),
           cf_https_threads(s->https), s->n_routes);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig = 0;
    sigwait(&set, &sig);
    cf_log(CF_LOG_INFO, "msg=\"stopping\" signal=%d", sig);
    return CF_OK;
}

static void s_teardown(s_server_t *s)
{
    if (s->https)
        cf_https_stop(s->https);
    cf_control_destroy(&s->control);
    if (s->app)
        cf_app_set_link(s->app, NULL);
    cf_link_destroy(&s->link); /* after the workers: they hand it job ids */
    cf_https_destroy(&s->https);
    cf_router_destroy(&s->router);
    cf_app_destroy(&s->app);
    cf_seal_destroy(&s->seal);
    cf_mem_free_secret_str(s->redis_password);
    cf_mem_free_secret_str(s->admin_password);
    cf_mem_free_secret_str(s->p12_password);
    cf_cfg_destroy(&s->cfg);
}

static int s_main(s_server_t *s, int argc, char **argv)
{
    size_t n = 0;
    const cf_cfg_opt_t *opts = cf_server_opts(&n);
    s->cfg = cf_cfg_new(opts, n);
    if (!s->cfg)
        return 1;
    cf_why_t why = {""};
    cf_err_t rc = cf_cfg_parse_args(s->cfg, argc, argv, &why);
    if (rc != CF_OK) {
        fprintf(stderr, S_PROG ": %s\nTry '" S_PROG " --help'.\n", cf_why_text(&why, rc));
        return 2;
    }
    if (cf_cfg_bool(s->cfg, "help")) {
        cf_cfg_usage(s->cfg, stdout, S_PROG, "--alias NAME [OPTIONS]");
        return 0;
    }
    if (cf_cfg_bool(s->cfg, "print-config"))
        return cf_cfg_write_example(s->cfg, stdout) == CF_OK ? 0 : 1;
    int extra = 0;
    cf_cfg_args(s->cfg, &extra);
    cf_log_level_t level = CF_LOG_INFO;
    if (extra > 0 || cf_log_level_from_name(cf_cfg_str(s->cfg, "log-level"), &level) != CF_OK) {
        fprintf(stderr, S_PROG ": unexpected argument\nTry '" S_PROG " --help'.\n");
        return 2;
    }
    cf_log_set_level(level);
    rc = s_prepare(s, &why);
    if (rc == CF_OK)
        rc = s_listen(s, &why);
    if (rc == CF_OK)
        rc = s_run(s, &why);
    if (rc != CF_OK) {
        cf_log(CF_LOG_ERROR, "msg=\"cannot start\" err=%s why=\"%s\"", cf_err_name(rc),
               cf_why_text(&why, rc));
        fprintf(stderr, S_PROG ": %s\n", cf_why_text(&why, rc));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    cf_https_mem_install(); /* before any libevent object exists */
    cf_log_set_component(S_PROG);
    /* block before any thread starts, so every thread inherits the mask and sigwait sees them */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN); /* hiredis and libevent write to sockets that may be gone */
    json_set_alloc_funcs(cf_https_mem_alloc, cf_https_mem_free); /* the per-thread cache */
    s_server_t *s = cf_mem_calloc(1, sizeof(*s));
    int code = s ? s_main(s, argc, argv) : 1;
    if (s)
        s_teardown(s);
    cf_mem_free(s);
    cf_https_mem_trim(); /* the main thread's cached blocks */
    OPENSSL_cleanup();
    return code;
}
