/*  cf_itest_relay - PKI, echo target and blocking clients for the relay tests  */
#include "cf_itest_relay.h"

#include "cf_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cf_mem.h"

static void s_issue(cf_ca_t *ca, cf_component_t c, const char *name, cf_itest_relay_id_t *out)
{
    cf_issue_t req = {.component = c, .name = name};
    cf_cert_t *cert = NULL;
    size_t len = 0;
    assert_int_equal(cf_ca_issue(ca, &req, &cert, &out->k), CF_OK);
    assert_int_equal(cf_cert_to_pem(cert, &out->cert, &len), CF_OK);
    assert_int_equal(cf_key_to_pem(out->k, NULL, &out->key, &len), CF_OK);
    snprintf(out->serial, sizeof(out->serial), "%s", cf_cert_serial(cert));
    cf_cert_destroy(&cert);
}

static void s_id_free(cf_itest_relay_id_t *id)
{
    cf_mem_free(id->cert);
    cf_mem_free_secret_str(id->key);
    cf_key_destroy(&id->k);
    memset(id, 0, sizeof(*id));
}

void cf_itest_relay_pki(cf_itest_relay_pki_t *p)
{
    memset(p, 0, sizeof(*p));
    cf_ca_opts_t other = {.name = "another CA"};
    assert_int_equal(cf_ca_create(NULL, &p->ca), CF_OK);
    assert_int_equal(cf_ca_create(&other, &p->other), CF_OK);
    size_t len = 0;
    assert_int_equal(cf_cert_to_pem(cf_ca_cert(p->ca), &p->ca_pem, &len), CF_OK);
    assert_int_equal(cf_cert_to_pem(cf_ca_cert(p->other), &p->other_pem, &len), CF_OK);
    s_issue(p->ca, CF_COMPONENT_SERVER, "127.0.0.1", &p->server);
    s_issue(p->ca, CF_COMPONENT_AGENT, "pc-a", &p->agent);
    s_issue(p->ca, CF_COMPONENT_AGENT, "pc-b", &p->agent_b);
    s_issue(p->ca, CF_COMPONENT_AGENT, "pc-r", &p->revoked);
    s_issue(p->other, CF_COMPONENT_AGENT, "pc-f", &p->foreign);
    s_issue(p->ca, CF_COMPONENT_SERVER, "s2", &p->srv2);
}

void cf_itest_relay_pki_free(cf_itest_relay_pki_t *p)
{
    cf_itest_relay_id_t *ids[] = {&p->server,  &p->agent,   &p->agent_b,
                                  &p->revoked, &p->foreign, &p->srv2};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
        s_id_free(ids[i]);
    cf_mem_free(p->ca_pem);
    cf_mem_free(p->other_pem);
    cf_ca_destroy(&p->ca);
    cf_ca_destroy(&p->other);
}

cf_err_t cf_itest_relay_check(void *arg, const cf_cert_t *leaf, char identity[CF_RELAY_ID_MAX + 1],
                              cf_why_t *why)
{
    const char *revoked = arg;
    if (revoked && strcmp(cf_cert_serial(leaf), revoked) == 0)
        return cf_why(why, CF_ERR_REVOKED, "serial %s is revoked", revoked);
    return cf_relay_identity(leaf, identity, why);
}

static int s_has_close(const char *buf, size_t n)
{
    for (size_t i = 0; i + 5 <= n; i++)
        if (memcmp(buf + i, "CLOSE", 5) == 0)
            return 1;
    return 0;
}

/* Echo one connection until it ends, "CLOSE" comes or the stop pipe is written. */
static void s_echo_conn(cf_itest_echo_t *e, int fd)
{
    char buf[65536];
    for (;;) {
        struct pollfd pf[2] = {{fd, POLLIN, 0}, {e->stop[0], POLLIN, 0}};
        if (poll(pf, 2, -1) < 0 && errno == EINTR)
            continue;
        if (pf[1].revents)
            break;
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0 || s_has_close(buf, (size_t) n))
            break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(fd, buf + off, (size_t) (n - off));
            if (w <= 0)
                goto out;
            off += w;
        }
        pthread_mutex_lock(&e->lock);
        e->bytes += (size_t) n;
        pthread_mutex_unlock(&e->lock);
    }
out:
    close(fd);
    pthread_mutex_lock(&e->lock);
    e->closed++;
    pthread_mutex_unlock(&e->lock);
}

static void *s_echo(void *arg)
{
    cf_itest_echo_t *e = arg;
    for (;;) {
        struct pollfd pf[2] = {{e->lfd, POLLIN, 0}, {e->stop[0], POLLIN, 0}};
        if (poll(pf, 2, -1) < 0 && errno == EINTR)
            continue;
        if (pf[1].revents)
            return NULL;
        struct sockaddr_in sin;
        socklen_t len = sizeof(sin);
        int fd = accept(e->lfd, (struct sockaddr *) &sin, &len);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&e->lock);
        e->accepted++;
        char ip[INET_ADDRSTRLEN] = "";
        inet_ntop(AF_INET, &sin.sin_addr, ip, sizeof(ip));
        snprintf(e->last_peer, sizeof(e->last_peer), "%s:%u", ip, (unsigned) ntohs(sin.sin_port));
        pthread_mutex_unlock(&e->lock);
        s_echo_conn(e, fd);
    }
}

void cf_itest_echo_start(cf_itest_echo_t *e)
{
    memset(e, 0, sizeof(*e));
    e->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    assert_int_equal(bind(e->lfd, (struct sockaddr *) &sin, sizeof(sin)), 0);
    assert_int_equal(listen(e->lfd, 16), 0);
    assert_int_equal(getsockname(e->lfd, (struct sockaddr *) &sin, &len), 0);
    e->port = ntohs(sin.sin_port);
    assert_int_equal(pipe(e->stop), 0);
    pthread_mutex_init(&e->lock, NULL);
    assert_int_equal(pthread_create(&e->thread, NULL, s_echo, e), 0);
}

void cf_itest_echo_stop(cf_itest_echo_t *e)
{
    assert_int_equal(write(e->stop[1], "x", 1), 1);
    pthread_join(e->thread, NULL);
    close(e->lfd);
    close(e->stop[0]);
    close(e->stop[1]);
    pthread_mutex_destroy(&e->lock);
}

int cf_itest_echo_accepted(cf_itest_echo_t *e)
{
    pthread_mutex_lock(&e->lock);
    int n = e->accepted;
    pthread_mutex_unlock(&e->lock);
    return n;
}

int cf_itest_echo_closed(cf_itest_echo_t *e)
{
    pthread_mutex_lock(&e->lock);
    int n = e->closed;
    pthread_mutex_unlock(&e->lock);
    return n;
}

int cf_itest_relay_connect(const char *addr)
{
    char ip[64];
    const char *colon = strrchr(addr, ':');
    assert_non_null(colon);
    snprintf(ip, sizeof(ip), "%.*s", (int) (colon - addr), addr);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t) atoi(colon + 1))};
    assert_int_equal(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *) &sin, sizeof(sin)), 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* Write buf and read len bytes back, interleaved with poll so that neither side's buffers
   fill up and stall the other (the relay's backpressure is what is under test). */
int cf_itest_relay_roundtrip(int fd, const void *buf, size_t len, void *out)
{
    size_t sent = 0, got = 0;
    while (got < len) {
        struct pollfd pf = {fd, (short) (POLLIN | (sent < len ? POLLOUT : 0)), 0};
        if (poll(&pf, 1, 5000) <= 0)
            return -1;
        if ((pf.revents & POLLOUT) && sent < len) {
            size_t chunk = len - sent < 65536 ? len - sent : 65536;
            ssize_t w = send(fd, (const char *) buf + sent, chunk, MSG_NOSIGNAL);
            if (w <= 0)
                return -1;
            sent += (size_t) w;
        }
        if (pf.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = read(fd, (char *) out + got, len - got);
            if (r <= 0)
                return -1;
            got += (size_t) r;
        }
    }
    return 0;
}

int cf_itest_relay_sees_close(int fd)
{
    char buf[256];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
    }
}
