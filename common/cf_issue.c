/*  cf_issue - one issuance request: checks, subjectAltNames, lifetime, component profile  */
#include "cf_issue.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define S_MAX_IP_TEXT 45 /* longest IPv6 text form (INET6_ADDRSTRLEN - 1) */

static int s_lower_digit(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

cf_err_t cf_issue_check_agent_id(const char *id)
{
    size_t n = id ? strnlen(id, 64) : 0;
    if (n == 0 || n > 63 || !s_lower_digit(id[0]))
        return CF_ERR_INVALID;
    for (size_t i = 1; i < n; i++) {
        if (!s_lower_digit(id[i]) && id[i] != '.' && id[i] != '_' && id[i] != '-')
            return CF_ERR_INVALID;
    }
    return CF_OK;
}

static int s_ldh(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

cf_err_t cf_issue_check_dns(const char *s)
{
    size_t n = s ? strnlen(s, CF_ISSUE_MAX_DNS + 1) : 0;
    if (n == 0 || n > CF_ISSUE_MAX_DNS)
        return CF_ERR_INVALID;
    size_t i = (n > 2 && s[0] == '*' && s[1] == '.') ? 2 : 0; /* leftmost wildcard */
    size_t label = 0;
    for (; i <= n; i++) {
        char c = i < n ? s[i] : (char) '.'; /* the end closes the last label */
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-')
                return CF_ERR_INVALID;
            label = 0;
        } else if (!s_ldh(c) || (label == 0 && c == '-') || ++label > 63) {
            return CF_ERR_INVALID;
        }
    }
    return CF_OK;
}

cf_err_t cf_issue_check_name(const char *s)
{
    size_t n = s ? strnlen(s, CF_ISSUE_MAX_NAME + 1) : 0;
    if (n == 0 || n > CF_ISSUE_MAX_NAME)
        return CF_ERR_INVALID;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e)
            return CF_ERR_INVALID;
    }
    return CF_OK;
}

static int s_printable(const char *s)
{
    return cf_issue_check_name(s) == CF_OK;
}

/* IPv4 or IPv6 text to 4 or 16 bytes; 0 when it is neither. */
static size_t s_parse_ip(const char *text, unsigned char out[16])
{
    if (!text || strnlen(text, S_MAX_IP_TEXT + 1) > S_MAX_IP_TEXT)
        return 0;
    if (inet_pton(AF_INET, text, out) == 1)
        return 4;
    if (inet_pton(AF_INET6, text, out) == 1)
        return 16;
    return 0;
}

static int s_same(const cf_tbs_san_t *a, unsigned tag, const unsigned char *data, size_t len)
{
    if (a->tag != tag || a->len != len)
        return 0;
    if (tag == CF_TBS_SAN_DNS)
        return strncasecmp((const char *) a->data, (const char *) data, len) == 0;
    return memcmp(a->data, data, len) == 0;
}

static cf_err_t s_add(cf_issue_sans_t *out, unsigned tag, const void *data, size_t len)
{
    for (size_t i = 0; i < out->n; i++) {
        if (s_same(&out->san[i], tag, data, len))
            return CF_OK; /* already listed */
    }
    if (out->n == CF_ISSUE_MAX_SANS)
        return CF_ERR_TOOBIG;
    out->san[out->n].tag = tag;
    out->san[out->n].data = data;
    out->san[out->n].len = len;
    out->n++;
    return CF_OK;
}

/* A DNS name or an address: the server's alias, or one entry of dns/ips. */
static cf_err_t s_add_host(cf_issue_sans_t *out, const char *text, int dns_ok, int ip_ok)
{
    unsigned char ip[16];
    size_t iplen = ip_ok ? s_parse_ip(text, ip) : 0;
    if (iplen) {
        for (size_t i = 0; i < out->n; i++) {
            if (s_same(&out->san[i], CF_TBS_SAN_IP, ip, iplen))
                return CF_OK; /* already listed */
        }
        if (out->n == CF_ISSUE_MAX_SANS)
            return CF_ERR_TOOBIG;
        memcpy(out->ip[out->n], ip, iplen); /* the entry points at storage that stays */
        return s_add(out, CF_TBS_SAN_IP, out->ip[out->n], iplen);
    }
    if (dns_ok && cf_issue_check_dns(text) == CF_OK)
        return s_add(out, CF_TBS_SAN_DNS, text, strlen(text));
    return CF_ERR_INVALID;
}

static cf_err_t s_server_sans(const cf_issue_t *req, cf_issue_sans_t *out)
{
    if (req->n_dns + req->n_ips > CF_ISSUE_MAX_SANS)
        return CF_ERR_TOOBIG;
    if ((req->n_dns && !req->dns) || (req->n_ips && !req->ips))
        return CF_ERR_INVALID;
    CF_TRY(s_add_host(out, req->name, 1, 1));
    for (size_t i = 0; i < req->n_dns; i++)
        CF_TRY(s_add_host(out, req->dns[i], 1, 0));
    for (size_t i = 0; i < req->n_ips; i++)
        CF_TRY(s_add_host(out, req->ips[i], 0, 1));
    return CF_OK;
}

static cf_err_t s_agent_sans(const cf_issue_t *req, cf_issue_sans_t *out)
{
    if (req->shared_agent) {
        if (req->name && !s_printable(req->name))
            return CF_ERR_INVALID;
        return s_add(out, CF_TBS_SAN_URI, CF_AGENT_SHARED_URI, strlen(CF_AGENT_SHARED_URI));
    }
    CF_TRY(cf_issue_check_agent_id(req->name));
    int n = snprintf(out->uri, sizeof(out->uri), "%s%s", CF_AGENT_URI_PREFIX, req->name);
    CF_ASSERT(n > 0 && (size_t) n < sizeof(out->uri)); /* ids are at most 63 bytes */
    return s_add(out, CF_TBS_SAN_URI, out->uri, (size_t) n);
}

cf_err_t cf_issue_sans(const cf_issue_t *req, cf_issue_sans_t *out)
{
    out->n = 0;
    if (!req || (req->public_key && req->spki) || (req->spki && req->spki_len == 0))
        return CF_ERR_INVALID;
    if (req->component != CF_COMPONENT_SERVER && (req->n_dns || req->n_ips))
        return CF_ERR_INVALID; /* only servers are reached by name */
    if (req->component != CF_COMPONENT_AGENT && req->shared_agent)
        return CF_ERR_INVALID;
    switch (req->component) {
    case CF_COMPONENT_SERVER:
        if (!s_printable(req->name))
            return CF_ERR_INVALID;
        return s_server_sans(req, out);
    case CF_COMPONENT_CONSOLE: return s_printable(req->name) ? CF_OK : CF_ERR_INVALID;
    case CF_COMPONENT_AGENT: return s_agent_sans(req, out);
    default: return CF_ERR_INVALID;
    }
}

const char *cf_issue_cn(const cf_issue_t *req)
{
    if (req->component == CF_COMPONENT_AGENT && req->shared_agent && !req->name)
        return CF_ISSUE_SHARED_AGENT;
    return req->name;
}

void cf_issue_profile(const cf_issue_t *req, cf_key_type_t key, unsigned *ku, unsigned *eku)
{
    int rsa = key == CF_KEY_RSA2048 || key == CF_KEY_RSA3072 || key == CF_KEY_RSA4096;
    *ku = CF_TBS_KU_DIGITAL_SIGNATURE;
    switch (req->component) {
    case CF_COMPONENT_SERVER:
        *eku = CF_TBS_EKU_SERVER;
        if (rsa) /* TLS 1.2 RSA key exchange encrypts to the server key */
            *ku |= CF_TBS_KU_KEY_ENCIPHERMENT;
        break;
    case CF_COMPONENT_CONSOLE:
    case CF_COMPONENT_AGENT: *eku = CF_TBS_EKU_CLIENT; break;
    default: *eku = 0; break;
    }
}

cf_err_t cf_issue_validity(const cf_issue_t *req, int64_t limit, int64_t *nb_out, int64_t *na_out)
{
    int64_t life;
    if (req->seconds > 0) {
        if (req->seconds > (long) CF_ISSUE_MAX_DAYS * 86400L)
            return CF_ERR_INVALID;
        life = req->seconds;
    } else {
        unsigned days = req->days ? req->days : CF_ISSUE_DEFAULT_DAYS;
        if (days > CF_ISSUE_MAX_DAYS || req->seconds < 0)
            return CF_ERR_INVALID;
        life = (int64_t) days * 86400;
    }
    int64_t now = req->now ? (int64_t) req->now : (int64_t) time(NULL);
    if (now < CF_ISSUE_SKEW || now > CF_ISSUE_MAX_NOW)
        return CF_ERR_INVALID; /* keeps the arithmetic below in range */
    if (limit <= now)
        return CF_ERR_EXPIRED; /* the CA itself is past its notAfter */
    /* back-date for clock skew, but never by more than a tenth of the lifetime: a
       certificate of minutes (tests, demos) must not start most of its life already spent,
       or renewal at 2/3 of the lifetime would fall due at once */
    int64_t skew = life / 10 < CF_ISSUE_SKEW ? life / 10 : CF_ISSUE_SKEW;
    *nb_out = now - skew;
    *na_out = now + life < limit ? now + life : limit;
    return CF_OK;
}
