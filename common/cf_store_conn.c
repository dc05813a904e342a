/*  cf_store_conn - connect, Sentinel lookup, handshake, liveness and reconnect for cf_store  */
#include "cf_store_int.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cf_log.h"
#include "cf_mem.h"

int64_t cf_store_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timeval s_tv(int ms)
{
    struct timeval tv = {ms / 1000, (long) (ms % 1000) * 1000};
    return tv;
}

static void s_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) /* resume after a signal */
        ;
}

cf_err_t cf_store_conn_flush(cf_store_t *self, redisContext *ctx)
{
    int done = 0;
    while (!done) {
        if (redisBufferWrite(ctx, &done) != REDIS_OK)
            return cf_why(&self->why, CF_ERR_IO, "write to redis: %s", ctx->errstr);
    }
    return CF_OK;
}

cf_err_t cf_store_conn_read(cf_store_t *self, redisContext *ctx, redisReply **reply_out)
{
    *reply_out = NULL;
    for (;;) {
        void *reply = NULL;
        if (redisGetReplyFromReader(ctx, &reply) != REDIS_OK) {
            if (self->caps.refused)
                return cf_why(&self->why, CF_ERR_TOOBIG,
                              "redis reply over the cap (%zu bytes, %zu elements, %zu per batch)",
                              self->caps.max_reply_bytes, self->caps.max_reply_elements,
                              self->caps.max_batch_bytes);
            if (ctx->err == REDIS_ERR_OOM)
                return cf_why(&self->why, CF_ERR_NOMEM, "out of memory reading a reply");
            return cf_why(&self->why, CF_ERR_CORRUPT, "redis protocol error: %s", ctx->errstr);
        }
        if (reply) {
            *reply_out = reply;
            return CF_OK;
        }
        if (cf_store_caps_over_unread(&self->caps, ctx->reader))
            return cf_why(&self->why, CF_ERR_TOOBIG, "redis reply over the cap (%zu bytes)",
                          self->caps.max_reply_bytes);
        if (redisBufferRead(ctx) != REDIS_OK)
            return cf_why(&self->why, CF_ERR_IO, "read from redis: %s", ctx->errstr);
    }
}

static cf_err_t s_open(cf_store_t *self, const cf_store_endpoint_t *ep, int is_unix,
                       int cmd_timeout_ms, redisContext **out)
{
    char name[CF_STORE_ENDPOINT_STR];
    cf_store_endpoint_str(ep, is_unix, name, sizeof(name));
    struct timeval tv = s_tv(self->cfg.connect_timeout_ms);
    redisContext *ctx = is_unix ? redisConnectUnixWithTimeout(ep->host, tv)
                                : redisConnectWithTimeout(ep->host, ep->port, tv);
    if (!ctx)
        return cf_why(&self->why, CF_ERR_NOMEM, "connect %s: out of memory", name);
    if (ctx->err) {
        cf_why(&self->why, CF_ERR_IO, "connect %s: %s", name, ctx->errstr);
        redisFree(ctx);
        return CF_ERR_IO;
    }
    if (redisSetTimeout(ctx, s_tv(cmd_timeout_ms)) != REDIS_OK) {
        cf_why(&self->why, CF_ERR_IO, "connect %s: cannot set timeout", name);
        redisFree(ctx);
        return CF_ERR_IO;
    }
    if (!is_unix)
        (void) redisEnableKeepAlive(ctx); /* half-open TCP: best effort, not fatal */
    cf_store_caps_attach(ctx->reader, &self->caps);
    *out = ctx;
    return CF_OK;
}

/* Queue "AUTH password" on ctx if a password is set; returns the replies to expect. */
static int s_append_auth(redisContext *ctx, const char *password)
{
    if (!password)
        return 0;
    const char *argv[] = {"AUTH", password};
    return redisAppendCommandArgv(ctx, 2, argv, NULL) == REDIS_OK ? 1 : -1;
}

/* Read n handshake replies; the first failure wins (AUTH refused -> BADPASS). */
static cf_err_t s_read_replies(cf_store_t *self, redisContext *ctx, int n, redisReply **replies)
{
    cf_err_t rc = CF_OK;
    for (int i = 0; i < n; i++) {
        replies[i] = NULL;
        if (rc == CF_OK)
            rc = cf_store_conn_read(self, ctx, &replies[i]);
    }
    return rc;
}

/* Ask Sentinel i for the master's address; with busy, in the same round trip also whether
   it is failing the master over (SENTINEL MASTER's flags). */
static cf_err_t s_sentinel_ask(cf_store_t *self, size_t i, cf_store_endpoint_t *out, int *busy)
{
    redisContext *ctx = NULL;
    redisReply *replies[3] = {NULL, NULL, NULL};
    CF_TRY(s_open(self, &self->cfg.sentinels[i], 0, self->cfg.connect_timeout_ms, &ctx));
    cf_store_caps_begin_batch(&self->caps);
    int n = s_append_auth(ctx, self->sentinel_password);
    const char *argv[] = {"SENTINEL", "get-master-addr-by-name", self->cfg.master_name};
    const char *info[] = {"SENTINEL", "MASTER", self->cfg.master_name};
    cf_err_t rc = CF_ERR_NOMEM;
    if (n < 0 || redisAppendCommandArgv(ctx, 3, argv, NULL) != REDIS_OK ||
        (busy && redisAppendCommandArgv(ctx, 3, info, NULL) != REDIS_OK))
        goto out;
    rc = cf_store_conn_flush(self, ctx);
    if (rc == CF_OK)
        rc = s_read_replies(self, ctx, n + 1 + (busy ? 1 : 0), replies);
    if (rc == CF_OK && n == 1)
        rc = cf_store_reply_check(replies[0], &self->why);
    if (rc == CF_OK)
        rc = cf_store_reply_master_addr(replies[n], out, &self->why);
    if (rc == CF_OK && busy)
        rc = cf_store_reply_failover(replies[n + 1], busy, &self->why);
out:
    if (rc != CF_OK) {
        char name[CF_STORE_ENDPOINT_STR], inner[CF_WHY_MAX];
        snprintf(inner, sizeof(inner), "%s", cf_why_text(&self->why, rc));
        cf_why(&self->why, rc, "Sentinel %s: %s",
               cf_store_endpoint_str(&self->cfg.sentinels[i], 0, name, sizeof(name)), inner);
    }
    for (size_t k = 0; k < 3; k++)
        freeReplyObject(replies[k]);
    redisFree(ctx);
    return rc;
}

/* AUTH, SELECT and ROLE (Sentinel mode) or PING in one round trip. */
static cf_err_t s_handshake(cf_store_t *self, redisContext *ctx)
{
    redisReply *replies[3] = {NULL, NULL, NULL};
    int n = s_append_auth(ctx, self->password);
    cf_err_t rc = CF_ERR_NOMEM;
    if (n < 0)
        goto out;
    if (self->cfg.db != 0) {
        if (redisAppendCommand(ctx, "SELECT %d", self->cfg.db) != REDIS_OK)
            goto out;
        n++;
    }
    /* ROLE in Sentinel mode; else PING when nothing else was sent: a connection counts only
       once the server answered (a dying server's listener still completes TCP handshakes) */
    if (self->cfg.mode == CF_STORE_SENTINEL || n == 0) {
        if (redisAppendCommand(ctx, self->cfg.mode == CF_STORE_SENTINEL ? "ROLE" : "PING") !=
            REDIS_OK)
            goto out;
        n++;
    }
    cf_store_caps_begin_batch(&self->caps);
    rc = cf_store_conn_flush(self, ctx);
    if (rc == CF_OK)
        rc = s_read_replies(self, ctx, n, replies);
    for (int i = 0; rc == CF_OK && i < n; i++) {
        if (i == n - 1 && self->cfg.mode == CF_STORE_SENTINEL)
            rc = cf_store_reply_role_master(replies[i], &self->why);
        else
            rc = cf_store_reply_check(replies[i], &self->why);
    }
out:
    for (int i = 0; i < 3; i++)
        freeReplyObject(replies[i]);
    return rc;
}

/* Connect to ep and handshake; on success self->ctx is the connection. */
static cf_err_t s_attach(cf_store_t *self, const cf_store_endpoint_t *ep, int is_unix)
{
    redisContext *ctx = NULL;
    CF_TRY(s_open(self, ep, is_unix, self->cfg.command_timeout_ms, &ctx));
    cf_err_t rc = s_handshake(self, ctx);
    if (rc != CF_OK) {
        char name[CF_STORE_ENDPOINT_STR], inner[CF_WHY_MAX];
        snprintf(inner, sizeof(inner), "%s", cf_why_text(&self->why, rc));
        cf_why(&self->why, rc, "%s: %s", cf_store_endpoint_str(ep, is_unix, name, sizeof(name)),
               inner);
        redisFree(ctx);
        return rc;
    }
    self->ctx = ctx;
    self->current = *ep;
    cf_store_endpoint_str(ep, is_unix, self->server, sizeof(self->server));
    self->last_check_ms = cf_store_now_ms();
    return CF_OK;
}

static cf_err_t s_connect_once(cf_store_t *self)
{
    if (self->cfg.mode != CF_STORE_SENTINEL)
        return s_attach(self, &self->cfg.server, self->cfg.mode == CF_STORE_UNIX);
    cf_err_t rc = CF_ERR_IO;
    size_t n = self->cfg.n_sentinels;
    for (size_t k = 0; k < n; k++) {
        size_t i = (self->sentinel_next + k) % n;
        cf_store_endpoint_t master;
        rc = s_sentinel_ask(self, i, &master, NULL);
        if (rc == CF_OK)
            rc = s_attach(self, &master, 0);
        if (rc == CF_OK) {
            self->sentinel_next = i;
            return CF_OK;
        }
        cf_log(CF_LOG_DEBUG, "store=connect-attempt reason=\"%s\"", cf_why_text(&self->why, rc));
    }
    return rc;
}

static cf_err_t s_reconnect(cf_store_t *self)
{
    cf_err_t rc = CF_ERR_IO;
    for (int attempt = 1; attempt <= self->cfg.reconnect_attempts; attempt++) {
        if (attempt > 1)
            s_sleep_ms(cf_store_backoff_ms(&self->cfg, attempt - 1));
        rc = s_connect_once(self);
        if (rc == CF_OK) {
            if (self->connects++ == 0)
                cf_log(CF_LOG_INFO, "store=connected server=%s", self->server);
            else
                cf_log(CF_LOG_INFO, "store=reconnected server=%s attempts=%d", self->server,
                       attempt);
            self->down_logged = 0;
            self->drop_logged = 0;
            return CF_OK;
        }
        if (rc == CF_ERR_BADPASS || rc == CF_ERR_INVALID || rc == CF_ERR_NOMEM)
            break; /* configuration problems: retrying cannot help */
    }
    if (!self->down_logged)
        cf_log(CF_LOG_ERROR, "store=unavailable reason=\"%s\"", cf_why_text(&self->why, rc));
    self->down_logged = 1;
    return rc == CF_ERR_STATE || rc == CF_ERR_NOTFOUND || rc == CF_ERR_CORRUPT ? CF_ERR_IO : rc;
}

void cf_store_conn_drop(cf_store_t *self, const char *reason)
{
    if (!self->ctx)
        return;
    if (!self->drop_logged)
        cf_log(CF_LOG_WARN, "store=disconnected server=%s reason=\"%s\"", self->server, reason);
    self->drop_logged = 1;
    redisFree(self->ctx);
    self->ctx = NULL;
    self->server[0] = '\0';
}

/* Between round trips nothing may be readable: readable means EOF (the server closed or
   restarted) or stray bytes; either way this connection cannot be trusted. */
static int s_stale(const redisContext *ctx)
{
    if (ctx->reader->len > ctx->reader->pos)
        return 1;
    struct pollfd pfd = {.fd = ctx->fd, .events = POLLIN};
    int n = poll(&pfd, 1, 0);
    return n != 0; /* 1: readable/hangup, -1: poll failed */
}

/* 1 when master is the server this store is connected to. */
static int s_is_current(const cf_store_t *self, const cf_store_endpoint_t *master)
{
    return master->port == self->current.port && strcmp(master->host, self->current.host) == 0;
}

/* Ask the Sentinels where the master is; when it is not the server we are connected to,
   drop the connection and answer 1. No Sentinel answering keeps the connection (0). */
static int s_master_moved(cf_store_t *self)
{
    self->last_check_ms = cf_store_now_ms();
    for (size_t k = 0; k < self->cfg.n_sentinels; k++) {
        size_t i = (self->sentinel_next + k) % self->cfg.n_sentinels;
        cf_store_endpoint_t master;
        if (s_sentinel_ask(self, i, &master, NULL) != CF_OK)
            continue;
        if (s_is_current(self, &master))
            return 0;
        cf_store_conn_drop(self, "Sentinel reports a new master");
        return 1;
    }
    return 0;
}

/* Sentinel mode: ask where the master is now; a failover leaves the old master up and
   writable for a while (until Sentinel demotes it), so errors alone come too late. */
static void s_master_check(cf_store_t *self)
{
    int64_t now = cf_store_now_ms();
    if (self->cfg.master_check_ms == 0 || now - self->last_check_ms < self->cfg.master_check_ms)
        return;
    (void) s_master_moved(self);
}

int cf_store_conn_master_unsettled(cf_store_t *self)
{
    if (self->cfg.mode != CF_STORE_SENTINEL || !self->ctx)
        return 0;
    /* every Sentinel: only the one leading a failover knows it is under way */
    for (size_t i = 0; i < self->cfg.n_sentinels; i++) {
        cf_store_endpoint_t master;
        int busy = 0;
        if (s_sentinel_ask(self, i, &master, &busy) != CF_OK)
            continue; /* an unreachable Sentinel cannot lead a failover others agree to */
        char name[CF_STORE_ENDPOINT_STR];
        cf_store_endpoint_str(&self->cfg.sentinels[i], 0, name, sizeof(name));
        if (!s_is_current(self, &master)) {
            cf_why(&self->why, CF_ERR_IO, "Sentinel %s names another master", name);
            cf_store_conn_drop(self, "Sentinel reports a new master");
            return 1;
        }
        if (busy) {
            cf_why(&self->why, CF_ERR_IO, "Sentinel %s is failing the master over", name);
            return 1;
        }
    }
    return 0;
}

cf_err_t cf_store_conn_ensure(cf_store_t *self)
{
    if (self->ctx && s_stale(self->ctx))
        cf_store_conn_drop(self, "connection closed by the server");
    if (self->ctx && self->cfg.mode == CF_STORE_SENTINEL)
        s_master_check(self);
    if (self->ctx)
        return CF_OK;
    return s_reconnect(self);
}
