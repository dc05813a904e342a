/*  cf_relay - the relay's life: TLS context, listener, thread, identity map, counters  */
#include "cf_relay_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cf_log.h"
#include "cf_mem.h"
#include "cf_zsock.h"

static void s_str_free(void **item)
{
    cf_mem_free(*item);
    *item = NULL;
}

static cf_err_t s_check_cfg(const cf_relay_cfg_t *cfg, cf_why_t *why)
{
    if (!cfg || (cfg->mode != CF_RELAY_SERVER && cfg->mode != CF_RELAY_CLIENT))
        return cf_why(why, CF_ERR_INVALID, "relay: mode SERVER or CLIENT required");
    if (!cfg->target || (cfg->mode == CF_RELAY_SERVER && (!cfg->listen || !cfg->check)))
        return cf_why(why, CF_ERR_INVALID,
                      "relay: target (and for SERVER listen and check) "
                      "required");
    if (cfg->handshake_ms < 0)
        return cf_why(why, CF_ERR_INVALID, "relay: negative handshake time");
    return CF_OK;
}

static void s_on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void) fd, (void) what;
    event_base_loopbreak(((cf_relay_t *) arg)->base);
}

static void *s_thread(void *arg)
{
    cf_relay_t *self = arg;
    /* a write to a socket the peer closed must fail with EPIPE, not kill the process: a
       blocked SIGPIPE raised by this thread's writes stays pending and harmless */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (event_base_dispatch(self->base) < 0)
        cf_log(CF_LOG_ERROR, "msg=\"relay loop failed\" addr=%s", self->address);
    return NULL;
}

#define S_ACCEPT_PAUSE_MS 1000 /* listener rests this long after accept() failed */

static void s_on_resume(evutil_socket_t fd, short what, void *arg)
{
    (void) fd, (void) what;
    evconnlistener_enable(((cf_relay_t *) arg)->listener);
}

/* accept() failed (EMFILE, ENFILE, ENOBUFS): a level-triggered listener would fire again at
   once and spin; it rests a second instead, and the connections wait in the backlog. */
static void s_on_accept_error(struct evconnlistener *l, void *arg)
{
    cf_relay_t *self = arg;
    int err = EVUTIL_SOCKET_ERROR();
    pthread_mutex_lock(&self->lock);
    self->stats.accept_failed++;
    pthread_mutex_unlock(&self->lock);
    cf_log(CF_LOG_WARN, "msg=\"relay cannot accept\" addr=%s why=\"%s\" pause_ms=%d", self->address,
           evutil_socket_error_to_string(err), S_ACCEPT_PAUSE_MS);
    evconnlistener_disable(l);
    struct timeval tv = {S_ACCEPT_PAUSE_MS / 1000, (S_ACCEPT_PAUSE_MS % 1000) * 1000};
    event_add(self->ev_resume, &tv);
}

/* The listener on addr, and its bound address. */
static cf_err_t s_listen(cf_relay_t *self, const char *addr, cf_why_t *why)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    CF_TRY(cf_relay_addr_parse(addr, &ss, &len, why));
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;
    /* reconnect storms: a backlog as deep as the kernel allows, as the ROUTERs have */
    int backlog = cf_zsock_somaxconn();
    self->listener = evconnlistener_new_bind(self->base, cf_relay_conn_accept, self, flags, backlog,
                                             (struct sockaddr *) &ss, (int) len);
    if (!self->listener)
        return cf_why(why, CF_ERR_IO, "relay: cannot listen on %s: %s", addr, strerror(errno));
    evconnlistener_set_error_cb(self->listener, s_on_accept_error);
    self->ev_resume = evtimer_new(self->base, s_on_resume, self);
    if (!self->ev_resume)
        return CF_ERR_NOMEM;
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    if (getsockname(evconnlistener_get_fd(self->listener), (struct sockaddr *) &bound, &blen) != 0)
        return cf_why(why, CF_ERR_IO, "relay: getsockname: %s", strerror(errno));
    cf_relay_addr_text((struct sockaddr *) &bound, self->address, sizeof(self->address));
    self->port = ntohs(((struct sockaddr_in *) &bound)->sin_port); /* same offset in v6 */
    return CF_OK;
}

static cf_err_t s_start(cf_relay_t *self, const cf_relay_cfg_t *cfg, cf_why_t *why)
{
    CF_TRY(cf_relay_addr_parse(cfg->target, &self->target, &self->target_len, why));
    CF_TRY(cf_relay_tls_ctx(self, cfg, why));
    self->map = zhashx_new();
    self->base = event_base_new();
    if (!self->map || !self->base)
        return CF_ERR_NOMEM;
    zhashx_set_destructor(self->map, s_str_free);
    if (pipe(self->stop_pipe) != 0)
        return cf_why(why, CF_ERR_IO, "relay: pipe: %s", strerror(errno));
    fcntl(self->stop_pipe[0], F_SETFD, FD_CLOEXEC);
    fcntl(self->stop_pipe[1], F_SETFD, FD_CLOEXEC);
    self->ev_stop = event_new(self->base, self->stop_pipe[0], EV_READ, s_on_stop, self);
    if (!self->ev_stop || event_add(self->ev_stop, NULL) != 0)
        return CF_ERR_NOMEM;
    CF_TRY(s_listen(self, cfg->listen ? cfg->listen : "127.0.0.1:0", why));
    if (pthread_create(&self->thread, NULL, s_thread, self) != 0)
        return cf_why(why, CF_ERR_IO, "relay: cannot start its thread");
    self->started = 1;
    return CF_OK;
}

cf_err_t cf_relay_new(const cf_relay_cfg_t *cfg, cf_relay_t **out, cf_why_t *why)
{
    if (!out)
        return CF_ERR_INVALID;
    *out = NULL;
    CF_TRY(s_check_cfg(cfg, why));
    cf_relay_t *self = cf_mem_calloc(1, sizeof(*self));
    if (!self)
        return CF_ERR_NOMEM;
    self->mode = cfg->mode;
    self->stop_pipe[0] = self->stop_pipe[1] = -1;
    self->check = cfg->check;
    self->check_arg = cfg->check_arg;
    self->max_conns = cfg->max_conns ? cfg->max_conns : CF_RELAY_MAX_CONNS;
    self->watermark = cfg->watermark ? cfg->watermark : CF_RELAY_WATERMARK;
    self->handshake_ms = cfg->handshake_ms ? cfg->handshake_ms : CF_RELAY_HANDSHAKE_MS;
    pthread_mutex_init(&self->lock, NULL);
    cf_err_t rc = s_start(self, cfg, why);
    if (rc != CF_OK) {
        cf_relay_destroy(&self);
        return rc;
    }
    cf_log(CF_LOG_INFO, "msg=\"relay ready\" mode=%s listen=%s target=%s",
           cfg->mode == CF_RELAY_SERVER ? "server" : "client", self->address, cfg->target);
    *out = self;
    return CF_OK;
}

void cf_relay_destroy(cf_relay_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_relay_t *self = *self_p;
    if (self->started) {
        char b = 1;
        while (write(self->stop_pipe[1], &b, 1) < 0 && errno == EINTR)
            ;
        pthread_join(self->thread, NULL);
    }
    cf_relay_conn_free_all(self);
    if (self->listener)
        evconnlistener_free(self->listener);
    if (self->ev_stop)
        event_free(self->ev_stop);
    if (self->ev_resume)
        event_free(self->ev_resume);
    if (self->base)
        event_base_free(self->base);
    for (int i = 0; i < 2; i++)
        if (self->stop_pipe[i] >= 0)
            close(self->stop_pipe[i]);
    SSL_CTX_free(self->ctx);
    zhashx_destroy(&self->map);
    pthread_mutex_destroy(&self->lock);
    cf_mem_free(self);
    *self_p = NULL;
}

const char *cf_relay_address(const cf_relay_t *self)
{
    return self ? self->address : "";
}

int cf_relay_port(const cf_relay_t *self)
{
    return self ? self->port : 0;
}

cf_err_t cf_relay_map_put(cf_relay_t *self, const char *key, const char *identity)
{
    char *copy = cf_mem_strdup(identity);
    if (!copy)
        return CF_ERR_NOMEM;
    pthread_mutex_lock(&self->lock);
    /* a local address is unique among open connections; an entry left by a closed one
       is replaced (zhashx_update frees the old value) */
    zhashx_update(self->map, key, copy);
    pthread_mutex_unlock(&self->lock);
    return CF_OK;
}

void cf_relay_map_remove(cf_relay_t *self, const char *key)
{
    pthread_mutex_lock(&self->lock);
    zhashx_delete(self->map, key);
    pthread_mutex_unlock(&self->lock);
}

cf_err_t cf_relay_lookup(cf_relay_t *self, const char *local_addr, char *identity, size_t cap)
{
    if (!self || !local_addr || !identity || cap == 0)
        return CF_ERR_INVALID;
    identity[0] = '\0';
    cf_err_t rc = CF_ERR_NOTFOUND;
    pthread_mutex_lock(&self->lock);
    const char *id = zhashx_lookup(self->map, local_addr);
    if (id) {
        size_t n = strlen(id);
        rc = n < cap ? CF_OK : CF_ERR_TOOBIG;
        if (rc == CF_OK)
            memcpy(identity, id, n + 1);
    }
    pthread_mutex_unlock(&self->lock);
    return rc;
}

void cf_relay_stats(cf_relay_t *self, cf_relay_stats_t *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    if (!self)
        return;
    pthread_mutex_lock(&self->lock);
    *out = self->stats;
    pthread_mutex_unlock(&self->lock);
}
