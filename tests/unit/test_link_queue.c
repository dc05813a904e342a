/*  test_link_queue - the job-id queue between HTTPS workers and the link thread: order, the
    cap, bad ids, the eventfd wake-up, threads, cf_link_send_job on no link  */
#include "cf_test.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cf_link.h"
#include "cf_link_queue.h"

#define S_ID_A "0123456789abcdef0123456789abcdef"
#define S_ID_B "fedcba9876543210fedcba9876543210"

static int s_readable(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void test_usage(void **state)
{
    (void) state;
    cf_link_queue_t q;
    assert_int_equal(cf_link_queue_init(&q, 8), CF_OK);
    char out[CF_JOB_ID_HEX + 1];
    assert_false(s_readable(cf_link_queue_fd(&q)));
    assert_int_equal(cf_link_queue_pending(&q), 0);
    assert_int_equal(cf_link_queue_push(&q, S_ID_A), CF_OK);
    assert_int_equal(cf_link_queue_push(&q, S_ID_B), CF_OK);
    assert_int_equal(cf_link_queue_pending(&q), 1);
    assert_true(s_readable(cf_link_queue_fd(&q)));
    /* first in, first out */
    assert_int_equal(cf_link_queue_pop(&q, out), 1);
    assert_string_equal(out, S_ID_A);
    assert_int_equal(cf_link_queue_pop(&q, out), 1);
    assert_string_equal(out, S_ID_B);
    assert_int_equal(cf_link_queue_pending(&q), 0);
    /* the empty pop drains the wake-up, so a poll waits again */
    assert_int_equal(cf_link_queue_pop(&q, out), 0);
    assert_false(s_readable(cf_link_queue_fd(&q)));
    cf_link_queue_fini(&q);
    cf_link_queue_fini(&q); /* safe to repeat */
    /* no broker configured: sending is a no-op that succeeds */
    assert_int_equal(cf_link_send_job(NULL, S_ID_A), CF_OK);
    assert_string_equal(cf_link_public_z85(NULL), "");
}

static void test_full_and_ring(void **state)
{
    (void) state;
    cf_link_queue_t q;
    assert_int_equal(cf_link_queue_init(&q, 3), CF_OK);
    char id[CF_JOB_ID_HEX + 1], out[CF_JOB_ID_HEX + 1], want[CF_JOB_ID_HEX + 1];
    int next_out = 1;
    /* keep the ring full while going round it several times: order holds, the cap holds */
    for (int i = 1; i <= 20; i++) {
        snprintf(id, sizeof(id), "%032x", i);
        assert_int_equal(cf_link_queue_push(&q, id), CF_OK);
        if (i < 3)
            continue;
        assert_int_equal(cf_link_queue_push(&q, S_ID_A), CF_ERR_TOOBIG);
        assert_int_equal(cf_link_queue_pop(&q, out), 1);
        snprintf(want, sizeof(want), "%032x", next_out++);
        assert_string_equal(out, want);
    }
    for (; next_out <= 20; next_out++) {
        assert_int_equal(cf_link_queue_pop(&q, out), 1);
        snprintf(want, sizeof(want), "%032x", next_out);
        assert_string_equal(out, want);
    }
    assert_int_equal(cf_link_queue_pop(&q, out), 0);
    cf_link_queue_fini(&q);
}

static void test_bad_input(void **state)
{
    (void) state;
    cf_link_queue_t q;
    assert_int_equal(cf_link_queue_init(&q, 0), CF_ERR_INVALID);
    cf_link_queue_fini(&q);
    assert_int_equal(cf_link_queue_init(&q, 65537), CF_ERR_INVALID);
    cf_link_queue_fini(&q);
    assert_int_equal(cf_link_queue_init(NULL, 4), CF_ERR_INVALID);
    assert_int_equal(cf_link_queue_init(&q, 4), CF_OK);
    const char *bad[] = {"",
                         "0123456789abcdef0123456789abcde",
                         S_ID_A "0",
                         "0123456789ABCDEF0123456789abcdef",
                         "00000000000000000000000000000000",
                         "0123456789abcdef0123456789abcdeg"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(cf_link_queue_push(&q, bad[i]), CF_ERR_INVALID);
    assert_int_equal(cf_link_queue_push(&q, NULL), CF_ERR_INVALID);
    char out[CF_JOB_ID_HEX + 1];
    assert_int_equal(cf_link_queue_pop(&q, out), 0);
    cf_link_queue_fini(&q);
}

static void test_alloc_failure(void **state)
{
    (void) state;
    cf_link_queue_t q;
    cf_test_alloc_fail_at(0);
    assert_int_equal(cf_link_queue_init(&q, 4), CF_ERR_NOMEM);
    assert_int_equal(cf_test_alloc_failed(), 1);
    cf_test_alloc_fail_at(-1);
    cf_link_queue_fini(&q);
}

#define S_THREADS 4
#define S_EACH    500

static void *s_pusher(void *arg)
{
    cf_link_queue_t *q = arg;
    char id[CF_JOB_ID_HEX + 1];
    for (int i = 1; i <= S_EACH; i++) {
        snprintf(id, sizeof(id), "%032x", i);
        while (cf_link_queue_push(q, id) == CF_ERR_TOOBIG)
            ;
    }
    return NULL;
}

/* Several pushers, one popper that sleeps in poll: every id arrives, none is lost. */
static void test_threads(void **state)
{
    (void) state;
    cf_link_queue_t q;
    assert_int_equal(cf_link_queue_init(&q, 64), CF_OK);
    pthread_t t[S_THREADS];
    for (int i = 0; i < S_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, s_pusher, &q), 0);
    long sum = 0, got = 0;
    char out[CF_JOB_ID_HEX + 1];
    while (got < S_THREADS * S_EACH) {
        struct pollfd p = {cf_link_queue_fd(&q), POLLIN, 0};
        assert_int_equal(poll(&p, 1, 10000), 1); /* a lost wake-up would hang here */
        while (cf_link_queue_pop(&q, out)) {
            unsigned v = 0;
            assert_int_equal(sscanf(out, "%x", &v), 1);
            sum += v;
            got++;
        }
    }
    for (int i = 0; i < S_THREADS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(sum, (long) S_THREADS * S_EACH * (S_EACH + 1) / 2);
    assert_int_equal(cf_link_queue_pop(&q, out), 0);
    cf_link_queue_fini(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),     cmocka_unit_test(test_full_and_ring),
        cmocka_unit_test(test_bad_input), cmocka_unit_test(test_alloc_failure),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
