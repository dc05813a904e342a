/*  cf_api_certs_archive - GET /certs/archive: replaced certificates, newest first  */
#include <stdlib.h>
#include <string.h>

#include "cf_api_certs_int.h"
#include "cf_db_archive.h"
#include "cf_log.h"
#include "cf_mem.h"

/* Entries gathered from the HSCAN walk (which may give one twice). */
typedef struct {
    cf_db_archived_t *e;      /* owned: n entries */
    size_t n;                 /* entries used */
    size_t max;               /* entries kept at most; one more sets truncated */
    cf_component_t component; /* filter; CF_COMPONENT_UNKNOWN for all */
    int truncated;            /* more entries than max */
    cf_err_t rc;              /* first failure */
} s_gather_t;

static int s_gather_one(void *arg, const cf_db_archived_t *entry)
{
    s_gather_t *g = arg;
    if (g->component != CF_COMPONENT_UNKNOWN && entry->component != g->component)
        return 0;
    if (g->n == g->max) {
        g->truncated = 1;
        return 1;
    }
    cf_db_archived_t *e = &g->e[g->n];
    *e = *entry;
    e->cert_pem = entry->cert_pem ? cf_mem_strdup(entry->cert_pem) : NULL;
    e->subject = entry->subject ? cf_mem_strdup(entry->subject) : NULL;
    if ((entry->cert_pem && !e->cert_pem) || (entry->subject && !e->subject)) {
        cf_db_archived_clear(e);
        g->rc = CF_ERR_NOMEM;
        return 1;
    }
    g->n++;
    return 0;
}

static int s_by_fp(const void *a, const void *b)
{
    return strcmp(((const cf_db_archived_t *) a)->fingerprint,
                  ((const cf_db_archived_t *) b)->fingerprint);
}

/* Drop the entries HSCAN gave twice. */
static void s_dedup(s_gather_t *g)
{
    if (g->n < 2)
        return;
    qsort(g->e, g->n, sizeof(*g->e), s_by_fp);
    size_t w = 1;
    for (size_t r = 1; r < g->n; r++) {
        if (strcmp(g->e[r].fingerprint, g->e[w - 1].fingerprint) == 0)
            cf_db_archived_clear(&g->e[r]);
        else
            g->e[w++] = g->e[r];
    }
    g->n = w;
}

/* Newest archived first, then by fingerprint for a stable order. */
static int s_newest_first(const void *a, const void *b)
{
    const cf_db_archived_t *x = a, *y = b;
    if (x->archived_at != y->archived_at)
        return x->archived_at > y->archived_at ? -1 : 1;
    return strcmp(x->fingerprint, y->fingerprint);
}

/* The cert object of an archive entry without its certificate (an agent's, docs/API.md):
   what the entry keeps, null for what only the certificate said. */
static json_t *s_bodyless_json(const cf_db_archived_t *e, int revoked, time_t now)
{
    long long secs = (long long) e->not_after - (long long) now;
    long long days = secs / 86400 - (secs < 0 && secs % 86400 != 0);
    const char *state = revoked ? "revoked" : secs < 0 ? "expired" : "archived";
    return json_pack("{s:s,s:s,s:n,s:s,s:s,s:n,s:s,s:s,s:n,s:b,s:[],s:n,s:I,s:I,s:n,s:I}",
                     "component", cf_component_name(e->component), "name", e->name, "kind", "state",
                     state, "subject", e->subject, "issuer", "serial", e->serial, "fingerprint",
                     e->fingerprint, "key_type", "has_key", 0, "san", "not_before", "not_after",
                     (json_int_t) e->not_after, "days_left", (json_int_t) days, "renew_at",
                     "archived_at", (json_int_t) e->archived_at);
}

/* The cert object of one archive entry. */
static cf_err_t s_entry_json(const cf_db_archived_t *e, cf_api_revoked_t *rv, time_t now,
                             json_t **out)
{
    cf_cert_t *cert = NULL;
    int revoked = 0;
    if (!e->cert_pem) {
        cf_err_t brc = cf_api_revoked_has(rv, e->serial, &revoked);
        *out = brc == CF_OK ? s_bodyless_json(e, revoked, now) : NULL;
        return brc != CF_OK ? brc : *out ? CF_OK : CF_ERR_NOMEM;
    }
    cf_err_t rc = cf_cert_parse(e->cert_pem, strlen(e->cert_pem), &cert);
    if (rc != CF_OK) {
        cf_log(CF_LOG_WARN, "archive fp=%s: the stored certificate does not parse, skipped",
               e->fingerprint);
        *out = NULL;
        return CF_OK;
    }
    rc = cf_api_revoked_has(rv, cf_cert_serial(cert), &revoked);
    if (rc == CF_OK) {
        /* the archive keeps no kind; it has no key and no renewal moment */
        cf_api_cert_meta_t m = {
            e->component, e->name, NULL, 0, 1, revoked, 0, 0, (long long) e->archived_at, now};
        *out = cf_api_cert_json(cert, &m);
        rc = *out ? CF_OK : CF_ERR_NOMEM;
    }
    cf_cert_destroy(&cert);
    return rc;
}

/* Walk the archive into g, then the objects into arr. */
static cf_err_t s_archive_into(cf_store_t *store, s_gather_t *g, json_t *arr, cf_why_t *why)
{
    cf_api_revoked_t rv = {0};
    size_t bad = 0;
    cf_err_t rc = cf_db_archive_walk(store, CF_DB_ARCHIVE_WALK, s_gather_one, g, &bad);
    if (rc == CF_OK)
        rc = g->rc;
    s_dedup(g);
    if (rc == CF_OK)
        rc = cf_api_revoked_init(&rv, store, g->n);
    if (rc != CF_OK)
        cf_why(why, rc, "%s", cf_why_text(cf_store_why(store), rc));
    if (bad)
        cf_log(CF_LOG_WARN, "archive: %zu malformed entries skipped", bad);
    if (rc == CF_OK && g->n > 1)
        qsort(g->e, g->n, sizeof(*g->e), s_newest_first);
    time_t now = time(NULL);
    for (size_t i = 0; rc == CF_OK && i < g->n; i++) {
        json_t *o = NULL;
        rc = s_entry_json(&g->e[i], &rv, now, &o);
        if (rc == CF_OK && o && json_array_append_new(arr, o) != 0)
            rc = CF_ERR_NOMEM;
    }
    cf_api_revoked_clear(&rv);
    return rc;
}

/* ?component= and ?limit= into g. */
static cf_err_t s_query(cf_req_t *req, s_gather_t *g, cf_why_t *why)
{
    const char *comp = cf_req_query(req, "component");
    const char *limit = cf_req_query(req, "limit");
    g->component = CF_COMPONENT_UNKNOWN;
    g->max = CF_API_CERTS_ARCHIVE;
    if (comp &&
        (cf_component_from_name(comp, &g->component) != CF_OK || !cf_db_component_ok(g->component)))
        return cf_why(why, CF_ERR_INVALID, "component must be server, console or agent");
    if (limit) {
        char *end = NULL;
        long v = strtol(limit, &end, 10);
        if (end == limit || *end || v < 1 || v > CF_API_CERTS_ARCHIVE_MAX)
            return cf_why(why, CF_ERR_INVALID, "limit must be 1..%d", CF_API_CERTS_ARCHIVE_MAX);
        g->max = (size_t) v;
    }
    return CF_OK;
}

void cf_api_certs_archive(cf_req_t *req, void *arg)
{
    cf_app_t *app = arg;
    cf_why_t why = {{0}};
    s_gather_t g = {0};
    json_t *arr = NULL;
    cf_err_t rc = s_query(req, &g, &why);
    if (rc == CF_OK) {
        g.e = cf_mem_calloc(g.max, sizeof(*g.e));
        arr = json_array();
        rc = g.e && arr ? CF_OK : CF_ERR_NOMEM;
    }
    if (rc == CF_OK) {
        cf_store_t *store = cf_app_store_take(app);
        rc = s_archive_into(store, &g, arr, &why);
        cf_app_store_give(app, store);
    }
    for (size_t i = 0; i < g.n; i++)
        cf_db_archived_clear(&g.e[i]);
    cf_mem_free(g.e);
    if (rc == CF_OK) {
        cf_req_reply_json(req, 200, json_pack("{s:o,s:b}", "certs", arr, "truncated", g.truncated));
        return;
    }
    json_decref(arr);
    cf_app_reply_err(req, rc, &why, "archive");
}
