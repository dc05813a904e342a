/*  cf_cert_int - what cf_cert.c shares with cf_cert_reader.c  */
#ifndef CF_CERT_INT_H_INCLUDED
#define CF_CERT_INT_H_INCLUDED

#include "cf_cert.h"

/* Take ownership of x509 (one reference) and fill the cached fields. reader: x509 was read
   by a cf_cert_reader (its key not decoded: key_name stays ""). On failure x509 is freed. */
CF_MUST_USE cf_err_t cf_cert_wrap(X509 *x509, int reader, cf_cert_t **cert_out);

#endif
