/*  fuzz_seal - sealed blobs (binary and text) and secret files from untrusted bytes  */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cf_mem.h"
#include "cf_seal.h"

/* The first input byte picks what the rest is:
   0 a binary blob, opened under the fixed keyring with context FUZZ_AAD;
   1 the same in text form ("cfseal1:..."); 2 a secret file; 3 a blob or text given to
   cf_seal_check, cf_seal_blob_id and cf_seal_verify_canary.
   The seed corpus in corpus/seal/ holds valid inputs of each kind under this keyring. */
#define FUZZ_AAD "cf:fuzz"
static const char s_secret[] =
    "# fixed keyring of the fuzz target (never a real secret)\n"
    "certfleet-secret-v1 fuzz-cur WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=\n"
    "certfleet-secret-v1 fuzz-old paWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaU=\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cf_seal_t *s_keyring(void)
{
    static cf_seal_t *ring; /* built once, kept for the process */
    if (!ring && cf_seal_from_buffer(s_secret, sizeof(s_secret) - 1, &ring, NULL) != CF_OK)
        abort();
    return ring;
}

/* Whatever opened must seal and open again to the same bytes. */
static void s_round_trip(const cf_seal_t *ring, const unsigned char *plain, size_t len)
{
    unsigned char *blob = NULL, *back = NULL;
    size_t blob_len = 0, back_len = 0;
    const unsigned char *aad = (const unsigned char *) FUZZ_AAD;
    if (cf_seal_seal(ring, plain, len, aad, strlen(FUZZ_AAD), &blob, &blob_len) != CF_OK)
        abort();
    if (cf_seal_open(ring, blob, blob_len, aad, strlen(FUZZ_AAD), &back, &back_len, NULL) !=
            CF_OK ||
        back_len != len || (len && memcmp(back, plain, len) != 0))
        abort();
    cf_mem_free_secret(back, back_len);
    cf_mem_free(blob);
}

static void s_open(const cf_seal_t *ring, const uint8_t *data, size_t size, int text)
{
    unsigned char *plain = NULL;
    size_t len = 0;
    cf_why_t why = {""};
    const unsigned char *aad = (const unsigned char *) FUZZ_AAD;
    cf_err_t rc = text ? cf_seal_open_text(ring, (const char *) data, size, aad, strlen(FUZZ_AAD),
                                           &plain, &len, &why)
                       : cf_seal_open(ring, data, size, aad, strlen(FUZZ_AAD), &plain, &len, &why);
    if ((rc == CF_OK) != (plain != NULL))
        abort();
    if (rc == CF_OK)
        s_round_trip(ring, plain, len);
    cf_mem_free_secret(plain, len);
}

static void s_secret_file(const uint8_t *data, size_t size)
{
    cf_seal_t *ring = NULL;
    cf_why_t why = {""};
    if (cf_seal_from_buffer((const char *) data, size, &ring, &why) != CF_OK) {
        if (ring || !why.text[0]) /* every refusal says why */
            abort();
        return;
    }
    if (!cf_seal_has_id(ring, cf_seal_current_id(ring)) || cf_seal_key_count(ring) == 0)
        abort();
    s_round_trip(ring, (const unsigned char *) "value", 5);
    cf_seal_destroy(&ring);
}

static void s_check(const cf_seal_t *ring, const uint8_t *data, size_t size)
{
    char id[CF_SEAL_ID_MAX + 1];
    cf_err_t by_id = cf_seal_blob_id(data, size, id, NULL);
    cf_err_t checked = cf_seal_check(ring, data, size, NULL);
    size_t plen = strlen(CF_SEAL_TEXT_PREFIX);
    int text = size >= plen && memcmp(data, CF_SEAL_TEXT_PREFIX, plen) == 0;
    /* A binary blob passes the check only with a header naming a key we hold. */
    if (!text && checked == CF_OK && (by_id != CF_OK || !cf_seal_has_id(ring, id)))
        abort();
    (void) cf_seal_verify_canary(ring, (const char *) data, size, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const cf_seal_t *ring = s_keyring();
    if (size == 0)
        return 0;
    switch (data[0] & 3) {
    case 0: s_open(ring, data + 1, size - 1, 0); break;
    case 1: s_open(ring, data + 1, size - 1, 1); break;
    case 2: s_secret_file(data + 1, size - 1); break;
    default: s_check(ring, data + 1, size - 1); break;
    }
    return 0;
}
