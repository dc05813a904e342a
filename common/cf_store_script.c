/*  cf_store_script - Lua scripts (EVALSHA, EVAL on NOSCRIPT), SCAN iteration, leases  */
#include "cf_store_int.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "cf_mem.h"

struct cf_store_script {
    char *body;   /* the Lua source, owned */
    size_t len;   /* bytes in body */
    char sha[41]; /* lowercase hex SHA-1 of body, as Redis names scripts */
};

/* Only the owner may extend or delete a lease: compare the value, then act, atomically. */
static const char s_lua_renew[] = "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
                                  "  return redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
                                  "end\n"
                                  "return 0\n";
static const char s_lua_release[] = "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
                                    "  return redis.call('DEL', KEYS[1])\n"
                                    "end\n"
                                    "return 0\n";

cf_err_t cf_store_script_new(const char *lua, cf_store_script_t **script_out)
{
    if (!lua || !*lua || !script_out)
        return CF_ERR_INVALID;
    *script_out = NULL;
    size_t len = strnlen(lua, CF_STORE_CMD_MAX_BYTES / 2 + 1);
    if (len > CF_STORE_CMD_MAX_BYTES / 2)
        return CF_ERR_TOOBIG;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(lua, len, md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20)
        return CF_ERR_CRYPTO;
    cf_store_script_t *self = cf_mem_calloc(1, sizeof(*self));
    if (!self)
        return CF_ERR_NOMEM;
    self->body = cf_mem_memdup(lua, len + 1);
    if (!self->body) {
        cf_mem_free(self);
        return CF_ERR_NOMEM;
    }
    self->len = len;
    for (unsigned int i = 0; i < mdlen; i++)
        snprintf(self->sha + (size_t) 2 * i, 3, "%02x", md[i]);
    *script_out = self;
    return CF_OK;
}

void cf_store_script_destroy(cf_store_script_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_mem_free((*self_p)->body);
    cf_mem_free(*self_p);
    *self_p = NULL;
}

const char *cf_store_script_sha(const cf_store_script_t *self)
{
    CF_ASSERT(self);
    return self->sha;
}

cf_err_t cf_store_script_load(cf_store_t *store, const cf_store_script_t *script)
{
    CF_ASSERT(store && script);
    redisReply *reply = NULL;
    const char *argv[] = {"SCRIPT", "LOAD", script->body};
    size_t lens[] = {6, 4, script->len};
    CF_TRY(cf_store_cmd_argv(store, CF_STORE_IDEMPOTENT, &reply, 3, argv, lens));
    cf_err_t rc = CF_OK;
    if (reply->type != REDIS_REPLY_STRING || reply->len != 40 ||
        memcmp(reply->str, script->sha, 40) != 0)
        rc = cf_why(&store->why, CF_ERR_CORRUPT, "SCRIPT LOAD answered another SHA-1");
    freeReplyObject(reply);
    return rc;
}

static int s_is_noscript(const cf_store_t *store, cf_err_t rc)
{
    return rc == CF_ERR_NOTFOUND && strncmp(store->why.text, "redis: NOSCRIPT", 15) == 0;
}

cf_err_t cf_store_script_call(cf_store_t *store, const cf_store_script_t *script, int flags,
                              redisReply **reply_out, int nkeys, int nargs, const char **argv,
                              const size_t *argvlen)
{
    CF_ASSERT(store && script);
    if (reply_out)
        *reply_out = NULL;
    if (nkeys < 0 || nargs < 0 || nkeys > CF_STORE_ARGC_MAX - 3 - nargs ||
        (nkeys + nargs > 0 && !argv))
        return cf_why(&store->why, CF_ERR_INVALID, "bad script key/argument counts");
    int argc = 3 + nkeys + nargs;
    const char **av = cf_mem_calloc((size_t) argc, sizeof(*av));
    size_t *lens = cf_mem_calloc((size_t) argc, sizeof(*lens));
    cf_err_t rc = cf_why(&store->why, CF_ERR_NOMEM, "out of memory building a script call");
    if (!av || !lens)
        goto out;
    char nk[16];
    snprintf(nk, sizeof(nk), "%d", nkeys);
    av[0] = "EVALSHA";
    av[1] = script->sha;
    av[2] = nk;
    lens[0] = 7;
    lens[1] = 40;
    lens[2] = strlen(nk);
    for (int i = 0; i < nkeys + nargs; i++) {
        av[3 + i] = argv[i];
        lens[3 + i] = argvlen ? argvlen[i] : (argv[i] ? strlen(argv[i]) : 0);
    }
    rc = cf_store_cmd_argv(store, flags, reply_out, argc, av, lens);
    if (s_is_noscript(store, rc)) {
        /* NOSCRIPT means nothing ran: sending the body is safe even for non-idempotent work */
        av[0] = "EVAL";
        lens[0] = 4;
        av[1] = script->body;
        lens[1] = script->len;
        rc = cf_store_cmd_argv(store, flags, reply_out, argc, av, lens);
    }
out:
    cf_mem_free(av);
    cf_mem_free(lens);
    return rc;
}

/* Check a SCAN reply: [cursor, [item...]] with a decimal cursor. */
static cf_err_t s_scan_shape(cf_store_t *self, const redisReply *r, char *cursor, size_t cap)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY ||
        r->element[0]->len == 0 || r->element[0]->len >= cap)
        return cf_why(&self->why, CF_ERR_CORRUPT, "SCAN reply is not [cursor, [items]]");
    for (size_t i = 0; i < r->element[0]->len; i++)
        if (r->element[0]->str[i] < '0' || r->element[0]->str[i] > '9')
            return cf_why(&self->why, CF_ERR_CORRUPT, "SCAN cursor is not a number");
    for (size_t i = 0; i < r->element[1]->elements; i++)
        if (r->element[1]->element[i]->type != REDIS_REPLY_STRING)
            return cf_why(&self->why, CF_ERR_CORRUPT, "SCAN item is not a string");
    memcpy(cursor, r->element[0]->str, r->element[0]->len + 1);
    return CF_OK;
}

/* Feed the items of one SCAN reply to fn; *stop set when fn asked to stop. */
static cf_err_t s_scan_feed(cf_store_t *self, const redisReply *items, size_t max_items,
                            size_t *seen, cf_store_scan_fn *fn, void *arg, int *stop)
{
    for (size_t i = 0; i < items->elements && !*stop; i++) {
        if (*seen == max_items)
            return cf_why(&self->why, CF_ERR_TOOBIG, "more than %zu items", max_items);
        (*seen)++;
        *stop = fn(arg, items->element[i]->str, items->element[i]->len) != 0;
    }
    return CF_OK;
}

/* SCAN / SSCAN key: argv is {cmd, [key], cursor, MATCH, pattern, COUNT, n}. */
static cf_err_t s_scan(cf_store_t *self, const char *cmd, const char *key, const char *match,
                       size_t count, size_t max_items, cf_store_scan_fn *fn, void *arg)
{
    CF_ASSERT(self && fn);
    if (max_items == 0 || count > 100000 ||
        (match && strnlen(match, CF_STORE_KEY_MAX + 1) > CF_STORE_KEY_MAX) ||
        (key && strnlen(key, CF_STORE_KEY_MAX + 1) > CF_STORE_KEY_MAX))
        return cf_why(&self->why, CF_ERR_INVALID,
                      "bad SCAN arguments (caps: key/pattern %d "
                      "bytes, COUNT 100000)",
                      CF_STORE_KEY_MAX);
    char cursor[24] = "0";
    char cnt[24];
    snprintf(cnt, sizeof(cnt), "%zu", count ? count : 100);
    const char *argv[7];
    int argc = 0;
    argv[argc++] = cmd;
    if (key)
        argv[argc++] = key;
    int cursor_at = argc;
    argv[argc++] = cursor;
    argv[argc++] = "MATCH";
    argv[argc++] = match ? match : "*";
    argv[argc++] = "COUNT";
    argv[argc++] = cnt;
    size_t seen = 0;
    int stop = 0;
    for (long calls = 0; calls < CF_STORE_SCAN_MAX_CALLS; calls++) {
        redisReply *r = NULL;
        argv[cursor_at] = cursor;
        CF_TRY(cf_store_cmd_argv(self, CF_STORE_IDEMPOTENT, &r, argc, argv, NULL));
        cf_err_t rc = s_scan_shape(self, r, cursor, sizeof(cursor));
        if (rc == CF_OK)
            rc = s_scan_feed(self, r->element[1], max_items, &seen, fn, arg, &stop);
        freeReplyObject(r);
        if (rc != CF_OK || stop || strcmp(cursor, "0") == 0)
            return rc;
    }
    return cf_why(&self->why, CF_ERR_TOOBIG, "SCAN did not finish in %d calls",
                  CF_STORE_SCAN_MAX_CALLS);
}

cf_err_t cf_store_scan(cf_store_t *self, const char *match, size_t count, size_t max_items,
                       cf_store_scan_fn *fn, void *arg)
{
    return s_scan(self, "SCAN", NULL, match, count, max_items, fn, arg);
}

cf_err_t cf_store_sscan(cf_store_t *self, const char *key, const char *match, size_t count,
                        size_t max_items, cf_store_scan_fn *fn, void *arg)
{
    if (!key || !*key)
        return cf_why(self ? &self->why : NULL, CF_ERR_INVALID, "SSCAN needs a key");
    return s_scan(self, "SSCAN", key, match, count, max_items, fn, arg);
}

cf_err_t cf_store_lease_init(cf_store_t *self)
{
    CF_TRY(cf_store_script_new(s_lua_renew, &self->lease_renew));
    return cf_store_script_new(s_lua_release, &self->lease_release);
}

static cf_err_t s_lease_args(cf_store_t *self, const char *name, const char *owner, long ttl_ms,
                             int need_ttl)
{
    if (!name || !*name || strnlen(name, CF_STORE_KEY_MAX + 1) > CF_STORE_KEY_MAX)
        return cf_why(&self->why, CF_ERR_INVALID, "lease name must be 1..%d bytes",
                      CF_STORE_KEY_MAX);
    if (!owner || !*owner || strnlen(owner, CF_STORE_OWNER_MAX + 1) > CF_STORE_OWNER_MAX)
        return cf_why(&self->why, CF_ERR_INVALID, "lease owner must be 1..%d bytes",
                      CF_STORE_OWNER_MAX);
    if (need_ttl && (ttl_ms < 1 || ttl_ms > CF_STORE_LEASE_MAX_MS))
        return cf_why(&self->why, CF_ERR_INVALID, "lease TTL must be 1..%ld ms",
                      CF_STORE_LEASE_MAX_MS);
    return CF_OK;
}

/* Run a lease script and return its integer result in *out. */
static cf_err_t s_lease_script(cf_store_t *self, const cf_store_script_t *script, const char *name,
                               const char *owner, const char *ttl, long *out)
{
    const char *argv[] = {name, owner, ttl};
    redisReply *r = NULL;
    CF_TRY(cf_store_script_call(self, script, CF_STORE_IDEMPOTENT, &r, 1, ttl ? 2 : 1, argv, NULL));
    cf_err_t rc = CF_OK;
    if (r->type != REDIS_REPLY_INTEGER)
        rc = cf_why(&self->why, CF_ERR_CORRUPT, "lease script did not answer an integer");
    else
        *out = (long) r->integer;
    freeReplyObject(r);
    return rc;
}

cf_err_t cf_store_lease_renew(cf_store_t *self, const char *name, const char *owner_id, long ttl_ms,
                              int *held)
{
    CF_ASSERT(self && held);
    *held = 0;
    CF_TRY(s_lease_args(self, name, owner_id, ttl_ms, 1));
    char ttl[24];
    snprintf(ttl, sizeof(ttl), "%ld", ttl_ms);
    long v = 0;
    CF_TRY(s_lease_script(self, self->lease_renew, name, owner_id, ttl, &v));
    *held = v == 1;
    return CF_OK;
}

cf_err_t cf_store_lease_acquire(cf_store_t *self, const char *name, const char *owner_id,
                                long ttl_ms, int *got)
{
    CF_ASSERT(self && got);
    *got = 0;
    CF_TRY(s_lease_args(self, name, owner_id, ttl_ms, 1));
    char ttl[24];
    snprintf(ttl, sizeof(ttl), "%ld", ttl_ms);
    const char *argv[] = {"SET", name, owner_id, "NX", "PX", ttl};
    redisReply *r = NULL;
    /* idempotent: if a lost reply hid our success, the SET NX retry finds our own value and
       the renew below confirms it */
    CF_TRY(cf_store_cmd_argv(self, CF_STORE_IDEMPOTENT, &r, 6, argv, NULL));
    int set = r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    if (set) {
        *got = 1;
        return CF_OK;
    }
    return cf_store_lease_renew(self, name, owner_id, ttl_ms, got);
}

cf_err_t cf_store_lease_release(cf_store_t *self, const char *name, const char *owner_id,
                                int *released)
{
    CF_ASSERT(self && released);
    *released = 0;
    CF_TRY(s_lease_args(self, name, owner_id, 0, 0));
    long v = 0;
    CF_TRY(s_lease_script(self, self->lease_release, name, owner_id, NULL, &v));
    *released = v == 1;
    return CF_OK;
}
