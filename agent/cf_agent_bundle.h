/*  cf_agent_bundle - the agent install package (the seed's MSI package): parse and check
    the bundle file cf-console package create writes (docs/agent.md "State directory and
    bundle")  */
#ifndef CF_AGENT_BUNDLE_H_INCLUDED
#define CF_AGENT_BUNDLE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "cf_agent_state.h"
#include "cf_db_enroll.h"
#include "cf_err.h"
#include "cf_p12.h"

#define CF_AGENT_BUNDLE_FORMAT  "certfleet-bundle-1"             /* the "format" this code reads */
#define CF_AGENT_BUNDLE_MAX     (2 * 1024 * 1024)                /* largest bundle file, bytes */
#define CF_AGENT_BUNDLE_CA_MAX  (64 * 1024)                      /* largest "ca" PEM, bytes */
#define CF_AGENT_BUNDLE_CA_N    8                                /* certificates in "ca" at most */
#define CF_AGENT_BUNDLE_P12_B64 ((CF_P12_MAX_INPUT + 2) / 3 * 4) /* longest "p12" text */

/* A parsed bundle. Free the contents with cf_agent_bundle_clear. */
typedef struct {
    int64_t created;                    /* unix seconds the server made it */
    cf_agent_config_t config;           /* servers and brokers */
    char *ca_pem;                       /* the CA certificate(s), PEM (owned) */
    unsigned char *p12;                 /* shared agent PKCS#12, DER (owned; NULL: none) */
    size_t p12_len;                     /* bytes in p12 */
    char token[CF_DB_ENROLL_TOKEN + 1]; /* enrollment token; "" = none (a secret) */
} cf_agent_bundle_t;

/* Parse bundle text (len bytes, no NUL needed; untrusted):
   {"format":"certfleet-bundle-1","created":T,"config":{"servers":[…],"brokers":[…]},
    "ca":PEM,"p12":B64|null,"token":"…"|null}. Every member is checked and none else is
   allowed (nor inside "config"): format exactly CF_AGENT_BUNDLE_FORMAT; created an integer
   >= 0; the lists as cf_agent_config_from_json; ca 1..CF_AGENT_BUNDLE_CA_MAX bytes of PEM
   starting with a CERTIFICATE block and holding 1..CF_AGENT_BUNDLE_CA_N certificates;
   p12 null or standard base64 (padded, no line breaks) of 1..CF_P12_MAX_INPUT bytes (its
   contents are checked at install, with the password); token null or
   CF_DB_ENROLL_TOKEN base64url characters. p12 and token may both be null (a package
   with configuration only). out must be zeroed or cleared; on failure it is
   left cleared. Errors: CF_ERR_TOOBIG (len over CF_AGENT_BUNDLE_MAX, a member over its
   cap), CF_ERR_CORRUPT (not JSON, a CA that does not parse, bad base64), CF_ERR_INVALID
   (a missing, unknown or malformed member; why names it), CF_ERR_UNSUPPORTED (another
   format), CF_ERR_NOMEM. why never quotes the token. */
CF_MUST_USE cf_err_t cf_agent_bundle_parse(const char *buf, size_t len, cf_agent_bundle_t *out,
                                           cf_why_t *why);
/* Read the file path (regular, at most CF_AGENT_BUNDLE_MAX bytes; the buffer is wiped) and
   parse it. Errors: those of cf_file_read_ex and cf_agent_bundle_parse (why names the
   file). */
CF_MUST_USE cf_err_t cf_agent_bundle_load(const char *path, cf_agent_bundle_t *out, cf_why_t *why);
/* Wipe the secrets (p12, token), free, zero; safe to repeat; NULL is fine. */
void cf_agent_bundle_clear(cf_agent_bundle_t *b);

#endif
