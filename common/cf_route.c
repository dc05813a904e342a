/*  cf_route - the seed's server choice as a pure ranking of candidate servers  */
#include "cf_route.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Rank of one available server; a smaller rank is tried first. */
typedef struct {
    size_t index;              /* position in the candidate array */
    const cf_iprange_t *range; /* CF_ROUTE_RANGE: narrowest range holding the agent */
    uint64_t score;            /* rendezvous hash of (agent id, alias): breaks ties */
    cf_route_rule_t rule;      /* the best rule that places the server */
    int priority;              /* larger = preferred */
} s_rank_t;

const char *cf_route_rule_name(cf_route_rule_t rule)
{
    switch (rule) {
    case CF_ROUTE_FAVORITE: return "favorite";
    case CF_ROUTE_RANGE: return "ip-range";
    case CF_ROUTE_PRIORITY: return "priority";
    default: return "unknown";
    }
}

/* ASCII case-insensitive equality: aliases are host-like names. */
static bool s_name_eq(const char *a, const char *b)
{
    for (;; a++, b++) {
        unsigned char ca = (unsigned char) *a, cb = (unsigned char) *b;
        if (ca >= 'A' && ca <= 'Z')
            ca = (unsigned char) (ca - 'A' + 'a');
        if (cb >= 'A' && cb <= 'Z')
            cb = (unsigned char) (cb - 'A' + 'a');
        if (ca != cb)
            return false;
        if (ca == '\0')
            return true;
    }
}

/* FNV-1a 64 over id, a 0 separator and the lower-cased alias, finished with MurmurHash3's
   fmix64 so that the high bits (compared first) depend on every input byte. */
static uint64_t s_score(const char *id, const char *alias)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (const char *p = id; *p; p++)
        h = (h ^ (unsigned char) *p) * 0x100000001b3u;
    h = (h ^ 0u) * 0x100000001b3u;
    for (const char *p = alias; *p; p++) {
        unsigned char c = (unsigned char) *p;
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char) (c - 'A' + 'a');
        h = (h ^ c) * 0x100000001b3u;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdu;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53u;
    h ^= h >> 33;
    return h;
}

static cf_err_t s_check(const cf_route_agent_t *agent, const cf_route_server_t *servers,
                        size_t count, cf_why_t *why)
{
    if (!agent || !agent->id || (!servers && count > 0))
        return cf_why(why, CF_ERR_INVALID, "no agent id or no server list given");
    if (count > CF_ROUTE_MAX_SERVERS)
        return cf_why(why, CF_ERR_TOOBIG, "%zu servers, at most %d", count, CF_ROUTE_MAX_SERVERS);
    if (strnlen(agent->id, CF_ROUTE_MAX_NAME + 1) > CF_ROUTE_MAX_NAME ||
        (agent->favorite && strnlen(agent->favorite, CF_ROUTE_MAX_NAME + 1) > CF_ROUTE_MAX_NAME))
        return cf_why(why, CF_ERR_TOOBIG, "agent id or favorite longer than %d characters",
                      CF_ROUTE_MAX_NAME);
    for (size_t i = 0; i < count; i++) {
        const char *alias = servers[i].alias;
        if (!alias)
            return cf_why(why, CF_ERR_INVALID, "server %zu has no alias", i);
        if (strnlen(alias, CF_ROUTE_MAX_NAME + 1) > CF_ROUTE_MAX_NAME)
            return cf_why(why, CF_ERR_TOOBIG, "server %zu: alias longer than %d characters", i,
                          CF_ROUTE_MAX_NAME);
        for (size_t j = 0; j < i; j++) {
            if (s_name_eq(servers[j].alias, alias))
                return cf_why(why, CF_ERR_INVALID, "server alias '%s' is listed twice", alias);
        }
    }
    return CF_OK;
}

/* < 0 when a is tried before b. */
static int s_rank_cmp(const s_rank_t *a, const s_rank_t *b)
{
    if (a->rule != b->rule)
        return a->rule < b->rule ? -1 : 1;
    if (a->rule == CF_ROUTE_RANGE) {
        int width = cf_iprange_width_cmp(a->range, b->range);
        if (width != 0)
            return width; /* narrowest first */
    }
    if (a->priority != b->priority)
        return a->priority > b->priority ? -1 : 1;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index; /* equal hashes: keep input order */
}

/* Same rule, width and priority: only the hash tells them apart. */
static bool s_tied(const s_rank_t *a, const s_rank_t *b)
{
    if (a->rule != b->rule || a->priority != b->priority || a->rule == CF_ROUTE_FAVORITE)
        return false;
    return a->rule != CF_ROUTE_RANGE || cf_iprange_width_cmp(a->range, b->range) == 0;
}

/* Ranks the available servers into ranks (CF_ROUTE_MAX_SERVERS entries), best first. */
static size_t s_rank_all(const cf_route_agent_t *agent, const cf_route_server_t *servers,
                         size_t count, s_rank_t *ranks)
{
    bool has_favorite = agent->favorite && agent->favorite[0];
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        const cf_route_server_t *srv = &servers[i];
        if (!srv->available)
            continue;
        s_rank_t rank = {i, NULL, 0, CF_ROUTE_PRIORITY, srv->priority};
        rank.score = s_score(agent->id, srv->alias);
        rank.range = agent->addr ? cf_iprange_list_match(srv->ranges, agent->addr) : NULL;
        if (has_favorite && s_name_eq(srv->alias, agent->favorite))
            rank.rule = CF_ROUTE_FAVORITE;
        else if (rank.range)
            rank.rule = CF_ROUTE_RANGE;
        /* insertion sort: at most CF_ROUTE_MAX_SERVERS entries, and it keeps the code small */
        size_t at = n;
        while (at > 0 && s_rank_cmp(&rank, &ranks[at - 1]) < 0) {
            ranks[at] = ranks[at - 1];
            at--;
        }
        ranks[at] = rank;
        n++;
    }
    return n;
}

static void s_explain(const s_rank_t *ranks, size_t n, size_t k, cf_route_choice_t *out)
{
    const s_rank_t *rank = &ranks[k];
    memset(out, 0, sizeof(*out));
    out->index = rank->index;
    out->rule = rank->rule;
    out->priority = rank->priority;
    for (size_t j = 0; j < n; j++) {
        if (j == k || s_tied(rank, &ranks[j]))
            out->shared_by++;
    }
    char what[CF_IPRANGE_TEXT_MAX + 16] = "favorite";
    if (rank->rule == CF_ROUTE_RANGE) {
        char range[CF_IPRANGE_TEXT_MAX] = "";
        out->range = *rank->range;
        if (cf_iprange_format(rank->range, range, sizeof(range)) != CF_OK)
            range[0] = '\0'; /* cannot happen: the range matched, so it is valid */
        snprintf(what, sizeof(what), "ip-range %s", range);
    } else if (rank->rule == CF_ROUTE_PRIORITY) {
        snprintf(what, sizeof(what), "priority %d", rank->priority);
    }
    char shared[48] = "";
    if (out->shared_by > 1)
        snprintf(shared, sizeof(shared), " (shared by %zu, hashed)", out->shared_by);
    /* CF_ROUTE_REASON_MAX holds both parts at their longest. */
    snprintf(out->text, sizeof(out->text), "%s%s", what, shared);
}

static cf_err_t s_none_available(size_t count, cf_why_t *why)
{
    if (count == 0)
        return cf_why(why, CF_ERR_NOTFOUND, "no server is known");
    return cf_why(why, CF_ERR_NOTFOUND, "none of the %zu known servers is available", count);
}

cf_err_t cf_route_choose(const cf_route_agent_t *agent, const cf_route_server_t *servers,
                         size_t count, cf_route_choice_t *out, cf_why_t *why)
{
    if (!out)
        return cf_why(why, CF_ERR_INVALID, "no place for the choice");
    CF_TRY(s_check(agent, servers, count, why));
    s_rank_t ranks[CF_ROUTE_MAX_SERVERS];
    size_t n = s_rank_all(agent, servers, count, ranks);
    if (n == 0)
        return s_none_available(count, why);
    s_explain(ranks, n, 0, out);
    return CF_OK;
}

cf_err_t cf_route_order(const cf_route_agent_t *agent, const cf_route_server_t *servers,
                        size_t count, size_t *order, cf_route_choice_t *reasons, size_t cap,
                        size_t *n_out, cf_why_t *why)
{
    if (!order || !n_out)
        return cf_why(why, CF_ERR_INVALID, "no place for the order");
    *n_out = 0;
    CF_TRY(s_check(agent, servers, count, why));
    s_rank_t ranks[CF_ROUTE_MAX_SERVERS];
    size_t n = s_rank_all(agent, servers, count, ranks);
    if (n == 0)
        return s_none_available(count, why);
    if (n > cap)
        return cf_why(why, CF_ERR_TOOBIG, "%zu servers are available, room for %zu", n, cap);
    for (size_t k = 0; k < n; k++) {
        order[k] = ranks[k].index;
        if (reasons)
            s_explain(ranks, n, k, &reasons[k]);
    }
    *n_out = n;
    return CF_OK;
}
