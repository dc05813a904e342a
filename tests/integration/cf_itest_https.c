/*  cf_itest_https - certificates as PEM files, and the independent peers curl and s_client  */
#include "cf_itest_https.h"

#include "cf_test.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_itest.h"
#include "cf_mem.h"

void cf_itest_cert_write(cf_ca_t *ca, const cf_issue_t *req, const char *dir, const char *name,
                         cf_itest_cert_t *out)
{
    memset(out, 0, sizeof(*out));
    cf_cert_t *cert = NULL;
    char *key_pem = NULL;
    size_t key_len = 0;
    assert_int_equal(cf_ca_issue(ca, req, &cert, &out->key_obj), CF_OK);
    assert_int_equal(cf_cert_to_pem(cert, &out->pem_text, &out->pem_len), CF_OK);
    assert_int_equal(cf_key_to_pem(out->key_obj, NULL, &key_pem, &key_len), CF_OK);
    snprintf(out->pem, sizeof(out->pem), "%s/%s.pem", dir, name);
    snprintf(out->key, sizeof(out->key), "%s/%s.key", dir, name);
    cf_test_write_file(out->pem, out->pem_text, out->pem_len);
    cf_test_write_file(out->key, key_pem, key_len);
    cf_mem_free_secret(key_pem, key_len);
    snprintf(out->fp, sizeof(out->fp), "%s", cf_cert_fingerprint(cert));
    snprintf(out->serial, sizeof(out->serial), "%s", cf_cert_serial(cert));
    const char *agent = cf_cert_agent_id(cert);
    snprintf(out->agent, sizeof(out->agent), "%s", agent ? agent : "");
    cf_cert_destroy(&cert);
}

void cf_itest_cert_free(cf_itest_cert_t *c)
{
    cf_mem_free(c->pem_text);
    c->pem_text = NULL;
    cf_key_destroy(&c->key_obj);
}

void cf_itest_ca_write(const cf_ca_t *ca, const char *path)
{
    char *pem = NULL;
    size_t len = 0;
    assert_int_equal(cf_cert_to_pem(cf_ca_cert(ca), &pem, &len), CF_OK);
    cf_test_write_file(path, pem, len);
    cf_mem_free(pem);
}

/* Read dir/name into buf (cut to len, NUL-terminated); "" when missing. */
static void s_slurp(const char *dir, const char *name, char *buf, size_t len)
{
    if (!buf || len == 0)
        return;
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    buf[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
}

int cf_itest_curl(const char *dir, const char *args, char *body, size_t len)
{
    cf_test_sh("cd '%s' && rm -f curl.body curl.code && curl -sS --max-time 10 -o curl.body "
               "-w '%%{http_code}' %s >curl.code 2>curl.err",
               dir, args);
    char code[16];
    s_slurp(dir, "curl.code", code, sizeof(code));
    s_slurp(dir, "curl.body", body, len);
    return atoi(code);
}

int cf_itest_sclient(const char *dir, int port, const char *args, char *out, size_t len)
{
    int rc = cf_test_sh("cd '%s' && timeout 10 openssl s_client -connect 127.0.0.1:%d %s "
                        "</dev/null >sclient.out 2>&1",
                        dir, port, args);
    s_slurp(dir, "sclient.out", out, len);
    return rc;
}

void cf_itest_server_fp(const char *dir, int port, char *fp)
{
    fp[0] = '\0';
    if (cf_test_sh("cd '%s' && timeout 10 openssl s_client -connect 127.0.0.1:%d -CAfile ca.pem "
                   "-cert console.pem -key console.key </dev/null 2>/dev/null | openssl x509 "
                   "-noout -fingerprint -sha256 >fp.out 2>&1",
                   dir, port) != 0)
        return;
    char line[256];
    s_slurp(dir, "fp.out", line, sizeof(line));
    const char *p = strchr(line, '=');
    size_t n = 0;
    for (p = p ? p + 1 : line; *p && n < 64; p++) {
        if (isxdigit((unsigned char) *p))
            fp[n++] = (char) tolower((unsigned char) *p);
    }
    fp[n] = '\0';
}

/* What on_refused saw (written on worker threads). */
typedef struct {
    pthread_mutex_t lock;         /* guards the rest */
    int count;                    /* refusals reported */
    cf_https_reason_t reason;     /* the last one's */
    char fp[65];                  /* its certificate's fingerprint, "" when none */
    char addr[CF_HTTPS_ADDR_MAX]; /* its peer address */
} s_refusals_t;

static void s_on_refused(void *arg, const cf_https_refusal_t *r)
{
    s_refusals_t *rf = arg;
    pthread_mutex_lock(&rf->lock);
    rf->count++;
    rf->reason = r->reason;
    snprintf(rf->fp, sizeof(rf->fp), "%s", r->fingerprint ? r->fingerprint : "");
    snprintf(rf->addr, sizeof(rf->addr), "%s", r->addr);
    pthread_mutex_unlock(&rf->lock);
}

int cf_itest_https_refusals(const cf_itest_https_t *s)
{
    s_refusals_t *rf = s->refused;
    pthread_mutex_lock(&rf->lock);
    int n = rf->count;
    pthread_mutex_unlock(&rf->lock);
    return n;
}

typedef struct {
    const cf_itest_https_t *s; /* the fixture */
    int before;                /* count to exceed */
} s_wait_t;

static int s_refused_since(void *arg)
{
    const s_wait_t *w = arg;
    return cf_itest_https_refusals(w->s) > w->before;
}

void cf_itest_https_expect_refusal(const cf_itest_https_t *s, int before, cf_https_reason_t why,
                                   const char *fp)
{
    s_wait_t w = {s, before};
    assert_true(cf_test_wait_until(s_refused_since, &w, 5000));
    s_refusals_t *rf = s->refused;
    pthread_mutex_lock(&rf->lock);
    cf_https_reason_t got = rf->reason;
    char got_fp[65], addr[CF_HTTPS_ADDR_MAX];
    snprintf(got_fp, sizeof(got_fp), "%s", rf->fp);
    snprintf(addr, sizeof(addr), "%s", rf->addr);
    pthread_mutex_unlock(&rf->lock);
    assert_string_equal(cf_https_reason_name(got), cf_https_reason_name(why));
    assert_string_equal(got_fp, fp ? fp : "");
    assert_string_equal(addr, "127.0.0.1");
}

/* GET /api/v1/health: who the transport says we are. */
static void s_health(cf_req_t *req, void *app)
{
    (void) app;
    const cf_https_peer_t *p = cf_req_peer(req);
    cf_req_reply_json(req, 200,
                      json_pack("{s:s,s:s,s:s?,s:s?,s:s?}", "tls",
                                p->tls_version ? p->tls_version : "none", "client_cert",
                                p->cert ? cf_component_name(p->component) : "none", "agent",
                                p->agent_id, "fp", p->fingerprint, "serial", p->serial));
}

static void s_checkin(cf_req_t *req, void *app)
{
    (void) app;
    json_t *id = json_object_get(cf_req_json(req), "id");
    if (!json_is_string(id)) {
        cf_req_reply_error(req, 400, "invalid_request", "id is required");
        return;
    }
    cf_req_reply_json(req, 200,
                      json_pack("{s:O,s:s}", "id", id, "seen_addr", cf_req_peer(req)->addr));
}

static void s_admin(cf_req_t *req, void *app)
{
    (void) app;
    cf_req_reply_json(req, 200, json_pack("{s:s}", "user", cf_req_session(req)->user));
}

static void s_agent(cf_req_t *req, void *app)
{
    (void) app;
    const char *limit = cf_req_query(req, "limit");
    cf_req_reply_json(req, 200,
                      json_pack("{s:s,s:s?}", "id", cf_req_param(req, "id"), "limit", limit));
}

static void s_busy(cf_req_t *req, void *app)
{
    (void) app;
    cf_err_t bad = cf_req_set_header(req, "X-Bad", "a\r\nInjected: 1");
    if (cf_req_set_header(req, "Retry-After", "7") != CF_OK || bad != CF_ERR_INVALID) {
        cf_req_reply_error(req, 500, "internal", "header checks failed");
        return;
    }
    cf_req_reply_error(req, 503, "busy", "try again in %d s", 7);
}

static const cf_route_t s_routes[] = {
    {"GET", "/api/v1/health", CF_ACCESS_PUBLIC, s_health, 0, 0},
    {"POST", "/api/v1/agent/checkin", CF_ACCESS_AGENT, s_checkin, CF_ROUTE_JSON, 0},
    {"GET", "/api/v1/admin", CF_ACCESS_ADMIN, s_admin, 0, 0},
    {"GET", "/api/v1/agents/:id", CF_ACCESS_VIEWER, s_agent, 0, 0},
    {"POST", "/api/v1/busy", CF_ACCESS_PUBLIC, s_busy, CF_ROUTE_JSON, 0},
};

static cf_err_t s_auth(void *app, const char *token, cf_session_t *out)
{
    (void) app;
    if (strcmp(token, "down") == 0)
        return CF_ERR_IO;
    cf_role_t role = CF_ROLE_NONE;
    if (strcmp(token, "admin-token") == 0)
        role = CF_ROLE_ADMIN;
    else if (strcmp(token, "viewer-token") == 0)
        role = CF_ROLE_VIEWER;
    if (role == CF_ROLE_NONE)
        return CF_ERR_NOTFOUND;
    snprintf(out->user, sizeof(out->user), "%s", cf_role_name(role));
    out->role = role;
    out->expires = time(NULL) + 600;
    return CF_OK;
}

cf_https_tls_t cf_itest_https_tls(const cf_itest_https_t *s, const cf_itest_cert_t *srv,
                                  cf_tls_version_t min, const char *const *revoked, size_t n)
{
    return (cf_https_tls_t){
        srv->pem_text, srv->pem_len, srv->key_obj, s->ca_pem, s->ca_len, revoked, n, min};
}

static void s_make_pki(cf_itest_https_t *s)
{
    static const char *const ips[] = {"127.0.0.1"};
    assert_int_equal(cf_ca_create(NULL, &s->ca), CF_OK);
    cf_issue_t srv = {
        .component = CF_COMPONENT_SERVER, .name = "localhost", .ips = ips, .n_ips = 1};
    cf_itest_cert_write(s->ca, &srv, s->dir, "srv", &s->srv);
    cf_itest_cert_write(s->ca, &srv, s->dir, "srv2", &s->srv2);
    cf_issue_t console = {.component = CF_COMPONENT_CONSOLE, .name = "console"};
    cf_itest_cert_write(s->ca, &console, s->dir, "console", &s->console);
    cf_issue_t agent = {.component = CF_COMPONENT_AGENT, .name = "agent-7"};
    cf_itest_cert_write(s->ca, &agent, s->dir, "agent", &s->agent);
    agent.name = "agent-8";
    cf_itest_cert_write(s->ca, &agent, s->dir, "agent8", &s->agent8);
    /* valid for ten minutes, two hours ago */
    cf_issue_t old = {.component = CF_COMPONENT_AGENT,
                      .name = "agent-old",
                      .seconds = 600,
                      .now = time(NULL) - 7200};
    cf_itest_cert_write(s->ca, &old, s->dir, "expired", &s->expired);
    cf_ca_t *other = NULL;
    cf_ca_opts_t opts = {.name = "another CA"};
    assert_int_equal(cf_ca_create(&opts, &other), CF_OK);
    agent.name = "agent-9";
    cf_itest_cert_write(other, &agent, s->dir, "foreign", &s->foreign);
    cf_ca_destroy(&other);
    char path[600];
    snprintf(path, sizeof(path), "%s/ca.pem", s->dir);
    cf_itest_ca_write(s->ca, path);
    s->ca_pem = cf_test_read_file(path, &s->ca_len);
}

void cf_itest_https_start(cf_itest_https_t *s)
{
    memset(s, 0, sizeof(*s));
    cf_test_tmpdir("test_https", s->dir, sizeof(s->dir));
    s_refusals_t *rf = calloc(1, sizeof(*rf));
    assert_non_null(rf);
    pthread_mutex_init(&rf->lock, NULL);
    s->refused = rf;
    s_make_pki(s);
    cf_router_cfg_t rcfg = {s_auth, NULL, 1, NULL};
    cf_why_t why = {{0}};
    assert_int_equal(
        cf_router_new(s_routes, sizeof(s_routes) / sizeof(s_routes[0]), &rcfg, &s->router, &why),
        CF_OK);
    s->port = cf_itest_free_port();
    s->plain = cf_itest_free_port();
    cf_https_cfg_t cfg = {.address = "127.0.0.1",
                          .port = s->port,
                          .plain_port = s->plain,
                          .threads = 2,
                          .on_request = cf_router_serve,
                          .request_arg = s->router,
                          .on_refused = s_on_refused,
                          .refused_arg = rf};
    cf_https_tls_t tls = cf_itest_https_tls(s, &s->srv, 0, NULL, 0);
    if (cf_https_new(&cfg, &tls, &s->https, &why) != CF_OK)
        fail_msg("cf_https_new: %s", why.text);
    assert_int_equal(cf_https_start(s->https), CF_OK);
    assert_int_equal(cf_https_start(s->https), CF_ERR_STATE);
    assert_int_equal(cf_itest_wait_port("127.0.0.1", s->port, 5000), CF_OK);
}

void cf_itest_https_stop(cf_itest_https_t *s)
{
    cf_https_destroy(&s->https);
    cf_router_destroy(&s->router);
    cf_itest_cert_t *all[] = {&s->srv,    &s->srv2,    &s->console, &s->agent,
                              &s->agent8, &s->expired, &s->foreign};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        cf_itest_cert_free(all[i]);
    cf_ca_destroy(&s->ca);
    free(s->ca_pem);
    s->ca_pem = NULL;
    if (s->refused) {
        pthread_mutex_destroy(&((s_refusals_t *) s->refused)->lock);
        free(s->refused);
        s->refused = NULL;
    }
}

int cf_itest_https_curl(const cf_itest_https_t *s, const cf_itest_cert_t *cert, const char *extra,
                        const char *path, char *body)
{
    char args[2048];
    snprintf(args, sizeof(args), "--cacert ca.pem %s%s%s%s %s 'https://127.0.0.1:%d%s'",
             cert ? "--cert " : "", cert ? cert->pem : "", cert ? " --key " : "",
             cert ? cert->key : "", extra ? extra : "", s->port, path);
    return cf_itest_curl(s->dir, args, body, CF_ITEST_BODY);
}

int cf_itest_https_plain(const cf_itest_https_t *s, const char *extra, const char *path, char *body)
{
    char args[1024];
    snprintf(args, sizeof(args), "%s 'http://127.0.0.1:%d%s'", extra ? extra : "", s->plain, path);
    return cf_itest_curl(s->dir, args, body, CF_ITEST_BODY);
}
