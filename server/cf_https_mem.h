/*  cf_https_mem - libevent's allocator: a per-thread cache of small blocks over cf_mem  */
#ifndef CF_HTTPS_MEM_H_INCLUDED
#define CF_HTTPS_MEM_H_INCLUDED

#include <stddef.h>

/* evhttp makes and frees about 35 small blocks per request (the request, its header lists,
   a strdup per header name and value, buffers); glibc's calloc never uses its thread cache
   and its cache holds 7 blocks per size, so most of them took malloc's slow paths. This
   allocator keeps freed blocks of up to CF_HTTPS_MEM_MAX bytes per thread, in size classes,
   and gives larger ones straight to cf_mem. Blocks are plain memory: one freed on another
   thread than the one that made it joins that thread's cache. */

#define CF_HTTPS_MEM_MAX 4096 /* largest block size a cache keeps (libevent's chunks) */
/* Bytes of free blocks one thread keeps per size class: 64 of libevent's 1 KiB chunks,
   which 32 busy connections free in one loop turn (16 KiB made one malloc per request). */
#define CF_HTTPS_MEM_CAP 65536

/* Make this allocator libevent's (event_set_mem_functions). Call it first thing in main,
   before anything creates a libevent object: a block must go back to the allocator that
   made it. Idempotent. */
void cf_https_mem_install(void);

/* size bytes (16-byte aligned), or NULL when size is 0 or memory is short. */
void *cf_https_mem_alloc(size_t size);
/* Resize p (NULL: as alloc); the contents up to the smaller size stay. NULL on failure,
   p then unchanged. size 0 frees p and returns NULL. */
void *cf_https_mem_realloc(void *p, size_t size);
/* Give p back (NULL is fine); p must come from this allocator. */
void cf_https_mem_free(void *p);

/* Free memory libevent allocated and handed over (evhttp_uridecode's result): with this
   allocator when it is installed, else with cf_mem_free. NULL is fine. */
void cf_https_mem_free_event(void *p);

/* Hand the calling thread's cached blocks back to cf_mem (a thread's exit does it too). */
void cf_https_mem_trim(void);
/* Bytes of free blocks the calling thread keeps cached. */
size_t cf_https_mem_cached(void);

#endif
