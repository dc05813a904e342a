/*  cf_client - cf-console's HTTPS client for the cf-server API: settings, mutual TLS, sessions  */
#include "cf_client.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "cf_auth.h"
#include "cf_cli.h"
#include "cf_client_int.h"
#include "cf_file.h"
#include "cf_mem.h"

#define S_API        "/api/v1"
#define S_MAX_PATH   2048 /* longest API path, bytes */
#define S_PKCS12_ENV "PKCS12_PASS"

cf_cfg_t *cf_client_options(const char *prog, const char *synopsis, const char *about,
                            const cf_cfg_opt_t *opts, size_t n, int argc, char **argv,
                            int *exit_out)
{
    char file[4096] = "";
    cf_cli_sources_t src = {CF_CLIENT_ENV_PREFIX, NULL};
    if (cf_client_conf_path(CF_CLIENT_CONF_FILE, file, sizeof(file)) == CF_OK)
        src.default_file = file;
    return cf_cli_options_src(&src, prog, synopsis, about, opts, n, argc, argv, exit_out);
}

/* The length of the HOST[:PORT] part of an https URL, 0 when it is not one we take. */
static size_t s_host_len(const char *url, size_t *len_out)
{
    static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]";
    size_t len = url ? strnlen(url, CF_CLIENT_MAX_URL + 1) : 0;
    *len_out = len;
    if (len <= 8 || len > CF_CLIENT_MAX_URL || strncasecmp(url, "https://", 8) != 0)
        return 0;
    if (url[len - 1] == '/')
        len--;
    size_t host = strspn(url + 8, ok);
    return host > 0 && 8 + host == len ? host : 0;
}

cf_err_t cf_client_check_url(const char *url, cf_why_t *why)
{
    size_t len = 0;
    if (s_host_len(url, &len) > 0)
        return CF_OK;
    if (len > CF_CLIENT_MAX_URL)
        return cf_why(why, CF_ERR_TOOBIG, "--server is longer than %d bytes", CF_CLIENT_MAX_URL);
    return cf_why(why, CF_ERR_INVALID,
                  "--server must be https://HOST[:PORT] (no path, user or query), not '%.80s'",
                  url ? url : "");
}

/* https://HOST[:PORT][/] with HOST a name, an IPv4 or a bracketed IPv6 address. */
static cf_err_t s_set_url(cf_client_t *self, const char *url, cf_why_t *why)
{
    size_t len = 0;
    CF_TRY(cf_client_check_url(url, why));
    size_t host = s_host_len(url, &len);
    memcpy(self->url, "https://", 8);
    memcpy(self->url + 8, url + 8, host);
    self->url[8 + host] = '\0';
    return CF_OK;
}

/* Decrypt the PKCS#12: without a password first (files with none), then with one. */
static cf_err_t s_parse_p12(cf_client_t *self, const cf_cfg_t *cfg, const char *buf, size_t len,
                            cf_why_t *why)
{
    const char *pw_file = cf_cfg_str(cfg, "cert-password-file");
    char *password = NULL;
    cf_err_t rc = CF_ERR_BADPASS;
    if (!pw_file)
        rc = cf_p12_parse(buf, len, NULL, 0, &self->p12, why);
    if (rc == CF_ERR_BADPASS) {
        rc = cf_cli_password(pw_file, pw_file ? NULL : S_PKCS12_ENV,
                             "Password of the console certificate: ", 0, &password, why);
        if (rc == CF_OK)
            rc = cf_p12_parse(buf, len, password, 0, &self->p12, why);
    }
    cf_mem_free_secret_str(password);
    return rc;
}

static cf_err_t s_load_cert(cf_client_t *self, const cf_cfg_t *cfg, cf_why_t *why)
{
    const char *path = cf_cfg_str(cfg, "cert");
    char *buf = NULL;
    size_t len = 0;
    if (!path)
        return CF_OK;
    self->cert_path = cf_mem_strdup(path);
    cf_err_t rc = self->cert_path ? CF_OK : CF_ERR_NOMEM;
    if (rc == CF_OK)
        rc = cf_file_read(path, CF_P12_MAX_INPUT, &buf, &len, why);
    if (rc == CF_OK)
        rc = s_parse_p12(self, cfg, buf, len, why);
    if (rc == CF_OK && !self->p12.key)
        rc = cf_why(why, CF_ERR_NOKEY, "%s holds no private key", path);
    for (size_t i = 0; rc == CF_OK && i < self->p12.n_certs && !self->leaf; i++) {
        if (cf_cert_matches_key(self->p12.certs[i], self->p12.key) == CF_OK)
            self->leaf = self->p12.certs[i];
    }
    if (rc == CF_OK && !self->leaf)
        rc = cf_why(why, CF_ERR_KEYMISMATCH, "%s: no certificate matches its key", path);
    if (rc != CF_OK && why && strncmp(why->text, path, strlen(path)) != 0) {
        char reason[CF_WHY_MAX];
        snprintf(reason, sizeof(reason), "%s", cf_why_text(why, rc));
        cf_why(why, rc, "%s: %s", path, reason);
    }
    cf_mem_free_secret(buf, len);
    return rc;
}

cf_err_t cf_client_new(const cf_cfg_t *cfg, cf_client_t **out, cf_why_t *why)
{
    if (!cfg || !out)
        return CF_ERR_INVALID;
    *out = NULL;
    cf_client_t *self = cf_mem_calloc(1, sizeof(*self));
    if (!self)
        return CF_ERR_NOMEM;
    self->alert = -1;
    self->timeout_ms = cf_cfg_int(cfg, "timeout") * 1000;
    cf_err_t rc = s_set_url(self, cf_cfg_str(cfg, "server"), why);
    if (rc == CF_OK && cf_cfg_str(cfg, "ca")) {
        self->ca = cf_mem_strdup(cf_cfg_str(cfg, "ca"));
        rc = self->ca ? CF_OK : CF_ERR_NOMEM;
    }
    if (rc == CF_OK)
        rc = s_load_cert(self, cfg, why);
    if (rc == CF_OK)
        rc = cf_client_curl_setup(self, why);
    if (rc != CF_OK) {
        cf_client_destroy(&self);
        return rc;
    }
    *out = self;
    return CF_OK;
}

void cf_client_destroy(cf_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_client_t *self = *self_p;
    if (self->curl)
        curl_easy_cleanup(self->curl);
    cf_p12_content_clear(&self->p12);
    cf_mem_free(self->ca);
    cf_mem_free(self->cert_path);
    cf_mem_free_secret_str(self->token);
    cf_mem_free_secret(self->buf, self->cap);
    cf_mem_free(self);
    *self_p = NULL;
}

const char *cf_client_url(const cf_client_t *self)
{
    return self->url;
}

const cf_cert_t *cf_client_cert(const cf_client_t *self)
{
    return self->leaf;
}

const char *cf_client_cert_path(const cf_client_t *self)
{
    return self->cert_path;
}

const char *cf_client_ca_path(const cf_client_t *self)
{
    return self->ca;
}

cf_err_t cf_client_set_token(cf_client_t *self, const char *token)
{
    cf_mem_free_secret_str(self->token);
    self->token = NULL;
    self->token_stored = 0;
    if (!token)
        return CF_OK;
    CF_TRY(cf_auth_token_check(token));
    self->token = cf_mem_strdup(token);
    return self->token ? CF_OK : CF_ERR_NOMEM;
}

void cf_client_reply_clear(cf_client_reply_t *reply)
{
    if (!reply)
        return;
    json_decref(reply->json);
    memset(reply, 0, sizeof(*reply));
    reply->alert = -1;
}

/* Headers of one request; the Authorization line is wiped when freed. */
static struct curl_slist *s_headers(const cf_client_t *self, int has_body)
{
    struct curl_slist *list = curl_slist_append(NULL, "Accept: application/json");
    struct curl_slist *next = list;
    if (next && has_body)
        next = curl_slist_append(list, "Content-Type: application/json");
    if (next)
        next = curl_slist_append(list, "Expect:");
    if (next && self->token) {
        char line[32 + CF_AUTH_TOKEN_LEN];
        snprintf(line, sizeof(line), "Authorization: Bearer %s", self->token);
        next = curl_slist_append(list, line);
        OPENSSL_cleanse(line, sizeof(line));
    }
    if (!next) {
        cf_client_free_headers(list);
        return NULL;
    }
    return list;
}

void cf_client_free_headers(struct curl_slist *list)
{
    for (struct curl_slist *h = list; h; h = h->next)
        OPENSSL_cleanse(h->data, strlen(h->data));
    curl_slist_free_all(list);
}

/* Printable, no blanks, no fragment: what we put after /api/v1. */
static cf_err_t s_check_path(const char *path)
{
    size_t len = path ? strnlen(path, S_MAX_PATH + 1) : 0;
    if (len == 0 || len > S_MAX_PATH || path[0] != '/')
        return CF_ERR_INVALID;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) path[i];
        if (c <= 0x20 || c >= 0x7f || c == '#')
            return CF_ERR_INVALID;
    }
    return CF_OK;
}

cf_err_t cf_client_call_raw(cf_client_t *self, const char *method, const char *path,
                            const char *body, size_t len, cf_client_reply_t *reply)
{
    char url[CF_CLIENT_MAX_URL + S_MAX_PATH + 16];
    CF_ASSERT(self && method && reply);
    memset(reply, 0, sizeof(*reply));
    reply->alert = -1;
    if (s_check_path(path) != CF_OK)
        return CF_ERR_INVALID;
    if (len > CF_CLIENT_MAX_BODY) {
        reply->net = CF_CLIENT_NET_ANSWER;
        snprintf(reply->message, sizeof(reply->message), "the request is over %d KiB",
                 CF_CLIENT_MAX_BODY / 1024);
        return CF_ERR_TOOBIG;
    }
    snprintf(url, sizeof(url), "%s" S_API "%s", self->url, path);
    struct curl_slist *headers = s_headers(self, body != NULL);
    if (!headers)
        return CF_ERR_NOMEM;
    cf_err_t rc = cf_client_perform(self, method, url, headers, body, len, reply);
    cf_client_free_headers(headers);
    if (rc == CF_OK && reply->status == 401 && self->token && self->token_stored) {
        /* the server no longer knows our stored session: drop it */
        cf_client_session_remove(self);
    }
    return rc;
}

cf_err_t cf_client_call(cf_client_t *self, const char *method, const char *path, const json_t *body,
                        cf_client_reply_t *reply)
{
    char *text = NULL;
    if (body) {
        text = json_dumps(body, JSON_COMPACT);
        if (!text) {
            memset(reply, 0, sizeof(*reply));
            reply->alert = -1;
            return CF_ERR_NOMEM;
        }
    }
    cf_err_t rc = cf_client_call_raw(self, method, path, text, text ? strlen(text) : 0, reply);
    free(text); /* jansson's allocation */
    return rc;
}

int cf_client_exit_code(const cf_client_reply_t *reply)
{
    switch (reply->net) {
    case CF_CLIENT_NET_OK: break;
    case CF_CLIENT_NET_ANSWER: return CF_EXIT_FAIL;
    case CF_CLIENT_NET_UNREACHABLE:
    case CF_CLIENT_NET_SERVER_CERT:
    case CF_CLIENT_NET_OUR_CERT:
    case CF_CLIENT_NET_TLS:
    default: return CF_EXIT_NET;
    }
    if (reply->status >= 200 && reply->status < 300)
        return CF_EXIT_OK;
    return reply->status == 401 ? CF_EXIT_AUTH : CF_EXIT_FAIL;
}

static const char *s_net_words(cf_client_net_t net)
{
    switch (net) {
    case CF_CLIENT_NET_UNREACHABLE: return "cannot reach the server";
    case CF_CLIENT_NET_SERVER_CERT: return "the server's certificate did not verify";
    case CF_CLIENT_NET_OUR_CERT: return "the server refused our certificate";
    case CF_CLIENT_NET_TLS: return "TLS failed";
    case CF_CLIENT_NET_ANSWER: return "bad answer";
    case CF_CLIENT_NET_OK:
    default: return "failed";
    }
}

int cf_client_complain(const char *prog, const char *what, const cf_client_t *self,
                       const cf_client_reply_t *reply)
{
    const char *url = self ? self->url : "";
    if (reply->net != CF_CLIENT_NET_OK) {
        fprintf(stderr, "%s: %s: %s (%s): %s\n", prog, what, s_net_words(reply->net), url,
                reply->message);
        if (reply->net == CF_CLIENT_NET_SERVER_CERT && self && !self->ca)
            fprintf(stderr, "%s: give the fleet's CA certificate with --ca FILE\n", prog);
    } else if (reply->status == 401) {
        fprintf(stderr,
                "%s: %s: not logged in to %s, or the session expired (%s); run "
                "'cf-console login'\n",
                prog, what, url, reply->message[0] ? reply->message : "401");
    } else if (reply->status == 503 && reply->retry_after > 0) {
        fprintf(stderr, "%s: %s: the server is busy (%s); retry after %ld s\n", prog, what,
                reply->message[0] ? reply->message : "503", reply->retry_after);
    } else {
        fprintf(stderr, "%s: %s: %s (HTTP %ld%s%s)\n", prog, what,
                reply->message[0] ? reply->message : "the server gave no reason", reply->status,
                reply->code[0] ? ", " : "", reply->code);
    }
    return cf_client_exit_code(reply);
}

cf_err_t cf_client_server_cert(cf_client_t *self, cf_cert_t **out)
{
    struct curl_certinfo *info = NULL;
    *out = NULL;
    if (curl_easy_getinfo(self->curl, CURLINFO_CERTINFO, &info) != CURLE_OK || !info ||
        info->num_of_certs < 1)
        return CF_ERR_NOTFOUND;
    for (struct curl_slist *s = info->certinfo[0]; s; s = s->next) {
        if (strncmp(s->data, "Cert:", 5) == 0)
            return cf_cert_parse(s->data + 5, strlen(s->data + 5), out);
    }
    return CF_ERR_NOTFOUND;
}
