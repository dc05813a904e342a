/*  cf_pbe - vet a password-based-encryption algorithm (caps, KDF, cipher) before decrypting  */
#ifndef CF_PBE_H_INCLUDED
#define CF_PBE_H_INCLUDED

#include <openssl/types.h>

#include "cf_err.h"

/* Where one call (a PKCS#12 parse, a key load) decrypts. Plain data on the caller's stack:
   zero it before first use ({0}), hand it to every cf_pbe_check of that call, and free it
   with cf_pbe_ctx_clear. The fields are cf_pbe's own. */
typedef struct {
    OSSL_LIB_CTX *legacy;   /* owned; made on first need, default + legacy providers */
    OSSL_PROVIDER *prov[2]; /* owned; the providers loaded into legacy */
    int legacy_failed;      /* the legacy context could not be set up: not tried again */
} cf_pbe_ctx_t;

/* Check the AlgorithmIdentifier of password-based encryption (borrowed), before anything is
   decrypted with it:
     PBES2 (RFC 8018) with PBKDF2 and a PRF and cipher OpenSSL knows; scrypt is refused (its
       memory cost would be the file's choice, not ours);
     PKCS#5 v1.5 and PKCS#12 PBE schemes (pbeWithMD5AndDES-CBC, pbeWithSHA1And3-KeyTripleDES,
       pbeWithSHA1And40BitRC2-CBC, ...);
     and every iteration count at most max_iter (0 refuses all), so a hostile file cannot make
       us spin.
   On CF_OK *libctx_out is where to decrypt (PKCS8_decrypt_ex, PKCS12_item_decrypt_d2i_ex):
   NULL for the default library context, or a private context with OpenSSL's legacy provider
   (RC2, RC4, DES) that ctx owns; it lives until cf_pbe_ctx_clear, so decode the keys that
   must outlive it in the default context. Nothing global changes. what names the part in
   why ("private key encryption"; NULL = "encryption"); why may be NULL; ctx and libctx_out
   must not be (asserted). Errors (why says which and why):
     CF_ERR_TOOBIG      an iteration count over max_iter (or too large to read)
     CF_ERR_CORRUPT     alg is NULL, malformed parameters, an iteration count below 1
     CF_ERR_UNSUPPORTED scrypt, an unknown scheme, PRF, cipher or digest, or a legacy cipher
                        where the legacy provider cannot be loaded (why says how to re-export) */
CF_MUST_USE cf_err_t cf_pbe_check(const X509_ALGOR *alg, unsigned long max_iter, cf_pbe_ctx_t *ctx,
                                  const char *what, OSSL_LIB_CTX **libctx_out, cf_why_t *why);

/* Check one iteration count (borrowed; NULL = absent = 1, as RFC 7292 has for the MAC)
   against max_iter (0 refuses all). CF_ERR_TOOBIG over the cap or unreadable, CF_ERR_CORRUPT
   below 1. */
CF_MUST_USE cf_err_t cf_pbe_check_iter(const ASN1_INTEGER *iter, unsigned long max_iter,
                                       const char *what, cf_why_t *why);

/* Refuse an algorithm by name: returns CF_ERR_UNSUPPORTED with why "<what>: algorithm <name>
   is not supported" (obj borrowed; NULL = "unknown"). For callers' own algorithm checks. */
CF_MUST_USE cf_err_t cf_pbe_unsupported(const ASN1_OBJECT *obj, const char *what, cf_why_t *why);

/* Free the legacy context (if one was made) and zero *ctx; safe on NULL and to repeat. */
void cf_pbe_ctx_clear(cf_pbe_ctx_t *ctx);

#endif
