/*  bench_fanout_perf - optional profiles of the timed job: with BF_PERF_DIR set, one
    `perf record -e cpu-clock -g` per process (server, broker, redis-server, each simulator) runs
   while the measured job does, its data in that directory (perf report -i DIR/broker.data)  */
#ifndef BENCH_FANOUT_PERF_H_INCLUDED
#define BENCH_FANOUT_PERF_H_INCLUDED

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_fanout_env.h"

#define BF_PERF_MAX (BF_SIM_MAX + 3) /* server, broker, redis-server, simulators */

typedef struct {
    pid_t pid[BF_PERF_MAX]; /* the perf processes, 0 when none */
    size_t n;               /* how many */
} bf_perf_t;

static void bf_perf_one(bf_perf_t *p, const char *dir, const char *name, pid_t target)
{
    char out[700], tpid[16], log[700];
    snprintf(out, sizeof(out), "%s/%s.data", dir, name);
    snprintf(log, sizeof(log), "%s/%s.perf.log", dir, name);
    snprintf(tpid, sizeof(tpid), "%d", (int) target);
    /* BF_PERF_CG=dwarf: DWARF call graphs (libzmq and libstdc++ have no frame pointers, so
       -g stops at their frames), sampled at 500 Hz to keep the data small; BF_PERF_HZ:
       another rate */
    const char *cg = getenv("BF_PERF_CG");
    bool dwarf = cg && strcmp(cg, "dwarf") == 0;
    char *argv[] = {"/usr/bin/perf",
                    "record",
                    "-q",
                    "-e",
                    "cpu-clock",
                    dwarf ? "--call-graph=dwarf,8192" : "-g",
                    "-F",
                    getenv("BF_PERF_HZ") ? getenv("BF_PERF_HZ")
                    : dwarf              ? "500"
                                         : "4000",
                    "-o",
                    out,
                    "-p",
                    tpid,
                    NULL};
    if (target > 0 && p->n < BF_PERF_MAX && cf_itest_spawn(argv, log, &p->pid[p->n]) == CF_OK)
        p->n++;
}

/* Start the profilers when BF_PERF_DIR is set (and give them a moment to attach). bare:
   the bare exchange's (this process, whose ROUTER stands in the broker's place, as
   "bare.data", and the simulators as "bare-sim-K.data"). */
static void bf_perf_start(bf_perf_t *p, const bf_env_t *e, int bare)
{
    const char *dir = getenv("BF_PERF_DIR");
    p->n = 0;
    if (!dir || !*dir)
        return;
    if (bare) {
        bf_perf_one(p, dir, "bare", getpid());
    } else {
        bf_perf_one(p, dir, "server", e->srv.pid);
        bf_perf_one(p, dir, "broker", e->broker);
        bf_perf_one(p, dir, "redis", e->redis.pid);
    }
    for (size_t k = 0; k < e->procs; k++) {
        char name[32];
        snprintf(name, sizeof(name), "%ssim-%zu", bare ? "bare-" : "", k);
        bf_perf_one(p, dir, name, e->sims[k]);
    }
    bf_sleep_ms(1500); /* perf needs a moment to attach: profiling runs only */
}

/* Stop them (SIGINT: perf writes its data and exits) and wait for each (5 s at most). */
static void bf_perf_stop(bf_perf_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        kill(p->pid[i], SIGINT);
    for (size_t i = 0; i < p->n; i++)
        if (cf_itest_kill(p->pid[i], SIGINT) != CF_OK)
            fprintf(stderr, "bench_fanout: perf %d was gone\n", (int) p->pid[i]);
    p->n = 0;
}

#endif
