/*  cf_test_ca - what the CA unit tests share: their directory, saving certificates, leaf checks  */
#ifndef CF_TEST_CA_H_INCLUDED
#define CF_TEST_CA_H_INCLUDED

#include <openssl/x509.h>

#include "cf_ca.h"

/* cmocka setup: a fresh test directory for the case (see cf_test_tmpdir). */
int cf_test_ca_setup(void **state);
/* The directory made by the last cf_test_ca_setup (borrowed). */
const char *cf_test_ca_dir(void);
/* Write cert as PEM to <dir>/<file>; fails the test on an error. */
void cf_test_ca_save_cert(const cf_cert_t *cert, const char *file);
/* 1 when x's extension nid is critical, 0 when not; fails the test when x lacks it. */
int cf_test_ca_critical(X509 *x, int nid);
/* Check, through OpenSSL, an end-entity certificate issued by ca for comp: signature, basic
   constraints, (extended) key usage, key identifiers, and its SANs, which must read sans
   ("DNS:x", "IP:<4|16>", "URI:x", joined by commas). rsa_key: the key is RSA. */
void cf_test_ca_check_leaf(const cf_ca_t *ca, const cf_cert_t *cert, cf_component_t comp,
                           int rsa_key, const char *sans);

#endif
