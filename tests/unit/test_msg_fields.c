/*  test_msg_fields - the broker wire codec field by field: caps, agent ids, refusals  */
#include "cf_test.h"

#include <stdio.h>
#include <string.h>

#include "cf_mem.h"
#include "cf_msg.h"

#include "cf_test_msg.h"

/* A server builds a BROADCAST to named agents; the broker reads the list back. */
static void test_usage(void **state)
{
    (void) state;
    cf_msg_t bc;
    cf_msg_init(&bc, CF_MSG_BROADCAST);
    assert_int_equal(cf_msg_add_target(&bc, "pc-0001"), CF_OK);
    assert_int_equal(cf_msg_add_target(&bc, "pc-0002"), CF_OK);
    cf_msg_frames_t f;
    cf_why_t why = {""};
    assert_int_equal(cf_msg_encode(&bc, &f, &why), CF_OK);
    cf_msg_frame_t view[CF_MSG_FRAMES];
    cf_msg_t in;
    assert_int_equal(cf_msg_decode(view, cf_msg_frames_view(&f, view), &in, &why), CF_OK);
    assert_int_equal(in.all, 0);
    assert_int_equal(in.n_targets, 2);
    assert_string_equal(in.targets[1], "pc-0002"); /* send each a CHECKIN */
    cf_msg_clear(&in);
    cf_msg_frames_clear(&f);
    cf_msg_clear(&bc);
}

/* Frames with header type t and the given body. */
static cf_err_t s_raw(cf_msg_type_t t, const void *body, size_t len, cf_why_t *why)
{
    const unsigned char h[4] = {'C', 'F', CF_MSG_VERSION, (unsigned char) t};
    cf_msg_t out;
    cf_err_t rc = s_decode(h, 4, body, len, 2, &out, why);
    cf_msg_clear(&out);
    return rc;
}

static void test_caps_job(void **state)
{
    (void) state;
    cf_msg_t m;
    cf_why_t why = {""};
    cf_msg_init(&m, CF_MSG_JOB);
    static unsigned char big[CF_MSG_MAX_WIRE + 1];
    memset(big, 'j', sizeof(big));
    assert_int_equal(cf_msg_set_job(&m, big, CF_MSG_MAX_JOB + 1), CF_ERR_TOOBIG);
    assert_null(m.job);
    assert_int_equal(cf_msg_set_job(&m, big, 0), CF_ERR_INVALID);
    assert_int_equal(cf_msg_set_job(&m, big, CF_MSG_MAX_JOB), CF_OK);
    strcpy(m.agent, "a");
    strcpy(m.job_id, JOB_ID);
    cf_msg_frames_t f; /* the largest job and the longest agent id still fit */
    memset(m.agent, 'a', CF_MSG_AGENT_MAX);
    s_encode(&m, &f);
    assert_true(f.len[0] + f.len[1] <= CF_MSG_MAX_WIRE);
    cf_msg_t out;
    assert_int_equal(s_decode(f.data[0], 4, f.data[1], f.len[1], 2, &out, &why), CF_OK);
    assert_int_equal(out.job_len, CF_MSG_MAX_JOB);
    cf_msg_clear(&out);
    cf_msg_frames_clear(&f);
    m.job_len = CF_MSG_MAX_JOB + 1; /* a caller that bypassed cf_msg_set_job */
    assert_int_equal(cf_msg_encode(&m, &f, &why), CF_ERR_INVALID);
    m.job_len = CF_MSG_MAX_JOB;
    cf_msg_clear(&m);
}

static void test_caps_on_the_wire(void **state)
{
    (void) state;
    cf_msg_t out;
    cf_why_t why = {""};
    static unsigned char big[CF_MSG_MAX_WIRE + 1];
    memset(big, 'j', sizeof(big));
    /* over the wire cap in total, whatever the frames hold */
    const unsigned char h[4] = {'C', 'F', 1, CF_MSG_JOB};
    assert_int_equal(s_decode(h, 4, big, CF_MSG_MAX_WIRE - 3, 2, &out, &why), CF_ERR_TOOBIG);
    assert_int_equal(s_decode(h, 4, big, CF_MSG_MAX_WIRE - 4, 2, &out, &why), CF_ERR_CORRUPT);
    /* a job length over the cap, or over what the body holds: agent "a", job id, length */
    unsigned char body[] = {1,  'a', 1,  2,  3,  4,  5, 6, 7, 8, 9,  10,
                            11, 12,  13, 14, 15, 16, 0, 1, 0, 1, 'x'};
    static const unsigned char lengths[][4] = {
        {0, 1, 0, 1}, {0, 0, 1, 1}, {0, 0, 0, 2}, {0xff, 0xff, 0xff, 0xff}, {0, 0, 0, 0}};
    for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
        memcpy(body + 18, lengths[i], 4);
        assert_int_equal(s_raw(CF_MSG_JOB, body, sizeof(body), &why), CF_ERR_CORRUPT);
    }
    memcpy(body + 18, "\0\0\0\1", 4); /* exactly the one byte left */
    assert_int_equal(s_raw(CF_MSG_JOB, body, sizeof(body), &why), CF_OK);
}

static void test_caps_broadcast(void **state)
{
    (void) state;
    cf_msg_t m, out;
    cf_msg_frames_t f;
    cf_why_t why = {""};
    cf_msg_init(&m, CF_MSG_BROADCAST);
    for (int i = 0; i < CF_MSG_MAX_TARGETS; i++) {
        char id[16];
        snprintf(id, sizeof(id), "agent-%d", i);
        assert_int_equal(cf_msg_add_target(&m, id), CF_OK);
    }
    assert_int_equal(cf_msg_add_target(&m, "one-more"), CF_ERR_TOOBIG);
    s_encode(&m, &f);
    assert_int_equal(s_decode(f.data[0], 4, f.data[1], f.len[1], 2, &out, &why), CF_OK);
    assert_int_equal(out.n_targets, CF_MSG_MAX_TARGETS);
    cf_msg_clear(&out);
    f.data[1][17] = (CF_MSG_MAX_TARGETS + 1) >> 8; /* count after flags and job id */
    f.data[1][18] = (CF_MSG_MAX_TARGETS + 1) & 0xff;
    assert_int_equal(s_decode(f.data[0], 4, f.data[1], f.len[1], 2, &out, &why), CF_ERR_CORRUPT);
    assert_non_null(strstr(why.text, "target count"));
    cf_msg_frames_clear(&f);
    cf_msg_clear(&m);
}

static void test_bad_agent_ids(void **state)
{
    (void) state;
    static const char *bad[] = {"",    "Agent", "-lead", ".x",   "_x",       "a b",
                                "a/b", "ä",     "a\tb",  "pc:1", "agent@lab"};
    cf_why_t why = {""};
    cf_msg_frames_t f;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cf_msg_t m;
        s_sample(3, &m); /* RECEIPT */
        strcpy(m.agent, bad[i]);
        assert_int_equal(cf_msg_encode(&m, &f, &why), CF_ERR_INVALID);
        assert_int_equal(f.n, 0);
        assert_non_null(strstr(why.text, "agent id"));
        assert_int_equal(cf_msg_add_target(&m, bad[i]), CF_ERR_INVALID);
        /* the same id on the wire */
        unsigned char body[1 + 64 + 16] = {0};
        size_t n = strlen(bad[i]);
        body[0] = (unsigned char) n;
        memcpy(body + 1, bad[i], n);
        memset(body + 1 + n, 0x11, 16);
        assert_int_equal(s_raw(CF_MSG_RECEIPT, body, 1 + n + 16, &why), CF_ERR_CORRUPT);
    }
    char longest[CF_MSG_AGENT_MAX + 2];
    memset(longest, 'a', sizeof(longest));
    longest[CF_MSG_AGENT_MAX + 1] = '\0'; /* 64 characters: one too many */
    cf_msg_t m;
    cf_msg_init(&m, CF_MSG_BROADCAST);
    assert_int_equal(cf_msg_add_target(&m, longest), CF_ERR_INVALID);
    longest[CF_MSG_AGENT_MAX] = '\0';
    assert_int_equal(cf_msg_add_target(&m, longest), CF_OK);
    cf_msg_clear(&m);
    unsigned char body[1 + 64 + 16];
    memset(body, 'a', sizeof(body));
    body[0] = 64;
    assert_int_equal(s_raw(CF_MSG_RECEIPT, body, sizeof(body), &why), CF_ERR_CORRUPT);
    body[0] = 3; /* a NUL inside an id */
    memcpy(body + 1, "a\0b", 3);
    assert_int_equal(s_raw(CF_MSG_RECEIPT, body, 1 + 3 + 16, &why), CF_ERR_CORRUPT);
    assert_int_equal(cf_msg_add_target(NULL, "a"), CF_ERR_INVALID);
}

/* Set one field of m: a text field to value, a number field to number. */
static void s_spoil(cf_msg_t *m, const char *field, const char *value, unsigned number)
{
    if (strcmp(field, "proto") == 0)
        m->proto = number;
    else if (strcmp(field, "outcome") == 0)
        m->outcome = (cf_msg_outcome_t) number;
    else if (strcmp(field, "ack_of") == 0)
        m->ack_of = (cf_msg_type_t) number;
    else if (strcmp(field, "all") == 0)
        m->all = (int) number;
    else if (strcmp(field, "error") == 0)
        m->error = (cf_msg_error_t) number;
    else if (strcmp(field, "type") == 0)
        m->type = (cf_msg_type_t) number;
    else if (strcmp(field, "text") == 0)
        strcpy(m->text, value);
    else if (strcmp(field, "job_id") == 0)
        strcpy(m->job_id, value);
    else if (strcmp(field, "fpr") == 0)
        strcpy(m->fpr, value);
    else
        strcpy(m->agent, value);
}

/* The encoder refuses what the decoder would refuse; the reason names the field. */
static void test_encode_refusals(void **state)
{
    (void) state;
    static const struct {
        int sample;
        const char *field;  /* which field to spoil */
        const char *value;  /* its new text, or NULL for a number */
        unsigned number;    /* its new number */
        const char *reason; /* expected in why */
    } cases[] = {
        {0, "proto", NULL, 0, "protocol level"},
        {0, "proto", NULL, 256, "protocol level"},
        {1, "text", "version\n", 0, "printable"},
        {3, "job_id", "", 0, "job id"},
        {3, "job_id", "0123456789ABCDEF0123456789abcdef", 0, "lowercase hex"},
        {3, "job_id", "00000000000000000000000000000000", 0, "all zero"},
        {3, "job_id", "0123", 0, "32 hex"},
        {4, "outcome", NULL, 0, "outcome"},
        {4, "outcome", NULL, 3, "outcome"},
        {4, "text", "installed with a reason", 0, "reason"},
        {4, "fpr", "a1b2", 0, "fingerprint"},
        {5, "text", "", 0, "reason"},
        {6, "ack_of", NULL, CF_MSG_JOB, "ACK"},
        {10, "all", NULL, 2, "reserved"},
        {12, "error", NULL, 0, "ERROR code"},
        {12, "error", NULL, CF_MSG_ERR_COUNT_, "ERROR code"},
        {12, "text", "\x7f", 0, "printable"},
        {12, "agent", "Not-An-Id", 0, "agent id"},
        {2, "type", NULL, 0, "message type"},
        {2, "type", NULL, CF_MSG_TYPE_COUNT_, "message type"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cf_msg_t m;
        cf_msg_frames_t f;
        cf_why_t why = {""};
        s_sample(cases[i].sample, &m);
        s_spoil(&m, cases[i].field, cases[i].value, cases[i].number);
        cf_err_t rc = cf_msg_encode(&m, &f, &why);
        if (rc != CF_ERR_INVALID || !strstr(why.text, cases[i].reason))
            fail_msg("case %zu: %s (%s)", i, cf_err_name(rc), why.text);
        assert_int_equal(f.n, 0);
        cf_msg_clear(&m);
    }
}

static void test_encode_broadcast_rules(void **state)
{
    (void) state;
    cf_msg_t m;
    cf_msg_frames_t f;
    cf_why_t why = {""};
    s_sample(10, &m); /* broadcast to all and to a list at once */
    assert_int_equal(cf_msg_add_target(&m, "a"), CF_OK);
    assert_int_equal(cf_msg_encode(&m, &f, &why), CF_ERR_INVALID);
    m.all = 0;
    assert_int_equal(cf_msg_encode(&m, &f, NULL), CF_OK);
    cf_msg_frames_clear(&f);
    cf_msg_clear(&m);
    s_sample(10, &m);
    m.all = 0; /* neither */
    assert_int_equal(cf_msg_encode(&m, &f, &why), CF_ERR_INVALID);
    assert_int_equal(cf_msg_encode(NULL, &f, &why), CF_ERR_INVALID);
    assert_int_equal(cf_msg_encode(&m, NULL, &why), CF_ERR_INVALID);
    cf_msg_clear(&m);
    cf_msg_clear(&m); /* safe to repeat */
    cf_msg_frames_clear(&f);
    cf_msg_clear(NULL);
    cf_msg_frames_clear(NULL);
    /* a job for each listed agent: with a list and a job id, never to all */
    s_sample(13, &m);
    assert_int_equal(cf_msg_encode(&m, &f, NULL), CF_OK);
    cf_msg_frames_clear(&f);
    m.all = 1;
    assert_int_equal(cf_msg_encode(&m, &f, &why), CF_ERR_INVALID);
    m.all = 0;
    m.job_id[0] = '\0';
    assert_int_equal(cf_msg_encode(&m, &f, &why), CF_ERR_INVALID);
    assert_non_null(strstr(why.text, "job"));
    cf_msg_clear(&m);
    assert_string_equal(cf_msg_type_name(CF_MSG_TYPE_COUNT_), "UNKNOWN");
    assert_string_equal(cf_msg_type_name(CF_MSG_CHECKIN), "CHECKIN");
    assert_string_equal(cf_msg_error_name(CF_MSG_ERR_DENIED), "denied");
    assert_string_equal(cf_msg_error_name(0), "unknown");
}

/* Fields the decoder must refuse even though every length fits. */
static void test_decode_refusals(void **state)
{
    (void) state;
    cf_why_t why = {""};
    unsigned char ack[1 + 1 + 16 + 1] = {
        1, 'a', 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, CF_MSG_RECEIPT};
    assert_int_equal(s_raw(CF_MSG_ACK, ack, sizeof(ack), &why), CF_OK);
    ack[18] = CF_MSG_JOB;
    assert_int_equal(s_raw(CF_MSG_ACK, ack, sizeof(ack), &why), CF_ERR_CORRUPT);
    memset(ack + 2, 0, 16); /* a required job id that is all zero */
    ack[18] = CF_MSG_REPORT;
    assert_int_equal(s_raw(CF_MSG_ACK, ack, sizeof(ack), &why), CF_ERR_CORRUPT);
    assert_non_null(strstr(why.text, "job id"));
    /* REPORT: fingerprint length other than 0 or 32 */
    unsigned char rep[1 + 1 + 16 + 1 + 1 + 1] = {
        1, 'a', 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, CF_MSG_INSTALLED, 0, 0};
    assert_int_equal(s_raw(CF_MSG_REPORT, rep, sizeof(rep), &why), CF_OK);
    rep[19] = 1;
    assert_int_equal(s_raw(CF_MSG_REPORT, rep, sizeof(rep), &why), CF_ERR_CORRUPT);
    /* trailing bytes */
    unsigned char chk[1 + 1 + 16 + 1] = {1, 'a'};
    assert_int_equal(s_raw(CF_MSG_CHECKIN, chk, sizeof(chk) - 1, &why), CF_OK);
    assert_int_equal(s_raw(CF_MSG_CHECKIN, chk, sizeof(chk), &why), CF_ERR_CORRUPT);
    assert_non_null(strstr(why.text, "after the last field"));
    /* BROADCAST: reserved flag bits, all with a list */
    unsigned char bc[1 + 16 + 2 + 2] = {1, 0};
    assert_int_equal(s_raw(CF_MSG_BROADCAST, bc, 19, &why), CF_OK);
    bc[0] = 3;
    assert_int_equal(s_raw(CF_MSG_BROADCAST, bc, 19, &why), CF_ERR_CORRUPT);
    bc[0] = 5; /* bit 2: reserved */
    assert_int_equal(s_raw(CF_MSG_BROADCAST, bc, 19, &why), CF_ERR_CORRUPT);
    bc[0] = 1;
    bc[18] = 1;
    bc[19] = 1;
    bc[20] = 'a';
    assert_int_equal(s_raw(CF_MSG_BROADCAST, bc, sizeof(bc), &why), CF_ERR_CORRUPT);
    bc[0] = 0;
    assert_int_equal(s_raw(CF_MSG_BROADCAST, bc, sizeof(bc), &why), CF_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_caps_job),
        cmocka_unit_test(test_caps_on_the_wire),
        cmocka_unit_test(test_caps_broadcast),
        cmocka_unit_test(test_bad_agent_ids),
        cmocka_unit_test(test_encode_refusals),
        cmocka_unit_test(test_encode_broadcast_rules),
        cmocka_unit_test(test_decode_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
