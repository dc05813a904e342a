/*  cf_sim - cf-agent --simulate: N full simulated agents in one process, each taking
    everything from an install package: enrollment over HTTPS with the package's token,
    HTTPS check-ins from its own source address, a broker link (cf_fleet), jobs carried
    out in memory, renewal by CSR (docs/agent.md "Simulator")  */
#ifndef CF_SIM_H_INCLUDED
#define CF_SIM_H_INCLUDED

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cf_err.h"
#include "cf_fleet.h"
#include "cf_sim_plan.h"

#define CF_SIM_INFLIGHT     64    /* default: HTTPS calls at once */
#define CF_SIM_INFLIGHT_MAX 1024  /* --max-inflight at most */
#define CF_SIM_ENROLL_RATE  200   /* default: enrollments started per second */
#define CF_SIM_TIMEOUT_MS   15000 /* default: one HTTPS call */
#define CF_SIM_RETRY_MIN    1000  /* first retry of a failed call, ms (then doubling) */
#define CF_SIM_RETRY_MAX    60000 /* cap of that back-off, ms */
#define CF_SIM_CHECK_TRIES                                       \
    6 /* install check-ins that found no working server (about a \
         minute with that back-off) before the new pair fails */

/* What one simulator process runs. Strings are borrowed for cf_sim_new only. */
typedef struct {
    size_t count;          /* agents in this process, 1..CF_FLEET_MAX_AGENTS */
    size_t first;          /* number of the first agent: ids <prefix><first>... */
    const char *id_prefix; /* NULL = "sim-" */
    const char *bundle;    /* the install package (cf-console package create --token-uses) */
    const char *state_dir; /* NULL: certificates in memory only; else also written to
                              <state_dir>/<id>/cert.pem and key.pem (0600) */
    cf_sim_net_t net;      /* source addresses: agent k takes cf_sim_net_addr(net, k) */
    unsigned interval;     /* seconds between check-ins; 0 = the server's answer */
    int push;              /* 1: enroll without a CSR (the certificate comes by a job) */
    unsigned max_inflight; /* HTTPS calls at once; 0 = CF_SIM_INFLIGHT */
    unsigned enroll_rate;  /* enrollments started per second; 0 = CF_SIM_ENROLL_RATE */
    long timeout_ms;       /* one HTTPS call; 0 = CF_SIM_TIMEOUT_MS */
    unsigned proc;         /* process number, shown in the stats line */
} cf_sim_opts_t;

/* Counters of one simulator process. */
typedef struct {
    int64_t t_ms;            /* CLOCK_MONOTONIC ms when taken */
    unsigned long rss_kib;   /* the process's VmRSS, KiB */
    size_t agents;           /* agents in the process */
    size_t enrolled;         /* enrolled (CSR mode: with their own certificate) */
    size_t refused;          /* enrollment refused for good (token used up, id taken...) */
    size_t secure, insecure; /* lock of each agent's last check-in */
    size_t attention;        /* lock attention */
    size_t expired;          /* lock expired */
    size_t with_cert;        /* agents holding a certificate */
    size_t inflight;         /* HTTPS calls running */
    uint64_t enroll_fails;   /* enrollment attempts that failed (retried or refused) */
    uint64_t checkins;       /* check-ins answered 200 */
    uint64_t checkin_fails;  /* check-ins that failed (retried after back-off) */
    uint64_t renewals;       /* renewals by CSR that succeeded */
    uint64_t renew_fails;    /* renewals that failed */
    uint64_t polled;         /* jobs seen in check-in answers (the broker carries them) */
    uint64_t rehellos;       /* links reopened: an answer held a job never received */
    uint64_t replays;        /* jobs applied before and sent again: reported installed again */
    cf_fleet_stats_t fleet;  /* the broker side (jobs, installed, failed, connects...) */
} cf_sim_stats_t;

typedef struct cf_sim cf_sim_t;

/* Read the package (servers, brokers, CA, token: a package without a token or without a
   broker is refused), make the agents and their keypairs, start the broker fleet with every
   agent off line (each comes on line once enrolled) and the HTTPS client. *out is the
   caller's (cf_sim_destroy). Needs curl_global_init done. Errors: CF_ERR_INVALID (options,
   the package: why says which), CF_ERR_TOOBIG (count), the bundle's and cf_fleet_new's
   errors, CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_sim_new(const cf_sim_opts_t *opts, cf_sim_t **out, cf_why_t *why);
/* Stop the fleet, abort calls in flight, wipe keys; NULLs *self_p; safe to repeat. */
void cf_sim_destroy(cf_sim_t **self_p);

/* Run the agents until *stop is set: enrollments (spread: enroll_rate per second, at most
   max_inflight calls at once), check-ins at the interval with +-10 % jitter and at once
   after a job, a broker (re)connect or a CHECKIN message. Every second when a counter
   changed (and at the end) a line "sim stats ..." goes to stats_to (NULL: none).
   Returns CF_OK when stopped, CF_ERR_POLICY when every agent's enrollment was refused
   (why has the last reason). */
CF_MUST_USE cf_err_t cf_sim_run(cf_sim_t *self, volatile sig_atomic_t *stop, FILE *stats_to,
                                cf_why_t *why);

/* The counters now (the fleet's through a request to its thread). Call from the thread
   that runs cf_sim_run (or after it returned). Errors: CF_ERR_INVALID, CF_ERR_IO. */
CF_MUST_USE cf_err_t cf_sim_stats(cf_sim_t *self, cf_sim_stats_t *out);
/* Format the stats line (no newline) into buf: "sim stats t_ms=… proc=… agents=… enrolled=…
   secure=… insecure=… jobs=… installed=… failed=… …  rss_kib=…". */
void cf_sim_stats_line(const cf_sim_stats_t *s, unsigned proc, char *buf, size_t len);
/* The same without t_ms, rss_kib and inflight: what "changed" compares. */
void cf_sim_stats_key(const cf_sim_stats_t *s, char *buf, size_t len);

/* `cf-agent --simulate N --bundle FILE [options]` (argv[0] is the program): parse the
   options, fork --processes K children splitting N (each its own id range), run, and stop
   them all on SIGTERM/SIGINT. Returns the exit code: 0 stopped, 1 failed (enrollment
   refused for all, could not start), 2 usage. */
int cf_sim_cmd(int argc, char **argv);

#endif
