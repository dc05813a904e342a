/*  cf_itest_linked - a deployment with its broker for the tests of agents and simulators:
    the deployment secret and admin password beside a started broker, srv-a linked to it, the
    CA read back from Redis, the console's certificate and an admin session  */
#ifndef CF_ITEST_LINKED_H
#define CF_ITEST_LINKED_H

#include <stddef.h>

#include "cf_itest_broker.h"
#include "cf_itest_fleet.h"

/* After the broker b is up (or, for a TLS broker, its Redis and keys are ready): fx shares
   b's directory and Redis; there the deployment secret and admin.pass; srv-a (priority 10,
   127.0.0.0/25, --init) with "--broker <b's server endpoint>" and the NULL-terminated more
   arguments (NULL: none); the CA it made, from Redis, into fx->ca and <dir>/ca.pem; the
   console's certificate and an admin session in fx->token. Fails the test on any error. */
void cf_itest_linked_start(cf_itest_fleet_t *fx, cf_itest_broker_t *b, const char *const *more);

/* An enrollment token good for uses enrollments for an hour, created at srv-a, into out
   (cap bytes). Fails the test on any error. */
void cf_itest_linked_token(cf_itest_fleet_t *fx, int uses, char *out, size_t cap);

/* The other end of cf_itest_linked_start: the certificates fx holds, srv-a and srv-b (when
   running) stopped by SIGTERM, the CA and the secret, then the broker b and its Redis. */
void cf_itest_linked_stop(cf_itest_fleet_t *fx, cf_itest_broker_t *b);

#endif
