/*  cf_link_facts - a batch of agents' RECEIPTs and REPORTs before it is stored: the facts
    another fact of the same batch makes moot (docs/PROTOCOL.md, "ACK")  */
#ifndef CF_LINK_FACTS_H_INCLUDED
#define CF_LINK_FACTS_H_INCLUDED

#include <stddef.h>

#include "cf_msg.h"

#define CF_LINK_BATCH_MAX 1000 /* receipts and reports stored in one transition call */

/* One RECEIPT or REPORT waiting for the batch's transition call. */
typedef struct {
    size_t broker;                      /* where it came from: the ACK goes back there */
    cf_msg_type_t type;                 /* CF_MSG_RECEIPT or CF_MSG_REPORT */
    cf_msg_outcome_t outcome;           /* REPORT */
    char agent[CF_MSG_AGENT_MAX + 1];   /* agent id */
    char job_id[CF_MSG_JOB_ID_HEX + 1]; /* job id */
    char reason[CF_MSG_TEXT_MAX + 1];   /* failed: the reason */
} cf_link_fact_t;

/* Mark in moot[i] (n bytes, each set to 0 or 1) the RECEIPTs the batch need not store nor
   acknowledge: one whose REPORT (same job and agent) is in the batch too (that REPORT's
   transition moves a pending entry straight to its outcome, and its ACK acknowledges the
   RECEIPT as well), and a RECEIPT repeated in the batch (the first one is stored and
   acknowledged). REPORTs are never marked. n at most CF_LINK_BATCH_MAX (more: nothing is
   marked). Returns how many were marked. */
size_t cf_link_facts_moot(const cf_link_fact_t *facts, size_t n, unsigned char *moot);

#endif
