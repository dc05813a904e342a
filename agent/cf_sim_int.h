/*  cf_sim_int - the simulator's private state, shared by cf_sim.c, cf_sim_http.c and
    cf_sim_jobs.c  */
#ifndef CF_SIM_INT_H_INCLUDED
#define CF_SIM_INT_H_INCLUDED

#include <pthread.h>
#include <stdatomic.h>

#include <curl/curl.h>
#include <openssl/ssl.h>

#include "cf_agent_bundle.h"
#include "cf_agent_checkin.h"
#include "cf_cert.h"
#include "cf_key.h"
#include "cf_sim.h"
#include "cf_sim_reissue.h"

/* Enrolled -> link opened after this many ms: a broker learns the key through Redis, and a
   DEALER it refused must be reopened (the fleet does so after 0.5..1 s, doubling). */
#define CF_SIM_ONLINE_DELAY_MS 1000
#define CF_SIM_APPLIED_MAX     16 /* job ids one agent remembers as applied (replay memory) */

typedef enum {
    CF_SIM_NEW = 0,  /* not enrolled yet */
    CF_SIM_ENROLLED, /* enrolled: checks in */
    CF_SIM_REFUSED   /* enrollment refused for good */
} cf_sim_phase_t;

typedef enum {
    CF_SIM_LOCK_NONE = 0, /* no check-in answered yet */
    CF_SIM_LOCK_INSECURE,
    CF_SIM_LOCK_SECURE,
    CF_SIM_LOCK_ATTENTION,
    CF_SIM_LOCK_EXPIRED
} cf_sim_lock_t;

/* One simulated agent. "main" fields belong to the thread of cf_sim_run, "mu" fields are
   read and written under cf_sim.mu (the fleet's thread installs certificates), "fleet"
   fields belong to the fleet's thread. */
typedef struct {
    uint8_t phase;                /* main: cf_sim_phase_t */
    uint8_t busy;                 /* main: a call in flight */
    uint8_t lock;                 /* main: cf_sim_lock_t of the last check-in */
    uint8_t skip;                 /* main: 1 + index of the server that last failed */
    atomic_uchar due;             /* any: check in at once */
    atomic_uchar renew_due;       /* any: renew_job is set */
    uint32_t backoff_ms;          /* main: retry bound, 0 after a success */
    int64_t next_ms;              /* main: monotonic ms of the next check-in or retry */
    int64_t online_ms;            /* main: open the broker link then; 0 = done or not yet */
    char *cert;                   /* mu: certificate chain PEM in use (owned), NULL none */
    char *key;                    /* mu: its private key PEM (owned secret) */
    char fpr[CF_MSG_FPR_HEX + 1]; /* mu: fingerprint of cert, "" none */
    unsigned char key_id[CF_CERT_KEY_ID_LEN]; /* mu: cf_cert_key_id of cert (the key held) */
    char favorite[CF_JOB_ALIAS_MAX + 1];      /* mu: favorite server alias, "" none */
    char (*applied)[CF_JOB_ID_HEX + 1];       /* fleet: ring of applied job ids (owned) */
    char *renew_job;            /* mu: a renew_csr job waiting for its call (owned), NULL none */
    struct cf_sim_check *check; /* mu: a new pair waiting for its check-in (owned), NULL none */
    uint8_t n_applied, next_applied; /* fleet: used slots, next slot to overwrite */
} cf_sim_agent_t;

/* A job's new pair on trial: the agent checks in with it before the job is reported (as
   the real agent does, cf_agent_certs_install's check) and keeps the pair before it until
   then, to go back to when that check-in fails. */
typedef struct cf_sim_check {
    char job_id[CF_JOB_ID_HEX + 1]; /* the job that installed the new pair */
    int call;                       /* main: the check-in carrying it started */
    int tries;                      /* main: check-ins that could not reach a working server */
    char *cert;                     /* the previous chain PEM (owned), NULL none */
    char *key;                      /* its key PEM (owned secret) */
    char fpr[CF_MSG_FPR_HEX + 1];   /* its fingerprint, "" none */
    unsigned char key_id[CF_CERT_KEY_ID_LEN]; /* its key id */
} cf_sim_check_t;

/* One HTTPS call in flight. */
typedef enum {
    CF_SIM_CALL_ENROLL = 1, /* enrollment with the token */
    CF_SIM_CALL_CHECKIN,    /* check-in */
    CF_SIM_CALL_RENEW       /* renewal by CSR (a renew_csr job) */
} cf_sim_call_kind_t;

typedef struct cf_sim_call cf_sim_call_t;
struct cf_sim_call {
    cf_sim_t *sim;                  /* owner */
    cf_sim_call_t *prev, *next;     /* the list of calls in flight (multi handle only) */
    size_t agent;                   /* index */
    size_t server;                  /* index in the server list */
    cf_sim_call_kind_t kind;        /* what it is */
    CURL *easy;                     /* the transfer (owned) */
    struct curl_slist *hdr, *map;   /* headers, CONNECT_TO (owned) */
    char *body;                     /* the answer, NUL-terminated (owned) */
    size_t len, cap;                /* bytes in body, allocated */
    int too_big;                    /* the answer passed CF_AGENT_ANSWER_MAX */
    int tls_client;                 /* the agent's certificate goes in through cf_sim_tls */
    int alert;                      /* the server sent a fatal TLS alert (cf_sim_tls: it
                                       refused the handshake; a reset is not one) */
    cf_key_t *key;                  /* enrollment in CSR mode: the key made for it (owned) */
    char job_id[CF_JOB_ID_HEX + 1]; /* renewal: its renew_csr job; check-in: the job whose
                                       pair it carries on trial ("" none) */
    char errbuf[CURL_ERROR_SIZE];   /* curl's reason */
};

struct cf_sim {
    cf_sim_opts_t o;                      /* options (strings below) */
    char prefix[CF_FLEET_PREFIX_MAX + 1]; /* id prefix */
    char *state_dir;                      /* owned copy, NULL none */
    cf_agent_bundle_t bundle;             /* the package: servers, brokers, CA, token */
    cf_cert_t *ca;                        /* its first CA certificate */
    cf_job_verifier_t *verifier;          /* fleet's thread: its agents' jobs, one signer
                                             cache for all (made at the first job) */
    cf_sim_reissue_t *reissue;            /* fleet's thread: reissued certificates'
                                             checker (made at the first reissue job) */
    cf_sim_agent_t *agents;               /* o.count agents */
    cf_fleet_t *fleet;                    /* the broker links */
    CURLM *multi;                         /* the HTTPS calls */
    X509_STORE *ca_store;                 /* main: the package's CA for every call (owned) */
    pthread_mutex_t mu;                   /* agents' "mu" fields and the counters below */
    size_t inflight;                      /* main: calls running */
    cf_sim_call_t *calls;                 /* main: those calls (a list) */
    size_t cursor;                        /* main: where the next scan starts */
    double budget;                        /* main: enrollments that may start now */
    int64_t budget_ms;                    /* main: when the budget was last topped up */
    uint64_t enroll_fails, checkins, checkin_fails, polled; /* main: counters */
    uint64_t rehellos;              /* main: links reopened for a job seen by polling */
    uint64_t renewals, renew_fails; /* mu: counters of the fleet's thread */
    uint64_t replays;               /* mu: jobs applied before, sent again (fleet's thread) */
    size_t n_refused;               /* main: agents whose enrollment was refused */
    size_t n_online_due;            /* main: agents with online_ms set */
    char last_refusal[CF_WHY_MAX];  /* main: why the last enrollment was refused */
};

/* Monotonic milliseconds. */
int64_t cf_sim_now_ms(void);
/* Agent a's id and source address. */
void cf_sim_agent_id(const cf_sim_t *sim, size_t a, char id[CF_MSG_AGENT_MAX + 1]);
void cf_sim_agent_addr(const cf_sim_t *sim, size_t a, char addr[16]);
/* The server agent a talks to now (the seed's choice over the package's list with its
   favorite and source address; skip: 1 + index of a server not to take, 0 none). */
size_t cf_sim_agent_server(cf_sim_t *sim, size_t a, unsigned skip);
/* Replace agent a's certificate and key (PEM; copied) under mu, with the fingerprint and
   key id of leaf (cert's first certificate, parsed); when write, also under the state
   directory when there is one. Errors: CF_ERR_NOMEM, CF_ERR_CRYPTO, CF_ERR_IO (files). */
CF_MUST_USE cf_err_t cf_sim_agent_install(cf_sim_t *sim, size_t a, const char *cert,
                                          const char *key, const cf_cert_t *leaf, int write,
                                          cf_why_t *why);
/* As cf_sim_agent_install, for job job_id, not written: the previous pair is kept on trial
   (cf_sim_check_t) and a check-in is asked for; the job's outcome comes from
   cf_sim_jobs_checked, which writes the pair to the state directory once it passed.
   CF_ERR_STATE when another job's pair is still on trial. */
CF_MUST_USE cf_err_t cf_sim_agent_try(cf_sim_t *sim, size_t a, const char *job_id, const char *cert,
                                      const char *key, const cf_cert_t *leaf, cf_why_t *why);
/* Free a trial (its previous pair) and NULL *check_p; NULL is fine. */
void cf_sim_check_free(cf_sim_check_t **check_p);
/* The check-in carrying job_id's pair of agent a could not reach a working server (no
   connection, 5xx): 1 when the trial stays for another check-in (at most
   CF_SIM_CHECK_TRIES), 0 when it is to fail. Main thread. */
int cf_sim_agent_check_again(cf_sim_t *sim, size_t a, const char *job_id);
/* The job whose pair agent a's next check-in must carry, into job (main thread; marks it
   carried); "" when none or carried already. */
void cf_sim_agent_check_job(cf_sim_t *sim, size_t a, char job[CF_JOB_ID_HEX + 1]);

/* cf_sim_tls.c: TLS for curl through an SSL_CTX hook: one CA store for the process (curl
   would decode the CA's PEM for every connection; each check-in is a new connection: one
   simulated agent per source address and certificate), the agent's pair decoded in the hook
   and not kept (kept, it cost ~6 KiB per agent: the memory goal is 64 KiB). */
/* Set call c's TLS for curl: the process's CA store for the server's certificate and, when
   cert is 1, agent c->agent's certificate and key (a single certificate through the hook; a
   chain as PEM for curl to read); *have: 1 when the agent has a pair to present. Returns
   non-zero on a failure (curl_easy_setopt, the CA store). */
int cf_sim_tls_setup(cf_sim_t *sim, cf_sim_call_t *c, int cert, int *have);
/* Does a failed check-in say nothing of the certificate it presented, only that no working
   server answered (cf_agent_checkin_transient's rule for the real agent)? 1 for a failure
   to connect, a timeout, a connection reset or closed under the call (a server killed
   during it), an empty reply, or a 5xx; 0 for a fatal TLS alert from the server (alert: it
   refused the certificate), the server's certificate not trusted, our own files unusable,
   another HTTP status or a call that ended well but did not parse (cc CURLE_OK). Pure. */
int cf_sim_check_transient(CURLcode cc, long status, int alert);
/* Free the process's CA store (cf_sim_destroy). */
void cf_sim_tls_fini(cf_sim_t *sim);

/* cf_sim_state.c: --state-dir (sim->state_dir set). */
/* Write agent a's pair as <dir>/<id>/cert.pem and key.pem (0600, atomically). Errors:
   CF_ERR_TOOBIG (path), CF_ERR_IO. */
CF_MUST_USE cf_err_t cf_sim_state_write_pair(cf_sim_t *sim, size_t a, const char *cert,
                                             const char *key, cf_why_t *why);
/* Save agent a's CURVE keypair as <dir>/<id>/curve.key(_secret) once it enrolled (kept
   when there). Errors: CF_ERR_TOOBIG, CF_ERR_IO. */
CF_MUST_USE cf_err_t cf_sim_state_save_curve(cf_sim_t *sim, size_t a, cf_why_t *why);
/* Before the fleet exists: for every agent, the keypair saved by an earlier run into kps[a]
   (the agent is then enrolled, with its pair when cert.pem and key.pem are there, and goes
   on line at once) or a fresh one. *restored counts the former. Errors: a damaged file
   (why names the agent), CF_ERR_IO, CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_sim_state_restore(cf_sim_t *sim, cf_curve_keypair_t *kps, size_t *restored,
                                          cf_why_t *why);
/* Ask for a check-in of agent a at once (any thread). */
void cf_sim_agent_due(cf_sim_t *sim, size_t a);

/* cf_sim_http.c: the HTTPS side. */
/* Start agent a's enrollment (CSR mode makes the key here), check-in or renewal (job_id:
   its renew_csr job; NULL otherwise) on the multi handle. Errors: CF_ERR_NOMEM,
   CF_ERR_CRYPTO, CF_ERR_IO (curl refused an option). */
CF_MUST_USE cf_err_t cf_sim_http_start(cf_sim_t *sim, size_t a, cf_sim_call_kind_t kind,
                                       const char *job_id);
/* Take the finished calls off the multi handle and act on their answers. */
void cf_sim_http_collect(cf_sim_t *sim);
/* Abort and free every call in flight. */
void cf_sim_http_abort(cf_sim_t *sim);
/* cf_sim_jobs.c */
/* 1 when agent a has applied job_id (its replay memory), else 0. Any thread. */
int cf_sim_agent_applied(cf_sim_t *sim, size_t a, const char *job_id);
/* The check-in carrying job_id's new pair of agent a ended (main thread): rc CF_OK (the
   server took it and answered secure) keeps the pair (written to the state directory when
   there is one), remembers the job and hands "installed" to the fleet; otherwise (or when
   that write fails) the previous pair comes back, none when there was none, and the job
   fails with why. The state directory never holds a pair on trial or one that failed. A
   check that is no longer on trial is ignored. */
void cf_sim_jobs_checked(cf_sim_t *sim, size_t a, const char *job_id, cf_err_t rc,
                         const cf_why_t *why);
/* The renewal of agent a for its renew_csr job_id ended (main thread): rc CF_OK with the
   new certificate's fpr (installed on trial: the check-in decides), else failed with why,
   handed to the fleet (cf_fleet_complete), which REPORTs it. */
void cf_sim_jobs_renewed(cf_sim_t *sim, size_t a, const char *job_id, cf_err_t rc, const char *fpr,
                         const cf_why_t *why);
/* The fleet's on_job hook (cf_fleet_job_fn; ctx is the simulator). */
CF_MUST_USE cf_err_t cf_sim_on_job(void *ctx, size_t a, const char *job_id, const void *job,
                                   size_t len, int64_t *expires_out,
                                   char fpr_out[CF_MSG_FPR_HEX + 1], cf_why_t *why);

#endif
