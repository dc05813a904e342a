/*  cf_db_archive - replaced certificates in cf:archive: lookup, walk, prune  */
#ifndef CF_DB_ARCHIVE_H_INCLUDED
#define CF_DB_ARCHIVE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "cf_cert.h"
#include "cf_db_key.h"
#include "cf_err.h"
#include "cf_store.h"

/* Key: cf:archive, a hash fingerprint -> one entry (docs/REDIS.md), in one of three forms:
   - agent "a1 <agent id> <archived_at> <not_after> <serial> <subject>": a replaced per-agent
     certificate without its body (what cf_db_archive_add and cf_db_enroll_replace write for
     component agent: about 100 bytes, where the DER took 540). Revocation, the `attention`
     state, the sweeper and the listing need no more; the body is gone for good;
   - compact "c1 <component> <name> <archived_at>\n" followed by the certificate's DER
     (other components through cf_db_archive_add, an agent certificate whose subject does
     not fit one line, and agent entries written before the agent form);
   - JSON {component, name, serial, not_after, archived_at, cert (PEM)} (cf_db_cert_put's
     Lua for component records, and entries written before the compact form).
   Serial and not_after of a compact entry come from its DER. Details of failures in
   cf_store_why(store). RT = round trips. */
#define CF_DB_ARCHIVE_MAX  (512 * 1024) /* one archive entry (JSON), bytes */
#define CF_DB_ARCHIVE_SCAN 100          /* HSCAN COUNT for archive walks */
#define CF_DB_ARCHIVE_WALK 1000000      /* entries one prune walks at most */
#define CF_DB_SUBJECT_MAX  1024         /* subject text kept by an agent-form entry, bytes */

/* An archived certificate: valid but replaced (the seed's "archived"). */
typedef struct {
    char fingerprint[CF_DB_FP_LEN + 1]; /* its SHA-256, the archive's field */
    cf_component_t component;           /* server, console or agent */
    char name[CF_DB_NAME_MAX + 1];      /* record name, or agent id for per-agent certs */
    char serial[CF_DB_SERIAL_MAX + 1];  /* lowercase hex */
    int64_t not_after;                  /* unix seconds; pruned after this */
    int64_t archived_at;                /* unix seconds */
    char *subject;                      /* owned, RFC 2253; NULL for a JSON entry (see cert_pem) */
    char *cert_pem;                     /* owned; NULL for an agent-form entry (no body) */
} cf_db_archived_t;

void cf_db_archived_clear(cf_db_archived_t *a); /* free subject and cert_pem; zero it */
/* Decode one entry: field fp (fp_len bytes) and its JSON value (len bytes, at most
   CF_DB_ARCHIVE_MAX). Pure. On CF_OK *out is filled (cf_db_archived_clear it); on
   CF_ERR_CORRUPT (or CF_ERR_NOMEM) it is zeroed, why (may be NULL) saying what is wrong. */
CF_MUST_USE cf_err_t cf_db_archive_decode(const char *fp, size_t fp_len, const char *json,
                                          size_t len, cf_db_archived_t *out, cf_why_t *why);
/* The entry for cert (see above: the agent form for component agent, else compact) into *out (the
   caller's: cf_mem_free), *len_out bytes (binary: not NUL-terminated text). CF_ERR_INVALID
   (component, name, now < 0), CF_ERR_TOOBIG, CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_db_archive_entry(cf_component_t component, const char *name,
                                         const cf_cert_t *cert, int64_t now, char **out,
                                         size_t *len_out);
/* Archive a certificate outside the record path (a per-agent certificate replaced by a
   newer one): HSET cf:archive (1 RT). name: an agent id or record name. */
CF_MUST_USE cf_err_t cf_db_archive_add(cf_store_t *store, cf_component_t component,
                                       const char *name, const cf_cert_t *cert, int64_t now);
/* The check-in question: is this fingerprint archived? (HEXISTS, 1 RT) */
CF_MUST_USE cf_err_t cf_db_archived(cf_store_t *store, const char *fingerprint, int *yes);
/* One entry (1 RT) into *out (cf_db_archived_clear it). CF_ERR_NOTFOUND, CF_ERR_CORRUPT. */
CF_MUST_USE cf_err_t cf_db_archive_get(cf_store_t *store, const char *fingerprint,
                                       cf_db_archived_t *out);
/* Walk the archive with HSCAN (1 RT per CF_DB_ARCHIVE_SCAN entries); fn gets each entry
   (borrowed for the call) and returns non-zero to stop. An entry may come twice (HSCAN);
   malformed entries are skipped and counted in *bad (may be NULL). CF_ERR_TOOBIG after
   max entries. */
typedef int(cf_db_archive_fn)(void *arg, const cf_db_archived_t *entry);
CF_MUST_USE cf_err_t cf_db_archive_walk(cf_store_t *store, size_t max, cf_db_archive_fn *fn,
                                        void *arg, size_t *bad);
/* Remove the entries whose not_after is before now, and malformed ones: an HSCAN walk
   with an HDEL after each batch that has some (up to 2 RT per CF_DB_ARCHIVE_SCAN entries).
   *removed (may be NULL) counts them. CF_ERR_TOOBIG past CF_DB_ARCHIVE_WALK entries. */
CF_MUST_USE cf_err_t cf_db_archive_prune(cf_store_t *store, int64_t now, size_t *removed);

#endif
