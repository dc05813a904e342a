/*  bench_tls_http - bench_tls's HTTP/1.x response framing: status, length, keep-alive (static)  */
#ifndef BENCH_TLS_HTTP_H_INCLUDED
#define BENCH_TLS_HTTP_H_INCLUDED
/* Included by tests/bench/bench_tls.c and tests/unit/test_bench_args.c only. Enough HTTP to
   count answers on a keep-alive connection: the status, where the body ends (Content-Length,
   or the connection's end), and whether the server closes. Chunked bodies are refused. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S_MAX_HEAD 4096 /* bytes of one response's status line and headers */

typedef struct {
    char head[S_MAX_HEAD]; /* status line and headers so far, NUL-terminated */
    size_t head_len;       /* bytes in head */
    long body_left;        /* body bytes still due; -1: until the server closes */
    int head_done;         /* 1 once the headers are complete */
    int status;            /* HTTP status, once head_done */
    int close_after;       /* 1: the server closes after this answer */
    int no_body;           /* 1: the request was HEAD, so no body follows */
} s_resp_t;

/* Ready for the answer to a new request (a HEAD request when no_body). */
static void s_resp_reset(s_resp_t *r, int no_body)
{
    r->head_len = 0;
    r->head[0] = '\0';
    r->body_left = 0;
    r->head_done = 0;
    r->status = 0;
    r->close_after = 0;
    r->no_body = no_body;
}

/* The status line and headers, complete in r->head. NULL, or why the answer is refused. */
static const char *s_resp_parse_head(s_resp_t *r)
{
    if (strncmp(r->head, "HTTP/1.", 7) != 0 || r->head_len < 12 || r->head[8] != ' ')
        return "response: not HTTP/1.x";
    char *end = NULL;
    r->status = (int) strtol(r->head + 9, &end, 10);
    if (end != r->head + 12 || r->status < 100)
        return "response: bad status line";
    r->body_left = -1; /* until the server closes, unless a length is given */
    r->close_after = r->head[7] == '0';
    for (const char *line = strstr(r->head, "\r\n"); line && line[2] != '\r';
         line = strstr(line + 2, "\r\n")) {
        const char *h = line + 2;
        if (strncasecmp(h, "content-length:", 15) == 0) {
            r->body_left = strtol(h + 15, &end, 10);
            if (end == h + 15 || r->body_left < 0)
                return "response: bad Content-Length";
        } else if (strncasecmp(h, "transfer-encoding:", 18) == 0) {
            return "response: chunked body (not supported)";
        } else if (strncasecmp(h, "connection:", 11) == 0) {
            r->close_after = strncasecmp(h + 11 + strspn(h + 11, " \t"), "close", 5) == 0;
        }
    }
    if (r->status == 204 || r->status == 304 || r->status < 200 || r->no_body)
        r->body_left = 0;
    return NULL;
}

/* Take n bytes of the answer; *complete is set once it is whole (with a body that runs to
   the connection's end, the caller decides at EOF). Returns NULL, or why the answer is bad:
   headers over S_MAX_HEAD, not HTTP/1.x, a chunked body, more bytes than announced. */
static const char *s_resp_feed(s_resp_t *r, const char *buf, size_t n, int *complete)
{
    *complete = 0;
    if (!r->head_done) {
        size_t room = S_MAX_HEAD - 1 - r->head_len, k = n < room ? n : room;
        size_t from = r->head_len > 3 ? r->head_len - 3 : 0;
        memcpy(r->head + r->head_len, buf, k);
        r->head_len += k;
        r->head[r->head_len] = '\0';
        const char *end = strstr(r->head + from, "\r\n\r\n");
        if (!end)
            return r->head_len == S_MAX_HEAD - 1 ? "response: headers over 4 KiB" : NULL;
        size_t body = r->head_len - (size_t) (end + 4 - r->head) + (n - k);
        r->head_done = 1;
        const char *bad = s_resp_parse_head(r);
        if (bad)
            return bad;
        n = body;
    }
    if (r->body_left >= 0 && (long) n > r->body_left)
        return "response: more bytes than announced";
    if (r->body_left >= 0)
        r->body_left -= (long) n;
    *complete = r->body_left == 0;
    return NULL;
}

#endif
