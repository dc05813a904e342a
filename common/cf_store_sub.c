/*  cf_store_sub - pub/sub subscriber: a small connect state machine on libevent + hiredis async  */
#include "cf_store_sub.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <hiredis/async.h>

#include "cf_log.h"
#include "cf_mem.h"
#include "cf_store_ev.h"
#include "cf_store_reply.h"

#define S_GRAVE 8 /* retired contexts waiting to be freed outside hiredis callbacks */

/* Where the connection stands. Hiredis callbacks only act when their context is the
   current one (ac or sac) and the phase matches; contexts are never freed inside hiredis
   callbacks (0.14 frees them under our feet in onConnect) but retired to the reaper. */
typedef enum {
    S_IDLE,        /* not started */
    S_WAIT,        /* timer: back-off before the next attempt */
    S_ASK,         /* sac asks Sentinel ask_idx; timer: its time limit */
    S_MASTER,      /* ac connects, AUTH, ROLE; timer: time limit */
    S_SUBSCRIBING, /* ac has the subscriptions out, counting confirmations; timer: limit */
    S_READY,       /* subscribed and resynced; check timer re-asks the Sentinels */
} s_phase_t;

struct cf_store_sub {
    cf_store_cfg_t cfg;                      /* copy; passwords point below */
    char *password;                          /* owned, wiped */
    char *sentinel_password;                 /* owned, wiped */
    struct event_base *base;                 /* borrowed */
    struct event *timer;                     /* back-off and step time limits */
    struct event *check;                     /* Sentinel re-check while ready */
    struct event *reaper;                    /* frees the grave */
    cf_store_caps_t caps;                    /* limits for ac's replies */
    cf_store_caps_t scaps;                   /* limits for sac's replies */
    redisAsyncContext *ac;                   /* connection to the master */
    redisAsyncContext *sac;                  /* connection to a Sentinel */
    redisAsyncContext *grave[S_GRAVE];       /* retired, freed by the reaper */
    s_phase_t phase;                         /* see above */
    int checking;                            /* sac is a re-check, not a connect step */
    size_t ask_idx;                          /* Sentinels tried in this attempt */
    size_t sentinel_next;                    /* Sentinel to ask first */
    int attempt;                             /* failed attempts in a row */
    cf_store_endpoint_t master;              /* where ac goes */
    char server[CF_STORE_ENDPOINT_STR];      /* master as text while ready */
    char *names[CF_STORE_SUB_MAX_CHANNELS];  /* channels and patterns, owned */
    size_t lens[CF_STORE_SUB_MAX_CHANNELS];  /* their lengths */
    int patterns[CF_STORE_SUB_MAX_CHANNELS]; /* 1 for PSUBSCRIBE */
    size_t n_names;                          /* entries used */
    size_t confirmed;                        /* subscriptions confirmed this time */
    unsigned long resyncs;                   /* on_resync calls */
    int in_callback;                         /* inside on_message/on_resync */
    cf_store_sub_msg_fn *on_message;         /* user callback */
    cf_store_sub_resync_fn *on_resync;       /* user callback */
    void *arg;                               /* for both */
    cf_why_t why;                            /* last failure */
};

static void s_ask(cf_store_sub_t *self);
static void s_check_done(cf_store_sub_t *self, cf_err_t rc, const cf_store_endpoint_t *ep);
static void s_on_sentinel_reply(redisAsyncContext *ac, void *reply, void *priv);

static void s_timer_in(struct event *ev, int ms)
{
    struct timeval tv = {ms / 1000, (long) (ms % 1000) * 1000};
    evtimer_add(ev, &tv);
}

static int s_sentinel_mode(const cf_store_sub_t *self)
{
    return self->cfg.mode == CF_STORE_SENTINEL;
}

/* Hand ac to the reaper; from a hiredis callback this is the only safe way to drop it. */
static void s_retire(cf_store_sub_t *self, redisAsyncContext **acp)
{
    redisAsyncContext *ac = *acp;
    *acp = NULL;
    if (!ac)
        return;
    for (int i = 0; i < S_GRAVE; i++) {
        if (!self->grave[i]) {
            self->grave[i] = ac;
            event_active(self->reaper, EV_TIMEOUT, 0);
            return;
        }
    }
    redisAsyncDisconnect(ac); /* grave full: hiredis defers this one safely */
}

/* hiredis is freeing ac itself (connect failed / connection lost): forget it. */
static void s_forget(cf_store_sub_t *self, const redisAsyncContext *ac)
{
    for (int i = 0; i < S_GRAVE; i++)
        if (self->grave[i] == ac)
            self->grave[i] = NULL;
    if (self->ac == ac)
        self->ac = NULL;
    if (self->sac == ac)
        self->sac = NULL;
}

static void s_on_reap(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    cf_store_sub_t *self = arg;
    for (int i = 0; i < S_GRAVE; i++) {
        redisAsyncContext *ac = self->grave[i];
        self->grave[i] = NULL; /* its callbacks now see a stranger and do nothing */
        if (ac)
            redisAsyncFree(ac);
    }
}

/* The attempt or the connection failed: close everything, back off, try again. */
static void s_fail(cf_store_sub_t *self, cf_err_t rc, const char *fmt, ...) CF_PRINTF(3, 4);
static void s_fail(cf_store_sub_t *self, cf_err_t rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(self->why.text, sizeof(self->why.text), fmt, ap);
    va_end(ap);
    if (self->phase == S_READY)
        cf_log(CF_LOG_WARN, "store-sub=disconnected server=%s reason=\"%s\"", self->server,
               self->why.text);
    else if (self->attempt + 1 == self->cfg.reconnect_attempts)
        cf_log(CF_LOG_ERROR, "store-sub=unavailable err=%s reason=\"%s\" (retrying)",
               cf_err_name(rc), self->why.text);
    else
        cf_log(CF_LOG_DEBUG, "store-sub=attempt-failed reason=\"%s\"", self->why.text);
    s_retire(self, &self->ac);
    s_retire(self, &self->sac);
    self->server[0] = '\0';
    self->checking = 0;
    evtimer_del(self->check);
    self->phase = S_WAIT;
    self->attempt++;
    s_timer_in(self->timer, cf_store_backoff_ms(&self->cfg, self->attempt));
}

/* hiredis gave up on cac (connect failed, connection lost, reader error) and frees it after
   this callback returns: forget it and move on. */
static void s_lost(const redisAsyncContext *cac, const char *what)
{
    cf_store_sub_t *self = cac->data;
    int was_ac = cac == self->ac, was_sac = cac == self->sac;
    const cf_store_caps_t *caps = was_ac ? &self->caps : &self->scaps;
    char reason[160];
    if (caps->refused)
        snprintf(reason, sizeof(reason), "reply over the cap (%zu bytes, %zu elements)",
                 caps->max_reply_bytes, caps->max_reply_elements);
    else
        snprintf(reason, sizeof(reason), "%s: %s", what, cac->errstr ? cac->errstr : "failed");
    s_forget(self, cac);
    if (was_ac)
        s_fail(self, CF_ERR_IO, "%s", reason);
    else if (was_sac && self->checking)
        s_check_done(self, CF_ERR_IO, NULL); /* the next check asks another Sentinel */
    else if (was_sac) {
        snprintf(self->why.text, sizeof(self->why.text), "Sentinel %s", reason);
        self->ask_idx++;
        s_ask(self);
    }
}

static void s_on_connect(const redisAsyncContext *cac, int status)
{
    if (status != REDIS_OK)
        s_lost(cac, "connect"); /* on success the queued commands flow */
}

static void s_on_disconnect(const redisAsyncContext *cac, int status)
{
    (void) status;
    s_lost(cac, "connection lost");
}

static void s_on_over(void *arg, redisAsyncContext *ac)
{
    cf_store_sub_t *self = arg;
    if (ac == self->ac)
        s_fail(self, CF_ERR_TOOBIG, "reply over the cap (%zu bytes)", self->caps.max_reply_bytes);
    else if (ac == self->sac && self->checking)
        s_check_done(self, CF_ERR_TOOBIG, NULL);
    else if (ac == self->sac)
        s_fail(self, CF_ERR_TOOBIG, "Sentinel reply over the cap");
}

static redisAsyncContext *s_open(cf_store_sub_t *self, const cf_store_endpoint_t *ep, int is_unix,
                                 cf_store_caps_t *caps)
{
    char name[CF_STORE_ENDPOINT_STR];
    cf_store_endpoint_str(ep, is_unix, name, sizeof(name));
    redisAsyncContext *ac =
        is_unix ? redisAsyncConnectUnix(ep->host) : redisAsyncConnect(ep->host, ep->port);
    if (!ac) {
        cf_why(&self->why, CF_ERR_NOMEM, "connect %s: out of memory", name);
        return NULL;
    }
    if (ac->err || cf_store_ev_attach(ac, self->base, caps, s_on_over, self) != CF_OK) {
        cf_why(&self->why, CF_ERR_IO, "connect %s: %s", name, ac->err ? ac->errstr : "no memory");
        redisAsyncFree(ac); /* brand new, not inside any of its callbacks */
        return NULL;
    }
    ac->data = self;
    cf_store_caps_begin_batch(caps); /* a refusal on an earlier connection is not this one's */
    redisAsyncSetConnectCallback(ac, s_on_connect);
    redisAsyncSetDisconnectCallback(ac, s_on_disconnect);
    if (!is_unix)
        (void) redisEnableKeepAlive(&ac->c); /* half-open TCP: best effort */
    return ac;
}

/* Queue AUTH on ac if a password is set. */
static int s_auth(redisAsyncContext *ac, redisCallbackFn *fn, const char *password)
{
    if (!password)
        return REDIS_OK;
    const char *argv[] = {"AUTH", password};
    return redisAsyncCommandArgv(ac, fn, NULL, 2, argv, NULL);
}

/* Ask the next Sentinel for the master, or fail the attempt when none is left. */
static void s_ask(cf_store_sub_t *self)
{
    size_t n = self->cfg.n_sentinels;
    if (self->ask_idx >= n) {
        s_fail(self, CF_ERR_IO, "no Sentinel named the master (last: %s)", self->why.text);
        return;
    }
    s_retire(self, &self->sac);
    size_t i = (self->sentinel_next + self->ask_idx) % n;
    const char *argv[] = {"SENTINEL", "get-master-addr-by-name", self->cfg.master_name};
    self->phase = S_ASK;
    self->checking = 0;
    s_timer_in(self->timer, self->cfg.connect_timeout_ms);
    self->sac = s_open(self, &self->cfg.sentinels[i], 0, &self->scaps);
    if (!self->sac || s_auth(self->sac, NULL, self->sentinel_password) != REDIS_OK ||
        redisAsyncCommandArgv(self->sac, s_on_sentinel_reply, NULL, 3, argv, NULL) != REDIS_OK) {
        self->ask_idx++;
        s_ask(self); /* bounded: ask_idx grows to n */
    }
}

static void s_on_sub(redisAsyncContext *ac, void *r, void *priv);

static void s_subscribe_all(cf_store_sub_t *self)
{
    self->phase = S_SUBSCRIBING;
    self->confirmed = 0;
    s_timer_in(self->timer, self->cfg.command_timeout_ms);
    for (size_t i = 0; i < self->n_names; i++) {
        const char *cmd = self->patterns[i] ? "PSUBSCRIBE %b" : "SUBSCRIBE %b";
        if (redisAsyncCommand(self->ac, s_on_sub, NULL, cmd, self->names[i], self->lens[i]) !=
            REDIS_OK) {
            s_fail(self, CF_ERR_NOMEM, "cannot queue a subscription");
            return;
        }
    }
}

static void s_on_auth(redisAsyncContext *ac, void *r, void *priv)
{
    (void) priv;
    cf_store_sub_t *self = ac->data;
    if (ac != self->ac || self->phase != S_MASTER || !r)
        return;
    cf_err_t rc = cf_store_reply_check(r, &self->why);
    if (rc != CF_OK)
        s_fail(self, rc, "%s: AUTH refused: %s", self->server, self->why.text);
}

static void s_on_role(redisAsyncContext *ac, void *r, void *priv)
{
    (void) priv;
    cf_store_sub_t *self = ac->data;
    if (ac != self->ac || self->phase != S_MASTER || !r)
        return;
    cf_err_t rc = s_sentinel_mode(self) ? cf_store_reply_role_master(r, &self->why)
                                        : cf_store_reply_check(r, &self->why);
    if (rc != CF_OK)
        s_fail(self, rc, "%s: %s", self->server, self->why.text);
    else
        s_subscribe_all(self);
}

/* Connect to the master found (or configured): AUTH and ROLE go out at once. */
static void s_connect_master(cf_store_sub_t *self, int is_unix)
{
    self->phase = S_MASTER;
    s_timer_in(self->timer, self->cfg.connect_timeout_ms + self->cfg.command_timeout_ms);
    cf_store_endpoint_str(&self->master, is_unix, self->server, sizeof(self->server));
    self->ac = s_open(self, &self->master, is_unix, &self->caps);
    if (!self->ac) {
        char reason[CF_WHY_MAX];
        snprintf(reason, sizeof(reason), "%s", self->why.text);
        s_fail(self, CF_ERR_IO, "%s", reason);
        return;
    }
    if (s_auth(self->ac, s_on_auth, self->password) != REDIS_OK ||
        redisAsyncCommand(self->ac, s_on_role, NULL, "ROLE") != REDIS_OK)
        s_fail(self, CF_ERR_NOMEM, "cannot queue the handshake");
}

static void s_check_done(cf_store_sub_t *self, cf_err_t rc, const cf_store_endpoint_t *ep)
{
    s_retire(self, &self->sac);
    self->checking = 0;
    if (rc != CF_OK) {
        self->sentinel_next = (self->sentinel_next + 1) % self->cfg.n_sentinels;
        return; /* this Sentinel could not say: ask another next time, keep the connection */
    }
    if (ep->port != self->master.port || strcmp(ep->host, self->master.host) != 0) {
        char name[CF_STORE_ENDPOINT_STR];
        s_fail(self, CF_ERR_STATE, "Sentinel reports a new master %s",
               cf_store_endpoint_str(ep, 0, name, sizeof(name)));
    }
}

static void s_on_sentinel_reply(redisAsyncContext *ac, void *r, void *priv)
{
    (void) priv;
    cf_store_sub_t *self = ac->data;
    if (ac != self->sac || !r)
        return;
    cf_store_endpoint_t ep;
    cf_err_t rc = cf_store_reply_master_addr(r, &ep, &self->why);
    if (self->checking) {
        s_check_done(self, rc, &ep);
    } else if (self->phase != S_ASK) {
        return;
    } else if (rc != CF_OK) {
        self->ask_idx++;
        s_ask(self);
    } else {
        self->sentinel_next = (self->sentinel_next + self->ask_idx) % self->cfg.n_sentinels;
        s_retire(self, &self->sac);
        self->master = ep;
        s_connect_master(self, 0);
    }
}

static void s_on_check(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    cf_store_sub_t *self = arg;
    if (self->phase != S_READY)
        return;
    s_timer_in(self->check, self->cfg.master_check_ms);
    s_retire(self, &self->sac); /* a check that never answered */
    const char *argv[] = {"SENTINEL", "get-master-addr-by-name", self->cfg.master_name};
    self->sac = s_open(self, &self->cfg.sentinels[self->sentinel_next], 0, &self->scaps);
    self->checking = self->sac != NULL;
    if (self->sac &&
        (s_auth(self->sac, NULL, self->sentinel_password) != REDIS_OK ||
         redisAsyncCommandArgv(self->sac, s_on_sentinel_reply, NULL, 3, argv, NULL) != REDIS_OK))
        s_retire(self, &self->sac);
}

static void s_ready(cf_store_sub_t *self)
{
    self->phase = S_READY;
    evtimer_del(self->timer);
    cf_log(CF_LOG_INFO, "store-sub=ready server=%s channels=%zu resyncs=%lu", self->server,
           self->n_names, self->resyncs + 1);
    self->attempt = 0;
    self->resyncs++;
    if (s_sentinel_mode(self) && self->cfg.master_check_ms > 0)
        s_timer_in(self->check, self->cfg.master_check_ms);
    self->in_callback = 1;
    self->on_resync(self->arg);
    self->in_callback = 0;
}

static int s_is(const redisReply *e, const char *word)
{
    return e->type == REDIS_REPLY_STRING && e->len == strlen(word) &&
           memcmp(e->str, word, e->len) == 0;
}

/* Confirmations ([p]subscribe, name, count) and messages: [message, channel, payload] or
   [pmessage, pattern, channel, payload]. */
static void s_on_sub(redisAsyncContext *ac, void *r, void *priv)
{
    (void) priv;
    cf_store_sub_t *self = ac->data;
    const redisReply *reply = r;
    if (ac != self->ac || !reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3)
        return;
    redisReply *const *e = reply->element;
    if (s_is(e[0], "subscribe") || s_is(e[0], "psubscribe")) {
        if (self->phase == S_SUBSCRIBING && ++self->confirmed == self->n_names)
            s_ready(self);
        return;
    }
    if (self->phase != S_READY)
        return; /* before the resync: the reload will include this change */
    const redisReply *channel = NULL, *payload = NULL;
    if (s_is(e[0], "message") && reply->elements == 3) {
        channel = e[1];
        payload = e[2];
    } else if (s_is(e[0], "pmessage") && reply->elements == 4) {
        channel = e[2];
        payload = e[3];
    }
    if (!channel || channel->type != REDIS_REPLY_STRING || payload->type != REDIS_REPLY_STRING)
        return;
    self->in_callback = 1;
    self->on_message(self->arg, channel->str, channel->len, payload->str, payload->len);
    self->in_callback = 0;
}

static void s_on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    cf_store_sub_t *self = arg;
    switch (self->phase) {
    case S_WAIT:
        if (s_sentinel_mode(self)) {
            self->ask_idx = 0;
            s_ask(self);
        } else {
            self->master = self->cfg.server;
            s_connect_master(self, self->cfg.mode == CF_STORE_UNIX);
        }
        break;
    case S_ASK:
        snprintf(self->why.text, sizeof(self->why.text), "Sentinel did not answer in %d ms",
                 self->cfg.connect_timeout_ms);
        self->ask_idx++;
        s_ask(self);
        break;
    case S_MASTER:
    case S_SUBSCRIBING: s_fail(self, CF_ERR_IO, "%s: no answer in time", self->server); break;
    default: break;
    }
}

cf_err_t cf_store_sub_new(const cf_store_cfg_t *cfg, struct event_base *base,
                          cf_store_sub_msg_fn *on_message, cf_store_sub_resync_fn *on_resync,
                          void *arg, cf_store_sub_t **sub_out, cf_why_t *why)
{
    if (!sub_out || !base || !on_message || !on_resync)
        return cf_why(why, CF_ERR_INVALID, "a subscriber needs a base and both callbacks");
    *sub_out = NULL;
    CF_TRY(cf_store_cfg_check(cfg, why));
    cf_err_t rc = CF_ERR_NOMEM;
    cf_store_sub_t *self = cf_mem_calloc(1, sizeof(*self));
    if (!self)
        goto out;
    self->cfg = *cfg;
    self->password = cf_mem_strdup(cfg->password);
    self->sentinel_password = cf_mem_strdup(cfg->sentinel_password);
    self->cfg.password = self->password;
    self->cfg.sentinel_password = self->sentinel_password;
    self->base = base;
    self->on_message = on_message;
    self->on_resync = on_resync;
    self->arg = arg;
    cf_store_caps_init(&self->caps, &self->cfg);
    cf_store_caps_init(&self->scaps, &self->cfg);
    self->timer = evtimer_new(base, s_on_timer, self);
    self->check = evtimer_new(base, s_on_check, self);
    self->reaper = event_new(base, -1, 0, s_on_reap, self);
    if ((cfg->password && !self->password) ||
        (cfg->sentinel_password && !self->sentinel_password) || !self->timer || !self->check ||
        !self->reaper)
        goto out;
    *sub_out = self;
    self = NULL;
    rc = CF_OK;
out:
    cf_store_sub_destroy(&self);
    return rc == CF_OK ? CF_OK : cf_why(why, rc, "cannot create the subscriber");
}

void cf_store_sub_destroy(cf_store_sub_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_store_sub_t *self = *self_p;
    CF_ASSERT(!self->in_callback);
    self->phase = S_IDLE;
    redisAsyncContext *ac = self->ac, *sac = self->sac;
    self->ac = self->sac = NULL; /* their callbacks, run by the frees, now do nothing */
    if (ac)
        redisAsyncFree(ac);
    if (sac)
        redisAsyncFree(sac);
    s_on_reap(-1, 0, self);
    if (self->timer)
        event_free(self->timer);
    if (self->check)
        event_free(self->check);
    if (self->reaper)
        event_free(self->reaper);
    for (size_t i = 0; i < self->n_names; i++)
        cf_mem_free(self->names[i]);
    cf_mem_free_secret_str(self->password);
    cf_mem_free_secret_str(self->sentinel_password);
    cf_mem_free(self);
    *self_p = NULL;
}

static cf_err_t s_add(cf_store_sub_t *self, const char *name, int pattern)
{
    CF_ASSERT(self);
    if (self->phase != S_IDLE)
        return CF_ERR_STATE;
    if (!name || !*name || strnlen(name, CF_STORE_SUB_CHANNEL_MAX + 1) > CF_STORE_SUB_CHANNEL_MAX)
        return CF_ERR_INVALID;
    size_t len = strlen(name);
    for (size_t i = 0; i < self->n_names; i++)
        if (self->patterns[i] == pattern && self->lens[i] == len &&
            memcmp(self->names[i], name, len) == 0)
            return CF_ERR_EXISTS;
    if (self->n_names == CF_STORE_SUB_MAX_CHANNELS)
        return CF_ERR_TOOBIG;
    char *copy = cf_mem_strdup(name);
    if (!copy)
        return CF_ERR_NOMEM;
    self->names[self->n_names] = copy;
    self->lens[self->n_names] = len;
    self->patterns[self->n_names] = pattern;
    self->n_names++;
    return CF_OK;
}

cf_err_t cf_store_sub_subscribe(cf_store_sub_t *self, const char *channel)
{
    return s_add(self, channel, 0);
}

cf_err_t cf_store_sub_psubscribe(cf_store_sub_t *self, const char *pattern)
{
    return s_add(self, pattern, 1);
}

cf_err_t cf_store_sub_start(cf_store_sub_t *self)
{
    CF_ASSERT(self);
    if (self->phase != S_IDLE || self->n_names == 0)
        return CF_ERR_STATE;
    self->phase = S_WAIT;
    s_timer_in(self->timer, 0);
    return CF_OK;
}

int cf_store_sub_ready(const cf_store_sub_t *self)
{
    return self && self->phase == S_READY;
}

const char *cf_store_sub_server(const cf_store_sub_t *self)
{
    CF_ASSERT(self);
    return self->phase == S_READY ? self->server : "";
}

unsigned long cf_store_sub_resyncs(const cf_store_sub_t *self)
{
    CF_ASSERT(self);
    return self->resyncs;
}

const cf_why_t *cf_store_sub_why(const cf_store_sub_t *self)
{
    CF_ASSERT(self);
    return &self->why;
}
