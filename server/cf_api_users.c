/*  cf_api_users - console users, the audit stream and the console policy (docs/API.md
    "Logins and audit"); every change is audited  */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cf_app.h"
#include "cf_auth.h"
#include "cf_db_audit.h"
#include "cf_db_user.h"
#include "cf_log.h"
#include "cf_mem.h"

#define S_USER_BODY     4096 /* POST /users: a name, a role and a 1024-byte password, escaped */
#define S_POLICY_BODY   1024 /* PUT /policy/console */
#define S_AUDIT_DEFAULT 100  /* events one GET /audit returns unless ?limit= says */
#define S_AUDIT_MAX     1000 /* largest ?limit= */

static json_t *s_user_json(const cf_db_user_t *u)
{
    return json_pack("{s:s,s:s,s:I}", "name", u->name, "role", cf_db_role_name(u->role), "created",
                     (json_int_t) u->created);
}

static void s_list(cf_req_t *req, void *app)
{
    cf_db_user_t *list = NULL;
    size_t n = 0;
    json_t *users = NULL;
    cf_store_t *store = cf_app_store_take(app);
    cf_err_t rc = cf_db_user_list(store, CF_DB_USERS_MAX, &list, &n);
    if (rc == CF_OK) {
        users = json_array();
        for (size_t i = 0; users && i < n; i++) {
            if (json_array_append_new(users, s_user_json(&list[i])) != 0) {
                json_decref(users);
                users = NULL;
            }
        }
        rc = users ? CF_OK : CF_ERR_NOMEM;
    }
    if (rc == CF_OK)
        cf_req_reply_json(req, 200, json_pack("{s:o}", "users", users));
    else
        cf_app_reply_err(req, rc, cf_store_why(store), "users");
    cf_app_store_give(app, store);
    cf_mem_free(list);
}

/* Check the body of POST /users into name, role and password; replies 400 and returns an
   error when one does not fit. The password is only checked against the rules here. */
static cf_err_t s_new_user(cf_req_t *req, const char **name, cf_db_role_t *role,
                           const char **password)
{
    json_t *body = cf_req_json(req);
    const char *r = json_string_value(json_object_get(body, "role"));
    cf_why_t why = {{0}};
    *name = json_string_value(json_object_get(body, "name"));
    *password = json_string_value(json_object_get(body, "password"));
    if (!*name || cf_db_check_user(*name) != CF_OK || strlen(*name) >= CF_ROUTER_USER_MAX) {
        cf_req_reply_error(req, 400, "invalid_request",
                           "name: 1..%d characters of [a-z0-9._@-], starting with a letter or "
                           "digit",
                           CF_ROUTER_USER_MAX - 1);
        return CF_ERR_INVALID;
    }
    if (cf_db_role_from_name(r, role) != CF_OK) {
        cf_req_reply_error(req, 400, "invalid_request", "role: \"admin\" or \"viewer\"");
        return CF_ERR_INVALID;
    }
    json_t *pw = json_object_get(body, "password");
    cf_err_t rc = *password ? cf_auth_password_check(*password, &why) : CF_ERR_INVALID;
    if (rc == CF_OK && strlen(*password) != json_string_length(pw))
        rc = CF_ERR_INVALID; /* an escaped NUL: not printable ASCII */
    if (rc != CF_OK)
        cf_req_reply_error(req, 400, "invalid_request", "password: %s",
                           why.text[0] ? why.text
                                       : "8..1024 printable ASCII characters are required");
    return rc;
}

static void s_add(cf_req_t *req, void *app)
{
    const char *name = NULL, *password = NULL;
    cf_db_role_t role = CF_DB_ROLE_VIEWER;
    char *hash = NULL;
    cf_why_t why = {{0}};
    cf_db_user_t u = {.created = (int64_t) time(NULL)};
    cf_store_t *store = cf_app_store_take(app);
    cf_err_t rc = s_new_user(req, &name, &role, &password);
    if (rc != CF_OK)
        goto out; /* answered */
    u.role = role;
    rc = cf_auth_password_hash(password, NULL, &hash, &why);
    if (rc == CF_OK)
        rc = cf_db_user_create(store, name, role, hash, u.created);
    if (rc == CF_OK) {
        memcpy(u.name, name, strlen(name) + 1);
        cf_req_reply_json(req, 201, s_user_json(&u));
    } else if (rc == CF_ERR_EXISTS) {
        cf_req_reply_error(req, 409, "conflict", "user %s exists", name);
    } else {
        cf_app_reply_err(req, rc, why.text[0] ? &why : cf_store_why(store), "user");
    }
out:
    cf_app_audit(app, store, req, "user.create",
                 name && cf_db_check_user(name) == CF_OK ? name : NULL, rc);
    cf_app_store_give(app, store);
    cf_mem_free(hash);
    json_t *pw = json_object_get(cf_req_json(req), "password");
    if (json_is_string(pw))
        cf_mem_wipe((char *) json_string_value(pw), json_string_length(pw));
}

static void s_remove(cf_req_t *req, void *app)
{
    const char *name = cf_req_param(req, "name");
    cf_store_t *store = cf_app_store_take(app);
    cf_err_t rc = name && cf_db_check_user(name) == CF_OK ? CF_OK : CF_ERR_NOTFOUND;
    /* the user's sessions end with it: cf_db_session_get finds no user and drops them; the
       last admin is kept by cf_db_user_remove itself, in the same step as the removal */
    if (rc == CF_OK)
        rc = cf_db_user_remove(store, name);
    if (rc == CF_OK)
        cf_req_reply_json(req, 200, NULL);
    else if (rc == CF_ERR_NOTFOUND)
        cf_req_reply_error(req, 404, "not_found", "no user of that name");
    else if (rc == CF_ERR_STATE)
        cf_req_reply_error(req, 409, "conflict", "%s is the last admin and cannot be removed",
                           name);
    else
        cf_app_reply_err(req, rc, cf_store_why(store), "user");
    cf_app_audit(app, store, req, "user.remove",
                 name && cf_db_check_user(name) == CF_OK ? name : NULL, rc);
    cf_app_store_give(app, store);
}

/* ?name= as decimal digits (no sign, no blanks) in min..max, def when absent; replies
   400 and returns -1 when it is not one. */
static int s_query_int(cf_req_t *req, const char *name, long long min, long long max, long long def,
                       long long *out)
{
    const char *v = cf_req_query(req, name);
    long long n = 0;
    size_t len = v ? strlen(v) : 0;
    *out = def;
    if (!v)
        return 0;
    for (size_t i = 0; len <= 18 && i < len && v[i] >= '0' && v[i] <= '9'; i++)
        n = n * 10 + (v[i] - '0');
    if (len == 0 || len > 18 || strspn(v, "0123456789") != len || n < min || n > max) {
        cf_req_reply_error(req, 400, "invalid_request", "%s: an integer in %lld..%lld", name, min,
                           max);
        return -1;
    }
    *out = n;
    return 0;
}

static json_t *s_events_json(const cf_db_audit_t *ev, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        json_t *e = json_pack("{s:s,s:I,s:s,s:s,s:s,s:s,s:s,s:s}", "id", ev[i].id, "time",
                              (json_int_t) (ev[i].time_ms / 1000), "who", ev[i].who, "role",
                              ev[i].role, "what", ev[i].what, "target", ev[i].target, "result",
                              ev[i].result, "from", ev[i].from);
        if (json_array_append_new(a, e) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static void s_audit(cf_req_t *req, void *app)
{
    long long since = 0, limit = 0;
    if (s_query_int(req, "since", 0, INT64_MAX / 1000, 0, &since) != 0 ||
        s_query_int(req, "limit", 1, S_AUDIT_MAX, S_AUDIT_DEFAULT, &limit) != 0)
        return;
    const char *cursor = cf_req_query(req, "cursor");
    cf_db_audit_t *list = NULL;
    size_t n = 0;
    cf_store_t *store = cf_app_store_take(app);
    cf_err_t rc = cf_db_audit_read(store, since, cursor, (size_t) limit, &list, &n);
    json_t *events = rc == CF_OK ? s_events_json(list, n) : NULL;
    if (events) {
        /* a full page may have more behind it: its last id is where the next one starts */
        json_t *next = n == (size_t) limit ? json_string(list[n - 1].id) : json_null();
        cf_req_reply_json(req, 200, json_pack("{s:o,s:o}", "events", events, "cursor", next));
    } else if (rc == CF_ERR_INVALID) {
        cf_req_reply_error(req, 400, "invalid_request", "cursor: not an audit event id");
    } else {
        cf_app_reply_err(req, rc == CF_OK ? CF_ERR_NOMEM : rc, cf_store_why(store), "audit");
    }
    cf_app_store_give(app, store);
    cf_mem_free(list);
}

static void s_policy(cf_req_t *req, void *app)
{
    json_t *v = json_object_get(cf_req_json(req), "save_logins");
    cf_db_policy_t policy = {json_is_true(v)};
    cf_store_t *store = cf_app_store_take(app);
    cf_err_t rc = json_is_boolean(v) ? cf_db_policy_set(store, &policy) : CF_ERR_INVALID;
    if (rc == CF_OK)
        cf_req_reply_json(req, 200, json_pack("{s:b}", "save_logins", policy.save_logins));
    else if (rc == CF_ERR_INVALID)
        cf_req_reply_error(req, 400, "invalid_request", "save_logins: true or false");
    else
        cf_app_reply_err(req, rc, cf_store_why(store), "console policy");
    cf_app_audit(app, store, req, "policy.console",
                 rc == CF_ERR_INVALID ? NULL
                 : policy.save_logins ? "save_logins=true"
                                      : "save_logins=false",
                 rc);
    cf_app_store_give(app, store);
}

static const cf_route_t s_routes[] = {
    {"GET", "/api/v1/users", CF_ACCESS_ADMIN, s_list, 0, 0},
    {"POST", "/api/v1/users", CF_ACCESS_ADMIN, s_add, CF_ROUTE_JSON, S_USER_BODY},
    {"DELETE", "/api/v1/users/:name", CF_ACCESS_ADMIN, s_remove, 0, 0},
    {"GET", "/api/v1/audit", CF_ACCESS_ADMIN, s_audit, 0, 0},
    {"PUT", "/api/v1/policy/console", CF_ACCESS_ADMIN, s_policy, CF_ROUTE_JSON, S_POLICY_BODY},
};

size_t cf_api_users_routes(const cf_route_t **routes_out)
{
    *routes_out = s_routes;
    return sizeof(s_routes) / sizeof(s_routes[0]);
}
