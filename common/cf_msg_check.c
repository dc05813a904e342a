/*  cf_msg_check - the fields each message type uses, as the grammar allows them  */
#include "cf_msg.h"

#include <string.h>

#include "cf_issue.h"

static const char s_hex[] = "0123456789abcdef";

enum { S_NO = 0, S_OPT, S_REQ }; /* whether a type uses a field, and must fill it */

/* Which types carry an agent id and a job id. */
static const struct {
    unsigned char agent;  /* S_NO, S_OPT ("" allowed) or S_REQ */
    unsigned char job_id; /* same */
} s_uses[CF_MSG_TYPE_COUNT_] = {
    [CF_MSG_HELLO] = {S_REQ, S_NO},     [CF_MSG_JOB] = {S_REQ, S_REQ},
    [CF_MSG_RECEIPT] = {S_REQ, S_REQ},  [CF_MSG_REPORT] = {S_REQ, S_REQ},
    [CF_MSG_ACK] = {S_REQ, S_REQ},      [CF_MSG_CHECKIN] = {S_REQ, S_OPT},
    [CF_MSG_BROADCAST] = {S_NO, S_OPT}, [CF_MSG_ERROR] = {S_OPT, S_OPT},
};

/* min..max bytes of printable ASCII; s is a buffer of at least max + 1 bytes. */
static cf_err_t s_check_text(const char *s, size_t min, size_t max, const char *what, cf_why_t *why)
{
    size_t n = strnlen(s, max + 1);
    if (n < min || n > max)
        return cf_why(why, CF_ERR_INVALID, "%s must be %zu..%zu bytes", what, min, max);
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return cf_why(why, CF_ERR_INVALID, "%s holds a byte that is not printable ASCII", what);
    return CF_OK;
}

/* Exactly len lowercase hex digits; "" allowed when allow_empty. all_zero_ok for digests. */
static cf_err_t s_check_hex(const char *s, size_t len, int allow_empty, int all_zero_ok,
                            const char *what, cf_why_t *why)
{
    size_t n = strnlen(s, len + 1);
    if (n == 0 && allow_empty)
        return CF_OK;
    int nonzero = 0;
    for (size_t i = 0; i < n && n == len; i++) {
        if (!strchr(s_hex, s[i]) || s[i] == '\0')
            return cf_why(why, CF_ERR_INVALID, "%s must be lowercase hex", what);
        nonzero |= s[i] != '0';
    }
    if (n != len)
        return cf_why(why, CF_ERR_INVALID, "%s must be %zu hex digits", what, len);
    if (!nonzero && !all_zero_ok)
        return cf_why(why, CF_ERR_INVALID, "%s must not be all zero", what);
    return CF_OK;
}

static cf_err_t s_check_agent(const char *agent, int need, const char *what, cf_why_t *why)
{
    if (need == S_OPT && agent[0] == '\0')
        return CF_OK;
    if (strnlen(agent, CF_MSG_AGENT_MAX + 1) > CF_MSG_AGENT_MAX ||
        cf_issue_check_agent_id(agent) != CF_OK)
        return cf_why(why, CF_ERR_INVALID, "%s is not an agent id ([a-z0-9][a-z0-9._-]{0,62})",
                      what);
    return CF_OK;
}

static cf_err_t s_check_broadcast(const cf_msg_t *m, cf_why_t *why)
{
    if (m->all != 0 && m->all != 1)
        return cf_why(why, CF_ERR_INVALID,
                      "BROADCAST flags other than 'all' and 'job' are reserved");
    if (m->job && (m->all || !m->job_id[0] || m->job_len == 0 || m->job_len > CF_MSG_MAX_JOB))
        return cf_why(why, CF_ERR_INVALID,
                      "a BROADCAST of a job names its agents and job id and carries 1..%d job "
                      "bytes",
                      CF_MSG_MAX_JOB);
    if (m->all && m->n_targets)
        return cf_why(why, CF_ERR_INVALID, "BROADCAST to all names no targets");
    if (!m->all && (m->n_targets == 0 || m->n_targets > CF_MSG_MAX_TARGETS || !m->targets))
        return cf_why(why, CF_ERR_INVALID, "BROADCAST needs 1..%d targets or 'all'",
                      CF_MSG_MAX_TARGETS);
    for (size_t i = 0; i < m->n_targets; i++)
        CF_TRY(s_check_agent(m->targets[i], S_REQ, "BROADCAST target", why));
    return CF_OK;
}

static cf_err_t s_check_report(const cf_msg_t *m, cf_why_t *why)
{
    if (m->outcome != CF_MSG_INSTALLED && m->outcome != CF_MSG_FAILED)
        return cf_why(why, CF_ERR_INVALID, "REPORT outcome must be installed or failed");
    CF_TRY(s_check_hex(m->fpr, CF_MSG_FPR_HEX, 1, 1, "REPORT fingerprint", why));
    if (m->outcome == CF_MSG_INSTALLED)
        return s_check_text(m->text, 0, 0, "REPORT reason of an installed job", why);
    return s_check_text(m->text, 1, CF_MSG_TEXT_MAX, "REPORT reason of a failed job", why);
}

/* The one check behind both encode (a caller's message) and decode (a peer's). */
cf_err_t cf_msg_check(const cf_msg_t *m, cf_why_t *why)
{
    if (m->type < CF_MSG_HELLO || m->type >= CF_MSG_TYPE_COUNT_)
        return cf_why(why, CF_ERR_INVALID, "unknown message type %d", (int) m->type);
    if (s_uses[m->type].agent != S_NO)
        CF_TRY(s_check_agent(m->agent, s_uses[m->type].agent, "agent", why));
    if (s_uses[m->type].job_id != S_NO)
        CF_TRY(s_check_hex(m->job_id, CF_MSG_JOB_ID_HEX, s_uses[m->type].job_id == S_OPT, 0,
                           "job id", why));
    switch (m->type) {
    case CF_MSG_HELLO:
        if (m->proto < 1 || m->proto > 255)
            return cf_why(why, CF_ERR_INVALID, "HELLO protocol level must be 1..255");
        return s_check_text(m->text, 0, CF_MSG_VERSION_MAX, "HELLO software version", why);
    case CF_MSG_JOB:
        if (!m->job || m->job_len == 0 || m->job_len > CF_MSG_MAX_JOB)
            return cf_why(why, CF_ERR_INVALID, "JOB needs 1..%d job bytes", CF_MSG_MAX_JOB);
        return CF_OK;
    case CF_MSG_REPORT: return s_check_report(m, why);
    case CF_MSG_ACK:
        if (m->ack_of != CF_MSG_RECEIPT && m->ack_of != CF_MSG_REPORT)
            return cf_why(why, CF_ERR_INVALID, "ACK acknowledges a RECEIPT or a REPORT");
        return CF_OK;
    case CF_MSG_BROADCAST: return s_check_broadcast(m, why);
    case CF_MSG_ERROR:
        if (m->error < CF_MSG_ERR_VERSION || m->error >= CF_MSG_ERR_COUNT_)
            return cf_why(why, CF_ERR_INVALID, "unknown ERROR code %d", (int) m->error);
        return s_check_text(m->text, 0, CF_MSG_TEXT_MAX, "ERROR text", why);
    default: return CF_OK; /* RECEIPT, CHECKIN: agent and job id only */
    }
}
