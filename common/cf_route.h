/*  cf_route - the seed's server choice: favorite, then primary IP range, then priority  */
#ifndef CF_ROUTE_H_INCLUDED
#define CF_ROUTE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#include "cf_err.h"
#include "cf_iprange.h"

#define CF_ROUTE_MAX_SERVERS 256 /* most candidate servers in one choice */
#define CF_ROUTE_MAX_NAME    255 /* longest agent id or server alias, bytes */
#define CF_ROUTE_REASON_MAX  160 /* size of cf_route_choice_t.text, with NUL */

/* One candidate server, as its record in Redis describes it. Everything is borrowed. */
typedef struct {
    const char *alias;               /* unique server name (case-insensitive); not NULL */
    const char *host;                /* where to connect; carried for the caller, not read */
    unsigned short port;             /* TCP port; carried for the caller, not read */
    int priority;                    /* larger number = preferred */
    const cf_iprange_list_t *ranges; /* primary IP ranges; NULL or empty = none */
    bool available;                  /* heartbeating and reachable; false = skipped */
} cf_route_server_t;

/* The agent being routed. Everything is borrowed. */
typedef struct {
    const char *id;                /* agent id, hashed to spread ties; not NULL */
    const char *favorite;          /* favorite server's alias; NULL or "" = none */
    const cf_iprange_addr_t *addr; /* address servers see it from; NULL = unknown */
} cf_route_agent_t;

/* Which rule placed a server. */
typedef enum {
    CF_ROUTE_FAVORITE = 1, /* the agent's favorite server */
    CF_ROUTE_RANGE,        /* a primary IP range holds the agent's address */
    CF_ROUTE_PRIORITY,     /* neither: by priority */
} cf_route_rule_t;

/* Why a server was chosen (or sits where it does in the fallback order). */
typedef struct {
    size_t index;                   /* the server's position in the candidate array */
    cf_route_rule_t rule;           /* the rule that placed it */
    cf_iprange_t range;             /* CF_ROUTE_RANGE: its narrowest range holding the agent */
    int priority;                   /* the server's priority */
    size_t shared_by;               /* servers tied with it, itself included (1 = no tie) */
    char text[CF_ROUTE_REASON_MAX]; /* "favorite", "ip-range 127.0.0.0/24", "priority 10",
                                       "priority 10 (shared by 3, hashed)" */
} cf_route_choice_t;

/* "favorite", "ip-range", "priority"; "unknown" for other values. Never NULL. */
const char *cf_route_rule_name(cf_route_rule_t rule);

/* The server an agent should use. Only available servers count. The rule (docs/routing.md):
   1. the favorite (alias matches agent->favorite, case-insensitive);
   2. else a server with a primary IP range holding agent->addr: narrowest range first
      (each server counts with its narrowest matching range), then higher priority;
   3. else the highest priority.
   Ties (same rule, same width, same priority) go to the server with the highest rendezvous
   hash of (agent id, alias): stable for one agent, spread evenly across a fleet, and adding
   or removing a server moves only the agents that must move.
   Errors: CF_ERR_INVALID (NULL agent or id, servers NULL with count > 0, a NULL alias, two
   servers with one alias), CF_ERR_TOOBIG (count > CF_ROUTE_MAX_SERVERS, an id or alias over
   CF_ROUTE_MAX_NAME), CF_ERR_NOTFOUND (no server is available). why (may be NULL) says
   which. *out is written only on success. */
CF_MUST_USE cf_err_t cf_route_choose(const cf_route_agent_t *agent,
                                     const cf_route_server_t *servers, size_t count,
                                     cf_route_choice_t *out, cf_why_t *why);

/* The order an agent should try servers in when the first fails: every available server
   once, ranked as cf_route_choose ranks them (order[0] is its choice): the favorite, then
   range matches narrowest first, then the rest by priority. order receives server indices;
   reasons (may be NULL) receives the matching explanations; both must hold cap entries.
   *n_out is the number written. Unavailable servers are left out: mark every server
   available to rank them all. Errors: as cf_route_choose, plus CF_ERR_INVALID (NULL order
   or n_out) and CF_ERR_TOOBIG (cap below the number of available servers). */
CF_MUST_USE cf_err_t cf_route_order(const cf_route_agent_t *agent, const cf_route_server_t *servers,
                                    size_t count, size_t *order, cf_route_choice_t *reasons,
                                    size_t cap, size_t *n_out, cf_why_t *why);

#endif
