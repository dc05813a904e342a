/*  test_api_certs - the certificate API of a real cf-server over a real redis-server, by curl  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "cf_ca.h"
#include "cf_db_agent.h"
#include "cf_db_archive.h"
#include "cf_db_meta.h"
#include "cf_itest.h"
#include "cf_mem.h"
#include "cf_p12.h"
#include "cf_seal.h"

#define S_P12PASS "console-p12-pass" /* --p12-password-file: opens console.p12 */
#define S_ADMIN   "admin-password-1" /* --admin-password-file */
#define S_IMPPASS "imp-pass"         /* the PKCS#12 files made by openssl */
#define S_KEYPASS "key-pass"         /* the encrypted PEM key made by openssl */
#define S_EXPPASS "exp-pass"         /* exports */
#define S_MAXKEYS 16                 /* exported keys whose scalars are searched for */

static char s_dir[512]; /* test directory: fixtures, curl files, server log */
static cf_itest_redis_t s_redis;
static pid_t s_server;                        /* cf-server */
static int s_port;                            /* its HTTPS port */
static char s_token[128];                     /* admin session */
static unsigned char s_scalar[S_MAXKEYS][64]; /* private scalars of exported keys */
static size_t s_scalar_len[S_MAXKEYS], s_n_scalars;

/* ---- helpers --------------------------------------------------------------------------- */

/* Run curl against the server with the console certificate; the request body (NULL: none)
   goes through req.json. Returns the status (0: no answer); *text (may be NULL) the body. */
static int s_curl(const char *method, const char *path, const char *json, const char *extra,
                  char **text)
{
    char path_buf[600], args[2048];
    if (json) {
        snprintf(path_buf, sizeof(path_buf), "%s/req.json", s_dir);
        cf_test_write_file(path_buf, json, strlen(json));
    }
    snprintf(args, sizeof(args),
             "cd '%s' && rm -f curl.body && curl -sS --max-time 30 -o curl.body -w '%%{http_code}' "
             "--cacert ca.pem %s -X %s %s 'https://127.0.0.1:%d/api/v1%s' >curl.code 2>curl.err",
             s_dir, extra ? extra : "", method,
             json ? "-H 'Content-Type: application/json' --data-binary @req.json" : "", s_port,
             path);
    (void) cf_test_sh("%s", args);
    snprintf(path_buf, sizeof(path_buf), "%s/curl.code", s_dir);
    char *code = cf_test_read_file(path_buf, NULL);
    int status = atoi(code);
    free(code);
    if (text) {
        snprintf(path_buf, sizeof(path_buf), "%s/curl.body", s_dir);
        *text = status ? cf_test_read_file(path_buf, NULL) : strdup("");
    }
    return status;
}

/* An admin call: console certificate and the session token. *out (may be NULL) is the
   parsed JSON answer (json_decref it), NULL when it is not JSON. */
static int s_api(const char *method, const char *path, const char *json, json_t **out)
{
    char extra[512], *text = NULL;
    snprintf(extra, sizeof(extra),
             "--cert-type P12 --cert console.p12:" S_P12PASS " -H 'Authorization: Bearer %s'",
             s_token);
    int status = s_curl(method, path, json, extra, &text);
    if (out)
        *out = json_loads(text, 0, NULL);
    free(text);
    return status;
}

/* The error message of an error answer ("" when there is none). */
static const char *s_msg(const json_t *o)
{
    const char *m = json_string_value(json_object_get(json_object_get(o, "error"), "message"));
    return m ? m : "";
}

static const char *s_code(const json_t *o)
{
    const char *c = json_string_value(json_object_get(json_object_get(o, "error"), "code"));
    return c ? c : "";
}

static const char *s_str(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    assert_non_null(v);
    return v;
}

/* The cert object for component/name in a {"certs":[...]} answer, NULL when absent. */
static const json_t *s_find(const json_t *answer, const char *comp, const char *name)
{
    const json_t *arr = json_object_get(answer, "certs");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *c = json_array_get(arr, i);
        if (strcmp(s_str(c, "component"), comp) == 0 && strcmp(s_str(c, "name"), name) == 0)
            return c;
    }
    return NULL;
}

/* A file of the test directory as a JSON string literal (newlines escaped). */
static char *s_file_json(const char *name)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%s", s_dir, name);
    char *text = cf_test_read_file(path, NULL);
    json_t *s = json_string(text);
    char *out = json_dumps(s, JSON_ENCODE_ANY);
    json_decref(s);
    free(text);
    return out;
}

/* base64 of a file of the test directory (one line). */
static char *s_file_b64(const char *name)
{
    char path[600];
    assert_int_equal(cf_test_sh("cd '%s' && base64 -w0 '%s' >b64.out", s_dir, name), 0);
    snprintf(path, sizeof(path), "%s/b64.out", s_dir);
    return cf_test_read_file(path, NULL);
}

/* Import body text into component/name; returns the status, *out the answer. */
static int s_import(const char *comp, const char *name, const char *body, json_t **out)
{
    char path[512];
    snprintf(path, sizeof(path), "/certs/%s/%s/import", comp, name);
    return s_api("POST", path, body, out);
}

/* ---- Redis dump: every key, its type and every value ----------------------------------- */

typedef struct {
    char *buf;  /* the dump */
    size_t len; /* bytes used */
    size_t cap; /* allocated */
} s_dump_t;

static void s_put(s_dump_t *d, const void *p, size_t n)
{
    if (d->len + n + 1 > d->cap) {
        d->cap = (d->len + n + 1) * 2;
        d->buf = realloc(d->buf, d->cap);
        assert_non_null(d->buf);
    }
    memcpy(d->buf + d->len, p, n);
    d->len += n;
}

static int s_elem_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Flatten a reply's strings (and nested arrays) into the dump, sorted per key so that two
   dumps of the same data compare equal whatever order Redis answers in. */
static void s_flatten(const redisReply *r, char ***el, size_t *n)
{
    if (r->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < r->elements; i++)
            s_flatten(r->element[i], el, n);
        return;
    }
    if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS)
        return;
    *el = realloc(*el, (*n + 1) * sizeof(char *));
    (*el)[*n] = malloc(r->len + 16);
    snprintf((*el)[*n], 16, "%zu:", r->len);
    size_t head = strlen((*el)[*n]);
    memcpy((*el)[*n] + head, r->str, r->len); /* values may hold NULs: the length leads */
    (*el)[*n][head + r->len] = '\0';
    (*n)++;
}

static void s_dump_key(redisContext *c, const char *key, s_dump_t *d)
{
    redisReply *t = redisCommand(c, "TYPE %s", key), *v = NULL;
    assert_non_null(t);
    if (strcmp(t->str, "string") == 0)
        v = redisCommand(c, "GET %s", key);
    else if (strcmp(t->str, "hash") == 0)
        v = redisCommand(c, "HGETALL %s", key);
    else if (strcmp(t->str, "set") == 0)
        v = redisCommand(c, "SMEMBERS %s", key);
    else if (strcmp(t->str, "zset") == 0)
        v = redisCommand(c, "ZRANGE %s 0 -1 WITHSCORES", key);
    else if (strcmp(t->str, "list") == 0)
        v = redisCommand(c, "LRANGE %s 0 -1", key);
    else if (strcmp(t->str, "stream") == 0)
        v = redisCommand(c, "XRANGE %s - +", key);
    else
        fail_msg("key %s has type %s, which the dump does not read", key, t->str);
    assert_non_null(v);
    char **el = NULL;
    size_t n = 0;
    s_flatten(v, &el, &n);
    qsort(el, n, sizeof(char *), s_elem_cmp);
    s_put(d, key, strlen(key));
    s_put(d, "\n", 1);
    s_put(d, t->str, strlen(t->str));
    s_put(d, "\n", 1);
    for (size_t i = 0; i < n; i++) {
        const char *colon = strchr(el[i], ':');
        s_put(d, el[i], (size_t) (colon - el[i]) + 1 + strtoul(el[i], NULL, 10));
        s_put(d, "\n", 1);
        free(el[i]);
    }
    free(el);
    freeReplyObject(v);
    freeReplyObject(t);
}

/* Every key (SCAN) with its values; all = 0 leaves out what changes by itself or by every
   admin call (audit stream, heartbeats, leases, sessions). */
static s_dump_t s_dump(int all)
{
    redisContext *c = redisConnect("127.0.0.1", s_redis.port);
    assert_true(c && !c->err);
    char **keys = NULL, cursor[32] = "0";
    size_t n = 0;
    do {
        redisReply *r = redisCommand(c, "SCAN %s COUNT 1000", cursor);
        assert_true(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            const char *k = r->element[1]->element[i]->str;
            if (!all && (strcmp(k, "cf:audit") == 0 || strncmp(k, "cf:hb:", 6) == 0 ||
                         strncmp(k, "cf:lease:", 9) == 0 || strncmp(k, "cf:session:", 11) == 0))
                continue;
            keys = realloc(keys, (n + 1) * sizeof(char *));
            keys[n++] = strdup(k);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    qsort(keys, n, sizeof(char *), s_elem_cmp);
    s_dump_t d = {NULL, 0, 0};
    for (size_t i = 0; i < n; i++) {
        s_dump_key(c, keys[i], &d);
        free(keys[i]);
    }
    free(keys);
    redisFree(c);
    s_put(&d, "", 0);
    return d;
}

/* Where needle first occurs in hay (memmem is a GNU extension). */
static const void *s_find_bytes(const void *hay, size_t n, const void *needle, size_t m)
{
    const unsigned char *h = hay;
    for (size_t i = 0; m && i + m <= n; i++) {
        if (h[i] == *(const unsigned char *) needle && memcmp(h + i, needle, m) == 0)
            return h + i;
    }
    return NULL;
}

/* 1 when two dumps are equal. */
static int s_same(const s_dump_t *a, const s_dump_t *b)
{
    return a->len == b->len && memcmp(a->buf, b->buf, a->len) == 0;
}

/* ---- private scalars of exported keys, and the search for clear keys ------------------- */

/* Keep the private scalar of the key in a PKCS#12 (DER) exported by the API. */
static void s_keep_scalar(const unsigned char *der, size_t len, const char *password)
{
    cf_p12_content_t c = {0};
    assert_int_equal(cf_p12_parse(der, len, password, 0, &c, NULL), CF_OK);
    assert_non_null(c.key);
    assert_true(s_n_scalars < S_MAXKEYS);
    EVP_PKEY *pkey = cf_key_pkey(c.key);
    size_t n = sizeof(s_scalar[0]);
    unsigned char *out = s_scalar[s_n_scalars];
    if (EVP_PKEY_get_raw_private_key(pkey, out, &n) != 1) { /* Ed25519 has raw bytes; */
        BIGNUM *d = NULL;                                   /* EC keys a scalar d */
        assert_int_equal(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d), 1);
        n = (size_t) (EVP_PKEY_get_bits(pkey) + 7) / 8;
        assert_true(BN_bn2binpad(d, out, (int) n) == (int) n);
        BN_clear_free(d);
    }
    s_scalar_len[s_n_scalars++] = n;
    cf_p12_content_clear(&c);
}

/* base64 of bytes[0..n) at the three alignments a value may put them at: for each, the
   characters that depend on those bytes only. Calls fn for each form. */
static void s_b64_forms(const unsigned char *b, size_t n, void (*fn)(const char *, void *),
                        void *arg)
{
    for (size_t skip = 0; skip < 3 && skip < n; skip++) {
        size_t m = (n - skip) / 3 * 3;
        char text[256];
        if (m < 6)
            continue; /* too short to mean anything */
        EVP_EncodeBlock((unsigned char *) text, b + skip, (int) m);
        fn(text, arg);
    }
}

typedef struct {
    const s_dump_t *dump; /* where to look */
    const char *what;     /* what is looked for, for the failure message */
} s_search_t;

static void s_absent(const s_search_t *s, const void *needle, size_t n)
{
    if (s_find_bytes(s->dump->buf, s->dump->len, needle, n))
        fail_msg("Redis holds %s (%zu bytes)", s->what, n);
}

static void s_absent_text(const char *text, void *arg)
{
    s_absent(arg, text, strlen(text));
}

/* Bytes as lowercase and uppercase hex, raw, and in base64. */
static void s_absent_bytes(s_search_t *s, const unsigned char *b, size_t n)
{
    char hex[2 * 64 + 1], up[2 * 64 + 1];
    for (size_t i = 0; i < n && i < 64; i++) {
        snprintf(hex + 2 * i, 3, "%02x", b[i]);
        snprintf(up + 2 * i, 3, "%02X", b[i]);
    }
    s_absent(s, b, n);
    s_absent(s, hex, 2 * n);
    s_absent(s, up, 2 * n);
    s_b64_forms(b, n, s_absent_text, s);
}

/* ---- fixtures -------------------------------------------------------------------------- */

/* Certificates of another CA, made by openssl: srv (server: srv2.test, srv3.test) as PKCS#12,
   PEM key and encrypted PEM key; ops (console, clientAuth) as PEM and PKCS#12; a store
   directory with desk.pem (public) and ops.p12. */
static void s_fixtures(void)
{
    assert_int_equal(
        cf_test_sh(
            "cd '%s' && umask 077 && "
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout xca.key "
            "-out xca.pem -days 30 -subj '/CN=Outside CA' -addext "
            "basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign && "
            "for c in srv ops desk; do openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
            "-nodes -keyout $c.key -out $c.csr -subj /CN=$c.example || exit 1; done && "
            "printf 'subjectAltName=DNS:srv2.test,DNS:srv3.test\\nextendedKeyUsage=serverAuth\\n' "
            ">srv.ext && printf 'extendedKeyUsage=clientAuth\\n' >cli.ext && "
            "openssl x509 -req -in srv.csr -CA xca.pem -CAkey xca.key -CAcreateserial -days 20 "
            "-extfile srv.ext -out srv.pem && "
            "openssl x509 -req -in ops.csr -CA xca.pem -CAkey xca.key -days 20 -extfile cli.ext "
            "-out ops.pem && "
            "openssl x509 -req -in desk.csr -CA xca.pem -CAkey xca.key -days 20 -extfile cli.ext "
            "-out desk.pem && "
            "openssl pkcs12 -export -in srv.pem -inkey srv.key -certfile xca.pem "
            "-passout pass:" S_IMPPASS " -out srv.p12 && "
            "openssl pkey -in srv.key -aes256 -passout pass:" S_KEYPASS " -out srv-enc.key && "
            "mkdir store && cp desk.pem store/desk.pem && cp xca.pem store/ca.crt && "
            "openssl pkcs12 -export -in ops.pem -inkey ops.key -passout pass:" S_IMPPASS
            " -out store/ops.p12 && head -c 900 /dev/urandom >junk.p12",
            s_dir),
        0);
}

/* The SHA-256 fingerprint of a PEM file as the API writes it (lowercase, no colons), and
   as openssl prints it (colons) when colons is set. */
static void s_fp(const char *file, int colons, char *out, size_t len)
{
    char path[600];
    assert_int_equal(cf_test_sh("cd '%s' && openssl x509 -in %s -noout -fingerprint -sha256 | "
                                "cut -d= -f2 %s >fp.out",
                                s_dir, file, colons ? "" : "| tr -d ':\\n' | tr A-F a-f"),
                     0);
    snprintf(path, sizeof(path), "%s/fp.out", s_dir);
    char *fp = cf_test_read_file(path, NULL);
    fp[strcspn(fp, "\n")] = '\0';
    snprintf(out, len, "%s", fp);
    free(fp);
}

static void s_login(void)
{
    char extra[256], *text = NULL;
    snprintf(extra, sizeof(extra), "--cert-type P12 --cert console.p12:" S_P12PASS);
    assert_int_equal(
        s_curl("POST", "/login", "{\"user\":\"admin\",\"password\":\"" S_ADMIN "\"}", extra, &text),
        200);
    json_t *o = json_loads(text, 0, NULL);
    snprintf(s_token, sizeof(s_token), "%s", s_str(o, "token"));
    json_decref(o);
    free(text);
}

static int s_setup(void **state)
{
    (void) state;
    signal(SIGPIPE, SIG_IGN);
    cf_test_tmpdir("test_api_certs", s_dir, sizeof(s_dir));
    assert_int_equal(cf_itest_redis_start(&s_redis, NULL), CF_OK);
    assert_int_equal(cf_test_sh("cd '%s' && umask 077 && printf %%s '" S_ADMIN
                                "' >admin.pass && printf %%s '" S_P12PASS "' >p12.pass",
                                s_dir),
                     0);
    s_fixtures();
    s_port = cf_itest_free_port();
    char redis[64], port[16], secret[600], admin[600], p12[600], log[600];
    snprintf(redis, sizeof(redis), "127.0.0.1:%d", s_redis.port);
    snprintf(port, sizeof(port), "%d", s_port);
    snprintf(secret, sizeof(secret), "%s/secret", s_dir);
    snprintf(admin, sizeof(admin), "%s/admin.pass", s_dir);
    snprintf(p12, sizeof(p12), "%s/p12.pass", s_dir);
    snprintf(log, sizeof(log), "%s/server.log", s_dir);
    const char *bin = getenv("CF_BIN_DIR");
    char exe[600];
    snprintf(exe, sizeof(exe), "%s/server/cf-server", bin && *bin ? bin : ".");
    char *argv[] = {exe,
                    "--init",
                    "--redis",
                    redis,
                    "--alias",
                    "localhost",
                    "--host",
                    "127.0.0.1",
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    port,
                    "--secret-file",
                    secret,
                    "--out",
                    s_dir,
                    "--admin-password-file",
                    admin,
                    "--p12-password-file",
                    p12,
                    "--san",
                    "cf.example.test",
                    NULL};
    assert_int_equal(cf_itest_spawn(argv, log, &s_server), CF_OK);
    assert_int_equal(cf_itest_wait_port("127.0.0.1", s_port, 30000), CF_OK);
    s_login();
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    if (s_server)
        assert_int_equal(cf_itest_kill(s_server, SIGTERM), CF_OK);
    cf_itest_redis_stop(&s_redis);
    return 0;
}

/* ---- tests ----------------------------------------------------------------------------- */

/* Condition: the server presents the certificate of fingerprint arg. */
static int s_presents(void *arg)
{
    return cf_test_sh("cd '%s' && timeout 10 openssl s_client -connect 127.0.0.1:%d -CAfile "
                      "ca.pem </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 "
                      "| tr -d ':\\n' | tr A-F a-f | grep -q '%s'",
                      s_dir, s_port, (const char *) arg) == 0;
}

static char s_gen1[3][65]; /* fingerprints of the first generate-all: server, console, agent */

static void test_usage(void **state)
{
    (void) state;
    json_t *o = NULL;
    /* generate every certificate: the server's (alias + host), the console's, the shared
       agent certificate of install packages */
    assert_int_equal(
        s_api("POST", "/certs/generate-all", "{\"key_type\":\"p256\",\"days\":90}", &o), 200);
    json_t *gen = json_object_get(o, "generated");
    assert_int_equal(json_array_size(gen), 3);
    assert_int_equal(json_array_size(json_object_get(o, "failed")), 0);
    for (size_t i = 0; i < 3; i++) {
        json_t *c = json_array_get(gen, i);
        assert_string_equal(s_str(c, "kind"), "generated");
        assert_string_equal(s_str(c, "state"), "current");
        assert_string_equal(s_str(c, "key_type"), "P-256");
        assert_int_equal(json_integer_value(json_object_get(c, "days_left")), 90);
        snprintf(s_gen1[i], sizeof(s_gen1[i]), "%s", s_str(c, "fingerprint"));
    }
    /* the server's: alias, host and its --san names (DESIGN.md: a server's certificate
       covers its alias, DNS names and addresses) */
    json_t *srv = json_array_get(gen, 0);
    assert_string_equal(s_str(srv, "name"), "localhost");
    char *sans = json_dumps(json_object_get(srv, "san"), JSON_COMPACT);
    assert_string_equal(sans, "[\"DNS:localhost\",\"DNS:cf.example.test\",\"IP:127.0.0.1\"]");
    free(sans);
    json_decref(o);
    /* one record */
    assert_int_equal(s_api("GET", "/certs/agent/shared", NULL, &o), 200);
    assert_string_equal(s_str(o, "fingerprint"), s_gen1[2]);
    assert_true(json_is_true(json_object_get(o, "has_key")));
    assert_true(json_integer_value(json_object_get(o, "renew_at")) > 0);
    json_decref(o);
    /* the server presents its new certificate from the next handshakes on */
    assert_true(cf_test_wait_until(s_presents, s_gen1[0], 10000));
}

/* 1 when the newest 50 audit events hold one with what and result. */
static int s_audited(const char *what, const char *result)
{
    redisContext *c = redisConnect("127.0.0.1", s_redis.port);
    assert_true(c && !c->err);
    redisReply *r = redisCommand(c, "XREVRANGE cf:audit + - COUNT 50");
    assert_true(r && r->type == REDIS_REPLY_ARRAY);
    int found = 0;
    for (size_t i = 0; !found && i < r->elements; i++) {
        const redisReply *f = r->element[i]->element[1];
        int w = 0, res = 0;
        for (size_t j = 0; j + 1 < f->elements; j += 2) {
            w |= strcmp(f->element[j]->str, "what") == 0 &&
                 strcmp(f->element[j + 1]->str, what) == 0;
            res |= strcmp(f->element[j]->str, "result") == 0 &&
                   strcmp(f->element[j + 1]->str, result) == 0;
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
    json_t *o = NULL;
    char *b64 = s_file_b64("srv.p12"), fp[80], body[16384];
    s_dump_t before = s_dump(0);
    /* wrong password: 422 with the reason, nothing stored */
    snprintf(body, sizeof(body), "{\"format\":\"p12\",\"data\":\"%s\",\"password\":\"nope\"}", b64);
    assert_int_equal(s_import("server", "srv2.test", body, &o), 422);
    assert_string_equal(s_code(o), "refused");
    assert_non_null(strstr(s_msg(o), "wrong password"));
    json_decref(o);
    /* a corrupt file, and data that is no base64 */
    char *junk = s_file_b64("junk.p12");
    snprintf(body, sizeof(body), "{\"format\":\"p12\",\"data\":\"%s\",\"password\":\"x\"}", junk);
    assert_int_equal(s_import("server", "srv2.test", body, &o), 422);
    assert_non_null(strstr(s_msg(o), "corrupt"));
    json_decref(o);
    free(junk);
    assert_int_equal(s_import("server", "srv2.test", "{\"format\":\"p12\",\"data\":\"@@@@\"}", &o),
                     422);
    assert_non_null(strstr(s_msg(o), "base64"));
    json_decref(o);
    /* over the upload cap (256 KiB): 413 before any parsing */
    size_t big = 300 * 1024;
    char *huge = malloc(big + 64);
    int head = snprintf(huge, 64, "{\"format\":\"p12\",\"data\":\"");
    memset(huge + head, 'A', big);
    snprintf(huge + head + big, 8, "\"}");
    assert_int_equal(s_import("server", "srv2.test", huge, NULL), 413);
    free(huge);
    s_dump_t after = s_dump(0);
    assert_true(s_same(&before, &after));
    free(before.buf);
    free(after.buf);
    /* the right password */
    snprintf(body, sizeof(body),
             "{\"format\":\"p12\",\"data\":\"%s\",\"password\":\"" S_IMPPASS "\"}", b64);
    assert_int_equal(s_import("server", "srv2.test", body, &o), 200);
    s_fp("srv.pem", 0, fp, sizeof(fp));
    assert_string_equal(s_str(o, "fingerprint"), fp);
    assert_string_equal(s_str(o, "kind"), "imported");
    assert_string_equal(s_str(o, "issuer"), "CN=Outside CA");
    json_decref(o);
    free(b64);
    /* the refusal went to the audit stream */
    assert_true(s_audited("cert.import", "BADPASS"));
}

static void test_import_pem(void **state)
{
    (void) state;
    json_t *o = NULL;
    char *cert = s_file_json("srv.pem"), *key = s_file_json("srv.key");
    char *enc = s_file_json("srv-enc.key"), *ops = s_file_json("ops.pem");
    char *ops_key = s_file_json("ops.key"), *xca = s_file_json("xca.pem"), body[16384];
    /* a PEM pair */
    snprintf(body, sizeof(body), "{\"format\":\"pem\",\"cert\":%s,\"key\":%s}", ops, ops_key);
    assert_int_equal(s_import("console", "ops", body, &o), 200);
    assert_string_equal(s_str(o, "kind"), "imported");
    json_decref(o);
    /* an encrypted key: right, wrong and no password */
    snprintf(body, sizeof(body),
             "{\"format\":\"pem\",\"cert\":%s,\"key\":%s,\"password\":\"" S_KEYPASS "\"}", cert,
             enc);
    assert_int_equal(s_import("server", "srv3.test", body, &o), 200);
    json_decref(o);
    snprintf(body, sizeof(body), "{\"format\":\"pem\",\"cert\":%s,\"key\":%s,\"password\":\"x\"}",
             cert, enc);
    assert_int_equal(s_import("server", "srv3.test", body, &o), 422);
    assert_non_null(strstr(s_msg(o), "wrong password"));
    json_decref(o);
    snprintf(body, sizeof(body), "{\"format\":\"pem\",\"cert\":%s,\"key\":%s}", cert, enc);
    assert_int_equal(s_import("server", "srv3.test", body, &o), 422);
    json_decref(o);
    /* a key that is not the certificate's; a server alias the SANs do not cover */
    snprintf(body, sizeof(body), "{\"format\":\"pem\",\"cert\":%s,\"key\":%s}", cert, ops_key);
    assert_int_equal(s_import("server", "srv2.test", body, &o), 422);
    assert_non_null(strstr(s_msg(o), "does not match"));
    json_decref(o);
    snprintf(body, sizeof(body), "{\"format\":\"pem\",\"cert\":%s,\"key\":%s}", cert, key);
    assert_int_equal(s_import("server", "srv9.test", body, &o), 422);
    assert_non_null(strstr(s_msg(o), "do not cover the alias srv9.test"));
    json_decref(o);
    /* public only: for identification; a server needs its key; a CA is no component */
    snprintf(body, sizeof(body), "{\"format\":\"public\",\"cert\":%s}", ops);
    assert_int_equal(s_import("console", "ops-public", body, &o), 200);
    assert_string_equal(s_str(o, "kind"), "public");
    assert_true(json_is_false(json_object_get(o, "has_key")));
    json_decref(o);
    snprintf(body, sizeof(body), "{\"format\":\"public\",\"cert\":%s}", cert);
    assert_int_equal(s_import("server", "srv2.test", body, &o), 422);
    json_decref(o);
    snprintf(body, sizeof(body), "{\"format\":\"public\",\"cert\":%s}", xca);
    assert_int_equal(s_import("console", "xca", body, &o), 422);
    assert_non_null(strstr(s_msg(o), "CA certificate"));
    json_decref(o);
    /* malformed requests */
    assert_int_equal(s_import("console", "x", "{\"format\":\"pfx\"}", &o), 400);
    json_decref(o);
    assert_int_equal(s_import("console", "x", "{\"format\":\"p12\",\"dta\":\"x\"}", &o), 400);
    assert_non_null(strstr(s_msg(o), "dta"));
    json_decref(o);
    assert_int_equal(s_import("agent", "agent-7", "{\"format\":\"public\",\"cert\":\"x\"}", &o),
                     400);
    json_decref(o);
    assert_int_equal(s_import("ca", "x", "{\"format\":\"public\",\"cert\":\"x\"}", &o), 400);
    json_decref(o);
    free(cert), free(key), free(enc), free(ops), free(ops_key), free(xca);
}

static void test_import_store(void **state)
{
    (void) state;
    json_t *o = NULL;
    char body[2048], fp[128], want[80];
    /* by subject: a public certificate from a .pem file */
    snprintf(body, sizeof(body), "{\"store\":\"%s/store\",\"match\":\"DESK.example\"}", s_dir);
    assert_int_equal(s_import("console", "desk", body, &o), 200);
    assert_string_equal(s_str(o, "kind"), "public");
    assert_string_equal(s_str(o, "subject"), "CN=desk.example");
    json_decref(o);
    /* by fingerprint as openssl prints it: with the password, from the .p12, with its key */
    s_fp("ops.pem", 1, fp, sizeof(fp));
    s_fp("ops.pem", 0, want, sizeof(want));
    snprintf(body, sizeof(body),
             "{\"store\":\"%s/store\",\"match\":\"%s\",\"password\":\"" S_IMPPASS "\"}", s_dir, fp);
    assert_int_equal(s_import("console", "ops-store", body, &o), 200);
    assert_string_equal(s_str(o, "kind"), "imported");
    assert_string_equal(s_str(o, "fingerprint"), want);
    json_decref(o);
    /* refusals: no match, no such directory; a relative path is a bad request */
    snprintf(body, sizeof(body), "{\"store\":\"%s/store\",\"match\":\"nobody\"}", s_dir);
    assert_int_equal(s_import("console", "desk", body, &o), 422);
    json_decref(o);
    snprintf(body, sizeof(body), "{\"store\":\"%s/nostore\",\"match\":\"desk\"}", s_dir);
    assert_int_equal(s_import("console", "desk", body, &o), 422);
    json_decref(o);
    assert_int_equal(s_import("console", "desk", "{\"store\":\"store\",\"match\":\"d\"}", &o), 400);
    json_decref(o);
}

/* A PEM import body for the certificate and key of an issued pair. */
static char *s_pem_body(const cf_cert_t *cert, const cf_key_t *key)
{
    char *pem = NULL, *kpem = NULL;
    size_t len = 0, klen = 0;
    assert_int_equal(cf_cert_to_pem(cert, &pem, &len), CF_OK);
    assert_int_equal(cf_key_to_pem(key, NULL, &kpem, &klen), CF_OK);
    json_t *o = json_pack("{s:s,s:s,s:s}", "format", "pem", "cert", pem, "key", kpem);
    char *text = json_dumps(o, 0);
    json_decref(o);
    cf_mem_free(pem);
    cf_mem_free_secret(kpem, klen);
    return text;
}

/* Import a certificate for console/name issued by ca at moment now for seconds; expect a 422
   whose message holds want. */
static void s_refused_console(cf_ca_t *ca, time_t now, long seconds, const char *want)
{
    cf_issue_t req = {0};
    req.component = CF_COMPONENT_CONSOLE;
    req.name = "console";
    req.now = now;
    req.seconds = seconds;
    cf_cert_t *cert = NULL;
    cf_key_t *key = NULL;
    json_t *o = NULL;
    assert_int_equal(cf_ca_issue(ca, &req, &cert, &key), CF_OK);
    char *body = s_pem_body(cert, key);
    assert_int_equal(s_import("console", "refused", body, &o), 422);
    if (!strstr(s_msg(o), want))
        fail_msg("expected \"%s\" in \"%s\"", want, s_msg(o));
    json_decref(o);
    free(body);
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
}

static void test_import_refusals(void **state)
{
    (void) state;
    json_t *o = NULL;
    time_t now = time(NULL);
    /* a CA of ours by name only: its certificates claim to be ours, so they must chain */
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
                                s_dir),
                     0);
    char *weak = s_file_json("weak.pem"), *weak_key = s_file_json("weak.key");
    char *ops = s_file_json("ops.pem"), *ops_key = s_file_json("ops.key"), body[16384];
    snprintf(body, sizeof(body), "{\"format\":\"pem\",\"cert\":%s,\"key\":%s}", weak, weak_key);
    assert_int_equal(s_import("console", "weak", body, &o), 422);
    assert_non_null(strstr(s_msg(o), "unsupported"));
    json_decref(o);
    snprintf(body, sizeof(body), "{\"format\":\"pem\",\"cert\":%s,\"key\":%s}", ops, ops_key);
    assert_int_equal(s_import("server", "ops.example", body, &o), 422);
    assert_non_null(strstr(s_msg(o), "serverAuth"));
    json_decref(o);
    free(weak), free(weak_key), free(ops), free(ops_key);
    assert_int_equal(s_api("GET", "/certs/console/refused", NULL, &o), 404);
    json_decref(o);
}

static void test_list(void **state)
{
    (void) state;
    json_t *o = NULL;
    assert_int_equal(s_api("GET", "/certs", NULL, &o), 200);
    static const char *const want[][3] = {
        {"server", "localhost", "generated"}, {"server", "srv2.test", "imported"},
        {"server", "srv3.test", "imported"},  {"console", "console", "generated"},
        {"console", "ops", "imported"},       {"console", "ops-public", "public"},
        {"console", "desk", "public"},        {"console", "ops-store", "imported"},
        {"agent", "shared", "generated"},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const json_t *c = s_find(o, want[i][0], want[i][1]);
        if (!c)
            fail_msg("%s/%s not listed", want[i][0], want[i][1]);
        assert_string_equal(s_str(c, "kind"), want[i][2]);
        assert_string_equal(s_str(c, "state"), "current");
        assert_int_equal(strlen(s_str(c, "serial")) > 0, 1);
        assert_true(json_integer_value(json_object_get(c, "not_after")) > 0);
    }
    assert_null(s_find(o, "console", "xca")); /* refused imports stored nothing */
    assert_null(s_find(o, "server", "srv9.test"));
    json_decref(o);
    assert_int_equal(s_api("GET", "/certs?component=console", NULL, &o), 200);
    assert_int_equal(json_array_size(json_object_get(o, "certs")), 5);
    json_decref(o);
    assert_int_equal(s_api("GET", "/certs?component=ca", NULL, &o), 400);
    json_decref(o);
    assert_int_equal(s_api("GET", "/certs/console/nobody", NULL, &o), 404);
    json_decref(o);
    /* a viewer route: no session, 401 */
    assert_int_equal(
        s_curl("GET", "/certs", NULL, "--cert-type P12 --cert console.p12:" S_P12PASS, NULL), 401);
}

/* Export component/name as a PKCS#12 under S_EXPPASS into file; keep its key's scalar. */
static void s_export_p12(const char *comp, const char *name, const char *file)
{
    char path[600];
    json_t *o = NULL;
    snprintf(path, sizeof(path), "/certs/%s/%s/export", comp, name);
    assert_int_equal(s_api("POST", path, "{\"format\":\"p12\",\"password\":\"" S_EXPPASS "\"}", &o),
                     200);
    snprintf(path, sizeof(path), "%s/%s.b64", s_dir, file);
    const char *data = s_str(o, "data");
    cf_test_write_file(path, data, strlen(data));
    json_decref(o);
    assert_int_equal(cf_test_sh("cd '%s' && base64 -d %s.b64 >%s", s_dir, file, file), 0);
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/%s", s_dir, file);
    char *der = cf_test_read_file(path, &len);
    s_keep_scalar((const unsigned char *) der, len, S_EXPPASS);
    free(der);
}

static void test_export(void **state)
{
    (void) state;
    json_t *o = NULL;
    /* PKCS#12: opens with openssl and the password, not without; ours carry the CA */
    s_export_p12("server", "srv2.test", "srv2-exp.p12");
    assert_int_equal(cf_test_sh("cd '%s' && openssl pkcs12 -in srv2-exp.p12 -passin pass:" S_EXPPASS
                                " -nodes -out srv2-exp.out && grep -q 'PRIVATE KEY' srv2-exp.out "
                                "&& grep -q 'subject=CN = srv.example' srv2-exp.out && ! grep -q "
                                "'certfleet CA' srv2-exp.out",
                                s_dir),
                     0);
    assert_int_not_equal(
        cf_test_sh("cd '%s' && openssl pkcs12 -in srv2-exp.p12 -passin pass:wrong -nodes", s_dir),
        0);
    s_export_p12("server", "localhost", "localhost-exp.p12");
    assert_int_equal(
        cf_test_sh("cd '%s' && openssl pkcs12 -in localhost-exp.p12 -passin pass:" S_EXPPASS
                   " -nokeys | grep -q 'subject=CN = certfleet CA'",
                   s_dir),
        0);
    s_export_p12("server", "srv3.test", "srv3-exp.p12");
    s_export_p12("console", "console", "console-exp.p12");
    s_export_p12("console", "ops", "ops-exp.p12");
    s_export_p12("console", "ops-store", "ops-store-exp.p12");
    s_export_p12("agent", "shared", "shared-exp.p12");
    /* PEM: certificate and chain, never the key */
    assert_int_equal(s_api("POST", "/certs/console/console/export", "{\"format\":\"pem\"}", &o),
                     200);
    assert_non_null(strstr(s_str(o, "cert"), "BEGIN CERTIFICATE"));
    assert_non_null(strstr(s_str(o, "chain"), "BEGIN CERTIFICATE"));
    char *all = json_dumps(o, 0);
    assert_null(strstr(all, "PRIVATE"));
    free(all);
    json_decref(o);
    /* no built-in password; unknown record */
    assert_int_equal(s_api("POST", "/certs/console/console/export", "{\"format\":\"p12\"}", &o),
                     400);
    json_decref(o);
    assert_int_equal(s_api("POST", "/certs/console/nobody/export", "{\"format\":\"pem\"}", &o),
                     404);
    json_decref(o);
}

static void test_archive(void **state)
{
    (void) state;
    json_t *o = NULL;
    /* a second generation replaces the first, which goes to the archive */
    assert_int_equal(s_api("POST", "/certs/generate-all", "{\"key_type\":\"p384\"}", &o), 200);
    json_decref(o);
    assert_int_equal(s_api("GET", "/certs/archive", NULL, &o), 200);
    const json_t *arr = json_object_get(o, "certs");
    for (size_t k = 0; k < 3; k++) {
        size_t i = 0;
        while (i < json_array_size(arr) &&
               strcmp(s_str(json_array_get(arr, i), "fingerprint"), s_gen1[k]) != 0)
            i++;
        if (i == json_array_size(arr))
            fail_msg("%s not in the archive", s_gen1[k]);
        assert_string_equal(s_str(json_array_get(arr, i), "state"), "archived");
        assert_true(json_integer_value(json_object_get(json_array_get(arr, i), "archived_at")) > 0);
    }
    json_decref(o);
    assert_int_equal(s_api("GET", "/certs/archive?component=agent", NULL, &o), 200);
    arr = json_object_get(o, "certs");
    for (size_t i = 0; i < json_array_size(arr); i++)
        assert_string_equal(s_str(json_array_get(arr, i), "component"), "agent");
    json_decref(o);
    assert_int_equal(s_api("GET", "/certs/archive?limit=0", NULL, &o), 400);
    json_decref(o);
    /* the new keys are exported too, for the clear-key search */
    s_export_p12("server", "localhost", "localhost-exp2.p12");
    s_export_p12("console", "console", "console-exp2.p12");
}

/* Condition: a TLS request with the client certificate in arg (curl options) is refused. */
static int s_refused(void *arg)
{
    return s_curl("GET", "/crl", NULL, arg, NULL) == 0;
}

/* The CRL the server publishes lists the serial (lowercase hex) and comes as pkix-crl. */
static void s_crl_lists(const char *serial)
{
    char up[80];
    size_t i = 0;
    for (; serial[i] && i < sizeof(up) - 1; i++)
        up[i] = (char) (serial[i] >= 'a' && serial[i] <= 'f' ? serial[i] - 32 : serial[i]);
    up[i] = '\0';
    assert_int_equal(cf_test_sh("cd '%s' && curl -sS --max-time 10 --cacert ca.pem -D crl.head "
                                "-o crl.pem https://127.0.0.1:%d/api/v1/crl && grep -qi "
                                "'^content-type: application/pkix-crl' crl.head && openssl crl "
                                "-in crl.pem -CAfile ca.pem -noout -text | grep -q 'Serial "
                                "Number: %s$'",
                                s_dir, s_port, up),
                     0);
}

static void test_revoke_serial(void **state)
{
    (void) state;
    json_t *o = NULL;
    char serial[80], typed[200], body[16384];
    s_export_p12("agent", "shared", "agent.p12");
    const char *agent = "--cert-type P12 --cert agent.p12:" S_EXPPASS;
    assert_int_not_equal(s_curl("GET", "/crl", NULL, agent, NULL), 0); /* handshake succeeds */
    assert_int_equal(s_api("GET", "/certs/agent/shared", NULL, &o), 200);
    snprintf(serial, sizeof(serial), "%s", s_str(o, "serial"));
    json_decref(o);
    /* typed as openssl shows it: upper case with colons */
    size_t n = 0;
    for (size_t i = 0; serial[i]; i++) {
        if (i && i % 2 == 0)
            typed[n++] = ':';
        typed[n++] = (char) (serial[i] >= 'a' ? serial[i] - 32 : serial[i]);
    }
    typed[n] = '\0';
    snprintf(body, sizeof(body), "{\"serial\":\"%s\"}", typed);
    assert_int_equal(s_api("POST", "/certs/revoke", body, &o), 200);
    assert_string_equal(json_string_value(json_array_get(json_object_get(o, "revoked"), 0)),
                        serial);
    assert_true(json_integer_value(json_object_get(o, "crl_next_update")) >
                (json_int_t) time(NULL));
    json_decref(o);
    /* every server's TLS refuses it at once (the control thread swaps the revoked set) */
    assert_true(cf_test_wait_until(s_refused, (void *) agent, 10000));
    s_crl_lists(serial);
    assert_int_equal(s_api("GET", "/certs/agent/shared", NULL, &o), 200);
    assert_string_equal(s_str(o, "state"), "revoked");
    json_decref(o);
    /* a revoked certificate is not imported again */
    assert_int_equal(s_api("POST", "/certs/agent/shared/export", "{\"format\":\"pem\"}", &o), 200);
    json_t *pub = json_pack("{s:s,s:s}", "format", "public", "cert", s_str(o, "cert"));
    char *text = json_dumps(pub, 0);
    json_decref(pub);
    json_decref(o);
    assert_int_equal(s_import("console", "again", text, &o), 422);
    assert_non_null(strstr(s_msg(o), "revoked"));
    json_decref(o);
    free(text);
    /* malformed */
    static const char *const bad[] = {"{}", "{\"serial\":\"zz\"}",
                                      "{\"serial\":\"1\",\"agent\":\"a\"}",
                                      "{\"agent\":\"Bad Id\"}", "{\"serial\":1}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(s_api("POST", "/certs/revoke", bad[i], &o), 400);
        json_decref(o);
    }
}

/* Issue a certificate for agent id under the deployment's CA (read with the secret). */
static cf_cert_t *s_agent_cert(cf_ca_t *ca, const char *id, cf_key_t **key)
{
    cf_issue_t req = {0};
    req.component = CF_COMPONENT_AGENT;
    req.name = id;
    cf_cert_t *cert = NULL;
    assert_int_equal(cf_ca_issue(ca, &req, &cert, key), CF_OK);
    return cert;
}

static void test_revoke_agent(void **state)
{
    (void) state;
    char path[600];
    cf_seal_t *seal = NULL;
    snprintf(path, sizeof(path), "%s/secret", s_dir);
    assert_int_equal(cf_seal_load_file(path, 0, &seal, NULL), CF_OK);
    cf_store_t *store = cf_itest_store_at(s_redis.port, NULL);
    cf_cert_t *ca_cert = NULL, *old = NULL, *cur = NULL;
    cf_key_t *ca_key = NULL, *old_key = NULL, *cur_key = NULL;
    cf_ca_t *ca = NULL;
    assert_int_equal(cf_db_ca_get(store, seal, &ca_cert, &ca_key), CF_OK);
    assert_int_equal(cf_ca_load(ca_cert, ca_key, &ca), CF_OK);
    /* agent-7 had an older certificate (archived) and checked in with its current one */
    old = s_agent_cert(ca, "agent-7", &old_key);
    cur = s_agent_cert(ca, "agent-7", &cur_key);
    int64_t now = (int64_t) time(NULL);
    assert_int_equal(cf_db_archive_add(store, CF_COMPONENT_AGENT, "agent-7", old, now), CF_OK);
    cf_db_checkin_t in = {"agent-7",
                          CF_DB_LOCK_SECURE,
                          now,
                          "127.0.0.1",
                          "0.1.0",
                          cf_cert_fingerprint(cur),
                          cf_cert_serial(cur),
                          cf_cert_not_after(cur),
                          "localhost"};
    assert_int_equal(cf_db_agent_checkin(store, &in, NULL), CF_OK);
    char *pem = NULL, *kpem = NULL;
    size_t len = 0, klen = 0;
    assert_int_equal(cf_cert_to_pem(cur, &pem, &len), CF_OK);
    assert_int_equal(cf_key_to_pem(cur_key, NULL, &kpem, &klen), CF_OK);
    snprintf(path, sizeof(path), "%s/agent7.pem", s_dir);
    cf_test_write_file(path, pem, len);
    snprintf(path, sizeof(path), "%s/agent7.key", s_dir);
    cf_test_write_file(path, kpem, klen);
    const char *agent = "--cert agent7.pem --key agent7.key";
    assert_int_not_equal(s_curl("GET", "/crl", NULL, agent, NULL), 0);
    /* revoke all of agent-7's certificates */
    json_t *o = NULL;
    assert_int_equal(s_api("POST", "/certs/revoke", "{\"agent\":\"agent-7\"}", &o), 200);
    json_t *list = json_object_get(o, "revoked");
    assert_int_equal(json_array_size(list), 2);
    for (size_t i = 0; i < 2; i++) {
        const char *s = json_string_value(json_array_get(list, i));
        assert_true(strcmp(s, cf_cert_serial(old)) == 0 || strcmp(s, cf_cert_serial(cur)) == 0);
    }
    json_decref(o);
    assert_true(cf_test_wait_until(s_refused, (void *) agent, 10000));
    s_crl_lists(cf_cert_serial(old));
    s_crl_lists(cf_cert_serial(cur));
    assert_int_equal(s_api("POST", "/certs/revoke", "{\"agent\":\"agent-404\"}", &o), 404);
    json_decref(o);
    cf_mem_free(pem);
    cf_mem_free_secret(kpem, klen);
    cf_key_destroy(&old_key), cf_key_destroy(&cur_key), cf_key_destroy(&ca_key);
    cf_cert_destroy(&old), cf_cert_destroy(&cur), cf_cert_destroy(&ca_cert);
    cf_ca_destroy(&ca);
    cf_store_destroy(&store);
    cf_seal_destroy(&seal);
}

/* No clear key in Redis (issue 3): after --init, two generate-alls, imports, exports and
   revocations, no value holds a PEM private key, a PKCS#8 or SEC1 DER prefix (raw, hex or
   base64), or the private scalar of any key the API exported (raw, hex or base64). */
static void test_no_clear_key(void **state)
{
    (void) state;
    static const unsigned char prefixes[][28] = {
        {0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01},
        {0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01},
        {0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70},
        {0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20},
        {0x30, 0x81, 0xa4, 0x02, 0x01, 0x01, 0x04, 0x30},
    };
    static const size_t lens[] = {14, 14, 10, 7, 8};
    static const char *const names[] = {"a PKCS#8 EC prefix", "a PKCS#8 RSA prefix",
                                        "a PKCS#8 Ed25519 prefix", "a SEC1 P-256 prefix",
                                        "a SEC1 P-384 prefix"};
    s_dump_t d = s_dump(1);
    /* the dump sees what matters: sealed keys, certificates, the archive, the CRL */
    assert_non_null(s_find_bytes(d.buf, d.len, "cf:cert:server:localhost", 24));
    assert_non_null(s_find_bytes(d.buf, d.len, "cfseal1:", 8));
    assert_non_null(s_find_bytes(d.buf, d.len, "BEGIN X509 CRL", 14));
    s_search_t s = {&d, "a PEM private key header"};
    s_absent(&s, "PRIVATE KEY", 11);
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        s.what = names[i];
        s_absent_bytes(&s, prefixes[i], lens[i]);
    }
    assert_true(s_n_scalars >= 10);
    for (size_t i = 0; i < s_n_scalars; i++) {
        s.what = "the private scalar of an exported key";
        s_absent_bytes(&s, s_scalar[i], s_scalar_len[i]);
    }
    free(d.buf);
    cf_mem_wipe(s_scalar, sizeof(s_scalar));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),           cmocka_unit_test(test_import_p12),
        cmocka_unit_test(test_import_pem),      cmocka_unit_test(test_import_store),
        cmocka_unit_test(test_import_refusals), cmocka_unit_test(test_list),
        cmocka_unit_test(test_export),          cmocka_unit_test(test_archive),
        cmocka_unit_test(test_revoke_serial),   cmocka_unit_test(test_revoke_agent),
        cmocka_unit_test(test_no_clear_key),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
