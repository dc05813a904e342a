/*  cf_cfg_file - cf_cfg's configuration file format ("key = value" lines) and secret files  */
#include "cf_cfg_priv.h"

#include <stdio.h>
#include <string.h>

#include "cf_file.h"
#include "cf_mem.h"

#define S_WHERE_MAX 512 /* "file:line: key" in messages (longer names are cut) */

static int s_is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Open path and check it is a regular file of at most max bytes. */
/* A "..." value, unquoted in place; p is at the opening quote. Only \" and \\ escape. */
static cf_err_t s_unquote(char *p, const char *where, cf_why_t *why)
{
    char *out = p;
    const char *in = p + 1;
    while (*in != '"') {
        if (*in == '\0')
            return cf_why(why, CF_ERR_INVALID, "%s: missing closing quote", where);
        if (*in == '\\') {
            in++;
            if (*in != '"' && *in != '\\')
                return cf_why(why, CF_ERR_INVALID, "%s: unknown escape (only \\\" and \\\\)",
                              where);
        }
        *out++ = *in++;
    }
    *out = '\0';
    for (in++; s_is_space(*in); in++)
        ;
    if (*in != '\0' && *in != '#')
        return cf_why(why, CF_ERR_INVALID, "%s: text after the closing quote", where);
    return CF_OK;
}

/* An unquoted value ends at '#' (a comment) or the end of the line, blanks trimmed. */
static void s_trim_unquoted(char *p)
{
    char *end = strchr(p, '#');
    if (!end)
        end = p + strlen(p);
    while (end > p && s_is_space(end[-1]))
        end--;
    *end = '\0';
}

/* One line (NUL-terminated, no newline); line is modified in place. */
static cf_err_t s_parse_line(cf_cfg_t *self, const char *name, size_t lineno, char *line,
                             cf_why_t *why)
{
    char *p = line;
    while (s_is_space(*p))
        p++;
    if (*p == '\0' || *p == '#')
        return CF_OK;
    if (*p == '[')
        return cf_why(why, CF_ERR_INVALID, "%s:%zu: sections are not supported; keys are flat",
                      name, lineno);
    char *key = p;
    while (*p && !s_is_space(*p) && *p != '=' && *p != '#')
        p++;
    char *key_end = p;
    while (s_is_space(*p))
        p++;
    if (key_end == key || *p != '=')
        return cf_why(why, CF_ERR_INVALID, "%s:%zu: expected 'key = value'", name, lineno);
    *key_end = '\0';
    for (p++; s_is_space(*p); p++)
        ;
    size_t i = cf_cfg_find(self, key);
    if (i == (size_t) -1)
        return cf_why(why, CF_ERR_INVALID, "%s:%zu: unknown key '%.64s'", name, lineno, key);
    if (i == self->i_config || i == self->i_help)
        return cf_why(why, CF_ERR_INVALID, "%s:%zu: '%s' is a command-line flag only", name, lineno,
                      key);
    char where[S_WHERE_MAX];
    snprintf(where, sizeof(where), "%s:%zu: %.*s", name, lineno, CF_CFG_NAME_MAX, key);
    if (*p == '"')
        CF_TRY(s_unquote(p, where, why));
    else
        s_trim_unquoted(p);
    return cf_cfg_set(self, i, p, CF_CFG_SRC_FILE, lineno, where, why);
}

static cf_err_t s_parse_text(cf_cfg_t *self, const char *name, const char *text, size_t len,
                             cf_why_t *why)
{
    if (len > CF_CFG_MAX_FILE)
        return cf_why(why, CF_ERR_TOOBIG, "%s: larger than %d bytes", name, CF_CFG_MAX_FILE);
    size_t pos = 0;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        pos = 3; /* a UTF-8 byte order mark, as some editors write */
    char line[CF_CFG_MAX_LINE + 1];
    for (size_t lineno = 1; pos < len; lineno++) {
        const char *start = text + pos;
        const char *nl = memchr(start, '\n', len - pos);
        size_t n = nl ? (size_t) (nl - start) : len - pos;
        pos += n + (nl ? 1 : 0);
        if (n > 0 && start[n - 1] == '\r')
            n--;
        if (n > CF_CFG_MAX_LINE)
            return cf_why(why, CF_ERR_TOOBIG, "%s:%zu: line longer than %d bytes", name, lineno,
                          CF_CFG_MAX_LINE);
        if (memchr(start, '\0', n))
            return cf_why(why, CF_ERR_INVALID, "%s:%zu: NUL byte", name, lineno);
        memcpy(line, start, n);
        line[n] = '\0';
        CF_TRY(s_parse_line(self, name, lineno, line, why));
    }
    return CF_OK;
}

cf_err_t cf_cfg_parse_text(cf_cfg_t *self, const char *name, const char *text, size_t len,
                           cf_why_t *why)
{
    CF_ASSERT(self && name && (text || len == 0));
    if (why)
        why->text[0] = '\0';
    cf_err_t rc = s_parse_text(self, name, text, len, why);
    if (rc != CF_OK)
        cf_cfg_reset(self);
    return rc;
}

cf_err_t cf_cfg_load(cf_cfg_t *self, const char *path, int missing_ok, cf_why_t *why)
{
    char *text = NULL;
    size_t len = 0;
    cf_err_t rc = cf_file_read(path, CF_CFG_MAX_FILE, &text, &len, why);
    if (rc == CF_ERR_NOTFOUND && missing_ok) {
        if (why)
            why->text[0] = '\0';
        return CF_OK;
    }
    if (rc == CF_OK)
        rc = s_parse_text(self, path, text, len, why);
    if (rc == CF_OK) {
        cf_mem_free(self->file);
        self->file = cf_mem_strdup(path);
        rc = self->file ? CF_OK : CF_ERR_NOMEM;
    }
    cf_mem_free(text);
    return rc;
}

cf_err_t cf_cfg_load_file(cf_cfg_t *self, const char *path, cf_why_t *why)
{
    CF_ASSERT(self && path);
    if (why)
        why->text[0] = '\0';
    cf_err_t rc = cf_cfg_load(self, path, 0, why);
    if (rc != CF_OK)
        cf_cfg_reset(self);
    return rc;
}

/* Check the secret's text: no NUL, one trailing newline dropped, not empty. */
static cf_err_t s_secret_text(const char *path, char *buf, size_t len, cf_why_t *why)
{
    if (memchr(buf, '\0', len))
        return cf_why(why, CF_ERR_INVALID, "%s: secret holds a NUL byte", path);
    if (len > 0 && buf[len - 1] == '\n')
        buf[--len] = '\0';
    if (len > 0 && buf[len - 1] == '\r')
        buf[--len] = '\0';
    if (len == 0)
        return cf_why(why, CF_ERR_INVALID, "%s: secret file is empty", path);
    return CF_OK;
}

cf_err_t cf_cfg_read_secret_file(const char *path, size_t max, unsigned flags, char **out,
                                 cf_why_t *why)
{
    CF_ASSERT(path && out && max >= 1 && max <= CF_CFG_MAX_FILE);
    *out = NULL;
    unsigned read_flags = CF_FILE_SECRET;
    if (!(flags & CF_CFG_SECRET_ALLOW_SHARED))
        read_flags |= CF_FILE_PRIVATE;
    char *buf = NULL;
    size_t len = 0;
    cf_err_t rc = cf_file_read_ex(path, max + 2, read_flags, &buf, &len, why); /* + "\r\n" */
    if (rc == CF_OK)
        rc = s_secret_text(path, buf, len, why);
    if (rc == CF_ERR_TOOBIG || (rc == CF_OK && strlen(buf) > max)) /* it grew, or was long */
        rc = cf_why(why, CF_ERR_TOOBIG, "%s: secret longer than %zu bytes", path, max);
    if (rc != CF_OK) {
        cf_mem_free_secret(buf, len);
        return rc;
    }
    *out = buf;
    return CF_OK;
}
