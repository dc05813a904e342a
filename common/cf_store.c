/*  cf_store - synchronous Redis client: commands, round trips with retry, pipelines  */
#include "cf_store_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cf_log.h"
#include "cf_mem.h"

struct cf_store_pipe {
    cf_store_t *store;    /* borrowed */
    char *buf;            /* queued commands, RESP-encoded back to back */
    size_t len;           /* bytes used in buf */
    size_t cap;           /* bytes allocated for buf */
    size_t n;             /* commands queued */
    size_t max_cmds;      /* cap on n */
    redisReply **replies; /* n replies after a successful exec, else NULL */
};

cf_err_t cf_store_new(const cf_store_cfg_t *cfg, cf_store_t **store_out, cf_why_t *why)
{
    if (!store_out)
        return cf_why(why, CF_ERR_INVALID, "no output pointer");
    *store_out = NULL;
    CF_TRY(cf_store_cfg_check(cfg, why));
    cf_err_t rc = CF_ERR_NOMEM;
    cf_store_t *self = cf_mem_calloc(1, sizeof(*self));
    if (!self)
        goto out;
    self->cfg = *cfg;
    self->cfg.password = NULL;
    self->cfg.sentinel_password = NULL;
    self->password = cf_mem_strdup(cfg->password); /* NULL stays NULL */
    if (cfg->password && !self->password)
        goto out;
    self->sentinel_password = cf_mem_strdup(cfg->sentinel_password);
    if (cfg->sentinel_password && !self->sentinel_password)
        goto out;
    self->cfg.password = self->password;
    self->cfg.sentinel_password = self->sentinel_password;
    cf_store_caps_init(&self->caps, &self->cfg);
    rc = cf_store_lease_init(self);
    if (rc != CF_OK)
        goto out;
    *store_out = self;
    self = NULL;
out:
    cf_store_destroy(&self);
    return rc == CF_OK ? CF_OK : cf_why(why, rc, "cannot create the store: %s", cf_err_str(rc));
}

void cf_store_destroy(cf_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_store_t *self = *self_p;
    if (self->ctx)
        redisFree(self->ctx);
    cf_mem_free_secret_str(self->password);
    cf_mem_free_secret_str(self->sentinel_password);
    cf_store_script_destroy(&self->lease_renew);
    cf_store_script_destroy(&self->lease_release);
    cf_mem_free(self);
    *self_p = NULL;
}

cf_err_t cf_store_connect(cf_store_t *self)
{
    CF_ASSERT(self);
    return cf_store_conn_ensure(self);
}

const cf_why_t *cf_store_why(const cf_store_t *self)
{
    CF_ASSERT(self);
    return &self->why;
}

const char *cf_store_server(const cf_store_t *self)
{
    CF_ASSERT(self);
    return self->server;
}

unsigned long cf_store_reconnects(const cf_store_t *self)
{
    CF_ASSERT(self);
    return self->connects > 0 ? self->connects - 1 : 0;
}

void cf_store_reply_free(redisReply **reply_p)
{
    if (!reply_p || !*reply_p)
        return;
    freeReplyObject(*reply_p);
    *reply_p = NULL;
}

static void s_free_replies(redisReply **replies, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cf_store_reply_free(&replies[i]);
}

/* Send the n commands in buf on the current connection and read their n replies. */
static cf_err_t s_exchange(cf_store_t *self, const char *buf, size_t len, size_t n,
                           redisReply **replies)
{
    redisContext *ctx = self->ctx;
    cf_store_caps_begin_batch(&self->caps);
    if (redisAppendFormattedCommand(ctx, buf, len) != REDIS_OK)
        return cf_why(&self->why, CF_ERR_NOMEM, "out of memory queueing a command");
    CF_TRY(cf_store_conn_flush(self, ctx));
    for (size_t i = 0; i < n; i++) {
        cf_err_t rc = cf_store_conn_read(self, ctx, &replies[i]);
        if (rc != CF_OK) {
            s_free_replies(replies, i);
            return rc;
        }
    }
    return CF_OK;
}

static int s_any_readonly(redisReply **replies, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (cf_store_reply_readonly(replies[i]))
            return 1;
    return 0;
}

/* One round trip with the retry rules: a lost connection is resent once only for
   idempotent work; a READONLY refusal (we reached a demoted master) is always resent once,
   since a refused command did not run. replies[0..n-1] are set on CF_OK. */
static cf_err_t s_roundtrip(cf_store_t *self, int flags, const char *buf, size_t len, size_t n,
                            redisReply **replies)
{
    for (int attempt = 0;; attempt++) {
        CF_TRY(cf_store_conn_ensure(self));
        cf_err_t rc = s_exchange(self, buf, len, n, replies);
        if (rc == CF_OK && attempt == 0 && s_any_readonly(replies, n)) {
            s_free_replies(replies, n);
            cf_store_conn_drop(self, "server is read-only (a replica)");
            continue;
        }
        if (rc == CF_OK)
            return CF_OK;
        /* after any failure the stream position is unknown: never reuse the connection */
        cf_store_conn_drop(self, cf_why_text(&self->why, rc));
        if (rc == CF_ERR_IO && attempt == 0 && (flags & CF_STORE_IDEMPOTENT))
            continue;
        return rc;
    }
}

/* Round trip for one formatted command; error replies become the call's result. */
static cf_err_t s_run_one(cf_store_t *self, int flags, char *cmd, int len, redisReply **reply_out)
{
    if (reply_out)
        *reply_out = NULL;
    if (len == -1 || !cmd)
        return cf_why(&self->why, CF_ERR_INVALID, "bad command format or out of memory");
    if ((size_t) len > (size_t) CF_STORE_CMD_MAX_BYTES) {
        redisFreeCommand(cmd);
        return cf_why(&self->why, CF_ERR_TOOBIG, "command over %d bytes", CF_STORE_CMD_MAX_BYTES);
    }
    redisReply *reply = NULL;
    cf_err_t rc = s_roundtrip(self, flags, cmd, (size_t) len, 1, &reply);
    redisFreeCommand(cmd);
    if (rc == CF_OK)
        rc = cf_store_reply_check(reply, &self->why);
    if (rc == CF_OK && reply_out)
        *reply_out = reply;
    else
        freeReplyObject(reply);
    return rc;
}

static cf_err_t s_vcmd(cf_store_t *self, int flags, redisReply **reply_out, const char *fmt,
                       va_list ap)
{
    CF_ASSERT(self && fmt);
    char *cmd = NULL;
    int len = redisvFormatCommand(&cmd, fmt, ap);
    return s_run_one(self, flags, cmd, len, reply_out);
}

cf_err_t cf_store_cmd(cf_store_t *self, redisReply **reply_out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cf_err_t rc = s_vcmd(self, 0, reply_out, fmt, ap);
    va_end(ap);
    return rc;
}

cf_err_t cf_store_durable(cf_store_t *self, unsigned long reconnects)
{
    CF_ASSERT(self);
    int want = self->cfg.durable_replicas;
    if (want <= 0)
        return CF_OK;
    if (cf_store_reconnects(self) != reconnects)
        return cf_why(&self->why, CF_ERR_IO, "reconnected since the writes: not known durable");
    redisReply *r = NULL;
    CF_TRY(cf_store_cmd(self, &r, "WAIT %d %d", want, CF_STORE_DURABLE_MS));
    long long got = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    if (cf_store_reconnects(self) != reconnects)
        return cf_why(&self->why, CF_ERR_IO, "reconnected during WAIT: not known durable");
    if (got < want)
        return cf_why(&self->why, CF_ERR_IO, "write reached %lld of %d replicas in %d ms", got,
                      want, CF_STORE_DURABLE_MS);
    /* a forced failover: the promoted replica stopped taking our writes while another
       replica still follows the old master (and will drop them when it is moved). From the
       promotion until the Sentinels name the new master only the leading Sentinel knows
       (failover_in_progress); after it every Sentinel names the new one. */
    if (cf_store_conn_master_unsettled(self)) /* why names the Sentinel and what it said */
        return CF_ERR_IO;
    return CF_OK;
}

cf_err_t cf_store_cmd_idem(cf_store_t *self, redisReply **reply_out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cf_err_t rc = s_vcmd(self, CF_STORE_IDEMPOTENT, reply_out, fmt, ap);
    va_end(ap);
    return rc;
}

static cf_err_t s_format_argv(int argc, const char **argv, const size_t *argvlen, char **cmd,
                              int *len, cf_why_t *why)
{
    if (argc < 1 || argc > CF_STORE_ARGC_MAX || !argv)
        return cf_why(why, CF_ERR_INVALID, "a command needs 1..%d arguments", CF_STORE_ARGC_MAX);
    size_t total = 0;
    for (int i = 0; i < argc; i++) {
        if (!argv[i])
            return cf_why(why, CF_ERR_INVALID, "argument %d is NULL", i);
        size_t alen = argvlen ? argvlen[i] : strlen(argv[i]);
        if (alen > (size_t) CF_STORE_CMD_MAX_BYTES - total)
            return cf_why(why, CF_ERR_TOOBIG, "command over %d bytes", CF_STORE_CMD_MAX_BYTES);
        total += alen;
    }
    *len = redisFormatCommandArgv(cmd, argc, argv, argvlen);
    if (*len < 0 || !*cmd)
        return cf_why(why, CF_ERR_NOMEM, "out of memory formatting a command");
    return CF_OK;
}

cf_err_t cf_store_cmd_argv(cf_store_t *self, int flags, redisReply **reply_out, int argc,
                           const char **argv, const size_t *argvlen)
{
    CF_ASSERT(self);
    if (reply_out)
        *reply_out = NULL;
    char *cmd = NULL;
    int len = 0;
    CF_TRY(s_format_argv(argc, argv, argvlen, &cmd, &len, &self->why));
    return s_run_one(self, flags, cmd, len, reply_out);
}

cf_err_t cf_store_pipe_new(cf_store_t *store, size_t max_cmds, cf_store_pipe_t **pipe_out)
{
    if (!store || !pipe_out || max_cmds < 1 || max_cmds > CF_STORE_PIPE_MAX)
        return CF_ERR_INVALID;
    *pipe_out = cf_mem_calloc(1, sizeof(**pipe_out));
    if (!*pipe_out)
        return CF_ERR_NOMEM;
    (*pipe_out)->store = store;
    (*pipe_out)->max_cmds = max_cmds;
    return CF_OK;
}

void cf_store_pipe_reset(cf_store_pipe_t *self)
{
    if (!self)
        return;
    if (self->replies) {
        s_free_replies(self->replies, self->n);
        cf_mem_free(self->replies);
        self->replies = NULL;
    }
    self->len = 0;
    self->n = 0;
}

void cf_store_pipe_destroy(cf_store_pipe_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_store_pipe_reset(*self_p);
    cf_mem_free((*self_p)->buf);
    cf_mem_free(*self_p);
    *self_p = NULL;
}

static cf_err_t s_pipe_grow(cf_store_pipe_t *self, size_t need)
{
    if (self->len + need <= self->cap)
        return CF_OK;
    size_t cap = self->cap ? self->cap : 4096;
    while (cap < self->len + need)
        cap *= 2;
    char *grown = cf_mem_realloc(self->buf, cap);
    if (!grown)
        return CF_ERR_NOMEM;
    self->buf = grown;
    self->cap = cap;
    return CF_OK;
}

/* Take ownership of one formatted command (freed here in every case). */
static cf_err_t s_pipe_add(cf_store_pipe_t *self, char *cmd, int len)
{
    cf_err_t rc = CF_OK;
    if (self->replies)
        rc = CF_ERR_STATE;
    else if (len <= 0 || !cmd)
        rc = CF_ERR_INVALID;
    else if (self->n >= self->max_cmds ||
             (size_t) len > (size_t) CF_STORE_CMD_MAX_BYTES - self->len)
        rc = CF_ERR_TOOBIG;
    else
        rc = s_pipe_grow(self, (size_t) len);
    if (rc == CF_OK) {
        memcpy(self->buf + self->len, cmd, (size_t) len);
        self->len += (size_t) len;
        self->n++;
    } else if (rc == CF_ERR_TOOBIG) {
        cf_why(&self->store->why, rc, "pipeline over %zu commands or %d bytes", self->max_cmds,
               CF_STORE_CMD_MAX_BYTES);
    } else {
        cf_why(&self->store->why, rc, "%s",
               rc == CF_ERR_STATE ? "pipeline already executed; reset it first"
                                  : "bad command format or out of memory");
    }
    redisFreeCommand(cmd);
    return rc;
}

cf_err_t cf_store_pipe_append(cf_store_pipe_t *self, const char *fmt, ...)
{
    CF_ASSERT(self && fmt);
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    int len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    return s_pipe_add(self, cmd, len);
}

cf_err_t cf_store_pipe_append_argv(cf_store_pipe_t *self, int argc, const char **argv,
                                   const size_t *argvlen)
{
    CF_ASSERT(self);
    char *cmd = NULL;
    int len = 0;
    CF_TRY(s_format_argv(argc, argv, argvlen, &cmd, &len, &self->store->why));
    return s_pipe_add(self, cmd, len);
}

cf_err_t cf_store_pipe_exec(cf_store_pipe_t *self, int flags)
{
    CF_ASSERT(self);
    cf_store_t *store = self->store;
    if (self->replies)
        return cf_why(&store->why, CF_ERR_STATE, "pipeline already executed; reset it first");
    if (self->n == 0)
        return CF_OK;
    redisReply **replies = cf_mem_calloc(self->n, sizeof(*replies));
    if (!replies)
        return cf_why(&store->why, CF_ERR_NOMEM, "out of memory for %zu replies", self->n);
    cf_err_t rc = s_roundtrip(store, flags, self->buf, self->len, self->n, replies);
    if (rc != CF_OK) {
        cf_mem_free(replies);
        return rc;
    }
    self->replies = replies;
    for (size_t i = 0; i < self->n; i++) {
        rc = cf_store_reply_check(replies[i], &store->why);
        if (rc != CF_OK) {
            char inner[CF_WHY_MAX];
            snprintf(inner, sizeof(inner), "%s", store->why.text);
            return cf_why(&store->why, rc, "command %zu: %s", i + 1, inner);
        }
    }
    return CF_OK;
}

size_t cf_store_pipe_size(const cf_store_pipe_t *self)
{
    return self ? self->n : 0;
}

const redisReply *cf_store_pipe_reply(const cf_store_pipe_t *self, size_t i)
{
    if (!self || !self->replies || i >= self->n)
        return NULL;
    return self->replies[i];
}
