/*  cf_cli - what every cf-console command shares: exit codes, errors, options, secrets  */
#ifndef CF_CLI_H_INCLUDED
#define CF_CLI_H_INCLUDED

#include <stddef.h>
#include <stdio.h>

#include "cf_cfg.h"
#include "cf_err.h"

/* Exit codes (documented in --help and docs/console.md). */
#define CF_EXIT_OK    0 /* done */
#define CF_EXIT_FAIL  1 /* the operation failed or was refused: the message says why */
#define CF_EXIT_USAGE 2 /* bad command line */
#define CF_EXIT_AUTH  3 /* not logged in, session expired, wrong user or password */
#define CF_EXIT_NET   4 /* server unreachable, or TLS failed (either certificate) */
/* The list for --help texts. */
#define CF_EXIT_HELP                                                                        \
    "Exit codes: 0 done, 1 the operation failed or was refused, 2 bad command line,\n"      \
    "3 not logged in / session expired / wrong user or password, 4 server unreachable or\n" \
    "TLS failed."

#define CF_CLI_MAX_PASSWORD 1024 /* longest password read from a file, bytes */

/* One command: name, one-line summary, handler taking the arguments after the name
   (argv[0] is the command's own name). */
typedef struct {
    const char *name;                  /* "pki", "create-ca", ... */
    const char *summary;               /* one line for the command list */
    int (*run)(int argc, char **argv); /* returns a CF_EXIT_* code */
} cf_cli_cmd_t;

/* Find argv[1] in cmds and run it with argv+1; print the command list for --help or no
   command (prog names the caller in messages, e.g. "cf-console pki"). */
int cf_cli_dispatch(const char *prog, const char *about, const cf_cli_cmd_t *cmds, size_t n,
                    int argc, char **argv);

/* Parse a command's options with its table; on --help print the usage (synopsis after
   the command name) and return CF_EXIT_OK through *exit_out; on error print it and set
   CF_EXIT_USAGE. Returns the cfg to use (caller destroys) or NULL when the command must
   stop with *exit_out. Options and positional arguments may be mixed. */
cf_cfg_t *cf_cli_options(const char *prog, const char *synopsis, const char *about,
                         const cf_cfg_opt_t *opts, size_t n, int argc, char **argv, int *exit_out);

/* Where a command's options come from besides its flags (cf_cli_options_src). */
typedef struct {
    const char *env_prefix;   /* cf_cfg_set_env_prefix ("CF_CONSOLE_"), NULL for none */
    const char *default_file; /* read when no --config names one; may be missing; NULL none */
} cf_cli_sources_t;

/* As cf_cli_options, also reading the environment and the default file of src. */
cf_cfg_t *cf_cli_options_src(const cf_cli_sources_t *src, const char *prog, const char *synopsis,
                             const char *about, const cf_cfg_opt_t *opts, size_t n, int argc,
                             char **argv, int *exit_out);

/* Print "prog: what: reason" to stderr, reason being why's text or the error's;
   returns CF_EXIT_FAIL. */
int cf_cli_fail(const char *prog, cf_err_t rc, const cf_why_t *why, const char *fmt, ...)
    CF_PRINTF(4, 5);
/* Print "prog: message" and "Try 'prog --help'." to stderr; returns CF_EXIT_USAGE. */
int cf_cli_usage_error(const char *prog, const char *fmt, ...) CF_PRINTF(2, 3);

/* A password: from file (if non-NULL), else the environment variable env (if non-NULL and
   set), else a prompt on the terminal with echo off (asked twice when confirm). Never from
   the command line. *out is freed with cf_mem_free_secret_str. CF_ERR_NOTFOUND when there
   is no source (no file, no variable, no terminal). */
CF_MUST_USE cf_err_t cf_cli_password(const char *file, const char *env, const char *prompt,
                                     int confirm, char **out, cf_why_t *why);

/* Write a file crash-safely (cf_file_write_atomic) and print "wrote PATH" unless quiet. */
CF_MUST_USE cf_err_t cf_cli_write(const char *path, const void *data, size_t len, int mode,
                                  cf_why_t *why);

/* "2026-11-26 17:17:33 UTC" */
const char *cf_cli_time(long long t, char *buf, size_t len);

#endif
