/*  cf_itest_checkin - the check-in input the agent-record tests share  */
#include "cf_itest_checkin.h"

cf_db_checkin_t cf_itest_checkin_in(const char *id, cf_db_lock_t lock, int64_t now,
                                    int64_t not_after)
{
    int cert = lock != CF_DB_LOCK_INSECURE;
    cf_db_checkin_t in = {id,
                          lock,
                          now,
                          "127.0.0.7",
                          "0.1.0",
                          cert ? CF_ITEST_CHECKIN_FP : NULL,
                          cert ? "0a1b" : NULL,
                          cert ? not_after : 0,
                          "srv1",
                          0};
    return in;
}
