/*  test_db_job - cf_db_job against a real redis-server: create, read back, pages, refusals  */
#include "cf_test.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cf_db_enroll.h"
#include "cf_db_job.h"
#include "cf_itest.h"
#include "cf_itest_job.h"
#include "cf_mem.h"

CF_ITEST_REDIS_PER_FILE()

static const char s_id[] = "0123456789abcdef0123456789abcdef";
static const char s_id2[] = "00000000000000000000000000000002";

static void test_usage(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_itest_job_agents(store, "a", 0, 3, 0);
    /* the server resolved "--agents a0,a1,a2" and creates the job */
    const char *agents[] = {"a0", "a1", "a2"};
    cf_db_job_spec_t spec = cf_itest_job_spec(s_id, agents, 3);
    spec.params = "{\"cert\":\"shared\",\"form\":\"pem\"}";
    cf_db_job_made_t made;
    assert_int_equal(cf_db_job_create(store, &spec, &made), CF_OK);
    assert_int_equal(made.total, 3);
    assert_int_equal(made.too_old, 0);
    assert_int_equal(made.n_unknown, 0);
    cf_db_job_made_clear(&made);
    cf_itest_job_check(store, s_id);
    /* the link thread hands it out: a1 received it, a2 installed it */
    cf_db_job_tr_t tr[] = {{s_id, "a1", CF_JOB_EV_RECEIPT, NULL},
                           {s_id, "a2", CF_JOB_EV_REPORT_INSTALLED, NULL}};
    cf_db_job_res_t res[2];
    assert_int_equal(cf_db_job_transition(store, 1100, tr, 2, res), CF_OK);
    assert_int_equal(res[0].rc, CF_OK);
    assert_int_equal(res[0].from, CF_JOB_PENDING);
    assert_int_equal(res[0].to, CF_JOB_DELIVERED);
    assert_int_equal(res[1].to, CF_JOB_INSTALLED);
    cf_itest_job_check(store, s_id);
    /* the console shows it */
    cf_db_job_t job;
    assert_int_equal(cf_db_job_get(store, s_id, &job), CF_OK);
    assert_string_equal(job.id, s_id);
    assert_int_equal(job.type, CF_JOB_TYPE_INSTALL_CERT);
    assert_int_equal(job.created, 1000);
    assert_int_equal(job.expires, 4600);
    assert_int_equal(job.done, 0);
    assert_string_equal(job.issuer, "srv1");
    assert_string_equal(job.by, "admin");
    assert_string_equal(job.params, spec.params);
    assert_string_equal(job.target, "test");
    assert_int_equal(job.total, 3);
    assert_int_equal(job.n[CF_JOB_PENDING], 1);
    assert_int_equal(job.n[CF_JOB_DELIVERED], 1);
    assert_int_equal(job.n[CF_JOB_INSTALLED], 1);
    /* a check-in of a0 finds the job open for it; a2 has nothing more to do */
    cf_db_job_open_t *open = NULL;
    size_t n = 0;
    assert_int_equal(cf_db_job_agent_open(store, "a0", 1200, &open, &n), CF_OK);
    assert_int_equal(n, 1);
    assert_string_equal(open[0].id, s_id);
    assert_int_equal(open[0].state, CF_JOB_PENDING);
    assert_int_equal(open[0].expires, 4600);
    cf_mem_free(open);
    assert_int_equal(cf_db_job_agent_open(store, "a2", 1200, &open, &n), CF_OK);
    assert_int_equal(n, 0);
    cf_mem_free(open);
    /* after its expiry the job is no longer handed out */
    assert_int_equal(cf_db_job_agent_open(store, "a0", 4600, &open, &n), CF_OK);
    assert_int_equal(n, 0);
    cf_mem_free(open);
    cf_store_destroy(&store);
}

static void test_create_targets(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_itest_job_agents(store, "old", 0, 2, 1);
    cf_itest_job_agents(store, "new", 0, 2, 2);
    cf_itest_job_agents(store, "none", 0, 1, 0);
    cf_itest_job_agents(store, "huge", 0, 1, 999); /* above any level: taken as 255 */
    cf_itest_job_agents(store, "junk", 0, 1, 0);
    assert_int_equal(cf_store_cmd(store, NULL, "HSET cf:agent:{junk0} proto x"), CF_OK);
    cf_itest_job_agents(store, "gone", 0, 1, 1);
    assert_int_equal(cf_db_enroll_mark_revoked(store, "gone0", 1700000000), CF_OK);
    /* unknown ids (and revoked agents) are left out and answered by position; a repeat
       counts once */
    const char *agents[] = {"old0", "ghost",  "new0",  "old1",  "new1", "none0",
                            "new0", "ghost2", "huge0", "junk0", "gone0"};
    cf_db_job_spec_t spec = cf_itest_job_spec(s_id, agents, 11);
    spec.min_proto = 2;
    cf_db_job_made_t made;
    assert_int_equal(cf_db_job_create(store, &spec, &made), CF_OK);
    assert_int_equal(made.total, 7);
    assert_int_equal(made.too_old, 4); /* old0, old1, none0 (no proto = 1), junk0 (as none) */
    assert_int_equal(made.n_unknown, 3);
    assert_int_equal(made.unknown[0], 1);
    assert_int_equal(made.unknown[1], 7);
    assert_int_equal(made.unknown[2], 10);
    cf_db_job_made_clear(&made);
    cf_itest_job_check(store, s_id);
    cf_db_job_t job;
    assert_int_equal(cf_db_job_get(store, s_id, &job), CF_OK);
    assert_int_equal(job.n[CF_JOB_TOO_OLD], 4);
    assert_int_equal(job.n[CF_JOB_PENDING], 3);
    assert_int_equal(job.min_proto, 2);
    /* the id is taken now */
    assert_int_equal(cf_db_job_create(store, &spec, &made), CF_ERR_EXISTS);
    assert_int_equal(made.unknown, NULL);
    /* no known target: nothing written, the unknown still answered */
    const char *ghosts[] = {"ghost", "ghost2"};
    spec = cf_itest_job_spec(s_id2, ghosts, 2);
    assert_int_equal(cf_db_job_create(store, &spec, &made), CF_ERR_NOTFOUND);
    assert_int_equal(made.n_unknown, 2);
    cf_db_job_made_clear(&made);
    assert_int_equal(cf_db_job_get(store, s_id2, &job), CF_ERR_NOTFOUND);
    /* the stream starts with the created event */
    redisReply *r = NULL;
    char ev[CF_DB_KEY_MAX];
    assert_int_equal(cf_db_key_job(ev, s_id, CF_DB_KS_JOB_EV), CF_OK);
    assert_int_equal(cf_store_cmd(store, &r, "XRANGE %s - + COUNT 1", ev), CF_OK);
    assert_int_equal(r->elements, 1);
    assert_string_equal(r->element[0]->element[1]->element[1]->str, "created");
    assert_string_equal(r->element[0]->element[1]->element[3]->str, "7");
    cf_store_reply_free(&r);
    cf_store_destroy(&store);
}

/* A job to all: the script reads the per-lock sets itself. Every agent there gets its entry,
   revoked ones and members without a record are answered by id; all with a list is
   refused. */
static void test_create_all(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_itest_job_agents(store, "old", 0, 2, 1);
    cf_itest_job_agents(store, "new", 0, 3, 2);
    cf_itest_job_agents(store, "gone", 0, 1, 2);
    assert_int_equal(cf_db_enroll_mark_revoked(store, "gone0", 1700000000), CF_OK);
    /* one agent in another lock set, one member whose record is gone */
    assert_int_equal(cf_store_cmd(store, NULL, "HSET cf:agent:{sec0} id sec0 lock secure proto 2"),
                     CF_OK);
    assert_int_equal(cf_store_cmd(store, NULL, "ZADD cf:agents:secure 5 sec0 6 stale0"), CF_OK);
    cf_db_job_spec_t spec = cf_itest_job_spec(s_id, NULL, 0);
    spec.all = 1;
    spec.min_proto = 2;
    cf_db_job_made_t made;
    assert_int_equal(cf_db_job_create(store, &spec, &made), CF_OK);
    assert_int_equal(made.total, 6); /* old0, old1 (too_old), new0..2, sec0 */
    assert_int_equal(made.too_old, 2);
    assert_int_equal(made.n_unknown, 2);
    assert_null(made.unknown);
    assert_non_null(made.unknown_ids);
    /* secure is read before insecure; each oldest first */
    assert_string_equal(made.unknown_ids[0], "stale0");
    assert_string_equal(made.unknown_ids[1], "gone0");
    cf_db_job_made_clear(&made);
    cf_itest_job_check(store, s_id);
    cf_db_job_t job;
    assert_int_equal(cf_db_job_get(store, s_id, &job), CF_OK);
    assert_int_equal(job.n[CF_JOB_PENDING], 4);
    assert_int_equal(job.n[CF_JOB_TOO_OLD], 2);
    cf_db_job_open_t *open = NULL;
    size_t n = 0;
    assert_int_equal(cf_db_job_agent_open(store, "sec0", 1200, &open, &n), CF_OK);
    assert_int_equal(n, 1);
    cf_mem_free(open);
    /* all and a list together */
    const char *agents[] = {"new0"};
    cf_db_job_spec_t both = cf_itest_job_spec(s_id2, agents, 1);
    both.all = 1;
    assert_int_equal(cf_db_job_create(store, &both, &made), CF_ERR_INVALID);
    cf_store_destroy(&store);
}

/* A job to all over more agents than one job may take: refused before anything is written;
   one fewer fits. */
static void test_create_all_cap(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_itest_job_agents(store, "new", 0, 3, 2);
    cf_db_job_spec_t spec = cf_itest_job_spec(s_id, NULL, 0);
    spec.all = 1;
    cf_db_job_made_t made;
    cf_db_job_t job;
    cf_db_job_open_t *open = NULL;
    size_t n = 0;
    /* more agents than one job may take: refused before anything is written */
    char cap[32];
    snprintf(cap, sizeof(cap), "%d", CF_DB_JOB_TARGETS_MAX - 2); /* 3 agents: one over */
    assert_int_equal(cf_store_cmd(store, NULL, "EVAL %s 1 cf:agents:expired %s",
                                  "for i = 1, tonumber(ARGV[1]) do "
                                  "redis.call('ZADD', KEYS[1], 0, 'x' .. i) end",
                                  cap),
                     CF_OK);
    assert_int_equal(cf_db_job_create(store, &spec, &made), CF_ERR_TOOBIG);
    assert_int_equal(cf_db_job_get(store, s_id, &job), CF_ERR_NOTFOUND);
    assert_int_equal(cf_db_job_agent_open(store, "new0", 1200, &open, &n), CF_OK);
    assert_int_equal(n, 0);
    cf_mem_free(open);
    /* one fewer fits (the stale members are left out, the known ones get entries) */
    assert_int_equal(cf_store_cmd(store, NULL, "ZREM cf:agents:expired x1"), CF_OK);
    assert_int_equal(cf_db_job_create(store, &spec, &made), CF_OK);
    assert_int_equal(made.total, 3);
    assert_int_equal(made.n_unknown, CF_DB_JOB_TARGETS_MAX - 3); /* no records */
    cf_db_job_made_clear(&made);
    cf_itest_job_check(store, s_id);
    cf_store_destroy(&store);
}

/* A job to all over an empty fleet: nothing is written. */
static void test_create_all_empty(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_db_job_spec_t spec = cf_itest_job_spec(s_id, NULL, 0);
    spec.all = 1;
    cf_db_job_made_t made;
    assert_int_equal(cf_db_job_create(store, &spec, &made), CF_ERR_NOTFOUND);
    assert_int_equal(made.total, 0);
    assert_int_equal(made.n_unknown, 0);
    cf_db_job_made_clear(&made);
    redisReply *r = NULL;
    assert_int_equal(cf_store_cmd(store, &r, "EXISTS cf:jobs cf:jobs:open"), CF_OK);
    assert_int_equal(r->integer, 0);
    cf_store_reply_free(&r);
    cf_store_destroy(&store);
}

static void test_create_refusals(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_itest_job_agents(store, "a", 0, 1, 0);
    const char *agents[] = {"a0"};
    const char *bad_agents[] = {"a0", "Bad Id"};
    struct {
        const char *what;
        cf_db_job_spec_t spec;
        cf_err_t rc;
    } cases[] = {
        {"id", cf_itest_job_spec("0123", agents, 1), CF_ERR_INVALID},
        {"zero id", cf_itest_job_spec("00000000000000000000000000000000", agents, 1),
         CF_ERR_INVALID},
        {"upper id", cf_itest_job_spec("0123456789ABCDEF0123456789abcdef", agents, 1),
         CF_ERR_INVALID},
        {"agents", cf_itest_job_spec(s_id, agents, 0), CF_ERR_INVALID},
        {"agent id", cf_itest_job_spec(s_id, bad_agents, 2), CF_ERR_INVALID},
        {"too many", cf_itest_job_spec(s_id, agents, CF_DB_JOB_TARGETS_MAX + 1), CF_ERR_TOOBIG},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cf_db_job_made_t made;
        if (cf_db_job_create(store, &cases[i].spec, &made) != cases[i].rc)
            fail_msg("case %s: %s", cases[i].what, cf_store_why(store)->text);
    }
    redisReply *r = NULL;
    assert_int_equal(cf_store_cmd(store, &r, "EXISTS cf:jobs cf:jobs:open"), CF_OK);
    assert_int_equal(r->integer, 0); /* nothing was written */
    cf_store_reply_free(&r);
    /* reads refuse bad ids too */
    cf_db_job_t job;
    assert_int_equal(cf_db_job_get(store, "nope", &job), CF_ERR_INVALID);
    assert_int_equal(cf_db_job_get(store, s_id, &job), CF_ERR_NOTFOUND);
    cf_db_job_t *list = NULL;
    size_t n = 0;
    assert_int_equal(cf_db_job_list(store, 0, &list, &n), CF_ERR_INVALID);
    assert_int_equal(cf_db_job_list(store, CF_DB_JOB_LIST_MAX + 1, &list, &n), CF_ERR_INVALID);
    cf_db_job_open_t *open = NULL;
    assert_int_equal(cf_db_job_agent_open(store, "A", 0, &open, &n), CF_ERR_INVALID);
    cf_store_destroy(&store);
}

/* Each field of a spec refused on its own; nothing is written. */
static void test_create_field_refusals(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_itest_job_agents(store, "a", 0, 1, 0);
    const char *agents[] = {"a0"};
    char big[CF_DB_JOB_PARAMS_MAX + 16], longtarget[CF_DB_JOB_TARGET_MAX + 2];
    memset(big, ' ', sizeof(big));
    big[0] = '{';
    big[sizeof(big) - 2] = '}';
    big[sizeof(big) - 1] = '\0';
    memset(longtarget, 't', sizeof(longtarget) - 1);
    longtarget[sizeof(longtarget) - 1] = '\0';
    /* field by field */
    cf_db_job_spec_t s;
    cf_db_job_made_t made;
#define S_REFUSE(field, value, code)                                \
    do {                                                            \
        s = cf_itest_job_spec(s_id, agents, 1);                     \
        s.field = value;                                            \
        assert_int_equal(cf_db_job_create(store, &s, &made), code); \
    } while (0)
    S_REFUSE(type, (cf_job_type_t) 0, CF_ERR_INVALID);
    S_REFUSE(type, CF_JOB_TYPE_COUNT_, CF_ERR_INVALID);
    S_REFUSE(created, 0, CF_ERR_INVALID);
    S_REFUSE(expires, 1000, CF_ERR_INVALID);
    S_REFUSE(expires, 1000 + CF_JOB_MAX_LIFETIME + 1, CF_ERR_INVALID);
    S_REFUSE(issuer, "Bad Alias", CF_ERR_INVALID);
    S_REFUSE(issuer, NULL, CF_ERR_INVALID);
    S_REFUSE(by, "", CF_ERR_INVALID);
    S_REFUSE(min_proto, 0, CF_ERR_INVALID);
    S_REFUSE(min_proto, 256, CF_ERR_INVALID);
    S_REFUSE(params, "[]", CF_ERR_INVALID);
    S_REFUSE(params, "{\"a\":1,\"a\":2}", CF_ERR_INVALID);
    S_REFUSE(params, "{\"a\":\n1}", CF_ERR_INVALID);
    S_REFUSE(params, "{", CF_ERR_INVALID);
    S_REFUSE(params, NULL, CF_ERR_INVALID);
    S_REFUSE(params, big, CF_ERR_TOOBIG);
    S_REFUSE(target, longtarget, CF_ERR_TOOBIG);
    S_REFUSE(target, "a\tb", CF_ERR_INVALID);
    S_REFUSE(agents, NULL, CF_ERR_INVALID);
#undef S_REFUSE
    redisReply *r = NULL;
    assert_int_equal(cf_store_cmd(store, &r, "EXISTS cf:jobs cf:jobs:open"), CF_OK);
    assert_int_equal(r->integer, 0);
    cf_store_reply_free(&r);
    cf_store_destroy(&store);
}

/* Walk every page of job id with filter state and limit; count the entries seen, and
   check each agent comes once. */
static size_t s_walk(cf_store_t *store, const char *id, cf_job_state_t state, size_t limit,
                     size_t total)
{
    char *seen = cf_mem_calloc(total, 1);
    char cursor[CF_DB_JOB_CURSOR_MAX] = "";
    size_t count = 0, pages = 0;
    do {
        cf_db_job_entry_t *list = NULL;
        size_t n = 0;
        char next[CF_DB_JOB_CURSOR_MAX];
        assert_int_equal(cf_db_job_agents(store, id, state, cursor, limit, &list, &n, next), CF_OK);
        assert_true(n <= limit);
        for (size_t i = 0; i < n; i++) {
            size_t k = 0;
            assert_int_equal(sscanf(list[i].agent, "a%zu", &k), 1);
            assert_true(k < total);
            assert_int_equal(seen[k], 0);
            seen[k] = 1;
            if (state != CF_JOB_STATE_COUNT)
                assert_int_equal(list[i].state, state);
            if (list[i].state == CF_JOB_FAILED)
                assert_string_equal(list[i].reason, "disk full");
            else
                assert_string_equal(list[i].reason, "");
        }
        count += n;
        cf_mem_free(list);
        memcpy(cursor, next, sizeof(cursor));
        assert_true(++pages < 100000);
    } while (cursor[0]);
    cf_mem_free(seen);
    return count;
}

static void test_agents_pages(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    enum { N = 700 };
    cf_itest_job_agents(store, "a", 0, N, 0);
    char **ids = cf_itest_job_ids("a", 0, N);
    cf_db_job_spec_t spec = cf_itest_job_spec(s_id, (const char *const *) ids, N);
    cf_db_job_made_t made;
    assert_int_equal(cf_db_job_create(store, &spec, &made), CF_OK);
    cf_db_job_made_clear(&made);
    /* every 7th agent failed */
    cf_db_job_tr_t tr[N / 7 + 1];
    cf_db_job_res_t res[N / 7 + 1];
    size_t nt = 0;
    for (size_t i = 0; i < N; i += 7)
        tr[nt++] = (cf_db_job_tr_t){s_id, ids[i], CF_JOB_EV_REPORT_FAILED, "disk full"};
    assert_int_equal(cf_db_job_transition(store, 1100, tr, nt, res), CF_OK);
    cf_itest_job_check(store, s_id);
    size_t limits[] = {1, 7, 100, 1000};
    for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++) {
        assert_int_equal(s_walk(store, s_id, CF_JOB_STATE_COUNT, limits[l], N), N);
        assert_int_equal(s_walk(store, s_id, CF_JOB_FAILED, limits[l], N), nt);
        assert_int_equal(s_walk(store, s_id, CF_JOB_INSTALLED, limits[l], N), 0);
    }
    /* a small job (one HSCAN batch) pages too */
    const char *few[] = {"a1", "a2", "a3"};
    spec = cf_itest_job_spec(s_id2, few, 3);
    assert_int_equal(cf_db_job_create(store, &spec, &made), CF_OK);
    cf_db_job_made_clear(&made);
    assert_int_equal(s_walk(store, s_id2, CF_JOB_STATE_COUNT, 1, N), 3);
    /* refusals */
    cf_db_job_entry_t *list = NULL;
    size_t n = 0;
    char next[CF_DB_JOB_CURSOR_MAX];
    const char *bad_cursors[] = {
        "x", "1:", ":1", "1:2:3", "-1:0", "1:a", "123456789012345678901:0"};
    for (size_t i = 0; i < sizeof(bad_cursors) / sizeof(bad_cursors[0]); i++)
        assert_int_equal(
            cf_db_job_agents(store, s_id, CF_JOB_STATE_COUNT, bad_cursors[i], 10, &list, &n, next),
            CF_ERR_INVALID);
    assert_int_equal(cf_db_job_agents(store, s_id, CF_JOB_STATE_COUNT, "", 0, &list, &n, next),
                     CF_ERR_INVALID);
    assert_int_equal(cf_db_job_agents(store, s_id, CF_JOB_STATE_COUNT, "", CF_DB_JOB_PAGE_MAX + 1,
                                      &list, &n, next),
                     CF_ERR_INVALID);
    assert_int_equal(cf_db_job_agents(store, "abcdef0123456789abcdef0123456789", CF_JOB_STATE_COUNT,
                                      "", 10, &list, &n, next),
                     CF_ERR_NOTFOUND);
    cf_itest_job_ids_free(ids, N);
    cf_store_destroy(&store);
}

static void test_list_newest_first(void **state)
{
    (void) state;
    cf_store_t *store = s_fresh();
    cf_itest_job_agents(store, "a", 0, 1, 0);
    const char *agents[] = {"a0"};
    char ids[5][CF_DB_JOB_ID_LEN + 1];
    for (int i = 0; i < 5; i++) {
        snprintf(ids[i], sizeof(ids[i]), "%032x", i + 1);
        cf_db_job_spec_t spec = cf_itest_job_spec(ids[i], agents, 1);
        spec.created = 1000 + i;
        spec.expires = spec.created + 60;
        cf_db_job_made_t made;
        assert_int_equal(cf_db_job_create(store, &spec, &made), CF_OK);
        cf_db_job_made_clear(&made);
    }
    cf_db_job_t *list = NULL;
    size_t n = 0;
    assert_int_equal(cf_db_job_list(store, 3, &list, &n), CF_OK);
    assert_int_equal(n, 3);
    assert_string_equal(list[0].id, ids[4]);
    assert_string_equal(list[2].id, ids[2]);
    cf_mem_free(list);
    /* a job whose keys are gone is left out; a damaged one is reported */
    char key[CF_DB_KEY_MAX];
    assert_int_equal(cf_db_key_job(key, ids[4], CF_DB_KS_TAG), CF_OK);
    assert_int_equal(cf_store_cmd(store, NULL, "DEL %s", key), CF_OK);
    assert_int_equal(cf_db_job_list(store, 3, &list, &n), CF_OK);
    assert_int_equal(n, 2);
    cf_mem_free(list);
    assert_int_equal(cf_db_key_job(key, ids[3], CF_DB_KS_TAG), CF_OK);
    assert_int_equal(cf_store_cmd(store, NULL, "HSET %s n:pending 7", key), CF_OK);
    assert_int_equal(cf_db_job_list(store, 3, &list, &n), CF_ERR_CORRUPT);
    cf_db_job_t job;
    assert_int_equal(cf_db_job_get(store, ids[3], &job), CF_ERR_CORRUPT);
    assert_int_equal(cf_store_cmd(store, NULL, "HSET %s n:pending 1 type bogus", key), CF_OK);
    assert_int_equal(cf_db_job_get(store, ids[3], &job), CF_ERR_CORRUPT);
    cf_store_destroy(&store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_create_targets),
        cmocka_unit_test(test_create_all),
        cmocka_unit_test(test_create_all_cap),
        cmocka_unit_test(test_create_all_empty),
        cmocka_unit_test(test_create_refusals),
        cmocka_unit_test(test_create_field_refusals),
        cmocka_unit_test(test_agents_pages),
        cmocka_unit_test(test_list_newest_first),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
