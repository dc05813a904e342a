/*  cf_der - bounded DER writer: tag-length-value into a capped buffer, no parser  */
#ifndef CF_DER_H_INCLUDED
#define CF_DER_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cf_err.h"

/* DER tags the certificate and CRL builders use (single-byte tags only). */
#define CF_DER_BOOLEAN   0x01
#define CF_DER_INTEGER   0x02
#define CF_DER_BITSTRING 0x03
#define CF_DER_OCTETS    0x04
#define CF_DER_NULL      0x05
#define CF_DER_OID       0x06
#define CF_DER_UTF8      0x0c
#define CF_DER_UTCTIME   0x17
#define CF_DER_GENTIME   0x18
#define CF_DER_SEQUENCE  0x30
#define CF_DER_SET       0x31
#define CF_DER_CTX(n)    (0x80u | (n)) /* [n] IMPLICIT, primitive */
#define CF_DER_CTXC(n)   (0xa0u | (n)) /* [n] EXPLICIT or constructed */

#define CF_DER_MAX_LEN 0xffffffu /* longest content one TLV may hold (3 length bytes) */

/* A writer over a buffer the caller owns. The writer is sticky: the first failure is kept
   in err and every later call does nothing, so a builder writes a whole structure and
   checks once with cf_der_status(). Writing past cap sets CF_ERR_TOOBIG (never truncates
   silently: the bytes written so far stay, len stops growing). Not for untrusted input:
   it only writes. */
typedef struct {
    unsigned char *buf; /* caller's buffer, borrowed */
    size_t cap;         /* bytes available in buf */
    size_t len;         /* bytes written so far */
    cf_err_t err;       /* first failure; CF_OK while everything fit */
} cf_der_t;

/* Start writing at buf[0]; buf may be NULL only when cap is 0 (then any write fails). */
void cf_der_init(cf_der_t *w, unsigned char *buf, size_t cap);
/* CF_OK, or the first failure (CF_ERR_TOOBIG when the buffer ran out, CF_ERR_INVALID for
   a value DER cannot carry, e.g. a time before year 0). */
CF_MUST_USE cf_err_t cf_der_status(const cf_der_t *w);

/* Append bytes that are already DER (a precomputed Name, AlgorithmIdentifier, SPKI). */
void cf_der_raw(cf_der_t *w, const void *data, size_t len);
/* Append one primitive TLV: tag (0..255), definite length, len content bytes. */
void cf_der_tlv(cf_der_t *w, unsigned tag, const void *data, size_t len);

/* Open a constructed TLV whose length is not known yet. Returns a mark to hand to
   cf_der_end once the content is written; marks nest like brackets (close the innermost
   first). The length is fixed up at cf_der_end, moving the content when it needs more
   than one length byte. */
size_t cf_der_begin(cf_der_t *w, unsigned tag);
void cf_der_end(cf_der_t *w, size_t mark);

/* INTEGER from an unsigned big-endian magnitude (len may be 0 for the value 0): leading
   zero bytes are dropped and a 0x00 is prepended when the top bit is set, so the value is
   never negative and the encoding is minimal. */
void cf_der_uint(cf_der_t *w, const unsigned char *be, size_t len);
/* INTEGER from a small non-negative number (versions, pathLen, CRL numbers). */
void cf_der_u64(cf_der_t *w, uint64_t value);
/* BIT STRING with zero unused bits holding len bytes (signatures, public keys). */
void cf_der_bits(cf_der_t *w, const void *data, size_t len);
/* RFC 5280 Time: UTCTime for years 1950-2049, GeneralizedTime otherwise (years 0-9999;
   anything else sets CF_ERR_INVALID). Always UTC with seconds and a trailing 'Z'. */
void cf_der_time(cf_der_t *w, int64_t t);

/* Broken-down UTC for a Unix time (proleptic Gregorian, no time zone, no locks). */
typedef struct {
    int64_t year; /* e.g. 2049 */
    int mon;      /* 1..12 */
    int day;      /* 1..31 */
    int hour;     /* 0..23 */
    int min;      /* 0..59 */
    int sec;      /* 0..59 */
} cf_der_tm_t;
void cf_der_gmtime(int64_t t, cf_der_tm_t *tm);

#endif
