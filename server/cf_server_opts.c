/*  cf_server_opts - cf-server's option table and what it turns into  */
#include "cf_server_opts.h"

#include <stdlib.h>
#include <string.h>

#include "cf_app_int.h"
#include "cf_https.h"
#include "cf_link.h"
#include "cf_mem.h"
#include "cf_relay.h"
#include "cf_store_opts.h"

#define S_SECRET_MAX 1024 /* longest password read from a file */

static const char *const s_levels[] = {"debug", "info", "warn", "error", "off", NULL};
static const char *const s_key_types[] = {"p256",    "p384",    "rsa2048", "rsa3072",
                                          "rsa4096", "ed25519", NULL};

static const cf_cfg_opt_t s_opts[] = {
    CF_STORE_OPTS_ROWS,
    {"redis-durable", 0, CF_CFG_INT, "N",
     "replicas a stored receipt or report must reach (Redis WAIT) before the agent is told; "
     "-1: 1 with --redis-sentinel, else 0",
     "-1", -1, 16, NULL},
    {"alias", 'a', CF_CFG_STRING, "NAME", "this server's alias (required)", NULL, 0, 0, NULL},
    {"host", 0, CF_CFG_STRING, "ADDR", "where agents and consoles reach it (default: the alias)",
     NULL, 0, 0, NULL},
    {"san", 0, CF_CFG_LIST, "NAME", "another DNS name or address for its certificate", NULL, 0,
     CF_START_MAX_SANS, NULL},
    {"bind", 0, CF_CFG_STRING, "ADDR", "address to listen on", "0.0.0.0", 0, 0, NULL},
    {"port", 'p', CF_CFG_INT, "N", "HTTPS port", "7005", 1, 65535, NULL},
    {"plain-port", 0, CF_CFG_INT, "N",
     "plain HTTP port for agent routes while allow-plain is on (0: none)", "0", 0, 65535, NULL},
    {"priority", 0, CF_CFG_INT, "N", "larger is preferred by agents", "0", -1000000, 1000000, NULL},
    {"ip-range", 0, CF_CFG_LIST, "RANGE", "primary IP range of agents (CIDR or from-to)", NULL, 0,
     64, NULL},
    {"secret-file", 's', CF_CFG_PATH, "FILE",
     "the deployment's secret (the same on every server; --init creates it)",
     "/etc/certfleet/secret", 0, 0, NULL},
    {"init", 0, CF_CFG_BOOL, NULL,
     "first start: create the CA, certificates and admin login, then serve", "false", 0, 0, NULL},
    {"out", 'o', CF_CFG_PATH, "DIR", "--init: where ca.pem and console.p12 go", ".", 0, 0, NULL},
    {"admin-password-file", 0, CF_CFG_PATH, "FILE",
     "--init: the admin's password (else $CF_ADMIN_PASSWORD; never a default)", NULL, 0, 0, NULL},
    {"p12-password-file", 0, CF_CFG_PATH, "FILE",
     "--init: password of agent PKCS#12 files (else one is generated into OUT/p12.pass)", NULL, 0,
     0, NULL},
    {"key-type", 0, CF_CFG_ENUM, "TYPE", "key type of certificates generated here", "p256", 0, 0,
     s_key_types},
    {"cert-days", 0, CF_CFG_INT, "N", "lifetime of certificates generated here", "365", 1, 3650,
     NULL},
    {"cert-seconds", 0, CF_CFG_INT, "N",
     "testing: lifetime in seconds of certificates generated here (0: use --cert-days)", "0", 0,
     315360000, NULL},
    {"threads", 't', CF_CFG_INT, "N", "worker threads", "1", 1, CF_HTTPS_MAX_THREADS, NULL},
    {"heartbeat", 0, CF_CFG_DURATION, "T", "heartbeat period", "10s", 1, 3600, NULL},
    {"renew-check", 0, CF_CFG_DURATION, "T", "how often the renewer looks", "60s", 1, 86400, NULL},
    {"sweep-check", 0, CF_CFG_DURATION, "T", "how often the job sweeper looks", "30s", 1, 86400,
     NULL},
    {"broker", 0, CF_CFG_LIST, "ENDPOINT#Z85",
     "a cf-broker to link to: tcp://HOST:PORT#<its CURVE public key>, or tls://... for its "
     "TLS-wrapped port (quote it in the file)",
     NULL, 0, CF_LINK_MAX_BROKERS, NULL},
    {"agent-broker", 0, CF_CFG_LIST, "ENDPOINT#Z85",
     "a broker endpoint agents are given (install packages, enrollment): its agent-facing "
     "tcp://HOST:PORT#KEY or tls://HOST:PORT#KEY (quote it in the file)",
     NULL, 0, CF_LINK_MAX_BROKERS, NULL},
    {"admit-rate", 0, CF_CFG_INT, "N", "check-ins and enrollments per second before 503", "2000", 1,
     1000000, NULL},
    {"admit-burst", 0, CF_CFG_INT, "N", "burst allowed above the rate", "4000", 1, 10000000, NULL},
    {"session-ttl", 0, CF_CFG_DURATION, "T", "how long a console login session lasts", "12h",
     CF_APP_SESSION_TTL_MIN, CF_APP_SESSION_TTL_MAX, NULL},
    {"log-level", 'l', CF_CFG_ENUM, "LEVEL", "log level", "info", 0, 0, s_levels},
    {"print-config", 0, CF_CFG_BOOL, NULL,
     "print an example configuration file with every key and exit", "false", 0, 0, NULL},
};

const cf_cfg_opt_t *cf_server_opts(size_t *n)
{
    *n = sizeof(s_opts) / sizeof(s_opts[0]);
    return s_opts;
}

cf_err_t cf_server_opts_store(const cf_cfg_t *cfg, cf_store_cfg_t *out, char **password_out,
                              cf_why_t *why)
{
    CF_TRY(cf_store_opts_apply(cfg, out, password_out, why));
    if (cf_cfg_str(cfg, "redis-sentinel"))
        out->durable_replicas = 1; /* a failover must not lose what agents were told */
    int durable = (int) cf_cfg_int(cfg, "redis-durable");
    if (durable >= 0)
        out->durable_replicas = durable;
    return CF_OK;
}

cf_err_t cf_server_opts_start(const cf_cfg_t *cfg, cf_start_opts_t *out, char **admin_out,
                              char **p12_out, cf_why_t *why)
{
    memset(out, 0, sizeof(*out));
    *admin_out = *p12_out = NULL;
    out->alias = cf_cfg_str(cfg, "alias");
    if (!out->alias)
        return cf_why(why, CF_ERR_INVALID, "--alias NAME is required");
    out->host = cf_cfg_str(cfg, "host");
    out->port = (int) cf_cfg_int(cfg, "port");
    out->plain_port = (int) cf_cfg_int(cfg, "plain-port");
    out->priority = (int) cf_cfg_int(cfg, "priority");
    out->sans = cf_cfg_list(cfg, "san", &out->n_sans);
    out->days = (unsigned) cf_cfg_int(cfg, "cert-days");
    out->seconds = (long) cf_cfg_int(cfg, "cert-seconds");
    out->out_dir = cf_cfg_str(cfg, "out");
    CF_TRY(cf_key_type_from_name(cf_cfg_str(cfg, "key-type"), &out->key_type));
    if (!cf_cfg_bool(cfg, "init"))
        return CF_OK;
    const char *admin_file = cf_cfg_str(cfg, "admin-password-file");
    const char *env = getenv("CF_ADMIN_PASSWORD");
    if (admin_file)
        CF_TRY(cf_cfg_read_secret_file(admin_file, S_SECRET_MAX, 0, admin_out, why));
    else if (env && *env)
        *admin_out = cf_mem_strdup(env);
    else
        return cf_why(why, CF_ERR_INVALID,
                      "--init needs the admin's password: "
                      "--admin-password-file FILE or $CF_ADMIN_PASSWORD");
    if (!*admin_out)
        return CF_ERR_NOMEM;
    out->admin_password = *admin_out;
    const char *p12_file = cf_cfg_str(cfg, "p12-password-file");
    if (p12_file) {
        CF_TRY(cf_cfg_read_secret_file(p12_file, S_SECRET_MAX, 0, p12_out, why));
        out->p12_password = *p12_out;
    }
    return CF_OK;
}

/* One broker endpoint of option opt (entry i, from 1): "tcp://H:P#KEY", or "tls://H:P#KEY"
   checked as tcp:// (*is_tls set; the link starts a TLS relay for it). */
static cf_err_t s_broker_text(const char *opt, size_t i, const char *item, cf_curve_broker_t *out,
                              int *is_tls, cf_why_t *why)
{
    size_t scheme = strlen(CF_RELAY_CLIENT_SCHEME);
    *is_tls = strncmp(item, CF_RELAY_CLIENT_SCHEME, scheme) == 0;
    char text[CF_CURVE_TEXT_MAX + 1];
    int len = snprintf(text, sizeof(text), "%s%s", *is_tls ? "tcp://" : "",
                       item + (*is_tls ? scheme : 0));
    if (len < 0 || (size_t) len >= sizeof(text))
        return cf_why(why, CF_ERR_TOOBIG, "%s %zu: longer than %d characters", opt, i,
                      CF_CURVE_TEXT_MAX);
    cf_why_t inner = {""};
    cf_err_t rc = cf_curve_broker_parse(text, (size_t) len, out, &inner);
    if (rc != CF_OK)
        return cf_why(why, rc, "%s %zu: %s", opt, i, cf_why_text(&inner, rc));
    return CF_OK;
}

cf_err_t cf_server_opts_brokers(const cf_cfg_t *cfg, cf_curve_broker_t *out, unsigned char *tls,
                                size_t *n_out, cf_why_t *why)
{
    size_t n = 0;
    const char *const *items = cf_cfg_list(cfg, "broker", &n);
    *n_out = 0;
    if (n > CF_LINK_MAX_BROKERS)
        return cf_why(why, CF_ERR_TOOBIG, "--broker: at most %d brokers", CF_LINK_MAX_BROKERS);
    for (size_t i = 0; i < n; i++) {
        int is_tls = 0;
        CF_TRY(s_broker_text("--broker", i + 1, items[i], &out[i], &is_tls, why));
        if (tls)
            tls[i] = (unsigned char) is_tls;
        for (size_t j = 0; j < i; j++) {
            if (memcmp(out[j].pub, out[i].pub, CF_CURVE_KEY_LEN) == 0)
                return cf_why(why, CF_ERR_INVALID, "--broker %zu: the same broker key as %zu",
                              i + 1, j + 1);
        }
    }
    *n_out = n;
    return CF_OK;
}

cf_err_t cf_server_opts_agent_brokers(const cf_cfg_t *cfg, const char *const **texts_out,
                                      size_t *n_out, cf_why_t *why)
{
    size_t n = 0;
    const char *const *items = cf_cfg_list(cfg, "agent-broker", &n);
    *texts_out = items;
    *n_out = 0;
    if (n > CF_LINK_MAX_BROKERS)
        return cf_why(why, CF_ERR_TOOBIG, "--agent-broker: at most %d", CF_LINK_MAX_BROKERS);
    for (size_t i = 0; i < n; i++) {
        cf_curve_broker_t b;
        int is_tls = 0;
        CF_TRY(s_broker_text("--agent-broker", i + 1, items[i], &b, &is_tls, why));
    }
    *n_out = n;
    return CF_OK;
}
