/*  cf_table - what cf-console shows people, and words it reads: tables, locks, times  */
#include "cf_table.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cf_mem.h"

#define S_GAP       "  " /* between columns */
#define S_LOCK_WORD 9    /* strlen("attention"), the longest state word */
#define S_MAX_SINCE 64   /* longest --since text */

typedef struct {
    char *text;   /* sanitised copy (owned); may hold our colour codes */
    size_t width; /* display width */
} s_cell_t;

struct cf_table {
    const cf_table_col_t *cols; /* borrowed column table */
    size_t n_cols;              /* entries in cols */
    int colour;                 /* 1: markers in colour */
    s_cell_t *cells;            /* row-major, n_cells used (owned) */
    size_t n_cells;             /* cells added */
    size_t cap;                 /* cells allocated */
    cf_err_t err;               /* first failure to add a cell; sticky */
};

/* The seed's lock states: marker, its colour, the word. */
static const struct {
    const char *word;   /* API spelling */
    const char *marker; /* UTF-8 glyph */
    const char *ansi;   /* SGR colour */
} s_locks[] = {
    {"secure", "\u25cf", "\033[32m"},
    {"attention", "\u25cf", "\033[33m"},
    {"insecure", "\u25cb", "\033[31m"},
    {"expired", "\u2715", "\033[1;31m"},
};

cf_table_t *cf_table_new(const cf_table_col_t *cols, size_t n, int colour)
{
    CF_ASSERT(cols && n >= 1 && n <= CF_TABLE_MAX_COLS);
    cf_table_t *self = cf_mem_calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->cols = cols;
    self->n_cols = n;
    self->colour = colour;
    return self;
}

void cf_table_destroy(cf_table_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_table_t *self = *self_p;
    for (size_t i = 0; i < self->n_cells; i++)
        cf_mem_free(self->cells[i].text);
    cf_mem_free(self->cells);
    cf_mem_free(self);
    *self_p = NULL;
}

/* Length of the UTF-8 sequence at p (n bytes left) when it is well formed and no C1
   control; 0 otherwise. */
static size_t s_utf8_len(const unsigned char *p, size_t n)
{
    size_t len = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : 2;
    if (p[0] < 0xc2 || p[0] > 0xf4 || len > n)
        return 0;
    unsigned long cp = p[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    static const unsigned long least[] = {0, 0, 0xa0, 0x800, 0x10000};
    if (cp < least[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0; /* overlong, C1 (U+0080..U+009F), past Unicode, surrogate */
    return len;
}

/* A copy of text where everything a terminal could act on became '?'; *width its width. */
static char *s_sanitise(const char *text, size_t len, size_t *width)
{
    char *out = cf_mem_malloc(len + 1);
    if (!out)
        return NULL;
    const unsigned char *p = (const unsigned char *) text;
    size_t o = 0, w = 0;
    for (size_t i = 0; i < len; w++) {
        size_t seq = p[i] < 0x80 ? 1 : s_utf8_len(p + i, len - i);
        if (seq == 1 && (p[i] < 0x20 || p[i] == 0x7f))
            seq = 0;
        if (seq == 0) {
            out[o++] = '?';
            i++;
            continue;
        }
        memcpy(out + o, p + i, seq);
        o += seq;
        i += seq;
    }
    out[o] = '\0';
    *width = w;
    return out;
}

/* Remember the first failure: the table cannot be printed whole after it. */
static cf_err_t s_fail(cf_table_t *self, cf_err_t rc)
{
    if (self->err == CF_OK)
        self->err = rc;
    return rc;
}

/* Append a cell taking text (owned, already safe to print; NULL: out of memory). */
static cf_err_t s_push(cf_table_t *self, char *text, size_t width)
{
    if (!text)
        return s_fail(self, CF_ERR_NOMEM);
    if (self->n_cells % self->n_cols == 0 && self->n_cells / self->n_cols >= CF_TABLE_MAX_ROWS) {
        cf_mem_free(text);
        return s_fail(self, CF_ERR_TOOBIG);
    }
    if (self->n_cells == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 16 * self->n_cols;
        s_cell_t *cells = cf_mem_realloc(self->cells, cap * sizeof(*cells));
        if (!cells) {
            cf_mem_free(text);
            return s_fail(self, CF_ERR_NOMEM);
        }
        self->cells = cells;
        self->cap = cap;
    }
    self->cells[self->n_cells].text = text;
    self->cells[self->n_cells].width = width;
    self->n_cells++;
    return CF_OK;
}

cf_err_t cf_table_add(cf_table_t *self, const char *text)
{
    CF_ASSERT(self);
    if (self->err != CF_OK)
        return self->err;
    if (!text)
        text = "-";
    size_t len = strnlen(text, CF_TABLE_MAX_CELL + 1);
    if (len > CF_TABLE_MAX_CELL)
        return s_fail(self, CF_ERR_TOOBIG);
    size_t width = 0;
    char *copy = s_sanitise(text, len, &width);
    return s_push(self, copy, width);
}

cf_err_t cf_table_addf(cf_table_t *self, const char *fmt, ...)
{
    char buf[CF_TABLE_MAX_CELL + 1];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return s_fail(self, CF_ERR_INVALID);
    if ((size_t) n > CF_TABLE_MAX_CELL)
        return s_fail(self, CF_ERR_TOOBIG);
    return cf_table_add(self, buf);
}

cf_err_t cf_table_kv(cf_table_t *self, const char *key, const char *fmt, ...)
{
    char buf[CF_TABLE_MAX_CELL + 1];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    cf_err_t rc = cf_table_add(self, key);
    if (rc == CF_OK && (n < 0 || (size_t) n > CF_TABLE_MAX_CELL))
        rc = s_fail(self, n < 0 ? CF_ERR_INVALID : CF_ERR_TOOBIG);
    return rc == CF_OK ? cf_table_add(self, buf) : rc;
}

/* A lock state we do not know: shown as the server spelt it (made harmless), no colour. */
static cf_err_t s_add_unknown_lock(cf_table_t *self, const char *lock, const char *suffix)
{
    char buf[CF_TABLE_MAX_CELL + 1];
    int len = snprintf(buf, sizeof(buf), "%s%s%s", lock ? lock : "-", suffix ? " " : "",
                       suffix ? suffix : "");
    if (len < 0 || (size_t) len > CF_TABLE_MAX_CELL)
        return s_fail(self, CF_ERR_TOOBIG);
    return cf_table_add(self, buf);
}

cf_err_t cf_table_add_lock(cf_table_t *self, const char *lock, const char *suffix)
{
    CF_ASSERT(self);
    if (self->err != CF_OK)
        return self->err;
    size_t i = 0, n = sizeof(s_locks) / sizeof(s_locks[0]);
    while (lock && i < n && strcmp(lock, s_locks[i].word) != 0)
        i++;
    if (!lock || i == n)
        return s_add_unknown_lock(self, lock, suffix);
    size_t suffix_len = suffix ? strnlen(suffix, CF_TABLE_MAX_CELL + 1) : 0;
    if (suffix_len > CF_TABLE_MAX_CELL - 64)
        return s_fail(self, CF_ERR_TOOBIG);
    size_t width = 0, cap = suffix_len + 64;
    char *safe = s_sanitise(suffix ? suffix : "", suffix_len, &width);
    char *text = safe ? cf_mem_malloc(cap) : NULL;
    if (!text) {
        cf_mem_free(safe);
        return s_fail(self, CF_ERR_NOMEM);
    }
    int pad = suffix ? S_LOCK_WORD : 0;
    const char *gap = suffix ? " " : "";
    if (self->colour)
        snprintf(text, cap, "%s%s\033[0m %-*s%s%s", s_locks[i].ansi, s_locks[i].marker, pad,
                 s_locks[i].word, gap, safe);
    else
        snprintf(text, cap, "%-*s%s%s", pad, s_locks[i].word, gap, safe);
    cf_mem_free(safe);
    return s_push(self, text, cf_table_width(text));
}

const char *cf_table_days_left(long long days_left, int expired, char *buf, size_t len)
{
    /* days_left is rounded down: -1 is "less than a day ago", -2 "one whole day ago" */
    long long ago = days_left < 0 ? -(days_left + 1) : 0; /* no overflow at LLONG_MIN */
    if (expired && ago == 0)
        snprintf(buf, len, "expired today");
    else if (expired)
        snprintf(buf, len, "expired %lld day%s ago", ago, ago == 1 ? "" : "s");
    else if (days_left <= 0)
        snprintf(buf, len, "under a day");
    else
        snprintf(buf, len, "%lld day%s", days_left, days_left == 1 ? "" : "s");
    return buf;
}

cf_err_t cf_table_add_expiry(cf_table_t *self, long long days_left, int expired)
{
    CF_ASSERT(self);
    char words[CF_TABLE_DAYS_MAX];
    cf_table_days_left(days_left, expired, words, sizeof(words));
    const char *ansi = expired                            ? "\033[1;31m"
                       : days_left < CF_TABLE_DAYS_RED    ? "\033[31m"
                       : days_left < CF_TABLE_DAYS_YELLOW ? "\033[33m"
                                                          : NULL;
    if (!self->colour || !ansi)
        return cf_table_add(self, words);
    if (self->err != CF_OK)
        return self->err;
    size_t cap = sizeof(words) + 16;
    char *text = cf_mem_malloc(cap);
    if (!text)
        return s_fail(self, CF_ERR_NOMEM);
    snprintf(text, cap, "%s%s\033[0m", ansi, words);
    return s_push(self, text, cf_table_width(text));
}

size_t cf_table_rows(const cf_table_t *self)
{
    return (self->n_cells + self->n_cols - 1) / self->n_cols;
}

size_t cf_table_width(const char *text)
{
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *) text; *p; p++) {
        if (p[0] == 0x1b && p[1] == '[') { /* our SGR codes: ESC [ digits ; m */
            p += 2;
            while (*p && *p != 'm')
                p++;
            if (!*p)
                break;
            continue;
        }
        if ((*p & 0xc0) != 0x80) /* count lead bytes, not continuation bytes */
            w++;
    }
    return w;
}

static int s_pad(FILE *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (fputc(' ', out) == EOF)
            return -1;
    }
    return 0;
}

/* One line: cells[0..n_cols-1] with the column widths; no blanks at its end (empty cells
   at the end are left out). */
static int s_line(const cf_table_t *self, const s_cell_t *cells, const size_t *widths, FILE *out)
{
    int bad = 0;
    size_t end = self->n_cols;
    while (end > 1 && cells[end - 1].text[0] == '\0')
        end--;
    for (size_t c = 0; c < end; c++) {
        size_t room = widths[c] - cells[c].width;
        if (c > 0)
            bad |= fputs(S_GAP, out) == EOF;
        if (self->cols[c].align == CF_TABLE_RIGHT)
            bad |= s_pad(out, room);
        bad |= fputs(cells[c].text, out) == EOF;
        if (self->cols[c].align == CF_TABLE_LEFT && c + 1 < end)
            bad |= s_pad(out, room);
    }
    bad |= fputc('\n', out) == EOF;
    return bad;
}

cf_err_t cf_table_print(const cf_table_t *self, FILE *out)
{
    CF_ASSERT(self && out);
    if (self->err != CF_OK)
        return self->err;
    if (self->n_cells % self->n_cols != 0)
        return CF_ERR_INVALID;
    size_t widths[CF_TABLE_MAX_COLS] = {0};
    s_cell_t head[CF_TABLE_MAX_COLS];
    int has_head = 0;
    for (size_t c = 0; c < self->n_cols; c++) {
        const char *h = self->cols[c].header;
        has_head |= h != NULL;
        head[c].text = (char *) (h ? h : "");
        head[c].width = cf_table_width(head[c].text);
    }
    for (size_t c = 0; has_head && c < self->n_cols; c++)
        widths[c] = head[c].width;
    for (size_t i = 0; i < self->n_cells; i++) {
        size_t c = i % self->n_cols;
        if (self->cells[i].width > widths[c])
            widths[c] = self->cells[i].width;
    }
    int bad = has_head ? s_line(self, head, widths, out) : 0;
    for (size_t i = 0; i < self->n_cells && !bad; i += self->n_cols)
        bad = s_line(self, self->cells + i, widths, out);
    return bad || fflush(out) != 0 ? CF_ERR_IO : CF_OK;
}

int cf_table_colour(FILE *out)
{
    const char *no = getenv("NO_COLOR");
    return isatty(fileno(out)) && !(no && no[0]);
}

const char *cf_table_time(long long t, char *buf, size_t len)
{
    time_t tt = (time_t) t;
    struct tm tm;
    if (t <= 0)
        snprintf(buf, len, "never");
    else if (!gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M UTC", &tm))
        snprintf(buf, len, "@%lld", t);
    return buf;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's days_from_civil). */
static long long s_days(long long y, long long m, long long d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* n digits at *p into *out (advancing *p); 0 when there are not exactly n digits. */
static int s_digits(const char **p, int n, int *out)
{
    *out = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9')
            return 0;
        *out = *out * 10 + (**p - '0');
    }
    return 1;
}

/* A calendar date and time of day in range (1970 on). */
static int s_date_ok(int y, int mo, int d, int h, int mi, int s)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
        return 0;
    return !(mo == 2 && d == 29 && !leap) && h <= 23 && mi <= 59 && s <= 59;
}

/* "YYYY-MM-DD[THH:MM[:SS]][Z]" in UTC. */
static int s_date(const char *p, long long *out)
{
    int y, mo, d, h = 0, mi = 0, s = 0;
    if (!s_digits(&p, 4, &y) || *p++ != '-' || !s_digits(&p, 2, &mo) || *p++ != '-' ||
        !s_digits(&p, 2, &d))
        return 0;
    if (*p == 'T' || *p == ' ') {
        p++;
        if (!s_digits(&p, 2, &h) || *p++ != ':' || !s_digits(&p, 2, &mi))
            return 0;
        if (*p == ':' && (p++, !s_digits(&p, 2, &s)))
            return 0;
    }
    if (*p == 'Z')
        p++;
    if (*p || !s_date_ok(y, mo, d, h, mi, s))
        return 0;
    *out = s_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    return 1;
}

cf_err_t cf_table_parse_since(const char *text, long long now, long long *out, cf_why_t *why)
{
    static const char forms[] = "give a unix time, a time ago (90s, 15m, 24h, 7d, 2w) or a UTC "
                                "date (2025-11-26, 2025-11-26T17:30Z)";
    size_t len = text ? strnlen(text, S_MAX_SINCE + 1) : 0;
    if (len > S_MAX_SINCE)
        return cf_why(why, CF_ERR_TOOBIG, "--since is longer than %d bytes", S_MAX_SINCE);
    size_t digits = text ? strspn(text, "0123456789") : 0;
    if (digits == 0 || digits > 12) {
        if (text && s_date(text, out))
            return CF_OK;
        return cf_why(why, digits > 12 ? CF_ERR_TOOBIG : CF_ERR_INVALID, "--since '%.64s': %s",
                      text ? text : "", forms);
    }
    long long n = strtoll(text, NULL, 10);
    static const char units[] = "smhdw";
    static const long long secs[] = {1, 60, 3600, 86400, 604800};
    const char *unit = text[digits] ? strchr(units, text[digits]) : NULL;
    if (text[digits] == '\0') {
        *out = n;
        return CF_OK;
    }
    if (!unit || text[digits + 1] != '\0') {
        if (s_date(text, out))
            return CF_OK;
        return cf_why(why, CF_ERR_INVALID, "--since '%.64s': %s", text, forms);
    }
    long long ago = n * secs[unit - units]; /* at most 10^12 weeks: no overflow */
    *out = ago < now ? now - ago : 0;
    return CF_OK;
}

cf_err_t cf_table_cursor(const json_t *cursor, char *buf, size_t len)
{
    int n = 0;
    buf[0] = '\0';
    if (!cursor || json_is_null(cursor))
        return CF_OK;
    if (json_is_string(cursor))
        n = snprintf(buf, len, "%s", json_string_value(cursor));
    else if (json_is_integer(cursor))
        n = snprintf(buf, len, "%lld", (long long) json_integer_value(cursor));
    else
        return CF_ERR_INVALID;
    if (n < 0 || (size_t) n >= len) {
        buf[0] = '\0';
        return CF_ERR_TOOBIG;
    }
    if (strcmp(buf, "0") == 0)
        buf[0] = '\0';
    return CF_OK;
}

cf_err_t cf_table_parse_switch(const char *text, int *on)
{
    static const char *const yes[] = {"on", "true", "yes", "1"};
    static const char *const no[] = {"off", "false", "no", "0"};
    for (size_t i = 0; text && i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(text, yes[i]) == 0 || strcasecmp(text, no[i]) == 0) {
            *on = strcasecmp(text, yes[i]) == 0;
            return CF_OK;
        }
    }
    return CF_ERR_INVALID;
}
