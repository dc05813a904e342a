/*  cf_file - whole-file reads with a cap, and crash-safe writes (temp, fsync, rename)  */
#ifndef CF_FILE_H_INCLUDED
#define CF_FILE_H_INCLUDED

#include <stddef.h>
#include <sys/types.h>

#include "cf_err.h"

/* Read the regular file path into *buf_out (NUL-terminated for convenience; *len_out excludes
   the NUL). Errors: CF_ERR_NOTFOUND, CF_ERR_IO (unreadable, not a regular file; why says
   which), CF_ERR_TOOBIG (larger than max), CF_ERR_NOMEM. Free with cf_mem_free, or with
   cf_mem_free_secret when the file holds a secret. */
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
