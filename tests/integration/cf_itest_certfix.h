/*  cf_itest_certfix - what the certificate API tests share: another CA's certificates made by
    openssl, the import bodies, and a dump of every Redis key with its values  */
#ifndef CF_ITEST_CERTFIX_H_INCLUDED
#define CF_ITEST_CERTFIX_H_INCLUDED

#include <stddef.h>

#define CF_ITEST_CERTFIX_IMPPASS "imp-pass" /* the PKCS#12 files made by openssl */
#define CF_ITEST_CERTFIX_KEYPASS "key-pass" /* the encrypted PEM key made by openssl */
/* import bodies (POST /certs/<component>/<name>/import) */
#define CF_ITEST_CERTFIX_P12   "{\"format\":\"p12\",\"data\":\"%s\",\"password\":\"%s\"}"
#define CF_ITEST_CERTFIX_PEM   "{\"format\":\"pem\",\"cert\":%s,\"key\":%s}"
#define CF_ITEST_CERTFIX_PEMPW "{\"format\":\"pem\",\"cert\":%s,\"key\":%s,\"password\":\"%s\"}"
#define CF_ITEST_CERTFIX_PUB   "{\"format\":\"public\",\"cert\":%s}"
#define CF_ITEST_CERTFIX_STORE "{\"store\":\"%s/%s\",\"match\":\"%s\"}"

/* In dir, certificates of another CA ("Outside CA", xca.pem, xca.key), made by openssl: srv
   (server: srv2.test, srv3.test) as PKCS#12 (srv.p12), PEM (srv.pem, srv.key) and encrypted
   PEM key (srv-enc.key); ops (console, clientAuth) as PEM and PKCS#12; desk (clientAuth, PEM);
   a store directory with desk.pem (public), ca.crt and ops.p12; junk.p12 (random bytes). The
   PKCS#12 files open with CF_ITEST_CERTFIX_IMPPASS, srv-enc.key with
   CF_ITEST_CERTFIX_KEYPASS. Fails the test on any error. */
void cf_itest_certfix_make(const char *dir);

/* POST /certs/<target>/export as a PKCS#12 under password (the server of cf_itest_certs) and
   write the decoded file to dir/file (dir/file.b64 on the way). Fails the test on any error. */
void cf_itest_certfix_export_p12(const char *dir, const char *target, const char *password,
                                 const char *file);

typedef struct {
    char *buf;  /* the dump (free it) */
    size_t len; /* bytes used */
    size_t cap; /* allocated */
} cf_itest_certfix_dump_t;

/* Every key (SCAN) of the redis-server on 127.0.0.1:redis_port with its type and values,
   sorted, so that two dumps of the same data compare equal whatever order Redis answers in;
   all = 0 leaves out what changes by itself or by every admin call (audit stream,
   heartbeats, leases, sessions). Fails the test on any error. */
cf_itest_certfix_dump_t cf_itest_certfix_dump(int redis_port, int all);

#endif
