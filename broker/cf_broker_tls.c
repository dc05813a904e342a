/*  cf_broker_tls - TLS-wrapped links: SERVER relays in front of the ROUTERs, the revocation
    check on the relays' threads, and the identity check on the broker's receive path  */
#include "cf_broker_tls.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cf_db_crl.h"
#include "cf_file.h"
#include "cf_log.h"
#include "cf_mem.h"
#include "cf_relay.h"
#include "cf_store.h"

#define S_REDIS_CONNECT_MS 500  /* a handshake waits at most this for a Redis connect */
#define S_REDIS_COMMAND_MS 2000 /* ... and this for the SISMEMBER */
#define S_REDIS_PAUSE_MS   1000 /* after a failed ask, refuse without asking this long */

/* What one relay's check uses; only that relay's thread touches it. */
typedef struct {
    cf_store_t *store;     /* its own Redis connection */
    cf_broker_side_t side; /* for logs */
    int64_t pause_until;   /* monotonic ms: Redis failed, refuse without asking until then */
} s_check_t;

struct cf_broker_tls {
    cf_relay_t *relay[CF_BROKER_SIDES_];           /* SERVER relays, NULL: side off */
    s_check_t check[CF_BROKER_SIDES_];             /* their checks */
    char via[CF_BROKER_SIDES_][CF_RELAY_ADDR_MAX]; /* ROUTER's relay-only endpoint */
};

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The relay's check: an identity from the certificate, and its serial not revoked. While
   Redis is away every handshake is refused (fail closed), and after a failed ask the next
   one waits S_REDIS_PAUSE_MS, so a storm of handshakes never stalls the relay's thread on
   connect timeouts. */
static cf_err_t s_check(void *arg, const cf_cert_t *leaf, char identity[CF_RELAY_ID_MAX + 1],
                        cf_why_t *why)
{
    s_check_t *c = arg;
    CF_TRY(cf_relay_identity(leaf, identity, why));
    if (s_now_ms() < c->pause_until)
        return cf_why(why, CF_ERR_IO, "revocation unknown (Redis did not answer): refused");
    int revoked = 1;
    cf_err_t rc = cf_db_revoked(c->store, cf_cert_serial(leaf), &revoked);
    if (rc != CF_OK) {
        c->pause_until = s_now_ms() + S_REDIS_PAUSE_MS;
        return cf_why(why, CF_ERR_IO, "revocation unknown (Redis: %s): refused",
                      cf_why_text(cf_store_why(c->store), rc));
    }
    if (revoked)
        return cf_why(why, CF_ERR_REVOKED, "certificate %s is revoked", cf_cert_serial(leaf));
    return CF_OK;
}

typedef struct {
    char *ca, *cert, *key; /* PEM files (key: a secret) */
    size_t ca_len, cert_len, key_len;
    cf_key_t *k; /* parsed key */
} s_material_t;

static void s_material_free(s_material_t *m)
{
    cf_mem_free(m->ca);
    cf_mem_free(m->cert);
    if (m->key)
        cf_mem_free_secret(m->key, m->key_len);
    cf_key_destroy(&m->k);
    memset(m, 0, sizeof(*m));
}

static cf_err_t s_material(const cf_broker_tls_cfg_t *cfg, s_material_t *m, cf_why_t *why)
{
    if (!cfg->ca_file || !cfg->cert_file || !cfg->key_file)
        return cf_why(why, CF_ERR_INVALID, "TLS links need --tls-ca, --tls-cert and --tls-key");
    CF_TRY(cf_file_read(cfg->ca_file, CF_RELAY_MAX_PEM, &m->ca, &m->ca_len, why));
    CF_TRY(cf_file_read(cfg->cert_file, CF_RELAY_MAX_PEM, &m->cert, &m->cert_len, why));
    CF_TRY(cf_file_read_ex(cfg->key_file, CF_RELAY_MAX_PEM, CF_FILE_PRIVATE | CF_FILE_SECRET,
                           &m->key, &m->key_len, why));
    cf_err_t rc = cf_key_from_pem(m->key, m->key_len, NULL, &m->k);
    return rc == CF_OK ? CF_OK : cf_why(why, rc, "--tls-key %s: %s", cfg->key_file, cf_err_str(rc));
}

/* The ROUTER of side also binds a loopback endpoint for the relay alone. */
static cf_err_t s_via(cf_broker_tls_t *self, zsock_t *sock, cf_broker_side_t side, cf_why_t *why)
{
    int port = zsock_bind(sock, "tcp://127.0.0.1:*");
    if (port < 0)
        return cf_why(why, CF_ERR_IO, "relay endpoint of the %s ROUTER: %s",
                      cf_broker_side_name(side), zmq_strerror(zmq_errno()));
    snprintf(self->via[side], sizeof(self->via[side]), "127.0.0.1:%d", port);
    return CF_OK;
}

static cf_err_t s_side(cf_broker_tls_t *self, zsock_t *sock, cf_broker_side_t side,
                       const char *bind, const cf_broker_tls_cfg_t *cfg, const s_material_t *m,
                       const cf_store_cfg_t *store, cf_why_t *why)
{
    cf_store_cfg_t quick = *store;
    quick.reconnect_attempts = 1;
    if (quick.connect_timeout_ms > S_REDIS_CONNECT_MS)
        quick.connect_timeout_ms = S_REDIS_CONNECT_MS;
    if (quick.command_timeout_ms > S_REDIS_COMMAND_MS)
        quick.command_timeout_ms = S_REDIS_COMMAND_MS;
    self->check[side].side = side;
    CF_TRY(cf_store_new(&quick, &self->check[side].store, why));
    CF_TRY(s_via(self, sock, side, why));
    cf_relay_cfg_t rcfg = {
        .mode = CF_RELAY_SERVER,
        .listen = bind,
        .target = self->via[side],
        .ca_pem = m->ca,
        .ca_len = m->ca_len,
        .cert_pem = m->cert,
        .cert_len = m->cert_len,
        .key = m->k,
        .check = s_check,
        .check_arg = &self->check[side],
        .max_conns = cfg->max_conns,
    };
    CF_TRY(cf_relay_new(&rcfg, &self->relay[side], why));
    cf_log(CF_LOG_INFO, "msg=\"TLS links on\" side=%s tls=%s via=%s", cf_broker_side_name(side),
           cf_relay_address(self->relay[side]), self->via[side]);
    return CF_OK;
}

cf_err_t cf_broker_tls_start(zsock_t *const sock[CF_BROKER_SIDES_], const cf_broker_tls_cfg_t *cfg,
                             const cf_store_cfg_t *store, cf_broker_tls_t **out, cf_why_t *why)
{
    if (!out || !sock || !cfg || !store)
        return CF_ERR_INVALID;
    *out = NULL;
    const char *binds[CF_BROKER_SIDES_] = {cfg->agents_bind, cfg->servers_bind};
    if (!binds[0] && !binds[1])
        return CF_OK;
    s_material_t m = {0};
    cf_broker_tls_t *self = cf_mem_calloc(1, sizeof(*self));
    cf_err_t rc = self ? s_material(cfg, &m, why) : CF_ERR_NOMEM;
    for (int side = 0; side < CF_BROKER_SIDES_ && rc == CF_OK; side++)
        if (binds[side])
            rc =
                s_side(self, sock[side], (cf_broker_side_t) side, binds[side], cfg, &m, store, why);
    s_material_free(&m);
    if (rc != CF_OK) {
        cf_broker_tls_destroy(&self);
        return rc;
    }
    *out = self;
    return CF_OK;
}

void cf_broker_tls_destroy(cf_broker_tls_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_broker_tls_t *self = *self_p;
    for (int side = 0; side < CF_BROKER_SIDES_; side++) {
        cf_relay_destroy(&self->relay[side]); /* its thread ends before the store goes */
        cf_store_destroy(&self->check[side].store);
    }
    cf_mem_free(self);
    *self_p = NULL;
}

int cf_broker_tls_judge(cf_broker_tls_t *self, cf_broker_side_t side, const cf_zsock_peer_t *peer,
                        cf_broker_verdict_t *v)
{
    if (!self || (int) side < 0 || side >= CF_BROKER_SIDES_ || !self->relay[side] || !peer)
        return 0;
    if (strcmp(peer->local, self->via[side]) != 0)
        return 0; /* not through the relay: a direct connection (docs/broker.md) */
    char identity[CF_RELAY_ID_MAX + 1];
    cf_err_t rc = cf_relay_lookup(self->relay[side], peer->remote, identity, sizeof(identity));
    if (rc == CF_OK && strcmp(identity, peer->user_id) == 0)
        return 0;
    memset(v, 0, sizeof(*v));
    v->act = CF_BROKER_ACT_DROP;
    v->reason = CF_BROKER_DROP_IDENTITY;
    v->shut = 1;
    v->why = rc == CF_OK ? "TLS certificate names another identity than the CURVE key"
                         : "relayed connection without a TLS identity";
    cf_log(CF_LOG_INFO, "msg=\"TLS identity mismatch\" side=%s tls=%s user_id=%s via=%s",
           cf_broker_side_name(side), rc == CF_OK ? identity : "-",
           peer->user_id[0] ? peer->user_id : "-", peer->remote);
    return 1;
}

const char *cf_broker_tls_address(const cf_broker_tls_t *self, cf_broker_side_t side)
{
    if (!self || (int) side < 0 || side >= CF_BROKER_SIDES_ || !self->relay[side])
        return "";
    return cf_relay_address(self->relay[side]);
}

void cf_broker_tls_stats(cf_broker_tls_t *self, cf_broker_tls_stats_t *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    for (int side = 0; self && side < CF_BROKER_SIDES_; side++) {
        if (!self->relay[side])
            continue;
        cf_relay_stats_t st;
        cf_relay_stats(self->relay[side], &st);
        out->on[side] = 1;
        out->refused_tls[side] = st.refused_tls;
        out->refused_check[side] = st.refused_check;
        out->relayed[side] = st.relayed;
        out->open[side] = st.open;
    }
}

cf_err_t cf_broker_tls_metrics(cf_broker_tls_t *self, char *buf, size_t cap, size_t *len)
{
    if (!self)
        return CF_OK;
    cf_broker_tls_stats_t st;
    cf_broker_tls_stats(self, &st);
    size_t at = *len;
    for (int side = 0; side < CF_BROKER_SIDES_; side++) {
        if (!st.on[side])
            continue;
        const char *s = cf_broker_side_name((cf_broker_side_t) side);
        int n = snprintf(buf + at, cap - at,
                         "cf_broker_tls_connections{side=\"%s\"} %zu\n"
                         "cf_broker_tls_relayed_total{side=\"%s\"} %llu\n"
                         "cf_broker_tls_refused_total{side=\"%s\",reason=\"handshake\"} %llu\n"
                         "cf_broker_tls_refused_total{side=\"%s\",reason=\"check\"} %llu\n",
                         s, st.open[side], s, st.relayed[side], s, st.refused_tls[side], s,
                         st.refused_check[side]);
        if (n < 0 || (size_t) n >= cap - at) {
            buf[*len] = '\0';
            return CF_ERR_TOOBIG;
        }
        at += (size_t) n;
    }
    *len = at;
    return CF_OK;
}
