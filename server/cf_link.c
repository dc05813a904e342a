/*  cf_link - cf-server's broker links: start (keypair, registration, DEALERs), the thread's
    loop, stop, and the entry points for the HTTPS workers  */
#include "cf_link_int.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cf_db_curve.h"
#include "cf_log.h"
#include "cf_mem.h"
#include "cf_zsock.h"

cf_err_t cf_link_send_job(cf_link_t *link, const char *job_id)
{
    if (!link)
        return CF_OK;
    return cf_link_queue_push(&link->queue, job_id);
}

const char *cf_link_public_z85(const cf_link_t *link)
{
    return link ? link->z85 : "";
}

/* One job's page per turn: the walk goes on, or the next queued id starts one. 1 while
   there is work left (the loop then polls without waiting). */
static int s_send_work(cf_link_t *self)
{
    char id[CF_JOB_ID_HEX + 1];
    if (!self->walk.active && cf_link_queue_pop(&self->queue, id))
        cf_link_jobs_send(self, id);
    return cf_link_jobs_step(self) || cf_link_queue_pending(&self->queue);
}

/* The poll set of this turn: the owner's pipe, the job-id queue, then per broker its
   DEALER and its monitor (rebuilt each turn: a refused link gets new sockets). */
static int s_items(cf_link_t *self, zsock_t *pipe, zmq_pollitem_t *items)
{
    int n = 0;
    memset(items, 0, (2 + 2 * CF_LINK_MAX_BROKERS) * sizeof(*items));
    items[n++].socket = zsock_resolve(pipe);
    items[n++].fd = cf_link_queue_fd(&self->queue);
    for (size_t i = 0; i < self->n_brokers; i++) {
        items[n++].socket = self->dealers[i] ? zsock_resolve(self->dealers[i]) : NULL;
        items[n++].socket = self->mons[i] ? zsock_resolve(self->mons[i]) : NULL;
    }
    for (int i = 0; i < n; i++) {
        items[i].events = ZMQ_POLLIN;
        if (i >= 2 && !items[i].socket)
            items[i].fd = -1; /* a closed link waiting to be opened again: never ready */
    }
    return n;
}

/* 1 when the owner asked the thread to stop. */
static int s_on_pipe(zsock_t *pipe)
{
    char *cmd = zstr_recv(pipe);
    int term = !cmd || strcmp(cmd, "$TERM") == 0;
    zstr_free(&cmd);
    return term;
}

/* Through every broker, not only the one that answered "offline": an agent between two
   connections may have come back at another broker, and a HELLO there that no server
   recorded leaves its record naming the old one (a broker without it answers "offline"
   again, which counts as the same try). */
static void s_retry_one(void *ctx, const char *agent, size_t broker)
{
    cf_link_t *self = ctx;
    int64_t now = (int64_t) time(NULL); /* not a job that would expire on the way */
    size_t sent = cf_link_jobs_open(self, self->n_brokers, agent, now, now + CF_LINK_RETRY_MARGIN);
    cf_app_count(self->app, CF_APP_LINK_RETRIES, 1);
    cf_log(CF_LOG_DEBUG,
           "msg=\"open jobs sent again after offline\" agent=%s offline_at=%s sent=%zu", agent,
           broker < self->n_brokers ? self->brokers[broker].endpoint : "?", sent);
}

/* The offline retries that are due; returns the poll wait (at most wait). */
static int s_retry_tick(cf_link_t *self, int wait)
{
    int64_t now = cf_link_now_ms();
    cf_link_retry_run(self->retry, now, s_retry_one, self);
    int64_t next = cf_link_retry_next(self->retry, now);
    return next >= 0 && next < wait ? (int) next : wait;
}

/* The poll wait (at most wait) that lets the held RECEIPTs be stored on time. */
static int s_held_wait(const cf_link_t *self, int wait)
{
    if (self->n_batch == 0 || self->held_due == INT64_MAX)
        return wait;
    int64_t left = self->held_due - cf_link_now_ms();
    return left <= 0 ? 0 : left < wait ? (int) left : wait;
}

/* The thread: the owner's pipe ($TERM), the job-id queue, every DEALER and monitor. */
static void s_actor(zsock_t *pipe, void *args)
{
    cf_link_t *self = args;
    zmq_pollitem_t items[2 + 2 * CF_LINK_MAX_BROKERS];
    zsock_signal(pipe, 0);
    int busy = 0;
    for (;;) {
        int wait = s_held_wait(
            self, s_retry_tick(self, cf_link_conn_tick(self, busy ? 0 : CF_LINK_POLL_MS)));
        int n_items = s_items(self, pipe, items);
        int n = zmq_poll(items, n_items, wait);
        if (n < 0 && zmq_errno() == ETERM)
            break;
        if (n > 0 && (items[0].revents & ZMQ_POLLIN) && s_on_pipe(pipe))
            break;
        for (size_t i = 0; n > 0 && i < self->n_brokers; i++) {
            if (items[2 + 2 * i].revents & ZMQ_POLLIN)
                cf_link_msg_drain(self, i);
            if (items[3 + 2 * i].revents & ZMQ_POLLIN)
                cf_link_conn_event(self, i);
        }
        /* one transition call for what the last turns read (a moment's gathering; lone
           RECEIPTs wait a moment longer) */
        cf_link_jobs_flush(self, self->hold_ms, self->gather_ms);
        cf_link_msg_flush(self); /* its ACKs leave before a page of copies is signed */
        busy = s_send_work(self);
        cf_link_msg_flush(self); /* the page's JOBs, one BATCH per broker */
    }
    cf_link_jobs_flush(self, 0, 0);
    cf_link_msg_flush(self);
    /* A zactor thread is detached: zactor_destroy returns on the signal sent after this
       handler, while the thread may still be exiting. Left to the thread's exit, its
       OpenSSL state (error queue, per-thread DRBG) could be freed after main's
       OPENSSL_cleanup, which then loses it: a leak report at SIGTERM. Free it here. */
    OPENSSL_thread_stop();
}

/* A fresh keypair, registered under the alias before anything connects with it. */
static cf_err_t s_register(cf_link_t *self, cf_why_t *why)
{
    CF_TRY(cf_curve_keypair_new(&self->kp));
    cf_curve_z85_encode(self->kp.pub, self->z85);
    cf_why_t inner = {""};
    cf_err_t rc = cf_db_curve_put(self->store, CF_ALLOW_SERVER, cf_app_alias(self->app),
                                  self->kp.pub, 1, &inner);
    if (rc != CF_OK)
        return cf_why(why, rc, "registering the link key: %s",
                      inner.text[0] ? inner.text : cf_why_text(cf_store_why(self->store), rc));
    return CF_OK;
}

static cf_err_t s_dealers(cf_link_t *self, cf_why_t *why)
{
    for (size_t i = 0; i < self->n_brokers; i++) {
        cf_curve_z85_encode(self->brokers[i].pub, self->broker_z85[i]);
        CF_TRY(cf_link_conn_open(self, i, why));
        cf_log(CF_LOG_INFO, "msg=\"broker link\" broker=%s key=%s rid=%s",
               self->brokers[i].endpoint, self->broker_z85[i], self->rid);
    }
    return CF_OK;
}

static cf_err_t s_start(cf_link_t *self, const cf_link_cfg_t *cfg, cf_why_t *why)
{
    CF_TRY(cf_link_queue_init(&self->queue, CF_LINK_QUEUE_MAX));
    CF_TRY(cf_store_new(cfg->store, &self->store, why));
    cf_err_t rc = cf_store_connect(self->store);
    if (rc != CF_OK)
        return cf_why(why, rc, "Redis: %s", cf_why_text(cf_store_why(self->store), rc));
    CF_TRY(s_register(self, why));
    if (cfg->tls)
        CF_TRY(cf_link_tls_start(self, cfg->tls, why));
    zsys_handler_set(NULL); /* cf-server waits for its signals itself (sigwait in main) */
    CF_TRY(s_dealers(self, why));
    /* the sockets and the store belong to the thread from here on */
    self->actor = zactor_new(s_actor, self);
    if (!self->actor)
        return cf_why(why, CF_ERR_IO, "cannot start the link thread");
    return CF_OK;
}

cf_err_t cf_link_new(const cf_link_cfg_t *cfg, cf_link_t **out, cf_why_t *why)
{
    if (!out)
        return CF_ERR_INVALID;
    *out = NULL;
    if (!cfg || !cfg->store || !cfg->app || !cfg->brokers || cfg->n_brokers < 1 ||
        cfg->n_brokers > CF_LINK_MAX_BROKERS)
        return cf_why(why, CF_ERR_INVALID, "1..%d brokers are needed", CF_LINK_MAX_BROKERS);
    cf_link_t *self = cf_mem_calloc(1, sizeof(*self));
    if (!self)
        return CF_ERR_NOMEM;
    self->app = cfg->app;
    self->n_brokers = cfg->n_brokers;
    memcpy(self->brokers, cfg->brokers, cfg->n_brokers * sizeof(cfg->brokers[0]));
    snprintf(self->rid, sizeof(self->rid), CF_ALLOW_SERVER_PREFIX "%s", cf_app_alias(cfg->app));
    self->held_due = INT64_MAX;
    self->hold_ms = cfg->receipt_hold_ms < 0    ? 0
                    : cfg->receipt_hold_ms == 0 ? CF_LINK_RECEIPT_HOLD_MS
                                                : cfg->receipt_hold_ms;
    self->gather_ms = cfg->fact_gather_ms < 0    ? 0
                      : cfg->fact_gather_ms == 0 ? CF_LINK_GATHER_MS
                                                 : cfg->fact_gather_ms;
    cf_err_t rc = cf_link_retry_new(0, &self->retry);
    if (rc == CF_OK)
        rc = s_start(self, cfg, why);
    if (rc != CF_OK) {
        cf_link_destroy(&self);
        return rc;
    }
    cf_log(CF_LOG_INFO, "msg=\"broker links started\" brokers=%zu key=%s", self->n_brokers,
           self->z85);
    *out = self;
    return CF_OK;
}

void cf_link_destroy(cf_link_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_link_t *self = *self_p;
    zactor_destroy(&self->actor); /* $TERM; returns when the thread has flushed and ended */
    for (size_t i = 0; i < self->n_brokers; i++) {
        cf_link_conn_close(self, i);
        cf_relay_destroy(&self->relays[i]); /* after its DEALER */
        cf_msg_batch_destroy(&self->out[i]);
    }
    cf_link_prepared_clear(&self->walk.p);
    cf_link_signer_clear(&self->signer);
    cf_link_retry_destroy(&self->retry);
    cf_store_destroy(&self->store);
    cf_link_queue_fini(&self->queue);
    cf_curve_keypair_wipe(&self->kp);
    cf_mem_free(self);
    *self_p = NULL;
}
