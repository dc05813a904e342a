/*  cf_test_msg - what test_msg and test_msg_fields share: sample messages of every type and
    the encode / decode helpers  */
#ifndef CF_TEST_MSG_H_INCLUDED
#define CF_TEST_MSG_H_INCLUDED

#include <string.h>

#include "cf_mem.h"
#include "cf_msg.h"
#include "cf_test.h"

#define JOB_ID "0123456789abcdef0123456789abcdef"
#define FPR    "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"

/* Sample messages: every type, and the variants a type allows. */
#define N_SAMPLES 14
static void s_sample(int i, cf_msg_t *m)
{
    static const cf_msg_type_t types[N_SAMPLES] = {
        CF_MSG_HELLO,     CF_MSG_HELLO,     CF_MSG_JOB,   CF_MSG_RECEIPT,  CF_MSG_REPORT,
        CF_MSG_REPORT,    CF_MSG_ACK,       CF_MSG_ACK,   CF_MSG_CHECKIN,  CF_MSG_CHECKIN,
        CF_MSG_BROADCAST, CF_MSG_BROADCAST, CF_MSG_ERROR, CF_MSG_BROADCAST};
    cf_msg_init(m, types[i]);
    strcpy(m->agent, i % 2 ? "agent-7" : "a");
    strcpy(m->job_id, JOB_ID);
    switch (i) {
    case 0: m->proto = 1; break;
    case 1:
        m->proto = 255;
        strcpy(m->text, "certfleet-agent 0.1.0 (linux)");
        break;
    case 2: assert_int_equal(cf_msg_set_job(m, "{\"job\":1}", 9), CF_OK); break;
    case 4:
        m->outcome = CF_MSG_INSTALLED;
        strcpy(m->fpr, FPR);
        break;
    case 5:
        m->outcome = CF_MSG_FAILED;
        strcpy(m->text, "chain does not verify: x");
        break;
    case 6: m->ack_of = CF_MSG_RECEIPT; break;
    case 7: m->ack_of = CF_MSG_REPORT; break;
    case 9: m->job_id[0] = '\0'; break;
    case 10: m->all = 1; break;
    case 11:
        m->job_id[0] = '\0';
        assert_int_equal(cf_msg_add_target(m, "a"), CF_OK);
        assert_int_equal(cf_msg_add_target(m, "pc-1.example_org"), CF_OK);
        break;
    case 12:
        m->error = CF_MSG_ERR_OFFLINE;
        strcpy(m->text, "agent not connected");
        break;
    case 13: /* a job for each listed agent (the shared copy of a job to all) */
        assert_int_equal(cf_msg_add_target(m, "a"), CF_OK);
        assert_int_equal(cf_msg_add_target(m, "b-2"), CF_OK);
        assert_int_equal(cf_msg_set_job(m, "{\"job\":2}", 9), CF_OK);
        break;
    default: break;
    }
}

static void s_encode(const cf_msg_t *m, cf_msg_frames_t *f)
{
    cf_why_t why = {""};
    cf_err_t rc = cf_msg_encode(m, f, &why);
    if (rc != CF_OK)
        fail_msg("encode %s: %s", cf_msg_type_name(m->type), cf_why_text(&why, rc));
}

/* Decode frames (copied, so ASan sees every read past the end) and return the result. */
static cf_err_t s_decode(const unsigned char *h, size_t hlen, const unsigned char *b, size_t blen,
                         size_t nframes, cf_msg_t *out, cf_why_t *why)
{
    unsigned char *hc = cf_mem_memdup(h, hlen), *bc = cf_mem_memdup(b, blen);
    cf_msg_frame_t f[3] = {{hc, hlen}, {bc, blen}, {bc, blen}};
    cf_err_t rc = cf_msg_decode(f, nframes, out, why);
    cf_mem_free(hc);
    cf_mem_free(bc);
    return rc;
}

#endif
