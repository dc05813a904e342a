/*  cf_fleet - N simulated agents in one thread: the actor, its loop and the public calls  */
#include "cf_fleet_int.h"

#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <sodium.h>

#include "cf_actor.h"
#include "cf_log.h"
#include "cf_mem.h"

#define S_PIPE_TAG   UINT64_MAX /* epoll data of the actor pipe */
#define S_EVENTS_MAX 256        /* epoll events taken per turn */

/* Why an actor: the fleet must keep answering its brokers while its owner does something
   else (a test playing broker and server, the simulator's main waiting for signals, later
   the HTTPS check-ins). All sockets and all agent state stay in the one thread; every call
   from outside is a request over the actor pipe, answered between two loop turns, so
   counters are read whole without locks. Requests are "cmd" + two pointers to the caller's
   data, valid because the caller waits for the answer (an int: cf_err_t). */

typedef struct {
    const char *job_id; /* the job */
    size_t n;           /* acks wanted */
    int64_t deadline;   /* monotonic ms */
    int active;         /* a caller waits for the answer */
} s_waiter_t;

static void s_reply(zsock_t *pipe, cf_err_t rc)
{
    (void) zsock_send(pipe, "i", (int) rc);
}

static void s_waiter_check(cf_fleet_t *f, zsock_t *pipe, s_waiter_t *w)
{
    if (!w->active)
        return;
    if (cf_fleet_agent_acked(f, w->job_id) >= w->n) {
        w->active = 0;
        s_reply(pipe, CF_OK);
    } else if (zclock_mono() >= w->deadline) {
        w->active = 0;
        s_reply(pipe, CF_ERR_NOTFOUND);
    }
}

static cf_err_t s_cmd_online(cf_fleet_t *f, size_t i, int online)
{
    size_t lo = i == CF_FLEET_ALL ? 0 : i, hi = i == CF_FLEET_ALL ? f->cfg.count : i + 1;
    cf_err_t rc = CF_OK;
    for (size_t a = lo; a < hi; a++) {
        f->agents[a].online = online ? 1 : 0;
        if (!online) {
            cf_fleet_link_close(f, a);
            continue;
        }
        cf_err_t one = cf_fleet_link_open(f, a);
        if (rc == CF_OK)
            rc = one;
        cf_fleet_link_service(f, a);
    }
    return rc;
}

/* One request; 1 when the actor is to stop. */
static int s_pipe_one(cf_fleet_t *f, zsock_t *pipe, s_waiter_t *w)
{
    zmsg_t *msg = zmsg_recv(pipe);
    if (!msg)
        return 1;
    char *cmd = zmsg_popstr(msg);
    zframe_t *f1 = zmsg_pop(msg), *f2 = zmsg_pop(msg);
    void *a1 = f1 && zframe_size(f1) == sizeof(void *) ? *(void **) zframe_data(f1) : NULL;
    void *a2 = f2 && zframe_size(f2) == sizeof(void *) ? *(void **) zframe_data(f2) : NULL;
    int stop = !cmd || streq(cmd, "$TERM");
    if (stop) {
        /* nothing to answer */
    } else if (streq(cmd, "STATS")) {
        memcpy(a1, &f->stats, sizeof(f->stats));
        s_reply(pipe, CF_OK);
    } else if (streq(cmd, "AGENT")) {
        cf_fleet_agent_info_fill(f, *(size_t *) a1, a2);
        s_reply(pipe, CF_OK);
    } else if (streq(cmd, "FAULT")) {
        memcpy(&f->fault, a1, sizeof(f->fault));
        s_reply(pipe, CF_OK);
    } else if (streq(cmd, "ONLINE")) {
        s_reply(pipe, s_cmd_online(f, *(size_t *) a1, *(int *) a2));
    } else if (streq(cmd, "ACKED")) {
        *(size_t *) a2 = cf_fleet_agent_acked(f, a1);
        s_reply(pipe, CF_OK);
    } else if (streq(cmd, "RELEASE")) {
        *(size_t *) a1 = cf_fleet_agent_release(f);
        s_reply(pipe, CF_OK);
    } else if (streq(cmd, "COMPLETE")) {
        s_reply(pipe, cf_fleet_agent_complete(f, a1));
    } else if (streq(cmd, "WAIT")) {
        memcpy(w, a1, sizeof(*w));
        w->active = 1;
        s_waiter_check(f, pipe, w);
    } else {
        s_reply(pipe, CF_ERR_INVALID);
    }
    zstr_free(&cmd);
    zframe_destroy(&f1);
    zframe_destroy(&f2);
    zmsg_destroy(&msg);
    return stop;
}

static int s_pipe(cf_fleet_t *f, zsock_t *pipe, s_waiter_t *w)
{
    while (zsock_events(pipe) & ZMQ_POLLIN)
        if (s_pipe_one(f, pipe, w))
            return 1;
    return 0;
}

static cf_err_t s_start(cf_fleet_t *f, zsock_t *pipe)
{
    f->epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = S_PIPE_TAG};
    if (f->epfd < 0 || epoll_ctl(f->epfd, EPOLL_CTL_ADD, zsock_fd(pipe), &ev) != 0)
        return CF_ERR_IO;
    int64_t now = zclock_mono();
    for (size_t a = 0; a < f->cfg.count; a++) {
        if (f->cfg.start_offline) {
            f->agents[a].online = 0;
            continue;
        }
        if (!f->cfg.start_spread_ms) {
            CF_TRY(cf_fleet_link_open(f, a));
            continue;
        }
        /* the timers open a link whose deadline passed without one */
        f->agents[a].link_deadline =
            now + 1 + randombytes_uniform((uint32_t) f->cfg.start_spread_ms);
        cf_fleet_link_wake(f, f->agents[a].link_deadline);
    }
    return CF_OK;
}

static int s_timeout(const cf_fleet_t *f, const s_waiter_t *w, int64_t now)
{
    int64_t at = f->next_due;
    if (w->active && (!at || w->deadline < at))
        at = w->deadline;
    if (!at)
        return -1;
    return at <= now ? 0 : (int) (at - now > 60000 ? 60000 : at - now);
}

static void s_loop(cf_fleet_t *f, zsock_t *pipe)
{
    s_waiter_t w = {NULL, 0, 0, 0};
    struct epoll_event evs[S_EVENTS_MAX];
    for (int stop = s_pipe(f, pipe, &w); !stop;) {
        int n = epoll_wait(f->epfd, evs, S_EVENTS_MAX, s_timeout(f, &w, zclock_mono()));
        for (int i = 0; i < n && !stop; i++) {
            if (evs[i].data.u64 == S_PIPE_TAG)
                stop = s_pipe(f, pipe, &w);
            else
                cf_fleet_link_service(f, (size_t) evs[i].data.u64);
        }
        int64_t now = zclock_mono();
        if (!stop && f->next_due && now >= f->next_due)
            cf_fleet_link_timers(f, now);
        s_waiter_check(f, pipe, &w);
    }
    if (w.active)
        s_reply(pipe, CF_ERR_IO);
}

static void s_actor(zsock_t *pipe, void *arg)
{
    cf_fleet_t *f = arg;
    zsock_signal(pipe, 0);
    cf_err_t rc = s_start(f, pipe);
    s_reply(pipe, rc);
    if (rc == CF_OK)
        s_loop(f, pipe);
    for (size_t a = 0; a < f->cfg.count; a++)
        cf_fleet_link_close(f, a);
    if (f->epfd >= 0)
        close(f->epfd);
    f->epfd = -1;
    /* The zactor thread is detached and may still be exiting after zactor_destroy returns;
       a real agent's install check ran TLS on it, and left to the thread's exit its OpenSSL
       state raced main's OPENSSL_cleanup (heap corruption at the agent's SIGTERM, as
       cf_link had). Free it before the handler returns. */
    OPENSSL_thread_stop();
}

/* ---- creation ------------------------------------------------------------------------ */

/* A given id or keypair (a real agent: a fleet of one) or keypairs (a restored fleet). */
static cf_err_t s_check_given(const cf_fleet_cfg_t *cfg, cf_why_t *why)
{
    if ((cfg->agent_id || cfg->keypair) && cfg->count != 1)
        return cf_why(why, CF_ERR_INVALID, "a given agent id or keypair needs a fleet of one");
    if (cfg->keypair && cfg->keypairs)
        return cf_why(why, CF_ERR_INVALID, "one keypair or a list of them, not both");
    return CF_OK;
}

static cf_err_t s_check_cfg(const cf_fleet_cfg_t *cfg, cf_why_t *why)
{
    if (!cfg || !cfg->ca || !cfg->brokers)
        return cf_why(why, CF_ERR_INVALID, "a fleet needs a CA and a broker list");
    if (cfg->count == 0 || cfg->count > CF_FLEET_MAX_AGENTS)
        return cf_why(why, CF_ERR_TOOBIG, "a fleet holds 1..%d agents", CF_FLEET_MAX_AGENTS);
    if (cfg->n_brokers == 0 || cfg->n_brokers > CF_CURVE_BROKERS_MAX)
        return cf_why(why, CF_ERR_INVALID, "a fleet needs 1..%d brokers", CF_CURVE_BROKERS_MAX);
    if (cfg->id_prefix && strlen(cfg->id_prefix) > CF_FLEET_PREFIX_MAX)
        return cf_why(why, CF_ERR_INVALID, "id prefix over %d bytes", CF_FLEET_PREFIX_MAX);
    if (cfg->sw_version && strlen(cfg->sw_version) > CF_MSG_VERSION_MAX)
        return cf_why(why, CF_ERR_INVALID, "software version over %d bytes", CF_MSG_VERSION_MAX);
    CF_TRY(s_check_given(cfg, why));
    if (cfg->proto > 255 || cfg->failover_ms < 0 || cfg->resend_min_ms < 0 ||
        cfg->resend_max_ms < 0 || cfg->start_spread_ms < 0)
        return cf_why(why, CF_ERR_INVALID, "protocol level or a time is out of range");
    return CF_OK;
}

/* About two descriptors per agent (the DEALER's mailbox and its connection): refuse a
   fleet the open-file limit cannot hold, instead of failing half-way through its links. */
static cf_err_t s_check_nofile(size_t count, cf_why_t *why)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return CF_OK;
    if ((rlim_t) count * 2 + 64 > rl.rlim_cur)
        return cf_why(why, CF_ERR_TOOBIG,
                      "%zu agents need about %zu open files, the limit is %lu: raise it "
                      "(cf_zsock_raise_nofile) or split the fleet over processes",
                      count, count * 2 + 64, (unsigned long) rl.rlim_cur);
    return CF_OK;
}

static int s_or(int value, int fallback)
{
    return value ? value : fallback;
}

static void s_copy_cfg(cf_fleet_t *f, const cf_fleet_cfg_t *cfg)
{
    f->cfg = *cfg;
    memcpy(f->brokers, cfg->brokers, cfg->n_brokers * sizeof(f->brokers[0]));
    f->cfg.brokers = f->brokers;
    if (cfg->zcfg)
        f->zcfg = *cfg->zcfg;
    else
        cf_zsock_cfg_init(&f->zcfg);
    f->cfg.zcfg = &f->zcfg;
    snprintf(f->prefix, sizeof(f->prefix), "%s", cfg->id_prefix ? cfg->id_prefix : "sim-");
    f->cfg.id_prefix = f->prefix;
    snprintf(f->sw_version, sizeof(f->sw_version), "%s",
             cfg->sw_version ? cfg->sw_version : "certfleet-agent 0.1.0 (fleet simulator)");
    f->cfg.sw_version = f->sw_version;
    f->cfg.proto = cfg->proto ? cfg->proto : CF_JOB_PROTO;
    f->cfg.failover_ms = s_or(cfg->failover_ms, CF_FLEET_FAILOVER_MS);
    f->cfg.resend_min_ms = s_or(cfg->resend_min_ms, CF_FLEET_RESEND_MIN_MS);
    f->cfg.resend_max_ms = s_or(cfg->resend_max_ms, CF_FLEET_RESEND_MAX_MS);
    if (f->cfg.resend_max_ms < f->cfg.resend_min_ms)
        f->cfg.resend_max_ms = f->cfg.resend_min_ms;
    f->epfd = -1;
}

/* Ids and keypairs; each id is checked as the wire checks it (a HELLO that must encode). */
static cf_err_t s_make_agents(cf_fleet_t *f, cf_why_t *why)
{
    for (size_t i = 0; i < f->cfg.count; i++) {
        cf_fleet_agent_t *ag = &f->agents[i];
        cf_msg_t hello;
        cf_msg_init(&hello, CF_MSG_HELLO);
        hello.proto = f->cfg.proto;
        snprintf(hello.text, sizeof(hello.text), "%s", f->sw_version);
        int n = f->cfg.agent_id ? snprintf(hello.agent, sizeof(hello.agent), "%s", f->cfg.agent_id)
                                : snprintf(hello.agent, sizeof(hello.agent), "%s%zu", f->prefix,
                                           f->cfg.first + i);
        if (n < 0 || (size_t) n >= sizeof(hello.agent) || cf_msg_check(&hello, why) != CF_OK)
            return cf_why(why, CF_ERR_INVALID, "'%s%zu' is not a valid agent id or HELLO",
                          f->prefix, f->cfg.first + i);
        memcpy(ag->id, hello.agent, sizeof(ag->id));
        if (f->cfg.keypairs)
            ag->kp = f->cfg.keypairs[i];
        else if (f->cfg.keypair)
            ag->kp = *f->cfg.keypair;
        else
            CF_TRY(cf_curve_keypair_new(&ag->kp));
        ag->fd = -1;
        ag->online = 1;
        ag->broker = (uint8_t) (i % f->cfg.n_brokers);
    }
    return CF_OK;
}

/* libzmq 4.3 cancels an I/O thread's timer (heartbeats) by a linear search, on every
   message a connection receives: a thread per 250 agents keeps that search short. */
static int s_io_threads(size_t count)
{
    return (int) (count / 250 + 1 > 32 ? 32 : count / 250 + 1);
}

cf_err_t cf_fleet_new(const cf_fleet_cfg_t *cfg, cf_fleet_t **out, cf_why_t *why)
{
    if (!out)
        return CF_ERR_INVALID;
    *out = NULL;
    CF_TRY(s_check_cfg(cfg, why));
    CF_TRY(s_check_nofile(cfg->count, why));
    cf_fleet_t *f = cf_mem_calloc(1, sizeof(*f));
    if (!f)
        return CF_ERR_NOMEM;
    s_copy_cfg(f, cfg);
    cf_err_t rc = CF_ERR_NOMEM;
    f->ca = cf_cert_dup(cfg->ca);
    f->agents = cf_mem_calloc(cfg->count, sizeof(f->agents[0]));
    f->tally = cf_mem_calloc(CF_FLEET_TALLY_MAX, sizeof(f->tally[0]));
    if (!f->ca || !f->agents || !f->tally)
        goto out;
    rc = s_make_agents(f, why);
    f->cfg.keypairs = NULL; /* the caller's: read here only */
    if (rc != CF_OK)
        goto out;
    rc = CF_ERR_IO;
    /* an own context: CZMQ's shared one allows 1024 sockets unless told before its first.
       Twice the fleet: a failover closes a DEALER and opens a fresh one at once, and a closed
       socket holds its slot until libzmq's reaper has taken it (a tight cap made a slow
       broker's failovers end in EMFILE, which failed over again) */
    f->zctx = zmq_ctx_new();
    if (!f->zctx || zmq_ctx_set(f->zctx, ZMQ_MAX_SOCKETS, (int) cfg->count * 2 + 16) != 0 ||
        zmq_ctx_set(f->zctx, ZMQ_IO_THREADS, s_io_threads(cfg->count)) != 0)
        goto out;
    f->actor = zactor_new(s_actor, f);
    int started = CF_ERR_IO;
    if (f->actor && cf_actor_answer(f->actor, "i", &started) == 0)
        rc = (cf_err_t) started;
    if (rc != CF_OK)
        cf_why(why, rc, "the fleet's sockets did not start: %s", cf_err_str(rc));
out:
    if (rc != CF_OK)
        cf_fleet_destroy(&f);
    *out = f;
    return rc;
}

void cf_fleet_destroy(cf_fleet_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_fleet_t *f = *self_p;
    zactor_destroy(&f->actor); /* closes every DEALER in its own thread */
    if (f->zctx)
        zmq_ctx_term(f->zctx);
    for (size_t a = 0; f->agents && a < f->cfg.count; a++) {
        cf_fleet_agent_clear(&f->agents[a]);
        cf_curve_keypair_wipe(&f->agents[a].kp);
    }
    cf_mem_free(f->agents);
    cf_mem_free(f->tally);
    cf_cert_destroy(&f->ca);
    cf_mem_free(f);
    *self_p = NULL;
}

/* ---- requests ------------------------------------------------------------------------ */

size_t cf_fleet_size(const cf_fleet_t *self)
{
    return self ? self->cfg.count : 0;
}

cf_err_t cf_fleet_identity(const cf_fleet_t *self, size_t i, char id_out[CF_MSG_AGENT_MAX + 1],
                           unsigned char pub_out[CF_CURVE_KEY_LEN])
{
    if (!self || i >= self->cfg.count || !id_out || !pub_out)
        return CF_ERR_INVALID;
    memcpy(id_out, self->agents[i].id, CF_MSG_AGENT_MAX + 1);
    memcpy(pub_out, self->agents[i].kp.pub, CF_CURVE_KEY_LEN);
    return CF_OK;
}

cf_err_t cf_fleet_keypair(const cf_fleet_t *self, size_t i, cf_curve_keypair_t *out)
{
    if (!self || i >= self->cfg.count || !out)
        return CF_ERR_INVALID;
    *out = self->agents[i].kp;
    return CF_OK;
}

static cf_err_t s_request(cf_fleet_t *self, const char *cmd, const void *a1, void *a2)
{
    if (cf_actor_request(self->actor, "spp", cmd, a1, a2) != 0)
        return CF_ERR_IO;
    int rc = CF_ERR_IO;
    if (cf_actor_answer(self->actor, "i", &rc) != 0) /* a2 may point into our stack */
        return CF_ERR_IO;
    return (cf_err_t) rc;
}

cf_err_t cf_fleet_complete(cf_fleet_t *self, size_t i, const char *job_id, cf_err_t rc,
                           const char *fpr, const char *reason)
{
    cf_fleet_complete_t c;
    memset(&c, 0, sizeof(c));
    if (!self || i >= self->cfg.count || !job_id || strlen(job_id) != CF_MSG_JOB_ID_HEX ||
        (fpr && fpr[0] && strlen(fpr) != CF_MSG_FPR_HEX))
        return CF_ERR_INVALID;
    c.agent = i;
    memcpy(c.job_id, job_id, sizeof(c.job_id));
    c.rc = rc;
    snprintf(c.fpr, sizeof(c.fpr), "%s", fpr ? fpr : "");
    snprintf(c.reason, sizeof(c.reason), "%s", reason ? reason : "");
    return s_request(self, "COMPLETE", &c, NULL);
}

cf_err_t cf_fleet_release(cf_fleet_t *self, size_t *n_out)
{
    size_t n = 0;
    if (!self)
        return CF_ERR_INVALID;
    cf_err_t rc = s_request(self, "RELEASE", &n, NULL);
    if (n_out)
        *n_out = n;
    return rc;
}

cf_err_t cf_fleet_stats(cf_fleet_t *self, cf_fleet_stats_t *out)
{
    if (!self || !out)
        return CF_ERR_INVALID;
    return s_request(self, "STATS", out, NULL);
}

cf_err_t cf_fleet_agent_info(cf_fleet_t *self, size_t i, cf_fleet_agent_info_t *out)
{
    if (!self || !out || i >= self->cfg.count)
        return CF_ERR_INVALID;
    return s_request(self, "AGENT", &i, out);
}

cf_err_t cf_fleet_set_fault(cf_fleet_t *self, const cf_fleet_fault_t *fault)
{
    if (!self || !fault || fault->fail_pct > 100)
        return CF_ERR_INVALID;
    size_t n = strnlen(fault->fail_reason, sizeof(fault->fail_reason));
    if (n == sizeof(fault->fail_reason))
        return CF_ERR_INVALID;
    for (size_t i = 0; i < n; i++)
        if (fault->fail_reason[i] < 0x20 || fault->fail_reason[i] > 0x7e)
            return CF_ERR_INVALID;
    return s_request(self, "FAULT", fault, NULL);
}

cf_err_t cf_fleet_set_online(cf_fleet_t *self, size_t i, int online)
{
    if (!self || (i != CF_FLEET_ALL && i >= self->cfg.count))
        return CF_ERR_INVALID;
    return s_request(self, "ONLINE", &i, &online);
}

static int s_job_id_ok(const char *job_id)
{
    if (!job_id || strlen(job_id) != CF_MSG_JOB_ID_HEX)
        return 0;
    return strspn(job_id, "0123456789abcdef") == CF_MSG_JOB_ID_HEX;
}

cf_err_t cf_fleet_acked(cf_fleet_t *self, const char *job_id, size_t *n_out)
{
    if (!self || !n_out || !s_job_id_ok(job_id))
        return CF_ERR_INVALID;
    return s_request(self, "ACKED", job_id, n_out);
}

cf_err_t cf_fleet_wait_acked(cf_fleet_t *self, const char *job_id, size_t n, int timeout_ms)
{
    if (!self || !s_job_id_ok(job_id) || timeout_ms < 0)
        return CF_ERR_INVALID;
    if (n > self->cfg.count)
        return CF_ERR_TOOBIG;
    s_waiter_t w = {job_id, n ? n : self->cfg.count, zclock_mono() + timeout_ms, 0};
    return s_request(self, "WAIT", &w, NULL);
}
