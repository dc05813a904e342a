/*  cf_api_certs_gen - POST /certs/generate-all: every server, the console, the shared agent  */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "cf_api_certs_int.h"
#include "cf_ca.h"
#include "cf_db_cert.h"
#include "cf_db_server.h"
#include "cf_log.h"

/* What one generate-all call works with. */
typedef struct {
    cf_app_t *app;          /* the app */
    cf_store_t *store;      /* borrowed connection */
    cf_ca_t *ca;            /* issuing CA (this thread's) */
    cf_key_type_t key_type; /* key of every new certificate */
    unsigned days;          /* lifetime */
    int renew_days;         /* for renew_at in the answer */
    time_t now;             /* issue time */
    json_t *generated;      /* cert objects stored */
    json_t *failed;         /* {component, name, error} of those refused by the issuer */
} s_gen_t;

/* key_type and days of the body (both optional). */
static cf_err_t s_params(const json_t *body, s_gen_t *g, cf_why_t *why)
{
    static const char *const allowed[] = {"key_type", "days", NULL};
    const char *kt = NULL;
    g->key_type = CF_KEY_P256;
    g->days = CF_ISSUE_DEFAULT_DAYS;
    if (!body)
        return CF_OK;
    CF_TRY(cf_api_certs_only(body, allowed, why));
    CF_TRY(cf_api_certs_field(body, "key_type", 16, 0, &kt, why));
    if (kt && cf_key_type_from_name(kt, &g->key_type) != CF_OK)
        return cf_why(why, CF_ERR_INVALID,
                      "key_type must be p256, p384, rsa2048, rsa3072, rsa4096 or ed25519");
    json_t *d = json_object_get(body, "days");
    if (d && !json_is_null(d)) {
        if (!json_is_integer(d) || json_integer_value(d) < 1 ||
            json_integer_value(d) > CF_ISSUE_MAX_DAYS)
            return cf_why(why, CF_ERR_INVALID, "days must be an integer 1..%d", CF_ISSUE_MAX_DAYS);
        g->days = (unsigned) json_integer_value(d);
    }
    return CF_OK;
}

/* Note a certificate the issuer refused (a name it cannot put in a certificate). */
static cf_err_t s_refused(s_gen_t *g, cf_component_t comp, const char *name, cf_err_t rc,
                          const cf_why_t *why)
{
    cf_log(CF_LOG_WARN, "generate-all %s/%s refused: %s", cf_component_name(comp), name,
           cf_why_text(why, rc));
    json_t *o = json_pack("{s:s,s:s,s:s}", "component", cf_component_name(comp), "name", name,
                          "error", cf_why_text(why, rc));
    return o && json_array_append_new(g->failed, o) == 0 ? CF_OK : CF_ERR_NOMEM;
}

/* Issue req, store it as record comp/name (the old one goes to the archive) and add its cert
   object to the answer. Redis failures stop the call; issuer refusals are noted and skipped. */
static cf_err_t s_one(s_gen_t *g, cf_issue_t *req, cf_component_t comp, const char *name,
                      cf_why_t *why)
{
    cf_cert_t *cert = NULL;
    cf_key_t *key = NULL;
    req->key_type = g->key_type;
    req->days = g->days;
    req->now = g->now;
    cf_err_t rc = cf_ca_issue(g->ca, req, &cert, &key);
    if (rc == CF_ERR_INVALID || rc == CF_ERR_TOOBIG || rc == CF_ERR_EXPIRED) {
        cf_why_t w = {{0}};
        cf_why(&w, rc, "%s", cf_err_str(rc));
        return s_refused(g, comp, name, rc, &w);
    }
    if (rc != CF_OK)
        return cf_why(why, rc, "%s/%s: %s", cf_component_name(comp), name, cf_err_str(rc));
    cf_db_cert_in_t in = {comp, name, CF_DB_CERT_GENERATED, cert, NULL, key, (int64_t) g->now};
    rc = cf_db_cert_put(g->store, cf_app_seal(g->app), &in, NULL);
    if (rc != CF_OK)
        cf_why(why, rc, "%s", cf_why_text(cf_store_why(g->store), rc));
    if (rc == CF_OK) {
        cf_api_cert_meta_t m = {comp,
                                name,
                                cf_db_cert_kind_name(CF_DB_CERT_GENERATED),
                                1,
                                0,
                                0,
                                g->renew_days,
                                (long long) g->now,
                                0,
                                g->now};
        json_t *o = cf_api_cert_json(cert, &m);
        rc = o && json_array_append_new(g->generated, o) == 0 ? CF_OK : CF_ERR_NOMEM;
        cf_log(CF_LOG_INFO, "cert generated component=%s name=%s serial=%s fp=%s",
               cf_component_name(comp), name, cf_cert_serial(cert), cf_cert_fingerprint(cert));
    }
    cf_key_destroy(&key);
    cf_cert_destroy(&cert);
    return rc;
}

/* Names for a server certificate: addresses and DNS names apart, at most CF_ISSUE_MAX_SANS
   - 1 (the alias comes first). */
typedef struct {
    const char *dns[CF_ISSUE_MAX_SANS]; /* DNS names (borrowed) */
    size_t n_dns;                       /* entries in dns */
    const char *ips[CF_ISSUE_MAX_SANS]; /* addresses (borrowed) */
    size_t n_ips;                       /* entries in ips */
} s_names_t;

static void s_add_name(s_names_t *n, const char *name)
{
    unsigned char addr[16];
    if (n->n_dns + n->n_ips + 1 >= CF_ISSUE_MAX_SANS)
        return;
    if (inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1)
        n->ips[n->n_ips++] = name;
    else
        n->dns[n->n_dns++] = name;
}

/* The current certificate of alias when it was generated here (NULL otherwise): its other
   names (a server's --san) carry over to the new one, as the renewer keeps them. */
static cf_err_t s_current(s_gen_t *g, const char *alias, cf_cert_t **out, cf_why_t *why)
{
    cf_db_cert_t rec = {0};
    *out = NULL;
    cf_err_t rc = cf_db_cert_get(g->store, NULL, CF_COMPONENT_SERVER, alias, &rec, NULL);
    if (rc == CF_OK && rec.kind == CF_DB_CERT_GENERATED &&
        cf_cert_parse(rec.cert_pem, strlen(rec.cert_pem), out) != CF_OK)
        cf_log(CF_LOG_WARN, "generate-all server=%s: the current certificate does not parse",
               alias);
    cf_db_cert_clear(&rec);
    if (rc == CF_ERR_NOTFOUND)
        return CF_OK;
    if (rc != CF_OK)
        cf_why(why, rc, "%s", cf_why_text(cf_store_why(g->store), rc));
    return rc;
}

/* The certificate of one registered server: SAN = alias, its host, and the other names of
   its current generated certificate. */
static cf_err_t s_server(s_gen_t *g, const cf_db_server_t *srv, cf_why_t *why)
{
    s_names_t n = {{0}, 0, {0}, 0};
    cf_cert_t *old = NULL;
    if (srv->host[0] && strcmp(srv->host, srv->alias) != 0)
        s_add_name(&n, srv->host);
    CF_TRY(s_current(g, srv->alias, &old, why));
    for (size_t i = 0; old && i < cf_cert_san_count(old); i++) {
        const char *san = cf_cert_san(old, i);
        const char *name = strncmp(san, "DNS:", 4) == 0  ? san + 4
                           : strncmp(san, "IP:", 3) == 0 ? san + 3
                                                         : NULL;
        if (name && strcmp(name, srv->alias) != 0 && strcmp(name, srv->host) != 0)
            s_add_name(&n, name);
    }
    cf_issue_t req = {0};
    req.component = CF_COMPONENT_SERVER;
    req.name = srv->alias;
    req.dns = n.dns;
    req.n_dns = n.n_dns;
    req.ips = n.ips;
    req.n_ips = n.n_ips;
    cf_err_t rc = s_one(g, &req, CF_COMPONENT_SERVER, srv->alias, why);
    cf_cert_destroy(&old);
    return rc;
}

/* Every certificate, one after the other. */
static cf_err_t s_generate(s_gen_t *g, size_t *n_servers, cf_why_t *why)
{
    cf_db_server_t *servers = NULL;
    size_t n = 0;
    cf_err_t rc = cf_db_server_list(g->store, CF_DB_SERVERS_MAX, &servers, &n);
    if (rc != CF_OK)
        cf_why(why, rc, "%s", cf_why_text(cf_store_why(g->store), rc));
    if (rc == CF_OK)
        rc = cf_app_ca(g->app, g->store, &g->ca, why);
    for (size_t i = 0; rc == CF_OK && i < n; i++)
        rc = s_server(g, &servers[i], why);
    if (rc == CF_OK) {
        cf_issue_t req = {0};
        req.component = CF_COMPONENT_CONSOLE;
        req.name = CF_API_CERTS_CONSOLE;
        rc = s_one(g, &req, CF_COMPONENT_CONSOLE, CF_API_CERTS_CONSOLE, why);
    }
    if (rc == CF_OK) {
        cf_issue_t req = {0};
        req.component = CF_COMPONENT_AGENT;
        req.shared_agent = 1; /* the seed's one agent certificate, used by install packages */
        rc = s_one(g, &req, CF_COMPONENT_AGENT, CF_API_CERTS_SHARED, why);
    }
    *n_servers = n;
    cf_db_server_list_free(&servers, n);
    cf_ca_destroy(&g->ca);
    return rc;
}

void cf_api_certs_generate_all(cf_req_t *req, void *arg)
{
    cf_why_t why = {{0}};
    s_gen_t g = {0};
    g.app = arg;
    g.now = time(NULL);
    g.generated = json_array();
    g.failed = json_array();
    size_t n_servers = 0;
    char target[64] = "-";
    cf_err_t rc = g.generated && g.failed ? CF_OK : CF_ERR_NOMEM;
    if (rc == CF_OK)
        rc = s_params(cf_req_json(req), &g, &why);
    g.store = cf_app_store_take(g.app);
    if (rc == CF_OK)
        rc = cf_api_certs_renew_days(g.store, &g.renew_days);
    if (rc == CF_OK) {
        snprintf(target, sizeof(target), "%s %ud", cf_key_type_name(g.key_type), g.days);
        rc = s_generate(&g, &n_servers, &why);
    }
    cf_app_audit(g.app, g.store, req, "cert.generate-all", target, rc);
    cf_app_store_give(g.app, g.store);
    if (rc == CF_OK) {
        cf_log(CF_LOG_INFO, "cert generate-all user=%s servers=%zu generated=%zu failed=%zu",
               cf_api_certs_user(req), n_servers, json_array_size(g.generated),
               json_array_size(g.failed));
        cf_req_reply_json(req, 200,
                          json_pack("{s:o,s:o}", "generated", g.generated, "failed", g.failed));
        return;
    }
    json_decref(g.generated);
    json_decref(g.failed);
    cf_app_reply_err(req, rc, &why, "generate-all");
}
