/*  cf_pbe - vet a password-based-encryption algorithm (caps, KDF, cipher) before decrypting  */
#include "cf_pbe.h"

#include <stdint.h>

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/provider.h>
#include <openssl/x509.h>

static const char *s_what(const char *what)
{
    return what ? what : "encryption";
}

void cf_pbe_ctx_clear(cf_pbe_ctx_t *ctx)
{
    if (!ctx)
        return;
    for (int i = 1; i >= 0; i--) {
        if (ctx->prov[i])
            OSSL_PROVIDER_unload(ctx->prov[i]);
        ctx->prov[i] = NULL;
    }
    OSSL_LIB_CTX_free(ctx->legacy);
    ctx->legacy = NULL;
    ctx->legacy_failed = 0;
}

/* A library context with the legacy provider, for this ctx only; NULL if unavailable. */
static OSSL_LIB_CTX *s_legacy_ctx(cf_pbe_ctx_t *ctx)
{
    if (ctx->legacy || ctx->legacy_failed)
        return ctx->legacy;
    ctx->legacy = OSSL_LIB_CTX_new();
    if (ctx->legacy) {
        ctx->prov[0] = OSSL_PROVIDER_load(ctx->legacy, "default");
        ctx->prov[1] = OSSL_PROVIDER_load(ctx->legacy, "legacy");
    }
    if (!ctx->legacy || !ctx->prov[0] || !ctx->prov[1]) {
        cf_pbe_ctx_clear(ctx);
        ctx->legacy_failed = 1;
    }
    return ctx->legacy;
}

static int s_fetchable(OSSL_LIB_CTX *libctx, const char *cipher, const char *md)
{
    EVP_CIPHER *c = EVP_CIPHER_fetch(libctx, cipher, NULL);
    EVP_MD *m = EVP_MD_fetch(libctx, md, NULL);
    int ok = c && m;
    EVP_CIPHER_free(c);
    EVP_MD_free(m);
    return ok;
}

cf_err_t cf_pbe_unsupported(const ASN1_OBJECT *obj, const char *what, cf_why_t *why)
{
    char name[80] = "unknown";
    if (obj)
        OBJ_obj2txt(name, sizeof(name), obj, 0);
    return cf_why(why, CF_ERR_UNSUPPORTED, "%s: algorithm %s is not supported", s_what(what), name);
}

/* The library context that can run cipher and digest: NULL (default) or the legacy one. */
static cf_err_t s_where(cf_pbe_ctx_t *ctx, int cipher_nid, int md_nid, const char *what,
                        OSSL_LIB_CTX **libctx_out, cf_why_t *why)
{
    if (cipher_nid == NID_undef || md_nid == NID_undef)
        return cf_why(why, CF_ERR_UNSUPPORTED, "%s: unknown cipher or digest", what);
    const char *cipher = OBJ_nid2sn(cipher_nid);
    const char *md = OBJ_nid2sn(md_nid);
    if (s_fetchable(NULL, cipher, md)) {
        *libctx_out = NULL;
        return CF_OK;
    }
    OSSL_LIB_CTX *legacy = s_legacy_ctx(ctx);
    if (legacy && s_fetchable(legacy, cipher, md)) {
        *libctx_out = legacy;
        return CF_OK;
    }
    if (!legacy)
        return cf_why(why, CF_ERR_UNSUPPORTED,
                      "%s uses %s, which needs OpenSSL's legacy provider (not installed); "
                      "re-export it with AES-256: openssl pkcs12 -legacy -in old.p12 -nodes | "
                      "openssl pkcs12 -export -out new.p12",
                      what, cipher);
    return cf_why(why, CF_ERR_UNSUPPORTED, "%s: %s with %s is not supported", what, cipher, md);
}

cf_err_t cf_pbe_check_iter(const ASN1_INTEGER *iter, unsigned long max_iter, const char *what,
                           cf_why_t *why)
{
    int64_t n = 1; /* an absent count means 1 (RFC 7292) */
    what = s_what(what);
    if (iter && !ASN1_INTEGER_get_int64(&n, iter))
        return cf_why(why, CF_ERR_TOOBIG, "%s: iteration count is out of range", what);
    if (n <= 0)
        return cf_why(why, CF_ERR_CORRUPT, "%s: invalid iteration count %lld", what, (long long) n);
    if ((uint64_t) n > max_iter)
        return cf_why(why, CF_ERR_TOOBIG, "%s: iteration count %lld is over the cap of %lu", what,
                      (long long) n, max_iter);
    return CF_OK;
}

/* Decode an AlgorithmIdentifier's SEQUENCE parameter as item it; NULL if it is not one. */
static void *s_param(const X509_ALGOR *alg, const ASN1_ITEM *it)
{
    int ptype = V_ASN1_UNDEF;
    const void *pval = NULL;
    X509_ALGOR_get0(NULL, &ptype, &pval, alg);
    if (ptype != V_ASN1_SEQUENCE || !pval)
        return NULL;
    return ASN1_item_unpack(pval, it);
}

/* PBES2 (RFC 8018): PBKDF2 only (no scrypt: its memory cost is ours to cap, not the file's). */
static cf_err_t s_check_pbes2(cf_pbe_ctx_t *ctx, const X509_ALGOR *alg, unsigned long max_iter,
                              const char *what, OSSL_LIB_CTX **libctx_out, cf_why_t *why)
{
    cf_err_t rc = CF_ERR_CORRUPT;
    PBKDF2PARAM *kdf = NULL;
    PBE2PARAM *pbe2 = s_param(alg, ASN1_ITEM_rptr(PBE2PARAM));
    if (!pbe2 || !pbe2->keyfunc || !pbe2->encryption) {
        cf_why(why, rc, "%s: malformed PBES2 parameters", what);
        goto out;
    }
    if (OBJ_obj2nid(pbe2->keyfunc->algorithm) != NID_id_pbkdf2) {
        rc = cf_pbe_unsupported(pbe2->keyfunc->algorithm, what, why);
        goto out;
    }
    kdf = s_param(pbe2->keyfunc, ASN1_ITEM_rptr(PBKDF2PARAM));
    if (!kdf) {
        cf_why(why, rc, "%s: malformed PBKDF2 parameters", what);
        goto out;
    }
    rc = cf_pbe_check_iter(kdf->iter, max_iter, what, why);
    int md_nid = NID_undef;
    int prf = kdf->prf ? OBJ_obj2nid(kdf->prf->algorithm) : NID_hmacWithSHA1;
    if (rc == CF_OK && !EVP_PBE_find(EVP_PBE_TYPE_PRF, prf, NULL, &md_nid, NULL))
        rc = cf_pbe_unsupported(kdf->prf ? kdf->prf->algorithm : NULL, what, why);
    if (rc == CF_OK)
        rc = s_where(ctx, OBJ_obj2nid(pbe2->encryption->algorithm), md_nid, what, libctx_out, why);
out:
    PBKDF2PARAM_free(kdf);
    PBE2PARAM_free(pbe2);
    return rc;
}

cf_err_t cf_pbe_check(const X509_ALGOR *alg, unsigned long max_iter, cf_pbe_ctx_t *ctx,
                      const char *what, OSSL_LIB_CTX **libctx_out, cf_why_t *why)
{
    CF_ASSERT(ctx != NULL && libctx_out != NULL);
    *libctx_out = NULL;
    what = s_what(what);
    if (!alg)
        return cf_why(why, CF_ERR_CORRUPT, "%s: no algorithm given", what);
    const ASN1_OBJECT *obj = NULL;
    X509_ALGOR_get0(&obj, NULL, NULL, alg);
    int nid = OBJ_obj2nid(obj);
    if (nid == NID_pbes2)
        return s_check_pbes2(ctx, alg, max_iter, what, libctx_out, why);
    int cipher_nid = NID_undef;
    int md_nid = NID_undef;
    if (!EVP_PBE_find(EVP_PBE_TYPE_OUTER, nid, &cipher_nid, &md_nid, NULL) || cipher_nid <= 0 ||
        md_nid <= 0)
        return cf_pbe_unsupported(obj, what, why);
    PBEPARAM *pbe = s_param(alg, ASN1_ITEM_rptr(PBEPARAM));
    if (!pbe)
        return cf_why(why, CF_ERR_CORRUPT, "%s: malformed PBE parameters", what);
    cf_err_t rc = cf_pbe_check_iter(pbe->iter, max_iter, what, why);
    PBEPARAM_free(pbe);
    if (rc == CF_OK)
        rc = s_where(ctx, cipher_nid, md_nid, what, libctx_out, why);
    return rc;
}
