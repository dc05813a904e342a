/*  test_db_agent_checkins - several check-ins in one command against a real redis-server:
    the same records, sets, counters and answers as one command each, one failing alone  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_db_agent.h"
#include "cf_db_agent_checkins.h"
#include "cf_db_job.h"
#include "cf_itest.h"
#include "cf_itest_checkin.h"
#include "cf_mem.h"

CF_ITEST_REDIS_PER_FILE()

static const char s_fp[] = CF_ITEST_CHECKIN_FP;
static const char s_fp2[] = CF_ITEST_CHECKIN_FP2;

/* A check-in of id at now: with CF_ITEST_CHECKIN_FP (serial 0a1b, expiring at not_after) unless
 * insecure. */
static cf_db_checkin_t s_in(const char *id, cf_db_lock_t lock, int64_t now, int64_t not_after)
{
    return cf_itest_checkin_in(id, lock, now, not_after);
}

/* What each check-in of a command got. */
typedef struct {
    cf_err_t rc;                        /* its outcome */
    cf_db_lock_t lock;                  /* the lock recorded */
    int64_t jobs;                       /* open jobs counted */
    int upgrade;                        /* the level differs from the one recorded */
    char favorite[CF_DB_ALIAS_MAX + 1]; /* the favorite */
} s_got_t;

static int s_spoil = -1; /* s_run: the check-in whose packed arguments are spoilt, -1 none */

/* Send the n check-ins of in as one command (they must fit); each outcome into got. */
static void s_run(cf_store_t *store, const cf_db_checkin_t *in, size_t n, s_got_t *got)
{
    cf_db_checkins_t *b = cf_mem_calloc(1, sizeof(*b));
    assert_non_null(b);
    cf_db_agent_checkins_clear(b);
    for (size_t i = 0; i < n; i++) {
        assert_true(cf_db_agent_checkins_fits(b, &in[i]));
        assert_int_equal(cf_db_agent_checkins_add(b, &in[i]), CF_OK);
    }
    if (s_spoil >= 0)
        snprintf(b->one[s_spoil].rest, sizeof(b->one[s_spoil].rest), "no separators");
    int nkeys = 0, argc = 0;
    const char **argv = cf_db_agent_checkins_argv(b, &nkeys, &argc);
    assert_int_equal(nkeys, 0); /* the script makes the keys from the ids */
    assert_int_equal(argc, (int) (2 + n * CF_DB_CHECKINS_ARGS));
    /* hiredis itself: cf_store refuses a reply with an error at any depth, and this one may
       hold a check-in's own error (the worker's cf_store_async passes it on) */
    const cf_store_script_t *script = cf_db_agent_checkins_script();
    assert_int_equal(cf_store_script_load(store, script), CF_OK);
    const char *cmd[3 + CF_DB_CHECKINS_ARGV];
    char nk[16];
    snprintf(nk, sizeof(nk), "%d", nkeys);
    cmd[0] = "EVALSHA";
    cmd[1] = cf_store_script_sha(script);
    cmd[2] = nk;
    for (int i = 0; i < argc; i++)
        cmd[3 + i] = argv[i];
    redisContext *c = redisConnect("127.0.0.1", s_redis.port);
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    redisReply *r = redisCommandArgv(c, 3 + argc, cmd, NULL);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    redisFree(c);
    for (size_t i = 0; i < n; i++) {
        cf_why_t why = {""};
        got[i].jobs = -1;
        got[i].rc = cf_db_agent_checkins_reply(r, n, i, in[i].id, got[i].favorite, &got[i].lock,
                                               &got[i].jobs, &got[i].upgrade, &why);
    }
    freeReplyObject(r);
    cf_mem_free(b);
}

/* The same check-in through the one-check-in script (cf_db_agent_checkin_cmd). */
static cf_err_t s_run_one(cf_store_t *store, const cf_db_checkin_t *in, s_got_t *got)
{
    cf_db_checkin_cmd_t cmd;
    assert_int_equal(cf_db_agent_checkin_cmd(in, 1, &cmd), CF_OK);
    redisReply *r = NULL;
    cf_err_t rc = cf_store_script_call(store, cf_db_agent_checkin_script(), 0, &r, cmd.nkeys,
                                       cmd.argc - cmd.nkeys, cmd.argv, NULL);
    if (rc == CF_OK) {
        cf_why_t why = {""};
        rc = cf_db_agent_checkin_reply(r, in->id, got->favorite, &got->lock, &got->jobs, &why);
    }
    freeReplyObject(r);
    return got->rc = rc;
}

static long s_calls(cf_store_t *store, const char *name)
{
    redisReply *r = NULL;
    assert_int_equal(cf_store_cmd(store, &r, "INFO commandstats"), CF_OK);
    char want[64];
    snprintf(want, sizeof(want), "cmdstat_%s:calls=", name);
    const char *p = strstr(r->str, want);
    long n = p ? strtol(p + strlen(want), NULL, 10) : 0;
    freeReplyObject(r);
    return n;
}

static void test_usage(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    /* a worker gathers the check-ins of one loop turn and sends them as one command */
    cf_db_checkin_t in[] = {s_in("agent-1", CF_DB_LOCK_INSECURE, 1000, 0),
                            s_in("agent-2", CF_DB_LOCK_SECURE, 1000, 90000)};
    s_got_t got[2];
    s_run(store, in, 2, got);
    assert_int_equal(got[0].rc, CF_OK);
    assert_int_equal(got[0].lock, CF_DB_LOCK_INSECURE);
    assert_int_equal(got[0].jobs, 0);
    assert_int_equal(got[1].rc, CF_OK);
    assert_int_equal(got[1].lock, CF_DB_LOCK_SECURE);
    cf_db_agent_t a;
    assert_int_equal(cf_db_agent_get(store, "agent-2", &a), CF_OK);
    assert_int_equal(a.last_seen, 1000);
    assert_string_equal(a.cert_fp, s_fp);
    assert_string_equal(a.server, "srv1");
    cf_store_destroy(&store);
}

/* Everything a check-in stores, as one command each, then again as commands of several:
   records, per-lock sets, counters, the expiry index and the answers are the same. */
static const char *const s_dump[] = {"HGETALL cf:agent:{m-0}",
                                     "HGETALL cf:agent:{m-1}",
                                     "HGETALL cf:agent:{m-2}",
                                     "HGETALL cf:agent:{m-3}",
                                     "HGETALL cf:agents:lock",
                                     "ZRANGE cf:agents:secure 0 -1 WITHSCORES",
                                     "ZRANGE cf:agents:attention 0 -1 WITHSCORES",
                                     "ZRANGE cf:agents:insecure 0 -1 WITHSCORES",
                                     "ZRANGE cf:agents:expiry 0 -1 WITHSCORES"};
#define S_DUMP (sizeof(s_dump) / sizeof(s_dump[0]))

/* The steps: four agents, each changing lock, certificate, address and version. */
static size_t s_steps(cf_db_checkin_t *in)
{
    size_t n = 0;
    for (int round = 0; round < 3; round++) {
        for (int k = 0; k < 4; k++) {
            static const char *const ids[] = {"m-0", "m-1", "m-2", "m-3"};
            cf_db_lock_t lock = (k + round) % 3 == 0 ? CF_DB_LOCK_INSECURE : CF_DB_LOCK_SECURE;
            cf_db_checkin_t c = s_in(ids[k], lock, 1000 + round * 10, 5000 + round * k);
            if (lock != CF_DB_LOCK_INSECURE && k == 2)
                c.cert_fp = s_fp2; /* archived below: attention */
            c.addr = round == 1 ? "10.0.0.1" : "127.0.0.7";
            c.version = round == 2 && k == 1 ? NULL : "0.1.0";
            in[n++] = c;
        }
    }
    return n;
}

static void s_snapshot(cf_store_t *store, redisReply **out)
{
    for (size_t i = 0; i < S_DUMP; i++)
        assert_int_equal(i < 5
                             ? cf_store_cmd(store, &out[i], "HGETALL %s", s_dump[i])
                             : cf_store_cmd(store, &out[i], "ZRANGE %s 0 -1 WITHSCORES", s_dump[i]),
                         CF_OK);
}

static void s_same(const redisReply *a, const redisReply *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->elements, b->elements);
    if (a->type == REDIS_REPLY_STRING)
        assert_string_equal(a->str, b->str);
    if (a->type == REDIS_REPLY_ARRAY) { /* HGETALL: same fields, maybe another order */
        for (size_t i = 0; i < a->elements; i += 2) {
            int found = 0;
            for (size_t j = 0; j < b->elements && !found; j += 2)
                found = strcmp(a->element[i]->str, b->element[j]->str) == 0 &&
                        strcmp(a->element[i + 1]->str, b->element[j + 1]->str) == 0;
            assert_true(found);
        }
    }
}

static void test_same_as_one_by_one(void **state)
{
    (void) state;
    cf_db_checkin_t in[16];
    size_t n = s_steps(in);
    s_got_t one[16], many[16];
    redisReply *want[S_DUMP], *have[S_DUMP];
    cf_store_t *store = s_fresh();
    assert_int_equal(cf_store_cmd(store, NULL, "HSET cf:archive %s x", s_fp2), CF_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(s_run_one(store, &in[i], &one[i]), CF_OK);
    s_snapshot(store, want);
    cf_store_destroy(&store);
    store = s_fresh();
    assert_int_equal(cf_store_cmd(store, NULL, "HSET cf:archive %s x", s_fp2), CF_OK);
    for (size_t i = 0; i < n; i += 4) /* one command per round: four agents */
        s_run(store, &in[i], 4, &many[i]);
    s_snapshot(store, have);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(many[i].rc, CF_OK);
        assert_int_equal(many[i].lock, one[i].lock);
        assert_int_equal(many[i].jobs, one[i].jobs);
    }
    assert_int_equal(many[2].lock, CF_DB_LOCK_ATTENTION); /* m-2, archived certificate */
    assert_int_equal(many[6].lock, CF_DB_LOCK_INSECURE);  /* m-2 again, without one */
    for (size_t i = 0; i < S_DUMP; i++) {
        s_same(want[i], have[i]);
        freeReplyObject(want[i]);
        freeReplyObject(have[i]);
    }
    cf_store_destroy(&store);
}

/* A steady check-in costs each agent what it costs alone, in one EVALSHA for all. */
static void test_steady_one_evalsha(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_db_checkin_t in[CF_DB_CHECKINS_MAX];
    char ids[CF_DB_CHECKINS_MAX][16];
    for (int i = 0; i < CF_DB_CHECKINS_MAX; i++) {
        snprintf(ids[i], sizeof(ids[i]), "steady-%d", i);
        in[i] = s_in(ids[i], CF_DB_LOCK_INSECURE, 1000, 0);
    }
    s_got_t got[CF_DB_CHECKINS_MAX];
    s_run(store, in, CF_DB_CHECKINS_MAX, got);
    for (int i = 0; i < CF_DB_CHECKINS_MAX; i++)
        in[i].now = 1300;
    assert_int_equal(cf_store_cmd(store, NULL, "CONFIG RESETSTAT"), CF_OK);
    s_run(store, in, CF_DB_CHECKINS_MAX, got);
    assert_int_equal(s_calls(store, "evalsha"), 1);
    assert_int_equal(s_calls(store, "hmget"), CF_DB_CHECKINS_MAX);
    assert_int_equal(s_calls(store, "zadd"), CF_DB_CHECKINS_MAX);
    assert_int_equal(s_calls(store, "hset"), CF_DB_CHECKINS_MAX);
    assert_int_equal(s_calls(store, "exists"), CF_DB_CHECKINS_MAX);
    assert_int_equal(s_calls(store, "zcount"), 0);
    assert_int_equal(s_calls(store, "hincrby"), 0);
    assert_int_equal(s_calls(store, "hdel"), 0);
    for (int i = 0; i < CF_DB_CHECKINS_MAX; i++)
        assert_int_equal(got[i].rc, CF_OK);
    assert_true(
        cf_itest_redis_reply_has(s_redis.port, "1300", "ZSCORE cf:agents:insecure steady-7"));
    cf_store_destroy(&store);
}

/* A revoked agent is refused and left as it is; a record Redis cannot read (a key of the
   wrong type) fails that check-in alone; the others of the command are stored. */
static void test_one_fails_alone(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    assert_int_equal(cf_store_cmd(store, NULL, "HSET cf:agent:{gone} revoked 900 last_seen 800"),
                     CF_OK);
    assert_int_equal(cf_store_cmd(store, NULL, "SET cf:agent:{broken} x"), CF_OK);
    cf_db_checkin_t in[] = {
        s_in("ok-1", CF_DB_LOCK_INSECURE, 1000, 0), s_in("gone", CF_DB_LOCK_INSECURE, 1000, 0),
        s_in("broken", CF_DB_LOCK_INSECURE, 1000, 0), s_in("ok-2", CF_DB_LOCK_SECURE, 1000, 7000)};
    s_got_t got[4];
    s_run(store, in, 4, got);
    assert_int_equal(got[0].rc, CF_OK);
    assert_int_equal(got[1].rc, CF_ERR_REVOKED);
    assert_true(got[2].rc != CF_OK && got[2].rc != CF_ERR_REVOKED && got[2].rc != CF_ERR_CORRUPT);
    assert_int_equal(got[3].rc, CF_OK);
    assert_true(cf_itest_redis_reply_has(s_redis.port, "800", "HGET cf:agent:{gone} last_seen"));
    assert_true(cf_itest_redis_reply_has(s_redis.port, "x", "GET cf:agent:{broken}"));
    assert_true(cf_itest_redis_reply_has(s_redis.port, "7000", "ZSCORE cf:agents:expiry ok-2"));
    cf_db_agent_counts_t c;
    assert_int_equal(cf_db_agent_counts(store, &c), CF_OK);
    assert_int_equal(c.total, 2);
    assert_int_equal(c.n[CF_DB_LOCK_SECURE], 1);
    assert_int_equal(c.n[CF_DB_LOCK_INSECURE], 1);
    cf_store_destroy(&store);
}

/* Packed arguments the script cannot unpack fail that check-in alone, before anything of
   it is written; a steady check-in never unpacks them (its digest says nothing changed). */
static void test_bad_packing_fails_alone(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_db_checkin_t in[] = {s_in("p-1", CF_DB_LOCK_INSECURE, 1000, 0),
                            s_in("p-2", CF_DB_LOCK_SECURE, 1000, 7000)};
    s_got_t got[2];
    s_spoil = 1;
    s_run(store, in, 2, got);
    s_spoil = -1;
    assert_int_equal(got[0].rc, CF_OK);
    assert_true(got[1].rc != CF_OK && got[1].rc != CF_ERR_REVOKED && got[1].rc != CF_ERR_CORRUPT);
    assert_true(cf_itest_redis_reply_has(s_redis.port, "0", "EXISTS cf:agent:{p-2}"));
    s_run(store, in, 2, got); /* now p-2 is stored */
    assert_int_equal(got[1].rc, CF_OK);
    in[0].now = in[1].now = 1100;
    s_spoil = 1;
    s_run(store, in, 2, got); /* steady: the packing is not read */
    s_spoil = -1;
    assert_int_equal(got[1].rc, CF_OK);
    cf_db_agent_t a;
    assert_int_equal(cf_db_agent_get(store, "p-2", &a), CF_OK);
    assert_int_equal(a.last_seen, 1100);
    assert_int_equal(a.cert_not_after, 7000);
    cf_store_destroy(&store);
}

/* What joins a command: room, the same second and server; a bad check-in changes nothing. */
static void test_fits_and_refusals(void **state)
{
    (void) state;
    cf_db_checkins_t *b = cf_mem_calloc(1, sizeof(*b));
    assert_non_null(b);
    cf_db_agent_checkins_clear(b);
    cf_db_checkin_t in = s_in("f-1", CF_DB_LOCK_INSECURE, 1000, 0);
    assert_int_equal(cf_db_agent_checkins_add(b, &in), CF_OK);
    cf_db_checkin_t later = in, other = in, bad = in;
    later.now = 1001;
    other.server = "srv2";
    assert_false(cf_db_agent_checkins_fits(b, &later));
    assert_false(cf_db_agent_checkins_fits(b, &other));
    assert_int_equal(cf_db_agent_checkins_add(b, &later), CF_ERR_TOOBIG);
    bad.id = "Bad Id";
    assert_int_equal(cf_db_agent_checkins_add(b, &bad), CF_ERR_INVALID);
    bad = in;
    bad.cert_fp = s_fp; /* a certificate with an insecure lock */
    assert_int_equal(cf_db_agent_checkins_add(b, &bad), CF_ERR_INVALID);
    bad = s_in("f-1", CF_DB_LOCK_ATTENTION, 1000, 9000); /* the script tells attention */
    assert_int_equal(cf_db_agent_checkins_add(b, &bad), CF_ERR_INVALID);
    assert_int_equal(b->n, 1);
    for (int i = 1; i < CF_DB_CHECKINS_MAX; i++)
        assert_int_equal(cf_db_agent_checkins_add(b, &in), CF_OK);
    assert_false(cf_db_agent_checkins_fits(b, &in));
    assert_int_equal(cf_db_agent_checkins_add(b, &in), CF_ERR_TOOBIG);
    cf_db_agent_checkins_clear(b);
    assert_true(cf_db_agent_checkins_fits(b, &later)); /* empty: anything fits */
    cf_mem_free(b);
}

/* Replies of the wrong shape are refused: not an array, another count of answers. */
/* r (RESP text) decoded as answer 1 of 2. */
static int s_upgrade; /* s_decode: the last answer's upgrade */

static cf_err_t s_decode(const char *text, cf_db_lock_t *lock, int64_t *jobs, char *favorite)
{
    redisReader *rd = redisReaderCreate();
    void *r = NULL;
    assert_non_null(rd);
    assert_int_equal(redisReaderFeed(rd, text, strlen(text)), REDIS_OK);
    assert_int_equal(redisReaderGetReply(rd, &r), REDIS_OK);
    assert_non_null(r);
    cf_why_t why = {""};
    cf_err_t rc = cf_db_agent_checkins_reply(r, 2, 1, "x", favorite, lock, jobs, &s_upgrade, &why);
    assert_true(rc == CF_OK || why.text[0] != '\0');
    freeReplyObject(r);
    redisReaderFree(rd);
    return rc;
}

/* Each check-in's answer is one string "<lock> <open jobs> <favorite>", 0 when revoked;
   replies of the wrong shape are refused. */
/* The protocol level: a check-in whose level is not the recorded one (absent: 1) answers
   upgrade and stores no digest, so the next compares again; once the server recorded it
   (cf_db_job_upgrade) the check-in is steady again. A level not said (0) is not compared. */
static void test_protocol_level(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_db_checkin_t in[] = {s_in("p-1", CF_DB_LOCK_SECURE, 1000, 90000),
                            s_in("p-2", CF_DB_LOCK_SECURE, 1000, 90000)};
    in[0].proto = 3;
    in[1].proto = 1; /* level 1: what an absent field means */
    s_got_t got[2];
    s_run(store, in, 2, got);
    assert_int_equal(got[0].rc, CF_OK);
    assert_true(got[0].upgrade);
    assert_false(got[1].upgrade);
    redisReply *r = NULL;
    assert_int_equal(cf_store_cmd(store, &r, "HMGET cf:agent:{p-1} facts proto"), CF_OK);
    assert_int_equal(r->element[0]->type, REDIS_REPLY_NIL); /* no digest: compared again */
    assert_int_equal(r->element[1]->type, REDIS_REPLY_NIL); /* the script records no level */
    cf_store_reply_free(&r);
    s_run(store, in, 1, got);
    assert_true(got[0].upgrade);
    assert_int_equal(cf_db_job_upgrade(store, "p-1", 3, 1000, NULL), CF_OK);
    s_run(store, in, 1, got);
    assert_false(got[0].upgrade);
    assert_int_equal(cf_store_cmd(store, &r, "HGET cf:agent:{p-1} facts"), CF_OK);
    assert_int_equal(r->type, REDIS_REPLY_STRING); /* the digest: steady from now on */
    cf_store_reply_free(&r);
    s_run(store, in, 1, got);
    assert_false(got[0].upgrade);
    /* back to 2 (an older agent put back): compared, answered */
    in[0].proto = 2;
    s_run(store, in, 1, got);
    assert_true(got[0].upgrade);
    /* not said: not compared */
    in[0].proto = 0;
    s_run(store, in, 1, got);
    assert_false(got[0].upgrade);
    /* the one-check-in script records nothing of it either, and answers as before */
    in[1].proto = 7;
    assert_int_equal(s_run_one(store, &in[1], got), CF_OK);
    assert_int_equal(got[0].lock, CF_DB_LOCK_SECURE);
    assert_int_equal(cf_store_cmd(store, &r, "HGET cf:agent:{p-2} proto"), CF_OK);
    assert_int_equal(r->type, REDIS_REPLY_NIL);
    cf_store_reply_free(&r);
    /* a level over 255 is refused before anything is sent */
    in[1].proto = 256;
    cf_db_checkin_cmd_t cmd;
    assert_int_equal(cf_db_agent_checkin_cmd(&in[1], 1, &cmd), CF_ERR_INVALID);
    cf_store_destroy(&store);
}

static void test_answers_and_bad_replies(void **state)
{
    (void) state;
    cf_db_lock_t lock = CF_DB_LOCK_COUNT;
    int64_t jobs = -1;
    char fav[CF_DB_ALIAS_MAX + 1] = "?";
    assert_int_equal(s_decode("*2\r\n:0\r\n$19\r\nattention 3 srv-b.x\r\n", &lock, &jobs, fav),
                     CF_OK);
    assert_int_equal(lock, CF_DB_LOCK_ATTENTION);
    assert_int_equal(jobs, 3);
    assert_string_equal(fav, "srv-b.x");
    assert_false(s_upgrade);
    assert_int_equal(s_decode("*2\r\n:0\r\n$12\r\nsecure +2 s1\r\n", &lock, &jobs, fav), CF_OK);
    assert_int_equal(jobs, 2);
    assert_true(s_upgrade);
    assert_int_equal(s_decode("*2\r\n:0\r\n$11\r\ninsecure 0 \r\n", &lock, &jobs, fav), CF_OK);
    assert_false(s_upgrade);
    assert_int_equal(lock, CF_DB_LOCK_INSECURE);
    assert_int_equal(jobs, 0);
    assert_string_equal(fav, "");
    assert_int_equal(s_decode("*2\r\n:0\r\n:0\r\n", &lock, &jobs, fav), CF_ERR_REVOKED);
    assert_int_equal(s_decode("*2\r\n:0\r\n-WRONGTYPE bad\r\n", &lock, &jobs, fav), CF_ERR_INVALID);
    assert_int_equal(s_decode("*2\r\n:0\r\n-OOM no\r\n", &lock, &jobs, fav), CF_ERR_STATE);
    static const char *const bad[] = {
        ":1\r\n",                                       /* not an array */
        "*1\r\n$9\r\nsecure 0 \r\n",                    /* one answer for two */
        "*2\r\n:0\r\n$1\r\nx\r\n",                      /* no fields */
        "*2\r\n:0\r\n$7\r\nsecure \r\n",                /* no count */
        "*2\r\n:0\r\n$8\r\nsecure 0\r\n",               /* no favorite field */
        "*2\r\n:0\r\n$9\r\nbogus 0 a\r\n",              /* not a lock */
        "*2\r\n:0\r\n$9\r\nsecure x \r\n",              /* not a count */
        "*2\r\n:0\r\n$9\r\nsecure + \r\n",              /* a mark without a count */
        "*2\r\n:0\r\n$10\r\nsecure ++0 \r\n",           /* two marks */
        "*2\r\n:0\r\n$12\r\nsecure 1001 \r\n",          /* over CF_DB_JOB_OPEN_MAX */
        "*2\r\n:0\r\n$13\r\nsecure 0 no/k\r\n",         /* not an alias */
        "*2\r\n:0\r\n:1\r\n",                           /* an integer but 0 */
        "*2\r\n:0\r\n*2\r\n$0\r\n\r\n$6\r\nsecure\r\n", /* the one-check-in form */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(s_decode(bad[i], &lock, &jobs, fav), CF_ERR_CORRUPT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_same_as_one_by_one),
        cmocka_unit_test(test_steady_one_evalsha),
        cmocka_unit_test(test_one_fails_alone),
        cmocka_unit_test(test_bad_packing_fails_alone),
        cmocka_unit_test(test_fits_and_refusals),
        cmocka_unit_test(test_protocol_level),
        cmocka_unit_test(test_answers_and_bad_replies),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
