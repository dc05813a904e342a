/*  cf_store_opts - the Redis options cf-server and cf-broker share  */
#include "cf_store_opts.h"

cf_err_t cf_store_opts_apply(const cf_cfg_t *cfg, cf_store_cfg_t *out, char **password_out,
                             cf_why_t *why)
{
    *password_out = NULL;
    cf_store_cfg_init(out);
    const char *sentinels = cf_cfg_str(cfg, "redis-sentinel");
    if (sentinels) {
        CF_TRY(cf_store_cfg_parse_sentinels(out, sentinels, why));
        CF_TRY(cf_store_cfg_set_master(out, cf_cfg_str(cfg, "redis-master"), why));
    } else {
        CF_TRY(cf_store_cfg_parse_redis(out, cf_cfg_str(cfg, "redis"), why));
    }
    const char *pw = cf_cfg_str(cfg, "redis-password-file");
    if (pw) {
        CF_TRY(cf_cfg_read_secret_file(pw, CF_STORE_OPTS_MAX_SECRET, 0, password_out, why));
        out->password = *password_out;
    }
    return CF_OK;
}
