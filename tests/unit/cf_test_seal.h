/*  cf_test_seal - what the seal unit tests share: secret-file lines, key rings, seal and open  */
#ifndef CF_TEST_SEAL_H_INCLUDED
#define CF_TEST_SEAL_H_INCLUDED

#include <stddef.h>

#include "cf_err.h"
#include "cf_seal.h"

#define CF_TEST_SEAL_CTX     "cf:key:server:srv1" /* the context of one Redis record */
#define CF_TEST_SEAL_CTX_LEN (sizeof(CF_TEST_SEAL_CTX) - 1)

/* A secret-file line in buf for id whose key is key_len (<= 64) bytes of fill (key_len
   CF_SEAL_KEY_LEN for a good key); returns buf. */
const char *cf_test_seal_line(char *buf, size_t buflen, const char *id, unsigned char fill,
                              size_t key_len);
/* The key ring of a secret file's text; fails the test when it is refused. The caller owns it
   (cf_seal_destroy). */
cf_seal_t *cf_test_seal_ring(const char *text);
/* A ring of one key: id, CF_SEAL_KEY_LEN bytes of fill. */
cf_seal_t *cf_test_seal_ring1(const char *id, unsigned char fill);
/* Seal the string plain under the string ctx (NULL: none); fails the test unless CF_OK.
 *blob is the caller's (cf_mem_free). */
void cf_test_seal_seal(const cf_seal_t *seal, const char *plain, const char *ctx,
                       unsigned char **blob, size_t *len);
/* Open blob under ctx (NULL: none) and expect rc; on CF_OK the plaintext must equal want,
   on a refusal the outputs are NULL and 0 and the why is set. */
void cf_test_seal_expect_open(const cf_seal_t *seal, const unsigned char *blob, size_t len,
                              const char *ctx, cf_err_t rc, const char *want);

#endif
