/*  cf_cli_package - `cf-console package create`: the agent install package (the seed's MSI
    package) written to a file, 0600, for `cf-agent install --bundle FILE`  */
#include <stdio.h>
#include <string.h>

#include "cf_cli.h"
#include "cf_cli_api.h"
#include "cf_client.h"
#include "cf_file.h"
#include "cf_mem.h"

#define S_N(opts)  (sizeof(opts) / sizeof((opts)[0]))
#define S_USES_MAX 1000000           /* uses of one token (docs/API.md) */
#define S_TTL_MAX  (366 * 24 * 3600) /* longest token lifetime, seconds */
#define S_CONN     "[--json] [connection options]"

/* The request body from the options; the password (when --password-file) into *pass. */
static int s_body(cf_cli_run_t *run, char **pass, json_t **body)
{
    const char *file = cf_cli_flag(run->cfg, "password-file");
    int with_cert = cf_cfg_bool(run->cfg, "with-cert");
    int token = cf_cfg_is_set(run->cfg, "token-uses") || cf_cfg_is_set(run->cfg, "token-ttl");
    cf_why_t why = {""};
    if (file && !with_cert) {
        run->exit_code = cf_cli_usage_error(
            run->prog, "--password-file protects the certificate: give --with-cert too");
        return 0;
    }
    cf_err_t rc = file ? cf_cfg_read_secret_file(file, CF_CLI_MAX_PASSWORD, 0, pass, &why) : CF_OK;
    if (rc != CF_OK) {
        run->exit_code = cf_cli_fail(run->prog, rc, &why, "password file %s", file);
        return 0;
    }
    *body = json_pack("{s:b,s:s?}", "with_cert", with_cert, "password", *pass);
    if (*body && token &&
        (json_object_set_new(*body, "token_uses",
                             json_integer((json_int_t) cf_cfg_int(run->cfg, "token-uses"))) != 0 ||
         json_object_set_new(*body, "token_ttl",
                             json_integer((json_int_t) cf_cfg_int(run->cfg, "token-ttl"))) != 0)) {
        json_decref(*body);
        *body = NULL;
    }
    if (!*body)
        run->exit_code = cf_cli_fail(run->prog, CF_ERR_NOMEM, NULL, "cannot build the request");
    return *body != NULL;
}

/* The bundle into out, 0600, crash-safely. */
static int s_write(cf_cli_run_t *run, const char *out, const json_t *bundle)
{
    cf_why_t why = {""};
    size_t n = json_dumpb(bundle, NULL, 0, JSON_INDENT(1));
    char *text = n ? cf_mem_malloc(n + 1) : NULL;
    cf_err_t rc = text && json_dumpb(bundle, text, n, JSON_INDENT(1)) == n ? CF_OK : CF_ERR_NOMEM;
    if (rc == CF_OK) {
        text[n] = '\n'; /* a text file ends with a line break */
        rc = cf_file_write_atomic(out, text, n + 1, 0600, &why);
    }
    cf_mem_free_secret(text, n + 1);
    if (rc != CF_OK)
        run->exit_code = cf_cli_fail(run->prog, rc, &why, "cannot write %s", out);
    return rc == CF_OK;
}

static void s_print(const cf_cli_run_t *run, const char *out, const json_t *bundle)
{
    const json_t *config = json_object_get(bundle, "config");
    size_t servers = json_array_size(json_object_get(config, "servers"));
    size_t brokers = json_array_size(json_object_get(config, "brokers"));
    int cert = json_is_string(json_object_get(bundle, "p12"));
    int token = json_is_string(json_object_get(bundle, "token"));
    if (run->json) {
        json_t *summary =
            json_pack("{s:s,s:I,s:I,s:b,s:b}", "file", out, "servers", (json_int_t) servers,
                      "brokers", (json_int_t) brokers, "with_cert", cert, "token", token);
        cf_cli_print_json(summary);
        json_decref(summary);
        return;
    }
    printf("wrote %s (mode 0600): %zu servers, %zu brokers, CA certificate\n", out, servers,
           brokers);
    printf("agent certificate: %s\n",
           cert ? "the shared agent certificate (PKCS#12; install with PKCS12_PASS, "
                  "--password-file or at the prompt)"
                : "none");
    if (token)
        printf("enrollment token: %lld uses, good for %lld s (inside the file only)\n",
               (long long) cf_cfg_int(run->cfg, "token-uses"),
               (long long) cf_cfg_int(run->cfg, "token-ttl"));
    else
        printf("enrollment token: none\n");
}

static int s_create(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {
        CF_CLIENT_OPTIONS,
        CF_CLI_JSON_OPTION,
        {"out", 'o', CF_CFG_PATH, "FILE", "where to write the package (required)", NULL, 0, 0,
         NULL},
        {"with-cert", 0, CF_CFG_BOOL, NULL, "add the shared agent certificate and its key", "false",
         0, 0, NULL},
        {"token-uses", 0, CF_CFG_INT, "N", "add an enrollment token good for N agents", "1", 1,
         S_USES_MAX, NULL},
        {"token-ttl", 0, CF_CFG_DURATION, "D", "... and for this long (at most 366d)", "7d", 1,
         S_TTL_MAX, NULL},
    };
    cf_cli_run_t run;
    json_t *body = NULL, *answer = NULL;
    char *pass = NULL;
    if (!cf_cli_begin(
            &run, "cf-console package create",
            "--out FILE [--with-cert] [--password-file F] [--token-uses N --token-ttl D] " S_CONN,
            "Make the agent install package (the seed's MSI package): the server list, the\n"
            "broker endpoints, the CA certificate and, with --with-cert, the shared agent\n"
            "certificate with its key as a PKCS#12 protected by the password in\n"
            "--password-file (default: the one set at cf-server --init); with --token-uses\n"
            "or --token-ttl, an enrollment token. The file holds secrets: it is written\n"
            "0600. Agents install it with: cf-agent install --bundle FILE.\n" CF_EXIT_HELP,
            opts, S_N(opts), 0, 0, argc, argv))
        goto out;
    const char *out = cf_cfg_str(run.cfg, "out");
    if (!out) {
        run.exit_code = cf_cli_usage_error(run.prog, "--out FILE is required");
        goto out;
    }
    if (!s_body(&run, &pass, &body) || !cf_cli_open_run(&run))
        goto out;
    run.exit_code = cf_cli_fetch_secret(run.prog, "cannot make the package", run.client, "POST",
                                        "/packages", body, &answer);
    if (run.exit_code == CF_EXIT_OK && s_write(&run, out, answer))
        s_print(&run, out, answer);
out:
    json_decref(body); /* jansson wipes as it frees (cf_cli_api_wipe_json) */
    json_decref(answer);
    cf_mem_free_secret_str(pass);
    return cf_cli_end(&run);
}

int cf_cli_package(int argc, char **argv)
{
    static const cf_cli_cmd_t cmds[] = {
        {"create", "--out FILE [--with-cert] [--token-uses N]: the agent install package",
         s_create},
    };
    return cf_cli_dispatch("cf-console package", "Agent install packages.\n" CF_EXIT_HELP, cmds,
                           S_N(cmds), argc, argv);
}
