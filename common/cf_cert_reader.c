/*  cf_cert_reader - certificates read for their fields without decoding their key: d2i in a
    library context that has only OpenSSL's null provider  */
#include <openssl/err.h>
#include <openssl/provider.h>

#include "cf_cert_int.h"
#include "cf_mem.h"

struct cf_cert_reader {
    OSSL_LIB_CTX *libctx; /* owned: only the null provider is loaded */
    OSSL_PROVIDER *null;  /* owned: its one provider (its presence stops the fallback) */
};

cf_err_t cf_cert_reader_new(cf_cert_reader_t **out)
{
    if (!out)
        return CF_ERR_INVALID;
    *out = NULL;
    cf_cert_reader_t *self = cf_mem_calloc(1, sizeof(*self));
    if (!self)
        return CF_ERR_NOMEM;
    self->libctx = OSSL_LIB_CTX_new();
    self->null = self->libctx ? OSSL_PROVIDER_load(self->libctx, "null") : NULL;
    if (!self->null) {
        cf_err_t rc = self->libctx ? CF_ERR_CRYPTO : CF_ERR_NOMEM;
        ERR_clear_error();
        cf_cert_reader_destroy(&self);
        return rc;
    }
    *out = self;
    return CF_OK;
}

void cf_cert_reader_destroy(cf_cert_reader_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_cert_reader_t *self = *self_p;
    if (self->null)
        OSSL_PROVIDER_unload(self->null);
    OSSL_LIB_CTX_free(self->libctx);
    cf_mem_free(self);
    *self_p = NULL;
}

cf_err_t cf_cert_reader_parse(cf_cert_reader_t *reader, const void *der, size_t len,
                              cf_cert_t **cert_out)
{
    if (!reader || !der || !cert_out || len == 0)
        return CF_ERR_INVALID;
    *cert_out = NULL;
    if (len > CF_CERT_MAX_INPUT)
        return CF_ERR_TOOBIG;
    X509 *x509 = X509_new_ex(reader->libctx, NULL);
    if (!x509)
        return CF_ERR_NOMEM;
    const unsigned char *p = der;
    /* the key's decoding finds no decoder here and is skipped (OpenSSL treats it as
       opportunistic); everything else is parsed as usual */
    if (!d2i_X509(&x509, &p, (long) len) || p != (const unsigned char *) der + len) {
        X509_free(x509);
        ERR_clear_error();
        return CF_ERR_CORRUPT;
    }
    ERR_clear_error();
    return cf_cert_wrap(x509, 1, cert_out);
}
