/*  cf_agent_run - the cf-agent daemon: state directory, server choice with failover,
    check-in, jobs, reports, renewal, status  */
#ifndef CF_AGENT_RUN_H_INCLUDED
#define CF_AGENT_RUN_H_INCLUDED

#include <signal.h>
#include <stdio.h>

#define CF_AGENT_DEFAULT_DIR "/var/lib/certfleet-agent"
#define CF_AGENT_CONF_FILE   "agent.json"  /* written by install/enroll (docs/agent.md) */
#define CF_AGENT_STATUS_FILE "status.json" /* written after each check-in */

/* Exit codes of cf-agent. */
#define CF_AGENT_EXIT_OK    0 /* done (--once: a check-in succeeded) */
#define CF_AGENT_EXIT_FAIL  1 /* --once: no server answered; a failure at run time */
#define CF_AGENT_EXIT_USAGE 2 /* bad command line */
#define CF_AGENT_EXIT_STATE 3 /* the state directory is missing or unusable */

typedef struct {
    const char *dir;               /* state directory (NULL = CF_AGENT_DEFAULT_DIR) */
    int once;                      /* one round (choose, check in, jobs, reports, renew) */
    const char *source_addr;       /* local address to bind (tests play subnets); NULL any */
    unsigned renew_days;           /* renew N days before expiry; 0 = CF_AGENT_RENEW_DAYS */
    unsigned interval;             /* seconds between check-ins; 0 = the server's */
    unsigned retry_min_ms;         /* first retry after a failed round; 0 = 1000 */
    unsigned retry_max_ms;         /* cap of the retry back-off; 0 = 300000 */
    const char *metrics_file;      /* Prometheus text file written each round; NULL none */
    volatile sig_atomic_t *stop;   /* set by a signal handler: stop cleanly (may be NULL) */
    volatile sig_atomic_t *reload; /* set by SIGHUP: re-read the state files (may be NULL;
                                      cleared by the agent) */
} cf_agent_run_opts_t;

/* Run the agent until *stop is set (or one round with once). Recovers an interrupted
   certificate installation first. Returns a CF_AGENT_EXIT_* code; problems are logged. */
int cf_agent_run(const cf_agent_run_opts_t *opts);

/* Print the agent's id, the server in use and why, its certificate (fingerprint, expiry),
   lock state, renewal state and last job to out, from the state directory. Returns
   CF_AGENT_EXIT_OK or CF_AGENT_EXIT_STATE. */
int cf_agent_status(const char *dir, FILE *out);

#endif
