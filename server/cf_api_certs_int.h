/*  cf_api_certs_int - what the files of the certificate API (cf_api_certs*.c) share  */
#ifndef CF_API_CERTS_INT_H_INCLUDED
#define CF_API_CERTS_INT_H_INCLUDED

#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "cf_app.h"
#include "cf_cert.h"
#include "cf_db_key.h"
#include "cf_err.h"
#include "cf_router.h"
#include "cf_serials.h"
#include "cf_store.h"

#define CF_API_CERTS_CONSOLE     "console"    /* record name of the console certificate */
#define CF_API_CERTS_SHARED      "shared"     /* record name of the shared agent certificate */
#define CF_API_CERTS_UPLOAD_MAX  (256 * 1024) /* import body cap (docs/API.md: uploads) */
#define CF_API_CERTS_LIST_MAX    4096         /* records listed per component */
#define CF_API_CERTS_ARCHIVE     1000         /* archive entries one call returns by default */
#define CF_API_CERTS_ARCHIVE_MAX 10000        /* ... and at most (?limit=) */
#define CF_API_CERTS_FEW                                                          \
    32                             /* up to this many certificates, ask Redis per \
                                      serial whether it is revoked; else load the set */
#define CF_API_CERTS_PASS_MAX 1024 /* longest password in a body (CF_P12_MAX_PASSWORD) */
#define CF_API_CERTS_PATH_MAX 1024 /* longest local store directory */

/* ---- handlers (one per route; docs/API.md "Certificates") ---- */
void cf_api_certs_generate_all(cf_req_t *req, void *app); /* cf_api_certs_gen.c */
void cf_api_certs_import(cf_req_t *req, void *app);       /* cf_api_certs_import.c */
void cf_api_certs_export(cf_req_t *req, void *app);       /* cf_api_certs_export.c */
void cf_api_certs_archive(cf_req_t *req, void *app);      /* cf_api_certs_archive.c */
void cf_api_certs_revoke(cf_req_t *req, void *app);       /* cf_api_certs_revoke.c */
void cf_api_certs_crl(cf_req_t *req, void *app);          /* cf_api_certs_revoke.c */

/* ---- request pieces (cf_api_certs.c) ---- */

/* The :component and :name of the route, checked: component server, console or agent; name
   a certificate name (cf_db_check_cert_name); for agent only CF_API_CERTS_SHARED (per-agent
   certificates live on the agent record). CF_ERR_INVALID with why saying which. */
CF_MUST_USE cf_err_t cf_api_certs_target(const cf_req_t *req, cf_component_t *comp,
                                         const char **name, cf_why_t *why);
#define CF_API_F_REQUIRED  1u /* cf_api_certs_field: absent is an error */
#define CF_API_F_MULTILINE 2u /* ... CR, LF and TAB allowed (PEM, wrapped base64) */
/* Field `field` of obj as a string of 1..max bytes without NUL or control characters
   (flags CF_API_F_*); *out borrowed from obj, NULL when absent and not required.
   CF_ERR_INVALID (wrong type, empty, control characters, required and absent) or
   CF_ERR_TOOBIG, why naming the field. */
CF_MUST_USE cf_err_t cf_api_certs_field(const json_t *obj, const char *field, size_t max,
                                        unsigned flags, const char **out, cf_why_t *why);
/* CF_OK when every key of obj is in allowed (NULL-terminated); CF_ERR_INVALID naming the
   first that is not. */
CF_MUST_USE cf_err_t cf_api_certs_only(const json_t *obj, const char *const *allowed,
                                       cf_why_t *why);
/* 422 "refused" with the message "<what>: <reason of rc>[: <why>]". */
void cf_api_certs_refuse(cf_req_t *req, cf_err_t rc, const cf_why_t *why, const char *what);
/* Reply for a failed operation: the certificate refusals (wrong password, key mismatch,
   expired, not yet valid, untrusted, unsupported, policy, corrupt, no key, revoked, too
   big) through cf_api_certs_refuse, anything else through cf_app_reply_err. */
void cf_api_certs_fail(cf_req_t *req, cf_err_t rc, const cf_why_t *why, const char *what);
/* The session's user for log lines, "-" without a session. */
const char *cf_api_certs_user(const cf_req_t *req);
/* Wipe the text of string field `field` of obj in place (a password or a key in the request
   body, once used); absent or non-string fields are left alone. */
void cf_api_certs_wipe_field(json_t *obj, const char *field);

/* ---- cert objects (cf_api_certs.c) ---- */

/* What a cert object says beyond the certificate itself. */
typedef struct {
    cf_component_t component; /* server, console, agent */
    const char *name;         /* record name (or agent id for archived per-agent ones) */
    const char *kind;         /* "generated", "imported", "public"; NULL: not known (archive) */
    int has_key;              /* the record holds a (sealed) key */
    int archived;             /* in cf:archive */
    int revoked;              /* serial in cf:revoked */
    int renew_days;           /* configured renew_days; 0: no renew_at (archived) */
    long long updated;        /* record's put time; 0: omit */
    long long archived_at;    /* archive time; 0: omit */
    time_t now;               /* for state and days_left */
} cf_api_cert_meta_t;

/* The docs/API.md cert object for cert, or NULL on out-of-memory. */
json_t *cf_api_cert_json(const cf_cert_t *cert, const cf_api_cert_meta_t *meta);
/* 1 when cert names ca's subject as its issuer: it claims to come from our CA. */
int cf_api_certs_ours(const cf_cert_t *cert, const cf_cert_t *ca);
/* renew_days of cf:ssl (1 RT); the default of cf_db_ssl_defaults when cf:ssl is absent. */
CF_MUST_USE cf_err_t cf_api_certs_renew_days(cf_store_t *store, int *days);

/* ---- the revoked set (cf_api_certs_revoke.c) ---- */

/* Answers "is this serial revoked?" for n certificates: per serial (SISMEMBER) when n is at
   most CF_API_CERTS_FEW, else from the whole set loaded once. */
typedef struct {
    cf_store_t *store; /* borrowed */
    int loaded;        /* set holds cf:revoked */
    cf_serials_t set;  /* the set when loaded */
} cf_api_revoked_t;

CF_MUST_USE cf_err_t cf_api_revoked_init(cf_api_revoked_t *r, cf_store_t *store, size_t n);
CF_MUST_USE cf_err_t cf_api_revoked_has(cf_api_revoked_t *r, const char *serial, int *yes);
void cf_api_revoked_clear(cf_api_revoked_t *r);

#endif
