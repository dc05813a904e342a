/*  cf_cli_cert - `cf-console cert ...`: generate, list, import, export and revoke certificates  */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "cf_cli.h"
#include "cf_cli_api.h"
#include "cf_cli_cert_int.h"
#include "cf_client.h"
#include "cf_db_key.h"
#include "cf_mem.h"
#include "cf_table.h"

#define S_N(opts)  (sizeof(opts) / sizeof((opts)[0]))
#define S_CONN     "[--json] [connection options]"
#define S_MAX_DAYS 3650 /* longest lifetime generate-all asks for */

static const char *const s_components[] = {"server", "console", "agent", NULL};
static const char *const s_key_types[] = {"p256",    "p384",    "rsa2048", "rsa3072",
                                          "rsa4096", "ed25519", NULL};

#define S_COMPONENT_OPTS                                                                      \
    {"component", 0, CF_CFG_ENUM, "C", "server, console or agent", NULL, 0, 0, s_components}, \
    {                                                                                         \
        "name", 0, CF_CFG_STRING, "NAME",                                                     \
            "which certificate of the component: a server's alias (required for server); "    \
            "default console for console, shared for agent (the shared agent certificate)",   \
            NULL, 0, 0, NULL                                                                  \
    }

static const cf_table_col_t s_cols[] = {
    {"COMPONENT", CF_TABLE_LEFT}, {"NAME", CF_TABLE_LEFT},    {"KIND", CF_TABLE_LEFT},
    {"STATE", CF_TABLE_LEFT},     {"EXPIRES", CF_TABLE_LEFT}, {"DAYS", CF_TABLE_RIGHT},
    {"SERIAL", CF_TABLE_LEFT},    {"SUBJECT", CF_TABLE_LEFT},
};
static const cf_table_col_t s_kv_cols[] = {{NULL, CF_TABLE_LEFT}, {NULL, CF_TABLE_LEFT}};

static const char *s_str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "-";
}

static long long s_int(const json_t *o, const char *key)
{
    return (long long) json_number_value(json_object_get(o, key));
}

static cf_err_t s_row(cf_table_t *t, const json_t *c)
{
    char end[CF_TABLE_TIME_MAX];
    static const char *const first[] = {"component", "name", "kind", "state"};
    cf_err_t rc = CF_OK;
    for (size_t i = 0; rc == CF_OK && i < S_N(first); i++)
        rc = cf_table_add(t, s_str(c, first[i]));
    if (rc == CF_OK)
        rc = cf_table_add(t, cf_table_time(s_int(c, "not_after"), end, sizeof(end)));
    if (rc == CF_OK)
        rc = cf_table_addf(t, "%lld", s_int(c, "days_left"));
    if (rc == CF_OK)
        rc = cf_table_add(t, s_str(c, "serial"));
    if (rc == CF_OK)
        rc = cf_table_add(t, s_str(c, "subject"));
    return rc;
}

/* A list of cert objects as a table. */
static void s_print_list(cf_cli_run_t *run, const json_t *certs, const char *none)
{
    cf_table_t *t = cf_table_new(s_cols, S_N(s_cols), 0);
    size_t i;
    json_t *c;
    json_array_foreach(certs, i, c)
    {
        if (!t || s_row(t, c) != CF_OK)
            break;
    }
    if (cf_cli_print_table(run, &t) == CF_EXIT_OK && json_array_size(certs) == 0)
        printf("%s\n", none);
}

/* The SAN list of a cert object as one text ("-": none). */
static void s_sans(const json_t *c, char *buf, size_t len)
{
    size_t i, n = 0;
    json_t *s;
    buf[0] = '\0';
    json_array_foreach(json_object_get(c, "san"), i, s)
    {
        int w = snprintf(buf + n, len - n, "%s%s", i ? ", " : "",
                         json_string_value(s) ? json_string_value(s) : "?");
        if (w < 0 || (size_t) w >= len - n)
            break;
        n += (size_t) w;
    }
    if (!buf[0])
        snprintf(buf, len, "-");
}

/* One cert object, every field (issuer and key as the server adds them). */
static void s_print_one(cf_cli_run_t *run, const json_t *c)
{
    static const char *const keys[] = {"component", "name",   "kind",   "state",
                                       "subject",   "issuer", "serial", "fingerprint"};
    static const char *const names[] = {"Component", "Name",   "Kind",   "State",
                                        "Subject",   "Issuer", "Serial", "SHA-256"};
    char a[CF_TABLE_TIME_MAX], b[CF_TABLE_TIME_MAX], r[CF_TABLE_TIME_MAX], san[1024];
    const json_t *has_key = json_object_get(c, "has_key");
    cf_table_t *t = cf_table_new(s_kv_cols, 2, 0);
    cf_err_t rc = t ? CF_OK : CF_ERR_NOMEM;
    s_sans(c, san, sizeof(san));
    for (size_t k = 0; rc == CF_OK && k < S_N(keys); k++) {
        if (k != 5 || json_object_get(c, keys[k])) /* the issuer only when given */
            rc = cf_table_kv(t, names[k], "%s", s_str(c, keys[k]));
    }
    if (rc == CF_OK && json_is_boolean(has_key))
        rc = cf_table_kv(t, "Key", "%s, %s", s_str(c, "key_type"),
                         json_is_true(has_key) ? "held by the server" : "not held");
    if (rc == CF_OK)
        rc = cf_table_kv(t, "Valid", "%s to %s (%lld days left)",
                         cf_table_time(s_int(c, "not_before"), a, sizeof(a)),
                         cf_table_time(s_int(c, "not_after"), b, sizeof(b)), s_int(c, "days_left"));
    if (rc == CF_OK)
        rc = cf_table_kv(t, "Renew at", "%s", cf_table_time(s_int(c, "renew_at"), r, sizeof(r)));
    if (rc == CF_OK)
        rc = cf_table_kv(t, "Names (SAN)", "%s", san);
    cf_cli_print_table(run, &t);
}

/* ---- generate-all, list, show ---------------------------------------------------- */

static int s_generate_all(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {
        CF_CLIENT_OPTIONS,
        CF_CLI_JSON_OPTION,
        {"key-type", 0, CF_CFG_ENUM, "TYPE", "key algorithm", "p256", 0, 0, s_key_types},
        {"days", 0, CF_CFG_INT, "N", "lifetime of each certificate", "365", 1, S_MAX_DAYS, NULL},
    };
    cf_cli_run_t run;
    json_t *body = NULL, *answer = NULL;
    if (!cf_cli_begin(&run, "cf-console cert generate-all", "[--key-type T] [--days N] " S_CONN,
                      "Generate all certificates (the seed's \"Generate all certificates\"): one\n"
                      "for every registered server alias, the console's and the shared agent\n"
                      "certificate, each with its key, from the fleet's CA. The ones they replace\n"
                      "are archived.\n" CF_EXIT_HELP,
                      opts, S_N(opts), 0, 0, argc, argv) ||
        !cf_cli_open_run(&run))
        return cf_cli_end(&run);
    body = json_pack("{s:s, s:I}", "key_type", cf_cfg_str(run.cfg, "key-type"), "days",
                     (json_int_t) cf_cfg_int(run.cfg, "days"));
    run.exit_code = body ? cf_cli_fetch(run.prog, "cannot generate the certificates", run.client,
                                        "POST", "/certs/generate-all", body, &answer)
                         : cf_cli_fail(run.prog, CF_ERR_NOMEM, NULL, "generate-all");
    if (run.exit_code == CF_EXIT_OK && run.json)
        cf_cli_print_json(answer);
    else if (run.exit_code == CF_EXIT_OK)
        s_print_list(&run, json_object_get(answer, "generated"), "nothing was generated");
    json_decref(body);
    json_decref(answer);
    return cf_cli_end(&run);
}

static int s_list(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {
        CF_CLIENT_OPTIONS,
        CF_CLI_JSON_OPTION,
        {"component", 0, CF_CFG_ENUM, "C", "only this component's certificates", NULL, 0, 0,
         s_components},
        {"archive", 0, CF_CFG_BOOL, NULL,
         "the archive instead: replaced certificates that are still valid", "false", 0, 0, NULL},
    };
    cf_cli_run_t run;
    char path[64];
    json_t *answer = NULL;
    if (!cf_cli_begin(
            &run, "cf-console cert list", "[--component C] [--archive] " S_CONN,
            "List the certificates in the store: kind (generated, imported, public),\n"
            "state (current, archived, expired, not-yet-valid, revoked) and expiry.\n" CF_EXIT_HELP,
            opts, S_N(opts), 0, 0, argc, argv) ||
        !cf_cli_open_run(&run))
        return cf_cli_end(&run);
    const char *component = cf_cli_flag(run.cfg, "component");
    int archive = cf_cfg_bool(run.cfg, "archive");
    snprintf(path, sizeof(path), "%s%s%s", archive ? "/certs/archive" : "/certs",
             component && !archive ? "?component=" : "", component && !archive ? component : "");
    run.exit_code = cf_cli_fetch(run.prog, "cannot list the certificates", run.client, "GET", path,
                                 NULL, &answer);
    if (run.exit_code == CF_EXIT_OK && run.json)
        cf_cli_print_json(answer);
    else if (run.exit_code == CF_EXIT_OK)
        s_print_list(&run, json_object_get(answer, "certs"),
                     archive ? "the archive is empty" : "no certificate");
    if (run.exit_code == CF_EXIT_OK && !run.json &&
        json_is_true(json_object_get(answer, "truncated")))
        printf("(the server sent the first %zu only)\n",
               json_array_size(json_object_get(answer, "certs")));
    json_decref(answer);
    return cf_cli_end(&run);
}

/* --component and --name into "/certs/C/N" (path) and name; 0 with a usage error. */
static int s_which(cf_cli_run_t *run, char *path, size_t len)
{
    const char *component = cf_cli_flag(run->cfg, "component");
    const char *name = cf_cli_flag(run->cfg, "name");
    char lower[CF_DB_NAME_MAX + 1];
    if (!component) {
        run->exit_code = cf_cli_usage_error(run->prog, "give --component server|console|agent");
        return 0;
    }
    if (!name && strcmp(component, "server") == 0) {
        run->exit_code =
            cf_cli_usage_error(run->prog, "give --name ALIAS for a server certificate");
        return 0;
    }
    if (!name)
        name = strcmp(component, "console") == 0 ? "console" : "shared";
    size_t n = strnlen(name, sizeof(lower));
    for (size_t i = 0; n < sizeof(lower) && i <= n; i++)
        lower[i] = (char) tolower((unsigned char) name[i]);
    if (n >= sizeof(lower) || cf_db_check_cert_name(lower) != CF_OK) {
        run->exit_code = cf_cli_usage_error(run->prog,
                                            "--name '%.80s' is not a certificate name: 1..%d "
                                            "characters a-z, 0-9, '.', '_', '-'",
                                            name, CF_DB_NAME_MAX);
        return 0;
    }
    snprintf(path, len, "/certs/%s/%s", component, lower);
    return 1;
}

static int s_show(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {CF_CLIENT_OPTIONS, CF_CLI_JSON_OPTION, S_COMPONENT_OPTS};
    cf_cli_run_t run;
    char path[32 + CF_DB_NAME_MAX];
    json_t *answer = NULL;
    if (!cf_cli_begin(&run, "cf-console cert show", "--component C [--name NAME] " S_CONN,
                      "Show one certificate of the store.\n" CF_EXIT_HELP, opts, S_N(opts), 0, 0,
                      argc, argv) ||
        !s_which(&run, path, sizeof(path)) || !cf_cli_open_run(&run))
        return cf_cli_end(&run);
    run.exit_code = cf_cli_fetch(run.prog, "cannot read the certificate", run.client, "GET", path,
                                 NULL, &answer);
    if (run.exit_code == CF_EXIT_OK && run.json)
        cf_cli_print_json(answer);
    else if (run.exit_code == CF_EXIT_OK)
        s_print_one(&run, answer);
    json_decref(answer);
    return cf_cli_end(&run);
}

/* ---- import ---------------------------------------------------------------------- */

/* The argument combinations import takes; 0 with a usage error. */
static int s_import_args(cf_cli_run_t *run)
{
    int store = cf_cli_flag(run->cfg, "from-store") != NULL;
    const char *bad = NULL;
    if (store && run->n_args > 0)
        bad = "give FILE or --from-store DIR, not both";
    else if (!store && run->n_args == 0)
        bad = "give FILE (PKCS#12 or PEM), or --from-store DIR --match SUBJECT|FINGERPRINT";
    else if (!store && cf_cli_flag(run->cfg, "match"))
        bad = "--match goes with --from-store";
    else if (store && (cf_cfg_bool(run->cfg, "public-only") || cf_cli_flag(run->cfg, "key")))
        bad = "--public-only and --key go with FILE, not --from-store";
    else if (cf_cfg_bool(run->cfg, "public-only") && cf_cli_flag(run->cfg, "key"))
        bad = "--public-only sends no key: drop --key";
    if (bad)
        run->exit_code = cf_cli_usage_error(run->prog, "%s", bad);
    return bad == NULL;
}

/* POST the import body; the body holds a password or a key, so it is wiped after. */
static void s_import_send(cf_cli_cert_import_t *im, const char *path)
{
    json_t *answer = NULL;
    im->run->exit_code = cf_cli_fetch_secret(im->run->prog, "cannot import the certificate",
                                             im->run->client, "POST", path, im->body, &answer);
    if (im->run->exit_code == CF_EXIT_OK && im->run->json)
        cf_cli_print_json(answer);
    else if (im->run->exit_code == CF_EXIT_OK)
        s_print_one(im->run, answer);
    json_decref(answer);
}

static int s_import(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {
        CF_CLIENT_OPTIONS,
        CF_CLI_JSON_OPTION,
        S_COMPONENT_OPTS,
        {"key", 0, CF_CFG_PATH, "FILE",
         "the private key (PEM) when FILE holds the certificate only", NULL, 0, 0, NULL},
        {"public-only", 0, CF_CFG_BOOL, NULL,
         "send the certificate alone, no key: it identifies a component whose certificate is "
         "distributed by other means",
         "false", 0, 0, NULL},
        {"from-store", 0, CF_CFG_PATH, "DIR",
         "pick the certificate from this directory on the server", NULL, 0, 0, NULL},
        {"match", 0, CF_CFG_STRING, "TEXT", "with --from-store: subject or SHA-256 fingerprint",
         NULL, 0, 0, NULL},
    };
    cf_cli_run_t run;
    char path[48 + CF_DB_NAME_MAX];
    cf_cli_cert_import_t im = {&run, NULL, NULL, 0, NULL, NULL};
    if (!cf_cli_begin(
            &run, "cf-console cert import",
            "--component C [--name NAME] FILE [--key FILE] [--public-only] "
            "[--password-file F] | --component C --from-store DIR --match TEXT " S_CONN,
            "Import a certificate into the store (the seed's Import): a PKCS#12 or a PEM\n"
            "file holding the certificate and its key (or --key FILE), or with\n"
            "--public-only the certificate alone. FILE is opened here first, so a wrong\n"
            "password is reported before anything is sent. The password of FILE (or of\n"
            "its key) comes from --password-file F on the command line (here it is the\n"
            "file's password, not the login's), else $PKCS12_PASS, else a prompt.\n" CF_EXIT_HELP,
            opts, S_N(opts), 0, 1, argc, argv) ||
        !s_import_args(&run) || !s_which(&run, path, sizeof(path)))
        goto out;
    strcat(path, "/import"); /* path has room: s_which wrote at most 16 + CF_DB_NAME_MAX */
    im.file = run.n_args ? run.args[0] : NULL;
    if (!cf_cli_cert_import_body(&im) || !cf_cli_open_run(&run))
        goto out;
    s_import_send(&im, path);
out:
    cf_cli_cert_import_clear(&im);
    return cf_cli_end(&run);
}

/* ---- export ---------------------------------------------------------------------- */

static void s_export_call(cf_cli_run_t *run, const char *path, json_t *body, int p12)
{
    json_t *answer = NULL;
    cf_why_t why = {""};
    const char *out = cf_cfg_str(run->cfg, "out");
    run->exit_code = cf_cli_fetch_secret(run->prog, "cannot export the certificate", run->client,
                                         "POST", path, body, &answer);
    if (run->exit_code == CF_EXIT_OK) {
        int force = cf_cfg_bool(run->cfg, "force");
        cf_err_t rc = cf_cli_cert_write_export(answer, out, p12, force, &why);
        if (rc != CF_OK)
            run->exit_code = cf_cli_fail(run->prog, rc, &why, "cannot write %s", out);
    }
    if (run->exit_code == CF_EXIT_OK && run->json)
        cf_cli_print_json(answer);
    else if (run->exit_code == CF_EXIT_OK)
        printf("wrote %s (%s)\n", out,
               p12 ? "PKCS#12 with the private key, mode 0600" : "certificate and chain, PEM");
    json_decref(answer);
}

static int s_export(int argc, char **argv)
{
    static const char *const formats[] = {"p12", "pem", NULL};
    static const cf_cfg_opt_t opts[] = {
        CF_CLIENT_OPTIONS,
        CF_CLI_JSON_OPTION,
        S_COMPONENT_OPTS,
        {"out", 'o', CF_CFG_PATH, "FILE", "write the export here", NULL, 0, 0, NULL},
        {"format", 0, CF_CFG_ENUM, "FORMAT",
         "p12 (certificate, chain and key) or pem (certificate and chain, never the key); "
         "default: pem when FILE ends in .pem or .crt",
         NULL, 0, 0, formats},
        {"force", 'f', CF_CFG_BOOL, NULL, "replace FILE if it exists", "false", 0, 0, NULL},
    };
    cf_cli_run_t run;
    char path[48 + CF_DB_NAME_MAX], *password = NULL;
    json_t *body = NULL;
    if (!cf_cli_begin(
            &run, "cf-console cert export",
            "--component C [--name NAME] --out FILE [--format p12|pem] "
            "[--password-file F] [--force] " S_CONN,
            "Export a certificate (the seed's Export, for distribution by other means).\n"
            "A PKCS#12 holds the key: it is written mode 0600, protected by the password\n"
            "from --password-file F on the command line (the file's password here, not\n"
            "the login's), else $PKCS12_PASS, else a prompt asking twice.\n" CF_EXIT_HELP,
            opts, S_N(opts), 0, 0, argc, argv) ||
        !s_which(&run, path, sizeof(path)))
        goto out;
    const char *out = cf_cfg_str(run.cfg, "out");
    if (!out) {
        run.exit_code = cf_cli_usage_error(run.prog, "give --out FILE");
        goto out;
    }
    int p12 = 0;
    strcat(path, "/export");
    if (cf_cli_cert_export_body(&run, out, &p12, &body, &password) && cf_cli_open_run(&run))
        s_export_call(&run, path, body, p12);
out:
    cf_mem_free_secret_str(password);
    json_decref(body);
    return cf_cli_end(&run);
}

/* ---- revoke ---------------------------------------------------------------------- */

/* SERIAL (hex, colons allowed, any case) or --agent ID into the body. */
static int s_revoke_body(cf_cli_run_t *run, json_t **body)
{
    const char *agent = cf_cli_flag(run->cfg, "agent");
    char serial[CF_DB_SERIAL_MAX + 1];
    size_t n = 0;
    if ((agent != NULL) == (run->n_args == 1)) {
        run->exit_code = cf_cli_usage_error(run->prog, "give SERIAL or --agent ID");
        return 0;
    }
    if (agent && cf_db_check_agent_id(agent) != CF_OK) {
        run->exit_code = cf_cli_usage_error(run->prog, "--agent '%.80s' is not an agent id", agent);
        return 0;
    }
    for (const char *p = agent ? "" : run->args[0]; *p && n < sizeof(serial) - 1; p++) {
        if (*p != ':')
            serial[n++] = (char) tolower((unsigned char) *p);
    }
    serial[n] = '\0';
    if (!agent && cf_db_check_serial(serial) != CF_OK) {
        run->exit_code = cf_cli_usage_error(run->prog, "'%.80s' is not a serial: 1..%d hex digits",
                                            run->args[0], CF_DB_SERIAL_MAX);
        return 0;
    }
    *body = agent ? json_pack("{s:s}", "agent", agent) : json_pack("{s:s}", "serial", serial);
    if (!*body)
        run->exit_code = cf_cli_fail(run->prog, CF_ERR_NOMEM, NULL, "cannot build the request");
    return *body != NULL;
}

static void s_revoke_print(const json_t *answer)
{
    char when[CF_TABLE_TIME_MAX];
    size_t i;
    json_t *s;
    const json_t *list = json_object_get(answer, "revoked");
    json_array_foreach(list, i, s)
    {
        printf("revoked %s\n", json_string_value(s) ? json_string_value(s) : "?");
    }
    if (json_array_size(list) == 0)
        printf("nothing to revoke\n");
    printf("the CRL is next updated %s\n",
           cf_table_time(s_int(answer, "crl_next_update"), when, sizeof(when)));
}

static int s_revoke(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {
        CF_CLIENT_OPTIONS,
        CF_CLI_JSON_OPTION,
        {"agent", 0, CF_CFG_STRING, "ID", "revoke this agent's certificate instead of a serial",
         NULL, 0, 0, NULL},
    };
    cf_cli_run_t run;
    json_t *body = NULL, *answer = NULL;
    if (!cf_cli_begin(&run, "cf-console cert revoke", "SERIAL | --agent ID " S_CONN,
                      "Revoke a certificate: servers refuse it at once, and the CRL lists it.\n"
                      "There is no undo.\n" CF_EXIT_HELP,
                      opts, S_N(opts), 0, 1, argc, argv) ||
        !s_revoke_body(&run, &body) || !cf_cli_open_run(&run))
        goto out;
    run.exit_code =
        cf_cli_fetch(run.prog, "cannot revoke", run.client, "POST", "/certs/revoke", body, &answer);
    if (run.exit_code == CF_EXIT_OK && run.json)
        cf_cli_print_json(answer);
    else if (run.exit_code == CF_EXIT_OK)
        s_revoke_print(answer);
out:
    json_decref(body);
    json_decref(answer);
    return cf_cli_end(&run);
}

int cf_cli_cert(int argc, char **argv)
{
    static const cf_cli_cmd_t cmds[] = {
        {"generate-all", "generate every component certificate with its key", s_generate_all},
        {"list", "[--component C] [--archive]: the certificates in the store", s_list},
        {"show", "--component C [--name NAME]: one certificate", s_show},
        {"import", "--component C FILE | --from-store DIR --match TEXT: import", s_import},
        {"export", "--component C --out FILE: export as PKCS#12 or PEM", s_export},
        {"revoke", "SERIAL | --agent ID: revoke", s_revoke},
        {"expiring", "[--days N]: what expires fleet-wide within N days", cf_cli_cert_expiring},
    };
    return cf_cli_dispatch("cf-console cert",
                           "The fleet's certificates (the seed's certificate list).\n" CF_EXIT_HELP,
                           cmds, S_N(cmds), argc, argv);
}
