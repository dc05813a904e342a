/*  cf_client_stream - cf_client for streamed answers (server-sent events): one long GET whose
    body goes to a callback, an idle limit, Last-Event-ID, and switching the server  */
#ifndef CF_CLIENT_STREAM_H_INCLUDED
#define CF_CLIENT_STREAM_H_INCLUDED

#include <signal.h>
#include <stddef.h>

#include "cf_client.h"

#define CF_CLIENT_STREAM_MAX_IDLE 3600000 /* longest idle limit, ms */

/* How a stream ended, besides the reply. */
typedef enum {
    CF_CLIENT_STREAM_CLOSED = 0, /* the server ended the answer (or it was not a 200) */
    CF_CLIENT_STREAM_STOPPED,    /* the callback asked to stop (returned other than len) */
    CF_CLIENT_STREAM_IDLE,       /* nothing came for idle_ms */
    CF_CLIENT_STREAM_BROKEN,     /* the connection failed (reply->net says how) */
} cf_client_stream_end_t;

/* Takes len bytes of a 200 answer's body as they come; returns len to go on, any other
   value to stop. */
typedef size_t(cf_client_stream_fn)(void *arg, const char *data, size_t len);

/* GET path (under /api/v1) as a stream: "Accept: text/event-stream", the session token,
   "Last-Event-ID: last_id" when last_id is not NULL or "". A 200 answer's body goes to fn
   as it arrives, with no overall time limit, until the server ends it, fn stops it, no
   byte came for idle_ms (1..CF_CLIENT_STREAM_MAX_IDLE), or *stop (may be NULL) becomes
   non-zero (checked about once a second). Another status is answered in reply as
   cf_client_call does (its JSON error). reply must be clear and is filled in every case.
   *end_out says how it ended. Returns CF_OK when an HTTP answer began (a stream cut
   later is CF_OK with end BROKEN or IDLE), CF_ERR_IO when no answer came (reply->net),
   CF_ERR_INVALID (path, idle_ms), CF_ERR_NOMEM. The client's other settings are as before
   afterwards. */
CF_MUST_USE cf_err_t cf_client_stream(cf_client_t *self, const char *path, const char *last_id,
                                      int idle_ms, volatile sig_atomic_t *stop,
                                      cf_client_stream_fn *fn, void *arg, cf_client_reply_t *reply,
                                      cf_client_stream_end_t *end_out);

/* Talk to url (https://HOST[:PORT], as --server) from now on, keeping the session token
   (sessions are the deployment's: every server knows them). CF_ERR_INVALID / CF_ERR_TOOBIG
   with why. */
CF_MUST_USE cf_err_t cf_client_set_url(cf_client_t *self, const char *url, cf_why_t *why);

#endif
