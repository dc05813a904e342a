/*  cf_itest_enroll - a protocol-level enrollment client for tests: an agent's CURVE keypair
    and TLS key made locally, POST /api/v1/agent/enroll with curl (token, shared or own
    certificate; CSR or push mode), and the certificate it gets as files for curl  */
#ifndef CF_ITEST_ENROLL_H_INCLUDED
#define CF_ITEST_ENROLL_H_INCLUDED

#include "cf_curve.h"
#include "cf_itest_fleet.h"
#include "cf_key.h"

/* One agent, as the enrollment protocol sees it. */
typedef struct {
    char id[64];                    /* its id (what it asks for) */
    char z85[CF_CURVE_Z85_LEN + 1]; /* its CURVE public key (the secret half is dropped) */
    cf_key_t *key;                  /* its TLS key (P-256), made here; never sent */
    cf_itest_cert_t cert;           /* after a CSR enrollment: its certificate as files */
    int has_cert;                   /* cert is filled */
    int n;                          /* enrollments answered with a certificate */
} cf_itest_agent_t;

/* How one enrollment is made. */
typedef struct {
    const cf_itest_server_t *srv; /* where */
    int plain;                    /* over the plain listener (else TLS) */
    const cf_itest_cert_t *cert;  /* client certificate (NULL: none) */
    const char *token;            /* enrollment token (NULL: none) */
    int csr;                      /* send a CSR for the agent's key (else push mode) */
    const char *csr_cn;           /* make the CSR for this id instead (NULL: the agent's) */
    const char *curve;            /* send this key text instead of the agent's (NULL: its own) */
} cf_itest_enroll_t;

/* A new agent id with fresh keys (fails the test on error). */
void cf_itest_agent_new(cf_itest_agent_t *a, const char *id);
/* Free its keys and certificate. */
void cf_itest_agent_free(cf_itest_agent_t *a);

/* Enroll a as how says. The answer's body into out (CF_ITEST_FLEET_BODY bytes); returns
   the HTTP status (0: none). A 200 with a certificate writes it with the agent's key to
   <fixture dir>/<id>-<n>.pem/.key into a->cert (checked: its CN is the id, its key the
   agent's). */
int cf_itest_enroll(cf_itest_agent_t *a, const cf_itest_enroll_t *how, char *out);

#endif
