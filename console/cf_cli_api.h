/*  cf_cli_api - the API command groups of cf-console and what they share: one run of a
    command, its client, calls, answers printed as tables or JSON, file passwords  */
#ifndef CF_CLI_API_H_INCLUDED
#define CF_CLI_API_H_INCLUDED

#include <stddef.h>

#include <jansson.h>

#include "cf_cfg.h"
#include "cf_client.h"
#include "cf_err.h"
#include "cf_table.h"

/* The fleet command groups (cf_cli_ssl.c, cf_cli_cert.c, cf_cli_server.c, cf_cli_agent.c,
   cf_cli_user.c): argv[0] is the group's name; each returns a CF_EXIT_* code. */
int cf_cli_ssl(int argc, char **argv);
int cf_cli_cert(int argc, char **argv);
int cf_cli_server(int argc, char **argv);
int cf_cli_agent(int argc, char **argv);
int cf_cli_user(int argc, char **argv);
int cf_cli_audit(int argc, char **argv); /* also `user audit` */
/* cf_cli_enroll.c: `token ...`, and `agent revoke|decommission` (run by cf_cli_agent). */
int cf_cli_token(int argc, char **argv);
int cf_cli_agent_revoke(int argc, char **argv);
int cf_cli_agent_decommission(int argc, char **argv);
int cf_cli_job(int argc, char **argv);     /* cf_cli_job.c: certificate jobs */
int cf_cli_package(int argc, char **argv); /* cf_cli_package.c: agent install packages */

#define CF_CLI_PKCS12_ENV "PKCS12_PASS" /* the seed's variable for certificate passwords */

/* The option every fleet command has besides CF_CLIENT_OPTIONS. */
#define CF_CLI_JSON_OPTION                                                                      \
    {                                                                                           \
        "json", 0, CF_CFG_BOOL, NULL, "print the server's JSON for scripts instead of a table", \
            "false", 0, 0, NULL                                                                 \
    }

/* One fleet command being run. */
typedef struct {
    const char *prog;    /* "cf-console ssl show", for messages */
    cf_cfg_t *cfg;       /* its options (owned) */
    cf_client_t *client; /* NULL until cf_cli_open_run (owned) */
    char *const *args;   /* positional arguments (borrowed from cfg) */
    int n_args;          /* entries in args */
    int json;            /* --json */
    int exit_code;       /* CF_EXIT_* so far */
} cf_cli_run_t;

/* Parse a command's options (opts holds CF_CLIENT_OPTIONS and CF_CLI_JSON_OPTION) with the
   console's sources and check it has min_args..max_args positional arguments. Returns 1 to
   go on; 0 to stop with run->exit_code (--help printed, or a usage error). Finish with
   cf_cli_end in every case. */
int cf_cli_begin(cf_cli_run_t *run, const char *prog, const char *synopsis, const char *about,
                 const cf_cfg_opt_t *opts, size_t n, int min_args, int max_args, int argc,
                 char **argv);
/* Open run->client (cf_cli_open). Returns 1 to go on, 0 to stop with run->exit_code. */
int cf_cli_open_run(cf_cli_run_t *run);
/* Print t (and destroy it); returns run->exit_code, 1 when printing failed. */
int cf_cli_print_table(cf_cli_run_t *run, cf_table_t **t);
/* Free what run holds; returns run->exit_code. */
int cf_cli_end(cf_cli_run_t *run);

/* A client for cfg's connection options holding the stored session for the server. On
   failure prints why to stderr, sets *exit_code (2 bad --server, 3 not logged in, 1
   otherwise) and returns NULL. The caller destroys the client (cf_client_destroy). */
cf_client_t *cf_cli_open(const char *prog, const cf_cfg_t *cfg, int *exit_code);
/* One API call (cf_client_call; body may be NULL). On a 2xx answer returns CF_EXIT_OK and
   *answer is the answer's JSON (the caller's, json_decref; NULL for an empty body); else
   prints "prog: what: reason" to stderr and returns its exit code (cf_client_complain). */
int cf_cli_fetch(const char *prog, const char *what, cf_client_t *c, const char *method,
                 const char *path, const json_t *body, json_t **answer);
/* As cf_cli_fetch for a body holding a password or a key: it is encoded into a buffer that
   is wiped after the call (jansson's own copies are wiped as they are freed, once main has
   called cf_cli_api_wipe_json). A body over CF_CLIENT_MAX_BODY is refused here (exit 1). */
int cf_cli_fetch_secret(const char *prog, const char *what, cf_client_t *c, const char *method,
                        const char *path, const json_t *body, json_t **answer);
/* The password of a certificate file (import) or for one (export, confirm = ask twice):
   from --password-file given on the command line (a password-file in console.conf is the
   login's), else $PKCS12_PASS (the seed's variable), else a prompt. Returns 1 with *out
   (cf_mem_free_secret_str); 0 with the error printed and run->exit_code set (2 when there
   is no source and no terminal). */
int cf_cli_file_password(cf_cli_run_t *run, const char *prompt, int confirm, char **out);
/* Percent-encode value (RFC 3986: all but unreserved characters) for a path segment or a
   query value, into buf. CF_ERR_TOOBIG when it does not fit. */
CF_MUST_USE cf_err_t cf_cli_escape(const char *value, char *buf, size_t len);
/* Print an answer as it came, indented, for scripts ("null" for none). */
void cf_cli_print_json(const json_t *answer);
/* The value of a command's own option when it was given on the command line, else NULL
   (a value from console.conf or CF_CONSOLE_* may mean something else there). */
const char *cf_cli_flag(const cf_cfg_t *cfg, const char *name);
/* 1 when the option was given on the command line. */
int cf_cli_flag_given(const cf_cfg_t *cfg, const char *name);

/* Make jansson allocate through cf_mem and wipe every block it frees: answers and request
   bodies can hold passwords and keys. Call once, in main, before any JSON exists. Blocks
   stay plain heap blocks, so free() on a json_dumps result remains right. */
void cf_cli_api_wipe_json(void);

#endif
