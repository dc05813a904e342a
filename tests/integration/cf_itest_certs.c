/*  cf_itest_certs - a cf-server with --init on its own redis-server, driven by curl  */
#include "cf_itest_certs.h"

#include "cf_test.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cf_itest_certs_t *s_cur; /* the server started last (test support only) */

int cf_itest_certs_curl(const char *method, const char *path, const char *json, const char *extra,
                        char **text)
{
    char file[600], args[2048];
    if (json) {
        snprintf(file, sizeof(file), "%s/req.json", s_cur->dir);
        cf_test_write_file(file, json, strlen(json));
    }
    snprintf(args, sizeof(args),
             "cd '%s' && rm -f curl.body && curl -sS --max-time 30 -o curl.body -w '%%{http_code}' "
             "--cacert ca.pem %s -X %s %s 'https://127.0.0.1:%d/api/v1%s' >curl.code 2>curl.err",
             s_cur->dir, extra ? extra : "", method,
             json ? "-H 'Content-Type: application/json' --data-binary @req.json" : "", s_cur->port,
             path);
    (void) cf_test_sh("%s", args);
    snprintf(file, sizeof(file), "%s/curl.code", s_cur->dir);
    char *code = cf_test_read_file(file, NULL);
    int status = atoi(code);
    free(code);
    if (text) {
        snprintf(file, sizeof(file), "%s/curl.body", s_cur->dir);
        *text = status ? cf_test_read_file(file, NULL) : strdup("");
    }
    return status;
}

const char *cf_itest_certs_msg(const json_t *o)
{
    const char *m = json_string_value(json_object_get(json_object_get(o, "error"), "message"));
    return m ? m : "";
}

const char *cf_itest_certs_str(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    if (!v)
        fail_msg("no string \"%s\" in the answer", key);
    return v;
}

const char *cf_itest_certs_dir(void)
{
    return s_cur->dir;
}

static json_t *s_vcall(int status, const char *want, const char *method, const char *path,
                       const char *fmt, va_list ap) CF_PRINTF(5, 0);
static json_t *s_vcall(int status, const char *want, const char *method, const char *path,
                       const char *fmt, va_list ap)
{
    char *body = NULL, extra[512], *text = NULL;
    if (fmt) {
        body = malloc(400 * 1024);
        vsnprintf(body, 400 * 1024, fmt, ap);
    }
    snprintf(extra, sizeof(extra),
             "--cert-type P12 --cert console.p12:" CF_ITEST_CERTS_P12PASS
             " -H 'Authorization: Bearer %s'",
             s_cur->token);
    int got = cf_itest_certs_curl(method, path, body, extra, &text);
    json_t *o = json_loads(text, 0, NULL);
    free(text);
    free(body);
    const char *code = json_string_value(json_object_get(json_object_get(o, "error"), "code"));
    const char *msg = cf_itest_certs_msg(o);
    if (got != status || (want && !strstr(msg, want)) ||
        (status == 422 && (!code || strcmp(code, "refused") != 0)))
        fail_msg("%s %s: %d \"%s\", expected %d \"%s\"", method, path, got, msg, status,
                 want ? want : "");
    return o;
}

json_t *cf_itest_certs_call(int status, const char *want, const char *method, const char *path,
                            const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_t *o = s_vcall(status, want, method, path, fmt, ap);
    va_end(ap);
    return o;
}

json_t *cf_itest_certs_import(int status, const char *want, const char *target, const char *fmt,
                              ...)
{
    char path[512];
    snprintf(path, sizeof(path), "/certs/%s/import", target);
    va_list ap;
    va_start(ap, fmt);
    json_t *o = s_vcall(status, want, "POST", path, fmt, ap);
    va_end(ap);
    return o;
}

char *cf_itest_certs_file_json(const char *name)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%s", s_cur->dir, name);
    char *text = cf_test_read_file(path, NULL);
    json_t *s = json_string(text);
    char *out = json_dumps(s, JSON_ENCODE_ANY);
    json_decref(s);
    free(text);
    return out;
}

char *cf_itest_certs_file_b64(const char *name)
{
    char path[600];
    assert_int_equal(cf_test_sh("cd '%s' && base64 -w0 '%s' >b64.out", s_cur->dir, name), 0);
    snprintf(path, sizeof(path), "%s/b64.out", s_cur->dir);
    return cf_test_read_file(path, NULL);
}

/* Log in as admin. A server without the session API (POST /login answers 404: that group is
   not built in yet) leaves the token empty, and the tests skip. */
static void s_login(cf_itest_certs_t *t)
{
    char *text = NULL;
    int status = cf_itest_certs_curl(
        "POST", "/login", "{\"user\":\"admin\",\"password\":\"" CF_ITEST_CERTS_ADMIN "\"}",
        "--cert-type P12 --cert console.p12:" CF_ITEST_CERTS_P12PASS, &text);
    if (status == 404) {
        print_message("cf-server has no POST /login (session API not built in): skipping\n");
        free(text);
        return;
    }
    assert_int_equal(status, 200);
    json_t *o = json_loads(text, 0, NULL);
    snprintf(t->token, sizeof(t->token), "%s", cf_itest_certs_str(o, "token"));
    json_decref(o);
    free(text);
}

int cf_itest_certs_ready(void)
{
    return s_cur && s_cur->token[0] != '\0';
}

void cf_itest_certs_start(cf_itest_certs_t *t, const char *name)
{
    memset(t, 0, sizeof(*t));
    s_cur = t;
    signal(SIGPIPE, SIG_IGN); /* curl and openssl children may close early */
    cf_test_tmpdir(name, t->dir, sizeof(t->dir));
    assert_int_equal(cf_itest_redis_start(&t->redis, NULL), CF_OK);
    assert_int_equal(cf_test_sh("cd '%s' && umask 077 && printf %%s '" CF_ITEST_CERTS_ADMIN
                                "' >admin.pass && printf %%s '" CF_ITEST_CERTS_P12PASS
                                "' >p12.pass",
                                t->dir),
                     0);
    t->port = cf_itest_free_port();
    const char *bin = getenv("CF_BIN_DIR");
    char line[4096], log[600], *argv[32];
    snprintf(line, sizeof(line),
             "%s/server/cf-server --init --redis 127.0.0.1:%d --alias localhost --host 127.0.0.1 "
             "--san cf.example.test --bind 127.0.0.1 --port %d --secret-file %s/secret --out %s "
             "--admin-password-file %s/admin.pass --p12-password-file %s/p12.pass",
             bin && *bin ? bin : ".", t->redis.port, t->port, t->dir, t->dir, t->dir, t->dir);
    size_t n = 0;
    for (char *tok = strtok(line, " "); tok && n < 31; tok = strtok(NULL, " "))
        argv[n++] = tok;
    argv[n] = NULL;
    snprintf(log, sizeof(log), "%s/server.log", t->dir);
    assert_int_equal(cf_itest_spawn(argv, log, &t->server), CF_OK);
    assert_int_equal(cf_itest_wait_port("127.0.0.1", t->port, 30000), CF_OK);
    s_login(t);
}

void cf_itest_certs_stop(cf_itest_certs_t *t)
{
    if (t->server)
        assert_int_equal(cf_itest_kill(t->server, SIGTERM), CF_OK);
    t->server = 0;
    cf_itest_redis_stop(&t->redis);
}
