/*  cf_sse - a parser of server-sent events (text/event-stream) fed in pieces, with caps  */
#include "cf_sse.h"

#include <string.h>

#include "cf_mem.h"

struct cf_sse {
    cf_sse_fn *fn;                  /* event callback */
    void *arg;                      /* its argument */
    size_t max;                     /* cap of a line and of an event's data, bytes */
    char *line;                     /* the line being read (max + 1 bytes) */
    size_t line_len;                /* bytes in line */
    char *data;                     /* the event's data so far (max + 2 bytes) */
    size_t data_len;                /* bytes in data (each line followed by '\n') */
    int has_data;                   /* a data: field came (even an empty one) */
    char type[CF_SSE_MAX_TYPE + 1]; /* the event's type, "" for "message" */
    char id[CF_SSE_MAX_ID + 1];     /* the last event id buffer */
    long retry;                     /* last valid retry:, ms, or CF_SSE_RETRY_UNSET */
    int after_cr;                   /* the last byte ended a line with CR (skip one LF) */
    int started;                    /* bytes of this stream were seen (BOM check done) */
    size_t bom;                     /* bytes of a leading BOM matched so far */
    int broken;                     /* over a cap: refuse until reset */
};

static const char s_bom_bytes[] = "\xEF\xBB\xBF";

cf_err_t cf_sse_new(size_t max_event, cf_sse_fn *fn, void *arg, cf_sse_t **out)
{
    if (!out || !fn || max_event == 0 || max_event > CF_SSE_MAX_EVENT)
        return CF_ERR_INVALID;
    *out = NULL;
    cf_sse_t *self = cf_mem_calloc(1, sizeof(*self));
    if (!self)
        return CF_ERR_NOMEM;
    self->line = cf_mem_malloc(max_event + 1);
    self->data = cf_mem_malloc(max_event + 2);
    if (!self->line || !self->data) {
        cf_sse_destroy(&self);
        return CF_ERR_NOMEM;
    }
    self->fn = fn;
    self->arg = arg;
    self->max = max_event;
    self->retry = CF_SSE_RETRY_UNSET;
    *out = self;
    return CF_OK;
}

void cf_sse_destroy(cf_sse_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_mem_free((*self_p)->line);
    cf_mem_free((*self_p)->data);
    cf_mem_free(*self_p);
    *self_p = NULL;
}

void cf_sse_reset(cf_sse_t *self)
{
    self->line_len = 0;
    self->data_len = 0;
    self->has_data = 0;
    self->type[0] = '\0';
    self->after_cr = 0;
    self->started = 0;
    self->bom = 0;
    self->broken = 0;
}

const char *cf_sse_last_id(const cf_sse_t *self)
{
    return self->id;
}

long cf_sse_retry(const cf_sse_t *self)
{
    return self->retry;
}

/* A blank line: dispatch the event when it has data, then start a new one. */
static cf_err_t s_dispatch(cf_sse_t *self)
{
    cf_err_t rc = CF_OK;
    if (self->has_data) {
        size_t len = self->data_len ? self->data_len - 1 : 0; /* the last '\n' goes */
        self->data[len] = '\0';
        cf_sse_event_t ev = {self->type[0] ? self->type : "message", self->data, len, self->id};
        rc = self->fn(self->arg, &ev);
    }
    self->data_len = 0;
    self->has_data = 0;
    self->type[0] = '\0';
    return rc;
}

/* retry: ASCII digits only, else ignored. */
static void s_retry(cf_sse_t *self, const char *v, size_t len)
{
    long ms = 0;
    if (len == 0 || len > 9)
        return;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return;
        ms = ms * 10 + (v[i] - '0');
    }
    self->retry = ms;
}

/* One field of the current event. */
static cf_err_t s_field(cf_sse_t *self, const char *name, size_t nlen, const char *v, size_t len)
{
    if (nlen == 4 && memcmp(name, "data", 4) == 0) {
        if (self->data_len + len + 1 > self->max + 1)
            return CF_ERR_TOOBIG;
        memcpy(self->data + self->data_len, v, len);
        self->data_len += len;
        self->data[self->data_len++] = '\n';
        self->has_data = 1;
    } else if (nlen == 5 && memcmp(name, "event", 5) == 0) {
        if (len > CF_SSE_MAX_TYPE || memchr(v, '\0', len))
            return CF_ERR_TOOBIG;
        memcpy(self->type, v, len);
        self->type[len] = '\0';
    } else if (nlen == 2 && memcmp(name, "id", 2) == 0) {
        if (memchr(v, '\0', len))
            return CF_OK; /* the standard ignores such an id */
        if (len > CF_SSE_MAX_ID)
            return CF_ERR_TOOBIG;
        memcpy(self->id, v, len);
        self->id[len] = '\0';
    } else if (nlen == 5 && memcmp(name, "retry", 5) == 0) {
        s_retry(self, v, len);
    }
    return CF_OK;
}

/* One complete line (without its end). */
static cf_err_t s_line(cf_sse_t *self, const char *line, size_t len)
{
    if (len == 0)
        return s_dispatch(self);
    if (line[0] == ':')
        return CF_OK; /* a comment (keep-alive) */
    const char *colon = memchr(line, ':', len);
    size_t nlen = colon ? (size_t) (colon - line) : len;
    const char *v = colon ? colon + 1 : line + len;
    size_t vlen = colon ? len - nlen - 1 : 0;
    if (vlen > 0 && v[0] == ' ') {
        v++;
        vlen--;
    }
    return s_field(self, line, nlen, v, vlen);
}

/* Skip a leading UTF-8 BOM, which may come in pieces; *used gets the bytes eaten. */
static void s_bom(cf_sse_t *self, const char *buf, size_t len, size_t *used)
{
    *used = 0;
    while (!self->started && *used < len) {
        if (buf[*used] != s_bom_bytes[self->bom]) {
            /* not a BOM after all: what matched was text (a BOM's bytes are never a line
               end, so they start the first line) */
            memcpy(self->line, s_bom_bytes, self->bom);
            self->line_len = self->bom;
            self->started = 1;
            return;
        }
        (*used)++;
        if (++self->bom == 3)
            self->started = 1;
    }
}

cf_err_t cf_sse_feed(cf_sse_t *self, const char *buf, size_t len)
{
    if (!self || (!buf && len))
        return CF_ERR_INVALID;
    if (self->broken)
        return CF_ERR_TOOBIG;
    size_t i = 0;
    s_bom(self, buf, len, &i);
    while (i < len) {
        if (self->after_cr && buf[i] == '\n') {
            self->after_cr = 0;
            i++;
            continue;
        }
        self->after_cr = 0;
        size_t n = 0;
        while (i + n < len && buf[i + n] != '\n' && buf[i + n] != '\r')
            n++;
        if (self->line_len + n > self->max) {
            self->broken = 1;
            return CF_ERR_TOOBIG;
        }
        memcpy(self->line + self->line_len, buf + i, n);
        self->line_len += n;
        i += n;
        if (i == len)
            break; /* the line goes on in the next piece */
        self->after_cr = buf[i] == '\r';
        i++;
        size_t line_len = self->line_len;
        self->line_len = 0;
        cf_err_t rc = s_line(self, self->line, line_len);
        if (rc == CF_ERR_TOOBIG)
            self->broken = 1;
        if (rc != CF_OK)
            return rc;
    }
    return CF_OK;
}
