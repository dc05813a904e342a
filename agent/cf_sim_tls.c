/*  cf_sim_tls - simulated agents' TLS for curl: one CA store for the process handed to
    every connection's SSL_CTX (curl would decode the CA's PEM again for each), and the
    agent's certificate and key put in by the same hook  */
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "cf_key.h"
#include "cf_log.h"
#include "cf_mem.h"
#include "cf_sim_int.h"

#define S_BEGIN_CERT "-----BEGIN CERTIFICATE-----"

/* 1 when pem holds exactly one certificate (a chain goes to curl as PEM). */
static int s_single(const char *pem)
{
    const char *first = pem ? strstr(pem, S_BEGIN_CERT) : NULL;
    return first && !strstr(first + sizeof(S_BEGIN_CERT) - 1, S_BEGIN_CERT);
}

void cf_sim_tls_fini(cf_sim_t *sim)
{
    X509_STORE_free(sim->ca_store);
    sim->ca_store = NULL;
}

/* A PEM object from text (NUL-terminated), or NULL. */
static X509 *s_x509(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    return x;
}

/* Through cf_key (its P-256 fast path: OpenSSL 3.0's decoder set-up costs ~20 times the
   import, and a simulated agent decodes its key for every connection). */
static EVP_PKEY *s_pkey(const char *pem)
{
    cf_key_t *key = NULL;
    if (cf_key_from_pem(pem, strlen(pem), NULL, &key) != CF_OK)
        return NULL;
    EVP_PKEY *k = cf_key_pkey(key);
    if (EVP_PKEY_up_ref(k) != 1)
        k = NULL;
    cf_key_destroy(&key);
    return k;
}

/* The agent's certificate and key, decoded for this connection. 1 when both are there. */
static int s_material(cf_sim_t *sim, size_t a, X509 **x, EVP_PKEY **k)
{
    const cf_sim_agent_t *ag = &sim->agents[a];
    pthread_mutex_lock(&sim->mu);
    char *cert = ag->cert ? cf_mem_strdup(ag->cert) : NULL;
    char *key = ag->key ? cf_mem_strdup(ag->key) : NULL;
    pthread_mutex_unlock(&sim->mu);
    *x = cert ? s_x509(cert) : NULL;
    *k = key ? s_pkey(key) : NULL;
    cf_mem_free(cert);
    cf_mem_free_secret_str(key);
    ERR_clear_error();
    return *x && *k;
}

/* A fatal alert read from the server: it refused the handshake (curl's error text alone
   does not tell an alert from a reset). The context is this call's alone: curl makes one
   per connection, and its app data is ours (set in s_ctx). */
static void s_info(const SSL *ssl, int where, int ret)
{
    if (!(where & SSL_CB_READ_ALERT) || (ret >> 8) != SSL3_AL_FATAL)
        return;
    cf_sim_call_t *c = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    if (c)
        c->alert = 1;
}

/* curl's SSL_CTX hook (after its own set-up, before the handshake): the CA store, the alert
   watch, and the agent's pair when the call presents it. */
static CURLcode s_ctx(CURL *e, void *ssl_ctx, void *arg)
{
    (void) e;
    cf_sim_call_t *c = arg;
    cf_sim_t *sim = c->sim;
    SSL_CTX *ctx = ssl_ctx;
    SSL_CTX_set1_cert_store(ctx, sim->ca_store); /* takes a reference */
    c->alert = 0;
    if (SSL_CTX_set_app_data(ctx, c) != 1)
        return CURLE_SSL_CERTPROBLEM;
    SSL_CTX_set_info_callback(ctx, s_info);
    if (!c->tls_client)
        return CURLE_OK;
    X509 *x = NULL;
    EVP_PKEY *k = NULL;
    int ok = s_material(sim, c->agent, &x, &k) && SSL_CTX_use_certificate(ctx, x) == 1 &&
             SSL_CTX_use_PrivateKey(ctx, k) == 1;
    X509_free(x);
    EVP_PKEY_free(k);
    ERR_clear_error();
    return ok ? CURLE_OK : CURLE_SSL_CERTPROBLEM;
}

/* A PEM blob for curl (copied by curl). */
static int s_blob(CURL *e, CURLoption opt, const char *pem)
{
    struct curl_blob b = {(void *) pem, strlen(pem), CURL_BLOB_COPY};
    return curl_easy_setopt(e, opt, &b) != CURLE_OK;
}

int cf_sim_tls_setup(cf_sim_t *sim, cf_sim_call_t *c, int cert, int *have)
{
    *have = 0;
    CURL *e = c->easy;
    if (!sim->ca_store) { /* main thread: the first call makes it */
        sim->ca_store = X509_STORE_new();
        if (!sim->ca_store || X509_STORE_add_cert(sim->ca_store, cf_cert_x509(sim->ca)) != 1) {
            cf_sim_tls_fini(sim);
            ERR_clear_error();
            return 1;
        }
    }
    int bad = 0;
    c->tls_client = 0;
    if (cert) {
        cf_sim_agent_t *ag = &sim->agents[c->agent];
        pthread_mutex_lock(&sim->mu);
        *have = ag->cert && ag->key;
        if (ag->cert && ag->key && s_single(ag->cert)) {
            c->tls_client = 1;
        } else if (ag->cert && ag->key) { /* a chain: curl reads it */
            bad |= s_blob(e, CURLOPT_SSLCERT_BLOB, ag->cert);
            bad |= curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM") != CURLE_OK;
            bad |= s_blob(e, CURLOPT_SSLKEY_BLOB, ag->key);
            bad |= curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM") != CURLE_OK;
        }
        pthread_mutex_unlock(&sim->mu);
    }
    /* no CA file of curl's own (its built-in default would be read for every connection):
       the hook puts the package's CA in */
    bad |= curl_easy_setopt(e, CURLOPT_CAINFO, NULL) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_CAPATH, NULL) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, s_ctx) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, c) != CURLE_OK;
    return bad;
}

int cf_sim_check_transient(CURLcode cc, long status, int alert)
{
    if (cc == CURLE_OK) /* an answer came: a 5xx says no working server, others say no */
        return status >= 500 && status <= 599;
    switch (cc) {
    case CURLE_PEER_FAILED_VERIFICATION: /* the server's certificate not trusted */
    case CURLE_SSL_CERTPROBLEM:          /* our own certificate or key unusable */
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_WRITE_ERROR: /* the answer too big */ return 0;
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:       /* closed before any answer */
    case CURLE_RECV_ERROR:        /* reset under the call */
    case CURLE_SEND_ERROR:        /* the same, while sending */
    case CURLE_SSL_CONNECT_ERROR: /* the handshake broken off (or refused: the alert) */
        return !alert;
    default: return 0;
    }
}
