/*  cf_sse - a parser of server-sent events (text/event-stream) fed in pieces, with caps  */
#ifndef CF_SSE_H_INCLUDED
#define CF_SSE_H_INCLUDED

#include <stddef.h>

#include "cf_err.h"

#define CF_SSE_MAX_EVENT   (1024 * 1024) /* largest max_event a parser accepts, bytes */
#define CF_SSE_MAX_ID      128           /* longest event id kept, bytes (without the NUL) */
#define CF_SSE_MAX_TYPE    64            /* longest event type, bytes (without the NUL) */
#define CF_SSE_RETRY_UNSET -1            /* cf_sse_retry before any valid retry: field */

/* One dispatched event; every pointer is borrowed for the callback. */
typedef struct {
    const char *type; /* the event: field, "message" when none was given */
    const char *data; /* the data: lines joined by "\n" (no trailing one), NUL-terminated */
    size_t data_len;  /* bytes in data */
    const char *id;   /* the last event id seen so far (this event's or an earlier one), "" */
} cf_sse_event_t;

/* Called once per complete event (a blank line after at least one data: field). A return
   other than CF_OK stops cf_sse_feed, which returns it. */
typedef cf_err_t(cf_sse_fn)(void *arg, const cf_sse_event_t *ev);

typedef struct cf_sse cf_sse_t; /* opaque */

/* A parser calling fn(arg, ...) per event. max_event (1..CF_SSE_MAX_EVENT) caps one line
   and one event's data, bytes. CF_ERR_INVALID (no fn, bad cap), CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_sse_new(size_t max_event, cf_sse_fn *fn, void *arg, cf_sse_t **out);
void cf_sse_destroy(cf_sse_t **self_p); /* NULLs *self_p; safe to repeat */

/* Feed len bytes of the stream (any split: a line or a CRLF may straddle two calls).
   Lines end with LF, CR or CRLF (the WHATWG rules): "field: value" (one space after the
   colon dropped), ":comment" ignored, unknown fields ignored, an id holding NUL ignored,
   retry: digits only. A leading UTF-8 BOM is skipped. Errors: CF_ERR_TOOBIG (a line or an
   event's data over max_event, an event type or id over its cap: the parser is then
   unusable until cf_sse_reset), CF_ERR_NOMEM, or what fn returned. */
CF_MUST_USE cf_err_t cf_sse_feed(cf_sse_t *self, const char *buf, size_t len);

/* Forget a partial line and event (a new connection), keeping the last event id and
   retry; a new stream may start with a BOM again. */
void cf_sse_reset(cf_sse_t *self);
/* The last event id (borrowed, "" when none): what Last-Event-ID resumes from. */
const char *cf_sse_last_id(const cf_sse_t *self);
/* The last valid retry: value, milliseconds, or CF_SSE_RETRY_UNSET. */
long cf_sse_retry(const cf_sse_t *self);

#endif
