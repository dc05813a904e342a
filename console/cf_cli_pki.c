/*  cf_cli_pki - `cf-console pki ...`: create a CA, issue, CSRs, CRLs  */
#include "cf_cli_pki.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cf_cli.h"
#include "cf_csr.h"
#include "cf_file.h"
#include "cf_issue.h"
#include "cf_mem.h"

#define PROG "cf-console pki"

static const char *const s_key_types[] = {"p256",    "p384",    "rsa2048", "rsa3072",
                                          "rsa4096", "ed25519", NULL};
static const char *const s_components[] = {"server", "console", "agent", NULL};

#define OPT_KEY_TYPE                                                                   \
    {                                                                                  \
        "key-type", 0, CF_CFG_ENUM, "TYPE", "key algorithm", "p256", 0, 0, s_key_types \
    }
#define OPT_CA                                                                                   \
    {                                                                                            \
        "ca", 0, CF_CFG_PATH, "DIR", "CA directory (ca.pem, ca.key) made by create-ca", NULL, 0, \
            0, NULL                                                                              \
    }
#define OPT_CA_PASS                                                                              \
    {                                                                                            \
        "ca-password-file", 0, CF_CFG_PATH, "FILE",                                              \
            "password of an encrypted ca.key (else $CF_CA_PASSWORD, else a prompt)", NULL, 0, 0, \
            NULL                                                                                 \
    }
#define OPT_KEY_PASS                                                                            \
    {                                                                                           \
        "key-password-file", 0, CF_CFG_PATH, "FILE",                                            \
            "encrypt the written private key with this password (AES-256, PBKDF2)", NULL, 0, 0, \
            NULL                                                                                \
    }

/* Write a private key as PKCS#8 PEM, encrypted when password_file is given. */
static cf_err_t s_write_key(const char *path, const cf_key_t *key, const char *password_file,
                            int exclusive, cf_why_t *why)
{
    char *password = NULL, *pem = NULL;
    size_t len = 0;
    cf_err_t rc = CF_OK;
    if (password_file)
        rc = cf_cfg_read_secret_file(password_file, CF_CLI_MAX_PASSWORD, 0, &password, why);
    if (rc == CF_OK)
        rc = cf_key_to_pem(key, password, &pem, &len);
    if (rc == CF_OK && exclusive)
        rc = cf_file_write_new(path, pem, len, 0600, why);
    else if (rc == CF_OK)
        rc = cf_file_write_atomic(path, pem, len, 0600, why);
    if (rc == CF_OK)
        printf("wrote %s (private key, mode 0600%s)\n", path,
               password ? ", encrypted" : ", NOT encrypted: give --key-password-file");
    cf_mem_free_secret(pem, len);
    cf_mem_free_secret_str(password);
    return rc;
}

static cf_err_t s_write_cert(const char *path, const cf_cert_t *cert, const cf_cert_t *ca,
                             cf_why_t *why)
{
    char *pem = NULL, *ca_pem = NULL;
    size_t len = 0, ca_len = 0;
    cf_err_t rc = cf_cert_to_pem(cert, &pem, &len);
    if (rc == CF_OK && ca)
        rc = cf_cert_to_pem(ca, &ca_pem, &ca_len);
    if (rc == CF_OK && ca_pem) {
        char *both = cf_mem_malloc(len + ca_len + 1);
        rc = both ? CF_OK : CF_ERR_NOMEM;
        if (both) {
            memcpy(both, pem, len);
            memcpy(both + len, ca_pem, ca_len + 1);
            cf_mem_free(pem);
            pem = both;
            len += ca_len;
        }
    }
    if (rc == CF_OK)
        rc = cf_cli_write(path, pem, len, 0644, why);
    cf_mem_free(pem);
    cf_mem_free(ca_pem);
    return rc;
}

cf_err_t cf_cli_pki_load_ca(const char *dir, const char *password_file, cf_ca_t **ca_out,
                            cf_why_t *why)
{
    char path[4200];
    char *cert_pem = NULL, *key_pem = NULL, *password = NULL;
    size_t cert_len = 0, key_len = 0;
    cf_cert_t *cert = NULL;
    cf_key_t *key = NULL;
    snprintf(path, sizeof(path), "%s/ca.pem", dir);
    cf_err_t rc = cf_file_read(path, CF_CERT_MAX_INPUT, &cert_pem, &cert_len, why);
    if (rc == CF_OK && (rc = cf_cert_parse(cert_pem, cert_len, &cert)) != CF_OK)
        cf_why(why, rc, "%s: %s", path, cf_err_str(rc));
    snprintf(path, sizeof(path), "%s/ca.key", dir);
    if (rc == CF_OK)
        rc = cf_file_read(path, CF_KEY_MAX_INPUT, &key_pem, &key_len, why);
    if (rc == CF_OK) {
        rc = cf_key_from_pem(key_pem, key_len, NULL, &key);
        if (rc == CF_ERR_BADPASS) {
            rc = cf_cli_password(password_file, "CF_CA_PASSWORD", "CA key password: ", 0, &password,
                                 why);
            if (rc == CF_OK)
                rc = cf_key_from_pem(key_pem, key_len, password, &key);
        }
        if (rc != CF_OK && !why->text[0])
            cf_why(why, rc, "%s: %s", path, cf_err_str(rc));
    }
    if (rc == CF_OK && (rc = cf_ca_load(cert, key, ca_out)) != CF_OK)
        cf_why(why, rc, "%s: %s", dir, cf_err_str(rc));
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
    cf_mem_free(cert_pem);
    cf_mem_free_secret(key_pem, key_len);
    cf_mem_free_secret_str(password);
    return rc;
}

static int s_create_ca(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {
        {"out", 'o', CF_CFG_PATH, "DIR", "directory for ca.pem and ca.key (created)", NULL, 0, 0,
         NULL},
        OPT_KEY_TYPE,
        {"days", 0, CF_CFG_INT, "N", "lifetime in days", "3650", 1, CF_CA_MAX_CA_DAYS, NULL},
        {"name", 0, CF_CFG_STRING, "CN", "the CA's common name", CF_CA_DEFAULT_NAME, 0, 0, NULL},
        OPT_KEY_PASS,
    };
    int exit_code = CF_EXIT_OK;
    cf_cfg_t *cfg = cf_cli_options(PROG " create-ca", "--out DIR [OPTIONS]",
                                   "Create an internal CA: a key and a self-signed certificate.",
                                   opts, sizeof(opts) / sizeof(opts[0]), argc, argv, &exit_code);
    if (!cfg)
        return exit_code;
    const char *out = cf_cfg_str(cfg, "out");
    cf_ca_t *ca = NULL;
    cf_why_t why = {""};
    char path[4200];
    cf_key_type_t type = CF_KEY_P256;
    cf_err_t rc = CF_OK;
    if (!out) {
        exit_code = cf_cli_usage_error(PROG " create-ca", "--out DIR is required");
        goto out;
    }
    rc = cf_key_type_from_name(cf_cfg_str(cfg, "key-type"), &type);
    cf_ca_opts_t ca_opts = {type, cf_cfg_str(cfg, "name"), (unsigned) cf_cfg_int(cfg, "days"), 0};
    if (rc == CF_OK)
        rc = cf_file_mkdirs(out, 0700, &why);
    if (rc == CF_OK && (rc = cf_ca_create(&ca_opts, &ca)) != CF_OK)
        cf_why(&why, rc, "%s", cf_err_str(rc));
    snprintf(path, sizeof(path), "%s/ca.key", out);
    if (rc == CF_OK)
        rc = s_write_key(path, cf_ca_key(ca), cf_cfg_str(cfg, "key-password-file"), 1, &why);
    snprintf(path, sizeof(path), "%s/ca.pem", out);
    if (rc == CF_OK)
        rc = s_write_cert(path, cf_ca_cert(ca), NULL, &why);
    if (rc != CF_OK) {
        exit_code = cf_cli_fail(PROG " create-ca", rc, &why, "cannot create the CA in %s", out);
        goto out;
    }
    printf("CA \"%s\" %s, fingerprint %s\n", cf_cert_common_name(cf_ca_cert(ca)),
           cf_cert_key_name(cf_ca_cert(ca)), cf_cert_fingerprint(cf_ca_cert(ca)));
out:
    cf_ca_destroy(&ca);
    cf_cfg_destroy(&cfg);
    return exit_code;
}

/* A file name from a certificate name: letters, digits, '.', '-' and '_' kept. */
static void s_basename(const char *name, char *buf, size_t len)
{
    size_t i = 0;
    for (; name[i] && i + 1 < len; i++) {
        char c = name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '-' || c == '_';
        buf[i] = ok ? c : '_';
    }
    buf[i] = '\0';
}

static cf_err_t s_issue_write(cf_cfg_t *cfg, cf_ca_t *ca, cf_issue_t *req, cf_why_t *why)
{
    cf_cert_t *cert = NULL;
    cf_key_t *key = NULL;
    char base[128], path[4400];
    const char *out = cf_cfg_str(cfg, "out");
    cf_err_t rc = cf_ca_issue(ca, req, &cert, &key);
    if (rc != CF_OK)
        return cf_why(why, rc, "%s", cf_err_str(rc));
    s_basename(req->shared_agent ? "agent-shared" : req->name, base, sizeof(base));
    rc = cf_file_mkdirs(out, 0700, why);
    snprintf(path, sizeof(path), "%s/%s.key", out, base);
    if (rc == CF_OK)
        rc = s_write_key(path, key, cf_cfg_str(cfg, "key-password-file"), 0, why);
    snprintf(path, sizeof(path), "%s/%s.pem", out, base);
    if (rc == CF_OK)
        rc = s_write_cert(path, cert, NULL, why);
    snprintf(path, sizeof(path), "%s/%s-chain.pem", out, base);
    if (rc == CF_OK)
        rc = s_write_cert(path, cert, cf_ca_cert(ca), why);
    if (rc == CF_OK)
        printf("%s certificate \"%s\" %s, serial %s, fingerprint %s\n",
               cf_component_name(req->component), cf_cert_common_name(cert), cf_cert_key_name(cert),
               cf_cert_serial(cert), cf_cert_fingerprint(cert));
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
    return rc;
}

static int s_issue(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {
        OPT_CA,
        OPT_CA_PASS,
        {"component", 0, CF_CFG_ENUM, "C", "what the certificate is for", NULL, 0, 0, s_components},
        {"name", 'n', CF_CFG_STRING, "NAME",
         "server alias (DNS name or IP), console name, or agent id", NULL, 0, 0, NULL},
        {"dns", 0, CF_CFG_LIST, "NAME", "server: another DNS name for the SAN (repeatable)", NULL,
         0, CF_ISSUE_MAX_SANS, NULL},
        {"ip", 0, CF_CFG_LIST, "ADDR", "server: an IPv4/IPv6 address for the SAN (repeatable)",
         NULL, 0, CF_ISSUE_MAX_SANS, NULL},
        {"shared-agent", 0, CF_CFG_BOOL, NULL,
         "agent: one certificate shared by every agent (the seed's compatibility mode)", "false", 0,
         0, NULL},
        OPT_KEY_TYPE,
        {"days", 0, CF_CFG_INT, "N", "lifetime in days", "365", 1, CF_ISSUE_MAX_DAYS, NULL},
        OPT_KEY_PASS,
        {"out", 'o', CF_CFG_PATH, "DIR", "where NAME.pem, NAME.key and NAME-chain.pem go", ".", 0,
         0, NULL},
    };
    int exit_code = CF_EXIT_OK;
    cf_cfg_t *cfg = cf_cli_options(
        PROG " issue", "--ca DIR --component server|console|agent --name NAME [OPTIONS]",
        "Issue a component certificate and its key from the CA.", opts,
        sizeof(opts) / sizeof(opts[0]), argc, argv, &exit_code);
    if (!cfg)
        return exit_code;
    cf_ca_t *ca = NULL;
    cf_why_t why = {""};
    cf_issue_t req = {0};
    size_t n_dns = 0, n_ips = 0;
    const char *comp = cf_cfg_str(cfg, "component");
    req.name = cf_cfg_str(cfg, "name");
    req.shared_agent = cf_cfg_bool(cfg, "shared-agent");
    if (!cf_cfg_str(cfg, "ca") || !comp || (!req.name && !req.shared_agent)) {
        exit_code = cf_cli_usage_error(PROG " issue", "--ca, --component and --name are required");
        goto out;
    }
    cf_err_t rc = cf_component_from_name(comp, &req.component);
    if (rc == CF_OK)
        rc = cf_key_type_from_name(cf_cfg_str(cfg, "key-type"), &req.key_type);
    req.dns = cf_cfg_list(cfg, "dns", &n_dns);
    req.ips = cf_cfg_list(cfg, "ip", &n_ips);
    req.n_dns = n_dns;
    req.n_ips = n_ips;
    req.days = (unsigned) cf_cfg_int(cfg, "days");
    if (rc == CF_OK)
        rc = cf_cli_pki_load_ca(cf_cfg_str(cfg, "ca"), cf_cfg_str(cfg, "ca-password-file"), &ca,
                                &why);
    if (rc == CF_OK)
        rc = s_issue_write(cfg, ca, &req, &why);
    if (rc != CF_OK)
        exit_code = cf_cli_fail(PROG " issue", rc, &why, "cannot issue the %s certificate", comp);
out:
    cf_ca_destroy(&ca);
    cf_cfg_destroy(&cfg);
    return exit_code;
}

static int s_csr(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {
        {"agent", 'a', CF_CFG_STRING, "ID", "agent id: [a-z0-9][a-z0-9._-]{0,62}", NULL, 0, 0,
         NULL},
        OPT_KEY_TYPE,
        OPT_KEY_PASS,
        {"out", 'o', CF_CFG_PATH, "DIR", "where ID.key and ID.csr go", ".", 0, 0, NULL},
    };
    int exit_code = CF_EXIT_OK;
    cf_cfg_t *cfg = cf_cli_options(
        PROG " csr", "--agent ID [OPTIONS]",
        "Make a key and a certificate request as an agent does (the key never leaves it).", opts,
        sizeof(opts) / sizeof(opts[0]), argc, argv, &exit_code);
    if (!cfg)
        return exit_code;
    const char *id = cf_cfg_str(cfg, "agent");
    const char *out = cf_cfg_str(cfg, "out");
    cf_why_t why = {""};
    cf_key_t *key = NULL;
    char *pem = NULL, path[4200];
    cf_key_type_t type = CF_KEY_P256;
    if (!id) {
        exit_code = cf_cli_usage_error(PROG " csr", "--agent ID is required");
        goto out;
    }
    cf_err_t rc = cf_issue_check_agent_id(id);
    if (rc != CF_OK)
        cf_why(&why, rc, "'%s' is not an agent id ([a-z0-9][a-z0-9._-]{0,62})", id);
    if (rc == CF_OK)
        rc = cf_key_type_from_name(cf_cfg_str(cfg, "key-type"), &type);
    if (rc == CF_OK)
        rc = cf_key_generate(type, &key);
    if (rc == CF_OK)
        rc = cf_csr_create(key, id, &pem);
    if (rc == CF_OK)
        rc = cf_file_mkdirs(out, 0700, &why);
    snprintf(path, sizeof(path), "%s/%s.key", out, id);
    if (rc == CF_OK)
        rc = s_write_key(path, key, cf_cfg_str(cfg, "key-password-file"), 0, &why);
    snprintf(path, sizeof(path), "%s/%s.csr", out, id);
    if (rc == CF_OK)
        rc = cf_cli_write(path, pem, strlen(pem), 0644, &why);
    if (rc != CF_OK)
        exit_code = cf_cli_fail(PROG " csr", rc, &why, "cannot make the request");
out:
    cf_mem_free(pem);
    cf_key_destroy(&key);
    cf_cfg_destroy(&cfg);
    return exit_code;
}

static int s_sign_csr(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {
        OPT_CA,
        OPT_CA_PASS,
        {"csr", 0, CF_CFG_PATH, "FILE", "the request (PEM or DER)", NULL, 0, 0, NULL},
        {"agent", 'a', CF_CFG_STRING, "ID",
         "the agent id the request must name (or the console name with --component console)", NULL,
         0, 0, NULL},
        {"component", 0, CF_CFG_ENUM, "C", "agent or console", "agent", 0, 0, s_components},
        {"days", 0, CF_CFG_INT, "N", "lifetime in days", "90", 1, CF_ISSUE_MAX_DAYS, NULL},
        {"max-days", 0, CF_CFG_INT, "N", "policy cap on the lifetime", "397", 1, CF_ISSUE_MAX_DAYS,
         NULL},
        {"out", 'o', CF_CFG_PATH, "FILE", "the certificate to write (PEM)", NULL, 0, 0, NULL},
    };
    int exit_code = CF_EXIT_OK;
    cf_cfg_t *cfg = cf_cli_options(
        PROG " sign-csr", "--ca DIR --csr FILE --agent ID --out FILE [OPTIONS]",
        "Sign a certificate request under the CA's policy: allowed keys, the expected name,\n"
        "never CA:TRUE, a lifetime cap. A refusal says why.",
        opts, sizeof(opts) / sizeof(opts[0]), argc, argv, &exit_code);
    if (!cfg)
        return exit_code;
    const char *csr_path = cf_cfg_str(cfg, "csr"), *who = cf_cfg_str(cfg, "agent");
    const char *out = cf_cfg_str(cfg, "out");
    cf_ca_t *ca = NULL;
    cf_cert_t *cert = NULL;
    char *csr = NULL;
    size_t len = 0;
    cf_why_t why = {""};
    if (!cf_cfg_str(cfg, "ca") || !csr_path || !who || !out) {
        exit_code = cf_cli_usage_error(PROG " sign-csr", "--ca, --csr, --agent and --out are "
                                                         "required");
        goto out;
    }
    cf_ca_policy_t policy = {0, (unsigned) cf_cfg_int(cfg, "days"),
                             (unsigned) cf_cfg_int(cfg, "max-days"), CF_COMPONENT_AGENT};
    cf_err_t rc = cf_component_from_name(cf_cfg_str(cfg, "component"), &policy.component);
    if (rc == CF_OK && policy.component == CF_COMPONENT_SERVER)
        rc = cf_why(&why, CF_ERR_POLICY, "server certificates are issued, not signed from CSRs");
    if (rc == CF_OK)
        rc = cf_file_read(csr_path, CF_CSR_MAX_INPUT, &csr, &len, &why);
    if (rc == CF_OK)
        rc = cf_cli_pki_load_ca(cf_cfg_str(cfg, "ca"), cf_cfg_str(cfg, "ca-password-file"), &ca,
                                &why);
    if (rc == CF_OK)
        rc = cf_ca_sign_csr(ca, csr, len, &policy, who, 0, &cert, &why);
    if (rc == CF_OK)
        rc = s_write_cert(out, cert, NULL, &why);
    if (rc != CF_OK) {
        exit_code = cf_cli_fail(PROG " sign-csr", rc, &why, "refused %s", csr_path);
        goto out;
    }
    printf("signed \"%s\", serial %s, fingerprint %s\n", cf_cert_common_name(cert),
           cf_cert_serial(cert), cf_cert_fingerprint(cert));
out:
    cf_cert_destroy(&cert);
    cf_ca_destroy(&ca);
    cf_mem_free(csr);
    cf_cfg_destroy(&cfg);
    return exit_code;
}

static int s_crl(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {
        OPT_CA,
        OPT_CA_PASS,
        {"serial", 's', CF_CFG_LIST, "HEX", "a revoked serial", NULL, 0, 4096, NULL},
        {"days", 0, CF_CFG_INT, "N", "nextUpdate this many days from now", "7", 1, 366, NULL},
        {"out", 'o', CF_CFG_PATH, "FILE", "the CRL to write (PEM)", NULL, 0, 0, NULL},
    };
    int exit_code = CF_EXIT_OK;
    cf_cfg_t *cfg = cf_cli_options(PROG " crl", "--ca DIR --out FILE [--serial HEX]...",
                                   "Build and sign a CRL listing the revoked serials.", opts,
                                   sizeof(opts) / sizeof(opts[0]), argc, argv, &exit_code);
    if (!cfg)
        return exit_code;
    cf_ca_t *ca = NULL;
    char *pem = NULL;
    cf_why_t why = {""};
    size_t n = 0;
    const char *const *serials = cf_cfg_list(cfg, "serial", &n);
    if (!cf_cfg_str(cfg, "ca") || !cf_cfg_str(cfg, "out")) {
        exit_code = cf_cli_usage_error(PROG " crl", "--ca and --out are required");
        goto out;
    }
    time_t now = time(NULL);
    cf_err_t rc =
        cf_cli_pki_load_ca(cf_cfg_str(cfg, "ca"), cf_cfg_str(cfg, "ca-password-file"), &ca, &why);
    if (rc == CF_OK &&
        (rc = cf_ca_crl(ca, serials, n, now, now + cf_cfg_int(cfg, "days") * 86400, &pem)) != CF_OK)
        cf_why(&why, rc, "%s", cf_err_str(rc));
    if (rc == CF_OK)
        rc = cf_cli_write(cf_cfg_str(cfg, "out"), pem, strlen(pem), 0644, &why);
    if (rc != CF_OK)
        exit_code = cf_cli_fail(PROG " crl", rc, &why, "cannot build the CRL");
    else
        printf("CRL with %zu revoked serial%s, next update in %lld days\n", n, n == 1 ? "" : "s",
               cf_cfg_int(cfg, "days"));
out:
    cf_mem_free(pem);
    cf_ca_destroy(&ca);
    cf_cfg_destroy(&cfg);
    return exit_code;
}

static const cf_cli_cmd_t s_commands[] = {
    {"create-ca", "create an internal CA (P-256 by default)", s_create_ca},
    {"issue", "issue a server, console or agent certificate with its key", s_issue},
    {"csr", "make a key and a certificate request for an agent", s_csr},
    {"sign-csr", "sign a certificate request under the CA's policy", s_sign_csr},
    {"crl", "build and sign a CRL from revoked serials", s_crl},
    {"inspect", "show what a certificate, key, CSR, CRL or PKCS#12 file holds", cf_cli_pki_inspect},
    {"export-p12", "bundle a certificate and its key into a password-protected PKCS#12",
     cf_cli_pki_export_p12},
};

int cf_cli_pki(int argc, char **argv)
{
    return cf_cli_dispatch(PROG, "Offline certificate authority: works on files, no server needed.",
                           s_commands, sizeof(s_commands) / sizeof(s_commands[0]), argc, argv);
}
