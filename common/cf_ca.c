/*  cf_ca - the internal certificate authority: create/load, issue, sign CSRs, build CRLs  */
#include "cf_ca.h"

#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "cf_csr.h"
#include "cf_der.h"
#include "cf_mem.h"
#include "cf_spki.h"
#include "cf_tbs.h"

#define S_KID_MAX 64   /* longest CA key identifier we carry */
#define S_SIG_MAX 1024 /* largest signature we make room for (RSA-4096 needs 512) */
#define S_POOL    32   /* serials drawn per RAND_bytes call (the call costs ~1 us) */

/* Signature AlgorithmIdentifiers (RFC 5758, RFC 4055, RFC 8410). */
static const unsigned char s_alg_ecdsa256[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                               0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
static const unsigned char s_alg_ecdsa384[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                               0x48, 0xce, 0x3d, 0x04, 0x03, 0x03};
static const unsigned char s_alg_rsa256[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                             0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00};
static const unsigned char s_alg_ed25519[] = {0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70};

struct cf_ca {
    cf_cert_t *cert;              /* the CA certificate */
    cf_key_t *key;                /* the CA private key */
    unsigned char *name;          /* CA subject Name DER: issuer of all we sign (cf_mem) */
    size_t name_len;              /* bytes in name */
    unsigned char kid[S_KID_MAX]; /* CA key identifier (its SKI): the AKI we write */
    size_t kid_len;               /* bytes in kid */
    const unsigned char *sigalg;  /* AlgorithmIdentifier DER of our signatures (static) */
    size_t sigalg_len;            /* bytes in sigalg */
    EVP_MD_CTX *sign_tmpl;        /* DigestSign initialised once with the CA key */
    EVP_MD_CTX *sign_work;        /* copy of sign_tmpl made for each signature */
    EVP_PKEY_CTX *gen_p256;       /* P-256 key generation, initialised once */
    EVP_MD *sha1;                 /* fetched once, for key identifiers */
    EC_GROUP *p256;               /* made once, to check P-256 points being certified */
    int64_t not_after;            /* CA notAfter: nothing issued outlives it */
    unsigned char *scratch;       /* CF_CA_MAX_CERT_DER bytes to build certificates in */
    unsigned char pool[S_POOL * CF_CA_SERIAL_BYTES]; /* random bytes for the next serials */
    size_t pool_left;                                /* serials still unused in pool */
};

static cf_err_t s_crypto(void)
{
    ERR_clear_error();
    return CF_ERR_CRYPTO;
}

static cf_err_t s_prepare(cf_ca_t *ca)
{
    const EVP_MD *md = NULL;
    switch (cf_key_type(ca->key)) {
    case CF_KEY_P256:
        ca->sigalg = s_alg_ecdsa256, ca->sigalg_len = sizeof(s_alg_ecdsa256);
        md = EVP_sha256();
        break;
    case CF_KEY_P384:
        ca->sigalg = s_alg_ecdsa384, ca->sigalg_len = sizeof(s_alg_ecdsa384);
        md = EVP_sha384();
        break;
    case CF_KEY_RSA2048:
    case CF_KEY_RSA3072:
    case CF_KEY_RSA4096:
        ca->sigalg = s_alg_rsa256, ca->sigalg_len = sizeof(s_alg_rsa256);
        md = EVP_sha256(); /* PKCS#1 v1.5, the default padding */
        break;
    case CF_KEY_ED25519: ca->sigalg = s_alg_ed25519, ca->sigalg_len = sizeof(s_alg_ed25519); break;
    default: return CF_ERR_UNSUPPORTED;
    }
    ca->sign_tmpl = EVP_MD_CTX_new();
    ca->sign_work = EVP_MD_CTX_new();
    ca->gen_p256 = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    ca->sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
    ca->p256 = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    ca->scratch = cf_mem_malloc(CF_CA_MAX_CERT_DER);
    if (!ca->sign_tmpl || !ca->sign_work || !ca->gen_p256 || !ca->scratch || !ca->p256)
        return CF_ERR_NOMEM;
    EVP_PKEY *pkey = cf_key_pkey(ca->key);
    if (!ca->sha1 || EVP_PKEY_get_size(pkey) > S_SIG_MAX ||
        EVP_DigestSignInit(ca->sign_tmpl, NULL, md, NULL, pkey) != 1 ||
        EVP_PKEY_keygen_init(ca->gen_p256) != 1 ||
        EVP_PKEY_CTX_set_group_name(ca->gen_p256, "P-256") != 1)
        return s_crypto();
    return CF_OK;
}

/* A CA around key (taken: *key_p is NULLed, also on failure) with its signer ready. */
static cf_err_t s_ca_new(cf_key_t **key_p, cf_ca_t **out)
{
    cf_ca_t *ca = cf_mem_calloc(1, sizeof(*ca));
    if (!ca) {
        cf_key_destroy(key_p);
        return CF_ERR_NOMEM;
    }
    ca->key = *key_p;
    *key_p = NULL;
    cf_err_t rc = s_prepare(ca);
    if (rc != CF_OK)
        cf_ca_destroy(&ca);
    *out = ca;
    return rc;
}

void cf_ca_destroy(cf_ca_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_ca_t *ca = *self_p;
    cf_cert_destroy(&ca->cert);
    cf_key_destroy(&ca->key);
    cf_mem_free(ca->name);
    EVP_MD_CTX_free(ca->sign_tmpl);
    EVP_MD_CTX_free(ca->sign_work);
    EVP_PKEY_CTX_free(ca->gen_p256);
    EVP_MD_free(ca->sha1);
    EC_GROUP_free(ca->p256);
    cf_mem_free(ca->scratch);
    cf_mem_free(ca);
    *self_p = NULL;
}

const cf_cert_t *cf_ca_cert(const cf_ca_t *ca)
{
    return ca->cert;
}

const cf_key_t *cf_ca_key(const cf_ca_t *ca)
{
    return ca->key;
}

static cf_err_t s_sign(cf_ca_t *ca, const unsigned char *tbs, size_t len, unsigned char *sig,
                       size_t *sig_len)
{
    /* Copying the initialised context skips the per-signature provider lookups. */
    if (EVP_MD_CTX_copy_ex(ca->sign_work, ca->sign_tmpl) != 1 ||
        EVP_DigestSign(ca->sign_work, sig, sig_len, tbs, len) != 1)
        return s_crypto();
    return CF_OK;
}

/* Sign the TBS that starts at w->buf[start] and ends at w->len, then append the
   signature algorithm and value and close the outer SEQUENCE opened at mark. */
static cf_err_t s_sign_wrap(cf_ca_t *ca, cf_der_t *w, size_t start, size_t mark)
{
    unsigned char sig[S_SIG_MAX];
    size_t sig_len = sizeof(sig);
    CF_TRY(cf_der_status(w));
    CF_TRY(s_sign(ca, w->buf + start, w->len - start, sig, &sig_len));
    cf_der_raw(w, ca->sigalg, ca->sigalg_len);
    cf_der_bits(w, sig, sig_len);
    cf_der_end(w, mark);
    return cf_der_status(w);
}

static cf_err_t s_build(cf_ca_t *ca, const cf_tbs_cert_t *tbs, unsigned char **der_out,
                        size_t *len_out)
{
    cf_der_t w;
    cf_der_init(&w, ca->scratch, CF_CA_MAX_CERT_DER);
    size_t cert = cf_der_begin(&w, CF_DER_SEQUENCE);
    size_t start = w.len;
    CF_TRY(cf_tbs_cert(&w, tbs));
    CF_TRY(s_sign_wrap(ca, &w, start, cert));
    *der_out = cf_mem_memdup(w.buf, w.len);
    if (!*der_out)
        return CF_ERR_NOMEM;
    *len_out = w.len;
    return CF_OK;
}

/* 128 random bits; serials are public once issued, so drawing them ahead is safe. */
static cf_err_t s_serial(cf_ca_t *ca, unsigned char serial[CF_CA_SERIAL_BYTES])
{
    if (ca->pool_left == 0) {
        if (RAND_bytes(ca->pool, sizeof(ca->pool)) != 1)
            return s_crypto();
        ca->pool_left = S_POOL;
    }
    ca->pool_left--;
    memcpy(serial, ca->pool + ca->pool_left * CF_CA_SERIAL_BYTES, CF_CA_SERIAL_BYTES);
    if (serial[0] == 0) /* keep 16 significant bytes: the INTEGER is 16 or 17 octets */
        serial[0] = 1;
    return CF_OK;
}

/* A new key of type; P-256 comes from the context prepared once. */
static cf_err_t s_generate(cf_ca_t *ca, cf_key_type_t type, cf_key_t **key_out)
{
    if (type != CF_KEY_P256)
        return cf_key_generate(type, key_out);
    EVP_PKEY *pkey = NULL;
    if (EVP_PKEY_keygen(ca->gen_p256, &pkey) != 1)
        return s_crypto();
    return cf_key_from_pkey(&pkey, key_out);
}

/* The subject key: generated into *key_out, or taken from req->public_key / req->spki. */
static cf_err_t s_subject_key(cf_ca_t *ca, const cf_issue_t *req, cf_key_t **key_out,
                              cf_spki_t *pub)
{
    if (req->public_key)
        return cf_spki_from_key(pub, req->public_key, ca->sha1);
    if (req->spki)
        return cf_spki_from_der(pub, req->spki, req->spki_len, ca->sha1, ca->p256);
    CF_TRY(s_generate(ca, req->key_type ? req->key_type : CF_KEY_P256, key_out));
    return cf_spki_from_key(pub, *key_out, ca->sha1);
}

cf_err_t cf_ca_issue_der(cf_ca_t *ca, const cf_issue_t *req, unsigned char **der_out,
                         size_t *len_out, cf_key_t **key_out)
{
    CF_ASSERT(ca && der_out && len_out);
    *der_out = NULL;
    *len_out = 0;
    if (key_out)
        *key_out = NULL;
    cf_issue_sans_t sans;
    CF_TRY(cf_issue_sans(req, &sans));
    if (!req->public_key && !req->spki && !key_out)
        return CF_ERR_INVALID; /* a generated key must go somewhere */
    cf_tbs_cert_t tbs = {.sigalg = ca->sigalg, .sigalg_len = ca->sigalg_len};
    CF_TRY(cf_issue_validity(req, ca->not_after, &tbs.not_before, &tbs.not_after));
    unsigned char serial[CF_CA_SERIAL_BYTES];
    cf_spki_t pub;
    cf_spki_init(&pub);
    cf_key_t *key = NULL;
    cf_err_t rc = s_subject_key(ca, req, &key, &pub);
    if (rc == CF_OK)
        rc = s_serial(ca, serial);
    if (rc != CF_OK)
        goto out;
    tbs.serial = serial, tbs.serial_len = sizeof(serial);
    tbs.issuer = ca->name, tbs.issuer_len = ca->name_len;
    tbs.subject_cn = cf_issue_cn(req);
    tbs.spki = pub.der, tbs.spki_len = pub.len;
    tbs.ski = pub.kid, tbs.ski_len = sizeof(pub.kid);
    tbs.aki = ca->kid, tbs.aki_len = ca->kid_len;
    cf_issue_profile(req, pub.type, &tbs.key_usage, &tbs.eku);
    tbs.sans = sans.san, tbs.n_sans = sans.n;
    rc = s_build(ca, &tbs, der_out, len_out);
    if (rc == CF_OK && key_out) {
        *key_out = key; /* NULL unless we generated it */
        key = NULL;
    }
out:
    cf_spki_clear(&pub);
    cf_key_destroy(&key);
    return rc;
}

cf_err_t cf_ca_issue(cf_ca_t *ca, const cf_issue_t *req, cf_cert_t **cert_out, cf_key_t **key_out)
{
    CF_ASSERT(ca && cert_out);
    *cert_out = NULL;
    unsigned char *der = NULL;
    size_t len = 0;
    cf_key_t *key = NULL;
    CF_TRY(cf_ca_issue_der(ca, req, &der, &len, key_out ? &key : NULL));
    cf_err_t rc = cf_cert_parse(der, len, cert_out);
    cf_mem_free(der);
    if (rc != CF_OK)
        cf_key_destroy(&key);
    else if (key_out)
        *key_out = key;
    return rc;
}

/* The self-signed certificate of a new CA, and the issuer data that follows from it. */
static cf_err_t s_self_sign(cf_ca_t *ca, const char *name, unsigned days, time_t now)
{
    unsigned char buf[128];
    cf_der_t w;
    cf_der_init(&w, buf, sizeof(buf));
    CF_TRY(cf_tbs_name(&w, name));
    ca->name = cf_mem_memdup(buf, w.len);
    if (!ca->name)
        return CF_ERR_NOMEM;
    ca->name_len = w.len;
    cf_spki_t pub;
    cf_spki_init(&pub);
    unsigned char serial[CF_CA_SERIAL_BYTES];
    cf_err_t rc = cf_spki_from_key(&pub, ca->key, ca->sha1);
    if (rc == CF_OK)
        rc = s_serial(ca, serial);
    if (rc != CF_OK) {
        cf_spki_clear(&pub);
        return rc;
    }
    memcpy(ca->kid, pub.kid, CF_SPKI_KID_LEN);
    ca->kid_len = CF_SPKI_KID_LEN;
    int64_t t = now ? (int64_t) now : (int64_t) time(NULL);
    if (t < CF_ISSUE_SKEW || t > CF_ISSUE_MAX_NOW) {
        cf_spki_clear(&pub);
        return CF_ERR_INVALID; /* DER refuses what lies past year 9999 */
    }
    ca->not_after = t + (int64_t) days * 86400;
    cf_tbs_cert_t tbs = {serial,
                         sizeof(serial),
                         ca->sigalg,
                         ca->sigalg_len,
                         ca->name,
                         ca->name_len,
                         t - CF_ISSUE_SKEW,
                         ca->not_after,
                         name,
                         pub.der,
                         pub.len,
                         pub.kid,
                         CF_SPKI_KID_LEN,
                         pub.kid,
                         CF_SPKI_KID_LEN,
                         1,
                         CF_TBS_KU_DIGITAL_SIGNATURE | CF_TBS_KU_KEY_CERT_SIGN | CF_TBS_KU_CRL_SIGN,
                         0,
                         NULL,
                         0};
    unsigned char *der = NULL;
    size_t len = 0;
    rc = s_build(ca, &tbs, &der, &len);
    cf_spki_clear(&pub);
    if (rc == CF_OK)
        rc = cf_cert_parse(der, len, &ca->cert);
    cf_mem_free(der);
    return rc;
}

cf_err_t cf_ca_create(const cf_ca_opts_t *opts, cf_ca_t **out)
{
    CF_ASSERT(out);
    *out = NULL;
    cf_ca_opts_t o = {0};
    if (opts)
        o = *opts;
    const char *name = o.name ? o.name : CF_CA_DEFAULT_NAME;
    unsigned days = o.days ? o.days : CF_CA_DEFAULT_CA_DAYS;
    if (days > CF_CA_MAX_CA_DAYS || cf_issue_check_name(name) != CF_OK)
        return CF_ERR_INVALID;
    cf_key_t *key = NULL;
    cf_ca_t *ca = NULL;
    CF_TRY(cf_key_generate(o.key_type ? o.key_type : CF_KEY_P256, &key));
    cf_err_t rc = s_ca_new(&key, &ca);
    if (rc == CF_OK)
        rc = s_self_sign(ca, name, days, o.now);
    if (rc == CF_OK) {
        *out = ca;
        ca = NULL;
    }
    cf_ca_destroy(&ca);
    return rc;
}

/* Issuer name, key identifier and notAfter of a stored CA certificate. */
static cf_err_t s_load_issuer(cf_ca_t *ca, const cf_cert_t *cert)
{
    X509 *x509 = cf_cert_x509(cert);
    ca->cert = cf_cert_dup(cert);
    if (!ca->cert)
        return CF_ERR_NOMEM;
    int n = i2d_X509_NAME(X509_get_subject_name(x509), NULL);
    if (n <= 0)
        return s_crypto();
    ca->name = cf_mem_malloc((size_t) n);
    if (!ca->name)
        return CF_ERR_NOMEM;
    unsigned char *p = ca->name;
    ca->name_len = (size_t) i2d_X509_NAME(X509_get_subject_name(x509), &p);
    ca->not_after = (int64_t) cf_cert_not_after(cert);
    const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(x509);
    if (!ski) { /* no SKI: derive it the way we would have (RFC 5280 method 1) */
        const ASN1_BIT_STRING *bits = X509_get0_pubkey_bitstr(x509);
        ca->kid_len = CF_SPKI_KID_LEN;
        return cf_spki_kid(bits->data, (size_t) bits->length, ca->sha1, ca->kid);
    }
    int len = ASN1_STRING_length(ski);
    if (len <= 0 || len > S_KID_MAX)
        return CF_ERR_UNSUPPORTED;
    memcpy(ca->kid, ASN1_STRING_get0_data(ski), (size_t) len);
    ca->kid_len = (size_t) len;
    return CF_OK;
}

cf_err_t cf_ca_load(const cf_cert_t *cert, const cf_key_t *key, cf_ca_t **out)
{
    CF_ASSERT(out);
    *out = NULL;
    if (!cert || !key)
        return CF_ERR_INVALID;
    if (X509_check_ca(cf_cert_x509(cert)) != 1) { /* CA:TRUE, keyCertSign if KU present */
        ERR_clear_error();
        return CF_ERR_INVALID;
    }
    CF_TRY(cf_cert_matches_key(cert, key));
    EVP_PKEY *pkey = cf_key_pkey(key);
    if (EVP_PKEY_up_ref(pkey) != 1)
        return s_crypto();
    cf_key_t *own = NULL;
    cf_ca_t *ca = NULL;
    cf_err_t rc = cf_key_from_pkey(&pkey, &own); /* our own handle on the same key */
    if (rc == CF_OK)
        rc = s_ca_new(&own, &ca);
    if (rc == CF_OK)
        rc = s_load_issuer(ca, cert);
    if (rc == CF_OK) {
        *out = ca;
        ca = NULL;
    }
    cf_ca_destroy(&ca);
    return rc;
}

cf_err_t cf_ca_sign_csr(cf_ca_t *ca, const void *csr, size_t len, const cf_ca_policy_t *policy,
                        const char *expected, time_t now, cf_cert_t **cert_out, cf_why_t *why)
{
    CF_ASSERT(ca && cert_out);
    *cert_out = NULL;
    cf_ca_policy_t agent = {0, 0, 0, CF_COMPONENT_AGENT};
    const cf_ca_policy_t *p = policy ? policy : &agent;
    cf_csr_t *parsed = NULL;
    CF_TRY(cf_csr_parse(csr, len, &parsed, why));
    cf_err_t rc = cf_csr_check(parsed, p, expected, why);
    if (rc == CF_OK) {
        unsigned days = p->days ? p->days : CF_ISSUE_DEFAULT_DAYS;
        unsigned max = p->max_days ? p->max_days : CF_ISSUE_MAX_DAYS;
        cf_issue_t req = {.component = p->component, .name = expected, .now = now};
        req.days = days < max ? days : max; /* capped, not refused (cf_ca_policy_t) */
        req.spki = cf_csr_spki(parsed, &req.spki_len);
        rc = cf_ca_issue(ca, &req, cert_out, NULL);
        if (rc != CF_OK)
            cf_why(why, rc, "issuing the certificate failed: %s", cf_err_str(rc));
    }
    cf_csr_destroy(&parsed);
    return rc;
}

static cf_err_t s_pem(const unsigned char *der, size_t len, const char *label, char **pem_out)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    cf_err_t rc = CF_ERR_CRYPTO;
    if (bio && PEM_write_bio(bio, label, "", der, (long) len) > 0) {
        long n = BIO_get_mem_data(bio, &data);
        *pem_out = n > 0 ? cf_mem_strndup(data, (size_t) n) : NULL;
        rc = *pem_out ? CF_OK : CF_ERR_NOMEM;
    }
    BIO_free(bio);
    ERR_clear_error();
    return rc;
}

cf_err_t cf_ca_crl(cf_ca_t *ca, const char *const *serials, size_t n, time_t this_update,
                   time_t next_update, char **pem_out)
{
    CF_ASSERT(ca && pem_out);
    *pem_out = NULL;
    if (n > CF_CA_MAX_CRL_SERIALS)
        return CF_ERR_TOOBIG;
    int64_t tu = this_update ? (int64_t) this_update : (int64_t) time(NULL);
    if ((n && !serials) || (int64_t) next_update <= tu || tu < 0)
        return CF_ERR_INVALID;
    for (size_t i = 0; i < n; i++) {
        unsigned char bytes[CF_TBS_MAX_SERIAL];
        size_t blen = 0;
        CF_TRY(cf_tbs_serial_from_hex(serials[i], bytes, &blen));
    }
    /* An entry is at most 42 bytes: SEQUENCE(2) + INTEGER(2+21) + GeneralizedTime(2+15). */
    size_t cap = 1024 + S_SIG_MAX + ca->name_len + n * 44;
    unsigned char *buf = cf_mem_malloc(cap);
    if (!buf)
        return CF_ERR_NOMEM;
    cf_der_t w;
    cf_der_init(&w, buf, cap);
    size_t mark = cf_der_begin(&w, CF_DER_SEQUENCE);
    size_t start = w.len;
    cf_tbs_crl_t crl = {
        ca->sigalg, ca->sigalg_len, ca->name,      ca->name_len, tu, (int64_t) next_update,
        ca->kid,    ca->kid_len,    (uint64_t) tu, serials,      n};
    cf_err_t rc = cf_tbs_crl(&w, &crl);
    if (rc == CF_OK)
        rc = s_sign_wrap(ca, &w, start, mark);
    if (rc == CF_OK)
        rc = s_pem(buf, w.len, PEM_STRING_X509_CRL, pem_out);
    cf_mem_free(buf);
    return rc;
}
