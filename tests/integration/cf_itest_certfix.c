/*  cf_itest_certfix - what the certificate API tests share: another CA's certificates made by
    openssl, and a dump of every Redis key with its values  */
#include "cf_itest_certfix.h"
#include "cf_itest_certs.h"

#include "cf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

static void s_put(cf_itest_certfix_dump_t *d, const void *p, size_t n)
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

static void s_dump_key(redisContext *c, const char *key, cf_itest_certfix_dump_t *d)
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

cf_itest_certfix_dump_t cf_itest_certfix_dump(int redis_port, int all)
{
    redisContext *c = redisConnect("127.0.0.1", redis_port);
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
    cf_itest_certfix_dump_t d = {NULL, 0, 0};
    for (size_t i = 0; i < n; i++) {
        s_dump_key(c, keys[i], &d);
        free(keys[i]);
    }
    free(keys);
    redisFree(c);
    s_put(&d, "", 0);
    return d;
}

void cf_itest_certfix_make(const char *dir)
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
            "-passout pass:" CF_ITEST_CERTFIX_IMPPASS " -out srv.p12 && "
            "openssl pkey -in srv.key -aes256 -passout pass:" CF_ITEST_CERTFIX_KEYPASS
            " -out srv-enc.key && "
            "mkdir store && cp desk.pem store/desk.pem && cp xca.pem store/ca.crt && "
            "openssl pkcs12 -export -in ops.pem -inkey ops.key -passout "
            "pass:" CF_ITEST_CERTFIX_IMPPASS
            " -out store/ops.p12 && head -c 900 /dev/urandom >junk.p12",
            dir),
        0);
}

void cf_itest_certfix_export_p12(const char *dir, const char *target, const char *password,
                                 const char *file)
{
    char path[600];
    snprintf(path, sizeof(path), "/certs/%s/export", target);
    json_t *o = cf_itest_certs_call(200, NULL, "POST", path,
                                    "{\"format\":\"p12\",\"password\":\"%s\"}", password);
    snprintf(path, sizeof(path), "%s/%s.b64", dir, file);
    const char *data = cf_itest_certs_str(o, "data");
    cf_test_write_file(path, data, strlen(data));
    json_decref(o);
    assert_int_equal(cf_test_sh("cd '%s' && base64 -d %s.b64 >%s", dir, file, file), 0);
}
