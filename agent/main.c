/*  cf-agent - the certfleet endpoint agent: install, enroll, run (the daemon), status  */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <czmq.h>
#include <jansson.h>

#include "cf_agent_enroll.h"
#include "cf_agent_install.h"
#include "cf_agent_run.h"
#include "cf_log.h"
#include "cf_mem.h"

static volatile sig_atomic_t s_stop, s_reload;

static void s_on_signal(int sig)
{
    if (sig == SIGHUP)
        s_reload = 1;
    else
        s_stop = 1;
}

/* The daemon's memory (docs/BENCHMARKS.md): every thread shares glibc's main malloc arena
   (the agent has a handful of threads and little contention; each own arena costs resident
   pages), and CZMQ's shared context, which carries only the link actor's inproc pipe, runs
   no I/O thread (the broker link has its own context). */
static void s_lean(void)
{
#ifdef M_ARENA_MAX
    mallopt(M_ARENA_MAX, 1);
#endif
    zsys_set_io_threads(0);
}

static void s_usage(FILE *f)
{
    fprintf(f, "usage: cf-agent COMMAND [OPTIONS]\n"
               "commands:\n"
               "  install --bundle FILE [--state-dir D] [--password-file F] [--id ID]\n"
               "          install an agent package into the state directory (PKCS12_PASS,\n"
               "          --password-file or a prompt opens its PKCS#12)\n"
               "  enroll  [--state-dir D] [--push] [--timeout T]  enroll with a server\n"
               "  run     the agent daemon: choose a server, check in, carry out jobs, report,\n"
               "          renew its certificate\n"
               "  status  print the id, the server in use and why, the certificate, its expiry,\n"
               "          the lock and renewal states and the last job\n"
               "  --simulate N --bundle FILE [--processes K] [...]  N simulated agents from an\n"
               "          install package (runs cf-agent-sim beside this program; cf-agent\n"
               "          --simulate 1 --help lists the options)\n"
               "options:\n"
               "  --state-dir D     state directory (default " CF_AGENT_DEFAULT_DIR ")\n"
               "  --once            run: one round, exit 0 when a server took the check-in\n"
               "  --source ADDR     run: local address to connect from\n"
               "  --renew-days N    run: renew N days before expiry (default 30; or at 2/3 of\n"
               "                    the lifetime when that comes first)\n"
               "  --interval S      run: seconds between check-ins (default: the server's)\n"
               "  --retry-max-ms M  run: cap of the retry back-off (default 300000)\n"
               "  --metrics-file F  run: Prometheus metrics written to F after each round\n"
               "                    (atomically: node_exporter's textfile collector, *.prom)\n"
               "  --log-level L     debug, info, warn, error (default info)\n"
               "  -h, --help        this text\n"
               "signals (run): SIGTERM, SIGINT stop cleanly (exit 0); SIGHUP re-reads\n"
               "agent.json (servers, brokers, interval) and reconnects when they changed.\n"
               "exit codes: 0 done, 1 failed (no server answered), 2 usage, 3 state directory\n"
               "unusable. Environment: CF_FAULT=after-write|after-rename stops the process at\n"
               "that step of a certificate installation (tests).\n");
}

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

static int s_uint(const char *s, unsigned max, unsigned *out)
{
    char *end = NULL;
    unsigned long v = strtoul(s, &end, 10);
    if (!s[0] || *end || v > max || s[0] == '-')
        return -1;
    *out = (unsigned) v;
    return 0;
}

/* Parse the options after the command; -1 on a usage error. */
static int s_parse(int argc, char **argv, cf_agent_run_opts_t *o)
{
    static const struct option longs[] = {{"state-dir", required_argument, NULL, 'd'},
                                          {"once", no_argument, NULL, 'o'},
                                          {"source", required_argument, NULL, 's'},
                                          {"renew-days", required_argument, NULL, 'r'},
                                          {"interval", required_argument, NULL, 'i'},
                                          {"retry-max-ms", required_argument, NULL, 'm'},
                                          {"log-level", required_argument, NULL, 'l'},
                                          {"metrics-file", required_argument, NULL, 'M'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    int c;
    cf_log_level_t level = CF_LOG_INFO;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'd': o->dir = optarg; break;
        case 'o': o->once = 1; break;
        case 's': o->source_addr = optarg; break;
        case 'r': bad = s_uint(optarg, 3650, &o->renew_days) || !o->renew_days; break;
        case 'i': bad = s_uint(optarg, 86400, &o->interval) || o->interval < 1; break;
        case 'm': bad = s_uint(optarg, 86400000, &o->retry_max_ms) || !o->retry_max_ms; break;
        case 'l': bad = s_level(optarg, &level); break;
        case 'M': o->metrics_file = optarg; break;
        case 'h': s_usage(stdout); exit(0);
        default: return -1;
        }
        if (bad) {
            fprintf(stderr, "cf-agent: bad option value '%s'\n", optarg);
            return -1;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "cf-agent: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    cf_log_set_level(level);
    return 0;
}

/* `cf-agent --simulate ...` runs the fleet simulator, cf-agent-sim beside this program: the
   simulator's HTTPS stack (libcurl) stays out of the agent's memory (docs/BENCHMARKS.md). */
static int s_simulate(char **argv)
{
    char self[4096], sim[4096 + 16];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
        fprintf(stderr, "cf-agent --simulate: cannot find this program: %s\n", strerror(errno));
        return CF_AGENT_EXIT_FAIL;
    }
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    snprintf(sim, sizeof(sim), "%s/cf-agent-sim", slash ? self : ".");
    execv(sim, argv);
    fprintf(stderr, "cf-agent --simulate: cannot run %s: %s\n", sim, strerror(errno));
    return CF_AGENT_EXIT_FAIL;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strncmp(argv[1], "--simulate", strlen("--simulate")) == 0)
        return s_simulate(argv);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        s_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    signal(SIGPIPE, SIG_IGN); /* HTTPS and ZeroMQ: a peer that hangs up is an error */
    if (strcmp(cmd, "install") == 0 || strcmp(cmd, "enroll") == 0) {
        cf_log_set_component("cf-agent");
        json_set_alloc_funcs(cf_mem_malloc, cf_mem_free);
        return cmd[0] == 'i' ? cf_agent_install_cmd(argc - 1, argv + 1)
                             : cf_agent_enroll_cmd(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "run") != 0 && strcmp(cmd, "status") != 0) {
        fprintf(stderr, "cf-agent: unknown command '%s' (try --help)\n", cmd);
        return 2;
    }
    cf_log_set_component("cf-agent");
    cf_agent_run_opts_t o;
    memset(&o, 0, sizeof(o));
    if (s_parse(argc - 1, argv + 1, &o) != 0) {
        s_usage(stderr);
        return 2;
    }
    if (strcmp(cmd, "status") == 0)
        return cf_agent_status(o.dir, stdout);
    json_set_alloc_funcs(cf_mem_malloc, cf_mem_free);
    zsys_handler_set(NULL); /* the broker link (CZMQ) must not take SIGTERM and SIGINT */
    s_lean();
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = s_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    o.stop = &s_stop;
    o.reload = &s_reload;
    return cf_agent_run(&o);
}
