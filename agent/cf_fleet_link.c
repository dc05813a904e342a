/*  cf_fleet_link - the fleet's DEALERs: open, read, link state, HELLO, send, timers  */
#include "cf_fleet_int.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

#include <sodium.h>

#include "cf_log.h"
#include "cf_mem.h"

/* Link state without a monitor socket per agent (that would cost two more descriptors
   each): every DEALER has ZMQ_IMMEDIATE, so libzmq attaches its pipe only once the CURVE
   handshake is done and detaches it when the connection dies. ZMQ_POLLOUT in ZMQ_EVENTS
   is therefore "the link is up", and a change of it wakes the socket's ZMQ_FD. */

static cf_err_t s_set(void *h, int option, const void *value, size_t len)
{
    return zmq_setsockopt(h, option, value, len) == 0 ? CF_OK : CF_ERR_INVALID;
}

static cf_err_t s_tune(const cf_fleet_t *f, const cf_fleet_agent_t *ag, void *h)
{
    cf_why_t why = {""};
    int one = 1;
    /* cf_zsock_apply resolves its socket with zsock_resolve, which takes a plain libzmq
       handle as well (CZMQ's socket arguments are polymorphic): one tuning for every
       certfleet socket, although these live in the fleet's own context. */
    cf_err_t rc = cf_zsock_apply((zsock_t *) h, &f->zcfg, &why);
    if (rc != CF_OK)
        cf_log(CF_LOG_ERROR, "agent=%s socket_options=\"%s\"", ag->id, cf_why_text(&why, rc));
    if (rc == CF_OK)
        rc = s_set(h, ZMQ_IMMEDIATE, &one, sizeof(one));
    if (rc == CF_OK)
        rc = s_set(h, ZMQ_CURVE_SERVERKEY, f->brokers[ag->broker].pub, CF_CURVE_KEY_LEN);
    if (rc == CF_OK)
        rc = s_set(h, ZMQ_CURVE_PUBLICKEY, ag->kp.pub, CF_CURVE_KEY_LEN);
    if (rc == CF_OK)
        rc = s_set(h, ZMQ_CURVE_SECRETKEY, ag->kp.sec, CF_CURVE_KEY_LEN);
    if (rc == CF_OK)
        rc = s_set(h, ZMQ_ROUTING_ID, ag->id, strlen(ag->id));
    return rc;
}

/* Timers are one scan over every agent, so the scans are at least CF_FLEET_TICK_MS apart:
   ten thousand agents with their resends spread over a second cost a hundred scans, not
   ten thousand. */
/* 0.5..1 x failover_ms: agents that lost one broker together do not all move at once. */
static int64_t s_failover_delay(const cf_fleet_t *f)
{
    uint32_t b = (uint32_t) f->cfg.failover_ms;
    return (int64_t) (b - b / 2) + (int64_t) randombytes_uniform(b / 2 + 1);
}

/* How long a fresh DEALER may take to come up before it is opened again: 1 s, doubling with
   each one that did not (a refused handshake is never retried by libzmq), jittered
   0.5..1x, never past the failover time. */
static int64_t s_open_wait(const cf_fleet_t *f, const cf_fleet_agent_t *ag)
{
    uint32_t b = CF_FLEET_OPEN_WAIT_MS << (ag->opens < 5 ? ag->opens : 5);
    b = b < (uint32_t) f->cfg.failover_ms ? b : (uint32_t) f->cfg.failover_ms;
    return (int64_t) (b - b / 2) + (int64_t) randombytes_uniform(b / 2 + 1);
}

void cf_fleet_link_wake(cf_fleet_t *f, int64_t at_ms)
{
    if (at_ms <= 0)
        return;
    if (at_ms < f->last_scan + CF_FLEET_TICK_MS)
        at_ms = f->last_scan + CF_FLEET_TICK_MS;
    if (!f->next_due || at_ms < f->next_due)
        f->next_due = at_ms;
}

cf_err_t cf_fleet_link_open(cf_fleet_t *f, size_t a)
{
    cf_fleet_agent_t *ag = &f->agents[a];
    if (!ag->online || ag->sock)
        return CF_OK;
    /* whatever happens below, look again: soon (a refused handshake), and on the next
       broker once a failover period has passed without a link */
    int64_t now = zclock_mono();
    if (!ag->failover_at || ag->failover_at <= now)
        ag->failover_at = now + s_failover_delay(f);
    ag->link_deadline = now + s_open_wait(f, ag);
    if (ag->link_deadline > ag->failover_at)
        ag->link_deadline = ag->failover_at;
    cf_fleet_link_wake(f, ag->link_deadline);
    void *h = zmq_socket(f->zctx, ZMQ_DEALER);
    if (!h) {
        cf_log(CF_LOG_ERROR, "agent=%s socket=\"%s\"", ag->id, zmq_strerror(zmq_errno()));
        return zmq_errno() == EMFILE ? CF_ERR_TOOBIG : CF_ERR_IO;
    }
    int fd = -1;
    size_t fd_len = sizeof(fd);
    cf_err_t rc = s_tune(f, ag, h);
    if (rc == CF_OK && zmq_connect(h, f->brokers[ag->broker].endpoint) != 0)
        rc = CF_ERR_IO;
    if (rc == CF_OK && zmq_getsockopt(h, ZMQ_FD, &fd, &fd_len) != 0)
        rc = CF_ERR_IO;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = a};
    if (rc == CF_OK && epoll_ctl(f->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
        rc = CF_ERR_IO;
    if (rc != CF_OK) {
        cf_log(CF_LOG_ERROR, "agent=%s broker=%s connect=\"%s\"", ag->id,
               f->brokers[ag->broker].endpoint, zmq_strerror(zmq_errno()));
        zmq_close(h);
        return rc;
    }
    ag->sock = h;
    ag->fd = fd;
    ag->link_up = 0;
    return CF_OK;
}

void cf_fleet_link_close(cf_fleet_t *f, size_t a)
{
    cf_fleet_agent_t *ag = &f->agents[a];
    if (!ag->sock)
        return;
    (void) epoll_ctl(f->epfd, EPOLL_CTL_DEL, ag->fd, NULL);
    zmq_close(ag->sock);
    ag->sock = NULL;
    ag->fd = -1;
    if (ag->link_up)
        f->stats.disconnects++;
    ag->link_up = 0;
    ag->link_deadline = 0;
}

static void s_hello(cf_fleet_t *f, size_t a)
{
    cf_fleet_agent_t *ag = &f->agents[a];
    cf_msg_t m;
    cf_msg_init(&m, CF_MSG_HELLO);
    snprintf(m.agent, sizeof(m.agent), "%s", ag->id);
    m.proto = f->cfg.proto;
    snprintf(m.text, sizeof(m.text), "%s", f->sw_version);
    if (cf_fleet_link_send(f, a, &m) == CF_OK)
        ag->counts.hellos++;
}

/* Follow the link: up (POLLOUT) says HELLO and brings resends forward; down starts the
   failover clock. */
static void s_link_state(cf_fleet_t *f, size_t a, int writable)
{
    cf_fleet_agent_t *ag = &f->agents[a];
    int64_t now = zclock_mono();
    if (writable && !ag->link_up) {
        ag->link_up = 1;
        ag->link_deadline = 0;
        ag->failover_at = 0;
        ag->opens = 0;
        ag->hello_ms = 0;
        ag->hello_backoff_ms = 0;
        f->stats.connects++;
        s_hello(f, a);
        cf_fleet_agent_on_connect(f, a, now);
        if (f->cfg.on_link)
            f->cfg.on_link(f->cfg.hook_ctx, a);
    } else if (!writable && ag->link_up) {
        ag->link_up = 0;
        f->stats.disconnects++;
        ag->link_deadline = now + s_failover_delay(f); /* libzmq reconnects meanwhile */
        ag->failover_at = ag->link_deadline;
        cf_fleet_link_wake(f, ag->link_deadline);
    }
}

/* Read one message (header and body frames) and hand it to the agent. */
static void s_recv_one(cf_fleet_t *f, size_t a)
{
    cf_fleet_agent_t *ag = &f->agents[a];
    zmq_msg_t parts[CF_MSG_FRAMES + 1];
    cf_msg_frame_t view[CF_MSG_FRAMES];
    size_t n = 0;
    int more = 1;
    while (more) {
        zmq_msg_t *part = &parts[n < CF_MSG_FRAMES ? n : CF_MSG_FRAMES];
        zmq_msg_init(part);
        if (zmq_msg_recv(part, ag->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(part);
            break;
        }
        more = zmq_msg_more(part);
        if (n < CF_MSG_FRAMES) {
            view[n].data = zmq_msg_data(part);
            view[n].len = zmq_msg_size(part);
        } else {
            zmq_msg_close(part); /* frames past the grammar: the message is refused */
        }
        n++;
    }
    cf_msg_t m;
    cf_why_t why = {""};
    cf_err_t rc = n <= CF_MSG_FRAMES ? cf_msg_decode(view, n, &m, &why) : CF_ERR_CORRUPT;
    for (size_t i = 0; i < n && i < CF_MSG_FRAMES; i++)
        zmq_msg_close(&parts[i]);
    if (rc != CF_OK) {
        f->stats.bad_msgs++;
        cf_log(CF_LOG_WARN, "agent=%s dropped=%s why=\"%s\"", ag->id, cf_err_name(rc),
               cf_why_text(&why, rc));
        return;
    }
    cf_fleet_agent_on_msg(f, a, &m);
    cf_msg_clear(&m);
}

void cf_fleet_link_service(cf_fleet_t *f, size_t a)
{
    cf_fleet_agent_t *ag = &f->agents[a];
    if (!ag->sock || ag->in_service)
        return;
    ag->in_service = 1;
    /* ZMQ_FD only says "look": read until ZMQ_EVENTS shows nothing more, or its next
       signal may never come (libzmq's edge-like notification). */
    while (ag->sock) {
        int events = 0;
        size_t len = sizeof(events);
        if (zmq_getsockopt(ag->sock, ZMQ_EVENTS, &events, &len) != 0)
            break;
        s_link_state(f, a, (events & ZMQ_POLLOUT) != 0);
        if (!(events & ZMQ_POLLIN))
            break;
        s_recv_one(f, a);
    }
    ag->in_service = 0;
}

cf_err_t cf_fleet_link_send(cf_fleet_t *f, size_t a, const cf_msg_t *m)
{
    cf_fleet_agent_t *ag = &f->agents[a];
    if (!ag->sock || !ag->link_up) {
        f->stats.send_fails++;
        return CF_ERR_IO;
    }
    cf_msg_frames_t fr;
    cf_why_t why = {""};
    cf_err_t rc = cf_msg_encode(m, &fr, &why);
    if (rc != CF_OK) {
        cf_log(CF_LOG_ERROR, "agent=%s encode=%s why=\"%s\"", ag->id, cf_msg_type_name(m->type),
               cf_why_text(&why, rc));
        return rc;
    }
    /* the body cannot fail once the header went: HWM counts whole messages */
    if (zmq_send(ag->sock, fr.data[0], fr.len[0], ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(ag->sock, fr.data[1], fr.len[1], ZMQ_DONTWAIT) < 0) {
        f->stats.send_fails++;
        rc = CF_ERR_IO;
    }
    cf_msg_frames_clear(&fr);
    return rc;
}

/* Agent a's link has been down (or absent) past its deadline: a fresh DEALER, to the same
   broker until the failover time, then to the next broker of the list (the same one when
   there is one). Fresh, because libzmq 4.3 never reconnects a DEALER whose handshake was
   refused (ZAP 400 is a protocol error to it): an agent whose key reached the broker's
   allow list a moment late would otherwise wait a whole failover period. */
static void s_failover(cf_fleet_t *f, size_t a, int64_t now_ms)
{
    cf_fleet_agent_t *ag = &f->agents[a];
    if (ag->sock && ag->failover_at && now_ms < ag->failover_at) {
        cf_fleet_link_close(f, a);
        ag->opens = ag->opens < UINT8_MAX ? (uint8_t) (ag->opens + 1) : ag->opens;
        f->stats.reopens++;
    } else if (ag->sock) {
        cf_fleet_link_close(f, a);
        ag->broker = (uint8_t) ((ag->broker + 1) % f->cfg.n_brokers);
        ag->failover_at = 0;
        ag->opens = 0;
        f->stats.failovers++;
        cf_log(CF_LOG_INFO, "agent=%s failover_to=%s", ag->id, f->brokers[ag->broker].endpoint);
    }
    if (cf_fleet_link_open(f, a) == CF_OK) /* a failure set the next attempt's time */
        cf_fleet_link_service(f, a);
}

void cf_fleet_link_hello_later(cf_fleet_t *f, size_t a, int64_t now_ms)
{
    cf_fleet_agent_t *ag = &f->agents[a];
    uint32_t b = ag->hello_backoff_ms ? ag->hello_backoff_ms * 2 : (uint32_t) f->cfg.resend_min_ms;
    ag->hello_backoff_ms =
        b > (uint32_t) f->cfg.resend_max_ms ? (uint32_t) f->cfg.resend_max_ms : b;
    ag->hello_ms = now_ms + (int64_t) (ag->hello_backoff_ms / 2) +
                   (int64_t) randombytes_uniform(ag->hello_backoff_ms / 2 + 1);
    cf_fleet_link_wake(f, ag->hello_ms);
}

/* A HELLO that is due goes out (the next ERROR, if any, sets the next one). */
static void s_hello_due(cf_fleet_t *f, size_t a, int64_t now_ms)
{
    cf_fleet_agent_t *ag = &f->agents[a];
    if (!ag->hello_ms || ag->hello_ms > now_ms)
        return;
    ag->hello_ms = 0;
    if (ag->link_up) {
        s_hello(f, a);
        cf_fleet_link_service(f, a); /* a send may have taken the socket's signal */
    }
}

void cf_fleet_link_timers(cf_fleet_t *f, int64_t now_ms)
{
    f->next_due = 0;
    f->last_scan = now_ms;
    for (size_t a = 0; a < f->cfg.count; a++) {
        cf_fleet_agent_t *ag = &f->agents[a];
        if (ag->online && ag->link_deadline && ag->link_deadline <= now_ms && !ag->link_up)
            s_failover(f, a, now_ms);
        s_hello_due(f, a, now_ms);
        cf_fleet_link_wake(f, ag->hello_ms);
        /* an ACK may wait in the socket unread (the thread was busy with other agents'
           messages, or its signal went to another turn): read it first, so that it stops
           the resend instead of crossing it (spurious resends of a busy fleet) */
        if (ag->sock && cf_fleet_agent_resend_due(f, a, now_ms))
            cf_fleet_link_service(f, a);
        int sent = 0;
        int64_t due = cf_fleet_agent_resend(f, a, now_ms, &sent);
        if (sent)
            cf_fleet_link_service(f, a); /* a send may have taken the socket's signal */
        cf_fleet_link_wake(f, due);
        if (ag->online && !ag->link_up)
            cf_fleet_link_wake(f, ag->link_deadline);
    }
}
