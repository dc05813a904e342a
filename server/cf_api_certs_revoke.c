/*  cf_api_certs_revoke - revocation: the revoked set, POST /certs/revoke, GET /crl  */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "cf_api_certs_int.h"
#include "cf_ca.h"
#include "cf_crl.h"
#include "cf_db_agent.h"
#include "cf_db_archive.h"
#include "cf_db_cert.h"
#include "cf_db_crl.h"
#include "cf_db_enroll.h"
#include "cf_log.h"
#include "cf_mem.h"
#include "cf_serials.h"

#define S_SERIAL_FIELD_MAX 200 /* serial as typed: hex with optional colons or blanks */

cf_err_t cf_api_revoked_init(cf_api_revoked_t *r, cf_store_t *store, size_t n)
{
    memset(r, 0, sizeof(*r));
    r->store = store;
    if (n <= CF_API_CERTS_FEW)
        return CF_OK;
    r->loaded = 1;
    return cf_serials_load(store, &r->set);
}

cf_err_t cf_api_revoked_has(cf_api_revoked_t *r, const char *serial, int *yes)
{
    if (r->loaded) {
        *yes = cf_serials_has(&r->set, serial);
        return CF_OK;
    }
    return cf_db_revoked(r->store, serial, yes);
}

void cf_api_revoked_clear(cf_api_revoked_t *r)
{
    if (r)
        cf_serials_clear(&r->set);
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
    const char *id;       /* the agent */
    cf_serials_t *set;    /* its serials */
    cf_serials_t *shared; /* serials of the shared agent certificate, archived ones */
    cf_err_t rc;          /* first failure */
} s_agent_walk_t;

static int s_agent_one(void *arg, const cf_db_archived_t *e)
{
    s_agent_walk_t *w = arg;
    if (e->component == CF_COMPONENT_AGENT && strcmp(e->name, w->id) == 0)
        w->rc = cf_serials_add(w->set, e->serial);
    else if (e->component == CF_COMPONENT_AGENT && strcmp(e->name, "shared") == 0)
        w->rc = cf_serials_add(w->shared, e->serial);
    return w->rc != CF_OK;
}

/* The certificate agent id last presented, unless it is a shared agent certificate (the
   current one or an archived one): revoking that would cut off the whole fleet. */
static cf_err_t s_agent_presented(cf_store_t *store, const cf_db_agent_t *agent,
                                  cf_serials_t *shared, cf_serials_t *set)
{
    cf_db_cert_t rec;
    cf_err_t rc = cf_db_cert_get(store, NULL, CF_COMPONENT_AGENT, "shared", &rec, NULL);
    if (rc == CF_OK) {
        rc = cf_serials_add(shared, rec.serial);
        cf_db_cert_clear(&rec);
    } else if (rc == CF_ERR_NOTFOUND) {
        rc = CF_OK;
    }
    cf_serials_sort(shared);
    if (rc == CF_OK && agent->cert_serial[0] && !cf_serials_has(shared, agent->cert_serial))
        rc = cf_serials_add(set, agent->cert_serial);
    return rc;
}

/* Every per-agent serial on record for agent id: the certificate issued at enrollment, the
   one it last presented (never a shared agent certificate) and its archived ones. */
static cf_err_t s_agent_serials(cf_store_t *store, const char *id, cf_serials_t *set, cf_why_t *why)
{
    cf_db_agent_t agent;
    cf_db_enrolled_t e = {0};
    cf_serials_t shared = {0};
    cf_err_t rc = cf_db_agent_get(store, id, &agent);
    int known = rc == CF_OK;
    if (rc == CF_OK)
        rc = cf_db_enroll_get(store, id, &e);
    if (rc == CF_OK && e.serial[0])
        rc = cf_serials_add(set, e.serial);
    if (rc == CF_ERR_NOTFOUND)
        rc = CF_OK; /* a removed agent may still have archived certificates */
    s_agent_walk_t w = {id, set, &shared, CF_OK};
    if (rc == CF_OK)
        rc = cf_db_archive_walk(store, CF_DB_ARCHIVE_WALK, s_agent_one, &w, NULL);
    if (rc == CF_OK)
        rc = w.rc;
    if (rc == CF_OK && known)
        rc = s_agent_presented(store, &agent, &shared, set);
    cf_db_enrolled_clear(&e);
    cf_serials_clear(&shared);
    if (rc != CF_OK)
        return cf_why(why, rc, "%s", cf_why_text(cf_store_why(store), rc));
    cf_serials_sort(set);
    if (set->n == 0)
        return cf_why(why, CF_ERR_NOTFOUND, "agent %s: %s", id,
                      known ? "no per-agent certificate on record (a shared agent "
                              "certificate is revoked by its serial)"
                            : "unknown, and nothing archived");
    return CF_OK;
}

/* The serials the body names into set; target (64 bytes) says what for the audit. */
static cf_err_t s_targets(cf_store_t *store, const json_t *body, cf_serials_t *set, char *target,
                          size_t tlen, cf_why_t *why)
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
    return cf_serials_add(set, norm);
}

/* Revoke set (cf:revoked, which every server's control thread reloads), then the CRL. */
static cf_err_t s_revoke(cf_app_t *app, cf_store_t *store, const cf_serials_t *set, time_t *next,
                         cf_why_t *why)
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

static json_t *s_answer(const cf_serials_t *set, time_t next)
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
    cf_serials_t set = {0};
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
    cf_serials_clear(&set);
}
