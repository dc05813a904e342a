/*  cf_server_opts - cf-server's option table (every key is also a flag) and turning the
    parsed options into the settings of the modules  */
#ifndef CF_SERVER_OPTS_H_INCLUDED
#define CF_SERVER_OPTS_H_INCLUDED

#include "cf_cfg.h"
#include "cf_curve.h"
#include "cf_start.h"
#include "cf_store.h"

/* The table (static, borrowed) and its length. */
const cf_cfg_opt_t *cf_server_opts(size_t *n);

/* Redis settings from --redis / --redis-sentinel --redis-master / --redis-password-file.
 *password_out (may stay NULL) is the caller's: cf_mem_free_secret_str. */
CF_MUST_USE cf_err_t cf_server_opts_store(const cf_cfg_t *cfg, cf_store_cfg_t *out,
                                          char **password_out, cf_why_t *why);
/* Start-up settings (strings borrowed from cfg; the admin password read into
 *admin_out, the caller's: cf_mem_free_secret_str). */
CF_MUST_USE cf_err_t cf_server_opts_start(const cf_cfg_t *cfg, cf_start_opts_t *out,
                                          char **admin_out, char **p12_out, cf_why_t *why);

/* The --broker endpoints (repeatable; "tcp://HOST:PORT#Z85", or "tls://HOST:PORT#Z85" for a
   broker's TLS-wrapped port) into out[0..CF_LINK_MAX_BROKERS - 1], each as tcp://; tls (may
   be NULL; CF_LINK_MAX_BROKERS entries) gets 1 for the tls:// ones; *n_out = how many (0:
   no broker links). Errors: CF_ERR_INVALID (an endpoint that does not parse, the same
   broker key twice; why names the entry), CF_ERR_TOOBIG. */
CF_MUST_USE cf_err_t cf_server_opts_brokers(const cf_cfg_t *cfg, cf_curve_broker_t *out,
                                            unsigned char *tls, size_t *n_out, cf_why_t *why);

#endif
