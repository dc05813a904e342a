/*  cf_agent_metrics - the agent's Prometheus text file (node_exporter's textfile collector):
    check-ins, renewals and jobs by outcome, the renewal state, certificate expiry  */
#include "cf_agent_metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cf_file.h"

typedef struct {
    char *buf;  /* output */
    size_t cap; /* its size */
    size_t len; /* used */
    int over;   /* ran out of room */
} s_out_t;

static void s_put(s_out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void s_put(s_out_t *o, const char *fmt, ...)
{
    if (o->over)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t) n >= o->cap - o->len)
        o->over = 1;
    else
        o->len += (size_t) n;
}

static void s_head(s_out_t *o, const char *name, const char *type, const char *help)
{
    s_put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void s_pair(s_out_t *o, const char *name, const char *label, const char *a, uint64_t va,
                   const char *b, uint64_t vb)
{
    s_put(o, "%s{%s=\"%s\"} %llu\n%s{%s=\"%s\"} %llu\n", name, label, a, (unsigned long long) va,
          name, label, b, (unsigned long long) vb);
}

cf_err_t cf_agent_metrics_format(const cf_agent_metrics_t *m, char *buf, size_t cap,
                                 size_t *len_out)
{
    if (!m || !buf || !cap || !len_out)
        return CF_ERR_INVALID;
    s_out_t o = {buf, cap, 0, 0};
    static const char *const states[] = {"ok", "due", "failing", "none"};
    const char *st = m->renew_state ? m->renew_state : "none";
    s_head(&o, "cf_agent_checkins_total", "counter",
           "Check-in rounds since the agent started, by result.");
    s_pair(&o, "cf_agent_checkins_total", "result", "ok", m->checkins_ok, "failed",
           m->checkins_failed);
    s_head(&o, "cf_agent_renewals_total", "counter",
           "Certificate renewals by CSR since the agent started, by result.");
    s_pair(&o, "cf_agent_renewals_total", "result", "ok", m->renewals_ok, "failed",
           m->renewals_failed);
    s_head(&o, "cf_agent_jobs_total", "counter",
           "Jobs handled since the agent started, by outcome.");
    s_pair(&o, "cf_agent_jobs_total", "outcome", "installed", m->jobs_installed, "failed",
           m->jobs_failed);
    s_head(&o, "cf_agent_renewal_state", "gauge",
           "1 for the renewal state the agent is in (ok, due, failing, none).");
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
        s_put(&o, "cf_agent_renewal_state{state=\"%s\"} %d\n", states[i],
              strcmp(st, states[i]) == 0);
    s_head(&o, "cf_agent_renewal_failures", "gauge", "Failed renewals since the last success.");
    s_put(&o, "cf_agent_renewal_failures %u\n", m->renew_failures);
    s_head(&o, "cf_agent_renewal_next_try_timestamp_seconds", "gauge",
           "After a failed renewal: no retry before this time (0: no failure pending).");
    s_put(&o, "cf_agent_renewal_next_try_timestamp_seconds %lld\n", (long long) m->renew_next_try);
    s_head(&o, "cf_agent_cert_present", "gauge", "1 when the agent holds a certificate.");
    s_put(&o, "cf_agent_cert_present %d\n", m->cert_expiry != 0);
    if (m->cert_expiry) {
        s_head(&o, "cf_agent_cert_expiry_timestamp_seconds", "gauge",
               "notAfter of the certificate in use.");
        s_put(&o, "cf_agent_cert_expiry_timestamp_seconds %lld\n", (long long) m->cert_expiry);
    }
    s_head(&o, "cf_agent_last_checkin_timestamp_seconds", "gauge",
           "Time of the last check-in a server took (0: none since the start).");
    s_put(&o, "cf_agent_last_checkin_timestamp_seconds %lld\n", (long long) m->last_checkin);
    if (m->link_up >= 0) {
        s_head(&o, "cf_agent_broker_link_up", "gauge", "1 while the broker link is up.");
        s_put(&o, "cf_agent_broker_link_up %d\n", m->link_up > 0);
    }
    s_head(&o, "cf_agent_memory_trims_total", "counter",
           "Times the agent gave memory back after start-up or a job.");
    s_put(&o, "cf_agent_memory_trims_total %llu\n", (unsigned long long) m->trims);
    s_head(&o, "cf_agent_memory_given_back_bytes_total", "counter",
           "Resident memory those times gave back (heap and the binary's pages).");
    s_put(&o, "cf_agent_memory_given_back_bytes_total %llu\n",
          (unsigned long long) m->trimmed_kib * 1024ull);
    if (o.over) {
        buf[0] = '\0';
        *len_out = 0;
        return CF_ERR_TOOBIG;
    }
    *len_out = o.len;
    return CF_OK;
}

cf_err_t cf_agent_metrics_write(const char *path, const cf_agent_metrics_t *m, cf_why_t *why)
{
    char text[CF_AGENT_METRICS_MAX];
    size_t len = 0;
    if (!path)
        return CF_ERR_INVALID;
    CF_TRY(cf_agent_metrics_format(m, text, sizeof(text), &len));
    return cf_file_write_atomic(path, text, len, 0644, why);
}
