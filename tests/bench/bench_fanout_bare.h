/*  bench_fanout_bare - bench_fanout's references: a bare CURVE ROUTER in the broker's place
    (same endpoint, key and ZAP allow list) that sends the same N signed jobs straight to
    the same N DEALERs, and the reports floor (per message: receive, one pipelined Redis
    write, ACK)  */
#ifndef BENCH_FANOUT_BARE_H_INCLUDED
#define BENCH_FANOUT_BARE_H_INCLUDED

#include <string.h>
#include <time.h>

#include <czmq.h>
#include <openssl/rand.h>

#include "bench_fanout_sim.h"
#include "cf_allow.h"
#include "cf_db_curve.h"
#include "cf_link_build.h"
#include "cf_mem.h"
#include "cf_msg.h"
#include "cf_store.h"
#include "cf_zap.h"
#include "cf_zsock.h"

#define BF_WAIT_MS 120000 /* any phase gives up after this */

typedef struct {
    cf_zap_t *zap;         /* the ZAP handler, the broker's allow list from Redis */
    zsock_t *router;       /* bound on the broker's agent endpoint with its key */
    size_t n;              /* agents */
    char prefix[32];       /* agent id prefix */
    cf_msg_frames_t *jobs; /* one encoded JOB per agent (the phase's) */
    char job_id[33];       /* its id */
} bf_bare_t;

/* The ROUTER in the broker's place. Errors: as cf_zap_new, cf_zsock_curve_router. */
static cf_err_t bf_bare_open(bf_bare_t *b, cf_store_t *store, const cf_curve_keypair_t *kp,
                             const char *endpoint, cf_why_t *why)
{
    cf_allow_t *allow = NULL;
    size_t bad = 0;
    CF_TRY(cf_zap_new(NULL, &b->zap, why));
    CF_TRY(cf_allow_new(0, b->n + 16, &allow));
    cf_err_t rc = cf_db_curve_load(store, allow, &bad);
    if (rc == CF_OK)
        rc = cf_zap_replace(b->zap, &allow);
    cf_allow_destroy(&allow);
    CF_TRY(rc);
    cf_zsock_cfg_t cfg;
    cf_zsock_cfg_init(&cfg);
    cfg.heartbeat_ivl_ms = CF_ZSOCK_NO_PINGS; /* as cf-broker's ROUTERs */
    return cf_zsock_curve_router(b->zap, kp, endpoint, &cfg, &b->router, why);
}

static void bf_bare_jobs_free(bf_bare_t *b)
{
    for (size_t i = 0; b->jobs && i < b->n; i++)
        cf_msg_frames_clear(&b->jobs[i]);
    cf_mem_free(b->jobs);
    b->jobs = NULL;
}

static void bf_bare_close(bf_bare_t *b)
{
    bf_bare_jobs_free(b);
    zsock_destroy(&b->router);
    cf_zap_destroy(&b->zap);
}

/* Send frames (routing id first) without waiting; 0 sent, -1 not now. */
static int bf_send(zsock_t *router, const char *rid, const cf_msg_frames_t *fr)
{
    void *s = zsock_resolve(router);
    if (zmq_send(s, rid, strlen(rid), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -1;
    (void) zmq_send(s, fr->data[0], fr->len[0], ZMQ_SNDMORE | ZMQ_DONTWAIT);
    (void) zmq_send(s, fr->data[1], fr->len[1], ZMQ_DONTWAIT);
    return 0;
}

/* The next message within wait_ms, decoded (cf_msg_clear it): 1, or 0 when none. */
static int bf_recv(bf_bare_t *b, int wait_ms, cf_msg_t *m)
{
    zmsg_t *z = NULL;
    if (!(zsock_events(b->router) & ZMQ_POLLIN)) {
        zmq_pollitem_t it = {zsock_resolve(b->router), 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, wait_ms) <= 0)
            return 0;
    }
    if (cf_zsock_recv(b->router, 3, CF_MSG_MAX_WIRE + 256, ZMQ_DONTWAIT, &z, NULL) != CF_OK)
        return 0;
    zframe_t *rid = zmsg_pop(z);
    cf_msg_frame_t fr[2];
    size_t n = 0;
    for (zframe_t *f = zmsg_first(z); f && n < 2; f = zmsg_next(z), n++)
        fr[n] = (cf_msg_frame_t){zframe_data(f), zframe_size(f)};
    int ok = cf_msg_decode(fr, n, m, NULL) == CF_OK;
    zframe_destroy(&rid);
    zmsg_destroy(&z);
    return ok;
}

/* Wait until every agent said HELLO to the ROUTER (they reconnect after the broker went). */
static int bf_bare_hellos(bf_bare_t *b)
{
    unsigned char *seen = cf_mem_calloc(b->n, 1);
    size_t count = 0, plen = strlen(b->prefix);
    double end = bf_now_ms() + BF_WAIT_MS;
    while (seen && count < b->n && bf_now_ms() < end) {
        cf_msg_t m;
        if (!bf_recv(b, 100, &m))
            continue;
        size_t i = strtoul(m.agent + plen, NULL, 10);
        if (m.type == CF_MSG_HELLO && i < b->n && !seen[i]) {
            seen[i] = 1;
            count++;
        }
        cf_msg_clear(&m);
    }
    cf_mem_free(seen);
    return count == b->n ? 0 : -1;
}

/* N copies of a fresh recheck (or set_favorite) job, built and signed as the server's link
   does (cf_link_build with this server's certificate and key): what the ROUTER sends. */
static cf_err_t bf_bare_jobs(bf_bare_t *b, cf_store_t *store, const cf_seal_t *seal,
                             const char *alias, const char *type, const char *params,
                             size_t *job_bytes, cf_why_t *why)
{
    unsigned char rnd[16];
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        return CF_ERR_CRYPTO;
    rnd[0] |= 1;
    for (int i = 0; i < 16; i++)
        snprintf(b->job_id + 2 * i, 3, "%02x", rnd[i]);
    int64_t now = (int64_t) time(NULL);
    cf_link_job_t job = {b->job_id, type, params, now, now + 3600, 1};
    cf_link_params_t prm;
    cf_link_signer_t signer;
    CF_TRY(cf_link_params_parse(&job, &prm, why));
    CF_TRY(cf_link_signer_load(store, seal, alias, &signer, why));
    cf_err_t rc = CF_ERR_NOMEM;
    b->jobs = cf_mem_calloc(b->n, sizeof(b->jobs[0]));
    for (size_t i = 0; b->jobs && i < b->n; i++) {
        cf_msg_t m;
        char *wire = NULL;
        size_t len = 0;
        cf_msg_init(&m, CF_MSG_JOB);
        snprintf(m.agent, sizeof(m.agent), "%s%zu", b->prefix, i);
        snprintf(m.job_id, sizeof(m.job_id), "%s", b->job_id);
        rc = cf_link_build(&job, &prm, m.agent, NULL, NULL, &signer, &wire, &len, why);
        if (rc == CF_OK)
            rc = cf_msg_set_job(&m, wire, len);
        if (rc == CF_OK)
            rc = cf_msg_encode(&m, &b->jobs[i], why);
        *job_bytes = len;
        cf_mem_free(wire);
        cf_msg_clear(&m);
        if (rc != CF_OK)
            break;
    }
    cf_link_signer_clear(&signer);
    return rc;
}

/* The floor's store step for one fact: the writes a transition makes, in one pipeline
   (one round trip): the entry (HSET), the counters (HINCRBY -1/+1), the event (XADD). */
static cf_err_t bf_floor_write(cf_store_pipe_t *p, const bf_bare_t *b, const cf_msg_t *m,
                               const char *from)
{
    const char *to = m->type == CF_MSG_RECEIPT        ? "delivered"
                     : m->outcome == CF_MSG_INSTALLED ? "installed"
                                                      : "failed";
    const char *id = b->job_id;
    cf_store_pipe_reset(p);
    CF_TRY(cf_store_pipe_append(p, "HSET bench:job:{%s}:st %s %s", id, m->agent, to));
    CF_TRY(cf_store_pipe_append(p, "HINCRBY bench:job:{%s} n:%s -1", id, from));
    CF_TRY(cf_store_pipe_append(p, "HINCRBY bench:job:{%s} n:%s 1", id, to));
    CF_TRY(cf_store_pipe_append(p, "XADD bench:job:{%s}:ev MAXLEN ~ %lu * agent %s from %s to %s",
                                id, (unsigned long) b->n, m->agent, from, to));
    return cf_store_pipe_exec(p, 0);
}

/* ACK a RECEIPT or REPORT of the phase's job (after the floor's write when p; from: the
   state the fact moves the agent's entry from). */
static void bf_ack(bf_bare_t *b, cf_store_pipe_t *p, const cf_msg_t *m, const char *from)
{
    cf_err_t rc = p ? bf_floor_write(p, b, m, from) : CF_OK;
    if (rc != CF_OK) {
        fprintf(stderr, "bench_fanout: floor write: %s\n", cf_err_str(rc));
        return;
    }
    cf_msg_t a;
    cf_msg_frames_t fr;
    cf_msg_init(&a, CF_MSG_ACK);
    memcpy(a.agent, m->agent, sizeof(a.agent));
    memcpy(a.job_id, m->job_id, sizeof(a.job_id));
    a.ack_of = m->type;
    if (cf_msg_encode(&a, &fr, NULL) == CF_OK)
        (void) bf_send(b->router, a.agent, &fr);
    cf_msg_frames_clear(&fr);
}

/* A fact of the phase's job, first of its kind for its agent: its bit (1 RECEIPT, 2
   REPORT) with 4 added when it is the agent's first fact of the job (its answer: the
   RECEIPT, or the REPORT of a job it finished at once, which stands for the RECEIPT); 0
   for anything else. *from: the state an entry leaves (pending before the first fact). */
static int bf_first(const bf_bare_t *b, unsigned char *got, const cf_msg_t *m, const char **from)
{
    size_t i = strtoul(m->agent + strlen(b->prefix), NULL, 10);
    unsigned char bit = m->type == CF_MSG_RECEIPT ? 1 : 2;
    if (i >= b->n || strcmp(m->job_id, b->job_id) != 0)
        return 0;
    *from = got[i] & 1 ? "delivered" : "pending";
    if (got[i] & bit)
        return 0;
    int first = got[i] ? 0 : 4;
    got[i] |= bit;
    return bit | first;
}

/* One phase: send the N jobs, then answer every REPORT with an ACK (when p, the floor:
   every RECEIPT and REPORT, after a Redis write each) until every agent's REPORT came.
   *t_receipts gets the time the last agent's first answer arrived (its RECEIPT, or the
   REPORT alone of a job finished at once; BF_NO_TIME if not all did); on_receipts (when
   not NULL) is called then (the REPORTs-alone phase releases the held REPORTs). */
static int bf_bare_run(bf_bare_t *b, cf_store_pipe_t *p, double *t_receipts,
                       void (*on_receipts)(void *), void *arg)
{
    size_t sent = 0, receipts = 0, reports = 0;
    char rid[CF_MSG_AGENT_MAX + 1];
    unsigned char *got = cf_mem_calloc(b->n, 1);
    double end = bf_now_ms() + BF_WAIT_MS;
    *t_receipts = BF_NO_TIME;
    while (got && reports < b->n && bf_now_ms() < end) {
        for (; sent < b->n; sent++) {
            snprintf(rid, sizeof(rid), "%s%zu", b->prefix, sent);
            if (bf_send(b->router, rid, &b->jobs[sent]) != 0)
                break;
        }
        cf_msg_t m;
        if (!bf_recv(b, sent < b->n ? 0 : 100, &m))
            continue;
        int fact = m.type == CF_MSG_RECEIPT || m.type == CF_MSG_REPORT;
        const char *from = "pending";
        int first = fact ? bf_first(b, got, &m, &from) : 0;
        if ((first & 4) && ++receipts == b->n) {
            *t_receipts = bf_now_ms();
            if (on_receipts)
                on_receipts(arg);
        }
        reports += (first & 2) != 0;
        /* the bare ROUTER ACKs only REPORTs: a REPORT's ACK stops the agent's RECEIPT
           resends too, so that is all an agent needs; the floor ACKs each fact it stores */
        if (fact && strcmp(m.job_id, b->job_id) == 0 && (p || m.type == CF_MSG_REPORT))
            bf_ack(b, p, &m, from);
        cf_msg_clear(&m);
    }
    cf_mem_free(got);
    return reports == b->n ? 0 : -1;
}

#endif
