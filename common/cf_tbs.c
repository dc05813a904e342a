/*  cf_tbs - DER bodies of X.509 certificates and CRLs built from precomputed pieces  */
#include "cf_tbs.h"

#include <string.h>

#define S_MAX_CN 64 /* X.520 ub-common-name */

static const unsigned char s_oid_cn[] = {0x55, 0x04, 0x03};
static const unsigned char s_oid_bc[] = {0x55, 0x1d, 0x13};
static const unsigned char s_oid_ku[] = {0x55, 0x1d, 0x0f};
static const unsigned char s_oid_eku[] = {0x55, 0x1d, 0x25};
static const unsigned char s_oid_san[] = {0x55, 0x1d, 0x11};
static const unsigned char s_oid_ski[] = {0x55, 0x1d, 0x0e};
static const unsigned char s_oid_aki[] = {0x55, 0x1d, 0x23};
static const unsigned char s_oid_crlnum[] = {0x55, 0x1d, 0x14};
static const unsigned char s_oid_server_auth[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01};
static const unsigned char s_oid_client_auth[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02};
static const unsigned char s_true[] = {0xff};
static const unsigned char s_v3[] = {0xa0, 0x03, 0x02, 0x01, 0x02}; /* [0] EXPLICIT INTEGER 2 */

cf_err_t cf_tbs_name(cf_der_t *w, const char *cn)
{
    size_t len = cn ? strnlen(cn, S_MAX_CN + 1) : 0;
    if (len == 0 || len > S_MAX_CN) {
        if (w->err == CF_OK)
            w->err = CF_ERR_INVALID;
        return w->err;
    }
    size_t name = cf_der_begin(w, CF_DER_SEQUENCE);
    size_t rdn = cf_der_begin(w, CF_DER_SET);
    size_t atv = cf_der_begin(w, CF_DER_SEQUENCE);
    cf_der_tlv(w, CF_DER_OID, s_oid_cn, sizeof(s_oid_cn));
    cf_der_tlv(w, CF_DER_UTF8, cn, len);
    cf_der_end(w, atv);
    cf_der_end(w, rdn);
    cf_der_end(w, name);
    return cf_der_status(w);
}

/* Opens Extension { extnID, [critical TRUE], extnValue OCTET STRING { ... } }; the
   caller writes the value and closes both marks with s_ext_end. */
static void s_ext_begin(cf_der_t *w, const unsigned char *oid, size_t oid_len, int critical,
                        size_t marks[2])
{
    marks[0] = cf_der_begin(w, CF_DER_SEQUENCE);
    cf_der_tlv(w, CF_DER_OID, oid, oid_len);
    if (critical)
        cf_der_tlv(w, CF_DER_BOOLEAN, s_true, sizeof(s_true));
    marks[1] = cf_der_begin(w, CF_DER_OCTETS);
}

static void s_ext_end(cf_der_t *w, const size_t marks[2])
{
    cf_der_end(w, marks[1]);
    cf_der_end(w, marks[0]);
}

static void s_ext_basic_constraints(cf_der_t *w, int is_ca)
{
    size_t m[2];
    s_ext_begin(w, s_oid_bc, sizeof(s_oid_bc), 1, m);
    size_t seq = cf_der_begin(w, CF_DER_SEQUENCE);
    if (is_ca) {
        cf_der_tlv(w, CF_DER_BOOLEAN, s_true, sizeof(s_true));
        cf_der_u64(w, 0); /* pathLenConstraint 0: the CA signs end entities only */
    }
    cf_der_end(w, seq); /* CA:FALSE is the DEFAULT, so DER leaves the SEQUENCE empty */
    s_ext_end(w, m);
}

static void s_ext_key_usage(cf_der_t *w, unsigned bits)
{
    unsigned char byte = 0;
    for (unsigned n = 0; n < 8; n++) {
        if (bits & (1u << n))
            byte = (unsigned char) (byte | (0x80u >> n));
    }
    unsigned char content[2] = {0, byte};
    while (content[0] < 7 && !(byte & (1u << content[0])))
        content[0]++; /* DER: trailing zero bits of a named-bit list are unused bits */
    size_t m[2];
    s_ext_begin(w, s_oid_ku, sizeof(s_oid_ku), 1, m);
    cf_der_tlv(w, CF_DER_BITSTRING, content, sizeof(content));
    s_ext_end(w, m);
}

static void s_ext_eku(cf_der_t *w, unsigned eku)
{
    size_t m[2];
    s_ext_begin(w, s_oid_eku, sizeof(s_oid_eku), 0, m);
    size_t seq = cf_der_begin(w, CF_DER_SEQUENCE);
    if (eku & CF_TBS_EKU_SERVER)
        cf_der_tlv(w, CF_DER_OID, s_oid_server_auth, sizeof(s_oid_server_auth));
    if (eku & CF_TBS_EKU_CLIENT)
        cf_der_tlv(w, CF_DER_OID, s_oid_client_auth, sizeof(s_oid_client_auth));
    cf_der_end(w, seq);
    s_ext_end(w, m);
}

static void s_ext_san(cf_der_t *w, const cf_tbs_san_t *sans, size_t n)
{
    size_t m[2];
    s_ext_begin(w, s_oid_san, sizeof(s_oid_san), 0, m);
    size_t seq = cf_der_begin(w, CF_DER_SEQUENCE);
    for (size_t i = 0; i < n; i++)
        cf_der_tlv(w, sans[i].tag, sans[i].data, sans[i].len);
    cf_der_end(w, seq);
    s_ext_end(w, m);
}

static void s_ext_aki(cf_der_t *w, const unsigned char *aki, size_t len)
{
    size_t m[2];
    s_ext_begin(w, s_oid_aki, sizeof(s_oid_aki), 0, m);
    size_t seq = cf_der_begin(w, CF_DER_SEQUENCE);
    cf_der_tlv(w, CF_DER_CTX(0), aki, len); /* keyIdentifier [0] IMPLICIT OCTET STRING */
    cf_der_end(w, seq);
    s_ext_end(w, m);
}

static void s_extensions(cf_der_t *w, const cf_tbs_cert_t *c)
{
    size_t outer = cf_der_begin(w, CF_DER_CTXC(3));
    size_t seq = cf_der_begin(w, CF_DER_SEQUENCE);
    s_ext_basic_constraints(w, c->is_ca);
    if (c->key_usage)
        s_ext_key_usage(w, c->key_usage);
    if (c->eku)
        s_ext_eku(w, c->eku);
    if (c->n_sans)
        s_ext_san(w, c->sans, c->n_sans);
    size_t m[2];
    s_ext_begin(w, s_oid_ski, sizeof(s_oid_ski), 0, m);
    cf_der_tlv(w, CF_DER_OCTETS, c->ski, c->ski_len);
    s_ext_end(w, m);
    s_ext_aki(w, c->aki, c->aki_len);
    cf_der_end(w, seq);
    cf_der_end(w, outer);
}

cf_err_t cf_tbs_cert(cf_der_t *w, const cf_tbs_cert_t *c)
{
    if (w->err == CF_OK && (c->serial_len == 0 || c->serial_len > CF_TBS_MAX_SERIAL))
        w->err = CF_ERR_INVALID;
    size_t tbs = cf_der_begin(w, CF_DER_SEQUENCE);
    cf_der_raw(w, s_v3, sizeof(s_v3));
    cf_der_uint(w, c->serial, c->serial_len);
    cf_der_raw(w, c->sigalg, c->sigalg_len);
    cf_der_raw(w, c->issuer, c->issuer_len);
    size_t validity = cf_der_begin(w, CF_DER_SEQUENCE);
    cf_der_time(w, c->not_before);
    cf_der_time(w, c->not_after);
    cf_der_end(w, validity);
    if (cf_tbs_name(w, c->subject_cn) != CF_OK)
        return cf_der_status(w);
    cf_der_raw(w, c->spki, c->spki_len);
    s_extensions(w, c);
    cf_der_end(w, tbs);
    return cf_der_status(w);
}

static int s_hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

cf_err_t cf_tbs_serial_from_hex(const char *hex, unsigned char out[CF_TBS_MAX_SERIAL],
                                size_t *len_out)
{
    size_t n = hex ? strnlen(hex, 4 * CF_TBS_MAX_SERIAL + 1) : 0;
    if (n == 0 || n > 4 * CF_TBS_MAX_SERIAL)
        return CF_ERR_INVALID;
    size_t i = 0;
    while (i + 1 < n && hex[i] == '0')
        i++; /* leading zeros carry no value; keep one digit for "0" */
    size_t digits = n - i;
    if (digits > 2 * CF_TBS_MAX_SERIAL)
        return CF_ERR_INVALID;
    size_t len = (digits + 1) / 2;
    size_t o = 0;
    if (digits % 2) { /* odd count: the first byte holds one digit */
        int v = s_hexval(hex[i++]);
        if (v < 0)
            return CF_ERR_INVALID;
        out[o++] = (unsigned char) v;
    }
    for (; i < n; i += 2) {
        int hi = s_hexval(hex[i]);
        int lo = s_hexval(hex[i + 1]);
        if (hi < 0 || lo < 0)
            return CF_ERR_INVALID;
        out[o++] = (unsigned char) (hi << 4 | lo);
    }
    *len_out = len;
    return CF_OK;
}

static void s_revoked(cf_der_t *w, const cf_tbs_crl_t *c)
{
    size_t list = cf_der_begin(w, CF_DER_SEQUENCE);
    for (size_t i = 0; i < c->n_serials && w->err == CF_OK; i++) {
        unsigned char serial[CF_TBS_MAX_SERIAL];
        size_t len = 0;
        if (cf_tbs_serial_from_hex(c->serials[i], serial, &len) != CF_OK) {
            w->err = CF_ERR_INVALID;
            break;
        }
        size_t entry = cf_der_begin(w, CF_DER_SEQUENCE);
        cf_der_uint(w, serial, len);
        cf_der_time(w, c->this_update);
        cf_der_end(w, entry);
    }
    cf_der_end(w, list);
}

cf_err_t cf_tbs_crl(cf_der_t *w, const cf_tbs_crl_t *c)
{
    size_t tbs = cf_der_begin(w, CF_DER_SEQUENCE);
    cf_der_u64(w, 1); /* v2, needed for extensions */
    cf_der_raw(w, c->sigalg, c->sigalg_len);
    cf_der_raw(w, c->issuer, c->issuer_len);
    cf_der_time(w, c->this_update);
    cf_der_time(w, c->next_update);
    if (c->n_serials) /* an empty revokedCertificates must be absent, not empty */
        s_revoked(w, c);
    size_t outer = cf_der_begin(w, CF_DER_CTXC(0));
    size_t seq = cf_der_begin(w, CF_DER_SEQUENCE);
    s_ext_aki(w, c->aki, c->aki_len);
    size_t m[2];
    s_ext_begin(w, s_oid_crlnum, sizeof(s_oid_crlnum), 0, m);
    cf_der_u64(w, c->number);
    s_ext_end(w, m);
    cf_der_end(w, seq);
    cf_der_end(w, outer);
    cf_der_end(w, tbs);
    return cf_der_status(w);
}
