/*  cf_relay_addr - the relay's "host:port" parsing and address text  */
#include "cf_relay_int.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Split "host:port" / "[v6]:port" into host (no brackets) and port text. */
static cf_err_t s_split(const char *text, char *host, size_t host_len, char *port, size_t port_len)
{
    if (!text)
        return CF_ERR_INVALID;
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text)
        return CF_ERR_INVALID;
    const char *h = text;
    size_t n = (size_t) (colon - text);
    if (h[0] == '[') {
        if (n < 3 || h[n - 1] != ']')
            return CF_ERR_INVALID;
        h++;
        n -= 2;
    } else if (memchr(h, ':', n)) {
        return CF_ERR_INVALID; /* an IPv6 address needs brackets */
    }
    size_t plen = strlen(colon + 1);
    if (n == 0 || n >= host_len || plen == 0 || plen >= port_len)
        return CF_ERR_INVALID;
    memcpy(host, h, n);
    host[n] = '\0';
    memcpy(port, colon + 1, plen + 1);
    for (size_t i = 0; i < plen; i++)
        if (port[i] < '0' || port[i] > '9')
            return CF_ERR_INVALID;
    return atoi(port) <= 65535 ? CF_OK : CF_ERR_INVALID;
}

cf_err_t cf_relay_addr_host(const char *text, char *buf, size_t len)
{
    char port[8];
    return s_split(text, buf, len, port, sizeof(port));
}

cf_err_t cf_relay_addr_parse(const char *text, struct sockaddr_storage *ss, socklen_t *len,
                             cf_why_t *why)
{
    char host[CF_RELAY_NAME_MAX], port[8];
    if (s_split(text, host, sizeof(host), port, sizeof(port)) != CF_OK)
        return cf_why(why, CF_ERR_INVALID, "relay: \"%s\" is not HOST:PORT",
                      text ? text : "(null)");
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0 || !res)
        return cf_why(why, CF_ERR_INVALID, "relay: cannot resolve %s: %s", host, gai_strerror(gai));
    cf_err_t rc = CF_OK;
    if (res->ai_addrlen > sizeof(*ss)) {
        rc = cf_why(why, CF_ERR_INVALID, "relay: address of %s too long", host);
    } else {
        memset(ss, 0, sizeof(*ss));
        memcpy(ss, res->ai_addr, res->ai_addrlen);
        *len = (socklen_t) res->ai_addrlen;
    }
    freeaddrinfo(res);
    return rc;
}

void cf_relay_addr_text(const struct sockaddr *sa, char *buf, size_t len)
{
    char ip[INET6_ADDRSTRLEN];
    buf[0] = '\0';
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *) (const void *) sa;
        if (inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip)))
            snprintf(buf, len, "%s:%u", ip, (unsigned) ntohs(sin->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) (const void *) sa;
        if (inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip)))
            snprintf(buf, len, "[%s]:%u", ip, (unsigned) ntohs(sin6->sin6_port));
    }
}
