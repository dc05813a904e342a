/*  cf_csr - PKCS#10 requests: parse untrusted input, check it against a policy, create  */
#ifndef CF_CSR_H_INCLUDED
#define CF_CSR_H_INCLUDED

#include <stddef.h>

#include <openssl/x509.h>

#include "cf_ca.h"
#include "cf_err.h"
#include "cf_key.h"

#define CF_CSR_MAX_INPUT (16 * 1024) /* largest CSR (PEM or DER) we read, bytes */

typedef struct cf_csr cf_csr_t; /* opaque; one parsed request */

/* Parse a CSR from untrusted bytes: PEM (the first block must be a "CERTIFICATE REQUEST"
   or "NEW CERTIFICATE REQUEST") or DER (exactly len bytes, nothing after). Nothing is
   checked beyond decoding: call cf_csr_check. Errors (reason in why, optional):
   CF_ERR_INVALID (NULL buf or csr_out), CF_ERR_TOOBIG (len > CF_CSR_MAX_INPUT),
   CF_ERR_CORRUPT (empty, not a CSR, truncated, trailing bytes), CF_ERR_NOMEM.
   On success *csr_out is the caller's (cf_csr_destroy); on failure it is NULL. */
CF_MUST_USE cf_err_t cf_csr_parse(const void *buf, size_t len, cf_csr_t **csr_out, cf_why_t *why);

/* Check a parsed CSR for the holder named expected (agent id or console name) under
   policy (NULL = agent defaults), in this order: version 1, key type known and allowed,
   self-signature verifies, subject has exactly one CN and it equals expected, every URI
   SAN requested equals the expected agent URI (agents; consoles may request none), no
   basicConstraints CA:TRUE requested (refused, not dropped). Other requested extensions
   are ignored: the CA never copies them. CF_ERR_POLICY with the reason in why (untrusted
   text in it is cut to printable ASCII); CF_ERR_INVALID for a bad policy or expected. */
CF_MUST_USE cf_err_t cf_csr_check(const cf_csr_t *csr, const cf_ca_policy_t *policy,
                                  const char *expected, cf_why_t *why);

/* SubjectPublicKeyInfo DER of the request's key (re-encoded by OpenSSL, so canonical).
   Borrowed: lives as long as the CSR. */
const unsigned char *cf_csr_spki(const cf_csr_t *csr, size_t *len_out);
/* The parsed request. Borrowed: lives as long as the CSR. */
X509_REQ *cf_csr_req(const cf_csr_t *csr);

void cf_csr_destroy(cf_csr_t **self_p); /* NULLs *self_p; safe to repeat */

/* The agent side: a PEM CSR for agent_id (cf_issue_check_agent_id) signed by key, with
   subject CN=<agent_id> and an extension request for SAN URI urn:certfleet:agent:<id>.
   Digest: SHA-256 (SHA-384 for P-384, none for Ed25519). *pem_out (NUL-terminated) is the
   caller's (cf_mem_free). Errors: CF_ERR_INVALID (id, NULL key), CF_ERR_NOMEM,
   CF_ERR_CRYPTO. */
CF_MUST_USE cf_err_t cf_csr_create(const cf_key_t *key, const char *agent_id, char **pem_out);

#endif
