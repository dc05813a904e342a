/*  cf_test - helpers shared by the unit tests  */
#include "cf_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Test-only globals: the allocation failure injector. */
static long s_fail_at = -1;
static long s_failed = 0;

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *ptr, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *ptr, size_t size);

static int s_should_fail(void)
{
    if (s_fail_at < 0)
        return 0;
    if (s_fail_at-- == 0) {
        s_failed++;
        return 1;
    }
    return 0;
}

void *__wrap_malloc(size_t size)
{
    return s_should_fail() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return s_should_fail() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *ptr, size_t size)
{
    return s_should_fail() ? NULL : __real_realloc(ptr, size);
}

void cf_test_alloc_fail_at(long n)
{
    s_fail_at = n;
    s_failed = 0;
}

long cf_test_alloc_failed(void)
{
    return s_failed;
}

static const char *s_tmp_root(void)
{
    const char *root = getenv("CF_TEST_TMP");
    return root && *root ? root : "/tmp";
}

const char *cf_test_tmpdir(const char *name, char *buf, size_t buflen)
{
    mkdir(s_tmp_root(), 0700);
    snprintf(buf, buflen, "%s/%s.%ld", s_tmp_root(), name, (long) getpid());
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", buf, buf);
    if (system(cmd) != 0)
        fail_msg("cannot create %s", buf);
    return buf;
}

const char *cf_test_src_path(const char *rel, char *buf, size_t buflen)
{
    const char *src = getenv("CF_TEST_SRC");
    snprintf(buf, buflen, "%s/%s", src && *src ? src : ".", rel);
    return buf;
}

void cf_test_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        fail_msg("cannot write %s: %s", path, strerror(errno));
    if (len && fwrite(data, 1, len, f) != len)
        fail_msg("short write to %s", path);
    fclose(f);
}

char *cf_test_read_file(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot read %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t) size + 1);
    if (!buf || fread(buf, 1, (size_t) size, f) != (size_t) size)
        fail_msg("cannot read %s", path);
    fclose(f);
    buf[size] = '\0';
    if (len_out)
        *len_out = (size_t) size;
    return buf;
}

int cf_test_sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    char full[8400];
    snprintf(full, sizeof(full), "(%s) >>'%s/cmd.log' 2>&1", cmd, s_tmp_root());
    int rc = system(full);
    if (rc == -1)
        return -1;
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

int cf_test_wait_until(int (*cond)(void *ctx), void *ctx, int timeout_ms)
{
    struct timespec tick = {0, 10 * 1000 * 1000};
    int waited = 0;
    int ok = cond(ctx);
    while (!ok && waited < timeout_ms) {
        nanosleep(&tick, NULL);
        waited += 10;
        ok = cond(ctx);
    }
    return ok;
}
