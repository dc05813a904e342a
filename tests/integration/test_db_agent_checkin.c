/*  test_db_agent_checkin - the check-in script against a real redis-server: its open-jobs
    count, what a steady check-in costs Redis (commands counted), what a changed one writes,
    the digest that stands for the fields  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_db_agent.h"
#include "cf_db_job.h"
#include "cf_itest.h"
#include "cf_itest_checkin.h"
#include "cf_itest_job.h"
#include "cf_mem.h"

CF_ITEST_REDIS_PER_FILE()

static const char s_fp2[] = CF_ITEST_CHECKIN_FP2;
static const char s_job[] = "0123456789abcdef0123456789abcdef";

/* A check-in of id at now: with CF_ITEST_CHECKIN_FP (serial 0a1b, expiring at not_after) unless
 * insecure. */
static cf_db_checkin_t s_in(const char *id, cf_db_lock_t lock, int64_t now, int64_t not_after)
{
    return cf_itest_checkin_in(id, lock, now, not_after);
}

/* Run the check-in as the worker does (one command, the jobs counted): its outcome, the
   favorite, lock and count decoded. */
static cf_err_t s_run(cf_store_t *store, const cf_db_checkin_t *in, cf_db_lock_t *lock,
                      int64_t *jobs)
{
    cf_db_checkin_cmd_t cmd;
    assert_int_equal(cf_db_agent_checkin_cmd(in, 1, &cmd), CF_OK);
    redisReply *r = NULL;
    cf_err_t rc = cf_store_script_call(store, cf_db_agent_checkin_script(), 0, &r, cmd.nkeys,
                                       cmd.argc - cmd.nkeys, cmd.argv, NULL);
    if (rc != CF_OK)
        return rc;
    char favorite[CF_DB_ALIAS_MAX + 1];
    cf_why_t why = {""};
    rc = cf_db_agent_checkin_reply(r, in->id, favorite, lock, jobs, &why);
    freeReplyObject(r);
    return rc;
}

/* calls=N of command name in INFO commandstats (0 when not run since the reset). */
static long s_calls(cf_store_t *store, const char *name)
{
    redisReply *r = NULL;
    assert_int_equal(cf_store_cmd(store, &r, "INFO commandstats"), CF_OK);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    char want[64];
    snprintf(want, sizeof(want), "cmdstat_%s:calls=", name);
    const char *p = strstr(r->str, want);
    long n = p ? strtol(p + strlen(want), NULL, 10) : 0;
    freeReplyObject(r);
    return n;
}

static void s_reset_stats(cf_store_t *store)
{
    assert_int_equal(cf_store_cmd(store, NULL, "CONFIG RESETSTAT"), CF_OK);
}

static void test_usage(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    /* a worker sends the check-in and its open-jobs question as one command */
    cf_db_checkin_t in = s_in("agent-1", CF_DB_LOCK_INSECURE, 1000, 0);
    cf_db_lock_t lock = CF_DB_LOCK_COUNT;
    int64_t jobs = -1;
    assert_int_equal(s_run(store, &in, &lock, &jobs), CF_OK);
    assert_int_equal(lock, CF_DB_LOCK_INSECURE);
    assert_int_equal(jobs, 0);
    cf_db_agent_t a;
    assert_int_equal(cf_db_agent_get(store, "agent-1", &a), CF_OK);
    assert_int_equal(a.last_seen, 1000);
    assert_string_equal(a.server, "srv1");
    cf_store_destroy(&store);
}

/* The count is what cf_db_job_agent_open hands out: pending and delivered entries of jobs
   expiring after now; installed ones and expired jobs are not counted. */
static void test_open_jobs_counted(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_itest_job_agents(store, "a", 0, 3, 0);
    const char *agents[] = {"a0", "a1", "a2"};
    cf_db_job_spec_t spec = cf_itest_job_spec(s_job, agents, 3); /* expires at 4600 */
    cf_db_job_made_t made;
    assert_int_equal(cf_db_job_create(store, &spec, &made), CF_OK);
    cf_db_job_made_clear(&made);
    cf_db_job_tr_t tr[] = {{s_job, "a1", CF_JOB_EV_RECEIPT, NULL},
                           {s_job, "a2", CF_JOB_EV_REPORT_INSTALLED, NULL}};
    cf_db_job_res_t res[2];
    assert_int_equal(cf_db_job_transition(store, 1100, tr, 2, res), CF_OK);
    static const int64_t want[] = {1, 1, 0}; /* pending, delivered, installed */
    for (int i = 0; i < 3; i++) {
        cf_db_checkin_t in = s_in(agents[i], CF_DB_LOCK_INSECURE, 1200, 0);
        cf_db_lock_t lock;
        int64_t jobs = -1;
        assert_int_equal(s_run(store, &in, &lock, &jobs), CF_OK);
        assert_int_equal(jobs, want[i]);
        cf_db_job_open_t *open = NULL;
        size_t n = 0, sendable = 0;
        assert_int_equal(cf_db_job_agent_open(store, agents[i], 1200, &open, &n), CF_OK);
        for (size_t j = 0; j < n; j++)
            sendable += open[j].state == CF_JOB_PENDING || open[j].state == CF_JOB_DELIVERED;
        cf_mem_free(open);
        assert_int_equal((int64_t) sendable, jobs);
    }
    /* at the job's expiry nothing is handed out */
    cf_db_checkin_t in = s_in("a0", CF_DB_LOCK_INSECURE, 4600, 0);
    cf_db_lock_t lock;
    int64_t jobs = -1;
    assert_int_equal(s_run(store, &in, &lock, &jobs), CF_OK);
    assert_int_equal(jobs, 0);
    /* without the jobs the reply has two elements: asked with jobs it is refused */
    cf_db_checkin_cmd_t cmd;
    assert_int_equal(cf_db_agent_checkin_cmd(&in, 0, &cmd), CF_OK);
    assert_int_equal(cmd.nkeys, 1);
    redisReply *r = NULL;
    assert_int_equal(cf_store_script_call(store, cf_db_agent_checkin_script(), 0, &r, cmd.nkeys,
                                          cmd.argc - cmd.nkeys, cmd.argv, NULL),
                     CF_OK);
    cf_why_t why = {""};
    assert_int_equal(cf_db_agent_checkin_reply(r, "a0", NULL, &lock, &jobs, &why), CF_ERR_CORRUPT);
    assert_int_equal(cf_db_agent_checkin_reply(r, "a0", NULL, &lock, NULL, &why), CF_OK);
    freeReplyObject(r);
    cf_store_destroy(&store);
}

/* A steady check-in (nothing changed but the time) is one HMGET, one ZADD of its lock set,
   one HSET and, for the jobs, one EXISTS: no counter, no delete, no expiry index write.
   With a certificate the archive question adds one HEXISTS. */
static void test_steady_checkin_redis_work(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    for (int cert = 0; cert < 2; cert++) {
        cf_db_lock_t want = cert ? CF_DB_LOCK_SECURE : CF_DB_LOCK_INSECURE;
        cf_db_checkin_t in = s_in(cert ? "steady-c" : "steady", want, 1000, 90000);
        cf_db_lock_t lock;
        int64_t jobs;
        assert_int_equal(s_run(store, &in, &lock, &jobs), CF_OK); /* first: all written */
        in.now = 1300;
        s_reset_stats(store);
        assert_int_equal(s_run(store, &in, &lock, &jobs), CF_OK);
        assert_int_equal(lock, want);
        assert_int_equal(s_calls(store, "evalsha"), 1);
        assert_int_equal(s_calls(store, "hmget"), 1);
        assert_int_equal(s_calls(store, "zadd"), 1);
        assert_int_equal(s_calls(store, "hset"), 1);
        assert_int_equal(s_calls(store, "exists"), 1);
        assert_int_equal(s_calls(store, "zcount"), 0);
        assert_int_equal(s_calls(store, "hexists"), cert);
        assert_int_equal(s_calls(store, "hincrby"), 0);
        assert_int_equal(s_calls(store, "hdel"), 0);
        assert_int_equal(s_calls(store, "zrem"), 0);
        assert_int_equal(s_calls(store, "zrangebyscore"), 0);
        cf_db_agent_t a;
        assert_int_equal(cf_db_agent_get(store, in.id, &a), CF_OK);
        assert_int_equal(a.last_seen, 1300);
        assert_true(cf_itest_redis_reply_has(s_redis.port, "1300", "ZSCORE cf:agents:%s %s",
                                             cf_db_lock_name(want), in.id));
    }
    /* the lock changing moves the counters (and only then) */
    cf_db_checkin_t in = s_in("steady", CF_DB_LOCK_SECURE, 1400, 90000);
    cf_db_lock_t lock;
    int64_t jobs;
    s_reset_stats(store);
    assert_int_equal(s_run(store, &in, &lock, &jobs), CF_OK);
    assert_int_equal(s_calls(store, "hincrby"), 2);
    cf_db_agent_counts_t c;
    assert_int_equal(cf_db_agent_counts(store, &c), CF_OK);
    assert_int_equal(c.n[CF_DB_LOCK_SECURE], 2);
    assert_int_equal(c.n[CF_DB_LOCK_INSECURE], 0);
    assert_int_equal(c.total, 2);
    cf_store_destroy(&store);
}

/* What changed is written, the rest of the record is left: address, version (deleted when
   not sent), server, a new certificate (serial, expiry and the index with it), no
   certificate (the three fields and the index entry go); fields of other writers stay. */
static void test_changes_written(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_db_checkin_t in = s_in("agent-c", CF_DB_LOCK_SECURE, 1000, 5000);
    cf_db_lock_t lock;
    int64_t jobs;
    assert_int_equal(s_run(store, &in, &lock, &jobs), CF_OK);
    assert_int_equal(cf_store_cmd(store, NULL, "HSET cf:agent:{agent-c} favorite srv2 curve kk"),
                     CF_OK);
    in.now = 1100;
    in.addr = "10.0.0.9";
    in.version = NULL;
    in.server = "srv3";
    in.cert_fp = s_fp2;
    in.cert_serial = "0c0d";
    in.cert_not_after = 7000;
    char favorite[CF_DB_ALIAS_MAX + 1];
    assert_int_equal(cf_db_agent_checkin_lock(store, &in, favorite, &lock), CF_OK);
    assert_string_equal(favorite, "srv2");
    cf_db_agent_t a;
    assert_int_equal(cf_db_agent_get(store, "agent-c", &a), CF_OK);
    assert_int_equal(a.last_seen, 1100);
    assert_string_equal(a.last_addr, "10.0.0.9");
    assert_string_equal(a.version, "");
    assert_string_equal(a.server, "srv3");
    assert_string_equal(a.cert_fp, s_fp2);
    assert_string_equal(a.cert_serial, "0c0d");
    assert_int_equal(a.cert_not_after, 7000);
    assert_string_equal(a.favorite, "srv2");
    assert_true(cf_itest_redis_reply_has(s_redis.port, "7000", "ZSCORE cf:agents:expiry agent-c"));
    assert_true(cf_itest_redis_reply_has(s_redis.port, "kk", "HGET cf:agent:{agent-c} curve"));
    /* the same certificate with another expiry (a record to repair) moves the index too */
    in.cert_not_after = 8000;
    assert_int_equal(cf_db_agent_checkin(store, &in, NULL), CF_OK);
    assert_true(cf_itest_redis_reply_has(s_redis.port, "8000", "ZSCORE cf:agents:expiry agent-c"));
    /* then without a certificate */
    cf_db_checkin_t plain = s_in("agent-c", CF_DB_LOCK_INSECURE, 1200, 0);
    assert_int_equal(s_run(store, &plain, &lock, &jobs), CF_OK);
    assert_int_equal(cf_db_agent_get(store, "agent-c", &a), CF_OK);
    assert_int_equal(a.lock, CF_DB_LOCK_INSECURE);
    assert_string_equal(a.cert_fp, "");
    assert_string_equal(a.cert_serial, "");
    assert_int_equal(a.cert_not_after, 0);
    assert_string_equal(a.version, "0.1.0");
    assert_string_equal(a.last_addr, "127.0.0.7");
    assert_true(cf_itest_redis_reply_has(s_redis.port, "0", "ZCARD cf:agents:expiry"));
    cf_store_destroy(&store);
}

/* The agent's field facts (the digest of the values last written). */
static void s_facts(cf_store_t *store, const char *id, char *out, size_t len)
{
    redisReply *r = NULL;
    assert_int_equal(cf_store_cmd(store, &r, "HGET cf:agent:{%s} facts", id), CF_OK);
    snprintf(out, len, "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
}

/* The digest stands for the fields a check-in writes. A record whose digest is another
   process's (a restarted server) or absent (an older version's record, or one the expired
   handshake wrote) has its fields read (a second HMGET) and repaired; a changed value is
   written with its new digest; the steady check-in reads one HMGET. */
static void test_digest(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_db_checkin_t in = s_in("agent-d", CF_DB_LOCK_SECURE, 1000, 5000);
    cf_db_lock_t lock;
    int64_t jobs;
    assert_int_equal(s_run(store, &in, &lock, &jobs), CF_OK);
    char dg[64], now_dg[64];
    s_facts(store, "agent-d", dg, sizeof(dg));
    assert_int_equal(strlen(dg), 16);
    /* another process's digest over stale fields: read, repaired, the digest rewritten */
    assert_int_equal(cf_store_cmd(store, NULL,
                                  "HSET cf:agent:{agent-d} facts 0123456789abcdef last_addr "
                                  "10.9.9.9 version 9.9 server srv9 cert_serial 0fff"),
                     CF_OK);
    in.now = 1100;
    s_reset_stats(store);
    assert_int_equal(s_run(store, &in, &lock, &jobs), CF_OK);
    assert_int_equal(s_calls(store, "hmget"), 2);
    cf_db_agent_t a;
    assert_int_equal(cf_db_agent_get(store, "agent-d", &a), CF_OK);
    assert_string_equal(a.last_addr, "127.0.0.7");
    assert_string_equal(a.version, "0.1.0");
    assert_string_equal(a.server, "srv1");
    assert_string_equal(a.cert_serial, "0a1b");
    s_facts(store, "agent-d", now_dg, sizeof(now_dg));
    assert_string_equal(now_dg, dg);
    /* no digest (an older version's record): the same */
    assert_int_equal(
        cf_store_cmd(store, NULL, "HDEL cf:agent:{agent-d} facts server cert_not_after"), CF_OK);
    s_reset_stats(store);
    assert_int_equal(s_run(store, &in, &lock, &jobs), CF_OK);
    assert_int_equal(s_calls(store, "hmget"), 2);
    assert_int_equal(cf_db_agent_get(store, "agent-d", &a), CF_OK);
    assert_string_equal(a.server, "srv1");
    assert_int_equal(a.cert_not_after, 5000);
    s_facts(store, "agent-d", now_dg, sizeof(now_dg));
    assert_string_equal(now_dg, dg);
    /* steady again: one HMGET */
    s_reset_stats(store);
    assert_int_equal(s_run(store, &in, &lock, &jobs), CF_OK);
    assert_int_equal(s_calls(store, "hmget"), 1);
    /* a changed value is written, with its digest */
    in.addr = "10.0.0.1";
    assert_int_equal(s_run(store, &in, &lock, &jobs), CF_OK);
    assert_int_equal(cf_db_agent_get(store, "agent-d", &a), CF_OK);
    assert_string_equal(a.last_addr, "10.0.0.1");
    s_facts(store, "agent-d", now_dg, sizeof(now_dg));
    assert_int_equal(strlen(now_dg), 16);
    assert_string_not_equal(now_dg, dg);
    /* the expired handshake (version and server kept, not passed) drops the digest, and the
       next check-in with the values before it reads the fields and writes them back */
    assert_int_equal(cf_db_agent_expired(store, "agent-d", 1200, "10.0.0.2", s_fp2, "0c0d", 900),
                     CF_OK);
    s_facts(store, "agent-d", now_dg, sizeof(now_dg));
    assert_string_equal(now_dg, "");
    assert_int_equal(cf_db_agent_get(store, "agent-d", &a), CF_OK);
    assert_string_equal(a.version, "0.1.0");
    assert_int_equal(a.lock, CF_DB_LOCK_EXPIRED);
    in.addr = "10.0.0.1";
    in.now = 1300;
    assert_int_equal(s_run(store, &in, &lock, &jobs), CF_OK);
    assert_int_equal(cf_db_agent_get(store, "agent-d", &a), CF_OK);
    assert_string_equal(a.last_addr, "10.0.0.1");
    assert_string_equal(a.cert_fp, CF_ITEST_CHECKIN_FP);
    assert_string_equal(a.cert_serial, "0a1b");
    assert_int_equal(a.cert_not_after, 5000);
    assert_int_equal(a.lock, CF_DB_LOCK_SECURE);
    assert_true(cf_itest_redis_reply_has(s_redis.port, "5000", "ZSCORE cf:agents:expiry agent-d"));
    s_facts(store, "agent-d", dg, sizeof(dg));
    assert_int_equal(strlen(dg), 16);
    cf_store_destroy(&store);
}

/* A revoked agent: nothing written, with or without the jobs; malformed replies refused. */
static void test_revoked_and_bad_replies(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_db_checkin_t in = s_in("agent-r", CF_DB_LOCK_INSECURE, 1000, 0);
    cf_db_lock_t lock;
    int64_t jobs;
    assert_int_equal(s_run(store, &in, &lock, &jobs), CF_OK);
    assert_int_equal(cf_store_cmd(store, NULL, "HSET cf:agent:{agent-r} revoked 1050"), CF_OK);
    in.now = 1100;
    assert_int_equal(s_run(store, &in, &lock, &jobs), CF_ERR_REVOKED);
    cf_db_agent_t a;
    assert_int_equal(cf_db_agent_get(store, "agent-r", &a), CF_OK);
    assert_int_equal(a.last_seen, 1000);
    /* replies of the wrong shape */
    static const char *const bad[] = {
        "*3\r\n$0\r\n\r\n$8\r\ninsecure\r\n:-1\r\n",    /* negative count */
        "*3\r\n$0\r\n\r\n$8\r\ninsecure\r\n:1001\r\n",  /* over CF_DB_JOB_OPEN_MAX */
        "*3\r\n$0\r\n\r\n$5\r\nbogus\r\n:0\r\n",        /* not a lock */
        "*3\r\n$4\r\nno/k\r\n$8\r\ninsecure\r\n:0\r\n", /* not an alias */
        "*2\r\n$0\r\n\r\n$8\r\ninsecure\r\n",           /* no count */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        redisReader *rd = redisReaderCreate();
        void *r = NULL;
        assert_non_null(rd);
        assert_int_equal(redisReaderFeed(rd, bad[i], strlen(bad[i])), REDIS_OK);
        assert_int_equal(redisReaderGetReply(rd, &r), REDIS_OK);
        assert_non_null(r);
        cf_why_t why = {""};
        assert_int_equal(cf_db_agent_checkin_reply(r, "x", NULL, &lock, &jobs, &why),
                         CF_ERR_CORRUPT);
        assert_true(why.text[0] != '\0');
        freeReplyObject(r);
        redisReaderFree(rd);
    }
    /* a malformed check-in is no command */
    cf_db_checkin_cmd_t cmd;
    in.id = "Bad Id";
    assert_int_equal(cf_db_agent_checkin_cmd(&in, 1, &cmd), CF_ERR_INVALID);
    cf_store_destroy(&store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_open_jobs_counted),
        cmocka_unit_test(test_steady_checkin_redis_work),
        cmocka_unit_test(test_changes_written),
        cmocka_unit_test(test_digest),
        cmocka_unit_test(test_revoked_and_bad_replies),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
