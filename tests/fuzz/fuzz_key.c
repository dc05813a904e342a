/*  fuzz_key - cf_key_from_pem (plain and encrypted, PKCS#8 and traditional) and cf_key_from_der  */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "cf_key.h"
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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
