/*  cf_agent_https - the agent's HTTPS client (libcurl): one JSON POST to one server,
    verified by the deployment's CA for the server's alias (declared in cf_agent_enroll.h)  */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "cf_agent_enroll.h"
#include "cf_mem.h"

#define S_PATH_MAX 4096 /* longest request path */

/* The answer body as it arrives, capped. */
typedef struct {
    char *buf;  /* cf_mem (owned) */
    size_t len; /* bytes in buf */
    size_t cap; /* bytes allocated */
    int toobig; /* over CF_AGENT_ANSWER_MAX: the transfer is stopped */
} s_body_t;

static size_t s_write(char *data, size_t size, size_t n, void *arg)
{
    s_body_t *b = arg;
    size_t add = size * n;
    if (add > CF_AGENT_ANSWER_MAX - b->len) {
        b->toobig = 1;
        return 0;
    }
    if (b->len + add + 1 > b->cap) {
        size_t cap = (b->len + add + 1) * 2;
        char *grown = cf_mem_realloc(b->buf, cap);
        if (!grown)
            return 0;
        b->buf = grown;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, data, add);
    b->len += add;
    b->buf[b->len] = '\0';
    return add;
}

/* The options of one POST; 1 when one could not be set. */
static int s_setup(CURL *c, const cf_agent_https_t *how, const char *url,
                   struct curl_slist *connect_to, struct curl_slist *headers, const char *body,
                   size_t len, s_body_t *answer, char *errbuf)
{
    long timeout = how->timeout_s > 0 ? how->timeout_s : CF_AGENT_TIMEOUT_S;
    int bad = curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_NOPROXY, "*") != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_CAINFO, how->ca_file) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_CAPATH, NULL) != CURLE_OK;
    if (how->cert_file && how->key_file) {
        bad |= curl_easy_setopt(c, CURLOPT_SSLCERT, how->cert_file) != CURLE_OK;
        bad |= curl_easy_setopt(c, CURLOPT_SSLKEY, how->key_file) != CURLE_OK;
    }
    bad |= curl_easy_setopt(c, CURLOPT_CONNECT_TO, connect_to) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_POSTFIELDS, body) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) len) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long) CF_AGENT_CONNECT_S) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_write) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_WRITEDATA, answer) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_USERAGENT, "cf-agent/" CF_AGENT_VERSION) != CURLE_OK;
    return bad;
}

/* The JSON answer and its error object into reply. */
static void s_reply(const s_body_t *answer, cf_agent_reply_t *reply)
{
    if (!answer->buf || answer->len == 0)
        return;
    reply->json = json_loadb(answer->buf, answer->len, JSON_REJECT_DUPLICATES, NULL);
    const json_t *err = json_object_get(reply->json, "error");
    const char *code = json_string_value(json_object_get(err, "code"));
    const char *msg = json_string_value(json_object_get(err, "message"));
    snprintf(reply->code, sizeof(reply->code), "%s", code ? code : "");
    snprintf(reply->message, sizeof(reply->message), "%s", msg ? msg : "");
}

cf_err_t cf_agent_https_post(const cf_agent_https_t *how, const char *path, const char *body,
                             size_t len, cf_agent_reply_t *reply, cf_why_t *why)
{
    if (!reply)
        return CF_ERR_INVALID;
    memset(reply, 0, sizeof(*reply));
    if (!how || !how->server || !how->ca_file || !path || !body || strlen(path) > S_PATH_MAX)
        return CF_ERR_INVALID;
    const cf_agent_server_t *s = how->server;
    char url[S_PATH_MAX + CF_DB_ALIAS_MAX + 32], to[2 * CF_DB_HOST_MAX + 64];
    char errbuf[CURL_ERROR_SIZE] = "";
    int v6 = strchr(s->host, ':') != NULL;
    snprintf(url, sizeof(url), "https://%s:%d%s", s->alias, s->port, path);
    snprintf(to, sizeof(to), "%s:%d:%s%s%s:%d", s->alias, s->port, v6 ? "[" : "", s->host,
             v6 ? "]" : "", s->port);
    s_body_t answer = {0};
    struct curl_slist *connect_to = curl_slist_append(NULL, to);
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    CURL *c = connect_to && headers ? curl_easy_init() : NULL;
    cf_err_t rc = CF_ERR_NOMEM;
    if (!c)
        goto out;
    rc = CF_ERR_INVALID;
    if (s_setup(c, how, url, connect_to, headers, body, len, &answer, errbuf))
        goto out;
    CURLcode cc = curl_easy_perform(c);
    rc = CF_OK;
    if (answer.toobig)
        rc = cf_why(why, CF_ERR_TOOBIG, "server %s: answer over %d bytes", s->alias,
                    CF_AGENT_ANSWER_MAX);
    else if (cc != CURLE_OK)
        rc = cf_why(why, CF_ERR_IO, "server %s (%s:%d): %s", s->alias, s->host, s->port,
                    errbuf[0] ? errbuf : curl_easy_strerror(cc));
    if (rc == CF_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply->status);
        s_reply(&answer, reply);
    }
out:
    curl_easy_cleanup(c);
    curl_slist_free_all(connect_to);
    curl_slist_free_all(headers);
    cf_mem_free_secret(answer.buf, answer.cap); /* an answer may carry a certificate offer */
    return rc;
}

void cf_agent_reply_clear(cf_agent_reply_t *reply)
{
    if (!reply)
        return;
    json_decref(reply->json);
    memset(reply, 0, sizeof(*reply));
}
