/*  cf_import - certificate bundles (cert, optional key, chain): import, check, export, store  */
#ifndef CF_IMPORT_H_INCLUDED
#define CF_IMPORT_H_INCLUDED

#include <stddef.h>
#include <time.h>

#include "cf_cert.h"
#include "cf_err.h"
#include "cf_key.h"

/* The seed's three kinds of component certificate. */
typedef enum {
    CF_BUNDLE_GENERATED = 1, /* made by our CA, with its private key */
    CF_BUNDLE_IMPORTED,      /* brought from outside with its private key */
    CF_BUNDLE_PUBLIC,        /* brought from outside without a key: identifies a component */
} cf_bundle_kind_t;

const char *cf_bundle_kind_name(cf_bundle_kind_t kind); /* "generated", "imported", "public" */

typedef struct cf_bundle cf_bundle_t; /* opaque: a certificate, its key (optional), its chain */

/* What an import checks beyond the file itself. */
typedef struct {
    const cf_cert_t *ca; /* borrowed; when set, the certificate must chain to this CA */
    time_t now;          /* the validity window is checked at this time; 0 = time(NULL) */
} cf_import_check_t;

/* A bundle from parts. Takes ownership of *cert_p and *key_p (key_p may be NULL) and NULLs
   them, also on failure, where they are freed. GENERATED and IMPORTED need a key, PUBLIC
   takes none. Errors: CF_ERR_INVALID (no cert, bad kind, a key for PUBLIC), CF_ERR_NOKEY,
   CF_ERR_UNSUPPORTED (the certificate's key type is not one cf_key accepts),
   CF_ERR_KEYMISMATCH, CF_ERR_NOMEM. The chain starts empty. */
CF_MUST_USE cf_err_t cf_bundle_new(cf_cert_t **cert_p, cf_key_t **key_p, cf_bundle_kind_t kind,
                                   cf_bundle_t **out, cf_why_t *why);
/* Append an issuer to the chain (leaf's issuer first). Takes *cert_p (NULLed, freed on
   failure). CF_ERR_TOOBIG past CF_CERT_MAX_CHAIN. */
CF_MUST_USE cf_err_t cf_bundle_add_chain(cf_bundle_t *self, cf_cert_t **cert_p);
/* Move the issuer path of the bundle's certificate out of pool[0..n-1] into its chain, leaf's
   issuer first; the entries taken become NULL, the rest stay the caller's. CF_ERR_TOOBIG
   past CF_CERT_MAX_CHAIN. */
CF_MUST_USE cf_err_t cf_bundle_take_issuers(cf_bundle_t *self, cf_cert_t **pool, size_t n);
/* A bundle from parsed parts (no validity or CA check): the leaf is the certificate matching
   *key_p; without a key, the first certificate that issued none of the others. Then its
   issuer path from certs (cf_bundle_take_issuers). Takes *key_p (may be NULL); the entries of
   certs[0..n-1] that went into the bundle become NULL, the caller frees the rest.
   Errors: CF_ERR_KEYMISMATCH (the key belongs to none of them), those of cf_bundle_new. */
CF_MUST_USE cf_err_t cf_bundle_from_parts(cf_key_t **key_p, cf_cert_t **certs, size_t n,
                                          cf_bundle_kind_t kind, cf_bundle_t **out, cf_why_t *why);
void cf_bundle_destroy(cf_bundle_t **self_p); /* NULLs *self_p; safe to repeat */

cf_bundle_kind_t cf_bundle_kind(const cf_bundle_t *self);
const cf_cert_t *cf_bundle_cert(const cf_bundle_t *self); /* borrowed; never NULL */
const cf_key_t *cf_bundle_key(const cf_bundle_t *self);   /* borrowed; NULL when PUBLIC */
size_t cf_bundle_chain_len(const cf_bundle_t *self);
const cf_cert_t *cf_bundle_chain(const cf_bundle_t *self, size_t i); /* borrowed; NULL past end */

/* Validity window at check->now, then (when check->ca is set) the chain to the CA through the
   bundle's chain. check may be NULL (time only, now). Errors: CF_ERR_EXPIRED,
   CF_ERR_NOTYETVALID, CF_ERR_UNTRUSTED; why names the certificate, the dates or the reason. */
CF_MUST_USE cf_err_t cf_bundle_check(const cf_bundle_t *self, const cf_import_check_t *check,
                                     cf_why_t *why);

/* Imports. On success *out is an IMPORTED (or PUBLIC) bundle the caller owns, made by
   cf_bundle_from_parts (certificates off the leaf's issuer path are dropped), then
   cf_bundle_check(check) (check NULL = validity window now, no CA). Errors as in
   cf_p12_parse / cf_cert_parse_all / cf_key_from_pem and cf_bundle_check, plus
   CF_ERR_KEYMISMATCH (the key belongs to none of the certificates) and CF_ERR_NOKEY (a
   PKCS#12 without a private key). Every error sets why. */
/* DER PKCS#12 (<= CF_P12_MAX_INPUT) with password (NULL/"" for none). */
CF_MUST_USE cf_err_t cf_import_p12(const void *buf, size_t len, const char *password,
                                   const cf_import_check_t *check, cf_bundle_t **out,
                                   cf_why_t *why);
/* PEM (or DER) certificate file, possibly with its chain, plus a PEM private key (PKCS#8 or
   traditional, encrypted or not; password may be NULL). Both may be the same buffer. */
CF_MUST_USE cf_err_t cf_import_pem(const void *cert_buf, size_t cert_len, const void *key_buf,
                                   size_t key_len, const char *password,
                                   const cf_import_check_t *check, cf_bundle_t **out,
                                   cf_why_t *why);
/* Certificate only (PEM or DER, possibly with its chain): a PUBLIC bundle. */
CF_MUST_USE cf_err_t cf_import_public(const void *buf, size_t len, const cf_import_check_t *check,
                                      cf_bundle_t **out, cf_why_t *why);

/* Exports; the caller frees *out with cf_mem_free. ca (optional) is appended to the chain
   unless the chain already holds it. */
/* PKCS#12 as cf_p12_create writes it (AES-256-CBC, PBKDF2-SHA256, SHA-256 MAC); password
   must be non-empty. A PUBLIC bundle gives a certificate-only file. */
CF_MUST_USE cf_err_t cf_bundle_to_p12(const cf_bundle_t *self, const char *password,
                                      const cf_cert_t *ca, unsigned char **der_out,
                                      size_t *len_out);
/* PEM chain: leaf, then intermediates, then ca. NUL-terminated. */
CF_MUST_USE cf_err_t cf_bundle_chain_pem(const cf_bundle_t *self, const cf_cert_t *ca,
                                         char **pem_out, size_t *len_out);
/* The private key as PKCS#8 PEM (encrypted when password is non-empty); free *pem_out with
   cf_mem_free_secret. CF_ERR_NOKEY for a PUBLIC bundle. */
CF_MUST_USE cf_err_t cf_bundle_key_pem(const cf_bundle_t *self, const char *password,
                                       char **pem_out, size_t *len_out);

#endif
