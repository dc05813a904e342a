/*  cf_broker_opts - cf-broker's option table and what it turns into  */
#include "cf_broker_opts.h"

#include "cf_file.h"

#include <limits.h>
#include <string.h>

#include "cf_mem.h"
#include "cf_store_opts.h"

#define S_MS_MAX 3600000

static const char *const s_levels[] = {"debug", "info", "warn", "error", "off", NULL};

static const cf_cfg_opt_t s_opts[] = {
    {"agents-bind", 0, CF_CFG_STRING, "ENDPOINT", "agent-facing CURVE ROUTER",
     "tcp://127.0.0.1:7010", 0, 0, NULL},
    {"servers-bind", 0, CF_CFG_STRING, "ENDPOINT", "server-facing CURVE ROUTER",
     "tcp://127.0.0.1:7011", 0, 0, NULL},
    {"key-file", 'k', CF_CFG_PATH, "FILE", "the broker's CURVE secret certificate (--keygen)",
     "/etc/certfleet/broker.key_secret", 0, 0, NULL},
    CF_STORE_OPTS_ROWS,
    {"metrics-port", 'm', CF_CFG_INT, "N", "Prometheus page /metrics on this port (0: none)", "0",
     0, 65535, NULL},
    {"metrics-bind", 0, CF_CFG_STRING, "ADDR", "address of the metrics page", "127.0.0.1", 0, 0,
     NULL},
    {"hwm", 0, CF_CFG_INT, "N", "messages queued per peer and direction", "1000", 1, 10000000,
     NULL},
    {"io-threads", 0, CF_CFG_INT, "N", "libzmq I/O threads (connections are spread over them)",
     "64", 1, 64, NULL},
    {"gather-ms", 0, CF_CFG_INT, "MS",
     "agents' messages wait at most this long for more, then cross to a server as one batch "
     "(0: each loop turn's go at once)",
     "5", 0, 1000, NULL},
    {"server-hwm", 0, CF_CFG_INT, "N", "messages queued per server and direction", "100000", 1,
     10000000, NULL},
    {"heartbeat-ivl", 0, CF_CFG_INT, "MS",
     "ZMTP PING this often (0: none, the peers' TTL drops them; docs/zap.md)", "0", 0, S_MS_MAX,
     NULL},
    {"heartbeat-timeout", 0, CF_CFG_INT, "MS",
     "with --heartbeat-ivl: drop a peer silent after a PING", "30000", 100, S_MS_MAX, NULL},
    {"handshake-ivl", 0, CF_CFG_INT, "MS", "time a connection has to finish CURVE", "10000", 100,
     S_MS_MAX, NULL},
    {"max-msg", 0, CF_CFG_SIZE, "BYTES", "largest frame; a bigger one drops its connection", "1m",
     1024, 64 << 20, NULL},
    {"max-keys", 0, CF_CFG_INT, "N", "most keys on the allow list", "1048576", 1, 1048576, NULL},
    {"max-agents", 0, CF_CFG_INT, "N", "most agents held at once", "1048576", 1, 1048576, NULL},
    {"tls-bind", 0, CF_CFG_STRING, "HOST:PORT",
     "also accept agents' ZeroMQ inside TLS here (docs/broker.md)", NULL, 0, 0, NULL},
    {"tls-servers-bind", 0, CF_CFG_STRING, "HOST:PORT",
     "also accept servers' ZeroMQ inside TLS here", NULL, 0, 0, NULL},
    {"tls-ca", 0, CF_CFG_PATH, "FILE", "TLS links: the CA client certificates chain to", NULL, 0, 0,
     NULL},
    {"tls-cert", 0, CF_CFG_PATH, "FILE", "TLS links: the broker's certificate (PEM)", NULL, 0, 0,
     NULL},
    {"tls-key", 0, CF_CFG_PATH, "FILE", "TLS links: its private key (PEM, mode 0600)", NULL, 0, 0,
     NULL},
    {"tls-max-conns", 0, CF_CFG_INT, "N", "TLS connections per TLS listener", "20000", 1, 1048576,
     NULL},
    {"zap-domain", 0, CF_CFG_STRING, "NAME", "ZAP domain of both ROUTERs (unset: any)", NULL, 0, 0,
     NULL},
    {"keygen", 0, CF_CFG_BOOL, NULL, "write a new CURVE keypair into --out and exit", "false", 0, 0,
     NULL},
    {"out", 'o', CF_CFG_PATH, "DIR", "--keygen: where broker.key and broker.key_secret go", ".", 0,
     0, NULL},
    {"log-level", 'l', CF_CFG_ENUM, "LEVEL", "log level", "info", 0, 0, s_levels},
    {"print-config", 0, CF_CFG_BOOL, NULL,
     "print an example configuration file with every key and exit", "false", 0, 0, NULL},
};

const cf_cfg_opt_t *cf_broker_opts(size_t *n)
{
    *n = sizeof(s_opts) / sizeof(s_opts[0]);
    return s_opts;
}

cf_err_t cf_broker_opts_store(const cf_cfg_t *cfg, cf_store_cfg_t *out, char **password_out,
                              cf_why_t *why)
{
    return cf_store_opts_apply(cfg, out, password_out, why);
}

void cf_broker_opts_zsock(const cf_cfg_t *cfg, cf_zsock_cfg_t *out)
{
    cf_zsock_cfg_init(out);
    out->sndhwm = out->rcvhwm = (int) cf_cfg_int(cfg, "hwm");
    /* No PINGs of the broker's own by default: libzmq 4.3.4 aborts when an interval timer
       fires on a connection whose peer hung up while its input was stopped (#4364). */
    int ivl = (int) cf_cfg_int(cfg, "heartbeat-ivl");
    out->heartbeat_ivl_ms = ivl > 0 ? ivl : CF_ZSOCK_NO_PINGS;
    out->heartbeat_timeout_ms = (int) cf_cfg_int(cfg, "heartbeat-timeout");
    out->handshake_ivl_ms = (int) cf_cfg_int(cfg, "handshake-ivl");
    out->max_msg = (int64_t) cf_cfg_int(cfg, "max-msg");
}

void cf_broker_opts_broker(const cf_cfg_t *cfg, const cf_curve_keypair_t *keys,
                           const cf_store_cfg_t *store, cf_broker_cfg_t *out)
{
    memset(out, 0, sizeof(*out));
    out->agents_bind = cf_cfg_str(cfg, "agents-bind");
    out->servers_bind = cf_cfg_str(cfg, "servers-bind");
    out->keys = keys;
    out->store = store;
    out->metrics_bind = cf_cfg_str(cfg, "metrics-bind");
    out->metrics_port = (int) cf_cfg_int(cfg, "metrics-port");
    out->zap_domain = cf_cfg_str(cfg, "zap-domain");
    out->max_keys = (size_t) cf_cfg_int(cfg, "max-keys");
    out->max_agents = (size_t) cf_cfg_int(cfg, "max-agents");
    cf_broker_opts_zsock(cfg, &out->zsock);
    out->server_hwm = (int) cf_cfg_int(cfg, "server-hwm");
    out->io_threads = (int) cf_cfg_int(cfg, "io-threads");
    int gather = (int) cf_cfg_int(cfg, "gather-ms");
    out->gather_ms = gather > 0 ? gather : -1;
    out->handle_signals = 1;
    out->tls = (cf_broker_tls_cfg_t){
        cf_cfg_str(cfg, "tls-bind"), cf_cfg_str(cfg, "tls-servers-bind"),
        cf_cfg_str(cfg, "tls-ca"),   cf_cfg_str(cfg, "tls-cert"),
        cf_cfg_str(cfg, "tls-key"),  (size_t) cf_cfg_int(cfg, "tls-max-conns")};
}

/* One "tcp://HOST:PORT#Z85" line for a bind endpoint and the public key. */
static void s_print_line(FILE *out, const char *label, const char *bind,
                         const unsigned char pub[CF_CURVE_KEY_LEN])
{
    cf_curve_broker_t b;
    memset(&b, 0, sizeof(b));
    snprintf(b.endpoint, sizeof(b.endpoint), "%s", bind);
    memcpy(b.pub, pub, CF_CURVE_KEY_LEN);
    char line[CF_CURVE_TEXT_MAX + 1];
    if (cf_curve_broker_format(&b, line, sizeof(line)) == CF_OK) {
        fprintf(out, "%s %s\n", label, line);
        return;
    }
    char z85[CF_CURVE_Z85_LEN + 1];
    cf_curve_z85_encode(pub, z85);
    fprintf(out, "%s tcp://HOST:PORT#%s   (bound to %s: put the address agents reach)\n", label,
            z85, bind);
}

cf_err_t cf_broker_opts_keygen(const cf_cfg_t *cfg, FILE *out, cf_why_t *why)
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s/broker.key", cf_cfg_str(cfg, "out"));
    if (n < 0 || (size_t) n >= sizeof(path) - 8)
        return cf_why(why, CF_ERR_INVALID, "--out: path too long");
    cf_curve_keypair_t kp;
    /* --out is created (0700) when missing, as cf-server --init does with its --out */
    CF_TRY(cf_file_mkdirs(cf_cfg_str(cfg, "out"), 0700, why));
    cf_err_t rc = cf_curve_keypair_new(&kp);
    if (rc == CF_OK)
        rc = cf_curve_keypair_save(&kp, path, why);
    if (rc == CF_OK) {
        fprintf(out, "wrote %s and %s%s\n", path, path, CF_CURVE_SECRET_SUFFIX);
        s_print_line(out, "agents: ", cf_cfg_str(cfg, "agents-bind"), kp.pub);
        s_print_line(out, "servers:", cf_cfg_str(cfg, "servers-bind"), kp.pub);
    }
    cf_curve_keypair_wipe(&kp);
    return rc;
}
