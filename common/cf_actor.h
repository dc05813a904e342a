/*  cf_actor - the caller's side of a zactor request: sent and answered through signals  */
#ifndef CF_ACTOR_H_INCLUDED
#define CF_ACTOR_H_INCLUDED

#include <czmq.h>

/* zsock_recv(actor, picture, ...) of the answer to a request just sent (actor: a zactor_t
   or a zsock_t, as zsock_recv takes), waiting on when a signal interrupts the wait (EINTR:
   a daemon's SIGTERM, SIGHUP). Giving up there would be wrong twice over: the actor still answers,
   so the next request would read this answer, and a request that handed the actor a pointer into
   the caller's stack (an out argument) would have it written after the caller returned. Returns 0,
   or -1 for any other failure (ETERM: the context is going away). */
int cf_actor_answer(void *actor, const char *picture, ...);
/* zsock_send(actor, picture, ...) of a request, sent again when a signal interrupted it
   (libzmq fails a send with EINTR before it queues anything: the commands it checks first
   are throttled, so only a message's first frame can meet the signal). 0, or -1. */
int cf_actor_request(void *actor, const char *picture, ...);

#endif
