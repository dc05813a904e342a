/*  cf_cli_cert_expiring - `cf-console cert expiring --days N`: what expires fleet-wide soon  */
#include <stdio.h>
#include <string.h>

#include "cf_cli.h"
#include "cf_cli_api.h"
#include "cf_cli_cert_int.h"
#include "cf_client.h"
#include "cf_table.h"

#define S_N(opts)    (sizeof(opts) / sizeof((opts)[0]))
#define S_MAX_DAYS   36500 /* the API's window cap */
#define S_MAX_LIMIT  10000 /* entries per page */
#define S_MAX_CURSOR 320   /* longest paging cursor, bytes */
#define S_FP_SHOWN   16    /* fingerprint digits in the table (the whole one in --json) */

static const cf_table_col_t s_cols[] = {
    {"EXPIRES", CF_TABLE_LEFT}, {"LEFT", CF_TABLE_LEFT},   {"COMPONENT", CF_TABLE_LEFT},
    {"NAME", CF_TABLE_LEFT},    {"SOURCE", CF_TABLE_LEFT}, {"SERIAL", CF_TABLE_LEFT},
    {"SHA-256", CF_TABLE_LEFT},
};

static const char *s_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static long long s_int(const json_t *o, const char *key)
{
    return (long long) json_integer_value(json_object_get(o, key));
}

static cf_err_t s_row(cf_table_t *t, const json_t *e)
{
    char end[CF_TABLE_TIME_MAX];
    const char *fp = s_str(e, "fingerprint");
    const char *source = s_str(e, "source");
    cf_err_t rc = cf_table_add(t, cf_table_time(s_int(e, "not_after"), end, sizeof(end)));
    if (rc == CF_OK)
        rc = cf_table_add_expiry(t, s_int(e, "days_left"),
                                 json_is_true(json_object_get(e, "expired")));
    if (rc == CF_OK)
        rc = cf_table_add(t, s_str(e, "component"));
    if (rc == CF_OK)
        rc = cf_table_add(t, s_str(e, "name"));
    if (rc == CF_OK) /* "checkin": the certificate the agent last presented */
        rc = cf_table_add(t, source && strcmp(source, "checkin") == 0 ? "check-in" : source);
    if (rc == CF_OK)
        rc = cf_table_add(t, s_str(e, "serial"));
    if (rc == CF_OK)
        rc = cf_table_addf(t, "%.*s", S_FP_SHOWN, fp ? fp : "-");
    return rc;
}

static void s_print(cf_cli_run_t *run, const json_t *answer)
{
    char cursor[S_MAX_CURSOR + 1];
    const json_t *certs = json_object_get(answer, "certs");
    cf_table_t *t = cf_table_new(s_cols, S_N(s_cols), cf_table_colour(stdout));
    size_t i, expired = 0;
    json_t *e;
    json_array_foreach(certs, i, e)
    {
        if (!t || s_row(t, e) != CF_OK)
            break;
        expired += json_is_true(json_object_get(e, "expired"));
    }
    if (cf_cli_print_table(run, &t) != CF_EXIT_OK)
        return;
    size_t n = json_array_size(certs);
    long long days = s_int(answer, "days");
    if (n == 0)
        printf("nothing expires within %lld day%s\n", days, days == 1 ? "" : "s");
    else
        printf("%zu certificate%s: %zu expired, %zu expire%s within %lld day%s\n", n,
               n == 1 ? "" : "s", expired, n - expired, n - expired == 1 ? "s" : "", days,
               days == 1 ? "" : "s");
    if (cf_table_cursor(json_object_get(answer, "cursor"), cursor, sizeof(cursor)) == CF_OK &&
        cursor[0])
        printf("more: add --cursor %s\n", cursor);
}

/* GET /certs/expiring?days=&limit=&cursor= from the options into path. */
static int s_path(cf_cli_run_t *run, char *path, size_t len)
{
    char cursor[3 * S_MAX_CURSOR + 1];
    const char *c = cf_cli_flag(run->cfg, "cursor");
    if (c && (strlen(c) > S_MAX_CURSOR || cf_cli_escape(c, cursor, sizeof(cursor)) != CF_OK)) {
        run->exit_code =
            cf_cli_usage_error(run->prog, "--cursor is longer than %d bytes", S_MAX_CURSOR);
        return 0;
    }
    size_t n =
        (size_t) snprintf(path, len, "/certs/expiring?days=%lld", cf_cfg_int(run->cfg, "days"));
    if (cf_cli_flag_given(run->cfg, "limit"))
        n += (size_t) snprintf(path + n, len - n, "&limit=%lld", cf_cfg_int(run->cfg, "limit"));
    if (c)
        snprintf(path + n, len - n, "&cursor=%s", cursor);
    return 1;
}

int cf_cli_cert_expiring(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {
        CF_CLIENT_OPTIONS,
        CF_CLI_JSON_OPTION,
        {"days", 0, CF_CFG_INT, "N", "what expires within N days (0: what has expired)", "30", 0,
         S_MAX_DAYS, NULL},
        {"limit", 0, CF_CFG_INT, "N", "certificates per page", NULL, 1, S_MAX_LIMIT, NULL},
        {"cursor", 0, CF_CFG_STRING, "C", "the page after the one that gave this cursor", NULL, 0,
         0, NULL},
    };
    cf_cli_run_t run;
    char path[128 + 3 * S_MAX_CURSOR];
    json_t *answer = NULL;
    if (!cf_cli_begin(&run, "cf-console cert expiring",
                      "[--days N] [--limit N] [--cursor C] [--json] [connection options]",
                      "List, fleet-wide, the certificates that expire within N days (default 30),\n"
                      "soonest first, those already expired at the top: the servers', the\n"
                      "console's and the shared agent certificate (records), and each agent's\n"
                      "certificate as the server saw it at its last check-in.\n"
                      "LEFT is in colour on a terminal (unless NO_COLOR is set).\n" CF_EXIT_HELP,
                      opts, S_N(opts), 0, 0, argc, argv) ||
        !s_path(&run, path, sizeof(path)) || !cf_cli_open_run(&run))
        return cf_cli_end(&run);
    run.exit_code = cf_cli_fetch(run.prog, "cannot list the expiring certificates", run.client,
                                 "GET", path, NULL, &answer);
    if (run.exit_code == CF_EXIT_OK && run.json)
        cf_cli_print_json(answer);
    else if (run.exit_code == CF_EXIT_OK)
        s_print(&run, answer);
    json_decref(answer);
    return cf_cli_end(&run);
}
