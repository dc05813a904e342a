/*  cf_api_agents - the agent routes: list, show, favorites, the agent check-in, and the hook
    that records agents refused for an expired certificate  */
#include "cf_api_agents.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cf_api_checkin.h"
#include "cf_db_agent.h"
#include "cf_db_archive.h"
#include "cf_db_server.h"
#include "cf_iprange.h"
#include "cf_log.h"
#include "cf_mem.h"

#define S_PROTOCOL     1                        /* check-in protocol this server speaks */
#define S_TARGET_MAX   256                      /* audit target text, bytes with the NUL */
#define S_FAV_BODY     (256 * 1024)             /* body cap of PUT /agents/favorite (many ids) */
#define S_CHECKIN_BODY 4096                     /* body cap of a check-in */
#define S_ADDR_MAX     CF_IPRANGE_ADDR_TEXT_MAX /* an address as text, with the NUL */

/* Reply with body, or 500 when building it ran out of memory. */
static void s_reply(cf_req_t *req, int status, json_t *body)
{
    if (!body)
        cf_app_reply_err(req, CF_ERR_NOMEM, NULL, "answer");
    else
        cf_req_reply_json(req, status, body);
}

/* NULL for "", so absent fields come out as JSON null. */
static const char *s_nz(const char *s)
{
    return s && *s ? s : NULL;
}

/* An address as the server saw it, in canonical form (an IPv4-mapped IPv6 address becomes
   the IPv4 address, which is what operators write in ranges) into out (S_ADDR_MAX). */
static void s_addr(const char *seen, char *out)
{
    size_t n = seen ? strspn(seen, "0123456789.") : 0;
    if (n >= 7 && n <= 15 && !seen[n]) { /* the transport's dotted IPv4 (inet_ntop): already */
        memcpy(out, seen, n + 1);        /* canonical, no parse and print per check-in */
        return;
    }
    cf_iprange_addr_t a;
    if (seen && cf_iprange_addr_parse(seen, &a, NULL) == CF_OK &&
        cf_iprange_addr_format(&a, out, S_ADDR_MAX) == CF_OK)
        return;
    snprintf(out, S_ADDR_MAX, "unknown"); /* not a socket address: never expected */
}

int cf_api_page_args(cf_req_t *req, size_t *limit, const char **cursor)
{
    const char *l = cf_req_query(req, "limit");
    const char *c = cf_req_query(req, "cursor");
    *limit = CF_API_PAGE_DEFAULT;
    *cursor = NULL;
    if (l) {
        char *end = NULL;
        errno = 0;
        unsigned long long v = isdigit((unsigned char) l[0]) ? strtoull(l, &end, 10) : 0;
        if (!end || *end || errno || v < 1 || v > CF_DB_PAGE_MAX) {
            cf_req_reply_error(req, 400, "invalid_request", "limit must be 1..%d", CF_DB_PAGE_MAX);
            return 0;
        }
        *limit = (size_t) v;
    }
    if (c && *c) {
        if (strlen(c) >= CF_DB_CURSOR_MAX) {
            cf_req_reply_error(req, 400, "invalid_request", "cursor is not one of ours");
            return 0;
        }
        *cursor = c;
    }
    return 1;
}

json_t *cf_api_agent_json(const cf_db_agent_t *a)
{
    json_t *na = a->cert_not_after ? json_integer((json_int_t) a->cert_not_after) : json_null();
    json_t *rv = a->revoked ? json_integer((json_int_t) a->revoked) : json_null();
    return json_pack("{s:s,s:s,s:I,s:s?,s:s?,s:s?,s:s?,s:o,s:s?,s:s?,s:o}", "id", a->id, "lock",
                     cf_db_lock_name(a->lock), "last_seen", (json_int_t) a->last_seen, "last_addr",
                     s_nz(a->last_addr), "version", s_nz(a->version), "cert_fingerprint",
                     s_nz(a->cert_fp), "cert_serial", s_nz(a->cert_serial), "cert_not_after", na,
                     "favorite", s_nz(a->favorite), "server", s_nz(a->server), "revoked", rv);
}

/* GET /api/v1/agents/:id */
static void s_show(cf_req_t *req, void *arg)
{
    cf_app_t *app = arg;
    const char *id = cf_req_param(req, "id");
    if (cf_db_check_agent_id(id) != CF_OK) {
        cf_req_reply_error(req, 400, "invalid_request", "an agent id is [a-z0-9][a-z0-9._-]{0,62}");
        return;
    }
    cf_db_agent_t a;
    cf_store_t *store = cf_app_store_take(app);
    cf_err_t rc = cf_db_agent_get(store, id, &a);
    if (rc == CF_OK)
        s_reply(req, 200, cf_api_agent_json(&a));
    else
        cf_app_reply_err(req, rc, cf_store_why(store), "agent");
    cf_app_store_give(app, store);
}

/* The body of PUT /agents/favorite: *ids (the caller's, cf_mem_free; strings borrowed from
   body) and the alias, lowercased into alias ("" = clear). */
static cf_err_t s_fav_parse(const json_t *body, const char ***ids, size_t *n, char *alias,
                            cf_why_t *why)
{
    const json_t *a = body ? json_object_get(body, "agents") : NULL;
    const json_t *s = body ? json_object_get(body, "server") : NULL;
    if (!json_is_array(a) || json_array_size(a) < 1 || json_array_size(a) > CF_DB_BATCH_MAX)
        return cf_why(why, CF_ERR_INVALID, "agents must be an array of 1..%d agent ids",
                      CF_DB_BATCH_MAX);
    if (!s)
        return cf_why(why, CF_ERR_INVALID, "server is required (null clears the favorite)");
    const char *text = json_string_value(s); /* NULL for null */
    if ((!text && !json_is_null(s)) || (text && strlen(text) > CF_DB_ALIAS_MAX))
        return cf_why(why, CF_ERR_INVALID, "server must be a server alias, or null to clear");
    size_t len = text ? strlen(text) : 0;
    for (size_t i = 0; i < len; i++)
        alias[i] = (char) tolower((unsigned char) text[i]);
    alias[len] = '\0';
    if (text && cf_db_check_alias(alias) != CF_OK)
        return cf_why(why, CF_ERR_INVALID, "server must be a server alias, or null to clear");
    *n = json_array_size(a);
    *ids = cf_mem_calloc(*n, sizeof(**ids));
    if (!*ids)
        return CF_ERR_NOMEM;
    for (size_t i = 0; i < *n; i++) {
        const char *id = json_string_value(json_array_get(a, i));
        if (!id || cf_db_check_agent_id(id) != CF_OK)
            return cf_why(why, CF_ERR_INVALID, "agents item %zu is not an agent id", i + 1);
        (*ids)[i] = id;
    }
    return CF_OK;
}

/* PUT /api/v1/agents/favorite: {"agents":[ids], "server":"alias"|null} -> {"updated":n}.
   Unknown agents are skipped; an alias that is not registered changes nothing (404). */
static void s_favorite(cf_req_t *req, void *arg)
{
    cf_app_t *app = arg;
    const char **ids = NULL;
    size_t n = 0, updated = 0;
    char alias[CF_DB_ALIAS_MAX + 1] = "";
    char target[S_TARGET_MAX];
    cf_why_t why = {""};
    cf_store_t *store = cf_app_store_take(app);
    cf_err_t rc = s_fav_parse(cf_req_json(req), &ids, &n, alias, &why);
    if (rc != CF_OK) {
        cf_app_audit(app, store, req, "agent.favorite", NULL, rc);
        cf_app_reply_err(req, rc, &why, "favorite");
        goto out;
    }
    /* within the audit's CF_DB_AUDIT_TEXT_MAX: an alias is cut only past 180 characters */
    if (n == 1)
        snprintf(target, sizeof(target), "%.63s -> %.180s", ids[0], alias[0] ? alias : "none");
    else
        snprintf(target, sizeof(target), "%zu agents -> %.180s", n, alias[0] ? alias : "none");
    rc = cf_db_agent_set_favorite(store, ids, n, alias, &updated);
    cf_app_audit(app, store, req, "agent.favorite", target, rc);
    if (rc == CF_OK)
        s_reply(req, 200, json_pack("{s:I}", "updated", (json_int_t) updated));
    else
        cf_app_reply_err(req, rc, cf_store_why(store), "favorite");
out:
    cf_mem_free(ids);
    cf_app_store_give(app, store);
}

/* ---- the check-in's server list: a per-worker cache --------------------------------------
   Check-ins are the hot path, so the server list is not read from Redis for each: every
   worker thread keeps its own copy (no lock, no sharing: STYLE "threads share no mutable
   state") and reloads it when it is CF_API_SERVERS_CACHE_MS old. The copy lives in
   thread-specific data, freed when the worker exits; the key is made once per process. */
typedef struct {
    const cf_app_t *app; /* whose list it is */
    json_t *servers;     /* the answer's "servers" array; NULL before the first load */
    char *text;          /* the same as compact JSON (jansson's allocator); NULL when none */
    int64_t at_ms;       /* when it was loaded (CLOCK_MONOTONIC, ms) */
} s_cache_t;

static void s_json_free(char *text)
{
    json_malloc_t jmalloc = NULL;
    json_free_t jfree = NULL;
    json_get_alloc_funcs(&jmalloc, &jfree);
    if (text)
        jfree(text);
}

static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static pthread_key_t s_key; /* set once by s_key_make, then only read */
static int s_key_ok;        /* 1 when s_key was made */

static void s_cache_free(void *p)
{
    s_cache_t *c = p;
    json_decref(c->servers);
    s_json_free(c->text);
    cf_mem_free(c);
}

static void s_key_make(void)
{
    s_key_ok = pthread_key_create(&s_key, s_cache_free) == 0;
}

/* This thread's cache, NULL when it cannot have one (then every check-in loads the list). */
static s_cache_t *s_cache(void)
{
    pthread_once(&s_once, s_key_make);
    if (!s_key_ok)
        return NULL;
    s_cache_t *c = pthread_getspecific(s_key);
    if (!c) {
        c = cf_mem_calloc(1, sizeof(*c));
        if (c && pthread_setspecific(s_key, c) != 0) {
            cf_mem_free(c);
            c = NULL;
        }
    }
    return c;
}

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The server list in the check-in's shape from Redis (2 RT). */
static cf_err_t s_servers_load(cf_store_t *store, json_t **out)
{
    cf_db_server_t *list = NULL;
    size_t n = 0;
    CF_TRY(cf_db_server_list(store, CF_DB_SERVERS_MAX, &list, &n));
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        const cf_db_server_t *s = &list[i];
        json_t *e = json_pack("{s:s,s:s,s:i,s:i,s:i,s:o,s:b}", "alias", s->alias, "host", s->host,
                              "port", s->port, "plain_port", s->plain_port, "priority", s->priority,
                              "ip_ranges", cf_api_ranges_json(s->ip_ranges), "online", s->online);
        if (json_array_append_new(a, e) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    cf_db_server_list_free(&list, n);
    *out = a;
    return a ? CF_OK : CF_ERR_NOMEM;
}

cf_err_t cf_api_agents_servers(const cf_app_t *app, cf_store_t *store, json_t **out)
{
    s_cache_t *c = s_cache();
    int64_t now = s_now_ms();
    if (c && c->app == app && c->servers && now - c->at_ms < CF_API_SERVERS_CACHE_MS) {
        *out = json_incref(c->servers);
        return CF_OK;
    }
    if (!store)
        return CF_ERR_NOTFOUND; /* stale, and no store to reload with */
    json_t *fresh = NULL;
    CF_TRY(s_servers_load(store, &fresh));
    if (c) {
        json_decref(c->servers);
        s_json_free(c->text);
        c->servers = json_incref(fresh);
        c->text = json_dumps(fresh, JSON_COMPACT);
        c->app = app;
        c->at_ms = now;
    }
    *out = fresh;
    return CF_OK;
}

cf_err_t cf_api_agents_servers_text(const cf_app_t *app, cf_store_t *store, const char **out)
{
    json_t *servers = NULL;
    CF_TRY(cf_api_agents_servers(app, store, &servers));
    json_decref(servers);
    s_cache_t *c = s_cache();
    if (!c || c->app != app || !c->text)
        return CF_ERR_NOMEM;
    *out = c->text;
    return CF_OK;
}

/* ---- check-in ---------------------------------------------------------------------------- */

/* The body's fields: id and version (NULL when absent; borrowed from the body), protocol
   (checked only: this server answers in S_PROTOCOL) and jobs (checked only: a boolean).
   1, or 0 after a 400. */
static int s_body(cf_req_t *req, const char **id, const char **version)
{
    const json_t *body = cf_req_json(req);
    const json_t *jid = body ? json_object_get(body, "id") : NULL;
    const json_t *jver = body ? json_object_get(body, "version") : NULL;
    const json_t *jproto = body ? json_object_get(body, "protocol") : NULL;
    const json_t *jjobs = body ? json_object_get(body, "jobs") : NULL;
    *id = json_string_value(jid);
    *version = json_string_value(jver);
    int ok = !jid || *id;
    ok = ok && (!jver || (*version && cf_db_check_text(*version, 0, CF_DB_VERSION_MAX) == CF_OK));
    ok = ok && (!jproto || (json_is_integer(jproto) && json_integer_value(jproto) >= 1));
    ok = ok && (!jjobs || json_is_boolean(jjobs));
    if (!ok)
        cf_req_reply_error(req, 400, "invalid_request",
                           "id and version must be strings (version: at most %d printable "
                           "characters), protocol an integer >= 1, jobs a boolean",
                           CF_DB_VERSION_MAX);
    return ok;
}

/* Who is checking in: from the agent certificate when it names its agent (the body's id,
   if given, must match: 403 otherwise), else from the body (no certificate, which the
   router lets through only while allow-plain is on, or the shared agent certificate).
   Also the body's version. Returns 1, or 0 after answering. */
int cf_api_agent_identity(cf_req_t *req, const cf_https_peer_t *peer, const char **id,
                          const char **version)
{
    const char *bid = NULL;
    if (!s_body(req, &bid, version))
        return 0;
    if (peer->cert && peer->component != CF_COMPONENT_AGENT) {
        cf_req_reply_error(req, 403, "forbidden", "not an agent certificate");
        return 0;
    }
    if (peer->cert && peer->agent_id && bid && strcmp(bid, peer->agent_id) != 0) {
        cf_req_reply_error(req, 403, "forbidden", "id %.64s is not the agent of the certificate",
                           bid);
        return 0;
    }
    *id = peer->cert && peer->agent_id ? peer->agent_id : bid;
    if (cf_db_check_agent_id(*id) != CF_OK) {
        cf_req_reply_error(req, 400, "invalid_request", "%s",
                           *id ? "id must match [a-z0-9][a-z0-9._-]{0,62}" : "id is required");
        return 0;
    }
    return 1;
}

/* What the body asks (checked by cf_api_agent_identity): its protocol level, 1 when absent,
   and whether it wants no jobs ("jobs": false). */
static cf_api_checkin_ask_t s_ask(cf_req_t *req)
{
    const json_t *body = cf_req_json(req);
    json_int_t v = json_integer_value(json_object_get(body, "protocol"));
    cf_api_checkin_ask_t ask = {v < 1     ? 1
                                : v > 255 ? 255
                                          : (unsigned) v,
                                json_is_false(json_object_get(body, "jobs")), 0};
    return ask;
}

/* POST /api/v1/agent/checkin: on a worker, asynchronously (cf_api_checkin); elsewhere with
   a store from the pool (1 RT for the check-in and its archive question, 1 for the open
   jobs, more only when there are jobs to build). */
static void s_checkin(cf_req_t *req, void *arg)
{
    cf_app_t *app = arg;
    if (!cf_app_admit(app, req))
        return; /* 503 busy with Retry-After was sent */
    const cf_https_peer_t *peer = cf_req_peer(req);
    const char *id = NULL, *version = NULL;
    if (!cf_api_agent_identity(req, peer, &id, &version))
        return;
    char addr[S_ADDR_MAX], favorite[CF_DB_ALIAS_MAX + 1] = "";
    s_addr(peer->addr, addr);
    int cert = peer->cert && peer->fingerprint;
    cf_api_checkin_ask_t ask = s_ask(req);
    cf_db_checkin_t in = {id,
                          cert ? CF_DB_LOCK_SECURE : CF_DB_LOCK_INSECURE,
                          (int64_t) time(NULL),
                          addr,
                          version,
                          peer->fingerprint,
                          peer->serial,
                          (int64_t) peer->not_after,
                          cf_app_alias(app),
                          ask.proto};
    if (cf_api_checkin_async(app, req, &in, &ask))
        return;
    ask.upgrade = ask.proto >= 2; /* not asked on this path (rare: not a worker thread) */
    cf_store_t *store = cf_app_store_take(app);
    cf_err_t rc = cf_db_agent_checkin_lock(store, &in, favorite, &in.lock);
    if (rc == CF_OK)
        cf_api_checkin_answer(req, app, store, id, addr, in.lock, favorite, &ask, 1);
    else if (rc == CF_ERR_REVOKED)
        cf_req_reply_error(req, 403, "forbidden", "agent %s is revoked", id);
    else
        cf_app_reply_err(req, rc, cf_store_why(store), "check-in");
    cf_app_store_give(app, store);
}

void cf_api_agents_refused(cf_app_t *app, const cf_https_refusal_t *r)
{
    if (!app || !r || r->reason != CF_HTTPS_REFUSED_EXPIRED || r->component != CF_COMPONENT_AGENT ||
        !r->agent_id || !r->fingerprint || !r->serial)
        return;
    if (cf_db_check_agent_id(r->agent_id) != CF_OK)
        return; /* not a name we could store; the transport has logged the refusal */
    char addr[S_ADDR_MAX];
    s_addr(r->addr, addr);
    cf_store_t *store = cf_app_store_take(app);
    cf_err_t rc = cf_db_agent_expired(store, r->agent_id, (int64_t) time(NULL), addr,
                                      r->fingerprint, r->serial, (int64_t) r->not_after);
    if (rc != CF_OK)
        cf_log(CF_LOG_WARN, "agent expired not recorded agent=%s fp=%s: %s", r->agent_id,
               r->fingerprint, cf_why_text(cf_store_why(store), rc));
    cf_app_store_give(app, store);
}

static const cf_route_t s_routes[] = {
    {"GET", "/api/v1/agents", CF_ACCESS_VIEWER, cf_api_agents_list, 0, 0},
    {"PUT", "/api/v1/agents/favorite", CF_ACCESS_ADMIN, s_favorite, CF_ROUTE_JSON, S_FAV_BODY},
    {"GET", "/api/v1/agents/:id", CF_ACCESS_VIEWER, s_show, 0, 0},
    {"POST", "/api/v1/agent/checkin", CF_ACCESS_AGENT, s_checkin, CF_ROUTE_JSON, S_CHECKIN_BODY},
    {"POST", "/api/v1/agent/report", CF_ACCESS_AGENT, cf_api_agent_report, CF_ROUTE_JSON,
     S_CHECKIN_BODY},
};

size_t cf_api_agents_routes(const cf_route_t **routes_out)
{
    *routes_out = s_routes;
    return sizeof(s_routes) / sizeof(s_routes[0]);
}
