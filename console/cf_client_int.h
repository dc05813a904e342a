/*  cf_client_int - what the cf_client*.c files share: the client's state and their helpers  */
#ifndef CF_CLIENT_INT_H_INCLUDED
#define CF_CLIENT_INT_H_INCLUDED

#include <curl/curl.h>

#include "cf_client.h"
#include "cf_p12.h"

/* Takes len bytes of a streamed answer; returns len to go on, anything else stops it. */
typedef size_t(cf_client_sink_fn)(void *arg, const char *data, size_t len);

struct cf_client {
    CURL *curl;                        /* the easy handle (one connection, reused) */
    char url[CF_CLIENT_MAX_URL + 1];   /* "https://host:port", no trailing '/' */
    char *ca;                          /* --ca path (owned) or NULL */
    char *cert_path;                   /* --cert path (owned) or NULL */
    cf_p12_content_t p12;              /* our key and certificates (owned) */
    const cf_cert_t *leaf;             /* the certificate of p12.key (in p12), or NULL */
    long long timeout_ms;              /* whole-exchange timeout */
    char *token;                       /* session token (owned, secret) or NULL */
    int token_stored;                  /* 1 when token came from the session file */
    char user[CF_CLIENT_MAX_USER + 1]; /* user of the stored session, or "" */
    char errbuf[CURL_ERROR_SIZE];      /* curl's words for the last failure */
    unsigned char *buf;                /* answer body being received (owned) */
    size_t len;                        /* bytes in buf */
    size_t cap;                        /* bytes allocated for buf */
    int overflow;                      /* the answer went over CF_CLIENT_MAX_ANSWER */
    int nomem;                         /* buf could not grow */
    int alert;                         /* fatal TLS alert received, -1 when none */
    char tls[16];                      /* protocol of the last handshake, or "" */
    long retry_after;                  /* Retry-After of the last answer, seconds */
    cf_client_sink_fn *sink;           /* a 200 answer's body goes here instead of buf
                                          (cf_client_stream), NULL otherwise */
    void *sink_arg;                    /* its argument */
};

/* $HOME/.config/certfleet/<name> into buf; CF_ERR_NOTFOUND when $HOME is unset or
   relative, CF_ERR_TOOBIG when the path does not fit. */
CF_MUST_USE cf_err_t cf_client_conf_path(const char *name, char *buf, size_t len);

/* Create the curl handle with the options every exchange shares (TLS 1.2 minimum, --ca,
   our certificate through the SSL_CTX, caps, timeouts). */
CF_MUST_USE cf_err_t cf_client_curl_setup(cf_client_t *self, cf_why_t *why);

/* Run one exchange on url with headers (borrowed) and body (len bytes, NULL for none) and
   fill reply as cf_client_call documents. */
CF_MUST_USE cf_err_t cf_client_perform(cf_client_t *self, const char *method, const char *url,
                                       struct curl_slist *headers, const char *body, size_t len,
                                       cf_client_reply_t *reply);

/* Free a header list, wiping every line first (one holds the token). */
void cf_client_free_headers(struct curl_slist *list);

#endif
