/*  cf_itest_broker - run a real cf-broker process against a real redis-server in tests  */
#include "cf_itest_broker.h"

#include "cf_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cf_db_curve.h"
#include "cf_itest_zap.h"
#include "cf_msg_batch.h"

/* Messages of a received BATCH not yet handed out, per socket, oldest first (test code:
   one thread). */
#define S_PENDING_MAX 4096
static struct {
    zsock_t *sock; /* where it came in */
    cf_msg_t m;    /* the decoded message (owned) */
} s_pending[S_PENDING_MAX];
static size_t s_n_pending;

static int s_pop_pending(zsock_t *sock, cf_msg_t *m)
{
    for (size_t i = 0; i < s_n_pending; i++) {
        if (s_pending[i].sock != sock)
            continue;
        *m = s_pending[i].m;
        memmove(&s_pending[i], &s_pending[i + 1], (s_n_pending - i - 1) * sizeof(s_pending[0]));
        s_n_pending--;
        return 1;
    }
    return 0;
}

size_t cf_itest_broker_pending(zsock_t *sock)
{
    size_t n = 0;
    for (size_t i = 0; i < s_n_pending; i++)
        n += s_pending[i].sock == sock;
    return n;
}

/* Split a BATCH: the first message into *m, the others queued for sock. */
static cf_err_t s_unbatch(zsock_t *sock, const cf_msg_frame_t *frames, size_t n, cf_msg_t *m)
{
    cf_msg_batch_iter_t it;
    CF_TRY(cf_msg_batch_iter_init(&it, frames, n, NULL));
    cf_msg_frame_t item[CF_MSG_FRAMES];
    for (size_t k = 0; cf_msg_batch_next(&it, item); k++) {
        cf_msg_t one;
        CF_TRY(cf_msg_decode(item, CF_MSG_FRAMES, &one, NULL));
        if (k == 0) {
            *m = one;
            continue;
        }
        assert_true(s_n_pending < S_PENDING_MAX);
        s_pending[s_n_pending].sock = sock;
        s_pending[s_n_pending++].m = one;
    }
    return CF_OK;
}

#define S_PAGE_MAX 65536 /* metrics page read */

static const char *s_bin(char *buf, size_t len)
{
    const char *bin = getenv("CF_BIN_DIR");
    snprintf(buf, len, "%s/broker/cf-broker", bin && *bin ? bin : ".");
    return buf;
}

/* --keygen into the test's directory; its output names the agents endpoint line. */
static void s_keygen(cf_itest_broker_t *b)
{
    char bin[600];
    assert_int_equal(cf_test_sh("%s --keygen --out %s --agents-bind %s > %s/keygen.out",
                                s_bin(bin, sizeof(bin)), b->dir, b->agents.endpoint, b->dir),
                     0);
    char path[700];
    snprintf(path, sizeof(path), "%s/keygen.out", b->dir);
    size_t len = 0;
    char *out = cf_test_read_file(path, &len);
    const char *line = strstr(out, "agents:  ");
    assert_non_null(line);
    cf_curve_broker_t parsed;
    line += strlen("agents:  ");
    assert_int_equal(cf_curve_broker_parse(line, strcspn(line, "\n"), &parsed, NULL), CF_OK);
    assert_string_equal(parsed.endpoint, b->agents.endpoint);
    free(out);
    cf_curve_keypair_t kp;
    snprintf(path, sizeof(path), "%s/broker.key_secret", b->dir);
    assert_int_equal(cf_curve_keypair_load(path, &kp, NULL), CF_OK);
    assert_memory_equal(kp.pub, parsed.pub, CF_CURVE_KEY_LEN);
    memcpy(b->agents.pub, kp.pub, CF_CURVE_KEY_LEN);
    memcpy(b->servers.pub, kp.pub, CF_CURVE_KEY_LEN);
    cf_curve_keypair_wipe(&kp);
}

/* Spawn cf-broker with argv and wait until its metrics page answers (fails the test if it
   exits or does not listen within 10 s). */
static void s_run(cf_itest_broker_t *b, char *const *argv)
{
    assert_int_equal(cf_itest_spawn(argv, b->log, &b->pid), CF_OK);
    for (int waited = 0; waited < 10000; waited += 100) {
        if (cf_itest_wait_port("127.0.0.1", b->metrics_port, 100) == CF_OK)
            return;
        if (cf_itest_exit_code(b->pid, 0) >= 0)
            fail_msg("cf-broker exited at start; see %s", b->log);
    }
    fail_msg("cf-broker did not listen; see %s", b->log);
}

/* extra: more arguments (NULL-terminated; NULL: none) */
static void s_spawn(cf_itest_broker_t *b, const char *const *extra)
{
    char bin[600], key[700], redis[64], metrics[16];
    snprintf(key, sizeof(key), "%s/broker.key_secret", b->dir);
    snprintf(redis, sizeof(redis), "127.0.0.1:%d", b->redis.port);
    snprintf(metrics, sizeof(metrics), "%d", b->metrics_port);
    char *argv[] = {(char *) s_bin(bin, sizeof(bin)),
                    "--key-file",
                    key,
                    "--redis",
                    redis,
                    "--agents-bind",
                    b->agents.endpoint,
                    "--servers-bind",
                    b->servers.endpoint,
                    "--metrics-port",
                    metrics,
                    "--log-level",
                    "debug",
                    NULL,
                    NULL,
                    NULL,
                    NULL,
                    NULL};
    size_t at = sizeof(argv) / sizeof(argv[0]) - 5;
    for (size_t i = 0; extra && extra[i]; i++) {
        assert_true(at + 1 < sizeof(argv) / sizeof(argv[0]));
        argv[at++] = (char *) extra[i];
    }
    s_run(b, argv);
}

void cf_itest_broker_start(cf_itest_broker_t *b, const char *name, const cf_allow_kind_t *kinds,
                           const char *const *names, const cf_curve_keypair_t *keys, size_t n)
{
    cf_itest_broker_start_with(b, name, kinds, names, keys, n, NULL);
}

void cf_itest_broker_start_with(cf_itest_broker_t *b, const char *name,
                                const cf_allow_kind_t *kinds, const char *const *names,
                                const cf_curve_keypair_t *keys, size_t n, const char *const *extra)
{
    memset(b, 0, sizeof(*b));
    cf_test_tmpdir(name, b->dir, sizeof(b->dir));
    snprintf(b->log, sizeof(b->log), "%s/broker.log", b->dir);
    assert_int_equal(cf_itest_redis_start(&b->redis, NULL), CF_OK);
    b->store = cf_itest_store_at(b->redis.port, NULL);
    snprintf(b->agents.endpoint, sizeof(b->agents.endpoint), "tcp://127.0.0.1:%d",
             cf_itest_free_port());
    snprintf(b->servers.endpoint, sizeof(b->servers.endpoint), "tcp://127.0.0.1:%d",
             cf_itest_free_port());
    b->metrics_port = cf_itest_free_port();
    s_keygen(b);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(cf_db_curve_put(b->store, kinds[i], names[i], keys[i].pub, 1, NULL),
                         CF_OK);
    s_spawn(b, extra);
}

void cf_itest_broker_spawn_tls(cf_itest_broker_t *b, const int tls_port[2])
{
    char bin[600], key[700], redis[64], metrics[16], tls[2][32], ca[700], cert[700], tkey[700];
    const char *dir = getenv("CF_BIN_DIR");
    snprintf(bin, sizeof(bin), "%s/broker/cf-broker", dir && *dir ? dir : ".");
    snprintf(key, sizeof(key), "%s/broker.key_secret", b->dir);
    snprintf(redis, sizeof(redis), "127.0.0.1:%d", b->redis.port);
    snprintf(metrics, sizeof(metrics), "%d", b->metrics_port);
    for (int i = 0; i < 2; i++)
        snprintf(tls[i], sizeof(tls[i]), "127.0.0.1:%d", tls_port[i]);
    snprintf(ca, sizeof(ca), "%s/ca.pem", b->dir);
    snprintf(cert, sizeof(cert), "%s/tls.pem", b->dir);
    snprintf(tkey, sizeof(tkey), "%s/tls.key", b->dir);
    char *argv[] = {bin,
                    "--key-file",
                    key,
                    "--redis",
                    redis,
                    "--agents-bind",
                    b->agents.endpoint,
                    "--servers-bind",
                    b->servers.endpoint,
                    "--metrics-port",
                    metrics,
                    "--log-level",
                    "debug",
                    "--tls-bind",
                    tls[0],
                    "--tls-servers-bind",
                    tls[1],
                    "--tls-ca",
                    ca,
                    "--tls-cert",
                    cert,
                    "--tls-key",
                    tkey,
                    NULL};
    s_run(b, argv);
}

void cf_itest_broker_stop(cf_itest_broker_t *b)
{
    for (size_t i = 0; i < s_n_pending; i++) /* a batch's messages no test asked for */
        cf_msg_clear(&s_pending[i].m);
    s_n_pending = 0;
    if (b->pid) {
        assert_int_equal(kill(b->pid, SIGTERM), 0);
        int code = cf_itest_exit_code(b->pid, CF_ITEST_BROKER_WAIT_MS);
        if (code < 0)
            assert_int_equal(cf_itest_kill(b->pid, SIGKILL), CF_OK);
        assert_int_equal(code, 0);
        b->pid = 0;
    }
    cf_store_destroy(&b->store);
    cf_itest_redis_stop(&b->redis);
}

static zsock_t *s_dealer(const cf_curve_broker_t *to, const cf_curve_keypair_t *kp, const char *rid)
{
    cf_zsock_cfg_t cfg;
    cf_zsock_cfg_init(&cfg);
    cfg.reconnect_ivl_ms = 50;
    zsock_t *sock = NULL;
    cf_why_t why = {""};
    cf_err_t rc = cf_zsock_curve_dealer(to, kp, rid, &cfg, &sock, &why);
    if (rc != CF_OK)
        fail_msg("dealer: %s", cf_why_text(&why, rc));
    /* a DEALER whose handshake was refused may hold no pipe: a send would wait for ever */
    zsock_set_sndtimeo(sock, CF_ITEST_BROKER_WAIT_MS);
    return sock;
}

zsock_t *cf_itest_broker_agent(const cf_itest_broker_t *b, const cf_curve_keypair_t *kp,
                               const char *rid)
{
    return s_dealer(&b->agents, kp, rid);
}

zsock_t *cf_itest_broker_server(const cf_itest_broker_t *b, const cf_curve_keypair_t *kp,
                                const char *rid)
{
    return s_dealer(&b->servers, kp, rid);
}

int cf_itest_broker_try_send(zsock_t *sock, const cf_msg_t *m)
{
    cf_msg_frames_t fr;
    cf_why_t why = {""};
    cf_err_t rc = cf_msg_encode(m, &fr, &why);
    if (rc != CF_OK)
        fail_msg("encode: %s", cf_why_text(&why, rc));
    zmsg_t *out = zmsg_new();
    for (size_t i = 0; i < fr.n; i++)
        assert_int_equal(zmsg_addmem(out, fr.data[i], fr.len[i]), 0);
    cf_msg_frames_clear(&fr);
    int rc_send = zmsg_send(&out, sock);
    zmsg_destroy(&out);
    return rc_send;
}

void cf_itest_broker_send(zsock_t *sock, const cf_msg_t *m)
{
    assert_int_equal(cf_itest_broker_try_send(sock, m), 0);
}

cf_err_t cf_itest_broker_recv(zsock_t *sock, int wait_ms, cf_msg_t *m)
{
    memset(m, 0, sizeof(*m));
    if (s_pop_pending(sock, m))
        return CF_OK;
    zmsg_t *msg = NULL;
    CF_TRY(cf_itest_zap_recv(sock, wait_ms, &msg, NULL));
    cf_msg_frame_t frames[8];
    size_t n = 0;
    for (zframe_t *f = zmsg_first(msg); f && n < 8; f = zmsg_next(msg)) {
        frames[n].data = zframe_data(f);
        frames[n++].len = zframe_size(f);
    }
    cf_err_t rc = cf_msg_batch_is(frames, n) ? s_unbatch(sock, frames, n, m)
                                             : cf_msg_decode(frames, n, m, NULL);
    zmsg_destroy(&msg);
    return rc;
}

void cf_itest_broker_send_batch(zsock_t *sock, const cf_msg_t *msgs, size_t n)
{
    cf_msg_batch_t *b = NULL;
    assert_int_equal(cf_msg_batch_new(&b), CF_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(cf_msg_batch_add(b, &msgs[i], NULL), CF_OK);
    cf_msg_frame_t w[CF_MSG_FRAMES];
    cf_msg_batch_view(b, w);
    zmsg_t *out = zmsg_new();
    assert_int_equal(zmsg_addmem(out, w[0].data, w[0].len), 0);
    assert_int_equal(zmsg_addmem(out, w[1].data, w[1].len), 0);
    assert_int_equal(zmsg_send(&out, sock), 0);
    cf_msg_batch_destroy(&b);
}

void cf_itest_broker_expect(zsock_t *sock, cf_msg_type_t type, cf_msg_t *m)
{
    cf_err_t rc = cf_itest_broker_recv(sock, CF_ITEST_BROKER_WAIT_MS, m);
    if (rc != CF_OK)
        fail_msg("expected %s, got %s", cf_msg_type_name(type), cf_err_name(rc));
    if (m->type != type)
        fail_msg("expected %s, got %s (%s)", cf_msg_type_name(type), cf_msg_type_name(m->type),
                 m->text);
}

void cf_itest_broker_msg(cf_msg_t *m, cf_msg_type_t type, const char *agent, unsigned seed)
{
    cf_msg_init(m, type);
    snprintf(m->agent, sizeof(m->agent), "%s", agent);
    if (seed)
        snprintf(m->job_id, sizeof(m->job_id), "%032x", seed);
    if (type == CF_MSG_HELLO) {
        m->proto = 1;
        snprintf(m->text, sizeof(m->text), "itest-agent");
    }
    if (type == CF_MSG_REPORT)
        m->outcome = CF_MSG_INSTALLED;
    if (type == CF_MSG_ACK)
        m->ack_of = CF_MSG_REPORT;
}

/* GET /metrics into buf (HTTP/1.0, read to close). */
static int s_get_page(int port, char *buf, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
    size_t used = 0;
    if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0 &&
        write(fd, req, sizeof(req) - 1) == (ssize_t) (sizeof(req) - 1)) {
        ssize_t r;
        while (used + 1 < cap && (r = read(fd, buf + used, cap - used - 1)) > 0)
            used += (size_t) r;
    }
    close(fd);
    buf[used] = '\0';
    return strncmp(buf, "HTTP/1.", 7) == 0 && strstr(buf, " 200 ") ? 0 : -1;
}

long cf_itest_broker_metric(const cf_itest_broker_t *b, const char *line)
{
    static char page[S_PAGE_MAX];
    if (s_get_page(b->metrics_port, page, sizeof(page)) != 0)
        return -1;
    size_t len = strlen(line);
    for (const char *p = strstr(page, "\n"); p; p = strstr(p + 1, "\n"))
        if (strncmp(p + 1, line, len) == 0 && p[1 + len] == ' ')
            return strtol(p + 2 + len, NULL, 10);
    return -1;
}

typedef struct {
    const cf_itest_broker_t *b; /* the broker */
    const char *line;           /* the metric */
    long min;                   /* the value to reach */
} s_metric_wait_t;

static int s_metric_reached(void *arg)
{
    s_metric_wait_t *w = arg;
    return cf_itest_broker_metric(w->b, w->line) >= w->min;
}

int cf_itest_broker_metric_wait(const cf_itest_broker_t *b, const char *line, long min)
{
    s_metric_wait_t w = {b, line, min};
    return cf_test_wait_until(s_metric_reached, &w, CF_ITEST_BROKER_WAIT_MS);
}

void cf_itest_broker_server_ready(const cf_itest_broker_t *b, zsock_t *server, long want)
{
    cf_msg_t m;
    cf_msg_init(&m, CF_MSG_BROADCAST);
    assert_int_equal(cf_msg_add_target(&m, "nobody-here"), CF_OK);
    cf_itest_broker_send(server, &m);
    cf_msg_clear(&m);
    assert_true(cf_itest_broker_metric_wait(b, "cf_broker_connected_servers", want));
}

void cf_itest_broker_agent_ready(const cf_itest_broker_t *b, zsock_t *agent, const char *id,
                                 long want, zsock_t **servers, size_t n)
{
    cf_msg_t m;
    cf_itest_broker_msg(&m, CF_MSG_HELLO, id, 0);
    cf_itest_broker_send(agent, &m);
    if (n == 0) { /* no server: the broker answers ERROR internal */
        cf_itest_broker_expect(agent, CF_MSG_ERROR, &m);
        assert_int_equal(m.error, CF_MSG_ERR_INTERNAL);
    } else {
        zmq_pollitem_t items[8];
        CF_ASSERT(n <= 8);
        for (size_t i = 0; i < n; i++)
            items[i] = (zmq_pollitem_t){zsock_resolve(servers[i]), 0, ZMQ_POLLIN, 0};
        assert_true(zmq_poll(items, (int) n, CF_ITEST_BROKER_WAIT_MS) > 0);
        for (size_t i = 0; i < n; i++)
            if (items[i].revents & ZMQ_POLLIN) {
                cf_itest_broker_expect(servers[i], CF_MSG_HELLO, &m);
                assert_string_equal(m.agent, id);
                break;
            }
    }
    cf_msg_clear(&m);
    assert_true(cf_itest_broker_metric_wait(b, "cf_broker_connected_agents", want));
}
