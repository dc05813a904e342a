/*  test_api_certs - generating, importing and listing certificates through a real cf-server over a
    real redis-server, by curl  */
#include "cf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "cf_ca.h"
#include "cf_itest.h"
#include "cf_itest_certfix.h"
#include "cf_itest_certs.h"
#include "cf_mem.h"

static cf_itest_certs_t s_t; /* the server under test */

/* ---- helpers --------------------------------------------------------------------------- */

/* The cert object for component/name in a {"certs":[...]} answer, NULL when absent. */
static const json_t *s_find(const json_t *answer, const char *comp, const char *name)
{
    const json_t *arr = json_object_get(answer, "certs");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *c = json_array_get(arr, i);
        if (strcmp(cf_itest_certs_str(c, "component"), comp) == 0 &&
            strcmp(cf_itest_certs_str(c, "name"), name) == 0)
            return c;
    }
    return NULL;
}

/* 1 when two dumps are equal. */
static int s_same(const cf_itest_certfix_dump_t *a, const cf_itest_certfix_dump_t *b)
{
    return a->len == b->len && memcmp(a->buf, b->buf, a->len) == 0;
}

/* The SHA-256 fingerprint of a PEM file as the API writes it (lowercase, no colons), and
   as openssl prints it (colons) when colons is set. */
static void s_fp(const char *file, int colons, char *out, size_t len)
{
    char path[600];
    assert_int_equal(cf_test_sh("cd '%s' && openssl x509 -in %s -noout -fingerprint -sha256 | "
                                "cut -d= -f2 %s >fp.out",
                                s_t.dir, file, colons ? "" : "| tr -d ':\\n' | tr A-F a-f"),
                     0);
    snprintf(path, sizeof(path), "%s/fp.out", s_t.dir);
    char *fp = cf_test_read_file(path, NULL);
    fp[strcspn(fp, "\n")] = '\0';
    snprintf(out, len, "%s", fp);
    free(fp);
}

static int s_setup(void **state)
{
    (void) state;
    cf_itest_certs_start(&s_t, "test_api_certs");
    cf_itest_certfix_make(s_t.dir);
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    cf_itest_certs_stop(&s_t);
    return 0;
}

/* ---- tests ----------------------------------------------------------------------------- */

static json_int_t now_s(void)
{
    return (json_int_t) time(NULL);
}

/* Condition: the server presents the certificate of fingerprint arg. */
static int s_presents(void *arg)
{
    return cf_test_sh("cd '%s' && timeout 10 openssl s_client -connect 127.0.0.1:%d -CAfile "
                      "ca.pem </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 "
                      "| tr -d ':\\n' | tr A-F a-f | grep -q '%s'",
                      s_t.dir, s_t.port, (const char *) arg) == 0;
}

static char s_gen1[3][65]; /* fingerprints of the first generate-all: server, console, agent */

static void test_usage(void **state)
{
    (void) state;
    CF_ITEST_CERTS_NEED();
    /* generate every certificate: each server's, the console's, the shared agent certificate
       of install packages */
    json_t *o = cf_itest_certs_call(200, NULL, "POST", "/certs/generate-all", "%s",
                                    "{\"key_type\":\"p256\",\"days\":90}");
    json_t *gen = json_object_get(o, "generated");
    assert_int_equal(json_array_size(gen), 3);
    assert_int_equal(json_array_size(json_object_get(o, "failed")), 0);
    for (size_t i = 0; i < 3; i++) {
        json_t *c = json_array_get(gen, i);
        assert_string_equal(cf_itest_certs_str(c, "kind"), "generated");
        assert_string_equal(cf_itest_certs_str(c, "state"), "current");
        assert_string_equal(cf_itest_certs_str(c, "key_type"), "P-256");
        assert_int_equal(json_integer_value(json_object_get(c, "days_left")), 90);
        snprintf(s_gen1[i], sizeof(s_gen1[i]), "%s", cf_itest_certs_str(c, "fingerprint"));
    }
    /* the server's covers its alias, host and --san names */
    json_t *srv = json_array_get(gen, 0);
    assert_string_equal(cf_itest_certs_str(srv, "name"), "localhost");
    char *sans = json_dumps(json_object_get(srv, "san"), JSON_COMPACT);
    assert_string_equal(sans, "[\"DNS:localhost\",\"DNS:cf.example.test\",\"IP:127.0.0.1\"]");
    free(sans);
    json_decref(o);
    o = cf_itest_certs_call(200, NULL, "GET", "/certs/agent/shared", NULL);
    assert_string_equal(cf_itest_certs_str(o, "fingerprint"), s_gen1[2]);
    assert_true(json_is_true(json_object_get(o, "has_key")));
    assert_true(json_integer_value(json_object_get(o, "renew_at")) > 0);
    json_decref(o);
    /* the server presents its new certificate from the next handshakes on */
    assert_true(cf_test_wait_until(s_presents, s_gen1[0], 10000));
}

/* 1 when the newest 50 audit events hold one with what and result. */
static int s_audited(const char *what, const char *result)
{
    redisContext *c = redisConnect("127.0.0.1", s_t.redis.port);
    assert_true(c && !c->err);
    redisReply *r = redisCommand(c, "XREVRANGE cf:audit + - COUNT 50");
    assert_true(r && r->type == REDIS_REPLY_ARRAY);
    int found = 0;
    for (size_t i = 0; !found && i < r->elements; i++) {
        const redisReply *f = r->element[i]->element[1];
        int w = 0, res = 0;
        for (size_t j = 0; j + 1 < f->elements; j += 2) {
            const char *k = f->element[j]->str, *v = f->element[j + 1]->str;
            w |= strcmp(k, "what") == 0 && strcmp(v, what) == 0;
            res |= strcmp(k, "result") == 0 && strcmp(v, result) == 0;
        }
        found = w && res;
    }
    freeReplyObject(r);
    redisFree(c);
    return found;
}

static void test_import_p12(void **state)
{
    (void) state;
    CF_ITEST_CERTS_NEED();
    char *b64 = cf_itest_certs_file_b64("srv.p12"), *junk = cf_itest_certs_file_b64("junk.p12"),
         fp[80];
    cf_itest_certfix_dump_t before = cf_itest_certfix_dump(s_t.redis.port, 0);
    /* wrong password, a corrupt file, no base64: 422 with the reason, nothing stored */
    json_decref(cf_itest_certs_import(422, "import: wrong password", "server/srv2.test",
                                      CF_ITEST_CERTFIX_P12, b64, "nope"));
    json_decref(
        cf_itest_certs_import(422, "corrupt", "server/srv2.test", CF_ITEST_CERTFIX_P12, junk, "x"));
    json_decref(cf_itest_certs_import(422, "base64", "server/srv2.test", CF_ITEST_CERTFIX_P12,
                                      "@@@@", "x"));
    /* over the upload cap (256 KiB): 413 before any parsing */
    char *huge = malloc(300 * 1024 + 1);
    memset(huge, 'A', 300 * 1024);
    huge[300 * 1024] = '\0';
    json_decref(
        cf_itest_certs_import(413, NULL, "server/srv2.test", CF_ITEST_CERTFIX_P12, huge, "x"));
    free(huge);
    cf_itest_certfix_dump_t after = cf_itest_certfix_dump(s_t.redis.port, 0);
    assert_true(s_same(&before, &after));
    free(before.buf), free(after.buf), free(junk);
    /* the right password */
    json_t *o = cf_itest_certs_import(200, NULL, "server/srv2.test", CF_ITEST_CERTFIX_P12, b64,
                                      CF_ITEST_CERTFIX_IMPPASS);
    s_fp("srv.pem", 0, fp, sizeof(fp));
    assert_string_equal(cf_itest_certs_str(o, "fingerprint"), fp);
    assert_string_equal(cf_itest_certs_str(o, "kind"), "imported");
    assert_string_equal(cf_itest_certs_str(o, "issuer"), "CN=Outside CA");
    json_decref(o);
    free(b64);
    /* the refusal went to the audit stream */
    assert_true(s_audited("cert.import", "BADPASS"));
}

static void test_import_pem(void **state)
{
    (void) state;
    CF_ITEST_CERTS_NEED();
    char *cert = cf_itest_certs_file_json("srv.pem"), *key = cf_itest_certs_file_json("srv.key");
    char *enc = cf_itest_certs_file_json("srv-enc.key"), *ops = cf_itest_certs_file_json("ops.pem");
    char *ops_key = cf_itest_certs_file_json("ops.key"), *xca = cf_itest_certs_file_json("xca.pem");
    /* a PEM pair; an encrypted key with its password, a wrong one and none */
    json_t *o = cf_itest_certs_import(200, NULL, "console/ops", CF_ITEST_CERTFIX_PEM, ops, ops_key);
    assert_string_equal(cf_itest_certs_str(o, "kind"), "imported");
    json_decref(o);
    json_decref(cf_itest_certs_import(200, NULL, "server/srv3.test", CF_ITEST_CERTFIX_PEMPW, cert,
                                      enc, CF_ITEST_CERTFIX_KEYPASS));
    json_decref(cf_itest_certs_import(422, "wrong password", "server/srv3.test",
                                      CF_ITEST_CERTFIX_PEMPW, cert, enc, "x"));
    json_decref(cf_itest_certs_import(422, "wrong password", "server/srv3.test",
                                      CF_ITEST_CERTFIX_PEM, cert, enc));
    /* a key that is not the certificate's; a server alias the SANs do not cover */
    json_decref(cf_itest_certs_import(422, "does not match", "server/srv2.test",
                                      CF_ITEST_CERTFIX_PEM, cert, ops_key));
    json_decref(cf_itest_certs_import(422, "do not cover the alias srv9.test", "server/srv9.test",
                                      CF_ITEST_CERTFIX_PEM, cert, key));
    /* public only: for identification; a server needs its key; a CA is no component */
    o = cf_itest_certs_import(200, NULL, "console/ops-public", CF_ITEST_CERTFIX_PUB, ops);
    assert_string_equal(cf_itest_certs_str(o, "kind"), "public");
    assert_true(json_is_false(json_object_get(o, "has_key")));
    json_decref(o);
    json_decref(cf_itest_certs_import(422, "no private key", "server/srv2.test",
                                      CF_ITEST_CERTFIX_PUB, cert));
    json_decref(
        cf_itest_certs_import(422, "CA certificate", "console/xca", CF_ITEST_CERTFIX_PUB, xca));
    /* malformed requests */
    json_decref(cf_itest_certs_import(400, "format", "console/x", "%s", "{\"format\":\"pfx\"}"));
    json_decref(
        cf_itest_certs_import(400, "dta", "console/x", "%s", "{\"format\":\"p12\",\"dta\":\"x\"}"));
    json_decref(
        cf_itest_certs_import(400, "shared", "agent/agent-7", CF_ITEST_CERTFIX_PUB, "\"x\""));
    json_decref(cf_itest_certs_import(400, "component", "ca/x", CF_ITEST_CERTFIX_PUB, "\"x\""));
    free(cert), free(key), free(enc), free(ops), free(ops_key), free(xca);
}

static void test_import_store(void **state)
{
    (void) state;
    CF_ITEST_CERTS_NEED();
    char fp[128], want[80];
    /* by subject: a public certificate from a .pem file */
    json_t *o = cf_itest_certs_import(200, NULL, "console/desk", CF_ITEST_CERTFIX_STORE, s_t.dir,
                                      "store", "DESK.example");
    assert_string_equal(cf_itest_certs_str(o, "kind"), "public");
    assert_string_equal(cf_itest_certs_str(o, "subject"), "CN=desk.example");
    json_decref(o);
    /* by fingerprint as openssl prints it: with the password, from the .p12, with its key */
    s_fp("ops.pem", 1, fp, sizeof(fp));
    s_fp("ops.pem", 0, want, sizeof(want));
    o = cf_itest_certs_import(
        200, NULL, "console/ops-store",
        "{\"store\":\"%s/store\",\"match\":\"%s\",\"password\":\"" CF_ITEST_CERTFIX_IMPPASS "\"}",
        s_t.dir, fp);
    assert_string_equal(cf_itest_certs_str(o, "kind"), "imported");
    assert_string_equal(cf_itest_certs_str(o, "fingerprint"), want);
    json_decref(o);
    /* refusals: no match, no such directory; a relative path is a bad request */
    json_decref(cf_itest_certs_import(422, "matches", "console/desk", CF_ITEST_CERTFIX_STORE,
                                      s_t.dir, "store", "nobody"));
    json_decref(cf_itest_certs_import(422, "cannot open", "console/desk", CF_ITEST_CERTFIX_STORE,
                                      s_t.dir, "nostore", "desk"));
    json_decref(cf_itest_certs_import(400, "absolute", "console/desk", "%s",
                                      "{\"store\":\"s\",\"match\":\"d\"}"));
}

/* Import into console/refused a certificate issued by ca at now for seconds: a 422 saying
   want. */
static void s_refused_console(cf_ca_t *ca, time_t now, long seconds, const char *want)
{
    cf_issue_t req = {0};
    req.component = CF_COMPONENT_CONSOLE;
    req.name = "console";
    req.now = now;
    req.seconds = seconds;
    cf_cert_t *cert = NULL;
    cf_key_t *key = NULL;
    char *pem = NULL, *kpem = NULL;
    size_t len = 0, klen = 0;
    assert_int_equal(cf_ca_issue(ca, &req, &cert, &key), CF_OK);
    assert_int_equal(cf_cert_to_pem(cert, &pem, &len), CF_OK);
    assert_int_equal(cf_key_to_pem(key, NULL, &kpem, &klen), CF_OK);
    json_t *body = json_pack("{s:s,s:s,s:s}", "format", "pem", "cert", pem, "key", kpem);
    char *text = json_dumps(body, 0);
    json_decref(cf_itest_certs_import(422, want, "console/refused", "%s", text));
    free(text);
    json_decref(body);
    cf_mem_free(pem);
    cf_mem_free_secret(kpem, klen);
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
}

static void test_import_refusals(void **state)
{
    (void) state;
    CF_ITEST_CERTS_NEED();
    time_t now = time(NULL);
    /* a CA named as ours: its certificates claim to be ours, so they must chain to it */
    cf_ca_t *fake = NULL, *other = NULL;
    assert_int_equal(cf_ca_create(NULL, &fake), CF_OK); /* also "certfleet CA" */
    s_refused_console(fake, now, 3600, "does not chain to the CA");
    /* another CA's: expired, not yet valid */
    cf_ca_opts_t opts = {CF_KEY_P256, "Other CA", 30, now - 10 * 86400};
    assert_int_equal(cf_ca_create(&opts, &other), CF_OK);
    s_refused_console(other, now - 5 * 86400, 3600, "certificate expired");
    s_refused_console(other, now + 2 * 86400, 3600, "not yet valid");
    cf_ca_destroy(&fake);
    cf_ca_destroy(&other);
    /* a key we do not accept (RSA-1024); a console certificate as a server's */
    assert_int_equal(cf_test_sh("cd '%s' && openssl req -x509 -newkey rsa:1024 -nodes -subj "
                                "/CN=weak -keyout weak.key -out weak.pem -days 2",
                                s_t.dir),
                     0);
    char *weak = cf_itest_certs_file_json("weak.pem"),
         *weak_key = cf_itest_certs_file_json("weak.key");
    char *ops = cf_itest_certs_file_json("ops.pem"), *ops_key = cf_itest_certs_file_json("ops.key");
    json_decref(cf_itest_certs_import(422, "unsupported", "console/weak", CF_ITEST_CERTFIX_PEM,
                                      weak, weak_key));
    json_decref(cf_itest_certs_import(422, "serverAuth", "server/ops.example", CF_ITEST_CERTFIX_PEM,
                                      ops, ops_key));
    free(weak), free(weak_key), free(ops), free(ops_key);
    json_decref(cf_itest_certs_call(404, NULL, "GET", "/certs/console/refused", NULL));
}

static void test_list(void **state)
{
    (void) state;
    CF_ITEST_CERTS_NEED();
    static const char *const want[][3] = {
        {"server", "localhost", "generated"}, {"server", "srv2.test", "imported"},
        {"server", "srv3.test", "imported"},  {"console", "console", "generated"},
        {"console", "ops", "imported"},       {"console", "ops-public", "public"},
        {"console", "desk", "public"},        {"console", "ops-store", "imported"},
        {"agent", "shared", "generated"},
    };
    json_t *o = cf_itest_certs_call(200, NULL, "GET", "/certs", NULL);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const json_t *c = s_find(o, want[i][0], want[i][1]);
        if (!c)
            fail_msg("%s/%s not listed", want[i][0], want[i][1]);
        assert_string_equal(cf_itest_certs_str(c, "kind"), want[i][2]);
        assert_string_equal(cf_itest_certs_str(c, "state"), "current");
        assert_true(strlen(cf_itest_certs_str(c, "serial")) > 0);
        assert_true(json_integer_value(json_object_get(c, "not_after")) > now_s());
    }
    assert_int_equal(json_array_size(json_object_get(o, "certs")), 9); /* refusals stored none */
    json_decref(o);
    o = cf_itest_certs_call(200, NULL, "GET", "/certs?component=console", NULL);
    assert_int_equal(json_array_size(json_object_get(o, "certs")), 5);
    json_decref(o);
    json_decref(cf_itest_certs_call(400, "component", "GET", "/certs?component=ca", NULL));
    json_decref(cf_itest_certs_call(404, "console/nobody", "GET", "/certs/console/nobody", NULL));
    /* a viewer route without a session: 401 */
    assert_int_equal(
        cf_itest_certs_curl("GET", "/certs", NULL,
                            "--cert-type P12 --cert console.p12:" CF_ITEST_CERTS_P12PASS, NULL),
        401);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),           cmocka_unit_test(test_import_p12),
        cmocka_unit_test(test_import_pem),      cmocka_unit_test(test_import_store),
        cmocka_unit_test(test_import_refusals), cmocka_unit_test(test_list),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
