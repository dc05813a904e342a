/*  bench_fanout_env - bench_fanout's set-up: redis-server, cf-broker, cf-server --init
    --broker and cf-agent-sim processes on loopback, an admin session, and the clean-up  */
#ifndef BENCH_FANOUT_ENV_H_INCLUDED
#define BENCH_FANOUT_ENV_H_INCLUDED

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "bench_fanout_bare.h"
#include "bench_fanout_sim.h"
#include "cf_db_meta.h"
#include "cf_itest.h"
#include "cf_itest_https.h"
#include "cf_itest_server.h"
#include "cf_seal.h"

#define BF_ALIAS           "bench"
#define BF_PREFIX          "bench-"
#define BF_PASS            "bench-admin-pass"
#define BF_PER_PROC        5000 /* agents per simulator process (2 descriptors each, 20,000 files) */
#define BF_PER_PROC_MAX    9000     /* the most one simulator process holds under 20,000 files */
#define BF_GOAL_FAN        0.8      /* fan-out: >= 0.8x the bare ROUTER */
#define BF_GOAL_REP        1.0      /* reports: >= the unbatched floor */
#define BF_CONNECT_MS      600000.0 /* a busy machine takes long for thousands of handshakes */
#define BF_IO_THREADS_TEXT "64"     /* the bare ROUTER's I/O threads (the reference's) */
#define BF_BODY            8192

typedef struct {
    char dir[512], bin[600];            /* work directory, build directory */
    cf_itest_redis_t redis;             /* redis-server */
    pid_t broker;                       /* cf-broker */
    int metrics_port;                   /* its metrics page */
    char brokerlog[600];                /* its log */
    char agents_ep[64], servers_ep[64]; /* its endpoints */
    cf_curve_keypair_t bkp;             /* its keys (the bare ROUTER takes them over) */
    cf_itest_server_t srv;              /* cf-server --broker */
    cf_store_t *store;                  /* our Redis connection */
    cf_seal_t *seal;                    /* the deployment secret */
    size_t n, procs;                    /* agents, simulator processes */
    pid_t sims[BF_SIM_MAX];             /* cf-agent-sim */
    char simlog[BF_SIM_MAX][600];       /* their logs */
    size_t sim_n[BF_SIM_MAX];           /* agents each */
    size_t holds;                       /* SIGRTMINs sent to the simulators (bf_hold) */
    char token[512];                    /* admin session */
    const char *type;                   /* job type */
    const char *resend_ms;              /* the simulators' --resend-ms */
    const char *rate;                   /* their --online-rate (agents/s each) */
    const char *io_threads;             /* cf-broker --io-threads, "0": its default */
} bf_env_t;

static int bf_fail(const char *what, const bf_env_t *e)
{
    fprintf(stderr, "bench_fanout: %s (logs in %s)\n", what, e->dir);
    return -1;
}

static cf_store_t *bf_store(int port)
{
    cf_store_cfg_t cfg;
    cf_store_cfg_init(&cfg);
    char addr[32];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    cf_store_t *s = NULL;
    if (cf_store_cfg_parse_redis(&cfg, addr, NULL) != CF_OK || cf_store_new(&cfg, &s, NULL))
        return NULL;
    return s;
}

/* curl to the server with the admin session; status, answer in out (BF_BODY bytes). */
static int bf_call(const bf_env_t *e, const char *method, const char *path, const char *body,
                   char *out)
{
    char args[2048], h[700] = "";
    if (e->token[0])
        snprintf(h, sizeof(h), "-H 'Authorization: Bearer %s' ", e->token);
    snprintf(args, sizeof(args),
             "--cacert ca.pem --resolve " BF_ALIAS ":%d:127.0.0.1 -X %s %s-H 'Content-Type: "
             "application/json' -d '%s' 'https://" BF_ALIAS ":%d%s'",
             e->srv.port, method, h, body, e->srv.port, path);
    return cf_itest_curl(e->dir, args, out, BF_BODY);
}

/* An answer's body, cut at BF_BODY - 1 bytes. */
typedef struct {
    char *buf;  /* BF_BODY bytes */
    size_t len; /* bytes in it */
} bf_body_t;

static size_t bf_body_add(char *data, size_t size, size_t n, void *arg)
{
    bf_body_t *b = arg;
    size_t room = BF_BODY - 1 - b->len, k = size * n < room ? size * n : room;
    memcpy(b->buf + b->len, data, k);
    b->len += k;
    b->buf[b->len] = '\0';
    return size * n;
}

/* POST body to path with the admin session from this process (libcurl; a new TLS
   connection, as a console command makes): the HTTP status (-1: no answer), the answer in
   out (BF_BODY bytes). bf_call spawns sh and curl: about 16 ms of fork, exec and loading
   that would count in a timed window before the request even leaves. */
static long bf_post_direct(const bf_env_t *e, const char *path, const char *body, char *out)
{
    char url[300], map[100], auth[700], ca[700];
    snprintf(url, sizeof(url), "https://" BF_ALIAS ":%d%s", e->srv.port, path);
    snprintf(map, sizeof(map), BF_ALIAS ":%d:127.0.0.1", e->srv.port);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", e->token);
    snprintf(ca, sizeof(ca), "%s/ca.pem", e->dir);
    bf_body_t b = {out, 0};
    out[0] = '\0';
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    struct curl_slist *h2 = h ? curl_slist_append(h, auth) : NULL;
    struct curl_slist *r = curl_slist_append(NULL, map);
    long status = -1;
    int bad = !c || !h2 || !r;
    h = h2 ? h2 : h;
    bad |= !bad && curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK;
    bad |= !bad && curl_easy_setopt(c, CURLOPT_RESOLVE, r) != CURLE_OK;
    bad |= !bad && curl_easy_setopt(c, CURLOPT_HTTPHEADER, h) != CURLE_OK;
    bad |= !bad && curl_easy_setopt(c, CURLOPT_CAINFO, ca) != CURLE_OK;
    bad |= !bad && curl_easy_setopt(c, CURLOPT_POSTFIELDS, body) != CURLE_OK;
    bad |= !bad && curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, bf_body_add) != CURLE_OK;
    bad |= !bad && curl_easy_setopt(c, CURLOPT_WRITEDATA, &b) != CURLE_OK;
    bad |= !bad && curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    bad |= !bad && curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long) BF_WAIT_MS) != CURLE_OK;
    if (!bad && curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(r);
    curl_slist_free_all(h);
    if (c)
        curl_easy_cleanup(c);
    return status;
}

/* The string at key of the JSON text into out. */
static int bf_json_str(const char *text, const char *key, char *out, size_t len)
{
    json_t *j = json_loads(text, 0, NULL);
    const char *v = json_string_value(json_object_get(j, key));
    snprintf(out, len, "%s", v ? v : "");
    json_decref(j);
    return v ? 0 : -1;
}

/* BF_LOG_LEVEL (debug, info, ...) for cf-broker and cf-server, else dflt. */
static const char *bf_log_level(const char *dflt)
{
    const char *env = getenv("BF_LOG_LEVEL");
    return env && *env ? env : dflt;
}

static int bf_broker_start(bf_env_t *e)
{
    char cmd[2000], key[700], redis[32], metrics[16], io[16];
    snprintf(io, sizeof(io), "%s", e->io_threads);
    snprintf(cmd, sizeof(cmd),
             "%s/broker/cf-broker --keygen --out %s --agents-bind %s >%s/keygen.out", e->bin,
             e->dir, e->agents_ep, e->dir);
    snprintf(key, sizeof(key), "%s/broker.key_secret", e->dir);
    if (system(cmd) != 0 || cf_curve_keypair_load(key, &e->bkp, NULL) != CF_OK)
        return bf_fail("cf-broker --keygen failed", e);
    snprintf(cmd, sizeof(cmd), "%s/broker/cf-broker", e->bin);
    snprintf(redis, sizeof(redis), "127.0.0.1:%d", e->redis.port);
    e->metrics_port = cf_itest_free_port();
    snprintf(metrics, sizeof(metrics), "%d", e->metrics_port);
    char *argv[] = {cmd,
                    "--key-file",
                    key,
                    "--redis",
                    redis,
                    "--agents-bind",
                    e->agents_ep,
                    "--servers-bind",
                    e->servers_ep,
                    "--metrics-port",
                    metrics,
                    "--log-level",
                    (char *) bf_log_level("warn"),
                    strcmp(io, "0") ? "--io-threads" : NULL,
                    io,
                    NULL};
    snprintf(e->brokerlog, sizeof(e->brokerlog), "%s/broker.log", e->dir);
    if (cf_itest_spawn(argv, e->brokerlog, &e->broker) != CF_OK ||
        cf_itest_wait_port("127.0.0.1", atoi(metrics), 10000) != CF_OK)
        return bf_fail("cf-broker did not start", e);
    return 0;
}

static int bf_server_start(bf_env_t *e)
{
    char path[700], pass[700], broker[CF_CURVE_TEXT_MAX + 1];
    snprintf(path, sizeof(path), "%s/secret", e->dir);
    snprintf(pass, sizeof(pass), "%s/admin.pass", e->dir);
    FILE *f = fopen(pass, "w");
    if (!f || fchmod(fileno(f), 0600) != 0 || fputs(BF_PASS, f) < 0 || fclose(f) != 0)
        return bf_fail("cannot write admin.pass", e);
    cf_curve_broker_t b;
    snprintf(b.endpoint, sizeof(b.endpoint), "%s", e->servers_ep);
    memcpy(b.pub, e->bkp.pub, sizeof(b.pub));
    if (cf_seal_generate_file(path, "bench-1", NULL) != CF_OK ||
        cf_seal_load_file(path, 0, &e->seal, NULL) != CF_OK ||
        cf_curve_broker_format(&b, broker, sizeof(broker)) != CF_OK)
        return bf_fail("cannot make the deployment secret", e);
    const char *extra[] = {"--init",      "--admin-password-file", pass, "--broker", broker,
                           "--log-level", bf_log_level("info"),    NULL};
    if (cf_itest_server_start(&e->srv, e->dir, e->redis.port, BF_ALIAS, extra) != CF_OK)
        return bf_fail("cf-server did not start", e);
    cf_cert_t *cert = NULL;
    cf_key_t *key = NULL;
    char *pem = NULL;
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/ca.pem", e->dir);
    int ok = cf_db_ca_get(e->store, e->seal, &cert, &key) == CF_OK &&
             cf_cert_to_pem(cert, &pem, &len) == CF_OK && (f = fopen(path, "w")) != NULL;
    ok = ok && fwrite(pem, 1, len, f) == len && fclose(f) == 0;
    cf_mem_free(pem);
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
    if (!ok || !cf_itest_server_log_wait(&e->srv, "broker link up", 30000))
        return bf_fail("no CA in Redis, or the server's broker link did not come up", e);
    return 0;
}

static int bf_sims_start(bf_env_t *e)
{
    char bin[700], count[16], first[16], redis[32], ca[700], broker[CF_CURVE_TEXT_MAX + 1];
    cf_curve_broker_t b;
    snprintf(b.endpoint, sizeof(b.endpoint), "%s", e->agents_ep);
    memcpy(b.pub, e->bkp.pub, sizeof(b.pub));
    if (cf_curve_broker_format(&b, broker, sizeof(broker)) != CF_OK)
        return -1;
    snprintf(bin, sizeof(bin), "%s/agent/cf-agent-sim", e->bin);
    snprintf(redis, sizeof(redis), "127.0.0.1:%d", e->redis.port);
    snprintf(ca, sizeof(ca), "%s/ca.pem", e->dir);
    size_t at = 0;
    for (size_t k = 0; k < e->procs; k++) {
        e->sim_n[k] = e->n / e->procs + (k < e->n % e->procs);
        snprintf(count, sizeof(count), "%zu", e->sim_n[k]);
        snprintf(first, sizeof(first), "%zu", at);
        at += e->sim_n[k];
        snprintf(e->simlog[k], sizeof(e->simlog[k]), "%s/sim-%zu.log", e->dir, k);
        char *argv[] = {bin,
                        "--count",
                        count,
                        "--first",
                        first,
                        "--prefix",
                        BF_PREFIX,
                        "--broker",
                        broker,
                        "--ca",
                        ca,
                        "--redis",
                        redis,
                        "--server-alias",
                        BF_ALIAS,
                        "--online-after-keys",
                        "--stats-ms",
                        "5",
                        "--online-rate",
                        (char *) e->rate,
                        "--resend-ms",
                        (char *) e->resend_ms,
                        NULL};
        if (cf_itest_spawn(argv, e->simlog[k], &e->sims[k]) != CF_OK)
            return bf_fail("cf-agent-sim did not start", e);
    }
    return 0;
}

/* Sum over the simulators of their last stats lines. */
static bf_stats_t bf_sum(const bf_env_t *e)
{
    bf_stats_t t;
    memset(&t, 0, sizeof(t));
    for (size_t k = 0; k < e->procs; k++) {
        bf_stats_t s = bf_last(e->simlog[k]);
        t.up += s.up;
        t.jobs += s.jobs;
        t.receipts += s.receipts;
        t.reports += s.reports;
        t.r_resend += s.r_resend;
        t.p_resend += s.p_resend;
        t.acks_rep += s.acks_rep;
        t.failed += s.failed;
    }
    return t;
}

/* Wait until field (an offset into bf_stats_t) summed over the simulators reaches want. */
static int bf_wait_sum(const bf_env_t *e, size_t off, unsigned long long want, double wait_ms)
{
    for (double end = bf_now_ms() + wait_ms; bf_now_ms() < end; bf_sleep_ms(20)) {
        bf_stats_t t = bf_sum(e);
        if (*(unsigned long long *) ((char *) &t + off) >= want)
            return 0;
    }
    return -1;
}

static int bf_env_start(bf_env_t *e)
{
    snprintf(e->dir, sizeof(e->dir), "/tmp/bench_fanout.XXXXXX");
    if (!mkdtemp(e->dir))
        return -1;
    setenv("CF_TEST_TMP", e->dir, 1);
    if (cf_itest_redis_start(&e->redis, NULL) != CF_OK || !(e->store = bf_store(e->redis.port)))
        return bf_fail("redis-server did not start", e);
    snprintf(e->agents_ep, sizeof(e->agents_ep), "tcp://127.0.0.1:%d", cf_itest_free_port());
    snprintf(e->servers_ep, sizeof(e->servers_ep), "tcp://127.0.0.1:%d", cf_itest_free_port());
    if (bf_broker_start(e) || bf_server_start(e) || bf_sims_start(e))
        return -1;
    double t0 = bf_now_ms();
    if (bf_wait_sum(e, offsetof(bf_stats_t, up), e->n, BF_CONNECT_MS) != 0)
        return bf_fail("the simulated agents did not all connect", e);
    printf("   %zu agents registered and connected in %.1f s\n", e->n, (bf_now_ms() - t0) / 1e3);
    char out[BF_BODY];
    if (bf_call(e, "POST", "/api/v1/login", "{\"user\":\"admin\",\"password\":\"" BF_PASS "\"}",
                out) != 200 ||
        bf_json_str(out, "token", e->token, sizeof(e->token)) != 0)
        return bf_fail("no admin session", e);
    return 0;
}

static void bf_env_stop(bf_env_t *e, int keep)
{
    for (size_t k = 0; k < e->procs; k++)
        if (e->sims[k] && cf_itest_kill(e->sims[k], SIGTERM) != CF_OK)
            fprintf(stderr, "bench_fanout: simulator %zu was gone\n", k);
    if (e->broker && cf_itest_kill(e->broker, SIGTERM) != CF_OK)
        fprintf(stderr, "bench_fanout: cf-broker was gone\n");
    cf_itest_server_stop(&e->srv, SIGTERM);
    cf_itest_redis_stop(&e->redis);
    cf_store_destroy(&e->store);
    cf_seal_destroy(&e->seal);
    cf_curve_keypair_wipe(&e->bkp);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
    if (!keep && system(cmd) != 0)
        fprintf(stderr, "bench_fanout: could not remove %s\n", e->dir);
}

/* CPU time (user + system) of the processes in a run, ms. */
typedef struct {
    double server, broker, redis, agents, self; /* self: the benchmark (the bare ROUTER) */
} bf_cpu_t;

/* CPU ms a process used so far (/proc/PID/stat utime + stime); 0 when it is gone. */
static double bf_cpu_ms(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
    FILE *f = pid > 0 ? fopen(path, "r") : NULL;
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the name may hold spaces */
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return (double) (ut + st) * 1e3 / (double) sysconf(_SC_CLK_TCK);
}

static bf_cpu_t bf_cpu(const bf_env_t *e)
{
    bf_cpu_t c = {bf_cpu_ms(e->srv.pid), bf_cpu_ms(e->broker), bf_cpu_ms(e->redis.pid), 0,
                  bf_cpu_ms(getpid())};
    for (size_t k = 0; k < e->procs; k++)
        c.agents += bf_cpu_ms(e->sims[k]);
    return c;
}

static bf_cpu_t bf_cpu_since(const bf_env_t *e, const bf_cpu_t *c0)
{
    bf_cpu_t c = bf_cpu(e);
    c.server -= c0->server;
    c.broker = e->broker ? c.broker - c0->broker : 0;
    c.redis -= c0->redis;
    c.agents -= c0->agents;
    c.self -= c0->self;
    return c;
}

static void bf_cpu_print(const char *what, const bf_cpu_t *c, size_t n)
{
    double all = c->server + c->broker + c->redis + c->agents + c->self;
    if (all <= 0)
        return;
    printf("   CPU during the %s: server %.0f ms, broker %.0f ms, redis %.0f ms, agents %.0f ms, "
           "benchmark %.0f ms = %.0f us per agent\n",
           what, c->server, c->broker, c->redis, c->agents, c->self, all * 1e3 / (double) n);
}

#endif
