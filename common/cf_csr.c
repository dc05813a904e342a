/*  cf_csr - PKCS#10 requests: parse untrusted input, check it against a policy, create  */
#include "cf_csr.h"

#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cf_issue.h"
#include "cf_mem.h"

struct cf_csr {
    X509_REQ *req;       /* the parsed request, owned */
    unsigned char *spki; /* its SubjectPublicKeyInfo DER (cf_mem) */
    size_t spki_len;     /* bytes in spki */
};

/* Untrusted bytes made fit for a message: printable ASCII only, at most 64 of them. */
static const char *s_safe(const void *data, size_t len, char *buf, size_t cap)
{
    const unsigned char *s = data;
    size_t o = 0;
    for (size_t i = 0; i < len && o + 4 < cap && i < 64; i++)
        buf[o++] = (char) (s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?');
    if (len > 64 && o + 4 < cap) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

/* DER always starts with a SEQUENCE; anything else is read as PEM, which also skips text
   in front of the block (as "openssl req -text" writes it). */
static int s_is_pem(const unsigned char *buf, size_t len)
{
    return len > 0 && buf[0] != 0x30;
}

static cf_err_t s_decode_der(const unsigned char *der, size_t len, X509_REQ **req_out,
                             cf_why_t *why)
{
    const unsigned char *p = der;
    X509_REQ *req = d2i_X509_REQ(NULL, &p, (long) len);
    if (!req)
        return cf_why(why, CF_ERR_CORRUPT, "not a PKCS#10 certificate request");
    if (p != der + len) {
        X509_REQ_free(req);
        return cf_why(why, CF_ERR_CORRUPT, "%zu bytes after the request", (size_t) (der + len - p));
    }
    *req_out = req;
    return CF_OK;
}

static cf_err_t s_decode_pem(const void *buf, size_t len, X509_REQ **req_out, cf_why_t *why)
{
    char *name = NULL;
    char *header = NULL;
    unsigned char *data = NULL;
    long dlen = 0;
    cf_err_t rc = CF_ERR_NOMEM;
    BIO *bio = BIO_new_mem_buf(buf, (int) len);
    if (!bio)
        goto out;
    if (!PEM_read_bio(bio, &name, &header, &data, &dlen) || dlen <= 0) {
        rc = cf_why(why, CF_ERR_CORRUPT, "no complete PEM block");
        goto out;
    }
    if (strcmp(name, PEM_STRING_X509_REQ) != 0 && strcmp(name, PEM_STRING_X509_REQ_OLD) != 0) {
        char safe[80];
        rc = cf_why(why, CF_ERR_CORRUPT, "PEM block is '%s', not a certificate request",
                    s_safe(name, strlen(name), safe, sizeof(safe)));
        goto out;
    }
    rc = s_decode_der(data, (size_t) dlen, req_out, why);
out:
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_clear_free(data, dlen > 0 ? (size_t) dlen : 0); /* a stray key block, maybe */
    BIO_free(bio);
    return rc;
}

cf_err_t cf_csr_parse(const void *buf, size_t len, cf_csr_t **csr_out, cf_why_t *why)
{
    if (csr_out)
        *csr_out = NULL;
    if (!buf || !csr_out)
        return cf_why(why, CF_ERR_INVALID, "no CSR given");
    if (len > CF_CSR_MAX_INPUT)
        return cf_why(why, CF_ERR_TOOBIG, "CSR of %zu bytes is over the cap of %d", len,
                      CF_CSR_MAX_INPUT);
    if (len == 0)
        return cf_why(why, CF_ERR_CORRUPT, "empty CSR");
    X509_REQ *req = NULL;
    cf_err_t rc =
        s_is_pem(buf, len) ? s_decode_pem(buf, len, &req, why) : s_decode_der(buf, len, &req, why);
    cf_csr_t *self = NULL;
    if (rc != CF_OK)
        goto out;
    rc = CF_ERR_NOMEM;
    self = cf_mem_calloc(1, sizeof(*self));
    if (!self)
        goto out;
    self->req = req;
    req = NULL;
    int n = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(self->req), NULL);
    if (n <= 0) {
        rc = cf_why(why, CF_ERR_CORRUPT, "CSR public key cannot be encoded");
        goto out;
    }
    rc = CF_ERR_NOMEM;
    self->spki = cf_mem_malloc((size_t) n);
    if (!self->spki)
        goto out;
    unsigned char *p = self->spki;
    self->spki_len = (size_t) i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(self->req), &p);
    *csr_out = self;
    self = NULL;
    rc = CF_OK;
out:
    ERR_clear_error();
    X509_REQ_free(req);
    cf_csr_destroy(&self);
    return rc;
}

void cf_csr_destroy(cf_csr_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_csr_t *self = *self_p;
    X509_REQ_free(self->req);
    cf_mem_free(self->spki);
    cf_mem_free(self);
    *self_p = NULL;
}

const unsigned char *cf_csr_spki(const cf_csr_t *csr, size_t *len_out)
{
    *len_out = csr->spki_len;
    return csr->spki;
}

X509_REQ *cf_csr_req(const cf_csr_t *csr)
{
    return csr->req;
}

static cf_err_t s_check_key(const cf_csr_t *csr, unsigned allowed, cf_why_t *why)
{
    if (X509_REQ_get_version(csr->req) != X509_REQ_VERSION_1)
        return cf_why(why, CF_ERR_POLICY, "CSR version %ld, expected 1 (0)",
                      X509_REQ_get_version(csr->req));
    EVP_PKEY *pkey = X509_REQ_get0_pubkey(csr->req);
    if (!pkey)
        return cf_why(why, CF_ERR_POLICY, "CSR public key algorithm is not supported");
    cf_key_type_t type;
    char desc[64];
    if (cf_key_type_of_pkey(pkey, &type) != CF_OK || !(allowed & CF_CA_KEYBIT(type)))
        return cf_why(why, CF_ERR_POLICY, "CSR key %s is not allowed",
                      cf_key_describe_pkey(pkey, desc, sizeof(desc)));
    if (X509_REQ_verify(csr->req, pkey) != 1)
        return cf_why(why, CF_ERR_POLICY, "CSR self-signature does not verify");
    return CF_OK;
}

static cf_err_t s_check_cn(const cf_csr_t *csr, const char *expected, cf_why_t *why)
{
    const X509_NAME *subject = X509_REQ_get_subject_name(csr->req);
    int found = 0;
    cf_err_t rc = CF_OK;
    for (int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); i >= 0;
         i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) {
        if (++found > 1)
            return cf_why(why, CF_ERR_POLICY, "CSR subject has more than one CN");
        const ASN1_STRING *data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
        unsigned char *utf8 = NULL;
        int n = ASN1_STRING_to_UTF8(&utf8, data);
        if (n < 0)
            return cf_why(why, CF_ERR_POLICY, "CSR subject CN cannot be decoded");
        if ((size_t) n != strlen(expected) || memcmp(utf8, expected, (size_t) n) != 0) {
            char safe[80];
            rc = cf_why(why, CF_ERR_POLICY, "CSR subject CN is '%s', expected '%s'",
                        s_safe(utf8, (size_t) n, safe, sizeof(safe)), expected);
        }
        OPENSSL_free(utf8);
        if (rc != CF_OK)
            return rc;
    }
    if (!found)
        return cf_why(why, CF_ERR_POLICY, "CSR subject has no CN");
    return CF_OK;
}

static cf_err_t s_check_sans(const X509_EXTENSION *ext, const char *uri, cf_why_t *why)
{
    GENERAL_NAMES *names = X509V3_EXT_d2i((X509_EXTENSION *) ext);
    if (!names)
        return cf_why(why, CF_ERR_POLICY, "CSR subjectAltName cannot be decoded");
    cf_err_t rc = CF_OK;
    for (int i = 0; i < sk_GENERAL_NAME_num(names) && rc == CF_OK; i++) {
        const GENERAL_NAME *gen = sk_GENERAL_NAME_value(names, i);
        if (gen->type != GEN_URI)
            continue; /* not copied, so harmless */
        const ASN1_STRING *s = gen->d.uniformResourceIdentifier;
        size_t n = (size_t) ASN1_STRING_length(s);
        const unsigned char *data = ASN1_STRING_get0_data(s);
        if (!uri || n != strlen(uri) || memcmp(data, uri, n) != 0) {
            char safe[80];
            rc = cf_why(why, CF_ERR_POLICY, "CSR asks for URI '%s', expected %s",
                        s_safe(data, n, safe, sizeof(safe)), uri ? uri : "none");
        }
    }
    GENERAL_NAMES_free(names);
    return rc;
}

static cf_err_t s_check_one_ext(const X509_EXTENSION *ext, const char *uri, cf_why_t *why)
{
    int nid = OBJ_obj2nid(X509_EXTENSION_get_object((X509_EXTENSION *) ext));
    if (nid == NID_subject_alt_name)
        return s_check_sans(ext, uri, why);
    if (nid != NID_basic_constraints)
        return CF_OK; /* ignored: the CA sets every extension itself */
    BASIC_CONSTRAINTS *bc = X509V3_EXT_d2i((X509_EXTENSION *) ext);
    if (!bc)
        return cf_why(why, CF_ERR_POLICY, "CSR basicConstraints cannot be decoded");
    int ca = bc->ca;
    BASIC_CONSTRAINTS_free(bc);
    if (ca)
        return cf_why(why, CF_ERR_POLICY, "CSR asks for CA:TRUE");
    return CF_OK;
}

static cf_err_t s_check_exts(const cf_csr_t *csr, const char *uri, cf_why_t *why)
{
    int asked = X509_REQ_get_attr_by_NID(csr->req, NID_ext_req, -1) >= 0 ||
                X509_REQ_get_attr_by_NID(csr->req, NID_ms_ext_req, -1) >= 0;
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(csr->req);
    if (!exts)
        return asked ? cf_why(why, CF_ERR_POLICY, "CSR extension request cannot be decoded")
                     : CF_OK;
    cf_err_t rc = CF_OK;
    for (int i = 0; i < sk_X509_EXTENSION_num(exts) && rc == CF_OK; i++)
        rc = s_check_one_ext(sk_X509_EXTENSION_value(exts, i), uri, why);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return rc;
}

cf_err_t cf_csr_check(const cf_csr_t *csr, const cf_ca_policy_t *policy, const char *expected,
                      cf_why_t *why)
{
    cf_ca_policy_t agent = {0, 0, 0, CF_COMPONENT_AGENT};
    const cf_ca_policy_t *p = policy ? policy : &agent;
    char uri[sizeof(CF_AGENT_URI_PREFIX) + 64];
    if (!csr)
        return cf_why(why, CF_ERR_INVALID, "no CSR given");
    if (p->component == CF_COMPONENT_AGENT) {
        if (cf_issue_check_agent_id(expected) != CF_OK)
            return cf_why(why, CF_ERR_INVALID, "expected agent id is not valid");
        snprintf(uri, sizeof(uri), "%s%s", CF_AGENT_URI_PREFIX, expected);
    } else if (p->component == CF_COMPONENT_CONSOLE) {
        if (cf_issue_check_name(expected) != CF_OK)
            return cf_why(why, CF_ERR_INVALID, "expected console name is not valid");
    } else {
        return cf_why(why, CF_ERR_INVALID, "policy component must be agent or console");
    }
    cf_err_t rc = s_check_key(csr, p->key_types ? p->key_types : CF_CA_KEYS_ALL, why);
    if (rc == CF_OK)
        rc = s_check_cn(csr, expected, why);
    if (rc == CF_OK)
        rc = s_check_exts(csr, p->component == CF_COMPONENT_AGENT ? uri : NULL, why);
    ERR_clear_error();
    return rc;
}

static const EVP_MD *s_md_for(const cf_key_t *key)
{
    switch (cf_key_type(key)) {
    case CF_KEY_P384: return EVP_sha384();
    case CF_KEY_ED25519: return NULL; /* EdDSA hashes internally */
    default: return EVP_sha256();
    }
}

static cf_err_t s_pem_out(X509_REQ *req, char **pem_out)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    cf_err_t rc = CF_ERR_CRYPTO;
    if (bio && PEM_write_bio_X509_REQ(bio, req)) {
        long n = BIO_get_mem_data(bio, &data);
        *pem_out = n > 0 ? cf_mem_strndup(data, (size_t) n) : NULL;
        rc = *pem_out ? CF_OK : CF_ERR_NOMEM;
    }
    BIO_free(bio);
    return rc;
}

cf_err_t cf_csr_create(const cf_key_t *key, const char *agent_id, char **pem_out)
{
    if (!pem_out)
        return CF_ERR_INVALID;
    *pem_out = NULL;
    if (!key || cf_issue_check_agent_id(agent_id) != CF_OK)
        return CF_ERR_INVALID;
    char san[sizeof("URI:" CF_AGENT_URI_PREFIX) + 64];
    snprintf(san, sizeof(san), "URI:%s%s", CF_AGENT_URI_PREFIX, agent_id);
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
    X509_REQ *req = X509_REQ_new();
    EVP_PKEY *pkey = cf_key_pkey(key);
    cf_err_t rc = CF_ERR_CRYPTO;
    if (!exts || !ext || !req || !sk_X509_EXTENSION_push(exts, ext))
        goto out;
    ext = NULL; /* the stack holds it now */
    if (!X509_REQ_set_version(req, X509_REQ_VERSION_1) ||
        !X509_NAME_add_entry_by_NID(X509_REQ_get_subject_name(req), NID_commonName, MBSTRING_UTF8,
                                    (const unsigned char *) agent_id, -1, -1, 0) ||
        !X509_REQ_set_pubkey(req, pkey) || !X509_REQ_add_extensions(req, exts) ||
        X509_REQ_sign(req, pkey, s_md_for(key)) <= 0)
        goto out;
    rc = s_pem_out(req, pem_out);
out:
    ERR_clear_error();
    X509_EXTENSION_free(ext);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_free(req);
    return rc;
}
