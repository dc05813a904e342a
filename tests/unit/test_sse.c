/*  test_sse - the server-sent events parser: fields, line ends, splits, caps, ids, errors  */
#include "cf_test.h"

#include <stdio.h>
#include <string.h>

#include "cf_mem.h"
#include "cf_sse.h"

#define S_MAX_SEEN 16

/* What the callback saw. */
typedef struct {
    size_t n;                   /* events */
    char type[S_MAX_SEEN][80];  /* their types */
    char data[S_MAX_SEEN][256]; /* their data */
    size_t len[S_MAX_SEEN];     /* their data lengths */
    char id[S_MAX_SEEN][160];   /* the last id at each */
    int stop_at;                /* answer CF_ERR_STATE at this event (1-based), 0 never */
} s_seen_t;

static cf_err_t s_on_event(void *arg, const cf_sse_event_t *ev)
{
    s_seen_t *s = arg;
    if (s->n < S_MAX_SEEN) {
        snprintf(s->type[s->n], sizeof(s->type[0]), "%s", ev->type);
        snprintf(s->data[s->n], sizeof(s->data[0]), "%s", ev->data);
        snprintf(s->id[s->n], sizeof(s->id[0]), "%s", ev->id);
        s->len[s->n] = ev->data_len;
    }
    s->n++;
    return s->stop_at && (int) s->n == s->stop_at ? CF_ERR_STATE : CF_OK;
}

static cf_sse_t *s_new(s_seen_t *seen, size_t max)
{
    memset(seen, 0, sizeof(*seen));
    cf_sse_t *p = NULL;
    assert_int_equal(cf_sse_new(max, s_on_event, seen, &p), CF_OK);
    return p;
}

static void s_feed(cf_sse_t *p, const char *text)
{
    assert_int_equal(cf_sse_feed(p, text, strlen(text)), CF_OK);
}

static void test_usage(void **state)
{
    (void) state;
    s_seen_t seen;
    cf_sse_t *p = s_new(&seen, 4096);
    s_feed(p, "event: job\ndata: {\"id\":\"j\"}\n\n"
              "id: 1700000000000-0\nevent: change\ndata: {\"agent\":\"a1\"}\n\n"
              ": keep-alive\n\n");
    assert_int_equal(seen.n, 2);
    assert_string_equal(seen.type[0], "job");
    assert_string_equal(seen.data[0], "{\"id\":\"j\"}");
    assert_string_equal(seen.id[0], "");
    assert_string_equal(seen.type[1], "change");
    assert_string_equal(seen.id[1], "1700000000000-0");
    assert_string_equal(cf_sse_last_id(p), "1700000000000-0"); /* for Last-Event-ID */
    cf_sse_destroy(&p);
    assert_null(p);
    cf_sse_destroy(&p); /* safe to repeat */
}

static void test_fields(void **state)
{
    (void) state;
    s_seen_t seen;
    cf_sse_t *p = s_new(&seen, 4096);
    /* several data lines join with \n; no space after the colon; only one space dropped */
    s_feed(p, "data:one\ndata:  two\ndata\n\n");
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.type[0], "message");
    assert_string_equal(seen.data[0], "one\n two\n");
    assert_int_equal(seen.len[0], 9);
    /* no data: nothing dispatched, the type is forgotten */
    s_feed(p, "event: lonely\n\ndata: x\n\n");
    assert_int_equal(seen.n, 2);
    assert_string_equal(seen.type[1], "message");
    /* unknown fields and comments are ignored; retry takes digits only */
    s_feed(p, "foo: bar\n:comment\nretry: 1500\nretry: 9x\ndata: y\n\n");
    assert_int_equal(seen.n, 3);
    assert_int_equal(cf_sse_retry(p), 1500);
    /* an empty id: field clears the id */
    s_feed(p, "id: 7\ndata: a\n\nid\ndata: b\n\n");
    assert_string_equal(seen.id[3], "7");
    assert_string_equal(seen.id[4], "");
    /* a trailing event without its blank line is not dispatched */
    s_feed(p, "data: pending");
    assert_int_equal(seen.n, 5);
    cf_sse_destroy(&p);
}

static void test_line_ends_and_splits(void **state)
{
    (void) state;
    const char *text = "\xEF\xBB\xBFid: 42\r\nevent: job\rdata: a\r\n\r\n"
                       "data: b\n\n";
    size_t len = strlen(text);
    /* every split point gives the same two events */
    for (size_t cut = 0; cut <= len; cut++) {
        s_seen_t seen;
        cf_sse_t *p = s_new(&seen, 64);
        assert_int_equal(cf_sse_feed(p, text, cut), CF_OK);
        assert_int_equal(cf_sse_feed(p, text + cut, len - cut), CF_OK);
        assert_int_equal(seen.n, 2);
        assert_string_equal(seen.type[0], "job");
        assert_string_equal(seen.data[0], "a");
        assert_string_equal(seen.id[0], "42");
        assert_string_equal(seen.data[1], "b");
        cf_sse_destroy(&p);
    }
    /* byte by byte */
    s_seen_t seen;
    cf_sse_t *p = s_new(&seen, 64);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(cf_sse_feed(p, text + i, 1), CF_OK);
    assert_int_equal(seen.n, 2);
    /* a BOM only at the start: later it is text of a field name */
    s_feed(p, "\xEF\xBB\xBF"
              "data: c\n\n");
    assert_int_equal(seen.n, 2);
    cf_sse_destroy(&p);
    /* half a BOM is text */
    p = s_new(&seen, 64);
    s_feed(p, "\xEF\xBB"
              "data: d\n\ndata: e\n\n");
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.data[0], "e");
    cf_sse_destroy(&p);
}

static void test_caps(void **state)
{
    (void) state;
    s_seen_t seen;
    char big[200];
    memset(big, 'x', sizeof(big));
    /* a line over the cap, even in pieces */
    cf_sse_t *p = s_new(&seen, 16);
    assert_int_equal(cf_sse_feed(p, "data: 0123456789", 16), CF_OK);
    assert_int_equal(cf_sse_feed(p, "a", 1), CF_ERR_TOOBIG);
    assert_int_equal(cf_sse_feed(p, "\n\n", 2), CF_ERR_TOOBIG); /* broken until reset */
    cf_sse_reset(p);
    s_feed(p, "data: ok\n\n");
    assert_int_equal(seen.n, 1);
    /* an event's data over the cap across lines */
    s_feed(p, "data: 0123456789\n");
    assert_int_equal(cf_sse_feed(p, "data: 0123456789\n", 17), CF_ERR_TOOBIG);
    cf_sse_destroy(&p);
    /* a type or an id over its cap */
    p = s_new(&seen, 1024);
    char line[300];
    snprintf(line, sizeof(line), "event: %.*s\n", CF_SSE_MAX_TYPE + 1, big);
    assert_int_equal(cf_sse_feed(p, line, strlen(line)), CF_ERR_TOOBIG);
    cf_sse_reset(p);
    snprintf(line, sizeof(line), "id: %.*s\n", CF_SSE_MAX_ID + 1, big);
    assert_int_equal(cf_sse_feed(p, line, strlen(line)), CF_ERR_TOOBIG);
    cf_sse_reset(p);
    snprintf(line, sizeof(line), "id: %.*s\ndata: z\n\n", CF_SSE_MAX_ID, big);
    s_feed(p, line);
    assert_int_equal(strlen(cf_sse_last_id(p)), CF_SSE_MAX_ID);
    /* an id holding NUL is ignored; the earlier one stays */
    assert_int_equal(cf_sse_feed(p, "id: a\0b\ndata: w\n\n", 17), CF_OK);
    assert_int_equal(strlen(cf_sse_last_id(p)), CF_SSE_MAX_ID);
    cf_sse_destroy(&p);
}

static void test_refusals(void **state)
{
    (void) state;
    s_seen_t seen;
    cf_sse_t *p = NULL;
    assert_int_equal(cf_sse_new(0, s_on_event, &seen, &p), CF_ERR_INVALID);
    assert_int_equal(cf_sse_new(CF_SSE_MAX_EVENT + 1, s_on_event, &seen, &p), CF_ERR_INVALID);
    assert_int_equal(cf_sse_new(16, NULL, &seen, &p), CF_ERR_INVALID);
    assert_null(p);
    p = s_new(&seen, 64);
    assert_int_equal(cf_sse_feed(p, NULL, 1), CF_ERR_INVALID);
    assert_int_equal(cf_sse_feed(p, NULL, 0), CF_OK);
    /* the callback's error stops the feed where it was */
    seen.stop_at = 1;
    assert_int_equal(cf_sse_feed(p, "data: a\n\ndata: b\n\n", 18), CF_ERR_STATE);
    assert_int_equal(seen.n, 1);
    /* a reset keeps the id and forgets the partial event */
    s_feed(p, "id: 9\ndata: partial\n");
    cf_sse_reset(p);
    s_feed(p, "\n");
    assert_int_equal(seen.n, 1);
    assert_string_equal(cf_sse_last_id(p), "9");
    cf_sse_destroy(&p);
}

static void test_alloc_failures(void **state)
{
    (void) state;
    s_seen_t seen;
    for (long n = 0; n < 3; n++) {
        cf_sse_t *p = NULL;
        cf_test_alloc_fail_at(n);
        assert_int_equal(cf_sse_new(64, s_on_event, &seen, &p), CF_ERR_NOMEM);
        assert_null(p);
    }
    cf_test_alloc_fail_at(-1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_line_ends_and_splits),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
