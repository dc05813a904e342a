/*  cf_test_cfg - the option table and helpers test_cfg and test_cfg_file share: a table like
    cf-server's with every option type, argv building, files in the test's directory  */
#ifndef CF_TEST_CFG_H_INCLUDED
#define CF_TEST_CFG_H_INCLUDED

#include <stdio.h>
#include <string.h>

#include "cf_cfg.h"
#include "cf_test.h"

/* Define S_CFG_TEST_NAME (the scratch directory's name) before including this file. */

static char s_dir[512];

static const char *const s_levels[] = {"debug", "info", "warn", "error", NULL};

/* A table like cf-server's, with every type. */
static const cf_cfg_opt_t s_opts[] = {
    {"redis", 'r', CF_CFG_STRING, "HOST:PORT", "Redis address or unix:PATH", "127.0.0.1:6379", 0, 0,
     NULL},
    {"alias", 0, CF_CFG_STRING, "NAME", "this server's alias", NULL, 0, 0, NULL},
    {"port", 'p', CF_CFG_INT, "N", "HTTPS port", "7005", 1, 65535, NULL},
    {"priority", 0, CF_CFG_INT, "N", "larger is preferred", "0", -1000, 1000, NULL},
    {"ip-range", 0, CF_CFG_LIST, "RANGE", "primary IP range", NULL, 0, 4, NULL},
    {"broker", 0, CF_CFG_LIST, "ENDPOINT", "broker endpoint", "tcp://127.0.0.1:7010", 0, 0, NULL},
    {"init", 'i', CF_CFG_BOOL, NULL, "create the CA on first start", NULL, 0, 0, NULL},
    {"allow-plain", 0, CF_CFG_BOOL, NULL, "serve agents without certificates", "true", 0, 0, NULL},
    {"log-level", 0, CF_CFG_ENUM, "LEVEL", "log level", "info", 0, 0, s_levels},
    {"secret-file", 0, CF_CFG_PATH, "FILE", "the deployment's secret", NULL, 0, 0, NULL},
    {"renew-before", 0, CF_CFG_DURATION, NULL, "renew this long before expiry", "30d", 60,
     365 * 86400LL, NULL},
    {"timeout", 0, CF_CFG_DURATION, NULL, "request timeout", "30s", 0, 0, NULL},
    {"max-body", 0, CF_CFG_SIZE, NULL, "largest request body", "64k", 1024, 16 << 20, NULL},
};
#define S_NOPTS (sizeof(s_opts) / sizeof(s_opts[0]))

static int s_setup(void **state)
{
    (void) state;
    cf_test_tmpdir(S_CFG_TEST_NAME, s_dir, sizeof(s_dir));
    return 0;
}

/* Parse "prog" followed by the NULL-terminated words. */
static cf_err_t s_parse_v(cf_cfg_t *cfg, cf_why_t *why, char **words)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = "prog";
    for (; *words && argc < 63; words++)
        argv[argc++] = *words;
    argv[argc] = NULL;
    return cf_cfg_parse_args(cfg, argc, argv, why);
}
#define S_PARSE(cfg, why, ...) s_parse_v((cfg), (why), (char *[]){__VA_ARGS__, NULL})

static const char *s_file(const char *name, const char *text)
{
    static char path[600];
    snprintf(path, sizeof(path), "%s/%s", s_dir, name);
    cf_test_write_file(path, text, strlen(text));
    return path;
}

static cf_cfg_t *s_new(void)
{
    cf_cfg_t *cfg = cf_cfg_new(s_opts, S_NOPTS);
    assert_non_null(cfg);
    return cfg;
}

#endif
