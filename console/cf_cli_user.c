/*  cf_cli_user - `cf-console user ...` and `audit`: console logins, their policy, the audit trail
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cf_cli.h"
#include "cf_cli_api.h"
#include "cf_client.h"
#include "cf_db_key.h"
#include "cf_mem.h"
#include "cf_table.h"

#define S_N(opts)    (sizeof(opts) / sizeof((opts)[0]))
#define S_CONN       "[--json] [connection options]"
#define S_MAX_LIMIT  1000 /* audit events in one answer (the server's cap) */
#define S_MAX_CURSOR 64   /* longest paging cursor (a stream id), bytes */
#define S_MIN_PASS   8    /* shortest password the server takes */

static const char *const s_roles[] = {"viewer", "admin", NULL};

static const cf_table_col_t s_user_cols[] = {
    {"USER", CF_TABLE_LEFT}, {"ROLE", CF_TABLE_LEFT}, {"CREATED", CF_TABLE_LEFT}};

static const char *s_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* A time field: unix seconds as an integer or a real; 0 when absent. */
static long long s_time(const json_t *o, const char *key)
{
    return (long long) json_number_value(json_object_get(o, key));
}

static cf_err_t s_user_row(cf_table_t *t, const json_t *u)
{
    char when[CF_TABLE_TIME_MAX];
    cf_err_t rc = cf_table_add(t, s_str(u, "name"));
    if (rc == CF_OK)
        rc = cf_table_add(t, s_str(u, "role"));
    if (rc == CF_OK)
        rc = cf_table_add(t, cf_table_time(s_time(u, "created"), when, sizeof(when)));
    return rc;
}

/* Print one user (add) or the list ("users"). */
static void s_users_print(cf_cli_run_t *run, const json_t *answer, int list)
{
    cf_table_t *t = cf_table_new(s_user_cols, S_N(s_user_cols), 0);
    size_t i;
    json_t *u;
    if (t && !list && s_user_row(t, answer) != CF_OK)
        fprintf(stderr, "%s: the answer could not be shown whole\n", run->prog);
    json_array_foreach(list ? json_object_get(answer, "users") : NULL, i, u)
    {
        if (!t || s_user_row(t, u) != CF_OK)
            break;
    }
    cf_cli_print_table(run, &t);
}

static int s_list(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {CF_CLIENT_OPTIONS, CF_CLI_JSON_OPTION};
    cf_cli_run_t run;
    json_t *answer = NULL;
    if (!cf_cli_begin(&run, "cf-console user list", S_CONN,
                      "List the console logins and their roles (admin only).\n" CF_EXIT_HELP, opts,
                      S_N(opts), 0, 0, argc, argv) ||
        !cf_cli_open_run(&run))
        return cf_cli_end(&run);
    run.exit_code =
        cf_cli_fetch(run.prog, "cannot list the users", run.client, "GET", "/users", NULL, &answer);
    if (run.exit_code == CF_EXIT_OK && run.json)
        cf_cli_print_json(answer);
    else if (run.exit_code == CF_EXIT_OK)
        s_users_print(&run, answer, 1);
    json_decref(answer);
    return cf_cli_end(&run);
}

/* The user name argument; 0 with a usage error when it is not one. */
static int s_name(cf_cli_run_t *run)
{
    if (cf_db_check_user(run->args[0]) == CF_OK)
        return 1;
    run->exit_code = cf_cli_usage_error(run->prog,
                                        "'%.80s' is not a user name: 1..%d characters a-z, 0-9, "
                                        "'.', '_', '@', '-', starting with a letter or digit",
                                        run->args[0], CF_DB_USER_MAX);
    return 0;
}

/* What the server takes as a password: S_MIN_PASS..CF_CLI_MAX_PASSWORD printable ASCII. */
static int s_password_ok(const char *password)
{
    size_t len = strlen(password);
    for (size_t i = 0; i < len; i++) {
        if (password[i] < 0x20 || password[i] > 0x7e)
            return 0;
    }
    return len >= S_MIN_PASS && len <= CF_CLI_MAX_PASSWORD;
}

/* POST /users with the new user's password: the body holds it, so it is encoded into a
   buffer that is wiped, and jansson's copies are wiped as they are freed (main.c). */
static void s_add_call(cf_cli_run_t *run, const char *password, json_t **answer)
{
    json_t *body = json_pack("{s:s, s:s, s:s}", "name", run->args[0], "role",
                             cf_cfg_str(run->cfg, "role"), "password", password);
    run->exit_code = body ? cf_cli_fetch_secret(run->prog, "cannot add the user", run->client,
                                                "POST", "/users", body, answer)
                          : cf_cli_fail(run->prog, CF_ERR_NOMEM, NULL, "cannot add the user");
    json_decref(body);
}

static int s_add(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {
        CF_CLIENT_OPTIONS,
        CF_CLI_JSON_OPTION,
        {"role", 0, CF_CFG_ENUM, "ROLE", "viewer (reads) or admin (changes too)", "viewer", 0, 0,
         s_roles},
    };
    cf_cli_run_t run;
    cf_why_t why = {""};
    char *password = NULL, prompt[CF_DB_USER_MAX + 40];
    json_t *answer = NULL;
    if (!cf_cli_begin(
            &run, "cf-console user add",
            "NAME [--role viewer|admin] [--password-file FILE] " S_CONN,
            "Add a console login (admin only). The new user's password comes from\n"
            "--password-file FILE given on the command line (here it is the new user's\n"
            "password, not yours; a password-file in console.conf is ignored), else a\n"
            "prompt asking twice. It is never echoed, logged or stored here.\n" CF_EXIT_HELP,
            opts, S_N(opts), 1, 1, argc, argv) ||
        !s_name(&run))
        goto out;
    snprintf(prompt, sizeof(prompt), "Password for the new user %s: ", run.args[0]);
    cf_err_t rc =
        cf_cli_password(cf_cli_flag(run.cfg, "password-file"), NULL, prompt, 1, &password, &why);
    if (rc != CF_OK) {
        run.exit_code = rc == CF_ERR_NOTFOUND
                            ? cf_cli_usage_error(run.prog, "%s", cf_why_text(&why, rc))
                            : cf_cli_fail(run.prog, rc, &why, "no password");
        goto out;
    }
    if (!s_password_ok(password)) {
        run.exit_code = cf_cli_usage_error(
            run.prog, "the password must be %d..%d printable ASCII characters (space included)",
            S_MIN_PASS, CF_CLI_MAX_PASSWORD);
        goto out;
    }
    if (!cf_cli_open_run(&run))
        goto out;
    s_add_call(&run, password, &answer);
    if (run.exit_code == CF_EXIT_OK && run.json)
        cf_cli_print_json(answer);
    else if (run.exit_code == CF_EXIT_OK)
        s_users_print(&run, answer, 0);
out:
    cf_mem_free_secret_str(password);
    json_decref(answer);
    return cf_cli_end(&run);
}

static int s_remove(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {CF_CLIENT_OPTIONS, CF_CLI_JSON_OPTION};
    cf_cli_run_t run;
    char path[16 + CF_DB_USER_MAX * 3];
    json_t *answer = NULL;
    if (!cf_cli_begin(&run, "cf-console user remove", "NAME " S_CONN,
                      "Remove a console login (admin only); its sessions end.\n" CF_EXIT_HELP, opts,
                      S_N(opts), 1, 1, argc, argv) ||
        !s_name(&run) || !cf_cli_open_run(&run))
        return cf_cli_end(&run);
    size_t n = (size_t) snprintf(path, sizeof(path), "/users/");
    if (cf_cli_escape(run.args[0], path + n, sizeof(path) - n) != CF_OK) /* '@' is escaped */
        run.exit_code = cf_cli_fail(run.prog, CF_ERR_TOOBIG, NULL, "user name");
    else
        run.exit_code = cf_cli_fetch(run.prog, "cannot remove the user", run.client, "DELETE", path,
                                     NULL, &answer);
    if (run.exit_code == CF_EXIT_OK && run.json)
        cf_cli_print_json(answer);
    else if (run.exit_code == CF_EXIT_OK)
        printf("removed user %s\n", run.args[0]);
    json_decref(answer);
    return cf_cli_end(&run);
}

static int s_save_logins(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {CF_CLIENT_OPTIONS, CF_CLI_JSON_OPTION};
    cf_cli_run_t run;
    json_t *body = NULL, *answer = NULL;
    int on = 0;
    if (!cf_cli_begin(
            &run, "cf-console user save-logins", "on|off " S_CONN,
            "The console policy \"Save entered user logins\" (admin only): when on,\n"
            "consoles remember the names typed at login and offer them next time.\n" CF_EXIT_HELP,
            opts, S_N(opts), 1, 1, argc, argv))
        return cf_cli_end(&run);
    if (cf_table_parse_switch(run.args[0], &on) != CF_OK) {
        run.exit_code = cf_cli_usage_error(run.prog, "say on or off, not '%.40s'", run.args[0]);
        return cf_cli_end(&run);
    }
    body = json_pack("{s:b}", "save_logins", on);
    if (body && cf_cli_open_run(&run))
        run.exit_code = cf_cli_fetch(run.prog, "cannot change the console policy", run.client,
                                     "PUT", "/policy/console", body, &answer);
    else if (!body)
        run.exit_code = cf_cli_fail(run.prog, CF_ERR_NOMEM, NULL, "cannot build the request");
    if (run.client && run.exit_code == CF_EXIT_OK && run.json)
        cf_cli_print_json(answer);
    else if (run.client && run.exit_code == CF_EXIT_OK)
        printf("console policy: save entered user logins %s\n",
               json_is_true(json_object_get(answer, "save_logins")) ? "on" : "off");
    json_decref(body);
    json_decref(answer);
    return cf_cli_end(&run);
}

/* ---- audit ------------------------------------------------------------------------ */

static const cf_table_col_t s_audit_cols[] = {
    {"TIME", CF_TABLE_LEFT},   {"WHO", CF_TABLE_LEFT},    {"ROLE", CF_TABLE_LEFT},
    {"ACTION", CF_TABLE_LEFT}, {"TARGET", CF_TABLE_LEFT}, {"RESULT", CF_TABLE_LEFT},
    {"FROM", CF_TABLE_LEFT},
};

static cf_err_t s_event_row(cf_table_t *t, const json_t *e)
{
    static const char *const keys[] = {"who", "role", "what", "target", "result", "from"};
    char when[CF_TABLE_TIME_MAX];
    cf_err_t rc = cf_table_add(t, cf_table_time(s_time(e, "time"), when, sizeof(when)));
    for (size_t i = 0; rc == CF_OK && i < S_N(keys); i++)
        rc = cf_table_add(t, s_str(e, keys[i]));
    return rc;
}

static void s_audit_print(cf_cli_run_t *run, const json_t *answer)
{
    char cursor[S_MAX_CURSOR + 1];
    const json_t *events = json_object_get(answer, "events");
    cf_table_t *t = cf_table_new(s_audit_cols, S_N(s_audit_cols), 0);
    size_t i;
    json_t *e;
    json_array_foreach(events, i, e)
    {
        if (!t || s_event_row(t, e) != CF_OK)
            break;
    }
    if (cf_cli_print_table(run, &t) != CF_EXIT_OK)
        return;
    if (json_array_size(events) == 0)
        printf("no event\n");
    if (cf_table_cursor(json_object_get(answer, "cursor"), cursor, sizeof(cursor)) == CF_OK &&
        cursor[0])
        printf("more: add --cursor %s\n", cursor);
}

/* GET /audit?since=&limit=&cursor= from the options into path. */
static int s_audit_path(cf_cli_run_t *run, char *path, size_t len)
{
    cf_why_t why = {""};
    long long since = 0;
    char cursor[3 * S_MAX_CURSOR + 1];
    const char *text = cf_cli_flag(run->cfg, "since");
    const char *c = cf_cli_flag(run->cfg, "cursor");
    cf_err_t rc = text ? cf_table_parse_since(text, (long long) time(NULL), &since, &why) : CF_OK;
    if (rc != CF_OK) {
        run->exit_code = cf_cli_usage_error(run->prog, "%s", cf_why_text(&why, rc));
        return 0;
    }
    if (c && (strlen(c) > S_MAX_CURSOR || cf_cli_escape(c, cursor, sizeof(cursor)) != CF_OK)) {
        run->exit_code =
            cf_cli_usage_error(run->prog, "--cursor is longer than %d bytes", S_MAX_CURSOR);
        return 0;
    }
    size_t n = (size_t) snprintf(path, len, "/audit?since=%lld", since);
    if (cf_cli_flag_given(run->cfg, "limit"))
        n += (size_t) snprintf(path + n, len - n, "&limit=%lld", cf_cfg_int(run->cfg, "limit"));
    if (c)
        snprintf(path + n, len - n, "&cursor=%s", cursor);
    return 1;
}

int cf_cli_audit(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {
        CF_CLIENT_OPTIONS,
        CF_CLI_JSON_OPTION,
        {"since", 0, CF_CFG_STRING, "T",
         "from this time: unix seconds, a time ago (24h, 7d) or a UTC date (2025-11-26)", NULL, 0,
         0, NULL},
        {"limit", 0, CF_CFG_INT, "N", "at most this many events (server default 100)", NULL, 1,
         S_MAX_LIMIT, NULL},
        {"cursor", 0, CF_CFG_STRING, "C", "the page after the one that gave this cursor", NULL, 0,
         0, NULL},
    };
    cf_cli_run_t run;
    char path[96 + 3 * S_MAX_CURSOR];
    json_t *answer = NULL;
    if (!cf_cli_begin(&run, "cf-console audit", "[--since T] [--limit N] [--cursor C] " S_CONN,
                      "Show the audit trail (admin only): every operator action, who did it, from\n"
                      "where, and how it ended, oldest first.\n" CF_EXIT_HELP,
                      opts, S_N(opts), 0, 0, argc, argv) ||
        !s_audit_path(&run, path, sizeof(path)) || !cf_cli_open_run(&run))
        return cf_cli_end(&run);
    run.exit_code = cf_cli_fetch(run.prog, "cannot read the audit trail", run.client, "GET", path,
                                 NULL, &answer);
    if (run.exit_code == CF_EXIT_OK && run.json)
        cf_cli_print_json(answer);
    else if (run.exit_code == CF_EXIT_OK)
        s_audit_print(&run, answer);
    json_decref(answer);
    return cf_cli_end(&run);
}

int cf_cli_user(int argc, char **argv)
{
    static const cf_cli_cmd_t cmds[] = {
        {"list", "the console logins", s_list},
        {"add", "NAME [--role viewer|admin]: add a login", s_add},
        {"remove", "NAME: remove a login", s_remove},
        {"save-logins", "on|off: the console policy \"save entered user logins\"", s_save_logins},
        {"audit", "[--since T]: the audit trail", cf_cli_audit},
    };
    return cf_cli_dispatch("cf-console user", "Console logins and the audit trail.\n" CF_EXIT_HELP,
                           cmds, S_N(cmds), argc, argv);
}
