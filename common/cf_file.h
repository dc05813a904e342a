/*  cf_file - whole-file reads with a cap, and crash-safe writes (temp, fsync, rename)  */
#ifndef CF_FILE_H_INCLUDED
#define CF_FILE_H_INCLUDED

#include <stddef.h>
#include <sys/types.h>

#include "cf_err.h"

#define CF_FILE_PRIVATE 1u /* cf_file_read_ex: refuse a file group or others may access */
#define CF_FILE_SECRET  2u /* cf_file_read_ex: the contents are a secret (wiped on errors) */

/* Read the regular file path into *buf_out (NUL-terminated for convenience; *len_out
   excludes the NUL). Reads until end of file, so a file growing past max while it is read
   is still refused. A FIFO or device at path is refused without blocking on it.
   flags: CF_FILE_PRIVATE, CF_FILE_SECRET. Errors: CF_ERR_NOTFOUND, CF_ERR_INVALID (not a
   regular file), CF_ERR_POLICY (CF_FILE_PRIVATE and group/other permission bits set),
   CF_ERR_TOOBIG (larger than max), CF_ERR_IO, CF_ERR_NOMEM; why names the file. Free
   with cf_mem_free, or cf_mem_free_secret(*buf_out, *len_out) for a secret. */
CF_MUST_USE cf_err_t cf_file_read_ex(const char *path, size_t max, unsigned flags, char **buf_out,
                                     size_t *len_out, cf_why_t *why);
/* cf_file_read_ex with no flags. */
CF_MUST_USE cf_err_t cf_file_read(const char *path, size_t max, char **buf_out, size_t *len_out,
                                  cf_why_t *why);

/* Write len bytes to path so that a crash leaves either the old file or the new one, never
   a mix: write path.tmp.<pid> with mode (created 0600 first, then fchmod), fsync, rename
   over path, fsync the directory. Errors: CF_ERR_IO (why names the step and errno). */
CF_MUST_USE cf_err_t cf_file_write_atomic(const char *path, const void *data, size_t len,
                                          mode_t mode, cf_why_t *why);

/* As cf_file_write_atomic, but refuse (CF_ERR_EXISTS) when path already exists. */
CF_MUST_USE cf_err_t cf_file_write_new(const char *path, const void *data, size_t len, mode_t mode,
                                       cf_why_t *why);

/* mkdir -p for one path with mode for the directories it creates. CF_ERR_IO on failure. */
CF_MUST_USE cf_err_t cf_file_mkdirs(const char *path, mode_t mode, cf_why_t *why);

#endif
