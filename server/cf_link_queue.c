/*  cf_link_queue - job ids for the link thread  */
#include "cf_link_queue.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cf_mem.h"

#define S_CAP_MAX 65536 /* largest ring */

cf_err_t cf_link_queue_init(cf_link_queue_t *q, size_t cap)
{
    if (!q)
        return CF_ERR_INVALID;
    memset(q, 0, sizeof(*q));
    q->fd = -1;
    if (cap < 1 || cap > S_CAP_MAX)
        return CF_ERR_INVALID;
    pthread_mutex_init(&q->lock, NULL);
    q->cap = cap;
    q->ids = cf_mem_calloc(cap, sizeof(*q->ids));
    if (!q->ids)
        return CF_ERR_NOMEM;
    q->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return q->fd >= 0 ? CF_OK : CF_ERR_IO;
}

void cf_link_queue_fini(cf_link_queue_t *q)
{
    if (!q || !q->cap)
        return;
    if (q->fd >= 0)
        close(q->fd);
    cf_mem_free(q->ids);
    pthread_mutex_destroy(&q->lock);
    memset(q, 0, sizeof(*q));
    q->fd = -1;
}

static int s_is_job_id(const char *id)
{
    size_t n = 0, zeros = 0;
    for (; id[n] && n <= CF_JOB_ID_HEX; n++) {
        char c = id[n];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
        zeros += c == '0';
    }
    return n == CF_JOB_ID_HEX && zeros < CF_JOB_ID_HEX;
}

cf_err_t cf_link_queue_push(cf_link_queue_t *q, const char *job_id)
{
    if (!q || !q->ids || !job_id || !s_is_job_id(job_id))
        return CF_ERR_INVALID;
    pthread_mutex_lock(&q->lock);
    cf_err_t rc = CF_ERR_TOOBIG;
    if (q->n < q->cap) {
        memcpy(q->ids[(q->head + q->n) % q->cap], job_id, CF_JOB_ID_HEX + 1);
        q->n++;
        rc = CF_OK;
    }
    pthread_mutex_unlock(&q->lock);
    if (rc == CF_OK) {
        uint64_t one = 1;
        /* the counter saturates far beyond cap: a failed write still leaves it readable */
        while (write(q->fd, &one, sizeof(one)) < 0 && errno == EINTR)
            ;
    }
    return rc;
}

int cf_link_queue_pop(cf_link_queue_t *q, char out[CF_JOB_ID_HEX + 1])
{
    pthread_mutex_lock(&q->lock);
    int got = q->n > 0;
    if (got) {
        memcpy(out, q->ids[q->head], CF_JOB_ID_HEX + 1);
        q->head = (q->head + 1) % q->cap;
        q->n--;
    } else {
        /* drained under the lock: a push after this makes the fd readable again */
        uint64_t v;
        while (read(q->fd, &v, sizeof(v)) < 0 && errno == EINTR)
            ;
    }
    pthread_mutex_unlock(&q->lock);
    return got;
}

int cf_link_queue_pending(cf_link_queue_t *q)
{
    pthread_mutex_lock(&q->lock);
    int n = q->n > 0;
    pthread_mutex_unlock(&q->lock);
    return n;
}

int cf_link_queue_fd(const cf_link_queue_t *q)
{
    return q->fd;
}
