/*  cf_db_curve - CURVE public keys of agents and servers in Redis, one identity per key  */
#ifndef CF_DB_CURVE_H_INCLUDED
#define CF_DB_CURVE_H_INCLUDED

#include <stddef.h>

#include "cf_allow.h"
#include "cf_curve.h"
#include "cf_db_key.h"
#include "cf_err.h"
#include "cf_store.h"

/* Keys (docs/jobs.md section 1, docs/REDIS.md): an agent's key in its record
   (cf:agent:{<id>}, field curve; keys put by older versions in cf:curve:agents, agent id
   -> Z85, are still read and leave it when they change), cf:curve:servers (alias -> Z85),
   cf:curve:owner (Z85 -> "agent:<id>" | "server:<alias>").
   Every put and remove is one Lua script that keeps the three consistent and publishes
   "agent-key <id>" or "server-key <alias>" on cf:events in the same step; a call that
   changes nothing publishes nothing. Names: an agent id (cf_db_check_agent_id) or a server
   alias (cf_db_check_alias, at most CF_ALLOW_NAME_MAX bytes so cf_allow can list it).
   Details of failures in cf_store_why(store); transport errors as cf_store_cmd.
   RT = round trips. */
#define CF_DB_CURVE_NAME_MAX  CF_ALLOW_NAME_MAX           /* longest name (a server alias), bytes */
#define CF_DB_CURVE_EVENT_MAX (11 + CF_DB_CURVE_NAME_MAX) /* "server-key <alias>", bytes */
#define CF_DB_CURVE_SCAN      500                         /* HSCAN COUNT of a load */

/* Register pub for name under kind (1 RT, Lua). The same key again: CF_OK, nothing written.
   Refused with CF_ERR_EXISTS (why says which, nothing changed): name holds another key and
   replace is 0, or pub is registered to another identity (of either kind). With replace,
   the name's old key is dropped from cf:curve:owner. Servers pass replace = 1 (a fresh key
   at every start). CF_ERR_INVALID: bad kind or name, an all-zero key. why may be NULL. Not
   retried after a lost connection (the caller may repeat: the same key is no change). */
CF_MUST_USE cf_err_t cf_db_curve_put(cf_store_t *store, cf_allow_kind_t kind, const char *name,
                                     const unsigned char pub[CF_CURVE_KEY_LEN], int replace,
                                     cf_why_t *why);
/* The key of name under kind into pub_out (1 RT). CF_ERR_NOTFOUND (pub_out zeroed),
   CF_ERR_INVALID, CF_ERR_CORRUPT (the stored text is not a Z85 key). */
CF_MUST_USE cf_err_t cf_db_curve_get(cf_store_t *store, cf_allow_kind_t kind, const char *name,
                                     unsigned char pub_out[CF_CURVE_KEY_LEN]);
/* Drop name's key and its owner entry (1 RT, Lua; publishes the event). CF_ERR_NOTFOUND
   when name has no key, CF_ERR_INVALID. */
CF_MUST_USE cf_err_t cf_db_curve_remove(cf_store_t *store, cf_allow_kind_t kind, const char *name);

/* Put every key into list (HSCAN, 1 RT per CF_DB_CURVE_SCAN entries per hash): agents
   under their id (from cf:curve:owner, and cf:curve:agents for older keys), servers under
   their alias (cf:curve:servers; cf_allow adds "server:").
   Entries with a bad name or a value that is not a Z85 key are skipped and counted in
   *bad_out (may be NULL), as is a key already listed under another identity (the first
   one listed stays). HSCAN may give an entry twice: harmless. For a whole reload, fill a
   fresh list and swap it in (cf_zap_replace). Errors: transport as cf_store_cmd,
   CF_ERR_CORRUPT (malformed HSCAN reply), CF_ERR_TOOBIG / CF_ERR_NOMEM from cf_allow_put
   (the list then holds part of the keys: throw it away). */
CF_MUST_USE cf_err_t cf_db_curve_load(cf_store_t *store, cf_allow_t *list, size_t *bad_out);

/* Parse a cf:events payload (len bytes, binary) "agent-key <id>" or "server-key <alias>"
   into *kind_out and name (CF_DB_CURVE_NAME_MAX + 1 bytes), so the broker can re-read
   that one entry with cf_db_curve_get. CF_ERR_NOTFOUND: another kind of event (name "");
   CF_ERR_INVALID: a key event with a bad name. */
CF_MUST_USE cf_err_t cf_db_curve_event_parse(const char *payload, size_t len,
                                             cf_allow_kind_t *kind_out, char *name);

#endif
