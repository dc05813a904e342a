/*  cf_cfg_help - --help text and example configuration files from a cf_cfg option table  */
#include "cf_cfg_priv.h"

#include <string.h>

#define S_LEFT_MAX 34     /* widest flag column; longer flags put their help on the next line */
#define S_TEXT_MAX 512    /* one formatted piece of a help line */
#define S_LINE_MAX 79     /* --help wraps its lines at this width */
#define S_NBSP     '\x1f' /* a space --help never breaks a line at ("default: 30d") */

static const char *s_metavar(const cf_cfg_opt_t *o)
{
    if (o->metavar)
        return o->metavar;
    switch (o->type) {
    case CF_CFG_PATH: return "PATH";
    case CF_CFG_INT: return "N";
    case CF_CFG_ENUM: return "NAME";
    case CF_CFG_LIST: return "ITEM";
    case CF_CFG_DURATION: return "TIME";
    case CF_CFG_SIZE: return "SIZE";
    case CF_CFG_BOOL: return "";
    default: return "TEXT";
    }
}

/* v in the largest unit that divides it exactly ("7d", "64k"); plain number otherwise. */
static void s_fmt_unit(cf_cfg_type_t type, long long v, char *buf, size_t len)
{
    static const char dur_units[] = {'w', 'd', 'h', 'm'};
    static const long long dur_mult[] = {604800, 86400, 3600, 60};
    static const char size_units[] = {'t', 'g', 'm', 'k'};
    static const long long size_mult[] = {1LL << 40, 1LL << 30, 1LL << 20, 1LL << 10};
    const char *units = type == CF_CFG_DURATION ? dur_units : size_units;
    const long long *mult = type == CF_CFG_DURATION ? dur_mult : size_mult;
    for (size_t i = 0; v != 0 && type != CF_CFG_INT && i < 4; i++) {
        if (v % mult[i] == 0) {
            snprintf(buf, len, "%lld%c", v / mult[i], units[i]);
            return;
        }
    }
    snprintf(buf, len, "%lld%s", v, type == CF_CFG_DURATION && v != 0 ? "s" : "");
}

/* Append text to buf, "; "-separated. */
static void s_add(char *buf, size_t len, const char *text)
{
    size_t used = strlen(buf);
    if (used > 0 && used + 2 < len) {
        memcpy(buf + used, "; ", 2);
        used += 2;
    }
    size_t n = strlen(text);
    if (n > len - 1 - used)
        n = len - 1 - used; /* cut, never overflow: help text is for people */
    memcpy(buf + used, text, n);
    buf[used + n] = '\0';
}

/* What the table says beyond the help text: range, choices, repeatability, default. */
static void s_extras(const cf_cfg_opt_t *o, int with_default, char *buf, size_t len)
{
    char piece[S_TEXT_MAX];
    buf[0] = '\0';
    if (o->type == CF_CFG_LIST) {
        snprintf(piece, sizeof(piece), "repeatable, comma-separated, up%cto%c%zu", S_NBSP, S_NBSP,
                 cf_cfg_list_cap(o));
        s_add(buf, len, piece);
    } else if (o->min != 0 || o->max != 0) {
        char lo[32];
        char hi[32];
        s_fmt_unit(o->type, o->min, lo, sizeof(lo));
        s_fmt_unit(o->type, o->max, hi, sizeof(hi));
        snprintf(piece, sizeof(piece), "%s..%s", lo, hi);
        s_add(buf, len, piece);
    }
    if (o->type == CF_CFG_ENUM) {
        size_t used = (size_t) snprintf(piece, sizeof(piece), "one%cof%c", S_NBSP, S_NBSP);
        for (size_t i = 0; o->choices[i] && used < sizeof(piece); i++)
            used += (size_t) snprintf(piece + used, sizeof(piece) - used, "%s%s", i ? "|" : "",
                                      o->choices[i]);
        s_add(buf, len, piece);
    }
    if (with_default && o->def && *o->def) {
        snprintf(piece, sizeof(piece), "default:%c%s", S_NBSP, o->def);
        s_add(buf, len, piece);
    }
}

static void s_left(const cf_cfg_opt_t *o, char *buf, size_t len)
{
    char shorts[8] = "    ";
    if (o->short_name)
        snprintf(shorts, sizeof(shorts), "-%c, ", (char) o->short_name);
    const char *mv = s_metavar(o);
    snprintf(buf, len, "  %s--%s%s%s", shorts, o->name, *mv ? " " : "", mv);
}

/* Print text starting at column indent, wrapped at spaces before S_LINE_MAX, each
   continuation line indented to the same column; a word longer than a line stays whole. */
static void s_wrap(FILE *out, const char *text, size_t indent)
{
    size_t col = indent;
    const char *p = text;
    while (*p) {
        size_t word = strcspn(p, " ");
        if (col > indent && col + 1 + word > S_LINE_MAX) {
            fprintf(out, "\n%*s", (int) indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', out);
            col++;
        }
        for (size_t k = 0; k < word; k++)
            fputc(p[k] == S_NBSP ? ' ' : p[k], out);
        col += word;
        for (p += word; *p == ' '; p++)
            ;
    }
    fputc('\n', out);
}

void cf_cfg_usage(const cf_cfg_t *self, FILE *out, const char *prog, const char *synopsis)
{
    CF_ASSERT(self && out && prog);
    fprintf(out, "Usage: %s %s\n\nOptions:\n", prog, synopsis ? synopsis : "[OPTIONS]");
    size_t width = 0;
    char left[S_TEXT_MAX];
    for (size_t i = 0; i < self->n; i++) {
        s_left(&self->opts[i], left, sizeof(left));
        size_t w = strlen(left);
        if (w <= S_LEFT_MAX && w > width)
            width = w;
    }
    for (size_t i = 0; i < self->n; i++) {
        const cf_cfg_opt_t *o = &self->opts[i];
        char extras[S_TEXT_MAX];
        s_left(o, left, sizeof(left));
        s_extras(o, 1, extras, sizeof(extras));
        if (strlen(left) > width)
            fprintf(out, "%s\n%*s", left, (int) width, "");
        else
            fprintf(out, "%-*s", (int) width, left);
        char text[2 * S_TEXT_MAX];
        snprintf(text, sizeof(text), "%s%s%s%s", o->help ? o->help : "", *extras ? " (" : "",
                 extras, *extras ? ")" : "");
        fputs("  ", out);
        s_wrap(out, text, width + 2);
    }
    char footer[S_TEXT_MAX];
    snprintf(footer, sizeof(footer),
             "Every option but --config and --help can also be a line 'name = value' in the "
             "configuration file%s%s%s. Flags override the file. Boolean flags take an optional "
             "value: --name=no.",
             self->env_prefix[0] ? " or a variable " : "", self->env_prefix,
             self->env_prefix[0] ? "<NAME> in the environment (upper case, '-' as '_')" : "");
    fputc('\n', out);
    s_wrap(out, footer, 0);
}

/* Write a value so the file parser reads it back unchanged. */
static void s_write_value(FILE *out, const char *v)
{
    size_t len = strlen(v);
    int quote = len == 0 || strpbrk(v, "#\"\\") || v[0] == ' ' || v[0] == '\t' ||
                v[len - 1] == ' ' || v[len - 1] == '\t';
    if (!quote) {
        fputs(v, out);
        return;
    }
    fputc('"', out);
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\')
            fputc('\\', out);
        fputc(*p, out);
    }
    fputc('"', out);
}

cf_err_t cf_cfg_write_example(const cf_cfg_t *self, FILE *out)
{
    CF_ASSERT(self && out);
    fprintf(out, "# Example configuration, generated from the program's option table.\n"
                 "# One 'key = value' per line; '#' starts a comment; \"quote\" values that\n"
                 "# hold '#'. Lists: comma-separated, and the key may repeat. Every key is\n"
                 "# also a flag (--key VALUE); flags override this file.\n");
    for (size_t i = 0; i < self->n; i++) {
        const cf_cfg_opt_t *o = &self->opts[i];
        if (i == self->i_config || i == self->i_help)
            continue;
        char extras[S_TEXT_MAX];
        s_extras(o, 0, extras, sizeof(extras)); /* the commented line shows the default */
        fprintf(out, "\n# %s\n", o->help ? o->help : o->name);
        for (char *p = extras; *p; p++)
            *p = *p == S_NBSP ? ' ' : *p;
        if (*extras)
            fprintf(out, "# (%s)\n", extras);
        fprintf(out, "#%s = ", o->name);
        if (o->def)
            s_write_value(out, o->def);
        else if (o->type == CF_CFG_BOOL)
            fputs("false", out);
        else
            fputs(s_metavar(o), out);
        fputc('\n', out);
    }
    return ferror(out) ? CF_ERR_IO : CF_OK;
}
