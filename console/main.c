/*  cf-console - the operator's tool: one command group per file (cf_cli_*.c)  */
#include <stdio.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "cf_cli.h"
#include "cf_cli_api.h"
#include "cf_cli_pki.h"
#include "cf_client.h"
#include "cf_log.h"

static const char s_about[] =
    "certfleet console: runs TLS for the management servers, agents and consoles of a fleet.\n"
    "Server connection: --server URL, --ca FILE, --cert FILE.p12 (see docs/console.md), also\n"
    "from CF_CONSOLE_* variables and ~/.config/certfleet/console.conf. Commands that talk to\n"
    "a server print tables for people, or the server's JSON with --json.\n" CF_EXIT_HELP;

static const cf_cli_cmd_t s_commands[] = {
    {"pki",
     "offline certificate authority: create-ca, issue, csr, sign-csr, crl, inspect, "
     "export-p12",
     cf_cli_pki},
    {"connect", "check the connection to a server: the green, gray or red lock", cf_cli_connect},
    {"login", "log in to a server and keep the session", cf_cli_login},
    {"logout", "end the session", cf_cli_logout},
    {"whoami", "show the session's user and role", cf_cli_whoami},
    {"ssl", "SSL configuration: show, enable, disable, allow-plain, auto-renew, min-tls, insecure",
     cf_cli_ssl},
    {"cert", "certificates: generate-all, list, show, import, export, revoke", cf_cli_cert},
    {"server", "management servers: list, add, update, remove", cf_cli_server},
    {"agent", "agents and their locks: list, show, favorite, revoke, decommission", cf_cli_agent},
    {"token", "enrollment tokens: create", cf_cli_token},
    {"job", "certificate jobs for many agents: create, show, list, cancel, retry", cf_cli_job},
    {"package", "agent install packages: create", cf_cli_package},
    {"user", "console logins: list, add, remove, save-logins, audit", cf_cli_user},
    {"audit", "the audit trail of operator actions (as 'user audit')", cf_cli_audit},
};

int main(int argc, char **argv)
{
    cf_log_set_component("cf-console");
    cf_log_set_level(CF_LOG_WARN);
    cf_cli_api_wipe_json(); /* before any JSON exists: every block jansson frees is wiped */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "cf-console: libcurl failed to start\n");
        return CF_EXIT_FAIL;
    }
    int rc = cf_cli_dispatch("cf-console", s_about, s_commands,
                             sizeof(s_commands) / sizeof(s_commands[0]), argc, argv);
    fflush(stdout);
    curl_global_cleanup();
    OPENSSL_cleanup();
    return rc;
}
