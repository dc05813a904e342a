/*  fuzz_msg - broker frames from untrusted bytes: decode, and re-encode what decodes  */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cf_msg.h"

/* Input: one byte giving the number of frames (low two bits: 0..3), then every frame but
   the last as a two-byte big-endian length and that many bytes (cut short at the end of
   the input), then the last frame: all that is left. The seed corpus in corpus/msg/ holds
   one valid message of each type in this form (test_msg checks that they decode). The
   same bytes are also decoded as a plain header + body split after four bytes. */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The decoder is strict: whatever decodes encodes to exactly the same frames. */
static void s_decode(const cf_msg_frame_t *f, size_t n)
{
    cf_msg_t m;
    cf_why_t why = {""};
    memset(&m, 0x5a, sizeof(m)); /* the decoder must overwrite all of it */
    cf_err_t rc = cf_msg_decode(f, n, &m, &why);
    if (rc != CF_OK) {
        if (m.type != 0 || m.job || m.targets || (rc != CF_ERR_NOMEM && !why.text[0]))
            abort(); /* a refusal leaves nothing behind and says why */
        return;
    }
    cf_msg_frames_t out;
    if (cf_msg_check(&m, NULL) != CF_OK || cf_msg_encode(&m, &out, NULL) != CF_OK || out.n != n)
        abort();
    for (size_t i = 0; i < n; i++)
        if (out.len[i] != f[i].len || memcmp(out.data[i], f[i].data, f[i].len) != 0)
            abort();
    cf_msg_frames_clear(&out);
    cf_msg_clear(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t n = data[0] & 3, pos = 1;
    cf_msg_frame_t f[3];
    for (size_t i = 0; i < n; i++) {
        size_t len = size - pos;
        if (i + 1 < n) {
            len = pos + 2 <= size ? (size_t) data[pos] << 8 | data[pos + 1] : 0;
            pos = pos + 2 <= size ? pos + 2 : size;
            len = len < size - pos ? len : size - pos;
        }
        f[i] = (cf_msg_frame_t){data + pos, len};
        pos += len;
    }
    s_decode(f, n);
    if (size > 4) {
        cf_msg_frame_t split[2] = {{data, 4}, {data + 4, size - 4}};
        s_decode(split, 2);
    }
    return 0;
}
