/*  test_allow - the ZAP allow list: names, replace, remove, caps, a model check, alloc failure  */
#include "cf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cf_allow.h"

static void s_key(unsigned char key[CF_CURVE_KEY_LEN], unsigned seed)
{
    memset(key, 0, CF_CURVE_KEY_LEN);
    memcpy(key, &seed, sizeof(seed));
    key[31] = 0x5a;
}

static void test_usage(void **state)
{
    (void) state;
    cf_allow_t *list = NULL;
    assert_int_equal(cf_allow_new(0, 0, &list), CF_OK);
    unsigned char agent[CF_CURVE_KEY_LEN], server[CF_CURVE_KEY_LEN];
    s_key(agent, 1);
    s_key(server, 2);
    cf_why_t why = {""};
    assert_int_equal(cf_allow_put(list, agent, CF_ALLOW_AGENT, "pc-0042", &why), CF_OK);
    assert_int_equal(cf_allow_put(list, server, CF_ALLOW_SERVER, "srv1.example.com", &why), CF_OK);
    cf_allow_kind_t kind = 0;
    assert_string_equal(cf_allow_find(list, agent, &kind), "pc-0042");
    assert_int_equal(kind, CF_ALLOW_AGENT);
    assert_string_equal(cf_allow_find(list, server, &kind), "server:srv1.example.com");
    assert_int_equal(kind, CF_ALLOW_SERVER);
    assert_string_equal(cf_allow_kind_name(kind), "server");
    assert_int_equal(cf_allow_count(list), 2);
    assert_int_equal(cf_allow_remove(list, agent), CF_OK);
    assert_null(cf_allow_find(list, agent, &kind));
    assert_int_equal(kind, 0);
    assert_int_equal(cf_allow_count(list), 1);
    cf_allow_destroy(&list);
    cf_allow_destroy(&list);
    assert_null(list);
}

typedef struct {
    int agents;     /* entries of kind agent seen */
    int servers;    /* entries of kind server seen */
    int stop_after; /* stop when this many were seen (0: never) */
    int seen;       /* entries seen */
    char last[64];  /* last identity */
} s_walk_t;

static int s_walk(void *arg, const unsigned char key[CF_CURVE_KEY_LEN], cf_allow_kind_t kind,
                  const char *identity)
{
    s_walk_t *w = arg;
    assert_non_null(key);
    w->seen++;
    if (kind == CF_ALLOW_AGENT)
        w->agents++;
    else if (kind == CF_ALLOW_SERVER)
        w->servers++;
    snprintf(w->last, sizeof(w->last), "%s", identity);
    return w->stop_after && w->seen >= w->stop_after;
}

/* cf_allow_each walks every entry once and stops when told. */
static void test_each(void **state)
{
    (void) state;
    cf_allow_t *list = NULL;
    assert_int_equal(cf_allow_new(0, 0, &list), CF_OK);
    unsigned char key[CF_CURVE_KEY_LEN];
    char name[32];
    for (unsigned i = 0; i < 100; i++) {
        s_key(key, i + 1);
        snprintf(name, sizeof(name), "a%u", i);
        assert_int_equal(
            cf_allow_put(list, key, i % 10 ? CF_ALLOW_AGENT : CF_ALLOW_SERVER, name, NULL), CF_OK);
    }
    s_walk_t w = {0};
    assert_int_equal(cf_allow_each(list, s_walk, &w), 100);
    assert_int_equal(w.agents, 90);
    assert_int_equal(w.servers, 10);
    s_walk_t stop = {.stop_after = 3};
    assert_int_equal(cf_allow_each(list, s_walk, &stop), 3);
    assert_int_equal(stop.seen, 3);
    assert_int_equal(cf_allow_each(NULL, s_walk, &w), 0);
    assert_int_equal(cf_allow_each(list, NULL, NULL), 0);
    cf_allow_destroy(&list);
}

static void test_names(void **state)
{
    (void) state;
    cf_allow_t *list = NULL;
    assert_int_equal(cf_allow_new(0, 0, &list), CF_OK);
    unsigned char key[CF_CURVE_KEY_LEN];
    s_key(key, 7);
    char long_id[65], long_alias[CF_ALLOW_NAME_MAX + 2];
    memset(long_id, 'a', 64);
    long_id[64] = '\0';
    memset(long_alias, 'a', sizeof(long_alias) - 1);
    long_alias[sizeof(long_alias) - 1] = '\0';
    static const char *const bad_agents[] = {"", "PC-1", "-pc", "pc 1", "pc:1", "server:x"};
    for (size_t i = 0; i < sizeof(bad_agents) / sizeof(bad_agents[0]); i++)
        assert_int_equal(cf_allow_put(list, key, CF_ALLOW_AGENT, bad_agents[i], NULL),
                         CF_ERR_INVALID);
    assert_int_equal(cf_allow_put(list, key, CF_ALLOW_AGENT, long_id, NULL), CF_ERR_INVALID);
    static const char *const bad_aliases[] = {"", "srv 1", "srv\t1", "srv\x01", "srv\x7f"};
    for (size_t i = 0; i < sizeof(bad_aliases) / sizeof(bad_aliases[0]); i++)
        assert_int_equal(cf_allow_put(list, key, CF_ALLOW_SERVER, bad_aliases[i], NULL),
                         CF_ERR_INVALID);
    cf_why_t why = {""};
    assert_int_equal(cf_allow_put(list, key, CF_ALLOW_SERVER, long_alias, &why), CF_ERR_INVALID);
    assert_true(strstr(why.text, "1..240 bytes") != NULL);
    assert_int_equal(cf_allow_put(list, key, 3, "x", &why), CF_ERR_INVALID);
    assert_true(strstr(why.text, "unknown key kind") != NULL);
    assert_int_equal(cf_allow_put(list, key, CF_ALLOW_AGENT, NULL, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_allow_put(list, NULL, CF_ALLOW_AGENT, "a", NULL), CF_ERR_INVALID);
    assert_int_equal(cf_allow_count(list), 0); /* nothing refused was listed */
    long_alias[CF_ALLOW_NAME_MAX] = '\0';      /* exactly the cap */
    assert_int_equal(cf_allow_put(list, key, CF_ALLOW_SERVER, long_alias, NULL), CF_OK);
    assert_int_equal(strlen(cf_allow_find(list, key, NULL)), CF_ALLOW_ID_MAX);
    assert_string_equal(cf_allow_kind_name(0), "unknown");
    cf_allow_destroy(&list);
}

static void test_replace_and_caps(void **state)
{
    (void) state;
    cf_allow_t *list = NULL;
    assert_int_equal(cf_allow_new(3, 0, &list), CF_OK);
    unsigned char k[4][CF_CURVE_KEY_LEN];
    for (unsigned i = 0; i < 4; i++)
        s_key(k[i], 100 + i);
    assert_int_equal(cf_allow_put(list, k[0], CF_ALLOW_AGENT, "a0", NULL), CF_OK);
    assert_int_equal(cf_allow_put(list, k[0], CF_ALLOW_SERVER, "s0", NULL), CF_OK); /* replace */
    assert_int_equal(cf_allow_count(list), 1);
    cf_allow_kind_t kind = 0;
    assert_string_equal(cf_allow_find(list, k[0], &kind), "server:s0");
    assert_int_equal(kind, CF_ALLOW_SERVER);
    assert_int_equal(cf_allow_put(list, k[1], CF_ALLOW_AGENT, "a1", NULL), CF_OK);
    assert_int_equal(cf_allow_put(list, k[2], CF_ALLOW_AGENT, "a1", NULL), CF_OK); /* same id */
    cf_why_t why = {""};
    assert_int_equal(cf_allow_put(list, k[3], CF_ALLOW_AGENT, "a3", &why), CF_ERR_TOOBIG);
    assert_true(strstr(why.text, "full (3 keys)") != NULL);
    assert_int_equal(cf_allow_put(list, k[2], CF_ALLOW_AGENT, "a2", NULL), CF_OK); /* full: ok */
    assert_int_equal(cf_allow_remove(list, k[1]), CF_OK);
    assert_int_equal(cf_allow_remove(list, k[1]), CF_ERR_NOTFOUND);
    assert_int_equal(cf_allow_put(list, k[3], CF_ALLOW_AGENT, "a3", NULL), CF_OK);
    cf_allow_destroy(&list);

    cf_allow_t *none = (cf_allow_t *) 0x1;
    assert_int_equal(cf_allow_new(CF_ALLOW_MAX_KEYS + 1, 0, &none), CF_ERR_TOOBIG);
    assert_null(none);
    assert_int_equal(cf_allow_new(0, 0, NULL), CF_ERR_INVALID);
    assert_null(cf_allow_find(NULL, k[0], NULL));
    assert_int_equal(cf_allow_count(NULL), 0);
    assert_int_equal(cf_allow_remove(NULL, k[0]), CF_ERR_INVALID);
}

/* Random puts, removes and finds against a plain array: growth, long probe runs and the
   backward-shift removal must never lose or invent a key. */
static void test_against_a_model(void **state)
{
    (void) state;
    enum { POOL = 3000, OPS = 60000 };
    cf_allow_t *list = NULL;
    assert_int_equal(cf_allow_new(0, 0, &list), CF_OK);
    static int listed[POOL]; /* 0 = absent, else the id number it was put with */
    memset(listed, 0, sizeof(listed));
    size_t count = 0;
    unsigned char key[CF_CURVE_KEY_LEN];
    char name[32];
    for (int op = 0; op < OPS; op++) {
        unsigned i = randombytes_uniform(POOL);
        s_key(key, i);
        uint32_t what = randombytes_uniform(3);
        if (what == 0) {
            int id = op + 1;
            snprintf(name, sizeof(name), "agent-%d", id);
            assert_int_equal(cf_allow_put(list, key, CF_ALLOW_AGENT, name, NULL), CF_OK);
            count += listed[i] == 0;
            listed[i] = id;
        } else if (what == 1) {
            assert_int_equal(cf_allow_remove(list, key), listed[i] ? CF_OK : CF_ERR_NOTFOUND);
            count -= listed[i] != 0;
            listed[i] = 0;
        }
        assert_int_equal(cf_allow_count(list), count);
    }
    for (unsigned i = 0; i < POOL; i++) {
        s_key(key, i);
        const char *id = cf_allow_find(list, key, NULL);
        if (!listed[i]) {
            assert_null(id);
            continue;
        }
        snprintf(name, sizeof(name), "agent-%d", listed[i]);
        assert_non_null(id);
        assert_string_equal(id, name);
    }
    cf_allow_destroy(&list);
}

static void test_alloc_failure(void **state)
{
    (void) state;
    unsigned char key[CF_CURVE_KEY_LEN];
    for (long n = 0;; n++) {
        cf_allow_t *list = NULL;
        cf_test_alloc_fail_at(n);
        cf_err_t rc = cf_allow_new(0, 0, &list);
        for (unsigned i = 0; rc == CF_OK && i < 100; i++) { /* 100 keys: the table grows */
            s_key(key, i);
            rc = cf_allow_put(list, key, CF_ALLOW_SERVER, "srv", NULL);
        }
        long failed = cf_test_alloc_failed();
        cf_test_alloc_fail_at(-1);
        if (!failed) {
            assert_int_equal(rc, CF_OK);
            assert_int_equal(cf_allow_count(list), 100);
            cf_allow_destroy(&list);
            break;
        }
        assert_int_equal(rc, CF_ERR_NOMEM);
        /* what was listed before the failure is all still there */
        size_t count = cf_allow_count(list);
        for (unsigned i = 0; i < count; i++) {
            s_key(key, i);
            assert_non_null(cf_allow_find(list, key, NULL));
        }
        cf_allow_destroy(&list);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),           cmocka_unit_test(test_each),
        cmocka_unit_test(test_names),           cmocka_unit_test(test_replace_and_caps),
        cmocka_unit_test(test_against_a_model), cmocka_unit_test(test_alloc_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
