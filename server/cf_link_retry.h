/*  cf_link_retry - agents a broker answered "offline" for: their open jobs go out again a
    few times, in case the agent was between two connections  */
#ifndef CF_LINK_RETRY_H_INCLUDED
#define CF_LINK_RETRY_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "cf_err.h"
#include "cf_msg.h"

#define CF_LINK_RETRY_TRIES  3      /* sends again after an "offline" answer, then no more */
#define CF_LINK_RETRY_MARGIN 10     /* s: a retry skips jobs that expire sooner */
#define CF_LINK_RETRY_AGENTS 100000 /* agents waiting for a retry at most (more: not held) */

/* An agent that reconnects at once (a dropped connection, a broker that lost it) does not
   always say HELLO again: its link never looked down. A JOB that reached the broker in
   that gap was answered "offline" and would wait for the agent's next check-in. The link
   holds such agents and sends their open jobs again, through every broker (it may have
   come back at another), after 5 s, 30 s and 2 min (each with up to a quarter more,
   random), until one is not answered "offline" any more or the tries are used up; a HELLO
   or a fact from the agent ends its wait. One per link thread; not thread-safe. */
typedef struct cf_link_retry cf_link_retry_t;

/* An empty set holding at most max agents (0: CF_LINK_RETRY_AGENTS). CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_link_retry_new(size_t max, cf_link_retry_t **out);
void cf_link_retry_destroy(cf_link_retry_t **self_p); /* NULL-safe, idempotent */

/* Broker answered "offline" for agent at now_ms. The first answer schedules the first
   retry; answers before that retry is due change nothing (the other jobs of the same
   walk); an answer after it counts a try and schedules the next one, or forgets the agent
   when CF_LINK_RETRY_TRIES are used. Returns 1 when a retry is scheduled, 0 when not (tries
   used up, the set full, out of memory). */
int cf_link_retry_offline(cf_link_retry_t *self, const char *agent, size_t broker, int64_t now_ms);
/* The agent spoke (HELLO, RECEIPT, REPORT): it is connected; forget it. */
void cf_link_retry_forget(cf_link_retry_t *self, const char *agent);

/* Call fn(ctx, agent, broker) for each agent whose retry is due at now_ms (it stays held
   until its next "offline" answer or its forget). Returns how many were due. */
size_t cf_link_retry_run(cf_link_retry_t *self, int64_t now_ms,
                         void (*fn)(void *ctx, const char *agent, size_t broker), void *ctx);
/* ms from now_ms until the next retry is due (0: one is due), or -1 when none waits. */
int64_t cf_link_retry_next(const cf_link_retry_t *self, int64_t now_ms);
/* Agents held. */
size_t cf_link_retry_size(const cf_link_retry_t *self);

#endif
