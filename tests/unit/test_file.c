/*  test_file - capped reads and crash-safe writes  */
#include "cf_test.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cf_file.h"
#include "cf_mem.h"

static char s_dir[512];

static int s_setup(void **state)
{
    (void) state;
    cf_test_tmpdir("test_file", s_dir, sizeof(s_dir));
    return 0;
}

static void test_usage(void **state)
{
    (void) state;
    char path[600];
    snprintf(path, sizeof(path), "%s/a.txt", s_dir);
    cf_why_t why = {""};
    assert_int_equal(cf_file_write_atomic(path, "hello", 5, 0640, &why), CF_OK);
    char *buf = NULL;
    size_t len = 0;
    assert_int_equal(cf_file_read(path, 100, &buf, &len, &why), CF_OK);
    assert_int_equal(len, 5);
    assert_string_equal(buf, "hello");
    cf_mem_free(buf);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    /* replace: readers see the old or the new content, and no temp file stays behind */
    assert_int_equal(cf_file_write_atomic(path, "bye", 3, 0600, &why), CF_OK);
    assert_int_equal(cf_file_read(path, 100, &buf, &len, &why), CF_OK);
    assert_string_equal(buf, "bye");
    cf_mem_free(buf);
    assert_int_equal(cf_test_sh("test $(ls '%s' | wc -l) -eq 1", s_dir), 0);
}

static void test_refusals(void **state)
{
    (void) state;
    char path[600], missing[600];
    snprintf(path, sizeof(path), "%s/b.txt", s_dir);
    snprintf(missing, sizeof(missing), "%s/nope.txt", s_dir);
    cf_why_t why = {""};
    char *buf = (char *) 0x1;
    assert_int_equal(cf_file_read(missing, 10, &buf, NULL, &why), CF_ERR_NOTFOUND);
    assert_null(buf);
    assert_non_null(strstr(why.text, "nope.txt"));
    assert_int_equal(cf_file_write_new(path, "12345678901", 11, 0600, &why), CF_OK);
    assert_int_equal(cf_file_write_new(path, "x", 1, 0600, &why), CF_ERR_EXISTS);
    assert_int_equal(cf_file_read(path, 10, &buf, NULL, &why), CF_ERR_TOOBIG);
    assert_int_equal(cf_file_read(s_dir, 10, &buf, NULL, &why), CF_ERR_INVALID); /* a dir */
    assert_non_null(strstr(why.text, "not a regular file"));
    /* a FIFO is refused without blocking on it */
    char fifo[600];
    snprintf(fifo, sizeof(fifo), "%s/fifo", s_dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(cf_file_read(fifo, 10, &buf, NULL, &why), CF_ERR_INVALID);
    /* private files: group or other bits refused, owner-only accepted */
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(cf_file_read_ex(path, 100, CF_FILE_PRIVATE, &buf, NULL, &why), CF_ERR_POLICY);
    assert_non_null(strstr(why.text, "mode 0640"));
    assert_int_equal(chmod(path, 0600), 0);
    size_t len = 0;
    assert_int_equal(cf_file_read_ex(path, 100, CF_FILE_PRIVATE | CF_FILE_SECRET, &buf, &len, &why),
                     CF_OK);
    assert_int_equal(len, 11);
    cf_mem_free_secret(buf, len);
    char deep[700];
    snprintf(deep, sizeof(deep), "%s/x/y/z", s_dir);
    assert_int_equal(cf_file_mkdirs(deep, 0700, &why), CF_OK);
    assert_int_equal(cf_file_mkdirs(deep, 0700, &why), CF_OK);
    assert_int_equal(cf_file_mkdirs(path, 0700, &why), CF_ERR_IO); /* a file is in the way */
    snprintf(deep, sizeof(deep), "%s/no/such/dir/f", s_dir);
    assert_int_equal(cf_file_write_atomic(deep, "x", 1, 0600, &why), CF_ERR_IO);
}

static void test_alloc_failure(void **state)
{
    (void) state;
    char path[600];
    snprintf(path, sizeof(path), "%s/c.txt", s_dir);
    cf_why_t why = {""};
    assert_int_equal(cf_file_write_atomic(path, "abc", 3, 0600, &why), CF_OK);
    char *buf = NULL;
    cf_test_alloc_fail_at(0);
    assert_int_equal(cf_file_read(path, 10, &buf, NULL, &why), CF_ERR_NOMEM);
    cf_test_alloc_fail_at(-1);
    assert_null(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_alloc_failure),
    };
    return cmocka_run_group_tests(tests, s_setup, NULL);
}
