/*  test_pipeline_waves - rollout controls end to end: real cf-servers, a real cf-broker and
    a simulated fleet; a job in batches completes with never more than the batch in flight,
    pause stops the releases and resume goes on, and a job whose agents fail past
    --max-failures is aborted (the rest cancelled, audited, counted)  */
#include "cf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cf_db_audit.h"
#include "cf_db_job.h"
#include "cf_itest_pipeline.h"
#include "cf_mem.h"

#define S_AGENTS 60
#define S_BATCH  10

static cf_itest_pipe_t *const s = &cf_itest_pipe;

static int s_setup(void **state)
{
    (void) state;
    return cf_itest_pipe_setup("test_pipeline_waves", 1, S_AGENTS);
}

static cf_db_job_t s_job(const char *id)
{
    cf_db_job_t j;
    assert_int_equal(cf_db_job_get(s->fx->store, id, &j), CF_OK);
    return j;
}

/* Watches a job with a batch until it closes: the most entries ever seen in flight. */
typedef struct {
    const char *id; /* the job */
    int64_t batch;  /* its batch */
    int64_t most;   /* most entries seen in flight */
    long samples;   /* looks taken */
} s_watch_t;

static int s_batch_done(void *arg)
{
    s_watch_t *w = arg;
    cf_db_job_t j = s_job(w->id);
    int64_t flight = j.n[CF_JOB_PENDING] + j.n[CF_JOB_DELIVERED];
    w->most = flight > w->most ? flight : w->most;
    w->samples++;
    return j.done > 0;
}

/* The controller's metric summed over both servers (-1: not found). */
static long s_metric(const char *name)
{
    long sum = 0;
    const cf_itest_server_t *srv[] = {&s->fx->a, &s->fx->b};
    for (size_t i = 0; i < 2; i++) {
        char out[CF_ITEST_FLEET_BODY], line[128];
        assert_int_equal(cf_itest_fleet_get(srv[i], "/metrics", out), 200);
        snprintf(line, sizeof(line), "\n%s{", name); /* name{alias="..."} N */
        const char *at = strstr(out, line);
        at = at ? strstr(at, "} ") : NULL;
        if (!at)
            return -1;
        sum += strtol(at + 2, NULL, 10);
    }
    return sum;
}

/* A batch of 10 over 60 agents: the job completes, every agent installed, never more than
   10 entries pending or delivered at once; the API shows the rollout and the queued count. */
static void test_batch_rollout(void **state)
{
    (void) state;
    char id[33], out[CF_ITEST_FLEET_BODY], path[128];
    long released0 = s_metric("cf_server_wave_released_total");
    assert_true(released0 >= 0);
    long total = cf_itest_pipe_job(
        &s->fx->a, "{\"type\":\"install_cert\",\"all\":true,\"ttl\":3600,\"batch\":10}", id);
    assert_int_equal(total, S_AGENTS);
    snprintf(path, sizeof(path), "/api/v1/jobs/%s", id);
    assert_int_equal(cf_itest_fleet_get(&s->fx->b, path, out), 200);
    assert_int_equal(cf_itest_fleet_ji(out, "rollout/batch"), S_BATCH);
    cf_itest_fleet_is(out, "rollout/rate", "null");
    cf_itest_fleet_is(out, "rollout/max_failures", "null");
    cf_itest_fleet_is(out, "rollout/paused", "false");
    cf_itest_fleet_is(out, "rollout/aborted", "null");
    assert_true(cf_itest_fleet_has(out, "counts/queued"));
    s_watch_t w = {id, S_BATCH, 0, 0};
    if (!cf_test_wait_until(s_batch_done, &w, CF_ITEST_PIPE_WAIT))
        fail_msg("the job did not complete; see %s", s->fx->a.log);
    assert_true(w.most <= S_BATCH);
    assert_int_not_equal(cf_itest_pipe_check_counts(&s->fx->b, id, S_AGENTS), 0);
    cf_db_job_t j = s_job(id);
    assert_int_equal(j.n[CF_JOB_INSTALLED], S_AGENTS);
    /* every entry was released by a controller (one server or the other) */
    assert_int_equal(s_metric("cf_server_wave_released_total") - released0, S_AGENTS);
    print_message("job %s: %ld looks, at most %lld in flight\n", id, w.samples, (long long) w.most);
}

/* A job's wave_at as the controller's steps move it: done after three distinct values
   (the controller looked at the job at least twice since the first look). */
typedef struct {
    const char *id; /* the job */
    char key[CF_DB_KEY_MAX];
    long long seen[2]; /* wave_at values seen */
    int n;             /* distinct values seen */
} s_steps_t;

static int s_stepped(void *arg)
{
    s_steps_t *st = arg;
    redisReply *r = NULL;
    if (cf_store_cmd(s->fx->store, &r, "HGET %s wave_at", st->key) != CF_OK)
        return 0;
    long long v = r->type == REDIS_REPLY_STRING ? atoll(r->str) : 0;
    cf_store_reply_free(&r);
    if (st->n == 0 || v != st->seen[(st->n - 1) % 2])
        st->seen[st->n++ % 2] = v;
    return st->n >= 3;
}

/* A job and a count its queued entries must fall below. */
typedef struct {
    const char *id; /* the job */
    int64_t below;  /* the bound */
} s_below_t;

static int s_queued_below(void *arg)
{
    const s_below_t *b = arg;
    return s_job(b->id).n[CF_JOB_QUEUED] < b->below;
}

/* A rate of 5 per second, paused: the controller keeps looking, nothing is released;
   resumed: releases go on. Pause of a job without waves: 409. Bad settings: 400. */
static void test_pause_resume(void **state)
{
    (void) state;
    char id[33], plain[33], out[CF_ITEST_FLEET_BODY], path[128];
    assert_int_equal(S_AGENTS, cf_itest_pipe_job(&s->fx->a,
                                                 "{\"type\":\"install_cert\",\"all\":true,"
                                                 "\"ttl\":3600,\"rate\":5}",
                                                 id));
    snprintf(path, sizeof(path), "/api/v1/jobs/%s/pause", id);
    assert_int_equal(cf_itest_fleet_admin(&s->fx->b, "POST", path, NULL, out), 200);
    cf_itest_fleet_is(out, "rollout/paused", "true");
    assert_int_equal(cf_itest_fleet_ji(out, "rollout/rate"), 5);
    int64_t queued = s_job(id).n[CF_JOB_QUEUED];
    assert_true(queued > 0);
    s_steps_t st = {.id = id};
    assert_int_equal(cf_db_key_job(st.key, id, CF_DB_KS_TAG), CF_OK);
    assert_true(cf_test_wait_until(s_stepped, &st, CF_ITEST_PIPE_WAIT));
    assert_int_equal(s_job(id).n[CF_JOB_QUEUED], queued); /* looked at, nothing released */
    snprintf(path, sizeof(path), "/api/v1/jobs/%s/resume", id);
    assert_int_equal(cf_itest_fleet_admin(&s->fx->a, "POST", path, NULL, out), 200);
    cf_itest_fleet_is(out, "rollout/paused", "false");
    s_below_t b = {id, queued};
    assert_true(cf_test_wait_until(s_queued_below, &b, CF_ITEST_PIPE_WAIT));
    snprintf(path, sizeof(path), "/api/v1/jobs/%s/cancel", id);
    assert_int_equal(cf_itest_fleet_admin(&s->fx->a, "POST", path, NULL, out), 200);
    assert_int_equal(cf_itest_fleet_ji(out, "counts/queued"), 0);
    /* refusals */
    assert_int_equal(S_AGENTS, cf_itest_pipe_job(&s->fx->a,
                                                 "{\"type\":\"recheck\",\"all\":true,"
                                                 "\"ttl\":3600}",
                                                 plain));
    snprintf(path, sizeof(path), "/api/v1/jobs/%s/pause", plain);
    assert_int_equal(cf_itest_fleet_admin(&s->fx->a, "POST", path, NULL, out), 409);
    static const char *const bad[] = {
        "{\"type\":\"recheck\",\"all\":true,\"batch\":0}",
        "{\"type\":\"recheck\",\"all\":true,\"rate\":100001}",
        "{\"type\":\"recheck\",\"all\":true,\"max_failures\":101}",
        "{\"type\":\"recheck\",\"all\":true,\"max_failures\":\"5\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(cf_itest_fleet_admin(&s->fx->a, "POST", "/api/v1/jobs", bad[i], out), 400);
    assert_int_equal(cf_itest_fleet_call(&s->fx->a, 0, NULL, 0, "POST",
                                         "/api/v1/jobs/00000000000000000000000000000001/pause",
                                         NULL, NULL, out),
                     401);
    assert_true(cf_itest_pipe_wait_done(plain, CF_ITEST_PIPE_WAIT));
}

static int s_aborted(void *arg)
{
    cf_db_job_t j = s_job(arg);
    return j.aborted[0] && j.n[CF_JOB_QUEUED] + j.n[CF_JOB_PENDING] == 0;
}

/* Half the agents fail: with --max-failures 20 and a batch of 5 the job is aborted after
   the sample, its queued and pending entries cancelled, the abort audited and counted. */
static void test_max_failures_abort(void **state)
{
    (void) state;
    char id[33], out[CF_ITEST_FLEET_BODY], path[128];
    cf_fleet_fault_t fault = {.fail_pct = 50};
    snprintf(fault.fail_reason, sizeof(fault.fail_reason), "disk full");
    assert_int_equal(cf_fleet_set_fault(s->fleet, &fault), CF_OK);
    long aborted0 = s_metric("cf_server_jobs_aborted_total");
    assert_int_equal(S_AGENTS, cf_itest_pipe_job(&s->fx->a,
                                                 "{\"type\":\"install_cert\",\"all\":true,"
                                                 "\"ttl\":3600,\"batch\":5,\"max_failures\":20}",
                                                 id));
    if (!cf_test_wait_until(s_aborted, id, CF_ITEST_PIPE_WAIT))
        fail_msg("job %s not aborted; see %s", id, s->fx->a.log);
    cf_db_job_t j = s_job(id);
    assert_true(j.n[CF_JOB_FAILED] * 100 > 20 * (j.n[CF_JOB_FAILED] + j.n[CF_JOB_INSTALLED]));
    assert_true(j.n[CF_JOB_FAILED] + j.n[CF_JOB_INSTALLED] >= 10);
    assert_true(j.n[CF_JOB_CANCELLED] > 0);
    assert_non_null(strstr(j.aborted, "finished exceed 20%"));
    assert_true(cf_itest_pipe_wait_done(id, CF_ITEST_PIPE_WAIT)); /* delivered ones finish */
    assert_int_not_equal(cf_itest_pipe_check_counts(&s->fx->a, id, S_AGENTS), 0);
    snprintf(path, sizeof(path), "/api/v1/jobs/%s", id);
    assert_int_equal(cf_itest_fleet_get(&s->fx->b, path, out), 200);
    assert_int_equal(cf_itest_fleet_ji(out, "rollout/max_failures"), 20);
    json_t *job = cf_itest_fleet_json(out);
    const char *why =
        json_string_value(json_object_get(json_object_get(job, "rollout"), "aborted"));
    assert_non_null(why);
    assert_string_equal(why, j.aborted);
    json_decref(job);
    assert_int_equal(s_metric("cf_server_jobs_aborted_total") - aborted0, 1);
    cf_db_audit_t *ev = NULL;
    size_t n = 0, found = 0;
    assert_int_equal(cf_db_audit_read(s->fx->store, 0, NULL, CF_DB_AUDIT_READ_MAX, &ev, &n), CF_OK);
    for (size_t i = 0; i < n; i++)
        found += strcmp(ev[i].what, "job.abort") == 0 && strncmp(ev[i].target, id, 32) == 0 &&
                 strcmp(ev[i].who, "system") == 0;
    cf_mem_free(ev);
    assert_int_equal(found, 1);
    fault.fail_pct = 0;
    assert_int_equal(cf_fleet_set_fault(s->fleet, &fault), CF_OK);
    print_message("job %s aborted: %s\n", id, j.aborted);
}

/* The lease holder's alias ("" when nobody holds cf:lease:wave) into alias (64 bytes). */
static void s_holder(char *alias)
{
    redisReply *r = NULL;
    alias[0] = '\0';
    assert_int_equal(cf_store_cmd(s->fx->store, &r, "GET cf:lease:wave"), CF_OK);
    if (r->type == REDIS_REPLY_STRING) /* "<alias>/<pid>/<random>" */
        snprintf(alias, 64, "%.*s", (int) strcspn(r->str, "/"), r->str);
    cf_store_reply_free(&r);
}

static int s_done_all(void *arg)
{
    cf_db_job_t j = s_job(arg);
    return j.done > 0;
}

/* The server releasing a rate of 10 per second is killed (-9) halfway: the other takes
   the lease over and the job completes, never faster than its rate (no burst). */
static void test_lease_handover(void **state)
{
    (void) state;
    char id[33], holder[64], path[128], out[CF_ITEST_FLEET_BODY];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(S_AGENTS, cf_itest_pipe_job(&s->fx->a,
                                                 "{\"type\":\"install_cert\",\"all\":true,"
                                                 "\"ttl\":3600,\"rate\":10}",
                                                 id));
    s_below_t b = {id, S_AGENTS - 20};
    assert_true(cf_test_wait_until(s_queued_below, &b, CF_ITEST_PIPE_WAIT)); /* a third out */
    s_holder(holder);
    cf_itest_server_t *victim = strcmp(holder, s->fx->a.alias) == 0 ? &s->fx->a : &s->fx->b;
    cf_itest_server_t *other = victim == &s->fx->a ? &s->fx->b : &s->fx->a;
    assert_string_equal(holder, victim->alias);
    cf_itest_server_stop(victim, SIGKILL);
    if (!cf_test_wait_until(s_done_all, id, CF_ITEST_PIPE_WAIT))
        fail_msg("job %s did not complete after the kill; see %s", id, other->log);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double took = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(took >= (S_AGENTS - 10) / 10.0); /* 60 at 10 per second: not in a burst */
    s_holder(holder);
    assert_string_equal(holder, other->alias);
    snprintf(path, sizeof(path), "/api/v1/jobs/%s", id);
    assert_int_equal(cf_itest_fleet_get(other, path, out), 200);
    assert_int_equal(cf_itest_fleet_ji(out, "counts/installed"), S_AGENTS);
    cf_itest_pipe_server_restart(victim);
    print_message("job %s: %.1f s at 10 per second, the lease moved to %s\n", id, took, holder);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_rollout),
        cmocka_unit_test(test_pause_resume),
        cmocka_unit_test(test_max_failures_abort),
        cmocka_unit_test(test_lease_handover),
    };
    return cmocka_run_group_tests(tests, s_setup, cf_itest_pipe_teardown);
}
