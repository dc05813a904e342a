/*  test_api_session - logins, sessions, users, audit and the failed-login throttle of a real
    cf-server (after --init) over a real redis-server, driven by curl  */
#include "cf_itest.h"
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "cf_auth.h"
#include "cf_ca.h"
#include "cf_db_meta.h"
#include "cf_db_user.h"
#include "cf_itest_https.h"
#include "cf_mem.h"
#include "cf_seal.h"

#define S_ADMIN_PW "Admin pass-A1"  /* --init's admin password */
#define S_P12_PW   "p12-pass-Z9"    /* console.p12's password */
#define S_BOB_PW   "bob-secret-B2"  /* a viewer's */
#define S_OPS_PW   "ops-secret-C3"  /* a second admin's */
#define S_WRONG_PW "wrong-guess-W4" /* what a guesser tries */
#define S_BODY     (64 * 1024)      /* answers read back */

static struct {
    cf_itest_redis_t redis; /* the deployment's Redis */
    char dir[512];          /* ca.pem, console.p12, agent.pem, server.log, curl files */
    int port;               /* cf-server's HTTPS port */
    pid_t pid;              /* cf-server */
    char admin[64];         /* a token of the admin, from a login */
} s;

static char s_body[S_BODY]; /* the last answer's body */

static void s_file(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", s.dir, name);
}

/* curl from address `from` (NULL: 127.0.0.1) with client certificate `cert` ("console",
   "agent" or NULL), bearer token (NULL: none) and JSON body (NULL: none). Returns the
   status; the body is in s_body, the headers in DIR/hdr.txt. */
static int s_curl(const char *from, const char *cert, const char *token, const char *method,
                  const char *path, const char *json)
{
    char args[2048], auth[128] = "", file[600];
    const char *certs = "";
    if (cert && strcmp(cert, "console") == 0)
        certs = "--cert-type P12 --cert console.p12:" S_P12_PW;
    else if (cert)
        certs = "--cert agent.pem --key agent.key";
    if (token)
        snprintf(auth, sizeof(auth), "-H 'Authorization: Bearer %s'", token);
    if (json) {
        s_file(file, sizeof(file), "req.json");
        cf_test_write_file(file, json, strlen(json));
    }
    snprintf(args, sizeof(args),
             "--resolve localhost:%d:127.0.0.1 --cacert ca.pem --interface %s %s %s -X %s %s "
             "-D hdr.txt 'https://localhost:%d/api/v1%s'",
             s.port, from ? from : "127.0.0.1", certs, auth, method,
             json ? "-H 'Content-Type: application/json' --data-binary @req.json" : "", s.port,
             path);
    return cf_itest_curl(s.dir, args, s_body, sizeof(s_body));
}

/* The answer as JSON (the caller's). */
static json_t *s_json(void)
{
    json_t *j = json_loads(s_body, 0, NULL);
    if (!j)
        fail_msg("not JSON: %s", s_body);
    return j;
}

static const char *s_str(json_t *j, const char *key)
{
    const char *v = json_string_value(json_object_get(j, key));
    return v ? v : "";
}

/* POST /login; on 200 the token goes into token (64 bytes, may be NULL). */
static int s_login(const char *from, const char *cert, const char *user, const char *pw,
                   char *token)
{
    char body[512];
    snprintf(body, sizeof(body), "{\"user\":\"%s\",\"password\":\"%s\"}", user, pw);
    int status = s_curl(from, cert, NULL, "POST", "/login", body);
    if (status == 200 && token) {
        json_t *j = s_json();
        snprintf(token, 64, "%s", s_str(j, "token"));
        json_decref(j);
    }
    return status;
}

static void s_add_user(const char *name, const char *role, const char *pw)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"name\":\"%s\",\"role\":\"%s\",\"password\":\"%s\"}", name,
             role, pw);
    assert_int_equal(s_curl(NULL, "console", s.admin, "POST", "/users", body), 201);
}

/* An agent certificate (agent-7) from the deployment's CA, as DIR/agent.pem and .key. */
static void s_agent_cert(void)
{
    char path[600];
    cf_seal_t *seal = NULL;
    cf_cert_t *cert = NULL;
    cf_key_t *key = NULL;
    cf_ca_t *ca = NULL;
    cf_itest_cert_t agent;
    s_file(path, sizeof(path), "secret");
    assert_int_equal(cf_seal_load_file(path, 0, &seal, NULL), CF_OK);
    cf_store_t *store = cf_itest_store_at(s.redis.port, NULL);
    assert_int_equal(cf_db_ca_get(store, seal, &cert, &key), CF_OK);
    assert_int_equal(cf_ca_load(cert, key, &ca), CF_OK);
    cf_issue_t req = {.component = CF_COMPONENT_AGENT, .name = "agent-7"};
    cf_itest_cert_write(ca, &req, s.dir, "agent", &agent);
    cf_itest_cert_free(&agent);
    cf_ca_destroy(&ca);
    cf_key_destroy(&key);
    cf_cert_destroy(&cert);
    cf_store_destroy(&store);
    cf_seal_destroy(&seal);
}

static int s_setup(void **state)
{
    (void) state;
    signal(SIGPIPE, SIG_IGN);
    cf_test_tmpdir("api_session", s.dir, sizeof(s.dir));
    if (cf_itest_redis_start(&s.redis, NULL) != CF_OK)
        return -1;
    char bin[600], redis[64], port[16], secret[600], log[600], admin[600], p12[600];
    snprintf(bin, sizeof(bin), "%s/server/cf-server", getenv("CF_BIN_DIR"));
    snprintf(redis, sizeof(redis), "127.0.0.1:%d", s.redis.port);
    s.port = cf_itest_free_port();
    snprintf(port, sizeof(port), "%d", s.port);
    s_file(secret, sizeof(secret), "secret");
    s_file(log, sizeof(log), "server.log");
    s_file(admin, sizeof(admin), "admin.pw");
    s_file(p12, sizeof(p12), "p12.pw");
    cf_test_write_file(admin, S_ADMIN_PW "\n", strlen(S_ADMIN_PW) + 1);
    cf_test_write_file(p12, S_P12_PW "\n", strlen(S_P12_PW) + 1);
    cf_test_sh("chmod 600 '%s' '%s'", admin, p12);
    char *argv[] = {bin,
                    "--redis",
                    redis,
                    "--alias",
                    "localhost",
                    "--port",
                    port,
                    "--secret-file",
                    secret,
                    "--init",
                    "--out",
                    s.dir,
                    "--admin-password-file",
                    admin,
                    "--p12-password-file",
                    p12,
                    "--log-level",
                    "debug",
                    NULL};
    if (cf_itest_spawn(argv, log, &s.pid) != CF_OK ||
        cf_itest_wait_port("127.0.0.1", s.port, CF_ITEST_START_MS) != CF_OK)
        return -1;
    s_agent_cert();
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    int ok = s.pid && cf_itest_kill(s.pid, SIGTERM) == CF_OK;
    char path[600];
    s_file(path, sizeof(path), "server.log");
    char *log = cf_test_read_file(path, NULL);
    ok = ok && log && !strstr(log, "Sanitizer"); /* the ASan build's server leaks nothing */
    free(log);
    cf_itest_redis_stop(&s.redis);
    return ok ? 0 : -1;
}

/* ---- the tests: they run in this order against one server --------------------------- */

static void test_usage(void **state)
{
    (void) state;
    char token[64];
    time_t now = time(NULL);
    assert_int_equal(s_login(NULL, "console", "admin", S_ADMIN_PW, token), 200);
    json_t *j = s_json();
    assert_string_equal(s_str(j, "role"), "admin");
    json_int_t expires = json_integer_value(json_object_get(j, "expires"));
    assert_true(expires >= now + 12 * 3600 - 5 && expires <= now + 12 * 3600 + 60);
    assert_true(json_is_false(json_object_get(j, "save_logins"))); /* the policy's default */
    json_decref(j);
    assert_int_equal(cf_auth_token_check(token), CF_OK);
    assert_int_equal(s_curl(NULL, "console", token, "GET", "/session", NULL), 200);
    j = s_json();
    assert_string_equal(s_str(j, "user"), "admin");
    assert_int_equal(json_integer_value(json_object_get(j, "expires")), expires);
    json_decref(j);
    assert_int_equal(s_curl(NULL, "console", token, "POST", "/logout", NULL), 200);
    assert_int_equal(s_curl(NULL, "console", token, "GET", "/session", NULL), 401);
    assert_int_equal(s_curl(NULL, "console", token, "POST", "/logout", NULL), 401);
    assert_int_equal(s_login(NULL, "console", "admin", S_ADMIN_PW, s.admin), 200);
}

static void test_health(void **state)
{
    (void) state;
    static const char *const certs[] = {NULL, "console", "agent"};
    static const char *const seen[] = {"none", "console", "agent"};
    for (size_t k = 0; k < 6; k++) { /* and back: answers made once per kind, then reused */
        size_t i = k < 3 ? k : 5 - k;
        assert_int_equal(s_curl(NULL, certs[i], NULL, "GET", "/health", NULL), 200);
        json_t *j = s_json();
        assert_string_equal(s_str(j, "status"), "ok");
        assert_string_equal(s_str(j, "alias"), "localhost");
        assert_string_equal(s_str(j, "tls"), "TLSv1.3");
        assert_true(s_str(j, "version")[0] != '\0');
        assert_string_equal(s_str(j, "client_cert"), seen[i]);
        json_decref(j);
    }
}

static void test_login_refusals(void **state)
{
    (void) state;
    char wrong[sizeof(s_body)];
    assert_int_equal(s_login(NULL, NULL, "admin", S_WRONG_PW, NULL), 401);
    memcpy(wrong, s_body, sizeof(wrong));
    assert_non_null(strstr(wrong, "\"unauthenticated\""));
    /* an unknown user and a password that breaks the rules: the very same answer */
    assert_int_equal(s_login(NULL, NULL, "nobody", S_WRONG_PW, NULL), 401);
    assert_string_equal(s_body, wrong);
    assert_int_equal(s_login(NULL, NULL, "admin", "short", NULL), 401);
    assert_string_equal(s_body, wrong);
    assert_int_equal(s_curl(NULL, NULL, NULL, "POST", "/login", "{\"user\":\"admin\"}"), 400);
    assert_non_null(strstr(s_body, "password"));
    assert_int_equal(s_curl(NULL, NULL, NULL, "POST", "/login", "{\"user\":"), 400);
    assert_non_null(strstr(s_body, "invalid_json"));
    assert_int_equal(s_curl(NULL, NULL, NULL, "GET", "/login", NULL), 405);
    /* an agent certificate never gets a session, so it may not even try */
    assert_int_equal(s_login(NULL, "agent", "admin", S_ADMIN_PW, NULL), 403);
}

static void test_roles(void **state)
{
    (void) state;
    char viewer[64];
    s_add_user("vera", "viewer", "vera-secret-V5");
    assert_int_equal(s_login(NULL, "console", "vera", "vera-secret-V5", viewer), 200);
    assert_non_null(strstr(s_body, "\"role\":\"viewer\""));
    assert_int_equal(s_curl(NULL, "console", viewer, "GET", "/session", NULL), 200);
    static const char body[] =
        "{\"name\":\"eve\",\"role\":\"admin\",\"password\":\"eve-secret-E6\"}";
    assert_int_equal(s_curl(NULL, "console", viewer, "POST", "/users", body), 403);
    assert_int_equal(s_curl(NULL, "console", viewer, "GET", "/users", NULL), 403);
    assert_int_equal(s_curl(NULL, "console", viewer, "GET", "/audit", NULL), 403);
    assert_int_equal(s_curl(NULL, "console", viewer, "DELETE", "/users/admin", NULL), 403);
    assert_int_equal(s_curl(NULL, "console", NULL, "GET", "/users", NULL), 401);
    assert_int_equal(s_curl(NULL, "console", "not-a-token", "GET", "/session", NULL), 401);
    /* an agent certificate reaches agent routes only, whatever token comes with it */
    assert_int_equal(s_curl(NULL, "agent", s.admin, "GET", "/users", NULL), 403);
    assert_int_equal(s_curl(NULL, "agent", s.admin, "POST", "/users", body), 403);
    assert_int_equal(s_curl(NULL, "agent", viewer, "GET", "/session", NULL), 403);
    assert_int_equal(s_curl(NULL, "console", s.admin, "GET", "/users", NULL), 200);
    assert_null(strstr(s_body, "eve")); /* nothing was created */
}

static int s_later(void *arg)
{
    return time(NULL) > *(const time_t *) arg;
}

static void test_users(void **state)
{
    (void) state;
    char ops[64];
    const char *dup = "{\"name\":\"vera\",\"role\":\"admin\",\"password\":\"other-secret-1\"}";
    assert_int_equal(s_curl(NULL, NULL, s.admin, "POST", "/users", dup), 409);
    const char *bad_name = "{\"name\":\"Vera!\",\"role\":\"viewer\",\"password\":\"xx-secret-1\"}";
    assert_int_equal(s_curl(NULL, NULL, s.admin, "POST", "/users", bad_name), 400);
    const char *bad_role = "{\"name\":\"zed\",\"role\":\"root\",\"password\":\"zed-secret-1\"}";
    assert_int_equal(s_curl(NULL, NULL, s.admin, "POST", "/users", bad_role), 400);
    const char *short_pw = "{\"name\":\"zed\",\"role\":\"viewer\",\"password\":\"zed\"}";
    assert_int_equal(s_curl(NULL, NULL, s.admin, "POST", "/users", short_pw), 400);
    assert_non_null(strstr(s_body, "password"));
    s_add_user("ops", "admin", S_OPS_PW);
    assert_int_equal(s_curl(NULL, NULL, s.admin, "GET", "/users", NULL), 200);
    assert_non_null(strstr(s_body, "{\"users\":[{\"name\":\"admin\",\"role\":\"admin\""));
    assert_non_null(strstr(s_body, "{\"name\":\"ops\",\"role\":\"admin\""));
    assert_null(strstr(s_body, "pwhash"));
    /* removing a user ends their sessions at once */
    assert_int_equal(s_login(NULL, "console", "ops", S_OPS_PW, ops), 200);
    assert_int_equal(s_curl(NULL, NULL, ops, "GET", "/users", NULL), 200);
    assert_int_equal(s_curl(NULL, NULL, s.admin, "DELETE", "/users/ops", NULL), 200);
    assert_int_equal(s_curl(NULL, NULL, ops, "GET", "/session", NULL), 401);
    assert_int_equal(s_login(NULL, "console", "ops", S_OPS_PW, NULL), 401);
    assert_int_equal(s_curl(NULL, NULL, s.admin, "DELETE", "/users/ops", NULL), 404);
    /* nor does a new user of the same name inherit them, even when the old session was
       not touched in between (so nothing noticed the removal) */
    s_add_user("ops", "admin", S_OPS_PW);
    assert_int_equal(s_login(NULL, "console", "ops", S_OPS_PW, ops), 200);
    time_t login = time(NULL);
    assert_true(cf_test_wait_until(s_later, &login, 3000)); /* times are whole seconds */
    assert_int_equal(s_curl(NULL, NULL, s.admin, "DELETE", "/users/ops", NULL), 200);
    s_add_user("ops", "viewer", S_OPS_PW);
    assert_int_equal(s_curl(NULL, NULL, ops, "GET", "/session", NULL), 401);
    assert_int_equal(s_curl(NULL, NULL, s.admin, "DELETE", "/users/ops", NULL), 200);
    /* the last admin stays */
    assert_int_equal(s_curl(NULL, NULL, s.admin, "DELETE", "/users/admin", NULL), 409);
    assert_non_null(strstr(s_body, "last admin"));
    assert_int_equal(s_curl(NULL, NULL, s.admin, "GET", "/session", NULL), 200);
}

typedef struct {
    cf_store_t *store;                 /* a connection of the test's */
    char token[CF_AUTH_TOKEN_LEN + 1]; /* a session made behind the API's back */
} s_made_t;

static int s_session_gone(void *arg)
{
    s_made_t *m = arg;
    cf_db_session_t out;
    return cf_db_session_get(m->store, m->token, CF_AUTH_TOKEN_LEN, &out) == CF_ERR_NOTFOUND;
}

static void test_expiry(void **state)
{
    (void) state;
    s_made_t m = {cf_itest_store_at(s.redis.port, NULL), ""};
    int64_t now = (int64_t) time(NULL);
    /* a session past its end whose key is still there: refused all the same */
    assert_int_equal(cf_auth_token_new(m.token), CF_OK);
    assert_int_equal(cf_db_session_create(m.store, m.token, CF_AUTH_TOKEN_LEN, "admin",
                                          CF_DB_ROLE_ADMIN, now - 100, 60),
                     CF_OK);
    assert_int_equal(s_curl(NULL, NULL, m.token, "GET", "/session", NULL), 401);
    /* a short session works until its TTL ends it */
    assert_int_equal(cf_auth_token_new(m.token), CF_OK);
    assert_int_equal(cf_db_session_create(m.store, m.token, CF_AUTH_TOKEN_LEN, "admin",
                                          CF_DB_ROLE_ADMIN, now, 3),
                     CF_OK);
    assert_int_equal(s_curl(NULL, NULL, m.token, "GET", "/session", NULL), 200);
    assert_true(cf_test_wait_until(s_session_gone, &m, 10000));
    assert_int_equal(s_curl(NULL, NULL, m.token, "GET", "/session", NULL), 401);
    cf_store_destroy(&m.store);
}

static void test_policy(void **state)
{
    (void) state;
    const char *on = "{\"save_logins\":true}";
    assert_int_equal(s_curl(NULL, NULL, s.admin, "PUT", "/policy/console", on), 200);
    assert_string_equal(s_body, on);
    assert_int_equal(s_login(NULL, "console", "vera", "vera-secret-V5", NULL), 200);
    assert_non_null(strstr(s_body, "\"save_logins\":true"));
    assert_int_equal(s_curl(NULL, NULL, s.admin, "PUT", "/policy/console", "{\"save_logins\":1}"),
                     400);
    assert_int_equal(s_curl(NULL, NULL, s.admin, "PUT", "/policy/console", "{}"), 400);
    assert_int_equal(s_curl(NULL, "agent", s.admin, "PUT", "/policy/console", on), 403);
    assert_int_equal(
        s_curl(NULL, NULL, s.admin, "PUT", "/policy/console", "{\"save_logins\":false}"), 200);
    assert_int_equal(s_login(NULL, "console", "vera", "vera-secret-V5", NULL), 200);
    assert_non_null(strstr(s_body, "\"save_logins\":false"));
}

/* The Retry-After of the last answer, 0 when none. */
static int s_retry_after(void)
{
    char path[600], *hdr = NULL;
    s_file(path, sizeof(path), "hdr.txt");
    hdr = cf_test_read_file(path, NULL);
    const char *r = strstr(hdr, "Retry-After: ");
    int v = r ? atoi(r + 13) : 0;
    free(hdr);
    return v;
}

static void test_throttle_user(void **state)
{
    (void) state;
    s_add_user("bob", "viewer", S_BOB_PW);
    for (int i = 0; i < 5; i++) /* the per-user allowance */
        assert_int_equal(s_login("127.0.0.2", NULL, "bob", S_WRONG_PW, NULL), 401);
    assert_int_equal(s_login("127.0.0.2", NULL, "bob", S_WRONG_PW, NULL), 429);
    assert_non_null(strstr(s_body, "rate_limited"));
    int retry = s_retry_after();
    assert_true(retry >= 1 && retry <= 60);
    /* throttled before the password is looked at: the right one waits too, from anywhere */
    assert_int_equal(s_login("127.0.0.2", NULL, "bob", S_BOB_PW, NULL), 429);
    assert_int_equal(s_login("127.0.0.4", NULL, "bob", S_BOB_PW, NULL), 429);
    /* a guesser without a console certificate cannot lock out a console that has one */
    assert_int_equal(s_login("127.0.0.4", "console", "bob", S_BOB_PW, NULL), 200);
    /* and the throttle is bob's: admin logs in from the guesser's address */
    assert_int_equal(s_login("127.0.0.2", NULL, "admin", S_ADMIN_PW, NULL), 200);
}

static void test_throttle_addr(void **state)
{
    (void) state;
    char user[32];
    int n = 0, status = 401;
    time_t t0 = time(NULL);
    /* one address trying name after name: 20 failures, then 429 (one more for every 10 s
       the failures took, should the machine be so slow that tokens drip back) */
    for (; n < 30 && status == 401; n++) {
        snprintf(user, sizeof(user), "guess-%d", n);
        status = s_login("127.0.0.3", NULL, user, S_WRONG_PW, NULL);
    }
    assert_int_equal(status, 429);
    assert_true(n - 1 >= 20 && n - 1 <= 21 + (int) ((time(NULL) - t0) / 10));
    /* the right password from that address waits too - unless the failures took so long
       (an ASan build on a loaded machine: scrypt each) that a token dripped back meanwhile */
    status = s_login("127.0.0.3", "console", "admin", S_ADMIN_PW, NULL);
    if (time(NULL) - t0 < 9)
        assert_int_equal(status, 429);
    else
        assert_true(status == 429 || status == 200);
    assert_int_equal(s_login("127.0.0.1", "console", "admin", S_ADMIN_PW, NULL), 200);
}

/* 1 when events holds one with these fields (target NULL: any). */
static int s_has_event(json_t *events, const char *who, const char *what, const char *target,
                       const char *result)
{
    size_t i;
    json_t *e;
    json_array_foreach(events, i, e)
    {
        if (strcmp(s_str(e, "who"), who) == 0 && strcmp(s_str(e, "what"), what) == 0 &&
            (!target || strcmp(s_str(e, "target"), target) == 0) &&
            strcmp(s_str(e, "result"), result) == 0 && s_str(e, "from")[0] == '1' &&
            json_integer_value(json_object_get(e, "time")) > 0)
            return 1;
    }
    return 0;
}

static void test_audit(void **state)
{
    (void) state;
    assert_int_equal(s_curl(NULL, NULL, s.admin, "GET", "/audit?limit=1000", NULL), 200);
    json_t *j = s_json();
    json_t *ev = json_object_get(j, "events");
    assert_true(json_array_size(ev) >= 20);
    assert_true(json_is_null(json_object_get(j, "cursor"))); /* all of it in one page */
    assert_true(s_has_event(ev, "admin", "login", NULL, "ok"));
    assert_true(s_has_event(ev, "admin", "login", NULL, "BADPASS"));
    assert_true(s_has_event(ev, "nobody", "login", NULL, "BADPASS"));
    assert_true(s_has_event(ev, "admin", "logout", NULL, "ok"));
    assert_true(s_has_event(ev, "admin", "user.create", "vera", "ok"));
    assert_true(s_has_event(ev, "admin", "user.create", "vera", "EXISTS"));
    assert_true(s_has_event(ev, "admin", "user.remove", "ops", "ok"));
    assert_true(s_has_event(ev, "admin", "user.remove", "admin", "STATE"));
    assert_true(s_has_event(ev, "admin", "policy.console", "save_logins=true", "ok"));
    assert_true(s_has_event(ev, "bob", "login", NULL, "THROTTLED"));
    /* the first refusal is recorded, not every one of a guessing loop */
    size_t i, throttled = 0;
    json_t *e;
    json_array_foreach(ev, i, e)
    {
        throttled +=
            strcmp(s_str(e, "who"), "bob") == 0 && strcmp(s_str(e, "result"), "THROTTLED") == 0;
    }
    assert_int_equal(throttled, 1);
    char first[64], path[128];
    snprintf(first, sizeof(first), "%s", s_str(json_array_get(ev, 2), "id"));
    json_decref(j);
    /* pages of two: the cursor of one is where the next starts */
    assert_int_equal(s_curl(NULL, NULL, s.admin, "GET", "/audit?limit=2", NULL), 200);
    j = s_json();
    assert_int_equal(json_array_size(json_object_get(j, "events")), 2);
    snprintf(path, sizeof(path), "/audit?limit=2&cursor=%s", s_str(j, "cursor"));
    json_decref(j);
    assert_int_equal(s_curl(NULL, NULL, s.admin, "GET", path, NULL), 200);
    j = s_json();
    assert_string_equal(s_str(json_array_get(json_object_get(j, "events"), 0), "id"), first);
    json_decref(j);
    snprintf(path, sizeof(path), "/audit?since=%lld", (long long) time(NULL) + 3600);
    assert_int_equal(s_curl(NULL, NULL, s.admin, "GET", path, NULL), 200);
    assert_string_equal(s_body, "{\"events\":[],\"cursor\":null}");
    assert_int_equal(s_curl(NULL, NULL, s.admin, "GET", "/audit?limit=0", NULL), 400);
    assert_int_equal(s_curl(NULL, NULL, s.admin, "GET", "/audit?since=-1", NULL), 400);
    assert_int_equal(s_curl(NULL, NULL, s.admin, "GET", "/audit?cursor=junk", NULL), 400);
}

/* 1 when needle is in r or any element under it (values may hold NUL bytes). */
static int s_reply_has(const redisReply *r, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; r->str && i + n <= r->len; i++) {
        if (memcmp(r->str + i, needle, n) == 0)
            return 1;
    }
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        if (s_reply_has(r->element[i], needle))
            return 1;
    }
    return 0;
}

/* 1 when any key name or value in Redis holds needle. */
static int s_redis_has(redisContext *c, const char *needle)
{
    static const char *const reads[][2] = {
        {"string", "GET %s"},       {"hash", "HGETALL %s"},     {"set", "SMEMBERS %s"},
        {"zset", "ZRANGE %s 0 -1"}, {"list", "LRANGE %s 0 -1"}, {"stream", "XRANGE %s - +"},
    };
    redisReply *keys = redisCommand(c, "KEYS *"); /* a test's own small Redis */
    assert_non_null(keys);
    int found = s_reply_has(keys, needle);
    for (size_t i = 0; !found && i < keys->elements; i++) {
        const char *key = keys->element[i]->str;
        redisReply *type = redisCommand(c, "TYPE %s", key);
        assert_non_null(type);
        for (size_t k = 0; k < sizeof(reads) / sizeof(reads[0]); k++) {
            if (strcmp(type->str, reads[k][0]) != 0)
                continue;
            redisReply *v = redisCommand(c, reads[k][1], key);
            assert_non_null(v);
            found = s_reply_has(v, needle);
            freeReplyObject(v);
        }
        freeReplyObject(type);
    }
    freeReplyObject(keys);
    return found;
}

static void test_no_password_kept(void **state)
{
    (void) state;
    static const char *const secrets[] = {S_ADMIN_PW, S_BOB_PW, S_OPS_PW, S_WRONG_PW,
                                          "vera-secret-V5"};
    char path[600];
    s_file(path, sizeof(path), "server.log");
    char *log = cf_test_read_file(path, NULL);
    redisContext *c = redisConnect("127.0.0.1", s.redis.port);
    assert_true(c && !c->err);
    assert_non_null(strstr(log, "login user=bob")); /* the log does name who logs in */
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
        assert_null(strstr(log, secrets[i]));
        assert_false(s_redis_has(c, secrets[i]));
    }
    /* nor the session token: Redis keeps its SHA-256 only */
    assert_null(strstr(log, s.admin));
    assert_false(s_redis_has(c, s.admin));
    assert_true(s_redis_has(c, "$scrypt$")); /* the scan does see the stored hashes */
    redisFree(c);
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_health),
        cmocka_unit_test(test_login_refusals),
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_users),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_policy),
        cmocka_unit_test(test_throttle_user),
        cmocka_unit_test(test_throttle_addr),
        cmocka_unit_test(test_audit),
        cmocka_unit_test(test_no_password_kept),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
