/*  cf_client_store - cf_client's files: the session per server, remembered login names  */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cf_auth.h"
#include "cf_client_int.h"
#include "cf_file.h"
#include "cf_mem.h"

#define S_MAGIC      "certfleet-session-v1"
#define S_MAX_ROLE   16
#define S_MAX_LOGINS (CF_CLIENT_MAX_LOGINS * (CF_CLIENT_MAX_USER + 1) + 1)

cf_err_t cf_client_conf_path(const char *name, char *buf, size_t len)
{
    const char *home = getenv("HOME");
    if (!home || home[0] != '/')
        return CF_ERR_NOTFOUND;
    int n = snprintf(buf, len, "%s/" CF_CLIENT_CONF_DIR "/%s", home, name);
    return n > 0 && (size_t) n < len ? CF_OK : CF_ERR_TOOBIG;
}

/* 1..CF_CLIENT_MAX_USER printable characters, no blanks. */
static int s_name_ok(const char *s, size_t max)
{
    size_t len = s ? strnlen(s, max + 1) : 0;
    if (len == 0 || len > max)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char) s[i] <= 0x20 || (unsigned char) s[i] >= 0x7f)
            return 0;
    }
    return 1;
}

/* $HOME/.config/certfleet/<dir>/<SHA-256 hex of the URL>; with create, the directory is
   made (0700) and tightened to 0700 if it was looser. */
static cf_err_t s_file(const cf_client_t *self, const char *dir, int create, char *buf, size_t len,
                       cf_why_t *why)
{
    unsigned char md[32];
    char name[80];
    if (!EVP_Digest(self->url, strlen(self->url), md, NULL, EVP_sha256(), NULL))
        return CF_ERR_CRYPTO;
    int n = snprintf(name, sizeof(name), "%s/", dir);
    for (size_t i = 0; i < sizeof(md); i++)
        n += snprintf(name + n, sizeof(name) - (size_t) n, "%02x", md[i]);
    cf_err_t rc = cf_client_conf_path(dir, buf, len);
    if (rc == CF_ERR_NOTFOUND)
        return cf_why(why, rc, "$HOME is not set: no place for the console's files");
    if (rc == CF_OK && create) {
        rc = cf_file_mkdirs(buf, 0700, why);
        if (rc == CF_OK && chmod(buf, 0700) != 0)
            rc = cf_why(why, CF_ERR_IO, "chmod %s: %s", buf, strerror(errno));
    }
    if (rc == CF_OK)
        rc = cf_client_conf_path(name, buf, len);
    return rc;
}

/* Take "key value" from the next line of *text; value is NUL-terminated in place. */
static cf_err_t s_line(char **text, const char *key, char **value)
{
    char *line = *text, *end = strchr(line, '\n');
    size_t klen = strlen(key);
    if (end)
        *end = '\0';
    *text = end ? end + 1 : line + strlen(line);
    if (strncmp(line, key, klen) != 0 || line[klen] != ' ')
        return CF_ERR_CORRUPT;
    *value = line + klen + 1;
    return CF_OK;
}

static cf_err_t s_parse_session(cf_client_t *self, char *text, const char *path, cf_why_t *why)
{
    char *pos = text + sizeof(S_MAGIC); /* past the magic line and its '\n' */
    char *server = NULL, *user = NULL, *role = NULL, *expires = NULL, *token = NULL;
    cf_err_t rc = strncmp(text, S_MAGIC "\n", sizeof(S_MAGIC)) == 0 ? CF_OK : CF_ERR_CORRUPT;
    if (rc == CF_OK)
        rc = s_line(&pos, "server", &server);
    if (rc == CF_OK)
        rc = s_line(&pos, "user", &user);
    if (rc == CF_OK)
        rc = s_line(&pos, "role", &role);
    if (rc == CF_OK)
        rc = s_line(&pos, "expires", &expires);
    if (rc == CF_OK)
        rc = s_line(&pos, "token", &token);
    if (rc == CF_OK &&
        (!s_name_ok(user, CF_CLIENT_MAX_USER) || *pos != '\0' || !expires[0] ||
         expires[strspn(expires, "0123456789")] != '\0' || cf_auth_token_check(token) != CF_OK))
        rc = CF_ERR_CORRUPT;
    if (rc != CF_OK)
        return cf_why(why, rc, "%s is damaged: log in again", path);
    if (strcmp(server, self->url) != 0)
        return cf_why(why, CF_ERR_CORRUPT, "%s belongs to %.200s", path, server);
    CF_TRY(cf_client_set_token(self, token));
    self->token_stored = 1;
    snprintf(self->user, sizeof(self->user), "%s", user);
    return CF_OK;
}

cf_err_t cf_client_session_load(cf_client_t *self, cf_why_t *why)
{
    char path[4200];
    char *text = NULL;
    CF_TRY(s_file(self, "sessions", 0, path, sizeof(path), why));
    if (access(path, F_OK) != 0)
        return cf_why(why, CF_ERR_NOTFOUND, "not logged in to %s: run 'cf-console login'",
                      self->url);
    cf_err_t rc = cf_cfg_read_secret_file(path, CF_CLIENT_MAX_SESSION, 0, &text, why);
    if (rc == CF_OK)
        rc = s_parse_session(self, text, path, why);
    cf_mem_free_secret_str(text);
    return rc;
}

cf_err_t cf_client_session_save(cf_client_t *self, const char *token, const char *user,
                                const char *role, long long expires, cf_why_t *why)
{
    char path[4200], text[CF_CLIENT_MAX_SESSION];
    if (cf_auth_token_check(token) != CF_OK)
        return cf_why(why, CF_ERR_INVALID, "the server's session token is not one we accept");
    if (!s_name_ok(user, CF_CLIENT_MAX_USER) || !s_name_ok(role, S_MAX_ROLE))
        return cf_why(why, CF_ERR_INVALID, "the user or role name is not one we can store");
    CF_TRY(s_file(self, "sessions", 1, path, sizeof(path), why));
    int n = snprintf(text, sizeof(text),
                     S_MAGIC "\nserver %s\nuser %s\nrole %s\nexpires %lld\n"
                             "token %s\n",
                     self->url, user, role, expires, token);
    cf_err_t rc = n > 0 && (size_t) n < sizeof(text) ? CF_OK : CF_ERR_TOOBIG;
    if (rc == CF_OK)
        rc = cf_file_write_atomic(path, text, (size_t) n, 0600, why);
    if (rc == CF_OK)
        rc = cf_client_set_token(self, token);
    if (rc == CF_OK) {
        self->token_stored = 1;
        snprintf(self->user, sizeof(self->user), "%s", user);
    }
    cf_mem_wipe(text, sizeof(text));
    return rc;
}

int cf_client_session_remove(cf_client_t *self)
{
    char path[4200];
    cf_mem_free_secret_str(self->token);
    self->token = NULL;
    self->token_stored = 0;
    self->user[0] = '\0';
    return s_file(self, "sessions", 0, path, sizeof(path), NULL) == CF_OK && unlink(path) == 0;
}

const char *cf_client_session_user(const cf_client_t *self)
{
    return self->user;
}

/* The remembered names, one per line (most recent first), into buf; "" when none. */
static cf_err_t s_read_logins(const cf_client_t *self, char *buf, size_t len, char *path,
                              size_t path_len, int create, cf_why_t *why)
{
    char *text = NULL;
    size_t n = 0;
    buf[0] = '\0';
    CF_TRY(s_file(self, "logins", create, path, path_len, why));
    cf_err_t rc = cf_file_read(path, len - 1, &text, &n, NULL);
    if (rc == CF_OK)
        memcpy(buf, text, n + 1);
    cf_mem_free(text);
    /* a file too large to be ours starts the list again */
    return rc == CF_OK || rc == CF_ERR_NOTFOUND || rc == CF_ERR_TOOBIG ? CF_OK : rc;
}

cf_err_t cf_client_logins_remember(cf_client_t *self, const char *user, cf_why_t *why)
{
    char old[S_MAX_LOGINS], out[S_MAX_LOGINS + CF_CLIENT_MAX_USER + 2], path[4200];
    if (!s_name_ok(user, CF_CLIENT_MAX_USER))
        return cf_why(why, CF_ERR_INVALID, "not a user name we remember");
    CF_TRY(s_read_logins(self, old, sizeof(old), path, sizeof(path), 1, why));
    int len = snprintf(out, sizeof(out), "%s\n", user);
    size_t kept = 1;
    for (char *save = NULL, *name = strtok_r(old, "\n", &save); name && kept < CF_CLIENT_MAX_LOGINS;
         name = strtok_r(NULL, "\n", &save)) {
        if (strcmp(name, user) == 0 || !s_name_ok(name, CF_CLIENT_MAX_USER))
            continue;
        len += snprintf(out + len, sizeof(out) - (size_t) len, "%s\n", name);
        kept++;
    }
    return cf_file_write_atomic(path, out, (size_t) len, 0600, why);
}

cf_err_t cf_client_logins_last(cf_client_t *self, char *buf, size_t len)
{
    char all[S_MAX_LOGINS], path[4200];
    buf[0] = '\0';
    CF_TRY(s_read_logins(self, all, sizeof(all), path, sizeof(path), 0, NULL));
    all[strcspn(all, "\n")] = '\0';
    if (!s_name_ok(all, CF_CLIENT_MAX_USER))
        return CF_ERR_NOTFOUND;
    int n = snprintf(buf, len, "%s", all);
    return n > 0 && (size_t) n < len ? CF_OK : CF_ERR_TOOBIG;
}

void cf_client_logins_forget(cf_client_t *self)
{
    char path[4200];
    if (s_file(self, "logins", 0, path, sizeof(path), NULL) == CF_OK)
        (void) unlink(path);
}
