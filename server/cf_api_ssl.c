/*  cf_api_ssl - the SSL configuration routes: show, partial update, migration readiness  */
#include <stdio.h>
#include <string.h>

#include "cf_api_agents.h"
#include "cf_app.h"
#include "cf_db_agent.h"
#include "cf_db_ssl.h"
#include "cf_log.h"
#include "cf_mem.h"

#define S_TARGET_MAX 256 /* audit target text, bytes with the NUL */

/* Reply with body, or 500 when building it ran out of memory. */
static void s_reply(cf_req_t *req, int status, json_t *body)
{
    if (!body)
        cf_app_reply_err(req, CF_ERR_NOMEM, NULL, "answer");
    else
        cf_req_reply_json(req, status, body);
}

/* The configuration in the API's shape, with the migration readiness counts. */
static json_t *s_ssl_json(const cf_db_ssl_t *cfg, const cf_db_agent_counts_t *counts)
{
    return json_pack("{s:b,s:b,s:s,s:b,s:i,s:{s:I,s:I}}", "enabled", cfg->enabled, "allow_plain",
                     cfg->allow_plain, "min_tls", cfg->min_tls, "auto_renew", cfg->auto_renew,
                     "renew_days", cfg->renew_days, "migration", "insecure_agents",
                     (json_int_t) counts->n[CF_DB_LOCK_INSECURE], "total_agents",
                     (json_int_t) counts->total);
}

/* Read the configuration and the counts (2 RT) and answer them. */
static void s_answer(cf_req_t *req, cf_store_t *store, const cf_db_ssl_t *known)
{
    cf_db_ssl_t cfg;
    cf_db_agent_counts_t counts;
    cf_err_t rc = CF_OK;
    if (known)
        cfg = *known;
    else
        rc = cf_db_ssl_get(store, &cfg);
    if (rc == CF_OK)
        rc = cf_db_agent_counts(store, &counts);
    if (rc == CF_OK)
        s_reply(req, 200, s_ssl_json(&cfg, &counts));
    else
        cf_app_reply_err(req, rc, cf_store_why(store), "ssl configuration");
}

/* GET /api/v1/ssl */
static void s_get(cf_req_t *req, void *arg)
{
    cf_app_t *app = arg;
    cf_store_t *store = cf_app_store_take(app);
    s_answer(req, store, NULL);
    cf_app_store_give(app, store);
}

/* A boolean field into *out. */
static cf_err_t s_bool(const char *key, const json_t *v, int *out, cf_why_t *why)
{
    if (!json_is_boolean(v))
        return cf_why(why, CF_ERR_INVALID, "%s must be true or false", key);
    *out = json_is_true(v);
    return CF_OK;
}

/* One field of a PUT body into vals; its CF_DB_SSL_* bit into *mask. */
static cf_err_t s_field(const char *key, const json_t *v, cf_db_ssl_t *vals, unsigned *mask,
                        cf_why_t *why)
{
    if (strcmp(key, "enabled") == 0) {
        *mask |= CF_DB_SSL_ENABLED;
        return s_bool(key, v, &vals->enabled, why);
    }
    if (strcmp(key, "allow_plain") == 0) {
        *mask |= CF_DB_SSL_ALLOW_PLAIN;
        return s_bool(key, v, &vals->allow_plain, why);
    }
    if (strcmp(key, "auto_renew") == 0) {
        *mask |= CF_DB_SSL_AUTO_RENEW;
        return s_bool(key, v, &vals->auto_renew, why);
    }
    if (strcmp(key, "min_tls") == 0) {
        cf_tls_version_t tls = CF_TLS_1_2;
        if (!json_is_string(v) || cf_tls_version_from_name(json_string_value(v), &tls) != CF_OK)
            return cf_why(why, CF_ERR_INVALID,
                          "min_tls must be \"1.0\", \"1.1\", \"1.2\" or \"1.3\"");
        snprintf(vals->min_tls, sizeof(vals->min_tls), "%s", cf_tls_version_name(tls));
        *mask |= CF_DB_SSL_MIN_TLS;
        return CF_OK;
    }
    if (strcmp(key, "renew_days") == 0) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
            json_integer_value(v) > CF_DB_RENEW_DAYS_MAX)
            return cf_why(why, CF_ERR_INVALID, "renew_days must be an integer 1..%d",
                          CF_DB_RENEW_DAYS_MAX);
        vals->renew_days = (int) json_integer_value(v);
        *mask |= CF_DB_SSL_RENEW_DAYS;
        return CF_OK;
    }
    return cf_why(why, CF_ERR_INVALID, "unknown field '%.64s'", key);
}

/* The fields of a PUT body; CF_ERR_INVALID (why says which) for a bad or unknown one, or
   none at all. */
static cf_err_t s_parse(const json_t *body, cf_db_ssl_t *vals, unsigned *mask, cf_why_t *why)
{
    const char *key = NULL;
    json_t *v = NULL;
    memset(vals, 0, sizeof(*vals));
    *mask = 0;
    if (!body)
        return cf_why(why, CF_ERR_INVALID, "a JSON body with the fields to change is required");
    json_object_foreach((json_t *) body, key, v)
    {
        CF_TRY(s_field(key, v, vals, mask, why));
    }
    if (*mask == 0)
        return cf_why(why, CF_ERR_INVALID, "no field to change");
    return CF_OK;
}

/* "allow_plain=false min_tls=1.3": what a PUT changes, for the audit stream. */
static void s_target(const cf_db_ssl_t *v, unsigned mask, char *buf, size_t len)
{
    static const char *const b[] = {"false", "true"};
    char days[16];
    snprintf(days, sizeof(days), "%d", v->renew_days);
    const struct {
        unsigned bit;     /* CF_DB_SSL_* */
        const char *name; /* field name */
        const char *val;  /* its new value as text */
    } f[] = {
        {CF_DB_SSL_ENABLED, "enabled", b[v->enabled != 0]},
        {CF_DB_SSL_ALLOW_PLAIN, "allow_plain", b[v->allow_plain != 0]},
        {CF_DB_SSL_MIN_TLS, "min_tls", v->min_tls},
        {CF_DB_SSL_AUTO_RENEW, "auto_renew", b[v->auto_renew != 0]},
        {CF_DB_SSL_RENEW_DAYS, "renew_days", days},
    };
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]) && used < len; i++) {
        if (!(mask & f[i].bit))
            continue;
        int n = snprintf(buf + used, len - used, "%s%s=%s", used ? " " : "", f[i].name, f[i].val);
        used += n > 0 ? (size_t) n : 0;
    }
}

/* PUT /api/v1/ssl: change the named fields (one Lua step that bumps the version and
   publishes "ssl": every server's control thread applies the switch, this one too). */
static void s_put(cf_req_t *req, void *arg)
{
    cf_app_t *app = arg;
    cf_db_ssl_t vals, after;
    unsigned mask = 0;
    cf_why_t why = {""};
    char target[S_TARGET_MAX];
    cf_store_t *store = cf_app_store_take(app);
    cf_err_t rc = s_parse(cf_req_json(req), &vals, &mask, &why);
    if (rc != CF_OK) {
        cf_app_audit(app, store, req, "ssl.update", NULL, rc);
        cf_app_reply_err(req, rc, &why, "ssl configuration");
        goto out;
    }
    s_target(&vals, mask, target, sizeof(target));
    rc = cf_db_ssl_update(store, &vals, mask, &after);
    cf_app_audit(app, store, req, "ssl.update", target, rc);
    if (rc != CF_OK) {
        cf_app_reply_err(req, rc, cf_store_why(store), "ssl configuration");
        goto out;
    }
    cf_log(CF_LOG_INFO, "ssl updated %s version=%lld", target, (long long) after.version);
    s_answer(req, store, &after);
out:
    cf_app_store_give(app, store);
}

/* GET /api/v1/ssl/insecure?limit=&cursor=: the agents whose last check-in had no
   certificate, oldest first (the migration's to-do list). */
static void s_insecure(cf_req_t *req, void *arg)
{
    cf_app_t *app = arg;
    size_t limit = 0, n = 0;
    const char *cursor = NULL;
    if (!cf_api_page_args(req, &limit, &cursor))
        return;
    cf_db_agent_t *list = NULL;
    char next[CF_DB_CURSOR_MAX];
    cf_store_t *store = cf_app_store_take(app);
    cf_err_t rc = cf_db_agent_list(store, CF_DB_LOCK_INSECURE, cursor, limit, &list, &n, next);
    if (rc != CF_OK) {
        cf_app_reply_err(req, rc, cf_store_why(store), "insecure agents");
        goto out;
    }
    json_t *agents = json_array();
    for (size_t i = 0; agents && i < n; i++) {
        json_t *a = json_pack("{s:s,s:I,s:s}", "id", list[i].id, "last_seen",
                              (json_int_t) list[i].last_seen, "last_addr", list[i].last_addr);
        if (!a || json_array_append_new(agents, a) != 0) {
            json_decref(agents);
            agents = NULL;
        }
    }
    json_t *body =
        agents ? json_pack("{s:o,s:s?}", "agents", agents, "cursor", next[0] ? next : NULL) : NULL;
    s_reply(req, 200, body);
out:
    cf_mem_free(list);
    cf_app_store_give(app, store);
}

static const cf_route_t s_routes[] = {
    {"GET", "/api/v1/ssl", CF_ACCESS_VIEWER, s_get, 0, 0},
    {"PUT", "/api/v1/ssl", CF_ACCESS_ADMIN, s_put, CF_ROUTE_JSON, 0},
    {"GET", "/api/v1/ssl/insecure", CF_ACCESS_VIEWER, s_insecure, 0, 0},
};

size_t cf_api_ssl_routes(const cf_route_t **routes_out)
{
    *routes_out = s_routes;
    return sizeof(s_routes) / sizeof(s_routes[0]);
}
