/*  cf_link_int - the link's state, shared by the cf_link*.c files (not for handlers)  */
#ifndef CF_LINK_INT_H_INCLUDED
#define CF_LINK_INT_H_INCLUDED

#include <czmq.h>

#include "cf_link.h"
#include "cf_link_queue.h"

struct cf_link {
    cf_app_t *app;                                  /* borrowed */
    cf_store_t *store;                              /* the thread's Redis connection, owned */
    cf_curve_keypair_t kp;                          /* this run's CURVE keypair (wiped) */
    char z85[CF_CURVE_Z85_LEN + 1];                 /* its public key as Z85 */
    char rid[80];                                   /* routing id "server:<alias>" */
    cf_curve_broker_t brokers[CF_LINK_MAX_BROKERS]; /* the brokers */
    char broker_z85[CF_LINK_MAX_BROKERS][CF_CURVE_Z85_LEN + 1]; /* their keys as Z85 */
    size_t n_brokers;                                           /* entries in brokers */
    zsock_t *dealers[CF_LINK_MAX_BROKERS];                      /* one DEALER per broker, owned */
    cf_link_queue_t queue;                                      /* job ids from the workers */
    zactor_t *actor;                                            /* the link thread, owned */
};

#endif
