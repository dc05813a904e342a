/*  cf_https_int - what cf_https.c (workers, listeners) and cf_https_tls.c (SSL_CTX) share  */
#ifndef CF_HTTPS_INT_H_INCLUDED
#define CF_HTTPS_INT_H_INCLUDED

#include <openssl/ssl.h>

#include "cf_https.h"

/* What every SSL_CTX of one cf_https_t reports refusals to (owned by the cf_https_t,
   immutable after cf_https_new, so workers read it without a lock). */
typedef struct {
    cf_https_refused_fn *on_refused; /* may be NULL */
    void *arg;                       /* its argument */
} cf_https_hooks_t;

/* Build a server SSL_CTX from tls under the policy of docs/https.md. The context carries
   its own copy of the revoked set and a pointer to hooks (which must outlive it); both go
   with the context's last reference. Errors as cf_https_new. */
CF_MUST_USE cf_err_t cf_https_ctx_new(const cf_https_tls_t *tls, const cf_https_hooks_t *hooks,
                                      SSL_CTX **out, cf_why_t *why);

/* A new server-side SSL on ctx for one connection: client certificate requested, and
   required when require is set. on_free(arg) runs on the thread that frees the SSL (the
   worker's), after the connection's cached peer is gone. NULL on out-of-memory. */
SSL *cf_https_ssl_new(SSL_CTX *ctx, int require, void (*on_free)(void *arg), void *arg);

/* The peer of a TLS connection, computed at its first request and cached on ssl. addr and
   port come from evhttp (already text). NULL on out-of-memory. */
const cf_https_peer_t *cf_https_ssl_peer(SSL *ssl, const char *addr, unsigned port);

#endif
