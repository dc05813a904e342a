/*  test_api_fleet_agents - the fleet API end to end: two cf-server processes on one
    redis-server, driven with curl: check-ins (identity, lock states, expired and revoked
    certificates), agents, favorites and the counts (test_api_fleet: configuration, servers)  */
#include "cf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cf_db_agent.h"
#include "cf_db_archive.h"
#include "cf_db_crl.h"
#include "cf_itest_fleet.h"

#define S_BULK  150 /* agents of the many-check-ins case, each checking in twice */
#define S_CERTS 50  /* ... of which this many get a certificate for their second one */

static cf_itest_fleet_t *const s = &cf_itest_fleet;

static int s_setup(void **state)
{
    (void) state;
    return cf_itest_fleet_setup("test_api_fleet_agents");
}

/* ---- cases ------------------------------------------------------------------------------ */

static void test_checkin_identity_and_lock_states(void **state)
{
    (void) state;
    char body[CF_ITEST_FLEET_BODY];
    /* the certificate names the agent: a body naming another is refused */
    assert_int_equal(cf_itest_fleet_checkin(&s->b, &s->agent1, "{\"id\":\"agent-9\"}", NULL, body),
                     403);
    cf_itest_fleet_is(body, "error/code", "forbidden");
    assert_int_equal(cf_itest_fleet_checkin(&s->b, &s->agent1, "{}", "127.0.0.200", body), 200);
    cf_itest_fleet_is(body, "lock", "secure");
    cf_itest_fleet_is(body, "seen_addr", "127.0.0.200");
    /* a valid but replaced certificate: attention; the current one: secure */
    cf_cert_t *old = NULL;
    assert_int_equal(cf_cert_parse(s->old2.pem_text, s->old2.pem_len, &old), CF_OK);
    assert_int_equal(cf_db_archive_add(s->store, CF_COMPONENT_AGENT, "agent-2", old, time(NULL)),
                     CF_OK);
    cf_cert_destroy(&old);
    assert_int_equal(cf_itest_fleet_checkin(&s->a, &s->old2, "{\"id\":\"agent-2\"}", NULL, body),
                     200);
    cf_itest_fleet_is(body, "lock", "attention");
    assert_int_equal(cf_itest_fleet_get(&s->b, "/api/v1/agents/agent-2", body), 200);
    cf_itest_fleet_is(body, "lock", "attention");
    cf_itest_fleet_is(body, "cert_fingerprint", s->old2.fp);
    /* the archive keeps the replaced agent certificate without its body: what it lists */
    assert_int_equal(cf_itest_fleet_get(&s->a, "/api/v1/certs/archive?component=agent", body), 200);
    cf_itest_fleet_is(body, "certs/0/fingerprint", s->old2.fp);
    cf_itest_fleet_is(body, "certs/0/serial", s->old2.serial);
    cf_itest_fleet_is(body, "certs/0/name", "agent-2");
    cf_itest_fleet_is(body, "certs/0/state", "archived");
    cf_itest_fleet_is(body, "certs/0/issuer", "null");
    cf_itest_fleet_is(body, "certs/0/key_type", "null");
    assert_false(cf_itest_fleet_has(body, "certs/1"));
    json_t *arch = cf_itest_fleet_json(body);
    json_t *c0 = json_array_get(json_object_get(arch, "certs"), 0);
    assert_non_null(strstr(json_string_value(json_object_get(c0, "subject")), "agent-2"));
    assert_true(json_integer_value(json_object_get(c0, "not_after")) > time(NULL));
    assert_true(json_integer_value(json_object_get(c0, "archived_at")) > 0);
    assert_true(json_integer_value(json_object_get(c0, "days_left")) >= 0);
    json_decref(arch);
    assert_true(
        cf_itest_redis_reply_has(s->redis.port, "a1 agent-2 ", "HGET cf:archive %s", s->old2.fp));
    assert_int_equal(cf_itest_fleet_checkin(&s->a, &s->new2, "{\"id\":\"agent-2\"}", NULL, body),
                     200);
    cf_itest_fleet_is(body, "lock", "secure");
    /* no certificate while allow-plain is on: TLS and the plain listener, both insecure */
    assert_int_equal(cf_itest_fleet_checkin(&s->a, NULL, "{\"id\":\"agent-3\"}", "127.0.0.9", body),
                     200);
    cf_itest_fleet_is(body, "lock", "insecure");
    assert_int_equal(cf_itest_fleet_call(&s->b, 1, NULL, 0, "POST", "/api/v1/agent/checkin",
                                         "{\"id\":\"agent-4\",\"version\":\"0.0.9\"}",
                                         "--interface 127.0.0.10", body),
                     200);
    cf_itest_fleet_is(body, "lock", "insecure");
    cf_itest_fleet_is(body, "seen_addr", "127.0.0.10");
    /* what the console sees of them, through the other server */
    assert_int_equal(cf_itest_fleet_get(&s->a, "/api/v1/agents/agent-4", body), 200);
    cf_itest_fleet_is(body, "server", "srv-b");
    cf_itest_fleet_is(body, "version", "0.0.9");
    cf_itest_fleet_is(body, "last_addr", "127.0.0.10");
    cf_itest_fleet_is(body, "cert_fingerprint", "null");
    assert_int_equal(cf_itest_fleet_get(&s->b, "/api/v1/agents/agent-1", body), 200);
    cf_itest_fleet_is(body, "cert_serial", s->agent1.serial);
    cf_itest_fleet_is(body, "server", "srv-b");
    /* migration readiness lists exactly the agents without a certificate, page by page */
    assert_int_equal(cf_itest_fleet_get(&s->a, "/api/v1/ssl/insecure?limit=1", body), 200);
    cf_itest_fleet_is(body, "agents/0/id", "agent-3");
    json_t *j = cf_itest_fleet_json(body);
    char path[300];
    snprintf(path, sizeof(path), "/api/v1/ssl/insecure?limit=10&cursor=%s",
             json_string_value(json_object_get(j, "cursor")));
    json_decref(j);
    assert_int_equal(cf_itest_fleet_get(&s->b, path, body), 200);
    cf_itest_fleet_is(body, "agents/0/id", "agent-4");
    cf_itest_fleet_is(body, "agents/0/last_addr", "127.0.0.10");
    assert_false(cf_itest_fleet_has(body, "agents/1"));
    cf_itest_fleet_is(body, "cursor", "null");
    assert_int_equal(cf_itest_fleet_get(&s->b, "/api/v1/ssl", body), 200);
    assert_int_equal(cf_itest_fleet_ji(body, "migration/insecure_agents"), 2);
}

static int s_agent_expired(void *arg)
{
    cf_db_agent_t a;
    return cf_db_agent_get(s->store, arg, &a) == CF_OK && a.lock == CF_DB_LOCK_EXPIRED;
}

/* An expired agent certificate is refused at the handshake, and the agent shows expired. */
static void test_expired_certificate(void **state)
{
    (void) state;
    char body[CF_ITEST_FLEET_BODY];
    assert_int_equal(cf_itest_fleet_checkin(&s->a, &s->expired, "{}", "127.0.0.11", body), 0);
    assert_true(cf_test_wait_until(s_agent_expired, "agent-old", 10000));
    /* the refused certificate's expiry is recorded (issued 3 days ago for 1 second) */
    cf_db_agent_t rec;
    assert_int_equal(cf_db_agent_get(s->store, "agent-old", &rec), CF_OK);
    int64_t now = (int64_t) time(NULL);
    assert_in_range(rec.cert_not_after, now - 4 * 86400, now - 2 * 86400);
    assert_int_equal(cf_itest_fleet_get(&s->b, "/api/v1/agents?lock=expired", body), 200);
    cf_itest_fleet_is(body, "agents/0/id", "agent-old");
    cf_itest_fleet_is(body, "agents/0/cert_fingerprint", s->expired.fp);
    cf_itest_fleet_is(body, "agents/0/last_addr", "127.0.0.11");
    assert_int_equal(cf_itest_fleet_ji(body, "counts/expired"), 1);
}

static void test_favorite(void **state)
{
    (void) state;
    char body[CF_ITEST_FLEET_BODY];
    assert_int_equal(cf_itest_fleet_admin(
                         &s->a, "PUT", "/api/v1/agents/favorite",
                         "{\"agents\":[\"agent-1\",\"agent-3\",\"ghost\"],\"server\":\"srv-b\"}",
                         body),
                     200);
    assert_int_equal(cf_itest_fleet_ji(body, "updated"), 2); /* unknown agents are skipped */
    assert_int_equal(cf_itest_fleet_checkin(&s->a, &s->agent1, "{}", NULL, body), 200);
    cf_itest_fleet_is(body, "favorite", "srv-b");
    assert_int_equal(cf_itest_fleet_admin(&s->b, "PUT", "/api/v1/agents/favorite",
                                          "{\"agents\":[\"agent-1\"],\"server\":\"srv-nope\"}",
                                          body),
                     404);
    assert_int_equal(cf_itest_fleet_admin(&s->b, "PUT", "/api/v1/agents/favorite",
                                          "{\"agents\":[\"agent-3\"],\"server\":null}", body),
                     200);
    assert_int_equal(cf_itest_fleet_checkin(&s->b, NULL, "{\"id\":\"agent-3\"}", NULL, body), 200);
    cf_itest_fleet_is(body, "favorite", "null");
    assert_int_equal(cf_itest_fleet_get(&s->b, "/api/v1/agents/agent-1", body), 200);
    cf_itest_fleet_is(body, "favorite", "srv-b");
    assert_int_equal(cf_itest_fleet_admin(&s->b, "PUT", "/api/v1/agents/favorite",
                                          "{\"agents\":[],\"server\":\"srv-a\"}", body),
                     400);
}

/* Walk every page of /agents (lock: "" for all) through srv: tally[0][lock] counts every
   agent per lock state, tally[1][lock] those of the bulk case; *counts (may be NULL) gets
   the last page's counts. */
static void s_walk(const cf_itest_server_t *srv, const char *lock,
                   int64_t tally[2][CF_DB_LOCK_COUNT], json_t **counts)
{
    char cursor[128] = "", path[400], body[CF_ITEST_FLEET_BODY];
    memset(tally, 0, sizeof(int64_t) * 2 * CF_DB_LOCK_COUNT);
    do {
        snprintf(path, sizeof(path), "/api/v1/agents?limit=37%s%s%s%s", lock[0] ? "&lock=" : "",
                 lock, cursor[0] ? "&cursor=" : "", cursor);
        assert_int_equal(cf_itest_fleet_get(srv, path, body), 200);
        json_t *j = cf_itest_fleet_json(body);
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(j, "agents"), i, a)
        {
            cf_db_lock_t l = CF_DB_LOCK_COUNT;
            assert_int_equal(
                cf_db_lock_from_name(json_string_value(json_object_get(a, "lock")), &l), CF_OK);
            tally[0][l]++;
            tally[1][l] += strncmp(json_string_value(json_object_get(a, "id")), "bulk-", 5) == 0;
        }
        snprintf(cursor, sizeof(cursor), "%s",
                 json_string_value(json_object_get(j, "cursor")) ?: "");
        if (counts) {
            json_decref(*counts);
            *counts = json_incref(json_object_get(j, "counts"));
        }
        json_decref(j);
    } while (cursor[0]);
}

/* A few hundred check-ins from 127.0.0.x through both servers: the counts equal the
   per-agent states, however the list is walked. */
static void test_counts_after_many_checkins(void **state)
{
    (void) state;
    static cf_itest_cert_t certs[S_CERTS];
    char name[16], id[32];
    const cf_itest_server_t *srv[2] = {&s->a, &s->b};
    for (int round = 0; round < 2; round++) {
        snprintf(name, sizeof(name), "bulk%d", round);
        FILE *f = cf_itest_fleet_cfg(name);
        for (int i = 0; i < S_BULK; i++) {
            snprintf(id, sizeof(id), "bulk-%03d", i);
            if (round == 1 && i < S_CERTS)
                cf_itest_fleet_issue(id, 0, 30, id, &certs[i]);
            const cf_itest_cert_t *cert = round == 1 && i < S_CERTS ? &certs[i] : NULL;
            cf_itest_fleet_bulk_line(f, srv[(i + round) % 2], round == 1 && !cert, cert, id,
                                     20 + i % 200);
        }
        fclose(f);
        int ok = 0, busy = 0, after = 0;
        cf_itest_fleet_bulk_run(name, S_BULK, 4, &ok, &busy, &after);
        assert_int_equal(ok, S_BULK);
    }
    for (int i = 0; i < S_CERTS; i++)
        cf_itest_cert_free(&certs[i]);
    int64_t all[2][CF_DB_LOCK_COUNT], one[2][CF_DB_LOCK_COUNT];
    json_t *counts = NULL;
    s_walk(&s->a, "", all, &counts);
    for (int l = 0; l < CF_DB_LOCK_COUNT; l++) {
        const char *lock = cf_db_lock_name((cf_db_lock_t) l);
        assert_int_equal(json_integer_value(json_object_get(counts, lock)), all[0][l]);
        s_walk(&s->b, lock, one, NULL);
        assert_int_equal(one[0][l], all[0][l]);
    }
    json_decref(counts);
    assert_int_equal(all[1][CF_DB_LOCK_SECURE], S_CERTS);
    assert_int_equal(all[1][CF_DB_LOCK_INSECURE], S_BULK - S_CERTS);
    cf_db_agent_counts_t c;
    assert_int_equal(cf_db_agent_counts(s->store, &c), CF_OK);
    assert_int_equal(c.total, all[0][0] + all[0][1] + all[0][2] + all[0][3]);
    /* the address each was seen at */
    char body[CF_ITEST_FLEET_BODY];
    assert_int_equal(cf_itest_fleet_get(&s->b, "/api/v1/agents/bulk-007", body), 200);
    cf_itest_fleet_is(body, "last_addr", "127.0.0.27");
    cf_itest_fleet_is(body, "lock", "secure");
    assert_int_equal(cf_itest_fleet_get(&s->b, "/api/v1/agents/bulk-077", body), 200);
    cf_itest_fleet_is(body, "lock", "insecure");
}

/* A revocation written to Redis (and published) makes every server refuse the certificate
   at the next handshake. */
static void test_revoked_certificate_refused(void **state)
{
    (void) state;
    char body[CF_ITEST_FLEET_BODY];
    assert_int_equal(cf_itest_fleet_checkin(&s->a, &s->agent5, "{}", NULL, body), 200);
    const char *serial = s->agent5.serial;
    assert_int_equal(cf_db_revoke(s->store, &serial, 1, NULL), CF_OK);
    cf_itest_fleet_try_t ta = {&s->a, &s->agent5, 0}, tb = {&s->b, &s->agent5, 0};
    assert_true(cf_test_wait_until(cf_itest_fleet_try, &ta, 10000));
    assert_true(cf_test_wait_until(cf_itest_fleet_try, &tb, 10000));
    assert_int_equal(cf_itest_fleet_checkin(&s->b, &s->agent1, "{}", NULL, body), 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkin_identity_and_lock_states),
        cmocka_unit_test(test_expired_certificate),
        cmocka_unit_test(test_favorite),
        cmocka_unit_test(test_counts_after_many_checkins),
        cmocka_unit_test(test_revoked_certificate_refused),
    };
    return cmocka_run_group_tests(tests, s_setup, cf_itest_fleet_teardown);
}
