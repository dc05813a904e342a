/*  cf_curve - CURVE keys: keypairs, Z85 text, broker endpoints with their key  */
#include "cf_curve.h"

#include <stdio.h>
#include <string.h>

#include <zmq.h>

#include "cf_mem.h"

/* The Z85 alphabet (ZeroMQ RFC 32), only to name a bad character; libzmq does the coding. */
static const char s_z85_chars[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  ".-:+=^!/*?&<>()[]{}@%$#";

cf_err_t cf_curve_keypair_new(cf_curve_keypair_t *kp)
{
    if (!kp)
        return CF_ERR_INVALID;
    char pub[CF_CURVE_Z85_LEN + 1];
    char sec[CF_CURVE_Z85_LEN + 1];
    cf_err_t rc = CF_ERR_UNSUPPORTED;
    if (zmq_curve_keypair(pub, sec) == 0 && zmq_z85_decode(kp->pub, pub) &&
        zmq_z85_decode(kp->sec, sec))
        rc = CF_OK;
    cf_mem_wipe(sec, sizeof(sec));
    if (rc != CF_OK)
        cf_curve_keypair_wipe(kp);
    return rc;
}

void cf_curve_keypair_wipe(cf_curve_keypair_t *kp)
{
    if (kp)
        cf_mem_wipe(kp, sizeof(*kp));
}

cf_err_t cf_curve_keypair_check(const cf_curve_keypair_t *kp)
{
    if (!kp)
        return CF_ERR_INVALID;
    char sec[CF_CURVE_Z85_LEN + 1];
    char derived[CF_CURVE_Z85_LEN + 1];
    char pub[CF_CURVE_Z85_LEN + 1];
    cf_curve_z85_encode(kp->sec, sec);
    cf_curve_z85_encode(kp->pub, pub);
    cf_err_t rc = CF_ERR_KEYMISMATCH;
    if (zmq_curve_public(derived, sec) == 0 && memcmp(derived, pub, CF_CURVE_Z85_LEN) == 0)
        rc = CF_OK;
    cf_mem_wipe(sec, sizeof(sec));
    return rc;
}

void cf_curve_z85_encode(const unsigned char key[CF_CURVE_KEY_LEN], char out[CF_CURVE_Z85_LEN + 1])
{
    CF_ASSERT(key && out);
    /* only fails for a size that is not a multiple of 4 */
    CF_ASSERT(zmq_z85_encode(out, key, CF_CURVE_KEY_LEN) != NULL);
}

cf_err_t cf_curve_z85_decode(const char *text, size_t len, unsigned char key[CF_CURVE_KEY_LEN],
                             cf_why_t *why)
{
    if (!key)
        return CF_ERR_INVALID;
    memset(key, 0, CF_CURVE_KEY_LEN);
    if (!text)
        return CF_ERR_INVALID;
    if (len != CF_CURVE_Z85_LEN)
        return cf_why(why, CF_ERR_INVALID, "a CURVE key is %d Z85 characters, not %zu",
                      CF_CURVE_Z85_LEN, len);
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\0' || !strchr(s_z85_chars, text[i]))
            return cf_why(why, CF_ERR_INVALID,
                          "a CURVE key holds a character outside the Z85 alphabet at "
                          "position %zu",
                          i + 1);
    char buf[CF_CURVE_Z85_LEN + 1];
    memcpy(buf, text, len);
    buf[len] = '\0';
    cf_err_t rc = CF_OK;
    unsigned char any = 0;
    if (!zmq_z85_decode(key, buf))
        rc = cf_why(why, CF_ERR_INVALID, "a CURVE key is not valid Z85 (a group over 2^32)");
    for (size_t i = 0; rc == CF_OK && i < CF_CURVE_KEY_LEN; i++)
        any |= key[i];
    if (rc == CF_OK && !any)
        rc = cf_why(why, CF_ERR_INVALID, "a CURVE key of all zero bytes is no one's key");
    cf_mem_wipe(buf, sizeof(buf));
    if (rc != CF_OK)
        memset(key, 0, CF_CURVE_KEY_LEN);
    return rc;
}

/* ---- broker endpoints ------------------------------------------------------------------ */

static int s_host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-';
}

static int s_ip6_char(char c)
{
    return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') || c == ':' ||
           c == '.';
}

/* Length of the host at p (up to end), or 0 when it is not one. */
static size_t s_host_len(const char *p, size_t len)
{
    size_t i = 0;
    if (len > 0 && p[0] == '[') {
        for (i = 1; i < len && s_ip6_char(p[i]); i++)
            ;
        return (i > 1 && i < len && p[i] == ']') ? i + 1 : 0;
    }
    while (i < len && s_host_char(p[i]))
        i++;
    return i;
}

/* "tcp://HOST:PORT", exactly len bytes. */
static cf_err_t s_endpoint_check(const char *ep, size_t len, cf_why_t *why)
{
    static const char scheme[] = "tcp://";
    const size_t slen = sizeof(scheme) - 1;
    if (len > CF_CURVE_ENDPOINT_MAX)
        return cf_why(why, CF_ERR_TOOBIG, "a broker endpoint is at most %d characters",
                      CF_CURVE_ENDPOINT_MAX);
    if (len < slen || memcmp(ep, scheme, slen) != 0)
        return cf_why(why, CF_ERR_INVALID, "a broker endpoint starts with tcp://");
    size_t host = s_host_len(ep + slen, len - slen);
    size_t pos = slen + host;
    if (host == 0 || pos >= len || ep[pos] != ':')
        return cf_why(why, CF_ERR_INVALID,
                      "a broker endpoint is tcp://HOST:PORT (HOST a name, IPv4 or [IPv6])");
    unsigned long port = 0;
    size_t digits = 0;
    for (pos++; pos < len && ep[pos] >= '0' && ep[pos] <= '9' && digits < 6; pos++, digits++)
        port = port * 10 + (unsigned long) (ep[pos] - '0');
    if (pos != len || digits == 0 || port == 0 || port > 65535)
        return cf_why(why, CF_ERR_INVALID, "a broker endpoint's port is a number 1..65535");
    return CF_OK;
}

cf_err_t cf_curve_broker_parse(const char *text, size_t len, cf_curve_broker_t *out, cf_why_t *why)
{
    if (!out)
        return CF_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    if (!text)
        return CF_ERR_INVALID;
    if (len < CF_CURVE_Z85_LEN + 2 || text[len - CF_CURVE_Z85_LEN - 1] != '#')
        return cf_why(why, CF_ERR_INVALID,
                      "a broker is \"tcp://HOST:PORT#KEY\" with KEY its %d-character Z85 "
                      "public key",
                      CF_CURVE_Z85_LEN);
    size_t ep_len = len - CF_CURVE_Z85_LEN - 1;
    cf_err_t rc = s_endpoint_check(text, ep_len, why);
    if (rc == CF_OK)
        rc = cf_curve_z85_decode(text + ep_len + 1, CF_CURVE_Z85_LEN, out->pub, why);
    if (rc != CF_OK) {
        memset(out, 0, sizeof(*out));
        return rc;
    }
    memcpy(out->endpoint, text, ep_len);
    out->endpoint[ep_len] = '\0';
    return CF_OK;
}

static int s_space(char c)
{
    return c == ' ' || c == '\t';
}

cf_err_t cf_curve_brokers_parse(const char *text, size_t len, cf_curve_broker_t *out, size_t max,
                                size_t *count_out, cf_why_t *why)
{
    if (!text || !out || !count_out)
        return CF_ERR_INVALID;
    *count_out = 0;
    if (max > CF_CURVE_BROKERS_MAX)
        return CF_ERR_TOOBIG;
    size_t n = 0;
    size_t pos = 0;
    for (;;) {
        const char *comma = memchr(text + pos, ',', len - pos);
        size_t end = comma ? (size_t) (comma - text) : len;
        size_t a = pos;
        size_t b = end;
        while (a < b && s_space(text[a]))
            a++;
        while (b > a && s_space(text[b - 1]))
            b--;
        if (n == max)
            return cf_why(why, CF_ERR_TOOBIG, "more than %zu broker endpoints", max);
        cf_why_t inner = {""};
        cf_err_t rc =
            a == b ? CF_ERR_INVALID : cf_curve_broker_parse(text + a, b - a, &out[n], &inner);
        if (rc != CF_OK)
            return cf_why(why, rc, "broker endpoint %zu: %s", n + 1,
                          a == b ? "empty" : cf_why_text(&inner, rc));
        n++;
        if (!comma)
            break;
        pos = end + 1;
    }
    *count_out = n;
    return CF_OK;
}

cf_err_t cf_curve_broker_format(const cf_curve_broker_t *broker, char *buf, size_t buflen)
{
    if (!broker || !buf || buflen == 0)
        return CF_ERR_INVALID;
    buf[0] = '\0';
    size_t ep_len = strnlen(broker->endpoint, sizeof(broker->endpoint));
    if (ep_len == sizeof(broker->endpoint) ||
        s_endpoint_check(broker->endpoint, ep_len, NULL) != CF_OK)
        return CF_ERR_INVALID;
    char z85[CF_CURVE_Z85_LEN + 1];
    cf_curve_z85_encode(broker->pub, z85);
    int n = snprintf(buf, buflen, "%s#%s", broker->endpoint, z85);
    if (n < 0 || (size_t) n >= buflen) {
        buf[0] = '\0';
        return CF_ERR_TOOBIG;
    }
    return CF_OK;
}
