/*  cf_db_cert - component certificate records: put (archiving the old one), get, list  */
#ifndef CF_DB_CERT_H_INCLUDED
#define CF_DB_CERT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "cf_cert.h"
#include "cf_db_key.h"
#include "cf_err.h"
#include "cf_key.h"
#include "cf_seal.h"
#include "cf_store.h"

/* Keys: cf:cert:<component>:<name>, cf:certs:<component>, cf:archive (docs/REDIS.md).
   Details of failures in cf_store_why(store); transport errors as cf_store_cmd. RT = round
   trips. Private keys are only ever stored sealed, with AAD = the record's key name. */
#define CF_DB_CERT_PEM_MAX  (256 * 1024) /* certificate or chain PEM, bytes (CF_CERT_MAX_INPUT) */
#define CF_DB_CERT_LIST_MAX 100000       /* records listed by one call */

/* The seed's three kinds of certificate per component. */
typedef enum {
    CF_DB_CERT_GENERATED = 1, /* generated here, with key */
    CF_DB_CERT_IMPORTED,      /* imported with key (PKCS#12 or PEM) */
    CF_DB_CERT_PUBLIC,        /* imported public only: no key */
} cf_db_cert_kind_t;

/* "generated", "imported", "public"; "unknown" for other values. */
const char *cf_db_cert_kind_name(cf_db_cert_kind_t kind);
/* Parse those names; CF_ERR_INVALID for anything else. */
CF_MUST_USE cf_err_t cf_db_cert_kind_from_name(const char *name, cf_db_cert_kind_t *out);

/* What to store. Everything is borrowed. */
typedef struct {
    cf_component_t component; /* server, console or agent */
    const char *name;         /* cf_db_check_cert_name: an alias, "console", "shared" */
    cf_db_cert_kind_t kind;   /* PUBLIC needs key NULL; the others need the key */
    const cf_cert_t *cert;    /* the certificate */
    const char *chain_pem;    /* intermediates as PEM, NULL or "" for none */
    const cf_key_t *key;      /* its private key (checked against cert), or NULL */
    int64_t now;              /* unix seconds: "updated", and "archived_at" of the old one */
} cf_db_cert_in_t;

/* A stored record. From get/list; strings are owned: cf_db_cert_clear. */
typedef struct {
    cf_component_t component;           /* server, console or agent */
    char name[CF_DB_NAME_MAX + 1];      /* name within the component */
    cf_db_cert_kind_t kind;             /* generated / imported / public */
    char *cert_pem;                     /* owned: the certificate PEM */
    char *chain_pem;                    /* owned: intermediates PEM, NULL when none */
    char fingerprint[CF_DB_FP_LEN + 1]; /* SHA-256, lowercase hex */
    char serial[CF_DB_SERIAL_MAX + 1];  /* lowercase hex */
    int64_t not_after;                  /* unix seconds */
    int64_t updated;                    /* unix seconds of the put */
    int has_key;                        /* 1 when a sealed key is stored */
} cf_db_cert_t;

/* Store a record, replacing any previous one, in one atomic step (1 RT, Lua, like one
   MULTI): the previous certificate, if its fingerprint differs, goes to cf:archive; the
   new fingerprint leaves the archive if it was there; the name joins cf:certs:<component>;
   PUBLISH "cert <component> <name>" on cf:events. *archived (may be NULL) = 1 when a
   previous certificate was archived. CF_ERR_INVALID (name, kind, key presence),
   CF_ERR_KEYMISMATCH, CF_ERR_TOOBIG (PEM over CF_DB_CERT_PEM_MAX). */
CF_MUST_USE cf_err_t cf_db_cert_put(cf_store_t *store, const cf_seal_t *seal,
                                    const cf_db_cert_in_t *in, int *archived);
/* Read one record (1 RT) into *out (cf_db_cert_clear it) and, when key_out is not NULL and
   the record has a key, open it (*key_out the caller's; seal must be given; NULL when the
   record is public). CF_ERR_NOTFOUND, CF_ERR_CORRUPT (also a key that does not open: altered, moved
   from another record, another secret under the same key id), CF_ERR_SECRET (unknown key id). */
CF_MUST_USE cf_err_t cf_db_cert_get(cf_store_t *store, const cf_seal_t *seal,
                                    cf_component_t component, const char *name, cf_db_cert_t *out,
                                    cf_key_t **key_out);
/* Every record of a component, keys not opened (2 RT: SMEMBERS, then one pipeline of
   HMGETs). *recs_out is the caller's (cf_db_cert_list_free), sorted by name; names listed
   without a record are skipped. CF_ERR_TOOBIG past max (<= CF_DB_CERT_LIST_MAX) names. */
CF_MUST_USE cf_err_t cf_db_cert_list(cf_store_t *store, cf_component_t component, size_t max,
                                     cf_db_cert_t **recs_out, size_t *n_out);
void cf_db_cert_clear(cf_db_cert_t *rec);                   /* free the strings; zero it */
void cf_db_cert_list_free(cf_db_cert_t **recs_p, size_t n); /* clear each, free, NULL */

#endif
