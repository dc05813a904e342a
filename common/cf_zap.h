/*  cf_zap - the broker's ZAP handler (RFC 27): CURVE keys checked against an in-memory list  */
#ifndef CF_ZAP_H_INCLUDED
#define CF_ZAP_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "cf_allow.h"
#include "cf_curve.h"
#include "cf_err.h"

#define CF_ZAP_ENDPOINT   "inproc://zeromq.zap.01" /* where libzmq asks (RFC 27) */
#define CF_ZAP_DOMAIN_MAX 254                      /* longest ZAP domain, bytes */
#define CF_ZAP_KIND_PROP  "X-Cf-Kind" /* metadata on allowed peers: "agent" or "server" */

/* The handler is a CZMQ actor: its own thread owns a ZMQ_REP socket bound to
   CF_ZAP_ENDPOINT in CZMQ's process-wide context (zsys) and the allow list; every other
   thread talks to it through the actor pipe (the calls below are synchronous requests;
   the pipe is a PAIR socket, so the calls on one cf_zap_t come from one thread).
   It answers 200 (User-Id = the key's identity, metadata CF_ZAP_KIND_PROP) for a CURVE key
   on the list, 400 for any other key, for a mechanism other than CURVE, or for a domain
   other than the configured one, and 500 for a malformed request.
   Order rule: libzmq 4.3 lets every key in when no handler is bound, so create the handler
   before any CURVE server socket binds (cf_zsock_curve_router takes the handler to make
   that natural) and destroy it only after those sockets are closed. docs/zap.md. */
typedef struct cf_zap cf_zap_t;

typedef struct {
    const char *domain; /* ZAP domain requests must carry; NULL or "" = any domain */
    size_t max_keys;    /* cap on the allow list; 0 = CF_ALLOW_MAX_KEYS */
} cf_zap_cfg_t;

/* Counters since the handler started. */
typedef struct {
    uint64_t allowed;          /* 200: key on the list */
    uint64_t denied_unknown;   /* 400: key not on the list (never listed, or removed) */
    uint64_t denied_mechanism; /* 400: NULL, PLAIN or another mechanism than CURVE */
    uint64_t denied_domain;    /* 400: a ZAP domain other than the configured one */
    uint64_t bad_request;      /* 500: malformed request (RFC 27 shape, key size) */
    uint64_t keys;             /* keys on the list now */
} cf_zap_stats_t;

/* Start the handler with an empty list (cfg NULL = defaults). Returns only once the REP
   socket is bound, so a CURVE socket made afterwards is always checked. *out is the
   caller's (cf_zap_destroy). Uses CZMQ's context: CURVE sockets must live there too (zsock,
   or zsys_init()'s context). Errors: CF_ERR_INVALID (domain over CF_ZAP_DOMAIN_MAX or with
   a NUL), CF_ERR_TOOBIG (max_keys), CF_ERR_EXISTS (another handler is bound in this
   process), CF_ERR_NOMEM, CF_ERR_IO (why says which). */
CF_MUST_USE cf_err_t cf_zap_new(const cf_zap_cfg_t *cfg, cf_zap_t **out, cf_why_t *why);
/* Stop the handler (after closing the CURVE sockets that rely on it); NULLs *self_p;
   safe to repeat. */
void cf_zap_destroy(cf_zap_t **self_p);
/* The configured domain ("" = any). Borrowed: lives as long as the handler. */
const char *cf_zap_domain(const cf_zap_t *self);

/* List key as kind/name (cf_allow_put rules), replacing what the key had. Applied before
   this returns: the next handshake with key succeeds. Errors: as cf_allow_put. */
CF_MUST_USE cf_err_t cf_zap_put(cf_zap_t *self, const unsigned char key[CF_CURVE_KEY_LEN],
                                cf_allow_kind_t kind, const char *name, cf_why_t *why);
/* Take key off the list. Applied before this returns: the next handshake with key is
   refused (connections already open stay open: shut them, cf_zsock_peer_shut).
   Errors: CF_ERR_INVALID, CF_ERR_NOTFOUND (was not listed). */
CF_MUST_USE cf_err_t cf_zap_remove(cf_zap_t *self, const unsigned char key[CF_CURVE_KEY_LEN]);
/* Replace the whole list at once (a resync): takes *list_p (NULLs it), which the caller
   built with cf_allow_new/cf_allow_put in its own thread; the handler swaps it in between
   two requests, and the old list is freed here, in the caller's thread. No handshake sees
   a half-loaded list. Errors: CF_ERR_INVALID (NULL; *list_p is then left as it was). */
CF_MUST_USE cf_err_t cf_zap_replace(cf_zap_t *self, cf_allow_t **list_p);
/* Current counters. Errors: CF_ERR_INVALID. */
CF_MUST_USE cf_err_t cf_zap_stats(cf_zap_t *self, cf_zap_stats_t *out);

#endif
