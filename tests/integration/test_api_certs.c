/*  test_api_certs - the certificate API of a real cf-server over a real redis-server, by curl  */
#include "cf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "cf_ca.h"
#include "cf_itest.h"
#include "cf_itest_certs.h"
#include "cf_mem.h"
#include "cf_p12.h"

#define S_IMPPASS "imp-pass" /* the PKCS#12 files made by openssl */
#define S_KEYPASS "key-pass" /* the encrypted PEM key made by openssl */
#define S_EXPPASS "exp-pass" /* exports */
#define S_MAXKEYS 16         /* exported keys whose scalars are searched for */
/* import bodies */
#define S_F_P12   "{\"format\":\"p12\",\"data\":\"%s\",\"password\":\"%s\"}"
#define S_F_PEM   "{\"format\":\"pem\",\"cert\":%s,\"key\":%s}"
#define S_F_PEMPW "{\"format\":\"pem\",\"cert\":%s,\"key\":%s,\"password\":\"%s\"}"
#define S_F_PUB   "{\"format\":\"public\",\"cert\":%s}"
#define S_F_STORE "{\"store\":\"%s/%s\",\"match\":\"%s\"}"

static cf_itest_certs_t s_t;                  /* the server under test */
static unsigned char s_scalar[S_MAXKEYS][64]; /* private scalars of exported keys */
static size_t s_scalar_len[S_MAXKEYS], s_n_scalars;

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
    redisContext *c = redisConnect("127.0.0.1", s_t.redis.port);
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
            s_t.dir),
        0);
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
    s_fixtures();
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
    s_dump_t before = s_dump(0);
    /* wrong password, a corrupt file, no base64: 422 with the reason, nothing stored */
    json_decref(cf_itest_certs_import(422, "import: wrong password", "server/srv2.test", S_F_P12,
                                      b64, "nope"));
    json_decref(cf_itest_certs_import(422, "corrupt", "server/srv2.test", S_F_P12, junk, "x"));
    json_decref(cf_itest_certs_import(422, "base64", "server/srv2.test", S_F_P12, "@@@@", "x"));
    /* over the upload cap (256 KiB): 413 before any parsing */
    char *huge = malloc(300 * 1024 + 1);
    memset(huge, 'A', 300 * 1024);
    huge[300 * 1024] = '\0';
    json_decref(cf_itest_certs_import(413, NULL, "server/srv2.test", S_F_P12, huge, "x"));
    free(huge);
    s_dump_t after = s_dump(0);
    assert_true(s_same(&before, &after));
    free(before.buf), free(after.buf), free(junk);
    /* the right password */
    json_t *o = cf_itest_certs_import(200, NULL, "server/srv2.test", S_F_P12, b64, S_IMPPASS);
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
    json_t *o = cf_itest_certs_import(200, NULL, "console/ops", S_F_PEM, ops, ops_key);
    assert_string_equal(cf_itest_certs_str(o, "kind"), "imported");
    json_decref(o);
    json_decref(
        cf_itest_certs_import(200, NULL, "server/srv3.test", S_F_PEMPW, cert, enc, S_KEYPASS));
    json_decref(cf_itest_certs_import(422, "wrong password", "server/srv3.test", S_F_PEMPW, cert,
                                      enc, "x"));
    json_decref(
        cf_itest_certs_import(422, "wrong password", "server/srv3.test", S_F_PEM, cert, enc));
    /* a key that is not the certificate's; a server alias the SANs do not cover */
    json_decref(
        cf_itest_certs_import(422, "does not match", "server/srv2.test", S_F_PEM, cert, ops_key));
    json_decref(cf_itest_certs_import(422, "do not cover the alias srv9.test", "server/srv9.test",
                                      S_F_PEM, cert, key));
    /* public only: for identification; a server needs its key; a CA is no component */
    o = cf_itest_certs_import(200, NULL, "console/ops-public", S_F_PUB, ops);
    assert_string_equal(cf_itest_certs_str(o, "kind"), "public");
    assert_true(json_is_false(json_object_get(o, "has_key")));
    json_decref(o);
    json_decref(cf_itest_certs_import(422, "no private key", "server/srv2.test", S_F_PUB, cert));
    json_decref(cf_itest_certs_import(422, "CA certificate", "console/xca", S_F_PUB, xca));
    /* malformed requests */
    json_decref(cf_itest_certs_import(400, "format", "console/x", "%s", "{\"format\":\"pfx\"}"));
    json_decref(
        cf_itest_certs_import(400, "dta", "console/x", "%s", "{\"format\":\"p12\",\"dta\":\"x\"}"));
    json_decref(cf_itest_certs_import(400, "shared", "agent/agent-7", S_F_PUB, "\"x\""));
    json_decref(cf_itest_certs_import(400, "component", "ca/x", S_F_PUB, "\"x\""));
    free(cert), free(key), free(enc), free(ops), free(ops_key), free(xca);
}

static void test_import_store(void **state)
{
    (void) state;
    CF_ITEST_CERTS_NEED();
    char fp[128], want[80];
    /* by subject: a public certificate from a .pem file */
    json_t *o = cf_itest_certs_import(200, NULL, "console/desk", S_F_STORE, s_t.dir, "store",
                                      "DESK.example");
    assert_string_equal(cf_itest_certs_str(o, "kind"), "public");
    assert_string_equal(cf_itest_certs_str(o, "subject"), "CN=desk.example");
    json_decref(o);
    /* by fingerprint as openssl prints it: with the password, from the .p12, with its key */
    s_fp("ops.pem", 1, fp, sizeof(fp));
    s_fp("ops.pem", 0, want, sizeof(want));
    o = cf_itest_certs_import(
        200, NULL, "console/ops-store",
        "{\"store\":\"%s/store\",\"match\":\"%s\",\"password\":\"" S_IMPPASS "\"}", s_t.dir, fp);
    assert_string_equal(cf_itest_certs_str(o, "kind"), "imported");
    assert_string_equal(cf_itest_certs_str(o, "fingerprint"), want);
    json_decref(o);
    /* refusals: no match, no such directory; a relative path is a bad request */
    json_decref(cf_itest_certs_import(422, "matches", "console/desk", S_F_STORE, s_t.dir, "store",
                                      "nobody"));
    json_decref(cf_itest_certs_import(422, "cannot open", "console/desk", S_F_STORE, s_t.dir,
                                      "nostore", "desk"));
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
    json_decref(cf_itest_certs_import(422, "unsupported", "console/weak", S_F_PEM, weak, weak_key));
    json_decref(
        cf_itest_certs_import(422, "serverAuth", "server/ops.example", S_F_PEM, ops, ops_key));
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

/* Export component/name ("comp/name") as a PKCS#12 under S_EXPPASS into file; keep the
   scalar of its key. */
static void s_export_p12(const char *target, const char *file)
{
    char path[600];
    snprintf(path, sizeof(path), "/certs/%s/export", target);
    json_t *o = cf_itest_certs_call(200, NULL, "POST", path, "%s",
                                    "{\"format\":\"p12\",\"password\":\"" S_EXPPASS "\"}");
    snprintf(path, sizeof(path), "%s/%s.b64", s_t.dir, file);
    cf_test_write_file(path, cf_itest_certs_str(o, "data"), strlen(cf_itest_certs_str(o, "data")));
    json_decref(o);
    assert_int_equal(cf_test_sh("cd '%s' && base64 -d %s.b64 >%s", s_t.dir, file, file), 0);
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/%s", s_t.dir, file);
    char *der = cf_test_read_file(path, &len);
    s_keep_scalar((const unsigned char *) der, len, S_EXPPASS);
    free(der);
}

static void test_export(void **state)
{
    (void) state;
    CF_ITEST_CERTS_NEED();
    /* PKCS#12: opens with openssl and the password, not without; ours carry our CA */
    s_export_p12("server/srv2.test", "srv2.p12");
    assert_int_equal(cf_test_sh("cd '%s' && openssl pkcs12 -in srv2.p12 -passin pass:" S_EXPPASS
                                " -nodes -out srv2.out && grep -q 'PRIVATE KEY' srv2.out && grep "
                                "-q 'subject=CN = srv.example' srv2.out && ! grep -q "
                                "'certfleet CA' srv2.out",
                                s_t.dir),
                     0);
    assert_int_not_equal(
        cf_test_sh("cd '%s' && openssl pkcs12 -in srv2.p12 -passin pass:wrong -nodes", s_t.dir), 0);
    s_export_p12("server/localhost", "localhost.p12");
    assert_int_equal(
        cf_test_sh("cd '%s' && openssl pkcs12 -in localhost.p12 -passin pass:" S_EXPPASS
                   " -nokeys | grep -q 'subject=CN = certfleet CA'",
                   s_t.dir),
        0);
    s_export_p12("server/srv3.test", "srv3.p12");
    s_export_p12("console/console", "console-exp.p12");
    s_export_p12("console/ops", "ops-exp.p12");
    s_export_p12("console/ops-store", "ops-store-exp.p12");
    s_export_p12("agent/shared", "shared.p12");
    /* PEM: certificate and chain, never the key */
    json_t *o = cf_itest_certs_call(200, NULL, "POST", "/certs/console/console/export", "%s",
                                    "{\"format\":\"pem\"}");
    assert_non_null(strstr(cf_itest_certs_str(o, "cert"), "BEGIN CERTIFICATE"));
    assert_non_null(strstr(cf_itest_certs_str(o, "chain"), "BEGIN CERTIFICATE"));
    char *all = json_dumps(o, 0);
    assert_null(strstr(all, "PRIVATE"));
    free(all);
    json_decref(o);
    /* no built-in password; an unknown record */
    json_decref(cf_itest_certs_call(400, "password", "POST", "/certs/console/console/export", "%s",
                                    "{\"format\":\"p12\"}"));
    json_decref(cf_itest_certs_call(404, NULL, "POST", "/certs/console/nobody/export", "%s",
                                    "{\"format\":\"pem\"}"));
}

static void test_archive(void **state)
{
    (void) state;
    CF_ITEST_CERTS_NEED();
    /* a second generation replaces the first, which goes to the archive */
    json_decref(cf_itest_certs_call(200, NULL, "POST", "/certs/generate-all", "%s",
                                    "{\"key_type\":\"p384\"}"));
    json_t *o = cf_itest_certs_call(200, NULL, "GET", "/certs/archive", NULL);
    const json_t *arr = json_object_get(o, "certs");
    for (size_t k = 0; k < 3; k++) {
        const json_t *c = NULL;
        for (size_t i = 0; !c && i < json_array_size(arr); i++) {
            if (strcmp(cf_itest_certs_str(json_array_get(arr, i), "fingerprint"), s_gen1[k]) == 0)
                c = json_array_get(arr, i);
        }
        if (!c)
            fail_msg("%s not in the archive", s_gen1[k]);
        assert_string_equal(cf_itest_certs_str(c, "state"), "archived");
        assert_true(json_integer_value(json_object_get(c, "archived_at")) > 0);
    }
    json_decref(o);
    o = cf_itest_certs_call(200, NULL, "GET", "/certs/archive?component=agent", NULL);
    arr = json_object_get(o, "certs");
    assert_true(json_array_size(arr) >= 1);
    for (size_t i = 0; i < json_array_size(arr); i++)
        assert_string_equal(cf_itest_certs_str(json_array_get(arr, i), "component"), "agent");
    json_decref(o);
    json_decref(cf_itest_certs_call(400, "limit", "GET", "/certs/archive?limit=0", NULL));
    /* the new keys are exported too, for the clear-key search */
    s_export_p12("server/localhost", "localhost2.p12");
    s_export_p12("console/console", "console2.p12");
}

/* No clear key in Redis (issue 3): after --init, two generate-alls, imports and exports, no
   value holds a PEM private key, a PKCS#8 or SEC1 DER prefix (raw, hex or
   base64), or the private scalar of any key the API exported (raw, hex or base64). */
static void test_no_clear_key(void **state)
{
    (void) state;
    CF_ITEST_CERTS_NEED();
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
    /* the dump sees what matters: sealed keys and the records */
    assert_non_null(s_find_bytes(d.buf, d.len, "cf:cert:server:localhost", 24));
    assert_non_null(s_find_bytes(d.buf, d.len, "cfseal1:", 8));
    s_search_t s = {&d, "a PEM private key header"};
    s_absent(&s, "PRIVATE KEY", 11);
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        s.what = names[i];
        s_absent_bytes(&s, prefixes[i], lens[i]);
    }
    assert_int_equal(s_n_scalars, 9);
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
        cmocka_unit_test(test_no_clear_key),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
