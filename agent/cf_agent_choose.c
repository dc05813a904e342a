/*  cf_agent_choose - the agent's server list (cached on disk), its server choice with
    failover, and randomized exponential back-off  */
#include "cf_agent_choose.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "cf_file.h"
#include "cf_mem.h"

void cf_agent_servers_clear(cf_agent_servers_t *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        cf_iprange_list_destroy(&l->servers[i].ranges);
    cf_mem_free(l->servers);
    memset(l, 0, sizeof(*l));
}

/* A string field into buf (absent = def); too long or not a string is an error. */
static cf_err_t s_str(const json_t *o, const char *key, const char *def, char *buf, size_t cap,
                      size_t i, cf_why_t *why)
{
    const json_t *v = json_object_get(o, key);
    const char *s = def;
    if (v && !json_is_null(v)) {
        if (!json_is_string(v))
            return cf_why(why, CF_ERR_CORRUPT, "server %zu: %s is not a string", i, key);
        s = json_string_value(v);
    }
    if (!s || strlen(s) >= cap)
        return cf_why(why, s ? CF_ERR_TOOBIG : CF_ERR_CORRUPT, "server %zu: %s %s", i, key,
                      s ? "is too long" : "is missing");
    memcpy(buf, s, strlen(s) + 1);
    return CF_OK;
}

/* An integer field in lo..hi (absent = def). */
static cf_err_t s_int(const json_t *o, const char *key, long long def, long long lo, long long hi,
                      long long *out, size_t i, cf_why_t *why)
{
    const json_t *v = json_object_get(o, key);
    *out = def;
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v))
            return cf_why(why, CF_ERR_CORRUPT, "server %zu: %s is not an integer", i, key);
        *out = json_integer_value(v);
    }
    if (*out < lo || *out > hi)
        return cf_why(why, CF_ERR_CORRUPT, "server %zu: %s %lld is out of range", i, key, *out);
    return CF_OK;
}

static cf_err_t s_ranges(const json_t *arr, cf_iprange_list_t *list, size_t i, cf_why_t *why)
{
    if (!arr || json_is_null(arr))
        return CF_OK;
    if (!json_is_array(arr))
        return cf_why(why, CF_ERR_CORRUPT, "server %zu: ip_ranges is not an array", i);
    size_t k;
    const json_t *e;
    json_array_foreach(arr, k, e)
    {
        cf_iprange_t r;
        if (!json_is_string(e))
            return cf_why(why, CF_ERR_CORRUPT, "server %zu: ip range %zu is not a string", i, k);
        cf_err_t rc = cf_iprange_parse(json_string_value(e), &r, why);
        if (rc == CF_OK)
            rc = cf_iprange_list_append(list, &r);
        if (rc == CF_ERR_EXISTS)
            continue;
        if (rc != CF_OK)
            return cf_why(why, rc == CF_ERR_TOOBIG ? rc : CF_ERR_CORRUPT,
                          "server %zu: ip range %zu is not usable", i, k);
    }
    return CF_OK;
}

static cf_err_t s_one(const json_t *o, cf_agent_server_t *s, size_t i, cf_why_t *why)
{
    long long port = 0, plain = 0, prio = 0;
    if (!json_is_object(o))
        return cf_why(why, CF_ERR_CORRUPT, "server %zu is not an object", i);
    CF_TRY(s_str(o, "alias", NULL, s->alias, sizeof(s->alias), i, why));
    if (!s->alias[0])
        return cf_why(why, CF_ERR_CORRUPT, "server %zu: empty alias", i);
    CF_TRY(s_str(o, "host", "", s->host, sizeof(s->host), i, why));
    CF_TRY(s_int(o, "port", 7005, 1, 65535, &port, i, why));
    CF_TRY(s_int(o, "plain_port", 0, 0, 65535, &plain, i, why));
    CF_TRY(s_int(o, "priority", 0, -1000000, 1000000, &prio, i, why));
    const json_t *on = json_object_get(o, "online");
    if (on && !json_is_boolean(on))
        return cf_why(why, CF_ERR_CORRUPT, "server %zu: online is not a boolean", i);
    s->online = !on || json_is_true(on);
    s->port = (unsigned short) port;
    s->plain_port = (unsigned short) plain;
    s->priority = (int) prio;
    s->ranges = cf_iprange_list_new();
    if (!s->ranges)
        return CF_ERR_NOMEM;
    return s_ranges(json_object_get(o, "ip_ranges"), s->ranges, i, why);
}

cf_err_t cf_agent_servers_from_json(cf_agent_servers_t *l, const json_t *array, cf_why_t *why)
{
    if (!l || !json_is_array(array))
        return cf_why(why, CF_ERR_CORRUPT, "the server list is not an array");
    size_t n = json_array_size(array);
    if (n > CF_AGENT_SERVERS_MAX)
        return cf_why(why, CF_ERR_TOOBIG, "%zu servers (at most %d)", n, CF_AGENT_SERVERS_MAX);
    cf_agent_servers_t fresh = {.n = 0};
    fresh.servers = cf_mem_calloc(n ? n : 1, sizeof(*fresh.servers));
    if (!fresh.servers)
        return CF_ERR_NOMEM;
    cf_err_t rc = CF_OK;
    for (size_t i = 0; rc == CF_OK && i < n; i++) {
        fresh.n = i + 1;
        rc = s_one(json_array_get(array, i), &fresh.servers[i], i, why);
        for (size_t k = 0; rc == CF_OK && k < i; k++)
            if (strcasecmp(fresh.servers[k].alias, fresh.servers[i].alias) == 0)
                rc = cf_why(why, CF_ERR_CORRUPT, "server %zu: alias '%s' listed twice", i,
                            fresh.servers[i].alias);
    }
    if (rc != CF_OK) {
        cf_agent_servers_clear(&fresh);
        return rc;
    }
    for (size_t i = 0; i < l->n; i++)
        cf_iprange_list_destroy(&l->servers[i].ranges);
    cf_mem_free(l->servers);
    l->servers = fresh.servers;
    l->n = n;
    return CF_OK;
}

static json_t *s_server_json(const cf_agent_server_t *s)
{
    json_t *ranges = json_array();
    for (size_t k = 0; ranges && k < cf_iprange_list_size(s->ranges); k++) {
        char buf[CF_IPRANGE_TEXT_MAX];
        if (cf_iprange_format(cf_iprange_list_at(s->ranges, k), buf, sizeof(buf)) == CF_OK)
            json_array_append_new(ranges, json_string(buf));
    }
    return json_pack("{s:s, s:s, s:i, s:i, s:i, s:o*, s:b}", "alias", s->alias, "host", s->host,
                     "port", (int) s->port, "plain_port", (int) s->plain_port, "priority",
                     s->priority, "ip_ranges", ranges, "online", s->online);
}

cf_err_t cf_agent_servers_save(const cf_agent_servers_t *l, const char *path, cf_why_t *why)
{
    if (!l || !path)
        return CF_ERR_INVALID;
    cf_err_t rc = CF_ERR_NOMEM;
    char *text = NULL;
    json_t *arr = json_array();
    json_t *root = json_pack("{s:o*, s:s, s:s}", "servers", arr, "favorite", l->favorite,
                             "seen_addr", l->seen_addr);
    for (size_t i = 0; root && i < l->n; i++)
        if (json_array_append_new(arr, s_server_json(&l->servers[i])) != 0)
            goto out;
    if (root)
        text = json_dumps(root, JSON_COMPACT);
    if (text)
        rc = cf_file_write_atomic(path, text, strlen(text), 0600, why);
out:
    json_decref(root);
    free(text); /* jansson's allocator */
    return rc;
}

cf_err_t cf_agent_servers_load(cf_agent_servers_t *l, const char *path, cf_why_t *why)
{
    if (!l || !path)
        return CF_ERR_INVALID;
    char *buf = NULL;
    size_t len = 0;
    cf_agent_servers_clear(l);
    CF_TRY(cf_file_read(path, CF_AGENT_CACHE_MAX, &buf, &len, why));
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
    cf_mem_free(buf);
    cf_err_t rc = cf_why(why, CF_ERR_CORRUPT, "%s is not a server cache", path);
    const json_t *fav = json_object_get(root, "favorite");
    const json_t *seen = json_object_get(root, "seen_addr");
    if (!json_is_string(fav) || !json_is_string(seen) ||
        json_string_length(fav) >= sizeof(l->favorite) ||
        json_string_length(seen) >= sizeof(l->seen_addr))
        goto out;
    rc = cf_agent_servers_from_json(l, json_object_get(root, "servers"), why);
    if (rc != CF_OK)
        goto out;
    snprintf(l->favorite, sizeof(l->favorite), "%s", json_string_value(fav));
    snprintf(l->seen_addr, sizeof(l->seen_addr), "%s", json_string_value(seen));
out:
    json_decref(root);
    return rc;
}

/* The route view of l: every server, available when online and not skipped. */
static void s_route_view(const cf_agent_servers_t *l, const unsigned char *skip,
                         cf_route_server_t *rs)
{
    for (size_t i = 0; i < l->n; i++) {
        const cf_agent_server_t *s = &l->servers[i];
        rs[i] = (cf_route_server_t){.alias = s->alias,
                                    .host = s->host,
                                    .port = s->port,
                                    .priority = s->priority,
                                    .ranges = s->ranges,
                                    .available = s->online && !(skip && skip[i])};
    }
}

/* The address to route by: the one a server saw, else the agent's own; NULL when neither
   is an address. */
static const cf_iprange_addr_t *s_route_addr(const cf_agent_servers_t *l, const char *own,
                                             cf_iprange_addr_t *buf)
{
    const char *at = l->seen_addr[0] ? l->seen_addr : own;
    if (!at || !at[0] || cf_iprange_addr_parse(at, buf, NULL) != CF_OK)
        return NULL;
    return buf;
}

cf_err_t cf_agent_choose(const cf_agent_servers_t *l, const char *id, const char *own_addr,
                         const unsigned char *skip, cf_agent_probe_fn probe, void *probe_ctx,
                         size_t *index_out, cf_route_choice_t *reason, cf_why_t *why)
{
    if (!l || !id || !index_out || l->n > CF_AGENT_SERVERS_MAX)
        return cf_why(why, CF_ERR_INVALID, "no server list or agent id");
    cf_route_server_t rs[CF_AGENT_SERVERS_MAX];
    size_t order[CF_AGENT_SERVERS_MAX], n = 0;
    cf_route_choice_t *reasons = cf_mem_calloc(CF_AGENT_SERVERS_MAX, sizeof(*reasons));
    if (!reasons)
        return CF_ERR_NOMEM;
    s_route_view(l, skip, rs);
    cf_iprange_addr_t addr;
    cf_route_agent_t agent = {
        .id = id, .favorite = l->favorite, .addr = s_route_addr(l, own_addr, &addr)};
    cf_err_t rc = cf_route_order(&agent, rs, l->n, order, reasons, CF_AGENT_SERVERS_MAX, &n, why);
    if (rc == CF_ERR_NOTFOUND || (rc == CF_OK && n == 0))
        rc = cf_why(why, CF_ERR_NOTFOUND, "no server of %zu is on line", l->n);
    for (size_t k = 0; rc == CF_OK && k < n; k++) {
        if (probe && !probe(probe_ctx, &l->servers[order[k]]))
            continue;
        *index_out = order[k];
        if (reason)
            *reason = reasons[k];
        goto out;
    }
    if (rc == CF_OK)
        rc = cf_why(why, CF_ERR_NOTFOUND, "none of %zu servers on line answers a handshake", n);
out:
    cf_mem_free(reasons);
    return rc;
}

uint32_t cf_agent_backoff_next(cf_agent_backoff_t *b)
{
    if (!b->min_ms)
        b->min_ms = 1;
    if (b->max_ms < b->min_ms)
        b->max_ms = b->min_ms;
    if (b->cur_ms < b->min_ms)
        b->cur_ms = b->min_ms;
    uint32_t half = b->cur_ms / 2;
    uint32_t d = half + randombytes_uniform(b->cur_ms - half + 1);
    b->cur_ms = b->cur_ms > b->max_ms / 2 ? b->max_ms : b->cur_ms * 2;
    return d ? d : 1;
}

void cf_agent_backoff_reset(cf_agent_backoff_t *b)
{
    b->cur_ms = b->min_ms;
}

uint32_t cf_agent_jitter(uint32_t base_ms, uint32_t pct_den)
{
    if (!pct_den)
        return base_ms ? base_ms : 1;
    uint32_t span = base_ms / pct_den;
    uint64_t d = (uint64_t) base_ms - span + randombytes_uniform(2 * span + 1);
    return d ? (uint32_t) d : 1;
}
