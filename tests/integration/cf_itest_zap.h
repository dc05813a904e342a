/*  cf_itest_zap - ZAP tests' fixture: a ZAP handler with a CURVE ROUTER on loopback TCP and
    its monitor, CURVE DEALER clients, bounded receives and waits for monitor events  */
#ifndef CF_ITEST_ZAP_H_INCLUDED
#define CF_ITEST_ZAP_H_INCLUDED

#include <stdint.h>

#include "cf_curve.h"
#include "cf_err.h"
#include "cf_zap.h"
#include "cf_zsock.h"

#define CF_ITEST_ZAP_WAIT_MS 5000 /* every wait in here is bounded by this */

typedef struct {
    cf_zap_t *zap;             /* the handler */
    cf_curve_keypair_t server; /* the broker's keys */
    zsock_t *router;           /* CURVE ROUTER on 127.0.0.1:port */
    cf_curve_broker_t broker;  /* its endpoint and public key, as clients get it */
    zsock_t *mon;              /* PAIR reading the router's monitor events */
} cf_itest_zap_fix_t;

/* Milliseconds of CLOCK_MONOTONIC. */
long cf_itest_zap_now_ms(void);
/* Monitor events of sock on a new PAIR socket (before any peer connects). */
zsock_t *cf_itest_zap_mon_start(zsock_t *sock);
/* Stop monitoring sock (may be NULL), then close the reader *mon_p (set to NULL). */
void cf_itest_zap_mon_stop(zsock_t *sock, zsock_t **mon_p);
/* Wait for event on a monitor; 1 and its value (value_out may be NULL), or 0 after
   CF_ITEST_ZAP_WAIT_MS. */
int cf_itest_zap_mon_wait(zsock_t *mon, int event, uint32_t *value_out);

/* Start the one fixture a test may hold: a handler in domain (NULL: the default), then a
   CURVE ROUTER on a free 127.0.0.1 port with scfg (NULL: defaults), monitored. Fails the
   test on any error. Stop it with cf_itest_zap_stop. */
cf_itest_zap_fix_t *cf_itest_zap_start_cfg(const char *domain, const cf_zsock_cfg_t *scfg);
cf_itest_zap_fix_t *cf_itest_zap_start(const char *domain);
/* Stop the fixture: the monitor, the ROUTER, then the handler; wipe the broker's keys. */
void cf_itest_zap_stop(void);
/* cmocka teardown: after a failed test, stop the fixture it left running. */
int cf_itest_zap_teardown(void **state);

/* A CURVE DEALER as kp with routing id rid to f's broker, with high-water marks hwm (0:
   defaults) and a quick reconnect; fails the test on error. */
zsock_t *cf_itest_zap_client_hwm(const cf_itest_zap_fix_t *f, const cf_curve_keypair_t *kp,
                                 const char *rid, int hwm);
zsock_t *cf_itest_zap_client(const cf_itest_zap_fix_t *f, const cf_curve_keypair_t *kp,
                             const char *rid);
/* Receive one message on sock within wait_ms (0: only what is there now) with
   cf_zsock_recv (16 frames, 64 KiB); CF_ERR_NOTFOUND when none came. */
CF_MUST_USE cf_err_t cf_itest_zap_recv(zsock_t *sock, int wait_ms, zmsg_t **msg,
                                       cf_zsock_peer_t *peer);
/* The client sends text (client NULL: the peer sends it by itself); f's router must get it
   from user_id within CF_ITEST_ZAP_WAIT_MS; the peer into peer_out (may be NULL). */
void cf_itest_zap_expect_delivered(cf_itest_zap_fix_t *f, zsock_t *client, const char *text,
                                   const char *user_id, cf_zsock_peer_t *peer_out);
/* A fresh keypair (test keys: thrown away, not wiped). */
cf_curve_keypair_t cf_itest_zap_kp(void);
/* The handler's counters. */
cf_zap_stats_t cf_itest_zap_stats(cf_itest_zap_fix_t *f);

#endif
