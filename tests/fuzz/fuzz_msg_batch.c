/*  fuzz_msg_batch - batches from untrusted bytes: split, decode each item, rebuild  */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cf_msg_batch.h"

/* Input: the body frame of a batch (after the header 'C' 'F' 1 9). The seed corpus in
   corpus/msg_batch/ holds a batch of three messages (HELLO, RECEIPT, REPORT). Whatever
   passes iter_init is split; each item is decoded as a message would be; rebuilding a
   batch from the same items gives the same bytes back. */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned char head[CF_MSG_HEADER_LEN] = {'C', 'F', CF_MSG_VERSION, CF_MSG_BATCH};
    cf_msg_frame_t f[CF_MSG_FRAMES] = {{head, sizeof(head)}, {data, size}};
    cf_msg_batch_iter_t it;
    cf_why_t why = {""};
    if (!cf_msg_batch_is(f, CF_MSG_FRAMES))
        abort();
    if (cf_msg_batch_iter_init(&it, f, CF_MSG_FRAMES, &why) != CF_OK) {
        if (!why.text[0])
            abort(); /* a refusal says why */
        return 0;
    }
    cf_msg_batch_t *again = NULL;
    if (cf_msg_batch_new(&again) != CF_OK)
        return 0;
    cf_msg_frame_t item[CF_MSG_FRAMES];
    size_t n = 0;
    while (cf_msg_batch_next(&it, item)) {
        n++;
        cf_msg_t m;
        if (cf_msg_decode(item, CF_MSG_FRAMES, &m, NULL) == CF_OK)
            cf_msg_clear(&m);
        if (cf_msg_batch_add_frames(again, item, CF_MSG_FRAMES) != CF_OK)
            abort(); /* what a batch held fits a batch */
    }
    if (n != it.count || n != cf_msg_batch_count(again))
        abort();
    cf_msg_frame_t w[CF_MSG_FRAMES];
    cf_msg_batch_view(again, w);
    if (w[1].len != size || memcmp(w[1].data, data, size) != 0)
        abort();
    cf_msg_batch_destroy(&again);
    return 0;
}
