/*  cf_router - the API's route table, access classes, request context and JSON replies  */
#ifndef CF_ROUTER_H_INCLUDED
#define CF_ROUTER_H_INCLUDED

#include <stddef.h>
#include <time.h>

#include <event2/http.h>
#include <jansson.h>

#include "cf_err.h"
#include "cf_https.h"

#define CF_ROUTER_MAX_ROUTES      256         /* routes in one table */
#define CF_ROUTER_MAX_PARAMS      8           /* :params in one pattern */
#define CF_ROUTER_MAX_SEGMENTS    16          /* path segments in a pattern or a request path */
#define CF_ROUTER_MAX_PATH        1024        /* longest request path, bytes */
#define CF_ROUTER_DEFAULT_BODY    (64 * 1024) /* JSON body cap when a route sets none */
#define CF_ROUTER_JSON_DEPTH      32          /* deepest nesting of a JSON body */
#define CF_ROUTER_MAX_TOKEN       512         /* longest bearer token */
#define CF_ROUTER_USER_MAX        64          /* longest user name in a session, with NUL */
#define CF_ROUTER_DEFAULT_STREAMS 256         /* open streaming replies per router by default */
#define CF_ROUTER_MAX_STREAMS     100000      /* most one may configure */

/* Who may call a route (docs/server.md). */
typedef enum {
    CF_ACCESS_PUBLIC = 0, /* anyone that completed TLS (never the plain listener) */
    CF_ACCESS_AGENT,      /* an agent certificate, or no certificate while allow-plain is on */
    CF_ACCESS_VIEWER,     /* a viewer or admin session over TLS, not an agent certificate */
    CF_ACCESS_ADMIN,      /* an admin session over TLS, not an agent certificate */
} cf_access_t;

typedef enum { CF_ROLE_NONE = 0, CF_ROLE_VIEWER, CF_ROLE_ADMIN } cf_role_t;

const char *cf_access_name(cf_access_t a); /* "public", "agent", "viewer", "admin" */
const char *cf_role_name(cf_role_t r);     /* "none", "viewer", "admin" */

/* A console login session, filled by the app's authenticate callback. */
typedef struct {
    char user[CF_ROUTER_USER_MAX]; /* login name */
    cf_role_t role;                /* CF_ROLE_VIEWER or CF_ROLE_ADMIN */
    time_t expires;                /* unix seconds */
} cf_session_t;

typedef struct cf_req cf_req_t; /* one request, valid during its handler */

/* A route handler: runs on a worker thread and must answer with one cf_req_reply_* before
   it returns (the router answers 500 otherwise). */
typedef void(cf_route_fn)(cf_req_t *req, void *app);

#define CF_ROUTE_JSON                                                     \
    1u /* the body, when there is one, is JSON: 415 for another type, 400 \
          when it does not parse or is not an object */

typedef struct {
    const char *method;   /* "GET", "POST", "PUT", "DELETE" or "PATCH" (HEAD follows GET) */
    const char *pattern;  /* "/api/v1/agents/:id": literal segments and :name params */
    cf_access_t access;   /* who may call it */
    cf_route_fn *handler; /* required */
    unsigned flags;       /* CF_ROUTE_JSON */
    size_t max_body;      /* body cap (413 beyond); 0 = CF_ROUTER_DEFAULT_BODY */
} cf_route_t;

/* Resolve a bearer token to a session. CF_OK fills *out; CF_ERR_NOTFOUND or
   CF_ERR_EXPIRED mean no valid session (401); any other error means the session store
   could not answer (503 unavailable). Runs on a worker thread. */
typedef cf_err_t(cf_router_auth_fn)(void *app, const char *bearer_token, cf_session_t *out);

/* Told the status of every request once it is answered (0: never answered), on the worker
   thread: for counters. */
typedef void(cf_router_done_fn)(void *app, int status);

typedef struct {
    cf_router_auth_fn *authenticate; /* NULL: no sessions, so VIEWER/ADMIN always 401 */
    void *app;                       /* handed to handlers and authenticate */
    int allow_plain;                 /* initial allow-plain (the migration switch) */
    cf_router_done_fn *on_done;      /* optional */
} cf_router_cfg_t;

typedef struct cf_router cf_router_t; /* opaque */

/* A router over n routes (copied; their strings are borrowed and must outlive the
   router). Errors (why names the route): CF_ERR_INVALID (unknown method or access, bad
   pattern, missing handler, the same method and pattern twice), CF_ERR_TOOBIG (more
   than CF_ROUTER_MAX_ROUTES routes, segments or params), CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_router_new(const cf_route_t *routes, size_t n, const cf_router_cfg_t *cfg,
                                   cf_router_t **out, cf_why_t *why);
void cf_router_destroy(cf_router_t **self_p); /* NULLs *self_p; safe to repeat */

/* Streaming replies open now (any thread; atomic). */
int cf_router_streams(const cf_router_t *self);
/* How many streaming replies may be open at once (cf_req_stream_start answers
   CF_ERR_TOOBIG beyond): 1..CF_ROUTER_MAX_STREAMS, CF_ROUTER_DEFAULT_STREAMS until set.
   Set before serving. CF_ERR_INVALID out of range. */
CF_MUST_USE cf_err_t cf_router_set_max_streams(cf_router_t *self, int n);

/* The migration switch as the router sees it; any thread may set or read it (atomic). */
void cf_router_set_allow_plain(cf_router_t *self, int on);
int cf_router_allow_plain(const cf_router_t *self);

/* The cf_https request callback (arg = the router): match, access, body checks, handler,
   one log line. Every refusal is answered in the error shape of docs/API.md. */
void cf_router_serve(struct evhttp_request *req, const cf_https_peer_t *peer, void *arg);

/* --- The pieces of cf_router_serve, public so they can be tested one by one. --- */

/* What kind of client a peer is, for access decisions. */
typedef enum {
    CF_PEER_PLAIN = 0, /* over the plain listener */
    CF_PEER_NOCERT,    /* TLS, no client certificate */
    CF_PEER_AGENT,     /* TLS, an agent certificate */
    CF_PEER_CONSOLE,   /* TLS, a console certificate */
    CF_PEER_OTHER,     /* TLS, another certificate of our CA (server, unknown) */
} cf_peer_kind_t;
#define CF_PEER_KINDS 5

cf_peer_kind_t cf_router_peer_kind(const cf_https_peer_t *peer);
const char *cf_peer_kind_name(cf_peer_kind_t k); /* "plain", "none", "agent", ... */

typedef enum {
    CF_VERDICT_ALLOW = 0,       /* the handler runs */
    CF_VERDICT_UNAUTHENTICATED, /* 401: no valid session */
    CF_VERDICT_FORBIDDEN,       /* 403: wrong channel, certificate class or role */
} cf_verdict_t;

/* The access decision (docs/server.md, docs/https.md). role is the session's role, or
   CF_ROLE_NONE when there is no valid session. */
cf_verdict_t cf_router_access(cf_access_t access, cf_peer_kind_t kind, int allow_plain,
                              cf_role_t role);
/* 1 when the decision depends on a session, so authenticate is worth calling. */
int cf_router_wants_session(cf_access_t access, cf_peer_kind_t kind);

/* A route lookup. params point into the pattern (names) and the path (raw values). */
typedef struct {
    const cf_route_t *route; /* the route, NULL when none matched */
    size_t n_params;         /* params used */
    struct {
        const char *name;           /* in the pattern, after ':' */
        size_t name_len;            /* its length */
        const char *value;          /* in the path (still percent-encoded) */
        size_t value_len;           /* its length */
    } params[CF_ROUTER_MAX_PARAMS]; /* in pattern order */
    char allow[64];                 /* methods whose pattern matched, "GET, PUT": complete
                                       only on CF_ERR_STATE (for the 405) */
} cf_router_match_t;

/* Find the route for method and path (path without query). CF_OK; CF_ERR_NOTFOUND (no
   pattern matches: 404); CF_ERR_STATE (a pattern matches but not the method: 405,
   m->allow lists the methods); CF_ERR_TOOBIG (path over CF_ROUTER_MAX_PATH). */
CF_MUST_USE cf_err_t cf_router_match(const cf_router_t *self, const char *method, const char *path,
                                     cf_router_match_t *m);

/* The token of an "Authorization: Bearer <token>" value into buf (len bytes). CF_OK;
   CF_ERR_NOTFOUND (NULL or another scheme); CF_ERR_INVALID (empty or a character outside
   the RFC 6750 token68 set); CF_ERR_TOOBIG (longer than CF_ROUTER_MAX_TOKEN or buf). */
CF_MUST_USE cf_err_t cf_router_bearer(const char *authorization, char *buf, size_t len);
/* 1 when a Content-Type value is application/json (parameters allowed). */
int cf_router_is_json_type(const char *content_type);
/* Parse a JSON body: an object, no duplicate keys, nesting at most CF_ROUTER_JSON_DEPTH.
 *out is the caller's (json_decref). CF_ERR_INVALID with why saying where. */
CF_MUST_USE cf_err_t cf_router_parse_json(const char *buf, size_t len, json_t **out, cf_why_t *why);

/* --- The request, for handlers. Strings are borrowed until the handler returns. --- */

const char *cf_req_method(const cf_req_t *req); /* "GET", ... */
const char *cf_req_path(const cf_req_t *req);   /* raw path, no query */
/* A :param of the route, percent-decoded; NULL when the pattern has none of that name. */
const char *cf_req_param(const cf_req_t *req, const char *name);
/* A query parameter, decoded; NULL when absent or the query string is malformed. */
const char *cf_req_query(cf_req_t *req, const char *name);
json_t *cf_req_json(const cf_req_t *req);                         /* borrowed; NULL: no body */
const cf_https_peer_t *cf_req_peer(const cf_req_t *req);          /* who is asking */
const cf_session_t *cf_req_session(const cf_req_t *req);          /* NULL: no session */
const char *cf_req_header(const cf_req_t *req, const char *name); /* request header */
void *cf_req_app(const cf_req_t *req);                            /* the router's app */

/* Add a response header (e.g. Retry-After). CF_ERR_INVALID for a name or value holding
   CR, LF or NUL, or after the reply. */
CF_MUST_USE cf_err_t cf_req_set_header(cf_req_t *req, const char *name, const char *value);
/* Answer with JSON (body is stolen, even on failure; NULL sends {}). */
void cf_req_reply_json(cf_req_t *req, int status, json_t *body);
/* Answer {"error":{"code":code,"message":...}} (docs/API.md). */
void cf_req_reply_error(cf_req_t *req, int status, const char *code, const char *fmt, ...)
    CF_PRINTF(4, 5);
/* Answer with any body (len bytes, copied) and content type. */
void cf_req_reply_text(cf_req_t *req, int status, const char *content_type, const void *body,
                       size_t len);

/* --- Answers given later (the handler waits on something asynchronous). --- */

/* Take the request over from its handler, which then returns without answering; answer it
   later on the same worker thread with cf_req_reply_* on the request returned, then
   cf_req_finish it (exactly once, answered or not). The returned request keeps the app,
   the method, the JSON body and what the log line needs (its own copies of the peer's
   kind and address and of the path, capped); cf_req_peer, cf_req_param, cf_req_query and
   cf_req_header are not available on it (NULL): copy what the answer needs before. If the
   client goes away meanwhile, the answer is dropped and the request freed by the reply.
   NULL when out of memory: then answer req now. */
cf_req_t *cf_req_defer(cf_req_t *req);
/* Write the log line of a deferred request, count it (on_done) and free it; answers 500
   first when nothing was answered. NULL is ignored. */
void cf_req_finish(cf_req_t *later);

/* --- Streaming replies (cf_req_stream.c): a 200 whose body goes on after the handler
   returned, chunk by chunk (HTTP/1.1 chunked; "Connection: close"), e.g. server-sent
   events. The stream lives on the worker's event loop: a timer calls tick on that thread
   (never block there: borrow a Redis connection for one call, give it back), tick writes
   and may end the stream. on_free runs exactly once, on the worker thread, when the stream
   is over for whatever reason: cf_req_stream_end, the client went away (evhttp's close
   callback), or the server stops (its connections are freed); after it the stream pointer
   is gone. While a stream is open, the connection has no read timeout (only a write
   timeout of CF_REQ_STREAM_WRITE_TIMEOUT s: a client that stops reading is dropped). --- */

#define CF_REQ_STREAM_WRITE_TIMEOUT 30      /* seconds a write may wait for the client */
#define CF_REQ_STREAM_MAX_INTERVAL  3600000 /* longest tick interval, ms */

typedef struct cf_req_stream cf_req_stream_t; /* opaque; owned by its connection */

/* Called on the worker thread at each tick; may write, set the next tick, or end. */
typedef void(cf_req_stream_tick_fn)(cf_req_stream_t *stream, void *arg);
/* Called once when the stream is over; frees what arg holds. */
typedef void(cf_req_stream_free_fn)(void *arg);

typedef struct {
    const char *content_type;       /* "text/event-stream", ...; required */
    int interval_ms;                /* ticks every interval_ms (1..CF_REQ_STREAM_MAX_INTERVAL)
                                       unless a tick asks another delay (cf_req_stream_next) */
    cf_req_stream_tick_fn *tick;    /* required */
    cf_req_stream_free_fn *on_free; /* optional */
    void *arg;                      /* handed to both */
} cf_req_stream_cfg_t;

/* Answer req with 200 and the headers now and keep its connection for a stream; the first
   tick comes after cfg->interval_ms. On CF_OK the stream owns cfg->arg (on_free will run)
   and *out is the stream, valid until on_free; a HEAD request is answered with the
   headers alone, *out is NULL and on_free has run already. Errors, with nothing answered
   (the handler answers) and arg still the caller's: CF_ERR_INVALID (cfg, or req answered
   already), CF_ERR_TOOBIG (the router's max_streams are open: answer 503),
   CF_ERR_STATE (the connection is gone), CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_req_stream_start(cf_req_t *req, const cf_req_stream_cfg_t *cfg,
                                         cf_req_stream_t **out);
/* Queue len bytes (copied) as one chunk. CF_ERR_INVALID (ended, or len 0), CF_ERR_STATE
   (the client went away during this tick: end the stream), CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_req_stream_write(cf_req_stream_t *s, const void *buf, size_t len);
/* Bytes written and not yet taken by the client's socket: hold back while it grows. */
size_t cf_req_stream_pending(const cf_req_stream_t *s);
/* From a tick: the next tick in ms (0..CF_REQ_STREAM_MAX_INTERVAL) instead of the interval. */
void cf_req_stream_next(cf_req_stream_t *s, int ms);
/* Finish the reply (the last chunk; the connection closes once it is sent) and free the
   stream (on_free runs before this returns, or right after the tick that called it). */
void cf_req_stream_end(cf_req_stream_t *s);

#endif
