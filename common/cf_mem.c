/*  cf_mem - the one door for heap memory  */
#include "cf_mem.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

void *cf_mem_malloc(size_t size)
{
    return malloc(size ? size : 1);
}

void *cf_mem_calloc(size_t count, size_t size)
{
    if (count == 0 || size == 0)
        return calloc(1, 1);
    return calloc(count, size); /* calloc itself checks count * size for overflow */
}

void *cf_mem_realloc(void *ptr, size_t size)
{
    return realloc(ptr, size ? size : 1);
}

char *cf_mem_strdup(const char *s)
{
    if (!s)
        return NULL;
    return cf_mem_memdup(s, strlen(s) + 1);
}

char *cf_mem_strndup(const char *s, size_t max)
{
    if (!s)
        return NULL;
    size_t len = strnlen(s, max);
    char *copy = cf_mem_malloc(len + 1);
    if (!copy)
        return NULL;
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

void *cf_mem_memdup(const void *buf, size_t len)
{
    void *copy = cf_mem_malloc(len);
    if (copy && len)
        memcpy(copy, buf, len);
    return copy;
}

void cf_mem_free(void *ptr)
{
    free(ptr);
}

void cf_mem_wipe(void *ptr, size_t len)
{
    if (ptr && len)
        OPENSSL_cleanse(ptr, len);
}

void cf_mem_free_secret(void *ptr, size_t len)
{
    if (!ptr)
        return;
    OPENSSL_cleanse(ptr, len);
    free(ptr);
}

void cf_mem_free_secret_str(char *s)
{
    if (s)
        cf_mem_free_secret(s, strlen(s));
}
