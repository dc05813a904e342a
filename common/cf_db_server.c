/*  cf_db_server - server records, the cf:servers index and heartbeats  */
#include "cf_db_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_db_util.h"
#include "cf_iprange.h"
#include "cf_mem.h"

/* Fields in HMGET order; the update script answers them in this order too. */
static const char s_hmget[] = "HMGET %s alias host port plain_port priority ip_ranges created";
enum { F_ALIAS, F_HOST, F_PORT, F_PLAIN, F_PRIO, F_RANGES, F_CREATED, F_COUNT };

/* KEYS[1] record; ARGV[1] event, ARGV[2..] field/value pairs. */
static const char s_lua_update[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return false end\n"
    "redis.call('HSET', KEYS[1], unpack(ARGV, 2))\n"
    "redis.call('PUBLISH', 'cf:events', ARGV[1])\n"
    "return redis.call('HMGET', KEYS[1], 'alias', 'host', 'port', 'plain_port', 'priority',\n"
    "                  'ip_ranges', 'created')\n";

/* KEYS[1] heartbeat; ARGV[1] instance. Delete only our own heartbeat. */
static const char s_lua_hb_stop[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if v and string.sub(v, 1, #ARGV[1] + 1) == ARGV[1] .. ' ' then\n"
    "  return redis.call('DEL', KEYS[1])\n"
    "end\n"
    "return 0\n";

static cf_err_t s_check_host(const char *host)
{
    size_t len = strnlen(host, CF_DB_HOST_MAX + 1);
    if (len == 0 || len > CF_DB_HOST_MAX)
        return CF_ERR_INVALID;
    for (size_t i = 0; i < len; i++) {
        char c = host[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr(".-_:", c)))
            return CF_ERR_INVALID;
    }
    return CF_OK;
}

/* Canonical text of ranges (NULL/"" = none) into buf (CF_IPRANGE_LIST_TEXT_MAX bytes). */
static cf_err_t s_ranges(cf_store_t *store, const char *ranges, char *buf)
{
    buf[0] = '\0';
    if (!ranges || !*ranges)
        return CF_OK;
    cf_iprange_list_t *list = NULL;
    cf_why_t why = {""};
    cf_err_t rc = cf_iprange_list_parse(ranges, &list, &why);
    if (rc == CF_OK)
        rc = cf_iprange_list_format(list, buf, CF_IPRANGE_LIST_TEXT_MAX);
    cf_iprange_list_destroy(&list);
    if (rc != CF_OK)
        return cf_db_fail(store, rc, "ip ranges: %s", cf_why_text(&why, rc));
    return CF_OK;
}

/* Check the fields of rec named in mask. */
static cf_err_t s_check(cf_store_t *store, const cf_db_server_t *rec, unsigned mask)
{
    if (cf_db_check_alias(rec->alias) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "bad server alias");
    if ((mask & CF_DB_SERVER_HOST) && rec->host[0] && s_check_host(rec->host) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "server %s: bad host", rec->alias);
    if ((mask & CF_DB_SERVER_PORT) && (rec->port < 1 || rec->port > 65535))
        return cf_db_fail(store, CF_ERR_INVALID, "server %s: port must be 1..65535", rec->alias);
    if ((mask & CF_DB_SERVER_PLAIN_PORT) && (rec->plain_port < 0 || rec->plain_port > 65535))
        return cf_db_fail(store, CF_ERR_INVALID, "server %s: plain port must be 0..65535",
                          rec->alias);
    if ((mask & CF_DB_SERVER_PRIORITY) &&
        (rec->priority < -CF_DB_PRIORITY_MAX || rec->priority > CF_DB_PRIORITY_MAX))
        return cf_db_fail(store, CF_ERR_INVALID, "server %s: priority out of range", rec->alias);
    return CF_OK;
}

/* Field/value pairs of the fields in mask into fv (10 slots); numbers go to nums. */
static int s_pairs(const cf_db_server_t *rec, unsigned mask, const char *ranges, const char **fv,
                   char nums[][CF_DB_I64_BUF])
{
    int n = 0;
    if (mask & CF_DB_SERVER_HOST) {
        fv[n++] = "host";
        fv[n++] = rec->host[0] ? rec->host : rec->alias;
    }
    const int vals[] = {rec->port, rec->plain_port, rec->priority};
    const char *names[] = {"port", "plain_port", "priority"};
    for (int i = 0; i < 3; i++) {
        if (!(mask & (CF_DB_SERVER_PORT << i)))
            continue;
        fv[n++] = names[i];
        fv[n++] = cf_db_i64(nums[i], vals[i]);
    }
    if (mask & CF_DB_SERVER_RANGES) {
        fv[n++] = "ip_ranges";
        fv[n++] = ranges;
    }
    return n / 2;
}

cf_err_t cf_db_server_create(cf_store_t *store, const cf_db_server_t *rec, int64_t now)
{
    CF_ASSERT(store && rec);
    CF_TRY(s_check(store, rec, CF_DB_SERVER_ALL));
    char key[CF_DB_KEY_MAX], event[CF_DB_KEY_MAX], created[CF_DB_I64_BUF];
    char nums[3][CF_DB_I64_BUF];
    CF_TRY(cf_db_key_server(key, rec->alias));
    char *ranges = cf_mem_malloc(CF_IPRANGE_LIST_TEXT_MAX);
    if (!ranges)
        return cf_db_fail(store, CF_ERR_NOMEM, "out of memory");
    cf_err_t rc = s_ranges(store, rec->ip_ranges, ranges);
    if (rc == CF_OK) {
        const char *fv[14] = {"alias", rec->alias, "created", cf_db_i64(created, now)};
        int n = 2 + s_pairs(rec, CF_DB_SERVER_ALL, ranges, fv + 4, nums);
        snprintf(event, sizeof(event), "server %s", rec->alias);
        rc = cf_db_hash_create(store, key, CF_DB_K_SERVERS, rec->alias, event, n, fv, NULL);
    }
    cf_mem_free(ranges);
    return rc;
}

void cf_db_server_clear(cf_db_server_t *rec)
{
    if (!rec)
        return;
    cf_mem_free(rec->ip_ranges);
    memset(rec, 0, sizeof(*rec));
}

void cf_db_server_list_free(cf_db_server_t **list_p, size_t n)
{
    if (!list_p || !*list_p)
        return;
    for (size_t i = 0; i < n; i++)
        cf_db_server_clear(&(*list_p)[i]);
    cf_mem_free(*list_p);
    *list_p = NULL;
}

/* Decode the HMGET answer of alias's record. */
static cf_err_t s_decode(cf_store_t *store, const char *alias, const redisReply *r,
                         cf_db_server_t *out)
{
    cf_why_t *why = cf_db_why(store);
    const redisReply *const *e = (const redisReply *const *) r->element;
    int64_t v[3] = {0};
    CF_TRY(cf_db_r_text(e[F_ALIAS], 0, out->alias, CF_DB_ALIAS_MAX, "alias", why));
    CF_TRY(cf_db_r_text(e[F_HOST], 0, out->host, CF_DB_HOST_MAX, "host", why));
    CF_TRY(cf_db_r_int(e[F_PORT], 0, 1, 65535, &v[0], "port", why));
    CF_TRY(cf_db_r_int(e[F_PLAIN], 0, 0, 65535, &v[1], "plain_port", why));
    CF_TRY(
        cf_db_r_int(e[F_PRIO], 0, -CF_DB_PRIORITY_MAX, CF_DB_PRIORITY_MAX, &v[2], "priority", why));
    CF_TRY(cf_db_r_int(e[F_CREATED], 0, 0, INT64_MAX, &out->created, "created", why));
    CF_TRY(cf_db_r_dup(e[F_RANGES], 0, CF_DB_RANGES_MAX, &out->ip_ranges, "ip_ranges", why));
    out->port = (int) v[0];
    out->plain_port = (int) v[1];
    out->priority = (int) v[2];
    if (strcmp(out->alias, alias) != 0 || s_check_host(out->host) != CF_OK)
        return cf_db_fail(store, CF_ERR_CORRUPT, "server %s: alias or host do not fit", alias);
    cf_iprange_list_t *list = NULL;
    if (out->ip_ranges[0] && cf_iprange_list_parse(out->ip_ranges, &list, NULL) != CF_OK)
        return cf_db_fail(store, CF_ERR_CORRUPT, "server %s: bad ip_ranges", alias);
    cf_iprange_list_destroy(&list);
    return CF_OK;
}

/* Decode a record reply; CF_ERR_NOTFOUND when the record is absent. */
static cf_err_t s_decode_rec(cf_store_t *store, const char *alias, const redisReply *r,
                             cf_db_server_t *out)
{
    CF_TRY(cf_db_r_array(r, F_COUNT, F_COUNT, "server record", cf_db_why(store)));
    if (cf_db_r_nil(r->element[F_ALIAS]) && cf_db_r_nil(r->element[F_PORT]))
        return cf_db_fail(store, CF_ERR_NOTFOUND, "no server %s", alias);
    cf_err_t rc = s_decode(store, alias, r, out);
    if (rc != CF_OK)
        cf_db_server_clear(out);
    return rc;
}

cf_err_t cf_db_server_update(cf_store_t *store, const cf_db_server_t *rec, unsigned mask,
                             cf_db_server_t *out)
{
    CF_ASSERT(store && rec);
    if (out)
        memset(out, 0, sizeof(*out));
    if ((mask & CF_DB_SERVER_ALL) == 0 || (mask & ~CF_DB_SERVER_ALL))
        return cf_db_fail(store, CF_ERR_INVALID, "server update: no field to change");
    CF_TRY(s_check(store, rec, mask));
    char key[CF_DB_KEY_MAX], event[CF_DB_KEY_MAX];
    char nums[3][CF_DB_I64_BUF];
    CF_TRY(cf_db_key_server(key, rec->alias));
    snprintf(event, sizeof(event), "server %s", rec->alias);
    char *ranges = cf_mem_malloc(CF_IPRANGE_LIST_TEXT_MAX);
    if (!ranges)
        return cf_db_fail(store, CF_ERR_NOMEM, "out of memory");
    redisReply *r = NULL;
    cf_err_t rc = (mask & CF_DB_SERVER_RANGES) ? s_ranges(store, rec->ip_ranges, ranges) : CF_OK;
    if (rc == CF_OK) {
        const char *argv[2 + 10] = {key, event};
        int n = s_pairs(rec, mask, ranges, argv + 2, nums);
        rc = cf_db_eval(store, s_lua_update, CF_STORE_IDEMPOTENT, &r, 1, 1 + 2 * n, argv, NULL);
    }
    cf_mem_free(ranges);
    if (rc != CF_OK)
        return rc;
    cf_db_server_t now = {0};
    rc = cf_db_r_nil(r) ? cf_db_fail(store, CF_ERR_NOTFOUND, "no server %s", rec->alias)
                        : s_decode_rec(store, rec->alias, r, &now);
    freeReplyObject(r);
    if (rc == CF_OK && out)
        *out = now;
    else
        cf_db_server_clear(&now);
    return rc;
}

cf_err_t cf_db_server_remove(cf_store_t *store, const char *alias)
{
    CF_ASSERT(store);
    char key[CF_DB_KEY_MAX], event[CF_DB_KEY_MAX];
    if (cf_db_key_server(key, alias) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "bad server alias");
    snprintf(event, sizeof(event), "server %s", alias);
    return cf_db_hash_remove(store, key, CF_DB_K_SERVERS, alias, event);
}

/* Queue HMGET of the record and EXISTS of the heartbeat of alias. */
static cf_err_t s_queue(cf_store_pipe_t *pipe, const char *alias)
{
    char key[CF_DB_KEY_MAX], hb[CF_DB_KEY_MAX];
    CF_TRY(cf_db_key_server(key, alias));
    CF_TRY(cf_db_key_hb(hb, alias));
    CF_TRY(cf_store_pipe_append(pipe, s_hmget, key));
    return cf_store_pipe_append(pipe, "EXISTS %s", hb);
}

/* Decode record i of a pipeline from s_queue. */
static cf_err_t s_take(cf_store_t *store, cf_store_pipe_t *pipe, size_t i, const char *alias,
                       cf_db_server_t *out)
{
    CF_TRY(s_decode_rec(store, alias, cf_store_pipe_reply(pipe, 2 * i), out));
    int64_t online = 0;
    cf_err_t rc = cf_db_r_int(cf_store_pipe_reply(pipe, 2 * i + 1), 0, 0, 1, &online,
                              "EXISTS reply", cf_db_why(store));
    out->online = online == 1;
    if (rc != CF_OK)
        cf_db_server_clear(out);
    return rc;
}

cf_err_t cf_db_server_get(cf_store_t *store, const char *alias, cf_db_server_t *out)
{
    CF_ASSERT(store && out);
    memset(out, 0, sizeof(*out));
    if (cf_db_check_alias(alias) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "bad server alias");
    cf_store_pipe_t *pipe = NULL;
    CF_TRY(cf_store_pipe_new(store, 2, &pipe));
    cf_err_t rc = s_queue(pipe, alias);
    if (rc == CF_OK)
        rc = cf_store_pipe_exec(pipe, CF_STORE_IDEMPOTENT);
    if (rc == CF_OK)
        rc = s_take(store, pipe, 0, alias, out);
    cf_store_pipe_destroy(&pipe);
    return rc;
}

static int s_by_alias(const void *a, const void *b)
{
    return strcmp(((const cf_db_server_t *) a)->alias, ((const cf_db_server_t *) b)->alias);
}

/* The pipeline of s_queue for every alias in names, decoded into list. */
static cf_err_t s_fetch(cf_store_t *store, const redisReply *names, cf_db_server_t *list,
                        size_t *n_out)
{
    *n_out = 0;
    cf_store_pipe_t *pipe = NULL;
    CF_TRY(cf_store_pipe_new(store, 2 * names->elements, &pipe));
    cf_err_t rc = CF_OK;
    for (size_t i = 0; rc == CF_OK && i < names->elements; i++)
        rc = s_queue(pipe, names->element[i]->str);
    if (rc == CF_OK)
        rc = cf_store_pipe_exec(pipe, CF_STORE_IDEMPOTENT);
    size_t n = 0;
    for (size_t i = 0; rc == CF_OK && i < names->elements; i++) {
        rc = s_take(store, pipe, i, names->element[i]->str, &list[n]);
        if (rc == CF_ERR_NOTFOUND)
            rc = CF_OK; /* removed between the two round trips */
        else if (rc == CF_OK)
            n++;
    }
    cf_store_pipe_destroy(&pipe);
    *n_out = n;
    return rc;
}

cf_err_t cf_db_server_list(cf_store_t *store, size_t max, cf_db_server_t **list_out, size_t *n_out)
{
    CF_ASSERT(store && list_out && n_out);
    *list_out = NULL;
    *n_out = 0;
    if (max == 0 || max > CF_DB_SERVERS_MAX)
        return cf_db_fail(store, CF_ERR_INVALID, "server list: max must be 1..%d",
                          CF_DB_SERVERS_MAX);
    redisReply *names = NULL;
    CF_TRY(cf_db_members(store, CF_DB_K_SERVERS, max, cf_db_check_alias, &names));
    size_t n = 0;
    cf_err_t rc = CF_OK;
    cf_db_server_t *list = cf_mem_calloc(names->elements ? names->elements : 1, sizeof(*list));
    if (!list)
        rc = cf_db_fail(store, CF_ERR_NOMEM, "out of memory listing servers");
    if (rc == CF_OK && names->elements)
        rc = s_fetch(store, names, list, &n);
    freeReplyObject(names);
    if (rc != CF_OK) {
        cf_db_server_list_free(&list, n);
        return rc;
    }
    qsort(list, n, sizeof(*list), s_by_alias);
    *list_out = list;
    *n_out = n;
    return CF_OK;
}

cf_err_t cf_db_server_heartbeat(cf_store_t *store, const char *alias, const char *instance,
                                int64_t now, int ttl_s, int *clash)
{
    CF_ASSERT(store);
    if (clash)
        *clash = 0;
    char hb[CF_DB_KEY_MAX], value[CF_DB_OWNER_MAX + CF_DB_I64_BUF + 2], ttl[CF_DB_I64_BUF];
    if (cf_db_key_hb(hb, alias) != CF_OK || cf_db_check_owner(instance) != CF_OK || ttl_s < 1 ||
        ttl_s > CF_DB_HB_TTL_MAX)
        return cf_db_fail(store, CF_ERR_INVALID, "heartbeat: bad alias, instance or TTL");
    snprintf(value, sizeof(value), "%s %lld", instance, (long long) now);
    const char *argv[] = {"SET", hb, value, "EX", cf_db_i64(ttl, ttl_s), "GET"};
    redisReply *r = NULL;
    CF_TRY(cf_store_cmd_argv(store, CF_STORE_IDEMPOTENT, &r, 6, argv, NULL));
    char prev[CF_DB_OWNER_MAX + CF_DB_I64_BUF + 2];
    cf_err_t rc =
        cf_db_r_text(r, 1, prev, sizeof(prev) - 1, "previous heartbeat", cf_db_why(store));
    freeReplyObject(r);
    size_t len = strlen(instance);
    if (rc == CF_OK && clash && prev[0])
        *clash = strncmp(prev, instance, len) != 0 || prev[len] != ' ';
    return rc;
}

cf_err_t cf_db_server_heartbeat_stop(cf_store_t *store, const char *alias, const char *instance)
{
    CF_ASSERT(store);
    char hb[CF_DB_KEY_MAX];
    if (cf_db_key_hb(hb, alias) != CF_OK || cf_db_check_owner(instance) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "heartbeat: bad alias or instance");
    const char *argv[] = {hb, instance};
    redisReply *r = NULL;
    CF_TRY(cf_db_eval(store, s_lua_hb_stop, CF_STORE_IDEMPOTENT, &r, 1, 1, argv, NULL));
    int64_t v = 0;
    cf_err_t rc = cf_db_r_int(r, 0, 0, 1, &v, "heartbeat stop reply", cf_db_why(store));
    freeReplyObject(r);
    return rc;
}

void cf_db_server_aliases_free(char ***aliases_p, size_t n)
{
    if (!aliases_p || !*aliases_p)
        return;
    for (size_t i = 0; i < n; i++)
        cf_mem_free((*aliases_p)[i]);
    cf_mem_free(*aliases_p);
    *aliases_p = NULL;
}

/* Keep the aliases of names whose EXISTS answer in pipe is 1. */
static cf_err_t s_pick_online(cf_store_t *store, const redisReply *names, cf_store_pipe_t *pipe,
                              char **out, size_t *n_out)
{
    size_t n = 0;
    cf_err_t rc = CF_OK;
    for (size_t i = 0; rc == CF_OK && i < names->elements; i++) {
        int64_t v = 0;
        rc = cf_db_r_int(cf_store_pipe_reply(pipe, i), 0, 0, 1, &v, "EXISTS reply",
                         cf_db_why(store));
        if (rc != CF_OK || !v)
            continue;
        out[n] = cf_mem_strdup(names->element[i]->str);
        if (!out[n])
            rc = cf_db_fail(store, CF_ERR_NOMEM, "out of memory");
        else
            n++;
    }
    *n_out = n;
    return rc;
}

cf_err_t cf_db_server_online(cf_store_t *store, size_t max, char ***aliases_out, size_t *n_out)
{
    CF_ASSERT(store && aliases_out && n_out);
    *aliases_out = NULL;
    *n_out = 0;
    if (max == 0 || max > CF_DB_SERVERS_MAX)
        return cf_db_fail(store, CF_ERR_INVALID, "online: max must be 1..%d", CF_DB_SERVERS_MAX);
    redisReply *names = NULL;
    CF_TRY(cf_db_members(store, CF_DB_K_SERVERS, max, cf_db_check_alias, &names));
    cf_store_pipe_t *pipe = NULL;
    size_t n = 0;
    char **out = cf_mem_calloc(names->elements + 1, sizeof(*out));
    cf_err_t rc = out ? CF_OK : cf_db_fail(store, CF_ERR_NOMEM, "out of memory");
    if (rc == CF_OK && names->elements)
        rc = cf_store_pipe_new(store, names->elements, &pipe);
    char hb[CF_DB_KEY_MAX];
    for (size_t i = 0; rc == CF_OK && pipe && i < names->elements; i++) {
        rc = cf_db_key_hb(hb, names->element[i]->str);
        if (rc == CF_OK)
            rc = cf_store_pipe_append(pipe, "EXISTS %s", hb);
    }
    if (rc == CF_OK && pipe)
        rc = cf_store_pipe_exec(pipe, CF_STORE_IDEMPOTENT);
    if (rc == CF_OK && pipe)
        rc = s_pick_online(store, names, pipe, out, &n);
    cf_store_pipe_destroy(&pipe);
    freeReplyObject(names);
    if (rc != CF_OK) {
        cf_db_server_aliases_free(&out, n);
        return rc;
    }
    qsort(out, n, sizeof(*out), cf_db_strp_cmp);
    *aliases_out = out;
    *n_out = n;
    return CF_OK;
}
