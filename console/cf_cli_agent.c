/*  cf_cli_agent - `cf-console agent ...`: agents, their locks, their favorite server  */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cf_cli.h"
#include "cf_cli_api.h"
#include "cf_client.h"
#include "cf_db_key.h"
#include "cf_iprange.h"
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

/* The summary under the table: the fleet's counts per lock and its migration readiness
   (agents whose last check-in had no certificate). The counts are the whole fleet's,
   whatever the filters. total: the answer's, else (an older server) the counts' sum. */
static void s_summary(const json_t *answer)
{
    const json_t *counts = json_object_get(answer, "counts");
    if (!json_is_object(counts))
        return;
    long long n[4], total = 0;
    static const char *const locks[] = {"secure", "attention", "insecure", "expired"};
    for (int i = 0; i < 4; i++) {
        n[i] = s_int(counts, locks[i]);
        total += n[i];
    }
    if (json_is_integer(json_object_get(answer, "total")))
        total = s_int(answer, "total");
    printf("fleet: %lld agent%s: %lld secure, %lld attention, %lld insecure, %lld expired\n", total,
           total == 1 ? "" : "s", n[0], n[1], n[2], n[3]);
    if (n[2] > 0)
        printf("migration: %lld agent%s of %lld still connect%s without a certificate\n", n[2],
               n[2] == 1 ? "" : "s", total, n[2] == 1 ? "s" : "");
    else if (total > 0)
        printf("migration: ready, every agent connects with a certificate\n");
}

static void s_list_print(cf_cli_run_t *run, const json_t *answer)
{
    char cursor[S_MAX_CURSOR + 1];
    const json_t *agents = json_object_get(answer, "agents");
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
    s_summary(answer);
    if (cf_table_cursor(json_object_get(answer, "cursor"), cursor, sizeof(cursor)) == CF_OK &&
        cursor[0])
        printf("more: add --cursor %s\n", cursor);
}

/* Append "key=<value escaped>&" to path at *n. 0 when it does not fit. */
static int s_query(char *path, size_t len, size_t *n, const char *key, const char *value)
{
    char esc[3 * S_MAX_CURSOR + 1];
    if (cf_cli_escape(value, esc, sizeof(esc)) != CF_OK)
        return 0;
    int k = snprintf(path + *n, len - *n, "%s=%s&", key, esc);
    if (k < 0 || (size_t) k >= len - *n)
        return 0;
    *n += (size_t) k;
    return 1;
}

/* --last-server and --ip-range, checked, as query values (alias lowercased, the range in
   canonical form) into alias and range ("" when not given). */
static int s_list_where(cf_cli_run_t *run, char *alias, char *range, size_t range_len)
{
    const char *srv = cf_cli_flag(run->cfg, "last-server");
    const char *r = cf_cli_flag(run->cfg, "ip-range");
    alias[0] = range[0] = '\0';
    for (size_t i = 0; srv && srv[i] && i < CF_DB_ALIAS_MAX; i++) {
        alias[i] = (char) tolower((unsigned char) srv[i]);
        alias[i + 1] = '\0';
    }
    if (srv && (strlen(srv) > CF_DB_ALIAS_MAX || cf_db_check_alias(alias) != CF_OK)) {
        run->exit_code =
            cf_cli_usage_error(run->prog, "--last-server '%.80s' is not a server alias", srv);
        return 0;
    }
    cf_why_t why = {""};
    cf_iprange_t ipr;
    if (r && (cf_iprange_parse(r, &ipr, &why) != CF_OK ||
              cf_iprange_format(&ipr, range, range_len) != CF_OK)) {
        run->exit_code =
            cf_cli_usage_error(run->prog, "--ip-range: %s", why.text[0] ? why.text : "not a range");
        return 0;
    }
    return 1;
}

/* --seen-after and --seen-before as unix seconds into t[0], t[1] (-1 when not given). */
static int s_list_when(cf_cli_run_t *run, long long t[2])
{
    static const char *const names[] = {"seen-after", "seen-before"};
    for (int i = 0; i < 2; i++) {
        const char *text = cf_cli_flag(run->cfg, names[i]);
        cf_why_t why = {""};
        cf_err_t rc = CF_OK;
        t[i] = -1;
        if (text)
            rc = cf_table_parse_since(text, (long long) time(NULL), &t[i], &why);
        if (rc != CF_OK) {
            run->exit_code =
                cf_cli_usage_error(run->prog, "--%s: %s", names[i], cf_why_text(&why, rc));
            return 0;
        }
    }
    if (t[0] >= 0 && t[1] >= 0 && t[1] <= t[0]) {
        run->exit_code = cf_cli_usage_error(run->prog, "--seen-before must be after --seen-after");
        return 0;
    }
    return 1;
}

/* GET /agents?lock=&server=&ip_range=&seen_after=&seen_before=&limit=&cursor= from the
   options into path. */
static int s_list_path(cf_cli_run_t *run, char *path, size_t len)
{
    char alias[CF_DB_ALIAS_MAX + 1], range[CF_IPRANGE_TEXT_MAX], num[24];
    long long t[2];
    const char *c = cf_cli_flag(run->cfg, "cursor");
    const char *state = cf_cli_flag(run->cfg, "state");
    if (!s_list_where(run, alias, range, sizeof(range)) || !s_list_when(run, t))
        return 0;
    if (c && strlen(c) > S_MAX_CURSOR) {
        run->exit_code =
            cf_cli_usage_error(run->prog, "--cursor is longer than %d bytes", S_MAX_CURSOR);
        return 0;
    }
    size_t n = (size_t) snprintf(path, len, "/agents?");
    int ok = !state || s_query(path, len, &n, "lock", state); /* one of s_states */
    ok = ok && (!alias[0] || s_query(path, len, &n, "server", alias));
    ok = ok && (!range[0] || s_query(path, len, &n, "ip_range", range));
    for (int i = 0; ok && i < 2; i++) {
        snprintf(num, sizeof(num), "%lld", t[i]);
        ok = t[i] < 0 || s_query(path, len, &n, i ? "seen_before" : "seen_after", num);
    }
    if (ok && cf_cli_flag_given(run->cfg, "limit")) {
        snprintf(num, sizeof(num), "%lld", cf_cfg_int(run->cfg, "limit"));
        ok = s_query(path, len, &n, "limit", num);
    }
    ok = ok && (!c || s_query(path, len, &n, "cursor", c));
    if (!ok) {
        run->exit_code = cf_cli_usage_error(run->prog, "the options make too long a request");
        return 0;
    }
    path[n - 1] = '\0'; /* the last '&' or the '?' */
    return 1;
}

static int s_list(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {
        CF_CLIENT_OPTIONS,
        CF_CLI_JSON_OPTION,
        {"state", 0, CF_CFG_ENUM, "LOCK", "only agents in this lock state", NULL, 0, 0, s_states},
        {"last-server", 0, CF_CFG_STRING, "ALIAS",
         "only agents whose last check-in was with this server", NULL, 0, 0, NULL},
        {"ip-range", 0, CF_CFG_STRING, "RANGE",
         "only agents last seen from an address in RANGE (CIDR, address or from-to)", NULL, 0, 0,
         NULL},
        {"seen-after", 0, CF_CFG_STRING, "T",
         "only agents whose last check-in is at or after T (unix seconds, a time ago such as "
         "24h, or a UTC date)",
         NULL, 0, 0, NULL},
        {"seen-before", 0, CF_CFG_STRING, "T",
         "only agents not seen since T: --seen-before 7d lists those silent for a week", NULL, 0, 0,
         NULL},
        {"limit", 0, CF_CFG_INT, "N", "agents per page", NULL, 1, S_MAX_LIMIT, NULL},
        {"cursor", 0, CF_CFG_STRING, "C", "the page after the one that gave this cursor", NULL, 0,
         0, NULL},
    };
    cf_cli_run_t run;
    char path[512 + 3 * (S_MAX_CURSOR + CF_DB_ALIAS_MAX + CF_IPRANGE_TEXT_MAX)];
    json_t *answer = NULL;
    if (!cf_cli_begin(&run, "cf-console agent list",
                      "[--state LOCK] [--last-server ALIAS] [--ip-range RANGE] [--seen-after T] "
                      "[--seen-before T] [--limit N] [--cursor C] " S_CONN,
                      "List the agents with the seed's \"Last connected\" column: the lock of\n"
                      "their last connection and when it was. secure = a current certificate;\n"
                      "attention = valid but replaced (the server hands over the new one at the\n"
                      "next check-in); insecure = no certificate; expired = refused.\n"
                      "The marker is in colour on a terminal (unless NO_COLOR is set).\n"
                      "Under the table: the whole fleet's counts per lock, and how many agents\n"
                      "still connect without a certificate (migration readiness).\n" CF_EXIT_HELP,
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
        {"list", "[--state LOCK] [filters]: agents with their lock and last connection", s_list},
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
