/*  bench_fanout_alone - bench_fanout's REPORTs-alone phases: the simulators hold every
    REPORT back (cf-agent-sim SIGRTMIN: a job finished at once sends its RECEIPT only) until
    every agent has its JOB, then all of them report at once (SIGRTMIN+1). So the reports
    window holds report handling only: no JOB is being sent, verified or answered in it,
    which the window of the fan-out job mixes in, and unevenly (the bare ROUTER sends its N
    JOBs in one burst before it reads anything, the product sends them page by page while
    the first REPORTs come back). Run through the product and through the floor alike.
    Included by bench_fanout.c after its bf_post, bf_bases and bf_reports.  */
#ifndef BENCH_FANOUT_ALONE_H_INCLUDED
#define BENCH_FANOUT_ALONE_H_INCLUDED

#include <signal.h>

#include "bench_fanout_env.h"
#include "bench_fanout_sim.h"

/* Signal every simulator. */
static void bf_signal_sims(const bf_env_t *e, int sig)
{
    for (size_t k = 0; k < e->procs; k++)
        if (e->sims[k] > 0 && kill(e->sims[k], sig) != 0)
            fprintf(stderr, "bench_fanout: simulator %d did not take signal %d\n", (int) e->sims[k],
                    sig);
}

/* Lines of path that hold text. */
static size_t bf_count_lines(const char *path, const char *text)
{
    FILE *f = fopen(path, "r");
    char line[BF_LINE_MAX];
    size_t n = 0;
    while (f && fgets(line, sizeof(line), f))
        n += strstr(line, text) != NULL;
    if (f)
        fclose(f);
    return n;
}

/* Every simulator holds its REPORTs from now on (it said so: its k-th "sim hold on"). */
static int bf_hold(bf_env_t *e)
{
    e->holds++;
    bf_signal_sims(e, SIGRTMIN);
    for (double end = bf_now_ms() + 10000; bf_now_ms() < end; bf_sleep_ms(5)) {
        size_t ready = 0;
        for (size_t k = 0; k < e->procs; k++)
            ready += bf_count_lines(e->simlog[k], "sim hold on") >= e->holds;
        if (ready == e->procs)
            return 0;
    }
    return bf_fail("the simulators did not start holding their REPORTs", e);
}

/* What the moment of release saw: the simulators' counters and everyone's CPU. */
typedef struct {
    bf_env_t *e;
    bf_stats_t base[BF_SIM_MAX];
    bf_stats_t sum;
    bf_cpu_t c0;
} bf_release_t;

/* Every held REPORT goes out now (the floor calls this from its loop). */
static void bf_release(void *arg)
{
    bf_release_t *r = arg;
    bf_bases(r->e, r->base);
    r->sum = bf_sum(r->e);
    r->c0 = bf_cpu(r->e);
    bf_signal_sims(r->e, SIGRTMIN + 1);
}

/* n:pending of job id reaches 0: every agent's RECEIPT is stored. */
static int bf_wait_delivered(const bf_env_t *e, const char *id)
{
    for (double end = bf_now_ms() + BF_WAIT_MS; bf_now_ms() < end; bf_sleep_ms(2)) {
        redisReply *r = NULL;
        if (cf_store_cmd(e->store, &r, "HGET cf:job:{%s} n:pending", id))
            return bf_fail("HGET of the job's pending count failed", e);
        int none = r && r->type == REDIS_REPLY_STRING && strcmp(r->str, "0") == 0;
        cf_store_reply_free(&r);
        if (none)
            return 0;
    }
    return bf_fail("the held job's RECEIPTs did not all arrive", e);
}

/* The product's REPORTs alone: a job to all with the REPORTs held, every RECEIPT stored,
   then all released; *window the first REPORT out to the last ACK in at the fleet (s),
   *cpu what every process used from the release on. */
static int bf_alone_product(bf_env_t *e, double *window, bf_cpu_t *cpu)
{
    char id[33] = "";
    bf_release_t rel = {.e = e};
    if (bf_hold(e) != 0 || bf_post(e, id) != 0 || bf_wait_delivered(e, id) != 0)
        return -1;
    bf_release(&rel);
    if (bf_wait_sum(e, offsetof(bf_stats_t, acks_rep), rel.sum.acks_rep + e->n, BF_WAIT_MS) != 0)
        return bf_fail("not every held REPORT was acknowledged", e);
    *cpu = bf_cpu_since(e, &rel.c0);
    *window = bf_reports(e, rel.base);
    return 0;
}

#endif
