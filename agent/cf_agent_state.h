/*  cf_agent_state - the agent's state directory: agent.json (id, servers, brokers, favorite,
    interval), file names, permissions, and the server/broker list codec it shares with the
    install bundle and the enrollment answer (docs/agent.md "State directory and bundle")  */
#ifndef CF_AGENT_STATE_H_INCLUDED
#define CF_AGENT_STATE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cf_agent_certs.h"
#include "cf_agent_checkin.h"
#include "cf_agent_choose.h"
#include "cf_agent_run.h"
#include "cf_curve.h"
#include "cf_db_key.h"
#include "cf_err.h"

#define CF_AGENT_STATE_DIR_DEFAULT CF_AGENT_DEFAULT_DIR /* --state-dir default */
#define CF_AGENT_STATE_JSON        CF_AGENT_CONF_FILE   /* id, servers, brokers, ... */
#define CF_AGENT_STATE_CA          "ca.pem"             /* the deployment's CA */
#define CF_AGENT_STATE_CURVE       "curve.key"          /* CURVE public (+ "_secret": both) */
#define CF_AGENT_STATE_CERT        CF_AGENT_CERT_FILE   /* TLS certificate chain (0600) */
#define CF_AGENT_STATE_KEY         CF_AGENT_KEY_FILE    /* its private key, PKCS#8 PEM (0600) */
#define CF_AGENT_STATE_TOKEN       "token"              /* enrollment token (0600) until used */
#define CF_AGENT_STATE_PATH_MAX    3800                 /* longest state directory path */
#define CF_AGENT_STATE_JSON_MAX    (256 * 1024)         /* largest agent.json read, bytes */
#define CF_AGENT_INTERVAL_DEFAULT  300                  /* check-in interval, seconds */

/* Where the agent connects: servers (cf_agent_choose's list; its favorite is agent.json's
   favorite, its seen_addr unused here) and brokers. Free with cf_agent_config_clear. */
typedef struct {
    cf_agent_servers_t servers;                      /* servers.n entries, favorite */
    cf_curve_broker_t brokers[CF_CURVE_BROKERS_MAX]; /* broker endpoints with their key
                                                        (endpoint "tcp://h:p" for both kinds) */
    unsigned char tls[CF_CURVE_BROKERS_MAX];         /* 1: a tls:// entry (TLS-wrapped: reach
                                                        it through a cf_relay client) */
    size_t n_brokers;                                /* entries used in brokers */
} cf_agent_config_t;

/* agent.json. Free the contents with cf_agent_state_clear. */
typedef struct {
    char id[CF_DB_ID_MAX + 1]; /* the agent id (cf_agent_check_id) */
    cf_agent_config_t config;  /* servers (with the favorite) and brokers */
    int interval;              /* check-in interval, 1..CF_AGENT_INTERVAL_MAX s */
} cf_agent_state_t;

/* CF_OK when id matches [a-z0-9][a-z0-9._-]{0,62} (DESIGN.md "Agent id"), else
   CF_ERR_INVALID. NULL is invalid. */
CF_MUST_USE cf_err_t cf_agent_check_id(const char *id);
/* The default agent id: this host's name (gethostname), lowercased, up to its first '.'
   when the whole name is too long, checked with cf_agent_check_id. Errors: CF_ERR_INVALID
   (why quotes the name; pass --id), CF_ERR_IO. */
CF_MUST_USE cf_err_t cf_agent_default_id(char id[CF_DB_ID_MAX + 1], cf_why_t *why);

/* Parse a server list (a JSON array of {"alias","host","port","plain_port","priority",
   "ip_ranges","online"}: cf_agent_servers_from_json, unknown members ignored) and a broker
   list (a JSON array of "tcp://h:p#Z85" or "tls://h:p#Z85" strings, cf_agent_broker_parse;
   NULL is an empty list) into out, which
   must be zeroed or cleared. Beyond cf_agent_servers_from_json's checks (types, ranges of
   port 1..65535, plain_port, priority, ip ranges, no alias twice, at most
   CF_AGENT_SERVERS_MAX servers), each alias must be a lowercase host name
   (cf_db_check_alias) and each host printable without spaces or URL delimiters; at most
   CF_CURVE_BROKERS_MAX brokers, each cf_curve_broker_parse'd. Errors: CF_ERR_CORRUPT (a
   server field), CF_ERR_INVALID (alias, host, broker; why names the entry),
   CF_ERR_TOOBIG, CF_ERR_NOMEM. On failure out is left cleared. */
CF_MUST_USE cf_err_t cf_agent_config_from_json(const json_t *servers, const json_t *brokers,
                                               cf_agent_config_t *out, cf_why_t *why);
/* The two lists as JSON (new references, the caller's json_decref), in the form parsed
   above. Errors: CF_ERR_NOMEM (both outputs NULL). */
CF_MUST_USE cf_err_t cf_agent_config_to_json(const cf_agent_config_t *cfg, json_t **servers,
                                             json_t **brokers);
/* One broker entry: "tcp://HOST:PORT#Z85" (plain CURVE) or "tls://HOST:PORT#Z85" (the
   broker's TLS-wrapped port, --tls-bind: the agent reaches it through a local cf_relay
   client presenting its own certificate). Both fill out as cf_curve_broker_parse does with
   "tcp://HOST:PORT"; *is_tls tells which. Errors: CF_ERR_INVALID (NULL, the text; why). */
CF_MUST_USE cf_err_t cf_agent_broker_parse(const char *text, size_t len, cf_curve_broker_t *out,
                                           int *is_tls, cf_why_t *why);
/* The entry's text again (tls:// when is_tls) into buf; cap >= CF_CURVE_TEXT_MAX + 1.
   Errors: those of cf_curve_broker_format. */
CF_MUST_USE cf_err_t cf_agent_broker_format(const cf_curve_broker_t *b, int is_tls, char *buf,
                                            size_t cap);
/* Free the server array and zero cfg; safe to repeat; NULL is fine. */
void cf_agent_config_clear(cf_agent_config_t *cfg);

/* The path dir/name into buf. CF_ERR_TOOBIG when it does not fit (buf is then ""). */
CF_MUST_USE cf_err_t cf_agent_state_path(const char *dir, const char *name, char *buf, size_t len);

/* Parse agent.json text (len bytes, at most CF_AGENT_STATE_JSON_MAX, no NUL needed):
   {"id","servers":[…],"brokers":[…],"favorite":alias|null,"interval":s} (cf_agent_run
   reads the same file); every field is
   checked (above), unknown top-level members are refused. out must be zeroed or cleared;
   on failure it is left cleared. Errors: CF_ERR_CORRUPT (not JSON), CF_ERR_INVALID (why
   names the field), CF_ERR_TOOBIG, CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_agent_state_parse(const char *buf, size_t len, cf_agent_state_t *out,
                                          cf_why_t *why);
/* The state as agent.json text (*out NUL-terminated, cf_mem_free). CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_agent_state_dump(const cf_agent_state_t *st, char **out, size_t *len);
/* Read dir/agent.json (a regular file group and others cannot access; the directory must
   not be group/other accessible either). Errors: CF_ERR_NOTFOUND (not installed),
   CF_ERR_POLICY (permissions, why names the file), those of cf_agent_state_parse and
   cf_file_read_ex. */
CF_MUST_USE cf_err_t cf_agent_state_load(const char *dir, cf_agent_state_t *out, cf_why_t *why);
/* Write dir/agent.json crash-safely (temp, fsync, rename), mode 0600. Errors: CF_ERR_IO,
   CF_ERR_TOOBIG (path), CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_agent_state_save(const char *dir, const cf_agent_state_t *st,
                                         cf_why_t *why);
/* Free the contents and zero st; safe to repeat; NULL is fine. */
void cf_agent_state_clear(cf_agent_state_t *st);

#endif
