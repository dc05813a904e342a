/*  cf_tbs - DER bodies of X.509 certificates and CRLs built from precomputed pieces  */
#ifndef CF_TBS_H_INCLUDED
#define CF_TBS_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "cf_der.h"
#include "cf_err.h"

/* keyUsage bits, RFC 5280 4.2.1.3 numbering (bit n of the BIT STRING). */
#define CF_TBS_KU_DIGITAL_SIGNATURE (1u << 0)
#define CF_TBS_KU_KEY_ENCIPHERMENT  (1u << 2)
#define CF_TBS_KU_KEY_CERT_SIGN     (1u << 5)
#define CF_TBS_KU_CRL_SIGN          (1u << 6)

/* extendedKeyUsage purposes. */
#define CF_TBS_EKU_SERVER (1u << 0) /* id-kp-serverAuth */
#define CF_TBS_EKU_CLIENT (1u << 1) /* id-kp-clientAuth */

/* GeneralName tags for subjectAltName entries. */
#define CF_TBS_SAN_DNS CF_DER_CTX(2) /* dNSName, IA5String content */
#define CF_TBS_SAN_URI CF_DER_CTX(6) /* uniformResourceIdentifier, IA5String content */
#define CF_TBS_SAN_IP  CF_DER_CTX(7) /* iPAddress: 4 or 16 bytes */

#define CF_TBS_MAX_SERIAL 20 /* RFC 5280 4.1.2.2: serials are at most 20 octets */

typedef struct {
    unsigned tag;              /* CF_TBS_SAN_DNS, CF_TBS_SAN_URI or CF_TBS_SAN_IP */
    const unsigned char *data; /* content bytes, borrowed */
    size_t len;                /* bytes in data */
} cf_tbs_san_t;

/* Everything a TBSCertificate holds. All pointers are borrowed for the call. The
   extensions written are fixed by the flags: basicConstraints (critical; CA:TRUE pathLen 0
   when is_ca, else an empty SEQUENCE meaning CA:FALSE), keyUsage (critical, when
   key_usage != 0), extendedKeyUsage (when eku != 0), subjectAltName (when n_sans > 0),
   subjectKeyIdentifier, authorityKeyIdentifier (keyIdentifier only). */
typedef struct {
    const unsigned char *serial; /* serialNumber as an unsigned big-endian magnitude */
    size_t serial_len;           /* 1..CF_TBS_MAX_SERIAL */
    const unsigned char *sigalg; /* signature AlgorithmIdentifier DER */
    size_t sigalg_len;           /* bytes in sigalg */
    const unsigned char *issuer; /* issuer Name DER (the CA's subject, byte for byte) */
    size_t issuer_len;           /* bytes in issuer */
    int64_t not_before;          /* Unix time */
    int64_t not_after;           /* Unix time */
    const char *subject_cn;      /* subject Name is CN=<subject_cn> (UTF8String) */
    const unsigned char *spki;   /* SubjectPublicKeyInfo DER */
    size_t spki_len;             /* bytes in spki */
    const unsigned char *ski;    /* subjectKeyIdentifier bytes */
    size_t ski_len;              /* bytes in ski (20 for a SHA-1 key id) */
    const unsigned char *aki;    /* issuer's key identifier */
    size_t aki_len;              /* bytes in aki */
    int is_ca;                   /* basicConstraints CA:TRUE, pathLen 0 */
    unsigned key_usage;          /* CF_TBS_KU_* bits; 0 leaves keyUsage out */
    unsigned eku;                /* CF_TBS_EKU_* bits; 0 leaves extendedKeyUsage out */
    const cf_tbs_san_t *sans;    /* subjectAltName entries in order */
    size_t n_sans;               /* entries in sans */
} cf_tbs_cert_t;

/* Everything a version 2 TBSCertList holds. Each revoked entry gets revocationDate =
   this_update (the store keeps serials only). Extensions: authorityKeyIdentifier and
   cRLNumber, both non-critical. */
typedef struct {
    const unsigned char *sigalg; /* signature AlgorithmIdentifier DER */
    size_t sigalg_len;           /* bytes in sigalg */
    const unsigned char *issuer; /* issuer Name DER */
    size_t issuer_len;           /* bytes in issuer */
    int64_t this_update;         /* Unix time */
    int64_t next_update;         /* Unix time */
    const unsigned char *aki;    /* issuer's key identifier */
    size_t aki_len;              /* bytes in aki */
    uint64_t number;             /* cRLNumber */
    const char *const *serials;  /* revoked serials as hex (cf_tbs_serial_from_hex) */
    size_t n_serials;            /* entries in serials; 0 leaves the list out */
} cf_tbs_crl_t;

/* Name DER with one RDN, CN=<cn> as UTF8String. cn is 1..64 bytes (the X.520 upper
   bound); CF_ERR_INVALID otherwise. */
CF_MUST_USE cf_err_t cf_tbs_name(cf_der_t *w, const char *cn);
/* Append the TBSCertificate (version 3). Returns cf_der_status(w): CF_ERR_TOOBIG when the
   buffer is too small, CF_ERR_INVALID for fields out of range (empty serial, bad CN,
   times DER cannot carry). */
CF_MUST_USE cf_err_t cf_tbs_cert(cf_der_t *w, const cf_tbs_cert_t *c);
/* Append the TBSCertList (version 2). CF_ERR_INVALID when a serial is not valid hex. */
CF_MUST_USE cf_err_t cf_tbs_crl(cf_der_t *w, const cf_tbs_crl_t *c);

/* Parse a serial in the form cf_cert_serial gives (hex, either case, no colons, optional
   leading zeros) into its big-endian magnitude: out gets *len_out (1..CF_TBS_MAX_SERIAL)
   bytes without leading zero bytes (the value 0 is one 0x00 byte). CF_ERR_INVALID for
   NULL, empty, non-hex or longer than 20 significant octets. */
CF_MUST_USE cf_err_t cf_tbs_serial_from_hex(const char *hex, unsigned char out[CF_TBS_MAX_SERIAL],
                                            size_t *len_out);

#endif
