/*  cf_material - what the TLS listeners need, read from Redis: this server's certificate
    and key, the CA, the revoked serials and the SSL configuration  */
#ifndef CF_MATERIAL_H_INCLUDED
#define CF_MATERIAL_H_INCLUDED

#include "cf_db_ssl.h"
#include "cf_https.h"
#include "cf_seal.h"
#include "cf_serials.h"
#include "cf_store.h"

typedef struct {
    char *cert_pem;       /* this server's certificate and chain, owned */
    char *ca_pem;         /* the CA certificate, owned */
    cf_key_t *key;        /* this server's key (opened), owned */
    cf_serials_t serials; /* the revoked set, owned */
    const char **revoked; /* pointers into serials for cf_https, owned array */
    size_t n_revoked;     /* entries in revoked */
    cf_db_ssl_t ssl;      /* the SSL configuration */
} cf_material_t;

/* Load everything for alias (5 round trips). On failure *m is cleared. Errors: those of
   cf_db_* (why says which part), CF_ERR_TOOBIG past CF_HTTPS_MAX_REVOKED serials. */
CF_MUST_USE cf_err_t cf_material_load(cf_store_t *store, const cf_seal_t *seal, const char *alias,
                                      cf_material_t *m, cf_why_t *why);
/* The cf_https view of m (borrowing its buffers). */
void cf_material_tls(const cf_material_t *m, cf_https_tls_t *tls);
/* What the switches should be: require a client certificate (SSL on, allow-plain off),
   serve agents without one (allow-plain on, or SSL off). */
int cf_material_require_cert(const cf_material_t *m);
int cf_material_allow_plain(const cf_material_t *m);
void cf_material_clear(cf_material_t *m); /* free everything; zero it; safe to repeat */

#endif
