/*  cf_broker_peers - the peers a broker holds on one ROUTER: identity -> connection facts  */
#ifndef CF_BROKER_PEERS_H_INCLUDED
#define CF_BROKER_PEERS_H_INCLUDED

#include <stddef.h>

#include "cf_err.h"
#include "cf_zsock.h"

/* A peer is held from its first message whose routing id equals its ZAP User-Id (the
   broker sends to a routing id only after that proof, docs/zap.md) until its connection
   ends (a monitor's DISCONNECTED with the descriptor the peer's messages showed), a send
   to it finds no such peer, or its key is revoked. The facts of its latest message (the
   descriptor and both addresses) are what cf_zsock_peer_shut needs. One owner thread. */
typedef struct cf_broker_peers cf_broker_peers_t;

/* An empty set holding at most max peers (1..1048576). *out is the caller's
   (cf_broker_peers_destroy). Errors: CF_ERR_INVALID, CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_broker_peers_new(size_t max, cf_broker_peers_t **out);
/* Free the set; NULLs *self_p; safe to repeat. */
void cf_broker_peers_destroy(cf_broker_peers_t **self_p);

/* Hold id (1..CF_ALLOW_ID_MAX bytes, NUL-terminated) with the facts of its latest message
   (copied), replacing what it had. If another id was held on the same descriptor, that
   connection has ended (descriptors are reused only after a close): it is forgotten.
   *is_new (may be NULL) gets 1 when id was not held. Errors: CF_ERR_INVALID,
   CF_ERR_TOOBIG (max peers held), CF_ERR_NOMEM (the set is unchanged). */
CF_MUST_USE cf_err_t cf_broker_peers_learn(cf_broker_peers_t *self, const char *id,
                                           const cf_zsock_peer_t *peer, int *is_new);
/* The facts held for id, or NULL. Borrowed: valid until the next learn or forget. */
const cf_zsock_peer_t *cf_broker_peers_find(const cf_broker_peers_t *self, const char *id);
/* Stop holding id. Returns 1 if it was held. */
int cf_broker_peers_forget(cf_broker_peers_t *self, const char *id);
/* The connection on descriptor fd ended: stop holding the id held on it. Returns 1 if
   one was held. */
int cf_broker_peers_forget_fd(cf_broker_peers_t *self, int fd);
/* Peers held. */
size_t cf_broker_peers_count(const cf_broker_peers_t *self);
/* A copy of the ids held (for a loop that may forget some as it goes): *ids_out is a
   NULL-terminated array the caller frees with cf_broker_peers_ids_free; *n_out the count.
   Errors: CF_ERR_INVALID, CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_broker_peers_ids(const cf_broker_peers_t *self, char ***ids_out,
                                         size_t *n_out);
/* Free what cf_broker_peers_ids made; NULLs *ids_p. */
void cf_broker_peers_ids_free(char ***ids_p);

#endif
