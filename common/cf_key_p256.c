/*  cf_key_p256 - P-256 private keys read without OpenSSL 3.0's per-key decoder set-up:
    ECPrivateKey through OpenSSL's ASN.1 templates, imported with EVP_PKEY_fromdata  */
#include "cf_key_int.h"

#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>

#define S_SCALAR 32 /* P-256 private scalar, bytes */
#define S_POINT  65 /* uncompressed public point: 04 || x || y */

/* ECPrivateKey (RFC 5915) with a named curve: parameters, when present, an OID (explicit
   curve parameters do not fit the template and go the usual way). */
typedef struct {
    int32_t version;         /* 1 */
    ASN1_OCTET_STRING *priv; /* the scalar, big-endian */
    ASN1_OBJECT *curve;      /* [0] namedCurve, optional */
    ASN1_BIT_STRING *pub;    /* [1] the public point, optional */
} S_ECPRIV;

ASN1_SEQUENCE(S_ECPRIV) =
    {
        ASN1_EMBED(S_ECPRIV, version, INT32),
        ASN1_SIMPLE(S_ECPRIV, priv, ASN1_OCTET_STRING),
        ASN1_EXP_OPT(S_ECPRIV, curve, ASN1_OBJECT, 0),
        ASN1_EXP_OPT(S_ECPRIV, pub, ASN1_BIT_STRING, 1),
} static_ASN1_SEQUENCE_END(S_ECPRIV)

        static void s_free(S_ECPRIV * k)
{
    if (k && k->priv) /* the scalar: wiped before it goes back */
        OPENSSL_cleanse(k->priv->data, (size_t) k->priv->length);
    ASN1_item_free((ASN1_VALUE *) k, ASN1_ITEM_rptr(S_ECPRIV));
}

/* CF_OK when point is d*G (d in [1, n-1]): the stored public point is the scalar's own.
   One fixed-base multiplication: EVP_PKEY_pairwise_check would also multiply the point
   by the group order, a variable-base multiplication several times as dear. */
static cf_err_t s_check_pair(const BIGNUM *d, const unsigned char *point)
{
    cf_err_t rc = CF_ERR_NOMEM;
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    EC_POINT *r = g ? EC_POINT_new(g) : NULL;
    unsigned char mine[S_POINT];
    if (!r)
        goto out;
    rc = CF_ERR_CORRUPT;
    if (BN_is_zero(d) || BN_is_negative(d) || BN_cmp(d, EC_GROUP_get0_order(g)) >= 0)
        goto out;
    if (EC_POINT_mul(g, r, d, NULL, NULL, NULL) == 1 &&
        EC_POINT_point2oct(g, r, POINT_CONVERSION_UNCOMPRESSED, mine, sizeof(mine), NULL) ==
            S_POINT &&
        CRYPTO_memcmp(mine, point, S_POINT) == 0)
        rc = CF_OK;
out:
    EC_POINT_free(r);
    EC_GROUP_free(g);
    return rc;
}

/* scalar (S_SCALAR bytes) and point (S_POINT) into a checked P-256 key. */
static cf_err_t s_import(const unsigned char *scalar, const unsigned char *point,
                         EVP_PKEY **pkey_out)
{
    cf_err_t rc = CF_ERR_NOMEM;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *d = BN_secure_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY *pkey = NULL;
    if (!ctx || !bld || !d || !BN_bin2bn(scalar, S_SCALAR, d))
        goto out;
    rc = s_check_pair(d, point);
    if (rc != CF_OK)
        goto out;
    rc = CF_ERR_NOMEM;
    if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, S_POINT))
        goto out;
    params = OSSL_PARAM_BLD_to_param(bld);
    rc = CF_ERR_CRYPTO;
    if (!params || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, params) != 1)
        goto out;
    *pkey_out = pkey;
    pkey = NULL;
    rc = CF_OK;
out:
    EVP_PKEY_free(pkey);
    OSSL_PARAM_free(params);
    BN_clear_free(d);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}

/* The ECPrivateKey DER of a P-256 key in the usual form; curve_known: the curve was named
   outside (PKCS#8's algorithm), so the inner one may be absent but must agree. */
static cf_err_t s_sec1(const unsigned char *der, size_t len, int curve_known, EVP_PKEY **pkey_out)
{
    const unsigned char *p = der;
    S_ECPRIV *k = (S_ECPRIV *) ASN1_item_d2i(NULL, &p, (long) len, ASN1_ITEM_rptr(S_ECPRIV));
    cf_err_t rc = CF_ERR_UNSUPPORTED;
    if (!k || p != der + len) /* not this form: the usual decoder judges it */
        goto out;
    int curve = k->curve ? OBJ_obj2nid(k->curve) : NID_undef;
    if (k->version != 1 || (!curve_known && curve != NID_X9_62_prime256v1) ||
        (curve_known && k->curve && curve != NID_X9_62_prime256v1) || !k->pub ||
        k->priv->length != S_SCALAR || k->pub->length != S_POINT || k->pub->data[0] != 0x04 ||
        (k->pub->flags & 0x07) != 0) /* no unused bits */
        goto out;
    rc = s_import(k->priv->data, k->pub->data, pkey_out);
out:
    s_free(k);
    ERR_clear_error();
    return rc;
}

cf_err_t cf_key_p256_from_p8(const PKCS8_PRIV_KEY_INFO *p8, EVP_PKEY **pkey_out)
{
    if (!p8 || !pkey_out)
        return CF_ERR_INVALID;
    *pkey_out = NULL;
    const unsigned char *inner = NULL;
    int len = 0;
    const X509_ALGOR *alg = NULL;
    const ASN1_OBJECT *aobj = NULL;
    const void *param = NULL;
    int ptype = 0;
    if (!PKCS8_pkey_get0(NULL, &inner, &len, &alg, p8) || !alg || len <= 0)
        return CF_ERR_UNSUPPORTED;
    X509_ALGOR_get0(&aobj, &ptype, &param, alg);
    if (OBJ_obj2nid(aobj) != NID_X9_62_id_ecPublicKey || ptype != V_ASN1_OBJECT ||
        OBJ_obj2nid(param) != NID_X9_62_prime256v1)
        return CF_ERR_UNSUPPORTED;
    return s_sec1(inner, (size_t) len, 1, pkey_out);
}

cf_err_t cf_key_p256_from_sec1(const unsigned char *der, size_t len, EVP_PKEY **pkey_out)
{
    if (!der || !pkey_out || len == 0)
        return CF_ERR_INVALID;
    *pkey_out = NULL;
    return s_sec1(der, len, 0, pkey_out);
}
