/*  cf_cli_inspect - `cf-console pki inspect` and `pki export-p12`  */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cf_cli.h"
#include "cf_cli_pki.h"
#include "cf_csr.h"
#include "cf_file.h"
#include "cf_import.h"
#include "cf_mem.h"
#include "cf_p12.h"

#define PROG        "cf-console pki"
#define INSPECT_MAX (256 * 1024)

typedef struct {
    cf_cfg_t *cfg;  /* the command's options, borrowed */
    cf_cert_t *ca;  /* --ca, owned, or NULL */
    X509_CRL *crl;  /* --crl, owned, or NULL */
    json_t *out;    /* --json: array of objects, owned, or NULL for text */
    time_t now;     /* the moment states are computed for */
    unsigned renew; /* --renew-days */
} s_inspect_t;

static void s_kv(const char *key, const char *value)
{
    printf("  %-13s %s\n", key, value);
}

static int s_revoked(const s_inspect_t *ins, const cf_cert_t *cert)
{
    X509_REVOKED *entry = NULL;
    return ins->crl && X509_CRL_get0_by_serial(ins->crl, &entry,
                                               X509_get0_serialNumber(cf_cert_x509(cert))) == 1;
}

static void s_cert(s_inspect_t *ins, const cf_cert_t *cert, size_t i, size_t n)
{
    char nb[40], na[40], due[40], line[600];
    cf_cert_state_t state = cf_cert_classify(cert, ins->now, 0, s_revoked(ins, cert));
    time_t renew_at = cf_cert_renew_at(cert, ins->renew);
    cf_why_t why = {""};
    const char *chain = NULL;
    cf_err_t vrc = CF_OK;
    if (ins->ca) {
        vrc = cf_cert_verify(cert, ins->ca, NULL, 0, ins->now, &why);
        chain = vrc == CF_OK ? "ok" : cf_why_text(&why, vrc);
    }
    if (ins->out) {
        json_t *sans = json_array();
        for (size_t s = 0; s < cf_cert_san_count(cert); s++)
            json_array_append_new(sans, json_string(cf_cert_san(cert, s)));
        json_t *o = json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:I, s:o}", "type",
            "certificate", "subject", cf_cert_subject(cert), "issuer", cf_cert_issuer(cert),
            "component", cf_component_name(cf_cert_component(cert)), "key", cf_cert_key_name(cert),
            "serial", cf_cert_serial(cert), "fingerprint_sha256", cf_cert_fingerprint(cert),
            "not_before", (json_int_t) cf_cert_not_before(cert), "not_after",
            (json_int_t) cf_cert_not_after(cert), "days_left",
            (json_int_t) cf_cert_days_left(cert, ins->now), "state", cf_cert_state_name(state),
            "renew_at", (json_int_t) renew_at, "san", sans);
        if (o && chain)
            json_object_set_new(o, "chain", json_string(chain));
        if (o)
            json_array_append_new(ins->out, o);
        return;
    }
    printf("certificate %zu of %zu\n", i + 1, n);
    s_kv("subject", cf_cert_subject(cert));
    s_kv("issuer", cf_cert_issuer(cert));
    s_kv("component", cf_component_name(cf_cert_component(cert)));
    s_kv("key", cf_cert_key_name(cert));
    s_kv("serial", cf_cert_serial(cert));
    s_kv("fingerprint", cf_cert_fingerprint(cert));
    snprintf(line, sizeof(line), "%s .. %s (%ld days left)",
             cf_cli_time(cf_cert_not_before(cert), nb, sizeof(nb)),
             cf_cli_time(cf_cert_not_after(cert), na, sizeof(na)),
             cf_cert_days_left(cert, ins->now));
    s_kv("valid", line);
    s_kv("state", cf_cert_state_name(state));
    snprintf(line, sizeof(line), "%s (%u days before expiry or at 2/3 of the lifetime)",
             cf_cli_time(renew_at, due, sizeof(due)), ins->renew);
    s_kv("renewal due", line);
    for (size_t s = 0; s < cf_cert_san_count(cert); s++)
        s_kv(s == 0 ? "names" : "", cf_cert_san(cert, s));
    if (chain)
        s_kv("chain", chain);
}

static int s_certs(s_inspect_t *ins, const char *buf, size_t len)
{
    cf_cert_t *certs[CF_CERT_MAX_CHAIN] = {0};
    size_t n = 0;
    cf_err_t rc = cf_cert_parse_all(buf, len, certs, CF_CERT_MAX_CHAIN, &n);
    if (rc != CF_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        s_cert(ins, certs[i], i, n);
        cf_cert_destroy(&certs[i]);
    }
    return CF_OK;
}

static cf_err_t s_csr(s_inspect_t *ins, const char *buf, size_t len, cf_why_t *why)
{
    cf_csr_t *csr = NULL;
    CF_TRY(cf_csr_parse(buf, len, &csr, why));
    X509_REQ *req = cf_csr_req(csr);
    EVP_PKEY *pub = X509_REQ_get0_pubkey(req);
    int sig_ok = pub && X509_REQ_verify(req, pub) == 1;
    ERR_clear_error();
    char keyname[64];
    char *subject = cf_cert_name_text(X509_REQ_get_subject_name(req));
    if (!subject) {
        cf_csr_destroy(&csr);
        return CF_ERR_NOMEM;
    }
    cf_key_describe_pkey(pub, keyname, sizeof(keyname));
    if (ins->out) {
        json_array_append_new(ins->out, json_pack("{s:s, s:s, s:s, s:b}", "type", "csr", "subject",
                                                  subject, "key", keyname, "signature_ok", sig_ok));
    } else {
        printf("certificate request\n");
        s_kv("subject", subject);
        s_kv("key", keyname);
        s_kv("self-signature", sig_ok ? "ok" : "BAD: the request was altered");
    }
    cf_mem_free(subject);
    cf_csr_destroy(&csr);
    return CF_OK;
}

static cf_err_t s_crl(s_inspect_t *ins, X509_CRL *crl)
{
    STACK_OF(X509_REVOKED) *revoked = X509_CRL_get_REVOKED(crl);
    int n = sk_X509_REVOKED_num(revoked);
    char tu[40] = "?", nu[40] = "?";
    char *issuer = cf_cert_name_text(X509_CRL_get_issuer(crl));
    if (!issuer)
        return CF_ERR_NOMEM;
    struct tm tm;
    if (ASN1_TIME_to_tm(X509_CRL_get0_lastUpdate(crl), &tm))
        strftime(tu, sizeof(tu), "%Y-%m-%d %H:%M:%S UTC", &tm);
    if (X509_CRL_get0_nextUpdate(crl) && ASN1_TIME_to_tm(X509_CRL_get0_nextUpdate(crl), &tm))
        strftime(nu, sizeof(nu), "%Y-%m-%d %H:%M:%S UTC", &tm);
    const char *sig = NULL;
    if (ins->ca) {
        int ok = X509_CRL_verify(crl, X509_get0_pubkey(cf_cert_x509(ins->ca))) == 1;
        ERR_clear_error();
        sig = ok ? "ok" : "BAD: not signed by this CA";
    }
    json_t *serials = json_array();
    if (!ins->out)
        printf("CRL\n");
    for (int i = 0; i < n; i++) {
        const ASN1_INTEGER *sn = X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i));
        BIGNUM *bn = ASN1_INTEGER_to_BN(sn, NULL);
        char *hex = bn ? BN_bn2hex(bn) : NULL;
        for (char *p = hex; p && *p; p++)
            *p = (char) (*p >= 'A' && *p <= 'F' ? *p + 32 : *p);
        json_array_append_new(serials, json_string(hex ? hex : "?"));
        OPENSSL_free(hex);
        BN_free(bn);
    }
    if (ins->out) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:o}", "type", "crl", "issuer", issuer,
                              "this_update", tu, "next_update", nu, "revoked", serials);
        if (o && sig)
            json_object_set_new(o, "signature", json_string(sig));
        json_array_append_new(ins->out, o);
        cf_mem_free(issuer);
        return CF_OK;
    }
    s_kv("issuer", issuer);
    cf_mem_free(issuer);
    s_kv("this update", tu);
    s_kv("next update", nu);
    if (sig)
        s_kv("signature", sig);
    char count[32];
    snprintf(count, sizeof(count), "%d", n);
    s_kv("revoked", count);
    for (size_t i = 0; i < json_array_size(serials); i++)
        s_kv("", json_string_value(json_array_get(serials, i)));
    json_decref(serials);
    return CF_OK;
}

static cf_err_t s_password(s_inspect_t *ins, const char *env, char **out, cf_why_t *why)
{
    return cf_cli_password(cf_cfg_str(ins->cfg, "password-file"), env, "Password: ", 0, out, why);
}

static cf_err_t s_key(s_inspect_t *ins, const char *buf, size_t len, cf_why_t *why)
{
    cf_key_t *key = NULL;
    char *password = NULL;
    int encrypted = 0;
    cf_err_t rc = cf_key_from_pem(buf, len, NULL, &key);
    if (rc == CF_ERR_BADPASS) {
        encrypted = 1;
        rc = s_password(ins, "CF_KEY_PASSWORD", &password, why);
        if (rc == CF_OK)
            rc = cf_key_from_pem(buf, len, password, &key);
        cf_mem_free_secret_str(password);
    }
    if (rc != CF_OK)
        return rc;
    unsigned char *spki = NULL, md[32];
    size_t spki_len = 0;
    char hex[65] = "";
    if (cf_key_public_der(key, &spki, &spki_len) == CF_OK) {
        unsigned int mdlen = 0;
        EVP_Digest(spki, spki_len, md, &mdlen, EVP_sha256(), NULL);
        for (unsigned i = 0; i < mdlen && i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }
    cf_mem_free(spki);
    const char *type = cf_key_type_name(cf_key_type(key));
    if (ins->out) {
        json_array_append_new(ins->out,
                              json_pack("{s:s, s:s, s:b, s:s}", "type", "private-key", "key", type,
                                        "encrypted", encrypted, "public_key_sha256", hex));
    } else {
        printf("private key\n");
        s_kv("key", type);
        s_kv("encrypted", encrypted ? "yes" : "NO: anyone who reads the file has the key");
        s_kv("public sha256", hex);
    }
    cf_key_destroy(&key);
    return CF_OK;
}

static cf_err_t s_p12(s_inspect_t *ins, const char *buf, size_t len, cf_why_t *why)
{
    cf_p12_content_t content = {0};
    char *password = NULL;
    cf_err_t rc = cf_p12_parse(buf, len, NULL, 0, &content, why);
    if (rc == CF_ERR_BADPASS) {
        why->text[0] = '\0';
        rc = s_password(ins, "PKCS12_PASS", &password, why);
        if (rc == CF_OK)
            rc = cf_p12_parse(buf, len, password, 0, &content, why);
        cf_mem_free_secret_str(password);
    }
    if (rc != CF_OK)
        return rc;
    if (!ins->out) {
        printf("PKCS#12 with %s and %zu certificate%s\n",
               content.key ? cf_key_type_name(cf_key_type(content.key)) : "no private key",
               content.n_certs, content.n_certs == 1 ? "" : "s");
        if (content.key && content.n_certs)
            s_kv("key matches", cf_cert_matches_key(content.certs[0], content.key) == CF_OK
                                    ? "the first certificate"
                                    : "NOT the first certificate");
    }
    for (size_t i = 0; i < content.n_certs; i++)
        s_cert(ins, content.certs[i], i, content.n_certs);
    cf_p12_content_clear(&content);
    return CF_OK;
}

/* memmem is not POSIX: find a marker in a buffer that need not be NUL-terminated. */
static int s_has(const char *buf, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++) {
        if (buf[i] == needle[0] && memcmp(buf + i, needle, n) == 0)
            return 1;
    }
    return 0;
}

static cf_err_t s_detect(s_inspect_t *ins, const char *buf, size_t len, cf_why_t *why)
{
    int pem = s_has(buf, len, "-----BEGIN ");
    if (pem && s_has(buf, len, "CERTIFICATE REQUEST-----"))
        return s_csr(ins, buf, len, why);
    if (pem && s_has(buf, len, "-----BEGIN X509 CRL-----")) {
        BIO *bio = BIO_new_mem_buf(buf, (int) len);
        X509_CRL *crl = bio ? PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
        ERR_clear_error();
        cf_err_t rc = crl ? s_crl(ins, crl) : cf_why(why, CF_ERR_CORRUPT, "damaged CRL");
        X509_CRL_free(crl);
        return rc;
    }
    if (pem && s_has(buf, len, "-----BEGIN CERTIFICATE-----"))
        return s_certs(ins, buf, len);
    if (pem && s_has(buf, len, "PRIVATE KEY-----"))
        return s_key(ins, buf, len, why);
    if (pem)
        return cf_why(why, CF_ERR_UNSUPPORTED, "a PEM file of a kind this tool does not read");
    /* DER: a certificate, a request, a CRL or a PKCS#12, in that order */
    if (s_certs(ins, buf, len) == CF_OK)
        return CF_OK;
    cf_csr_t *csr = NULL;
    if (cf_csr_parse(buf, len, &csr, NULL) == CF_OK) {
        cf_csr_destroy(&csr);
        return s_csr(ins, buf, len, why);
    }
    const unsigned char *p = (const unsigned char *) buf;
    X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long) len);
    ERR_clear_error();
    if (crl && p == (const unsigned char *) buf + len) {
        cf_err_t rc = s_crl(ins, crl);
        X509_CRL_free(crl);
        return rc;
    }
    X509_CRL_free(crl);
    return s_p12(ins, buf, len, why);
}

static cf_err_t s_load_extras(s_inspect_t *ins, cf_why_t *why)
{
    char *buf = NULL;
    size_t len = 0;
    const char *ca = cf_cfg_str(ins->cfg, "ca"), *crl = cf_cfg_str(ins->cfg, "crl");
    cf_err_t rc = CF_OK;
    if (ca && (rc = cf_file_read(ca, CF_CERT_MAX_INPUT, &buf, &len, why)) == CF_OK &&
        (rc = cf_cert_parse(buf, len, &ins->ca)) != CF_OK)
        cf_why(why, rc, "%s: %s", ca, cf_err_str(rc));
    cf_mem_free(buf);
    buf = NULL;
    if (rc == CF_OK && crl && (rc = cf_file_read(crl, INSPECT_MAX, &buf, &len, why)) == CF_OK) {
        BIO *bio = BIO_new_mem_buf(buf, (int) len);
        ins->crl = bio ? PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
        ERR_clear_error();
        if (!ins->crl)
            rc = cf_why(why, CF_ERR_CORRUPT, "%s: not a PEM CRL", crl);
    }
    cf_mem_free(buf);
    return rc;
}

int cf_cli_pki_inspect(int argc, char **argv)
{
    static const cf_cfg_opt_t opts[] = {
        {"ca", 0, CF_CFG_PATH, "FILE", "CA certificate to verify the chain against", NULL, 0, 0,
         NULL},
        {"crl", 0, CF_CFG_PATH, "FILE", "CRL (PEM) to check revocation against", NULL, 0, 0, NULL},
        {"password-file", 0, CF_CFG_PATH, "FILE",
         "password of a PKCS#12 or encrypted key (else $PKCS12_PASS / $CF_KEY_PASSWORD, else a "
         "prompt)",
         NULL, 0, 0, NULL},
        {"renew-days", 0, CF_CFG_INT, "N", "renew N days before expiry (or at 2/3 of life)", "30",
         0, 3650, NULL},
        {"json", 0, CF_CFG_BOOL, NULL, "print JSON for scripts", "false", 0, 0, NULL},
    };
    int exit_code = CF_EXIT_OK;
    cf_cfg_t *cfg = cf_cli_options(
        PROG " inspect", "FILE [OPTIONS]",
        "Show a certificate (or chain), private key, CSR, CRL or PKCS#12: type, subject,\n"
        "names, serial, SHA-256 fingerprint, validity, state and when renewal is due.",
        opts, sizeof(opts) / sizeof(opts[0]), argc, argv, &exit_code);
    if (!cfg)
        return exit_code;
    int nargs = 0;
    char *const *args = cf_cfg_args(cfg, &nargs);
    s_inspect_t ins = {cfg, NULL, NULL, NULL, time(NULL), (unsigned) cf_cfg_int(cfg, "renew-days")};
    char *buf = NULL;
    size_t len = 0;
    cf_why_t why = {""};
    if (nargs != 1) {
        exit_code = cf_cli_usage_error(PROG " inspect", "give exactly one FILE");
        goto out;
    }
    if (cf_cfg_bool(cfg, "json"))
        ins.out = json_array();
    cf_err_t rc = s_load_extras(&ins, &why);
    if (rc == CF_OK)
        rc = cf_file_read(args[0], INSPECT_MAX, &buf, &len, &why);
    if (rc == CF_OK)
        rc = s_detect(&ins, buf, len, &why);
    if (rc != CF_OK) {
        exit_code = cf_cli_fail(PROG " inspect", rc, &why, "%s", args[0]);
        goto out;
    }
    if (ins.out) {
        char *text = json_dumps(ins.out, JSON_INDENT(2));
        printf("%s\n", text ? text : "[]");
        free(text);
    }
out:
    json_decref(ins.out);
    X509_CRL_free(ins.crl);
    cf_cert_destroy(&ins.ca);
    cf_mem_free_secret(buf, len);
    cf_cfg_destroy(&cfg);
    return exit_code;
}
