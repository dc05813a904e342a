/*  cf_itest_fleet - fleet API tests' fixture: two cf-server processes on one redis-server
    (--init on the first, the second joins), client certificates from the deployment's CA,
    an admin session, and curl calls with JSON answers  */
#ifndef CF_ITEST_FLEET_H_INCLUDED
#define CF_ITEST_FLEET_H_INCLUDED

#include <stdio.h>
#include <time.h>

#include <jansson.h>

#include "cf_ca.h"
#include "cf_itest.h"
#include "cf_itest_https.h"
#include "cf_itest_server.h"
#include "cf_seal.h"
#include "cf_store.h"

#define CF_ITEST_FLEET_BODY       16384 /* answer bytes kept */
#define CF_ITEST_FLEET_ADMIN_PASS "fleet-admin-pass-1"

typedef struct {
    char dir[512];              /* certificates, curl files, logs */
    char bin[600];              /* cf-server */
    cf_itest_redis_t redis;     /* the shared Redis */
    cf_itest_server_t a, b;     /* two servers */
    cf_store_t *store;          /* the test's own connection */
    cf_seal_t *seal;            /* the deployment secret */
    cf_ca_t *ca;                /* the CA from Redis, to issue client certificates */
    cf_itest_cert_t console;    /* a console certificate */
    cf_itest_cert_t agent1;     /* agent-1 */
    cf_itest_cert_t old2, new2; /* agent-2: a replaced (archived) and a current one */
    cf_itest_cert_t agent5;     /* agent-5, revoked later */
    cf_itest_cert_t expired;    /* agent-old, expired */
    char token[512];            /* admin session */
} cf_itest_fleet_t;

/* What srv-a's --agent-broker says (a well-formed endpoint; nothing listens there). */
#define CF_ITEST_FLEET_AGENT_BROKER "tcp://127.0.0.1:7443#rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"

extern cf_itest_fleet_t cf_itest_fleet; /* the fixture; filled by cf_itest_fleet_setup */

/* cmocka group set-up: a test directory named after name, redis-server, srv-a (priority 10,
   127.0.0.0/25, --init with the admin's password) and srv-b (20, 127.0.0.128/25) on it, the
   CA --init made (opened with the deployment's secret) and from it ca.pem, the console's
   certificate and the agents' (agent-1, agent-2 old and new, agent-5, agent-old expired),
   and an admin session. Fails the test on any error. */
int cf_itest_fleet_setup(const char *name);
/* cmocka group teardown: free the certificates, SIGTERM both servers, close all, stop
   redis-server. */
int cf_itest_fleet_teardown(void **state);

/* Issue a certificate for agent id (NULL: the console's) at now (0: the current time) for
   days into dir/file.* of the fixture. */
void cf_itest_fleet_issue(const char *id, time_t now, unsigned days, const char *file,
                          cf_itest_cert_t *out);
/* curl to srv (TLS, or the plain port when plain) as the client cert (NULL: none), with the
   admin token when auth, method, path and JSON body (NULL: none); extra curl arguments
   (NULL: none). The answer into out (CF_ITEST_FLEET_BODY bytes); returns the HTTP status,
   0 when there was none. */
int cf_itest_fleet_call(const cf_itest_server_t *srv, int plain, const cf_itest_cert_t *cert,
                        int auth, const char *method, const char *path, const char *body,
                        const char *extra, char *out);
/* GET path as the console with the admin token. */
int cf_itest_fleet_get(const cf_itest_server_t *srv, const char *path, char *out);
/* method path with body (NULL: none) as the console with the admin token. */
int cf_itest_fleet_admin(const cf_itest_server_t *srv, const char *method, const char *path,
                         const char *body, char *out);
/* A check-in over TLS with cert (NULL: none) from source address from (NULL: any). */
int cf_itest_fleet_checkin(const cf_itest_server_t *srv, const cf_itest_cert_t *cert,
                           const char *body, const char *from, char *out);

/* The JSON of text (fails the test when it does not parse); json_decref it. */
json_t *cf_itest_fleet_json(const char *text);
/* Paths below: '/'-separated steps, each a key, an array index, or "@alias" for the element
   of an array whose "alias" or "id" it is: "servers/@srv-b/priority", "agents/0/id". */
/* The integer at path of the JSON text (fails when there is none). */
json_int_t cf_itest_fleet_ji(const char *text, const char *path);
/* The JSON text has want at path: a string, or "null", "true", "false" for those (fails
   the test otherwise). */
void cf_itest_fleet_is(const char *text, const char *path, const char *want);
/* 1 when the JSON text has something at path, else 0. */
int cf_itest_fleet_has(const char *text, const char *path);

/* A cf_test_wait_until condition: 1 when nothing accepts a TCP connection on 127.0.0.1 at
   the port *(int *) arg. */
int cf_itest_fleet_port_closed(void *arg);
/* Start srv with priority prio and IP range; --init (with the admin's password) when init;
   then more (NULL-terminated; may be NULL). Fails the test when it does not start. */
void cf_itest_fleet_start(cf_itest_server_t *srv, const char *alias, const char *prio,
                          const char *range, int init, const char *const *more);

/* Write one transfer of a curl config: a check-in of id from 127.0.0.<host> to srv, over
   TLS with cert (NULL: none) or, when plain, over the plain listener; the answer goes to
   file "<id>.out" and its status (and Retry-After) to curl's output. */
void cf_itest_fleet_bulk_line(FILE *f, const cf_itest_server_t *srv, int plain,
                              const cf_itest_cert_t *cert, const char *id, int host);
/* A new curl config file <dir>/<name>.cfg for cf_itest_fleet_bulk_line (fclose it). */
FILE *cf_itest_fleet_cfg(const char *name);
/* Run the expect transfers of <name>.cfg, parallel at a time: *ok counts the answers 200,
 *busy those 503, and *after is the smallest Retry-After among the latter. */
void cf_itest_fleet_bulk_run(const char *name, int expect, int parallel, int *ok, int *busy,
                             int *after);

/* A condition: a check-in through srv as cert (NULL: agent-3 without one) gets the status
   want (0: refused at the handshake). */
typedef struct {
    const cf_itest_server_t *srv; /* where */
    const cf_itest_cert_t *cert;  /* as whom (NULL: no certificate) */
    int want;                     /* the status waited for */
} cf_itest_fleet_try_t;

/* A cf_test_wait_until condition on a cf_itest_fleet_try_t: 1 when the check-in got want. */
int cf_itest_fleet_try(void *arg);

#endif
