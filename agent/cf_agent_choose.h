/*  cf_agent_choose - the agent's server list (cached on disk), its server choice with
    failover, and randomized exponential back-off  */
#ifndef CF_AGENT_CHOOSE_H_INCLUDED
#define CF_AGENT_CHOOSE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cf_err.h"
#include "cf_iprange.h"
#include "cf_job.h"
#include "cf_route.h"

#define CF_AGENT_SERVERS_MAX 64           /* servers kept from one list */
#define CF_AGENT_HOST_MAX    255          /* host name or address, bytes */
#define CF_AGENT_CACHE_MAX   (256 * 1024) /* largest cache file, bytes */
#define CF_AGENT_CACHE_FILE  "servers.cache.json"

/* One server as a check-in answer, agent.json or the cache lists it. */
typedef struct {
    char alias[CF_JOB_ALIAS_MAX + 1]; /* unique name (what the server's certificate names) */
    char host[CF_AGENT_HOST_MAX + 1]; /* where to connect ("" = the alias) */
    unsigned short port;              /* HTTPS port */
    unsigned short plain_port;        /* plain HTTP port, 0 = none */
    int priority;                     /* larger = preferred */
    cf_iprange_list_t *ranges;        /* primary IP ranges (owned; may be empty) */
    int online;                       /* heartbeating (1 when the list does not say) */
} cf_agent_server_t;

/* What the agent routes by, kept with the list in the cache. */
typedef struct {
    cf_agent_server_t *servers;               /* n entries (owned) */
    size_t n;                                 /* 0..CF_AGENT_SERVERS_MAX */
    char favorite[CF_JOB_ALIAS_MAX + 1];      /* favorite alias, "" = none */
    char seen_addr[CF_IPRANGE_ADDR_TEXT_MAX]; /* address a server saw, "" = unknown */
} cf_agent_servers_t;

/* Free the servers of l (ranges too) and zero it; safe to repeat. */
void cf_agent_servers_clear(cf_agent_servers_t *l);

/* Replace l's servers with those of a JSON array of server objects (fields alias, host,
   port, plain_port, priority, ip_ranges, online; unknown fields ignored). l is changed only
   on success. Errors: CF_ERR_CORRUPT (not an array, a bad field: why names it),
   CF_ERR_TOOBIG (more than CF_AGENT_SERVERS_MAX, a field over its cap), CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_agent_servers_from_json(cf_agent_servers_t *l, const json_t *array,
                                                cf_why_t *why);

/* Write l (servers, favorite, seen_addr) to path atomically (0600). Errors: CF_ERR_NOMEM,
   CF_ERR_IO. */
CF_MUST_USE cf_err_t cf_agent_servers_save(const cf_agent_servers_t *l, const char *path,
                                           cf_why_t *why);
/* Read what cf_agent_servers_save wrote into l (cleared first). Errors: CF_ERR_NOTFOUND,
   CF_ERR_TOOBIG (over CF_AGENT_CACHE_MAX), CF_ERR_CORRUPT, CF_ERR_IO, CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_agent_servers_load(cf_agent_servers_t *l, const char *path, cf_why_t *why);

/* Is server s reachable right now (a TLS handshake)? 1 yes, 0 no. */
typedef int (*cf_agent_probe_fn)(void *ctx, const cf_agent_server_t *s);

/* The seed's choice among l's servers for agent id (docs/agent.md): the favorite if
   available; else a server whose primary IP range holds the address (l->seen_addr, else
   own_addr; either may be "" or NULL), narrowest range first; else the highest priority
   (ties spread by cf_route's hash of id and alias). Available = online and probe says 1
   (probe may be NULL: online alone). Candidates are probed in rank order and the first
   reachable one wins; skip (may be NULL) holds l->n flags, 1 = do not consider (a server
   that just failed). *index_out is its index in l, *reason (may be NULL) why it was chosen.
   Errors: CF_ERR_INVALID (NULL arguments, a bad id), CF_ERR_NOTFOUND (none available),
   CF_ERR_NOMEM. */
CF_MUST_USE cf_err_t cf_agent_choose(const cf_agent_servers_t *l, const char *id,
                                     const char *own_addr, const unsigned char *skip,
                                     cf_agent_probe_fn probe, void *probe_ctx, size_t *index_out,
                                     cf_route_choice_t *reason, cf_why_t *why);

/* Randomized exponential back-off: each delay is drawn in [b/2, b], then b doubles up to
   max_ms; reset brings b back to min_ms. */
typedef struct {
    uint32_t min_ms; /* first bound */
    uint32_t max_ms; /* cap of the bound */
    uint32_t cur_ms; /* current bound (0 = min_ms) */
} cf_agent_backoff_t;

/* The next delay in ms (>= 1), and the bound doubles. */
uint32_t cf_agent_backoff_next(cf_agent_backoff_t *b);
/* Back to the first bound (after a success). */
void cf_agent_backoff_reset(cf_agent_backoff_t *b);
/* A delay around base_ms: uniform in [base - base/pct_den, base + base/pct_den] (pct_den 0
   = none), at least 1 ms. Used for the check-in interval (pct_den 10 = +-10%). */
uint32_t cf_agent_jitter(uint32_t base_ms, uint32_t pct_den);

#endif
