/*  cf-server - minimal: serves /api/v1/health over mutual TLS from PEM files (the Redis-backed
    server replaces this file)  */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cf_cfg.h"
#include "cf_file.h"
#include "cf_https.h"
#include "cf_log.h"
#include "cf_mem.h"
#include "cf_router.h"

#define S_VERSION "0.1.0"

static const char *const s_tls_names[] = {"1.0", "1.1", "1.2", "1.3", NULL};
static const char *const s_levels[] = {"debug", "info", "warn", "error", "off", NULL};

static const cf_cfg_opt_t s_opts[] = {
    {"tls-cert", 0, CF_CFG_PATH, "FILE", "server certificate chain (PEM)", NULL, 0, 0, NULL},
    {"tls-key", 0, CF_CFG_PATH, "FILE", "server private key (PEM, unencrypted)", NULL, 0, 0, NULL},
    {"ca", 0, CF_CFG_PATH, "FILE", "CA that client certificates chain to (PEM)", NULL, 0, 0, NULL},
    {"bind", 0, CF_CFG_STRING, "ADDR", "address to listen on", "0.0.0.0", 0, 0, NULL},
    {"port", 'p', CF_CFG_INT, "N", "HTTPS port", "7005", 1, 65535, NULL},
    {"plain-port", 0, CF_CFG_INT, "N", "plain HTTP port for agent routes (0: none)", "0", 0, 65535,
     NULL},
    {"threads", 't', CF_CFG_INT, "N", "worker threads", "1", 1, CF_HTTPS_MAX_THREADS, NULL},
    {"min-tls", 0, CF_CFG_ENUM, "V", "lowest TLS version offered", "1.2", 0, 0, s_tls_names},
    {"require-client-cert", 0, CF_CFG_BOOL, NULL, "refuse handshakes without a client certificate",
     "false", 0, 0, NULL},
    {"log-level", 'l', CF_CFG_ENUM, "LEVEL", "log level", "info", 0, 0, s_levels},
};

static void s_health(cf_req_t *req, void *app)
{
    (void) app;
    const cf_https_peer_t *peer = cf_req_peer(req);
    const char *cert = peer->cert ? cf_component_name(peer->component) : "none";
    cf_req_reply_json(req, 200,
                      json_pack("{s:s,s:s,s:s,s:s}", "status", "ok", "version", S_VERSION, "tls",
                                peer->tls_version ? peer->tls_version : "none", "client_cert",
                                cert));
}

static const cf_route_t s_routes[] = {
    {"GET", "/api/v1/health", CF_ACCESS_PUBLIC, s_health, 0, 0},
};

/* Read the PEM files named by the options into tls (key loaded). */
static cf_err_t s_load(const cf_cfg_t *cfg, cf_https_tls_t *tls, char **cert, char **ca,
                       cf_key_t **key, cf_why_t *why)
{
    char *key_pem = NULL;
    size_t key_len = 0;
    CF_TRY(cf_file_read(cf_cfg_str(cfg, "tls-cert"), CF_HTTPS_MAX_PEM, cert, &tls->cert_len, why));
    CF_TRY(cf_file_read(cf_cfg_str(cfg, "ca"), CF_HTTPS_MAX_PEM, ca, &tls->ca_len, why));
    CF_TRY(cf_file_read_ex(cf_cfg_str(cfg, "tls-key"), CF_KEY_MAX_INPUT, CF_FILE_SECRET, &key_pem,
                           &key_len, why));
    cf_err_t rc = cf_key_from_pem(key_pem, key_len, NULL, key);
    cf_mem_free_secret(key_pem, key_len);
    if (rc != CF_OK)
        return cf_why(why, rc, "%s: %s", cf_cfg_str(cfg, "tls-key"), cf_err_str(rc));
    tls->cert_pem = *cert;
    tls->ca_pem = *ca;
    tls->key = *key;
    cf_tls_version_t v = CF_TLS_1_2;
    rc = cf_tls_version_from_name(cf_cfg_str(cfg, "min-tls"), &v);
    tls->min_tls = v;
    return rc;
}

/* Serve until SIGINT or SIGTERM. */
static int s_serve(const cf_cfg_t *cfg, const cf_https_tls_t *tls)
{
    cf_why_t why = {{0}};
    cf_router_t *router = NULL;
    cf_https_t *https = NULL;
    cf_router_cfg_t rcfg = {NULL, NULL, 0};
    cf_err_t rc =
        cf_router_new(s_routes, sizeof(s_routes) / sizeof(s_routes[0]), &rcfg, &router, &why);
    cf_https_cfg_t hcfg = {
        .address = cf_cfg_str(cfg, "bind"),
        .port = (int) cf_cfg_int(cfg, "port"),
        .plain_port = (int) cf_cfg_int(cfg, "plain-port"),
        .threads = (int) cf_cfg_int(cfg, "threads"),
        .require_client_cert = cf_cfg_bool(cfg, "require-client-cert"),
        .on_request = cf_router_serve,
        .request_arg = router,
    };
    if (rc == CF_OK)
        rc = cf_https_new(&hcfg, tls, &https, &why);
    if (rc == CF_OK)
        rc = cf_https_start(https);
    if (rc == CF_OK) {
        cf_log(CF_LOG_INFO, "listening port=%d plain_port=%d threads=%d", hcfg.port,
               hcfg.plain_port, hcfg.threads);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        int sig = 0;
        sigwait(&set, &sig);
        cf_log(CF_LOG_INFO, "stopping signal=%d", sig);
    } else {
        fprintf(stderr, "cf-server: %s\n", cf_why_text(&why, rc));
    }
    cf_https_destroy(&https);
    cf_router_destroy(&router);
    return rc == CF_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    cf_log_set_component("cf-server");
    /* block before any thread starts, so every thread inherits the mask and sigwait sees them */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    cf_cfg_t *cfg = cf_cfg_new(s_opts, sizeof(s_opts) / sizeof(s_opts[0]));
    cf_why_t why = {{0}};
    int exit_code = 2;
    cf_err_t rc = cfg ? cf_cfg_parse_args(cfg, argc, argv, &why) : CF_ERR_NOMEM;
    cf_log_level_t level = CF_LOG_INFO;
    if (rc != CF_OK) {
        fprintf(stderr, "cf-server: %s\nTry 'cf-server --help'.\n", cf_why_text(&why, rc));
    } else if (cf_cfg_bool(cfg, "help")) {
        cf_cfg_usage(cfg, stdout, "cf-server", NULL);
        exit_code = 0;
    } else if (!cf_cfg_str(cfg, "tls-cert") || !cf_cfg_str(cfg, "tls-key") ||
               !cf_cfg_str(cfg, "ca")) {
        fprintf(stderr, "cf-server: --tls-cert, --tls-key and --ca are required\n");
    } else if (cf_log_level_from_name(cf_cfg_str(cfg, "log-level"), &level) == CF_OK) {
        cf_log_set_level(level);
        cf_https_tls_t tls = {0};
        char *cert = NULL, *ca = NULL;
        cf_key_t *key = NULL;
        rc = s_load(cfg, &tls, &cert, &ca, &key, &why);
        if (rc != CF_OK)
            fprintf(stderr, "cf-server: %s\n", cf_why_text(&why, rc));
        exit_code = rc == CF_OK ? s_serve(cfg, &tls) : 1;
        cf_mem_free(cert);
        cf_mem_free(ca);
        cf_key_destroy(&key);
    }
    cf_cfg_destroy(&cfg);
    OPENSSL_cleanup();
    return exit_code;
}
