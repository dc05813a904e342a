/*  cf_https_mem - libevent's allocator: a per-thread cache of small blocks over cf_mem  */
#include "cf_https_mem.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <event2/event.h>

#include "cf_mem.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define S_POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define S_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define S_POISON(p, n)   ((void) (p), (void) (n))
#define S_UNPOISON(p, n) ((void) (p), (void) (n))
#endif

#define S_CLASSES 32 /* 16..256 by 16, then four steps per power of two up to 4096 */

/* What precedes every block handed out: 16 bytes, so blocks keep malloc's alignment. */
typedef struct s_head {
    union {
        struct s_head *next; /* while cached: the next free block of its class */
        size_t cls;          /* while in use: its class (S_CLASSES for a big block) */
    } u;
    size_t size; /* usable bytes: the class size, or the size asked (> CF_HTTPS_MEM_MAX) */
} s_head_t;

typedef struct {
    s_head_t *free[S_CLASSES]; /* free blocks per class */
    unsigned n[S_CLASSES];     /* how many */
    int registered;            /* the exit hook knows this thread */
} s_cache_t;

static _Thread_local s_cache_t s_cache; /* this thread's free blocks */
static unsigned s_cap[S_CLASSES];       /* blocks cached per class: CF_HTTPS_MEM_CAP bytes, >= 4 */
static pthread_once_t s_caps_once = PTHREAD_ONCE_INIT; /* s_cap is filled in once */
static pthread_key_t s_key;                            /* runs s_on_exit at a thread's exit */
static pthread_once_t s_key_once = PTHREAD_ONCE_INIT;  /* s_key is made once */
static int s_key_ok;                                   /* s_key was created */
static int s_installed; /* libevent allocates here (set before any thread uses libevent) */

_Static_assert(sizeof(s_head_t) == 16, "the block header keeps 16-byte alignment");

/* Class of a size in 1..CF_HTTPS_MEM_MAX. */
static unsigned s_class(size_t size)
{
    if (size <= 256)
        return (unsigned) ((size + 15) / 16 - 1);
    size_t s = size - 1;
    unsigned b = 8; /* 2^b < size <= 2^(b+1) */
    while ((s >> (b + 1)) != 0)
        b++;
    return 16 + (b - 8) * 4 + (unsigned) ((s >> (b - 2)) & 3);
}

/* Usable bytes of class c. */
static size_t s_class_size(unsigned c)
{
    if (c < 16)
        return (size_t) (c + 1) * 16;
    unsigned b = 8 + (c - 16) / 4, j = (c - 16) % 4;
    return ((size_t) 1 << b) + (size_t) (j + 1) * ((size_t) 1 << (b - 2));
}

static void s_caps(void)
{
    for (unsigned c = 0; c < S_CLASSES; c++) {
        size_t n = CF_HTTPS_MEM_CAP / s_class_size(c);
        s_cap[c] = n < 4 ? 4 : (unsigned) n;
    }
}

void cf_https_mem_trim(void)
{
    for (unsigned c = 0; c < S_CLASSES; c++) {
        while (s_cache.free[c]) {
            s_head_t *h = s_cache.free[c];
            s_cache.free[c] = h->u.next;
            S_UNPOISON(h + 1, h->size);
            cf_mem_free(h);
        }
        s_cache.n[c] = 0;
    }
}

static void s_on_exit(void *arg)
{
    (void) arg;
    s_cache.registered = 0; /* a later free in another destructor registers again */
    cf_https_mem_trim();
}

static void s_key_new(void)
{
    s_key_ok = pthread_key_create(&s_key, s_on_exit) == 0;
}

size_t cf_https_mem_cached(void)
{
    size_t bytes = 0;
    for (unsigned c = 0; c < S_CLASSES; c++)
        bytes += s_cache.n[c] * s_class_size(c);
    return bytes;
}

/* The slow paths, out of line so that the fast ones need no stack frame. */
static __attribute__((noinline)) void *s_alloc_new(size_t size)
{
    if (size == 0 || size > SIZE_MAX - sizeof(s_head_t))
        return NULL;
    size_t cls = S_CLASSES, usable = size;
    if (size <= CF_HTTPS_MEM_MAX) {         /* a class with nothing cached */
        pthread_once(&s_caps_once, s_caps); /* before any block can be freed */
        cls = s_class(size);
        usable = s_class_size((unsigned) cls);
    }
    s_head_t *h = cf_mem_malloc(sizeof(*h) + usable);
    if (!h)
        return NULL;
    h->u.cls = cls;
    h->size = usable;
    return h + 1;
}

static __attribute__((noinline)) void s_free_slow(s_head_t *h)
{
    size_t c = h->u.cls;
    if (c < S_CLASSES && s_cache.n[c] < s_cap[c] && !s_cache.registered) {
        /* the first block this thread keeps: its exit will hand the cache back */
        pthread_once(&s_key_once, s_key_new);
        if (s_key_ok && pthread_setspecific(s_key, &s_cache) == 0) {
            s_cache.registered = 1;
            cf_https_mem_free(h + 1);
            return;
        }
    }
    cf_mem_free(h);
}

void *cf_https_mem_alloc(size_t size)
{
    if (size - 1 >= CF_HTTPS_MEM_MAX) /* 0 or above the classes */
        return s_alloc_new(size);
    unsigned c = s_class(size);
    s_head_t *h = s_cache.free[c];
    if (!h)
        return s_alloc_new(size);
    S_UNPOISON(h + 1, h->size);
    s_cache.free[c] = h->u.next;
    s_cache.n[c]--;
    h->u.cls = c;
    return h + 1;
}

void cf_https_mem_free(void *p)
{
    if (!p)
        return;
    s_head_t *h = (s_head_t *) p - 1;
    size_t c = h->u.cls;
    if (c >= S_CLASSES || s_cache.n[c] >= s_cap[c] || !s_cache.registered) {
        s_free_slow(h);
        return;
    }
    h->u.next = s_cache.free[c];
    s_cache.free[c] = h;
    s_cache.n[c]++;
    S_POISON(p, h->size);
}

void *cf_https_mem_realloc(void *p, size_t size)
{
    if (!p)
        return cf_https_mem_alloc(size);
    if (size == 0) {
        cf_https_mem_free(p);
        return NULL;
    }
    if (size > SIZE_MAX - sizeof(s_head_t))
        return NULL;
    s_head_t *h = (s_head_t *) p - 1;
    size_t old = h->size;
    if (old > CF_HTTPS_MEM_MAX && size > CF_HTTPS_MEM_MAX) { /* big stays big: the C realloc */
        s_head_t *n = cf_mem_realloc(h, sizeof(*n) + size);
        if (!n)
            return NULL;
        n->size = size;
        return n + 1;
    }
    if (old <= CF_HTTPS_MEM_MAX && size <= old)
        return p; /* it fits the block it has */
    void *q = cf_https_mem_alloc(size);
    if (!q)
        return NULL;
    memcpy(q, p, old < size ? old : size);
    cf_https_mem_free(p);
    return q;
}

void cf_https_mem_install(void)
{
    if (s_installed)
        return;
    event_set_mem_functions(cf_https_mem_alloc, cf_https_mem_realloc, cf_https_mem_free);
    s_installed = 1;
}

void cf_https_mem_free_event(void *p)
{
    if (s_installed)
        cf_https_mem_free(p);
    else
        cf_mem_free(p);
}
