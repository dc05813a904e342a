/*  cf_cli_server - `cf-console server ...`: the management servers agents may use  */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "cf_cli.h"
#include "cf_cli_api.h"
#include "cf_client.h"
#include "cf_db_key.h"
#include "cf_iprange.h"
#include "cf_table.h"

#define S_N(opts)      (sizeof(opts) / sizeof((opts)[0]))
#define S_CONN         "[--json] [connection options]"
#define S_MAX_PRIORITY 1000000 /* priorities lie in -S_MAX_PRIORITY..S_MAX_PRIORITY */
#define S_FP_SHOWN     16      /* fingerprint characters a table shows */

#define S_FIELD_OPTS                                                                               \
    {"port", 0, CF_CFG_INT, "PORT", "HTTPS port of the server's API", "7005", 1, 65535, NULL},     \
        {"plain-port", 0, CF_CFG_INT, "PORT", "port of the plain listener for agents, 0 for none", \
         "0",          0, 65535,      NULL},                                                       \
        {"priority",                                                                               \
         0,                                                                                        \
         CF_CFG_INT,                                                                               \
         "N",                                                                                      \
         "larger is preferred by agents outside every IP range",                                   \
         "0",                                                                                      \
         -S_MAX_PRIORITY,                                                                          \
         S_MAX_PRIORITY,                                                                           \
         NULL},                                                                                    \
        {"ip-range",                                                                               \
         0,                                                                                        \
         CF_CFG_LIST,                                                                              \
         "RANGE",                                                                                  \
         "primary IP range of agents (CIDR, address or "                                           \
         "from-to; repeat or separate with commas; \"\" for none)",                                \
         NULL,                                                                                     \
         0,                                                                                        \
         CF_IPRANGE_LIST_MAX,                                                                      \
         NULL},                                                                                    \
    {                                                                                              \
        "host", 0, CF_CFG_STRING, "HOST",                                                          \
            "name or address agents connect to (default: the alias)", NULL, 0, 0, NULL             \
    }

static const cf_table_col_t s_cols[] = {
    {"ALIAS", CF_TABLE_LEFT},  {"HOST", CF_TABLE_LEFT},        {"PORT", CF_TABLE_RIGHT},
    {"PLAIN", CF_TABLE_RIGHT}, {"PRIORITY", CF_TABLE_RIGHT},   {"IP RANGES", CF_TABLE_LEFT},
    {"ONLINE", CF_TABLE_LEFT}, {"CERTIFICATE", CF_TABLE_LEFT},
};

/* The IP ranges of a server object as one text: "10.0.0.0/8, 127.0.0.0/24" ("-": none). */
static void s_ranges(const json_t *server, char *buf, size_t len)
{
    size_t i, n = 0;
    json_t *r;
    buf[0] = '\0';
    json_array_foreach(json_object_get(server, "ip_ranges"), i, r)
    {
        const char *text = json_string_value(r);
        int w = snprintf(buf + n, len - n, "%s%s", i ? ", " : "", text ? text : "?");
        if (w < 0 || (size_t) w >= len - n)
            break;
        n += (size_t) w;
    }
    if (!buf[0])
        snprintf(buf, len, "-");
}

/* A fingerprint shortened for a table ("-" when none). */
static const char *s_fp(const json_t *server, char *buf, size_t len)
{
    const char *fp = json_string_value(json_object_get(server, "cert_fingerprint"));
    if (!fp || !fp[0])
        return "-";
    snprintf(buf, len, "%.*s%s", S_FP_SHOWN, fp, strlen(fp) > S_FP_SHOWN ? "\u2026" : "");
    return buf;
}

static cf_err_t s_row(cf_table_t *t, const json_t *s)
{
    char ranges[CF_IPRANGE_LIST_TEXT_MAX], fp[S_FP_SHOWN + 8];
    s_ranges(s, ranges, sizeof(ranges));
    const json_t *online = json_object_get(s, "online");
    cf_err_t rc = cf_table_add(t, json_string_value(json_object_get(s, "alias")));
    if (rc == CF_OK)
        rc = cf_table_add(t, json_string_value(json_object_get(s, "host")));
    if (rc == CF_OK)
        rc = cf_table_addf(t, "%lld", (long long) json_integer_value(json_object_get(s, "port")));
    if (rc == CF_OK) {
        json_int_t plain = json_integer_value(json_object_get(s, "plain_port"));
        rc = plain > 0 ? cf_table_addf(t, "%lld", (long long) plain) : cf_table_add(t, "-");
    }
    if (rc == CF_OK)
        rc = cf_table_addf(t, "%lld",
                           (long long) json_integer_value(json_object_get(s, "priority")));
    if (rc == CF_OK)
        rc = cf_table_add(t, ranges);
    if (rc == CF_OK)
        rc = cf_table_add(t, json_is_boolean(online) ? (json_is_true(online) ? "yes" : "no") : "?");
    if (rc == CF_OK)
        rc = cf_table_add(t, s_fp(s, fp, sizeof(fp)));
    return rc;
}

/* Print one server (add, update) or the list (the answer's "servers"). */
static void s_print(cf_cli_run_t *run, const json_t *answer, int list)
{
    if (run->json) {
        cf_cli_print_json(answer);
        return;
    }
    cf_table_t *t = cf_table_new(s_cols, S_N(s_cols), cf_table_colour(stdout));
    size_t i;
    json_t *s;
    if (t && !list)
        (void) s_row(t, answer); /* a failure sticks in t: printing reports it */
    json_array_foreach(list ? json_object_get(answer, "servers") : NULL, i, s)
    {
        if (!t || s_row(t, s) != CF_OK)
            break;
    }
    if (cf_cli_print_table(run, &t) == CF_EXIT_OK && list && i == 0)
        printf("no server is registered\n");
}

static int s_list(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {CF_CLIENT_OPTIONS, CF_CLI_JSON_OPTION};
    cf_cli_run_t run;
    json_t *answer = NULL;
    if (!cf_cli_begin(&run, "cf-console server list", S_CONN,
                      "List the management servers: alias, where agents reach them, priority,\n"
                      "primary IP ranges, whether they are online, and their certificate.\n"
                      "Agents try their favorite server, then one whose IP range holds their\n"
                      "address (the narrowest), then the highest priority.\n" CF_EXIT_HELP,
                      opts, S_N(opts), 0, 0, argc, argv) ||
        !cf_cli_open_run(&run))
        return cf_cli_end(&run);
    run.exit_code = cf_cli_fetch(run.prog, "cannot list the servers", run.client, "GET", "/servers",
                                 NULL, &answer);
    if (run.exit_code == CF_EXIT_OK)
        s_print(&run, answer, 1);
    json_decref(answer);
    return cf_cli_end(&run);
}

/* The alias argument, lowercased into buf and checked; 0 with a usage error otherwise. */
static int s_alias(cf_cli_run_t *run, char *buf, size_t len)
{
    const char *arg = run->args[0];
    size_t n = strnlen(arg, len);
    if (n < len) {
        for (size_t i = 0; i <= n; i++)
            buf[i] = (char) tolower((unsigned char) arg[i]);
        if (cf_db_check_alias(buf) == CF_OK)
            return 1;
    }
    run->exit_code = cf_cli_usage_error(run->prog,
                                        "'%.80s' is not an alias: a host name of 1..%d "
                                        "characters a-z, 0-9, '.', '_', '-'",
                                        arg, CF_DB_ALIAS_MAX);
    return 0;
}

/* The --ip-range list, each range checked and in its canonical form, into *out. */
static int s_ip_ranges(cf_cli_run_t *run, json_t **out)
{
    size_t n = 0;
    const char *const *items = cf_cfg_list(run->cfg, "ip-range", &n);
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++) {
        cf_iprange_t r;
        cf_why_t why = {""};
        char text[CF_IPRANGE_TEXT_MAX];
        cf_err_t rc = cf_iprange_parse(items[i], &r, &why);
        if (rc == CF_OK)
            rc = cf_iprange_format(&r, text, sizeof(text));
        if (rc != CF_OK) {
            run->exit_code = cf_cli_usage_error(run->prog, "--ip-range: %s", cf_why_text(&why, rc));
            json_decref(list);
            return 0;
        }
        if (why.text[0])
            fprintf(stderr, "%s: note: %s\n", run->prog, why.text);
        if (json_array_append_new(list, json_string(text)) != 0)
            break;
    }
    if (!list || json_array_size(list) != n) {
        json_decref(list);
        run->exit_code = cf_cli_fail(run->prog, CF_ERR_NOMEM, NULL, "--ip-range");
        return 0;
    }
    *out = list;
    return 1;
}

/* The body of add (every field; plain_port and host when given) or update (the fields
   given as flags). */
static int s_body(cf_cli_run_t *run, const char *alias, int add, json_t **out)
{
    static const char *const flags[] = {"port", "plain-port", "priority"};
    static const char *const keys[] = {"port", "plain_port", "priority"};
    const char *host = cf_cli_flag(run->cfg, "host");
    json_t *body = add ? json_pack("{s:s}", "alias", alias) : json_object();
    json_t *ranges = NULL;
    int bad = !body;
    if (host && cf_db_check_text(host, 1, CF_DB_ALIAS_MAX) != CF_OK) {
        json_decref(body);
        run->exit_code = cf_cli_usage_error(run->prog, "--host must be 1..%d printable characters",
                                            CF_DB_ALIAS_MAX);
        return 0;
    }
    for (size_t i = 0; !bad && i < S_N(flags); i++) {
        int given = cf_cli_flag_given(run->cfg, flags[i]);
        if (given || (add && i != 1))
            bad = json_object_set_new(body, keys[i],
                                      json_integer((json_int_t) cf_cfg_int(run->cfg, flags[i])));
    }
    if (!bad && host)
        bad = json_object_set_new(body, "host", json_string(host));
    if (!bad && (add || cf_cli_flag_given(run->cfg, "ip-range"))) {
        if (!s_ip_ranges(run, &ranges)) {
            json_decref(body);
            return 0;
        }
        bad = json_object_set_new(body, "ip_ranges", ranges);
    }
    if (!bad && json_object_size(body) == 0) {
        json_decref(body);
        run->exit_code = cf_cli_usage_error(
            run->prog,
            "nothing to change: give --port, --plain-port, --priority, --ip-range or --host");
        return 0;
    }
    if (bad) {
        json_decref(body);
        run->exit_code = cf_cli_fail(run->prog, CF_ERR_NOMEM, NULL, "cannot build the request");
        return 0;
    }
    *out = body;
    return 1;
}

/* add (POST /servers) or update (PUT /servers/ALIAS). */
static int s_write(int argc, char **argv, int add)
{
    static const cf_cfg_opt_t opts[] = {CF_CLIENT_OPTIONS, CF_CLI_JSON_OPTION, S_FIELD_OPTS};
    cf_cli_run_t run;
    char alias[CF_DB_ALIAS_MAX + 1], path[16 + 3 * CF_DB_ALIAS_MAX];
    json_t *body = NULL, *answer = NULL;
    if (!cf_cli_begin(
            &run, add ? "cf-console server add" : "cf-console server update",
            add ? "ALIAS [--port 7005] [--priority N] [--ip-range RANGE]... [--host HOST] "
                  "[--plain-port PORT] " S_CONN
                : "ALIAS [--port PORT] [--priority N] [--ip-range RANGE]... [--host "
                  "HOST] [--plain-port PORT] " S_CONN,
            add ? "Register a management server (the seed's Server Alias dialog). Its\n"
                  "certificate is issued when it registers.\n" CF_EXIT_HELP
                : "Change a server's record: only the options given change; --ip-range\n"
                  "replaces the whole list (--ip-range \"\" empties it).\n" CF_EXIT_HELP,
            opts, S_N(opts), 1, 1, argc, argv) ||
        !s_alias(&run, alias, sizeof(alias)) || !s_body(&run, alias, add, &body) ||
        !cf_cli_open_run(&run))
        goto out;
    snprintf(path, sizeof(path), "/servers");
    if (!add)
        snprintf(path, sizeof(path), "/servers/%s", alias); /* checked: needs no escaping */
    run.exit_code =
        cf_cli_fetch(run.prog, add ? "cannot add the server" : "cannot update the server",
                     run.client, add ? "POST" : "PUT", path, body, &answer);
    if (run.exit_code == CF_EXIT_OK)
        s_print(&run, answer, 0);
out:
    json_decref(body);
    json_decref(answer);
    return cf_cli_end(&run);
}

static int s_add(int argc, char **argv)
{
    return s_write(argc, argv, 1);
}

static int s_update(int argc, char **argv)
{
    return s_write(argc, argv, 0);
}

static int s_remove(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {CF_CLIENT_OPTIONS, CF_CLI_JSON_OPTION};
    cf_cli_run_t run;
    char alias[CF_DB_ALIAS_MAX + 1], path[16 + CF_DB_ALIAS_MAX];
    json_t *answer = NULL;
    if (!cf_cli_begin(&run, "cf-console server remove", "ALIAS " S_CONN,
                      "Remove a server's record. Agents whose favorite it was fall back to the\n"
                      "IP ranges and priorities of the others.\n" CF_EXIT_HELP,
                      opts, S_N(opts), 1, 1, argc, argv) ||
        !s_alias(&run, alias, sizeof(alias)) || !cf_cli_open_run(&run))
        return cf_cli_end(&run);
    snprintf(path, sizeof(path), "/servers/%s", alias);
    run.exit_code = cf_cli_fetch(run.prog, "cannot remove the server", run.client, "DELETE", path,
                                 NULL, &answer);
    if (run.exit_code == CF_EXIT_OK && run.json)
        cf_cli_print_json(answer);
    else if (run.exit_code == CF_EXIT_OK)
        printf("removed server %s\n", alias);
    json_decref(answer);
    return cf_cli_end(&run);
}

int cf_cli_server(int argc, char **argv)
{
    static const cf_cli_cmd_t cmds[] = {
        {"list", "the management servers", s_list},
        {"add", "ALIAS --port 7005 --priority N --ip-range RANGE: register a server", s_add},
        {"update", "ALIAS [--port] [--priority] [--ip-range] ...: change a server's record",
         s_update},
        {"remove", "ALIAS: remove a server's record", s_remove},
    };
    return cf_cli_dispatch("cf-console server",
                           "The management servers agents connect to (the seed's EgoSecure "
                           "servers page).\n" CF_EXIT_HELP,
                           cmds, S_N(cmds), argc, argv);
}
