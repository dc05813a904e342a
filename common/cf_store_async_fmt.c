/*  cf_store_async_fmt - the Redis protocol text of one command, built in one pass  */
#include <stdint.h>
#include <string.h>

#include "cf_store_async.h"

/* Decimal digits of v. */
static size_t s_digits(size_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* v in decimal at p followed by CRLF; returns the end. */
static char *s_put_len(char *p, size_t v)
{
    size_t n = s_digits(v);
    for (size_t i = n; i > 0; i--) {
        p[i - 1] = (char) ('0' + v % 10);
        v /= 10;
    }
    p[n] = '\r';
    p[n + 1] = '\n';
    return p + n + 2;
}

size_t cf_store_async_format(char *buf, size_t cap, int argc, const char *const *argv,
                             const size_t *lens)
{
    if (argc < 1 || !argv || !lens)
        return 0;
    size_t need = 1 + s_digits((size_t) argc) + 2;
    for (int i = 0; i < argc; i++) {
        if (!argv[i] || lens[i] > SIZE_MAX / 2 - need - 32)
            return 0;
        need += 1 + s_digits(lens[i]) + 2 + lens[i] + 2;
    }
    if (!buf || cap < need)
        return need;
    char *p = buf;
    *p++ = '*';
    p = s_put_len(p, (size_t) argc);
    for (int i = 0; i < argc; i++) {
        *p++ = '$';
        p = s_put_len(p, lens[i]);
        memcpy(p, argv[i], lens[i]);
        p += lens[i];
        *p++ = '\r';
        *p++ = '\n';
    }
    return need;
}
