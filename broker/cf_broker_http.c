/*  cf_broker_http - the broker's Prometheus page (libevent evhttp on the broker's loop)  */
#include "cf_broker_int.h"

#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "cf_log.h"
#include "cf_mem.h"

void cf_broker_gauges(const cf_broker_t *self, cf_broker_gauges_t *out)
{
    memset(out, 0, sizeof(*out));
    out->agents = cf_broker_peers_count(self->peers[CF_BROKER_AGENTS]);
    out->servers = cf_broker_peers_count(self->peers[CF_BROKER_SERVERS]);
    out->listed = self->listed ? zhashx_size(self->listed) : 0;
    out->redis_up = self->sub ? cf_store_sub_ready(self->sub) : 0;
}

static void s_send_text(struct evhttp_request *req, int code, const char *reason, const char *text,
                        size_t len)
{
    struct evbuffer *body = evbuffer_new();
    if (!body) {
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    evbuffer_add(body, text, len);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4; charset=utf-8");
    evhttp_send_reply(req, code, reason, body);
    evbuffer_free(body);
}

/* GET /metrics: the counters; anything else 404 (or 405 for another method). */
static void s_on_request(struct evhttp_request *req, void *arg)
{
    cf_broker_t *self = arg;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    if (!path || strcmp(path, "/metrics") != 0) {
        evhttp_send_error(req, 404, "only /metrics here");
        return;
    }
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        evhttp_send_error(req, 405, "GET only");
        return;
    }
    cf_zap_stats_t z;
    if (cf_zap_stats(self->zap, &z) != CF_OK)
        memset(&z, 0, sizeof(z));
    cf_broker_gauges_t g;
    cf_broker_gauges(self, &g);
    char *buf = cf_mem_malloc(CF_BROKER_METRICS_MAX);
    size_t len = 0;
    cf_err_t rc =
        buf ? cf_broker_metrics_render(&self->stats, &g, &z, buf, CF_BROKER_METRICS_MAX, &len)
            : CF_ERR_NOMEM;
    if (rc == CF_OK)
        rc = cf_broker_tls_metrics(self->tls, buf, CF_BROKER_METRICS_MAX, &len);
    if (rc == CF_OK)
        s_send_text(req, 200, "OK", buf, len);
    else
        evhttp_send_error(req, 500, cf_err_name(rc));
    cf_mem_free(buf);
}

cf_err_t cf_broker_http_start(cf_broker_t *self, const char *bind, int port, cf_why_t *why)
{
    self->http = evhttp_new(self->base);
    if (!self->http)
        return CF_ERR_NOMEM;
    evhttp_set_allowed_methods(self->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_max_headers_size(self->http, 8192);
    evhttp_set_max_body_size(self->http, 0);
    evhttp_set_timeout(self->http, 10);
    evhttp_set_gencb(self->http, s_on_request, self);
    struct evhttp_bound_socket *bound =
        evhttp_bind_socket_with_handle(self->http, bind ? bind : "127.0.0.1", (ev_uint16_t) port);
    if (!bound)
        return cf_why(why, CF_ERR_IO, "metrics page: cannot listen on %s:%d",
                      bind ? bind : "127.0.0.1", port);
    self->metrics_port = port;
    return CF_OK;
}
