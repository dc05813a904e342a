/*  cf_db_enroll - enrollment: one-time tokens (cf:enroll:*) and what an agent record keeps of
    its enrollment (the certificate issued to it, the revoked marker)  */
#ifndef CF_DB_ENROLL_H_INCLUDED
#define CF_DB_ENROLL_H_INCLUDED

#include <stdint.h>

#include "cf_auth.h"
#include "cf_cert.h"
#include "cf_db_key.h"
#include "cf_err.h"
#include "cf_store.h"

/* Keys (docs/REDIS.md "Enrollment"):
   cf:enroll:<SHA-256 hex of the token>  hash {uses, expires, created, by}, EXPIREAT expires;
   cf:agent:{<id>} fields enrolled, revoked (next to those of cf_db_agent, which never
   touches them), and cf:agent:{<id>}:cert, the DER of the certificate issued to the agent:
   its fingerprint, serial and expiry are read from it (records written before it kept
   enroll_fp, enroll_serial, enroll_not_after and enroll_cert in the hash: still read when
   there is no :cert key, dropped at the next write of the certificate).
   The token itself is never stored: only its digest names the key. Details of failures in
   cf_store_why(store). RT = round trips. */
#define CF_DB_ENROLL_USES_MAX 1000000           /* uses of one token */
#define CF_DB_ENROLL_TTL_MAX  (366 * 24 * 3600) /* longest token lifetime, seconds */
#define CF_DB_ENROLL_TOKEN    CF_AUTH_TOKEN_LEN /* token text length (43, base64url) */
#define CF_DB_ENROLL_PEM_MAX  (32 * 1024)       /* longest certificate PEM kept on an agent */

/* One token as stored (never its text). */
typedef struct {
    int64_t uses;                /* uses left (0: used up, kept until it expires) */
    int64_t expires;             /* unix seconds; the key is gone after it */
    int64_t created;             /* unix seconds */
    char by[CF_DB_USER_MAX + 1]; /* the user who made it */
} cf_db_token_t;

/* Make a token good for uses (1..CF_DB_ENROLL_USES_MAX) enrollments until now + ttl_s
   (1..CF_DB_ENROLL_TTL_MAX): 32 random bytes as base64url into token (CF_DB_ENROLL_TOKEN + 1
   bytes; shown once, the caller hands it out), stored as its digest with EXPIREAT (1 RT,
   Lua). by: the creating user (cf_db_check_user). *expires_out (may be NULL) gets
   now + ttl_s. Errors: CF_ERR_INVALID (uses, ttl, now < 0, by), CF_ERR_CRYPTO (random),
   CF_ERR_EXISTS (a digest collision: never in practice), the store's. */
CF_MUST_USE cf_err_t cf_db_enroll_token_create(cf_store_t *store, int64_t uses, int64_t ttl_s,
                                               int64_t now, const char *by,
                                               char token[CF_DB_ENROLL_TOKEN + 1],
                                               int64_t *expires_out);

/* Spend one use of token (untrusted text) at now in ONE Lua step: it checks the expiry and
   the uses left and decrements (1 RT; never retried after a lost connection, so a use is
   spent at most once). *left (may be NULL) gets the uses left after this one.
   Errors: CF_ERR_NOTFOUND (no such token, or it is gone past its expiry; a malformed token
   text too), CF_ERR_EXPIRED (past its expiry), CF_ERR_STATE (used up), CF_ERR_CORRUPT (a
   damaged record), the store's. */
CF_MUST_USE cf_err_t cf_db_enroll_token_use(cf_store_t *store, const char *token, int64_t now,
                                            int64_t *left);

/* Read a token's record without spending it (1 RT). CF_ERR_NOTFOUND (also for malformed
   text), CF_ERR_CORRUPT. */
CF_MUST_USE cf_err_t cf_db_enroll_token_get(cf_store_t *store, const char *token,
                                            cf_db_token_t *out);

/* Withdraw a token (DEL, 1 RT). CF_ERR_NOTFOUND when there is none. */
CF_MUST_USE cf_err_t cf_db_enroll_token_revoke(cf_store_t *store, const char *token);

/* What an agent record says about its enrollment. */
typedef struct {
    int64_t enrolled;                  /* last enrollment, unix seconds; 0 = never */
    char fp[CF_DB_FP_LEN + 1];         /* certificate issued at enrollment: SHA-256, "" none */
    char serial[CF_DB_SERIAL_MAX + 1]; /* its serial, "" none */
    int64_t not_after;                 /* its expiry, 0 none */
    char *cert_pem;                    /* its PEM (owned; NULL none): archived when replaced */
    int64_t revoked;                   /* when the agent was revoked, 0 = not revoked */
} cf_db_enrolled_t;

/* Free cert_pem and zero e; safe on a zeroed or cleared one. */
void cf_db_enrolled_clear(cf_db_enrolled_t *e);

/* The enrollment fields of agent id (1 RT; the certificate parsed here) into *out
   (cf_db_enrolled_clear it).
   CF_ERR_NOTFOUND when there is no agent record, CF_ERR_INVALID (id), CF_ERR_CORRUPT. */
CF_MUST_USE cf_err_t cf_db_enroll_get(cf_store_t *store, const char *id, cf_db_enrolled_t *out);

/* Record an enrollment of agent id at now on its existing record (create it first with
   cf_db_agent_checkin): enrolled = now and, with cert (the certificate issued to it; NULL
   in push mode, which leaves the certificate alone) the :cert key. One Lua step (1 RT) that writes
   nothing when the record is gone. CF_ERR_NOTFOUND (no record: decommissioned meanwhile),
   CF_ERR_INVALID, CF_ERR_TOOBIG (DER over CF_DB_ENROLL_PEM_MAX), CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_db_enroll_record(cf_store_t *store, const char *id, int64_t now,
                                         const cf_cert_t *cert);

/* The certificate recorded for agent id (its :cert key, DER or PEM), into *cert_out (the
   caller's), 1 RT. With reader (optional), a DER record is read without decoding its key
   (cf_cert_reader_parse: names, dates, fingerprint and the key's encoding only). CF_ERR_NOTFOUND
   when none is recorded (push mode, the shared certificate), CF_ERR_INVALID (id),
   CF_ERR_CORRUPT, CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_db_enroll_cert(cf_store_t *store, const char *id, cf_cert_reader_t *reader,
                                       cf_cert_t **cert_out);

/* A certificate the server issued to agent id replaces the recorded one, in ONE Lua step
   (1 RT): old (may be NULL), when still valid at now and of another fingerprint, goes to
   cf:archive (the agent form: no body, cf_db_archive.h); new is recorded as cf_db_enroll_record
   does. Nothing is written when the record is gone (CF_ERR_NOTFOUND) or the agent is revoked
   (CF_ERR_POLICY). CF_ERR_INVALID, CF_ERR_TOOBIG, CF_ERR_NOMEM, the store's. */
CF_MUST_USE cf_err_t cf_db_enroll_replace(cf_store_t *store, const char *id, int64_t now,
                                          const cf_cert_t *new_cert, const cf_cert_t *old_cert);
/* The same for a new certificate the caller has as DER (len bytes, at most
   CF_DB_ENROLL_PEM_MAX) with its cf_cert_der_fingerprint: a server that has just issued it
   need not parse it (OpenSSL 3.0 decodes its key in ~80 us). */
CF_MUST_USE cf_err_t cf_db_enroll_replace_der(cf_store_t *store, const char *id, int64_t now,
                                              const unsigned char *der, size_t len, const char *fpr,
                                              const cf_cert_t *old_cert);

/* Mark agent id revoked at now (HSET revoked, only on an existing record; 1 RT, Lua): it
   keeps its record so it shows, and enrollment refuses it until it is decommissioned.
   CF_ERR_NOTFOUND, CF_ERR_INVALID. */
CF_MUST_USE cf_err_t cf_db_enroll_mark_revoked(cf_store_t *store, const char *id, int64_t now);

#endif
