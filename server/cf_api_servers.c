/*  cf_api_servers - the server record routes: list, add, update, remove  */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cf_api_agents.h"
#include "cf_app.h"
#include "cf_db_cert.h"
#include "cf_db_server.h"
#include "cf_iprange.h"
#include "cf_mem.h"

/* A request body as a record: rec borrows ranges. */
typedef struct {
    cf_db_server_t rec;                    /* the fields given (ip_ranges -> ranges) */
    unsigned mask;                         /* CF_DB_SERVER_* of the fields given */
    int has_alias;                         /* the body named an alias */
    char ranges[CF_IPRANGE_LIST_TEXT_MAX]; /* canonical ip_ranges text */
} s_body_t;

/* Reply with body, or 500 when building it ran out of memory. */
static void s_reply(cf_req_t *req, int status, json_t *body)
{
    if (!body)
        cf_app_reply_err(req, CF_ERR_NOMEM, NULL, "answer");
    else
        cf_req_reply_json(req, status, body);
}

json_t *cf_api_ranges_json(const char *ranges)
{
    json_t *a = json_array();
    const char *p = ranges ? ranges : "";
    while (a && *p) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ",");
        while (n > 0 && p[n - 1] == ' ')
            n--;
        if (n > 0 && json_array_append_new(a, json_stringn(p, n)) != 0) {
            json_decref(a);
            return NULL;
        }
        p += n;
    }
    return a;
}

/* A record in the API's shape; fp is the fingerprint of its certificate or NULL. */
static json_t *s_server_json(const cf_db_server_t *rec, const char *fp)
{
    return json_pack("{s:s,s:s,s:i,s:i,s:i,s:o,s:b,s:s?,s:I}", "alias", rec->alias, "host",
                     rec->host, "port", rec->port, "plain_port", rec->plain_port, "priority",
                     rec->priority, "ip_ranges", cf_api_ranges_json(rec->ip_ranges), "online",
                     rec->online, "cert_fingerprint", fp, "created", (json_int_t) rec->created);
}

/* An alias as given (a host name), lowercased into out (CF_DB_ALIAS_MAX + 1 bytes). */
static cf_err_t s_alias(const char *text, char *out, cf_why_t *why)
{
    size_t n = text ? strlen(text) : 0;
    out[0] = '\0';
    if (n == 0 || n > CF_DB_ALIAS_MAX)
        return cf_why(why, CF_ERR_INVALID, "alias must be 1..%d characters", CF_DB_ALIAS_MAX);
    for (size_t i = 0; i <= n; i++)
        out[i] = (char) tolower((unsigned char) text[i]);
    if (cf_db_check_alias(out) != CF_OK) {
        out[0] = '\0';
        return cf_why(why, CF_ERR_INVALID, "alias must be a host name ([a-z0-9][a-z0-9._-]*)");
    }
    return CF_OK;
}

/* An integer field in lo..hi into *out. */
static cf_err_t s_int(const char *key, const json_t *v, long lo, long hi, int *out, cf_why_t *why)
{
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return cf_why(why, CF_ERR_INVALID, "%s must be an integer %ld..%ld", key, lo, hi);
    *out = (int) json_integer_value(v);
    return CF_OK;
}

/* ip_ranges: an array of range texts (CIDR, address, from-to), checked and written in
   canonical form into b->ranges; null or [] for none. */
static cf_err_t s_ranges(const json_t *v, s_body_t *b, cf_why_t *why)
{
    b->ranges[0] = '\0';
    if (json_is_null(v))
        return CF_OK;
    if (!json_is_array(v))
        return cf_why(why, CF_ERR_INVALID, "ip_ranges must be an array of ranges");
    if (json_array_size(v) > CF_IPRANGE_LIST_MAX)
        return cf_why(why, CF_ERR_INVALID, "ip_ranges: at most %d ranges", CF_IPRANGE_LIST_MAX);
    cf_iprange_list_t *list = cf_iprange_list_new();
    cf_err_t rc = list ? CF_OK : CF_ERR_NOMEM;
    for (size_t i = 0; rc == CF_OK && i < json_array_size(v); i++) {
        const json_t *item = json_array_get(v, i);
        cf_iprange_t r;
        cf_why_t w = {""};
        rc = json_is_string(item) ? cf_iprange_parse(json_string_value(item), &r, &w)
                                  : cf_why(&w, CF_ERR_INVALID, "not a string");
        if (rc == CF_OK)
            rc = cf_iprange_list_append(list, &r);
        if (rc == CF_ERR_EXISTS)
            cf_why(&w, CF_ERR_INVALID, "listed twice");
        if (rc != CF_OK)
            rc = cf_why(why, CF_ERR_INVALID, "ip_ranges item %zu: %s", i + 1, cf_why_text(&w, rc));
    }
    if (rc == CF_OK)
        rc = cf_iprange_list_format(list, b->ranges, sizeof(b->ranges));
    cf_iprange_list_destroy(&list);
    return rc;
}

/* One field of a body into b. */
static cf_err_t s_field(const char *key, const json_t *v, s_body_t *b, cf_why_t *why)
{
    if (strcmp(key, "alias") == 0) {
        b->has_alias = 1;
        if (!json_is_string(v))
            return cf_why(why, CF_ERR_INVALID, "alias must be a string");
        return s_alias(json_string_value(v), b->rec.alias, why);
    }
    if (strcmp(key, "host") == 0) {
        b->mask |= CF_DB_SERVER_HOST;
        if (!json_is_string(v) || json_string_length(v) > CF_DB_HOST_MAX ||
            strlen(json_string_value(v)) != json_string_length(v))
            return cf_why(why, CF_ERR_INVALID, "host must be a string of at most %d characters",
                          CF_DB_HOST_MAX);
        memcpy(b->rec.host, json_string_value(v), json_string_length(v) + 1);
        return CF_OK;
    }
    if (strcmp(key, "port") == 0) {
        b->mask |= CF_DB_SERVER_PORT;
        return s_int(key, v, 1, 65535, &b->rec.port, why);
    }
    if (strcmp(key, "plain_port") == 0) {
        b->mask |= CF_DB_SERVER_PLAIN_PORT;
        return s_int(key, v, 0, 65535, &b->rec.plain_port, why);
    }
    if (strcmp(key, "priority") == 0) {
        b->mask |= CF_DB_SERVER_PRIORITY;
        return s_int(key, v, -CF_DB_PRIORITY_MAX, CF_DB_PRIORITY_MAX, &b->rec.priority, why);
    }
    if (strcmp(key, "ip_ranges") == 0) {
        b->mask |= CF_DB_SERVER_RANGES;
        return s_ranges(v, b, why);
    }
    return cf_why(why, CF_ERR_INVALID, "unknown field '%.64s'", key);
}

/* The body of a POST or PUT into b (which holds the defaults already). */
static cf_err_t s_parse(const json_t *body, s_body_t *b, cf_why_t *why)
{
    const char *key = NULL;
    json_t *v = NULL;
    if (!body)
        return cf_why(why, CF_ERR_INVALID, "a JSON body is required");
    json_object_foreach((json_t *) body, key, v)
    {
        CF_TRY(s_field(key, v, b, why));
    }
    b->rec.ip_ranges = b->ranges;
    return CF_OK;
}

/* Answer one record with its online state and certificate fingerprint (2 RT). */
static void s_answer_one(cf_req_t *req, cf_store_t *store, const char *alias, int status)
{
    cf_db_server_t rec = {0};
    cf_db_cert_t cert = {0};
    cf_err_t rc = cf_db_server_get(store, alias, &rec);
    if (rc != CF_OK) {
        cf_app_reply_err(req, rc, cf_store_why(store), "server");
        return;
    }
    cf_err_t crc = cf_db_cert_get(store, NULL, CF_COMPONENT_SERVER, alias, &cert, NULL);
    if (crc == CF_OK || crc == CF_ERR_NOTFOUND)
        s_reply(req, status, s_server_json(&rec, crc == CF_OK ? cert.fingerprint : NULL));
    else
        cf_app_reply_err(req, crc, cf_store_why(store), "server certificate");
    cf_db_cert_clear(&cert);
    cf_db_server_clear(&rec);
}

static int s_cert_cmp(const void *key, const void *elem)
{
    return strcmp((const char *) key, ((const cf_db_cert_t *) elem)->name);
}

/* GET /api/v1/servers (4 RT: the records with heartbeats, the server certificates). */
static void s_list(cf_req_t *req, void *arg)
{
    cf_app_t *app = arg;
    cf_db_server_t *list = NULL;
    cf_db_cert_t *certs = NULL;
    size_t n = 0, nc = 0;
    cf_store_t *store = cf_app_store_take(app);
    cf_err_t rc = cf_db_server_list(store, CF_DB_SERVERS_MAX, &list, &n);
    if (rc == CF_OK)
        rc = cf_db_cert_list(store, CF_COMPONENT_SERVER, CF_DB_CERT_LIST_MAX, &certs, &nc);
    if (rc != CF_OK) {
        cf_app_reply_err(req, rc, cf_store_why(store), "servers");
        goto out;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        /* cf_db_cert_list sorts by name */
        const cf_db_cert_t *c = bsearch(list[i].alias, certs, nc, sizeof(*certs), s_cert_cmp);
        if (json_array_append_new(a, s_server_json(&list[i], c ? c->fingerprint : NULL)) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    s_reply(req, 200, a ? json_pack("{s:o}", "servers", a) : NULL);
out:
    cf_db_cert_list_free(&certs, nc);
    cf_db_server_list_free(&list, n);
    cf_app_store_give(app, store);
}

/* POST /api/v1/servers: a new record (409 when the alias has one). */
static void s_add(cf_req_t *req, void *arg)
{
    cf_app_t *app = arg;
    cf_why_t why = {""};
    s_body_t *b = cf_mem_calloc(1, sizeof(*b));
    cf_store_t *store = cf_app_store_take(app);
    cf_err_t rc = b ? CF_OK : CF_ERR_NOMEM;
    if (rc == CF_OK) {
        b->rec.port = CF_HTTPS_DEFAULT_PORT;
        rc = s_parse(cf_req_json(req), b, &why);
    }
    if (rc == CF_OK && !b->has_alias)
        rc = cf_why(&why, CF_ERR_INVALID, "alias is required");
    if (rc != CF_OK) {
        cf_app_audit(app, store, req, "server.add", NULL, rc);
        cf_app_reply_err(req, rc, &why, "server");
        goto out;
    }
    rc = cf_db_server_create(store, &b->rec, (int64_t) time(NULL));
    cf_app_audit(app, store, req, "server.add", b->rec.alias, rc);
    if (rc == CF_OK)
        s_answer_one(req, store, b->rec.alias, 201);
    else
        cf_app_reply_err(req, rc, cf_store_why(store), "server");
out:
    cf_mem_free(b);
    cf_app_store_give(app, store);
}

/* PUT /api/v1/servers/:alias: change the fields given. */
static void s_update(cf_req_t *req, void *arg)
{
    cf_app_t *app = arg;
    cf_why_t why = {""};
    char alias[CF_DB_ALIAS_MAX + 1] = "";
    s_body_t *b = cf_mem_calloc(1, sizeof(*b));
    cf_store_t *store = cf_app_store_take(app);
    cf_err_t rc = b ? s_alias(cf_req_param(req, "alias"), alias, &why) : CF_ERR_NOMEM;
    if (rc == CF_OK)
        rc = s_parse(cf_req_json(req), b, &why);
    if (rc == CF_OK && b->has_alias && strcmp(b->rec.alias, alias) != 0)
        rc = cf_why(&why, CF_ERR_INVALID, "the alias of a record cannot change");
    if (rc == CF_OK && b->mask == 0)
        rc = cf_why(&why, CF_ERR_INVALID, "no field to change");
    if (rc != CF_OK) {
        cf_app_audit(app, store, req, "server.update", alias[0] ? alias : NULL, rc);
        cf_app_reply_err(req, rc, &why, "server");
        goto out;
    }
    memcpy(b->rec.alias, alias, sizeof(alias));
    rc = cf_db_server_update(store, &b->rec, b->mask, NULL);
    cf_app_audit(app, store, req, "server.update", alias, rc);
    if (rc == CF_OK)
        s_answer_one(req, store, alias, 200);
    else
        cf_app_reply_err(req, rc, cf_store_why(store), "server");
out:
    cf_mem_free(b);
    cf_app_store_give(app, store);
}

/* DELETE /api/v1/servers/:alias: the record goes; its heartbeat lapses by itself. */
static void s_remove(cf_req_t *req, void *arg)
{
    cf_app_t *app = arg;
    cf_why_t why = {""};
    char alias[CF_DB_ALIAS_MAX + 1];
    cf_store_t *store = cf_app_store_take(app);
    cf_err_t rc = s_alias(cf_req_param(req, "alias"), alias, &why);
    if (rc != CF_OK) {
        cf_app_audit(app, store, req, "server.remove", NULL, rc);
        cf_app_reply_err(req, rc, &why, "server");
        goto out;
    }
    rc = cf_db_server_remove(store, alias);
    cf_app_audit(app, store, req, "server.remove", alias, rc);
    if (rc == CF_OK)
        cf_req_reply_json(req, 200, NULL);
    else
        cf_app_reply_err(req, rc, cf_store_why(store), "server");
out:
    cf_app_store_give(app, store);
}

static const cf_route_t s_routes[] = {
    {"GET", "/api/v1/servers", CF_ACCESS_VIEWER, s_list, 0, 0},
    {"POST", "/api/v1/servers", CF_ACCESS_ADMIN, s_add, CF_ROUTE_JSON, 0},
    {"PUT", "/api/v1/servers/:alias", CF_ACCESS_ADMIN, s_update, CF_ROUTE_JSON, 0},
    {"DELETE", "/api/v1/servers/:alias", CF_ACCESS_ADMIN, s_remove, 0, 0},
};

size_t cf_api_servers_routes(const cf_route_t **routes_out)
{
    *routes_out = s_routes;
    return sizeof(s_routes) / sizeof(s_routes[0]);
}
