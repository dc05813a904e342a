/*  cf_router - route table, path matching, access decisions and request dispatch  */
#include "cf_router_int.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "cf_log.h"
#include "cf_mem.h"

/* What a path must hold to match a route, found without walking its segments. */
typedef struct {
    size_t lit;  /* the pattern's bytes before its first ':' (all of them when it has none) */
    int literal; /* no params: the path matches only the whole pattern (lit bytes long) */
} s_key_t;

struct cf_router {
    cf_route_t *routes;              /* copy of the table */
    s_key_t *keys;                   /* per route: its literal prefix */
    size_t n;                        /* routes */
    cf_router_auth_fn *authenticate; /* may be NULL */
    void *app;                       /* handed to handlers */
    atomic_int allow_plain;          /* the migration switch, set from any thread */
    cf_router_done_fn *on_done;      /* may be NULL */
    int max_streams;                 /* open streaming replies allowed */
    atomic_int streams;              /* open streaming replies */
};

static const char *const s_methods[] = {"GET", "POST", "PUT", "DELETE", "PATCH"};
#define S_N_METHODS (sizeof(s_methods) / sizeof(s_methods[0]))

const char *cf_access_name(cf_access_t a)
{
    switch (a) {
    case CF_ACCESS_PUBLIC: return "public";
    case CF_ACCESS_AGENT: return "agent";
    case CF_ACCESS_VIEWER: return "viewer";
    case CF_ACCESS_ADMIN: return "admin";
    default: return "unknown";
    }
}

const char *cf_role_name(cf_role_t r)
{
    switch (r) {
    case CF_ROLE_NONE: return "none";
    case CF_ROLE_VIEWER: return "viewer";
    case CF_ROLE_ADMIN: return "admin";
    default: return "unknown";
    }
}

const char *cf_peer_kind_name(cf_peer_kind_t k)
{
    switch (k) {
    case CF_PEER_PLAIN: return "plain";
    case CF_PEER_NOCERT: return "none";
    case CF_PEER_AGENT: return "agent";
    case CF_PEER_CONSOLE: return "console";
    case CF_PEER_OTHER: return "other";
    default: return "unknown";
    }
}

cf_peer_kind_t cf_router_peer_kind(const cf_https_peer_t *peer)
{
    if (!peer || !peer->tls)
        return CF_PEER_PLAIN;
    if (!peer->cert)
        return CF_PEER_NOCERT;
    switch (peer->component) {
    case CF_COMPONENT_AGENT: return CF_PEER_AGENT;
    case CF_COMPONENT_CONSOLE: return CF_PEER_CONSOLE;
    default: return CF_PEER_OTHER;
    }
}

/* The whole policy. The plain listener and agent certificates never reach a session
   route; an agent route wants an agent certificate, or no certificate at all while the
   migration window (allow-plain) is open; a console certificate is not an agent's. */
cf_verdict_t cf_router_access(cf_access_t access, cf_peer_kind_t kind, int allow_plain,
                              cf_role_t role)
{
    int no_cert = kind == CF_PEER_PLAIN || kind == CF_PEER_NOCERT;
    switch (access) {
    case CF_ACCESS_PUBLIC: return kind == CF_PEER_PLAIN ? CF_VERDICT_FORBIDDEN : CF_VERDICT_ALLOW;
    case CF_ACCESS_AGENT:
        if (kind == CF_PEER_AGENT || (no_cert && allow_plain))
            return CF_VERDICT_ALLOW;
        return CF_VERDICT_FORBIDDEN;
    case CF_ACCESS_VIEWER:
    case CF_ACCESS_ADMIN:
        if (kind == CF_PEER_PLAIN || kind == CF_PEER_AGENT)
            return CF_VERDICT_FORBIDDEN;
        if (role != CF_ROLE_VIEWER && role != CF_ROLE_ADMIN)
            return CF_VERDICT_UNAUTHENTICATED;
        if (access == CF_ACCESS_ADMIN && role != CF_ROLE_ADMIN)
            return CF_VERDICT_FORBIDDEN;
        return CF_VERDICT_ALLOW;
    default: return CF_VERDICT_FORBIDDEN;
    }
}

int cf_router_wants_session(cf_access_t access, cf_peer_kind_t kind)
{
    return (access == CF_ACCESS_VIEWER || access == CF_ACCESS_ADMIN) && kind != CF_PEER_PLAIN &&
           kind != CF_PEER_AGENT;
}

static int s_method_index(const char *method)
{
    for (size_t i = 0; method && i < S_N_METHODS; i++) {
        if (strcmp(method, s_methods[i]) == 0)
            return (int) i;
    }
    return -1;
}

/* Check a pattern: "/seg/:param/...", segments of [A-Za-z0-9._~-] or ":name". */
static cf_err_t s_check_pattern(const char *p, cf_why_t *why)
{
    size_t segs = 0, params = 0;
    if (!p || p[0] != '/' || strlen(p) > CF_ROUTER_MAX_PATH)
        return cf_why(why, CF_ERR_INVALID, "pattern '%s' must start with '/'", p ? p : "(null)");
    while (*p == '/') {
        p++;
        const char *seg = p;
        size_t len = strcspn(p, "/");
        if (len == 0 || (seg[0] == ':' && len == 1))
            return cf_why(why, CF_ERR_INVALID, "empty segment or parameter name");
        for (size_t i = seg[0] == ':'; i < len; i++) {
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._~-",
                        seg[i]))
                return cf_why(why, CF_ERR_INVALID, "bad character in pattern");
        }
        params += seg[0] == ':';
        if (++segs > CF_ROUTER_MAX_SEGMENTS || params > CF_ROUTER_MAX_PARAMS)
            return cf_why(why, CF_ERR_TOOBIG, "too many segments or parameters");
        p += len;
    }
    return CF_OK;
}

static cf_err_t s_check_route(const cf_route_t *r, const cf_route_t *before, size_t n,
                              cf_why_t *why)
{
    if (s_method_index(r->method) < 0 || !r->handler || r->access > CF_ACCESS_ADMIN)
        return cf_why(why, CF_ERR_INVALID, "route %s %s: method, handler or access",
                      r->method ? r->method : "(null)", r->pattern ? r->pattern : "(null)");
    cf_err_t rc = s_check_pattern(r->pattern, why);
    if (rc != CF_OK)
        return cf_why(why, rc, "route %s %s: %s", r->method, r->pattern ? r->pattern : "",
                      why ? why->text : cf_err_str(rc));
    for (size_t i = 0; i < n; i++) {
        if (strcmp(before[i].method, r->method) == 0 && strcmp(before[i].pattern, r->pattern) == 0)
            return cf_why(why, CF_ERR_INVALID, "route %s %s given twice", r->method, r->pattern);
    }
    return CF_OK;
}

cf_err_t cf_router_new(const cf_route_t *routes, size_t n, const cf_router_cfg_t *cfg,
                       cf_router_t **out, cf_why_t *why)
{
    if (!out || (n > 0 && !routes))
        return CF_ERR_INVALID;
    if (n > CF_ROUTER_MAX_ROUTES)
        return cf_why(why, CF_ERR_TOOBIG, "%zu routes (at most %d)", n, CF_ROUTER_MAX_ROUTES);
    for (size_t i = 0; i < n; i++)
        CF_TRY(s_check_route(&routes[i], routes, i, why));
    cf_router_t *self = cf_mem_calloc(1, sizeof(*self));
    if (!self)
        return CF_ERR_NOMEM;
    self->routes = cf_mem_calloc(n ? n : 1, sizeof(cf_route_t));
    self->keys = cf_mem_calloc(n ? n : 1, sizeof(s_key_t));
    if (!self->routes || !self->keys) {
        cf_router_destroy(&self);
        return CF_ERR_NOMEM;
    }
    if (n > 0)
        memcpy(self->routes, routes, n * sizeof(cf_route_t));
    for (size_t i = 0; i < n; i++) {
        self->keys[i].lit = strcspn(routes[i].pattern, ":");
        self->keys[i].literal = routes[i].pattern[self->keys[i].lit] == '\0';
    }
    self->n = n;
    if (cfg) {
        self->authenticate = cfg->authenticate;
        self->app = cfg->app;
        self->on_done = cfg->on_done;
        atomic_store(&self->allow_plain, cfg->allow_plain ? 1 : 0);
    }
    self->max_streams = CF_ROUTER_DEFAULT_STREAMS;
    *out = self;
    return CF_OK;
}

void cf_router_destroy(cf_router_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_mem_free((*self_p)->routes);
    cf_mem_free((*self_p)->keys);
    cf_mem_free(*self_p);
    *self_p = NULL;
}

void cf_router_set_allow_plain(cf_router_t *self, int on)
{
    if (self)
        atomic_store(&self->allow_plain, on ? 1 : 0);
}

int cf_router_streams(const cf_router_t *self)
{
    return self ? atomic_load(&((cf_router_t *) self)->streams) : 0;
}

cf_err_t cf_router_set_max_streams(cf_router_t *self, int n)
{
    if (!self || n < 1 || n > CF_ROUTER_MAX_STREAMS)
        return CF_ERR_INVALID;
    self->max_streams = n;
    return CF_OK;
}

int cf_router_stream_open(cf_router_t *self)
{
    int n = atomic_fetch_add(&self->streams, 1);
    if (n < self->max_streams)
        return 1;
    atomic_fetch_sub(&self->streams, 1);
    return 0;
}

void cf_router_stream_close(cf_router_t *self)
{
    atomic_fetch_sub(&self->streams, 1);
}

int cf_router_allow_plain(const cf_router_t *self)
{
    return self ? atomic_load(&((cf_router_t *) self)->allow_plain) : 0;
}

/* Match one pattern against a path, collecting params into m. 1 on a match. */
static int s_match_pattern(const char *pat, const char *path, cf_router_match_t *m)
{
    m->n_params = 0;
    while (*pat == '/' && *path == '/') {
        pat++, path++;
        size_t plen = strcspn(pat, "/"), len = strcspn(path, "/");
        if (pat[0] == ':') {
            if (len == 0)
                return 0;
            m->params[m->n_params].name = pat + 1;
            m->params[m->n_params].name_len = plen - 1;
            m->params[m->n_params].value = path;
            m->params[m->n_params].value_len = len;
            m->n_params++;
        } else if (plen != len || memcmp(pat, path, len) != 0) {
            return 0;
        }
        pat += plen, path += len;
    }
    return *pat == '\0' && *path == '\0';
}

static void s_allow_add(cf_router_match_t *m, unsigned *seen, const char *method)
{
    int i = s_method_index(method);
    if (i < 0 || (*seen & (1u << i)))
        return;
    *seen |= 1u << i;
    size_t used = strlen(m->allow);
    snprintf(m->allow + used, sizeof(m->allow) - used, "%s%s", used ? ", " : "", method);
}

cf_err_t cf_router_match(const cf_router_t *self, const char *method, const char *path,
                         cf_router_match_t *m)
{
    if (!self || !method || !path || !m)
        return CF_ERR_INVALID;
    memset(m, 0, sizeof(*m));
    size_t plen = strlen(path);
    if (plen > CF_ROUTER_MAX_PATH)
        return CF_ERR_TOOBIG;
    const char *want = strcmp(method, "HEAD") == 0 ? "GET" : method;
    unsigned seen = 0;
    cf_router_match_t found = {0};
    for (size_t i = 0; i < self->n; i++) {
        const s_key_t *k = &self->keys[i];
        const char *pat = self->routes[i].pattern;
        cf_router_match_t tmp;
        tmp.n_params = 0;
        /* the lengths, then one compare of the literal prefix, rule out nearly every route */
        if (k->literal ? plen != k->lit || memcmp(pat, path, plen) != 0
                       : plen < k->lit || memcmp(pat, path, k->lit) != 0 ||
                             !s_match_pattern(pat, path, &tmp))
            continue;
        if (strcmp(self->routes[i].method, want) == 0) { /* the first in table order wins */
            found = tmp;
            found.route = &self->routes[i];
            break; /* allow is only needed for a 405: no need to look further */
        }
        s_allow_add(m, &seen, self->routes[i].method);
    }
    if (found.route) {
        memcpy(found.allow, m->allow, sizeof(found.allow));
        *m = found;
        return CF_OK;
    }
    return seen ? CF_ERR_STATE : CF_ERR_NOTFOUND;
}

static const char *s_method_name(enum evhttp_cmd_type cmd)
{
    switch (cmd) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_TRACE: return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    case EVHTTP_REQ_PATCH: return "PATCH";
    default: return "UNKNOWN";
    }
}

/* A header of ours (constant name, checked value); out of memory only loses the header. */
static void s_add_header(cf_req_t *req, const char *name, const char *value)
{
    evhttp_add_header(evhttp_request_get_output_headers(req->evreq), name, value);
}

/* Why a request was refused, for the 403 message. */
static const char *s_forbidden_text(cf_access_t access, cf_peer_kind_t kind)
{
    if (kind == CF_PEER_PLAIN)
        return access == CF_ACCESS_AGENT ? "communication without SSL is switched off"
                                         : "the plain listener serves agent routes only";
    if (access == CF_ACCESS_AGENT)
        return kind == CF_PEER_NOCERT ? "an agent certificate is required"
                                      : "agent routes need an agent certificate";
    if (kind == CF_PEER_AGENT)
        return "agent certificates reach agent routes only";
    return "the admin role is required";
}

/* Session (when it matters) and the access verdict; answers and returns 0 on refusal. */
static int s_access(const cf_router_t *self, cf_req_t *req, cf_access_t access)
{
    cf_peer_kind_t kind = cf_router_peer_kind(req->peer);
    cf_role_t role = CF_ROLE_NONE;
    int wants = cf_router_wants_session(access, kind); /* else no header lookup at all */
    const char *auth = wants ? cf_req_header(req, "Authorization") : NULL;
    char token[CF_ROUTER_MAX_TOKEN + 1];
    if (wants && self->authenticate && cf_router_bearer(auth, token, sizeof(token)) == CF_OK) {
        cf_err_t rc = self->authenticate(self->app, token, &req->session);
        cf_mem_wipe(token, sizeof(token));
        if (rc == CF_OK) {
            req->has_session = 1;
            role = req->session.role;
        } else if (rc != CF_ERR_NOTFOUND && rc != CF_ERR_EXPIRED) {
            cf_req_reply_error(req, 503, "unavailable", "sessions cannot be checked: %s",
                               cf_err_str(rc));
            return 0;
        }
    }
    switch (cf_router_access(access, kind, cf_router_allow_plain(self), role)) {
    case CF_VERDICT_ALLOW: return 1;
    case CF_VERDICT_UNAUTHENTICATED:
        s_add_header(req, "WWW-Authenticate", "Bearer");
        cf_req_reply_error(req, 401, "unauthenticated", "%s",
                           auth ? "the session is unknown or expired" : "log in first");
        return 0;
    default:
        cf_req_reply_error(req, 403, "forbidden", "%s", s_forbidden_text(access, kind));
        return 0;
    }
}

/* Body cap, content type and JSON; answers and returns 0 on refusal. */
static int s_body(cf_req_t *req, const cf_route_t *route)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req->evreq);
    size_t len = evbuffer_get_length(in);
    size_t cap = route->max_body ? route->max_body : CF_ROUTER_DEFAULT_BODY;
    if (len > cap) {
        cf_req_reply_error(req, 413, "too_large", "the body has %zu bytes, at most %zu", len, cap);
        return 0;
    }
    if (!(route->flags & CF_ROUTE_JSON) || len == 0)
        return 1;
    const char *ctype = cf_req_header(req, "Content-Type");
    if (!cf_router_is_json_type(ctype)) {
        cf_req_reply_error(req, 415, "unsupported_media_type", "send application/json, not %s",
                           ctype ? "that type" : "an untyped body");
        return 0;
    }
    const char *buf = (const char *) evbuffer_pullup(in, (ev_ssize_t) len);
    cf_why_t why = {{0}};
    if (!buf || cf_router_parse_json(buf, len, &req->json, &why) != CF_OK) {
        cf_req_reply_error(req, 400, "invalid_json", "%s", buf ? why.text : "out of memory");
        return 0;
    }
    return 1;
}

/* Decode the params; answers and returns 0 on refusal. */
static int s_params(cf_req_t *req, const cf_router_match_t *m)
{
    for (size_t i = 0; i < m->n_params; i++) {
        char raw[CF_ROUTER_MAX_PATH + 1];
        snprintf(raw, sizeof(raw), "%.*s", (int) m->params[i].value_len, m->params[i].value);
        size_t n = 0;
        req->params[i] = evhttp_uridecode(raw, 0, &n);
        int bad = !req->params[i] || strlen(req->params[i]) != n;
        for (size_t k = 0; !bad && k < n; k++)
            bad = (unsigned char) req->params[i][k] < 0x20 || req->params[i][k] == 0x7f;
        if (bad) {
            cf_req_reply_error(req, 400, "invalid_request", "path parameter '%.*s' is malformed",
                               (int) m->params[i].name_len, m->params[i].name);
            return 0;
        }
    }
    return 1;
}

static void s_dispatch(cf_router_t *self, cf_req_t *req, cf_router_match_t *m)
{
    const char *path = req->path;
    cf_err_t rc = path ? cf_router_match(self, req->method, path, m) : CF_ERR_NOTFOUND;
    if (rc == CF_ERR_STATE) {
        s_add_header(req, "Allow", m->allow);
        cf_req_reply_error(req, 405, "method_not_allowed", "%s is not allowed here; use %s",
                           req->method, m->allow);
        return;
    }
    if (rc == CF_ERR_TOOBIG) {
        cf_req_reply_error(req, 400, "invalid_request", "the path is too long");
        return;
    }
    if (rc != CF_OK) {
        cf_req_reply_error(req, 404, "not_found", "no such route");
        return;
    }
    req->match = m;
    if (!s_access(self, req, m->route->access) || !s_body(req, m->route) || !s_params(req, m))
        return;
    m->route->handler(req, self->app);
    if (!req->status && !req->deferred) {
        cf_log(CF_LOG_ERROR, "route %s %s answered nothing", m->route->method, m->route->pattern);
        cf_req_reply_error(req, 500, "internal", "the handler did not answer");
    }
}

void cf_router_serve(struct evhttp_request *evreq, const cf_https_peer_t *peer, void *arg)
{
    cf_router_t *self = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(evreq);
    cf_req_t req;
    cf_req_init(&req, evreq, peer, self->app, s_method_name(evhttp_request_get_command(evreq)),
                uri ? evhttp_uri_get_path(uri) : NULL);
    req.router = self;
    cf_router_match_t m;
    s_dispatch(self, &req, &m);
    int status = req.status, deferred = req.deferred;
    cf_req_done(&req);
    if (self->on_done && !deferred)
        self->on_done(self->app, status);
}

void cf_req_finish(cf_req_t *later)
{
    if (!later)
        return;
    if (!later->status)
        cf_req_reply_error(later, 500, "internal", "the request was not answered");
    cf_router_t *self = later->router;
    int status = later->status;
    cf_req_done(later);
    if (self && self->on_done)
        self->on_done(self->app, status);
    cf_mem_free(later);
}
