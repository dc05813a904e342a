/*  cf_broker - the ZeroMQ broker: start-up in the order ZAP demands, the loop, shut-down  */
#include "cf_broker_int.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cf_log.h"
#include "cf_mem.h"

#define S_MAX_AGENTS       (1024u * 1024u) /* default cap on agents held */
#define S_REDIS_CONNECT_MS 500             /* longest connect of the loop's Redis reads */
#define S_REDIS_COMMAND_MS 2000            /* longest read or write of one of them */
#define S_GATHER_MAX_MS    1000            /* longest gather_ms */

static void s_key_free(void **item)
{
    cf_mem_free(*item);
    *item = NULL;
}

static void s_on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void) what;
    cf_log(CF_LOG_INFO, "msg=\"stopping\" signal=%d", (int) sig);
    cf_broker_stop(arg);
}

static cf_err_t s_check_cfg(const cf_broker_cfg_t *cfg, cf_why_t *why)
{
    if (!cfg || !cfg->keys || !cfg->store)
        return cf_why(why, CF_ERR_INVALID, "broker: keys and Redis settings are required");
    if (!cfg->agents_bind || !cfg->servers_bind)
        return cf_why(why, CF_ERR_INVALID, "broker: both bind endpoints are required");
    if (cfg->gather_ms > S_GATHER_MAX_MS)
        return cf_why(why, CF_ERR_INVALID, "broker: gather time %d ms is over %d ms",
                      cfg->gather_ms, S_GATHER_MAX_MS);
    if (cfg->metrics_port < 0 || cfg->metrics_port > 65535)
        return cf_why(why, CF_ERR_INVALID, "broker: metrics port %d out of range",
                      cfg->metrics_port);
    return cf_curve_keypair_check(cfg->keys) == CF_OK
               ? CF_OK
               : cf_why(why, CF_ERR_KEYMISMATCH, "broker: public key does not match secret key");
}

/* An event on the ZMQ_FD of sock. */
static cf_err_t s_watch(cf_broker_t *self, zsock_t *sock, event_callback_fn cb, struct event **out)
{
    int fd = -1;
    size_t len = sizeof(fd);
    if (zmq_getsockopt(zsock_resolve(sock), ZMQ_FD, &fd, &len) != 0)
        return CF_ERR_IO;
    *out = event_new(self->base, fd, EV_READ | EV_PERSIST, cb, self);
    if (!*out)
        return CF_ERR_NOMEM;
    return event_add(*out, NULL) == 0 ? CF_OK : CF_ERR_IO;
}

/* The ROUTER of side, its monitor (ACCEPTED, DISCONNECTED) and their events. */
static cf_err_t s_router(cf_broker_t *self, cf_broker_side_t side, const char *bind,
                         const cf_broker_cfg_t *cfg, cf_why_t *why)
{
    cf_zsock_cfg_t zcfg = cfg->zsock;
    if (side == CF_BROKER_SERVERS && cfg->server_hwm > 0)
        zcfg.sndhwm = zcfg.rcvhwm = cfg->server_hwm;
    CF_TRY(cf_zsock_curve_router(self->zap, &self->keys, bind, &zcfg, &self->sock[side], why));
    size_t len = sizeof(self->endpoint[side]);
    if (zmq_getsockopt(zsock_resolve(self->sock[side]), ZMQ_LAST_ENDPOINT, self->endpoint[side],
                       &len) != 0)
        snprintf(self->endpoint[side], sizeof(self->endpoint[side]), "%s", bind);
    char ep[96];
    snprintf(ep, sizeof(ep), "inproc://cf-broker-monitor-%s-%p", cf_broker_side_name(side),
             (void *) self);
    if (zmq_socket_monitor(zsock_resolve(self->sock[side]), ep,
                           ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) != 0)
        return cf_why(why, CF_ERR_IO, "monitor of the %s ROUTER: %s", cf_broker_side_name(side),
                      zmq_strerror(zmq_errno()));
    self->mon[side] = zsock_new(ZMQ_PAIR);
    if (!self->mon[side] || zsock_connect(self->mon[side], "%s", ep) != 0)
        return cf_why(why, CF_ERR_IO, "monitor reader of the %s ROUTER", cf_broker_side_name(side));
    int agents = side == CF_BROKER_AGENTS;
    CF_TRY(s_watch(self, self->sock[side],
                   agents ? cf_broker_io_on_agents : cf_broker_io_on_servers,
                   &self->ev_sock[side]));
    return s_watch(self, self->mon[side],
                   agents ? cf_broker_io_on_monitor_agents : cf_broker_io_on_monitor_servers,
                   &self->ev_mon[side]);
}

/* State that needs no outside resource. */
static cf_err_t s_alloc(cf_broker_t *self, const cf_broker_cfg_t *cfg)
{
    self->keys = *cfg->keys;
    self->max_keys = cfg->max_keys;
    size_t max_agents = cfg->max_agents ? cfg->max_agents : S_MAX_AGENTS;
    CF_TRY(cf_broker_peers_new(max_agents, &self->peers[CF_BROKER_AGENTS]));
    CF_TRY(cf_broker_peers_new(CF_BROKER_MAX_SERVERS, &self->peers[CF_BROKER_SERVERS]));
    self->listed = zhashx_new();
    self->base = event_base_new();
    if (!self->listed || !self->base)
        return CF_ERR_NOMEM;
    zhashx_set_destructor(self->listed, s_key_free);
    CF_TRY(cf_broker_outbox_init(&self->up));
    CF_TRY(cf_broker_outbox_init(&self->answers));
    self->ev_retry = evtimer_new(self->base, cf_broker_keys_on_retry, self);
    self->ev_gather = evtimer_new(self->base, cf_broker_up_on_due, self);
    self->gather_ms = cfg->gather_ms < 0 ? 0
                      : cfg->gather_ms   ? cfg->gather_ms
                                         : CF_BROKER_GATHER_MS;
    return self->ev_retry && self->ev_gather ? CF_OK : CF_ERR_NOMEM;
}

/* Redis: the first load (a failure is retried: everyone is refused meanwhile) and the
   subscriber that keeps the list current. */
static cf_err_t s_redis(cf_broker_t *self, const cf_broker_cfg_t *cfg, cf_why_t *why)
{
    /* reads run on the loop: while Redis is away they must fail fast, not stall routing
       (the subscriber reconnects without blocking and reloads when Redis is back) */
    cf_store_cfg_t quick = *cfg->store;
    quick.reconnect_attempts = 1;
    if (quick.connect_timeout_ms > S_REDIS_CONNECT_MS)
        quick.connect_timeout_ms = S_REDIS_CONNECT_MS;
    if (quick.command_timeout_ms > S_REDIS_COMMAND_MS)
        quick.command_timeout_ms = S_REDIS_COMMAND_MS;
    CF_TRY(cf_store_new(&quick, &self->store, why));
    if (cf_broker_keys_reload(self) != CF_OK)
        cf_log(CF_LOG_WARN, "msg=\"starting with an empty allow list until Redis answers\"");
    CF_TRY(cf_store_sub_new(cfg->store, self->base, cf_broker_keys_on_event,
                            cf_broker_keys_on_resync, self, &self->sub, why));
    CF_TRY(cf_store_sub_subscribe(self->sub, "cf:events"));
    return cf_store_sub_start(self->sub);
}

static cf_err_t s_signals(cf_broker_t *self)
{
    static const int sigs[2] = {SIGINT, SIGTERM};
    for (int i = 0; i < 2; i++) {
        self->ev_sig[i] = evsignal_new(self->base, sigs[i], s_on_signal, self);
        if (!self->ev_sig[i] || evsignal_add(self->ev_sig[i], NULL) != 0)
            return CF_ERR_IO;
    }
    return CF_OK;
}

static cf_err_t s_start(cf_broker_t *self, const cf_broker_cfg_t *cfg, cf_why_t *why)
{
    CF_TRY(s_alloc(self, cfg));
    cf_zap_cfg_t zcfg = {cfg->zap_domain, cfg->max_keys};
    /* libzmq 4.3 keeps an I/O thread's timers (heartbeats, handshakes) in one multimap and
       cancels one by a linear search, on every message a connection receives: with
       thousands of agents on one I/O thread that search was 91 % of the broker's CPU
       (perf) and handshakes timed out. Spread the connections over several threads. */
    if (cfg->io_threads > 0)
        zsys_set_io_threads((size_t) cfg->io_threads);
    CF_TRY(cf_zap_new(&zcfg, &self->zap, why)); /* before any CURVE socket (docs/zap.md) */
    CF_TRY(s_redis(self, cfg, why));
    unsigned long nofile = 0;
    cf_err_t rc = cf_zsock_raise_nofile(&nofile, why);
    if (rc != CF_OK)
        cf_log(CF_LOG_WARN, "msg=\"open-file limit not raised\" why=\"%s\"", cf_why_text(why, rc));
    CF_TRY(s_router(self, CF_BROKER_AGENTS, cfg->agents_bind, cfg, why));
    CF_TRY(s_router(self, CF_BROKER_SERVERS, cfg->servers_bind, cfg, why));
    CF_TRY(cf_broker_tls_start(self->sock, &cfg->tls, cfg->store, &self->tls, why));
    if (cfg->metrics_port)
        CF_TRY(cf_broker_http_start(self, cfg->metrics_bind, cfg->metrics_port, why));
    if (cfg->handle_signals)
        CF_TRY(s_signals(self));
    cf_log(CF_LOG_INFO,
           "msg=\"broker ready\" agents=%s servers=%s metrics_port=%d open_files=%lu backlog=%d",
           self->endpoint[CF_BROKER_AGENTS], self->endpoint[CF_BROKER_SERVERS], self->metrics_port,
           nofile, cfg->zsock.backlog ? cfg->zsock.backlog : cf_zsock_somaxconn());
    return CF_OK;
}

cf_err_t cf_broker_new(const cf_broker_cfg_t *cfg, cf_broker_t **out, cf_why_t *why)
{
    if (!out)
        return CF_ERR_INVALID;
    *out = NULL;
    CF_TRY(s_check_cfg(cfg, why));
    cf_broker_t *self = cf_mem_calloc(1, sizeof(*self));
    if (!self)
        return CF_ERR_NOMEM;
    cf_err_t rc = s_start(self, cfg, why);
    if (rc != CF_OK) {
        cf_broker_destroy(&self);
        return rc;
    }
    *out = self;
    return CF_OK;
}

cf_err_t cf_broker_run(cf_broker_t *self)
{
    if (!self)
        return CF_ERR_INVALID;
    cf_broker_io_kick(self); /* whatever arrived before the loop ran */
    int rc = event_base_dispatch(self->base);
    cf_broker_up_flush(self); /* what still waited for more goes now, not lost at the stop */
    return rc < 0 ? CF_ERR_IO : CF_OK;
}

void cf_broker_stop(cf_broker_t *self)
{
    if (self && self->base)
        event_base_loopbreak(self->base);
}

static void s_free_event(struct event **ev)
{
    if (*ev)
        event_free(*ev);
    *ev = NULL;
}

void cf_broker_destroy(cf_broker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_broker_t *self = *self_p;
    if (self->http)
        evhttp_free(self->http);
    cf_store_sub_destroy(&self->sub);
    cf_broker_tls_destroy(&self->tls); /* relays stop before the ROUTERs close */
    for (int side = 0; side < CF_BROKER_SIDES_; side++) {
        s_free_event(&self->ev_sock[side]);
        s_free_event(&self->ev_mon[side]);
        /* stop the monitor before closing its reader: libzmq's I/O thread blocks on an
           event it cannot deliver (docs/zap.md, pitfalls) */
        if (self->sock[side] && self->mon[side])
            zmq_socket_monitor(zsock_resolve(self->sock[side]), NULL, 0);
        zsock_destroy(&self->mon[side]);
        zsock_destroy(&self->sock[side]);
        cf_broker_peers_destroy(&self->peers[side]);
    }
    for (int i = 0; i < 2; i++)
        s_free_event(&self->ev_sig[i]);
    s_free_event(&self->ev_retry);
    s_free_event(&self->ev_gather);
    cf_zap_destroy(&self->zap); /* after the CURVE sockets */
    cf_store_destroy(&self->store);
    zhashx_destroy(&self->listed);
    cf_broker_keys_clear_servers(self);
    cf_broker_outbox_clear(&self->up);
    cf_broker_outbox_clear(&self->answers);
    if (self->base)
        event_base_free(self->base);
    cf_curve_keypair_wipe(&self->keys);
    cf_mem_free(self);
    *self_p = NULL;
}

const char *cf_broker_endpoint(const cf_broker_t *self, cf_broker_side_t side)
{
    if (!self || (int) side < 0 || side >= CF_BROKER_SIDES_)
        return "";
    return self->endpoint[side];
}

int cf_broker_metrics_port(const cf_broker_t *self)
{
    return self ? self->metrics_port : 0;
}

void cf_broker_stats(const cf_broker_t *self, cf_broker_stats_t *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    if (self)
        *out = self->stats;
}
