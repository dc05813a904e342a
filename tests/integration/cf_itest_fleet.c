/*  cf_itest_fleet - fleet API tests' fixture: two cf-server processes on one redis-server
    (--init on the first, the second joins), client certificates from the deployment's CA,
    an admin session, and curl calls with JSON answers  */
#include "cf_itest_fleet.h"

#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cf_db_meta.h"
#include "cf_itest_https.h"
#include "cf_seal.h"

cf_itest_fleet_t cf_itest_fleet; /* the one fixture of a test program */

static cf_itest_fleet_t *const s = &cf_itest_fleet;

/* ---- helpers ---------------------------------------------------------------------------- */

void cf_itest_fleet_issue(const char *id, time_t now, unsigned days, const char *file,
                          cf_itest_cert_t *out)
{
    cf_issue_t req = {0};
    req.component = id ? CF_COMPONENT_AGENT : CF_COMPONENT_CONSOLE;
    req.name = id ? id : "fleet-tester";
    req.now = now;
    req.days = days;
    cf_itest_cert_write(s->ca, &req, s->dir, file, out);
}

/* curl to srv (TLS, or the plain port when plain) as the client cert (NULL: none), with the
   admin token when auth, method, path and JSON body (NULL: none); extra curl arguments. */
int cf_itest_fleet_call(const cf_itest_server_t *srv, int plain, const cf_itest_cert_t *cert,
                        int auth, const char *method, const char *path, const char *body,
                        const char *extra, char *out)
{
    char args[4096], c[1400] = "", h[700] = "", d[1200] = "";
    if (cert)
        snprintf(c, sizeof(c), "--cert '%s' --key '%s' ", cert->pem, cert->key);
    if (auth)
        snprintf(h, sizeof(h), "-H 'Authorization: Bearer %s' ", s->token);
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
    return cf_itest_curl(s->dir, args, out, CF_ITEST_FLEET_BODY);
}

int cf_itest_fleet_get(const cf_itest_server_t *srv, const char *path, char *out)
{
    return cf_itest_fleet_call(srv, 0, &s->console, 1, "GET", path, NULL, NULL, out);
}

int cf_itest_fleet_admin(const cf_itest_server_t *srv, const char *method, const char *path,
                         const char *body, char *out)
{
    return cf_itest_fleet_call(srv, 0, &s->console, 1, method, path, body, NULL, out);
}

/* A check-in over TLS with cert (NULL: none) from source address from (NULL: any). */
int cf_itest_fleet_checkin(const cf_itest_server_t *srv, const cf_itest_cert_t *cert,
                           const char *body, const char *from, char *out)
{
    char extra[64] = "";
    if (from)
        snprintf(extra, sizeof(extra), "--interface %s ", from);
    return cf_itest_fleet_call(srv, 0, cert, 0, "POST", "/api/v1/agent/checkin", body, extra, out);
}

/* The JSON of text (fails the test when it does not parse); json_decref it. */
json_t *cf_itest_fleet_json(const char *text)
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
json_int_t cf_itest_fleet_ji(const char *text, const char *path)
{
    json_t *j = cf_itest_fleet_json(text);
    json_t *v = s_at(j, path);
    if (!json_is_integer(v))
        fail_msg("no integer at %s in %s", path, text);
    json_int_t r = json_integer_value(v);
    json_decref(j);
    return r;
}

/* The JSON text has want at path: a string, or "null", "true", "false" for those. */
void cf_itest_fleet_is(const char *text, const char *path, const char *want)
{
    json_t *j = cf_itest_fleet_json(text);
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
int cf_itest_fleet_has(const char *text, const char *path)
{
    json_t *j = cf_itest_fleet_json(text);
    int yes = s_at(j, path) != NULL;
    json_decref(j);
    return yes;
}

/* 1 when nothing accepts a TCP connection on 127.0.0.1:port. */
int cf_itest_fleet_port_closed(void *arg)
{
    return cf_itest_wait_port("127.0.0.1", *(int *) arg, 0) != CF_OK;
}

/* ---- set-up: Redis, --init on the first server, the second joins ----------------------- */

/* Start srv with priority prio and IP range; --init (with the admin's password) when init;
   then more (NULL-terminated; may be NULL). */
void cf_itest_fleet_start(cf_itest_server_t *srv, const char *alias, const char *prio,
                          const char *range, int init, const char *const *more)
{
    char pass[600];
    snprintf(pass, sizeof(pass), "%s/admin.pass", s->dir);
    const char *extra[16] = {"--priority", prio, "--ip-range", range};
    size_t n = 4;
    if (init) {
        extra[n++] = "--init";
        extra[n++] = "--admin-password-file";
        extra[n++] = pass;
    }
    for (size_t i = 0; more && more[i] && n + 1 < 16; i++)
        extra[n++] = more[i];
    if (cf_itest_server_start(srv, s->dir, s->redis.port, alias, extra) != CF_OK)
        fail_msg("%s did not start; see %s", alias, srv->log);
}

int cf_itest_fleet_setup(const char *name)
{
    signal(SIGPIPE, SIG_IGN);
    cf_test_tmpdir(name, s->dir, sizeof(s->dir));
    const char *bin = getenv("CF_BIN_DIR");
    snprintf(s->bin, sizeof(s->bin), "%s/server/cf-server", bin && *bin ? bin : ".");
    assert_int_equal(cf_itest_redis_start(&s->redis, NULL), CF_OK);
    char path[600];
    cf_why_t why = {""};
    snprintf(path, sizeof(path), "%s/secret", s->dir);
    assert_int_equal(cf_seal_generate_file(path, "fleet-1", &why), CF_OK);
    assert_int_equal(cf_test_sh("cd '%s' && umask 077 && printf '%%s' '" CF_ITEST_FLEET_ADMIN_PASS
                                "' >admin.pass",
                                s->dir),
                     0);
    /* srv-a hands agents a broker endpoint (only its text matters to these tests) */
    const char *const agent_broker[] = {"--agent-broker", CF_ITEST_FLEET_AGENT_BROKER, NULL};
    cf_itest_fleet_start(&s->a, "srv-a", "10", "127.0.0.0/25", 1, agent_broker);
    cf_itest_fleet_start(&s->b, "srv-b", "20", "127.0.0.128-127.0.0.255", 0, NULL);
    s->store = cf_itest_store_at(s->redis.port, NULL);
    /* the CA --init made, opened with the deployment's secret, issues our client certificates */
    cf_cert_t *cert = NULL;
    cf_key_t *key = NULL;
    assert_int_equal(cf_seal_load_file(path, 0, &s->seal, &why), CF_OK);
    assert_int_equal(cf_db_ca_get(s->store, s->seal, &cert, &key), CF_OK);
    assert_int_equal(cf_ca_load(cert, key, &s->ca), CF_OK);
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
    snprintf(path, sizeof(path), "%s/ca.pem", s->dir);
    cf_itest_ca_write(s->ca, path);
    time_t now = time(NULL);
    cf_itest_fleet_issue(NULL, 0, 30, "console", &s->console);
    cf_itest_fleet_issue("agent-1", 0, 30, "agent1", &s->agent1);
    cf_itest_fleet_issue("agent-2", 0, 30, "old2", &s->old2);
    cf_itest_fleet_issue("agent-2", 0, 30, "new2", &s->new2);
    cf_itest_fleet_issue("agent-5", 0, 30, "agent5", &s->agent5);
    cf_itest_fleet_issue("agent-old", now - 3 * 86400, 1, "expired", &s->expired);
    char body[CF_ITEST_FLEET_BODY];
    if (cf_itest_fleet_call(&s->a, 0, &s->console, 0, "POST", "/api/v1/login",
                            "{\"user\":\"admin\",\"password\":\"" CF_ITEST_FLEET_ADMIN_PASS "\"}",
                            NULL, body) != 200)
        fail_msg("no admin session (cf-server needs the session routes, served): %s", body);
    json_t *j = cf_itest_fleet_json(body);
    snprintf(s->token, sizeof(s->token), "%s",
             json_string_value(json_object_get(j, "token")) ?: "");
    json_decref(j);
    assert_true(s->token[0]);
    return 0;
}

int cf_itest_fleet_teardown(void **state)
{
    (void) state;
    cf_itest_cert_t *c[] = {&s->console, &s->agent1, &s->old2, &s->new2, &s->agent5, &s->expired};
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
        cf_itest_cert_free(c[i]);
    /* stop them as an operator would; the atexit clean-up kills what is left */
    cf_itest_server_stop(&s->a, SIGTERM);
    cf_itest_server_stop(&s->b, SIGTERM);
    cf_ca_destroy(&s->ca);
    cf_seal_destroy(&s->seal);
    cf_store_destroy(&s->store);
    cf_itest_redis_stop(&s->redis);
    return 0;
}

/* ---- many check-ins at once: curl configs run in parallel ------------------------------ */

/* Write one transfer of a curl config: a check-in of id from 127.0.0.<host> to srv, over
   TLS with cert (NULL: none) or, when plain, over the plain listener; the answer goes to
   file "<id>.out" and its status (and Retry-After) to curl's output. */
void cf_itest_fleet_bulk_line(FILE *f, const cf_itest_server_t *srv, int plain,
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

/* A new curl config file <dir>/<name>.cfg for cf_itest_fleet_bulk_line. */
FILE *cf_itest_fleet_cfg(const char *name)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s.cfg", s->dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    return f;
}

/* Run the expect transfers of <name>.cfg, parallel at a time: *ok counts the answers 200,
 *busy those 503, and *after is the smallest Retry-After among the latter. */
void cf_itest_fleet_bulk_run(const char *name, int expect, int parallel, int *ok, int *busy,
                             int *after)
{
    char out[1400], *save = NULL;
    snprintf(out, sizeof(out), "%s/%s.codes", s->dir, name);
    assert_int_equal(cf_test_sh("cd '%s' && curl -sS --max-time 60 --parallel --parallel-max %d "
                                "-K %s.cfg >%s.codes",
                                s->dir, parallel, name, name),
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

/* A check-in as the cf_itest_fleet_try_t arg describes: 1 when it got its status. */
int cf_itest_fleet_try(void *arg)
{
    const cf_itest_fleet_try_t *t = arg;
    char body[CF_ITEST_FLEET_BODY];
    const char *who = t->cert ? "{}" : "{\"id\":\"agent-3\"}"; /* a certificate names its agent */
    return cf_itest_fleet_checkin(t->srv, t->cert, who, NULL, body) == t->want;
}
