/*  test_agent_trim - giving memory back: the running process keeps working (another thread
    included) and its RSS does not grow; freed heap goes back; the smaps scan and refusals  */
#include "cf_test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "cf_agent_metrics.h"
#include "cf_agent_trim.h"
#include "cf_mem.h"

#if defined(__SANITIZE_ADDRESS__)
#define S_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define S_ASAN 1
#endif
#endif
#ifndef S_ASAN
#define S_ASAN 0 /* malloc is glibc's (ASan's allocator ignores malloc_trim) */
#endif

/* Work done with code of this binary: the metrics text of a fixed snapshot. */
static size_t s_work(char buf[CF_AGENT_METRICS_MAX])
{
    cf_agent_metrics_t m = {.checkins_ok = 3, .cert_expiry = 1795706000, .link_up = 1};
    size_t len = 0;
    if (cf_agent_metrics_format(&m, buf, CF_AGENT_METRICS_MAX, &len) != CF_OK)
        return 0;
    return len;
}

typedef struct {
    atomic_int stop;                 /* main thread: done */
    atomic_long rounds;              /* rounds of work done */
    atomic_int mismatch;             /* a round gave another text */
    long target;                     /* rounds s_rounds_reached waits for */
    char want[CF_AGENT_METRICS_MAX]; /* the text before any trim */
} s_worker_t;

static void *s_worker(void *arg)
{
    s_worker_t *w = arg;
    char buf[CF_AGENT_METRICS_MAX];
    while (!atomic_load(&w->stop)) {
        if (s_work(buf) == 0 || strcmp(buf, w->want) != 0)
            atomic_store(&w->mismatch, 1);
        atomic_fetch_add(&w->rounds, 1);
    }
    return NULL;
}

static int s_rounds_reached(void *ctx)
{
    s_worker_t *w = ctx;
    return atomic_load(&w->rounds) >= w->target;
}

/* 1 when the running kernel is at least major.minor. */
static int s_kernel_at_least(int major, int minor)
{
    struct utsname u;
    int ma = 0, mi = 0;
    if (uname(&u) != 0 || sscanf(u.release, "%d.%d", &ma, &mi) != 2)
        return 0;
    return ma > major || (ma == major && mi >= minor);
}

/* Usage: after start-up work, give back what is not needed; the process goes on working
   (a thread runs the binary's code throughout) and its RSS has not grown. */
static void test_usage(void **state)
{
    (void) state;
    s_worker_t w = {0};
    assert_true(s_work(w.want) > 0);
    /* start-up work that leaves free heap behind: 4 MiB in small blocks, freed, with one
       block above them still in use, so free() alone cannot shrink the heap */
    enum { N = 4096 };
    static void *blocks[N];
    for (size_t i = 0; i < N; i++) {
        blocks[i] = cf_mem_malloc(1024);
        assert_non_null(blocks[i]);
        memset(blocks[i], (int) i, 1024);
    }
    void *pin = cf_mem_malloc(64);
    assert_non_null(pin);
    for (size_t i = 0; i < N; i++)
        cf_mem_free(blocks[i]);

    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, s_worker, &w), 0);
    w.target = 100;
    assert_true(cf_test_wait_until(s_rounds_reached, &w, 10000));
    cf_agent_trim_stats_t st;
    cf_why_t why = {""};
    assert_int_equal(cf_agent_trim(&st, &why), CF_OK);
    w.target = atomic_load(&w.rounds) + 100; /* the worker goes on after the trim */
    assert_true(cf_test_wait_until(s_rounds_reached, &w, 10000));
    atomic_store(&w.stop, 1);
    assert_int_equal(pthread_join(t, NULL), 0);
    cf_mem_free(pin);

    assert_false(atomic_load(&w.mismatch));
    assert_true(st.rss_before_kib > 0);
    assert_true(st.rss_after_kib <= st.rss_before_kib);
    assert_true(st.ranges >= 1); /* the binary's code, at least */
    if (!S_ASAN)
        assert_true(st.heap_kib >= 1024); /* most of the 4 MiB went back */
    if (s_kernel_at_least(5, 4))
        assert_int_equal(st.pageout, 1);
    /* the same work, done by this thread now, gives the same text */
    char again[CF_AGENT_METRICS_MAX];
    assert_true(s_work(again) > 0);
    assert_string_equal(again, w.want);
    /* a second trim right away is harmless too, and NULL figures are allowed */
    assert_int_equal(cf_agent_trim(NULL, &why), CF_OK);
}

static const char s_smaps[] =
    "55d0c0000000-55d0c0010000 r--p 00000000 08:01 42      /opt/cf-agent\n"
    "Size:                 64 kB\n"
    "Rss:                  40 kB\n"
    "Anonymous:             0 kB\n"
    "VmFlags: rd mr mw me\n"
    "55d0c0010000-55d0c0200000 r-xp 00010000 08:01 42      /opt/cf-agent\n"
    "Rss:                 900 kB\n"
    "Anonymous:             0 kB\n"
    "55d0c0200000-55d0c0260000 r--p 00200000 08:01 42      /opt/cf-agent\n"
    "Rss:                 380 kB\n"
    "Anonymous:           376 kB\n"
    "55d0c0260000-55d0c0270000 rw-p 00260000 08:01 42      /opt/cf-agent\n"
    "Rss:                  12 kB\n"
    "Anonymous:            12 kB\n"
    "55d0c1000000-55d0c1100000 rw-p 00000000 00:00 0       [heap]\n"
    "Rss:                 800 kB\n"
    "7f0000000000-7f0000100000 r-xp 00000000 08:01 43      /usr/lib/libc.so.6\n"
    "Rss:                1600 kB\n"
    "Anonymous:             0 kB\n"
    "7f0000200000-7f0000210000 r-xp 00000000 08:02 42      /mnt/other\n"
    "Rss:                  64 kB\n";

/* The scan keeps the binary's read-only mappings without relocated pages, and only
   those: not its writable data, not its RELRO pages, not another file or device. */
static void test_scan(void **state)
{
    (void) state;
    char dir[512], path[600];
    cf_test_tmpdir("agent_trim", dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/smaps", dir);
    cf_test_write_file(path, s_smaps, sizeof(s_smaps) - 1);
    cf_agent_trim_scan_t sc;
    cf_why_t why = {""};
    assert_int_equal(cf_agent_trim_scan(path, 8, 1, 42, &sc, &why), CF_OK);
    assert_int_equal(sc.n, 2);
    assert_int_equal(sc.ranges[0].start, (uintptr_t) 0x55d0c0000000ULL);
    assert_int_equal(sc.ranges[0].end, (uintptr_t) 0x55d0c0010000ULL);
    assert_int_equal(sc.ranges[1].start, (uintptr_t) 0x55d0c0010000ULL);
    assert_int_equal(sc.rss_kib, 940);
    assert_int_equal(sc.skipped, 2);
    /* the last mapping of a file without a trailing newline still counts */
    cf_test_write_file(path, s_smaps, sizeof(s_smaps) - 2);
    assert_int_equal(cf_agent_trim_scan(path, 8, 2, 42, &sc, &why), CF_OK);
    assert_int_equal(sc.n, 1);
    assert_int_equal(sc.rss_kib, 64);
    /* nothing of a file not mapped */
    assert_int_equal(cf_agent_trim_scan(path, 8, 1, 7, &sc, &why), CF_OK);
    assert_int_equal(sc.n, 0);
    assert_int_equal(sc.rss_kib, 0);
}

static void test_refusals(void **state)
{
    (void) state;
    char dir[512], path[600];
    cf_test_tmpdir("agent_trim_bad", dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/smaps", dir);
    cf_agent_trim_scan_t sc;
    cf_why_t why = {""};
    assert_int_equal(cf_agent_trim_scan(NULL, 0, 0, 1, &sc, &why), CF_ERR_INVALID);
    assert_int_equal(cf_agent_trim_scan(path, 0, 0, 1, NULL, &why), CF_ERR_INVALID);
    assert_int_equal(cf_agent_trim_scan(path, 0, 0, 1, &sc, &why), CF_ERR_IO); /* no file */
    assert_non_null(strstr(why.text, "smaps"));

    static const char garbage[] = "not a mapping at all\nRss: 4 kB\n";
    cf_test_write_file(path, garbage, sizeof(garbage) - 1);
    assert_int_equal(cf_agent_trim_scan(path, 8, 1, 42, &sc, &why), CF_ERR_CORRUPT);

    static char long_line[CF_AGENT_TRIM_LINE_MAX + 64];
    memset(long_line, 'a', sizeof(long_line) - 1);
    long_line[sizeof(long_line) - 1] = '\n';
    cf_test_write_file(path, long_line, sizeof(long_line));
    assert_int_equal(cf_agent_trim_scan(path, 8, 1, 42, &sc, &why), CF_ERR_TOOBIG);

    /* more mappings of the binary than it can hold */
    char many[64 * (CF_AGENT_TRIM_RANGES_MAX + 1)] = "";
    for (int i = 0; i <= CF_AGENT_TRIM_RANGES_MAX; i++) {
        char row[64];
        snprintf(row, sizeof(row), "%x000-%x000 r--p 00000000 08:01 42 /x\n", 2 * i + 1, 2 * i + 2);
        strcat(many, row);
    }
    cf_test_write_file(path, many, strlen(many));
    assert_int_equal(cf_agent_trim_scan(path, 8, 1, 42, &sc, &why), CF_ERR_TOOBIG);
    /* the same rows as another file's are fine */
    assert_int_equal(cf_agent_trim_scan(path, 8, 1, 43, &sc, &why), CF_OK);
    assert_int_equal(sc.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_scan),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
