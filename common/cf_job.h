/*  cf_job - one signed certificate job for one agent: build, sign, parse, verify, seal  */
#ifndef CF_JOB_H_INCLUDED
#define CF_JOB_H_INCLUDED

#include <stddef.h>
#include <time.h>

#include "cf_cert.h"
#include "cf_err.h"
#include "cf_key.h"

/* docs/PROTOCOL.md ("Jobs") describes the JSON form, the canonical bytes that are signed
   and the sealing. */
#define CF_JOB_FORMAT 1 /* "v" of the JSON form this build reads/writes */
#define CF_JOB_PROTO                                                                     \
    3                                      /* agent protocol level this build implements \
                                              (2 brought reissue, 3 the shared copy) */
#define CF_JOB_AGENT_ALL     "*"           /* agent of a shared copy: every agent the job targets */
#define CF_JOB_PROTO_SHARED  3             /* level that accepts a shared copy (its min_proto) */
#define CF_JOB_MAX_WIRE      (64 * 1024)   /* largest signed job, bytes */
#define CF_JOB_ID_HEX        32            /* job id: 128 random bits, lowercase hex */
#define CF_JOB_ALIAS_MAX     64            /* server alias (issuer, favorite), bytes */
#define CF_JOB_MAX_SECRET    (24 * 1024)   /* largest sealed plaintext (key, PKCS#12), bytes */
#define CF_JOB_MAX_CHAIN     (24 * 1024)   /* largest certificate chain PEM, bytes */
#define CF_JOB_MAX_CERT      16384         /* largest reissued certificate DER, bytes */
#define CF_JOB_MAX_PASSWORD  1024          /* largest PKCS#12 password, bytes */
#define CF_JOB_MAX_SIGNER    16384         /* largest signer certificate DER, bytes */
#define CF_JOB_MAX_LIFETIME  (366 * 86400) /* longest expires - created, seconds */
#define CF_JOB_SKEW          300           /* accepted clock skew on "created", seconds */
#define CF_JOB_CURVE_KEY_LEN 32            /* CURVE (X25519) public or secret key, raw bytes */
#define CF_JOB_SEAL_OVERHEAD 48            /* crypto_box_SEALBYTES */
#define CF_JOB_SIG_CONTEXT   "certfleet-job-v1" /* signed bytes = this, a NUL, canonical */

typedef enum {
    CF_JOB_TYPE_INSTALL_CERT = 1, /* push a certificate and its (sealed) private key */
    CF_JOB_TYPE_RENEW_CSR,        /* make a key and a CSR; the job id is the nonce */
    CF_JOB_TYPE_SET_FAVORITE,     /* change the agent's favorite server */
    CF_JOB_TYPE_RECHECK,          /* report the certificate actually in use */
    CF_JOB_TYPE_REISSUE,          /* a new certificate for the key the agent holds (level 2) */
    CF_JOB_TYPE_COUNT_            /* one past the last type, not a type */
} cf_job_type_t;

typedef enum {
    CF_JOB_FORM_NONE = 0, /* not an install_cert job */
    CF_JOB_FORM_PEM,      /* chain PEM in clear + private key PEM sealed */
    CF_JOB_FORM_P12,      /* PKCS#12 sealed + its password sealed */
} cf_job_form_t;

typedef struct cf_job cf_job_t; /* opaque */

/* What every job has. created/expires are Unix seconds. */
typedef struct {
    cf_job_type_t type; /* what to do */
    const char *id;     /* NULL = 128 fresh random bits; else 32 lowercase hex (the same id
                           for every agent's copy of one job) */
    const char *agent;  /* target agent id: a job as delivered is for ONE agent; or
                           CF_JOB_AGENT_ALL for the shared copy of a job to all agents
                           (types cf_job_type_shareable only; min_proto raised to
                           CF_JOB_PROTO_SHARED; docs/PROTOCOL.md 4) */
    const char *issuer; /* alias of the issuing server, 1..CF_JOB_ALIAS_MAX of
                           [A-Za-z0-9._:-] */
    time_t created;     /* > 0 */
    time_t expires;     /* created < expires <= created + CF_JOB_MAX_LIFETIME */
    unsigned min_proto; /* agent protocol level needed; 0 = 1 */
} cf_job_spec_t;

/* "install_cert", "renew_csr", "set_favorite", "recheck", "reissue"; "unknown" out of range. */
const char *cf_job_type_name(cf_job_type_t type);
/* Inverse of cf_job_type_name; CF_ERR_INVALID for anything else (*out untouched). */
CF_MUST_USE cf_err_t cf_job_type_from_name(const char *name, cf_job_type_t *out);

/* 1 when one signed copy may serve every agent of a job to all agents (agent
   CF_JOB_AGENT_ALL): recheck and set_favorite, whose payload holds nothing for one agent
   alone and nothing secret; 0 for the others. */
int cf_job_type_shareable(cf_job_type_t type);

/* A new, unsigned job from spec (copied). Payload setters below fill what the type needs
   (set_favorite and install_cert must be set before signing). *out is the caller's
   (cf_job_destroy). Errors: CF_ERR_INVALID (a field, with why), CF_ERR_NOMEM,
   CF_ERR_CRYPTO (no randomness). */
CF_MUST_USE cf_err_t cf_job_new(const cf_job_spec_t *spec, cf_job_t **out, cf_why_t *why);
void cf_job_destroy(cf_job_t **self_p); /* NULLs *self_p; safe to repeat */

/* set_favorite: the alias to prefer (same rules as issuer). Drops any signature.
   Errors: CF_ERR_INVALID (wrong type or alias), CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_job_set_favorite(cf_job_t *job, const char *alias);
/* install_cert, PEM form: the certificate chain (PEM, 1..CF_JOB_MAX_CHAIN bytes, sent in
   clear) and the private key PEM (1..CF_JOB_MAX_SECRET bytes), which is sealed here to
   agent_pub (the agent's CURVE public key, 32 raw bytes) and never stored in clear. The
   caller keeps and wipes key_pem. Drops any signature. Errors: CF_ERR_INVALID (wrong type,
   empty input, a public key that cannot be sealed to), CF_ERR_TOOBIG, CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_job_set_install_pem(cf_job_t *job, const char *chain_pem, size_t chain_len,
                                            const char *key_pem, size_t key_len,
                                            const unsigned char agent_pub[CF_JOB_CURVE_KEY_LEN]);
/* install_cert, PKCS#12 form: the PKCS#12 (DER, 1..CF_JOB_MAX_SECRET bytes) and its
   password (NUL-terminated, 0..CF_JOB_MAX_PASSWORD bytes), each sealed to agent_pub.
   Same errors. */
CF_MUST_USE cf_err_t cf_job_set_install_p12(cf_job_t *job, const unsigned char *p12, size_t p12_len,
                                            const char *password,
                                            const unsigned char agent_pub[CF_JOB_CURVE_KEY_LEN]);

/* reissue: the new certificate (DER, 1..CF_JOB_MAX_CERT bytes, sent in clear: it holds no
   secret; the agent keeps the private key it has). Drops any signature. Errors:
   CF_ERR_INVALID (wrong type, empty), CF_ERR_TOOBIG, CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_job_set_reissue(cf_job_t *job, const unsigned char *der, size_t len);

/* Sign the job with the issuing server's certificate and key: the certificate (DER) goes
   into the job, the signature covers CF_JOB_SIG_CONTEXT, a NUL and the canonical form of
   every other field (ECDSA-SHA256 for P-256, -SHA384 for P-384, RSA PKCS#1 v1.5 SHA-256,
   Ed25519). Errors: CF_ERR_STATE (payload missing), CF_ERR_POLICY (cert without
   serverAuth: such a job would be refused), CF_ERR_KEYMISMATCH, CF_ERR_TOOBIG (signed job
   over CF_JOB_MAX_WIRE), CF_ERR_NOMEM, CF_ERR_CRYPTO. On failure the job stays unsigned. */
CF_MUST_USE cf_err_t cf_job_sign(cf_job_t *job, const cf_cert_t *server_cert,
                                 const cf_key_t *server_key, cf_why_t *why);
/* The signed job as it travels (compact JSON, keys sorted, NUL-terminated). *out is the
   caller's (cf_mem_free). Errors: CF_ERR_STATE (not signed), CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_job_to_wire(const cf_job_t *job, char **out, size_t *len_out);

/* Parse a job from untrusted bytes and check its form, WITHOUT checking the signature
   (a server reading its own store, a console showing a job). *out is the caller's.
   Errors with a reason in why: CF_ERR_TOOBIG (len > CF_JOB_MAX_WIRE), CF_ERR_CORRUPT (not
   JSON, a missing, extra or malformed field), CF_ERR_UNSUPPORTED (a "v" we do not read),
   CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_job_parse(const void *buf, size_t len, cf_job_t **out, cf_why_t *why);

/* The agent's replay check: CF_OK when job_id was never applied here, CF_ERR_EXISTS when
   it was (the verifier refuses it as a replay), anything else when the store cannot tell
   (the verifier passes that error on). An agent answers CF_ERR_EXISTS for jobs it has
   installed or is installing; for jobs that failed it may answer CF_OK so that an
   operator's retry (the same job sent again) runs. */
typedef cf_err_t (*cf_job_seen_fn)(void *ctx, const char *job_id);

/* The agent side: checks jobs against one CA for one agent id, and keeps the last signer
   certificate that passed (by the SHA-256 of its DER) so a fleet-wide job costs one
   chain check per agent process, not one per job. One thread at a time. */
typedef struct cf_job_verifier cf_job_verifier_t;

/* ca is referenced (the caller keeps its own); agent_id is copied. Errors:
   CF_ERR_INVALID (NULL ca, bad agent id), CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_job_verifier_new(const cf_cert_t *ca, const char *agent_id,
                                         cf_job_verifier_t **out);
void cf_job_verifier_destroy(cf_job_verifier_t **self_p); /* NULLs *self_p; safe to repeat */
/* The agent id jobs are checked against from now on (copied), the signer cache kept: one
   verifier serves the many agents of one thread (a simulator's fleet). CF_ERR_INVALID for
   a bad id (the verifier is unchanged). */
CF_MUST_USE cf_err_t cf_job_verifier_set_agent(cf_job_verifier_t *v, const char *agent_id);
/* Full chain verifications done so far (the rest were served by the cache). */
unsigned long cf_job_verifier_chain_checks(const cf_job_verifier_t *v);

/* Accept a job (untrusted bytes) only if, in this order: it parses (cf_job_parse errors);
   the signer certificate chains to the CA at now (CF_ERR_UNTRUSTED, CF_ERR_EXPIRED,
   CF_ERR_NOTYETVALID) and carries EKU serverAuth (CF_ERR_POLICY: agent and console
   certificates never do); the signature verifies over the canonical form (CF_ERR_UNTRUSTED);
   it is addressed to this agent (CF_ERR_POLICY); now is before its expiry (CF_ERR_EXPIRED)
   and not more than CF_JOB_SKEW before its creation (CF_ERR_NOTYETVALID); this agent speaks
   the protocol level it needs (CF_ERR_UNSUPPORTED); and seen() does not know it
   (CF_ERR_EXISTS; seen's own errors passed on). Each refusal says why. seen is required and
   only asked about jobs that passed everything else. On success *out is the caller's. */
CF_MUST_USE cf_err_t cf_job_verifier_check(cf_job_verifier_t *v, const void *buf, size_t len,
                                           time_t now, cf_job_seen_fn seen, void *seen_ctx,
                                           cf_job_t **out, cf_why_t *why);
/* One-shot cf_job_verifier_check with a verifier of its own (no cache across calls). */
CF_MUST_USE cf_err_t cf_job_verify(const void *buf, size_t len, const cf_cert_t *ca,
                                   const char *agent_id, time_t now, cf_job_seen_fn seen,
                                   void *seen_ctx, cf_job_t **out, cf_why_t *why);

/* Fields. Strings are borrowed and live as long as the job. */
const char *cf_job_id(const cf_job_t *job);
cf_job_type_t cf_job_type(const cf_job_t *job);
const char *cf_job_agent(const cf_job_t *job);
const char *cf_job_issuer(const cf_job_t *job);
time_t cf_job_created(const cf_job_t *job);
time_t cf_job_expires(const cf_job_t *job);
unsigned cf_job_min_proto(const cf_job_t *job);
const char *cf_job_favorite(const cf_job_t *job); /* set_favorite; NULL for other types */
cf_job_form_t cf_job_form(const cf_job_t *job);   /* install_cert; CF_JOB_FORM_NONE else */
int cf_job_is_signed(const cf_job_t *job);

/* install_cert, PEM form: the certificate chain (NUL-terminated, the caller's:
   cf_mem_free). Errors: CF_ERR_STATE (not the PEM form), CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_job_chain_pem(const cf_job_t *job, char **pem_out, size_t *len_out);
/* reissue: the certificate it carries, checked for the agent that holds key (its own private
   key) and trusts ca: it parses (CF_ERR_CORRUPT), chains to ca at now (CF_ERR_UNTRUSTED,
   CF_ERR_EXPIRED, CF_ERR_NOTYETVALID), names the job's agent as CN and agent URI SAN
   (CF_ERR_POLICY) and certifies key's public half (CF_ERR_KEYMISMATCH). Each refusal says
   why. *cert_out is the caller's. CF_ERR_STATE for another job type, CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_job_reissue_cert(const cf_job_t *job, const cf_cert_t *ca,
                                         const cf_key_t *key, time_t now, cf_cert_t **cert_out,
                                         cf_why_t *why);
/* A reissued certificate names agent as its CN and as its agent URI SAN (the profile of
   cf_issue). CF_ERR_POLICY with why otherwise. */
CF_MUST_USE cf_err_t cf_job_reissue_names(const cf_cert_t *cert, const char *agent, cf_why_t *why);
/* reissue: the certificate it carries as DER, not checked (a checker of its own, as the
   simulator's, must do all cf_job_reissue_cert_id does). *der_out: cf_mem_free. Errors:
   CF_ERR_STATE (another type), CF_ERR_CORRUPT (not base64), CF_ERR_TOOBIG, CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_job_reissue_der(const cf_job_t *job, unsigned char **der_out,
                                        size_t *len_out);
/* Like cf_job_reissue_cert for an agent that knows the key it holds by the cf_cert_key_id
   of its certificate in use (held_id) instead of the parsed private key: the reissued
   certificate must carry the same SubjectPublicKeyInfo (CF_ERR_KEYMISMATCH otherwise).
   The simulator's form: no private key decoded per job. */
CF_MUST_USE cf_err_t cf_job_reissue_cert_id(const cf_job_t *job, const cf_cert_t *ca,
                                            const unsigned char held_id[CF_CERT_KEY_ID_LEN],
                                            time_t now, cf_cert_t **cert_out, cf_why_t *why);
/* install_cert, PEM form: open the sealed private key with the agent's CURVE key pair.
   *key_out is NUL-terminated and the caller's: cf_mem_free_secret. Errors: CF_ERR_STATE,
   CF_ERR_SECRET (not sealed to this key pair, or damaged), CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_job_open_key(const cf_job_t *job,
                                     const unsigned char pub[CF_JOB_CURVE_KEY_LEN],
                                     const unsigned char secret[CF_JOB_CURVE_KEY_LEN],
                                     char **key_out, size_t *len_out);
/* install_cert, PKCS#12 form: open the sealed PKCS#12 and password (both the caller's:
   cf_mem_free_secret / cf_mem_free_secret_str). Same errors; nothing returned on error. */
CF_MUST_USE cf_err_t cf_job_open_p12(const cf_job_t *job,
                                     const unsigned char pub[CF_JOB_CURVE_KEY_LEN],
                                     const unsigned char secret[CF_JOB_CURVE_KEY_LEN],
                                     unsigned char **p12_out, size_t *p12_len, char **password_out);
/* install_cert, PKCS#12 form, opened and parsed (cf_job_install.c): the certificate that
   belongs to the key (the first that does; when none does, the first certificate: the
   install's key check then names the mismatch) and the key, both the caller's. Errors: as
   cf_job_open_p12 (why: the sealed PKCS#12 does not open here), as cf_p12_parse (why
   set), CF_ERR_NOKEY (no private key in it); nothing returned on error. */
CF_MUST_USE cf_err_t cf_job_open_p12_pair(const cf_job_t *job,
                                          const unsigned char pub[CF_JOB_CURVE_KEY_LEN],
                                          const unsigned char secret[CF_JOB_CURVE_KEY_LEN],
                                          cf_cert_t **leaf_out, cf_key_t **key_out, cf_why_t *why);
/* install_cert in either form as PEM, what an agent installs: the chain (PEM form) or the
   PKCS#12's leaf, and the private key (cf_mem_free / cf_mem_free_secret, both the
   caller's). Errors: as cf_job_chain_pem, cf_job_open_key or cf_job_open_p12_pair, why
   saying which part did not open; nothing returned on error. */
CF_MUST_USE cf_err_t cf_job_install_pems(const cf_job_t *job,
                                         const unsigned char pub[CF_JOB_CURVE_KEY_LEN],
                                         const unsigned char secret[CF_JOB_CURVE_KEY_LEN],
                                         char **chain_out, size_t *chain_len, char **key_out,
                                         size_t *key_len, cf_why_t *why);

/* Seal len bytes (0..CF_JOB_MAX_SECRET) to a CURVE public key with crypto_box_seal: only
   the holder of the matching secret key can open it; *sealed_out (len +
   CF_JOB_SEAL_OVERHEAD bytes) is the caller's (cf_mem_free). Errors: CF_ERR_INVALID (NULL,
   a public key that cannot be sealed to), CF_ERR_TOOBIG, CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_job_seal_payload(const unsigned char pub[CF_JOB_CURVE_KEY_LEN],
                                         const void *plain, size_t len, unsigned char **sealed_out,
                                         size_t *sealed_len);
/* Open a sealed payload with the agent's key pair. *plain_out (NUL-terminated one byte past
   *plain_len, for text) is the caller's: cf_mem_free_secret(*plain_out, *plain_len); the
   work buffer is wiped. Errors: CF_ERR_INVALID, CF_ERR_TOOBIG (over CF_JOB_MAX_SECRET +
   CF_JOB_SEAL_OVERHEAD), CF_ERR_SECRET (wrong key pair or damaged), CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_job_open_payload(const unsigned char pub[CF_JOB_CURVE_KEY_LEN],
                                         const unsigned char secret[CF_JOB_CURVE_KEY_LEN],
                                         const void *sealed, size_t len, unsigned char **plain_out,
                                         size_t *plain_len);

#endif
