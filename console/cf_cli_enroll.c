/*  cf_cli_enroll - `cf-console token create` (enrollment tokens) and `cf-console agent
    revoke|decommission` (cutting an agent off)  */
#include <stdio.h>
#include <string.h>

#include "cf_cli.h"
#include "cf_cli_api.h"
#include "cf_client.h"
#include "cf_db_key.h"

#define S_N(opts)    (sizeof(opts) / sizeof((opts)[0]))
#define S_CONN       "[--json] [connection options]"
#define S_USES_MAX   1000000           /* uses of one token (docs/API.md) */
#define S_TTL_MAX    (366 * 24 * 3600) /* longest token lifetime, seconds */
#define S_ANSWER_MAX 16                /* bytes of a confirmation answer read */

/* ---- token create ------------------------------------------------------------------------ */

static int s_token_create(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {
        CF_CLIENT_OPTIONS,
        CF_CLI_JSON_OPTION,
        {"uses", 0, CF_CFG_INT, "N", "how many agents may enroll with it", "1", 1, S_USES_MAX,
         NULL},
        {"ttl", 0, CF_CFG_DURATION, "D",
         "how long it is good for (30m, 12h, 7d, ...; at most 366d)", "7d", 1, S_TTL_MAX, NULL},
    };
    cf_cli_run_t run;
    json_t *body = NULL, *answer = NULL;
    if (!cf_cli_begin(
            &run, "cf-console token create", "[--uses N] [--ttl D] " S_CONN,
            "Make an enrollment token: agents without the install package's certificate\n"
            "enroll with it (cf-agent, or the \"token\" of POST /api/v1/agent/enroll) until it\n"
            "has been used N times or D has passed (default: 1 use, 7 days). The token is\n"
            "printed once and never stored by the server (only its SHA-256): hand it out\n"
            "now. Agents enroll without a certificate only while allow-plain is on.\n" CF_EXIT_HELP,
            opts, S_N(opts), 0, 0, argc, argv) ||
        !cf_cli_open_run(&run))
        goto out;
    body = json_pack("{s:I,s:I}", "uses", (json_int_t) cf_cfg_int(run.cfg, "uses"), "ttl",
                     (json_int_t) cf_cfg_int(run.cfg, "ttl"));
    if (!body) {
        run.exit_code = cf_cli_fail(run.prog, CF_ERR_NOMEM, NULL, "cannot build the request");
        goto out;
    }
    /* the answer's token is wiped as jansson frees it (cf_cli_api_wipe_json) */
    run.exit_code = cf_cli_fetch(run.prog, "cannot make the token", run.client, "POST",
                                 "/enroll-tokens", body, &answer);
    if (run.exit_code == CF_EXIT_OK && run.json) {
        cf_cli_print_json(answer);
    } else if (run.exit_code == CF_EXIT_OK) {
        char until[64];
        json_t *exp = json_object_get(answer, "expires");
        printf("%s\n", json_string_value(json_object_get(answer, "token")));
        fprintf(stderr, "enrollment token for %lld agents, valid until %s (shown only now)\n",
                (long long) json_integer_value(json_object_get(answer, "uses")),
                cf_cli_time((long long) json_integer_value(exp), until, sizeof(until)));
    }
out:
    json_decref(body);
    json_decref(answer);
    return cf_cli_end(&run);
}

int cf_cli_token(int argc, char **argv)
{
    static const cf_cli_cmd_t cmds[] = {
        {"create", "[--uses N] [--ttl D]: a token agents enroll with", s_token_create},
    };
    return cf_cli_dispatch("cf-console token", "Enrollment tokens.\n" CF_EXIT_HELP, cmds, S_N(cmds),
                           argc, argv);
}

/* ---- agent revoke / decommission --------------------------------------------------------- */

/* Ask on the terminal whether to decommission id. 1 = yes; 0 after setting the exit code
   (no terminal: a usage error naming --yes; any answer but yes: refused). */
static int s_confirm(cf_cli_run_t *run, const char *id)
{
    char buf[S_ANSWER_MAX + 2] = "";
    FILE *tty = fopen("/dev/tty", "r+");
    if (!tty) {
        run->exit_code = cf_cli_usage_error(
            run->prog, "no terminal to confirm on: add --yes to decommission %s", id);
        return 0;
    }
    fprintf(tty,
            "Decommission agent %s? Its certificates are revoked, its broker key removed and\n"
            "its record deleted. Type yes to go on: ",
            id);
    fflush(tty);
    if (!fgets(buf, (int) sizeof(buf), tty))
        buf[0] = '\0';
    fclose(tty);
    buf[strcspn(buf, "\r\n")] = '\0';
    if (strcmp(buf, "yes") == 0 || strcmp(buf, "y") == 0)
        return 1;
    fprintf(stderr, "%s: not confirmed: nothing changed\n", run->prog);
    run->exit_code = CF_EXIT_FAIL;
    return 0;
}

static void s_cut_print(const json_t *answer, const char *done)
{
    const json_t *serials = json_object_get(answer, "serials");
    printf("agent %s %s\n", json_string_value(json_object_get(answer, "id")), done);
    printf("certificates revoked: %zu\n", json_array_size(serials));
    size_t i;
    const json_t *v;
    json_array_foreach(serials, i, v) printf("  serial %s\n", json_string_value(v));
    printf("broker key: %s\n", json_is_true(json_object_get(answer, "key_removed"))
                                   ? "removed (its broker link is shut)"
                                   : "none was registered");
    printf("open job entries cancelled: %lld\n",
           (long long) json_integer_value(json_object_get(answer, "jobs_cancelled")));
}

/* Both commands: one call for the positional id, after the confirmation of a decommission. */
static int s_cut(int argc, char **argv, int decommission)
{
    static const cf_cfg_opt_t opts[] = {
        CF_CLIENT_OPTIONS,
        CF_CLI_JSON_OPTION,
        {"yes", 'y', CF_CFG_BOOL, NULL, "do not ask for confirmation", "false", 0, 0, NULL},
    };
    cf_cli_run_t run;
    char path[32 + CF_DB_ID_MAX];
    json_t *answer = NULL;
    const char *prog = decommission ? "cf-console agent decommission" : "cf-console agent revoke";
    const char *about =
        decommission
            ? "Decommission an agent: revoke its per-agent certificates (the CRL lists them),\n"
              "remove its CURVE key (brokers shut its link) and delete its record, sets and\n"
              "counters; the id is free afterwards. Asks for confirmation unless --yes.\n"
            : "Revoke an agent: its per-agent certificates join the revoked set and the CRL\n"
              "(every server refuses them at once), its CURVE key is removed (brokers shut its\n"
              "link), and its record stays, marked revoked, so it still shows; it cannot\n"
              "enroll again until it is decommissioned. (--yes is accepted and ignored.)\n";
    char about_all[1024];
    snprintf(about_all, sizeof(about_all), "%s%s", about, CF_EXIT_HELP);
    if (!cf_cli_begin(&run, prog, "ID [--yes] " S_CONN, about_all, opts, S_N(opts), 1, 1, argc,
                      argv))
        return cf_cli_end(&run);
    const char *id = run.args[0];
    if (cf_db_check_agent_id(id) != CF_OK) {
        run.exit_code = cf_cli_usage_error(run.prog, "'%.80s' is not an agent id", id);
        return cf_cli_end(&run);
    }
    if ((decommission && !cf_cfg_bool(run.cfg, "yes") && !s_confirm(&run, id)) ||
        !cf_cli_open_run(&run))
        return cf_cli_end(&run);
    snprintf(path, sizeof(path), decommission ? "/agents/%s" : "/agents/%s/revoke", id);
    run.exit_code = cf_cli_fetch(run.prog, decommission ? "cannot decommission" : "cannot revoke",
                                 run.client, decommission ? "DELETE" : "POST", path, NULL, &answer);
    if (run.exit_code == CF_EXIT_OK && run.json)
        cf_cli_print_json(answer);
    else if (run.exit_code == CF_EXIT_OK)
        s_cut_print(answer, decommission ? "decommissioned" : "revoked");
    json_decref(answer);
    return cf_cli_end(&run);
}

int cf_cli_agent_revoke(int argc, char **argv)
{
    return s_cut(argc, argv, 0);
}

int cf_cli_agent_decommission(int argc, char **argv)
{
    return s_cut(argc, argv, 1);
}
