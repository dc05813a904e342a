/*  test_msg - the broker wire codec: round trips, strictness, caps, versions, allocation  */
#include "cf_test.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_mem.h"
#include "cf_msg.h"

#include "cf_test_msg.h"

/* How an agent reports, and how a server reads it back from the frames. */
static void test_usage(void **state)
{
    (void) state;
    cf_msg_t report;
    cf_msg_init(&report, CF_MSG_REPORT);
    strcpy(report.agent, "pc-0042.lab");
    strcpy(report.job_id, JOB_ID);
    report.outcome = CF_MSG_FAILED;
    strcpy(report.text, "disk full");
    cf_msg_frames_t frames;
    cf_why_t why = {""};
    assert_int_equal(cf_msg_encode(&report, &frames, &why), CF_OK);
    assert_int_equal(frames.n, CF_MSG_FRAMES); /* hand these to zmq_msg_send, in order */

    cf_msg_frame_t got[CF_MSG_FRAMES]; /* what zmq_msg_recv gave, routing id stripped */
    size_t n = cf_msg_frames_view(&frames, got);
    cf_msg_t in;
    assert_int_equal(cf_msg_decode(got, n, &in, &why), CF_OK);
    assert_int_equal(in.type, CF_MSG_REPORT);
    assert_string_equal(in.agent, "pc-0042.lab");
    assert_string_equal(in.job_id, JOB_ID);
    assert_int_equal(in.outcome, CF_MSG_FAILED);
    assert_string_equal(in.text, "disk full");
    cf_msg_clear(&in);
    cf_msg_frames_clear(&frames);
    cf_msg_clear(&report);
}

static void s_assert_same(const cf_msg_t *a, const cf_msg_t *b)
{
    assert_int_equal(a->type, b->type);
    cf_msg_frames_t fa, fb;
    s_encode(a, &fa);
    s_encode(b, &fb);
    for (size_t i = 0; i < CF_MSG_FRAMES; i++) {
        assert_int_equal(fa.len[i], fb.len[i]);
        assert_memory_equal(fa.data[i], fb.data[i], fa.len[i]);
    }
    cf_msg_frames_clear(&fa);
    cf_msg_frames_clear(&fb);
}

static void test_round_trip_every_type(void **state)
{
    (void) state;
    int seen[CF_MSG_TYPE_COUNT_] = {0};
    for (int i = 0; i < N_SAMPLES; i++) {
        cf_msg_t m, back;
        cf_msg_frames_t f;
        cf_why_t why = {""};
        s_sample(i, &m);
        s_encode(&m, &f);
        assert_int_equal(f.len[0], CF_MSG_HEADER_LEN);
        assert_int_equal(f.data[0][2], CF_MSG_VERSION);
        assert_int_equal(f.data[0][3], m.type);
        cf_err_t rc = s_decode(f.data[0], f.len[0], f.data[1], f.len[1], 2, &back, &why);
        if (rc != CF_OK)
            fail_msg("sample %d: %s", i, cf_why_text(&why, rc));
        assert_string_equal(back.agent, m.type == CF_MSG_BROADCAST ? "" : m.agent);
        assert_string_equal(back.job_id, m.type == CF_MSG_HELLO ? "" : m.job_id);
        assert_string_equal(back.text, m.text);
        assert_string_equal(back.fpr, m.fpr);
        assert_int_equal(back.proto, m.proto);
        assert_int_equal(back.outcome, m.outcome);
        assert_int_equal(back.ack_of, m.ack_of);
        assert_int_equal(back.error, m.error);
        assert_int_equal(back.all, m.all);
        assert_int_equal(back.job_len, m.job_len);
        if (m.job_len)
            assert_memory_equal(back.job, m.job, m.job_len);
        assert_int_equal(back.n_targets, m.n_targets);
        for (size_t t = 0; t < m.n_targets; t++)
            assert_string_equal(back.targets[t], m.targets[t]);
        s_assert_same(&m, &back);
        seen[m.type] = 1;
        cf_msg_clear(&back);
        cf_msg_clear(&m);
        cf_msg_frames_clear(&f);
    }
    for (int t = CF_MSG_HELLO; t < CF_MSG_TYPE_COUNT_; t++)
        assert_true(seen[t]);
}

/* Cutting any frame short, dropping a frame or adding one never decodes. */
static void test_every_truncation_refused(void **state)
{
    (void) state;
    for (int i = 0; i < N_SAMPLES; i++) {
        cf_msg_t m, out;
        cf_msg_frames_t f;
        cf_why_t why = {""};
        s_sample(i, &m);
        s_encode(&m, &f);
        for (size_t cut = 0; cut < f.len[1]; cut++) {
            assert_int_equal(s_decode(f.data[0], 4, f.data[1], cut, 2, &out, &why), CF_ERR_CORRUPT);
            assert_int_equal(out.type, 0); /* nothing left behind */
            assert_null(out.job);
        }
        for (size_t cut = 0; cut < f.len[0]; cut++)
            assert_int_equal(s_decode(f.data[0], cut, f.data[1], f.len[1], 2, &out, &why),
                             CF_ERR_CORRUPT);
        assert_int_equal(s_decode(f.data[0], 4, f.data[1], f.len[1], 1, &out, &why),
                         CF_ERR_CORRUPT);
        assert_int_equal(s_decode(f.data[0], 4, f.data[1], f.len[1], 3, &out, &why),
                         CF_ERR_CORRUPT);
        assert_non_null(strstr(why.text, "frames"));
        assert_int_equal(s_decode(f.data[0], 4, f.data[1], f.len[1], 0, &out, &why),
                         CF_ERR_CORRUPT);
        cf_msg_clear(&m);
        cf_msg_frames_clear(&f);
    }
}

/* Flip bits in every byte of both frames. The decoder is strict, so a flipped message
   either fails or is another valid message whose encoding is exactly the flipped bytes
   (never a lenient reading of damage). Other valid messages arise only where the format
   leaves room: raw job id and fingerprint bytes, the opaque job bytes (the agent's
   signature check guards them), text and agent id characters that stay inside their
   alphabet, the proto byte, and a type byte that turns RECEIPT into CHECKIN and back
   (both carry agent + job id). A length byte, the magic and the version never pass. */
static void test_every_byte_flip(void **state)
{
    (void) state;
    static const unsigned char masks[] = {0x01, 0x20, 0x80, 0xff};
    long accepted = 0, refused = 0;
    for (int i = 0; i < N_SAMPLES; i++) {
        cf_msg_t m, out;
        cf_msg_frames_t f;
        cf_why_t why = {""};
        s_sample(i, &m);
        s_encode(&m, &f);
        for (size_t fr = 0; fr < 2; fr++)
            for (size_t pos = 0; pos < f.len[fr]; pos++)
                for (size_t k = 0; k < sizeof(masks); k++) {
                    f.data[fr][pos] ^= masks[k];
                    cf_err_t rc = s_decode(f.data[0], f.len[0], f.data[1], f.len[1], 2, &out, &why);
                    if (rc == CF_OK) {
                        cf_msg_frames_t again;
                        s_encode(&out, &again); /* the same bytes, or the codec is lenient */
                        assert_memory_equal(again.data[0], f.data[0], 4);
                        assert_int_equal(again.len[1], f.len[1]);
                        assert_memory_equal(again.data[1], f.data[1], f.len[1]);
                        cf_msg_frames_clear(&again);
                        assert_true(fr == 1 || pos == 3); /* header: only the type byte */
                        accepted++;
                    } else {
                        assert_true(rc == CF_ERR_CORRUPT || (fr == 0 && pos == 2));
                        assert_true(why.text[0] != '\0');
                        refused++;
                    }
                    cf_msg_clear(&out);
                    f.data[fr][pos] ^= masks[k];
                }
        cf_msg_clear(&m);
        cf_msg_frames_clear(&f);
    }
    assert_true(accepted > 0);
    assert_true(refused > accepted / 4);
}

static void test_version_and_header(void **state)
{
    (void) state;
    cf_msg_t m, out;
    cf_msg_frames_t f;
    cf_why_t why = {""};
    s_sample(3, &m);
    s_encode(&m, &f);
    static const unsigned char versions[] = {0, 2, 0xff};
    for (size_t i = 0; i < sizeof(versions); i++) {
        unsigned char h[8] = {'C', 'F', versions[i], CF_MSG_RECEIPT, 9, 9, 9, 9};
        why.text[0] = '\0';
        /* a later version may change the header length and the frame count: still UNSUPPORTED */
        assert_int_equal(s_decode(h, 4, f.data[1], f.len[1], 2, &out, &why), CF_ERR_UNSUPPORTED);
        assert_non_null(strstr(why.text, "wire version"));
        assert_int_equal(s_decode(h, 8, f.data[1], f.len[1], 3, &out, &why), CF_ERR_UNSUPPORTED);
        assert_int_equal(s_decode(h, 3, f.data[1], f.len[1], 1, &out, &why), CF_ERR_UNSUPPORTED);
    }
    static const unsigned char bad_types[] = {0, CF_MSG_TYPE_COUNT_, 0x80, 0xff};
    for (size_t i = 0; i < sizeof(bad_types); i++) {
        unsigned char h[4] = {'C', 'F', CF_MSG_VERSION, bad_types[i]};
        assert_int_equal(s_decode(h, 4, f.data[1], f.len[1], 2, &out, &why), CF_ERR_CORRUPT);
        assert_non_null(strstr(why.text, "unknown message type"));
    }
    const unsigned char zmtp[4] = {0xff, 0, 0, 0}, longer[5] = {'C', 'F', 1, 3, 0};
    assert_int_equal(s_decode(zmtp, 4, f.data[1], f.len[1], 2, &out, &why), CF_ERR_CORRUPT);
    assert_non_null(strstr(why.text, "not a certfleet message"));
    assert_int_equal(s_decode(longer, 5, f.data[1], f.len[1], 2, &out, &why), CF_ERR_CORRUPT);
    cf_msg_frame_t nul[2] = {{NULL, 4}, {f.data[1], f.len[1]}};
    assert_int_equal(cf_msg_decode(nul, 2, &out, &why), CF_ERR_INVALID);
    assert_int_equal(cf_msg_decode(NULL, 2, &out, &why), CF_ERR_INVALID);
    assert_int_equal(cf_msg_decode(NULL, 0, &out, &why), CF_ERR_CORRUPT);
    cf_msg_clear(&m);
    cf_msg_frames_clear(&f);
}

/* Every allocation the codec makes may fail; each failure unwinds with nothing leaked. */
static void test_allocation_failures(void **state)
{
    (void) state;
    for (int i = 0; i < N_SAMPLES; i++) {
        cf_msg_t m;
        cf_msg_frames_t f;
        s_sample(i, &m);
        s_encode(&m, &f);
        for (long n = 0;; n++) {
            cf_msg_t out;
            cf_msg_frames_t again;
            cf_test_alloc_fail_at(n);
            cf_msg_frame_t view[CF_MSG_FRAMES];
            cf_err_t rc = cf_msg_decode(view, cf_msg_frames_view(&f, view), &out, NULL);
            cf_err_t rc2 = rc == CF_OK ? cf_msg_encode(&out, &again, NULL) : CF_ERR_NOMEM;
            long failed = cf_test_alloc_failed();
            cf_test_alloc_fail_at(-1);
            if (failed == 0) {
                assert_int_equal(rc, CF_OK);
                assert_int_equal(rc2, CF_OK);
                cf_msg_frames_clear(&again);
                cf_msg_clear(&out);
                break;
            }
            assert_true(rc == CF_ERR_NOMEM || rc2 == CF_ERR_NOMEM);
            if (rc == CF_OK)
                assert_int_equal(again.n, 0);
            else
                assert_int_equal(out.type, 0);
            cf_msg_clear(&out);
        }
        cf_msg_frames_clear(&f);
        cf_msg_clear(&m);
    }
    cf_msg_t m;
    cf_msg_init(&m, CF_MSG_BROADCAST);
    assert_int_equal(cf_msg_add_target(&m, "a"), CF_OK);
    cf_test_alloc_fail_at(0);
    assert_int_equal(cf_msg_add_target(&m, "b"), CF_ERR_NOMEM);
    assert_int_equal(cf_msg_set_job(&m, "x", 1), CF_OK); /* only the one failed */
    cf_test_alloc_fail_at(0);
    assert_int_equal(cf_msg_set_job(&m, "yy", 2), CF_ERR_NOMEM);
    cf_test_alloc_fail_at(-1);
    assert_int_equal(m.n_targets, 1);
    assert_int_equal(m.job_len, 1);
    cf_msg_clear(&m);
}

/* The fuzz seeds (tests/fuzz/corpus/msg, in fuzz_msg's input form: a frame count byte, the
   header frame behind a two-byte length, then the body) are valid messages, so the fuzzer
   starts from every type. CF_WRITE_MSG_SEEDS=1 rewrites them from the samples above. */
static void test_fuzz_seeds(void **state)
{
    (void) state;
    char dir[1024], path[1300];
    cf_test_src_path("fuzz/corpus/msg", dir, sizeof(dir));
    for (int i = 0; getenv("CF_WRITE_MSG_SEEDS") && i < N_SAMPLES; i++) {
        cf_msg_t m;
        cf_msg_frames_t f;
        s_sample(i, &m);
        s_encode(&m, &f);
        unsigned char buf[512] = {2, 0, CF_MSG_HEADER_LEN};
        memcpy(buf + 3, f.data[0], f.len[0]);
        memcpy(buf + 3 + f.len[0], f.data[1], f.len[1]);
        snprintf(path, sizeof(path), "%s/%02d-%s", dir, i, cf_msg_type_name(m.type));
        cf_test_write_file(path, buf, 3 + f.len[0] + f.len[1]);
        cf_msg_frames_clear(&f);
        cf_msg_clear(&m);
    }
    DIR *d = opendir(dir);
    assert_non_null(d);
    int seeds = 0;
    for (struct dirent *e = readdir(d); e; e = readdir(d)) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        size_t len = 0;
        unsigned char *seed = (unsigned char *) cf_test_read_file(path, &len);
        assert_true(len > 3 + CF_MSG_HEADER_LEN && seed[0] == 2 && seed[2] == CF_MSG_HEADER_LEN);
        cf_msg_t out;
        cf_why_t why = {""};
        cf_err_t rc = s_decode(seed + 3, CF_MSG_HEADER_LEN, seed + 3 + CF_MSG_HEADER_LEN,
                               len - 3 - CF_MSG_HEADER_LEN, 2, &out, &why);
        if (rc != CF_OK)
            fail_msg("seed %s: %s", e->d_name, cf_why_text(&why, rc));
        cf_msg_clear(&out);
        free(seed);
        seeds++;
    }
    closedir(d);
    assert_int_equal(seeds, N_SAMPLES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_round_trip_every_type),
        cmocka_unit_test(test_every_truncation_refused),
        cmocka_unit_test(test_every_byte_flip),
        cmocka_unit_test(test_version_and_header),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_fuzz_seeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
