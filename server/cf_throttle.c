/*  cf_throttle - the failed-login throttle  */
#include "cf_throttle.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cf_auth.h"
#include "cf_mem.h"

#define S_MICRO 1000000u /* one token in cf_bucket_t units */
#define S_ALL   2        /* client classes: with a console certificate or not */

typedef struct {
    char key[CF_THROTTLE_KEY]; /* what the bucket counts; "" = a free slot */
    cf_bucket_t bucket;        /* failed attempts it still allows */
    int warned;                /* 1 once it refused, until an attempt passes it again */
} s_slot_t;

/* The limits of one kind of bucket. */
typedef struct {
    double rate;     /* tokens per second */
    unsigned burst;  /* bucket size */
    size_t n;        /* table size */
    const char *tag; /* cf_throttle_refusal_t.limit */
} s_limit_t;

static const s_limit_t s_limits[CF_THROTTLE_KINDS] = {
    {1.0 / 60, 5, CF_THROTTLE_SLOTS, "user"},  /* 5, then one a minute */
    {1.0 / 10, 20, CF_THROTTLE_SLOTS, "addr"}, /* 20, then one each 10 s */
    {4.0, 40, S_ALL, "all"},                   /* 40, then ~4 scrypt runs a second */
};

struct cf_throttle {
    pthread_mutex_t lock;              /* guards the tables; held for microseconds */
    s_slot_t users[CF_THROTTLE_SLOTS]; /* CF_THROTTLE_USER */
    s_slot_t addrs[CF_THROTTLE_SLOTS]; /* CF_THROTTLE_ADDR */
    s_slot_t all[S_ALL];               /* CF_THROTTLE_ALL */
};

cf_throttle_t *cf_throttle_new(void)
{
    cf_throttle_t *self = cf_mem_calloc(1, sizeof(*self));
    if (self && pthread_mutex_init(&self->lock, NULL) != 0) {
        cf_mem_free(self);
        self = NULL;
    }
    return self;
}

void cf_throttle_destroy(cf_throttle_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pthread_mutex_destroy(&(*self_p)->lock);
    cf_mem_free(*self_p);
    *self_p = NULL;
}

static s_slot_t *s_table(cf_throttle_t *self, int kind)
{
    switch (kind) {
    case CF_THROTTLE_USER: return self->users;
    case CF_THROTTLE_ADDR: return self->addrs;
    default: return self->all;
    }
}

/* The address a throttle counts: IPv6 cut to its /64, an IPv4-mapped one as IPv4. */
static cf_err_t s_addr_key(const char *addr, char *out, size_t len)
{
    unsigned char a6[16];
    char text[INET6_ADDRSTRLEN];
    if (addr && inet_pton(AF_INET6, addr, a6) == 1) {
        int mapped = memcmp(a6, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0;
        if (!mapped)
            memset(a6 + 8, 0, 8);
        if (inet_ntop(mapped ? AF_INET : AF_INET6, mapped ? a6 + 12 : a6, text, sizeof(text)))
            addr = text;
    }
    int n = snprintf(out, len, "a:%s", addr ? addr : "-");
    return n < 0 || (size_t) n >= len ? CF_ERR_TOOBIG : CF_OK;
}

cf_err_t cf_throttle_attempt(cf_throttle_attempt_t *out, int console, const char *addr,
                             const char *user)
{
    CF_ASSERT(out);
    memset(out, 0, sizeof(*out));
    if (!user || !*user)
        return CF_ERR_INVALID;
    if (strnlen(user, CF_THROTTLE_USER_MAX + 1) > CF_THROTTLE_USER_MAX)
        return CF_ERR_TOOBIG;
    char class = console ? 'c' : 'n';
    snprintf(out->keys[CF_THROTTLE_USER], CF_THROTTLE_KEY, "%c:%s", class, user);
    snprintf(out->keys[CF_THROTTLE_ALL], CF_THROTTLE_KEY, "%c", class);
    cf_err_t rc = s_addr_key(addr, out->keys[CF_THROTTLE_ADDR], CF_THROTTLE_KEY);
    if (rc != CF_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

/* 1 when the slot holds nothing worth keeping: free, or its bucket has refilled. */
static int s_idle(const s_slot_t *s, int64_t now)
{
    const cf_bucket_t *b = &s->bucket;
    if (!s->key[0] || b->level >= b->cap)
        return 1;
    uint64_t elapsed = now > b->last_ms ? (uint64_t) (now - b->last_ms) : 0;
    return elapsed > (b->cap - b->level) / b->per_ms;
}

/* The slot of key in the table of kind, made if need be. Under the lock. */
static s_slot_t *s_slot(cf_throttle_t *self, int kind, const char *key, int64_t now)
{
    const s_limit_t *l = &s_limits[kind];
    s_slot_t *slots = s_table(self, kind), *victim = NULL;
    for (size_t i = 0; i < l->n; i++) {
        s_slot_t *s = &slots[i];
        if (s->key[0] && strcmp(s->key, key) == 0)
            return s;
        if (!victim || (!s_idle(victim, now) &&
                        (s_idle(s, now) || s->bucket.last_ms < victim->bucket.last_ms)))
            victim = s;
    }
    memset(victim, 0, sizeof(*victim));
    snprintf(victim->key, sizeof(victim->key), "%s", key);
    cf_err_t rc = cf_bucket_init(&victim->bucket, l->rate, l->burst, now);
    CF_ASSERT(rc == CF_OK); /* the rates and bursts above are within cf_bucket's range */
    return victim;
}

static void s_give(cf_bucket_t *b)
{
    b->level = b->level + S_MICRO > b->cap ? b->cap : b->level + S_MICRO;
}

int cf_throttle_take(cf_throttle_t *self, const cf_throttle_attempt_t *a, int64_t now_ms,
                     cf_throttle_refusal_t *r)
{
    CF_ASSERT(self && a && a->keys[CF_THROTTLE_ALL][0]); /* made by cf_throttle_attempt */
    cf_throttle_refusal_t why = {0, 0, NULL};
    s_slot_t *taken[CF_THROTTLE_KINDS] = {NULL};
    int ok = 1;
    pthread_mutex_lock(&self->lock);
    for (int k = 0; k < CF_THROTTLE_KINDS; k++) {
        s_slot_t *s = s_slot(self, k, a->keys[k], now_ms);
        int64_t wait = 0;
        if (cf_bucket_take(&s->bucket, now_ms, &wait)) {
            taken[k] = s;
            continue;
        }
        ok = 0;
        why.wait_ms = wait > why.wait_ms ? wait : why.wait_ms;
        why.limit = why.limit ? why.limit : s_limits[k].tag;
        why.first |= !s->warned;
        s->warned = 1;
    }
    for (int k = 0; k < CF_THROTTLE_KINDS; k++) {
        if (taken[k] && !ok)
            s_give(&taken[k]->bucket); /* refused: nothing kept taken */
        else if (taken[k])
            taken[k]->warned = 0;
    }
    pthread_mutex_unlock(&self->lock);
    if (r)
        *r = why;
    return ok;
}

void cf_throttle_refund(cf_throttle_t *self, const cf_throttle_attempt_t *a)
{
    CF_ASSERT(self && a);
    pthread_mutex_lock(&self->lock);
    for (int k = 0; k < CF_THROTTLE_KINDS; k++) {
        s_slot_t *slots = s_table(self, k);
        for (size_t i = 0; a->keys[k][0] && i < s_limits[k].n; i++) {
            if (strcmp(slots[i].key, a->keys[k]) == 0) {
                s_give(&slots[i].bucket);
                break;
            }
        }
    }
    pthread_mutex_unlock(&self->lock);
}
