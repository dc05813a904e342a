/*  cf_itest_checkin - the check-in input the agent-record tests share  */
#ifndef CF_ITEST_CHECKIN_H_INCLUDED
#define CF_ITEST_CHECKIN_H_INCLUDED

#include <stdint.h>

#include "cf_db_agent.h"

/* Two certificate fingerprints (SHA-256 hex) the tests present. */
#define CF_ITEST_CHECKIN_FP  "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define CF_ITEST_CHECKIN_FP2 "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

/* A check-in of id at now from 127.0.0.7 through srv1: with CF_ITEST_CHECKIN_FP (serial 0a1b,
   expiring at not_after) unless lock is insecure. The strings are static or id's. */
cf_db_checkin_t cf_itest_checkin_in(const char *id, cf_db_lock_t lock, int64_t now,
                                    int64_t not_after);

#endif
