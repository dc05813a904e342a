/*  test_https_mem - libevent's allocator: size classes, the per-thread cache, realloc, threads  */
#include "cf_test.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "cf_https_mem.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

static void s_fill(unsigned char *p, size_t n, unsigned char seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char) (seed + i * 7);
}

static int s_same(const unsigned char *p, size_t n, unsigned char seed)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != (unsigned char) (seed + i * 7))
            return 0;
    }
    return 1;
}

/* Usage: a freed block waits in this thread's cache and serves the next request of its
   size class, without the C allocator. */
static void test_usage(void **state)
{
    (void) state;
    cf_https_mem_trim();
    char *a = cf_https_mem_alloc(100);
    assert_non_null(a);
    memcpy(a, "hello", 6);
    cf_https_mem_free(a);
    assert_int_equal(cf_https_mem_cached(), 112); /* 100 bytes live in the 112-byte class */
    cf_test_alloc_fail_at(0);                     /* the C allocator would fail now */
    char *b = cf_https_mem_alloc(97);
    cf_test_alloc_fail_at(-1);
    assert_ptr_equal(a, b);
    assert_int_equal(cf_https_mem_cached(), 0);
    cf_https_mem_free(b);
    cf_https_mem_trim();
    assert_int_equal(cf_https_mem_cached(), 0);
}

/* Every size up to past the largest class: aligned, fully writable (ASan checks the
   bounds), its bytes kept until freed. */
static void test_every_size_fits_its_block(void **state)
{
    (void) state;
    for (size_t n = 1; n <= CF_HTTPS_MEM_MAX + 64; n++) {
        unsigned char *p = cf_https_mem_alloc(n);
        assert_non_null(p);
        assert_int_equal((uintptr_t) p % 16, 0);
        s_fill(p, n, (unsigned char) n);
        assert_true(s_same(p, n, (unsigned char) n));
        cf_https_mem_free(p);
    }
    cf_https_mem_trim();
}

/* Sizes share a block only within one class: 241..256 do, 257 does not; blocks above the
   largest class are never cached. */
static void test_classes_and_big_blocks(void **state)
{
    (void) state;
    cf_https_mem_trim();
    void *a = cf_https_mem_alloc(256);
    cf_https_mem_free(a);
    void *b = cf_https_mem_alloc(241);
    assert_ptr_equal(a, b);
    cf_https_mem_free(b);
    void *c = cf_https_mem_alloc(257);
    assert_ptr_not_equal(c, a);
    cf_https_mem_free(c);
    size_t cached = cf_https_mem_cached();
    void *big = cf_https_mem_alloc(CF_HTTPS_MEM_MAX + 1);
    assert_non_null(big);
    cf_https_mem_free(big);
    assert_int_equal(cf_https_mem_cached(), cached); /* went straight back */
    cf_https_mem_trim();
}

/* A class keeps at most CF_HTTPS_MEM_CAP bytes (4 blocks at the least); the rest go back. */
static void test_cache_is_capped(void **state)
{
    (void) state;
    cf_https_mem_trim();
    enum { N = 2 * CF_HTTPS_MEM_CAP / 16, M = 2 * CF_HTTPS_MEM_CAP / CF_HTTPS_MEM_MAX + 4 };
    void **p = calloc(N, sizeof(*p));
    assert_non_null(p);
    for (size_t i = 0; i < N; i++)
        assert_non_null(p[i] = cf_https_mem_alloc(16));
    for (size_t i = 0; i < N; i++)
        cf_https_mem_free(p[i]);
    assert_int_equal(cf_https_mem_cached(), CF_HTTPS_MEM_CAP);
    for (size_t i = 0; i < M; i++)
        assert_non_null(p[i] = cf_https_mem_alloc(CF_HTTPS_MEM_MAX));
    for (size_t i = 0; i < M; i++)
        cf_https_mem_free(p[i]);
    size_t per = CF_HTTPS_MEM_CAP / CF_HTTPS_MEM_MAX; /* blocks the largest class keeps */
    per = per < 4 ? 4 : per;
    assert_true(per < M);
    assert_int_equal(cf_https_mem_cached(), CF_HTTPS_MEM_CAP + per * CF_HTTPS_MEM_MAX);
    free(p);
    cf_https_mem_trim();
    assert_int_equal(cf_https_mem_cached(), 0);
}

/* A loop turn of 32 busy connections frees two of libevent's 1 KiB chunks per connection:
   all of them stay cached, so the next turn makes none with malloc. */
static void test_turn_of_chunks_cached(void **state)
{
    (void) state;
    cf_https_mem_trim();
    enum { N = 64 };
    void *p[N];
    for (size_t i = 0; i < N; i++)
        assert_non_null(p[i] = cf_https_mem_alloc(1024));
    for (size_t i = 0; i < N; i++)
        cf_https_mem_free(p[i]);
    assert_int_equal(cf_https_mem_cached(), N * 1024);
    cf_https_mem_trim();
}

/* cf-server gives jansson this allocator too (a parsed body is some 15 small blocks):
   what jansson makes goes back to the cache, json_dumps' text included. */
static void test_jansson_uses_it(void **state)
{
    (void) state;
    cf_https_mem_trim();
    json_set_alloc_funcs(cf_https_mem_alloc, cf_https_mem_free);
    json_error_t err;
    json_t *j = json_loads("{\"id\":\"agent-1\",\"version\":\"0.1.0\",\"protocol\":1}", 0, &err);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "id")), "agent-1");
    char *text = json_dumps(j, JSON_COMPACT);
    assert_non_null(text);
    json_decref(j);
    json_malloc_t jm = NULL;
    json_free_t jf = NULL;
    json_get_alloc_funcs(&jm, &jf);
    jf(text);
    assert_true(cf_https_mem_cached() > 0);
    json_set_alloc_funcs(malloc, free);
    cf_https_mem_trim();
}

/* realloc keeps the bytes across classes and into and out of big blocks; within its
   class the block stays; NULL and 0 behave as alloc and free. */
static void test_realloc_keeps_bytes(void **state)
{
    (void) state;
    unsigned char *p = cf_https_mem_realloc(NULL, 20);
    assert_non_null(p);
    s_fill(p, 20, 1);
    unsigned char *q = cf_https_mem_realloc(p, 32); /* the same 32-byte class */
    assert_ptr_equal(p, q);
    q = cf_https_mem_realloc(q, 300);
    assert_non_null(q);
    assert_true(s_same(q, 20, 1));
    s_fill(q, 300, 2);
    q = cf_https_mem_realloc(q, CF_HTTPS_MEM_MAX + 100); /* small -> big */
    assert_true(s_same(q, 300, 2));
    s_fill(q, CF_HTTPS_MEM_MAX + 100, 3);
    q = cf_https_mem_realloc(q, 3 * CF_HTTPS_MEM_MAX); /* big -> big */
    assert_true(s_same(q, CF_HTTPS_MEM_MAX + 100, 3));
    q = cf_https_mem_realloc(q, 40); /* big -> small */
    assert_true(s_same(q, 40, 3));
    assert_null(cf_https_mem_realloc(q, 0)); /* freed */
    cf_https_mem_trim();
}

/* Zero, overflowing sizes and a short C allocator: NULL, and realloc leaves the block. */
static void test_refusals_and_out_of_memory(void **state)
{
    (void) state;
    cf_https_mem_trim();
    assert_null(cf_https_mem_alloc(0));
    assert_null(cf_https_mem_alloc(SIZE_MAX));
    assert_null(cf_https_mem_alloc(SIZE_MAX - 8));
    cf_https_mem_free(NULL);
    unsigned char *p = cf_https_mem_alloc(64);
    assert_non_null(p);
    s_fill(p, 64, 9);
    assert_null(cf_https_mem_realloc(p, SIZE_MAX));
    cf_test_alloc_fail_at(0);
    assert_null(cf_https_mem_realloc(p, 5000)); /* needs a new block: none to be had */
    assert_int_equal(cf_test_alloc_failed(), 1);
    cf_test_alloc_fail_at(0);
    assert_null(cf_https_mem_alloc(700)); /* nothing cached in that class */
    cf_test_alloc_fail_at(-1);
    assert_true(s_same(p, 64, 9));
    cf_https_mem_free(p);
    cf_https_mem_trim();
}

#if defined(__SANITIZE_ADDRESS__)
/* A cached block is poisoned: a use after free still fails under ASan. */
static void test_cached_block_is_poisoned(void **state)
{
    (void) state;
    char *p = cf_https_mem_alloc(48);
    assert_false(__asan_address_is_poisoned(p));
    cf_https_mem_free(p);
    assert_true(__asan_address_is_poisoned(p));
    assert_true(__asan_address_is_poisoned(p + 47));
    char *q = cf_https_mem_alloc(48);
    assert_ptr_equal(p, q);
    assert_false(__asan_address_is_poisoned(q + 47));
    cf_https_mem_free(q);
    cf_https_mem_trim();
}
#endif

typedef struct {
    void *in[64];  /* blocks made by the main thread, freed by the worker */
    int cached_ok; /* the worker's cache held them */
    int reused_ok; /* and served its own allocation */
} s_thread_t;

static void *s_thread(void *arg)
{
    s_thread_t *t = arg;
    for (size_t i = 0; i < 64; i++)
        cf_https_mem_free(t->in[i]);
    t->cached_ok = cf_https_mem_cached() == 64 * 128;
    void *mine = cf_https_mem_alloc(128);
    t->reused_ok = mine == t->in[63];
    cf_https_mem_free(mine);
    return NULL; /* the exit hook gives the cache back (LeakSanitizer checks it) */
}

/* A block freed on another thread joins that thread's cache; the thread's exit empties
   it, and the thread that made the blocks keeps nothing. */
static void test_blocks_move_between_threads(void **state)
{
    (void) state;
    cf_https_mem_trim();
    s_thread_t t = {{0}, 0, 0};
    for (size_t i = 0; i < 64; i++)
        assert_non_null(t.in[i] = cf_https_mem_alloc(128));
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, s_thread, &t), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_true(t.cached_ok);
    assert_true(t.reused_ok);
    assert_int_equal(cf_https_mem_cached(), 0);
}

/* Installed as libevent's allocator (main, before anything of libevent): buffers, a
   decoded URI handed over by evhttp and a parsed query all go through it. */
static void test_libevent_uses_it(void **state)
{
    (void) state;
    cf_https_mem_trim();
    struct evbuffer *buf = evbuffer_new();
    assert_non_null(buf);
    static char chunk[1000];
    memset(chunk, 'x', sizeof(chunk));
    for (int i = 0; i < 100; i++)
        assert_int_equal(evbuffer_add(buf, chunk, sizeof(chunk)), 0);
    assert_int_equal(evbuffer_get_length(buf), 100000);
    assert_non_null(evbuffer_pullup(buf, 50000)); /* a big block */
    evbuffer_drain(buf, 100000);
    evbuffer_free(buf);
    assert_true(cf_https_mem_cached() > 0); /* the chunks came back to the cache */
    size_t n = 0;
    char *dec = evhttp_uridecode("a%20b%2Fc", 0, &n);
    assert_non_null(dec);
    assert_string_equal(dec, "a b/c");
    cf_https_mem_free_event(dec);
    struct evkeyvalq q;
    q.tqh_first = NULL;
    q.tqh_last = &q.tqh_first;
    assert_int_equal(evhttp_parse_query_str("x=1&y=two", &q), 0);
    assert_string_equal(evhttp_find_header(&q, "y"), "two");
    evhttp_clear_headers(&q);
    cf_https_mem_trim();
}

int main(void)
{
    cf_https_mem_install(); /* first: libevent allocates here from now on */
    cf_https_mem_install(); /* idempotent */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_every_size_fits_its_block),
        cmocka_unit_test(test_classes_and_big_blocks),
        cmocka_unit_test(test_cache_is_capped),
        cmocka_unit_test(test_turn_of_chunks_cached),
        cmocka_unit_test(test_jansson_uses_it),
        cmocka_unit_test(test_realloc_keeps_bytes),
        cmocka_unit_test(test_refusals_and_out_of_memory),
#if defined(__SANITIZE_ADDRESS__)
        cmocka_unit_test(test_cached_block_is_poisoned),
#endif
        cmocka_unit_test(test_blocks_move_between_threads),
        cmocka_unit_test(test_libevent_uses_it),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    cf_https_mem_trim();
    return rc;
}
