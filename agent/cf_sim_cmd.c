/*  cf_sim_cmd - `cf-agent --simulate N`: options, --processes K children each with its own
    id range, signals, exit codes  */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <czmq.h>
#include <jansson.h>

#include "cf_agent_run.h"
#include "cf_log.h"
#include "cf_mem.h"
#include "cf_sim.h"

static volatile sig_atomic_t s_stop;
static pid_t s_pids[CF_SIM_PROCS_MAX]; /* the parent's children (0: none, or gone) */

/* Stop; a parent passes the signal on to its children (kill is async-signal-safe). */
static void s_on_signal(int sig)
{
    (void) sig;
    s_stop = 1;
    for (size_t p = 0; p < CF_SIM_PROCS_MAX; p++)
        if (s_pids[p] > 0)
            kill(s_pids[p], SIGTERM);
}

static void s_usage(FILE *to)
{
    fprintf(to,
            "usage: cf-agent --simulate N --bundle FILE [options]\n"
            "  N simulated agents, each enrolling with the package's token over HTTPS, checking\n"
            "  in from its own source address, holding a broker link, carrying out jobs and\n"
            "  renewing by CSR (docs/agent.md \"Simulator\").\n"
            "  --bundle FILE       install package (cf-console package create --token-uses N)\n"
            "  --processes K       split the agents over K processes (1..%d; about 2 open files\n"
            "                      per agent, so more than ~9,000 agents need K > 1)\n"
            "  --id-prefix P       ids are P<number> (default sim-)\n"
            "  --first K           number of the first agent (default 0)\n"
            "  --source-net CIDR   source addresses (default %s, no .0/.255 hosts)\n"
            "  --interval S        seconds between check-ins (default: the server's)\n"
            "  --push              enroll without a CSR: no certificate until an install job\n"
            "  --state-dir D       keep each agent's keys, and its certificate once it passed\n"
            "                      its install check, in D/<id>/; a restart takes them back\n"
            "                      (default: in memory only)\n"
            "  --max-inflight M    HTTPS calls at once per process (default %d)\n"
            "  --enroll-rate R     enrollments started per second per process (default %d)\n"
            "  --timeout S         one HTTPS call, seconds (default %d)\n"
            "  --log-level L       debug, info, warn, error (default warn)\n"
            "Prints \"sim stats t_ms=... proc=... agents=... enrolled=... secure=... insecure=...\n"
            "jobs=... installed=... failed=... ... rss_kib=...\" once a second when something\n"
            "changed. SIGTERM or SIGINT stops it (exit 0); exit 1 when enrollment failed for\n"
            "every agent or it could not start, 2 on a bad command line.\n",
            CF_SIM_PROCS_MAX, CF_SIM_NET_DEFAULT, CF_SIM_INFLIGHT, CF_SIM_ENROLL_RATE,
            CF_SIM_TIMEOUT_MS / 1000);
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

/* The command line beyond --simulate. */
typedef struct {
    cf_sim_opts_t o;      /* what each process runs (count: the whole fleet here) */
    long procs;           /* --processes */
    cf_log_level_t level; /* --log-level */
} s_cmd_t;

static int s_level(const char *s, cf_log_level_t *out)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (cf_log_level_t) i;
            return 0;
        }
    return -1;
}

/* One option; 0 or -1. */
static int s_opt(s_cmd_t *c, int opt, const char *arg)
{
    long v = 0;
    switch (opt) {
    case 'b': c->o.bundle = arg; return 0;
    case 'p': c->o.id_prefix = arg; return 0;
    case 'P': c->o.push = 1; return 0;
    case 'd': c->o.state_dir = arg; return 0;
    case 's': return cf_sim_net_parse(arg, &c->o.net, NULL) == CF_OK ? 0 : -1;
    case 'l': return s_level(arg, &c->level);
    case 'k': return s_num(arg, 1, CF_SIM_PROCS_MAX, &c->procs);
    default: break;
    }
    /* the numbers: option, range, where it goes */
    static const struct {
        int opt;       /* getopt code */
        long lo, hi;   /* range */
        size_t offset; /* field of cf_sim_opts_t */
        int size;      /* 0 size_t, 1 unsigned, 2 long (x 1000: seconds to ms) */
    } nums[] = {
        {'n', 1, (long) CF_FLEET_MAX_AGENTS * CF_SIM_PROCS_MAX, offsetof(cf_sim_opts_t, count), 0},
        {'f', 0, 1000000000L, offsetof(cf_sim_opts_t, first), 0},
        {'i', 1, 86400, offsetof(cf_sim_opts_t, interval), 1},
        {'m', 1, CF_SIM_INFLIGHT_MAX, offsetof(cf_sim_opts_t, max_inflight), 1},
        {'r', 1, 100000, offsetof(cf_sim_opts_t, enroll_rate), 1},
        {'t', 1, 3600, offsetof(cf_sim_opts_t, timeout_ms), 2},
    };
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        if (nums[i].opt != opt)
            continue;
        if (s_num(arg, nums[i].lo, nums[i].hi, &v) != 0)
            return -1;
        char *field = (char *) &c->o + nums[i].offset;
        if (nums[i].size == 0)
            *(size_t *) (void *) field = (size_t) v;
        else if (nums[i].size == 1)
            *(unsigned *) (void *) field = (unsigned) v;
        else
            *(long *) (void *) field = v * 1000;
        return 0;
    }
    return -1;
}

/* Parse argv (argv[1] is "--simulate"); 0, 1 for --help (printed), -1 on a usage error. */
static int s_parse(int argc, char **argv, s_cmd_t *c)
{
    static const struct option longs[] = {{"simulate", required_argument, NULL, 'n'},
                                          {"bundle", required_argument, NULL, 'b'},
                                          {"processes", required_argument, NULL, 'k'},
                                          {"id-prefix", required_argument, NULL, 'p'},
                                          {"first", required_argument, NULL, 'f'},
                                          {"source-net", required_argument, NULL, 's'},
                                          {"interval", required_argument, NULL, 'i'},
                                          {"push", no_argument, NULL, 'P'},
                                          {"state-dir", required_argument, NULL, 'd'},
                                          {"max-inflight", required_argument, NULL, 'm'},
                                          {"enroll-rate", required_argument, NULL, 'r'},
                                          {"timeout", required_argument, NULL, 't'},
                                          {"log-level", required_argument, NULL, 'l'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    memset(c, 0, sizeof(*c));
    c->procs = 1;
    c->level = CF_LOG_WARN;
    if (cf_sim_net_parse(CF_SIM_NET_DEFAULT, &c->o.net, NULL) != CF_OK)
        return -1;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        if (opt == 'h') {
            s_usage(stdout);
            return 1;
        }
        if (s_opt(c, opt, optarg) != 0) {
            fprintf(stderr, "cf-agent: bad value for --simulate option: '%s'\n",
                    optarg ? optarg : "?");
            return -1;
        }
    }
    if (optind != argc || !c->o.count || !c->o.bundle) {
        fprintf(stderr, "cf-agent: --simulate needs N and --bundle FILE\n");
        return -1;
    }
    if ((size_t) c->procs > c->o.count || c->o.count > (size_t) c->procs * CF_FLEET_MAX_AGENTS) {
        fprintf(stderr, "cf-agent: %zu agents over %ld processes: 1..%d agents each\n", c->o.count,
                c->procs, CF_FLEET_MAX_AGENTS);
        return -1;
    }
    return 0;
}

/* One simulator process: its share of the fleet. */
static int s_child(const s_cmd_t *c, unsigned p)
{
    cf_sim_opts_t o = c->o;
    size_t off = 0, count = 0;
    if (cf_sim_split(c->o.count, (unsigned) c->procs, p, &off, &count) != CF_OK)
        return CF_AGENT_EXIT_USAGE;
    o.first = c->o.first + off;
    o.count = count;
    o.proc = p;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        return CF_AGENT_EXIT_FAIL;
    zsys_handler_set(NULL); /* the fleet (CZMQ) must not take SIGTERM and SIGINT */
    cf_sim_t *sim = NULL;
    cf_why_t why = {""};
    cf_err_t rc = cf_sim_new(&o, &sim, &why);
    if (rc == CF_OK) {
        cf_log(CF_LOG_INFO, "sim=started proc=%u first=%zu agents=%zu", p, o.first, o.count);
        rc = cf_sim_run(sim, &s_stop, stdout, &why);
    }
    if (rc != CF_OK)
        fprintf(stderr, "cf-agent --simulate (process %u, agents %zu..%zu): %s\n", p, o.first,
                o.first + o.count - 1, cf_why_text(&why, rc));
    cf_sim_destroy(&sim);
    curl_global_cleanup();
    return rc == CF_OK ? CF_AGENT_EXIT_OK : CF_AGENT_EXIT_FAIL;
}

/* Fork the K children and wait for them all; SIGTERM/SIGINT are passed on. */
static int s_parent(const s_cmd_t *c)
{
    pid_t *pids = s_pids;
    int code = CF_AGENT_EXIT_OK, alive = 0;
    fflush(NULL);
    for (long p = 0; p < c->procs; p++) {
        pid_t pid = fork();
        if (pid == 0) {
            memset(s_pids, 0, sizeof(s_pids)); /* a child has no children to tell */
            prctl(PR_SET_PDEATHSIG, SIGTERM);  /* a parent killed -9 leaves no orphans */
            _exit(s_child(c, (unsigned) p));
        }
        if (pid < 0) {
            fprintf(stderr, "cf-agent --simulate: fork: %s\n", strerror(errno));
            code = CF_AGENT_EXIT_FAIL;
            s_on_signal(SIGTERM); /* stop those already running */
            break;
        }
        pids[p] = pid;
        alive++;
        if (s_stop) /* a signal came while forking: this one has not been told */
            kill(pid, SIGTERM);
    }
    while (alive > 0) {
        int st = 0;
        pid_t pid = waitpid(-1, &st, 0);
        if (pid < 0 && errno == EINTR)
            continue;
        if (pid < 0)
            break;
        for (long p = 0; p < c->procs; p++)
            if (pids[p] == pid)
                pids[p] = 0;
        alive--;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            code = CF_AGENT_EXIT_FAIL;
    }
    return code;
}

int cf_sim_cmd(int argc, char **argv)
{
    s_cmd_t c;
    int r = s_parse(argc, argv, &c);
    if (r != 0) {
        if (r < 0)
            s_usage(stderr);
        return r < 0 ? CF_AGENT_EXIT_USAGE : CF_AGENT_EXIT_OK;
    }
    cf_log_set_component("cf-agent-sim");
    cf_log_set_level(c.level);
    json_set_alloc_funcs(cf_mem_malloc, cf_mem_free);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = s_on_signal; /* no SA_RESTART: waitpid returns to pass the signal on */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (c.procs == 1)
        return s_child(&c, 0);
    return s_parent(&c);
}
