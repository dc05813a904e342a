/*  test_api_expiring - GET /api/v1/certs/expiring end to end: two cf-server processes on
    one redis-server, agents checking in with certificates of several lifetimes, a short
    certificate record; order, the days window, paging, expired ones flagged  */
#include "cf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "cf_db_agent.h"
#include "cf_db_cert.h"
#include "cf_itest_fleet.h"

#define S_MANY 400 /* agents of the cost case */

static cf_itest_fleet_t *const s = &cf_itest_fleet;

static cf_itest_cert_t s_e1, s_e1b, s_e2, s_far, s_renew, s_ops; /* the test's certificates */

/* Every entry of the window of days (walked in pages of limit through srv) as
   "<name>|<source>|<expired>" lines into out; the pages' count into *pages. */
static void s_walk(const cf_itest_server_t *srv, int days, int limit, char *out, size_t len,
                   int *pages)
{
    char cursor[400] = "", path[600], body[CF_ITEST_FLEET_BODY];
    size_t used = 0;
    out[0] = '\0';
    *pages = 0;
    do {
        snprintf(path, sizeof(path), "/api/v1/certs/expiring?days=%d&limit=%d%s%s", days, limit,
                 cursor[0] ? "&cursor=" : "", cursor);
        assert_int_equal(cf_itest_fleet_get(srv, path, body), 200);
        json_t *j = cf_itest_fleet_json(body);
        assert_true(json_array_size(json_object_get(j, "certs")) <= (size_t) limit);
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(j, "certs"), i, e)
        {
            used += (size_t) snprintf(out + used, len - used, "%s|%s|%s\n",
                                      json_string_value(json_object_get(e, "name")),
                                      json_string_value(json_object_get(e, "source")),
                                      json_is_true(json_object_get(e, "expired")) ? "x" : "-");
            assert_true(used < len);
        }
        snprintf(cursor, sizeof(cursor), "%s",
                 json_string_value(json_object_get(j, "cursor")) ?: "");
        json_decref(j);
        (*pages)++;
        assert_true(*pages < 100);
    } while (cursor[0]);
}

/* Check in as cert through srv (200). */
static void s_checkin(const cf_itest_server_t *srv, const cf_itest_cert_t *cert)
{
    char body[CF_ITEST_FLEET_BODY];
    assert_int_equal(cf_itest_fleet_checkin(srv, cert, "{}", NULL, body), 200);
}

static int s_agent_expired(void *arg)
{
    char body[CF_ITEST_FLEET_BODY];
    (void) arg;
    return cf_itest_fleet_get(&s->a, "/api/v1/agents/agent-old", body) == 200 &&
           strstr(body, "\"expired\"") != NULL;
}

/* A console record "ops" with the certificate of c (its key too). */
static void s_put_record(const cf_itest_cert_t *c)
{
    cf_cert_t *cert = NULL;
    assert_int_equal(cf_cert_parse(c->pem_text, c->pem_len, &cert), CF_OK);
    cf_db_cert_in_t in = {CF_COMPONENT_CONSOLE, "ops", CF_DB_CERT_IMPORTED, cert, NULL, c->key_obj,
                          (int64_t) time(NULL)};
    assert_int_equal(cf_db_cert_put(s->store, s->seal, &in, NULL), CF_OK);
    cf_cert_destroy(&cert);
}

static int s_setup(void **state)
{
    (void) state;
    if (cf_itest_fleet_setup("test_api_expiring") != 0)
        return -1;
    time_t now = time(NULL);
    /* e1, e1b and the ops record end in the same second: records first, then agents by id */
    cf_itest_fleet_issue("agent-e1", now, 5, "e1", &s_e1);
    cf_itest_fleet_issue("agent-e1b", now, 5, "e1b", &s_e1b);
    cf_itest_fleet_issue(NULL, now, 5, "ops", &s_ops);
    cf_itest_fleet_issue("agent-e2", now, 10, "e2", &s_e2);
    cf_itest_fleet_issue("agent-far", now, 400, "far", &s_far);
    cf_itest_fleet_issue("agent-e2", now, 60, "renew", &s_renew);
    s_put_record(&s_ops);
    char body[CF_ITEST_FLEET_BODY];
    s_checkin(&s->a, &s_e1b);
    s_checkin(&s->b, &s_e1);
    s_checkin(&s->a, &s_e2);
    s_checkin(&s->b, &s_far);
    /* agent-3 without a certificate: never listed */
    assert_int_equal(cf_itest_fleet_checkin(&s->a, NULL, "{\"id\":\"agent-3\"}", NULL, body), 200);
    /* agent-old is refused for its expired certificate and recorded so */
    assert_int_equal(cf_itest_fleet_checkin(&s->a, &s->expired, "{}", NULL, body), 0);
    assert_true(cf_test_wait_until(s_agent_expired, NULL, 10000));
    return 0;
}

static int s_teardown(void **state)
{
    cf_itest_cert_t *all[] = {&s_e1, &s_e1b, &s_e2, &s_far, &s_renew, &s_ops};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        cf_itest_cert_free(all[i]);
    return cf_itest_fleet_teardown(state);
}

static void test_usage(void **state)
{
    (void) state;
    char body[CF_ITEST_FLEET_BODY];
    assert_int_equal(cf_itest_fleet_get(&s->a, "/api/v1/certs/expiring?days=30", body), 200);
    /* the expired one first, flagged; then by expiry, a record before agents of its second */
    cf_itest_fleet_is(body, "certs/0/name", "agent-old");
    cf_itest_fleet_is(body, "certs/0/expired", "true");
    cf_itest_fleet_is(body, "certs/0/lock", "expired");
    cf_itest_fleet_is(body, "certs/0/fingerprint", s->expired.fp);
    assert_true(cf_itest_fleet_ji(body, "certs/0/days_left") <= -2);
    cf_itest_fleet_is(body, "certs/1/component", "console");
    cf_itest_fleet_is(body, "certs/1/name", "ops");
    cf_itest_fleet_is(body, "certs/1/source", "record");
    cf_itest_fleet_is(body, "certs/1/agent", "null");
    cf_itest_fleet_is(body, "certs/1/serial", s_ops.serial);
    cf_itest_fleet_is(body, "certs/2/name", "agent-e1");
    cf_itest_fleet_is(body, "certs/2/agent", "agent-e1");
    cf_itest_fleet_is(body, "certs/2/source", "checkin");
    cf_itest_fleet_is(body, "certs/2/serial", s_e1.serial);
    cf_itest_fleet_is(body, "certs/2/fingerprint", s_e1.fp);
    cf_itest_fleet_is(body, "certs/2/lock", "secure");
    cf_itest_fleet_is(body, "certs/2/expired", "false");
    /* 5 days from the issue, less the seconds since (none within the same second) */
    assert_in_range(cf_itest_fleet_ji(body, "certs/2/days_left"), 4, 5);
    assert_int_equal(cf_itest_fleet_ji(body, "certs/1/not_after"),
                     cf_itest_fleet_ji(body, "certs/2/not_after"));
    cf_itest_fleet_is(body, "certs/3/name", "agent-e1b");
    cf_itest_fleet_is(body, "certs/4/name", "agent-e2");
    assert_false(cf_itest_fleet_has(body, "certs/5"));
    cf_itest_fleet_is(body, "cursor", "null");
    assert_int_equal(cf_itest_fleet_ji(body, "days"), 30);
}

/* The window: 0 days lists only what has expired; a long one takes in the servers'
   certificates and agent-far; without days, 30. */
static void test_days_window(void **state)
{
    (void) state;
    char list[4096];
    int pages = 0;
    s_walk(&s->b, 0, 100, list, sizeof(list), &pages);
    assert_string_equal(list, "agent-old|checkin|x\n");
    s_walk(&s->b, 6, 100, list, sizeof(list), &pages);
    assert_string_equal(list, "agent-old|checkin|x\nops|record|-\nagent-e1|checkin|-\n"
                              "agent-e1b|checkin|-\n");
    s_walk(&s->a, 36500, 100, list, sizeof(list), &pages);
    assert_non_null(strstr(list, "agent-far|checkin|-\n"));
    assert_non_null(strstr(list, "srv-a|record|-\n"));
    assert_null(strstr(list, "agent-3"));
    char body[CF_ITEST_FLEET_BODY];
    assert_int_equal(cf_itest_fleet_get(&s->a, "/api/v1/certs/expiring", body), 200);
    assert_int_equal(cf_itest_fleet_ji(body, "days"), 30);
    cf_itest_fleet_is(body, "certs/4/name", "agent-e2");
}

/* Pages of 1, 2 and 3 give the same entries in the same order as one page. */
static void test_paging(void **state)
{
    (void) state;
    char whole[8192], paged[8192];
    int pages = 0;
    s_walk(&s->a, 36500, 1000, whole, sizeof(whole), &pages);
    assert_int_equal(pages, 1);
    size_t n = 0;
    for (const char *p = whole; (p = strchr(p, '\n')) != NULL; p++)
        n++;
    assert_true(n >= 7);
    for (int limit = 1; limit <= 3; limit++) {
        s_walk(limit % 2 ? &s->a : &s->b, 36500, limit, paged, sizeof(paged), &pages);
        assert_string_equal(paged, whole);
        assert_true((size_t) pages >= (n + (size_t) limit - 1) / (size_t) limit);
    }
}

/* A renewed certificate moves its agent out of the window. */
static void test_renewal_moves_the_agent(void **state)
{
    (void) state;
    char list[4096];
    int pages = 0;
    s_checkin(&s->b, &s_renew);
    s_walk(&s->a, 30, 2, list, sizeof(list), &pages);
    assert_null(strstr(list, "agent-e2"));
    s_walk(&s->a, 61, 2, list, sizeof(list), &pages);
    assert_non_null(strstr(list, "agent-e2|checkin|-\n"));
}

static void test_refused_requests(void **state)
{
    (void) state;
    char body[CF_ITEST_FLEET_BODY];
    static const char *const bad[] = {
        "days=-1",        "days=36501",          "days=x",          "limit=0",
        "limit=10001",    "cursor=garbage",      "cursor=12:q:a",   "cursor=12:a:Bad",
        "cursor=0:a:a-1", "cursor=12:r:noslash", "days=1&limit=1x",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char path[128];
        snprintf(path, sizeof(path), "/api/v1/certs/expiring?%s", bad[i]);
        assert_int_equal(cf_itest_fleet_get(&s->a, path, body), 400);
        cf_itest_fleet_is(body, "error/code", "invalid_request");
    }
    /* viewer access: no session, no answer */
    assert_int_equal(cf_itest_fleet_call(&s->a, 0, &s->console, 0, "GET", "/api/v1/certs/expiring",
                                         NULL, NULL, body),
                     401);
}

/* HMGET calls Redis has served so far (INFO commandstats). */
static long long s_hmgets(void)
{
    redisReply *r = NULL;
    assert_int_equal(cf_store_cmd(s->store, &r, "INFO commandstats"), CF_OK);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    const char *p = strstr(r->str, "cmdstat_hmget:calls=");
    long long n = p ? strtoll(p + strlen("cmdstat_hmget:calls="), NULL, 10) : 0;
    freeReplyObject(r);
    return n;
}

/* A page reads its own agents' records, not the fleet's: with S_MANY agents in the window,
   a page of 5 costs a handful of HMGETs (its agents and the few certificate records; 12
   when this was written). */
static void test_page_reads_only_itself(void **state)
{
    (void) state;
    static const char fp[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    int64_t now = (int64_t) time(NULL);
    for (int i = 0; i < S_MANY; i++) {
        char id[32];
        snprintf(id, sizeof(id), "many-%04d", i);
        cf_db_checkin_t in = {id,      CF_DB_LOCK_SECURE,
                              now,     "127.0.0.9",
                              "",      fp,
                              "0a0b",  now + 86400 * (1 + i % 9),
                              "srv-a", 0};
        assert_int_equal(cf_db_agent_checkin(s->store, &in, NULL), CF_OK);
    }
    char body[CF_ITEST_FLEET_BODY];
    long long before = s_hmgets();
    assert_int_equal(cf_itest_fleet_get(&s->b, "/api/v1/certs/expiring?days=30&limit=5", body),
                     200);
    long long reads = s_hmgets() - before;
    assert_false(cf_itest_fleet_has(body, "certs/5"));
    assert_true(cf_itest_fleet_has(body, "certs/4"));
    assert_in_range(reads, 5, 5 + 16); /* 16: more than the certificate records there are */
    /* and the whole window is there to walk (pages whose answers fit the fixture's buffer) */
    char list[S_MANY * 32];
    int pages = 0;
    s_walk(&s->a, 30, 40, list, sizeof(list), &pages);
    size_t n = 0;
    for (const char *q = list; (q = strstr(q, "many-")) != NULL; q++)
        n++;
    assert_int_equal(n, S_MANY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_days_window),
        cmocka_unit_test(test_paging),
        cmocka_unit_test(test_renewal_moves_the_agent),
        cmocka_unit_test(test_refused_requests),
        cmocka_unit_test(test_page_reads_only_itself), /* last: it adds S_MANY agents */
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
