/*  cf_store_opts - the Redis options cf-server and cf-broker share (--redis, --redis-sentinel,
    --redis-master, --redis-password-file): their rows in an option table, and the store
    configuration they give  */
#ifndef CF_STORE_OPTS_H_INCLUDED
#define CF_STORE_OPTS_H_INCLUDED

#include "cf_cfg.h"
#include "cf_err.h"
#include "cf_store_addr.h"

#define CF_STORE_OPTS_MAX_SECRET 1024 /* longest Redis password read from a file, bytes */

/* The four rows, to put in a program's cf_cfg_opt_t table. */
#define CF_STORE_OPTS_ROWS                                                                         \
    {"redis", 'r', CF_CFG_STRING, "HOST:PORT", "Redis address, or unix:PATH", "127.0.0.1:6379",    \
     0,       0,   NULL},                                                                          \
        {"redis-sentinel",                                                                         \
         0,                                                                                        \
         CF_CFG_STRING,                                                                            \
         "H:P[,H:P]",                                                                              \
         "ask these Sentinels for the master",                                                     \
         NULL,                                                                                     \
         0,                                                                                        \
         0,                                                                                        \
         NULL},                                                                                    \
        {"redis-master",                                                                           \
         0,                                                                                        \
         CF_CFG_STRING,                                                                            \
         "NAME",                                                                                   \
         "the Sentinels' master name",                                                             \
         "certfleet",                                                                              \
         0,                                                                                        \
         0,                                                                                        \
         NULL},                                                                                    \
    {                                                                                              \
        "redis-password-file", 0, CF_CFG_PATH, "FILE", "Redis password (file mode 0600)", NULL, 0, \
            0, NULL                                                                                \
    }

/* Fill *out (cf_store_cfg_init first) from those options of cfg: the Sentinels and master
   name when --redis-sentinel is set, else --redis; the password from --redis-password-file
   into *password_out (the caller's, cf_mem_free_secret_str; NULL without the option), which
   out->password points to. Errors (why says which option): those of the address parsers
   and of cf_cfg_read_secret_file. */
CF_MUST_USE cf_err_t cf_store_opts_apply(const cf_cfg_t *cfg, cf_store_cfg_t *out,
                                         char **password_out, cf_why_t *why);

#endif
