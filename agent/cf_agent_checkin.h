/*  cf_agent_checkin - the agent's HTTPS client (cf_agent_http.c: libevent's evhttp over
    bufferevent_openssl): check-in and its answer, reports over HTTPS, enrollment calls, and
    the TLS probe of the server choice  */
#ifndef CF_AGENT_CHECKIN_H_INCLUDED
#define CF_AGENT_CHECKIN_H_INCLUDED

#include <stddef.h>

#include "cf_agent_choose.h"
#include "cf_err.h"
#include "cf_iprange.h"
#include "cf_job.h"

#define CF_AGENT_ANSWER_MAX   (8 * 1024 * 1024) /* largest answer body read, bytes */
#define CF_AGENT_JOBS_MAX     1000              /* jobs taken from one answer */
#define CF_AGENT_LOCK_MAX     16                /* "secure", "attention", ... */
#define CF_AGENT_INTERVAL_MIN 5                 /* seconds: a shorter interval is raised */
#define CF_AGENT_INTERVAL_MAX 86400             /* seconds: a longer one is lowered */
#define CF_AGENT_PROTO        CF_JOB_PROTO      /* protocol level the agent speaks */
#define CF_AGENT_VERSION      "0.1.0"           /* software version it reports */

/* Where and how to talk to one server. Everything is borrowed. */
typedef struct {
    const char *alias;       /* the name its certificate carries (URL host, SNI); not NULL */
    const char *host;        /* where to connect; NULL or "" = the alias */
    unsigned short port;     /* HTTPS port, or the plain port when plain */
    int plain;               /* 1: plain HTTP (only while allow-plain is on) */
    const char *ca_file;     /* CA certificate PEM (TLS) */
    const char *cert_file;   /* client certificate chain PEM; NULL = none */
    const char *key_file;    /* its key PEM */
    const char *source_addr; /* local address to bind (tests play subnets); NULL = any */
    long timeout_ms;         /* whole call; 0 = 10 s */
    int *tls_refused;        /* NULL, or set to 1 when a call fails in TLS for a reason a try
                                elsewhere would not change: a fatal alert from the server (it
                                refused the client certificate), the server's certificate not
                                trusted, the CA or client files unusable (written, not read) */
} cf_agent_http_t;

/* The endpoint of server s of a list for a client: TLS on its port, or plain on its
   plain port when plain (and it has one). */
void cf_agent_http_for(cf_agent_http_t *h, const cf_agent_server_t *s, int plain);

/* POST body (JSON, NUL-terminated) to path ("/api/v1/...") and read the answer.
   *status_out the HTTP status; *answer_out (may be NULL) the body, NUL-terminated, the
   caller's (cf_mem_free). One blocking call on its own event loop, within h->timeout_ms.
   Errors: CF_ERR_INVALID, CF_ERR_IO (no answer: connection,
   handshake or timeout; why says which), CF_ERR_TOOBIG (answer over CF_AGENT_ANSWER_MAX),
   CF_ERR_NOMEM. An HTTP error status is not an error here. */
CF_MUST_USE cf_err_t cf_agent_http_post(const cf_agent_http_t *h, const char *path,
                                        const char *body, long *status_out, char **answer_out,
                                        cf_why_t *why);

/* A TLS handshake with the server (no request), within h->timeout_ms. CF_OK when it
   completes; CF_ERR_IO else (why says what failed); CF_ERR_INVALID for a plain endpoint. */
CF_MUST_USE cf_err_t cf_agent_http_probe(const cf_agent_http_t *h, cf_why_t *why);

/* A check-in answer (docs/API.md, Agent routes). */
typedef struct {
    char seen_addr[CF_IPRANGE_ADDR_TEXT_MAX]; /* address the server saw, "" = none given */
    char lock[CF_AGENT_LOCK_MAX];             /* secure | attention | insecure | expired */
    char favorite[CF_JOB_ALIAS_MAX + 1];      /* favorite alias, "" = none */
    int has_servers;                          /* servers was in the answer */
    cf_agent_servers_t servers;               /* the server list (owned) */
    unsigned interval;                        /* seconds to the next check-in (capped) */
    unsigned protocol;                        /* the server's protocol level */
    char **jobs;                              /* n_jobs signed jobs as compact JSON (owned) */
    size_t n_jobs;                            /* 0..CF_AGENT_JOBS_MAX */
} cf_agent_answer_t;

/* Free what a answer owns and zero it; safe to repeat. */
void cf_agent_answer_clear(cf_agent_answer_t *a);

/* Parse a check-in answer (untrusted, len <= CF_AGENT_ANSWER_MAX) into *out (cleared
   first). Jobs past CF_AGENT_JOBS_MAX are left for the next check-in (logged). Errors:
   CF_ERR_CORRUPT (not JSON, a field of the wrong type or size: why names it), CF_ERR_TOOBIG,
   CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_agent_answer_parse(const char *text, size_t len, cf_agent_answer_t *out,
                                           cf_why_t *why);

/* POST /api/v1/agent/checkin as id and parse the answer into *out. An install check
   (check 1: a pair on trial, presented to learn what the server records for it) asks for no
   jobs ("jobs": false): the job being installed is not built and sent again. Errors: as
   cf_agent_http_post and cf_agent_answer_parse, plus CF_ERR_POLICY (an HTTP error status:
   why gives the status and the server's message; *status_out (may be NULL) has it). */
CF_MUST_USE cf_err_t cf_agent_checkin(const cf_agent_http_t *h, const char *id, int check,
                                      cf_agent_answer_t *out, long *status_out, cf_why_t *why);

/* Does a failed check-in say nothing of the certificate presented, only that no working
   server answered (no connection, a timeout, a 5xx such as a server whose Redis is failing
   over)? 1 yes (another server, or a later try, may take it); 0 no: a TLS refusal
   (tls_refused, as cf_agent_http_t.tls_refused received it), a 4xx, an answer that does not
   parse, a local failure. rc is cf_agent_checkin's error (CF_OK: 0), status its HTTP status
   (0: none). */
int cf_agent_checkin_transient(cf_err_t rc, long status, int tls_refused);

/* POST /api/v1/agent/report: job (32 hex) installed (reason ignored) or failed with reason
   (printable, cut to 255), fpr the certificate in use ("" or NULL = none). CF_OK when the
   server acknowledged. Errors: as cf_agent_checkin. */
CF_MUST_USE cf_err_t cf_agent_report(const cf_agent_http_t *h, const char *id, const char *job,
                                     int installed, const char *reason, const char *fpr,
                                     cf_why_t *why);

#endif
