/*  cf_agent_int - the running agent's context, shared by cf_agent_run and cf_agent_ctx  */
#ifndef CF_AGENT_INT_H_INCLUDED
#define CF_AGENT_INT_H_INCLUDED

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

#include "cf_agent_checkin.h"
#include "cf_agent_choose.h"
#include "cf_agent_jobs.h"
#include "cf_agent_renew.h"
#include "cf_agent_run.h"
#include "cf_cert.h"
#include "cf_curve.h"
#include "cf_fleet.h"
#include "cf_relay.h"

#define CF_AGENT_TRIM_DELAY_MS 2000 /* quiet time after work before memory is given back */
/* The install check (cf_agent_check_pair) runs under a->mu, in the link's thread for a job
   from the broker, whose heartbeats die at the broker after 30 s: it is bounded well below. */
#define CF_AGENT_CHECK_BUDGET_MS 12000 /* the whole check at most */
#define CF_AGENT_CHECK_CALL_MS   5000  /* one check-in of it at most */
#define CF_AGENT_CHECK_PAUSE_MS  500   /* first pause's bound (drawn in [b/2, b], doubling to 4x) */

typedef struct {
    cf_agent_run_opts_t opts;                        /* options, defaults filled in */
    char dir[PATH_MAX - 64];                         /* state directory */
    char id[CF_JOB_ALIAS_MAX + 1];                   /* agent id (agent.json) */
    char ca_path[PATH_MAX];                          /* ca.pem */
    char cert_path[PATH_MAX];                        /* cert.pem */
    char key_path[PATH_MAX];                         /* key.pem */
    char cache_path[PATH_MAX];                       /* servers.cache.json */
    cf_cert_t *ca;                                   /* the CA certificate */
    cf_curve_keypair_t kp;                           /* CURVE keypair (secret wiped at close) */
    cf_agent_servers_t list;                         /* servers, favorite, seen address */
    size_t cur;                                      /* server in use (index in list) */
    int have_cur;                                    /* cur is set */
    cf_route_choice_t reason;                        /* why cur was chosen */
    char lock[CF_AGENT_LOCK_MAX];                    /* lock state of the last check-in */
    unsigned interval;                               /* seconds between check-ins */
    cf_agent_jobs_t *jobs;                           /* job handling and replay memory */
    cf_agent_renew_state_t renew;                    /* renewal state */
    cf_curve_broker_t brokers[CF_CURVE_BROKERS_MAX]; /* broker endpoints (agent.json) */
    unsigned char broker_tls[CF_CURVE_BROKERS_MAX];  /* 1: a tls:// entry */
    size_t n_brokers;                                /* 0: polling mode only */
    cf_fleet_t *link;                                /* the broker link: a fleet of one */
    cf_relay_t *relays[CF_CURVE_BROKERS_MAX];        /* TLS relay clients of the link */
    int link_started;                                /* cf_agent_link_start ran (link may
                                                        be NULL: no usable broker) */
    char link_fpr[CF_AGENT_FPR_HEX + 1];             /* certificate the relays present */
    pthread_mutex_t mu;                              /* jobs, certificates, list: the link's hooks
                                                        run in its thread */
    atomic_int checkin_now;                          /* the link came up or a CHECKIN came */
    atomic_int link_up;                              /* broker link: 1 up, 0 down, -1 none */
    uint64_t checkins_ok;                            /* rounds a server took (metrics) */
    uint64_t checkins_failed;                        /* rounds no server took */
    uint64_t renewals_ok;                            /* renewals done (this process) */
    uint64_t renewals_failed;                        /* renewals failed (this process) */
    int64_t last_checkin;                            /* time of the last check-in taken */
    unsigned char conf_hash[32];                     /* BLAKE2b of agent.json as last read */
    atomic_llong trim_at;                            /* monotonic ms when memory is given back
                                                        (cf_agent_trim), 0 = not due */
    uint64_t trims;                                  /* memory given back: times (metrics) */
    uint64_t trimmed_kib;                            /* and KiB of resident memory in all */
} cf_agent_t;

/* Read the state directory (agent.json, ca.pem, curve.key_secret, the server cache) and
   recover an interrupted installation. A CF_AGENT_EXIT_* code; on OK *out is the caller's
   (cf_agent_close). */
int cf_agent_open(const cf_agent_run_opts_t *opts, cf_agent_t **out);
/* SIGHUP (the caller holds a->mu): read agent.json again. When it changed since it was
   last read, its servers (and favorite, when it names one), brokers and interval (unless
   --interval) replace those in use and the server cache is rewritten; else the server
   cache is read again (it may have been edited). Either way the next round chooses a
   server afresh. *relink is set when the broker list changed (the caller restarts the
   link). Errors (nothing changed then): those of reading agent.json, CF_ERR_INVALID (the
   id changed: a new id needs a restart). */
CF_MUST_USE cf_err_t cf_agent_reload(cf_agent_t *a, int *relink, cf_why_t *why);
/* Free everything, wipe the keypair; NULLs *self_p; safe to repeat. */
void cf_agent_close(cf_agent_t **self_p);
/* The TLS (or, without a certificate, plain) client of server s for this agent. */
void cf_agent_http_of(const cf_agent_t *a, const cf_agent_server_t *s, cf_agent_http_t *h);
/* The handshake check of a new pair (cf_agent_certs_check_fn; ctx is the agent; the caller
   holds a->mu): a check-in with it, which a server must answer and record as secure. The
   server in use is asked first, then the others in the agent's choice order (on line, then
   those the list marks off line); when none answered, passes over them again after a short
   randomized pause, all within CF_AGENT_CHECK_BUDGET_MS. Only a failure that says nothing of
   the pair moves on (cf_agent_checkin_transient: no connection, a timeout, a 5xx); a TLS
   refusal, a 4xx, an answer that does not parse or a lock other than secure fails at once.
   The server that took it becomes the server in use. Errors: CF_ERR_IO (no server answered
   in time: why names the servers tried and the last failure), CF_ERR_UNTRUSTED (another
   lock), the refusing call's error (CF_ERR_IO for TLS, CF_ERR_POLICY, CF_ERR_CORRUPT...),
   CF_ERR_NOTFOUND (no server listed). */
CF_MUST_USE cf_err_t cf_agent_check_pair(void *ctx, const char *cert_path, const char *key_path,
                                         cf_why_t *why);
/* The fingerprint of the certificate in use, "" when none. */
void cf_agent_fpr(const cf_agent_t *a, char fpr[CF_AGENT_FPR_HEX + 1]);
/* Renew now through the server in use (renew_csr jobs and due renewals). */
CF_MUST_USE cf_err_t cf_agent_renew_with(cf_agent_t *a, char fpr_out[CF_AGENT_FPR_HEX + 1],
                                         cf_why_t *why);
/* The renewal step of a round: renew when due (and not backing off); record; save. */
void cf_agent_renew_round(cf_agent_t *a);
/* Start the broker link when agent.json lists brokers (else nothing). A tls:// entry is
   reached through a local cf_relay client presenting the agent's certificate and key;
   without a certificate such entries are left out (logged) and the others used. Called
   without a->mu held. Errors: those of cf_fleet_new. */
CF_MUST_USE cf_err_t cf_agent_link_start(cf_agent_t *a, cf_why_t *why);
/* Stop the link and its relays (nothing when none); link_started is cleared. Called without
   a->mu held (the link's thread takes it). */
void cf_agent_link_stop(cf_agent_t *a);
/* 1 when the link should be started again: it was started with tls:// entries and the
   certificate in use changed since (or none was usable then and one is now). */
int cf_agent_link_stale(const cf_agent_t *a);
/* Write status.json (server, reason, lock, last check-in). Failures are logged. */
void cf_agent_write_status(const cf_agent_t *a);
/* Start-up or a job is over: give memory back (cf_agent_trim) once nothing more has
   happened for CF_AGENT_TRIM_DELAY_MS (each call postpones it). Any thread. */
void cf_agent_trim_soon(cf_agent_t *a);
/* Write the --metrics-file (nothing without one); the caller holds a->mu. Failures are
   logged. */
void cf_agent_write_metrics(const cf_agent_t *a);

#endif
