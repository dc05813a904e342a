/*  cf_agent_trim - the daemon gives back memory it no longer needs after start-up and after
    a job: free heap pages (malloc_trim) and the resident pages of its own binary's
    read-only file mappings (MADV_PAGEOUT, MADV_RANDOM)  */
#ifndef CF_AGENT_TRIM_H_INCLUDED
#define CF_AGENT_TRIM_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "cf_err.h"

#define CF_AGENT_TRIM_RANGES_MAX 16   /* mappings of the binary handled (an ELF has 2-3) */
#define CF_AGENT_TRIM_LINE_MAX   4096 /* longest smaps line read (a path is at most 4096) */

/* One address range [start, end) of a mapping. */
typedef struct {
    uintptr_t start; /* first byte */
    uintptr_t end;   /* one past the last byte */
} cf_agent_trim_range_t;

/* What a scan of an smaps file found for one file (device and inode). */
typedef struct {
    cf_agent_trim_range_t ranges[CF_AGENT_TRIM_RANGES_MAX]; /* its read-only mappings
                                                               with no anonymous pages */
    size_t n;                                               /* ranges used */
    size_t rss_kib;                                         /* their Rss summed */
    size_t skipped;                                         /* its mappings left out
                                                               (writable, or holding
                                                               relocated private pages) */
} cf_agent_trim_scan_t;

/* What one cf_agent_trim gave back. KiB are VmRSS differences, so other threads' work
   between the readings shows in them (they are a log line and a metric, not a proof). */
typedef struct {
    size_t rss_before_kib; /* VmRSS before */
    size_t rss_after_kib;  /* VmRSS after */
    size_t heap_kib;       /* RssAnon given back by malloc_trim */
    size_t text_kib;       /* Rss of the binary's read-only file mappings given back */
    size_t ranges;         /* mappings advised */
    int pageout;           /* 1: the kernel has MADV_PAGEOUT (Linux >= 5.4); 0: not */
} cf_agent_trim_stats_t;

/* Scan smaps_path (/proc/self/smaps format: a header line per mapping, then its
   "Key: value kB" lines) for the mappings of the file on device dev_major:dev_minor with
   inode ino that are readable, not writable, and hold no anonymous (relocated) pages.
   Errors: CF_ERR_INVALID (NULL), CF_ERR_IO (why names the file), CF_ERR_TOOBIG (a line
   longer than CF_AGENT_TRIM_LINE_MAX, or more than CF_AGENT_TRIM_RANGES_MAX mappings),
   CF_ERR_CORRUPT (a header line that does not parse). */
CF_MUST_USE cf_err_t cf_agent_trim_scan(const char *smaps_path, unsigned dev_major,
                                        unsigned dev_minor, uint64_t ino, cf_agent_trim_scan_t *out,
                                        cf_why_t *why);

/* Give back what this process no longer needs: malloc_trim(0) (free heap pages), then,
   for each read-only file mapping of the running binary (/proc/self/exe, found in
   /proc/self/smaps), madvise MADV_RANDOM (a later fault reads one page, not a read-ahead
   window) and MADV_PAGEOUT (reclaim its resident pages that no other process maps; a
   kernel without it answers EINVAL, which is not an error). Safe while other threads run:
   a page needed later faults back in. *out (may be NULL) gets the figures. Errors:
   CF_ERR_IO (/proc unreadable; the heap was trimmed), those of cf_agent_trim_scan. */
CF_MUST_USE cf_err_t cf_agent_trim(cf_agent_trim_stats_t *out, cf_why_t *why);

#endif
