/*  cf_cert - one X.509 certificate: parse, inspect, verify, classify, renewal timing  */
#include "cf_cert.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cf_cert_int.h"
#include "cf_mem.h"

struct cf_cert {
    X509 *x509;           /* one reference, owned */
    char fingerprint[65]; /* SHA-256 hex */
    char serial[84];      /* hex; X.509 caps serials at 20 octets, we allow some slack */
    char *subject;        /* RFC 2253, owned */
    char *issuer;         /* RFC 2253, owned */
    char *common_name;    /* "" when absent, owned */
    char key_name[32];    /* "P-256", ... */
    time_t not_before;    /* seconds since the epoch, UTC */
    time_t not_after;     /* seconds since the epoch, UTC */
    char **sans;          /* "DNS:x" ..., owned, nsans entries */
    size_t nsans;         /* number of entries in sans */
    const char *agent_id; /* points into sans[i] after the URI prefix, or NULL */
    int shared_agent;     /* has the shared-agent URI */
};

static const char *const s_components[] = {"unknown", "server", "console", "agent", "ca"};

const char *cf_component_name(cf_component_t c)
{
    if ((unsigned) c > (unsigned) CF_COMPONENT_CA)
        return "unknown";
    return s_components[c];
}

cf_err_t cf_component_from_name(const char *name, cf_component_t *out)
{
    if (!name || !out)
        return CF_ERR_INVALID;
    for (int i = 1; i <= (int) CF_COMPONENT_CA; i++) {
        if (strcasecmp(name, s_components[i]) == 0) {
            *out = (cf_component_t) i;
            return CF_OK;
        }
    }
    return CF_ERR_INVALID;
}

const char *cf_cert_state_name(cf_cert_state_t s)
{
    switch (s) {
    case CF_CERT_CURRENT: return "current";
    case CF_CERT_ARCHIVED: return "archived";
    case CF_CERT_EXPIRED: return "expired";
    case CF_CERT_NOTYETVALID: return "not-yet-valid";
    case CF_CERT_REVOKED: return "revoked";
    default: return "unknown";
    }
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil):
   timegm() is not in POSIX, and ASN1_TIME_to_tm gives a broken-down UTC time. */
static long s_days_from_civil(long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const long era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned) (y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long) doe - 719468;
}

static cf_err_t s_time(const ASN1_TIME *t, time_t *out)
{
    struct tm tm;
    if (!t || !ASN1_TIME_to_tm(t, &tm))
        return CF_ERR_CORRUPT;
    long days = s_days_from_civil((long) tm.tm_year + 1900, (unsigned) tm.tm_mon + 1,
                                  (unsigned) tm.tm_mday);
    *out = (time_t) days * 86400 + tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
    return CF_OK;
}

char *cf_cert_name_text(const X509_NAME *name)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio)
        return NULL;
    char *text = NULL;
    if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        char *data = NULL;
        long n = BIO_get_mem_data(bio, &data);
        text = cf_mem_strndup(n > 0 ? data : "", n > 0 ? (size_t) n : 0);
    }
    BIO_free(bio);
    return text;
}

static char *s_common_name(const X509_NAME *name)
{
    int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (idx < 0)
        return cf_mem_strdup("");
    unsigned char *utf8 = NULL;
    int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
    if (n < 0)
        return cf_mem_strdup("");
    char *cn = cf_mem_strndup((const char *) utf8, (size_t) n);
    OPENSSL_free(utf8);
    return cn;
}

static char *s_gen_text(const GENERAL_NAME *gen)
{
    char buf[512];
    int type = 0;
    const ASN1_STRING *str = GENERAL_NAME_get0_value(gen, &type);
    const char *prefix = NULL;
    switch (type) {
    case GEN_DNS: prefix = "DNS"; break;
    case GEN_URI: prefix = "URI"; break;
    case GEN_EMAIL: prefix = "email"; break;
    case GEN_IPADD: {
        char ip[INET6_ADDRSTRLEN] = "?";
        int len = ASN1_STRING_length(str);
        const unsigned char *d = ASN1_STRING_get0_data(str);
        if (len == 4 || len == 16)
            inet_ntop(len == 4 ? AF_INET : AF_INET6, d, ip, sizeof(ip));
        snprintf(buf, sizeof(buf), "IP:%s", ip);
        return cf_mem_strdup(buf);
    }
    default: return cf_mem_strdup("other:?");
    }
    int len = ASN1_STRING_length(str);
    snprintf(buf, sizeof(buf), "%s:%.*s", prefix, len < 400 ? len : 400,
             (const char *) ASN1_STRING_get0_data(str));
    return cf_mem_strdup(buf);
}

static cf_err_t s_load_sans(cf_cert_t *self)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(self->x509, NID_subject_alt_name, NULL, NULL);
    if (!gens)
        return CF_OK;
    cf_err_t rc = CF_ERR_NOMEM;
    int n = sk_GENERAL_NAME_num(gens);
    if (n > CF_CERT_MAX_SANS)
        n = CF_CERT_MAX_SANS;
    self->sans = cf_mem_calloc((size_t) (n > 0 ? n : 1), sizeof(char *));
    if (!self->sans)
        goto out;
    for (int i = 0; i < n; i++) {
        char *text = s_gen_text(sk_GENERAL_NAME_value(gens, i));
        if (!text)
            goto out;
        self->sans[self->nsans++] = text;
        const size_t plen = strlen("URI:" CF_AGENT_URI_PREFIX);
        if (!self->agent_id && strncmp(text, "URI:" CF_AGENT_URI_PREFIX, plen) == 0 && text[plen])
            self->agent_id = text + plen;
        if (strcmp(text, "URI:" CF_AGENT_SHARED_URI) == 0)
            self->shared_agent = 1;
    }
    rc = CF_OK;
out:
    GENERAL_NAMES_free(gens);
    return rc;
}

/* SHA-256 of the DER encoding, hashed here rather than by X509_digest (which works in the
   certificate's library context: a cf_cert_reader's has no digests). */
static cf_err_t s_load_fingerprint(cf_cert_t *self)
{
    unsigned char *der = NULL;
    int n = i2d_X509(self->x509, &der);
    cf_err_t rc =
        n > 0 ? cf_cert_der_fingerprint(der, (size_t) n, self->fingerprint) : CF_ERR_CORRUPT;
    OPENSSL_free(der);
    return rc;
}

static cf_err_t s_load_serial(cf_cert_t *self)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(self->x509), NULL);
    if (!bn)
        return CF_ERR_CORRUPT;
    char *hex = BN_bn2hex(bn);
    BN_free(bn);
    if (!hex)
        return CF_ERR_NOMEM;
    size_t i = 0;
    for (; hex[i] && i < sizeof(self->serial) - 1; i++)
        self->serial[i] = (char) (hex[i] >= 'A' && hex[i] <= 'F' ? hex[i] + 32 : hex[i]);
    self->serial[i] = '\0';
    int too_long = hex[i] != '\0';
    OPENSSL_free(hex);
    return too_long ? CF_ERR_CORRUPT : CF_OK;
}

cf_err_t cf_cert_wrap(X509 *x509, int reader, cf_cert_t **cert_out)
{
    cf_cert_t *self = cf_mem_calloc(1, sizeof(*self));
    if (!self) {
        X509_free(x509);
        return CF_ERR_NOMEM;
    }
    self->x509 = x509;
    cf_err_t rc = s_load_fingerprint(self);
    if (rc == CF_OK)
        rc = s_load_serial(self);
    if (rc == CF_OK)
        rc = s_time(X509_get0_notBefore(x509), &self->not_before);
    if (rc == CF_OK)
        rc = s_time(X509_get0_notAfter(x509), &self->not_after);
    if (rc == CF_OK) {
        rc = CF_ERR_NOMEM;
        self->subject = cf_cert_name_text(X509_get_subject_name(x509));
        self->issuer = cf_cert_name_text(X509_get_issuer_name(x509));
        self->common_name = s_common_name(X509_get_subject_name(x509));
        if (self->subject && self->issuer && self->common_name)
            rc = s_load_sans(self);
    }
    EVP_PKEY *pkey = X509_get0_pubkey(x509);
    if (pkey || !reader) /* a reader's certificate has its key not decoded: key_name "" */
        cf_key_describe_pkey(pkey, self->key_name, sizeof(self->key_name));
    ERR_clear_error();
    if (rc != CF_OK) {
        cf_cert_destroy(&self);
        return rc;
    }
    *cert_out = self;
    return CF_OK;
}

/* One DER certificate fills buf exactly: SEQUENCE with a long-form length (a certificate is
   longer than 127 bytes) that ends at len. Such a buffer is DER even if "-----BEGIN " occurs
   inside it (in a name, say); text never starts with 0x30 0x81..0x83 and that exact length. */
static int s_is_der(const unsigned char *p, size_t len)
{
    if (len < 4 || p[0] != 0x30 || p[1] < 0x81 || p[1] > 0x83)
        return 0;
    size_t n = p[1] - 0x80;
    if (len < 2 + n)
        return 0;
    size_t body = 0;
    for (size_t i = 0; i < n; i++)
        body = body << 8 | p[2 + i];
    return 2 + n + body == len;
}

static int s_is_pem(const void *buf, size_t len)
{
    static const char marker[] = "-----BEGIN ";
    const char *p = buf;
    if (s_is_der(buf, len))
        return 0;
    for (size_t i = 0; i + sizeof(marker) - 1 <= len; i++) {
        if (memcmp(p + i, marker, sizeof(marker) - 1) == 0)
            return 1;
    }
    return 0;
}

static cf_err_t s_parse_der(const void *buf, size_t len, cf_cert_t **cert_out)
{
    const unsigned char *p = buf;
    X509 *x509 = d2i_X509(NULL, &p, (long) len);
    if (!x509 || p != (const unsigned char *) buf + len) {
        X509_free(x509);
        ERR_clear_error();
        return CF_ERR_CORRUPT;
    }
    return cf_cert_wrap(x509, 0, cert_out);
}

cf_err_t cf_cert_parse_all(const void *buf, size_t len, cf_cert_t **certs, size_t max,
                           size_t *n_out)
{
    if (!buf || !certs || !n_out || max == 0 || max > CF_CERT_MAX_CHAIN)
        return CF_ERR_INVALID;
    *n_out = 0;
    if (len > CF_CERT_MAX_INPUT)
        return CF_ERR_TOOBIG;
    if (len == 0)
        return CF_ERR_CORRUPT;
    if (!s_is_pem(buf, len)) {
        CF_TRY(s_parse_der(buf, len, &certs[0]));
        *n_out = 1;
        return CF_OK;
    }
    BIO *bio = BIO_new_mem_buf(buf, (int) len);
    if (!bio)
        return CF_ERR_NOMEM;
    cf_err_t rc = CF_OK;
    size_t n = 0;
    X509 *x509 = NULL;
    while ((x509 = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (n == max) {
            X509_free(x509);
            rc = CF_ERR_TOOBIG;
            break;
        }
        rc = cf_cert_wrap(x509, 0, &certs[n]);
        if (rc != CF_OK)
            break;
        n++;
    }
    /* PEM_read_bio_X509 ends with "no start line" at a clean end; anything else is damage */
    unsigned long err = ERR_peek_last_error();
    if (rc == CF_OK && (n == 0 || (err && ERR_GET_REASON(err) != PEM_R_NO_START_LINE)))
        rc = CF_ERR_CORRUPT;
    ERR_clear_error();
    BIO_free(bio);
    if (rc != CF_OK) {
        while (n > 0)
            cf_cert_destroy(&certs[--n]);
        return rc;
    }
    *n_out = n;
    return CF_OK;
}

cf_err_t cf_cert_parse(const void *buf, size_t len, cf_cert_t **cert_out)
{
    if (!buf || !cert_out)
        return CF_ERR_INVALID;
    *cert_out = NULL;
    if (len > CF_CERT_MAX_INPUT)
        return CF_ERR_TOOBIG;
    if (len == 0)
        return CF_ERR_CORRUPT;
    if (!s_is_pem(buf, len))
        return s_parse_der(buf, len, cert_out);
    BIO *bio = BIO_new_mem_buf(buf, (int) len);
    if (!bio)
        return CF_ERR_NOMEM;
    X509 *x509 = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    ERR_clear_error();
    if (!x509)
        return CF_ERR_CORRUPT;
    return cf_cert_wrap(x509, 0, cert_out);
}

cf_err_t cf_cert_from_x509(X509 *x509, cf_cert_t **cert_out)
{
    if (!x509 || !cert_out)
        return CF_ERR_INVALID;
    *cert_out = NULL;
    if (!X509_up_ref(x509))
        return CF_ERR_CRYPTO;
    return cf_cert_wrap(x509, 0, cert_out);
}

cf_cert_t *cf_cert_dup(const cf_cert_t *cert)
{
    cf_cert_t *copy = NULL;
    if (!cert || cf_cert_from_x509(cert->x509, &copy) != CF_OK)
        return NULL;
    return copy;
}

void cf_cert_destroy(cf_cert_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cf_cert_t *self = *self_p;
    X509_free(self->x509);
    cf_mem_free(self->subject);
    cf_mem_free(self->issuer);
    cf_mem_free(self->common_name);
    for (size_t i = 0; i < self->nsans; i++)
        cf_mem_free(self->sans[i]);
    cf_mem_free(self->sans);
    cf_mem_free(self);
    *self_p = NULL;
}

X509 *cf_cert_x509(const cf_cert_t *cert)
{
    CF_ASSERT(cert);
    return cert->x509;
}

cf_err_t cf_cert_to_pem(const cf_cert_t *cert, char **pem_out, size_t *len_out)
{
    if (!cert || !pem_out)
        return CF_ERR_INVALID;
    *pem_out = NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio)
        return CF_ERR_NOMEM;
    cf_err_t rc = CF_ERR_CRYPTO;
    char *data = NULL;
    long n = 0;
    if (PEM_write_bio_X509(bio, cert->x509))
        n = BIO_get_mem_data(bio, &data);
    if (n > 0) {
        *pem_out = cf_mem_strndup(data, (size_t) n);
        rc = *pem_out ? CF_OK : CF_ERR_NOMEM;
        if (len_out && rc == CF_OK)
            *len_out = (size_t) n;
    }
    BIO_free(bio);
    ERR_clear_error();
    return rc;
}

cf_err_t cf_cert_to_der(const cf_cert_t *cert, unsigned char **der_out, size_t *len_out)
{
    if (!cert || !der_out || !len_out)
        return CF_ERR_INVALID;
    *der_out = NULL;
    unsigned char *der = NULL;
    int n = i2d_X509(cert->x509, &der);
    if (n <= 0) {
        ERR_clear_error();
        return CF_ERR_CRYPTO;
    }
    *der_out = cf_mem_memdup(der, (size_t) n);
    OPENSSL_free(der);
    if (!*der_out)
        return CF_ERR_NOMEM;
    *len_out = (size_t) n;
    return CF_OK;
}

const char *cf_cert_fingerprint(const cf_cert_t *cert)
{
    CF_ASSERT(cert);
    return cert->fingerprint;
}

const char *cf_cert_serial(const cf_cert_t *cert)
{
    CF_ASSERT(cert);
    return cert->serial;
}

const char *cf_cert_subject(const cf_cert_t *cert)
{
    CF_ASSERT(cert);
    return cert->subject;
}

const char *cf_cert_issuer(const cf_cert_t *cert)
{
    CF_ASSERT(cert);
    return cert->issuer;
}

const char *cf_cert_common_name(const cf_cert_t *cert)
{
    CF_ASSERT(cert);
    return cert->common_name;
}

const char *cf_cert_key_name(const cf_cert_t *cert)
{
    CF_ASSERT(cert);
    return cert->key_name;
}

time_t cf_cert_not_before(const cf_cert_t *cert)
{
    CF_ASSERT(cert);
    return cert->not_before;
}

time_t cf_cert_not_after(const cf_cert_t *cert)
{
    CF_ASSERT(cert);
    return cert->not_after;
}

int cf_cert_is_ca(const cf_cert_t *cert)
{
    CF_ASSERT(cert);
    return (X509_get_extension_flags(cert->x509) & EXFLAG_CA) != 0;
}

/* EKU bits only count when the extension is present: a certificate without EKU is not
   accepted as a job signer or a server by certfleet's stricter rules. */
static int s_has_eku(const cf_cert_t *cert, uint32_t bit)
{
    if (!(X509_get_extension_flags(cert->x509) & EXFLAG_XKUSAGE))
        return 0;
    return (X509_get_extended_key_usage(cert->x509) & bit) != 0;
}

int cf_cert_has_server_auth(const cf_cert_t *cert)
{
    CF_ASSERT(cert);
    return s_has_eku(cert, XKU_SSL_SERVER);
}

int cf_cert_has_client_auth(const cf_cert_t *cert)
{
    CF_ASSERT(cert);
    return s_has_eku(cert, XKU_SSL_CLIENT);
}

cf_component_t cf_cert_component(const cf_cert_t *cert)
{
    CF_ASSERT(cert);
    if (cf_cert_is_ca(cert))
        return CF_COMPONENT_CA;
    if (cert->agent_id || cert->shared_agent)
        return CF_COMPONENT_AGENT;
    if (cf_cert_has_server_auth(cert))
        return CF_COMPONENT_SERVER;
    if (cf_cert_has_client_auth(cert))
        return CF_COMPONENT_CONSOLE;
    return CF_COMPONENT_UNKNOWN;
}

const char *cf_cert_agent_id(const cf_cert_t *cert)
{
    CF_ASSERT(cert);
    return cert->agent_id;
}

size_t cf_cert_san_count(const cf_cert_t *cert)
{
    CF_ASSERT(cert);
    return cert->nsans;
}

const char *cf_cert_san(const cf_cert_t *cert, size_t i)
{
    CF_ASSERT(cert);
    return i < cert->nsans ? cert->sans[i] : NULL;
}
