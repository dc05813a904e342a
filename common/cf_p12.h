/*  cf_p12 - PKCS#12 codec: parse with caps and precise errors, create with AES-256/PBKDF2  */
#ifndef CF_P12_H_INCLUDED
#define CF_P12_H_INCLUDED

#include <stddef.h>

#include "cf_cert.h"
#include "cf_err.h"
#include "cf_key.h"

#define CF_P12_MAX_INPUT    (256 * 1024) /* largest PKCS#12 file we parse, bytes */
#define CF_P12_MAX_BAGS     32           /* most safe bags we look at in one file */
#define CF_P12_MAX_ITER     1000000UL    /* default cap on any KDF or MAC iteration count */
#define CF_P12_ITER         2048UL       /* iterations we write (OpenSSL 3's default) */
#define CF_P12_MAX_PASSWORD 1024         /* longest password we accept, bytes */

/* What one PKCS#12 file holds. Plain data: free the contents with cf_p12_content_clear. */
typedef struct {
    cf_key_t *key;                       /* owned; NULL when the file holds no private key */
    cf_cert_t *certs[CF_CERT_MAX_CHAIN]; /* owned; every X.509 certificate, in file order */
    size_t n_certs;                      /* entries used in certs (>= 1 after a parse) */
} cf_p12_content_t;

/* Parse a DER PKCS#12 file. password may be NULL or "" (both are tried, as OpenSSL does).
   max_iter caps every PBKDF2/PKCS#12-KDF/MAC iteration count (0 = CF_P12_MAX_ITER), so a
   hostile file cannot make us spin. Legacy files (RC2/RC4/DES bags, as made by old tools or
   `openssl pkcs12 -export -legacy`) are decrypted in a private OSSL_LIB_CTX that loads
   OpenSSL's legacy provider for this call only; nothing global changes.
   On success *out holds the key (if any) and at least one certificate, all the caller's.
   Errors (why says which part and what to do):
     CF_ERR_INVALID     NULL/empty input, or password longer than CF_P12_MAX_PASSWORD
     CF_ERR_TOOBIG      len > CF_P12_MAX_INPUT, more than CF_P12_MAX_BAGS bags, more than
                        CF_CERT_MAX_CHAIN certificates, an iteration count over the cap
     CF_ERR_CORRUPT     not DER PKCS#12, truncated, trailing bytes, a malformed part, or the
                        MAC fails while the contents decrypt (the file was altered)
     CF_ERR_BADPASS     the MAC (or, without a MAC, decryption) fails: wrong or missing password
     CF_ERR_UNSUPPORTED an encryption, KDF or MAC algorithm we cannot run (also when a legacy
                        file needs the legacy provider and it is not installed), nested bags,
                        more than one private key, a private key type cf_key refuses
     CF_ERR_NOTFOUND    the file holds no certificate
     CF_ERR_NOMEM
   On failure *out is left empty. */
CF_MUST_USE cf_err_t cf_p12_parse(const void *buf, size_t len, const char *password,
                                  unsigned long max_iter, cf_p12_content_t *out, cf_why_t *why);

/* Free everything in *content and zero it; safe to repeat. */
void cf_p12_content_clear(cf_p12_content_t *content);

/* Build a PKCS#12: key (optional: NULL gives a certificate-only file), cert, and n extra
   certificates (n <= CF_CERT_MAX_CHAIN, may be 0). The key bag and the certificate bag are
   both PBES2 / PBKDF2-HMAC-SHA256 / AES-256-CBC, the MAC is HMAC-SHA256; never RC2 or 3DES.
   iter is the iteration count for both (0 = CF_P12_ITER, at most CF_P12_MAX_ITER). password
   must be non-empty (an export without one is refused). name (optional) becomes the
   friendlyName. *der_out is the caller's (cf_mem_free). Errors: CF_ERR_INVALID (missing
   argument, empty password, iter over the cap), CF_ERR_KEYMISMATCH (key is not cert's),
   CF_ERR_TOOBIG (n or password length), CF_ERR_CRYPTO, CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_p12_create(const cf_key_t *key, const cf_cert_t *cert,
                                   const cf_cert_t *const *extra, size_t n, const char *password,
                                   const char *name, unsigned long iter, unsigned char **der_out,
                                   size_t *len_out);

#endif
