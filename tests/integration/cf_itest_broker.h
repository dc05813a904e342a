/*  cf_itest_broker - run a real cf-broker process against a real redis-server in tests:
    keys in Redis, CURVE agent and server clients, cf_msg on the wire, the metrics page  */
#ifndef CF_ITEST_BROKER_H_INCLUDED
#define CF_ITEST_BROKER_H_INCLUDED

#include <sys/types.h>

#include "cf_allow.h"
#include "cf_curve.h"
#include "cf_err.h"
#include "cf_itest.h"
#include "cf_msg.h"
#include "cf_store.h"
#include "cf_zsock.h"

#define CF_ITEST_BROKER_WAIT_MS 5000 /* every wait in here is bounded by this */

typedef struct {
    cf_itest_redis_t redis;    /* its redis-server */
    cf_store_t *store;         /* the test's own Redis connection */
    pid_t pid;                 /* the cf-broker process, 0 when stopped */
    char dir[512];             /* keys, log */
    char log[600];             /* the broker's log file */
    int metrics_port;          /* its metrics page */
    cf_curve_broker_t agents;  /* agent-facing endpoint and the broker's key */
    cf_curve_broker_t servers; /* server-facing endpoint and key */
} cf_itest_broker_t;

/* Start redis-server, make the broker's keys with `cf-broker --keygen --out DIR` (checking
   its output line), and put the n identities (kinds[i], names[i], keys[i]) into Redis
   with cf_db_curve_put; then start cf-broker on free loopback ports and wait until its
   metrics page answers. Fails the test on any error. */
void cf_itest_broker_start(cf_itest_broker_t *b, const char *name, const cf_allow_kind_t *kinds,
                           const char *const *names, const cf_curve_keypair_t *keys, size_t n);
/* The same with extra cf-broker arguments (NULL-terminated, at most 4). */
void cf_itest_broker_start_with(cf_itest_broker_t *b, const char *name,
                                const cf_allow_kind_t *kinds, const char *const *names,
                                const cf_curve_keypair_t *keys, size_t n, const char *const *extra);
/* Start cf-broker for b (its fields filled: dir holding broker.key_secret, ca.pem, tls.pem
   and tls.key; redis; endpoints; metrics port) with TLS-wrapped links on 127.0.0.1 ports
   tls_port[0] (agents) and tls_port[1] (servers); wait until its metrics page answers.
   Fails the test otherwise. */
void cf_itest_broker_spawn_tls(cf_itest_broker_t *b, const int tls_port[2]);
/* SIGTERM the broker (its exit code must be 0), stop Redis, close the store. */
void cf_itest_broker_stop(cf_itest_broker_t *b);

/* A CURVE DEALER to the agent-facing (or server-facing) endpoint presenting kp with routing
   id rid, reconnecting quickly. Fails the test on error. */
zsock_t *cf_itest_broker_agent(const cf_itest_broker_t *b, const cf_curve_keypair_t *kp,
                               const char *rid);
zsock_t *cf_itest_broker_server(const cf_itest_broker_t *b, const cf_curve_keypair_t *kp,
                                const char *rid);

/* Encode m and send it on sock (fails the test on error). */
void cf_itest_broker_send(zsock_t *sock, const cf_msg_t *m);
/* The same, for a socket that may have no connection (a refused one): 0 sent, -1 not
   (after the send timeout of CF_ITEST_BROKER_WAIT_MS at most). */
int cf_itest_broker_try_send(zsock_t *sock, const cf_msg_t *m);
/* Send msgs[0..n) on sock as one BATCH (what a server's link does); fails the test on error. */
void cf_itest_broker_send_batch(zsock_t *sock, const cf_msg_t *msgs, size_t n);
/* Receive and decode one message within wait_ms: CF_OK, CF_ERR_NOTFOUND (nothing came),
   or the decoder's error. A BATCH (what a broker sends a server) is split: its first
   message now, the others by the next calls on the same socket, before anything newer.
   *m is the caller's (cf_msg_clear). */
CF_MUST_USE cf_err_t cf_itest_broker_recv(zsock_t *sock, int wait_ms, cf_msg_t *m);
/* Messages of a BATCH received on sock not yet handed out by cf_itest_broker_recv (poll
   the socket only when this is 0). */
size_t cf_itest_broker_pending(zsock_t *sock);
/* Receive one message that must be of type within CF_ITEST_BROKER_WAIT_MS; fails the test
   otherwise. *m is the caller's. */
void cf_itest_broker_expect(zsock_t *sock, cf_msg_type_t type, cf_msg_t *m);
/* A message of type for agent (job id: 32 hex digits from seed, or "" with seed 0). */
void cf_itest_broker_msg(cf_msg_t *m, cf_msg_type_t type, const char *agent, unsigned seed);

/* The value of the metric whose line starts with line (name and labels, e.g.
   "cf_broker_connected_agents" or "cf_broker_drops_total{reason=\"identity\"}"), or -1
   when the page or the line is missing. */
long cf_itest_broker_metric(const cf_itest_broker_t *b, const char *line);
/* Wait until that metric is at least min; 1 if it got there within the wait. */
int cf_itest_broker_metric_wait(const cf_itest_broker_t *b, const char *line, long min);

/* A server client announces itself (a BROADCAST to an agent nobody holds): once the
   broker held it, connected_servers reaches want. */
void cf_itest_broker_server_ready(const cf_itest_broker_t *b, zsock_t *server, long want);
/* An agent client says HELLO until the broker holds it (connected_agents reaches want),
   and the HELLO reaches one of the servers (n of them; NULL/0: no server listening: the
   agent's ERROR answers are read and dropped). */
void cf_itest_broker_agent_ready(const cf_itest_broker_t *b, zsock_t *agent, const char *id,
                                 long want, zsock_t **servers, size_t n);

#endif
