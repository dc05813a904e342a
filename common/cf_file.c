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

/* Open path for reading and check what it is before reading a byte. O_NONBLOCK: a FIFO
   planted at the path must not hang us before fstat refuses it. */
static cf_err_t s_open_checked(const char *path, size_t max, unsigned flags, int *fd_out,
                               cf_why_t *why)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return cf_why(why, errno == ENOENT ? CF_ERR_NOTFOUND : CF_ERR_IO, "cannot open %s: %s",
                      path, strerror(errno));
    struct stat st;
    cf_err_t rc = CF_OK;
    if (fstat(fd, &st) != 0)
        rc = cf_why(why, CF_ERR_IO, "cannot stat %s: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        rc = cf_why(why, CF_ERR_INVALID, "%s: not a regular file", path);
    else if ((flags & CF_FILE_PRIVATE) && (st.st_mode & 077))
        rc = cf_why(why, CF_ERR_POLICY,
                    "%s: group or others may access it (mode %04o); chmod 600 it", path,
                    (unsigned) (st.st_mode & 07777));
    else if ((unsigned long long) st.st_size > (unsigned long long) max)
        rc = cf_why(why, CF_ERR_TOOBIG, "%s: larger than %zu bytes", path, max);
    if (rc != CF_OK) {
        close(fd);
        return rc;
    }
    *fd_out = fd;
    return CF_OK;
}

/* Read fd to its end into a buffer of max + 1 bytes (one more than allowed, to see a file
   that grew past the cap). */
static cf_err_t s_read_to_end(int fd, const char *path, size_t max, char *buf, size_t *len_out,
                              cf_why_t *why)
{
    size_t len = 0;
    for (;;) {
        ssize_t got = read(fd, buf + len, max + 1 - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return cf_why(why, CF_ERR_IO, "cannot read %s: %s", path, strerror(errno));
        if (got == 0)
            break;
        len += (size_t) got;
        if (len > max)
            return cf_why(why, CF_ERR_TOOBIG, "%s: larger than %zu bytes", path, max);
    }
    *len_out = len;
    return CF_OK;
}

cf_err_t cf_file_read_ex(const char *path, size_t max, unsigned flags, char **buf_out,
                         size_t *len_out, cf_why_t *why)
{
    if (!path || !buf_out || max > ((size_t) -1) / 2)
        return CF_ERR_INVALID;
    *buf_out = NULL;
    int fd = -1;
    CF_TRY(s_open_checked(path, max, flags, &fd, why));
    size_t len = 0;
    cf_err_t rc = CF_ERR_NOMEM;
    char *buf = cf_mem_malloc(max + 2);
    if (buf)
        rc = s_read_to_end(fd, path, max, buf, &len, why);
    close(fd);
    if (rc != CF_OK) {
        if (flags & CF_FILE_SECRET)
            cf_mem_free_secret(buf, buf ? max + 2 : 0);
        else
            cf_mem_free(buf);
        return rc;
    }
    buf[len] = '\0';
    *buf_out = buf;
    if (len_out)
        *len_out = len;
    return CF_OK;
}

cf_err_t cf_file_read(const char *path, size_t max, char **buf_out, size_t *len_out, cf_why_t *why)
{
    return cf_file_read_ex(path, max, 0, buf_out, len_out, why);
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
