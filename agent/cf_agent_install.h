/*  cf_agent_install - cf-agent install: a bundle (the install package) becomes the agent's
    state directory, all at once or not at all; and what the agent commands share
    (options, the PKCS#12 password)  */
#ifndef CF_AGENT_INSTALL_H_INCLUDED
#define CF_AGENT_INSTALL_H_INCLUDED

#include "cf_agent_bundle.h"
#include "cf_cfg.h"
#include "cf_err.h"

#define CF_AGENT_PASS_ENV "PKCS12_PASS" /* the seed's msiexec property, as a variable */
/* Exit codes: CF_AGENT_EXIT_OK, _FAIL, _USAGE of cf_agent_run.h (no password source is a
   usage error). */

/* The --state-dir option every agent command has. */
#define CF_AGENT_STATE_DIR_OPTION                                                      \
    {                                                                                  \
        "state-dir", 0, CF_CFG_PATH, "DIR", "the agent's state directory (mode 0700)", \
            CF_AGENT_STATE_DIR_DEFAULT, 0, 0, NULL                                     \
    }

/* Parse a command's options (argv[0] is the command's name); --help prints the usage
   and about. Returns the cfg (caller destroys) or NULL with *exit_out set: CF_AGENT_EXIT_OK
   after --help, CF_AGENT_EXIT_USAGE after printing the error, CF_AGENT_EXIT_FAIL when out
   of memory. Positional arguments are refused. */
cf_cfg_t *cf_agent_cmd_options(const char *prog, const char *synopsis, const char *about,
                               const cf_cfg_opt_t *opts, size_t n, int argc, char **argv,
                               int *exit_out);

/* The PKCS#12 password: from file when given (a file group/others cannot read), else
   $PKCS12_PASS when set, else a prompt on the terminal with echo off. *out is freed with
   cf_mem_free_secret_str. Errors: CF_ERR_NOTFOUND (no file, no variable, no terminal),
   CF_ERR_INVALID (empty, over CF_P12_MAX_PASSWORD bytes, a control character: the seed
   allows printable ASCII only), those of cf_cfg_read_secret_file; why says which. */
CF_MUST_USE cf_err_t cf_agent_password(const char *file, char **out, cf_why_t *why);

/* Install bundle b into state_dir as agent id (NULL: cf_agent_default_id): the PKCS#12
   (when b has one) is opened with password first, so a wrong password (CF_ERR_BADPASS)
   changes nothing; then a temporary directory <state_dir>.install.<pid> (0700) next to
   state_dir gets agent.json (0600), ca.pem (0644), a new CURVE keypair (curve.key 0644,
   curve.key_secret 0600), cert.pem + key.pem (0600; the bundle's shared certificate,
   whose key must match and which must chain to the bundle's CA) and token (0600), is
   fsynced and renamed to state_dir in one step. state_dir must not exist or be an empty
   directory (CF_ERR_EXISTS otherwise: remove it to reinstall); its parent is made (0755)
   when missing. On any failure nothing is left behind. Errors: CF_ERR_BADPASS (wrong or
   missing password), CF_ERR_INVALID (id), CF_ERR_EXISTS, CF_ERR_IO, the import errors of
   cf_import_p12 (CF_ERR_CORRUPT, CF_ERR_EXPIRED, CF_ERR_UNTRUSTED, ...), CF_ERR_NOMEM;
   why says which. */
CF_MUST_USE cf_err_t cf_agent_install(const cf_agent_bundle_t *b, const char *state_dir,
                                      const char *id, const char *password, cf_why_t *why);

/* `cf-agent install --bundle FILE [--state-dir D] [--password-file F] [--id ID]` (argv[0]
   is "install"): loads the bundle, gets the password when it carries a PKCS#12
   (cf_agent_password), runs cf_agent_install and says what it did. Returns
   CF_AGENT_EXIT_OK, CF_AGENT_EXIT_FAIL, or CF_AGENT_EXIT_USAGE (bad options, an id that
   is not one, no password source). */
int cf_agent_install_cmd(int argc, char **argv);

#endif
