/*  cf-agent-sim - the fleet simulator: N simulated agents (cf_fleet) in one process, with
    their keys written out or registered in Redis, and counters printed as they change  */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cf_db_agent.h"
#include "cf_db_curve.h"
#include "cf_fleet.h"
#include "cf_file.h"
#include "cf_log.h"
#include "cf_mem.h"
#include "cf_sim.h"
#include "cf_store.h"
#include "cf_store_addr.h"
#include "cf_zsock.h"

#define S_CA_MAX     (1 << 20) /* --ca file, bytes */
#define S_STATS_MS   1000      /* default --stats-ms */
#define S_QUIET_MS   10000     /* a stats line at least this often, changed or not */
#define S_ALIAS_DEF  "sim"     /* --server-alias default: the check-in records name it */
#define S_EXIT_USAGE 2
#define S_SLICE_MS   20 /* --online-rate: a slice of agents this often */

typedef struct {
    cf_fleet_cfg_t fleet;                            /* what cf_fleet_new gets */
    cf_curve_broker_t brokers[CF_CURVE_BROKERS_MAX]; /* --broker */
    const char *ca_path;                             /* --ca */
    const char *keys_out;                            /* --keys-out */
    const char *redis;                               /* --redis HOST:PORT */
    const char *alias;                               /* --server-alias */
    int online_after_keys;                           /* --online-after-keys */
    int online_rate;                                 /* --online-rate: agents/s, 0 = all */
    int stats_ms;                                    /* --stats-ms */
    unsigned fail_pct;                               /* --fail-pct */
} s_opts_t;

static void s_usage(FILE *to)
{
    fprintf(
        to,
        "usage: cf-agent-sim --count N --broker tcp://HOST:PORT#Z85 --ca FILE [options]\n"
        "  N simulated agents (ids PREFIX<K>..PREFIX<K+N-1>) in one process, each with its\n"
        "  own CURVE keypair and DEALER link to a broker (docs/agent.md \"Simulator\").\n"
        "  -n, --count N          agents, 1..%d (about 2 open files each)\n"
        "      --first K          number of the first agent (default 0)\n"
        "      --prefix P         agent id prefix (default sim-)\n"
        "  -b, --broker EP#Z85    broker endpoint and key; repeatable (agent i starts at i %% n)\n"
        "      --ca FILE          CA certificate (PEM) job signers must chain to\n"
        "      --keys-out FILE    write one line \"id Z85-public-key\" per agent\n"
        "      --redis HOST:PORT  register the agents (CURVE key and record)\n"
        "      --server-alias A   the server the records name (default " S_ALIAS_DEF ")\n"
        "      --start-offline    no agent connects until SIGUSR2 (register the keys first)\n"
        "      --online-after-keys  start off line, connect once the keys are out\n"
        "      --spread-ms MS     connect over this time instead of all at once\n"
        "      --resend-ms MS     first resend of an unacknowledged RECEIPT/REPORT (1000)\n"
        "      --fail-pct P       share of verified jobs reported failed (0..100)\n"
        "      --stats-ms MS      look at the counters this often; a line when they changed\n"
        "                         (default %d; at least every %d ms anyway)\n"
        "      --log-level L      debug, info, warn, error (default warn)\n"
        "  -h, --help             this text\n"
        "Signals: SIGUSR1 prints the counters, SIGUSR2 brings the agents on line, SIGTERM or\n"
        "SIGINT prints them and stops. SIGRTMIN: from now on a job finished at once sends\n"
        "its RECEIPT and holds its REPORT back; SIGRTMIN+1: every held REPORT goes out and\n"
        "holding stops (a benchmark's REPORTs-alone phase). Lines: \"sim stats\n"
        "t_ms=<CLOCK_MONOTONIC ms> ...\".\n",
        CF_FLEET_MAX_AGENTS, S_STATS_MS, S_QUIET_MS);
}

static int s_num(const char *text, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || !end || *end || end == text || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

enum {
    O_FIRST = 256,
    O_PREFIX,
    O_CA,
    O_KEYS,
    O_REDIS,
    O_ALIAS,
    O_OFF,
    O_AFTER,
    O_SPREAD,
    O_RESEND,
    O_FAIL,
    O_STATS,
    O_LOG,
    O_RATE
};

static const struct option s_longopts[] = {{"count", required_argument, NULL, 'n'},
                                           {"first", required_argument, NULL, O_FIRST},
                                           {"prefix", required_argument, NULL, O_PREFIX},
                                           {"broker", required_argument, NULL, 'b'},
                                           {"ca", required_argument, NULL, O_CA},
                                           {"keys-out", required_argument, NULL, O_KEYS},
                                           {"redis", required_argument, NULL, O_REDIS},
                                           {"server-alias", required_argument, NULL, O_ALIAS},
                                           {"start-offline", no_argument, NULL, O_OFF},
                                           {"online-after-keys", no_argument, NULL, O_AFTER},
                                           {"spread-ms", required_argument, NULL, O_SPREAD},
                                           {"resend-ms", required_argument, NULL, O_RESEND},
                                           {"fail-pct", required_argument, NULL, O_FAIL},
                                           {"stats-ms", required_argument, NULL, O_STATS},
                                           {"log-level", required_argument, NULL, O_LOG},
                                           {"online-rate", required_argument, NULL, O_RATE},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};

/* One option into o; 0, or -1 with a message. */
static int s_opt(s_opts_t *o, int c, const char *arg)
{
    long v = 0;
    cf_log_level_t level;
    switch (c) {
    case 'n': return s_num(arg, 1, CF_FLEET_MAX_AGENTS, &v) ? -1 : (o->fleet.count = (size_t) v, 0);
    case O_FIRST: return s_num(arg, 0, 1000000000L, &v) ? -1 : (o->fleet.first = (size_t) v, 0);
    case O_PREFIX: o->fleet.id_prefix = arg; return 0;
    case 'b':
        if (o->fleet.n_brokers >= CF_CURVE_BROKERS_MAX ||
            cf_curve_broker_parse(arg, strlen(arg), &o->brokers[o->fleet.n_brokers], NULL))
            return -1;
        o->fleet.n_brokers++;
        return 0;
    case O_CA: o->ca_path = arg; return 0;
    case O_KEYS: o->keys_out = arg; return 0;
    case O_REDIS: o->redis = arg; return 0;
    case O_ALIAS: o->alias = arg; return 0;
    case O_OFF: o->fleet.start_offline = 1; return 0;
    case O_AFTER: o->online_after_keys = o->fleet.start_offline = 1; return 0;
    case O_SPREAD: return s_num(arg, 0, 3600000, &v) ? -1 : (o->fleet.start_spread_ms = (int) v, 0);
    case O_RESEND: return s_num(arg, 1, 600000, &v) ? -1 : (o->fleet.resend_min_ms = (int) v, 0);
    case O_FAIL: return s_num(arg, 0, 100, &v) ? -1 : (o->fail_pct = (unsigned) v, 0);
    case O_RATE: return s_num(arg, 0, 1000000, &v) ? -1 : (o->online_rate = (int) v, 0);
    case O_STATS: return s_num(arg, 1, 600000, &v) ? -1 : (o->stats_ms = (int) v, 0);
    case O_LOG:
        if (cf_log_level_from_name(arg, &level) != CF_OK)
            return -1;
        cf_log_set_level(level);
        return 0;
    default: return -1;
    }
}

/* 0 to run, 1 done (--help), S_EXIT_USAGE on a bad command line. */
static int s_parse(int argc, char **argv, s_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->alias = S_ALIAS_DEF;
    o->stats_ms = S_STATS_MS;
    o->fleet.brokers = o->brokers;
    int c;
    while ((c = getopt_long(argc, argv, "n:b:h", s_longopts, NULL)) != -1) {
        if (c == 'h') {
            s_usage(stdout);
            return 1;
        }
        if (c == '?' || s_opt(o, c, optarg) != 0) {
            fprintf(stderr, "cf-agent-sim: bad option or value%s%s (--help)\n", optarg ? ": " : "",
                    optarg ? optarg : "");
            return S_EXIT_USAGE;
        }
    }
    if (optind < argc || !o->fleet.count || !o->fleet.n_brokers || !o->ca_path) {
        fprintf(stderr, "cf-agent-sim: --count, --broker and --ca are needed (--help)\n");
        return S_EXIT_USAGE;
    }
    return 0;
}

static cf_err_t s_load_ca(const char *path, cf_cert_t **out)
{
    char *buf = NULL;
    size_t len = 0;
    cf_why_t why = {""};
    cf_err_t rc = cf_file_read(path, S_CA_MAX, &buf, &len, &why);
    if (rc == CF_OK)
        rc = cf_cert_parse(buf, len, out);
    if (rc != CF_OK)
        fprintf(stderr, "cf-agent-sim: CA %s: %s\n", path, cf_why_text(&why, rc));
    cf_mem_free(buf);
    return rc;
}

static cf_err_t s_keys_out(cf_fleet_t *fleet, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return CF_ERR_IO;
    for (size_t i = 0; i < cf_fleet_size(fleet); i++) {
        char id[CF_MSG_AGENT_MAX + 1], z85[CF_CURVE_Z85_LEN + 1];
        unsigned char pub[CF_CURVE_KEY_LEN];
        if (cf_fleet_identity(fleet, i, id, pub) != CF_OK)
            break;
        cf_curve_z85_encode(pub, z85);
        fprintf(f, "%s %s\n", id, z85);
    }
    return fclose(f) == 0 ? CF_OK : CF_ERR_IO;
}

/* Every agent's CURVE key and a check-in record into Redis (2 round trips each). */
static cf_err_t s_register(cf_fleet_t *fleet, const s_opts_t *o)
{
    cf_store_cfg_t scfg;
    cf_store_cfg_init(&scfg);
    cf_why_t why = {""};
    cf_store_t *store = NULL;
    cf_err_t rc = cf_store_cfg_parse_redis(&scfg, o->redis, &why);
    if (rc == CF_OK)
        rc = cf_store_new(&scfg, &store, &why);
    for (size_t i = 0; rc == CF_OK && i < cf_fleet_size(fleet); i++) {
        char id[CF_MSG_AGENT_MAX + 1];
        unsigned char pub[CF_CURVE_KEY_LEN];
        rc = cf_fleet_identity(fleet, i, id, pub);
        if (rc == CF_OK)
            rc = cf_db_curve_put(store, CF_ALLOW_AGENT, id, pub, 1, &why);
        cf_db_checkin_t in = {id,
                              CF_DB_LOCK_INSECURE,
                              (int64_t) time(NULL),
                              "127.0.0.1",
                              NULL,
                              NULL,
                              NULL,
                              0,
                              o->alias,
                              0};
        if (rc == CF_OK)
            rc = cf_db_agent_checkin(store, &in, NULL);
    }
    if (rc != CF_OK)
        fprintf(stderr, "cf-agent-sim: registering in Redis: %s\n", cf_why_text(&why, rc));
    cf_store_destroy(&store);
    return rc;
}

static double s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

static void s_print(const cf_fleet_stats_t *s, size_t count, const char *why)
{
    printf("sim stats t_ms=%.3f agents=%zu up=%llu connects=%llu failovers=%llu jobs=%llu "
           "duplicates=%llu dropped=%llu receipts=%llu receipt_resends=%llu reports=%llu "
           "report_resends=%llu acks_receipt=%llu acks_report=%llu acks_stale=%llu "
           "installed=%llu failed=%llu bad=%llu send_fails=%llu (%s)\n",
           s_now_ms(), count, (unsigned long long) (s->connects - s->disconnects),
           (unsigned long long) s->connects, (unsigned long long) s->failovers,
           (unsigned long long) s->jobs, (unsigned long long) s->duplicates,
           (unsigned long long) s->jobs_dropped, (unsigned long long) s->receipts,
           (unsigned long long) s->receipt_resends, (unsigned long long) s->reports,
           (unsigned long long) s->report_resends, (unsigned long long) s->acks_receipt,
           (unsigned long long) s->acks_report, (unsigned long long) s->acks_stale,
           (unsigned long long) s->installed, (unsigned long long) s->failed,
           (unsigned long long) s->bad_msgs, (unsigned long long) s->send_fails, why);
    fflush(stdout);
}

/* Every agent on line: at once, or online_rate per second in slices every S_SLICE_MS (a
   fleet booting; thousands of CURVE handshakes at once overflow a broker's backlog). */
static void s_online(cf_fleet_t *fleet, const s_opts_t *o)
{
    size_t n = cf_fleet_size(fleet), step = n;
    if (o->online_rate > 0)
        step = (size_t) o->online_rate * S_SLICE_MS / 1000 + 1;
    for (size_t i = 0; i < n; i++) {
        if (cf_fleet_set_online(fleet, step >= n ? CF_FLEET_ALL : i, 1) != CF_OK)
            fprintf(stderr, "cf-agent-sim: some links did not open\n");
        if (step >= n)
            return;
        if ((i + 1) % step == 0) {
            struct timespec ts = {0, S_SLICE_MS * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
}

/* SIGRTMIN: hold REPORTs back from now on; SIGRTMIN+1: send the held ones, stop holding. */
static void s_hold(cf_fleet_t *fleet, cf_fleet_fault_t *fault, int sig)
{
    fault->hold_reports = sig == SIGRTMIN;
    size_t n = 0;
    if (cf_fleet_set_fault(fleet, fault) != CF_OK ||
        (sig != SIGRTMIN && cf_fleet_release(fleet, &n) != CF_OK)) {
        fprintf(stderr, "cf-agent-sim: the fleet did not take the signal %d\n", sig);
        return;
    }
    if (sig == SIGRTMIN)
        printf("sim hold on t_ms=%.3f\n", s_now_ms());
    else
        printf("sim hold off t_ms=%.3f released=%zu\n", s_now_ms(), n);
    fflush(stdout);
}

/* Wait for signals; look at the counters every stats_ms and print them when they changed. */
static void s_run(cf_fleet_t *fleet, const s_opts_t *o, cf_fleet_fault_t *fault,
                  const sigset_t *set)
{
    cf_fleet_stats_t last, now;
    memset(&last, 0, sizeof(last));
    double printed = 0;
    for (;;) {
        struct timespec ts = {o->stats_ms / 1000, (long) (o->stats_ms % 1000) * 1000000L};
        int sig = sigtimedwait(set, NULL, &ts);
        if (sig == SIGUSR2)
            s_online(fleet, o);
        if (sig == SIGRTMIN || sig == SIGRTMIN + 1)
            s_hold(fleet, fault, sig);
        if (cf_fleet_stats(fleet, &now) != CF_OK)
            return;
        int stop = sig == SIGTERM || sig == SIGINT;
        int changed = memcmp(&now, &last, sizeof(now)) != 0;
        if (stop || sig == SIGUSR1 || changed || s_now_ms() - printed >= S_QUIET_MS) {
            s_print(&now, cf_fleet_size(fleet), stop ? "stop" : sig == SIGUSR1 ? "asked" : "tick");
            printed = s_now_ms();
        }
        last = now;
        if (stop)
            return;
    }
}

/* Keys out or into Redis, then on line when asked; the loop until a signal stops it. */
static int s_serve(cf_fleet_t *fleet, const s_opts_t *o, const sigset_t *set)
{
    if (o->keys_out && s_keys_out(fleet, o->keys_out) != CF_OK) {
        fprintf(stderr, "cf-agent-sim: cannot write %s\n", o->keys_out);
        return 1;
    }
    if (o->redis && s_register(fleet, o) != CF_OK)
        return 1;
    if (o->online_after_keys)
        s_online(fleet, o);
    cf_fleet_fault_t fault;
    memset(&fault, 0, sizeof(fault));
    fault.fail_pct = o->fail_pct;
    if (o->fail_pct && cf_fleet_set_fault(fleet, &fault) != CF_OK)
        return 1;
    printf("sim ready agents=%zu first=%zu prefix=%s\n", cf_fleet_size(fleet), o->fleet.first,
           o->fleet.id_prefix ? o->fleet.id_prefix : "sim-");
    fflush(stdout);
    s_run(fleet, o, &fault, set);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strncmp(argv[1], "--simulate", strlen("--simulate")) == 0)
        return cf_sim_cmd(argc, argv); /* `cf-agent --simulate` comes here */
    s_opts_t o;
    cf_log_set_component("cf-agent-sim");
    cf_log_set_level(CF_LOG_WARN);
    int prc = s_parse(argc, argv, &o);
    if (prc)
        return prc == 1 ? 0 : prc;
    json_set_alloc_funcs(cf_mem_malloc, cf_mem_free);
    /* signals are taken by sigtimedwait; the fleet's thread inherits the mask */
    sigset_t set;
    sigemptyset(&set);
    int sigs[] = {SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGRTMIN, SIGRTMIN + 1};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaddset(&set, sigs[i]);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    cf_why_t why = {""};
    unsigned long limit = 0;
    if (cf_zsock_raise_nofile(&limit, &why) != CF_OK)
        fprintf(stderr, "cf-agent-sim: open-file limit: %s\n", why.text);
    cf_cert_t *ca = NULL;
    if (s_load_ca(o.ca_path, &ca) != CF_OK)
        return 1;
    o.fleet.ca = ca;
    cf_fleet_t *fleet = NULL;
    cf_err_t rc = cf_fleet_new(&o.fleet, &fleet, &why);
    int code = 1;
    if (rc != CF_OK)
        fprintf(stderr, "cf-agent-sim: %s\n", cf_why_text(&why, rc));
    else
        code = s_serve(fleet, &o, &set);
    cf_fleet_destroy(&fleet);
    cf_cert_destroy(&ca);
    return code;
}
