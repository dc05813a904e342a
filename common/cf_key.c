/*  cf_key - private keys: generate, load, save, describe  */
#include "cf_key.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cf_mem.h"

struct cf_key {
    EVP_PKEY *pkey;     /* owned */
    cf_key_type_t type; /* one of ours, checked when wrapped */
};

static const struct {
    const char *name; /* accepted spelling, lowercase */
    cf_key_type_t type;
} s_names[] = {
    {"p256", CF_KEY_P256},       {"p-256", CF_KEY_P256},       {"ec", CF_KEY_P256},
    {"prime256v1", CF_KEY_P256}, {"p384", CF_KEY_P384},        {"p-384", CF_KEY_P384},
    {"secp384r1", CF_KEY_P384},  {"rsa2048", CF_KEY_RSA2048},  {"rsa-2048", CF_KEY_RSA2048},
    {"rsa", CF_KEY_RSA2048},     {"rsa3072", CF_KEY_RSA3072},  {"rsa-3072", CF_KEY_RSA3072},
    {"rsa4096", CF_KEY_RSA4096}, {"rsa-4096", CF_KEY_RSA4096}, {"ed25519", CF_KEY_ED25519},
};

cf_err_t cf_key_type_from_name(const char *name, cf_key_type_t *type_out)
{
    if (!name || !type_out)
        return CF_ERR_INVALID;
    for (size_t i = 0; i < sizeof(s_names) / sizeof(s_names[0]); i++) {
        if (strcasecmp(name, s_names[i].name) == 0) {
            *type_out = s_names[i].type;
            return CF_OK;
        }
    }
    return CF_ERR_UNSUPPORTED;
}

const char *cf_key_type_name(cf_key_type_t type)
{
    switch (type) {
    case CF_KEY_P256: return "P-256";
    case CF_KEY_P384: return "P-384";
    case CF_KEY_RSA2048: return "RSA-2048";
    case CF_KEY_RSA3072: return "RSA-3072";
    case CF_KEY_RSA4096: return "RSA-4096";
    case CF_KEY_ED25519: return "Ed25519";
    default: return "unknown";
    }
}

static cf_err_t s_wrap(EVP_PKEY *pkey, cf_key_type_t type, cf_key_t **key_out)
{
    cf_key_t *self = cf_mem_calloc(1, sizeof(*self));
    if (!self) {
        EVP_PKEY_free(pkey);
        return CF_ERR_NOMEM;
    }
    self->pkey = pkey;
    self->type = type;
    *key_out = self;
    return CF_OK;
}

cf_err_t cf_key_generate(cf_key_type_t type, cf_key_t **key_out)
{
    if (!key_out)
        return CF_ERR_INVALID;
    *key_out = NULL;
    EVP_PKEY *pkey = NULL;
    switch (type) {
    case CF_KEY_P256: pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"); break;
    case CF_KEY_P384: pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384"); break;
    case CF_KEY_RSA2048: pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048); break;
    case CF_KEY_RSA3072: pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 3072); break;
    case CF_KEY_RSA4096: pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 4096); break;
    case CF_KEY_ED25519: pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"); break;
    default: return CF_ERR_UNSUPPORTED;
    }
    if (!pkey) {
        ERR_clear_error();
        return CF_ERR_CRYPTO;
    }
    return s_wrap(pkey, type, key_out);
}

cf_err_t cf_key_type_of_pkey(const EVP_PKEY *pkey, cf_key_type_t *type_out)
{
    if (!pkey || !type_out)
        return CF_ERR_INVALID;
    char group[64] = "";
    switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_EC:
        if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                            NULL)) {
            ERR_clear_error();
            return CF_ERR_UNSUPPORTED;
        }
        if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)
            *type_out = CF_KEY_P256;
        else if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0)
            *type_out = CF_KEY_P384;
        else
            return CF_ERR_UNSUPPORTED;
        return CF_OK;
    case EVP_PKEY_RSA:
        switch (EVP_PKEY_get_bits(pkey)) {
        case 2048: *type_out = CF_KEY_RSA2048; return CF_OK;
        case 3072: *type_out = CF_KEY_RSA3072; return CF_OK;
        case 4096: *type_out = CF_KEY_RSA4096; return CF_OK;
        default: return CF_ERR_UNSUPPORTED;
        }
    case EVP_PKEY_ED25519: *type_out = CF_KEY_ED25519; return CF_OK;
    default: return CF_ERR_UNSUPPORTED;
    }
}

const char *cf_key_describe_pkey(const EVP_PKEY *pkey, char *buf, size_t buflen)
{
    if (!buf || buflen == 0)
        return "";
    cf_key_type_t type;
    char group[64] = "";
    if (!pkey) {
        snprintf(buf, buflen, "none");
    } else if (cf_key_type_of_pkey(pkey, &type) == CF_OK) {
        snprintf(buf, buflen, "%s", cf_key_type_name(type));
    } else if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC) {
        if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                            NULL))
            ERR_clear_error();
        snprintf(buf, buflen, "EC %s", group[0] ? group : "(unnamed curve)");
    } else {
        const char *name = EVP_PKEY_get0_type_name(pkey);
        snprintf(buf, buflen, "%s-%d", name ? name : "unknown", EVP_PKEY_get_bits(pkey));
    }
    return buf;
}

cf_err_t cf_key_from_pkey(EVP_PKEY **pkey_p, cf_key_t **key_out)
{
    if (!pkey_p || !*pkey_p || !key_out)
        return CF_ERR_INVALID;
    EVP_PKEY *pkey = *pkey_p;
    *pkey_p = NULL;
    *key_out = NULL;
    cf_key_type_t type;
    if (cf_key_type_of_pkey(pkey, &type) != CF_OK) {
        EVP_PKEY_free(pkey);
        return CF_ERR_UNSUPPORTED;
    }
    return s_wrap(pkey, type, key_out);
}

typedef struct {
    const char *password; /* borrowed; NULL when none was given */
    int asked;            /* the key was encrypted: OpenSSL asked for a password */
} s_pass_t;

static int s_pass_cb(char *buf, int size, int rwflag, void *u)
{
    (void) rwflag;
    s_pass_t *pass = u;
    pass->asked = 1;
    if (!pass->password)
        return -1;
    size_t len = strlen(pass->password);
    if (len > (size_t) size)
        return -1;
    memcpy(buf, pass->password, len);
    return (int) len;
}

cf_err_t cf_key_from_pem(const char *pem, size_t len, const char *password, cf_key_t **key_out)
{
    if (!pem || !key_out)
        return CF_ERR_INVALID;
    *key_out = NULL;
    if (len > CF_KEY_MAX_INPUT)
        return CF_ERR_TOOBIG;
    if (len == 0)
        return CF_ERR_CORRUPT;
    BIO *bio = BIO_new_mem_buf(pem, (int) len);
    if (!bio)
        return CF_ERR_NOMEM;
    s_pass_t pass = {password, 0};
    EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, s_pass_cb, &pass);
    BIO_free(bio);
    ERR_clear_error();
    if (!pkey)
        return pass.asked ? CF_ERR_BADPASS : CF_ERR_CORRUPT;
    return cf_key_from_pkey(&pkey, key_out);
}

cf_err_t cf_key_from_der(const unsigned char *der, size_t len, cf_key_t **key_out)
{
    if (!der || !key_out)
        return CF_ERR_INVALID;
    *key_out = NULL;
    if (len > CF_KEY_MAX_INPUT)
        return CF_ERR_TOOBIG;
    const unsigned char *p = der;
    PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long) len);
    if (!p8 || p != der + len) {
        PKCS8_PRIV_KEY_INFO_free(p8);
        ERR_clear_error();
        return CF_ERR_CORRUPT;
    }
    EVP_PKEY *pkey = EVP_PKCS82PKEY(p8);
    PKCS8_PRIV_KEY_INFO_free(p8);
    if (!pkey) {
        ERR_clear_error();
        return CF_ERR_CORRUPT;
    }
    return cf_key_from_pkey(&pkey, key_out);
}

/* Copy a secure-memory BIO's contents into a cf_mem buffer (NUL-terminated). */
static cf_err_t s_bio_take(BIO *bio, char **out, size_t *len_out)
{
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    if (n <= 0)
        return CF_ERR_CRYPTO;
    char *copy = cf_mem_malloc((size_t) n + 1);
    if (!copy)
        return CF_ERR_NOMEM;
    memcpy(copy, data, (size_t) n);
    copy[n] = '\0';
    *out = copy;
    if (len_out)
        *len_out = (size_t) n;
    return CF_OK;
}

cf_err_t cf_key_to_pem(const cf_key_t *key, const char *password, char **pem_out, size_t *len_out)
{
    if (!key || !pem_out)
        return CF_ERR_INVALID;
    *pem_out = NULL;
    /* secmem BIOs free with OPENSSL_clear_free, so the clear key does not linger */
    BIO *bio = BIO_new(BIO_s_secmem());
    if (!bio)
        return CF_ERR_NOMEM;
    cf_err_t rc = CF_ERR_CRYPTO;
    int encrypt = password && *password;
    size_t plen = encrypt ? strlen(password) : 0;
    if (plen > 1024) {
        rc = CF_ERR_TOOBIG;
        goto out;
    }
    if (!PEM_write_bio_PKCS8PrivateKey(bio, key->pkey, encrypt ? EVP_aes_256_cbc() : NULL,
                                       encrypt ? (char *) password : NULL, (int) plen, NULL, NULL))
        goto out;
    rc = s_bio_take(bio, pem_out, len_out);
out:
    BIO_free(bio);
    ERR_clear_error();
    return rc;
}

cf_err_t cf_key_to_der(const cf_key_t *key, unsigned char **der_out, size_t *len_out)
{
    if (!key || !der_out || !len_out)
        return CF_ERR_INVALID;
    *der_out = NULL;
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key->pkey);
    if (!p8) {
        ERR_clear_error();
        return CF_ERR_CRYPTO;
    }
    unsigned char *der = NULL;
    int n = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
    PKCS8_PRIV_KEY_INFO_free(p8);
    if (n <= 0) {
        ERR_clear_error();
        return CF_ERR_CRYPTO;
    }
    unsigned char *copy = cf_mem_memdup(der, (size_t) n);
    OPENSSL_clear_free(der, (size_t) n);
    if (!copy)
        return CF_ERR_NOMEM;
    *der_out = copy;
    *len_out = (size_t) n;
    return CF_OK;
}

cf_err_t cf_key_public_der(const cf_key_t *key, unsigned char **der_out, size_t *len_out)
{
    if (!key || !der_out || !len_out)
        return CF_ERR_INVALID;
    *der_out = NULL;
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(key->pkey, &der);
    if (n <= 0) {
        ERR_clear_error();
        return CF_ERR_CRYPTO;
    }
    unsigned char *copy = cf_mem_memdup(der, (size_t) n);
    OPENSSL_free(der);
    if (!copy)
        return CF_ERR_NOMEM;
    *der_out = copy;
    *len_out = (size_t) n;
    return CF_OK;
}

cf_key_type_t cf_key_type(const cf_key_t *key)
{
    CF_ASSERT(key);
    return key->type;
}

EVP_PKEY *cf_key_pkey(const cf_key_t *key)
{
    CF_ASSERT(key);
    return key->pkey;
}

void cf_key_destroy(cf_key_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    EVP_PKEY_free((*self_p)->pkey);
    cf_mem_free(*self_p);
    *self_p = NULL;
}
