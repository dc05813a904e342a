/*  cf_db_agent_find - agent pages with filters: lock, a last_seen window, a predicate  */
#include "cf_db_agent.h"

#include <stdio.h>
#include <string.h>

#include "cf_db_agent_int.h"
#include "cf_db_util.h"
#include "cf_mem.h"

#define S_ROUND_MIN 1000 /* agents a filtered round reads at least */

/* One round being kept. */
typedef struct {
    const cf_db_agent_filter_t *f; /* the filter */
    cf_db_agent_t *list;           /* the page (limit entries) */
    size_t n, limit;               /* kept so far, wanted */
    char *cursor_out;              /* CF_DB_CURSOR_MAX */
} s_find_t;

static int s_keep(const cf_db_agent_filter_t *f, const cf_db_agent_t *a)
{
    if (f->lock != CF_DB_LOCK_COUNT && a->lock != f->lock)
        return 0; /* moved to another state between the round trips */
    return !f->keep || f->keep(a, f->arg);
}

/* HMGET the agents of page and keep those that pass; 1 when the page is full (cursor_out
   then names the last one kept). */
static cf_err_t s_round(cf_store_t *store, const redisReply *page, s_find_t *fd, int *full)
{
    size_t count = page->elements / 2;
    cf_store_pipe_t *pipe = NULL;
    CF_TRY(cf_store_pipe_new(store, count, &pipe));
    cf_err_t rc = CF_OK;
    char key[CF_DB_KEY_MAX];
    for (size_t i = 0; rc == CF_OK && i < count; i++) {
        rc = cf_db_key_agent(key, page->element[2 * i]->str);
        if (rc == CF_OK)
            rc = cf_store_pipe_append(pipe, CF_DB_AGENT_HMGET, key);
    }
    if (rc == CF_OK)
        rc = cf_store_pipe_exec(pipe, CF_STORE_IDEMPOTENT);
    for (size_t i = 0; rc == CF_OK && !*full && i < count; i++) {
        cf_db_agent_t *a = &fd->list[fd->n];
        rc = cf_db_agent_decode(store, page->element[2 * i]->str, cf_store_pipe_reply(pipe, i), a);
        if (rc == CF_ERR_NOTFOUND) {
            rc = CF_OK; /* removed between the two round trips */
            continue;
        }
        if (rc != CF_OK || !s_keep(fd->f, a))
            continue;
        if (++fd->n == fd->limit) {
            *full = 1;
            snprintf(fd->cursor_out, CF_DB_CURSOR_MAX, "%s:%s", page->element[2 * i + 1]->str,
                     page->element[2 * i]->str);
        }
    }
    cf_store_pipe_destroy(&pipe);
    return rc;
}

/* Walk rounds from cursor until the page is full, the walk ends or scan is spent. */
static cf_err_t s_walk(cf_store_t *store, s_find_t *fd, const char *cursor, size_t scan)
{
    char cur[CF_DB_CURSOR_MAX];
    snprintf(cur, sizeof(cur), "%s", cursor);
    size_t left = scan;
    for (;;) {
        size_t want = fd->limit - fd->n;
        if (fd->f->keep && want < S_ROUND_MIN)
            want = S_ROUND_MIN;
        want = want < left ? want : left;
        want = want < CF_DB_PAGE_MAX ? want : CF_DB_PAGE_MAX;
        redisReply *page = NULL;
        int full = 0;
        CF_TRY(cf_db_agent_page(store, fd->f->lock, cur, fd->f->seen_min, fd->f->seen_max, want,
                                &page));
        size_t count = page->elements / 2;
        cf_err_t rc = count ? s_round(store, page, fd, &full) : CF_OK;
        if (rc == CF_OK && count)
            snprintf(cur, sizeof(cur), "%s:%s", page->element[2 * count - 1]->str,
                     page->element[2 * count - 2]->str);
        freeReplyObject(page);
        left -= count;
        if (rc != CF_OK || full)
            return rc; /* a full page: cursor_out names its last agent */
        if (count < want)
            return CF_OK; /* the walk is done: cursor_out stays "" */
        if (left == 0) {
            memcpy(fd->cursor_out, cur, sizeof(cur));
            return CF_OK;
        }
    }
}

cf_err_t cf_db_agent_find(cf_store_t *store, const cf_db_agent_filter_t *f, const char *cursor,
                          size_t limit, size_t scan, cf_db_agent_t **list_out, size_t *n_out,
                          char *cursor_out)
{
    CF_ASSERT(store && f && list_out && n_out && cursor_out);
    char from[CF_DB_CURSOR_MAX]; /* cursor may be cursor_out */
    snprintf(from, sizeof(from), "%s", cursor ? cursor : "");
    *list_out = NULL;
    *n_out = 0;
    cursor_out[0] = '\0';
    if ((cursor && strnlen(cursor, CF_DB_CURSOR_MAX) == CF_DB_CURSOR_MAX) || limit == 0 ||
        limit > CF_DB_PAGE_MAX || scan == 0 || scan > CF_DB_SCAN_MAX || f->seen_min < 0 ||
        f->seen_max < f->seen_min)
        return cf_db_fail(store, CF_ERR_INVALID, "agent find: bad limit, scan or window");
    s_find_t fd = {f, cf_mem_calloc(limit, sizeof(cf_db_agent_t)), 0, limit, cursor_out};
    if (!fd.list)
        return cf_db_fail(store, CF_ERR_NOMEM, "out of memory");
    cf_err_t rc = s_walk(store, &fd, from, scan);
    if (rc != CF_OK) {
        cf_mem_free(fd.list);
        cursor_out[0] = '\0';
        return rc;
    }
    *list_out = fd.list;
    *n_out = fd.n;
    return CF_OK;
}
