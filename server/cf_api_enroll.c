/*  cf_api_enroll - POST /api/v1/agent/enroll: an agent registers its CURVE key and its
    record and, with a CSR, gets its own certificate; the enrollment route group  */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "cf_allow.h"
#include "cf_api_agents.h"
#include "cf_api_enroll_int.h"
#include "cf_csr.h"
#include "cf_curve.h"
#include "cf_db_agent.h"
#include "cf_db_archive.h"
#include "cf_db_curve.h"
#include "cf_db_enroll.h"
#include "cf_db_meta.h"
#include "cf_iprange.h"
#include "cf_log.h"
#include "cf_mem.h"

#define S_TOKEN_MAX  128 /* longest token field read (ours are CF_DB_ENROLL_TOKEN) */
#define S_TARGET_MAX 160 /* audit target text */

/* How the agent proved it may enroll. */
typedef enum {
    S_AUTH_TOKEN = 0, /* an enrollment token (no certificate) */
    S_AUTH_SHARED,    /* the install package's shared agent certificate */
    S_AUTH_OWN,       /* its own per-agent certificate (re-enrollment, renewal) */
} s_auth_t;

static const char *const s_auth_names[] = {"token", "shared-cert", "own-cert"};

/* One enrollment in progress. */
typedef struct {
    cf_app_t *app;                         /* the server */
    cf_req_t *req;                         /* the request */
    cf_store_t *store;                     /* borrowed for the request */
    const char *id;                        /* agent id (borrowed from the body) */
    unsigned char curve[CF_CURVE_KEY_LEN]; /* its broker-link public key */
    const char *csr;                       /* CSR PEM (borrowed); NULL: push mode */
    const char *token;                     /* enrollment token (borrowed); NULL: none */
    const char *version;                   /* agent version (borrowed); NULL: unknown */
    s_auth_t auth;                         /* how it is authenticated */
    int is_new;                            /* no agent record before this enrollment */
    int unauth;                            /* the token was refused: answer 401 */
    cf_db_enrolled_t prev;                 /* the record's enrollment fields before */
    cf_cert_t *cert;                       /* issued (CSR mode; owned) */
    char *ca_pem;                          /* the CA certificate (owned) */
    cf_why_t why;                          /* reason of a refusal */
} s_enroll_t;

/* Optional string field name of body into *out (NULL when absent or null): 1..max bytes. */
static cf_err_t s_opt(const json_t *body, const char *name, size_t max, const char **out,
                      cf_why_t *why)
{
    const json_t *v = json_object_get(body, name);
    *out = NULL;
    if (!v || json_is_null(v))
        return CF_OK;
    if (!json_is_string(v) || json_string_length(v) == 0)
        return cf_why(why, CF_ERR_INVALID, "%s must be a non-empty string or null", name);
    if (json_string_length(v) > max || strlen(json_string_value(v)) != json_string_length(v))
        return cf_why(why, json_string_length(v) > max ? CF_ERR_TOOBIG : CF_ERR_INVALID,
                      "%s: at most %zu bytes, no NUL", name, max);
    *out = json_string_value(v);
    return CF_OK;
}

/* The body: {"id","curve","csr"|null,"token"|null,"version","protocol"}; other fields are
   ignored (a newer agent may send more). */
static cf_err_t s_parse(s_enroll_t *e, const json_t *body)
{
    cf_why_t *why = &e->why;
    if (!body)
        return cf_why(why, CF_ERR_INVALID, "a JSON body is required");
    e->id = json_string_value(json_object_get(body, "id"));
    if (!e->id || cf_db_check_agent_id(e->id) != CF_OK)
        return cf_why(why, CF_ERR_INVALID, "id must match [a-z0-9][a-z0-9._-]{0,62}");
    const char *z = json_string_value(json_object_get(body, "curve"));
    if (!z || cf_curve_z85_decode(z, strlen(z), e->curve, NULL) != CF_OK)
        return cf_why(why, CF_ERR_INVALID, "curve must be a CURVE public key (40 Z85 characters)");
    CF_TRY(s_opt(body, "csr", CF_CSR_MAX_INPUT, &e->csr, why));
    CF_TRY(s_opt(body, "token", S_TOKEN_MAX, &e->token, why));
    CF_TRY(s_opt(body, "version", CF_DB_VERSION_MAX, &e->version, why));
    if (e->version && cf_db_check_text(e->version, 1, CF_DB_VERSION_MAX) != CF_OK)
        return cf_why(why, CF_ERR_INVALID, "version must be printable text");
    const json_t *p = json_object_get(body, "protocol");
    if (p && (!json_is_integer(p) || json_integer_value(p) < 1))
        return cf_why(why, CF_ERR_INVALID, "protocol must be an integer >= 1");
    return CF_OK;
}

/* Who vouches for the agent: a certificate (an agent's own must name this id; the shared
   one of the install package may enroll any id) or, without one, a token. 1 to go on, 0
   after answering 401/403. */
static int s_auth(s_enroll_t *e)
{
    const cf_https_peer_t *peer = cf_req_peer(e->req);
    if (peer->cert && peer->component != CF_COMPONENT_AGENT) {
        cf_req_reply_error(e->req, 403, "forbidden", "not an agent certificate");
        return 0;
    }
    if (peer->cert && peer->agent_id && strcmp(peer->agent_id, e->id) != 0) {
        cf_req_reply_error(e->req, 403, "forbidden",
                           "the certificate is agent %s's: it cannot enroll %s", peer->agent_id,
                           e->id);
        return 0;
    }
    if (!peer->cert && !e->token) {
        cf_req_reply_error(e->req, 401, "unauthenticated",
                           "enroll needs an agent certificate or an enrollment token");
        return 0;
    }
    e->auth = !peer->cert ? S_AUTH_TOKEN : peer->agent_id ? S_AUTH_OWN : S_AUTH_SHARED;
    return 1;
}

/* The store's reason for rc into e->why; returns rc. */
static cf_err_t s_store_fail(s_enroll_t *e, cf_err_t rc)
{
    return cf_why(&e->why, rc, "%s", cf_why_text(cf_store_why(e->store), rc));
}

/* May this id enroll with this key? Not when revoked; not with another key than the one it
   holds; and a CSR for an agent whose enrollment certificate is still valid comes only
   with that certificate (else a token holder who read the agent's public key could get
   a certificate in its name). */
static cf_err_t s_precheck(s_enroll_t *e)
{
    cf_err_t rc = cf_db_enroll_get(e->store, e->id, &e->prev);
    e->is_new = rc == CF_ERR_NOTFOUND;
    if (rc != CF_OK && !e->is_new)
        return s_store_fail(e, rc);
    if (e->prev.revoked)
        return cf_why(&e->why, CF_ERR_STATE,
                      "agent %s is revoked: decommission it before it enrolls again", e->id);
    if (e->csr && e->auth != S_AUTH_OWN && e->prev.serial[0] &&
        e->prev.not_after > (int64_t) time(NULL))
        return cf_why(&e->why, CF_ERR_EXISTS,
                      "agent %s holds a valid certificate (serial %s): enroll with it, or have "
                      "the agent revoked first",
                      e->id, e->prev.serial);
    unsigned char held[CF_CURVE_KEY_LEN];
    rc = cf_db_curve_get(e->store, CF_ALLOW_AGENT, e->id, held);
    if (rc == CF_ERR_NOTFOUND)
        return CF_OK;
    if (rc != CF_OK)
        return s_store_fail(e, rc);
    if (CRYPTO_memcmp(held, e->curve, sizeof(held)) != 0)
        return cf_why(&e->why, CF_ERR_EXISTS, "agent id %s is taken by another key", e->id);
    return CF_OK;
}

/* The agent policy for CSRs: the agent's id as CN and URI SAN, default lifetime. */
static const cf_ca_policy_t s_policy = {0, 0, 0, CF_COMPONENT_AGENT};

/* Check the CSR before anything is spent (a token use), then spend the token. */
static cf_err_t s_check_and_spend(s_enroll_t *e)
{
    if (e->csr) {
        cf_csr_t *csr = NULL;
        cf_err_t rc = cf_csr_parse(e->csr, strlen(e->csr), &csr, &e->why);
        if (rc == CF_OK)
            rc = cf_csr_check(csr, &s_policy, e->id, &e->why);
        cf_csr_destroy(&csr);
        if (rc != CF_OK) {
            cf_why_t reason = e->why; /* cf_why must not format from its own buffer */
            return cf_why(&e->why, rc, "csr: %s", cf_why_text(&reason, rc));
        }
    }
    if (e->auth != S_AUTH_TOKEN)
        return CF_OK;
    cf_err_t rc = cf_db_enroll_token_use(e->store, e->token, (int64_t) time(NULL), NULL);
    if (rc == CF_ERR_NOTFOUND || rc == CF_ERR_EXPIRED || rc == CF_ERR_STATE)
        e->unauth = 1;
    return rc == CF_OK ? CF_OK : s_store_fail(e, rc);
}

/* The certificate (CSR mode) and the CA's PEM for the answer. */
static cf_err_t s_issue(s_enroll_t *e)
{
    cf_ca_t *ca = NULL;
    cf_cert_t *ca_cert = NULL;
    cf_err_t rc = CF_OK;
    size_t len = 0;
    if (e->csr) {
        rc = cf_app_ca(e->app, e->store, &ca, &e->why);
        if (rc == CF_OK)
            rc = cf_ca_sign_csr(ca, e->csr, strlen(e->csr), &s_policy, e->id, 0, &e->cert, &e->why);
        if (rc == CF_OK)
            rc = cf_cert_to_pem(cf_ca_cert(ca), &e->ca_pem, &len);
    } else {
        rc = cf_db_ca_get(e->store, NULL, &ca_cert, NULL);
        if (rc != CF_OK)
            s_store_fail(e, rc);
        else
            rc = cf_cert_to_pem(ca_cert, &e->ca_pem, &len);
    }
    cf_cert_destroy(&ca_cert);
    cf_ca_destroy(&ca);
    return rc;
}

/* Register the key, create the record when new (insecure until it checks in with a
   certificate), archive the enrollment certificate this one replaces, record the new one. */
static cf_err_t s_register(s_enroll_t *e)
{
    cf_err_t rc = cf_db_curve_put(e->store, CF_ALLOW_AGENT, e->id, e->curve, 0, &e->why);
    if (rc != CF_OK)
        return e->why.text[0] ? rc : s_store_fail(e, rc);
    int64_t now = (int64_t) time(NULL);
    char addr[CF_IPRANGE_ADDR_TEXT_MAX] = "unknown";
    cf_iprange_addr_t a;
    const char *seen = cf_req_peer(e->req)->addr;
    if (seen && cf_iprange_addr_parse(seen, &a, NULL) == CF_OK &&
        cf_iprange_addr_format(&a, addr, sizeof(addr)) != CF_OK)
        snprintf(addr, sizeof(addr), "unknown");
    cf_db_checkin_t in = {e->id, CF_DB_LOCK_INSECURE,  now, addr, e->version, NULL, NULL,
                          0,     cf_app_alias(e->app), 0}; /* level: not compared */
    if (e->is_new && (rc = cf_db_agent_checkin(e->store, &in, NULL)) != CF_OK)
        return s_store_fail(e, rc);
    if (e->cert && e->prev.cert_pem && strcmp(e->prev.fp, cf_cert_fingerprint(e->cert)) != 0) {
        cf_cert_t *old = NULL;
        rc = cf_cert_parse(e->prev.cert_pem, strlen(e->prev.cert_pem), &old);
        if (rc == CF_OK && cf_cert_not_after(old) > (time_t) now)
            rc = cf_db_archive_add(e->store, CF_COMPONENT_AGENT, e->id, old, now);
        cf_cert_destroy(&old);
        if (rc != CF_OK)
            cf_log(CF_LOG_WARN, "agent enroll id=%s: previous certificate not archived: %s", e->id,
                   cf_why_text(cf_store_why(e->store), rc));
    }
    rc = cf_db_enroll_record(e->store, e->id, now, e->cert);
    return rc == CF_OK ? CF_OK : s_store_fail(e, rc);
}

/* The answer: {"id","cert","ca","brokers","servers","protocol"}. */
static cf_err_t s_answer(s_enroll_t *e, json_t **out)
{
    char *pem = NULL;
    size_t len = 0;
    json_t *servers = NULL;
    cf_err_t rc = cf_api_agents_servers(e->app, e->store, &servers);
    if (rc != CF_OK)
        return s_store_fail(e, rc);
    if (e->cert && cf_cert_to_pem(e->cert, &pem, &len) != CF_OK) {
        json_decref(servers);
        return CF_ERR_NOMEM;
    }
    /* the brokers agents use (--agent-broker): their agent-facing endpoints and keys */
    json_t *brokers = cf_app_agent_brokers_json(e->app);
    if (!brokers) {
        json_decref(servers);
        cf_mem_free(pem);
        return CF_ERR_NOMEM;
    }
    *out = json_pack("{s:s,s:s?,s:s,s:o,s:o,s:i}", "id", e->id, "cert", pem, "ca", e->ca_pem,
                     "brokers", brokers, "servers", servers, "protocol", CF_API_ENROLL_PROTO);
    cf_mem_free(pem);
    return *out ? CF_OK : CF_ERR_NOMEM;
}

/* A token enrollment: is the token good (not spent yet)? So that a client without a valid
   token learns nothing about the id it names, and leaves no audit entry. */
static cf_err_t s_token_peek(s_enroll_t *e)
{
    cf_db_token_t t;
    cf_err_t rc = cf_db_enroll_token_get(e->store, e->token, &t);
    if (rc == CF_OK && t.expires <= (int64_t) time(NULL))
        rc = cf_why(&e->why, CF_ERR_EXPIRED, "enrollment token expired");
    else if (rc == CF_OK && t.uses <= 0)
        rc = cf_why(&e->why, CF_ERR_STATE, "enrollment token used up");
    else if (rc != CF_OK)
        s_store_fail(e, rc);
    e->unauth = rc == CF_ERR_NOTFOUND || rc == CF_ERR_EXPIRED || rc == CF_ERR_STATE;
    return rc;
}

static cf_err_t s_run(s_enroll_t *e, json_t **answer)
{
    if (e->auth == S_AUTH_TOKEN)
        CF_TRY(s_token_peek(e));
    CF_TRY(s_precheck(e));
    CF_TRY(s_check_and_spend(e));
    CF_TRY(s_issue(e));
    CF_TRY(s_register(e));
    return s_answer(e, answer);
}

/* POST /api/v1/agent/enroll */
static void s_enroll(cf_req_t *req, void *arg)
{
    s_enroll_t e = {.app = arg, .req = req};
    if (!cf_app_admit(e.app, req))
        return; /* 503 busy with Retry-After was sent */
    cf_err_t rc = s_parse(&e, cf_req_json(req));
    if (rc != CF_OK) {
        cf_app_reply_err(req, rc, &e.why, "enroll");
        return;
    }
    if (!s_auth(&e))
        return;
    json_t *answer = NULL;
    char target[S_TARGET_MAX];
    e.store = cf_app_store_take(e.app);
    rc = s_run(&e, &answer);
    snprintf(target, sizeof(target), "%s auth=%s mode=%s", e.id, s_auth_names[e.auth],
             e.csr ? "csr" : "push");
    if (!e.unauth) /* a refused token is no one's action: logged, not audited */
        cf_app_audit(e.app, e.store, req, "agent.enroll", target, rc);
    else
        cf_log(CF_LOG_WARN, "agent enroll refused id=%s addr=%s: %s", e.id,
               cf_req_peer(req)->addr ? cf_req_peer(req)->addr : "-", cf_why_text(&e.why, rc));
    cf_app_store_give(e.app, e.store);
    if (rc == CF_OK) {
        cf_log(CF_LOG_INFO, "agent enroll id=%s auth=%s mode=%s new=%d serial=%s", e.id,
               s_auth_names[e.auth], e.csr ? "csr" : "push", e.is_new,
               e.cert ? cf_cert_serial(e.cert) : "-");
        cf_req_reply_json(req, 200, answer);
    } else if (e.unauth) {
        cf_req_reply_error(req, 401, "unauthenticated", "%s", cf_why_text(&e.why, rc));
    } else {
        cf_app_reply_err(req, rc, &e.why, "enroll");
    }
    cf_db_enrolled_clear(&e.prev);
    cf_cert_destroy(&e.cert);
    cf_mem_free(e.ca_pem);
}

static const cf_route_t s_routes[] = {
    {"POST", "/api/v1/agent/enroll", CF_ACCESS_AGENT, s_enroll, CF_ROUTE_JSON, CF_API_ENROLL_BODY},
    {"POST", "/api/v1/enroll-tokens", CF_ACCESS_ADMIN, cf_api_enroll_token_create, CF_ROUTE_JSON,
     4096},
    {"POST", "/api/v1/agents/:id/revoke", CF_ACCESS_ADMIN, cf_api_enroll_revoke, CF_ROUTE_JSON,
     4096},
    {"DELETE", "/api/v1/agents/:id", CF_ACCESS_ADMIN, cf_api_enroll_decommission, CF_ROUTE_JSON,
     4096},
};

size_t cf_api_enroll_routes(const cf_route_t **routes_out)
{
    *routes_out = s_routes;
    return sizeof(s_routes) / sizeof(s_routes[0]);
}
