/*  cf_api_packages - POST /api/v1/packages: the agent install package (the seed's MSI
    package): configuration, CA, optionally the shared agent PKCS#12 and an enrollment token  */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "cf_api_agents.h"
#include "cf_api_certs_int.h"
#include "cf_db_enroll.h"
#include "cf_db_meta.h"
#include "cf_import.h"
#include "cf_link_build.h"
#include "cf_log.h"
#include "cf_mem.h"

#define S_FORMAT       "certfleet-bundle-1" /* the bundle's format (docs/agent.md) */
#define S_BODY_MAX     4096                 /* request body cap */
#define S_TTL_DEFAULT  (7 * 24 * 3600)      /* token lifetime when only token_uses is given */
#define S_USES_DEFAULT 1                    /* token uses when only token_ttl is given */
#define S_TARGET_MAX   96                   /* audit target text */

/* What the admin asked for. */
typedef struct {
    int with_cert;        /* put the shared agent certificate in, as a PKCS#12 */
    const char *password; /* its password (borrowed from the body); NULL: the deployment's */
    int64_t uses;         /* token uses; 0: no token */
    int64_t ttl;          /* token lifetime, seconds */
} s_args_t;

/* An optional integer field in 1..max: *out unchanged when absent or null; *given set. */
static cf_err_t s_opt_int(const json_t *body, const char *name, json_int_t max, int64_t *out,
                          int *given, cf_why_t *why)
{
    const json_t *v = json_object_get(body, name);
    if (!v || json_is_null(v))
        return CF_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > max)
        return cf_why(why, CF_ERR_INVALID, "%s must be an integer 1..%lld or null", name,
                      (long long) max);
    *out = (int64_t) json_integer_value(v);
    *given = 1;
    return CF_OK;
}

/* The body: {"with_cert":bool,"password":"…"|null,"token_uses":N|null,"token_ttl":S|null}. */
static cf_err_t s_args(const json_t *body, s_args_t *a, cf_why_t *why)
{
    static const char *const allowed[] = {"with_cert", "password", "token_uses", "token_ttl", NULL};
    if (!body)
        return cf_why(why, CF_ERR_INVALID, "a JSON body is required ({} for the defaults)");
    CF_TRY(cf_api_certs_only(body, allowed, why));
    const json_t *wc = json_object_get(body, "with_cert");
    if (wc && !json_is_boolean(wc))
        return cf_why(why, CF_ERR_INVALID, "with_cert must be true or false");
    a->with_cert = json_is_true(wc);
    const json_t *pw = json_object_get(body, "password");
    if (pw && !json_is_null(pw))
        CF_TRY(cf_api_certs_field(body, "password", CF_API_CERTS_PASS_MAX, 0, &a->password, why));
    if (a->password && !a->with_cert)
        return cf_why(why, CF_ERR_INVALID, "a password protects the certificate: with_cert too");
    int uses_given = 0, ttl_given = 0;
    a->uses = S_USES_DEFAULT;
    a->ttl = S_TTL_DEFAULT;
    CF_TRY(s_opt_int(body, "token_uses", CF_DB_ENROLL_USES_MAX, &a->uses, &uses_given, why));
    CF_TRY(s_opt_int(body, "token_ttl", CF_DB_ENROLL_TTL_MAX, &a->ttl, &ttl_given, why));
    if (!uses_given && !ttl_given)
        a->uses = 0;
    return CF_OK;
}

/* Base64 of buf without line breaks (*out: cf_mem_free). */
static cf_err_t s_base64(const unsigned char *buf, size_t len, char **out)
{
    if (len > (size_t) 0x3fffffff)
        return CF_ERR_TOOBIG;
    char *text = cf_mem_malloc((len + 2) / 3 * 4 + 1);
    if (!text)
        return CF_ERR_NOMEM;
    EVP_EncodeBlock((unsigned char *) text, buf, (int) len);
    *out = text;
    return CF_OK;
}

/* The shared agent certificate with its key and chain as base64 PKCS#12 under password
   (NULL: the deployment's, cf:p12pass). */
static cf_err_t s_p12(cf_app_t *app, cf_store_t *store, const char *password, char **b64,
                      cf_why_t *why)
{
    cf_link_install_t in;
    cf_bundle_t *bundle = NULL;
    char *pass = NULL;
    unsigned char *der = NULL;
    size_t len = 0, plen = 0;
    cf_err_t rc = cf_link_install_load(store, cf_app_seal(app), CF_API_CERTS_SHARED,
                                       CF_JOB_FORM_PEM, &in, why);
    if (rc == CF_OK && !password) {
        rc = cf_db_p12pass_get(store, cf_app_seal(app), &pass, &plen);
        if (rc != CF_OK)
            cf_why(why, rc, "the deployment's PKCS#12 password: %s",
                   cf_why_text(cf_store_why(store), rc));
    }
    if (rc == CF_OK)
        rc = cf_import_pem(in.chain_pem, in.chain_len, in.key_pem, in.key_len, NULL, NULL, &bundle,
                           why);
    if (rc == CF_OK)
        rc = cf_bundle_to_p12(bundle, password ? password : pass, NULL, &der, &len);
    if (rc == CF_OK)
        rc = s_base64(der, len, b64);
    cf_mem_free_secret(der, len);
    cf_mem_free_secret_str(pass);
    cf_bundle_destroy(&bundle);
    cf_link_install_clear(&in);
    return rc;
}

/* The bundle parts read from Redis: servers, CA PEM, the p12. */
static cf_err_t s_parts(cf_app_t *app, cf_store_t *store, const s_args_t *a, json_t **servers,
                        char **ca_pem, char **p12, cf_why_t *why)
{
    cf_cert_t *ca = NULL;
    size_t len = 0;
    cf_err_t rc = cf_api_agents_servers(app, store, servers);
    if (rc == CF_OK)
        rc = cf_db_ca_get(store, NULL, &ca, NULL);
    if (rc != CF_OK)
        cf_why(why, rc, "%s", cf_why_text(cf_store_why(store), rc));
    if (rc == CF_OK)
        rc = cf_cert_to_pem(ca, ca_pem, &len);
    cf_cert_destroy(&ca);
    if (rc == CF_OK && a->with_cert)
        rc = s_p12(app, store, a->password, p12, why);
    return rc;
}

/* Read everything, then make the token (last: a failure before leaves no token behind). */
static cf_err_t s_build(cf_app_t *app, cf_store_t *store, cf_req_t *req, const s_args_t *a,
                        json_t **out, cf_why_t *why)
{
    json_t *servers = NULL;
    char *ca_pem = NULL, *p12 = NULL;
    char token[CF_DB_ENROLL_TOKEN + 1] = "";
    int64_t now = (int64_t) time(NULL), expires = 0;
    const cf_session_t *session = cf_req_session(req);
    cf_err_t rc = s_parts(app, store, a, &servers, &ca_pem, &p12, why);
    if (rc == CF_OK && a->uses > 0) {
        rc = cf_db_enroll_token_create(store, a->uses, a->ttl, now, session ? session->user : "",
                                       token, &expires);
        if (rc != CF_OK)
            cf_why(why, rc, "%s", cf_why_text(cf_store_why(store), rc));
    }
    if (rc == CF_OK) {
        /* the agent-facing brokers (--agent-broker) with their keys */
        json_t *brokers = cf_app_agent_brokers_json(app);
        *out = brokers
                   ? json_pack("{s:s,s:I,s:{s:o,s:o},s:s,s:s?,s:s?}", "format", S_FORMAT, "created",
                               (json_int_t) now, "config", "servers", servers, "brokers", brokers,
                               "ca", ca_pem, "p12", p12, "token", token[0] ? token : NULL)
                   : NULL;
        if (!brokers)
            json_decref(servers);
        servers = NULL; /* json_pack's "o" took it, also on failure */
        rc = *out ? CF_OK : CF_ERR_NOMEM;
    }
    cf_mem_wipe(token, sizeof(token));
    json_decref(servers);
    cf_mem_free(ca_pem);
    cf_mem_free_secret_str(p12);
    return rc;
}

/* POST /api/v1/packages (admin) */
static void s_create(cf_req_t *req, void *arg)
{
    cf_app_t *app = arg;
    cf_why_t why = {{0}};
    s_args_t a = {0};
    json_t *body = cf_req_json(req), *answer = NULL;
    char target[S_TARGET_MAX] = "-";
    cf_err_t rc = s_args(body, &a, &why);
    if (rc == CF_OK)
        snprintf(target, sizeof(target), "cert=%s token=%s uses=%lld ttl=%lld",
                 a.with_cert ? (a.password ? "yes(own-password)" : "yes") : "no",
                 a.uses ? "yes" : "no", (long long) a.uses, (long long) (a.uses ? a.ttl : 0));
    cf_store_t *store = cf_app_store_take(app);
    if (rc == CF_OK)
        rc = s_build(app, store, req, &a, &answer, &why);
    cf_app_audit(app, store, req, "package.create", target, rc);
    cf_app_store_give(app, store);
    cf_api_certs_wipe_field(body, "password");
    if (rc == CF_OK) {
        cf_log(CF_LOG_INFO, "package created user=%s %s", cf_api_certs_user(req), target);
        cf_req_reply_json(req, 200, answer);
    } else {
        cf_api_certs_fail(req, rc, &why, "package");
    }
}

static const cf_route_t s_routes[] = {
    {"POST", "/api/v1/packages", CF_ACCESS_ADMIN, s_create, CF_ROUTE_JSON, S_BODY_MAX},
};

size_t cf_api_packages_routes(const cf_route_t **routes_out)
{
    *routes_out = s_routes;
    return sizeof(s_routes) / sizeof(s_routes[0]);
}
