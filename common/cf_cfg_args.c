/*  cf_cfg_args - command line (getopt_long built from the table) and environment for cf_cfg  */
#include "cf_cfg_priv.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_mem.h"

#define S_LONG_BASE 256 /* getopt_long returns S_LONG_BASE + index for a long option */

/* Build getopt_long's tables from ours. shorts starts with "+:": stop at the first
   positional argument (a subcommand keeps its own flags; REQUIRE_ORDER also means argv
   is never permuted) and report a missing value as ':' rather than '?'. With permute
   (leaf commands) the '+' is left out: GNU getopt then moves positionals to the end. */
static void s_build_getopt(const cf_cfg_t *self, struct option *longs, char *shorts)
{
    size_t k = 0;
    if (!self->permute)
        shorts[k++] = '+';
    shorts[k++] = ':';
    for (size_t i = 0; i < self->n; i++) {
        const cf_cfg_opt_t *o = &self->opts[i];
        int has_arg = required_argument;
        if (o->type == CF_CFG_BOOL) /* "--init" or "--init=no"; never eats the next word */
            has_arg = i == self->i_help ? no_argument : optional_argument;
        longs[i] = (struct option){o->name, has_arg, NULL, S_LONG_BASE + (int) i};
        if (o->short_name) {
            shorts[k++] = (char) o->short_name;
            if (o->type != CF_CFG_BOOL)
                shorts[k++] = ':';
        }
    }
    longs[self->n] = (struct option){NULL, 0, NULL, 0};
    shorts[k] = '\0';
}

/* Index of the option getopt_long returned as c, or (size_t) -1. */
static size_t s_index_of(const cf_cfg_t *self, int c)
{
    if (c >= S_LONG_BASE && (size_t) (c - S_LONG_BASE) < self->n)
        return (size_t) (c - S_LONG_BASE);
    for (size_t i = 0; c > 0 && i < self->n; i++) {
        if (self->opts[i].short_name == c)
            return i;
    }
    return (size_t) -1;
}

/* An unknown long option: say whether it was ambiguous (getopt_long takes prefixes). */
static cf_err_t s_unknown_long(const cf_cfg_t *self, const char *word, cf_why_t *why)
{
    const char *name = word[0] == '-' && word[1] == '-' ? word + 2 : word;
    size_t len = strcspn(name, "=");
    size_t hits = 0;
    const char *first = "";
    const char *second = "";
    for (size_t i = 0; len > 0 && i < self->n; i++) {
        if (strncmp(self->opts[i].name, name, len) == 0) {
            if (hits == 0)
                first = self->opts[i].name;
            else if (hits == 1)
                second = self->opts[i].name;
            hits++;
        }
    }
    if (hits > 1)
        return cf_why(why, CF_ERR_INVALID, "ambiguous option '--%.*s' (--%s, --%s%s)",
                      (int) (len > 64 ? 64 : len), name, first, second, hits > 2 ? ", ..." : "");
    return cf_why(why, CF_ERR_INVALID, "unknown option '%.*s' (see --help)",
                  (int) strcspn(word, "="), word);
}

static cf_err_t s_getopt_error(const cf_cfg_t *self, int c, char *const argv[], cf_why_t *why)
{
    size_t i = s_index_of(self, optopt);
    if (c == ':' && i != (size_t) -1) {
        const cf_cfg_opt_t *o = &self->opts[i];
        return cf_why(why, CF_ERR_INVALID, "option '--%s' needs a value", o->name);
    }
    if (i != (size_t) -1 && optopt >= S_LONG_BASE) /* "--help=x" */
        return cf_why(why, CF_ERR_INVALID, "option '--%s' takes no value", self->opts[i].name);
    if (optopt > 0 && optopt < S_LONG_BASE)
        return cf_why(why, CF_ERR_INVALID, "unknown option '-%c' (see --help)", (char) optopt);
    return s_unknown_long(self, argv[optind - 1], why);
}

/* Run getopt_long over argv, giving each flag to its option as it comes. */
static cf_err_t s_scan_flags(cf_cfg_t *self, int argc, char *const argv[], cf_why_t *why)
{
    struct option longs[CF_CFG_MAX_OPTS + 1];
    char shorts[3 + 2 * CF_CFG_MAX_OPTS];
    s_build_getopt(self, longs, shorts);
    /* getopt_long keeps its state in globals: optind = 0 makes glibc start afresh (new
       argv, optstring re-read), so a process can parse several command lines. */
    int saved_opterr = opterr;
    optind = 0;
    opterr = 0; /* errors go to why, not stderr */
    cf_err_t rc = CF_OK;
    for (;;) {
        int c = getopt_long(argc, argv, shorts, longs, NULL);
        if (c == -1)
            break;
        size_t i = s_index_of(self, c);
        if (c == '?' || c == ':' || i == (size_t) -1) {
            rc = s_getopt_error(self, c, argv, why);
            break;
        }
        char where[CF_CFG_NAME_MAX + 8];
        snprintf(where, sizeof(where), "--%s", self->opts[i].name);
        rc = cf_cfg_set(self, i, optarg, CF_CFG_SRC_FLAG, 0, where, why);
        if (rc != CF_OK)
            break;
    }
    opterr = saved_opterr;
    return rc;
}

static cf_err_t s_keep_positional(cf_cfg_t *self, int argc, char *const argv[])
{
    int first = optind < 1 ? 1 : optind;
    if (first >= argc)
        return CF_OK;
    int count = argc - first;
    self->args = cf_mem_calloc((size_t) count + 1, sizeof(char *));
    if (!self->args)
        return CF_ERR_NOMEM;
    for (int k = 0; k < count; k++) {
        self->args[k] = cf_mem_strdup(argv[first + k]);
        if (!self->args[k])
            return CF_ERR_NOMEM; /* the caller resets, which frees the partial array */
        self->n_args = k + 1;
    }
    return CF_OK;
}

/* PREFIX + NAME upper-cased with '-' -> '_'. */
static void s_env_name(const cf_cfg_t *self, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s", self->env_prefix, name);
    for (char *p = buf + strlen(self->env_prefix); *p; p++) {
        if (*p == '-')
            *p = '_';
        else if (*p >= 'a' && *p <= 'z')
            *p = (char) (*p - 'a' + 'A');
    }
}

static cf_err_t s_scan_env(cf_cfg_t *self, cf_why_t *why)
{
    if (!self->env_prefix[0])
        return CF_OK;
    for (size_t i = 0; i < self->n; i++) {
        if (i == self->i_help)
            continue;
        char var[sizeof(self->env_prefix) + CF_CFG_NAME_MAX + 1];
        s_env_name(self, self->opts[i].name, var, sizeof(var));
        const char *text = getenv(var);
        if (!text)
            continue;
        CF_TRY(cf_cfg_set(self, i, text, CF_CFG_SRC_ENV, 0, var, why));
    }
    return CF_OK;
}

static cf_err_t s_parse_args(cf_cfg_t *self, int argc, char *const argv[], cf_why_t *why)
{
    if (argc > CF_CFG_MAX_ARGS)
        return cf_why(why, CF_ERR_TOOBIG, "more than %d arguments", CF_CFG_MAX_ARGS);
    if (argc >= 1) {
        CF_TRY(s_scan_flags(self, argc, argv, why));
        CF_TRY(s_keep_positional(self, argc, argv));
    }
    if (cf_cfg_bool(self, "help"))
        return CF_OK;
    /* Flags first, then the environment and the file: each value keeps the source that
       ranks highest (cf_cfg_set), and the flags say which file to read. */
    CF_TRY(s_scan_env(self, why));
    const char *path = cf_cfg_str(self, "config");
    if (path)
        return cf_cfg_load(self, path, 0, why);
    if (self->default_file)
        return cf_cfg_load(self, self->default_file, 1, why);
    return CF_OK;
}

cf_err_t cf_cfg_parse_args(cf_cfg_t *self, int argc, char *const argv[], cf_why_t *why)
{
    CF_ASSERT(self && (argv || argc <= 0));
    if (why)
        why->text[0] = '\0';
    cf_cfg_reset(self);
    cf_err_t rc = s_parse_args(self, argc, argv, why);
    if (rc != CF_OK)
        cf_cfg_reset(self);
    return rc;
}
