/*  cf_ca - the internal certificate authority: create/load, issue, sign CSRs, build CRLs  */
#ifndef CF_CA_H_INCLUDED
#define CF_CA_H_INCLUDED

#include <stddef.h>
#include <time.h>

#include "cf_cert.h"
#include "cf_err.h"
#include "cf_issue.h"
#include "cf_key.h"

#define CF_CA_DEFAULT_CA_DAYS 3650           /* CA lifetime when opts->days is 0 */
#define CF_CA_MAX_CA_DAYS     36500          /* longest CA lifetime we create */
#define CF_CA_MAX_CERT_DER    16384          /* largest certificate we build (CF_ERR_TOOBIG) */
#define CF_CA_MAX_CRL_SERIALS 100000         /* most serials in one CRL */
#define CF_CA_SERIAL_BYTES    16             /* random serial: 128 bits */
#define CF_CA_DEFAULT_NAME    "certfleet CA" /* CA common name when opts->name is NULL */

typedef struct cf_ca cf_ca_t; /* opaque: CA cert + key + prepared issuer (one thread) */

typedef struct {
    cf_key_type_t key_type; /* 0 = CF_KEY_P256 */
    const char *name;       /* CA common name; NULL = CF_CA_DEFAULT_NAME; 1..64 bytes */
    unsigned days;          /* lifetime; 0 = CF_CA_DEFAULT_CA_DAYS; max CF_CA_MAX_CA_DAYS */
    time_t now;             /* 0 = time(NULL); tests inject other moments */
} cf_ca_opts_t;

/* Bit of a key type in cf_ca_policy_t.key_types. */
#define CF_CA_KEYBIT(type) (1u << (unsigned) (type))
#define CF_CA_KEYS_ALL                                                                      \
    (CF_CA_KEYBIT(CF_KEY_P256) | CF_CA_KEYBIT(CF_KEY_P384) | CF_CA_KEYBIT(CF_KEY_RSA2048) | \
     CF_CA_KEYBIT(CF_KEY_RSA3072) | CF_CA_KEYBIT(CF_KEY_RSA4096) | CF_CA_KEYBIT(CF_KEY_ED25519))

/* What a CSR may get. A CSR's own extensions are never copied: the CA sets them all. */
typedef struct {
    unsigned key_types;       /* CF_CA_KEYBIT()s allowed; 0 = CF_CA_KEYS_ALL. Key types
                                 outside cf_key_type_t (RSA-1024, P-521, ...) never pass. */
    unsigned days;            /* lifetime granted; 0 = CF_ISSUE_DEFAULT_DAYS */
    unsigned max_days;        /* cap: days above it are lowered to it (capped, not refused,
                                 since a PKCS#10 request cannot ask for a lifetime; the
                                 lifetime is ours); 0 = CF_ISSUE_MAX_DAYS */
    cf_component_t component; /* what the certificate is for: CF_COMPONENT_AGENT (CN and
                                 URI SAN = agent id) or CF_COMPONENT_CONSOLE (CN = name) */
} cf_ca_policy_t;

/* Create a CA: a new key of opts->key_type and a self-signed certificate with
   basicConstraints (critical, CA:TRUE, pathLen 0), keyUsage (critical: digitalSignature,
   keyCertSign, cRLSign), subjectKeyIdentifier and authorityKeyIdentifier. opts may be NULL
   (all defaults). *out is the caller's (cf_ca_destroy). Errors: CF_ERR_INVALID (name,
   days), CF_ERR_NOMEM, CF_ERR_CRYPTO. */
CF_MUST_USE cf_err_t cf_ca_create(const cf_ca_opts_t *opts, cf_ca_t **out);

/* Rebuild a CA from stored material. The CA keeps its own references; the caller keeps
   cert and key. Errors: CF_ERR_INVALID (cert is not a CA: no basicConstraints CA:TRUE or
   a keyUsage without keyCertSign), CF_ERR_KEYMISMATCH (key is not the cert's),
   CF_ERR_NOMEM, CF_ERR_CRYPTO. */
CF_MUST_USE cf_err_t cf_ca_load(const cf_cert_t *cert, const cf_key_t *key, cf_ca_t **out);

void cf_ca_destroy(cf_ca_t **self_p); /* NULLs *self_p; safe to repeat */

/* Borrowed: live as long as the CA. */
const cf_cert_t *cf_ca_cert(const cf_ca_t *ca);
const cf_key_t *cf_ca_key(const cf_ca_t *ca);

/* Issue one certificate, the fast path: DER out, no X509 object built. Profile per
   component (docs/pki.md): server = EKU serverAuth, keyUsage digitalSignature
   (+keyEncipherment for RSA), SAN = name + dns + ips; console = EKU clientAuth; agent =
   EKU clientAuth, CN = agent id, SAN URI urn:certfleet:agent:<id> (or CF_AGENT_SHARED_URI
   when shared_agent). Serial: 128 random bits, positive. Validity: now - CF_ISSUE_SKEW
   to now + lifetime, but never past the CA's notAfter. Signature: ECDSA-SHA256 (P-256 CA),
   ECDSA-SHA384 (P-384), RSA PKCS#1 v1.5 SHA-256, or Ed25519.
   When req has neither public_key nor spki a key of req->key_type is generated and handed
   to *key_out (then key_out is required); otherwise *key_out is left NULL (key_out may be
   NULL). *der_out (free with cf_mem_free) and *len_out are the caller's.
   Errors: CF_ERR_INVALID (component, name, SAN, lifetime, missing key_out),
   CF_ERR_TOOBIG (more than CF_ISSUE_MAX_SANS SANs, certificate over CF_CA_MAX_CERT_DER,
   spki over its cap), CF_ERR_CORRUPT (spki undecodable), CF_ERR_UNSUPPORTED (a public key
   that is not a cf_key_type_t), CF_ERR_NOMEM, CF_ERR_CRYPTO. Nothing is returned on error.
   Not thread-safe: one cf_ca_t per thread. */
CF_MUST_USE cf_err_t cf_ca_issue_der(cf_ca_t *ca, const cf_issue_t *req, unsigned char **der_out,
                                     size_t *len_out, cf_key_t **key_out);

/* As cf_ca_issue_der, returning a parsed certificate (*cert_out is the caller's). */
CF_MUST_USE cf_err_t cf_ca_issue(cf_ca_t *ca, const cf_issue_t *req, cf_cert_t **cert_out,
                                 cf_key_t **key_out);

/* Sign a PKCS#10 request (PEM or DER, len <= CF_CSR_MAX_INPUT
   of cf_csr.h) under policy (NULL = agent
   defaults) for the holder named expected (the agent id for agents). Refusals, with the
   reason in why (optional): CF_ERR_TOOBIG (over the cap), CF_ERR_CORRUPT (not a CSR,
   truncated, trailing bytes), CF_ERR_POLICY (self-signature does not verify, key type not
   allowed, subject CN or URI SAN is not expected, requests CA:TRUE, version not 1).
   CF_ERR_INVALID for a bad policy or expected name. On success *cert_out is the caller's:
   issued at now (0 = time(NULL)) for min(policy days, max_days, the CA's notAfter). */
CF_MUST_USE cf_err_t cf_ca_sign_csr(cf_ca_t *ca, const void *csr, size_t len,
                                    const cf_ca_policy_t *policy, const char *expected, time_t now,
                                    cf_cert_t **cert_out, cf_why_t *why);

/* A signed v2 CRL listing the revoked serials (hex as cf_cert_serial gives, at most
   CF_CA_MAX_CRL_SERIALS; serials may be NULL when n is 0), with thisUpdate = this_update
   (0 = time(NULL)), nextUpdate = next_update (must be later), each entry's revocationDate
   = this_update, authorityKeyIdentifier and cRLNumber = this_update (so numbers grow
   across servers without coordination). *pem_out ("X509 CRL" PEM, NUL-terminated) is the
   caller's (cf_mem_free). Errors: CF_ERR_INVALID (bad serial, times), CF_ERR_TOOBIG,
   CF_ERR_NOMEM, CF_ERR_CRYPTO. */
CF_MUST_USE cf_err_t cf_ca_crl(cf_ca_t *ca, const char *const *serials, size_t n,
                               time_t this_update, time_t next_update, char **pem_out);

#endif
