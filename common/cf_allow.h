/*  cf_allow - the ZAP allow list: CURVE public key -> identity and kind, one hash lookup  */
#ifndef CF_ALLOW_H_INCLUDED
#define CF_ALLOW_H_INCLUDED

#include <stddef.h>

#include "cf_curve.h"
#include "cf_err.h"

#define CF_ALLOW_MAX_KEYS      (1024u * 1024u) /* hard cap on keys in one list */
#define CF_ALLOW_NAME_MAX      240             /* server alias, bytes; agent ids are shorter */
#define CF_ALLOW_SERVER_PREFIX "server:"       /* a server's identity is this + its alias */
#define CF_ALLOW_ID_MAX        (CF_ALLOW_NAME_MAX + 7) /* longest identity (fits a routing id) */

typedef enum {
    CF_ALLOW_AGENT = 1,  /* an agent: identity = agent id */
    CF_ALLOW_SERVER = 2, /* a server: identity = "server:" + alias */
} cf_allow_kind_t;

/* An open-addressing hash table over the binary keys, hashed with SipHash-2-4 under a
   random per-table key (libsodium crypto_shorthash), so peers choosing their keys cannot
   make lookups slow. Not thread-safe: one owner thread (the ZAP handler, or the thread
   building a list to hand over with cf_zap_replace). */
typedef struct cf_allow cf_allow_t;

/* An empty list that will hold at most max_keys keys (0 = CF_ALLOW_MAX_KEYS; larger is
   refused). expect_keys (0 = few) sizes the table up front so a bulk load never rehashes.
   *out is the caller's (cf_allow_destroy). Errors: CF_ERR_INVALID, CF_ERR_TOOBIG (max_keys
   over CF_ALLOW_MAX_KEYS), CF_ERR_NOMEM, CF_ERR_CRYPTO (libsodium would not start). */
CF_MUST_USE cf_err_t cf_allow_new(size_t max_keys, size_t expect_keys, cf_allow_t **out);
/* Free the list and its identities; NULLs *self_p; safe to repeat. */
void cf_allow_destroy(cf_allow_t **self_p);

/* CF_OK if name may be listed under kind: an agent id (cf_issue_check_agent_id) for
   CF_ALLOW_AGENT, 1..CF_ALLOW_NAME_MAX printable ASCII bytes without spaces for
   CF_ALLOW_SERVER. Errors: CF_ERR_INVALID (why says why). */
CF_MUST_USE cf_err_t cf_allow_check_name(cf_allow_kind_t kind, const char *name, cf_why_t *why);

/* List key under kind and name (copied), replacing what the key had. Errors:
   CF_ERR_INVALID (NULL, bad kind or name), CF_ERR_TOOBIG (a new key beyond max_keys),
   CF_ERR_NOMEM (the list is unchanged). */
CF_MUST_USE cf_err_t cf_allow_put(cf_allow_t *self, const unsigned char key[CF_CURVE_KEY_LEN],
                                  cf_allow_kind_t kind, const char *name, cf_why_t *why);
/* Take key off the list. Errors: CF_ERR_INVALID (NULL), CF_ERR_NOTFOUND (not listed). */
CF_MUST_USE cf_err_t cf_allow_remove(cf_allow_t *self, const unsigned char key[CF_CURVE_KEY_LEN]);
/* The identity listed for key (the agent id, or "server:<alias>"), or NULL when the key is
   not listed. Borrowed: valid until the next put, remove or destroy. *kind_out (may be NULL)
   gets the kind. */
const char *cf_allow_find(const cf_allow_t *self, const unsigned char key[CF_CURVE_KEY_LEN],
                          cf_allow_kind_t *kind_out);
/* Keys listed now. */
size_t cf_allow_count(const cf_allow_t *self);
/* Called for each listed key with its kind and identity (both borrowed for the call);
   return 0 to go on, anything else to stop. Must not change the list. */
typedef int(cf_allow_each_fn)(void *arg, const unsigned char key[CF_CURVE_KEY_LEN],
                              cf_allow_kind_t kind, const char *identity);
/* Walk every listed key in table order (so a caller can mirror the list, e.g. the broker's
   identity -> key map after a reload). Returns how many entries fn saw (0 for NULL). */
size_t cf_allow_each(const cf_allow_t *self, cf_allow_each_fn *fn, void *arg);
/* "agent", "server", or "unknown". Never NULL. */
const char *cf_allow_kind_name(cf_allow_kind_t kind);

#endif
