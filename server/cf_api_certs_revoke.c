/*  cf_api_certs_revoke - revocation: the revoked set, POST /certs/revoke, GET /crl  */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "cf_api_certs_int.h"
#include "cf_ca.h"
#include "cf_crl.h"
#include "cf_db_agent.h"
#include "cf_db_archive.h"
#include "cf_db_crl.h"
#include "cf_log.h"
#include "cf_mem.h"

#define S_SERIAL_FIELD_MAX 200 /* serial as typed: hex with optional colons or blanks */

/* ---- the revoked set --------------------------------------------------------------------- */

/* Append one serial (already checked by cf_db). */
static cf_err_t s_add(cf_api_serials_t *set, const char *serial)
{
    if (set->n == set->cap) {
        if (set->cap >= CF_CA_MAX_CRL_SERIALS)
            return CF_ERR_TOOBIG;
        size_t cap = set->cap ? set->cap * 2 : 64;
        if (cap > CF_CA_MAX_CRL_SERIALS)
            cap = CF_CA_MAX_CRL_SERIALS;
        void *p = cf_mem_realloc(set->serial, cap * sizeof(*set->serial));
        if (!p)
            return CF_ERR_NOMEM;
        set->serial = p;
        set->cap = cap;
    }
    size_t len = strnlen(serial, CF_DB_SERIAL_MAX + 1);
    if (len > CF_DB_SERIAL_MAX)
        return CF_ERR_INVALID;
    memcpy(set->serial[set->n], serial, len + 1);
    set->n++;
    return CF_OK;
}

static int s_cmp(const void *a, const void *b)
{
    return strcmp((const char *) a, (const char *) b);
}

/* Sort and drop duplicates (SSCAN may give a member twice). */
static void s_sort(cf_api_serials_t *set)
{
    if (set->n < 2)
        return;
    qsort(set->serial, set->n, sizeof(*set->serial), s_cmp);
    size_t w = 1;
    for (size_t r = 1; r < set->n; r++) {
        if (strcmp(set->serial[r], set->serial[w - 1]) != 0)
            memmove(set->serial[w++], set->serial[r], sizeof(*set->serial));
    }
    set->n = w;
}

typedef struct {
    cf_api_serials_t *set; /* where serials go */
    cf_err_t rc;           /* first failure */
} s_load_t;

static int s_load_one(void *arg, const char *serial)
{
    s_load_t *l = arg;
    l->rc = s_add(l->set, serial);
    return l->rc != CF_OK;
}

cf_err_t cf_api_serials_load(cf_store_t *store, cf_api_serials_t *out)
{
    out->n = 0;
    s_load_t l = {out, CF_OK};
    size_t bad = 0;
    cf_err_t rc = cf_db_revoked_load(store, CF_CA_MAX_CRL_SERIALS, s_load_one, &l, &bad);
    if (rc == CF_OK)
        rc = l.rc;
    if (bad)
        cf_log(CF_LOG_WARN, "revoked set: %zu malformed members skipped", bad);
    s_sort(out);
    return rc;
}

int cf_api_serials_has(const cf_api_serials_t *set, const char *serial)
{
    char key[CF_DB_SERIAL_MAX + 1];
    size_t len = strnlen(serial, sizeof(key));
    if (len >= sizeof(key) || set->n == 0)
        return 0;
    memcpy(key, serial, len + 1);
    return bsearch(key, set->serial, set->n, sizeof(*set->serial), s_cmp) != NULL;
}

void cf_api_serials_clear(cf_api_serials_t *set)
{
    if (!set)
        return;
    cf_mem_free(set->serial);
    memset(set, 0, sizeof(*set));
}

cf_err_t cf_api_revoked_init(cf_api_revoked_t *r, cf_store_t *store, size_t n)
{
    memset(r, 0, sizeof(*r));
    r->store = store;
    if (n <= CF_API_CERTS_FEW)
        return CF_OK;
    r->loaded = 1;
    return cf_api_serials_load(store, &r->set);
}

cf_err_t cf_api_revoked_has(cf_api_revoked_t *r, const char *serial, int *yes)
{
    if (r->loaded) {
        *yes = cf_api_serials_has(&r->set, serial);
        return CF_OK;
    }
    return cf_db_revoked(r->store, serial, yes);
}

void cf_api_revoked_clear(cf_api_revoked_t *r)
{
    if (r)
        cf_api_serials_clear(&r->set);
}

/* ---- the CRL ----------------------------------------------------------------------------- */

void cf_api_certs_crl(cf_req_t *req, void *arg)
{
    cf_app_t *app = arg;
    cf_db_crl_t crl = {0};
    cf_store_t *store = cf_app_store_take(app);
    cf_err_t rc = cf_db_crl_get(store, &crl);
    cf_why_t why = {{0}};
    if (rc != CF_OK)
        cf_why(&why, rc, "%s",
               rc == CF_ERR_NOTFOUND ? "no CRL yet: nothing has been revoked"
                                     : cf_why_text(cf_store_why(store), rc));
    cf_app_store_give(app, store);
    if (rc == CF_OK)
        cf_req_reply_text(req, 200, "application/pkix-crl", crl.pem, strlen(crl.pem));
    else
        cf_app_reply_err(req, rc, &why, "crl");
    cf_db_crl_clear(&crl);
}

/* ---- POST /certs/revoke ------------------------------------------------------------------ */

/* A serial as typed ("0A:1B:..", any case, blanks) in cf_cert_serial's form: lowercase hex,
   whole bytes, no leading zero byte. */
static cf_err_t s_norm_serial(const char *in, char *out, cf_why_t *why)
{
    char hex[S_SERIAL_FIELD_MAX + 2];
    size_t n = 0;
    for (const char *p = in; *p; p++) {
        if (*p == ':' || *p == ' ')
            continue;
        if (!isxdigit((unsigned char) *p) || n >= S_SERIAL_FIELD_MAX)
            return cf_why(why, CF_ERR_INVALID, "serial must be hexadecimal");
        hex[n++] = (char) tolower((unsigned char) *p);
    }
    size_t skip = 0;
    while (skip + 1 < n && hex[skip] == '0')
        skip++;
    size_t len = n - skip, odd = len % 2;
    if (len == 0 || len + odd > CF_DB_SERIAL_MAX)
        return cf_why(why, CF_ERR_INVALID, "serial must be 1 to %d hex digits", CF_DB_SERIAL_MAX);
    out[0] = '0';
    memcpy(out + odd, hex + skip, len);
    out[len + odd] = '\0';
    return CF_OK;
}

typedef struct {
    const char *id;        /* the agent */
    cf_api_serials_t *set; /* its serials */
    cf_err_t rc;           /* first failure */
} s_agent_walk_t;

static int s_agent_one(void *arg, const cf_db_archived_t *e)
{
    s_agent_walk_t *w = arg;
    if (e->component == CF_COMPONENT_AGENT && strcmp(e->name, w->id) == 0)
        w->rc = s_add(w->set, e->serial);
    return w->rc != CF_OK;
}

/* Every serial on record for agent id: its current certificate and its archived ones. */
static cf_err_t s_agent_serials(cf_store_t *store, const char *id, cf_api_serials_t *set,
                                cf_why_t *why)
{
    cf_db_agent_t agent;
    cf_err_t rc = cf_db_agent_get(store, id, &agent);
    int known = rc == CF_OK;
    if (rc == CF_OK && agent.cert_serial[0])
        rc = s_add(set, agent.cert_serial);
    if (rc == CF_ERR_NOTFOUND)
        rc = CF_OK; /* a removed agent may still have archived certificates */
    s_agent_walk_t w = {id, set, CF_OK};
    if (rc == CF_OK)
        rc = cf_db_archive_walk(store, CF_DB_ARCHIVE_WALK, s_agent_one, &w, NULL);
    if (rc == CF_OK)
        rc = w.rc;
    if (rc != CF_OK)
        return cf_why(why, rc, "%s", cf_why_text(cf_store_why(store), rc));
    s_sort(set);
    if (set->n == 0)
        return cf_why(why, CF_ERR_NOTFOUND, "agent %s: %s", id,
                      known ? "no certificate on record" : "unknown, and nothing archived");
    return CF_OK;
}

/* The serials the body names into set; target (64 bytes) says what for the audit. */
static cf_err_t s_targets(cf_store_t *store, const json_t *body, cf_api_serials_t *set,
                          char *target, size_t tlen, cf_why_t *why)
{
    static const char *const allowed[] = {"serial", "agent", NULL};
    const char *serial = NULL, *agent = NULL;
    CF_TRY(cf_api_certs_only(body, allowed, why));
    CF_TRY(cf_api_certs_field(body, "serial", S_SERIAL_FIELD_MAX, 0, &serial, why));
    CF_TRY(cf_api_certs_field(body, "agent", CF_DB_ID_MAX, 0, &agent, why));
    if (!serial == !agent)
        return cf_why(why, CF_ERR_INVALID, "give either \"serial\" or \"agent\"");
    if (agent) {
        if (cf_db_check_agent_id(agent) != CF_OK)
            return cf_why(why, CF_ERR_INVALID, "agent must be an agent id");
        snprintf(target, tlen, "agent=%s", agent);
        return s_agent_serials(store, agent, set, why);
    }
    char norm[CF_DB_SERIAL_MAX + 1];
    CF_TRY(s_norm_serial(serial, norm, why));
    snprintf(target, tlen, "serial=%s", norm);
    return s_add(set, norm);
}

/* Revoke set (cf:revoked, which every server's control thread reloads), then the CRL. */
static cf_err_t s_revoke(cf_app_t *app, cf_store_t *store, const cf_api_serials_t *set,
                         time_t *next, cf_why_t *why)
{
    const char **ptrs = cf_mem_calloc(set->n, sizeof(*ptrs));
    if (!ptrs)
        return CF_ERR_NOMEM;
    for (size_t i = 0; i < set->n; i++)
        ptrs[i] = set->serial[i];
    size_t added = 0;
    cf_err_t rc = cf_db_revoke(store, ptrs, set->n, &added);
    cf_mem_free(ptrs);
    if (rc != CF_OK)
        return cf_why(why, rc, "%s", cf_why_text(cf_store_why(store), rc));
    return cf_crl_rebuild(app, store, time(NULL), next, why);
}

static json_t *s_answer(const cf_api_serials_t *set, time_t next)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < set->n; i++) {
        if (json_array_append_new(list, json_string(set->serial[i])) != 0) {
            json_decref(list);
            return NULL;
        }
    }
    return list ? json_pack("{s:o,s:I}", "revoked", list, "crl_next_update", (json_int_t) next)
                : NULL;
}

void cf_api_certs_revoke(cf_req_t *req, void *arg)
{
    cf_app_t *app = arg;
    cf_why_t why = {{0}};
    cf_api_serials_t set = {0};
    char target[96] = "-";
    time_t next = 0;
    json_t *body = cf_req_json(req);
    cf_store_t *store = cf_app_store_take(app);
    cf_err_t rc = body ? s_targets(store, body, &set, target, sizeof(target), &why)
                       : cf_why(&why, CF_ERR_INVALID, "a JSON body is required");
    if (rc == CF_OK)
        rc = s_revoke(app, store, &set, &next, &why);
    cf_app_audit(app, store, req, "cert.revoke", target, rc);
    cf_app_store_give(app, store);
    json_t *answer = rc == CF_OK ? s_answer(&set, next) : NULL;
    if (rc == CF_OK && !answer)
        rc = CF_ERR_NOMEM;
    if (rc == CF_OK) {
        cf_log(CF_LOG_INFO, "cert revoke user=%s %s serials=%zu", cf_api_certs_user(req), target,
               set.n);
        cf_req_reply_json(req, 200, answer);
    } else {
        cf_app_reply_err(req, rc, &why, "revoke");
    }
    cf_api_serials_clear(&set);
}
