/*  cf_agent_checkin - the agent's HTTPS client (libcurl): check-in and its answer, reports
    over HTTPS, enrollment calls, and the TLS probe of the server choice  */
#include "cf_agent_checkin.h"

#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cf_log.h"
#include "cf_mem.h"

/* The answer being read, capped. */
typedef struct {
    char *buf;   /* NUL-terminated */
    size_t len;  /* bytes in buf */
    size_t cap;  /* allocated */
    int too_big; /* the answer passed CF_AGENT_ANSWER_MAX */
    int no_mem;  /* an allocation failed */
} s_body_t;

static size_t s_write(char *data, size_t size, size_t n, void *ctx)
{
    s_body_t *b = ctx;
    size_t add = size * n;
    if (add > CF_AGENT_ANSWER_MAX - b->len) {
        b->too_big = 1;
        return 0;
    }
    if (b->len + add + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + add + 1)
            cap *= 2;
        char *nb = cf_mem_realloc(b->buf, cap);
        if (!nb) {
            b->no_mem = 1;
            return 0;
        }
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, data, add);
    b->len += add;
    b->buf[b->len] = '\0';
    return add;
}

void cf_agent_http_for(cf_agent_http_t *h, const cf_agent_server_t *s, int plain)
{
    h->alias = s->alias;
    h->host = s->host[0] ? s->host : s->alias;
    h->plain = plain && s->plain_port;
    h->port = h->plain ? s->plain_port : s->port;
}

/* The options every call shares; *connect_to is the caller's (curl_slist_free_all). */
static int s_common(CURL *c, const cf_agent_http_t *h, const char *path, char *errbuf,
                    struct curl_slist **connect_to)
{
    char url[600], map[600];
    const char *host = h->host && h->host[0] ? h->host : h->alias;
    snprintf(url, sizeof(url), "%s://%s:%u%s", h->plain ? "http" : "https", h->alias,
             (unsigned) h->port, path ? path : "/");
    snprintf(map, sizeof(map), "%s:%u:%s:%u", h->alias, (unsigned) h->port, host,
             (unsigned) h->port);
    *connect_to = curl_slist_append(NULL, map);
    long ms = h->timeout_ms > 0 ? h->timeout_ms : 10000;
    int bad = !*connect_to;
    bad |= curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_CONNECT_TO, *connect_to) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http") != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ms) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_USERAGENT, "cf-agent/" CF_AGENT_VERSION) != CURLE_OK;
    if (h->source_addr && h->source_addr[0])
        bad |= curl_easy_setopt(c, CURLOPT_INTERFACE, h->source_addr) != CURLE_OK;
    if (!h->plain) {
        bad |= curl_easy_setopt(c, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2) != CURLE_OK;
        bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK;
        bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK;
        if (h->ca_file)
            bad |= curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file) != CURLE_OK;
        if (h->cert_file && h->key_file) {
            bad |= curl_easy_setopt(c, CURLOPT_SSLCERT, h->cert_file) != CURLE_OK;
            bad |= curl_easy_setopt(c, CURLOPT_SSLKEY, h->key_file) != CURLE_OK;
        }
    }
    return bad;
}

cf_err_t cf_agent_http_post(const cf_agent_http_t *h, const char *path, const char *body,
                            long *status_out, char **answer_out, cf_why_t *why)
{
    if (!h || !h->alias || !path || !body || !status_out)
        return cf_why(why, CF_ERR_INVALID, "missing argument");
    char errbuf[CURL_ERROR_SIZE] = "";
    s_body_t b = {.buf = NULL};
    struct curl_slist *map = NULL, *hdr = NULL;
    cf_err_t rc = CF_ERR_NOMEM;
    CURL *c = curl_easy_init();
    if (!c)
        return rc;
    hdr = curl_slist_append(NULL, "Content-Type: application/json");
    int bad = s_common(c, h, path, errbuf, &map) || !hdr;
    bad |= curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_POSTFIELDS, body) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_write) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_WRITEDATA, &b) != CURLE_OK;
    if (bad)
        goto out;
    CURLcode cc = curl_easy_perform(c);
    if (b.no_mem)
        goto out;
    if (b.too_big) {
        rc = cf_why(why, CF_ERR_TOOBIG, "%s: answer over %d bytes", h->alias, CF_AGENT_ANSWER_MAX);
        goto out;
    }
    if (cc != CURLE_OK) {
        rc = cf_why(why, CF_ERR_IO, "%s:%u: %s", h->alias, (unsigned) h->port,
                    errbuf[0] ? errbuf : curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status_out);
    if (answer_out) {
        *answer_out = b.buf ? b.buf : cf_mem_strdup("");
        b.buf = NULL;
        if (!*answer_out)
            goto out;
    }
    rc = CF_OK;
out:
    cf_mem_free(b.buf);
    curl_slist_free_all(map);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    return rc;
}

cf_err_t cf_agent_http_probe(const cf_agent_http_t *h, cf_why_t *why)
{
    if (!h || !h->alias)
        return cf_why(why, CF_ERR_INVALID, "missing argument");
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *map = NULL;
    CURL *c = curl_easy_init();
    if (!c)
        return CF_ERR_NOMEM;
    cf_err_t rc = CF_ERR_NOMEM;
    if (s_common(c, h, "/", errbuf, &map) ||
        curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L) != CURLE_OK)
        goto out;
    CURLcode cc = curl_easy_perform(c);
    rc = cc == CURLE_OK ? CF_OK
                        : cf_why(why, CF_ERR_IO, "%s:%u: %s", h->alias, (unsigned) h->port,
                                 errbuf[0] ? errbuf : curl_easy_strerror(cc));
out:
    curl_slist_free_all(map);
    curl_easy_cleanup(c);
    return rc;
}

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

cf_err_t cf_agent_checkin(const cf_agent_http_t *h, const char *id, cf_agent_answer_t *out,
                          long *status_out, cf_why_t *why)
{
    if (!h || !id || !out)
        return CF_ERR_INVALID;
    char *answer = NULL;
    json_t *req = json_pack("{s:s, s:s, s:i}", "id", id, "version", CF_AGENT_VERSION, "protocol",
                            CF_AGENT_PROTO);
    CF_TRY(s_call(h, "/api/v1/agent/checkin", req, &answer, status_out, why));
    cf_err_t rc = cf_agent_answer_parse(answer, strlen(answer), out, why);
    cf_mem_free(answer);
    return rc;
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
