/*  cf_p12 - PKCS#12 codec: parse with caps and precise errors, create with AES-256/PBKDF2  */
#include "cf_p12.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "cf_mem.h"
#include "cf_pbe.h"

typedef enum {
    S_MAC_NONE = 0, /* the file has no MAC */
    S_MAC_OK,       /* the MAC verified with the password */
    S_MAC_BAD,      /* the MAC did not verify */
} s_mac_t;

/* State of one parse. */
typedef struct {
    const char *pass;       /* borrowed; password in use (NULL = OpenSSL's "no password") */
    int passlen;            /* its length in bytes */
    unsigned long max_iter; /* cap on every iteration count */
    cf_pbe_ctx_t pbe;       /* owned; where encrypted parts decrypt (legacy provider) */
    STACK_OF(X509) * certs; /* owned; certificates seen, file order */
    EVP_PKEY *pkey;         /* owned; the private key, once seen */
    size_t n_bags;          /* bags looked at so far */
    size_t n_decrypted;     /* encrypted parts that decrypted */
    cf_why_t *why;          /* borrowed; may be NULL */
} s_parse_t;

static cf_err_t s_check_mac(s_parse_t *p, PKCS12 *p12, const char *password, s_mac_t *mac)
{
    const X509_ALGOR *alg = NULL;
    const ASN1_INTEGER *iter = NULL;
    const ASN1_OBJECT *obj = NULL;
    int empty = !password || !*password;
    p->pass = empty ? "" : password;
    p->passlen = (int) strlen(p->pass);
    *mac = S_MAC_NONE;
    if (!PKCS12_mac_present(p12))
        return CF_OK;
    PKCS12_get0_mac(NULL, &alg, NULL, &iter, p12);
    X509_ALGOR_get0(&obj, NULL, NULL, alg);
    int md_nid = OBJ_obj2nid(obj);
    EVP_MD *md = md_nid == NID_undef ? NULL : EVP_MD_fetch(NULL, OBJ_nid2sn(md_nid), NULL);
    EVP_MD_free(md);
    if (!md)
        return cf_pbe_unsupported(obj, "integrity MAC", p->why);
    CF_TRY(cf_pbe_check_iter(iter, p->max_iter, "integrity MAC", p->why));
    *mac = S_MAC_OK;
    if (PKCS12_verify_mac(p12, p->pass, p->passlen))
        return CF_OK;
    if (empty && PKCS12_verify_mac(p12, NULL, 0)) { /* some tools MAC with "no password" */
        p->pass = NULL;
        return CF_OK;
    }
    *mac = S_MAC_BAD;
    return CF_OK;
}

static cf_err_t s_take_p8(s_parse_t *p, const PKCS8_PRIV_KEY_INFO *p8)
{
    if (!p8)
        return cf_why(p->why, CF_ERR_CORRUPT, "a private key bag is empty");
    if (p->pkey)
        return cf_why(p->why, CF_ERR_UNSUPPORTED, "the file holds more than one private key");
    /* Decode in the default context: the key must outlive our private legacy context. */
    p->pkey = EVP_PKCS82PKEY_ex(p8, NULL, NULL);
    if (p->pkey)
        return CF_OK;
    const ASN1_OBJECT *obj = NULL;
    PKCS8_pkey_get0(&obj, NULL, NULL, NULL, p8);
    return cf_pbe_unsupported(obj, "private key", p->why);
}

static cf_err_t s_take_shrouded(s_parse_t *p, const X509_SIG *sig)
{
    const X509_ALGOR *alg = NULL;
    OSSL_LIB_CTX *ctx = NULL;
    if (!sig)
        return cf_why(p->why, CF_ERR_CORRUPT, "an encrypted private key bag is empty");
    X509_SIG_get0(sig, &alg, NULL);
    CF_TRY(cf_pbe_check(alg, p->max_iter, &p->pbe, "private key encryption", &ctx, p->why));
    PKCS8_PRIV_KEY_INFO *p8 = PKCS8_decrypt_ex(sig, p->pass, p->passlen, ctx, NULL);
    if (!p8)
        return CF_ERR_CRYPTO; /* wrong password or damage: s_verdict tells which */
    p->n_decrypted++;
    cf_err_t rc = s_take_p8(p, p8);
    PKCS8_PRIV_KEY_INFO_free(p8);
    return rc;
}

static cf_err_t s_take_cert(s_parse_t *p, const PKCS12_SAFEBAG *bag)
{
    if (PKCS12_SAFEBAG_get_bag_nid(bag) != NID_x509Certificate)
        return CF_OK; /* SDSI certificates: nothing we use */
    if (sk_X509_num(p->certs) >= CF_CERT_MAX_CHAIN)
        return cf_why(p->why, CF_ERR_TOOBIG, "the file holds more than %d certificates",
                      CF_CERT_MAX_CHAIN);
    X509 *x509 = PKCS12_SAFEBAG_get1_cert(bag);
    if (!x509)
        return cf_why(p->why, CF_ERR_CORRUPT, "a certificate inside cannot be decoded");
    if (!sk_X509_push(p->certs, x509)) {
        X509_free(x509);
        return CF_ERR_NOMEM;
    }
    return CF_OK;
}

static cf_err_t s_take_bag(s_parse_t *p, const PKCS12_SAFEBAG *bag)
{
    if (++p->n_bags > CF_P12_MAX_BAGS)
        return cf_why(p->why, CF_ERR_TOOBIG, "the file holds more than %d bags", CF_P12_MAX_BAGS);
    switch (PKCS12_SAFEBAG_get_nid(bag)) {
    case NID_keyBag: return s_take_p8(p, PKCS12_SAFEBAG_get0_p8inf(bag));
    case NID_pkcs8ShroudedKeyBag: return s_take_shrouded(p, PKCS12_SAFEBAG_get0_pkcs8(bag));
    case NID_certBag: return s_take_cert(p, bag);
    case NID_safeContentsBag:
        return cf_why(p->why, CF_ERR_UNSUPPORTED, "nested PKCS#12 bags are not supported");
    default: return CF_OK; /* CRL and secret bags: nothing we import */
    }
}

static cf_err_t s_decrypt_safe(s_parse_t *p, const PKCS7 *p7, STACK_OF(PKCS12_SAFEBAG) * *bags_out)
{
    PKCS7_ENC_CONTENT *enc = p7->d.encrypted ? p7->d.encrypted->enc_data : NULL;
    OSSL_LIB_CTX *ctx = NULL;
    if (!enc || !enc->algorithm || !enc->enc_data)
        return cf_why(p->why, CF_ERR_CORRUPT, "an encrypted PKCS#12 part is empty");
    CF_TRY(
        cf_pbe_check(enc->algorithm, p->max_iter, &p->pbe, "certificate encryption", &ctx, p->why));
    *bags_out = PKCS12_item_decrypt_d2i_ex(enc->algorithm, ASN1_ITEM_rptr(PKCS12_SAFEBAGS), p->pass,
                                           p->passlen, enc->enc_data, 1, ctx, NULL);
    if (!*bags_out)
        return CF_ERR_CRYPTO; /* wrong password or damage: s_verdict tells which */
    p->n_decrypted++;
    return CF_OK;
}

static cf_err_t s_take_safe(s_parse_t *p, PKCS7 *p7)
{
    STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
    cf_err_t rc = CF_OK;
    switch (OBJ_obj2nid(p7->type)) {
    case NID_pkcs7_data:
        bags = p7->d.data ? PKCS12_unpack_p7data(p7) : NULL;
        if (!bags)
            rc = cf_why(p->why, CF_ERR_CORRUPT, "a PKCS#12 data part cannot be decoded");
        break;
    case NID_pkcs7_encrypted: rc = s_decrypt_safe(p, p7, &bags); break;
    default:
        rc = cf_why(p->why, CF_ERR_UNSUPPORTED,
                    "PKCS#12 parts under public-key encryption are not supported");
        break;
    }
    for (int i = 0; rc == CF_OK && i < sk_PKCS12_SAFEBAG_num(bags); i++)
        rc = s_take_bag(p, sk_PKCS12_SAFEBAG_value(bags, i));
    sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    return rc;
}

static cf_err_t s_walk(s_parse_t *p, const PKCS12 *p12)
{
    STACK_OF(PKCS7) *safes = PKCS12_unpack_authsafes(p12);
    if (!safes)
        return cf_why(p->why, CF_ERR_CORRUPT, "the PKCS#12 contents cannot be decoded");
    cf_err_t rc = CF_OK;
    for (int i = 0; rc == CF_OK && i < sk_PKCS7_num(safes); i++)
        rc = s_take_safe(p, sk_PKCS7_value(safes, i));
    sk_PKCS7_pop_free(safes, PKCS7_free);
    return rc;
}

/* Wrong password or damaged file? The MAC covers all contents: a MAC failure while the
   contents still decrypt means damage; contents that do not decrypt mean the password. */
static cf_err_t s_verdict(const s_parse_t *p, cf_err_t rc, s_mac_t mac, const char *password)
{
    int no_pass = !password || !*password;
    if (rc == CF_ERR_CRYPTO && mac == S_MAC_OK)
        return cf_why(p->why, CF_ERR_CORRUPT,
                      "the PKCS#12 MAC verifies but a part does not decrypt with the same "
                      "password (damaged, or made with separate passwords)");
    if (rc == CF_ERR_CRYPTO || (rc == CF_OK && mac == S_MAC_BAD && p->n_decrypted == 0)) {
        if (no_pass)
            return cf_why(p->why, CF_ERR_BADPASS,
                          "the PKCS#12 file is protected by a password and none was given");
        return cf_why(p->why, CF_ERR_BADPASS, "wrong password for the PKCS#12 file");
    }
    if (rc == CF_OK && mac == S_MAC_BAD)
        return cf_why(p->why, CF_ERR_CORRUPT,
                      "the PKCS#12 integrity check (MAC) fails although its contents decrypt: "
                      "the file was altered or damaged");
    return rc;
}

static cf_err_t s_decode(const void *buf, size_t len, PKCS12 **p12_out, cf_why_t *why)
{
    const unsigned char *der = buf;
    if (len >= 5 && memcmp(buf, "-----", 5) == 0)
        return cf_why(why, CF_ERR_CORRUPT,
                      "this is a PEM file, not a DER PKCS#12: import it as PEM instead");
    PKCS12 *p12 = d2i_PKCS12(NULL, &der, (long) len);
    if (!p12)
        return cf_why(why, CF_ERR_CORRUPT, "not a PKCS#12 file, or truncated");
    size_t used = (size_t) (der - (const unsigned char *) buf);
    if (used != len) {
        PKCS12_free(p12);
        return cf_why(why, CF_ERR_CORRUPT, "%zu bytes of trailing data", len - used);
    }
    *p12_out = p12;
    return CF_OK;
}

static cf_err_t s_finish(s_parse_t *p, cf_p12_content_t *out)
{
    int n = sk_X509_num(p->certs);
    if (n <= 0)
        return cf_why(p->why, CF_ERR_NOTFOUND, "the PKCS#12 file holds no certificate");
    if (p->pkey) {
        char desc[64];
        cf_key_describe_pkey(p->pkey, desc, sizeof(desc));
        cf_err_t rc = cf_key_from_pkey(&p->pkey, &out->key);
        if (rc == CF_ERR_UNSUPPORTED)
            return cf_why(p->why, rc, "the private key is %s; accepted are %s", desc,
                          "P-256, P-384, RSA 2048-4096 and Ed25519");
        CF_TRY(rc);
    }
    for (int i = 0; i < n; i++) {
        CF_TRY(cf_cert_from_x509(sk_X509_value(p->certs, i), &out->certs[i]));
        out->n_certs++;
    }
    return CF_OK;
}

cf_err_t cf_p12_parse(const void *buf, size_t len, const char *password, unsigned long max_iter,
                      cf_p12_content_t *out, cf_why_t *why)
{
    CF_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    if (!buf || len == 0)
        return cf_why(why, CF_ERR_INVALID, "empty PKCS#12 input");
    if (len > CF_P12_MAX_INPUT)
        return cf_why(why, CF_ERR_TOOBIG, "the PKCS#12 file is %zu bytes; the cap is %d", len,
                      CF_P12_MAX_INPUT);
    if (password && strnlen(password, CF_P12_MAX_PASSWORD + 1) > CF_P12_MAX_PASSWORD)
        return cf_why(why, CF_ERR_INVALID, "password longer than %d bytes", CF_P12_MAX_PASSWORD);
    s_parse_t p = {.max_iter = max_iter ? max_iter : CF_P12_MAX_ITER, .why = why};
    PKCS12 *p12 = NULL;
    s_mac_t mac = S_MAC_NONE;
    cf_err_t rc = CF_ERR_NOMEM;
    ERR_set_mark();
    p.certs = sk_X509_new_null();
    if (!p.certs)
        goto out;
    rc = s_decode(buf, len, &p12, why);
    if (rc == CF_OK)
        rc = s_check_mac(&p, p12, password, &mac);
    if (rc == CF_OK)
        rc = s_walk(&p, p12);
    rc = s_verdict(&p, rc, mac, password);
    if (rc == CF_OK)
        rc = s_finish(&p, out);
out:
    if (rc != CF_OK)
        cf_p12_content_clear(out);
    PKCS12_free(p12);
    sk_X509_pop_free(p.certs, X509_free);
    EVP_PKEY_free(p.pkey);
    cf_pbe_ctx_clear(&p.pbe);
    ERR_pop_to_mark();
    return rc;
}

void cf_p12_content_clear(cf_p12_content_t *content)
{
    if (!content)
        return;
    cf_key_destroy(&content->key);
    for (size_t i = 0; i < CF_CERT_MAX_CHAIN; i++)
        cf_cert_destroy(&content->certs[i]);
    content->n_certs = 0;
}

static cf_err_t s_check_create_args(const cf_key_t *key, const cf_cert_t *cert,
                                    const cf_cert_t *const *extra, size_t n, const char *password,
                                    unsigned long iter)
{
    if (!cert || (n && !extra) || !password || !*password || iter > CF_P12_MAX_ITER)
        return CF_ERR_INVALID;
    if (n > CF_CERT_MAX_CHAIN || strnlen(password, CF_P12_MAX_PASSWORD + 1) > CF_P12_MAX_PASSWORD)
        return CF_ERR_TOOBIG;
    for (size_t i = 0; i < n; i++) {
        if (!extra[i])
            return CF_ERR_INVALID;
    }
    return key ? cf_cert_matches_key(cert, key) : CF_OK;
}

cf_err_t cf_p12_create(const cf_key_t *key, const cf_cert_t *cert, const cf_cert_t *const *extra,
                       size_t n, const char *password, const char *name, unsigned long iter,
                       unsigned char **der_out, size_t *len_out)
{
    CF_ASSERT(der_out != NULL && len_out != NULL);
    *der_out = NULL;
    *len_out = 0;
    CF_TRY(s_check_create_args(key, cert, extra, n, password, iter));
    int it = (int) (iter ? iter : CF_P12_ITER);
    unsigned char *der = NULL;
    PKCS12 *p12 = NULL;
    cf_err_t rc = CF_ERR_NOMEM;
    ERR_set_mark();
    STACK_OF(X509) *ca = sk_X509_new_null();
    for (size_t i = 0; ca && i < n; i++) {
        if (!sk_X509_push(ca, cf_cert_x509(extra[i]))) /* borrowed: freed without pop_free */
            goto out;
    }
    if (!ca)
        goto out;
    rc = CF_ERR_CRYPTO;
    /* Cipher NIDs select PBES2/PBKDF2-HMAC-SHA256; the MAC (-1: none yet) is set to pin SHA-256 */
    p12 = PKCS12_create_ex(password, name, key ? cf_key_pkey(key) : NULL, cf_cert_x509(cert), ca,
                           NID_aes_256_cbc, NID_aes_256_cbc, it, -1, 0, NULL, NULL);
    if (!p12 || !PKCS12_set_mac(p12, password, -1, NULL, 0, it, EVP_sha256()))
        goto out;
    int dlen = i2d_PKCS12(p12, &der);
    if (dlen <= 0)
        goto out;
    rc = CF_ERR_NOMEM;
    *der_out = cf_mem_memdup(der, (size_t) dlen);
    if (!*der_out)
        goto out;
    *len_out = (size_t) dlen;
    rc = CF_OK;
out:
    OPENSSL_free(der);
    PKCS12_free(p12);
    sk_X509_free(ca);
    ERR_pop_to_mark();
    return rc;
}
