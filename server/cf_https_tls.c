/*  cf_https_tls - SSL_CTX from PEM material: policy, client verification, revoked set, peer  */
#include "cf_https_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "cf_log.h"
#include "cf_mem.h"

/* TLS 1.2: forward secrecy (ECDHE) and AEAD only, strongest first (server preference). */
#define S_CIPHERS_12                                             \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
/* TLS 1.0/1.1 have no AEAD suite: ECDHE with CBC, and OpenSSL 3 needs security level 0 for
   their SHA-1 handshake signatures. Only when an operator lowers the minimum explicitly. */
#define S_CIPHERS_LEGACY                                                                \
    S_CIPHERS_12 ":ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA:" \
                 "ECDHE-RSA-AES128-SHA:@SECLEVEL=0"
#define S_SUITES_13  "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"
#define S_GROUPS     "X25519:P-256:P-384"
#define S_SERIAL_MAX 84            /* hex digits of a serial, with NUL (as cf_cert) */
#define S_SID_REQ    "cf-require"  /* session context when a certificate is required */
#define S_SID_OPT    "cf-optional" /* ... and when it is optional: sessions never cross */

/* The revoked serials: open addressing, lowercase hex strings, at most half full. */
typedef struct {
    char **slots; /* cap entries, NULL = empty; owned strings */
    size_t cap;   /* power of two */
    size_t n;     /* entries used */
} s_serials_t;

/* What an SSL_CTX carries beside OpenSSL's state (ex_data; freed with the context). */
typedef struct {
    s_serials_t revoked;           /* serials refused at the handshake */
    const cf_https_hooks_t *hooks; /* borrowed from the cf_https_t */
} s_material_t;

/* What one connection carries (SSL ex_data; freed with the SSL). */
typedef struct {
    cf_https_conn_hooks_t hooks;  /* the worker's hooks */
    int refused;                  /* a refusal was reported (once per handshake) */
    int peer_ready;               /* peer below is filled */
    cf_https_peer_t peer;         /* cached identity */
    cf_cert_t *cert;              /* owned: the client certificate behind peer */
    char addr[CF_HTTPS_ADDR_MAX]; /* peer.addr's storage */
} s_conn_t;

static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static int s_ctx_idx = -1; /* SSL_CTX ex_data index of s_material_t */
static int s_ssl_idx = -1; /* SSL ex_data index of s_conn_t */

static uint64_t s_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char) *s) * 1099511628211ULL;
    return h;
}

static void s_serials_free(s_serials_t *set)
{
    for (size_t i = 0; i < set->cap; i++)
        cf_mem_free(set->slots[i]);
    cf_mem_free(set->slots);
    memset(set, 0, sizeof(*set));
}

static int s_serials_has(const s_serials_t *set, const char *hex)
{
    if (set->cap == 0)
        return 0;
    for (size_t i = s_hash(hex) & (set->cap - 1);; i = (i + 1) & (set->cap - 1)) {
        if (!set->slots[i])
            return 0;
        if (strcmp(set->slots[i], hex) == 0)
            return 1;
    }
}

/* Lowercase copy of a hex serial into buf; CF_ERR_INVALID if it is not 1..82 hex digits. */
static cf_err_t s_serial_norm(const char *in, char *buf)
{
    size_t i = 0;
    for (; in && in[i]; i++) {
        if (i >= S_SERIAL_MAX - 2 || !isxdigit((unsigned char) in[i]))
            return CF_ERR_INVALID;
        buf[i] = (char) tolower((unsigned char) in[i]);
    }
    buf[i] = '\0';
    return i > 0 ? CF_OK : CF_ERR_INVALID;
}

static cf_err_t s_serials_build(s_serials_t *set, const char *const *list, size_t n, cf_why_t *why)
{
    if (n > CF_HTTPS_MAX_REVOKED)
        return cf_why(why, CF_ERR_TOOBIG, "%zu revoked serials (at most %d)", n,
                      CF_HTTPS_MAX_REVOKED);
    if (n > 0 && !list)
        return cf_why(why, CF_ERR_INVALID, "revoked: NULL list");
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    set->slots = cf_mem_calloc(cap, sizeof(char *));
    if (!set->slots)
        return CF_ERR_NOMEM;
    set->cap = cap;
    for (size_t k = 0; k < n; k++) {
        char hex[S_SERIAL_MAX];
        if (s_serial_norm(list[k], hex) != CF_OK)
            return cf_why(why, CF_ERR_INVALID, "revoked serial %zu is not hex", k);
        if (s_serials_has(set, hex))
            continue;
        size_t i = s_hash(hex) & (cap - 1);
        while (set->slots[i])
            i = (i + 1) & (cap - 1);
        set->slots[i] = cf_mem_strdup(hex);
        if (!set->slots[i])
            return CF_ERR_NOMEM;
        set->n++;
    }
    return CF_OK;
}

/* Serial of x as cf_cert_serial writes it (BN_bn2hex, lowercased). */
static cf_err_t s_serial_hex(X509 *x, char *buf)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    BN_free(bn);
    cf_err_t rc = hex ? s_serial_norm(hex, buf) : CF_ERR_NOMEM;
    OPENSSL_free(hex);
    return rc;
}

static void s_material_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                            void *argp)
{
    (void) parent, (void) ad, (void) idx, (void) argl, (void) argp;
    s_material_t *m = ptr;
    if (!m)
        return;
    s_serials_free(&m->revoked);
    cf_mem_free(m);
}

static void s_conn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void) parent, (void) ad, (void) idx, (void) argl, (void) argp;
    s_conn_t *c = ptr;
    if (!c)
        return;
    cf_cert_destroy(&c->cert);
    if (c->hooks.on_free)
        c->hooks.on_free(c->hooks.arg);
    cf_mem_free(c);
}

static void s_init_indexes(void)
{
    s_ctx_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, s_material_free);
    s_ssl_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, s_conn_free);
}

/* The peer's address of ssl's socket as text ("" when unknown). */
static void s_fd_addr(const SSL *ssl, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    buf[0] = '\0';
    int fd = SSL_get_fd(ssl);
    if (fd < 0 || getpeername(fd, (struct sockaddr *) &ss, &sl) != 0)
        return;
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *) &ss)->sin_addr, buf, (socklen_t) len);
    else if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *) &ss)->sin6_addr, buf, (socklen_t) len);
}

/* Report one refused handshake (at most once per connection) and log it. */
static void s_refuse(const SSL *ssl, cf_https_reason_t reason, X509 *x, const char *detail)
{
    s_conn_t *conn = SSL_get_ex_data(ssl, s_ssl_idx);
    const s_material_t *m = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), s_ctx_idx);
    if (!conn || conn->refused || !m)
        return;
    conn->refused = 1;
    cf_cert_t *cert = NULL;
    if (x && cf_cert_from_x509(x, &cert) != CF_OK)
        cert = NULL;
    cf_https_refusal_t r = {reason, detail ? detail : "", conn->addr, NULL, NULL,
                            NULL,   CF_COMPONENT_UNKNOWN, 0};
    s_fd_addr(ssl, conn->addr, sizeof(conn->addr));
    if (cert) {
        r.fingerprint = cf_cert_fingerprint(cert);
        r.serial = cf_cert_serial(cert);
        r.agent_id = cf_cert_agent_id(cert);
        r.component = cf_cert_component(cert);
        r.not_after = cf_cert_not_after(cert);
    }
    cf_log(CF_LOG_INFO, "tls refused reason=%s addr=%s serial=%s fp=%s detail=\"%s\"",
           cf_https_reason_name(reason), r.addr, r.serial ? r.serial : "-",
           r.fingerprint ? r.fingerprint : "-", r.detail);
    if (m->hooks && m->hooks->on_refused)
        m->hooks->on_refused(m->hooks->arg, &r);
    cf_cert_destroy(&cert);
}

static cf_https_reason_t s_reason_of(int verify_error)
{
    switch (verify_error) {
    case X509_V_ERR_CERT_HAS_EXPIRED: return CF_HTTPS_REFUSED_EXPIRED;
    case X509_V_ERR_CERT_NOT_YET_VALID: return CF_HTTPS_REFUSED_NOTYETVALID;
    case X509_V_ERR_CERT_REVOKED: return CF_HTTPS_REFUSED_REVOKED;
    default: return CF_HTTPS_REFUSED_UNTRUSTED;
    }
}

/* 1 when x names an agent (agent URI SAN, or the shared one). Agents never resume (every
   call is a fresh TLS context) and an install check is a full handshake: a TLS 1.3 ticket
   is pure cost (OpenSSL 3.0 encodes the session and decodes it back, client certificate
   and all: a sixth of a handshake's instructions at the server). */
static int s_is_agent(X509 *x)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    int agent = 0;
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names) && !agent; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        if (g->type != GEN_URI)
            continue;
        const char *uri = (const char *) ASN1_STRING_get0_data(g->d.uniformResourceIdentifier);
        int len = ASN1_STRING_length(g->d.uniformResourceIdentifier);
        size_t plen = strlen(CF_AGENT_URI_PREFIX);
        agent = (len > (int) plen && strncmp(uri, CF_AGENT_URI_PREFIX, plen) == 0) ||
                ((size_t) len == strlen(CF_AGENT_SHARED_URI) &&
                 memcmp(uri, CF_AGENT_SHARED_URI, (size_t) len) == 0);
    }
    GENERAL_NAMES_free(names);
    return agent;
}

/* OpenSSL has checked the chain to the CA (signatures, validity, purpose sslclient); here
   the leaf's serial meets the revoked set of the context the handshake started on. */
static int s_verify(int ok, X509_STORE_CTX *xs)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    if (!ssl)
        return 0;
    if (!ok) {
        int err = X509_STORE_CTX_get_error(xs);
        s_refuse(ssl, s_reason_of(err), X509_STORE_CTX_get0_cert(xs),
                 X509_verify_cert_error_string(err));
        return 0;
    }
    if (X509_STORE_CTX_get_error_depth(xs) > 0)
        return 1;
    const s_material_t *m = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), s_ctx_idx);
    X509 *leaf = X509_STORE_CTX_get_current_cert(xs);
    char hex[S_SERIAL_MAX];
    if (!m || !leaf || s_serial_hex(leaf, hex) != CF_OK) {
        X509_STORE_CTX_set_error(xs, X509_V_ERR_UNSPECIFIED);
        s_refuse(ssl, CF_HTTPS_REFUSED_UNTRUSTED, leaf, "serial unreadable");
        return 0;
    }
    if (s_serials_has(&m->revoked, hex)) {
        X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_REVOKED);
        s_refuse(ssl, CF_HTTPS_REFUSED_REVOKED, leaf, "certificate revoked");
        return 0;
    }
    if (s_is_agent(leaf))
        SSL_set_num_tickets(ssl, 0);
    return 1;
}

/* After a fatal alert the connection ends; the client may still be sending (a TLS 1.3
   client sends its request right after its Finished, before it knows the verdict). Closed
   with those bytes unread, the socket would send a reset, which can reach the client
   before it read the alert: the worker takes the socket for a lingering close instead,
   and the SSL's BIO lets go of it, so the bufferevent's free no longer closes it. */
static void s_linger(const SSL *ssl)
{
    s_conn_t *conn = SSL_get_ex_data(ssl, s_ssl_idx);
    BIO *bio = SSL_get_wbio(ssl);
    if (!conn || !conn->hooks.on_alert || !bio || SSL_get_rbio(ssl) != bio ||
        BIO_method_type(bio) != BIO_TYPE_SOCKET)
        return;
    int fd = (int) BIO_get_fd(bio, NULL);
    if (fd >= 0 && conn->hooks.on_alert(conn->hooks.arg, fd))
        (void) BIO_set_fd(bio, -1, BIO_NOCLOSE); /* BIO_get_fd answers -1 from now on */
}

/* A fatal alert we sent (OpenSSL calls this once it is written): when the reason is a
   missing client certificate (the verify callback never runs then), report it; unless
   the peer has closed already, close the connection lingering. */
static void s_info(const SSL *ssl, int where, int ret)
{
    if ((where & SSL_CB_WRITE_ALERT) != SSL_CB_WRITE_ALERT || (ret >> 8) != SSL3_AL_FATAL)
        return;
    unsigned long e = ERR_peek_last_error();
    if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
        ERR_GET_REASON(e) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
        s_refuse(ssl, CF_HTTPS_REFUSED_NOCERT, NULL, "no client certificate");
    /* a peer that closed (a port probe, a client giving up) sends nothing more */
    if (ERR_GET_LIB(e) != ERR_LIB_SSL || ERR_GET_REASON(e) != SSL_R_UNEXPECTED_EOF_WHILE_READING)
        s_linger(ssl);
}

/* Session tickets skip the verify callback: a resumed session must not outlive its
   certificate's validity or revocation. (A new SSL_CTX per swap also has new ticket keys,
   so a swap alone already sends every client through a full handshake.) */
static SSL_TICKET_RETURN s_ticket(SSL *ssl, SSL_SESSION *sess, const unsigned char *name,
                                  size_t name_len, SSL_TICKET_STATUS status, void *arg)
{
    (void) name, (void) name_len, (void) arg;
    if (status != SSL_TICKET_SUCCESS && status != SSL_TICKET_SUCCESS_RENEW)
        return SSL_TICKET_RETURN_IGNORE_RENEW;
    X509 *peer = sess ? SSL_SESSION_get0_peer(sess) : NULL;
    if (peer) {
        const s_material_t *m = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), s_ctx_idx);
        char hex[S_SERIAL_MAX];
        if (!m || X509_cmp_current_time(X509_get0_notAfter(peer)) <= 0 ||
            s_serial_hex(peer, hex) != CF_OK || s_serials_has(&m->revoked, hex))
            return SSL_TICKET_RETURN_IGNORE_RENEW;
    }
    return status == SSL_TICKET_SUCCESS ? SSL_TICKET_RETURN_USE : SSL_TICKET_RETURN_USE_RENEW;
}

static cf_err_t s_policy(SSL_CTX *ctx, cf_tls_version_t min, cf_why_t *why)
{
    if (min == 0)
        min = CF_TLS_1_2;
    if (min < CF_TLS_1_0 || min > CF_TLS_1_3)
        return cf_why(why, CF_ERR_INVALID, "minimum TLS version 0x%04x", (unsigned) min);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    const char *ciphers = min < CF_TLS_1_2 ? S_CIPHERS_LEGACY : S_CIPHERS_12;
    if (!SSL_CTX_set_min_proto_version(ctx, (int) min) ||
        !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) ||
        !SSL_CTX_set_cipher_list(ctx, ciphers) || !SSL_CTX_set_ciphersuites(ctx, S_SUITES_13) ||
        !SSL_CTX_set1_groups_list(ctx, S_GROUPS))
        return cf_why(why, CF_ERR_CRYPTO, "TLS policy rejected by OpenSSL");
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF); /* tickets only: one path */
    SSL_CTX_set_session_ticket_cb(ctx, NULL, s_ticket, NULL);
    /* one TLS 1.3 ticket, not OpenSSL's default two: a client resumes with one, and with
       OpenSSL 3.0 every ticket after the first copies the session through i2d/d2i, which
       decodes the client certificate again (about a quarter of a full handshake's CPU) */
    if (!SSL_CTX_set_num_tickets(ctx, 1))
        return cf_why(why, CF_ERR_CRYPTO, "TLS policy rejected by OpenSSL (tickets)");
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, s_verify);
    SSL_CTX_set_verify_depth(ctx, 4);
    SSL_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
    SSL_CTX_set_info_callback(ctx, s_info);
    return CF_OK;
}

static cf_err_t s_parse_pem(const char *what, const char *pem, size_t len, cf_cert_t **certs,
                            size_t *n, cf_why_t *why)
{
    if (!pem || len == 0)
        return cf_why(why, CF_ERR_INVALID, "%s: no PEM given", what);
    if (len > CF_HTTPS_MAX_PEM)
        return cf_why(why, CF_ERR_TOOBIG, "%s: %zu bytes (at most %d)", what, len,
                      CF_HTTPS_MAX_PEM);
    cf_err_t rc = cf_cert_parse_all(pem, len, certs, CF_CERT_MAX_CHAIN, n);
    if (rc != CF_OK)
        return cf_why(why, rc, "%s: %s", what, cf_err_str(rc));
    return CF_OK;
}

static void s_free_certs(cf_cert_t **certs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cf_cert_destroy(&certs[i]);
}

/* Server chain (without a self-signed root) and key. */
static cf_err_t s_load_identity(SSL_CTX *ctx, const cf_https_tls_t *tls, cf_why_t *why)
{
    cf_cert_t *certs[CF_CERT_MAX_CHAIN];
    size_t n = 0;
    CF_TRY(s_parse_pem("server certificate", tls->cert_pem, tls->cert_len, certs, &n, why));
    cf_err_t rc = cf_why(why, CF_ERR_CRYPTO, "server certificate not accepted by OpenSSL");
    if (SSL_CTX_use_certificate(ctx, cf_cert_x509(certs[0])) != 1)
        goto out;
    /* the chain given, not one OpenSSL builds from the client-CA store at every handshake */
    SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
    for (size_t i = 1; i < n; i++) {
        /* not the self-signed root: every peer holds it (RFC 8446 4.4.2), and each
           certificate sent costs the client a key decode (docs/https.md "Chain") */
        if (X509_get_extension_flags(cf_cert_x509(certs[i])) & EXFLAG_SS)
            continue;
        if (SSL_CTX_add1_chain_cert(ctx, cf_cert_x509(certs[i])) != 1)
            goto out;
    }
    rc = cf_cert_matches_key(certs[0], tls->key);
    if (rc != CF_OK) {
        cf_why(why, rc, "the key is not the server certificate's");
        goto out;
    }
    rc = cf_why(why, CF_ERR_CRYPTO, "server key not accepted by OpenSSL");
    if (SSL_CTX_use_PrivateKey(ctx, cf_key_pkey(tls->key)) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1)
        goto out;
    rc = CF_OK;
out:
    s_free_certs(certs, n);
    return rc;
}

/* The CA(s) client certificates must chain to, also named in the CertificateRequest. */
static cf_err_t s_load_ca(SSL_CTX *ctx, const cf_https_tls_t *tls, cf_why_t *why)
{
    cf_cert_t *certs[CF_CERT_MAX_CHAIN];
    size_t n = 0;
    CF_TRY(s_parse_pem("CA", tls->ca_pem, tls->ca_len, certs, &n, why));
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    cf_err_t rc = CF_OK;
    for (size_t i = 0; i < n && rc == CF_OK; i++) {
        if (!cf_cert_is_ca(certs[i]))
            rc = cf_why(why, CF_ERR_INVALID, "CA: %s is not a CA", cf_cert_subject(certs[i]));
        else if (X509_STORE_add_cert(store, cf_cert_x509(certs[i])) != 1 ||
                 SSL_CTX_add_client_CA(ctx, cf_cert_x509(certs[i])) != 1)
            rc = cf_why(why, CF_ERR_CRYPTO, "CA not accepted by OpenSSL");
    }
    s_free_certs(certs, n);
    return rc;
}

cf_err_t cf_https_ctx_new(const cf_https_tls_t *tls, const cf_https_hooks_t *hooks, SSL_CTX **out,
                          cf_why_t *why)
{
    if (!tls || !tls->key || !out)
        return cf_why(why, CF_ERR_INVALID, "TLS material: certificate, key and CA required");
    pthread_once(&s_once, s_init_indexes);
    if (s_ctx_idx < 0 || s_ssl_idx < 0)
        return CF_ERR_NOMEM;
    cf_err_t rc = CF_ERR_NOMEM;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    s_material_t *m = cf_mem_calloc(1, sizeof(*m));
    if (!ctx || !m)
        goto out;
    m->hooks = hooks;
    rc = s_serials_build(&m->revoked, tls->revoked, tls->n_revoked, why);
    if (rc != CF_OK)
        goto out;
    rc = CF_ERR_NOMEM;
    if (!SSL_CTX_set_ex_data(ctx, s_ctx_idx, m))
        goto out;
    m = NULL; /* freed with ctx from here on */
    rc = s_policy(ctx, tls->min_tls, why);
    if (rc == CF_OK)
        rc = s_load_identity(ctx, tls, why);
    if (rc == CF_OK)
        rc = s_load_ca(ctx, tls, why);
    if (rc != CF_OK)
        goto out;
    *out = ctx;
    ctx = NULL;
out:
    if (m) {
        s_serials_free(&m->revoked);
        cf_mem_free(m);
    }
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}

SSL *cf_https_ssl_new(SSL_CTX *ctx, int require, const cf_https_conn_hooks_t *hooks)
{
    SSL *ssl = SSL_new(ctx);
    s_conn_t *conn = cf_mem_calloc(1, sizeof(*conn));
    if (!ssl || !conn || !SSL_set_ex_data(ssl, s_ssl_idx, conn)) {
        cf_mem_free(conn);
        SSL_free(ssl);
        return NULL;
    }
    if (hooks)
        conn->hooks = *hooks;
    int mode = SSL_VERIFY_PEER | (require ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
    SSL_set_verify(ssl, mode, s_verify);
    const char *sid = require ? S_SID_REQ : S_SID_OPT;
    SSL_set_session_id_context(ssl, (const unsigned char *) sid, (unsigned) strlen(sid));
    return ssl;
}

void *cf_https_ssl_arg(const SSL *ssl)
{
    const s_conn_t *c = SSL_get_ex_data(ssl, s_ssl_idx);
    return c ? c->hooks.arg : NULL;
}

const cf_https_peer_t *cf_https_ssl_peer(SSL *ssl, const char *addr, unsigned port)
{
    s_conn_t *c = SSL_get_ex_data(ssl, s_ssl_idx);
    if (!c)
        return NULL;
    if (c->peer_ready)
        return &c->peer;
    X509 *x = SSL_get0_peer_certificate(ssl);
    if (x && SSL_get_verify_result(ssl) != X509_V_OK)
        return NULL; /* cannot happen with SSL_VERIFY_PEER: refuse rather than trust */
    if (x && cf_cert_from_x509(x, &c->cert) != CF_OK)
        return NULL;
    snprintf(c->addr, sizeof(c->addr), "%s", addr ? addr : "");
    c->peer = (cf_https_peer_t){
        1, SSL_get_version(ssl), c->cert, CF_COMPONENT_UNKNOWN, NULL, NULL, NULL, 0, c->addr, port};
    if (c->cert) {
        c->peer.component = cf_cert_component(c->cert);
        c->peer.agent_id = cf_cert_agent_id(c->cert);
        c->peer.fingerprint = cf_cert_fingerprint(c->cert);
        c->peer.serial = cf_cert_serial(c->cert);
        c->peer.not_after = cf_cert_not_after(c->cert);
    }
    c->peer_ready = 1;
    return &c->peer;
}
