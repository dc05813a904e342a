/*  cf-console - the operator's tool: one command group per file (cf_cli_*.c)  */
#include <stdio.h>

#include <openssl/crypto.h>

#include "cf_cli.h"
#include "cf_cli_pki.h"
#include "cf_log.h"

static const char s_about[] =
    "certfleet console: runs TLS for the management servers, agents and consoles of a fleet.\n"
    "Exit codes: 0 done, 1 the operation failed or was refused, 2 bad command line.";

static const cf_cli_cmd_t s_commands[] = {
    {"pki",
     "offline certificate authority: create-ca, issue, csr, sign-csr, crl, inspect, "
     "export-p12",
     cf_cli_pki},
};

int main(int argc, char **argv)
{
    cf_log_set_component("cf-console");
    cf_log_set_level(CF_LOG_WARN);
    int rc = cf_cli_dispatch("cf-console", s_about, s_commands,
                             sizeof(s_commands) / sizeof(s_commands[0]), argc, argv);
    fflush(stdout);
    OPENSSL_cleanup();
    return rc;
}
