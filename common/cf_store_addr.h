/*  cf_store_addr - where Redis is: store configuration and the --redis / --redis-sentinel forms  */
#ifndef CF_STORE_ADDR_H_INCLUDED
#define CF_STORE_ADDR_H_INCLUDED

#include <stddef.h>

#include "cf_err.h"

#define CF_STORE_HOST_MAX      255  /* host name, IP literal (no brackets) or socket path, bytes */
#define CF_STORE_PATH_MAX      107  /* unix socket path: sizeof(sun_path) - 1 */
#define CF_STORE_MAX_SENTINELS 16   /* Sentinels in one --redis-sentinel list */
#define CF_STORE_NAME_MAX      64   /* Sentinel master name, bytes */
#define CF_STORE_TEXT_MAX      4096 /* longest --redis / --redis-sentinel text accepted */
#define CF_STORE_DB_MAX        1023 /* highest db number accepted by SELECT here */
#define CF_STORE_ENDPOINT_STR  (CF_STORE_HOST_MAX + 16) /* buffer for cf_store_endpoint_str */

typedef enum {
    CF_STORE_TCP = 0,      /* one server at host:port */
    CF_STORE_UNIX = 1,     /* one server on a unix socket */
    CF_STORE_SENTINEL = 2, /* ask Sentinels for the master of master_name */
} cf_store_mode_t;

typedef struct {
    char host[CF_STORE_HOST_MAX + 1]; /* IP literal or host name (no brackets), or socket path */
    int port;                         /* 1..65535 for TCP; 0 for a unix socket */
} cf_store_endpoint_t;

/* How to reach Redis and how patient to be. Fill with cf_store_cfg_init, then the parsers or
   direct assignment; cf_store_new / cf_store_sub_new copy it (passwords included). */
typedef struct {
    cf_store_mode_t mode;                                  /* which of the fields below apply */
    cf_store_endpoint_t server;                            /* TCP or UNIX: the server */
    cf_store_endpoint_t sentinels[CF_STORE_MAX_SENTINELS]; /* SENTINEL: asked in this order */
    size_t n_sentinels;                                    /* SENTINEL: 1..MAX_SENTINELS */
    char master_name[CF_STORE_NAME_MAX + 1];               /* SENTINEL: the monitored name */
    const char *password;          /* borrowed; NULL = no AUTH; never logged */
    const char *sentinel_password; /* borrowed; NULL = Sentinels without AUTH */
    int db;                        /* 0..CF_STORE_DB_MAX, SELECTed after connecting */
    int connect_timeout_ms;        /* per TCP/unix connect, 1..60000 (default 1000) */
    int command_timeout_ms;        /* per read/write on a connection, 1..600000 (default 5000) */
    int reconnect_attempts;        /* tries per reconnect, 1..100 (default 5) */
    int backoff_min_ms;            /* first back-off before jitter, 1..60000 (default 50) */
    int backoff_max_ms;            /* back-off ceiling, >= min, <= 60000 (default 2000) */
    int master_check_ms;           /* SENTINEL: re-ask the master this often, 0 = only on errors */
    size_t max_reply_bytes;        /* heap bytes one reply may take (default 16 MiB, max 1 GiB) */
    size_t max_reply_elements;     /* reply objects in one reply (default 1M, max 64M) */
    size_t max_batch_bytes; /* heap bytes of all replies of one round trip (default 256 MiB) */
    int durable_replicas;   /* cf_store_durable: replicas a write must reach (WAIT), 0..16
                               (default 0: none asked) */
} cf_store_cfg_t;

/* Defaults: TCP 127.0.0.1:6379, db 0, no password, limits as noted on each field. */
void cf_store_cfg_init(cf_store_cfg_t *cfg);

/* Parse the --redis text: "HOST:PORT", "[IPV6]:PORT" or "unix:PATH" (PATH at most
   CF_STORE_PATH_MAX bytes). Sets mode and server; on failure cfg is unchanged and why says
   what is wrong. CF_ERR_INVALID (bad form), CF_ERR_TOOBIG (over a cap). */
CF_MUST_USE cf_err_t cf_store_cfg_parse_redis(cf_store_cfg_t *cfg, const char *text, cf_why_t *why);

/* Parse the --redis-sentinel text: "H:P[,H:P...]" (IPv6 in brackets, no spaces, no
   duplicates, at most CF_STORE_MAX_SENTINELS). Sets mode SENTINEL and the list; the master
   name comes from cf_store_cfg_set_master. On failure cfg is unchanged. */
CF_MUST_USE cf_err_t cf_store_cfg_parse_sentinels(cf_store_cfg_t *cfg, const char *text,
                                                  cf_why_t *why);

/* Set the Sentinel master name (--redis-master): 1..CF_STORE_NAME_MAX of [A-Za-z0-9._-]. */
CF_MUST_USE cf_err_t cf_store_cfg_set_master(cf_store_cfg_t *cfg, const char *name, cf_why_t *why);

/* Check a whole configuration (ranges, a master name in SENTINEL mode, NUL-free passwords
   under 4096 bytes). CF_ERR_INVALID with why on the first problem found. */
CF_MUST_USE cf_err_t cf_store_cfg_check(const cf_store_cfg_t *cfg, cf_why_t *why);

/* Parse one "HOST:PORT" / "[IPV6]:PORT" of len bytes (no NUL needed) into *out. */
CF_MUST_USE cf_err_t cf_store_endpoint_parse(const char *text, size_t len, cf_store_endpoint_t *out,
                                             cf_why_t *why);

/* "host:port", "[v6]:port" or "unix:path" into buf (CF_STORE_ENDPOINT_STR bytes suffice);
   returns buf. is_unix selects the socket form. */
const char *cf_store_endpoint_str(const cf_store_endpoint_t *ep, int is_unix, char *buf,
                                  size_t buflen);

#endif
