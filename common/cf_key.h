/*  cf_key - private keys: generate, load (PEM/DER, encrypted or not), save, describe  */
#ifndef CF_KEY_H_INCLUDED
#define CF_KEY_H_INCLUDED

#include <stddef.h>

#include <openssl/evp.h>

#include "cf_err.h"

#define CF_KEY_MAX_INPUT (64 * 1024) /* largest key file we accept, bytes */
#define CF_KEY_MAX_ITER  1000000UL   /* cap on an encrypted PKCS#8 key's KDF iteration count */

/* The key types certfleet generates and accepts. Imported keys of other types
   (RSA < 2048, other curves, DSA) are refused with CF_ERR_UNSUPPORTED. */
typedef enum {
    CF_KEY_P256 = 1, /* ECDSA on prime256v1: the default everywhere */
    CF_KEY_P384,
    CF_KEY_RSA2048,
    CF_KEY_RSA3072,
    CF_KEY_RSA4096,
    CF_KEY_ED25519,
} cf_key_type_t;

typedef struct cf_key cf_key_t; /* opaque; owns one EVP_PKEY */

/* "p256" | "p-256" | "ec" | "p384" | "p-384" | "rsa2048" | "rsa-2048" | "rsa3072" |
   "rsa4096" | "ed25519" (case-insensitive). CF_ERR_UNSUPPORTED for anything else. */
CF_MUST_USE cf_err_t cf_key_type_from_name(const char *name, cf_key_type_t *type_out);
/* Canonical name: "P-256", "P-384", "RSA-2048", "RSA-3072", "RSA-4096", "Ed25519". */
const char *cf_key_type_name(cf_key_type_t type);

/* New key of the given type; *key_out is the caller's (cf_key_destroy). */
CF_MUST_USE cf_err_t cf_key_generate(cf_key_type_t type, cf_key_t **key_out);

/* Wrap an EVP_PKEY: takes ownership of *pkey_p and NULLs it (also on failure, where the
   key is freed). CF_ERR_UNSUPPORTED if the key is not one of cf_key_type_t. */
CF_MUST_USE cf_err_t cf_key_from_pkey(EVP_PKEY **pkey_p, cf_key_t **key_out);

/* Parse a PEM private key (PKCS#8, encrypted PKCS#8, traditional RSA/EC, with or without
   DEK-Info encryption); the first private-key block counts, others (certificates) are
   skipped. password may be NULL. An encrypted PKCS#8 is checked before the password is used:
   PBES2 with PBKDF2 or a PKCS#5/PKCS#12 PBE scheme, at most CF_KEY_MAX_ITER iterations
   (legacy ciphers decrypt in a private library context, as cf_p12 does). Errors:
     CF_ERR_TOOBIG      len > CF_KEY_MAX_INPUT, or an iteration count over CF_KEY_MAX_ITER
     CF_ERR_CORRUPT     no PEM private key (input without "-----BEGIN " is refused at once),
                        damaged base64 or headers, truncated, a structure that does not decode
     CF_ERR_BADPASS     encrypted and the password is missing or does not decrypt it
     CF_ERR_UNSUPPORTED a key type we do not accept, scrypt or another encryption we cannot run
     CF_ERR_NOMEM */
CF_MUST_USE cf_err_t cf_key_from_pem(const char *pem, size_t len, const char *password,
                                     cf_key_t **key_out);
/* Parse an unencrypted PKCS#8 DER private key (the form cf_seal stores). Same errors. */
CF_MUST_USE cf_err_t cf_key_from_der(const unsigned char *der, size_t len, cf_key_t **key_out);

/* PKCS#8 PEM; encrypted with AES-256-CBC under PBKDF2 when password is non-NULL and non-empty.
 *pem_out is NUL-terminated, the caller's, and must be freed with cf_mem_free_secret. */
CF_MUST_USE cf_err_t cf_key_to_pem(const cf_key_t *key, const char *password, char **pem_out,
                                   size_t *len_out);
/* Unencrypted PKCS#8 DER; free with cf_mem_free_secret(*der_out, *len_out). */
CF_MUST_USE cf_err_t cf_key_to_der(const cf_key_t *key, unsigned char **der_out, size_t *len_out);
/* SubjectPublicKeyInfo DER of the public half; free with cf_mem_free. */
CF_MUST_USE cf_err_t cf_key_public_der(const cf_key_t *key, unsigned char **der_out,
                                       size_t *len_out);

cf_key_type_t cf_key_type(const cf_key_t *key);
/* Borrowed: lives as long as the key. Do not free. */
EVP_PKEY *cf_key_pkey(const cf_key_t *key);

/* Describe any EVP_PKEY ("P-256", "RSA-1024", "EC secp521r1", "DSA-2048") into buf;
   returns buf. For error messages about keys we refuse. */
const char *cf_key_describe_pkey(const EVP_PKEY *pkey, char *buf, size_t buflen);
/* Map any EVP_PKEY to our type; CF_ERR_UNSUPPORTED if it is none of them. */
CF_MUST_USE cf_err_t cf_key_type_of_pkey(const EVP_PKEY *pkey, cf_key_type_t *type_out);

/* Frees the key (OpenSSL wipes key material) and NULLs *self_p; safe to repeat. */
void cf_key_destroy(cf_key_t **self_p);

#endif
