/*  cf_link_io - the link thread's frames: send without blocking, read and dispatch  */
#include "cf_link_int.h"

#include <errno.h>
#include <string.h>

#include "cf_log.h"
#include "cf_mem.h"
#include "cf_zsock.h"

size_t cf_link_broker_index(const cf_link_t *self, const char *z85)
{
    for (size_t i = 0; z85 && i < self->n_brokers; i++) {
        if (strcmp(self->broker_z85[i], z85) == 0)
            return i;
    }
    return self->n_brokers;
}

/* Send broker's batch (emptied in every case). */
static void s_flush_one(cf_link_t *self, size_t broker)
{
    cf_msg_batch_t *b = self->out[broker];
    size_t n = cf_msg_batch_count(b);
    if (n == 0)
        return;
    int sent = 0, err = EIO;
    if (self->dealers[broker]) {
        cf_msg_frame_t w[CF_MSG_FRAMES];
        cf_msg_batch_view(b, w);
        void *h = zsock_resolve(self->dealers[broker]);
        /* never block the thread: a full queue (broker away too long) drops the batch */
        sent = zmq_send(h, w[0].data, w[0].len, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0;
        /* the first frame went: the second cannot hit the high-water mark (one message) */
        if (sent)
            sent = zmq_send(h, w[1].data, w[1].len, 0) >= 0;
        err = sent ? 0 : zmq_errno();
    }
    cf_msg_batch_reset(b);
    if (sent) {
        cf_app_count(self->app, CF_APP_LINK_BATCHES, 1);
        return;
    }
    cf_app_count(self->app, CF_APP_LINK_DROPPED, n);
    cf_log(CF_LOG_WARN, "msg=\"batch not sent to the broker\" broker=%s messages=%zu why=%s",
           self->brokers[broker].endpoint, n, err == EAGAIN ? "queue full" : "link closed");
}

void cf_link_msg_flush(cf_link_t *self)
{
    for (size_t i = 0; i < self->n_brokers; i++)
        s_flush_one(self, i);
}

cf_err_t cf_link_msg_send(cf_link_t *self, size_t broker, const cf_msg_t *m)
{
    CF_ASSERT(broker < self->n_brokers);
    if (!self->dealers[broker])
        return CF_ERR_IO; /* closed until it is opened again */
    if (!self->out[broker])
        CF_TRY(cf_msg_batch_new(&self->out[broker]));
    cf_why_t why = {""};
    cf_err_t rc = cf_msg_batch_add(self->out[broker], m, &why);
    if (rc == CF_ERR_TOOBIG && cf_msg_batch_count(self->out[broker]) > 0) {
        s_flush_one(self, broker); /* full: this one starts the next batch */
        rc = cf_msg_batch_add(self->out[broker], m, &why);
    }
    if (rc != CF_OK)
        cf_log(CF_LOG_ERROR, "msg=\"cannot encode\" type=%s err=%s why=\"%s\"",
               cf_msg_type_name(m->type), cf_err_name(rc), cf_why_text(&why, rc));
    return rc;
}

/* An ERROR from a broker: offline leaves the entry pending (the check-in hands it out) and
   the agent's open jobs go out again a few times (cf_link_retry.h: it may have been
   between two connections). */
static void s_on_error(cf_link_t *self, size_t broker, const cf_msg_t *m)
{
    if (m->error == CF_MSG_ERR_OFFLINE) {
        cf_app_count(self->app, CF_APP_JOBS_OFFLINE, 1);
        int again = cf_link_retry_offline(self->retry, m->agent, broker, cf_link_now_ms());
        cf_log(CF_LOG_DEBUG,
               "msg=\"agent offline at broker; job waits\" broker=%s agent=%s job=%s retry=%s",
               self->brokers[broker].endpoint, m->agent, m->job_id, again ? "yes" : "no");
        return;
    }
    cf_log(CF_LOG_WARN, "msg=\"broker error\" broker=%s code=%s agent=%s job=%s text=\"%s\"",
           self->brokers[broker].endpoint, cf_msg_error_name(m->error), m->agent, m->job_id,
           m->text);
}

static void s_fact(cf_link_t *self, size_t broker, const cf_msg_t *m)
{
    cf_link_retry_forget(self->retry, m->agent); /* it is connected */
    if (self->n_batch == CF_LINK_BATCH_MAX)
        cf_link_jobs_flush(self, 0, 0); /* full: everything is stored now */
    cf_link_fact_t *f = &self->batch[self->n_batch++];
    memset(f, 0, sizeof(*f));
    f->broker = broker;
    f->type = m->type;
    f->outcome = m->outcome;
    memcpy(f->agent, m->agent, sizeof(f->agent));
    memcpy(f->job_id, m->job_id, sizeof(f->job_id));
    memcpy(f->reason, m->text, sizeof(f->reason));
    f->at_ms = cf_link_now_ms();
}

static void s_dispatch(cf_link_t *self, size_t broker, const cf_msg_t *m)
{
    switch (m->type) {
    case CF_MSG_HELLO:
        cf_app_count(self->app, CF_APP_LINK_HELLOS, 1);
        cf_link_jobs_hello(self, broker, m);
        break;
    case CF_MSG_RECEIPT:
    case CF_MSG_REPORT: s_fact(self, broker, m); break;
    case CF_MSG_ERROR: s_on_error(self, broker, m); break;
    default:
        cf_app_count(self->app, CF_APP_LINK_DROPPED, 1);
        cf_log(CF_LOG_WARN, "msg=\"unexpected message from broker\" broker=%s type=%s",
               self->brokers[broker].endpoint, cf_msg_type_name(m->type));
        break;
    }
}

/* Decode one message (two frames) and act on it. */
static void s_decode_one(cf_link_t *self, size_t broker, const cf_msg_frame_t *fr, size_t n)
{
    cf_msg_t m;
    cf_why_t why = {""};
    cf_err_t rc = cf_msg_decode(fr, n, &m, &why);
    if (rc != CF_OK) {
        cf_app_count(self->app, CF_APP_LINK_DROPPED, 1);
        cf_log(CF_LOG_WARN, "msg=\"dropped a broker message\" broker=%s err=%s why=\"%s\"",
               self->brokers[broker].endpoint, cf_err_name(rc), cf_why_text(&why, rc));
        return;
    }
    s_dispatch(self, broker, &m);
    cf_msg_clear(&m);
}

/* One message of a DEALER (no routing id): a BATCH of messages or a single one. */
static void s_one(cf_link_t *self, size_t broker, zmsg_t *zm)
{
    cf_msg_frame_t fr[CF_MSG_FRAMES];
    size_t n = zmsg_size(zm);
    zframe_t *f = zmsg_first(zm);
    for (size_t i = 0; f && i < CF_MSG_FRAMES; i++, f = zmsg_next(zm)) {
        fr[i].data = zframe_data(f);
        fr[i].len = zframe_size(f);
    }
    if (n > CF_MSG_FRAMES) {
        cf_app_count(self->app, CF_APP_LINK_DROPPED, 1);
        cf_log(CF_LOG_WARN, "msg=\"dropped a broker message\" broker=%s why=\"%zu frames\"",
               self->brokers[broker].endpoint, n);
        return;
    }
    if (!cf_msg_batch_is(fr, n)) {
        s_decode_one(self, broker, fr, n);
        return;
    }
    cf_msg_batch_iter_t it;
    cf_why_t why = {""};
    cf_err_t rc = cf_msg_batch_iter_init(&it, fr, n, &why);
    if (rc != CF_OK) {
        cf_app_count(self->app, CF_APP_LINK_DROPPED, 1);
        cf_log(CF_LOG_WARN, "msg=\"dropped a broker batch\" broker=%s err=%s why=\"%s\"",
               self->brokers[broker].endpoint, cf_err_name(rc), cf_why_text(&why, rc));
        return;
    }
    cf_msg_frame_t item[CF_MSG_FRAMES];
    while (cf_msg_batch_next(&it, item))
        s_decode_one(self, broker, item, CF_MSG_FRAMES);
}

void cf_link_msg_drain(cf_link_t *self, size_t broker)
{
    for (int i = 0; i < CF_LINK_TURN_MAX; i++) {
        zmsg_t *zm = NULL;
        cf_err_t rc = cf_zsock_recv(self->dealers[broker], CF_MSG_FRAMES + 1,
                                    CF_MSG_BATCH_MAX_WIRE + 64, ZMQ_DONTWAIT, &zm, NULL);
        if (rc == CF_ERR_NOTFOUND)
            return;
        if (rc == CF_OK)
            s_one(self, broker, zm);
        else
            cf_app_count(self->app, CF_APP_LINK_DROPPED, 1);
        zmsg_destroy(&zm);
        if (rc == CF_ERR_IO)
            return;
    }
}
