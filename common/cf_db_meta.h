/*  cf_db_meta - deployment records: --init lock, meta and canary, CA, PKCS#12 password  */
#ifndef CF_DB_META_H_INCLUDED
#define CF_DB_META_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "cf_cert.h"
#include "cf_db_key.h"
#include "cf_err.h"
#include "cf_key.h"
#include "cf_seal.h"
#include "cf_store.h"

/* Keys: cf:init, cf:meta, cf:ca, cf:p12pass (docs/REDIS.md). Every function takes the
   caller's store (one per thread) and puts details of a failure in cf_store_why(store).
   Transport errors as cf_store_cmd (CF_ERR_IO, CF_ERR_TOOBIG, ...). RT = round trips. */
#define CF_DB_SCHEMA      1      /* schema version written to cf:meta */
#define CF_DB_INIT_TTL_S  600    /* default life of the --init lock */
#define CF_DB_P12PASS_MAX 1024   /* PKCS#12 password, bytes */
#define CF_DB_CA_PEM_MAX  65536  /* CA certificate PEM, bytes */
#define CF_DB_SEALED_MAX  131072 /* sealed key text we read back, bytes */

typedef struct {
    int schema;                       /* schema version (CF_DB_SCHEMA) */
    int64_t created;                  /* unix seconds of --init */
    char seal_id[CF_SEAL_ID_MAX + 1]; /* key id of the secret the canary was sealed with */
} cf_db_meta_t;

/* What the secret file makes of this store. */
typedef enum {
    CF_DB_SECRET_NO_DEPLOYMENT = 0, /* no cf:meta: nothing was initialised here */
    CF_DB_SECRET_OK,                /* the canary opens: this secret seals this store */
    CF_DB_SECRET_WRONG,             /* another secret (unknown key id, or other key bytes) */
} cf_db_secret_t;

/* Take the --init lock: SET cf:init owner NX EX ttl_s, atomically with a read of the holder
   (1 RT, Lua). *got = 1 when owner holds it now (also when it already did: the TTL is
   renewed, so a retry is safe); else *got = 0 and holder (CF_DB_OWNER_MAX + 1 bytes, may be
   NULL) names the instance that holds it. owner: cf_db_check_owner; ttl_s 1..86400.
   CF_ERR_INVALID for bad arguments. */
CF_MUST_USE cf_err_t cf_db_init_lock(cf_store_t *store, const char *owner, int ttl_s, int *got,
                                     char *holder);
/* Release the --init lock if owner holds it (compare-and-DEL, 1 RT); never another's. */
CF_MUST_USE cf_err_t cf_db_init_unlock(cf_store_t *store, const char *owner);

/* Write cf:meta (schema, created = now, seal_id, canary sealed under seal's current key),
   only if there is none (1 RT, Lua). CF_ERR_EXISTS when a deployment is already there. */
CF_MUST_USE cf_err_t cf_db_meta_create(cf_store_t *store, const cf_seal_t *seal, int64_t now);
/* Read cf:meta (1 RT). CF_ERR_NOTFOUND: no deployment; CF_ERR_CORRUPT: a field is missing
   or malformed; CF_ERR_UNSUPPORTED: a schema newer than CF_DB_SCHEMA. */
CF_MUST_USE cf_err_t cf_db_meta_get(cf_store_t *store, cf_db_meta_t *out);
/* Does seal open this store? (1 RT) *verdict: NO_DEPLOYMENT, OK or WRONG (the canary is
   sealed under a key id seal lacks, or under other key bytes with the same id). A server
   must refuse to start on WRONG. CF_ERR_CORRUPT: cf:meta exists but holds no readable
   canary; CF_ERR_UNSUPPORTED: newer schema. */
CF_MUST_USE cf_err_t cf_db_meta_check_secret(cf_store_t *store, const cf_seal_t *seal,
                                             cf_db_secret_t *verdict);

/* Store the CA: cf:ca = cert PEM, key sealed (PKCS#8 DER, AAD "cf:ca"), fingerprint,
   not_after; only if there is none (1 RT, Lua). Never mints over an existing CA:
   CF_ERR_EXISTS. CF_ERR_KEYMISMATCH if key is not the certificate's. */
CF_MUST_USE cf_err_t cf_db_ca_create(cf_store_t *store, const cf_seal_t *seal,
                                     const cf_cert_t *cert, const cf_key_t *key);
/* Read the CA (1 RT): *cert_out (the caller's) and, when key_out is not NULL, the opened
   key (the caller's; seal must then be given). CF_ERR_NOTFOUND: no CA; CF_ERR_SECRET: the key is
   sealed under a key id seal lacks; CF_ERR_CORRUPT: a malformed record, or a key that does not open
   (altered, sealed for another record, or another secret with the same key id); CF_ERR_KEYMISMATCH.
   Outputs stay NULL on failure. */
CF_MUST_USE cf_err_t cf_db_ca_get(cf_store_t *store, const cf_seal_t *seal, cf_cert_t **cert_out,
                                  cf_key_t **key_out);

/* Set the password that protects agent PKCS#12 files: sealed (AAD "cf:p12pass") into
   cf:p12pass (1 RT). len 1..CF_DB_P12PASS_MAX bytes, no NUL. */
CF_MUST_USE cf_err_t cf_db_p12pass_set(cf_store_t *store, const cf_seal_t *seal, const char *pass,
                                       size_t len);
/* Read and open it (1 RT). *pass_out is NUL-terminated, the caller's: free with
   cf_mem_free_secret(*pass_out, *len_out). CF_ERR_NOTFOUND when none was set. */
CF_MUST_USE cf_err_t cf_db_p12pass_get(cf_store_t *store, const cf_seal_t *seal, char **pass_out,
                                       size_t *len_out);

/* Seal a private key (PKCS#8 DER) in text form with aad = the record's key name, and the
   reverse; shared with cf_db_cert. Clear bytes are wiped. *text_out: cf_mem_free. */
CF_MUST_USE cf_err_t cf_db_seal_key(cf_store_t *store, const cf_seal_t *seal, const cf_key_t *key,
                                    const char *aad, char **text_out);
CF_MUST_USE cf_err_t cf_db_open_key(cf_store_t *store, const cf_seal_t *seal, const char *text,
                                    const char *aad, cf_key_t **key_out);

#endif
