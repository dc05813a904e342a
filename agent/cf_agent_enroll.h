/*  cf_agent_enroll - cf-agent enroll: the agent registers its CURVE key and, in CSR mode,
    gets its own certificate for a key made here (docs/jobs.md section 2, docs/API.md
    "Enrollment")  */
#ifndef CF_AGENT_ENROLL_H_INCLUDED
#define CF_AGENT_ENROLL_H_INCLUDED

#include <stddef.h>

#include "cf_agent_state.h"
#include "cf_db_key.h"
#include "cf_err.h"

#define CF_AGENT_TIMEOUT_S 30 /* default time for one request, seconds */

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
   certificate: our key, chains to ca.pem, CN = id) and install it crash-safely with
   cf_agent_certs_install (no handshake check: the enrollment itself just proved the
   server takes the request; cf-agent run's recovery applies); then
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
