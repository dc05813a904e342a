/*  cf_cli_agent - `cf-console agent ...`: agents, their locks, their favorite server  */
#include <stdio.h>
#include <string.h>

#include "cf_cli.h"
#include "cf_cli_api.h"
#include "cf_client.h"
#include "cf_db_key.h"
#include "cf_table.h"

#define S_N(opts)     (sizeof(opts) / sizeof((opts)[0]))
#define S_CONN        "[--json] [connection options]"
#define S_MAX_LIMIT   10000 /* agents per page of `agent list` */
#define S_MAX_CURSOR  256   /* longest paging cursor, bytes */
#define S_MAX_FAVORED 3500  /* agents in one `agent favorite`: 66 bytes each fit a 256 KiB body */

static const char *const s_states[] = {"secure", "attention", "insecure", "expired", NULL};

static const cf_table_col_t s_cols[] = {
    {"AGENT", CF_TABLE_LEFT},
    {"LAST CONNECTED", CF_TABLE_LEFT},
    {"ADDRESS", CF_TABLE_LEFT},
    {"VERSION", CF_TABLE_LEFT},
    {"SERVER", CF_TABLE_LEFT},
    {"FAVORITE", CF_TABLE_LEFT},
    {"CERTIFICATE EXPIRES", CF_TABLE_LEFT},
};

static const cf_table_col_t s_kv_cols[] = {{NULL, CF_TABLE_LEFT}, {NULL, CF_TABLE_LEFT}};

static const char *s_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static long long s_int(const json_t *o, const char *key)
{
    return (long long) json_integer_value(json_object_get(o, key));
}

/* The certificate's end, "-" when the agent has none (insecure). */
static const char *s_cert_end(const json_t *a, char *buf, size_t len)
{
    return s_int(a, "cert_not_after") > 0 ? cf_table_time(s_int(a, "cert_not_after"), buf, len)
                                          : "-";
}

static cf_err_t s_row(cf_table_t *t, const json_t *a)
{
    char seen[CF_TABLE_TIME_MAX], end[CF_TABLE_TIME_MAX];
    cf_err_t rc = cf_table_add(t, s_str(a, "id"));
    if (rc == CF_OK)
        rc = cf_table_add_lock(t, s_str(a, "lock"),
                               cf_table_time(s_int(a, "last_seen"), seen, sizeof(seen)));
    if (rc == CF_OK)
        rc = cf_table_add(t, s_str(a, "last_addr"));
    if (rc == CF_OK)
        rc = cf_table_add(t, s_str(a, "version"));
    if (rc == CF_OK)
        rc = cf_table_add(t, s_str(a, "server"));
    if (rc == CF_OK)
        rc = cf_table_add(t, s_str(a, "favorite"));
    if (rc == CF_OK)
        rc = cf_table_add(t, s_cert_end(a, end, sizeof(end)));
    return rc;
}

static void s_list_print(cf_cli_run_t *run, const json_t *answer)
{
    char cursor[S_MAX_CURSOR + 1];
    const json_t *agents = json_object_get(answer, "agents");
    const json_t *counts = json_object_get(answer, "counts");
    cf_table_t *t = cf_table_new(s_cols, S_N(s_cols), cf_table_colour(stdout));
    size_t i;
    json_t *a;
    json_array_foreach(agents, i, a)
    {
        if (!t || s_row(t, a) != CF_OK)
            break;
    }
    if (cf_cli_print_table(run, &t) != CF_EXIT_OK)
        return;
    if (json_array_size(agents) == 0)
        printf("no agent\n");
    if (json_is_object(counts))
        printf("fleet: %lld secure, %lld attention, %lld insecure, %lld expired\n",
               s_int(counts, "secure"), s_int(counts, "attention"), s_int(counts, "insecure"),
               s_int(counts, "expired"));
    if (cf_table_cursor(json_object_get(answer, "cursor"), cursor, sizeof(cursor)) == CF_OK &&
        cursor[0])
        printf("more: add --cursor %s\n", cursor);
}

/* GET /agents?lock=&limit=&cursor= from the options into path. */
static int s_list_path(cf_cli_run_t *run, char *path, size_t len)
{
    char cursor[3 * S_MAX_CURSOR + 1];
    const char *c = cf_cli_flag(run->cfg, "cursor");
    const char *state = cf_cli_flag(run->cfg, "state");
    if (c && (strlen(c) > S_MAX_CURSOR || cf_cli_escape(c, cursor, sizeof(cursor)) != CF_OK)) {
        run->exit_code =
            cf_cli_usage_error(run->prog, "--cursor is longer than %d bytes", S_MAX_CURSOR);
        return 0;
    }
    size_t n = (size_t) snprintf(path, len, "/agents?");
    if (state)
        n += (size_t) snprintf(path + n, len - n, "lock=%s&", state); /* one of s_states */
    if (cf_cli_flag_given(run->cfg, "limit"))
        n += (size_t) snprintf(path + n, len - n, "limit=%lld&", cf_cfg_int(run->cfg, "limit"));
    if (c)
        snprintf(path + n, len - n, "cursor=%s", cursor);
    else
        path[n - 1] = '\0'; /* the last '&' or the '?' */
    return 1;
}

static int s_list(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {
        CF_CLIENT_OPTIONS,
        CF_CLI_JSON_OPTION,
        {"state", 0, CF_CFG_ENUM, "LOCK", "only agents in this lock state", NULL, 0, 0, s_states},
        {"limit", 0, CF_CFG_INT, "N", "agents per page", NULL, 1, S_MAX_LIMIT, NULL},
        {"cursor", 0, CF_CFG_STRING, "C", "the page after the one that gave this cursor", NULL, 0,
         0, NULL},
    };
    cf_cli_run_t run;
    char path[128 + 3 * S_MAX_CURSOR];
    json_t *answer = NULL;
    if (!cf_cli_begin(
            &run, "cf-console agent list", "[--state LOCK] [--limit N] [--cursor C] " S_CONN,
            "List the agents with the seed's \"Last connected\" column: the lock of\n"
            "their last connection and when it was. secure = a current certificate;\n"
            "attention = valid but replaced (the server hands over the new one at the\n"
            "next check-in); insecure = no certificate; expired = refused.\n"
            "The marker is in colour on a terminal (unless NO_COLOR is set).\n" CF_EXIT_HELP,
            opts, S_N(opts), 0, 0, argc, argv) ||
        !s_list_path(&run, path, sizeof(path)) || !cf_cli_open_run(&run))
        return cf_cli_end(&run);
    run.exit_code =
        cf_cli_fetch(run.prog, "cannot list the agents", run.client, "GET", path, NULL, &answer);
    if (run.exit_code == CF_EXIT_OK && run.json)
        cf_cli_print_json(answer);
    else if (run.exit_code == CF_EXIT_OK)
        s_list_print(&run, answer);
    json_decref(answer);
    return cf_cli_end(&run);
}

/* The positional argument i as an agent id; 0 with a usage error when it is not one. */
static int s_id(cf_cli_run_t *run, int i)
{
    if (cf_db_check_agent_id(run->args[i]) == CF_OK)
        return 1;
    run->exit_code = cf_cli_usage_error(run->prog,
                                        "'%.80s' is not an agent id: 1..%d characters a-z, 0-9, "
                                        "'.', '_', '-', starting with a letter or digit",
                                        run->args[i], CF_DB_ID_MAX);
    return 0;
}

static void s_show_print(cf_cli_run_t *run, const json_t *a)
{
    char seen[CF_TABLE_TIME_MAX], end[CF_TABLE_TIME_MAX];
    cf_table_t *t = cf_table_new(s_kv_cols, 2, cf_table_colour(stdout));
    const char *fav = s_str(a, "favorite");
    cf_err_t rc =
        t ? cf_table_kv(t, "Agent", "%s", s_str(a, "id") ? s_str(a, "id") : "-") : CF_ERR_NOMEM;
    if (rc == CF_OK)
        rc = cf_table_add(t, "Last connected");
    if (rc == CF_OK)
        rc = cf_table_add_lock(t, s_str(a, "lock"),
                               cf_table_time(s_int(a, "last_seen"), seen, sizeof(seen)));
    const char *const keys[] = {"last_addr", "version", "server", "cert_serial",
                                "cert_fingerprint"};
    const char *const names[] = {"Address", "Version", "Last server", "Certificate serial",
                                 "Certificate SHA-256"};
    for (size_t i = 0; rc == CF_OK && i < S_N(keys); i++)
        rc = cf_table_kv(t, names[i], "%s", s_str(a, keys[i]) ? s_str(a, keys[i]) : "-");
    if (rc == CF_OK)
        rc = cf_table_kv(t, "Certificate expires", "%s", s_cert_end(a, end, sizeof(end)));
    if (rc == CF_OK)
        rc = cf_table_kv(t, "Favorite server", "%s", fav ? fav : "none");
    if (rc == CF_OK && s_int(a, "revoked") > 0)
        rc =
            cf_table_kv(t, "Revoked", "%s", cf_table_time(s_int(a, "revoked"), seen, sizeof(seen)));
    cf_cli_print_table(run, &t);
}

static int s_show(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {CF_CLIENT_OPTIONS, CF_CLI_JSON_OPTION};
    cf_cli_run_t run;
    char path[16 + CF_DB_ID_MAX];
    json_t *answer = NULL;
    if (!cf_cli_begin(&run, "cf-console agent show", "ID " S_CONN,
                      "Show one agent: its lock, last connection, certificate and favorite "
                      "server.\n" CF_EXIT_HELP,
                      opts, S_N(opts), 1, 1, argc, argv) ||
        !s_id(&run, 0) || !cf_cli_open_run(&run))
        return cf_cli_end(&run);
    snprintf(path, sizeof(path), "/agents/%s", run.args[0]); /* checked: no escaping needed */
    run.exit_code =
        cf_cli_fetch(run.prog, "cannot read the agent", run.client, "GET", path, NULL, &answer);
    if (run.exit_code == CF_EXIT_OK && run.json)
        cf_cli_print_json(answer);
    else if (run.exit_code == CF_EXIT_OK)
        s_show_print(&run, answer);
    json_decref(answer);
    return cf_cli_end(&run);
}

/* {"agents":[ids...],"server":alias} from the arguments and --to. */
static int s_favorite_body(cf_cli_run_t *run, json_t **out)
{
    const char *to = cf_cfg_str(run->cfg, "to");
    int clear = cf_cfg_bool(run->cfg, "clear");
    if (!to == !clear) {
        run->exit_code = cf_cli_usage_error(run->prog, "give --to ALIAS, or --clear");
        return 0;
    }
    if (to && cf_db_check_alias(to) != CF_OK) {
        run->exit_code = cf_cli_usage_error(run->prog, "--to '%.80s' is not a server alias", to);
        return 0;
    }
    if (run->n_args > S_MAX_FAVORED) {
        run->exit_code =
            cf_cli_usage_error(run->prog, "at most %d agents at a time", S_MAX_FAVORED);
        return 0;
    }
    json_t *ids = json_array();
    for (int i = 0; ids && i < run->n_args; i++) {
        if (!s_id(run, i)) {
            json_decref(ids);
            return 0;
        }
        if (json_array_append_new(ids, json_string(run->args[i])) != 0)
            break;
    }
    json_t *body = NULL;
    if (ids && json_array_size(ids) == (size_t) run->n_args)
        body = json_pack("{s:O, s:s?}", "agents", ids, "server", to);
    json_decref(ids);
    if (!body) {
        run->exit_code = cf_cli_fail(run->prog, CF_ERR_NOMEM, NULL, "cannot build the request");
        return 0;
    }
    *out = body;
    return 1;
}

static int s_favorite(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {
        CF_CLIENT_OPTIONS,
        CF_CLI_JSON_OPTION,
        {"to", 0, CF_CFG_STRING, "ALIAS", "the favorite server's alias", NULL, 0, 0, NULL},
        {"clear", 0, CF_CFG_BOOL, NULL, "remove the favorite instead", "false", 0, 0, NULL},
    };
    cf_cli_run_t run;
    json_t *body = NULL, *answer = NULL;
    if (!cf_cli_begin(
            &run, "cf-console agent favorite", "ID... --to ALIAS | --clear " S_CONN,
            "Set the favorite management server of agents (the seed's \"Favorite\n"
            "Management Server\"): they try it first, then a server whose IP range holds\n"
            "their address, then the highest priority. Online agents get it at once,\n"
            "the others at their next check-in. (--to, as --server names the server\n"
            "this console talks to.)\n" CF_EXIT_HELP,
            opts, S_N(opts), 1, CF_CFG_MAX_ARGS, argc, argv) ||
        !s_favorite_body(&run, &body) || !cf_cli_open_run(&run))
        goto out;
    run.exit_code = cf_cli_fetch(run.prog, "cannot set the favorite server", run.client, "PUT",
                                 "/agents/favorite", body, &answer);
    if (run.exit_code == CF_EXIT_OK && run.json)
        cf_cli_print_json(answer);
    else if (run.exit_code == CF_EXIT_OK)
        printf("favorite server %s for %lld of %d agents\n",
               cf_cfg_str(run.cfg, "to") ? cf_cfg_str(run.cfg, "to") : "cleared",
               s_int(answer, "updated"), run.n_args);
out:
    json_decref(body);
    json_decref(answer);
    return cf_cli_end(&run);
}

int cf_cli_agent(int argc, char **argv)
{
    static const cf_cli_cmd_t cmds[] = {
        {"list", "[--state LOCK]: agents with their lock and last connection", s_list},
        {"show", "ID: one agent", s_show},
        {"favorite", "ID... --to ALIAS: set the favorite management server", s_favorite},
        {"revoke", "ID: revoke its certificates and broker key; it stays listed",
         cf_cli_agent_revoke},
        {"decommission", "ID [--yes]: revoke it and delete its record", cf_cli_agent_decommission},
    };
    return cf_cli_dispatch("cf-console agent",
                           "The fleet's agents (the seed's Install/Update page).\n" CF_EXIT_HELP,
                           cmds, S_N(cmds), argc, argv);
}
