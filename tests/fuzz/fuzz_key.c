/*  fuzz_key - cf_key_from_pem (plain and encrypted, PKCS#8 and traditional), cf_key_from_der
    and the P-256 fast path against OpenSSL's own decoder  */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cf_key.h"
#include "cf_key_int.h"
#include "cf_mem.h"

#define S_PASSWORD "fuzz-pass" /* the corpus's encrypted keys use this password */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A key that parsed must survive its own PKCS#8 DER round trip with the same type. */
static void s_round_trip(const cf_key_t *key)
{
    unsigned char *der = NULL;
    size_t len = 0;
    cf_key_t *back = NULL;
    if (cf_key_to_der(key, &der, &len) != CF_OK)
        return;
    if (cf_key_from_der(der, len, &back) != CF_OK || cf_key_type(back) != cf_key_type(key))
        abort();
    cf_key_destroy(&back);
    cf_mem_free_secret(der, len);
}

/* A SEC 1 key the fast path takes is one OpenSSL's decoder takes too, the same key. */
static void s_fast_path(const uint8_t *data, size_t size)
{
    EVP_PKEY *fast = NULL;
    if (cf_key_p256_from_sec1(data, size, &fast) != CF_OK)
        return;
    const unsigned char *p = data;
    EVP_PKEY *slow = d2i_PrivateKey(EVP_PKEY_EC, NULL, &p, (long) size);
    if (!slow || EVP_PKEY_eq(fast, slow) != 1)
        abort();
    EVP_PKEY_free(slow);
    EVP_PKEY_free(fast);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_fast_path(data, size);
    /* One PEM call per input: OpenSSL 3's PEM decoder costs about 1 ms even on garbage, and
       the password also opens unencrypted keys. */
    cf_key_t *key = NULL;
    if (cf_key_from_pem((const char *) data, size, S_PASSWORD, &key) == CF_OK)
        s_round_trip(key);
    cf_key_destroy(&key);
    if (cf_key_from_der(data, size, &key) == CF_OK)
        s_round_trip(key);
    cf_key_destroy(&key);
    return 0;
}
