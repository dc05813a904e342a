/*  cf_db_server - server records, the cf:servers index and heartbeats  */
#ifndef CF_DB_SERVER_H_INCLUDED
#define CF_DB_SERVER_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "cf_db_key.h"
#include "cf_err.h"
#include "cf_store.h"

/* Keys: cf:server:<alias>, cf:servers, cf:hb:<alias>; event "server <alias>" on
   cf:events (docs/REDIS.md). Details of failures in cf_store_why(store); transport errors
   as cf_store_cmd. RT = round trips. */
#define CF_DB_HOST_MAX     253     /* host to connect to: a DNS name or an IP literal */
#define CF_DB_RANGES_MAX   8191    /* ip_ranges text (CF_IPRANGE_LIST_MAX_TEXT) */
#define CF_DB_PRIORITY_MAX 1000000 /* priority: -MAX..MAX, larger = preferred */
#define CF_DB_SERVERS_MAX  1024    /* servers one list returns at most */
#define CF_DB_HB_TTL_MAX   3600    /* heartbeat TTL, seconds */

/* A server record. For create and update it is borrowed input; from get and list,
   ip_ranges is owned (cf_db_server_clear). */
typedef struct {
    char alias[CF_DB_ALIAS_MAX + 1]; /* cf_db_check_alias */
    char host[CF_DB_HOST_MAX + 1];   /* where agents connect ("" on input: the alias) */
    int port;                        /* HTTPS port, 1..65535 */
    int plain_port;                  /* plain HTTP port for agent routes, 0 = none */
    int priority;                    /* -CF_DB_PRIORITY_MAX..CF_DB_PRIORITY_MAX */
    char *ip_ranges;                 /* primary ranges, cf_iprange_list text; NULL/"" = none */
    int64_t created;                 /* unix seconds; set by create */
    int online;                      /* get/list: a heartbeat is live */
} cf_db_server_t;

/* Fields for cf_db_server_update's mask. */
#define CF_DB_SERVER_HOST       0x01u
#define CF_DB_SERVER_PORT       0x02u
#define CF_DB_SERVER_PLAIN_PORT 0x04u
#define CF_DB_SERVER_PRIORITY   0x08u
#define CF_DB_SERVER_RANGES     0x10u
#define CF_DB_SERVER_ALL        0x1fu

/* Create the record only if Redis has none for rec->alias (DESIGN: flags seed a server's
   record; after that the record wins), join cf:servers and PUBLISH "server <alias>", in
   one step (1 RT, Lua). ip_ranges is parsed and stored in canonical form. created = now.
   CF_ERR_EXISTS when the record exists (it is left as it is), CF_ERR_INVALID. */
CF_MUST_USE cf_err_t cf_db_server_create(cf_store_t *store, const cf_db_server_t *rec, int64_t now);
/* Change the fields named in mask of the record rec->alias, and PUBLISH "server
   <alias>", in one step (1 RT, Lua); *out (may be NULL; cf_db_server_clear it) is the
   record after the change, online not filled. CF_ERR_NOTFOUND, CF_ERR_INVALID. */
CF_MUST_USE cf_err_t cf_db_server_update(cf_store_t *store, const cf_db_server_t *rec,
                                         unsigned mask, cf_db_server_t *out);
/* Delete the record and its cf:servers entry and PUBLISH "server <alias>" (1 RT, Lua). Its
   heartbeat lapses by itself. CF_ERR_NOTFOUND. */
CF_MUST_USE cf_err_t cf_db_server_remove(cf_store_t *store, const char *alias);
/* Read one record with its online state (1 RT: HMGET and EXISTS in one pipeline).
   CF_ERR_NOTFOUND, CF_ERR_CORRUPT. */
CF_MUST_USE cf_err_t cf_db_server_get(cf_store_t *store, const char *alias, cf_db_server_t *out);
/* Every record with its online state, sorted by alias (2 RT: SMEMBERS, then one pipeline).
   *list_out is the caller's (cf_db_server_list_free). CF_ERR_TOOBIG past max
   (<= CF_DB_SERVERS_MAX) aliases. Aliases listed without a record are skipped. */
CF_MUST_USE cf_err_t cf_db_server_list(cf_store_t *store, size_t max, cf_db_server_t **list_out,
                                       size_t *n_out);
void cf_db_server_clear(cf_db_server_t *rec);                   /* free ip_ranges; zero it */
void cf_db_server_list_free(cf_db_server_t **list_p, size_t n); /* clear each, free, NULL */

/* Heartbeat: SET cf:hb:<alias> "<instance> <now>" EX ttl_s (1 RT). *clash (may be NULL) = 1
   when the previous heartbeat, still live, came from another instance: two processes claim
   one alias. instance: cf_db_check_owner; ttl_s 1..CF_DB_HB_TTL_MAX. */
CF_MUST_USE cf_err_t cf_db_server_heartbeat(cf_store_t *store, const char *alias,
                                            const char *instance, int64_t now, int ttl_s,
                                            int *clash);
/* Delete our heartbeat on a clean stop, if it is still ours (1 RT, Lua). */
CF_MUST_USE cf_err_t cf_db_server_heartbeat_stop(cf_store_t *store, const char *alias,
                                                 const char *instance);
/* Aliases of the registered servers with a live heartbeat, sorted (2 RT). *aliases_out is
   an array of *n_out owned strings (cf_db_server_aliases_free). CF_ERR_TOOBIG past max. */
CF_MUST_USE cf_err_t cf_db_server_online(cf_store_t *store, size_t max, char ***aliases_out,
                                         size_t *n_out);
void cf_db_server_aliases_free(char ***aliases_p, size_t n);

#endif
