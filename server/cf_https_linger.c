/*  cf_https_linger - lingering close after a fatal TLS alert, so the client reads the alert  */
#include "cf_https_int.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cf_mem.h"

/* One socket being drained before its close (owned by the worker's list). */
struct cf_https_linger {
    cf_https_worker_t *w;         /* its worker */
    int fd;                       /* the socket (owned: closed with the record) */
    struct event *ev;             /* one-shot read event with the time left as timeout */
    struct timespec deadline;     /* CLOCK_MONOTONIC: the socket closes by then */
    size_t drained;               /* bytes read and dropped so far */
    struct cf_https_linger *prev; /* list links (w->lingers) */
    struct cf_https_linger *next; /* ... */
};

int cf_https_linger_cap(const cf_https_worker_t *w)
{
    int cap = w->owner->cfg.max_conns / CF_HTTPS_LINGER_SHARE;
    return cap > 0 ? cap : 1;
}

static void s_end(cf_https_linger_t *l)
{
    cf_https_worker_t *w = l->w;
    if (l->prev)
        l->prev->next = l->next;
    else
        w->lingers = l->next;
    if (l->next)
        l->next->prev = l->prev;
    w->lingering--;
    event_free(l->ev); /* before the close: the descriptor is never reused under an event */
    close(l->fd);
    cf_mem_free(l);
}

/* Milliseconds left until the deadline (0 when past). */
static long s_left_ms(const cf_https_linger_t *l)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ms = (long) (l->deadline.tv_sec - now.tv_sec) * 1000 +
              (l->deadline.tv_nsec - now.tv_nsec) / 1000000;
    return ms > 0 ? ms : 0;
}

/* Wait for the next bytes, at most until the deadline. 0 when the event could be added. */
static int s_wait(cf_https_linger_t *l)
{
    long ms = s_left_ms(l);
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    return ms > 0 ? event_add(l->ev, &tv) : -1;
}

/* Readable or out of time. One read per wake-up (level-triggered: more bytes wake it again
   in the next turn); EOF, an error, the byte cap or the deadline ends it. */
static void s_on_read(evutil_socket_t fd, short what, void *arg)
{
    cf_https_linger_t *l = arg;
    if (what & EV_READ) {
        char buf[4096];
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        int again = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
        if (n > 0)
            l->drained += (size_t) n;
        if ((n > 0 || again) && l->drained < CF_HTTPS_LINGER_BYTES && s_wait(l) == 0)
            return;
    }
    s_end(l);
}

int cf_https_linger_take(cf_https_worker_t *w, int fd)
{
    if (fd < 0 || w->lingering >= cf_https_linger_cap(w))
        return 0; /* over the cap: closed at once, as without lingering */
    cf_https_linger_t *l = cf_mem_calloc(1, sizeof(*l));
    if (!l)
        return 0;
    l->w = w;
    l->fd = fd;
    clock_gettime(CLOCK_MONOTONIC, &l->deadline);
    l->deadline.tv_sec += CF_HTTPS_LINGER_MS / 1000;
    l->deadline.tv_nsec += (long) (CF_HTTPS_LINGER_MS % 1000) * 1000000;
    if (l->deadline.tv_nsec >= 1000000000) {
        l->deadline.tv_sec++;
        l->deadline.tv_nsec -= 1000000000;
    }
    l->ev = event_new(w->base, fd, EV_READ, s_on_read, l);
    if (!l->ev || s_wait(l) != 0) {
        if (l->ev)
            event_free(l->ev);
        cf_mem_free(l);
        return 0;
    }
    /* the alert is in the socket already (OpenSSL reports it once written): our FIN
       follows it, and the client reads both, its request drained here meanwhile */
    (void) shutdown(fd, SHUT_WR);
    l->next = w->lingers;
    if (l->next)
        l->next->prev = l;
    w->lingers = l;
    w->lingering++;
    return 1;
}

void cf_https_linger_free_all(cf_https_worker_t *w)
{
    while (w->lingers)
        s_end(w->lingers);
}
