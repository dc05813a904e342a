/*  test_db_cert - cf_db_cert, cf_db_archive and cf_db_crl against a real redis-server  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_ca.h"
#include "cf_db_archive.h"
#include "cf_db_cert.h"
#include "cf_db_crl.h"
#include "cf_db_meta.h"
#include "cf_itest.h"
#include "cf_mem.h"

static cf_itest_redis_t s_redis; /* one server for the file; each test flushes it */
static cf_ca_t *s_ca;            /* issues the test certificates */
static cf_seal_t *s_seal;        /* fixed test keyring (never a real secret) */

static const char s_secret[] =
    "certfleet-secret-v1 k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";

static int s_setup(void **state)
{
    (void) state;
    signal(SIGPIPE, SIG_IGN);
    if (cf_ca_create(NULL, &s_ca) != CF_OK ||
        cf_seal_from_buffer(s_secret, strlen(s_secret), &s_seal, NULL) != CF_OK)
        return -1;
    return cf_itest_redis_start(&s_redis, NULL) == CF_OK ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void) state;
    cf_itest_redis_stop(&s_redis);
    cf_ca_destroy(&s_ca);
    cf_seal_destroy(&s_seal);
    return 0;
}

static cf_store_t *s_fresh(void)
{
    cf_store_t *store = cf_itest_store_at(s_redis.port, NULL);
    assert_int_equal(cf_store_cmd(store, NULL, "FLUSHALL"), CF_OK);
    return store;
}

/* Run a command given as space-separated words; its integer answer. */
static long long s_int(cf_store_t *store, const char *cmd)
{
    char buf[256];
    const char *argv[8];
    int argc = 0;
    snprintf(buf, sizeof(buf), "%s", cmd);
    for (char *save = NULL, *w = strtok_r(buf, " ", &save); w && argc < 8;
         w = strtok_r(NULL, " ", &save))
        argv[argc++] = w;
    redisReply *r = NULL;
    assert_int_equal(cf_store_cmd_argv(store, 0, &r, argc, argv, NULL), CF_OK);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long n = r->integer;
    cf_store_reply_free(&r);
    return n;
}

/* A server (or other component) certificate from the test CA; lifetime in seconds, issued
   at now (0 = the current time). */
static cf_cert_t *s_issue(cf_component_t comp, const char *name, long seconds, time_t now,
                          cf_key_t **key)
{
    cf_issue_t req = {.component = comp, .name = name, .seconds = seconds, .now = now};
    cf_cert_t *cert = NULL;
    cf_key_t *k = NULL;
    assert_int_equal(cf_ca_issue(s_ca, &req, &cert, &k), CF_OK);
    if (key)
        *key = k;
    else
        cf_key_destroy(&k);
    return cert;
}

static void test_usage(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_key_t *key = NULL, *back = NULL;
    cf_cert_t *cert = s_issue(CF_COMPONENT_SERVER, "srv1", 86400, 0, &key);
    cf_db_cert_in_t in = {CF_COMPONENT_SERVER, "srv1", CF_DB_CERT_GENERATED, cert, NULL, key,
                          1700000000};
    int archived = -1;
    assert_int_equal(cf_db_cert_put(store, s_seal, &in, &archived), CF_OK);
    assert_int_equal(archived, 0);
    cf_db_cert_t rec;
    assert_int_equal(cf_db_cert_get(store, s_seal, CF_COMPONENT_SERVER, "srv1", &rec, &back),
                     CF_OK);
    assert_int_equal(rec.kind, CF_DB_CERT_GENERATED);
    assert_string_equal(rec.fingerprint, cf_cert_fingerprint(cert));
    assert_string_equal(rec.serial, cf_cert_serial(cert));
    assert_int_equal(rec.not_after, (int64_t) cf_cert_not_after(cert));
    assert_int_equal(rec.updated, 1700000000);
    assert_true(rec.has_key);
    assert_null(rec.chain_pem);
    assert_int_equal(cf_cert_matches_key(cert, back), CF_OK);
    cf_db_cert_clear(&rec);
    cf_db_cert_t *list = NULL;
    size_t n = 0;
    assert_int_equal(cf_db_cert_list(store, CF_COMPONENT_SERVER, 100, &list, &n), CF_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].name, "srv1");
    cf_db_cert_list_free(&list, n);
    assert_null(list);
    cf_key_destroy(&back);
    cf_key_destroy(&key);
    cf_cert_destroy(&cert);
    cf_store_destroy(&store);
}

/* The subscriber sees "cert server srv1" for every put. */
static void test_archive_on_replace(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_key_t *ka = NULL, *kb = NULL;
    cf_cert_t *a = s_issue(CF_COMPONENT_SERVER, "srv1", 86400, 0, &ka);
    cf_cert_t *b = s_issue(CF_COMPONENT_SERVER, "srv1", 86400, 0, &kb);
    cf_db_cert_in_t in = {CF_COMPONENT_SERVER, "srv1", CF_DB_CERT_GENERATED, a, NULL, ka, 100};
    int archived = 0, yes = 0;
    assert_int_equal(cf_db_cert_put(store, s_seal, &in, &archived), CF_OK);
    assert_int_equal(cf_db_cert_put(store, s_seal, &in, &archived), CF_OK); /* same again */
    assert_int_equal(archived, 0);
    assert_int_equal(s_int(store, "HLEN cf:archive"), 0);
    in.cert = b;
    in.key = kb;
    in.now = 200;
    assert_int_equal(cf_db_cert_put(store, s_seal, &in, &archived), CF_OK);
    assert_int_equal(archived, 1);
    assert_int_equal(cf_db_archived(store, cf_cert_fingerprint(a), &yes), CF_OK);
    assert_true(yes);
    assert_int_equal(cf_db_archived(store, cf_cert_fingerprint(b), &yes), CF_OK);
    assert_false(yes);
    cf_db_archived_t e;
    assert_int_equal(cf_db_archive_get(store, cf_cert_fingerprint(a), &e), CF_OK);
    assert_int_equal(e.component, CF_COMPONENT_SERVER);
    assert_string_equal(e.name, "srv1");
    assert_string_equal(e.serial, cf_cert_serial(a));
    assert_int_equal(e.not_after, (int64_t) cf_cert_not_after(a));
    assert_int_equal(e.archived_at, 200);
    cf_cert_t *back = NULL;
    assert_int_equal(cf_cert_parse(e.cert_pem, strlen(e.cert_pem), &back), CF_OK);
    assert_string_equal(cf_cert_fingerprint(back), cf_cert_fingerprint(a));
    cf_cert_destroy(&back);
    cf_db_archived_clear(&e);
    /* putting the old one back makes it current again: it leaves the archive, b enters */
    in.cert = a;
    in.key = ka;
    assert_int_equal(cf_db_cert_put(store, s_seal, &in, &archived), CF_OK);
    assert_int_equal(archived, 1);
    assert_int_equal(cf_db_archived(store, cf_cert_fingerprint(a), &yes), CF_OK);
    assert_false(yes);
    assert_int_equal(cf_db_archived(store, cf_cert_fingerprint(b), &yes), CF_OK);
    assert_true(yes);
    assert_int_equal(cf_db_archive_get(store, cf_cert_fingerprint(a), &e), CF_ERR_NOTFOUND);
    assert_int_equal(cf_db_archived(store, "ABC", &yes), CF_ERR_INVALID);
    cf_key_destroy(&ka);
    cf_key_destroy(&kb);
    cf_cert_destroy(&a);
    cf_cert_destroy(&b);
    cf_store_destroy(&store);
}

static void test_kinds_and_refusals(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_key_t *key = NULL, *other = NULL, *back = (cf_key_t *) 0x1;
    cf_cert_t *cert = s_issue(CF_COMPONENT_CONSOLE, "console", 86400, 0, &key);
    cf_cert_t *cert2 = s_issue(CF_COMPONENT_CONSOLE, "console", 86400, 0, &other);
    /* public only: no key, get answers no key */
    cf_db_cert_in_t in = {CF_COMPONENT_CONSOLE, "console", CF_DB_CERT_PUBLIC, cert, "", NULL, 1};
    assert_int_equal(cf_db_cert_put(store, s_seal, &in, NULL), CF_OK);
    cf_db_cert_t rec;
    assert_int_equal(cf_db_cert_get(store, s_seal, CF_COMPONENT_CONSOLE, "console", &rec, &back),
                     CF_OK);
    assert_int_equal(rec.kind, CF_DB_CERT_PUBLIC);
    assert_false(rec.has_key);
    assert_null(back);
    cf_db_cert_clear(&rec);
    /* kind and key must agree, the key must be the certificate's, names must be clean */
    in.key = key;
    assert_int_equal(cf_db_cert_put(store, s_seal, &in, NULL), CF_ERR_INVALID);
    in.kind = CF_DB_CERT_IMPORTED;
    in.key = NULL;
    assert_int_equal(cf_db_cert_put(store, s_seal, &in, NULL), CF_ERR_INVALID);
    in.key = other;
    assert_int_equal(cf_db_cert_put(store, s_seal, &in, NULL), CF_ERR_KEYMISMATCH);
    in.key = key;
    in.kind = (cf_db_cert_kind_t) 9;
    assert_int_equal(cf_db_cert_put(store, s_seal, &in, NULL), CF_ERR_INVALID);
    in.kind = CF_DB_CERT_IMPORTED;
    static const char *const bad[] = {"", "Console", "a:b", "a{b}", "a b", "-x", "x*"};
    long long keys = s_int(store, "DBSIZE");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        in.name = bad[i];
        assert_int_equal(cf_db_cert_put(store, s_seal, &in, NULL), CF_ERR_INVALID);
        assert_int_equal(cf_db_cert_get(store, s_seal, CF_COMPONENT_CONSOLE, bad[i], &rec, NULL),
                         CF_ERR_INVALID);
    }
    in.name = "console";
    in.component = CF_COMPONENT_CA;
    assert_int_equal(cf_db_cert_put(store, s_seal, &in, NULL), CF_ERR_INVALID);
    assert_int_equal(s_int(store, "DBSIZE"), keys); /* refusals wrote nothing */
    cf_key_destroy(&key);
    cf_key_destroy(&other);
    cf_cert_destroy(&cert);
    cf_cert_destroy(&cert2);
    cf_store_destroy(&store);
}

static void test_chain_and_moved_key(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_key_t *key = NULL, *back = NULL;
    cf_cert_t *cert = s_issue(CF_COMPONENT_CONSOLE, "console", 86400, 0, &key);
    cf_db_cert_in_t in = {CF_COMPONENT_CONSOLE, "console", CF_DB_CERT_IMPORTED, cert, NULL, key, 1};
    cf_db_cert_t rec;
    /* imported with a chain */
    char *ca_pem = NULL;
    size_t ca_len = 0;
    assert_int_equal(cf_cert_to_pem(cf_ca_cert(s_ca), &ca_pem, &ca_len), CF_OK);
    in.chain_pem = ca_pem;
    assert_int_equal(cf_db_cert_put(store, s_seal, &in, NULL), CF_OK);
    assert_int_equal(cf_db_cert_get(store, s_seal, CF_COMPONENT_CONSOLE, "console", &rec, NULL),
                     CF_OK);
    assert_string_equal(rec.chain_pem, ca_pem);
    assert_true(rec.has_key);
    cf_db_cert_clear(&rec);
    /* a sealed key moved to another record does not open there (AAD = key name) */
    assert_int_equal(cf_store_cmd(store, NULL, "COPY cf:cert:console:console cf:cert:agent:x"),
                     CF_OK);
    assert_int_equal(cf_db_cert_get(store, s_seal, CF_COMPONENT_AGENT, "x", &rec, &back),
                     CF_ERR_CORRUPT);
    assert_null(back);
    assert_int_equal(cf_db_cert_get(store, s_seal, CF_COMPONENT_AGENT, "x", &rec, NULL), CF_OK);
    cf_db_cert_clear(&rec); /* without opening the key, the record itself reads fine */
    assert_int_equal(cf_store_cmd(store, NULL, "HSET cf:cert:agent:x kind bogus"), CF_OK);
    assert_int_equal(cf_db_cert_get(store, s_seal, CF_COMPONENT_AGENT, "x", &rec, NULL),
                     CF_ERR_CORRUPT);
    assert_int_equal(cf_db_cert_get(store, s_seal, CF_COMPONENT_AGENT, "y", &rec, NULL),
                     CF_ERR_NOTFOUND);
    cf_mem_free(ca_pem);
    cf_key_destroy(&key);
    cf_cert_destroy(&cert);
    cf_store_destroy(&store);
}

static void test_list(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    static const char *const names[] = {"srv3", "srv1", "srv2.example.org", "srv-0"};
    for (size_t i = 0; i < 4; i++) {
        cf_cert_t *cert = s_issue(CF_COMPONENT_SERVER, names[i], 3600, 0, NULL);
        cf_db_cert_in_t in = {
            CF_COMPONENT_SERVER, names[i], CF_DB_CERT_PUBLIC, cert, NULL, NULL, 1};
        assert_int_equal(cf_db_cert_put(store, s_seal, &in, NULL), CF_OK);
        cf_cert_destroy(&cert);
    }
    cf_db_cert_t *list = NULL;
    size_t n = 0;
    assert_int_equal(cf_db_cert_list(store, CF_COMPONENT_SERVER, 100, &list, &n), CF_OK);
    assert_int_equal(n, 4);
    assert_string_equal(list[0].name, "srv-0");
    assert_string_equal(list[1].name, "srv1");
    assert_string_equal(list[2].name, "srv2.example.org");
    assert_string_equal(list[3].name, "srv3");
    cf_db_cert_list_free(&list, n);
    assert_int_equal(cf_db_cert_list(store, CF_COMPONENT_AGENT, 100, &list, &n), CF_OK);
    assert_int_equal(n, 0);
    cf_db_cert_list_free(&list, n);
    assert_int_equal(cf_db_cert_list(store, CF_COMPONENT_SERVER, 3, &list, &n), CF_ERR_TOOBIG);
    assert_null(list);
    assert_int_equal(cf_db_cert_list(store, CF_COMPONENT_CA, 3, &list, &n), CF_ERR_INVALID);
    /* a name in the index without a record is skipped; a malformed one is reported */
    assert_int_equal(cf_store_cmd(store, NULL, "DEL cf:cert:server:srv3"), CF_OK);
    assert_int_equal(cf_db_cert_list(store, CF_COMPONENT_SERVER, 100, &list, &n), CF_OK);
    assert_int_equal(n, 3);
    cf_db_cert_list_free(&list, n);
    assert_int_equal(cf_store_cmd(store, NULL, "SADD cf:certs:server BAD:NAME"), CF_OK);
    assert_int_equal(cf_db_cert_list(store, CF_COMPONENT_SERVER, 100, &list, &n), CF_ERR_CORRUPT);
    cf_store_destroy(&store);
}

typedef struct {
    int seen;                      /* entries the walk gave */
    int stop_after;                /* stop once this many were seen (0: never) */
    char name[CF_DB_NAME_MAX + 1]; /* last name seen */
} s_walked_t;

static int s_on_entry(void *arg, const cf_db_archived_t *e)
{
    s_walked_t *w = arg;
    w->seen++;
    snprintf(w->name, sizeof(w->name), "%s", e->name);
    return w->stop_after && w->seen >= w->stop_after;
}

static void test_archive_walk_and_prune(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    time_t now = time(NULL);
    /* 150 per-agent certificates: 100 expired a day ago, 50 valid for a day */
    for (int i = 0; i < 150; i++) {
        char id[32];
        snprintf(id, sizeof(id), "agent-%03d", i);
        time_t at = i < 100 ? now - 2 * 86400 : now;
        cf_cert_t *cert = s_issue(CF_COMPONENT_AGENT, id, 86400, at, NULL);
        assert_int_equal(cf_db_archive_add(store, CF_COMPONENT_AGENT, id, cert, now), CF_OK);
        cf_cert_destroy(&cert);
    }
    assert_int_equal(
        cf_store_cmd(store, NULL, "HSET cf:archive %s not-json",
                     "0000000000000000000000000000000000000000000000000000000000000000"),
        CF_OK);
    assert_int_equal(cf_store_cmd(store, NULL, "HSET cf:archive short {}"), CF_OK);
    s_walked_t w = {0, 0, ""};
    size_t bad = 0;
    assert_int_equal(cf_db_archive_walk(store, 1000, s_on_entry, &w, &bad), CF_OK);
    assert_int_equal(w.seen, 150);
    assert_int_equal(bad, 2);
    w = (s_walked_t){0, 7, ""};
    assert_int_equal(cf_db_archive_walk(store, 1000, s_on_entry, &w, &bad), CF_OK);
    assert_int_equal(w.seen, 7); /* the callback stopped it */
    w = (s_walked_t){0, 0, ""};
    assert_int_equal(cf_db_archive_walk(store, 20, s_on_entry, &w, &bad), CF_ERR_TOOBIG);
    assert_int_equal(cf_db_archive_walk(store, 0, s_on_entry, &w, &bad), CF_ERR_INVALID);
    size_t removed = 0;
    assert_int_equal(cf_db_archive_prune(store, (int64_t) now, &removed), CF_OK);
    assert_int_equal(removed, 102);
    assert_int_equal(s_int(store, "HLEN cf:archive"), 50);
    w = (s_walked_t){0, 0, ""};
    assert_int_equal(cf_db_archive_walk(store, 1000, s_on_entry, &w, &bad), CF_OK);
    assert_int_equal(w.seen, 50);
    assert_int_equal(bad, 0);
    assert_int_equal(cf_db_archive_prune(store, (int64_t) now, &removed), CF_OK);
    assert_int_equal(removed, 0);
    cf_store_destroy(&store);
}

static int s_on_serial(void *arg, const char *serial)
{
    s_walked_t *w = arg;
    w->seen++;
    snprintf(w->name, sizeof(w->name), "%s", serial);
    return 0;
}

static void test_revoke_and_reload(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    redisContext *sub = redisConnect("127.0.0.1", s_redis.port);
    assert_true(sub && !sub->err);
    freeReplyObject(redisCommand(sub, "SUBSCRIBE cf:events"));
    const char *serials[] = {"0a1b", "ff", "0a1b", "1234567890abcdef"};
    size_t added = 0;
    assert_int_equal(cf_db_revoke(store, serials, 4, &added), CF_OK);
    assert_int_equal(added, 3);
    void *msg = NULL;
    assert_int_equal(redisGetReply(sub, &msg), REDIS_OK);
    assert_string_equal(((redisReply *) msg)->element[2]->str, "revoked");
    freeReplyObject(msg);
    assert_int_equal(cf_db_revoke(store, serials, 1, &added), CF_OK);
    assert_int_equal(added, 0);
    int yes = 0;
    assert_int_equal(cf_db_revoked(store, "ff", &yes), CF_OK);
    assert_true(yes);
    assert_int_equal(cf_db_revoked(store, "fe", &yes), CF_OK);
    assert_false(yes);
    assert_int_equal(cf_db_revoked(store, "FF", &yes), CF_ERR_INVALID);
    const char *bad[] = {"ff", "not hex"};
    assert_int_equal(cf_db_revoke(store, bad, 2, &added), CF_ERR_INVALID);
    assert_int_equal(cf_db_revoke(store, bad, 0, &added), CF_ERR_INVALID);
    assert_int_equal(s_int(store, "SCARD cf:revoked"), 3);
    /* a second server (another connection) loads the same set; junk is skipped, counted */
    assert_int_equal(cf_store_cmd(store, NULL, "SADD cf:revoked %s", "BAD SERIAL"), CF_OK);
    cf_store_t *other = cf_itest_store_at(s_redis.port, NULL);
    s_walked_t w = {0, 0, ""};
    size_t junk = 0;
    assert_int_equal(cf_db_revoked_load(other, 100, s_on_serial, &w, &junk), CF_OK);
    assert_int_equal(w.seen, 3);
    assert_int_equal(junk, 1);
    assert_int_equal(cf_db_revoked_load(other, 2, s_on_serial, &w, &junk), CF_ERR_TOOBIG);
    cf_store_destroy(&other);
    redisFree(sub);
    cf_store_destroy(&store);
}

static void test_crl(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_db_crl_t crl;
    assert_int_equal(cf_db_crl_get(store, &crl), CF_ERR_NOTFOUND);
    assert_int_equal(cf_db_crl_dates(store, &crl), CF_ERR_NOTFOUND);
    const char *serials[] = {"0a1b", "ff"};
    char *pem = NULL;
    time_t now = time(NULL);
    assert_int_equal(cf_ca_crl(s_ca, serials, 2, now, now + 86400, &pem), CF_OK);
    assert_int_equal(cf_db_crl_put(store, pem, now, now + 86400, 2), CF_OK);
    assert_int_equal(cf_db_crl_get(store, &crl), CF_OK);
    assert_string_equal(crl.pem, pem);
    assert_int_equal(crl.this_update, now);
    assert_int_equal(crl.next_update, now + 86400);
    assert_int_equal(crl.count, 2);
    cf_db_crl_clear(&crl);
    assert_null(crl.pem);
    assert_int_equal(cf_db_crl_dates(store, &crl), CF_OK); /* the same, but no PEM */
    assert_null(crl.pem);
    assert_int_equal(crl.this_update, now);
    assert_int_equal(crl.next_update, now + 86400);
    assert_int_equal(crl.count, 2);
    assert_int_equal(cf_db_crl_put(store, pem, now, now - 1, 2), CF_ERR_INVALID);
    assert_int_equal(cf_db_crl_put(store, "", now, now, 0), CF_ERR_INVALID);
    assert_int_equal(cf_db_crl_put(store, pem, now, now, -1), CF_ERR_INVALID);
    assert_int_equal(cf_store_cmd(store, NULL, "HSET cf:crl next_update soon"), CF_OK);
    assert_int_equal(cf_db_crl_get(store, &crl), CF_ERR_CORRUPT);
    assert_null(crl.pem);
    assert_int_equal(cf_db_crl_dates(store, &crl), CF_ERR_CORRUPT);
    assert_int_equal(crl.next_update, 0);
    cf_mem_free(pem);
    cf_store_destroy(&store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_archive_on_replace),
        cmocka_unit_test(test_kinds_and_refusals),
        cmocka_unit_test(test_chain_and_moved_key),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_archive_walk_and_prune),
        cmocka_unit_test(test_revoke_and_reload),
        cmocka_unit_test(test_crl),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
