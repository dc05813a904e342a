/*  cf_store_ev - libevent glue for hiredis async contexts, with a cap on unparsed bytes  */
#ifndef CF_STORE_EV_H_INCLUDED
#define CF_STORE_EV_H_INCLUDED

#include <event2/event.h>
#include <hiredis/async.h>

#include "cf_err.h"
#include "cf_store_reply.h"

/* Called from a libevent callback (never inside hiredis) when the reader of ac holds more
   unparsed bytes than caps allow; reading has stopped, the owner should free ac. */
typedef void(cf_store_ev_over_fn)(void *arg, redisAsyncContext *ac);

/* Attach ac to base, as hiredis's adapters/libevent.h does, and install the capped reply
   builders of caps (borrowed: it must outlive ac). Before each read the unparsed bytes are
   checked (the stock adapter has no hook for that: a bulk string announced as 500 MB would
   be buffered whole before any builder runs). Freed with ac. CF_ERR_NOMEM, CF_ERR_STATE
   when ac already has an event loop attached. */
CF_MUST_USE cf_err_t cf_store_ev_attach(redisAsyncContext *ac, struct event_base *base,
                                        cf_store_caps_t *caps, cf_store_ev_over_fn *on_over,
                                        void *arg);

#endif
