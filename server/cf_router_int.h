/*  cf_router_int - the request context shared by cf_router.c (dispatch) and cf_req.c  */
#ifndef CF_ROUTER_INT_H_INCLUDED
#define CF_ROUTER_INT_H_INCLUDED

#include <time.h>

#include <event2/keyvalq_struct.h>

#include "cf_router.h"

#define CF_REQ_LOG_PATH 200 /* path bytes written to a log line */

/* One request while its handler runs. Lives on the dispatcher's stack: a streaming reply
   (cf_req_stream.c) keeps what it needs in its own object, not here. */
struct cf_req {
    struct evhttp_request *evreq;       /* evhttp's request (owned by evhttp) */
    const cf_https_peer_t *peer;        /* who is asking (borrowed) */
    void *app;                          /* the router's app */
    const char *method;                 /* method name */
    const char *path;                   /* raw path (evhttp's URI, borrowed) */
    const cf_router_match_t *match;     /* route and raw params, NULL before matching */
    char *params[CF_ROUTER_MAX_PARAMS]; /* decoded params (owned), in match order */
    struct evkeyvalq query;             /* decoded query, parsed on first use */
    int query_state;                    /* 0 not parsed, 1 parsed, -1 malformed */
    json_t *json;                       /* parsed body (owned), NULL when none */
    cf_session_t session;               /* the session, when has_session */
    int has_session;                    /* a session was resolved */
    struct timespec start;            /* when dispatch began (CLOCK_MONOTONIC); 0 if INFO was off */
    int status;                       /* status sent, 0 until a reply */
    struct cf_router *router;         /* the router serving it (stream count) */
    int deferred;                     /* cf_req_defer took it over: the handler returned */
    cf_peer_kind_t kind;              /* the peer's kind, for the log line */
    const char *addr;                 /* the peer's address ("-" when unknown), for the log */
    char addr_buf[CF_HTTPS_ADDR_MAX]; /* a deferred request's own copy of addr */
    char path_buf[CF_REQ_LOG_PATH + 1]; /* a deferred request's own copy of path (capped) */
};

/* The router's count of open streams (cf_req_stream.c): 1 when one more may open (and it
   was counted), 0 at the cap. */
int cf_router_stream_open(struct cf_router *self);
/* One stream closed. */
void cf_router_stream_close(struct cf_router *self);

/* Start a request context. */
void cf_req_init(cf_req_t *req, struct evhttp_request *evreq, const cf_https_peer_t *peer,
                 void *app, const char *method, const char *path);
/* Write the request's log line and free what it owns. */
void cf_req_done(cf_req_t *req);

#endif
