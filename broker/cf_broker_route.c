/*  cf_broker_route - the broker's routing decisions, without any socket  */
#include "cf_broker_route.h"

#include <string.h>

static const char *const s_drop_names[CF_BROKER_DROP_COUNT_] = {
    "malformed", "toobig",      "version", "identity",  "kind",
    "revoked",   "agent_field", "type",    "no_server", "offline",
};

const char *cf_broker_drop_name(cf_broker_drop_t reason)
{
    if ((int) reason < 0 || reason >= CF_BROKER_DROP_COUNT_)
        return "unknown";
    return s_drop_names[reason];
}

const char *cf_broker_side_name(cf_broker_side_t side)
{
    switch (side) {
    case CF_BROKER_AGENTS: return "agents";
    case CF_BROKER_SERVERS: return "servers";
    default: return "unknown";
    }
}

static void s_drop(cf_broker_verdict_t *out, cf_broker_drop_t reason, cf_msg_error_t answer,
                   int shut, const char *why)
{
    out->act = CF_BROKER_ACT_DROP;
    out->reason = reason;
    out->answer = answer;
    out->shut = shut;
    out->why = why;
}

/* Who is talking: the routing id must be the key's identity, of the side's kind, and the
   key must still be listed. Returns 1 when a check failed (out is set). */
static int s_check_sender(const cf_broker_in_t *in, cf_broker_verdict_t *out)
{
    size_t uid_len = strlen(in->user_id);
    if (uid_len == 0 || uid_len != in->rid_len || memcmp(in->rid, in->user_id, uid_len) != 0) {
        s_drop(out, CF_BROKER_DROP_IDENTITY, 0, 1, "routing id is not the key's identity");
        return 1;
    }
    const char *want = in->side == CF_BROKER_AGENTS ? "agent" : "server";
    if (strcmp(in->kind, want) != 0) {
        s_drop(out, CF_BROKER_DROP_KIND, 0, 1,
               in->side == CF_BROKER_AGENTS ? "not an agent key on the agent side"
                                            : "not a server key on the server side");
        return 1;
    }
    if (!in->listed) {
        s_drop(out, CF_BROKER_DROP_REVOKED, 0, 1, "the key was revoked");
        return 1;
    }
    return 0;
}

/* The frames themselves. Returns 1 when they did not decode (out is set). */
static int s_check_decoded(const cf_broker_in_t *in, cf_broker_verdict_t *out)
{
    switch (in->decoded) {
    case CF_OK: return 0;
    case CF_ERR_UNSUPPORTED:
        s_drop(out, CF_BROKER_DROP_VERSION, CF_MSG_ERR_VERSION, 0, "unknown wire version");
        return 1;
    case CF_ERR_TOOBIG:
        s_drop(out, CF_BROKER_DROP_TOOBIG, CF_MSG_ERR_TOOBIG, 0, "message over the cap");
        return 1;
    default:
        s_drop(out, CF_BROKER_DROP_MALFORMED, CF_MSG_ERR_MALFORMED, 0, "malformed frames");
        return 1;
    }
}

static void s_from_agent(const cf_broker_in_t *in, cf_broker_verdict_t *out)
{
    const cf_msg_t *m = in->msg;
    switch (m->type) {
    case CF_MSG_HELLO:
    case CF_MSG_RECEIPT:
    case CF_MSG_REPORT:
        if (strlen(m->agent) != in->rid_len || memcmp(m->agent, in->rid, in->rid_len) != 0) {
            s_drop(out, CF_BROKER_DROP_AGENT_FIELD, CF_MSG_ERR_DENIED, 0,
                   "the body names another agent");
            return;
        }
        out->act = CF_BROKER_ACT_TO_SERVER;
        return;
    case CF_MSG_ERROR: /* never answer an ERROR with an ERROR */
        s_drop(out, CF_BROKER_DROP_TYPE, 0, 0, "an agent's ERROR goes nowhere");
        return;
    default:
        s_drop(out, CF_BROKER_DROP_TYPE, CF_MSG_ERR_DENIED, 0, "agents may not send this type");
        return;
    }
}

static void s_from_server(const cf_broker_in_t *in, cf_broker_verdict_t *out)
{
    switch (in->msg->type) {
    case CF_MSG_JOB:
    case CF_MSG_ACK:
    case CF_MSG_CHECKIN: out->act = CF_BROKER_ACT_TO_AGENT; return;
    case CF_MSG_BROADCAST: out->act = CF_BROKER_ACT_BROADCAST; return;
    case CF_MSG_ERROR:
        s_drop(out, CF_BROKER_DROP_TYPE, 0, 0, "a server's ERROR goes nowhere");
        return;
    default:
        s_drop(out, CF_BROKER_DROP_TYPE, CF_MSG_ERR_DENIED, 0, "servers may not send this type");
        return;
    }
}

void cf_broker_route(const cf_broker_in_t *in, cf_broker_verdict_t *out)
{
    CF_ASSERT(in && out && in->user_id && in->kind && (in->rid || in->rid_len == 0));
    memset(out, 0, sizeof(*out));
    if (s_check_sender(in, out) || s_check_decoded(in, out))
        return;
    CF_ASSERT(in->msg);
    if (in->side == CF_BROKER_AGENTS)
        s_from_agent(in, out);
    else
        s_from_server(in, out);
}
