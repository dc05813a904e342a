/*  cf_cfg_value - text to typed values for cf_cfg: ints, durations, sizes, enums, lists  */
#include "cf_cfg_priv.h"

#include <limits.h>
#include <string.h>
#include <strings.h>

#include "cf_mem.h"

/* Unit suffixes of durations (case-sensitive: "M" could be read as months) and sizes. */
typedef struct {
    const char *suffix; /* text after the digits */
    long long mult;     /* value of one unit */
} s_unit_t;

static const s_unit_t s_duration_units[] = {
    {"", 1}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}, {"w", 604800},
};

static const s_unit_t s_size_units[] = {
    {"", 1},
    {"b", 1},
    {"k", 1024LL},
    {"kb", 1024LL},
    {"kib", 1024LL},
    {"m", 1024LL * 1024},
    {"mb", 1024LL * 1024},
    {"mib", 1024LL * 1024},
    {"g", 1024LL * 1024 * 1024},
    {"gb", 1024LL * 1024 * 1024},
    {"gib", 1024LL * 1024 * 1024},
    {"t", 1024LL * 1024 * 1024 * 1024},
    {"tb", 1024LL * 1024 * 1024 * 1024},
    {"tib", 1024LL * 1024 * 1024 * 1024},
};

void cf_cfg_val_clear(cf_cfg_val_t *val)
{
    cf_mem_free(val->str);
    for (size_t i = 0; i < val->n_items; i++)
        cf_mem_free(val->items[i]);
    cf_mem_free(val->items);
    memset(val, 0, sizeof(*val));
}

size_t cf_cfg_list_cap(const cf_cfg_opt_t *opt)
{
    return opt->max > 0 ? (size_t) opt->max : CF_CFG_LIST_MAX;
}

/* Decimal digits at *pp (an optional '-' when allow_neg) into *out; *pp moves past them.
   Returns 0, -1 when there are no digits, -2 on overflow. No spaces, no '+'. */
static int s_digits(const char **pp, int allow_neg, long long *out)
{
    const char *p = *pp;
    int neg = allow_neg && *p == '-';
    if (neg)
        p++;
    if (*p < '0' || *p > '9')
        return -1;
    long long v = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        int d = *p - '0';
        /* accumulate negatively so LLONG_MIN is reachable */
        if (v < (LLONG_MIN + d) / 10)
            return -2;
        v = v * 10 - d;
    }
    if (!neg && v == LLONG_MIN)
        return -2;
    *out = neg ? v : -v;
    *pp = p;
    return 0;
}

static int s_unit_mult(const s_unit_t *units, size_t n, int fold, const char *suffix,
                       long long *mult)
{
    for (size_t i = 0; i < n; i++) {
        int same =
            fold ? strcasecmp(units[i].suffix, suffix) == 0 : strcmp(units[i].suffix, suffix) == 0;
        if (same) {
            *mult = units[i].mult;
            return 1;
        }
    }
    return 0;
}

static const char *s_kind(cf_cfg_type_t type)
{
    switch (type) {
    case CF_CFG_DURATION: return "a duration (e.g. 30s, 5m, 2h, 7d)";
    case CF_CFG_SIZE: return "a size (e.g. 512, 64k, 1m, 2g)";
    default: return "an integer";
    }
}

/* INT, DURATION and SIZE: number, unit, range. */
static cf_err_t s_parse_number(const cf_cfg_opt_t *opt, const char *text, long long *out,
                               const char *where, cf_why_t *why)
{
    const char *p = text;
    long long v = 0;
    long long mult = 1;
    int rc = s_digits(&p, opt->type == CF_CFG_INT, &v);
    int unit_ok = 1;
    if (rc == 0 && opt->type == CF_CFG_DURATION)
        unit_ok =
            s_unit_mult(s_duration_units, sizeof(s_duration_units) / sizeof(s_unit_t), 0, p, &mult);
    else if (rc == 0 && opt->type == CF_CFG_SIZE)
        unit_ok = s_unit_mult(s_size_units, sizeof(s_size_units) / sizeof(s_unit_t), 1, p, &mult);
    else if (rc == 0)
        unit_ok = *p == '\0';
    if (rc == -1 || !unit_ok)
        return cf_why(why, CF_ERR_INVALID, "%s: '%.64s' is not %s", where, text, s_kind(opt->type));
    if (rc == -2 || v > LLONG_MAX / mult)
        return cf_why(why, CF_ERR_INVALID, "%s: '%.64s' is too large", where, text);
    v *= mult;
    if ((opt->min != 0 || opt->max != 0) && (v < opt->min || v > opt->max)) {
        const char *unit = opt->type == CF_CFG_DURATION ? " seconds"
                           : opt->type == CF_CFG_SIZE   ? " bytes"
                                                        : "";
        return cf_why(why, CF_ERR_INVALID, "%s: '%.64s' is out of range %lld..%lld%s", where, text,
                      opt->min, opt->max, unit);
    }
    *out = v;
    return CF_OK;
}

static cf_err_t s_parse_bool(const char *text, long long *out, const char *where, cf_why_t *why)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = 1;
            return CF_OK;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = 0;
            return CF_OK;
        }
    }
    return cf_why(why, CF_ERR_INVALID, "%s: '%.64s' is not a boolean (true|false|yes|no|on|off)",
                  where, text);
}

static cf_err_t s_parse_enum(const cf_cfg_opt_t *opt, const char *text, long long *out,
                             const char *where, cf_why_t *why)
{
    char allowed[160] = "";
    size_t used = 0;
    for (size_t i = 0; opt->choices[i]; i++) {
        if (strcasecmp(text, opt->choices[i]) == 0) {
            *out = (long long) i;
            return CF_OK;
        }
        if (used < sizeof(allowed)) {
            int w = snprintf(allowed + used, sizeof(allowed) - used, "%s%s", i ? ", " : "",
                             opt->choices[i]);
            used += w > 0 ? (size_t) w : 0;
        }
    }
    return cf_why(why, CF_ERR_INVALID, "%s: '%.64s' is not one of: %s", where, text, allowed);
}

cf_err_t cf_cfg_value_parse(const cf_cfg_opt_t *opt, const char *text, cf_cfg_val_t *out,
                            const char *where, cf_why_t *why)
{
    CF_ASSERT(opt->type != CF_CFG_LIST);
    if (!text && opt->type != CF_CFG_BOOL)
        return cf_why(why, CF_ERR_INVALID, "%s: missing value", where);
    if (text && strlen(text) >= CF_CFG_MAX_VALUE)
        return cf_why(why, CF_ERR_TOOBIG, "%s: value longer than %d bytes", where,
                      CF_CFG_MAX_VALUE - 1);
    switch (opt->type) {
    case CF_CFG_BOOL:
        out->num = 1;
        if (text)
            CF_TRY(s_parse_bool(text, &out->num, where, why));
        break;
    case CF_CFG_INT:
    case CF_CFG_DURATION:
    case CF_CFG_SIZE: CF_TRY(s_parse_number(opt, text, &out->num, where, why)); break;
    case CF_CFG_ENUM: CF_TRY(s_parse_enum(opt, text, &out->num, where, why)); break;
    case CF_CFG_PATH:
        if (!*text)
            return cf_why(why, CF_ERR_INVALID, "%s: empty path", where);
        /* fall through */
    case CF_CFG_STRING:
        out->str = cf_mem_strdup(text);
        if (!out->str)
            return CF_ERR_NOMEM;
        break;
    default: CF_ASSERT(0); /* cf_cfg_new refused any other type */
    }
    out->has = 1;
    return CF_OK;
}

static int s_is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Add one item (not NUL-terminated: item, len) to a list value. */
static cf_err_t s_list_push(const cf_cfg_opt_t *opt, cf_cfg_val_t *val, const char *item,
                            size_t len, const char *where, cf_why_t *why)
{
    if (len == 0)
        return cf_why(why, CF_ERR_INVALID, "%s: empty item in list", where);
    if (len >= CF_CFG_MAX_VALUE)
        return cf_why(why, CF_ERR_TOOBIG, "%s: item longer than %d bytes", where,
                      CF_CFG_MAX_VALUE - 1);
    if (val->n_items >= cf_cfg_list_cap(opt))
        return cf_why(why, CF_ERR_TOOBIG, "%s: more than %zu items", where, cf_cfg_list_cap(opt));
    char **items = cf_mem_realloc(val->items, (val->n_items + 2) * sizeof(char *));
    if (!items)
        return CF_ERR_NOMEM;
    val->items = items;
    items[val->n_items] = cf_mem_strndup(item, len);
    if (!items[val->n_items])
        return CF_ERR_NOMEM;
    items[++val->n_items] = NULL;
    val->has = 1;
    return CF_OK;
}

cf_err_t cf_cfg_list_append(const cf_cfg_opt_t *opt, cf_cfg_val_t *val, const char *text,
                            const char *where, cf_why_t *why)
{
    if (!text)
        return cf_why(why, CF_ERR_INVALID, "%s: missing value", where);
    val->has = 1;
    const char *p = text;
    while (s_is_space(*p))
        p++;
    if (!*p)
        return CF_OK; /* "" or blanks: no items; the source still takes the list over */
    for (;;) {
        while (s_is_space(*p))
            p++;
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t) (end - p) : strlen(p);
        size_t trimmed = len;
        while (trimmed > 0 && s_is_space(p[trimmed - 1]))
            trimmed--;
        CF_TRY(s_list_push(opt, val, p, trimmed, where, why));
        if (!end)
            return CF_OK;
        p = end + 1;
    }
}
