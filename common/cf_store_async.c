/*  cf_store_async - pipelined Redis batches on libevent + hiredis async: time limits,
    reconnect with back-off, the master located through a one-attempt cf_store  */
#include "cf_store_async.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <hiredis/async.h>

#include "cf_log.h"
#include "cf_mem.h"
#include "cf_store_ev.h"
#include "cf_store_int.h"

#define S_GRAVE     8    /* retired contexts waiting to be freed outside hiredis callbacks */
#define S_ARGV_MAX  96   /* arguments of one command built on the stack (EVALSHA adds 3) */
#define S_CMD_STACK 4096 /* a command this long or shorter is formatted on the stack */
#define S_EARLY     8    /* commands of one turn written at once, without waiting for its end */
_Static_assert(CF_STORE_ASYNC_ARGC_MAX + 3 <= S_ARGV_MAX, "EVALSHA, its SHA and nkeys fit");

typedef struct s_batch s_batch_t;

struct s_batch {
    cf_store_async_t *owner;           /* the client */
    redisAsyncContext *ac;             /* the connection it went out on */
    cf_store_async_reply_fn *on_reply; /* may be NULL */
    cf_store_async_done_fn *done;      /* required */
    void *arg;                         /* for both */
    size_t n;                          /* hiredis callbacks to come */
    size_t got;                        /* hiredis callbacks seen */
    int finished;                      /* done called (or never to be called) */
    int64_t deadline_ms;               /* monotonic time limit of the whole batch */
    s_batch_t *prev, *next;            /* the list of unfinished batches, oldest first */
};

struct cf_store_async {
    cf_store_cfg_t cfg;      /* copy; passwords below */
    char *password;          /* owned, wiped */
    char *sentinel_password; /* owned, wiped */
    struct event_base *base; /* borrowed */
    struct event *tick;      /* time limits, master checks */
    struct event *reaper;    /* frees the grave */
    struct event *flush;     /* writes the commands of this loop turn after its callbacks */
    cf_store_caps_t caps;    /* limits of ac's replies */
    cf_store_t *probe;       /* synchronous store that finds the master (kept, so a master check is
                                one Sentinel question, not a new connection) */
    redisAsyncContext *ac;   /* current connection or NULL */
    redisAsyncContext *grave[S_GRAVE];                            /* retired, freed by the reaper */
    const cf_store_script_t *scripts[CF_STORE_ASYNC_SCRIPTS_MAX]; /* registered, borrowed */
    size_t n_scripts;                                             /* entries in scripts */
    char server[CF_STORE_ENDPOINT_STR];                           /* server of ac, "" when none */
    int attempt;                                                  /* failed connects in a row */
    int64_t next_try_ms;                                          /* no connect before this */
    int64_t last_check_ms;                                        /* last Sentinel master check */
    unsigned long connects;                                       /* connections opened */
    int sent_any;                                                 /* a batch was sent */
    int destroying;                                               /* in cf_store_async_destroy */
    int unwritten;          /* commands queued since the last write */
    s_batch_t *head, *tail; /* unfinished batches */
    size_t pending;         /* entries in that list */
    cf_why_t why;           /* last failure */
};

static void s_unlink(cf_store_async_t *self, s_batch_t *b)
{
    if (b->prev)
        b->prev->next = b->next;
    else
        self->head = b->next;
    if (b->next)
        b->next->prev = b->prev;
    else
        self->tail = b->prev;
    b->prev = b->next = NULL;
    self->pending--;
}

/* Call done once; the batch goes when hiredis has called back for every command. */
static void s_finish(s_batch_t *b, cf_err_t rc, const cf_why_t *why)
{
    if (b->finished)
        return;
    b->finished = 1;
    s_unlink(b->owner, b);
    b->done(b->arg, rc, why);
}

static void s_release(s_batch_t *b)
{
    if (b->finished && b->got >= b->n)
        cf_mem_free(b);
}

/* Drop the current connection (never freed here: the reaper does it outside hiredis):
   every unfinished batch on it fails with rc and the reason. */
static void s_retire(cf_store_async_t *self, cf_err_t rc, const char *fmt, ...) CF_PRINTF(3, 4);
static void s_retire(cf_store_async_t *self, cf_err_t rc, const char *fmt, ...)
{
    redisAsyncContext *ac = self->ac;
    if (!ac)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(self->why.text, sizeof(self->why.text), fmt, ap);
    va_end(ap);
    cf_log(CF_LOG_WARN, "store-async=disconnected server=%s reason=\"%s\"", self->server,
           self->why.text);
    self->ac = NULL;
    self->server[0] = '\0';
    s_batch_t *b = self->head;
    while (b) {
        s_batch_t *next = b->next;
        if (b->ac == ac)
            s_finish(b, rc, &self->why);
        b = next;
    }
    for (int i = 0; i < S_GRAVE; i++) {
        if (!self->grave[i]) {
            self->grave[i] = ac;
            event_active(self->reaper, EV_TIMEOUT, 0);
            return;
        }
    }
    redisAsyncDisconnect(ac); /* grave full: hiredis defers this one safely */
}

static void s_on_reap(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    cf_store_async_t *self = arg;
    for (int i = 0; i < S_GRAVE; i++) {
        redisAsyncContext *ac = self->grave[i];
        self->grave[i] = NULL;
        if (ac)
            redisAsyncFree(ac); /* NULL replies for what is still out: counted, freed */
    }
}

/* hiredis frees cac itself (connect failed, connection lost): forget it. */
static void s_forget(cf_store_async_t *self, const redisAsyncContext *cac)
{
    for (int i = 0; i < S_GRAVE; i++)
        if (self->grave[i] == cac)
            self->grave[i] = NULL;
    if (self->ac == cac) {
        self->ac = NULL;
        self->server[0] = '\0';
    }
}

static void s_on_connect(const redisAsyncContext *cac, int status)
{
    cf_store_async_t *self = cac->data;
    if (status == REDIS_OK) {
        if (cac == self->ac)
            self->attempt = 0;
        return;
    }
    if (cac == self->ac) {
        cf_why(&self->why, CF_ERR_IO, "connect %s: %s", self->server,
               cac->errstr ? cac->errstr : "failed");
        self->attempt++;
        self->next_try_ms = cf_store_now_ms() + cf_store_backoff_ms(&self->cfg, self->attempt);
    }
    s_forget(self, cac);
}

static void s_on_disconnect(const redisAsyncContext *cac, int status)
{
    (void) status;
    cf_store_async_t *self = cac->data;
    if (cac == self->ac) {
        cf_why(&self->why, CF_ERR_IO, "%s: connection lost: %s", self->server,
               cac->errstr ? cac->errstr : "closed");
        cf_log(CF_LOG_WARN, "store-async=disconnected server=%s reason=\"%s\"", self->server,
               self->why.text);
    }
    s_forget(self, cac);
}

static void s_on_over(void *arg, redisAsyncContext *ac)
{
    cf_store_async_t *self = arg;
    if (ac == self->ac)
        s_retire(self, CF_ERR_TOOBIG, "reply over the cap (%zu bytes)", self->caps.max_reply_bytes);
}

/* A NULL reply: the connection went (lost, refused, retired or destroyed). */
static void s_null_reply(s_batch_t *b, const redisAsyncContext *ac)
{
    cf_store_async_t *self = b->owner;
    cf_why_t why = {""};
    cf_err_t rc = self->destroying ? CF_ERR_STATE : CF_ERR_IO;
    if (self->destroying)
        cf_why(&why, rc, "the Redis client is closing");
    else if (self->caps.refused)
        cf_why(&why, rc = CF_ERR_TOOBIG, "redis reply over the cap");
    else
        cf_why(&why, rc, "redis: %s", ac->err && ac->errstr[0] ? ac->errstr : "connection lost");
    s_finish(b, rc, &why);
}

static void s_on_cmd(redisAsyncContext *ac, void *r, void *priv)
{
    s_batch_t *b = priv;
    cf_store_async_t *self = b->owner;
    size_t i = b->got++;
    const redisReply *reply = r;
    if (b->finished) {
        s_release(b);
        return;
    }
    if (!reply) {
        s_null_reply(b, ac);
    } else if (reply->type == REDIS_REPLY_ERROR) {
        cf_why_t why = {""};
        cf_err_t rc = cf_store_reply_check(reply, &why);
        char text[CF_WHY_MAX];
        snprintf(text, sizeof(text), "%s", why.text);
        cf_why(&why, rc, "command %zu: %s", i + 1, text);
        s_finish(b, rc, &why);
        if (cf_store_reply_readonly(reply) || strncmp(reply->str, "NOSCRIPT", 8) == 0)
            s_retire(self, CF_ERR_IO, "%s", text); /* locate (and load) again */
    } else {
        if (b->on_reply)
            b->on_reply(b->arg, i, reply);
        if (b->got == b->n)
            s_finish(b, CF_OK, NULL);
    }
    s_release(b);
}

/* AUTH / SELECT answers on a new connection. */
static void s_on_setup(redisAsyncContext *ac, void *r, void *priv)
{
    (void) priv;
    cf_store_async_t *self = ac->data;
    cf_why_t why = {""};
    if (r && ac == self->ac && cf_store_reply_check(r, &why) != CF_OK)
        s_retire(self, CF_ERR_IO, "%s: handshake refused: %s", self->server, why.text);
}

/* Where the master is, now: the kept synchronous store (one attempt: Sentinels, ROLE,
   AUTH, SELECT; connected once, then only re-asking the Sentinels when due) answers, and
   loads the scripts there. */
static cf_err_t s_locate(cf_store_async_t *self, cf_store_cfg_t *where)
{
    cf_err_t rc = CF_OK;
    if (!self->probe) {
        cf_store_cfg_t cfg = self->cfg;
        cfg.reconnect_attempts = 1;
        rc = cf_store_new(&cfg, &self->probe, &self->why);
    }
    if (rc == CF_OK)
        rc = cf_store_connect(self->probe);
    for (size_t i = 0; rc == CF_OK && i < self->n_scripts; i++)
        rc = cf_store_script_load(self->probe, self->scripts[i]);
    if (self->probe && rc != CF_OK)
        cf_why(&self->why, rc, "%s", cf_why_text(cf_store_why(self->probe), rc));
    if (rc == CF_OK) {
        cf_store_cfg_init(where);
        rc = cf_store_cfg_parse_redis(where, cf_store_server(self->probe), &self->why);
    }
    return rc;
}

static cf_err_t s_open(cf_store_async_t *self, const cf_store_cfg_t *where)
{
    int is_unix = where->mode == CF_STORE_UNIX;
    cf_store_endpoint_str(&where->server, is_unix, self->server, sizeof(self->server));
    redisAsyncContext *ac = is_unix ? redisAsyncConnectUnix(where->server.host)
                                    : redisAsyncConnect(where->server.host, where->server.port);
    if (!ac)
        return cf_why(&self->why, CF_ERR_NOMEM, "connect %s: out of memory", self->server);
    if (ac->err || cf_store_ev_attach(ac, self->base, &self->caps, s_on_over, self) != CF_OK) {
        cf_why(&self->why, CF_ERR_IO, "connect %s: %s", self->server,
               ac->err ? ac->errstr : "no memory");
        redisAsyncFree(ac);
        return CF_ERR_IO;
    }
    ac->data = self;
    cf_store_caps_begin_batch(&self->caps);
    redisAsyncSetConnectCallback(ac, s_on_connect);
    redisAsyncSetDisconnectCallback(ac, s_on_disconnect);
    if (!is_unix)
        (void) redisEnableKeepAlive(&ac->c);
    self->ac = ac;
    const char *auth[] = {"AUTH", self->password};
    char db[16];
    snprintf(db, sizeof(db), "%d", self->cfg.db);
    const char *select[] = {"SELECT", db};
    if ((self->password &&
         redisAsyncCommandArgv(ac, s_on_setup, NULL, 2, auth, NULL) != REDIS_OK) ||
        (self->cfg.db &&
         redisAsyncCommandArgv(ac, s_on_setup, NULL, 2, select, NULL) != REDIS_OK)) {
        s_retire(self, CF_ERR_NOMEM, "cannot queue the handshake");
        return CF_ERR_NOMEM;
    }
    return CF_OK;
}

/* A connection for the next batch, or why there is none. */
static cf_err_t s_connect(cf_store_async_t *self)
{
    int64_t now = cf_store_now_ms();
    if (now < self->next_try_ms) {
        char text[CF_WHY_MAX];
        snprintf(text, sizeof(text), "%s", self->why.text[0] ? self->why.text : "not connected");
        return cf_why(&self->why, CF_ERR_IO, "%s (next attempt in %lld ms)", text,
                      (long long) (self->next_try_ms - now));
    }
    cf_store_cfg_t where;
    cf_err_t rc = s_locate(self, &where);
    if (rc == CF_OK)
        rc = s_open(self, &where);
    self->last_check_ms = now;
    if (rc != CF_OK) {
        self->attempt++;
        self->next_try_ms = now + cf_store_backoff_ms(&self->cfg, self->attempt);
        if (self->attempt == 1)
            cf_log(CF_LOG_ERROR, "store-async=unavailable reason=\"%s\"", self->why.text);
        return CF_ERR_IO;
    }
    self->connects++;
    cf_log(CF_LOG_INFO, "store-async=connected server=%s", self->server);
    return CF_OK;
}

/* Sentinel mode: has the master moved away from our connection? The kept store asks the
   Sentinels (at most every master_check_ms) and follows a new master itself. */
static void s_master_check(cf_store_async_t *self, int64_t now)
{
    if (self->cfg.mode != CF_STORE_SENTINEL || self->cfg.master_check_ms <= 0 || !self->ac ||
        !self->probe || now - self->last_check_ms < self->cfg.master_check_ms)
        return;
    self->last_check_ms = now;
    cf_store_cfg_t where;
    char server[CF_STORE_ENDPOINT_STR];
    cf_store_cfg_init(&where);
    if (cf_store_connect(self->probe) != CF_OK ||
        cf_store_cfg_parse_redis(&where, cf_store_server(self->probe), NULL) != CF_OK)
        return; /* no Sentinel could say: keep the connection, errors will tell */
    cf_store_endpoint_str(&where.server, where.mode == CF_STORE_UNIX, server, sizeof(server));
    if (strcmp(server, self->server) != 0)
        s_retire(self, CF_ERR_IO, "Sentinel reports a new master %s", server);
}

static void s_on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    cf_store_async_t *self = arg;
    int64_t now = cf_store_now_ms();
    if (self->head && self->head->deadline_ms <= now)
        s_retire(self, CF_ERR_IO, "%s: no answer within %d ms", self->server,
                 self->cfg.command_timeout_ms);
    s_master_check(self, now);
}

/* After the turn's callbacks (the flush event is queued behind them): write what they
   queued now instead of waiting for the write event, which costs two epoll_ctl and one
   more loop turn per batch. A write that does not finish leaves hiredis' write event on. */
static void s_on_flush(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    cf_store_async_t *self = arg;
    self->unwritten = 0;
    if (self->ac && (self->ac->c.flags & REDIS_CONNECTED))
        redisAsyncHandleWrite(self->ac);
}

cf_err_t cf_store_async_new(const cf_store_cfg_t *cfg, struct event_base *base,
                            cf_store_async_t **out, cf_why_t *why)
{
    if (!out || !base || !cfg)
        return cf_why(why, CF_ERR_INVALID,
                      "an asynchronous store needs a configuration and a base");
    *out = NULL;
    CF_TRY(cf_store_cfg_check(cfg, why));
    cf_err_t rc = CF_ERR_NOMEM;
    cf_store_async_t *self = cf_mem_calloc(1, sizeof(*self));
    if (!self)
        goto out;
    self->cfg = *cfg;
    self->password = cf_mem_strdup(cfg->password);
    self->sentinel_password = cf_mem_strdup(cfg->sentinel_password);
    self->cfg.password = self->password;
    self->cfg.sentinel_password = self->sentinel_password;
    self->base = base;
    cf_store_caps_init(&self->caps, &self->cfg);
    struct timeval tv = {0, CF_STORE_ASYNC_TICK_MS * 1000};
    self->tick = event_new(base, -1, EV_PERSIST, s_on_tick, self);
    self->reaper = event_new(base, -1, 0, s_on_reap, self);
    self->flush = event_new(base, -1, 0, s_on_flush, self);
    if ((cfg->password && !self->password) ||
        (cfg->sentinel_password && !self->sentinel_password) || !self->tick || !self->reaper ||
        !self->flush || event_add(self->tick, &tv) != 0)
        goto out;
    *out = self;
    self = NULL;
    rc = CF_OK;
out:
    cf_store_async_destroy(&self);
    return rc == CF_OK ? CF_OK : cf_why(why, rc, "cannot create the asynchronous store");
}

void cf_store_async_destroy(cf_store_async_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_store_async_t *self = *self_p;
    self->destroying = 1;
    cf_why_t why = {""};
    cf_why(&why, CF_ERR_STATE, "the Redis client is closing");
    while (self->head)
        s_finish(self->head, CF_ERR_STATE, &why);
    redisAsyncContext *ac = self->ac;
    self->ac = NULL;
    if (ac)
        redisAsyncFree(ac); /* NULL replies: the batches are counted and freed */
    s_on_reap(-1, 0, self);
    if (self->tick)
        event_free(self->tick);
    if (self->reaper)
        event_free(self->reaper);
    if (self->flush)
        event_free(self->flush);
    cf_store_destroy(&self->probe);
    cf_mem_free_secret_str(self->password);
    cf_mem_free_secret_str(self->sentinel_password);
    cf_mem_free(self);
    *self_p = NULL;
}

cf_err_t cf_store_async_add_script(cf_store_async_t *self, const cf_store_script_t *script)
{
    if (!self || !script)
        return CF_ERR_INVALID;
    if (self->sent_any)
        return CF_ERR_STATE;
    if (self->n_scripts >= CF_STORE_ASYNC_SCRIPTS_MAX)
        return CF_ERR_TOOBIG;
    self->scripts[self->n_scripts++] = script;
    return CF_OK;
}

static int s_registered(const cf_store_async_t *self, const cf_store_script_t *script)
{
    for (size_t i = 0; i < self->n_scripts; i++)
        if (self->scripts[i] == script)
            return 1;
    return 0;
}

static cf_err_t s_check_cmds(const cf_store_async_t *self, const cf_store_async_cmd_t *cmds,
                             size_t n)
{
    if (!cmds || n < 1 || n > CF_STORE_ASYNC_BATCH_MAX)
        return CF_ERR_INVALID;
    for (size_t i = 0; i < n; i++) {
        const cf_store_async_cmd_t *c = &cmds[i];
        if (!c->argv || c->argc < (c->script ? 0 : 1) || c->argc > CF_STORE_ASYNC_ARGC_MAX ||
            (c->script && (!s_registered(self, c->script) || c->nkeys < 0 || c->nkeys > c->argc)))
            return CF_ERR_INVALID;
    }
    return CF_OK;
}

/* Queue one command of batch b on the current connection, in the protocol's text built
   here in one pass (hiredis' formatters print every length with printf: a tenth of a
   check-in's CPU in callgrind). */
static int s_queue(cf_store_async_t *self, s_batch_t *b, const cf_store_async_cmd_t *c)
{
    const char *argv[S_ARGV_MAX];
    size_t lens[S_ARGV_MAX];
    char nkeys[16], stack[S_CMD_STACK];
    int k = 0;
    if (c->script) {
        argv[0] = "EVALSHA";
        lens[0] = 7;
        argv[1] = cf_store_script_sha(c->script);
        lens[1] = strlen(argv[1]);
        lens[2] = (size_t) snprintf(nkeys, sizeof(nkeys), "%d", c->nkeys);
        argv[2] = nkeys;
        k = 3;
    }
    for (int i = 0; i < c->argc; i++) {
        argv[k + i] = c->argv[i];
        lens[k + i] = c->argvlen ? c->argvlen[i] : strlen(c->argv[i]);
    }
    size_t len = cf_store_async_format(stack, sizeof(stack), k + c->argc, argv, lens);
    char *cmd = len <= sizeof(stack) ? stack : cf_mem_malloc(len);
    if (!len || !cmd)
        return REDIS_ERR;
    if (cmd != stack)
        (void) cf_store_async_format(cmd, len, k + c->argc, argv, lens);
    int rc = redisAsyncFormattedCommand(self->ac, s_on_cmd, b, cmd, len);
    if (cmd != stack)
        cf_mem_free(cmd);
    if (rc == REDIS_OK && (self->ac->c.flags & REDIS_CONNECTED)) {
        /* every S_EARLY commands go at once, so Redis works on them while the rest of the
           turn is read: a turn of many check-ins no longer runs cf-server, then Redis, one
           after the other; the rest go at the turn's end (and all of them when queued
           from inside a reply's callback, where hiredis must not write) */
        if (++self->unwritten >= S_EARLY && !(self->ac->c.flags & REDIS_IN_CALLBACK)) {
            self->unwritten = 0;
            redisAsyncHandleWrite(self->ac);
        }
        event_active(self->flush, EV_WRITE, 0); /* once per turn: libevent ignores repeats */
    }
    return rc;
}

cf_err_t cf_store_async_send(cf_store_async_t *self, const cf_store_async_cmd_t *cmds, size_t n,
                             cf_store_async_reply_fn *on_reply, cf_store_async_done_fn *done,
                             void *arg, cf_why_t *why)
{
    if (!self || !done || s_check_cmds(self, cmds, n) != CF_OK)
        return cf_why(why, CF_ERR_INVALID, "bad batch");
    if (self->destroying)
        return cf_why(why, CF_ERR_STATE, "the Redis client is closing");
    self->sent_any = 1;
    if (!self->ac && s_connect(self) != CF_OK)
        return cf_why(why, CF_ERR_IO, "%s", self->why.text);
    s_batch_t *b = cf_mem_calloc(1, sizeof(*b));
    if (!b)
        return cf_why(why, CF_ERR_NOMEM, "out of memory");
    *b = (s_batch_t){self, self->ac, on_reply, done, arg, 0, 0, 0, 0, NULL, NULL};
    b->deadline_ms = cf_store_now_ms() + self->cfg.command_timeout_ms;
    for (size_t i = 0; i < n; i++) {
        if (s_queue(self, b, &cmds[i]) != REDIS_OK)
            break;
        b->n++;
    }
    if (b->n < n) { /* the queued ones still call back: the batch goes with the last */
        b->finished = 1;
        if (b->n == 0)
            cf_mem_free(b);
        return cf_why(why, CF_ERR_NOMEM, "cannot queue command %zu of the batch", b->n + 1);
    }
    b->prev = self->tail;
    if (self->tail)
        self->tail->next = b;
    else
        self->head = b;
    self->tail = b;
    self->pending++;
    return CF_OK;
}

void cf_store_async_write(cf_store_async_t *self)
{
    if (!self || !self->ac || !(self->ac->c.flags & REDIS_CONNECTED) ||
        (self->ac->c.flags & REDIS_IN_CALLBACK))
        return; /* not connected yet, or inside a reply: the turn's end writes */
    self->unwritten = 0;
    redisAsyncHandleWrite(self->ac);
}

size_t cf_store_async_pending(const cf_store_async_t *self)
{
    return self ? self->pending : 0;
}

const char *cf_store_async_server(const cf_store_async_t *self)
{
    return self ? self->server : "";
}

unsigned long cf_store_async_connects(const cf_store_async_t *self)
{
    return self ? self->connects : 0;
}
