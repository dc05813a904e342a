/*  cf_db_agent_int - shared by cf_db_agent.c and cf_db_agent_list.c  */
#ifndef CF_DB_AGENT_INT_H_INCLUDED
#define CF_DB_AGENT_INT_H_INCLUDED

#include <hiredis/hiredis.h>

#include "cf_db_agent.h"

/* An agent hash's fields, in the order of CF_DB_AGENT_HMGET. */
#define CF_DB_AGENT_HMGET                                                                       \
    "HMGET %s id lock last_seen last_addr version cert_fp cert_serial cert_not_after favorite " \
    "server revoked"
enum {
    A_ID,
    A_LOCK,
    A_LAST_SEEN,
    A_ADDR,
    A_VERSION,
    A_FP,
    A_SERIAL,
    A_NOT_AFTER,
    A_FAVORITE,
    A_SERVER,
    A_REVOKED,
    A_COUNT
};

/* Decode the CF_DB_AGENT_HMGET answer for agent id into *out. CF_ERR_NOTFOUND when the
   agent does not exist, CF_ERR_CORRUPT with why in the store. */
CF_MUST_USE cf_err_t cf_db_agent_decode(cf_store_t *store, const char *id, const redisReply *r,
                                        cf_db_agent_t *out);
/* Run the paging script (cf_db_agent_list.c) on cf:agents, or cf:agents:<lock> when lock is
   a state: the next limit (1..CF_DB_PAGE_MAX) members after cursor ("<score>:<id>", NULL
   or "" to start) with scores min..max, as a checked reply of {id, score} pairs (*r_out,
   freeReplyObject). CF_ERR_INVALID (lock, limit, cursor). */
CF_MUST_USE cf_err_t cf_db_agent_page(cf_store_t *store, cf_db_lock_t lock, const char *cursor,
                                      int64_t min, int64_t max, size_t limit, redisReply **r_out);
/* The paging script on any sorted set of agent ids (cf:agents*, cf:agents:expiry): the next
   limit (1..CF_DB_PAGE_MAX) members after (score, id) (id "" = from the lowest score kept)
   with scores min..max, as a checked reply of {id, score} pairs (*r_out, freeReplyObject).
   score is decimal text. Errors of cf_db_eval; CF_ERR_CORRUPT for a malformed answer. */
CF_MUST_USE cf_err_t cf_db_agent_zpage(cf_store_t *store, const char *set, const char *score,
                                       const char *id, int64_t min, int64_t max, size_t limit,
                                       redisReply **r_out);
/* cf:agents:<lock> into key (CF_DB_KEY_MAX bytes); lock must be valid. */
void cf_db_agent_lock_key(char *key, cf_db_lock_t lock);

#endif
