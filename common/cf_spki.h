/*  cf_spki - SubjectPublicKeyInfo of a key being certified, with its key identifier  */
#ifndef CF_SPKI_H_INCLUDED
#define CF_SPKI_H_INCLUDED

#include <stddef.h>

#include <openssl/ec.h>
#include <openssl/evp.h>

#include "cf_err.h"
#include "cf_key.h"

#define CF_SPKI_KID_LEN   20 /* SHA-1 key identifier (RFC 5280 4.2.1.2, method 1) */
#define CF_SPKI_P256_LEN  91 /* SubjectPublicKeyInfo of a P-256 key, uncompressed point */
#define CF_SPKI_MAX_INPUT CF_KEY_MAX_INPUT /* largest SPKI DER we decode, bytes */

/* One public key in certificate form. P-256 keys take the fast path: the raw point from
   the key behind a fixed header (no OpenSSL encoder round trip, ~5 us instead of ~90 us);
   other keys are encoded by OpenSSL. Lives on the stack: cf_spki_init, fill, then
   cf_spki_clear. */
typedef struct {
    unsigned char p256[CF_SPKI_P256_LEN]; /* P-256 SPKI built in place */
    unsigned char *owned;                 /* other SPKIs, from i2d_X509_PUBKEY, or NULL */
    const unsigned char *der;             /* the SPKI DER: p256 or owned */
    size_t len;                           /* bytes in der */
    unsigned char kid[CF_SPKI_KID_LEN];   /* SHA-1 of the subjectPublicKey bits */
    cf_key_type_t type;                   /* the key's type */
} cf_spki_t;

void cf_spki_init(cf_spki_t *s);
void cf_spki_clear(cf_spki_t *s); /* frees what the SPKI owns; safe to repeat */

/* From a key (its public half). sha1 is a fetched SHA-1 (NULL: EVP_sha1()). Errors:
   CF_ERR_CRYPTO. */
CF_MUST_USE cf_err_t cf_spki_from_key(cf_spki_t *s, const cf_key_t *key, const EVP_MD *sha1);
/* From untrusted SubjectPublicKeyInfo DER (exactly len bytes). A P-256 key with an
   uncompressed point in the standard encoding is taken as it is once its point is checked
   to lie on the curve (p256: a P-256 group to check with, NULL: one is made for the call);
   every other SPKI is decoded and re-encoded by OpenSSL (OpenSSL 3.0's key decoder costs
   ~80 us a call: the fast path is what lets a server reissue thousands a second). Errors:
   CF_ERR_TOOBIG (len > CF_SPKI_MAX_INPUT), CF_ERR_CORRUPT (not an SPKI, trailing bytes, a
   point off the curve), CF_ERR_UNSUPPORTED, CF_ERR_CRYPTO. */
CF_MUST_USE cf_err_t cf_spki_from_der(cf_spki_t *s, const unsigned char *der, size_t len,
                                      const EVP_MD *sha1, const EC_GROUP *p256);
/* SHA-1 key identifier of the subjectPublicKey bits. CF_ERR_CRYPTO on failure. */
CF_MUST_USE cf_err_t cf_spki_kid(const unsigned char *bits, size_t len, const EVP_MD *sha1,
                                 unsigned char out[CF_SPKI_KID_LEN]);

#endif
