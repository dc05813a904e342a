/*  cf_zsock - every certfleet ZeroMQ socket's tuning, CURVE ROUTER/DEALER, peer descriptors  */
#include "cf_zsock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#define S_SOMAXCONN_PATH "/proc/sys/net/core/somaxconn"

void cf_zsock_cfg_init(cf_zsock_cfg_t *cfg)
{
    CF_ASSERT(cfg);
    memset(cfg, 0, sizeof(*cfg));
}

int cf_zsock_somaxconn(void)
{
    FILE *f = fopen(S_SOMAXCONN_PATH, "re");
    long v = 0;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = 0;
        fclose(f);
    }
    return (v > 0 && v <= 1L << 30) ? (int) v : SOMAXCONN;
}

cf_err_t cf_zsock_raise_nofile(unsigned long *limit_out, cf_why_t *why)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return cf_why(why, CF_ERR_IO, "getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            return cf_why(why, CF_ERR_IO, "cannot raise the open-file limit to %llu: %s",
                          (unsigned long long) rl.rlim_max, strerror(errno));
    }
    if (limit_out)
        *limit_out = (unsigned long) rl.rlim_cur;
    return CF_OK;
}

static int s_or(int value, int fallback)
{
    return value ? value : fallback;
}

static cf_err_t s_set(void *handle, int option, const char *name, const void *value, size_t len,
                      cf_why_t *why)
{
    if (zmq_setsockopt(handle, option, value, len) == 0)
        return CF_OK;
    return cf_why(why, CF_ERR_INVALID, "zmq_setsockopt %s: %s", name, zmq_strerror(zmq_errno()));
}

static cf_err_t s_set_int(void *handle, int option, const char *name, int value, cf_why_t *why)
{
    return s_set(handle, option, name, &value, sizeof(value), why);
}

#define S_SET_INT(h, opt, v, why) CF_TRY(s_set_int((h), (opt), #opt, (v), (why)))

/* Heartbeats: IVL, TIMEOUT and the TTL our PINGs carry, or no PINGs at all
   (CF_ZSOCK_NO_PINGS: the peer's TTL and TCP keepalive drop a silent peer instead). */
static cf_err_t s_apply_heartbeats(void *h, const cf_zsock_cfg_t *cfg, cf_why_t *why)
{
    if (cfg->heartbeat_ivl_ms < 0) {
        if (cfg->heartbeat_ivl_ms != CF_ZSOCK_NO_PINGS)
            return cf_why(why, CF_ERR_INVALID, "ZMQ_HEARTBEAT_IVL: %d ms", cfg->heartbeat_ivl_ms);
        S_SET_INT(h, ZMQ_HEARTBEAT_IVL, 0, why);
        return CF_OK;
    }
    if (cfg->heartbeat_timeout_ms < 0)
        return cf_why(why, CF_ERR_INVALID, "ZMQ_HEARTBEAT_TIMEOUT: %d ms",
                      cfg->heartbeat_timeout_ms);
    int ttl = cfg->heartbeat_ttl_ms < 0 ? 0 : s_or(cfg->heartbeat_ttl_ms, CF_ZSOCK_HEARTBEAT_TTL);
    if (ttl > 65500) /* the receiver (libzmq 4.3) turns deciseconds into ms in 16 bits */
        return cf_why(why, CF_ERR_INVALID, "ZMQ_HEARTBEAT_TTL is at most 65500 ms");
    S_SET_INT(h, ZMQ_HEARTBEAT_IVL, s_or(cfg->heartbeat_ivl_ms, CF_ZSOCK_HEARTBEAT_IVL), why);
    S_SET_INT(h, ZMQ_HEARTBEAT_TIMEOUT, s_or(cfg->heartbeat_timeout_ms, CF_ZSOCK_HEARTBEAT_TIMEOUT),
              why);
    S_SET_INT(h, ZMQ_HEARTBEAT_TTL, ttl, why);
    return CF_OK;
}

/* The kernel's keepalive: drops a connection whose host or path died (no RST will come)
   at no cost to libzmq's timers; the backstop where no PING of ours watches the peer. */
static cf_err_t s_apply_keepalive(void *h, cf_why_t *why)
{
    S_SET_INT(h, ZMQ_TCP_KEEPALIVE, 1, why);
    S_SET_INT(h, ZMQ_TCP_KEEPALIVE_IDLE, CF_ZSOCK_KEEPALIVE_IDLE, why);
    S_SET_INT(h, ZMQ_TCP_KEEPALIVE_INTVL, CF_ZSOCK_KEEPALIVE_INTVL, why);
    S_SET_INT(h, ZMQ_TCP_KEEPALIVE_CNT, CF_ZSOCK_KEEPALIVE_CNT, why);
    return CF_OK;
}

cf_err_t cf_zsock_apply(zsock_t *sock, const cf_zsock_cfg_t *cfg, cf_why_t *why)
{
    if (!sock)
        return CF_ERR_INVALID;
    cf_zsock_cfg_t defaults;
    cf_zsock_cfg_init(&defaults);
    if (!cfg)
        cfg = &defaults;
    void *h = zsock_resolve(sock);
    S_SET_INT(h, ZMQ_SNDHWM, s_or(cfg->sndhwm, CF_ZSOCK_HWM), why);
    S_SET_INT(h, ZMQ_RCVHWM, s_or(cfg->rcvhwm, CF_ZSOCK_HWM), why);
    S_SET_INT(h, ZMQ_HANDSHAKE_IVL, s_or(cfg->handshake_ivl_ms, CF_ZSOCK_HANDSHAKE_IVL), why);
    S_SET_INT(h, ZMQ_LINGER, cfg->linger_ms, why);
    S_SET_INT(h, ZMQ_RECONNECT_IVL, s_or(cfg->reconnect_ivl_ms, CF_ZSOCK_RECONNECT_IVL), why);
    S_SET_INT(h, ZMQ_RECONNECT_IVL_MAX, s_or(cfg->reconnect_max_ms, CF_ZSOCK_RECONNECT_MAX), why);
    int64_t max_msg = cfg->max_msg ? cfg->max_msg : CF_ZSOCK_MAX_MSG;
    CF_TRY(s_set(h, ZMQ_MAXMSGSIZE, "ZMQ_MAXMSGSIZE", &max_msg, sizeof(max_msg), why));
    CF_TRY(s_apply_heartbeats(h, cfg, why));
    CF_TRY(s_apply_keepalive(h, why));
    if (zsock_type(sock) == ZMQ_ROUTER) {
        S_SET_INT(h, ZMQ_ROUTER_MANDATORY, 1, why);
        S_SET_INT(h, ZMQ_ROUTER_HANDOVER, cfg->no_handover ? 0 : 1, why);
    }
    return CF_OK;
}

cf_err_t cf_zsock_curve_router(const cf_zap_t *zap, const cf_curve_keypair_t *server,
                               const char *endpoint, const cf_zsock_cfg_t *cfg, zsock_t **out,
                               cf_why_t *why)
{
    if (!out)
        return CF_ERR_INVALID;
    *out = NULL;
    if (!zap || !server || !endpoint)
        return cf_why(why, CF_ERR_INVALID, "a CURVE ROUTER needs a running ZAP handler first");
    zsock_t *sock = zsock_new(ZMQ_ROUTER);
    if (!sock)
        return CF_ERR_NOMEM;
    void *h = zsock_resolve(sock);
    const char *domain = cf_zap_domain(zap);
    int backlog = cfg && cfg->backlog ? cfg->backlog : cf_zsock_somaxconn();
    cf_err_t rc = cf_zsock_apply(sock, cfg, why);
    if (rc == CF_OK)
        rc = s_set_int(h, ZMQ_BACKLOG, "ZMQ_BACKLOG", backlog, why);
    if (rc == CF_OK)
        rc = s_set_int(h, ZMQ_CURVE_SERVER, "ZMQ_CURVE_SERVER", 1, why);
    if (rc == CF_OK)
        rc = s_set(h, ZMQ_CURVE_SECRETKEY, "ZMQ_CURVE_SECRETKEY", server->sec, CF_CURVE_KEY_LEN,
                   why);
    if (rc == CF_OK && domain[0])
        rc = s_set(h, ZMQ_ZAP_DOMAIN, "ZMQ_ZAP_DOMAIN", domain, strlen(domain), why);
    if (rc == CF_OK && zmq_bind(h, endpoint) != 0) {
        int err = zmq_errno();
        rc = cf_why(why, err == EINVAL || err == EPROTONOSUPPORT ? CF_ERR_INVALID : CF_ERR_IO,
                    "cannot bind %.255s: %s", endpoint, zmq_strerror(err));
    }
    if (rc != CF_OK) {
        zsock_destroy(&sock);
        return rc;
    }
    *out = sock;
    return CF_OK;
}

cf_err_t cf_zsock_curve_dealer(const cf_curve_broker_t *broker, const cf_curve_keypair_t *own,
                               const char *routing_id, const cf_zsock_cfg_t *cfg, zsock_t **out,
                               cf_why_t *why)
{
    return cf_zsock_curve_dealer_mon(broker, own, routing_id, cfg, NULL, 0, NULL, out, why);
}

/* The DEALER's tuning, keys and routing id. */
static cf_err_t s_dealer_opts(zsock_t *sock, const cf_curve_broker_t *broker,
                              const cf_curve_keypair_t *own, const char *routing_id, size_t rid_len,
                              const cf_zsock_cfg_t *cfg, cf_why_t *why)
{
    void *h = zsock_resolve(sock);
    cf_err_t rc = cf_zsock_apply(sock, cfg, why);
    if (rc == CF_OK)
        rc = s_set(h, ZMQ_CURVE_SERVERKEY, "ZMQ_CURVE_SERVERKEY", broker->pub, CF_CURVE_KEY_LEN,
                   why);
    if (rc == CF_OK)
        rc = s_set(h, ZMQ_CURVE_PUBLICKEY, "ZMQ_CURVE_PUBLICKEY", own->pub, CF_CURVE_KEY_LEN, why);
    if (rc == CF_OK)
        rc = s_set(h, ZMQ_CURVE_SECRETKEY, "ZMQ_CURVE_SECRETKEY", own->sec, CF_CURVE_KEY_LEN, why);
    if (rc == CF_OK && routing_id)
        rc = s_set(h, ZMQ_ROUTING_ID, "ZMQ_ROUTING_ID", routing_id, rid_len, why);
    return rc;
}

/* The monitor of h to mon_ep and its reader (*mon_out), before h connects: an event with
   no reader is dropped. */
static cf_err_t s_monitor(void *h, const char *mon_ep, int events, zsock_t **mon_out, cf_why_t *why)
{
    if (zmq_socket_monitor(h, mon_ep, events) != 0)
        return cf_why(why, CF_ERR_IO, "monitor: %s", zmq_strerror(zmq_errno()));
    *mon_out = zsock_new(ZMQ_PAIR);
    if (!*mon_out || zsock_connect(*mon_out, "%s", mon_ep) != 0)
        return cf_why(why, CF_ERR_IO, "monitor socket");
    return CF_OK;
}

cf_err_t cf_zsock_curve_dealer_mon(const cf_curve_broker_t *broker, const cf_curve_keypair_t *own,
                                   const char *routing_id, const cf_zsock_cfg_t *cfg,
                                   const char *mon_ep, int events, zsock_t **mon_out, zsock_t **out,
                                   cf_why_t *why)
{
    if (!out || (mon_ep && !mon_out))
        return CF_ERR_INVALID;
    *out = NULL;
    size_t rid_len = routing_id ? strnlen(routing_id, 256) : 0;
    if (!broker || !own || (routing_id && (rid_len == 0 || rid_len > 255)))
        return cf_why(why, CF_ERR_INVALID, "a routing id is 1..255 bytes");
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    if (!sock)
        return CF_ERR_NOMEM;
    void *h = zsock_resolve(sock);
    zsock_t *mon = NULL;
    cf_err_t rc = s_dealer_opts(sock, broker, own, routing_id, rid_len, cfg, why);
    if (rc == CF_OK && mon_ep)
        rc = s_monitor(h, mon_ep, events, &mon, why);
    if (rc == CF_OK && zmq_connect(h, broker->endpoint) != 0)
        rc = cf_why(why, CF_ERR_IO, "cannot connect to %s: %s", broker->endpoint,
                    zmq_strerror(zmq_errno()));
    if (rc != CF_OK) {
        if (mon_ep)
            zmq_socket_monitor(h, NULL, 0); /* before its reader goes */
        zsock_destroy(&mon);
        zsock_destroy(&sock);
        return rc;
    }
    if (mon_out)
        *mon_out = mon;
    *out = sock;
    return CF_OK;
}
