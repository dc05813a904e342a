/*  cf_db_agent_checkins - several agents' check-ins as one Redis command (one EVALSHA)  */
#ifndef CF_DB_AGENT_CHECKINS_H_INCLUDED
#define CF_DB_AGENT_CHECKINS_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "cf_db_agent.h"
#include "cf_db_util.h"

/* A command of up to CF_DB_CHECKINS_MAX check-ins of one second and one server, each the
   step of cf_db_agent_checkin_cmd with its open jobs counted, run one after the other by
   one script: the fixed cost of a script call (the command, the script's start, the
   reply) is paid once for all. Every value is copied in: nothing is borrowed. Each
   check-in has its own answer; one that fails in Redis fails alone. */
#define CF_DB_CHECKINS_MAX  8 /* check-ins in one command */
#define CF_DB_CHECKINS_ARGS 4 /* arguments per check-in (now and server are shared) */
#define CF_DB_CHECKINS_ARGV (CF_DB_CHECKINS_MAX * CF_DB_CHECKINS_ARGS + 2)

/* One check-in's copies. */
typedef struct {
    char id[CF_DB_ID_MAX + 1]; /* agent id */
    char fp[CF_DB_FP_LEN + 1]; /* certificate fingerprint, "" = none */
    char facts[17];            /* the digest of the values (cf_db_agent_facts) */
    char rest[CF_DB_ADDR_MAX + CF_DB_SERIAL_MAX + CF_DB_I64_BUF + CF_DB_VERSION_MAX + 4 +
              5]; /* address seen, serial, expiry as text, version, protocol level:
                     newline-separated */
} cf_db_checkins_one_t;

typedef struct {
    cf_db_checkins_one_t one[CF_DB_CHECKINS_MAX]; /* the check-ins, in order */
    size_t n;                                     /* entries used */
    int64_t now;                                  /* their time (shared) */
    char now_text[CF_DB_I64_BUF];                 /* now as text */
    char server[CF_DB_ALIAS_MAX + 1];             /* this server's alias (shared) */
    const char *argv[CF_DB_CHECKINS_ARGV]; /* keys then arguments (cf_db_agent_checkins_argv) */
} cf_db_checkins_t;

/* Empty b for the next command. */
void cf_db_agent_checkins_clear(cf_db_checkins_t *b);
/* 1 when in may join b: b has room and is empty or of in's second and server. */
int cf_db_agent_checkins_fits(const cf_db_checkins_t *b, const cf_db_checkin_t *in);
/* Copy check-in in into b (cf_db_agent_checkins_fits first): in->lock SECURE with a
   certificate, INSECURE without (the script tells ATTENTION itself). CF_ERR_INVALID as
   cf_db_agent_checkin_cmd or for another lock (b unchanged), CF_ERR_TOOBIG when it does
   not fit. */
CF_MUST_USE cf_err_t cf_db_agent_checkins_add(cf_db_checkins_t *b, const cf_db_checkin_t *in);
/* The command for cf_db_agent_checkins_script (b not empty): *nkeys keys (0: the script
   makes the agents' keys from their ids), then *argc - *nkeys arguments, pointing into b
   (valid until b changes). */
const char **cf_db_agent_checkins_argv(cf_db_checkins_t *b, int *nkeys, int *argc);
/* The script of several check-ins, made once per process and kept; NULL when out of memory. */
const cf_store_script_t *cf_db_agent_checkins_script(void);
/* Decode the answer of check-in i of the n of a command (r: the script's whole reply):
   favorite (CF_DB_ALIAS_MAX + 1 bytes, may be NULL; "" when none), the lock recorded, the
   open jobs counted and *upgrade (1 when the check-in's protocol level is not the one
   recorded: the caller records it with cf_db_job_upgrade, which also moves the agent's
   too_old entries), for agent id. CF_ERR_REVOKED (revoked: nothing written); an error
   Redis raised in that check-in alone: its code (cf_store_reply_check) with why;
   CF_ERR_CORRUPT for a reply that is not an array of n or a malformed answer. Pure. */
CF_MUST_USE cf_err_t cf_db_agent_checkins_reply(const redisReply *r, size_t n, size_t i,
                                                const char *id, char *favorite, cf_db_lock_t *lock,
                                                int64_t *jobs, int *upgrade, cf_why_t *why);

#endif
