/*  cf_file - whole-file reads with a cap, and crash-safe writes  */
#include "cf_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cf_mem.h"

cf_err_t cf_file_read(const char *path, size_t max, char **buf_out, size_t *len_out, cf_why_t *why)
{
    if (!path || !buf_out)
        return CF_ERR_INVALID;
    *buf_out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cf_why(why, errno == ENOENT ? CF_ERR_NOTFOUND : CF_ERR_IO, "%s: %s", path,
                      strerror(errno));
    cf_err_t rc = CF_ERR_IO;
    char *buf = NULL;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = cf_why(why, CF_ERR_IO, "%s: not a regular file", path);
        goto out;
    }
    if ((unsigned long long) st.st_size > (unsigned long long) max) {
        rc = cf_why(why, CF_ERR_TOOBIG, "%s: %lld bytes, the limit is %zu", path,
                    (long long) st.st_size, max);
        goto out;
    }
    size_t size = (size_t) st.st_size, got = 0;
    buf = cf_mem_malloc(size + 1);
    if (!buf) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = cf_why(why, CF_ERR_IO, "%s: read failed: %s", path,
                        n < 0 ? strerror(errno) : "file shrank");
            goto out;
        }
        got += (size_t) n;
    }
    buf[size] = '\0';
    *buf_out = buf;
    buf = NULL;
    if (len_out)
        *len_out = size;
    rc = CF_OK;
out:
    cf_mem_free_secret(buf, buf ? (size_t) st.st_size : 0); /* may hold a secret */
    close(fd);
    return rc;
}

static cf_err_t s_fsync_dir(const char *path, cf_why_t *why)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return cf_why(why, CF_ERR_IO, "%s: %s", dir, strerror(errno));
    int rc = fsync(fd);
    close(fd);
    return rc == 0 ? CF_OK : cf_why(why, CF_ERR_IO, "fsync %s: %s", dir, strerror(errno));
}

static cf_err_t s_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return CF_ERR_IO;
        p += n;
        len -= (size_t) n;
    }
    return CF_OK;
}

static cf_err_t s_write(const char *path, const void *data, size_t len, mode_t mode, int exclusive,
                        cf_why_t *why)
{
    if (!path || (!data && len))
        return CF_ERR_INVALID;
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long) getpid()) >= (int) sizeof(tmp))
        return cf_why(why, CF_ERR_INVALID, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return cf_why(why, CF_ERR_IO, "%s: %s", tmp, strerror(errno));
    cf_err_t rc = CF_OK;
    if (s_write_all(fd, data, len) != CF_OK || fchmod(fd, mode) != 0 || fsync(fd) != 0)
        rc = cf_why(why, CF_ERR_IO, "%s: %s", tmp, strerror(errno));
    if (close(fd) != 0 && rc == CF_OK)
        rc = cf_why(why, CF_ERR_IO, "%s: %s", tmp, strerror(errno));
    if (rc == CF_OK && exclusive) {
        /* link() fails if path exists: an atomic "create only if absent" */
        if (link(tmp, path) != 0)
            rc = cf_why(why, errno == EEXIST ? CF_ERR_EXISTS : CF_ERR_IO, "%s: %s", path,
                        strerror(errno));
        unlink(tmp);
    } else if (rc == CF_OK && rename(tmp, path) != 0) {
        rc = cf_why(why, CF_ERR_IO, "rename to %s: %s", path, strerror(errno));
    }
    if (rc != CF_OK) {
        unlink(tmp);
        return rc;
    }
    return s_fsync_dir(path, why);
}

cf_err_t cf_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                              cf_why_t *why)
{
    return s_write(path, data, len, mode, 0, why);
}

cf_err_t cf_file_write_new(const char *path, const void *data, size_t len, mode_t mode,
                           cf_why_t *why)
{
    return s_write(path, data, len, mode, 1, why);
}

cf_err_t cf_file_mkdirs(const char *path, mode_t mode, cf_why_t *why)
{
    if (!path || !*path)
        return CF_ERR_INVALID;
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int) sizeof(buf))
        return cf_why(why, CF_ERR_INVALID, "%s: path too long", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(buf, mode) != 0 && errno != EEXIST)
            return cf_why(why, CF_ERR_IO, "mkdir %s: %s", buf, strerror(errno));
        *p = saved;
        if (saved == '\0')
            break;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return cf_why(why, CF_ERR_IO, "%s: not a directory", path);
    return CF_OK;
}
