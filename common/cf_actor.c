/*  cf_actor - the caller's side of a zactor request: sent and answered through signals  */
#include "cf_actor.h"

#include <errno.h>
#include <stdarg.h>

int cf_actor_answer(void *actor, const char *picture, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, picture);
        int rc = zsock_vrecv(actor, picture, ap);
        va_end(ap);
        if (rc == 0 || zmq_errno() != EINTR)
            return rc;
    }
}

int cf_actor_request(void *actor, const char *picture, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, picture);
        int rc = zsock_vsend(actor, picture, ap);
        va_end(ap);
        if (rc == 0 || zmq_errno() != EINTR)
            return rc;
    }
}
