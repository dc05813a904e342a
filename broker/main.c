/*  cf-broker - the ZeroMQ broker between servers and agents: options, keys, run, stop  */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <czmq.h>
#include <openssl/crypto.h>

#include "cf_broker.h"
#include "cf_broker_opts.h"
#include "cf_log.h"
#include "cf_mem.h"

#define S_PROG "cf-broker"

static const char s_exit_help[] = "\nExit status:\n"
                                  "  0  stopped by SIGTERM or SIGINT, or --help, --keygen, "
                                  "--print-config done\n"
                                  "  1  could not start or serve (the log line says why)\n"
                                  "  2  bad command line or configuration file\n";

typedef struct {
    cf_cfg_t *cfg;           /* options */
    cf_store_cfg_t scfg;     /* Redis settings */
    char *redis_password;    /* owned secret */
    cf_curve_keypair_t keys; /* the broker's keypair (wiped) */
    cf_broker_t *broker;     /* owned */
} s_main_t;

static int s_usage_error(const char *text)
{
    fprintf(stderr, S_PROG ": %s\nTry '" S_PROG " --help'.\n", text);
    return 2;
}

static int s_serve(s_main_t *s)
{
    cf_why_t why = {""};
    cf_err_t rc = cf_broker_opts_store(s->cfg, &s->scfg, &s->redis_password, &why);
    if (rc == CF_OK)
        rc = cf_curve_keypair_load(cf_cfg_str(s->cfg, "key-file"), &s->keys, &why);
    if (rc == CF_OK) {
        cf_broker_cfg_t bcfg;
        cf_broker_opts_broker(s->cfg, &s->keys, &s->scfg, &bcfg);
        rc = cf_broker_new(&bcfg, &s->broker, &why);
    }
    if (rc == CF_OK)
        rc = cf_broker_run(s->broker);
    if (rc != CF_OK) {
        cf_log(CF_LOG_ERROR, "msg=\"cannot serve\" err=%s why=\"%s\"", cf_err_name(rc),
               cf_why_text(&why, rc));
        fprintf(stderr, S_PROG ": %s\n", cf_why_text(&why, rc));
        return 1;
    }
    return 0;
}

static int s_main(s_main_t *s, int argc, char **argv)
{
    size_t n = 0;
    const cf_cfg_opt_t *opts = cf_broker_opts(&n);
    s->cfg = cf_cfg_new(opts, n);
    if (!s->cfg)
        return 1;
    cf_why_t why = {""};
    cf_err_t rc = cf_cfg_parse_args(s->cfg, argc, argv, &why);
    if (rc != CF_OK)
        return s_usage_error(cf_why_text(&why, rc));
    if (cf_cfg_bool(s->cfg, "help")) {
        cf_cfg_usage(s->cfg, stdout, S_PROG, "[-c FILE] [OPTIONS] | --keygen --out DIR");
        fputs(s_exit_help, stdout);
        return 0;
    }
    if (cf_cfg_bool(s->cfg, "print-config"))
        return cf_cfg_write_example(s->cfg, stdout) == CF_OK ? 0 : 1;
    int extra = 0;
    cf_cfg_args(s->cfg, &extra);
    cf_log_level_t level = CF_LOG_INFO;
    if (extra > 0 || cf_log_level_from_name(cf_cfg_str(s->cfg, "log-level"), &level) != CF_OK)
        return s_usage_error("unexpected argument");
    cf_log_set_level(level);
    if (cf_cfg_bool(s->cfg, "keygen")) {
        rc = cf_broker_opts_keygen(s->cfg, stdout, &why);
        if (rc != CF_OK)
            fprintf(stderr, S_PROG ": %s\n", cf_why_text(&why, rc));
        return rc == CF_OK ? 0 : 1;
    }
    return s_serve(s);
}

int main(int argc, char **argv)
{
    cf_log_set_component(S_PROG);
    signal(SIGPIPE, SIG_IGN); /* hiredis and libevent write to sockets that may be gone */
    zsys_handler_set(NULL);   /* the broker's loop handles SIGINT and SIGTERM, not CZMQ */
    s_main_t *s = cf_mem_calloc(1, sizeof(*s));
    int code = s ? s_main(s, argc, argv) : 1;
    if (s) {
        cf_broker_destroy(&s->broker);
        cf_curve_keypair_wipe(&s->keys);
        cf_mem_free_secret_str(s->redis_password);
        cf_cfg_destroy(&s->cfg);
    }
    cf_mem_free(s);
    zsys_shutdown();
    OPENSSL_cleanup();
    return code;
}
