/*  cf_cli_pki - `cf-console pki ...`: the offline certificate authority commands  */
#ifndef CF_CLI_PKI_H_INCLUDED
#define CF_CLI_PKI_H_INCLUDED

#include "cf_ca.h"
#include "cf_err.h"

/* Entry point of the group: argv[0] is "pki". Returns a CF_EXIT_* code. */
int cf_cli_pki(int argc, char **argv);

/* Subcommands living in cf_cli_inspect.c. */
int cf_cli_pki_inspect(int argc, char **argv);
int cf_cli_pki_export_p12(int argc, char **argv);

/* Load a CA directory (DIR/ca.pem and DIR/ca.key; the key's password from password_file,
   else $CF_CA_PASSWORD, else a prompt when the key is encrypted). *ca_out is the caller's. */
CF_MUST_USE cf_err_t cf_cli_pki_load_ca(const char *dir, const char *password_file,
                                        cf_ca_t **ca_out, cf_why_t *why);

#endif
