/*  cf_issue - one issuance request: checks, subjectAltNames, lifetime, component profile  */
#ifndef CF_ISSUE_H_INCLUDED
#define CF_ISSUE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cf_cert.h"
#include "cf_err.h"
#include "cf_key.h"
#include "cf_tbs.h"

#define CF_ISSUE_DEFAULT_DAYS 365  /* issued certificate lifetime when days is 0 */
#define CF_ISSUE_MAX_DAYS     3650 /* longest issued certificate lifetime */
#define CF_ISSUE_SKEW         300  /* notBefore = now - this many seconds (clock skew) */
#define CF_ISSUE_MAX_NAME     64   /* longest CN (X.520 upper bound), bytes */
#define CF_ISSUE_MAX_DNS      253  /* longest DNS name, bytes */
#define CF_ISSUE_MAX_SANS     CF_CERT_MAX_SANS  /* most subjectAltNames per certificate */
#define CF_ISSUE_SHARED_AGENT "certfleet agent" /* default CN of the shared agent cert */
#define CF_ISSUE_MAX_NOW      253402300799LL    /* latest "now" we take: 9999-12-31 */

/* One certificate to issue. Fields the component does not use must stay zero/NULL. */
typedef struct {
    cf_component_t component;   /* CF_COMPONENT_SERVER, _CONSOLE or _AGENT */
    const char *name;           /* CN: server alias (a DNS name or an IP), console name
                                   (printable ASCII), agent id (cf_issue_check_agent_id);
                                   may be NULL for a shared agent (CF_ISSUE_SHARED_AGENT) */
    int shared_agent;           /* agent only: the seed's one shared agent certificate
                                   (SAN URI CF_AGENT_SHARED_URI, CN any printable name) */
    const char *const *dns;     /* server only: more DNS names for the SAN */
    size_t n_dns;               /* entries in dns */
    const char *const *ips;     /* server only: IPv4/IPv6 text for iPAddress SANs */
    size_t n_ips;               /* entries in ips */
    cf_key_type_t key_type;     /* key to generate; 0 = CF_KEY_P256 */
    const cf_key_t *public_key; /* certify this key's public half instead of generating */
    const unsigned char *spki;  /* ... or this SubjectPublicKeyInfo DER (from a CSR) */
    size_t spki_len;            /* bytes in spki; at most CF_KEY_MAX_INPUT */
    unsigned days;              /* lifetime; 0 = CF_ISSUE_DEFAULT_DAYS; max CF_ISSUE_MAX_DAYS */
    long seconds;               /* > 0: lifetime in seconds instead of days (tests) */
    time_t now;                 /* 0 = time(NULL); tests inject other moments */
} cf_issue_t;

/* The subjectAltNames of one request, holding the bytes the entries point at. */
typedef struct {
    cf_tbs_san_t san[CF_ISSUE_MAX_SANS];        /* entries, in order */
    size_t n;                                   /* entries used */
    unsigned char ip[CF_ISSUE_MAX_SANS][16];    /* iPAddress bytes behind IP entries */
    char uri[sizeof(CF_AGENT_URI_PREFIX) + 64]; /* the agent URI */
} cf_issue_sans_t;

/* CF_OK if id is an agent id as DESIGN.md defines it: [a-z0-9][a-z0-9._-]{0,62};
   CF_ERR_INVALID otherwise (NULL, empty, too long, other characters). */
CF_MUST_USE cf_err_t cf_issue_check_agent_id(const char *id);
/* CF_OK if s is a common name we write: 1..64 printable ASCII bytes (spaces allowed).
   CF_ERR_INVALID otherwise. */
CF_MUST_USE cf_err_t cf_issue_check_name(const char *s);
/* CF_OK if s is a DNS name we put in a SAN: 1..253 bytes, dot-separated labels of 1..63
   letters, digits and inner hyphens, optionally "*." in front. CF_ERR_INVALID otherwise. */
CF_MUST_USE cf_err_t cf_issue_check_dns(const char *s);

/* Check the request's names and build its SANs into *out: server = name (as DNS or IP),
   then dns, then ips, duplicates dropped; agent = its URI; console = none.
   Errors: CF_ERR_INVALID (unknown component, a name or address that is not valid, SANs
   given for a component other than server, key inputs that contradict each other),
   CF_ERR_TOOBIG (more than CF_ISSUE_MAX_SANS entries). */
CF_MUST_USE cf_err_t cf_issue_sans(const cf_issue_t *req, cf_issue_sans_t *out);
/* The CN the certificate gets (name, or the shared-agent default). Borrowed from req. */
const char *cf_issue_cn(const cf_issue_t *req);

/* keyUsage and extendedKeyUsage bits for the component and subject key type. */
void cf_issue_profile(const cf_issue_t *req, cf_key_type_t key, unsigned *ku, unsigned *eku);

/* notBefore = now - CF_ISSUE_SKEW (a tenth of the lifetime when that is less) and
   notAfter = now + lifetime, notAfter lowered to
   limit (the CA's notAfter). CF_ERR_INVALID for a lifetime over the cap or a now outside
   [CF_ISSUE_SKEW, CF_ISSUE_MAX_NOW], CF_ERR_EXPIRED when limit is already past at now. */
CF_MUST_USE cf_err_t cf_issue_validity(const cf_issue_t *req, int64_t limit, int64_t *nb_out,
                                       int64_t *na_out);

#endif
