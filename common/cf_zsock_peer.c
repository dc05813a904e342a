/*  cf_zsock_peer - who sent a message (fd, ZAP User-Id), capped receive, ROUTER sends, shut  */
#include "cf_zsock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* "ip:port" or "[ip6]:port" of a socket address; "" for other families. */
static void s_addr_text(const struct sockaddr_storage *ss, char *buf, size_t buflen)
{
    char ip[INET6_ADDRSTRLEN] = "";
    buf[0] = '\0';
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *) ss;
        if (inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip)))
            snprintf(buf, buflen, "%s:%u", ip, (unsigned) ntohs(sin->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) ss;
        if (inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip)))
            snprintf(buf, buflen, "[%s]:%u", ip, (unsigned) ntohs(sin6->sin6_port));
    }
}

/* The remote and local address of fd; 0, or -1 when fd is not a connected socket. */
static int s_fd_addrs(int fd, char remote[CF_ZSOCK_ADDR_MAX], char local[CF_ZSOCK_ADDR_MAX])
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    memset(&ss, 0, sizeof(ss));
    if (getpeername(fd, (struct sockaddr *) &ss, &len) != 0)
        return -1;
    s_addr_text(&ss, remote, CF_ZSOCK_ADDR_MAX);
    len = sizeof(ss);
    memset(&ss, 0, sizeof(ss));
    if (getsockname(fd, (struct sockaddr *) &ss, &len) != 0)
        return -1;
    s_addr_text(&ss, local, CF_ZSOCK_ADDR_MAX);
    return remote[0] && local[0] ? 0 : -1;
}

cf_err_t cf_zsock_msg_peer(zmq_msg_t *msg, cf_zsock_peer_t *out)
{
    if (!msg || !out)
        return CF_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    out->fd = -1;
    const char *uid = zmq_msg_gets(msg, "User-Id");
    if (uid)
        snprintf(out->user_id, sizeof(out->user_id), "%s", uid);
    const char *kind = zmq_msg_gets(msg, CF_ZAP_KIND_PROP);
    if (kind)
        snprintf(out->kind, sizeof(out->kind), "%s", kind);
    /* libzmq 4.3 keeps the descriptor in the message's metadata, on every frame of it */
    int fd = zmq_msg_get(msg, ZMQ_SRCFD);
    if (fd < 0 || s_fd_addrs(fd, out->remote, out->local) != 0)
        return CF_ERR_NOTFOUND;
    out->fd = fd;
    return CF_OK;
}

/* Read the rest of a multipart message and throw it away. */
static void s_drain(void *h)
{
    int more = 1;
    size_t more_len = sizeof(more);
    while (zmq_getsockopt(h, ZMQ_RCVMORE, &more, &more_len) == 0 && more) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        int rc = zmq_msg_recv(&part, h, 0);
        zmq_msg_close(&part);
        if (rc < 0)
            break;
    }
}

typedef struct {
    size_t max_frames; /* cap on frames */
    size_t max_bytes;  /* cap on the sum of frame sizes */
    size_t frames;     /* frames so far */
    size_t bytes;      /* bytes so far */
    int have_peer;     /* peer facts found */
} s_recv_t;

/* Add one received part to msg (within the caps), taking peer facts from it if needed. */
static cf_err_t s_take_part(s_recv_t *r, zmq_msg_t *part, zmsg_t *msg, cf_zsock_peer_t *peer)
{
    size_t size = zmq_msg_size(part);
    r->frames++;
    r->bytes += size;
    if (r->frames > r->max_frames || r->bytes > r->max_bytes || size > r->max_bytes)
        return CF_ERR_TOOBIG;
    if (peer && !r->have_peer)
        r->have_peer = cf_zsock_msg_peer(part, peer) == CF_OK;
    return zmsg_addmem(msg, zmq_msg_data(part), size) == 0 ? CF_OK : CF_ERR_NOMEM;
}

cf_err_t cf_zsock_recv(zsock_t *sock, size_t max_frames, size_t max_bytes, int flags,
                       zmsg_t **msg_out, cf_zsock_peer_t *peer)
{
    if (!sock || !msg_out || max_frames == 0 || (flags & ~ZMQ_DONTWAIT))
        return CF_ERR_INVALID;
    *msg_out = NULL;
    void *h = zsock_resolve(sock);
    s_recv_t r = {max_frames, max_bytes, 0, 0, 0};
    zmsg_t *msg = zmsg_new();
    if (!msg)
        return CF_ERR_NOMEM;
    cf_err_t rc = CF_OK;
    int more = 1;
    while (more && rc == CF_OK) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, h, r.frames == 0 ? flags : 0) < 0) {
            int err = zmq_errno();
            rc = (err == EAGAIN || err == EINTR) && r.frames == 0 ? CF_ERR_NOTFOUND : CF_ERR_IO;
        } else {
            more = zmq_msg_more(&part);
            rc = s_take_part(&r, &part, msg, peer);
        }
        zmq_msg_close(&part);
    }
    if (rc != CF_OK && r.frames > 0)
        s_drain(h);
    if (peer && !r.have_peer) {
        memset(peer, 0, sizeof(*peer));
        peer->fd = -1;
    }
    if (rc != CF_OK) {
        zmsg_destroy(&msg);
        return rc;
    }
    *msg_out = msg;
    return CF_OK;
}

cf_err_t cf_zsock_send_to(zsock_t *router, const void *rid, size_t rid_len, zmsg_t **msg_p)
{
    if (!msg_p)
        return CF_ERR_INVALID;
    zmsg_t *msg = *msg_p;
    *msg_p = NULL;
    cf_err_t rc = CF_OK;
    if (!router || !rid || rid_len == 0 || !msg || zmsg_size(msg) == 0)
        rc = CF_ERR_INVALID;
    void *h = rc == CF_OK ? zsock_resolve(router) : NULL;
    /* with ZMQ_ROUTER_MANDATORY the routing id frame is where a missing or full peer shows;
       once it is accepted the whole message goes to that peer */
    if (rc == CF_OK && zmq_send(h, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        int err = zmq_errno();
        rc = err == EHOSTUNREACH ? CF_ERR_NOTFOUND : err == EAGAIN ? CF_ERR_TOOBIG : CF_ERR_IO;
    }
    size_t n = rc == CF_OK ? zmsg_size(msg) : 0;
    size_t i = 0;
    for (zframe_t *f = n ? zmsg_first(msg) : NULL; f && rc == CF_OK; f = zmsg_next(msg), i++) {
        int more = i + 1 < n ? ZMQ_SNDMORE : 0;
        if (zmq_send(h, zframe_data(f), zframe_size(f), more | ZMQ_DONTWAIT) < 0)
            rc = CF_ERR_IO;
    }
    zmsg_destroy(&msg);
    return rc;
}

cf_err_t cf_zsock_peer_shut(const cf_zsock_peer_t *peer, cf_why_t *why)
{
    if (!peer || peer->fd < 0)
        return CF_ERR_INVALID;
    char remote[CF_ZSOCK_ADDR_MAX];
    char local[CF_ZSOCK_ADDR_MAX];
    if (s_fd_addrs(peer->fd, remote, local) != 0 || strcmp(remote, peer->remote) != 0 ||
        strcmp(local, peer->local) != 0)
        return cf_why(why, CF_ERR_NOTFOUND,
                      "connection from %s is gone (descriptor %d closed or reused)", peer->remote,
                      peer->fd);
    if (shutdown(peer->fd, SHUT_RDWR) != 0)
        return cf_why(why, CF_ERR_IO, "shutdown of the connection from %s: %s", peer->remote,
                      strerror(errno));
    return CF_OK;
}
