/*  cf_req - one API request: params, query, JSON body, replies in the API's shape, log line  */
#include "cf_router_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>

#include "cf_https_mem.h"
#include "cf_log.h"
#include "cf_mem.h"

#define S_LOG_PATH CF_REQ_LOG_PATH

void cf_req_init(cf_req_t *req, struct evhttp_request *evreq, const cf_https_peer_t *peer,
                 void *app, const char *method, const char *path)
{
    memset(req, 0, sizeof(*req));
    req->evreq = evreq;
    req->peer = peer;
    req->app = app;
    req->method = method;
    req->path = path;
    req->query.tqh_first = NULL; /* TAILQ_INIT, spelled out: keyvalq_struct.h has no macros */
    req->query.tqh_last = &req->query.tqh_first;
    req->kind = cf_router_peer_kind(peer);
    req->addr = peer && peer->addr ? peer->addr : "-";
    if (cf_log_level() <= CF_LOG_INFO) /* only the log line uses it */
        clock_gettime(CLOCK_MONOTONIC, &req->start);
}

/* The path for a log line: printable ASCII only, capped. */
static void s_log_path(const char *path, char *buf, size_t len)
{
    size_t i = 0;
    for (; path && path[i] && i + 1 < len && i < S_LOG_PATH; i++)
        buf[i] = isprint((unsigned char) path[i]) && path[i] != '"' ? path[i] : '?';
    buf[i] = '\0';
}

cf_req_t *cf_req_defer(cf_req_t *req)
{
    cf_req_t *later = cf_mem_malloc(sizeof(*later));
    if (!later)
        return NULL;
    *later = *req;
    later->peer = NULL;
    later->match = NULL;
    memset(later->params, 0, sizeof(later->params)); /* freed with req */
    later->query.tqh_first = NULL;                   /* req's list stays req's */
    later->query.tqh_last = &later->query.tqh_first;
    later->query_state = -1;
    /* own copies, capped; the path is made printable when the log line is written */
    size_t n = strnlen(req->addr, sizeof(later->addr_buf) - 1);
    memcpy(later->addr_buf, req->addr, n);
    later->addr_buf[n] = '\0';
    later->addr = later->addr_buf;
    n = req->path ? strnlen(req->path, sizeof(later->path_buf) - 1) : 0;
    if (n)
        memcpy(later->path_buf, req->path, n);
    later->path_buf[n] = '\0';
    later->path = later->path_buf;
    later->deferred = 1;
    req->json = NULL; /* moved */
    cf_mem_wipe(&req->session, sizeof(req->session));
    req->has_session = 0;
    req->deferred = 1;
    return later;
}

void cf_req_done(cf_req_t *req)
{
    /* a handed-over one logs when it finishes; nothing is formatted when INFO is off */
    if (!(req->deferred && req->status == 0) && cf_log_level() <= CF_LOG_INFO) {
        struct timespec end;
        clock_gettime(CLOCK_MONOTONIC, &end);
        double ms = (double) (end.tv_sec - req->start.tv_sec) * 1e3 +
                    (double) (end.tv_nsec - req->start.tv_nsec) / 1e6;
        if (req->start.tv_sec == 0 && req->start.tv_nsec == 0)
            ms = 0; /* INFO was off when it began */
        char path[S_LOG_PATH + 1];
        s_log_path(req->path, path, sizeof(path));
        cf_log(CF_LOG_INFO, "req method=%s path=\"%s\" status=%d ms=%.3f peer=%s addr=%s%s%s",
               req->method, path, req->status, ms, cf_peer_kind_name(req->kind), req->addr,
               req->has_session ? " user=" : "", req->has_session ? req->session.user : "");
    }
    for (size_t i = 0; i < CF_ROUTER_MAX_PARAMS && req->params[i]; i++)
        cf_https_mem_free_event(req->params[i]); /* evhttp_uridecode's allocation */
    evhttp_clear_headers(&req->query);
    json_decref(req->json);
    cf_mem_wipe(&req->session, sizeof(req->session));
}

const char *cf_req_method(const cf_req_t *req)
{
    return req->method;
}

const char *cf_req_path(const cf_req_t *req)
{
    return req->path;
}

const char *cf_req_param(const cf_req_t *req, const char *name)
{
    if (!req->match || !name)
        return NULL;
    size_t len = strlen(name);
    for (size_t i = 0; i < req->match->n_params; i++) {
        if (req->match->params[i].name_len == len &&
            memcmp(req->match->params[i].name, name, len) == 0)
            return req->params[i];
    }
    return NULL;
}

const char *cf_req_query(cf_req_t *req, const char *name)
{
    if (req->query_state == 0) {
        const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req->evreq);
        const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
        req->query_state = !q || evhttp_parse_query_str(q, &req->query) == 0 ? 1 : -1;
    }
    return req->query_state == 1 && name ? evhttp_find_header(&req->query, name) : NULL;
}

json_t *cf_req_json(const cf_req_t *req)
{
    return req->json;
}

const cf_https_peer_t *cf_req_peer(const cf_req_t *req)
{
    return req->peer;
}

const cf_session_t *cf_req_session(const cf_req_t *req)
{
    return req->has_session ? &req->session : NULL;
}

const char *cf_req_header(const cf_req_t *req, const char *name)
{
    if (req->deferred)
        return NULL;
    return name ? evhttp_find_header(evhttp_request_get_input_headers(req->evreq), name) : NULL;
}

void *cf_req_app(const cf_req_t *req)
{
    return req->app;
}

static int s_header_safe(const char *s)
{
    return s && s[strcspn(s, "\r\n")] == '\0';
}

cf_err_t cf_req_set_header(cf_req_t *req, const char *name, const char *value)
{
    if (req->status || !s_header_safe(name) || !s_header_safe(value) || !*name)
        return CF_ERR_INVALID;
    struct evkeyvalq *out = evhttp_request_get_output_headers(req->evreq);
    evhttp_remove_header(out, name);
    return evhttp_add_header(out, name, value) == 0 ? CF_OK : CF_ERR_NOMEM;
}

static const char *s_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

/* The Date header's value for the current second, formatted once a second per worker
   thread: left to evhttp it costs a gmtime and a printf on every answer. NULL if the clock
   cannot be read (evhttp then adds its own). */
static const char *s_date(void)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    static _Thread_local time_t s_sec = -1;
    static _Thread_local char s_text[80]; /* 29 used; room for any int the compiler sees */
    time_t now = time(NULL);
    if (now == s_sec)
        return s_text;
    struct tm tm;
    if (now == (time_t) -1 || !gmtime_r(&now, &tm) || tm.tm_wday < 0 || tm.tm_wday > 6 ||
        tm.tm_mon < 0 || tm.tm_mon > 11)
        return NULL;
    snprintf(s_text, sizeof(s_text), "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
             tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    s_sec = now;
    return s_text;
}

/* Date and Content-Length, which evhttp would otherwise format with a printf each on every
   answer. No length where no body may follow (1xx, 204, 304); a HEAD answer carries the
   length its GET would have and no body (evhttp would send the body, unframed). */
static void s_add_framing(struct evkeyvalq *out, int status, size_t len)
{
    const char *date = s_date();
    if (date)
        evhttp_add_header(out, "Date", date);
    if (status < 200 || status == 204 || status == 304)
        return;
    char text[24];
    char *p = text + sizeof(text);
    *--p = '\0';
    do {
        *--p = (char) ('0' + len % 10);
        len /= 10;
    } while (len);
    evhttp_add_header(out, "Content-Length", p);
}

void cf_req_reply_text(cf_req_t *req, int status, const char *content_type, const void *body,
                       size_t len)
{
    if (req->status) {
        cf_log(CF_LOG_ERROR, "req path=%s answered twice", req->path ? req->path : "-");
        return;
    }
    struct evkeyvalq *out = evhttp_request_get_output_headers(req->evreq);
    /* the request's own output buffer: no buffer made, filled and moved per answer */
    struct evbuffer *buf = evhttp_request_get_output_buffer(req->evreq);
    evhttp_remove_header(out, "Content-Type");
    evhttp_add_header(out, "Content-Type", content_type ? content_type : "text/plain");
    evhttp_add_header(out, "Cache-Control", "no-store");
    int head = evhttp_request_get_command(req->evreq) == EVHTTP_REQ_HEAD;
    if (!buf || (len && !head && evbuffer_add(buf, body, len) != 0)) {
        if (buf)
            evbuffer_drain(buf, evbuffer_get_length(buf));
        status = 500; /* out of memory: an empty 500 still answers */
        len = 0;
    }
    s_add_framing(out, status, head ? len : buf ? evbuffer_get_length(buf) : 0);
    req->status = status;
    struct evhttp_connection *evcon = evhttp_request_get_connection(req->evreq);
    evhttp_send_reply(req->evreq, status, s_reason(status), NULL);
    cf_https_flush(evcon); /* written in this loop turn, one record (evreq is not used after) */
}

void cf_req_reply_json(cf_req_t *req, int status, json_t *body)
{
    json_t *owned = body ? body : json_object();
    char *text = owned ? json_dumps(owned, JSON_COMPACT) : NULL;
    json_decref(owned);
    if (!text) {
        cf_req_reply_text(req, 500, "application/json", "{}", 2);
        return;
    }
    cf_req_reply_text(req, status, "application/json", text, strlen(text));
    json_malloc_t jmalloc = NULL;
    json_free_t jfree = NULL;
    json_get_alloc_funcs(&jmalloc, &jfree); /* json_dumps allocates with jansson's allocator */
    jfree(text);
}

void cf_req_reply_error(cf_req_t *req, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *err =
        json_pack("{s:{s:s,s:s}}", "error", "code", code ? code : "internal", "message", msg);
    cf_req_reply_json(req, status, err);
}

cf_err_t cf_router_bearer(const char *authorization, char *buf, size_t len)
{
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return CF_ERR_NOTFOUND;
    const char *t = authorization + 7;
    while (*t == ' ')
        t++;
    size_t n = strlen(t);
    if (n == 0)
        return CF_ERR_INVALID;
    if (n > CF_ROUTER_MAX_TOKEN || n >= len)
        return CF_ERR_TOOBIG;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char) t[i]) && !strchr("-._~+/=", t[i]))
            return CF_ERR_INVALID;
    }
    memcpy(buf, t, n + 1);
    return CF_OK;
}

int cf_router_is_json_type(const char *ct)
{
    if (!ct)
        return 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, "application/json", 16) != 0)
        return 0;
    ct += 16;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

/* 1 when buf holds at most limit opening brackets ('{' and '['): then it cannot nest
   deeper than limit, and s_depth need not walk it byte by byte (memchr does the walking:
   a check-in's body has one). */
static int s_brackets_at_most(const char *buf, size_t len, size_t limit)
{
    static const char open[2] = {'{', '['};
    size_t n = 0;
    for (int k = 0; k < 2; k++) {
        const char *p = buf, *end = buf + len;
        while (p < end && (p = memchr(p, open[k], (size_t) (end - p))) != NULL) {
            if (++n > limit)
                return 0;
            p++;
        }
    }
    return 1;
}

/* Nesting depth of JSON text, strings skipped; stops counting past limit. */
static size_t s_depth(const char *buf, size_t len, size_t limit)
{
    size_t depth = 0, max = 0;
    int in_str = 0;
    for (size_t i = 0; i < len && max <= limit; i++) {
        char c = buf[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            max = ++depth > max ? depth : max;
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        }
    }
    return max;
}

cf_err_t cf_router_parse_json(const char *buf, size_t len, json_t **out, cf_why_t *why)
{
    if (!buf || !out)
        return CF_ERR_INVALID;
    *out = NULL;
    if (!s_brackets_at_most(buf, len, CF_ROUTER_JSON_DEPTH) &&
        s_depth(buf, len, CF_ROUTER_JSON_DEPTH) > CF_ROUTER_JSON_DEPTH)
        return cf_why(why, CF_ERR_INVALID, "nested deeper than %d", CF_ROUTER_JSON_DEPTH);
    json_error_t err;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        return cf_why(why, CF_ERR_INVALID, "line %d: %s", err.line, err.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return cf_why(why, CF_ERR_INVALID, "the body must be a JSON object");
    }
    *out = root;
    return CF_OK;
}
