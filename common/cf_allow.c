/*  cf_allow - the ZAP allow list: CURVE public key -> identity and kind, one hash lookup  */
#include "cf_allow.h"

#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "cf_issue.h"
#include "cf_mem.h"

#define S_MIN_SLOTS 64u /* smallest table */
/* Grow when more than 7/10 of the slots are used: linear probing stays short (about 2
   probes for a hit, 6 for a miss on average) at a third of the memory of a half-full table */
#define S_LOAD_NUM 7u
#define S_LOAD_DEN 10u

typedef struct {
    unsigned char key[CF_CURVE_KEY_LEN]; /* the public key */
    uint64_t hash;                       /* its keyed hash, kept for growing and removing */
    char *id;                            /* owned identity; NULL marks an empty slot */
    cf_allow_kind_t kind;                /* agent or server */
} s_slot_t;

struct cf_allow {
    s_slot_t *slots;                               /* power-of-two table */
    size_t mask;                                   /* slot count - 1 */
    size_t count;                                  /* keys listed */
    size_t max_keys;                               /* cap on count */
    unsigned char hkey[crypto_shorthash_KEYBYTES]; /* random SipHash key */
};

static uint64_t s_hash(const cf_allow_t *self, const unsigned char *key)
{
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, key, CF_CURVE_KEY_LEN, self->hkey);
    uint64_t h;
    memcpy(&h, out, sizeof(h));
    return h;
}

/* Slots needed so that n keys stay under the load factor. */
static size_t s_slots_for(size_t n)
{
    size_t slots = S_MIN_SLOTS;
    while (n * S_LOAD_DEN > slots * S_LOAD_NUM)
        slots *= 2;
    return slots;
}

cf_err_t cf_allow_new(size_t max_keys, size_t expect_keys, cf_allow_t **out)
{
    if (!out)
        return CF_ERR_INVALID;
    *out = NULL;
    if (max_keys == 0)
        max_keys = CF_ALLOW_MAX_KEYS;
    if (max_keys > CF_ALLOW_MAX_KEYS)
        return CF_ERR_TOOBIG;
    if (sodium_init() < 0)
        return CF_ERR_CRYPTO;
    if (expect_keys > max_keys)
        expect_keys = max_keys;
    cf_allow_t *self = cf_mem_calloc(1, sizeof(*self));
    size_t slots = s_slots_for(expect_keys);
    if (self)
        self->slots = cf_mem_calloc(slots, sizeof(s_slot_t));
    if (!self || !self->slots) {
        cf_mem_free(self);
        return CF_ERR_NOMEM;
    }
    self->mask = slots - 1;
    self->max_keys = max_keys;
    randombytes_buf(self->hkey, sizeof(self->hkey));
    *out = self;
    return CF_OK;
}

void cf_allow_destroy(cf_allow_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_allow_t *self = *self_p;
    for (size_t i = 0; i <= self->mask; i++)
        cf_mem_free(self->slots[i].id);
    cf_mem_free(self->slots);
    cf_mem_free(self);
    *self_p = NULL;
}

const char *cf_allow_kind_name(cf_allow_kind_t kind)
{
    switch (kind) {
    case CF_ALLOW_AGENT: return "agent";
    case CF_ALLOW_SERVER: return "server";
    default: return "unknown";
    }
}

cf_err_t cf_allow_check_name(cf_allow_kind_t kind, const char *name, cf_why_t *why)
{
    if (!name)
        return CF_ERR_INVALID;
    if (kind == CF_ALLOW_AGENT) {
        if (cf_issue_check_agent_id(name) != CF_OK)
            return cf_why(why, CF_ERR_INVALID,
                          "an agent id is 1..63 characters of a-z, 0-9, '.', '_' and '-', "
                          "starting with a letter or digit");
        return CF_OK;
    }
    if (kind != CF_ALLOW_SERVER)
        return cf_why(why, CF_ERR_INVALID, "unknown key kind %d", (int) kind);
    size_t n = strnlen(name, CF_ALLOW_NAME_MAX + 1);
    if (n == 0 || n > CF_ALLOW_NAME_MAX)
        return cf_why(why, CF_ERR_INVALID, "a server alias is 1..%d bytes", CF_ALLOW_NAME_MAX);
    for (size_t i = 0; i < n; i++)
        if (name[i] <= ' ' || name[i] > '~')
            return cf_why(why, CF_ERR_INVALID,
                          "a server alias is printable ASCII without spaces (byte %zu)", i + 1);
    return CF_OK;
}

/* The slot holding key, or the empty slot where it would go. */
static size_t s_probe(const cf_allow_t *self, const unsigned char *key, uint64_t hash)
{
    size_t i = (size_t) hash & self->mask;
    while (self->slots[i].id &&
           (self->slots[i].hash != hash || memcmp(self->slots[i].key, key, CF_CURVE_KEY_LEN)))
        i = (i + 1) & self->mask;
    return i;
}

static cf_err_t s_grow(cf_allow_t *self)
{
    size_t slots = (self->mask + 1) * 2;
    s_slot_t *fresh = cf_mem_calloc(slots, sizeof(s_slot_t));
    if (!fresh)
        return CF_ERR_NOMEM;
    s_slot_t *old = self->slots;
    size_t old_slots = self->mask + 1;
    self->slots = fresh;
    self->mask = slots - 1;
    for (size_t i = 0; i < old_slots; i++) {
        if (!old[i].id)
            continue;
        size_t j = (size_t) old[i].hash & self->mask;
        while (self->slots[j].id)
            j = (j + 1) & self->mask;
        self->slots[j] = old[i];
    }
    cf_mem_free(old);
    return CF_OK;
}

/* The identity for kind and name, owned by the caller. */
static char *s_identity(cf_allow_kind_t kind, const char *name)
{
    if (kind == CF_ALLOW_AGENT)
        return cf_mem_strdup(name);
    size_t plen = strlen(CF_ALLOW_SERVER_PREFIX);
    size_t nlen = strlen(name);
    char *id = cf_mem_malloc(plen + nlen + 1);
    if (id) {
        memcpy(id, CF_ALLOW_SERVER_PREFIX, plen);
        memcpy(id + plen, name, nlen + 1);
    }
    return id;
}

cf_err_t cf_allow_put(cf_allow_t *self, const unsigned char key[CF_CURVE_KEY_LEN],
                      cf_allow_kind_t kind, const char *name, cf_why_t *why)
{
    if (!self || !key)
        return CF_ERR_INVALID;
    CF_TRY(cf_allow_check_name(kind, name, why));
    uint64_t hash = s_hash(self, key);
    size_t i = s_probe(self, key, hash);
    int fresh = self->slots[i].id == NULL;
    if (fresh && self->count == self->max_keys)
        return cf_why(why, CF_ERR_TOOBIG, "the allow list is full (%zu keys)", self->max_keys);
    char *id = s_identity(kind, name);
    if (!id)
        return CF_ERR_NOMEM;
    if (fresh && (self->count + 1) * S_LOAD_DEN > (self->mask + 1) * S_LOAD_NUM) {
        if (s_grow(self) != CF_OK) {
            cf_mem_free(id);
            return CF_ERR_NOMEM;
        }
        i = s_probe(self, key, hash);
    }
    s_slot_t *slot = &self->slots[i];
    cf_mem_free(slot->id);
    memcpy(slot->key, key, CF_CURVE_KEY_LEN);
    slot->hash = hash;
    slot->id = id;
    slot->kind = kind;
    self->count += fresh;
    return CF_OK;
}

/* 1 when an entry whose home is `home` may not sit at `at` once slot `hole` is empty:
   walking from home to at (cyclically) passes the hole, so lookups would stop there. */
static int s_must_move(size_t home, size_t hole, size_t at)
{
    if (hole <= at)
        return home <= hole || home > at;
    return home <= hole && home > at;
}

cf_err_t cf_allow_remove(cf_allow_t *self, const unsigned char key[CF_CURVE_KEY_LEN])
{
    if (!self || !key)
        return CF_ERR_INVALID;
    size_t hole = s_probe(self, key, s_hash(self, key));
    if (!self->slots[hole].id)
        return CF_ERR_NOTFOUND;
    cf_mem_free(self->slots[hole].id);
    memset(&self->slots[hole], 0, sizeof(s_slot_t));
    self->count--;
    /* backward-shift deletion (no tombstones): pull later members of the run into the hole */
    for (size_t at = (hole + 1) & self->mask; self->slots[at].id; at = (at + 1) & self->mask) {
        size_t home = (size_t) self->slots[at].hash & self->mask;
        if (!s_must_move(home, hole, at))
            continue;
        self->slots[hole] = self->slots[at];
        memset(&self->slots[at], 0, sizeof(s_slot_t));
        hole = at;
    }
    return CF_OK;
}

const char *cf_allow_find(const cf_allow_t *self, const unsigned char key[CF_CURVE_KEY_LEN],
                          cf_allow_kind_t *kind_out)
{
    if (kind_out)
        *kind_out = 0;
    if (!self || !key)
        return NULL;
    const s_slot_t *slot = &self->slots[s_probe(self, key, s_hash(self, key))];
    if (!slot->id)
        return NULL;
    if (kind_out)
        *kind_out = slot->kind;
    return slot->id;
}

size_t cf_allow_count(const cf_allow_t *self)
{
    return self ? self->count : 0;
}

size_t cf_allow_each(const cf_allow_t *self, cf_allow_each_fn *fn, void *arg)
{
    if (!self || !fn)
        return 0;
    size_t seen = 0;
    for (size_t i = 0; i <= self->mask; i++) {
        const s_slot_t *slot = &self->slots[i];
        if (!slot->id)
            continue;
        seen++;
        if (fn(arg, slot->key, slot->kind, slot->id) != 0)
            break;
    }
    return seen;
}
