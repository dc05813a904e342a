/*  cf_job_fsm - the state of one job for one agent: one static transition table  */
#include "cf_job_fsm.h"

#include <string.h>

/* Short names so the table below reads as the table in docs/PROTOCOL.md. */
#define PEN  CF_JOB_PENDING
#define DEL  CF_JOB_DELIVERED
#define INS  CF_JOB_INSTALLED
#define FAI  CF_JOB_FAILED
#define EXP  CF_JOB_EXPIRED
#define CAN  CF_JOB_CANCELLED
#define OLD  CF_JOB_TOO_OLD
#define QUE  CF_JOB_QUEUED
#define NONE 0xff /* not in the table: CF_ERR_STATE */

/* s_next[state][event]. The rules behind it (docs/PROTOCOL.md, "Job states"):
   - agent facts are never refused: a report moves any entry that has not been installed,
     because what the agent did beats what we stopped waiting for (expired, cancelled);
     installed is sticky (a stale failure report after it changes nothing), and a repeated
     receipt or report is "no change";
   - a receipt moves only pending and too_old entries (an agent that received the job can
     run it);
   - expire and cancel end the entries still waiting and leave finished ones alone, so a
     sweeper racing a report is harmless;
   - retry sends failed, expired and cancelled entries again and is refused for installed
     ones (nothing to retry) and for agents still too old (nothing can be sent);
   - upgrade releases too_old entries and changes nothing elsewhere;
   - queued (a job with waves, docs/jobs.md section 6) waits like pending but is never sent:
     release moves it to pending and changes nothing elsewhere; abort ends what has not
     reached an agent (queued, pending, too_old) and leaves delivered entries to finish;
     requeue is the retry of a job with waves (back to queued), refused where retry is;
     upgrade_queued is the upgrade of a job with waves: too_old goes to queued (its wave
     sends it), nothing else changes. */
static const unsigned char s_next[CF_JOB_STATE_COUNT][CF_JOB_EVENT_COUNT] = {
    /*  receipt installed failed expire cancel retry upgrade release abort requeue upgrade_q */
    [PEN] = {DEL, INS, FAI, EXP, CAN, PEN, PEN, PEN, CAN, PEN, PEN},
    [DEL] = {DEL, INS, FAI, EXP, CAN, DEL, DEL, DEL, DEL, DEL, DEL},
    [INS] = {INS, INS, INS, INS, INS, NONE, INS, INS, INS, NONE, INS},
    [FAI] = {FAI, INS, FAI, FAI, FAI, PEN, FAI, FAI, FAI, QUE, FAI},
    [EXP] = {EXP, INS, FAI, EXP, EXP, PEN, EXP, EXP, EXP, QUE, EXP},
    [CAN] = {CAN, INS, FAI, CAN, CAN, PEN, CAN, CAN, CAN, QUE, CAN},
    [OLD] = {DEL, INS, FAI, EXP, CAN, NONE, PEN, OLD, CAN, NONE, QUE},
    [QUE] = {DEL, INS, FAI, EXP, CAN, QUE, QUE, PEN, CAN, QUE, QUE},
};

static const char *const s_state_names[CF_JOB_STATE_COUNT] = {
    "pending", "delivered", "installed", "failed", "expired", "cancelled", "too_old", "queued",
};

static const char *const s_event_names[CF_JOB_EVENT_COUNT] = {
    "receipt", "report_installed", "report_failed", "expire",  "cancel",         "retry",
    "upgrade", "release",          "abort",         "requeue", "upgrade_queued",
};

cf_err_t cf_job_fsm_next(cf_job_state_t state, cf_job_event_t event, cf_job_state_t *next)
{
    if (!next || (unsigned) state >= CF_JOB_STATE_COUNT || (unsigned) event >= CF_JOB_EVENT_COUNT)
        return CF_ERR_INVALID;
    unsigned char to = s_next[state][event];
    if (to == NONE)
        return CF_ERR_STATE;
    *next = (cf_job_state_t) to;
    return CF_OK;
}

cf_job_state_t cf_job_fsm_initial(unsigned agent_proto, unsigned min_proto)
{
    unsigned speaks = agent_proto ? agent_proto : 1;
    return speaks < min_proto ? CF_JOB_TOO_OLD : CF_JOB_PENDING;
}

cf_job_state_t cf_job_fsm_initial_waves(unsigned agent_proto, unsigned min_proto)
{
    cf_job_state_t s = cf_job_fsm_initial(agent_proto, min_proto);
    return s == CF_JOB_PENDING ? CF_JOB_QUEUED : s;
}

int cf_job_fsm_is_final(cf_job_state_t state)
{
    switch (state) {
    case CF_JOB_INSTALLED:
    case CF_JOB_FAILED:
    case CF_JOB_EXPIRED:
    case CF_JOB_CANCELLED: return 1;
    default: return 0;
    }
}

const char *cf_job_fsm_state_name(cf_job_state_t state)
{
    if ((unsigned) state >= CF_JOB_STATE_COUNT)
        return "unknown";
    return s_state_names[state];
}

const char *cf_job_fsm_event_name(cf_job_event_t event)
{
    if ((unsigned) event >= CF_JOB_EVENT_COUNT)
        return "unknown";
    return s_event_names[event];
}

/* Index of name in names[0..n-1], or n when absent. */
static unsigned s_find(const char *const *names, unsigned n, const char *name)
{
    unsigned i = 0;
    while (i < n && strcmp(names[i], name) != 0)
        i++;
    return i;
}

cf_err_t cf_job_fsm_state_from_name(const char *name, cf_job_state_t *out)
{
    if (!name || !out)
        return CF_ERR_INVALID;
    unsigned i = s_find(s_state_names, CF_JOB_STATE_COUNT, name);
    if (i == CF_JOB_STATE_COUNT)
        return CF_ERR_INVALID;
    *out = (cf_job_state_t) i;
    return CF_OK;
}

cf_err_t cf_job_fsm_event_from_name(const char *name, cf_job_event_t *out)
{
    if (!name || !out)
        return CF_ERR_INVALID;
    unsigned i = s_find(s_event_names, CF_JOB_EVENT_COUNT, name);
    if (i == CF_JOB_EVENT_COUNT)
        return CF_ERR_INVALID;
    *out = (cf_job_event_t) i;
    return CF_OK;
}
