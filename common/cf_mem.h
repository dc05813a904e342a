/*  cf_mem - the one door for heap memory, so tests can fail the Nth allocation  */
#ifndef CF_MEM_H_INCLUDED
#define CF_MEM_H_INCLUDED

#include <stddef.h>

/* Thin wrappers over the C allocator. Tests link with -Wl,--wrap=malloc,--wrap=calloc,
   --wrap=realloc (tests/unit/cf_test_alloc.c) to fail allocation N and check that every
   caller unwinds cleanly. All return NULL on failure (or on a size that overflows). */
void *cf_mem_malloc(size_t size);
void *cf_mem_calloc(size_t count, size_t size);
void *cf_mem_realloc(void *ptr, size_t size);
char *cf_mem_strdup(const char *s);               /* NULL in, NULL out */
char *cf_mem_strndup(const char *s, size_t max);  /* copies at most max bytes, NUL-terminates */
void *cf_mem_memdup(const void *buf, size_t len); /* len 0 gives a 1-byte allocation */
void cf_mem_free(void *ptr);

/* Wipe len bytes (OPENSSL_cleanse, which the compiler may not elide) and free.
   For keys, passwords and PEM key buffers. NULL is fine. */
void cf_mem_free_secret(void *ptr, size_t len);
/* As cf_mem_free_secret for a NUL-terminated string. */
void cf_mem_free_secret_str(char *s);
/* Wipe without freeing (stack buffers). */
void cf_mem_wipe(void *ptr, size_t len);

#endif
