/*  cf_api_certs - certificate API: routes, list and show, cert objects, shared helpers  */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "cf_api_certs_int.h"
#include "cf_db_cert.h"
#include "cf_db_ssl.h"
#include "cf_log.h"
#include "cf_mem.h"

static void s_list(cf_req_t *req, void *app);
static void s_show(cf_req_t *req, void *app);

/* The route table; docs/API.md "Certificates". Literal paths have fewer segments than the
   :component/:name ones, so they never compete. */
static const cf_route_t s_routes[] = {
    {"POST", "/api/v1/certs/generate-all", CF_ACCESS_ADMIN, cf_api_certs_generate_all,
     CF_ROUTE_JSON, 0},
    {"GET", "/api/v1/certs", CF_ACCESS_VIEWER, s_list, 0, 0},
    {"GET", "/api/v1/certs/archive", CF_ACCESS_VIEWER, cf_api_certs_archive, 0, 0},
    {"POST", "/api/v1/certs/revoke", CF_ACCESS_ADMIN, cf_api_certs_revoke, CF_ROUTE_JSON, 0},
    {"GET", "/api/v1/certs/:component/:name", CF_ACCESS_VIEWER, s_show, 0, 0},
    {"POST", "/api/v1/certs/:component/:name/import", CF_ACCESS_ADMIN, cf_api_certs_import,
     CF_ROUTE_JSON, CF_API_CERTS_UPLOAD_MAX},
    {"POST", "/api/v1/certs/:component/:name/export", CF_ACCESS_ADMIN, cf_api_certs_export,
     CF_ROUTE_JSON, 0},
    {"GET", "/api/v1/crl", CF_ACCESS_PUBLIC, cf_api_certs_crl, 0, 0},
};

size_t cf_api_certs_routes(const cf_route_t **routes_out)
{
    *routes_out = s_routes;
    return sizeof(s_routes) / sizeof(s_routes[0]);
}

/* ---- request pieces ---------------------------------------------------------------------- */

cf_err_t cf_api_certs_target(const cf_req_t *req, cf_component_t *comp, const char **name,
                             cf_why_t *why)
{
    const char *c = cf_req_param(req, "component");
    const char *n = cf_req_param(req, "name");
    cf_component_t k = CF_COMPONENT_UNKNOWN;
    if (!c || cf_component_from_name(c, &k) != CF_OK || !cf_db_component_ok(k))
        return cf_why(why, CF_ERR_INVALID, "component must be server, console or agent");
    if (!n || cf_db_check_cert_name(n) != CF_OK)
        return cf_why(why, CF_ERR_INVALID,
                      "name must be a lowercase host name ([a-z0-9][a-z0-9._-]{0,252})");
    if (k == CF_COMPONENT_AGENT && strcmp(n, CF_API_CERTS_SHARED) != 0)
        return cf_why(why, CF_ERR_INVALID,
                      "the agent record is \"" CF_API_CERTS_SHARED
                      "\" (per-agent certificates come with enrollment)");
    *comp = k;
    *name = n;
    return CF_OK;
}

/* 1 when c may stand in a field of the given flags. */
static int s_char_ok(unsigned char c, unsigned flags)
{
    if (c == 0x7f)
        return 0;
    if (c >= 0x20)
        return 1;
    return (flags & CF_API_F_MULTILINE) && (c == '\n' || c == '\r' || c == '\t');
}

cf_err_t cf_api_certs_field(const json_t *obj, const char *field, size_t max, unsigned flags,
                            const char **out, cf_why_t *why)
{
    *out = NULL;
    json_t *v = obj ? json_object_get(obj, field) : NULL;
    if (!v || json_is_null(v))
        return (flags & CF_API_F_REQUIRED)
                   ? cf_why(why, CF_ERR_INVALID, "field \"%s\" is required", field)
                   : CF_OK;
    if (!json_is_string(v))
        return cf_why(why, CF_ERR_INVALID, "field \"%s\" must be a string", field);
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len == 0)
        return cf_why(why, CF_ERR_INVALID, "field \"%s\" is empty", field);
    if (len > max)
        return cf_why(why, CF_ERR_TOOBIG, "field \"%s\" is over %zu bytes", field, max);
    for (size_t i = 0; i < len; i++) {
        if (!s_char_ok((unsigned char) s[i], flags))
            return cf_why(why, CF_ERR_INVALID, "field \"%s\" holds a control character", field);
    }
    *out = s;
    return CF_OK;
}

cf_err_t cf_api_certs_only(const json_t *obj, const char *const *allowed, cf_why_t *why)
{
    const char *key = NULL;
    json_t *v = NULL;
    json_object_foreach((json_t *) obj, key, v)
    {
        size_t i = 0;
        while (allowed[i] && strcmp(allowed[i], key) != 0)
            i++;
        if (!allowed[i])
            return cf_why(why, CF_ERR_INVALID, "unknown field \"%.64s\"", key);
    }
    return CF_OK;
}

void cf_api_certs_wipe_field(json_t *obj, const char *field)
{
    json_t *v = obj ? json_object_get(obj, field) : NULL;
    if (v && json_is_string(v)) /* jansson's own heap copy: writable, wiped before it is freed */
        OPENSSL_cleanse((char *) json_string_value(v), json_string_length(v));
}

void cf_api_certs_refuse(cf_req_t *req, cf_err_t rc, const cf_why_t *why, const char *what)
{
    const char *detail = why && why->text[0] ? why->text : "";
    const char *reason = cf_err_str(rc);
    if (strcmp(detail, reason) == 0)
        detail = "";
    cf_req_reply_error(req, 422, "refused", "%s: %s%s%s", what, reason, detail[0] ? ": " : "",
                       detail);
}

void cf_api_certs_fail(cf_req_t *req, cf_err_t rc, const cf_why_t *why, const char *what)
{
    switch (rc) {
    case CF_ERR_BADPASS:
    case CF_ERR_KEYMISMATCH:
    case CF_ERR_EXPIRED:
    case CF_ERR_NOTYETVALID:
    case CF_ERR_REVOKED:
    case CF_ERR_UNTRUSTED:
    case CF_ERR_UNSUPPORTED:
    case CF_ERR_POLICY:
    case CF_ERR_CORRUPT:
    case CF_ERR_NOKEY:
    case CF_ERR_TOOBIG: cf_api_certs_refuse(req, rc, why, what); break;
    default: cf_app_reply_err(req, rc, why, what); break;
    }
}

const char *cf_api_certs_user(const cf_req_t *req)
{
    const cf_session_t *s = cf_req_session(req);
    return s ? s->user : "-";
}

cf_err_t cf_api_certs_renew_days(cf_store_t *store, int *days)
{
    cf_db_ssl_t ssl;
    cf_err_t rc = cf_db_ssl_get(store, &ssl);
    if (rc == CF_ERR_NOTFOUND) {
        cf_db_ssl_defaults(&ssl);
        rc = CF_OK;
    }
    *days = ssl.renew_days;
    return rc;
}

int cf_api_certs_ours(const cf_cert_t *cert, const cf_cert_t *ca)
{
    return ca && X509_NAME_cmp(X509_get_issuer_name(cf_cert_x509(cert)),
                               X509_get_subject_name(cf_cert_x509(ca))) == 0;
}

/* ---- cert objects ------------------------------------------------------------------------ */

static int s_set(json_t *obj, const char *key, json_t *v)
{
    return v && json_object_set_new(obj, key, v) == 0 ? 0 : -1;
}

/* The SAN list as ["DNS:a", "IP:b", ...]. */
static json_t *s_sans(const cf_cert_t *cert)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < cf_cert_san_count(cert); i++) {
        const char *s = cf_cert_san(cert, i);
        if (s && json_array_append_new(a, json_string(s)) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* Dates, lifetime and renewal of the object. */
static int s_times(json_t *o, const cf_cert_t *cert, const cf_api_cert_meta_t *m)
{
    int bad = 0;
    bad |= s_set(o, "not_before", json_integer((json_int_t) cf_cert_not_before(cert)));
    bad |= s_set(o, "not_after", json_integer((json_int_t) cf_cert_not_after(cert)));
    bad |= s_set(o, "days_left", json_integer(cf_cert_days_left(cert, m->now)));
    bad |= s_set(o, "renew_at",
                 m->renew_days > 0
                     ? json_integer((json_int_t) cf_cert_renew_at(cert, (unsigned) m->renew_days))
                     : json_null());
    if (m->updated)
        bad |= s_set(o, "updated", json_integer(m->updated));
    if (m->archived_at)
        bad |= s_set(o, "archived_at", json_integer(m->archived_at));
    return bad;
}

json_t *cf_api_cert_json(const cf_cert_t *cert, const cf_api_cert_meta_t *m)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    cf_cert_state_t st = cf_cert_classify(cert, m->now, m->archived, m->revoked);
    int bad = 0;
    bad |= s_set(o, "component", json_string(cf_component_name(m->component)));
    bad |= s_set(o, "name", json_string(m->name));
    bad |= s_set(o, "kind", m->kind ? json_string(m->kind) : json_null());
    bad |= s_set(o, "state", json_string(cf_cert_state_name(st)));
    bad |= s_set(o, "subject", json_string(cf_cert_subject(cert)));
    bad |= s_set(o, "issuer", json_string(cf_cert_issuer(cert)));
    bad |= s_set(o, "serial", json_string(cf_cert_serial(cert)));
    bad |= s_set(o, "fingerprint", json_string(cf_cert_fingerprint(cert)));
    bad |= s_set(o, "key_type", json_string(cf_cert_key_name(cert)));
    bad |= s_set(o, "has_key", json_boolean(m->has_key));
    bad |= s_set(o, "san", s_sans(cert));
    bad |= s_times(o, cert, m);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---- GET /certs and GET /certs/:component/:name ------------------------------------------ */

/* The cert object of a stored record. */
static cf_err_t s_record_json(const cf_db_cert_t *rec, cf_api_revoked_t *rv, int renew_days,
                              time_t now, json_t **out, cf_why_t *why)
{
    cf_cert_t *cert = NULL;
    cf_err_t rc = cf_cert_parse(rec->cert_pem, strlen(rec->cert_pem), &cert);
    if (rc != CF_OK)
        return cf_why(why, rc, "record %s/%s: the stored certificate does not parse",
                      cf_component_name(rec->component), rec->name);
    int revoked = 0;
    rc = cf_api_revoked_has(rv, cf_cert_serial(cert), &revoked);
    if (rc == CF_OK) {
        /* a record's certificate is never in the archive: cf_db_cert_put moves it out */
        cf_api_cert_meta_t m = {rec->component,
                                rec->name,
                                cf_db_cert_kind_name(rec->kind),
                                rec->has_key,
                                0,
                                revoked,
                                renew_days,
                                (long long) rec->updated,
                                0,
                                now};
        *out = cf_api_cert_json(cert, &m);
        rc = *out ? CF_OK : CF_ERR_NOMEM;
    }
    cf_cert_destroy(&cert);
    return rc;
}

/* The records of the components asked for into arr. */
static cf_err_t s_list_into(cf_store_t *store, const cf_component_t *comps, size_t n_comps,
                            json_t *arr, cf_why_t *why)
{
    cf_db_cert_t *recs[3] = {NULL, NULL, NULL};
    size_t n[3] = {0, 0, 0}, total = 0;
    int renew_days = 0;
    cf_api_revoked_t rv = {0};
    cf_err_t rc = cf_api_certs_renew_days(store, &renew_days);
    for (size_t c = 0; rc == CF_OK && c < n_comps; c++) {
        rc = cf_db_cert_list(store, comps[c], CF_API_CERTS_LIST_MAX, &recs[c], &n[c]);
        total += n[c];
    }
    if (rc == CF_OK)
        rc = cf_api_revoked_init(&rv, store, total);
    if (rc != CF_OK)
        cf_why(why, rc, "%s", cf_why_text(cf_store_why(store), rc));
    time_t now = time(NULL);
    for (size_t c = 0; rc == CF_OK && c < n_comps; c++) {
        for (size_t i = 0; rc == CF_OK && i < n[c]; i++) {
            json_t *o = NULL;
            rc = s_record_json(&recs[c][i], &rv, renew_days, now, &o, why);
            if (rc == CF_OK && json_array_append_new(arr, o) != 0)
                rc = CF_ERR_NOMEM;
        }
    }
    for (size_t c = 0; c < 3; c++)
        cf_db_cert_list_free(&recs[c], n[c]);
    cf_api_revoked_clear(&rv);
    return rc;
}

static void s_list(cf_req_t *req, void *arg)
{
    cf_app_t *app = arg;
    cf_component_t comps[3] = {CF_COMPONENT_SERVER, CF_COMPONENT_CONSOLE, CF_COMPONENT_AGENT};
    size_t n_comps = 3;
    const char *want = cf_req_query(req, "component");
    if (want) {
        if (cf_component_from_name(want, &comps[0]) != CF_OK || !cf_db_component_ok(comps[0])) {
            cf_req_reply_error(req, 400, "invalid_request",
                               "component must be server, console or agent");
            return;
        }
        n_comps = 1;
    }
    cf_why_t why = {{0}};
    json_t *arr = json_array();
    cf_store_t *store = cf_app_store_take(app);
    cf_err_t rc = arr ? s_list_into(store, comps, n_comps, arr, &why) : CF_ERR_NOMEM;
    cf_app_store_give(app, store);
    if (rc == CF_OK) {
        cf_req_reply_json(req, 200, json_pack("{s:o}", "certs", arr));
        return;
    }
    json_decref(arr);
    cf_app_reply_err(req, rc, &why, "certificate list");
}

static void s_show(cf_req_t *req, void *arg)
{
    cf_app_t *app = arg;
    cf_why_t why = {{0}};
    cf_component_t comp = CF_COMPONENT_UNKNOWN;
    const char *name = NULL;
    cf_err_t rc = cf_api_certs_target(req, &comp, &name, &why);
    if (rc != CF_OK) {
        cf_app_reply_err(req, rc, &why, "certificate");
        return;
    }
    cf_db_cert_t rec = {0};
    cf_api_revoked_t rv = {0};
    int renew_days = 0;
    json_t *o = NULL;
    cf_store_t *store = cf_app_store_take(app);
    rc = cf_db_cert_get(store, NULL, comp, name, &rec, NULL);
    if (rc == CF_OK)
        rc = cf_api_certs_renew_days(store, &renew_days);
    if (rc == CF_OK)
        rc = cf_api_revoked_init(&rv, store, 1);
    if (rc != CF_OK)
        cf_why(&why, rc, "%s", cf_why_text(cf_store_why(store), rc));
    if (rc == CF_OK)
        rc = s_record_json(&rec, &rv, renew_days, time(NULL), &o, &why);
    cf_api_revoked_clear(&rv);
    cf_app_store_give(app, store);
    cf_db_cert_clear(&rec);
    if (rc == CF_OK) {
        cf_req_reply_json(req, 200, o);
        return;
    }
    if (rc == CF_ERR_NOTFOUND)
        cf_why(&why, rc, "no certificate %s/%s", cf_component_name(comp), name);
    cf_app_reply_err(req, rc, &why, "certificate");
}
