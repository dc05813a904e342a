/*  cf_link_conn - the link's DEALERs and their monitors: reopen a link the broker refused  */
#include "cf_link_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cf_log.h"
#include "cf_zsock.h"

#define S_EVENTS                                                                  \
    (ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |            \
     ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | \
     ZMQ_EVENT_DISCONNECTED)

int64_t cf_link_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

cf_err_t cf_link_conn_open(cf_link_t *self, size_t i, cf_why_t *why)
{
    cf_zsock_cfg_t zcfg;
    cf_zsock_cfg_init(&zcfg);
    /* one link carries every agent's traffic: a fleet-wide job's copies, and the burst of
       receipts and reports that answers it (the broker's --server-hwm on its side) */
    zcfg.sndhwm = zcfg.rcvhwm = CF_LINK_HWM;
    /* named by the link's own fresh key, not its address: a link made where a freed one
       was (a test process makes several) got the same name while libzmq still held the
       old monitor's endpoint, and its monitor failed with "address in use" */
    unsigned long long tag = 0;
    for (size_t k = 0; k < sizeof(tag); k++)
        tag = tag << 8 | self->kp.pub[k];
    char ep[96];
    snprintf(ep, sizeof(ep), "inproc://cf-link-mon-%016llx-%zu-%u", tag, i, ++self->generation);
    /* the monitor and its reader are set up before the DEALER connects: no event is missed
       (a refusal seen by nobody would leave the link closed for good) */
    CF_TRY(cf_zsock_curve_dealer_mon(&self->brokers[i], &self->kp, self->rid, &zcfg, ep, S_EVENTS,
                                     &self->mons[i], &self->dealers[i], why));
    self->up[i] = 0;
    self->retry_at[i] = 0;
    return CF_OK;
}

void cf_link_conn_close(cf_link_t *self, size_t i)
{
    /* stop the monitor before closing its reader: libzmq blocks for good on an event it
       cannot deliver */
    if (self->dealers[i] && self->mons[i])
        zmq_socket_monitor(zsock_resolve(self->dealers[i]), NULL, 0);
    zsock_destroy(&self->mons[i]);
    zsock_destroy(&self->dealers[i]);
    self->up[i] = 0;
}

static void s_refused(cf_link_t *self, size_t i, const char *what, uint32_t value)
{
    if (!self->retry_ms[i])
        self->retry_ms[i] = CF_LINK_RETRY_MS;
    cf_log(CF_LOG_WARN,
           "msg=\"broker refused the link; opening it again\" broker=%s why=%s status=%u "
           "in_ms=%d",
           self->brokers[i].endpoint, what, value, self->retry_ms[i]);
    self->retry_at[i] = cf_link_now_ms() + self->retry_ms[i];
    self->retry_ms[i] =
        self->retry_ms[i] * 2 > CF_LINK_RETRY_MAX ? CF_LINK_RETRY_MAX : self->retry_ms[i] * 2;
}

void cf_link_conn_event(cf_link_t *self, size_t i)
{
    zmsg_t *msg = zmsg_recv(self->mons[i]);
    zframe_t *head = msg ? zmsg_first(msg) : NULL;
    uint16_t ev = 0;
    uint32_t value = 0;
    if (head && zframe_size(head) == 6) {
        memcpy(&ev, zframe_data(head), 2);
        memcpy(&value, zframe_data(head) + 2, 4);
    }
    zmsg_destroy(&msg);
    if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
        self->up[i] = 1;
        self->retry_ms[i] = 0;
        cf_log(CF_LOG_INFO, "msg=\"broker link up\" broker=%s", self->brokers[i].endpoint);
    } else if (ev == ZMQ_EVENT_DISCONNECTED && self->up[i]) {
        self->up[i] = 0; /* libzmq reconnects this one by itself */
        cf_log(CF_LOG_WARN, "msg=\"broker link down\" broker=%s", self->brokers[i].endpoint);
    } else if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
        s_refused(self, i, "auth", value);
    } else if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
               ev == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
        s_refused(self, i, "handshake", value);
    }
}

int cf_link_conn_tick(cf_link_t *self, int max_ms)
{
    int64_t now = cf_link_now_ms();
    int wait = max_ms;
    for (size_t i = 0; i < self->n_brokers; i++) {
        if (!self->retry_at[i])
            continue;
        if (self->retry_at[i] > now) {
            wait = self->retry_at[i] - now < wait ? (int) (self->retry_at[i] - now) : wait;
            continue;
        }
        cf_link_conn_close(self, i);
        cf_why_t why = {""};
        cf_err_t rc = cf_link_conn_open(self, i, &why);
        if (rc != CF_OK) { /* try again later; the broker stays unreachable meanwhile */
            cf_link_conn_close(self, i);
            cf_log(CF_LOG_ERROR, "msg=\"cannot open the broker link\" broker=%s err=%s why=\"%s\"",
                   self->brokers[i].endpoint, cf_err_name(rc), cf_why_text(&why, rc));
            s_refused(self, i, "open", 0);
        }
    }
    return wait;
}
