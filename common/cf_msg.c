/*  cf_msg - the broker wire protocol: versioned frames between agent, broker and server  */
#include "cf_msg.h"

#include <stdint.h>
#include <string.h>

#include "cf_issue.h"
#include "cf_job.h"
#include "cf_mem.h"

_Static_assert(CF_MSG_MAX_JOB == CF_JOB_MAX_WIRE, "a JOB carries one whole job");
_Static_assert(CF_MSG_MAX_WIRE >=
                   CF_MSG_HEADER_LEN + 1 + CF_MSG_AGENT_MAX + 16 + 4 + CF_MSG_MAX_JOB,
               "the largest JOB fits the wire cap");
_Static_assert(CF_MSG_MAX_WIRE >=
                   CF_MSG_HEADER_LEN + 1 + 16 + 2 + CF_MSG_MAX_TARGETS * (1 + CF_MSG_AGENT_MAX),
               "the largest BROADCAST fits the wire cap");

#define S_MAGIC0  'C'
#define S_MAGIC1  'F'
#define S_ID_RAW  16 /* job id on the wire: 16 raw bytes, all zero = none */
#define S_FPR_RAW 32 /* fingerprint on the wire: 0 or 32 raw bytes */
#define S_BC_JOB  2  /* BROADCAST flag: a job for each listed agent follows the ids */

/* One walk over a body, used both ways so encoder and decoder cannot drift apart: when
   reading, fields are taken from in/left; when writing, they are put at out + pos (or
   only counted when out is NULL). The first field that fails is remembered (s2n's
   stuffer: later calls do nothing). */
typedef struct {
    int reading;             /* 1 decode, 0 encode */
    const unsigned char *in; /* reading: next unread byte */
    size_t left;             /* reading: bytes not read yet */
    unsigned char *out;      /* writing: the body buffer, NULL while counting */
    size_t pos;              /* writing: bytes put (or counted) so far */
    const char *bad;         /* reading: first field that did not decode, else NULL */
    int nomem;               /* reading: an allocation failed */
} s_io_t;

/* Read or write n raw bytes at p. */
static void s_io_raw(s_io_t *io, void *p, size_t n, const char *what)
{
    if (!io->reading) {
        if (io->out && n)
            memcpy(io->out + io->pos, p, n);
        io->pos += n;
        return;
    }
    if (io->bad)
        return;
    if (n > io->left) { /* the length is checked against what is left before reading */
        io->bad = what;
        return;
    }
    if (n)
        memcpy(p, io->in, n);
    io->in += n;
    io->left -= n;
}

/* Unsigned big-endian integer of width bytes (1, 2 or 4). */
static void s_io_uint(s_io_t *io, size_t width, uint32_t *v, const char *what)
{
    unsigned char b[4] = {0};
    for (size_t i = 0; i < width; i++)
        b[i] = (unsigned char) (*v >> (8 * (width - 1 - i)));
    s_io_raw(io, b, width, what);
    if (!io->reading || io->bad)
        return;
    uint32_t x = 0;
    for (size_t i = 0; i < width; i++)
        x = (x << 8) | b[i];
    *v = x;
}

static void s_io_u8(s_io_t *io, unsigned *v, const char *what)
{
    uint32_t x = *v;
    s_io_uint(io, 1, &x, what);
    *v = x;
}

/* A string of 0..cap-1 bytes behind a one-byte length; no NUL inside on the wire. */
static void s_io_str8(s_io_t *io, char *s, size_t cap, const char *what)
{
    unsigned n = io->reading ? 0 : (unsigned) strlen(s);
    s_io_u8(io, &n, what);
    if (io->reading && !io->bad && n >= cap)
        io->bad = what;
    s_io_raw(io, s, n, what);
    if (!io->reading || io->bad)
        return;
    s[n] = '\0';
    if (memchr(s, '\0', n))
        io->bad = what;
}

static const char s_hex[] = "0123456789abcdef";

/* Lowercase hex text of length 2 * n <-> n raw bytes. The text was checked when writing. */
static void s_io_hex(s_io_t *io, char *hex, size_t n, const char *what)
{
    unsigned char raw[S_FPR_RAW] = {0};
    for (size_t i = 0; !io->reading && hex[0] && i < n; i++) {
        const char *hi = strchr(s_hex, hex[2 * i]), *lo = strchr(s_hex, hex[2 * i + 1]);
        raw[i] = (unsigned char) (((hi - s_hex) << 4) | (lo - s_hex));
    }
    s_io_raw(io, raw, n, what);
    if (!io->reading || io->bad)
        return;
    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = s_hex[raw[i] >> 4];
        hex[2 * i + 1] = s_hex[raw[i] & 15];
    }
    hex[2 * n] = '\0';
}

/* Job id: 16 raw bytes; all zero stands for "" (no job). */
static void s_io_job_id(s_io_t *io, char *hex)
{
    static const unsigned char zero[S_ID_RAW];
    s_io_hex(io, hex, S_ID_RAW, "job id");
    if (io->reading && !io->bad && memcmp(io->in - S_ID_RAW, zero, S_ID_RAW) == 0)
        hex[0] = '\0';
}

/* Fingerprint: a one-byte length, 0 or 32, then the raw digest. */
static void s_io_fpr(s_io_t *io, char *hex)
{
    unsigned n = hex[0] ? S_FPR_RAW : 0;
    s_io_u8(io, &n, "fingerprint");
    if (io->reading && !io->bad && n != 0 && n != S_FPR_RAW)
        io->bad = "fingerprint";
    if (n)
        s_io_hex(io, hex, S_FPR_RAW, "fingerprint");
    else if (io->reading)
        hex[0] = '\0';
}

/* JOB payload: a four-byte length, then the bytes (copied when reading). */
static void s_io_job(s_io_t *io, cf_msg_t *m)
{
    uint32_t n = (uint32_t) m->job_len;
    s_io_uint(io, 4, &n, "job length");
    if (!io->reading) {
        s_io_raw(io, m->job, n, "job");
        return;
    }
    if (io->bad)
        return;
    if (n > io->left || n > CF_MSG_MAX_JOB) {
        io->bad = "job";
        return;
    }
    m->job = cf_mem_memdup(io->in, n);
    if (!m->job) {
        io->nomem = 1;
        io->bad = "job";
        return;
    }
    m->job_len = n;
    io->in += n;
    io->left -= n;
}

/* BROADCAST: flags (bit 0 = all, bit 1 = a job follows the ids), job id, a two-byte count,
   then that many agent ids, then (bit 1) the job as in a JOB. */
static void s_io_broadcast(s_io_t *io, cf_msg_t *m)
{
    unsigned flags = (m->all ? 1 : 0) | (m->job ? S_BC_JOB : 0);
    uint32_t count = (uint32_t) m->n_targets;
    s_io_u8(io, &flags, "flags");
    s_io_job_id(io, m->job_id);
    s_io_uint(io, 2, &count, "target count");
    if (io->reading && !io->bad) {
        /* the other reserved bits and the count are judged by cf_msg_check */
        m->all = (int) (flags & ~(unsigned) S_BC_JOB);
        /* each id takes at least two bytes: refuse a count the body cannot hold */
        if (count > CF_MSG_MAX_TARGETS || count > io->left / 2) {
            io->bad = "target count";
            return;
        }
        m->targets = count ? cf_mem_calloc(count, sizeof(*m->targets)) : NULL;
        if (count && !m->targets) {
            io->nomem = 1;
            io->bad = "targets";
            return;
        }
        m->n_targets = count;
    }
    for (size_t i = 0; i < m->n_targets && !io->bad; i++)
        s_io_str8(io, m->targets[i], sizeof(m->targets[i]), "target");
    if (flags & S_BC_JOB)
        s_io_job(io, m);
}

/* The body of each type, field by field (docs/PROTOCOL.md has the same grammar). */
static void s_io_body(s_io_t *io, cf_msg_t *m)
{
    unsigned u;
    switch (m->type) {
    case CF_MSG_BROADCAST: s_io_broadcast(io, m); return;
    case CF_MSG_ERROR:
        u = m->error;
        s_io_u8(io, &u, "error code");
        m->error = (cf_msg_error_t) u;
        break;
    default: break;
    }
    s_io_str8(io, m->agent, sizeof(m->agent), "agent id");
    switch (m->type) {
    case CF_MSG_HELLO:
        s_io_u8(io, &m->proto, "protocol level");
        s_io_str8(io, m->text, CF_MSG_VERSION_MAX + 1, "software version");
        break;
    case CF_MSG_JOB:
        s_io_job_id(io, m->job_id);
        s_io_job(io, m);
        break;
    case CF_MSG_REPORT:
        s_io_job_id(io, m->job_id);
        u = m->outcome;
        s_io_u8(io, &u, "outcome");
        m->outcome = (cf_msg_outcome_t) u;
        s_io_fpr(io, m->fpr);
        s_io_str8(io, m->text, sizeof(m->text), "reason");
        break;
    case CF_MSG_ACK:
        s_io_job_id(io, m->job_id);
        u = m->ack_of;
        s_io_u8(io, &u, "acknowledged type");
        m->ack_of = (cf_msg_type_t) u;
        break;
    case CF_MSG_ERROR:
        s_io_job_id(io, m->job_id);
        s_io_str8(io, m->text, sizeof(m->text), "error text");
        break;
    default: /* RECEIPT, CHECKIN */ s_io_job_id(io, m->job_id); break;
    }
}

static const char *const s_type_names[CF_MSG_TYPE_COUNT_] = {
    [0] = "UNKNOWN",
    [CF_MSG_HELLO] = "HELLO",
    [CF_MSG_JOB] = "JOB",
    [CF_MSG_RECEIPT] = "RECEIPT",
    [CF_MSG_REPORT] = "REPORT",
    [CF_MSG_ACK] = "ACK",
    [CF_MSG_CHECKIN] = "CHECKIN",
    [CF_MSG_BROADCAST] = "BROADCAST",
    [CF_MSG_ERROR] = "ERROR",
};

void cf_msg_init(cf_msg_t *m, cf_msg_type_t type)
{
    CF_ASSERT(m);
    memset(m, 0, sizeof(*m));
    m->type = type;
}

void cf_msg_clear(cf_msg_t *m)
{
    if (!m)
        return;
    cf_mem_free(m->job);
    cf_mem_free(m->targets);
    memset(m, 0, sizeof(*m));
}

cf_err_t cf_msg_set_job(cf_msg_t *m, const void *job, size_t len)
{
    if (!m || !job || len == 0)
        return CF_ERR_INVALID;
    if (len > CF_MSG_MAX_JOB)
        return CF_ERR_TOOBIG;
    unsigned char *copy = cf_mem_memdup(job, len);
    if (!copy)
        return CF_ERR_NOMEM;
    cf_mem_free(m->job);
    m->job = copy;
    m->job_len = len;
    return CF_OK;
}

cf_err_t cf_msg_add_target(cf_msg_t *m, const char *agent)
{
    if (!m || !agent || strlen(agent) > CF_MSG_AGENT_MAX || cf_issue_check_agent_id(agent) != CF_OK)
        return CF_ERR_INVALID;
    if (m->n_targets >= CF_MSG_MAX_TARGETS)
        return CF_ERR_TOOBIG;
    void *grown = cf_mem_realloc(m->targets, (m->n_targets + 1) * sizeof(*m->targets));
    if (!grown)
        return CF_ERR_NOMEM;
    m->targets = grown;
    memcpy(m->targets[m->n_targets], agent, strlen(agent) + 1);
    m->n_targets++;
    return CF_OK;
}

cf_err_t cf_msg_encode(const cf_msg_t *m, cf_msg_frames_t *out, cf_why_t *why)
{
    if (!m || !out)
        return CF_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    CF_TRY(cf_msg_check(m, why));
    cf_msg_t walk = *m; /* the walk wants a non-const message; writing changes nothing */
    s_io_t io = {0};
    s_io_body(&io, &walk); /* count first */
    size_t body_len = io.pos;
    if (CF_MSG_HEADER_LEN + body_len > CF_MSG_MAX_WIRE)
        return cf_why(why, CF_ERR_TOOBIG, "%s would be %zu bytes, the cap is %d",
                      cf_msg_type_name(m->type), CF_MSG_HEADER_LEN + body_len, CF_MSG_MAX_WIRE);
    out->data[0] = cf_mem_malloc(CF_MSG_HEADER_LEN);
    out->data[1] = cf_mem_malloc(body_len);
    if (!out->data[0] || !out->data[1]) {
        cf_msg_frames_clear(out);
        return CF_ERR_NOMEM;
    }
    const unsigned char header[CF_MSG_HEADER_LEN] = {S_MAGIC0, S_MAGIC1, CF_MSG_VERSION,
                                                     (unsigned char) m->type};
    memcpy(out->data[0], header, CF_MSG_HEADER_LEN);
    io = (s_io_t){.out = out->data[1]};
    s_io_body(&io, &walk);
    CF_ASSERT(io.pos == body_len);
    out->len[0] = CF_MSG_HEADER_LEN;
    out->len[1] = body_len;
    out->n = CF_MSG_FRAMES;
    return CF_OK;
}

/* Size cap, header and frame count; the type on success. The magic and version bytes are
   read before the length of the header and the number of frames are judged, so a later
   version that changes either is still reported as a version we do not speak. */
static cf_err_t s_check_frames(const cf_msg_frame_t *f, size_t n, cf_msg_type_t *type,
                               cf_why_t *why)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!f[i].data && f[i].len)
            return CF_ERR_INVALID;
        if (f[i].len > CF_MSG_MAX_WIRE - total)
            return cf_why(why, CF_ERR_TOOBIG, "message over %d bytes", CF_MSG_MAX_WIRE);
        total += f[i].len;
    }
    if (n == 0 || f[0].len < 3 || f[0].data[0] != S_MAGIC0 || f[0].data[1] != S_MAGIC1)
        return cf_why(why, CF_ERR_CORRUPT, "not a certfleet message (bad header frame)");
    if (f[0].data[2] != CF_MSG_VERSION)
        return cf_why(why, CF_ERR_UNSUPPORTED, "wire version %u, this build speaks %d",
                      f[0].data[2], CF_MSG_VERSION);
    if (f[0].len != CF_MSG_HEADER_LEN)
        return cf_why(why, CF_ERR_CORRUPT, "header frame of %zu bytes, expected %d", f[0].len,
                      CF_MSG_HEADER_LEN);
    unsigned t = f[0].data[3];
    if (t < CF_MSG_HELLO || t >= CF_MSG_TYPE_COUNT_)
        return cf_why(why, CF_ERR_CORRUPT, "unknown message type %u", t);
    if (n != CF_MSG_FRAMES)
        return cf_why(why, CF_ERR_CORRUPT, "%s in %zu frames, expected %d", s_type_names[t], n,
                      CF_MSG_FRAMES);
    *type = (cf_msg_type_t) t;
    return CF_OK;
}

cf_err_t cf_msg_decode(const cf_msg_frame_t *frames, size_t n, cf_msg_t *m, cf_why_t *why)
{
    if (!m || (!frames && n))
        return CF_ERR_INVALID;
    memset(m, 0, sizeof(*m));
    cf_msg_type_t type = 0;
    CF_TRY(s_check_frames(frames, n, &type, why));
    m->type = type;
    s_io_t io = {.reading = 1, .in = frames[1].data, .left = frames[1].len};
    s_io_body(&io, m);
    cf_err_t rc = CF_OK;
    if (io.nomem)
        rc = CF_ERR_NOMEM;
    else if (io.bad)
        rc = cf_why(why, CF_ERR_CORRUPT, "%s: field '%s' does not decode", s_type_names[type],
                    io.bad);
    else if (io.left)
        rc = cf_why(why, CF_ERR_CORRUPT, "%s: %zu bytes after the last field", s_type_names[type],
                    io.left);
    else if (cf_msg_check(m, why) != CF_OK)
        rc = CF_ERR_CORRUPT; /* why already names the field */
    if (rc != CF_OK)
        cf_msg_clear(m);
    return rc;
}

size_t cf_msg_frames_view(const cf_msg_frames_t *frames, cf_msg_frame_t view[CF_MSG_FRAMES])
{
    CF_ASSERT(frames && view && frames->n <= CF_MSG_FRAMES);
    for (size_t i = 0; i < frames->n; i++)
        view[i] = (cf_msg_frame_t){frames->data[i], frames->len[i]};
    return frames->n;
}

void cf_msg_frames_clear(cf_msg_frames_t *frames)
{
    if (!frames)
        return;
    for (size_t i = 0; i < CF_MSG_FRAMES; i++)
        cf_mem_free(frames->data[i]);
    memset(frames, 0, sizeof(*frames));
}

const char *cf_msg_type_name(cf_msg_type_t type)
{
    if (type < CF_MSG_HELLO || type >= CF_MSG_TYPE_COUNT_)
        return "UNKNOWN";
    return s_type_names[type];
}

const char *cf_msg_error_name(cf_msg_error_t error)
{
    static const char *const names[CF_MSG_ERR_COUNT_] = {
        "unknown", "version", "malformed", "toobig", "denied", "offline", "internal",
    };
    if (error < CF_MSG_ERR_VERSION || error >= CF_MSG_ERR_COUNT_)
        return "unknown";
    return names[error];
}
