/*  cf_api_jobs_create - POST /api/v1/jobs: check the body, resolve the targets into agent
    ids, create the job in one store step, audit it, hand it to the broker link  */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "cf_api_jobs_int.h"
#include "cf_db_cert.h"
#include "cf_db_server.h"
#include "cf_log.h"
#include "cf_mem.h"

/* The agent protocol level each job type needs (index: cf_job_type_t). Level 1 knew the
   first four types; level 2 brought reissue. */
static const unsigned s_min_proto[CF_JOB_TYPE_COUNT_] = {
    [CF_JOB_TYPE_INSTALL_CERT] = 1, [CF_JOB_TYPE_RENEW_CSR] = 1, [CF_JOB_TYPE_SET_FAVORITE] = 1,
    [CF_JOB_TYPE_RECHECK] = 1,      [CF_JOB_TYPE_REISSUE] = 2,
};

static const char *const s_fields[] = {"type", "agents",       "all",  "ip_range", "state",
                                       "ttl",  "cert",         "form", "favorite", "batch",
                                       "rate", "max_failures", NULL};

/* Every key of body is one we know: a typo must not pass silently. */
static cf_err_t s_known_fields(const json_t *body, cf_why_t *why)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *) body, key, v)
    {
        int known = 0;
        for (size_t i = 0; s_fields[i] && !known; i++)
            known = strcmp(key, s_fields[i]) == 0;
        if (!known)
            return cf_why(why, CF_ERR_INVALID, "unknown field \"%.64s\"", key);
    }
    return CF_OK;
}

/* agents: 1..CF_API_JOBS_TARGETS_MAX agent ids. */
static cf_err_t s_agents(const json_t *a, cf_api_jobs_spec_t *spec, cf_why_t *why)
{
    if (!json_is_array(a) || json_array_size(a) < 1 || json_array_size(a) > CF_API_JOBS_TARGETS_MAX)
        return cf_why(why,
                      json_array_size(a) > CF_API_JOBS_TARGETS_MAX ? CF_ERR_TOOBIG : CF_ERR_INVALID,
                      "agents must be an array of 1..%d agent ids", CF_API_JOBS_TARGETS_MAX);
    for (size_t i = 0; i < json_array_size(a); i++) {
        const char *id = json_string_value(json_array_get(a, i));
        if (!id || cf_db_check_agent_id(id) != CF_OK)
            return cf_why(why, CF_ERR_INVALID, "agents item %zu is not an agent id", i + 1);
    }
    spec->kind = CF_API_JOBS_LIST;
    spec->agents = a;
    snprintf(spec->target, sizeof(spec->target), "agents %zu", json_array_size(a));
    return CF_OK;
}

/* Exactly one of agents, all, ip_range, state. */
static cf_err_t s_target(const json_t *body, cf_api_jobs_spec_t *spec, cf_why_t *why)
{
    const json_t *a = json_object_get(body, "agents"), *all = json_object_get(body, "all");
    const json_t *r = json_object_get(body, "ip_range"), *s = json_object_get(body, "state");
    if ((a != NULL) + (all != NULL) + (r != NULL) + (s != NULL) != 1)
        return cf_why(why, CF_ERR_INVALID,
                      "give exactly one target: agents, all, ip_range or state");
    if (a)
        return s_agents(a, spec, why);
    if (all) {
        if (!json_is_true(all))
            return cf_why(why, CF_ERR_INVALID, "all must be true");
        spec->kind = CF_API_JOBS_ALL;
        snprintf(spec->target, sizeof(spec->target), "all");
        return CF_OK;
    }
    if (r) {
        char text[CF_IPRANGE_TEXT_MAX];
        cf_why_t rwhy = {""};
        if (!json_is_string(r) ||
            cf_iprange_parse(json_string_value(r), &spec->range, &rwhy) != CF_OK ||
            cf_iprange_format(&spec->range, text, sizeof(text)) != CF_OK)
            return cf_why(why, CF_ERR_INVALID, "ip_range must be a range (CIDR or from-to)%s%s",
                          rwhy.text[0] ? ": " : "", rwhy.text);
        spec->kind = CF_API_JOBS_RANGE;
        snprintf(spec->target, sizeof(spec->target), "ip_range %s", text);
        return CF_OK;
    }
    if (!json_is_string(s) || cf_db_lock_from_name(json_string_value(s), &spec->lock) != CF_OK)
        return cf_why(why, CF_ERR_INVALID, "state must be secure, attention, insecure or expired");
    spec->kind = CF_API_JOBS_STATE;
    snprintf(spec->target, sizeof(spec->target), "state %s", cf_db_lock_name(spec->lock));
    return CF_OK;
}

/* install_cert: cert (default "shared") names an agent certificate record with its key;
   form pem (default) or p12. */
static cf_err_t s_install(cf_store_t *store, const json_t *body, cf_api_jobs_spec_t *spec,
                          cf_why_t *why)
{
    const json_t *c = json_object_get(body, "cert"), *f = json_object_get(body, "form");
    const char *name = c ? json_string_value(c) : "shared";
    const char *form = f ? json_string_value(f) : "pem";
    if (!name || cf_db_check_cert_name(name) != CF_OK)
        return cf_why(why, CF_ERR_INVALID, "cert must name an agent certificate record");
    if (!form || (strcmp(form, "pem") != 0 && strcmp(form, "p12") != 0))
        return cf_why(why, CF_ERR_INVALID, "form must be pem or p12");
    spec->form = strcmp(form, "pem") == 0 ? CF_JOB_FORM_PEM : CF_JOB_FORM_P12;
    snprintf(spec->cert, sizeof(spec->cert), "%s", name);
    cf_db_cert_t rec;
    memset(&rec, 0, sizeof(rec));
    cf_err_t rc = cf_db_cert_get(store, NULL, CF_COMPONENT_AGENT, name, &rec, NULL);
    int has_key = rec.has_key;
    if (rc == CF_OK)
        cf_db_cert_clear(&rec);
    if (rc == CF_ERR_NOTFOUND)
        return cf_why(why, rc, "no certificate record agent/%s", name);
    if (rc != CF_OK)
        return cf_why(why, rc, "certificate agent/%s: %s", name,
                      cf_why_text(cf_store_why(store), rc));
    if (!has_key)
        return cf_why(why, CF_ERR_NOKEY, "certificate agent/%s has no private key to push", name);
    /* a checked record name and a fixed word: nothing to escape; name <= 253 bytes fits */
    snprintf(spec->params, sizeof(spec->params), "{\"cert\":\"%s\",\"form\":\"%s\"}", name, form);
    return CF_OK;
}

/* set_favorite: favorite is a registered server alias (lowercased). */
static cf_err_t s_favorite(cf_store_t *store, const json_t *body, cf_api_jobs_spec_t *spec,
                           cf_why_t *why)
{
    const char *fav = json_string_value(json_object_get(body, "favorite"));
    if (!fav || strlen(fav) > CF_DB_ALIAS_MAX)
        return cf_why(why, CF_ERR_INVALID, "a set_favorite job needs favorite: a server alias");
    size_t len = strlen(fav);
    for (size_t i = 0; i <= len; i++)
        spec->favorite[i] = (char) tolower((unsigned char) fav[i]);
    if (cf_db_check_alias(spec->favorite) != CF_OK)
        return cf_why(why, CF_ERR_INVALID, "favorite must be a server alias");
    cf_db_server_t srv;
    memset(&srv, 0, sizeof(srv));
    cf_err_t rc = cf_db_server_get(store, spec->favorite, &srv);
    cf_db_server_clear(&srv);
    if (rc == CF_ERR_NOTFOUND)
        return cf_why(why, rc, "no server %s", spec->favorite);
    if (rc != CF_OK)
        return cf_why(why, rc, "server %s: %s", spec->favorite,
                      cf_why_text(cf_store_why(store), rc));
    snprintf(spec->params, sizeof(spec->params), "{\"favorite\":\"%s\"}", spec->favorite);
    return CF_OK;
}

cf_err_t cf_api_jobs_parse(cf_store_t *store, const json_t *body, cf_api_jobs_spec_t *spec,
                           cf_why_t *why)
{
    memset(spec, 0, sizeof(*spec));
    if (!json_is_object(body))
        return cf_why(why, CF_ERR_INVALID, "a JSON object body is required");
    CF_TRY(s_known_fields(body, why));
    const char *type = json_string_value(json_object_get(body, "type"));
    if (!type || cf_job_type_from_name(type, &spec->type) != CF_OK)
        return cf_why(why, CF_ERR_INVALID,
                      "type must be install_cert, renew_csr, set_favorite, recheck or reissue");
    const json_t *ttl = json_object_get(body, "ttl");
    spec->ttl = CF_API_JOBS_TTL_DEFAULT;
    if (ttl && (!json_is_integer(ttl) || json_integer_value(ttl) < 1 ||
                json_integer_value(ttl) > CF_API_JOBS_TTL_MAX))
        return cf_why(why, CF_ERR_INVALID, "ttl must be 1..%d seconds (366 days)",
                      CF_API_JOBS_TTL_MAX);
    if (ttl)
        spec->ttl = (int64_t) json_integer_value(ttl);
    int install = spec->type == CF_JOB_TYPE_INSTALL_CERT;
    int fav = spec->type == CF_JOB_TYPE_SET_FAVORITE;
    if ((!install && (json_object_get(body, "cert") || json_object_get(body, "form"))) ||
        (!fav && json_object_get(body, "favorite")))
        return cf_why(why, CF_ERR_INVALID,
                      "cert and form go with install_cert, favorite with "
                      "set_favorite");
    CF_TRY(s_target(body, spec, why));
    CF_TRY(cf_api_jobs_waves_parse(body, &spec->waves, why));
    snprintf(spec->params, sizeof(spec->params), "{}");
    if (install)
        return s_install(store, body, spec, why);
    if (fav)
        return s_favorite(store, body, spec, why);
    return CF_OK;
}

/* A fresh job id: 128 random bits as 32 lowercase hex (not all zero) into id (33 bytes). */
static cf_err_t s_new_id(char *id)
{
    unsigned char raw[CF_DB_JOB_ID_LEN / 2];
    int zero = 1;
    while (zero) {
        if (RAND_bytes(raw, sizeof(raw)) != 1)
            return CF_ERR_CRYPTO;
        for (size_t i = 0; i < sizeof(raw); i++)
            zero &= raw[i] == 0;
    }
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(id + 2 * i, 3, "%02x", raw[i]);
    return CF_OK;
}

/* The store step: the job, its entries and counters (1 RT, Lua). id gets the job's id. */
static cf_err_t s_store(cf_app_t *app, cf_store_t *store, cf_req_t *req,
                        const cf_api_jobs_spec_t *spec, const char *const *list, size_t n, char *id,
                        cf_db_job_made_t *out, cf_why_t *why)
{
    CF_TRY(s_new_id(id));
    const cf_session_t *who = cf_req_session(req);
    int64_t now = (int64_t) time(NULL);
    cf_db_job_spec_t in = {
        .id = id,
        .type = spec->type,
        .created = now,
        .expires = now + spec->ttl,
        .issuer = cf_app_alias(app),
        .by = who ? who->user : "",
        .min_proto = s_min_proto[spec->type],
        .params = spec->params,
        .target = spec->target,
        .agents = list,
        .n_agents = n,
        .waves = spec->waves,
        .all = spec->kind == CF_API_JOBS_ALL,
    };
    cf_err_t rc = cf_db_job_create(store, &in, out);
    if (rc == CF_ERR_NOTFOUND) /* none of the listed ids is an agent: nothing written */
        return cf_why(why, CF_ERR_INVALID, "the target (%s) holds no agent", spec->target);
    if (rc != CF_OK)
        cf_why(why, rc, "%s", cf_why_text(cf_store_why(store), rc));
    return rc;
}

/* {"id","total","too_old","unknown":[…]} */
static json_t *s_answer(const char *id, const cf_db_job_made_t *m, const char *const *list,
                        size_t n)
{
    json_t *unknown = json_array();
    for (size_t i = 0; unknown && i < m->n_unknown; i++) {
        const char *name = m->unknown_ids      ? m->unknown_ids[i]
                           : m->unknown[i] < n ? list[m->unknown[i]]
                                               : NULL;
        if (!name || json_array_append_new(unknown, json_string(name)) != 0) {
            json_decref(unknown);
            unknown = NULL;
        }
    }
    return json_pack("{s:s,s:I,s:I,s:o}", "id", id, "total", (json_int_t) m->total, "too_old",
                     (json_int_t) m->too_old, "unknown", unknown);
}

/* The ids as the pointer list the store takes (the caller's, cf_mem_free). */
static const char **s_list(const cf_api_jobs_ids_t *ids)
{
    const char **list = cf_mem_calloc(ids->n ? ids->n : 1, sizeof(*list));
    for (size_t i = 0; list && i < ids->n; i++)
        list[i] = ids->id[i];
    return list;
}

void cf_api_jobs_create(cf_req_t *req, void *arg)
{
    cf_app_t *app = arg;
    cf_api_jobs_spec_t spec;
    cf_api_jobs_ids_t ids = {0};
    cf_db_job_made_t made = {0};
    const char **list = NULL;
    cf_why_t why = {""};
    char audit[CF_DB_AUDIT_TEXT_MAX], id[CF_DB_JOB_ID_LEN + 1] = "";
    cf_store_t *store = cf_app_store_take(app);
    cf_err_t rc = cf_api_jobs_parse(store, cf_req_json(req), &spec, &why);
    int all = rc == CF_OK && spec.kind == CF_API_JOBS_ALL; /* the script reads the agents */
    if (rc == CF_OK && !all)
        rc = cf_api_jobs_resolve(store, &spec, &ids, &why);
    if (rc == CF_OK && !all) {
        list = s_list(&ids);
        rc = list ? CF_OK : CF_ERR_NOMEM;
    }
    if (rc == CF_OK)
        rc = s_store(app, store, req, &spec, list, ids.n, id, &made, &why);
    if (rc == CF_OK)
        snprintf(audit, sizeof(audit), "%s %s %.100s: %lld agents", id, cf_job_type_name(spec.type),
                 spec.target, (long long) made.total);
    else
        snprintf(audit, sizeof(audit), "%s %.100s", cf_job_type_name(spec.type), spec.target);
    cf_app_audit(app, store, req, "job.create", audit, rc);
    cf_app_store_give(app, store);
    if (rc == CF_OK) {
        cf_log(CF_LOG_INFO,
               "msg=\"job created\" job=%s type=%s target=\"%s\" total=%lld batch=%lld rate=%lld "
               "max_failures=%d",
               id, cf_job_type_name(spec.type), spec.target, (long long) made.total,
               (long long) spec.waves.batch, (long long) spec.waves.rate,
               spec.waves.watch ? spec.waves.max_fail : -1);
        if (!spec.waves.batch && !spec.waves.rate) /* else the wave controller sends them */
            cf_api_jobs_send(app, id);
        json_t *body = s_answer(id, &made, list, ids.n);
        if (body)
            cf_req_reply_json(req, 201, body);
        else
            cf_app_reply_err(req, CF_ERR_NOMEM, NULL, "answer");
    } else {
        cf_app_reply_err(req, rc, &why, "job");
    }
    cf_db_job_made_clear(&made);
    cf_mem_free(list);
    cf_api_jobs_ids_free(&ids);
}
