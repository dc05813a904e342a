/*  cf_broker_metrics - the broker's counters as Prometheus text  */
#include "cf_broker_route.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    char *buf;   /* output */
    size_t cap;  /* its size */
    size_t used; /* bytes written */
    int over;    /* 1 once something did not fit */
} s_out_t;

static void s_put(s_out_t *o, const char *fmt, ...) CF_PRINTF(2, 3);
static void s_put(s_out_t *o, const char *fmt, ...)
{
    if (o->over)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->used, o->cap - o->used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t) n >= o->cap - o->used)
        o->over = 1;
    else
        o->used += (size_t) n;
}

static void s_head(s_out_t *o, const char *name, const char *type, const char *help)
{
    s_put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void s_messages(s_out_t *o, const char *name, const uint64_t v[][CF_MSG_TYPE_COUNT_])
{
    for (int side = 0; side < CF_BROKER_SIDES_; side++)
        for (int t = CF_MSG_HELLO; t < CF_MSG_TYPE_COUNT_; t++)
            s_put(o, "%s{side=\"%s\",type=\"%s\"} %" PRIu64 "\n", name,
                  cf_broker_side_name((cf_broker_side_t) side), cf_msg_type_name((cf_msg_type_t) t),
                  v[side][t]);
}

static void s_per_side(s_out_t *o, const char *name, const char *label, const uint64_t v[])
{
    for (int side = 0; side < CF_BROKER_SIDES_; side++)
        s_put(o, "%s{side=\"%s\"%s} %" PRIu64 "\n", name,
              cf_broker_side_name((cf_broker_side_t) side), label, v[side]);
}

static void s_traffic(s_out_t *o, const cf_broker_stats_t *s)
{
    s_head(o, "cf_broker_messages_in_total", "counter", "messages received that decoded");
    s_messages(o, "cf_broker_messages_in_total", s->in);
    s_head(o, "cf_broker_messages_out_total", "counter", "messages sent");
    s_messages(o, "cf_broker_messages_out_total", s->out);
    s_head(o, "cf_broker_drops_total", "counter", "received messages dropped, by reason");
    for (int r = 0; r < CF_BROKER_DROP_COUNT_; r++)
        s_put(o, "cf_broker_drops_total{reason=\"%s\"} %" PRIu64 "\n",
              cf_broker_drop_name((cf_broker_drop_t) r), s->drops[r]);
    s_head(o, "cf_broker_send_drops_total", "counter",
           "messages not sent: peer unreachable or its queue full");
    s_per_side(o, "cf_broker_send_drops_total", ",reason=\"unreachable\"", s->send_unreachable);
    s_per_side(o, "cf_broker_send_drops_total", ",reason=\"full\"", s->send_full);
}

static void s_connections(s_out_t *o, const cf_broker_stats_t *s, const cf_broker_gauges_t *g)
{
    s_head(o, "cf_broker_connected_agents", "gauge", "agents held (identity shown)");
    s_put(o, "cf_broker_connected_agents %zu\n", g->agents);
    s_head(o, "cf_broker_connected_servers", "gauge", "servers held (identity shown)");
    s_put(o, "cf_broker_connected_servers %zu\n", g->servers);
    uint64_t open[CF_BROKER_SIDES_];
    for (int side = 0; side < CF_BROKER_SIDES_; side++)
        open[side] = s->accepted[side] >= s->disconnected[side]
                         ? s->accepted[side] - s->disconnected[side]
                         : 0;
    s_head(o, "cf_broker_connections", "gauge", "TCP connections open, handshaking included");
    s_per_side(o, "cf_broker_connections", "", open);
    s_head(o, "cf_broker_accepted_total", "counter", "TCP connections accepted");
    s_per_side(o, "cf_broker_accepted_total", "", s->accepted);
    s_head(o, "cf_broker_shut_total", "counter", "connections shut by the broker");
    s_put(o, "cf_broker_shut_total %" PRIu64 "\n", s->shut);
}

static void s_keys(s_out_t *o, const cf_broker_stats_t *s, const cf_broker_gauges_t *g,
                   const cf_zap_stats_t *z)
{
    s_head(o, "cf_broker_zap_total", "counter", "ZAP answers");
    s_put(o, "cf_broker_zap_total{result=\"allowed\",reason=\"listed\"} %" PRIu64 "\n", z->allowed);
    s_put(o, "cf_broker_zap_total{result=\"denied\",reason=\"unknown_key\"} %" PRIu64 "\n",
          z->denied_unknown);
    s_put(o, "cf_broker_zap_total{result=\"denied\",reason=\"mechanism\"} %" PRIu64 "\n",
          z->denied_mechanism);
    s_put(o, "cf_broker_zap_total{result=\"denied\",reason=\"domain\"} %" PRIu64 "\n",
          z->denied_domain);
    s_put(o, "cf_broker_zap_total{result=\"error\",reason=\"bad_request\"} %" PRIu64 "\n",
          z->bad_request);
    s_head(o, "cf_broker_zap_keys", "gauge", "keys on the ZAP allow list");
    s_put(o, "cf_broker_zap_keys %" PRIu64 "\n", z->keys);
    s_head(o, "cf_broker_listed_identities", "gauge", "identities the broker holds a key of");
    s_put(o, "cf_broker_listed_identities %zu\n", g->listed);
    s_head(o, "cf_broker_redis_up", "gauge", "1 while subscribed to cf:events and resynced");
    s_put(o, "cf_broker_redis_up %d\n", g->redis_up ? 1 : 0);
    s_head(o, "cf_broker_key_events_total", "counter", "key changes applied from cf:events");
    s_put(o, "cf_broker_key_events_total %" PRIu64 "\n", s->key_events);
    s_head(o, "cf_broker_resyncs_total", "counter", "full reloads of the allow list");
    s_put(o, "cf_broker_resyncs_total{result=\"ok\"} %" PRIu64 "\n", s->resyncs);
    s_put(o, "cf_broker_resyncs_total{result=\"failed\"} %" PRIu64 "\n", s->resync_failures);
    s_head(o, "cf_broker_batches_total", "counter", "BATCH messages on the server side");
    s_put(o, "cf_broker_batches_total{dir=\"in\"} %" PRIu64 "\n", s->batches_in);
    s_put(o, "cf_broker_batches_total{dir=\"out\"} %" PRIu64 "\n", s->batches_out);
}

cf_err_t cf_broker_metrics_render(const cf_broker_stats_t *stats, const cf_broker_gauges_t *gauges,
                                  const cf_zap_stats_t *zap, char *buf, size_t cap, size_t *len_out)
{
    if (len_out)
        *len_out = 0;
    if (!stats || !gauges || !zap || !buf || cap == 0)
        return CF_ERR_INVALID;
    s_out_t o = {buf, cap, 0, 0};
    buf[0] = '\0';
    s_traffic(&o, stats);
    s_connections(&o, stats, gauges);
    s_keys(&o, stats, gauges, zap);
    if (o.over) {
        buf[0] = '\0';
        return CF_ERR_TOOBIG;
    }
    if (len_out)
        *len_out = o.used;
    return CF_OK;
}
