/*  cf_relay_tls - the relay's SSL_CTX (server or client), per-connection SSL, identities  */
#include "cf_relay_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "cf_issue.h"

#define S_CIPHERS_12                                             \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
#define S_GROUPS    "X25519:P-256:P-384"
#define S_ALIAS_MAX 240 /* server alias bytes (docs/zap.md) */

static void s_free_certs(cf_cert_t **certs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cf_cert_destroy(&certs[i]);
}

static cf_err_t s_parse(const char *what, const char *pem, size_t len, cf_cert_t **certs, size_t *n,
                        cf_why_t *why)
{
    if (!pem || len == 0)
        return cf_why(why, CF_ERR_INVALID, "relay: no %s PEM given", what);
    if (len > CF_RELAY_MAX_PEM)
        return cf_why(why, CF_ERR_TOOBIG, "relay: %s: %zu bytes (at most %d)", what, len,
                      CF_RELAY_MAX_PEM);
    cf_err_t rc = cf_cert_parse_all(pem, len, certs, CF_CERT_MAX_CHAIN, n);
    return rc == CF_OK ? CF_OK : cf_why(why, rc, "relay: %s: %s", what, cf_err_str(rc));
}

/* Own certificate, chain and key. */
static cf_err_t s_identity(SSL_CTX *ctx, const cf_relay_cfg_t *cfg, cf_why_t *why)
{
    if (!cfg->key)
        return cf_why(why, CF_ERR_INVALID, "relay: no private key given");
    cf_cert_t *certs[CF_CERT_MAX_CHAIN];
    size_t n = 0;
    CF_TRY(s_parse("certificate", cfg->cert_pem, cfg->cert_len, certs, &n, why));
    cf_err_t rc = cf_cert_matches_key(certs[0], cfg->key);
    if (rc != CF_OK) {
        cf_why(why, rc, "relay: the key is not the certificate's");
        goto out;
    }
    rc = cf_why(why, CF_ERR_CRYPTO, "relay: certificate or key not accepted by OpenSSL");
    if (SSL_CTX_use_certificate(ctx, cf_cert_x509(certs[0])) != 1)
        goto out;
    for (size_t i = 1; i < n; i++)
        if (SSL_CTX_add1_chain_cert(ctx, cf_cert_x509(certs[i])) != 1)
            goto out;
    if (SSL_CTX_use_PrivateKey(ctx, cf_key_pkey(cfg->key)) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1)
        goto out;
    rc = CF_OK;
out:
    s_free_certs(certs, n);
    return rc;
}

/* The CA(s) the peer must chain to (a server also names them in its CertificateRequest). */
static cf_err_t s_ca(SSL_CTX *ctx, const cf_relay_cfg_t *cfg, cf_why_t *why)
{
    cf_cert_t *certs[CF_CERT_MAX_CHAIN];
    size_t n = 0;
    CF_TRY(s_parse("CA", cfg->ca_pem, cfg->ca_len, certs, &n, why));
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    cf_err_t rc = CF_OK;
    for (size_t i = 0; i < n && rc == CF_OK; i++) {
        if (!cf_cert_is_ca(certs[i]))
            rc =
                cf_why(why, CF_ERR_INVALID, "relay: CA: %s is not a CA", cf_cert_subject(certs[i]));
        else if (X509_STORE_add_cert(store, cf_cert_x509(certs[i])) != 1 ||
                 (cfg->mode == CF_RELAY_SERVER &&
                  SSL_CTX_add_client_CA(ctx, cf_cert_x509(certs[i])) != 1))
            rc = cf_why(why, CF_ERR_CRYPTO, "relay: CA not accepted by OpenSSL");
    }
    s_free_certs(certs, n);
    return rc;
}

static cf_err_t s_policy(SSL_CTX *ctx, cf_relay_mode_t mode, cf_why_t *why)
{
    /* no session resumption: every connection shows its certificate and meets the check */
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
        !SSL_CTX_set_cipher_list(ctx, S_CIPHERS_12) || !SSL_CTX_set1_groups_list(ctx, S_GROUPS))
        return cf_why(why, CF_ERR_CRYPTO, "relay: TLS policy rejected by OpenSSL");
    SSL_CTX_set_verify_depth(ctx, 4);
    if (mode == CF_RELAY_SERVER) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        /* agents present clientAuth certificates, servers their serverAuth ones: the chain
           is checked here, the EKU by the identity check (cf_relay_identity) */
        SSL_CTX_set_purpose(ctx, X509_PURPOSE_ANY);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL); /* purpose sslserver by default */
    }
    return CF_OK;
}

static cf_err_t s_expect(cf_relay_t *self, const cf_relay_cfg_t *cfg, cf_why_t *why)
{
    if (cfg->expect_name) {
        if (strlen(cfg->expect_name) >= sizeof(self->expect) || !cfg->expect_name[0])
            return cf_why(why, CF_ERR_INVALID, "relay: expected name too long or empty");
        snprintf(self->expect, sizeof(self->expect), "%s", cfg->expect_name);
    } else if (cf_relay_addr_host(cfg->target, self->expect, sizeof(self->expect)) != CF_OK) {
        return cf_why(why, CF_ERR_INVALID, "relay: no host in \"%s\"", cfg->target);
    }
    unsigned char buf[16];
    self->expect_ip =
        inet_pton(AF_INET, self->expect, buf) == 1 || inet_pton(AF_INET6, self->expect, buf) == 1;
    return CF_OK;
}

cf_err_t cf_relay_tls_ctx(cf_relay_t *self, const cf_relay_cfg_t *cfg, cf_why_t *why)
{
    int server = cfg->mode == CF_RELAY_SERVER;
    self->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!self->ctx)
        return CF_ERR_NOMEM;
    cf_err_t rc = s_policy(self->ctx, cfg->mode, why);
    if (rc == CF_OK)
        rc = s_identity(self->ctx, cfg, why);
    if (rc == CF_OK)
        rc = s_ca(self->ctx, cfg, why);
    if (rc == CF_OK && !server)
        rc = s_expect(self, cfg, why);
    ERR_clear_error();
    return rc;
}

SSL *cf_relay_tls_ssl(cf_relay_t *self)
{
    SSL *ssl = SSL_new(self->ctx);
    if (!ssl || self->mode == CF_RELAY_SERVER)
        return ssl;
    int ok = 1;
    if (self->expect_ip) {
        ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), self->expect) == 1;
    } else {
        ok = SSL_set1_host(ssl, self->expect) == 1 &&
             SSL_set_tlsext_host_name(ssl, self->expect) == 1;
    }
    if (!ok) {
        SSL_free(ssl);
        return NULL;
    }
    return ssl;
}

static cf_err_t s_agent_identity(const cf_cert_t *leaf, const char *id,
                                 char identity[CF_RELAY_ID_MAX + 1], cf_why_t *why)
{
    const char *cn = cf_cert_common_name(leaf);
    if (cf_issue_check_agent_id(id) != CF_OK)
        return cf_why(why, CF_ERR_POLICY, "agent URI names no valid agent id");
    if (!cf_cert_has_client_auth(leaf))
        return cf_why(why, CF_ERR_POLICY, "agent certificate without clientAuth");
    if (cn[0] && strcmp(cn, id) != 0)
        return cf_why(why, CF_ERR_POLICY, "agent certificate's CN and URI disagree");
    snprintf(identity, CF_RELAY_ID_MAX + 1, "%s", id);
    return CF_OK;
}

cf_err_t cf_relay_identity(const cf_cert_t *leaf, char identity[CF_RELAY_ID_MAX + 1], cf_why_t *why)
{
    if (!leaf || !identity)
        return CF_ERR_INVALID;
    identity[0] = '\0';
    if (cf_cert_is_ca(leaf))
        return cf_why(why, CF_ERR_POLICY, "a CA certificate names no peer");
    const char *id = cf_cert_agent_id(leaf);
    if (id)
        return s_agent_identity(leaf, id, identity, why);
    if (cf_cert_component(leaf) == CF_COMPONENT_AGENT)
        return cf_why(why, CF_ERR_POLICY, "a shared agent certificate names no agent");
    if (!cf_cert_has_server_auth(leaf))
        return cf_why(why, CF_ERR_POLICY, "neither an agent nor a server certificate");
    const char *cn = cf_cert_common_name(leaf);
    size_t n = strlen(cn);
    if (n == 0 || n > S_ALIAS_MAX)
        return cf_why(why, CF_ERR_POLICY, "server certificate without a usable CN");
    for (size_t i = 0; i < n; i++)
        if (cn[i] <= 0x20 || cn[i] >= 0x7f)
            return cf_why(why, CF_ERR_POLICY, "server certificate's CN is not an alias");
    snprintf(identity, CF_RELAY_ID_MAX + 1, "server:%s", cn);
    return CF_OK;
}
