/*  cf_itest_server - run real cf-server processes in integration tests  */
#ifndef CF_ITEST_SERVER_H_INCLUDED
#define CF_ITEST_SERVER_H_INCLUDED

#include <sys/types.h>

#include "cf_err.h"

#define CF_ITEST_SERVER_MAX_ARGS 48

typedef struct {
    pid_t pid;      /* the running cf-server, 0 when stopped */
    int port;       /* its HTTPS port on 127.0.0.1 */
    int plain_port; /* its plain port (0: none) */
    char alias[64]; /* its alias */
    char log[600];  /* its log file: <dir>/<alias>.log */
} cf_itest_server_t;

/* Start `cf-server --alias ALIAS --host 127.0.0.1 --bind 127.0.0.1 --port P --plain-port Q
   --redis 127.0.0.1:REDIS --secret-file DIR/secret --out DIR/out` plus extra (NULL-terminated;
   may be NULL) on free ports, and wait until it listens. CF_ERR_IO when it exited instead
   (the log says why) or did not listen within 20 s. */
CF_MUST_USE cf_err_t cf_itest_server_start(cf_itest_server_t *s, const char *dir, int redis_port,
                                           const char *alias, const char *const *extra);
/* Run the same command to its end (it is expected to refuse to start): its exit code, or
   -1 when it is still running after 20 s (it is then killed). */
int cf_itest_server_run(cf_itest_server_t *s, const char *dir, int redis_port, const char *alias,
                        const char *const *extra);
/* Stop with sig (SIGTERM for a clean stop, SIGKILL for a crash) and reap it. */
void cf_itest_server_stop(cf_itest_server_t *s, int sig);
/* 1 when the log contains text. */
int cf_itest_server_log_has(const cf_itest_server_t *s, const char *text);

/* Wait up to timeout_ms for the text to appear in the server's log: for lines a server writes
   after the effect a test waited for (a store write, a renewal). 1 if it did. */
int cf_itest_server_log_wait(const cf_itest_server_t *s, const char *text, int timeout_ms);

#endif
