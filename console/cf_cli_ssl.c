/*  cf_cli_ssl - `cf-console ssl ...`: the seed's SSL configuration page  */
#include <stdio.h>
#include <string.h>

#include "cf_cli.h"
#include "cf_cli_api.h"
#include "cf_client.h"
#include "cf_table.h"

#define S_N(opts)    (sizeof(opts) / sizeof((opts)[0]))
#define S_CONN       "[--json] [connection options]"
#define S_MAX_DAYS   3650  /* renew at most this many days before expiry */
#define S_MAX_LIMIT  10000 /* agents per page of `ssl insecure` */
#define S_MAX_CURSOR 256   /* longest paging cursor, bytes */

static const cf_table_col_t s_kv_cols[] = {{NULL, CF_TABLE_LEFT}, {NULL, CF_TABLE_LEFT}};

static const char *const s_tls_versions[] = {"1.0", "1.1", "1.2", "1.3", NULL};

/* The rows of the seed's page. */
static cf_err_t s_config_rows(cf_table_t *t, const json_t *cfg)
{
    const json_t *mig = json_object_get(cfg, "migration");
    const char *min_tls = json_string_value(json_object_get(cfg, "min_tls"));
    cf_err_t rc = cf_table_kv(
        t, "SSL", "%s", json_is_true(json_object_get(cfg, "enabled")) ? "enabled" : "disabled");
    if (rc == CF_OK)
        rc = cf_table_kv(t, "Communication without SSL", "%s",
                         json_is_true(json_object_get(cfg, "allow_plain"))
                             ? "allowed: agents without a certificate are served"
                             : "refused: agents must present a certificate");
    if (rc == CF_OK)
        rc = cf_table_kv(t, "Minimum TLS version", "%s", min_tls ? min_tls : "-");
    if (rc == CF_OK)
        rc = cf_table_kv(t, "Automatic renewal", "%s, %lld days before expiry",
                         json_is_true(json_object_get(cfg, "auto_renew")) ? "on" : "off",
                         (long long) json_integer_value(json_object_get(cfg, "renew_days")));
    if (rc == CF_OK && json_is_object(mig))
        rc = cf_table_kv(t, "Agents without a certificate", "%lld of %lld at their last check-in",
                         (long long) json_integer_value(json_object_get(mig, "insecure_agents")),
                         (long long) json_integer_value(json_object_get(mig, "total_agents")));
    return rc;
}

/* GET /ssl (body NULL) or PUT /ssl with *body (taken: freed here); prints the answer. */
static int s_ssl_call(cf_cli_run_t *run, json_t *body, const char *what)
{
    json_t *answer = NULL;
    cf_table_t *t = NULL;
    if (!cf_cli_open_run(run))
        goto out;
    run->exit_code =
        cf_cli_fetch(run->prog, what, run->client, body ? "PUT" : "GET", "/ssl", body, &answer);
    if (run->exit_code != CF_EXIT_OK)
        goto out;
    if (run->json) {
        cf_cli_print_json(answer);
        goto out;
    }
    json_int_t insecure = json_integer_value(
        json_object_get(json_object_get(answer, "migration"), "insecure_agents"));
    if (json_is_false(json_object_get(body, "allow_plain")) && insecure > 0)
        fprintf(stderr,
                "%s: note: %lld agents had no certificate at their last check-in: they are "
                "refused from now on ('cf-console ssl insecure' lists them)\n",
                run->prog, (long long) insecure);
    if (json_is_string(json_object_get(body, "min_tls")) &&
        strcmp(json_string_value(json_object_get(body, "min_tls")), "1.2") < 0)
        fprintf(stderr, "%s: warning: TLS below 1.2 is weak; raise it once old agents are gone\n",
                run->prog);
    t = cf_table_new(s_kv_cols, 2, 0);
    if (t && s_config_rows(t, answer) != CF_OK)
        fprintf(stderr, "%s: the answer could not be shown whole\n", run->prog);
    cf_cli_print_table(run, &t);
out:
    json_decref(answer);
    json_decref(body);
    return cf_cli_end(run);
}

static int s_show(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {CF_CLIENT_OPTIONS, CF_CLI_JSON_OPTION};
    cf_cli_run_t run;
    if (!cf_cli_begin(&run, "cf-console ssl show", S_CONN,
                      "Show the SSL configuration: SSL on or off, whether agents without a\n"
                      "certificate are still served, the minimum TLS version, automatic renewal,\n"
                      "and how many agents still connect without a certificate.\n" CF_EXIT_HELP,
                      opts, S_N(opts), 0, 0, argc, argv))
        return cf_cli_end(&run);
    return s_ssl_call(&run, NULL, "cannot read the SSL configuration");
}

/* PUT /ssl {key: value}; value is taken. */
static int s_put(cf_cli_run_t *run, const char *key, json_t *value)
{
    json_t *body = json_object();
    if (!body || json_object_set_new(body, key, value) != 0) {
        json_decref(body);
        run->exit_code = cf_cli_fail(run->prog, CF_ERR_NOMEM, NULL, "cannot change %s", key);
        return cf_cli_end(run);
    }
    return s_ssl_call(run, body, "cannot change the SSL configuration");
}

static int s_switch(int argc, char **argv, int on)
{
    static const cf_cfg_opt_t opts[] = {CF_CLIENT_OPTIONS, CF_CLI_JSON_OPTION};
    cf_cli_run_t run;
    if (!cf_cli_begin(&run, on ? "cf-console ssl enable" : "cf-console ssl disable", S_CONN,
                      on ? "Enable SSL (the seed's \"Enable SSL\" box).\n" CF_EXIT_HELP
                         : "Disable SSL (the seed's \"Enable SSL\" box).\n" CF_EXIT_HELP,
                      opts, S_N(opts), 0, 0, argc, argv))
        return cf_cli_end(&run);
    return s_put(&run, "enabled", json_boolean(on));
}

static int s_enable(int argc, char **argv)
{
    return s_switch(argc, argv, 1);
}

static int s_disable(int argc, char **argv)
{
    return s_switch(argc, argv, 0);
}

/* The on|off argument of run; 0 with a usage error when it is neither. */
static int s_on_off(cf_cli_run_t *run, int *on)
{
    if (cf_table_parse_switch(run->args[0], on) == CF_OK)
        return 1;
    run->exit_code = cf_cli_usage_error(run->prog, "say on or off, not '%.40s'", run->args[0]);
    return 0;
}

static int s_allow_plain(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {CF_CLIENT_OPTIONS, CF_CLI_JSON_OPTION};
    cf_cli_run_t run;
    int on = 0;
    if (!cf_cli_begin(&run, "cf-console ssl allow-plain", "on|off " S_CONN,
                      "Allow or refuse communication without SSL (the seed's migration window):\n"
                      "on serves agents without a certificate (the plain listener opens, for the\n"
                      "agent routes only); off requires a valid certificate from every agent.\n"
                      "Turn it off once 'cf-console ssl insecure' lists no agent.\n" CF_EXIT_HELP,
                      opts, S_N(opts), 1, 1, argc, argv) ||
        !s_on_off(&run, &on))
        return cf_cli_end(&run);
    return s_put(&run, "allow_plain", json_boolean(on));
}

static int s_auto_renew(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {
        CF_CLIENT_OPTIONS,
        CF_CLI_JSON_OPTION,
        {"days", 0, CF_CFG_INT, "N", "renew this many days before a certificate expires", NULL, 1,
         S_MAX_DAYS, NULL},
    };
    cf_cli_run_t run;
    int on = 0;
    if (!cf_cli_begin(&run, "cf-console ssl auto-renew", "on|off [--days N] " S_CONN,
                      "Renew generated certificates automatically N days before they expire (the\n"
                      "seed's \"Automatically renew certificates x days before expiration\").\n"
                      "One server renews at a time.\n" CF_EXIT_HELP,
                      opts, S_N(opts), 1, 1, argc, argv) ||
        !s_on_off(&run, &on))
        return cf_cli_end(&run);
    json_t *body = cf_cli_flag_given(run.cfg, "days")
                       ? json_pack("{s:b, s:I}", "auto_renew", on, "renew_days",
                                   (json_int_t) cf_cfg_int(run.cfg, "days"))
                       : json_pack("{s:b}", "auto_renew", on);
    if (!body) {
        run.exit_code = cf_cli_fail(run.prog, CF_ERR_NOMEM, NULL, "cannot change auto-renew");
        return cf_cli_end(&run);
    }
    return s_ssl_call(&run, body, "cannot change the SSL configuration");
}

static int s_min_tls(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {CF_CLIENT_OPTIONS, CF_CLI_JSON_OPTION};
    cf_cli_run_t run;
    if (!cf_cli_begin(&run, "cf-console ssl min-tls", "1.0|1.1|1.2|1.3 " S_CONN,
                      "Set the oldest TLS version the servers accept (1.2 unless lowered "
                      "here).\n" CF_EXIT_HELP,
                      opts, S_N(opts), 1, 1, argc, argv))
        return cf_cli_end(&run);
    size_t i = 0;
    while (s_tls_versions[i] && strcmp(s_tls_versions[i], run.args[0]) != 0)
        i++;
    if (!s_tls_versions[i]) {
        run.exit_code = cf_cli_usage_error(run.prog,
                                           "TLS version 1.0, 1.1, 1.2 or 1.3, not "
                                           "'%.40s'",
                                           run.args[0]);
        return cf_cli_end(&run);
    }
    return s_put(&run, "min_tls", json_string(s_tls_versions[i]));
}

/* ---- ssl insecure: migration readiness ------------------------------------------- */

static const cf_table_col_t s_insecure_cols[] = {
    {"AGENT", CF_TABLE_LEFT}, {"LAST CONNECTED", CF_TABLE_LEFT}, {"ADDRESS", CF_TABLE_LEFT}};

static void s_insecure_print(cf_cli_run_t *run, const json_t *answer)
{
    char when[CF_TABLE_TIME_MAX], cursor[S_MAX_CURSOR + 1];
    const json_t *agents = json_object_get(answer, "agents");
    cf_table_t *t = cf_table_new(s_insecure_cols, S_N(s_insecure_cols), cf_table_colour(stdout));
    size_t i;
    json_t *a;
    json_array_foreach(agents, i, a)
    {
        if (!t)
            break;
        long long seen = (long long) json_integer_value(json_object_get(a, "last_seen"));
        if (cf_table_add(t, json_string_value(json_object_get(a, "id"))) != CF_OK ||
            cf_table_add_lock(t, "insecure", cf_table_time(seen, when, sizeof(when))) != CF_OK ||
            cf_table_add(t, json_string_value(json_object_get(a, "last_addr"))) != CF_OK)
            break;
    }
    if (cf_cli_print_table(run, &t) != CF_EXIT_OK)
        return;
    if (json_array_size(agents) == 0)
        printf("no agent connects without a certificate\n");
    if (cf_table_cursor(json_object_get(answer, "cursor"), cursor, sizeof(cursor)) == CF_OK &&
        cursor[0])
        printf("more: add --cursor %s\n", cursor);
}

static int s_insecure(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {
        CF_CLIENT_OPTIONS,
        CF_CLI_JSON_OPTION,
        {"limit", 0, CF_CFG_INT, "N", "agents per page", NULL, 1, S_MAX_LIMIT, NULL},
        {"cursor", 0, CF_CFG_STRING, "C", "the page after the one that gave this cursor", NULL, 0,
         0, NULL},
    };
    cf_cli_run_t run;
    json_t *answer = NULL;
    char path[64 + 3 * S_MAX_CURSOR] = "/ssl/insecure?", cursor[3 * S_MAX_CURSOR + 1];
    if (!cf_cli_begin(
            &run, "cf-console ssl insecure", "[--limit N] [--cursor C] " S_CONN,
            "List the agents whose last check-in came without a certificate: who still\n"
            "needs one before communication without SSL can be switched off.\n" CF_EXIT_HELP,
            opts, S_N(opts), 0, 0, argc, argv))
        return cf_cli_end(&run);
    const char *c = cf_cli_flag(run.cfg, "cursor");
    if (c && (strlen(c) > S_MAX_CURSOR || cf_cli_escape(c, cursor, sizeof(cursor)) != CF_OK)) {
        run.exit_code =
            cf_cli_usage_error(run.prog, "--cursor is longer than %d bytes", S_MAX_CURSOR);
        return cf_cli_end(&run);
    }
    size_t n = strlen(path);
    if (cf_cli_flag_given(run.cfg, "limit"))
        n += (size_t) snprintf(path + n, sizeof(path) - n, "limit=%lld&",
                               cf_cfg_int(run.cfg, "limit"));
    if (c)
        snprintf(path + n, sizeof(path) - n, "cursor=%s", cursor);
    else
        path[n - 1] = '\0'; /* the last '&' or the '?' */
    if (cf_cli_open_run(&run))
        run.exit_code = cf_cli_fetch(run.prog, "cannot list the agents without a certificate",
                                     run.client, "GET", path, NULL, &answer);
    if (run.client && run.exit_code == CF_EXIT_OK && run.json)
        cf_cli_print_json(answer);
    else if (run.client && run.exit_code == CF_EXIT_OK)
        s_insecure_print(&run, answer);
    json_decref(answer);
    return cf_cli_end(&run);
}

int cf_cli_ssl(int argc, char **argv)
{
    static const cf_cli_cmd_t cmds[] = {
        {"show", "show the SSL configuration", s_show},
        {"enable", "enable SSL", s_enable},
        {"disable", "disable SSL", s_disable},
        {"allow-plain", "on|off: serve agents without a certificate (migration)", s_allow_plain},
        {"auto-renew", "on|off [--days N]: renew generated certificates before expiry",
         s_auto_renew},
        {"min-tls", "1.0|1.1|1.2|1.3: the oldest TLS version accepted", s_min_tls},
        {"insecure", "agents still connecting without a certificate", s_insecure},
    };
    return cf_cli_dispatch("cf-console ssl",
                           "The SSL configuration of the fleet (the seed's SSL configuration "
                           "page).\n" CF_EXIT_HELP,
                           cmds, S_N(cmds), argc, argv);
}
