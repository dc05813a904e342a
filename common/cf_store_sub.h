/*  cf_store_sub - asynchronous Redis pub/sub subscriber on libevent, resync after reconnects  */
#ifndef CF_STORE_SUB_H_INCLUDED
#define CF_STORE_SUB_H_INCLUDED

#include <stddef.h>

#include <event2/event.h>

#include "cf_err.h"
#include "cf_store_addr.h"

/* A subscriber lives on one libevent base, in that base's thread. Pub/sub loses messages
   while disconnected, so after every (re)connect — once every subscription is confirmed —
   it calls on_resync: the owner reloads its full state from Redis there (with its own
   cf_store_t), and on_message only delivers changes after that point. It reconnects for
   ever, with jittered back-off; in Sentinel mode it asks the Sentinels for the master
   (without blocking the loop), checks ROLE, and re-asks every cfg.master_check_ms. */
typedef struct cf_store_sub cf_store_sub_t;

#define CF_STORE_SUB_MAX_CHANNELS 64  /* channels plus patterns per subscriber */
#define CF_STORE_SUB_CHANNEL_MAX  256 /* bytes in a channel name or pattern */

/* A message on channel (channel_len bytes) with payload (len bytes, binary). Both are
   borrowed for the call only. Called from the event loop; must not destroy the sub. */
typedef void(cf_store_sub_msg_fn)(void *arg, const char *channel, size_t channel_len,
                                  const char *payload, size_t len);
/* Subscriptions are (again) in place: reload the full state now. Same rules as above. */
typedef void(cf_store_sub_resync_fn)(void *arg);

/* New subscriber on base (borrowed: it must outlive the sub) for cfg (checked and copied,
   passwords included). on_message and on_resync are required; arg is passed to both. No
   I/O until cf_store_sub_start. CF_ERR_INVALID (why says which), CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_store_sub_new(const cf_store_cfg_t *cfg, struct event_base *base,
                                      cf_store_sub_msg_fn *on_message,
                                      cf_store_sub_resync_fn *on_resync, void *arg,
                                      cf_store_sub_t **sub_out, cf_why_t *why);
/* Free everything, closing the connections; NULLs *self_p; safe to repeat. Not from
   inside on_message or on_resync. */
void cf_store_sub_destroy(cf_store_sub_t **self_p);

/* Add a channel (SUBSCRIBE) or a glob pattern (PSUBSCRIBE), before cf_store_sub_start
   only (CF_ERR_STATE after). Name: 1..CF_STORE_SUB_CHANNEL_MAX bytes, copied. CF_ERR_TOOBIG
   past CF_STORE_SUB_MAX_CHANNELS, CF_ERR_EXISTS for a repeat. */
CF_MUST_USE cf_err_t cf_store_sub_subscribe(cf_store_sub_t *self, const char *channel);
CF_MUST_USE cf_err_t cf_store_sub_psubscribe(cf_store_sub_t *self, const char *pattern);

/* Start connecting (returns at once; the loop does the rest). CF_ERR_STATE when already
   started or nothing to subscribe to. */
CF_MUST_USE cf_err_t cf_store_sub_start(cf_store_sub_t *self);

/* 1 while subscribed and resynced, 0 while (re)connecting. */
int cf_store_sub_ready(const cf_store_sub_t *self);
/* "host:port" of the server subscribed to, "" while not ready; borrowed. */
const char *cf_store_sub_server(const cf_store_sub_t *self);
/* How many times on_resync has been called. */
unsigned long cf_store_sub_resyncs(const cf_store_sub_t *self);
/* Why the last connection attempt or connection failed; borrowed. */
const cf_why_t *cf_store_sub_why(const cf_store_sub_t *self);

#endif
