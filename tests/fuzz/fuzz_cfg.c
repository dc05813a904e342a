/*  fuzz_cfg - configuration file text against a fixed table: no crash, caps hold, round trip  */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_cfg.h"
#include "cf_mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const s_levels[] = {"debug", "info", "warn", "error", NULL};

/* Every type, with ranges and a small list cap so the fuzzer reaches the limits. */
static const cf_cfg_opt_t s_opts[] = {
    {"redis", 'r', CF_CFG_STRING, "HOST:PORT", "Redis address", "127.0.0.1:6379", 0, 0, NULL},
    {"alias", 0, CF_CFG_STRING, "NAME", "alias", NULL, 0, 0, NULL},
    {"port", 0, CF_CFG_INT, "N", "port", "7005", 1, 65535, NULL},
    {"priority", 0, CF_CFG_INT, "N", "priority", NULL, 0, 0, NULL},
    {"ip-range", 0, CF_CFG_LIST, "RANGE", "ranges", NULL, 0, 8, NULL},
    {"broker", 0, CF_CFG_LIST, "ENDPOINT", "brokers", "tcp://127.0.0.1:7010", 0, 0, NULL},
    {"init", 0, CF_CFG_BOOL, NULL, "init", NULL, 0, 0, NULL},
    {"log-level", 0, CF_CFG_ENUM, "LEVEL", "log level", "info", 0, 0, s_levels},
    {"secret-file", 0, CF_CFG_PATH, "FILE", "secret", NULL, 0, 0, NULL},
    {"renew-before", 0, CF_CFG_DURATION, NULL, "renewal", "30d", 60, 365 * 86400LL, NULL},
    {"timeout", 0, CF_CFG_DURATION, NULL, "timeout", NULL, 0, 0, NULL},
    {"max-body", 0, CF_CFG_SIZE, NULL, "body cap", "64k", 1024, 16 << 20, NULL},
};
#define S_NOPTS (sizeof(s_opts) / sizeof(s_opts[0]))

static void s_check(int cond)
{
    if (!cond)
        abort();
}

/* Append `key = "value"` (quoted, escaped) to a memstream. */
static void s_write_quoted(FILE *out, const char *key, const char *value)
{
    fprintf(out, "%s = \"", key);
    for (const char *p = value; *p; p++) {
        if (*p == '"' || *p == '\\')
            fputc('\\', out);
        fputc(*p, out);
    }
    fputs("\"\n", out);
}

/* Write the strings and lists given in cfg back as a file. */
static char *s_serialize(const cf_cfg_t *cfg, size_t *len)
{
    char *text = NULL;
    FILE *out = open_memstream(&text, len);
    s_check(out != NULL);
    for (size_t i = 0; i < S_NOPTS; i++) {
        const cf_cfg_opt_t *o = &s_opts[i];
        if (!cf_cfg_is_set(cfg, o->name))
            continue;
        if (o->type == CF_CFG_STRING || o->type == CF_CFG_PATH) {
            s_write_quoted(out, o->name, cf_cfg_str(cfg, o->name));
        } else if (o->type == CF_CFG_LIST) {
            size_t n = 0;
            const char *const *items = cf_cfg_list(cfg, o->name, &n);
            for (size_t k = 0; k < n; k++)
                s_write_quoted(out, o->name, items[k]);
            if (n == 0)
                fprintf(out, "%s =\n", o->name);
        }
    }
    s_check(fclose(out) == 0);
    return text;
}

/* What an accepted file must give: values within their caps and ranges. */
static void s_check_values(const cf_cfg_t *cfg)
{
    long long port = cf_cfg_int(cfg, "port");
    s_check(port >= 1 && port <= 65535);
    long long renew = cf_cfg_int(cfg, "renew-before");
    s_check(renew >= 60 && renew <= 365 * 86400LL);
    s_check(cf_cfg_int(cfg, "timeout") >= 0);
    s_check(cf_cfg_enum(cfg, "log-level") < 4);
    const char *path = cf_cfg_str(cfg, "secret-file");
    s_check(!path || (*path && strlen(path) < CF_CFG_MAX_VALUE));
    size_t n = 0;
    const char *const *items = cf_cfg_list(cfg, "ip-range", &n);
    s_check(n <= 8 && items[n] == NULL);
    for (size_t k = 0; k < n; k++)
        s_check(*items[k] && !strchr(items[k], ',') && strlen(items[k]) < CF_CFG_MAX_VALUE);
}

/* Strings and lists written back and read again give the same values. */
static void s_check_round_trip(const cf_cfg_t *cfg)
{
    size_t len = 0;
    char *text = s_serialize(cfg, &len);
    cf_cfg_t *again = cf_cfg_new(s_opts, S_NOPTS);
    s_check(again != NULL);
    cf_why_t why = {{0}};
    cf_err_t rc = cf_cfg_parse_text(again, "again", text, len, &why);
    /* a value near the cap can make its quoted line too long; nothing else may fail */
    s_check(rc == CF_OK || rc == CF_ERR_TOOBIG);
    for (size_t i = 0; rc == CF_OK && i < S_NOPTS; i++) {
        const char *name = s_opts[i].name;
        if (!cf_cfg_is_set(cfg, name))
            continue;
        if (s_opts[i].type == CF_CFG_STRING || s_opts[i].type == CF_CFG_PATH)
            s_check(strcmp(cf_cfg_str(cfg, name), cf_cfg_str(again, name)) == 0);
        if (s_opts[i].type == CF_CFG_LIST) {
            size_t n1 = 0;
            size_t n2 = 0;
            const char *const *a = cf_cfg_list(cfg, name, &n1);
            const char *const *b = cf_cfg_list(again, name, &n2);
            s_check(n1 == n2);
            for (size_t k = 0; k < n1; k++)
                s_check(strcmp(a[k], b[k]) == 0);
        }
    }
    cf_cfg_destroy(&again);
    free(text); /* open_memstream's buffer comes from libc */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cf_cfg_t *cfg = cf_cfg_new(s_opts, S_NOPTS);
    s_check(cfg != NULL);
    cf_why_t why = {{0}};
    cf_err_t rc = cf_cfg_parse_text(cfg, "fuzz.conf", (const char *) data, size, &why);
    if (rc == CF_OK) {
        s_check_values(cfg);
        s_check_round_trip(cfg);
    } else {
        s_check(why.text[0] != '\0');             /* every refusal says why */
        s_check(!cf_cfg_is_set(cfg, "redis"));    /* and leaves the defaults */
        s_check(cf_cfg_int(cfg, "port") == 7005); /* nothing half-applied */
    }
    cf_cfg_destroy(&cfg);
    return 0;
}
