/*  cf_broker_route - the broker's routing decisions and counters, without any socket  */
#ifndef CF_BROKER_ROUTE_H_INCLUDED
#define CF_BROKER_ROUTE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "cf_err.h"
#include "cf_msg.h"
#include "cf_zap.h"

/* Which ROUTER a message came in on (or goes out of). */
typedef enum {
    CF_BROKER_AGENTS = 0,  /* agent-facing ROUTER */
    CF_BROKER_SERVERS = 1, /* server-facing ROUTER */
    CF_BROKER_SIDES_ = 2   /* number of sides, not a side */
} cf_broker_side_t;

/* Why a message was dropped (one counter each; docs/broker.md lists them). */
typedef enum {
    CF_BROKER_DROP_MALFORMED = 0, /* frames that do not decode */
    CF_BROKER_DROP_TOOBIG,        /* over a cap (read and thrown away) */
    CF_BROKER_DROP_VERSION,       /* a wire version we do not speak */
    CF_BROKER_DROP_IDENTITY,      /* routing id is not the key's ZAP User-Id */
    CF_BROKER_DROP_KIND,          /* a server key on the agent side or the other way round */
    CF_BROKER_DROP_REVOKED,       /* the identity's key is no longer listed */
    CF_BROKER_DROP_AGENT_FIELD,   /* the body's agent is not the sender's id */
    CF_BROKER_DROP_TYPE,          /* a type this side may not send (an agent's JOB, ...) */
    CF_BROKER_DROP_NO_SERVER,     /* no server reachable for an agent's message */
    CF_BROKER_DROP_OFFLINE,       /* the addressed agent is not connected here */
    CF_BROKER_DROP_COUNT_         /* number of reasons, not a reason */
} cf_broker_drop_t;

/* What to do with one received message. */
typedef enum {
    CF_BROKER_ACT_DROP = 0,  /* drop it (reason, optional ERROR answer, optional shut) */
    CF_BROKER_ACT_TO_SERVER, /* forward the frames unchanged to one connected server */
    CF_BROKER_ACT_TO_AGENT,  /* forward the frames unchanged to the agent in the body */
    CF_BROKER_ACT_BROADCAST, /* send a CHECKIN to each target, or to every agent held */
} cf_broker_act_t;

/* The facts about one received message that the decision needs. */
typedef struct {
    cf_broker_side_t side; /* where it came in */
    const char *rid;       /* routing id bytes (not NUL-terminated) */
    size_t rid_len;        /* their length */
    const char *user_id;   /* ZAP User-Id of the connection ("" none) */
    const char *kind;      /* ZAP kind metadata: "agent", "server" or "" */
    int listed;            /* 1: user_id is on the broker's identity list right now */
    cf_err_t decoded;      /* cf_msg_decode's result */
    const cf_msg_t *msg;   /* the decoded message when decoded == CF_OK, else unused */
} cf_broker_in_t;

/* The decision. */
typedef struct {
    cf_broker_act_t act;     /* what to do */
    cf_broker_drop_t reason; /* ACT_DROP: why */
    cf_msg_error_t answer;   /* ACT_DROP: ERROR code to send back to the sender, 0 = none */
    int shut;                /* ACT_DROP: also shut the sender's connection */
    const char *why;         /* ACT_DROP: static text for the log line */
} cf_broker_verdict_t;

/* Decide what happens to a message (docs/PROTOCOL.md, docs/broker.md). Checks, in order:
   routing id == User-Id (else drop + shut), kind fits the side (else drop + shut), the
   identity is still listed (else drop + shut: revoked), the frames decoded (else drop and
   answer version / toobig / malformed), the type is one this side may send, and for agent
   messages the body's agent equals the routing id (else drop and answer denied). Never
   answers an ERROR with an ERROR. in and out must not be NULL (CF_ASSERT). */
void cf_broker_route(const cf_broker_in_t *in, cf_broker_verdict_t *out);

/* Counters of one broker since start (the broker's thread owns them). */
typedef struct {
    uint64_t in[CF_BROKER_SIDES_][CF_MSG_TYPE_COUNT_];  /* decoded messages received, by type */
    uint64_t out[CF_BROKER_SIDES_][CF_MSG_TYPE_COUNT_]; /* messages sent, by type */
    uint64_t drops[CF_BROKER_DROP_COUNT_];              /* received messages dropped */
    uint64_t send_unreachable[CF_BROKER_SIDES_];        /* sends refused: peer not connected */
    uint64_t send_full[CF_BROKER_SIDES_];               /* sends dropped: peer's queue at its HWM */
    uint64_t accepted[CF_BROKER_SIDES_];                /* TCP connections accepted (monitor) */
    uint64_t disconnected[CF_BROKER_SIDES_];            /* TCP connections ended (monitor) */
    uint64_t shut;                                      /* connections shut (revoked, impostor) */
    uint64_t key_events;                                /* key events applied from Redis */
    uint64_t resyncs;                                   /* full reloads of the allow list */
    uint64_t resync_failures;                           /* reloads that failed (retried) */
    uint64_t batches_in;                                /* BATCH messages from servers */
    uint64_t batches_out;                               /* BATCH messages sent to servers */
} cf_broker_stats_t;

/* Values that are states, not counts. */
typedef struct {
    size_t agents;  /* agents held (a message showed their identity) */
    size_t servers; /* servers held */
    size_t listed;  /* identities on the broker's list */
    int redis_up;   /* 1: subscribed to cf:events and resynced */
} cf_broker_gauges_t;

/* Prometheus text exposition (version 0.0.4) of stats, gauges and the ZAP counters into
   buf (cap bytes, NUL-terminated); *len_out (may be NULL) gets the length. Metric names
   in docs/broker.md. Errors: CF_ERR_INVALID (NULL), CF_ERR_TOOBIG (cap too small; buf is
   then ""). A cap of CF_BROKER_METRICS_MAX always suffices. */
#define CF_BROKER_METRICS_MAX 16384
CF_MUST_USE cf_err_t cf_broker_metrics_render(const cf_broker_stats_t *stats,
                                              const cf_broker_gauges_t *gauges,
                                              const cf_zap_stats_t *zap, char *buf, size_t cap,
                                              size_t *len_out);

/* "malformed", "toobig", ...: the label of a drop reason; "unknown" out of range. */
const char *cf_broker_drop_name(cf_broker_drop_t reason);
/* "agents" or "servers"; "unknown" out of range. */
const char *cf_broker_side_name(cf_broker_side_t side);

#endif
