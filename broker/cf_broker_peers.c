/*  cf_broker_peers - the peers a broker holds on one ROUTER: identity -> connection facts  */
#include "cf_broker_peers.h"

#include <stdio.h>
#include <string.h>

#include "cf_mem.h"

#define S_MAX_PEERS (1024u * 1024u) /* hard cap, as the allow list's */

typedef struct {
    char id[CF_ALLOW_ID_MAX + 1]; /* identity (routing id == User-Id) */
    cf_zsock_peer_t peer;         /* facts of its latest message */
} s_entry_t;

struct cf_broker_peers {
    zhashx_t *by_id; /* id -> s_entry_t (owned) */
    zhashx_t *by_fd; /* descriptor as decimal text -> id (owned copy) */
    size_t max;      /* cap on peers held */
};

static void s_entry_free(void **item)
{
    cf_mem_free(*item);
    *item = NULL;
}

static void s_str_free(void **item)
{
    cf_mem_free(*item);
    *item = NULL;
}

cf_err_t cf_broker_peers_new(size_t max, cf_broker_peers_t **out)
{
    if (!out || max == 0 || max > S_MAX_PEERS)
        return CF_ERR_INVALID;
    *out = NULL;
    cf_broker_peers_t *self = cf_mem_calloc(1, sizeof(*self));
    if (!self)
        return CF_ERR_NOMEM;
    self->by_id = zhashx_new();
    self->by_fd = zhashx_new();
    if (!self->by_id || !self->by_fd) {
        cf_broker_peers_destroy(&self);
        return CF_ERR_NOMEM;
    }
    zhashx_set_destructor(self->by_id, s_entry_free);
    zhashx_set_destructor(self->by_fd, s_str_free);
    self->max = max;
    *out = self;
    return CF_OK;
}

void cf_broker_peers_destroy(cf_broker_peers_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_broker_peers_t *self = *self_p;
    zhashx_destroy(&self->by_id);
    zhashx_destroy(&self->by_fd);
    cf_mem_free(self);
    *self_p = NULL;
}

static void s_fd_key(int fd, char key[16])
{
    snprintf(key, 16, "%d", fd);
}

/* Drop the descriptor entry of fd if it names id. */
static void s_unmap_fd(cf_broker_peers_t *self, int fd, const char *id)
{
    if (fd < 0)
        return;
    char key[16];
    s_fd_key(fd, key);
    const char *held = zhashx_lookup(self->by_fd, key);
    if (held && strcmp(held, id) == 0)
        zhashx_delete(self->by_fd, key);
}

int cf_broker_peers_forget(cf_broker_peers_t *self, const char *id)
{
    if (!self || !id)
        return 0;
    s_entry_t *e = zhashx_lookup(self->by_id, id);
    if (!e)
        return 0;
    s_unmap_fd(self, e->peer.fd, id);
    zhashx_delete(self->by_id, id);
    return 1;
}

int cf_broker_peers_forget_fd(cf_broker_peers_t *self, int fd)
{
    if (!self || fd < 0)
        return 0;
    char key[16];
    s_fd_key(fd, key);
    const char *held = zhashx_lookup(self->by_fd, key);
    if (!held)
        return 0;
    char id[CF_ALLOW_ID_MAX + 1];
    snprintf(id, sizeof(id), "%s", held);
    return cf_broker_peers_forget(self, id);
}

/* Point descriptor fd at id; whoever was held on fd before has gone. */
static cf_err_t s_map_fd(cf_broker_peers_t *self, int fd, const char *id)
{
    if (fd < 0)
        return CF_OK;
    char key[16];
    s_fd_key(fd, key);
    const char *held = zhashx_lookup(self->by_fd, key);
    if (held && strcmp(held, id) == 0)
        return CF_OK;
    if (held)
        cf_broker_peers_forget_fd(self, fd);
    char *copy = cf_mem_strdup(id);
    if (!copy)
        return CF_ERR_NOMEM;
    if (zhashx_insert(self->by_fd, key, copy) != 0) {
        cf_mem_free(copy);
        return CF_ERR_NOMEM;
    }
    return CF_OK;
}

cf_err_t cf_broker_peers_learn(cf_broker_peers_t *self, const char *id, const cf_zsock_peer_t *peer,
                               int *is_new)
{
    if (is_new)
        *is_new = 0;
    if (!self || !id || !peer || !*id || strlen(id) > CF_ALLOW_ID_MAX)
        return CF_ERR_INVALID;
    s_entry_t *e = zhashx_lookup(self->by_id, id);
    if (e) {
        if (e->peer.fd != peer->fd) {
            s_unmap_fd(self, e->peer.fd, id);
            CF_TRY(s_map_fd(self, peer->fd, id));
        }
        e->peer = *peer;
        return CF_OK;
    }
    if (zhashx_size(self->by_id) >= self->max)
        return CF_ERR_TOOBIG;
    e = cf_mem_calloc(1, sizeof(*e));
    if (!e)
        return CF_ERR_NOMEM;
    snprintf(e->id, sizeof(e->id), "%s", id);
    e->peer = *peer;
    if (zhashx_insert(self->by_id, id, e) != 0) {
        cf_mem_free(e);
        return CF_ERR_NOMEM;
    }
    cf_err_t rc = s_map_fd(self, peer->fd, id);
    if (rc != CF_OK) {
        zhashx_delete(self->by_id, id);
        return rc;
    }
    if (is_new)
        *is_new = 1;
    return CF_OK;
}

const cf_zsock_peer_t *cf_broker_peers_find(const cf_broker_peers_t *self, const char *id)
{
    if (!self || !id)
        return NULL;
    const s_entry_t *e = zhashx_lookup(self->by_id, id);
    return e ? &e->peer : NULL;
}

size_t cf_broker_peers_count(const cf_broker_peers_t *self)
{
    return self ? zhashx_size(self->by_id) : 0;
}

void cf_broker_peers_ids_free(char ***ids_p)
{
    if (!ids_p || !*ids_p)
        return;
    for (char **p = *ids_p; *p; p++)
        cf_mem_free(*p);
    cf_mem_free(*ids_p);
    *ids_p = NULL;
}

cf_err_t cf_broker_peers_ids(const cf_broker_peers_t *self, char ***ids_out, size_t *n_out)
{
    if (!self || !ids_out || !n_out)
        return CF_ERR_INVALID;
    *ids_out = NULL;
    *n_out = 0;
    size_t n = zhashx_size(self->by_id);
    char **ids = cf_mem_calloc(n + 1, sizeof(char *));
    if (!ids)
        return CF_ERR_NOMEM;
    size_t i = 0;
    for (s_entry_t *e = zhashx_first(self->by_id); e && i < n; e = zhashx_next(self->by_id)) {
        ids[i] = cf_mem_strdup(e->id);
        if (!ids[i]) {
            cf_broker_peers_ids_free(&ids);
            return CF_ERR_NOMEM;
        }
        i++;
    }
    *ids_out = ids;
    *n_out = i;
    return CF_OK;
}
