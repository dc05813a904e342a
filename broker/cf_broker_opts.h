/*  cf_broker_opts - cf-broker's option table (every key is also a flag) and what it turns
    into: Redis settings, socket options, --keygen  */
#ifndef CF_BROKER_OPTS_H_INCLUDED
#define CF_BROKER_OPTS_H_INCLUDED

#include <stdio.h>

#include "cf_broker.h"
#include "cf_cfg.h"
#include "cf_store_addr.h"

/* The table (static, borrowed) and its length. */
const cf_cfg_opt_t *cf_broker_opts(size_t *n);

/* Redis settings from --redis / --redis-sentinel --redis-master / --redis-password-file.
   *password_out (may stay NULL) is the caller's: cf_mem_free_secret_str. Errors: as
   cf_store_cfg_parse_redis / _sentinels and cf_cfg_read_secret_file (why says which). */
CF_MUST_USE cf_err_t cf_broker_opts_store(const cf_cfg_t *cfg, cf_store_cfg_t *out,
                                          char **password_out, cf_why_t *why);
/* Socket options of both ROUTERs from --hwm, --heartbeat-ivl, --heartbeat-timeout,
   --handshake-ivl and --max-msg (no heartbeat TTL: docs/zap.md "What heartbeats cost"). */
void cf_broker_opts_zsock(const cf_cfg_t *cfg, cf_zsock_cfg_t *out);
/* The broker settings (strings borrowed from cfg, keys and store borrowed from the
   caller); zsock as cf_broker_opts_zsock; handle_signals on. */
void cf_broker_opts_broker(const cf_cfg_t *cfg, const cf_curve_keypair_t *keys,
                           const cf_store_cfg_t *store, cf_broker_cfg_t *out);
/* --keygen: a new keypair written to OUT/broker.key and OUT/broker.key_secret (never
   overwriting), and on out the lines servers and install packages carry
   ("tcp://HOST:PORT#Z85" for each bind endpoint; a wildcard host is shown as HOST).
   Errors: as cf_curve_keypair_new and cf_curve_keypair_save (CF_ERR_EXISTS: files there). */
CF_MUST_USE cf_err_t cf_broker_opts_keygen(const cf_cfg_t *cfg, FILE *out, cf_why_t *why);

#endif
