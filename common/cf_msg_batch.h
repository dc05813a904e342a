/*  cf_msg_batch - many messages in one ZeroMQ message, between servers and brokers  */
#ifndef CF_MSG_BATCH_H_INCLUDED
#define CF_MSG_BATCH_H_INCLUDED

#include <stddef.h>

#include "cf_err.h"
#include "cf_msg.h"

/* A BATCH carries up to CF_MSG_BATCH_MAX_ITEMS whole messages (each a header and a body, as
   cf_msg encodes them) in two frames: the header 'C' 'F' 1 9 and one body frame
   (docs/PROTOCOL.md section 2, "Batches"). CURVE encrypts and libzmq queues, wakes and
   times per frame, so a job walk's 256 JOBs, or a turn's receipts and their ACKs, cross a
   server-broker link as one message instead of hundreds. Agents never send or receive
   one: the broker splits a server's batch into single messages for its agents and packs
   its agents' messages into batches for a server. */

#define CF_MSG_BATCH           9            /* the header's type byte */
#define CF_MSG_BATCH_MAX_ITEMS 1000         /* messages in one batch */
#define CF_MSG_BATCH_MAX_WIRE  (512 * 1024) /* body frame of one batch, bytes */

typedef struct cf_msg_batch cf_msg_batch_t;

/* An empty batch being built. Errors: CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_msg_batch_new(cf_msg_batch_t **out);

/* Free *batch and set it to NULL; safe on NULL. */
void cf_msg_batch_destroy(cf_msg_batch_t **batch);

/* Append one message given as its two encoded frames (copied). Errors: CF_ERR_INVALID
   (not two frames, a header that is not 4 bytes, a BATCH inside a batch),
   CF_ERR_TOOBIG (the batch has no room for it: send it, reset, add again; or the message
   alone is over CF_MSG_MAX_WIRE), CF_ERR_NOMEM. The batch is unchanged on error. */
CF_MUST_USE cf_err_t cf_msg_batch_add_frames(cf_msg_batch_t *batch, const cf_msg_frame_t *frames,
                                             size_t n);

/* Encode m (cf_msg_encode) and append it. Errors: those of cf_msg_encode (why) and of
   cf_msg_batch_add_frames. */
CF_MUST_USE cf_err_t cf_msg_batch_add(cf_msg_batch_t *batch, const cf_msg_t *m, cf_why_t *why);

/* Messages in the batch. */
size_t cf_msg_batch_count(const cf_msg_batch_t *batch);

/* The batch's two frames (header, body), borrowed until the next add or reset. The batch
   must hold at least one message. */
void cf_msg_batch_view(const cf_msg_batch_t *batch, cf_msg_frame_t view[CF_MSG_FRAMES]);

/* Empty the batch (its buffer is kept for the next one). */
void cf_msg_batch_reset(cf_msg_batch_t *batch);

/* 1 when frames carry a BATCH header of our wire version (whatever follows), else 0: such
   a message goes to cf_msg_batch_iter_init, every other to cf_msg_decode. */
int cf_msg_batch_is(const cf_msg_frame_t *frames, size_t n);

/* Reading a received batch (untrusted): the frames are borrowed and must outlive it. */
typedef struct {
    const unsigned char *next; /* the next item */
    size_t left;               /* bytes from next to the end of the body */
    size_t count;              /* items the batch says it holds */
    size_t seen;               /* items handed out so far */
} cf_msg_batch_iter_t;

/* Check a batch's whole structure before anything is handed out: two frames, the BATCH
   header, the count (1..CF_MSG_BATCH_MAX_ITEMS), every item's header (4 bytes, not a
   BATCH) and length (within what is left, the item within CF_MSG_MAX_WIRE), nothing after
   the last item, the body within CF_MSG_BATCH_MAX_WIRE. Items themselves are judged by
   cf_msg_decode as they come. Errors (why): CF_ERR_TOOBIG, CF_ERR_UNSUPPORTED (another
   wire version), CF_ERR_CORRUPT. */
CF_MUST_USE cf_err_t cf_msg_batch_iter_init(cf_msg_batch_iter_t *it, const cf_msg_frame_t *frames,
                                            size_t n, cf_why_t *why);

/* The next item as two borrowed frames for cf_msg_decode: 1, or 0 when all were read. */
int cf_msg_batch_next(cf_msg_batch_iter_t *it, cf_msg_frame_t item[CF_MSG_FRAMES]);

#endif
