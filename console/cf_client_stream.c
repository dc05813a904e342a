/*  cf_client_stream - cf_client for streamed answers (server-sent events): one long GET whose
    body goes to a callback, an idle limit, Last-Event-ID, and switching the server  */
#include "cf_client_stream.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "cf_auth.h"
#include "cf_client_int.h"
#include "cf_sse.h"

#define S_API      "/api/v1"
#define S_MAX_PATH 2048 /* longest API path, bytes */

/* One stream being received. */
typedef struct {
    cf_client_stream_fn *fn;     /* the caller's callback */
    void *arg;                   /* its argument */
    volatile sig_atomic_t *stop; /* the caller's stop flag, may be NULL */
    long long idle_ms;           /* limit without a byte */
    long long last_ms;           /* when the last byte came (CLOCK_MONOTONIC) */
    cf_client_stream_end_t end;  /* why it ended, when we ended it */
} s_stream_t;

static long long s_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long) t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static size_t s_sink(void *arg, const char *data, size_t len)
{
    s_stream_t *st = arg;
    st->last_ms = s_now_ms();
    size_t took = st->fn(st->arg, data, len);
    if (took != len)
        st->end = CF_CLIENT_STREAM_STOPPED;
    return took;
}

/* curl's progress callback (about once a second, and as data moves): idle limit, stop. */
static int s_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                      curl_off_t ulnow)
{
    (void) dltotal, (void) dlnow, (void) ultotal, (void) ulnow;
    s_stream_t *st = arg;
    if (st->stop && *st->stop) {
        st->end = CF_CLIENT_STREAM_STOPPED;
        return 1;
    }
    if (s_now_ms() - st->last_ms > st->idle_ms) {
        st->end = CF_CLIENT_STREAM_IDLE;
        return 1;
    }
    return 0;
}

/* The request's headers; the Authorization line is wiped when freed. */
static struct curl_slist *s_headers(const cf_client_t *self, const char *last_id)
{
    struct curl_slist *list = curl_slist_append(NULL, "Accept: text/event-stream");
    struct curl_slist *next = list;
    char line[64 + CF_AUTH_TOKEN_LEN + CF_SSE_MAX_ID];
    if (next && last_id && *last_id && strlen(last_id) <= CF_SSE_MAX_ID &&
        !last_id[strcspn(last_id, "\r\n")]) {
        snprintf(line, sizeof(line), "Last-Event-ID: %s", last_id);
        next = curl_slist_append(list, line);
    }
    if (next && self->token) {
        snprintf(line, sizeof(line), "Authorization: Bearer %s", self->token);
        next = curl_slist_append(list, line);
        OPENSSL_cleanse(line, sizeof(line));
    }
    if (!next) {
        cf_client_free_headers(list);
        return NULL;
    }
    return list;
}

/* An API path: '/' first, printable, no blanks, at most S_MAX_PATH bytes. */
static int s_path_ok(const char *path)
{
    size_t len = path ? strnlen(path, S_MAX_PATH + 1) : 0;
    if (len == 0 || len > S_MAX_PATH || path[0] != '/')
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) path[i] <= 0x20 || (unsigned char) path[i] >= 0x7f || path[i] == '#')
            return 0;
    return 1;
}

/* 1 when an option did not take. */
static int s_options(CURL *c, s_stream_t *st, int on, long long timeout_ms)
{
    int bad = curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, on ? 0L : (long) timeout_ms) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
                            (curl_off_t) (on ? 0 : CF_CLIENT_MAX_ANSWER)) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_NOPROGRESS, on ? 0L : 1L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on ? s_progress : NULL) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_XFERINFODATA, on ? st : NULL) != CURLE_OK;
    return bad;
}

cf_err_t cf_client_stream(cf_client_t *self, const char *path, const char *last_id, int idle_ms,
                          volatile sig_atomic_t *stop, cf_client_stream_fn *fn, void *arg,
                          cf_client_reply_t *reply, cf_client_stream_end_t *end_out)
{
    CF_ASSERT(self && reply && end_out && fn);
    memset(reply, 0, sizeof(*reply));
    reply->alert = -1;
    *end_out = CF_CLIENT_STREAM_CLOSED;
    if (!s_path_ok(path) || idle_ms < 1 || idle_ms > CF_CLIENT_STREAM_MAX_IDLE)
        return CF_ERR_INVALID;
    char url[CF_CLIENT_MAX_URL + S_MAX_PATH + 16];
    snprintf(url, sizeof(url), "%s" S_API "%s", self->url, path);
    struct curl_slist *headers = s_headers(self, last_id);
    s_stream_t st = {fn, arg, stop, idle_ms, s_now_ms(), CF_CLIENT_STREAM_CLOSED};
    if (!headers)
        return CF_ERR_NOMEM;
    cf_err_t rc = CF_ERR_NOMEM;
    self->sink = s_sink;
    self->sink_arg = &st;
    if (!s_options(self->curl, &st, 1, self->timeout_ms))
        rc = cf_client_perform(self, "GET", url, headers, NULL, 0, reply);
    self->sink = NULL;
    self->sink_arg = NULL;
    if (s_options(self->curl, NULL, 0, self->timeout_ms) && rc == CF_OK)
        rc = CF_ERR_NOMEM; /* the client would keep stream settings: refuse to go on */
    cf_client_free_headers(headers);
    if (rc == CF_ERR_IO && reply->status == 0)
        curl_easy_getinfo(self->curl, CURLINFO_RESPONSE_CODE, &reply->status);
    if (rc == CF_ERR_IO && reply->status == 200) {
        /* the answer began and was cut: by us (stop, idle) or by the connection */
        *end_out = st.end != CF_CLIENT_STREAM_CLOSED ? st.end : CF_CLIENT_STREAM_BROKEN;
        return CF_OK;
    }
    return rc;
}

cf_err_t cf_client_set_url(cf_client_t *self, const char *url, cf_why_t *why)
{
    CF_TRY(cf_client_check_url(url, why));
    size_t len = strlen(url);
    if (url[len - 1] == '/')
        len--;
    memcpy(self->url, "https://", 8); /* the scheme in lowercase, as cf_client_new keeps it */
    memcpy(self->url + 8, url + 8, len - 8);
    self->url[len] = '\0';
    return CF_OK;
}
