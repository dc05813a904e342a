/*  test_db_user - cf_db_user and cf_db_audit against a real redis-server  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_db_audit.h"
#include "cf_db_user.h"
#include "cf_itest.h"
#include "cf_mem.h"

CF_ITEST_REDIS_PER_FILE()

static const char s_hash[] = "$scrypt$ln=15,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";
static const char s_token[] = "0123456789abcdef0123456789abcdef"; /* 32 bytes */

static void test_usage(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    assert_int_equal(cf_db_user_create(store, "admin", CF_DB_ROLE_ADMIN, s_hash, 1700000000),
                     CF_OK);
    cf_db_user_t u;
    assert_int_equal(cf_db_user_get(store, "admin", &u), CF_OK);
    assert_string_equal(u.pwhash, s_hash); /* the caller checks the password against it */
    assert_int_equal(u.role, CF_DB_ROLE_ADMIN);
    assert_int_equal(cf_db_session_create(store, s_token, 32, "admin", u.role, 1700000000, 3600),
                     CF_OK);
    cf_db_session_t s;
    assert_int_equal(cf_db_session_get(store, s_token, 32, &s), CF_OK);
    assert_string_equal(s.user, "admin");
    assert_int_equal(s.role, CF_DB_ROLE_ADMIN);
    assert_int_equal(s.expires, 1700003600);
    cf_db_audit_in_t ev = {"admin", "admin", "login", "", "ok", "127.0.0.1"};
    assert_int_equal(cf_db_audit_add(store, &ev, NULL), CF_OK);
    assert_int_equal(cf_db_session_delete(store, s_token, 32), CF_OK);
    assert_int_equal(cf_db_session_get(store, s_token, 32, &s), CF_ERR_NOTFOUND);
    cf_store_destroy(&store);
}

static void test_users(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    assert_int_equal(cf_db_user_create(store, "zoe", CF_DB_ROLE_VIEWER, s_hash, 5), CF_OK);
    assert_int_equal(cf_db_user_create(store, "al.b-c@corp", CF_DB_ROLE_ADMIN, "h", 6), CF_OK);
    assert_int_equal(cf_db_user_create(store, "zoe", CF_DB_ROLE_ADMIN, s_hash, 7), CF_ERR_EXISTS);
    cf_db_user_t u;
    assert_int_equal(cf_db_user_get(store, "zoe", &u), CF_OK);
    assert_int_equal(u.role, CF_DB_ROLE_VIEWER); /* the refused create changed nothing */
    assert_int_equal(u.created, 5);
    assert_int_equal(cf_db_user_update(store, "zoe", CF_DB_ROLE_ADMIN, NULL), CF_OK);
    assert_int_equal(cf_db_user_update(store, "zoe", 0, "newhash"), CF_OK);
    assert_int_equal(cf_db_user_get(store, "zoe", &u), CF_OK);
    assert_int_equal(u.role, CF_DB_ROLE_ADMIN);
    assert_string_equal(u.pwhash, "newhash");
    assert_int_equal(cf_db_user_update(store, "nobody", CF_DB_ROLE_ADMIN, NULL), CF_ERR_NOTFOUND);
    assert_int_equal(cf_db_user_update(store, "zoe", 0, NULL), CF_ERR_INVALID);
    assert_int_equal(cf_db_user_update(store, "zoe", 3, NULL), CF_ERR_INVALID);
    cf_db_user_t *list = NULL;
    size_t n = 0;
    assert_int_equal(cf_db_user_list(store, 100, &list, &n), CF_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].name, "al.b-c@corp");
    assert_string_equal(list[1].name, "zoe");
    assert_string_equal(list[1].pwhash, ""); /* lists carry no hashes */
    cf_mem_free(list);
    assert_int_equal(cf_db_user_list(store, 1, &list, &n), CF_ERR_TOOBIG);
    assert_int_equal(cf_db_user_remove(store, "zoe"), CF_OK);
    assert_int_equal(cf_db_user_remove(store, "zoe"), CF_ERR_NOTFOUND);
    /* the last admin stays: the check and the removal are one step */
    assert_int_equal(cf_db_user_remove(store, "al.b-c@corp"), CF_ERR_STATE);
    assert_int_equal(cf_db_user_get(store, "al.b-c@corp", &u), CF_OK);
    assert_int_equal(cf_db_user_get(store, "zoe", &u), CF_ERR_NOTFOUND);
    static const char *const bad[] = {"", "Zoe", "a:b", "a b", "{a}", "-a", NULL};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(cf_db_user_create(store, bad[i], CF_DB_ROLE_ADMIN, s_hash, 1),
                         CF_ERR_INVALID);
        assert_int_equal(cf_db_user_get(store, bad[i], &u), CF_ERR_INVALID);
    }
    assert_int_equal(cf_db_user_create(store, "x", CF_DB_ROLE_ADMIN, "", 1), CF_ERR_INVALID);
    assert_int_equal(cf_db_user_create(store, "x", CF_DB_ROLE_ADMIN, "a\nb", 1), CF_ERR_INVALID);
    assert_int_equal(cf_db_user_create(store, "x", (cf_db_role_t) 0, s_hash, 1), CF_ERR_INVALID);
    assert_int_equal(cf_store_cmd(store, NULL, "HSET cf:user:al.b-c@corp role root"), CF_OK);
    assert_int_equal(cf_db_user_get(store, "al.b-c@corp", &u), CF_ERR_CORRUPT);
    cf_store_destroy(&store);
}

static int s_session_gone(void *arg)
{
    cf_db_session_t s;
    return cf_db_session_get(arg, s_token, 32, &s) == CF_ERR_NOTFOUND;
}

static void test_sessions(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    assert_int_equal(cf_db_user_create(store, "op", CF_DB_ROLE_ADMIN, s_hash, 1), CF_OK);
    /* the token itself is never stored, only its hash */
    assert_int_equal(cf_db_session_create(store, s_token, 32, "op", CF_DB_ROLE_ADMIN, 10, 1),
                     CF_OK);
    assert_false(cf_itest_redis_reply_has(s_redis.port, "0123456789abcdef", "HGET %s user",
                                          "cf:session:0123456789abcdef0123456789abcdef"));
    assert_true(cf_itest_redis_reply_has(
        s_redis.port, "op", "HGET %s user",
        "cf:session:" /* SHA-256 of s_token, lowercase hex */
        "3eb1bd439947eb762998e566ccc2e099c791118b2f40579cc4f7da2b5061b7f9"));
    /* the session ends with its TTL */
    assert_true(cf_test_wait_until(s_session_gone, store, 5000));
    /* a role change reaches a live session; a removed user's session ends */
    assert_int_equal(cf_db_session_create(store, s_token, 32, "op", CF_DB_ROLE_ADMIN, 10, 600),
                     CF_OK);
    assert_int_equal(cf_db_user_update(store, "op", CF_DB_ROLE_VIEWER, NULL), CF_OK);
    cf_db_session_t s;
    assert_int_equal(cf_db_session_get(store, s_token, 32, &s), CF_OK);
    assert_int_equal(s.role, CF_DB_ROLE_VIEWER);
    assert_int_equal(cf_db_user_remove(store, "op"), CF_OK);
    assert_int_equal(cf_db_session_get(store, s_token, 32, &s), CF_ERR_NOTFOUND);
    assert_int_equal(cf_db_session_delete(store, s_token, 32), CF_ERR_NOTFOUND); /* deleted */
    /* refusals */
    assert_int_equal(cf_db_session_create(store, s_token, 15, "op", CF_DB_ROLE_ADMIN, 10, 60),
                     CF_ERR_INVALID);
    assert_int_equal(cf_db_session_create(store, s_token, 32, "op", CF_DB_ROLE_ADMIN, 10, 0),
                     CF_ERR_INVALID);
    assert_int_equal(cf_db_session_create(store, s_token, 32, "o p", CF_DB_ROLE_ADMIN, 10, 60),
                     CF_ERR_INVALID);
    assert_int_equal(cf_db_session_get(store, NULL, 32, &s), CF_ERR_INVALID);
    char big[CF_DB_TOKEN_MAX + 1];
    memset(big, 't', sizeof(big));
    assert_int_equal(cf_db_session_get(store, big, sizeof(big), &s), CF_ERR_INVALID);
    cf_store_destroy(&store);
}

static void test_policy(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_db_policy_t p = {7};
    assert_int_equal(cf_db_policy_get(store, &p), CF_OK);
    assert_int_equal(p.save_logins, 0); /* off until an admin turns it on */
    p.save_logins = 1;
    assert_int_equal(cf_db_policy_set(store, &p), CF_OK);
    assert_int_equal(cf_db_policy_get(store, &p), CF_OK);
    assert_int_equal(p.save_logins, 1);
    p.save_logins = 2;
    assert_int_equal(cf_db_policy_set(store, &p), CF_ERR_INVALID);
    assert_int_equal(cf_store_cmd(store, NULL, "HSET cf:policy:console save_logins yes"), CF_OK);
    assert_int_equal(cf_db_policy_get(store, &p), CF_ERR_CORRUPT);
    cf_store_destroy(&store);
}

static void test_audit(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    char ids[25][CF_DB_AUDIT_ID_MAX + 1];
    for (int i = 0; i < 25; i++) {
        char target[32];
        snprintf(target, sizeof(target), "agent-%02d", i);
        cf_db_audit_in_t ev = {"admin", "admin", "agent.favorite", target, "ok", "127.0.0.1"};
        assert_int_equal(cf_db_audit_add(store, &ev, ids[i]), CF_OK);
    }
    cf_db_audit_t *list = NULL;
    size_t n = 0;
    /* everything since the epoch, at most 10 */
    assert_int_equal(cf_db_audit_read(store, 0, NULL, 10, &list, &n), CF_OK);
    assert_int_equal(n, 10);
    assert_string_equal(list[0].target, "agent-00");
    assert_string_equal(list[0].id, ids[0]);
    assert_string_equal(list[9].what, "agent.favorite");
    assert_string_equal(list[9].from, "127.0.0.1");
    assert_true(list[0].time_ms > (int64_t) (time(NULL) - 60) * 1000);
    char last[CF_DB_AUDIT_ID_MAX + 1];
    snprintf(last, sizeof(last), "%s", list[9].id);
    cf_mem_free(list);
    /* page on from the last id: no repeats, nothing skipped */
    assert_int_equal(cf_db_audit_read(store, 0, last, 100, &list, &n), CF_OK);
    assert_int_equal(n, 15);
    assert_string_equal(list[0].target, "agent-10");
    assert_string_equal(list[14].target, "agent-24");
    cf_mem_free(list);
    /* since a time in the future: nothing */
    assert_int_equal(cf_db_audit_read(store, time(NULL) + 3600, NULL, 100, &list, &n), CF_OK);
    assert_int_equal(n, 0);
    cf_mem_free(list);
    /* refusals */
    cf_db_audit_in_t bad = {"admin\n", "admin", "x", "y", "ok", "z"};
    assert_int_equal(cf_db_audit_add(store, &bad, NULL), CF_ERR_INVALID);
    char big[CF_DB_AUDIT_TEXT_MAX + 2];
    memset(big, 'b', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    cf_db_audit_in_t toobig = {"admin", "admin", "x", big, "ok", "z"};
    assert_int_equal(cf_db_audit_add(store, &toobig, NULL), CF_ERR_TOOBIG);
    cf_db_audit_in_t empty = {NULL, NULL, NULL, NULL, NULL, NULL};
    assert_int_equal(cf_db_audit_add(store, &empty, NULL), CF_OK);
    assert_int_equal(cf_db_audit_read(store, 0, NULL, 0, &list, &n), CF_ERR_INVALID);
    assert_int_equal(cf_db_audit_read(store, -1, NULL, 5, &list, &n), CF_ERR_INVALID);
    static const char *const bad_ids[] = {"x",     "1-",   "-1",
                                          "1-2-3", "1 -2", "99999999999999999999-1"};
    for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++)
        assert_int_equal(cf_db_audit_read(store, 0, bad_ids[i], 5, &list, &n), CF_ERR_INVALID);
    /* a malformed entry is reported */
    assert_int_equal(cf_store_cmd(store, NULL, "XADD cf:audit * who %b", "a\x01", (size_t) 2),
                     CF_OK);
    assert_int_equal(cf_db_audit_read(store, 0, NULL, 100, &list, &n), CF_ERR_CORRUPT);
    assert_null(list);
    cf_store_destroy(&store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),    cmocka_unit_test(test_users),
        cmocka_unit_test(test_sessions), cmocka_unit_test(test_policy),
        cmocka_unit_test(test_audit),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
