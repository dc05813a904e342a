/*  cf_renew - the renewer of generated component certificates  */
#include "cf_renew.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "cf_crl.h"
#include "cf_db_cert.h"
#include "cf_db_meta.h"
#include "cf_db_ssl.h"
#include "cf_issue.h"
#include "cf_lease.h"
#include "cf_log.h"
#include "cf_mem.h"

#define S_CERTS_MAX 10000 /* component certificates looked at per round */

struct cf_renew {
    cf_app_t *app;     /* borrowed */
    cf_lease_t lease;  /* CF_RENEW_LEASE */
    int64_t ca_warned; /* unix seconds of the last CA expiry warning */
};

cf_err_t cf_renew_new(cf_app_t *app, int lease_s, cf_renew_t **out)
{
    if (!app || !out || lease_s < 1)
        return CF_ERR_INVALID;
    *out = cf_mem_calloc(1, sizeof(**out));
    if (!*out)
        return CF_ERR_NOMEM;
    (*out)->app = app;
    cf_lease_init(&(*out)->lease, CF_RENEW_LEASE, "renewal", "renews certificates",
                  (long) lease_s * 1000);
    return CF_OK;
}

void cf_renew_destroy(cf_renew_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_mem_free(*self_p);
    *self_p = NULL;
}

void cf_renew_release(cf_renew_t *self, cf_store_t *store)
{
    if (self)
        cf_lease_drop(&self->lease, store, cf_app_instance(self->app));
}

static void s_ca_warning(cf_renew_t *self, cf_store_t *store, int64_t now)
{
    if (now - self->ca_warned < 3600)
        return;
    cf_cert_t *ca = NULL;
    if (cf_db_ca_get(store, NULL, &ca, NULL) != CF_OK)
        return;
    long days = cf_cert_days_left(ca, (time_t) now);
    if (days < CF_RENEW_CA_WARN_DAYS) {
        cf_log(CF_LOG_WARN,
               "msg=\"the CA expires soon and is never renewed silently: plan a CA rollover\" "
               "days_left=%ld fp=%s",
               days, cf_cert_fingerprint(ca));
        self->ca_warned = now;
    }
    cf_cert_destroy(&ca);
}

/* Rebuild the CRL when it goes stale (nothing else does when nothing is revoked), or when
   it is missing or unreadable while serials are revoked. Failures are retried next round. */
static void s_crl_refresh(cf_renew_t *self, cf_store_t *store, int64_t now)
{
    int due = 0;
    const char *reason = "";
    cf_why_t why = {""};
    time_t next = 0;
    cf_err_t rc = cf_crl_due(store, (time_t) now, &due, &reason);
    if (rc != CF_OK) {
        cf_app_count(self->app, CF_APP_CRL_FAILURES, 1);
        cf_log(CF_LOG_ERROR, "msg=\"cannot check the CRL; retried next round\" err=%s why=\"%s\"",
               cf_err_name(rc), cf_why_text(cf_store_why(store), rc));
        return;
    }
    if (!due)
        return;
    rc = cf_crl_rebuild(self->app, store, (time_t) now, &next, &why); /* counts itself */
    if (rc == CF_OK)
        cf_log(CF_LOG_INFO, "msg=\"CRL rebuilt by the renewer\" reason=\"%s\" next_update=%lld",
               reason, (long long) next);
    else
        cf_log(CF_LOG_ERROR,
               "msg=\"CRL rebuild failed; retried next round\" reason=\"%s\" err=%s why=\"%s\"",
               reason, cf_err_name(rc), cf_why_text(&why, rc));
}

/* The old certificate's SANs other than the name itself, split into DNS names and IPs. */
static void s_old_sans(const cf_cert_t *old, const char *name, const char **dns, size_t *n_dns,
                       const char **ips, size_t *n_ips, size_t max)
{
    *n_dns = *n_ips = 0;
    for (size_t i = 0; i < cf_cert_san_count(old); i++) {
        const char *san = cf_cert_san(old, i);
        if (strncmp(san, "DNS:", 4) == 0 && strcmp(san + 4, name) != 0 && *n_dns < max)
            dns[(*n_dns)++] = san + 4;
        else if (strncmp(san, "IP:", 3) == 0 && strcmp(san + 3, name) != 0 && *n_ips < max)
            ips[(*n_ips)++] = san + 3;
    }
}

/* Re-issue one generated record like the old certificate: same names, key type, lifetime. */
static cf_err_t s_renew_one(cf_renew_t *self, cf_store_t *store, cf_ca_t *ca,
                            const cf_db_cert_t *rec, const cf_cert_t *old, int64_t now)
{
    const char *dns[CF_CERT_MAX_SANS], *ips[CF_CERT_MAX_SANS];
    size_t n_dns = 0, n_ips = 0;
    cf_issue_t req = {.component = rec->component, .name = rec->name, .now = (time_t) now};
    if (rec->component == CF_COMPONENT_SERVER)
        s_old_sans(old, rec->name, dns, &n_dns, ips, &n_ips, CF_CERT_MAX_SANS);
    req.dns = dns, req.n_dns = n_dns, req.ips = ips, req.n_ips = n_ips;
    if (rec->component == CF_COMPONENT_AGENT) {
        req.shared_agent = 1;
        req.name = cf_cert_common_name(old);
    }
    if (cf_key_type_of_pkey(X509_get0_pubkey(cf_cert_x509(old)), &req.key_type) != CF_OK)
        req.key_type = CF_KEY_P256;
    /* the same lifetime: notAfter - notBefore less the back-dating cf_issue_validity adds
       (CF_ISSUE_SKEW, or a tenth of the lifetime for short ones) */
    long long span = (long long) (cf_cert_not_after(old) - cf_cert_not_before(old));
    long long life = span > 11LL * CF_ISSUE_SKEW ? span - CF_ISSUE_SKEW : span * 10 / 11;
    req.seconds = life > 0 ? (long) life : 60;
    cf_cert_t *cert = NULL;
    cf_key_t *key = NULL;
    cf_err_t rc = cf_ca_issue(ca, &req, &cert, &key);
    cf_db_cert_in_t in = {rec->component, rec->name, CF_DB_CERT_GENERATED, cert, NULL, key, now};
    if (rc == CF_OK)
        rc = cf_db_cert_put(store, cf_app_seal(self->app), &in, NULL);
    char target[300];
    snprintf(target, sizeof(target), "%s:%s", cf_component_name(rec->component), rec->name);
    cf_app_audit(self->app, store, NULL, "cert.renew", target, rc);
    if (rc == CF_OK) {
        cf_app_count(self->app, CF_APP_RENEWALS, 1);
        cf_log(CF_LOG_INFO, "msg=\"certificate renewed\" cert=%s old_serial=%s serial=%s", target,
               cf_cert_serial(old), cf_cert_serial(cert));
    }
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
    return rc;
}

/* Renew what is due in one component; *ca is loaded on first need. */
static void s_renew_component(cf_renew_t *self, cf_store_t *store, cf_component_t comp,
                              unsigned days, int64_t now, cf_ca_t **ca)
{
    cf_db_cert_t *recs = NULL;
    size_t n = 0;
    cf_err_t rc = cf_db_cert_list(store, comp, S_CERTS_MAX, &recs, &n);
    for (size_t i = 0; rc == CF_OK && i < n; i++) {
        cf_cert_t *old = NULL;
        if (recs[i].kind != CF_DB_CERT_GENERATED ||
            cf_cert_parse(recs[i].cert_pem, strlen(recs[i].cert_pem), &old) != CF_OK)
            continue;
        cf_why_t why = {""};
        cf_err_t one = CF_OK;
        if (cf_cert_renewal_due(old, (time_t) now, days)) {
            if (!*ca)
                one = cf_app_ca(self->app, store, ca, &why);
            if (one == CF_OK)
                one = s_renew_one(self, store, *ca, &recs[i], old, now);
        }
        if (one != CF_OK) {
            cf_app_count(self->app, CF_APP_RENEWAL_FAILURES, 1);
            cf_log(CF_LOG_ERROR,
                   "msg=\"renewal failed; retried next round\" cert=%s:%s err=%s "
                   "why=\"%s\"",
                   cf_component_name(comp), recs[i].name, cf_err_name(one), cf_why_text(&why, one));
        }
        cf_cert_destroy(&old);
    }
    if (rc != CF_OK)
        cf_log(CF_LOG_ERROR, "msg=\"cannot list certificates for renewal\" component=%s err=%s",
               cf_component_name(comp), cf_err_name(rc));
    cf_db_cert_list_free(&recs, n);
}

void cf_renew_tick(cf_renew_t *self, cf_store_t *store, int64_t now)
{
    if (!cf_lease_hold(&self->lease, store, cf_app_instance(self->app)))
        return;
    s_ca_warning(self, store, now);
    s_crl_refresh(self, store, now);
    cf_db_ssl_t ssl;
    if (cf_db_ssl_get(store, &ssl) != CF_OK || !ssl.auto_renew)
        return;
    cf_ca_t *ca = NULL;
    static const cf_component_t comps[] = {CF_COMPONENT_SERVER, CF_COMPONENT_CONSOLE,
                                           CF_COMPONENT_AGENT};
    for (size_t i = 0; i < sizeof(comps) / sizeof(comps[0]); i++)
        s_renew_component(self, store, comps[i], (unsigned) ssl.renew_days, now, &ca);
    cf_ca_destroy(&ca);
}
