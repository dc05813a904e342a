/*  cf_link_retry - agents a broker answered "offline" for: their open jobs go out again a
    few times, in case the agent was between two connections  */
#include "cf_link_retry.h"

#include <czmq.h>
#include <sodium.h>
#include <string.h>

#include "cf_mem.h"

#define S_LINGER_MS 600000 /* a retry that got no answer at all is forgotten after this */

static const int64_t s_delay_ms[CF_LINK_RETRY_TRIES] = {5000, 30000, 120000};

/* One agent waiting. */
typedef struct {
    int64_t due;   /* ms: send its open jobs again then */
    size_t broker; /* the broker that answered "offline" */
    int tries;     /* retries made and answered "offline" again */
    int fired;     /* the retry at due has been made */
} s_entry_t;

struct cf_link_retry {
    zhashx_t *agents; /* agent id -> s_entry_t (owned) */
    size_t max;       /* agents held at most */
    int64_t next_due; /* earliest retry or forget, INT64_MAX: none */
};

static void s_entry_free(void **item)
{
    cf_mem_free(*item);
    *item = NULL;
}

cf_err_t cf_link_retry_new(size_t max, cf_link_retry_t **out)
{
    *out = NULL;
    cf_link_retry_t *self = cf_mem_calloc(1, sizeof(*self));
    if (!self)
        return CF_ERR_NOMEM;
    self->agents = zhashx_new();
    if (!self->agents) {
        cf_mem_free(self);
        return CF_ERR_NOMEM;
    }
    zhashx_set_destructor(self->agents, s_entry_free);
    self->max = max ? max : CF_LINK_RETRY_AGENTS;
    self->next_due = INT64_MAX;
    *out = self;
    return CF_OK;
}

void cf_link_retry_destroy(cf_link_retry_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy(&(*self_p)->agents);
    cf_mem_free(*self_p);
    *self_p = NULL;
}

/* Schedule e's retry number e->tries from now_ms. */
static void s_schedule(cf_link_retry_t *self, s_entry_t *e, int64_t now_ms)
{
    int64_t d = s_delay_ms[e->tries];
    e->due = now_ms + d + (int64_t) randombytes_uniform((uint32_t) (d / 4) + 1);
    e->fired = 0;
    if (e->due < self->next_due)
        self->next_due = e->due;
}

int cf_link_retry_offline(cf_link_retry_t *self, const char *agent, size_t broker, int64_t now_ms)
{
    if (!self || !agent || !*agent)
        return 0;
    s_entry_t *e = zhashx_lookup(self->agents, agent);
    if (!e) {
        if (zhashx_size(self->agents) >= self->max)
            return 0;
        e = cf_mem_calloc(1, sizeof(*e));
        if (!e)
            return 0;
        if (zhashx_insert(self->agents, agent, e) != 0) {
            cf_mem_free(e);
            return 0;
        }
        e->broker = broker;
        s_schedule(self, e, now_ms);
        return 1;
    }
    e->broker = broker;
    if (!e->fired)
        return 1; /* another job of the same send: the retry is already set */
    if (++e->tries >= CF_LINK_RETRY_TRIES) {
        zhashx_delete(self->agents, agent); /* its check-in or HELLO hands the jobs out */
        return 0;
    }
    s_schedule(self, e, now_ms);
    return 1;
}

void cf_link_retry_forget(cf_link_retry_t *self, const char *agent)
{
    if (self && agent && zhashx_size(self->agents) > 0)
        zhashx_delete(self->agents, agent);
}

size_t cf_link_retry_run(cf_link_retry_t *self, int64_t now_ms,
                         void (*fn)(void *ctx, const char *agent, size_t broker), void *ctx)
{
    if (!self || !fn || now_ms < self->next_due)
        return 0;
    /* the due ones first (fn may not change the set while it is walked), then the calls */
    zlistx_t *due = zlistx_new();
    zlistx_t *gone = zlistx_new();
    if (!due || !gone) {
        zlistx_destroy(&due);
        zlistx_destroy(&gone);
        return 0;
    }
    int64_t next = INT64_MAX; /* the next retry, or the next entry to forget */
    for (s_entry_t *e = zhashx_first(self->agents); e; e = zhashx_next(self->agents)) {
        const char *id = zhashx_cursor(self->agents);
        if (!e->fired && e->due <= now_ms) {
            e->fired = 1;
            zlistx_add_end(due, (void *) id);
        } else if (e->fired && e->due + S_LINGER_MS <= now_ms) {
            zlistx_add_end(gone, (void *) id); /* sent, never answered: not waited for */
            continue;
        }
        int64_t t = e->fired ? e->due + S_LINGER_MS : e->due;
        if (t < next)
            next = t;
    }
    self->next_due = next;
    size_t n = 0;
    for (const char *id = zlistx_first(due); id; id = zlistx_next(due)) {
        const s_entry_t *e = zhashx_lookup(self->agents, id);
        char agent[CF_MSG_AGENT_MAX + 1];
        snprintf(agent, sizeof(agent), "%s", id);
        fn(ctx, agent, e->broker);
        n++;
    }
    for (const char *id = zlistx_first(gone); id; id = zlistx_next(gone)) {
        char agent[CF_MSG_AGENT_MAX + 1];
        snprintf(agent, sizeof(agent), "%s", id);
        zhashx_delete(self->agents, agent);
    }
    zlistx_destroy(&due);
    zlistx_destroy(&gone);
    return n;
}

int64_t cf_link_retry_next(const cf_link_retry_t *self, int64_t now_ms)
{
    if (!self || self->next_due == INT64_MAX || zhashx_size(self->agents) == 0)
        return -1; /* (a stale next_due after the last one went only costs a scan) */
    return self->next_due > now_ms ? self->next_due - now_ms : 0;
}

size_t cf_link_retry_size(const cf_link_retry_t *self)
{
    return self ? zhashx_size(self->agents) : 0;
}
