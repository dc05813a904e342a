/*  cf_spki - SubjectPublicKeyInfo of a key being certified, with its key identifier  */
#include "cf_spki.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#define S_P256_POINT 65 /* uncompressed P-256 point: 0x04 || X || Y */

/* SubjectPublicKeyInfo of a P-256 key up to its point: SEQUENCE, AlgorithmIdentifier
   {id-ecPublicKey, prime256v1}, BIT STRING of 66 bytes with 0 unused bits. */
static const unsigned char s_p256_hdr[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
                                           0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
                                           0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};

_Static_assert(sizeof(s_p256_hdr) + S_P256_POINT == CF_SPKI_P256_LEN, "P-256 SPKI size");

void cf_spki_init(cf_spki_t *s)
{
    s->owned = NULL;
    s->der = NULL;
    s->len = 0;
    s->type = (cf_key_type_t) 0;
}

void cf_spki_clear(cf_spki_t *s)
{
    OPENSSL_free(s->owned);
    cf_spki_init(s);
}

cf_err_t cf_spki_kid(const unsigned char *bits, size_t len, const EVP_MD *sha1,
                     unsigned char out[CF_SPKI_KID_LEN])
{
    if (EVP_Digest(bits, len, out, NULL, sha1 ? sha1 : EVP_sha1(), NULL) != 1) {
        ERR_clear_error();
        return CF_ERR_CRYPTO;
    }
    return CF_OK;
}

/* The slow path for any key: OpenSSL encodes the SubjectPublicKeyInfo. */
static cf_err_t s_from_x509(cf_spki_t *s, X509_PUBKEY *xpk, const EVP_MD *sha1)
{
    EVP_PKEY *pkey = X509_PUBKEY_get0(xpk);
    const unsigned char *bits = NULL;
    int bits_len = 0;
    if (!pkey || cf_key_type_of_pkey(pkey, &s->type) != CF_OK) {
        ERR_clear_error();
        return CF_ERR_UNSUPPORTED;
    }
    int n = 0;
    if (X509_PUBKEY_get0_param(NULL, &bits, &bits_len, NULL, xpk) && bits_len > 0)
        n = i2d_X509_PUBKEY(xpk, &s->owned);
    if (n <= 0) {
        ERR_clear_error();
        return CF_ERR_CRYPTO;
    }
    s->der = s->owned;
    s->len = (size_t) n;
    return cf_spki_kid(bits, (size_t) bits_len, sha1, s->kid);
}

/* The fast path for P-256: the raw point behind the fixed header. CF_ERR_UNSUPPORTED when
   the key does not give an uncompressed point (then the slow path handles it). */
static cf_err_t s_from_p256(cf_spki_t *s, EVP_PKEY *pkey, const EVP_MD *sha1)
{
    unsigned char *point = s->p256 + sizeof(s_p256_hdr);
    size_t n = 0;
    if (!EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
                                         S_P256_POINT, &n) ||
        n != S_P256_POINT || point[0] != 0x04) {
        ERR_clear_error();
        return CF_ERR_UNSUPPORTED;
    }
    memcpy(s->p256, s_p256_hdr, sizeof(s_p256_hdr));
    s->der = s->p256;
    s->len = sizeof(s->p256);
    s->type = CF_KEY_P256;
    return cf_spki_kid(point, S_P256_POINT, sha1, s->kid);
}

cf_err_t cf_spki_from_key(cf_spki_t *s, const cf_key_t *key, const EVP_MD *sha1)
{
    EVP_PKEY *pkey = cf_key_pkey(key);
    if (cf_key_type(key) == CF_KEY_P256 && s_from_p256(s, pkey, sha1) == CF_OK)
        return CF_OK;
    X509_PUBKEY *xpk = NULL;
    if (!X509_PUBKEY_set(&xpk, pkey)) {
        ERR_clear_error();
        return CF_ERR_CRYPTO;
    }
    cf_err_t rc = s_from_x509(s, xpk, sha1);
    X509_PUBKEY_free(xpk);
    return rc;
}

/* The fast path for P-256 DER: the standard header, an uncompressed point, on the curve.
   CF_ERR_UNSUPPORTED: not that shape (the slow path decides); CF_ERR_CORRUPT: off the curve. */
static cf_err_t s_der_p256(cf_spki_t *s, const unsigned char *der, size_t len, const EVP_MD *sha1,
                           const EC_GROUP *p256)
{
    const unsigned char *point = der + sizeof(s_p256_hdr);
    if (len != CF_SPKI_P256_LEN || memcmp(der, s_p256_hdr, sizeof(s_p256_hdr)) != 0 ||
        point[0] != 0x04)
        return CF_ERR_UNSUPPORTED;
    EC_GROUP *own = p256 ? NULL : EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    const EC_GROUP *g = p256 ? p256 : own;
    EC_POINT *pt = g ? EC_POINT_new(g) : NULL;
    cf_err_t rc = CF_ERR_NOMEM;
    if (pt)
        rc = EC_POINT_oct2point(g, pt, point, S_P256_POINT, NULL) == 1 &&
                     EC_POINT_is_on_curve(g, pt, NULL) == 1
                 ? CF_OK
                 : CF_ERR_CORRUPT;
    EC_POINT_free(pt);
    EC_GROUP_free(own);
    ERR_clear_error();
    if (rc != CF_OK)
        return rc;
    memcpy(s->p256, der, CF_SPKI_P256_LEN);
    s->der = s->p256;
    s->len = CF_SPKI_P256_LEN;
    s->type = CF_KEY_P256;
    return cf_spki_kid(point, S_P256_POINT, sha1, s->kid);
}

cf_err_t cf_spki_from_der(cf_spki_t *s, const unsigned char *der, size_t len, const EVP_MD *sha1,
                          const EC_GROUP *p256)
{
    if (!der || len == 0)
        return CF_ERR_CORRUPT;
    if (len > CF_SPKI_MAX_INPUT)
        return CF_ERR_TOOBIG;
    cf_err_t fast = s_der_p256(s, der, len, sha1, p256);
    if (fast != CF_ERR_UNSUPPORTED)
        return fast;
    const unsigned char *p = der;
    X509_PUBKEY *xpk = d2i_X509_PUBKEY(NULL, &p, (long) len);
    cf_err_t rc = CF_ERR_CORRUPT;
    if (xpk && p == der + len)
        rc = s_from_x509(s, xpk, sha1);
    X509_PUBKEY_free(xpk);
    ERR_clear_error();
    return rc;
}
