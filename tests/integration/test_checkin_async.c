/*  test_checkin_async - check-ins through the workers' asynchronous Redis connections, end
    to end with cf-server processes: many at once all stored, Redis stopped answers 503 with
    the reason and the server recovers when Redis is back  */
#define _GNU_SOURCE /* strcasestr */
#include "cf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cf_db_agent.h"
#include "cf_db_archive.h"
#include "cf_itest_fleet.h"
#include "cf_store_reply.h"

#define S_MANY     400 /* agents checking in at once */
#define S_PARALLEL 48  /* transfers curl keeps open at once */
#define S_MIXED    64  /* check-ins of the mixed run */

static cf_itest_fleet_t *const s = &cf_itest_fleet;

static int s_setup(void **state)
{
    (void) state;
    return cf_itest_fleet_setup("test_checkin_async");
}

/* Hundreds of check-ins at once through both servers, half with a client certificate: each
   is answered 200 and stored with the lock it reported. */
static void test_many_at_once_all_stored(void **state)
{
    (void) state;
    static cf_itest_cert_t certs[S_MANY / 8];
    char id[32];
    FILE *f = cf_itest_fleet_cfg("many");
    for (int i = 0; i < S_MANY; i++) {
        snprintf(id, sizeof(id), "many-%03d", i);
        const cf_itest_cert_t *cert = NULL;
        if (i % 8 == 0) {
            cf_itest_fleet_issue(id, 0, 30, id, &certs[i / 8]);
            cert = &certs[i / 8];
        }
        cf_itest_fleet_bulk_line(f, i % 2 ? &s->a : &s->b, i % 8 == 4, cert, id, 20 + i % 200);
    }
    fclose(f);
    int ok = 0, busy = 0, after = 0;
    cf_itest_fleet_bulk_run("many", S_MANY, S_PARALLEL, &ok, &busy, &after);
    assert_int_equal(ok, S_MANY);
    assert_int_equal(busy, 0);
    for (int i = 0; i < S_MANY; i++) {
        snprintf(id, sizeof(id), "many-%03d", i);
        cf_db_agent_t a;
        assert_int_equal(cf_db_agent_get(s->store, id, &a), CF_OK);
        assert_int_equal(a.lock, i % 8 == 0 ? CF_DB_LOCK_SECURE : CF_DB_LOCK_INSECURE);
        assert_true(a.last_seen > 0);
    }
    for (int i = 0; i < S_MANY / 8; i++)
        cf_itest_cert_free(&certs[i]);
}

/* Check-ins gathered into one command are answered one by one: among many at once, revoked
   agents get 403 and one whose record Redis cannot read (a key of the wrong type) gets 503,
   while every other one is answered 200 and stored. */
static void test_mixed_answers_one_by_one(void **state)
{
    (void) state;
    char id[32];
    FILE *f = cf_itest_fleet_cfg("mixed");
    for (int i = 0; i < S_MIXED; i++) {
        snprintf(id, sizeof(id), "mixed-%02d", i);
        if (i % 16 == 5)
            assert_int_equal(cf_store_cmd(s->store, NULL, "HSET cf:agent:{%s} revoked 1", id),
                             CF_OK);
        if (i == 22)
            assert_int_equal(cf_store_cmd(s->store, NULL, "SET cf:agent:{%s} x", id), CF_OK);
        cf_itest_fleet_bulk_line(f, i % 2 ? &s->a : &s->b, 0, NULL, id, 20 + i);
    }
    fclose(f);
    int ok = 0, busy = 0, after = 0;
    cf_itest_fleet_bulk_run("mixed", S_MIXED, S_PARALLEL, &ok, &busy, &after);
    assert_int_equal(ok, S_MIXED - S_MIXED / 16 - 1);
    assert_int_equal(busy, 1);
    for (int i = 0; i < S_MIXED; i++) {
        snprintf(id, sizeof(id), "mixed-%02d", i);
        cf_db_agent_t a;
        cf_err_t rc = cf_db_agent_get(s->store, id, &a);
        if (i == 22) {
            assert_int_not_equal(rc, CF_OK);
            continue;
        }
        assert_int_equal(rc, i % 16 == 5 ? CF_ERR_NOTFOUND : CF_OK); /* revoked: nothing written */
        if (rc == CF_OK)
            assert_true(a.last_seen > 0);
    }
}

/* A replaced certificate is answered "attention" by the script's own archive check. */
static void test_archived_certificate_attention(void **state)
{
    (void) state;
    char body[CF_ITEST_FLEET_BODY];
    cf_cert_t *old = NULL;
    assert_int_equal(cf_cert_parse(s->old2.pem_text, s->old2.pem_len, &old), CF_OK);
    assert_int_equal(cf_db_archive_add(s->store, CF_COMPONENT_AGENT, "agent-2", old, time(NULL)),
                     CF_OK);
    cf_cert_destroy(&old);
    assert_int_equal(cf_itest_fleet_checkin(&s->a, &s->old2, "{}", NULL, body), 200);
    cf_itest_fleet_is(body, "lock", "attention");
    assert_int_equal(cf_itest_fleet_checkin(&s->a, &s->new2, "{}", NULL, body), 200);
    cf_itest_fleet_is(body, "lock", "secure");
}

/* The answer written as text (no jobs) is the documented JSON: favorite, servers, jobs. */
static void test_answer_shape(void **state)
{
    (void) state;
    char body[CF_ITEST_FLEET_BODY];
    assert_int_equal(cf_itest_fleet_checkin(&s->a, NULL, "{\"id\":\"shape-1\"}", "127.0.0.7", body),
                     200);
    cf_itest_fleet_is(body, "favorite", "null");
    assert_int_equal(cf_itest_fleet_admin(&s->a, "PUT", "/api/v1/agents/favorite",
                                          "{\"agents\":[\"shape-1\"],\"server\":\"srv-b\"}", body),
                     200);
    assert_int_equal(cf_itest_fleet_checkin(&s->b, NULL, "{\"id\":\"shape-1\"}", "127.0.0.7", body),
                     200);
    cf_itest_fleet_is(body, "favorite", "srv-b");
    cf_itest_fleet_is(body, "seen_addr", "127.0.0.7");
    cf_itest_fleet_is(body, "lock", "insecure");
    cf_itest_fleet_is(body, "servers/@srv-a/online", "true");
    assert_int_equal(cf_itest_fleet_ji(body, "interval"), 300);
    assert_int_equal(cf_itest_fleet_ji(body, "protocol"), 1);
    json_t *j = cf_itest_fleet_json(body);
    assert_true(json_is_array(json_object_get(j, "jobs")));
    assert_int_equal(json_array_size(json_object_get(j, "jobs")), 0);
    json_decref(j);
}

/* The protocol level is recorded when it is new (the first check-in that says it), and a
   steady check-in leaves it alone: no upgrade call, no jobs built (a level >= 2 forced both
   on every check-in once). The stored level is then changed behind the server's back: the
   steady check-in, whose digest still matches, does not write it again. */
static void s_level_is(const char *want)
{
    redisReply *r = NULL;
    assert_int_equal(cf_store_cmd(s->store, &r, "HGET cf:agent:{lvl-1} proto"), CF_OK);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, want);
    cf_store_reply_free(&r);
}

static void test_level_recorded_once(void **state)
{
    (void) state;
    char body[CF_ITEST_FLEET_BODY];
    const char *in = "{\"id\":\"lvl-1\",\"protocol\":3}";
    assert_int_equal(cf_itest_fleet_checkin(&s->a, NULL, in, NULL, body), 200);
    s_level_is("3");
    assert_int_equal(cf_itest_fleet_checkin(&s->a, NULL, in, NULL, body), 200); /* the digest */
    assert_int_equal(cf_store_cmd(s->store, NULL, "HSET cf:agent:{lvl-1} proto 9"), CF_OK);
    assert_int_equal(cf_itest_fleet_checkin(&s->a, NULL, in, NULL, body), 200);
    s_level_is("9");
    /* another level said: compared, recorded */
    assert_int_equal(
        cf_itest_fleet_checkin(&s->a, NULL, "{\"id\":\"lvl-1\",\"protocol\":2}", NULL, body), 200);
    s_level_is("2");
}

/* One check-in by shape-2 on a; 1 when its answer lists the server at path with want. */
typedef struct {
    const char *path; /* where in the answer */
    const char *want; /* "" = absent */
} s_list_t;

static int s_list_is(void *arg)
{
    const s_list_t *l = arg;
    char body[CF_ITEST_FLEET_BODY];
    if (cf_itest_fleet_checkin(&s->a, NULL, "{\"id\":\"shape-2\"}", NULL, body) != 200)
        return 0;
    json_t *j = cf_itest_fleet_json(body);
    json_t *e = json_object_get(j, "servers");
    int found = 0, ok = 0;
    for (size_t i = 0; i < json_array_size(e); i++) {
        json_t *srv = json_array_get(e, i);
        if (strcmp(json_string_value(json_object_get(srv, "alias")), "srv-z") != 0)
            continue;
        found = 1;
        json_t *v = json_object_get(srv, l->path);
        ok = json_is_integer(v) && json_integer_value(v) == atoi(l->want);
    }
    json_decref(j);
    return l->want[0] ? found && ok : !found;
}

/* The worker's cached answer text follows the server list: a server added, changed and
   removed through the other server shows in the check-in answers of this one within the
   cache period (CF_API_SERVERS_CACHE_MS, 3 s), while the favorite is never cached. */
static void test_server_list_cache_follows_changes(void **state)
{
    (void) state;
    char body[CF_ITEST_FLEET_BODY];
    s_list_t absent = {"priority", ""}, p5 = {"priority", "5"}, p9 = {"priority", "9"};
    assert_true(s_list_is(&absent)); /* fills the cache */
    assert_int_equal(cf_itest_fleet_admin(&s->b, "POST", "/api/v1/servers",
                                          "{\"alias\":\"srv-z\",\"port\":7105,\"priority\":5}",
                                          body),
                     201);
    assert_true(cf_test_wait_until(s_list_is, &p5, 10000));
    assert_int_equal(
        cf_itest_fleet_admin(&s->b, "PUT", "/api/v1/servers/srv-z", "{\"priority\":9}", body), 200);
    assert_true(cf_test_wait_until(s_list_is, &p9, 10000));
    /* the favorite comes from the check-in's own script: the next answer has it */
    assert_int_equal(cf_itest_fleet_admin(&s->b, "PUT", "/api/v1/agents/favorite",
                                          "{\"agents\":[\"shape-2\"],\"server\":\"srv-z\"}", body),
                     200);
    assert_int_equal(cf_itest_fleet_checkin(&s->a, NULL, "{\"id\":\"shape-2\"}", NULL, body), 200);
    cf_itest_fleet_is(body, "favorite", "srv-z");
    json_t *j = cf_itest_fleet_json(body); /* the text answer is valid JSON as a whole */
    assert_int_equal(json_object_size(j), 7);
    json_decref(j);
    assert_int_equal(cf_itest_fleet_admin(&s->b, "DELETE", "/api/v1/servers/srv-z", NULL, body),
                     200);
    assert_true(cf_test_wait_until(s_list_is, &absent, 10000));
}

/* A revoked agent is refused at its next check-in on either server: nothing cached lets it
   through. */
static void test_revoked_refused_at_once(void **state)
{
    (void) state;
    char body[CF_ITEST_FLEET_BODY];
    assert_int_equal(cf_itest_fleet_checkin(&s->a, NULL, "{\"id\":\"gone-1\"}", NULL, body), 200);
    assert_int_equal(
        cf_itest_fleet_admin(&s->b, "POST", "/api/v1/agents/gone-1/revoke", NULL, body), 200);
    assert_int_equal(cf_itest_fleet_checkin(&s->a, NULL, "{\"id\":\"gone-1\"}", NULL, body), 403);
    cf_itest_fleet_is(body, "error/code", "forbidden");
    assert_int_equal(cf_itest_fleet_checkin(&s->b, NULL, "{\"id\":\"gone-1\"}", NULL, body), 403);
}

/* Redis stopped: a check-in is answered 503 unavailable with the reason and Retry-After,
   never left hanging; once Redis is back the next check-ins are stored again. Last: the
   restarted Redis is empty. */
static void test_redis_stopped_then_back(void **state)
{
    (void) state;
    char body[CF_ITEST_FLEET_BODY];
    assert_int_equal(cf_itest_fleet_checkin(&s->a, NULL, "{\"id\":\"down-1\"}", NULL, body), 200);
    cf_itest_redis_stop(&s->redis);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cf_itest_fleet_checkin(&s->a, NULL, "{\"id\":\"down-1\"}", NULL, body),
                         503);
        cf_itest_fleet_is(body, "error/code", "unavailable");
        assert_non_null(strstr(body, "the check-in was not stored"));
    }
    assert_int_equal(cf_itest_fleet_call(&s->a, 0, NULL, 0, "POST", "/api/v1/agent/checkin",
                                         "{\"id\":\"down-1\"}", "-D headers.txt", body),
                     503);
    char path[700];
    snprintf(path, sizeof(path), "%s/headers.txt", s->dir);
    char *headers = cf_test_read_file(path, NULL);
    assert_non_null(strcasestr(headers, "retry-after: 5"));
    free(headers);
    assert_int_equal(cf_itest_redis_restart(&s->redis), CF_OK);
    cf_itest_fleet_try_t t = {&s->a, NULL, 200};
    assert_true(cf_test_wait_until(cf_itest_fleet_try, &t, 20000));
    assert_int_equal(cf_itest_fleet_checkin(&s->a, NULL, "{\"id\":\"down-2\"}", NULL, body), 200);
    cf_itest_fleet_is(body, "lock", "insecure");
    assert_true(cf_itest_redis_reply_has(s->redis.port, "insecure", "HGET cf:agent:{down-2} lock"));
    assert_true(cf_itest_server_log_has(&s->a, "store-async=connected"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_at_once_all_stored),
        cmocka_unit_test(test_mixed_answers_one_by_one),
        cmocka_unit_test(test_archived_certificate_attention),
        cmocka_unit_test(test_answer_shape),
        cmocka_unit_test(test_level_recorded_once),
        cmocka_unit_test(test_server_list_cache_follows_changes),
        cmocka_unit_test(test_revoked_refused_at_once),
        cmocka_unit_test(test_redis_stopped_then_back),
    };
    return cmocka_run_group_tests(tests, s_setup, cf_itest_fleet_teardown);
}
