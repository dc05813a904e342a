/*  cf_link_queue - the job ids HTTPS workers hand the link thread: a bounded, locked ring
    with an eventfd the thread polls  */
#ifndef CF_LINK_QUEUE_H_INCLUDED
#define CF_LINK_QUEUE_H_INCLUDED

#include <pthread.h>
#include <stddef.h>

#include "cf_err.h"
#include "cf_job.h"

typedef struct {
    pthread_mutex_t lock;           /* guards head, n and ids */
    char (*ids)[CF_JOB_ID_HEX + 1]; /* ring of cap entries, owned */
    size_t cap;                     /* entries in ids */
    size_t head;                    /* index of the oldest id */
    size_t n;                       /* ids waiting */
    int fd;                         /* eventfd: readable while ids wait, owned */
} cf_link_queue_t;

/* An empty queue of cap (1..65536) ids. Errors: CF_ERR_INVALID, CF_ERR_NOMEM, CF_ERR_IO
   (eventfd). On failure *q is safe to cf_link_queue_fini. */
CF_MUST_USE cf_err_t cf_link_queue_init(cf_link_queue_t *q, size_t cap);
/* Free what q owns; safe on a zeroed or failed queue, and to repeat. */
void cf_link_queue_fini(cf_link_queue_t *q);
/* Append a job id (32 lowercase hex, not all zero); any thread. Errors: CF_ERR_INVALID
   (not a job id), CF_ERR_TOOBIG (full: nothing queued). */
CF_MUST_USE cf_err_t cf_link_queue_push(cf_link_queue_t *q, const char *job_id);
/* Take the oldest id into out; 1 if one was taken, 0 when the queue is empty (the eventfd
   is then drained, so a poll waits for the next push). */
int cf_link_queue_pop(cf_link_queue_t *q, char out[CF_JOB_ID_HEX + 1]);
/* 1 when ids wait (a snapshot: another thread may push right after). */
int cf_link_queue_pending(cf_link_queue_t *q);
/* The descriptor to poll for input (readable while ids may wait). */
int cf_link_queue_fd(const cf_link_queue_t *q);

#endif
