/*  test_msg_batch - batches of messages: build, split, caps, strictness, allocation  */
#include "cf_test.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_mem.h"
#include "cf_msg_batch.h"

#define JOB_ID "0123456789abcdef0123456789abcdef"

static void s_receipt(cf_msg_t *m, int i)
{
    cf_msg_init(m, CF_MSG_RECEIPT);
    snprintf(m->agent, sizeof(m->agent), "pc-%04d", i);
    strcpy(m->job_id, JOB_ID);
}

/* How a server sends a page of messages in one, and how a broker splits it. */
static void test_usage(void **state)
{
    (void) state;
    cf_msg_batch_t *batch = NULL;
    assert_int_equal(cf_msg_batch_new(&batch), CF_OK);
    for (int i = 0; i < 3; i++) {
        cf_msg_t m;
        s_receipt(&m, i);
        assert_int_equal(cf_msg_batch_add(batch, &m, NULL), CF_OK);
        cf_msg_clear(&m);
    }
    assert_int_equal(cf_msg_batch_count(batch), 3);
    cf_msg_frame_t wire[CF_MSG_FRAMES]; /* hand these to zmq_send, in order */
    cf_msg_batch_view(batch, wire);
    assert_true(cf_msg_batch_is(wire, 2));

    cf_msg_batch_iter_t it; /* the receiving side */
    cf_why_t why = {""};
    assert_int_equal(cf_msg_batch_iter_init(&it, wire, 2, &why), CF_OK);
    cf_msg_frame_t item[CF_MSG_FRAMES];
    int i = 0;
    while (cf_msg_batch_next(&it, item)) {
        cf_msg_t in;
        assert_int_equal(cf_msg_decode(item, CF_MSG_FRAMES, &in, &why), CF_OK);
        char want[16];
        snprintf(want, sizeof(want), "pc-%04d", i++);
        assert_string_equal(in.agent, want);
        assert_int_equal(in.type, CF_MSG_RECEIPT);
        cf_msg_clear(&in);
    }
    assert_int_equal(i, 3);
    cf_msg_batch_reset(batch); /* ready for the next page */
    assert_int_equal(cf_msg_batch_count(batch), 0);
    cf_msg_batch_destroy(&batch);
    cf_msg_batch_destroy(&batch); /* idempotent */
    assert_null(batch);
}

/* A plain message is not a batch, and a batch is not a message. */
static void test_is(void **state)
{
    (void) state;
    cf_msg_t m;
    s_receipt(&m, 1);
    cf_msg_frames_t fr;
    assert_int_equal(cf_msg_encode(&m, &fr, NULL), CF_OK);
    cf_msg_frame_t v[CF_MSG_FRAMES];
    size_t n = cf_msg_frames_view(&fr, v);
    assert_false(cf_msg_batch_is(v, n));
    cf_msg_batch_iter_t it;
    cf_why_t why = {""};
    assert_int_equal(cf_msg_batch_iter_init(&it, v, n, &why), CF_ERR_CORRUPT);
    assert_false(cf_msg_batch_is(NULL, 0));

    cf_msg_batch_t *b = NULL;
    assert_int_equal(cf_msg_batch_new(&b), CF_OK);
    assert_int_equal(cf_msg_batch_add_frames(b, v, n), CF_OK);
    cf_msg_frame_t bw[CF_MSG_FRAMES];
    cf_msg_batch_view(b, bw);
    cf_msg_t out;
    assert_int_not_equal(cf_msg_decode(bw, 2, &out, &why), CF_OK); /* not a message */
    /* and a batch never goes inside a batch */
    assert_int_equal(cf_msg_batch_add_frames(b, bw, 2), CF_ERR_INVALID);
    assert_int_equal(cf_msg_batch_add_frames(b, v, 1), CF_ERR_INVALID);
    assert_int_equal(cf_msg_batch_count(b), 1);
    cf_msg_batch_destroy(&b);
    cf_msg_frames_clear(&fr);
    cf_msg_clear(&m);
}

/* The item cap and the byte cap answer TOOBIG and leave the batch as it was. */
static void test_caps(void **state)
{
    (void) state;
    cf_msg_batch_t *b = NULL;
    assert_int_equal(cf_msg_batch_new(&b), CF_OK);
    cf_msg_t m;
    s_receipt(&m, 0);
    for (int i = 0; i < CF_MSG_BATCH_MAX_ITEMS; i++)
        assert_int_equal(cf_msg_batch_add(b, &m, NULL), CF_OK);
    assert_int_equal(cf_msg_batch_add(b, &m, NULL), CF_ERR_TOOBIG);
    assert_int_equal(cf_msg_batch_count(b), CF_MSG_BATCH_MAX_ITEMS);
    cf_msg_batch_reset(b);

    /* big JOBs: about seven 64 KiB jobs fill 512 KiB */
    cf_msg_t job;
    cf_msg_init(&job, CF_MSG_JOB);
    strcpy(job.agent, "pc-1");
    strcpy(job.job_id, JOB_ID);
    unsigned char *bytes = cf_mem_calloc(1, CF_MSG_MAX_JOB);
    assert_non_null(bytes);
    memset(bytes, 'x', CF_MSG_MAX_JOB);
    assert_int_equal(cf_msg_set_job(&job, bytes, CF_MSG_MAX_JOB), CF_OK);
    size_t added = 0;
    while (cf_msg_batch_add(b, &job, NULL) == CF_OK)
        added++;
    assert_true(added >= 7 && added < 9);
    cf_msg_frame_t w[CF_MSG_FRAMES];
    cf_msg_batch_view(b, w);
    assert_true(w[1].len <= CF_MSG_BATCH_MAX_WIRE);
    cf_msg_batch_iter_t it;
    assert_int_equal(cf_msg_batch_iter_init(&it, w, 2, NULL), CF_OK);
    assert_int_equal(it.count, added);
    cf_mem_free(bytes);
    cf_msg_clear(&job);
    cf_msg_clear(&m);
    cf_msg_batch_destroy(&b);
}

/* A batch copied into a buffer we may damage. */
static unsigned char *s_wire(size_t *len, int n_items)
{
    cf_msg_batch_t *b = NULL;
    assert_int_equal(cf_msg_batch_new(&b), CF_OK);
    for (int i = 0; i < n_items; i++) {
        cf_msg_t m;
        s_receipt(&m, i);
        assert_int_equal(cf_msg_batch_add(b, &m, NULL), CF_OK);
        cf_msg_clear(&m);
    }
    cf_msg_frame_t w[CF_MSG_FRAMES];
    cf_msg_batch_view(b, w);
    unsigned char *copy = cf_mem_memdup(w[1].data, w[1].len);
    *len = w[1].len;
    cf_msg_batch_destroy(&b);
    return copy;
}

static cf_err_t s_init(const unsigned char *body, size_t len, cf_why_t *why)
{
    static const unsigned char head[4] = {'C', 'F', 1, CF_MSG_BATCH};
    cf_msg_frame_t f[2] = {{head, 4}, {body, len}};
    cf_msg_batch_iter_t it;
    return cf_msg_batch_iter_init(&it, f, 2, why);
}

/* Every structural fault is refused before any item is handed out, with a reason. */
static void test_strict(void **state)
{
    (void) state;
    size_t len = 0;
    unsigned char *w = s_wire(&len, 2);
    cf_why_t why = {""};
    assert_int_equal(s_init(w, len, &why), CF_OK);
    assert_int_equal(s_init(w, len - 1, &why), CF_ERR_CORRUPT); /* cut short */
    assert_non_null(strstr(why.text, "batch item 1"));
    assert_int_equal(s_init(w, 1, &why), CF_ERR_CORRUPT); /* no count */
    w[1] = 3;                                             /* says 3, holds 2 */
    assert_int_equal(s_init(w, len, &why), CF_ERR_CORRUPT);
    w[1] = 1; /* says 1, holds 2: bytes after the last */
    assert_int_equal(s_init(w, len, &why), CF_ERR_CORRUPT);
    assert_non_null(strstr(why.text, "after the last"));
    w[1] = 0; /* none */
    assert_int_equal(s_init(w, len, &why), CF_ERR_CORRUPT);
    w[1] = 2;
    w[2 + 3] = CF_MSG_BATCH; /* a batch inside */
    assert_int_equal(s_init(w, len, &why), CF_ERR_CORRUPT);
    w[2 + 3] = CF_MSG_RECEIPT;
    w[2 + 4] = 0xff; /* an item length past the end */
    assert_int_equal(s_init(w, len, &why), CF_ERR_CORRUPT);
    cf_mem_free(w);

    /* another wire version in the batch header; a wrong frame count */
    static const unsigned char v2[4] = {'C', 'F', 2, CF_MSG_BATCH};
    static const unsigned char body[2] = {0, 1};
    cf_msg_frame_t f[2] = {{v2, 4}, {body, 2}};
    cf_msg_batch_iter_t it;
    assert_int_equal(cf_msg_batch_iter_init(&it, f, 2, &why), CF_ERR_UNSUPPORTED);
    f[0].data = (const unsigned char *) "CF\x01\x09";
    assert_int_equal(cf_msg_batch_iter_init(&it, f, 1, &why), CF_ERR_CORRUPT);
    f[1].len = CF_MSG_BATCH_MAX_WIRE + 1;
    assert_int_equal(cf_msg_batch_iter_init(&it, f, 2, &why), CF_ERR_TOOBIG);
}

/* Every allocation failure is CF_ERR_NOMEM and leaves nothing behind. */
static void test_nomem(void **state)
{
    (void) state;
    for (int k = 0; k < 8; k++) {
        cf_test_alloc_fail_at(k);
        cf_msg_batch_t *b = NULL;
        cf_err_t rc = cf_msg_batch_new(&b);
        if (rc == CF_OK) {
            cf_msg_t m;
            s_receipt(&m, k);
            rc = cf_msg_batch_add(b, &m, NULL);
            assert_true(rc == CF_OK || rc == CF_ERR_NOMEM);
            assert_int_equal(cf_msg_batch_count(b), rc == CF_OK ? 1 : 0);
            cf_msg_clear(&m);
        } else {
            assert_int_equal(rc, CF_ERR_NOMEM);
            assert_null(b);
        }
        cf_test_alloc_fail_at(-1);
        cf_msg_batch_destroy(&b);
    }
}

/* The fuzz seed (tests/fuzz/corpus/msg_batch/three) is a valid batch of valid messages. */
static void test_corpus(void **state)
{
    (void) state;
    char path[512];
    size_t len = 0;
    char *body = cf_test_read_file(
        cf_test_src_path("fuzz/corpus/msg_batch/three", path, sizeof(path)), &len);
    static const unsigned char head[4] = {'C', 'F', 1, CF_MSG_BATCH};
    cf_msg_frame_t f[2] = {{head, 4}, {(const unsigned char *) body, len}};
    cf_msg_batch_iter_t it;
    cf_why_t why = {""};
    assert_int_equal(cf_msg_batch_iter_init(&it, f, 2, &why), CF_OK);
    static const cf_msg_type_t want[3] = {CF_MSG_HELLO, CF_MSG_RECEIPT, CF_MSG_REPORT};
    cf_msg_frame_t item[CF_MSG_FRAMES];
    for (int i = 0; i < 3; i++) {
        assert_true(cf_msg_batch_next(&it, item));
        cf_msg_t m;
        assert_int_equal(cf_msg_decode(item, CF_MSG_FRAMES, &m, &why), CF_OK);
        assert_int_equal(m.type, want[i]);
        cf_msg_clear(&m);
    }
    assert_false(cf_msg_batch_next(&it, item));
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),  cmocka_unit_test(test_is),    cmocka_unit_test(test_caps),
        cmocka_unit_test(test_strict), cmocka_unit_test(test_nomem), cmocka_unit_test(test_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
