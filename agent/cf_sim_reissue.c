/*  cf_sim_reissue - a reissue job's certificate checked at a simulated agent without
    decoding its public key: read by a cf_cert_reader, chained by X509_verify_cert with the
    signature step done here against the CA's key  */
#include "cf_sim_reissue.h"

#include <string.h>

#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cf_mem.h"

struct cf_sim_reissue {
    cf_cert_reader_t *reader; /* owned: certificates read without their key */
    const cf_cert_t *ca;      /* borrowed: the one trust anchor */
};

/* What the signature step needs of one verification (X509_STORE_CTX app data). */
typedef struct {
    X509 *leaf;               /* the certificate checked (the reader's) */
    const unsigned char *tbs; /* its tbsCertificate as received (inside the DER) */
    size_t tbs_len;           /* bytes */
    time_t now;               /* the validity time */
} s_check_t;

cf_err_t cf_sim_reissue_new(const cf_cert_t *ca, cf_sim_reissue_t **out)
{
    if (!ca || !out)
        return CF_ERR_INVALID;
    *out = NULL;
    cf_sim_reissue_t *self = cf_mem_calloc(1, sizeof(*self));
    if (!self)
        return CF_ERR_NOMEM;
    self->ca = ca;
    cf_err_t rc = cf_cert_reader_new(&self->reader);
    if (rc != CF_OK) {
        cf_sim_reissue_destroy(&self);
        return rc;
    }
    *out = self;
    return CF_OK;
}

void cf_sim_reissue_destroy(cf_sim_reissue_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_sim_reissue_t *self = *self_p;
    cf_cert_reader_destroy(&self->reader);
    cf_mem_free(self);
    *self_p = NULL;
}

/* The tbsCertificate TLV inside a certificate's DER (OpenSSL's TLV reader: the outer
   SEQUENCE, then its first element). 1 when found, whole and of definite length. */
static int s_tbs(const unsigned char *der, size_t len, const unsigned char **tbs, size_t *tbs_len)
{
    const unsigned char *p = der;
    long olen = 0, tlen = 0;
    int tag = 0, cls = 0;
    int r = ASN1_get_object(&p, &olen, &tag, &cls, (long) len);
    if (r != V_ASN1_CONSTRUCTED || tag != V_ASN1_SEQUENCE || cls != V_ASN1_UNIVERSAL)
        return 0;
    const unsigned char *start = p;
    r = ASN1_get_object(&p, &tlen, &tag, &cls, olen);
    if (r != V_ASN1_CONSTRUCTED || tag != V_ASN1_SEQUENCE || cls != V_ASN1_UNIVERSAL)
        return 0;
    *tbs = start;
    *tbs_len = (size_t) (p - start) + (size_t) tlen;
    return *tbs + *tbs_len <= der + len;
}

/* The CA's signature over the leaf's tbsCertificate, as X509_verify checks it: the outer
   and inner algorithms equal, a digest-and-key algorithm of the CA key's type, no unused
   bits. 1 when it verifies. */
static int s_signed_by(const s_check_t *c, EVP_PKEY *ca_key)
{
    const ASN1_BIT_STRING *sig = NULL;
    const X509_ALGOR *alg = NULL;
    const ASN1_OBJECT *oid = NULL;
    int md_nid = NID_undef, pk_nid = NID_undef;
    X509_get0_signature(&sig, &alg, c->leaf);
    if (!sig || !alg || !ca_key || X509_ALGOR_cmp(alg, X509_get0_tbs_sigalg(c->leaf)) != 0 ||
        (sig->flags & 0x7) != 0)
        return 0;
    X509_ALGOR_get0(&oid, NULL, NULL, alg);
    if (!OBJ_find_sigid_algs(OBJ_obj2nid(oid), &md_nid, &pk_nid) || md_nid == NID_undef ||
        pk_nid != EVP_PKEY_get_base_id(ca_key))
        return 0;
    const EVP_MD *md = EVP_get_digestbynid(md_nid);
    EVP_MD_CTX *m = md ? EVP_MD_CTX_new() : NULL;
    int ok = m && EVP_DigestVerifyInit(m, NULL, md, NULL, ca_key) == 1 &&
             EVP_DigestVerify(m, sig->data, (size_t) sig->length, c->tbs, c->tbs_len) == 1;
    EVP_MD_CTX_free(m);
    return ok;
}

/* A certificate's validity at now as X509_verify_cert judges it: an X509_V_ERR_ code, 0 if
   valid. */
static int s_validity(X509 *x, time_t now)
{
    int nb = X509_cmp_time(X509_get0_notBefore(x), &now);
    int na = X509_cmp_time(X509_get0_notAfter(x), &now);
    if (nb == 0)
        return X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD;
    if (nb > 0)
        return X509_V_ERR_CERT_NOT_YET_VALID;
    if (na == 0)
        return X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD;
    return na < 0 ? X509_V_ERR_CERT_HAS_EXPIRED : 0;
}

/* The one chain a reissued certificate has, leaf then the CA as trust anchor, judged as
   X509_verify_cert judges it by default (which cannot run here: it wants every key in the
   chain decoded): extensions understood and valid, the CA a CA without name constraints,
   the leaf issued by it (names, key identifiers, key usage), both valid at now, the CA's
   signature. 1 when all hold; 0 sends the case to the library's check. */
static int s_plain_chain(const cf_sim_reissue_t *self, const s_check_t *c)
{
    X509 *ca = cf_cert_x509(self->ca);
    uint32_t bad = EXFLAG_INVALID | EXFLAG_CRITICAL | EXFLAG_PROXY | EXFLAG_INVALID_POLICY;
    if ((X509_get_extension_flags(c->leaf) | X509_get_extension_flags(ca)) & bad)
        return 0;
    if (X509_check_ca(ca) == 0 || X509_get_ext_by_NID(ca, NID_name_constraints, -1) >= 0 ||
        X509_check_issued(ca, c->leaf) != X509_V_OK)
        return 0;
    if (s_validity(ca, c->now) || s_validity(c->leaf, c->now))
        return 0;
    return s_signed_by(c, X509_get0_pubkey(ca));
}

/* The key: the one held (same SubjectPublicKeyInfo as the certificate in use). */
static cf_err_t s_key(const cf_cert_t *cert, const unsigned char *held, cf_why_t *why)
{
    unsigned char id[CF_CERT_KEY_ID_LEN];
    CF_TRY(cf_cert_key_id(cert, id));
    if (CRYPTO_memcmp(id, held, sizeof(id)) != 0)
        return cf_why(why, CF_ERR_KEYMISMATCH,
                      "the reissued certificate %.16s... is not for the key this agent holds",
                      cf_cert_fingerprint(cert));
    return CF_OK;
}

cf_err_t cf_sim_reissue_check(cf_sim_reissue_t *self, const cf_job_t *job,
                              const unsigned char held_id[CF_CERT_KEY_ID_LEN], time_t now,
                              cf_cert_t **cert_out, cf_why_t *why)
{
    if (!self || !job || !held_id || !cert_out)
        return CF_ERR_INVALID;
    *cert_out = NULL;
    unsigned char *der = NULL;
    size_t len = 0;
    cf_cert_t *cert = NULL;
    CF_TRY(cf_job_reissue_der(job, &der, &len));
    s_check_t c = {NULL, NULL, 0, now};
    int ok = cf_cert_reader_parse(self->reader, der, len, &cert) == CF_OK &&
             s_tbs(der, len, &c.tbs, &c.tbs_len);
    if (ok) {
        c.leaf = cf_cert_x509(cert);
        ok = s_plain_chain(self, &c) &&
             cf_job_reissue_names(cert, cf_job_agent(job), NULL) == CF_OK &&
             s_key(cert, held_id, NULL) == CF_OK;
    }
    cf_mem_free(der);
    ERR_clear_error();
    if (ok) {
        *cert_out = cert;
        return CF_OK;
    }
    /* anything else (a refusal, out of memory, an unusual chain): the library decides and
       says why, at its own cost */
    cf_cert_destroy(&cert);
    return cf_job_reissue_cert_id(job, self->ca, held_id, now, cert_out, why);
}
