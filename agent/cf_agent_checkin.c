/*  cf_agent_checkin - the agent's check-in and its answer, and reports over HTTPS (the
    transport is cf_agent_http.c)  */
#include "cf_agent_checkin.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cf_log.h"
#include "cf_mem.h"

void cf_agent_answer_clear(cf_agent_answer_t *a)
{
    if (!a)
        return;
    cf_agent_servers_clear(&a->servers);
    for (size_t i = 0; i < a->n_jobs; i++)
        cf_mem_free(a->jobs[i]);
    cf_mem_free(a->jobs);
    memset(a, 0, sizeof(*a));
}

/* An optional string field into buf; null or absent leaves "". */
static cf_err_t s_take(const json_t *root, const char *key, char *buf, size_t cap, cf_why_t *why)
{
    const json_t *v = json_object_get(root, key);
    buf[0] = '\0';
    if (!v || json_is_null(v))
        return CF_OK;
    if (!json_is_string(v) || json_string_length(v) >= cap)
        return cf_why(why, CF_ERR_CORRUPT, "answer: %s is not a string of at most %zu bytes", key,
                      cap - 1);
    memcpy(buf, json_string_value(v), json_string_length(v) + 1);
    return CF_OK;
}

static cf_err_t s_jobs(const json_t *arr, cf_agent_answer_t *out, cf_why_t *why)
{
    if (!arr || json_is_null(arr))
        return CF_OK;
    if (!json_is_array(arr))
        return cf_why(why, CF_ERR_CORRUPT, "answer: jobs is not an array");
    size_t n = json_array_size(arr);
    if (n > CF_AGENT_JOBS_MAX) {
        cf_log(CF_LOG_WARN, "jobs=%zu taken=%d rest=next-checkin", n, CF_AGENT_JOBS_MAX);
        n = CF_AGENT_JOBS_MAX;
    }
    out->jobs = cf_mem_calloc(n ? n : 1, sizeof(*out->jobs));
    if (!out->jobs)
        return CF_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(arr, i);
        if (!json_is_object(e))
            return cf_why(why, CF_ERR_CORRUPT, "answer: job %zu is not an object", i);
        char *text = json_dumps(e, JSON_COMPACT);
        if (!text)
            return CF_ERR_NOMEM;
        out->jobs[i] = cf_mem_strdup(text);
        free(text); /* jansson's allocator */
        if (!out->jobs[i])
            return CF_ERR_NOMEM;
        out->n_jobs = i + 1;
    }
    return CF_OK;
}

static cf_err_t s_parse_root(const json_t *root, cf_agent_answer_t *out, cf_why_t *why)
{
    if (!json_is_object(root))
        return cf_why(why, CF_ERR_CORRUPT, "answer: not a JSON object");
    CF_TRY(s_take(root, "seen_addr", out->seen_addr, sizeof(out->seen_addr), why));
    CF_TRY(s_take(root, "lock", out->lock, sizeof(out->lock), why));
    CF_TRY(s_take(root, "favorite", out->favorite, sizeof(out->favorite), why));
    const json_t *iv = json_object_get(root, "interval");
    const json_t *pv = json_object_get(root, "protocol");
    if ((iv && !json_is_integer(iv)) || (pv && !json_is_integer(pv)))
        return cf_why(why, CF_ERR_CORRUPT, "answer: interval or protocol is not an integer");
    json_int_t ival = iv ? json_integer_value(iv) : 300;
    ival = ival < CF_AGENT_INTERVAL_MIN ? CF_AGENT_INTERVAL_MIN : ival;
    out->interval = (unsigned) (ival > CF_AGENT_INTERVAL_MAX ? CF_AGENT_INTERVAL_MAX : ival);
    json_int_t pval = pv ? json_integer_value(pv) : 1;
    out->protocol = pval < 1 || pval > 1000 ? 1 : (unsigned) pval;
    const json_t *servers = json_object_get(root, "servers");
    if (servers && !json_is_null(servers)) {
        CF_TRY(cf_agent_servers_from_json(&out->servers, servers, why));
        out->has_servers = 1;
    }
    return s_jobs(json_object_get(root, "jobs"), out, why);
}

cf_err_t cf_agent_answer_parse(const char *text, size_t len, cf_agent_answer_t *out, cf_why_t *why)
{
    if (!text || !out)
        return CF_ERR_INVALID;
    cf_agent_answer_clear(out);
    if (len > CF_AGENT_ANSWER_MAX)
        return cf_why(why, CF_ERR_TOOBIG, "answer over %d bytes", CF_AGENT_ANSWER_MAX);
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return cf_why(why, CF_ERR_CORRUPT, "answer: line %d: %s", jerr.line, jerr.text);
    cf_err_t rc = s_parse_root(root, out, why);
    json_decref(root);
    if (rc != CF_OK)
        cf_agent_answer_clear(out);
    return rc;
}

/* POST and turn an HTTP error status into CF_ERR_POLICY with the server's message. */
static cf_err_t s_call(const cf_agent_http_t *h, const char *path, json_t *req, char **answer,
                       long *status_out, cf_why_t *why)
{
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body)
        return CF_ERR_NOMEM;
    long status = 0;
    cf_err_t rc = cf_agent_http_post(h, path, body, &status, answer, why);
    free(body); /* jansson's allocator */
    if (status_out)
        *status_out = status;
    if (rc != CF_OK || status == 200)
        return rc;
    json_t *j = json_loads(*answer, 0, NULL);
    const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    rc = cf_why(why, CF_ERR_POLICY, "%s %s: HTTP %ld: %s", h->alias, path, status,
                msg ? msg : "no message");
    json_decref(j);
    cf_mem_free(*answer);
    *answer = NULL;
    return rc;
}

cf_err_t cf_agent_checkin(const cf_agent_http_t *h, const char *id, int check,
                          cf_agent_answer_t *out, long *status_out, cf_why_t *why)
{
    if (!h || !id || !out)
        return CF_ERR_INVALID;
    char *answer = NULL;
    json_t *req = json_pack("{s:s, s:s, s:i}", "id", id, "version", CF_AGENT_VERSION, "protocol",
                            CF_AGENT_PROTO);
    if (req && check && json_object_set_new(req, "jobs", json_false()) != 0) {
        json_decref(req);
        req = NULL;
    }
    CF_TRY(s_call(h, "/api/v1/agent/checkin", req, &answer, status_out, why));
    cf_err_t rc = cf_agent_answer_parse(answer, strlen(answer), out, why);
    cf_mem_free(answer);
    return rc;
}

int cf_agent_checkin_transient(cf_err_t rc, long status, int tls_refused)
{
    if (rc == CF_ERR_IO)
        return !tls_refused;
    return rc == CF_ERR_POLICY && status >= 500 && status <= 599;
}

cf_err_t cf_agent_report(const cf_agent_http_t *h, const char *id, const char *job, int installed,
                         const char *reason, const char *fpr, cf_why_t *why)
{
    if (!h || !id || !job)
        return CF_ERR_INVALID;
    char cut[256];
    size_t k = 0;
    for (const char *p = reason ? reason : ""; *p && k < sizeof(cut) - 1; p++)
        cut[k++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
    cut[k] = '\0';
    if (!installed && !k)
        snprintf(cut, sizeof(cut), "failed");
    json_t *req = json_pack("{s:s, s:s, s:s, s:s, s:s?}", "id", id, "job", job, "outcome",
                            installed ? "installed" : "failed", "reason", cut, "fingerprint",
                            fpr && fpr[0] ? fpr : NULL);
    char *answer = NULL;
    CF_TRY(s_call(h, "/api/v1/agent/report", req, &answer, NULL, why));
    json_t *j = json_loads(answer, 0, NULL);
    cf_err_t rc =
        json_is_true(json_object_get(j, "acked"))
            ? CF_OK
            : cf_why(why, CF_ERR_CORRUPT, "%s: the report was not acknowledged", h->alias);
    json_decref(j);
    cf_mem_free(answer);
    return rc;
}
