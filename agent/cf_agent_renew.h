/*  cf_agent_renew - the agent renews its own certificate by CSR: when it is due, the call
    to the server, and the renewal state (attempts, failures, back-off) kept on disk  */
#ifndef CF_AGENT_RENEW_H_INCLUDED
#define CF_AGENT_RENEW_H_INCLUDED

#include <stdint.h>
#include <time.h>

#include "cf_agent_certs.h"
#include "cf_agent_checkin.h"
#include "cf_agent_choose.h"
#include "cf_curve.h"
#include "cf_err.h"

#define CF_AGENT_RENEW_FILE     "renew.json"      /* the renewal state in the state directory */
#define CF_AGENT_RENEW_DAYS     30                /* default N: renew N days before expiry */
#define CF_AGENT_RENEW_RETRY_MS 60000             /* first retry of a failed renewal */
#define CF_AGENT_RENEW_MAX_MS   (6 * 3600 * 1000) /* cap of the retry back-off */

/* The renewal state: shown by `cf-agent status`, never silent. */
typedef struct {
    char state[16];              /* "ok", "due", "failing" ("none": no certificate) */
    uint32_t failures;           /* failed attempts since the last success */
    uint64_t attempts;           /* attempts ever */
    uint64_t renewed;            /* successes ever */
    int64_t due_at;              /* when the certificate in use falls due (0 = unknown) */
    int64_t next_try;            /* after a failure: not before this (0 = no limit) */
    int64_t last_success;        /* time of the last renewal, 0 = none */
    char last_error[CF_WHY_MAX]; /* reason of the last failure, "" = none */
    uint32_t backoff_ms;         /* current retry bound */
} cf_agent_renew_state_t;

/* Read dir/renew.json; a missing file gives a fresh state ("none"). Errors: CF_ERR_CORRUPT,
   CF_ERR_TOOBIG, CF_ERR_IO, CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_agent_renew_load(const char *dir, cf_agent_renew_state_t *st,
                                         cf_why_t *why);
/* Write it atomically (0600). Errors: CF_ERR_IO, CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_agent_renew_save(const char *dir, const cf_agent_renew_state_t *st,
                                         cf_why_t *why);

/* Update st for the certificate in use (NULL: none) at now: due_at from cf_cert_renew_at
   (N days before expiry or 2/3 of the lifetime, jittered per certificate); state "due" once
   now >= due_at, "ok" before, "none" without a certificate; "failing" stays until a
   success. Returns 1 when a renewal should be attempted now (due, and past next_try). */
int cf_agent_renew_check(cf_agent_renew_state_t *st, const cf_cert_t *cert, unsigned days_before,
                         time_t now);

/* Record the outcome of an attempt at now: success resets failures and back-off; a failure
   counts, keeps its reason and sets next_try after a randomized exponential back-off
   (CF_AGENT_RENEW_RETRY_MS doubling up to CF_AGENT_RENEW_MAX_MS). */
void cf_agent_renew_record(cf_agent_renew_state_t *st, cf_err_t rc, const cf_why_t *why,
                           time_t now);

/* One renewal by CSR (docs/API.md Enrollment, own-certificate path). */
typedef struct {
    const char *dir;                /* state directory: the new pair is installed here */
    const char *id;                 /* agent id (the CSR's CN) */
    const unsigned char *curve_pub; /* the agent's CURVE public key (CF_CURVE_KEY_LEN) */
    const cf_agent_http_t *http;    /* the server, with the agent's current certificate */
    cf_agent_certs_check_fn check;  /* the handshake check of the new pair (may be NULL) */
    void *check_ctx;                /* its context */
} cf_agent_renew_req_t;

/* Make a fresh P-256 key and a CSR, POST /api/v1/agent/enroll with them (the key never
   leaves), and install the certificate the answer carries with the key (cf_agent_certs:
   the previous pair is kept until the check passes). fpr_out (may be NULL) gets the new
   fingerprint. Errors: CF_ERR_INVALID, CF_ERR_IO (no answer), CF_ERR_POLICY (refused: why
   has the server's message), CF_ERR_CORRUPT (no certificate in the answer), the
   installation's errors, CF_ERR_CRYPTO, CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_agent_renew_now(const cf_agent_renew_req_t *req,
                                        char fpr_out[CF_AGENT_FPR_HEX + 1], cf_why_t *why);

#endif
