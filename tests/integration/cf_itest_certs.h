/*  cf_itest_certs - for the certificate API tests: a cf-server started with --init on its own
    redis-server, driven by curl with the console certificate and an admin session  */
#ifndef CF_ITEST_CERTS_H_INCLUDED
#define CF_ITEST_CERTS_H_INCLUDED

#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "cf_err.h"
#include "cf_itest.h"

#define CF_ITEST_CERTS_P12PASS "console-p12-pass" /* --p12-password-file: opens console.p12 */
#define CF_ITEST_CERTS_ADMIN   "admin-password-1" /* --admin-password-file */

/* One server under test. The calls below talk to the one started last. */
typedef struct {
    char dir[512];          /* test directory: ca.pem, console.p12, curl files, server.log */
    cf_itest_redis_t redis; /* the server's Redis */
    pid_t server;           /* cf-server */
    int port;               /* its HTTPS port on 127.0.0.1 */
    char token[128];        /* the admin session */
} cf_itest_certs_t;

/* A test directory named after name, a redis-server, then `cf-server --init` (alias
   localhost, host 127.0.0.1, --san cf.example.test) with its output in dir, and a login as
   admin (see cf_itest_certs_ready). Fails the test on any error. */
void cf_itest_certs_start(cf_itest_certs_t *t, const char *name);
/* 1 when the admin session is there; 0 when the server has no session API yet. */
int cf_itest_certs_ready(void);
/* First line of each test: skip (cmocka) without a session API. */
#define CF_ITEST_CERTS_NEED()        \
    do {                             \
        if (!cf_itest_certs_ready()) \
            skip();                  \
    } while (0)
/* Stop the server (SIGTERM, so sanitizers report) and Redis. */
void cf_itest_certs_stop(cf_itest_certs_t *t);

/* curl method path with extra options (client certificate, headers) and a JSON body (NULL:
   none, else sent from req.json). Returns the HTTP status, 0 when there was no answer (a
   refused handshake); *text (may be NULL) gets the body (free it). */
int cf_itest_certs_curl(const char *method, const char *path, const char *json, const char *extra,
                        char **text);
/* An admin call with a body from fmt (NULL: none): asserts the status, the code "refused"
   with a 422, and that the error message holds want (NULL: any). Returns the answer
   (json_decref it; NULL when not JSON). */
json_t *cf_itest_certs_call(int status, const char *want, const char *method, const char *path,
                            const char *fmt, ...) CF_PRINTF(5, 6);
/* POST /certs/<target>/import, target "component/name", as cf_itest_certs_call. */
json_t *cf_itest_certs_import(int status, const char *want, const char *target, const char *fmt,
                              ...) CF_PRINTF(4, 5);

/* The string field key of o; fails the test when absent. */
const char *cf_itest_certs_str(const json_t *o, const char *key);
/* The error message of an answer, "" when none. */
const char *cf_itest_certs_msg(const json_t *o);
/* A file of the test directory as a JSON string literal, or as one line of base64 (free). */
char *cf_itest_certs_file_json(const char *name);
char *cf_itest_certs_file_b64(const char *name);
/* The test directory of the server started last. */
const char *cf_itest_certs_dir(void);

#endif
