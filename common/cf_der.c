/*  cf_der - bounded DER writer: tag-length-value into a capped buffer, no parser  */
#include "cf_der.h"

#include <string.h>

#define S_TIME_MIN (-62167219200LL) /* 0000-01-01T00:00:00Z */
#define S_TIME_MAX 253402300799LL   /* 9999-12-31T23:59:59Z */

void cf_der_init(cf_der_t *w, unsigned char *buf, size_t cap)
{
    CF_ASSERT(w && (buf || cap == 0));
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->err = CF_OK;
}

cf_err_t cf_der_status(const cf_der_t *w)
{
    return w->err;
}

/* Room for n more bytes? Sets the sticky error when not. */
static int s_room(cf_der_t *w, size_t n)
{
    if (w->err != CF_OK)
        return 0;
    if (n > w->cap - w->len) {
        w->err = CF_ERR_TOOBIG;
        return 0;
    }
    return 1;
}

static size_t s_len_size(size_t len)
{
    if (len < 0x80)
        return 1;
    if (len <= 0xff)
        return 2;
    if (len <= 0xffff)
        return 3;
    return 4;
}

/* Write the length octets of len at p (s_len_size(len) bytes). */
static void s_put_len(unsigned char *p, size_t len)
{
    size_t n = s_len_size(len);
    if (n == 1) {
        p[0] = (unsigned char) len;
        return;
    }
    p[0] = (unsigned char) (0x80u | (n - 1));
    for (size_t i = n - 1; i >= 1; i--) {
        p[i] = (unsigned char) (len & 0xffu);
        len >>= 8;
    }
}

void cf_der_raw(cf_der_t *w, const void *data, size_t len)
{
    if (!s_room(w, len))
        return;
    if (len)
        memcpy(w->buf + w->len, data, len);
    w->len += len;
}

void cf_der_tlv(cf_der_t *w, unsigned tag, const void *data, size_t len)
{
    CF_ASSERT(tag <= 0xff);
    if (w->err == CF_OK && len > CF_DER_MAX_LEN)
        w->err = CF_ERR_TOOBIG;
    size_t hdr = 1 + s_len_size(len);
    if (!s_room(w, hdr + len))
        return;
    w->buf[w->len] = (unsigned char) tag;
    s_put_len(w->buf + w->len + 1, len);
    if (len)
        memcpy(w->buf + w->len + hdr, data, len);
    w->len += hdr + len;
}

size_t cf_der_begin(cf_der_t *w, unsigned tag)
{
    CF_ASSERT(tag <= 0xff);
    if (!s_room(w, 2))
        return 0;
    w->buf[w->len] = (unsigned char) tag;
    w->buf[w->len + 1] = 0; /* placeholder: one length byte, fixed in cf_der_end */
    w->len += 2;
    return w->len - 1;
}

void cf_der_end(cf_der_t *w, size_t mark)
{
    if (w->err != CF_OK)
        return;
    CF_ASSERT(mark >= 1 && mark + 1 <= w->len && w->buf[mark] == 0);
    size_t content = w->len - (mark + 1);
    if (content > CF_DER_MAX_LEN) {
        w->err = CF_ERR_TOOBIG;
        return;
    }
    size_t extra = s_len_size(content) - 1;
    if (extra) {
        if (!s_room(w, extra))
            return;
        memmove(w->buf + mark + 1 + extra, w->buf + mark + 1, content);
        w->len += extra;
    }
    s_put_len(w->buf + mark, content);
}

void cf_der_uint(cf_der_t *w, const unsigned char *be, size_t len)
{
    while (len > 0 && be[0] == 0) {
        be++;
        len--;
    }
    int pad = len == 0 || (be[0] & 0x80u) != 0; /* zero is one 0x00 byte */
    size_t content = len + (size_t) pad;
    if (w->err == CF_OK && content > CF_DER_MAX_LEN)
        w->err = CF_ERR_TOOBIG;
    size_t hdr = 1 + s_len_size(content);
    if (!s_room(w, hdr + content))
        return;
    unsigned char *p = w->buf + w->len;
    p[0] = CF_DER_INTEGER;
    s_put_len(p + 1, content);
    if (pad)
        p[hdr] = 0;
    if (len)
        memcpy(p + hdr + (size_t) pad, be, len);
    w->len += hdr + content;
}

void cf_der_u64(cf_der_t *w, uint64_t value)
{
    unsigned char be[8];
    for (int i = 7; i >= 0; i--) {
        be[i] = (unsigned char) (value & 0xffu);
        value >>= 8;
    }
    cf_der_uint(w, be, sizeof(be));
}

void cf_der_bits(cf_der_t *w, const void *data, size_t len)
{
    if (w->err == CF_OK && len >= CF_DER_MAX_LEN)
        w->err = CF_ERR_TOOBIG;
    size_t hdr = 1 + s_len_size(len + 1);
    if (!s_room(w, hdr + 1 + len))
        return;
    unsigned char *p = w->buf + w->len;
    p[0] = CF_DER_BITSTRING;
    s_put_len(p + 1, len + 1);
    p[hdr] = 0; /* unused bits in the last byte */
    if (len)
        memcpy(p + hdr + 1, data, len);
    w->len += hdr + 1 + len;
}

void cf_der_gmtime(int64_t t, cf_der_tm_t *tm)
{
    /* Days-to-civil after Howard Hinnant's public-domain algorithm (eras of 400 years). */
    int64_t days = t / 86400;
    int64_t secs = t % 86400;
    if (secs < 0) {
        secs += 86400;
        days--;
    }
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int mon = (int) (mp < 10 ? mp + 3 : mp - 9);
    tm->year = yoe + era * 400 + (mon <= 2);
    tm->mon = mon;
    tm->day = (int) (doy - (153 * mp + 2) / 5 + 1);
    tm->hour = (int) (secs / 3600);
    tm->min = (int) (secs / 60 % 60);
    tm->sec = (int) (secs % 60);
}

static void s_digits(unsigned char *p, int64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (unsigned char) ('0' + v % 10);
        v /= 10;
    }
}

void cf_der_time(cf_der_t *w, int64_t t)
{
    if (w->err == CF_OK && (t < S_TIME_MIN || t > S_TIME_MAX))
        w->err = CF_ERR_INVALID;
    if (w->err != CF_OK)
        return;
    cf_der_tm_t tm;
    cf_der_gmtime(t, &tm);
    unsigned char text[15];
    int utc = tm.year >= 1950 && tm.year <= 2049; /* RFC 5280 4.1.2.5 */
    int yd = utc ? 2 : 4;
    s_digits(text, utc ? tm.year % 100 : tm.year, yd);
    s_digits(text + yd, tm.mon, 2);
    s_digits(text + yd + 2, tm.day, 2);
    s_digits(text + yd + 4, tm.hour, 2);
    s_digits(text + yd + 6, tm.min, 2);
    s_digits(text + yd + 8, tm.sec, 2);
    text[yd + 10] = 'Z';
    cf_der_tlv(w, utc ? CF_DER_UTCTIME : CF_DER_GENTIME, text, (size_t) yd + 11);
}
