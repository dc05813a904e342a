/*  bench_tls_opts - bench_tls's options, loopback check and request template (static helpers)  */
#ifndef BENCH_TLS_OPTS_H_INCLUDED
#define BENCH_TLS_OPTS_H_INCLUDED
/* Included by tests/bench/bench_tls.c and tests/unit/test_bench_args.c only: every function
   here is static so each includer gets its own copy (CMake builds each bench_*.c alone). */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "cf_err.h"

#define BT_MAX_CONNS    4096     /* concurrent connections; the process allows 20,000 fds */
#define BT_MAX_THREADS  16       /* client threads, one epoll loop each */
#define BT_MAX_DURATION 120      /* seconds */
#define BT_MAX_COUNT    10000000 /* attempts (handshakes or requests) */
#define BT_MAX_TIMEOUT  60000    /* per-operation timeout, ms */
#define BT_MAX_REQUEST  8192     /* bytes of one HTTP request, headers and body */
#define BT_MAX_FIELD    4096     /* bytes of --path, --body, --request, --method */

typedef enum { BT_HANDSHAKE, BT_REQUESTS } s_mode_t;

typedef struct {
    s_mode_t mode;        /* handshake: a full TLS handshake per connection; requests: keep-alive */
    const char *host;     /* target, loopback only (borrowed from argv) */
    int port;             /* target port, 1..65535 */
    const char *ca;       /* CA file (PEM) to verify the server with; NULL with no_verify */
    int no_verify;        /* 1: do not verify the server (lighter client, same server work) */
    const char *cert;     /* client certificate (PEM) or NULL */
    const char *key;      /* its private key (PEM, unencrypted) or NULL */
    const char *cert_dir; /* NAME.pem + NAME.key pairs, one per connection in turn, or NULL */
    int conns;            /* concurrent connections, 1..BT_MAX_CONNS */
    int threads;          /* client threads, 1..BT_MAX_THREADS, at most conns */
    int duration;         /* seconds, 0 = bounded by count only */
    long count;           /* attempts, 0 = bounded by duration only */
    int timeout_ms;       /* per operation (connect + handshake, or one request) */
    int tls;              /* 0 = TLS 1.2 to 1.3; 12 or 13 pins one version */
    int send_request;     /* 1: send method/path/body (always in requests mode) */
    int any_status;       /* 1: any complete HTTP answer counts as done, not only 2xx */
    char method[16];      /* HTTP method */
    const char *path;     /* request path template (%d, %s, %%) */
    const char *body;     /* request body template or NULL */
    int help;             /* 1: --help was given, nothing else parsed */
    struct sockaddr_storage addr; /* the target, checked to be loopback */
    socklen_t addr_len;           /* its length */
} s_opts_t;

static void s_usage(FILE *f)
{
    fprintf(
        f,
        "usage: bench_tls handshake|requests --port N [OPTIONS]\n"
        "Load tool for HTTPS servers on loopback, presenting client certificates.\n"
        "  handshake   a full TLS handshake per connection (a fresh SSL, no session resumption,\n"
        "              no tickets); with --request, one request per connection; prints\n"
        "              handshakes/s, failures by reason, latency p50/p99 (connect to done)\n"
        "  requests    keep-alive requests, one in flight per connection (like wrk); prints\n"
        "              Requests/sec and per-request latency\n"
        "Options:\n"
        "  --host ADDR           target: 127.0.0.0/8, ::1 or localhost only (default 127.0.0.1)\n"
        "  --port N              target port (required)\n"
        "  --ca FILE             CA (PEM) the server certificate must chain to; the server's\n"
        "                        address must be in its SAN\n"
        "  --no-verify           do not verify the server (lighter client; server work unchanged)\n"
        "  --cert FILE --key FILE  client certificate and its unencrypted key (PEM)\n"
        "  --cert-dir DIR        client certificates NAME.pem with NAME.key; connection i\n"
        "                        presents pair i mod n (pairs sorted by NAME)\n"
        "  --connections C       concurrent connections (default 32, max %d)\n"
        "  --threads T           client threads, one epoll loop each (default 1, max %d)\n"
        "  --duration S          seconds (default 5 unless --count; max %d)\n"
        "  --count N             stop after N attempts (max %d)\n"
        "  --timeout MS          per connect+handshake or request (default 5000)\n"
        "  --tls 1.2|1.3         pin the protocol version (default: 1.2 to 1.3)\n"
        "  --request 'M PATH'    method and path in one (handshake mode: enables the request)\n"
        "  --method M --path P   request method (default GET) and path (default /api/v1/health)\n"
        "  --body B              request body (sent as application/json)\n"
        "                        in PATH and B: %%d = connection number, %%s = certificate NAME\n"
        "  --any-status          count any complete answer as done (default: 2xx only; others\n"
        "                        are failures); the non-2xx ones are reported\n"
        "  --help                this text\n",
        BT_MAX_CONNS, BT_MAX_THREADS, BT_MAX_DURATION, BT_MAX_COUNT);
}

/* A decimal in [min, max]; CF_ERR_INVALID otherwise. */
static CF_MUST_USE cf_err_t s_number(const char *text, long min, long max, long *out)
{
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (!text[0] || !end || *end || v < min || v > max)
        return CF_ERR_INVALID;
    *out = v;
    return CF_OK;
}

static CF_MUST_USE cf_err_t s_int(const char *text, long min, long max, int *out)
{
    long v = 0;
    CF_TRY(s_number(text, min, max, &v));
    *out = (int) v;
    return CF_OK;
}

/* "METHOD PATH" into o->method and o->path (path borrowed from text). */
static CF_MUST_USE cf_err_t s_split_request(const char *text, s_opts_t *o)
{
    const char *sp = strchr(text, ' ');
    if (!sp || sp == text || (size_t) (sp - text) >= sizeof(o->method) || sp[1] != '/')
        return CF_ERR_INVALID;
    memcpy(o->method, text, (size_t) (sp - text));
    o->method[sp - text] = '\0';
    o->path = sp + 1;
    o->send_request = 1;
    return CF_OK;
}

static CF_MUST_USE cf_err_t s_set_method(const char *text, s_opts_t *o)
{
    size_t n = strlen(text);
    if (n == 0 || n >= sizeof(o->method))
        return CF_ERR_INVALID;
    for (size_t i = 0; i < n; i++) {
        if (text[i] < 'A' || text[i] > 'Z')
            return CF_ERR_INVALID;
    }
    memcpy(o->method, text, n + 1);
    o->send_request = 1;
    return CF_OK;
}

static CF_MUST_USE cf_err_t s_set_tls(const char *text, s_opts_t *o)
{
    if (strcmp(text, "1.2") == 0)
        o->tls = 12;
    else if (strcmp(text, "1.3") == 0)
        o->tls = 13;
    else
        return CF_ERR_INVALID;
    return CF_OK;
}

/* One option; CF_ERR_INVALID for an unknown option or a bad value. */
static CF_MUST_USE cf_err_t s_opt(int c, const char *arg, s_opts_t *o)
{
    cf_err_t rc = CF_OK;
    if (arg && strlen(arg) > BT_MAX_FIELD)
        return CF_ERR_TOOBIG;
    switch (c) {
    case 'H': o->host = arg; break;
    case 'p': rc = s_int(arg, 1, 65535, &o->port); break;
    case 'a': o->ca = arg; break;
    case 'n': o->no_verify = 1; break;
    case 'c': o->cert = arg; break;
    case 'k': o->key = arg; break;
    case 'D': o->cert_dir = arg; break;
    case 'C': rc = s_int(arg, 1, BT_MAX_CONNS, &o->conns); break;
    case 't': rc = s_int(arg, 1, BT_MAX_THREADS, &o->threads); break;
    case 'd': rc = s_int(arg, 1, BT_MAX_DURATION, &o->duration); break;
    case 'N': rc = s_number(arg, 1, BT_MAX_COUNT, &o->count); break;
    case 'T': rc = s_int(arg, 1, BT_MAX_TIMEOUT, &o->timeout_ms); break;
    case 'v': rc = s_set_tls(arg, o); break;
    case 'r': rc = s_split_request(arg, o); break;
    case 'm': rc = s_set_method(arg, o); break;
    case 'P': o->path = arg; break;
    case 'b': o->body = arg; break;
    case 'A': o->any_status = 1; break;
    case 'h': o->help = 1; break;
    default: rc = CF_ERR_INVALID; break;
    }
    if (c == 'P' || c == 'b')
        o->send_request = 1; /* a path or body given means: send it */
    return rc;
}

/* Expand a template into out[cap]: %d = n, %s = name, %% = %. CF_ERR_INVALID for any other
   % sequence, CF_ERR_TOOBIG when the result (with its NUL) does not fit. */
static CF_MUST_USE cf_err_t s_expand(const char *tmpl, long n, const char *name, char *out,
                                     size_t cap, size_t *len_out)
{
    size_t len = 0;
    for (const char *p = tmpl; *p; p++) {
        char num[24];
        const char *piece = num;
        if (*p != '%') {
            num[0] = *p, num[1] = '\0';
        } else if (p[1] == 'd') {
            snprintf(num, sizeof(num), "%ld", n);
        } else if (p[1] == 's') {
            piece = name;
        } else if (p[1] == '%') {
            num[0] = '%', num[1] = '\0';
        } else {
            return CF_ERR_INVALID;
        }
        p += *p == '%';
        size_t k = strlen(piece);
        if (len + k >= cap)
            return CF_ERR_TOOBIG;
        memcpy(out + len, piece, k);
        len += k;
    }
    out[len] = '\0';
    *len_out = len;
    return CF_OK;
}

/* The HTTP/1.1 request connection n sends, presenting the certificate called name ("" when
   none). Handshake mode asks the server to close after the answer; requests mode keeps the
   connection alive. CF_ERR_TOOBIG beyond cap (at most BT_MAX_REQUEST is ever needed). */
static CF_MUST_USE cf_err_t s_build_request(const s_opts_t *o, long n, const char *name, char *out,
                                            size_t cap, size_t *len_out)
{
    char path[BT_MAX_FIELD + 1], body[BT_MAX_REQUEST];
    size_t path_len = 0, body_len = 0;
    CF_TRY(s_expand(o->path, n, name, path, sizeof(path), &path_len));
    if (o->body)
        CF_TRY(s_expand(o->body, n, name, body, sizeof(body), &body_len));
    int v6 = strchr(o->host, ':') && o->host[0] != '[';
    int k = snprintf(out, cap,
                     "%s %s HTTP/1.1\r\nHost: %s%s%s:%d\r\nUser-Agent: bench_tls\r\n%s%s"
                     "Content-Length: %zu\r\n\r\n",
                     o->method, path, v6 ? "[" : "", o->host, v6 ? "]" : "", o->port,
                     o->mode == BT_HANDSHAKE ? "Connection: close\r\n" : "",
                     o->body ? "Content-Type: application/json\r\n" : "", body_len);
    if (k < 0 || (size_t) k + body_len >= cap)
        return CF_ERR_TOOBIG;
    memcpy(out + k, body, body_len);
    out[(size_t) k + body_len] = '\0';
    *len_out = (size_t) k + body_len;
    return CF_OK;
}

/* The target address: host must be an address in 127.0.0.0/8, ::1 (also "[::1]") or the
   word "localhost" (127.0.0.1, no resolver). Anything else is CF_ERR_POLICY: this tool
   never sends traffic off the machine. */
static CF_MUST_USE cf_err_t s_loopback_addr(const char *host, int port, struct sockaddr_storage *ss,
                                            socklen_t *len)
{
    struct sockaddr_in *in4 = (struct sockaddr_in *) ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) ss;
    char buf[64];
    size_t n = strlen(host);
    memset(ss, 0, sizeof(*ss));
    if (strcasecmp(host, "localhost") == 0)
        host = "127.0.0.1";
    else if (n >= 2 && n < sizeof(buf) && host[0] == '[' && host[n - 1] == ']') {
        memcpy(buf, host + 1, n - 2);
        buf[n - 2] = '\0';
        host = buf;
    }
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        if ((ntohl(in4->sin_addr.s_addr) >> 24) != 127)
            return CF_ERR_POLICY;
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t) port);
        *len = sizeof(*in4);
        return CF_OK;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        if (!IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return CF_ERR_POLICY;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t) port);
        *len = sizeof(*in6);
        return CF_OK;
    }
    return CF_ERR_INVALID;
}

/* Checks between options, once all are read. */
static CF_MUST_USE cf_err_t s_check(s_opts_t *o, cf_why_t *why)
{
    if (o->port == 0)
        return cf_why(why, CF_ERR_INVALID, "--port is required");
    if (!o->ca && !o->no_verify)
        return cf_why(why, CF_ERR_INVALID, "give --ca FILE, or --no-verify");
    if ((o->cert == NULL) != (o->key == NULL))
        return cf_why(why, CF_ERR_INVALID, "--cert and --key go together");
    if (o->cert && o->cert_dir)
        return cf_why(why, CF_ERR_INVALID, "--cert and --cert-dir exclude each other");
    if (o->path[0] != '/')
        return cf_why(why, CF_ERR_INVALID, "--path must start with /");
    if (o->threads > o->conns)
        return cf_why(why, CF_ERR_INVALID, "more threads than connections");
    cf_err_t rc = s_loopback_addr(o->host, o->port, &o->addr, &o->addr_len);
    if (rc == CF_ERR_POLICY)
        return cf_why(why, rc,
                      "%s is not a loopback address: this tool only targets "
                      "127.0.0.0/8 and ::1",
                      o->host);
    if (rc != CF_OK)
        return cf_why(why, rc, "--host %s: give an IPv4 or IPv6 address", o->host);
    if (o->duration == 0 && o->count == 0)
        o->duration = 5;
    if (o->mode == BT_REQUESTS)
        o->send_request = 1;
    char req[BT_MAX_REQUEST];
    size_t len = 0;
    rc = s_build_request(o, BT_MAX_CONNS, "agent-0000", req, sizeof(req), &len);
    if (rc == CF_ERR_INVALID)
        return cf_why(why, rc, "--path or --body: use %%d, %%s or %%%% only");
    if (rc != CF_OK)
        return cf_why(why, rc, "the request would be over %d bytes", BT_MAX_REQUEST);
    return CF_OK;
}

static CF_MUST_USE cf_err_t s_set_mode(const char *word, s_opts_t *o, cf_why_t *why)
{
    if (strcmp(word, "handshake") == 0)
        o->mode = BT_HANDSHAKE;
    else if (strcmp(word, "requests") == 0)
        o->mode = BT_REQUESTS;
    else
        return cf_why(why, CF_ERR_INVALID, "unknown mode '%s' (handshake or requests)", word);
    return CF_OK;
}

/* Parse the command line into *o (strings borrowed from argv). CF_OK with o->help set when
   --help was given; CF_ERR_INVALID or CF_ERR_TOOBIG with why->text saying what is wrong.
   Resets getopt (optind = 0) so it can be called more than once. */
static CF_MUST_USE cf_err_t s_opts_parse(int argc, char **argv, s_opts_t *o, cf_why_t *why)
{
    static const struct option longs[] = {
        {"host", 1, NULL, 'H'},     {"port", 1, NULL, 'p'},
        {"ca", 1, NULL, 'a'},       {"no-verify", 0, NULL, 'n'},
        {"cert", 1, NULL, 'c'},     {"key", 1, NULL, 'k'},
        {"cert-dir", 1, NULL, 'D'}, {"connections", 1, NULL, 'C'},
        {"threads", 1, NULL, 't'},  {"duration", 1, NULL, 'd'},
        {"count", 1, NULL, 'N'},    {"timeout", 1, NULL, 'T'},
        {"tls", 1, NULL, 'v'},      {"request", 1, NULL, 'r'},
        {"method", 1, NULL, 'm'},   {"path", 1, NULL, 'P'},
        {"body", 1, NULL, 'b'},     {"any-status", 0, NULL, 'A'},
        {"help", 0, NULL, 'h'},     {NULL, 0, NULL, 0},
    };
    *o = (s_opts_t){.host = "127.0.0.1",
                    .conns = 32,
                    .threads = 1,
                    .timeout_ms = 5000,
                    .method = "GET",
                    .path = "/api/v1/health"};
    optind = 0; /* glibc: a full re-initialisation */
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, "h", longs, NULL);
        if (c == -1)
            break;
        cf_err_t rc = s_opt(c, optarg, o);
        if (o->help)
            return CF_OK;
        if (rc != CF_OK)
            return cf_why(why, rc, "bad option or value: %s", argv[optind - 1]);
    }
    if (optind != argc - 1)
        return cf_why(why, CF_ERR_INVALID, "give exactly one mode: handshake or requests");
    CF_TRY(s_set_mode(argv[optind], o, why));
    return s_check(o, why);
}

#endif
