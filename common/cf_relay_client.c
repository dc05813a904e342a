/*  cf_relay_client - "tls://HOST:PORT#Z85" for agents and servers: a CLIENT relay and the
    loopback endpoint their CURVE DEALER connects to  */
#include "cf_relay_int.h"

#include <stdio.h>
#include <string.h>

#define S_TLS_LEN (sizeof(CF_RELAY_CLIENT_SCHEME) - 1)

cf_err_t cf_relay_client_for(const char *text, size_t len, const char *ca_pem, size_t ca_len,
                             const char *cert_pem, size_t cert_len, const cf_key_t *key,
                             cf_relay_t **relay_out, cf_curve_broker_t *broker, cf_why_t *why)
{
    if (!text || !relay_out || !broker)
        return cf_why(why, CF_ERR_INVALID, "relay: NULL argument");
    *relay_out = NULL;
    if (len < S_TLS_LEN || memcmp(text, CF_RELAY_CLIENT_SCHEME, S_TLS_LEN) != 0)
        return cf_curve_broker_parse(text, len, broker, why);
    if (len > CF_CURVE_TEXT_MAX)
        return cf_why(why, CF_ERR_INVALID, "relay: broker endpoint too long");
    /* the same checks as a tcp:// endpoint: host, port, key */
    char tcp[CF_CURVE_TEXT_MAX + 1];
    int n = snprintf(tcp, sizeof(tcp), "tcp://%.*s", (int) (len - S_TLS_LEN), text + S_TLS_LEN);
    if (n < 0 || (size_t) n >= sizeof(tcp))
        return cf_why(why, CF_ERR_INVALID, "relay: broker endpoint too long");
    cf_curve_broker_t remote;
    CF_TRY(cf_curve_broker_parse(tcp, (size_t) n, &remote, why));
    cf_relay_cfg_t cfg = {
        .mode = CF_RELAY_CLIENT,
        .target = remote.endpoint + 6, /* after "tcp://" */
        .ca_pem = ca_pem,
        .ca_len = ca_len,
        .cert_pem = cert_pem,
        .cert_len = cert_len,
        .key = key,
    };
    cf_relay_t *relay = NULL;
    CF_TRY(cf_relay_new(&cfg, &relay, why));
    *broker = remote;
    snprintf(broker->endpoint, sizeof(broker->endpoint), "tcp://%s", cf_relay_address(relay));
    *relay_out = relay;
    return CF_OK;
}
