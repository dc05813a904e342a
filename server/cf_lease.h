/*  cf_lease - a server's hold on one Redis lease (renewal, sweep, rollout waves): taken or
    kept at every tick, given up at a clean stop, every change of hands logged  */
#ifndef CF_LEASE_H_INCLUDED
#define CF_LEASE_H_INCLUDED

#include "cf_store.h"

/* A value embedded in its holder (no allocation); fields are read-only outside cf_lease.c. */
typedef struct {
    const char *key;  /* the lease's Redis key (docs/REDIS.md), borrowed, static */
    const char *name; /* short name for the logs: "renewal", "sweep", "wave" */
    const char *role; /* what the holder does, for the log: "renews certificates" */
    long ttl_ms;      /* lease lifetime unless kept by the next tick */
    int held;         /* 1 when we held it at the last cf_lease_hold */
} cf_lease_t;

/* Fill *self (not held yet). key, name and role must outlive it (string literals). */
void cf_lease_init(cf_lease_t *self, const char *key, const char *name, const char *role,
                   long ttl_ms);
/* Take the lease or keep it for ttl_ms more, as owner (the process's instance id); 1 when
   held. Logs "<name> lease taken: this server <role>" when it comes to us and "<name> lease
   lost" when it goes; a Redis error counts as not held (another server may take over). */
int cf_lease_hold(cf_lease_t *self, cf_store_t *store, const char *owner);
/* Give it up if we hold it, so another server takes over at once; a failure is logged (the
   lease then lapses by itself). Not held afterwards. */
void cf_lease_drop(cf_lease_t *self, cf_store_t *store, const char *owner);

#endif
