/*  cf_api_session - health, login with a failed-login throttle, logout, session, and the
    router's session check (docs/API.md "Session")  */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cf_app.h"
#include "cf_auth.h"
#include "cf_db_audit.h"
#include "cf_db_user.h"
#include "cf_log.h"
#include "cf_mem.h"
#include "cf_throttle.h"

#define S_LOGIN_BODY 4096 /* login body cap: a 1024-byte password, escaped, and a name */

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- health -------------------------------------------------------------------------- */

/* The health answer's text per (alias, tls, client_cert), kept per worker thread and made
   once: tls and the certificate kind are constant strings (OpenSSL's version names, the
   component names), so their addresses tell them apart; the alias is compared as text. */
typedef struct {
    const char *tls;  /* peer->tls_version as the key; NULL = empty slot */
    const char *cert; /* client_cert as the key */
    char alias[128];  /* the alias it was made for */
    size_t len;       /* text's length */
    char text[256];   /* the answer */
} s_health_text_t;

static _Thread_local s_health_text_t s_health_texts[4];

/* The cached text, made on a miss; NULL when it does not fit (the caller builds a tree). */
static const s_health_text_t *s_health_text(void *app, const char *tls, const char *cert)
{
    const char *alias = cf_app_alias(app);
    static _Thread_local unsigned s_next;
    for (size_t i = 0; i < 4; i++) {
        s_health_text_t *h = &s_health_texts[i];
        if (h->tls == tls && h->cert == cert && strcmp(h->alias, alias) == 0)
            return h;
    }
    s_health_text_t *h = &s_health_texts[s_next++ % 4];
    /* a fixed shape of JSON-safe pieces (a checked alias, OpenSSL's version names) */
    int n = snprintf(h->text, sizeof(h->text),
                     "{\"status\":\"ok\",\"alias\":\"%s\",\"version\":\"%s\",\"tls\":\"%s\","
                     "\"client_cert\":\"%s\"}",
                     alias, cf_app_version(app), tls, cert);
    if (n <= 0 || (size_t) n >= sizeof(h->text) || strlen(alias) >= sizeof(h->alias)) {
        h->tls = NULL;
        return NULL;
    }
    h->len = (size_t) n;
    memcpy(h->alias, alias, strlen(alias) + 1);
    h->tls = tls;
    h->cert = cert;
    return h;
}

static void s_health(cf_req_t *req, void *app)
{
    const cf_https_peer_t *peer = cf_req_peer(req);
    const char *cert = "none";
    if (peer->cert) {
        switch (peer->component) {
        case CF_COMPONENT_CONSOLE:
        case CF_COMPONENT_AGENT:
        case CF_COMPONENT_SERVER: cert = cf_component_name(peer->component); break;
        default: cert = "other"; break;
        }
    }
    const char *tls = peer->tls_version ? peer->tls_version : "none";
    const s_health_text_t *h = s_health_text(app, tls, cert);
    if (h)
        cf_req_reply_text(req, 200, "application/json", h->text, h->len);
    else
        cf_req_reply_json(req, 200,
                          json_pack("{s:s,s:s,s:s,s:s,s:s}", "status", "ok", "alias",
                                    cf_app_alias(app), "version", cf_app_version(app), "tls", tls,
                                    "client_cert", cert));
}

/* ---- login --------------------------------------------------------------------------- */

/* Overwrite a string member of the body in place once it was used (a password). */
static void s_wipe_field(cf_req_t *req, const char *name)
{
    json_t *v = json_object_get(cf_req_json(req), name);
    if (json_is_string(v))
        cf_mem_wipe((char *) json_string_value(v), json_string_length(v));
}

/* The string member name of the body within max bytes; replies 400 and gives NULL. */
static const char *s_field(cf_req_t *req, const char *name, size_t max)
{
    json_t *v = json_object_get(cf_req_json(req), name);
    const char *s = json_string_value(v);
    if (!s || strlen(s) != json_string_length(v) || !*s || strlen(s) > max) {
        cf_req_reply_error(req, 400, "invalid_request", "%s: a string of 1..%zu bytes is required",
                           name, max);
        return NULL;
    }
    return s;
}

/* The client's address for a log line. */
static const char *s_addr(const cf_req_t *req)
{
    const char *addr = cf_req_peer(req)->addr;
    return addr ? addr : "-";
}

/* Append a login event: no session yet, so who is the name tried (when it is one). */
static void s_audit_login(cf_store_t *store, cf_req_t *req, const char *user, const char *role,
                          const char *result)
{
    const cf_https_peer_t *peer = cf_req_peer(req);
    cf_db_audit_in_t ev = {cf_db_check_user(user) == CF_OK ? user : "(not a user name)",
                           role,
                           "login",
                           NULL,
                           result,
                           peer->addr};
    cf_err_t rc = cf_db_audit_add(store, &ev, NULL);
    if (rc != CF_OK)
        cf_log(CF_LOG_ERROR, "audit what=login result=%s error=\"%s\"", result,
               cf_why_text(cf_store_why(store), rc));
}

/* The password check, at the cost of one default scrypt run whatever the name: CF_OK with
   *u filled; CF_ERR_BADPASS for an unknown name, a wrong password or one that breaks the
   rules; another error when the store cannot answer (no KDF then). */
static cf_err_t s_verify(cf_store_t *store, const char *user, const char *password, cf_db_user_t *u)
{
    cf_err_t rc = CF_ERR_NOTFOUND;
    /* a known user's stored check would refuse a rule-breaking password before its KDF,
       which an unknown one would not: such passwords all go to the dummy run */
    if (cf_db_check_user(user) == CF_OK && strlen(user) < CF_ROUTER_USER_MAX &&
        cf_auth_password_check(password, NULL) == CF_OK)
        rc = cf_db_user_get(store, user, u);
    if (rc == CF_ERR_CORRUPT)
        cf_log(CF_LOG_ERROR, "login user=%s error=\"%s\"", user,
               cf_why_text(cf_store_why(store), rc));
    else if (rc != CF_OK && rc != CF_ERR_NOTFOUND)
        return rc;
    cf_err_t v = cf_auth_password_verify(rc == CF_OK ? u->pwhash : NULL, password);
    if (v == CF_ERR_CORRUPT || v == CF_ERR_TOOBIG) {
        cf_log(CF_LOG_ERROR, "login user=%s error=\"stored password hash unusable: %s\"", user,
               cf_err_str(v));
        v = CF_ERR_BADPASS;
    }
    return rc == CF_OK ? v : CF_ERR_BADPASS;
}

/* Re-hash a password stored under older scrypt parameters; failures only logged. */
static void s_rehash(cf_store_t *store, const cf_db_user_t *u, const char *password)
{
    if (!cf_auth_needs_rehash(u->pwhash))
        return;
    char *hash = NULL;
    cf_err_t rc = cf_auth_password_hash(password, NULL, &hash, NULL);
    if (rc == CF_OK)
        rc = cf_db_user_update(store, u->name, 0, hash);
    cf_mem_free(hash);
    cf_log(rc == CF_OK ? CF_LOG_INFO : CF_LOG_WARN, "login user=%s rehash=%s", u->name,
           cf_err_name(rc));
}

/* A new session for u: token, the console policy, the answer. */
static cf_err_t s_open_session(cf_app_t *app, cf_store_t *store, cf_req_t *req,
                               const cf_db_user_t *u)
{
    int64_t ttl = cf_app_session_ttl(app); /* at most CF_APP_SESSION_TTL_MAX: fits an int */
    char token[CF_AUTH_TOKEN_LEN + 1] = "";
    cf_db_policy_t policy = {0};
    int64_t now = (int64_t) time(NULL);
    cf_err_t rc = cf_db_policy_get(store, &policy);
    if (rc == CF_OK)
        rc = cf_auth_token_new(token);
    if (rc == CF_OK)
        rc =
            cf_db_session_create(store, token, CF_AUTH_TOKEN_LEN, u->name, u->role, now, (int) ttl);
    if (rc == CF_OK)
        cf_req_reply_json(req, 200,
                          json_pack("{s:s,s:s,s:I,s:b}", "token", token, "role",
                                    cf_db_role_name(u->role), "expires", (json_int_t) (now + ttl),
                                    "save_logins", policy.save_logins));
    cf_mem_wipe(token, sizeof(token));
    return rc;
}

/* 429 with Retry-After; the first refusal of a key is logged and audited. */
static void s_throttled(cf_store_t *store, cf_req_t *req, const char *user,
                        const cf_throttle_refusal_t *r)
{
    char secs[24];
    int64_t s = (r->wait_ms + 999) / 1000;
    snprintf(secs, sizeof(secs), "%lld", (long long) (s > 0 ? s : 1));
    if (r->first) {
        cf_log(CF_LOG_WARN, "login throttled limit=%s user=%s addr=%s retry_s=%s", r->limit,
               cf_db_check_user(user) == CF_OK ? user : "-", s_addr(req), secs);
        s_audit_login(store, req, user, NULL, "THROTTLED");
    }
    if (cf_req_set_header(req, "Retry-After", secs) != CF_OK)
        cf_log(CF_LOG_WARN, "login: cannot set Retry-After");
    cf_req_reply_error(req, 429, "rate_limited", "too many failed logins: try again in %s seconds",
                       secs);
}

/* Check the password and open a session; every outcome but a store failure audited. */
static void s_login_run(cf_app_t *app, cf_store_t *store, cf_req_t *req, const char *user,
                        const char *password)
{
    const cf_https_peer_t *peer = cf_req_peer(req);
    cf_throttle_t *throttle = cf_app_throttle(app);
    cf_throttle_attempt_t at;
    cf_throttle_refusal_t refusal;
    cf_db_user_t u;
    memset(&u, 0, sizeof(u));
    cf_err_t rc =
        cf_throttle_attempt(&at, cf_router_peer_kind(peer) == CF_PEER_CONSOLE, peer->addr, user);
    if (rc != CF_OK) {
        cf_app_reply_err(req, rc, NULL, "login");
        return;
    }
    if (!cf_throttle_take(throttle, &at, s_now_ms(), &refusal)) {
        s_throttled(store, req, user, &refusal);
        return;
    }
    rc = s_verify(store, user, password, &u);
    if (rc == CF_OK)
        s_rehash(store, &u, password);
    if (rc == CF_OK)
        rc = s_open_session(app, store, req, &u);
    if (rc != CF_ERR_BADPASS)
        cf_throttle_refund(throttle, &at);
    if (rc == CF_ERR_BADPASS) {
        cf_app_count(app, CF_APP_LOGIN_FAILURES, 1);
        cf_req_reply_error(req, 401, "unauthenticated", "wrong user name or password");
    } else if (rc != CF_OK) {
        cf_app_reply_err(req, rc, cf_store_why(store), "login");
    } else {
        cf_app_count(app, CF_APP_LOGINS, 1);
    }
    if (rc == CF_OK || rc == CF_ERR_BADPASS) {
        const char *result = rc == CF_OK ? "ok" : cf_err_name(rc);
        cf_log(CF_LOG_INFO, "login user=%s addr=%s result=%s",
               cf_db_check_user(user) == CF_OK ? user : "-", s_addr(req), result);
        s_audit_login(store, req, user, rc == CF_OK ? cf_db_role_name(u.role) : NULL, result);
    }
    cf_mem_wipe(&u, sizeof(u));
}

static void s_login(cf_req_t *req, void *app)
{
    if (cf_router_peer_kind(cf_req_peer(req)) == CF_PEER_AGENT) {
        /* its session could never be used (docs/server.md): no password oracle for agents */
        cf_req_reply_error(req, 403, "forbidden", "agent certificates reach agent routes only");
        return;
    }
    const char *user = s_field(req, "user", CF_DB_USER_MAX);
    const char *password = user ? s_field(req, "password", CF_AUTH_PW_MAX) : NULL;
    if (password) {
        cf_store_t *store = cf_app_store_take(app);
        s_login_run(app, store, req, user, password);
        cf_app_store_give(app, store);
    }
    s_wipe_field(req, "password");
}

/* ---- logout, session, authenticate ----------------------------------------------------- */

static void s_logout(cf_req_t *req, void *app)
{
    char token[CF_ROUTER_MAX_TOKEN + 1];
    cf_store_t *store = cf_app_store_take(app);
    cf_err_t rc = cf_router_bearer(cf_req_header(req, "Authorization"), token, sizeof(token));
    if (rc == CF_OK)
        rc = cf_db_session_delete(store, token, strlen(token));
    if (rc == CF_ERR_NOTFOUND)
        rc = CF_OK; /* ended meanwhile (a logout in parallel, the TTL): it is gone either way */
    if (rc == CF_OK)
        cf_req_reply_json(req, 200, NULL);
    else
        cf_app_reply_err(req, rc, cf_store_why(store), "logout");
    cf_app_audit(app, store, req, "logout", NULL, rc);
    cf_app_store_give(app, store);
    cf_mem_wipe(token, sizeof(token));
}

static void s_session(cf_req_t *req, void *app)
{
    (void) app;
    const cf_session_t *s = cf_req_session(req);
    cf_req_reply_json(req, 200,
                      json_pack("{s:s,s:s,s:I}", "user", s->user, "role", cf_role_name(s->role),
                                "expires", (json_int_t) s->expires));
}

/* Look a token's session up, and its user: a session older than its user belongs to a
   namesake that was removed (cf_db_session_get only checks that the name exists, so a user
   re-created under that name must not inherit the old sessions). 2 RT. */
static cf_err_t s_session_lookup(cf_store_t *store, const char *token, cf_db_session_t *s)
{
    cf_db_user_t u;
    memset(&u, 0, sizeof(u));
    cf_err_t rc = cf_db_session_get(store, token, CF_AUTH_TOKEN_LEN, s);
    if (rc == CF_OK)
        rc = cf_db_user_get(store, s->user, &u);
    if (rc == CF_OK && u.created > s->created)
        rc = CF_ERR_NOTFOUND;
    if (rc == CF_ERR_CORRUPT)
        cf_log(CF_LOG_ERROR, "session error=\"%s\"", cf_why_text(cf_store_why(store), rc));
    cf_mem_wipe(&u, sizeof(u));
    return rc;
}

cf_err_t cf_api_authenticate(void *app, const char *bearer_token, cf_session_t *out)
{
    if (cf_auth_token_check(bearer_token) != CF_OK)
        return CF_ERR_NOTFOUND; /* not one of ours: no session, and no round trip */
    cf_db_session_t s;
    cf_store_t *store = cf_app_store_take(app);
    cf_err_t rc = s_session_lookup(store, bearer_token, &s);
    cf_app_store_give(app, store);
    if (rc == CF_ERR_CORRUPT || rc == CF_ERR_INVALID ||
        (rc == CF_OK && strlen(s.user) >= sizeof(out->user)))
        rc = CF_ERR_NOTFOUND; /* a session that cannot be read is none: log in again */
    if (rc == CF_OK && s.expires <= (int64_t) time(NULL))
        rc = CF_ERR_EXPIRED; /* the key's TTL is the real end; this covers clock skew */
    if (rc == CF_OK) {
        memset(out, 0, sizeof(*out));
        memcpy(out->user, s.user, strlen(s.user) + 1);
        out->role = s.role == CF_DB_ROLE_ADMIN ? CF_ROLE_ADMIN : CF_ROLE_VIEWER;
        out->expires = (time_t) s.expires;
    }
    cf_mem_wipe(&s, sizeof(s));
    return rc;
}

static const cf_route_t s_routes[] = {
    {"GET", "/api/v1/health", CF_ACCESS_PUBLIC, s_health, 0, 0},
    {"POST", "/api/v1/login", CF_ACCESS_PUBLIC, s_login, CF_ROUTE_JSON, S_LOGIN_BODY},
    {"POST", "/api/v1/logout", CF_ACCESS_VIEWER, s_logout, 0, 0},
    {"GET", "/api/v1/session", CF_ACCESS_VIEWER, s_session, 0, 0},
};

size_t cf_api_session_routes(const cf_route_t **routes_out)
{
    *routes_out = s_routes;
    return sizeof(s_routes) / sizeof(s_routes[0]);
}
