/*  cf_agent_trim - the daemon gives back memory it no longer needs after start-up and after
    a job: free heap pages (malloc_trim) and the resident pages of its own binary's
    read-only file mappings (MADV_PAGEOUT, MADV_RANDOM)  */
#define _DEFAULT_SOURCE 1 /* madvise and its MADV_ flags */
#include "cf_agent_trim.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21 /* Linux 5.4 */
#endif

/* Lines of a /proc file through read(2) into a fixed buffer: no allocation, so reading
   does not itself grow the heap being measured. */
typedef struct {
    int fd;                                   /* the file */
    char buf[2 * CF_AGENT_TRIM_LINE_MAX + 2]; /* bytes read, not yet returned */
    size_t len;                               /* bytes in buf */
    size_t off;                               /* start of the next line in buf */
    int eof;                                  /* read returned 0 */
} s_reader_t;

/* The next line (without its newline) into line. 1 a line, 0 end of file, -1 a line
   longer than CF_AGENT_TRIM_LINE_MAX, -2 a read error. */
static int s_line(s_reader_t *r, char line[CF_AGENT_TRIM_LINE_MAX + 1])
{
    for (;;) {
        char *nl = memchr(r->buf + r->off, '\n', r->len - r->off);
        size_t n = nl ? (size_t) (nl - (r->buf + r->off)) : r->len - r->off;
        if (nl || (r->eof && n > 0)) {
            if (n > CF_AGENT_TRIM_LINE_MAX)
                return -1;
            memcpy(line, r->buf + r->off, n);
            line[n] = '\0';
            r->off += n + (nl != NULL);
            return 1;
        }
        if (r->eof)
            return 0;
        if (n > CF_AGENT_TRIM_LINE_MAX)
            return -1;
        memmove(r->buf, r->buf + r->off, n);
        r->len = n;
        r->off = 0;
        ssize_t got = read(r->fd, r->buf + r->len, sizeof(r->buf) - r->len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -2;
        r->len += (size_t) got;
        r->eof = got == 0;
    }
}

/* The mapping being read: its header, and the fields that decide. */
typedef struct {
    int ours;        /* a mapping of the file scanned for */
    int readonly;    /* readable, not writable */
    uintptr_t start; /* address range */
    uintptr_t end;
    size_t rss;  /* Rss: kB */
    size_t anon; /* Anonymous: kB */
} s_map_t;

/* The mapping just read is done: keep it, or count it as left out. */
static cf_err_t s_close_map(const s_map_t *m, cf_agent_trim_scan_t *out, cf_why_t *why)
{
    if (!m->ours)
        return CF_OK;
    if (!m->readonly || m->anon) {
        out->skipped++;
        return CF_OK;
    }
    if (out->n == CF_AGENT_TRIM_RANGES_MAX)
        return cf_why(why, CF_ERR_TOOBIG, "more than %d mappings of the binary",
                      CF_AGENT_TRIM_RANGES_MAX);
    out->ranges[out->n].start = m->start;
    out->ranges[out->n].end = m->end;
    out->n++;
    out->rss_kib += m->rss;
    return CF_OK;
}

/* A header line: "start-end perms offset major:minor inode [path]". */
static cf_err_t s_header(const char *line, unsigned dev_major, unsigned dev_minor, uint64_t ino,
                         s_map_t *m, cf_why_t *why)
{
    uintmax_t start = 0, end = 0, off = 0, inode = 0;
    unsigned maj = 0, min = 0;
    char perms[8] = "";
    if (sscanf(line, "%jx-%jx %7s %jx %x:%x %ju", &start, &end, perms, &off, &maj, &min, &inode) !=
            7 ||
        end < start || strlen(perms) != 4)
        return cf_why(why, CF_ERR_CORRUPT, "smaps: not a mapping: '%.80s'", line);
    memset(m, 0, sizeof(*m));
    m->ours = inode != 0 && inode == ino && maj == dev_major && min == dev_minor;
    m->readonly = perms[0] == 'r' && perms[1] != 'w';
    m->start = (uintptr_t) start;
    m->end = (uintptr_t) end;
    return CF_OK;
}

/* A "Key: value kB" line of the mapping m. */
static void s_field(const char *line, s_map_t *m)
{
    size_t kib = 0;
    if (sscanf(line, "Rss: %zu", &kib) == 1)
        m->rss = kib;
    else if (sscanf(line, "Anonymous: %zu", &kib) == 1)
        m->anon = kib;
}

cf_err_t cf_agent_trim_scan(const char *smaps_path, unsigned dev_major, unsigned dev_minor,
                            uint64_t ino, cf_agent_trim_scan_t *out, cf_why_t *why)
{
    if (!smaps_path || !out)
        return CF_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    s_reader_t r = {.fd = open(smaps_path, O_RDONLY | O_CLOEXEC)};
    if (r.fd < 0)
        return cf_why(why, CF_ERR_IO, "%s: %s", smaps_path, strerror(errno));
    char line[CF_AGENT_TRIM_LINE_MAX + 1];
    s_map_t m = {0};
    cf_err_t rc = CF_OK;
    int got;
    while (rc == CF_OK && (got = s_line(&r, line)) == 1) {
        size_t tok = strcspn(line, " \t");
        if (tok > 0 && line[tok - 1] == ':')
            s_field(line, &m);
        else if ((rc = s_close_map(&m, out, why)) == CF_OK)
            rc = s_header(line, dev_major, dev_minor, ino, &m, why);
    }
    if (rc == CF_OK && got == -1)
        rc = cf_why(why, CF_ERR_TOOBIG, "%s: a line longer than %d bytes", smaps_path,
                    CF_AGENT_TRIM_LINE_MAX);
    else if (rc == CF_OK && got == -2)
        rc = cf_why(why, CF_ERR_IO, "%s: %s", smaps_path, strerror(errno));
    else if (rc == CF_OK)
        rc = s_close_map(&m, out, why);
    close(r.fd);
    return rc;
}

/* Field key of /proc/self/status in KiB ("VmRSS", "RssAnon"); 0 when unreadable. */
static size_t s_status_kib(const char *key)
{
    s_reader_t r = {.fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC)};
    if (r.fd < 0)
        return 0;
    char line[CF_AGENT_TRIM_LINE_MAX + 1];
    size_t klen = strlen(key), kib = 0;
    while (s_line(&r, line) == 1)
        if (strncmp(line, key, klen) == 0 && line[klen] == ':' &&
            sscanf(line + klen + 1, "%zu", &kib) == 1)
            break;
    close(r.fd);
    return kib;
}

static size_t s_less(size_t before, size_t after)
{
    return before > after ? before - after : 0;
}

/* Advise the kernel on the binary's read-only mappings; 1 when it has MADV_PAGEOUT. */
static int s_page_out(const cf_agent_trim_scan_t *scan)
{
    int pageout = 1;
    for (size_t i = 0; i < scan->n; i++) {
        void *p = (void *) scan->ranges[i].start;
        size_t len = scan->ranges[i].end - scan->ranges[i].start;
        (void) madvise(p, len, MADV_RANDOM); /* advice only: a failure changes nothing */
        if (madvise(p, len, MADV_PAGEOUT) != 0 && errno == EINVAL)
            pageout = 0; /* Linux < 5.4 */
    }
    return pageout;
}

cf_err_t cf_agent_trim(cf_agent_trim_stats_t *out, cf_why_t *why)
{
    cf_agent_trim_stats_t st = {.rss_before_kib = s_status_kib("VmRSS")};
    size_t anon = s_status_kib("RssAnon");
#ifdef __GLIBC__
    (void) malloc_trim(0); /* 1 when it gave something back; the figures say how much */
#endif
    st.heap_kib = s_less(anon, s_status_kib("RssAnon"));
    struct stat sb;
    cf_agent_trim_scan_t before, after;
    cf_err_t rc = CF_OK;
    if (stat("/proc/self/exe", &sb) != 0) {
        rc = cf_why(why, CF_ERR_IO, "/proc/self/exe: %s", strerror(errno));
        goto out;
    }
    unsigned maj = major(sb.st_dev), min = minor(sb.st_dev);
    rc = cf_agent_trim_scan("/proc/self/smaps", maj, min, (uint64_t) sb.st_ino, &before, why);
    if (rc != CF_OK)
        goto out;
    st.ranges = before.n;
    st.pageout = s_page_out(&before);
    rc = cf_agent_trim_scan("/proc/self/smaps", maj, min, (uint64_t) sb.st_ino, &after, why);
    if (rc == CF_OK)
        st.text_kib = s_less(before.rss_kib, after.rss_kib);
out:
    st.rss_after_kib = s_status_kib("VmRSS");
    if (out)
        *out = st;
    return rc;
}
