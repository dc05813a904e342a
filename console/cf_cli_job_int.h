/*  cf_cli_job_int - what cf_cli_job.c (create, show, verbs) and cf_cli_job_watch.c share  */
#ifndef CF_CLI_JOB_INT_H_INCLUDED
#define CF_CLI_JOB_INT_H_INCLUDED

#include "cf_cli_api.h"

#define CF_CLI_JOB_ID_HEX      32 /* a job id: 32 lowercase hex */
#define CF_CLI_JOB_MAX_SERVERS 16 /* servers a watch may try */

/* The options of a watch, in `job watch` and in the verbs that take --watch. */
#define CF_CLI_JOB_WATCH_OPTIONS                                                             \
    {"no-bar", 0, CF_CFG_BOOL, NULL, "plain progress lines even on a terminal",              \
     "false",  0, 0,           NULL},                                                        \
        {"also",                                                                             \
         0,                                                                                  \
         CF_CFG_LIST,                                                                        \
         "URL,URL",                                                                          \
         "more servers to watch through when the connection drops (besides those GET "       \
         "/servers lists)",                                                                  \
         NULL,                                                                               \
         0,                                                                                  \
         CF_CLI_JOB_MAX_SERVERS,                                                             \
         NULL},                                                                              \
    {                                                                                        \
        "give-up", 0, CF_CFG_DURATION, "TIME", "stop when no server answered for this long", \
            "60s", 1, 86400, NULL                                                            \
    }

/* Watch job id (checked: 32 lowercase hex) through run->client (open) until it is done,
   with run's options (--json: the events as JSON lines; --no-bar, --also, --give-up):
   a progress bar on a terminal, plain lines otherwise, then a summary and the failed
   agents with their reasons. Reconnects with Last-Event-ID when the connection drops,
   going round the servers (--server, --also, then those GET /servers lists), backing off.
   Returns 0 when every entry installed, 1 when some did not (or a refusal), 3 / 4 as
   cf_client_exit_code for a session or network trouble. */
int cf_cli_job_watch_run(cf_cli_run_t *run, const char *id);

/* `cf-console job watch ID [--json] [--no-bar]` (argv[0] is "watch"). */
int cf_cli_job_watch(int argc, char **argv);

#endif
