/*  cf_agent_metrics - the agent's Prometheus text file (node_exporter's textfile collector):
    check-ins, renewals and jobs by outcome, the renewal state, certificate expiry  */
#ifndef CF_AGENT_METRICS_H_INCLUDED
#define CF_AGENT_METRICS_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "cf_err.h"

#define CF_AGENT_METRICS_MAX 4096 /* the whole text, bytes */

/* One snapshot. Counters count since the process started (Prometheus handles resets). */
typedef struct {
    uint64_t checkins_ok;     /* rounds a server took the check-in */
    uint64_t checkins_failed; /* rounds no server took it */
    uint64_t renewals_ok;     /* renewals by CSR that installed a certificate */
    uint64_t renewals_failed; /* renewals that failed (kept with their reason) */
    uint64_t jobs_installed;  /* jobs carried out */
    uint64_t jobs_failed;     /* jobs refused or failed */
    int64_t last_checkin;     /* Unix time of the last check-in taken, 0 = none yet */
    int64_t cert_expiry;      /* notAfter of the certificate in use, 0 = none */
    const char *renew_state;  /* "ok", "due", "failing", "none" (NULL = "none") */
    uint32_t renew_failures;  /* failed renewals since the last success */
    int64_t renew_next_try;   /* after a failure: not retried before (Unix time), 0 = none */
    int link_up;              /* broker link: 1 up, 0 down, -1 none (polling mode) */
    uint64_t trims;           /* times memory was given back (cf_agent_trim) */
    uint64_t trimmed_kib;     /* resident KiB given back by them in all */
} cf_agent_metrics_t;

/* The exposition text of m (HELP and TYPE lines, metric names cf_agent_*) into buf (cap
   bytes, NUL-terminated); *len_out its length. Errors: CF_ERR_INVALID (NULL),
   CF_ERR_TOOBIG (cap too small; buf is then ""). */
CF_MUST_USE cf_err_t cf_agent_metrics_format(const cf_agent_metrics_t *m, char *buf, size_t cap,
                                             size_t *len_out);

/* Format m and write it to path atomically (temp file in the same directory, fsync, rename:
   the collector never reads half a file), mode 0644. Errors: those of
   cf_agent_metrics_format, CF_ERR_IO (why names the step). */
CF_MUST_USE cf_err_t cf_agent_metrics_write(const char *path, const cf_agent_metrics_t *m,
                                            cf_why_t *why);

#endif
