/*  cf_agent_enroll - cf-agent enroll: the agent registers its CURVE key and, in CSR mode,
    gets its own certificate for a key made here (docs/jobs.md section 2, docs/API.md
    "Enrollment"); and the small HTTPS client it uses  */
#ifndef CF_AGENT_ENROLL_H_INCLUDED
#define CF_AGENT_ENROLL_H_INCLUDED

#include <stddef.h>

#include <jansson.h>

#include "cf_agent_state.h"
#include "cf_db_key.h"
#include "cf_err.h"

#define CF_AGENT_VERSION    "0.1.0"       /* sent as "version" */
#define CF_AGENT_PROTOCOL   1             /* sent as "protocol" */
#define CF_AGENT_ANSWER_MAX (1024 * 1024) /* largest HTTPS answer body read, bytes */
#define CF_AGENT_TIMEOUT_S  30            /* default time for one request, seconds */
#define CF_AGENT_CONNECT_S  5             /* time to connect to one server, seconds */

/* ---- the HTTPS client ------------------------------------------------------------------ */

/* One HTTPS request to one server of agent.json. */
typedef struct {
    const cf_agent_server_t *server; /* where: https://<alias>:<port>, connected to <host> */
    const char *ca_file;             /* the server's certificate must chain to this (PEM) */
    const char *cert_file;           /* our certificate chain (PEM); NULL: none */
    const char *key_file;            /* its key (PEM); NULL: none */
    long timeout_s;                  /* whole request; 0 = CF_AGENT_TIMEOUT_S */
} cf_agent_https_t;

/* The answer to one request. Free with cf_agent_reply_clear. */
typedef struct {
    long status;       /* HTTP status */
    json_t *json;      /* the JSON body (owned), NULL when empty or not JSON */
    char code[48];     /* error.code of an error answer, or "" */
    char message[300]; /* error.message of an error answer, or "" */
} cf_agent_reply_t;

/* POST body (JSON text, len bytes, borrowed) to path ("/api/v1/agent/enroll") on
   how->server with libcurl: TLS 1.2 or later, the server certificate verified against
   ca_file for the name <alias> (the connection goes to <host>:<port>), our certificate
   when cert_file is given; the answer body capped at CF_AGENT_ANSWER_MAX. reply is filled
   (clear it after). Errors: CF_ERR_IO when no HTTP answer came (why: unreachable, TLS
   failure, timeout: try another server), CF_ERR_TOOBIG (answer over the cap),
   CF_ERR_INVALID (arguments, a path over 4 KiB), CF_ERR_NOMEM. Any HTTP status is CF_OK. */
CF_MUST_USE cf_err_t cf_agent_https_post(const cf_agent_https_t *how, const char *path,
                                         const char *body, size_t len, cf_agent_reply_t *reply,
                                         cf_why_t *why);
/* Free the JSON and zero reply; safe to repeat. */
void cf_agent_reply_clear(cf_agent_reply_t *reply);

/* ---- enrollment ---------------------------------------------------------------------- */

/* What one enrollment did. */
typedef struct {
    char server[CF_DB_ALIAS_MAX + 1]; /* alias of the server that answered */
    int got_cert;                     /* CSR mode: a certificate was stored */
    char fingerprint[65];             /* its SHA-256 (hex), "" in push mode */
    char serial[80];                  /* its serial (hex), "" in push mode */
    int used_token;                   /* the token file was sent (and is now deleted) */
} cf_agent_enroll_result_t;

/* Enroll the agent installed in state_dir (cf-agent install made it): read agent.json,
   curve.key, ca.pem and the credential — cert.pem/key.pem (the bundle's shared
   certificate, or the agent's own for a renewal) and/or the token file; in CSR mode (push
   0) make a P-256 key and a CSR for the agent id here (the key never leaves the
   directory); POST /api/v1/agent/enroll to the first server of agent.json that answers
   over HTTPS (a server that cannot be reached is skipped); check the answer (the id, the
   certificate: our key, chains to ca.pem, CN = id) and store it crash-safely: key.pem and
   cert.pem written as new files (0600, fsync) then renamed into place (key first); then
   agent.json's servers and brokers from the answer, then the token file is removed. In
   push mode the certificate comes later by an install job: cert.pem/key.pem stay.
   timeout_s per request (0: CF_AGENT_TIMEOUT_S). *res (may be NULL) says what happened.
   Errors (why says which, naming the server and its message): CF_ERR_NOTFOUND (not
   installed, no credential), CF_ERR_IO (no server reachable, files), CF_ERR_POLICY (401 or
   403: token unknown, expired or used up, certificate refused; 422: CSR refused),
   CF_ERR_EXISTS (409: id taken or holding a valid certificate), CF_ERR_CORRUPT (an answer
   we cannot use), CF_ERR_UNTRUSTED / CF_ERR_KEYMISMATCH (the certificate answered),
   CF_ERR_NOMEM. Nothing in the directory changes on failure. */
CF_MUST_USE cf_err_t cf_agent_enroll(const char *state_dir, int push, long timeout_s,
                                     cf_agent_enroll_result_t *res, cf_why_t *why);

/* `cf-agent enroll [--state-dir D] [--push] [--timeout T]` (argv[0] is "enroll"): runs
   cf_agent_enroll and prints what happened. Returns CF_AGENT_EXIT_*. */
int cf_agent_enroll_cmd(int argc, char **argv);

#endif
