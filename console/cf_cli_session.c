/*  cf_cli_session - `cf-console connect | login | logout | whoami`: the lock and the session  */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cf_cli.h"
#include "cf_client.h"
#include "cf_mem.h"

#define S_OPTS                                                                                 \
    CF_CLIENT_OPTIONS,                                                                         \
    {                                                                                          \
        "json", 0, CF_CFG_BOOL, NULL, "print JSON for scripts instead of text", "false", 0, 0, \
            NULL                                                                               \
    }
#define S_N(opts) (sizeof(opts) / sizeof((opts)[0]))

/* The seed's lock icon for the console's own connection. */
typedef enum {
    S_GREEN,   /* server verified and our console certificate accepted */
    S_GRAY,    /* no console certificate selected */
    S_RED,     /* an invalid certificate: ours or the server's */
    S_UNKNOWN, /* no answer to judge by: unreachable, TLS trouble, not a certfleet server */
} s_lock_t;

typedef struct {
    s_lock_t lock;    /* the colour */
    char reason[600]; /* why, in words */
    int exit_code;    /* CF_EXIT_* for the command */
} s_verdict_t;

/* Build a client from the command's options; prints the failure and sets *exit_code. */
static cf_client_t *s_open(const char *prog, const cf_cfg_t *cfg, int *exit_code)
{
    cf_client_t *client = NULL;
    cf_why_t why = {""};
    cf_err_t rc = cf_client_check_url(cf_cfg_str(cfg, "server"), &why);
    if (rc != CF_OK) {
        *exit_code = cf_cli_usage_error(prog, "%s", cf_why_text(&why, rc));
        return NULL;
    }
    rc = cf_client_new(cfg, &client, &why);
    if (rc != CF_OK)
        *exit_code = cf_cli_fail(prog, rc, &why, "cannot use the console certificate");
    return client;
}

static void s_print_json(json_t *obj)
{
    json_dumpf(obj, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
    printf("\n");
}

static const char *s_when(long long t, char *buf, size_t len)
{
    return t > 0 ? cf_cli_time(t, buf, len) : "an unknown time";
}

/* ---- connect ---------------------------------------------------------------------- */

static void s_verdict(s_verdict_t *v, s_lock_t lock, int exit_code, const char *fmt, ...)
    CF_PRINTF(4, 5);
static void s_verdict(s_verdict_t *v, s_lock_t lock, int exit_code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->reason, sizeof(v->reason), fmt, ap);
    va_end(ap);
    v->lock = lock;
    v->exit_code = exit_code;
}

/* The TLS layer failed: which lock that makes. */
static void s_judge_net(const cf_client_t *c, const cf_client_reply_t *r, s_verdict_t *v)
{
    switch (r->net) {
    case CF_CLIENT_NET_SERVER_CERT:
        s_verdict(v, S_RED, CF_EXIT_NET, "the server's certificate did not verify: %s%s",
                  r->message, cf_client_ca_path(c) ? "" : " (no --ca given)");
        break;
    case CF_CLIENT_NET_OUR_CERT:
        if (!cf_client_cert(c))
            s_verdict(v, S_GRAY, CF_EXIT_NET,
                      "no console certificate selected, and the server requires one: %s",
                      r->message);
        else
            s_verdict(v, S_RED, CF_EXIT_NET, "the server refused our console certificate: %s",
                      r->message);
        break;
    case CF_CLIENT_NET_ANSWER:
        s_verdict(v, S_UNKNOWN, CF_EXIT_FAIL, "not a certfleet server? %s", r->message);
        break;
    case CF_CLIENT_NET_UNREACHABLE:
    case CF_CLIENT_NET_TLS:
    case CF_CLIENT_NET_OK:
    default: s_verdict(v, S_UNKNOWN, CF_EXIT_NET, "%s", r->message); break;
    }
}

/* The handshake went through: judge our certificate by itself and by the server's word. */
static void s_judge_cert(const cf_client_t *c, const cf_client_reply_t *r, s_verdict_t *v)
{
    const cf_cert_t *cert = cf_client_cert(c);
    const char *seen = json_string_value(json_object_get(r->json, "client_cert"));
    char when[40];
    time_t now = time(NULL);
    if (!cert) {
        s_verdict(v, S_GRAY, CF_EXIT_OK,
                  "server verified; no console certificate selected "
                  "(--cert FILE.p12)");
    } else if (cf_cert_check_time(cert, now) == CF_ERR_EXPIRED) {
        s_verdict(v, S_RED, CF_EXIT_FAIL, "our console certificate expired on %s",
                  s_when(cf_cert_not_after(cert), when, sizeof(when)));
    } else if (cf_cert_check_time(cert, now) != CF_OK) {
        s_verdict(v, S_RED, CF_EXIT_FAIL, "our console certificate is not valid before %s",
                  s_when(cf_cert_not_before(cert), when, sizeof(when)));
    } else if (cf_cert_component(cert) != CF_COMPONENT_CONSOLE) {
        s_verdict(v, S_RED, CF_EXIT_FAIL, "%s is not a console certificate (it is for: %s)",
                  cf_client_cert_path(c), cf_component_name(cf_cert_component(cert)));
    } else if (seen && strcmp(seen, "console") == 0) {
        s_verdict(v, S_GREEN, CF_EXIT_OK, "server verified, console certificate accepted");
    } else {
        s_verdict(v, S_RED, CF_EXIT_FAIL, "the server did not take our certificate (it sees %s)",
                  seen ? seen : "none");
    }
}

static const char *const s_lock_words[] = {"GREEN", "GRAY", "RED", "UNKNOWN"};
static const char *const s_lock_json[] = {"green", "gray", "red", "unknown"};
static const char *const s_lock_ansi[] = {"\033[1;32m", "\033[1;37m", "\033[1;31m", "\033[1m"};

static json_t *s_cert_json(const cf_cert_t *cert)
{
    if (!cert)
        return json_null();
    return json_pack("{s:s, s:s, s:s, s:I}", "subject", cf_cert_subject(cert), "fingerprint",
                     cf_cert_fingerprint(cert), "serial", cf_cert_serial(cert), "not_after",
                     (json_int_t) cf_cert_not_after(cert));
}

static void s_cert_line(const char *label, const cf_cert_t *cert)
{
    char when[40];
    if (cert)
        printf("  %-20s %s, expires %s, SHA-256 %s\n", label, cf_cert_subject(cert),
               s_when(cf_cert_not_after(cert), when, sizeof(when)), cf_cert_fingerprint(cert));
}

static void s_connect_json(const char *url, const cf_client_reply_t *r, const s_verdict_t *v,
                           const cf_cert_t *ours, const cf_cert_t *server_cert)
{
    const char *alias = json_string_value(json_object_get(r->json, "alias"));
    const char *version = json_string_value(json_object_get(r->json, "version"));
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s?, s:s?, s:s?, s:o, s:o}", "server", url, "lock", s_lock_json[v->lock],
        "reason", v->reason, "tls", r->tls[0] ? r->tls : NULL, "alias", alias, "version", version,
        "console_cert", s_cert_json(ours), "server_cert", s_cert_json(server_cert));
    s_print_json(o);
    json_decref(o);
}

/* Print the verdict for url; c may be NULL (our certificate could not be loaded). */
static void s_connect_print(const char *url, cf_client_t *c, const cf_client_reply_t *r,
                            const s_verdict_t *v, int json)
{
    cf_cert_t *server_cert = NULL;
    const cf_cert_t *ours = c ? cf_client_cert(c) : NULL;
    if (c && r->net == CF_CLIENT_NET_OK && cf_client_server_cert(c, &server_cert) != CF_OK)
        server_cert = NULL;
    const char *alias = json_string_value(json_object_get(r->json, "alias"));
    const char *version = json_string_value(json_object_get(r->json, "version"));
    if (json) {
        s_connect_json(url, r, v, ours, server_cert);
    } else {
        int colour = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
        printf("%s%s%s%s  %s: %s\n", colour ? s_lock_ansi[v->lock] : "", colour ? "\u25cf " : "",
               s_lock_words[v->lock], colour ? "\033[0m" : "", url, v->reason);
        if (alias)
            printf("  %-20s %s%s%s%s%s\n", "server", alias, version ? " " : "",
                   version ? version : "", r->tls[0] ? " over " : "", r->tls);
        s_cert_line("server certificate", server_cert);
        s_cert_line("console certificate", ours);
    }
    cf_cert_destroy(&server_cert);
}

int cf_cli_connect(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {S_OPTS};
    const char *prog = "cf-console connect";
    int exit_code = CF_EXIT_OK;
    cf_cfg_t *cfg = cf_client_options(
        prog, "[--server URL] [--ca FILE] [--cert FILE.p12] [--json]",
        "Connect to a server and show the lock of this console's connection, as the seed's\n"
        "dialog does: GREEN = the server's certificate verified and our console certificate\n"
        "accepted; GRAY = no console certificate selected; RED = an invalid certificate (ours\n"
        "expired or refused, or the server's did not verify), with the reason.\n" CF_EXIT_HELP,
        opts, S_N(opts), argc, argv, &exit_code);
    if (!cfg)
        return exit_code;
    s_verdict_t v = {S_UNKNOWN, "", CF_EXIT_FAIL};
    cf_client_reply_t r = {.alert = -1};
    cf_client_t *c = NULL;
    cf_why_t why = {""};
    const char *url = cf_cfg_str(cfg, "server");
    cf_err_t rc = cf_client_check_url(url, &why);
    if (rc != CF_OK) {
        exit_code = cf_cli_usage_error(prog, "%s", cf_why_text(&why, rc));
        goto out;
    }
    rc = cf_client_new(cfg, &c, &why);
    if (rc != CF_OK) /* the selected certificate cannot even be opened: a red lock too */
        s_verdict(&v, cf_cfg_str(cfg, "cert") ? S_RED : S_UNKNOWN, CF_EXIT_FAIL,
                  "the console certificate cannot be used: %s", cf_why_text(&why, rc));
    else if (cf_client_call(c, "GET", "/health", NULL, &r) != CF_OK || r.status != 200)
        s_judge_net(c, &r, &v);
    if (c && r.net == CF_CLIENT_NET_OK && r.status != 200)
        s_verdict(&v, S_UNKNOWN, CF_EXIT_FAIL, "the server answered HTTP %ld to /health%s%s",
                  r.status, r.message[0] ? ": " : "", r.message);
    else if (c && r.net == CF_CLIENT_NET_OK)
        s_judge_cert(c, &r, &v);
    s_connect_print(c ? cf_client_url(c) : url, c, &r, &v, cf_cfg_bool(cfg, "json"));
    exit_code = v.exit_code;
out:
    cf_client_reply_clear(&r);
    cf_client_destroy(&c);
    cf_cfg_destroy(&cfg);
    return exit_code;
}

/* ---- login ------------------------------------------------------------------------ */

/* {"user":<json>,"password":"<escaped>"} in a buffer the caller wipes (cf_mem_free_secret). */
static char *s_login_body(const char *user, const char *password, size_t *len_out)
{
    json_t *u = json_string(user);
    char *user_json = u ? json_dumps(u, JSON_ENCODE_ANY) : NULL;
    size_t cap = (user_json ? strlen(user_json) : 0) + 6 * strlen(password) + 32;
    char *body = user_json ? cf_mem_malloc(cap) : NULL;
    json_decref(u);
    if (!body) {
        free(user_json);
        return NULL;
    }
    size_t n = (size_t) snprintf(body, cap, "{\"user\":%s,\"password\":\"", user_json);
    free(user_json);
    for (const unsigned char *p = (const unsigned char *) password; *p; p++) {
        if (*p == '"' || *p == '\\') {
            body[n++] = '\\';
            body[n++] = (char) *p;
        } else if (*p < 0x20) {
            n += (size_t) snprintf(body + n, cap - n, "\\u%04x", *p);
        } else {
            body[n++] = (char) *p;
        }
    }
    memcpy(body + n, "\"}", 3);
    *len_out = n + 2;
    return body;
}

/* The login name (1..CF_CLIENT_MAX_USER bytes) into buf (CF_CLIENT_MAX_USER + 2 bytes):
   --user, else the last one remembered for this server (offered at a prompt when there
   is a terminal). Returns 0 when there is none or it is too long. */
static int s_user(const cf_cfg_t *cfg, cf_client_t *c, char *buf, size_t len)
{
    char last[CF_CLIENT_MAX_USER + 1] = "";
    const char *given = cf_cfg_str(cfg, "user");
    buf[0] = '\0';
    if (given && strlen(given) < len - 1)
        snprintf(buf, len, "%s", given);
    int have_last = !given && cf_client_logins_last(c, last, sizeof(last)) == CF_OK;
    FILE *tty = given ? NULL : fopen("/dev/tty", "r+");
    if (tty) {
        if (have_last)
            fprintf(stderr, "User [%s]: ", last);
        else
            fprintf(stderr, "User: ");
        fflush(stderr);
        if (!fgets(buf, (int) len, tty) || !strchr(buf, '\n'))
            buf[0] = '\0'; /* nothing, or longer than any name we take */
        buf[strcspn(buf, "\r\n")] = '\0';
        fclose(tty);
    }
    if (!buf[0] && have_last)
        snprintf(buf, len, "%s", last);
    return buf[0] != '\0' && strlen(buf) <= CF_CLIENT_MAX_USER;
}

/* Keep what a successful login answered: the session, and the name if policy says so. */
static int s_login_keep(const char *prog, cf_client_t *c, const char *user,
                        const cf_client_reply_t *r, int json)
{
    cf_why_t why = {""};
    const char *token = json_string_value(json_object_get(r->json, "token"));
    const char *role = json_string_value(json_object_get(r->json, "role"));
    json_int_t expires = json_integer_value(json_object_get(r->json, "expires"));
    cf_err_t rc = cf_client_session_save(c, token, user, role, (long long) expires, &why);
    if (rc != CF_OK)
        return cf_cli_fail(prog, rc, &why, "cannot keep the session");
    if (json_is_true(json_object_get(r->json, "save_logins")))
        rc = cf_client_logins_remember(c, user, &why);
    else
        cf_client_logins_forget(c); /* the console policy is off: keep no names */
    if (rc != CF_OK)
        fprintf(stderr, "%s: cannot remember the login name: %s\n", prog, cf_why_text(&why, rc));
    char when[40];
    if (json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "server", cf_client_url(c), "user", user,
                              "role", role, "expires", expires);
        s_print_json(o);
        json_decref(o);
    } else {
        printf("logged in to %s as %s (%s); the session ends %s\n", cf_client_url(c), user, role,
               s_when((long long) expires, when, sizeof(when)));
    }
    return CF_EXIT_OK;
}

int cf_cli_login(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {S_OPTS};
    const char *prog = "cf-console login";
    int exit_code = CF_EXIT_OK;
    cf_cfg_t *cfg = cf_client_options(
        prog, "[--user NAME] [--password-file FILE] [connection options]",
        "Log in and keep the session for this server in ~/.config/certfleet/sessions (0600).\n"
        "The password comes from --password-file or a prompt; it is never echoed or logged.\n"
        "Without --user, the last name remembered for this server is used (remembered when\n"
        "the server's console policy \"save entered user logins\" is on).\n" CF_EXIT_HELP,
        opts, S_N(opts), argc, argv, &exit_code);
    if (!cfg)
        return exit_code;
    char user[CF_CLIENT_MAX_USER + 2] = "", *password = NULL, *body = NULL;
    size_t len = 0;
    cf_why_t why = {""};
    cf_client_reply_t r = {0};
    cf_client_t *c = s_open(prog, cfg, &exit_code);
    if (!c)
        goto out;
    if (!s_user(cfg, c, user, sizeof(user))) {
        exit_code = cf_cli_usage_error(prog, "give --user NAME (at most %d characters)",
                                       CF_CLIENT_MAX_USER);
        goto out;
    }
    char prompt[CF_CLIENT_MAX_USER + CF_CLIENT_MAX_URL + 32];
    snprintf(prompt, sizeof(prompt), "Password for %s at %s: ", user, cf_client_url(c));
    cf_err_t rc =
        cf_cli_password(cf_cfg_str(cfg, "password-file"), NULL, prompt, 0, &password, &why);
    if (rc != CF_OK) {
        exit_code = rc == CF_ERR_NOTFOUND ? cf_cli_usage_error(prog, "%s", cf_why_text(&why, rc))
                                          : cf_cli_fail(prog, rc, &why, "no password");
        goto out;
    }
    body = s_login_body(user, password, &len);
    rc = body ? cf_client_call_raw(c, "POST", "/login", body, len, &r) : CF_ERR_NOMEM;
    if (rc == CF_OK && r.status == 200)
        exit_code = s_login_keep(prog, c, user, &r, cf_cfg_bool(cfg, "json"));
    else if (rc == CF_OK && r.status == 401) {
        fprintf(stderr, "%s: wrong user or password for %s at %s\n", prog, user, cf_client_url(c));
        exit_code = CF_EXIT_AUTH;
    } else if (rc == CF_ERR_NOMEM) {
        exit_code = cf_cli_fail(prog, rc, NULL, "cannot log in");
    } else {
        exit_code = cf_client_complain(prog, "cannot log in", c, &r);
    }
out:
    if (body)
        cf_mem_free_secret(body, len);
    cf_mem_free_secret_str(password);
    cf_client_reply_clear(&r);
    cf_client_destroy(&c);
    cf_cfg_destroy(&cfg);
    return exit_code;
}

/* A client holding the stored session; prints why not and sets *exit_code otherwise. */
static cf_client_t *s_open_session(const char *prog, const cf_cfg_t *cfg, int *exit_code)
{
    cf_why_t why = {""};
    cf_client_t *c = s_open(prog, cfg, exit_code);
    if (!c)
        return NULL;
    cf_err_t rc = cf_client_session_load(c, &why);
    if (rc != CF_OK) {
        fprintf(stderr, "%s: %s\n", prog, cf_why_text(&why, rc));
        *exit_code = rc == CF_ERR_NOTFOUND ? CF_EXIT_AUTH : CF_EXIT_FAIL;
        cf_client_destroy(&c);
    }
    return c;
}

int cf_cli_logout(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {
        S_OPTS,
        {"forget", 0, CF_CFG_BOOL, NULL,
         "drop the stored session even when the server cannot be told", "false", 0, 0, NULL},
    };
    const char *prog = "cf-console logout";
    int exit_code = CF_EXIT_OK;
    cf_cfg_t *cfg =
        cf_client_options(prog, "[connection options] [--forget]",
                          "End the session on the server and delete it here.\n" CF_EXIT_HELP, opts,
                          S_N(opts), argc, argv, &exit_code);
    if (!cfg)
        return exit_code;
    cf_client_reply_t r = {0};
    cf_client_t *c = s_open_session(prog, cfg, &exit_code);
    if (!c)
        goto out;
    cf_err_t rc = cf_client_call(c, "POST", "/logout", NULL, &r);
    int told = rc == CF_OK && (r.status == 200 || r.status == 401);
    if (!told)
        exit_code = cf_client_complain(prog, "cannot log out", c, &r);
    if (told || cf_cfg_bool(cfg, "forget")) {
        cf_client_session_remove(c); /* a 401 removed it already */
        printf("logged out of %s%s\n", cf_client_url(c),
               told ? (r.status == 401 ? " (the session had already ended)" : "")
                    : " here only: the server was not told");
        exit_code = CF_EXIT_OK; /* told, or asked to forget */
    } else {
        fprintf(stderr, "%s: the session is kept: try again, or give --forget\n", prog);
    }
out:
    cf_client_reply_clear(&r);
    cf_client_destroy(&c);
    cf_cfg_destroy(&cfg);
    return exit_code;
}

int cf_cli_whoami(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {S_OPTS};
    const char *prog = "cf-console whoami";
    int exit_code = CF_EXIT_OK;
    cf_cfg_t *cfg =
        cf_client_options(prog, "[connection options] [--json]",
                          "Show who this console's session for the server is.\n" CF_EXIT_HELP, opts,
                          S_N(opts), argc, argv, &exit_code);
    if (!cfg)
        return exit_code;
    cf_client_reply_t r = {0};
    char when[40];
    cf_client_t *c = s_open_session(prog, cfg, &exit_code);
    if (!c)
        goto out;
    cf_err_t rc = cf_client_call(c, "GET", "/session", NULL, &r);
    const char *user = json_string_value(json_object_get(r.json, "user"));
    const char *role = json_string_value(json_object_get(r.json, "role"));
    if (rc != CF_OK || r.status != 200 || !user || !role) {
        if (rc == CF_OK && r.status == 200)
            snprintf(r.message, sizeof(r.message), "the answer has no user or role");
        exit_code = cf_client_complain(prog, "cannot read the session", c, &r);
        exit_code = rc == CF_OK && r.status == 200 ? CF_EXIT_FAIL : exit_code;
    } else if (cf_cfg_bool(cfg, "json")) {
        s_print_json(r.json);
    } else {
        printf("%s (%s) at %s; the session ends %s\n", user, role, cf_client_url(c),
               s_when(json_integer_value(json_object_get(r.json, "expires")), when, sizeof(when)));
    }
out:
    cf_client_reply_clear(&r);
    cf_client_destroy(&c);
    cf_cfg_destroy(&cfg);
    return exit_code;
}
