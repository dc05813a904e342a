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
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "cf_key_int.h"
#include "cf_mem.h"
#include "cf_pbe.h"

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

typedef enum {
    S_PEM_OTHER = 0, /* not a private key: skipped (a certificate in the same file) */
    S_PEM_PKCS8,     /* "PRIVATE KEY": PKCS#8 PrivateKeyInfo */
    S_PEM_PKCS8_ENC, /* "ENCRYPTED PRIVATE KEY": PKCS#8 EncryptedPrivateKeyInfo (X509_SIG) */
    S_PEM_TRAD,      /* "RSA/EC/DSA PRIVATE KEY": traditional, maybe under DEK-Info */
} s_pem_kind_t;

/* One decoded PEM block. Allocated with PEM_FLAG_SECURE: freed with OPENSSL_secure_*. */
typedef struct {
    char *name;          /* owned; the word(s) after "-----BEGIN " */
    char *header;        /* owned; "Proc-Type: ..." lines, "" when none */
    unsigned char *data; /* owned; the DER (decrypted in place for DEK-Info) */
    long len;            /* bytes of DER in data */
    long size;           /* bytes allocated for data, wiped on clear */
    s_pem_kind_t kind;   /* what name says */
    int pkey_type;       /* EVP_PKEY_RSA/EC/DSA for S_PEM_TRAD */
} s_pem_t;

static const struct {
    const char *name;  /* PEM type string */
    s_pem_kind_t kind; /* what it holds */
    int pkey_type;     /* key type of a traditional form */
} s_pem_names[] = {
    {"PRIVATE KEY", S_PEM_PKCS8, EVP_PKEY_NONE},
    {"ENCRYPTED PRIVATE KEY", S_PEM_PKCS8_ENC, EVP_PKEY_NONE},
    {"RSA PRIVATE KEY", S_PEM_TRAD, EVP_PKEY_RSA},
    {"EC PRIVATE KEY", S_PEM_TRAD, EVP_PKEY_EC},
    {"DSA PRIVATE KEY", S_PEM_TRAD, EVP_PKEY_DSA},
};

static void s_pem_clear(s_pem_t *blk)
{
    OPENSSL_secure_free(blk->name);
    OPENSSL_secure_free(blk->header);
    OPENSSL_secure_clear_free(blk->data, (size_t) blk->size);
    memset(blk, 0, sizeof(*blk));
}

/* No "-----BEGIN " means no PEM: say so before OpenSSL sets anything up. */
static int s_has_begin(const char *buf, size_t len)
{
    static const char begin[] = "-----BEGIN ";
    const size_t n = sizeof(begin) - 1;
    for (size_t i = 0; i + n <= len; i++) {
        if (buf[i] == '-' && memcmp(buf + i, begin, n) == 0)
            return 1;
    }
    return 0;
}

/* The first private-key block, skipping others as OpenSSL does. CF_ERR_CORRUPT when there is
   none or a block's base64 or framing is damaged. */
static cf_err_t s_next_key_block(BIO *bio, s_pem_t *blk)
{
    for (;;) {
        if (!PEM_read_bio_ex(bio, &blk->name, &blk->header, &blk->data, &blk->len,
                             PEM_FLAG_SECURE | PEM_FLAG_EAY_COMPATIBLE))
            return CF_ERR_CORRUPT;
        blk->size = blk->len;
        for (size_t i = 0; i < sizeof(s_pem_names) / sizeof(s_pem_names[0]); i++) {
            if (strcmp(blk->name, s_pem_names[i].name) == 0) {
                blk->kind = s_pem_names[i].kind;
                blk->pkey_type = s_pem_names[i].pkey_type;
                return CF_OK;
            }
        }
        s_pem_clear(blk);
    }
}

static int s_pass_cb(char *buf, int size, int rwflag, void *u)
{
    (void) rwflag;
    const char *password = *(const char **) u;
    size_t len = strlen(password);
    if (len > (size_t) size)
        return -1;
    memcpy(buf, password, len);
    return (int) len;
}

/* Traditional encryption (RFC 1421 headers: "Proc-Type: 4,ENCRYPTED", "DEK-Info: cipher,iv";
   key from EVP_BytesToKey with one MD5 round, so no cap is needed). *decrypted says whether
   blk->data is now plaintext that came out of a decryption. */
static cf_err_t s_open_dek_info(s_pem_t *blk, const char *password, int *decrypted)
{
    EVP_CIPHER_INFO info;
    *decrypted = 0;
    if (!PEM_get_EVP_CIPHER_INFO(blk->header, &info))
        return ERR_GET_REASON(ERR_peek_last_error()) == PEM_R_UNSUPPORTED_ENCRYPTION
                   ? CF_ERR_UNSUPPORTED
                   : CF_ERR_CORRUPT;
    if (!info.cipher)
        return CF_OK; /* not encrypted */
    EVP_CIPHER *fetched = EVP_CIPHER_fetch(NULL, EVP_CIPHER_get0_name(info.cipher), NULL);
    EVP_CIPHER_free(fetched);
    if (!fetched)
        return CF_ERR_UNSUPPORTED; /* e.g. DES-CBC: only in OpenSSL's legacy provider */
    int block = EVP_CIPHER_get_block_size(info.cipher);
    if (blk->len <= 0 || (block > 1 && blk->len % block != 0))
        return CF_ERR_CORRUPT; /* no whole number of cipher blocks: cut or damaged */
    if (!password)
        return CF_ERR_BADPASS;
    if (!PEM_do_header(&info, blk->data, &blk->len, s_pass_cb, &password))
        return CF_ERR_BADPASS;
    *decrypted = 1;
    return CF_OK;
}

/* A parsed PKCS#8 to a key in the default library context: P-256 by the fast path
   (cf_key_p256.c), anything else by OpenSSL's decoders. NULL when it does not decode. */
/* A key from OpenSSL's own decoder (the forms the P-256 fast path leaves to it): an EC key
   whose public point is not its private scalar times G is refused, as the fast path refuses
   it, so that every way in agrees on which keys exist. NULL when refused (freed). */
static EVP_PKEY *s_checked(EVP_PKEY *pkey)
{
    if (!pkey || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC)
        return pkey;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    int ok = ctx && EVP_PKEY_pairwise_check(ctx) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (ok)
        return pkey;
    EVP_PKEY_free(pkey);
    return NULL;
}

static EVP_PKEY *s_p8_to_pkey(const PKCS8_PRIV_KEY_INFO *p8)
{
    EVP_PKEY *pkey = NULL;
    cf_err_t rc = cf_key_p256_from_p8(p8, &pkey);
    if (rc == CF_ERR_UNSUPPORTED)
        pkey = s_checked(EVP_PKCS82PKEY(p8));
    return pkey;
}

/* PKCS#8 PrivateKeyInfo DER, whole, to a key in the default library context. */
static EVP_PKEY *s_p8_pkey(const unsigned char *der, long len)
{
    const unsigned char *p = der;
    PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, len);
    EVP_PKEY *pkey = p8 && p == der + len ? s_p8_to_pkey(p8) : NULL;
    PKCS8_PRIV_KEY_INFO_free(p8); /* wipes the key material */
    return pkey;
}

/* Traditional ("EC PRIVATE KEY", "RSA PRIVATE KEY") DER: P-256 by the fast path. */
static EVP_PKEY *s_trad_pkey(int type, const unsigned char *der, long len)
{
    EVP_PKEY *pkey = NULL;
    cf_err_t rc =
        type == EVP_PKEY_EC ? cf_key_p256_from_sec1(der, (size_t) len, &pkey) : CF_ERR_UNSUPPORTED;
    if (rc == CF_ERR_UNSUPPORTED) {
        const unsigned char *p = der;
        pkey = s_checked(d2i_PrivateKey(type, NULL, &p, len));
    }
    return pkey;
}

/* EncryptedPrivateKeyInfo (RFC 5958): vet the algorithm and its iteration count before the
   password runs the KDF. Once the structure decodes, a failed decryption is the password. */
static cf_err_t s_p8_decrypt(const s_pem_t *blk, const char *password, EVP_PKEY **pkey_out)
{
    const unsigned char *p = blk->data;
    const X509_ALGOR *alg = NULL;
    OSSL_LIB_CTX *libctx = NULL;
    cf_pbe_ctx_t pbe = {0};
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    cf_err_t rc = CF_ERR_CORRUPT;
    X509_SIG *sig = d2i_X509_SIG(NULL, &p, blk->len);
    if (!sig || p != blk->data + blk->len)
        goto out;
    X509_SIG_get0(sig, &alg, NULL);
    rc = cf_pbe_check(alg, CF_KEY_MAX_ITER, &pbe, "private key encryption", &libctx, NULL);
    if (rc != CF_OK)
        goto out;
    rc = CF_ERR_BADPASS;
    if (!password)
        goto out;
    p8 = PKCS8_decrypt_ex(sig, password, (int) strlen(password), libctx, NULL);
    if (!p8)
        goto out;
    /* Decode in the default context: the key must outlive the private legacy context. */
    *pkey_out = s_p8_to_pkey(p8);
    rc = *pkey_out ? CF_OK : CF_ERR_CORRUPT;
out:
    PKCS8_PRIV_KEY_INFO_free(p8); /* wipes the key material */
    X509_SIG_free(sig);
    cf_pbe_ctx_clear(&pbe);
    return rc;
}

static cf_err_t s_decode_block(s_pem_t *blk, const char *password, EVP_PKEY **pkey_out)
{
    int decrypted = 0;
    CF_TRY(s_open_dek_info(blk, password, &decrypted));
    /* After a DEK-Info decryption, DER that does not decode means a wrong password that
       happened to leave valid padding; before any decryption it means damage. */
    cf_err_t undecodable = decrypted ? CF_ERR_BADPASS : CF_ERR_CORRUPT;
    const unsigned char *p = blk->data;
    switch (blk->kind) {
    case S_PEM_PKCS8_ENC: {
        cf_err_t rc = s_p8_decrypt(blk, password, pkey_out);
        return rc == CF_ERR_CORRUPT ? undecodable : rc;
    }
    case S_PEM_PKCS8: *pkey_out = s_p8_pkey(blk->data, blk->len); break;
    case S_PEM_TRAD: *pkey_out = s_trad_pkey(blk->pkey_type, p, blk->len); break;
    default: return CF_ERR_CORRUPT;
    }
    return *pkey_out ? CF_OK : undecodable;
}

cf_err_t cf_key_from_pem(const char *pem, size_t len, const char *password, cf_key_t **key_out)
{
    if (!pem || !key_out)
        return CF_ERR_INVALID;
    *key_out = NULL;
    if (len > CF_KEY_MAX_INPUT)
        return CF_ERR_TOOBIG;
    if (len == 0 || !s_has_begin(pem, len))
        return CF_ERR_CORRUPT;
    BIO *bio = BIO_new_mem_buf(pem, (int) len);
    if (!bio)
        return CF_ERR_NOMEM;
    s_pem_t blk = {0};
    EVP_PKEY *pkey = NULL;
    cf_err_t rc = s_next_key_block(bio, &blk);
    if (rc == CF_OK)
        rc = s_decode_block(&blk, password, &pkey);
    s_pem_clear(&blk);
    BIO_free(bio);
    ERR_clear_error();
    if (rc != CF_OK)
        return rc;
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
    EVP_PKEY *pkey = s_p8_to_pkey(p8);
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
