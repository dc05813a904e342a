/*  fuzz_sse - the server-sent events parser: no crash, events within the caps, and the same
    events whatever the input's split  */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cf_sse.h"

#define S_MAX 512 /* the parser's cap in this target, bytes */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort (a finding) unless the invariant holds. */
static void s_check(int cond)
{
    if (!cond)
        abort();
}

/* A running digest of the events seen, to compare two feeds. */
typedef struct {
    uint64_t hash; /* FNV-1a over type, data and id */
    size_t n;      /* events */
} s_sum_t;

static void s_mix(s_sum_t *s, const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        s->hash = (s->hash ^ (unsigned char) p[i]) * 1099511628211ull;
    s->hash = (s->hash ^ 0xff) * 1099511628211ull;
}

static cf_err_t s_on_event(void *arg, const cf_sse_event_t *ev)
{
    s_sum_t *s = arg;
    s_check(ev->type && ev->data && ev->id);
    s_check(ev->data_len <= S_MAX && ev->data[ev->data_len] == '\0');
    s_check(strlen(ev->type) <= CF_SSE_MAX_TYPE && strlen(ev->id) <= CF_SSE_MAX_ID);
    s_mix(s, ev->type, strlen(ev->type));
    s_mix(s, ev->data, ev->data_len);
    s_mix(s, ev->id, strlen(ev->id));
    s->n++;
    return CF_OK;
}

/* Feed data whole or in pieces of step bytes; the result and the digest. */
static cf_err_t s_run(const uint8_t *data, size_t size, size_t step, s_sum_t *sum)
{
    cf_sse_t *p = NULL;
    sum->hash = 14695981039346656037ull;
    sum->n = 0;
    if (cf_sse_new(S_MAX, s_on_event, sum, &p) != CF_OK)
        return CF_ERR_NOMEM;
    cf_err_t rc = CF_OK;
    for (size_t i = 0; rc == CF_OK && i < size; i += step) {
        size_t n = size - i < step ? size - i : step;
        rc = cf_sse_feed(p, (const char *) data + i, n);
    }
    cf_sse_destroy(&p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_sum_t whole, pieces;
    cf_err_t a = s_run(data, size, size ? size : 1, &whole);
    size_t step = size ? (size_t) data[0] % 7 + 1 : 1;
    cf_err_t b = s_run(data, size, step, &pieces);
    if (a == CF_ERR_NOMEM || b == CF_ERR_NOMEM)
        return 0;
    s_check(a == CF_OK || a == CF_ERR_TOOBIG);
    s_check(a == b && whole.n == pieces.n && whole.hash == pieces.hash);
    return 0;
}
