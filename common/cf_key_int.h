/*  cf_key_int - what cf_key.c shares with cf_key_p256.c  */
#ifndef CF_KEY_INT_H_INCLUDED
#define CF_KEY_INT_H_INCLUDED

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cf_err.h"

/* The P-256 fast path of private key decoding. OpenSSL 3.0 sets up its decoders for every
   key it decodes (EVP_PKCS82PKEY, d2i_PrivateKey: ~20 times the work of what follows):
   a P-256 key in the usual form (named curve, uncompressed public point present, version
   1) is read with OpenSSL's ASN.1 templates, checked (the public point must be the
   private scalar's, the scalar in [1, n-1]) and imported with EVP_PKEY_fromdata.
   CF_ERR_UNSUPPORTED when the key is not in that form (the caller decodes it the usual
   way), CF_ERR_CORRUPT when it is but does not hold together, CF_ERR_NOMEM, CF_ERR_CRYPTO.
   *pkey_out is the caller's. */
/* From a PKCS#8 PrivateKeyInfo already parsed. */
CF_MUST_USE cf_err_t cf_key_p256_from_p8(const PKCS8_PRIV_KEY_INFO *p8, EVP_PKEY **pkey_out);
/* From SEC 1 ECPrivateKey DER ("EC PRIVATE KEY"), exactly len bytes. */
CF_MUST_USE cf_err_t cf_key_p256_from_sec1(const unsigned char *der, size_t len,
                                           EVP_PKEY **pkey_out);

#endif
