/*  cf_db_job_ev - reading a job's stream of changes (cf:job:{<id>}:ev) after a stream id  */
#ifndef CF_DB_JOB_EV_H_INCLUDED
#define CF_DB_JOB_EV_H_INCLUDED

#include <stddef.h>

#include "cf_db_job.h"

#define CF_DB_JOB_EV_MAX    1000 /* entries in one read */
#define CF_DB_JOB_EV_ID_MAX 41   /* a stream id "<ms>-<seq>" (20 + 1 + 19 digits), no NUL */
#define CF_DB_JOB_EV_STATE  31   /* longest state name kept, bytes */

/* One entry of the stream. An entry that is not a change (the first one, "event created
   total N") has agent "" and states "" but its id counts for resuming. */
typedef struct {
    char id[CF_DB_JOB_EV_ID_MAX + 1];      /* stream id, "<ms>-<seq>" */
    char agent[CF_DB_ID_MAX + 1];          /* agent id, "" when not a change */
    char from[CF_DB_JOB_EV_STATE + 1];     /* state name before ([a-z_]), "" when none */
    char to[CF_DB_JOB_EV_STATE + 1];       /* state name after, "" when none */
    char reason[CF_DB_JOB_REASON_MAX + 1]; /* failed reason as stored ("" when none); control
                                              characters replaced by '?' */
} cf_db_job_ev_t;

/* 1 when text is a stream id "<ms>-<seq>" (decimal, ms at most 20 digits, seq at most 19). */
int cf_db_job_ev_id_ok(const char *text);

/* The entries of job id's stream strictly after stream id after ("" or NULL: from the
   start), oldest first, at most max (1..CF_DB_JOB_EV_MAX) (XRANGE, 1 RT). A job whose
   stream is gone or never was answers none (the caller reads the job to tell). State names
   are passed through as stored (a newer server may know more states). *list_out is the
   caller's (cf_mem_free), *n_out entries; *n_out == max means more may follow.
   CF_ERR_INVALID (id, after, max), CF_ERR_CORRUPT (an entry that does not fit: a bad
   stream id, agent id or state name), transport errors, CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_db_job_events(cf_store_t *store, const char *id, const char *after,
                                      size_t max, cf_db_job_ev_t **list_out, size_t *n_out);

#endif
