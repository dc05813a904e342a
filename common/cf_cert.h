/*  cf_cert - one X.509 certificate: parse, inspect, verify, classify, renewal timing  */
#ifndef CF_CERT_H_INCLUDED
#define CF_CERT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "cf_err.h"
#include "cf_key.h"

#define CF_CERT_MAX_INPUT   (256 * 1024) /* largest certificate/chain file we accept, bytes */
#define CF_CERT_MAX_CHAIN   16           /* most certificates we take from one file */
#define CF_CERT_MAX_SANS    64           /* most subjectAltNames we report */
#define CF_AGENT_URI_PREFIX "urn:certfleet:agent:"
#define CF_AGENT_SHARED_URI "urn:certfleet:agent-shared" /* seed compatibility mode */

/* The three components of the product, plus the CA itself. */
typedef enum {
    CF_COMPONENT_UNKNOWN = 0,
    CF_COMPONENT_SERVER,
    CF_COMPONENT_CONSOLE,
    CF_COMPONENT_AGENT,
    CF_COMPONENT_CA,
} cf_component_t;

const char *cf_component_name(cf_component_t c); /* "server", "console", "agent", "ca", "unknown" */
CF_MUST_USE cf_err_t cf_component_from_name(const char *name, cf_component_t *out);

/* The seed's states of a certificate (lock icons follow from them). */
typedef enum {
    CF_CERT_CURRENT = 0, /* valid and the one in use */
    CF_CERT_ARCHIVED,    /* valid but replaced: the holder gets the new one at check-in */
    CF_CERT_EXPIRED,     /* past notAfter: refused */
    CF_CERT_NOTYETVALID, /* before notBefore */
    CF_CERT_REVOKED,     /* serial in the revoked set */
} cf_cert_state_t;

const char *cf_cert_state_name(cf_cert_state_t s); /* "current", "archived", ... */

typedef struct cf_cert cf_cert_t; /* opaque; holds one reference to an X509 */

/* Parse one certificate from PEM or DER (DER when buf is exactly one SEQUENCE, else PEM when
   a "-----BEGIN " line occurs). Errors: CF_ERR_TOOBIG (len >
   CF_CERT_MAX_INPUT), CF_ERR_CORRUPT (not a certificate, truncated, trailing garbage in DER),
   CF_ERR_INVALID (NULL/empty). For PEM input the first CERTIFICATE block is taken. */
CF_MUST_USE cf_err_t cf_cert_parse(const void *buf, size_t len, cf_cert_t **cert_out);
/* Parse every CERTIFICATE block of a PEM file (or one DER certificate) into certs[0..n-1],
   at most max (<= CF_CERT_MAX_CHAIN; CF_ERR_TOOBIG past it). Each is the caller's; on
   failure none is returned. */
CF_MUST_USE cf_err_t cf_cert_parse_all(const void *buf, size_t len, cf_cert_t **certs, size_t max,
                                       size_t *n_out);
/* Wrap an X509: takes a new reference (X509_up_ref), the caller keeps its own. */
CF_MUST_USE cf_err_t cf_cert_from_x509(X509 *x509, cf_cert_t **cert_out);
/* Another handle on the same certificate (shared X509 reference). NULL on out-of-memory. */
cf_cert_t *cf_cert_dup(const cf_cert_t *cert);
void cf_cert_destroy(cf_cert_t **self_p); /* NULLs *self_p; safe to repeat */

/* Borrowed: lives as long as the cert. */
X509 *cf_cert_x509(const cf_cert_t *cert);

/* Encodings; the caller frees *out with cf_mem_free. PEM is NUL-terminated. */
CF_MUST_USE cf_err_t cf_cert_to_pem(const cf_cert_t *cert, char **pem_out, size_t *len_out);
CF_MUST_USE cf_err_t cf_cert_to_der(const cf_cert_t *cert, unsigned char **der_out,
                                    size_t *len_out);

/* Inspection. All strings are borrowed and live as long as the cert. */
const char *cf_cert_fingerprint(const cf_cert_t *cert); /* SHA-256, 64 lowercase hex */
/* The fingerprint cf_cert_fingerprint gives for the certificate whose DER is der (len
   bytes), without parsing it: SHA-256 of the bytes. CF_ERR_INVALID, CF_ERR_CRYPTO. */
CF_MUST_USE cf_err_t cf_cert_der_fingerprint(const void *der, size_t len, char out[65]);
const char *cf_cert_serial(const cf_cert_t *cert);      /* lowercase hex, no colons */
const char *cf_cert_subject(const cf_cert_t *cert);     /* RFC 2253 one line */
const char *cf_cert_issuer(const cf_cert_t *cert);      /* RFC 2253 one line */
const char *cf_cert_common_name(const cf_cert_t *cert); /* "" when there is no CN */
const char *cf_cert_key_name(const cf_cert_t *cert);    /* "P-256", "RSA-1024", ... */
time_t cf_cert_not_before(const cf_cert_t *cert);
time_t cf_cert_not_after(const cf_cert_t *cert);
int cf_cert_is_ca(const cf_cert_t *cert);           /* basicConstraints CA:TRUE */
int cf_cert_has_server_auth(const cf_cert_t *cert); /* EKU serverAuth */
int cf_cert_has_client_auth(const cf_cert_t *cert); /* EKU clientAuth */
/* Best guess from the extensions: CA, server (serverAuth), agent (agent URI SAN or the
   shared-agent URI), console (clientAuth otherwise), unknown. */
cf_component_t cf_cert_component(const cf_cert_t *cert);
/* Agent id from SAN URI urn:certfleet:agent:<id>; NULL when there is none. */
const char *cf_cert_agent_id(const cf_cert_t *cert);
size_t cf_cert_san_count(const cf_cert_t *cert);
/* i-th SAN as "DNS:name", "IP:addr", "URI:uri", "email:x"; NULL past the end. */
const char *cf_cert_san(const cf_cert_t *cert, size_t i);

/* Any X.509 name (a CSR's subject, a CRL's issuer) as RFC 2253 text, like cf_cert_subject.
   Returns a new string the caller frees with cf_mem_free, or NULL on out-of-memory. */
char *cf_cert_name_text(const X509_NAME *name);

/* A reader of certificates for their names, dates, serial, fingerprint and the encoding of
   their public key, without decoding the key: it parses in a library context that holds
   only OpenSSL's "null" provider (so the default provider is not loaded into it as a
   fallback). OpenSSL 3.0 sets up its decoders anew for every key it decodes
   (openssl/openssl#17950): a parse this way costs about a twentieth. For code that reads a
   certificate it already trusts (the server's record of an agent's certificate). Not
   thread-safe: one per thread; it must outlive the certificates it parsed. */
typedef struct cf_cert_reader cf_cert_reader_t;

/* CF_ERR_NOMEM, CF_ERR_CRYPTO (no null provider). *out is the caller's. */
CF_MUST_USE cf_err_t cf_cert_reader_new(cf_cert_reader_t **out);
void cf_cert_reader_destroy(cf_cert_reader_t **self_p); /* NULLs *self_p; safe to repeat */
/* One DER certificate (at most CF_CERT_MAX_INPUT bytes, nothing after it), read with
   reader. The cert answers every name, date, serial, fingerprint, SAN and extension
   question like one from cf_cert_parse, and cf_cert_key_id and i2d of its X509_PUBKEY give
   the key's encoding; but its key is not decoded: cf_cert_key_name is "", and whatever
   needs the key or a digest in its library context (cf_cert_matches_key, cf_cert_verify,
   TLS) fails with an error. Errors: CF_ERR_INVALID, CF_ERR_TOOBIG, CF_ERR_CORRUPT,
   CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_cert_reader_parse(cf_cert_reader_t *reader, const void *der, size_t len,
                                          cf_cert_t **cert_out);

/* CF_OK if key is the private half of the certificate's public key, else CF_ERR_KEYMISMATCH. */
CF_MUST_USE cf_err_t cf_cert_matches_key(const cf_cert_t *cert, const cf_key_t *key);
/* The certified key's identity: SHA-256 of the certificate's SubjectPublicKeyInfo DER, as
   stored (no key decoding: cheap where OpenSSL 3.0 decodes keys slowly). Two certificates
   with equal ids certify the same public key. CF_ERR_CRYPTO, CF_ERR_INVALID. */
#define CF_CERT_KEY_ID_LEN 32
CF_MUST_USE cf_err_t cf_cert_key_id(const cf_cert_t *cert, unsigned char out[CF_CERT_KEY_ID_LEN]);
/* CF_OK, CF_ERR_EXPIRED or CF_ERR_NOTYETVALID at time now. */
CF_MUST_USE cf_err_t cf_cert_check_time(const cf_cert_t *cert, time_t now);
/* Verify that leaf chains to ca (through optional intermediates, n <= CF_CERT_MAX_CHAIN) at
   time now: signatures, validity, CA constraints. CF_ERR_UNTRUSTED, CF_ERR_EXPIRED,
   CF_ERR_NOTYETVALID; why (optional) gets OpenSSL's reason. */
CF_MUST_USE cf_err_t cf_cert_verify(const cf_cert_t *leaf, const cf_cert_t *ca,
                                    cf_cert_t *const *intermediates, size_t n, time_t now,
                                    cf_why_t *why);

/* The seed's state at time now. Revoked wins over everything, then expiry and
   not-yet-valid, then archived. */
cf_cert_state_t cf_cert_classify(const cf_cert_t *cert, time_t now, int archived, int revoked);
/* Whole days until notAfter (negative once expired), rounded down. */
long cf_cert_days_left(const cf_cert_t *cert, time_t now);

/* When renewal falls due: the earlier of notAfter - days_before days and notBefore + 2/3 of
   the lifetime, moved earlier by a jitter in [0, window) where window is 1/20 of the
   lifetime capped at 48 h. The days rule is ignored when it falls before a third of the
   lifetime (days_before at or near the lifetime), so short-lived certificates renew at 2/3
   of their life instead of at once, over and over. The jitter comes from the fingerprint, so one
   certificate always gets the same moment while a fleet's are spread out. */
time_t cf_cert_renew_at(const cf_cert_t *cert, unsigned days_before);
/* Pure form for tests and for records that hold only the dates: seed picks the jitter. */
time_t cf_cert_renew_at_times(time_t not_before, time_t not_after, unsigned days_before,
                              uint64_t seed);
int cf_cert_renewal_due(const cf_cert_t *cert, time_t now, unsigned days_before);

#endif
