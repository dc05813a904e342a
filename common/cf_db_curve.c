/*  cf_db_curve - CURVE public keys of agents and servers in Redis, one identity per key  */
#include "cf_db_curve.h"

#include <stdio.h>
#include <string.h>

#include "cf_db_util.h"

/* KEYS: 1 the kind's hash, 2 cf:curve:owner. ARGV: 1 name, 2 Z85 key, 3 identity
   ("agent:<id>" | "server:<alias>"), 4 replace ('1'/'0'), 5 event.
   Answers 0 (the same key: nothing written), 1 (stored), -1 (the name holds another key
   and no replace), -2 (the key belongs to another identity). */
static const char s_lua_put[] = "local cur = redis.call('HGET', KEYS[1], ARGV[1])\n"
                                "if cur == ARGV[2] then return 0 end\n"
                                "local owner = redis.call('HGET', KEYS[2], ARGV[2])\n"
                                "if owner and owner ~= ARGV[3] then return -2 end\n"
                                "if cur and ARGV[4] ~= '1' then return -1 end\n"
                                "if cur and redis.call('HGET', KEYS[2], cur) == ARGV[3] then\n"
                                "  redis.call('HDEL', KEYS[2], cur)\n"
                                "end\n"
                                "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])\n"
                                "redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])\n"
                                "redis.call('PUBLISH', 'cf:events', ARGV[5])\n"
                                "return 1\n";

/* KEYS as put. ARGV: 1 name, 2 identity, 3 event. Answers 1 (removed) or 0 (no key). */
static const char s_lua_remove[] =
    "local cur = redis.call('HGET', KEYS[1], ARGV[1])\n"
    "if not cur then return 0 end\n"
    "redis.call('HDEL', KEYS[1], ARGV[1])\n"
    "if redis.call('HGET', KEYS[2], cur) == ARGV[2] then redis.call('HDEL', KEYS[2], cur) end\n"
    "redis.call('PUBLISH', 'cf:events', ARGV[3])\n"
    "return 1\n";

/* Agents' keys live in their record (cf:agent:{<id>}, field curve: a listpack value, no
   entry of a hash of every agent); a key put before that version is still read from
   cf:curve:agents and leaves it when it changes or is removed.
   KEYS: 1 the agent record, 2 cf:curve:owner, 3 cf:curve:agents. ARGV and answers as
   s_lua_put. */
static const char s_lua_put_agent[] =
    "local cur = redis.call('HGET', KEYS[1], 'curve') or redis.call('HGET', KEYS[3], ARGV[1])\n"
    "if cur == ARGV[2] then return 0 end\n"
    "local owner = redis.call('HGET', KEYS[2], ARGV[2])\n"
    "if owner and owner ~= ARGV[3] then return -2 end\n"
    "if cur and ARGV[4] ~= '1' then return -1 end\n"
    "if cur and redis.call('HGET', KEYS[2], cur) == ARGV[3] then\n"
    "  redis.call('HDEL', KEYS[2], cur)\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'curve', ARGV[2])\n"
    "redis.call('HDEL', KEYS[3], ARGV[1])\n"
    "redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])\n"
    "redis.call('PUBLISH', 'cf:events', ARGV[5])\n"
    "return 1\n";

/* KEYS as s_lua_put_agent; ARGV as s_lua_remove. */
static const char s_lua_remove_agent[] =
    "local cur = redis.call('HGET', KEYS[1], 'curve') or redis.call('HGET', KEYS[3], ARGV[1])\n"
    "if not cur then return 0 end\n"
    "redis.call('HDEL', KEYS[1], 'curve')\n"
    "redis.call('HDEL', KEYS[3], ARGV[1])\n"
    "if redis.call('HGET', KEYS[2], cur) == ARGV[2] then redis.call('HDEL', KEYS[2], cur) end\n"
    "redis.call('PUBLISH', 'cf:events', ARGV[3])\n"
    "return 1\n";

/* KEYS[1] the agent record, KEYS[2] cf:curve:agents; ARGV[1] the id. */
static const char s_lua_get_agent[] =
    "return redis.call('HGET', KEYS[1], 'curve') or redis.call('HGET', KEYS[2], ARGV[1])\n";

#define S_IDENT_MAX (7 + CF_DB_CURVE_NAME_MAX + 1) /* "server:" + alias + NUL */

/* The names that go into the schema for kind and name: hash key, identity, event. */
typedef struct {
    const char *hash;                      /* the agent record, or cf:curve:servers */
    char record[CF_DB_KEY_MAX];            /* cf:agent:{<id>} for an agent */
    char ident[S_IDENT_MAX];               /* owner value */
    char event[CF_DB_CURVE_EVENT_MAX + 1]; /* cf:events payload */
} s_names_t;

static cf_err_t s_check(cf_allow_kind_t kind, const char *name)
{
    switch (kind) {
    case CF_ALLOW_AGENT: return cf_db_check_agent_id(name);
    case CF_ALLOW_SERVER:
        if (cf_db_check_alias(name) != CF_OK || strlen(name) > CF_DB_CURVE_NAME_MAX)
            return CF_ERR_INVALID;
        return CF_OK;
    default: return CF_ERR_INVALID;
    }
}

static cf_err_t s_names(cf_allow_kind_t kind, const char *name, s_names_t *out)
{
    CF_TRY(s_check(kind, name));
    int agent = kind == CF_ALLOW_AGENT;
    out->record[0] = '\0';
    if (agent)
        CF_TRY(cf_db_key_agent(out->record, name));
    out->hash = agent ? out->record : CF_DB_K_CURVE_SERVERS;
    snprintf(out->ident, sizeof(out->ident), "%s:%s", agent ? "agent" : "server", name);
    snprintf(out->event, sizeof(out->event), "%s-key %s", agent ? "agent" : "server", name);
    return CF_OK;
}

static int s_zero(const unsigned char *pub)
{
    unsigned char acc = 0;
    for (size_t i = 0; i < CF_CURVE_KEY_LEN; i++)
        acc |= pub[i];
    return acc == 0;
}

cf_err_t cf_db_curve_put(cf_store_t *store, cf_allow_kind_t kind, const char *name,
                         const unsigned char pub[CF_CURVE_KEY_LEN], int replace, cf_why_t *why)
{
    CF_ASSERT(store);
    s_names_t n;
    if (!pub || s_names(kind, name, &n) != CF_OK || s_zero(pub)) {
        cf_db_fail(store, CF_ERR_INVALID, "curve key: bad kind, name or key");
        return cf_why(why, CF_ERR_INVALID, "curve key: bad kind, name or key");
    }
    char z85[CF_CURVE_Z85_LEN + 1];
    cf_curve_z85_encode(pub, z85);
    /* agents: the record, the owner hash and the old hash of agents' keys (third key) */
    int agent = kind == CF_ALLOW_AGENT;
    const char *argv[] = {
        n.hash, CF_DB_K_CURVE_OWNER, CF_DB_K_CURVE_AGENTS, name, z85, n.ident, replace ? "1" : "0",
        n.event};
    if (!agent) { /* servers: two keys, from argv[1] */
        argv[1] = n.hash;
        argv[2] = CF_DB_K_CURVE_OWNER;
    }
    redisReply *r = NULL;
    CF_TRY(cf_db_eval(store, agent ? s_lua_put_agent : s_lua_put, 0, &r, 2 + agent, 5,
                      agent ? argv : argv + 1, NULL));
    int64_t v = 0;
    cf_err_t rc = cf_db_r_int(r, 0, -2, 1, &v, "curve put reply", cf_db_why(store));
    freeReplyObject(r);
    if (rc == CF_OK && v == -1)
        rc = cf_db_fail(store, CF_ERR_EXISTS, "%s %s already has another key",
                        cf_allow_kind_name(kind), name);
    else if (rc == CF_OK && v == -2)
        rc = cf_db_fail(store, CF_ERR_EXISTS, "this key belongs to another identity than %s",
                        n.ident);
    if (rc != CF_OK)
        cf_why(why, rc, "%s", cf_db_why(store)->text);
    return rc;
}

cf_err_t cf_db_curve_get(cf_store_t *store, cf_allow_kind_t kind, const char *name,
                         unsigned char pub_out[CF_CURVE_KEY_LEN])
{
    CF_ASSERT(store && pub_out);
    memset(pub_out, 0, CF_CURVE_KEY_LEN);
    s_names_t n;
    if (s_names(kind, name, &n) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "curve key: bad kind or name");
    redisReply *r = NULL;
    if (kind == CF_ALLOW_AGENT) {
        const char *argv[] = {n.record, CF_DB_K_CURVE_AGENTS, name};
        CF_TRY(cf_db_eval(store, s_lua_get_agent, CF_STORE_IDEMPOTENT, &r, 2, 1, argv, NULL));
    } else {
        const char *argv[] = {"HGET", n.hash, name};
        CF_TRY(cf_store_cmd_argv(store, CF_STORE_IDEMPOTENT, &r, 3, argv, NULL));
    }
    char z85[CF_CURVE_Z85_LEN + 1];
    cf_err_t rc = cf_db_r_text(r, 1, z85, CF_CURVE_Z85_LEN, "curve key", cf_db_why(store));
    freeReplyObject(r);
    if (rc == CF_OK && !z85[0])
        return cf_db_fail(store, CF_ERR_NOTFOUND, "%s has no curve key", n.ident);
    if (rc == CF_OK && cf_curve_z85_decode(z85, strlen(z85), pub_out, NULL) != CF_OK)
        rc = cf_db_fail(store, CF_ERR_CORRUPT, "%s: stored curve key is not Z85", n.ident);
    return rc;
}

cf_err_t cf_db_curve_remove(cf_store_t *store, cf_allow_kind_t kind, const char *name)
{
    CF_ASSERT(store);
    s_names_t n;
    if (s_names(kind, name, &n) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "curve key: bad kind or name");
    int agent = kind == CF_ALLOW_AGENT;
    const char *argv[] = {n.hash, CF_DB_K_CURVE_OWNER, CF_DB_K_CURVE_AGENTS, name, n.ident,
                          n.event};
    if (!agent) { /* servers: two keys, from argv[1] */
        argv[1] = n.hash;
        argv[2] = CF_DB_K_CURVE_OWNER;
    }
    redisReply *r = NULL;
    CF_TRY(cf_db_eval(store, agent ? s_lua_remove_agent : s_lua_remove, 0, &r, 2 + agent, 3,
                      agent ? argv : argv + 1, NULL));
    int64_t v = 0;
    cf_err_t rc = cf_db_r_int(r, 0, 0, 1, &v, "curve remove reply", cf_db_why(store));
    freeReplyObject(r);
    if (rc == CF_OK && !v)
        rc = cf_db_fail(store, CF_ERR_NOTFOUND, "%s has no curve key", n.ident);
    return rc;
}

/* One HSCAN pair into the list; a malformed pair or a key listed under another identity
   counts as bad. Only cf_allow's own failures (full, memory) stop the load. */
static cf_err_t s_load_one(cf_allow_t *list, cf_allow_kind_t kind, const redisReply *f,
                           const redisReply *v, size_t *bad)
{
    char name[CF_DB_CURVE_NAME_MAX + 1];
    unsigned char pub[CF_CURVE_KEY_LEN];
    if (f->len > CF_DB_CURVE_NAME_MAX || memchr(f->str, '\0', f->len)) {
        (*bad)++;
        return CF_OK;
    }
    memcpy(name, f->str, f->len);
    name[f->len] = '\0';
    if (s_check(kind, name) != CF_OK || cf_curve_z85_decode(v->str, v->len, pub, NULL) != CF_OK) {
        (*bad)++;
        return CF_OK;
    }
    cf_allow_kind_t had = 0;
    const char *ident = cf_allow_find(list, pub, &had);
    if (ident) {
        /* listed already: the same entry seen twice (HSCAN), or a clash */
        size_t skip = kind == CF_ALLOW_SERVER ? strlen(CF_ALLOW_SERVER_PREFIX) : 0;
        if (had != kind || strlen(ident) < skip || strcmp(ident + skip, name) != 0)
            (*bad)++;
        return CF_OK;
    }
    return cf_allow_put(list, pub, kind, name, NULL);
}

/* Check an HSCAN reply [cursor, [field, value, ...]]; copy the cursor. */
static cf_err_t s_hscan_shape(cf_store_t *store, const redisReply *r, char *cursor)
{
    cf_why_t *why = cf_db_why(store);
    CF_TRY(cf_db_r_array(r, 2, 2, "HSCAN reply", why));
    int64_t c = 0;
    CF_TRY(cf_db_r_int(r->element[0], 0, 0, INT64_MAX, &c, "HSCAN cursor", why));
    const redisReply *items = r->element[1];
    CF_TRY(cf_db_r_array(items, 0, SIZE_MAX, "HSCAN items", why));
    if (items->elements % 2)
        return cf_db_fail(store, CF_ERR_CORRUPT, "HSCAN items are not pairs");
    for (size_t i = 0; i < items->elements; i++)
        if (items->element[i]->type != REDIS_REPLY_STRING)
            return cf_db_fail(store, CF_ERR_CORRUPT, "HSCAN item is not a string");
    cf_db_i64(cursor, c);
    return CF_OK;
}

/* One pair of cf:curve:owner: Z85 -> "agent:<id>" lists an agent (servers come from their
   own hash); other values are skipped. */
static cf_err_t s_load_owner_one(cf_allow_t *list, const redisReply *f, const redisReply *v,
                                 size_t *bad)
{
    static const char prefix[] = "agent:";
    size_t plen = sizeof(prefix) - 1;
    if (v->len <= plen || memcmp(v->str, prefix, plen) != 0)
        return CF_OK;
    redisReply name = *v;
    name.str += plen;
    name.len -= plen;
    return s_load_one(list, CF_ALLOW_AGENT, &name, f, bad);
}

/* HSCAN hash into list: pairs name -> key of kind, or (owner) key -> identity. */
static cf_err_t s_load_hash(cf_store_t *store, cf_allow_t *list, const char *hash,
                            cf_allow_kind_t kind, int owner, size_t *bad)
{
    char cursor[CF_DB_I64_BUF] = "0", count[CF_DB_I64_BUF];
    cf_db_i64(count, CF_DB_CURVE_SCAN);
    for (long calls = 0; calls < CF_STORE_SCAN_MAX_CALLS; calls++) {
        const char *argv[] = {"HSCAN", hash, cursor, "COUNT", count};
        redisReply *r = NULL;
        CF_TRY(cf_store_cmd_argv(store, CF_STORE_IDEMPOTENT, &r, 5, argv, NULL));
        cf_err_t rc = s_hscan_shape(store, r, cursor);
        const redisReply *items = rc == CF_OK ? r->element[1] : NULL;
        for (size_t i = 0; rc == CF_OK && i < items->elements; i += 2) {
            const redisReply *f = items->element[i], *v = items->element[i + 1];
            rc = owner ? s_load_owner_one(list, f, v, bad) : s_load_one(list, kind, f, v, bad);
        }
        freeReplyObject(r);
        if (rc != CF_OK)
            return cf_db_fail(store, rc, "loading %s: %s", hash, cf_err_str(rc));
        if (strcmp(cursor, "0") == 0)
            return CF_OK;
    }
    return cf_db_fail(store, CF_ERR_TOOBIG, "%s: HSCAN never ended", hash);
}

cf_err_t cf_db_curve_load(cf_store_t *store, cf_allow_t *list, size_t *bad_out)
{
    CF_ASSERT(store && list);
    size_t bad = 0;
    /* agents: from the owner hash (their keys live in their records), then the keys put
       before that in cf:curve:agents (the same pair twice is no clash) */
    cf_err_t rc = s_load_hash(store, list, CF_DB_K_CURVE_OWNER, CF_ALLOW_AGENT, 1, &bad);
    if (rc == CF_OK)
        rc = s_load_hash(store, list, CF_DB_K_CURVE_AGENTS, CF_ALLOW_AGENT, 0, &bad);
    if (rc == CF_OK)
        rc = s_load_hash(store, list, CF_DB_K_CURVE_SERVERS, CF_ALLOW_SERVER, 0, &bad);
    if (bad_out)
        *bad_out = bad;
    return rc;
}

cf_err_t cf_db_curve_event_parse(const char *payload, size_t len, cf_allow_kind_t *kind_out,
                                 char *name)
{
    CF_ASSERT(kind_out && name);
    name[0] = '\0';
    static const struct {
        const char *prefix;
        cf_allow_kind_t kind;
    } kinds[] = {{"agent-key ", CF_ALLOW_AGENT}, {"server-key ", CF_ALLOW_SERVER}};
    for (size_t k = 0; payload && k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        size_t plen = strlen(kinds[k].prefix);
        if (len < plen || memcmp(payload, kinds[k].prefix, plen) != 0)
            continue;
        size_t nlen = len - plen;
        if (nlen == 0 || nlen > CF_DB_CURVE_NAME_MAX || memchr(payload + plen, '\0', nlen))
            return CF_ERR_INVALID;
        memcpy(name, payload + plen, nlen);
        name[nlen] = '\0';
        if (s_check(kinds[k].kind, name) != CF_OK) {
            name[0] = '\0';
            return CF_ERR_INVALID;
        }
        *kind_out = kinds[k].kind;
        return CF_OK;
    }
    return CF_ERR_NOTFOUND;
}
