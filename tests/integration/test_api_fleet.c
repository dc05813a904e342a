/*  test_api_fleet - the fleet API end to end: two cf-server processes on one redis-server,
    driven with curl: SSL configuration and the migration switch, servers, agents, check-ins  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cf_db_agent.h"
#include "cf_db_archive.h"
#include "cf_db_audit.h"
#include "cf_db_crl.h"
#include "cf_db_meta.h"
#include "cf_db_ssl.h"
#include "cf_itest.h"
#include "cf_itest_https.h"
#include "cf_itest_server.h"
#include "cf_mem.h"
#include "cf_seal.h"

#define S_BODY       16384 /* answer bytes kept */
#define S_BULK       150   /* agents of the many-check-ins case, each checking in twice */
#define S_CERTS      50    /* ... of which this many get a certificate for their second one */
#define S_ADMIN_PASS "fleet-admin-pass-1"

static struct {
    char dir[512];              /* certificates, curl files, logs */
    char bin[600];              /* cf-server */
    cf_itest_redis_t redis;     /* the shared Redis */
    cf_itest_server_t a, b;     /* two servers */
    cf_store_t *store;          /* the test's own connection */
    cf_seal_t *seal;            /* the deployment secret */
    cf_ca_t *ca;                /* the CA from Redis, to issue client certificates */
    cf_itest_cert_t console;    /* a console certificate */
    cf_itest_cert_t agent1;     /* agent-1 */
    cf_itest_cert_t old2, new2; /* agent-2: a replaced (archived) and a current one */
    cf_itest_cert_t agent5;     /* agent-5, revoked later */
    cf_itest_cert_t expired;    /* agent-old, expired */
    char token[512];            /* admin session */
} s;

/* ---- helpers ---------------------------------------------------------------------------- */

static void s_issue(const char *id, time_t now, unsigned days, const char *file,
                    cf_itest_cert_t *out)
{
    cf_issue_t req = {0};
    req.component = id ? CF_COMPONENT_AGENT : CF_COMPONENT_CONSOLE;
    req.name = id ? id : "fleet-tester";
    req.now = now;
    req.days = days;
    cf_itest_cert_write(s.ca, &req, s.dir, file, out);
}

/* curl to srv (TLS, or the plain port when plain) as the client cert (NULL: none), with the
   admin token when auth, method, path and JSON body (NULL: none); extra curl arguments. */
static int s_call(const cf_itest_server_t *srv, int plain, const cf_itest_cert_t *cert, int auth,
                  const char *method, const char *path, const char *body, const char *extra,
                  char *out)
{
    char args[4096], c[1400] = "", h[700] = "", d[1200] = "";
    if (cert)
        snprintf(c, sizeof(c), "--cert '%s' --key '%s' ", cert->pem, cert->key);
    if (auth)
        snprintf(h, sizeof(h), "-H 'Authorization: Bearer %s' ", s.token);
    if (body)
        snprintf(d, sizeof(d), "-H 'Content-Type: application/json' -d '%s' ", body);
    if (plain)
        snprintf(args, sizeof(args), "-X %s %s%s %s 'http://127.0.0.1:%d%s'", method, d,
                 extra ? extra : "", h, srv->plain_port, path);
    else
        snprintf(args, sizeof(args),
                 "--cacert ca.pem --resolve %s:%d:127.0.0.1 -X %s %s%s%s %s 'https://%s:%d%s'",
                 srv->alias, srv->port, method, c, h, d, extra ? extra : "", srv->alias, srv->port,
                 path);
    return cf_itest_curl(s.dir, args, out, S_BODY);
}

static int s_get(const cf_itest_server_t *srv, const char *path, char *out)
{
    return s_call(srv, 0, &s.console, 1, "GET", path, NULL, NULL, out);
}

static int s_admin(const cf_itest_server_t *srv, const char *method, const char *path,
                   const char *body, char *out)
{
    return s_call(srv, 0, &s.console, 1, method, path, body, NULL, out);
}

/* A check-in over TLS with cert (NULL: none) from source address from (NULL: any). */
static int s_checkin(const cf_itest_server_t *srv, const cf_itest_cert_t *cert, const char *body,
                     const char *from, char *out)
{
    char extra[64] = "";
    if (from)
        snprintf(extra, sizeof(extra), "--interface %s ", from);
    return s_call(srv, 0, cert, 0, "POST", "/api/v1/agent/checkin", body, extra, out);
}

/* The JSON of text (fails the test when it does not parse); json_decref it. */
static json_t *s_json(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    if (!j)
        fail_msg("not JSON (%s): %s", err.text, text);
    return j;
}

/* The value at path in j (borrowed), NULL when absent. path: '/'-separated steps, each a
   key, an array index, or "@alias" for the element of an array whose "alias" or "id" it
   is: "servers/@srv-b/priority", "agents/0/id". */
static json_t *s_at(json_t *j, const char *path)
{
    char step[128];
    while (j && *path) {
        size_t n = strcspn(path, "/");
        snprintf(step, sizeof(step), "%.*s", (int) n, path);
        path += path[n] ? n + 1 : n;
        if (step[0] == '@') {
            json_t *e = NULL, *hit = NULL;
            size_t i;
            json_array_foreach(j, i, e)
            {
                const char *name = json_string_value(json_object_get(e, "alias"));
                name = name ? name : json_string_value(json_object_get(e, "id"));
                if (name && strcmp(name, step + 1) == 0)
                    hit = e;
            }
            j = hit;
        } else {
            j = json_is_array(j) ? json_array_get(j, strtoul(step, NULL, 10))
                                 : json_object_get(j, step);
        }
    }
    return j;
}

/* The integer at path of the JSON text (fails when there is none). */
static json_int_t s_ji(const char *text, const char *path)
{
    json_t *j = s_json(text);
    json_t *v = s_at(j, path);
    if (!json_is_integer(v))
        fail_msg("no integer at %s in %s", path, text);
    json_int_t r = json_integer_value(v);
    json_decref(j);
    return r;
}

/* The JSON text has want at path: a string, or "null", "true", "false" for those. */
static void s_is(const char *text, const char *path, const char *want)
{
    json_t *j = s_json(text);
    json_t *v = s_at(j, path);
    const char *got = json_is_null(v)    ? "null"
                      : json_is_true(v)  ? "true"
                      : json_is_false(v) ? "false"
                                         : json_string_value(v);
    if (!got || strcmp(got, want) != 0)
        fail_msg("%s is %s, want %s, in %s", path, got ? got : "absent", want, text);
    json_decref(j);
}

/* The JSON text has something at path. */
static int s_has(const char *text, const char *path)
{
    json_t *j = s_json(text);
    int yes = s_at(j, path) != NULL;
    json_decref(j);
    return yes;
}

/* 1 when nothing accepts a TCP connection on 127.0.0.1:port. */
static int s_port_closed(void *arg)
{
    return cf_itest_wait_port("127.0.0.1", *(int *) arg, 0) != CF_OK;
}

/* ---- set-up: Redis, --init on the first server, the second joins ----------------------- */

/* Start srv with priority prio and IP range; --init (with the admin's password) when init;
   then more (NULL-terminated; may be NULL). */
static void s_start(cf_itest_server_t *srv, const char *alias, const char *prio, const char *range,
                    int init, const char *const *more)
{
    char pass[600];
    snprintf(pass, sizeof(pass), "%s/admin.pass", s.dir);
    const char *extra[16] = {"--priority", prio, "--ip-range", range};
    size_t n = 4;
    if (init) {
        extra[n++] = "--init";
        extra[n++] = "--admin-password-file";
        extra[n++] = pass;
    }
    for (size_t i = 0; more && more[i] && n + 1 < 16; i++)
        extra[n++] = more[i];
    if (cf_itest_server_start(srv, s.dir, s.redis.port, alias, extra) != CF_OK)
        fail_msg("%s did not start; see %s", alias, srv->log);
}

static int s_setup(void **state)
{
    (void) state;
    signal(SIGPIPE, SIG_IGN);
    cf_test_tmpdir("test_api_fleet", s.dir, sizeof(s.dir));
    const char *bin = getenv("CF_BIN_DIR");
    snprintf(s.bin, sizeof(s.bin), "%s/server/cf-server", bin && *bin ? bin : ".");
    assert_int_equal(cf_itest_redis_start(&s.redis, NULL), CF_OK);
    char path[600];
    cf_why_t why = {""};
    snprintf(path, sizeof(path), "%s/secret", s.dir);
    assert_int_equal(cf_seal_generate_file(path, "fleet-1", &why), CF_OK);
    assert_int_equal(
        cf_test_sh("cd '%s' && umask 077 && printf '%%s' '" S_ADMIN_PASS "' >admin.pass", s.dir),
        0);
    s_start(&s.a, "srv-a", "10", "127.0.0.0/25", 1, NULL);
    s_start(&s.b, "srv-b", "20", "127.0.0.128-127.0.0.255", 0, NULL);
    s.store = cf_itest_store_at(s.redis.port, NULL);
    /* the CA --init made, opened with the deployment's secret, issues our client certificates */
    cf_cert_t *cert = NULL;
    cf_key_t *key = NULL;
    assert_int_equal(cf_seal_load_file(path, 0, &s.seal, &why), CF_OK);
    assert_int_equal(cf_db_ca_get(s.store, s.seal, &cert, &key), CF_OK);
    assert_int_equal(cf_ca_load(cert, key, &s.ca), CF_OK);
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
    snprintf(path, sizeof(path), "%s/ca.pem", s.dir);
    cf_itest_ca_write(s.ca, path);
    time_t now = time(NULL);
    s_issue(NULL, 0, 30, "console", &s.console);
    s_issue("agent-1", 0, 30, "agent1", &s.agent1);
    s_issue("agent-2", 0, 30, "old2", &s.old2);
    s_issue("agent-2", 0, 30, "new2", &s.new2);
    s_issue("agent-5", 0, 30, "agent5", &s.agent5);
    s_issue("agent-old", now - 3 * 86400, 1, "expired", &s.expired);
    char body[S_BODY];
    if (s_call(&s.a, 0, &s.console, 0, "POST", "/api/v1/login",
               "{\"user\":\"admin\",\"password\":\"" S_ADMIN_PASS "\"}", NULL, body) != 200)
        fail_msg("no admin session (cf-server needs the session routes, served): %s", body);
    json_t *j = s_json(body);
    snprintf(s.token, sizeof(s.token), "%s", json_string_value(json_object_get(j, "token")) ?: "");
    json_decref(j);
    assert_true(s.token[0]);
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    cf_itest_cert_t *c[] = {&s.console, &s.agent1, &s.old2, &s.new2, &s.agent5, &s.expired};
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
        cf_itest_cert_free(c[i]);
    /* stop them as an operator would; the atexit clean-up kills what is left */
    cf_itest_server_stop(&s.a, SIGTERM);
    cf_itest_server_stop(&s.b, SIGTERM);
    cf_ca_destroy(&s.ca);
    cf_seal_destroy(&s.seal);
    cf_store_destroy(&s.store);
    cf_itest_redis_stop(&s.redis);
    return 0;
}

/* ---- cases ------------------------------------------------------------------------------ */

static void test_usage(void **state)
{
    (void) state;
    char body[S_BODY];
    /* the configuration --init wrote, seen through the server that did not write it */
    assert_int_equal(s_get(&s.b, "/api/v1/ssl", body), 200);
    s_is(body, "enabled", "true");
    s_is(body, "allow_plain", "true");
    s_is(body, "min_tls", "1.2");
    assert_int_equal(s_ji(body, "renew_days"), 30);
    assert_true(s_ji(body, "migration/total_agents") >= 0);
    /* both servers registered themselves and heartbeat */
    assert_int_equal(s_get(&s.a, "/api/v1/servers", body), 200);
    assert_int_equal(s_ji(body, "servers/@srv-b/priority"), 20);
    assert_int_equal(s_ji(body, "servers/@srv-b/port"), s.b.port);
    s_is(body, "servers/@srv-b/online", "true");
    s_is(body, "servers/@srv-b/ip_ranges/0", "127.0.0.128/25");
    s_is(body, "servers/@srv-a/online", "true");
    /* an agent checks in with its certificate */
    assert_int_equal(
        s_checkin(&s.a, &s.agent1, "{\"id\":\"agent-1\",\"version\":\"0.1.0\"}", "127.0.0.7", body),
        200);
    s_is(body, "lock", "secure");
    s_is(body, "seen_addr", "127.0.0.7");
    s_is(body, "favorite", "null");
    assert_true(s_ji(body, "interval") > 0);
    s_is(body, "servers/@srv-b/online", "true");
    assert_int_equal(s_ji(body, "servers/@srv-a/priority"), 10);
    s_is(body, "servers/@srv-a/ip_ranges/0", "127.0.0.0/25");
}

/* The state the console sees is Redis's, so either server shows a change made through the
   other at once. */
static void test_change_through_one_seen_through_other(void **state)
{
    (void) state;
    char body[S_BODY];
    assert_int_equal(
        s_admin(&s.a, "PUT", "/api/v1/ssl", "{\"auto_renew\":true,\"renew_days\":12}", body), 200);
    s_is(body, "auto_renew", "true"); /* the answer is the new configuration */
    assert_int_equal(s_get(&s.b, "/api/v1/ssl", body), 200);
    assert_int_equal(s_ji(body, "renew_days"), 12);
    /* a server record added through B, canonical ranges, seen and changed through A */
    assert_int_equal(s_admin(&s.b, "POST", "/api/v1/servers",
                             "{\"alias\":\"srv-c\",\"port\":7443,\"priority\":5,"
                             "\"ip_ranges\":[\"127.0.0.64-127.0.0.95\",\"127.1.2.3/16\"]}",
                             body),
                     201);
    assert_int_equal(s_get(&s.a, "/api/v1/servers", body), 200);
    s_is(body, "servers/@srv-c/online", "false");
    s_is(body, "servers/@srv-c/ip_ranges/0", "127.0.0.64/27");
    s_is(body, "servers/@srv-c/ip_ranges/1", "127.1.0.0/16");
    assert_int_equal(s_admin(&s.a, "PUT", "/api/v1/servers/srv-c", "{\"priority\":-7}", body), 200);
    assert_int_equal(s_get(&s.b, "/api/v1/servers", body), 200);
    assert_int_equal(s_ji(body, "servers/@srv-c/priority"), -7);
    assert_int_equal(s_admin(&s.b, "DELETE", "/api/v1/servers/srv-c", NULL, body), 200);
    assert_int_equal(s_get(&s.a, "/api/v1/servers", body), 200);
    assert_false(s_has(body, "servers/@srv-c"));
    /* every change is in the audit stream, with who did it */
    cf_db_audit_t *ev = NULL;
    size_t n = 0, seen = 0;
    assert_int_equal(cf_db_audit_read(s.store, 0, NULL, CF_DB_AUDIT_READ_MAX, &ev, &n), CF_OK);
    const char *want[] = {"ssl.update", "server.add", "server.update", "server.remove"};
    for (size_t w = 0; w < 4; w++) {
        for (size_t i = 0; i < n && seen == w; i++)
            seen += strcmp(ev[i].what, want[w]) == 0 && strcmp(ev[i].who, "admin") == 0 &&
                    strcmp(ev[i].result, "ok") == 0;
    }
    cf_mem_free(ev);
    assert_int_equal(seen, 4);
}

/* Bad input gets a clear error and changes nothing. */
static void test_bad_input_changes_nothing(void **state)
{
    (void) state;
    char body[S_BODY];
    cf_db_ssl_t before, after;
    assert_int_equal(cf_db_ssl_get(s.store, &before), CF_OK);
    const char *bad[] = {"{\"min_tls\":\"1.4\"}",
                         "{\"renew_days\":0}",
                         "{\"renew_days\":3651}",
                         "{\"allow_plain\":\"no\"}",
                         "{\"alow_plain\":false}",
                         "{}",
                         "{\"enabled\":false,\"renew_days\":\"7\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(s_admin(&s.a, "PUT", "/api/v1/ssl", bad[i], body), 400);
        s_is(body, "error/code", "invalid_request");
    }
    assert_int_equal(cf_db_ssl_get(s.store, &after), CF_OK);
    assert_int_equal(after.version, before.version);
    const char *srv[] = {"{\"port\":7005}",
                         "{\"alias\":\"Bad Alias\"}",
                         "{\"alias\":\"srv-d\",\"ip_ranges\":[\"127.0.0.300\"]}",
                         "{\"alias\":\"srv-d\",\"ip_ranges\":[\"10.0.0.0/8\",\"10.1.0.0/8\"]}",
                         "{\"alias\":\"srv-d\",\"priority\":1000001}",
                         "{\"alias\":\"srv-d\",\"port\":0}",
                         "{\"alias\":\"srv-d\",\"colour\":1}"};
    for (size_t i = 0; i < sizeof(srv) / sizeof(srv[0]); i++)
        assert_int_equal(s_admin(&s.b, "POST", "/api/v1/servers", srv[i], body), 400);
    assert_int_equal(s_admin(&s.b, "POST", "/api/v1/servers", "{\"alias\":\"srv-a\"}", body), 409);
    s_is(body, "error/code", "conflict");
    assert_int_equal(s_admin(&s.b, "PUT", "/api/v1/servers/srv-zz", "{\"priority\":1}", body), 404);
    assert_int_equal(s_admin(&s.b, "PUT", "/api/v1/servers/srv-a", "{\"alias\":\"srv-q\"}", body),
                     400);
    assert_int_equal(s_get(&s.a, "/api/v1/servers", body), 200);
    assert_false(s_has(body, "servers/@srv-d"));
    assert_int_equal(s_ji(body, "servers/@srv-a/priority"), 10);
    assert_int_equal(s_get(&s.a, "/api/v1/agents?limit=0", body), 400);
    assert_int_equal(s_get(&s.a, "/api/v1/agents?lock=green", body), 400);
    assert_int_equal(s_get(&s.a, "/api/v1/agents/nobody", body), 404);
    assert_int_equal(s_checkin(&s.a, NULL, "{\"version\":\"1\"}", NULL, body), 400);
    assert_int_equal(s_checkin(&s.a, NULL, "{\"id\":\"Not An Id\"}", NULL, body), 400);
    assert_int_equal(s_checkin(&s.a, NULL, "{\"id\":7}", NULL, body), 400);
}

static void test_checkin_identity_and_lock_states(void **state)
{
    (void) state;
    char body[S_BODY];
    /* the certificate names the agent: a body naming another is refused */
    assert_int_equal(s_checkin(&s.b, &s.agent1, "{\"id\":\"agent-9\"}", NULL, body), 403);
    s_is(body, "error/code", "forbidden");
    assert_int_equal(s_checkin(&s.b, &s.agent1, "{}", "127.0.0.200", body), 200);
    s_is(body, "lock", "secure");
    s_is(body, "seen_addr", "127.0.0.200");
    /* a valid but replaced certificate: attention; the current one: secure */
    cf_cert_t *old = NULL;
    assert_int_equal(cf_cert_parse(s.old2.pem_text, s.old2.pem_len, &old), CF_OK);
    assert_int_equal(cf_db_archive_add(s.store, CF_COMPONENT_AGENT, "agent-2", old, time(NULL)),
                     CF_OK);
    cf_cert_destroy(&old);
    assert_int_equal(s_checkin(&s.a, &s.old2, "{\"id\":\"agent-2\"}", NULL, body), 200);
    s_is(body, "lock", "attention");
    assert_int_equal(s_get(&s.b, "/api/v1/agents/agent-2", body), 200);
    s_is(body, "lock", "attention");
    s_is(body, "cert_fingerprint", s.old2.fp);
    assert_int_equal(s_checkin(&s.a, &s.new2, "{\"id\":\"agent-2\"}", NULL, body), 200);
    s_is(body, "lock", "secure");
    /* no certificate while allow-plain is on: TLS and the plain listener, both insecure */
    assert_int_equal(s_checkin(&s.a, NULL, "{\"id\":\"agent-3\"}", "127.0.0.9", body), 200);
    s_is(body, "lock", "insecure");
    assert_int_equal(s_call(&s.b, 1, NULL, 0, "POST", "/api/v1/agent/checkin",
                            "{\"id\":\"agent-4\",\"version\":\"0.0.9\"}", "--interface 127.0.0.10",
                            body),
                     200);
    s_is(body, "lock", "insecure");
    s_is(body, "seen_addr", "127.0.0.10");
    /* what the console sees of them, through the other server */
    assert_int_equal(s_get(&s.a, "/api/v1/agents/agent-4", body), 200);
    s_is(body, "server", "srv-b");
    s_is(body, "version", "0.0.9");
    s_is(body, "last_addr", "127.0.0.10");
    s_is(body, "cert_fingerprint", "null");
    assert_int_equal(s_get(&s.b, "/api/v1/agents/agent-1", body), 200);
    s_is(body, "cert_serial", s.agent1.serial);
    s_is(body, "server", "srv-b");
    /* migration readiness lists exactly the agents without a certificate, page by page */
    assert_int_equal(s_get(&s.a, "/api/v1/ssl/insecure?limit=1", body), 200);
    s_is(body, "agents/0/id", "agent-3");
    json_t *j = s_json(body);
    char path[300];
    snprintf(path, sizeof(path), "/api/v1/ssl/insecure?limit=10&cursor=%s",
             json_string_value(json_object_get(j, "cursor")));
    json_decref(j);
    assert_int_equal(s_get(&s.b, path, body), 200);
    s_is(body, "agents/0/id", "agent-4");
    s_is(body, "agents/0/last_addr", "127.0.0.10");
    assert_false(s_has(body, "agents/1"));
    s_is(body, "cursor", "null");
    assert_int_equal(s_get(&s.b, "/api/v1/ssl", body), 200);
    assert_int_equal(s_ji(body, "migration/insecure_agents"), 2);
}

static int s_agent_expired(void *arg)
{
    cf_db_agent_t a;
    return cf_db_agent_get(s.store, arg, &a) == CF_OK && a.lock == CF_DB_LOCK_EXPIRED;
}

/* An expired agent certificate is refused at the handshake, and the agent shows expired. */
static void test_expired_certificate(void **state)
{
    (void) state;
    char body[S_BODY];
    assert_int_equal(s_checkin(&s.a, &s.expired, "{}", "127.0.0.11", body), 0);
    assert_true(cf_test_wait_until(s_agent_expired, "agent-old", 10000));
    /* the refused certificate's expiry is recorded (issued 3 days ago for 1 second) */
    cf_db_agent_t rec;
    assert_int_equal(cf_db_agent_get(s.store, "agent-old", &rec), CF_OK);
    int64_t now = (int64_t) time(NULL);
    assert_in_range(rec.cert_not_after, now - 4 * 86400, now - 2 * 86400);
    assert_int_equal(s_get(&s.b, "/api/v1/agents?lock=expired", body), 200);
    s_is(body, "agents/0/id", "agent-old");
    s_is(body, "agents/0/cert_fingerprint", s.expired.fp);
    s_is(body, "agents/0/last_addr", "127.0.0.11");
    assert_int_equal(s_ji(body, "counts/expired"), 1);
}

/* While allow-plain is on, a client without a certificate reaches the agent routes only. */
static void test_access_during_migration(void **state)
{
    (void) state;
    char body[S_BODY];
    assert_int_equal(s_call(&s.a, 0, NULL, 0, "GET", "/api/v1/users", NULL, NULL, body), 401);
    assert_int_equal(s_call(&s.a, 0, NULL, 0, "GET", "/api/v1/ssl", NULL, NULL, body), 401);
    assert_int_equal(s_call(&s.b, 1, NULL, 1, "GET", "/api/v1/ssl", NULL, NULL, body), 403);
    assert_int_equal(s_call(&s.b, 1, NULL, 0, "POST", "/api/v1/login",
                            "{\"user\":\"admin\",\"password\":\"" S_ADMIN_PASS "\"}", NULL, body),
                     403);
    /* an agent certificate never reaches an admin route, token or not */
    assert_int_equal(
        s_call(&s.a, 0, &s.agent1, 1, "PUT", "/api/v1/ssl", "{\"renew_days\":9}", NULL, body), 403);
    assert_int_equal(s_call(&s.a, 0, &s.agent1, 1, "GET", "/api/v1/agents", NULL, NULL, body), 403);
    /* a console certificate is not an agent's */
    assert_int_equal(s_checkin(&s.a, &s.console, "{\"id\":\"agent-1\"}", NULL, body), 403);
    assert_int_equal(s_checkin(&s.a, NULL, "{\"id\":\"agent-3\"}", NULL, body), 200);
}

static void test_favorite(void **state)
{
    (void) state;
    char body[S_BODY];
    assert_int_equal(
        s_admin(&s.a, "PUT", "/api/v1/agents/favorite",
                "{\"agents\":[\"agent-1\",\"agent-3\",\"ghost\"],\"server\":\"srv-b\"}", body),
        200);
    assert_int_equal(s_ji(body, "updated"), 2); /* unknown agents are skipped */
    assert_int_equal(s_checkin(&s.a, &s.agent1, "{}", NULL, body), 200);
    s_is(body, "favorite", "srv-b");
    assert_int_equal(s_admin(&s.b, "PUT", "/api/v1/agents/favorite",
                             "{\"agents\":[\"agent-1\"],\"server\":\"srv-nope\"}", body),
                     404);
    assert_int_equal(s_admin(&s.b, "PUT", "/api/v1/agents/favorite",
                             "{\"agents\":[\"agent-3\"],\"server\":null}", body),
                     200);
    assert_int_equal(s_checkin(&s.b, NULL, "{\"id\":\"agent-3\"}", NULL, body), 200);
    s_is(body, "favorite", "null");
    assert_int_equal(s_get(&s.b, "/api/v1/agents/agent-1", body), 200);
    s_is(body, "favorite", "srv-b");
    assert_int_equal(s_admin(&s.b, "PUT", "/api/v1/agents/favorite",
                             "{\"agents\":[],\"server\":\"srv-a\"}", body),
                     400);
}

/* Write one transfer of a curl config: a check-in of id from 127.0.0.<host> to srv, over
   TLS with cert (NULL: none) or, when plain, over the plain listener; the answer goes to
   file "<id>.out" and its status (and Retry-After) to curl's output. */
static void s_bulk_line(FILE *f, const cf_itest_server_t *srv, int plain,
                        const cf_itest_cert_t *cert, const char *id, int host)
{
    fprintf(f, "next\ninterface = \"127.0.0.%d\"\noutput = \"%s.out\"\n", host, id);
    fprintf(f, "write-out = \"%%{http_code} %%header{retry-after}\\n\"\n");
    fprintf(f, "header = \"Content-Type: application/json\"\n");
    fprintf(f, "data = \"{\\\"id\\\":\\\"%s\\\"}\"\n", id);
    if (plain) {
        fprintf(f, "url = \"http://127.0.0.1:%d/api/v1/agent/checkin\"\n", srv->plain_port);
        return;
    }
    fprintf(f, "cacert = \"ca.pem\"\nresolve = \"%s:%d:127.0.0.1\"\n", srv->alias, srv->port);
    if (cert)
        fprintf(f, "cert = \"%s\"\nkey = \"%s\"\n", cert->pem, cert->key);
    fprintf(f, "url = \"https://%s:%d/api/v1/agent/checkin\"\n", srv->alias, srv->port);
}

/* A new curl config file <dir>/<name>.cfg for s_bulk_line. */
static FILE *s_cfg(const char *name)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s.cfg", s.dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    return f;
}

/* Run the expect transfers of <name>.cfg, parallel at a time: *ok counts the answers 200,
 *busy those 503, and *after is the smallest Retry-After among the latter. */
static void s_bulk_run(const char *name, int expect, int parallel, int *ok, int *busy, int *after)
{
    char out[1400], *save = NULL;
    snprintf(out, sizeof(out), "%s/%s.codes", s.dir, name);
    assert_int_equal(cf_test_sh("cd '%s' && curl -sS --max-time 60 --parallel --parallel-max %d "
                                "-K %s.cfg >%s.codes",
                                s.dir, parallel, name, name),
                     0);
    char *codes = cf_test_read_file(out, NULL);
    int n = 0;
    *ok = *busy = *after = 0;
    for (char *l = strtok_r(codes, "\n", &save); l; l = strtok_r(NULL, "\n", &save), n++) {
        char *end = NULL;
        long status = strtol(l, &end, 10), retry = strtol(end, NULL, 10);
        *ok += status == 200;
        if (status == 503 && ((*busy)++ == 0 || retry < *after))
            *after = (int) retry;
    }
    free(codes);
    assert_int_equal(n, expect);
}

/* Walk every page of /agents (lock: "" for all) through srv: tally[0][lock] counts every
   agent per lock state, tally[1][lock] those of the bulk case; *counts (may be NULL) gets
   the last page's counts. */
static void s_walk(const cf_itest_server_t *srv, const char *lock,
                   int64_t tally[2][CF_DB_LOCK_COUNT], json_t **counts)
{
    char cursor[128] = "", path[400], body[S_BODY];
    memset(tally, 0, sizeof(int64_t) * 2 * CF_DB_LOCK_COUNT);
    do {
        snprintf(path, sizeof(path), "/api/v1/agents?limit=37%s%s%s%s", lock[0] ? "&lock=" : "",
                 lock, cursor[0] ? "&cursor=" : "", cursor);
        assert_int_equal(s_get(srv, path, body), 200);
        json_t *j = s_json(body);
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(j, "agents"), i, a)
        {
            cf_db_lock_t l = CF_DB_LOCK_COUNT;
            assert_int_equal(
                cf_db_lock_from_name(json_string_value(json_object_get(a, "lock")), &l), CF_OK);
            tally[0][l]++;
            tally[1][l] += strncmp(json_string_value(json_object_get(a, "id")), "bulk-", 5) == 0;
        }
        snprintf(cursor, sizeof(cursor), "%s",
                 json_string_value(json_object_get(j, "cursor")) ?: "");
        if (counts) {
            json_decref(*counts);
            *counts = json_incref(json_object_get(j, "counts"));
        }
        json_decref(j);
    } while (cursor[0]);
}

/* A few hundred check-ins from 127.0.0.x through both servers: the counts equal the
   per-agent states, however the list is walked. */
static void test_counts_after_many_checkins(void **state)
{
    (void) state;
    static cf_itest_cert_t certs[S_CERTS];
    char name[16], id[32];
    const cf_itest_server_t *srv[2] = {&s.a, &s.b};
    for (int round = 0; round < 2; round++) {
        snprintf(name, sizeof(name), "bulk%d", round);
        FILE *f = s_cfg(name);
        for (int i = 0; i < S_BULK; i++) {
            snprintf(id, sizeof(id), "bulk-%03d", i);
            if (round == 1 && i < S_CERTS)
                s_issue(id, 0, 30, id, &certs[i]);
            const cf_itest_cert_t *cert = round == 1 && i < S_CERTS ? &certs[i] : NULL;
            s_bulk_line(f, srv[(i + round) % 2], round == 1 && !cert, cert, id, 20 + i % 200);
        }
        fclose(f);
        int ok = 0, busy = 0, after = 0;
        s_bulk_run(name, S_BULK, 4, &ok, &busy, &after);
        assert_int_equal(ok, S_BULK);
    }
    for (int i = 0; i < S_CERTS; i++)
        cf_itest_cert_free(&certs[i]);
    int64_t all[2][CF_DB_LOCK_COUNT], one[2][CF_DB_LOCK_COUNT];
    json_t *counts = NULL;
    s_walk(&s.a, "", all, &counts);
    for (int l = 0; l < CF_DB_LOCK_COUNT; l++) {
        const char *lock = cf_db_lock_name((cf_db_lock_t) l);
        assert_int_equal(json_integer_value(json_object_get(counts, lock)), all[0][l]);
        s_walk(&s.b, lock, one, NULL);
        assert_int_equal(one[0][l], all[0][l]);
    }
    json_decref(counts);
    assert_int_equal(all[1][CF_DB_LOCK_SECURE], S_CERTS);
    assert_int_equal(all[1][CF_DB_LOCK_INSECURE], S_BULK - S_CERTS);
    cf_db_agent_counts_t c;
    assert_int_equal(cf_db_agent_counts(s.store, &c), CF_OK);
    assert_int_equal(c.total, all[0][0] + all[0][1] + all[0][2] + all[0][3]);
    /* the address each was seen at */
    char body[S_BODY];
    assert_int_equal(s_get(&s.b, "/api/v1/agents/bulk-007", body), 200);
    s_is(body, "last_addr", "127.0.0.27");
    s_is(body, "lock", "secure");
    assert_int_equal(s_get(&s.b, "/api/v1/agents/bulk-077", body), 200);
    s_is(body, "lock", "insecure");
}

/* A condition: a check-in through srv as cert (NULL: agent-3 without one) gets the status
   want (0: refused at the handshake). */
typedef struct {
    const cf_itest_server_t *srv; /* where */
    const cf_itest_cert_t *cert;  /* as whom (NULL: no certificate) */
    int want;                     /* the status waited for */
} s_try_t;

static int s_try(void *arg)
{
    const s_try_t *t = arg;
    char body[S_BODY];
    const char *who = t->cert ? "{}" : "{\"id\":\"agent-3\"}"; /* a certificate names its agent */
    return s_checkin(t->srv, t->cert, who, NULL, body) == t->want;
}

/* A revocation written to Redis (and published) makes every server refuse the certificate
   at the next handshake. */
static void test_revoked_certificate_refused(void **state)
{
    (void) state;
    char body[S_BODY];
    assert_int_equal(s_checkin(&s.a, &s.agent5, "{}", NULL, body), 200);
    const char *serial = s.agent5.serial;
    assert_int_equal(cf_db_revoke(s.store, &serial, 1, NULL), CF_OK);
    s_try_t ta = {&s.a, &s.agent5, 0}, tb = {&s.b, &s.agent5, 0};
    assert_true(cf_test_wait_until(s_try, &ta, 10000));
    assert_true(cf_test_wait_until(s_try, &tb, 10000));
    assert_int_equal(s_checkin(&s.b, &s.agent1, "{}", NULL, body), 200);
}

/* The seed's migration switch: allow-plain off through one server closes both servers'
   plain listeners and refuses handshakes without a certificate, with no restart, while
   valid certificates keep working; and on again reopens them. */
static void test_migration_switch(void **state)
{
    (void) state;
    char body[S_BODY];
    pid_t pa = s.a.pid, pb = s.b.pid;
    assert_int_equal(s_checkin(&s.a, NULL, "{\"id\":\"agent-3\"}", NULL, body), 200);
    assert_int_equal(s_admin(&s.b, "PUT", "/api/v1/ssl", "{\"allow_plain\":false}", body), 200);
    assert_non_null(strstr(body, "\"allow_plain\":false"));
    assert_true(cf_test_wait_until(s_port_closed, &s.a.plain_port, 10000));
    assert_true(cf_test_wait_until(s_port_closed, &s.b.plain_port, 10000));
    s_try_t ta = {&s.a, NULL, 0}, tb = {&s.b, NULL, 0};
    assert_true(cf_test_wait_until(s_try, &ta, 10000));
    assert_true(cf_test_wait_until(s_try, &tb, 10000));
    /* valid certificates still work, on both */
    assert_int_equal(s_checkin(&s.a, &s.agent1, "{}", NULL, body), 200);
    s_is(body, "lock", "secure");
    assert_int_equal(s_checkin(&s.b, &s.new2, "{}", NULL, body), 200);
    assert_int_equal(s_get(&s.a, "/api/v1/ssl", body), 200);
    assert_non_null(strstr(body, "\"allow_plain\":false"));
    /* an expired certificate is still refused */
    assert_int_equal(s_checkin(&s.b, &s.expired, "{}", NULL, body), 0);
    /* the same processes: no restart */
    assert_false(cf_itest_exited(pa));
    assert_false(cf_itest_exited(pb));
    assert_int_equal(s.a.pid, pa);
    /* and back: the window reopens */
    assert_int_equal(s_admin(&s.a, "PUT", "/api/v1/ssl", "{\"allow_plain\":true}", body), 200);
    assert_int_equal(cf_itest_wait_port("127.0.0.1", s.b.plain_port, 10000), CF_OK);
    ta.want = tb.want = 200;
    assert_true(cf_test_wait_until(s_try, &ta, 10000));
    assert_true(cf_test_wait_until(s_try, &tb, 10000));
}

/* Admission control: a third server with a bucket of 3 and one check-in a second answers a
   burst with 503 busy and Retry-After, and serves again once the bucket refills. */
static void test_admission_busy(void **state)
{
    (void) state;
    cf_itest_server_t c = {0};
    const char *extra[] = {"--admit-rate", "1", "--admit-burst", "3", NULL};
    s_start(&c, "srv-c", "1", "127.0.1.0/24", 0, extra);
    char path[700], id[32], body[S_BODY];
    FILE *f = s_cfg("burst");
    for (int i = 0; i < 12; i++) {
        snprintf(id, sizeof(id), "adm-%d", i);
        s_bulk_line(f, &c, 0, NULL, id, 40 + i);
    }
    fclose(f);
    int ok = 0, busy = 0, after = 0;
    s_bulk_run("burst", 12, 12, &ok, &busy, &after);
    assert_true(busy >= 1); /* the bucket holds 3 and refills one a second */
    assert_true(ok >= 3);
    assert_int_equal(ok + busy, 12);
    assert_true(after >= 1);
    /* which ones were refused is up to the scheduler: find one answer that was */
    int seen = 0;
    for (int i = 0; i < 12 && !seen; i++) {
        snprintf(path, sizeof(path), "%s/adm-%d.out", s.dir, i);
        char *text = cf_test_read_file(path, NULL);
        seen = strstr(text, "\"code\":\"busy\"") != NULL;
        free(text);
    }
    assert_true(seen);
    s_try_t again = {&c, NULL, 200};
    assert_true(cf_test_wait_until(s_try, &again, 10000));
    assert_int_equal(s_get(&c, "/api/v1/ssl", body), 200); /* only check-ins are metered */
    cf_itest_server_stop(&c, SIGTERM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_change_through_one_seen_through_other),
        cmocka_unit_test(test_bad_input_changes_nothing),
        cmocka_unit_test(test_checkin_identity_and_lock_states),
        cmocka_unit_test(test_expired_certificate),
        cmocka_unit_test(test_access_during_migration),
        cmocka_unit_test(test_favorite),
        cmocka_unit_test(test_counts_after_many_checkins),
        cmocka_unit_test(test_revoked_certificate_refused),
        cmocka_unit_test(test_migration_switch),
        cmocka_unit_test(test_admission_busy),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
