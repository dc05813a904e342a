/*  cf_link_facts - a batch of agents' RECEIPTs and REPORTs before it is stored: the facts
    another fact of the same batch makes moot  */
#include "cf_link_facts.h"

#include <stdint.h>
#include <string.h>

#define S_SLOTS 2048   /* open-addressing table: a power of two over 2 x CF_LINK_BATCH_MAX */
#define S_NONE  0xffff /* no fact */

/* One (job, agent) pair of the batch. */
typedef struct {
    uint16_t first;    /* index of the pair's first fact, S_NONE: empty slot */
    uint16_t receipt;  /* index of its first RECEIPT, S_NONE: none */
    unsigned char rep; /* a REPORT of the pair is in the batch */
} s_slot_t;

static uint32_t s_hash(const cf_link_fact_t *f)
{
    uint32_t h = 2166136261u; /* FNV-1a over the job id, then the agent id */
    for (const unsigned char *p = (const unsigned char *) f->job_id; *p; p++)
        h = (h ^ *p) * 16777619u;
    for (const unsigned char *p = (const unsigned char *) f->agent; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

/* The slot of fact i's pair (found, or the empty one where it goes, now taken). */
static s_slot_t *s_slot(s_slot_t *tab, const cf_link_fact_t *facts, size_t i)
{
    const cf_link_fact_t *f = &facts[i];
    for (uint32_t k = s_hash(f) & (S_SLOTS - 1);; k = (k + 1) & (S_SLOTS - 1)) {
        s_slot_t *s = &tab[k];
        if (s->first == S_NONE) {
            s->first = (uint16_t) i;
            return s;
        }
        const cf_link_fact_t *g = &facts[s->first];
        if (strcmp(g->job_id, f->job_id) == 0 && strcmp(g->agent, f->agent) == 0)
            return s;
    }
}

size_t cf_link_facts_moot(const cf_link_fact_t *facts, size_t n, unsigned char *moot)
{
    if (!facts || !moot || n == 0)
        return 0;
    memset(moot, 0, n);
    if (n > CF_LINK_BATCH_MAX)
        return 0;
    _Static_assert(S_SLOTS >= 2 * CF_LINK_BATCH_MAX, "the table is at most half full");
    s_slot_t tab[S_SLOTS];
    memset(tab, 0xff, sizeof(tab));
    for (size_t i = 0; i < S_SLOTS; i++)
        tab[i].rep = 0;
    for (size_t i = 0; i < n; i++) {
        s_slot_t *s = s_slot(tab, facts, i);
        if (facts[i].type == CF_MSG_REPORT)
            s->rep = 1;
        else if (facts[i].type == CF_MSG_RECEIPT && s->receipt == S_NONE)
            s->receipt = (uint16_t) i;
    }
    size_t marked = 0;
    for (size_t i = 0; i < n; i++) {
        if (facts[i].type != CF_MSG_RECEIPT)
            continue;
        const s_slot_t *s = s_slot(tab, facts, i);
        moot[i] = s->rep || s->receipt != (uint16_t) i;
        marked += moot[i];
    }
    return marked;
}

int cf_link_facts_gathered(const cf_link_fact_t *facts, size_t n, int64_t now_ms, int64_t gather_ms,
                           int64_t *due_ms)
{
    if (due_ms)
        *due_ms = INT64_MAX;
    if (!facts || n == 0 || gather_ms <= 0 || n >= CF_LINK_GATHER_MIN ||
        now_ms - facts[0].at_ms >= gather_ms)
        return 1;
    if (due_ms)
        *due_ms = facts[0].at_ms + gather_ms;
    return 0;
}

size_t cf_link_facts_hold(const cf_link_fact_t *facts, size_t n, const unsigned char *moot,
                          int64_t now_ms, int64_t hold_ms, unsigned char *held, int64_t *due_ms)
{
    size_t marked = 0;
    int64_t due = INT64_MAX;
    for (size_t i = 0; facts && moot && held && i < n; i++) {
        held[i] = hold_ms > 0 && facts[i].type == CF_MSG_RECEIPT && !moot[i] &&
                  now_ms - facts[i].at_ms < hold_ms;
        if (held[i] && facts[i].at_ms + hold_ms < due)
            due = facts[i].at_ms + hold_ms;
        marked += held[i];
    }
    if (due_ms)
        *due_ms = due;
    return marked;
}
