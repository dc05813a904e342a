/*  cf_serials - the revoked set (cf:revoked) as a sorted array of serials: loaded whole for
    the CRL, the TLS listeners and bulk "is it revoked?" answers  */
#include "cf_serials.h"

#include <stdlib.h>
#include <string.h>

#include "cf_ca.h"
#include "cf_db_crl.h"
#include "cf_log.h"
#include "cf_mem.h"

cf_err_t cf_serials_add(cf_serials_t *set, const char *serial)
{
    if (set->n == set->cap) {
        if (set->cap >= CF_CA_MAX_CRL_SERIALS)
            return CF_ERR_TOOBIG;
        size_t cap = set->cap ? set->cap * 2 : 64;
        if (cap > CF_CA_MAX_CRL_SERIALS)
            cap = CF_CA_MAX_CRL_SERIALS;
        void *p = cf_mem_realloc(set->serial, cap * sizeof(*set->serial));
        if (!p)
            return CF_ERR_NOMEM;
        set->serial = p;
        set->cap = cap;
    }
    size_t len = strnlen(serial, CF_DB_SERIAL_MAX + 1);
    if (len > CF_DB_SERIAL_MAX)
        return CF_ERR_INVALID;
    memcpy(set->serial[set->n], serial, len + 1);
    set->n++;
    return CF_OK;
}

static int s_cmp(const void *a, const void *b)
{
    return strcmp((const char *) a, (const char *) b);
}

void cf_serials_sort(cf_serials_t *set)
{
    if (set->n < 2)
        return;
    qsort(set->serial, set->n, sizeof(*set->serial), s_cmp);
    size_t w = 1;
    for (size_t r = 1; r < set->n; r++) {
        if (strcmp(set->serial[r], set->serial[w - 1]) != 0)
            memmove(set->serial[w++], set->serial[r], sizeof(*set->serial));
    }
    set->n = w;
}

typedef struct {
    cf_serials_t *set; /* where serials go */
    cf_err_t rc;       /* first failure */
} s_load_t;

static int s_load_one(void *arg, const char *serial)
{
    s_load_t *l = arg;
    l->rc = cf_serials_add(l->set, serial);
    return l->rc != CF_OK;
}

cf_err_t cf_serials_load(cf_store_t *store, cf_serials_t *out)
{
    out->n = 0;
    s_load_t l = {out, CF_OK};
    size_t bad = 0;
    cf_err_t rc = cf_db_revoked_load(store, CF_CA_MAX_CRL_SERIALS, s_load_one, &l, &bad);
    if (rc == CF_OK)
        rc = l.rc;
    if (bad)
        cf_log(CF_LOG_WARN, "revoked set: %zu malformed members skipped", bad);
    cf_serials_sort(out);
    return rc;
}

int cf_serials_has(const cf_serials_t *set, const char *serial)
{
    char key[CF_DB_SERIAL_MAX + 1];
    size_t len = strnlen(serial, sizeof(key));
    if (len >= sizeof(key) || set->n == 0)
        return 0;
    memcpy(key, serial, len + 1);
    return bsearch(key, set->serial, set->n, sizeof(*set->serial), s_cmp) != NULL;
}

void cf_serials_clear(cf_serials_t *set)
{
    if (!set)
        return;
    cf_mem_free(set->serial);
    memset(set, 0, sizeof(*set));
}
