/*  cf_store_addr - store configuration defaults, checks and the --redis text forms  */
#include "cf_store_addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#define S_PASSWORD_MAX 4096 /* longest password sent with AUTH */

void cf_store_cfg_init(cf_store_cfg_t *cfg)
{
    CF_ASSERT(cfg);
    memset(cfg, 0, sizeof(*cfg));
    cfg->mode = CF_STORE_TCP;
    snprintf(cfg->server.host, sizeof(cfg->server.host), "127.0.0.1");
    cfg->server.port = 6379;
    cfg->connect_timeout_ms = 1000;
    cfg->command_timeout_ms = 5000;
    cfg->reconnect_attempts = 5;
    cfg->backoff_min_ms = 50;
    cfg->backoff_max_ms = 2000;
    cfg->master_check_ms = 1000;
    cfg->max_reply_bytes = (size_t) 16 << 20;
    cfg->max_reply_elements = (size_t) 1 << 20;
    cfg->max_batch_bytes = (size_t) 256 << 20;
}

static int s_is_host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

/* Port digits only, 1..65535. */
static cf_err_t s_parse_port(const char *p, size_t len, int *port, cf_why_t *why)
{
    if (len == 0 || len > 5)
        return cf_why(why, CF_ERR_INVALID, "port must be 1..65535");
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return cf_why(why, CF_ERR_INVALID, "port must be digits only");
        v = v * 10 + (p[i] - '0');
    }
    if (v < 1 || v > 65535)
        return cf_why(why, CF_ERR_INVALID, "port must be 1..65535");
    *port = (int) v;
    return CF_OK;
}

/* "[v6]" part: the literal must parse as an IPv6 address (no zone ids). */
static cf_err_t s_parse_v6(const char *text, size_t len, size_t *consumed, char *host,
                           cf_why_t *why)
{
    const char *close = memchr(text, ']', len);
    if (!close)
        return cf_why(why, CF_ERR_INVALID, "missing ']' after IPv6 address");
    size_t hlen = (size_t) (close - text - 1);
    char tmp[INET6_ADDRSTRLEN + 1];
    unsigned char bin[16];
    if (hlen == 0 || hlen >= sizeof(tmp))
        return cf_why(why, CF_ERR_INVALID, "bad IPv6 address length");
    memcpy(tmp, text + 1, hlen);
    tmp[hlen] = '\0';
    if (inet_pton(AF_INET6, tmp, bin) != 1)
        return cf_why(why, CF_ERR_INVALID, "'%s' is not an IPv6 address", tmp);
    memcpy(host, tmp, hlen + 1);
    *consumed = hlen + 2;
    return CF_OK;
}

static cf_err_t s_parse_name(const char *text, size_t len, char *host, cf_why_t *why)
{
    if (len == 0)
        return cf_why(why, CF_ERR_INVALID, "empty host");
    if (len > CF_STORE_HOST_MAX)
        return cf_why(why, CF_ERR_TOOBIG, "host longer than %d bytes", CF_STORE_HOST_MAX);
    if (text[0] == '-' || text[0] == '.')
        return cf_why(why, CF_ERR_INVALID, "host may not start with '%c'", text[0]);
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ':')
            return cf_why(why, CF_ERR_INVALID, "IPv6 addresses need brackets: [::1]:6379");
        if (!s_is_host_char(text[i]))
            return cf_why(why, CF_ERR_INVALID, "bad character in host");
    }
    memcpy(host, text, len);
    host[len] = '\0';
    return CF_OK;
}

cf_err_t cf_store_endpoint_parse(const char *text, size_t len, cf_store_endpoint_t *out,
                                 cf_why_t *why)
{
    if (!text || !out)
        return cf_why(why, CF_ERR_INVALID, "no address given");
    if (len > CF_STORE_HOST_MAX + 8)
        return cf_why(why, CF_ERR_TOOBIG, "address longer than %d bytes", CF_STORE_HOST_MAX + 8);
    cf_store_endpoint_t ep;
    memset(&ep, 0, sizeof(ep));
    size_t hlen = 0;
    if (len > 0 && text[0] == '[') {
        CF_TRY(s_parse_v6(text, len, &hlen, ep.host, why));
    } else {
        const char *colon = NULL;
        for (size_t i = len; i > 0 && !colon; i--)
            if (text[i - 1] == ':')
                colon = text + i - 1;
        if (!colon)
            return cf_why(why, CF_ERR_INVALID, "expected HOST:PORT");
        hlen = (size_t) (colon - text);
        CF_TRY(s_parse_name(text, hlen, ep.host, why));
    }
    if (hlen >= len || text[hlen] != ':')
        return cf_why(why, CF_ERR_INVALID, "expected ':PORT' after the host");
    CF_TRY(s_parse_port(text + hlen + 1, len - hlen - 1, &ep.port, why));
    *out = ep;
    return CF_OK;
}

cf_err_t cf_store_cfg_parse_redis(cf_store_cfg_t *cfg, const char *text, cf_why_t *why)
{
    if (!cfg || !text || !*text)
        return cf_why(why, CF_ERR_INVALID, "--redis needs HOST:PORT or unix:PATH");
    size_t len = strnlen(text, CF_STORE_TEXT_MAX + 1);
    if (len > CF_STORE_TEXT_MAX)
        return cf_why(why, CF_ERR_TOOBIG, "--redis longer than %d bytes", CF_STORE_TEXT_MAX);
    cf_store_endpoint_t ep;
    memset(&ep, 0, sizeof(ep));
    if (strncmp(text, "unix:", 5) == 0) {
        size_t plen = len - 5;
        if (plen == 0)
            return cf_why(why, CF_ERR_INVALID, "unix: needs a socket path");
        if (plen > CF_STORE_PATH_MAX)
            return cf_why(why, CF_ERR_TOOBIG, "socket path longer than %d bytes",
                          CF_STORE_PATH_MAX);
        memcpy(ep.host, text + 5, plen + 1);
        cfg->mode = CF_STORE_UNIX;
        cfg->server = ep;
        return CF_OK;
    }
    CF_TRY(cf_store_endpoint_parse(text, len, &ep, why));
    cfg->mode = CF_STORE_TCP;
    cfg->server = ep;
    return CF_OK;
}

static int s_same_endpoint(const cf_store_endpoint_t *a, const cf_store_endpoint_t *b)
{
    return a->port == b->port && strcmp(a->host, b->host) == 0;
}

cf_err_t cf_store_cfg_parse_sentinels(cf_store_cfg_t *cfg, const char *text, cf_why_t *why)
{
    if (!cfg || !text || !*text)
        return cf_why(why, CF_ERR_INVALID, "--redis-sentinel needs HOST:PORT[,HOST:PORT...]");
    size_t len = strnlen(text, CF_STORE_TEXT_MAX + 1);
    if (len > CF_STORE_TEXT_MAX)
        return cf_why(why, CF_ERR_TOOBIG, "--redis-sentinel longer than %d bytes",
                      CF_STORE_TEXT_MAX);
    cf_store_endpoint_t list[CF_STORE_MAX_SENTINELS];
    memset(list, 0, sizeof(list));
    size_t n = 0;
    size_t start = 0;
    for (;;) {
        const char *comma = memchr(text + start, ',', len - start);
        size_t item_end = comma ? (size_t) (comma - text) : len;
        if (n == CF_STORE_MAX_SENTINELS)
            return cf_why(why, CF_ERR_TOOBIG, "more than %d Sentinels", CF_STORE_MAX_SENTINELS);
        cf_err_t rc = cf_store_endpoint_parse(text + start, item_end - start, &list[n], why);
        if (rc != CF_OK) {
            char inner[CF_WHY_MAX];
            snprintf(inner, sizeof(inner), "%s", cf_why_text(why, rc));
            return cf_why(why, rc, "Sentinel %zu: %s", n + 1, inner);
        }
        for (size_t i = 0; i < n; i++)
            if (s_same_endpoint(&list[i], &list[n]))
                return cf_why(why, CF_ERR_INVALID, "Sentinel %zu is listed twice", n + 1);
        n++;
        if (!comma)
            break;
        start = item_end + 1;
    }
    memcpy(cfg->sentinels, list, n * sizeof(list[0]));
    cfg->n_sentinels = n;
    cfg->mode = CF_STORE_SENTINEL;
    return CF_OK;
}

cf_err_t cf_store_cfg_set_master(cf_store_cfg_t *cfg, const char *name, cf_why_t *why)
{
    if (!cfg || !name || !*name)
        return cf_why(why, CF_ERR_INVALID, "--redis-master needs a name");
    size_t len = strnlen(name, CF_STORE_NAME_MAX + 1);
    if (len > CF_STORE_NAME_MAX)
        return cf_why(why, CF_ERR_TOOBIG, "master name longer than %d bytes", CF_STORE_NAME_MAX);
    for (size_t i = 0; i < len; i++)
        if (!s_is_host_char(name[i]))
            return cf_why(why, CF_ERR_INVALID, "master name allows [A-Za-z0-9._-] only");
    memcpy(cfg->master_name, name, len + 1);
    return CF_OK;
}

static cf_err_t s_check_range(const char *what, long v, long lo, long hi, cf_why_t *why)
{
    if (v < lo || v > hi)
        return cf_why(why, CF_ERR_INVALID, "%s must be %ld..%ld, not %ld", what, lo, hi, v);
    return CF_OK;
}

static cf_err_t s_check_password(const char *what, const char *pw, cf_why_t *why)
{
    if (pw && strnlen(pw, S_PASSWORD_MAX + 1) > S_PASSWORD_MAX)
        return cf_why(why, CF_ERR_TOOBIG, "%s longer than %d bytes", what, S_PASSWORD_MAX);
    if (pw && !*pw)
        return cf_why(why, CF_ERR_INVALID, "%s is empty (use NULL for none)", what);
    return CF_OK;
}

static cf_err_t s_check_mode(const cf_store_cfg_t *cfg, cf_why_t *why)
{
    switch (cfg->mode) {
    case CF_STORE_TCP:
        if (!cfg->server.host[0] || !memchr(cfg->server.host, '\0', sizeof(cfg->server.host)))
            return cf_why(why, CF_ERR_INVALID, "no Redis host");
        return s_check_range("Redis port", cfg->server.port, 1, 65535, why);
    case CF_STORE_UNIX:
        if (!cfg->server.host[0] ||
            strnlen(cfg->server.host, CF_STORE_PATH_MAX + 1) > CF_STORE_PATH_MAX)
            return cf_why(why, CF_ERR_INVALID, "socket path must be 1..%d bytes",
                          CF_STORE_PATH_MAX);
        return CF_OK;
    case CF_STORE_SENTINEL:
        if (cfg->n_sentinels == 0 || cfg->n_sentinels > CF_STORE_MAX_SENTINELS)
            return cf_why(why, CF_ERR_INVALID, "Sentinel mode needs 1..%d Sentinels",
                          CF_STORE_MAX_SENTINELS);
        for (size_t i = 0; i < cfg->n_sentinels; i++)
            CF_TRY(s_check_range("Sentinel port", cfg->sentinels[i].port, 1, 65535, why));
        if (!cfg->master_name[0])
            return cf_why(why, CF_ERR_INVALID, "Sentinel mode needs a master name");
        return CF_OK;
    default: return cf_why(why, CF_ERR_INVALID, "unknown store mode %d", (int) cfg->mode);
    }
}

cf_err_t cf_store_cfg_check(const cf_store_cfg_t *cfg, cf_why_t *why)
{
    if (!cfg)
        return cf_why(why, CF_ERR_INVALID, "no store configuration");
    CF_TRY(s_check_mode(cfg, why));
    CF_TRY(s_check_password("Redis password", cfg->password, why));
    CF_TRY(s_check_password("Sentinel password", cfg->sentinel_password, why));
    CF_TRY(s_check_range("db", cfg->db, 0, CF_STORE_DB_MAX, why));
    CF_TRY(s_check_range("connect timeout (ms)", cfg->connect_timeout_ms, 1, 60000, why));
    CF_TRY(s_check_range("command timeout (ms)", cfg->command_timeout_ms, 1, 600000, why));
    CF_TRY(s_check_range("reconnect attempts", cfg->reconnect_attempts, 1, 100, why));
    CF_TRY(s_check_range("minimum back-off (ms)", cfg->backoff_min_ms, 1, 60000, why));
    CF_TRY(s_check_range("maximum back-off (ms)", cfg->backoff_max_ms, cfg->backoff_min_ms, 60000,
                         why));
    CF_TRY(s_check_range("master check (ms)", cfg->master_check_ms, 0, 3600000, why));
    CF_TRY(s_check_range("durable replicas", cfg->durable_replicas, 0, 16, why));
    if (cfg->max_reply_bytes < 1024 || cfg->max_reply_bytes > ((size_t) 1 << 30))
        return cf_why(why, CF_ERR_INVALID, "max reply bytes must be 1 KiB..1 GiB");
    if (cfg->max_reply_elements < 16 || cfg->max_reply_elements > ((size_t) 64 << 20))
        return cf_why(why, CF_ERR_INVALID, "max reply elements must be 16..64M");
    if (cfg->max_batch_bytes < cfg->max_reply_bytes || cfg->max_batch_bytes > ((size_t) 4 << 30))
        return cf_why(why, CF_ERR_INVALID, "max batch bytes must be max reply bytes..4 GiB");
    return CF_OK;
}

const char *cf_store_endpoint_str(const cf_store_endpoint_t *ep, int is_unix, char *buf,
                                  size_t buflen)
{
    if (!buf || buflen == 0)
        return "";
    if (!ep)
        snprintf(buf, buflen, "-");
    else if (is_unix)
        snprintf(buf, buflen, "unix:%s", ep->host);
    else if (strchr(ep->host, ':'))
        snprintf(buf, buflen, "[%s]:%d", ep->host, ep->port);
    else
        snprintf(buf, buflen, "%s:%d", ep->host, ep->port);
    return buf;
}
