/*  cf_db_job - the job store: jobs, per-agent entries and their counters, transitions, sweeper  */
#ifndef CF_DB_JOB_H_INCLUDED
#define CF_DB_JOB_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "cf_curve.h"
#include "cf_db_key.h"
#include "cf_err.h"
#include "cf_job.h"
#include "cf_job_fsm.h"
#include "cf_store.h"

/* Keys (docs/jobs.md section 3, docs/REDIS.md): cf:job:{<id>} (fields and counters),
   cf:job:{<id>}:st (agent -> state), :why (agent -> failed reason), :ev (stream of
   changes), cf:agent:{<id>}:jobs (job id -> expires, the agent's entries not final),
   cf:jobs (id -> created), cf:jobs:open (id -> expires, jobs not closed).
   Every change of an entry goes through one Lua script that carries the cf_job_fsm table
   (handed over from C, so there is one table): the entry, the counters (n:<state>), the
   event and the agent's sorted set move together, and only when the state changes. A job
   closes (done = now, out of cf:jobs:open, a TTL of CF_DB_JOB_KEEP on its keys) in the
   step where its last entry becomes final, and opens again if one leaves a final state.
   Details of failures in cf_store_why(store); transport errors as cf_store_cmd; a reply
   that does not fit is CF_ERR_CORRUPT. A transport error or CF_ERR_NOMEM (replies are
   built with cf_mem) can come after a script ran: then its change happened, whole (each
   script is atomic), and a repeat is safe (the same event twice is one change; a create
   answers CF_ERR_EXISTS; a retry CF_ERR_STATE). RT = round trips. */
#define CF_DB_JOB_TARGETS_MAX 100000       /* agents in one create */
#define CF_DB_JOB_PARAMS_MAX  4096         /* params JSON text, bytes */
#define CF_DB_JOB_TARGET_MAX  256          /* target description text, bytes */
#define CF_DB_JOB_REASON_MAX  255          /* failed reason, bytes */
#define CF_DB_JOB_BATCH_MAX   10000        /* transitions in one call */
#define CF_DB_JOB_LIST_MAX    1000         /* jobs in one list */
#define CF_DB_JOB_PAGE_MAX    10000        /* entries in one page */
#define CF_DB_JOB_OPEN_MAX    1000         /* open jobs answered for one agent */
#define CF_DB_JOB_CHUNK       1000         /* entries per script call of a job-level step */
#define CF_DB_JOB_KEEP        (30 * 86400) /* TTL of a closed job's keys, seconds */
#define CF_DB_JOB_CURSOR_MAX  48           /* buffer for a page cursor, with the NUL */
#define CF_DB_JOB_PROTO_MAX   255          /* highest protocol level */

#define CF_DB_JOB_WAVE_MAX 100000 /* batch (entries in flight) and rate (per second) at most */

/* How a job is rolled out (docs/jobs.md section 6). All zero: at once, no threshold. */
typedef struct {
    int64_t
        batch;    /* at most this many entries pending + delivered, 1..CF_DB_JOB_WAVE_MAX; 0 none */
    int64_t rate; /* about this many entries released per second, 1..CF_DB_JOB_WAVE_MAX; 0 none */
    int watch;    /* 1: abort when the failed share of finished entries passes max_fail */
    int max_fail; /* with watch: percent, 0..100 */
} cf_db_job_rollout_t;

/* A new job. Everything is borrowed. */
typedef struct {
    const char *id;            /* 32 lowercase hex (cf_db_check_job_id) */
    cf_job_type_t type;        /* what the job does */
    int64_t created;           /* unix seconds, > 0 */
    int64_t expires;           /* created < expires <= created + CF_JOB_MAX_LIFETIME */
    const char *issuer;        /* alias of the issuing server (cf_db_check_alias, <= 64 B) */
    const char *by;            /* user who asked (cf_db_check_user) */
    unsigned min_proto;        /* agent protocol level needed, 1..CF_DB_JOB_PROTO_MAX */
    const char *params;        /* a JSON object, <= CF_DB_JOB_PARAMS_MAX bytes */
    const char *target;        /* description ("all", "10.0.0.0/8", ...), <= 256 bytes */
    const char *const *agents; /* target agent ids, resolved by the caller (NULL with all) */
    size_t n_agents;           /* 1..CF_DB_JOB_TARGETS_MAX (0 with all) */
    cf_db_job_rollout_t waves; /* rollout controls; all zero: everything pending at once */
    int all;                   /* 1: every agent, read by the script from cf:agents:<lock> */
} cf_db_job_spec_t;

/* What a create did. */
typedef struct {
    int64_t total;   /* entries made (distinct known agents) */
    int64_t too_old; /* of which too_old */
    size_t *unknown; /* indexes into spec->agents of ids left out (cf_mem_free) */
    char (*unknown_ids)[CF_DB_ID_MAX + 1]; /* with spec->all: the ids left out (cf_mem_free) */
    size_t n_unknown;                      /* how many (entries of unknown or unknown_ids) */
} cf_db_job_made_t;

/* Create a job in ONE Lua script (1 RT): the job hash with its counters, one entry per
   known target (pending, or too_old when the agent's recorded proto, absent = 1, is below
   min_proto), the agents' sorted sets, cf:jobs, cf:jobs:open and the stream's first event
   (event created total N). With spec->waves.batch or .rate the entries start queued
   instead of pending (cf_job_fsm_initial_waves) and are listed on :q in the order given;
   with any rollout setting the job joins cf:jobs:waves (docs/jobs.md section 6). A repeated id in
   agents counts once; unknown ids, and agents marked revoked (cf_db_enroll_mark_revoked: they can
   take no job), are left out and answered in out->unknown. With spec->all the script reads
   the targets itself from the four per-lock sets (every agent, in the sets' order: secure,
   attention, insecure, expired, each oldest last_seen first; no id list travels), refuses
   more than CF_DB_JOB_TARGETS_MAX with CF_ERR_TOOBIG before writing anything, and answers
   the ids it left out in out->unknown_ids (allocated after the script: CF_ERR_NOMEM then
   comes with the job written). CF_ERR_EXISTS (the id is taken),
   CF_ERR_NOTFOUND (no target is known: nothing written, out->unknown still set), CF_ERR_INVALID (a
   field or an id; why says which), CF_ERR_TOOBIG (params, target, agents). Not retried after a lost
   connection (a repeat answers CF_ERR_EXISTS if the first run happened). *out is the
   caller's; free with cf_db_job_made_clear. */
CF_MUST_USE cf_err_t cf_db_job_create(cf_store_t *store, const cf_db_job_spec_t *spec,
                                      cf_db_job_made_t *out);
/* Free out->unknown and zero *out; NULL is fine. */
void cf_db_job_made_clear(cf_db_job_made_t *out);

/* A job as stored. */
typedef struct {
    char id[CF_DB_JOB_ID_LEN + 1];          /* job id */
    cf_job_type_t type;                     /* type */
    int64_t created;                        /* unix seconds */
    int64_t expires;                        /* unix seconds (a retry sets a new one) */
    int64_t done;                           /* when the last entry became final, 0 open */
    char issuer[CF_JOB_ALIAS_MAX + 1];      /* issuing server */
    char by[CF_DB_USER_MAX + 1];            /* user */
    unsigned min_proto;                     /* protocol level needed */
    char params[CF_DB_JOB_PARAMS_MAX + 1];  /* JSON object text */
    char target[CF_DB_JOB_TARGET_MAX + 1];  /* description */
    int64_t total;                          /* entries */
    int64_t n[CF_JOB_STATE_COUNT];          /* entries per state */
    cf_db_job_rollout_t waves;              /* rollout settings (all zero: none) */
    int paused;                             /* 1: no release until resumed */
    char aborted[CF_DB_JOB_REASON_MAX + 1]; /* why the job was aborted; "" not aborted */
} cf_db_job_t;

/* Read one job (1 RT). CF_ERR_NOTFOUND, CF_ERR_INVALID (id), CF_ERR_CORRUPT. */
CF_MUST_USE cf_err_t cf_db_job_get(cf_store_t *store, const char *id, cf_db_job_t *out);
/* The newest jobs first, at most limit (1..CF_DB_JOB_LIST_MAX) (2 RT: ZREVRANGE of
   cf:jobs, then one pipeline of reads). Jobs whose keys expired are left out. *list_out
   is the caller's (cf_mem_free), *n_out entries. CF_ERR_INVALID, CF_ERR_CORRUPT. */
CF_MUST_USE cf_err_t cf_db_job_list(cf_store_t *store, size_t limit, cf_db_job_t **list_out,
                                    size_t *n_out);

/* One entry of a job. */
typedef struct {
    char agent[CF_DB_ID_MAX + 1];          /* agent id */
    cf_job_state_t state;                  /* its state */
    char reason[CF_DB_JOB_REASON_MAX + 1]; /* reason when failed, else "" */
} cf_db_job_entry_t;

/* A page of a job's entries in no particular order (1 RT, a script walking :st with
   HSCAN). state: keep only that state, or CF_JOB_STATE_COUNT for all. cursor "" (or NULL)
   starts; pass cursor_out (CF_DB_JOB_CURSOR_MAX bytes) back for the next page; it is ""
   when the walk is done. At most limit (1..CF_DB_JOB_PAGE_MAX) entries; a filtered page
   may be short (even empty) with a cursor to go on: one call looks at about 10 x limit
   entries at most. A walk gives every entry exactly once: a page ends between HSCAN
   batches (COUNT a quarter of limit), so a resizing :st hash (right after a big create)
   can at most give an entry twice; only a batch holding more than a page is cut inside,
   and only there could a resize make the walk miss one. With a filter, an entry that
   changes state during the walk is seen in its state of that moment. CF_ERR_NOTFOUND (no job),
   CF_ERR_INVALID. */
CF_MUST_USE cf_err_t cf_db_job_agents(cf_store_t *store, const char *id, cf_job_state_t state,
                                      const char *cursor, size_t limit,
                                      cf_db_job_entry_t **list_out, size_t *n_out,
                                      char *cursor_out);

/* One open job of an agent. */
typedef struct {
    char id[CF_DB_JOB_ID_LEN + 1]; /* job id */
    cf_job_state_t state;          /* pending, delivered, too_old or queued */
    int64_t expires;               /* the job's expiry */
} cf_db_job_open_t;

/* The agent's entries that are not final, of jobs with expires > now, soonest expiry
   first, at most CF_DB_JOB_OPEN_MAX (1 RT): what a check-in or HELLO hands out (pending
   and delivered; too_old and queued ones are listed so the caller sees them). The check-in
   script counts the same sendable entries itself (cf_db_agent_checkin_cmd with jobs). *list_out is
   the caller's (cf_mem_free). An unknown agent has none. CF_ERR_INVALID. */
CF_MUST_USE cf_err_t cf_db_job_agent_open(cf_store_t *store, const char *agent, int64_t now,
                                          cf_db_job_open_t **list_out, size_t *n_out);

/* One transition to apply (borrowed). */
typedef struct {
    const char *job;      /* job id */
    const char *agent;    /* agent id */
    cf_job_event_t event; /* what happened */
    const char *reason;   /* report_failed: why (<= CF_DB_JOB_REASON_MAX; NULL = ""); else
                             ignored */
} cf_db_job_tr_t;

/* What one transition did. */
typedef struct {
    cf_err_t rc;         /* CF_OK; CF_ERR_NOTFOUND: no such job, or the agent is not one of
                            its targets; CF_ERR_STATE: the table refuses (retry of an
                            installed entry ...), nothing changed; CF_ERR_CORRUPT: the
                            stored state is not a state */
    cf_job_state_t from; /* state before (CF_OK and CF_ERR_STATE) */
    cf_job_state_t to;   /* state after; == from: no change, nothing written */
} cf_db_job_res_t;

/* Apply n (1..CF_DB_JOB_BATCH_MAX) transitions in order, in ONE script call (1 RT);
   res[i] (n entries, the caller's) answers tr[i]. now closes a job whose last entry
   becomes final. The call fails as a whole only for bad input (CF_ERR_INVALID, nothing
   applied) or a transport or reply error (then it may or may not have run: a repeat is
   safe, the same report twice is one change). */
CF_MUST_USE cf_err_t cf_db_job_transition(cf_store_t *store, int64_t now, const cf_db_job_tr_t *tr,
                                          size_t n, cf_db_job_res_t *res);

/* Cancel every entry of job id that is not final (pending, delivered, too_old ->
   cancelled), CF_DB_JOB_CHUNK entries per script call (each call consistent; the job is
   closed by the call that ends its last entry). *changed (may be NULL) counts entries
   moved. CF_ERR_NOTFOUND, CF_ERR_INVALID. */
CF_MUST_USE cf_err_t cf_db_job_cancel(cf_store_t *store, const char *id, int64_t now,
                                      size_t *changed);
/* Send job id again: its expires becomes expires (now < expires <= now +
   CF_JOB_MAX_LIFETIME), then failed, expired and cancelled entries go back to pending
   (reasons cleared, the job reopened), in chunks as cancel; the agents' sorted sets get
   the new expiry. A job with batch or rate uses requeue instead (back to queued, out in
   waves again), clears aborted and joins cf:jobs:waves again (1 RT more to read it). CF_ERR_STATE
   when no entry is failed, expired or cancelled (nothing changed), CF_ERR_NOTFOUND, CF_ERR_INVALID.
 */
CF_MUST_USE cf_err_t cf_db_job_retry(cf_store_t *store, const char *id, int64_t now,
                                     int64_t expires, size_t *changed);
/* Agent speaks protocol level proto (1..CF_DB_JOB_PROTO_MAX) now: record proto on
   cf:agent:{id} and move its too_old entries of jobs with min_proto <= proto to pending
   (queued for a job with batch or rate: upgrade_queued),
   in one script (1 RT; work grows with the agent's open entries). *changed (may be NULL)
   counts them. CF_ERR_NOTFOUND (no such agent), CF_ERR_INVALID. */
CF_MUST_USE cf_err_t cf_db_job_upgrade(cf_store_t *store, const char *agent, unsigned proto,
                                       int64_t now, size_t *changed);
/* Record on cf:agent:{id} the CURVE key of the broker its last HELLO came through (field
   broker, Z85) (1 RT). CF_ERR_NOTFOUND (no such agent), CF_ERR_INVALID. */
CF_MUST_USE cf_err_t cf_db_job_set_broker(cf_store_t *store, const char *agent,
                                          const unsigned char broker[CF_CURVE_KEY_LEN]);
/* Read the agent's proto (1 when never recorded) and broker key (*has_broker 0 when none
   recorded; broker zeroed) (1 RT). CF_ERR_NOTFOUND, CF_ERR_INVALID, CF_ERR_CORRUPT. */
CF_MUST_USE cf_err_t cf_db_job_agent_link(cf_store_t *store, const char *agent, unsigned *proto,
                                          unsigned char broker[CF_CURVE_KEY_LEN], int *has_broker);

#define CF_DB_JOB_LINKS_MAX 1000 /* agents in one cf_db_job_agent_links call */
/* One agent's link facts, as cf_db_job_agent_link reads them. */
typedef struct {
    cf_err_t rc;                            /* CF_OK, CF_ERR_NOTFOUND (no such agent),
                                               CF_ERR_CORRUPT (a field is not what it must be) */
    unsigned proto;                         /* protocol level; 1 when never recorded */
    unsigned char broker[CF_CURVE_KEY_LEN]; /* broker of the last HELLO; zero when none */
    int has_broker;                         /* 1 when broker is recorded */
} cf_db_job_link_t;
/* cf_db_job_agent_link for n agents (1..CF_DB_JOB_LINKS_MAX) in one pipeline (1 RT):
   out[i] (n entries, the caller's) for agents[i], each with its own rc. Errors (then out
   is undefined): CF_ERR_INVALID (arguments, a bad agent id), transport errors, CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_db_job_agent_links(cf_store_t *store, const char *const *agents, size_t n,
                                           cf_db_job_link_t *out);

/* What one sweeper step did. */
typedef struct {
    size_t expired; /* entries moved to expired */
    size_t scanned; /* entries looked at */
    size_t closed;  /* jobs closed by this step */
    size_t pruned;  /* ids taken out of cf:jobs because their keys expired */
    int more;       /* 1: work was left for the next step */
} cf_db_job_sweep_t;

/* One bounded sweeper step (the caller holds cf:lease:sweep): for jobs in cf:jobs:open
   past their expiry (oldest expiry first), expire their entries that are not final, at
   most about max_entries (1..10,000,000) entries looked at, CF_DB_JOB_CHUNK per script
   call; the walk of a big job resumes where the last step stopped (field sweep of the job
   hash). A job whose last entry ends closes in that step. Then up to min(remaining budget,
   1000) ids of cf:jobs are looked at, going round from where the last step stopped
   (cf:jobs:prune), and those whose keys expired are taken out. stats->more says whether
   to call again soon. stats (may be NULL). CF_ERR_INVALID. */
CF_MUST_USE cf_err_t cf_db_job_sweep(cf_store_t *store, int64_t now, size_t max_entries,
                                     cf_db_job_sweep_t *stats);

/* ---- rollout controls (cf_db_job_wave.c, docs/jobs.md section 6) ---------------------- */

#define CF_DB_JOB_WAVES_MAX 100 /* jobs one cf_db_job_waves call answers */

/* What one wave step did. */
typedef struct {
    int64_t released; /* entries moved queued -> pending */
    int64_t queued;   /* entries still queued */
    int abort;        /* 1: the step found the threshold passed and set aborted: the caller
                         runs cf_db_job_abort (and logs, audits, counts) */
    int aborting;     /* 1: the job is aborted and still holds entries to abort (a walk
                         cut short): run cf_db_job_abort again */
    int gone;         /* 1: the job left cf:jobs:waves (closed, nothing left to do, or
                         its keys are gone) */
    char reason[CF_DB_JOB_REASON_MAX + 1]; /* with abort: why */
} cf_db_job_wave_t;

/* The ids of up to max (1..CF_DB_JOB_WAVES_MAX) jobs of cf:jobs:waves, oldest first from
   position start (a caller going round passes start + n_out next, and 0 after a short
   answer, so no job waits behind a hundred others), as a new array of n_out ids the
   caller frees (cf_mem_free) (1 RT). CF_ERR_INVALID, CF_ERR_CORRUPT (a malformed id). */
CF_MUST_USE cf_err_t cf_db_job_waves(cf_store_t *store, size_t start, size_t max,
                                     char (**ids_out)[CF_DB_JOB_ID_LEN + 1], size_t *n_out);
/* One wave step of job id at unix milliseconds now_ms (the caller holds cf:lease:wave), ONE
   script call (1 RT): the abort check (max_fail, docs/jobs.md section 6), then unless
   paused or aborted the release of up to CF_DB_JOB_CHUNK queued entries within batch and
   the rate's credit (kept in the job, capped at one second's worth), then the job leaves
   cf:jobs:waves when nothing is left to do. *out says what happened. CF_ERR_INVALID;
   transport errors (a repeat is safe: the state is in Redis). */
CF_MUST_USE cf_err_t cf_db_job_wave_step(cf_store_t *store, const char *id, int64_t now_ms,
                                         cf_db_job_wave_t *out);
/* End what an aborted job has not sent: abort on every entry (queued, pending, too_old ->
   cancelled; delivered ones are left to finish), CF_DB_JOB_CHUNK per call, as
   cf_db_job_cancel. *changed (may be NULL) counts entries moved. CF_ERR_NOTFOUND,
   CF_ERR_INVALID. */
CF_MUST_USE cf_err_t cf_db_job_abort(cf_store_t *store, const char *id, int64_t now,
                                     size_t *changed);
/* Pause (paused 1) or resume (paused 0) job id for user by (1 RT): the paused field and a
   stream event "event paused|resumed by U"; a resume restarts the rate's clock (no burst).
   The caller reads the job afterwards (cf_db_job_get). CF_ERR_STATE: the job has no batch and
   no rate (nothing to pause) or is closed; CF_ERR_NOTFOUND; CF_ERR_INVALID. Pausing a
   paused job (or resuming a running one) is no change and CF_OK. */
CF_MUST_USE cf_err_t cf_db_job_pause(cf_store_t *store, const char *id, int paused, const char *by,
                                     int64_t now_ms);

#endif
