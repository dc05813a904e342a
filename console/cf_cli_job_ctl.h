/*  cf_cli_job_ctl - rollout controls of `cf-console job`: the create flags --batch, --rate,
    --max-failures, the rollout line of `job show`, `job pause ID`, `job resume ID`
    (docs/jobs.md section 6)  */
#ifndef CF_CLI_JOB_CTL_H_INCLUDED
#define CF_CLI_JOB_CTL_H_INCLUDED

#include <jansson.h>

#include "cf_cli_api.h"
#include "cf_table.h"

#define CF_CLI_JOB_WAVE_MAX 100000 /* --batch and --rate at most (the server's limit) */

/* The rollout options of every command that creates a job (job create, and the verbs
   install-cert, renew, set-favorite): put in its cf_cfg_opt_t table. */
#define CF_CLI_JOB_WAVE_OPTIONS                                                                    \
    {"batch", 0, CF_CFG_INT,          "N", "roll out in waves: at most N agents at a time",        \
     NULL,    1, CF_CLI_JOB_WAVE_MAX, NULL},                                                       \
        {"rate", 0, CF_CFG_INT,          "R", "roll out in waves: about R agents per second",      \
         NULL,   1, CF_CLI_JOB_WAVE_MAX, NULL},                                                    \
    {                                                                                              \
        "max-failures", 0, CF_CFG_INT, "PCT",                                                      \
            "abort the job when more than PCT % of the finished agents failed", NULL, 0, 100, NULL \
    }
/* The synopsis of those options. */
#define CF_CLI_JOB_WAVE_SYNOPSIS "[--batch N] [--rate R] [--max-failures PCT]"

/* Add batch, rate and max_failures to a POST /jobs body from the options given. 1 on
   success; 0 when out of memory (run->exit_code is set). */
int cf_cli_job_waves_body(cf_cli_run_t *run, json_t *body);
/* The "Rollout" line of `job show` ("at once" for a job without waves), and the abort
   reason when there is one. CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_cli_job_rollout_kv(cf_table_t *t, const json_t *job);

/* `cf-console job pause ID` and `job resume ID`. */
int cf_cli_job_pause(int argc, char **argv);
int cf_cli_job_resume(int argc, char **argv);

#endif
