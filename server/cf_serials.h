/*  cf_serials - the revoked set (cf:revoked) as a sorted array of serials  */
#ifndef CF_SERIALS_H_INCLUDED
#define CF_SERIALS_H_INCLUDED

#include <stddef.h>

#include "cf_db_key.h"
#include "cf_err.h"
#include "cf_store.h"

/* Serials (lowercase hex) sorted and without duplicates. */
typedef struct {
    char (*serial)[CF_DB_SERIAL_MAX + 1]; /* owned: n entries */
    size_t n;                             /* entries used */
    size_t cap;                           /* entries allocated */
} cf_serials_t;

/* Load all of cf:revoked (at most CF_CA_MAX_CRL_SERIALS; CF_ERR_TOOBIG past it) into *out,
   which must be zeroed or cleared. 1 RT per 1000 serials. Malformed members are skipped
   with a warning. */
CF_MUST_USE cf_err_t cf_serials_load(cf_store_t *store, cf_serials_t *out);
/* Append one serial (lowercase hex, at most CF_DB_SERIAL_MAX; checked by the caller);
   call cf_serials_sort before searching. CF_ERR_TOOBIG past CF_CA_MAX_CRL_SERIALS,
   CF_ERR_INVALID, CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_serials_add(cf_serials_t *set, const char *serial);
/* Sort and drop duplicates (SSCAN may give a member twice). */
void cf_serials_sort(cf_serials_t *set);
/* 1 when serial is in the set (binary search; the set must be sorted). */
int cf_serials_has(const cf_serials_t *set, const char *serial);
void cf_serials_clear(cf_serials_t *set); /* free, zero; safe to repeat */

#endif
