/*  cf_curve_file - CURVE key files in the ZeroMQ certificate format (CZMQ zcert, pyzmq)  */
#include "cf_curve.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cf_file.h"
#include "cf_mem.h"

#define S_NAME_MAX 64 /* longest property name we take in a certificate file */

typedef enum { S_NONE = 0, S_METADATA, S_CURVE } s_section_t;

typedef struct {
    s_section_t section;                 /* the section the next indented line belongs to */
    int have_pub;                        /* public-key seen */
    int have_sec;                        /* secret-key seen */
    unsigned char pub[CF_CURVE_KEY_LEN]; /* public key */
    unsigned char sec[CF_CURVE_KEY_LEN]; /* secret key (wiped by the caller) */
} s_cert_t;

typedef struct {
    const char *p; /* borrowed, not NUL-terminated */
    size_t len;    /* bytes at p */
} s_span_t;

static int s_is(s_span_t s, const char *word)
{
    return s.len == strlen(word) && memcmp(s.p, word, s.len) == 0;
}

static int s_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '/';
}

/* Drop the quotes around a quoted value; 0 when a quote is unbalanced. */
static int s_unquote(s_span_t *value)
{
    if (value->len == 0 || (value->p[0] != '"' && value->p[0] != '\''))
        return 1;
    char q = value->p[0];
    if (value->len < 2 || value->p[value->len - 1] != q || memchr(value->p + 1, q, value->len - 2))
        return 0;
    *value = (s_span_t){value->p + 1, value->len - 2};
    return 1;
}

static size_t s_skip_blanks(s_span_t line, size_t i)
{
    while (i < line.len && (line.p[i] == ' ' || line.p[i] == '\t'))
        i++;
    return i;
}

/* Split "name = value" (indentation already skipped) into name and value; a quoted value
   loses its quotes. Trailing blanks are dropped. 0 when the line is not of that shape. */
static int s_split_prop(s_span_t line, s_span_t *name, s_span_t *value)
{
    size_t i = 0;
    while (i < line.len && s_name_char(line.p[i]))
        i++;
    *name = (s_span_t){line.p, i};
    i = s_skip_blanks(line, i);
    if (name->len == 0 || name->len > S_NAME_MAX || i == line.len || line.p[i] != '=')
        return 0;
    i = s_skip_blanks(line, i + 1);
    size_t end = line.len;
    while (end > i && (line.p[end - 1] == ' ' || line.p[end - 1] == '\t'))
        end--;
    *value = (s_span_t){line.p + i, end - i};
    return s_unquote(value);
}

static cf_err_t s_take_key(s_cert_t *c, s_span_t name, s_span_t value, size_t lineno, cf_why_t *why)
{
    int is_pub = s_is(name, "public-key");
    if (!is_pub && !s_is(name, "secret-key"))
        return cf_why(why, CF_ERR_CORRUPT, "line %zu: unknown entry in the curve section", lineno);
    int *have = is_pub ? &c->have_pub : &c->have_sec;
    if (*have)
        return cf_why(why, CF_ERR_CORRUPT, "line %zu: %s appears twice", lineno,
                      is_pub ? "public-key" : "secret-key");
    cf_why_t inner = {""};
    cf_err_t rc = cf_curve_z85_decode(value.p, value.len, is_pub ? c->pub : c->sec, &inner);
    if (rc != CF_OK)
        return cf_why(why, rc, "line %zu: %s", lineno, cf_why_text(&inner, rc));
    *have = 1;
    return CF_OK;
}

static cf_err_t s_parse_line(s_cert_t *c, s_span_t line, size_t lineno, cf_why_t *why)
{
    size_t indent = 0;
    while (indent < line.len && (line.p[indent] == ' ' || line.p[indent] == '\t'))
        indent++;
    s_span_t rest = {line.p + indent, line.len - indent};
    while (rest.len > 0 && (rest.p[rest.len - 1] == ' ' || rest.p[rest.len - 1] == '\t'))
        rest.len--;
    if (rest.len == 0 || rest.p[0] == '#')
        return CF_OK;
    if (indent == 0) {
        c->section = s_is(rest, "metadata") ? S_METADATA : s_is(rest, "curve") ? S_CURVE : S_NONE;
        if (c->section == S_NONE)
            return cf_why(why, CF_ERR_CORRUPT, "line %zu: expected a metadata or curve section",
                          lineno);
        return CF_OK;
    }
    s_span_t name;
    s_span_t value;
    if (c->section == S_NONE || !s_split_prop(rest, &name, &value))
        return cf_why(why, CF_ERR_CORRUPT, "line %zu: expected name = \"value\" in a section",
                      lineno);
    if (c->section == S_METADATA)
        return CF_OK; /* metadata is for people; nothing here depends on it */
    return s_take_key(c, name, value, lineno, why);
}

static cf_err_t s_parse(s_cert_t *c, const char *buf, size_t len, cf_why_t *why)
{
    if (memchr(buf, '\0', len))
        return cf_why(why, CF_ERR_CORRUPT, "holds a NUL byte: not a certificate file");
    size_t lineno = 0;
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t) (nl - buf) : len;
        s_span_t line = {buf + pos, end - pos};
        if (line.len > 0 && line.p[line.len - 1] == '\r')
            line.len--;
        CF_TRY(s_parse_line(c, line, ++lineno, why));
        pos = end + 1;
    }
    if (!c->have_pub)
        return cf_why(why, CF_ERR_CORRUPT, "no public-key in a curve section");
    return CF_OK;
}

/* Parse certificate text into c; c is wiped on failure. */
static cf_err_t s_parse_text(const char *buf, size_t len, s_cert_t *c, cf_why_t *why)
{
    memset(c, 0, sizeof(*c));
    if (!buf)
        return CF_ERR_INVALID;
    if (len > CF_CURVE_FILE_MAX)
        return cf_why(why, CF_ERR_TOOBIG, "over %d bytes: not a certificate file",
                      CF_CURVE_FILE_MAX);
    cf_err_t rc = s_parse(c, buf, len, why);
    if (rc != CF_OK)
        cf_mem_wipe(c, sizeof(*c));
    return rc;
}

cf_err_t cf_curve_keypair_parse(const char *buf, size_t len, cf_curve_keypair_t *kp, cf_why_t *why)
{
    if (!kp)
        return CF_ERR_INVALID;
    cf_curve_keypair_wipe(kp);
    s_cert_t c;
    CF_TRY(s_parse_text(buf, len, &c, why));
    cf_err_t rc = CF_OK;
    if (!c.have_sec)
        rc = cf_why(why, CF_ERR_CORRUPT, "no secret-key (a public file?)");
    memcpy(kp->pub, c.pub, CF_CURVE_KEY_LEN);
    memcpy(kp->sec, c.sec, CF_CURVE_KEY_LEN);
    cf_mem_wipe(&c, sizeof(c));
    if (rc == CF_OK && cf_curve_keypair_check(kp) != CF_OK)
        rc = cf_why(why, CF_ERR_KEYMISMATCH, "public-key is not the secret key's public key");
    if (rc != CF_OK)
        cf_curve_keypair_wipe(kp);
    return rc;
}

cf_err_t cf_curve_public_parse(const char *buf, size_t len, unsigned char pub[CF_CURVE_KEY_LEN],
                               cf_why_t *why)
{
    if (!pub)
        return CF_ERR_INVALID;
    memset(pub, 0, CF_CURVE_KEY_LEN);
    s_cert_t c;
    CF_TRY(s_parse_text(buf, len, &c, why));
    memcpy(pub, c.pub, CF_CURVE_KEY_LEN);
    cf_mem_wipe(&c, sizeof(c));
    return CF_OK;
}

/* Read path (the file checks of flags) into *buf, which the caller frees as a secret. */
static cf_err_t s_read(const char *path, unsigned flags, char **buf, size_t *len, cf_why_t *why)
{
    cf_why_t inner = {""};
    cf_err_t rc =
        cf_file_read_ex(path, CF_CURVE_FILE_MAX, flags | CF_FILE_SECRET, buf, len, &inner);
    if (rc != CF_OK)
        return cf_why(why, rc, "CURVE key file: %s", cf_why_text(&inner, rc));
    return CF_OK;
}

cf_err_t cf_curve_keypair_load(const char *secret_path, cf_curve_keypair_t *kp, cf_why_t *why)
{
    if (!kp)
        return CF_ERR_INVALID;
    cf_curve_keypair_wipe(kp);
    if (!secret_path)
        return CF_ERR_INVALID;
    char *buf = NULL;
    size_t len = 0;
    CF_TRY(s_read(secret_path, CF_FILE_PRIVATE, &buf, &len, why));
    cf_why_t inner = {""};
    cf_err_t rc = cf_curve_keypair_parse(buf, len, kp, &inner);
    cf_mem_free_secret(buf, len);
    if (rc != CF_OK)
        return cf_why(why, rc, "CURVE key file %s: %s", secret_path, cf_why_text(&inner, rc));
    return CF_OK;
}

cf_err_t cf_curve_public_load(const char *path, unsigned char pub[CF_CURVE_KEY_LEN], cf_why_t *why)
{
    if (!pub)
        return CF_ERR_INVALID;
    memset(pub, 0, CF_CURVE_KEY_LEN);
    if (!path)
        return CF_ERR_INVALID;
    char *buf = NULL;
    size_t len = 0;
    CF_TRY(s_read(path, 0, &buf, &len, why));
    cf_why_t inner = {""};
    cf_err_t rc = cf_curve_public_parse(buf, len, pub, &inner);
    cf_mem_free_secret(buf, len);
    if (rc != CF_OK)
        return cf_why(why, rc, "CURVE key file %s: %s", path, cf_why_text(&inner, rc));
    return CF_OK;
}

/* The text of one certificate file; with_secret adds the secret key. Returns its length. */
static size_t s_render(const cf_curve_keypair_t *kp, int with_secret, char *buf, size_t buflen)
{
    char pub[CF_CURVE_Z85_LEN + 1];
    char sec[CF_CURVE_Z85_LEN + 1] = "";
    cf_curve_z85_encode(kp->pub, pub);
    if (with_secret)
        cf_curve_z85_encode(kp->sec, sec);
    int n = snprintf(buf, buflen,
                     "#   ZeroMQ CURVE %s Certificate, written by certfleet\n"
                     "#   %s\n"
                     "\n"
                     "metadata\n"
                     "curve\n"
                     "    public-key = \"%s\"\n"
                     "%s%s%s",
                     with_secret ? "**Secret**" : "Public",
                     with_secret ? "DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its "
                                   "permissions."
                                 : "Exchange securely, or verify its contents after exchange.",
                     pub, with_secret ? "    secret-key = \"" : "", sec, with_secret ? "\"\n" : "");
    cf_mem_wipe(sec, sizeof(sec));
    CF_ASSERT(n > 0 && (size_t) n < buflen);
    return (size_t) n;
}

cf_err_t cf_curve_keypair_save(const cf_curve_keypair_t *kp, const char *path, cf_why_t *why)
{
    if (!kp || !path || !*path)
        return CF_ERR_INVALID;
    char secret_path[PATH_MAX];
    int n = snprintf(secret_path, sizeof(secret_path), "%s%s", path, CF_CURVE_SECRET_SUFFIX);
    if (n < 0 || (size_t) n >= sizeof(secret_path) - 16) /* room for cf_file's ".tmp.<pid>" */
        return cf_why(why, CF_ERR_INVALID, "%s: path too long", path);
    struct stat st;
    if (lstat(path, &st) == 0 || lstat(secret_path, &st) == 0)
        return cf_why(why, CF_ERR_EXISTS, "%s or its %s file exists already; not overwritten", path,
                      CF_CURVE_SECRET_SUFFIX);
    char text[512];
    size_t len = s_render(kp, 1, text, sizeof(text));
    cf_err_t rc = cf_file_write_new(secret_path, text, len, 0600, why);
    cf_mem_wipe(text, sizeof(text));
    if (rc != CF_OK)
        return rc;
    len = s_render(kp, 0, text, sizeof(text));
    rc = cf_file_write_new(path, text, len, 0644, why);
    if (rc != CF_OK)
        unlink(secret_path); /* no secret without its public half */
    return rc;
}
