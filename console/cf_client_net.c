/*  cf_client_net - cf_client below HTTP: libcurl options, our certificate in the SSL_CTX, outcomes
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "cf_client_int.h"
#include "cf_mem.h"

#define S_FIRST_BUF 16384 /* first answer buffer, bytes */

/* TLS alerts (RFC 8446 6.2) we name; OpenSSL 3.0 has no words for certificate_required. */
static const struct {
    int code;         /* alert description */
    const char *name; /* its name in the RFC */
    int ours;         /* 1: it says our certificate is missing or not good enough */
} s_alerts[] = {
    {40, "handshake_failure", 0},
    {42, "bad_certificate", 1},
    {43, "unsupported_certificate", 1},
    {44, "certificate_revoked", 1},
    {45, "certificate_expired", 1},
    {46, "certificate_unknown", 1},
    {48, "unknown_ca", 1},
    {49, "access_denied", 1},
    {70, "protocol_version", 0},
    {71, "insufficient_security", 0},
    {80, "internal_error", 0},
    {112, "unrecognized_name", 0},
    {116, "certificate_required", 1},
};

static int s_alert_index(int alert)
{
    for (size_t i = 0; i < sizeof(s_alerts) / sizeof(s_alerts[0]); i++) {
        if (s_alerts[i].code == alert)
            return (int) i;
    }
    return -1;
}

static int s_cert_alert(int alert)
{
    int i = s_alert_index(alert);
    return i >= 0 && s_alerts[i].ours;
}

static const char *s_alert_name(int alert)
{
    int i = s_alert_index(alert);
    return i >= 0 ? s_alerts[i].name : SSL_alert_desc_string_long(alert);
}

/* OpenSSL's info callback: keep the server's fatal alert and the protocol we agreed. */
static void s_info(const SSL *ssl, int where, int ret)
{
    cf_client_t *self = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    if (!self)
        return;
    if ((where & SSL_CB_READ_ALERT) == SSL_CB_READ_ALERT && (ret >> 8) == SSL3_AL_FATAL)
        self->alert = ret & 0xff;
    if (where & SSL_CB_HANDSHAKE_DONE)
        snprintf(self->tls, sizeof(self->tls), "%s", SSL_get_version(ssl));
}

/* curl hands us each new SSL_CTX: our certificate and key go in as objects, so the clear
   key is never encoded, copied or written anywhere. */
static CURLcode s_ssl_ctx(CURL *curl, void *ssl_ctx, void *arg)
{
    (void) curl;
    SSL_CTX *ctx = ssl_ctx;
    cf_client_t *self = arg;
    SSL_CTX_set_app_data(ctx, self);
    SSL_CTX_set_info_callback(ctx, s_info);
    if (!self->leaf)
        return CURLE_OK;
    if (SSL_CTX_use_certificate(ctx, cf_cert_x509(self->leaf)) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, cf_key_pkey(self->p12.key)) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1)
        return CURLE_SSL_CERTPROBLEM;
    for (size_t i = 0; i < self->p12.n_certs; i++) {
        const cf_cert_t *c = self->p12.certs[i];
        if (c != self->leaf && !cf_cert_is_ca(c) &&
            SSL_CTX_add1_chain_cert(ctx, cf_cert_x509(c)) != 1)
            return CURLE_SSL_CERTPROBLEM;
    }
    return CURLE_OK;
}

static size_t s_write(char *data, size_t size, size_t n, void *arg)
{
    cf_client_t *self = arg;
    size_t len = size * n;
    long status = 0;
    if (self->sink && curl_easy_getinfo(self->curl, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
        status == 200)
        return self->sink(self->sink_arg, data, len); /* a stream: not kept here */
    if (len > CF_CLIENT_MAX_ANSWER - self->len) {
        self->overflow = 1;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    if (self->len + len + 1 > self->cap) {
        size_t cap = self->cap ? self->cap : S_FIRST_BUF;
        while (cap < self->len + len + 1)
            cap *= 2;
        unsigned char *grown = cf_mem_realloc(self->buf, cap);
        if (!grown) {
            self->nomem = 1;
            return 0;
        }
        self->buf = grown;
        self->cap = cap;
    }
    memcpy(self->buf + self->len, data, len);
    self->len += len;
    return len;
}

static size_t s_header(char *data, size_t size, size_t n, void *arg)
{
    cf_client_t *self = arg;
    size_t len = size * n;
    if (len > 5 && strncmp(data, "HTTP/", 5) == 0)
        self->retry_after = 0; /* a new answer (after a 100 Continue, say) */
    if (len > 12 && len < 64 && strncasecmp(data, "Retry-After:", 12) == 0) {
        char value[64];
        memcpy(value, data + 12, len - 12);
        value[len - 12] = '\0';
        long v = strtol(value, NULL, 10);
        self->retry_after = v > 0 && v < 86400 ? v : 0;
    }
    return len;
}

cf_err_t cf_client_curl_setup(cf_client_t *self, cf_why_t *why)
{
    self->curl = curl_easy_init();
    if (!self->curl)
        return CF_ERR_NOMEM;
    CURL *c = self->curl;
    int bad = 0;
    /* every option below must take: a missing one would weaken the connection */
    bad |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https") != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK;
    if (self->ca)
        bad |= curl_easy_setopt(c, CURLOPT_CAINFO, self->ca) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, s_ssl_ctx) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, self) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_CERTINFO, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_1_1) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long) self->timeout_ms) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long) self->timeout_ms) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) CF_CLIENT_MAX_ANSWER) !=
           CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_write) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_WRITEDATA, self) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, s_header) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_HEADERDATA, self) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, self->errbuf) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_USERAGENT, "cf-console") != CURLE_OK;
    if (bad)
        return cf_why(why, CF_ERR_UNSUPPORTED,
                      "libcurl lacks an option we need (an OpenSSL build of 7.85 or later)");
    return CF_OK;
}

/* 1 when an option did not take. */
static int s_method(CURL *c, const char *method, const char *body, size_t len)
{
    int bad = curl_easy_setopt(c, CURLOPT_HTTPGET, 1L) != CURLE_OK; /* drops an earlier body */
    const char *custom = strcmp(method, "GET") == 0 ? NULL : method;
    bad |= curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, custom) != CURLE_OK;
    if (body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
        bad |= curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "") != CURLE_OK;
        bad |= curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) len) != CURLE_OK;
    }
    return bad;
}

/* Words for a failure below HTTP, and which kind it is. */
static cf_client_net_t s_classify(cf_client_t *self, CURLcode res, char *msg, size_t len)
{
    const char *words = self->errbuf[0] ? self->errbuf : curl_easy_strerror(res);
    if (self->alert >= 0 && s_cert_alert(self->alert)) {
        snprintf(msg, len, "TLS alert %s%s", s_alert_name(self->alert),
                 self->alert == 116 || !self->leaf ? " (give a console certificate: --cert)" : "");
        return CF_CLIENT_NET_OUR_CERT;
    }
    if (res == CURLE_PEER_FAILED_VERIFICATION) {
        long v = 0;
        /* curl's own host name check leaves only "unspecified" (1) there: use its words */
        if (curl_easy_getinfo(self->curl, CURLINFO_SSL_VERIFYRESULT, &v) == CURLE_OK && v > 1)
            snprintf(msg, len, "%s", X509_verify_cert_error_string(v));
        else
            snprintf(msg, len, "%s", words);
        return CF_CLIENT_NET_SERVER_CERT;
    }
    if (self->alert >= 0) {
        snprintf(msg, len, "the server ended the handshake: %s%s", s_alert_name(self->alert),
                 self->leaf ? "" : " (it may want a console certificate: --cert)");
        return CF_CLIENT_NET_TLS;
    }
    snprintf(msg, len, "%s", words);
    switch (res) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_USE_SSL_FAILED: return CF_CLIENT_NET_TLS;
    default: return CF_CLIENT_NET_UNREACHABLE;
    }
}

/* The JSON body and, for an error status, the error object's code and message. */
static cf_err_t s_answer(cf_client_t *self, cf_client_reply_t *reply)
{
    json_error_t err;
    int ok = reply->status >= 200 && reply->status < 300;
    if (self->len > 0) {
        reply->json = json_loadb((const char *) self->buf, self->len, JSON_REJECT_DUPLICATES, &err);
        if (!reply->json && ok) {
            reply->net = CF_CLIENT_NET_ANSWER;
            snprintf(reply->message, sizeof(reply->message), "the answer is not JSON: %s",
                     err.text);
            return CF_ERR_CORRUPT;
        }
    }
    json_t *error = json_object_get(reply->json, "error");
    const char *code = json_string_value(json_object_get(error, "code"));
    const char *message = json_string_value(json_object_get(error, "message"));
    if (!ok && code)
        snprintf(reply->code, sizeof(reply->code), "%s", code);
    if (!ok && message)
        snprintf(reply->message, sizeof(reply->message), "%s", message);
    return CF_OK;
}

cf_err_t cf_client_perform(cf_client_t *self, const char *method, const char *url,
                           struct curl_slist *headers, const char *body, size_t len,
                           cf_client_reply_t *reply)
{
    self->len = 0;
    self->overflow = 0;
    self->alert = -1;
    self->tls[0] = '\0';
    self->retry_after = 0;
    self->errbuf[0] = '\0';
    self->nomem = 0;
    int bad = s_method(self->curl, method, body, len);
    bad |= curl_easy_setopt(self->curl, CURLOPT_URL, url) != CURLE_OK;
    bad |= curl_easy_setopt(self->curl, CURLOPT_HTTPHEADER, headers) != CURLE_OK;
    if (bad)
        return CF_ERR_NOMEM;
    CURLcode res = curl_easy_perform(self->curl);
    curl_easy_setopt(self->curl, CURLOPT_HTTPHEADER, NULL);
    reply->alert = self->alert;
    snprintf(reply->tls, sizeof(reply->tls), "%s", self->tls);
    if (self->nomem)
        return CF_ERR_NOMEM;
    if (self->overflow || res == CURLE_FILESIZE_EXCEEDED) {
        reply->net = CF_CLIENT_NET_ANSWER;
        snprintf(reply->message, sizeof(reply->message), "the answer is over %d MiB",
                 CF_CLIENT_MAX_ANSWER / (1024 * 1024));
        return CF_ERR_TOOBIG;
    }
    if (res != CURLE_OK) {
        reply->net = s_classify(self, res, reply->message, sizeof(reply->message));
        return CF_ERR_IO;
    }
    curl_easy_getinfo(self->curl, CURLINFO_RESPONSE_CODE, &reply->status);
    reply->retry_after = self->retry_after;
    return s_answer(self, reply);
}
