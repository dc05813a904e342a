/*  cf_test - helpers shared by the unit tests: temp dirs, files, commands, alloc failure  */
#ifndef CF_TEST_H_INCLUDED
#define CF_TEST_H_INCLUDED

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Fail the allocation that comes n allocations from now (0 = the next one); every one
   after it succeeds again. n < 0 turns injection off. Counts malloc/calloc/realloc calls
   made by libcertfleet and the test itself (not by shared libraries). */
void cf_test_alloc_fail_at(long n);
/* How many allocations were failed since the last cf_test_alloc_fail_at. */
long cf_test_alloc_failed(void);

/* A fresh empty directory under $CF_TEST_TMP (or /tmp) named after `name` and the PID.
   Returned string is static per call site buffer: copy it if you need two. */
const char *cf_test_tmpdir(const char *name, char *buf, size_t buflen);
/* Path of a committed test asset: $CF_TEST_SRC/<rel>. */
const char *cf_test_src_path(const char *rel, char *buf, size_t buflen);

/* Write/read whole files; abort the test (cmocka fail) on I/O errors. Read returns a
   malloc'd NUL-terminated buffer and its length. */
void cf_test_write_file(const char *path, const void *data, size_t len);
char *cf_test_read_file(const char *path, size_t *len_out);

/* Run a shell command (printf-style), stdout+stderr appended to <tmp>/cmd.log;
   returns its exit status (or -1). */
int cf_test_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Poll cond(ctx) every 10 ms until it returns non-zero or timeout_ms passes;
   returns the last value of cond. Never sleep a fixed time in a test. */
int cf_test_wait_until(int (*cond)(void *ctx), void *ctx, int timeout_ms);

#endif
