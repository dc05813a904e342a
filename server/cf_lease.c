/*  cf_lease - a server's hold on one Redis lease  */
#include "cf_lease.h"

#include "cf_log.h"

void cf_lease_init(cf_lease_t *self, const char *key, const char *name, const char *role,
                   long ttl_ms)
{
    self->key = key;
    self->name = name;
    self->role = role;
    self->ttl_ms = ttl_ms;
    self->held = 0;
}

int cf_lease_hold(cf_lease_t *self, cf_store_t *store, const char *owner)
{
    int got = 0;
    cf_err_t rc = cf_store_lease_acquire(store, self->key, owner, self->ttl_ms, &got);
    if (rc != CF_OK || !got) {
        if (self->held)
            cf_log(CF_LOG_INFO, "msg=\"%s lease lost\" err=%s", self->name,
                   rc == CF_OK ? "held-by-another" : cf_err_name(rc));
        self->held = 0;
        return 0;
    }
    if (!self->held)
        cf_log(CF_LOG_INFO, "msg=\"%s lease taken: this server %s\"", self->name, self->role);
    self->held = 1;
    return 1;
}

void cf_lease_drop(cf_lease_t *self, cf_store_t *store, const char *owner)
{
    if (!self->held)
        return;
    int released = 0;
    cf_err_t rc = cf_store_lease_release(store, self->key, owner, &released);
    if (rc != CF_OK)
        cf_log(CF_LOG_WARN, "msg=\"cannot release the %s lease; it lapses by itself\" err=%s",
               self->name, cf_err_name(rc));
    self->held = 0;
}
