/*  cf_msg_batch - many messages in one ZeroMQ message, between servers and brokers  */
#include "cf_msg_batch.h"

#include <stdint.h>
#include <string.h>

#include "cf_mem.h"

#define S_COUNT_LEN 2 /* item count, big-endian */
#define S_LEN_LEN   4 /* an item's body length, big-endian */
#define S_ITEM_MIN  (CF_MSG_HEADER_LEN + S_LEN_LEN)

_Static_assert(CF_MSG_BATCH_MAX_ITEMS <= 0xffff, "the count fits two bytes");
_Static_assert(CF_MSG_BATCH_MAX_WIRE >= S_COUNT_LEN + S_LEN_LEN + CF_MSG_MAX_WIRE,
               "the largest message fits a batch alone");

struct cf_msg_batch {
    unsigned char header[CF_MSG_HEADER_LEN]; /* 'C' 'F' version BATCH */
    unsigned char *body;                     /* count + items (owned) */
    size_t len;                              /* bytes used in body */
    size_t cap;                              /* bytes allocated */
    size_t count;                            /* items */
};

static void s_put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char) (v >> 24);
    p[1] = (unsigned char) (v >> 16);
    p[2] = (unsigned char) (v >> 8);
    p[3] = (unsigned char) v;
}

static uint32_t s_get32(const unsigned char *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

cf_err_t cf_msg_batch_new(cf_msg_batch_t **out)
{
    CF_ASSERT(out);
    *out = NULL;
    cf_msg_batch_t *self = cf_mem_calloc(1, sizeof(*self));
    if (!self)
        return CF_ERR_NOMEM;
    self->header[0] = 'C';
    self->header[1] = 'F';
    self->header[2] = CF_MSG_VERSION;
    self->header[3] = CF_MSG_BATCH;
    cf_msg_batch_reset(self);
    *out = self;
    return CF_OK;
}

void cf_msg_batch_destroy(cf_msg_batch_t **batch)
{
    if (!batch || !*batch)
        return;
    cf_mem_free((*batch)->body);
    cf_mem_free(*batch);
    *batch = NULL;
}

void cf_msg_batch_reset(cf_msg_batch_t *self)
{
    CF_ASSERT(self);
    self->len = S_COUNT_LEN; /* the count is written by cf_msg_batch_view */
    self->count = 0;
}

/* Room for need more bytes in body (doubling, at most the batch cap). */
static cf_err_t s_reserve(cf_msg_batch_t *self, size_t need)
{
    if (self->len + need <= self->cap)
        return CF_OK;
    size_t cap = self->cap ? self->cap : 16 * 1024;
    while (cap < self->len + need)
        cap *= 2;
    cap = cap < CF_MSG_BATCH_MAX_WIRE ? cap : CF_MSG_BATCH_MAX_WIRE;
    unsigned char *p = cf_mem_realloc(self->body, cap);
    if (!p)
        return CF_ERR_NOMEM;
    self->body = p;
    self->cap = cap;
    return CF_OK;
}

cf_err_t cf_msg_batch_add_frames(cf_msg_batch_t *self, const cf_msg_frame_t *frames, size_t n)
{
    CF_ASSERT(self);
    if (!frames || n != CF_MSG_FRAMES || frames[0].len != CF_MSG_HEADER_LEN || !frames[0].data ||
        (!frames[1].data && frames[1].len))
        return CF_ERR_INVALID;
    if (frames[0].data[3] == CF_MSG_BATCH)
        return CF_ERR_INVALID; /* never nested */
    size_t item = S_ITEM_MIN + frames[1].len;
    if (CF_MSG_HEADER_LEN + frames[1].len > CF_MSG_MAX_WIRE)
        return CF_ERR_TOOBIG;
    if (self->count == CF_MSG_BATCH_MAX_ITEMS || self->len + item > CF_MSG_BATCH_MAX_WIRE)
        return CF_ERR_TOOBIG;
    CF_TRY(s_reserve(self, item));
    unsigned char *p = self->body + self->len;
    memcpy(p, frames[0].data, CF_MSG_HEADER_LEN);
    s_put32(p + CF_MSG_HEADER_LEN, (uint32_t) frames[1].len);
    if (frames[1].len)
        memcpy(p + S_ITEM_MIN, frames[1].data, frames[1].len);
    self->len += item;
    self->count++;
    return CF_OK;
}

cf_err_t cf_msg_batch_add(cf_msg_batch_t *self, const cf_msg_t *m, cf_why_t *why)
{
    cf_msg_frames_t fr;
    CF_TRY(cf_msg_encode(m, &fr, why));
    cf_msg_frame_t view[CF_MSG_FRAMES];
    size_t n = cf_msg_frames_view(&fr, view);
    cf_err_t rc = cf_msg_batch_add_frames(self, view, n);
    cf_msg_frames_clear(&fr);
    return rc;
}

size_t cf_msg_batch_count(const cf_msg_batch_t *self)
{
    return self ? self->count : 0;
}

void cf_msg_batch_view(const cf_msg_batch_t *self, cf_msg_frame_t view[CF_MSG_FRAMES])
{
    CF_ASSERT(self && self->count > 0 && self->body);
    self->body[0] = (unsigned char) (self->count >> 8);
    self->body[1] = (unsigned char) self->count;
    view[0].data = self->header;
    view[0].len = CF_MSG_HEADER_LEN;
    view[1].data = self->body;
    view[1].len = self->len;
}

int cf_msg_batch_is(const cf_msg_frame_t *frames, size_t n)
{
    if (!frames || n < 1 || frames[0].len != CF_MSG_HEADER_LEN || !frames[0].data)
        return 0;
    const unsigned char *h = frames[0].data;
    return h[0] == 'C' && h[1] == 'F' && h[2] == CF_MSG_VERSION && h[3] == CF_MSG_BATCH;
}

/* Walk the items of body (after the count) without handing them out: CF_OK when exactly
   count well-formed items fill it. */
static cf_err_t s_check_items(const unsigned char *p, size_t left, size_t count, cf_why_t *why)
{
    for (size_t i = 0; i < count; i++) {
        if (left < S_ITEM_MIN)
            return cf_why(why, CF_ERR_CORRUPT, "batch item %zu: header cut short", i);
        if (p[0] != 'C' || p[1] != 'F' || p[3] == CF_MSG_BATCH)
            return cf_why(why, CF_ERR_CORRUPT, "batch item %zu: not a message header", i);
        size_t len = s_get32(p + CF_MSG_HEADER_LEN);
        if (len > left - S_ITEM_MIN)
            return cf_why(why, CF_ERR_CORRUPT, "batch item %zu: %zu bytes, %zu left", i, len,
                          left - S_ITEM_MIN);
        if (CF_MSG_HEADER_LEN + len > CF_MSG_MAX_WIRE)
            return cf_why(why, CF_ERR_TOOBIG, "batch item %zu: over %d bytes", i, CF_MSG_MAX_WIRE);
        p += S_ITEM_MIN + len;
        left -= S_ITEM_MIN + len;
    }
    if (left)
        return cf_why(why, CF_ERR_CORRUPT, "%zu bytes after the last of %zu batch items", left,
                      count);
    return CF_OK;
}

cf_err_t cf_msg_batch_iter_init(cf_msg_batch_iter_t *it, const cf_msg_frame_t *frames, size_t n,
                                cf_why_t *why)
{
    CF_ASSERT(it);
    memset(it, 0, sizeof(*it));
    if (!frames || n < 1 || frames[0].len != CF_MSG_HEADER_LEN || !frames[0].data)
        return cf_why(why, CF_ERR_CORRUPT, "not a batch header");
    const unsigned char *h = frames[0].data;
    if (h[0] != 'C' || h[1] != 'F' || h[3] != CF_MSG_BATCH)
        return cf_why(why, CF_ERR_CORRUPT, "not a batch header");
    if (h[2] != CF_MSG_VERSION)
        return cf_why(why, CF_ERR_UNSUPPORTED, "wire version %u", (unsigned) h[2]);
    if (n != CF_MSG_FRAMES)
        return cf_why(why, CF_ERR_CORRUPT, "a batch is 2 frames, not %zu", n);
    if (frames[1].len > CF_MSG_BATCH_MAX_WIRE)
        return cf_why(why, CF_ERR_TOOBIG, "batch of %zu bytes (at most %d)", frames[1].len,
                      CF_MSG_BATCH_MAX_WIRE);
    if (frames[1].len < S_COUNT_LEN || !frames[1].data)
        return cf_why(why, CF_ERR_CORRUPT, "batch without a count");
    const unsigned char *b = frames[1].data;
    size_t count = (size_t) b[0] << 8 | b[1];
    if (count < 1 || count > CF_MSG_BATCH_MAX_ITEMS)
        return cf_why(why, CF_ERR_CORRUPT, "batch count %zu (1..%d)", count,
                      CF_MSG_BATCH_MAX_ITEMS);
    CF_TRY(s_check_items(b + S_COUNT_LEN, frames[1].len - S_COUNT_LEN, count, why));
    it->next = b + S_COUNT_LEN;
    it->left = frames[1].len - S_COUNT_LEN;
    it->count = count;
    return CF_OK;
}

int cf_msg_batch_next(cf_msg_batch_iter_t *it, cf_msg_frame_t item[CF_MSG_FRAMES])
{
    CF_ASSERT(it);
    if (it->seen == it->count)
        return 0;
    size_t len = s_get32(it->next + CF_MSG_HEADER_LEN); /* checked by iter_init */
    item[0].data = it->next;
    item[0].len = CF_MSG_HEADER_LEN;
    item[1].data = it->next + S_ITEM_MIN;
    item[1].len = len;
    it->next += S_ITEM_MIN + len;
    it->left -= S_ITEM_MIN + len;
    it->seen++;
    return 1;
}
