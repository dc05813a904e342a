/*  fuzz_p12 - cf_p12_parse with a fixed password, bundle assembly, and a create round trip  */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cf_import.h"
#include "cf_mem.h"
#include "cf_p12.h"

#define S_PASSWORD "fuzz-pass" /* the corpus files use this password */
#define S_MAX_ITER 64          /* corpus files use 1; keeps each run fast */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Our own PKCS#12 of what parsed must parse back to the same certificate. */
static void s_round_trip(const cf_bundle_t *bundle)
{
    unsigned char *der = NULL;
    size_t len = 0;
    const cf_cert_t *cert = cf_bundle_cert(bundle);
    if (cf_p12_create(cf_bundle_key(bundle), cert, NULL, 0, "x", NULL, 1, &der, &len) != CF_OK)
        return;
    cf_p12_content_t back;
    if (cf_p12_parse(der, len, "x", S_MAX_ITER, &back, NULL) != CF_OK || back.n_certs != 1 ||
        strcmp(cf_cert_fingerprint(back.certs[0]), cf_cert_fingerprint(cert)) != 0 ||
        (back.key == NULL) != (cf_bundle_key(bundle) == NULL))
        abort();
    cf_p12_content_clear(&back);
    cf_mem_free(der);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cf_p12_content_t content;
    cf_why_t why = {""};
    if (cf_p12_parse(data, size, S_PASSWORD, S_MAX_ITER, &content, &why) != CF_OK) {
        if (content.key || content.n_certs)
            abort(); /* a failure hands back nothing */
        return 0;
    }
    cf_bundle_t *bundle = NULL;
    cf_bundle_kind_t kind = content.key ? CF_BUNDLE_IMPORTED : CF_BUNDLE_PUBLIC;
    if (cf_bundle_from_parts(&content.key, content.certs, content.n_certs, kind, &bundle, &why) ==
        CF_OK)
        s_round_trip(bundle);
    cf_bundle_destroy(&bundle);
    cf_p12_content_clear(&content);
    return 0;
}
