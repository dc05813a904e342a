/*  cf_req_stream - streaming replies: a chunked 200 fed by a timer on the worker's event loop,
    freed once on end, client close or server stop  */
#include "cf_router_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "cf_log.h"
#include "cf_mem.h"

#define S_READ_HIGH 16384 /* bytes a client may send while it streams before we stop reading */
#define S_PATH_LOG  120   /* path bytes kept for the closing log line */

struct cf_req_stream {
    struct evhttp_request *evreq;   /* the request (evhttp's; freed as described below) */
    struct evhttp_connection *conn; /* its connection */
    struct event *timer;            /* one-shot tick timer (owned) */
    struct evbuffer *chunk;         /* buffer handed to evhttp per chunk (owned) */
    cf_router_t *router;            /* counts open streams */
    cf_req_stream_cfg_t cfg;        /* copy: tick, on_free, arg, interval */
    int next_ms;                    /* delay before the next tick */
    int in_tick;                    /* tick running: free after it returns */
    int ended;                      /* end asked: free after the tick */
    int gone;                       /* the connection went away (evreq, conn NULL) */
    size_t bytes;                   /* bytes written */
    struct timespec start;          /* when it started (CLOCK_MONOTONIC) */
    char path[S_PATH_LOG + 1];      /* for the log line */
};

static double s_ms_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double) (now.tv_sec - t0->tv_sec) * 1e3 + (double) (now.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Release everything but the request (how that goes depends on who ends). */
static void s_free(cf_req_stream_t *s, const char *why)
{
    cf_log(CF_LOG_INFO, "stream path=\"%s\" end=%s bytes=%zu ms=%.0f", s->path, why, s->bytes,
           s_ms_since(&s->start));
    if (s->timer)
        event_free(s->timer);
    if (s->chunk)
        evbuffer_free(s->chunk);
    cf_router_stream_close(s->router);
    if (s->cfg.on_free)
        s->cfg.on_free(s->cfg.arg);
    cf_mem_free(s);
}

/* evhttp's close callback: the client went away or the server frees its connections. */
static void s_on_close(struct evhttp_connection *conn, void *arg)
{
    cf_req_stream_t *s = arg;
    evhttp_connection_set_closecb(conn, NULL, NULL); /* once */
    /* A failed connection (EOF, timeout) lets go of a request the handler has not finished
       (its connection becomes NULL): ending it frees it. When the server frees its
       connections, the request is still attached and goes with the connection. */
    if (!evhttp_request_get_connection(s->evreq))
        evhttp_send_reply_end(s->evreq);
    s->evreq = NULL;
    s->conn = NULL;
    s->gone = 1;
    if (!s->in_tick) /* (a write inside a tick does not close at once; if it ever did, the
                        tick's end frees the stream) */
        s_free(s, "closed");
}

static void s_arm(cf_req_stream_t *s, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    if (event_add(s->timer, &tv) != 0) {
        cf_log(CF_LOG_ERROR, "stream path=\"%s\" msg=\"timer failed\"", s->path);
        cf_req_stream_end(s);
    }
}

static void s_on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    cf_req_stream_t *s = arg;
    s->next_ms = s->cfg.interval_ms;
    s->in_tick = 1;
    s->cfg.tick(s, s->cfg.arg);
    s->in_tick = 0;
    if (s->gone)
        s_free(s, "closed");
    else if (s->ended)
        cf_req_stream_end(s);
    else
        s_arm(s, s->next_ms);
}

/* The checks of cf_req_stream_start, before anything is answered. */
static cf_err_t s_check(cf_req_t *req, const cf_req_stream_cfg_t *cfg,
                        struct evhttp_connection **conn)
{
    if (!req || !cfg || !cfg->tick || !cfg->content_type || req->status || cfg->interval_ms < 1 ||
        cfg->interval_ms > CF_REQ_STREAM_MAX_INTERVAL || !req->router ||
        cf_req_set_header(req, "Content-Type", cfg->content_type) != CF_OK)
        return CF_ERR_INVALID;
    *conn = evhttp_request_get_connection(req->evreq);
    return *conn ? CF_OK : CF_ERR_STATE;
}

/* The headers every stream sends. */
static void s_headers(cf_req_t *req)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req->evreq);
    evhttp_remove_header(h, "Cache-Control");
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_remove_header(h, "Connection");
    evhttp_add_header(h, "Connection", "close");
    evhttp_add_header(h, "X-Accel-Buffering", "no"); /* a proxy in front must not buffer */
}

cf_err_t cf_req_stream_start(cf_req_t *req, const cf_req_stream_cfg_t *cfg, cf_req_stream_t **out)
{
    struct evhttp_connection *conn = NULL;
    if (!out)
        return CF_ERR_INVALID;
    *out = NULL;
    CF_TRY(s_check(req, cfg, &conn));
    if (strcmp(req->method, "HEAD") == 0) {
        s_headers(req);
        cf_req_reply_text(req, 200, cfg->content_type, NULL, 0);
        if (cfg->on_free)
            cfg->on_free(cfg->arg);
        return CF_OK;
    }
    if (!cf_router_stream_open(req->router))
        return CF_ERR_TOOBIG;
    cf_req_stream_t *s = cf_mem_calloc(1, sizeof(*s));
    struct event_base *base = evhttp_connection_get_base(conn);
    if (s) {
        s->timer = event_new(base, -1, 0, s_on_timer, s);
        s->chunk = evbuffer_new();
    }
    if (!s || !s->timer || !s->chunk) {
        if (s && s->timer)
            event_free(s->timer);
        if (s && s->chunk)
            evbuffer_free(s->chunk);
        cf_mem_free(s);
        cf_router_stream_close(req->router);
        return CF_ERR_NOMEM;
    }
    s->evreq = req->evreq;
    s->conn = conn;
    s->router = req->router;
    s->cfg = *cfg;
    s->cfg.content_type = NULL; /* borrowed: not kept */
    clock_gettime(CLOCK_MONOTONIC, &s->start);
    snprintf(s->path, sizeof(s->path), "%s", req->path ? req->path : "-");
    s_headers(req);
    req->status = 200;
    evhttp_send_reply_start(req->evreq, 200, "OK");
    /* evhttp keeps reading while it writes, to see the client close: no read timeout
       (a watcher sends nothing), a write timeout, and a cap on what a client may send */
    struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);
    struct timeval wtv = {CF_REQ_STREAM_WRITE_TIMEOUT, 0};
    bufferevent_set_timeouts(bev, NULL, &wtv);
    bufferevent_setwatermark(bev, EV_READ, 0, S_READ_HIGH);
    evhttp_connection_set_closecb(conn, s_on_close, s);
    s_arm(s, cfg->interval_ms);
    *out = s;
    return CF_OK;
}

cf_err_t cf_req_stream_write(cf_req_stream_t *s, const void *buf, size_t len)
{
    if (!s || s->ended || !buf || len == 0)
        return CF_ERR_INVALID;
    if (s->gone)
        return CF_ERR_STATE;
    if (evbuffer_add(s->chunk, buf, len) != 0)
        return CF_ERR_NOMEM;
    evhttp_send_reply_chunk(s->evreq, s->chunk); /* moves the bytes out of chunk */
    s->bytes += len;
    return CF_OK;
}

size_t cf_req_stream_pending(const cf_req_stream_t *s)
{
    struct bufferevent *bev = s->gone ? NULL : evhttp_connection_get_bufferevent(s->conn);
    return bev ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
}

void cf_req_stream_next(cf_req_stream_t *s, int ms)
{
    if (s && ms >= 0 && ms <= CF_REQ_STREAM_MAX_INTERVAL)
        s->next_ms = ms;
}

void cf_req_stream_end(cf_req_stream_t *s)
{
    if (!s)
        return;
    s->ended = 1;
    if (s->in_tick)
        return; /* s_on_timer ends it once the tick returns */
    if (s->gone) {
        s_free(s, "closed");
        return;
    }
    evhttp_connection_set_closecb(s->conn, NULL, NULL);
    event_del(s->timer);
    evhttp_send_reply_end(s->evreq); /* the last chunk; "Connection: close" ends the link */
    s_free(s, "done");
}
