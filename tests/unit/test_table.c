/*  test_table - cf-console's tables, lock markers, times and argument words (cf_table)  */
#define _XOPEN_SOURCE 700 /* posix_openpt and friends, for a terminal to test colour on */
#include "cf_test.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cf_table lives in console/, which builds only into cf-console: the test compiles it in.
   It needs nothing but libcertfleet and jansson (the commands' shared path, which needs
   the HTTPS client, is console/cf_cli_api.c). */
#include "../../console/cf_table.c"

static const cf_table_col_t s_cols[] = {
    {"AGENT", CF_TABLE_LEFT}, {"LAST CONNECTED", CF_TABLE_LEFT}, {"DAYS", CF_TABLE_RIGHT}};

/* Print t into a new string (free). */
static char *s_print(const cf_table_t *t, cf_err_t want)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(cf_table_print(t, f), want);
    fclose(f);
    return buf;
}

static void s_expect(const cf_table_t *t, const char *want)
{
    char *got = s_print(t, CF_OK);
    if (strcmp(got, want) != 0)
        fail_msg("table:\n%s\nwanted:\n%s", got, want);
    free(got);
}

static void test_usage(void **state)
{
    (void) state;
    char when[CF_TABLE_TIME_MAX];
    cf_table_t *t = cf_table_new(s_cols, 3, 0);
    assert_non_null(t);
    assert_int_equal(cf_table_add(t, "agent-7"), CF_OK);
    assert_int_equal(cf_table_add_lock(t, "secure", cf_table_time(1764177453, when, sizeof(when))),
                     CF_OK);
    assert_int_equal(cf_table_addf(t, "%d", 5), CF_OK);
    assert_int_equal(cf_table_add(t, "a"), CF_OK);
    assert_int_equal(cf_table_add_lock(t, "attention", "never"), CF_OK);
    assert_int_equal(cf_table_add(t, NULL), CF_OK); /* no value: "-" */
    assert_int_equal(cf_table_rows(t), 2);
    s_expect(t, "AGENT    LAST CONNECTED                  DAYS\n"
                "agent-7  secure    2025-11-26 17:17 UTC     5\n"
                "a        attention never                    -\n");
    cf_table_destroy(&t);
    assert_null(t);
    cf_table_destroy(&t); /* safe to repeat */
}

static void test_alignment(void **state)
{
    (void) state;
    static const cf_table_col_t cols[] = {
        {"N", CF_TABLE_RIGHT}, {"NAME", CF_TABLE_LEFT}, {"X", CF_TABLE_LEFT}};
    cf_table_t *t = cf_table_new(cols, 3, 0);
    /* widths count characters, not bytes: "süd" is three */
    assert_int_equal(cf_table_add(t, "12345"), CF_OK);
    assert_int_equal(cf_table_add(t, "s\xc3\xbc"
                                     "d"),
                     CF_OK);
    assert_int_equal(cf_table_add(t, "end"), CF_OK);
    assert_int_equal(cf_table_add(t, "7"), CF_OK);
    assert_int_equal(cf_table_add(t, "nord"), CF_OK);
    assert_int_equal(cf_table_add(t, ""), CF_OK);
    s_expect(t, "    N  NAME  X\n"
                "12345  s\xc3\xbc"
                "d   end\n"
                "    7  nord\n"); /* no blanks at the end of a line */
    cf_table_destroy(&t);

    /* no header at all when every header is NULL (key/value views) */
    static const cf_table_col_t kv[] = {{NULL, CF_TABLE_LEFT}, {NULL, CF_TABLE_LEFT}};
    t = cf_table_new(kv, 2, 0);
    assert_int_equal(cf_table_kv(t, "SSL", "%s", "enabled"), CF_OK);
    assert_int_equal(cf_table_kv(t, "Minimum TLS version", "%d.%d", 1, 2), CF_OK);
    s_expect(t, "SSL                  enabled\n"
                "Minimum TLS version  1.2\n");
    cf_table_destroy(&t);
}

static void test_hostile_text(void **state)
{
    (void) state;
    static const cf_table_col_t one[] = {{NULL, CF_TABLE_LEFT}};
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"\033[2Jwiped", "?[2Jwiped"},  /* ESC: no terminal control from a server */
        {"a\rb\nc\td\x7f", "a?b?c?d?"}, /* C0 and DEL */
        {"\xc2\x9b"
         "31m",
         "?"
         "?31m"}, /* C1 CSI (U+009B) in UTF-8 */
        {"\x9b"
         "31m",
         "?31m"},                                                 /* a lone C1 byte */
        {"\xc0\xaf", "??"},                                       /* overlong '/' */
        {"\xed\xa0\x80", "???"},                                  /* surrogate */
        {"\xe2\x82", "??"},                                       /* truncated sequence */
        {"\xf4\x90\x80\x80", "????"},                             /* past U+10FFFF */
        {"caf\xc3\xa9 \xe2\x9c\x93", "caf\xc3\xa9 \xe2\x9c\x93"}, /* good UTF-8 stays */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cf_table_t *t = cf_table_new(one, 1, 1);
        char want[64];
        assert_int_equal(cf_table_add(t, cases[i].in), CF_OK);
        snprintf(want, sizeof(want), "%s\n", cases[i].out);
        s_expect(t, want);
        cf_table_destroy(&t);
    }
    /* an unknown lock state is shown as given, made harmless, without colour */
    cf_table_t *t = cf_table_new(one, 1, 1);
    assert_int_equal(cf_table_add_lock(t, "odd\033]0;x\a", "later"), CF_OK);
    s_expect(t, "odd?]0;x? later\n");
    cf_table_destroy(&t);
}

static void test_lock_markers(void **state)
{
    (void) state;
    static const cf_table_col_t cols[] = {{"LOCK", CF_TABLE_LEFT}, {"ID", CF_TABLE_LEFT}};
    static const char *const states[] = {"secure", "attention", "insecure", "expired"};
    static const char *const colours[] = {"\033[32m", "\033[33m", "\033[31m", "\033[1;31m"};
    cf_table_t *plain = cf_table_new(cols, 2, 0);
    cf_table_t *colour = cf_table_new(cols, 2, 1);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(cf_table_add_lock(plain, states[i], NULL), CF_OK);
        assert_int_equal(cf_table_add(plain, "x"), CF_OK);
        assert_int_equal(cf_table_add_lock(colour, states[i], NULL), CF_OK);
        assert_int_equal(cf_table_add(colour, "x"), CF_OK);
    }
    s_expect(plain, "LOCK       ID\nsecure     x\nattention  x\ninsecure   x\nexpired    x\n");
    char *out = s_print(colour, CF_OK);
    for (size_t i = 0; i < 4; i++) {
        char want[64];
        snprintf(want, sizeof(want), "%s", colours[i]);
        assert_non_null(strstr(out, want));
    }
    /* the marker takes two columns, its colour codes none: every "x" lines up */
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        if (line == out) {
            assert_int_equal(cf_table_width(line), strlen("  attention  ID"));
            continue;
        }
        assert_int_equal(cf_table_width(line), strlen("  attention  x"));
        assert_int_equal(line[strlen(line) - 1], 'x');
    }
    free(out);
    cf_table_destroy(&plain);
    cf_table_destroy(&colour);
    assert_int_equal(cf_table_width("\033[32m\xe2\x97\x8f\033[0m ok"), 4);
    assert_int_equal(cf_table_width("\033[32"), 0); /* an unfinished code takes no room */
}

static void test_caps_and_misuse(void **state)
{
    (void) state;
    static const cf_table_col_t one[] = {{"A", CF_TABLE_LEFT}};
    char *big = malloc(CF_TABLE_MAX_CELL + 2);
    memset(big, 'x', CF_TABLE_MAX_CELL + 1);
    big[CF_TABLE_MAX_CELL + 1] = '\0';
    cf_table_t *t = cf_table_new(one, 1, 0);
    assert_int_equal(cf_table_add(t, big), CF_ERR_TOOBIG);
    /* the first failure sticks: nothing more is added and the table is not printed */
    assert_int_equal(cf_table_add(t, "ok"), CF_ERR_TOOBIG);
    assert_int_equal(cf_table_add_lock(t, "secure", NULL), CF_ERR_TOOBIG);
    assert_int_equal(cf_table_rows(t), 0);
    free(s_print(t, CF_ERR_TOOBIG));
    cf_table_destroy(&t);

    big[CF_TABLE_MAX_CELL] = '\0'; /* exactly at the cap: taken */
    t = cf_table_new(one, 1, 0);
    assert_int_equal(cf_table_add(t, big), CF_OK);
    assert_int_equal(cf_table_addf(t, "%s!", big), CF_ERR_TOOBIG);
    cf_table_destroy(&t);
    t = cf_table_new(one, 1, 0);
    assert_int_equal(cf_table_add_lock(t, "secure", big), CF_ERR_TOOBIG);
    cf_table_destroy(&t);
    t = cf_table_new(one, 1, 0);
    assert_int_equal(cf_table_kv(t, "k", "%s", big), CF_OK); /* 1 column: key, value rows */
    cf_table_destroy(&t);
    free(big);

    /* a row left half full is refused */
    t = cf_table_new(s_cols, 3, 0);
    assert_int_equal(cf_table_add(t, "one"), CF_OK);
    free(s_print(t, CF_ERR_INVALID));
    cf_table_destroy(&t);

    /* at most CF_TABLE_MAX_ROWS rows */
    t = cf_table_new(one, 1, 0);
    for (size_t i = 0; i < CF_TABLE_MAX_ROWS; i++) {
        if (cf_table_add(t, "r") != CF_OK)
            fail_msg("row %zu refused", i);
    }
    assert_int_equal(cf_table_add(t, "r"), CF_ERR_TOOBIG);
    assert_int_equal(cf_table_rows(t), CF_TABLE_MAX_ROWS);
    cf_table_destroy(&t);
}

static void test_alloc_failures(void **state)
{
    (void) state;
    for (long n = 0;; n++) {
        cf_test_alloc_fail_at(n);
        cf_table_t *t = cf_table_new(s_cols, 3, 1);
        cf_err_t rc = t ? CF_OK : CF_ERR_NOMEM;
        for (int row = 0; rc == CF_OK && row < 20; row++) { /* past the first growth */
            rc = cf_table_add(t, "agent");
            if (rc == CF_OK)
                rc = cf_table_add_lock(t, "secure", "2025-11-26 17:17 UTC");
            if (rc == CF_OK)
                rc = cf_table_kv(t, "1", "%d", row); /* ends this row, starts the next */
            if (rc == CF_OK)
                rc = cf_table_add(t, "x");
            if (rc == CF_OK)
                rc = cf_table_add(t, "y");
        }
        long failed = cf_test_alloc_failed();
        cf_test_alloc_fail_at(-1);
        if (t && rc != CF_OK) /* the failure stuck */
            free(s_print(t, CF_ERR_NOMEM));
        cf_table_destroy(&t);
        if (!failed) {
            assert_int_equal(rc, CF_OK);
            break;
        }
        assert_int_equal(rc, CF_ERR_NOMEM);
    }
}

static void test_times(void **state)
{
    (void) state;
    char buf[CF_TABLE_TIME_MAX];
    assert_string_equal(cf_table_time(0, buf, sizeof(buf)), "never");
    assert_string_equal(cf_table_time(-5, buf, sizeof(buf)), "never");
    assert_string_equal(cf_table_time(1, buf, sizeof(buf)), "1970-01-01 00:00 UTC");
    assert_string_equal(cf_table_time(1709164800, buf, sizeof(buf)), "2024-02-29 00:00 UTC");

    static const struct {
        const char *text;
        long long want;
    } ok[] = {
        {"0", 0},
        {"1764177453", 1764177453},
        {"90s", 1000000 - 90},
        {"15m", 1000000 - 900},
        {"24h", 1000000 - 86400},
        {"7d", 1000000 - 604800},
        {"1w", 1000000 - 604800},
        {"999999w", 0}, /* before 1970: from the start */
        {"1970-01-01", 0},
        {"2024-02-29", 1709164800},
        {"2025-11-26T17:17Z", 1764177420},
        {"2025-11-26T17:17:33", 1764177453},
        {"2025-11-26 17:17:33Z", 1764177453},
        {"2000-03-01", 951868800},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        long long got = -1;
        cf_why_t why = {""};
        if (cf_table_parse_since(ok[i].text, 1000000, &got, &why) != CF_OK || got != ok[i].want)
            fail_msg("'%s': %lld (wanted %lld) %s", ok[i].text, got, ok[i].want, why.text);
    }
    static const char *const bad[] = {
        "",
        "x",
        "-5",
        "5y",
        "5 d",
        "7dd",
        "2023-02-29",
        "2025-13-01",
        "2025-00-10",
        "2025-04-31",
        "1969-12-31",
        "2025-11-26T24:00",
        "2025-11-26T10",
        "2025-11-26T10:60",
        "2025-11-26T10:00:60",
        "2025-11-26Z+1",
        "25-11-26",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        long long got = 0;
        cf_why_t why = {""};
        if (cf_table_parse_since(bad[i], 1000000, &got, &why) != CF_ERR_INVALID)
            fail_msg("'%s' was taken", bad[i]);
        assert_non_null(strstr(why.text, "UTC date"));
    }
    long long got = 0;
    assert_int_equal(cf_table_parse_since(NULL, 0, &got, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_table_parse_since("1234567890123", 0, &got, NULL), CF_ERR_TOOBIG);
    char long_text[80];
    memset(long_text, '1', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    assert_int_equal(cf_table_parse_since(long_text, 0, &got, NULL), CF_ERR_TOOBIG);
}

static void test_words(void **state)
{
    (void) state;
    static const char *const on[] = {"on", "ON", "true", "yes", "1"};
    static const char *const off[] = {"off", "Off", "false", "no", "0"};
    int v = -1;
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(cf_table_parse_switch(on[i], &v), CF_OK);
        assert_int_equal(v, 1);
        assert_int_equal(cf_table_parse_switch(off[i], &v), CF_OK);
        assert_int_equal(v, 0);
    }
    v = 7;
    assert_int_equal(cf_table_parse_switch("enable", &v), CF_ERR_INVALID);
    assert_int_equal(cf_table_parse_switch("", &v), CF_ERR_INVALID);
    assert_int_equal(cf_table_parse_switch(NULL, &v), CF_ERR_INVALID);
    assert_int_equal(v, 7);
}

static void test_cursor(void **state)
{
    (void) state;
    char buf[16];
    static const char *const done[] = {"null", "\"\"", "\"0\"", "0"};
    for (size_t i = 0; i < 4; i++) {
        json_t *j = json_loads(done[i], JSON_DECODE_ANY, NULL);
        assert_int_equal(cf_table_cursor(j, buf, sizeof(buf)), CF_OK);
        assert_string_equal(buf, "");
        json_decref(j);
    }
    assert_int_equal(cf_table_cursor(NULL, buf, sizeof(buf)), CF_OK);
    assert_string_equal(buf, "");
    json_t *j = json_string("1764-3");
    assert_int_equal(cf_table_cursor(j, buf, sizeof(buf)), CF_OK);
    assert_string_equal(buf, "1764-3");
    json_decref(j);
    j = json_integer(42);
    assert_int_equal(cf_table_cursor(j, buf, sizeof(buf)), CF_OK);
    assert_string_equal(buf, "42");
    json_decref(j);
    j = json_string("0123456789abcdef"); /* 16 bytes do not fit 15 + NUL */
    assert_int_equal(cf_table_cursor(j, buf, sizeof(buf)), CF_ERR_TOOBIG);
    assert_string_equal(buf, "");
    json_decref(j);
    j = json_object();
    assert_int_equal(cf_table_cursor(j, buf, sizeof(buf)), CF_ERR_INVALID);
    json_decref(j);
}

static void test_colour_choice(void **state)
{
    (void) state;
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(cf_table_colour(f), 0); /* a file is no terminal */
    fclose(f);
    /* a terminal (a pseudo-terminal's far end): colour unless NO_COLOR is set non-empty */
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    assert_true(master >= 0);
    assert_int_equal(grantpt(master), 0);
    assert_int_equal(unlockpt(master), 0);
    FILE *tty = fopen(ptsname(master), "w");
    assert_non_null(tty);
    const char *saved = getenv("NO_COLOR");
    char *keep = saved ? strdup(saved) : NULL;
    unsetenv("NO_COLOR");
    assert_int_equal(cf_table_colour(tty), 1);
    setenv("NO_COLOR", "", 1);
    assert_int_equal(cf_table_colour(tty), 1); /* no-color.org: set and not empty */
    setenv("NO_COLOR", "1", 1);
    assert_int_equal(cf_table_colour(tty), 0);
    if (keep)
        setenv("NO_COLOR", keep, 1);
    else
        unsetenv("NO_COLOR");
    free(keep);
    fclose(tty);
    close(master);
}

static void test_days_left(void **state)
{
    (void) state;
    char buf[CF_TABLE_DAYS_MAX];
    /* days_left as the API gives it (whole days, rounded down) with its expired flag */
    assert_string_equal(cf_table_days_left(30, 0, buf, sizeof(buf)), "30 days");
    assert_string_equal(cf_table_days_left(1, 0, buf, sizeof(buf)), "1 day");
    assert_string_equal(cf_table_days_left(0, 0, buf, sizeof(buf)), "under a day");
    assert_string_equal(cf_table_days_left(0, 1, buf, sizeof(buf)), "expired today");
    assert_string_equal(cf_table_days_left(-1, 1, buf, sizeof(buf)), "expired today");
    assert_string_equal(cf_table_days_left(-2, 1, buf, sizeof(buf)), "expired 1 day ago");
    assert_string_equal(cf_table_days_left(-31, 1, buf, sizeof(buf)), "expired 30 days ago");
    assert_string_equal(cf_table_days_left(-9000000000000000000LL, 1, buf, sizeof(buf)),
                        "expired 8999999999999999999 days ago");
    assert_string_equal(cf_table_days_left(LLONG_MIN, 1, buf, sizeof(buf)),
                        "expired 9223372036854775807 days ago");
    /* the cells: colour by urgency only on a colour table; the words line up either way */
    static const cf_table_col_t cols[] = {{"LEFT", CF_TABLE_LEFT}, {"ID", CF_TABLE_LEFT}};
    cf_table_t *plain = cf_table_new(cols, 2, 0), *colour = cf_table_new(cols, 2, 1);
    const long long days[] = {-3, 3, 20, 90};
    const char *const ansi[] = {"\033[1;31mexpired 2 days ago\033[0m", "\033[31m3 days\033[0m",
                                "\033[33m20 days\033[0m", NULL};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(cf_table_add_expiry(plain, days[i], days[i] < 0), CF_OK);
        assert_int_equal(cf_table_add(plain, "x"), CF_OK);
        assert_int_equal(cf_table_add_expiry(colour, days[i], days[i] < 0), CF_OK);
        assert_int_equal(cf_table_add(colour, "x"), CF_OK);
    }
    s_expect(plain, "LEFT                ID\nexpired 2 days ago  x\n3 days              x\n"
                    "20 days             x\n90 days             x\n");
    char *out = s_print(colour, CF_OK);
    for (size_t i = 0; i < 3; i++)
        assert_non_null(strstr(out, ansi[i]));
    assert_non_null(strstr(out, "\n90 days             x\n")); /* far off: no colour */
    free(out);
    cf_table_destroy(&plain);
    cf_table_destroy(&colour);
}

/* A failed allocation or a full table stops an expiry cell like any other. */
static void test_days_left_failures(void **state)
{
    (void) state;
    static const cf_table_col_t one[] = {{"LEFT", CF_TABLE_LEFT}};
    cf_table_t *t = cf_table_new(one, 1, 1);
    assert_non_null(t);
    cf_test_alloc_fail_at(0); /* the coloured text */
    assert_int_equal(cf_table_add_expiry(t, 2, 0), CF_ERR_NOMEM);
    cf_test_alloc_fail_at(-1);
    assert_int_equal(cf_table_add_expiry(t, 2, 0), CF_ERR_NOMEM); /* the failure sticks */
    assert_int_equal(cf_table_add_expiry(t, 90, 0), CF_ERR_NOMEM);
    cf_table_destroy(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),           cmocka_unit_test(test_alignment),
        cmocka_unit_test(test_hostile_text),    cmocka_unit_test(test_lock_markers),
        cmocka_unit_test(test_caps_and_misuse), cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_times),           cmocka_unit_test(test_words),
        cmocka_unit_test(test_cursor),          cmocka_unit_test(test_colour_choice),
        cmocka_unit_test(test_days_left),       cmocka_unit_test(test_days_left_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
