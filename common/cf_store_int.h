/*  cf_store_int - internals shared by cf_store.c, cf_store_conn.c and cf_store_script.c  */
#ifndef CF_STORE_INT_H_INCLUDED
#define CF_STORE_INT_H_INCLUDED

#include <stdint.h>

#include "cf_store.h"

struct cf_store {
    cf_store_cfg_t cfg;                 /* copy; its password pointers point at the fields below */
    char *password;                     /* owned, wiped on destroy; NULL = none */
    char *sentinel_password;            /* owned, wiped on destroy; NULL = none */
    redisContext *ctx;                  /* the connection, NULL while disconnected */
    cf_store_caps_t caps;               /* reply limits, installed on every reader we create */
    cf_store_endpoint_t current;        /* server of ctx */
    char server[CF_STORE_ENDPOINT_STR]; /* current as text, "" while disconnected */
    cf_why_t why;                       /* last failure */
    size_t sentinel_next;               /* Sentinel to ask first (the last one that answered) */
    int64_t last_check_ms;              /* monotonic time of the last Sentinel master check */
    unsigned long connects;             /* successful connections so far */
    int down_logged;                    /* "unavailable" logged since the last success */
    int drop_logged;                    /* "disconnected" logged since the last success */
    cf_store_script_t *lease_renew;     /* compare-and-PEXPIRE */
    cf_store_script_t *lease_release;   /* compare-and-DEL */
};

/* Make self->ctx usable: drop a connection the server closed, re-check the master in
   Sentinel mode when due, and (re)connect with bounded, jittered retries. */
CF_MUST_USE cf_err_t cf_store_conn_ensure(cf_store_t *self);
/* Sentinel mode, connected: ask every Sentinel now whether the master is still the server
   we are connected to and no failover of it is under way. 1 when one names another master
   (the connection is dropped) or leads a failover (the connection is kept: the old master
   keeps serving until it is demoted); why then names that Sentinel and what it said. Else 0. */
int cf_store_conn_master_unsettled(cf_store_t *self);
/* Close the connection (if any) and log once why it was dropped. */
void cf_store_conn_drop(cf_store_t *self, const char *reason);
/* Read one reply from ctx under the caps: CF_ERR_IO (transport), CF_ERR_TOOBIG (cap),
   CF_ERR_CORRUPT (protocol), CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_store_conn_read(cf_store_t *self, redisContext *ctx,
                                        redisReply **reply_out);
/* Write out everything hiredis has buffered for ctx: CF_ERR_IO on failure. */
CF_MUST_USE cf_err_t cf_store_conn_flush(cf_store_t *self, redisContext *ctx);
/* Monotonic milliseconds. */
int64_t cf_store_now_ms(void);

/* Create the lease scripts (called by cf_store_new). */
CF_MUST_USE cf_err_t cf_store_lease_init(cf_store_t *self);

#endif
