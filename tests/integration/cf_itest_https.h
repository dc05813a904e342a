/*  cf_itest_https - HTTPS test support: certificates as PEM files, curl and openssl s_client  */
#ifndef CF_ITEST_HTTPS_H_INCLUDED
#define CF_ITEST_HTTPS_H_INCLUDED

#include <stddef.h>

#include "cf_ca.h"
#include "cf_https.h"
#include "cf_router.h"

/* A certificate and its key written as <dir>/<name>.pem and <dir>/<name>.key (0600), with
   the values tests compare against. */
typedef struct {
    char pem[600];     /* certificate file */
    char key[600];     /* key file (unencrypted PKCS#8) */
    char fp[65];       /* SHA-256 fingerprint, lowercase hex */
    char serial[84];   /* serial, lowercase hex */
    char agent[64];    /* agent id, "" when none */
    char *pem_text;    /* the certificate PEM (cf_mem), for cf_https_tls_t */
    size_t pem_len;    /* its length */
    cf_key_t *key_obj; /* the key, for cf_https_tls_t */
} cf_itest_cert_t;

/* Issue req under ca and write it; fails the test on any error. */
void cf_itest_cert_write(cf_ca_t *ca, const cf_issue_t *req, const char *dir, const char *name,
                         cf_itest_cert_t *out);
/* Free what cf_itest_cert_write kept in memory. */
void cf_itest_cert_free(cf_itest_cert_t *c);
/* Write the CA certificate to path as PEM; fails the test on error. */
void cf_itest_ca_write(const cf_ca_t *ca, const char *path);

/* Run "curl -sS --max-time 10 <args>" in dir. Returns the HTTP status, 0 when there was no
   answer (handshake refused, connection refused). body (may be NULL) gets the answer's
   body, NUL-terminated and cut to len. */
int cf_itest_curl(const char *dir, const char *args, char *body, size_t len);

/* Run "openssl s_client -connect 127.0.0.1:<port> <args>" with stdin from /dev/null in
   dir; returns its exit status. out (may be NULL) gets its output, cut to len. */
int cf_itest_sclient(const char *dir, int port, const char *args, char *out, size_t len);

/* The SHA-256 fingerprint of the certificate the server on port presents, lowercase hex
   without colons, into fp (65 bytes); "" when none could be read. Connects with
   dir/ca.pem and the console certificate dir/console.pem, dir/console.key. */
void cf_itest_server_fp(const char *dir, int port, char *fp);

/* An in-process transport with test routes, on two free loopback ports:
     GET  /api/v1/health       public: the peer as the transport saw it
     POST /api/v1/agent/checkin agent, JSON {"id"}: echoes id and the address seen
     GET  /api/v1/admin        admin: the session's user
     GET  /api/v1/agents/:id   viewer: the decoded param and ?limit
     POST /api/v1/busy         public, JSON: 503 with Retry-After
   Sessions: bearer "admin-token" (admin), "viewer-token" (viewer), "down" (store down).
   Certificates in dir: ca.pem, srv/srv2 (server "localhost"), console, agent (agent-7),
   agent8 (agent-8), expired (agent-old, expired two hours ago), foreign (another CA). */
typedef struct {
    char dir[512];                  /* PEM files, curl and s_client output */
    cf_ca_t *ca;                    /* our CA */
    cf_itest_cert_t srv, srv2;      /* server certificates (the second for a swap) */
    cf_itest_cert_t console, agent; /* client certificates */
    cf_itest_cert_t agent8;         /* another agent (to revoke) */
    cf_itest_cert_t expired;        /* issued in the past */
    cf_itest_cert_t foreign;        /* from another CA */
    char *ca_pem;                   /* ca.pem's text */
    size_t ca_len;                  /* its length */
    cf_router_t *router;            /* the routes above (allow-plain on) */
    cf_https_t *https;              /* the transport under test (2 threads, optional certs) */
    int port, plain;                /* its TLS and plain ports */
    void *refused;                  /* what on_refused saw (cf_itest_https.c) */
} cf_itest_https_t;

/* Make the certificates, start the transport and wait for its port; fails the test on
   error. */
void cf_itest_https_start(cf_itest_https_t *s);
void cf_itest_https_stop(cf_itest_https_t *s);

/* TLS material of the fixture: server certificate srv, minimum version, revoked serials. */
cf_https_tls_t cf_itest_https_tls(const cf_itest_https_t *s, const cf_itest_cert_t *srv,
                                  cf_tls_version_t min, const char *const *revoked, size_t n);

/* Refusals reported so far. */
int cf_itest_https_refusals(const cf_itest_https_t *s);
/* Wait for a refusal after `before` and check its reason, certificate fingerprint (NULL:
   none presented) and that the peer address was seen. */
void cf_itest_https_expect_refusal(const cf_itest_https_t *s, int before, cf_https_reason_t why,
                                   const char *fp);

/* curl to the TLS port with client certificate cert (NULL: none) plus extra arguments;
   status as cf_itest_curl. body gets at most CF_ITEST_BODY bytes. */
#define CF_ITEST_BODY 4096
int cf_itest_https_curl(const cf_itest_https_t *s, const cf_itest_cert_t *cert, const char *extra,
                        const char *path, char *body);
/* curl to the plain port. */
int cf_itest_https_plain(const cf_itest_https_t *s, const char *extra, const char *path,
                         char *body);

#endif
