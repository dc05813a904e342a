/*  cf_localstore - pick a certificate from a local directory by subject or fingerprint  */
#ifndef CF_LOCALSTORE_H_INCLUDED
#define CF_LOCALSTORE_H_INCLUDED

#include <stddef.h>

#include "cf_err.h"
#include "cf_import.h"

#define CF_LOCALSTORE_MAX_FILES 256 /* most certificate files read from one directory */
#define CF_LOCALSTORE_MAX_HITS  32  /* most matches cf_localstore_select looks at */
#define CF_LOCALSTORE_MAX_MATCH 256 /* longest subject/fingerprint match string, bytes */

/* The seed's "select from local certificate store", for a directory: .pem/.crt/.cer/.der files
   (PEM or DER; every certificate in a file is a candidate) and .p12/.pfx files (only the
   key's certificate; read only when password is non-NULL, else skipped; "" is the empty
   password). At most CF_LOCALSTORE_MAX_FILES such files (CF_ERR_TOOBIG past it); files over
   CF_CERT_MAX_INPUT bytes, non-regular (FIFOs...), unreadable or unparsable ones and names
   starting with '.' are skipped. match is a SHA-256 fingerprint (64 hex digits, any case,
   colons or spaces allowed) or else text found, case-insensitively, in the RFC 2253 subject
   or the CN. */
typedef struct {
    char *file;          /* owned; file name inside the directory */
    cf_bundle_t *bundle; /* owned; PUBLIC with its issuers from the same file, or IMPORTED
                            with its key when from a .p12 */
} cf_localstore_hit_t;

/* Every match, at most max, sorted by file name; the same certificate found twice counts
   once (a copy with a key wins). No validity check. *n_out hits are the caller's (free with
   cf_localstore_hits_clear). Errors: CF_ERR_INVALID (no dir, empty or too long match),
   CF_ERR_IO (cannot open dir), CF_ERR_TOOBIG (too many files, or more than max matches),
   CF_ERR_NOMEM; on error no hit is returned. */
CF_MUST_USE cf_err_t cf_localstore_find(const char *dir, const char *match, const char *password,
                                        cf_localstore_hit_t *hits, size_t max, size_t *n_out,
                                        cf_why_t *why);
/* Free hits[0..n-1] and NULL their fields; safe to repeat. */
void cf_localstore_hits_clear(cf_localstore_hit_t *hits, size_t n);

/* The one match, checked with cf_bundle_check(check) (check NULL = validity window now).
   *out is the caller's. CF_ERR_NOTFOUND when nothing matches; CF_ERR_INVALID when several
   do, why listing them (file, CN, fingerprint prefix; cf_localstore_find gives them all):
   narrow the match or use a fingerprint. Other errors as cf_localstore_find and
   cf_bundle_check. */
CF_MUST_USE cf_err_t cf_localstore_select(const char *dir, const char *match, const char *password,
                                          const cf_import_check_t *check, cf_bundle_t **out,
                                          cf_why_t *why);

#endif
