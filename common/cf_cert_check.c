/*  cf_cert_check - the cf_cert checks: key match, validity, chain, state, renewal timing  */
#include "cf_cert.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509_vfy.h>

cf_err_t cf_cert_matches_key(const cf_cert_t *cert, const cf_key_t *key)
{
    if (!cert || !key)
        return CF_ERR_INVALID;
    int eq = EVP_PKEY_eq(X509_get0_pubkey(cf_cert_x509(cert)), cf_key_pkey(key));
    ERR_clear_error();
    return eq == 1 ? CF_OK : CF_ERR_KEYMISMATCH;
}

cf_err_t cf_cert_key_id(const cf_cert_t *cert, unsigned char out[CF_CERT_KEY_ID_LEN])
{
    if (!cert || !out)
        return CF_ERR_INVALID;
    unsigned char *der = NULL;
    int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cf_cert_x509(cert)), &der);
    unsigned int len = 0;
    int ok = n > 0 && EVP_Digest(der, (size_t) n, out, &len, EVP_sha256(), NULL) &&
             len == CF_CERT_KEY_ID_LEN;
    OPENSSL_free(der);
    ERR_clear_error();
    return ok ? CF_OK : CF_ERR_CRYPTO;
}

cf_err_t cf_cert_der_fingerprint(const void *der, size_t len, char out[65])
{
    if (!der || !len || !out)
        return CF_ERR_INVALID;
    unsigned char md[32];
    unsigned int n = 0;
    if (!EVP_Digest(der, len, md, &n, EVP_sha256(), NULL) || n != sizeof(md)) {
        ERR_clear_error();
        return CF_ERR_CRYPTO;
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof(md); i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    return CF_OK;
}

cf_err_t cf_cert_check_time(const cf_cert_t *cert, time_t now)
{
    if (!cert)
        return CF_ERR_INVALID;
    if (now < cf_cert_not_before(cert))
        return CF_ERR_NOTYETVALID;
    if (now > cf_cert_not_after(cert))
        return CF_ERR_EXPIRED;
    return CF_OK;
}

static cf_err_t s_verify_error(int err, cf_why_t *why)
{
    const char *text = X509_verify_cert_error_string(err);
    switch (err) {
    case X509_V_ERR_CERT_HAS_EXPIRED: return cf_why(why, CF_ERR_EXPIRED, "certificate has expired");
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return cf_why(why, CF_ERR_NOTYETVALID, "certificate is not yet valid");
    case X509_V_ERR_CRL_HAS_EXPIRED:
    case X509_V_ERR_CRL_NOT_YET_VALID:
    default: return cf_why(why, CF_ERR_UNTRUSTED, "chain does not verify: %s", text);
    }
}

cf_err_t cf_cert_verify(const cf_cert_t *leaf, const cf_cert_t *ca, cf_cert_t *const *intermediates,
                        size_t n, time_t now, cf_why_t *why)
{
    if (!leaf || !ca || n > CF_CERT_MAX_CHAIN || (n && !intermediates))
        return CF_ERR_INVALID;
    cf_err_t rc = CF_ERR_NOMEM;
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509) *chain = sk_X509_new_null();
    if (!store || !ctx || !chain || !X509_STORE_add_cert(store, cf_cert_x509(ca)))
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (!sk_X509_push(chain, cf_cert_x509(intermediates[i])))
            goto out;
    }
    rc = CF_ERR_CRYPTO;
    if (!X509_STORE_CTX_init(ctx, store, cf_cert_x509(leaf), chain))
        goto out;
    X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), now);
    if (X509_verify_cert(ctx) == 1)
        rc = CF_OK;
    else
        rc = s_verify_error(X509_STORE_CTX_get_error(ctx), why);
out:
    sk_X509_free(chain); /* the certificates stay with their cf_cert_t */
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    ERR_clear_error();
    return rc;
}

cf_cert_state_t cf_cert_classify(const cf_cert_t *cert, time_t now, int archived, int revoked)
{
    CF_ASSERT(cert);
    if (revoked)
        return CF_CERT_REVOKED;
    if (now > cf_cert_not_after(cert))
        return CF_CERT_EXPIRED;
    if (now < cf_cert_not_before(cert))
        return CF_CERT_NOTYETVALID;
    return archived ? CF_CERT_ARCHIVED : CF_CERT_CURRENT;
}

long cf_cert_days_left(const cf_cert_t *cert, time_t now)
{
    CF_ASSERT(cert);
    long long secs = (long long) cf_cert_not_after(cert) - (long long) now;
    long long days = secs / 86400;
    if (secs < 0 && secs % 86400 != 0)
        days--; /* round toward minus infinity */
    return (long) days;
}

time_t cf_cert_renew_at_times(time_t not_before, time_t not_after, unsigned days_before,
                              uint64_t seed)
{
    if (not_after <= not_before)
        return not_before;
    long long lifetime = (long long) not_after - (long long) not_before;
    long long by_days = (long long) not_after - (long long) days_before * 86400LL;
    long long by_share = (long long) not_before + lifetime * 2 / 3;
    /* N days before expiry only counts once a third of the life has passed: with N at or
       above the lifetime (a 7-day agent certificate, N = 30) the days rule would make every
       new certificate due at once, a renewal loop */
    if (by_days < (long long) not_before + lifetime / 3)
        by_days = by_share;
    long long due = by_days < by_share ? by_days : by_share;
    long long window = lifetime / 20;
    if (window > 48LL * 3600)
        window = 48LL * 3600;
    if (window > 0)
        due -= (long long) (seed % (uint64_t) window);
    if (due < (long long) not_before)
        due = not_before;
    return (time_t) due;
}

time_t cf_cert_renew_at(const cf_cert_t *cert, unsigned days_before)
{
    CF_ASSERT(cert);
    /* the jitter seed is the fingerprint's first 64 bits: stable per certificate */
    char head[17];
    memcpy(head, cf_cert_fingerprint(cert), 16);
    head[16] = '\0';
    uint64_t seed = strtoull(head, NULL, 16);
    return cf_cert_renew_at_times(cf_cert_not_before(cert), cf_cert_not_after(cert), days_before,
                                  seed);
}

int cf_cert_renewal_due(const cf_cert_t *cert, time_t now, unsigned days_before)
{
    return now >= cf_cert_renew_at(cert, days_before);
}
