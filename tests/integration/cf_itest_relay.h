/*  cf_itest_relay - for the relay tests: a CA with agent, server and foreign certificates as
    PEM, a plain TCP echo target on its own thread, blocking loopback clients  */
#ifndef CF_ITEST_RELAY_H_INCLUDED
#define CF_ITEST_RELAY_H_INCLUDED

#include <pthread.h>
#include <stddef.h>

#include "cf_ca.h"
#include "cf_relay.h"

/* A certificate and key as PEM, and the key itself. */
typedef struct {
    char *cert;       /* PEM (cf_mem) */
    char *key;        /* PEM (cf_mem, secret) */
    cf_key_t *k;      /* the key */
    char serial[100]; /* lowercase hex */
} cf_itest_relay_id_t;

typedef struct {
    cf_ca_t *ca, *other;         /* the CA and another one */
    char *ca_pem, *other_pem;    /* their certificates */
    cf_itest_relay_id_t server;  /* server "127.0.0.1" (SAN IP 127.0.0.1) */
    cf_itest_relay_id_t agent;   /* agent "pc-a" */
    cf_itest_relay_id_t agent_b; /* agent "pc-b" */
    cf_itest_relay_id_t revoked; /* agent "pc-r": the test check refuses its serial */
    cf_itest_relay_id_t foreign; /* agent "pc-f" from the other CA */
    cf_itest_relay_id_t srv2;    /* server "s2" (a server's link certificate) */
} cf_itest_relay_pki_t;

/* Make them all; fails the test on error. */
void cf_itest_relay_pki(cf_itest_relay_pki_t *p);
void cf_itest_relay_pki_free(cf_itest_relay_pki_t *p);

/* The check tests use: cf_relay_identity, refusing the serial in arg (a char *). */
cf_err_t cf_itest_relay_check(void *arg, const cf_cert_t *leaf, char identity[CF_RELAY_ID_MAX + 1],
                              cf_why_t *why);

/* A plain TCP echo server on 127.0.0.1 (one connection at a time); "CLOSE" in the data
   makes it close that connection. */
typedef struct {
    int lfd;              /* listening socket */
    int port;             /* its port */
    int stop[2];          /* pipe: stop the thread */
    pthread_t thread;     /* the echo thread */
    pthread_mutex_t lock; /* guards the fields below */
    int accepted;         /* connections accepted */
    int closed;           /* connections ended */
    char last_peer[64];   /* "ip:port" of the last accepted peer */
    size_t bytes;         /* bytes echoed */
} cf_itest_echo_t;

void cf_itest_echo_start(cf_itest_echo_t *e);
void cf_itest_echo_stop(cf_itest_echo_t *e);
int cf_itest_echo_accepted(cf_itest_echo_t *e);
int cf_itest_echo_closed(cf_itest_echo_t *e);

/* A blocking TCP connection to "ip:port" (5 s receive timeout), or fails the test. */
int cf_itest_relay_connect(const char *addr);
/* Send all of buf, then read exactly len bytes back into out: 0, or -1 (EOF, error). */
int cf_itest_relay_roundtrip(int fd, const void *buf, size_t len, void *out);
/* 1 when the peer closed fd (read gives 0 or an error) within 5 s. */
int cf_itest_relay_sees_close(int fd);

#endif
