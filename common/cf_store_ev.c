/*  cf_store_ev - libevent glue for hiredis async contexts (after adapters/libevent.h)  */
#include "cf_store_ev.h"

#include "cf_mem.h"

typedef struct {
    redisAsyncContext *ac;        /* the context served, borrowed */
    struct event *rev;            /* readable */
    struct event *wev;            /* writable */
    cf_store_caps_t *caps;        /* limits of ac's reader, borrowed */
    cf_store_ev_over_fn *on_over; /* unparsed bytes over the cap */
    void *arg;                    /* for on_over */
} s_ev_t;

static void s_on_read(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    s_ev_t *e = arg;
    if (cf_store_caps_over_unread(e->caps, e->ac->c.reader)) {
        event_del(e->rev);
        e->on_over(e->arg, e->ac);
        return;
    }
    cf_store_caps_begin_batch(e->caps); /* no round trips here: each read is a batch */
    redisAsyncHandleRead(e->ac);
}

static void s_on_write(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    redisAsyncHandleWrite(((s_ev_t *) arg)->ac);
}

static void s_add_read(void *arg)
{
    event_add(((s_ev_t *) arg)->rev, NULL);
}

static void s_del_read(void *arg)
{
    event_del(((s_ev_t *) arg)->rev);
}

static void s_add_write(void *arg)
{
    event_add(((s_ev_t *) arg)->wev, NULL);
}

static void s_del_write(void *arg)
{
    event_del(((s_ev_t *) arg)->wev);
}

static void s_cleanup(void *arg)
{
    s_ev_t *e = arg;
    if (e->rev)
        event_free(e->rev);
    if (e->wev)
        event_free(e->wev);
    cf_mem_free(e);
}

cf_err_t cf_store_ev_attach(redisAsyncContext *ac, struct event_base *base, cf_store_caps_t *caps,
                            cf_store_ev_over_fn *on_over, void *arg)
{
    CF_ASSERT(ac && base && caps && on_over);
    if (ac->ev.data)
        return CF_ERR_STATE;
    s_ev_t *e = cf_mem_calloc(1, sizeof(*e));
    if (!e)
        return CF_ERR_NOMEM;
    e->ac = ac;
    e->caps = caps;
    e->on_over = on_over;
    e->arg = arg;
    /* persistent: hiredis asks for reading again after every read, which with a one-shot
       event costs an epoll_ctl per read (libevent's changelist sees delete then add) */
    e->rev = event_new(base, ac->c.fd, EV_READ | EV_PERSIST, s_on_read, e);
    e->wev = event_new(base, ac->c.fd, EV_WRITE, s_on_write, e);
    if (!e->rev || !e->wev) {
        s_cleanup(e);
        return CF_ERR_NOMEM;
    }
    cf_store_caps_attach(ac->c.reader, caps);
    ac->ev.addRead = s_add_read;
    ac->ev.delRead = s_del_read;
    ac->ev.addWrite = s_add_write;
    ac->ev.delWrite = s_del_write;
    ac->ev.cleanup = s_cleanup;
    ac->ev.data = e;
    /* as the stock adapter: wait for the connect to finish (writable) and for data */
    event_add(e->rev, NULL);
    event_add(e->wev, NULL);
    return CF_OK;
}
