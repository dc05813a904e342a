/*  cf_broker_keys - the broker's identity list from Redis: full reloads, one key per event  */
#include "cf_broker_int.h"

#include <stdlib.h>
#include <string.h>

#include "cf_db_curve.h"
#include "cf_log.h"
#include "cf_mem.h"

#define S_RETRY_MS 1000 /* a failed reload is tried again after this */

static void s_key_free(void **item)
{
    cf_mem_free(*item);
    *item = NULL;
}

static int s_is_server(const char *identity)
{
    return strncmp(identity, CF_ALLOW_SERVER_PREFIX, strlen(CF_ALLOW_SERVER_PREFIX)) == 0;
}

void cf_broker_keys_clear_servers(cf_broker_t *self)
{
    for (size_t i = 0; i < self->n_servers; i++)
        cf_mem_free(self->servers[i]);
    self->n_servers = 0;
}

static int s_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The servers to try for agents' messages: the listed server identities, sorted. */
static void s_servers(cf_broker_t *self)
{
    cf_broker_keys_clear_servers(self);
    for (void *k = zhashx_first(self->listed); k; k = zhashx_next(self->listed)) {
        const char *id = zhashx_cursor(self->listed);
        if (!s_is_server(id))
            continue;
        if (self->n_servers == CF_BROKER_MAX_SERVERS) {
            cf_log(CF_LOG_WARN, "msg=\"too many servers listed; the rest are not used\" max=%d",
                   CF_BROKER_MAX_SERVERS);
            break;
        }
        char *copy = cf_mem_strdup(id);
        if (copy)
            self->servers[self->n_servers++] = copy;
    }
    qsort(self->servers, self->n_servers, sizeof(char *), s_cmp);
}

void cf_broker_keys_shut(cf_broker_t *self, const char *identity, const char *why)
{
    cf_broker_side_t side = s_is_server(identity) ? CF_BROKER_SERVERS : CF_BROKER_AGENTS;
    const cf_zsock_peer_t *held = cf_broker_peers_find(self->peers[side], identity);
    if (!held)
        return;
    cf_zsock_peer_t peer = *held;
    cf_broker_peers_forget(self->peers[side], identity);
    cf_why_t detail = {""};
    cf_err_t rc = cf_zsock_peer_shut(&peer, &detail);
    if (rc == CF_OK)
        self->stats.shut++;
    cf_log(CF_LOG_INFO, "msg=\"connection shut\" peer=%s addr=%s why=\"%s\" result=%s", identity,
           peer.remote, why, rc == CF_OK ? "shut" : cf_why_text(&detail, rc));
}

typedef struct {
    zhashx_t *map; /* identity -> key being filled */
    cf_err_t rc;   /* CF_ERR_NOMEM when a copy failed */
} s_mirror_t;

static int s_mirror(void *arg, const unsigned char key[CF_CURVE_KEY_LEN], cf_allow_kind_t kind,
                    const char *identity)
{
    (void) kind;
    s_mirror_t *m = arg;
    unsigned char *copy = cf_mem_malloc(CF_CURVE_KEY_LEN);
    if (!copy) {
        m->rc = CF_ERR_NOMEM;
        return 1;
    }
    memcpy(copy, key, CF_CURVE_KEY_LEN);
    zhashx_update(m->map, identity, copy);
    return 0;
}

/* Shut every held peer whose key is gone from map or is another key now. */
static void s_shut_changed(cf_broker_t *self, zhashx_t *map)
{
    for (int side = 0; side < CF_BROKER_SIDES_; side++) {
        char **ids = NULL;
        size_t n = 0;
        if (cf_broker_peers_ids(self->peers[side], &ids, &n) != CF_OK)
            continue;
        for (size_t i = 0; i < n; i++) {
            const unsigned char *was = zhashx_lookup(self->listed, ids[i]);
            const unsigned char *now = zhashx_lookup(map, ids[i]);
            if (!now)
                cf_broker_keys_shut(self, ids[i], "key removed (reload)");
            else if (was && memcmp(was, now, CF_CURVE_KEY_LEN) != 0)
                cf_broker_keys_shut(self, ids[i], "key replaced (reload)");
        }
        cf_broker_peers_ids_free(&ids);
    }
}

static void s_retry_later(cf_broker_t *self)
{
    self->stats.resync_failures++;
    struct timeval tv = {S_RETRY_MS / 1000, (S_RETRY_MS % 1000) * 1000};
    if (self->ev_retry)
        evtimer_add(self->ev_retry, &tv);
}

cf_err_t cf_broker_keys_reload(cf_broker_t *self)
{
    cf_allow_t *list = NULL;
    zhashx_t *map = NULL;
    size_t bad = 0;
    cf_err_t rc = cf_allow_new(self->max_keys, zhashx_size(self->listed) + 16, &list);
    if (rc == CF_OK)
        rc = cf_db_curve_load(self->store, list, &bad);
    if (rc == CF_OK) {
        map = zhashx_new();
        rc = map ? CF_OK : CF_ERR_NOMEM;
    }
    s_mirror_t m = {map, CF_OK};
    if (rc == CF_OK) {
        zhashx_set_destructor(map, s_key_free);
        cf_allow_each(list, s_mirror, &m);
        rc = m.rc;
    }
    if (rc != CF_OK) {
        cf_log(CF_LOG_WARN, "msg=\"key reload failed; retrying\" err=%s why=\"%s\"",
               cf_err_name(rc), cf_why_text(cf_store_why(self->store), rc));
        s_retry_later(self);
        goto out;
    }
    s_shut_changed(self, map);
    rc = cf_zap_replace(self->zap, &list);
    if (rc != CF_OK)
        goto out;
    zhashx_destroy(&self->listed);
    self->listed = map;
    map = NULL;
    s_servers(self);
    self->stats.resyncs++;
    cf_log(CF_LOG_INFO, "msg=\"keys loaded\" identities=%zu servers=%zu skipped=%zu",
           zhashx_size(self->listed), self->n_servers, bad);
out:
    cf_allow_destroy(&list);
    zhashx_destroy(&map);
    return rc;
}

/* name's key is pub now (kind, identity as listed). */
static void s_apply_put(cf_broker_t *self, cf_allow_kind_t kind, const char *name,
                        const char *identity, const unsigned char pub[CF_CURVE_KEY_LEN])
{
    const unsigned char *old = zhashx_lookup(self->listed, identity);
    if (old && memcmp(old, pub, CF_CURVE_KEY_LEN) == 0)
        return;
    if (old) {
        if (cf_zap_remove(self->zap, old) != CF_OK)
            cf_log(CF_LOG_DEBUG, "msg=\"old key was not on the ZAP list\" peer=%s", identity);
        cf_broker_keys_shut(self, identity, "key replaced");
    }
    unsigned char *copy = cf_mem_malloc(CF_CURVE_KEY_LEN);
    cf_why_t why = {""};
    cf_err_t rc = copy ? cf_zap_put(self->zap, pub, kind, name, &why) : CF_ERR_NOMEM;
    if (rc != CF_OK) {
        cf_mem_free(copy);
        zhashx_delete(self->listed, identity);
        cf_log(CF_LOG_ERROR, "msg=\"key not listed\" peer=%s err=%s why=\"%s\"", identity,
               cf_err_name(rc), cf_why_text(&why, rc));
        return;
    }
    memcpy(copy, pub, CF_CURVE_KEY_LEN);
    zhashx_update(self->listed, identity, copy);
    cf_log(CF_LOG_INFO, "msg=\"key listed\" peer=%s", identity);
}

/* identity has no key any more: refused at its next handshake, its messages dropped from
   now (it is not listed), its open connection shut. */
static void s_apply_remove(cf_broker_t *self, const char *identity)
{
    const unsigned char *old = zhashx_lookup(self->listed, identity);
    if (!old)
        return;
    if (cf_zap_remove(self->zap, old) != CF_OK)
        cf_log(CF_LOG_DEBUG, "msg=\"key was not on the ZAP list\" peer=%s", identity);
    zhashx_delete(self->listed, identity);
    cf_log(CF_LOG_INFO, "msg=\"key removed\" peer=%s", identity);
    cf_broker_keys_shut(self, identity, "key removed");
}

void cf_broker_keys_on_event(void *arg, const char *channel, size_t channel_len,
                             const char *payload, size_t len)
{
    (void) channel;
    (void) channel_len;
    cf_broker_t *self = arg;
    cf_allow_kind_t kind = 0;
    char name[CF_DB_CURVE_NAME_MAX + 1];
    cf_err_t rc = cf_db_curve_event_parse(payload, len, &kind, name);
    if (rc == CF_ERR_NOTFOUND)
        return; /* another kind of event on cf:events */
    if (rc != CF_OK) {
        cf_log(CF_LOG_WARN, "msg=\"bad key event\" err=%s len=%zu", cf_err_name(rc), len);
        return;
    }
    char identity[CF_ALLOW_ID_MAX + 1];
    snprintf(identity, sizeof(identity), "%s%s", kind == CF_ALLOW_SERVER ? "server:" : "", name);
    unsigned char pub[CF_CURVE_KEY_LEN];
    rc = cf_db_curve_get(self->store, kind, name, pub);
    if (rc == CF_OK)
        s_apply_put(self, kind, name, identity, pub);
    else if (rc == CF_ERR_NOTFOUND)
        s_apply_remove(self, identity);
    else {
        cf_log(CF_LOG_WARN, "msg=\"key read failed; reloading all\" peer=%s err=%s why=\"%s\"",
               identity, cf_err_name(rc), cf_why_text(cf_store_why(self->store), rc));
        s_retry_later(self);
        return;
    }
    self->stats.key_events++;
    if (kind == CF_ALLOW_SERVER)
        s_servers(self);
}

void cf_broker_keys_on_resync(void *arg)
{
    cf_broker_t *self = arg;
    if (cf_broker_keys_reload(self) != CF_OK)
        return; /* logged; retried by the timer */
}

void cf_broker_keys_on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    cf_broker_t *self = arg;
    /* while the subscriber is away from Redis, its resync on return reloads anyway */
    if (self->sub && !cf_store_sub_ready(self->sub))
        return;
    cf_broker_keys_on_resync(self);
}
