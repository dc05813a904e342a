/*  cf_start - cf-server's start-up against Redis: the first --init (the seed's option 4),
    the checks every start makes, and joining: this server's record and certificate  */
#ifndef CF_START_H_INCLUDED
#define CF_START_H_INCLUDED

#include <stddef.h>

#include "cf_ca.h"
#include "cf_seal.h"
#include "cf_store.h"

#define CF_START_MAX_SANS 16 /* extra SAN entries for this server's certificate */

/* What start-up needs from the options. Strings are borrowed. */
typedef struct {
    const char *alias;          /* this server's alias (lowercase) */
    const char *host;           /* where clients reach it; NULL/"" = the alias */
    int port;                   /* HTTPS port */
    int plain_port;             /* plain port for agent routes, 0 = none */
    int priority;               /* larger = preferred */
    const char *ip_ranges;      /* primary IP ranges (comma list), NULL = none */
    const char *const *sans;    /* more DNS names / addresses for the certificate */
    size_t n_sans;              /* entries in sans (<= CF_START_MAX_SANS) */
    cf_key_type_t key_type;     /* key type of certificates generated here */
    unsigned days;              /* lifetime of certificates generated here */
    long seconds;               /* > 0: that lifetime in seconds instead (tests) */
    const char *out_dir;        /* --init: where ca.pem and console.p12 go */
    const char *admin_password; /* --init: the first admin's password (borrowed secret) */
    const char *p12_password;   /* --init: agent PKCS#12 password; NULL = generate one */
} cf_start_opts_t;

/* The first start (--init): under the init lock (SET NX), create the CA, the SSL
   configuration (enabled, allow-plain on), the admin login, the PKCS#12 password, the
   console and shared agent certificates, then the deployment record with the canary, and
   write ca.pem, console.p12 (and p12.pass when the password was generated) into out_dir.
   Errors (why says what to do): CF_ERR_EXISTS (a deployment is already there, or another
   --init holds the lock: why names it), those of the steps. */
CF_MUST_USE cf_err_t cf_start_init(cf_store_t *store, const cf_seal_t *seal,
                                   const cf_start_opts_t *o, const char *instance, cf_why_t *why);

/* Every start: a deployment exists and this secret opens it. CF_ERR_NOTFOUND (no
   deployment: run --init once; a wrong db never mints a new CA), CF_ERR_SECRET. */
CF_MUST_USE cf_err_t cf_start_check(cf_store_t *store, const cf_seal_t *seal, cf_why_t *why);

/* Join: create this server's record from the options when Redis has none (after that the
   record wins), and make sure a certificate for the alias exists and covers it: one is
   issued when there is none, or when the generated one no longer covers the alias and
   host; an imported one that does not cover the alias is refused (CF_ERR_POLICY). */
CF_MUST_USE cf_err_t cf_start_join(cf_store_t *store, const cf_seal_t *seal,
                                   const cf_start_opts_t *o, cf_why_t *why);

/* Issue and store a server certificate for alias (SAN: alias, host, sans), archiving the
   previous one. Used by join and the renewer. */
CF_MUST_USE cf_err_t cf_start_issue_server(cf_store_t *store, const cf_seal_t *seal, cf_ca_t *ca,
                                           const cf_start_opts_t *o, cf_why_t *why);

#endif
