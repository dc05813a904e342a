/*  cf_broker_io - the broker's sockets: receive, decide (cf_broker_route), forward, answer  */
#include "cf_broker_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cf_log.h"
#include "cf_msg.h"

#define S_BATCH       256                   /* messages per callback before others get a turn */
#define S_RECV_FRAMES 8                     /* routing id + 2; more reach the decoder too */
#define S_RECV_BYTES  (2 * CF_MSG_MAX_WIRE) /* over this: read and thrown away (agents) */
#define S_RECV_BATCH  (CF_MSG_BATCH_MAX_WIRE + 4096) /* the same, from servers (a BATCH) */
#define S_NAME_MAX    (CF_ALLOW_ID_MAX + 1)          /* printable copy of a routing id */

/* A routing id as text for logs: printable bytes kept, others '?'. */
static const char *s_printable(const void *rid, size_t len, char out[S_NAME_MAX])
{
    const unsigned char *p = rid;
    size_t n = len < S_NAME_MAX - 1 ? len : S_NAME_MAX - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = p[i] >= 0x21 && p[i] <= 0x7e && p[i] != '"' ? (char) p[i] : '?';
    out[n] = '\0';
    return out;
}

static int s_readable(zsock_t *sock)
{
    int ev = 0;
    size_t len = sizeof(ev);
    if (!sock || zmq_getsockopt(zsock_resolve(sock), ZMQ_EVENTS, &ev, &len) != 0)
        return 0;
    return (ev & ZMQ_POLLIN) != 0;
}

void cf_broker_io_kick(cf_broker_t *self)
{
    for (int side = 0; side < CF_BROKER_SIDES_; side++) {
        if (s_readable(self->sock[side]))
            event_active(self->ev_sock[side], EV_READ, 0);
        if (s_readable(self->mon[side]))
            event_active(self->ev_mon[side], EV_READ, 0);
    }
}

cf_err_t cf_broker_io_send(cf_broker_t *self, cf_broker_side_t side, const void *rid,
                           size_t rid_len, const cf_msg_frame_t *frames, size_t n)
{
    void *h = zsock_resolve(self->sock[side]);
    if (!h || !rid || rid_len == 0 || n == 0)
        return CF_ERR_INVALID;
    /* with ZMQ_ROUTER_MANDATORY the routing id frame is where a missing or full peer shows;
       once it is accepted the whole message goes to that peer */
    if (zmq_send(h, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        int err = zmq_errno();
        return err == EHOSTUNREACH ? CF_ERR_NOTFOUND : err == EAGAIN ? CF_ERR_TOOBIG : CF_ERR_IO;
    }
    for (size_t i = 0; i < n; i++)
        if (zmq_send(h, frames[i].data, frames[i].len,
                     (i + 1 < n ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) < 0)
            return CF_ERR_IO;
    return CF_OK;
}

/* cf_broker_io_send, counted as type. count_gone: count a missing peer as a send drop
   (not when trying servers in turn). */
static cf_err_t s_send_frames(cf_broker_t *self, cf_broker_side_t side, const void *rid,
                              size_t rid_len, const cf_msg_frame_t *frames, size_t n,
                              cf_msg_type_t type, int count_gone)
{
    cf_err_t rc = cf_broker_io_send(self, side, rid, rid_len, frames, n);
    if (rc == CF_OK)
        self->stats.out[side][type]++;
    else if (rc == CF_ERR_TOOBIG)
        self->stats.send_full[side]++;
    else if (count_gone || rc != CF_ERR_NOTFOUND)
        self->stats.send_unreachable[side]++;
    return rc;
}

/* Encode m and send it to rid on side (count_gone as for s_send_frames). */
static cf_err_t s_send_msg(cf_broker_t *self, cf_broker_side_t side, const void *rid,
                           size_t rid_len, const cf_msg_t *m, int count_gone)
{
    cf_msg_frames_t fr;
    cf_why_t why = {""};
    cf_err_t rc = cf_msg_encode(m, &fr, &why);
    if (rc != CF_OK) {
        cf_log(CF_LOG_ERROR, "msg=\"cannot encode\" type=%s err=%s why=\"%s\"",
               cf_msg_type_name(m->type), cf_err_name(rc), cf_why_text(&why, rc));
        return rc;
    }
    cf_msg_frame_t v[CF_MSG_FRAMES];
    for (size_t i = 0; i < fr.n && i < CF_MSG_FRAMES; i++) {
        v[i].data = fr.data[i];
        v[i].len = fr.len[i];
    }
    rc = s_send_frames(self, side, rid, rid_len, v, fr.n < CF_MSG_FRAMES ? fr.n : CF_MSG_FRAMES,
                       m->type, count_gone);
    cf_msg_frames_clear(&fr);
    return rc;
}

void cf_broker_io_answer(cf_broker_t *self, cf_broker_side_t side, const void *rid, size_t rid_len,
                         cf_msg_error_t code, const char *agent, const char *job_id,
                         const char *text)
{
    cf_msg_t e;
    cf_msg_init(&e, CF_MSG_ERROR);
    e.error = code;
    snprintf(e.agent, sizeof(e.agent), "%s", agent ? agent : "");
    snprintf(e.job_id, sizeof(e.job_id), "%s", job_id ? job_id : "");
    snprintf(e.text, sizeof(e.text), "%s", text ? text : "");
    int packed = side == CF_BROKER_SERVERS && self->answer_rid && rid_len == self->answer_rid_len &&
                 memcmp(rid, self->answer_rid, rid_len) == 0 && cf_broker_answer_add(self, &e);
    if (!packed && s_send_msg(self, side, rid, rid_len, &e, 1) != CF_OK)
        cf_log(CF_LOG_DEBUG, "msg=\"error answer not sent\" side=%s code=%s",
               cf_broker_side_name(side), cf_msg_error_name(code));
    cf_msg_clear(&e);
}

typedef struct {
    cf_broker_side_t side;                /* where it came in */
    const void *rid;                      /* routing id (a view of a received part) */
    size_t rid_len;                       /* its length */
    const cf_zsock_peer_t *peer;          /* connection facts */
    cf_msg_frame_t frames[S_RECV_FRAMES]; /* views of the frames after the routing id */
    size_t n_frames;                      /* entries in frames */
    cf_msg_t m;                           /* decoded message (when decoded == CF_OK) */
    cf_err_t decoded;                     /* cf_msg_decode's result */
    cf_why_t why;                         /* its reason */
} s_in_t;

static void s_drop(cf_broker_t *self, s_in_t *in, const cf_broker_verdict_t *v)
{
    self->stats.drops[v->reason]++;
    char name[S_NAME_MAX];
    const void *rid = in->rid;
    size_t rid_len = in->rid_len;
    cf_log(CF_LOG_INFO,
           "msg=dropped side=%s peer=%s user_id=%s addr=%s reason=%s why=\"%s\" detail=\"%s\"",
           cf_broker_side_name(in->side), s_printable(rid, rid_len, name),
           in->peer->user_id[0] ? in->peer->user_id : "-",
           in->peer->remote[0] ? in->peer->remote : "-", cf_broker_drop_name(v->reason), v->why,
           in->decoded == CF_OK ? "" : cf_why_text(&in->why, in->decoded));
    int known = in->decoded == CF_OK;
    if (v->answer)
        cf_broker_io_answer(self, in->side, rid, rid_len, v->answer, known ? in->m.agent : NULL,
                            known ? in->m.job_id : NULL, v->why);
    if (!v->shut || in->peer->fd < 0)
        return;
    cf_why_t why = {""};
    if (cf_zsock_peer_shut(in->peer, &why) == CF_OK)
        self->stats.shut++;
    cf_broker_peers_forget_fd(self->peers[in->side], in->peer->fd);
}

static void s_learn(cf_broker_t *self, const s_in_t *in)
{
    int is_new = 0;
    cf_err_t rc =
        cf_broker_peers_learn(self->peers[in->side], in->peer->user_id, in->peer, &is_new);
    if (rc != CF_OK)
        cf_log(CF_LOG_WARN, "msg=\"peer not held\" side=%s peer=%s err=%s",
               cf_broker_side_name(in->side), in->peer->user_id, cf_err_name(rc));
    else if (is_new)
        cf_log(CF_LOG_DEBUG, "msg=\"peer held\" side=%s peer=%s addr=%s",
               cf_broker_side_name(in->side), in->peer->user_id, in->peer->remote);
}

/* An agent's HELLO, RECEIPT or REPORT to a server: packed into the batch that goes out
   when its first message has waited --gather-ms, or at once when 256 wait
   (cf_broker_up_turn; round-robin over the connected servers). */
static void s_to_server(cf_broker_t *self, s_in_t *in)
{
    cf_broker_up_add(self, in->frames, &in->m);
}

/* libzmq routes agent's id nowhere (EHOSTUNREACH), yet the broker may hold a connection
   for it (its latest message came there). That connection lost the id to a later one with
   the same id (ROUTER_HANDOVER) which then closed, typically a fleet's DEALER that replaced
   one whose handshake was slow while the slow one finished last: libzmq keeps the orphan
   open with no route to it, heartbeats answered, and an idle agent never learns that it
   is unreachable (its jobs waited for its next check-in). Shut it (cf_zsock_peer_shut
   checks that the descriptor is still that connection): the agent reconnects, says HELLO
   and gets its open jobs. An agent that really left has no connection left to shut. */
static void s_shut_orphan(cf_broker_t *self, const char *agent)
{
    const cf_zsock_peer_t *held = cf_broker_peers_find(self->peers[CF_BROKER_AGENTS], agent);
    cf_zsock_peer_t peer;
    int shut = 0;
    if (held && held->fd >= 0) {
        peer = *held; /* forget frees the entry */
        cf_why_t why = {""};
        shut = cf_zsock_peer_shut(&peer, &why) == CF_OK;
    }
    cf_broker_peers_forget(self->peers[CF_BROKER_AGENTS], agent);
    if (!shut)
        return;
    self->stats.shut++;
    cf_log(CF_LOG_INFO, "msg=\"connection without a route shut\" agent=%s addr=%s", agent,
           peer.remote);
}

/* A server's JOB, ACK or CHECKIN to the agent it names; not connected here: ERROR offline.
   libzmq's routing table decides (ROUTER_MANDATORY answers EHOSTUNREACH for an agent that is
   not connected), not the peer table: a DISCONNECTED event is read late and names only a
   descriptor, which an agent that reconnected at once may hold again, so the table can have
   forgotten an agent that is connected (seen at 9,000 agents: 5 jobs answered "offline" to
   connected agents, left pending until their next check-in). */
static void s_forward(cf_broker_t *self, const s_in_t *in, const char *agent,
                      const cf_msg_frame_t *frames, size_t n, cf_msg_type_t type)
{
    const char *why = "agent not connected to this broker";
    cf_err_t rc = s_send_frames(self, CF_BROKER_AGENTS, agent, strlen(agent), frames, n, type, 0);
    if (rc == CF_OK)
        return;
    if (rc == CF_ERR_NOTFOUND)
        s_shut_orphan(self, agent);
    else
        why = "agent's queue is full";
    self->stats.drops[CF_BROKER_DROP_OFFLINE]++;
    cf_log(CF_LOG_DEBUG, "msg=\"agent offline\" agent=%s job=%s type=%s", agent,
           in->m.job_id[0] ? in->m.job_id : "-", cf_msg_type_name(type));
    cf_broker_io_answer(self, CF_BROKER_SERVERS, in->rid, in->rid_len, CF_MSG_ERR_OFFLINE, agent,
                        in->m.job_id, why);
}

static void s_to_agent(cf_broker_t *self, s_in_t *in)
{
    s_forward(self, in, in->m.agent, in->frames, in->n_frames, in->m.type);
}

/* A BROADCAST with a job: that JOB to each listed agent (the shared copy of a job to all,
   carried once from the server); one not connected here is answered offline as for a JOB. */
static void s_broadcast_job(cf_broker_t *self, const s_in_t *in)
{
    cf_msg_t j;
    cf_msg_init(&j, CF_MSG_JOB);
    memcpy(j.job_id, in->m.job_id, sizeof(j.job_id));
    j.job = in->m.job; /* borrowed: given back before the clear below */
    j.job_len = in->m.job_len;
    for (size_t i = 0; i < in->m.n_targets; i++) {
        memcpy(j.agent, in->m.targets[i], sizeof(j.agent));
        cf_msg_frames_t fr;
        cf_why_t why = {""};
        cf_err_t rc = cf_msg_encode(&j, &fr, &why);
        if (rc != CF_OK) { /* checked when it was decoded: out of memory, say */
            cf_log(CF_LOG_ERROR, "msg=\"cannot encode\" type=JOB agent=%s err=%s why=\"%s\"",
                   j.agent, cf_err_name(rc), cf_why_text(&why, rc));
            /* answered as undelivered, so that the server sends it again later */
            self->stats.drops[CF_BROKER_DROP_OFFLINE]++;
            cf_broker_io_answer(self, CF_BROKER_SERVERS, in->rid, in->rid_len, CF_MSG_ERR_OFFLINE,
                                j.agent, j.job_id, "the broker could not build the JOB");
            continue;
        }
        cf_msg_frame_t v[CF_MSG_FRAMES];
        size_t n = cf_msg_frames_view(&fr, v);
        s_forward(self, in, j.agent, v, n, CF_MSG_JOB);
        cf_msg_frames_clear(&fr);
    }
    j.job = NULL;
    cf_msg_clear(&j);
}

/* CHECKIN to one agent if connected (libzmq decides, as for s_to_agent); a vanished one is
   forgotten. */
static void s_checkin(cf_broker_t *self, const char *agent, const char *job_id)
{
    cf_msg_t c;
    cf_msg_init(&c, CF_MSG_CHECKIN);
    snprintf(c.agent, sizeof(c.agent), "%s", agent);
    snprintf(c.job_id, sizeof(c.job_id), "%s", job_id);
    if (s_send_msg(self, CF_BROKER_AGENTS, agent, strlen(agent), &c, 0) == CF_ERR_NOTFOUND)
        cf_broker_peers_forget(self->peers[CF_BROKER_AGENTS], agent);
    cf_msg_clear(&c);
}

static void s_broadcast(cf_broker_t *self, const s_in_t *in)
{
    if (in->m.job) {
        s_broadcast_job(self, in);
        return;
    }
    if (!in->m.all) {
        for (size_t i = 0; i < in->m.n_targets; i++)
            s_checkin(self, in->m.targets[i], in->m.job_id);
        return;
    }
    char **ids = NULL;
    size_t n = 0;
    if (cf_broker_peers_ids(self->peers[CF_BROKER_AGENTS], &ids, &n) != CF_OK) {
        cf_log(CF_LOG_ERROR, "msg=\"broadcast failed\" err=NOMEM");
        return;
    }
    for (size_t i = 0; i < n; i++)
        s_checkin(self, ids[i], in->m.job_id);
    cf_broker_peers_ids_free(&ids);
}

static void s_handle(cf_broker_t *self, s_in_t *in)
{
    in->decoded = cf_msg_decode(in->frames, in->n_frames, &in->m, &in->why);
    if (in->decoded == CF_OK)
        self->stats.in[in->side][in->m.type]++;
    const char *uid = in->peer->user_id;
    cf_broker_in_t rin = {
        .side = in->side,
        .rid = (const char *) in->rid,
        .rid_len = in->rid_len,
        .user_id = uid,
        .kind = in->peer->kind,
        .listed = uid[0] && zhashx_lookup(self->listed, uid) != NULL,
        .decoded = in->decoded,
        .msg = &in->m,
    };
    cf_broker_verdict_t v;
    if (!cf_broker_tls_judge(self->tls, in->side, in->peer, &v)) /* relayed: TLS id == key's */
        cf_broker_route(&rin, &v);
    if (v.act != CF_BROKER_ACT_DROP)
        s_learn(self, in);
    switch (v.act) {
    case CF_BROKER_ACT_TO_SERVER: s_to_server(self, in); break;
    case CF_BROKER_ACT_TO_AGENT: s_to_agent(self, in); break;
    case CF_BROKER_ACT_BROADCAST: s_broadcast(self, in); break;
    case CF_BROKER_ACT_DROP:
    default: s_drop(self, in, &v); break;
    }
}

/* A server's BATCH: each message in it is handled as if it came alone (its frames are
   views into the batch: a JOB goes to its agent without another copy), and the answers
   they cause go back to that server as one batch. A batch whose structure is wrong is
   dropped whole (nothing in it is trusted). */
static void s_on_batch(cf_broker_t *self, s_in_t *in)
{
    cf_msg_batch_iter_t it;
    cf_why_t why = {""};
    cf_err_t rc = in->n_frames == CF_MSG_FRAMES
                      ? cf_msg_batch_iter_init(&it, in->frames, in->n_frames, &why)
                      : cf_why(&why, CF_ERR_CORRUPT, "frames");
    if (rc != CF_OK) {
        cf_broker_verdict_t v = {
            .act = CF_BROKER_ACT_DROP,
            .reason = rc == CF_ERR_TOOBIG ? CF_BROKER_DROP_TOOBIG : CF_BROKER_DROP_MALFORMED,
            .answer = rc == CF_ERR_TOOBIG ? CF_MSG_ERR_TOOBIG : CF_MSG_ERR_MALFORMED,
            .why = "a batch that does not split"};
        in->decoded = rc;
        in->why = why;
        s_drop(self, in, &v);
        return;
    }
    self->stats.batches_in++;
    self->answer_rid = in->rid;
    self->answer_rid_len = in->rid_len;
    while (1) {
        s_in_t one = {.side = in->side, .rid = in->rid, .rid_len = in->rid_len, .peer = in->peer};
        if (!cf_msg_batch_next(&it, one.frames))
            break;
        one.n_frames = CF_MSG_FRAMES;
        s_handle(self, &one);
        cf_msg_clear(&one.m);
    }
    cf_broker_answer_flush(self);
    self->answer_rid = NULL;
}

/* Receive one message's parts (the routing id first) into parts, at most S_RECV_FRAMES of
   at most cap bytes together; the connection's facts from the first part that has them.
   *n_out parts are the caller's (zmq_msg_close) on CF_OK. Errors: CF_ERR_NOTFOUND
   (nothing to read), CF_ERR_TOOBIG (read to its end and dropped), CF_ERR_IO. */
static cf_err_t s_recv(void *h, size_t cap, zmq_msg_t parts[S_RECV_FRAMES], size_t *n_out,
                       cf_zsock_peer_t *peer)
{
    size_t n = 0, bytes = 0;
    int more = 1, have_peer = 0;
    cf_err_t rc = CF_OK;
    memset(peer, 0, sizeof(*peer));
    peer->fd = -1;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, h, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            int err = zmq_errno();
            zmq_msg_close(&part);
            rc = n == 0 && (err == EAGAIN || err == EINTR) ? CF_ERR_NOTFOUND : CF_ERR_IO;
            break;
        }
        more = zmq_msg_more(&part);
        bytes += zmq_msg_size(&part);
        if (rc == CF_OK && (n == S_RECV_FRAMES || bytes > cap))
            rc = CF_ERR_TOOBIG; /* the rest is read and thrown away */
        if (rc == CF_OK && !have_peer)
            have_peer = cf_zsock_msg_peer(&part, peer) == CF_OK;
        if (rc == CF_OK)
            parts[n++] = part; /* moved: closed by the caller */
        else
            zmq_msg_close(&part);
    }
    if (!have_peer) {
        memset(peer, 0, sizeof(*peer));
        peer->fd = -1;
    }
    for (size_t i = 0; rc != CF_OK && i < n; i++)
        zmq_msg_close(&parts[i]);
    *n_out = rc == CF_OK ? n : 0;
    return rc;
}

/* One received message: a server's BATCH, or a message handled alone. */
static void s_on_message(cf_broker_t *self, cf_broker_side_t side, zmq_msg_t *parts, size_t n,
                         const cf_zsock_peer_t *peer)
{
    if (n == 0)
        return;
    s_in_t in = {.side = side, .peer = peer};
    in.rid = zmq_msg_data(&parts[0]);
    in.rid_len = zmq_msg_size(&parts[0]);
    for (size_t i = 1; i < n; i++) {
        in.frames[in.n_frames].data = zmq_msg_data(&parts[i]);
        in.frames[in.n_frames++].len = zmq_msg_size(&parts[i]);
    }
    if (side == CF_BROKER_SERVERS && in.n_frames > 0 && cf_msg_batch_is(in.frames, 1))
        s_on_batch(self, &in);
    else
        s_handle(self, &in);
    cf_msg_clear(&in.m);
}

static void s_on_readable(cf_broker_t *self, cf_broker_side_t side)
{
    void *h = zsock_resolve(self->sock[side]);
    size_t cap = side == CF_BROKER_SERVERS ? S_RECV_BATCH : S_RECV_BYTES;
    for (int i = 0; i < S_BATCH; i++) {
        zmq_msg_t parts[S_RECV_FRAMES];
        size_t n = 0;
        cf_zsock_peer_t peer;
        cf_err_t rc = s_recv(h, cap, parts, &n, &peer);
        if (rc == CF_ERR_NOTFOUND)
            break;
        if (rc == CF_ERR_TOOBIG) {
            self->stats.drops[CF_BROKER_DROP_TOOBIG]++;
            cf_log(CF_LOG_INFO,
                   "msg=dropped side=%s user_id=%s reason=toobig why=\"over %d "
                   "bytes or %d frames\"",
                   cf_broker_side_name(side), peer.user_id[0] ? peer.user_id : "-", (int) cap,
                   S_RECV_FRAMES);
            continue;
        }
        if (rc != CF_OK) {
            cf_log(CF_LOG_ERROR, "msg=\"receive failed\" side=%s err=%s", cf_broker_side_name(side),
                   cf_err_name(rc));
            break;
        }
        s_on_message(self, side, parts, n, &peer);
        for (size_t k = 0; k < n; k++)
            zmq_msg_close(&parts[k]);
    }
    cf_broker_up_turn(self); /* what agents said, to a server in one, now or soon */
    cf_broker_io_kick(self);
}

void cf_broker_io_on_agents(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    s_on_readable(arg, CF_BROKER_AGENTS);
}

void cf_broker_io_on_servers(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    s_on_readable(arg, CF_BROKER_SERVERS);
}

/* Monitor events: ACCEPTED and DISCONNECTED (value = the descriptor). A peer held on a
   descriptor that closed is forgotten: the held set and its gauge follow the connections. */
static void s_on_monitor(cf_broker_t *self, cf_broker_side_t side)
{
    for (int i = 0; i < S_BATCH; i++) {
        zmsg_t *ev = NULL;
        if (cf_zsock_recv(self->mon[side], 4, 1024, ZMQ_DONTWAIT, &ev, NULL) != CF_OK)
            break;
        zframe_t *head = zmsg_first(ev);
        if (head && zframe_size(head) == 6) {
            uint16_t event = 0;
            uint32_t value = 0;
            memcpy(&event, zframe_data(head), 2);
            memcpy(&value, zframe_data(head) + 2, 4);
            if (event == ZMQ_EVENT_ACCEPTED)
                self->stats.accepted[side]++;
            if (event == ZMQ_EVENT_DISCONNECTED) {
                self->stats.disconnected[side]++;
                cf_broker_peers_forget_fd(self->peers[side], (int) value);
            }
        }
        zmsg_destroy(&ev);
    }
    cf_broker_io_kick(self);
}

void cf_broker_io_on_monitor_agents(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    s_on_monitor(arg, CF_BROKER_AGENTS);
}

void cf_broker_io_on_monitor_servers(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    s_on_monitor(arg, CF_BROKER_SERVERS);
}
