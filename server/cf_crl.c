/*  cf_crl - the deployment's CRL: building it, and telling when it is due  */
#include "cf_crl.h"

#include "cf_serials.h"
#include "cf_ca.h"
#include "cf_db_crl.h"
#include "cf_log.h"
#include "cf_mem.h"

#define S_ROUNDS 4 /* CRL builds per rebuild while others revoke meanwhile */

/* Sign a CRL of set and store it. */
static cf_err_t s_put(cf_ca_t *ca, cf_store_t *store, const cf_serials_t *set, time_t now,
                      time_t next, cf_why_t *why)
{
    const char **ptrs = cf_mem_calloc(set->n ? set->n : 1, sizeof(*ptrs));
    char *pem = NULL;
    if (!ptrs)
        return CF_ERR_NOMEM;
    for (size_t i = 0; i < set->n; i++)
        ptrs[i] = set->serial[i];
    cf_err_t rc = cf_ca_crl(ca, ptrs, set->n, now, next, &pem);
    if (rc != CF_OK)
        cf_why(why, rc, "CRL of %zu serials: %s", set->n, cf_err_str(rc));
    if (rc == CF_OK) {
        rc = cf_db_crl_put(store, pem, (int64_t) now, (int64_t) next, (int64_t) set->n);
        if (rc != CF_OK)
            cf_why(why, rc, "%s", cf_why_text(cf_store_why(store), rc));
    }
    cf_mem_free(pem);
    cf_mem_free(ptrs);
    return rc;
}

cf_err_t cf_crl_rebuild(cf_app_t *app, cf_store_t *store, time_t now, time_t *next_out,
                        cf_why_t *why)
{
    CF_ASSERT(app && store && next_out && why);
    cf_ca_t *ca = NULL;
    cf_serials_t set = {0};
    time_t next = now + (time_t) CF_CRL_DAYS * 86400;
    why->text[0] = '\0';
    cf_err_t rc = cf_app_ca(app, store, &ca, why);
    if (rc == CF_OK)
        rc = cf_serials_load(store, &set);
    for (int round = 0; rc == CF_OK && round < S_ROUNDS; round++) {
        size_t signed_n = set.n;
        rc = s_put(ca, store, &set, now, next, why);
        if (rc == CF_OK)
            rc = cf_serials_load(store, &set);
        if (rc == CF_OK && set.n == signed_n)
            break; /* the set only grows: same size, same set */
        if (rc == CF_OK && round == S_ROUNDS - 1)
            cf_log(CF_LOG_WARN, "msg=\"crl rebuild: the revoked set keeps growing; the next "
                                "revocation or the renewer catches up\"");
    }
    if (rc != CF_OK && !why->text[0])
        cf_why(why, rc, "%s", cf_why_text(cf_store_why(store), rc));
    cf_app_count(app, rc == CF_OK ? CF_APP_CRL_REBUILDS : CF_APP_CRL_FAILURES, 1);
    *next_out = next;
    cf_serials_clear(&set);
    cf_ca_destroy(&ca);
    return rc;
}

static int s_any(void *arg, const char *serial)
{
    (void) serial;
    *(int *) arg = 1;
    return 1; /* one is enough */
}

cf_err_t cf_crl_due(cf_store_t *store, time_t now, int *due, const char **reason)
{
    CF_ASSERT(store && due && reason);
    cf_db_crl_t crl = {0};
    int any = 0;
    *due = 0;
    *reason = "store error";
    cf_err_t rc = cf_db_crl_dates(store, &crl); /* not the PEM: this runs every round */
    if (rc == CF_OK) {
        *due = crl.next_update - (int64_t) now < (int64_t) CF_CRL_REFRESH_DAYS * 86400;
        *reason = *due ? "nextUpdate near" : "fresh";
    } else if (rc == CF_ERR_CORRUPT) {
        *due = 1;
        *reason = "stored CRL unreadable";
        rc = CF_OK;
    } else if (rc == CF_ERR_NOTFOUND) {
        rc = cf_db_revoked_load(store, CF_CA_MAX_CRL_SERIALS, s_any, &any, NULL);
        *due = rc == CF_OK && any;
        *reason = any ? "missing while serials are revoked" : "nothing revoked";
    }
    cf_db_crl_clear(&crl);
    return rc;
}
