/*  cf_broker_batch - the server side's batches: agents' messages packed for one server, and
    the answers to a server's batch packed back to it (docs/PROTOCOL.md, "Batches")  */
#include "cf_broker_int.h"

#include <stdio.h>
#include <string.h>

#include "cf_log.h"
#include "cf_mem.h"

cf_err_t cf_broker_outbox_init(cf_broker_outbox_t *box)
{
    memset(box, 0, sizeof(*box));
    CF_TRY(cf_msg_batch_new(&box->batch));
    box->items = cf_mem_calloc(CF_MSG_BATCH_MAX_ITEMS, sizeof(*box->items));
    return box->items ? CF_OK : CF_ERR_NOMEM;
}

void cf_broker_outbox_clear(cf_broker_outbox_t *box)
{
    cf_msg_batch_destroy(&box->batch);
    cf_mem_free(box->items);
    memset(box, 0, sizeof(*box));
}

/* Send the batch in box to the server rid (its frames are views: libzmq copies once). */
static cf_err_t s_send_box(cf_broker_t *self, const cf_broker_outbox_t *box, const void *rid,
                           size_t rid_len)
{
    cf_msg_frame_t w[CF_MSG_FRAMES];
    cf_msg_batch_view(box->batch, w);
    return cf_broker_io_send(self, CF_BROKER_SERVERS, rid, rid_len, w, CF_MSG_FRAMES);
}

static void s_count_out(cf_broker_t *self, const cf_broker_outbox_t *box)
{
    size_t n = cf_msg_batch_count(box->batch);
    for (size_t i = 0; i < n; i++)
        self->stats.out[CF_BROKER_SERVERS][box->items[i].type]++;
    self->stats.batches_out++;
}

static void s_reset(cf_broker_outbox_t *box)
{
    cf_msg_batch_reset(box->batch);
}

/* None of the servers took the batch: each agent hears ERROR internal and sends again. */
static void s_up_undeliverable(cf_broker_t *self)
{
    cf_broker_outbox_t *box = &self->up;
    size_t n = cf_msg_batch_count(box->batch);
    self->stats.drops[CF_BROKER_DROP_NO_SERVER] += n;
    cf_log(CF_LOG_WARN, "msg=\"no server reachable\" messages=%zu servers_listed=%zu", n,
           self->n_servers);
    for (size_t i = 0; i < n; i++) {
        const cf_broker_item_t *it = &box->items[i];
        cf_broker_io_answer(self, CF_BROKER_AGENTS, it->agent, strlen(it->agent),
                            CF_MSG_ERR_INTERNAL, it->agent, it->job_id,
                            "no server reachable; send again later");
    }
}

void cf_broker_up_flush(cf_broker_t *self)
{
    cf_broker_outbox_t *box = &self->up;
    if (cf_msg_batch_count(box->batch) == 0)
        return;
    for (size_t k = 0; k < self->n_servers; k++) {
        size_t i = (self->rr + k) % self->n_servers;
        const char *sid = self->servers[i];
        cf_err_t rc = s_send_box(self, box, sid, strlen(sid));
        if (rc == CF_OK) {
            self->rr = i + 1;
            s_count_out(self, box);
            s_reset(box);
            return;
        }
        if (rc == CF_ERR_TOOBIG)
            self->stats.send_full[CF_BROKER_SERVERS]++;
    }
    s_up_undeliverable(self);
    s_reset(box);
}

/* Note the item's facts for counting and for ERROR answers. */
static void s_note(cf_broker_outbox_t *box, const cf_msg_t *m)
{
    cf_broker_item_t *it = &box->items[cf_msg_batch_count(box->batch) - 1];
    it->type = m->type;
    snprintf(it->agent, sizeof(it->agent), "%s", m->agent);
    snprintf(it->job_id, sizeof(it->job_id), "%s", m->job_id);
}

void cf_broker_up_turn(cf_broker_t *self)
{
    cf_broker_outbox_t *box = &self->up;
    size_t n = cf_msg_batch_count(box->batch);
    if (n == 0)
        return;
    int64_t wait = self->gather_ms > 0 ? box->first_ms + self->gather_ms - zclock_mono() : 0;
    if (wait <= 0 || n >= CF_BROKER_GATHER_MAX) {
        evtimer_del(self->ev_gather); /* armed for this batch: nothing left to wait for */
        cf_broker_up_flush(self);
        return;
    }
    if (evtimer_pending(self->ev_gather, NULL))
        return; /* armed for this batch's first message, or sooner: looks again then */
    struct timeval tv = {(time_t) (wait / 1000), (suseconds_t) (wait % 1000) * 1000};
    if (evtimer_add(self->ev_gather, &tv) != 0) {
        cf_log(CF_LOG_WARN, "msg=\"gather timer not armed; batch sent now\" messages=%zu", n);
        cf_broker_up_flush(self);
    }
}

void cf_broker_up_on_due(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    cf_broker_t *self = arg;
    cf_broker_up_turn(self);
    cf_broker_io_kick(self); /* a send can eat the ZMQ_FD edge (cf_broker_io_kick) */
}

void cf_broker_up_add(cf_broker_t *self, const cf_msg_frame_t *frames, const cf_msg_t *m)
{
    cf_broker_outbox_t *box = &self->up;
    if (cf_msg_batch_count(box->batch) == 0)
        box->first_ms = zclock_mono();
    cf_err_t rc = cf_msg_batch_add_frames(box->batch, frames, CF_MSG_FRAMES);
    if (rc == CF_ERR_TOOBIG) {
        cf_broker_up_flush(self);
        box->first_ms = zclock_mono();
        rc = cf_msg_batch_add_frames(box->batch, frames, CF_MSG_FRAMES);
    }
    if (rc == CF_OK) {
        s_note(box, m);
        if (cf_msg_batch_count(box->batch) >= CF_BROKER_GATHER_MAX)
            cf_broker_up_turn(self); /* full enough: it goes now, not at the turn's end */
        return;
    }
    self->stats.drops[CF_BROKER_DROP_NO_SERVER]++;
    cf_log(CF_LOG_ERROR, "msg=\"message not batched\" agent=%s err=%s", m->agent, cf_err_name(rc));
    cf_broker_io_answer(self, CF_BROKER_AGENTS, m->agent, strlen(m->agent), CF_MSG_ERR_INTERNAL,
                        m->agent, m->job_id, "broker out of memory; send again later");
}

int cf_broker_answer_add(cf_broker_t *self, const cf_msg_t *m)
{
    cf_broker_outbox_t *box = &self->answers;
    if (!self->answer_rid)
        return 0; /* not inside a server's batch: answer alone */
    cf_err_t rc = cf_msg_batch_add(box->batch, m, NULL);
    if (rc == CF_ERR_TOOBIG) {
        cf_broker_answer_flush(self);
        rc = cf_msg_batch_add(box->batch, m, NULL);
    }
    if (rc != CF_OK)
        return 0;
    s_note(box, m);
    return 1;
}

void cf_broker_answer_flush(cf_broker_t *self)
{
    cf_broker_outbox_t *box = &self->answers;
    if (!self->answer_rid || cf_msg_batch_count(box->batch) == 0)
        return;
    cf_err_t rc = s_send_box(self, box, self->answer_rid, self->answer_rid_len);
    if (rc == CF_OK)
        s_count_out(self, box);
    else if (rc == CF_ERR_TOOBIG)
        self->stats.send_full[CF_BROKER_SERVERS]++;
    else
        self->stats.send_unreachable[CF_BROKER_SERVERS]++;
    s_reset(box);
}
