/*  cf_link_facts - a batch of agents' RECEIPTs and REPORTs before it is stored: the facts
    another fact of the same batch makes moot (docs/PROTOCOL.md, "ACK")  */
#ifndef CF_LINK_FACTS_H_INCLUDED
#define CF_LINK_FACTS_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "cf_msg.h"

#define CF_LINK_BATCH_MAX  1000 /* receipts and reports stored in one transition call */
#define CF_LINK_GATHER_MIN 256  /* new facts that go to Redis without gathering more */

/* One RECEIPT or REPORT waiting for the batch's transition call. */
typedef struct {
    size_t broker;                      /* where it came from: the ACK goes back there */
    cf_msg_type_t type;                 /* CF_MSG_RECEIPT or CF_MSG_REPORT */
    cf_msg_outcome_t outcome;           /* REPORT */
    char agent[CF_MSG_AGENT_MAX + 1];   /* agent id */
    char job_id[CF_MSG_JOB_ID_HEX + 1]; /* job id */
    char reason[CF_MSG_TEXT_MAX + 1];   /* failed: the reason */
    int64_t at_ms;                      /* when it was read (monotonic ms) */
} cf_link_fact_t;

/* Mark in moot[i] (n bytes, each set to 0 or 1) the RECEIPTs the batch need not store nor
   acknowledge: one whose REPORT (same job and agent) is in the batch too (that REPORT's
   transition moves a pending entry straight to its outcome, and its ACK acknowledges the
   RECEIPT as well), and a RECEIPT repeated in the batch (the first one is stored and
   acknowledged). REPORTs are never marked. n at most CF_LINK_BATCH_MAX (more: nothing is
   marked). Returns how many were marked. */
size_t cf_link_facts_moot(const cf_link_fact_t *facts, size_t n, unsigned char *moot);

/* Mark in held[i] (n bytes, each set to 0 or 1) the RECEIPTs to keep for the next batch
   instead of storing them now: those not moot (moot as cf_link_facts_moot filled it) read
   less than hold_ms before now_ms. An agent sends its REPORT right after its RECEIPT when
   the job ends at once, and the REPORT usually comes a broker turn later: held a moment,
   the RECEIPT meets it in a later batch and becomes moot, which saves a transition in
   Redis and an ACK through the broker (docs/jobs.md 4). hold_ms <= 0 holds nothing.
   Returns how many were marked; *due_ms (may be NULL) gets the earliest time one of them
   must be stored (at_ms + hold_ms), INT64_MAX when none. */
size_t cf_link_facts_hold(const cf_link_fact_t *facts, size_t n, const unsigned char *moot,
                          int64_t now_ms, int64_t hold_ms, unsigned char *held, int64_t *due_ms);

/* 1 when the n facts read since the last transition call (facts[0] the oldest) are to be
   stored now: gather_ms <= 0, none at all (what is held decides), CF_LINK_GATHER_MIN of
   them or more, or the oldest was read gather_ms or more before now_ms. Else 0, and
   *due_ms (may be NULL) gets when they must be stored (the oldest's at_ms + gather_ms).
   Facts arrive a few at a time (a broker turn's worth); each transition call costs Redis
   a fixed part (the script's call, the job's fields, the counters) besides its per-fact
   part, so a moment's gathering saves calls at 10 ms more per ACK (docs/jobs.md 4). */
int cf_link_facts_gathered(const cf_link_fact_t *facts, size_t n, int64_t now_ms, int64_t gather_ms,
                           int64_t *due_ms);

#endif
