/*  cf_start - cf-server's start-up against Redis: --init, checks, joining  */
#include "cf_start.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cf_auth.h"
#include "cf_db_cert.h"
#include "cf_db_meta.h"
#include "cf_db_server.h"
#include "cf_db_ssl.h"
#include "cf_db_user.h"
#include "cf_file.h"
#include "cf_issue.h"
#include "cf_log.h"
#include "cf_mem.h"
#include "cf_p12.h"

#define S_INIT_TTL 600 /* seconds the --init lock lives if the process dies holding it */

static int s_is_ip(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static cf_err_t s_store_why(cf_store_t *store, cf_err_t rc, cf_why_t *why, const char *what)
{
    return cf_why(why, rc, "%s: %s", what, cf_why_text(cf_store_why(store), rc));
}

/* Issue one certificate and store it as a generated record. */
static cf_err_t s_issue_store(cf_store_t *store, const cf_seal_t *seal, cf_ca_t *ca,
                              const cf_issue_t *req, const char *name, cf_why_t *why)
{
    cf_cert_t *cert = NULL;
    cf_key_t *key = NULL;
    cf_err_t rc = cf_ca_issue(ca, req, &cert, &key);
    if (rc != CF_OK)
        return cf_why(why, rc, "cannot issue the %s certificate %s: %s",
                      cf_component_name(req->component), name, cf_err_str(rc));
    cf_db_cert_in_t in = {req->component, name, CF_DB_CERT_GENERATED, cert,
                          NULL,           key,  (int64_t) time(NULL)};
    rc = cf_db_cert_put(store, seal, &in, NULL);
    if (rc != CF_OK)
        s_store_why(store, rc, why, "cannot store the certificate");
    else
        cf_log(CF_LOG_INFO, "msg=\"certificate issued\" component=%s name=%s serial=%s fp=%s",
               cf_component_name(req->component), name, cf_cert_serial(cert),
               cf_cert_fingerprint(cert));
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
    return rc;
}

cf_err_t cf_start_issue_server(cf_store_t *store, const cf_seal_t *seal, cf_ca_t *ca,
                               const cf_start_opts_t *o, cf_why_t *why)
{
    const char *dns[CF_START_MAX_SANS + 1], *ips[CF_START_MAX_SANS + 1];
    size_t n_dns = 0, n_ips = 0;
    if (o->n_sans > CF_START_MAX_SANS)
        return cf_why(why, CF_ERR_TOOBIG, "at most %d extra names", CF_START_MAX_SANS);
    if (o->host && *o->host && strcmp(o->host, o->alias) != 0) {
        if (s_is_ip(o->host))
            ips[n_ips++] = o->host;
        else
            dns[n_dns++] = o->host;
    }
    for (size_t i = 0; i < o->n_sans; i++) {
        if (s_is_ip(o->sans[i]))
            ips[n_ips++] = o->sans[i];
        else
            dns[n_dns++] = o->sans[i];
    }
    cf_issue_t req = {.component = CF_COMPONENT_SERVER,
                      .name = o->alias,
                      .dns = dns,
                      .n_dns = n_dns,
                      .ips = ips,
                      .n_ips = n_ips,
                      .key_type = o->key_type,
                      .days = o->days,
                      .seconds = o->seconds};
    return s_issue_store(store, seal, ca, &req, o->alias, why);
}

/* ca.pem, console.p12 and (when generated) p12.pass into out_dir. */
static cf_err_t s_write_out(cf_store_t *store, const cf_seal_t *seal, const cf_ca_t *ca,
                            const char *dir, const char *p12pass, int generated, cf_why_t *why)
{
    char path[4200], *pem = NULL;
    size_t len = 0;
    unsigned char *p12 = NULL;
    size_t p12_len = 0;
    cf_db_cert_t rec = {0};
    cf_key_t *key = NULL;
    cf_cert_t *cert = NULL;
    cf_err_t rc = cf_file_mkdirs(dir, 0700, why);
    if (rc == CF_OK)
        rc = cf_cert_to_pem(cf_ca_cert(ca), &pem, &len);
    snprintf(path, sizeof(path), "%s/ca.pem", dir);
    if (rc == CF_OK)
        rc = cf_file_write_atomic(path, pem, len, 0644, why);
    if (rc == CF_OK &&
        (rc = cf_db_cert_get(store, seal, CF_COMPONENT_CONSOLE, "console", &rec, &key)) != CF_OK)
        s_store_why(store, rc, why, "the console certificate");
    if (rc == CF_OK)
        rc = cf_cert_parse(rec.cert_pem, strlen(rec.cert_pem), &cert);
    const cf_cert_t *extra[1] = {cf_ca_cert(ca)};
    if (rc == CF_OK)
        rc = cf_p12_create(key, cert, extra, 1, p12pass, "certfleet console", 0, &p12, &p12_len);
    snprintf(path, sizeof(path), "%s/console.p12", dir);
    if (rc == CF_OK)
        rc = cf_file_write_atomic(path, p12, p12_len, 0600, why);
    snprintf(path, sizeof(path), "%s/p12.pass", dir);
    if (rc == CF_OK && generated)
        rc = cf_file_write_atomic(path, p12pass, strlen(p12pass), 0600, why);
    cf_mem_free(pem);
    cf_mem_free_secret(p12, p12_len);
    cf_cert_destroy(&cert);
    cf_key_destroy(&key);
    cf_db_cert_clear(&rec);
    return rc;
}

/* The CA, the SSL defaults and the admin login. */
static cf_err_t s_init_core(cf_store_t *store, const cf_seal_t *seal, const cf_start_opts_t *o,
                            cf_ca_t **ca_out, cf_why_t *why)
{
    int64_t now = (int64_t) time(NULL);
    cf_ca_opts_t ca_opts = {o->key_type, NULL, 0, 0};
    cf_err_t rc = cf_ca_create(&ca_opts, ca_out);
    if (rc != CF_OK)
        return cf_why(why, rc, "cannot create the CA: %s", cf_err_str(rc));
    rc = cf_db_ca_create(store, seal, cf_ca_cert(*ca_out), cf_ca_key(*ca_out));
    if (rc == CF_ERR_EXISTS)
        return cf_why(why, rc,
                      "a CA is stored but no deployment record: an earlier --init "
                      "was interrupted; inspect the cf:* keys of this Redis");
    if (rc != CF_OK)
        return s_store_why(store, rc, why, "cannot store the CA");
    cf_db_ssl_t ssl;
    cf_db_ssl_defaults(&ssl);
    if ((rc = cf_db_ssl_create(store, &ssl)) != CF_OK)
        return s_store_why(store, rc, why, "cannot store the SSL configuration");
    char *hash = NULL;
    rc = cf_auth_password_check(o->admin_password, why);
    if (rc == CF_OK)
        rc = cf_auth_password_hash(o->admin_password, NULL, &hash, why);
    if (rc == CF_OK &&
        (rc = cf_db_user_create(store, "admin", CF_DB_ROLE_ADMIN, hash, now)) != CF_OK)
        s_store_why(store, rc, why, "cannot create the admin login");
    cf_mem_free_secret_str(hash);
    return rc;
}

/* The PKCS#12 password, the console and shared agent certificates, the files. */
static cf_err_t s_init_certs(cf_store_t *store, const cf_seal_t *seal, const cf_start_opts_t *o,
                             cf_ca_t *ca, cf_why_t *why)
{
    char generated[64] = "";
    const char *pass = o->p12_password;
    if (!pass) {
        cf_err_t trc = cf_auth_token_new(generated); /* 43 base64url chars of randomness */
        if (trc != CF_OK)
            return cf_why(why, trc, "no random bytes for the PKCS#12 password");
        pass = generated;
    }
    cf_err_t rc = cf_db_p12pass_set(store, seal, pass, strlen(pass));
    if (rc != CF_OK)
        s_store_why(store, rc, why, "cannot store the PKCS#12 password");
    cf_issue_t console = {.component = CF_COMPONENT_CONSOLE,
                          .name = "console",
                          .key_type = o->key_type,
                          .days = o->days,
                          .seconds = o->seconds};
    cf_issue_t shared = {.component = CF_COMPONENT_AGENT,
                         .shared_agent = 1,
                         .key_type = o->key_type,
                         .days = o->days,
                         .seconds = o->seconds};
    if (rc == CF_OK)
        rc = s_issue_store(store, seal, ca, &console, "console", why);
    if (rc == CF_OK)
        rc = s_issue_store(store, seal, ca, &shared, "shared", why);
    if (rc == CF_OK)
        rc = s_write_out(store, seal, ca, o->out_dir, pass, generated[0] != '\0', why);
    cf_mem_wipe(generated, sizeof(generated));
    return rc;
}

cf_err_t cf_start_init(cf_store_t *store, const cf_seal_t *seal, const cf_start_opts_t *o,
                       const char *instance, cf_why_t *why)
{
    if (!store || !seal || !o || !o->out_dir || !o->admin_password || !instance)
        return CF_ERR_INVALID;
    int got = 0;
    char holder[CF_DB_OWNER_MAX + 1] = "";
    cf_err_t rc = cf_db_init_lock(store, instance, S_INIT_TTL, &got, holder);
    if (rc != CF_OK)
        return s_store_why(store, rc, why, "cannot take the --init lock");
    if (!got)
        return cf_why(why, CF_ERR_EXISTS, "another cf-server --init is running (%s)", holder);
    cf_db_secret_t verdict = CF_DB_SECRET_NO_DEPLOYMENT;
    cf_ca_t *ca = NULL;
    rc = cf_db_meta_check_secret(store, seal, &verdict);
    if (rc == CF_OK && verdict != CF_DB_SECRET_NO_DEPLOYMENT)
        rc = cf_why(why, CF_ERR_EXISTS,
                    "this Redis already holds a certfleet deployment; "
                    "start without --init to join it");
    if (rc == CF_OK)
        rc = s_init_core(store, seal, o, &ca, why);
    if (rc == CF_OK)
        rc = s_init_certs(store, seal, o, ca, why);
    if (rc == CF_OK)
        rc = cf_start_issue_server(store, seal, ca, o, why);
    /* the deployment record (with the canary) last: it marks the deployment complete */
    if (rc == CF_OK && (rc = cf_db_meta_create(store, seal, (int64_t) time(NULL))) != CF_OK)
        s_store_why(store, rc, why, "cannot store the deployment record");
    if (rc == CF_OK)
        cf_log(CF_LOG_INFO, "msg=\"deployment created\" ca_fp=%s out=%s",
               cf_cert_fingerprint(cf_ca_cert(ca)), o->out_dir);
    cf_ca_destroy(&ca);
    cf_err_t urc = cf_db_init_unlock(store, instance);
    if (urc != CF_OK)
        cf_log(CF_LOG_WARN, "msg=\"cannot release the --init lock; it expires in %d s\"",
               S_INIT_TTL);
    return rc;
}

cf_err_t cf_start_check(cf_store_t *store, const cf_seal_t *seal, cf_why_t *why)
{
    cf_db_secret_t verdict = CF_DB_SECRET_NO_DEPLOYMENT;
    cf_err_t rc = cf_db_meta_check_secret(store, seal, &verdict);
    if (rc != CF_OK)
        return s_store_why(store, rc, why, "cannot read the deployment record");
    switch (verdict) {
    case CF_DB_SECRET_OK: return CF_OK;
    case CF_DB_SECRET_NO_DEPLOYMENT:
        return cf_why(why, CF_ERR_NOTFOUND,
                      "this Redis holds no certfleet deployment (no CA): run cf-server --init "
                      "once to create one, or check --redis and the database");
    case CF_DB_SECRET_WRONG:
    default:
        return cf_why(why, CF_ERR_SECRET,
                      "the secret file does not open this deployment's keys: every server of "
                      "a deployment needs the same secret file");
    }
}

/* Create the record from the options if Redis has none; the stored one wins otherwise. */
static cf_err_t s_join_record(cf_store_t *store, const cf_start_opts_t *o, cf_why_t *why)
{
    cf_db_server_t rec = {0};
    cf_err_t rc = cf_db_server_get(store, o->alias, &rec);
    if (rc == CF_OK) {
        cf_log(CF_LOG_INFO,
               "msg=\"server record found; it wins over the flags\" alias=%s host=%s port=%d "
               "priority=%d ranges=\"%s\"",
               rec.alias, rec.host, rec.port, rec.priority, rec.ip_ranges ? rec.ip_ranges : "");
        cf_db_server_clear(&rec);
        return CF_OK;
    }
    if (rc != CF_ERR_NOTFOUND)
        return s_store_why(store, rc, why, "cannot read this server's record");
    snprintf(rec.alias, sizeof(rec.alias), "%s", o->alias);
    snprintf(rec.host, sizeof(rec.host), "%s", o->host && *o->host ? o->host : o->alias);
    rec.port = o->port;
    rec.plain_port = o->plain_port;
    rec.priority = o->priority;
    rec.ip_ranges = (char *) o->ip_ranges; /* borrowed: create copies it into Redis */
    rc = cf_db_server_create(store, &rec, (int64_t) time(NULL));
    if (rc == CF_ERR_EXISTS)
        return CF_OK; /* another server with this alias created it meanwhile */
    if (rc != CF_OK)
        return s_store_why(store, rc, why, "cannot create this server's record");
    cf_log(CF_LOG_INFO, "msg=\"server record created\" alias=%s port=%d priority=%d", o->alias,
           o->port, o->priority);
    return CF_OK;
}

/* Does the certificate name name (as a DNS name or an address) among its SANs? */
static int s_covers(const cf_cert_t *cert, const char *name)
{
    char want[300];
    snprintf(want, sizeof(want), "%s:%s", s_is_ip(name) ? "IP" : "DNS", name);
    for (size_t i = 0; i < cf_cert_san_count(cert); i++) {
        if (strcasecmp(cf_cert_san(cert, i), want) == 0)
            return 1;
    }
    return 0;
}

/* Does this server need a new certificate? *need_issue = 1 when none is stored, or when the
   generated one no longer covers the alias and host; an imported one that does not cover
   them is refused (CF_ERR_POLICY): a server never advertises an alias it cannot serve. */
static cf_err_t s_check_cert(cf_store_t *store, const cf_seal_t *seal, const cf_start_opts_t *o,
                             int *need_issue, cf_why_t *why)
{
    cf_db_cert_t rec = {0};
    cf_cert_t *cert = NULL;
    cf_err_t rc = cf_db_cert_get(store, seal, CF_COMPONENT_SERVER, o->alias, &rec, NULL);
    if (rc == CF_ERR_NOTFOUND) {
        *need_issue = 1;
        return CF_OK;
    }
    if (rc != CF_OK)
        return s_store_why(store, rc, why, "cannot read this server's certificate");
    rc = cf_cert_parse(rec.cert_pem, strlen(rec.cert_pem), &cert);
    const char *host = o->host && *o->host ? o->host : o->alias;
    int covers = rc == CF_OK && s_covers(cert, o->alias) && s_covers(cert, host);
    if (rc != CF_OK)
        cf_why(why, rc, "the stored certificate of %s does not parse", o->alias);
    else if (!covers && rec.kind != CF_DB_CERT_GENERATED)
        rc = cf_why(why, CF_ERR_POLICY,
                    "the %s certificate of %s does not cover the alias and host %s: a server "
                    "never advertises an alias its certificate does not cover",
                    cf_db_cert_kind_name(rec.kind), o->alias, host);
    *need_issue = rc == CF_OK && !covers;
    cf_cert_destroy(&cert);
    cf_db_cert_clear(&rec);
    return rc;
}

cf_err_t cf_start_join(cf_store_t *store, const cf_seal_t *seal, const cf_start_opts_t *o,
                       cf_why_t *why)
{
    if (!store || !seal || !o || !o->alias)
        return CF_ERR_INVALID;
    CF_TRY(s_join_record(store, o, why));
    int need_issue = 0;
    CF_TRY(s_check_cert(store, seal, o, &need_issue, why));
    if (!need_issue)
        return CF_OK;
    cf_cert_t *ca_cert = NULL;
    cf_key_t *ca_key = NULL;
    cf_ca_t *ca = NULL;
    cf_err_t rc = cf_db_ca_get(store, seal, &ca_cert, &ca_key);
    if (rc != CF_OK)
        s_store_why(store, rc, why, "cannot read the CA");
    else if ((rc = cf_ca_load(ca_cert, ca_key, &ca)) != CF_OK)
        cf_why(why, rc, "the stored CA does not load: %s", cf_err_str(rc));
    if (rc == CF_OK)
        rc = cf_start_issue_server(store, seal, ca, o, why);
    cf_ca_destroy(&ca);
    cf_cert_destroy(&ca_cert);
    cf_key_destroy(&ca_key);
    return rc;
}
