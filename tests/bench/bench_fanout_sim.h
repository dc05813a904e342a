/*  bench_fanout_sim - bench_fanout's view of cf-agent-sim: its "sim stats" lines, read back
    from its log, give what the fleet saw and when (CLOCK_MONOTONIC, shared by processes)  */
#ifndef BENCH_FANOUT_SIM_H_INCLUDED
#define BENCH_FANOUT_SIM_H_INCLUDED

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BF_SIM_MAX  8      /* simulator processes */
#define BF_LINE_MAX 1024   /* a stats line */
#define BF_NO_TIME  (-1.0) /* "never" in the scans below */

/* One stats line's counters. */
typedef struct {
    double t_ms;                 /* CLOCK_MONOTONIC, ms */
    unsigned long long up;       /* links up */
    unsigned long long jobs;     /* JOBs received */
    unsigned long long receipts; /* first RECEIPTs sent */
    unsigned long long r_resend; /* RECEIPTs sent again */
    unsigned long long reports;  /* first REPORTs sent */
    unsigned long long p_resend; /* REPORTs sent again */
    unsigned long long acks_rep; /* REPORTs acknowledged */
    unsigned long long failed;   /* jobs reported failed */
} bf_stats_t;

static double bf_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

static void bf_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static unsigned long long bf_field(const char *line, const char *key)
{
    char pat[40];
    snprintf(pat, sizeof(pat), " %s=", key);
    const char *p = strstr(line, pat);
    return p ? strtoull(p + strlen(pat), NULL, 10) : 0;
}

/* 1 when line is a stats line (parsed into out). */
static int bf_parse(const char *line, bf_stats_t *out)
{
    const char *p = strstr(line, "sim stats t_ms=");
    if (!p)
        return 0;
    out->t_ms = strtod(p + strlen("sim stats t_ms="), NULL);
    out->up = bf_field(p, "up");
    out->jobs = bf_field(p, "jobs");
    out->receipts = bf_field(p, "receipts");
    out->r_resend = bf_field(p, "receipt_resends");
    out->reports = bf_field(p, "reports");
    out->p_resend = bf_field(p, "report_resends");
    out->acks_rep = bf_field(p, "acks_report");
    out->failed = bf_field(p, "failed");
    return 1;
}

/* The last stats line of the log at path (zeros when none). */
static bf_stats_t bf_last(const char *path)
{
    bf_stats_t s, last;
    memset(&last, 0, sizeof(last));
    FILE *f = fopen(path, "r");
    char line[BF_LINE_MAX];
    while (f && fgets(line, sizeof(line), f))
        if (bf_parse(line, &s))
            last = s;
    if (f)
        fclose(f);
    return last;
}

/* A window of the log at path: the first line after `after` ms whose reports exceed
   base->reports (when the first new REPORT had gone out) into *first, and the first line
   whose acks_report reach base->acks_rep + want into *done (BF_NO_TIME when none). */
static void bf_window(const char *path, const bf_stats_t *base, unsigned long long want,
                      double *first, double *done)
{
    *first = *done = BF_NO_TIME;
    FILE *f = fopen(path, "r");
    char line[BF_LINE_MAX];
    bf_stats_t s;
    while (f && fgets(line, sizeof(line), f)) {
        if (!bf_parse(line, &s) || s.t_ms < base->t_ms)
            continue;
        if (*first < 0 && s.reports > base->reports)
            *first = s.t_ms;
        if (*done < 0 && s.acks_rep >= base->acks_rep + want)
            *done = s.t_ms;
    }
    if (f)
        fclose(f);
}

#endif
