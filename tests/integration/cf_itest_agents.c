/*  cf_itest_agents - fleet tests' fixture: a bare CURVE ROUTER playing broker and server,
    a CA with a job signer, jobs built for fleet agents, and what the ROUTER received  */
#include "cf_itest_agents.h"

#include "cf_test.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "cf_itest.h"
#include "cf_mem.h"

static cf_itest_agents_t *s_live; /* the running fixture, for a failed test's teardown */

int cf_itest_agents_teardown(void **state)
{
    cf_itest_agents_t *fx = s_live;
    cf_itest_agents_stop(&fx); /* the fleet first, then the ROUTER and its handler */
    return cf_itest_zap_teardown(state);
}

cf_itest_agents_t *cf_itest_agents_start(size_t count, const cf_fleet_cfg_t *cfg,
                                         const char *extra_broker)
{
    cf_itest_agents_t *fx = cf_mem_calloc(1, sizeof(*fx));
    assert_non_null(fx);
    fx->log = cf_mem_calloc(CF_ITEST_AGENTS_LOG, sizeof(fx->log[0]));
    assert_non_null(fx->log);
    fx->auto_ack = 1;
    fx->wait_ms = CF_ITEST_AGENTS_WAIT_MS + 10 * (long) count; /* CURVE handshakes take time */
    assert_int_equal(cf_zsock_raise_nofile(NULL, NULL), CF_OK);
    fx->zap = cf_itest_zap_start(NULL);
    /* no monitor: nobody reads it here, and libzmq's I/O thread blocks for good on a full
       monitor queue (a thousand connections fill it) */
    cf_itest_zap_mon_stop(fx->zap->router, &fx->zap->mon);
    assert_int_equal(cf_ca_create(NULL, &fx->ca), CF_OK);
    cf_issue_t srv = {.component = CF_COMPONENT_SERVER, .name = "srv1.example.org"};
    assert_int_equal(cf_ca_issue(fx->ca, &srv, &fx->server, &fx->server_key), CF_OK);

    cf_curve_broker_t brokers[2];
    size_t n = 0;
    if (extra_broker) { /* first in the list: nothing answers there */
        snprintf(brokers[n].endpoint, sizeof(brokers[n].endpoint), "%s", extra_broker);
        randombytes_buf(brokers[n].pub, sizeof(brokers[n].pub));
        n++;
    }
    brokers[n++] = fx->zap->broker;
    cf_fleet_cfg_t c;
    memset(&c, 0, sizeof(c));
    if (cfg)
        c = *cfg;
    c.count = count;
    /* keys first, then links (as an agent enrolls before it connects); a fleet that boots
       over a while races its keys, and an agent refused meanwhile retries at its failover */
    c.start_offline = !c.start_spread_ms;
    c.ca = cf_ca_cert(fx->ca);
    c.brokers = brokers;
    c.n_brokers = n;
    cf_why_t why = {""};
    cf_err_t rc = cf_fleet_new(&c, &fx->fleet, &why);
    if (rc != CF_OK)
        fail_msg("cf_fleet_new: %s", cf_why_text(&why, rc));
    for (size_t i = 0; i < count; i++) { /* key registration is not the fleet's job */
        char id[CF_MSG_AGENT_MAX + 1];
        unsigned char pub[CF_CURVE_KEY_LEN];
        assert_int_equal(cf_fleet_identity(fx->fleet, i, id, pub), CF_OK);
        assert_int_equal(cf_zap_put(fx->zap->zap, pub, CF_ALLOW_AGENT, id, NULL), CF_OK);
    }
    if (c.start_offline)
        assert_int_equal(cf_fleet_set_online(fx->fleet, CF_FLEET_ALL, 1), CF_OK);
    s_live = fx;
    return fx;
}

void cf_itest_agents_stop(cf_itest_agents_t **fx_p)
{
    cf_itest_agents_t *fx = *fx_p;
    if (!fx)
        return;
    s_live = NULL;
    cf_fleet_destroy(&fx->fleet);
    cf_itest_zap_stop();
    cf_cert_destroy(&fx->server);
    cf_key_destroy(&fx->server_key);
    cf_ca_destroy(&fx->ca);
    cf_mem_free(fx->log);
    cf_mem_free(fx);
    *fx_p = NULL;
}

cf_err_t cf_itest_agents_send(cf_itest_agents_t *fx, size_t i, const cf_msg_t *m)
{
    const char *id = cf_itest_agents_id(fx, i);
    cf_msg_frames_t fr;
    assert_int_equal(cf_msg_encode(m, &fr, NULL), CF_OK);
    zmsg_t *msg = zmsg_new();
    zmsg_addmem(msg, fr.data[0], fr.len[0]);
    zmsg_addmem(msg, fr.data[1], fr.len[1]);
    cf_msg_frames_clear(&fr);
    return cf_zsock_send_to(fx->zap->router, id, strlen(id), &msg);
}

static void s_ack(cf_itest_agents_t *fx, const char *agent, const cf_msg_t *m)
{
    cf_msg_t ack;
    cf_msg_init(&ack, CF_MSG_ACK);
    snprintf(ack.agent, sizeof(ack.agent), "%s", agent);
    snprintf(ack.job_id, sizeof(ack.job_id), "%s", m->job_id);
    ack.ack_of = m->type;
    cf_msg_frames_t fr;
    assert_int_equal(cf_msg_encode(&ack, &fr, NULL), CF_OK);
    zmsg_t *msg = zmsg_new();
    zmsg_addmem(msg, fr.data[0], fr.len[0]);
    zmsg_addmem(msg, fr.data[1], fr.len[1]);
    cf_msg_frames_clear(&fr);
    if (cf_zsock_send_to(fx->zap->router, agent, strlen(agent), &msg) != CF_OK)
        return; /* the agent left: it resends, and is acked then */
}

/* Log one message read from the ROUTER: [routing id][header][body]. */
static void s_take(cf_itest_agents_t *fx, zmsg_t *msg)
{
    zframe_t *rid = zmsg_first(msg);
    cf_msg_frame_t view[CF_MSG_FRAMES];
    size_t n = 0;
    for (zframe_t *fr = zmsg_next(msg); fr && n < CF_MSG_FRAMES; fr = zmsg_next(msg), n++) {
        view[n].data = zframe_data(fr);
        view[n].len = zframe_size(fr);
    }
    cf_msg_t m;
    if (zmsg_size(msg) != 3 || cf_msg_decode(view, n, &m, NULL) != CF_OK) {
        fx->bad++;
        return;
    }
    assert_true(fx->n_log < CF_ITEST_AGENTS_LOG);
    cf_itest_agents_ev_t *ev = &fx->log[fx->n_log++];
    ev->type = m.type;
    snprintf(ev->agent, sizeof(ev->agent), "%.*s", (int) zframe_size(rid),
             (const char *) zframe_data(rid));
    assert_string_equal(ev->agent, m.agent); /* the body names its sender */
    memcpy(ev->job_id, m.job_id, sizeof(ev->job_id));
    ev->outcome = m.outcome;
    ev->proto = m.proto;
    memcpy(ev->fpr, m.fpr, sizeof(ev->fpr));
    memcpy(ev->text, m.text, sizeof(ev->text));
    ev->at_ms = cf_itest_zap_now_ms();
    if (fx->auto_ack && (m.type == CF_MSG_RECEIPT || m.type == CF_MSG_REPORT))
        s_ack(fx, ev->agent, &m);
    cf_msg_clear(&m);
}

size_t cf_itest_agents_pump(cf_itest_agents_t *fx)
{
    size_t got = 0;
    zmsg_t *msg = NULL;
    while (cf_itest_zap_recv(fx->zap->router, 0, &msg, NULL) == CF_OK) {
        s_take(fx, msg);
        zmsg_destroy(&msg);
        got++;
    }
    return got;
}

static int s_match(const cf_itest_agents_ev_t *ev, cf_msg_type_t type, const char *agent,
                   const char *job_id)
{
    return ev->type == type && (!agent || !agent[0] || strcmp(ev->agent, agent) == 0) &&
           (!job_id || !job_id[0] || strcmp(ev->job_id, job_id) == 0);
}

size_t cf_itest_agents_count(const cf_itest_agents_t *fx, cf_msg_type_t type, const char *agent,
                             const char *job_id)
{
    size_t n = 0;
    for (size_t i = 0; i < fx->n_log; i++)
        n += (size_t) s_match(&fx->log[i], type, agent, job_id);
    return n;
}

const cf_itest_agents_ev_t *cf_itest_agents_nth(const cf_itest_agents_t *fx, cf_msg_type_t type,
                                                const char *agent, const char *job_id, size_t k)
{
    for (size_t i = 0; i < fx->n_log; i++)
        if (s_match(&fx->log[i], type, agent, job_id) && k-- == 0)
            return &fx->log[i];
    return NULL;
}

size_t cf_itest_agents_wait(cf_itest_agents_t *fx, cf_msg_type_t type, const char *agent,
                            const char *job_id, size_t n)
{
    long deadline = cf_itest_zap_now_ms() + fx->wait_ms;
    size_t have = cf_itest_agents_count(fx, type, agent, job_id);
    while (have < n && cf_itest_zap_now_ms() < deadline) {
        zmsg_t *msg = NULL;
        if (cf_itest_zap_recv(fx->zap->router, 50, &msg, NULL) != CF_OK)
            continue;
        s_take(fx, msg);
        zmsg_destroy(&msg);
        have = cf_itest_agents_count(fx, type, agent, job_id);
    }
    return have;
}

void cf_itest_agents_all_acked(cf_itest_agents_t *fx, const char *job_id, size_t n)
{
    long deadline = cf_itest_zap_now_ms() + fx->wait_ms;
    size_t acked = 0;
    while (cf_itest_zap_now_ms() < deadline) {
        zmsg_t *msg = NULL;
        if (cf_itest_zap_recv(fx->zap->router, 20, &msg, NULL) == CF_OK) {
            s_take(fx, msg);
            zmsg_destroy(&msg);
            continue; /* read all there is before asking the fleet */
        }
        assert_int_equal(cf_fleet_acked(fx->fleet, job_id, &acked), CF_OK);
        if (acked >= n)
            return;
    }
    fail_msg("job %s: %zu of %zu reports acked in time", job_id, acked, n);
}

const char *cf_itest_agents_id(const cf_itest_agents_t *fx, size_t i)
{
    static char id[CF_MSG_AGENT_MAX + 1];
    unsigned char pub[CF_CURVE_KEY_LEN];
    assert_int_equal(cf_fleet_identity(fx->fleet, i, id, pub), CF_OK);
    return id;
}

/* install_cert payload: a fresh certificate for the agent, its chain and its key sealed. */
static void s_install(cf_itest_agents_t *fx, const char *id, const unsigned char pub[32],
                      cf_job_t *job, char *fpr_out)
{
    cf_issue_t req = {.component = CF_COMPONENT_AGENT, .name = id};
    cf_cert_t *cert = NULL;
    cf_key_t *key = NULL;
    char *leaf = NULL, *ca = NULL, *kpem = NULL;
    size_t leaf_len = 0, ca_len = 0, klen = 0;
    assert_int_equal(cf_ca_issue(fx->ca, &req, &cert, &key), CF_OK);
    assert_int_equal(cf_cert_to_pem(cert, &leaf, &leaf_len), CF_OK);
    assert_int_equal(cf_cert_to_pem(cf_ca_cert(fx->ca), &ca, &ca_len), CF_OK);
    assert_int_equal(cf_key_to_pem(key, NULL, &kpem, &klen), CF_OK);
    char *chain = cf_mem_malloc(leaf_len + ca_len + 1);
    assert_non_null(chain);
    memcpy(chain, leaf, leaf_len);
    memcpy(chain + leaf_len, ca, ca_len + 1);
    assert_int_equal(cf_job_set_install_pem(job, chain, leaf_len + ca_len, kpem, klen, pub), CF_OK);
    if (fpr_out)
        snprintf(fpr_out, CF_MSG_FPR_HEX + 1, "%s", cf_cert_fingerprint(cert));
    cf_mem_free(chain);
    cf_mem_free(leaf);
    cf_mem_free(ca);
    cf_mem_free_secret(kpem, klen);
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
}

char *cf_itest_agents_job(cf_itest_agents_t *fx, size_t i, cf_job_type_t type, const char *to,
                          time_t created, long ttl, char id_out[CF_MSG_JOB_ID_HEX + 1],
                          char fpr_out[CF_MSG_FPR_HEX + 1], size_t *len)
{
    char id[CF_MSG_AGENT_MAX + 1];
    unsigned char pub[CF_CURVE_KEY_LEN];
    assert_int_equal(cf_fleet_identity(fx->fleet, i, id, pub), CF_OK);
    cf_job_spec_t spec = {.type = type,
                          .id = id_out[0] ? id_out : NULL,
                          .agent = to ? to : id,
                          .issuer = "srv1",
                          .created = created,
                          .expires = created + ttl};
    cf_job_t *job = NULL;
    cf_why_t why = {""};
    cf_err_t rc = cf_job_new(&spec, &job, &why);
    if (rc != CF_OK)
        fail_msg("cf_job_new: %s", cf_why_text(&why, rc));
    if (type == CF_JOB_TYPE_INSTALL_CERT)
        s_install(fx, id, pub, job, fpr_out);
    if (type == CF_JOB_TYPE_SET_FAVORITE)
        assert_int_equal(cf_job_set_favorite(job, "srv2.example.org"), CF_OK);
    rc = cf_job_sign(job, fx->server, fx->server_key, &why);
    if (rc != CF_OK)
        fail_msg("cf_job_sign: %s", cf_why_text(&why, rc));
    char *wire = NULL;
    assert_int_equal(cf_job_to_wire(job, &wire, len), CF_OK);
    memmove(id_out, cf_job_id(job), CF_MSG_JOB_ID_HEX + 1);
    cf_job_destroy(&job);
    return wire;
}

/* As docs/PROTOCOL.md 4.1 says: jansson's sorted compact dump without "sig", after the
   context string and a NUL, signed by whatever key is given (ECDSA P-256 here). */
char *cf_itest_agents_forge(const char *wire, const cf_cert_t *signer, const cf_key_t *key,
                            size_t *len)
{
    json_t *root = json_loads(wire, 0, NULL);
    assert_non_null(root);
    unsigned char *der = NULL;
    size_t der_len = 0;
    assert_int_equal(cf_cert_to_der(signer, &der, &der_len), CF_OK);
    char b64[8192];
    sodium_bin2base64(b64, sizeof(b64), der, der_len, sodium_base64_VARIANT_ORIGINAL);
    cf_mem_free(der);
    json_object_set_new(root, "signer", json_string(b64));
    json_object_del(root, "sig");
    char *canon = json_dumps(root, JSON_SORT_KEYS | JSON_COMPACT);
    size_t msg_len = sizeof(CF_JOB_SIG_CONTEXT) + strlen(canon);
    unsigned char *msg = cf_mem_malloc(msg_len), sig[256];
    memcpy(msg, CF_JOB_SIG_CONTEXT, sizeof(CF_JOB_SIG_CONTEXT));
    memcpy(msg + sizeof(CF_JOB_SIG_CONTEXT), canon, strlen(canon));
    size_t sig_len = sizeof(sig);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, cf_key_pkey(key)), 1);
    assert_int_equal(EVP_DigestSign(ctx, sig, &sig_len, msg, msg_len), 1);
    EVP_MD_CTX_free(ctx);
    sodium_bin2base64(b64, sizeof(b64), sig, sig_len, sodium_base64_VARIANT_ORIGINAL);
    json_object_set_new(root, "sig", json_string(b64));
    char *out = json_dumps(root, JSON_SORT_KEYS | JSON_COMPACT);
    *len = strlen(out);
    cf_mem_free(msg);
    cf_mem_free(canon);
    json_decref(root);
    return out;
}

cf_err_t cf_itest_agents_send_job(cf_itest_agents_t *fx, size_t i, const char *job_id,
                                  const void *job, size_t len)
{
    cf_msg_t m;
    cf_msg_init(&m, CF_MSG_JOB);
    snprintf(m.agent, sizeof(m.agent), "%s", cf_itest_agents_id(fx, i));
    snprintf(m.job_id, sizeof(m.job_id), "%s", job_id);
    assert_int_equal(cf_msg_set_job(&m, job, len), CF_OK);
    cf_err_t rc = cf_itest_agents_send(fx, i, &m);
    cf_msg_clear(&m);
    return rc;
}
