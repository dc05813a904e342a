/*  cf_db_ssl - the SSL configuration in cf:ssl: read, update with a version bump and an event  */
#include "cf_db_ssl.h"

#include <string.h>

#include "cf_db_key.h"
#include "cf_db_util.h"

/* Fields in HMGET order; the update script answers them in this order too. */
static const char *const s_fields[] = {"enabled",    "allow_plain", "min_tls",
                                       "auto_renew", "renew_days",  "version"};
#define N_FIELDS 6

/* KEYS[1] cf:ssl; ARGV field/value pairs to set. */
static const char s_lua_update[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return false end\n"
    "redis.call('HSET', KEYS[1], unpack(ARGV))\n"
    "redis.call('HINCRBY', KEYS[1], 'version', 1)\n"
    "redis.call('PUBLISH', 'cf:events', 'ssl')\n"
    "return redis.call('HMGET', KEYS[1], 'enabled', 'allow_plain', 'min_tls', 'auto_renew',\n"
    "                  'renew_days', 'version')\n";

void cf_db_ssl_defaults(cf_db_ssl_t *out)
{
    memset(out, 0, sizeof(*out));
    out->enabled = 1;
    out->allow_plain = 1;
    memcpy(out->min_tls, "1.2", 4);
    out->auto_renew = 0;
    out->renew_days = 30;
    out->version = 1;
}

static int s_tls_ok(const char *v)
{
    static const char *const ok[] = {"1.0", "1.1", "1.2", "1.3"};
    for (size_t i = 0; i < 4; i++)
        if (strncmp(v, ok[i], 4) == 0)
            return 1;
    return 0;
}

static int s_bool(int v)
{
    return v == 0 || v == 1;
}

cf_err_t cf_db_ssl_check(const cf_db_ssl_t *cfg)
{
    if (!cfg || !s_bool(cfg->enabled) || !s_bool(cfg->allow_plain) || !s_bool(cfg->auto_renew) ||
        !s_tls_ok(cfg->min_tls) || cfg->renew_days < 1 || cfg->renew_days > CF_DB_RENEW_DAYS_MAX)
        return CF_ERR_INVALID;
    return CF_OK;
}

/* Field/value pairs of the fields in mask into fv (10 slots) with numbers in nums. */
static int s_pairs(const cf_db_ssl_t *c, unsigned mask, const char **fv, char nums[][CF_DB_I64_BUF])
{
    int n = 0;
    const int v[] = {c->enabled, c->allow_plain, 0, c->auto_renew, c->renew_days};
    for (int i = 0; i < 5; i++) {
        if (!(mask & (1u << i)))
            continue;
        fv[n++] = s_fields[i];
        fv[n++] = i == 2 ? c->min_tls : cf_db_i64(nums[i], v[i]);
    }
    return n / 2;
}

cf_err_t cf_db_ssl_create(cf_store_t *store, const cf_db_ssl_t *cfg)
{
    CF_ASSERT(store);
    if (cf_db_ssl_check(cfg) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "bad SSL configuration");
    const char *fv[12];
    char nums[5][CF_DB_I64_BUF];
    int n = s_pairs(cfg, CF_DB_SSL_ALL, fv, nums);
    fv[2 * n] = "version";
    fv[2 * n + 1] = "1";
    return cf_db_hash_create(store, CF_DB_K_SSL, NULL, NULL, "ssl", n + 1, fv, NULL);
}

static cf_err_t s_decode(cf_store_t *store, const redisReply *r, cf_db_ssl_t *out)
{
    cf_why_t *why = cf_db_why(store);
    CF_TRY(cf_db_r_array(r, N_FIELDS, N_FIELDS, "cf:ssl", why));
    int64_t v[N_FIELDS] = {0};
    for (size_t i = 0; i < N_FIELDS; i++) {
        if (i == 2)
            continue;
        CF_TRY(cf_db_r_int(r->element[i], 0, 0, i == 5 ? INT64_MAX : CF_DB_RENEW_DAYS_MAX, &v[i],
                           s_fields[i], why));
    }
    CF_TRY(cf_db_r_text(r->element[2], 0, out->min_tls, 3, "min_tls", why));
    out->enabled = (int) v[0];
    out->allow_plain = (int) v[1];
    out->auto_renew = (int) v[3];
    out->renew_days = (int) v[4];
    out->version = v[5];
    if (cf_db_ssl_check(out) != CF_OK)
        return cf_db_fail(store, CF_ERR_CORRUPT, "cf:ssl holds a value out of range");
    return CF_OK;
}

cf_err_t cf_db_ssl_get(cf_store_t *store, cf_db_ssl_t *out)
{
    CF_ASSERT(store && out);
    memset(out, 0, sizeof(*out));
    redisReply *r = NULL;
    CF_TRY(cf_store_cmd_idem(store, &r,
                             "HMGET %s enabled allow_plain min_tls auto_renew renew_days version",
                             CF_DB_K_SSL));
    cf_err_t rc = CF_OK;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == N_FIELDS && cf_db_r_nil(r->element[0]) &&
        cf_db_r_nil(r->element[5]))
        rc = cf_db_fail(store, CF_ERR_NOTFOUND, "no SSL configuration (run cf-server --init)");
    else
        rc = s_decode(store, r, out);
    freeReplyObject(r);
    if (rc != CF_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

cf_err_t cf_db_ssl_update(cf_store_t *store, const cf_db_ssl_t *vals, unsigned mask,
                          cf_db_ssl_t *out)
{
    CF_ASSERT(store && vals);
    cf_db_ssl_t probe;
    cf_db_ssl_defaults(&probe); /* check only the named fields: others take valid defaults */
    if (mask & CF_DB_SSL_ENABLED)
        probe.enabled = vals->enabled;
    if (mask & CF_DB_SSL_ALLOW_PLAIN)
        probe.allow_plain = vals->allow_plain;
    if (mask & CF_DB_SSL_MIN_TLS)
        memcpy(probe.min_tls, vals->min_tls, sizeof(probe.min_tls));
    if (mask & CF_DB_SSL_AUTO_RENEW)
        probe.auto_renew = vals->auto_renew;
    if (mask & CF_DB_SSL_RENEW_DAYS)
        probe.renew_days = vals->renew_days;
    probe.min_tls[3] = '\0';
    if ((mask & CF_DB_SSL_ALL) == 0 || (mask & ~CF_DB_SSL_ALL) || cf_db_ssl_check(&probe) != CF_OK)
        return cf_db_fail(store, CF_ERR_INVALID, "bad SSL configuration change");
    const char *argv[1 + 10];
    char nums[5][CF_DB_I64_BUF];
    argv[0] = CF_DB_K_SSL;
    int n = s_pairs(&probe, mask, argv + 1, nums);
    redisReply *r = NULL;
    CF_TRY(cf_db_eval(store, s_lua_update, 0, &r, 1, 2 * n, argv, NULL));
    cf_db_ssl_t now;
    cf_err_t rc = cf_db_r_nil(r) ? cf_db_fail(store, CF_ERR_NOTFOUND, "no SSL configuration")
                                 : s_decode(store, r, &now);
    freeReplyObject(r);
    if (rc == CF_OK && out)
        *out = now;
    return rc;
}
