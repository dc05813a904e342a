/*  cf_api_enroll_admin - the admin side of enrollment: POST /enroll-tokens, POST
    /agents/:id/revoke and DELETE /agents/:id (decommission)  */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cf_allow.h"
#include "cf_api_certs_int.h"
#include "cf_api_enroll_int.h"
#include "cf_crl.h"
#include "cf_db_agent.h"
#include "cf_db_archive.h"
#include "cf_db_crl.h"
#include "cf_db_curve.h"
#include "cf_db_enroll.h"
#include "cf_db_job.h"
#include "cf_log.h"
#include "cf_mem.h"
#include "cf_serials.h"

#define S_TARGET_MAX 96 /* audit target text */

/* ---- POST /enroll-tokens {"uses":N,"ttl":seconds} ---------------------------------------- */

/* An integer field of body in min..max into *out (required). */
static cf_err_t s_int(const json_t *body, const char *name, json_int_t max, int64_t *out,
                      cf_why_t *why)
{
    const json_t *v = json_object_get(body, name);
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > max)
        return cf_why(why, CF_ERR_INVALID, "%s must be an integer 1..%lld", name, (long long) max);
    *out = (int64_t) json_integer_value(v);
    return CF_OK;
}

static cf_err_t s_token_args(const json_t *body, int64_t *uses, int64_t *ttl, cf_why_t *why)
{
    static const char *const allowed[] = {"uses", "ttl", NULL};
    if (!body)
        return cf_why(why, CF_ERR_INVALID, "a JSON body {\"uses\":N,\"ttl\":seconds} is required");
    CF_TRY(cf_api_certs_only(body, allowed, why));
    CF_TRY(s_int(body, "uses", CF_DB_ENROLL_USES_MAX, uses, why));
    return s_int(body, "ttl", CF_DB_ENROLL_TTL_MAX, ttl, why);
}

void cf_api_enroll_token_create(cf_req_t *req, void *arg)
{
    cf_app_t *app = arg;
    cf_why_t why = {{0}};
    int64_t uses = 0, ttl = 0, expires = 0;
    char token[CF_DB_ENROLL_TOKEN + 1] = "", target[S_TARGET_MAX] = "-";
    const cf_session_t *session = cf_req_session(req);
    cf_store_t *store = cf_app_store_take(app);
    cf_err_t rc = s_token_args(cf_req_json(req), &uses, &ttl, &why);
    if (rc == CF_OK) {
        snprintf(target, sizeof(target), "uses=%lld ttl=%lld", (long long) uses, (long long) ttl);
        rc = cf_db_enroll_token_create(store, uses, ttl, (int64_t) time(NULL),
                                       session ? session->user : "", token, &expires);
        if (rc != CF_OK)
            cf_why(&why, rc, "%s", cf_why_text(cf_store_why(store), rc));
    }
    cf_app_audit(app, store, req, "enroll.token", target, rc); /* never the token itself */
    cf_app_store_give(app, store);
    json_t *answer = rc == CF_OK ? json_pack("{s:s,s:I,s:I}", "token", token, "expires",
                                             (json_int_t) expires, "uses", (json_int_t) uses)
                                 : NULL;
    cf_mem_wipe(token, sizeof(token)); /* the answer's copy goes as a login token's does */
    if (rc == CF_OK && !answer)
        rc = CF_ERR_NOMEM;
    if (rc == CF_OK) {
        cf_log(CF_LOG_INFO, "enroll token created user=%s %s", cf_api_certs_user(req), target);
        cf_req_reply_json(req, 201, answer);
    } else {
        cf_app_reply_err(req, rc, &why, "enroll token");
    }
}

/* ---- revocation and decommission ------------------------------------------------------ */

/* What an agent has that can be cut off. */
typedef struct {
    const char *id;                   /* the agent */
    int has_record;                   /* cf:agent:{id} exists */
    cf_db_enrolled_t e;               /* its enrollment fields */
    cf_serials_t set;                 /* its per-agent certificates' serials */
    int key_removed;                  /* its CURVE key was removed */
    size_t jobs_cancelled;            /* its open job entries cancelled */
    cf_err_t walk_rc;                 /* archive walk failure */
    char first[CF_DB_SERIAL_MAX + 1]; /* the enrollment certificate's serial, "" none */
} s_cut_t;

static int s_archived_one(void *arg, const cf_db_archived_t *entry)
{
    s_cut_t *c = arg;
    if (entry->component == CF_COMPONENT_AGENT && strcmp(entry->name, c->id) == 0)
        c->walk_rc = cf_serials_add(&c->set, entry->serial);
    return c->walk_rc != CF_OK;
}

/* The agent's per-agent certificates: the one issued at enrollment and those archived
   under its id. Never the certificate it presented at check-in, which may be the shared
   agent certificate of the whole fleet. */
static cf_err_t s_find(cf_store_t *store, s_cut_t *c, cf_why_t *why)
{
    cf_err_t rc = cf_db_enroll_get(store, c->id, &c->e);
    c->has_record = rc == CF_OK;
    if (rc == CF_ERR_NOTFOUND)
        rc = CF_OK;
    if (rc == CF_OK && c->e.serial[0]) {
        rc = cf_serials_add(&c->set, c->e.serial);
        snprintf(c->first, sizeof(c->first), "%s", c->e.serial);
    }
    if (rc == CF_OK)
        rc = cf_db_archive_walk(store, CF_DB_ARCHIVE_WALK, s_archived_one, c, NULL);
    if (rc == CF_OK)
        rc = c->walk_rc;
    if (rc != CF_OK)
        return cf_why(why, rc, "%s", cf_why_text(cf_store_why(store), rc));
    cf_serials_sort(&c->set);
    return CF_OK;
}

/* Cancel the agent's open job entries: it will never take them, and its jobs should not
   wait for their expiry to close (2 RT). Logged, not raised: the sweeper expires them
   anyway. */
static void s_cancel_jobs(cf_store_t *store, s_cut_t *c)
{
    cf_db_job_open_t *open = NULL;
    cf_db_job_tr_t *tr = NULL;
    cf_db_job_res_t *res = NULL;
    size_t n = 0;
    int64_t now = (int64_t) time(NULL);
    cf_err_t rc = cf_db_job_agent_open(store, c->id, now, &open, &n);
    if (rc == CF_OK && n > 0) {
        tr = cf_mem_calloc(n, sizeof(*tr));
        res = cf_mem_calloc(n, sizeof(*res));
        rc = tr && res ? CF_OK : CF_ERR_NOMEM;
        for (size_t i = 0; rc == CF_OK && i < n; i++)
            tr[i] = (cf_db_job_tr_t){open[i].id, c->id, CF_JOB_EV_CANCEL, NULL};
        if (rc == CF_OK)
            rc = cf_db_job_transition(store, now, tr, n, res);
        for (size_t i = 0; rc == CF_OK && i < n; i++)
            c->jobs_cancelled += res[i].rc == CF_OK && res[i].to != res[i].from;
    }
    if (rc != CF_OK)
        cf_log(CF_LOG_WARN, "agent %s: open jobs not cancelled (the sweeper expires them): %s",
               c->id, cf_why_text(cf_store_why(store), rc));
    cf_mem_free(res);
    cf_mem_free(tr);
    cf_mem_free(open);
}

/* Revoke the serials (cf:revoked, which every server's TLS applies) and rebuild the CRL,
   then drop the CURVE key (the broker cuts the link). NOTFOUND when the agent has none of
   record, key and certificates. */
static cf_err_t s_cut(cf_app_t *app, cf_store_t *store, s_cut_t *c, cf_why_t *why)
{
    CF_TRY(s_find(store, c, why));
    if (c->set.n > 0) {
        const char **ptrs = cf_mem_calloc(c->set.n, sizeof(*ptrs));
        if (!ptrs)
            return CF_ERR_NOMEM;
        for (size_t i = 0; i < c->set.n; i++)
            ptrs[i] = c->set.serial[i];
        size_t added = 0;
        cf_err_t rc = cf_db_revoke(store, ptrs, c->set.n, &added);
        cf_mem_free(ptrs);
        if (rc != CF_OK)
            return cf_why(why, rc, "%s", cf_why_text(cf_store_why(store), rc));
        time_t next = 0;
        CF_TRY(cf_crl_rebuild(app, store, time(NULL), &next, why));
    }
    cf_err_t rc = cf_db_curve_remove(store, CF_ALLOW_AGENT, c->id);
    c->key_removed = rc == CF_OK;
    if (rc != CF_OK && rc != CF_ERR_NOTFOUND)
        return cf_why(why, rc, "%s", cf_why_text(cf_store_why(store), rc));
    if (!c->has_record && !c->key_removed && c->set.n == 0)
        return cf_why(why, CF_ERR_NOTFOUND, "no agent %s", c->id);
    s_cancel_jobs(store, c);
    return CF_OK;
}

/* {"id","revoked":serial|null,"serials":[…],"key_removed":bool,"jobs_cancelled":n} */
static json_t *s_answer(const s_cut_t *c)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < c->set.n; i++) {
        if (json_array_append_new(list, json_string(c->set.serial[i])) != 0) {
            json_decref(list);
            return NULL;
        }
    }
    if (!list)
        return NULL;
    return json_pack("{s:s,s:s?,s:o,s:b,s:I}", "id", c->id, "revoked",
                     c->first[0] ? c->first : NULL, "serials", list, "key_removed", c->key_removed,
                     "jobs_cancelled", (json_int_t) c->jobs_cancelled);
}

/* Both routes: cut the agent off, then (decommission) remove its record, or (revoke) mark
   it revoked so it shows and cannot enroll again. */
static void s_cut_route(cf_req_t *req, cf_app_t *app, int decommission)
{
    s_cut_t c = {.id = cf_req_param(req, "id")};
    cf_why_t why = {{0}};
    const char *what = decommission ? "agent.decommission" : "agent.revoke";
    if (cf_db_check_agent_id(c.id) != CF_OK) {
        cf_req_reply_error(req, 400, "invalid_request", "an agent id is [a-z0-9][a-z0-9._-]{0,62}");
        return;
    }
    cf_store_t *store = cf_app_store_take(app);
    cf_err_t rc = s_cut(app, store, &c, &why);
    if (rc == CF_OK && c.has_record) {
        rc = decommission ? cf_db_agent_remove(store, c.id)
                          : cf_db_enroll_mark_revoked(store, c.id, (int64_t) time(NULL));
        if (rc == CF_ERR_NOTFOUND)
            rc = CF_OK; /* removed meanwhile: what was asked for is done */
        if (rc != CF_OK)
            cf_why(&why, rc, "%s", cf_why_text(cf_store_why(store), rc));
    }
    cf_app_audit(app, store, req, what, c.id, rc);
    cf_app_store_give(app, store);
    json_t *answer = rc == CF_OK ? s_answer(&c) : NULL;
    if (rc == CF_OK && !answer)
        rc = CF_ERR_NOMEM;
    if (rc == CF_OK) {
        cf_log(CF_LOG_INFO, "%s user=%s id=%s serials=%zu key_removed=%d", what,
               cf_api_certs_user(req), c.id, c.set.n, c.key_removed);
        cf_req_reply_json(req, 200, answer);
    } else {
        cf_app_reply_err(req, rc, &why, decommission ? "decommission" : "revoke");
    }
    cf_db_enrolled_clear(&c.e);
    cf_serials_clear(&c.set);
}

void cf_api_enroll_revoke(cf_req_t *req, void *app)
{
    s_cut_route(req, app, 0);
}

void cf_api_enroll_decommission(cf_req_t *req, void *app)
{
    s_cut_route(req, app, 1);
}
