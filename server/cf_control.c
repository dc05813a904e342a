/*  cf_control - cf-server's control thread: reloads, heartbeat, renewal, sweep and wave leases  */
#include "cf_control.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "cf_db_key.h"
#include "cf_db_server.h"
#include "cf_log.h"
#include "cf_material.h"
#include "cf_mem.h"
#include "cf_renew.h"
#include "cf_sweep.h"
#include "cf_wave.h"
#include "cf_store_sub.h"

struct cf_control {
    cf_control_cfg_t cfg;    /* copy; pointers borrowed */
    struct event_base *base; /* the thread's loop, owned */
    cf_store_t *store;       /* the thread's Redis connection, owned */
    cf_store_sub_t *sub;     /* cf:events subscriber, owned */
    struct event *hb_ev;     /* heartbeat timer, owned */
    struct event *renew_ev;  /* renewer timer, owned */
    struct event *sweep_ev;  /* sweeper timer, owned (NULL: no sweeper) */
    struct event *wave_ev;   /* wave controller timer, owned */
    struct event *stop_ev;   /* read end of stop_fd, owned */
    int stop_fd[2];          /* pipe: a byte asks the thread to stop */
    pthread_t thread;        /* the control thread */
    int started;             /* thread running */
    int applied;             /* a material was applied at least once */
    int last_require;        /* require_client_cert last applied */
    int last_allow;          /* allow-plain last applied */
    char last_min_tls[4];    /* min TLS last applied */
    cf_renew_t *renew;       /* the renewer, owned */
    cf_sweep_t *sweep;       /* the job sweeper, owned (NULL: none) */
    cf_wave_t *wave;         /* the rollout wave controller, owned */
};

/* Read everything from Redis and apply it: TLS material, client-certificate requirement,
   the plain listener, the router's allow-plain. */
static void s_reload(cf_control_t *self, const char *why_reload)
{
    cf_material_t m;
    cf_why_t why = {""};
    cf_err_t rc = cf_material_load(self->store, cf_app_seal(self->cfg.app),
                                   cf_app_alias(self->cfg.app), &m, &why);
    if (rc != CF_OK) {
        cf_log(CF_LOG_ERROR,
               "msg=\"reload failed; keeping the current material\" cause=%s "
               "err=%s why=\"%s\"",
               why_reload, cf_err_name(rc), cf_why_text(&why, rc));
        return;
    }
    cf_https_tls_t tls;
    cf_material_tls(&m, &tls);
    int require = cf_material_require_cert(&m), allow = cf_material_allow_plain(&m);
    int plain = allow ? self->cfg.plain_port : 0;
    rc = cf_https_set_tls(self->cfg.https, &tls, &why);
    if (rc == CF_OK)
        rc = cf_https_set_require_client_cert(self->cfg.https, require);
    if (rc == CF_OK && cf_https_plain_port(self->cfg.https) != plain)
        rc = cf_https_set_plain_port(self->cfg.https, plain, &why);
    /* the router follows the configuration even when a listener change failed: turning
       allow-plain off must refuse certificate-less clients at once either way */
    cf_router_set_allow_plain(self->cfg.router, allow);
    if (rc != CF_OK)
        cf_log(CF_LOG_ERROR, "msg=\"cannot apply the reload\" cause=%s err=%s why=\"%s\"",
               why_reload, cf_err_name(rc), cf_why_text(&why, rc));
    else if (!self->applied || require != self->last_require || allow != self->last_allow ||
             strcmp(self->last_min_tls, m.ssl.min_tls) != 0)
        cf_log(CF_LOG_INFO,
               "msg=\"TLS settings applied\" cause=%s ssl_enabled=%d allow_plain=%d "
               "require_client_cert=%d plain_port=%d min_tls=%s revoked=%zu",
               why_reload, m.ssl.enabled, m.ssl.allow_plain, require, plain, m.ssl.min_tls,
               m.n_revoked);
    else
        cf_log(CF_LOG_DEBUG, "msg=\"TLS material reloaded\" cause=%s revoked=%zu", why_reload,
               m.n_revoked);
    if (rc == CF_OK) {
        self->applied = 1;
        self->last_require = require;
        self->last_allow = allow;
        snprintf(self->last_min_tls, sizeof(self->last_min_tls), "%s", m.ssl.min_tls);
    }
    cf_material_clear(&m);
}

/* cf:events payloads that change what the listeners use (docs/REDIS.md). */
static void s_on_message(void *arg, const char *channel, size_t channel_len, const char *payload,
                         size_t len)
{
    (void) channel;
    (void) channel_len;
    cf_control_t *self = arg;
    char text[300];
    snprintf(text, sizeof(text), "%.*s", (int) (len < 299 ? len : 299), payload);
    char mine[300];
    snprintf(mine, sizeof(mine), "cert server %s", cf_app_alias(self->cfg.app));
    if (strcmp(text, "ssl") == 0 || strcmp(text, "revoked") == 0 || strcmp(text, "crl") == 0 ||
        strcmp(text, mine) == 0)
        s_reload(self, text);
}

static void s_on_resync(void *arg)
{
    s_reload(arg, "subscribed");
}

static void s_heartbeat(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    cf_control_t *self = arg;
    int clash = 0;
    cf_err_t rc = cf_db_server_heartbeat(self->store, cf_app_alias(self->cfg.app),
                                         cf_app_instance(self->cfg.app), (int64_t) time(NULL),
                                         3 * self->cfg.heartbeat_s, &clash);
    if (rc != CF_OK)
        cf_log(CF_LOG_WARN, "msg=\"heartbeat failed\" err=%s why=\"%s\"", cf_err_name(rc),
               cf_why_text(cf_store_why(self->store), rc));
    else if (clash)
        cf_log(CF_LOG_ERROR, "msg=\"another process heartbeats as this alias\" alias=%s",
               cf_app_alias(self->cfg.app));
}

static void s_renew_tick(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    cf_control_t *self = arg;
    cf_renew_tick(self->renew, self->store, (int64_t) time(NULL));
}

static void s_sweep_tick(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    cf_control_t *self = arg;
    cf_sweep_tick(self->sweep, self->store, (int64_t) time(NULL));
}

static void s_wave_tick(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    cf_control_t *self = arg;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    cf_wave_tick(self->wave, self->store, (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static void s_stop(evutil_socket_t fd, short what, void *arg)
{
    (void) what;
    char byte;
    while (read(fd, &byte, 1) < 0 && errno == EINTR)
        ;
    event_base_loopbreak(((cf_control_t *) arg)->base);
}

static void *s_run(void *arg)
{
    cf_control_t *self = arg;
    s_heartbeat(-1, 0, self);
    event_base_loop(self->base, 0);
    return NULL;
}

static cf_err_t s_events(cf_control_t *self, cf_why_t *why)
{
    struct timeval hb = {self->cfg.heartbeat_s, 0}, rn = {self->cfg.renew_every_s, 0};
    if (pipe(self->stop_fd) != 0)
        return cf_why(why, CF_ERR_IO, "pipe: %s", strerror(errno));
    fcntl(self->stop_fd[0], F_SETFD, FD_CLOEXEC);
    fcntl(self->stop_fd[1], F_SETFD, FD_CLOEXEC);
    self->hb_ev = event_new(self->base, -1, EV_PERSIST, s_heartbeat, self);
    self->renew_ev = event_new(self->base, -1, EV_PERSIST, s_renew_tick, self);
    self->stop_ev = event_new(self->base, self->stop_fd[0], EV_READ, s_stop, self);
    if (!self->hb_ev || !self->renew_ev || !self->stop_ev || event_add(self->hb_ev, &hb) != 0 ||
        event_add(self->renew_ev, &rn) != 0 || event_add(self->stop_ev, NULL) != 0)
        return CF_ERR_NOMEM;
    struct timeval wv = {0, CF_WAVE_TICK_MS * 1000};
    self->wave_ev = event_new(self->base, -1, EV_PERSIST, s_wave_tick, self);
    if (!self->wave_ev || event_add(self->wave_ev, &wv) != 0)
        return CF_ERR_NOMEM;
    if (!self->sweep)
        return CF_OK;
    struct timeval sw = {self->cfg.sweep_every_s, 0};
    self->sweep_ev = event_new(self->base, -1, EV_PERSIST, s_sweep_tick, self);
    if (!self->sweep_ev || event_add(self->sweep_ev, &sw) != 0)
        return CF_ERR_NOMEM;
    return CF_OK;
}

static cf_err_t s_connect(cf_control_t *self, cf_why_t *why)
{
    CF_TRY(cf_store_new(self->cfg.store, &self->store, why));
    cf_err_t rc = cf_store_connect(self->store);
    if (rc != CF_OK)
        return cf_why(why, rc, "Redis: %s", cf_why_text(cf_store_why(self->store), rc));
    CF_TRY(cf_store_sub_new(self->cfg.store, self->base, s_on_message, s_on_resync, self,
                            &self->sub, why));
    CF_TRY(cf_store_sub_subscribe(self->sub, CF_DB_KEY_CHANNEL));
    return cf_store_sub_start(self->sub);
}

static int s_cfg_ok(const cf_control_cfg_t *cfg)
{
    return cfg->store && cfg->app && cfg->https && cfg->router && cfg->start &&
           cfg->heartbeat_s >= 1 && cfg->renew_every_s >= 1 && cfg->sweep_every_s >= 0;
}

cf_err_t cf_control_new(const cf_control_cfg_t *cfg, cf_control_t **out, cf_why_t *why)
{
    if (!cfg || !out || !s_cfg_ok(cfg))
        return CF_ERR_INVALID;
    *out = NULL;
    cf_control_t *self = cf_mem_calloc(1, sizeof(*self));
    if (!self)
        return CF_ERR_NOMEM;
    self->cfg = *cfg;
    self->stop_fd[0] = self->stop_fd[1] = -1;
    self->base = event_base_new();
    cf_err_t rc = self->base ? CF_OK : CF_ERR_NOMEM;
    if (rc == CF_OK)
        rc = cf_renew_new(cfg->app, 3 * cfg->renew_every_s, &self->renew);
    if (rc == CF_OK && cfg->sweep_every_s > 0)
        rc = cf_sweep_new(cfg->app, 3 * cfg->sweep_every_s, &self->sweep);
    if (rc == CF_OK)
        rc = cf_wave_new(cfg->app, &self->wave);
    if (rc == CF_OK)
        rc = s_connect(self, why);
    if (rc == CF_OK)
        rc = s_events(self, why);
    if (rc == CF_OK && pthread_create(&self->thread, NULL, s_run, self) != 0)
        rc = cf_why(why, CF_ERR_IO, "cannot start the control thread");
    if (rc != CF_OK) {
        cf_control_destroy(&self);
        return rc;
    }
    self->started = 1;
    *out = self;
    return CF_OK;
}

void cf_control_destroy(cf_control_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_control_t *self = *self_p;
    if (self->started) {
        char byte = 1;
        while (write(self->stop_fd[1], &byte, 1) < 0 && errno == EINTR)
            ;
        pthread_join(self->thread, NULL);
    }
    if (self->store && self->started) {
        cf_err_t rc = cf_db_server_heartbeat_stop(self->store, cf_app_alias(self->cfg.app),
                                                  cf_app_instance(self->cfg.app));
        if (rc != CF_OK)
            cf_log(CF_LOG_WARN, "msg=\"cannot remove the heartbeat; it expires by itself\"");
        cf_renew_release(self->renew, self->store);
        cf_sweep_release(self->sweep, self->store);
        cf_wave_release(self->wave, self->store);
    }
    cf_store_sub_destroy(&self->sub);
    if (self->hb_ev)
        event_free(self->hb_ev);
    if (self->renew_ev)
        event_free(self->renew_ev);
    if (self->sweep_ev)
        event_free(self->sweep_ev);
    if (self->wave_ev)
        event_free(self->wave_ev);
    if (self->stop_ev)
        event_free(self->stop_ev);
    for (int i = 0; i < 2; i++) {
        if (self->stop_fd[i] >= 0)
            close(self->stop_fd[i]);
    }
    cf_renew_destroy(&self->renew);
    cf_sweep_destroy(&self->sweep);
    cf_wave_destroy(&self->wave);
    cf_store_destroy(&self->store);
    if (self->base)
        event_base_free(self->base);
    cf_mem_free(self);
    *self_p = NULL;
}
