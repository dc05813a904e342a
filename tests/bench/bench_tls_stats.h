/*  bench_tls_stats - bench_tls's counters: latency histogram, failures by reason (static)  */
#ifndef BENCH_TLS_STATS_H_INCLUDED
#define BENCH_TLS_STATS_H_INCLUDED
/* Included by tests/bench/bench_tls.c only (each bench_*.c is built alone), after
   bench_tls_opts.h and bench_tls_ctx.h. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <openssl/objects.h>
#include <openssl/ssl.h>

#include "bench_tls_ctx.h"
#include "bench_tls_opts.h"

/* Latency in microseconds, log-linear: exact below 128 us, then 64 buckets per power of two
   (within 1.6%), up to 2^33 us. Fixed size, so a long run costs no more memory. */
#define S_HIST_LINEAR 128
#define S_HIST_SUB    64
#define S_HIST_N      (S_HIST_LINEAR + 26 * S_HIST_SUB)
#define S_MAX_REASONS 16 /* distinct failure reasons kept; the rest are counted as "other" */

typedef struct {
    char text[120]; /* reason, "" for an unused slot */
    long n;         /* failures for it */
} s_reason_t;

typedef struct {
    long ok;                           /* operations completed */
    long failed;                       /* operations failed */
    long connects;                     /* TLS handshakes completed */
    long non2xx;                       /* answers outside 2xx counted as done (--any-status) */
    int status;                        /* the last such answer's HTTP status */
    uint64_t hist[S_HIST_N];           /* latency of completed operations */
    s_reason_t reasons[S_MAX_REASONS]; /* failures by reason */
    char proto[160];                   /* what the first handshake negotiated */
    double t_stop;                     /* when this worker stopped (monotonic seconds) */
} s_stats_t;

static size_t s_hist_index(uint64_t us)
{
    if (us < S_HIST_LINEAR)
        return (size_t) us;
    if (us >= ((uint64_t) 1 << 33))
        us = ((uint64_t) 1 << 33) - 1;
    int e = 63 - __builtin_clzll(us); /* 7 .. 32 */
    return S_HIST_LINEAR + (size_t) (e - 7) * S_HIST_SUB + (size_t) ((us >> (e - 6)) & 63);
}

/* The lower bound of bucket i, microseconds. */
static uint64_t s_hist_value(size_t i)
{
    if (i < S_HIST_LINEAR)
        return i;
    size_t e = (i - S_HIST_LINEAR) / S_HIST_SUB + 7, sub = (i - S_HIST_LINEAR) % S_HIST_SUB;
    return (uint64_t) (S_HIST_SUB + sub) << (e - 6);
}

static void s_stats_ok(s_stats_t *st, double secs)
{
    st->ok++;
    st->hist[s_hist_index(secs > 0 ? (uint64_t) (secs * 1e6) : 0)]++;
}

static void s_stats_add_reason(s_stats_t *st, const char *reason, long n)
{
    size_t i = 0;
    for (; i < S_MAX_REASONS - 1 && st->reasons[i].text[0]; i++) {
        if (strcmp(st->reasons[i].text, reason) == 0)
            break;
    }
    if (!st->reasons[i].text[0])
        snprintf(st->reasons[i].text, sizeof(st->reasons[i].text), "%s",
                 i == S_MAX_REASONS - 1 ? "other reasons" : reason);
    st->reasons[i].n += n;
}

static void s_stats_fail(s_stats_t *st, const char *reason)
{
    st->failed++;
    s_stats_add_reason(st, reason, 1);
}

/* A handshake completed: count it; the first one's protocol, cipher and group are kept. */
static void s_stats_proto(s_stats_t *st, SSL *ssl)
{
    st->connects++;
    if (st->proto[0])
        return;
    int nid = (int) SSL_get_negotiated_group(ssl);
    const char *group = nid > 0 ? OBJ_nid2sn(nid) : NULL;
    snprintf(st->proto, sizeof(st->proto), "%s %s, key exchange %s", SSL_get_version(ssl),
             SSL_get_cipher_name(ssl), group ? group : "?");
}

static void s_stats_merge(s_stats_t *into, const s_stats_t *from)
{
    into->ok += from->ok;
    into->failed += from->failed;
    into->connects += from->connects;
    into->non2xx += from->non2xx;
    if (from->status)
        into->status = from->status;
    for (size_t i = 0; i < S_HIST_N; i++)
        into->hist[i] += from->hist[i];
    for (size_t i = 0; i < S_MAX_REASONS && from->reasons[i].text[0]; i++)
        s_stats_add_reason(into, from->reasons[i].text, from->reasons[i].n);
    if (!into->proto[0])
        memcpy(into->proto, from->proto, sizeof(into->proto));
    if (from->t_stop > into->t_stop)
        into->t_stop = from->t_stop;
}

/* The latency at percentile pct (0..100), milliseconds; 0 when nothing completed. */
static double s_stats_pct(const s_stats_t *st, double pct)
{
    uint64_t want = (uint64_t) ((double) st->ok * pct / 100.0 + 0.5), seen = 0;
    if (st->ok == 0)
        return 0;
    if (want < 1)
        want = 1;
    for (size_t i = 0; i < S_HIST_N; i++) {
        seen += st->hist[i];
        if (seen >= want)
            return (double) s_hist_value(i) / 1e3;
    }
    return (double) s_hist_value(S_HIST_N - 1) / 1e3;
}

/* CPU seconds (user and system) this process used so far, all threads. */
static double s_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6 +
           (double) ru.ru_stime.tv_sec + (double) ru.ru_stime.tv_usec / 1e6;
}

/* Print the figures: human lines, "Requests/sec:" as wrk does in requests mode, and one
   "result key=value ..." line for scripts. cpu is the client's CPU seconds over the run. */
static void s_stats_report(const s_opts_t *o, const char *ip, const s_ident_t *ids, size_t n_ids,
                           const s_stats_t *st, double t0, double cpu)
{
    double secs = st->t_stop - t0, rate = secs > 0 ? (double) st->ok / secs : 0;
    double p50 = s_stats_pct(st, 50), p99 = s_stats_pct(st, 99), load = secs > 0 ? cpu / secs : 0;
    const char *mode = o->mode == BT_HANDSHAKE ? "handshake" : "requests";
    printf("bench_tls %s: %s port %d, %d connections, %d thread(s), client certificates: ", mode,
           ip, o->port, o->conns, o->threads);
    if (ids[0].ctx && (o->cert || o->cert_dir))
        printf("%zu (%s%s)\n", n_ids, ids[0].name, n_ids > 1 ? ", ..." : "");
    else
        printf("none\n");
    printf("negotiated: %s\n", st->proto[0] ? st->proto : "nothing (no handshake completed)");
    printf("%s: %ld done, %ld failed in %.2f s: %.1f %s/s\n", mode, st->ok, st->failed, secs, rate,
           o->mode == BT_HANDSHAKE ? "handshakes" : "requests");
    if (o->mode == BT_REQUESTS) {
        printf("Requests/sec: %.2f\n", rate);
        printf("TLS connections made: %ld\n", st->connects);
    }
    printf("latency: p50 %.3f ms, p99 %.3f ms (%s)\n", p50, p99,
           o->mode == BT_REQUESTS ? "per request"
           : o->send_request      ? "connect to answer"
                                  : "connect to the server's close");
    if (st->non2xx)
        printf("non-2xx answers: %ld (HTTP %d), counted as done (--any-status)\n", st->non2xx,
               st->status);
    for (size_t i = 0; i < S_MAX_REASONS && st->reasons[i].text[0]; i++)
        printf("failed: %ld x %s\n", st->reasons[i].n, st->reasons[i].text);
    printf("client CPU: %.0f%% of one core, %d thread(s)%s\n", load * 100, o->threads,
           load > 0.9 * o->threads ? ": saturated, the load tool may be what limits the figure"
                                   : "");
    printf("result mode=%s ok=%ld failed=%ld seconds=%.3f rate=%.1f p50_ms=%.3f p99_ms=%.3f "
           "client_cpu=%.2f non2xx=%ld\n",
           mode, st->ok, st->failed, secs, rate, p50, p99, load, st->non2xx);
}

#endif
