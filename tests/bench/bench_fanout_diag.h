/*  bench_fanout_diag - what a job that did not complete left behind: the entries still
    pending (with their agents' records), the broker's counters, the fleet's counters  */
#ifndef BENCH_FANOUT_DIAG_H_INCLUDED
#define BENCH_FANOUT_DIAG_H_INCLUDED

#include "bench_fanout_env.h"

/* The broker's /metrics page into DIR/<name> (the broker must still run). */
static void bf_diag_metrics(const bf_env_t *e, const char *name)
{
    char cmd[1400];
    if (!e->broker || !e->metrics_port)
        return;
    snprintf(cmd, sizeof(cmd), "curl -s -m 5 http://127.0.0.1:%d/metrics >%s/%s 2>/dev/null",
             e->metrics_port, e->dir, name);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_fanout: the broker's metrics page did not answer\n");
}

/* The value of the metric line starting with line in DIR/<name>, or -1. */
static long bf_diag_metric(const bf_env_t *e, const char *name, const char *line)
{
    char path[700], buf[512];
    snprintf(path, sizeof(path), "%s/%s", e->dir, name);
    FILE *f = fopen(path, "r");
    long v = -1;
    while (f && fgets(buf, sizeof(buf), f))
        if (strncmp(buf, line, strlen(line)) == 0 && buf[strlen(line)] == ' ')
            v = strtol(buf + strlen(line) + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

/* After the timed job: how many agent connections the broker accepted for N agents (more
   than N: DEALERs replaced or reconnected) and how many connections without a route it
   shut (docs/broker.md, "Orphaned connections"). */
static void bf_diag_connections(const bf_env_t *e)
{
    bf_diag_metrics(e, "broker.metrics");
    printf("   broker so far: %ld agent connections accepted for %zu agents, %ld shut (no route "
           "to them), %ld JOBs answered offline\n",
           bf_diag_metric(e, "broker.metrics", "cf_broker_accepted_total{side=\"agents\"}"), e->n,
           bf_diag_metric(e, "broker.metrics", "cf_broker_shut_total"),
           bf_diag_metric(e, "broker.metrics", "cf_broker_drops_total{reason=\"offline\"}"));
}

/* Redis's own count of EVALSHA calls and the microseconds it spent in them so far
   (INFO commandstats; zeros when it does not answer). */
typedef struct {
    unsigned long long calls, usec; /* EVALSHA calls, microseconds in them */
} bf_redis_t;

static bf_redis_t bf_redis_scripts(const bf_env_t *e)
{
    bf_redis_t out = {0, 0};
    redisReply *r = NULL;
    if (cf_store_cmd(e->store, &r, "INFO commandstats") != CF_OK)
        r = NULL;
    const char *text = r && r->type == REDIS_REPLY_STRING ? r->str : NULL;
    if (text && getenv("BF_CMDSTATS")) /* every command's figures, for a closer look */
        fprintf(stderr, "bench_fanout: INFO commandstats\n%s\n", text);
    const char *p = text ? strstr(text, "cmdstat_evalsha:calls=") : NULL;
    if (p) {
        out.calls = strtoull(p + strlen("cmdstat_evalsha:calls="), NULL, 10);
        const char *u = strstr(p, ",usec=");
        out.usec = u ? strtoull(u + strlen(",usec="), NULL, 10) : 0;
    }
    if (r)
        freeReplyObject(r);
    return out;
}

/* The job's entries not past pending, one line each with the agent's recorded broker and
   protocol level, into DIR/pending-<job>.txt; their number. */
static size_t bf_diag_pending(const bf_env_t *e, const char *job_id)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/pending-%s.txt", e->dir, job_id);
    FILE *out = fopen(path, "w");
    redisReply *r = NULL;
    size_t n = 0;
    if (!out || cf_store_cmd(e->store, &r, "HGETALL cf:job:{%s}:st", job_id) != CF_OK ||
        r->type != REDIS_REPLY_ARRAY) {
        if (out)
            fclose(out);
        cf_store_reply_free(&r);
        return 0;
    }
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *agent = r->element[i]->str, *st = r->element[i + 1]->str;
        if (!agent || !st || strcmp(st, "pending") != 0)
            continue;
        redisReply *a = NULL;
        if (cf_store_cmd(e->store, &a, "HMGET cf:agent:{%s} proto broker", agent) == CF_OK &&
            a->type == REDIS_REPLY_ARRAY && a->elements == 2)
            fprintf(out, "%s pending proto=%s broker_recorded=%s\n", agent,
                    a->element[0]->str ? a->element[0]->str : "-",
                    a->element[1]->str ? "yes" : "no");
        cf_store_reply_free(&a);
        n++;
    }
    cf_store_reply_free(&r);
    fclose(out);
    return n;
}

/* A job that did not complete: say what is left, for the logs (--keep keeps them). */
static void bf_diag(const bf_env_t *e, const char *job_id)
{
    size_t n = bf_diag_pending(e, job_id);
    bf_diag_metrics(e, "broker.metrics");
    for (size_t k = 0; k < e->procs; k++)
        if (e->sims[k])
            kill(e->sims[k], SIGUSR1); /* a fresh stats line */
    fprintf(stderr,
            "bench_fanout: job %s: %zu entries still pending (%s/pending-%s.txt; the broker's "
            "counters in broker.metrics)\n",
            job_id, n, e->dir, job_id);
}

#endif
