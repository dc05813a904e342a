/*  test_db_agent - cf_db_agent against a real redis-server: counters, paging, favorites  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_db_agent.h"
#include "cf_db_server.h"
#include "cf_itest.h"
#include "cf_itest_checkin.h"
#include "cf_mem.h"

CF_ITEST_REDIS_PER_FILE()

static const char s_fp[] = CF_ITEST_CHECKIN_FP;

/* A check-in of id in lock state at now (a certificate unless insecure). */
static cf_err_t s_checkin(cf_store_t *store, const char *id, cf_db_lock_t lock, int64_t now,
                          char *favorite)
{
    cf_db_checkin_t in = cf_itest_checkin_in(id, lock, now, now + 86400);
    return cf_db_agent_checkin(store, &in, favorite);
}

static void test_usage(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    char favorite[CF_DB_ALIAS_MAX + 1];
    /* an agent without a certificate checks in while allow-plain is on */
    assert_int_equal(s_checkin(store, "agent-7", CF_DB_LOCK_INSECURE, 1000, favorite), CF_OK);
    assert_string_equal(favorite, "");
    cf_db_agent_t a;
    assert_int_equal(cf_db_agent_get(store, "agent-7", &a), CF_OK);
    assert_int_equal(a.lock, CF_DB_LOCK_INSECURE);
    assert_int_equal(a.last_seen, 1000);
    assert_string_equal(a.last_addr, "127.0.0.7");
    assert_string_equal(a.server, "srv1");
    assert_string_equal(a.cert_fp, "");
    /* later with its certificate */
    assert_int_equal(s_checkin(store, "agent-7", CF_DB_LOCK_SECURE, 2000, favorite), CF_OK);
    assert_int_equal(cf_db_agent_get(store, "agent-7", &a), CF_OK);
    assert_int_equal(a.lock, CF_DB_LOCK_SECURE);
    assert_string_equal(a.cert_fp, s_fp);
    assert_string_equal(a.cert_serial, "0a1b");
    assert_int_equal(a.cert_not_after, 2000 + 86400);
    cf_db_agent_counts_t c;
    assert_int_equal(cf_db_agent_counts(store, &c), CF_OK);
    assert_int_equal(c.n[CF_DB_LOCK_SECURE], 1);
    assert_int_equal(c.n[CF_DB_LOCK_INSECURE], 0);
    assert_int_equal(c.total, 1);
    /* back to no certificate: the certificate fields go */
    assert_int_equal(s_checkin(store, "agent-7", CF_DB_LOCK_INSECURE, 3000, NULL), CF_OK);
    assert_int_equal(cf_db_agent_get(store, "agent-7", &a), CF_OK);
    assert_string_equal(a.cert_fp, "");
    assert_int_equal(a.cert_not_after, 0);
    assert_int_equal(cf_db_agent_get(store, "agent-8", &a), CF_ERR_NOTFOUND);
    cf_store_destroy(&store);
}

/* Recount everything from the agent hashes (SCAN, HGET lock) and compare with the
   counters and the sorted sets. */
typedef struct {
    cf_store_t *store;           /* a second connection for the reads */
    int64_t n[CF_DB_LOCK_COUNT]; /* recounted per lock */
    int64_t total;               /* agent hashes seen */
} s_recount_t;

static int s_recount_one(void *arg, const char *key, size_t len)
{
    s_recount_t *rc = arg;
    redisReply *r = NULL;
    assert_int_equal(cf_store_cmd(rc->store, &r, "HMGET %b lock id", key, len), CF_OK);
    cf_db_lock_t lock;
    assert_int_equal(cf_db_lock_from_name(r->element[0]->str, &lock), CF_OK);
    rc->n[lock]++;
    rc->total++;
    redisReply *m = NULL;
    char set[64];
    snprintf(set, sizeof(set), "cf:agents:%s", cf_db_lock_name(lock));
    assert_int_equal(cf_store_cmd(rc->store, &m, "ZSCORE %s %s", set, r->element[1]->str), CF_OK);
    assert_int_equal(m->type, REDIS_REPLY_STRING); /* in its lock's set */
    cf_store_reply_free(&m);
    cf_store_reply_free(&r);
    return 0;
}

static void s_assert_counts_match(cf_store_t *store)
{
    s_recount_t rc = {cf_itest_store_at(s_redis.port, NULL), {0}, 0};
    assert_int_equal(cf_store_scan(store, "cf:agent:{*}", 100, 100000, s_recount_one, &rc), CF_OK);
    cf_db_agent_counts_t c;
    assert_int_equal(cf_db_agent_counts(store, &c), CF_OK);
    assert_int_equal(c.total, rc.total);
    for (int i = 0; i < CF_DB_LOCK_COUNT; i++) {
        assert_int_equal(c.n[i], rc.n[i]);
        redisReply *r = NULL;
        assert_int_equal(cf_store_cmd(store, &r, "ZCARD cf:agents:%s", cf_db_lock_name(i)), CF_OK);
        assert_int_equal(r->integer, rc.n[i]); /* each agent in exactly one lock set */
        cf_store_reply_free(&r);
    }
    cf_store_destroy(&rc.store);
}

static uint32_t s_rand(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

enum { AGENTS = 200, CHECKINS = 2000 };

static void test_counters_equal_recount(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    uint32_t x = 20240601;
    int lock_of[AGENTS];
    for (int i = 0; i < AGENTS; i++)
        lock_of[i] = -1;
    for (int k = 0; k < CHECKINS; k++) {
        int i = (int) (s_rand(&x) % AGENTS);
        char id[32];
        snprintf(id, sizeof(id), "agent-%03d.lab", i);
        int64_t now = 1000 + (int64_t) (s_rand(&x) % 50); /* many ties */
        uint32_t what = s_rand(&x) % 20;
        if (what == 0 && lock_of[i] >= 0) {
            assert_int_equal(cf_db_agent_remove(store, id), CF_OK);
            lock_of[i] = -1;
        } else if (what < 4) {
            assert_int_equal(cf_db_agent_expired(store, id, now, "10.0.0.1", s_fp, "ff", now),
                             CF_OK);
            lock_of[i] = CF_DB_LOCK_EXPIRED;
        } else {
            cf_db_lock_t lock = (cf_db_lock_t) (s_rand(&x) % 3); /* secure/attention/insecure */
            assert_int_equal(s_checkin(store, id, lock, now, NULL), CF_OK);
            lock_of[i] = lock;
        }
    }
    s_assert_counts_match(store);
    int64_t want[CF_DB_LOCK_COUNT] = {0}, total = 0;
    for (int i = 0; i < AGENTS; i++) {
        if (lock_of[i] >= 0) {
            want[lock_of[i]]++;
            total++;
        }
    }
    cf_db_agent_counts_t c;
    assert_int_equal(cf_db_agent_counts(store, &c), CF_OK);
    assert_int_equal(c.total, total);
    for (int i = 0; i < CF_DB_LOCK_COUNT; i++)
        assert_int_equal(c.n[i], want[i]);
    assert_int_equal(cf_db_agent_remove(store, "agent-none"), CF_ERR_NOTFOUND);
    cf_store_destroy(&store);
}

/* Walk every page; seen[i] counts how often agent-<i> came. Checks the order. */
static void s_walk(cf_store_t *store, cf_db_lock_t lock, size_t limit, int *seen, int n_agents,
                   const char *move_id)
{
    char cursor[CF_DB_CURSOR_MAX] = "";
    int64_t last_seen = -1;
    char last_id[CF_DB_ID_MAX + 1] = "";
    int pages = 0;
    do {
        cf_db_agent_t *list = NULL;
        size_t n = 0;
        char next[CF_DB_CURSOR_MAX];
        assert_int_equal(cf_db_agent_list(store, lock, cursor, limit, &list, &n, next), CF_OK);
        assert_true(n <= limit);
        for (size_t k = 0; k < n; k++) {
            int i = atoi(list[k].id + 6);
            assert_true(i >= 0 && i < n_agents);
            seen[i]++;
            if (lock != CF_DB_LOCK_COUNT)
                assert_int_equal(list[k].lock, lock);
            if (!move_id) /* (last_seen, id) grows strictly */
                assert_true(list[k].last_seen > last_seen ||
                            (list[k].last_seen == last_seen && strcmp(list[k].id, last_id) > 0));
            last_seen = list[k].last_seen;
            snprintf(last_id, sizeof(last_id), "%s", list[k].id);
        }
        if (move_id && pages == 1) /* the agent at the cursor checks in meanwhile */
            assert_int_equal(s_checkin(store, last_id, CF_DB_LOCK_SECURE, 999999, NULL), CF_OK);
        cf_mem_free(list);
        memcpy(cursor, next, sizeof(cursor));
        pages++;
    } while (cursor[0]);
}

static void test_paging(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    enum { N = 103 };
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof(id), "agent-%03d", (i * 37) % N); /* ids not in time order */
        assert_int_equal(s_checkin(store, id, (cf_db_lock_t) (i % 3), 5000 + i / 10, NULL), CF_OK);
    }
    static const size_t limits[] = {1, 7, 10, 103, 500};
    for (size_t l = 0; l < 5; l++) {
        int seen[N] = {0};
        s_walk(store, CF_DB_LOCK_COUNT, limits[l], seen, N, NULL);
        for (int i = 0; i < N; i++)
            assert_int_equal(seen[i], 1); /* every agent exactly once */
    }
    /* per lock: the three walks together give every agent once */
    int seen[N] = {0};
    for (int lock = 0; lock < CF_DB_LOCK_COUNT; lock++)
        s_walk(store, (cf_db_lock_t) lock, 4, seen, N, NULL);
    for (int i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);
    /* the cursor's agent checks in during the walk: nobody is missed */
    memset(seen, 0, sizeof(seen));
    s_walk(store, CF_DB_LOCK_COUNT, 6, seen, N, "moved");
    int twice = 0;
    for (int i = 0; i < N; i++) {
        assert_true(seen[i] == 1 || seen[i] == 2);
        twice += seen[i] == 2;
    }
    assert_int_equal(twice, 1);
    /* bad cursors and limits */
    cf_db_agent_t *list = NULL;
    size_t n = 0;
    char next[CF_DB_CURSOR_MAX];
    static const char *const bad[] = {"5000",       ":agent-001", "x:agent-001",
                                      "5000:Agent", "5000:",      "12345678901234567890:a",
                                      "5000:a:b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(cf_db_agent_list(store, CF_DB_LOCK_COUNT, bad[i], 5, &list, &n, next),
                         CF_ERR_INVALID);
    assert_int_equal(cf_db_agent_list(store, CF_DB_LOCK_COUNT, "", 0, &list, &n, next),
                     CF_ERR_INVALID);
    assert_int_equal(cf_db_agent_list(store, (cf_db_lock_t) 9, "", 5, &list, &n, next),
                     CF_ERR_INVALID);
    assert_null(list);
    /* a cursor past the end gives an empty last page */
    assert_int_equal(cf_db_agent_list(store, CF_DB_LOCK_COUNT, "9999999:zzz", 5, &list, &n, next),
                     CF_OK);
    assert_int_equal(n, 0);
    assert_string_equal(next, "");
    cf_mem_free(list);
    cf_store_destroy(&store);
}

/* What cf_db_agent_list_ids hands over: the ids in order; or the error that ends it. */
typedef struct {
    char id[120][CF_DB_ID_MAX + 1]; /* the ids seen */
    size_t n;                       /* how many */
    size_t fail_at;                 /* answer CF_ERR_TOOBIG at this one (0: never) */
} s_ids_t;

static cf_err_t s_take_id(void *arg, const char *id)
{
    s_ids_t *t = arg;
    if (t->fail_at && t->n + 1 == t->fail_at)
        return CF_ERR_TOOBIG;
    assert_true(t->n < 120);
    snprintf(t->id[t->n++], sizeof(t->id[0]), "%s", id);
    return CF_OK;
}

/* The ids alone: the same agents in the same order as the records' walk, over pages of
   every size; an error from the callback ends the page with it; the same refusals. */
static void test_ids_paging(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    enum { N = 103 };
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof(id), "agent-%03d", (i * 37) % N);
        assert_int_equal(s_checkin(store, id, (cf_db_lock_t) (i % 3), 5000 + i / 10, NULL), CF_OK);
    }
    cf_db_agent_t *all = NULL;
    size_t n_all = 0;
    char next[CF_DB_CURSOR_MAX];
    assert_int_equal(cf_db_agent_list(store, CF_DB_LOCK_COUNT, "", 500, &all, &n_all, next), CF_OK);
    assert_int_equal(n_all, N);
    static const size_t limits[] = {1, 10, 103, 500};
    for (size_t l = 0; l < 4; l++) {
        s_ids_t *t = calloc(1, sizeof(*t));
        assert_non_null(t);
        char cursor[CF_DB_CURSOR_MAX] = "";
        do {
            assert_int_equal(cf_db_agent_list_ids(store, CF_DB_LOCK_COUNT, cursor, limits[l],
                                                  s_take_id, t, next),
                             CF_OK);
            memcpy(cursor, next, sizeof(cursor));
        } while (cursor[0]);
        assert_int_equal(t->n, N);
        for (size_t i = 0; i < N; i++)
            assert_string_equal(t->id[i], all[i].id);
        free(t);
    }
    cf_mem_free(all);
    s_ids_t *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    t->fail_at = 5;
    assert_int_equal(cf_db_agent_list_ids(store, CF_DB_LOCK_COUNT, "", 50, s_take_id, t, next),
                     CF_ERR_TOOBIG);
    assert_int_equal(t->n, 4);
    assert_string_equal(next, "");
    assert_int_equal(cf_db_agent_list_ids(store, CF_DB_LOCK_COUNT, "5000", 5, s_take_id, t, next),
                     CF_ERR_INVALID);
    assert_int_equal(cf_db_agent_list_ids(store, CF_DB_LOCK_COUNT, "", 0, s_take_id, t, next),
                     CF_ERR_INVALID);
    free(t);
    cf_store_destroy(&store);
}

/* There is no set of all agents (its ~100 bytes per agent): the per-lock sets are the
   fleet; check-ins leave a set left by an older version alone (no step of theirs) and
   cf_db_agent_drop_old_set drops it whole. */
static void test_no_set_of_all(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    assert_int_equal(cf_store_cmd(store, NULL, "ZADD cf:agents 1 agent-1 1 agent-2 1 gone"), CF_OK);
    assert_int_equal(s_checkin(store, "agent-1", CF_DB_LOCK_SECURE, 10, NULL), CF_OK);
    assert_int_equal(s_checkin(store, "agent-2", CF_DB_LOCK_INSECURE, 11, NULL), CF_OK);
    assert_int_equal(s_checkin(store, "agent-3", CF_DB_LOCK_ATTENTION, 12, NULL), CF_OK);
    assert_true(cf_itest_redis_reply_has(s_redis.port, "3", "ZCARD cf:agents"));
    assert_int_equal(cf_db_agent_drop_old_set(store), CF_OK);
    assert_true(cf_itest_redis_reply_has(s_redis.port, "0", "EXISTS cf:agents"));
    assert_int_equal(cf_db_agent_drop_old_set(store), CF_OK); /* none left: still fine */
    cf_db_agent_counts_t c;
    assert_int_equal(cf_db_agent_counts(store, &c), CF_OK);
    assert_int_equal(c.total, 3); /* from the per-lock sets, not the old set */
    assert_int_equal(c.n[CF_DB_LOCK_SECURE], 1);
    assert_int_equal(c.n[CF_DB_LOCK_ATTENTION], 1);
    assert_int_equal(c.n[CF_DB_LOCK_INSECURE], 1);
    /* the whole-fleet page merges the per-lock sets in (last_seen, id) order */
    cf_db_agent_t *list = NULL;
    size_t n = 0;
    char next[CF_DB_CURSOR_MAX];
    assert_int_equal(cf_db_agent_list(store, CF_DB_LOCK_COUNT, "", 2, &list, &n, next), CF_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].id, "agent-1");
    assert_string_equal(list[1].id, "agent-2");
    assert_string_equal(next, "11:agent-2");
    cf_mem_free(list);
    char last[CF_DB_CURSOR_MAX];
    assert_int_equal(cf_db_agent_list(store, CF_DB_LOCK_COUNT, next, 2, &list, &n, last), CF_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].id, "agent-3");
    cf_mem_free(list);
    assert_int_equal(cf_db_agent_remove(store, "agent-3"), CF_OK);
    assert_int_equal(cf_db_agent_counts(store, &c), CF_OK);
    assert_int_equal(c.total, 2);
    cf_store_destroy(&store);
}

static void test_favorites(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_db_server_t srv = {.alias = "srv2", .port = 7005, .priority = 10};
    assert_int_equal(cf_db_server_create(store, &srv, 1), CF_OK);
    const char *ids[60];
    char names[60][16];
    for (int i = 0; i < 60; i++) {
        snprintf(names[i], sizeof(names[i]), "agent-%02d", i);
        ids[i] = names[i];
        if (i < 50)
            assert_int_equal(s_checkin(store, names[i], CF_DB_LOCK_SECURE, 10, NULL), CF_OK);
    }
    size_t updated = 0;
    assert_int_equal(cf_db_agent_set_favorite(store, ids, 60, "srv2", &updated), CF_OK);
    assert_int_equal(updated, 50); /* the 10 unknown agents are skipped, not created */
    assert_int_equal(cf_store_cmd(store, NULL, "PING"), CF_OK);
    cf_db_agent_t a;
    assert_int_equal(cf_db_agent_get(store, "agent-49", &a), CF_OK);
    assert_string_equal(a.favorite, "srv2");
    assert_int_equal(cf_db_agent_get(store, "agent-50", &a), CF_ERR_NOTFOUND);
    /* the check-in answer carries it */
    char favorite[CF_DB_ALIAS_MAX + 1];
    assert_int_equal(s_checkin(store, "agent-03", CF_DB_LOCK_SECURE, 11, favorite), CF_OK);
    assert_string_equal(favorite, "srv2");
    /* an alias that is not a server changes nothing */
    assert_int_equal(cf_db_agent_set_favorite(store, ids, 60, "srv9", &updated), CF_ERR_NOTFOUND);
    assert_int_equal(cf_db_agent_get(store, "agent-03", &a), CF_OK);
    assert_string_equal(a.favorite, "srv2");
    /* clear for some */
    assert_int_equal(cf_db_agent_set_favorite(store, ids, 10, NULL, &updated), CF_OK);
    assert_int_equal(updated, 10);
    assert_int_equal(cf_db_agent_get(store, "agent-03", &a), CF_OK);
    assert_string_equal(a.favorite, "");
    const char *bad[] = {"agent-01", "Agent-02"};
    assert_int_equal(cf_db_agent_set_favorite(store, bad, 2, "srv2", &updated), CF_ERR_INVALID);
    assert_int_equal(cf_db_agent_set_favorite(store, ids, 1, "SRV2", &updated), CF_ERR_INVALID);
    assert_int_equal(cf_db_agent_set_favorite(store, ids, 0, "srv2", &updated), CF_ERR_INVALID);
    cf_store_destroy(&store);
}

static void test_expired_and_refusals(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    assert_int_equal(s_checkin(store, "a1", CF_DB_LOCK_SECURE, 100, NULL), CF_OK);
    assert_int_equal(cf_db_agent_expired(store, "a1", 200, "10.1.1.1", s_fp, "0c", 150), CF_OK);
    cf_db_agent_t a;
    assert_int_equal(cf_db_agent_get(store, "a1", &a), CF_OK);
    assert_int_equal(a.lock, CF_DB_LOCK_EXPIRED);
    assert_int_equal(a.last_seen, 200);
    assert_string_equal(a.last_addr, "10.1.1.1");
    assert_string_equal(a.version, "0.1.0"); /* kept: the handshake never got that far */
    assert_string_equal(a.server, "srv1");
    assert_string_equal(a.cert_serial, "0c");
    cf_db_agent_counts_t c;
    assert_int_equal(cf_db_agent_counts(store, &c), CF_OK);
    assert_int_equal(c.n[CF_DB_LOCK_EXPIRED], 1);
    assert_int_equal(c.n[CF_DB_LOCK_SECURE], 0);
    /* refusals: nothing written */
    assert_int_equal(cf_store_cmd(store, NULL, "FLUSHALL"), CF_OK);
    cf_db_checkin_t in = {"a1", CF_DB_LOCK_INSECURE, 1, "127.0.0.1", "1", s_fp, "0a", 5, "srv1", 0};
    assert_int_equal(cf_db_agent_checkin(store, &in, NULL), CF_ERR_INVALID); /* insecure+cert */
    in.lock = CF_DB_LOCK_SECURE;
    in.cert_fp = NULL;
    assert_int_equal(cf_db_agent_checkin(store, &in, NULL), CF_ERR_INVALID); /* secure, none */
    in.cert_fp = "ABCD";
    assert_int_equal(cf_db_agent_checkin(store, &in, NULL), CF_ERR_INVALID);
    in.cert_fp = s_fp;
    static const char *const ids[] = {
        "",   "A1",  "a:1", "a{1}",
        "-a", "a b", NULL,  "a234567890123456789012345678901234567890123456789012345678901234"};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        in.id = ids[i];
        assert_int_equal(cf_db_agent_checkin(store, &in, NULL), CF_ERR_INVALID);
        assert_int_equal(cf_db_agent_get(store, ids[i], &a), CF_ERR_INVALID);
    }
    in.id = "a1";
    in.addr = "";
    assert_int_equal(cf_db_agent_checkin(store, &in, NULL), CF_ERR_INVALID);
    in.addr = "127.0.0.1";
    in.server = "bad alias";
    assert_int_equal(cf_db_agent_checkin(store, &in, NULL), CF_ERR_INVALID);
    in.server = "srv1";
    in.lock = (cf_db_lock_t) 4;
    assert_int_equal(cf_db_agent_checkin(store, &in, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_db_agent_expired(store, "a1", 1, "x", NULL, NULL, 0), CF_ERR_INVALID);
    redisReply *r = NULL;
    assert_int_equal(cf_store_cmd(store, &r, "DBSIZE"), CF_OK);
    assert_int_equal(r->integer, 0);
    cf_store_reply_free(&r);
    /* a damaged record is reported */
    assert_int_equal(s_checkin(store, "a1", CF_DB_LOCK_SECURE, 100, NULL), CF_OK);
    assert_int_equal(cf_store_cmd(store, NULL, "HSET cf:agent:{a1} lock green"), CF_OK);
    assert_int_equal(cf_db_agent_get(store, "a1", &a), CF_ERR_CORRUPT);
    assert_int_equal(cf_store_cmd(store, NULL, "HSET cf:agents:lock secure -3"), CF_OK);
    assert_int_equal(cf_db_agent_counts(store, &c), CF_ERR_CORRUPT);
    cf_store_destroy(&store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_counters_equal_recount),
        cmocka_unit_test(test_paging),
        cmocka_unit_test(test_ids_paging),
        cmocka_unit_test(test_no_set_of_all),
        cmocka_unit_test(test_favorites),
        cmocka_unit_test(test_expired_and_refusals),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
