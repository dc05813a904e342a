/*  cf_client - cf-console's HTTPS client for the cf-server API: settings, mutual TLS, sessions  */
#ifndef CF_CLIENT_H_INCLUDED
#define CF_CLIENT_H_INCLUDED

#include <stddef.h>

#include <jansson.h>

#include "cf_cert.h"
#include "cf_cfg.h"
#include "cf_err.h"

#define CF_CLIENT_DEFAULT_SERVER "https://127.0.0.1:7005"
#define CF_CLIENT_ENV_PREFIX     "CF_CONSOLE_"       /* CF_CONSOLE_SERVER, ... */
#define CF_CLIENT_CONF_DIR       ".config/certfleet" /* under $HOME */
#define CF_CLIENT_CONF_FILE      "console.conf"      /* in CF_CLIENT_CONF_DIR */
#define CF_CLIENT_MAX_URL        1024                /* longest --server URL, bytes */
#define CF_CLIENT_MAX_ANSWER     (4 * 1024 * 1024)   /* largest answer body, bytes */
#define CF_CLIENT_MAX_BODY       (256 * 1024)        /* largest request body (uploads) */
#define CF_CLIENT_MAX_SESSION    4096                /* largest session file, bytes */
#define CF_CLIENT_MAX_USER       64                  /* longest user name we remember */
#define CF_CLIENT_MAX_LOGINS     16                  /* user names remembered per server */

/* The connection options every command that talks to a server puts in its option table
   (cf_client_new reads them by these names). */
#define CF_CLIENT_OPTIONS                                                                         \
    {"server",                                                                                    \
     's',                                                                                         \
     CF_CFG_STRING,                                                                               \
     "URL",                                                                                       \
     "the cf-server to talk to (https://HOST:PORT)",                                              \
     CF_CLIENT_DEFAULT_SERVER,                                                                    \
     0,                                                                                           \
     0,                                                                                           \
     NULL},                                                                                       \
        {"ca",                                                                                    \
         0,                                                                                       \
         CF_CFG_PATH,                                                                             \
         "FILE",                                                                                  \
         "CA certificate (PEM) the server's certificate must "                                    \
         "chain to (default: the system's trust store)",                                          \
         NULL,                                                                                    \
         0,                                                                                       \
         0,                                                                                       \
         NULL},                                                                                   \
        {"cert", 0, CF_CFG_PATH, "FILE.p12", "our console certificate and key (PKCS#12)",         \
         NULL,   0, 0,           NULL},                                                           \
        {"cert-password-file",                                                                    \
         0,                                                                                       \
         CF_CFG_PATH,                                                                             \
         "FILE",                                                                                  \
         "password of the PKCS#12 (else $PKCS12_PASS, else a prompt)",                            \
         NULL,                                                                                    \
         0,                                                                                       \
         0,                                                                                       \
         NULL},                                                                                   \
        {"user", 'u', CF_CFG_STRING, "NAME", "login name", NULL, 0, 0, NULL},                     \
        {"password-file",                                                                         \
         0,                                                                                       \
         CF_CFG_PATH,                                                                             \
         "FILE",                                                                                  \
         "login password (else a prompt)",                                                        \
         NULL,                                                                                    \
         0,                                                                                       \
         0,                                                                                       \
         NULL},                                                                                   \
    {                                                                                             \
        "timeout", 0, CF_CFG_DURATION, "TIME", "give up on the server after this long", "30s", 1, \
            3600, NULL                                                                            \
    }

/* How an exchange ended, below HTTP. */
typedef enum {
    CF_CLIENT_NET_OK = 0,      /* an HTTP answer came (any status) */
    CF_CLIENT_NET_UNREACHABLE, /* no connection: refused, no route, name, timeout, closed */
    CF_CLIENT_NET_SERVER_CERT, /* the server's certificate did not verify (--ca, name) */
    CF_CLIENT_NET_OUR_CERT,    /* the server refused our certificate (or wants one) */
    CF_CLIENT_NET_TLS,         /* another TLS failure (versions, ciphers, local files) */
    CF_CLIENT_NET_ANSWER,      /* the answer broke a rule: too large, not JSON */
} cf_client_net_t;

/* One answer. Plain data: free the contents with cf_client_reply_clear. */
typedef struct {
    cf_client_net_t net; /* below-HTTP outcome */
    long status;         /* HTTP status, 0 when net is not OK */
    json_t *json;        /* the JSON body (owned), NULL when empty */
    char code[48];       /* error.code of an error answer ("unauthenticated"), or "" */
    char message[400];   /* error.message, or what went wrong below HTTP, or "" */
    long retry_after;    /* seconds from a Retry-After header, 0 when none */
    int alert;           /* TLS alert the server sent (description code), -1 when none */
    char tls[16];        /* negotiated protocol ("TLSv1.3"), "" when no handshake */
} cf_client_reply_t;

typedef struct cf_client cf_client_t; /* opaque: one server, one connection at a time */

/* Parse a command's options (its table holds CF_CLIENT_OPTIONS) with the console's
   sources: defaults < ~/.config/certfleet/console.conf (or --config) < CF_CONSOLE_*
   variables < flags. As cf_cli_options otherwise (NULL: stop with *exit_out). */
cf_cfg_t *cf_client_options(const char *prog, const char *synopsis, const char *about,
                            const cf_cfg_opt_t *opts, size_t n, int argc, char **argv,
                            int *exit_out);

/* CF_OK if url is one --server accepts (https://HOST[:PORT], at most CF_CLIENT_MAX_URL
   bytes); CF_ERR_INVALID / CF_ERR_TOOBIG with the reason in why. */
CF_MUST_USE cf_err_t cf_client_check_url(const char *url, cf_why_t *why);

/* A client for the connection options in cfg (borrowed during the call): the URL must
   be https://HOST[:PORT] (a trailing '/' is dropped); --cert is read and its key
   decrypted now (password from --cert-password-file, else $PKCS12_PASS, else a prompt
   when the file needs one), and stays in memory only. Errors (why says which):
   CF_ERR_INVALID (URL), CF_ERR_BADPASS, CF_ERR_NOKEY, CF_ERR_CORRUPT, CF_ERR_KEYMISMATCH
   and the other cf_p12_parse errors, CF_ERR_NOTFOUND / CF_ERR_IO (files), CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_client_new(const cf_cfg_t *cfg, cf_client_t **out, cf_why_t *why);
void cf_client_destroy(cf_client_t **self_p); /* wipes the token; NULLs; safe to repeat */

const char *cf_client_url(const cf_client_t *self);       /* borrowed: "https://h:p" */
const cf_cert_t *cf_client_cert(const cf_client_t *self); /* our certificate or NULL */
const char *cf_client_cert_path(const cf_client_t *self); /* --cert, or NULL */
const char *cf_client_ca_path(const cf_client_t *self);   /* --ca, or NULL */

/* Use a session token (43 characters, copied) for the next calls; NULL forgets it. */
CF_MUST_USE cf_err_t cf_client_set_token(cf_client_t *self, const char *token);

/* One exchange: method ("GET", "POST", "PUT", "DELETE"), path under /api/v1 ("/session"),
   body (borrowed, may be NULL; sent as application/json, at most CF_CLIENT_MAX_BODY bytes).
   reply must be clear (zeroed, or cf_client_reply_clear'ed); it is filled in every
   case (clear it after). Returns CF_OK when an HTTP answer
   came, whatever its status; CF_ERR_IO with reply->net saying what failed below HTTP;
   CF_ERR_TOOBIG (answer over CF_CLIENT_MAX_ANSWER, or body over its cap), CF_ERR_CORRUPT
   (answer not JSON) with net CF_CLIENT_NET_ANSWER; CF_ERR_NOMEM. When the server answers
   401 to a call that carried the stored session, that session file is removed. */
CF_MUST_USE cf_err_t cf_client_call(cf_client_t *self, const char *method, const char *path,
                                    const json_t *body, cf_client_reply_t *reply);
/* As cf_client_call with a body already encoded (len bytes, borrowed; a login's body,
   which the caller wipes). */
CF_MUST_USE cf_err_t cf_client_call_raw(cf_client_t *self, const char *method, const char *path,
                                        const char *body, size_t len, cf_client_reply_t *reply);

void cf_client_reply_clear(cf_client_reply_t *reply); /* frees json; safe to repeat */

/* The server's certificate seen in the last exchange (*out is the caller's), or
   CF_ERR_NOTFOUND. */
CF_MUST_USE cf_err_t cf_client_server_cert(cf_client_t *self, cf_cert_t **out);

/* The exit code for a reply: 0 for 2xx; 3 for 401; 4 when the server was unreachable or
   TLS failed; 1 otherwise (refused, other statuses, bad answers). */
int cf_client_exit_code(const cf_client_reply_t *reply);
/* Print "prog: what: <the reason>" to stderr, the reason in words (the server's message,
   a hint to log in, Retry-After, the TLS trouble); returns cf_client_exit_code. */
int cf_client_complain(const char *prog, const char *what, const cf_client_t *self,
                       const cf_client_reply_t *reply);

/* Sessions, per server URL: ~/.config/certfleet/sessions/<SHA-256 of the URL> (mode 0600,
   directories 0700), JSON {server, user, role, expires, token}. */
/* Load the stored session into the client (token used by the next calls); user/role
   may be NULL. CF_ERR_NOTFOUND when there is none (or $HOME is unset); CF_ERR_CORRUPT
   for a damaged file; CF_ERR_POLICY when the file is readable by others (why says). */
CF_MUST_USE cf_err_t cf_client_session_load(cf_client_t *self, cf_why_t *why);
/* Store token (checked: one of ours), user, role and expires for this server and make
   it the client's token. Errors: CF_ERR_INVALID, CF_ERR_NOTFOUND ($HOME), CF_ERR_IO. */
CF_MUST_USE cf_err_t cf_client_session_save(cf_client_t *self, const char *token, const char *user,
                                            const char *role, long long expires, cf_why_t *why);
/* Remove the stored session and forget the token. Returns 1 when a file was removed, 0
   when there was none (or it could not be removed: the server refuses it anyway). */
int cf_client_session_remove(cf_client_t *self);
/* The stored session's user, "" when none loaded; borrowed. */
const char *cf_client_session_user(const cf_client_t *self);

/* Remembered login names (the seed's console policy "save entered user logins"), per
   server in ~/.config/certfleet/logins/<SHA-256 of the URL>, most recent first, at most
   CF_CLIENT_MAX_LOGINS names of 1..CF_CLIENT_MAX_USER printable characters (no blanks). */
CF_MUST_USE cf_err_t cf_client_logins_remember(cf_client_t *self, const char *user, cf_why_t *why);
/* The most recent name into buf (""); CF_ERR_NOTFOUND when none is remembered. */
CF_MUST_USE cf_err_t cf_client_logins_last(cf_client_t *self, char *buf, size_t len);
/* Forget this server's names (policy switched off). */
void cf_client_logins_forget(cf_client_t *self);

/* The session commands (cf_cli_session.c): argv[0] is the command's name; each returns a
   CF_EXIT_* code. */
int cf_cli_connect(int argc, char **argv);
int cf_cli_login(int argc, char **argv);
int cf_cli_logout(int argc, char **argv);
int cf_cli_whoami(int argc, char **argv);

#endif
