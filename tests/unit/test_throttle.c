/*  test_throttle - the failed-login throttle on an injected clock: the three buckets, refunds,
    client classes, address grouping, a full table, bad input, threads  */
#include "cf_test.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cf_throttle.h"

/* An attempt, failing the test when it cannot be made. */
static cf_throttle_attempt_t s_at(int console, const char *addr, const char *user)
{
    cf_throttle_attempt_t a;
    assert_int_equal(cf_throttle_attempt(&a, console, addr, user), CF_OK);
    return a;
}

/* One attempt at now that is not refunded (a wrong password): 1 when it passed. */
static int s_fail(cf_throttle_t *t, int console, const char *addr, const char *user, int64_t now,
                  cf_throttle_refusal_t *r)
{
    cf_throttle_attempt_t a = s_at(console, addr, user);
    return cf_throttle_take(t, &a, now, r);
}

static void test_usage(void **state)
{
    (void) state;
    cf_throttle_t *t = cf_throttle_new();
    assert_non_null(t);
    cf_throttle_attempt_t a;
    assert_int_equal(cf_throttle_attempt(&a, 0, "192.0.2.7", "bob"), CF_OK);
    /* a login that succeeds gives its tokens back: successes never throttle */
    for (int i = 0; i < 100; i++) {
        assert_int_equal(cf_throttle_take(t, &a, 1000, NULL), 1);
        cf_throttle_refund(t, &a);
    }
    /* five wrong passwords for a name, then it waits about a minute */
    for (int i = 0; i < 5; i++)
        assert_int_equal(cf_throttle_take(t, &a, 1000, NULL), 1);
    cf_throttle_refusal_t r;
    assert_int_equal(cf_throttle_take(t, &a, 1000, &r), 0);
    assert_string_equal(r.limit, "user");
    assert_true(r.wait_ms >= 55000 && r.wait_ms <= 62000);
    assert_int_equal(r.first, 1);
    /* a clock that goes back is no time passing */
    assert_int_equal(cf_throttle_take(t, &a, 0, NULL), 0);
    /* once the wait is over, one more attempt passes */
    assert_int_equal(cf_throttle_take(t, &a, 1000 + r.wait_ms, NULL), 1);
    assert_int_equal(cf_throttle_take(t, &a, 1000 + r.wait_ms, NULL), 0);
    cf_throttle_destroy(&t);
    assert_null(t);
    cf_throttle_destroy(&t); /* safe to repeat */
    cf_throttle_destroy(NULL);
}

static void test_first_refusal(void **state)
{
    (void) state;
    cf_throttle_t *t = cf_throttle_new();
    cf_throttle_refusal_t r;
    for (int i = 0; i < 5; i++)
        assert_int_equal(s_fail(t, 0, "192.0.2.1", "eve", 0, &r), 1);
    assert_int_equal(s_fail(t, 0, "192.0.2.1", "eve", 0, &r), 0);
    assert_int_equal(r.first, 1);
    assert_int_equal(s_fail(t, 0, "192.0.2.1", "eve", 10, &r), 0);
    assert_int_equal(r.first, 0); /* a guessing loop is reported once */
    assert_true(r.wait_ms >= 1);
    int64_t later = 10 + r.wait_ms;
    assert_int_equal(s_fail(t, 0, "192.0.2.1", "eve", later, &r), 1);
    assert_int_equal(s_fail(t, 0, "192.0.2.1", "eve", later, &r), 0);
    assert_int_equal(r.first, 1); /* a pass in between: the next refusal is news again */
    cf_throttle_destroy(&t);
}

static void test_classes_and_names(void **state)
{
    (void) state;
    cf_throttle_t *t = cf_throttle_new();
    cf_throttle_refusal_t r;
    for (int i = 0; i < 5; i++)
        assert_int_equal(s_fail(t, 0, "192.0.2.1", "bob", 0, &r), 1);
    /* the name waits, from any address... */
    assert_int_equal(s_fail(t, 0, "198.51.100.9", "bob", 0, &r), 0);
    assert_string_equal(r.limit, "user");
    /* ...but not for a client with a console certificate, and other names go on */
    assert_int_equal(s_fail(t, 1, "192.0.2.1", "bob", 0, &r), 1);
    assert_int_equal(s_fail(t, 0, "192.0.2.1", "alice", 0, &r), 1);
    /* names are taken as typed */
    assert_int_equal(s_fail(t, 0, "192.0.2.1", "Bob", 0, &r), 1);
    cf_throttle_destroy(&t);
}

static void test_address(void **state)
{
    (void) state;
    cf_throttle_t *t = cf_throttle_new();
    cf_throttle_refusal_t r;
    char user[32];
    /* twenty names from one address, then the address waits ten seconds a try */
    for (int i = 0; i < 20; i++) {
        snprintf(user, sizeof(user), "guess-%d", i);
        assert_int_equal(s_fail(t, 0, "192.0.2.5", user, 0, &r), 1);
    }
    assert_int_equal(s_fail(t, 0, "192.0.2.5", "fresh", 0, &r), 0);
    assert_string_equal(r.limit, "addr");
    assert_true(r.wait_ms >= 9000 && r.wait_ms <= 10000);
    /* the IPv4-mapped form is the same address; a console certificate does not help */
    assert_int_equal(s_fail(t, 1, "::ffff:192.0.2.5", "fresh", 0, &r), 0);
    assert_int_equal(s_fail(t, 0, "192.0.2.6", "fresh", 0, &r), 1);
    /* IPv6 counts per /64 */
    for (int i = 0; i < 20; i++) {
        snprintf(user, sizeof(user), "v6-%d", i);
        char addr[64];
        snprintf(addr, sizeof(addr), "2001:db8:0:7::%x", i + 1);
        assert_int_equal(s_fail(t, 1, addr, user, 0, &r), 1);
    }
    assert_int_equal(s_fail(t, 1, "2001:db8:0:7:ffff:1:2:3", "fresh", 0, &r), 0);
    assert_string_equal(r.limit, "addr");
    assert_int_equal(s_fail(t, 1, "2001:db8:0:8::1", "fresh", 0, &r), 1);
    cf_throttle_attempt_t a = s_at(0, "2001:DB8:0:7:1:2:3:4", "x");
    assert_string_equal(a.keys[CF_THROTTLE_ADDR], "a:2001:db8:0:7::");
    a = s_at(0, "::ffff:10.1.2.3", "x");
    assert_string_equal(a.keys[CF_THROTTLE_ADDR], "a:10.1.2.3");
    a = s_at(0, NULL, "x"); /* no address known: one shared bucket */
    assert_string_equal(a.keys[CF_THROTTLE_ADDR], "a:-");
    cf_throttle_destroy(&t);
}

static void test_all(void **state)
{
    (void) state;
    cf_throttle_t *t = cf_throttle_new();
    cf_throttle_refusal_t r;
    char user[32], addr[32];
    /* spread over names and addresses, forty failures, then about four a second */
    for (int i = 0; i < 40; i++) {
        snprintf(user, sizeof(user), "u%d", i);
        snprintf(addr, sizeof(addr), "10.0.%d.%d", i / 200, i % 200 + 1);
        assert_int_equal(s_fail(t, 0, addr, user, 0, &r), 1);
    }
    assert_int_equal(s_fail(t, 0, "10.9.9.9", "another", 0, &r), 0);
    assert_string_equal(r.limit, "all");
    assert_true(r.wait_ms >= 200 && r.wait_ms <= 250);
    /* clients with a console certificate have their own */
    int64_t wait = r.wait_ms;
    assert_int_equal(s_fail(t, 1, "10.9.9.9", "another", 0, &r), 1);
    assert_int_equal(s_fail(t, 0, "10.9.9.9", "another", wait, &r), 1);
    cf_throttle_destroy(&t);
}

/* A refused attempt keeps nothing taken from the buckets that had room. */
static void test_refused_takes_nothing(void **state)
{
    (void) state;
    cf_throttle_t *t = cf_throttle_new();
    cf_throttle_refusal_t r;
    char user[32];
    for (int i = 0; i < 5; i++)
        assert_int_equal(s_fail(t, 0, "192.0.2.1", "bob", 0, &r), 1);
    for (int i = 0; i < 30; i++)
        assert_int_equal(s_fail(t, 0, "192.0.2.2", "bob", 0, &r), 0);
    /* 192.0.2.2 and the class still have their whole allowance */
    for (int i = 0; i < 20; i++) {
        snprintf(user, sizeof(user), "other-%d", i);
        assert_int_equal(s_fail(t, 0, "192.0.2.2", user, 0, &r), 1);
    }
    assert_int_equal(s_fail(t, 0, "192.0.2.2", "one-more", 0, &r), 0);
    assert_string_equal(r.limit, "addr");
    /* refunds of names the table never held change nothing */
    cf_throttle_attempt_t a = s_at(0, "203.0.113.1", "never-seen");
    cf_throttle_refund(t, &a);
    a = s_at(0, "192.0.2.1", "bob");
    cf_throttle_refund(t, &a); /* one token back: one more try */
    assert_int_equal(cf_throttle_take(t, &a, 0, NULL), 1);
    assert_int_equal(cf_throttle_take(t, &a, 0, NULL), 0);
    cf_throttle_destroy(&t);
}

/* More names than slots: a full table forgets names whose bucket has refilled, never one
   that still waits. One failure per name, 300 ms apart (the class bucket allows 4 a
   second), while bob keeps guessing every 6 s and so never refills. */
static void test_full_table(void **state)
{
    (void) state;
    cf_throttle_t *t = cf_throttle_new();
    char user[32], addr[32];
    int64_t now = 0;
    int bob_passed = 0;
    for (int i = 0; i < 5; i++, now += 300)
        assert_int_equal(s_fail(t, 0, "192.0.2.1", "bob", now, NULL), 1);
    for (int i = 0; i < CF_THROTTLE_SLOTS + 100; i++, now += 300) {
        snprintf(user, sizeof(user), "name-%d", i);
        snprintf(addr, sizeof(addr), "10.1.%d.%d", i / 250, i % 250 + 1);
        assert_int_equal(s_fail(t, 0, addr, user, now, NULL), 1);
        if (i % 20 == 0)
            bob_passed += s_fail(t, 0, "192.0.2.1", "bob", now, NULL);
    }
    /* one token each ~59 s: about three in the ~190 s, a forgotten bob would pass each */
    assert_true(bob_passed >= 2 && bob_passed <= 4);
    cf_throttle_refusal_t r;
    int passed = s_fail(t, 0, "192.0.2.9", "bob", now, &r);
    passed += s_fail(t, 0, "192.0.2.9", "bob", now, &r);
    assert_true(passed <= 1); /* a fresh bucket would let five through */
    assert_string_equal(r.limit, "user");
    /* a name idle for long has its whole allowance again */
    for (int i = 0; i < 5; i++)
        assert_int_equal(s_fail(t, 0, "192.0.2.10", "name-0", now, NULL), 1);
    cf_throttle_destroy(&t);
}

static void test_bad_input(void **state)
{
    (void) state;
    cf_throttle_attempt_t a;
    char longest[CF_THROTTLE_USER_MAX + 2];
    memset(longest, 'a', sizeof(longest));
    longest[CF_THROTTLE_USER_MAX] = '\0';
    assert_int_equal(cf_throttle_attempt(&a, 0, "192.0.2.1", longest), CF_OK);
    longest[CF_THROTTLE_USER_MAX] = 'a';
    longest[CF_THROTTLE_USER_MAX + 1] = '\0';
    assert_int_equal(cf_throttle_attempt(&a, 0, "192.0.2.1", longest), CF_ERR_TOOBIG);
    assert_string_equal(a.keys[CF_THROTTLE_USER], ""); /* nothing half made */
    assert_int_equal(cf_throttle_attempt(&a, 0, "192.0.2.1", NULL), CF_ERR_INVALID);
    assert_int_equal(cf_throttle_attempt(&a, 0, "192.0.2.1", ""), CF_ERR_INVALID);
    char addr[CF_THROTTLE_KEY + 8];
    memset(addr, 'x', sizeof(addr) - 1);
    addr[sizeof(addr) - 1] = '\0';
    assert_int_equal(cf_throttle_attempt(&a, 0, addr, "bob"), CF_ERR_TOOBIG);
    assert_string_equal(a.keys[CF_THROTTLE_ALL], "");
    /* what is not an address is counted as its text */
    assert_int_equal(cf_throttle_attempt(&a, 0, "not an address", "bob"), CF_OK);
    assert_string_equal(a.keys[CF_THROTTLE_ADDR], "a:not an address");
    /* out of memory: NULL, nothing leaked */
    cf_test_alloc_fail_at(0);
    assert_null(cf_throttle_new());
    assert_int_equal(cf_test_alloc_failed(), 1);
    cf_test_alloc_fail_at(-1);
}

typedef struct {
    cf_throttle_t *t; /* shared */
    int rounds;       /* take + refund pairs */
} s_worker_t;

static void *s_worker(void *arg)
{
    s_worker_t *w = arg;
    cf_throttle_attempt_t a;
    if (cf_throttle_attempt(&a, 0, "192.0.2.1", "shared") != CF_OK)
        return NULL;
    for (int i = 0; i < w->rounds; i++) {
        if (cf_throttle_take(w->t, &a, 0, NULL))
            cf_throttle_refund(w->t, &a);
    }
    return NULL;
}

/* Successes from four threads at once on one name: every take is given back, so the name
   still has exactly its five failures afterwards (lost updates would show). */
static void test_threads(void **state)
{
    (void) state;
    cf_throttle_t *t = cf_throttle_new();
    pthread_t th[4];
    s_worker_t w = {t, 5000};
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, s_worker, &w), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(s_fail(t, 0, "192.0.2.1", "shared", 0, NULL), 1);
    assert_int_equal(s_fail(t, 0, "192.0.2.1", "shared", 0, NULL), 0);
    cf_throttle_destroy(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_first_refusal),
        cmocka_unit_test(test_classes_and_names),
        cmocka_unit_test(test_address),
        cmocka_unit_test(test_all),
        cmocka_unit_test(test_refused_takes_nothing),
        cmocka_unit_test(test_full_table),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
