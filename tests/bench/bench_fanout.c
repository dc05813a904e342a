/*  bench_fanout - fan-out and reports through cf-server -> cf-broker -> simulated agents
    (cf-agent-sim processes), each beside its reference measured in the same run: a bare
    CURVE ROUTER in the broker's place, and a one-process unbatched floor for reports  */
#include "bench_fanout_env.h"

#include "bench_fanout_bare.h"
#include "bench_fanout_diag.h"
#include "bench_fanout_perf.h"
#include "cf_log.h"

/* What one round measured; times in seconds, BF_NO_TIME when it did not complete. */
typedef struct {
    double fan, ref;           /* POST -> every entry past pending; bare: send -> N answers */
    double rep, floor;         /* first REPORT -> last REPORT ACK, at the fleet: real, floor */
    double ref_rep;            /* the same window in the bare phase (ACK without Redis) */
    double alone, floor_alone; /* REPORTs alone (bench_fanout_alone.h): product, floor */
    bf_cpu_t cpu_alone, cpu_floor_alone; /* CPU from the release to the last ACK */
    double post, stored;                 /* POST answered; POST -> every entry final in Redis */
    double warm;                         /* the warm-up job: POST -> every entry past pending */
    size_t job_bytes;                    /* one signed job copy */
    double sign;        /* building and signing the N copies (cf_link_build), one thread */
    bf_stats_t before;  /* fleet counters before the timed job (resends) */
    bf_cpu_t cpu_job;   /* CPU the processes used during the timed job */
    bf_cpu_t cpu_bare;  /* ... during the bare exchange (the benchmark is the ROUTER) */
    bf_redis_t scripts; /* Redis's EVALSHA calls and time in them during the timed job */
    long batches[2];    /* the broker's BATCH messages from / to servers during it */
    bf_stats_t after;   /* ... and after it */
} bf_fig_t;

/* POST /api/v1/jobs for every agent; the id into id (33 bytes). */
static int bf_post(const bf_env_t *e, char *id)
{
    char body[256], out[BF_BODY];
    int fav = strcmp(e->type, "set_favorite") == 0;
    snprintf(body, sizeof(body), "{\"type\":\"%s\",\"all\":true,\"ttl\":3600%s}", e->type,
             fav ? ",\"favorite\":\"" BF_ALIAS "\"" : "");
    if (bf_post_direct(e, "/api/v1/jobs", body, out) != 201 || bf_json_str(out, "id", id, 33) != 0)
        return bf_fail("POST /api/v1/jobs did not create the job", e);
    return 0;
}

static long long bf_int(const redisReply *r, size_t i)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || i >= r->elements || !r->element[i]->str)
        return -1;
    return strtoll(r->element[i]->str, NULL, 10);
}

/* Poll the job's counters: *t_rec when nothing is pending, *t_fin when every entry is final
   (monotonic ms). */
static int bf_poll(const bf_env_t *e, const char *id, double *t_rec, double *t_fin)
{
    *t_rec = *t_fin = BF_NO_TIME;
    for (double end = bf_now_ms() + BF_WAIT_MS; bf_now_ms() < end; bf_sleep_ms(1)) {
        redisReply *r = NULL;
        if (cf_store_cmd(e->store, &r, "HMGET cf:job:{%s} n:pending n:installed n:failed", id))
            return bf_fail("HMGET of the job's counters failed", e);
        long long pending = bf_int(r, 0), final = bf_int(r, 1) + bf_int(r, 2);
        cf_store_reply_free(&r);
        if (pending == 0 && *t_rec < 0)
            *t_rec = bf_now_ms();
        if (final == (long long) e->n) {
            *t_fin = bf_now_ms();
            return 0;
        }
    }
    return bf_fail("the job did not complete in time", e);
}

/* The fleet's REPORT window since base (per simulator): first REPORT out to last ACK in. */
static double bf_reports(const bf_env_t *e, const bf_stats_t *base)
{
    double first = BF_NO_TIME, done = BF_NO_TIME;
    for (size_t k = 0; k < e->procs; k++) {
        double f, d;
        bf_window(e->simlog[k], &base[k], e->sim_n[k], &f, &d);
        if (f < 0 || d < 0)
            return BF_NO_TIME;
        first = first < 0 || f < first ? f : first;
        done = d > done ? d : done;
    }
    return (done - first) / 1e3;
}

static void bf_bases(const bf_env_t *e, bf_stats_t *base)
{
    for (size_t k = 0; k < e->procs; k++)
        base[k] = bf_last(e->simlog[k]);
}

#include "bench_fanout_alone.h"

/* One job through the product: POST, Redis polled, the fleet's ACKs awaited. */
static int bf_job(bf_env_t *e, unsigned long long acks_want, bf_fig_t *fig, int timed)
{
    char id[33] = "";
    bf_stats_t base[BF_SIM_MAX];
    bf_perf_t perf = {.n = 0};
    if (timed)
        bf_perf_start(&perf, e, 0);
    if (timed)
        bf_diag_metrics(e, "broker.before");
    bf_bases(e, base);
    fig->before = bf_sum(e);
    bf_redis_t s0 = bf_redis_scripts(e);
    bf_cpu_t c0 = bf_cpu(e);
    double t0 = bf_now_ms(), t_rec = BF_NO_TIME, t_fin = BF_NO_TIME;
    int rc = bf_post(e, id);
    double t_post = bf_now_ms();
    if (rc == 0 && (bf_poll(e, id, &t_rec, &t_fin) != 0 ||
                    bf_wait_sum(e, offsetof(bf_stats_t, acks_rep), acks_want, BF_WAIT_MS) != 0))
        rc = bf_fail("not every REPORT was acknowledged", e);
    bf_perf_stop(&perf);
    if (rc != 0 && id[0])
        bf_diag(e, id);
    if (rc != 0)
        return rc;
    if (!timed) {
        fig->warm = (t_rec - t0) / 1e3;
        return 0;
    }
    fig->cpu_job = bf_cpu_since(e, &c0);
    fig->scripts = bf_redis_scripts(e);
    fig->scripts.calls -= s0.calls;
    fig->scripts.usec -= s0.usec;
    bf_diag_metrics(e, "broker.after");
    for (int d = 0; d < 2; d++) {
        const char *line =
            d ? "cf_broker_batches_total{dir=\"out\"}" : "cf_broker_batches_total{dir=\"in\"}";
        long b0 = bf_diag_metric(e, "broker.before", line);
        long b1 = bf_diag_metric(e, "broker.after", line);
        fig->batches[d] = b0 >= 0 && b1 >= b0 ? b1 - b0 : -1; /* -1: a page not read */
    }
    fig->fan = (t_rec - t0) / 1e3;
    fig->post = (t_post - t0) / 1e3;
    fig->stored = (t_fin - t0) / 1e3;
    fig->rep = bf_reports(e, base);
    fig->after = bf_sum(e);
    return 0;
}

/* The bare phases: the broker stops, the ROUTER takes its place; the same DEALERs come. */
static int bf_bare_phases(bf_env_t *e, bf_fig_t *fig)
{
    bf_bare_t b = {.n = e->n};
    snprintf(b.prefix, sizeof(b.prefix), "%s", BF_PREFIX);
    cf_store_pipe_t *pipe = NULL;
    bf_stats_t base[BF_SIM_MAX];
    cf_why_t why = {""};
    int rc = -1;
    if (cf_itest_kill(e->broker, SIGTERM) != CF_OK)
        fprintf(stderr, "bench_fanout: cf-broker was gone\n");
    e->broker = 0;
    const char *params = strcmp(e->type, "set_favorite") ? "{}" : "{\"favorite\":\"" BF_ALIAS "\"}";
    const char *step = "the ROUTER in the broker's place";
    if (bf_bare_open(&b, e->store, &e->bkp, e->agents_ep, &why) != CF_OK)
        goto out;
    step = "every agent's HELLO";
    if (bf_bare_hellos(&b) != 0)
        goto out;
    step = "signing the copies";
    double t_sign = bf_now_ms();
    if (bf_bare_jobs(&b, e->store, e->seal, BF_ALIAS, e->type, params, &fig->job_bytes, &why))
        goto out;
    fig->sign = (bf_now_ms() - t_sign) / 1e3;
    double t_rec = BF_NO_TIME;
    bf_perf_t perf = {.n = 0};
    bf_perf_start(&perf, e, 1);
    bf_bases(e, base);
    bf_cpu_t c0 = bf_cpu(e);
    double t0 = bf_now_ms();
    step = "the bare exchange";
    rc = bf_bare_run(&b, NULL, &t_rec, NULL, NULL) != 0 ||
         bf_wait_sum(e, offsetof(bf_stats_t, acks_rep), 4 * e->n, BF_WAIT_MS) != 0;
    bf_perf_stop(&perf);
    if (rc != 0)
        goto out;
    rc = -1;
    fig->cpu_bare = bf_cpu_since(e, &c0);
    fig->ref = (t_rec - t0) / 1e3;
    fig->ref_rep = bf_reports(e, base);
    bf_bare_jobs_free(&b);
    step = "the floor's copies";
    if (bf_bare_jobs(&b, e->store, e->seal, BF_ALIAS, e->type, params, &fig->job_bytes, &why) ||
        cf_store_pipe_new(e->store, 8, &pipe) != CF_OK)
        goto out;
    bf_bases(e, base);
    step = "the floor's exchange";
    if (bf_bare_run(&b, pipe, &t_rec, NULL, NULL) != 0 ||
        bf_wait_sum(e, offsetof(bf_stats_t, acks_rep), 5 * e->n, BF_WAIT_MS) != 0)
        goto out;
    fig->floor = bf_reports(e, base);
    bf_bare_jobs_free(&b);
    step = "the floor's REPORTs alone";
    bf_release_t rel = {.e = e};
    if (bf_bare_jobs(&b, e->store, e->seal, BF_ALIAS, e->type, params, &fig->job_bytes, &why) ||
        bf_hold(e) != 0 || bf_bare_run(&b, pipe, &t_rec, bf_release, &rel) != 0 ||
        bf_wait_sum(e, offsetof(bf_stats_t, acks_rep), 6 * e->n, BF_WAIT_MS) != 0)
        goto out;
    fig->cpu_floor_alone = bf_cpu_since(e, &rel.c0);
    fig->floor_alone = bf_reports(e, rel.base);
    rc = 0;
out:
    if (rc != 0)
        fprintf(stderr, "bench_fanout: bare phase failed at %s: %s (logs in %s)\n", step, why.text,
                e->dir);
    cf_store_pipe_destroy(&pipe);
    bf_bare_close(&b);
    return rc;
}

static void bf_line(const char *what, size_t n, double s, const char *unit)
{
    if (s <= 0)
        printf("%-66s not measured\n", what);
    else
        printf("%-66s %6zu in %7.3f s = %8.0f %s/s\n", what, n, s, (double) n / s, unit);
}

static void bf_goal(const char *what, double real, double ref, double goal)
{
    if (real <= 0 || ref <= 0) {
        printf("   %s: no ratio (a side did not complete)\n", what);
        return;
    }
    double ratio = ref / real; /* same N on both sides: rate ratio = inverse time ratio */
    printf("   %s ratio %.2fx, goal >= %.1fx: %s\n", what, ratio, goal,
           ratio >= goal ? "MET" : "MISSED");
}

static void bf_print(const bf_env_t *e, const bf_fig_t *f)
{
    size_t n = e->n;
    bf_line("fan-out: POST /api/v1/jobs -> server -> broker -> agents -> receipts in Redis", n,
            f->fan, "agents");
    printf("   (POST answered after %.0f ms; every REPORT stored %.3f s after the POST; the cold "
           "warm-up job took %.3f s)\n",
           f->post * 1e3, f->stored, f->warm);
    bf_line("bare CURVE ROUTER -> the same DEALERs: N JOBs sent -> N answers in", n, f->ref,
            "agents");
    bf_goal("fan-out", f->fan, f->ref, BF_GOAL_FAN);
    bf_line("reports alone: REPORT -> broker -> server -> Redis -> ACK, at the fleet", n, f->alone,
            "reports");
    bf_line("floor alone: one process, ROUTER recv + one pipelined write + ACK each", n,
            f->floor_alone, "reports");
    bf_goal("reports", f->alone, f->floor_alone, BF_GOAL_REP);
    printf("   (every agent holds its REPORT until all have their JOB, then all report: the\n"
           "   window holds no JOB; docs/BENCHMARKS.md, round 11)\n");
    bf_cpu_print("reports alone", &f->cpu_alone, n);
    bf_cpu_print("floor's reports alone", &f->cpu_floor_alone, n);
    bf_line("reports during the fan-out job (the window before round 11)", n, f->rep, "reports");
    bf_line("floor during its fan-out", n, f->floor, "reports");
    if (f->rep > 0 && f->floor > 0)
        printf("   ratio %.2fx (JOBs sent, verified and answered in the same window)\n",
               f->floor / f->rep);
    bf_line("   (bare ROUTER phase, ACK without Redis, same window)", n, f->ref_rep, "reports");
    printf("   building and signing the %zu copies (cf_link_build, ECDSA P-256, one thread): "
           "%.3f s, %.0f us each\n",
           n, f->sign, f->sign * 1e6 / (double) n);
    bf_cpu_print("timed job", &f->cpu_job, n);
    bf_cpu_print("bare exchange", &f->cpu_bare, n);
    printf("   Redis during the timed job: %llu EVALSHA calls, %llu ms in them (%.0f us each)\n",
           f->scripts.calls, f->scripts.usec / 1000,
           f->scripts.calls ? (double) f->scripts.usec / (double) f->scripts.calls : 0.0);
    if (f->batches[0] >= 0 && f->batches[1] > 0) /* answer batches count too: "about" */
        printf("   the broker's BATCH messages during the timed job: %ld from the server, %ld to "
               "it (about %.1f agents' messages each)\n",
               f->batches[0], f->batches[1], (double) n / (double) f->batches[1]);
    else
        printf("   the broker's BATCH messages during the timed job: not read\n");
    printf("   signed job copy: %zu bytes; sent by the agents during the timed job: %llu "
           "RECEIPT, %llu REPORT; resent: %llu RECEIPT, %llu REPORT\n",
           f->job_bytes, f->after.receipts - f->before.receipts,
           f->after.reports - f->before.reports, f->after.r_resend - f->before.r_resend,
           f->after.p_resend - f->before.p_resend);
}

static int bf_round(bf_env_t *e, size_t per_proc, int keep)
{
    bf_fig_t fig;
    memset(&fig, 0, sizeof(fig));
    e->procs = (e->n + per_proc - 1) / per_proc;
    char load[128] = "";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f && fgets(load, sizeof(load), f))
        load[strcspn(load, "\n")] = '\0';
    if (f)
        fclose(f);
    printf("== N=%zu agents in %zu cf-agent-sim process(es), job type %s, agents resend after "
           "%s ms, load average %s\n",
           e->n, e->procs, e->type, e->resend_ms, load);
    fflush(stdout);
    int rc = bf_env_start(e);
    if (rc == 0)
        rc = bf_job(e, e->n, &fig, 0);
    if (rc == 0)
        rc = bf_job(e, 2 * e->n, &fig, 1);
    if (rc == 0)
        rc = bf_alone_product(e, &fig.alone, &fig.cpu_alone);
    if (rc == 0)
        bf_diag_connections(e);
    if (rc == 0)
        rc = bf_bare_phases(e, &fig);
    bf_print(e, &fig);
    fflush(stdout);
    bf_env_stop(e, keep);
    return rc;
}

static void bf_usage(void)
{
    printf("usage: bench_fanout [--agents N[,N...]] [--per-proc N] [--type recheck|set_favorite] "
           "[--resend-ms MS] [--online-rate R] [--io-threads N] [--broker-io-threads N] [--keep]\n"
           "  defaults: --agents 1000,9000 --per-proc %d --type recheck --resend-ms 1000 (the "
           "agents' first\n"
           "  resend of an unacknowledged RECEIPT or REPORT, the product's default), --online-rate "
           "200 (agents\n"
           "  each simulator brings on line per second), --io-threads 64 (the bare ROUTER's "
           "libzmq I/O\n"
           "  threads, the reference's), --broker-io-threads N (cf-broker's; default: its own, "
           "derived from\n"
           "  the CPU count). Needs the tree built\n"
           "  (cf-server, cf-broker, cf-agent-sim) and redis-server on PATH. See "
           "docs/BENCHMARKS.md.\n",
           BF_PER_PROC);
}

/* The build directory: this program is <build>/tests/bench_fanout. */
static void bf_bin_dir(char *out, size_t len)
{
    const char *env = getenv("CF_BIN_DIR");
    char exe[PATH_MAX] = "";
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    snprintf(out, len, "%s", env && *env ? env : exe);
    setenv("CF_BIN_DIR", out, 1);
}

/* The command line. */
typedef struct {
    const char *agents, *type, *resend, *rate; /* --agents, --type, --resend-ms, --online-rate */
    const char *io_threads;                    /* --io-threads (the bare ROUTER's) */
    const char *broker_io;                     /* --broker-io-threads, "0": cf-broker's own */
    size_t per_proc;                           /* --per-proc */
    int keep;                                  /* --keep */
} bf_opts_t;

/* 1 when the values are in range. */
static int bf_opts_ok(const bf_opts_t *o)
{
    long io = strtol(o->io_threads, NULL, 10), bio = strtol(o->broker_io, NULL, 10);
    return o->per_proc >= 1 && o->per_proc <= BF_PER_PROC_MAX && io >= 1 && io <= 64 && bio >= 0 &&
           bio <= 64 && (!strcmp(o->type, "recheck") || !strcmp(o->type, "set_favorite"));
}

/* -1 to run, else the exit code (--help: 0, a bad command line: 2). */
static int bf_opts(int argc, char **argv, bf_opts_t *o)
{
    *o =
        (bf_opts_t){"1000,9000", "recheck", "1000", "200", BF_IO_THREADS_TEXT, "0", BF_PER_PROC, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **slot = !strcmp(a, "--agents")              ? &o->agents
                            : !strcmp(a, "--type")              ? &o->type
                            : !strcmp(a, "--resend-ms")         ? &o->resend
                            : !strcmp(a, "--online-rate")       ? &o->rate
                            : !strcmp(a, "--io-threads")        ? &o->io_threads
                            : !strcmp(a, "--broker-io-threads") ? &o->broker_io
                                                                : NULL;
        if (slot && v) {
            *slot = v;
            i++;
        } else if (!strcmp(a, "--per-proc") && v) {
            o->per_proc = strtoul(v, NULL, 10);
            i++;
        } else if (!strcmp(a, "--keep")) {
            o->keep = 1;
        } else {
            bf_usage();
            return strcmp(a, "--help") ? 2 : 0;
        }
    }
    if (!bf_opts_ok(o)) {
        bf_usage();
        return 2;
    }
    return -1;
}

int main(int argc, char **argv)
{
    bf_opts_t o;
    int code = bf_opts(argc, argv, &o);
    if (code >= 0)
        return code;
    signal(SIGPIPE, SIG_IGN);
    cf_log_set_level(CF_LOG_WARN);
    zsys_set_io_threads(strtoul(o.io_threads, NULL, 10)); /* the bare ROUTER's */
    char bin[600];
    bf_bin_dir(bin, sizeof(bin));
    int bad = 0;
    for (const char *p = o.agents; *p; p += strspn(p, ",")) {
        bf_env_t e;
        memset(&e, 0, sizeof(e));
        snprintf(e.bin, sizeof(e.bin), "%s", bin);
        e.type = o.type;
        e.resend_ms = o.resend;
        e.rate = o.rate;
        e.io_threads = o.broker_io;
        e.n = strtoul(p, NULL, 10);
        p += strcspn(p, ",");
        if (e.n < 1 || e.n > o.per_proc * BF_SIM_MAX)
            return 2;
        bad |= bf_round(&e, o.per_proc, o.keep) != 0;
    }
    return bad;
}
