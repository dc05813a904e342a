/*  cf_https - listeners, start/stop, and run-time changes delivered to the workers  */
#include "cf_https_int.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "cf_log.h"
#include "cf_mem.h"

#define S_BACKLOG 4096 /* listen(2) backlog: reconnect storms queue here, not in SYN drops */

cf_err_t cf_tls_version_from_name(const char *name, cf_tls_version_t *out)
{
    static const struct {
        const char *name;
        cf_tls_version_t v;
    } names[] = {
        {"1.0", CF_TLS_1_0}, {"1.1", CF_TLS_1_1}, {"1.2", CF_TLS_1_2}, {"1.3", CF_TLS_1_3}};
    if (!name || !out)
        return CF_ERR_INVALID;
    if (strncasecmp(name, "TLSv", 4) == 0)
        name += 4;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].v;
            return CF_OK;
        }
    }
    return CF_ERR_INVALID;
}

const char *cf_tls_version_name(cf_tls_version_t v)
{
    switch (v) {
    case CF_TLS_1_0: return "1.0";
    case CF_TLS_1_1: return "1.1";
    case CF_TLS_1_2: return "1.2";
    case CF_TLS_1_3: return "1.3";
    default: return "?";
    }
}

const char *cf_https_reason_name(cf_https_reason_t r)
{
    switch (r) {
    case CF_HTTPS_REFUSED_NOCERT: return "no-certificate";
    case CF_HTTPS_REFUSED_EXPIRED: return "expired";
    case CF_HTTPS_REFUSED_NOTYETVALID: return "not-yet-valid";
    case CF_HTTPS_REFUSED_REVOKED: return "revoked";
    case CF_HTTPS_REFUSED_UNTRUSTED: return "untrusted";
    default: return "unknown";
    }
}

/* A listening socket on address:port (literal address), non-blocking, close-on-exec. */
static cf_err_t s_listen(const char *address, int port, int *fd_out, cf_why_t *why)
{
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    char service[8];
    snprintf(service, sizeof(service), "%d", port);
    if (getaddrinfo(address, service, &hints, &ai) != 0 || !ai)
        return cf_why(why, CF_ERR_INVALID, "bind address '%s' is not a literal address", address);
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    /* TCP_NODELAY on the listener is inherited by every accepted socket (Linux): without it
       a keep-alive answer waits ~40 ms for the client's delayed ACK (Nagle) */
    int ok = fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
             setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0 &&
             bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, S_BACKLOG) == 0;
    int err = errno;
    freeaddrinfo(ai);
    if (!ok) {
        if (fd >= 0)
            close(fd);
        return cf_why(why, CF_ERR_IO, "listen on %s port %d: %s", address, port, strerror(err));
    }
    *fd_out = fd;
    return CF_OK;
}

/* Give cmd to every worker and wait until all have applied it. Caller holds ctl. Before
   the threads start the workers are applied to here; no thread touches them yet. */
static cf_err_t s_broadcast(cf_https_t *self, const cf_https_cmd_t *cmd)
{
    int n = self->cfg.threads;
    if (!self->running) {
        int failed = 0;
        for (int i = 0; i < n; i++)
            failed += !cf_https_worker_apply(&self->workers[i], cmd);
        return failed ? CF_ERR_IO : CF_OK;
    }
    pthread_mutex_lock(&self->ack_lock);
    self->pending = n;
    self->failures = 0;
    pthread_mutex_unlock(&self->ack_lock);
    for (int i = 0; i < n; i++) {
        const cf_https_cmd_t *p = cmd;
        if (write(self->workers[i].mbox[1], &p, sizeof(p)) != (ssize_t) sizeof(p))
            cf_https_ack(self, 0);
    }
    pthread_mutex_lock(&self->ack_lock);
    while (self->pending > 0)
        pthread_cond_wait(&self->ack_cond, &self->ack_lock);
    int failed = self->failures;
    pthread_mutex_unlock(&self->ack_lock);
    return failed ? CF_ERR_IO : CF_OK;
}

static int s_on_worker(const cf_https_t *self)
{
    pthread_t me = pthread_self();
    for (int i = 0; self->running && i < self->cfg.threads; i++) {
        if (self->workers[i].started && pthread_equal(self->workers[i].thread, me))
            return 1;
    }
    return 0;
}

static cf_err_t s_check_cfg(const cf_https_cfg_t *cfg, cf_why_t *why)
{
    if (!cfg || !cfg->on_request)
        return cf_why(why, CF_ERR_INVALID, "an on_request callback is required");
    if (cfg->worker_new && !cfg->worker_free)
        return cf_why(why, CF_ERR_INVALID, "worker_new needs worker_free");
    if (cfg->port < 1 || cfg->port > 65535)
        return cf_why(why, CF_ERR_INVALID, "TLS port %d (1..65535)", cfg->port);
    if (cfg->plain_port < 0 || cfg->plain_port > 65535 || cfg->plain_port == cfg->port)
        return cf_why(why, CF_ERR_INVALID, "plain port %d (1..65535, not the TLS port)",
                      cfg->plain_port);
    if (cfg->threads < 0 || cfg->threads > CF_HTTPS_MAX_THREADS)
        return cf_why(why, CF_ERR_INVALID, "threads %d (1..%d)", cfg->threads,
                      CF_HTTPS_MAX_THREADS);
    if (cfg->max_body > CF_HTTPS_MAX_BODY || cfg->max_headers > CF_HTTPS_MAX_BODY ||
        cfg->timeout_s < 0 || cfg->max_conns < 0)
        return cf_why(why, CF_ERR_INVALID, "limits out of range");
    if (cfg->address && strlen(cfg->address) >= CF_HTTPS_ADDR_MAX)
        return cf_why(why, CF_ERR_TOOBIG, "bind address too long");
    return CF_OK;
}

static void s_defaults(cf_https_t *self, const cf_https_cfg_t *cfg)
{
    self->cfg = *cfg;
    snprintf(self->address, sizeof(self->address), "%s", cfg->address ? cfg->address : "0.0.0.0");
    self->cfg.address = self->address;
    if (self->cfg.threads == 0)
        self->cfg.threads = 1;
    if (self->cfg.max_body == 0)
        self->cfg.max_body = CF_HTTPS_DEFAULT_BODY;
    if (self->cfg.max_headers == 0)
        self->cfg.max_headers = CF_HTTPS_DEFAULT_HEADERS;
    if (self->cfg.timeout_s == 0)
        self->cfg.timeout_s = CF_HTTPS_DEFAULT_TIMEOUT;
    if (self->cfg.max_conns == 0)
        self->cfg.max_conns = CF_HTTPS_DEFAULT_CONNS;
    self->hooks = (cf_https_hooks_t){cfg->on_refused, cfg->refused_arg};
    self->require = cfg->require_client_cert ? 1 : 0;
}

cf_err_t cf_https_new(const cf_https_cfg_t *cfg, const cf_https_tls_t *tls, cf_https_t **out,
                      cf_why_t *why)
{
    CF_TRY(s_check_cfg(cfg, why));
    if (!out)
        return CF_ERR_INVALID;
    cf_https_t *self = cf_mem_calloc(1, sizeof(*self));
    if (!self)
        return CF_ERR_NOMEM;
    s_defaults(self, cfg);
    pthread_mutex_init(&self->ctl, NULL);
    pthread_mutex_init(&self->ack_lock, NULL);
    pthread_cond_init(&self->ack_cond, NULL);
    int tls_fd = -1;
    cf_err_t rc = cf_https_ctx_new(tls, &self->hooks, &self->ctx, why);
    if (rc == CF_OK)
        rc = s_listen(self->address, cfg->port, &tls_fd, why);
    if (rc != CF_OK)
        goto out;
    rc = CF_ERR_NOMEM;
    self->workers = cf_mem_calloc((size_t) self->cfg.threads, sizeof(cf_https_worker_t));
    if (!self->workers)
        goto out;
    for (int i = 0; i < self->cfg.threads; i++) {
        rc = cf_https_worker_init(self, &self->workers[i], tls_fd);
        if (rc != CF_OK) {
            cf_why(why, rc, "worker %d: %s", i, cf_err_str(rc));
            goto out;
        }
    }
    if (cfg->plain_port)
        rc = cf_https_set_plain_port(self, cfg->plain_port, why);
    if (rc != CF_OK)
        goto out;
    *out = self;
    self = NULL;
out:
    if (tls_fd >= 0)
        close(tls_fd); /* the workers hold their own descriptors of the socket */
    cf_https_destroy(&self);
    return rc;
}

cf_err_t cf_https_start(cf_https_t *self)
{
    if (!self)
        return CF_ERR_INVALID;
    pthread_mutex_lock(&self->ctl);
    cf_err_t rc = self->running ? CF_ERR_STATE : CF_OK;
    for (int i = 0; rc == CF_OK && i < self->cfg.threads; i++) {
        cf_https_worker_t *w = &self->workers[i];
        if (pthread_create(&w->thread, NULL, cf_https_worker_run, w) != 0)
            rc = CF_ERR_IO;
        else
            w->started = 1;
    }
    self->running = 1; /* the started ones answer the mailbox, so stop can reach them */
    pthread_mutex_unlock(&self->ctl);
    if (rc != CF_OK && rc != CF_ERR_STATE)
        cf_https_stop(self);
    return rc;
}

void cf_https_stop(cf_https_t *self)
{
    if (!self || s_on_worker(self))
        return;
    pthread_mutex_lock(&self->ctl);
    if (self->running) {
        cf_https_cmd_t cmd = {.op = CF_HTTPS_CMD_STOP};
        for (int i = 0; i < self->cfg.threads; i++) {
            cf_https_worker_t *w = &self->workers[i];
            const cf_https_cmd_t *p = &cmd;
            if (w->started && write(w->mbox[1], &p, sizeof(p)) == (ssize_t) sizeof(p))
                pthread_join(w->thread, NULL);
            w->started = 0;
        }
        self->running = 0;
    }
    pthread_mutex_unlock(&self->ctl);
}

void cf_https_destroy(cf_https_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_https_t *self = *self_p;
    cf_https_stop(self);
    for (int i = 0; self->workers && i < self->cfg.threads; i++)
        cf_https_worker_free(&self->workers[i]);
    cf_mem_free(self->workers);
    SSL_CTX_free(self->ctx);
    pthread_cond_destroy(&self->ack_cond);
    pthread_mutex_destroy(&self->ack_lock);
    pthread_mutex_destroy(&self->ctl);
    cf_mem_free(self);
    *self_p = NULL;
}

cf_err_t cf_https_set_tls(cf_https_t *self, const cf_https_tls_t *tls, cf_why_t *why)
{
    if (!self)
        return CF_ERR_INVALID;
    if (s_on_worker(self))
        return CF_ERR_STATE;
    SSL_CTX *ctx = NULL;
    CF_TRY(cf_https_ctx_new(tls, &self->hooks, &ctx, why));
    pthread_mutex_lock(&self->ctl);
    cf_https_cmd_t cmd = {.op = CF_HTTPS_CMD_TLS, .ctx = ctx};
    cf_err_t rc = s_broadcast(self, &cmd); /* cannot fail: each worker takes a reference */
    SSL_CTX_free(self->ctx);
    self->ctx = ctx;
    pthread_mutex_unlock(&self->ctl);
    cf_log(CF_LOG_INFO, "tls material swapped min_tls=%s revoked=%zu",
           cf_tls_version_name(tls->min_tls ? tls->min_tls : CF_TLS_1_2), tls->n_revoked);
    return rc;
}

cf_err_t cf_https_set_require_client_cert(cf_https_t *self, int on)
{
    if (!self)
        return CF_ERR_INVALID;
    if (s_on_worker(self))
        return CF_ERR_STATE;
    pthread_mutex_lock(&self->ctl);
    cf_https_cmd_t cmd = {.op = CF_HTTPS_CMD_REQUIRE, .on = on ? 1 : 0};
    cf_err_t rc = s_broadcast(self, &cmd);
    self->require = cmd.on;
    pthread_mutex_unlock(&self->ctl);
    cf_log(CF_LOG_INFO, "tls require_client_cert=%d", cmd.on);
    return rc;
}

cf_err_t cf_https_set_plain_port(cf_https_t *self, int port, cf_why_t *why)
{
    if (!self)
        return CF_ERR_INVALID;
    if (port < 0 || port > 65535 || port == self->cfg.port)
        return cf_why(why, CF_ERR_INVALID, "plain port %d (1..65535, not the TLS port)", port);
    if (s_on_worker(self))
        return CF_ERR_STATE;
    pthread_mutex_lock(&self->ctl);
    cf_err_t rc = CF_OK;
    if (port != self->plain_port) {
        cf_https_cmd_t cmd = {.op = port ? CF_HTTPS_CMD_PLAIN_OPEN : CF_HTTPS_CMD_PLAIN_CLOSE,
                              .fd = -1};
        cf_why_t inner = {""}; /* the listen's own reason (address in use, ...) */
        if (port)
            rc = s_listen(self->address, port, &cmd.fd, &inner);
        if (rc == CF_OK)
            rc = s_broadcast(self, &cmd);
        if (rc != CF_OK && port) { /* some workers may hold it: take it back from all */
            cf_https_cmd_t undo = {.op = CF_HTTPS_CMD_PLAIN_CLOSE, .fd = -1};
            (void) s_broadcast(self, &undo);
            cf_why(why, rc, "plain port %d: %s", port, cf_why_text(&inner, rc));
        }
        if (cmd.fd >= 0)
            close(cmd.fd); /* workers keep their own descriptors */
        self->plain_port = rc == CF_OK ? port : 0;
    }
    int now = self->plain_port;
    pthread_mutex_unlock(&self->ctl);
    if (rc == CF_OK)
        cf_log(CF_LOG_INFO, "plain listener %s port=%d", now ? "open" : "closed", port);
    return rc;
}

int cf_https_port(const cf_https_t *self)
{
    return self ? self->cfg.port : 0;
}

int cf_https_plain_port(const cf_https_t *self)
{
    return self ? self->plain_port : 0;
}

int cf_https_threads(const cf_https_t *self)
{
    return self ? self->cfg.threads : 0;
}
