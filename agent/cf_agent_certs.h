/*  cf_agent_certs - the agent's certificate and key on disk: crash-safe installation that
    keeps the previous pair until a handshake with the new one works, and recovery at start  */
#ifndef CF_AGENT_CERTS_H_INCLUDED
#define CF_AGENT_CERTS_H_INCLUDED

#include <stddef.h>

#include "cf_cert.h"
#include "cf_err.h"

#define CF_AGENT_CERT_FILE "cert.pem"  /* chain PEM, leaf first (0600) */
#define CF_AGENT_KEY_FILE  "key.pem"   /* private key PEM (0600) */
#define CF_AGENT_CERTS_MAX (24 * 1024) /* largest chain or key file read, bytes */
#define CF_AGENT_FPR_HEX   64          /* SHA-256 fingerprint, lowercase hex */
#define CF_AGENT_FAULT_ENV "CF_FAULT"  /* fault switch, see cf_agent_certs_install */

/* Does a TLS client with cert_path/key_path get through to a server (a check-in)? CF_OK
   yes; else an error with a reason in why. */
typedef cf_err_t (*cf_agent_certs_check_fn)(void *ctx, const char *cert_path, const char *key_path,
                                            cf_why_t *why);

/* Install a chain (PEM, leaf first) and its private key (PEM; the caller keeps and wipes it)
   in dir as cert.pem/key.pem:
   1. both are parsed and the key must be the leaf's (else nothing is touched);
   2. cert.pem.new and key.pem.new are written 0600 with fsync (CF_FAULT=after-write stops
      the process here with exit code 86);
   3. the pair in use moves to cert.pem.prev/key.pem.prev, the new pair to cert.pem/key.pem,
      and the directory is synced (CF_FAULT=after-rename stops here);
   4. check (may be NULL: no check) runs with the new files: on success the previous pair is
      removed; on failure the previous pair comes back (or, at a first install, the new one
      is removed) and the check's error is returned with why saying what was kept.
   fpr_out (may be NULL) gets the new leaf's fingerprint on success.
   Errors: CF_ERR_INVALID (NULL or empty input), CF_ERR_CORRUPT/CF_ERR_TOOBIG (input that
   does not parse), CF_ERR_KEYMISMATCH, CF_ERR_IO, CF_ERR_NOMEM, or the check's error. */
CF_MUST_USE cf_err_t cf_agent_certs_install(const char *dir, const char *chain_pem,
                                            size_t chain_len, const char *key_pem, size_t key_len,
                                            cf_agent_certs_check_fn check, void *check_ctx,
                                            char fpr_out[CF_AGENT_FPR_HEX + 1], cf_why_t *why);

/* At start: finish or undo an installation a crash interrupted, so dir holds exactly one
   pair. Temporary and .new files are removed; when .prev files are left, the previous pair
   is restored if it is whole and matching, else the new pair is kept if it matches (the
   crash came while the previous one was being removed). *restored (may be NULL) is 1 when
   the previous pair came back. Errors: CF_ERR_INVALID, CF_ERR_IO. */
CF_MUST_USE cf_err_t cf_agent_certs_recover(const char *dir, int *restored, cf_why_t *why);

/* The leaf of dir/cert.pem, the caller's (cf_cert_destroy). Errors: CF_ERR_NOTFOUND (no
   certificate installed), CF_ERR_CORRUPT, CF_ERR_TOOBIG, CF_ERR_IO, CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_agent_certs_current(const char *dir, cf_cert_t **cert_out, cf_why_t *why);

#endif
